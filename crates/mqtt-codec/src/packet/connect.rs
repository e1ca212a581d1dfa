//! CONNECT (§3.1) and CONNACK (§3.2).

use bytes::{BufMut, Bytes, BytesMut};

use super::{check_binary, write_fixed_header};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{ConnAckProperties, ConnectProperties, PropertySet, WillProperties};
use crate::reason::{ReasonCode, ReasonCodeContext};
use crate::string::MqttString;
use crate::wire::{self, Reader};
use crate::{ProtocolVersion, QoS};

const PROTOCOL_NAME: &[u8] = b"MQTT";

/// A CONNECT packet (§3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version, from the Protocol Level (§3.1.2.2).
    pub protocol_version: ProtocolVersion,
    /// Clean Start (5.0) or Clean Session (3.1.1) (§3.1.2.4).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns the mechanism off (§3.1.2.10).
    pub keep_alive: u16,
    /// CONNECT properties (5.0 only).
    pub properties: ConnectProperties,
    /// The Client Identifier; may be empty (§3.1.3.1).
    pub client_id: MqttString,
    /// The Will Message, if the Will Flag is set (§3.1.2.5).
    pub will: Option<Will>,
    /// The User Name (§3.1.3.5).
    pub username: Option<MqttString>,
    /// The Password: binary data (§3.1.3.6).
    pub password: Option<Bytes>,
}

/// A Will Message announced in CONNECT (§3.1.2.5, §3.1.3.2-4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    /// The Will Topic (§3.1.3.3).
    pub topic: MqttString,
    /// The Will Payload (§3.1.3.4).
    pub payload: Bytes,
    /// The Will QoS (§3.1.2.6).
    pub qos: QoS,
    /// The Will Retain flag (§3.1.2.7).
    pub retain: bool,
    /// The Will Properties (5.0 only, §3.1.3.2).
    pub properties: WillProperties,
}

/// Reads the Protocol Name and Protocol Level at the start of CONNECT (§3.1.2.1-2).
pub(crate) fn decode_protocol(reader: &mut Reader) -> Result<ProtocolVersion, DecodeError> {
    let name = reader.binary()?;
    let level = reader.u8()?;
    // [MQTT-3.1.2-1]: the protocol name is "MQTT"; 3.1 clients send "MQIsdp" with level 3,
    // which is refused as an unsupported version so they get a CONNACK they understand.
    if &name[..] != PROTOCOL_NAME {
        return Err(if &name[..] == b"MQIsdp" {
            DecodeError::UnsupportedProtocolLevel(level)
        } else {
            DecodeError::UnsupportedProtocolName
        });
    }
    ProtocolVersion::from_level(level).ok_or(DecodeError::UnsupportedProtocolLevel(level))
}

