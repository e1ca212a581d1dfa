//! The Device Shadow service end to end: classic and named shadows over MQTT/TLS with thingd's
//! raw test client, rumqttc, mosquitto_pub/sub and the AWS IoT Device SDK v2 for Python
//! (`awsiotsdk`, run as a process), policies deciding who may ask and who may hear the answers,
//! shadows surviving a restart, and the service's API (what the HTTPS data plane calls) against
//! a real SQLite store. Needs mosquitto-clients (Debian) and `awsiotsdk` (PyPI); `.ci/run`
//! installs them.

#![allow(clippy::unwrap_used)]

// The raw MQTT client of the protocol tests; these tests use part of it.
#[allow(dead_code)]
#[path = "../mqtt/support.rs"]
mod support;

mod concurrent;
mod device;
mod errors;
mod mosquitto;
mod nodes;
mod policies;
mod python_sdk;
mod restart;
mod service;
mod shadows;
mod throttle;
