//! Durability across restarts of thingd on the same data directory: queued and unacknowledged
//! QoS 1 messages of persistent sessions (resent with DUP), retained messages as last set, wills
//! waiting for their delay, the stored-data bounds, and QoS 0 and clean sessions never touching
//! the disk. (The SIGKILL crash test runs the real binary: `tests/interop/crash.rs`.)

use mqtt_codec::{Packet, QoS, ReasonCode};
use thingd_broker::store::{Batch, DeliveryStage, StoredDelivery, StoredMessage};
use thingd_broker::{BrokerConfig, QueueOverflow, StoreFull};

use crate::support::*;

/// Stops `server` and starts another thingd on its data directory, with `config`.
async fn restart(server: testkit::TestServer, config: BrokerConfig) -> testkit::TestServer {
    let data_dir = server.stop_keeping_data().await;
    testkit::TestServer::start_in(data_dir, config)
        .await
        .unwrap()
}

/// A metric's value in the broker's Prometheus text.
fn metric(server: &testkit::TestServer, name: &str) -> u64 {
    let text = server.broker().render_metrics();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

/// A persistent subscriber's unacknowledged message comes back first, with DUP set
/// [MQTT-4.4.0-1], followed by the messages queued while it was offline, in order; once
/// acknowledged they are gone, across one more restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_and_unacknowledged_messages_survive_a_restart() {
    for version in [V3, V5] {
        let server = start().await;
        let id = format!("durable-sub-{}", version.level());
        let (mut subscriber, _) =
            Client::connect_ok(&server, Net::Tcp, persistent_connect(version, &id, 600)).await;
        subscriber.subscribe("durable/#", QoS::AtLeastOnce).await;
        subscriber.auto_ack = false;
        let mut publisher = Client::connect(&server, Net::Tcp, V5, "durable-pub").await;
        publisher.publish1_ok("durable/1", b"one").await;
        let first = subscriber.expect_publish().await;
        assert_eq!(&first.payload[..], b"one");
        assert!(!first.dup);
        // Not acknowledged: the session keeps it in flight.
        drop(subscriber);
        for (topic, payload) in [("durable/2", b"two"), ("durable/3", b"tri")] {
            publisher.publish1_ok(topic, payload).await;
        }
        drop(publisher);

        let server = restart(server, BrokerConfig::default()).await;
        let mut subscriber =
            Client::resume(&server, Net::Tcp, persistent_connect(version, &id, 600)).await;
        let again = subscriber.expect_publish().await;
        assert_eq!(
            (&again.payload[..], again.dup, again.packet_id),
            (&b"one"[..], true, first.packet_id),
            "{version}: the unacknowledged message is resent with DUP and its identifier"
        );
        subscriber.ack(&again).await;
        for expected in [&b"two"[..], b"tri"] {
            let publish = subscriber.expect_publish().await;
            assert_eq!((&publish.payload[..], publish.dup), (expected, false));
            subscriber.ack(&publish).await;
        }
        subscriber.settle().await;
        subscriber.disconnect().await;

        let data_dir = server.stop_keeping_data().await;
        let snapshot = stored(&data_dir).await;
        assert!(snapshot.deliveries.is_empty(), "{snapshot:?}");
        assert!(snapshot.messages.is_empty(), "{snapshot:?}");
        let server = testkit::TestServer::start_in(data_dir, BrokerConfig::default())
            .await
            .unwrap();
        let mut subscriber =
            Client::resume(&server, Net::Tcp, persistent_connect(version, &id, 600)).await;
        subscriber
            .assert_no_publish(&format!("{version}: acknowledged messages came back"))
            .await;
        server.shutdown().await;
    }
}

/// A QoS 2 message whose PUBREC arrived before the restart is completed with PUBREL after it,
/// not sent again [MQTT-4.4.0-1].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_qos2_delivery_resumes_with_pubrel() {
    let server = start().await;
    let (mut subscriber, _) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, "durable-q2", 600)).await;
    subscriber.subscribe("q2/#", QoS::ExactlyOnce).await;
    subscriber.auto_ack = false;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "durable-q2-pub").await;
    assert_eq!(
        publisher
            .publish_acked(publish_packet("q2/x", b"exactly", QoS::ExactlyOnce, 7))
            .await,
        ReasonCode::Success
    );
    let publish = subscriber.expect_publish().await;
    let id = publish.packet_id.unwrap();
    subscriber
        .send(&Packet::PubRec(mqtt_codec::Ack::new(id)))
        .await;
    let rel = subscriber.next_packet().await;
    assert!(matches!(rel, Packet::PubRel(ack) if ack.packet_id == id));
    // Settled: the server has recorded the PUBREC before the restart.
    subscriber.settle().await;
    drop(subscriber);
    drop(publisher);

    let server = restart(server, BrokerConfig::default()).await;
    let mut subscriber =
        Client::resume(&server, Net::Tcp, persistent_connect(V5, "durable-q2", 600)).await;
    let first = subscriber.next_packet().await;
    assert!(
        matches!(&first, Packet::PubRel(ack) if ack.packet_id == id),
        "expected PUBREL {id:?}, got {first:?}"
    );
    subscriber
        .send(&Packet::PubComp(mqtt_codec::Ack::new(id)))
        .await;
    subscriber.assert_no_publish("after the last message").await;
    server.shutdown().await;
}

