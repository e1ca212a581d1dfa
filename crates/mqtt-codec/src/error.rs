//! Decoding and encoding errors, each naming the rule that was broken and the reason code that answers it.

use crate::reason::ReasonCode;

/// Why bytes received from a peer are not a valid MQTT packet.
///
/// Every variant maps to the reason code the receiver answers with ([`DecodeError::reason_code`]):
/// 0x81 Malformed Packet when the bytes cannot be parsed as the specification lays them out, 0x82
/// Protocol Error when they parse but break a rule, and a more specific code where the
/// specification names one. With MQTT 3.1.1 the answer is to close the network connection
/// [MQTT-4.8.0-1 of 3.1.1].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The packet ended before a field it announced.
    #[error("malformed packet: truncated field")]
    Truncated,
    /// Bytes remained after the last field a length prefix covered.
    #[error("malformed packet: {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// A Variable Byte Integer continued past four bytes (§1.5.5).
    #[error("malformed packet: variable byte integer longer than four bytes")]
    MalformedVariableByteInteger,
    /// A Variable Byte Integer used more bytes than its value needs [MQTT-1.5.5-1].
    #[error("malformed packet: variable byte integer not in its minimal encoding [MQTT-1.5.5-1]")]
    NonMinimalVariableByteInteger,
    /// The packet is larger than the receiver's Maximum Packet Size (§3.1.2.11.4, §3.2.2.3.6).
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// The size the fixed header announced, including the fixed header.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// The packet type 0 is reserved, and 15 (AUTH) does not exist before MQTT 5.0 (§2.1.2).
    #[error("malformed packet: reserved packet type {0}")]
    ReservedPacketType(u8),
    /// The fixed header's flags differ from those Table 2-2 prescribes [MQTT-2.1.3-1].
    #[error(
        "malformed packet: invalid flags {flags:#06b} for packet type {packet_type} [MQTT-2.1.3-1]"
    )]
    InvalidFixedHeaderFlags {
        /// The packet type (upper four bits of the first byte).
        packet_type: u8,
        /// The flags (lower four bits).
        flags: u8,
    },
    /// The first packet of a connection was not CONNECT [MQTT-3.1.0-1].
    #[error("protocol error: the first packet must be CONNECT [MQTT-3.1.0-1]")]
    FirstPacketNotConnect,
    /// The protocol name in CONNECT is not `MQTT` [MQTT-3.1.2-1].
    #[error("unsupported protocol name in CONNECT [MQTT-3.1.2-1]")]
    UnsupportedProtocolName,
    /// The protocol level in CONNECT is neither 4 (3.1.1) nor 5 (5.0) [MQTT-3.1.2-2].
    #[error("unsupported protocol level {0} [MQTT-3.1.2-2]")]
    UnsupportedProtocolLevel(u8),
    /// The reserved CONNECT flag is set [MQTT-3.1.2-3].
    #[error("malformed packet: the reserved CONNECT flag is set [MQTT-3.1.2-3]")]
    ReservedConnectFlag,
    /// Will QoS or Will Retain are set without the Will Flag [MQTT-3.1.2-11], [MQTT-3.1.2-13].
    #[error("malformed packet: will QoS or will retain set without a will [MQTT-3.1.2-11]")]
    WillFlagsWithoutWill,
    /// In MQTT 3.1.1, a password requires a user name [MQTT-3.1.2-22 of 3.1.1].
    #[error("protocol error: password flag set without user name flag [MQTT-3.1.2-22]")]
    PasswordWithoutUserName,
    /// A QoS field holds 3 [MQTT-3.3.1-4], [MQTT-3.1.2-12].
    #[error("malformed packet: QoS 3 is not a valid QoS [MQTT-3.3.1-4]")]
    InvalidQoS,
    /// DUP is set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("malformed packet: DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]")]
    DupOnQoS0,
    /// A Packet Identifier is zero [MQTT-2.2.1-3].
    #[error("malformed packet: packet identifier 0 [MQTT-2.2.1-3]")]
    ZeroPacketId,
    /// A string is not well-formed UTF-8 [MQTT-1.5.4-1].
    #[error("malformed packet: invalid UTF-8 string [MQTT-1.5.4-1]")]
    InvalidUtf8,
    /// A string contains U+0000 [MQTT-1.5.4-2].
    #[error("malformed packet: string contains U+0000 [MQTT-1.5.4-2]")]
    NullCharacter,
    /// A string is longer than a two-byte length can describe (§1.5.4).
    #[error("string of {0} bytes exceeds 65,535 bytes")]
    StringTooLong(usize),
    /// A property identifier that MQTT 5.0 does not define (§2.2.2.2).
    #[error("malformed packet: unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property that this packet may not carry (§2.2.2.2).
    #[error("malformed packet: property {property:#04x} is not allowed in {packet}")]
    PropertyNotAllowed {
        /// The property identifier.
        property: u8,
        /// The packet that carried it.
        packet: &'static str,
    },
    /// A property that may appear once appears again: "It is a Protocol Error to include the
    /// <property> more than once" (§3.1.2.11 and the other property sections).
    #[error("protocol error: property {0:#04x} appears more than once")]
    DuplicateProperty(u8),
    /// A property carries a value the specification forbids (a Receive Maximum of 0, a
    /// Maximum QoS of 2, a boolean other than 0 or 1, ...).
    #[error("protocol error: invalid value for property {0:#04x}")]
    InvalidPropertyValue(u8),
    /// A Topic Alias of 0 [MQTT-3.3.2-8]; answered with 0x94 Topic Alias invalid.
    #[error("topic alias 0 is not permitted [MQTT-3.3.2-8]")]
    TopicAliasZero,
    /// A reason code that the specification does not define for this packet (§2.4).
    #[error("malformed packet: reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The code received.
        code: u8,
        /// The packet that carried it.
        packet: &'static str,
    },
    /// A SUBSCRIBE or UNSUBSCRIBE without any topic filter [MQTT-3.8.3-2], [MQTT-3.10.3-2].
    #[error("protocol error: {0} carries no topic filter [MQTT-3.8.3-2]")]
    NoTopicFilters(&'static str),
    /// Reserved bits of the subscription options are set [MQTT-3.8.3-5].
    #[error("malformed packet: reserved subscription option bits set [MQTT-3.8.3-5]")]
    ReservedSubscriptionOptions,
    /// Retain Handling holds 3 (§3.8.3.1).
    #[error("protocol error: retain handling 3 is reserved")]
    InvalidRetainHandling,
    /// The CONNACK acknowledge flags have reserved bits set [MQTT-3.2.2-1].
    #[error("malformed packet: reserved CONNACK flags set [MQTT-3.2.2-1]")]
    ReservedConnAckFlags,
}

