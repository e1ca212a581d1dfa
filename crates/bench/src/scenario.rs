//! Scenarios (who publishes what to whom, at what QoS and size) and the runner that measures them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::BytesMut;
use mqtt_codec::{Packet, PacketId, QoS};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, Semaphore};

use crate::client::{self, Connection};
use crate::histogram::Histogram;

/// How publishers and subscribers are wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Publisher i sends to subscriber i, each on its own topic (1→1, 50→50).
    Pairs,
    /// Every publisher sends to one subscriber on its own topic; the subscriber uses `+`.
    FanIn,
    /// One topic; every subscriber receives every message.
    FanOut,
}

/// One load scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A short name, e.g. `1-1-qos0`.
    pub name: String,
    /// The wiring.
    pub topology: Topology,
    /// Number of publishers.
    pub publishers: usize,
    /// Number of subscribers.
    pub subscribers: usize,
    /// QoS of publishes and subscriptions.
    pub qos: QoS,
    /// Payload size in bytes (at least 16).
    pub payload: usize,
    /// QoS 1 messages a publisher keeps in flight.
    pub window: usize,
    /// Messages per second per publisher; `None` publishes as fast as the broker takes them.
    pub rate: Option<u64>,
    /// Time before measuring.
    pub warmup: Duration,
    /// Time measured.
    pub duration: Duration,
    /// Subscribers ask for persistent sessions (Clean Session 0), so a durable broker stores
    /// their QoS 1 deliveries until acknowledged: the durable path instead of the in-memory one.
    pub persistent_subscribers: bool,
}

impl Scenario {
    /// The scenarios of perf-targets.md, (a) to (f), with the given timing.
    pub fn standard(warmup: Duration, duration: Duration) -> Vec<Scenario> {
        let s = |name: &str, topology, publishers, subscribers, qos, payload| Scenario {
            name: name.to_owned(),
            topology,
            publishers,
            subscribers,
            qos,
            payload,
            window: 64,
            rate: None,
            warmup,
            duration,
            persistent_subscribers: false,
        };
        vec![
            s("a:1-1-qos0-16B", Topology::Pairs, 1, 1, QoS::AtMostOnce, 16),
            s(
                "b:1-1-qos1-16B",
                Topology::Pairs,
                1,
                1,
                QoS::AtLeastOnce,
                16,
            ),
            s(
                "c:50-50-qos1-16B",
                Topology::Pairs,
                50,
                50,
                QoS::AtLeastOnce,
                16,
            ),
            // Fan-in is offered a fixed load, the target rate of perf-targets.md (1 M/s).
            Scenario {
                rate: Some(10_000),
                ..s(
                    "d:100-1-qos0-16B@1M",
                    Topology::FanIn,
                    100,
                    1,
                    QoS::AtMostOnce,
                    16,
                )
            },
            s(
                "e:1-200-qos0-256B",
                Topology::FanOut,
                1,
                200,
                QoS::AtMostOnce,
                256,
            ),
            s(
                "f:10-10-qos1-1KiB",
                Topology::Pairs,
                10,
                10,
                QoS::AtLeastOnce,
                1024,
            ),
        ]
    }

    fn publish_topic(&self, tag: &str, publisher: usize) -> String {
        match self.topology {
            Topology::Pairs | Topology::FanIn => format!("bench/{tag}/{publisher}"),
            Topology::FanOut => format!("bench/{tag}/all"),
        }
    }

    fn subscribe_filter(&self, tag: &str, subscriber: usize) -> String {
        match self.topology {
            Topology::Pairs => format!("bench/{tag}/{subscriber}"),
            Topology::FanIn => format!("bench/{tag}/+"),
            Topology::FanOut => format!("bench/{tag}/all"),
        }
    }

    /// The publishers whose messages subscriber `s` should receive.
    fn sources(&self, subscriber: usize) -> Vec<usize> {
        match self.topology {
            Topology::Pairs => vec![subscriber],
            Topology::FanIn | Topology::FanOut => (0..self.publishers).collect(),
        }
    }
}

/// What a scenario measured against one broker.
#[derive(Clone, Debug)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// Messages delivered to subscribers per second, summed over subscribers.
    pub delivered_per_sec: f64,
    /// Messages published per second, summed over publishers.
    pub published_per_sec: f64,
    /// End-to-end latency percentiles in nanoseconds: p50, p99, p99.9, max.
    pub latency: [u64; 4],
    /// Messages published in total.
    pub sent: u64,
    /// Deliveries expected in total (sent times fan-out).
    pub expected: u64,
    /// Distinct deliveries received in total.
    pub received: u64,
    /// Deliveries never received.
    pub lost: u64,
    /// Deliveries received more than once or out of order.
    pub duplicates: u64,
}