/// Retained messages come back exactly as last set; cleared ones stay cleared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_come_back_as_last_set() {
    let server = start().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "retainer").await;
    for (topic, payload) in [
        ("kept/a", &b"first"[..]),
        ("kept/b", b"gone soon"),
        ("kept/b", b""),
        ("kept/a", b"last"),
        ("kept/c", b"third"),
    ] {
        assert_eq!(
            publisher.publish_retained(topic, payload).await,
            ReasonCode::Success
        );
    }
    drop(publisher);
    let server = restart(server, BrokerConfig::default()).await;
    let mut subscriber = Client::connect(&server, Net::Tcp, V5, "retained-reader").await;
    subscriber.subscribe("kept/#", QoS::AtLeastOnce).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let publish = subscriber.expect_publish().await;
        assert!(publish.retain);
        seen.push((publish.topic.to_string(), publish.payload.to_vec()));
        subscriber.ack(&publish).await;
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("kept/a".to_owned(), b"last".to_vec()),
            ("kept/c".to_owned(), b"third".to_vec())
        ]
    );
    subscriber.assert_no_publish("after the last message").await;
    server.shutdown().await;
}

/// A session whose expiry ran out while thingd was down is removed at start with its queue and
/// the messages only it held; a live one keeps its queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sessions_queue_is_removed_at_start() {
    let data_dir = tempfile::tempdir().unwrap();
    let now_ms = wall_ms();
    let message = |id: u64, payload: &str| {
        let mut packet = bytes::BytesMut::new();
        Packet::Publish(publish_packet(
            "queued/x",
            payload.as_bytes(),
            QoS::AtLeastOnce,
            1,
        ))
        .encode(V5, &mut packet)
        .unwrap();
        StoredMessage {
            id,
            packet: packet.freeze(),
            received_at_ms: now_ms,
            expires_at_ms: None,
        }
    };
    let delivery = |uid: u64, seq: u64, message_id: u64| StoredDelivery {
        uid,
        seq,
        message_id,
        qos: 1,
        retain: false,
        subscription_ids: Vec::new(),
        packet_id: None,
        stage: DeliveryStage::Queued,
    };
    store_rows(
        &data_dir,
        Batch {
            sessions_written: vec![
                stored_session("expired", 11, 600, Vec::new()),
                stored_session("alive", 12, 5, Vec::new()),
            ],
            messages_inserted: vec![message(1, "only expired"), message(2, "both")],
            deliveries_inserted: vec![delivery(11, 1, 1), delivery(11, 2, 2), delivery(12, 1, 2)],
            ..Batch::default()
        },
    )
    .await;
    let server = testkit::TestServer::start_in(data_dir, BrokerConfig::default())
        .await
        .unwrap();
    let mut alive = Client::resume(&server, Net::Tcp, persistent_connect(V5, "alive", 60)).await;
    alive.auto_ack = false;
    let publish = alive.expect_publish().await;
    assert_eq!(&publish.payload[..], b"both");
    // Not acknowledged yet: still stored after the restart.
    alive.settle().await;
    drop(alive);
    let data_dir = server.stop_keeping_data().await;
    let snapshot = stored(&data_dir).await;
    let uids: Vec<u64> = snapshot.sessions.iter().map(|s| s.uid).collect();
    assert_eq!(uids, [12], "{snapshot:?}");
    assert_eq!(
        snapshot
            .deliveries
            .iter()
            .map(|d| (d.uid, d.seq, d.stage))
            .collect::<Vec<_>>(),
        [(12, 1, DeliveryStage::Sent)]
    );
    assert_eq!(
        snapshot.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [2]
    );
}

