//! DescribeEndpoint: the host devices connect to.
//!
//! AWS hands out one host per endpoint type (`…-ats.iot.…` for data, `….credentials.iot.…`,
//! `….jobs.iot.…`); thingd serves all of them on its one configured host, so every type
//! answers that host.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::AwsQuery;
use crate::state::ApiState;

/// The endpoint types the service model documents.
const ENDPOINT_TYPES: [&str; 4] = [
    "iot:Data",
    "iot:Data-ATS",
    "iot:CredentialProvider",
    "iot:Jobs",
];

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/endpoint", get(describe_endpoint))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeEndpointQuery {
    endpoint_type: Option<String>,
}

/// `{"endpointAddress"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeEndpointResponse {
    endpoint_address: String,
}

/// `GET /endpoint?endpointType=`: without a type, AWS answers the `iot:Data` endpoint.
pub(crate) async fn describe_endpoint(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<DescribeEndpointQuery>,
) -> Result<Json<DescribeEndpointResponse>, ApiError> {
    if let Some(endpoint_type) = &query.endpoint_type
        && !ENDPOINT_TYPES.contains(&endpoint_type.as_str())
    {
        return Err(ApiError::invalid_request(format!(
            "Endpoint type {endpoint_type} not recognized."
        )));
    }
    Ok(Json(DescribeEndpointResponse {
        endpoint_address: state.endpoint_host.clone(),
    }))
}
