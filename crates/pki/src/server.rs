//! The broker's TLS server certificate: issued by thingd's CA and renewed when needed.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use rcgen::{DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use crate::ca::leaf_params;
use crate::fs::{
    PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, Replace, ensure_private_dir, read_optional, write_atomic,
};
use crate::util::{key_matches_cert, now, parse_cert_pem, parse_key_pem, parse_x509};
use crate::{CertificateAuthority, PkiError, SERVER_CERT_FILE, SERVER_KEY_FILE};

/// Validity of a server certificate: 825 days, the longest that Apple platforms accept for
/// TLS server certificates.
pub const SERVER_CERT_VALIDITY: Duration = Duration::days(825);
/// A server certificate expiring sooner than this is re-issued at start-up.
pub const SERVER_CERT_RENEW_BEFORE: Duration = Duration::days(30);
/// Subject common name of server certificates; clients match on the SANs, not on this.
pub const SERVER_COMMON_NAME: &str = "thingd server";

/// Why [`ServerIdentity::load_or_issue`] issued a new certificate instead of reusing the one
/// on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueReason {
    /// There was no certificate or no key yet.
    Missing,
    /// The key on disk does not belong to the certificate (e.g. an interrupted earlier write).
    KeyMismatch,
    /// The certificate is not signed by the current CA.
    NotIssuedByCa,
    /// The certificate has expired or expires within [`SERVER_CERT_RENEW_BEFORE`].
    Expiring {
        /// The old certificate's `notAfter`.
        not_after: String,
    },
    /// The certificate's `notBefore` lies in the future.
    NotYetValid {
        /// The old certificate's `notBefore`.
        not_before: String,
    },
    /// A requested host name or address is not among the certificate's SANs.
    MissingName {
        /// The first requested name found missing.
        name: String,
    },
}

impl fmt::Display for IssueReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no server certificate existed"),
            Self::KeyMismatch => f.write_str("the server key did not match the certificate"),
            Self::NotIssuedByCa => f.write_str("the old certificate was not issued by the CA"),
            Self::Expiring { not_after } => write!(f, "the old certificate expires {not_after}"),
            Self::NotYetValid { not_before } => {
                write!(f, "the old certificate is not valid before {not_before}")
            }
            Self::MissingName { name } => write!(f, "the old certificate did not cover {name}"),
        }
    }
}

/// The broker's TLS identity: a server certificate signed by thingd's CA, and its key.
///
/// The chain holds only the server certificate: clients are expected to trust the CA itself
/// (`ca.pem`), and sending a root they already hold only costs bytes in every handshake.
pub struct ServerIdentity {
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    issue_reason: Option<IssueReason>,
}

