//! `PolicyStore`: policies, their versions and attachments, the limits enforced under
//! concurrency, the reads the authorizer makes; and `ThingGroupStore::ancestors_of_groups`,
//! which the authorizer uses to find the groups whose policies apply.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use thingd_registry::{
    AttachedPolicy, DeletedPolicy, DeletedPolicyVersion, Inserted, NewPolicyVersion, Policy,
    PolicyVersion, Store, Timestamp,
};

use crate::support::{
    NAMES, all, assert_empty, assert_insert_if_absent, assert_pages, cert_id, group, one_page,
    ordered, sorted,
};

/// The creation time of the policies of these cases.
const CREATED: i64 = 1_700_000_000_000;

/// A policy as a caller creates it: default version 1, never modified.
fn policy(name: &str) -> Policy {
    Policy {
        name: name.to_owned(),
        default_version_id: 1,
        created: Timestamp(CREATED),
        last_modified: Timestamp(CREATED),
        generation_id: format!("gen-{name}"),
    }
}

/// A policy document, distinct for every `n`.
fn document(n: u32) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/t{n}"}}]}}"#
    )
}

/// The ARN of a certificate, as a target.
fn cert_target(n: u32) -> String {
    format!("arn:aws:iot:us-east-1:123456789012:cert/{}", cert_id(n))
}

/// The ARN of a thing group, as a target.
fn group_target(name: &str) -> String {
    format!("arn:aws:iot:us-east-1:123456789012:thinggroup/{name}")
}

/// Creates a policy whose first version holds `document(1)`; returns it as stored.
async fn create(store: &dyn Store, name: &str) -> Policy {
    assert_eq!(
        store
            .insert_policy(&policy(name), &document(1))
            .await
            .unwrap(),
        Inserted::Created,
        "{name}"
    );
    store.policy(name).await.unwrap().unwrap()
}

/// Adds a version, which must be created; returns it.
async fn add_version(
    store: &dyn Store,
    name: &str,
    n: u32,
    set_as_default: bool,
    now: i64,
) -> PolicyVersion {
    match store
        .insert_policy_version(name, &document(n), set_as_default, 5, Timestamp(now))
        .await
        .unwrap()
    {
        NewPolicyVersion::Created(version) => version,
        other => panic!("version {n} of {name}: {other:?}"),
    }
}

async fn version_ids(store: &dyn Store, name: &str) -> Vec<i64> {
    store
        .policy_versions(name)
        .await
        .unwrap()
        .iter()
        .map(|v| v.version_id)
        .collect()
}

async fn policies_of(store: &dyn Store, target: &str) -> Vec<String> {
    one_page(store.policies_of_target(target, &all()).await)
}

async fn targets_of(store: &dyn Store, name: &str) -> Vec<String> {
    one_page(store.targets_of_policy(name, &all()).await)
}

/// The names of (policy, version) pairs, checking each version is its policy's default.
fn names(pairs: &[(Policy, PolicyVersion)]) -> Vec<String> {
    for (policy, version) in pairs {
        assert_eq!(version.policy_name, policy.name);
        assert_eq!(version.version_id, policy.default_version_id);
    }
    pairs.iter().map(|(p, _)| p.name.clone()).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Insert-if-absent creates the policy with version 1 as its default, then answers `Exists`
/// with the stored policy, adding no version.
pub(crate) async fn insert_if_absent(store: &dyn Store) {
    let original = policy("p");
    let mut other = policy("p");
    other.created = Timestamp(5);
    other.last_modified = Timestamp(6);
    other.generation_id = "other".into();
    other.default_version_id = 3;
    assert_insert_if_absent(
        &original,
        &other,
        async |p| store.insert_policy(p, &document(1)).await,
        async || store.policy("p").await,
    )
    .await;
    assert_eq!(
        store.insert_policy(&other, &document(2)).await.unwrap(),
        Inserted::Exists(original.clone())
    );
    assert_eq!(
        store.policy_versions("p").await.unwrap(),
        vec![PolicyVersion {
            policy_name: "p".into(),
            version_id: 1,
            document: document(1),
            created: Timestamp(CREATED),
        }],
        "only the first insert's version"
    );

    // The first version is 1 whatever the caller's policy says.
    let mut odd = policy("odd");
    odd.default_version_id = 7;
    store.insert_policy(&odd, &document(1)).await.unwrap();
    let stored = store.policy("odd").await.unwrap().unwrap();
    assert_eq!(stored.default_version_id, 1);
    assert_eq!(version_ids(store, "odd").await, vec![1]);
}

/// Two inserts of one policy at once: exactly one creates it, with its document.
pub(crate) async fn concurrent_inserts_one_wins(store: &dyn Store) {
    for n in 0..10 {
        let name = format!("p{n}");
        let mut left = policy(&name);
        left.generation_id = "left".into();
        let mut right = policy(&name);
        right.generation_id = "right".into();
        let (left_document, right_document) = (document(1), document(2));
        let (l, r) = tokio::join!(
            store.insert_policy(&left, &left_document),
            store.insert_policy(&right, &right_document)
        );
        let (winner, document) = match (l.unwrap(), r.unwrap()) {
            (Inserted::Created, Inserted::Exists(seen)) => {
                assert_eq!(seen, left);
                (left, left_document)
            }
            (Inserted::Exists(seen), Inserted::Created) => {
                assert_eq!(seen, right);
                (right, right_document)
            }
            other => panic!("{n}: {other:?}"),
        };
        assert_eq!(store.policy(&name).await.unwrap(), Some(winner));
        let versions = store.policy_versions(&name).await.unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].document, document, "the winner's document");
    }
}

