//! Topic rules: CreateTopicRule, GetTopicRule, ListTopicRules, ReplaceTopicRule,
//! DeleteTopicRule, EnableTopicRule and DisableTopicRule (reference §5.1).
//!
//! The request body of Create and Replace is the `TopicRulePayload` itself. It is checked by
//! `thingd_rules` (shape, supported action types, SQL in its version, every field) and stored as
//! thingd re-serializes it, so GetTopicRule gives back what was created in AWS's shape. Bad SQL
//! is a `SqlParseException` with the line and column; everything else an
//! `InvalidRequestException` naming the field. A missing rule is an `UnauthorizedException`
//! ("Access to topic rule ... was denied"): the service model lists no
//! ResourceNotFoundException for these operations, and that is what AWS answers.
//!
//! An `http` action needs a topic rule destination whose confirmation URL is a prefix of its
//! URL. As in AWS, a rule whose `http` action has none gets one: the destination of its
//! `confirmationUrl` (or of its `url`) is created `IN_PROGRESS` and its confirmation sent (or
//! `ENABLED` at once under a trusted prefix); the action delivers once it is confirmed.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use thingd_registry::{ArnKind, Inserted, PageRequest, Timestamp, TopicRuleRecord};
use thingd_rules::{Action, RuleError, TopicRulePayload};

use crate::destinations::{ENABLED, IN_PROGRESS, create_destination};
use crate::error::ApiError;
use crate::extract::{AwsPath, AwsQuery, MAX_BODY, missing, page_size, parse_bool};
use crate::paging::with_next_token;
use crate::state::ApiState;
use crate::tags::{TagDto, remove_all_tags, store_tags, tags_for_create};

/// The most rules one ListTopicRules page holds (botocore `TopicRuleMaxResults`).
const MAX_LIST_RESULTS: usize = 10_000;
/// The page ListTopicRules gives without `maxResults`.
const DEFAULT_LIST_RESULTS: usize = 1000;
/// How many rules are read from the store at a time while filtering a list.
const STORE_PAGE: usize = 1000;
/// The longest `nextToken` accepted: a rule name.
const MAX_NEXT_TOKEN_CHARS: usize = thingd_rules::MAX_RULE_NAME_CHARS;
/// The longest `x-amz-tagging` header accepted.
const MAX_TAGGING_HEADER: usize = 16 * 1024;

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/rules", get(list_topic_rules))
        .route(
            "/rules/{ruleName}",
            get(get_topic_rule)
                .post(create_topic_rule)
                .patch(replace_topic_rule)
                .delete(delete_topic_rule),
        )
        .route("/rules/{ruleName}/enable", post(enable_topic_rule))
        .route("/rules/{ruleName}/disable", post(disable_topic_rule))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTopicRulesQuery {
    topic: Option<String>,
    max_results: Option<String>,
    next_token: Option<String>,
    rule_disabled: Option<String>,
}

impl From<RuleError> for ApiError {
    fn from(error: RuleError) -> ApiError {
        match error {
            RuleError::SqlParse { message } => ApiError::sql_parse(message),
            RuleError::InvalidRequest { message } => ApiError::invalid_request(message),
        }
    }
}

/// What AWS answers for a rule that does not exist.
fn access_denied(name: &str) -> ApiError {
    ApiError::unauthorized(format!("Access to topic rule '{name}' was denied"))
}

/// Reads and checks the payload of Create or Replace: the raw body, bounded.
async fn checked_payload(name: &str, request: Request) -> Result<TopicRulePayload, ApiError> {
    thingd_rules::validate_rule_name(name)?;
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(missing("topicRulePayload"));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::invalid_request("The topic rule payload is not UTF-8"))?;
    let payload = TopicRulePayload::from_json(text)?;
    thingd_rules::validate(name, &payload)?;
    Ok(payload)
}

/// The tags of CreateTopicRule's `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded).
fn tags_from_header(headers: &HeaderMap) -> Result<Vec<thingd_registry::Tag>, ApiError> {
    let Some(value) = headers.get("x-amz-tagging") else {
        return Ok(Vec::new());
    };
    let text = value
        .to_str()
        .ok()
        .filter(|text| text.len() <= MAX_TAGGING_HEADER)
        .ok_or_else(|| ApiError::invalid_request("The x-amz-tagging header is not valid"))?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).map_err(|error| {
        ApiError::invalid_request(format!("The x-amz-tagging header is not valid: {error}"))
    })?;
    let tags: Vec<TagDto> = pairs
        .into_iter()
        .map(|(key, value)| TagDto::new(key, value))
        .collect();
    tags_for_create(Some(&tags))
}

