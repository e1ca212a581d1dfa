//! Evaluates parsed expressions and queries against one message.

use crate::ast::{BinaryOp, CastType, Expr, Query, SelectItem, UnaryOp};
use crate::error::EvalError;
use crate::functions;
use crate::value::{Num, Object, Value, f64_to_i64, round_significant, sql_equals};
use crate::{Environment, Input, SqlVersion, Variables};

/// Everything an expression can see besides the current document.
pub(crate) struct Ctx<'a> {
    pub(crate) input: &'a Input<'a>,
    pub(crate) env: &'a dyn Environment,
    pub(crate) version: SqlVersion,
    /// The payload as JSON, or `None` when it is not JSON.
    pub(crate) payload: Option<&'a Value>,
    pub(crate) variables: &'a Variables,
}

impl Ctx<'_> {
    /// Evaluates `expr` with `doc` as the document attribute names refer to.
    pub(crate) fn eval(&self, expr: &Expr, doc: Option<&Value>) -> Result<Value, EvalError> {
        Ok(match expr {
            Expr::Literal(value) => value.clone(),
            Expr::Field(name) => doc.map_or(Value::Undefined, |doc| doc.member(name)),
            Expr::Var(name) => self.variables.get(name).cloned().unwrap_or_default(),
            Expr::Star => self.payload.cloned().unwrap_or_default(),
            // A path from the document or a variable is resolved by reference, so only its leaf
            // is copied.
            Expr::Member(..) if is_path(expr) => self
                .resolve_path(expr, doc)
                .map_or(Value::Undefined, Value::clone),
            Expr::Member(target, name) => self.eval(target, doc)?.member(name),
            Expr::Index(target, index) => {
                let target = self.eval(target, doc)?;
                let index = self.eval(index, doc)?;
                functions::get(&target, &index)
            }
            Expr::Unary(UnaryOp::Not, operand) => match self.eval(operand, doc)?.to_bool() {
                Some(b) => Value::Bool(!b),
                None => Value::Undefined,
            },
            Expr::Unary(UnaryOp::Neg, operand) => match self.eval(operand, doc)?.to_num() {
                Some(Num::Int(i)) => i
                    .checked_neg()
                    .map_or_else(|| Value::decimal(-(i as f64), self.version), Value::Int),
                Some(Num::Dec(d)) => Value::decimal(-d, self.version),
                None => Value::Undefined,
            },
            Expr::Binary(op, left, right) => {
                let left = self.eval(left, doc)?;
                let right = self.eval(right, doc)?;
                binary(*op, &left, &right, self.version)
            }
            Expr::Call(call) => functions::call(self, call, doc)?,
            Expr::Cast(value, target) => cast(&self.eval(value, doc)?, *target, self.version),
            Expr::Case {
                subject,
                arms,
                otherwise,
            } => {
                let subject = self.eval(subject, doc)?;
                if subject.is_undefined() {
                    return Ok(Value::Undefined);
                }
                for (candidate, result) in arms {
                    if sql_equals(&subject, &self.eval(candidate, doc)?) == Some(true) {
                        return self.eval(result, doc);
                    }
                }
                match otherwise {
                    Some(result) => self.eval(result, doc)?,
                    None => Value::Undefined,
                }
            }
            Expr::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.eval(item, doc))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Object(members) => {
                let mut object = Object::new();
                for (key, value) in members {
                    object.insert(key.clone(), self.eval(value, doc)?);
                }
                Value::Object(object)
            }
            Expr::Subquery(query) => self.subquery(query, doc)?,
        })
    }

    /// Follows `a.b.c` (or `@v.b.c`) without copying the intermediate objects.
    fn resolve_path<'v>(&'v self, expr: &Expr, doc: Option<&'v Value>) -> Option<&'v Value> {
        match expr {
            Expr::Field(name) => member_ref(doc?, name),
            Expr::Var(name) => self.variables.get(name),
            Expr::Member(target, name) => member_ref(self.resolve_path(target, doc)?, name),
            _ => None,
        }
    }

    /// A nested query: the SELECT applied to each element of the FROM array that passes WHERE.
    /// Over an inner object (the guide's "attributes within inner JSON objects") it is the
    /// SELECT applied to that object, or `Undefined` when WHERE does not pass.
    fn subquery(&self, query: &Query, doc: Option<&Value>) -> Result<Value, EvalError> {
        let Some(from) = &query.from else {
            return Ok(Value::Undefined);
        };
        let elements = match self.eval(from, doc)? {
            Value::Array(elements) => elements,
            object @ Value::Object(_) => {
                if let Some(filter) = &query.filter
                    && self.eval(filter, Some(&object))?.to_bool() != Some(true)
                {
                    return Ok(Value::Undefined);
                }
                return self.select(query, Some(&object));
            }
            _ => return Ok(Value::Undefined),
        };
        let mut results = Vec::with_capacity(elements.len());
        for element in &elements {
            if let Some(filter) = &query.filter
                && self.eval(filter, Some(element))?.to_bool() != Some(true)
            {
                continue;
            }
            let selected = self.select(query, Some(element))?;
            if !selected.is_undefined() {
                results.push(selected);
            }
        }
        Ok(Value::Array(results))
    }

    /// The SELECT list of `query` applied to `doc`: one value with VALUE, otherwise an object.
    pub(crate) fn select(&self, query: &Query, doc: Option<&Value>) -> Result<Value, EvalError> {
        if query.value {
            return match query.items.first() {
                Some(SelectItem::Expr {
                    expr: Expr::Star, ..
                })
                | Some(SelectItem::Star) => Ok(doc.cloned().unwrap_or_default()),
                Some(SelectItem::Expr { expr, .. }) => self.eval(expr, doc),
                None => Ok(Value::Undefined),
            };
        }
        let mut object = Object::new();
        for item in &query.items {
            match item {
                SelectItem::Star => {
                    if let Some(Value::Object(attributes)) = doc {
                        object.extend(attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                SelectItem::Expr { expr, path } => {
                    // `* AS name` is the current document: the payload, or in a nested query
                    // the array element.
                    let value = match expr {
                        Expr::Star => doc.cloned().unwrap_or_default(),
                        other => self.eval(other, doc)?,
                    };
                    if !value.is_undefined() {
                        insert_path(&mut object, path, value);
                    }
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// Whether `expr` is `a.b.c` or `@v.b.c`, i.e. resolvable by reference.
fn is_path(expr: &Expr) -> bool {
    match expr {
        Expr::Field(_) | Expr::Var(_) => true,
        Expr::Member(target, _) => is_path(target),
        _ => false,
    }
}

fn member_ref<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(name),
        _ => None,
    }
}

/// Writes `value` at a dotted alias path, creating (or replacing non-object) parents.
fn insert_path(object: &mut Object, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            object.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = object
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Object::new()));
            if !matches!(entry, Value::Object(_)) {
                *entry = Value::Object(Object::new());
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// A binary operator with AWS's conversions (reference §5.3, DG `iot-sql-operators`).
pub(crate) fn binary(op: BinaryOp, left: &Value, right: &Value, version: SqlVersion) -> Value {
    match op {
        BinaryOp::And | BinaryOp::Or => match (left.to_bool(), right.to_bool()) {
            (Some(a), Some(b)) => Value::Bool(if op == BinaryOp::And { a && b } else { a || b }),
            _ => Value::Undefined,
        },
        BinaryOp::Eq => sql_equals(left, right).map_or(Value::Undefined, Value::Bool),
        BinaryOp::Ne => sql_equals(left, right).map_or(Value::Undefined, |eq| Value::Bool(!eq)),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let (Some(a), Some(b)) = (left.to_num(), right.to_num()) else {
                return Value::Undefined;
            };
            let ordering = match (a, b) {
                (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
                _ => a.as_f64().partial_cmp(&b.as_f64()),
            };
            let Some(ordering) = ordering else {
                return Value::Undefined;
            };
            Value::Bool(match op {
                BinaryOp::Lt => ordering.is_lt(),
                BinaryOp::Le => ordering.is_le(),
                BinaryOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            })
        }
        BinaryOp::In => {
            if left.is_undefined() {
                return Value::Undefined;
            }
            match right {
                Value::Array(items) => Value::Bool(
                    items
                        .iter()
                        .any(|item| sql_equals(left, item) == Some(true)),
                ),
                _ => Value::Undefined,
            }
        }
        BinaryOp::Add if matches!(left, Value::String(_)) || matches!(right, Value::String(_)) => {
            match (left.to_sql_string(), right.to_sql_string()) {
                (Some(mut a), Some(b)) => {
                    a.push_str(&b);
                    Value::String(a)
                }
                _ => Value::Undefined,
            }
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            match (left.to_num(), right.to_num()) {
                (Some(a), Some(b)) => arithmetic(op, a, b, version),
                _ => Value::Undefined,
            }
        }
    }
}

/// `Int op Int` stays an `Int` (falling back to decimal on overflow); anything else is decimal.
/// Division or remainder by zero is `Undefined`.
pub(crate) fn arithmetic(op: BinaryOp, a: Num, b: Num, version: SqlVersion) -> Value {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        let exact = match op {
            BinaryOp::Add => x.checked_add(y),
            BinaryOp::Sub => x.checked_sub(y),
            BinaryOp::Mul => x.checked_mul(y),
            BinaryOp::Div if y == 0 => return Value::Undefined,
            BinaryOp::Div => x.checked_div(y),
            BinaryOp::Rem if y == 0 => return Value::Undefined,
            BinaryOp::Rem => x.checked_rem(y),
            _ => None,
        };
        if let Some(result) = exact {
            return Value::Int(result);
        }
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    let result = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div if y == 0.0 => return Value::Undefined,
        BinaryOp::Div => x / y,
        BinaryOp::Rem if y == 0.0 => return Value::Undefined,
        BinaryOp::Rem => x % y,
        _ => return Value::Undefined,
    };
    Value::decimal(round_significant(result), version)
}

/// `cast(value AS type)` (DG `iot-sql-functions`, cast tables).
pub(crate) fn cast(value: &Value, target: CastType, version: SqlVersion) -> Value {
    match target {
        CastType::String => value
            .to_sql_string()
            .map_or(Value::Undefined, Value::String),
        CastType::Int => match value {
            Value::Bool(b) => Value::Int(i64::from(*b)),
            other => other
                .to_int_truncated()
                .map_or(Value::Undefined, Value::Int),
        },
        CastType::Double | CastType::Decimal => {
            let number = match value {
                Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
                other => other.to_num().map(Num::as_f64),
            };
            match number {
                // A cast keeps whole numbers as decimals in 2015-10-08 (`cast(1 AS Double)` is
                // 1.0); 2016-03-23 turns them into Ints like every whole decimal.
                Some(d) => Value::decimal(d, version),
                None => Value::Undefined,
            }
        }
        CastType::Bool => match value {
            Value::Int(i) => Value::Bool(*i != 0),
            Value::Decimal(d) => Value::Bool(*d != 0.0),
            other => other.to_bool().map_or(Value::Undefined, Value::Bool),
        },
    }
}

/// A numeric argument truncated to an index or count (AWS: "rounded down to the nearest Int").
pub(crate) fn truncated_int(value: &Value) -> Option<i64> {
    match value.to_num()? {
        Num::Int(i) => Some(i),
        Num::Dec(d) => f64_to_i64(d.trunc()).or(Some(if d < 0.0 { i64::MIN } else { i64::MAX })),
    }
}
