//! Retained messages: set, replace, clear with an empty payload; sent on subscribe according to
//! Retain Handling 0, 1 and 2; the RETAIN flag on retained and live deliveries (Retain As
//! Published); wildcards and QoS of retained deliveries.

use mqtt_codec::{QoS, ReasonCode, RetainHandling, SubscriptionOptions};

use crate::support::*;

/// Publishes a retained message at QoS 1.
async fn retain(publisher: &mut Client, topic: &str, payload: &[u8]) {
    let reason = publisher.publish_retained(topic, payload).await;
    assert!(!reason.is_error(), "{reason}");
}

/// What a new subscriber to `filter` receives on subscribing, up to a marker.
async fn retained_for(
    server: &testkit::TestServer,
    version: mqtt_codec::ProtocolVersion,
    net: Net,
    filter: &str,
) -> Vec<mqtt_codec::Publish> {
    let mut subscriber = Client::connect(server, net, version, "retained-reader").await;
    subscriber
        .subscribe("retained-marker", QoS::AtMostOnce)
        .await;
    subscriber.subscribe(filter, QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(server, Net::Tcp, V5, "retained-marker-pub").await;
    publisher.publish0("retained-marker", b"").await;
    let got = subscriber.publishes_until("retained-marker").await;
    subscriber.disconnect().await;
    publisher.disconnect().await;
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_message_is_set_replaced_and_cleared() {
    let server = start().await;
    for (version, net) in ALL {
        let topic = format!("retained/{}/{net:?}", version.level());
        let mut publisher = Client::connect(&server, net, version, "retainer").await;

        retain(&mut publisher, &topic, b"first").await;
        let got = retained_for(&server, version, net, &topic).await;
        assert_eq!(got.len(), 1, "{version} {net:?}");
        assert_eq!(&got[0].payload[..], b"first");
        assert!(
            got[0].retain,
            "[MQTT-3.3.1-8]: sent because of a new subscription, so RETAIN is 1"
        );

        // [MQTT-3.3.1-5]: a new retained message replaces the old one.
        retain(&mut publisher, &topic, b"second").await;
        let got = retained_for(&server, version, net, &topic).await;
        assert_eq!(
            got.iter().map(|p| &p.payload[..]).collect::<Vec<_>>(),
            [&b"second"[..]],
            "{version} {net:?}"
        );

        // [MQTT-3.3.1-6], [MQTT-3.3.1-7]: an empty retained message clears it, and is itself
        // forwarded to existing subscribers but not stored.
        let mut live = Client::connect(&server, Net::Tcp, V5, "retained-live").await;
        live.subscribe(&topic, QoS::AtLeastOnce).await;
        assert_eq!(&live.expect_publish().await.payload[..], b"second");
        retain(&mut publisher, &topic, b"").await;
        let cleared = live.expect_publish().await;
        assert!(cleared.payload.is_empty());
        assert!(!cleared.retain, "live forwarding clears RETAIN");
        assert!(
            retained_for(&server, version, net, &topic).await.is_empty(),
            "{version} {net:?}: cleared"
        );
        live.disconnect().await;
        publisher.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_flag_is_cleared_on_live_forwarding_unless_retain_as_published() {
    let server = start().await;
    let mut plain_v3 = Client::connect(&server, Net::Tls, V3, "rap-v3").await;
    plain_v3.subscribe("rap/t", QoS::AtLeastOnce).await;
    let mut plain_v5 = Client::connect(&server, Net::Tcp, V5, "rap-v5").await;
    plain_v5.subscribe("rap/t", QoS::AtLeastOnce).await;
    let mut rap = Client::connect(&server, Net::Tls, V5, "rap-on").await;
    let options = SubscriptionOptions {
        retain_as_published: true,
        ..SubscriptionOptions::qos(QoS::AtLeastOnce)
    };
    assert_eq!(
        rap.subscribe_with(&[("rap/t", options)], None)
            .await
            .reason_codes,
        [ReasonCode::GrantedQoS1]
    );

    let mut publisher = Client::connect(&server, Net::Tcp, V5, "rap-pub").await;
    retain(&mut publisher, "rap/t", b"retained").await;
    publisher.publish0("rap/t", b"not retained").await;

    for (client, kept) in [
        // [MQTT-3.3.1-9] (3.1.1), [MQTT-3.3.1-12] (5.0): RETAIN 0 on a live delivery ...
        (&mut plain_v3, false),
        (&mut plain_v5, false),
        // ... unless Retain As Published, which keeps the publisher's flag [MQTT-3.3.1-13].
        (&mut rap, true),
    ] {
        let retained = client.expect_publish().await;
        assert_eq!(
            (&retained.payload[..], retained.retain),
            (&b"retained"[..], kept)
        );
        let plain = client.expect_publish().await;
        assert_eq!(
            (&plain.payload[..], plain.retain),
            (&b"not retained"[..], false)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_handling_decides_what_a_subscribe_sends() {
    let server = start().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "rh-pub").await;
    retain(&mut publisher, "rh/t", b"kept").await;

    for (handling, first, again) in [
        // [MQTT-3.3.1-9]: 0 sends at every subscribe, new or not.
        (RetainHandling::SendAtSubscribe, 1, 1),
        // [MQTT-3.3.1-10]: 1 sends only if the subscription did not exist.
        (RetainHandling::SendAtSubscribeIfNew, 1, 0),
        // [MQTT-3.3.1-11]: 2 never sends.
        (RetainHandling::DoNotSend, 0, 0),
    ] {
        let mut client = Client::connect(&server, Net::Tls, V5, "rh-sub").await;
        client.subscribe("rh/marker", QoS::AtMostOnce).await;
        let options = SubscriptionOptions {
            retain_handling: handling,
            ..SubscriptionOptions::qos(QoS::AtLeastOnce)
        };
        for (round, expected) in [("first", first), ("again", again)] {
            client.subscribe_with(&[("rh/#", options)], None).await;
            publisher.publish0("rh/marker", b"").await;
            let got = client.publishes_until("rh/marker").await;
            assert_eq!(got.len(), expected, "{handling:?} {round}: {got:?}");
            assert!(got.iter().all(|p| p.retain && &p.payload[..] == b"kept"));
        }
        client.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_subscription_gets_every_matching_retained_message_at_the_lower_qos() {
    let server = start().await;
    let mut publisher = Client::connect(&server, Net::Tls, V3, "wild-pub").await;
    for topic in [
        "site/a/temp",
        "site/b/temp",
        "site/b/humidity",
        "other/temp",
    ] {
        retain(&mut publisher, topic, topic.as_bytes()).await;
    }
    let mut qos0 = publish_packet("site/c/temp", b"site/c/temp", QoS::AtMostOnce, 1);
    qos0.retain = true;
    publisher.send(&mqtt_codec::Packet::Publish(qos0)).await;
    publisher.ping().await;

    let got = retained_for(&server, V3, Net::Tcp, "site/+/temp").await;
    let mut topics: Vec<_> = got.iter().map(|p| (p.topic.to_string(), p.qos)).collect();
    topics.sort();
    assert_eq!(
        topics,
        [
            ("site/a/temp".to_owned(), QoS::AtLeastOnce),
            ("site/b/temp".to_owned(), QoS::AtLeastOnce),
            ("site/c/temp".to_owned(), QoS::AtMostOnce),
        ]
    );
    // Granted QoS 0 caps them all.
    let mut subscriber = Client::connect(&server, Net::Tcp, V5, "wild-sub0").await;
    subscriber.subscribe("site/#", QoS::AtMostOnce).await;
    for _ in 0..4 {
        assert_eq!(subscriber.expect_publish().await.qos, QoS::AtMostOnce);
    }
}
