//! The verifier: parse, check scope and time, rebuild the canonical request, compare.

use std::fmt;
use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;

use crate::auth::{self, Credential};
use crate::canonical::{self, ALGORITHM, UNSIGNED_PAYLOAD};
use crate::error::{Error, truncated};
use crate::time::Timestamp;
use crate::{Headers, Limits, RequestParts, Secret, SecretStore, SignatureLocation, crypto};

/// The longest `X-Amz-Expires` of a presigned URL: 7 days, as AWS.
const MAX_EXPIRES_SECONDS: u32 = 604_800;

/// Checks SigV4 signatures for one deployment: the services it serves and its region.
#[derive(Debug, Clone)]
pub struct Verifier {
    services: Vec<String>,
    region: Option<String>,
    max_clock_skew: Duration,
    unsigned_payload: bool,
    presigned_urls: bool,
    limits: Limits,
}

impl Verifier {
    /// A verifier for requests to `services` (the signing names: `iot` for the control plane;
    /// `iotdata` and `iotdevicegateway` for the data plane) in `region`.
    ///
    /// Defaults: 15 minutes of clock skew, `UNSIGNED-PAYLOAD` and presigned URLs accepted,
    /// [`Limits::default`].
    pub fn new<S: Into<String>>(
        region: impl Into<String>,
        services: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            services: services.into_iter().map(Into::into).collect(),
            region: Some(region.into()),
            max_clock_skew: Duration::from_secs(15 * 60),
            unsigned_payload: true,
            presigned_urls: true,
            limits: Limits::default(),
        }
    }

    /// Accepts credentials scoped to any region (the signature still covers the region).
    #[must_use]
    pub fn any_region(mut self) -> Self {
        self.region = None;
        self
    }

    /// How far the request time may be from the server's (15 minutes by default, as AWS).
    #[must_use]
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// Whether `x-amz-content-sha256: UNSIGNED-PAYLOAD` is accepted (by default, yes). Such a
    /// request's body is not covered by its signature.
    #[must_use]
    pub fn unsigned_payload(mut self, accept: bool) -> Self {
        self.unsigned_payload = accept;
        self
    }

    /// Whether query-string authentication (presigned URLs) is accepted (by default, yes).
    #[must_use]
    pub fn presigned_urls(mut self, accept: bool) -> Self {
        self.presigned_urls = accept;
        self
    }

    /// Bounds on the input read.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Verifies `request` at time `now`, looking the secret key up in `store`.
    pub fn verify<S: SecretStore + ?Sized>(
        &self,
        request: &RequestParts<'_>,
        now: SystemTime,
        store: &S,
    ) -> Result<Verified, Error> {
        let prepared = self.prepare(request, now)?;
        let secret = store.secret_for(prepared.access_key_id());
        prepared.verify(secret.as_ref())
    }

    /// Does every check that needs no secret key (syntax, scope, time, body hash) and builds
    /// what is to be signed. Finish with [`PreparedRequest::verify`] once the secret of
    /// [`PreparedRequest::access_key_id`] is known.
    pub fn prepare(
        &self,
        request: &RequestParts<'_>,
        now: SystemTime,
    ) -> Result<PreparedRequest, Error> {
        let limits = &self.limits;
        if request.path.len() > limits.max_path_len {
            return Err(Error::TooLong {
                what: "path",
                limit: limits.max_path_len,
            });
        }
        let query = request.query.unwrap_or("");
        if query.len() > limits.max_query_len {
            return Err(Error::TooLong {
                what: "query string",
                limit: limits.max_query_len,
            });
        }
        let mut pairs = Vec::new();
        for pair in canonical::query_pairs(query) {
            if pairs.len() == limits.max_query_params {
                return Err(Error::TooManyQueryParameters {
                    limit: limits.max_query_params,
                });
            }
            pairs.push(pair);
        }
        let authorization = single_header(
            request.headers,
            "authorization",
            "Authorization header",
            limits.max_authorization_len,
        )?;
        let query_auth = pairs.iter().any(|(k, _)| auth::is_query_auth_parameter(k));
        let now = Timestamp::from_system_time(now);
        match (authorization, query_auth) {
            (Some(_), true) => Err(Error::AmbiguousAuthentication),
            (Some(authorization), false) => {
                self.prepare_header(request, &pairs, &authorization, now)
            }
            (None, true) if !self.presigned_urls => Err(Error::PresignedNotAccepted),
            (None, true) => self.prepare_query(request, &pairs, now),
            (None, false) => Err(Error::MissingAuthentication),
        }
    }

    fn prepare_header(
        &self,
        request: &RequestParts<'_>,
        pairs: &[(&str, &str)],
        authorization: &str,
        now: Timestamp,
    ) -> Result<PreparedRequest, Error> {
        let parsed = auth::parse_authorization(authorization)?;
        let credential = auth::parse_credential(parsed.credential)?;
        let signed_headers = auth::parse_signed_headers(parsed.signed_headers, &self.limits)?;
        let signature = auth::parse_signature(parsed.signature)?;
        reject_session_token_header(request.headers)?;
        self.check_scope(&credential)?;

        let signed_at = match single_header(request.headers, "x-amz-date", "X-Amz-Date header", 64)?
        {
            Some(value) => {
                Timestamp::parse_iso8601_basic(&value).ok_or_else(|| Error::MalformedDate {
                    value: truncated(&value, 64),
                })?
            }
            None => match single_header(request.headers, "date", "Date header", 64)? {
                Some(value) => Timestamp::parse_http_date(&value)
                    .or_else(|| Timestamp::parse_iso8601_basic(&value))
                    .ok_or_else(|| Error::MalformedDate {
                        value: truncated(&value, 64),
                    })?,
                None => return Err(Error::MissingDate),
            },
        };
        check_scope_date(&credential, signed_at)?;
        self.check_skew(signed_at, now)?;

        let payloads = self.payload_hashes(request, false)?;
        let template = Template {
            method: request.method,
            uri: canonical::canonical_uri(request.path),
            canonical_headers: canonical::canonical_headers(
                request.headers,
                &signed_headers,
                &self.limits,
            )?,
            signed_headers: parsed.signed_headers,
            amz_date: signed_at.iso8601_basic(),
            scope: canonical::scope(credential.date, credential.region, credential.service),
        };
        let query = canonical::canonical_query(pairs.iter().copied());
        let candidates = payloads
            .iter()
            .map(|(hash, unsigned)| template.candidate(&query, hash, false, *unsigned))
            .collect();
        Ok(PreparedRequest::new(
            &credential,
            signature,
            SignatureLocation::Header,
            signed_at,
            None,
            false,
            candidates,
        ))
    }

    fn prepare_query(
        &self,
        request: &RequestParts<'_>,
        pairs: &[(&str, &str)],
        now: Timestamp,
    ) -> Result<PreparedRequest, Error> {
        let query_auth = auth::parse_query_auth(pairs.iter().copied())?;
        let (Some(algorithm), Some(credential), Some(date), Some(signed_headers), Some(signature)) = (
            &query_auth.algorithm,
            &query_auth.credential,
            &query_auth.date,
            &query_auth.signed_headers,
            &query_auth.signature,
        ) else {
            let names = [
                (query_auth.algorithm.is_none(), auth::X_AMZ_ALGORITHM),
                (query_auth.credential.is_none(), auth::X_AMZ_CREDENTIAL),
                (query_auth.signature.is_none(), auth::X_AMZ_SIGNATURE),
                (query_auth.date.is_none(), auth::X_AMZ_DATE),
                (
                    query_auth.signed_headers.is_none(),
                    auth::X_AMZ_SIGNED_HEADERS,
                ),
            ]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect();
            return Err(Error::MissingParameters {
                location: SignatureLocation::Query,
                names,
            });
        };
        if algorithm != ALGORITHM {
            return Err(Error::UnsupportedAlgorithm {
                algorithm: truncated(algorithm, 64),
            });
        }
        let credential = auth::parse_credential(credential)?;
        let signed_header_names = auth::parse_signed_headers(signed_headers, &self.limits)?;
        let signature = auth::parse_signature(signature)?;
        reject_session_token_header(request.headers)?;
        self.check_scope(&credential)?;

        let signed_at =
            Timestamp::parse_iso8601_basic(date).ok_or_else(|| Error::MalformedDate {
                value: truncated(date, 64),
            })?;
        check_scope_date(&credential, signed_at)?;
        let expires = match &query_auth.expires {
            None => None,
            Some(value) => Some(
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|s| {
                        (1..=MAX_EXPIRES_SECONDS).contains(s)
                            && value.bytes().all(|b| b.is_ascii_digit())
                    })
                    .ok_or_else(|| Error::MalformedExpires {
                        value: truncated(value, 64),
                    })?,
            ),
        };
        let expires_at = match expires {
            // AWS IoT's WebSocket signers send no X-Amz-Expires: such a URL is valid, like a
            // signed header, within the clock skew of its X-Amz-Date.
            None => {
                self.check_skew(signed_at, now)?;
                None
            }
            Some(seconds) => {
                if signed_at > now.offset(self.skew_seconds()) {
                    return Err(self.not_yet_current(signed_at, now));
                }
                let expires_at = signed_at.offset(i64::from(seconds));
                if now > expires_at {
                    return Err(Error::PresignedUrlExpired {
                        request_time: signed_at.iso8601_basic(),
                        expires_seconds: seconds,
                        expired_at: expires_at.iso8601_basic(),
                        now: now.iso8601_basic(),
                    });
                }
                Some(expires_at)
            }
        };

        let payloads = self.payload_hashes(request, true)?;
        let template = Template {
            method: request.method,
            uri: canonical::canonical_uri(request.path),
            canonical_headers: canonical::canonical_headers(
                request.headers,
                &signed_header_names,
                &self.limits,
            )?,
            signed_headers,
            amz_date: signed_at.iso8601_basic(),
            scope: canonical::scope(credential.date, credential.region, credential.service),
        };
        // X-Amz-Signature is never part of the canonical query. X-Amz-Security-Token is, per
        // SigV4, when the client signed it; but AWS IoT's WebSocket signers add it *after*
        // signing (the browser SDK's `prepareWebSocketUrl` appends it after X-Amz-Signature;
        // the CRT's `omit_session_token` puts it anywhere in the query). A URL does not say
        // which, so both are tried, the unsigned form first. A token the signature does not
        // cover grants nothing and is ignored; a signed one is refused, since thingd issues no
        // session tokens.
        let mut queries =
            vec![(
                canonical::canonical_query(pairs.iter().copied().filter(|(k, _)| {
                    *k != auth::X_AMZ_SIGNATURE && *k != auth::X_AMZ_SECURITY_TOKEN
                })),
                false,
            )];
        if query_auth.security_token {
            queries.push((
                canonical::canonical_query(
                    pairs
                        .iter()
                        .copied()
                        .filter(|(k, _)| *k != auth::X_AMZ_SIGNATURE),
                ),
                true,
            ));
        }
        let mut candidates = Vec::with_capacity(queries.len() * payloads.len());
        for (query, token_signed) in &queries {
            for (payload_hash, unsigned_payload) in &payloads {
                candidates.push(template.candidate(
                    query,
                    payload_hash,
                    *token_signed,
                    *unsigned_payload,
                ));
            }
        }
        Ok(PreparedRequest::new(
            &credential,
            signature,
            SignatureLocation::Query,
            signed_at,
            expires_at,
            query_auth.security_token,
            candidates,
        ))
    }

    /// The payload hashes to try, each with whether it is `UNSIGNED-PAYLOAD`.
    ///
    /// With `x-amz-content-sha256`, its value (after checking it against the body); without,
    /// the body's hash, and for a presigned URL also `UNSIGNED-PAYLOAD` (what S3-style presigners
    /// sign) if accepted.
    fn payload_hashes(
        &self,
        request: &RequestParts<'_>,
        presigned: bool,
    ) -> Result<Vec<(String, bool)>, Error> {
        let declared = single_header(
            request.headers,
            "x-amz-content-sha256",
            "x-amz-content-sha256 header",
            256,
        )?;
        let Some(declared) = declared else {
            let mut hashes = vec![(hex::encode(request.payload.sha256()), false)];
            if presigned && self.unsigned_payload {
                hashes.push((UNSIGNED_PAYLOAD.to_owned(), true));
            }
            return Ok(hashes);
        };
        if declared == UNSIGNED_PAYLOAD {
            if !self.unsigned_payload {
                return Err(Error::UnsignedPayloadNotAccepted);
            }
            return Ok(vec![(declared, true)]);
        }
        if declared.starts_with("STREAMING-") {
            return Err(Error::UnsupportedPayloadMode {
                value: truncated(&declared, 64),
            });
        }
        let mut digest = [0u8; 32];
        if declared.len() != 64 || hex::decode_to_slice(&declared, &mut digest).is_err() {
            return Err(Error::MalformedContentSha256 {
                value: truncated(&declared, 64),
            });
        }
        if digest != request.payload.sha256() {
            return Err(Error::ContentSha256Mismatch);
        }
        Ok(vec![(declared, false)])
    }

    fn check_scope(&self, credential: &Credential<'_>) -> Result<(), Error> {
        if !self.services.iter().any(|s| s == credential.service) {
            return Err(Error::WrongService {
                service: credential.service.to_owned(),
                expected: self.services.clone(),
            });
        }
        if let Some(region) = &self.region
            && region != credential.region
        {
            return Err(Error::WrongRegion {
                region: credential.region.to_owned(),
                expected: region.clone(),
            });
        }
        Ok(())
    }

    fn skew_seconds(&self) -> i64 {
        i64::try_from(self.max_clock_skew.as_secs()).unwrap_or(i64::MAX)
    }

    fn check_skew(&self, signed_at: Timestamp, now: Timestamp) -> Result<(), Error> {
        let skew = self.skew_seconds();
        if signed_at < now.offset(-skew) {
            return Err(Error::SignatureExpired {
                request_time: signed_at.iso8601_basic(),
                now: now.iso8601_basic(),
                skew_minutes: self.max_clock_skew.as_secs() / 60,
            });
        }
        if signed_at > now.offset(skew) {
            return Err(self.not_yet_current(signed_at, now));
        }
        Ok(())
    }

    fn not_yet_current(&self, signed_at: Timestamp, now: Timestamp) -> Error {
        Error::SignatureNotYetCurrent {
            request_time: signed_at.iso8601_basic(),
            now: now.iso8601_basic(),
            skew_minutes: self.max_clock_skew.as_secs() / 60,
        }
    }
}

