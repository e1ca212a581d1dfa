//! AWS IoT policies enforced end to end: policies created, versioned and attached through the
//! API (the AWS SDK for Rust, signed with SigV4, as a user would), devices connecting over
//! MQTT/TLS with their certificates (thingd's raw test client and mosquitto) and over the plain
//! listener; what they may do is checked against what TestAuthorization says they may do.
//! Needs mosquitto-clients (Debian) for the mosquitto cases.

#![allow(clippy::unwrap_used)]

// The raw MQTT client of the protocol tests; these tests use part of it.
#[allow(dead_code)]
#[path = "../mqtt/support.rs"]
mod support;

mod button;
mod default_deny;
mod deny;
mod groups;
mod iot;
mod listener;
mod live;
mod retained;
mod shared;
mod thing;
