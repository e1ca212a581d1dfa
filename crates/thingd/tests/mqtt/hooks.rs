//! Publish hooks, server publishes and retained-message access: the broker seams the device
//! shadow service, the rules engine and the HTTPS data plane build on, exercised with real
//! clients.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use mqtt_codec::{ProtocolVersion, PublishProperties, QoS, ReasonCode};
use mqtt_topic::{TopicFilter, TopicLimits, TopicName};
use thingd_broker::{HookOptions, Message, PublishHook, PublishOrigin};
use tokio::sync::mpsc;

use crate::support::*;

/// A hook that forwards what it sees to the test. The channel is unbounded, so `on_publish`
/// never blocks, as the seam requires.
pub(crate) struct Recorder(mpsc::UnboundedSender<(Arc<Message>, PublishOrigin)>);

impl PublishHook for Recorder {
    fn on_publish(&self, message: &Arc<Message>, origin: &PublishOrigin) {
        let _ = self.0.send((message.clone(), origin.clone()));
    }
}

/// The messages a [`Recorder`] saw.
pub(crate) struct Seen(mpsc::UnboundedReceiver<(Arc<Message>, PublishOrigin)>);

impl Seen {
    /// The next message the hook saw (waiting for it within the guard).
    pub(crate) async fn next(&mut self) -> (Arc<Message>, PublishOrigin) {
        within(self.0.recv()).await.expect("the hook was dropped")
    }

    /// What the hook saw and nobody read yet, without waiting.
    pub(crate) fn drain(&mut self) -> Vec<(Arc<Message>, PublishOrigin)> {
        let mut out = Vec::new();
        while let Ok(seen) = self.0.try_recv() {
            out.push(seen);
        }
        out
    }
}

/// A recording hook and what it sees.
pub(crate) fn recorder() -> (Arc<Recorder>, Seen) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Recorder(tx)), Seen(rx))
}

pub(crate) fn filter(text: &str) -> TopicFilter {
    TopicFilter::parse(text, &TopicLimits::MQTT).unwrap()
}

pub(crate) fn topic(text: &str) -> TopicName {
    TopicName::parse(text, &TopicLimits::MQTT).unwrap()
}

