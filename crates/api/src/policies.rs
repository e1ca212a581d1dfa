//! AWS IoT policies (AWS IoT §4): CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, the
//! version operations (CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
//! SetDefaultPolicyVersion, DeletePolicyVersion), attachment (AttachPolicy, DetachPolicy,
//! ListAttachedPolicies, ListTargetsForPolicy and the deprecated AttachPrincipalPolicy,
//! DetachPrincipalPolicy, ListPrincipalPolicies, ListPolicyPrincipals), and the two questions
//! about devices, GetEffectivePolicies and TestAuthorization.
//!
//! A policy's targets are certificate ARNs and thing-group ARNs of this partition (thingd has
//! no Amazon Cognito identities), kept in canonical form (a certificate id in lowercase). A
//! policy has at most [`MAX_VERSIONS`] versions and a target at most
//! [`MAX_POLICIES_PER_TARGET`] policies; the store enforces both atomically.
//!
//! GetEffectivePolicies and TestAuthorization resolve the device with
//! [`crate::authorization::resolve`] and decide with [`thingd_policy::evaluate`], which is
//! what the broker does for a connection, so their answers are the broker's decisions.
//!
//! Every change that alters what a connected device may do is announced, once durable, with
//! [`RegistryEvents::authorization_changed`](crate::RegistryEvents::authorization_changed).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use thingd_policy::{Action, Decision, NamedPolicyRef, PolicyDocument};
use thingd_registry::{
    Arn, ArnKind, AttachedPolicy, CERTIFICATE_ID, Constraint, DeletedPolicy, DeletedPolicyVersion,
    Inserted, NewPolicyVersion, Page, PageRequest, Policy, StoreError, THING_GROUP_NAME,
    THING_NAME, Timestamp,
};

use crate::authorization::{Requester, resolve};
use crate::certificates::{decode_marker, encode_marker};
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery, missing, not_in_enum, page_size, parse_bool};
use crate::state::{ApiState, AuthorizationChange};
use crate::tags::{TagDto, remove_all_tags, store_tags, tags_for_create};

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/policies", get(list_policies))
        .route(
            "/policies/{policyName}",
            get(get_policy).post(create_policy).delete(delete_policy),
        )
        .route(
            "/policies/{policyName}/version",
            get(list_policy_versions).post(create_policy_version),
        )
        .route(
            "/policies/{policyName}/version/{policyVersionId}",
            get(get_policy_version)
                .patch(set_default_policy_version)
                .delete(delete_policy_version),
        )
        .route(
            "/target-policies/{policyName}",
            put(attach_policy).post(detach_policy),
        )
        // The target is one percent-encoded label in the model; a greedy route also takes
        // the ARN's `/` unencoded, as some hand-written clients send it.
        .route("/attached-policies/{*target}", post(list_attached_policies))
        .route(
            "/policy-targets/{policyName}",
            post(list_targets_for_policy),
        )
        .route("/principal-policies", get(list_principal_policies))
        .route(
            "/principal-policies/{policyName}",
            put(attach_principal_policy).delete(detach_principal_policy),
        )
        .route("/policy-principals", get(list_policy_principals))
        .route("/effective-policies", post(get_effective_policies))
        .route("/test-authorization", post(test_authorization))
}

/// The most versions a policy may have (AWS IoT: 5).
pub const MAX_VERSIONS: usize = 5;
/// The most policies one target may have attached (AWS IoT: 10).
pub const MAX_POLICIES_PER_TARGET: usize = 10;
/// The default page size of the policy lists.
const DEFAULT_PAGE_SIZE: usize = 25;
/// The largest page size they accept.
const MAX_PAGE_SIZE: usize = 250;
/// The most `authInfos` of one TestAuthorization (the model's bounds).
const MAX_AUTH_INFOS: usize = 10;

/// The header of the deprecated principal-policy operations that carries the principal.
const PRINCIPAL_HEADER: &str = "x-amzn-iot-principal";
/// The header of ListPolicyPrincipals that carries the policy name.
const POLICY_HEADER: &str = "x-amzn-iot-policy";

/// `policyName`: 1 to 128 of `[\w+=,.@-]` (`\w` being `[A-Za-z0-9_]`, as in the model's Java
/// regular expressions).
pub const POLICY_NAME: Constraint = Constraint {
    field: "policyName",
    min: 1,
    max: 128,
    allowed: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-'),
    pattern: "[\\w+=,.@-]+",
};

