//! thingd's MQTT broker: MQTT 3.1.1 and 5.0 over TLS, TCP and WebSocket.
//!
//! A [`Broker`] owns the shared state (sessions, the subscription index, retained messages) and
//! serves connections handed to it by its listeners. Each connection is one task that reads,
//! decodes, authorizes and routes its client's packets and writes what the client receives; see
//! `ARCHITECTURE.md` for the message flow and the invariants.

#![warn(missing_docs)]

pub mod auth;
mod broker;
pub mod config;
mod connection;
mod core;
mod durable;
pub mod hooks;
pub mod lifecycle;
pub mod mailbox;
pub mod message;
pub mod metrics;
mod restore;
pub mod retained;
pub mod router;
pub mod session;
pub mod store;
pub mod tls;
pub mod websocket;

pub use auth::{
    AllowConnected, AuthorizationSignal, Authorizer, ConnectionAuthorizer, ListenerKind, Principal,
};
pub use broker::{Broker, StoreFullError};
pub use config::{BrokerConfig, QueueOverflow, StoreFull};
pub use hooks::{HookId, HookOptions, PublishHook, PublishOrigin};
pub use lifecycle::DisconnectReason;
pub use message::Message;
pub use store::{DurableBackend, MemoryBackend, PersistedSubscription};
