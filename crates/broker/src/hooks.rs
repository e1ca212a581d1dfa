//! Publish hooks: how server-side services (device shadows, the rules engine, the HTTPS data
//! plane) see the messages published on the topics they serve.
//!
//! A service registers a [`PublishHook`] for a topic filter with [`crate::Broker::add_publish_hook`].
//! Every authorized PUBLISH whose topic matches is shown to the hook on the publishing task, right
//! after it is routed; so is every message the server publishes through
//! [`crate::Broker::publish`] (wills and lifecycle events included), except to the hook that
//! published it.
//!
//! The hooks live in a [`SubscriptionIndex`] of their own, so finding those that match a topic
//! is one trie walk under a read lock. With no hook registered the publish path pays one relaxed
//! atomic load: millions of messages a second must not pay for a seam nobody uses.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use mqtt_codec::ProtocolVersion;
use mqtt_topic::{Match, SubscriptionFilter, SubscriptionIndex, TopicFilter, TopicName};
use parking_lot::Mutex;

use crate::message::Message;

/// Who published a message: what the rules engine's `clientid()`, `principal()` and
/// `sourceip()` report, what the shadow service answers to, and what lifecycle events describe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishOrigin {
    /// The publishing client's Client Identifier; `None` for the server itself and for HTTPS
    /// publishes.
    pub client_id: Option<Arc<str>>,
    /// The id of the client certificate the publisher authenticated with, if any.
    pub certificate_id: Option<Arc<str>>,
    /// The publisher's network address, if it has one.
    pub remote_addr: Option<SocketAddr>,
    /// The MQTT version the publisher speaks, for MQTT clients.
    pub protocol_version: Option<ProtocolVersion>,
}

impl PublishOrigin {
    /// The origin of messages the server publishes on its own account (lifecycle events,
    /// service responses).
    pub fn server() -> PublishOrigin {
        PublishOrigin::default()
    }
}

/// A service that sees the messages published on the topics of its filter.
pub trait PublishHook: Send + Sync + 'static {
    /// Called on the publishing task for every authorized PUBLISH whose topic matches the hook's
    /// filter, after it is routed, and for every message published through
    /// [`crate::Broker::publish`] whose topic matches, unless that same hook published it.
    ///
    /// It runs on a connection task, between two packets of that client: it must not block or
    /// wait. Push the message into your own bounded queue (and count what it drops) and do the
    /// work elsewhere.
    fn on_publish(&self, message: &Arc<Message>, origin: &PublishOrigin);
}

/// How a hook changes what happens to the messages it matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookOptions {
    /// Clients may publish to `$` topics that match the filter (their policy still decides);
    /// without such a hook a client's publish to a `$` topic is refused [MQTT-4.7.2-1].
    pub accepts_system_topics: bool,
    /// Matching messages reach only the hooks: never subscribers, never retained storage (AWS
    /// IoT's Basic Ingest, `$aws/rules/...`).
    pub hook_only: bool,
}

/// Identifies a registered hook, to remove it or to keep it from seeing its own publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookId(u64);

/// A registered hook, as the index holds it.
#[derive(Clone)]
struct Entry {
    hook: Arc<dyn PublishHook>,
    options: HookOptions,
}

/// What the hooks matching one topic ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HookMatch {
    /// Some matching hook accepts clients' publishes to `$` topics.
    pub(crate) accepts_system_topics: bool,
    /// Some matching hook keeps the message from subscribers and retained storage.
    pub(crate) hook_only: bool,
}

/// The hooks that matched one message, collected under the index's read lock and called after
/// it is released: a hook may then publish or (un)register without deadlocking on the index.
/// Kept per connection so that matching does not allocate per message.
#[derive(Default)]
pub(crate) struct HookScratch {
    matched: Vec<Arc<dyn PublishHook>>,
}

impl HookScratch {
    /// Whether no hook matched.
    pub(crate) fn is_empty(&self) -> bool {
        self.matched.is_empty()
    }

    /// Shows `message` to every hook that matched, and forgets them.
    pub(crate) fn call(&mut self, message: &Arc<Message>, origin: &PublishOrigin) {
        for hook in self.matched.drain(..) {
            hook.on_publish(message, origin);
        }
    }

    /// Forgets the hooks that matched a message that will not be published.
    pub(crate) fn clear(&mut self) {
        self.matched.clear();
    }
}

impl fmt::Debug for HookScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookScratch")
            .field("matched", &self.matched.len())
            .finish()
    }
}

/// The registered hooks.
pub(crate) struct Hooks {
    /// How many hooks are registered: the publish path's only cost when it is 0.
    count: AtomicUsize,
    next_id: AtomicU64,
    index: SubscriptionIndex<HookId, Entry>,
    /// Each hook's filter, to remove it from the index.
    filters: Mutex<HashMap<HookId, SubscriptionFilter>>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("count", &self.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            count: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            index: SubscriptionIndex::new(),
            filters: Mutex::new(HashMap::new()),
        }
    }
}

