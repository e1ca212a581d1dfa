//! Device certificates (AWS IoT §3): CreateKeysAndCertificate, CreateCertificateFromCsr,
//! RegisterCertificate, RegisterCertificateWithoutCA, DescribeCertificate, ListCertificates,
//! ListCertificatesByCA, UpdateCertificate and DeleteCertificate; and the X.509 and paging helpers
//! the CA-certificate family shares.
//!
//! Certificates thingd's own CA issues (CreateKeysAndCertificate, CreateCertificateFromCsr) have
//! no `caCertificateId`, like the certificates Amazon's CA issues in AWS IoT. A certificate
//! registered with RegisterCertificate must be signed by a registered, ACTIVE CA certificate (its
//! `caCertificateId`) or by thingd's CA; RegisterCertificateWithoutCA takes any certificate.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use thingd_pki::PkiError;
use thingd_registry::{
    ArnKind, CERTIFICATE_ID, CaCertificate, CaStatus, Certificate, CertificateStatus, Constraint,
    Inserted, Page, PageRequest, Timestamp,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery, missing, not_in_enum, page_size, parse_bool};
use crate::paging::all_items;
use crate::records::certificate_record;
use crate::state::{ApiState, AuthorizationChange};
use crate::versioned::update_versioned;

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/keys-and-certificate", post(create_keys_and_certificate))
        .route(
            "/certificates",
            get(list_certificates).post(create_certificate_from_csr),
        )
        .route("/certificate/register", post(register_certificate))
        .route(
            "/certificate/register-no-ca",
            post(register_certificate_without_ca),
        )
        .route(
            "/certificates/{certificateId}",
            get(describe_certificate)
                .put(update_certificate)
                .delete(delete_certificate),
        )
        .route(
            "/certificates-by-ca/{caCertificateId}",
            get(list_certificates_by_ca),
        )
}

/// The subject common name of the certificates CreateKeysAndCertificate issues: AWS IoT's, so
/// that policies and tools expecting it keep working.
pub(crate) const ISSUED_COMMON_NAME: &str = "AWS IoT Certificate";

/// `certificatePem`, `caCertificatePem`, `caCertificate`, `verificationCertificate`.
pub(crate) const CERTIFICATE_PEM: Constraint = Constraint {
    field: "certificatePem",
    min: 1,
    max: 65536,
    allowed: |_| true,
    pattern: "[\\s\\S]*",
};

/// `certificateSigningRequest`.
const CERTIFICATE_SIGNING_REQUEST: Constraint = Constraint {
    field: "certificateSigningRequest",
    min: 1,
    max: 4096,
    allowed: |_| true,
    pattern: "[\\s\\S]*",
};

/// `marker` of the certificate lists (`nextMarker` is what this API hands out).
const MARKER: Constraint = Constraint {
    field: "marker",
    min: 1,
    max: 1024,
    allowed: |c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='),
    pattern: "[A-Za-z0-9+/]+={0,2}",
};

/// The default page size of ListCertificates, ListCertificatesByCA and ListCACertificates.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 25;
/// The largest page size they accept.
pub(crate) const MAX_PAGE_SIZE: usize = 250;