impl ServerIdentity {
    /// Loads `dir/server.pem` and `dir/server-key.pem`, or issues a new ECDSA P-256 server
    /// certificate from `ca` and writes them.
    ///
    /// The certificate covers `localhost`, `127.0.0.1`, `::1`, this machine's host name and
    /// every entry of `hostnames` (IP addresses become IP SANs, anything else must be a DNS
    /// name, optionally with a leading `*.` wildcard label). An existing certificate is reused
    /// only if its key matches, it is signed by `ca`, it is valid for at least
    /// [`SERVER_CERT_RENEW_BEFORE`] more, and it covers every one of those names; otherwise a
    /// new one replaces it. The key file is written with mode 0600.
    ///
    /// # Errors
    ///
    /// [`PkiError::InvalidHostname`] for a malformed entry in `hostnames`; [`PkiError::Pem`],
    /// [`PkiError::Certificate`] or [`PkiError::PrivateKey`] if an existing file cannot be
    /// parsed (it is left alone rather than overwritten, since someone may be editing it);
    /// I/O and crypto errors otherwise.
    pub fn load_or_issue(
        dir: &Path,
        ca: &CertificateAuthority,
        hostnames: &[String],
    ) -> Result<Self, PkiError> {
        let wanted = requested_names(hostnames)?;
        ensure_private_dir(dir)?;
        let cert_path = dir.join(SERVER_CERT_FILE);
        let key_path = dir.join(SERVER_KEY_FILE);

        let reason = match (read_optional(&cert_path)?, read_optional(&key_path)?) {
            (Some(cert_bytes), Some(key_bytes)) => {
                let cert_chain = parse_cert_pem(&cert_path, &cert_bytes)?;
                let (key_pair, key) = parse_key_pem(&key_path, &key_bytes)?;
                // `parse_cert_pem` never returns an empty list, so the leaf exists.
                let leaf = parse_x509(&cert_chain[0]).map_err(|source| PkiError::Certificate {
                    path: cert_path.clone(),
                    source,
                })?;
                match reuse_problem(&leaf, &key_pair, ca, &wanted) {
                    None => {
                        return Ok(Self {
                            cert_chain,
                            key,
                            issue_reason: None,
                        });
                    }
                    Some(reason) => reason,
                }
            }
            _ => IssueReason::Missing,
        };

        let (cert_der, key_pair) = issue(ca, &wanted)?;
        // The key goes first: if the process dies between the two writes, the next start sees
        // a key that does not match the old certificate and simply issues again.
        write_atomic(
            &key_path,
            key_pair.serialize_pem().as_bytes(),
            PRIVATE_FILE_MODE,
            Replace::Yes,
        )?;
        write_atomic(
            &cert_path,
            crate::ca::pem_encode("CERTIFICATE", &cert_der).as_bytes(),
            PUBLIC_FILE_MODE,
            Replace::Yes,
        )?;
        Ok(Self {
            cert_chain: vec![cert_der],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der())),
            issue_reason: Some(reason),
        })
    }

    /// The certificate chain to present, leaf first, for `rustls::ServerConfig`.
    pub fn cert_chain_der(&self) -> Vec<CertificateDer<'static>> {
        self.cert_chain.clone()
    }

    /// The server's private key, for `rustls::ServerConfig`.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// Why a new certificate was issued, or `None` if the one on disk was reused; worth
    /// logging, since clients pinning the old certificate will notice the change.
    pub fn issue_reason(&self) -> Option<&IssueReason> {
        self.issue_reason.as_ref()
    }
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerIdentity")
            .field(
                "certificate_id",
                &self.cert_chain.first().map(|c| crate::certificate_id(c)),
            )
            .field("chain_len", &self.cert_chain.len())
            .field("issue_reason", &self.issue_reason)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Returns why `leaf` cannot be kept, or `None` if it can.
fn reuse_problem(
    leaf: &x509_parser::certificate::X509Certificate<'_>,
    key: &KeyPair,
    ca: &CertificateAuthority,
    wanted: &[SanType],
) -> Option<IssueReason> {
    if !key_matches_cert(key, leaf) {
        return Some(IssueReason::KeyMismatch);
    }
    if !ca.is_issuer_of(leaf.as_raw()) {
        return Some(IssueReason::NotIssuedByCa);
    }
    let validity = leaf.validity();
    let now = OffsetDateTime::now_utc();
    if validity.not_after.to_datetime() <= now + SERVER_CERT_RENEW_BEFORE {
        return Some(IssueReason::Expiring {
            not_after: validity.not_after.to_string(),
        });
    }
    if validity.not_before.to_datetime() > now {
        return Some(IssueReason::NotYetValid {
            not_before: validity.not_before.to_string(),
        });
    }

    let mut dns = HashSet::new();
    let mut ips = HashSet::new();
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(name) => {
                    dns.insert(name.to_ascii_lowercase());
                }
                GeneralName::IPAddress(octets) => {
                    if let Some(ip) = ip_from_octets(octets) {
                        ips.insert(ip);
                    }
                }
                _ => {}
            }
        }
    }
    wanted.iter().find_map(|name| {
        let covered = match name {
            SanType::DnsName(dns_name) => dns.contains(dns_name.as_str()),
            SanType::IpAddress(ip) => ips.contains(ip),
            _ => true,
        };
        (!covered).then(|| IssueReason::MissingName {
            name: san_to_string(name),
        })
    })
}

fn issue(
    ca: &CertificateAuthority,
    names: &[SanType],
) -> Result<(CertificateDer<'static>, KeyPair), PkiError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| {
        PkiError::Crypto {
            action: "generate the server key",
            source,
        }
    })?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, SERVER_COMMON_NAME);
    // A server certificate outliving its CA would only pretend to be valid; capping it makes
    // the renewal check catch the CA's expiry too.
    let not_after = (now() + SERVER_CERT_VALIDITY).min(ca.not_after());
    let mut params = leaf_params(dn, ExtendedKeyUsagePurpose::ServerAuth, not_after)?;
    params.subject_alt_names = names.to_vec();
    let cert = ca.sign(&params, &key).map_err(|source| PkiError::Crypto {
        action: "sign the server certificate",
        source,
    })?;
    Ok((cert.der().clone(), key))
}