/// A will waiting for its Will Delay Interval when thingd stops is published after the restart
/// when its delay ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_will_waiting_for_its_delay_survives_a_restart() {
    let server = start().await;
    let mut connect = persistent_connect(V5, "durable-will", 600);
    let mut w = will("wills/durable", b"gone", QoS::AtLeastOnce, false);
    w.properties.will_delay_interval = Some(4);
    connect.will = Some(w);
    let (client, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    // The connection drops without DISCONNECT: the will waits for its delay.
    drop(client);
    let mut probe = Client::connect(&server, Net::Tcp, V5, "durable-will-probe").await;
    probe.settle().await;
    let server = restart(server, BrokerConfig::default()).await;
    let mut watcher = Client::connect(&server, Net::Tcp, V5, "durable-will-watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;
    let publish = watcher.expect_publish().await;
    assert_eq!(
        (publish.topic.as_str(), &publish.payload[..]),
        ("wills/durable", &b"gone"[..])
    );
    server.shutdown().await;
}

/// Past `max_stored_bytes` with `StoreFull::Refuse`, a 5.0 publisher gets PUBACK 0x97 and a
/// 3.1.1 publisher is disconnected; the refusal is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_refuses_publishers() {
    let config = BrokerConfig {
        max_stored_bytes: 1,
        store_full: StoreFull::Refuse,
        ..BrokerConfig::default()
    };
    let server = start_with(config).await;
    offline_subscriber(
        &server,
        V5,
        Net::Tcp,
        "full-sub",
        "full/#",
        QoS::AtLeastOnce,
    )
    .await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "full-pub").await;
    // The first fits (the store was empty); its PUBACK comes once it is stored.
    assert_eq!(
        publisher.publish1("full/1", b"x").await,
        ReasonCode::Success
    );
    assert_eq!(
        publisher.publish1("full/2", b"y").await,
        ReasonCode::QuotaExceeded
    );
    // A message no persistent session needs stored is not refused.
    assert_eq!(
        publisher.publish1("other/topic", b"z").await,
        ReasonCode::NoMatchingSubscribers
    );
    let mut v3 = Client::connect(&server, Net::Tcp, V3, "full-pub-3").await;
    v3.send_publish("full/3", b"w", QoS::AtLeastOnce, 1).await;
    let after = v3.expect_close().await;
    assert!(
        after.iter().all(|p| !matches!(p, Packet::PubAck(_))),
        "{after:?}"
    );
    assert_eq!(metric(&server, "thingd_store_refused_total"), 2);
    let mut subscriber =
        Client::resume(&server, Net::Tcp, persistent_connect(V5, "full-sub", 300)).await;
    let publish = subscriber.expect_publish().await;
    assert_eq!(&publish.payload[..], b"x");
    subscriber.ack(&publish).await;
    subscriber.assert_no_publish("after the last message").await;
    server.shutdown().await;
}

/// With `QueueOverflow::DropOldest`, a full session queue drops its oldest message for the
/// newest, in memory and in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_keeps_the_newest_across_a_restart() {
    let config = BrokerConfig {
        max_session_queue: 2,
        queue_overflow: QueueOverflow::DropOldest,
        ..BrokerConfig::default()
    };
    let server = start_with(config.clone()).await;
    offline_subscriber(
        &server,
        V5,
        Net::Tcp,
        "oldest-sub",
        "oldest/#",
        QoS::AtLeastOnce,
    )
    .await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "oldest-pub").await;
    for n in 1..=4 {
        publisher
            .publish1_ok(&format!("oldest/{n}"), n.to_string().as_bytes())
            .await;
    }
    drop(publisher);
    let server = restart(server, config).await;
    let mut subscriber =
        Client::resume(&server, Net::Tcp, persistent_connect(V5, "oldest-sub", 300)).await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let publish = subscriber.expect_publish().await;
        got.push(publish.payload.to_vec());
        subscriber.ack(&publish).await;
    }
    assert_eq!(got, [b"3".to_vec(), b"4".to_vec()]);
    subscriber.assert_no_publish("after the last message").await;
    server.shutdown().await;
}

/// QoS 0 to an online persistent session, and QoS 1 to a session that ends with its
/// connection, never reach the store; QoS 1 to a persistent session does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_what_must_survive_is_written() {
    let server = start().await;
    let (mut persistent, _) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, "writes-p", 600)).await;
    persistent.subscribe("writes/p/#", QoS::AtMostOnce).await;
    let mut clean = Client::connect(&server, Net::Tcp, V5, "writes-c").await;
    clean.subscribe("writes/c/#", QoS::AtLeastOnce).await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "writes-pub").await;
    publisher.settle().await;
    let before = metric(&server, "thingd_store_rows_written_total");
    for n in 0..50 {
        publisher
            .publish0("writes/p/x", format!("{n}").as_bytes())
            .await;
        publisher
            .publish1_ok("writes/c/x", format!("{n}").as_bytes())
            .await;
    }
    for _ in 0..50 {
        persistent.expect_publish().await;
        let publish = clean.expect_publish().await;
        clean.ack(&publish).await;
    }
    clean.settle().await;
    publisher.settle().await;
    assert_eq!(
        metric(&server, "thingd_store_rows_written_total"),
        before,
        "QoS 0 and clean sessions wrote to the store"
    );
    // A persistent QoS 1 subscription that is offline makes the message durable.
    offline_subscriber(
        &server,
        V5,
        Net::Tcp,
        "writes-off",
        "writes/o/#",
        QoS::AtLeastOnce,
    )
    .await;
    let before = metric(&server, "thingd_store_rows_written_total");
    publisher.publish1_ok("writes/o/x", b"kept").await;
    assert!(metric(&server, "thingd_store_rows_written_total") > before);
    server.shutdown().await;
}