impl Hooks {
    /// Registers `hook` for `filter`.
    pub(crate) fn add(
        &self,
        filter: TopicFilter,
        options: HookOptions,
        hook: Arc<dyn PublishHook>,
    ) -> HookId {
        let id = HookId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let filter = SubscriptionFilter::Plain(filter);
        // The filters map is locked across the index insertion so that a concurrent removal of
        // the same id (which cannot be known before this returns) never sees half a hook.
        let mut filters = self.filters.lock();
        self.index.insert(&filter, id, Entry { hook, options });
        filters.insert(id, filter);
        self.count.fetch_add(1, Ordering::Release);
        id
    }

    /// Unregisters hook `id`; unknown ids are ignored. A publish already past matching may
    /// still call it once.
    pub(crate) fn remove(&self, id: HookId) {
        let mut filters = self.filters.lock();
        if let Some(filter) = filters.remove(&id) {
            self.index.remove(&filter, &id);
            self.count.fetch_sub(1, Ordering::Release);
        }
    }

    /// Whether any hook is registered: one atomic load, for the publish path to skip matching.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Collects into `scratch` the hooks whose filter matches `topic` (all but `skip`), and
    /// returns what they ask for. One index walk under its read lock.
    pub(crate) fn matching(
        &self,
        topic: &TopicName,
        skip: Option<HookId>,
        scratch: &mut HookScratch,
    ) -> HookMatch {
        scratch.matched.clear();
        let mut found = HookMatch::default();
        if !self.is_active() {
            return found;
        }
        self.index.for_each_match(topic, |matched| {
            // Hooks are registered as plain filters, so no shared group can match.
            if let Match::Plain { key, value, .. } = matched {
                // The options of the publishing hook count too: a service that marks its topics
                // hook-only means them never to reach subscribers, whoever publishes there.
                found.accepts_system_topics |= value.options.accepts_system_topics;
                found.hook_only |= value.options.hook_only;
                if Some(*key) != skip {
                    scratch.matched.push(value.hook.clone());
                }
            }
        });
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::QoS;
    use mqtt_topic::TopicLimits;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl PublishHook for Count {
        fn on_publish(&self, _message: &Arc<Message>, _origin: &PublishOrigin) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn filter(s: &str) -> TopicFilter {
        TopicFilter::parse(s, &TopicLimits::MQTT).expect("valid filter")
    }

    fn topic(s: &str) -> TopicName {
        TopicName::parse(s, &TopicLimits::MQTT).expect("valid topic")
    }

    #[test]
    fn matching_collects_hooks_and_their_options_and_skips_the_publisher() {
        let hooks = Hooks::default();
        assert!(!hooks.is_active());
        let a = Arc::new(Count::default());
        let b = Arc::new(Count::default());
        let ida = hooks.add(
            filter("$aws/things/+/shadow/#"),
            HookOptions {
                accepts_system_topics: true,
                hook_only: false,
            },
            a.clone(),
        );
        let _idb = hooks.add(
            filter("$aws/rules/#"),
            HookOptions {
                accepts_system_topics: true,
                hook_only: true,
            },
            b.clone(),
        );
        assert!(hooks.is_active());
        let mut scratch = HookScratch::default();

        let found = hooks.matching(&topic("$aws/things/t/shadow/get"), None, &mut scratch);
        assert_eq!(
            found,
            HookMatch {
                accepts_system_topics: true,
                hook_only: false
            }
        );
        let message = Arc::new(Message::new(
            topic("$aws/things/t/shadow/get"),
            bytes::Bytes::new(),
            QoS::AtMostOnce,
            false,
            Default::default(),
        ));
        scratch.call(&message, &PublishOrigin::server());
        assert_eq!(a.0.load(Ordering::Relaxed), 1);
        assert!(scratch.is_empty());

        let found = hooks.matching(&topic("$aws/things/t/shadow/get"), Some(ida), &mut scratch);
        assert!(found.accepts_system_topics);
        assert!(scratch.is_empty(), "the publishing hook is skipped");

        let found = hooks.matching(&topic("$aws/rules/r/x"), None, &mut scratch);
        assert!(found.hook_only);
        assert_eq!(scratch.matched.len(), 1);
        scratch.clear();

        // [MQTT-4.7.2-1] holds for hooks too: `#` does not match `$` topics.
        let all = hooks.add(filter("#"), HookOptions::default(), a.clone());
        hooks.matching(&topic("$aws/rules/r/x"), None, &mut scratch);
        assert_eq!(scratch.matched.len(), 1);
        scratch.clear();
        assert_eq!(
            hooks.matching(&topic("plain"), None, &mut scratch),
            HookMatch::default()
        );
        assert_eq!(scratch.matched.len(), 1);
        scratch.clear();

        hooks.remove(all);
        hooks.remove(all);
        hooks.remove(ida);
        assert!(
            hooks
                .matching(&topic("$aws/things/t/shadow/get"), None, &mut scratch)
                .eq(&HookMatch::default())
        );
        assert!(scratch.is_empty());
        assert!(hooks.is_active(), "one hook is left");
    }
}
