//! Substitution templates: `${expression}` inside an action's string fields (reference §5.5).

use crate::ast::Expr;
use crate::error::SqlError;
use crate::eval::Ctx;
use crate::lexer;
use crate::parser::Parser;
use crate::value::Value;
use crate::{Environment, Input, SqlVersion, Variables};

/// A parsed template: literal text and expressions, rendered against the original message.
#[derive(Debug)]
pub struct Template {
    version: SqlVersion,
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Parses `text`; each `${...}` must hold one expression that `version` accepts. Text
    /// outside `${...}` is kept as written (`$` alone is ordinary text; the republish action's
    /// `$$` escape is the action's business).
    pub fn parse(text: &str, version: SqlVersion) -> Result<Template, SqlError> {
        let chars: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let (mut line, mut column) = (1, 1);
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
                let (start_line, start_column) = (line, column + 2);
                let end = closing_brace(&chars, i + 2).ok_or_else(|| SqlError {
                    line,
                    column,
                    message: "Expected '}' to close this substitution template".to_owned(),
                })?;
                let source: String = chars[i + 2..end].iter().collect();
                let tokens = lexer::tokenize(&source, start_line, start_column)?;
                let expr = Parser::new(tokens, version, false).lone_expression()?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Expr(expr));
                for c in &chars[i..=end] {
                    advance(&mut line, &mut column, *c);
                }
                i = end + 1;
            } else {
                literal.push(chars[i]);
                advance(&mut line, &mut column, chars[i]);
                i += 1;
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { version, parts })
    }

    /// Whether the template has any `${...}` (a plain string needs no evaluation).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|part| matches!(part, Part::Text(_)))
    }

    /// Renders the template on the original message with the statement's SET variables.
    /// Strings are inserted as they are, `Undefined` as nothing, other values as JSON text.
    /// A failing expression renders as nothing.
    pub fn render(
        &self,
        message: &Input<'_>,
        env: &dyn Environment,
        variables: &Variables,
    ) -> String {
        let payload = if self.is_literal() {
            None
        } else {
            Value::parse_json(message.payload, self.version)
        };
        let ctx = Ctx {
            input: message,
            env,
            version: self.version,
            payload: payload.as_ref(),
            variables,
        };
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expr(expr) => match ctx.eval(expr, payload.as_ref()) {
                    Ok(Value::String(s)) => out.push_str(&s),
                    Ok(other) => out.push_str(&other.to_string()),
                    Err(_) => {}
                },
            }
        }
        out
    }
}

fn advance(line: &mut usize, column: &mut usize, c: char) {
    if c == '\n' {
        *line += 1;
        *column = 1;
    } else {
        *column += 1;
    }
}

/// The index of the `}` that closes a template opened just before `start`, skipping quoted
/// strings and balanced braces of object literals.
fn closing_brace(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(_) if c == '\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '{' => depth += 1,
                '}' if depth == 0 => return Some(i),
                '}' => depth -= 1,
                _ => {}
            },
        }
        i += 1;
    }
    None
}