/// A broker database that is not one (a damaged or foreign file) stops thingd at start with an
/// error naming the file, rather than starting empty over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_is_refused_at_start_with_its_name() {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data_dir.path().join("data")).unwrap();
    std::fs::write(
        mqtt_database(&data_dir),
        b"this is not a SQLite database, but it is long enough to look like a header of one",
    )
    .unwrap();
    let Err(error) = testkit::TestServer::start_in(data_dir, BrokerConfig::default()).await else {
        panic!("thingd started on a damaged store");
    };
    let text = format!("{error:#}");
    assert!(text.contains("mqtt.db"), "{text}");
}

/// A QoS 2 message acknowledged with PUBREC before a restart is not delivered again when its
/// publisher, resuming, sends it once more; its PUBREL completes normally [MQTT-4.3.3-...].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_received_qos2_publish_is_not_delivered_twice_across_a_restart() {
    let server = start().await;
    let mut subscriber = Client::connect(&server, Net::Tcp, V5, "q2-in-sub").await;
    subscriber.subscribe("q2in/#", QoS::AtMostOnce).await;
    let (mut publisher, _) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, "q2-in-pub", 600)).await;
    let publish = publish_packet("q2in/x", b"once", QoS::ExactlyOnce, 9);
    publisher.send(&Packet::Publish(publish.clone())).await;
    let rec = publisher.next_packet().await;
    assert!(
        matches!(&rec, Packet::PubRec(ack) if ack.packet_id == pid(9) && ack.reason_code == ReasonCode::Success),
        "{rec:?}"
    );
    assert_eq!(&subscriber.expect_publish().await.payload[..], b"once");
    drop(publisher);
    drop(subscriber);

    let server = restart(server, BrokerConfig::default()).await;
    let mut subscriber = Client::connect(&server, Net::Tcp, V5, "q2-in-sub").await;
    subscriber.subscribe("q2in/#", QoS::AtMostOnce).await;
    let mut publisher =
        Client::resume(&server, Net::Tcp, persistent_connect(V5, "q2-in-pub", 600)).await;
    let mut again = publish;
    again.dup = true;
    publisher.send(&Packet::Publish(again)).await;
    let rec = publisher.next_packet().await;
    assert!(
        matches!(&rec, Packet::PubRec(ack) if ack.packet_id == pid(9)),
        "{rec:?}"
    );
    publisher
        .send(&Packet::PubRel(mqtt_codec::Ack::new(pid(9))))
        .await;
    let comp = publisher.next_packet().await;
    assert!(
        matches!(&comp, Packet::PubComp(ack) if ack.packet_id == pid(9) && ack.reason_code == ReasonCode::Success),
        "{comp:?}"
    );
    subscriber
        .assert_no_publish("the resent QoS 2 message was delivered again")
        .await;
    server.shutdown().await;
}

/// A session resumed with an expiry of 0 leaves the store; made persistent again by its next
/// connection, it is stored anew, and its queue survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_stops_and_starts_being_persistent_is_stored_again() {
    let server = start().await;
    offline_subscriber(&server, V5, Net::Tcp, "flip", "flip/#", QoS::AtLeastOnce).await;
    // Resumed with an expiry of 0: it will end with this connection, so it leaves the store.
    let mut brief = persistent_connect(V5, "flip", 600);
    brief.properties.session_expiry_interval = Some(0);
    let mut client = Client::resume(&server, Net::Tcp, brief).await;
    // Made persistent again before the connection ends, by DISCONNECT... which 5.0 forbids
    // after 0 [MQTT-3.14.2-2]; so by a takeover that resumes it with an expiry again.
    client.settle().await;
    let (client2, connack) =
        Client::connect_ok(&server, Net::Tcp, persistent_connect(V5, "flip", 600)).await;
    assert!(connack.session_present);
    drop(client);
    client2.disconnect().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "flip-pub").await;
    publisher.publish1_ok("flip/x", b"kept").await;
    drop(publisher);
    let server = restart(server, BrokerConfig::default()).await;
    let mut subscriber =
        Client::resume(&server, Net::Tcp, persistent_connect(V5, "flip", 600)).await;
    let publish = subscriber.expect_publish().await;
    assert_eq!(&publish.payload[..], b"kept");
    server.shutdown().await;
}
