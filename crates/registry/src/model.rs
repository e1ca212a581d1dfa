//! What the registry keeps: things, thing types, thing groups, certificates, CA certificates,
//! policies and their versions, tags, access keys, device shadows, topic rules and topic rule
//! destinations, as plain values.

use std::collections::BTreeMap;
use std::fmt;

/// A point in time, in milliseconds since the Unix epoch (portable across SQLite and PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp(millis)
    }

    /// Seconds since the epoch with fractions, as restJson1 serializes timestamps.
    pub fn as_epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

/// Attributes of a thing or thing group: names to string values, ordered for stable output.
pub type Attributes = BTreeMap<String, String>;

/// A thing (AWS IoT registry §2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thing {
    /// The name, unique, immutable.
    pub name: String,
    /// An opaque id assigned at creation.
    pub id: String,
    /// The thing type, if any.
    pub thing_type: Option<String>,
    /// Attributes.
    pub attributes: Attributes,
    /// 1 at creation, incremented by every update.
    pub version: i64,
    /// When it was created.
    pub created: Timestamp,
}

/// A thing type (§2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThingType {
    /// The name.
    pub name: String,
    /// An opaque id.
    pub id: String,
    /// The description.
    pub description: Option<String>,
    /// Up to three attribute names that ListThings searches.
    pub searchable_attributes: Vec<String>,
    /// When it was deprecated, if it is.
    pub deprecated: Option<Timestamp>,
    /// When it was created.
    pub created: Timestamp,
}

/// A static thing group (§2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThingGroup {
    /// The name.
    pub name: String,
    /// An opaque id.
    pub id: String,
    /// The parent group, fixed at creation.
    pub parent: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// Attributes.
    pub attributes: Attributes,
    /// 1 at creation, incremented by every update.
    pub version: i64,
    /// When it was created.
    pub created: Timestamp,
}

/// The status of a device certificate (§3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertificateStatus {
    /// May authenticate.
    Active,
    /// Registered but may not authenticate.
    Inactive,
    /// Revoked: may not authenticate, and may not become active again.
    Revoked,
    /// Awaiting activation (just-in-time registration).
    PendingActivation,
    /// Being transferred to another account.
    PendingTransfer,
    /// Registered inactive (deprecated AWS status).
    RegisterInactive,
}

impl CertificateStatus {
    /// The status as the API spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Active => "ACTIVE",
            CertificateStatus::Inactive => "INACTIVE",
            CertificateStatus::Revoked => "REVOKED",
            CertificateStatus::PendingActivation => "PENDING_ACTIVATION",
            CertificateStatus::PendingTransfer => "PENDING_TRANSFER",
            CertificateStatus::RegisterInactive => "REGISTER_INACTIVE",
        }
    }

    /// The status with this spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ACTIVE" => CertificateStatus::Active,
            "INACTIVE" => CertificateStatus::Inactive,
            "REVOKED" => CertificateStatus::Revoked,
            "PENDING_ACTIVATION" => CertificateStatus::PendingActivation,
            "PENDING_TRANSFER" => CertificateStatus::PendingTransfer,
            "REGISTER_INACTIVE" => CertificateStatus::RegisterInactive,
            _ => return None,
        })
    }
}

impl fmt::Display for CertificateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a CA certificate (§3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaStatus {
    /// Certificates it signed may authenticate.
    Active,
    /// Certificates it signed may not authenticate.
    Inactive,
}

impl CaStatus {
    /// The status as the API spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CaStatus::Active => "ACTIVE",
            CaStatus::Inactive => "INACTIVE",
        }
    }

    /// The status with this spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ACTIVE" => Some(CaStatus::Active),
            "INACTIVE" => Some(CaStatus::Inactive),
            _ => None,
        }
    }
}

/// A device certificate known to the registry (§3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The lowercase hex SHA-256 of the DER.
    pub id: String,
    /// The certificate, PEM.
    pub pem: String,
    /// The registered CA that signed it, if any.
    pub ca_certificate_id: Option<String>,
    /// The status.
    pub status: CertificateStatus,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// When it was registered.
    pub created: Timestamp,
    /// When its status last changed.
    pub last_modified: Timestamp,
    /// Incremented by every change, as AWS's `customerVersion`.
    pub version: i64,
    /// A fresh id for every change, as AWS's `generationId`.
    pub generation_id: String,
}

