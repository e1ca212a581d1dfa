//! Will messages: published when the network connection closes without DISCONNECT (dropped,
//! keep-alive timeout, protocol error, takeover), not after a normal DISCONNECT, published after
//! DISCONNECT 0x04, the Will Delay Interval, will retain and will properties.

use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{Disconnect, Packet, PayloadFormat, QoS, ReasonCode, UserProperty};

use crate::support::*;

/// A subscriber to `filter` and a marker topic.
async fn watcher(server: &testkit::TestServer, filter: &str) -> Client {
    let mut client = Client::connect(server, Net::Tcp, V5, &format!("watcher-{filter}")).await;
    client.subscribe(filter, QoS::ExactlyOnce).await;
    client.subscribe("will-marker", QoS::AtMostOnce).await;
    client
}

/// Publishes the marker.
async fn marker(server: &testkit::TestServer) {
    let mut publisher = Client::connect(server, Net::Tcp, V5, "will-marker-pub").await;
    publisher.publish0("will-marker", b"").await;
    publisher.disconnect().await;
}

fn connect_with_will(
    version: mqtt_codec::ProtocolVersion,
    id: &str,
    topic: &str,
    qos: QoS,
    retain: bool,
) -> mqtt_codec::Connect {
    let mut connect = connect_packet(version, id);
    connect.will = Some(will(topic, format!("{id} is gone").as_bytes(), qos, retain));
    connect
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_is_published_when_the_connection_drops() {
    let server = start().await;
    for (version, net) in ALL {
        let topic = format!("wills/{}/{net:?}", version.level());
        let mut watcher = watcher(&server, &topic).await;
        let (client, _) = Client::connect_ok(
            &server,
            net,
            connect_with_will(version, "dropper", &topic, QoS::AtLeastOnce, false),
        )
        .await;
        drop(client);
        // [MQTT-3.1.2-8]: the network connection closed without DISCONNECT.
        let will = watcher.expect_publish().await;
        assert_eq!(will.topic.as_str(), topic);
        assert_eq!(&will.payload[..], b"dropper is gone");
        assert_eq!(will.qos, QoS::AtLeastOnce, "{version} {net:?}");
        assert!(!will.retain);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_is_not_published_after_a_normal_disconnect() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    for (version, net) in [(V3, Net::Tls), (V5, Net::Tcp)] {
        let (client, _) = Client::connect_ok(
            &server,
            net,
            connect_with_will(version, "polite", "wills/polite", QoS::AtLeastOnce, false),
        )
        .await;
        // [MQTT-3.1.2-10]: DISCONNECT removes the will.
        client.disconnect().await;
    }
    // Anything published because of those closes would have been by the time a 1 s timer fires.
    server_timer(&server, 1).await;
    marker(&server).await;
    assert!(watcher.publishes_until("will-marker").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_is_published_after_disconnect_with_will_message() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let (mut client, _) = Client::connect_ok(
        &server,
        Net::Tls,
        connect_with_will(V5, "leaver", "wills/leaver", QoS::AtMostOnce, false),
    )
    .await;
    client
        .send(&Packet::Disconnect(Disconnect::new(
            ReasonCode::DisconnectWithWillMessage,
        )))
        .await;
    assert!(client.expect_close().await.is_empty());
    // §3.14.2.1: 0x04 asks the server to publish the will.
    assert_eq!(
        &watcher.expect_publish().await.payload[..],
        b"leaver is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_is_published_on_keep_alive_timeout_and_on_protocol_errors() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_will(V3, "silent", "wills/silent", QoS::AtMostOnce, false);
    connect.keep_alive = 1;
    let (mut silent, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    silent.expect_close().await;
    assert_eq!(
        &watcher.expect_publish().await.payload[..],
        b"silent is gone"
    );

    let (mut rude, _) = Client::connect_ok(
        &server,
        Net::Tls,
        connect_with_will(V5, "rude", "wills/rude", QoS::AtMostOnce, false),
    )
    .await;
    rude.send(&Packet::Connect(Box::new(connect_packet(V5, "rude"))))
        .await;
    rude.expect_disconnect(ReasonCode::ProtocolError).await;
    assert_eq!(&watcher.expect_publish().await.payload[..], b"rude is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_connections_will_is_published_on_takeover() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let (mut older, _) = Client::connect_ok(
        &server,
        Net::Tcp,
        connect_with_will(V3, "twin", "wills/twin", QoS::AtMostOnce, false),
    )
    .await;
    let _newer = Client::connect(&server, Net::Tls, V3, "twin").await;
    older.expect_close().await;
    // The older network connection closed without DISCONNECT [MQTT-3.1.2-8].
    assert_eq!(&watcher.expect_publish().await.payload[..], b"twin is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_delay_interval_postpones_the_will() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_will(V5, "delayed", "wills/delayed", QoS::AtLeastOnce, false);
    connect.properties.session_expiry_interval = Some(60);
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(1);
    let (client, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    let (will, elapsed) = timed(async {
        drop(client);
        watcher.expect_publish().await
    })
    .await;
    assert_eq!(&will.payload[..], b"delayed is gone");
    // §3.1.3.2.2: not before the Will Delay Interval.
    assert!(
        elapsed >= Duration::from_millis(900),
        "published after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_within_the_will_delay_cancels_the_will() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_will(V5, "flaky", "wills/flaky", QoS::AtLeastOnce, false);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(60);
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(1);
    let (client, _) = Client::connect_ok(&server, Net::Tcp, connect.clone()).await;
    drop(client);
    connect.will = None;
    let (_client, connack) = Client::connect_ok(&server, Net::Tcp, connect).await;
    assert!(connack.session_present);
    // [MQTT-3.1.3-9]: the will that was due 1 s after the drop is never published.
    server_timer(&server, 2).await;
    marker(&server).await;
    assert!(watcher.publishes_until("will-marker").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_before_the_will_delay_publishes_the_will_then() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_will(
        V5,
        "short-lived",
        "wills/short-lived",
        QoS::AtMostOnce,
        false,
    );
    connect.properties.session_expiry_interval = Some(1);
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(3600);
    let (client, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    drop(client);
    // §3.1.3.2.2: the earlier of the Will Delay Interval and the session's end.
    let (will, elapsed) = timed(watcher.expect_publish()).await;
    assert_eq!(&will.payload[..], b"short-lived is gone");
    assert!(elapsed < Duration::from_secs(9), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_will_with_retain_becomes_the_retained_message() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let (client, _) = Client::connect_ok(
        &server,
        Net::Tls,
        connect_with_will(V3, "retainer", "wills/retainer", QoS::AtLeastOnce, true),
    )
    .await;
    drop(client);
    let live = watcher.expect_publish().await;
    assert!(!live.retain, "live forwarding clears RETAIN");
    let mut late = Client::connect(&server, Net::Tcp, V3, "late").await;
    late.subscribe("wills/retainer", QoS::AtLeastOnce).await;
    let retained = late.expect_publish().await;
    assert!(retained.retain);
    assert_eq!(&retained.payload[..], b"retainer is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_properties_are_passed_through() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_will(V5, "described", "wills/described", QoS::AtMostOnce, false);
    let props = &mut connect.will.as_mut().unwrap().properties;
    props.payload_format_indicator = Some(PayloadFormat::Utf8);
    props.content_type = Some(s("text/plain"));
    props.response_topic = Some(s("wills/replies"));
    props.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
    props.user_properties = vec![
        UserProperty::new(s("z"), s("1")),
        UserProperty::new(s("a"), s("2")),
    ];
    props.message_expiry_interval = Some(600);
    let (client, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    drop(client);
    let will = watcher.expect_publish().await;
    let p = &will.properties;
    assert_eq!(p.payload_format_indicator, Some(PayloadFormat::Utf8));
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.response_topic.as_deref(), Some("wills/replies"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"\x01\x02"[..]));
    assert_eq!(
        p.user_properties,
        [
            UserProperty::new(s("z"), s("1")),
            UserProperty::new(s("a"), s("2"))
        ]
    );
    assert!(
        p.message_expiry_interval
            .is_some_and(|left| (590..=600).contains(&left))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_will_on_a_dollar_topic_is_refused() {
    let server = start().await;
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let connect = connect_with_will(
            version,
            "sneaky",
            "$SYS/broker/fake",
            QoS::AtMostOnce,
            false,
        );
        let (mut client, connack) = Client::connect_with(&server, net, connect).await;
        // Clients may not publish to `$` topics, and a will is a publish on the client's behalf.
        assert_eq!(
            connack.reason_code,
            ReasonCode::NotAuthorized,
            "{version} {net:?}"
        );
        assert!(client.expect_close().await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_will_delay_without_session_expiry_is_cut_short() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect =
        connect_with_will(V5, "no-session", "wills/no-session", QoS::AtMostOnce, false);
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(3600);
    let (client, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    drop(client);
    // Session Expiry Interval 0: the session ends with the connection, and the will with it.
    let (will, elapsed) = timed(watcher.expect_publish()).await;
    assert_eq!(&will.payload[..], b"no-session is gone");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_that_resumes_the_session_cancels_a_delayed_will() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect =
        connect_with_will(V5, "hand-over", "wills/hand-over", QoS::AtLeastOnce, false);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(60);
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(1);
    let (mut older, _) = Client::connect_ok(&server, Net::Tls, connect.clone()).await;
    // The older connection is still open: this is a takeover [MQTT-3.1.4-3] that resumes the
    // session (Clean Start 0) within the Will Delay Interval.
    connect.will = None;
    let (_newer, connack) = Client::connect_ok(&server, Net::Tcp, connect).await;
    assert!(connack.session_present);
    older.expect_disconnect(ReasonCode::SessionTakenOver).await;
    // §3.1.2.5, [MQTT-3.1.3-9]: the will is not sent, neither now nor after its delay.
    server_timer(&server, 2).await;
    marker(&server).await;
    assert!(watcher.publishes_until("will-marker").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_with_clean_start_publishes_the_delayed_will_at_once() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_will(V5, "replaced", "wills/replaced", QoS::AtLeastOnce, false);
    connect.properties.session_expiry_interval = Some(60);
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(3600);
    let (mut older, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    let (_newer, connack) =
        Client::connect_ok(&server, Net::Tcp, connect_packet(V5, "replaced")).await;
    assert!(!connack.session_present);
    older.expect_disconnect(ReasonCode::SessionTakenOver).await;
    // The clean start ended the older session, so its will is due now, whatever its delay.
    let (will, elapsed) = timed(watcher.expect_publish()).await;
    assert_eq!(&will.payload[..], b"replaced is gone");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}
