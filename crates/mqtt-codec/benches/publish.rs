//! Criterion benchmark of the hot path: decoding and encoding PUBLISH packets.
//!
//! Decoding reads from a buffer pre-filled with many copies of one PUBLISH, as a connection's
//! read buffer holds several packets after one read; building the buffer and dropping the
//! decoded packets are outside the timed section. Encoding writes an [`OutgoingPublish`] into a
//! reused buffer, as the broker does for each delivery.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_codec::{Decoder, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS};

/// Packets decoded per untimed refill of the buffer.
const BATCH: u64 = 4096;

/// A PUBLISH as a sensor would send it: a short telemetry topic, and for 5.0 a user property
/// and a content type, so property parsing is part of the measurement.
fn publish(version: ProtocolVersion, qos: QoS, payload_len: usize) -> Publish {
    let topic = MqttString::new("devices/thermostat-0042/telemetry").unwrap();
    let mut publish = Publish::new(topic, Bytes::from(vec![0x5A; payload_len]));
    if qos != QoS::AtMostOnce {
        publish.qos = qos;
        publish.packet_id = PacketId::new(4242);
    }
    if version == ProtocolVersion::V5 {
        publish.properties.content_type = Some(MqttString::new("application/json").unwrap());
        publish.properties.user_properties = vec![mqtt_codec::UserProperty::new(
            MqttString::new("fw").unwrap(),
            MqttString::new("1.2.3").unwrap(),
        )];
    }
    publish
}

fn cases() -> Vec<(ProtocolVersion, QoS, usize)> {
    let mut cases = Vec::new();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            for size in [16, 1024] {
                cases.push((version, qos, size));
            }
        }
    }
    cases
}

fn name(version: ProtocolVersion, qos: QoS) -> String {
    let v = match version {
        ProtocolVersion::V311 => "v311",
        ProtocolVersion::V5 => "v5",
    };
    format!("{v}_qos{}", qos as u8)
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_decode");
    group.throughput(Throughput::Elements(1));
    for (version, qos, size) in cases() {
        let mut one = BytesMut::new();
        Packet::Publish(publish(version, qos, size))
            .encode(version, &mut one)
            .unwrap();
        let id = BenchmarkId::new(name(version, qos), format!("{size}B"));
        group.bench_function(id, |b| {
            let mut decoder = Decoder::new(version, 1 << 20);
            let mut out = Vec::with_capacity(BATCH as usize);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    let mut buf = BytesMut::with_capacity(one.len() * n as usize);
                    for _ in 0..n {
                        buf.extend_from_slice(&one);
                    }
                    let start = Instant::now();
                    for _ in 0..n {
                        out.push(decoder.decode(black_box(&mut buf)).unwrap());
                    }
                    total += start.elapsed();
                    assert!(buf.is_empty() && out.iter().all(Option::is_some));
                    out.clear();
                    left -= n;
                }
                total
            });
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_encode");
    group.throughput(Throughput::Elements(1));
    for (version, qos, size) in cases() {
        let message = publish(version, qos, size);
        let outgoing = message.as_outgoing();
        let id = BenchmarkId::new(name(version, qos), format!("{size}B"));
        group.bench_function(id, |b| {
            let mut buf = BytesMut::with_capacity(2048);
            b.iter(|| {
                buf.clear();
                black_box(&outgoing).encode(version, &mut buf).unwrap();
                black_box(buf.len())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