/// The SANs a server certificate must carry: the loopback names, this machine's host name and
/// the operator's extra names, deduplicated in that order.
fn requested_names(extra: &[String]) -> Result<Vec<SanType>, PkiError> {
    let mut names = vec![
        SanType::DnsName(ia5("localhost")?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    // The machine's own name is a convenience, not something the operator typed, so one that
    // is not a valid DNS name (say, containing spaces) is skipped rather than fatal.
    if let Some(host) = machine_hostname()
        && let Ok(san) = parse_name(&host)
    {
        names.push(san);
    }
    for name in extra {
        names.push(parse_name(name)?);
    }
    let mut seen = HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    Ok(names)
}

/// Parses an operator-supplied host name: an IP address, or a DNS name (lower-cased, without a
/// trailing dot, optionally `*.`-prefixed).
fn parse_name(name: &str) -> Result<SanType, PkiError> {
    let invalid = |problem| PkiError::InvalidHostname {
        name: name.to_owned(),
        problem,
    };
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let lower = trimmed.to_ascii_lowercase();
    let dns = lower.strip_suffix('.').unwrap_or(&lower);
    let base = dns.strip_prefix("*.").unwrap_or(dns);
    if base.contains('*') {
        return Err(invalid(
            "a wildcard is only allowed as the whole first label, as in *.example.com",
        ));
    }
    if DnsName::try_from(base).is_err() {
        return Err(invalid(
            "not an IP address or a DNS name (dot-separated labels of letters, digits and \
             hyphens, each at most 63 characters)",
        ));
    }
    ia5(dns)
        .map(SanType::DnsName)
        .map_err(|_| invalid("not ASCII"))
}

fn ia5(name: &str) -> Result<rcgen::string::Ia5String, PkiError> {
    rcgen::string::Ia5String::try_from(name).map_err(|_| PkiError::InvalidHostname {
        name: name.to_owned(),
        problem: "not ASCII",
    })
}

/// This machine's host name, from the kernel, `/etc/hostname` or `$HOSTNAME`, in that order.
fn machine_hostname() -> Option<String> {
    let from_file = |path: &str| std::fs::read_to_string(path).ok();
    [
        from_file("/proc/sys/kernel/hostname"),
        from_file("/etc/hostname"),
        std::env::var("HOSTNAME").ok(),
    ]
    .into_iter()
    .flatten()
    .map(|name| name.trim().to_owned())
    .find(|name| !name.is_empty())
}

fn ip_from_octets(octets: &[u8]) -> Option<IpAddr> {
    match octets.len() {
        4 => <[u8; 4]>::try_from(octets).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(octets).ok().map(IpAddr::from),
        _ => None,
    }
}

fn san_to_string(name: &SanType) -> String {
    match name {
        SanType::DnsName(dns) => dns.as_str().to_owned(),
        SanType::IpAddress(ip) => ip.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_name_accepts_ips_and_dns_names() {
        assert_eq!(
            parse_name("10.0.0.1").unwrap(),
            SanType::IpAddress("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            parse_name("fe80::1").unwrap(),
            SanType::IpAddress("fe80::1".parse().unwrap())
        );
        assert_eq!(
            parse_name("Broker.Example.COM.").unwrap(),
            SanType::DnsName(ia5("broker.example.com").unwrap())
        );
        assert_eq!(
            parse_name("*.example.com").unwrap(),
            SanType::DnsName(ia5("*.example.com").unwrap())
        );
    }

    #[test]
    fn parse_name_rejects_garbage_with_the_name_in_the_message() {
        for bad in [
            "",
            "  ",
            "bad name",
            "a..b",
            "-x.example",
            "foo.*.com",
            "x*.com",
            "é.com",
        ] {
            let err = parse_name(bad).unwrap_err();
            assert!(
                matches!(err, PkiError::InvalidHostname { .. }),
                "{bad:?} gave {err:?}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn requested_names_start_with_loopback_and_are_deduplicated() {
        let names =
            requested_names(&["localhost".into(), "127.0.0.1".into(), "mqtt.lan".into()]).unwrap();
        assert_eq!(names[0], SanType::DnsName(ia5("localhost").unwrap()));
        assert_eq!(names[1], SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
        assert_eq!(names[2], SanType::IpAddress(Ipv6Addr::LOCALHOST.into()));
        assert_eq!(
            names.last(),
            Some(&SanType::DnsName(ia5("mqtt.lan").unwrap()))
        );
        let unique: HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
