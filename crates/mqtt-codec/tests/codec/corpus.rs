//! The fuzzer's seed corpus, `fuzz/corpus/decode/`, generated from the fixtures.
//!
//! Each fixture is one seed file, plus one stream per version that a server reads: a CONNECT
//! followed by every other fixture of that version, so the fuzzer starts with the server
//! decoder past CONNECT. The test checks that the directory holds exactly these files;
//! `MQTT_CODEC_WRITE_CORPUS=1 cargo test -p mqtt-codec --test codec corpus` rewrites it.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use mqtt_codec::{Packet, ProtocolVersion};

use crate::fixtures;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/decode")
}

/// The seed files by name.
fn seeds() -> BTreeMap<String, Vec<u8>> {
    let all = fixtures::all();
    let mut seeds: BTreeMap<String, Vec<u8>> = all
        .iter()
        .map(|f| (format!("{}.bin", f.name), f.bytes.clone()))
        .collect();
    for (version, connect) in [
        (ProtocolVersion::V311, "connect_v311"),
        (ProtocolVersion::V5, "connect_v5_will"),
    ] {
        let mut stream = all
            .iter()
            .find(|f| f.name == connect)
            .unwrap()
            .bytes
            .clone();
        for f in all
            .iter()
            .filter(|f| f.version == version && !matches!(f.packet, Packet::Connect(_)))
        {
            stream.extend_from_slice(&f.bytes);
        }
        seeds.insert(format!("session_{connect}.bin"), stream);
    }
    seeds
}

#[test]
fn seed_corpus_matches_the_fixtures() {
    let dir = corpus_dir();
    let seeds = seeds();
    if std::env::var_os("MQTT_CODEC_WRITE_CORPUS").is_some() {
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(&dir).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, bytes) in &seeds {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut found = BTreeMap::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        found.insert(name, fs::read(entry.path()).unwrap());
    }
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        seeds.keys().collect::<Vec<_>>(),
        "regenerate with MQTT_CODEC_WRITE_CORPUS=1"
    );
    assert!(
        found == seeds,
        "seed contents differ; regenerate with MQTT_CODEC_WRITE_CORPUS=1"
    );
}

#[test]
fn session_seeds_decode_completely_on_a_server_decoder() {
    // The seeds are useful only if they get past CONNECT: every packet in them must decode.
    for (name, bytes) in seeds().iter().filter(|(n, _)| n.starts_with("session_")) {
        let mut decoder = mqtt_codec::Decoder::server(crate::common::MAX);
        let packets = crate::common::decode_all(&mut decoder, bytes).unwrap();
        assert!(matches!(packets[0], Packet::Connect(_)), "{name}");
        assert!(packets.len() > 15, "{name}: {} packets", packets.len());
        // And the harness the fuzz target runs accepts them.
        mqtt_codec::fuzzing::decode_stream(bytes);
    }
}