const CERTIFICATE_STATUSES: &str =
    "[ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION]";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetAsActiveQuery {
    set_as_active: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateCertificateFromCsrRequest {
    certificate_signing_request: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCertificateRequest {
    certificate_pem: Option<String>,
    ca_certificate_pem: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCertificateWithoutCaRequest {
    certificate_pem: Option<String>,
    status: Option<String>,
}

/// `pageSize`, `marker` and `isAscendingOrder` of the certificate lists.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    pub(crate) page_size: Option<String>,
    pub(crate) marker: Option<String>,
    pub(crate) is_ascending_order: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCertificateQuery {
    new_status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteCertificateQuery {
    force_delete: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Helpers shared with the CA-certificate family.

/// A certificate id from a path label: 64 hex digits, compared in lowercase (as ids are made).
pub(crate) fn certificate_id_label(field: &str, id: &str) -> Result<String, ApiError> {
    CERTIFICATE_ID.check_as(field, id)?;
    Ok(id.to_ascii_lowercase())
}

/// The DER of the first PEM `CERTIFICATE` block of `pem`, which must parse as X.509.
pub(crate) fn certificate_der(field: &str, pem: &str) -> Result<Vec<u8>, ApiError> {
    let invalid = |problem: String| {
        ApiError::certificate_validation(format!(
            "The certificate in {field} is not valid: {problem}"
        ))
    };
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| {
        invalid(match e {
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                format!("it is not PEM ({e})")
            }
            x509_parser::nom::Err::Incomplete(_) => "the PEM text is truncated".into(),
        })
    })?;
    if block.label != "CERTIFICATE" {
        return Err(invalid(format!(
            "it holds a {:?} PEM block, not a CERTIFICATE",
            block.label
        )));
    }
    parse_certificate(field, &block.contents)?;
    Ok(block.contents)
}

/// Parses one DER certificate (no trailing bytes).
pub(crate) fn parse_certificate<'a>(
    field: &str,
    der: &'a [u8],
) -> Result<X509Certificate<'a>, ApiError> {
    match X509Certificate::from_der(der) {
        Ok(([], certificate)) => Ok(certificate),
        Ok(_) => Err(ApiError::certificate_validation(format!(
            "The certificate in {field} is not valid: trailing bytes after the certificate"
        ))),
        Err(e) => Err(ApiError::certificate_validation(format!(
            "The certificate in {field} is not valid: it cannot be parsed as X.509 ({e})"
        ))),
    }
}

/// Whether `issuer` signed `certificate`: the issuer name is the issuer's subject and the
/// signature verifies with the issuer's key.
pub(crate) fn is_signed_by(
    certificate: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> bool {
    certificate.issuer().as_raw() == issuer.subject().as_raw()
        && certificate
            .verify_signature(Some(issuer.public_key()))
            .is_ok()
}

/// The DER of a PEM the registry holds (it was validated when it was stored).
pub(crate) fn stored_der(pem: &str) -> Result<Vec<u8>, ApiError> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map(|(_, block)| block.contents)
        .map_err(|e| ApiError::internal(&format!("a stored certificate does not decode: {e}")))
}

/// A page request from `pageSize`, `marker` and `isAscendingOrder`. Without `isAscendingOrder`
/// the newest come first, as in AWS IoT.
pub(crate) fn list_page(query: &ListQuery) -> Result<PageRequest, ApiError> {
    let limit = page_size(
        "pageSize",
        query.page_size.as_deref(),
        MAX_PAGE_SIZE,
        DEFAULT_PAGE_SIZE,
    )?;
    let ascending =
        parse_bool("isAscendingOrder", query.is_ascending_order.as_deref())?.unwrap_or(false);
    let after = match query.marker.as_deref() {
        None => None,
        Some(marker) => Some(decode_marker(marker)?),
    };
    Ok(PageRequest {
        after,
        limit,
        ascending,
    })
}

/// The `nextMarker` for a store's page token: hex, which fits AWS's marker pattern
/// (`[A-Za-z0-9+/]+={0,2}`), whatever the store's tokens look like.
pub(crate) fn encode_marker(token: &str) -> String {
    hex::encode(token)
}

/// The store token a `marker` this API handed out stands for.
pub(crate) fn decode_marker(marker: &str) -> Result<String, ApiError> {
    MARKER.check(marker)?;
    hex::decode(marker)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "The marker {marker:?} is not one this API returned."
            ))
        })
}

/// The answer of ListCertificates, ListCertificatesByCA and ListCACertificates: the
/// certificates, and the `nextMarker` of the next page if one follows.
pub(crate) fn certificate_list_json(certificates: Vec<Value>, next: Option<String>) -> Value {
    let mut body = json!({ "certificates": certificates });
    if let Some(next) = next {
        body["nextMarker"] = Value::from(encode_marker(&next));
    }
    body
}

/// `{notBefore, notAfter}`.
pub(crate) fn validity_json(not_before: Timestamp, not_after: Timestamp) -> Value {
    json!({
        "notBefore": not_before.as_epoch_seconds(),
        "notAfter": not_after.as_epoch_seconds(),
    })
}

/// Every registered CA certificate (there are few).
pub(crate) async fn all_ca_certificates(state: &ApiState) -> Result<Vec<CaCertificate>, ApiError> {
    all_items(MAX_PAGE_SIZE, |page| async move {
        state.store.list_ca_certificates(&page).await
    })
    .await
}

// ---------------------------------------------------------------------------------------------

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("The certificate {id} does not exist."))
}

async fn existing(state: &ApiState, id: &str) -> Result<Certificate, ApiError> {
    state
        .store
        .certificate(id)
        .await?
        .ok_or_else(|| not_found(id))
}

