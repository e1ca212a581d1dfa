//! Live re-evaluation: the open connections the registry authorizer let in, and the task that
//! re-resolves them when the registry changes in a way that may change their rights.
//!
//! Each connection's authorizer ([`Device`]) registers here, by a weak reference it removes when
//! dropped. The API announces changes ([`LiveConnections::authorization_changed`], called from
//! `BrokerEvents` after the change is durable); the announcement only records what changed and
//! wakes the re-evaluation task, so the API's request is not held up. The task takes every
//! change recorded since it last ran (bursts coalesce: a connection concerned by ten changes is
//! re-resolved once), finds the connections concerned, re-resolves them from the store with at
//! most [`CONCURRENT_RESOLUTIONS`] at a time, swaps each one's compiled policy and asks the
//! broker to re-check the connection (`AuthorizationSignal::recheck`), which drops
//! subscriptions it may no longer hold, or the connection itself when `iot:Connect` is no
//! longer allowed. Deliveries are authorized one by one against the current policy, so a
//! revoked `iot:Receive` stops them as soon as the policy is swapped.
//!
//! A change announced while a connection is being authorized may not be seen by its resolution:
//! every announcement bumps a counter, and a connection admitted after the counter moved since
//! its resolution started is re-evaluated once more.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use arc_swap::{ArcSwap, Guard};
use parking_lot::Mutex;
use thingd_api::AuthorizationChange;
use thingd_api::authorization::Requester;
use thingd_broker::auth::AuthorizationSignal;
use thingd_registry::{Arn, ArnKind, Partition, Store};
use tokio::sync::Notify;
use tracing::{debug, error};

use crate::authorizer::Grant;

/// How many connections are re-resolved from the store at once: enough to hide each query's
/// latency, few enough to leave the store's connections to the API and to new CONNECTs.
pub const CONCURRENT_RESOLUTIONS: usize = 4;

/// The authorizer of one open connection: who it is, and what it is currently held to.
pub struct Device {
    id: u64,
    requester: Requester,
    der: Option<Arc<[u8]>>,
    grant: ArcSwap<Grant>,
    signal: AuthorizationSignal,
    live: Weak<Live>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("client_id", &self.requester.client_id)
            .field("certificate_id", &self.requester.certificate_id)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// What the connection is held to now (lock-free: the hot path).
    pub(crate) fn grant(&self) -> Guard<Arc<Grant>> {
        self.grant.load()
    }

    /// Whether any of `changes` may change this connection's rights.
    fn concerned_by(&self, changes: &Changes) -> bool {
        if changes.connections.contains(&self.id) {
            return true;
        }
        let requester = &self.requester;
        if requester
            .certificate_id
            .as_ref()
            .is_some_and(|id| changes.certificates.contains(id))
            || requester
                .client_id
                .as_ref()
                .is_some_and(|id| changes.things.contains(id))
            || requester
                .extra_policies
                .iter()
                .any(|name| changes.policies.contains(name))
        {
            return true;
        }
        let grant = self.grant.load();
        grant
            .thing
            .as_ref()
            .is_some_and(|thing| changes.things.contains(thing))
            || grant.groups.iter().any(|g| changes.groups.contains(g))
            || grant.policies.iter().any(|p| changes.policies.contains(p))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        if let Some(live) = self.live.upgrade() {
            live.devices.lock().remove(&self.id);
        }
    }
}

/// What changed since the re-evaluation task last ran, by kind: the names concerned.
#[derive(Debug, Default)]
struct Changes {
    /// Policies whose default version changed, or that were deleted.
    policies: HashSet<String>,
    /// Certificates (by id) whose attached policies changed.
    certificates: HashSet<String>,
    /// Thing groups whose attached policies, membership or existence changed.
    groups: HashSet<String>,
    /// Things whose attributes, type, groups or principals changed.
    things: HashSet<String>,
    /// Connections admitted while a change was being announced.
    connections: HashSet<u64>,
}

