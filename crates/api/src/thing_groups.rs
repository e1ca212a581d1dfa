//! Static thing groups: CreateThingGroup, DescribeThingGroup, UpdateThingGroup,
//! DeleteThingGroup, ListThingGroups, AddThingToThingGroup, RemoveThingFromThingGroup,
//! UpdateThingGroupsForThing, ListThingsInThingGroup, ListThingGroupsForThing (AWS IoT §2.3).
//!
//! The hierarchy rules (depth, children, one group per hierarchy for a thing) are computed by
//! walking parents with the store's reads: a hierarchy is at most [`MAX_GROUP_DEPTH`] deep, so
//! a walk costs a handful of primary-key lookups.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingd_registry::{
    Arn, ArnKind, Attributes, DESCRIPTION, Inserted, MAX_GROUP_ATTRIBUTES, MAX_GROUP_DEPTH,
    MAX_GROUPS_PER_THING, PageRequest, THING_GROUP_NAME, THING_NAME, ThingGroup, Timestamp,
};

use crate::attributes::{AttributePayload, check_attributes};
use crate::error::ApiError;
use crate::extract::{
    AwsJson, AwsPath, AwsQuery, ExpectedVersionQuery, missing, page_size, parse_bool,
};
use crate::paging::all_items;
use crate::state::{ApiState, AuthorizationChange};
use crate::tags::{TagDto, remove_all_tags, store_tags, tags_for_create};
use crate::things::{existing_thing, thing_not_found};
use crate::versioned::update_versioned;

/// Direct children one group may have (AWS IoT: 100).
const MAX_CHILD_GROUPS: usize = 100;

/// The routes of this family. The three membership operations have literal paths under
/// `/thing-groups/`; the router prefers them to the `{thingGroupName}` label.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/thing-groups", get(list_thing_groups))
        .route(
            "/thing-groups/{thingGroupName}",
            get(describe_thing_group)
                .post(create_thing_group)
                .patch(update_thing_group)
                .delete(delete_thing_group),
        )
        .route(
            "/thing-groups/{thingGroupName}/things",
            get(list_things_in_thing_group),
        )
        .route(
            "/thing-groups/addThingToThingGroup",
            put(add_thing_to_thing_group),
        )
        .route(
            "/thing-groups/removeThingFromThingGroup",
            put(remove_thing_from_thing_group),
        )
        .route(
            "/thing-groups/updateThingGroupsForThing",
            put(update_thing_groups_for_thing),
        )
        .route(
            "/things/{thingName}/thing-groups",
            get(list_thing_groups_for_thing),
        )
}

/// `ThingGroupProperties`, in requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingGroupPropertiesInput {
    thing_group_description: Option<String>,
    attribute_payload: Option<AttributePayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingGroupRequest {
    parent_group_name: Option<String>,
    thing_group_properties: Option<ThingGroupPropertiesInput>,
    tags: Option<Vec<TagDto>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingGroupRequest {
    thing_group_properties: Option<ThingGroupPropertiesInput>,
    expected_version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingGroupsQuery {
    next_token: Option<String>,
    max_results: Option<String>,
    parent_group: Option<String>,
    name_prefix_filter: Option<String>,
    recursive: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingsInThingGroupQuery {
    next_token: Option<String>,
    max_results: Option<String>,
    recursive: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageQuery {
    next_token: Option<String>,
    max_results: Option<String>,
}

/// The body of AddThingToThingGroup and RemoveThingFromThingGroup: the group and the thing,
/// each by name or ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MembershipRequest {
    thing_group_name: Option<String>,
    thing_group_arn: Option<String>,
    thing_name: Option<String>,
    thing_arn: Option<String>,
    // `overrideDynamicGroups` is only meaningful with dynamic groups, which thingd does not
    // have; serde ignores it like any unknown member.
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingGroupsForThingRequest {
    thing_name: Option<String>,
    thing_groups_to_add: Option<Vec<String>>,
    thing_groups_to_remove: Option<Vec<String>>,
    // `overrideDynamicGroups`: ignored, as in `MembershipRequest`.
}

/// `{"thingGroupName", "thingGroupArn", "thingGroupId"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingGroupResponse {
    thing_group_name: String,
    thing_group_arn: String,
    thing_group_id: String,
}

/// `GroupNameAndArn`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupNameAndArn {
    group_name: String,
    group_arn: String,
}

/// `ThingGroupProperties`, in answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingGroupPropertiesOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_group_description: Option<String>,
    attribute_payload: AttributesOutput,
}

/// `AttributePayload`, in answers: only `attributes` (`merge` is an instruction).
#[derive(Debug, Serialize)]
pub(crate) struct AttributesOutput {
    attributes: Attributes,
}

/// `ThingGroupMetadata`; the parent and the path from the root only for child groups.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingGroupMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_group_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    root_to_parent_thing_groups: Vec<GroupNameAndArn>,
    creation_date: f64,
}