fn certificate_arn(state: &ApiState, id: &str) -> String {
    state.partition.arn(ArnKind::Certificate, id)
}

/// The certificate mode, which thingd does not store: a certificate that is neither signed by a
/// registered CA nor issued by thingd's CA was registered without a CA, which AWS IoT reports as
/// `SNI_ONLY`; every other certificate is `DEFAULT`. (CA certificates registered in `SNI_ONLY`
/// mode, and so their certificates, are reported as `DEFAULT`.)
fn certificate_mode(thingd_ca_subject: &[u8], certificate: &Certificate) -> &'static str {
    if certificate.ca_certificate_id.is_some() {
        return "DEFAULT";
    }
    let issued_by_thingd = stored_der(&certificate.pem).is_ok_and(|der| {
        X509Certificate::from_der(&der)
            .is_ok_and(|(_, parsed)| parsed.issuer().as_raw() == thingd_ca_subject)
    });
    if issued_by_thingd {
        "DEFAULT"
    } else {
        "SNI_ONLY"
    }
}

/// The subject (DER) of thingd's CA certificate.
fn thingd_ca_subject(state: &ApiState) -> Vec<u8> {
    X509Certificate::from_der(state.ca.ca_der())
        .map(|(_, ca)| ca.subject().as_raw().to_vec())
        .unwrap_or_default()
}

/// The status a certificate is registered with: `status` (ACTIVE, INACTIVE, REVOKED or the
/// deprecated REGISTER_INACTIVE), or ACTIVE with the deprecated `setAsActive=true`; INACTIVE
/// without either.
fn registration_status(
    set_as_active: Option<bool>,
    status: Option<&str>,
) -> Result<CertificateStatus, ApiError> {
    let status = match status {
        None => None,
        Some(text) => match CertificateStatus::parse(text) {
            None => return Err(not_in_enum("status", text, CERTIFICATE_STATUSES)),
            Some(
                status
                @ (CertificateStatus::PendingTransfer | CertificateStatus::PendingActivation),
            ) => {
                return Err(ApiError::invalid_request(format!(
                    "A certificate cannot be registered with the status {status}; use ACTIVE, \
                     INACTIVE or REVOKED."
                )));
            }
            Some(status) => Some(status),
        },
    };
    match (set_as_active, status) {
        (Some(true), Some(status)) if status != CertificateStatus::Active => {
            Err(ApiError::invalid_request(format!(
                "setAsActive=true contradicts status {status}; give only one of them."
            )))
        }
        (_, Some(status)) => Ok(status),
        (Some(true), None) => Ok(CertificateStatus::Active),
        (_, None) => Ok(CertificateStatus::Inactive),
    }
}

/// Registers a certificate thingd's CA just issued, ACTIVE if `active`, else INACTIVE.
async fn insert_issued(
    state: &ApiState,
    active: bool,
    pem: &str,
    der: &[u8],
) -> Result<Certificate, ApiError> {
    let status = if active {
        CertificateStatus::Active
    } else {
        CertificateStatus::Inactive
    };
    let record = certificate_record(pem, der, status, None)?;
    match state.store.insert_certificate(&record).await? {
        Inserted::Created => Ok(record),
        // A fresh key pair and a random serial number make this as good as impossible.
        Inserted::Exists(_) => Err(ApiError::internal(&format!(
            "a freshly issued certificate {} is registered already",
            record.id
        ))),
    }
}

/// Stores a registered certificate; registering one twice is `ResourceAlreadyExistsException`.
async fn insert_registered(state: &ApiState, record: &Certificate) -> Result<Value, ApiError> {
    let arn = certificate_arn(state, &record.id);
    match state.store.insert_certificate(record).await? {
        Inserted::Created => Ok(json!({ "certificateArn": arn, "certificateId": record.id })),
        Inserted::Exists(_) => Err(ApiError::already_exists(
            "The certificate is already provisioned or registered",
            &record.id,
            &arn,
        )),
    }
}

/// `POST /keys-and-certificate?setAsActive=`: a new ECDSA P-256 key pair and a certificate
/// for it from thingd's CA. The private key is returned once and never kept.
pub(crate) async fn create_keys_and_certificate(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<SetAsActiveQuery>,
) -> Result<Json<Value>, ApiError> {
    let active = parse_bool("setAsActive", query.set_as_active.as_deref())?.unwrap_or(false);
    let issued = state
        .ca
        .issue_client_certificate(ISSUED_COMMON_NAME)
        .map_err(|e| ApiError::internal(&e))?;
    let record = insert_issued(
        &state,
        active,
        &issued.certificate_pem,
        &issued.certificate_der,
    )
    .await?;
    Ok(Json(json!({
        "certificateArn": certificate_arn(&state, &record.id),
        "certificateId": record.id,
        "certificatePem": issued.certificate_pem,
        "keyPair": {
            "PublicKey": issued.public_key_pem,
            "PrivateKey": issued.private_key_pem,
        },
    })))
}