/// `policyDocument`: the model's bound (the 2048-character quota on the document without
/// whitespace is the policy crate's to check, with the rest of the document's rules).
const POLICY_DOCUMENT: Constraint = Constraint {
    field: "policyDocument",
    min: 0,
    max: 404_600,
    allowed: |_| true,
    pattern: "[\\s\\S]*",
};

/// A resource of TestAuthorization's `authInfos`.
const RESOURCE: Constraint = Constraint {
    field: "authInfos.member.resources.member",
    min: 0,
    max: 2048,
    allowed: |_| true,
    pattern: "[\\s\\S]*",
};

const ACTION_TYPES: &str = "[PUBLISH, SUBSCRIBE, RECEIVE, CONNECT]";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyRequest {
    policy_document: Option<String>,
    tags: Option<Vec<TagDto>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyVersionRequest {
    policy_document: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetAsDefaultQuery {
    set_as_default: Option<String>,
}

/// `marker`, `pageSize` and `isAscendingOrder` of the policy lists (not all take all three).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    marker: Option<String>,
    page_size: Option<String>,
    is_ascending_order: Option<String>,
    recursive: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TargetRequest {
    target: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingNameQuery {
    thing_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientIdQuery {
    client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EffectivePoliciesRequest {
    principal: Option<String>,
    cognito_identity_pool_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthInfoInput {
    action_type: Option<String>,
    resources: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestAuthorizationRequest {
    principal: Option<String>,
    cognito_identity_pool_id: Option<String>,
    auth_infos: Option<Vec<AuthInfoInput>>,
    policy_names_to_add: Option<Vec<String>>,
    policy_names_to_skip: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn policy_arn(state: &ApiState, name: &str) -> String {
    state.partition.arn(ArnKind::Policy, name)
}

fn policy_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("The policy {name} does not exist."))
}

fn version_not_found(name: &str, version: i64) -> ApiError {
    ApiError::not_found(format!("The policy {name} has no version {version}."))
}

fn announce(state: &ApiState, change: AuthorizationChange) {
    state.events.authorization_changed(&change);
}

/// A policy name from a path label or a header.
fn policy_name(field: &str, name: &str) -> Result<(), ApiError> {
    POLICY_NAME.check_as(field, name)?;
    Ok(())
}

/// The policy with this name.
async fn existing(state: &ApiState, name: &str) -> Result<Policy, ApiError> {
    state
        .store
        .policy(name)
        .await?
        .ok_or_else(|| policy_not_found(name))
}

/// A required policy document, within the model's bounds and valid as a policy: a document
/// that is not is `MalformedPolicyException` with the policy parser's message.
fn checked_document(document: Option<String>) -> Result<String, ApiError> {
    let document = document.ok_or_else(|| missing("policyDocument"))?;
    POLICY_DOCUMENT.check(&document)?;
    PolicyDocument::parse(&document).map_err(|e| ApiError::malformed_policy(e.to_string()))?;
    Ok(document)
}

/// A `policyVersionId` path label: digits.
fn version_id(text: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::invalid_request(format!(
            "1 validation error detected: Value '{text}' at 'policyVersionId' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [0-9]+"
        ))
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // Digits too many for an id cannot name a version that exists.
    text.parse::<i64>().map_err(|_| invalid())
}

/// A page request from `pageSize`, `marker` and, if the operation has it (`ordered`),
/// `isAscendingOrder` (ascending unless `isAscendingOrder=false`).
fn list_page(query: &ListQuery, ordered: bool) -> Result<PageRequest, ApiError> {
    let limit = page_size(
        "pageSize",
        query.page_size.as_deref(),
        MAX_PAGE_SIZE,
        DEFAULT_PAGE_SIZE,
    )?;
    let ascending = !ordered
        || parse_bool("isAscendingOrder", query.is_ascending_order.as_deref())?.unwrap_or(true);
    let after = match query.marker.as_deref() {
        None => None,
        Some(marker) => Some(decode_marker(marker)?),
    };
    Ok(PageRequest {
        after,
        limit,
        ascending,
    })
}

/// `{policyName, policyArn}`.
fn policy_json(state: &ApiState, name: &str) -> Value {
    json!({ "policyName": name, "policyArn": policy_arn(state, name) })
}

/// `body` with the `nextMarker` of the next page, if one follows.
fn with_next_marker(mut body: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        body["nextMarker"] = Value::from(encode_marker(&next));
    }
    body
}

/// The answer of the lists of policies by name.
fn policies_json(state: &ApiState, page: Page<String>) -> Value {
    let policies: Vec<Value> = page
        .items
        .iter()
        .map(|name| policy_json(state, name))
        .collect();
    with_next_marker(json!({ "policies": policies }), page.next)
}

/// A policy target: a certificate or thing-group ARN of this partition, in canonical form,
/// with its kind. Anything else is `InvalidRequestException` naming it.
fn parse_target(state: &ApiState, field: &str, text: &str) -> Result<(String, Arn), ApiError> {
    let invalid = || {
        ApiError::invalid_request(format!(
            "The {field} {text} is not a certificate ARN \
             (arn:aws:iot:{{region}}:{{account}}:cert/{{certificateId}}) or a thing group ARN \
             (arn:aws:iot:{{region}}:{{account}}:thinggroup/{{thingGroupName}}); thingd \
             attaches policies to nothing else."
        ))
    };
    let mut arn = Arn::parse(text)
        .filter(|arn| matches!(arn.kind, ArnKind::Certificate | ArnKind::ThingGroup))
        .ok_or_else(invalid)?;
    if !arn.is_in(&state.partition) {
        return Err(ApiError::invalid_request(format!(
            "The {field} {text} belongs to another region or account; this endpoint is region \
             {} and account {}.",
            state.partition.region, state.partition.account
        )));
    }
    let checked = if arn.kind == ArnKind::Certificate {
        CERTIFICATE_ID.check_as(field, &arn.name)
    } else {
        THING_GROUP_NAME.check_as(field, &arn.name)
    };
    checked
        .map_err(|e| ApiError::invalid_request(format!("The {field} {text} is not valid: {e}")))?;
    if arn.kind == ArnKind::Certificate {
        arn.name = arn.name.to_ascii_lowercase();
    }
    Ok((state.partition.arn(arn.kind, &arn.name), arn))
}

/// A target that must exist: `ResourceNotFoundException` if it does not.
async fn existing_target(
    state: &ApiState,
    field: &str,
    text: &str,
) -> Result<(String, Arn), ApiError> {
    let (canonical, arn) = parse_target(state, field, text)?;
    let exists = match arn.kind {
        ArnKind::Certificate => state.store.certificate(&arn.name).await?.is_some(),
        _ => state.store.thing_group(&arn.name).await?.is_some(),
    };
    if !exists {
        return Err(ApiError::not_found(format!(
            "The {field} {text} does not exist."
        )));
    }
    Ok((canonical, arn))
}

/// The principal of the deprecated principal-policy operations, from `x-amzn-iot-principal`:
/// a registered certificate's ARN, canonical.
async fn header_principal(state: &ApiState, headers: &HeaderMap) -> Result<String, ApiError> {
    let text = header_text(headers, PRINCIPAL_HEADER, "principal")?;
    let (canonical, arn) = parse_target(state, "principal", text)?;
    if arn.kind != ArnKind::Certificate {
        return Err(ApiError::invalid_request(format!(
            "The principal {text} is not a certificate ARN; thingd supports only certificate \
             principals."
        )));
    }
    if state.store.certificate(&arn.name).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "The principal {text} does not exist."
        )));
    }
    Ok(canonical)
}

/// A required header as text.
fn header_text<'h>(headers: &'h HeaderMap, header: &str, field: &str) -> Result<&'h str, ApiError> {
    headers
        .get(header)
        .ok_or_else(|| missing(field))?
        .to_str()
        .map_err(|_| ApiError::invalid_request(format!("The {header} header is not valid text.")))
}

