//! Things: CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings (AWS IoT §2.1).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingd_registry::{
    ATTRIBUTE_NAME, ATTRIBUTE_VALUE, ArnKind, Attributes, Inserted, MAX_ATTRIBUTES_WITH_TYPE,
    MAX_ATTRIBUTES_WITHOUT_TYPE, PageRequest, THING_NAME, THING_TYPE_NAME, Thing, ThingFilter,
    Timestamp,
};

use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery, page_size, parse_bool};
use crate::state::ApiState;

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/things", get(list_things)).route(
        "/things/{thingName}",
        get(describe_thing)
            .post(create_thing)
            .patch(update_thing)
            .delete(delete_thing),
    )
}

/// `attributePayload` of CreateThing and UpdateThing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttributePayload {
    #[serde(default)]
    attributes: Option<Attributes>,
    #[serde(default)]
    merge: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingRequest {
    thing_type_name: Option<String>,
    attribute_payload: Option<AttributePayload>,
    billing_group_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateThingResponse {
    thing_name: String,
    thing_arn: String,
    thing_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateThingRequest {
    thing_type_name: Option<String>,
    attribute_payload: Option<AttributePayload>,
    expected_version: Option<i64>,
    remove_thing_type: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteThingQuery {
    expected_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListThingsQuery {
    next_token: Option<String>,
    max_results: Option<String>,
    attribute_name: Option<String>,
    attribute_value: Option<String>,
    thing_type_name: Option<String>,
    use_prefix_attribute_value: Option<String>,
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Thing {name} cannot be found."))
}

fn check_attributes(attributes: &Attributes) -> Result<(), ApiError> {
    for (name, value) in attributes {
        ATTRIBUTE_NAME.check_as("attributePayload.attributes", name)?;
        ATTRIBUTE_VALUE.check_as(&format!("attributePayload.attributes.{name}"), value)?;
    }
    Ok(())
}

fn check_attribute_count(attributes: &Attributes, typed: bool) -> Result<(), ApiError> {
    let max = if typed {
        MAX_ATTRIBUTES_WITH_TYPE
    } else {
        MAX_ATTRIBUTES_WITHOUT_TYPE
    };
    if attributes.len() > max {
        return Err(ApiError::invalid_request(format!(
            "A thing {} can have at most {max} attributes; this one would have {}.",
            if typed {
                "with a thing type"
            } else {
                "without a thing type"
            },
            attributes.len()
        )));
    }
    Ok(())
}

/// The thing type of a create or update: it must exist and not be deprecated.
async fn usable_thing_type(state: &ApiState, name: &str) -> Result<(), ApiError> {
    THING_TYPE_NAME.check(name)?;
    match state.store.thing_type(name).await? {
        None => Err(ApiError::not_found(format!(
            "Thing type {name} does not exist."
        ))),
        Some(thing_type) if thing_type.deprecated.is_some() => Err(ApiError::invalid_request(
            format!("Can not create or update a thing with the deprecated thing type {name}."),
        )),
        Some(_) => Ok(()),
    }
}

pub(crate) fn thing_json(state: &ApiState, thing: &Thing) -> Value {
    let mut value = json!({
        "defaultClientId": thing.name,
        "thingName": thing.name,
        "thingId": thing.id,
        "thingArn": state.partition.arn(ArnKind::Thing, &thing.name),
        "attributes": thing.attributes,
        "version": thing.version,
    });
    if let Some(thing_type) = &thing.thing_type {
        value["thingTypeName"] = Value::from(thing_type.as_str());
    }
    value
}

/// `POST /things/{thingName}`: creates a thing; creating it again with the same type and
/// attributes returns it, with anything else is `ResourceAlreadyExistsException`.
pub(crate) async fn create_thing(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<CreateThingRequest>,
) -> Result<Json<CreateThingResponse>, ApiError> {
    THING_NAME.check(&name)?;
    if let Some(group) = &request.billing_group_name {
        return Err(ApiError::not_found(format!(
            "Billing group {group} does not exist."
        )));
    }
    if let Some(thing_type) = &request.thing_type_name {
        usable_thing_type(&state, thing_type).await?;
    }
    let attributes = request
        .attribute_payload
        .and_then(|p| p.attributes)
        .unwrap_or_default();
    check_attributes(&attributes)?;
    check_attribute_count(&attributes, request.thing_type_name.is_some())?;
    let thing = Thing {
        name: name.clone(),
        id: uuid::Uuid::new_v4().to_string(),
        thing_type: request.thing_type_name,
        attributes,
        version: 1,
        created: Timestamp::now(),
    };
    let arn = state.partition.arn(ArnKind::Thing, &name);
    let thing = match state.store.insert_thing(&thing).await? {
        Inserted::Created => thing,
        Inserted::Exists(existing)
            if existing.thing_type == thing.thing_type
                && existing.attributes == thing.attributes =>
        {
            existing
        }
        Inserted::Exists(existing) => {
            return Err(ApiError::already_exists(
                format!("Thing {name} already exists in account with different attributes"),
                &existing.id,
                &arn,
            ));
        }
    };
    Ok(Json(CreateThingResponse {
        thing_name: thing.name,
        thing_arn: arn,
        thing_id: thing.id,
    }))
}

/// `GET /things/{thingName}`.
pub(crate) async fn describe_thing(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
) -> Result<Json<Value>, ApiError> {
    THING_NAME.check(&name)?;
    let thing = state
        .store
        .thing(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(thing_json(&state, &thing)))
}

/// `PATCH /things/{thingName}`: changes the type and attributes; `expectedVersion` guards
/// against concurrent updates.
pub(crate) async fn update_thing(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsJson(request): AwsJson<UpdateThingRequest>,
) -> Result<Json<Value>, ApiError> {
    THING_NAME.check(&name)?;
    let remove_type = request.remove_thing_type.unwrap_or(false);
    if remove_type && request.thing_type_name.is_some() {
        return Err(ApiError::invalid_request(
            "removeThingType cannot be true when a thingTypeName is given.",
        ));
    }
    if let Some(thing_type) = &request.thing_type_name {
        usable_thing_type(&state, thing_type).await?;
    }
    let payload = request.attribute_payload.unwrap_or_default();
    if let Some(attributes) = &payload.attributes {
        // With merge, an empty value removes the attribute, so it is allowed here.
        check_attributes(attributes)?;
    }
    // Read, change, and write back only if nobody changed it meanwhile; retried when a
    // concurrent update wins and the caller did not ask for a specific version.
    loop {
        let current = state
            .store
            .thing(&name)
            .await?
            .ok_or_else(|| not_found(&name))?;
        if request
            .expected_version
            .is_some_and(|expected| expected != current.version)
        {
            return Err(ApiError::version_conflict(format!(
                "The version for thing {name} does not match the expected version."
            )));
        }
        let mut updated = current.clone();
        if remove_type {
            updated.thing_type = None;
        } else if let Some(thing_type) = &request.thing_type_name {
            updated.thing_type = Some(thing_type.clone());
        }
        if let Some(attributes) = &payload.attributes {
            if payload.merge.unwrap_or(false) {
                for (key, value) in attributes {
                    if value.is_empty() {
                        updated.attributes.remove(key);
                    } else {
                        updated.attributes.insert(key.clone(), value.clone());
                    }
                }
            } else {
                updated.attributes = attributes.clone();
            }
        }
        check_attribute_count(&updated.attributes, updated.thing_type.is_some())?;
        updated.version = current.version + 1;
        if state.store.replace_thing(&updated, current.version).await? {
            return Ok(Json(json!({})));
        }
        if request.expected_version.is_some() {
            return Err(ApiError::version_conflict(format!(
                "The version for thing {name} does not match the expected version."
            )));
        }
    }
}

/// `DELETE /things/{thingName}`: deleting a thing that does not exist succeeds; one with
/// principals attached is refused.
pub(crate) async fn delete_thing(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<DeleteThingQuery>,
) -> Result<Json<Value>, ApiError> {
    THING_NAME.check(&name)?;
    let expected = match query.expected_version.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::invalid_request(format!("expectedVersion must be a number, not {text:?}"))
        })?),
    };
    let Some(current) = state.store.thing(&name).await? else {
        return Ok(Json(json!({})));
    };
    if expected.is_some_and(|e| e != current.version) {
        return Err(ApiError::version_conflict(format!(
            "The version for thing {name} does not match the expected version."
        )));
    }
    let principals = state
        .store
        .principals_of_thing(
            &name,
            &PageRequest {
                after: None,
                limit: 1,
                ascending: true,
            },
        )
        .await?;
    if !principals.items.is_empty() {
        return Err(ApiError::invalid_request(format!(
            "Cannot delete. Thing {name} is still attached to one or more principals"
        )));
    }
    state.store.delete_thing(&name).await?;
    let arn = state.partition.arn(ArnKind::Thing, &name);
    let tags = state
        .store
        .tags_of(
            &arn,
            &PageRequest {
                after: None,
                limit: 1000,
                ascending: true,
            },
        )
        .await?;
    if !tags.items.is_empty() {
        let keys: Vec<String> = tags.items.into_iter().map(|t| t.key).collect();
        state.store.untag_resource(&arn, &keys).await?;
    }
    Ok(Json(json!({})))
}

