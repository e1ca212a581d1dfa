//! Thing types: CreateThingType, DescribeThingType, ListThingTypes, UpdateThingType,
//! DeprecateThingType, DeleteThingType (AWS IoT §2.2).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingd_registry::{
    ATTRIBUTE_NAME, ArnKind, DESCRIPTION, Inserted, MAX_SEARCHABLE_ATTRIBUTES, PageRequest,
    THING_TYPE_NAME, ThingType, Timestamp,
};

use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery, page_size};
use crate::state::ApiState;
use crate::tags::{TagDto, remove_all_tags, store_tags, tags_for_create};

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/thing-types", get(list_thing_types))
        .route(
            "/thing-types/{thingTypeName}",
            get(describe_thing_type)
                .post(create_thing_type)
                .patch(update_thing_type)
                .delete(delete_thing_type),
        )
        .route(
            "/thing-types/{thingTypeName}/deprecate",
            post(deprecate_thing_type),
        )
}

/// `ThingTypeProperties`, in requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypePropertiesInput {
    thing_type_description: Option<String>,
    searchable_attributes: Option<Vec<String>>,
    mqtt5_configuration: Option<Mqtt5Configuration>,
}

/// `Mqtt5Configuration`: accepted only without propagating attributes, which thingd's broker
/// does not add to messages (storing them unused would make DescribeThingType claim a
/// behaviour thingd does not have).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Mqtt5Configuration {
    #[serde(default)]
    propagating_attributes: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingTypeRequest {
    thing_type_properties: Option<ThingTypePropertiesInput>,
    tags: Option<Vec<TagDto>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingTypeRequest {
    thing_type_properties: Option<ThingTypePropertiesInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeprecateThingTypeRequest {
    undo_deprecate: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingTypesQuery {
    next_token: Option<String>,
    max_results: Option<String>,
    thing_type_name: Option<String>,
}

/// `{"thingTypeName", "thingTypeArn", "thingTypeId"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingTypeResponse {
    thing_type_name: String,
    thing_type_arn: String,
    thing_type_id: String,
}

/// `ThingTypeProperties`, in answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypePropertiesOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_type_description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    searchable_attributes: Vec<String>,
}

/// `ThingTypeMetadata`: `{"deprecated", "deprecationDate", "creationDate"}`, dates in epoch
/// seconds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypeMetadata {
    deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    deprecation_date: Option<f64>,
    creation_date: f64,
}

/// DescribeThingType's answer; ListThingTypes' `ThingTypeDefinition` is the same without the
/// id.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypeDescription {
    thing_type_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    thing_type_id: Option<String>,
    thing_type_arn: String,
    thing_type_properties: ThingTypePropertiesOutput,
    thing_type_metadata: ThingTypeMetadata,
}

/// `{"thingTypes": [ThingTypeDefinition], "nextToken"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingTypesResponse {
    thing_types: Vec<ThingTypeDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Thing type {name} does not exist."))
}

/// The checked description and searchable attributes of a request's properties (`None`: not
/// given, so unchanged by an update).
struct Properties {
    description: Option<String>,
    searchable_attributes: Option<Vec<String>>,
}

fn check_properties(properties: Option<ThingTypePropertiesInput>) -> Result<Properties, ApiError> {
    let properties = properties.unwrap_or_default();
    if let Some(description) = &properties.thing_type_description {
        DESCRIPTION.check_as("thingTypeProperties.thingTypeDescription", description)?;
    }
    if let Some(attributes) = &properties.searchable_attributes {
        for attribute in attributes {
            ATTRIBUTE_NAME
                .check_as("thingTypeProperties.searchableAttributes.member", attribute)?;
        }
        if attributes.len() > MAX_SEARCHABLE_ATTRIBUTES {
            return Err(ApiError::invalid_request(format!(
                "A thing type can have at most {MAX_SEARCHABLE_ATTRIBUTES} searchable attributes; \
                 the request has {}.",
                attributes.len()
            )));
        }
    }
    if let Some(configuration) = &properties.mqtt5_configuration
        && configuration
            .propagating_attributes
            .as_ref()
            .is_some_and(|attributes| !attributes.is_empty())
    {
        return Err(ApiError::invalid_request(
            "thingd does not support mqtt5Configuration.propagatingAttributes.",
        ));
    }
    Ok(Properties {
        description: properties.thing_type_description,
        searchable_attributes: properties.searchable_attributes,
    })
}

fn describe(state: &ApiState, thing_type: ThingType, with_id: bool) -> ThingTypeDescription {
    ThingTypeDescription {
        thing_type_arn: state.partition.arn(ArnKind::ThingType, &thing_type.name),
        thing_type_name: thing_type.name,
        thing_type_id: with_id.then_some(thing_type.id),
        thing_type_properties: ThingTypePropertiesOutput {
            thing_type_description: thing_type.description,
            searchable_attributes: thing_type.searchable_attributes,
        },
        thing_type_metadata: ThingTypeMetadata {
            deprecated: thing_type.deprecated.is_some(),
            deprecation_date: thing_type.deprecated.map(Timestamp::as_epoch_seconds),
            creation_date: thing_type.created.as_epoch_seconds(),
        },
    }
}

async fn existing(state: &ApiState, name: &str) -> Result<ThingType, ApiError> {
    state
        .store
        .thing_type(name)
        .await?
        .ok_or_else(|| not_found(name))
}

