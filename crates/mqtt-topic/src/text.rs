//! UTF-8 text held in [`Bytes`], shared by the topic newtypes, and the iterator over topic levels.

use std::hash::{Hash, Hasher};
use std::iter::FusedIterator;

use bytes::Bytes;
use bytestring::ByteString;

use crate::TopicError;

/// `Bytes` known to hold well-formed UTF-8.
///
/// [`ByteString`] carries the proof that the bytes are UTF-8, so reading the text back costs
/// nothing (this crate forbids `unsafe`, so without it every `as_str` would re-validate).
/// Equality and ordering compare bytes, which agrees with `str` because UTF-8 preserves code
/// point order; hashing goes through `str` so that the newtypes may implement `Borrow<str>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Utf8Bytes(ByteString);

impl Utf8Bytes {
    /// Copies `s` into a new buffer.
    pub(crate) fn copy_from_str(s: &str) -> Self {
        Self(ByteString::from(s))
    }

    /// Takes `bytes` without copying once they are checked to be UTF-8 [MQTT-1.5.4-1].
    pub(crate) fn from_bytes(bytes: Bytes) -> Result<Self, TopicError> {
        ByteString::try_from(bytes)
            .map(Self)
            .map_err(|e| TopicError::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            })
    }

    /// Takes text already known to be UTF-8, without copying or checking again.
    pub(crate) fn from_byte_string(text: ByteString) -> Self {
        Self(text)
    }

    /// The part of `self` that `sub` borrows, without copying.
    ///
    /// # Panics
    ///
    /// If `sub` does not borrow from `self`.
    pub(crate) fn slice_ref(&self, sub: &str) -> Self {
        // `sub` is a `&str`, so the bytes it covers are UTF-8 on their own.
        Self(self.0.slice_ref(sub))
    }

    /// A copy in a buffer of its own, so that keeping it does not keep alive the rest of a
    /// buffer it was sliced from, such as a whole packet.
    pub(crate) fn detached(&self) -> Self {
        Self(ByteString::from(&*self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub(crate) fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

impl Hash for Utf8Bytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// An iterator over the levels of a topic name or filter, split at each `/`.
///
/// A topic of `n` separators has `n + 1` levels, some of which may be empty: `/a/` yields `""`,
/// `"a"` and `""`.
#[derive(Debug, Clone)]
pub struct Levels<'a>(std::str::Split<'a, char>);

impl<'a> Levels<'a> {
    pub(crate) fn new(topic: &'a str) -> Self {
        Self(topic.split('/'))
    }
}

impl<'a> Iterator for Levels<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.0.next()
    }
}

impl DoubleEndedIterator for Levels<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl FusedIterator for Levels<'_> {}

/// Splits off the first level of `topic`: returns it and the rest after the `/`, or `None` when
/// it was the last level.
pub(crate) fn split_level(topic: &[u8]) -> (&[u8], Option<&[u8]>) {
    match topic.iter().position(|&b| b == b'/') {
        Some(i) => (&topic[..i], Some(&topic[i + 1..])),
        None => (topic, None),
    }
}

/// Implements the conversions and formatting shared by the topic newtypes, each a tuple struct
/// around [`Utf8Bytes`] with `as_str`.
macro_rules! impl_text_newtype {
    ($ty:ident) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($ty))
                    .field(&self.as_str())
                    .finish()
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        // `Hash`, `Eq` and `Ord` of the newtype agree with those of `str` (see `Utf8Bytes`).
        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0.as_bytes() == other.as_bytes()
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0.as_bytes() == other.as_bytes()
            }
        }

        impl From<$ty> for bytes::Bytes {
            fn from(value: $ty) -> Self {
                value.0.into_bytes()
            }
        }
    };
}

pub(crate) use impl_text_newtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_level_keeps_empty_levels() {
        assert_eq!(split_level(b"a/b"), (&b"a"[..], Some(&b"b"[..])));
        assert_eq!(split_level(b"a/"), (&b"a"[..], Some(&b""[..])));
        assert_eq!(split_level(b"/"), (&b""[..], Some(&b""[..])));
        assert_eq!(split_level(b"a"), (&b"a"[..], None));
    }

    #[test]
    fn hash_agrees_with_str() {
        use std::hash::BuildHasher;
        let state = std::hash::RandomState::new();
        let text = Utf8Bytes::copy_from_str("a/b");
        assert_eq!(state.hash_one(&text), state.hash_one("a/b"));
    }
}
