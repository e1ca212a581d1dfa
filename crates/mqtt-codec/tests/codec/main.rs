//! Integration tests of `mqtt_codec`: byte-exact fixtures from the specifications, property-based
//! round trips, interoperability with rumqttc, malformed input, and the fuzzer's seed corpus.
//!
//! One test binary keeps the build small; each module covers one category.

#![allow(clippy::unwrap_used)]
// The codec's property structs are `#[non_exhaustive]`: outside the crate they can only be built
// from `Default` and then assigned field by field, which is what this lint objects to.
#![allow(clippy::field_reassign_with_default)]

mod common;
mod corpus;
mod fixtures;
mod interop;
mod malformed;
mod reason_codes;
mod roundtrip;
