//! The canonical request and the string to sign, shared by the verifier and the signer.
//!
//! Everything here works on the request *as received*: the path and query still
//! percent-encoded, header values as bytes.
//!
//! **Canonical URI (non-S3 services).** Clients percent-encode each path label once to build the
//! URL they send (botocore `percent_encode`, the Rust SDK `aws_smithy_http::label::fmt_string`),
//! then URI-encode that already-encoded path *again* when signing (botocore
//! `quote(path, safe='/~')`, aws-sigv4 `PercentEncodingMode::Double`). So the server, which sees
//! the once-encoded path, encodes it one more time: `/things/my%3Athing` (thing `my:thing`) is
//! signed as `/things/my%253Athing`; `/topics/a%2Fb` (topic `a/b`, a non-greedy label) as
//! `/topics/a%252Fb`. Before encoding, both clients normalize the path: empty → `/`, empty
//! segments (`//`) and `.` removed, `..` pops a segment, a trailing `/` kept. Percent-escapes are
//! never decoded, so `%2E` is not a dot segment and `%2F` is not a separator.
//!
//! **Canonical query.** Each `key=value` pair is percent-decoded (`%XX` only: `+` is a literal
//! plus, not a space) and re-encoded with the RFC 3986 unreserved set, then the pairs are sorted
//! by encoded key, then encoded value. For the strictly encoded queries SDKs send, decoding and
//! re-encoding gives the query back unchanged (botocore signs the query string as sent).
//!
//! **Canonical headers.** Lowercase names, sorted, only the signed ones; each value trimmed,
//! inner whitespace runs collapsed to one space; repeated headers joined with `,` in the order
//! received.

use sha2::{Digest, Sha256};

use crate::{Error, Headers, Limits};

/// The only algorithm supported: `AWS4-HMAC-SHA256` (SigV4A's ECDSA is not).
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of a request whose body is not signed.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// RFC 3986 §2.3 unreserved characters, never percent-encoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `bytes` URI-encoded the SigV4 way: unreserved characters as they are, every other
/// byte as `%XY` with uppercase hex; `/` kept when `keep_slash`.
pub(crate) fn uri_encode_into(out: &mut String, bytes: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

/// Decodes `%XY` escapes (either case). A `%` not followed by two hex digits stays a literal
/// `%`; `+` stays `+`.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Removes empty and `.` segments, resolves `..`, keeps a trailing slash, and makes the path
/// absolute, as botocore's `normalize_url_path` and aws-sigv4's `normalize_uri_path` do.
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw (still percent-encoded) request path, for non-S3 services:
/// normalized, then every byte but unreserved characters and `/` encoded once more.
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    let normalized = normalize_path(raw_path);
    let mut out = String::with_capacity(normalized.len() + 16);
    uri_encode_into(&mut out, normalized.as_bytes(), true);
    out
}

/// Splits a raw query string into raw `(key, value)` pairs; empty pieces (`a=1&&b=2`) are
/// skipped, a piece without `=` has an empty value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

