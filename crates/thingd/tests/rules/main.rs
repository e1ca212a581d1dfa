//! The rules engine end to end: rules in the store or made through the API, real MQTT clients
//! publishing, and each action against a real engine (this broker, an HTTP server on loopback,
//! SQLite and PostgreSQL at 127.0.0.1:5432, NATS JetStream at 127.0.0.1:4222, a Kafka-compatible
//! broker), including its failure and queue-overflow paths and the error action.

#![allow(clippy::unwrap_used)]

mod cloudwatch;
mod dynamodb;
mod engine;
mod http;
mod kafka;
mod nats;
mod republish;
mod support;
mod walkthrough;
