//! MQTT topic names, topic filters, shared subscriptions and the broker's subscription index.
//!
//! Everything here follows MQTT 5.0 §4.7 (topic names and filters) and §4.8.2 (shared
//! subscriptions), which also cover MQTT 3.1.1. Strings are parsed once into types that are
//! valid by construction:
//!
//! - [`TopicName`]: what a PUBLISH carries, with no wildcards;
//! - [`TopicFilter`]: a filter of SUBSCRIBE or UNSUBSCRIBE, which [matches](TopicFilter::matches)
//!   names;
//! - [`SubscriptionFilter`]: what a client subscribes to, a plain filter or a shared
//!   `$share/{ShareName}/{filter}`;
//! - [`SubscriptionIndex`]: every subscription of the broker, for finding those a topic matches.
//!
//! Deployment limits such as those of AWS IoT Core come from [`TopicLimits`].
//!
//! ```
//! use mqtt_topic::{Match, SubscriptionFilter, SubscriptionIndex, TopicLimits, TopicName};
//!
//! let index = SubscriptionIndex::new();
//! let filter = SubscriptionFilter::parse("sport/tennis/+", &TopicLimits::MQTT)?;
//! index.insert(&filter, "client-1", 1u8);
//!
//! let topic = TopicName::parse("sport/tennis/player1", &TopicLimits::MQTT)?;
//! let mut subscribers = Vec::new();
//! index.for_each_match(&topic, |m| {
//!     if let Match::Plain { key, value, .. } = m {
//!         subscribers.push((*key, *value));
//!     }
//! });
//! assert_eq!(subscribers, [("client-1", 1)]);
//! # Ok::<(), mqtt_topic::TopicError>(())
//! ```

#![warn(missing_docs)]

pub use bytestring::ByteString;

mod error;
mod filter;
mod index;
mod limits;
mod name;
mod shared;
mod text;

pub use error::TopicError;
pub use filter::TopicFilter;
pub use index::{Match, SharedMatch, SubscriptionIndex};
pub use limits::TopicLimits;
pub use name::TopicName;
pub use shared::{ShareName, SubscriptionFilter};
pub use text::Levels;
