//! AWS IoT lifecycle events: `$aws/events/presence/{connected,disconnected}/{clientId}` and
//! `$aws/events/subscriptions/{subscribed,unsubscribed}/{clientId}`, with their payloads, seen
//! by a hook and by real subscribers.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use mqtt_codec::{Packet, QoS, ReasonCode};
use serde_json::Value;
use testkit::TestServer;
use thingd_broker::{BrokerConfig, HookOptions, lifecycle::ANONYMOUS_PRINCIPAL};

use crate::hooks::{Seen, filter, is_loopback, recorder};
use crate::support::*;

/// The lifecycle events a hook sees, searched by topic (events of different clients, and the
/// connected event of a new connection and the disconnected event of the one it took over,
/// may come in any order).
struct Events {
    seen: Seen,
    pending: VecDeque<(String, Value)>,
}

impl Events {
    fn watch(server: &TestServer) -> Events {
        let (hook, seen) = recorder();
        server
            .broker()
            .add_publish_hook(filter("$aws/events/#"), HookOptions::default(), hook);
        Events {
            seen,
            pending: VecDeque::new(),
        }
    }

    /// The next event on `$aws/events/{kind}/{client_id}`, e.g. `kind` "presence/connected".
    async fn next(&mut self, kind: &str, client_id: &str) -> Value {
        let wanted = format!("$aws/events/{kind}/{client_id}");
        if let Some(i) = self.pending.iter().position(|(t, _)| *t == wanted) {
            return self.pending.remove(i).unwrap().1;
        }
        loop {
            let (message, origin) = self.seen.next().await;
            assert_eq!(origin.client_id, None, "events are the server's own");
            assert_eq!(message.qos, QoS::AtLeastOnce);
            assert!(!message.retain);
            let json: Value = serde_json::from_slice(&message.payload).unwrap();
            let t = message.topic.as_str().to_owned();
            if t == wanted {
                return json;
            }
            self.pending.push_back((t, json));
        }
    }

