//! Will messages: published when the network connection closes without DISCONNECT (dropped,
//! keep-alive timeout, protocol error, takeover), not after a normal DISCONNECT, published after
//! DISCONNECT 0x04, the Will Delay Interval, will retain and will properties.

use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{
    Connect, Disconnect, Packet, PayloadFormat, Publish, QoS, ReasonCode, UserProperty,
};

use crate::support::*;

/// A subscriber to `filter` and a marker topic.
async fn watcher(server: &testkit::TestServer, filter: &str) -> Client {
    let mut client = Client::connect(server, Net::Tcp, V5, &format!("watcher-{filter}")).await;
    client.subscribe(filter, QoS::ExactlyOnce).await;
    client.subscribe("will-marker", QoS::AtMostOnce).await;
    client
}

/// Checks that `watcher` gets no will: whatever the server has scheduled to happen before a
/// timer of `seconds` fires has happened by then, and only the marker published after it arrives.
async fn expect_no_will(server: &testkit::TestServer, watcher: &mut Client, seconds: u32) {
    server_timer(server, seconds).await;
    let mut publisher = Client::connect(server, Net::Tcp, V5, "will-marker-pub").await;
    publisher.publish0("will-marker", b"").await;
    publisher.disconnect().await;
    assert!(watcher.publishes_until("will-marker").await.is_empty());
}

/// A CONNECT for `id` with a will "`{id}` is gone" on `topic`.
fn connect_with_will(
    version: mqtt_codec::ProtocolVersion,
    id: &str,
    topic: &str,
    qos: QoS,
    retain: bool,
) -> Connect {
    let mut connect = connect_packet(version, id);
    connect.will = Some(will(topic, format!("{id} is gone").as_bytes(), qos, retain));
    connect
}

/// A client `id` connected over `net` with a QoS 0 will on `wills/{id}`.
async fn connect_with_qos0_will(
    server: &testkit::TestServer,
    net: Net,
    version: mqtt_codec::ProtocolVersion,
    id: &str,
) -> Client {
    let connect = connect_with_will(version, id, &format!("wills/{id}"), QoS::AtMostOnce, false);
    Client::connect_ok(server, net, connect).await.0
}

/// A 5.0 CONNECT for `id` with a will on `wills/{id}` whose Will Delay Interval is `delay`, and a
/// Session Expiry Interval of `expiry` if given.
fn connect_with_delayed_will(id: &str, qos: QoS, expiry: Option<u32>, delay: u32) -> Connect {
    let mut connect = connect_with_will(V5, id, &format!("wills/{id}"), qos, false);
    connect.properties.session_expiry_interval = expiry;
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(delay);
    connect
}

/// Connects with `connect` (a will of [`connect_with_will`]), drops the connection without
/// DISCONNECT, and returns how long the will then takes to reach `watcher`.
async fn will_delay_after_drop(
    server: &testkit::TestServer,
    net: Net,
    connect: Connect,
    watcher: &mut Client,
) -> Duration {
    let id = connect.client_id.to_string();
    let (client, _) = Client::connect_ok(server, net, connect).await;
    let (_, elapsed) = timed(async {
        drop(client);
        expect_will_of(watcher, &id).await
    })
    .await;
    elapsed
}

