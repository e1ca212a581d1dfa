//! Sessions: Clean Start and Session Expiry (5.0), Clean Session (3.1.1), the Session Present
//! flag, subscriptions and queued QoS 1/2 messages surviving a reconnect, QoS 0 not queued,
//! expiry, and the Session Expiry Interval set by DISCONNECT or capped by the server.

use bytes::Bytes;
use mqtt_codec::{Ack, Connect, Disconnect, Packet, PacketType, Publish, QoS, ReasonCode};
use thingd_broker::BrokerConfig;

use crate::support::*;

/// What [`connect_in_turn`] does with a connection once it has checked its CONNACK.
enum Then {
    /// A normal DISCONNECT.
    Disconnect,
    /// Drops the connection without DISCONNECT.
    Drop,
}

/// Connects with each CONNECT of `steps` in turn, checking that the server accepts it with the
/// Session Present flag given (for the reason given), then ends that connection as told.
async fn connect_in_turn(
    server: &testkit::TestServer,
    net: Net,
    steps: Vec<(Connect, bool, &str, Then)>,
) {
    for (connect, present, why, then) in steps {
        let (client, connack) = Client::connect_ok(server, net, connect).await;
        assert_eq!(connack.session_present, present, "{net:?}: {why}");
        match then {
            Then::Disconnect => client.disconnect().await,
            Then::Drop => drop(client),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_session_present_follows_clean_start_and_expiry() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        let id = format!("present-{net:?}");
        let mut clean_start = persistent_connect(V5, &id, 60);
        clean_start.clean_start = true;
        let steps = vec![
            (
                clean_start,
                false,
                "[MQTT-3.2.2-2]: clean start never resumes",
                Then::Disconnect,
            ),
            (
                persistent_connect(V5, &id, 60),
                true,
                "[MQTT-3.2.2-3]: the session outlived its connection",
                Then::Drop,
            ),
            // This connection asks for expiry 0: its session ends with it.
            (
                persistent_connect(V5, &id, 0),
                true,
                "an abrupt close keeps the session too",
                Then::Disconnect,
            ),
            (
                persistent_connect(V5, &id, 60),
                false,
                "a session with expiry 0 ends when its connection closes",
                Then::Drop,
            ),
        ];
        connect_in_turn(&server, net, steps).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v311_session_present_follows_clean_session() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        let id = format!("present-{net:?}");
        let steps = vec![
            (
                persistent_connect(V3, &id, 0),
                false,
                "no session yet",
                Then::Disconnect,
            ),
            (
                persistent_connect(V3, &id, 0),
                true,
                "[MQTT-3.2.2-2] (3.1.1): the stored session is resumed",
                Then::Disconnect,
            ),
            (
                connect_packet(V3, &id),
                false,
                "[MQTT-3.2.2-1] (3.1.1): clean session discards it",
                Then::Disconnect,
            ),
            (
                persistent_connect(V3, &id, 0),
                false,
                "the clean session ended at its disconnect",
                Then::Drop,
            ),
        ];
        connect_in_turn(&server, net, steps).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_qos1_messages_survive_a_reconnect_but_qos0_is_not_queued() {
    let server = start().await;
    for (version, net) in ALL {
        let id = format!("offline-{version}-{net:?}");
        let base = format!("queued/{}/{net:?}", version.level());
        offline_subscriber(
            &server,
            version,
            net,
            &id,
            &format!("{base}/#"),
            QoS::AtLeastOnce,
        )
        .await;

        let mut publisher = Client::connect(&server, Net::Tcp, V5, "offline-publisher").await;
        publisher.publish0(&format!("{base}/zero"), b"0").await;
        publisher.publish1_ok(&format!("{base}/one"), b"1").await;
        let two = publish_packet(&format!("{base}/two"), b"2", QoS::ExactlyOnce, 77);
        assert_eq!(publisher.publish_acked(two).await, ReasonCode::Success);

        let mut client = Client::resume(&server, net, persistent_connect(version, &id, 300)).await;
        // The subscription survived: a live message arrives without subscribing again.
        publisher.publish0(&format!("{base}/marker"), b"live").await;
        let queued = client.publishes_until(&format!("{base}/marker")).await;
        let got: Vec<_> = queued
            .iter()
            .map(|p| (p.topic.to_string(), p.qos, p.payload.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    format!("{base}/one"),
                    QoS::AtLeastOnce,
                    Bytes::from_static(b"1")
                ),
                // Downgraded to the subscription's QoS 1 [MQTT-3.8.4-8].
                (
                    format!("{base}/two"),
                    QoS::AtLeastOnce,
                    Bytes::from_static(b"2")
                ),
            ],
            "{version} {net:?}: QoS 1 and 2 queued in order while offline, QoS 0 not kept"
        );
        client.disconnect().await;
        publisher.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_at_its_expiry() {
    let server = start().await;
    let (mut client, _) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V5, "expiring", 1)).await;
    client.subscribe("expiring/t", QoS::AtLeastOnce).await;
    client.disconnect().await;
    // The session expires 1 s after the disconnect; a 2 s server timer fires after that.
    server_timer(&server, 2).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "expiring-pub").await;
    assert_eq!(
        publisher.publish1("expiring/t", b"too late").await,
        ReasonCode::NoMatchingSubscribers,
        "the expired session's subscriptions are gone"
    );
    let (_client, connack) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V5, "expiring", 1)).await;
    assert!(
        !connack.session_present,
        "[MQTT-3.1.2-23]: the session was discarded at its expiry"
    );
    assert!(
        thingd_broker::metrics::Metrics::get(&server.broker().metrics().sessions_expired_total)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_kept_until_its_expiry() {
    let server = start().await;
    offline_subscriber(&server, V5, Net::Tcp, "kept", "kept/t", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "kept-pub").await;
    publisher.publish1_ok("kept/t", b"waiting").await;
    server_timer(&server, 1).await;
    let mut client = Client::resume(&server, Net::Tcp, persistent_connect(V5, "kept", 300)).await;
    assert_eq!(&client.expect_publish().await.payload[..], b"waiting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_start_discards_the_session_and_its_queue() {
    let server = start().await;
    for (version, net) in ALL {
        let id = format!("discard-{version}-{net:?}");
        let topic = format!("discard/{}/{net:?}", version.level());
        offline_subscriber(&server, version, net, &id, &topic, QoS::AtLeastOnce).await;
        let mut publisher = Client::connect(&server, Net::Tcp, V5, "discard-pub").await;
        publisher.publish1_ok(&topic, b"queued").await;

        let (mut client, connack) =
            Client::connect_ok(&server, net, connect_packet(version, &id)).await;
        assert!(!connack.session_present);
        // [MQTT-3.1.2-4]: the old session, its subscription and its queue are gone.
        assert_eq!(
            publisher.publish1(&topic, b"unrouted").await,
            ReasonCode::NoMatchingSubscribers
        );
        client.subscribe("discard/marker", QoS::AtMostOnce).await;
        publisher.publish0("discard/marker", b"").await;
        assert!(
            client.publishes_until("discard/marker").await.is_empty(),
            "nothing queued was delivered"
        );
        client.disconnect().await;
        publisher.disconnect().await;
    }
}

/// Connects `id` with a Session Expiry Interval of `asked`, subscribes, and disconnects setting
/// the interval to `set` (§3.14.2.2.2).
async fn disconnect_setting_expiry(
    server: &testkit::TestServer,
    net: Net,
    id: &str,
    asked: u32,
    set: u32,
) {
    let (mut client, _) = Client::connect_ok(server, net, persistent_connect(V5, id, asked)).await;
    client.subscribe(&format!("{id}/t"), QoS::AtLeastOnce).await;
    let mut disconnect = Disconnect::default();
    disconnect.properties.session_expiry_interval = Some(set);
    client.send(&Packet::Disconnect(disconnect)).await;
    assert!(client.expect_close().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_can_end_the_session_with_expiry_zero() {
    let server = start().await;
    disconnect_setting_expiry(&server, Net::Tls, "shorten", 300, 0).await;
    let (_client, connack) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V5, "shorten", 300)).await;
    assert!(
        !connack.session_present,
        "DISCONNECT set the Session Expiry Interval to 0 (§3.14.2.2.2)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_can_extend_the_session_expiry() {
    let server = start().await;
    disconnect_setting_expiry(&server, Net::Tcp, "extend", 1, 300).await;
    // Past the 1 s asked in CONNECT, within the 300 s set by DISCONNECT.
    server_timer(&server, 2).await;
    Client::resume(&server, Net::Tcp, persistent_connect(V5, "extend", 300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_is_capped_and_the_cap_announced() {
    let server = start_with(BrokerConfig {
        max_session_expiry: 10,
        ..BrokerConfig::default()
    })
    .await;
    let (_client, connack) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, "capped", 100)).await;
    // §3.2.2.3.2: the server tells the client the interval it uses instead of the one asked.
    assert_eq!(connack.properties.session_expiry_interval, Some(10));
    let (_client, connack) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, "within", 5)).await;
    assert_eq!(connack.properties.session_expiry_interval, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_qos1_is_resent_with_dup_on_resumption() {
    let server = start().await;
    for (version, net) in ALL {
        let id = format!("dup-{version}-{net:?}");
        let (mut client, _) =
            Client::connect_ok(&server, net, persistent_connect(version, &id, 300)).await;
        client.auto_ack = false;
        client.subscribe("dup/t", QoS::AtLeastOnce).await;
        let mut publisher = Client::connect(&server, Net::Tcp, V5, "dup-pub").await;
        publisher.publish1_ok("dup/t", b"ack me").await;
        let first = client.expect_publish().await;
        assert!(!first.dup);
        let packet_id = first.packet_id.expect("QoS 1 has a packet identifier");
        drop(client); // without acknowledging

        let mut client = Client::resume(&server, net, persistent_connect(version, &id, 300)).await;
        client.auto_ack = false;
        let again = client.expect_publish().await;
        // [MQTT-4.4.0-1]: resent with the same Packet Identifier and DUP set [MQTT-3.3.1-1].
        assert_eq!(again.packet_id, Some(packet_id), "{version} {net:?}");
        assert!(again.dup, "{version} {net:?}");
        assert_eq!(again.payload, first.payload);
        client.ack(&again).await;
        // Acknowledged now: not resent on the next resumption.
        client.settle().await;
        drop(client);
        let (mut client, _) =
            Client::connect_ok(&server, net, persistent_connect(version, &id, 300)).await;
        client.subscribe("dup/marker", QoS::AtMostOnce).await;
        publisher.publish0("dup/marker", b"").await;
        assert!(client.publishes_until("dup/marker").await.is_empty());
        client
            .send(&Packet::Disconnect(Disconnect::default()))
            .await;
        client.expect_close().await;
        publisher.disconnect().await;
        // End the session for the next round.
        let (client, _) = Client::connect_ok(&server, net, connect_packet(version, &id)).await;
        client.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_qos2_pubrel_is_resent_on_resumption() {
    let server = start().await;
    let (mut client, _) =
        Client::connect_ok(&server, Net::Tls, persistent_connect(V5, "pubrel", 300)).await;
    client.auto_ack = false;
    client.subscribe("pubrel/t", QoS::ExactlyOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "pubrel-pub").await;
    let publish = publish_packet("pubrel/t", b"exactly once", QoS::ExactlyOnce, 9);
    assert_eq!(publisher.publish_acked(publish).await, ReasonCode::Success);
    let delivered = client.expect_publish().await;
    let id = delivered.packet_id.unwrap();
    client.send(&Packet::PubRec(Ack::new(id))).await;
    client.expect_ack(PacketType::PubRel, id).await;
    drop(client); // without PUBCOMP

    let mut client = Client::resume(&server, Net::Tls, persistent_connect(V5, "pubrel", 300)).await;
    // [MQTT-4.4.0-1]: the PUBREL is resent, not the PUBLISH.
    client.expect_ack(PacketType::PubRel, id).await;
    client.send(&Packet::PubComp(Ack::new(id))).await;
    assert!(
        client.settle().await.is_empty(),
        "nothing else is outstanding"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_qos2_message_awaiting_pubrel_survives_a_reconnect() {
    let server = start().await;
    let mut subscriber = Client::connect(&server, Net::Tcp, V5, "qos2-in-sub").await;
    subscriber.subscribe("qos2-in/#", QoS::ExactlyOnce).await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let id = format!("qos2-in-{version}");
        let (mut publisher, _) =
            Client::connect_ok(&server, net, persistent_connect(version, &id, 300)).await;
        let publish = publish_packet(
            "qos2-in/t",
            version.to_string().as_bytes(),
            QoS::ExactlyOnce,
            7,
        );
        publisher.send(&Packet::Publish(publish.clone())).await;
        publisher.expect_ack(PacketType::PubRec, pid(7)).await;
        drop(publisher); // before sending PUBREL

        // §4.1: the session keeps the QoS 2 message received but not completely acknowledged, so
        // the re-sent PUBLISH is recognised and not delivered again [MQTT-4.3.3-...].
        let mut publisher =
            Client::resume(&server, net, persistent_connect(version, &id, 300)).await;
        publisher
            .send(&Packet::Publish(Publish {
                dup: true,
                ..publish
            }))
            .await;
        publisher.expect_ack(PacketType::PubRec, pid(7)).await;
        publisher.send(&Packet::PubRel(Ack::new(pid(7)))).await;
        assert_eq!(
            publisher.expect_ack(PacketType::PubComp, pid(7)).await,
            ReasonCode::Success
        );
        publisher.publish1("qos2-in/marker", b"").await;
        let got = subscriber.publishes_until("qos2-in/marker").await;
        assert_eq!(got.len(), 1, "{version} {net:?}: delivered once: {got:?}");
        assert_eq!(got[0].payload, version.to_string().as_bytes());
        publisher.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_takeovers_under_load_keep_delivering() {
    let server = start().await;
    let mut connect = persistent_connect(V5, "hopping", 300);
    connect.properties.receive_maximum = std::num::NonZeroU16::new(1);
    let (mut current, _) = Client::connect_ok(&server, Net::Tcp, connect.clone()).await;
    current.subscribe("hopping/t", QoS::AtLeastOnce).await;

    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "hopping-pub").await;
    let flood = tokio::spawn(async move {
        for n in 0..200_000u32 {
            if stopped.try_recv().is_ok() {
                return;
            }
            publisher.publish1("hopping/t", &n.to_be_bytes()).await;
        }
    });
    // Each new connection takes the session over while deliveries flow; with a window of one,
    // a message left inflight but never sent to the new owner would stall it for good.
    for _ in 0..200 {
        let mut next = Client::resume(&server, Net::Tcp, connect.clone()).await;
        next.expect_publish().await;
        drop(current);
        current = next;
    }
    let _ = stop.send(());
    flood.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_with_its_connection_is_gone_once_the_close_is_seen() {
    let server = start().await;
    for (version, net) in ALL {
        for round in 0..25 {
            // 5.0: Session Expiry 0; 3.1.1: Clean Session 1. The session ends when the network
            // connection closes (§3.1.2.11.2), so once the client has seen the close ...
            let (mut client, _) =
                Client::connect_ok(&server, net, connect_packet(version, "brief")).await;
            client.subscribe("brief/t", QoS::AtLeastOnce).await;
            if round % 2 == 0 {
                client.disconnect().await;
            } else {
                client
                    .send(&Packet::Connect(Box::new(connect_packet(version, "brief"))))
                    .await;
                client.expect_disconnect(ReasonCode::ProtocolError).await;
            }
            // ... a reconnection does not find it.
            let (client, connack) =
                Client::connect_ok(&server, net, persistent_connect(version, "brief", 60)).await;
            assert!(!connack.session_present, "{version} {net:?} round {round}");
            // End this persistent session too before the next round.
            client.disconnect().await;
            let (client, _) =
                Client::connect_ok(&server, net, connect_packet(version, "brief")).await;
            client.disconnect().await;
        }
    }
}

/// A thingd restarted on the data directory another one shut down with resumes its persistent
/// sessions: Session Present, the same subscriptions (with their options and identifiers), and
/// the expiry counted on. Sessions that end with their connection are not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_sessions_survive_a_restart_on_the_same_store() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = testkit::TestServer::start_in(data_dir, BrokerConfig::default())
        .await
        .unwrap();
    for version in [V3, V5] {
        let id = format!("restart-{}", version.level());
        let (mut client, _) =
            Client::connect_ok(&server, Net::Tls, persistent_connect(version, &id, 600)).await;
        client
            .subscribe(&format!("restart/{}/#", version.level()), QoS::AtLeastOnce)
            .await;
        client.disconnect().await;
    }
    // A clean session is not recorded.
    let (client, _) =
        Client::connect_ok(&server, Net::Tcp, connect_packet(V5, "restart-clean")).await;
    client.disconnect().await;
    let data_dir = server.stop_keeping_data().await;
    let snapshot = stored(&data_dir).await;
    let mut ids: Vec<_> = snapshot
        .sessions
        .iter()
        .map(|s| s.client_id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            format!("restart-{}", V3.level()),
            format!("restart-{}", V5.level())
        ],
        "{snapshot:?}"
    );
    assert!(
        snapshot
            .sessions
            .iter()
            .all(|s| !s.online && s.subscriptions.len() == 1)
    );

    let server = testkit::TestServer::start_in(data_dir, BrokerConfig::default())
        .await
        .unwrap();
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "restart-publisher").await;
    for version in [V3, V5] {
        let id = format!("restart-{}", version.level());
        let (mut client, connack) =
            Client::connect_ok(&server, Net::Tls, persistent_connect(version, &id, 600)).await;
        assert!(
            connack.session_present,
            "[MQTT-3.2.2-3]: the restored session is resumed"
        );
        // The subscription came back: a message arrives without subscribing again.
        let topic = format!("restart/{}/after", version.level());
        publisher.publish1_ok(&topic, b"hello").await;
        let publish = client.expect_publish().await;
        assert_eq!(publish.topic, topic.as_str());
        assert_eq!(publish.qos, QoS::AtLeastOnce);
        assert_eq!(&publish.payload[..], b"hello");
        client.ack(&publish).await;
    }
    let (_client, connack) = Client::connect_ok(
        &server,
        Net::Tcp,
        persistent_connect(V5, "restart-clean", 60),
    )
    .await;
    assert!(!connack.session_present);
    server.shutdown().await;
}

/// A stored session whose expiry ran out while no broker was running is not restored
/// (§3.1.2.11.2), and is removed from the store; one with time left is resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_session_that_expired_meanwhile_is_not_restored() {
    let data_dir = tempfile::tempdir().unwrap();
    let subscriptions = || {
        vec![thingd_broker::PersistedSubscription {
            filter: "stored/#".to_owned(),
            options: opts(QoS::AtLeastOnce),
            identifier: None,
        }]
    };
    store_rows(
        &data_dir,
        thingd_broker::store::Batch {
            sessions_written: vec![
                stored_session("expired", 1, 120, subscriptions()),
                stored_session("alive", 2, 10, subscriptions()),
            ],
            ..Default::default()
        },
    )
    .await;
    let server = testkit::TestServer::start_in(data_dir, BrokerConfig::default())
        .await
        .unwrap();
    let (_expired, connack) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, "expired", 60)).await;
    assert!(!connack.session_present);
    let _alive = Client::resume(&server, Net::Tcp, persistent_connect(V5, "alive", 60)).await;
    let data_dir = server.stop_keeping_data().await;
    let snapshot = stored(&data_dir).await;
    let mut ids: Vec<_> = snapshot
        .sessions
        .iter()
        .map(|s| (s.client_id.as_str(), s.uid))
        .collect();
    ids.sort_unstable();
    // "expired" is there again, as the new session its reconnection made (another uid).
    assert_eq!(ids.len(), 2, "{snapshot:?}");
    assert!(
        ids.iter().any(|(id, uid)| *id == "alive" && *uid == 2),
        "{snapshot:?}"
    );
    assert!(
        ids.iter().any(|(id, uid)| *id == "expired" && *uid != 1),
        "{snapshot:?}"
    );
}