    /// Events of `client_id` not read yet, without waiting for more.
    fn left_for(&mut self, client_id: &str) -> Vec<String> {
        for (message, _) in self.seen.drain() {
            let json = serde_json::from_slice(&message.payload).unwrap();
            self.pending
                .push_back((message.topic.as_str().to_owned(), json));
        }
        let suffix = format!("/{client_id}");
        self.pending
            .iter()
            .filter(|(t, _)| t.ends_with(&suffix))
            .map(|(t, _)| t.clone())
            .collect()
    }
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Checks the fields every event has; returns the `sessionIdentifier`.
fn check_common(event: &Value, event_type: &str, client_id: &str, principal: &str) -> String {
    assert_eq!(event["clientId"], client_id, "{event}");
    assert_eq!(event["eventType"], event_type, "{event}");
    assert_eq!(event["principalIdentifier"], principal, "{event}");
    let timestamp = event["timestamp"].as_u64().unwrap();
    let now = now_ms();
    assert!(
        timestamp <= now && now - timestamp < 60_000,
        "timestamp {timestamp}, now {now}"
    );
    let session = event["sessionIdentifier"].as_str().unwrap().to_owned();
    assert_eq!(session.len(), 36, "a UUID: {session}");
    assert_eq!(session.matches('-').count(), 4, "a UUID: {session}");
    session
}

/// Checks a connected event; returns its `sessionIdentifier` and `versionNumber`.
fn check_connected(event: &Value, client_id: &str, principal: &str) -> (String, u64) {
    let session = check_common(event, "connected", client_id, principal);
    assert!(is_loopback(event["ipAddress"].as_str().unwrap()), "{event}");
    (session, event["versionNumber"].as_u64().unwrap())
}

/// Checks a disconnected event of the connection `connected` describes.
fn check_disconnected(
    event: &Value,
    client_id: &str,
    principal: &str,
    connected: &(String, u64),
    reason: &str,
) {
    let session = check_common(event, "disconnected", client_id, principal);
    assert_eq!(
        session, connected.0,
        "the same connection's session: {event}"
    );
    assert_eq!(
        event["versionNumber"].as_u64(),
        Some(connected.1),
        "{event}"
    );
    assert_eq!(event["disconnectReason"], reason, "{event}");
    assert_eq!(
        event["clientInitiatedDisconnect"],
        reason == "CLIENT_INITIATED_DISCONNECT",
        "{event}"
    );
    assert!(event.get("ipAddress").is_none(), "{event}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_and_client_initiated_disconnected_events() {
    let server = start().await;
    let mut events = Events::watch(&server);
    let certificate = server.client.certificate_id.clone();

    let client = Client::connect(&server, Net::Tls, V5, "lc-dev").await;
    let first = check_connected(
        &events.next("presence/connected", "lc-dev").await,
        "lc-dev",
        &certificate,
    );
    client.disconnect().await;
    check_disconnected(
        &events.next("presence/disconnected", "lc-dev").await,
        "lc-dev",
        &certificate,
        &first,
        "CLIENT_INITIATED_DISCONNECT",
    );

    // A reconnection is a new session with a greater version number; without credentials the
    // principal is the documented fixed string.
    let client = Client::connect(&server, Net::Tcp, V3, "lc-dev").await;
    let second = check_connected(
        &events.next("presence/connected", "lc-dev").await,
        "lc-dev",
        ANONYMOUS_PRINCIPAL,
    );
    assert_ne!(second.0, first.0);
    assert!(second.1 > first.1, "{second:?} after {first:?}");
    client.disconnect().await;
    check_disconnected(
        &events.next("presence/disconnected", "lc-dev").await,
        "lc-dev",
        ANONYMOUS_PRINCIPAL,
        &second,
        "CLIENT_INITIATED_DISCONNECT",
    );
    assert!(events.left_for("lc-dev").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_connection_lost() {
    let server = start().await;
    let mut events = Events::watch(&server);
    for (version, net) in ALL {
        let id = format!("lc-drop-{version}-{net:?}");
        let principal = match net {
            Net::Tls => server.client.certificate_id.clone(),
            Net::Tcp => ANONYMOUS_PRINCIPAL.to_owned(),
        };
        let client = Client::connect(&server, net, version, &id).await;
        let connected = check_connected(
            &events.next("presence/connected", &id).await,
            &id,
            &principal,
        );
        drop(client);
        check_disconnected(
            &events.next("presence/disconnected", &id).await,
            &id,
            &principal,
            &connected,
            "CONNECTION_LOST",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_is_duplicate_clientid() {
    let server = start().await;
    let mut events = Events::watch(&server);
    let certificate = server.client.certificate_id.clone();
    let mut old = Client::connect(&server, Net::Tls, V5, "lc-twin").await;
    let first = check_connected(
        &events.next("presence/connected", "lc-twin").await,
        "lc-twin",
        &certificate,
    );
    let newer = Client::connect(&server, Net::Tls, V5, "lc-twin").await;
    old.expect_disconnect(ReasonCode::SessionTakenOver).await;
    check_disconnected(
        &events.next("presence/disconnected", "lc-twin").await,
        "lc-twin",
        &certificate,
        &first,
        "DUPLICATE_CLIENTID",
    );
    let second = check_connected(
        &events.next("presence/connected", "lc-twin").await,
        "lc-twin",
        &certificate,
    );
    assert!(second.1 > first.1);
    drop(newer);
    check_disconnected(
        &events.next("presence/disconnected", "lc-twin").await,
        "lc-twin",
        &certificate,
        &second,
        "CONNECTION_LOST",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_keep_alive_timeout() {
    let server = start().await;
    let mut events = Events::watch(&server);
    let mut connect = connect_packet(V3, "lc-sleepy");
    connect.keep_alive = 1;
    let (mut client, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    let connected = check_connected(
        &events.next("presence/connected", "lc-sleepy").await,
        "lc-sleepy",
        ANONYMOUS_PRINCIPAL,
    );
    // The server closes after 1.5 × Keep Alive; the test waits for that close, not for a time.
    client.expect_disconnect(ReasonCode::KeepAliveTimeout).await;
    check_disconnected(
        &events.next("presence/disconnected", "lc-sleepy").await,
        "lc-sleepy",
        ANONYMOUS_PRINCIPAL,
        &connected,
        "MQTT_KEEP_ALIVE_TIMEOUT",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_revoked_certificates_and_shutdown_have_their_reasons() {
    let server = start().await;
    let mut events = Events::watch(&server);
    let certificate = server.client.certificate_id.clone();

    // A second CONNECT is a protocol error: CLIENT_ERROR.
    let mut client = Client::connect(&server, Net::Tcp, V5, "lc-rude").await;
    let connected = check_connected(
        &events.next("presence/connected", "lc-rude").await,
        "lc-rude",
        ANONYMOUS_PRINCIPAL,
    );
    client
        .send(&Packet::Connect(Box::new(connect_packet(V5, "lc-rude"))))
        .await;
    client.expect_disconnect(ReasonCode::ProtocolError).await;
    check_disconnected(
        &events.next("presence/disconnected", "lc-rude").await,
        "lc-rude",
        ANONYMOUS_PRINCIPAL,
        &connected,
        "CLIENT_ERROR",
    );

    // The certificate is revoked: AUTH_ERROR.
    let mut client = Client::connect(&server, Net::Tls, V5, "lc-revoked").await;
    let connected = check_connected(
        &events.next("presence/connected", "lc-revoked").await,
        "lc-revoked",
        &certificate,
    );
    assert_eq!(server.broker().disconnect_certificate(&certificate), 1);
    client.expect_disconnect(ReasonCode::NotAuthorized).await;
    check_disconnected(
        &events.next("presence/disconnected", "lc-revoked").await,
        "lc-revoked",
        &certificate,
        &connected,
        "AUTH_ERROR",
    );

    // The server shuts down: SERVER_INITIATED_DISCONNECT, published before shutdown returns.
    let mut client = Client::connect(&server, Net::Tls, V3, "lc-last").await;
    let connected = check_connected(
        &events.next("presence/connected", "lc-last").await,
        "lc-last",
        &certificate,
    );
    server.shutdown().await;
    assert!(client.expect_close().await.is_empty());
    check_disconnected(
        &events.next("presence/disconnected", "lc-last").await,
        "lc-last",
        &certificate,
        &connected,
        "SERVER_INITIATED_DISCONNECT",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_and_unsubscribed_events_list_the_filters_granted_and_removed() {
    let server = start().await;
    let mut events = Events::watch(&server);
    let mut client = Client::connect(&server, Net::Tls, V5, "lc-subs").await;
    events.next("presence/connected", "lc-subs").await;

    let suback = client
        .subscribe_with(
            &[
                ("lc/a", opts(QoS::AtLeastOnce)),
                ("lc/#", opts(QoS::AtMostOnce)),
                ("lc/#/bad", opts(QoS::AtMostOnce)),
                ("$share/g/lc/s", opts(QoS::AtLeastOnce)),
            ],
            None,
        )
        .await;
    assert_eq!(
        suback.reason_codes,
        [
            granted(QoS::AtLeastOnce),
            granted(QoS::AtMostOnce),
            ReasonCode::TopicFilterInvalid,
            granted(QoS::AtLeastOnce)
        ]
    );
    let event = events.next("subscriptions/subscribed", "lc-subs").await;
    let certificate = server.client.certificate_id.clone();
    let session = check_common(&event, "subscribed", "lc-subs", &certificate);
    assert_eq!(
        event["topics"],
        serde_json::json!(["lc/a", "lc/#", "$share/g/lc/s"])
    );

    // Nothing granted: no event (the next one is the unsubscription's).
    let suback = client
        .subscribe_with(&[("lc/+x", opts(QoS::AtMostOnce))], None)
        .await;
    assert_eq!(suback.reason_codes, [ReasonCode::TopicFilterInvalid]);
    let unsuback = client.unsubscribe(&["never"]).await;
    assert_eq!(unsuback.reason_codes, [ReasonCode::NoSubscriptionExisted]);
    let unsuback = client.unsubscribe(&["lc/#", "never", "lc/a"]).await;
    assert_eq!(
        unsuback.reason_codes,
        [
            ReasonCode::Success,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::Success
        ]
    );
    let event = events.next("subscriptions/unsubscribed", "lc-subs").await;
    assert_eq!(
        check_common(&event, "unsubscribed", "lc-subs", &certificate),
        session
    );
    assert_eq!(event["topics"], serde_json::json!(["lc/#", "lc/a"]));
    assert!(
        events.left_for("lc-subs").is_empty(),
        "one event per packet that granted or removed something"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_receive_events_and_hash_does_not_match_them() {
    let server = start().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "lc-watcher").await;
    watcher
        .subscribe("$aws/events/presence/+/lc-watched", QoS::AtLeastOnce)
        .await;
    watcher
        .subscribe("$aws/events/subscriptions/#", QoS::AtMostOnce)
        .await;
    let mut everything = Client::connect(&server, Net::Tcp, V3, "lc-everything").await;
    everything.subscribe("#", QoS::AtLeastOnce).await;

    // The watcher sees the subscription events of its own second SUBSCRIBE (published after the
    // SUBACK, once the subscription exists) and of the `#` subscriber's.
    for (client, filter) in [
        ("lc-watcher", "$aws/events/subscriptions/#"),
        ("lc-everything", "#"),
    ] {
        let publish = watcher.expect_publish().await;
        assert_eq!(
            publish.topic.as_str(),
            format!("$aws/events/subscriptions/subscribed/{client}")
        );
        let event: Value = serde_json::from_slice(&publish.payload).unwrap();
        assert_eq!(event["topics"], serde_json::json!([filter]));
    }

    let mut device = Client::connect(&server, Net::Tls, V3, "lc-watched").await;
    let publish = watcher.expect_publish().await;
    assert_eq!(
        publish.topic.as_str(),
        "$aws/events/presence/connected/lc-watched"
    );
    assert_eq!(publish.qos, QoS::AtLeastOnce);
    assert!(!publish.retain);
    let event: Value = serde_json::from_slice(&publish.payload).unwrap();
    let connected = check_connected(&event, "lc-watched", &server.client.certificate_id);

    device.subscribe("lc/w", QoS::AtMostOnce).await;
    let publish = watcher.expect_publish().await;
    assert_eq!(
        publish.topic.as_str(),
        "$aws/events/subscriptions/subscribed/lc-watched"
    );
    assert_eq!(publish.qos, QoS::AtMostOnce, "at the subscription's QoS");

    device.disconnect().await;
    let publish = watcher.expect_publish().await;
    let event: Value = serde_json::from_slice(&publish.payload).unwrap();
    check_disconnected(
        &event,
        "lc-watched",
        &server.client.certificate_id,
        &connected,
        "CLIENT_INITIATED_DISCONNECT",
    );

    // [MQTT-4.7.2-1]: `#` does not match `$` topics.
    let mut marker = Client::connect(&server, Net::Tcp, V5, "lc-marker").await;
    marker.publish1_ok("lc/marker", b"").await;
    let before = everything.publishes_until("lc/marker").await;
    assert!(before.is_empty(), "{before:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_can_be_turned_off() {
    let server = start_with(BrokerConfig {
        lifecycle_events: false,
        ..BrokerConfig::default()
    })
    .await;
    let (hook, mut seen) = recorder();
    server.broker().add_publish_hook(
        filter("$aws/events/#"),
        HookOptions::default(),
        hook.clone(),
    );
    server
        .broker()
        .add_publish_hook(filter("lc/marker"), HookOptions::default(), hook);
    let mut client = Client::connect(&server, Net::Tls, V5, "lc-quiet").await;
    client.subscribe("lc/x", QoS::AtMostOnce).await;
    client.unsubscribe(&["lc/x"]).await;
    client.disconnect().await;
    let mut marker = Client::connect(&server, Net::Tcp, V5, "lc-marker").await;
    marker.publish1_ok("lc/marker", b"").await;
    let (message, _) = seen.next().await;
    assert_eq!(message.topic.as_str(), "lc/marker");
    assert!(seen.drain().is_empty());
}
