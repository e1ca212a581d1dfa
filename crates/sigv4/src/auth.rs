//! Parsing the authentication parameters: the `Authorization` header and the `X-Amz-*` query
//! parameters of a presigned URL.

use crate::canonical::{self, ALGORITHM};
use crate::error::{Error, truncated};
use crate::{Limits, SignatureLocation};

/// The parts of `Credential=AKID/YYYYMMDD/region/service/aws4_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credential<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) date: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

/// The longest access key id accepted (IAM's limit).
const MAX_ACCESS_KEY_ID_LEN: usize = 128;

pub(crate) fn parse_credential(credential: &str) -> Result<Credential<'_>, Error> {
    let malformed = |reason| Error::MalformedCredential {
        credential: truncated(credential, 256),
        reason,
    };
    let mut parts = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(
            "expected 5 '/'-separated parts: access key id, date, region, service, aws4_request",
        ));
    };
    if access_key_id.is_empty()
        || access_key_id.len() > MAX_ACCESS_KEY_ID_LEN
        || !access_key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(malformed(
            "the access key id must be 1 to 128 letters, digits or '_'",
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the date must be YYYYMMDD"));
    }
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !valid_name(region) {
        return Err(malformed("the region is not a region name"));
    }
    if !valid_name(service) {
        return Err(malformed("the service is not a service name"));
    }
    if terminator != "aws4_request" {
        return Err(malformed(
            "the credential must end with the terminator 'aws4_request'",
        ));
    }
    Ok(Credential {
        access_key_id,
        date,
        region,
        service,
    })
}

/// Checks a `SignedHeaders` list (`host;x-amz-date`): lowercase names, sorted, no duplicates,
/// `host` among them. Returns the names.
pub(crate) fn parse_signed_headers<'a>(
    list: &'a str,
    limits: &Limits,
) -> Result<Vec<&'a str>, Error> {
    let malformed = |reason| Error::MalformedSignedHeaders { reason };
    if list.is_empty() {
        return Err(malformed("the list is empty"));
    }
    let mut names = Vec::new();
    for name in list.split(';') {
        if names.len() == limits.max_signed_headers {
            return Err(Error::TooManySignedHeaders {
                limit: limits.max_signed_headers,
            });
        }
        if !canonical::is_lowercase_header_name(name) {
            return Err(malformed(
                "each name must be a lowercase header name, separated by ';'",
            ));
        }
        if let Some(&previous) = names.last()
            && previous >= name
        {
            return Err(malformed("names must be sorted and unique"));
        }
        names.push(name);
    }
    if !names.contains(&"host") {
        return Err(Error::HostNotSigned);
    }
    Ok(names)
}

/// Decodes a signature of 64 hex digits (either case).
pub(crate) fn parse_signature(signature: &str) -> Result<[u8; 32], Error> {
    let mut out = [0u8; 32];
    if signature.len() != 64 {
        return Err(Error::MalformedSignature);
    }
    hex::decode_to_slice(signature, &mut out).map_err(|_| Error::MalformedSignature)?;
    Ok(out)
}

/// The components of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
/// Signature=…` header, not yet validated.
#[derive(Debug)]
pub(crate) struct AuthorizationHeader<'a> {
    pub(crate) credential: &'a str,
    pub(crate) signed_headers: &'a str,
    pub(crate) signature: &'a str,
}

/// Splits an `Authorization` header into its three components. Components are separated by
/// commas, with or without spaces, in any order; each must appear exactly once.
pub(crate) fn parse_authorization(value: &str) -> Result<AuthorizationHeader<'_>, Error> {
    let value = value.trim_matches([' ', '\t']);
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(Error::UnsupportedAlgorithm {
            algorithm: truncated(algorithm, 64),
        });
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    let rest = rest.trim_matches([' ', '\t']);
    if !rest.is_empty() {
        for component in rest.split(',') {
            let component = component.trim_matches([' ', '\t']);
            if component.is_empty() {
                return Err(Error::EmptyAuthorizationComponent);
            }
            let Some((name, value)) = component.split_once('=') else {
                return Err(Error::MalformedAuthorizationComponent {
                    component: truncated(component, 64),
                });
            };
            let (slot, name) = match name {
                "Credential" => (&mut credential, "Credential"),
                "SignedHeaders" => (&mut signed_headers, "SignedHeaders"),
                "Signature" => (&mut signature, "Signature"),
                other => {
                    return Err(Error::UnknownAuthorizationComponent {
                        name: truncated(other, 64),
                    });
                }
            };
            if slot.replace(value).is_some() {
                return Err(Error::DuplicateParameter { name });
            }
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(AuthorizationHeader {
            credential,
            signed_headers,
            signature,
        }),
        (credential, signed_headers, signature) => {
            let names = [
                (credential.is_none(), "Credential"),
                (signature.is_none(), "Signature"),
                (signed_headers.is_none(), "SignedHeaders"),
            ]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect();
            Err(Error::MissingParameters {
                location: SignatureLocation::Header,
                names,
            })
        }
    }
}

