//! Why a request's signature was refused, and the AWS error that answers it.
//!
//! Codes, statuses and messages follow what AWS's JSON and restJson1 front ends return (AWS IoT
//! included), so the AWS CLI, boto3 and the SDKs show users the errors they know:
//!
//! - `IncompleteSignatureException` (400) for a malformed or partial signature: AWS "Common
//!   Errors" (`IncompleteSignature`, "The request signature does not conform to AWS standards.",
//!   HTTP 400); the wording of the missing-parameter and missing-equal-sign messages is the one
//!   AWS returns (e.g. aws/chalice#828, aws/aws-sdk-go#289).
//! - `MissingAuthenticationTokenException` (403), "Missing Authentication Token": what AWS JSON
//!   and REST front ends answer to an unsigned request (header `x-amzn-ErrorType:
//!   MissingAuthenticationTokenException`, HTTP 403).
//! - `UnrecognizedClientException` (403), "The security token included in the request is
//!   invalid.": AWS's answer, on JSON services, to an access key id it does not know (and to a
//!   session token it cannot use).
//! - `InvalidSignatureException` (403), "The request signature we calculated does not match the
//!   signature you provided. Check your AWS Secret Access Key and signing method. Consult the
//!   service documentation for details.", followed by the canonical string and the string to
//!   sign (aws/aws-sdk-js#168 shows Lambda's, aws/aws-sdk-cpp#17 Cognito Sync's; `SignatureDoesNotMatch`
//!   is the S3/query-protocol code for the same failure, not used by restJson1 services).
//!   Scope errors use the same code with AWS's messages ("Credential should be scoped to a valid
//!   region, not 'us-west-1'. ", aws/aws-sdk-java#1097; "Credential should be scoped to correct
//!   service: 'execute-api'. ").
//! - Clock skew: `InvalidSignatureException` with HTTP **400** and "Signature expired:
//!   20140325T143453Z is now earlier than 20140325T143751Z (20140325T145251Z - 15 min.)"
//!   (aws/aws-sdk-js#254: `"code":"InvalidSignatureException"`, `"statusCode":400`), or
//!   "Signature not yet current: … is still later than … (… + 15 min.)".
//! - `XAmzContentSHA256Mismatch` (400) when `x-amz-content-sha256` does not match the body, as S3.
//!
//! No message or `Debug` output holds a secret key or the signature the server computed.

use std::borrow::Cow;

