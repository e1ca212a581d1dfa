//! The Store traits: the reads and the conditional writes the registry needs, one trait per
//! family of resources, and [`Store`], which is all of them.
//!
//! The traits offer primitives (insert if absent, replace if the version still matches, delete,
//! paged lists), not AWS's rules: the API layer builds those on top once, for every backend.
//! Every write is durable when its future resolves. Page tokens are opaque to callers; a store
//! returns `None` as the next token on the last page.

use async_trait::async_trait;

use crate::model::{
    AccessKey, CaCertificate, Certificate, Page, PageRequest, Policy, PolicyVersion, ShadowRecord,
    Tag, Thing, ThingFilter, ThingGroup, ThingType, Timestamp, TopicRuleDestinationRecord,
    TopicRuleRecord,
};

/// A failure of the storage backend itself (not a rule of the API: those are the caller's).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (connection, IO, constraint it should not have hit).
    #[error("storage backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored row does not decode (a value out of its domain).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// The outcome of an insert-if-absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted<T> {
    /// The resource was created.
    Created,
    /// A resource with this key exists; here it is, unchanged.
    Exists(T),
}

/// Things.
#[async_trait]
pub trait ThingStore: Send + Sync {
    /// Inserts a thing unless one with its name exists.
    async fn insert_thing(&self, thing: &Thing) -> Result<Inserted<Thing>, StoreError>;
    /// The thing with this name.
    async fn thing(&self, name: &str) -> Result<Option<Thing>, StoreError>;
    /// Replaces a thing if its stored version is still `expected_version`; `false` if it is
    /// not, or if the thing is gone.
    async fn replace_thing(&self, thing: &Thing, expected_version: i64)
    -> Result<bool, StoreError>;
    /// Deletes a thing with its attributes, group memberships and principal attachments (tags,
    /// kept by ARN, are the caller's to remove); `false` if it did not exist.
    async fn delete_thing(&self, name: &str) -> Result<bool, StoreError>;
    /// Things in name order, filtered.
    async fn list_things(
        &self,
        filter: &ThingFilter,
        page: &PageRequest,
    ) -> Result<Page<Thing>, StoreError>;
    /// How many things have this type.
    async fn count_things_of_type(&self, thing_type: &str) -> Result<u64, StoreError>;
}

