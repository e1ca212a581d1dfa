//! Tags: TagResource, UntagResource, ListTagsForResource, and the helpers the Create* and
//! Delete* operations of taggable resources share (checking a `tags` list, storing it, and
//! removing a deleted resource's tags).
//!
//! Which resources take tags follows the service model: the resources whose Create* operation
//! has a `tags` member. Of thingd's resources those are thing types, thing groups, CA
//! certificates, policies and rules; things and device certificates are not taggable in AWS IoT
//! (CreateThing, CreateKeysAndCertificate and RegisterCertificate take no tags), so their ARNs
//! are refused.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingd_registry::{Arn, ArnKind, MAX_TAGS, PageRequest, TAG_KEY, TAG_VALUE, Tag};

use crate::error::ApiError;
use crate::extract::{AwsJson, AwsQuery, missing};
use crate::paging::all_items;
use crate::state::ApiState;

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/tags", get(list_tags_for_resource).post(tag_resource))
        .route("/untag", post(untag_resource))
}

/// One element of a `tags` list (`TagList`); the only PascalCase members of the model.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagDto {
    key: String,
    /// Optional in the model; an absent value is stored as the empty string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

impl TagDto {
    /// A tag from its key and value (as the `x-amz-tagging` header gives them).
    pub(crate) fn new(key: String, value: String) -> TagDto {
        TagDto {
            key,
            value: Some(value),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagResourceRequest {
    resource_arn: Option<String>,
    tags: Option<Vec<TagDto>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagResourceRequest {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTagsQuery {
    resource_arn: Option<String>,
    next_token: Option<String>,
}

/// `{"tags": [{"Key", "Value"}], "nextToken"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTagsResponse {
    tags: Vec<TagDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListTagsForResource has no `maxResults`; a resource holds at most [`MAX_TAGS`] tags, so one
/// page normally holds them all.
const TAGS_PAGE: usize = MAX_TAGS;

/// AWS reserves the `aws:` prefix for its own tags: users may not set or remove them.
fn check_not_reserved(key: &str) -> Result<(), ApiError> {
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(ApiError::invalid_request(format!(
            "Tag keys starting with 'aws:' are reserved for AWS use: {key}"
        )));
    }
    Ok(())
}

/// Checks a `tags` list against the model's constraints, and turns it into tags by key (a key
/// given twice keeps its last value, as two TagResource calls would).
pub(crate) fn checked_tags(tags: &[TagDto]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut checked = BTreeMap::new();
    for tag in tags {
        TAG_KEY.check_as("tags.member.Key", &tag.key)?;
        check_not_reserved(&tag.key)?;
        let value = tag.value.clone().unwrap_or_default();
        TAG_VALUE.check_as("tags.member.Value", &value)?;
        checked.insert(tag.key.clone(), value);
    }
    Ok(checked)
}

fn to_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect()
}

/// The `tags` of a Create* request, checked: at most [`MAX_TAGS`] (those operations model no
/// LimitExceededException, so too many is an invalid request there).
pub(crate) fn tags_for_create(tags: Option<&[TagDto]>) -> Result<Vec<Tag>, ApiError> {
    let checked = checked_tags(tags.unwrap_or_default())?;
    if checked.len() > MAX_TAGS {
        return Err(ApiError::invalid_request(format!(
            "A resource can have at most {MAX_TAGS} tags; the request has {}.",
            checked.len()
        )));
    }
    Ok(to_tags(checked))
}

/// Stores the tags of a resource just created.
pub(crate) async fn store_tags(state: &ApiState, arn: &str, tags: &[Tag]) -> Result<(), ApiError> {
    if !tags.is_empty() {
        state.store.tag_resource(arn, tags).await?;
    }
    Ok(())
}

/// Every tag of a resource, in key order.
async fn all_tags(state: &ApiState, arn: &str) -> Result<Vec<Tag>, ApiError> {
    all_items(
        1000,
        |page| async move { state.store.tags_of(arn, &page).await },
    )
    .await
}

/// Removes every tag of a deleted resource: tags are kept by ARN, so a resource created later
/// with the same name must not inherit them.
pub(crate) async fn remove_all_tags(state: &ApiState, arn: &str) -> Result<(), ApiError> {
    let keys: Vec<String> = all_tags(state, arn)
        .await?
        .into_iter()
        .map(|tag| tag.key)
        .collect();
    if !keys.is_empty() {
        state.store.untag_resource(arn, &keys).await?;
    }
    Ok(())
}

/// The resource an ARN names, if it is taggable and exists.
async fn taggable_resource(state: &ApiState, text: &str) -> Result<Arn, ApiError> {
    let arn = Arn::parse(text).ok_or_else(|| {
        ApiError::invalid_request(format!("{text} is not a valid AWS IoT resource ARN."))
    })?;
    let not_found = || ApiError::not_found(format!("The resource {text} does not exist."));
    if !arn.is_in(&state.partition) {
        return Err(not_found());
    }
    let exists = match arn.kind {
        ArnKind::Thing | ArnKind::Certificate => {
            return Err(ApiError::invalid_request(format!(
                "The resource {text} does not support tags."
            )));
        }
        ArnKind::ThingType => state.store.thing_type(&arn.name).await?.is_some(),
        ArnKind::ThingGroup => state.store.thing_group(&arn.name).await?.is_some(),
        ArnKind::CaCertificate => state.store.ca_certificate(&arn.name).await?.is_some(),
        ArnKind::Policy => state.store.policy(&arn.name).await?.is_some(),
        ArnKind::Rule => state.store.topic_rule(&arn.name).await?.is_some(),
        // CreateTopicRuleDestination takes no tags.
        ArnKind::RuleDestination => {
            return Err(ApiError::invalid_request(format!(
                "The resource {text} does not support tags."
            )));
        }
    };
    if exists { Ok(arn) } else { Err(not_found()) }
}

/// `POST /tags`: adds tags to a resource or changes their values; a resource holds at most
/// [`MAX_TAGS`] tags (`LimitExceededException`).
pub(crate) async fn tag_resource(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<TagResourceRequest>,
) -> Result<Json<Value>, ApiError> {
    let text = request.resource_arn.ok_or_else(|| missing("resourceArn"))?;
    let tags = request.tags.ok_or_else(|| missing("tags"))?;
    let tags = checked_tags(&tags)?;
    let arn = taggable_resource(&state, &text).await?;
    let arn = arn.to_string();
    let existing = all_tags(&state, &arn).await?;
    let added = tags
        .keys()
        .filter(|key| !existing.iter().any(|tag| &tag.key == *key))
        .count();
    if existing.len() + added > MAX_TAGS {
        return Err(ApiError::limit_exceeded(format!(
            "A resource can have at most {MAX_TAGS} tags; {text} would have {}.",
            existing.len() + added
        )));
    }
    store_tags(&state, &arn, &to_tags(tags)).await?;
    Ok(Json(json!({})))
}

/// `POST /untag`: removes tags by key; keys the resource does not have are ignored.
pub(crate) async fn untag_resource(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<UntagResourceRequest>,
) -> Result<Json<Value>, ApiError> {
    let text = request.resource_arn.ok_or_else(|| missing("resourceArn"))?;
    let keys = request.tag_keys.ok_or_else(|| missing("tagKeys"))?;
    for key in &keys {
        TAG_KEY.check_as("tagKeys.member", key)?;
        check_not_reserved(key)?;
    }
    let arn = taggable_resource(&state, &text).await?;
    if !keys.is_empty() {
        state.store.untag_resource(&arn.to_string(), &keys).await?;
    }
    Ok(Json(json!({})))
}

/// `GET /tags?resourceArn=`: the tags of a resource, in key order.
pub(crate) async fn list_tags_for_resource(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListTagsQuery>,
) -> Result<Json<ListTagsResponse>, ApiError> {
    let text = query.resource_arn.ok_or_else(|| missing("resourceArn"))?;
    let arn = taggable_resource(&state, &text).await?;
    let page = state
        .store
        .tags_of(
            &arn.to_string(),
            &PageRequest::ascending(query.next_token, TAGS_PAGE),
        )
        .await?;
    Ok(Json(ListTagsResponse {
        tags: page
            .items
            .into_iter()
            .map(|tag| TagDto {
                key: tag.key,
                value: Some(tag.value),
            })
            .collect(),
        next_token: page.next,
    }))
}
