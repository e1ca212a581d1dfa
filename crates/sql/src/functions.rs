//! AWS IoT SQL's built-in functions (reference §5.4, DG `iot-sql-functions`).
//!
//! Names are resolved once at parse time into [`Func`]; a name AWS knows but thingd cannot run
//! (it needs another AWS service) is a parse error that says so, as is a 2016-03-23 function in a
//! 2015-10-08 rule. Invalid arguments at run time give `Undefined`, as AWS documents.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use regex::{Regex, RegexBuilder};

use crate::SqlVersion;
use crate::ast::{BinaryOp, Call, Expr};
use crate::error::EvalError;
use crate::eval::{Ctx, arithmetic, truncated_int};
use crate::time_format;
use crate::value::{Num, Object, Value, f64_to_i64, parse_decimal_string};

/// The largest array `transform` may return, as AWS limits it.
const TRANSFORM_LIMIT: usize = 128 * 1024;
/// The longest string `replace` and `regexp_replace` may build, so a rule cannot turn one
/// message into gigabytes.
const STRING_LIMIT: usize = 1 << 20;
/// The most spaces `lpad`/`rpad` add.
const PAD_LIMIT: i64 = 1000;
/// A bound on compiled regular expressions, so a hostile pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

macro_rules! functions {
    ($($variant:ident => $name:literal, $v2:literal;)*) => {
        /// A built-in function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Func { $($variant),* }

        impl Func {
            /// The function's name as AWS documents it.
            pub(crate) fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }

            /// Whether the function needs SQL version 2016-03-23.
            fn needs_2016(self) -> bool {
                match self { $(Func::$variant => $v2),* }
            }

            fn from_name(name: &str) -> Option<Func> {
                match name { $($name => Some(Func::$variant),)* _ => None }
            }
        }
    };
}

functions! {
    Abs => "abs", false;
    AccountId => "accountid", false;
    Acos => "acos", false;
    Asin => "asin", false;
    Atan => "atan", false;
    Atan2 => "atan2", false;
    BitAnd => "bitand", false;
    BitOr => "bitor", false;
    BitXor => "bitxor", false;
    BitNot => "bitnot", false;
    Ceil => "ceil", false;
    Chr => "chr", false;
    ClientId => "clientid", false;
    Concat => "concat", false;
    Cos => "cos", false;
    Cosh => "cosh", false;
    Decode => "decode", true;
    Encode => "encode", true;
    EndsWith => "endswith", false;
    Exp => "exp", false;
    Floor => "floor", false;
    Get => "get", false;
    GetOrDefault => "get_or_default", false;
    GetMqttProperty => "get_mqtt_property", false;
    GetUserProperties => "get_user_properties", false;
    GetThingShadow => "get_thing_shadow", true;
    IndexOf => "indexof", true;
    IsNull => "isnull", false;
    IsUndefined => "isundefined", true;
    Length => "length", true;
    Ln => "ln", false;
    Log => "log", false;
    Lower => "lower", false;
    Lpad => "lpad", false;
    Ltrim => "ltrim", false;
    Md2 => "md2", false;
    Md5 => "md5", false;
    Mod => "mod", false;
    Nanvl => "nanvl", false;
    NewUuid => "newuuid", false;
    NumBytes => "numbytes", true;
    ParseTime => "parse_time", true;
    Power => "power", false;
    Principal => "principal", false;
    Rand => "rand", false;
    RegexpMatches => "regexp_matches", false;
    RegexpReplace => "regexp_replace", false;
    RegexpSubstr => "regexp_substr", false;
    Remainder => "remainder", false;
    Replace => "replace", false;
    Round => "round", false;
    Rpad => "rpad", false;
    Rtrim => "rtrim", false;
    Sha1 => "sha1", false;
    Sha224 => "sha224", false;
    Sha256 => "sha256", false;
    Sha384 => "sha384", false;
    Sha512 => "sha512", false;
    Sign => "sign", false;
    Sin => "sin", false;
    Sinh => "sinh", false;
    SourceIp => "sourceip", false;
    SqlVersionFn => "sql_version", false;
    Sqrt => "sqrt", false;
    StartsWith => "startswith", false;
    Substring => "substring", false;
    Tan => "tan", false;
    Tanh => "tanh", false;
    TimeToEpoch => "time_to_epoch", true;
    Timestamp => "timestamp", false;
    Topic => "topic", false;
    TraceId => "traceid", false;
    Transform => "transform", true;
    Trim => "trim", false;
    Trunc => "trunc", false;
    Upper => "upper", false;
}

