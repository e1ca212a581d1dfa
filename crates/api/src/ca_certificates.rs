//! CA certificates (AWS IoT §3.3): GetRegistrationCode, DeleteRegistrationCode,
//! RegisterCACertificate, DescribeCACertificate, ListCACertificates, UpdateCACertificate and
//! DeleteCACertificate.
//!
//! The registration code is not random and kept, as in AWS IoT, but derived from thingd's CA
//! certificate: the hex SHA-256 of a fixed label followed by the CA's DER. It is stable for the
//! life of the CA, the same on every thingd instance sharing that CA, and needs no storage;
//! DeleteRegistrationCode therefore cannot replace it and succeeds without effect. Its purpose is
//! kept: a verification certificate carrying it proves that whoever holds the CA's key meant to
//! register the CA with this thingd (the API caller is authenticated anyway).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use thingd_registry::{ArnKind, CaCertificate, CaStatus, Constraint, Inserted, Timestamp};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::certificates::{
    CERTIFICATE_PEM, ListQuery, all_ca_certificates, certificate_der, certificate_id_label,
    certificate_list_json, is_signed_by, list_page, parse_certificate, stored_der, validity_json,
};
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery, missing, not_in_enum, parse_bool};
use crate::paging::each_page;
use crate::records::ca_certificate_record;
use crate::state::ApiState;
use crate::tags::{TagDto, remove_all_tags, tags_for_create};
use crate::versioned::update_versioned;

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/registrationcode",
            get(get_registration_code).delete(delete_registration_code),
        )
        .route(
            "/cacertificate",
            axum::routing::post(register_ca_certificate),
        )
        .route("/cacertificates", get(list_ca_certificates))
        .route(
            "/cacertificate/{caCertificateId}",
            get(describe_ca_certificate)
                .put(update_ca_certificate)
                .delete(delete_ca_certificate),
        )
}

/// CA certificates with the same subject one account may register (AWS IoT: 10).
pub(crate) const MAX_CAS_PER_SUBJECT: usize = 10;

/// `templateName` of ListCACertificates.
const TEMPLATE_NAME: Constraint = Constraint {
    field: "templateName",
    min: 1,
    max: 36,
    allowed: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'),
    pattern: "^[0-9A-Za-z_-]+$",
};

/// The label hashed with the CA's DER into the registration code.
const REGISTRATION_CODE_LABEL: &[u8] = b"thingd CA registration code\0";

