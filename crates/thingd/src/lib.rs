//! thingd as a library: the pieces the `thingd` binary wires together, exposed so that the
//! testkit can start a whole thingd in-process.

#![warn(missing_docs)]

pub mod authorizer;
pub mod button;
pub mod cert;
pub mod credentials;
pub mod data_plane;
pub mod durability;
pub mod http;
pub mod live;
pub mod rules;
pub mod serve;
pub mod shadows;

pub use serve::{Running, ServeOptions};