fn check_scope_date(credential: &Credential<'_>, signed_at: Timestamp) -> Result<(), Error> {
    if credential.date != signed_at.date_stamp() {
        return Err(Error::ScopeDateMismatch {
            scope_date: credential.date.to_owned(),
            request_time: signed_at.iso8601_basic(),
        });
    }
    Ok(())
}

/// Session tokens are not supported: a request carrying one in a header is refused whether or
/// not the token is signed (only the unsigned query-string token of AWS IoT's WebSocket signers
/// is tolerated).
fn reject_session_token_header(headers: &dyn Headers) -> Result<(), Error> {
    let mut present = false;
    headers.for_each_value("x-amz-security-token", &mut |_| present = true);
    if present {
        return Err(Error::SessionTokenNotSupported);
    }
    Ok(())
}

/// The value of a header that must appear at most once, as ASCII text of at most `max_len`
/// bytes.
fn single_header(
    headers: &dyn Headers,
    name: &'static str,
    what: &'static str,
    max_len: usize,
) -> Result<Option<String>, Error> {
    let (mut count, mut too_long, mut value) = (0usize, false, None);
    headers.for_each_value(name, &mut |v| {
        count += 1;
        if count == 1 {
            if v.len() > max_len {
                too_long = true;
            } else {
                value = Some(v.to_vec());
            }
        }
    });
    if count > 1 {
        return Err(Error::DuplicateHeader { name });
    }
    if too_long {
        return Err(Error::TooLong {
            what,
            limit: max_len,
        });
    }
    value
        .map(|v| {
            if v.is_ascii() {
                String::from_utf8(v).map_err(|_| Error::NonAsciiHeader { name })
            } else {
                Err(Error::NonAsciiHeader { name })
            }
        })
        .transpose()
}