impl Connect {
    /// A CONNECT with the given version and client id, clean start, a 60 s keep alive and nothing else.
    pub fn new(protocol_version: ProtocolVersion, client_id: MqttString) -> Self {
        Connect {
            protocol_version,
            clean_start: true,
            keep_alive: 60,
            properties: ConnectProperties::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }

    pub(crate) fn decode_after_protocol(
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let flags = reader.u8()?;
        // [MQTT-3.1.2-3]: the Server MUST validate that the reserved flag is set to 0.
        if flags & 0b0000_0001 != 0 {
            return Err(DecodeError::ReservedConnectFlag);
        }
        let clean_start = flags & 0b0000_0010 != 0;
        let will_flag = flags & 0b0000_0100 != 0;
        let will_qos = QoS::from_u8((flags >> 3) & 0b11)?; // [MQTT-3.1.2-12]: 3 is malformed.
        let will_retain = flags & 0b0010_0000 != 0;
        let password_flag = flags & 0b0100_0000 != 0;
        let username_flag = flags & 0b1000_0000 != 0;
        // [MQTT-3.1.2-11], [MQTT-3.1.2-13]: without a will, Will QoS and Will Retain are 0.
        if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
            return Err(DecodeError::WillFlagsWithoutWill);
        }
        // MQTT 3.1.1 [MQTT-3.1.2-22]: a password requires a user name. 5.0 lifted that rule.
        if version == ProtocolVersion::V311 && password_flag && !username_flag {
            return Err(DecodeError::PasswordWithoutUserName);
        }
        let keep_alive = reader.u16()?;
        let properties = match version {
            ProtocolVersion::V5 => ConnectProperties::decode(&mut reader)?,
            ProtocolVersion::V311 => ConnectProperties::default(),
        };
        // The payload's fields appear in this order [MQTT-3.1.3-1].
        let client_id = reader.string()?;
        let will = if will_flag {
            let properties = match version {
                ProtocolVersion::V5 => WillProperties::decode(&mut reader)?,
                ProtocolVersion::V311 => WillProperties::default(),
            };
            let topic = reader.string()?;
            let payload = reader.binary()?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if username_flag {
            Some(reader.string()?)
        } else {
            None
        };
        let password = if password_flag {
            Some(reader.binary()?)
        } else {
            None
        };
        reader.finish()?;
        Ok(Connect {
            protocol_version: version,
            clean_start,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let v5 = self.protocol_version == ProtocolVersion::V5;
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::NotInVersion("a password without a user name"));
        }
        let props_len = if v5 {
            Some(self.properties.content_len()?)
        } else {
            None
        };
        let will_props_len = match (&self.will, v5) {
            (Some(will), true) => Some(will.properties.content_len()?),
            _ => None,
        };
        let mut remaining = wire::binary_len(PROTOCOL_NAME) + 1 + 1 + 2;
        remaining += props_len.map_or(0, |l| wire::varint_len(l) + l);
        remaining += wire::binary_len(self.client_id.as_bytes());
        if let Some(will) = &self.will {
            remaining += will_props_len.map_or(0, |l| wire::varint_len(l) + l);
            remaining += wire::binary_len(will.topic.as_bytes()) + check_binary(&will.payload)?;
        }
        remaining += self
            .username
            .as_ref()
            .map_or(0, |u| wire::binary_len(u.as_bytes()));
        if let Some(password) = &self.password {
            remaining += check_binary(password)?;
        }

        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0b0000_0010;
        }
        if let Some(will) = &self.will {
            flags |= 0b0000_0100 | (will.qos as u8) << 3;
            if will.retain {
                flags |= 0b0010_0000;
            }
        }
        if self.password.is_some() {
            flags |= 0b0100_0000;
        }
        if self.username.is_some() {
            flags |= 0b1000_0000;
        }

        write_fixed_header(buf, 0x10, remaining)?;
        wire::put_binary(buf, PROTOCOL_NAME);
        buf.put_u8(self.protocol_version.level());
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        if let Some(len) = props_len {
            self.properties.write(len, buf);
        }
        wire::put_binary(buf, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if let Some(len) = will_props_len {
                will.properties.write(len, buf);
            }
            wire::put_binary(buf, will.topic.as_bytes());
            wire::put_binary(buf, &will.payload);
        }
        if let Some(username) = &self.username {
            wire::put_binary(buf, username.as_bytes());
        }
        if let Some(password) = &self.password {
            wire::put_binary(buf, password);
        }
        Ok(())
    }
}

/// A CONNACK packet (§3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present (§3.2.2.1.1).
    pub session_present: bool,
    /// The Connect Reason Code (§3.2.2.2); in 3.1.1 it is encoded as the nearest return code
    /// ([`ReasonCode::to_v3_connack_code`]).
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0 only).
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// A CONNACK with this outcome and no properties.
    pub fn new(session_present: bool, reason_code: ReasonCode) -> Self {
        ConnAck {
            session_present,
            reason_code,
            properties: ConnAckProperties::default(),
        }
    }

    pub(crate) fn decode(
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let flags = reader.u8()?;
        // [MQTT-3.2.2-1]: bits 7-1 are reserved and set to 0.
        if flags & 0b1111_1110 != 0 {
            return Err(DecodeError::ReservedConnAckFlags);
        }
        let code = reader.u8()?;
        let invalid = DecodeError::InvalidReasonCode {
            code,
            packet: "CONNACK",
        };
        let (reason_code, properties) = match version {
            ProtocolVersion::V311 => (
                ReasonCode::from_v3_connack_code(code).ok_or(invalid)?,
                ConnAckProperties::default(),
            ),
            ProtocolVersion::V5 => {
                let reason = ReasonCode::from_u8(code)
                    .filter(|r| r.allowed_in(ReasonCodeContext::ConnAck))
                    .ok_or(invalid)?;
                (reason, ConnAckProperties::decode(&mut reader)?)
            }
        };
        reader.finish()?;
        Ok(ConnAck {
            session_present: flags & 1 != 0,
            reason_code,
            properties,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let flags = u8::from(self.session_present);
        match version {
            ProtocolVersion::V311 => {
                write_fixed_header(buf, 0x20, 2)?;
                buf.put_u8(flags);
                buf.put_u8(self.reason_code.to_v3_connack_code());
            }
            ProtocolVersion::V5 => {
                let props_len = self.properties.content_len()?;
                write_fixed_header(buf, 0x20, 2 + wire::varint_len(props_len) + props_len)?;
                buf.put_u8(flags);
                buf.put_u8(self.reason_code.as_u8());
                self.properties.write(props_len, buf);
            }
        }
        Ok(())
    }
}
