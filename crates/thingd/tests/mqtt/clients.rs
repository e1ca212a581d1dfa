//! Real independent clients: rumqttc 3.1.1 and 5.0 over TLS with the testkit client certificate
//! (and 3.1.1 over plain TCP) connect, subscribe and round-trip QoS 0, 1 and 2 messages.

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode as ConnectReturnCode5, Packet as Packet5,
    PublishProperties as PublishProperties5, SubscribeReasonCode as SubscribeReasonCode5,
};
use rumqttc::{ConnectReturnCode, Event, Packet, QoS, SubscribeReasonCode};

use crate::support::rumqtt::{self, Events};
use crate::support::start;

/// Waits for the next incoming packet `$packet` (such as `Packet::SubAck`) among the events of a
/// rumqttc event loop whose incoming variant is `$incoming`, and returns it.
macro_rules! incoming {
    ($events:expr, $incoming:path, $packet:path) => {
        $events
            .wait_for(|e| match e {
                $incoming($packet(p)) => Some(p.clone()),
                _ => None,
            })
            .await
    };
}

async fn v3_connected(events: &mut Events<Event>) {
    let connack = incoming!(events, Event::Incoming, Packet::ConnAck);
    assert_eq!(connack.code, ConnectReturnCode::Success);
    assert!(!connack.session_present);
}

async fn v5_connected(
    events: &mut Events<rumqttc::v5::Event>,
) -> rumqttc::v5::mqttbytes::v5::ConnAck {
    let connack = incoming!(events, rumqttc::v5::Event::Incoming, Packet5::ConnAck);
    assert_eq!(connack.code, ConnectReturnCode5::Success);
    connack
}