/// DescribeThingGroup's answer (the dynamic-group members `indexName`, `queryString`,
/// `queryVersion` and `status` never apply to a static group).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeThingGroupResponse {
    thing_group_name: String,
    thing_group_id: String,
    thing_group_arn: String,
    version: i64,
    thing_group_properties: ThingGroupPropertiesOutput,
    thing_group_metadata: ThingGroupMetadata,
}

/// `{"thingGroups": [GroupNameAndArn], "nextToken"}` (ListThingGroups and
/// ListThingGroupsForThing).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupListResponse {
    thing_groups: Vec<GroupNameAndArn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `{"things": [thingName], "nextToken"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingsInThingGroupResponse {
    things: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Thing group {name} cannot be found."))
}

fn version_conflict(name: &str) -> ApiError {
    ApiError::version_conflict(format!(
        "The version for thing group {name} does not match the expected version."
    ))
}

fn name_and_arn(state: &ApiState, name: String) -> GroupNameAndArn {
    GroupNameAndArn {
        group_arn: state.partition.arn(ArnKind::ThingGroup, &name),
        group_name: name,
    }
}

fn check_attribute_count(attributes: &Attributes) -> Result<(), ApiError> {
    if attributes.len() > MAX_GROUP_ATTRIBUTES {
        return Err(ApiError::invalid_request(format!(
            "A thing group can have at most {MAX_GROUP_ATTRIBUTES} attributes; this one would \
             have {}.",
            attributes.len()
        )));
    }
    Ok(())
}

fn check_properties(properties: &ThingGroupPropertiesInput) -> Result<(), ApiError> {
    if let Some(description) = &properties.thing_group_description {
        DESCRIPTION.check_as("thingGroupProperties.thingGroupDescription", description)?;
    }
    if let Some(attributes) = properties
        .attribute_payload
        .as_ref()
        .and_then(|p| p.attributes.as_ref())
    {
        check_attributes(
            "thingGroupProperties.attributePayload.attributes",
            attributes,
        )?;
    }
    Ok(())
}

async fn existing(state: &ApiState, name: &str) -> Result<ThingGroup, ApiError> {
    state
        .store
        .thing_group(name)
        .await?
        .ok_or_else(|| not_found(name))
}

/// The ancestors of a group, from its root to its parent.
async fn ancestors(state: &ApiState, group: &ThingGroup) -> Result<Vec<String>, ApiError> {
    let mut chain = Vec::new();
    let mut parent = group.parent.clone();
    while let Some(name) = parent {
        // A parent is fixed at creation and must exist then, so the chain has no cycle; the
        // bound only guards against a store that was edited by hand.
        if chain.len() > MAX_GROUP_DEPTH {
            return Err(ApiError::internal(&format!(
                "the parents of thing group {} form a chain deeper than {MAX_GROUP_DEPTH}",
                group.name
            )));
        }
        parent = match state.store.thing_group(&name).await? {
            Some(group) => group.parent,
            None => None,
        };
        chain.push(name);
    }
    chain.reverse();
    Ok(chain)
}

/// The root of the hierarchy a group is in (itself if it has no parent).
async fn root_of(state: &ApiState, group: &str) -> Result<String, ApiError> {
    let group = existing(state, group).await?;
    Ok(ancestors(state, &group)
        .await?
        .into_iter()
        .next()
        .unwrap_or(group.name))
}

/// `POST /thing-groups/{thingGroupName}`: creates a group, under `parentGroupName` if given;
/// creating it again with the same parent and properties returns it.
pub(crate) async fn create_thing_group(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<CreateThingGroupRequest>,
) -> Result<Json<CreateThingGroupResponse>, ApiError> {
    THING_GROUP_NAME.check(&name)?;
    if let Some(parent) = &request.parent_group_name {
        THING_GROUP_NAME.check_as("parentGroupName", parent)?;
    }
    let properties = request.thing_group_properties.unwrap_or_default();
    check_properties(&properties)?;
    let attributes = properties
        .attribute_payload
        .and_then(|p| p.attributes)
        .unwrap_or_default();
    check_attribute_count(&attributes)?;
    let tags = tags_for_create(request.tags.as_deref())?;
    let group = ThingGroup {
        name: name.clone(),
        id: uuid::Uuid::new_v4().to_string(),
        parent: request.parent_group_name,
        description: properties.thing_group_description,
        attributes,
        version: 1,
        created: Timestamp::now(),
    };
    let arn = state.partition.arn(ArnKind::ThingGroup, &name);
    if let Some(existing) = state.store.thing_group(&name).await? {
        return same_group(existing, &group, &arn);
    }
    if let Some(parent) = &group.parent {
        // CreateThingGroup models no ResourceNotFoundException: a missing parent is an invalid
        // request, as are the hierarchy limits.
        let Some(parent_group) = state.store.thing_group(parent).await? else {
            return Err(ApiError::invalid_request(format!(
                "The parent thing group {parent} does not exist."
            )));
        };
        let depth = ancestors(&state, &parent_group).await?.len() + 2;
        if depth > MAX_GROUP_DEPTH {
            return Err(ApiError::invalid_request(format!(
                "A thing group hierarchy can be at most {MAX_GROUP_DEPTH} levels deep; \
                 {name} would be at level {depth}."
            )));
        }
        if state.store.child_groups(parent).await?.len() >= MAX_CHILD_GROUPS {
            return Err(ApiError::invalid_request(format!(
                "A thing group can have at most {MAX_CHILD_GROUPS} direct child groups; \
                 {parent} has that many."
            )));
        }
    }
    match state.store.insert_thing_group(&group).await? {
        Inserted::Created => {
            store_tags(&state, &arn, &tags).await?;
            Ok(Json(CreateThingGroupResponse {
                thing_group_name: group.name,
                thing_group_arn: arn,
                thing_group_id: group.id,
            }))
        }
        // Created concurrently since the read above.
        Inserted::Exists(existing) => same_group(existing, &group, &arn),
    }
}

/// The answer to creating a group that exists: itself if the request asked for the same
/// group, else `ResourceAlreadyExistsException`.
fn same_group(
    existing: ThingGroup,
    requested: &ThingGroup,
    arn: &str,
) -> Result<Json<CreateThingGroupResponse>, ApiError> {
    if existing.parent == requested.parent
        && existing.description == requested.description
        && existing.attributes == requested.attributes
    {
        Ok(Json(CreateThingGroupResponse {
            thing_group_name: existing.name,
            thing_group_arn: arn.to_owned(),
            thing_group_id: existing.id,
        }))
    } else {
        Err(ApiError::already_exists(
            format!(
                "Thing Group {} already exists in current account with different properties",
                existing.name
            ),
            &existing.id,
            arn,
        ))
    }
}

/// `GET /thing-groups/{thingGroupName}`.
pub(crate) async fn describe_thing_group(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<DescribeThingGroupResponse>, ApiError> {
    THING_GROUP_NAME.check(&name)?;
    let group = existing(&state, &name).await?;
    let root_to_parent = ancestors(&state, &group)
        .await?
        .into_iter()
        .map(|ancestor| name_and_arn(&state, ancestor))
        .collect();
    Ok(Json(DescribeThingGroupResponse {
        thing_group_arn: state.partition.arn(ArnKind::ThingGroup, &group.name),
        thing_group_name: group.name,
        thing_group_id: group.id,
        version: group.version,
        thing_group_properties: ThingGroupPropertiesOutput {
            thing_group_description: group.description,
            attribute_payload: AttributesOutput {
                attributes: group.attributes,
            },
        },
        thing_group_metadata: ThingGroupMetadata {
            parent_group_name: group.parent,
            root_to_parent_thing_groups: root_to_parent,
            creation_date: group.created.as_epoch_seconds(),
        },
    }))
}

/// `PATCH /thing-groups/{thingGroupName}`: changes the description and attributes (merged with
/// `merge`, where an empty value removes an attribute, else replaced); `expectedVersion`
/// guards against concurrent updates. Answers the new version.
pub(crate) async fn update_thing_group(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<UpdateThingGroupRequest>,
) -> Result<Json<Value>, ApiError> {
    THING_GROUP_NAME.check(&name)?;
    let properties = request
        .thing_group_properties
        .ok_or_else(|| missing("thingGroupProperties"))?;
    check_properties(&properties)?;
    let payload = properties.attribute_payload.unwrap_or_default();
    let store = &state.store;
    let updated = update_versioned(
        request
            .expected_version
            .map(|expected| (expected, version_conflict(&name))),
        || existing(&state, &name),
        |current: &ThingGroup| {
            let mut updated = current.clone();
            if let Some(description) = &properties.thing_group_description {
                updated.description = Some(description.clone());
            }
            payload.apply_to(&mut updated.attributes);
            check_attribute_count(&updated.attributes)?;
            updated.version = current.version + 1;
            Ok(Some(updated))
        },
        |updated, expected| async move { store.replace_thing_group(&updated, expected).await },
    )
    .await?;
    Ok(Json(json!({ "version": updated.version })))
}

/// `DELETE /thing-groups/{thingGroupName}`: deleting a group that does not exist succeeds; one
/// with child groups is refused. Its members stay things, only out of this group.
pub(crate) async fn delete_thing_group(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<ExpectedVersionQuery>,
) -> Result<Json<Value>, ApiError> {
    THING_GROUP_NAME.check(&name)?;
    let expected = query.expected_version()?;
    let Some(current) = state.store.thing_group(&name).await? else {
        return Ok(Json(json!({})));
    };
    if expected.is_some_and(|e| e != current.version) {
        return Err(version_conflict(&name));
    }
    if !state.store.child_groups(&name).await?.is_empty() {
        return Err(ApiError::invalid_request(format!(
            "Cannot delete thing group : {name} when there are still child groups attached to it"
        )));
    }
    let arn = state.partition.arn(ArnKind::ThingGroup, &name);
    // The group's policies go with it (as in AWS IoT), first, so that a group created later
    // with the same name does not inherit them even if the deletion below fails.
    state.store.detach_all_policies(&arn).await?;
    state.store.delete_thing_group(&name).await?;
    remove_all_tags(&state, &arn).await?;
    state
        .events
        .authorization_changed(&AuthorizationChange::ThingGroup(name));
    Ok(Json(json!({})))
}

/// `GET /thing-groups`: groups in name order. With `parentGroup`, its direct children (all its
/// descendants with `recursive=true`); without, every group, or only the root groups with an
/// explicit `recursive=false` (the model's `RecursiveWithoutDefault`: "if true, return child
/// groups as well").
pub(crate) async fn list_thing_groups(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListThingGroupsQuery>,
) -> Result<Json<GroupListResponse>, ApiError> {
    let limit = page_size("maxResults", query.max_results.as_deref(), 250, 50)?;
    let recursive = parse_bool("recursive", query.recursive.as_deref())?;
    if let Some(prefix) = &query.name_prefix_filter {
        THING_GROUP_NAME.check_as("namePrefixFilter", prefix)?;
    }
    if let Some(parent) = &query.parent_group {
        THING_GROUP_NAME.check_as("parentGroup", parent)?;
        existing(&state, parent).await?;
    }
    let roots_only = query.parent_group.is_none() && recursive == Some(false);
    let mut after = query.next_token;
    loop {
        let page = state
            .store
            .list_thing_groups(
                query.parent_group.as_deref(),
                query.name_prefix_filter.as_deref(),
                recursive.unwrap_or(false),
                &PageRequest::ascending(after, limit),
            )
            .await?;
        // The store lists every group when there is no parent, so root groups are picked from
        // its pages. A page is answered at the store's page boundary (so with the store's own
        // token), possibly shorter than asked, as AWS allows; pages with no root at all are
        // skipped rather than answered empty.
        let groups: Vec<GroupNameAndArn> = page
            .items
            .into_iter()
            .filter(|group| !roots_only || group.parent.is_none())
            .map(|group| name_and_arn(&state, group.name))
            .collect();
        if groups.is_empty() && page.next.is_some() {
            after = page.next;
            continue;
        }
        return Ok(Json(GroupListResponse {
            thing_groups: groups,
            next_token: page.next,
        }));
    }
}

/// A group named by name or ARN (both: they must agree); it must exist.
async fn group_named(
    state: &ApiState,
    name: Option<String>,
    arn: Option<String>,
) -> Result<ThingGroup, ApiError> {
    let name = resolve(
        state,
        name,
        arn,
        ArnKind::ThingGroup,
        "thingGroupName",
        "thingGroupArn",
    )?;
    THING_GROUP_NAME.check(&name)?;
    existing(state, &name).await
}

/// A thing named by name or ARN; it must exist.
async fn thing_named(
    state: &ApiState,
    name: Option<String>,
    arn: Option<String>,
) -> Result<String, ApiError> {
    let name = resolve(state, name, arn, ArnKind::Thing, "thingName", "thingArn")?;
    Ok(existing_thing(state, &name).await?.name)
}

/// The name a request gives by name or by ARN.
fn resolve(
    state: &ApiState,
    name: Option<String>,
    arn: Option<String>,
    kind: ArnKind,
    name_field: &str,
    arn_field: &str,
) -> Result<String, ApiError> {
    let from_arn = match &arn {
        None => None,
        Some(text) => {
            let parsed = Arn::parse(text).filter(|a| a.kind == kind).ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "{arn_field} {text} is not the ARN of a {}.",
                    kind.as_str()
                ))
            })?;
            if !parsed.is_in(&state.partition) {
                return Err(ApiError::not_found(format!(
                    "The resource {text} does not exist."
                )));
            }
            Some(parsed.name)
        }
    };
    match (name, from_arn) {
        (Some(name), Some(from_arn)) if name != from_arn => Err(ApiError::invalid_request(
            format!("{arn_field} does not match the {name_field} {name} of the request."),
        )),
        (Some(name), _) | (None, Some(name)) => Ok(name),
        (None, None) => Err(ApiError::invalid_request(format!(
            "Both {arn_field} and {name_field} are empty. Need to specify at least one of them"
        ))),
    }
}

/// The direct groups of a thing (at most [`MAX_GROUPS_PER_THING`], so one page).
async fn groups_of(state: &ApiState, thing: &str) -> Result<BTreeSet<String>, ApiError> {
    let groups = all_items(1000, |page| async move {
        state.store.groups_of_thing(thing, &page).await
    })
    .await?;
    Ok(groups.into_iter().collect())
}

/// Checks that a thing may be in all of `groups` (at most [`MAX_GROUPS_PER_THING`], no two of
/// one hierarchy), where `added` are the ones it is not in yet. Only pairs with an added group
/// are checked: the others were checked when they were added.
async fn check_memberships(
    state: &ApiState,
    thing: &str,
    groups: &BTreeSet<String>,
    added: &BTreeSet<String>,
) -> Result<(), ApiError> {
    if added.is_empty() {
        return Ok(());
    }
    if groups.len() > MAX_GROUPS_PER_THING {
        return Err(ApiError::invalid_request(format!(
            "A thing can be in at most {MAX_GROUPS_PER_THING} thing groups; {thing} would be in {}.",
            groups.len()
        )));
    }
    let mut roots = Vec::with_capacity(groups.len());
    for group in groups {
        roots.push((group, root_of(state, group).await?));
    }
    for (group, root) in roots.iter().filter(|(group, _)| added.contains(*group)) {
        if let Some((other, _)) = roots
            .iter()
            .find(|(other, other_root)| other != group && other_root == root)
        {
            return Err(ApiError::invalid_request(format!(
                "Thing {thing} cannot be in both thing groups {group} and {other}: they are in \
                 the same hierarchy (root {root})."
            )));
        }
    }
    Ok(())
}

/// The group and the thing of a membership request; both must exist.
async fn membership(
    state: &ApiState,
    request: MembershipRequest,
) -> Result<(ThingGroup, String), ApiError> {
    let group = group_named(state, request.thing_group_name, request.thing_group_arn).await?;
    let thing = thing_named(state, request.thing_name, request.thing_arn).await?;
    Ok((group, thing))
}

/// `PUT /thing-groups/addThingToThingGroup`: adding a thing to a group it is in succeeds.
pub(crate) async fn add_thing_to_thing_group(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<MembershipRequest>,
) -> Result<Json<Value>, ApiError> {
    let (group, thing) = membership(&state, request).await?;
    let mut groups = groups_of(&state, &thing).await?;
    if groups.insert(group.name.clone()) {
        let added = BTreeSet::from([group.name.clone()]);
        check_memberships(&state, &thing, &groups, &added).await?;
        state.store.add_thing_to_group(&group.name, &thing).await?;
        announce_membership(&state, thing);
    }
    Ok(Json(json!({})))
}

/// `PUT /thing-groups/removeThingFromThingGroup`: removing a thing from a group it is not in
/// succeeds.
pub(crate) async fn remove_thing_from_thing_group(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<MembershipRequest>,
) -> Result<Json<Value>, ApiError> {
    let (group, thing) = membership(&state, request).await?;
    if state
        .store
        .remove_thing_from_group(&group.name, &thing)
        .await?
    {
        announce_membership(&state, thing);
    }
    Ok(Json(json!({})))
}

/// Announces that a thing's groups changed: its connections are held to other group policies.
fn announce_membership(state: &ApiState, thing: String) {
    state
        .events
        .authorization_changed(&AuthorizationChange::Thing(thing));
}

/// `PUT /thing-groups/updateThingGroupsForThing`: removes a thing from some groups and adds it
/// to others, checked as a whole first (so a thing can move between two groups of one
/// hierarchy in one call); a group in both lists ends up removed.
pub(crate) async fn update_thing_groups_for_thing(
    State(state): State<ApiState>,
    AwsJson(request): AwsJson<UpdateThingGroupsForThingRequest>,
) -> Result<Json<Value>, ApiError> {
    let thing = request.thing_name.ok_or_else(|| missing("thingName"))?;
    THING_NAME.check(&thing)?;
    let to_add: BTreeSet<String> = request
        .thing_groups_to_add
        .unwrap_or_default()
        .into_iter()
        .collect();
    let to_remove: BTreeSet<String> = request
        .thing_groups_to_remove
        .unwrap_or_default()
        .into_iter()
        .collect();
    for group in &to_add {
        THING_GROUP_NAME.check_as("thingGroupsToAdd.member", group)?;
    }
    for group in &to_remove {
        THING_GROUP_NAME.check_as("thingGroupsToRemove.member", group)?;
    }
    if state.store.thing(&thing).await?.is_none() {
        return Err(thing_not_found(&thing));
    }
    for group in to_add.union(&to_remove) {
        existing(&state, group).await?;
    }
    let current = groups_of(&state, &thing).await?;
    let mut groups: BTreeSet<String> = current.union(&to_add).cloned().collect();
    groups.retain(|group| !to_remove.contains(group));
    let added: BTreeSet<String> = groups.difference(&current).cloned().collect();
    check_memberships(&state, &thing, &groups, &added).await?;
    let mut changed = !added.is_empty();
    for group in current.intersection(&to_remove) {
        changed |= state.store.remove_thing_from_group(group, &thing).await?;
    }
    for group in &added {
        state.store.add_thing_to_group(group, &thing).await?;
    }
    if changed {
        announce_membership(&state, thing);
    }
    Ok(Json(json!({})))
}

/// `GET /thing-groups/{thingGroupName}/things`: member names in name order, with
/// `recursive=true` also the members of its descendants.
pub(crate) async fn list_things_in_thing_group(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListThingsInThingGroupQuery>,
) -> Result<Json<ListThingsInThingGroupResponse>, ApiError> {
    THING_GROUP_NAME.check(&name)?;
    let limit = page_size("maxResults", query.max_results.as_deref(), 250, 50)?;
    let recursive = parse_bool("recursive", query.recursive.as_deref())?.unwrap_or(false);
    existing(&state, &name).await?;
    let page = state
        .store
        .things_in_group(
            &name,
            recursive,
            &PageRequest::ascending(query.next_token, limit),
        )
        .await?;
    Ok(Json(ListThingsInThingGroupResponse {
        things: page.items,
        next_token: page.next,
    }))
}

/// `GET /things/{thingName}/thing-groups`: the groups a thing is directly in, in name order.
pub(crate) async fn list_thing_groups_for_thing(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<PageQuery>,
) -> Result<Json<GroupListResponse>, ApiError> {
    THING_NAME.check(&thing)?;
    let limit = page_size("maxResults", query.max_results.as_deref(), 250, 50)?;
    if state.store.thing(&thing).await?.is_none() {
        return Err(thing_not_found(&thing));
    }
    let page = state
        .store
        .groups_of_thing(&thing, &PageRequest::ascending(query.next_token, limit))
        .await?;
    Ok(Json(GroupListResponse {
        thing_groups: page
            .items
            .into_iter()
            .map(|group| name_and_arn(&state, group))
            .collect(),
        next_token: page.next,
    }))
}
