//! A recursive-descent parser from tokens to [`crate::ast`], checking what each SQL version
//! allows.
//!
//! Precedence, loosest first: `OR`, `AND`, `NOT`, comparisons (`= <> != < <= > >= IN`),
//! `+ -`, `* / %`, unary `-`, then member access (`.name`) and indexing (`[i]`).

use crate::SqlVersion;
use crate::ast::{BinaryOp, Call, CastType, Expr, Query, SelectItem, UnaryOp};
use crate::error::SqlError;
use crate::functions::{self, Func};
use crate::lexer::{Tok, Token};
use crate::value::Value;

/// How deeply the parser may recurse (parentheses, NOT, unary minus, nested queries, ...);
/// deeper input is rejected rather than risking the stack.
const MAX_DEPTH: usize = 64;

/// How tall the expression tree may grow, counting each link of a chain such as `a + b + c`
/// and each `.name` or `[i]` as well as each recursion: evaluation and dropping recurse once
/// per level, and one level of those costs far less stack than one level of parsing.
const MAX_HEIGHT: usize = 256;

/// Words that cannot name an attribute without `get()`.
const RESERVED: &[&str] = &[
    "select", "from", "where", "and", "or", "not", "case", "when", "then", "else", "end", "as",
    "in", "set", "null", "true", "false",
];

/// A parsed statement, before it is wrapped in the public type.
pub(crate) struct ParsedStatement {
    pub(crate) sets: Vec<(String, Expr)>,
    pub(crate) query: Query,
    pub(crate) topic: Option<String>,
}

pub(crate) struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    version: SqlVersion,
    depth: usize,
    /// The height of the tree above the node being parsed (see [`MAX_HEIGHT`]).
    height: usize,
    /// The variables in scope, or `None` when any name may be used (templates, whose variables
    /// come from the statement at render time).
    variables: Option<Vec<String>>,
}

impl Parser {
    pub(crate) fn new(tokens: Vec<Token>, version: SqlVersion, check_variables: bool) -> Parser {
        Parser {
            tokens,
            pos: 0,
            version,
            depth: 0,
            height: 0,
            variables: check_variables.then(Vec::new),
        }
    }

    fn peek(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn peek_tok_at(&self, offset: usize) -> &Tok {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.pos + offset).min(last)].tok
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn error_at(&self, token: &Token, message: impl Into<String>) -> SqlError {
        SqlError {
            line: token.line,
            column: token.column,
            message: message.into(),
        }
    }

