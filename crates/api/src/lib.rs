//! thingd's AWS-compatible HTTP API: the AWS IoT control plane in AWS's restJson1 protocol, so
//! that the AWS CLI, boto3 and the AWS SDKs work against thingd with only `--endpoint-url`.
//!
//! [`router`] builds the axum routes of every implemented operation. Handlers validate input
//! against AWS IoT's service model (names, lengths, patterns), apply AWS IoT's semantics
//! (idempotent creates, expected versions, delete conflicts) on the primitives of the
//! [`thingd_registry::Store`] traits, and answer errors in AWS's shape ([`ApiError`]): the
//! `x-amzn-ErrorType` header, a `{"__type", "message"}` body and the service's status codes.
//! Requests AWS IoT knows but thingd does not implement get a named `NotImplementedException`;
//! unknown requests an `UnknownOperationException`, never an HTML page.

#![warn(missing_docs)]

mod attributes;
mod auth;
pub mod authorization;
mod ca_certificates;
mod certificates;
mod destinations;
mod endpoint;
mod error;
mod extract;
mod operations;
mod paging;
mod policies;
mod principals;
pub mod records;
mod rules;
mod state;
mod tags;
mod thing_groups;
mod thing_types;
mod things;
mod versioned;

use axum::Router;

pub use auth::verify_signature;
pub use error::ApiError;
pub use policies::{MAX_POLICIES_PER_TARGET, MAX_VERSIONS, POLICY_NAME};
pub use state::{ApiState, AuthorizationChange, RegistryEvents, RulesApiConfig};

/// The control-plane routes behind SigV4 authentication: what the HTTP listener serves.
/// ConfirmTopicRuleDestination alone needs no signature: its token is the credential, and a
/// destination's owner GETs the `enableUrl` as it is (reference §5.7).
pub fn authenticated_router(state: ApiState) -> Router {
    signed_routes(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_sigv4,
        ))
        .merge(destinations::public_routes().with_state(state))
}

/// The control-plane routes, with `state`, without authentication (for in-process tests).
pub fn router(state: ApiState) -> Router {
    signed_routes(state.clone()).merge(destinations::public_routes().with_state(state))
}

/// Every route but ConfirmTopicRuleDestination's, with the fallbacks.
fn signed_routes(state: ApiState) -> Router {
    Router::new()
        // Operation families; each module lists its own routes.
        .merge(certificates::routes())
        .merge(ca_certificates::routes())
        .merge(principals::routes())
        .merge(policies::routes())
        .merge(thing_types::routes())
        .merge(thing_groups::routes())
        .merge(tags::routes())
        .merge(rules::routes())
        .merge(destinations::routes())
        .merge(endpoint::routes())
        .merge(things::routes())
        .fallback(operations::unimplemented)
        // A known path with another method is some other operation, or none: answer it in
        // AWS's shape too, not with a bare 405.
        .method_not_allowed_fallback(operations::unimplemented)
        .with_state(state)
}
