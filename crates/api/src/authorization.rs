//! Who a data-plane requester is, as far as AWS IoT policies are concerned, and which policies
//! hold them: one resolution shared by the broker (at CONNECT, and again when the registry
//! changes) and by the control plane's TestAuthorization and GetEffectivePolicies, so that what
//! the API reports is what the broker enforces.
//!
//! A requester is held to the default versions of the policies attached to its certificate
//! and, when its client id names a thing the certificate is attached to, to those attached to
//! that thing's groups and all their ancestors (AWS IoT: "the thing the connection resolves
//! to"), plus the policies it is given explicitly (the anonymous listener's policy,
//! TestAuthorization's `policyNamesToAdd`), minus those it is told to skip.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use thingd_policy::{CertificateContext, Context, NamedPolicy, PolicyDocument, ThingContext};
use thingd_registry::{ArnKind, PageRequest, Partition, Policy, PolicyVersion, Store, StoreError};
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate, X509Name};

/// Who is asking, as the data plane knows them.
#[derive(Clone, Debug, Default)]
pub struct Requester {
    /// The id of a registered certificate the requester authenticated with (MQTT over TLS,
    /// HTTPS), if any.
    pub certificate_id: Option<String>,
    /// The MQTT client id, if any.
    pub client_id: Option<String>,
    /// The address the requester connects from.
    pub source_ip: Option<std::net::IpAddr>,
    /// `iot:ConnectAttributes`: "PersistentConnect", "LastWill".
    pub connect_attributes: Vec<String>,
    /// `iot:LastWillTopic`: the topic of the will, if the connection has one.
    pub last_will_topic: Option<String>,
    /// Policies held to regardless of attachments (the anonymous listener's policy,
    /// TestAuthorization's `policyNamesToAdd`); names that do not exist are ignored.
    pub extra_policies: Vec<String>,
    /// Policies left out even when attached (TestAuthorization's `policyNamesToSkip`).
    pub skip_policies: Vec<String>,
}

/// What a requester is held to.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// What policies see of the requester: region and account from the partition, client id,
    /// source address, thing, certificate fields, connect attributes.
    pub context: Context,
    /// The default versions of the policies that apply, each once, in name order.
    pub policies: Vec<NamedPolicy>,
    /// The thing the requester resolves to: the thing its client id names, if its certificate
    /// is attached to that thing.
    pub thing: Option<String>,
    /// That thing's groups with all their ancestors, in name order.
    pub groups: Vec<String>,
}

/// The page size used to read a principal's things and a thing's groups (both are small:
/// a thing is in at most 10 groups).
const PAGE: usize = 250;

/// Resolves `requester` against the registry: its certificate, its thing and groups, and the
/// policies that apply. The number of store queries is bounded (certificate, thing, the
/// certificate's things, the thing's groups, their ancestors, the attached policies of every
/// target at once, the extra policies at once), never one per policy.
pub async fn resolve(
    store: &dyn Store,
    partition: &Partition,
    requester: &Requester,
) -> Result<Resolved, StoreError> {
    let mut context = Context {
        region: partition.region.clone(),
        account: partition.account.clone(),
        client_id: requester.client_id.clone(),
        source_ip: requester.source_ip,
        connect_attributes: requester.connect_attributes.clone(),
        last_will_topic: requester.last_will_topic.clone(),
        ..Context::default()
    };
    let mut targets = Vec::new();
    let mut thing = None;
    let mut groups = Vec::new();

    let certificate = match &requester.certificate_id {
        Some(id) => store.certificate(&id.to_ascii_lowercase()).await?,
        None => None,
    };
    if let Some(certificate) = certificate {
        let certificate_arn = partition.arn(ArnKind::Certificate, &certificate.id);
        context.certificate = Some(match pem_der(&certificate.pem) {
            Some(der) => certificate_context(&certificate.id, &der),
            None => {
                tracing::error!(
                    message = "A stored certificate does not decode; its fields are unknown to policies.",
                    certificate_id = %certificate.id
                );
                CertificateContext {
                    id: certificate.id.clone(),
                    ..CertificateContext::default()
                }
            }
        });
        if let Some(client_id) = &requester.client_id
            && let Some(found) = store.thing(client_id).await?
            && is_attached(store, &certificate_arn, &found.name).await?
        {
            let direct = thing_groups(store, &found.name).await?;
            if !direct.is_empty() {
                let mut all = store.ancestors_of_groups(&direct).await?;
                all.sort();
                all.dedup();
                groups = all;
            }
            context.thing = Some(ThingContext {
                name: found.name.clone(),
                thing_type: found.thing_type.clone(),
                attributes: found.attributes.clone(),
            });
            thing = Some(found.name);
        }
        targets.push(certificate_arn);
    }
    targets.extend(
        groups
            .iter()
            .map(|group| partition.arn(ArnKind::ThingGroup, group)),
    );

    let mut found: BTreeMap<String, (Policy, PolicyVersion)> = BTreeMap::new();
    if !targets.is_empty() {
        for (policy, version) in store.attached_policies(&targets).await? {
            found.insert(policy.name.clone(), (policy, version));
        }
    }
    let extra: Vec<String> = requester
        .extra_policies
        .iter()
        .filter(|name| !found.contains_key(*name))
        .cloned()
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    if !extra.is_empty() {
        for (policy, version) in store.policies_with_default_versions(&extra).await? {
            found.insert(policy.name.clone(), (policy, version));
        }
    }
    for skipped in &requester.skip_policies {
        found.remove(skipped);
    }
    let policies = found
        .into_values()
        .filter_map(|(policy, version)| named_policy(partition, &policy.name, &version.document))
        .collect();
    Ok(Resolved {
        context,
        policies,
        thing,
        groups,
    })
}

