//! Broker counters, kept as relaxed atomics on the hot path and rendered in the Prometheus text
//! exposition format for `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $kind:literal, $help:literal;)*) => {
        /// The broker's counters and gauges.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $(#[doc = $help] pub $name: AtomicU64,)*
        }

        impl Metrics {
            /// Renders every metric, `thingd_`-prefixed, in the Prometheus text format.
            pub fn render(&self, out: &mut String) {
                $(
                    let _ = writeln!(out, "# HELP thingd_{} {}", stringify!($name), $help);
                    let _ = writeln!(out, "# TYPE thingd_{} {}", stringify!($name), $kind);
                    let _ = writeln!(out, "thingd_{} {}", stringify!($name), self.$name.load(Ordering::Relaxed));
                )*
            }
        }
    };
}

counters! {
    connections_current: "gauge", "Client connections currently open.";
    connections_total: "counter", "Client connections accepted since start.";
    connections_refused_total: "counter", "Connections refused in CONNACK or closed before CONNACK.";
    protocol_errors_total: "counter", "Connections closed because of a protocol violation or malformed packet.";
    publish_received_total: "counter", "PUBLISH packets received from clients.";
    publish_sent_total: "counter", "PUBLISH packets sent to clients.";
    deliveries_dropped_total: "counter", "Deliveries dropped because a session queue was full or its session offline (QoS 0).";
    deliveries_expired_total: "counter", "Deliveries dropped because their message expired before it could be sent.";
    deliveries_too_large_total: "counter", "Deliveries dropped because they exceeded the client's Maximum Packet Size.";
    deliveries_denied_total: "counter", "Deliveries the authorizer refused.";
    publishes_denied_total: "counter", "PUBLISH packets refused as not authorized (answered 0x87, dropped, or closing a 3.1.1 connection).";
    subscriptions_revoked_total: "counter", "Subscriptions removed because the session's rights no longer allow them.";
    publish_unrouted_total: "counter", "Published messages that matched no subscription.";
    bytes_received_total: "counter", "Bytes read from client connections.";
    bytes_sent_total: "counter", "Bytes written to client connections.";
    wills_published_total: "counter", "Will messages published.";
    sessions_expired_total: "counter", "Sessions that expired.";
    lifecycle_events_total: "counter", "AWS IoT lifecycle events published (connected, disconnected, subscribed, unsubscribed).";
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Appends a gauge computed at render time.
pub fn render_gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP thingd_{name} {help}");
    let _ = writeln!(out, "# TYPE thingd_{name} gauge");
    let _ = writeln!(out, "thingd_{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_value() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.publish_received_total, 3);
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(out.contains(
            "# HELP thingd_publish_received_total PUBLISH packets received from clients."
        ));
        assert!(out.contains("# TYPE thingd_publish_received_total counter"));
        assert!(out.contains("\nthingd_publish_received_total 3\n"));
    }
}
