//! DISCONNECT (§3.14) and AUTH (§3.15).

use bytes::{BufMut, BytesMut};

use super::ack::read_reason;
use super::write_fixed_header;
use crate::ProtocolVersion;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{AuthProperties, DisconnectProperties, PropertySet};
use crate::reason::{ReasonCode, ReasonCodeContext};
use crate::wire::{self, Reader};

/// A DISCONNECT packet (§3.14). In 3.1.1 it has no body and only clients send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    /// The Disconnect Reason Code (5.0).
    pub reason_code: ReasonCode,
    /// Properties (5.0).
    pub properties: DisconnectProperties,
}

impl Default for Disconnect {
    fn default() -> Self {
        Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)
    }
}

impl Disconnect {
    /// A DISCONNECT with this reason and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: DisconnectProperties::default(),
        }
    }

    pub(crate) fn decode(
        mut reader: Reader,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut disconnect = Disconnect::default();
        if version == ProtocolVersion::V5 {
            // §3.14.2.1: "If the Remaining Length is less than 1 the value of 0x00 (Normal
            // disconnection) is used"; §3.14.2.2.1: below 2 there is no Property Length.
            if !reader.is_empty() {
                disconnect.reason_code =
                    read_reason(&mut reader, ReasonCodeContext::Disconnect, "DISCONNECT")?;
            }
            if !reader.is_empty() {
                disconnect.properties = DisconnectProperties::decode(&mut reader)?;
            }
        }
        reader.finish()?;
        Ok(disconnect)
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if version == ProtocolVersion::V311 {
            return write_fixed_header(buf, 0xE0, 0);
        }
        encode_reason_and_properties(0xE0, self.reason_code, &self.properties, buf)
    }
}

/// An AUTH packet (§3.15), MQTT 5.0 only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// The Authenticate Reason Code.
    pub reason_code: ReasonCode,
    /// Properties.
    pub properties: AuthProperties,
}

impl Auth {
    pub(crate) fn decode(mut reader: Reader) -> Result<Self, DecodeError> {
        let mut auth = Auth {
            reason_code: ReasonCode::Success,
            properties: AuthProperties::default(),
        };
        // §3.15.2.1: "The Reason Code and Property Length can be omitted if the Reason Code is
        // 0x00 (Success) and there are no Properties."
        if !reader.is_empty() {
            auth.reason_code = read_reason(&mut reader, ReasonCodeContext::Auth, "AUTH")?;
        }
        if !reader.is_empty() {
            auth.properties = AuthProperties::decode(&mut reader)?;
        }
        reader.finish()?;
        Ok(auth)
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if version == ProtocolVersion::V311 {
            return Err(EncodeError::NotInVersion("AUTH"));
        }
        encode_reason_and_properties(0xF0, self.reason_code, &self.properties, buf)
    }
}

fn encode_reason_and_properties(
    first: u8,
    reason_code: ReasonCode,
    properties: &impl PropertySet,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let props_len = properties.content_len()?;
    if props_len == 0 && reason_code == ReasonCode::Success {
        return write_fixed_header(buf, first, 0);
    }
    if props_len == 0 {
        write_fixed_header(buf, first, 1)?;
        buf.put_u8(reason_code.as_u8());
        return Ok(());
    }
    write_fixed_header(buf, first, 1 + wire::varint_len(props_len) + props_len)?;
    buf.put_u8(reason_code.as_u8());
    properties.write(props_len, buf);
    Ok(())
}