/// The canonical query string of raw `(key, value)` pairs.
pub(crate) fn canonical_query<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .map(|(k, v)| {
            let mut key = String::with_capacity(k.len());
            uri_encode_into(&mut key, &percent_decode(k), false);
            let mut value = String::with_capacity(v.len());
            uri_encode_into(&mut value, &percent_decode(v), false);
            (key, value)
        })
        .collect();
    encoded.sort_unstable();
    let mut out = String::with_capacity(encoded.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Appends one header value trimmed, with each run of whitespace inside collapsed to a space
/// (botocore's `' '.join(value.split())` over ASCII whitespace; HTTP allows only SP and HTAB).
pub(crate) fn push_trimmed_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C) {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

/// Whether `name` is a valid lowercase HTTP field name (an RFC 9110 token without uppercase).
pub(crate) fn is_lowercase_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// The canonical header lines (`name:value\n`) of the signed headers `names` (lowercase,
/// sorted). A signed header the request lacks has an empty value, as AWS treats it; `host` must
/// be present and non-empty.
pub(crate) fn canonical_headers(
    headers: &dyn Headers,
    names: &[&str],
    limits: &Limits,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut budget = limits.max_signed_header_bytes;
    for &name in names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let (mut count, mut over, mut empty) = (0usize, false, true);
        headers.for_each_value(name, &mut |value| {
            if over || value.len() > budget {
                over = true;
                return;
            }
            budget -= value.len();
            if count > 0 {
                out.push(b',');
            }
            count += 1;
            let before = out.len();
            push_trimmed_value(&mut out, value);
            empty &= out.len() == before;
        });
        if over {
            return Err(Error::TooLong {
                what: "signed header values",
                limit: limits.max_signed_header_bytes,
            });
        }
        if name == "host" && empty {
            return Err(Error::MissingHost);
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// The canonical request: method, URI, query, then the headers already canonicalised by the
/// caller (`name:value\n` lines), a blank line, the signed header list and the payload hash.
pub(crate) fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &[u8],
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        method.len()
            + canonical_uri.len()
            + canonical_query.len()
            + canonical_headers.len()
            + signed_headers.len()
            + payload_hash.len()
            + 5,
    );
    for part in [method, canonical_uri, canonical_query] {
        out.extend_from_slice(part.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(canonical_headers);
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// The credential scope `date/region/service/aws4_request`.
pub(crate) fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign: algorithm, timestamp, scope and the hex SHA-256 of the canonical request.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uri_double_encodes_the_raw_path() {
        for (raw, canonical) in [
            ("", "/"),
            ("/", "/"),
            ("/things/my-thing", "/things/my-thing"),
            ("/things/my%3Athing", "/things/my%253Athing"),
            ("/topics/a%2Fb", "/topics/a%252Fb"),
            ("/things/a%20b", "/things/a%2520b"),
            ("/things/a%2Bb", "/things/a%252Bb"),
            ("/things/a+b", "/things/a%2Bb"),
            ("/things/%C3%A9", "/things/%25C3%25A9"),
            ("/things/é", "/things/%C3%A9"),
            ("/things/a:b", "/things/a%3Ab"),
            ("/-._~", "/-._~"),
            ("/a//b", "/a/b"),
            ("//", "/"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../../a", "/a"),
            ("/a/b/", "/a/b/"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/%2E%2E/b", "/a/%252E%252E/b"),
            ("relative", "/relative"),
        ] {
            assert_eq!(canonical_uri(raw), canonical, "{raw:?}");
        }
    }

    #[test]
    fn canonical_query_sorts_and_re_encodes() {
        let q = |s: &str| canonical_query(query_pairs(s));
        assert_eq!(q(""), "");
        assert_eq!(q("b=2&a=1"), "a=1&b=2");
        assert_eq!(q("a=2&a=1&a=10"), "a=1&a=10&a=2");
        assert_eq!(q("flag&x="), "flag=&x=");
        assert_eq!(q("a=1&&b=2&"), "a=1&b=2");
        assert_eq!(q("v=a+b"), "v=a%2Bb");
        assert_eq!(q("v=a%20b"), "v=a%20b");
        assert_eq!(q("v=a%2fb"), "v=a%2Fb");
        assert_eq!(q("v=%zz%4"), "v=%25zz%254");
        assert_eq!(q("v=a=b"), "v=a%3Db");
        assert_eq!(q("%E1%88%B4=1&Z=2&a=3"), "%E1%88%B4=1&Z=2&a=3");
        // Sorted by the encoded key: `%7B` ('{') sorts before `a`.
        assert_eq!(q("a=1&%7B=2"), "%7B=2&a=1");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        for (raw, canonical) in [
            ("value", "value"),
            ("  a   b  ", "a b"),
            ("a\t\tb", "a b"),
            ("value1\r\n  value2\r\n     value3", "value1 value2 value3"),
            ("   ", ""),
            ("", ""),
        ] {
            let mut out = Vec::new();
            push_trimmed_value(&mut out, raw.as_bytes());
            assert_eq!(out, canonical.as_bytes(), "{raw:?}");
        }
    }

    #[test]
    fn percent_decoding_is_strict_about_escapes_only() {
        assert_eq!(percent_decode("a%3Ab%3ac+d%"), b"a:b:c+d%");
        assert_eq!(percent_decode("%F0%9F%98%80"), "😀".as_bytes());
        assert_eq!(percent_decode("%%41"), b"%A");
    }
}