/// What failed when verifying (or signing) a request.
///
/// [`Error::aws_error`] gives the AWS error code, HTTP status and message to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Neither an `Authorization` header nor `X-Amz-*` query authentication.
    #[error(
        "request is not signed: no Authorization header and no X-Amz-Signature query parameter"
    )]
    MissingAuthentication,
    /// Query-string (presigned URL) authentication where the verifier accepts headers only.
    #[error("query-string authentication (presigned URLs) is not accepted here")]
    PresignedNotAccepted,
    /// Both an `Authorization` header and `X-Amz-*` query authentication.
    #[error("both an Authorization header and X-Amz-* query authentication are present")]
    AmbiguousAuthentication,
    /// An algorithm other than `AWS4-HMAC-SHA256`.
    #[error("unsupported signing algorithm {algorithm:?}, expected AWS4-HMAC-SHA256")]
    UnsupportedAlgorithm {
        /// The algorithm the request named (truncated to 64 bytes).
        algorithm: String,
    },
    /// A part of the request too long to be verified.
    #[error("{what} is longer than {limit} bytes")]
    TooLong {
        /// What was too long: `Authorization header`, `query string`, …
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// More query parameters than the verifier accepts.
    #[error("more than {limit} query parameters")]
    TooManyQueryParameters {
        /// The limit.
        limit: usize,
    },
    /// An `Authorization` component without `=`.
    #[error("{component:?} is not a key=value pair in the Authorization header")]
    MalformedAuthorizationComponent {
        /// The component (truncated to 64 bytes).
        component: String,
    },
    /// An empty component in the `Authorization` header (`, ,` or a trailing comma).
    #[error("empty component in the Authorization header")]
    EmptyAuthorizationComponent,
    /// An `Authorization` component other than Credential, SignedHeaders and Signature.
    #[error("unknown Authorization header component {name:?}")]
    UnknownAuthorizationComponent {
        /// Its name (truncated to 64 bytes).
        name: String,
    },
    /// An authentication parameter given twice (in the `Authorization` header or the query).
    #[error("{name} is given more than once")]
    DuplicateParameter {
        /// The parameter.
        name: &'static str,
    },
    /// A header that must appear at most once appears several times.
    #[error("the {name} header is given more than once")]
    DuplicateHeader {
        /// The header.
        name: &'static str,
    },
    /// Required authentication parameters are missing.
    #[error("missing authentication parameters: {}", names.join(", "))]
    MissingParameters {
        /// Where they were expected.
        location: crate::SignatureLocation,
        /// The missing parameters, in AWS's order.
        names: Vec<&'static str>,
    },
    /// A header used for authentication is not valid UTF-8 / ASCII.
    #[error("the {name} header is not valid ASCII")]
    NonAsciiHeader {
        /// The header.
        name: &'static str,
    },
    /// The `Credential` is not `AKID/YYYYMMDD/region/service/aws4_request`.
    #[error("malformed Credential {credential:?}: {reason}")]
    MalformedCredential {
        /// The credential as given (truncated to 256 bytes).
        credential: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signed header list is malformed.
    #[error("malformed SignedHeaders: {reason}")]
    MalformedSignedHeaders {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More signed headers than the verifier accepts.
    #[error("more than {limit} signed headers")]
    TooManySignedHeaders {
        /// The limit.
        limit: usize,
    },
    /// `host` is not among the signed headers.
    #[error("the host header is not signed")]
    HostNotSigned,
    /// The request has no `host` header (HTTP/2: the caller passes `:authority` as `host`).
    #[error("the request has no host header")]
    MissingHost,
    /// The signature is not 64 hexadecimal digits.
    #[error("the signature is not 64 hexadecimal digits")]
    MalformedSignature,
    /// Header authentication without `X-Amz-Date` or `Date`.
    #[error("no X-Amz-Date or Date header")]
    MissingDate,
    /// The request time is not an ISO 8601 basic timestamp (`X-Amz-Date`) or an HTTP date
    /// (`Date`).
    #[error("malformed request time {value:?}")]
    MalformedDate {
        /// The value as given (truncated to 64 bytes).
        value: String,
    },
    /// `X-Amz-Expires` is not a number of seconds from 1 to 604800 (7 days).
    #[error("X-Amz-Expires {value:?} is not a number of seconds from 1 to 604800")]
    MalformedExpires {
        /// The value as given (truncated to 64 bytes).
        value: String,
    },
    /// `x-amz-content-sha256` is neither a SHA-256 in hex nor `UNSIGNED-PAYLOAD`.
    #[error("malformed x-amz-content-sha256 {value:?}")]
    MalformedContentSha256 {
        /// The value as given (truncated to 64 bytes).
        value: String,
    },
    /// `x-amz-content-sha256` names a payload mode thingd does not support
    /// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, chunked signing …).
    #[error("unsupported payload mode {value:?}")]
    UnsupportedPayloadMode {
        /// The value as given (truncated to 64 bytes).
        value: String,
    },
    /// `UNSIGNED-PAYLOAD` where the verifier requires a signed payload.
    #[error("UNSIGNED-PAYLOAD is not accepted here")]
    UnsignedPayloadNotAccepted,
    /// `x-amz-content-sha256` is not the SHA-256 of the body received.
    #[error("x-amz-content-sha256 does not match the body")]
    ContentSha256Mismatch,
    /// A session token (`X-Amz-Security-Token`) is part of the signature: thingd issues no
    /// temporary credentials, so it cannot accept one.
    #[error("session tokens (X-Amz-Security-Token) are not supported")]
    SessionTokenNotSupported,
    /// The credential is scoped to a service the verifier does not serve.
    #[error("credential scoped to service {service:?}, expected one of {expected:?}")]
    WrongService {
        /// The service of the credential scope.
        service: String,
        /// The services accepted.
        expected: Vec<String>,
    },
    /// The credential is scoped to another region.
    #[error("credential scoped to region {region:?}, expected {expected:?}")]
    WrongRegion {
        /// The region of the credential scope.
        region: String,
        /// The region configured.
        expected: String,
    },
    /// The date of the credential scope is not the date of the request time.
    #[error(
        "credential scope date {scope_date} is not the date of the request time {request_time}"
    )]
    ScopeDateMismatch {
        /// `YYYYMMDD` of the credential scope.
        scope_date: String,
        /// The request time, ISO 8601 basic.
        request_time: String,
    },
    /// The request time is further in the past than the allowed clock skew.
    #[error("signature expired: {request_time} is earlier than {now} - {skew_minutes} min")]
    SignatureExpired {
        /// The request time, ISO 8601 basic.
        request_time: String,
        /// The server's time, ISO 8601 basic.
        now: String,
        /// The allowed skew in minutes.
        skew_minutes: u64,
    },
    /// The request time is further in the future than the allowed clock skew.
    #[error("signature not yet current: {request_time} is later than {now} + {skew_minutes} min")]
    SignatureNotYetCurrent {
        /// The request time, ISO 8601 basic.
        request_time: String,
        /// The server's time, ISO 8601 basic.
        now: String,
        /// The allowed skew in minutes.
        skew_minutes: u64,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    #[error("presigned URL expired at {expired_at} (now {now})")]
    PresignedUrlExpired {
        /// `X-Amz-Date`, ISO 8601 basic.
        request_time: String,
        /// `X-Amz-Expires`.
        expires_seconds: u32,
        /// When the URL expired, ISO 8601 basic.
        expired_at: String,
        /// The server's time, ISO 8601 basic.
        now: String,
    },
    /// No secret key is known for the access key id.
    #[error("unknown access key id {access_key_id:?}")]
    UnknownAccessKey {
        /// The access key id of the credential.
        access_key_id: String,
    },
    /// The signature is not the one the server computed.
    #[error("the signature does not match")]
    SignatureMismatch {
        /// The canonical request the server signed (lossy UTF-8): helps a client find its
        /// mistake, as AWS's message does. Holds only what the client sent.
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },
}

/// The AWS error a service answers a refused signature with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsError {
    /// The error code (`x-amzn-ErrorType` / `__type`), e.g. `InvalidSignatureException`.
    pub code: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// The message, worded like AWS's.
    pub message: String,
}