/// One way the client may have signed the request.
struct Candidate {
    canonical_request: Vec<u8>,
    string_to_sign: String,
    session_token_signed: bool,
    unsigned_payload: bool,
}

/// What is common to the candidates of one request.
struct Template<'a> {
    method: &'a str,
    uri: String,
    canonical_headers: Vec<u8>,
    signed_headers: &'a str,
    amz_date: String,
    scope: String,
}

impl Template<'_> {
    fn candidate(
        &self,
        query: &str,
        payload_hash: &str,
        session_token_signed: bool,
        unsigned_payload: bool,
    ) -> Candidate {
        let canonical_request = canonical::canonical_request(
            self.method,
            &self.uri,
            query,
            &self.canonical_headers,
            self.signed_headers,
            payload_hash,
        );
        let string_to_sign =
            canonical::string_to_sign(&self.amz_date, &self.scope, &canonical_request);
        Candidate {
            canonical_request,
            string_to_sign,
            session_token_signed,
            unsigned_payload,
        }
    }
}

/// A request whose signature passed every check but the signature itself, which needs the
/// secret key of [`access_key_id`](Self::access_key_id).
pub struct PreparedRequest {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signature: [u8; 32],
    location: SignatureLocation,
    signed_at: Timestamp,
    expires_at: Option<Timestamp>,
    session_token: bool,
    candidates: Vec<Candidate>,
}

