//! Rights that change while clients are connected: a test [`Authorizer`] whose rules a test can
//! revoke at runtime, keeping every connection's [`AuthorizationSignal`] so it can make the
//! connection recheck. Checked with rumqttc and the raw client, MQTT 3.1.1 and 5.0: deliveries
//! stop at once, revoked subscriptions are removed, revoking `iot:Connect` disconnects, and a
//! resumed session keeps only what the new connection may subscribe to.
//!
//! A recheck is asynchronous; a test learns it happened without sleeping by a PINGREQ from the
//! rechecked client after the signal: the connection task rechecks at the top of its loop,
//! before it writes anything it encoded since (the PINGRESP included).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use mqtt_codec::{QoS, ReasonCode, SubscriptionOptions};
use mqtt_topic::{SubscriptionFilter, TopicName};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::v5::mqttbytes::v5::Packet as Packet5;
use thingd_broker::auth::{AuthorizationSignal, BoxFuture, ConnectRequest};
use thingd_broker::metrics::Metrics;
use thingd_broker::{Authorizer, BrokerConfig, ConnectionAuthorizer};

use crate::support::*;

/// What one client may no longer do: whether it may stay connected, and the prefixes of the
/// topics it may not publish to or receive and of the filters it may not subscribe to.
#[derive(Clone, Debug, Default)]
struct Revoked {
    connect: bool,
    publish: Vec<&'static str>,
    subscribe: Vec<&'static str>,
    receive: Vec<&'static str>,
}

/// The revocations in force, by Client Identifier; a client without an entry may do anything.
type Rights = Arc<RwLock<HashMap<String, Revoked>>>;

/// An authorizer whose rules change at runtime and that keeps every connection's signal.
#[derive(Clone, Default)]
struct LiveAuthorizer {
    rights: Rights,
    signals: Arc<Mutex<Vec<(String, AuthorizationSignal)>>>,
}

impl LiveAuthorizer {
    /// Changes what `client_id` may do and tells its open connections to recheck; returns how
    /// many were told.
    fn change(&self, client_id: &str, change: impl FnOnce(&mut Revoked)) -> usize {
        change(
            self.rights
                .write()
                .unwrap()
                .entry(client_id.to_owned())
                .or_default(),
        );
        let mut signals = self.signals.lock().unwrap();
        // Connections that ended are forgotten, as a real authorizer would.
        signals.retain(|(_, signal)| !signal.is_closed());
        let mut told = 0;
        for (id, signal) in signals.iter() {
            if id == client_id {
                signal.recheck();
                told += 1;
            }
        }
        told
    }

    /// Gives `client_id` every right back (without signalling: nothing it holds is revoked).
    fn restore(&self, client_id: &str) {
        self.rights.write().unwrap().remove(client_id);
    }

    /// The signals of `client_id`'s connections, in the order they connected.
    fn signals_of(&self, client_id: &str) -> Vec<AuthorizationSignal> {
        self.signals
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| id == client_id)
            .map(|(_, signal)| signal.clone())
            .collect()
    }
}

/// One connection's decisions, read from the shared rights at every call.
struct LiveRules {
    client_id: String,
    rights: Rights,
}

impl LiveRules {
    fn revoked(&self, pick: impl FnOnce(&Revoked) -> bool) -> bool {
        self.rights
            .read()
            .unwrap()
            .get(&self.client_id)
            .is_some_and(pick)
    }
}

fn starts_with_any(text: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|prefix| text.starts_with(prefix))
}

impl ConnectionAuthorizer for LiveRules {
    fn publish(&self, topic: &TopicName, _qos: QoS, _retain: bool) -> bool {
        !self.revoked(|r| starts_with_any(topic.as_str(), &r.publish))
    }
    fn subscribe(&self, filter: &SubscriptionFilter) -> bool {
        !self.revoked(|r| starts_with_any(filter.filter().as_str(), &r.subscribe))
    }
    fn receive(&self, topic: &TopicName) -> bool {
        !self.revoked(|r| starts_with_any(topic.as_str(), &r.receive))
    }
    fn connect(&self) -> bool {
        !self.revoked(|r| r.connect)
    }
}