    fn expected(&self, what: &str) -> SqlError {
        let token = self.peek();
        self.error_at(
            token,
            format!("Expected {what} but found {}", token.tok.describe()),
        )
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.is_keyword(keyword);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.expected(keyword))
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = &self.peek().tok == tok;
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), SqlError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_end(&self) -> Result<(), SqlError> {
        if self.peek().tok == Tok::Eof {
            Ok(())
        } else {
            Err(self.expected("end of statement"))
        }
    }

    fn needs_2016(&self, token: &Token, feature: &str) -> Result<(), SqlError> {
        if self.version == SqlVersion::V2015_10_08 {
            Err(self.error_at(
                token,
                format!("{feature} requires SQL version 2016-03-23; this rule uses 2015-10-08"),
            ))
        } else {
            Ok(())
        }
    }

    /// `[SET @v = e, ...] SELECT [VALUE] items [FROM 'filter'] [WHERE cond]`.
    pub(crate) fn statement(&mut self) -> Result<ParsedStatement, SqlError> {
        let mut sets = Vec::new();
        if self.eat_keyword("set") {
            loop {
                let token = self.advance();
                let Tok::Var(name) = token.tok.clone() else {
                    self.pos -= 1;
                    return Err(self.expected("a variable such as @name"));
                };
                if name.len() > 64 {
                    return Err(self.error_at(&token, "Variable names are at most 64 characters"));
                }
                if sets.iter().any(|(existing, _)| *existing == name) {
                    return Err(
                        self.error_at(&token, format!("Variable @{name} is assigned twice"))
                    );
                }
                self.expect(&Tok::Eq, "'='")?;
                let expr = self.expr()?;
                if let Some(scope) = &mut self.variables {
                    scope.push(name.clone());
                }
                sets.push((name, expr));
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        self.expect_keyword("select")?;
        let (value, items) = self.select_list()?;
        let topic = if self.eat_keyword("from") {
            let token = self.advance();
            let (Tok::Str(filter) | Tok::Topic(filter)) = token.tok.clone() else {
                self.pos -= 1;
                return Err(self.expected("a quoted topic filter after FROM"));
            };
            validate_topic_filter(&filter).map_err(|message| self.error_at(&token, message))?;
            Some(filter)
        } else {
            None
        };
        let filter = if self.eat_keyword("where") {
            Some(self.expr()?)
        } else {
            None
        };
        if self.is_keyword("set") {
            return Err(self.error_at(self.peek(), "SET may appear only once, before SELECT"));
        }
        if topic.is_none() && filter.is_none() && self.peek().tok != Tok::Eof {
            return Err(self.expected("FROM, WHERE or end of statement"));
        }
        self.expect_end()?;
        Ok(ParsedStatement {
            sets,
            query: Query {
                value,
                items,
                from: None,
                filter,
            },
            topic,
        })
    }

    /// One expression and nothing after it (a substitution template's `${...}`).
    pub(crate) fn lone_expression(&mut self) -> Result<Expr, SqlError> {
        let expr = self.argument()?;
        self.expect_end()?;
        Ok(expr)
    }

    fn select_list(&mut self) -> Result<(bool, Vec<SelectItem>), SqlError> {
        // `VALUE` is a keyword only where an expression follows it; `SELECT value FROM` selects
        // an attribute named "value".
        let value = self.is_keyword("value")
            && !matches!(
                self.peek_tok_at(1),
                Tok::Comma
                    | Tok::Dot
                    | Tok::Eof
                    | Tok::Slash
                    | Tok::Percent
                    | Tok::Eq
                    | Tok::Ne
                    | Tok::Lt
                    | Tok::Le
                    | Tok::Gt
                    | Tok::Ge
            )
            && !matches!(self.peek_tok_at(1), Tok::Ident(w) if ["from", "where", "as", "and", "or", "in"].iter().any(|k| w.eq_ignore_ascii_case(k)));
        if value {
            self.pos += 1;
            let start = self.peek().clone();
            let expr = if self.eat(&Tok::Star) {
                Expr::Star
            } else {
                self.expr()?
            };
            if self.peek().tok == Tok::Comma {
                return Err(self.error_at(&start, "SELECT VALUE takes exactly one expression"));
            }
            return Ok((
                true,
                vec![SelectItem::Expr {
                    expr,
                    path: Vec::new(),
                }],
            ));
        }
        let mut items = Vec::new();
        loop {
            if self.eat(&Tok::Star) {
                // `* AS name` nests the whole document under one attribute.
                if self.eat_keyword("as") {
                    let path = self.alias()?;
                    items.push(SelectItem::Expr {
                        expr: Expr::Star,
                        path,
                    });
                } else {
                    items.push(SelectItem::Star);
                }
            } else {
                let expr = self.expr()?;
                let path = if self.eat_keyword("as") {
                    self.alias()?
                } else {
                    vec![default_name(&expr, items.len() + 1)]
                };
                items.push(SelectItem::Expr { expr, path });
            }
            if !self.eat(&Tok::Comma) {
                return Ok((false, items));
            }
        }
    }

    /// `name[.name...]`, or a quoted name.
    fn alias(&mut self) -> Result<Vec<String>, SqlError> {
        let mut path = Vec::new();
        loop {
            match self.advance().tok {
                Tok::Ident(name) if !RESERVED.contains(&name.to_ascii_lowercase().as_str()) => {
                    path.push(name);
                }
                Tok::Str(name) => path.push(name),
                _ => {
                    self.pos -= 1;
                    return Err(self.expected("an alias name after AS"));
                }
            }
            if !self.eat(&Tok::Dot) {
                return Ok(path);
            }
        }
    }

    fn enter(&mut self) -> Result<(), SqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(self.peek(), "Expression is nested too deeply"));
        }
        self.link()
    }

    fn leave(&mut self) {
        self.depth -= 1;
        self.height -= 1;
    }

    pub(crate) fn expr(&mut self) -> Result<Expr, SqlError> {
        self.enter()?;
        let result = self.or();
        self.leave();
        result
    }

    /// Counts one more level of the tree being built. A left-associative chain such as
    /// `a + b + c` nests one node per link although parsing it does not recurse, while
    /// evaluating (and dropping) the tree does; each chain restores the height when it ends.
    fn link(&mut self) -> Result<(), SqlError> {
        self.height += 1;
        if self.height > MAX_HEIGHT {
            return Err(self.error_at(self.peek(), "Expression is nested too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, SqlError> {
        let height = self.height;
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            self.link()?;
            let right = self.and()?;
            left = Expr::Binary(BinaryOp::Or, Box::new(left), Box::new(right));
        }
        self.height = height;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SqlError> {
        let height = self.height;
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            self.link()?;
            let right = self.not()?;
            left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(right));
        }
        self.height = height;
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, SqlError> {
        if self.eat_keyword("not") {
            self.enter()?;
            let operand = self.not();
            self.leave();
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(operand?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, SqlError> {
        let height = self.height;
        let mut left = self.additive()?;
        loop {
            let op = match &self.peek().tok {
                Tok::Eq => BinaryOp::Eq,
                Tok::Ne => BinaryOp::Ne,
                Tok::Lt => BinaryOp::Lt,
                Tok::Le => BinaryOp::Le,
                Tok::Gt => BinaryOp::Gt,
                Tok::Ge => BinaryOp::Ge,
                Tok::Ident(word) if word.eq_ignore_ascii_case("in") => BinaryOp::In,
                _ => break,
            };
            self.pos += 1;
            self.link()?;
            let right = self.additive()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        self.height = height;
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, SqlError> {
        let height = self.height;
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => break,
            };
            self.pos += 1;
            self.link()?;
            let right = self.multiplicative()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        self.height = height;
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Expr, SqlError> {
        let height = self.height;
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().tok {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                Tok::Percent => BinaryOp::Rem,
                _ => break,
            };
            self.pos += 1;
            self.link()?;
            let right = self.unary()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        self.height = height;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SqlError> {
        if self.eat(&Tok::Minus) {
            self.enter()?;
            let operand = self.unary();
            self.leave();
            // A negative literal is folded so `-5` is the Int -5 rather than an operation.
            return Ok(match operand? {
                Expr::Literal(Value::Int(i)) if i != i64::MIN => Expr::Literal(Value::Int(-i)),
                Expr::Literal(Value::Decimal(d)) => Expr::Literal(Value::Decimal(-d)),
                other => Expr::Unary(UnaryOp::Neg, Box::new(other)),
            });
        }
        self.eat(&Tok::Plus);
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, SqlError> {
        let height = self.height;
        let mut expr = self.primary()?;
        loop {
            if matches!(self.peek().tok, Tok::Dot | Tok::LBracket) {
                self.link()?;
            }
            if self.eat(&Tok::Dot) {
                match self.advance().tok {
                    Tok::Ident(name) => expr = Expr::Member(Box::new(expr), name),
                    _ => {
                        self.pos -= 1;
                        return Err(self.expected("an attribute name after '.'"));
                    }
                }
            } else if self.eat(&Tok::LBracket) {
                let index = self.expr()?;
                self.expect(&Tok::RBracket, "']'")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                self.height = height;
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, SqlError> {
        let token = self.advance();
        match token.tok.clone() {
            Tok::Int(i) => Ok(Expr::Literal(Value::Int(i))),
            Tok::Dec(d) => Ok(Expr::Literal(Value::decimal(d, self.version))),
            Tok::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Tok::Var(name) => {
                if let Some(scope) = &self.variables
                    && !scope.contains(&name)
                {
                    return Err(self.error_at(
                        &token,
                        format!("Variable @{name} is not defined by an earlier SET"),
                    ));
                }
                Ok(Expr::Var(name))
            }
            Tok::LParen => {
                if self.is_keyword("select") {
                    self.needs_2016(&token, "A nested SELECT")?;
                    self.pos += 1;
                    let query = self.subquery()?;
                    self.expect(&Tok::RParen, "')' after the nested query")?;
                    return Ok(Expr::Subquery(Box::new(query)));
                }
                let expr = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(expr)
            }
            Tok::LBracket => {
                self.needs_2016(&token, "An array literal")?;
                let mut items = Vec::new();
                if !self.eat(&Tok::RBracket) {
                    loop {
                        items.push(self.expr()?);
                        if self.eat(&Tok::RBracket) {
                            break;
                        }
                        self.expect(&Tok::Comma, "',' or ']'")?;
                    }
                }
                Ok(Expr::Array(items))
            }
            Tok::LBrace => {
                self.needs_2016(&token, "An object literal")?;
                let mut members = Vec::new();
                if !self.eat(&Tok::RBrace) {
                    loop {
                        let key = match self.advance().tok {
                            Tok::Str(key) | Tok::Ident(key) => key,
                            _ => {
                                self.pos -= 1;
                                return Err(self.expected("an attribute name"));
                            }
                        };
                        self.expect(&Tok::Colon, "':'")?;
                        members.push((key, self.expr()?));
                        if self.eat(&Tok::RBrace) {
                            break;
                        }
                        self.expect(&Tok::Comma, "',' or '}'")?;
                    }
                }
                Ok(Expr::Object(members))
            }
            Tok::Ident(word) => self.identifier(&token, word),
            _ => {
                self.pos -= 1;
                Err(self.expected("an expression"))
            }
        }
    }

    fn identifier(&mut self, token: &Token, word: String) -> Result<Expr, SqlError> {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "null" => return Ok(Expr::Literal(Value::Null)),
            "true" => return Ok(Expr::Literal(Value::Bool(true))),
            "false" => return Ok(Expr::Literal(Value::Bool(false))),
            "case" => return self.case(),
            _ => {}
        }
        if self.peek().tok == Tok::LParen {
            self.pos += 1;
            return self.call(token, &lower);
        }
        if RESERVED.contains(&lower.as_str()) {
            self.pos -= 1;
            return Err(self.expected("an expression"));
        }
        Ok(Expr::Field(word))
    }

    fn case(&mut self) -> Result<Expr, SqlError> {
        let subject = self.expr()?;
        let mut arms = Vec::new();
        while self.eat_keyword("when") {
            let value = self.expr()?;
            self.expect_keyword("then")?;
            arms.push((value, self.expr()?));
        }
        if arms.is_empty() {
            return Err(self.expected("WHEN"));
        }
        let otherwise = if self.eat_keyword("else") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_keyword("end")?;
        Ok(Expr::Case {
            subject: Box::new(subject),
            arms,
            otherwise,
        })
    }

    /// A function argument: an expression, or `*` for the whole payload.
    fn argument(&mut self) -> Result<Expr, SqlError> {
        if self.peek().tok == Tok::Star
            && matches!(self.peek_tok_at(1), Tok::Comma | Tok::RParen | Tok::Eof)
        {
            self.pos += 1;
            return Ok(Expr::Star);
        }
        self.expr()
    }

    fn call(&mut self, token: &Token, name: &str) -> Result<Expr, SqlError> {
        if name == "cast" {
            let value = self.expr()?;
            self.expect_keyword("as")?;
            let type_token = self.advance();
            let Tok::Ident(type_name) = type_token.tok.clone() else {
                self.pos -= 1;
                return Err(self.expected("a type name after AS"));
            };
            let cast = match type_name.to_ascii_lowercase().as_str() {
                "string" | "nvarchar" | "text" | "ntext" | "varchar" => CastType::String,
                "int" | "integer" => CastType::Int,
                "double" => CastType::Double,
                "decimal" => CastType::Decimal,
                "bool" | "boolean" => CastType::Bool,
                _ => {
                    return Err(self.error_at(
                        &type_token,
                        format!("Expected a cast type (String, Int, Double, Decimal, Boolean) but found '{type_name}'"),
                    ));
                }
            };
            if matches!(cast, CastType::Decimal | CastType::Bool) {
                self.needs_2016(&type_token, &format!("cast to {type_name}"))?;
            }
            self.expect(&Tok::RParen, "')'")?;
            return Ok(Expr::Cast(Box::new(value), cast));
        }
        let func = functions::lookup(name, self.version)
            .map_err(|message| self.error_at(token, message))?;
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                args.push(self.argument()?);
                if self.eat(&Tok::RParen) {
                    break;
                }
                self.expect(&Tok::Comma, "',' or ')'")?;
            }
        }
        // Protobuf decoding reads its descriptor set from Amazon S3.
        if func == Func::Decode
            && matches!(args.get(1), Some(Expr::Literal(Value::String(scheme))) if scheme.eq_ignore_ascii_case("proto"))
        {
            return Err(self.error_at(
                token,
                "Function decode() with the 'proto' scheme reads a descriptor from Amazon S3, which thingd does not provide",
            ));
        }
        let regex = match (func, args.get(1)) {
            (
                Func::RegexpMatches | Func::RegexpReplace | Func::RegexpSubstr,
                Some(Expr::Literal(Value::String(pattern))),
            ) => functions::compile_regex(pattern),
            _ => None,
        };
        Ok(Expr::Call(Call { func, args, regex }))
    }

    /// The rest of `(SELECT [VALUE] items FROM expr [WHERE cond]`.
    fn subquery(&mut self) -> Result<Query, SqlError> {
        self.enter()?;
        let (value, items) = self.select_list()?;
        self.expect_keyword("from")?;
        let from = self.expr()?;
        let filter = if self.eat_keyword("where") {
            Some(self.expr()?)
        } else {
            None
        };
        self.leave();
        Ok(Query {
            value,
            items,
            from: Some(from),
            filter,
        })
    }
}

/// The output name of an unaliased SELECT item: an attribute's or variable's own name, a
/// function's name, otherwise `_n` for the item's 1-based position.
fn default_name(expr: &Expr, position: usize) -> String {
    match expr {
        Expr::Field(name) | Expr::Member(_, name) | Expr::Var(name) => name.clone(),
        Expr::Call(call) => call.func.name().to_owned(),
        _ => format!("_{position}"),
    }
}

/// AWS's rules for a FROM filter: not empty, `#` only as the whole last level, `+` only as a
/// whole level.
fn validate_topic_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() {
        return Err("Expected a topic filter but found an empty string".to_owned());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err(format!(
                "Invalid topic filter '{filter}': '#' must be the whole last level"
            ));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!(
                "Invalid topic filter '{filter}': '+' must be a whole level"
            ));
        }
    }
    Ok(())
}