const INCOMPLETE: &str = "IncompleteSignatureException";
const INVALID: &str = "InvalidSignatureException";
const UNRECOGNIZED: &str = "UnrecognizedClientException";
const MISSING: &str = "MissingAuthenticationTokenException";

/// The message of a signature mismatch, as AWS words it (without the two strings).
pub(crate) const MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl Error {
    /// The AWS error code, HTTP status and message that answer this error.
    pub fn aws_error(&self) -> AwsError {
        let (code, status) = (self.code(), self.status());
        AwsError {
            code,
            status,
            message: self.aws_message().into_owned(),
        }
    }

    /// The AWS error code: `IncompleteSignatureException`, `InvalidSignatureException`,
    /// `UnrecognizedClientException`, `MissingAuthenticationTokenException` or
    /// `XAmzContentSHA256Mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthentication | Self::PresignedNotAccepted => MISSING,
            Self::SessionTokenNotSupported | Self::UnknownAccessKey { .. } => UNRECOGNIZED,
            Self::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Self::UnsignedPayloadNotAccepted
            | Self::WrongService { .. }
            | Self::WrongRegion { .. }
            | Self::ScopeDateMismatch { .. }
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::PresignedUrlExpired { .. }
            | Self::SignatureMismatch { .. } => INVALID,
            _ => INCOMPLETE,
        }
    }

    /// The HTTP status: 400 for malformed signatures, clock skew and a body hash mismatch, 403
    /// otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::ContentSha256Mismatch => 400,
            _ if self.code() == INCOMPLETE => 400,
            _ => 403,
        }
    }

    fn aws_message(&self) -> Cow<'static, str> {
        match self {
            Self::MissingAuthentication | Self::PresignedNotAccepted => {
                "Missing Authentication Token".into()
            }
            Self::SessionTokenNotSupported | Self::UnknownAccessKey { .. } => {
                "The security token included in the request is invalid.".into()
            }
            Self::MalformedAuthorizationComponent { component } => format!(
                "'{component}' not a valid key=value pair (missing equal-sign) in Authorization header"
            )
            .into(),
            Self::MissingParameters { location, names } => {
                let mut message = String::new();
                for name in names {
                    if !message.is_empty() {
                        message.push(' ');
                    }
                    match (location, *name) {
                        (crate::SignatureLocation::Header, "X-Amz-Date") => message.push_str(
                            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                        ),
                        (crate::SignatureLocation::Header, name) => message
                            .push_str(&format!("Authorization header requires '{name}' parameter.")),
                        (crate::SignatureLocation::Query, name) => message.push_str(&format!(
                            "AWS query-string parameters must include '{name}'."
                        )),
                    }
                }
                message.into()
            }
            Self::MissingDate => "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
            Self::MalformedDate { value } => format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )
            .into(),
            Self::HostNotSigned => {
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into()
            }
            Self::WrongService { expected, .. } => format!(
                "Credential should be scoped to correct service: '{}'. ",
                expected.join("' or '")
            )
            .into(),
            Self::WrongRegion { region, .. } => {
                format!("Credential should be scoped to a valid region, not '{region}'. ").into()
            }
            Self::ScopeDateMismatch {
                scope_date,
                request_time,
            } => format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{request_time}'.",
                request_time.get(..8).unwrap_or(request_time)
            )
            .into(),
            Self::SignatureExpired {
                request_time,
                now,
                skew_minutes,
            } => {
                let limit = shift(now, -i64::try_from(*skew_minutes).unwrap_or(i64::MAX).saturating_mul(60));
                format!(
                    "Signature expired: {request_time} is now earlier than {limit} ({now} - {skew_minutes} min.)"
                )
                .into()
            }
            Self::SignatureNotYetCurrent {
                request_time,
                now,
                skew_minutes,
            } => {
                let limit = shift(now, i64::try_from(*skew_minutes).unwrap_or(i64::MAX).saturating_mul(60));
                format!(
                    "Signature not yet current: {request_time} is still later than {limit} ({now} + {skew_minutes} min.)"
                )
                .into()
            }
            Self::PresignedUrlExpired {
                request_time,
                expires_seconds,
                expired_at,
                now,
            } => format!(
                "Request has expired: X-Amz-Date {request_time} + X-Amz-Expires {expires_seconds} s = {expired_at}, now {now}."
            )
            .into(),
            Self::ContentSha256Mismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .into()
            }
            Self::SignatureMismatch {
                canonical_request,
                string_to_sign,
            } => format!(
                "{MISMATCH_MESSAGE}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            )
            .into(),
            other => {
                // The remaining errors are thingd's own wording of a malformed signature.
                let mut message = other.to_string();
                if let Some(first) = message.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                message.push('.');
                message.into()
            }
        }
    }
}

/// `iso` (ISO 8601 basic) shifted by `seconds`; `iso` itself if it does not parse.
fn shift(iso: &str, seconds: i64) -> String {
    crate::time::Timestamp::parse_iso8601_basic(iso)
        .map_or_else(|| iso.to_owned(), |t| t.offset(seconds).iso8601_basic())
}

/// `s` cut to at most `max` bytes on a character boundary, for echoing client input.
pub(crate) fn truncated(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
