//! The parsed form of a statement: what the parser builds and the evaluator walks.

use regex::Regex;

use crate::functions::Func;
use crate::value::Value;

/// An expression.
#[derive(Debug)]
pub(crate) enum Expr {
    /// A literal, already in the SQL version's representation.
    Literal(Value),
    /// An attribute of the current document (the payload, or an element in a nested query).
    Field(String),
    /// A SET variable.
    Var(String),
    /// `*` as a function argument: the whole payload.
    Star,
    /// `expr.name`.
    Member(Box<Expr>, String),
    /// `expr[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// `NOT expr` or `-expr`.
    Unary(UnaryOp, Box<Expr>),
    /// `left op right`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A function call.
    Call(Call),
    /// `cast(expr AS type)`.
    Cast(Box<Expr>, CastType),
    /// `CASE subject WHEN value THEN result ... [ELSE result] END`.
    Case {
        subject: Box<Expr>,
        arms: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// `[a, b]` (2016-03-23).
    Array(Vec<Expr>),
    /// `{'key': value}` (2016-03-23).
    Object(Vec<(String, Expr)>),
    /// `(SELECT ... FROM expr [WHERE ...])` over an array (2016-03-23).
    Subquery(Box<Query>),
}

/// A function call with its arguments.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) func: Func,
    pub(crate) args: Vec<Expr>,
    /// The compiled regular expression when the pattern argument is a literal, so a rule does
    /// not recompile it for every message.
    pub(crate) regex: Option<Regex>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// The target of `cast`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CastType {
    String,
    Int,
    Double,
    Decimal,
    Bool,
}

/// One item of a SELECT list.
#[derive(Debug)]
pub(crate) enum SelectItem {
    /// `*`: the document's attributes.
    Star,
    /// An expression and the output path it is written to (the alias split at dots, or a name
    /// derived from the expression).
    Expr { expr: Expr, path: Vec<String> },
}

/// A SELECT ... FROM ... WHERE: the statement's body, or a nested query.
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) value: bool,
    pub(crate) items: Vec<SelectItem>,
    /// The nested query's source; the statement's FROM is a topic filter kept elsewhere.
    pub(crate) from: Option<Expr>,
    pub(crate) filter: Option<Expr>,
}
