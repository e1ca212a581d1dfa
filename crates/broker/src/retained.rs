//! Retained messages (§3.3.1.3): at most one per topic, replaced by the next retained publish and
//! cleared by an empty one [MQTT-3.3.1-6], [MQTT-3.3.1-10], [MQTT-3.3.1-11].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mqtt_topic::TopicFilter;
use parking_lot::RwLock;

use crate::message::Message;

/// What storing a retained message did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetainOutcome {
    /// Stored (new topic or replacement).
    Stored,
    /// An empty payload removed the topic's retained message (or there was none).
    Cleared,
    /// The store is full; the message was forwarded but not retained.
    Refused,
}

/// The retained message store.
#[derive(Debug)]
pub struct RetainedStore {
    messages: RwLock<HashMap<Box<str>, Arc<Message>>>,
    max_messages: usize,
    refused: AtomicU64,
}

impl RetainedStore {
    /// An empty store keeping at most `max_messages` topics.
    pub fn new(max_messages: usize) -> Self {
        RetainedStore {
            messages: RwLock::new(HashMap::new()),
            max_messages,
            refused: AtomicU64::new(0),
        }
    }

    /// Stores, replaces or clears the retained message of `message.topic`.
    ///
    /// The message is copied out of the connection's read buffer first ([`Message::detached`]).
    pub fn retain(&self, message: &Message) -> RetainOutcome {
        self.retain_then(message, |_| ()).0
    }

    /// [`RetainedStore::retain`], calling `then` with the outcome before another retain of any
    /// topic can happen: changes reach `then` (the durable store) in the order they were made.
    pub fn retain_then<R>(
        &self,
        message: &Message,
        then: impl FnOnce(RetainOutcome) -> R,
    ) -> (RetainOutcome, R) {
        let mut messages = self.messages.write();
        let outcome = if message.payload.is_empty() {
            messages.remove(message.topic.as_str());
            RetainOutcome::Cleared
        } else if messages.len() >= self.max_messages
            && !messages.contains_key(message.topic.as_str())
        {
            self.refused.fetch_add(1, Ordering::Relaxed);
            RetainOutcome::Refused
        } else {
            let stored = Arc::new(message.detached());
            messages.insert(Box::from(stored.topic.as_str()), stored);
            RetainOutcome::Stored
        };
        let after = then(outcome);
        (outcome, after)
    }

    /// The unexpired retained messages whose topic matches `filter`.
    ///
    /// A wildcard filter scans every retained topic; an exact filter is one lookup.
    pub fn matching(&self, filter: &TopicFilter, now: Instant) -> Vec<Arc<Message>> {
        let messages = self.messages.read();
        if !filter.has_wildcards() {
            return messages
                .get(filter.as_str())
                .filter(|m| !m.is_expired(now))
                .cloned()
                .into_iter()
                .collect();
        }
        let mut found: Vec<Arc<Message>> = messages
            .iter()
            .filter(|(_, m)| filter.matches(&m.topic) && !m.is_expired(now))
            .map(|(_, m)| m.clone())
            .collect();
        found.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
        found
    }

    /// The unexpired retained message of `topic`.
    pub fn get(&self, topic: &str, now: Instant) -> Option<Arc<Message>> {
        self.messages
            .read()
            .get(topic)
            .filter(|m| !m.is_expired(now))
            .cloned()
    }

    /// Up to `limit` unexpired retained messages whose topics come after `after` (all, when
    /// `None`), in topic order (byte order of the names): the pages of a listing.
    ///
    /// The store is a hash map, so that retaining stays O(1) on the publish path; a page costs a
    /// scan of every retained topic under the read lock (O(n), plus O(limit log limit) to sort
    /// the page), which suits listings made now and then by an API, as wildcard subscriptions'
    /// retained lookups already do.
    pub fn page(&self, after: Option<&str>, limit: usize, now: Instant) -> Vec<Arc<Message>> {
        if limit == 0 {
            return Vec::new();
        }
        let messages = self.messages.read();
        let mut found: Vec<&Arc<Message>> = messages
            .iter()
            .filter(|(topic, m)| after.is_none_or(|a| &***topic > a) && !m.is_expired(now))
            .map(|(_, m)| m)
            .collect();
        let by_topic =
            |a: &&Arc<Message>, b: &&Arc<Message>| a.topic.as_str().cmp(b.topic.as_str());
        if found.len() > limit {
            found.select_nth_unstable_by(limit - 1, by_topic);
            found.truncate(limit);
        }
        found.sort_unstable_by(by_topic);
        found.into_iter().cloned().collect()
    }

    /// Removes expired messages; returns how many.
    pub fn purge_expired(&self, now: Instant) -> usize {
        let mut messages = self.messages.write();
        let before = messages.len();
        messages.retain(|_, m| !m.is_expired(now));
        before - messages.len()
    }

    /// The number of retained messages.
    pub fn len(&self) -> usize {
        self.messages.read().len()
    }

    /// Whether no message is retained.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Retained publishes refused because the store was full.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mqtt_codec::QoS;
    use mqtt_topic::{TopicLimits, TopicName};

    fn message(topic: &str, payload: &'static [u8]) -> Message {
        Message::new(
            TopicName::parse(topic, &TopicLimits::MQTT).expect("valid topic"),
            Bytes::from_static(payload),
            QoS::AtLeastOnce,
            true,
            Default::default(),
        )
    }

    #[test]
    fn pages_come_in_topic_order_after_the_cursor() {
        let store = RetainedStore::new(100);
        for topic in ["d", "a/b", "c", "a", "b", "e"] {
            assert_eq!(store.retain(&message(topic, b"x")), RetainOutcome::Stored);
        }
        let now = Instant::now();
        let topics = |page: Vec<Arc<Message>>| {
            page.iter()
                .map(|m| m.topic.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(topics(store.page(None, 3, now)), ["a", "a/b", "b"]);
        assert_eq!(topics(store.page(Some("b"), 3, now)), ["c", "d", "e"]);
        assert_eq!(topics(store.page(Some("e"), 3, now)), Vec::<String>::new());
        assert_eq!(topics(store.page(None, 100, now)).len(), 6);
        assert!(store.page(None, 0, now).is_empty());
        assert_eq!(
            store.get("a/b", now).map(|m| m.payload.clone()),
            Some(Bytes::from_static(b"x"))
        );
        store.retain(&message("a/b", b""));
        assert!(store.get("a/b", now).is_none());
    }
}