/// Thing types.
#[async_trait]
pub trait ThingTypeStore: Send + Sync {
    /// Inserts a thing type unless one with its name exists.
    async fn insert_thing_type(
        &self,
        thing_type: &ThingType,
    ) -> Result<Inserted<ThingType>, StoreError>;
    /// The thing type with this name.
    async fn thing_type(&self, name: &str) -> Result<Option<ThingType>, StoreError>;
    /// Replaces a thing type (deprecation, description); `false` if it is gone.
    async fn replace_thing_type(&self, thing_type: &ThingType) -> Result<bool, StoreError>;
    /// Deletes a thing type; `false` if it did not exist.
    async fn delete_thing_type(&self, name: &str) -> Result<bool, StoreError>;
    /// Thing types in name order, only `name` if given.
    async fn list_thing_types(
        &self,
        name: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ThingType>, StoreError>;
}

/// Static thing groups and their members.
#[async_trait]
pub trait ThingGroupStore: Send + Sync {
    /// Inserts a group unless one with its name exists.
    async fn insert_thing_group(
        &self,
        group: &ThingGroup,
    ) -> Result<Inserted<ThingGroup>, StoreError>;
    /// The group with this name.
    async fn thing_group(&self, name: &str) -> Result<Option<ThingGroup>, StoreError>;
    /// Replaces a group if its stored version is still `expected_version`.
    async fn replace_thing_group(
        &self,
        group: &ThingGroup,
        expected_version: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes a group with its attributes and memberships (its tags are the caller's);
    /// `false` if it did not exist. Child groups must be gone first.
    async fn delete_thing_group(&self, name: &str) -> Result<bool, StoreError>;
    /// Groups in name order: children of `parent` if given (all descendants when
    /// `recursive`), names starting with `name_prefix` if given.
    async fn list_thing_groups(
        &self,
        parent: Option<&str>,
        name_prefix: Option<&str>,
        recursive: bool,
        page: &PageRequest,
    ) -> Result<Page<ThingGroup>, StoreError>;
    /// The direct children of a group.
    async fn child_groups(&self, name: &str) -> Result<Vec<String>, StoreError>;
    /// Adds a thing to a group; `false` if it was a member already.
    async fn add_thing_to_group(&self, group: &str, thing: &str) -> Result<bool, StoreError>;
    /// Removes a thing from a group; `false` if it was not a member.
    async fn remove_thing_from_group(&self, group: &str, thing: &str) -> Result<bool, StoreError>;
    /// Names of the things in a group (and in its descendants when `recursive`), in name order.
    async fn things_in_group(
        &self,
        group: &str,
        recursive: bool,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError>;
    /// Names of the groups a thing belongs to directly, in name order.
    async fn groups_of_thing(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError>;
    /// The given groups and all their ancestors (the parent chain of each), each once, in name
    /// order: the groups whose policies apply to a thing in `groups`. Groups that do not exist
    /// are skipped.
    async fn ancestors_of_groups(&self, groups: &[String]) -> Result<Vec<String>, StoreError>;
}

/// Device and CA certificates.
#[async_trait]
pub trait CertificateStore: Send + Sync {
    /// Inserts a certificate unless one with its id exists.
    async fn insert_certificate(
        &self,
        certificate: &Certificate,
    ) -> Result<Inserted<Certificate>, StoreError>;
    /// The certificate with this id.
    async fn certificate(&self, id: &str) -> Result<Option<Certificate>, StoreError>;
    /// Replaces a certificate if its stored version is still `expected_version`.
    async fn replace_certificate(
        &self,
        certificate: &Certificate,
        expected_version: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes a certificate (its tags are the caller's); `false` if it did not exist.
    async fn delete_certificate(&self, id: &str) -> Result<bool, StoreError>;
    /// Certificates by creation time (then id), only those signed by `ca` if given.
    async fn list_certificates(
        &self,
        ca: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Certificate>, StoreError>;
    /// Inserts a CA certificate unless one with its id exists.
    async fn insert_ca_certificate(
        &self,
        ca: &CaCertificate,
    ) -> Result<Inserted<CaCertificate>, StoreError>;
    /// The CA certificate with this id.
    async fn ca_certificate(&self, id: &str) -> Result<Option<CaCertificate>, StoreError>;
    /// Replaces a CA certificate if its stored version is still `expected_version`.
    async fn replace_ca_certificate(
        &self,
        ca: &CaCertificate,
        expected_version: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes a CA certificate; `false` if it did not exist.
    async fn delete_ca_certificate(&self, id: &str) -> Result<bool, StoreError>;
    /// CA certificates by creation time (then id).
    async fn list_ca_certificates(
        &self,
        page: &PageRequest,
    ) -> Result<Page<CaCertificate>, StoreError>;
}

/// Which principals (certificate ARNs) are attached to which things.
#[async_trait]
pub trait PrincipalStore: Send + Sync {
    /// Attaches a principal to a thing; `false` if it was attached already.
    async fn attach_principal(
        &self,
        thing: &str,
        principal: &str,
        exclusive: bool,
    ) -> Result<bool, StoreError>;
    /// Detaches a principal from a thing; `false` if it was not attached.
    async fn detach_principal(&self, thing: &str, principal: &str) -> Result<bool, StoreError>;
    /// The principals of a thing with whether each is exclusive, in principal order.
    async fn principals_of_thing(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<(String, bool)>, StoreError>;
    /// The things a principal is attached to with whether exclusively, in name order.
    async fn things_of_principal(
        &self,
        principal: &str,
        page: &PageRequest,
    ) -> Result<Page<(String, bool)>, StoreError>;
}

/// The outcome of [`PolicyStore::insert_policy_version`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewPolicyVersion {
    /// The version was added; here it is.
    Created(PolicyVersion),
    /// The policy has as many versions as it may; nothing was added.
    LimitExceeded,
    /// There is no policy with this name.
    PolicyMissing,
}

/// The outcome of [`PolicyStore::delete_policy_version`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletedPolicyVersion {
    /// The version was deleted.
    Deleted,
    /// The version is the policy's default, which cannot be deleted; nothing was.
    IsDefault,
    /// There is no such policy or version.
    Missing,
}

/// The outcome of [`PolicyStore::delete_policy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletedPolicy {
    /// The policy and its default version were deleted.
    Deleted,
    /// The policy is attached to a target; nothing was deleted.
    Attached,
    /// The policy has versions besides its default; nothing was deleted.
    HasVersions,
    /// There is no policy with this name.
    Missing,
}

/// The outcome of [`PolicyStore::attach_policy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachedPolicy {
    /// The policy was attached.
    Attached,
    /// The policy was attached to the target already; nothing changed.
    AlreadyAttached,
    /// The target has as many policies as it may; nothing was attached.
    LimitExceeded,
    /// There is no policy with this name.
    PolicyMissing,
}

/// Policies, their versions, and the targets (certificate and thing-group ARNs, opaque here)
/// they are attached to.
///
/// The limits (versions per policy, policies per target) are the caller's to choose and the
/// store's to enforce, atomically: concurrent calls never exceed them.
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Inserts a policy with its first version (id 1, the default, created at `policy.created`)
    /// unless one with its name exists. The policy is stored with default version 1 whatever
    /// `policy.default_version_id` says, since no other version can exist yet.
    async fn insert_policy(
        &self,
        policy: &Policy,
        document: &str,
    ) -> Result<Inserted<Policy>, StoreError>;
    /// The policy with this name.
    async fn policy(&self, name: &str) -> Result<Option<Policy>, StoreError>;
    /// Policies in name order (`page.ascending` honoured; the token is a name).
    async fn list_policies(&self, page: &PageRequest) -> Result<Page<Policy>, StoreError>;
    /// One version of a policy.
    async fn policy_version(
        &self,
        name: &str,
        version_id: i64,
    ) -> Result<Option<PolicyVersion>, StoreError>;
    /// All versions of a policy, by id (none if the policy does not exist).
    async fn policy_versions(&self, name: &str) -> Result<Vec<PolicyVersion>, StoreError>;
    /// Adds a version with the next id (ids are never reused) unless the policy already has
    /// `max_versions`; makes it the default when `set_as_default` (updating `last_modified` to
    /// `now` and `generation_id`). Atomic: concurrent calls never exceed the limit.
    async fn insert_policy_version(
        &self,
        name: &str,
        document: &str,
        set_as_default: bool,
        max_versions: usize,
        now: Timestamp,
    ) -> Result<NewPolicyVersion, StoreError>;
    /// Makes a version the default (updating `last_modified` to `now` and `generation_id`);
    /// `false` if the policy or the version does not exist.
    async fn set_default_policy_version(
        &self,
        name: &str,
        version_id: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Deletes a version that is not the default.
    async fn delete_policy_version(
        &self,
        name: &str,
        version_id: i64,
    ) -> Result<DeletedPolicyVersion, StoreError>;
    /// Deletes a policy (and its default version) unless it is attached to any target or has
    /// other versions. Atomic: an attach or a new version cannot slip in between the checks and
    /// the delete.
    async fn delete_policy(&self, name: &str) -> Result<DeletedPolicy, StoreError>;
    /// Attaches a policy to a target unless the target already has `max_per_target` policies.
    /// Atomic: concurrent calls never exceed the limit.
    async fn attach_policy(
        &self,
        name: &str,
        target: &str,
        max_per_target: usize,
    ) -> Result<AttachedPolicy, StoreError>;
    /// Detaches a policy from a target; `false` if it was not attached.
    async fn detach_policy(&self, name: &str, target: &str) -> Result<bool, StoreError>;
    /// Removes every attachment of a target (its resource is being deleted); returns the names
    /// of the policies detached, in name order.
    async fn detach_all_policies(&self, target: &str) -> Result<Vec<String>, StoreError>;
    /// Names of the policies attached to a target, in name order.
    async fn policies_of_target(
        &self,
        target: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError>;
    /// The targets of a policy, in target order.
    async fn targets_of_policy(
        &self,
        name: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError>;
    /// The policies attached to any of `targets`, each once, with its default version, in name
    /// order: what a connection is held to. Read in one snapshot, not one query per target.
    async fn attached_policies(
        &self,
        targets: &[String],
    ) -> Result<Vec<(Policy, PolicyVersion)>, StoreError>;
    /// Policies by name with their default version, in name order; names of policies that do
    /// not exist are skipped, repeated names give the policy once.
    async fn policies_with_default_versions(
        &self,
        names: &[String],
    ) -> Result<Vec<(Policy, PolicyVersion)>, StoreError>;
}

/// Tags, by resource ARN.
#[async_trait]
pub trait TagStore: Send + Sync {
    /// Adds or replaces tags of a resource.
    async fn tag_resource(&self, arn: &str, tags: &[Tag]) -> Result<(), StoreError>;
    /// Removes tags of a resource by key.
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), StoreError>;
    /// The tags of a resource, in key order.
    async fn tags_of(&self, arn: &str, page: &PageRequest) -> Result<Page<Tag>, StoreError>;
}

/// Access keys of the AWS-compatible API.
#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// Inserts an access key unless one with its id exists.
    async fn insert_access_key(&self, key: &AccessKey) -> Result<Inserted<AccessKey>, StoreError>;
    /// The access key with this id.
    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, StoreError>;
    /// Every access key.
    async fn access_keys(&self) -> Result<Vec<AccessKey>, StoreError>;
}

/// Device shadows, by (thing name, shadow name), the classic shadow under the empty name.
///
/// Shadows are independent of the registry's things (deleting a thing keeps its shadows). A
/// deleted shadow stays as a record whose document is `None`, so its version counter survives
/// and a later write goes on from it; the shadow service decides versions, the store only
/// compares them.
#[async_trait]
pub trait ShadowStore: Send + Sync {
    /// The record of a shadow, deleted (document `None`) or not; `None` if it was never written.
    async fn shadow(&self, thing: &str, shadow: &str) -> Result<Option<ShadowRecord>, StoreError>;
    /// Writes a shadow if its stored version is still `expected_version` (`None`: only if no
    /// record exists, deleted or not). Atomic compare-and-swap: of two writers with the same
    /// expectation exactly one succeeds. `false` if the expectation failed; nothing is written
    /// then.
    async fn put_shadow(
        &self,
        record: &ShadowRecord,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Names of the thing's named shadows that exist (document not `None`), in name order
    /// (`page.ascending` honoured; the token is a name), paged. The classic shadow is not one.
    async fn named_shadows(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError>;
    /// Many writes in one transaction (one fsync), each with its expectation as in
    /// [`ShadowStore::put_shadow`]; returns whether each succeeded, in the order given. The
    /// writes apply in order, so a later write of the same shadow sees the earlier ones. For
    /// throughput under load: the shadow service batches concurrent updates of different
    /// shadows. On a backend error nothing of the batch is written.
    async fn put_shadows(
        &self,
        writes: &[(ShadowRecord, Option<i64>)],
    ) -> Result<Vec<bool>, StoreError>;
}

/// Topic rules and HTTP topic rule destinations (reference §5.1, §5.7).
///
/// The store keeps a rule's payload as opaque JSON; the API validates it before it gets here
/// and the rules engine parses it when it loads the rules.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Inserts a rule unless one with its name exists.
    async fn insert_topic_rule(
        &self,
        rule: &TopicRuleRecord,
    ) -> Result<Inserted<TopicRuleRecord>, StoreError>;
    /// The rule with this name.
    async fn topic_rule(&self, name: &str) -> Result<Option<TopicRuleRecord>, StoreError>;
    /// Rules in name order (ascending; the token is a name).
    async fn topic_rules(&self, page: &PageRequest) -> Result<Page<TopicRuleRecord>, StoreError>;
    /// Every rule, in name order: what the rules engine loads when it starts.
    async fn all_topic_rules(&self) -> Result<Vec<TopicRuleRecord>, StoreError>;
    /// Replaces a rule's payload and disabled flag, keeping its creation time; `false` if it is
    /// gone.
    async fn replace_topic_rule(
        &self,
        name: &str,
        payload: &str,
        disabled: bool,
    ) -> Result<bool, StoreError>;
    /// Sets whether a rule is disabled; `false` if it is gone.
    async fn set_topic_rule_disabled(&self, name: &str, disabled: bool)
    -> Result<bool, StoreError>;
    /// Deletes a rule (its tags are the caller's); `false` if it did not exist.
    async fn delete_topic_rule(&self, name: &str) -> Result<bool, StoreError>;

    /// Inserts a destination unless one with its confirmation URL (or its ARN) exists; the
    /// existing one is returned then.
    async fn insert_topic_rule_destination(
        &self,
        destination: &TopicRuleDestinationRecord,
    ) -> Result<Inserted<TopicRuleDestinationRecord>, StoreError>;
    /// The destination with this ARN.
    async fn topic_rule_destination(
        &self,
        arn: &str,
    ) -> Result<Option<TopicRuleDestinationRecord>, StoreError>;
    /// The destination whose outstanding confirmation token is `token`.
    async fn topic_rule_destination_by_token(
        &self,
        token: &str,
    ) -> Result<Option<TopicRuleDestinationRecord>, StoreError>;
    /// Destinations in ARN order (ascending; the token is an ARN).
    async fn topic_rule_destinations(
        &self,
        page: &PageRequest,
    ) -> Result<Page<TopicRuleDestinationRecord>, StoreError>;
    /// Every destination, in ARN order: what the rules engine loads when it starts.
    async fn all_topic_rule_destinations(
        &self,
    ) -> Result<Vec<TopicRuleDestinationRecord>, StoreError>;
    /// Replaces a destination's status, status reason, confirmation token and update time if
    /// its stored status is still `expected_status` and, when `expected_token` is given, its
    /// confirmation token is still that one (a compare-and-swap: of two concurrent transitions
    /// from one state exactly one succeeds); `false` if not, or if the destination is gone.
    /// The ARN, URL and creation time never change.
    async fn update_topic_rule_destination(
        &self,
        destination: &TopicRuleDestinationRecord,
        expected_status: &str,
        expected_token: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Deletes a destination; `false` if it did not exist.
    async fn delete_topic_rule_destination(&self, arn: &str) -> Result<bool, StoreError>;
}

/// Everything thingd keeps.
pub trait Store:
    ThingStore
    + ThingTypeStore
    + ThingGroupStore
    + CertificateStore
    + PrincipalStore
    + PolicyStore
    + TagStore
    + AccessKeyStore
    + ShadowStore
    + RuleStore
{
}

impl<T> Store for T where
    T: ThingStore
        + ThingTypeStore
        + ThingGroupStore
        + CertificateStore
        + PrincipalStore
        + PolicyStore
        + TagStore
        + AccessKeyStore
        + ShadowStore
        + RuleStore
{
}
