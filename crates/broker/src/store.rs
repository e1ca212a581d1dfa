//! The durability seam for sessions: what of a session must outlive the process, and the trait a
//! store implements to keep it.
//!
//! The broker's live state is in memory ([`crate::session::Session`]). Whenever the durable part
//! of a persistent session changes (its subscriptions, its expiry interval) or the session ends,
//! the broker tells its [`SessionStore`]; when a broker starts, it restores the sessions the
//! store returns, offline, with their subscriptions, and their expiry counted from when they
//! were saved. [`MemorySessionStore`] keeps the records for the life of the process (a broker
//! restarted in-process on the same store resumes them); a database-backed store keeps them
//! across restarts of the process, and will also carry queued messages.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::SystemTime;

use mqtt_codec::SubscriptionOptions;
use parking_lot::Mutex;

/// One subscription of a persisted session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistedSubscription {
    /// The filter as the client sent it (including `$share/{group}/`).
    pub filter: String,
    /// The granted options.
    pub options: SubscriptionOptions,
    /// The Subscription Identifier.
    pub identifier: Option<NonZeroU32>,
}

/// The durable part of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistedSession {
    /// The Client Identifier.
    pub client_id: String,
    /// The Session Expiry Interval in seconds, counted from `saved_at` once the session is offline.
    pub expiry_interval: u32,
    /// The subscriptions.
    pub subscriptions: Vec<PersistedSubscription>,
    /// When the record was written.
    pub saved_at: SystemTime,
}

/// Keeps persistent sessions' durable state.
///
/// Calls come from connection tasks on the hot path of SUBSCRIBE and on disconnection, so an
/// implementation queues or batches its writes rather than blocking.
pub trait SessionStore: Send + Sync + 'static {
    /// The sessions to restore when a broker starts.
    fn load(&self) -> Vec<PersistedSession>;
    /// Records (or replaces) a session's durable state.
    fn save(&self, session: PersistedSession);
    /// Forgets a session that ended.
    fn remove(&self, client_id: &str);
}

/// A [`SessionStore`] in memory: sessions survive a broker restarted in the same process on the
/// same store, not a restart of the process.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<String, PersistedSession>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of sessions recorded.
    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    /// Whether no session is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionStore for MemorySessionStore {
    fn load(&self) -> Vec<PersistedSession> {
        self.sessions.lock().values().cloned().collect()
    }

    fn save(&self, session: PersistedSession) {
        self.sessions
            .lock()
            .insert(session.client_id.clone(), session);
    }

    fn remove(&self, client_id: &str) {
        self.sessions.lock().remove(client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_replaces_and_remove_forgets() {
        let store = MemorySessionStore::new();
        let record = |expiry| PersistedSession {
            client_id: "c".into(),
            expiry_interval: expiry,
            subscriptions: Vec::new(),
            saved_at: SystemTime::UNIX_EPOCH,
        };
        store.save(record(10));
        store.save(record(20));
        assert_eq!(store.load(), [record(20)]);
        store.remove("c");
        assert!(store.is_empty());
    }
}