/// Attaches `name` to `target` (canonical, existing), announcing the change.
async fn attach(state: &ApiState, name: &str, target: &str, shown: &str) -> Result<(), ApiError> {
    match state
        .store
        .attach_policy(name, target, MAX_POLICIES_PER_TARGET)
        .await?
    {
        AttachedPolicy::Attached => {
            announce(state, AuthorizationChange::Target(target.to_owned()));
            Ok(())
        }
        AttachedPolicy::AlreadyAttached => Ok(()),
        AttachedPolicy::LimitExceeded => Err(ApiError::limit_exceeded(format!(
            "The target {shown} already has the maximum number of policies attached \
             ({MAX_POLICIES_PER_TARGET}); detach one before attaching {name}."
        ))),
        AttachedPolicy::PolicyMissing => Err(policy_not_found(name)),
    }
}

/// Detaches `name` from `target` (canonical), announcing the change if there was one.
async fn detach(state: &ApiState, name: &str, target: &str) -> Result<(), ApiError> {
    if state.store.detach_policy(name, target).await? {
        announce(state, AuthorizationChange::Target(target.to_owned()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Policies and versions.

/// `POST /policies/{policyName}`: a policy whose version 1, the default, is `policyDocument`.
pub(crate) async fn create_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<CreatePolicyRequest>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let tags = tags_for_create(request.tags.as_deref())?;
    let document = checked_document(request.policy_document)?;
    let now = Timestamp::now();
    let policy = Policy {
        name: name.clone(),
        default_version_id: 1,
        created: now,
        last_modified: now,
        generation_id: uuid::Uuid::new_v4().to_string(),
    };
    let arn = policy_arn(&state, &name);
    match state.store.insert_policy(&policy, &document).await? {
        Inserted::Created => {}
        Inserted::Exists(_) => {
            return Err(ApiError::already_exists(
                format!("Policy cannot be created - name already exists (name={name})"),
                &name,
                &arn,
            ));
        }
    }
    store_tags(&state, &arn, &tags).await?;
    // Connections may be held to a policy by name before it exists (a listener's policy), so
    // its creation is announced like a new default version.
    announce(&state, AuthorizationChange::Policy(name.clone()));
    Ok(Json(json!({
        "policyName": name,
        "policyArn": arn,
        "policyDocument": document,
        "policyVersionId": "1",
    })))
}

/// `GET /policies/{policyName}`: the policy with its default version's document.
pub(crate) async fn get_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let policy = existing(&state, &name).await?;
    let version = state
        .store
        .policy_version(&name, policy.default_version_id)
        .await?
        .ok_or_else(|| {
            ApiError::internal(&format!(
                "the default version {} of policy {name} is missing",
                policy.default_version_id
            ))
        })?;
    Ok(Json(json!({
        "policyName": policy.name,
        "policyArn": policy_arn(&state, &name),
        "policyDocument": version.document,
        "defaultVersionId": policy.default_version_id.to_string(),
        "creationDate": policy.created.as_epoch_seconds(),
        "lastModifiedDate": policy.last_modified.as_epoch_seconds(),
        "generationId": policy.generation_id,
    })))
}

/// `GET /policies?marker=&pageSize=&isAscendingOrder=`: policies by name.
pub(crate) async fn list_policies(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = list_page(&query, true)?;
    let page = state.store.list_policies(&page).await?;
    let names = Page {
        items: page.items.into_iter().map(|policy| policy.name).collect(),
        next: page.next,
    };
    Ok(Json(policies_json(&state, names)))
}

/// `DELETE /policies/{policyName}`: refused while the policy is attached to any target or has
/// versions besides its default.
pub(crate) async fn delete_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    match state.store.delete_policy(&name).await? {
        DeletedPolicy::Deleted => {
            remove_all_tags(&state, &policy_arn(&state, &name)).await?;
            announce(&state, AuthorizationChange::Policy(name));
            Ok(Json(json!({})))
        }
        DeletedPolicy::Attached => Err(ApiError::delete_conflict(format!(
            "The policy cannot be deleted as the policy is attached to one or more principals \
             (name={name})"
        ))),
        DeletedPolicy::HasVersions => Err(ApiError::delete_conflict(format!(
            "Cannot delete the policy because it has one or more policy versions attached to it \
             (name={name})"
        ))),
        DeletedPolicy::Missing => Err(policy_not_found(&name)),
    }
}

/// `POST /policies/{policyName}/version?setAsDefault=`: a new version, the default if asked.
pub(crate) async fn create_policy_version(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<SetAsDefaultQuery>,
    AwsJson(request): AwsJson<CreatePolicyVersionRequest>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let set_as_default =
        parse_bool("setAsDefault", query.set_as_default.as_deref())?.unwrap_or(false);
    let document = checked_document(request.policy_document)?;
    let version = match state
        .store
        .insert_policy_version(
            &name,
            &document,
            set_as_default,
            MAX_VERSIONS,
            Timestamp::now(),
        )
        .await?
    {
        NewPolicyVersion::Created(version) => version,
        NewPolicyVersion::LimitExceeded => {
            return Err(ApiError::versions_limit_exceeded(format!(
                "The policy {name} already has the maximum number of versions \
                 ({MAX_VERSIONS}); delete a version that is not the default first."
            )));
        }
        NewPolicyVersion::PolicyMissing => return Err(policy_not_found(&name)),
    };
    if set_as_default {
        announce(&state, AuthorizationChange::Policy(name.clone()));
    }
    Ok(Json(json!({
        "policyArn": policy_arn(&state, &name),
        "policyDocument": version.document,
        "policyVersionId": version.version_id.to_string(),
        "isDefaultVersion": set_as_default,
    })))
}

/// `GET /policies/{policyName}/version/{policyVersionId}`.
pub(crate) async fn get_policy_version(
    State(state): State<ApiState>,
    AwsPath((name, version)): AwsPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let version_id = version_id(&version)?;
    let policy = existing(&state, &name).await?;
    let version = state
        .store
        .policy_version(&name, version_id)
        .await?
        .ok_or_else(|| version_not_found(&name, version_id))?;
    Ok(Json(json!({
        "policyArn": policy_arn(&state, &name),
        "policyName": policy.name,
        "policyDocument": version.document,
        "policyVersionId": version.version_id.to_string(),
        "isDefaultVersion": version.version_id == policy.default_version_id,
        "creationDate": version.created.as_epoch_seconds(),
        "lastModifiedDate": policy.last_modified.as_epoch_seconds(),
        "generationId": policy.generation_id,
    })))
}

/// `GET /policies/{policyName}/version`: every version, the newest first (as IAM lists them).
pub(crate) async fn list_policy_versions(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let policy = existing(&state, &name).await?;
    let versions: Vec<Value> = state
        .store
        .policy_versions(&name)
        .await?
        .iter()
        .rev()
        .map(|version| {
            json!({
                "versionId": version.version_id.to_string(),
                "isDefaultVersion": version.version_id == policy.default_version_id,
                "createDate": version.created.as_epoch_seconds(),
            })
        })
        .collect();
    Ok(Json(json!({ "policyVersions": versions })))
}

/// `PATCH /policies/{policyName}/version/{policyVersionId}`: makes a version the default.
pub(crate) async fn set_default_policy_version(
    State(state): State<ApiState>,
    AwsPath((name, version)): AwsPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let version_id = version_id(&version)?;
    if !state
        .store
        .set_default_policy_version(&name, version_id, Timestamp::now())
        .await?
    {
        existing(&state, &name).await?;
        return Err(version_not_found(&name, version_id));
    }
    announce(&state, AuthorizationChange::Policy(name));
    Ok(Json(json!({})))
}

/// `DELETE /policies/{policyName}/version/{policyVersionId}`: the default version cannot be
/// deleted (delete the policy instead).
pub(crate) async fn delete_policy_version(
    State(state): State<ApiState>,
    AwsPath((name, version)): AwsPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let version_id = version_id(&version)?;
    match state.store.delete_policy_version(&name, version_id).await? {
        DeletedPolicyVersion::Deleted => Ok(Json(json!({}))),
        DeletedPolicyVersion::IsDefault => Err(ApiError::delete_conflict(format!(
            "Cannot delete the default version of a policy (name={name}, version={version_id}); \
             make another version the default first, or delete the policy."
        ))),
        DeletedPolicyVersion::Missing => {
            existing(&state, &name).await?;
            Err(version_not_found(&name, version_id))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments.

/// `PUT /target-policies/{policyName}` with `{"target"}`: attaching again succeeds.
pub(crate) async fn attach_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<TargetRequest>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let text = request.target.ok_or_else(|| missing("target"))?;
    let (target, _) = existing_target(&state, "target", &text).await?;
    attach(&state, &name, &target, &text).await?;
    Ok(Json(json!({})))
}

/// `POST /target-policies/{policyName}` with `{"target"}`: succeeds whether or not the policy
/// was attached (the model has no ResourceNotFoundException for it).
pub(crate) async fn detach_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<TargetRequest>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let text = request.target.ok_or_else(|| missing("target"))?;
    let (target, _) = parse_target(&state, "target", &text)?;
    detach(&state, &name, &target).await?;
    Ok(Json(json!({})))
}

/// `POST /attached-policies/{target}?recursive=&marker=&pageSize=`: the policies attached to a
/// certificate or thing group; for a thing group with `recursive=true`, also those attached to
/// its ancestors, which its things are held to as well.
pub(crate) async fn list_attached_policies(
    State(state): State<ApiState>,
    AwsPath(text): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let recursive = parse_bool("recursive", query.recursive.as_deref())?.unwrap_or(false);
    let page = list_page(&query, false)?;
    let (target, arn) = existing_target(&state, "target", &text).await?;
    if !(recursive && arn.kind == ArnKind::ThingGroup) {
        let page = state.store.policies_of_target(&target, &page).await?;
        return Ok(Json(policies_json(&state, page)));
    }
    let groups = state
        .store
        .ancestors_of_groups(std::slice::from_ref(&arn.name))
        .await?;
    let store = &state.store;
    let mut names = BTreeSet::new();
    for group in &groups {
        let target = &state.partition.arn(ArnKind::ThingGroup, group);
        names.extend(
            all_pages(|page| async move { store.policies_of_target(target, &page).await }).await?,
        );
    }
    Ok(Json(policies_json(&state, page_of_names(names, &page))))
}

/// Every item of a store list of names.
async fn all_pages<F, Fut>(mut fetch: F) -> Result<Vec<String>, ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<String>, StoreError>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageRequest::ascending(after, MAX_PAGE_SIZE)).await?;
        all.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

/// One page of a set of names in the request's order, the marker being the last name of the
/// page before.
fn page_of_names(names: BTreeSet<String>, request: &PageRequest) -> Page<String> {
    let after = request.after.as_deref();
    let mut items: Vec<String> = if request.ascending {
        names
            .into_iter()
            .filter(|name| after.is_none_or(|after| name.as_str() > after))
            .collect()
    } else {
        names
            .into_iter()
            .rev()
            .filter(|name| after.is_none_or(|after| name.as_str() < after))
            .collect()
    };
    let next = if items.len() > request.limit {
        items.truncate(request.limit);
        items.last().cloned()
    } else {
        None
    };
    Page { items, next }
}

/// `POST /policy-targets/{policyName}?marker=&pageSize=`: the targets of a policy.
pub(crate) async fn list_targets_for_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let page = list_page(&query, false)?;
    existing(&state, &name).await?;
    let page = state.store.targets_of_policy(&name, &page).await?;
    Ok(Json(with_next_marker(
        json!({ "targets": page.items }),
        page.next,
    )))
}