/// A missing policy: nothing to read, version, set, delete, attach or list.
pub(crate) async fn missing(store: &dyn Store) {
    assert_eq!(store.policy("nope").await.unwrap(), None);
    assert_eq!(store.policy_version("nope", 1).await.unwrap(), None);
    assert!(store.policy_versions("nope").await.unwrap().is_empty());
    assert_eq!(
        store
            .insert_policy_version("nope", &document(2), true, 5, Timestamp(1))
            .await
            .unwrap(),
        NewPolicyVersion::PolicyMissing
    );
    assert!(
        !store
            .set_default_policy_version("nope", 1, Timestamp(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.delete_policy_version("nope", 1).await.unwrap(),
        DeletedPolicyVersion::Missing
    );
    assert_eq!(
        store.delete_policy("nope").await.unwrap(),
        DeletedPolicy::Missing
    );
    assert_eq!(
        store
            .attach_policy("nope", &cert_target(1), 10)
            .await
            .unwrap(),
        AttachedPolicy::PolicyMissing
    );
    assert!(!store.detach_policy("nope", &cert_target(1)).await.unwrap());
    assert!(
        store
            .detach_all_policies(&cert_target(1))
            .await
            .unwrap()
            .is_empty()
    );
    for ascending in [true, false] {
        assert_empty(store.list_policies(&ordered(1000, ascending)).await);
    }
    assert_empty(store.policies_of_target(&cert_target(1), &all()).await);
    assert_empty(store.targets_of_policy("nope", &all()).await);
    assert!(store.attached_policies(&[]).await.unwrap().is_empty());
    assert!(
        store
            .attached_policies(&[cert_target(1)])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .policies_with_default_versions(&[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .policies_with_default_versions(&strings(&["nope"]))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.policy("nope").await.unwrap(), None, "nothing created");

    // A policy that exists but lacks the version asked for.
    create(store, "p").await;
    assert_eq!(store.policy_version("p", 2).await.unwrap(), None);
    assert!(
        !store
            .set_default_policy_version("p", 2, Timestamp(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.delete_policy_version("p", 2).await.unwrap(),
        DeletedPolicyVersion::Missing
    );
    assert_eq!(store.policy("p").await.unwrap(), Some(policy("p")));
}

/// Every field survives; a document is kept byte for byte (whitespace, escapes, non-ASCII,
/// large).
pub(crate) async fn round_trip(store: &dyn Store) {
    let documents = [
        "{\n  \"Version\": \"2012-10-17\",\n\t\"Statement\": []\n}\n".to_owned(),
        r#"{"Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"arn:aws:iot:*:*:topic/${iot:Connection.Thing.ThingName}/\u00e9"}]}"#
            .to_owned(),
        "  leading and trailing spaces, 'quotes', \"double\", émoji 🚀, NUL-free  ".to_owned(),
        format!(r#"{{"Statement":[{}]}}"#, "x".repeat(400_000)),
    ];
    for (n, text) in (1..).zip(&documents) {
        let name = format!("policy-{n}");
        let p = Policy {
            name: name.clone(),
            default_version_id: 1,
            created: Timestamp(-86_400_000 * i64::from(n)),
            last_modified: Timestamp(253_402_300_799_000),
            generation_id: format!("{n:032x}"),
        };
        assert_eq!(
            store.insert_policy(&p, text).await.unwrap(),
            Inserted::Created
        );
        assert_eq!(store.policy(&name).await.unwrap(), Some(p.clone()));
        let version = PolicyVersion {
            policy_name: name.clone(),
            version_id: 1,
            document: text.clone(),
            created: p.created,
        };
        assert_eq!(
            store.policy_version(&name, 1).await.unwrap(),
            Some(version.clone())
        );
        let added = add_version(store, &name, n, false, 42).await;
        assert_eq!(
            store.policy_versions(&name).await.unwrap(),
            vec![version.clone(), added]
        );
        assert_eq!(
            store
                .policies_with_default_versions(std::slice::from_ref(&name))
                .await
                .unwrap(),
            vec![(p, version)]
        );
    }
}

/// A new version takes the next id; only one made the default changes the policy (default,
/// last modified, generation id), and only that one.
pub(crate) async fn versions_and_the_default(store: &dyn Store) {
    let original = create(store, "p").await;

    let v2 = add_version(store, "p", 2, false, 2_000).await;
    assert_eq!(
        v2,
        PolicyVersion {
            policy_name: "p".into(),
            version_id: 2,
            document: document(2),
            created: Timestamp(2_000),
        }
    );
    assert_eq!(store.policy_version("p", 2).await.unwrap(), Some(v2));
    assert_eq!(
        store.policy("p").await.unwrap(),
        Some(original.clone()),
        "a version that is not the default leaves the policy as it was"
    );

    let v3 = add_version(store, "p", 3, true, 3_000).await;
    assert_eq!(v3.version_id, 3);
    let after_v3 = store.policy("p").await.unwrap().unwrap();
    assert_eq!(after_v3.default_version_id, 3);
    assert_eq!(after_v3.last_modified, Timestamp(3_000));
    assert_eq!(after_v3.created, original.created, "creation time kept");
    assert_ne!(after_v3.generation_id, original.generation_id);
    assert!(!after_v3.generation_id.is_empty());

    assert!(
        store
            .set_default_policy_version("p", 1, Timestamp(4_000))
            .await
            .unwrap()
    );
    let after_set = store.policy("p").await.unwrap().unwrap();
    assert_eq!(after_set.default_version_id, 1);
    assert_eq!(after_set.last_modified, Timestamp(4_000));
    assert_eq!(after_set.created, original.created);
    let mut generations = BTreeSet::from([
        original.generation_id.clone(),
        after_v3.generation_id.clone(),
    ]);
    assert!(
        generations.insert(after_set.generation_id.clone()),
        "a fresh generation id: {after_set:?}"
    );

    // Every change of the default makes a generation id never seen before.
    for (round, version) in (0..).zip([2, 3, 1, 2, 2]) {
        let now = Timestamp(5_000 + round);
        assert!(
            store
                .set_default_policy_version("p", version, now)
                .await
                .unwrap()
        );
        let p = store.policy("p").await.unwrap().unwrap();
        assert_eq!((p.default_version_id, p.last_modified), (version, now));
        assert!(generations.insert(p.generation_id), "round {round}");
    }
    assert_eq!(version_ids(store, "p").await, vec![1, 2, 3]);
    let documents: Vec<String> = store
        .policy_versions("p")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.document)
        .collect();
    assert_eq!(documents, vec![document(1), document(2), document(3)]);
}

/// Version ids only grow: a deleted version's id, even the highest, is not given again.
pub(crate) async fn version_ids_are_not_reused(store: &dyn Store) {
    create(store, "p").await;
    for n in 2..=4 {
        add_version(store, "p", n, false, 1).await;
    }
    assert_eq!(
        store.delete_policy_version("p", 4).await.unwrap(),
        DeletedPolicyVersion::Deleted
    );
    assert_eq!(
        store.delete_policy_version("p", 3).await.unwrap(),
        DeletedPolicyVersion::Deleted
    );
    assert_eq!(add_version(store, "p", 5, false, 1).await.version_id, 5);
    assert_eq!(version_ids(store, "p").await, vec![1, 2, 5]);
    assert_eq!(add_version(store, "p", 6, true, 1).await.version_id, 6);
    assert_eq!(
        store.delete_policy_version("p", 1).await.unwrap(),
        DeletedPolicyVersion::Deleted,
        "the first version is deletable once it is not the default"
    );
    assert_eq!(add_version(store, "p", 7, false, 1).await.version_id, 7);
    assert_eq!(version_ids(store, "p").await, vec![2, 5, 6, 7]);

    // Another policy counts from 1 on its own.
    create(store, "q").await;
    assert_eq!(add_version(store, "q", 2, false, 1).await.version_id, 2);
}

/// A policy holds at most `max_versions`; at the limit nothing is added (not even made the
/// default), and deleting one makes room.
pub(crate) async fn version_limit(store: &dyn Store) {
    let original = create(store, "p").await;
    for n in 2..=5 {
        add_version(store, "p", n, false, 1).await;
    }
    assert_eq!(
        store
            .insert_policy_version("p", &document(6), true, 5, Timestamp(9))
            .await
            .unwrap(),
        NewPolicyVersion::LimitExceeded
    );
    assert_eq!(version_ids(store, "p").await, vec![1, 2, 3, 4, 5]);
    assert_eq!(
        store.policy("p").await.unwrap(),
        Some(original),
        "unchanged"
    );
    // The limit is the caller's: a lower one is already exceeded, a higher one leaves room.
    assert_eq!(
        store
            .insert_policy_version("p", &document(6), false, 3, Timestamp(9))
            .await
            .unwrap(),
        NewPolicyVersion::LimitExceeded
    );
    assert_eq!(
        store
            .insert_policy_version("p", &document(6), false, 0, Timestamp(9))
            .await
            .unwrap(),
        NewPolicyVersion::LimitExceeded
    );
    assert_eq!(
        store.delete_policy_version("p", 3).await.unwrap(),
        DeletedPolicyVersion::Deleted
    );
    assert_eq!(add_version(store, "p", 6, false, 1).await.version_id, 6);
    assert_eq!(
        store
            .insert_policy_version("p", &document(7), false, 5, Timestamp(9))
            .await
            .unwrap(),
        NewPolicyVersion::LimitExceeded
    );
    match store
        .insert_policy_version("p", &document(7), false, 6, Timestamp(9))
        .await
        .unwrap()
    {
        NewPolicyVersion::Created(v) => assert_eq!(v.version_id, 7),
        other => panic!("{other:?}"),
    }
}

/// Ten versions added at once to a policy with one, limit five: exactly four are created, with
/// distinct ids 2..=5, and the policy ends with five.
pub(crate) async fn concurrent_versions_respect_the_limit(store: &dyn Store) {
    for round in 0..3 {
        let name = format!("p{round}");
        create(store, &name).await;
        let documents: Vec<String> = (0..10).map(document).collect();
        let outcomes = join_all((0_i64..).zip(&documents).map(|(n, text)| {
            store.insert_policy_version(&name, text, n % 2 == 0, 5, Timestamp(n))
        }))
        .await;
        let mut created = Vec::new();
        for outcome in outcomes {
            match outcome.unwrap() {
                NewPolicyVersion::Created(v) => created.push(v.version_id),
                NewPolicyVersion::LimitExceeded => {}
                other => panic!("{other:?}"),
            }
        }
        created.sort_unstable();
        assert_eq!(created, vec![2, 3, 4, 5], "round {round}");
        assert_eq!(version_ids(store, &name).await, vec![1, 2, 3, 4, 5]);
        let p = store.policy(&name).await.unwrap().unwrap();
        assert!(
            store
                .policy_version(&name, p.default_version_id)
                .await
                .unwrap()
                .is_some(),
            "the default is a version that exists: {p:?}"
        );
    }
}

/// A version is deleted unless it is the default; deleting it again finds nothing.
pub(crate) async fn delete_version(store: &dyn Store) {
    create(store, "p").await;
    add_version(store, "p", 2, true, 1).await;
    add_version(store, "p", 3, false, 1).await;
    assert_eq!(
        store.delete_policy_version("p", 2).await.unwrap(),
        DeletedPolicyVersion::IsDefault
    );
    assert_eq!(
        version_ids(store, "p").await,
        vec![1, 2, 3],
        "nothing deleted"
    );
    assert_eq!(
        store.delete_policy_version("p", 3).await.unwrap(),
        DeletedPolicyVersion::Deleted
    );
    assert_eq!(
        store.delete_policy_version("p", 3).await.unwrap(),
        DeletedPolicyVersion::Missing
    );
    assert_eq!(store.policy_version("p", 3).await.unwrap(), None);
    assert_eq!(version_ids(store, "p").await, vec![1, 2]);
    assert!(
        !store
            .set_default_policy_version("p", 3, Timestamp(1))
            .await
            .unwrap(),
        "a deleted version cannot become the default"
    );
    assert_eq!(
        store.policy("p").await.unwrap().unwrap().default_version_id,
        2
    );
    // Versions belong to their policy: deleting one of another's ids does nothing here.
    create(store, "q").await;
    add_version(store, "q", 2, false, 1).await;
    assert_eq!(
        store.delete_policy_version("q", 1).await.unwrap(),
        DeletedPolicyVersion::IsDefault
    );
    assert_eq!(
        store.delete_policy_version("q", 2).await.unwrap(),
        DeletedPolicyVersion::Deleted
    );
    assert_eq!(version_ids(store, "p").await, vec![1, 2]);
}

/// A policy is deleted (with its default version) only when it has no other version and no
/// target; the conflicts delete nothing.
pub(crate) async fn delete_policy_conflicts(store: &dyn Store) {
    create(store, "p").await;
    add_version(store, "p", 2, false, 1).await;
    let target = cert_target(1);
    assert_eq!(
        store.attach_policy("p", &target, 10).await.unwrap(),
        AttachedPolicy::Attached
    );
    assert_eq!(
        store.delete_policy("p").await.unwrap(),
        DeletedPolicy::Attached
    );
    assert!(store.detach_policy("p", &target).await.unwrap());
    assert_eq!(
        store.delete_policy("p").await.unwrap(),
        DeletedPolicy::HasVersions
    );
    assert_eq!(version_ids(store, "p").await, vec![1, 2], "nothing deleted");
    assert!(store.policy("p").await.unwrap().is_some());

    // Attached to a thing group as well as having versions: attached is answered first.
    assert_eq!(
        store
            .attach_policy("p", &group_target("g"), 10)
            .await
            .unwrap(),
        AttachedPolicy::Attached
    );
    assert_eq!(
        store.delete_policy("p").await.unwrap(),
        DeletedPolicy::Attached
    );
    assert_eq!(
        store.detach_all_policies(&group_target("g")).await.unwrap(),
        vec!["p".to_owned()]
    );

    // Left with only its default (not its first) version, it is deleted.
    add_version(store, "p", 3, true, 1).await;
    for version in [1, 2] {
        assert_eq!(
            store.delete_policy_version("p", version).await.unwrap(),
            DeletedPolicyVersion::Deleted
        );
    }
    assert_eq!(version_ids(store, "p").await, vec![3]);
    assert_eq!(
        store.delete_policy("p").await.unwrap(),
        DeletedPolicy::Deleted
    );
    assert_eq!(store.policy("p").await.unwrap(), None);
    assert!(
        store.policy_versions("p").await.unwrap().is_empty(),
        "its versions went with it"
    );
    assert_eq!(
        store.delete_policy("p").await.unwrap(),
        DeletedPolicy::Missing
    );

    // A policy created again under the name starts afresh.
    create(store, "p").await;
    assert_eq!(version_ids(store, "p").await, vec![1]);
    assert_eq!(
        store
            .policy_version("p", 1)
            .await
            .unwrap()
            .unwrap()
            .document,
        document(1)
    );
    assert_eq!(add_version(store, "p", 2, false, 1).await.version_id, 2);
}

/// A delete racing an attach: either the delete wins (and the attach finds no policy) or the
/// attach does (and the delete finds it attached); never a deleted policy left attached.
pub(crate) async fn concurrent_delete_and_attach(store: &dyn Store) {
    for n in 0..20 {
        let name = format!("p{n}");
        create(store, &name).await;
        let target = cert_target(n);
        let (deleted, attached) = tokio::join!(
            store.delete_policy(&name),
            store.attach_policy(&name, &target, 10)
        );
        match (deleted.unwrap(), attached.unwrap()) {
            (DeletedPolicy::Deleted, AttachedPolicy::PolicyMissing) => {
                assert_eq!(store.policy(&name).await.unwrap(), None);
                assert!(policies_of(store, &target).await.is_empty());
            }
            (DeletedPolicy::Attached, AttachedPolicy::Attached) => {
                assert!(store.policy(&name).await.unwrap().is_some());
                assert_eq!(policies_of(store, &target).await, vec![name.clone()]);
            }
            other => panic!("{n}: {other:?}"),
        }
    }
}

/// Policies list in byte order of their names, ascending and descending, in pages of any size.
pub(crate) async fn list_pages(store: &dyn Store) {
    for name in NAMES {
        create(store, name).await;
    }
    let ascending: Vec<Policy> = sorted(&NAMES).iter().map(|n| policy(n)).collect();
    let mut descending = ascending.clone();
    descending.reverse();
    assert_pages(&ascending, true, async |p| store.list_policies(&p).await).await;
    assert_pages(&descending, false, async |p| store.list_policies(&p).await).await;

    // A changed default shows in the list.
    add_version(store, "b", 2, true, 7).await;
    let listed = one_page(store.list_policies(&all()).await);
    let b = listed.iter().find(|p| p.name == "b").unwrap();
    assert_eq!((b.default_version_id, b.last_modified), (2, Timestamp(7)));
}

/// Attaching and detaching say whether anything changed, and both directions agree.
pub(crate) async fn attach_and_detach(store: &dyn Store) {
    for name in ["p1", "p2"] {
        create(store, name).await;
    }
    let (c1, g1) = (cert_target(1), group_target("g1"));
    assert_eq!(
        store.attach_policy("p1", &c1, 10).await.unwrap(),
        AttachedPolicy::Attached
    );
    assert_eq!(
        store.attach_policy("p1", &c1, 10).await.unwrap(),
        AttachedPolicy::AlreadyAttached
    );
    assert_eq!(
        store.attach_policy("p2", &c1, 10).await.unwrap(),
        AttachedPolicy::Attached
    );
    assert_eq!(
        store.attach_policy("p1", &g1, 10).await.unwrap(),
        AttachedPolicy::Attached
    );
    assert_eq!(policies_of(store, &c1).await, strings(&["p1", "p2"]));
    assert_eq!(policies_of(store, &g1).await, strings(&["p1"]));
    let mut p1_targets = vec![c1.clone(), g1.clone()];
    p1_targets.sort();
    assert_eq!(targets_of(store, "p1").await, p1_targets);
    assert_eq!(targets_of(store, "p2").await, vec![c1.clone()]);

    assert!(store.detach_policy("p1", &c1).await.unwrap());
    assert!(
        !store.detach_policy("p1", &c1).await.unwrap(),
        "detached already"
    );
    assert!(
        !store.detach_policy("p2", &g1).await.unwrap(),
        "never attached"
    );
    assert_eq!(policies_of(store, &c1).await, strings(&["p2"]));
    assert_eq!(targets_of(store, "p1").await, vec![g1.clone()]);
    assert_eq!(
        store.attach_policy("p1", &c1, 10).await.unwrap(),
        AttachedPolicy::Attached,
        "attachable again"
    );
}

/// A target holds at most `max_per_target` policies; attaching one it holds already is not
/// refused at the limit; other targets are not counted.
pub(crate) async fn attach_limit(store: &dyn Store) {
    for n in 1..=4 {
        create(store, &format!("p{n}")).await;
    }
    let target = cert_target(1);
    for n in 1..=3 {
        assert_eq!(
            store
                .attach_policy(&format!("p{n}"), &target, 3)
                .await
                .unwrap(),
            AttachedPolicy::Attached
        );
    }
    assert_eq!(
        store.attach_policy("p4", &target, 3).await.unwrap(),
        AttachedPolicy::LimitExceeded
    );
    assert_eq!(
        store.attach_policy("p2", &target, 3).await.unwrap(),
        AttachedPolicy::AlreadyAttached
    );
    assert_eq!(
        store.attach_policy("p4", &target, 2).await.unwrap(),
        AttachedPolicy::LimitExceeded,
        "a lower limit than the target holds"
    );
    assert_eq!(
        store.attach_policy("nope", &target, 3).await.unwrap(),
        AttachedPolicy::PolicyMissing
    );
    assert_eq!(
        policies_of(store, &target).await,
        strings(&["p1", "p2", "p3"])
    );
    assert_eq!(
        store.attach_policy("p4", &cert_target(2), 1).await.unwrap(),
        AttachedPolicy::Attached,
        "another target has its own count"
    );
    assert!(store.detach_policy("p1", &target).await.unwrap());
    assert_eq!(
        store.attach_policy("p4", &target, 3).await.unwrap(),
        AttachedPolicy::Attached
    );
    assert_eq!(
        policies_of(store, &target).await,
        strings(&["p2", "p3", "p4"])
    );
}

/// Twenty policies attached at once to one target, limit ten: exactly ten are attached; and
/// two attaches of one pair at once: exactly one attaches.
pub(crate) async fn concurrent_attaches_respect_the_limit(store: &dyn Store) {
    let names: Vec<String> = (0..20).map(|n| format!("p{n:02}")).collect();
    for name in &names {
        create(store, name).await;
    }
    for round in 0..3 {
        let target = cert_target(round);
        let outcomes = join_all(
            names
                .iter()
                .map(|name| store.attach_policy(name, &target, 10)),
        )
        .await;
        let mut attached = Vec::new();
        for (name, outcome) in names.iter().zip(outcomes) {
            match outcome.unwrap() {
                AttachedPolicy::Attached => attached.push(name.clone()),
                AttachedPolicy::LimitExceeded => {}
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(attached.len(), 10, "round {round}: {attached:?}");
        assert_eq!(policies_of(store, &target).await, attached);
    }

    let target = group_target("pairs");
    for name in &names {
        let (a, b) = tokio::join!(
            store.attach_policy(name, &target, 100),
            store.attach_policy(name, &target, 100)
        );
        let mut outcomes = [a.unwrap(), b.unwrap()];
        outcomes.sort_by_key(|o| matches!(o, AttachedPolicy::AlreadyAttached));
        assert_eq!(
            outcomes,
            [AttachedPolicy::Attached, AttachedPolicy::AlreadyAttached],
            "{name}"
        );
    }
    assert_eq!(policies_of(store, &target).await, names);
}

/// Detaching everything from a target returns what it detached, in name order, and leaves
/// other targets alone.
pub(crate) async fn detach_all(store: &dyn Store) {
    let (c1, c2) = (cert_target(1), cert_target(2));
    for name in NAMES {
        create(store, name).await;
        store.attach_policy(name, &c1, 100).await.unwrap();
    }
    store.attach_policy("a", &c2, 100).await.unwrap();
    assert_eq!(
        store.detach_all_policies(&c1).await.unwrap(),
        sorted(&NAMES)
    );
    assert!(policies_of(store, &c1).await.is_empty());
    assert!(store.detach_all_policies(&c1).await.unwrap().is_empty());
    assert_eq!(policies_of(store, &c2).await, strings(&["a"]));
    assert_eq!(targets_of(store, "a").await, vec![c2.clone()]);
    assert_eq!(
        store.delete_policy("b").await.unwrap(),
        DeletedPolicy::Deleted,
        "no longer attached"
    );
}

/// Both directions list in byte order, in pages of any size.
pub(crate) async fn attachments_page(store: &dyn Store) {
    let target = cert_target(7);
    for name in NAMES.iter().rev() {
        create(store, name).await;
        store.attach_policy(name, &target, 100).await.unwrap();
    }
    assert_pages(&sorted(&NAMES), true, async |p| {
        store.policies_of_target(&target, &p).await
    })
    .await;

    let mut targets: Vec<String> = (1..=6).map(cert_target).collect();
    targets.extend(["g-Z", "g-a", "g:b", "G"].map(group_target));
    targets.push("us-east-1:0a1b2c3d-cognito-identity".to_owned());
    for t in targets.iter().rev() {
        store.attach_policy("A", t, 100).await.unwrap();
    }
    targets.push(target.clone());
    targets.sort();
    assert_pages(&targets, true, async |p| {
        store.targets_of_policy("A", &p).await
    })
    .await;
}

/// The policies attached to any of a connection's targets: each once, with its current
/// default version, in name order; unknown targets add nothing.
pub(crate) async fn attached_policies(store: &dyn Store) {
    for name in [
        "shared",
        "cert-only",
        "group-only",
        "parent-only",
        "elsewhere",
    ] {
        create(store, name).await;
    }
    let cert = cert_target(1);
    let (group, parent) = (group_target("floor"), group_target("building"));
    for (name, target) in [
        ("shared", &cert),
        ("shared", &group),
        ("shared", &parent),
        ("cert-only", &cert),
        ("group-only", &group),
        ("parent-only", &parent),
        ("elsewhere", &cert_target(2)),
    ] {
        assert_eq!(
            store.attach_policy(name, target, 10).await.unwrap(),
            AttachedPolicy::Attached
        );
    }
    let targets = vec![
        cert.clone(),
        group.clone(),
        parent.clone(),
        group_target("unknown"),
        cert.clone(),
    ];
    let held = store.attached_policies(&targets).await.unwrap();
    assert_eq!(
        names(&held),
        strings(&["cert-only", "group-only", "parent-only", "shared"])
    );
    for (policy, version) in &held {
        assert_eq!(version.document, document(1), "{}", policy.name);
    }

    // After a new default, that version is what binds; versions that are not the default
    // never do.
    add_version(store, "shared", 2, true, 10).await;
    add_version(store, "group-only", 3, false, 10).await;
    let held = store.attached_policies(&targets).await.unwrap();
    let documents: Vec<(String, i64, String)> = held
        .iter()
        .map(|(p, v)| (p.name.clone(), v.version_id, v.document.clone()))
        .collect();
    assert_eq!(
        documents,
        vec![
            ("cert-only".to_owned(), 1, document(1)),
            ("group-only".to_owned(), 1, document(1)),
            ("parent-only".to_owned(), 1, document(1)),
            ("shared".to_owned(), 2, document(2)),
        ]
    );
    let shared = &held[3].0;
    assert_eq!(store.policy("shared").await.unwrap().as_ref(), Some(shared));
    assert!(
        store
            .set_default_policy_version("shared", 1, Timestamp(11))
            .await
            .unwrap()
    );
    let held = store.attached_policies(&targets).await.unwrap();
    assert_eq!(held[3].1.version_id, 1);
    assert_eq!(held[3].1.document, document(1));

    // Only the targets asked for count.
    assert_eq!(
        names(
            &store
                .attached_policies(std::slice::from_ref(&group))
                .await
                .unwrap()
        ),
        strings(&["group-only", "shared"])
    );
    store.detach_policy("shared", &cert).await.unwrap();
    assert_eq!(
        names(
            &store
                .attached_policies(std::slice::from_ref(&cert))
                .await
                .unwrap()
        ),
        strings(&["cert-only"])
    );

    // More targets than one query binds: attachments found in every part, each policy once.
    let mut many: Vec<String> = (1000..2200).map(cert_target).collect();
    store
        .attach_policy("elsewhere", &cert_target(2150), 10)
        .await
        .unwrap();
    store
        .attach_policy("cert-only", &cert_target(1001), 10)
        .await
        .unwrap();
    store
        .attach_policy("elsewhere", &cert_target(1002), 10)
        .await
        .unwrap();
    many.push(group.clone());
    assert_eq!(
        names(&store.attached_policies(&many).await.unwrap()),
        strings(&["cert-only", "elsewhere", "group-only", "shared"])
    );
}

/// Policies by name with their default version: in name order, each once, missing names
/// skipped.
pub(crate) async fn policies_with_default_versions(store: &dyn Store) {
    for name in NAMES {
        create(store, name).await;
    }
    add_version(store, "a", 2, true, 5).await;
    add_version(store, "B-1", 2, false, 5).await;
    let asked = strings(&["thing-2", "a", "missing", "B-1", "a", "Z"]);
    let found = store.policies_with_default_versions(&asked).await.unwrap();
    assert_eq!(names(&found), strings(&["B-1", "Z", "a", "thing-2"]));
    let versions: Vec<(i64, String)> = found
        .iter()
        .map(|(_, v)| (v.version_id, v.document.clone()))
        .collect();
    assert_eq!(
        versions,
        vec![
            (1, document(1)),
            (1, document(1)),
            (2, document(2)),
            (1, document(1))
        ]
    );
    assert_eq!(
        found[2].0,
        store.policy("a").await.unwrap().unwrap(),
        "the policy as stored"
    );
    let everything: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(
        names(
            &store
                .policies_with_default_versions(&everything)
                .await
                .unwrap()
        ),
        sorted(&NAMES)
    );
}

/// The ancestors of groups over a three-level hierarchy (and a second tree): each group once,
/// in name order, unknown groups skipped.
pub(crate) async fn ancestors_of_groups(store: &dyn Store) {
    for (name, parent) in [
        ("root", None),
        ("building-1", Some("root")),
        ("building-2", Some("root")),
        ("floor-1", Some("building-1")),
        ("floor-2", Some("building-1")),
        ("floor-3", Some("building-2")),
        ("other-root", None),
        ("other-child", Some("other-root")),
    ] {
        assert_eq!(
            store
                .insert_thing_group(&group(name, parent))
                .await
                .unwrap(),
            Inserted::Created
        );
    }
    let ancestors =
        async |groups: &[&str]| store.ancestors_of_groups(&strings(groups)).await.unwrap();
    assert!(ancestors(&[]).await.is_empty());
    assert!(ancestors(&["unknown"]).await.is_empty());
    assert_eq!(ancestors(&["root"]).await, strings(&["root"]));
    assert_eq!(
        ancestors(&["floor-1"]).await,
        strings(&["building-1", "floor-1", "root"])
    );
    assert_eq!(
        ancestors(&["floor-1", "floor-2", "floor-3", "unknown"]).await,
        strings(&[
            "building-1",
            "building-2",
            "floor-1",
            "floor-2",
            "floor-3",
            "root"
        ]),
        "shared ancestors once"
    );
    assert_eq!(
        ancestors(&["floor-2", "building-1", "other-child", "floor-2"]).await,
        strings(&["building-1", "floor-2", "other-child", "other-root", "root"])
    );
    assert!(
        !ancestors(&["building-2"])
            .await
            .contains(&"floor-3".to_owned()),
        "descendants are not ancestors"
    );

    // More groups than one query binds: chains found from every part, each group once.
    let mut many: Vec<String> = (0..1200).map(|n| format!("unknown-{n}")).collect();
    many.insert(3, "floor-3".to_owned());
    many.push("floor-1".to_owned());
    many.push("other-child".to_owned());
    assert_eq!(
        store.ancestors_of_groups(&many).await.unwrap(),
        strings(&[
            "building-1",
            "building-2",
            "floor-1",
            "floor-3",
            "other-child",
            "other-root",
            "root"
        ])
    );
}