impl DecodeError {
    /// The reason code a receiver answers this error with (§4.13): in a CONNACK if the error is in
    /// CONNECT, in a DISCONNECT otherwise.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            DecodeError::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            DecodeError::UnsupportedProtocolName | DecodeError::UnsupportedProtocolLevel(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            DecodeError::TopicAliasZero => ReasonCode::TopicAliasInvalid,
            DecodeError::FirstPacketNotConnect
            | DecodeError::PasswordWithoutUserName
            | DecodeError::DuplicateProperty(_)
            | DecodeError::InvalidPropertyValue(_)
            | DecodeError::NoTopicFilters(_)
            | DecodeError::InvalidRetainHandling => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet would exceed the largest Remaining Length, 268,435,455 bytes (§2.1.4).
    #[error("packet body of {0} bytes exceeds the maximum remaining length")]
    PacketTooLarge(usize),
    /// A string or binary field exceeds 65,535 bytes (§1.5.4, §1.5.6).
    #[error("field of {0} bytes exceeds 65,535 bytes")]
    FieldTooLong(usize),
    /// A QoS 1 or 2 PUBLISH without a Packet Identifier, or a QoS 0 PUBLISH with one (§3.3.2.2).
    #[error("packet identifier must be present exactly when QoS > 0")]
    PacketIdMismatch,
    /// A packet that the protocol version being encoded does not have (AUTH in 3.1.1).
    #[error("{0} does not exist in MQTT 3.1.1")]
    NotInVersion(&'static str),
    /// A SUBSCRIBE, UNSUBSCRIBE or SUBACK without entries [MQTT-3.8.3-2].
    #[error("{0} needs at least one entry")]
    Empty(&'static str),
    /// A Variable Byte Integer property value above 268,435,455, or a subscription identifier of 0.
    #[error("value {0} cannot be encoded as a subscription identifier")]
    InvalidSubscriptionIdentifier(u32),
}