/// The `http` actions of a payload, the error action's included.
fn http_actions(payload: &TopicRulePayload) -> impl Iterator<Item = &thingd_rules::HttpAction> {
    payload
        .actions
        .iter()
        .chain(payload.error_action.as_ref())
        .filter_map(|action| match action {
            Action::Http(http) => Some(http),
            _ => None,
        })
}

/// Creates the destinations a rule's `http` actions lack, as AWS does ("If this is a new
/// destination, a new TopicRuleDestination is created if possible"): one per confirmation URL
/// that no usable (ENABLED or IN_PROGRESS) destination covers and no destination has exactly.
/// A confirmation URL with templates cannot name one destination; the owner creates those.
async fn ensure_destinations(state: &ApiState, payload: &TopicRulePayload) -> Result<(), ApiError> {
    let wanted: Vec<&str> = http_actions(payload)
        .map(thingd_rules::HttpAction::destination_url)
        .filter(|url| !url.contains("${"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let existing = state.store.all_topic_rule_destinations().await?;
    let mut created: Vec<&str> = Vec::new();
    for url in wanted {
        let covered = existing.iter().any(|destination| {
            destination.confirmation_url == url
                || ((destination.status == ENABLED || destination.status == IN_PROGRESS)
                    && url.starts_with(destination.confirmation_url.as_str()))
        }) || created.iter().any(|done| url.starts_with(done));
        if covered {
            continue;
        }
        thingd_rules::validate_destination_url(url)?;
        create_destination(state, url).await?;
        created.push(url);
    }
    Ok(())
}

/// `POST /rules/{ruleName}`: the body is the `TopicRulePayload`; tags in `x-amz-tagging`.
pub(crate) async fn create_topic_rule(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    headers: HeaderMap,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let payload = checked_payload(&name, request).await?;
    let tags = tags_from_header(&headers)?;
    let record = TopicRuleRecord {
        name: name.clone(),
        payload: payload.to_json(),
        disabled: payload.is_disabled(),
        created: Timestamp::now(),
    };
    let arn = state.partition.arn(ArnKind::Rule, &name);
    if let Inserted::Exists(_) = state.store.insert_topic_rule(&record).await? {
        return Err(ApiError::already_exists(
            format!("Rule {name} already exists"),
            &name,
            &arn,
        ));
    }
    store_tags(&state, &arn, &tags).await?;
    state.events.topic_rule_changed(&name);
    ensure_destinations(&state, &payload).await?;
    Ok(Json(json!({})))
}

/// `GET /rules/{ruleName}`: `{ruleArn, rule: TopicRule}`.
pub(crate) async fn get_topic_rule(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    thingd_rules::validate_rule_name(&name)?;
    let record = state
        .store
        .topic_rule(&name)
        .await?
        .ok_or_else(|| access_denied(&name))?;
    let payload = stored_payload(&record)?;
    let mut rule = json!({
        "ruleName": record.name,
        "sql": payload.sql,
        "createdAt": record.created.as_epoch_seconds(),
        "actions": payload.actions,
        "ruleDisabled": record.disabled,
        "awsIotSqlVersion": payload.sql_version_name(),
    });
    if let Some(description) = &payload.description {
        rule["description"] = Value::from(description.as_str());
    }
    if let Some(action) = &payload.error_action {
        rule["errorAction"] = serde_json::to_value(action).map_err(|e| ApiError::internal(&e))?;
    }
    Ok(Json(json!({
        "ruleArn": state.partition.arn(ArnKind::Rule, &record.name),
        "rule": rule,
    })))
}

/// A stored rule's payload; one that no longer parses is an internal error.
fn stored_payload(record: &TopicRuleRecord) -> Result<TopicRulePayload, ApiError> {
    TopicRulePayload::from_json(&record.payload).map_err(|error| {
        ApiError::internal(&format!(
            "the stored payload of rule {} does not parse: {error}",
            record.name
        ))
    })
}

/// One `TopicRuleListItem`; `topic` is the FROM filter (`topicPattern`) when the SQL has one.
fn list_item(state: &ApiState, record: &TopicRuleRecord, topic: Option<&str>) -> Value {
    let mut item = json!({
        "ruleArn": state.partition.arn(ArnKind::Rule, &record.name),
        "ruleName": record.name,
        "createdAt": record.created.as_epoch_seconds(),
        "ruleDisabled": record.disabled,
    });
    if let Some(topic) = topic {
        item["topicPattern"] = Value::from(topic);
    }
    item
}

/// The FROM filter of a stored rule, if its SQL has one.
fn topic_pattern(record: &TopicRuleRecord) -> Option<String> {
    let payload = TopicRulePayload::from_json(&record.payload).ok()?;
    let statement = payload.statement().ok()?;
    statement.topic_filter().map(str::to_owned)
}

/// `GET /rules?topic&maxResults&nextToken&ruleDisabled`, in name order. `topic` keeps the
/// rules whose FROM filter is exactly that text; `ruleDisabled` those in that state.
pub(crate) async fn list_topic_rules(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListTopicRulesQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_size(
        "maxResults",
        query.max_results.as_deref(),
        MAX_LIST_RESULTS,
        DEFAULT_LIST_RESULTS,
    )?;
    let disabled = parse_bool("ruleDisabled", query.rule_disabled.as_deref())?;
    if query
        .next_token
        .as_ref()
        .is_some_and(|token| token.len() > MAX_NEXT_TOKEN_CHARS)
    {
        return Err(ApiError::invalid_request("The nextToken is not valid"));
    }
    let mut items = Vec::new();
    let mut after = query.next_token;
    let mut next = None;
    // Filters apply after the store's paging, so read store pages until the answer's page is
    // full or the rules run out; the token is the name of the last rule answered.
    'pages: loop {
        let page = state
            .store
            .topic_rules(&PageRequest::ascending(after.clone(), STORE_PAGE))
            .await?;
        let last_page = page.next.is_none();
        for record in &page.items {
            after = Some(record.name.clone());
            if disabled.is_some_and(|wanted| wanted != record.disabled) {
                continue;
            }
            let pattern = topic_pattern(record);
            if let Some(topic) = &query.topic
                && pattern.as_deref() != Some(topic.as_str())
            {
                continue;
            }
            if items.len() == limit {
                // One more match exists: the answer gets a token (the last name answered).
                next = items
                    .last()
                    .and_then(|item: &Value| item["ruleName"].as_str().map(str::to_owned));
                break 'pages;
            }
            items.push(list_item(&state, record, pattern.as_deref()));
        }
        if last_page {
            break;
        }
    }
    Ok(Json(with_next_token(json!({ "rules": items }), next)))
}

/// `PATCH /rules/{ruleName}`: the body is the new `TopicRulePayload`; the creation time and
/// tags stay, `ruleDisabled` is the new payload's.
pub(crate) async fn replace_topic_rule(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let payload = checked_payload(&name, request).await?;
    let replaced = state
        .store
        .replace_topic_rule(&name, &payload.to_json(), payload.is_disabled())
        .await?;
    if !replaced {
        return Err(access_denied(&name));
    }
    state.events.topic_rule_changed(&name);
    ensure_destinations(&state, &payload).await?;
    Ok(Json(json!({})))
}

/// `DELETE /rules/{ruleName}`, with its tags.
pub(crate) async fn delete_topic_rule(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    thingd_rules::validate_rule_name(&name)?;
    if !state.store.delete_topic_rule(&name).await? {
        return Err(access_denied(&name));
    }
    remove_all_tags(&state, &state.partition.arn(ArnKind::Rule, &name)).await?;
    state.events.topic_rule_changed(&name);
    Ok(Json(json!({})))
}

/// `POST /rules/{ruleName}/enable`.
pub(crate) async fn enable_topic_rule(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&state, &name, false).await
}

/// `POST /rules/{ruleName}/disable`.
pub(crate) async fn disable_topic_rule(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&state, &name, true).await
}

async fn set_disabled(
    state: &ApiState,
    name: &str,
    disabled: bool,
) -> Result<Json<Value>, ApiError> {
    thingd_rules::validate_rule_name(name)?;
    if !state.store.set_topic_rule_disabled(name, disabled).await? {
        return Err(access_denied(name));
    }
    state.events.topic_rule_changed(name);
    Ok(Json(json!({})))
}
