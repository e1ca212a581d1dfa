//! MQTT 3.1.1 and 5.0 packets, encoded and decoded without IO.
//!
//! This crate turns bytes into [`Packet`]s and back. It does no IO and keeps no connection state
//! beyond the protocol version a [`Decoder`] learns from CONNECT, so it can be fuzzed, benchmarked
//! and used by the broker, the load generator and tests alike.
//!
//! # Design
//!
//! - **Sans-IO.** The caller reads bytes into a [`bytes::BytesMut`] and calls [`Decoder::decode`]
//!   until it returns `Ok(None)` (more bytes needed). Encoding appends to a `BytesMut`, so a
//!   connection can batch many packets into one write.
//! - **Bounded before buffered.** [`Decoder::decode`] reads the fixed header first and rejects a
//!   packet larger than the maximum packet size before waiting for its body.
//! - **Zero copy.** Payloads, topics and every other string or binary field are [`bytes::Bytes`]
//!   slices of the frame they were read from; one PUBLISH payload can be handed to many
//!   subscribers without a copy.
//! - **Strict.** Every rule the specification states for the receiver is checked here and reported
//!   as a [`DecodeError`] that names the rule and maps to the reason code that answers it
//!   ([`DecodeError::reason_code`]). Rules that need connection state (topic alias ranges, Receive
//!   Maximum, what a client may send) belong to the broker.
//!
//! # Example
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mqtt_codec::{Decoder, MqttString, Packet, ProtocolVersion, Publish, QoS};
//!
//! let publish = Publish::new(MqttString::new("iotbutton/G030JF055364XVRB").unwrap(),
//!                            Bytes::from_static(br#"{"clickType":"SINGLE"}"#));
//! let mut wire = BytesMut::new();
//! Packet::Publish(publish.clone()).encode(ProtocolVersion::V5, &mut wire).unwrap();
//!
//! let mut decoder = Decoder::new(ProtocolVersion::V5, 128 * 1024);
//! assert_eq!(decoder.decode(&mut wire).unwrap(), Some(Packet::Publish(publish)));
//! assert!(wire.is_empty());
//! ```

#![warn(missing_docs)]

mod codec;
mod error;
mod packet;
mod properties;
mod reason;
mod string;
mod wire;

use std::fmt;
use std::num::NonZeroU16;

pub use codec::{Decoder, FixedHeader, PacketType};
pub use error::{DecodeError, EncodeError};
pub use packet::{
    Ack, Auth, ConnAck, Connect, Disconnect, OutgoingPublish, Packet, Publish, RetainHandling,
    SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PayloadFormat, PropertyId, PublishProperties, SubscribeProperties, UnsubscribeProperties,
    UserProperty, WillProperties,
};
pub use reason::{ReasonCode, ReasonCodeContext};
pub use string::MqttString;
pub use wire::MAX_VARIABLE_BYTE_INTEGER;

/// The protocol version a connection speaks, from the Protocol Level of CONNECT (§3.1.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1, protocol level 4.
    V311,
    /// MQTT 5.0, protocol level 5.
    V5,
}

impl ProtocolVersion {
    /// The Protocol Level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version with this Protocol Level, if supported.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(ProtocolVersion::V311),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V311 => "MQTT 3.1.1",
            ProtocolVersion::V5 => "MQTT 5.0",
        })
    }
}

/// A Quality of Service level (§4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0: at most once.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once.
    AtLeastOnce = 1,
    /// QoS 2: exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this value; 3 and above are not QoS levels [MQTT-3.3.1-4].
    pub const fn from_u8(value: u8) -> Result<Self, DecodeError> {
        match value {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            _ => Err(DecodeError::InvalidQoS),
        }
    }
}

/// A Packet Identifier: never zero [MQTT-2.2.1-3].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The identifier `value`, or `None` for 0.
    pub const fn new(value: u16) -> Option<Self> {
        match NonZeroU16::new(value) {
            Some(v) => Some(PacketId(v)),
            None => None,
        }
    }

    /// The identifier's value.
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    /// The identifier after this one, wrapping from 65,535 to 1.
    pub const fn next(self) -> Self {
        match NonZeroU16::new(self.0.get().wrapping_add(1)) {
            Some(v) => PacketId(v),
            None => PacketId(NonZeroU16::MIN),
        }
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Internal entry points for the fuzz targets (`fuzz/`); not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use bytes::BytesMut;

    use crate::{Decoder, ProtocolVersion};

    /// Decodes `data` as a stream of packets, as a server and as a client of each version, and
    /// checks that every packet decoded re-encodes to bytes that decode to the same packet.
    pub fn decode_stream(data: &[u8]) {
        let decoders = [
            Decoder::server(1 << 20),
            Decoder::new(ProtocolVersion::V311, 1 << 20),
            Decoder::new(ProtocolVersion::V5, 1 << 20),
        ];
        for mut decoder in decoders {
            let mut buf = BytesMut::from(data);
            while let Ok(Some(packet)) = decoder.decode(&mut buf) {
                let Some(version) = decoder.version() else {
                    break;
                };
                let mut encoded = BytesMut::new();
                if packet.encode(version, &mut encoded).is_err() {
                    continue;
                }
                let mut again = Decoder::new(version, usize::MAX);
                match again.decode(&mut encoded) {
                    Ok(Some(round_trip)) => assert_eq!(round_trip, packet),
                    other => panic!("re-encoded {packet:?} decoded as {other:?}"),
                }
            }
        }
    }
}
