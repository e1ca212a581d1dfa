//! Things: CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings (AWS IoT §2.1).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingd_registry::{
    ATTRIBUTE_NAME, ArnKind, Attributes, Inserted, MAX_ATTRIBUTES_WITH_TYPE,
    MAX_ATTRIBUTES_WITHOUT_TYPE, PageRequest, THING_NAME, THING_TYPE_NAME, Thing, ThingFilter,
    Timestamp,
};

use crate::attributes::{AttributePayload, check_attributes};
use crate::error::ApiError;
use crate::extract::{AwsJson, AwsPath, AwsQuery, ExpectedVersionQuery, page_size, parse_bool};
use crate::paging::with_next_token;
use crate::state::{ApiState, AuthorizationChange};
use crate::tags::remove_all_tags;
use crate::versioned::update_versioned;

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
pub(crate) struct ListThingsQuery {
    next_token: Option<String>,
    max_results: Option<String>,
    attribute_name: Option<String>,
    attribute_value: Option<String>,
    thing_type_name: Option<String>,
    use_prefix_attribute_value: Option<String>,
}

/// The member that holds a thing's attributes, in messages.
const ATTRIBUTES_FIELD: &str = "attributePayload.attributes";

pub(crate) fn thing_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Thing {name} cannot be found."))
}

/// The thing with this name, which is checked first.
pub(crate) async fn existing_thing(state: &ApiState, name: &str) -> Result<Thing, ApiError> {
    THING_NAME.check(name)?;
    state
        .store
        .thing(name)
        .await?
        .ok_or_else(|| thing_not_found(name))
}

fn version_conflict(name: &str) -> ApiError {
    ApiError::version_conflict(format!(
        "The version for thing {name} does not match the expected version."
    ))
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

/// A thing as ListThings lists it (`ThingAttribute`).
fn thing_summary_json(state: &ApiState, thing: &Thing) -> Value {
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
}

/// A thing as DescribeThing answers it.
pub(crate) fn thing_json(state: &ApiState, thing: &Thing) -> Value {
    let mut value = thing_summary_json(state, thing);
    value["defaultClientId"] = Value::from(thing.name.as_str());
    value["thingId"] = Value::from(thing.id.as_str());
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
    check_attributes(ATTRIBUTES_FIELD, &attributes)?;
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
        Inserted::Created => {
            // A connection whose client id is this name may now resolve to the thing.
            state
                .events
                .authorization_changed(&AuthorizationChange::Thing(name.clone()));
            thing
        }
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
    let thing = existing_thing(&state, &name).await?;
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
        check_attributes(ATTRIBUTES_FIELD, attributes)?;
    }
    let store = &state.store;
    update_versioned(
        request
            .expected_version
            .map(|expected| (expected, version_conflict(&name))),
        || existing_thing(&state, &name),
        |current: &Thing| {
            let mut updated = current.clone();
            if remove_type {
                updated.thing_type = None;
            } else if let Some(thing_type) = &request.thing_type_name {
                updated.thing_type = Some(thing_type.clone());
            }
            payload.apply_to(&mut updated.attributes);
            check_attribute_count(&updated.attributes, updated.thing_type.is_some())?;
            updated.version = current.version + 1;
            Ok(Some(updated))
        },
        |updated, expected| async move { store.replace_thing(&updated, expected).await },
    )
    .await?;
    // Policies may refer to the thing's type and attributes.
    state
        .events
        .authorization_changed(&AuthorizationChange::Thing(name));
    Ok(Json(json!({})))
}

/// `DELETE /things/{thingName}`: deleting a thing that does not exist succeeds; one with
/// principals attached is refused.
pub(crate) async fn delete_thing(
    State(state): State<ApiState>,
    AwsPath(name): AwsPath<String>,
    AwsQuery(query): AwsQuery<ExpectedVersionQuery>,
) -> Result<Json<Value>, ApiError> {
    THING_NAME.check(&name)?;
    let expected = query.expected_version()?;
    let Some(current) = state.store.thing(&name).await? else {
        return Ok(Json(json!({})));
    };
    if expected.is_some_and(|e| e != current.version) {
        return Err(version_conflict(&name));
    }
    let principals = state
        .store
        .principals_of_thing(&name, &PageRequest::ascending(None, 1))
        .await?;
    if !principals.items.is_empty() {
        return Err(ApiError::invalid_request(format!(
            "Cannot delete. Thing {name} is still attached to one or more principals"
        )));
    }
    state.store.delete_thing(&name).await?;
    remove_all_tags(&state, &state.partition.arn(ArnKind::Thing, &name)).await?;
    state
        .events
        .authorization_changed(&AuthorizationChange::Thing(name));
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
        .list_things(&filter, &PageRequest::ascending(query.next_token, limit))
        .await?;
    let things: Vec<Value> = page
        .items
        .iter()
        .map(|thing| thing_summary_json(&state, thing))
        .collect();
    Ok(Json(with_next_token(
        json!({ "things": things }),
        page.next,
    )))
}
