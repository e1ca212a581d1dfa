//! Implementations of thingd's [`thingd_registry::Store`] traits.
//!
//! [`SqliteStore`] is the embedded default: one SQLite file in the data directory, in WAL mode
//! with `synchronous = FULL`, so a write is on disk when its future resolves. The schema is
//! portable SQL (BIGINT milliseconds, INTEGER booleans, `$n` placeholders, `ON CONFLICT`), kept
//! in `migrations/` and applied in order at open, so that a PostgreSQL store can share it.

#![warn(missing_docs)]

mod migrations;
mod sqlite;

pub use sqlite::SqliteStore;
pub use sqlite::durable::{DurableSync, NewerSchema, SqliteDurable};
