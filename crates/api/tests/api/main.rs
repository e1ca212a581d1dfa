//! The control-plane API's handlers, called in-process through the router (no network, no
//! SigV4: authentication is tested end to end with real AWS clients in crates/thingd/tests).

#![allow(clippy::unwrap_used)]

// The harness serves every family's tests; a family need not use all of it.
mod ca_certificates;
mod certificates;
mod destinations;
mod endpoint;
#[allow(dead_code)]
mod harness;
mod policies;
mod principals;
mod rules;
mod tags;
mod thing_groups;
mod thing_types;
mod things;
