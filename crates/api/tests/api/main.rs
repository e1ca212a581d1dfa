//! The control-plane API's handlers, called in-process through the router (no network, no
//! SigV4: authentication is tested end to end with real AWS clients in crates/thingd/tests).

#![allow(clippy::unwrap_used)]

// The harness serves every family's tests; a family need not use all of it.
#[allow(dead_code)]
mod harness;
mod things;
