//! Policy strings with wildcards and policy variables (`Resource` entries and condition values),
//! parsed once and resolved against a context at evaluation or compile time.

use crate::context::{Context, Key};
use crate::glob::Glob;

/// One piece of a policy string.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// Text taken literally (includes the escapes `${*}`, `${?}`, `${$}`).
    Literal(String),
    /// `*`, a wildcard where the operator allows wildcards.
    Many,
    /// `?`, likewise.
    One,
    /// `${name}`: replaced with the context's value; `name` is kept for reports.
    Variable { name: String, key: Key },
}

/// A parsed policy string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`. With `variables` false (documents of Version 2008-10-17, which predates
    /// policy variables in IAM) `${...}` is literal text. A `${` without a closing `}` is
    /// literal text too. `${name}` with a name thingd does not know is kept as a variable that
    /// never resolves, so the string cannot match anything.
    pub(crate) fn parse(text: &str, variables: bool) -> Template {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let name = &rest[2..end];
                rest = &rest[end + 1..];
                match name {
                    "*" | "?" | "$" => literal.push_str(name),
                    _ => {
                        flush(&mut literal, &mut segments);
                        segments.push(Segment::Variable {
                            name: name.to_owned(),
                            key: Key::parse(name),
                        });
                    }
                }
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' => {
                    flush(&mut literal, &mut segments);
                    segments.push(Segment::Many);
                }
                '?' => {
                    flush(&mut literal, &mut segments);
                    segments.push(Segment::One);
                }
                c => literal.push(c),
            }
        }
        flush(&mut literal, &mut segments);
        Template { segments }
    }

    /// The string as a wildcard pattern with variables substituted (their values literally, so a
    /// client id containing `*` is not a wildcard). `None` when a variable has no value; its name
    /// is then added to `missing`.
    pub(crate) fn glob(&self, context: &Context, missing: &mut Vec<String>) -> Option<Glob> {
        let mut glob = Glob::default();
        let mut complete = true;
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => glob.push_str(s),
                Segment::Many => glob.push_many(),
                Segment::One => glob.push_one(),
                Segment::Variable { name, key } => match key.variable(context) {
                    Some(value) => glob.push_str(&value),
                    None => {
                        note_missing(missing, name);
                        complete = false;
                    }
                },
            }
        }
        complete.then_some(glob)
    }

    /// The string with variables substituted and `*`/`?` taken literally (for operators without
    /// wildcards). `None` when a variable has no value, as for `glob`.
    pub(crate) fn literal(&self, context: &Context, missing: &mut Vec<String>) -> Option<String> {
        let mut out = String::new();
        let mut complete = true;
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => out.push_str(s),
                Segment::Many => out.push('*'),
                Segment::One => out.push('?'),
                Segment::Variable { name, key } => match key.variable(context) {
                    Some(value) => out.push_str(&value),
                    None => {
                        note_missing(missing, name);
                        complete = false;
                    }
                },
            }
        }
        complete.then_some(out)
    }
}

fn flush(literal: &mut String, segments: &mut Vec<Segment>) {
    if !literal.is_empty() {
        segments.push(Segment::Literal(std::mem::take(literal)));
    }
}

/// Records a missing context value once.
pub(crate) fn note_missing(missing: &mut Vec<String>, name: &str) {
    if !missing.iter().any(|m| m == name) {
        missing.push(name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            client_id: Some("dev*1".into()),
            ..Context::default()
        }
    }

    #[test]
    fn substitutes_and_escapes() {
        let mut missing = Vec::new();
        let t = Template::parse("a/${iot:ClientId}/${*}${?}${$}/*", true);
        let glob = t.glob(&ctx(), &mut missing).unwrap();
        assert!(glob.matches("a/dev*1/*?$/x/y"));
        assert!(!glob.matches("a/devX1/*?$/x"));
        assert!(!glob.matches("a/dev*1/a?$/x"));
        assert_eq!(t.literal(&ctx(), &mut missing).unwrap(), "a/dev*1/*?$/*");
        assert!(missing.is_empty());
    }

    #[test]
    fn missing_and_unknown_variables() {
        let mut missing = Vec::new();
        let t = Template::parse("a/${iot:Connection.Thing.ThingName}/${aws:username}", true);
        assert!(t.glob(&ctx(), &mut missing).is_none());
        assert_eq!(missing, ["iot:Connection.Thing.ThingName", "aws:username"]);
    }

    #[test]
    fn literal_dollar_forms() {
        let mut missing = Vec::new();
        let unclosed = Template::parse("$aws/things/${iot:ClientId", true);
        assert_eq!(
            unclosed.literal(&ctx(), &mut missing).unwrap(),
            "$aws/things/${iot:ClientId"
        );
        let old = Template::parse("a/${iot:ClientId}", false);
        assert_eq!(
            old.literal(&ctx(), &mut missing).unwrap(),
            "a/${iot:ClientId}"
        );
        assert!(missing.is_empty());
    }
}