/// Functions AWS offers that call another AWS service; thingd rejects rules that use them.
const EXTERNAL: &[&str] = &[
    "aws_lambda",
    "get_dynamodb",
    "get_secret",
    "get_registry_data",
    "machinelearning_predict",
];

/// Resolves a (lowercased) function name for `version`, or says why it cannot be used.
pub(crate) fn lookup(name: &str, version: SqlVersion) -> Result<Func, String> {
    if EXTERNAL.contains(&name) {
        return Err(format!(
            "Function {name}() calls another AWS service, which thingd does not provide"
        ));
    }
    let Some(func) = Func::from_name(name) else {
        return Err(format!(
            "Expected a function name but found '{name}': no such function"
        ));
    };
    if func.needs_2016() && version == SqlVersion::V2015_10_08 {
        return Err(format!(
            "Function {name}() requires SQL version 2016-03-23; this rule uses 2015-10-08"
        ));
    }
    Ok(func)
}

/// Compiles a regular expression with a size bound; `None` when it is invalid.
pub(crate) fn compile_regex(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .ok()
}

/// Evaluates a call.
pub(crate) fn call(ctx: &Ctx<'_>, call: &Call, doc: Option<&Value>) -> Result<Value, EvalError> {
    let func = call.func;
    // `encode(*, ...)` reads the raw payload, which evaluating `*` as JSON would lose.
    if func == Func::Encode {
        return encode(ctx, call, doc);
    }
    let args = call
        .args
        .iter()
        .map(|arg| ctx.eval(arg, doc))
        .collect::<Result<Vec<Value>, EvalError>>()?;
    let version = ctx.version;
    let input = ctx.input;
    let string = |s: Option<&str>| s.map_or(Value::Undefined, |s| Value::String(s.to_owned()));
    Ok(match (func, args.as_slice()) {
        (Func::Abs, [x]) => match x.to_num() {
            Some(Num::Int(i)) => i
                .checked_abs()
                .map_or(Value::Decimal((i as f64).abs()), Value::Int),
            Some(Num::Dec(d)) => Value::decimal(d.abs(), version),
            None => Value::Undefined,
        },
        (Func::Acos, [x]) => double(x, version, f64::acos),
        (Func::Asin, [x]) => double(x, version, f64::asin),
        (Func::Atan, [x]) => double(x, version, f64::atan),
        (Func::Cos, [x]) => double(x, version, f64::cos),
        (Func::Cosh, [x]) => double(x, version, f64::cosh),
        (Func::Exp, [x]) => double(x, version, f64::exp),
        (Func::Ln, [x]) => double(x, version, f64::ln),
        (Func::Log, [x]) => double(x, version, f64::log10),
        (Func::Sin, [x]) => double(x, version, f64::sin),
        (Func::Sinh, [x]) => double(x, version, f64::sinh),
        (Func::Sqrt, [x]) => double(x, version, f64::sqrt),
        (Func::Tan, [x]) => double(x, version, f64::tan),
        (Func::Tanh, [x]) => double(x, version, f64::tanh),
        (Func::Atan2, [y, x]) => match (y.to_num(), x.to_num()) {
            (Some(y), Some(x)) => Value::decimal(y.as_f64().atan2(x.as_f64()), version),
            _ => Value::Undefined,
        },
        (Func::Power, [x, y]) => match (x.to_num(), y.to_num()) {
            (Some(x), Some(y)) => Value::decimal(x.as_f64().powf(y.as_f64()), version),
            _ => Value::Undefined,
        },
        (Func::Mod | Func::Remainder, [x, y]) => match (x.to_num(), y.to_num()) {
            (Some(x), Some(y)) => arithmetic(BinaryOp::Rem, x, y, version),
            _ => Value::Undefined,
        },
        (Func::Ceil, [x]) => rounded(x, f64::ceil),
        (Func::Floor, [x]) => rounded(x, f64::floor),
        // Half up, i.e. away from zero for .5 (round(-1.5) = -2 in AWS's examples).
        (Func::Round, [x]) => rounded(x, f64::round),
        (Func::Sign, [x]) => match x.to_num() {
            Some(Num::Int(i)) => Value::Int(i.signum()),
            Some(Num::Dec(d)) => Value::Int(if d > 0.0 {
                1
            } else if d < 0.0 {
                -1
            } else {
                0
            }),
            None => Value::Undefined,
        },
        (Func::Trunc, [x, places]) => match (x.to_num(), truncated_int(places)) {
            (Some(Num::Int(i)), Some(_)) => Value::Int(i),
            (Some(Num::Dec(d)), Some(places)) => trunc(d, places, version),
            _ => Value::Undefined,
        },
        (Func::Nanvl, [x, fallback]) => match x {
            Value::Undefined | Value::Null => fallback.clone(),
            Value::Decimal(d) if d.is_nan() => fallback.clone(),
            other => other.clone(),
        },
        (Func::BitAnd, [a, b]) => bitwise(a, b, |a, b| a & b),
        (Func::BitOr, [a, b]) => bitwise(a, b, |a, b| a | b),
        (Func::BitXor, [a, b]) => bitwise(a, b, |a, b| a ^ b),
        (Func::BitNot, [a]) => truncated_int(a).map_or(Value::Undefined, |a| Value::Int(!a)),
        (Func::Rand, []) => {
            // 53 random bits give a uniformly distributed double in [0, 1).
            let bits = uuid::Uuid::new_v4().as_u128() >> 75;
            Value::Decimal(bits as f64 / (1u64 << 53) as f64)
        }

        (Func::Chr, [x]) => match truncated_int(x) {
            Some(code @ 0..=127) => char::from_u32(code as u32)
                .map_or(Value::Undefined, |c| Value::String(c.to_string())),
            _ => Value::Undefined,
        },
        (Func::Concat, args) => concat(args),
        (Func::EndsWith, [s, suffix]) => strings2(s, suffix, |s, x| Value::Bool(s.ends_with(x))),
        (Func::StartsWith, [s, prefix]) => {
            strings2(s, prefix, |s, x| Value::Bool(s.starts_with(x)))
        }
        (Func::IndexOf, [s, x]) => strings2(s, x, |s, x| {
            Value::Int(
                s.find(x)
                    .map_or(-1, |byte| s[..byte].chars().count() as i64),
            )
        }),
        (Func::Length, [s]) => string1(s, |s| Value::Int(s.chars().count() as i64)),
        (Func::NumBytes, [s]) => string1(s, |s| Value::Int(s.len() as i64)),
        (Func::Lower, [s]) => string1(s, |s| Value::String(s.to_lowercase())),
        (Func::Upper, [s]) => string1(s, |s| Value::String(s.to_uppercase())),
        (Func::Ltrim, [s]) => string1(s, |s| Value::String(s.trim_start().to_owned())),
        (Func::Rtrim, [s]) => string1(s, |s| Value::String(s.trim_end().to_owned())),
        (Func::Trim, [s]) => string1(s, |s| Value::String(s.trim().to_owned())),
        (Func::Lpad, [s, n]) => pad(s, n, true),
        (Func::Rpad, [s, n]) => pad(s, n, false),
        (Func::Replace, [s, find, with]) => {
            match (
                s.to_sql_string(),
                find.to_sql_string(),
                with.to_sql_string(),
            ) {
                (Some(s), Some(find), Some(with)) if !find.is_empty() => {
                    let matches = s.matches(find.as_str()).count();
                    check_size(
                        s.len() + matches.saturating_mul(with.len()),
                        "replace() result",
                    )?;
                    Value::String(s.replace(&find, &with))
                }
                (Some(s), Some(_), Some(_)) => Value::String(s),
                _ => Value::Undefined,
            }
        }
        (Func::Substring, [s, start]) => substring(s, start, None),
        (Func::Substring, [s, start, end]) => substring(s, start, Some(end)),
        (Func::RegexpMatches, [s, pattern]) => {
            with_regex(call, s, pattern, |s, re| Value::Bool(re.is_match(s)))
        }
        (Func::RegexpSubstr, [s, pattern]) => with_regex(call, s, pattern, |s, re| {
            re.find(s)
                .map_or(Value::Undefined, |m| Value::String(m.as_str().to_owned()))
        }),
        (Func::RegexpReplace, [s, pattern, replacement]) => match replacement.to_sql_string() {
            Some(replacement) => {
                let replacement = java_replacement(&replacement);
                let mut too_large = false;
                let result = with_regex(call, s, pattern, |s, re| {
                    if replaced_len(re, s, &replacement) > STRING_LIMIT {
                        too_large = true;
                        return Value::Undefined;
                    }
                    Value::String(re.replace_all(s, replacement.as_str()).into_owned())
                });
                if too_large {
                    check_size(usize::MAX, "regexp_replace() result")?;
                }
                result
            }
            None => Value::Undefined,
        },
        (Func::Md2, [s]) => string1(s, hex_digest::<md2::Md2>),
        (Func::Md5, [s]) => string1(s, hex_digest::<md5::Md5>),
        (Func::Sha1, [s]) => string1(s, hex_digest::<sha1::Sha1>),
        (Func::Sha224, [s]) => string1(s, hex_digest::<sha2::Sha224>),
        (Func::Sha256, [s]) => string1(s, hex_digest::<sha2::Sha256>),
        (Func::Sha384, [s]) => string1(s, hex_digest::<sha2::Sha384>),
        (Func::Sha512, [s]) => string1(s, hex_digest::<sha2::Sha512>),

        (Func::Get, [collection, key]) => get(collection, key),
        (Func::GetOrDefault, [value, default]) => match value {
            Value::Undefined | Value::Null => default.clone(),
            other => other.clone(),
        },
        (Func::GetOrDefault, [value]) => value.clone(),
        (Func::IsNull, [x]) => Value::Bool(matches!(x, Value::Null)),
        (Func::IsUndefined, [x]) => Value::Bool(x.is_undefined()),
        (Func::Decode, [value, scheme]) => decode(value, scheme, version),
        (Func::Transform, [mode, object, array]) => transform(mode, object, array)?,

        (Func::AccountId, []) => Value::String(ctx.env.account_id().to_owned()),
        (Func::ClientId, []) => Value::String(input.client_id.unwrap_or("n/a").to_owned()),
        (Func::Principal, []) => string(input.principal),
        (Func::TraceId, []) => string(input.trace_id),
        (Func::SourceIp, []) => input
            .source_ip
            .map_or(Value::Undefined, |ip| Value::String(ip.to_string())),
        (Func::Timestamp, []) => Value::Int(input.timestamp_ms),
        (Func::NewUuid, []) => Value::String(uuid::Uuid::new_v4().to_string()),
        (Func::SqlVersionFn, []) => Value::String(version.as_str().to_owned()),
        (Func::Topic, []) => Value::String(input.rule_topic().to_owned()),
        (Func::Topic, [level]) => match truncated_int(level) {
            Some(level) if level >= 1 => input
                .rule_topic()
                .split('/')
                .nth((level - 1) as usize)
                .map_or(Value::Undefined, |l| Value::String(l.to_owned())),
            _ => Value::Undefined,
        },
        (Func::GetMqttProperty, [name]) => mqtt_property(input, name),
        (Func::GetUserProperties, [key]) => match key.to_sql_string() {
            Some(key) => {
                let values: Vec<Value> = input
                    .mqtt
                    .user_properties
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| Value::String(v.clone()))
                    .collect();
                if values.is_empty() {
                    Value::Undefined
                } else {
                    Value::Array(values)
                }
            }
            None => Value::Undefined,
        },
        (Func::GetThingShadow, [thing, _role]) => shadow(ctx, thing, None, version),
        (Func::GetThingShadow, [thing, shadow_name, _role]) => {
            shadow(ctx, thing, Some(shadow_name), version)
        }
        (Func::ParseTime, [pattern, millis]) => parse_time(pattern, millis, None),
        (Func::ParseTime, [pattern, millis, zone]) => parse_time(pattern, millis, Some(zone)),
        (Func::TimeToEpoch, [text, pattern]) => match (text, pattern) {
            (Value::String(text), Value::String(pattern)) => {
                time_format::parse_epoch_millis(text, pattern).map_or(Value::Undefined, Value::Int)
            }
            _ => Value::Undefined,
        },
        // Wrong arity or argument types.
        _ => Value::Undefined,
    })
}