/// The message of a CSR that thingd's CA refuses: the problem, and its cause if there is one.
fn csr_problem(error: &PkiError) -> String {
    match std::error::Error::source(error) {
        Some(source) => format!("The certificate signing request is not valid: {error}: {source}"),
        None => format!("The certificate signing request is not valid: {error}"),
    }
}

/// `POST /certificates?setAsActive=`: a certificate from thingd's CA for the key of a CSR.
pub(crate) async fn create_certificate_from_csr(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<SetAsActiveQuery>,
    AwsJson(request): AwsJson<CreateCertificateFromCsrRequest>,
) -> Result<Json<Value>, ApiError> {
    let csr = request
        .certificate_signing_request
        .ok_or_else(|| missing("certificateSigningRequest"))?;
    CERTIFICATE_SIGNING_REQUEST.check(&csr)?;
    let active = parse_bool("setAsActive", query.set_as_active.as_deref())?.unwrap_or(false);
    let signed = state.ca.sign_csr(&csr).map_err(|e| match e {
        PkiError::Crypto { .. } | PkiError::Random => ApiError::internal(&e),
        other => ApiError::invalid_request(csr_problem(&other)),
    })?;
    let record = insert_issued(
        &state,
        active,
        &signed.certificate_pem,
        &signed.certificate_der,
    )
    .await?;
    Ok(Json(json!({
        "certificateArn": certificate_arn(&state, &record.id),
        "certificateId": record.id,
        "certificatePem": signed.certificate_pem,
    })))
}

/// The registered CA certificate that signed `certificate`, if any. Several CA certificates
/// with its issuer's subject and key cannot be told apart: `CertificateConflictException`.
async fn signing_ca(
    state: &ApiState,
    certificate: &X509Certificate<'_>,
) -> Result<Option<CaCertificate>, ApiError> {
    let mut signers = Vec::new();
    for ca in all_ca_certificates(state).await? {
        let der = stored_der(&ca.pem)?;
        let Ok((_, parsed)) = X509Certificate::from_der(&der) else {
            continue;
        };
        if is_signed_by(certificate, &parsed) {
            signers.push(ca);
        }
    }
    if signers.len() > 1 {
        return Err(ApiError::certificate_conflict(format!(
            "{} registered CA certificates have the subject and the public key of the \
             certificate's issuer; give the one that signed it in caCertificatePem.",
            signers.len()
        )));
    }
    Ok(signers.pop())
}

/// `POST /certificate/register?setAsActive=`: registers a certificate signed by a registered,
/// ACTIVE CA certificate (or by thingd's CA).
pub(crate) async fn register_certificate(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<SetAsActiveQuery>,
    AwsJson(request): AwsJson<RegisterCertificateRequest>,
) -> Result<Json<Value>, ApiError> {
    let pem = request
        .certificate_pem
        .ok_or_else(|| missing("certificatePem"))?;
    CERTIFICATE_PEM.check(&pem)?;
    if let Some(ca_pem) = &request.ca_certificate_pem {
        CERTIFICATE_PEM.check_as("caCertificatePem", ca_pem)?;
    }
    let set_as_active = parse_bool("setAsActive", query.set_as_active.as_deref())?;
    let status = registration_status(set_as_active, request.status.as_deref())?;
    let der = certificate_der("certificatePem", &pem)?;
    let certificate = parse_certificate("certificatePem", &der)?;

    let ca = match &request.ca_certificate_pem {
        Some(ca_pem) => {
            let ca_der = certificate_der("caCertificatePem", ca_pem)?;
            let ca_id = thingd_pki::certificate_id(&ca_der);
            let Some(ca) = state.store.ca_certificate(&ca_id).await? else {
                return Err(ApiError::certificate_validation(format!(
                    "The CA certificate in caCertificatePem ({ca_id}) is not registered."
                )));
            };
            if !is_signed_by(
                &certificate,
                &parse_certificate("caCertificatePem", &ca_der)?,
            ) {
                return Err(ApiError::certificate_validation(
                    "The certificate is not signed by the CA certificate in caCertificatePem.",
                ));
            }
            Some(ca)
        }
        None => signing_ca(&state, &certificate).await?,
    };
    match &ca {
        Some(ca) if ca.status != CaStatus::Active => {
            return Err(ApiError::certificate_state(format!(
                "The CA certificate {} that signed the certificate is not ACTIVE; activate it \
                 before registering the certificates it signed.",
                ca.id
            )));
        }
        Some(_) => {}
        None if state.ca.is_issuer_of(&der) => {}
        None => {
            return Err(ApiError::certificate_validation(
                "The certificate is not signed by a registered CA certificate. Register its CA \
                 with RegisterCACertificate first, or register the certificate with \
                 RegisterCertificateWithoutCA.",
            ));
        }
    }
    let record = certificate_record(&pem, &der, status, ca.map(|ca| ca.id))?;
    insert_registered(&state, &record).await.map(Json)
}