/// Query parameters of presigned-URL authentication.
pub(crate) const X_AMZ_ALGORITHM: &str = "X-Amz-Algorithm";
pub(crate) const X_AMZ_CREDENTIAL: &str = "X-Amz-Credential";
pub(crate) const X_AMZ_DATE: &str = "X-Amz-Date";
pub(crate) const X_AMZ_EXPIRES: &str = "X-Amz-Expires";
pub(crate) const X_AMZ_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
pub(crate) const X_AMZ_SIGNATURE: &str = "X-Amz-Signature";
pub(crate) const X_AMZ_SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// The `X-Amz-*` parameters of a presigned URL, percent-decoded.
#[derive(Debug, Default)]
pub(crate) struct QueryAuth {
    pub(crate) algorithm: Option<String>,
    pub(crate) credential: Option<String>,
    pub(crate) date: Option<String>,
    pub(crate) expires: Option<String>,
    pub(crate) signed_headers: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) security_token: bool,
}

/// Whether a query carries SigV4 authentication.
pub(crate) fn is_query_auth_parameter(key: &str) -> bool {
    matches!(key, X_AMZ_ALGORITHM | X_AMZ_CREDENTIAL | X_AMZ_SIGNATURE)
}

pub(crate) fn parse_query_auth<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<QueryAuth, Error> {
    let mut auth = QueryAuth::default();
    for (key, value) in pairs {
        let (slot, name) = match key {
            X_AMZ_ALGORITHM => (&mut auth.algorithm, X_AMZ_ALGORITHM),
            X_AMZ_CREDENTIAL => (&mut auth.credential, X_AMZ_CREDENTIAL),
            X_AMZ_DATE => (&mut auth.date, X_AMZ_DATE),
            X_AMZ_EXPIRES => (&mut auth.expires, X_AMZ_EXPIRES),
            X_AMZ_SIGNED_HEADERS => (&mut auth.signed_headers, X_AMZ_SIGNED_HEADERS),
            X_AMZ_SIGNATURE => (&mut auth.signature, X_AMZ_SIGNATURE),
            X_AMZ_SECURITY_TOKEN => {
                if std::mem::replace(&mut auth.security_token, true) {
                    return Err(Error::DuplicateParameter {
                        name: X_AMZ_SECURITY_TOKEN,
                    });
                }
                continue;
            }
            _ => continue,
        };
        let decoded = String::from_utf8_lossy(&canonical::percent_decode(value)).into_owned();
        if slot.replace(decoded).is_some() {
            return Err(Error::DuplicateParameter { name });
        }
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials() {
        assert_eq!(
            parse_credential("AKIDEXAMPLE/20261126/us-east-1/iot/aws4_request").unwrap(),
            Credential {
                access_key_id: "AKIDEXAMPLE",
                date: "20261126",
                region: "us-east-1",
                service: "iot",
            }
        );
        for bad in [
            "",
            "AKID",
            "AKID/20261126/us-east-1/iot",
            "AKID/20261126/us-east-1/iot/aws4_request/x",
            "/20261126/us-east-1/iot/aws4_request",
            "AK ID/20261126/us-east-1/iot/aws4_request",
            "AKID/2026-11-26/us-east-1/iot/aws4_request",
            "AKID/20261126//iot/aws4_request",
            "AKID/20261126/US-EAST-1/iot/aws4_request",
            "AKID/20261126/us-east-1//aws4_request",
            "AKID/20261126/us-east-1/iot/aws4_requesT",
        ] {
            assert!(
                matches!(
                    parse_credential(bad),
                    Err(Error::MalformedCredential { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_signed_headers() {
        let limits = Limits::default();
        assert_eq!(
            parse_signed_headers("host;x-amz-date", &limits).unwrap(),
            ["host", "x-amz-date"]
        );
        assert_eq!(parse_signed_headers("host", &limits).unwrap(), ["host"]);
        assert_eq!(
            parse_signed_headers("x-amz-date", &limits),
            Err(Error::HostNotSigned)
        );
        for bad in [
            "",
            ";",
            "host;",
            ";host",
            "Host",
            "x-amz-date;host",
            "host;host",
            "ho st",
        ] {
            assert!(
                matches!(
                    parse_signed_headers(bad, &limits),
                    Err(Error::MalformedSignedHeaders { .. })
                ),
                "{bad}"
            );
        }
        let many: Vec<String> = (0..=limits.max_signed_headers)
            .map(|i| format!("h{i:03}"))
            .collect();
        assert_eq!(
            parse_signed_headers(&many.join(";"), &limits),
            Err(Error::TooManySignedHeaders {
                limit: limits.max_signed_headers
            })
        );
    }
}