/// A math function computed in double precision; non-finite results (imaginary, overflow)
/// are `Undefined`.
fn double(x: &Value, version: SqlVersion, f: impl Fn(f64) -> f64) -> Value {
    x.to_num()
        .map_or(Value::Undefined, |n| Value::decimal(f(n.as_f64()), version))
}

/// `ceil`, `floor`, `round`: an `Int` from a number or numeric string.
fn rounded(x: &Value, f: impl Fn(f64) -> f64) -> Value {
    match x.to_num() {
        Some(Num::Int(i)) => Value::Int(i),
        Some(Num::Dec(d)) => f64_to_i64(f(d)).map_or(Value::Undefined, Value::Int),
        None => Value::Undefined,
    }
}

/// `trunc(d, places)`: truncates towards zero at `places` decimals (clamped to 0–34), working on
/// the decimal text so no binary rounding creeps in; trailing zeros are dropped.
fn trunc(d: f64, places: i64, version: SqlVersion) -> Value {
    let places = places.clamp(0, 34) as usize;
    let text = format!("{d}");
    let truncated = match text.split_once('.') {
        Some((whole, fraction)) if !text.contains('e') => {
            let kept = fraction[..fraction.len().min(places)].trim_end_matches('0');
            if kept.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{kept}")
            }
        }
        _ => text,
    };
    match truncated.parse::<i64>() {
        Ok(int) if !truncated.contains('.') => Value::Int(int),
        _ => truncated
            .parse::<f64>()
            .map_or(Value::Undefined, |d| Value::decimal(d, version)),
    }
}