fn loopback(origin: &PublishOrigin) -> bool {
    origin.remote_addr.is_some_and(|a| a.ip().is_loopback())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_sees_client_publishes_on_its_filter_with_their_origin() {
    let server = start().await;
    let (hook, mut seen) = recorder();
    server
        .broker()
        .add_publish_hook(filter("hooked/+"), HookOptions::default(), hook);

    let mut tls = Client::connect(&server, Net::Tls, V5, "hook-tls").await;
    // Not on the filter: the hook must not see it (it would come first).
    tls.publish1("other/a", b"no").await;
    tls.publish1("hooked/a/deeper", b"no").await;
    // Nobody subscribes, yet the hook counts as a receiver: 5.0 gets Success, not 0x10.
    assert_eq!(tls.publish1("hooked/a", b"one").await, ReasonCode::Success);
    let (message, origin) = seen.next().await;
    assert_eq!(message.topic.as_str(), "hooked/a");
    assert_eq!(&message.payload[..], b"one");
    assert_eq!(message.qos, QoS::AtLeastOnce);
    assert!(!message.retain);
    assert_eq!(origin.client_id.as_deref(), Some("hook-tls"));
    assert_eq!(
        origin.certificate_id.as_deref(),
        Some(server.client.certificate_id.as_str())
    );
    assert!(loopback(&origin), "{origin:?}");
    assert_eq!(origin.protocol_version, Some(ProtocolVersion::V5));
    let age = SystemTime::now()
        .duration_since(message.received_at())
        .unwrap_or_default();
    assert!(age < TIMEOUT, "received {age:?} ago");

    // A 3.1.1 client over TCP, QoS 0 and retained: no certificate, and the hook still sees it,
    // after it was stored.
    let mut tcp = Client::connect(&server, Net::Tcp, V3, "hook-tcp").await;
    tcp.publish0("hooked/b", b"two").await;
    assert_eq!(
        tcp.publish_retained("hooked/c", b"three").await,
        ReasonCode::Success
    );
    let (message, origin) = seen.next().await;
    assert_eq!(
        (message.topic.as_str(), &message.payload[..]),
        ("hooked/b", &b"two"[..])
    );
    assert_eq!(message.qos, QoS::AtMostOnce);
    assert_eq!(origin.client_id.as_deref(), Some("hook-tcp"));
    assert_eq!(origin.certificate_id, None);
    assert_eq!(origin.protocol_version, Some(ProtocolVersion::V311));
    let (message, _) = seen.next().await;
    assert_eq!(message.topic.as_str(), "hooked/c");
    assert!(message.retain);
    assert!(
        server
            .broker()
            .retained_message(&topic("hooked/c"))
            .is_some()
    );
    assert!(seen.drain().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_hooks_see_nothing_more() {
    let server = start().await;
    let (hook, mut seen) = recorder();
    let id = server
        .broker()
        .add_publish_hook(filter("gone/#"), HookOptions::default(), hook);
    let mut client = Client::connect(&server, Net::Tcp, V5, "hook-remove").await;
    client.publish0("gone/a", b"seen").await;
    assert_eq!(&seen.next().await.0.payload[..], b"seen");
    server.broker().remove_publish_hook(id);
    server.broker().remove_publish_hook(id);
    // QoS 1, so the publish has been handled when the PUBACK arrives; nobody receives it now.
    assert_eq!(
        client.publish1("gone/a", b"unseen").await,
        ReasonCode::NoMatchingSubscribers
    );
    assert!(seen.drain().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_publish_to_system_topics_only_where_a_hook_accepts_them() {
    let server = start().await;
    // Device Defender's metrics topic: a `$` topic clients publish to, which no service of a
    // test server serves (the shadow service does serve `$aws/things/+/shadow/get`).
    let shadow_get = "$aws/things/x/defender/metrics/json";
    for (version, net) in ALL {
        let id = format!("system-{version}-{net:?}");
        let mut client = Client::connect(&server, net, version, &id).await;
        // Without a hook a `$` topic is the server's: refused (5.0: 0x87), yet a 3.1.1 client,
        // which is told Success, keeps its connection.
        assert_eq!(
            client.publish1(shadow_get, b"{}").await,
            by_version(version, ReasonCode::NotAuthorized, ReasonCode::Success)
        );
        client.ping().await;
    }

    let (hook, mut seen) = recorder();
    let shadow = server.broker().add_publish_hook(
        filter("$aws/things/+/defender/#"),
        HookOptions {
            accepts_system_topics: true,
            hook_only: false,
        },
        hook,
    );
    // Another hook on the same topics that does not accept clients' publishes does not take the
    // permission away, and sees them too.
    let (quiet, mut quiet_seen) = recorder();
    server
        .broker()
        .add_publish_hook(filter("$aws/things/#"), HookOptions::default(), quiet);
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "system-watcher").await;
    watcher
        .subscribe("$aws/things/+/defender/#", QoS::AtLeastOnce)
        .await;
    for (version, net) in ALL {
        let id = format!("system-{version}-{net:?}");
        let mut client = Client::connect(&server, net, version, &id).await;
        assert_eq!(
            client.publish1(shadow_get, id.as_bytes()).await,
            ReasonCode::Success
        );
        let (message, origin) = seen.next().await;
        assert_eq!(message.topic.as_str(), shadow_get);
        assert_eq!(origin.client_id.as_deref(), Some(id.as_str()));
        assert_eq!(&quiet_seen.next().await.0.payload[..], id.as_bytes());
        // Not hook-only: subscribers allowed to receive it get it as well.
        let publish = watcher.expect_publish().await;
        assert_eq!(
            (publish.topic.as_str(), &publish.payload[..]),
            (shadow_get, id.as_bytes())
        );
        // Outside the accepting hook's filter `$` topics stay refused.
        assert_eq!(
            client.publish1("$aws/things/x/jobs/get", b"{}").await,
            by_version(version, ReasonCode::NotAuthorized, ReasonCode::Success)
        );
        assert_eq!(
            client.publish1("$SYS/x", b"{}").await,
            by_version(version, ReasonCode::NotAuthorized, ReasonCode::Success)
        );
    }
    // The jobs publishes were refused before any hook saw them.
    assert!(quiet_seen.drain().is_empty());

    server.broker().remove_publish_hook(shadow);
    let mut client = Client::connect(&server, Net::Tcp, V5, "system-after").await;
    assert_eq!(
        client.publish1(shadow_get, b"{}").await,
        ReasonCode::NotAuthorized
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_only_messages_reach_no_subscriber_and_are_not_retained() {
    let server = start().await;
    let (hook, mut seen) = recorder();
    server.broker().add_publish_hook(
        filter("$aws/rules/#"),
        HookOptions {
            accepts_system_topics: true,
            hook_only: true,
        },
        hook,
    );
    let (plain, mut plain_seen) = recorder();
    server.broker().add_publish_hook(
        filter("ingest/#"),
        HookOptions {
            accepts_system_topics: false,
            hook_only: true,
        },
        plain,
    );
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "ingest-watcher").await;
    watcher.subscribe("$aws/rules/#", QoS::AtLeastOnce).await;
    watcher.subscribe("ingest/#", QoS::AtLeastOnce).await;
    watcher.subscribe("marker", QoS::AtLeastOnce).await;

    let mut publisher = Client::connect(&server, Net::Tls, V5, "ingest-pub").await;
    assert_eq!(
        publisher.publish1("$aws/rules/r1/a", b"one").await,
        ReasonCode::Success
    );
    assert_eq!(
        publisher.publish_retained("$aws/rules/r1/b", b"two").await,
        ReasonCode::Success
    );
    assert_eq!(
        publisher.publish_retained("ingest/c", b"three").await,
        ReasonCode::Success
    );
    assert_eq!(&seen.next().await.0.payload[..], b"one");
    let (retained, _) = seen.next().await;
    assert_eq!(&retained.payload[..], b"two");
    assert!(retained.retain);
    assert_eq!(&plain_seen.next().await.0.payload[..], b"three");

    // The server's own publishes on those topics are kept from subscribers as well.
    let message = Message::new(
        topic("ingest/d"),
        Bytes::from_static(b"four"),
        QoS::AtLeastOnce,
        true,
        PublishProperties::default(),
    );
    assert_eq!(
        server
            .broker()
            .publish(message, &PublishOrigin::server(), None),
        0
    );
    assert_eq!(&plain_seen.next().await.0.payload[..], b"four");

    publisher.publish1_ok("marker", b"").await;
    let delivered = watcher.publishes_until("marker").await;
    assert!(delivered.is_empty(), "delivered: {delivered:?}");
    for t in ["$aws/rules/r1/b", "ingest/c", "ingest/d"] {
        assert!(server.broker().retained_message(&topic(t)).is_none(), "{t}");
    }
    let mut late = Client::connect(&server, Net::Tcp, V5, "ingest-late").await;
    late.subscribe("ingest/#", QoS::AtLeastOnce).await;
    late.subscribe("marker", QoS::AtLeastOnce).await;
    publisher.publish1_ok("marker", b"").await;
    let retained = late.publishes_until("marker").await;
    assert!(retained.is_empty(), "retained: {retained:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_publishes_reach_subscribers_are_retained_and_skip_their_own_hook() {
    let server = start().await;
    let broker = server.broker();
    let (own, mut own_seen) = recorder();
    let own_id = broker.add_publish_hook(
        filter("$aws/things/+/shadow/#"),
        HookOptions {
            accepts_system_topics: true,
            hook_only: false,
        },
        own,
    );
    let (other, mut other_seen) = recorder();
    broker.add_publish_hook(filter("$aws/things/#"), HookOptions::default(), other);

    let mut subscriber = Client::connect(&server, Net::Tls, V5, "shadow-sub").await;
    subscriber
        .subscribe("$aws/things/t1/shadow/get/accepted", QoS::AtLeastOnce)
        .await;
    let mut v3 = Client::connect(&server, Net::Tcp, V3, "shadow-sub-v3").await;
    v3.subscribe("$aws/things/+/shadow/#", QoS::AtMostOnce)
        .await;

    let origin = PublishOrigin {
        client_id: Some(Arc::from("requester")),
        ..PublishOrigin::server()
    };
    let properties = PublishProperties {
        correlation_data: Some(Bytes::from_static(b"token")),
        ..PublishProperties::default()
    };
    let message = Message::new(
        topic("$aws/things/t1/shadow/get/accepted"),
        Bytes::from_static(br#"{"state":{}}"#),
        QoS::AtLeastOnce,
        false,
        properties,
    );
    assert_eq!(broker.publish(message, &origin, Some(own_id)), 2);
    let publish = subscriber.expect_publish().await;
    assert_eq!(publish.topic.as_str(), "$aws/things/t1/shadow/get/accepted");
    assert_eq!(&publish.payload[..], br#"{"state":{}}"#);
    assert_eq!(publish.qos, QoS::AtLeastOnce);
    assert!(!publish.retain);
    assert_eq!(
        publish.properties.correlation_data.as_deref(),
        Some(&b"token"[..])
    );
    let publish = v3.expect_publish().await;
    assert_eq!(
        publish.qos,
        QoS::AtMostOnce,
        "downgraded to the granted QoS"
    );
    let (message, seen_origin) = other_seen.next().await;
    assert_eq!(message.topic.as_str(), "$aws/things/t1/shadow/get/accepted");
    assert_eq!(seen_origin, origin);

    // Retained: stored, shown to a later subscriber; and, without `from_hook`, the publishing
    // service's hook sees it too.
    let retained = Message::new(
        topic("$aws/things/t1/shadow/update/documents"),
        Bytes::from_static(b"kept"),
        QoS::AtLeastOnce,
        true,
        PublishProperties::default(),
    );
    assert_eq!(broker.publish(retained, &PublishOrigin::server(), None), 1);
    assert_eq!(&own_seen.next().await.0.payload[..], b"kept");
    assert!(
        own_seen.drain().is_empty(),
        "the hook did not see its own first publish"
    );
    assert_eq!(&other_seen.next().await.0.payload[..], b"kept");
    assert_eq!(&v3.expect_publish().await.payload[..], b"kept");
    let stored = broker
        .retained_message(&topic("$aws/things/t1/shadow/update/documents"))
        .unwrap();
    assert_eq!(&stored.payload[..], b"kept");
    assert!(stored.origin.is_none());
    let mut late = Client::connect(&server, Net::Tcp, V5, "shadow-late").await;
    late.subscribe("$aws/things/t1/shadow/update/documents", QoS::AtLeastOnce)
        .await;
    let publish = late.expect_publish().await;
    assert!(publish.retain);
    assert_eq!(&publish.payload[..], b"kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_publishes_still_pass_each_subscribers_receive_authorization() {
    let server = testkit::TestServer::start_with_tcp_policy(Default::default(), Some("receiver"))
        .await
        .unwrap();
    // The partition's ARN prefix, from an ARN the test server knows how to spell.
    let thing = server.arn(thingd_registry::ArnKind::Thing, "x");
    let prefix = thing.strip_suffix("thing/x").unwrap();
    let arn = |resource: &str| format!("{prefix}{resource}");
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": [arn("client/receiver")]},
            {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": [arn("topicfilter/served/*")]},
            {"Effect": "Allow", "Action": ["iot:Receive"], "Resource": [arn("topic/served/ok")]},
        ]
    });
    server
        .create_policy("receiver", &document.to_string())
        .await
        .unwrap();
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "receiver").await;
    watcher.subscribe("served/#", QoS::AtLeastOnce).await;
    let served = |name: &str, properties| {
        Message::new(
            topic(name),
            Bytes::copy_from_slice(name.as_bytes()),
            QoS::AtLeastOnce,
            false,
            properties,
        )
    };
    // Routed to the subscription, then refused at delivery by the subscriber's `iot:Receive`.
    server.broker().publish(
        served("served/no", PublishProperties::default()),
        &PublishOrigin::server(),
        None,
    );
    // A message with a Message Expiry Interval keeps it through the server publish path.
    let properties = PublishProperties {
        message_expiry_interval: Some(3600),
        ..PublishProperties::default()
    };
    assert_eq!(
        server.broker().publish(
            served("served/ok", properties),
            &PublishOrigin::server(),
            None
        ),
        1
    );
    let publish = watcher.expect_publish().await;
    assert_eq!(
        publish.topic.as_str(),
        "served/ok",
        "served/no was not allowed"
    );
    let expiry = publish.properties.message_expiry_interval.unwrap();
    assert!((3590..=3600).contains(&expiry), "expiry {expiry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_are_readable_one_by_one_and_in_pages() {
    let server = start().await;
    let broker = server.broker();
    let mut client = Client::connect(&server, Net::Tcp, V5, "retainer").await;
    for t in ["r/d", "r/a", "r/c", "r/b", "r/a/x"] {
        assert_eq!(
            client.publish_retained(t, t.as_bytes()).await,
            ReasonCode::Success
        );
    }
    let before = SystemTime::now();
    let message = broker.retained_message(&topic("r/c")).unwrap();
    assert_eq!(&message.payload[..], b"r/c");
    assert_eq!(message.qos, QoS::AtLeastOnce);
    assert!(message.retain);
    let modified = message.received_at();
    assert!(modified <= before + Duration::from_secs(1), "{modified:?}");
    assert!(before.duration_since(modified).unwrap_or_default() < TIMEOUT);
    assert!(broker.retained_message(&topic("r/none")).is_none());

    let topics = |page: Vec<Arc<Message>>| -> Vec<String> {
        page.iter().map(|m| m.topic.as_str().to_owned()).collect()
    };
    assert_eq!(topics(broker.retained_messages(None, 2)), ["r/a", "r/a/x"]);
    assert_eq!(
        topics(broker.retained_messages(Some("r/a/x"), 2)),
        ["r/b", "r/c"]
    );
    assert_eq!(topics(broker.retained_messages(Some("r/c"), 2)), ["r/d"]);
    assert!(broker.retained_messages(Some("r/d"), 2).is_empty());
    assert!(broker.retained_messages(None, 0).is_empty());

    // A newer retained message replaces the old one with a newer time; an empty one clears it.
    assert_eq!(
        client.publish_retained("r/c", b"newer").await,
        ReasonCode::Success
    );
    let newer = broker.retained_message(&topic("r/c")).unwrap();
    assert_eq!(&newer.payload[..], b"newer");
    assert!(newer.received_at() >= modified);
    client.publish_retained("r/c", b"").await;
    assert!(broker.retained_message(&topic("r/c")).is_none());
    assert_eq!(
        topics(broker.retained_messages(None, 10)),
        ["r/a", "r/a/x", "r/b", "r/d"]
    );
}

/// The loopback address clients of the test server come from.
pub(crate) fn is_loopback(ip: &str) -> bool {
    ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
