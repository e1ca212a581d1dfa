//! Back-pressure and shutdown, with the real SQLite store held still: a worker blocked in its
//! transaction lets its queue fill, and a request past the queue's bound is answered at once on
//! `/rejected` with AWS's 429 (HTTPS callers get the error), counted; nothing is lost, and the
//! queued requests are answered in order once the write goes through. Shutdown answers what is
//! queued before it returns.
//!
//! The store is thingd's `SqliteStore` on a file; the only addition is a gate in front of
//! `put_shadows` that the test opens, so that "the database is slow" happens on cue.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use mqtt_codec::{ProtocolVersion, QoS, ReasonCode};
use serde_json::json;
use thingd::shadows::{ShadowConfig, ShadowService};
use thingd_broker::{AllowConnected, Broker, BrokerConfig, PublishOrigin};
use thingd_registry::{Page, PageRequest, ShadowRecord, ShadowStore, StoreError};
use thingd_storage::SqliteStore;
use tokio::sync::{Semaphore, mpsc};

use crate::device::{Device, version_of};
use crate::support::{Client, connect_packet, within};

/// The SQLite store, its batch writes waiting for the test's permission.
struct GatedStore {
    inner: SqliteStore,
    gate: Semaphore,
    /// Told each time a batch write starts waiting.
    entered: mpsc::UnboundedSender<usize>,
}

#[async_trait]
impl ShadowStore for GatedStore {
    async fn shadow(&self, thing: &str, shadow: &str) -> Result<Option<ShadowRecord>, StoreError> {
        self.inner.shadow(thing, shadow).await
    }

    async fn put_shadow(
        &self,
        record: &ShadowRecord,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.inner.put_shadow(record, expected_version).await
    }

    async fn named_shadows(
        &self,
        thing: &str,
        page: &PageRequest,
    ) -> Result<Page<String>, StoreError> {
        self.inner.named_shadows(thing, page).await
    }

    async fn put_shadows(
        &self,
        writes: &[(ShadowRecord, Option<i64>)],
    ) -> Result<Vec<bool>, StoreError> {
        let _ = self.entered.send(writes.len());
        let permit = self.gate.acquire().await.expect("the gate stays open");
        permit.forget();
        self.inner.put_shadows(writes).await
    }
}

struct Setup {
    broker: Broker,
    address: SocketAddr,
    store: Arc<GatedStore>,
    service: Arc<ShadowService>,
    entered: mpsc::UnboundedReceiver<usize>,
    _dir: tempfile::TempDir,
}

/// A broker on plain TCP (anyone may do anything) and a shadow service with one worker, a
/// queue of `queue_capacity` and batches of one, on a gated SQLite file.
async fn setup(queue_capacity: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let inner = SqliteStore::open(&dir.path().join("shadows.db"))
        .await
        .unwrap();
    let (tell, entered) = mpsc::unbounded_channel();
    let store = Arc::new(GatedStore {
        inner,
        gate: Semaphore::new(0),
        entered: tell,
    });
    let broker = Broker::new(BrokerConfig::default(), Arc::new(AllowConnected));
    let address = broker
        .listen_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let service = ShadowService::start(
        store.clone(),
        broker.clone(),
        ShadowConfig {
            queue_capacity,
            workers: 1,
            batch_size: 1,
            cache_capacity: 0,
        },
    );
    Setup {
        broker,
        address,
        store,
        service,
        entered,
        _dir: dir,
    }
}

async fn device(setup: &Setup, client_id: &str, thing: &str) -> Device {
    let mut client = Client::open_tcp(setup.address, ProtocolVersion::V5).await;
    let connack = client
        .handshake(connect_packet(ProtocolVersion::V5, client_id))
        .await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    Device::subscribed(client, client_id, thing, None, QoS::AtLeastOnce).await
}

fn update(n: u64) -> Vec<u8> {
    json!({"state": {"reported": {"n": n}}, "clientToken": format!("u{n}")})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn a_full_queue_is_answered_429_at_once_and_nothing_queued_is_lost() {
    let mut setup = setup(2).await;
    let mut device = device(&setup, "eager", "slow").await;

    // The worker takes update 1 and waits in its transaction.
    device.send("update", &update(1)).await;
    assert_eq!(within(setup.entered.recv()).await, Some(1));
    // Updates 2 and 3 fill the queue; 4 is refused at once.
    device.send("update", &update(2)).await;
    device.send("update", &update(3)).await;
    device.send("update", &update(4)).await;
    let refused = device.expect("update/rejected").await;
    assert_eq!(refused["code"], 429);
    assert_eq!(refused["message"], "Too Many Requests");
    assert_eq!(refused["clientToken"], "u4");
    // An HTTPS caller is refused the same way.
    let error = setup
        .service
        .update("slow", None, &update(5), &PublishOrigin::default())
        .await
        .unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (429, "Too Many Requests")
    );
    let metrics = setup.service.metrics();
    assert_eq!(metrics.throttled_total.load(Ordering::Relaxed), 2);
    assert_eq!(metrics.requests_total.load(Ordering::Relaxed), 5);

    // The database moves again: the queued updates are applied in order.
    setup.store.gate.add_permits(100);
    for n in 1..=3 {
        let accepted = device.expect("update/accepted").await;
        assert_eq!(version_of(&accepted), n);
        assert_eq!(accepted["clientToken"], format!("u{n}"));
        device.expect("update/documents").await;
    }
    device.assert_nothing_more().await;
    assert_eq!(metrics.accepted_total.load(Ordering::Relaxed), 3);
    assert_eq!(metrics.rejected_total.load(Ordering::Relaxed), 2);
    setup.service.shutdown().await;
    setup.broker.shutdown().await;
}

#[tokio::test]
async fn shutdown_answers_the_queued_requests_then_refuses_new_ones() {
    let mut setup = setup(8).await;
    let mut device = device(&setup, "late", "closing").await;
    device.send("update", &update(1)).await;
    assert_eq!(within(setup.entered.recv()).await, Some(1));
    device.send("update", &update(2)).await;

    let service = setup.service.clone();
    let stopping = tokio::spawn(async move { service.shutdown().await });
    setup.store.gate.add_permits(100);
    within(stopping).await.unwrap();
    for n in 1..=2 {
        assert_eq!(version_of(&device.expect("update/accepted").await), n);
        device.expect("update/documents").await;
    }
    // Stopped: the broker no longer takes shadow requests, the API answers 503.
    let topic = format!("{}/update", device.prefix);
    assert_eq!(
        device.mqtt.publish1(&topic, &update(3)).await,
        ReasonCode::NotAuthorized
    );
    let error = setup.service.get("closing", None).await.unwrap_err();
    assert_eq!(error.code, 503);
    // What was answered is durable.
    let stored = setup
        .store
        .inner
        .shadow("closing", "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 2);
    setup.broker.shutdown().await;
}
