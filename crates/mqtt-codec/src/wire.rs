//! Wire primitives: a bounded reader over one frame and the writers for MQTT's data representations (§1.5).
//!
//! The reader never reads past the bytes it was given: a packet's Remaining Length and a property
//! block's Property Length each become a sub-reader, and every decode ends with [`Reader::finish`],
//! so trailing garbage is an error rather than silently ignored.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::string::MqttString;

/// The largest value a Variable Byte Integer can carry (§1.5.5): 268,435,455.
pub const MAX_VARIABLE_BYTE_INTEGER: u32 = 268_435_455;

/// A forward-only reader over the bytes of one packet or of one part of it.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated)
        } else {
            Ok(())
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    /// A Two Byte Integer, big-endian (§1.5.2).
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    /// A Four Byte Integer, big-endian (§1.5.3).
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    /// A Variable Byte Integer (§1.5.5).
    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        match decode_varint(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    /// The next `n` bytes, shared with the frame (no copy).
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Everything that is left, shared with the frame (no copy).
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// A sub-reader over the next `n` bytes; the parent continues after them.
    pub(crate) fn sub(&mut self, n: usize) -> Result<Reader, DecodeError> {
        self.take(n).map(Reader::new)
    }

    /// Binary Data: a Two Byte Integer length followed by that many bytes (§1.5.6).
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = usize::from(self.u16()?);
        self.take(len)
    }

    /// A UTF-8 Encoded String (§1.5.4), validated.
    pub(crate) fn string(&mut self) -> Result<MqttString, DecodeError> {
        MqttString::from_bytes(self.binary()?)
    }

    /// Ends a read: bytes left over mean the lengths and the content disagree.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.buf.len()))
        }
    }
}

/// Decodes a Variable Byte Integer at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, and `(value, encoded length)` otherwise.
/// More than four bytes, or a value encoded in more bytes than it needs, is malformed:
/// "The encoded value MUST use the minimum number of bytes necessary to represent the value"
/// [MQTT-1.5.5-1].
pub(crate) fn decode_varint(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            let len = i + 1;
            if len > 1 && byte == 0 {
                return Err(DecodeError::NonMinimalVariableByteInteger);
            }
            return Ok(Some((value, len)));
        }
    }
    if buf.len() >= 4 {
        Err(DecodeError::MalformedVariableByteInteger)
    } else {
        Ok(None)
    }
}

/// The number of bytes the Variable Byte Integer encoding of `value` takes.
pub(crate) const fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

pub(crate) fn put_varint(buf: &mut BytesMut, value: usize) {
    debug_assert!(value <= MAX_VARIABLE_BYTE_INTEGER as usize);
    let mut value = value;
    loop {
        // Truncation is intended: the low seven bits are kept.
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            return;
        }
    }
}

/// Writes Binary Data or a UTF-8 string's bytes with its Two Byte length prefix.
/// Callers check lengths up front (see `check_len`), so the cast cannot truncate.
pub(crate) fn put_binary(buf: &mut BytesMut, bytes: &[u8]) {
    debug_assert!(bytes.len() <= usize::from(u16::MAX));
    buf.put_u16(bytes.len() as u16);
    buf.put_slice(bytes);
}

/// The encoded size of a length-prefixed string or binary field.
pub(crate) const fn binary_len(bytes: &[u8]) -> usize {
    2 + bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_boundaries_from_the_spec_table() {
        // §1.5.5, Table 1-1 Size of Variable Byte Integer.
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for &(value, bytes) in cases {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, value as usize);
            assert_eq!(&buf[..], bytes, "encoding {value}");
            assert_eq!(varint_len(value as usize), bytes.len());
            assert_eq!(decode_varint(bytes).unwrap(), Some((value, bytes.len())));
        }
    }

    #[test]
    fn varint_rejects_five_bytes_and_non_minimal_forms() {
        assert!(matches!(
            decode_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            Err(DecodeError::MalformedVariableByteInteger)
        ));
        assert!(matches!(
            decode_varint(&[0x80, 0x00]),
            Err(DecodeError::NonMinimalVariableByteInteger)
        ));
        assert_eq!(decode_varint(&[0x80, 0x80]).unwrap(), None);
        assert_eq!(decode_varint(&[]).unwrap(), None);
    }
}