/// Stores a changed thing type; it must still exist.
async fn replace(state: &ApiState, thing_type: &ThingType) -> Result<(), ApiError> {
    if state.store.replace_thing_type(thing_type).await? {
        Ok(())
    } else {
        Err(not_found(&thing_type.name))
    }
}

/// `POST /thing-types/{thingTypeName}`: creates a thing type; creating it again with the same
/// properties returns it, with other properties is `ResourceAlreadyExistsException`.
pub(crate) async fn create_thing_type(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<CreateThingTypeRequest>,
) -> Result<Json<CreateThingTypeResponse>, ApiError> {
    THING_TYPE_NAME.check(&name)?;
    let properties = check_properties(request.thing_type_properties)?;
    let tags = tags_for_create(request.tags.as_deref())?;
    let thing_type = ThingType {
        name: name.clone(),
        id: uuid::Uuid::new_v4().to_string(),
        description: properties.description,
        searchable_attributes: properties.searchable_attributes.unwrap_or_default(),
        deprecated: None,
        created: Timestamp::now(),
    };
    let arn = state.partition.arn(ArnKind::ThingType, &name);
    let thing_type = match state.store.insert_thing_type(&thing_type).await? {
        Inserted::Created => {
            store_tags(&state, &arn, &tags).await?;
            thing_type
        }
        // Tags are not part of the comparison: they are managed apart (TagResource), and a
        // repeated create must not change them.
        Inserted::Exists(existing)
            if existing.description == thing_type.description
                && existing.searchable_attributes == thing_type.searchable_attributes =>
        {
            existing
        }
        Inserted::Exists(existing) => {
            return Err(ApiError::already_exists(
                format!("Thing Type {name} already exists in account with different properties"),
                &existing.id,
                &arn,
            ));
        }
    };
    Ok(Json(CreateThingTypeResponse {
        thing_type_name: thing_type.name,
        thing_type_arn: arn,
        thing_type_id: thing_type.id,
    }))
}

/// `GET /thing-types/{thingTypeName}`.
pub(crate) async fn describe_thing_type(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<ThingTypeDescription>, ApiError> {
    THING_TYPE_NAME.check(&name)?;
    let thing_type = existing(&state, &name).await?;
    Ok(Json(describe(&state, thing_type, true)))
}

/// `GET /thing-types`: thing types in name order, or only the one named by `thingTypeName`.
pub(crate) async fn list_thing_types(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListThingTypesQuery>,
) -> Result<Json<ListThingTypesResponse>, ApiError> {
    let limit = page_size("maxResults", query.max_results.as_deref(), 250, 50)?;
    if let Some(name) = &query.thing_type_name {
        THING_TYPE_NAME.check(name)?;
    }
    let page = state
        .store
        .list_thing_types(
            query.thing_type_name.as_deref(),
            &PageRequest::ascending(query.next_token, limit),
        )
        .await?;
    Ok(Json(ListThingTypesResponse {
        thing_types: page
            .items
            .into_iter()
            .map(|thing_type| describe(&state, thing_type, false))
            .collect(),
        next_token: page.next,
    }))
}

/// `PATCH /thing-types/{thingTypeName}`: the given properties replace the stored ones; those
/// not given are kept.
pub(crate) async fn update_thing_type(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<UpdateThingTypeRequest>,
) -> Result<Json<Value>, ApiError> {
    THING_TYPE_NAME.check(&name)?;
    let properties = check_properties(request.thing_type_properties)?;
    let mut thing_type = existing(&state, &name).await?;
    if let Some(description) = properties.description {
        thing_type.description = Some(description);
    }
    if let Some(attributes) = properties.searchable_attributes {
        thing_type.searchable_attributes = attributes;
    }
    replace(&state, &thing_type).await?;
    Ok(Json(json!({})))
}

/// `POST /thing-types/{thingTypeName}/deprecate`: deprecates a thing type (no new things may
/// use it), or with `undoDeprecate` makes it usable again.
pub(crate) async fn deprecate_thing_type(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<DeprecateThingTypeRequest>,
) -> Result<Json<Value>, ApiError> {
    THING_TYPE_NAME.check(&name)?;
    let mut thing_type = existing(&state, &name).await?;
    let deprecated = if request.undo_deprecate.unwrap_or(false) {
        None
    } else {
        // Deprecating again keeps the first date: the type has been deprecated since then.
        Some(thing_type.deprecated.unwrap_or_else(Timestamp::now))
    };
    if thing_type.deprecated != deprecated {
        thing_type.deprecated = deprecated;
        replace(&state, &thing_type).await?;
    }
    Ok(Json(json!({})))
}

/// `DELETE /thing-types/{thingTypeName}`: only a deprecated type with no things. AWS also
/// makes callers wait five minutes after deprecating; thingd does not, since nothing here
/// propagates asynchronously.
pub(crate) async fn delete_thing_type(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    THING_TYPE_NAME.check(&name)?;
    let thing_type = existing(&state, &name).await?;
    if thing_type.deprecated.is_none() {
        return Err(ApiError::invalid_request(format!(
            "Thing type {name} must be deprecated before it can be deleted."
        )));
    }
    let things = state.store.count_things_of_type(&name).await?;
    if things > 0 {
        return Err(ApiError::invalid_request(format!(
            "Can not delete thing type {name}: {things} things are still associated with it."
        )));
    }
    state.store.delete_thing_type(&name).await?;
    remove_all_tags(&state, &state.partition.arn(ArnKind::ThingType, &name)).await?;
    Ok(Json(json!({})))
}