/// Reads the next message of `watcher`, which must be the will of `id`.
async fn expect_will_of(watcher: &mut Client, id: &str) -> Publish {
    let will = watcher.expect_publish().await;
    assert_eq!(
        &will.payload[..],
        format!("{id} is gone").as_bytes(),
        "the will of {id}"
    );
    will
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
        let will = expect_will_of(&mut watcher, "dropper").await;
        assert_eq!(will.topic.as_str(), topic);
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
    expect_no_will(&server, &mut watcher, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_is_published_after_disconnect_with_will_message() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut client = connect_with_qos0_will(&server, Net::Tls, V5, "leaver").await;
    client
        .send(&Packet::Disconnect(Disconnect::new(
            ReasonCode::DisconnectWithWillMessage,
        )))
        .await;
    assert!(client.expect_close().await.is_empty());
    // §3.14.2.1: 0x04 asks the server to publish the will.
    expect_will_of(&mut watcher, "leaver").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_is_published_on_keep_alive_timeout_and_on_protocol_errors() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_will(V3, "silent", "wills/silent", QoS::AtMostOnce, false);
    connect.keep_alive = 1;
    let (mut silent, _) = Client::connect_ok(&server, Net::Tcp, connect).await;
    silent.expect_close().await;
    expect_will_of(&mut watcher, "silent").await;

    let mut rude = connect_with_qos0_will(&server, Net::Tls, V5, "rude").await;
    rude.send(&Packet::Connect(Box::new(connect_packet(V5, "rude"))))
        .await;
    rude.expect_disconnect(ReasonCode::ProtocolError).await;
    expect_will_of(&mut watcher, "rude").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_connections_will_is_published_on_takeover() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut older = connect_with_qos0_will(&server, Net::Tcp, V3, "twin").await;
    let _newer = Client::connect(&server, Net::Tls, V3, "twin").await;
    older.expect_close().await;
    // The older network connection closed without DISCONNECT [MQTT-3.1.2-8].
    expect_will_of(&mut watcher, "twin").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_will_delay_interval_postpones_the_will() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let connect = connect_with_delayed_will("delayed", QoS::AtLeastOnce, Some(60), 1);
    let elapsed = will_delay_after_drop(&server, Net::Tls, connect, &mut watcher).await;
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
    let mut connect = connect_with_delayed_will("flaky", QoS::AtLeastOnce, Some(60), 1);
    connect.clean_start = false;
    let (client, _) = Client::connect_ok(&server, Net::Tcp, connect.clone()).await;
    drop(client);
    connect.will = None;
    let _client = Client::resume(&server, Net::Tcp, connect).await;
    // [MQTT-3.1.3-9]: the will that was due 1 s after the drop is never published.
    expect_no_will(&server, &mut watcher, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_before_the_will_delay_publishes_the_will_then() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let connect = connect_with_delayed_will("short-lived", QoS::AtMostOnce, Some(1), 3600);
    // §3.1.3.2.2: the earlier of the Will Delay Interval and the session's end.
    let elapsed = will_delay_after_drop(&server, Net::Tls, connect, &mut watcher).await;
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
    let retained = expect_will_of(&mut late, "retainer").await;
    assert!(retained.retain);
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
    let connect = connect_with_delayed_will("no-session", QoS::AtMostOnce, None, 3600);
    // Session Expiry Interval 0: the session ends with the connection, and the will with it.
    let elapsed = will_delay_after_drop(&server, Net::Tcp, connect, &mut watcher).await;
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_that_resumes_the_session_cancels_a_delayed_will() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let mut connect = connect_with_delayed_will("hand-over", QoS::AtLeastOnce, Some(60), 1);
    connect.clean_start = false;
    let (mut older, _) = Client::connect_ok(&server, Net::Tls, connect.clone()).await;
    // The older connection is still open: this is a takeover [MQTT-3.1.4-3] that resumes the
    // session (Clean Start 0) within the Will Delay Interval.
    connect.will = None;
    let _newer = Client::resume(&server, Net::Tcp, connect).await;
    older.expect_disconnect(ReasonCode::SessionTakenOver).await;
    // §3.1.2.5, [MQTT-3.1.3-9]: the will is not sent, neither now nor after its delay.
    expect_no_will(&server, &mut watcher, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_with_clean_start_publishes_the_delayed_will_at_once() {
    let server = start().await;
    let mut watcher = watcher(&server, "wills/#").await;
    let connect = connect_with_delayed_will("replaced", QoS::AtLeastOnce, Some(60), 3600);
    let (mut older, _) = Client::connect_ok(&server, Net::Tls, connect).await;
    let (_newer, connack) =
        Client::connect_ok(&server, Net::Tcp, connect_packet(V5, "replaced")).await;
    assert!(!connack.session_present);
    older.expect_disconnect(ReasonCode::SessionTakenOver).await;
    // The clean start ended the older session, so its will is due now, whatever its delay.
    let (_, elapsed) = timed(expect_will_of(&mut watcher, "replaced")).await;
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}