/// Fails the evaluation when a string result would be longer than [`STRING_LIMIT`].
fn check_size(len: usize, what: &'static str) -> Result<(), EvalError> {
    if len > STRING_LIMIT {
        return Err(EvalError::TooLarge {
            what,
            limit: STRING_LIMIT,
        });
    }
    Ok(())
}

/// The length `regexp_replace` would produce, computed without building it. `replacement` is
/// in the form [`java_replacement`] writes: literal text, `$$`, and `${n}` group references.
fn replaced_len(re: &Regex, s: &str, replacement: &str) -> usize {
    let mut len = s.len();
    for captures in re.captures_iter(s) {
        let matched = captures.get(0).map_or(0, |m| m.len());
        let mut expanded = 0usize;
        let mut rest = replacement;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("$$") {
                expanded = expanded.saturating_add(1);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${")
                && let Some((group, tail)) = after.split_once('}')
            {
                let group_len = group
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| captures.get(n))
                    .map_or(0, |m| m.len());
                expanded = expanded.saturating_add(group_len);
                rest = tail;
            } else {
                expanded = expanded.saturating_add(c.len_utf8());
                rest = &rest[c.len_utf8()..];
            }
        }
        len = len.saturating_sub(matched).saturating_add(expanded);
        if len > STRING_LIMIT {
            break;
        }
    }
    len
}

