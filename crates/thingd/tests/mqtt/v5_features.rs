//! MQTT 5.0 features: Subscription Identifiers, Topic Aliases both ways, Message Expiry, No
//! Local, application properties passed through, the CONNACK's advertised limits, AUTH without
//! a method, `$` topics, Payload Format Indicator, and UNSUBACK reason codes.

use std::collections::HashMap;
use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqtt_codec::{
    Auth, AuthProperties, Packet, PayloadFormat, Publish, QoS, ReasonCode, SubscriptionOptions,
    UserProperty,
};
use thingd_broker::BrokerConfig;
use thingd_broker::metrics::Metrics;

use crate::support::*;

/// A PUBLISH (see [`publish_packet`]) with a Topic Alias.
fn aliased(topic: &str, payload: &[u8], qos: QoS, id: u16, alias: u16) -> Publish {
    let mut publish = publish_packet(topic, payload, qos, id);
    publish.properties.topic_alias = NonZeroU16::new(alias);
    publish
}

/// A QoS 1 PUBLISH (see [`publish_packet`]) with a Message Expiry Interval.
fn expiring(topic: &str, payload: &[u8], id: u16, seconds: u32) -> Publish {
    let mut publish = publish_packet(topic, payload, QoS::AtLeastOnce, id);
    publish.properties.message_expiry_interval = Some(seconds);
    publish
}