impl Authorizer for LiveAuthorizer {
    fn authorize_connect<'a>(
        &'a self,
        request: &'a ConnectRequest<'a>,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionAuthorizer>, ReasonCode>> {
        Box::pin(async move {
            let rules = LiveRules {
                client_id: request.client_id.to_owned(),
                rights: self.rights.clone(),
            };
            if !rules.connect() {
                return Err(ReasonCode::NotAuthorized);
            }
            self.signals
                .lock()
                .unwrap()
                .push((request.client_id.to_owned(), request.signal.clone()));
            Ok(Arc::new(rules) as Arc<dyn ConnectionAuthorizer>)
        })
    }
}

async fn start_live() -> (testkit::TestServer, LiveAuthorizer) {
    let authorizer = LiveAuthorizer::default();
    let server = testkit::TestServer::start_with_authorizer(
        BrokerConfig::default(),
        Arc::new(authorizer.clone()),
    )
    .await
    .unwrap();
    (server, authorizer)
}

/// The number of subscriptions in the broker's index, as `/metrics` renders it.
fn subscriptions(server: &testkit::TestServer) -> u64 {
    gauge(server, "thingd_subscriptions")
}

/// A metric's value as `/metrics` renders it.
fn gauge(server: &testkit::TestServer, name: &str) -> u64 {
    let rendered = server.broker().render_metrics();
    rendered
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} is not rendered in {rendered}"))
        .parse()
        .unwrap()
}