/// `POST /certificate/register-no-ca`: registers a certificate whatever signed it.
pub(crate) async fn register_certificate_without_ca(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<RegisterCertificateWithoutCaRequest>,
) -> Result<Json<Value>, ApiError> {
    let pem = request
        .certificate_pem
        .ok_or_else(|| missing("certificatePem"))?;
    CERTIFICATE_PEM.check(&pem)?;
    let status = registration_status(None, request.status.as_deref())?;
    let der = certificate_der("certificatePem", &pem)?;
    let record = certificate_record(&pem, &der, status, None)?;
    insert_registered(&state, &record).await.map(Json)
}

/// `GET /certificates/{certificateId}`.
pub(crate) async fn describe_certificate(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    let id = certificate_id_label("certificateId", &id)?;
    let certificate = existing(&state, &id).await?;
    let mode = certificate_mode(&thingd_ca_subject(&state), &certificate);
    let mut description = json!({
        "certificateArn": certificate_arn(&state, &certificate.id),
        "certificateId": certificate.id,
        "status": certificate.status.as_str(),
        "certificatePem": certificate.pem,
        "ownedBy": state.partition.account,
        "creationDate": certificate.created.as_epoch_seconds(),
        "lastModifiedDate": certificate.last_modified.as_epoch_seconds(),
        "customerVersion": certificate.version,
        "generationId": certificate.generation_id,
        "validity": validity_json(certificate.not_before, certificate.not_after),
        "certificateMode": mode,
    });
    if let Some(ca) = &certificate.ca_certificate_id {
        description["caCertificateId"] = Value::from(ca.as_str());
    }
    Ok(Json(json!({ "certificateDescription": description })))
}

fn list_json(state: &ApiState, page: Page<Certificate>) -> Value {
    let subject = thingd_ca_subject(state);
    let certificates: Vec<Value> = page
        .items
        .iter()
        .map(|certificate| {
            json!({
                "certificateArn": certificate_arn(state, &certificate.id),
                "certificateId": certificate.id,
                "status": certificate.status.as_str(),
                "certificateMode": certificate_mode(&subject, certificate),
                "creationDate": certificate.created.as_epoch_seconds(),
            })
        })
        .collect();
    certificate_list_json(certificates, page.next)
}

/// `GET /certificates?pageSize=&marker=&isAscendingOrder=`: by creation date.
pub(crate) async fn list_certificates(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = list_page(&query)?;
    let certificates = state.store.list_certificates(None, &page).await?;
    Ok(Json(list_json(&state, certificates)))
}

/// `GET /certificates-by-ca/{caCertificateId}`: the certificates registered under a CA
/// certificate (none if it is not registered, as in AWS IoT).
pub(crate) async fn list_certificates_by_ca(
    State(state): State<ApiState>,
    AwsPath(ca_id): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let ca_id = certificate_id_label("caCertificateId", &ca_id)?;
    let page = list_page(&query)?;
    let certificates = state.store.list_certificates(Some(&ca_id), &page).await?;
    Ok(Json(list_json(&state, certificates)))
}