struct Shared {
    epoch: Instant,
    measure_from: u64,
    measure_to: u64,
    stop: AtomicBool,
    done: Notify,
    received_total: AtomicU64,
}

impl Shared {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
    fn in_window(&self, t: u64) -> bool {
        t >= self.measure_from && t < self.measure_to
    }
}

struct SubscriberStats {
    histogram: Histogram,
    in_window: u64,
    unique: Vec<u64>,
    duplicates: u64,
}

struct PublisherStats {
    sent: u64,
    in_window: u64,
}

/// Runs `scenario` against the broker at `target` and reports what it measured.
pub async fn run(target: SocketAddr, scenario: &Scenario) -> anyhow::Result<Report> {
    let tag = format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ rand_tag()
    );
    let epoch = Instant::now();
    let mut subscribers = Vec::with_capacity(scenario.subscribers);
    for s in 0..scenario.subscribers {
        let mut connection = client::connect_with(
            target,
            &format!("bench-{tag}-sub-{s}"),
            !scenario.persistent_subscribers,
        )
        .await?;
        connection
            .subscribe(&scenario.subscribe_filter(&tag, s), scenario.qos)
            .await?;
        subscribers.push(connection);
    }
    let mut publishers = Vec::with_capacity(scenario.publishers);
    for p in 0..scenario.publishers {
        publishers.push(client::connect(target, &format!("bench-{tag}-pub-{p}")).await?);
    }
    let start = epoch.elapsed().as_nanos() as u64;
    let measure_from = start + scenario.warmup.as_nanos() as u64;
    let shared = Arc::new(Shared {
        epoch,
        measure_from,
        measure_to: measure_from + scenario.duration.as_nanos() as u64,
        stop: AtomicBool::new(false),
        done: Notify::new(),
        received_total: AtomicU64::new(0),
    });

    let mut sub_tasks = Vec::new();
    for (s, connection) in subscribers.into_iter().enumerate() {
        let shared = shared.clone();
        let sources = scenario.sources(s);
        let publishers = scenario.publishers;
        sub_tasks.push(tokio::spawn(subscribe_loop(
            connection, shared, sources, publishers,
        )));
    }
    let mut pub_tasks = Vec::new();
    for (p, connection) in publishers.into_iter().enumerate() {
        let shared = shared.clone();
        let topic = scenario.publish_topic(&tag, p);
        let scenario = scenario.clone();
        pub_tasks.push(tokio::spawn(publish_loop(
            connection, shared, topic, p as u32, scenario,
        )));
    }

    // Measure, then stop the publishers and let the subscribers drain.
    tokio::time::sleep(scenario.warmup + scenario.duration).await;
    shared.stop.store(true, Ordering::Relaxed);
    let mut sent_by = Vec::with_capacity(pub_tasks.len());
    let mut published_in_window = 0;
    for task in pub_tasks {
        let stats = task.await.context("publisher task")??;
        published_in_window += stats.in_window;
        sent_by.push(stats.sent);
    }
    let expected: u64 = (0..scenario.subscribers)
        .map(|s| scenario.sources(s).iter().map(|&p| sent_by[p]).sum::<u64>())
        .sum();
    let drain_deadline = Instant::now() + Duration::from_secs(15);
    let mut last = u64::MAX;
    while Instant::now() < drain_deadline {
        let now = shared.received_total.load(Ordering::Relaxed);
        if now >= expected || now == last {
            break;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    shared.done.notify_waiters();

    let mut histogram = Histogram::default();
    let mut delivered_in_window = 0;
    let mut received = 0;
    let mut lost = 0;
    let mut duplicates = 0;
    for (s, task) in sub_tasks.into_iter().enumerate() {
        let stats = task.await.context("subscriber task")??;
        histogram.merge(&stats.histogram);
        delivered_in_window += stats.in_window;
        duplicates += stats.duplicates;
        for p in scenario.sources(s) {
            received += stats.unique[p];
            lost += sent_by[p].saturating_sub(stats.unique[p]);
        }
    }
    let seconds = scenario.duration.as_secs_f64();
    Ok(Report {
        scenario: scenario.name.clone(),
        delivered_per_sec: delivered_in_window as f64 / seconds,
        published_per_sec: published_in_window as f64 / seconds,
        latency: [
            histogram.quantile(0.5),
            histogram.quantile(0.99),
            histogram.quantile(0.999),
            histogram.quantile(1.0),
        ],
        sent: sent_by.iter().sum(),
        expected,
        received,
        lost,
        duplicates,
    })
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

async fn subscribe_loop(
    mut connection: Connection,
    shared: Arc<Shared>,
    sources: Vec<usize>,
    publishers: usize,
) -> anyhow::Result<SubscriberStats> {
    use tokio::io::AsyncReadExt;
    let mut stats = SubscriberStats {
        histogram: Histogram::default(),
        in_window: 0,
        unique: vec![0; publishers],
        duplicates: 0,
    };
    let mut next: Vec<u32> = vec![0; publishers];
    let _ = sources;
    let mut acks = BytesMut::with_capacity(4096);
    loop {
        loop {
            let packet = match connection.decoder.decode(&mut connection.rbuf) {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                Err(e) => return Err(e.into()),
            };
            let Packet::Publish(publish) = packet else {
                continue;
            };
            if let Some(id) = publish.packet_id {
                client::encode_puback(&mut acks, id);
            }
            let Some((publisher, sequence, sent)) = client::read_payload(&publish.payload) else {
                continue;
            };
            let now = shared.now();
            let p = publisher as usize;
            if p >= publishers {
                continue;
            }
            if sequence >= next[p] {
                next[p] = sequence + 1;
                stats.unique[p] += 1;
            } else {
                stats.duplicates += 1;
            }
            shared.received_total.fetch_add(1, Ordering::Relaxed);
            if shared.in_window(now) {
                stats.in_window += 1;
                stats.histogram.record(now.saturating_sub(sent));
            }
        }
        if !acks.is_empty() {
            connection.writer.write_all(&acks).await?;
            acks.clear();
        }
        if connection.rbuf.capacity() - connection.rbuf.len() < 4096 {
            connection.rbuf.reserve(64 * 1024);
        }
        tokio::select! {
            read = connection.reader.read_buf(&mut connection.rbuf) => {
                if read? == 0 {
                    return Ok(stats);
                }
            }
            _ = shared.done.notified() => return Ok(stats),
        }
    }
}

async fn publish_loop(
    mut connection: Connection,
    shared: Arc<Shared>,
    topic: String,
    publisher: u32,
    scenario: Scenario,
) -> anyhow::Result<PublisherStats> {
    let window = Arc::new(Semaphore::new(if scenario.qos == QoS::AtMostOnce {
        0
    } else {
        scenario.window
    }));
    // Acknowledgements come back on the read half, which a task of its own drains.
    let acker = {
        let window = window.clone();
        let mut reader = connection.reader;
        let mut decoder = connection.decoder;
        let mut rbuf = connection.rbuf;
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            loop {
                while let Ok(Some(packet)) = decoder.decode(&mut rbuf) {
                    if let Packet::PubAck(_) = packet {
                        window.add_permits(1);
                    }
                }
                match reader.read_buf(&mut rbuf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
    };
    let mut stats = PublisherStats {
        sent: 0,
        in_window: 0,
    };
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut scratch = BytesMut::with_capacity(scenario.payload.max(16));
    let mut packet_id = PacketId::new(1).context("packet id")?;
    let batch = 64usize;
    let start = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        let mut n = batch;
        if scenario.qos != QoS::AtMostOnce {
            // Wait for at least one free slot, then take as many as are free, up to a batch.
            let permit = tokio::select! {
                permit = window.acquire() => permit.context("window")?,
                _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
            };
            permit.forget();
            n = 1;
            while n < batch {
                match window.try_acquire() {
                    Ok(permit) => {
                        permit.forget();
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
        }
        out.clear();
        for _ in 0..n {
            let id = (scenario.qos != QoS::AtMostOnce).then(|| {
                let id = packet_id;
                packet_id = packet_id.next();
                id
            });
            client::encode_publish(
                &mut out,
                &mut scratch,
                topic.as_bytes(),
                scenario.qos,
                id,
                client::Stamp {
                    publisher,
                    sequence: stats.sent as u32,
                    epoch: shared.epoch,
                    size: scenario.payload,
                },
            )?;
            stats.sent += 1;
        }
        if shared.in_window(shared.now()) {
            stats.in_window += n as u64;
        }
        connection.writer.write_all(&out).await?;
        if let Some(rate) = scenario.rate {
            let due = start + Duration::from_secs_f64(stats.sent as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
    }
    // Give outstanding acknowledgements a moment, then close.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while window.available_permits() < scenario.window && scenario.qos != QoS::AtMostOnce {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    acker.abort();
    let _ = connection.writer.shutdown().await;
    Ok(stats)
}