impl PreparedRequest {
    fn new(
        credential: &Credential<'_>,
        signature: [u8; 32],
        location: SignatureLocation,
        signed_at: Timestamp,
        expires_at: Option<Timestamp>,
        session_token: bool,
        candidates: Vec<Candidate>,
    ) -> Self {
        Self {
            access_key_id: credential.access_key_id.to_owned(),
            date: credential.date.to_owned(),
            region: credential.region.to_owned(),
            service: credential.service.to_owned(),
            signature,
            location,
            signed_at,
            expires_at,
            session_token,
            candidates,
        }
    }

    /// The access key id the request claims to be signed with.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The region of the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service of the credential scope.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Where the request carries its signature.
    pub fn location(&self) -> SignatureLocation {
        self.location
    }

    /// Checks the signature with the secret key of [`access_key_id`](Self::access_key_id);
    /// `None` when the access key is unknown. The comparison takes constant time.
    pub fn verify(&self, secret: Option<&Secret>) -> Result<Verified, Error> {
        let Some(secret) = secret else {
            return Err(Error::UnknownAccessKey {
                access_key_id: self.access_key_id.clone(),
            });
        };
        let key = crypto::signing_key(secret, &self.date, &self.region, &self.service);
        for candidate in &self.candidates {
            let computed = crypto::signature(&key, &candidate.string_to_sign);
            if bool::from(computed[..].ct_eq(&self.signature[..])) {
                if candidate.session_token_signed {
                    return Err(Error::SessionTokenNotSupported);
                }
                return Ok(Verified {
                    access_key_id: self.access_key_id.clone(),
                    region: self.region.clone(),
                    service: self.service.clone(),
                    location: self.location,
                    signed_at: self.signed_at.to_system_time(),
                    expires_at: self.expires_at.map(Timestamp::to_system_time),
                    unsigned_payload: candidate.unsigned_payload,
                    unsigned_session_token: self.session_token,
                });
            }
        }
        let first = self.candidates.first();
        Err(Error::SignatureMismatch {
            canonical_request: first
                .map(|c| String::from_utf8_lossy(&c.canonical_request).into_owned())
                .unwrap_or_default(),
            string_to_sign: first.map(|c| c.string_to_sign.clone()).unwrap_or_default(),
        })
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("location", &self.location)
            .field("signed_at", &self.signed_at.iso8601_basic())
            .field("candidates", &self.candidates.len())
            .finish_non_exhaustive()
    }
}

/// A request whose signature is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The access key that signed the request.
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The service of the credential scope (one of the verifier's).
    pub service: String,
    /// Where the signature was.
    pub location: SignatureLocation,
    /// The request time (`X-Amz-Date` or `Date`).
    pub signed_at: SystemTime,
    /// When a presigned URL with `X-Amz-Expires` stops being valid.
    pub expires_at: Option<SystemTime>,
    /// The body is not covered by the signature (`UNSIGNED-PAYLOAD`).
    pub unsigned_payload: bool,
    /// The presigned URL carries an `X-Amz-Security-Token` that the signature does not cover
    /// (AWS IoT's WebSocket signers append the token of temporary credentials after signing).
    /// It authenticates nothing and must not be used.
    pub unsigned_session_token: bool,
}
