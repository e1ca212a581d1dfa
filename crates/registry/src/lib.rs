//! thingd's registry domain: things, thing types, thing groups, certificates, CA certificates,
//! principals, policies and tags, the rules AWS IoT applies to their names and values, their
//! ARNs, and the [`Store`] traits that keep them.
//!
//! This crate does no IO. It says what is kept and which reads and conditional writes a store
//! offers; `thingd-storage` implements the traits on SQLite (and later PostgreSQL), and the API
//! layer builds AWS IoT's semantics (idempotent creates, version checks, delete conflicts) on
//! those primitives, once, for every backend.

#![warn(missing_docs)]

mod arn;
mod model;
mod names;
mod store;

pub use arn::{Arn, ArnKind, Partition};
pub use model::*;
pub use names::*;
pub use store::*;