/// `PUT /certificates/{certificateId}?newStatus=`: ACTIVE, INACTIVE, REVOKED (final) or the
/// deprecated REGISTER_INACTIVE; idempotent. Any status but ACTIVE closes the certificate's
/// connections.
pub(crate) async fn update_certificate(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
    AwsQuery(query): AwsQuery<UpdateCertificateQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = certificate_id_label("certificateId", &id)?;
    let text = query.new_status.ok_or_else(|| missing("newStatus"))?;
    let new_status = CertificateStatus::parse(&text)
        .ok_or_else(|| not_in_enum("newStatus", &text, CERTIFICATE_STATUSES))?;
    if matches!(
        new_status,
        CertificateStatus::PendingTransfer | CertificateStatus::PendingActivation
    ) {
        return Err(ApiError::invalid_request(format!(
            "The status {new_status} is used internally by AWS IoT and cannot be set."
        )));
    }
    let store = &state.store;
    update_versioned(
        None,
        || existing(&state, &id),
        |current: &Certificate| {
            if current.status == new_status {
                return Ok(None);
            }
            match current.status {
                CertificateStatus::Revoked => {
                    return Err(ApiError::certificate_state(format!(
                        "A REVOKED certificate cannot change status. Id: {id}"
                    )));
                }
                CertificateStatus::PendingTransfer => {
                    return Err(ApiError::certificate_state(format!(
                        "A certificate being transferred (PENDING_TRANSFER) cannot change status. \
                         Id: {id}"
                    )));
                }
                _ => {}
            }
            Ok(Some(Certificate {
                status: new_status,
                last_modified: Timestamp::now(),
                version: current.version + 1,
                generation_id: uuid::Uuid::new_v4().to_string(),
                ..current.clone()
            }))
        },
        |updated, expected| async move { store.replace_certificate(&updated, expected).await },
    )
    .await?;
    if new_status != CertificateStatus::Active {
        state.events.certificate_revoked(&id);
    }
    Ok(Json(json!({})))
}

/// `DELETE /certificates/{certificateId}?forceDelete=`: refused while the certificate is ACTIVE,
/// attached to things, or (unless `forceDelete=true`, which detaches them) has policies
/// attached, as in AWS IoT.
pub(crate) async fn delete_certificate(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
    AwsQuery(query): AwsQuery<DeleteCertificateQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = certificate_id_label("certificateId", &id)?;
    let force = parse_bool("forceDelete", query.force_delete.as_deref())?.unwrap_or(false);
    let certificate = existing(&state, &id).await?;
    if certificate.status == CertificateStatus::Active {
        return Err(ApiError::certificate_state(format!(
            "Certificate must be deactivated (not ACTIVE) before deletion. Id: {id}"
        )));
    }
    let arn = certificate_arn(&state, &id);
    let things = state
        .store
        .things_of_principal(&arn, &PageRequest::ascending(None, 1))
        .await?;
    if !things.items.is_empty() {
        return Err(ApiError::delete_conflict(format!(
            "Things must be detached before deletion (arn: {arn})"
        )));
    }
    let policies = state
        .store
        .policies_of_target(&arn, &PageRequest::ascending(None, 1))
        .await?;
    let detach = !policies.items.is_empty();
    if detach && !force {
        return Err(ApiError::delete_conflict(format!(
            "Certificate policies must be detached before deletion (arn: {arn})"
        )));
    }
    if detach {
        // Detached first, so that a certificate registered again later does not inherit them
        // even if the deletion below fails.
        state.store.detach_all_policies(&arn).await?;
    }
    if !state.store.delete_certificate(&id).await? {
        return Err(not_found(&id));
    }
    state.events.certificate_revoked(&id);
    if detach {
        state
            .events
            .authorization_changed(&AuthorizationChange::Target(arn));
    }
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_match_the_model_pattern() {
        for token in ["1700000000000:abc", "-5:\u{10FFFF}", "x"] {
            let marker = encode_marker(token);
            assert!(MARKER.check(&marker).is_ok(), "{marker}");
            assert_eq!(decode_marker(&marker).unwrap(), token);
        }
        assert!(decode_marker("zz").is_err());
        assert!(decode_marker("a b").is_err());
    }

    #[test]
    fn registration_status_follows_status_then_set_as_active() {
        assert_eq!(
            registration_status(None, None).unwrap(),
            CertificateStatus::Inactive
        );
        assert_eq!(
            registration_status(Some(true), None).unwrap(),
            CertificateStatus::Active
        );
        assert_eq!(
            registration_status(Some(false), Some("REVOKED")).unwrap(),
            CertificateStatus::Revoked
        );
        assert!(registration_status(Some(true), Some("INACTIVE")).is_err());
        assert!(registration_status(None, Some("PENDING_ACTIVATION")).is_err());
        assert!(registration_status(None, Some("active")).is_err());
    }
}