/// A stored policy document, parsed for evaluation. One that no longer parses (the API only
/// stores documents that do, so only a store edited by hand or a stricter parser gets here) is
/// left out, which denies what it would have allowed, and logged.
pub(crate) fn named_policy(
    partition: &Partition,
    name: &str,
    document: &str,
) -> Option<NamedPolicy> {
    match PolicyDocument::parse(document) {
        Ok(parsed) => Some(NamedPolicy {
            name: name.to_owned(),
            arn: partition.arn(ArnKind::Policy, name),
            document: Arc::new(parsed),
        }),
        Err(error) => {
            tracing::error!(
                message = "A stored policy document does not parse; the policy is ignored.",
                policy = name,
                %error
            );
            None
        }
    }
}

/// Whether the principal `certificate_arn` is attached to `thing`.
async fn is_attached(
    store: &dyn Store,
    certificate_arn: &str,
    thing: &str,
) -> Result<bool, StoreError> {
    let mut after = None;
    loop {
        let page = store
            .things_of_principal(certificate_arn, &PageRequest::ascending(after, PAGE))
            .await?;
        if page.items.iter().any(|(name, _)| name == thing) {
            return Ok(true);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(false),
        }
    }
}

/// The groups a thing is directly in.
async fn thing_groups(store: &dyn Store, thing: &str) -> Result<Vec<String>, StoreError> {
    let mut groups = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .groups_of_thing(thing, &PageRequest::ascending(after, PAGE))
            .await?;
        groups.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(groups),
        }
    }
}

/// The DER of the first certificate of a stored PEM.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .ok()
        .map(|(_, block)| block.contents)
}

/// The certificate fields policies see, from a DER certificate: subject and issuer attributes
/// under AWS's names (in certificate order, repeats kept), the subject and issuer alternative
/// names, the serial number in decimal (as AWS IoT's `iot:Certificate.SerialNumber`), and the
/// validity dates. A certificate that does not parse (the registry only holds ones that do)
/// yields only its id.
pub fn certificate_context(certificate_id: &str, der: &[u8]) -> CertificateContext {
    let mut context = CertificateContext {
        id: certificate_id.to_owned(),
        ..CertificateContext::default()
    };
    let Ok((_, certificate)) = X509Certificate::from_der(der) else {
        return context;
    };
    context.subject = name_attributes(certificate.subject());
    context.issuer = name_attributes(certificate.issuer());
    context.serial_number = certificate.serial.to_string();
    let validity = certificate.validity();
    context.not_before = Some(validity_time(validity.not_before));
    context.not_after = Some(validity_time(validity.not_after));
    for extension in certificate.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(names) => {
                context
                    .subject_alternative_names
                    .extend(names.general_names.iter().filter_map(general_name));
            }
            ParsedExtension::IssuerAlternativeName(names) => {
                context
                    .issuer_alternative_names
                    .extend(names.general_names.iter().filter_map(general_name));
            }
            _ => {}
        }
    }
    context
}

/// A validity date as the context keeps it: seconds since the epoch (no policy variable reads
/// it; AWS IoT documents none).
fn validity_time(time: x509_parser::time::ASN1Time) -> String {
    time.timestamp().to_string()
}

/// The AWS IoT name of a distinguished-name attribute, by its OID.
fn aws_attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CommonName",
        "2.5.4.6" => "Country",
        "2.5.4.10" => "Organization",
        "2.5.4.11" => "OrganizationalUnit",
        "2.5.4.8" => "State",
        "2.5.4.7" => "Locality",
        "2.5.4.46" => "DistinguishedNameQualifier",
        "2.5.4.5" => "SerialNumber",
        "2.5.4.12" => "Title",
        "2.5.4.4" => "Surname",
        "2.5.4.42" => "GivenName",
        "2.5.4.43" => "Initials",
        "2.5.4.65" => "Pseudonym",
        "2.5.4.44" => "GenerationQualifier",
        _ => return None,
    })
}

/// The attributes of a name that policies can see, in certificate order; attributes AWS IoT
/// has no variable for, and values that are not text, are left out.
fn name_attributes(name: &X509Name<'_>) -> Vec<(String, String)> {
    name.iter_attributes()
        .filter_map(|attribute| {
            let field = aws_attribute_name(&attribute.attr_type().to_id_string())?;
            let value = attribute.as_str().ok()?;
            Some((field.to_owned(), value.to_owned()))
        })
        .collect()
}

/// An alternative name under AWS IoT's name for its kind.
fn general_name(name: &GeneralName<'_>) -> Option<(String, String)> {
    let (kind, value) = match name {
        GeneralName::DNSName(value) => ("DNSName", (*value).to_owned()),
        GeneralName::RFC822Name(value) => ("RFC822Name", (*value).to_owned()),
        GeneralName::URI(value) => ("UniformResourceIdentifier", (*value).to_owned()),
        GeneralName::DirectoryName(value) => ("DirectoryName", value.to_string()),
        GeneralName::IPAddress(bytes) => ("IPAddress", ip_address(bytes)?),
        _ => return None,
    };
    Some((kind.to_owned(), value))
}

/// The text of an IP address alternative name (4 or 16 bytes).
fn ip_address(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|v6| std::net::Ipv6Addr::from(v6).to_string())
}
