//! HTTP topic rule destinations: CreateTopicRuleDestination, GetTopicRuleDestination,
//! ListTopicRuleDestinations, UpdateTopicRuleDestination, DeleteTopicRuleDestination and
//! ConfirmTopicRuleDestination, with AWS's confirmation flow (reference §5.7).
//!
//! A new destination is `IN_PROGRESS`, and thingd POSTs the confirmation message to
//! `{confirmationUrl}/?confirmationToken={token}` from a task of its own (the request does not
//! wait for it). Its `enableUrl` points at this API's ConfirmTopicRuleDestination
//! (`GET /confirmdestination/{token}`), which needs no signature: the token is the proof, as in
//! AWS, so the receiver can simply GET it. Confirming makes the destination `ENABLED`; a failed
//! POST makes it `ERROR` with the reason. A destination under a prefix that thingd's
//! configuration trusts (`--rules-trusted-destination`) is `ENABLED` at once, with no POST.
//!
//! thingd sends the confirmation to `http://` URLs too (AWS: `https://` only), since a
//! self-hosted deployment's receivers are often on its own network. A missing destination is an
//! `UnauthorizedException` ("Access to TopicRuleDestination ... was denied"): the service model
//! lists no ResourceNotFoundException for these operations, and that is what AWS answers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};
use thingd_registry::{ArnKind, Inserted, PageRequest, Timestamp, TopicRuleDestinationRecord};

use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery, missing, not_in_enum, page_size};
use crate::paging::with_next_token;
use crate::state::{ApiState, RulesApiConfig};

/// The statuses of a destination (botocore `TopicRuleDestinationStatus`).
pub(crate) const ENABLED: &str = "ENABLED";
pub(crate) const IN_PROGRESS: &str = "IN_PROGRESS";
pub(crate) const DISABLED: &str = "DISABLED";
pub(crate) const ERROR: &str = "ERROR";
const DELETING: &str = "DELETING";
const STATUSES: &str = "[ENABLED, IN_PROGRESS, DISABLED, ERROR, DELETING]";

/// The longest confirmation token accepted (botocore `ConfirmationToken`).
const MAX_TOKEN_CHARS: usize = 2048;
/// The longest `nextToken` accepted: a destination ARN.
const MAX_NEXT_TOKEN_CHARS: usize = 2048;
/// The most bytes of a confirmation response read (and thrown away).
const MAX_CONFIRMATION_RESPONSE: usize = 64 * 1024;
/// How long a confirmation POST may take when the configuration does not say.
const DEFAULT_CONFIRMATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The routes of this family behind SigV4.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/destinations",
            get(list_topic_rule_destinations)
                .post(create_topic_rule_destination)
                .patch(update_topic_rule_destination),
        )
        .route(
            "/destinations/{*arn}",
            get(get_topic_rule_destination).delete(delete_topic_rule_destination),
        )
}