/// The registration code of this thingd: the hex SHA-256 of a fixed label and thingd's CA
/// certificate (64 hex digits, as the service model requires).
pub(crate) fn registration_code(state: &ApiState) -> String {
    thingd_pki::certificate_id(&[REGISTRATION_CODE_LABEL, state.ca.ca_der().as_ref()].concat())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCaQuery {
    set_as_active: Option<String>,
    allow_auto_registration: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterCaRequest {
    ca_certificate: Option<String>,
    verification_certificate: Option<String>,
    registration_config: Option<Map<String, Value>>,
    tags: Option<Vec<TagDto>>,
    certificate_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListCaQuery {
    page_size: Option<String>,
    marker: Option<String>,
    is_ascending_order: Option<String>,
    template_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCaQuery {
    new_status: Option<String>,
    new_auto_registration_status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCaRequest {
    registration_config: Option<Map<String, Value>>,
    remove_auto_registration: Option<bool>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("The CA certificate {id} does not exist."))
}

fn ca_arn(state: &ApiState, id: &str) -> String {
    state.partition.arn(ArnKind::CaCertificate, id)
}

async fn existing(state: &ApiState, id: &str) -> Result<CaCertificate, ApiError> {
    state
        .store
        .ca_certificate(id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// thingd does not implement just-in-time provisioning, so it refuses a provisioning template
/// rather than accept one it would never run.
fn refuse_registration_config(config: Option<&Map<String, Value>>) -> Result<(), ApiError> {
    match config {
        Some(config) if config.values().any(|v| !v.is_null()) => Err(ApiError::invalid_request(
            "thingd does not implement just-in-time provisioning: registrationConfig (a \
             provisioning template) is not supported.",
        )),
        _ => Ok(()),
    }
}

/// `GET /registrationcode`.
pub(crate) async fn get_registration_code(State(state): State<ApiState>) -> Json<Value> {
    Json(json!({ "registrationCode": registration_code(&state) }))
}

/// `DELETE /registrationcode`: the code is derived, not kept (see the module documentation), so
/// there is nothing to delete; the next GetRegistrationCode returns the same code.
pub(crate) async fn delete_registration_code() -> Json<Value> {
    Json(json!({}))
}

/// Checks that `certificate` can be registered as a CA: CA:TRUE, allowed to sign certificates,
/// not expired.
fn check_is_ca(certificate: &X509Certificate<'_>) -> Result<(), ApiError> {
    let invalid = |problem: &str| {
        ApiError::certificate_validation(format!(
            "The certificate in caCertificate cannot be registered as a CA certificate: {problem}"
        ))
    };
    match certificate.basic_constraints() {
        Ok(Some(constraints)) if constraints.value.ca => {}
        Ok(_) => {
            return Err(invalid(
                "its basicConstraints extension does not say CA:TRUE",
            ));
        }
        Err(e) => {
            return Err(invalid(&format!(
                "its basicConstraints extension is invalid ({e})"
            )));
        }
    }
    match certificate.key_usage() {
        Ok(Some(usage)) if !usage.value.key_cert_sign() => {
            return Err(invalid(
                "its keyUsage extension does not include keyCertSign",
            ));
        }
        Ok(_) => {}
        Err(e) => return Err(invalid(&format!("its keyUsage extension is invalid ({e})"))),
    }
    let not_after = certificate.validity().not_after.timestamp();
    if not_after.saturating_mul(1000) < Timestamp::now().0 {
        return Err(invalid(&format!(
            "it expired on {}",
            certificate.validity().not_after
        )));
    }
    Ok(())
}

/// Checks the verification certificate of a DEFAULT-mode registration: signed by the CA, with
/// the registration code as its subject's common name.
fn check_verification(
    state: &ApiState,
    ca: &X509Certificate<'_>,
    verification_pem: &str,
) -> Result<(), ApiError> {
    CERTIFICATE_PEM.check_as("verificationCertificate", verification_pem)?;
    let der = certificate_der("verificationCertificate", verification_pem)?;
    let verification = parse_certificate("verificationCertificate", &der)?;
    let code = registration_code(state);
    let common_names: Vec<&str> = verification
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .collect();
    if common_names != [code.as_str()] {
        return Err(ApiError::registration_code_validation(format!(
            "The common name of the verification certificate's subject must be the \
             registration code {code} (GetRegistrationCode); it is {common_names:?}."
        )));
    }
    if !is_signed_by(&verification, ca) {
        return Err(ApiError::certificate_validation(
            "The verification certificate is not signed by the CA certificate: sign it with the \
             CA's private key.",
        ));
    }
    Ok(())
}

/// `POST /cacertificate?setAsActive=&allowAutoRegistration=`: registers a CA certificate. In
/// DEFAULT mode a verification certificate proves possession of the CA's key; in SNI_ONLY mode
/// there is none.
pub(crate) async fn register_ca_certificate(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<RegisterCaQuery>,
    AwsJson(request): AwsJson<RegisterCaRequest>,
) -> Result<Json<Value>, ApiError> {
    let pem = request
        .ca_certificate
        .ok_or_else(|| missing("caCertificate"))?;
    CERTIFICATE_PEM.check_as("caCertificate", &pem)?;
    let active = parse_bool("setAsActive", query.set_as_active.as_deref())?.unwrap_or(false);
    let auto_registration = parse_bool(
        "allowAutoRegistration",
        query.allow_auto_registration.as_deref(),
    )?
    .unwrap_or(false);
    let sni_only = match request.certificate_mode.as_deref() {
        None | Some("DEFAULT") => false,
        Some("SNI_ONLY") => true,
        Some(other) => {
            return Err(not_in_enum("certificateMode", other, "[DEFAULT, SNI_ONLY]"));
        }
    };
    refuse_registration_config(request.registration_config.as_ref())?;
    // The same checks as every other Create* with tags (reserved `aws:` keys, 50 at most).
    let tags = tags_for_create(request.tags.as_deref())?;

    let der = certificate_der("caCertificate", &pem)?;
    let certificate = parse_certificate("caCertificate", &der)?;
    check_is_ca(&certificate)?;
    match (sni_only, request.verification_certificate.as_deref()) {
        (false, Some(verification)) => check_verification(&state, &certificate, verification)?,
        (false, None) => {
            return Err(ApiError::invalid_request(
                "A verificationCertificate is required to register a CA certificate in DEFAULT \
                 mode (or register it with certificateMode SNI_ONLY).",
            ));
        }
        (true, Some(_)) => {
            return Err(ApiError::invalid_request(
                "A CA certificate registered with certificateMode SNI_ONLY takes no \
                 verificationCertificate.",
            ));
        }
        (true, None) => {}
    }

    let id = thingd_pki::certificate_id(&der);
    let arn = ca_arn(&state, &id);
    let mut same_subject = 0;
    for ca in all_ca_certificates(&state).await? {
        if ca.id == id {
            return Err(ApiError::already_exists(
                "The CA certificate is already registered",
                &id,
                &arn,
            ));
        }
        let ca_der = stored_der(&ca.pem)?;
        if X509Certificate::from_der(&ca_der)
            .is_ok_and(|(_, parsed)| parsed.subject().as_raw() == certificate.subject().as_raw())
        {
            same_subject += 1;
        }
    }
    if same_subject >= MAX_CAS_PER_SUBJECT {
        return Err(ApiError::limit_exceeded(format!(
            "At most {MAX_CAS_PER_SUBJECT} CA certificates with the same subject can be \
             registered."
        )));
    }

    let status = if active {
        CaStatus::Active
    } else {
        CaStatus::Inactive
    };
    let record = ca_certificate_record(&pem, &der, status, auto_registration)?;
    match state.store.insert_ca_certificate(&record).await? {
        Inserted::Created => {}
        Inserted::Exists(_) => {
            return Err(ApiError::already_exists(
                "The CA certificate is already registered",
                &id,
                &arn,
            ));
        }
    }
    if !tags.is_empty() {
        state.store.tag_resource(&arn, &tags).await?;
    }
    Ok(Json(json!({ "certificateArn": arn, "certificateId": id })))
}

/// `GET /cacertificate/{caCertificateId}`.
pub(crate) async fn describe_ca_certificate(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    let id = certificate_id_label("caCertificateId", &id)?;
    let ca = existing(&state, &id).await?;
    Ok(Json(json!({
        "certificateDescription": {
            "certificateArn": ca_arn(&state, &ca.id),
            "certificateId": ca.id,
            "status": ca.status.as_str(),
            "certificatePem": ca.pem,
            "ownedBy": state.partition.account,
            "creationDate": ca.created.as_epoch_seconds(),
            "autoRegistrationStatus": if ca.auto_registration { "ENABLE" } else { "DISABLE" },
            "lastModifiedDate": ca.last_modified.as_epoch_seconds(),
            "customerVersion": ca.version,
            "generationId": ca.generation_id,
            "validity": validity_json(ca.not_before, ca.not_after),
            // Not stored: see the certificates module.
            "certificateMode": "DEFAULT",
        }
    })))
}

/// `GET /cacertificates?pageSize=&marker=&isAscendingOrder=&templateName=`: by creation date.
/// No CA certificate has a provisioning template in thingd, so `templateName` matches none.
pub(crate) async fn list_ca_certificates(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListCaQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = list_page(&ListQuery {
        page_size: query.page_size,
        marker: query.marker,
        is_ascending_order: query.is_ascending_order,
    })?;
    if let Some(template) = &query.template_name {
        TEMPLATE_NAME.check(template)?;
        return Ok(Json(json!({ "certificates": [] })));
    }
    let page = state.store.list_ca_certificates(&page).await?;
    let certificates: Vec<Value> = page
        .items
        .iter()
        .map(|ca| {
            json!({
                "certificateArn": ca_arn(&state, &ca.id),
                "certificateId": ca.id,
                "status": ca.status.as_str(),
                "creationDate": ca.created.as_epoch_seconds(),
            })
        })
        .collect();
    Ok(Json(certificate_list_json(certificates, page.next)))
}

/// Announces every certificate registered under `ca_id` as revoked, so that their connections
/// close: a certificate whose CA is not ACTIVE may not connect.
async fn revoke_certificates_of(state: &ApiState, ca_id: &str) -> Result<(), ApiError> {
    each_page(
        250,
        |page| async move { state.store.list_certificates(Some(ca_id), &page).await },
        |certificates| {
            for certificate in &certificates {
                state.events.certificate_revoked(&certificate.id);
            }
        },
    )
    .await
}

/// `PUT /cacertificate/{caCertificateId}?newStatus=&newAutoRegistrationStatus=`. Deactivating a
/// CA certificate closes the connections of every certificate registered under it.
pub(crate) async fn update_ca_certificate(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
    AwsQuery(query): AwsQuery<UpdateCaQuery>,
    AwsJson(request): AwsJson<UpdateCaRequest>,
) -> Result<Json<Value>, ApiError> {
    let id = certificate_id_label("caCertificateId", &id)?;
    let new_status = match query.new_status.as_deref() {
        None => None,
        Some(text) => Some(
            CaStatus::parse(text)
                .ok_or_else(|| not_in_enum("newStatus", text, "[ACTIVE, INACTIVE]"))?,
        ),
    };
    let new_auto_registration = match query.new_auto_registration_status.as_deref() {
        None => None,
        Some("ENABLE") => Some(true),
        Some("DISABLE") => Some(false),
        Some(other) => {
            return Err(not_in_enum(
                "newAutoRegistrationStatus",
                other,
                "[ENABLE, DISABLE]",
            ));
        }
    };
    refuse_registration_config(request.registration_config.as_ref())?;
    // `removeAutoRegistration` removes the provisioning template, which thingd never has.
    let _ = request.remove_auto_registration;
    let store = &state.store;
    update_versioned(
        None,
        || existing(&state, &id),
        |current: &CaCertificate| {
            let status = new_status.unwrap_or(current.status);
            let auto_registration = new_auto_registration.unwrap_or(current.auto_registration);
            if status == current.status && auto_registration == current.auto_registration {
                return Ok(None);
            }
            Ok(Some(CaCertificate {
                status,
                auto_registration,
                last_modified: Timestamp::now(),
                version: current.version + 1,
                generation_id: uuid::Uuid::new_v4().to_string(),
                ..current.clone()
            }))
        },
        |updated, expected| async move { store.replace_ca_certificate(&updated, expected).await },
    )
    .await?;
    if new_status == Some(CaStatus::Inactive) {
        revoke_certificates_of(&state, &id).await?;
    }
    Ok(Json(json!({})))
}

/// `DELETE /cacertificate/{caCertificateId}`: only an INACTIVE CA certificate can be deleted.
/// The certificates registered under it stay registered (as in AWS IoT) but cannot connect
/// while their CA is not registered and ACTIVE.
pub(crate) async fn delete_ca_certificate(
    State(state): State<ApiState>,
    AwsPath(id): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    let id = certificate_id_label("caCertificateId", &id)?;
    let ca = existing(&state, &id).await?;
    if ca.status == CaStatus::Active {
        return Err(ApiError::certificate_state(format!(
            "The CA certificate must be deactivated (INACTIVE) before deletion. Id: {id}"
        )));
    }
    if !state.store.delete_ca_certificate(&id).await? {
        return Err(not_found(&id));
    }
    remove_all_tags(&state, &ca_arn(&state, &id)).await?;
    Ok(Json(json!({})))
}
