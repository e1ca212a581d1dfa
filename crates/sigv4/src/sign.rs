//! Signing requests, for thingd's own CLI and tests, with the verifier's canonicalisation.

use std::time::{Duration, SystemTime};

use crate::auth;
use crate::canonical::{self, ALGORITHM, UNSIGNED_PAYLOAD};
use crate::error::Error;
use crate::time::Timestamp;
use crate::{Headers, Limits, RequestParts, Secret, crypto};

/// Who signs, for what, when, and how the payload is signed.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// Its secret key.
    pub secret: &'a Secret,
    /// The region of the credential scope.
    pub region: &'a str,
    /// The service (signing name) of the credential scope.
    pub service: &'a str,
    /// The request time.
    pub time: SystemTime,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body's hash.
    pub unsigned_payload: bool,
    /// Add (and sign) an `x-amz-content-sha256` header, as S3 clients do. Always added with
    /// `unsigned_payload` for header signing, so the verifier knows.
    pub content_sha256_header: bool,
}

/// Headers of the request, with the signer's own taking precedence.
struct WithAdded<'a> {
    request: &'a dyn Headers,
    added: &'a [(&'static str, String)],
}

impl Headers for WithAdded<'_> {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        match self.added.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => visit(value.as_bytes()),
            None => self.request.for_each_value(name, visit),
        }
    }
}

/// The sorted, lowercase, deduplicated signed header names; `host` must be among them.
fn signed_header_list(names: &[&str]) -> Result<String, Error> {
    let mut names: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    names.sort_unstable();
    names.dedup();
    let list = names.join(";");
    auth::parse_signed_headers(&list, &Limits::default())?;
    Ok(list)
}

/// Signs `request` with an `Authorization` header, signing the headers named in
/// `signed_headers` (which must include `host`; names in any case) plus those the signer adds.
///
/// Returns the headers to set on the request, replacing any of the same name: `x-amz-date`,
/// `x-amz-content-sha256` (when asked for, or with `UNSIGNED-PAYLOAD`) and `authorization`.
pub fn sign(
    request: &RequestParts<'_>,
    signed_headers: &[&str],
    params: &SigningParams<'_>,
) -> Result<Vec<(&'static str, String)>, Error> {
    let time = Timestamp::from_system_time(params.time);
    let payload_hash = if params.unsigned_payload {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        hex::encode(request.payload.sha256())
    };
    let mut added = vec![("x-amz-date", time.iso8601_basic())];
    if params.unsigned_payload || params.content_sha256_header {
        added.push(("x-amz-content-sha256", payload_hash.clone()));
    }
    let mut names = signed_headers.to_vec();
    names.extend(added.iter().map(|(n, _)| *n));
    let list = signed_header_list(&names)?;
    let headers = WithAdded {
        request: request.headers,
        added: &added,
    };
    let signature = signature(
        request,
        &canonical::canonical_query(canonical::query_pairs(request.query.unwrap_or(""))),
        &headers,
        &list,
        &payload_hash,
        time,
        params,
    )?;
    added.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={list}, Signature={signature}",
            params.access_key_id,
            canonical::scope(&time.date_stamp(), params.region, params.service),
        ),
    ));
    Ok(added)
}

/// Presigns `request`: returns its query string (without `?`) carrying the `X-Amz-*`
/// authentication parameters and the signature, the request's own parameters first, in
/// canonical order. `signed_headers` must include `host`.
///
/// `expires` (1 s to 7 days) becomes `X-Amz-Expires`; `None` leaves it out, as AWS IoT's
/// WebSocket signers do (the URL is then valid within the verifier's clock skew).
pub fn presign(
    request: &RequestParts<'_>,
    signed_headers: &[&str],
    params: &SigningParams<'_>,
    expires: Option<Duration>,
) -> Result<String, Error> {
    let time = Timestamp::from_system_time(params.time);
    let list = signed_header_list(signed_headers)?;
    let mut credential = String::new();
    canonical::uri_encode_into(
        &mut credential,
        format!(
            "{}/{}",
            params.access_key_id,
            canonical::scope(&time.date_stamp(), params.region, params.service)
        )
        .as_bytes(),
        false,
    );
    let mut encoded_list = String::new();
    canonical::uri_encode_into(&mut encoded_list, list.as_bytes(), false);
    let amz_date = time.iso8601_basic();
    let expires = expires
        .map(|e| {
            u32::try_from(e.as_secs())
                .ok()
                .filter(|s| (1..=604_800).contains(s))
                .map(|s| s.to_string())
                .ok_or_else(|| Error::MalformedExpires {
                    value: e.as_secs().to_string(),
                })
        })
        .transpose()?;
    let mut auth_params = vec![
        (auth::X_AMZ_ALGORITHM, ALGORITHM),
        (auth::X_AMZ_CREDENTIAL, credential.as_str()),
        (auth::X_AMZ_DATE, amz_date.as_str()),
        (auth::X_AMZ_SIGNED_HEADERS, encoded_list.as_str()),
    ];
    if let Some(expires) = &expires {
        auth_params.push((auth::X_AMZ_EXPIRES, expires.as_str()));
    }
    let query = canonical::canonical_query(
        canonical::query_pairs(request.query.unwrap_or("")).chain(auth_params),
    );
    let payload_hash = if params.unsigned_payload {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        hex::encode(request.payload.sha256())
    };
    let signature = signature(
        request,
        &query,
        request.headers,
        &list,
        &payload_hash,
        time,
        params,
    )?;
    Ok(format!("{query}&{}={signature}", auth::X_AMZ_SIGNATURE))
}

fn signature(
    request: &RequestParts<'_>,
    canonical_query: &str,
    headers: &dyn Headers,
    signed_headers: &str,
    payload_hash: &str,
    time: Timestamp,
    params: &SigningParams<'_>,
) -> Result<String, Error> {
    let names: Vec<&str> = signed_headers.split(';').collect();
    let canonical_headers = canonical::canonical_headers(headers, &names, &Limits::default())?;
    let canonical_request = canonical::canonical_request(
        request.method,
        &canonical::canonical_uri(request.path),
        canonical_query,
        &canonical_headers,
        signed_headers,
        payload_hash,
    );
    let date = time.date_stamp();
    let scope = canonical::scope(&date, params.region, params.service);
    let string_to_sign =
        canonical::string_to_sign(&time.iso8601_basic(), &scope, &canonical_request);
    let key = crypto::signing_key(params.secret, &date, params.region, params.service);
    Ok(hex::encode(crypto::signature(&key, &string_to_sign)))
}
