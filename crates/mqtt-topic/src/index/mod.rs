//! The broker's subscription index: which sessions and shared groups subscribed to filters that
//! match a topic name.

mod dense;
mod hash;
mod trie;

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::RwLock;

use crate::{ShareName, SubscriptionFilter, TopicFilter, TopicName};
use trie::Trie;

/// The subscriptions of every session, indexed for matching topic names.
///
/// `K` identifies a subscriber, such as a session or client id; `V` is whatever the broker keeps
/// per subscription (QoS, No Local, subscription identifier…). A key holds at most one
/// subscription per plain filter and one per (share group, filter): subscribing again replaces
/// the value [MQTT-3.8.4-3].
///
/// # Concurrency
///
/// All methods take `&self`; share the index with an `Arc`. A [`parking_lot::RwLock`] guards a
/// trie of filter levels: matching takes the read lock, so publishers never block each other,
/// and subscribing or unsubscribing takes the write lock for O(filter depth) work, never in
/// proportion to the number of subscriptions.
pub struct SubscriptionIndex<K, V> {
    trie: RwLock<Trie<K, V>>,
}

/// A subscription that matches a topic name, as given to the visitor of
/// [`SubscriptionIndex::for_each_match`].
#[derive(Debug)]
pub enum Match<'a, K, V> {
    /// A non-shared subscription of `key` whose filter matches.
    ///
    /// A key subscribed with several matching filters, such as `a/+` and `a/#`, appears once
    /// per filter; the broker delivers respecting all of them (MQTT 5.0 §3.3.4).
    Plain {
        /// The filter that matched.
        filter: &'a TopicFilter,
        /// The subscriber.
        key: &'a K,
        /// The subscriber's data for this subscription.
        value: &'a V,
    },
    /// A shared subscription group whose filter matches: the message goes to one of its
    /// members, chosen with [`SharedMatch::pick`].
    Shared(SharedMatch<'a, K, V>),
}

/// A shared subscription group, `$share/{group}/{filter}`, whose filter matches a topic name.
#[derive(Debug)]
pub struct SharedMatch<'a, K, V> {
    group: &'a ShareName,
    filter: &'a TopicFilter,
    members: &'a [(K, V)],
    cursor: &'a AtomicUsize,
}

impl<K: Eq + Hash + Clone, V> SubscriptionIndex<K, V> {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            trie: RwLock::new(Trie::new()),
        }
    }

    /// Subscribes `key` to `filter` with `value`, returning the value it replaces if `key` was
    /// already subscribed to that same filter (and share group).
    pub fn insert(&self, filter: &SubscriptionFilter, key: K, value: V) -> Option<V> {
        self.trie.write().insert(filter, key, value)
    }

    /// Unsubscribes `key` from `filter` (in its share group, if shared), returning the value
    /// of the subscription, or `None` if there was none.
    pub fn remove(&self, filter: &SubscriptionFilter, key: &K) -> Option<V> {
        self.trie.write().remove(filter, key)
    }

    /// Unsubscribes `key` from each of `filters` under one write lock, as when a session ends.
    /// Returns how many subscriptions were removed.
    pub fn remove_all<'f>(
        &self,
        key: &K,
        filters: impl IntoIterator<Item = &'f SubscriptionFilter>,
    ) -> usize {
        let mut trie = self.trie.write();
        filters
            .into_iter()
            .filter(|filter| trie.remove(filter, key).is_some())
            .count()
    }

    /// Calls `visit` with every subscription whose filter matches `topic`: each plain
    /// subscription once per matching filter, and each shared group once per matching
    /// (group, filter), in no particular order.
    ///
    /// Filters starting with `+` or `#` do not match topics starting with `$`
    /// [MQTT-4.7.2-1]. Matching allocates nothing unless the trie branches more than 8 times
    /// along the topic's path.
    ///
    /// `visit` runs under the read lock, which writers wait for: keep it short, and do not call
    /// back into this index from it, which could deadlock.
    pub fn for_each_match(&self, topic: &TopicName, mut visit: impl FnMut(Match<'_, K, V>)) {
        let trie = self.trie.read();
        trie.for_each_match(topic.as_bytes(), |subscribers| {
            let filter = &subscribers.filter;
            for (key, value) in subscribers.plain.entries() {
                visit(Match::Plain { filter, key, value });
            }
            for (group, shared) in subscribers.shared.entries() {
                visit(Match::Shared(SharedMatch {
                    group,
                    filter,
                    members: shared.members.entries(),
                    cursor: &shared.cursor,
                }));
            }
        });
    }

    /// The number of subscriptions: plain ones plus memberships of shared groups.
    pub fn len(&self) -> usize {
        self.trie.read().subscriptions()
    }

    /// Whether the index holds no subscription.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of distinct topic filters with at least one subscription, shared or not.
    pub fn filter_count(&self) -> usize {
        self.trie.read().filters()
    }

    /// The number of trie nodes, for memory diagnostics: it drops back to 0 once every
    /// subscription is removed.
    ///
    /// This walks the whole trie under the read lock, so it costs O(nodes); keep it off hot
    /// paths.
    pub fn node_count(&self) -> usize {
        self.trie.read().node_count()
    }
}

impl<K: Eq + Hash + Clone, V> Default for SubscriptionIndex<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash + Clone, V> fmt::Debug for SubscriptionIndex<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trie = self.trie.read();
        f.debug_struct("SubscriptionIndex")
            .field("subscriptions", &trie.subscriptions())
            .field("filters", &trie.filters())
            .finish_non_exhaustive()
    }
}

impl<'a, K, V> SharedMatch<'a, K, V> {
    /// The ShareName of the group.
    pub fn group(&self) -> &'a ShareName {
        self.group
    }

    /// The topic filter that matched, without `$share/{group}/`.
    pub fn filter(&self) -> &'a TopicFilter {
        self.filter
    }

    /// The members of the group, never empty, with their subscription data.
    pub fn members(&self) -> impl ExactSizeIterator<Item = (&'a K, &'a V)> + use<'a, K, V> {
        self.members.iter().map(|(key, value)| (key, value))
    }

    /// Picks the member to deliver to, round-robin: starting after the member picked last
    /// time, returns the first one for which `accept` returns `true`, asking each member at
    /// most once. Returns `None` if `accept` refused them all.
    ///
    /// `accept` lets the broker skip members it cannot deliver to right now, such as a
    /// disconnected session or one whose receive maximum is reached; pass `|_, _| true` to take
    /// the next member. The cursor lives in the index, one per group and filter, so turns
    /// rotate across publishers; concurrent picks may occasionally choose the same member.
    /// Members that join or leave may shift positions, which only perturbs the rotation.
    pub fn pick(&self, mut accept: impl FnMut(&K, &V) -> bool) -> Option<(&'a K, &'a V)> {
        let len = self.members.len();
        // Relaxed: the cursor only spreads load; it orders no other memory.
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        for offset in 0..len {
            let (key, value) = &self.members[start.wrapping_add(offset) % len];
            if accept(key, value) {
                if offset > 0 {
                    // The next pick starts after the chosen member, not at it.
                    self.cursor.fetch_add(offset, Ordering::Relaxed);
                }
                return Some((key, value));
            }
        }
        None
    }
}

impl<K, V> Clone for SharedMatch<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for SharedMatch<'_, K, V> {}
