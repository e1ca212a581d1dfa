//! The broker's protocol test suite: MQTT 3.1.1 and 5.0 over TLS (with the testkit client
//! certificate) and plain TCP, with real independent clients (rumqttc) and a raw client on
//! thingd's codec for what real clients never send. Every test starts its own server.

#![allow(clippy::unwrap_used)]

mod authz;
mod authz_live;
mod clients;
mod connect;
mod durable;
mod hooks;
mod lifecycle;
mod limits;
mod qos;
mod retained;
mod sessions;
mod shared;
mod support;
mod v5_features;
mod violations;
mod will;