/// `PUT /principal-policies/{policyName}` with `x-amzn-iot-principal` (deprecated
/// AttachPolicy for certificates).
pub(crate) async fn attach_principal_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let principal = header_principal(&state, &headers).await?;
    attach(&state, &name, &principal, &principal).await?;
    Ok(Json(json!({})))
}

/// `DELETE /principal-policies/{policyName}` with `x-amzn-iot-principal` (deprecated
/// DetachPolicy for certificates): the policy and the principal must exist.
pub(crate) async fn detach_principal_policy(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    policy_name("policyName", &name)?;
    let principal = header_principal(&state, &headers).await?;
    existing(&state, &name).await?;
    detach(&state, &name, &principal).await?;
    Ok(Json(json!({})))
}

/// `GET /principal-policies?marker=&pageSize=&isAscendingOrder=` with `x-amzn-iot-principal`.
pub(crate) async fn list_principal_policies(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let page = list_page(&query, true)?;
    let principal = header_principal(&state, &headers).await?;
    let store = &state.store;
    let principal = &principal;
    let page = if page.ascending {
        store.policies_of_target(principal, &page).await?
    } else {
        // The store lists in ascending order only; a principal has at most
        // MAX_POLICIES_PER_TARGET policies, so reading them all costs one page.
        let all = all_pages(|page| async move { store.policies_of_target(principal, &page).await })
            .await?;
        page_of_names(all.into_iter().collect(), &page)
    };
    Ok(Json(policies_json(&state, page)))
}

