//! Reason codes (MQTT 5.0 §2.4) and the MQTT 3.1.1 return codes they map onto.

use std::fmt;

macro_rules! reason_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        /// A reason code of MQTT 5.0 (§2.4, Table 2-6).
        ///
        /// `0x00` has three names in the specification (Success, Normal disconnection and Granted
        /// QoS 0); they are the same value here, with [`ReasonCode::NORMAL_DISCONNECTION`] and
        /// [`ReasonCode::GRANTED_QOS_0`] as aliases.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum ReasonCode {
            $($(#[$doc])* $name = $value,)*
        }

        impl ReasonCode {
            /// The reason code with this value, if the specification defines one.
            pub const fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $($value => Some(ReasonCode::$name),)*
                    _ => None,
                }
            }

            /// The specification's name for the code.
            pub const fn description(self) -> &'static str {
                match self {
                    $(ReasonCode::$name => $text,)*
                }
            }
        }
    };
}

reason_codes! {
    /// Success; also Normal disconnection and Granted QoS 0.
    Success = 0x00, "Success";
    /// Granted QoS 1.
    GrantedQoS1 = 0x01, "Granted QoS 1";
    /// Granted QoS 2.
    GrantedQoS2 = 0x02, "Granted QoS 2";
    /// Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04, "Disconnect with Will Message";
    /// No matching subscribers.
    NoMatchingSubscribers = 0x10, "No matching subscribers";
    /// No subscription existed.
    NoSubscriptionExisted = 0x11, "No subscription existed";
    /// Continue authentication.
    ContinueAuthentication = 0x18, "Continue authentication";
    /// Re-authenticate.
    ReAuthenticate = 0x19, "Re-authenticate";
    /// Unspecified error.
    UnspecifiedError = 0x80, "Unspecified error";
    /// Malformed Packet.
    MalformedPacket = 0x81, "Malformed Packet";
    /// Protocol Error.
    ProtocolError = 0x82, "Protocol Error";
    /// Implementation specific error.
    ImplementationSpecificError = 0x83, "Implementation specific error";
    /// Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version";
    /// Client Identifier not valid.
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid";
    /// Bad User Name or Password.
    BadUserNameOrPassword = 0x86, "Bad User Name or Password";
    /// Not authorized.
    NotAuthorized = 0x87, "Not authorized";
    /// Server unavailable.
    ServerUnavailable = 0x88, "Server unavailable";
    /// Server busy.
    ServerBusy = 0x89, "Server busy";
    /// Banned.
    Banned = 0x8A, "Banned";
    /// Server shutting down.
    ServerShuttingDown = 0x8B, "Server shutting down";
    /// Bad authentication method.
    BadAuthenticationMethod = 0x8C, "Bad authentication method";
    /// Keep Alive timeout.
    KeepAliveTimeout = 0x8D, "Keep Alive timeout";
    /// Session taken over.
    SessionTakenOver = 0x8E, "Session taken over";
    /// Topic Filter invalid.
    TopicFilterInvalid = 0x8F, "Topic Filter invalid";
    /// Topic Name invalid.
    TopicNameInvalid = 0x90, "Topic Name invalid";
    /// Packet Identifier in use.
    PacketIdentifierInUse = 0x91, "Packet Identifier in use";
    /// Packet Identifier not found.
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found";
    /// Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded";
    /// Topic Alias invalid.
    TopicAliasInvalid = 0x94, "Topic Alias invalid";
    /// Packet too large.
    PacketTooLarge = 0x95, "Packet too large";
    /// Message rate too high.
    MessageRateTooHigh = 0x96, "Message rate too high";
    /// Quota exceeded.
    QuotaExceeded = 0x97, "Quota exceeded";
    /// Administrative action.
    AdministrativeAction = 0x98, "Administrative action";
    /// Payload format invalid.
    PayloadFormatInvalid = 0x99, "Payload format invalid";
    /// Retain not supported.
    RetainNotSupported = 0x9A, "Retain not supported";
    /// QoS not supported.
    QoSNotSupported = 0x9B, "QoS not supported";
    /// Use another server.
    UseAnotherServer = 0x9C, "Use another server";
    /// Server moved.
    ServerMoved = 0x9D, "Server moved";
    /// Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported";
    /// Connection rate exceeded.
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded";
    /// Maximum connect time.
    MaximumConnectTime = 0xA0, "Maximum connect time";
    /// Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported";
    /// Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported";
}

impl ReasonCode {
    /// `0x00` as DISCONNECT names it.
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode::Success;
    /// `0x00` as SUBACK names it.
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode::Success;

