//! Concurrent updates of one shadow from several MQTT clients (rumqttc over TLS): every update
//! is accepted with its own version, the versions are exactly 1..=n with no gap or repeat, and
//! each client's updates are applied in the order it published them.

use std::collections::{BTreeMap, BTreeSet};

use rumqttc::QoS;
use serde_json::json;
use testkit::TestServer;

use crate::device::Device;
use crate::support::rumqtt;

const CLIENTS: usize = 8;
const UPDATES_PER_CLIENT: usize = 25;

#[tokio::test]
async fn concurrent_updates_of_one_shadow_get_distinct_consecutive_versions() {
    let server = TestServer::start().await.unwrap();
    let mut observer = Device::connect(&server, "observer", "busy", None).await;
    let topic = format!("{}/update", observer.prefix);

    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (mqtt, mut events) = rumqtt::v3(&server, &format!("updater-{client}"));
        events
            .wait_for(|event| match event {
                rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)) => Some(()),
                _ => None,
            })
            .await;
        clients.push((mqtt, events));
    }
    // Every client publishes all its updates without waiting for any answer.
    for (client, (mqtt, _)) in clients.iter().enumerate() {
        for update in 0..UPDATES_PER_CLIENT {
            let payload = json!({
                "state": {"reported": {"client": client, "update": update}},
                "clientToken": format!("{client}-{update}"),
            });
            mqtt.publish(&topic, QoS::AtLeastOnce, false, payload.to_string())
                .await
                .unwrap();
        }
    }

    let total = CLIENTS * UPDATES_PER_CLIENT;
    let mut versions = BTreeSet::new();
    let mut by_client: BTreeMap<usize, Vec<(usize, u64)>> = BTreeMap::new();
    while versions.len() < total {
        let (suffix, document) = observer.next().await;
        match suffix.as_str() {
            "update/accepted" => {}
            "update/documents" => continue,
            other => panic!("unexpected {other}: {document}"),
        }
        let version = document["version"].as_u64().unwrap();
        assert!(versions.insert(version), "version {version} repeated");
        let token = document["clientToken"].as_str().unwrap();
        let (client, update) = token.split_once('-').unwrap();
        by_client
            .entry(client.parse().unwrap())
            .or_default()
            .push((update.parse().unwrap(), version));
    }
    assert_eq!(
        versions.into_iter().collect::<Vec<_>>(),
        (1..=total as u64).collect::<Vec<_>>()
    );
    for (client, updates) in by_client {
        assert_eq!(updates.len(), UPDATES_PER_CLIENT, "client {client}");
        assert!(
            updates
                .windows(2)
                .all(|pair| pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1),
            "client {client}'s updates applied out of order: {updates:?}"
        );
    }
    let shadow: serde_json::Value =
        serde_json::from_slice(&server.shadows().get("busy", None).await.unwrap()).unwrap();
    assert_eq!(shadow["version"], total);
    drop(clients);
    server.shutdown().await;
}