/// A registered CA certificate (§3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaCertificate {
    /// The lowercase hex SHA-256 of the DER.
    pub id: String,
    /// The certificate, PEM.
    pub pem: String,
    /// The status.
    pub status: CaStatus,
    /// Whether devices it signed are registered when they first connect.
    pub auto_registration: bool,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// When it was registered.
    pub created: Timestamp,
    /// When it last changed.
    pub last_modified: Timestamp,
    /// Incremented by every change.
    pub version: i64,
    /// A fresh id for every change.
    pub generation_id: String,
}

/// An AWS IoT policy (§4.7): its name and which of its versions is in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The name, unique, immutable.
    pub name: String,
    /// The version in force: the only one evaluated when authorizing.
    pub default_version_id: i64,
    /// When it was created.
    pub created: Timestamp,
    /// When its default version last changed.
    pub last_modified: Timestamp,
    /// A fresh id for every change of the policy (of its default version), as AWS's
    /// `generationId`.
    pub generation_id: String,
}

/// One version of a policy's document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVersion {
    /// The policy it belongs to.
    pub policy_name: String,
    /// 1, 2, 3...: increasing, and never reused after a version is deleted.
    pub version_id: i64,
    /// The policy document, exactly as given.
    pub document: String,
    /// When it was created.
    pub created: Timestamp,
}

/// A device shadow as stored: one per (thing name, shadow name), the classic shadow under the
/// empty name. Shadows do not depend on the registry's things: deleting a thing keeps its
/// shadows, as AWS IoT does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowRecord {
    /// The thing's name (whether or not the registry has such a thing).
    pub thing: String,
    /// The shadow's name; empty for the classic (unnamed) shadow.
    pub shadow: String,
    /// The shadow document (JSON, opaque here); `None` once the shadow is deleted, which keeps
    /// the record so that its version counter goes on from where it was.
    pub document: Option<String>,
    /// The version counter, kept through deletes; what conditional writes compare.
    pub version: i64,
    /// When it was last written.
    pub updated: Timestamp,
}

/// A topic rule as stored (reference §5.1). The payload is kept as the JSON that was accepted,
/// so that GetTopicRule gives back what was created; parsing it is the rules crate's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRuleRecord {
    /// The rule's name (`^[a-zA-Z0-9_]{1,128}$`), unique, immutable.
    pub name: String,
    /// The `TopicRulePayload` JSON as accepted by CreateTopicRule or ReplaceTopicRule.
    pub payload: String,
    /// Whether the rule is disabled: the payload's `ruleDisabled` at create or replace, then
    /// whatever EnableTopicRule and DisableTopicRule set.
    pub disabled: bool,
    /// When it was created (kept by ReplaceTopicRule).
    pub created: Timestamp,
}

/// An HTTP topic rule destination as stored (reference §5.7): the URL prefix that `http`
/// actions may post to once it is confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRuleDestinationRecord {
    /// `arn:aws:iot:{region}:{account}:ruledestination/http/{uuid}`, unique.
    pub arn: String,
    /// The confirmation URL, unique among destinations.
    pub confirmation_url: String,
    /// `ENABLED`, `IN_PROGRESS`, `DISABLED` or `ERROR`.
    pub status: String,
    /// Why the destination has its status, when there is something to say.
    pub status_reason: Option<String>,
    /// The token that ConfirmTopicRuleDestination takes, while one is outstanding.
    pub confirmation_token: Option<String>,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
}

/// A tag on a resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// An access key for the AWS-compatible API (SigV4). The secret never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id (`AKIA...`-shaped).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// A name for the key's holder (`admin` for the key `serve` creates).
    pub user: String,
    /// When it was created.
    pub created: Timestamp,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("user", &self.user)
            .finish()
    }
}

/// A page request: where to start and how many at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// The token (or marker) a previous page returned.
    pub after: Option<String>,
    /// The most items to return.
    pub limit: usize,
    /// Ascending order of the key (false: descending), for the APIs that offer both.
    pub ascending: bool,
}

impl PageRequest {
    /// At most `limit` items in ascending key order, after the token `after` (from the first
    /// without one).
    pub fn ascending(after: Option<String>, limit: usize) -> Self {
        PageRequest {
            after,
            limit,
            ascending: true,
        }
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The token of the next page, if there is one.
    pub next: Option<String>,
}

/// What ListThings filters on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThingFilter {
    /// Only things with this attribute...
    pub attribute_name: Option<String>,
    /// ...with this value (or value prefix).
    pub attribute_value: Option<String>,
    /// Whether `attribute_value` is a prefix.
    pub attribute_value_prefix: bool,
    /// Only things of this type.
    pub thing_type: Option<String>,
}