    /// The code's value on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether the code reports an error (values of 0x80 and above, §2.4).
    pub const fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }

    /// Whether `self` may appear in a packet of this kind (§3.x.2.1 tables).
    pub fn allowed_in(self, kind: ReasonCodeContext) -> bool {
        use ReasonCode::*;
        match kind {
            ReasonCodeContext::ConnAck => matches!(
                self,
                Success
                    | UnspecifiedError
                    | MalformedPacket
                    | ProtocolError
                    | ImplementationSpecificError
                    | UnsupportedProtocolVersion
                    | ClientIdentifierNotValid
                    | BadUserNameOrPassword
                    | NotAuthorized
                    | ServerUnavailable
                    | ServerBusy
                    | Banned
                    | BadAuthenticationMethod
                    | TopicNameInvalid
                    | PacketTooLarge
                    | QuotaExceeded
                    | PayloadFormatInvalid
                    | RetainNotSupported
                    | QoSNotSupported
                    | UseAnotherServer
                    | ServerMoved
                    | ConnectionRateExceeded
            ),
            ReasonCodeContext::PubAck | ReasonCodeContext::PubRec => matches!(
                self,
                Success
                    | NoMatchingSubscribers
                    | UnspecifiedError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | TopicNameInvalid
                    | PacketIdentifierInUse
                    | QuotaExceeded
                    | PayloadFormatInvalid
            ),
            ReasonCodeContext::PubRel | ReasonCodeContext::PubComp => {
                matches!(self, Success | PacketIdentifierNotFound)
            }
            ReasonCodeContext::SubAck => matches!(
                self,
                Success
                    | GrantedQoS1
                    | GrantedQoS2
                    | UnspecifiedError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | TopicFilterInvalid
                    | PacketIdentifierInUse
                    | QuotaExceeded
                    | SharedSubscriptionsNotSupported
                    | SubscriptionIdentifiersNotSupported
                    | WildcardSubscriptionsNotSupported
            ),
            ReasonCodeContext::UnsubAck => matches!(
                self,
                Success
                    | NoSubscriptionExisted
                    | UnspecifiedError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | TopicFilterInvalid
                    | PacketIdentifierInUse
            ),
            ReasonCodeContext::Disconnect => matches!(
                self,
                Success
                    | DisconnectWithWillMessage
                    | UnspecifiedError
                    | MalformedPacket
                    | ProtocolError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | ServerBusy
                    | ServerShuttingDown
                    | KeepAliveTimeout
                    | SessionTakenOver
                    | TopicFilterInvalid
                    | TopicNameInvalid
                    | ReceiveMaximumExceeded
                    | TopicAliasInvalid
                    | PacketTooLarge
                    | MessageRateTooHigh
                    | QuotaExceeded
                    | AdministrativeAction
                    | PayloadFormatInvalid
                    | RetainNotSupported
                    | QoSNotSupported
                    | UseAnotherServer
                    | ServerMoved
                    | SharedSubscriptionsNotSupported
                    | ConnectionRateExceeded
                    | MaximumConnectTime
                    | SubscriptionIdentifiersNotSupported
                    | WildcardSubscriptionsNotSupported
            ),
            ReasonCodeContext::Auth => {
                matches!(self, Success | ContinueAuthentication | ReAuthenticate)
            }
        }
    }

    /// The MQTT 3.1.1 CONNACK return code (§3.2.2.3 of 3.1.1) that best conveys this code.
    ///
    /// 3.1.1 has six return codes; every other refusal is reported as "Server unavailable",
    /// the generic refusal of that version.
    pub const fn to_v3_connack_code(self) -> u8 {
        match self {
            ReasonCode::Success => 0x00,
            ReasonCode::UnsupportedProtocolVersion => 0x01,
            ReasonCode::ClientIdentifierNotValid => 0x02,
            ReasonCode::BadUserNameOrPassword | ReasonCode::BadAuthenticationMethod => 0x04,
            ReasonCode::NotAuthorized | ReasonCode::Banned => 0x05,
            _ => 0x03,
        }
    }

    /// The reason code for an MQTT 3.1.1 CONNACK return code, if the code is defined.
    pub const fn from_v3_connack_code(code: u8) -> Option<ReasonCode> {
        match code {
            0x00 => Some(ReasonCode::Success),
            0x01 => Some(ReasonCode::UnsupportedProtocolVersion),
            0x02 => Some(ReasonCode::ClientIdentifierNotValid),
            0x03 => Some(ReasonCode::ServerUnavailable),
            0x04 => Some(ReasonCode::BadUserNameOrPassword),
            0x05 => Some(ReasonCode::NotAuthorized),
            _ => None,
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.description(), self.as_u8())
    }
}

/// The packet a reason code appears in; each allows its own subset (§2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReasonCodeContext {
    /// CONNACK (§3.2.2.2).
    ConnAck,
    /// PUBACK (§3.4.2.1).
    PubAck,
    /// PUBREC (§3.5.2.1).
    PubRec,
    /// PUBREL (§3.6.2.1).
    PubRel,
    /// PUBCOMP (§3.7.2.1).
    PubComp,
    /// SUBACK (§3.9.3).
    SubAck,
    /// UNSUBACK (§3.11.3).
    UnsubAck,
    /// DISCONNECT (§3.14.2.1).
    Disconnect,
    /// AUTH (§3.15.2.1).
    Auth,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_defined_value_round_trips_and_others_do_not_exist() {
        let mut defined = 0;
        for value in 0..=u8::MAX {
            if let Some(code) = ReasonCode::from_u8(value) {
                assert_eq!(code.as_u8(), value);
                defined += 1;
            }
        }
        // Table 2-6 lists 43 distinct values.
        assert_eq!(defined, 43);
    }

    #[test]
    fn per_packet_subsets_follow_the_tables() {
        assert!(ReasonCode::Success.allowed_in(ReasonCodeContext::Auth));
        assert!(!ReasonCode::NotAuthorized.allowed_in(ReasonCodeContext::Auth));
        assert!(ReasonCode::PacketIdentifierNotFound.allowed_in(ReasonCodeContext::PubRel));
        assert!(!ReasonCode::NoMatchingSubscribers.allowed_in(ReasonCodeContext::PubComp));
        assert!(ReasonCode::DisconnectWithWillMessage.allowed_in(ReasonCodeContext::Disconnect));
        assert!(!ReasonCode::DisconnectWithWillMessage.allowed_in(ReasonCodeContext::ConnAck));
        assert!(ReasonCode::GrantedQoS2.allowed_in(ReasonCodeContext::SubAck));
    }
}