fn bitwise(a: &Value, b: &Value, f: impl Fn(i64, i64) -> i64) -> Value {
    match (truncated_int(a), truncated_int(b)) {
        (Some(a), Some(b)) => Value::Int(f(a, b)),
        _ => Value::Undefined,
    }
}

/// One argument converted to a string; `Null`/`Undefined` give `Undefined`.
fn string1(s: &Value, f: impl Fn(&str) -> Value) -> Value {
    match s {
        Value::String(s) => f(s),
        other => other.to_sql_string().map_or(Value::Undefined, |s| f(&s)),
    }
}

fn strings2(a: &Value, b: &Value, f: impl Fn(&str, &str) -> Value) -> Value {
    match (a.to_sql_string(), b.to_sql_string()) {
        (Some(a), Some(b)) => f(&a, &b),
        _ => Value::Undefined,
    }
}

fn hex_digest<D: sha2::Digest>(s: &str) -> Value {
    let digest = D::digest(s.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    Value::String(out)
}

/// `concat`: nothing is `Undefined`, one argument is returned as is, arrays flatten into one
/// array, anything else concatenates as strings.
fn concat(args: &[Value]) -> Value {
    match args {
        [] => Value::Undefined,
        [one] => one.clone(),
        _ if args.iter().any(|a| matches!(a, Value::Array(_))) => {
            let mut out = Vec::new();
            for arg in args {
                match arg {
                    Value::Array(items) => out.extend(items.iter().cloned()),
                    Value::Undefined => {}
                    other => out.push(other.clone()),
                }
            }
            Value::Array(out)
        }
        _ => {
            let mut out = String::new();
            for arg in args {
                match arg.to_sql_string() {
                    Some(s) => out.push_str(&s),
                    None => return Value::Undefined,
                }
            }
            Value::String(out)
        }
    }
}

fn pad(s: &Value, n: &Value, left: bool) -> Value {
    let (Some(s), Some(n)) = (s.to_sql_string(), truncated_int(n)) else {
        return Value::Undefined;
    };
    let spaces = " ".repeat(n.clamp(0, PAD_LIMIT) as usize);
    Value::String(if left { spaces + &s } else { s + &spaces })
}

/// `substring(s, start[, end])` on characters, indices clamped to the string.
fn substring(s: &Value, start: &Value, end: Option<&Value>) -> Value {
    let Some(s) = s.to_sql_string() else {
        return Value::Undefined;
    };
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    let Some(start) = truncated_int(start) else {
        return Value::Undefined;
    };
    let end = match end {
        Some(end) => match truncated_int(end) {
            Some(end) => end,
            None => return Value::Undefined,
        },
        None => len,
    };
    let (start, end) = (start.clamp(0, len) as usize, end.clamp(0, len) as usize);
    if start >= end {
        return Value::String(String::new());
    }
    Value::String(chars[start..end].iter().collect())
}

/// Runs `f` with the call's compiled regex, or compiles the pattern argument now; an invalid
/// pattern is `Undefined`.
fn with_regex(
    call: &Call,
    s: &Value,
    pattern: &Value,
    f: impl FnOnce(&str, &Regex) -> Value,
) -> Value {
    let Some(s) = s.to_sql_string() else {
        return Value::Undefined;
    };
    if let Some(re) = &call.regex {
        return f(&s, re);
    }
    match pattern.to_sql_string().as_deref().and_then(compile_regex) {
        Some(re) => f(&s, &re),
        None => Value::Undefined,
    }
}

/// Translates a Java replacement string (`$1`, `\$`) into the regex crate's syntax (`${1}`,
/// `$$`), so `$1a` means group 1 followed by "a" as it does in AWS.
fn java_replacement(java: &str) -> String {
    let mut out = String::with_capacity(java.len() + 8);
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `get(collection, key)`: arrays and strings by 0-based index (converted to Int), objects by
/// string key (not converted).
pub(crate) fn get(collection: &Value, key: &Value) -> Value {
    match collection {
        Value::Array(items) => {
            index(key, items.len()).map_or(Value::Undefined, |i| items[i].clone())
        }
        Value::String(s) => {
            let Some(i) = key.to_int_standard() else {
                return Value::Undefined;
            };
            usize::try_from(i)
                .ok()
                .and_then(|i| s.chars().nth(i))
                .map_or(Value::Undefined, |c| Value::String(c.to_string()))
        }
        Value::Object(map) => match key {
            Value::String(k) => map.get(k).cloned().unwrap_or_default(),
            _ => Value::Undefined,
        },
        _ => Value::Undefined,
    }
}

fn index(key: &Value, len: usize) -> Option<usize> {
    let i = key.to_int_standard()?;
    usize::try_from(i).ok().filter(|i| *i < len)
}

fn encode(ctx: &Ctx<'_>, call: &Call, doc: Option<&Value>) -> Result<Value, EvalError> {
    let [value, scheme] = call.args.as_slice() else {
        return Ok(Value::Undefined);
    };
    let scheme = ctx.eval(scheme, doc)?;
    if !matches!(&scheme, Value::String(s) if s.eq_ignore_ascii_case("base64")) {
        return Ok(Value::Undefined);
    }
    let encoded = match value {
        Expr::Star => BASE64.encode(ctx.input.payload),
        other => match ctx.eval(other, doc)?.to_sql_string() {
            Some(s) => BASE64.encode(s.as_bytes()),
            None => return Ok(Value::Undefined),
        },
    };
    Ok(Value::String(encoded))
}

/// `decode(value, 'base64')`: JSON becomes an addressable value, other UTF-8 text a string;
/// what cannot be decoded is `Null`, as AWS documents.
fn decode(value: &Value, scheme: &Value, version: SqlVersion) -> Value {
    if !matches!(scheme, Value::String(s) if s.eq_ignore_ascii_case("base64")) {
        return Value::Undefined;
    }
    let Value::String(text) = value else {
        return Value::Undefined;
    };
    let Ok(bytes) = BASE64.decode(text.trim()) else {
        return Value::Null;
    };
    if let Some(json) = Value::parse_json(&bytes, version) {
        return json;
    }
    String::from_utf8(bytes).map_or(Value::Null, Value::String)
}

/// `transform('enrichArray', object, array)`: each element of the array with the object's
/// attributes added.
fn transform(mode: &Value, object: &Value, array: &Value) -> Result<Value, EvalError> {
    let (Value::String(mode), Value::Object(extra), Value::Array(items)) = (mode, object, array)
    else {
        return Ok(Value::Undefined);
    };
    if mode != "enrichArray" {
        return Ok(Value::Undefined);
    }
    let enriched: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Value::Object(attributes) => {
                let mut merged: Object = attributes.clone();
                merged.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Object(merged)
            }
            other => other.clone(),
        })
        .collect();
    let result = Value::Array(enriched);
    if result.to_string().len() > TRANSFORM_LIMIT {
        return Err(EvalError::TooLarge {
            what: "transform() result",
            limit: TRANSFORM_LIMIT,
        });
    }
    Ok(result)
}