/// The route that needs no signature: the confirmation token is the credential, and the
/// destination's owner GETs the `enableUrl` as it is.
pub(crate) fn public_routes() -> Router<ApiState> {
    Router::new().route(
        "/confirmdestination/{*token}",
        get(confirm_topic_rule_destination),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateDestinationRequest {
    destination_configuration: Option<DestinationConfiguration>,
}

/// botocore `TopicRuleDestinationConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DestinationConfiguration {
    http_url_configuration: Option<HttpUrlConfiguration>,
    vpc_configuration: Option<Value>,
}

/// botocore `HttpUrlDestinationConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpUrlConfiguration {
    confirmation_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateDestinationRequest {
    arn: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListDestinationsQuery {
    max_results: Option<String>,
    next_token: Option<String>,
}

/// botocore `TopicRuleDestination`.
fn destination_json(record: &TopicRuleDestinationRecord) -> Value {
    let mut body = json!({
        "arn": record.arn,
        "status": record.status,
        "createdAt": record.created.as_epoch_seconds(),
        "lastUpdatedAt": record.updated.as_epoch_seconds(),
        "httpUrlProperties": {"confirmationUrl": record.confirmation_url},
    });
    if let Some(reason) = &record.status_reason {
        body["statusReason"] = Value::from(reason.as_str());
    }
    body
}

/// botocore `TopicRuleDestinationSummary`.
fn summary_json(record: &TopicRuleDestinationRecord) -> Value {
    let mut body = json!({
        "arn": record.arn,
        "status": record.status,
        "createdAt": record.created.as_epoch_seconds(),
        "lastUpdatedAt": record.updated.as_epoch_seconds(),
        "httpUrlSummary": {"confirmationUrl": record.confirmation_url},
    });
    if let Some(reason) = &record.status_reason {
        body["statusReason"] = Value::from(reason.as_str());
    }
    body
}

/// What AWS answers for a destination that does not exist.
fn access_denied(arn: &str) -> ApiError {
    ApiError::unauthorized(format!("Access to TopicRuleDestination '{arn}' was denied"))
}

fn conflicting(arn: &str) -> ApiError {
    ApiError::conflicting_update(format!(
        "The topic rule destination {arn} was changed by another request; try again"
    ))
}

/// A fresh confirmation token: 256 random bits (two v4 UUIDs' worth), hex.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// What [`create_destination`] did.
#[derive(Debug)]
pub(crate) enum NewDestination {
    /// The destination was created; here it is as created.
    Created(TopicRuleDestinationRecord),
    /// A destination with that confirmation URL exists; here it is, unchanged.
    Exists(TopicRuleDestinationRecord),
}

/// Creates the destination of `confirmation_url` (already validated) unless one with that URL
/// exists: `ENABLED` at once under a trusted prefix, else `IN_PROGRESS` with the confirmation
/// POST under way. The shared step of CreateTopicRuleDestination and of the rules whose `http`
/// actions need a destination.
pub(crate) async fn create_destination(
    state: &ApiState,
    confirmation_url: &str,
) -> Result<NewDestination, ApiError> {
    let now = Timestamp::now();
    let trusted = state.rules.is_trusted(confirmation_url);
    let record = TopicRuleDestinationRecord {
        arn: state.partition.arn(
            ArnKind::RuleDestination,
            &format!("http/{}", uuid::Uuid::new_v4()),
        ),
        confirmation_url: confirmation_url.to_owned(),
        status: if trusted { ENABLED } else { IN_PROGRESS }.to_owned(),
        status_reason: None,
        confirmation_token: (!trusted).then(new_token),
        created: now,
        updated: now,
    };
    match state.store.insert_topic_rule_destination(&record).await? {
        Inserted::Exists(existing) => Ok(NewDestination::Exists(existing)),
        Inserted::Created => {
            state.events.topic_rule_destination_changed(&record.arn);
            if let Some(token) = &record.confirmation_token {
                spawn_confirmation(state, &record, token);
            }
            Ok(NewDestination::Created(record))
        }
    }
}

/// Sends the confirmation message from a task of its own; a failure moves the destination to
/// `ERROR` with the reason, unless it has moved on meanwhile (confirmed, or a new token).
fn spawn_confirmation(state: &ApiState, record: &TopicRuleDestinationRecord, token: &str) {
    let state = state.clone();
    let record = record.clone();
    let token = token.to_owned();
    tokio::spawn(async move {
        let enable_url = enable_url(&state.rules, &token);
        let Err(reason) = post_confirmation(&state.rules, &record, &token, &enable_url).await
        else {
            tracing::debug!(message = "Sent a topic rule destination confirmation.", arn = %record.arn);
            return;
        };
        tracing::info!(
            message = "A topic rule destination confirmation could not be delivered.",
            arn = %record.arn,
            reason = %reason
        );
        let failed = TopicRuleDestinationRecord {
            status: ERROR.to_owned(),
            status_reason: Some(reason),
            updated: Timestamp::now(),
            ..record.clone()
        };
        // Only the confirmation this task sent: a newer one (or a confirmation) wins.
        match state
            .store
            .update_topic_rule_destination(&failed, IN_PROGRESS, Some(&token))
            .await
        {
            Ok(true) => state.events.topic_rule_destination_changed(&record.arn),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(message = "Could not record a failed destination confirmation.", %error);
            }
        }
    });
}

/// `{api_url}/confirmdestination/{token}`.
fn enable_url(config: &RulesApiConfig, token: &str) -> String {
    let base = if config.api_url.is_empty() {
        "http://localhost"
    } else {
        config.api_url.trim_end_matches('/')
    };
    format!("{base}/confirmdestination/{token}")
}

/// `{confirmationUrl}/?confirmationToken={token}`, as AWS builds it.
fn confirmation_request_url(confirmation_url: &str, token: &str) -> String {
    if confirmation_url.contains('?') {
        format!("{confirmation_url}&confirmationToken={token}")
    } else if confirmation_url.ends_with('/') {
        format!("{confirmation_url}?confirmationToken={token}")
    } else {
        format!("{confirmation_url}/?confirmationToken={token}")
    }
}

/// POSTs AWS's confirmation message; `Err` says why it did not get a 2xx answer.
async fn post_confirmation(
    config: &RulesApiConfig,
    record: &TopicRuleDestinationRecord,
    token: &str,
    enable_url: &str,
) -> Result<(), String> {
    let client = http_client(config)?;
    let body = json!({
        "arn": record.arn,
        "confirmationToken": token,
        "enableUrl": enable_url,
        "messageType": "DestinationConfirmation",
    });
    let request = http::Request::post(confirmation_request_url(&record.confirmation_url, token))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-amz-rules-engine-message-type", "DestinationConfirmation")
        .header("x-amz-rules-engine-destination-arn", record.arn.as_str())
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|error| format!("The confirmation URL is not usable: {error}"))?;
    let timeout = config
        .confirmation_timeout
        .unwrap_or(DEFAULT_CONFIRMATION_TIMEOUT);
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|error| format!("The confirmation request failed: {}", describe(&error)))?;
        let status = response.status();
        // Read what the receiver sends, within bounds, so the exchange ends cleanly.
        let _ = Limited::new(response.into_body(), MAX_CONFIRMATION_RESPONSE)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "The confirmation URL answered the confirmation request with HTTP {status}"
            ))
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "The confirmation request timed out after {timeout:?}"
            ))
        })
}

