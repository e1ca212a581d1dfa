//! Criterion benchmark of durable shadow updates: `ShadowService::update` (what the HTTPS data
//! plane calls, and what an MQTT request becomes once queued) against thingd's SQLite store on a
//! file in a temporary directory (WAL, `synchronous = FULL`: every answered update is on disk).
//!
//! - `sequential_one_shadow`: one caller updating one shadow, each update awaited before the
//!   next: one transaction (one fsync) per update, the floor a device pays.
//! - `1000_shadows_64_updaters`: 64 concurrent callers updating 1000 shadows: the workers find
//!   several updates queued and write each batch in one transaction (group commit).
//!
//! Throughput is reported in updates per second.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use thingd::shadows::{ShadowConfig, ShadowService};
use thingd_broker::{AllowConnected, Broker, BrokerConfig, PublishOrigin};
use thingd_storage::SqliteStore;

/// Concurrent callers of the second benchmark.
const UPDATERS: usize = 64;
/// Distinct shadows of the second benchmark.
const SHADOWS: usize = 1000;
/// Updates each caller makes per iteration of the second benchmark.
const UPDATES_PER_UPDATER: usize = 16;

/// A shadow service on a fresh SQLite file, with a broker that has no listener (the answers
/// are published to no subscriber, as when nobody watches).
struct Bench {
    runtime: tokio::runtime::Runtime,
    service: Arc<ShadowService>,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let service = runtime.block_on(async {
            let store = SqliteStore::open(&dir.path().join("thingd.db"))
                .await
                .unwrap();
            let broker = Broker::new(BrokerConfig::default(), Arc::new(AllowConnected));
            ShadowService::start(Arc::new(store), broker, ShadowConfig::default())
        });
        Bench {
            runtime,
            service,
            _dir: dir,
        }
    }
}

/// A device's report: a few telemetry fields that change every time.
fn report(n: u64) -> Vec<u8> {
    format!(
        r#"{{"state":{{"reported":{{"temperature":{},"humidity":{},"firmware":"1.4.2"}}}}}}"#,
        20 + n % 10,
        40 + n % 30
    )
    .into_bytes()
}

fn sequential_one_shadow(c: &mut Criterion) {
    let bench = Bench::new();
    let origin = PublishOrigin::default();
    let mut group = c.benchmark_group("shadow_updates");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sequential_one_shadow", |b| {
        b.iter_custom(|iters| {
            bench.runtime.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    bench
                        .service
                        .update("bench-thing", None, &report(n), &origin)
                        .await
                        .unwrap();
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    bench.runtime.block_on(bench.service.shutdown());
}

fn concurrent_many_shadows(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group("shadow_updates");
    group.throughput(Throughput::Elements(
        (UPDATERS * UPDATES_PER_UPDATER) as u64,
    ));
    group.bench_function("1000_shadows_64_updaters", |b| {
        b.iter_custom(|iters| {
            bench.runtime.block_on(async {
                let start = Instant::now();
                for iteration in 0..iters {
                    let mut tasks = Vec::with_capacity(UPDATERS);
                    for updater in 0..UPDATERS {
                        let service = bench.service.clone();
                        tasks.push(tokio::spawn(async move {
                            let origin = PublishOrigin::default();
                            for update in 0..UPDATES_PER_UPDATER {
                                // Each updater walks the shadows from its own starting point.
                                let index = (updater * 997 + update * 61) % SHADOWS;
                                let thing = format!("device-{index}");
                                let n = iteration * 1000 + update as u64;
                                service
                                    .update(&thing, None, &report(n), &origin)
                                    .await
                                    .unwrap();
                            }
                        }));
                    }
                    for task in tasks {
                        task.await.unwrap();
                    }
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    let metrics = bench.service.metrics();
    let load =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "group commit: {} shadow writes in {} transactions",
        load(&metrics.writes_total),
        load(&metrics.write_batches_total)
    );
    bench.runtime.block_on(bench.service.shutdown());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    targets = sequential_one_shadow, concurrent_many_shadows
}
criterion_main!(benches);
