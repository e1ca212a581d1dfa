//! The topic trie behind [`SubscriptionIndex`](super::SubscriptionIndex): one node per filter
//! level, holding the subscriptions whose filters end there.
//!
//! No operation recurses: a single 65,535-byte filter such as `+/+/+/…` has 32,768 levels, and
//! recursing that deep (even in `Drop`) would overflow the stack of the thread doing it.

use std::hash::Hash;
use std::sync::atomic::AtomicUsize;

use super::dense::{DenseMap, shrink_map};
use super::hash::FastMap;
use crate::text::split_level;
use crate::{ShareName, SubscriptionFilter, TopicFilter};

/// The trie and the counts kept alongside it.
pub(crate) struct Trie<K, V> {
    root: Node<K, V>,
    /// Plain subscriptions plus shared group memberships.
    subscriptions: usize,
    /// Distinct filters (shared or not) with at least one subscription.
    filters: usize,
}

/// One level of the trie.
struct Node<K, V> {
    /// Children for literal levels, keyed by the level's bytes.
    children: FastMap<Box<[u8]>, Node<K, V>>,
    /// The child for a `+` level.
    plus: Option<Box<Node<K, V>>>,
    /// Subscriptions whose filter ends at this node.
    exact: Option<Box<Subscribers<K, V>>>,
    /// Subscriptions whose filter ends with a `#` level below this node. `#` is always the
    /// last level [MQTT-4.7.1-1], so it needs no node of its own.
    multi: Option<Box<Subscribers<K, V>>>,
}

/// The subscriptions to one topic filter.
pub(crate) struct Subscribers<K, V> {
    pub(crate) filter: TopicFilter,
    pub(crate) plain: DenseMap<K, V>,
    pub(crate) shared: DenseMap<ShareName, Group<K, V>>,
}

/// The members of one shared subscription group on one filter.
pub(crate) struct Group<K, V> {
    pub(crate) members: DenseMap<K, V>,
    /// Where the next round-robin pick starts; see [`SharedMatch::pick`](super::SharedMatch::pick).
    pub(crate) cursor: AtomicUsize,
}

impl<K, V> Node<K, V> {
    fn new() -> Self {
        Self {
            children: FastMap::default(),
            plus: None,
            exact: None,
            multi: None,
        }
    }

    /// The child reached by a filter level, `+` included.
    fn child(&self, level: &[u8]) -> Option<&Self> {
        if level == b"+" {
            self.plus.as_deref()
        } else {
            self.children.get(level)
        }
    }

    fn child_mut(&mut self, level: &[u8]) -> Option<&mut Self> {
        if level == b"+" {
            self.plus.as_deref_mut()
        } else {
            self.children.get_mut(level)
        }
    }

    fn child_or_insert(&mut self, level: &[u8]) -> &mut Self {
        if level == b"+" {
            self.plus.get_or_insert_with(|| Box::new(Self::new()))
        } else {
            self.children.entry(level.into()).or_insert_with(Self::new)
        }
    }

    fn remove_child(&mut self, level: &[u8]) {
        if level == b"+" {
            self.plus = None;
        } else {
            self.children.remove(level);
            shrink_map(&mut self.children);
        }
    }

    /// Whether no filter ends at this node.
    fn is_idle(&self) -> bool {
        self.exact.is_none() && self.multi.is_none()
    }

    fn link_count(&self) -> usize {
        self.children.len() + usize::from(self.plus.is_some())
    }

    /// Moves this node's children into `out`, so that they are dropped one by one.
    fn detach_children(&mut self, out: &mut Vec<Self>) {
        out.extend(self.children.drain().map(|(_, child)| child));
        out.extend(self.plus.take().map(|child| *child));
    }
}

impl<K, V> Drop for Node<K, V> {
    fn drop(&mut self) {
        // Drops the subtree with an explicit stack instead of the default recursion (see the
        // module documentation). For a leaf, which most nodes are, `Vec::new` allocates nothing.
        let mut pending = Vec::new();
        self.detach_children(&mut pending);
        while let Some(mut node) = pending.pop() {
            node.detach_children(&mut pending);
        }
    }
}