/// The error with its causes, for a status reason.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

type ConfirmationClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTP client for one confirmation: rustls on aws-lc-rs for `https://` (the configured
/// roots, else the webpki roots), plain HTTP for `http://`. Destinations are created rarely, so
/// no pool is kept between them.
fn http_client(config: &RulesApiConfig) -> Result<ConfirmationClient, String> {
    let tls = match &config.tls {
        Some(tls) => tls.as_ref().clone(),
        None => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|error| format!("TLS is not available: {error}"))?
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
    };
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(DEFAULT_CONFIRMATION_TIMEOUT));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// `POST /destinations`.
pub(crate) async fn create_topic_rule_destination(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<CreateDestinationRequest>,
) -> Result<Json<Value>, ApiError> {
    let configuration = request
        .destination_configuration
        .ok_or_else(|| missing("destinationConfiguration"))?;
    if configuration.vpc_configuration.is_some() {
        return Err(ApiError::invalid_request(
            "VPC topic rule destinations are not supported by thingd; use httpUrlConfiguration",
        ));
    }
    let url = configuration
        .http_url_configuration
        .ok_or_else(|| missing("destinationConfiguration.httpUrlConfiguration"))?
        .confirmation_url
        .ok_or_else(|| missing("destinationConfiguration.httpUrlConfiguration.confirmationUrl"))?;
    thingd_rules::validate_destination_url(&url)
        .map_err(|error| ApiError::invalid_request(error.message()))?;
    match create_destination(&state, &url).await? {
        NewDestination::Created(created) => Ok(Json(
            json!({ "topicRuleDestination": destination_json(&created) }),
        )),
        NewDestination::Exists(existing) => Err(ApiError::already_exists(
            format!("A topic rule destination with the confirmation URL {url} already exists"),
            &existing.arn,
            &existing.arn,
        )),
    }
}

/// `GET /destinations/{arn+}`.
pub(crate) async fn get_topic_rule_destination(
    State(state): State<ApiState>,
    AwsPath(arn): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    let destination = state
        .store
        .topic_rule_destination(&arn)
        .await?
        .ok_or_else(|| access_denied(&arn))?;
    Ok(Json(
        json!({ "topicRuleDestination": destination_json(&destination) }),
    ))
}

/// `GET /destinations?maxResults&nextToken`, in ARN order.
pub(crate) async fn list_topic_rule_destinations(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListDestinationsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_size("maxResults", query.max_results.as_deref(), 1000, 1000)?;
    if query
        .next_token
        .as_ref()
        .is_some_and(|token| token.len() > MAX_NEXT_TOKEN_CHARS)
    {
        return Err(ApiError::invalid_request("The nextToken is not valid"));
    }
    let page = state
        .store
        .topic_rule_destinations(&PageRequest::ascending(query.next_token, limit))
        .await?;
    let summaries: Vec<Value> = page.items.iter().map(summary_json).collect();
    Ok(Json(with_next_token(
        json!({ "destinationSummaries": summaries }),
        page.next,
    )))
}

