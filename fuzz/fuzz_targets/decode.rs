//! Fuzz target: decodes arbitrary bytes as an MQTT stream (as a server and as a client of each
//! version) and checks that every packet decoded re-encodes to bytes that decode to it again.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mqtt_codec::fuzzing::decode_stream(data);
});