impl Changes {
    /// Records what `change` concerns.
    fn add(&mut self, change: &AuthorizationChange) {
        match change {
            AuthorizationChange::Policy(name) => {
                self.policies.insert(name.clone());
            }
            AuthorizationChange::Target(target) => match Arn::parse(target) {
                Some(arn) if arn.kind == ArnKind::Certificate => {
                    self.certificates.insert(arn.name);
                }
                Some(arn) if arn.kind == ArnKind::ThingGroup => {
                    self.groups.insert(arn.name);
                }
                // Policies attach to certificates and thing groups only.
                _ => debug!(
                    message =
                        "Ignored an authorization change of a target no connection is held to.",
                    target
                ),
            },
            AuthorizationChange::Thing(name) => {
                self.things.insert(name.clone());
            }
            AuthorizationChange::ThingGroup(name) => {
                self.groups.insert(name.clone());
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.policies.is_empty()
            && self.certificates.is_empty()
            && self.groups.is_empty()
            && self.things.is_empty()
            && self.connections.is_empty()
    }
}

/// The registry of open connections and the re-evaluation task's inbox.
struct Live {
    store: Arc<dyn Store>,
    partition: Partition,
    devices: Mutex<HashMap<u64, Weak<Device>>>,
    next_id: AtomicU64,
    /// Bumped by every announcement, so a connection being admitted can tell it may have
    /// missed one.
    announced: AtomicU64,
    pending: Mutex<Changes>,
    wake: Arc<Notify>,
}

impl Drop for Live {
    fn drop(&mut self) {
        // Lets the re-evaluation task see that there is nothing left to re-evaluate.
        self.wake.notify_one();
    }
}

/// The open connections of a [`crate::authorizer::RegistryAuthorizer`], re-evaluated when the
/// registry changes. Cheap to clone.
#[derive(Clone)]
pub struct LiveConnections {
    live: Arc<Live>,
}

impl std::fmt::Debug for LiveConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConnections")
            .field("connections", &self.len())
            .finish_non_exhaustive()
    }
}

impl LiveConnections {
    /// An empty registry, and its re-evaluation task (which ends when the registry is dropped).
    pub(crate) fn start(store: Arc<dyn Store>, partition: Partition) -> LiveConnections {
        let wake = Arc::new(Notify::new());
        let live = Arc::new(Live {
            store,
            partition,
            devices: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            announced: AtomicU64::new(0),
            pending: Mutex::new(Changes::default()),
            wake: wake.clone(),
        });
        tokio::spawn(reevaluate_forever(Arc::downgrade(&live), wake));
        LiveConnections { live }
    }

    /// How many connections are registered.
    pub fn len(&self) -> usize {
        self.live.devices.lock().len()
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of announcements so far.
    pub(crate) fn changes(&self) -> u64 {
        self.live.announced.load(Ordering::SeqCst)
    }

    /// Registers the authorizer of a connection that may connect. `seen` is [`Self::changes`]
    /// from before its grant was resolved: if a change was announced since, the connection is
    /// re-evaluated.
    pub(crate) fn admit(
        &self,
        requester: Requester,
        der: Option<Arc<[u8]>>,
        grant: Grant,
        signal: AuthorizationSignal,
        seen: u64,
    ) -> Arc<Device> {
        let id = self.live.next_id.fetch_add(1, Ordering::Relaxed);
        let device = Arc::new(Device {
            id,
            requester,
            der,
            grant: ArcSwap::from_pointee(grant),
            signal,
            live: Arc::downgrade(&self.live),
        });
        self.live.devices.lock().insert(id, Arc::downgrade(&device));
        if self.changes() != seen {
            self.record(|changes| {
                changes.connections.insert(id);
            });
        }
        device
    }

    /// A registry change that may change what connected devices may do: the connections it
    /// concerns are re-evaluated shortly, off the caller's path.
    pub fn authorization_changed(&self, change: &AuthorizationChange) {
        self.live.announced.fetch_add(1, Ordering::SeqCst);
        self.record(|changes| changes.add(change));
    }

    fn record(&self, add: impl FnOnce(&mut Changes)) {
        add(&mut self.live.pending.lock());
        self.live.wake.notify_one();
    }
}

/// The re-evaluation task: waits for changes and re-evaluates the connections they concern,
/// until the registry is dropped.
async fn reevaluate_forever(live: Weak<Live>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(live) = live.upgrade() else {
            return;
        };
        let changes = std::mem::take(&mut *live.pending.lock());
        if !changes.is_empty() {
            live.reevaluate(&changes).await;
        }
    }
}

impl Live {
    /// Re-resolves every open connection concerned by `changes`, swaps what it is held to and
    /// asks the broker to re-check it.
    async fn reevaluate(&self, changes: &Changes) {
        let started = Instant::now();
        let devices: Vec<Arc<Device>> = self
            .devices
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        let concerned: Vec<Arc<Device>> = devices
            .into_iter()
            .filter(|device| device.concerned_by(changes))
            .collect();
        if concerned.is_empty() {
            return;
        }
        let next = AtomicU64::new(0);
        let lanes = (0..CONCURRENT_RESOLUTIONS).map(|_| async {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(device) = usize::try_from(index).ok().and_then(|i| concerned.get(i))
                else {
                    return;
                };
                self.refresh(device).await;
            }
        });
        futures_util::future::join_all(lanes).await;
        debug!(
            message = "Re-evaluated the connections concerned by registry changes.",
            connections = concerned.len(),
            elapsed_ms = started.elapsed().as_millis(),
        );
    }

    async fn refresh(&self, device: &Device) {
        let grant = match Grant::resolve(
            self.store.as_ref(),
            &self.partition,
            &device.requester,
            device.der.as_deref(),
        )
        .await
        {
            Ok(grant) => grant,
            Err(error) => {
                // Default deny: a connection whose rights cannot be determined keeps none, rather
                // than rights that may have been taken away.
                error!(
                    message = "The registry failed while re-evaluating a connection; it is held to no policy.",
                    client_id = device.requester.client_id.as_deref(),
                    %error
                );
                Grant::nothing()
            }
        };
        device.grant.store(Arc::new(grant));
        device.signal.recheck();
    }
}

