//! thingd's control plane with independent, real AWS clients: the AWS SDK for Rust
//! (aws-sdk-iot, real SigV4), boto3 and the AWS CLI v1 from PyPI (Python scripts and command
//! lines run as processes, configured only by the two files `thingd serve` writes), and the
//! certificates they make used over MQTT/TLS by a Rust client and mosquitto. Needs `python3`
//! with boto3, `aws` (PyPI: awscli) and mosquitto-clients; `.ci/run` installs them, and a
//! missing one fails the test that needs it, naming the package.

#![allow(clippy::unwrap_used)]

mod boto3;
mod cli;
mod devices;
mod restart;
mod rules;
mod sdk;
mod support;
