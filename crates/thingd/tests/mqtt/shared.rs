//! Shared subscriptions (`$share/{group}/{filter}`, §4.8.2): one copy per group to one member,
//! every group and every plain subscription gets its own, no retained messages, No Local is a
//! Protocol Error, and members that leave or go offline.

use std::collections::BTreeSet;

use mqtt_codec::{QoS, ReasonCode, SubscriptionOptions};

use crate::support::*;

/// Reads payloads until the marker `shared/end`.
async fn payloads(client: &mut Client) -> Vec<u8> {
    client
        .publishes_until("shared/end")
        .await
        .into_iter()
        .map(|p| p.payload[0])
        .collect()
}

/// A client connected with `connect` and subscribed to `filter` and the marker `shared/end`.
async fn member_with(
    server: &testkit::TestServer,
    net: Net,
    connect: mqtt_codec::Connect,
    filter: &str,
) -> Client {
    let (mut client, _) = Client::connect_ok(server, net, connect).await;
    client.subscribe(filter, QoS::AtLeastOnce).await;
    client.subscribe("shared/end", QoS::AtLeastOnce).await;
    client
}

/// A client with a clean start subscribed to `filter` and the marker `shared/end`.
async fn member(
    server: &testkit::TestServer,
    net: Net,
    version: mqtt_codec::ProtocolVersion,
    id: &str,
    filter: &str,
) -> Client {
    member_with(server, net, connect_packet(version, id), filter).await
}

/// Publishes 0, 1, 2 and 3 to `shared/t` at QoS 1, then the marker `shared/end`.
async fn publish_0_to_3(server: &testkit::TestServer) {
    let mut publisher = Client::connect(server, Net::Tcp, V5, "shared-pub").await;
    for n in 0..4u8 {
        publisher.publish1("shared/t", &[n]).await;
    }
    publisher.publish1("shared/end", b"\xff").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_goes_to_one_member_of_each_group() {
    let server = start().await;
    let mut a1 = member(&server, Net::Tls, V5, "a1", "$share/a/shared/t/+").await;
    let mut a2 = member(&server, Net::Tcp, V3, "a2", "$share/a/shared/t/+").await;
    let mut b1 = member(&server, Net::Tcp, V5, "b1", "$share/b/shared/t/#").await;
    let mut plain = member(&server, Net::Tls, V3, "plain", "shared/t/+").await;

    let mut publisher = Client::connect(&server, Net::Tcp, V5, "shared-pub").await;
    for n in 0..10u8 {
        publisher.publish1_ok(&format!("shared/t/{n}"), &[n]).await;
    }
    publisher.publish1_ok("shared/end", b"\xff").await;

    let (got1, got2) = (payloads(&mut a1).await, payloads(&mut a2).await);
    let all: BTreeSet<u8> = got1.iter().chain(&got2).copied().collect();
    // [MQTT-4.8.2-...]: each message to exactly one member of the group ...
    assert_eq!(
        got1.len() + got2.len(),
        10,
        "no duplicates within the group: {got1:?} {got2:?}"
    );
    assert_eq!(all, (0..10).collect(), "nothing lost within the group");
    assert!(
        !got1.is_empty() && !got2.is_empty(),
        "the load is spread: {got1:?} {got2:?}"
    );
    // ... and one copy to every group and every plain subscription.
    assert_eq!(payloads(&mut b1).await, (0..10).collect::<Vec<_>>());
    assert_eq!(payloads(&mut plain).await, (0..10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_are_not_sent_to_shared_subscriptions() {
    let server = start().await;
    let mut publisher = Client::connect(&server, Net::Tcp, V5, "shared-retainer").await;
    assert_eq!(
        publisher.publish_retained("shared/r", b"kept").await,
        ReasonCode::Success
    );
    for (version, net) in [(V5, Net::Tls), (V3, Net::Tcp)] {
        let mut client = member(&server, net, version, "shared-late", "$share/g/shared/r").await;
        publisher.publish0("shared/end", b"\xff").await;
        // §4.8.2: retained messages are not sent when a shared subscription is established.
        assert!(
            client.publishes_until("shared/end").await.is_empty(),
            "{version} {net:?}"
        );
        // Live messages are.
        publisher.publish0("shared/r", b"live").await;
        let live = client.expect_publish().await;
        assert_eq!((&live.payload[..], live.retain), (&b"live"[..], false));
        client.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let server = start().await;
    for net in [Net::Tcp, Net::Tls] {
        let mut client = Client::connect(&server, net, V5, "shared-no-local").await;
        let options = SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::qos(QoS::AtLeastOnce)
        };
        client
            .send(&mqtt_codec::Packet::Subscribe(mqtt_codec::Subscribe {
                packet_id: pid(1),
                properties: Default::default(),
                filters: vec![(s("$share/g/t"), options)],
            }))
            .await;
        // [MQTT-3.8.3-4]
        client.expect_disconnect(ReasonCode::ProtocolError).await;
        assert_serving(&server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_unsubscribes_leaves_the_group() {
    let server = start().await;
    let mut a1 = member(&server, Net::Tcp, V5, "leaver", "$share/g/shared/t").await;
    let mut a2 = member(&server, Net::Tls, V5, "stayer", "$share/g/shared/t").await;
    let ack = a1.unsubscribe(&["$share/g/shared/t"]).await;
    assert_eq!(ack.reason_codes, [ReasonCode::Success]);
    publish_0_to_3(&server).await;
    assert!(payloads(&mut a1).await.is_empty());
    assert_eq!(payloads(&mut a2).await, [0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_members_are_preferred_over_offline_ones() {
    let server = start().await;
    let offline_member = || persistent_connect(V5, "offline-member", 300);
    member_with(&server, Net::Tcp, offline_member(), "$share/g/shared/t")
        .await
        .disconnect()
        .await;
    let mut online = member(&server, Net::Tls, V5, "online-member", "$share/g/shared/t").await;
    publish_0_to_3(&server).await;
    assert_eq!(payloads(&mut online).await, [0, 1, 2, 3]);
    let mut offline = Client::resume(&server, Net::Tcp, offline_member()).await;
    assert!(
        payloads(&mut offline).await.is_empty(),
        "nothing was parked with the offline member"
    );
}