impl<K: Eq + Hash + Clone, V> Subscribers<K, V> {
    fn new(filter: TopicFilter) -> Self {
        Self {
            filter,
            plain: DenseMap::new(),
            shared: DenseMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.shared.is_empty()
    }
}

impl<K: Eq + Hash + Clone, V> Group<K, V> {
    fn new() -> Self {
        Self {
            members: DenseMap::new(),
            cursor: AtomicUsize::new(0),
        }
    }
}

/// The levels of the node path of `filter`, and whether its subscriptions sit in the `#` slot
/// of the last node rather than the exact one.
fn path(filter: &TopicFilter) -> (impl Iterator<Item = &[u8]> + Clone, bool) {
    let bytes = filter.as_bytes();
    // In a valid filter a `#` byte can only be the final, multi-level wildcard.
    let multi = bytes.last() == Some(&b'#');
    let levels = bytes
        .split(|&b| b == b'/')
        .take_while(|level| *level != b"#");
    (levels, multi)
}

impl<K: Eq + Hash + Clone, V> Trie<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            root: Node::new(),
            subscriptions: 0,
            filters: 0,
        }
    }

    pub(crate) fn subscriptions(&self) -> usize {
        self.subscriptions
    }

    pub(crate) fn filters(&self) -> usize {
        self.filters
    }

    /// Subscribes `key`, replacing and returning the value of an identical subscription
    /// [MQTT-3.8.4-3].
    pub(crate) fn insert(
        &mut self,
        subscription: &SubscriptionFilter,
        key: K,
        value: V,
    ) -> Option<V> {
        let filter = subscription.filter();
        let (levels, multi) = path(filter);
        let mut node = &mut self.root;
        for level in levels {
            node = node.child_or_insert(level);
        }
        let slot = if multi {
            &mut node.multi
        } else {
            &mut node.exact
        };
        // The index keeps its own copies of the filter and share names: the caller's may be
        // slices of a SUBSCRIBE packet, whose whole buffer they would keep alive.
        let subscribers = slot.get_or_insert_with(|| {
            self.filters += 1;
            Box::new(Subscribers::new(filter.detached()))
        });
        let replaced = match subscription {
            SubscriptionFilter::Plain(_) => subscribers.plain.insert(key, value),
            SubscriptionFilter::Shared { group, .. } => subscribers
                .shared
                .get_or_insert_with(group, || (group.detached(), Group::new()))
                .members
                .insert(key, value),
        };
        if replaced.is_none() {
            self.subscriptions += 1;
        }
        replaced
    }

    /// Unsubscribes `key`, returning the value of its subscription, and prunes the nodes that
    /// are left without subscriptions or children.
    pub(crate) fn remove(&mut self, subscription: &SubscriptionFilter, key: &K) -> Option<V> {
        let filter = subscription.filter();
        let (levels, multi) = path(filter);
        let mut node = &mut self.root;
        for level in levels {
            node = node.child_mut(level)?;
        }
        let slot = if multi {
            &mut node.multi
        } else {
            &mut node.exact
        };
        let subscribers = slot.as_mut()?;
        let removed = match subscription {
            SubscriptionFilter::Plain(_) => subscribers.plain.remove(key)?,
            SubscriptionFilter::Shared { group, .. } => {
                let members = &mut subscribers.shared.get_mut(group)?.members;
                let removed = members.remove(key)?;
                if members.is_empty() {
                    subscribers.shared.remove(group);
                }
                removed
            }
        };
        self.subscriptions -= 1;
        if subscribers.is_empty() {
            *slot = None;
            self.filters -= 1;
            if node.is_idle() && node.link_count() == 0 {
                self.prune(filter);
            }
        }
        Some(removed)
    }

    /// Removes the chain of nodes on the path of `filter` that ends in a now empty node and
    /// whose nodes hold nothing but the next link of the chain.
    fn prune(&mut self, filter: &TopicFilter) {
        let (levels, _) = path(filter);
        // First pass, read-only: the depth of the shallowest node to remove.
        let mut cut = None;
        let mut node = &self.root;
        for (depth, level) in (1..).zip(levels.clone()) {
            let Some(child) = node.child(level) else {
                return;
            };
            if child.is_idle() && child.link_count() <= 1 {
                cut.get_or_insert(depth);
            } else {
                cut = None;
            }
            node = child;
        }
        let Some(cut) = cut else {
            return;
        };
        // Second pass: unlink that node from its parent, dropping the chain below it.
        let mut levels = levels;
        let mut parent = &mut self.root;
        for level in levels.by_ref().take(cut - 1) {
            match parent.child_mut(level) {
                Some(child) => parent = child,
                None => return,
            }
        }
        if let Some(level) = levels.next() {
            parent.remove_child(level);
        }
    }

    /// Calls `visit` with the subscribers of every filter that matches `topic`, each once.
    ///
    /// `topic` is a valid topic name. Levels are compared as bytes, without normalization
    /// [MQTT-4.7.3-4].
    pub(crate) fn for_each_match<'a>(
        &'a self,
        topic: &'a [u8],
        mut visit: impl FnMut(&'a Subscribers<K, V>),
    ) {
        // Nodes still to explore, with the rest of the topic below them (`None` once every
        // level is consumed). The walk follows one branch in place and stacks only the other
        // when a level has both a literal and a `+` child.
        let mut pending = Stack::new();
        let root = &self.root;
        let (first, rest) = split_level(topic);
        // Filters starting with a wildcard must not match topics starting with `$`
        // [MQTT-4.7.2-1].
        if topic.first() != Some(&b'$') {
            if let Some(subscribers) = root.multi.as_deref() {
                visit(subscribers);
            }
            if let Some(plus) = root.plus.as_deref() {
                pending.push((plus, rest));
            }
        }
        if let Some(child) = root.children.get(first) {
            pending.push((child, rest));
        }
        while let Some((mut node, mut rest)) = pending.pop() {
            loop {
                // `#` matches the remaining levels, also when there are none: `sport/#`
                // matches `sport` (§4.7.1.2).
                if let Some(subscribers) = node.multi.as_deref() {
                    visit(subscribers);
                }
                let Some(topic) = rest else {
                    if let Some(subscribers) = node.exact.as_deref() {
                        visit(subscribers);
                    }
                    break;
                };
                let (level, tail) = split_level(topic);
                // `+` matches any one level, an empty one too.
                node = match (node.children.get(level), node.plus.as_deref()) {
                    (Some(literal), Some(plus)) => {
                        pending.push((plus, tail));
                        literal
                    }
                    (Some(next), None) | (None, Some(next)) => next,
                    (None, None) => break,
                };
                rest = tail;
            }
        }
    }

    /// Counts the nodes of the trie, the root excluded.
    pub(crate) fn node_count(&self) -> usize {
        let mut count = 0;
        let mut pending = vec![&self.root];
        while let Some(node) = pending.pop() {
            count += node.link_count();
            pending.extend(node.children.values());
            pending.extend(node.plus.as_deref());
        }
        count
    }
}

/// A stack that keeps its first few entries inline, so that matching ordinary topics does not
/// allocate; deeper branching spills to the heap.
struct Stack<T: Copy> {
    inline: [Option<T>; 8],
    len: usize,
    spilled: Vec<T>,
}

impl<T: Copy> Stack<T> {
    fn new() -> Self {
        Self {
            inline: [None; 8],
            len: 0,
            spilled: Vec::new(),
        }
    }

    fn push(&mut self, item: T) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = Some(item);
            self.len += 1;
        } else {
            self.spilled.push(item);
        }
    }

    fn pop(&mut self) -> Option<T> {
        // Entries spill only once the inline ones are all taken, so the spilled ones are the
        // most recent.
        if let Some(item) = self.spilled.pop() {
            return Some(item);
        }
        self.len = self.len.checked_sub(1)?;
        self.inline[self.len].take()
    }
}