/// `PATCH /destinations` `{arn, status}`: ENABLED ⇄ DISABLED once confirmed; IN_PROGRESS sends
/// a new confirmation (from any status); ERROR and DELETING are not set by clients.
pub(crate) async fn update_topic_rule_destination(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<UpdateDestinationRequest>,
) -> Result<Json<Value>, ApiError> {
    let arn = request.arn.ok_or_else(|| missing("arn"))?;
    let status = request.status.ok_or_else(|| missing("status"))?;
    if ![ENABLED, IN_PROGRESS, DISABLED, ERROR, DELETING].contains(&status.as_str()) {
        return Err(not_in_enum("status", &status, STATUSES));
    }
    let current = state
        .store
        .topic_rule_destination(&arn)
        .await?
        .ok_or_else(|| access_denied(&arn))?;
    let now = Timestamp::now();
    let next = match status.as_str() {
        // Already there: nothing changes (a client following AWS's guide sets ENABLED after
        // confirming, which thingd's confirmation has done already).
        wanted if wanted == current.status && wanted != IN_PROGRESS => {
            return Ok(Json(json!({})));
        }
        ENABLED | DISABLED => {
            let from = if status == ENABLED { DISABLED } else { ENABLED };
            if current.status != from {
                return Err(ApiError::invalid_request(format!(
                    "A topic rule destination can be set to {status} only from {from}; \
                     {arn} is {}",
                    current.status
                )));
            }
            TopicRuleDestinationRecord {
                status: status.clone(),
                status_reason: None,
                confirmation_token: None,
                updated: now,
                ..current.clone()
            }
        }
        IN_PROGRESS if state.rules.is_trusted(&current.confirmation_url) => {
            TopicRuleDestinationRecord {
                status: ENABLED.to_owned(),
                status_reason: None,
                confirmation_token: None,
                updated: now,
                ..current.clone()
            }
        }
        IN_PROGRESS => TopicRuleDestinationRecord {
            status: IN_PROGRESS.to_owned(),
            status_reason: None,
            confirmation_token: Some(new_token()),
            updated: now,
            ..current.clone()
        },
        _ => {
            return Err(ApiError::invalid_request(format!(
                "A topic rule destination's status cannot be set to {status}"
            )));
        }
    };
    let updated = state
        .store
        .update_topic_rule_destination(&next, &current.status, None)
        .await?;
    if !updated {
        return Err(conflicting(&arn));
    }
    state.events.topic_rule_destination_changed(&arn);
    if let Some(token) = &next.confirmation_token {
        spawn_confirmation(&state, &next, token);
    }
    Ok(Json(json!({})))
}

/// `DELETE /destinations/{arn+}`.
pub(crate) async fn delete_topic_rule_destination(
    State(state): State<ApiState>,
    AwsPath(arn): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    if !state.store.delete_topic_rule_destination(&arn).await? {
        return Err(access_denied(&arn));
    }
    state.events.topic_rule_destination_changed(&arn);
    Ok(Json(json!({})))
}

/// `GET /confirmdestination/{confirmationToken+}`: the destination whose confirmation holds
/// this token becomes ENABLED.
pub(crate) async fn confirm_topic_rule_destination(
    State(state): State<ApiState>,
    AwsPath(token): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
        return Err(ApiError::invalid_request(format!(
            "1 validation error detected: Value at 'confirmationToken' failed to satisfy \
             constraint: Member must have length between 1 and {MAX_TOKEN_CHARS}"
        )));
    }
    let invalid = || ApiError::invalid_request("The confirmation token is not valid");
    let destination = state
        .store
        .topic_rule_destination_by_token(&token)
        .await?
        .ok_or_else(invalid)?;
    let confirmed = TopicRuleDestinationRecord {
        status: ENABLED.to_owned(),
        status_reason: None,
        confirmation_token: None,
        updated: Timestamp::now(),
        ..destination.clone()
    };
    // Confirmable while the token is outstanding: IN_PROGRESS, or ERROR when the POST failed
    // but its message reached the owner anyway.
    let updated = state
        .store
        .update_topic_rule_destination(&confirmed, &destination.status, Some(&token))
        .await?;
    if !updated {
        return Err(conflicting(&destination.arn));
    }
    tracing::info!(message = "Confirmed a topic rule destination.", arn = %destination.arn);
    state
        .events
        .topic_rule_destination_changed(&destination.arn);
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_urls_are_built_as_aws_builds_them() {
        assert_eq!(
            confirmation_request_url("https://h.example/hook", "t1"),
            "https://h.example/hook/?confirmationToken=t1"
        );
        assert_eq!(
            confirmation_request_url("https://h.example/", "t1"),
            "https://h.example/?confirmationToken=t1"
        );
        assert_eq!(
            confirmation_request_url("https://h.example/a?x=1", "t1"),
            "https://h.example/a?x=1&confirmationToken=t1"
        );
    }

    #[test]
    fn enable_urls_point_at_the_api() {
        let mut config = RulesApiConfig::default();
        assert_eq!(
            enable_url(&config, "abc"),
            "http://localhost/confirmdestination/abc"
        );
        config.api_url = "http://thingd.example:8080/".into();
        assert_eq!(
            enable_url(&config, "abc"),
            "http://thingd.example:8080/confirmdestination/abc"
        );
    }

    #[test]
    fn tokens_are_long_and_fresh() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
