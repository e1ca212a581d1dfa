//! The device data plane over HTTP (AWS IoT's `iot-data`), end to end: devices over the HTTPS
//! listener with their certificates (curl, and a raw HTTP/1.1 client on rustls that can send
//! anything), held to the AWS IoT policies the API attaches; applications on the API listener
//! with boto3's `iot-data` client (botocore's own SigV4 signer and error parsing); messages
//! arriving at MQTT subscribers and services. Needs `curl`, `python3` with boto3, and
//! mosquitto-clients for the mosquitto case.

#![allow(clippy::unwrap_used)]

// The raw MQTT client of the protocol tests and the policy helpers of the policy tests; these
// tests use part of them.
#[allow(dead_code)]
#[path = "../policies/iot.rs"]
mod iot;
#[allow(dead_code)]
#[path = "../mqtt/support.rs"]
mod support;

mod boto3;
mod client;
mod errors;
mod policies;
mod publish;
mod shadows;
