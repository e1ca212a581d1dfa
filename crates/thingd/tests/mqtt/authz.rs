//! The authorization seam: a test [`Authorizer`] that refuses some connections, denies a topic
//! for publish, a filter for subscribe and a topic for receive, and records every principal;
//! checked from both protocol versions over TLS and TCP. Rights that change while connected are
//! in `authz_live`.

use std::sync::{Arc, Mutex};

use mqtt_codec::{Packet, QoS, ReasonCode, SubscriptionOptions};
use mqtt_topic::{SubscriptionFilter, TopicName};
use thingd_broker::auth::{BoxFuture, ConnectRequest};
use thingd_broker::metrics::Metrics;
use thingd_broker::{Authorizer, BrokerConfig, ConnectionAuthorizer, ListenerKind};

use crate::support::*;

/// What the authorizer saw of one CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    listener: ListenerKind,
    certificate_id: Option<String>,
    client_id: String,
}

/// Refuses client ids starting with `denied`; see [`Rules`] for the rest.
#[derive(Clone, Default)]
struct TestAuthorizer {
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Publishing to `forbidden/...` is denied, subscribing to filters starting with `hidden/` is
/// denied, and messages on `secret/...` are not delivered.
struct Rules;

impl ConnectionAuthorizer for Rules {
    fn publish(&self, topic: &TopicName, _qos: QoS, _retain: bool) -> bool {
        !topic.as_str().starts_with("forbidden/")
    }
    fn subscribe(&self, filter: &SubscriptionFilter) -> bool {
        !filter.filter().as_str().starts_with("hidden/")
    }
    fn receive(&self, topic: &TopicName) -> bool {
        !topic.as_str().starts_with("secret/")
    }
}

impl Authorizer for TestAuthorizer {
    fn authorize_connect<'a>(
        &'a self,
        request: &'a ConnectRequest<'a>,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionAuthorizer>, ReasonCode>> {
        Box::pin(async move {
            self.seen.lock().unwrap().push(Seen {
                listener: request.principal.listener,
                certificate_id: request
                    .principal
                    .certificate
                    .as_ref()
                    .map(|c| c.certificate_id.clone()),
                client_id: request.client_id.to_owned(),
            });
            if request.client_id.starts_with("denied") {
                return Err(ReasonCode::NotAuthorized);
            }
            Ok(Arc::new(Rules) as Arc<dyn ConnectionAuthorizer>)
        })
    }
}

async fn start_authorized(config: BrokerConfig) -> (testkit::TestServer, TestAuthorizer) {
    let authorizer = TestAuthorizer::default();
    let server = testkit::TestServer::start_with_authorizer(config, Arc::new(authorizer.clone()))
        .await
        .unwrap();
    (server, authorizer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_publish_is_refused_and_not_delivered() {
    let (server, _) = start_authorized(BrokerConfig::default()).await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "watcher").await;
    watcher.subscribe("#", QoS::AtLeastOnce).await;
    let mut v5 = Client::connect(&server, Net::Tls, V5, "publisher-v5").await;
    // 5.0: PUBACK / PUBREC 0x87 Not authorized (§3.4.2.1); QoS 0 is dropped, the connection
    // kept (it goes on to publish the marker below).
    let forbidden = ["forbidden/a", "forbidden/b", "forbidden/c", "forbidden/d"];
    publish_unauthorized(&mut v5, forbidden).await;
    // 3.1.1 cannot refuse a PUBLISH: as AWS IoT does, the server closes the connection without
    // acknowledging it, whatever its QoS.
    for (qos, topic) in [
        (QoS::AtMostOnce, "forbidden/e"),
        (QoS::AtLeastOnce, "forbidden/f"),
        (QoS::ExactlyOnce, "forbidden/g"),
    ] {
        let mut v3 = Client::connect(&server, Net::Tls, V3, "publisher-v3").await;
        let mut publish = publish_packet(topic, b"x", qos, 92);
        publish.retain = qos == QoS::AtLeastOnce;
        v3.send(&Packet::Publish(publish)).await;
        let before = v3.expect_close().await;
        assert!(before.is_empty(), "{qos:?}: {before:?}");
    }
    assert_eq!(
        Metrics::get(&server.broker().metrics().publishes_denied_total),
        7
    );

    // Neither delivered nor retained.
    assert_none_delivered_or_retained(
        &server,
        &mut watcher,
        &mut v5,
        "allowed/marker",
        "forbidden/#",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_to_a_server_topic_is_refused_without_closing() {
    let (server, _) = start_authorized(BrokerConfig::default()).await;
    // `$` topics are the server's [MQTT-4.7.2-1]: refused whatever the authorizer says, and a
    // 3.1.1 client keeps its connection (a positive PUBACK, the message dropped).
    let mut v3 = Client::connect(&server, Net::Tls, V3, "system-v3").await;
    assert_eq!(v3.publish1("$SYS/x", b"x").await, ReasonCode::Success);
    let mut v5 = Client::connect(&server, Net::Tcp, V5, "system-v5").await;
    assert_eq!(v5.publish1("$SYS/x", b"x").await, ReasonCode::NotAuthorized);
    assert_eq!(
        Metrics::get(&server.broker().metrics().publishes_denied_total),
        2
    );
    v3.ping().await;
    v5.ping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_subscribe_gets_a_failure_code() {
    let (server, _) = start_authorized(BrokerConfig::default()).await;
    for (version, net) in ALL {
        let mut client = Client::connect(&server, net, version, "subscriber").await;
        let filters = [
            ("hidden/#", SubscriptionOptions::qos(QoS::AtLeastOnce)),
            ("open/#", SubscriptionOptions::qos(QoS::AtLeastOnce)),
        ];
        let suback = client.subscribe_with(&filters, None).await;
        // 5.0: 0x87 Not authorized; 3.1.1: 0x80 Failure (decoded here as 0x80 Unspecified error).
        let refused = by_version(
            version,
            ReasonCode::NotAuthorized,
            ReasonCode::UnspecifiedError,
        );
        assert_eq!(
            suback.reason_codes,
            [refused, ReasonCode::GrantedQoS1],
            "{version} {net:?}"
        );
        let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
        assert_eq!(
            publisher.publish1("hidden/x", b"x").await,
            ReasonCode::NoMatchingSubscribers,
            "no subscription was made"
        );
        publisher.publish1_ok("open/x", b"y").await;
        assert_eq!(&client.expect_publish().await.payload[..], b"y");
        client.disconnect().await;
        publisher.disconnect().await;
    }
    // On the wire, 3.1.1's refusal is the Failure return code, for that filter only.
    let suback = mqtt_codec::SubAck {
        packet_id: pid(9),
        properties: Default::default(),
        reason_codes: vec![ReasonCode::NotAuthorized, ReasonCode::GrantedQoS1],
    };
    assert_eq!(
        encoded(V3, &Packet::SubAck(suback)),
        [0x90, 0x04, 0x00, 0x09, 0x80, 0x01]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_receipts_drop_live_and_retained_messages() {
    let (server, _) = start_authorized(BrokerConfig::default()).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    for topic in ["secret/retained", "open/retained"] {
        assert_eq!(
            publisher.publish_retained(topic, topic.as_bytes()).await,
            ReasonCode::Success
        );
    }
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let mut client = Client::connect(&server, net, version, "receiver").await;
        client.subscribe("+/retained", QoS::AtLeastOnce).await;
        client.subscribe("+/live", QoS::AtLeastOnce).await;
        client.subscribe("marker", QoS::AtLeastOnce).await;
        publisher.publish1("secret/live", b"secret/live").await;
        publisher.publish1("open/live", b"open/live").await;
        publisher.publish1("marker", b"").await;
        let got: Vec<_> = client
            .publishes_until("marker")
            .await
            .into_iter()
            .map(|p| p.topic.to_string())
            .collect();
        assert_eq!(got, ["open/retained", "open/live"], "{version} {net:?}");
        client.disconnect().await;
    }
    assert!(Metrics::get(&server.broker().metrics().deliveries_denied_total) >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_retained_messages_do_not_stall_a_small_receive_window() {
    let (server, _) = start_authorized(BrokerConfig::default()).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "publisher").await;
    for topic in ["secret/1", "secret/2", "visible/3"] {
        publisher.publish_retained(topic, topic.as_bytes()).await;
    }
    let mut connect = connect_packet(V5, "narrow");
    connect.properties.receive_maximum = std::num::NonZeroU16::new(1);
    let (mut client, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    client.subscribe("#", QoS::AtLeastOnce).await;
    // The denied messages take and give back the one slot; the visible one follows at once.
    let p = client.expect_publish().await;
    assert_eq!(p.topic.as_str(), "visible/3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_connect_gets_not_authorized() {
    let (server, _) = start_authorized(BrokerConfig::default()).await;
    for (version, net) in ALL {
        // 5.0: 0x87; 3.1.1: return code 5, Not authorized (decoded as 0x87).
        let connack = Client::connect_refused(
            &server,
            net,
            connect_packet(version, "denied-device"),
            ReasonCode::NotAuthorized,
        )
        .await;
        assert!(!connack.session_present);
    }
    let refusal = mqtt_codec::ConnAck::new(false, ReasonCode::NotAuthorized);
    assert_eq!(
        encoded(V3, &Packet::ConnAck(refusal)),
        [0x20, 0x02, 0x00, 0x05]
    );
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_will_the_client_may_not_publish_refuses_the_connect() {
    let (server, _) = start_authorized(BrokerConfig::default()).await;
    for (version, net) in ALL {
        // 5.0: CONNACK 0x87; 3.1.1: return code 5 Not authorized (decoded as 0x87).
        let mut connect = connect_packet(version, "bad-will");
        connect.will = Some(will("forbidden/will", b"x", QoS::AtMostOnce, false));
        Client::connect_refused(&server, net, connect, ReasonCode::NotAuthorized).await;
    }
    assert_eq!(
        Metrics::get(&server.broker().metrics().connections_refused_total),
        4
    );
    assert_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_principal_carries_the_client_certificate_id() {
    let (server, authorizer) = start_authorized(BrokerConfig::default()).await;
    Client::connect(&server, Net::Tls, V5, "with-cert")
        .await
        .disconnect()
        .await;
    Client::connect(&server, Net::Tcp, V3, "without-cert")
        .await
        .disconnect()
        .await;
    let other = server.issue_client("other-device").await.unwrap();
    assert_ne!(other.certificate_id, server.client.certificate_id);
    let config = tls_config(&server, &other);
    let mut client = Client::open_tls(&server, config, V3).await;
    let connack = client.handshake(connect_packet(V3, "other-cert")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    // And through a real client library.
    let (_rumqttc, mut events) = rumqtt::v5(&server, "rumqttc-cert");
    events
        .wait_for(|e| {
            matches!(
                e,
                rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::ConnAck(_))
            )
            .then_some(())
        })
        .await;

    let seen = authorizer.seen.lock().unwrap().clone();
    let tls = |client_id: &str, id: &str| Seen {
        listener: ListenerKind::Tls,
        certificate_id: Some(id.to_owned()),
        client_id: client_id.to_owned(),
    };
    assert_eq!(
        seen,
        [
            // The certificate id is the SHA-256 of the DER, as testkit computed it.
            tls("with-cert", &server.client.certificate_id),
            Seen {
                listener: ListenerKind::Tcp,
                certificate_id: None,
                client_id: "without-cert".into()
            },
            tls("other-cert", &other.certificate_id),
            tls("rumqttc-cert", &server.client.certificate_id),
        ]
    );
    assert_eq!(server.client.certificate_id.len(), 64);
}
