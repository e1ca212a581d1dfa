//! AWS IoT policy documents (IAM-style JSON) parsed, validated, compiled and evaluated, with no IO.
//!
//! # Documents
//!
//! [`PolicyDocument::parse`] accepts `{"Version", "Id"?, "Statement"}` where `Version` is
//! `"2012-10-17"` or `"2008-10-17"` (absent means 2008-10-17, as in IAM; that version has no
//! policy variables, so `${...}` is literal text) and `Statement` is one object or a non-empty
//! array of them. A statement has an optional `Sid` (string), `Effect` (`"Allow"` or `"Deny"`),
//! exactly one of `Action`/`NotAction`, exactly one of `Resource`/`NotResource` (each a string or
//! a non-empty array of strings) and an optional `Condition`. Actions are `*` or `iot:<Name>` with
//! the wildcards `*` and `?`, compared case-insensitively; resources are `*` or ARNs. Unknown or
//! repeated fields, wrong types, empty arrays, unknown condition operators and invalid actions,
//! resources or condition values are rejected with a [`PolicyError`] naming the statement and the
//! field. Bounds: [`MAX_DOCUMENT_CHARS`] characters other than whitespace (AWS IoT's quota),
//! [`MAX_DOCUMENT_BYTES`] bytes in all, [`MAX_STATEMENTS`] statements, and JSON nesting of at most
//! 128 levels (serde_json's recursion limit).
//!
//! # Evaluation
//!
//! Any matching Deny statement denies; else any matching Allow statement allows; else the
//! request is implicitly denied. In resources `*` matches any sequence of characters (crossing
//! `/`), `?` exactly one, matching is case-sensitive, and `+` and `#` are literal characters. The
//! escapes `${*}`, `${?}` and `${$}` are a literal `*`, `?` and `$`.
//!
//! Policy variables (`${iot:ClientId}`, `${iot:Connection.Thing.ThingName}`,
//! `${iot:Certificate.Subject.CommonName}`, ...) are substituted literally: a value containing `*`
//! is not a wildcard. A variable without a value is not substituted, so the resource or condition
//! value holding it matches nothing, whatever the statement's effect (so a Deny naming a missing
//! variable denies nothing). Thing variables resolve only when the client id equals the thing's
//! name. Certificate attribute values follow AWS's limits: the first five values of a field are
//! visible, values over 1024 characters or containing `*`, `$`, `+`, `?` or `#` are treated as
//! absent, and distinguished-name values are presented with `,` `"` `\` `+` `=` `<` `>` `;`
//! escaped by a backslash. The certificate serial number is in decimal.
//!
//! Conditions follow IAM: keys of an operator and operators of a block AND, values of one key OR
//! (a negated operator holds when no value matches), `...IfExists` holds when the key is absent,
//! negated operators hold when the key is absent, `ForAllValues:` holds when the key is absent or
//! empty and `ForAnyValue:` does not, and `Null` tests for absence. ARN operators compare the six
//! colon-separated components, each with wildcards.
//!
//! [`evaluate`] is the full, reporting evaluation (TestAuthorization); [`ConnectionPolicy`] is the
//! same decision compiled once per connection for the hot path.

mod action;
mod compiled;
mod condition;
mod context;
mod document;
mod error;
mod evaluate;
mod glob;
mod ip;
mod json;
mod template;

pub use action::Action;
pub use compiled::ConnectionPolicy;
pub use context::{CertificateContext, Context, ThingContext};
pub use document::{
    MAX_DOCUMENT_BYTES, MAX_DOCUMENT_CHARS, MAX_STATEMENTS, PolicyDocument, PolicyVersion,
};
pub use error::PolicyError;
pub use evaluate::{Decision, Evaluation, NamedPolicy, NamedPolicyRef, evaluate};