/// `GET /policy-principals?marker=&pageSize=&isAscendingOrder=` with `x-amzn-iot-policy`: the
/// certificates a policy is attached to (its thing-group targets are not principals). Store
/// pages are read until the page is full or the list ends; the store lists targets in ascending
/// order only, so a descending page is cut from all of them.
pub(crate) async fn list_policy_principals(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let mut page = list_page(&query, true)?;
    let name = header_text(&headers, POLICY_HEADER, "policyName")?.to_owned();
    policy_name("policyName", &name)?;
    existing(&state, &name).await?;
    let is_certificate =
        |target: &String| Arn::parse(target).is_some_and(|arn| arn.kind == ArnKind::Certificate);
    if !page.ascending {
        let store = &state.store;
        let name = &name;
        let all =
            all_pages(|page| async move { store.targets_of_policy(name, &page).await }).await?;
        let page = page_of_names(all.into_iter().filter(is_certificate).collect(), &page);
        return Ok(Json(with_next_marker(
            json!({ "principals": page.items }),
            page.next,
        )));
    }
    let limit = page.limit;
    let mut principals = Vec::new();
    let next = loop {
        page.limit = limit - principals.len();
        let found = state.store.targets_of_policy(&name, &page).await?;
        principals.extend(found.items.into_iter().filter(is_certificate));
        match found.next {
            Some(next) if principals.len() < limit => page.after = Some(next),
            next => break next,
        }
    };
    Ok(Json(with_next_marker(
        json!({ "principals": principals }),
        next,
    )))
}