/// `GET /things`: things in name order, filtered by type or by an attribute.
pub(crate) async fn list_things(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListThingsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_size("maxResults", query.max_results.as_deref(), 250, 50)?;
    let prefix = parse_bool(
        "usePrefixAttributeValue",
        query.use_prefix_attribute_value.as_deref(),
    )?
    .unwrap_or(false);
    if query.attribute_value.is_some() && query.attribute_name.is_none() {
        return Err(ApiError::invalid_request(
            "attributeValue requires attributeName.",
        ));
    }
    if let Some(name) = &query.attribute_name {
        ATTRIBUTE_NAME.check(name)?;
    }
    if let Some(thing_type) = &query.thing_type_name {
        THING_TYPE_NAME.check(thing_type)?;
    }
    let filter = ThingFilter {
        attribute_name: query.attribute_name,
        attribute_value: query.attribute_value,
        attribute_value_prefix: prefix,
        thing_type: query.thing_type_name,
    };
    let page = state
        .store
        .list_things(
            &filter,
            &PageRequest {
                after: query.next_token,
                limit,
                ascending: true,
            },
        )
        .await?;
    let things: Vec<Value> = page
        .items
        .iter()
        .map(|thing| {
            let mut value = json!({
                "thingName": thing.name,
                "thingArn": state.partition.arn(ArnKind::Thing, &thing.name),
                "attributes": thing.attributes,
                "version": thing.version,
            });
            if let Some(thing_type) = &thing.thing_type {
                value["thingTypeName"] = Value::from(thing_type.as_str());
            }
            value
        })
        .collect();
    let mut body = json!({ "things": things });
    if let Some(next) = page.next {
        body["nextToken"] = Value::from(next);
    }
    Ok(Json(body))
}