#[cfg(test)]
mod tests {
    use thingd_api::authorization::Requester;
    use thingd_storage::SqliteStore;

    use super::*;

    fn grant(policies: &[&str], thing: Option<&str>, groups: &[&str]) -> Grant {
        let mut grant = Grant::nothing();
        grant.policies = policies.iter().map(|p| (*p).to_owned()).collect();
        grant.thing = thing.map(str::to_owned);
        grant.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        grant
    }

    fn changes(announced: &[AuthorizationChange]) -> Changes {
        let mut changes = Changes::default();
        for change in announced {
            changes.add(change);
        }
        changes
    }

    #[tokio::test]
    async fn each_change_concerns_the_connections_it_may_change() {
        let store = Arc::new(SqliteStore::memory().await.unwrap());
        let partition = Partition {
            region: "us-east-1".into(),
            account: "000000000000".into(),
        };
        let arn = |kind, name| partition.arn(kind, name);
        let live = LiveConnections::start(store, partition.clone());
        let seen = live.changes();
        let device = live.admit(
            Requester {
                certificate_id: Some("c0ffee".into()),
                client_id: Some("sensor-1".into()),
                ..Requester::default()
            },
            None,
            grant(&["attached"], Some("thing-1"), &["child", "parent"]),
            AuthorizationSignal::detached(),
            seen,
        );
        let anonymous = live.admit(
            Requester {
                client_id: Some("tcp-client".into()),
                extra_policies: vec!["anonymous".into()],
                ..Requester::default()
            },
            None,
            grant(&[], None, &[]),
            AuthorizationSignal::detached(),
            seen,
        );
        assert_eq!(live.len(), 2);
        use AuthorizationChange::{Policy, Target, Thing, ThingGroup};
        for (change, concerns_device, concerns_anonymous) in [
            (Policy("attached".into()), true, false),
            (Policy("anonymous".into()), false, true),
            (Policy("other".into()), false, false),
            (Target(arn(ArnKind::Certificate, "c0ffee")), true, false),
            (Target(arn(ArnKind::Certificate, "beef")), false, false),
            (Target(arn(ArnKind::ThingGroup, "parent")), true, false),
            (Target(arn(ArnKind::ThingGroup, "elsewhere")), false, false),
            (Target(arn(ArnKind::Thing, "thing-1")), false, false),
            (Target("not an arn".into()), false, false),
            (Thing("thing-1".into()), true, false),
            // A thing named like the client id may become the one it resolves to.
            (Thing("sensor-1".into()), true, false),
            (Thing("tcp-client".into()), false, true),
            (ThingGroup("child".into()), true, false),
            (ThingGroup("other".into()), false, false),
        ] {
            let changes = changes(std::slice::from_ref(&change));
            assert_eq!(
                device.concerned_by(&changes),
                concerns_device,
                "{change:?} and the device"
            );
            assert_eq!(
                anonymous.concerned_by(&changes),
                concerns_anonymous,
                "{change:?} and the anonymous connection"
            );
        }
        drop(device);
        assert_eq!(live.len(), 1, "a dropped authorizer leaves the registry");
        drop(anonymous);
        assert!(live.is_empty());
    }

    #[tokio::test]
    async fn a_connection_admitted_while_a_change_was_announced_is_re_evaluated() {
        let store = Arc::new(SqliteStore::memory().await.unwrap());
        let partition = Partition {
            region: "us-east-1".into(),
            account: "000000000000".into(),
        };
        let live = LiveConnections::start(store, partition);
        let seen = live.changes();
        // A change the connection's resolution may have missed, of something unrelated to it.
        live.authorization_changed(&AuthorizationChange::Policy("unrelated".into()));
        // Resolved before the change ("stale"); the store holds no policy for it at all.
        let device = live.admit(
            Requester {
                client_id: Some("late".into()),
                ..Requester::default()
            },
            None,
            grant(&["stale"], None, &[]),
            AuthorizationSignal::detached(),
            seen,
        );
        // The re-evaluation task re-resolves it: the stale grant is replaced.
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !device.grant().policies.is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the connection was re-evaluated");
    }
}