// ---------------------------------------------------------------------------------------------
// Effective policies and authorization tests.

/// The certificate a `principal` member names: a registered certificate's id.
async fn body_principal(state: &ApiState, text: &str) -> Result<String, ApiError> {
    let (_, arn) = parse_target(state, "principal", text)?;
    if arn.kind != ArnKind::Certificate {
        return Err(ApiError::invalid_request(format!(
            "The principal {text} is not a certificate ARN; thingd supports only certificate \
             principals."
        )));
    }
    if state.store.certificate(&arn.name).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "The principal {text} does not exist."
        )));
    }
    Ok(arn.name)
}

fn no_cognito(pool: Option<&String>) -> Result<(), ApiError> {
    match pool {
        Some(pool) => Err(ApiError::invalid_request(format!(
            "thingd has no Amazon Cognito identities; cognitoIdentityPoolId {pool} cannot be used."
        ))),
        None => Ok(()),
    }
}

/// `POST /effective-policies?thingName=` with `{"principal"}`: the policies a device is held
/// to when it connects with the certificate `principal` and the client id `thingName`: those
/// attached to the certificate and to the thing's groups and their ancestors. Given only a
/// thing, its groups' policies; the broker applies them to a connection whose certificate is
/// attached to the thing and whose client id is the thing's name.
pub(crate) async fn get_effective_policies(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ThingNameQuery>,
    AwsJson(request): AwsJson<EffectivePoliciesRequest>,
) -> Result<Json<Value>, ApiError> {
    no_cognito(request.cognito_identity_pool_id.as_ref())?;
    if let Some(thing) = &query.thing_name {
        THING_NAME.check_as("thingName", thing)?;
    }
    let certificate_id = match &request.principal {
        Some(text) => Some(body_principal(&state, text).await?),
        None => None,
    };
    if let Some(thing) = &query.thing_name
        && state.store.thing(thing).await?.is_none()
    {
        return Err(crate::things::thing_not_found(thing));
    }
    let requester = Requester {
        certificate_id,
        client_id: query.thing_name.clone(),
        ..Requester::default()
    };
    let resolved = resolve(state.store.as_ref(), &state.partition, &requester).await?;
    let mut names: BTreeSet<String> = resolved
        .policies
        .iter()
        .map(|policy| policy.name.clone())
        .collect();
    if let Some(thing) = &query.thing_name
        && resolved.thing.is_none()
    {
        // Without a certificate attached to it the thing was not resolved; its groups'
        // policies are its effective policies all the same.
        let store = &state.store;
        let groups =
            all_pages(|page| async move { store.groups_of_thing(thing, &page).await }).await?;
        if !groups.is_empty() {
            let groups = state.store.ancestors_of_groups(&groups).await?;
            let targets: Vec<String> = groups
                .iter()
                .map(|group| state.partition.arn(ArnKind::ThingGroup, group))
                .collect();
            for (policy, _) in state.store.attached_policies(&targets).await? {
                names.insert(policy.name);
            }
        }
    }
    let names: Vec<String> = names.into_iter().collect();
    let policies: Vec<Value> = if names.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .policies_with_default_versions(&names)
            .await?
            .into_iter()
            .map(|(policy, version)| {
                json!({
                    "policyName": policy.name,
                    "policyArn": policy_arn(&state, &policy.name),
                    "policyDocument": version.document,
                })
            })
            .collect()
    };
    Ok(Json(json!({ "effectivePolicies": policies })))
}