fn ids(publish: &Publish) -> Vec<u32> {
    let mut ids: Vec<u32> = publish
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_identifiers_are_delivered_and_overlaps_merged() {
    let server = start().await;
    let mut client = Client::connect(&server, Net::Tls, V5, "sub-ids").await;
    for (filter, qos, id) in [
        ("ids/+", QoS::AtMostOnce, Some(7)),
        ("ids/b", QoS::AtLeastOnce, Some(9)),
        ("ids/#", QoS::AtMostOnce, None),
    ] {
        client.subscribe_with(&[(filter, opts(qos))], id).await;
    }
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "sub-ids-pub").await;

    publisher.publish1("ids/b", b"b").await;
    let p = client.expect_publish().await;
    // [MQTT-3.3.4-2], [MQTT-3.3.4-4]: one copy, the highest granted QoS, every identifier.
    assert_eq!((&p.payload[..], p.qos), (&b"b"[..], QoS::AtLeastOnce));
    assert_eq!(ids(&p), [7, 9]);
    publisher.publish1("ids/c", b"c").await;
    let p = client.expect_publish().await;
    assert_eq!(
        (&p.payload[..], p.qos, ids(&p)),
        (&b"c"[..], QoS::AtMostOnce, vec![7])
    );
    publisher.publish1("ids/c/d", b"d").await;
    let p = client.expect_publish().await;
    assert_eq!(
        (&p.payload[..], ids(&p)),
        (&b"d"[..], vec![]),
        "a subscription without an identifier adds none"
    );

    // Subscribing again replaces the identifier, and retained messages carry it too.
    publisher.publish_retained("ids/r", b"r").await;
    client.expect_publish().await;
    client
        .subscribe_with(&[("ids/+", opts(QoS::AtMostOnce))], Some(8))
        .await;
    let p = client.expect_publish().await;
    assert!(p.retain);
    assert_eq!(ids(&p), [8]);
    // 3.1.1 subscribers never see identifiers (the codec could not even encode them).
    let mut v3 = Client::connect(&server, Net::Tcp, V3, "sub-ids-v3").await;
    v3.subscribe("ids/+", QoS::AtMostOnce).await;
    assert!(v3.expect_publish().await.properties.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_topic_aliases_are_set_then_used_with_an_empty_topic() {
    let server = start().await;
    let mut subscriber = Client::connect(&server, Net::Tcp, V5, "alias-sub").await;
    subscriber.subscribe("alias/#", QoS::AtMostOnce).await;
    let mut client = Client::connect(&server, Net::Tls, V5, "alias-pub").await;
    let set = aliased("alias/one", b"1", QoS::AtLeastOnce, 1, 1);
    assert_eq!(client.publish_acked(set).await, ReasonCode::Success);
    let used = aliased("", b"2", QoS::AtLeastOnce, 2, 1);
    assert_eq!(client.publish_acked(used).await, ReasonCode::Success);
    // Remapping the alias to another topic.
    let remap = aliased("alias/two", b"3", QoS::AtMostOnce, 3, 1);
    client.send(&Packet::Publish(remap)).await;
    let used = aliased("", b"4", QoS::AtMostOnce, 4, 1);
    client.send(&Packet::Publish(used)).await;

    let mut got = Vec::new();
    for _ in 0..4 {
        let p = subscriber.expect_publish().await;
        assert_eq!(
            p.properties.topic_alias, None,
            "the subscriber allowed no aliases"
        );
        got.push((p.topic.to_string(), p.payload[0]));
    }
    assert_eq!(
        got,
        [
            ("alias/one".into(), b'1'),
            ("alias/one".into(), b'2'),
            ("alias/two".into(), b'3'),
            ("alias/two".into(), b'4')
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_alias_above_the_maximum_disconnects_with_0x94() {
    for maximum in [0, 4] {
        let server = start_with(BrokerConfig {
            topic_alias_maximum: maximum,
            ..BrokerConfig::default()
        })
        .await;
        let (mut client, connack) =
            Client::connect_ok(&server, Net::Tls, connect_packet(V5, "alias-max")).await;
        assert_eq!(connack.properties.topic_alias_maximum, Some(maximum));
        let publish = aliased("alias/t", b"x", QoS::AtMostOnce, 1, maximum + 1);
        client.send(&Packet::Publish(publish)).await;
        // [MQTT-3.3.2-9], [MQTT-3.3.2-10]
        client
            .expect_disconnect(ReasonCode::TopicAliasInvalid)
            .await;
        assert_serving(&server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_topic_with_an_unknown_alias_is_a_protocol_error() {
    let server = start().await;
    for alias in [None, NonZeroU16::new(3)] {
        let mut client = Client::connect(&server, Net::Tcp, V5, "alias-unknown").await;
        let mut publish = publish_packet("", b"x", QoS::AtLeastOnce, 1);
        publish.properties.topic_alias = alias;
        client.send(&Packet::Publish(publish)).await;
        // §3.3.2.3.4: an empty Topic Name without a mapped alias is a Protocol Error.
        client.expect_disconnect(ReasonCode::ProtocolError).await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_uses_topic_aliases_the_client_allows() {
    let server = start().await;
    let mut connect = connect_packet(V5, "alias-receiver");
    connect.properties.topic_alias_maximum = Some(2);
    let (mut client, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    client.subscribe("out/#", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "alias-sender").await;
    let sent = [
        "out/a", "out/a", "out/b", "out/b", "out/c", "out/a", "out/c", "out/a",
    ];
    for (n, topic) in sent.iter().enumerate() {
        publisher.publish1(topic, &[n as u8]).await;
    }
    let mut mapping: HashMap<u16, String> = HashMap::new();
    let mut resolved = Vec::new();
    let mut empty_topics = 0;
    for _ in sent {
        let p = client.expect_publish().await;
        let topic = match p.properties.topic_alias {
            Some(alias) => {
                // [MQTT-3.3.2-11]: never above the client's Topic Alias Maximum.
                assert!(alias.get() <= 2, "alias {alias} above the client's maximum");
                if p.topic.is_empty() {
                    empty_topics += 1;
                    mapping
                        .get(&alias.get())
                        .cloned()
                        .expect("an alias used before it was set")
                } else {
                    mapping.insert(alias.get(), p.topic.to_string());
                    p.topic.to_string()
                }
            }
            None => p.topic.to_string(),
        };
        resolved.push(topic);
    }
    assert_eq!(resolved, sent);
    // The second message on out/a is sent with an empty topic and its alias.
    assert!(
        empty_topics >= 2,
        "repeated topics use their alias: {empty_topics}"
    );

    // A client that allows no aliases never gets one.
    let mut plain = Client::connect(&server, Net::Tcp, V5, "alias-none").await;
    plain.subscribe("out/#", QoS::AtMostOnce).await;
    for _ in 0..2 {
        publisher.publish1("out/a", b"x").await;
        let p = plain.expect_publish().await;
        assert_eq!(
            (p.topic.as_str(), p.properties.topic_alias),
            ("out/a", None)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_expire_while_queued_are_not_delivered() {
    let server = start().await;
    offline_subscriber(
        &server,
        V5,
        Net::Tls,
        "expiry-sub",
        "expiry/#",
        QoS::AtLeastOnce,
    )
    .await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "expiry-pub").await;
    publisher
        .publish_acked(expiring("expiry/short", b"short", 1, 1))
        .await;
    publisher
        .publish_acked(expiring("expiry/long", b"long", 2, 100))
        .await;
    server_timer(&server, 2).await;

    let mut client =
        Client::resume(&server, Net::Tls, persistent_connect(V5, "expiry-sub", 300)).await;
    publisher.publish0("expiry/marker", b"").await;
    let got = client.publishes_until("expiry/marker").await;
    // [MQTT-3.3.2-5]: the expired message is not delivered; [MQTT-3.3.2-6]: the other one
    // carries what is left of its interval.
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(&got[0].payload[..], b"long");
    let left = got[0]
        .properties
        .message_expiry_interval
        .expect("the interval is forwarded");
    assert!(
        (90..100).contains(&left),
        "the time waited is deducted: {left}"
    );
    assert!(Metrics::get(&server.broker().metrics().deliveries_expired_total) >= 1);
    // Live forwarding keeps the interval.
    publisher
        .publish_acked(expiring("expiry/live", b"live", 3, 100))
        .await;
    let p = client.expect_publish().await;
    assert!(
        p.properties
            .message_expiry_interval
            .is_some_and(|left| (96..=100).contains(&left))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_queued_messages_do_not_stall_a_small_receive_window() {
    let server = start().await;
    let mut connect = persistent_connect(V5, "expiry-window", 300);
    connect.properties.receive_maximum = NonZeroU16::new(1);
    let (mut client, _) = Client::connect_ok(&server, Net::Tcp, connect.clone()).await;
    client.subscribe("window/#", QoS::AtLeastOnce).await;
    client.disconnect().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "expiry-window-pub").await;
    for n in 0..3u8 {
        publisher
            .publish_acked(expiring("window/expiring", &[n], 1, 1))
            .await;
    }
    publisher.publish1("window/kept", b"kept").await;
    server_timer(&server, 2).await;

    let mut client = Client::resume(&server, Net::Tcp, connect).await;
    // The expired messages free the window slots they were drained into; the kept one is
    // delivered without waiting for anything else to happen.
    let p = client.expect_publish().await;
    assert_eq!(&p.payload[..], b"kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_local_keeps_a_clients_own_messages_from_it() {
    let server = start().await;
    let mut client = Client::connect(&server, Net::Tls, V5, "no-local").await;
    let no_local = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::qos(QoS::AtLeastOnce)
    };
    client.subscribe_with(&[("nl/#", no_local)], None).await;
    let mut other = Client::connect(&server, Net::Tcp, V5, "no-local-other").await;
    other.subscribe("nl/#", QoS::AtLeastOnce).await;

    client.publish1("nl/own", b"own").await;
    other.publish1("nl/theirs", b"theirs").await;
    // [MQTT-3.8.3-3]: not forwarded to the connection that published it ...
    assert_eq!(&client.expect_publish().await.payload[..], b"theirs");
    // ... while other subscribers get it.
    let got: Vec<_> = [other.expect_publish().await, other.expect_publish().await]
        .map(|p| p.payload)
        .into();
    assert_eq!(got, [&b"own"[..], &b"theirs"[..]]);
    // An overlapping subscription without No Local still delivers (once).
    client.subscribe("nl/own", QoS::AtMostOnce).await;
    client.publish1("nl/own", b"again").await;
    other.publish1("nl/marker", b"").await;
    let got = client.publishes_until("nl/marker").await;
    assert_eq!(
        got.iter().map(|p| &p.payload[..]).collect::<Vec<_>>(),
        [&b"again"[..]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_properties_are_passed_through_unchanged() {
    let server = start().await;
    let mut subscriber = Client::connect(&server, Net::Tls, V5, "props-sub").await;
    subscriber.subscribe("props/t", QoS::ExactlyOnce).await;
    let mut v3 = Client::connect(&server, Net::Tcp, V3, "props-v3").await;
    v3.subscribe("props/t", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "props-pub").await;

    let user_properties = vec![
        UserProperty::new(s("zeta"), s("1")),
        UserProperty::new(s("alpha"), s("2")),
        UserProperty::new(s("zeta"), s("3")),
        UserProperty::new(s("ünïcode"), s("")),
    ];
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut publish = publish_packet("props/t", "payload ✓".as_bytes(), qos, 1);
        let p = &mut publish.properties;
        p.user_properties = user_properties.clone();
        p.response_topic = Some(s("props/reply"));
        p.correlation_data = Some(Bytes::from_static(b"\x00\xffcorrelation"));
        p.content_type = Some(s("text/plain; charset=utf-8"));
        p.payload_format_indicator = Some(PayloadFormat::Utf8);
        match qos {
            QoS::AtMostOnce => publisher.send(&Packet::Publish(publish)).await,
            _ => assert_eq!(publisher.publish_acked(publish).await, ReasonCode::Success),
        }
        let got = subscriber.expect_publish().await;
        // [MQTT-3.3.2-15..20], [MQTT-3.3.2-17]: forwarded unaltered, user properties in order.
        let p = &got.properties;
        assert_eq!(p.user_properties, user_properties, "{qos:?}");
        assert_eq!(p.response_topic.as_deref(), Some("props/reply"));
        assert_eq!(
            p.correlation_data.as_deref(),
            Some(&b"\x00\xffcorrelation"[..])
        );
        assert_eq!(p.content_type.as_deref(), Some("text/plain; charset=utf-8"));
        assert_eq!(p.payload_format_indicator, Some(PayloadFormat::Utf8));
        assert_eq!(got.payload, "payload ✓".as_bytes());
        assert_eq!(
            &v3.expect_publish().await.payload[..],
            "payload ✓".as_bytes()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connack_advertises_the_servers_limits() {
    let server = start().await;
    let (_client, connack) =
        Client::connect_ok(&server, Net::Tls, connect_packet(V5, "limits-default")).await;
    let p = &connack.properties;
    let defaults = BrokerConfig::default();
    assert_eq!(p.receive_maximum, NonZeroU16::new(defaults.receive_maximum));
    assert_eq!(
        p.maximum_packet_size,
        NonZeroU32::new(defaults.max_packet_size)
    );
    assert_eq!(p.topic_alias_maximum, Some(defaults.topic_alias_maximum));
    assert_eq!(p.retain_available, Some(true));
    assert_eq!(
        p.maximum_qos, None,
        "QoS 2 is supported, so Maximum QoS is absent (§3.2.2.3.4)"
    );
    assert_eq!(p.wildcard_subscription_available, Some(true));
    assert_eq!(p.shared_subscription_available, Some(true));
    assert_eq!(p.subscription_identifiers_available, Some(true));
    assert_eq!(
        p.server_keep_alive, None,
        "the client's 60 s is within the server's maximum"
    );
    assert_eq!(p.assigned_client_identifier, None);
    assert_eq!(p.authentication_method, None);

    let server = start_with(BrokerConfig {
        receive_maximum: 10,
        max_packet_size: 2000,
        topic_alias_maximum: 3,
        maximum_qos: QoS::AtMostOnce,
        max_keep_alive: Some(20),
        ..BrokerConfig::default()
    })
    .await;
    let (_client, connack) =
        Client::connect_ok(&server, Net::Tcp, connect_packet(V5, "limits-custom")).await;
    let p = &connack.properties;
    assert_eq!(p.receive_maximum, NonZeroU16::new(10));
    assert_eq!(p.maximum_packet_size, NonZeroU32::new(2000));
    assert_eq!(p.topic_alias_maximum, Some(3));
    assert_eq!(p.maximum_qos, Some(QoS::AtMostOnce));
    assert_eq!(p.server_keep_alive, Some(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_without_an_authentication_method_is_a_protocol_error() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        let mut client = Client::connect(&server, net, V5, "auth").await;
        let properties = AuthProperties {
            authentication_method: Some(s("SCRAM-SHA-1")),
            ..AuthProperties::default()
        };
        client
            .send(&Packet::Auth(Auth {
                reason_code: ReasonCode::ContinueAuthentication,
                properties,
            }))
            .await;
        // §4.12: without an Authentication Method in CONNECT, AUTH is a Protocol Error.
        client.expect_disconnect(ReasonCode::ProtocolError).await;
    }
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_may_not_publish_to_dollar_topics() {
    let server = start().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "sys-watcher").await;
    watcher.subscribe("$SYS/#", QoS::AtLeastOnce).await;
    watcher.subscribe("#", QoS::AtLeastOnce).await;

    let mut v5 = Client::connect(&server, Net::Tls, V5, "sys-v5").await;
    let dollar = [
        "$SYS/broker/uptime",
        "$SYS/broker/load",
        "$SYS/broker/clients",
        "$aws/things/x/shadow/update/accepted",
    ];
    publish_unauthorized(&mut v5, dollar).await;
    // 3.1.1 has no negative PUBACK: acknowledged, not delivered.
    let mut v3 = Client::connect(&server, Net::Tcp, V3, "sys-v3").await;
    v3.publish1_ok("$SYS/broker/uptime", b"forged").await;

    // Nothing reached the `$SYS/#` subscriber, and nothing was retained.
    assert_none_delivered_or_retained(
        &server,
        &mut watcher,
        &mut v3,
        "sys-marker",
        "$aws/things/x/shadow/update/accepted",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_utf8_payload_announced_as_utf8_is_refused_with_0x99() {
    let server = start().await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "pfi-watcher").await;
    watcher.subscribe("pfi/#", QoS::AtLeastOnce).await;
    let mut client = Client::connect(&server, Net::Tls, V5, "pfi").await;
    let mut bad = publish_packet("pfi/t", b"\xff\xfe", QoS::AtLeastOnce, 1);
    bad.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    // [MQTT-3.3.2-4]: the server may check it, and answers 0x99.
    assert_eq!(
        client.publish_acked(bad.clone()).await,
        ReasonCode::PayloadFormatInvalid
    );
    client.publish1("pfi/marker", b"").await;
    assert!(watcher.publishes_until("pfi/marker").await.is_empty());
    // At QoS 0 there is no acknowledgement to carry it: DISCONNECT 0x99.
    bad.qos = QoS::AtMostOnce;
    bad.packet_id = None;
    client.send(&Packet::Publish(bad)).await;
    client
        .expect_disconnect(ReasonCode::PayloadFormatInvalid)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsuback_reports_each_filter() {
    let server = start().await;
    let mut client = Client::connect(&server, Net::Tls, V5, "unsub").await;
    client.subscribe("unsub/a", QoS::AtMostOnce).await;
    let ack = client.unsubscribe(&["unsub/a", "unsub/b"]).await;
    // [MQTT-3.11.3-1]: one reason code per filter, in order.
    assert_eq!(
        ack.reason_codes,
        [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
    );
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "unsub-pub").await;
    assert_eq!(
        publisher.publish1("unsub/a", b"").await,
        ReasonCode::NoMatchingSubscribers
    );
}