/// Checks that a 3.1.1 subscriber receives QoS 0, 1 and 2 from a 3.1.1 publisher, both made
/// with `make`.
async fn v3_round_trips(make: impl Fn(&str) -> (rumqttc::AsyncClient, Events<Event>)) {
    let (subscriber, mut sub_events) = make("rumqttc-v3-sub");
    v3_connected(&mut sub_events).await;
    subscriber
        .subscribe("rumqttc/v3/#", QoS::ExactlyOnce)
        .await
        .unwrap();
    let suback = incoming!(sub_events, Event::Incoming, Packet::SubAck);
    assert_eq!(
        suback.return_codes,
        [SubscribeReasonCode::Success(QoS::ExactlyOnce)]
    );

    let (publisher, mut pub_events) = make("rumqttc-v3-pub");
    v3_connected(&mut pub_events).await;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        publisher
            .publish(
                format!("rumqttc/v3/{}", qos as u8),
                qos,
                false,
                vec![qos as u8; 3],
            )
            .await
            .unwrap();
    }
    incoming!(pub_events, Event::Incoming, Packet::PubAck);
    incoming!(pub_events, Event::Incoming, Packet::PubComp);

    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let publish = incoming!(sub_events, Event::Incoming, Packet::Publish);
        assert_eq!(&publish.topic[..], format!("rumqttc/v3/{}", qos as u8));
        assert_eq!(publish.qos, qos);
        assert!(!publish.retain);
        assert_eq!(&publish.payload[..], &[qos as u8; 3]);
        if qos != QoS::AtMostOnce {
            assert_ne!(
                publish.pkid, 0,
                "QoS {qos:?} deliveries carry a packet identifier"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttc_v311_over_tls_round_trips_qos_0_1_2() {
    let server = start().await;
    v3_round_trips(|id| rumqtt::v3(&server, id)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttc_v311_over_tcp_round_trips_qos_0_1_2() {
    let server = start().await;
    v3_round_trips(|id| rumqtt::v3_tcp(&server, id)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttc_v5_over_tls_round_trips_qos_0_1_2_with_properties() {
    let server = start().await;
    let (subscriber, mut sub_events) = rumqtt::v5(&server, "rumqttc-v5-sub");
    let connack = v5_connected(&mut sub_events).await;
    let properties = connack
        .properties
        .expect("a 5.0 CONNACK carries the server's limits");
    assert_eq!(properties.max_packet_size, Some(256 * 1024));
    subscriber
        .subscribe("rumqttc/v5/#", QoS5::ExactlyOnce)
        .await
        .unwrap();
    let suback = incoming!(sub_events, rumqttc::v5::Event::Incoming, Packet5::SubAck);
    assert_eq!(
        suback.return_codes,
        [SubscribeReasonCode5::Success(QoS5::ExactlyOnce)]
    );

    let (publisher, mut pub_events) = rumqtt::v5(&server, "rumqttc-v5-pub");
    v5_connected(&mut pub_events).await;
    for qos in [QoS5::AtMostOnce, QoS5::AtLeastOnce, QoS5::ExactlyOnce] {
        let properties = PublishProperties5 {
            content_type: Some("application/json".into()),
            user_properties: vec![("b".into(), "1".into()), ("a".into(), "2".into())],
            correlation_data: Some(Bytes::from_static(b"\x00corr")),
            response_topic: Some("rumqttc/replies".into()),
            ..Default::default()
        };
        publisher
            .publish_with_properties(
                format!("rumqttc/v5/{}", qos as u8),
                qos,
                false,
                vec![qos as u8; 3],
                properties,
            )
            .await
            .unwrap();
    }
    incoming!(pub_events, rumqttc::v5::Event::Incoming, Packet5::PubAck);
    incoming!(pub_events, rumqttc::v5::Event::Incoming, Packet5::PubComp);

    for qos in [QoS5::AtMostOnce, QoS5::AtLeastOnce, QoS5::ExactlyOnce] {
        let publish = incoming!(sub_events, rumqttc::v5::Event::Incoming, Packet5::Publish);
        assert_eq!(
            &publish.topic[..],
            format!("rumqttc/v5/{}", qos as u8).as_bytes()
        );
        assert_eq!(publish.qos, qos);
        assert_eq!(&publish.payload[..], &[qos as u8; 3]);
        let properties = publish.properties.expect("the properties are forwarded");
        assert_eq!(properties.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            properties.user_properties,
            [
                ("b".to_owned(), "1".to_owned()),
                ("a".to_owned(), "2".to_owned())
            ]
        );
        assert_eq!(
            properties.correlation_data.as_deref(),
            Some(&b"\x00corr"[..])
        );
        assert_eq!(
            properties.response_topic.as_deref(),
            Some("rumqttc/replies")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttc_v311_and_v5_clients_exchange_messages() {
    let server = start().await;
    let (v3, mut v3_events) = rumqtt::v3(&server, "rumqttc-mixed-v3");
    v3_connected(&mut v3_events).await;
    let (v5, mut v5_events) = rumqtt::v5(&server, "rumqttc-mixed-v5");
    v5_connected(&mut v5_events).await;

    v3.subscribe("mixed/to-v3", QoS::AtLeastOnce).await.unwrap();
    incoming!(v3_events, Event::Incoming, Packet::SubAck);
    v5.subscribe("mixed/to-v5", QoS5::AtLeastOnce)
        .await
        .unwrap();
    incoming!(v5_events, rumqttc::v5::Event::Incoming, Packet5::SubAck);

    let properties = PublishProperties5 {
        user_properties: vec![("k".into(), "v".into())],
        ..Default::default()
    };
    v5.publish_with_properties(
        "mixed/to-v3",
        QoS5::AtLeastOnce,
        false,
        "from five",
        properties,
    )
    .await
    .unwrap();
    v3.publish("mixed/to-v5", QoS::AtLeastOnce, false, "from three")
        .await
        .unwrap();

    let got = incoming!(v3_events, Event::Incoming, Packet::Publish);
    assert_eq!(&got.payload[..], b"from five");
    assert_eq!(got.qos, QoS::AtLeastOnce);
    let got = incoming!(v5_events, rumqttc::v5::Event::Incoming, Packet5::Publish);
    assert_eq!(&got.payload[..], b"from three");
    assert_eq!(got.qos, QoS5::AtLeastOnce);
}