/// The action of an `actionType`.
fn action_of(action_type: &str) -> Result<Action, ApiError> {
    Ok(match action_type {
        "PUBLISH" => Action::Publish,
        "SUBSCRIBE" => Action::Subscribe,
        "RECEIVE" => Action::Receive,
        "CONNECT" => Action::Connect,
        other => {
            return Err(not_in_enum(
                "authInfos.member.actionType",
                other,
                ACTION_TYPES,
            ));
        }
    })
}

fn refs_json(policies: &[NamedPolicyRef]) -> Value {
    let policies: Vec<Value> = policies
        .iter()
        .map(|policy| json!({ "policyName": policy.name, "policyArn": policy.arn }))
        .collect();
    json!({ "policies": policies })
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Allowed => "ALLOWED",
        Decision::ExplicitDeny => "EXPLICIT_DENY",
        Decision::ImplicitDeny => "IMPLICIT_DENY",
    }
}

/// `POST /test-authorization?clientId=` with `{principal, authInfos, policyNamesToAdd,
/// policyNamesToSkip}`: whether the device (the certificate `principal` connecting as
/// `clientId`) may do each action on each resource, and which policies decide it. There is
/// one result per resource, its `authInfo` naming that resource alone.
pub(crate) async fn test_authorization(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ClientIdQuery>,
    AwsJson(request): AwsJson<TestAuthorizationRequest>,
) -> Result<Json<Value>, ApiError> {
    no_cognito(request.cognito_identity_pool_id.as_ref())?;
    let auth_infos = request.auth_infos.ok_or_else(|| missing("authInfos"))?;
    if auth_infos.is_empty() || auth_infos.len() > MAX_AUTH_INFOS {
        return Err(ApiError::invalid_request(format!(
            "1 validation error detected: Value at 'authInfos' failed to satisfy constraint: \
             Member must have length between 1 and {MAX_AUTH_INFOS}"
        )));
    }
    let mut checks = Vec::new();
    for info in &auth_infos {
        let action_type = info
            .action_type
            .as_deref()
            .ok_or_else(|| missing("authInfos.member.actionType"))?;
        let action = action_of(action_type)?;
        let resources = info
            .resources
            .as_ref()
            .ok_or_else(|| missing("authInfos.member.resources"))?;
        for resource in resources {
            RESOURCE.check(resource)?;
            checks.push((action_type, action, resource.as_str()));
        }
    }
    let to_add = request.policy_names_to_add.unwrap_or_default();
    let to_skip = request.policy_names_to_skip.unwrap_or_default();
    for name in &to_add {
        POLICY_NAME.check_as("policyNamesToAdd.member", name)?;
    }
    for name in &to_skip {
        POLICY_NAME.check_as("policyNamesToSkip.member", name)?;
    }
    let certificate_id = match &request.principal {
        Some(text) => Some(body_principal(&state, text).await?),
        None => None,
    };
    let requester = Requester {
        certificate_id,
        client_id: query.client_id,
        extra_policies: to_add.clone(),
        skip_policies: to_skip.clone(),
        ..Requester::default()
    };
    let resolved = resolve(state.store.as_ref(), &state.partition, &requester).await?;
    if let Some(name) = to_add
        .iter()
        .find(|name| !to_skip.contains(name) && !resolved.policies.iter().any(|p| &p.name == *name))
    {
        return Err(policy_not_found(name));
    }
    let results: Vec<Value> = checks
        .into_iter()
        .map(|(action_type, action, resource)| {
            let evaluation =
                thingd_policy::evaluate(&resolved.policies, action, resource, &resolved.context);
            json!({
                "authInfo": { "actionType": action_type, "resources": [resource] },
                "allowed": refs_json(&evaluation.allowing),
                "denied": {
                    "implicitDeny": refs_json(&evaluation.implicitly_denying),
                    "explicitDeny": refs_json(&evaluation.denying),
                },
                "authDecision": decision_name(evaluation.decision),
                "missingContextValues": evaluation.missing_context_values,
            })
        })
        .collect();
    Ok(Json(json!({ "authResults": results })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_follow_the_model() {
        for ok in ["a", "my-policy_1", "a+b=c,d.e@f-g", &"x".repeat(128)] {
            assert!(POLICY_NAME.check(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a:b", "é", &"x".repeat(129)] {
            assert!(POLICY_NAME.check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_ids_are_digits() {
        assert_eq!(version_id("1").unwrap(), 1);
        assert_eq!(version_id("0042").unwrap(), 42);
        for bad in ["", "-1", "1a", "x", "99999999999999999999999"] {
            assert!(version_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_of_names_continue_after_the_marker() {
        let names: BTreeSet<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
        let first = page_of_names(names.clone(), &PageRequest::ascending(None, 2));
        assert_eq!(first.items, ["a", "b"]);
        assert_eq!(first.next.as_deref(), Some("b"));
        let last = page_of_names(names.clone(), &PageRequest::ascending(Some("d".into()), 2));
        assert_eq!(last.items, ["e"]);
        assert_eq!(last.next, None);
        let exact = page_of_names(names.clone(), &PageRequest::ascending(Some("b".into()), 3));
        assert_eq!(exact.items, ["c", "d", "e"]);
        assert_eq!(exact.next, None);
        let descending = |after: Option<&str>| PageRequest {
            after: after.map(String::from),
            limit: 2,
            ascending: false,
        };
        let first = page_of_names(names.clone(), &descending(None));
        assert_eq!(first.items, ["e", "d"]);
        assert_eq!(first.next.as_deref(), Some("d"));
        let last = page_of_names(names, &descending(Some("b")));
        assert_eq!(last.items, ["a"]);
        assert_eq!(last.next, None);
    }
}