fn mqtt_property(input: &crate::Input<'_>, name: &Value) -> Value {
    let Value::String(name) = name else {
        return Value::Undefined;
    };
    let mqtt = &input.mqtt;
    let string = |s: Option<&str>| s.map_or(Value::Undefined, |s| Value::String(s.to_owned()));
    match name.as_str() {
        "format_indicator" => match mqtt.format_indicator {
            Some(0) => Value::String("UNSPECIFIED_BYTES".to_owned()),
            Some(1) => Value::String("UTF8_DATA".to_owned()),
            _ => Value::Undefined,
        },
        "content_type" => string(mqtt.content_type),
        "response_topic" => string(mqtt.response_topic),
        "correlation_data" => mqtt
            .correlation_data
            .map_or(Value::Undefined, |d| Value::String(BASE64.encode(d))),
        _ => Value::Undefined,
    }
}

fn shadow(ctx: &Ctx<'_>, thing: &Value, name: Option<&Value>, version: SqlVersion) -> Value {
    let Value::String(thing) = thing else {
        return Value::Undefined;
    };
    let name = match name {
        Some(Value::String(name)) => Some(name.as_str()),
        Some(_) => return Value::Undefined,
        None => None,
    };
    ctx.env
        .thing_shadow(thing, name)
        .map_or(Value::Undefined, |json| {
            Value::from_json(&json).normalize(version)
        })
}

fn parse_time(pattern: &Value, millis: &Value, zone: Option<&Value>) -> Value {
    let Value::String(pattern) = pattern else {
        return Value::Undefined;
    };
    let millis = match millis {
        Value::Int(i) => *i,
        Value::Decimal(d) => match f64_to_i64(d.trunc()) {
            Some(i) => i,
            None => return Value::Undefined,
        },
        Value::String(s) => match parse_decimal_string(s).and_then(|d| f64_to_i64(d.trunc())) {
            Some(i) => i,
            None => return Value::Undefined,
        },
        _ => return Value::Undefined,
    };
    let zone = match zone {
        None => "UTC",
        Some(Value::String(zone)) => zone.as_str(),
        Some(_) => return Value::Undefined,
    };
    time_format::format_millis(pattern, millis, zone).map_or(Value::Undefined, Value::String)
}
