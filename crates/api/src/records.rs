//! Building registry records from certificates: the id, the validity dates, and fresh version
//! and generation fields, as every operation that registers a certificate needs them.

use thingd_registry::{CaCertificate, CaStatus, Certificate, CertificateStatus, Timestamp};

use crate::error::ApiError;

/// The validity dates of a DER certificate, in milliseconds since the epoch.
pub fn validity(der: &[u8]) -> Result<(Timestamp, Timestamp), ApiError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).map_err(|e| {
        ApiError::certificate_validation(format!("The certificate could not be parsed: {e}"))
    })?;
    let validity = certificate.validity();
    let millis = |t: x509_parser::time::ASN1Time| Timestamp(t.timestamp().saturating_mul(1000));
    Ok((millis(validity.not_before), millis(validity.not_after)))
}

/// A new device-certificate record.
pub fn certificate_record(
    pem: &str,
    der: &[u8],
    status: CertificateStatus,
    ca_certificate_id: Option<String>,
) -> Result<Certificate, ApiError> {
    let (not_before, not_after) = validity(der)?;
    let now = Timestamp::now();
    Ok(Certificate {
        id: thingd_pki::certificate_id(der),
        pem: pem.to_owned(),
        ca_certificate_id,
        status,
        not_before,
        not_after,
        created: now,
        last_modified: now,
        version: 1,
        generation_id: uuid::Uuid::new_v4().to_string(),
    })
}

/// A new CA-certificate record.
pub fn ca_certificate_record(
    pem: &str,
    der: &[u8],
    status: CaStatus,
    auto_registration: bool,
) -> Result<CaCertificate, ApiError> {
    let (not_before, not_after) = validity(der)?;
    let now = Timestamp::now();
    Ok(CaCertificate {
        id: thingd_pki::certificate_id(der),
        pem: pem.to_owned(),
        status,
        auto_registration,
        not_before,
        not_after,
        created: now,
        last_modified: now,
        version: 1,
        generation_id: uuid::Uuid::new_v4().to_string(),
    })
}
