//! Benchmarks of the subscription index: matching against 100,000 filters, a large fan-out, and
//! insert/remove throughput.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_topic::{SubscriptionFilter, SubscriptionIndex, TopicLimits, TopicName};

const DEVICES: u64 = 100_000;

fn filter(s: &str) -> SubscriptionFilter {
    SubscriptionFilter::parse(s, &TopicLimits::MQTT).expect("benchmark filters are valid")
}

fn topic(s: &str) -> TopicName {
    TopicName::parse(s, &TopicLimits::MQTT).expect("benchmark topics are valid")
}

/// One filter per device (a mix of exact, `+` and `#` filters) plus a few fleet-wide wildcard
/// filters, as a fleet of 100,000 devices and some back-end services would subscribe.
fn device_filters() -> Vec<(SubscriptionFilter, u64)> {
    let mut filters: Vec<(SubscriptionFilter, u64)> = (0..DEVICES)
        .map(|id| {
            let f = match id % 10 {
                0..=5 => format!("devices/dev-{id:06}/telemetry"),
                6..=8 => format!("devices/dev-{id:06}/+"),
                _ => format!("devices/dev-{id:06}/shadow/#"),
            };
            (filter(&f), id)
        })
        .collect();
    let services = [
        "devices/+/status",
        "devices/+/telemetry",
        "devices/#",
        "+/+/telemetry",
        "#",
        "$SYS/#",
        "$share/ingest/devices/+/telemetry",
    ];
    filters.extend(
        services
            .iter()
            .zip(DEVICES..)
            .map(|(f, key)| (filter(f), key)),
    );
    filters
}

fn count_matches(index: &SubscriptionIndex<u64, u8>, topic: &TopicName) -> usize {
    let mut n = 0;
    index.for_each_match(topic, |m| {
        // Keeps the optimizer from replacing the visits by a count.
        black_box(m);
        n += 1;
    });
    n
}

fn matching(c: &mut Criterion) {
    let index = SubscriptionIndex::new();
    for (f, key) in device_filters() {
        index.insert(&f, key, 1u8);
    }
    let hot = topic("devices/dev-012340/telemetry");
    // Topics of many devices, so that the walk is not always through the same cached nodes.
    let spread: Vec<TopicName> = (0..1024u64)
        .map(|i| topic(&format!("devices/dev-{:06}/telemetry", i * 97 % DEVICES)))
        .collect();
    let miss = topic("factory/line-7/temperature");

    let mut group = c.benchmark_group("match_100k_filters");
    group.throughput(Throughput::Elements(1));
    group.bench_function("same_topic", |b| {
        b.iter(|| count_matches(&index, black_box(&hot)));
    });
    group.bench_function("spread_topics", |b| {
        let mut topics = spread.iter().cycle();
        b.iter(|| {
            let topic = topics
                .next()
                .expect("cycle over a non-empty vec never ends");
            count_matches(&index, black_box(topic))
        });
    });
    group.bench_function("no_device_filter", |b| {
        b.iter(|| count_matches(&index, black_box(&miss)));
    });
    group.finish();
}

fn fan_out(c: &mut Criterion) {
    const SUBSCRIBERS: u64 = 10_000;
    let index = SubscriptionIndex::new();
    for key in 0..SUBSCRIBERS {
        index.insert(&filter("broadcast/all"), key, 1u8);
        index.insert(&filter("broadcast/#"), key, 1u8);
    }
    let topic = topic("broadcast/all");
    assert_eq!(count_matches(&index, &topic), 2 * SUBSCRIBERS as usize);

    let mut group = c.benchmark_group("match_fan_out");
    group.throughput(Throughput::Elements(2 * SUBSCRIBERS));
    group.bench_function("20k_subscribers", |b| {
        b.iter(|| count_matches(&index, black_box(&topic)));
    });
    group.finish();
}

fn writes(c: &mut Criterion) {
    const N: u64 = 10_000;
    let filters: Vec<(SubscriptionFilter, u64)> = device_filters()
        .into_iter()
        .step_by((DEVICES / N) as usize)
        .collect();

    let mut group = c.benchmark_group("write");
    group.throughput(Throughput::Elements(filters.len() as u64));
    group.bench_function("insert_10k_filters", |b| {
        b.iter_batched(
            SubscriptionIndex::new,
            |index| {
                for (f, key) in &filters {
                    index.insert(f, *key, 1u8);
                }
                index
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("remove_10k_filters", |b| {
        b.iter_batched(
            || {
                let index = SubscriptionIndex::new();
                for (f, key) in &filters {
                    index.insert(f, *key, 1u8);
                }
                index
            },
            |index| {
                for (f, key) in &filters {
                    index.remove(f, key);
                }
                index
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, matching, fan_out, writes);
criterion_main!(benches);