/// The topics of the PUBLISH packets a rumqttc 5.0 client receives before one on `marker`.
async fn rumqttc_topics_until_marker(
    events: &mut rumqtt::Events<rumqttc::v5::Event>,
) -> Vec<String> {
    let mut topics = Vec::new();
    loop {
        let topic = events
            .wait_for(|e| match e {
                rumqttc::v5::Event::Incoming(Packet5::Publish(p)) => {
                    Some(String::from_utf8(p.topic.to_vec()).unwrap())
                }
                _ => None,
            })
            .await;
        if topic == "marker" {
            return topics;
        }
        topics.push(topic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_receive_right_stops_live_deliveries() {
    let (server, authorizer) = start_live().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;

    // rumqttc 5.0 over TLS.
    let (rumqttc, mut events) = rumqtt::v5(&server, "rumqttc-receiver");
    events
        .wait_for(|e| matches!(e, rumqttc::v5::Event::Incoming(Packet5::ConnAck(_))).then_some(()))
        .await;
    for filter in ["live/#", "marker"] {
        rumqttc.subscribe(filter, QoS5::AtLeastOnce).await.unwrap();
        events
            .wait_for(|e| {
                matches!(e, rumqttc::v5::Event::Incoming(Packet5::SubAck(_))).then_some(())
            })
            .await;
    }
    // The raw client, 3.1.1 over TLS.
    let mut raw = Client::connect(&server, Net::Tls, V3, "raw-receiver").await;
    raw.subscribe("live/#", QoS::AtLeastOnce).await;
    raw.subscribe("marker", QoS::AtLeastOnce).await;

    publisher.publish1_ok("live/before", b"1").await;
    publisher.publish1_ok("marker", b"").await;
    assert_eq!(
        rumqttc_topics_until_marker(&mut events).await,
        ["live/before"]
    );
    let got: Vec<_> = raw.publishes_until("marker").await;
    assert_eq!(got.len(), 1);

    for client_id in ["rumqttc-receiver", "raw-receiver"] {
        authorizer.change(client_id, |r| r.receive.push("live/"));
    }
    // Deliveries are authorized as they are sent: the message published after the revocation
    // is not delivered, and the marker behind it on an allowed topic is.
    publisher.publish1_ok("live/after", b"2").await;
    publisher.publish1_ok("marker", b"").await;
    assert_eq!(
        rumqttc_topics_until_marker(&mut events).await,
        Vec::<String>::new()
    );
    assert!(raw.publishes_until("marker").await.is_empty());
    // The subscriptions themselves are kept: only receiving was revoked.
    assert_eq!(subscriptions(&server), 4);
    assert_eq!(
        Metrics::get(&server.broker().metrics().deliveries_denied_total),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_subscribe_right_removes_the_subscription() {
    let (server, authorizer) = start_live().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    let mut revoked_so_far = 0;
    for (version, net) in ALL {
        let mut client = Client::connect(&server, net, version, "subscriber").await;
        let filters = [
            ("feed/#", SubscriptionOptions::qos(QoS::AtLeastOnce)),
            (
                "$share/group/feed/+",
                SubscriptionOptions::qos(QoS::AtLeastOnce),
            ),
            ("other/#", SubscriptionOptions::qos(QoS::AtLeastOnce)),
            ("marker", SubscriptionOptions::qos(QoS::AtLeastOnce)),
        ];
        let suback = client.subscribe_with(&filters, None).await;
        assert_eq!(suback.reason_codes, [ReasonCode::GrantedQoS1; 4]);
        assert_eq!(subscriptions(&server), 4);

        assert_eq!(
            authorizer.change("subscriber", |r| r.subscribe.push("feed/")),
            1
        );
        // The PINGRESP is written after the recheck (see the module's documentation).
        client.ping().await;
        assert_eq!(
            subscriptions(&server),
            2,
            "{version} {net:?}: both feed/ subscriptions, the shared one included, are removed"
        );
        revoked_so_far += 2;
        assert_eq!(
            Metrics::get(&server.broker().metrics().subscriptions_revoked_total),
            revoked_so_far
        );

        // Nothing matches feed/ any more, though the client may still receive it.
        assert_eq!(
            publisher.publish1("feed/x", b"feed").await,
            ReasonCode::NoMatchingSubscribers
        );
        publisher.publish1_ok("other/x", b"other").await;
        publisher.publish1_ok("marker", b"").await;
        let got: Vec<_> = client
            .publishes_until("marker")
            .await
            .into_iter()
            .map(|p| p.topic.to_string())
            .collect();
        assert_eq!(got, ["other/x"], "{version} {net:?}");
        // And subscribing again is refused: 0x87 (5.0), 0x80 Failure (3.1.1).
        let suback = client
            .subscribe_with(&[("feed/#", opts(QoS::AtLeastOnce))], None)
            .await;
        assert_eq!(
            suback.reason_codes,
            [by_version(
                version,
                ReasonCode::NotAuthorized,
                ReasonCode::UnspecifiedError
            )]
        );
        client.disconnect().await;
        assert_eq!(subscriptions(&server), 0);
        authorizer.restore("subscriber");
    }
    assert!(server.broker().render_metrics().contains(&format!(
        "\nthingd_subscriptions_revoked_total {revoked_so_far}\n"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_rechecks_keep_what_is_still_allowed() {
    let (server, authorizer) = start_live().await;
    let mut client = Client::connect(&server, Net::Tls, V5, "busy").await;
    client.subscribe("a/#", QoS::AtLeastOnce).await;
    client.subscribe("b/#", QoS::AtLeastOnce).await;
    // Many signals in a row with nothing revoked: the connection stays and keeps everything.
    for _ in 0..1000 {
        authorizer.change("busy", |_| {});
    }
    client.ping().await;
    assert_eq!(subscriptions(&server), 2);
    assert_eq!(
        Metrics::get(&server.broker().metrics().subscriptions_revoked_total),
        0
    );
    let mut publisher = Client::connect(&server, Net::Tcp, V3, "publisher").await;
    publisher.publish1_ok("a/1", b"a").await;
    assert_eq!(client.expect_publish().await.topic.as_str(), "a/1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_connect_disconnects_with_not_authorized() {
    let (server, authorizer) = start_live().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    for (version, net) in ALL {
        let client_id = format!("device-{version}-{net:?}");
        let mut connect = connect_packet(version, &client_id);
        connect.will = Some(will("wills/device", b"gone", QoS::AtLeastOnce, false));
        let (mut device, _) = Client::connect_ok(&server, net, connect).await;
        device.subscribe("cmd/#", QoS::AtLeastOnce).await;

        assert_eq!(authorizer.change(&client_id, |r| r.connect = true), 1);
        // 5.0: DISCONNECT 0x87 Not authorized, then the close; 3.1.1: the close.
        let before = device.expect_disconnect(ReasonCode::NotAuthorized).await;
        assert!(before.is_empty(), "{version} {net:?}: {before:?}");
        // The close is the server's, so the will is published (still allowed on its topic).
        let will = watcher.expect_publish().await;
        assert_eq!(&will.payload[..], b"gone", "{version} {net:?}");
        // The connection ended: its signal says so, and the session's subscription is gone.
        let signals = authorizer.signals_of(&client_id);
        assert_eq!(signals.len(), 1);
        assert!(signals[0].is_closed());
        assert_eq!(subscriptions(&server), 1, "only the watcher's is left");
        // And the client cannot come back while the right is revoked.
        Client::connect_refused(
            &server,
            net,
            connect_packet(version, &client_id),
            ReasonCode::NotAuthorized,
        )
        .await;
    }
    // A will the connection may no longer publish is not published at the close.
    let mut connect = connect_packet(V5, "no-will");
    connect.will = Some(will("wills/no-will", b"x", QoS::AtLeastOnce, false));
    let (mut device, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    authorizer.change("no-will", |r| {
        r.publish.push("wills/");
        r.connect = true;
    });
    device.expect_disconnect(ReasonCode::NotAuthorized).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    publisher.publish1_ok("wills/marker", b"marker").await;
    assert_eq!(&watcher.expect_publish().await.payload[..], b"marker");
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_publish_closes_a_3_1_1_connection_and_keeps_a_5_0_one() {
    let (server, authorizer) = start_live().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "watcher").await;
    watcher.subscribe("#", QoS::AtLeastOnce).await;
    let denied = || Metrics::get(&server.broker().metrics().publishes_denied_total);

    // 3.1.1, every QoS: no acknowledgement, the connection is closed (AWS IoT's behaviour).
    for (qos, net) in [
        (QoS::AtMostOnce, Net::Tls),
        (QoS::AtLeastOnce, Net::Tcp),
        (QoS::ExactlyOnce, Net::Tls),
    ] {
        let mut client = Client::connect(&server, net, V3, "v3-publisher").await;
        authorizer.change("v3-publisher", |r| r.publish = vec!["telemetry/"]);
        client.send_publish("telemetry/1", b"denied", qos, 7).await;
        let after = client.expect_close().await;
        assert!(
            after.is_empty(),
            "{qos:?}: nothing before the close: {after:?}"
        );
        authorizer.restore("v3-publisher");
    }
    assert_eq!(denied(), 3);

    // 5.0: QoS 0 is dropped and the connection kept; QoS 1 and 2 get 0x87.
    let mut client = Client::connect(&server, Net::Tls, V5, "v5-publisher").await;
    authorizer.change("v5-publisher", |r| r.publish = vec!["telemetry/"]);
    client.publish0("telemetry/0", b"denied").await;
    assert_eq!(
        client.publish1("telemetry/1", b"denied").await,
        ReasonCode::NotAuthorized
    );
    let id = client.next_pid().get();
    assert_eq!(
        client
            .publish_acked(publish_packet(
                "telemetry/2",
                b"denied",
                QoS::ExactlyOnce,
                id
            ))
            .await,
        ReasonCode::NotAuthorized
    );
    // Still connected, and allowed topics still work.
    client.publish1_ok("status/ok", b"ok").await;
    assert_eq!(denied(), 6);
    let got: Vec<_> = watcher
        .publishes_until("status/ok")
        .await
        .into_iter()
        .map(|p| p.topic.to_string())
        .collect();
    assert!(got.is_empty(), "denied messages were delivered: {got:?}");
    assert!(
        server
            .broker()
            .render_metrics()
            .contains("\nthingd_publishes_denied_total 6\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_loses_the_subscriptions_its_new_rights_refuse() {
    let (server, authorizer) = start_live().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let client_id = format!("keeper-{version}");
        let (mut client, _) =
            Client::connect_ok(&server, net, persistent_connect(version, &client_id, 300)).await;
        client.subscribe("feed/#", QoS::AtLeastOnce).await;
        client.subscribe("other/#", QoS::AtLeastOnce).await;
        client.subscribe("marker", QoS::AtLeastOnce).await;
        client.disconnect().await;
        // Queued for the offline session.
        publisher.publish1_ok("feed/1", b"feed").await;
        publisher.publish1_ok("other/1", b"other").await;

        // Rights change while the session is offline: no connection to signal.
        assert_eq!(
            authorizer.change(&client_id, |r| {
                r.subscribe.push("feed/");
                r.receive.push("feed/");
            }),
            0
        );
        let revoked_before = Metrics::get(&server.broker().metrics().subscriptions_revoked_total);
        let mut client =
            Client::resume(&server, net, persistent_connect(version, &client_id, 300)).await;
        publisher.publish1_ok("marker", b"").await;
        let got: Vec<_> = client
            .publishes_until("marker")
            .await
            .into_iter()
            .map(|p| p.topic.to_string())
            .collect();
        assert_eq!(got, ["other/1"], "{version}");
        assert_eq!(
            Metrics::get(&server.broker().metrics().subscriptions_revoked_total),
            revoked_before + 1
        );
        assert_eq!(
            publisher.publish1("feed/2", b"feed").await,
            ReasonCode::NoMatchingSubscribers
        );
        client.disconnect().await;

        // The subscription was removed from the session, not merely skipped: with the rights
        // given back, the resumed session still has no feed/ subscription.
        authorizer.restore(&client_id);
        let mut client =
            Client::resume(&server, net, persistent_connect(version, &client_id, 300)).await;
        assert_eq!(
            publisher.publish1("feed/3", b"feed").await,
            ReasonCode::NoMatchingSubscribers
        );
        publisher.publish1_ok("other/2", b"other").await;
        assert_eq!(client.expect_publish().await.topic.as_str(), "other/2");
        // The session ends (Clean Start), so the next version starts from nothing.
        client.disconnect().await;
        Client::connect(&server, net, version, &client_id)
            .await
            .disconnect()
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_connect_closes_a_resumed_session_s_connection_and_keeps_the_session() {
    let (server, authorizer) = start_live().await;
    let (mut client, _) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V5, "racer", 300)).await;
    client.subscribe("x/#", QoS::AtLeastOnce).await;
    client.disconnect().await;
    // A signal for a connection that ended does nothing.
    for signal in authorizer.signals_of("racer") {
        assert!(signal.is_closed());
        signal.recheck();
    }
    // A detached signal (for authorizers used outside a broker) is closed from the start.
    assert!(AuthorizationSignal::detached().is_closed());
    let (mut client, connack) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V5, "racer", 300)).await;
    assert!(connack.session_present);
    authorizer.change("racer", |r| r.connect = true);
    client.expect_disconnect(ReasonCode::NotAuthorized).await;
    let signals = authorizer.signals_of("racer");
    assert_eq!(signals.len(), 1, "the ended connections were forgotten");
    assert!(signals[0].is_closed());
    // The session outlives the connection: its subscription waits, and a connection with the
    // right given back finds it.
    authorizer.restore("racer");
    let mut client = Client::resume(&server, Net::Tls, persistent_connect(V5, "racer", 300)).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    publisher.publish1_ok("x/1", b"x").await;
    assert_eq!(client.expect_publish().await.topic.as_str(), "x/1");
}
