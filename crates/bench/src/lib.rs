//! thingd's MQTT load generator: the scenarios of `perf-targets.md` against any MQTT 3.1.1 broker
//! (thingd's plain listener, or the Mosquitto beside it), measuring delivered messages per second,
//! end-to-end latency percentiles and loss.
//!
//! The client is our own (built on `mqtt-codec`) so that the generator is not the bottleneck:
//! TCP_NODELAY, many publishes per `write`, QoS 1 publishers with a fixed window of messages in
//! flight, and subscribers that acknowledge a whole read's worth of messages in one write.
//! Every payload carries its publisher, its sequence number and its send time, so subscribers
//! measure latency and count lost, duplicated and reordered messages.

#![warn(missing_docs)]

mod client;
pub mod histogram;
mod scenario;

pub use scenario::{Report, Scenario, Topology, run};
