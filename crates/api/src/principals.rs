//! Thing principals (AWS IoT §3.4): AttachThingPrincipal, DetachThingPrincipal,
//! ListThingPrincipals(V2) and ListPrincipalThings(V2).
//!
//! A principal is a certificate ARN of this thingd's region and account, given in the
//! `x-amzn-principal` header; thingd has no Amazon Cognito identities. It is kept in its
//! canonical form (`arn:aws:iot:{region}:{account}:cert/{lowercase id}`), which is also what the
//! broker looks up when a certificate connects.
//!
//! An `EXCLUSIVE_THING` attachment makes its thing the only one the principal is attached to:
//! attaching the principal exclusively while it is attached to another thing, or attaching it
//! to another thing while it is attached exclusively, is `InvalidRequestException`. Attaching it
//! again to the same thing is idempotent; with an explicit `thingPrincipalType` it changes the
//! attachment's type.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use thingd_registry::{Arn, ArnKind, CERTIFICATE_ID, Page, PageRequest, StoreError, THING_NAME};

use crate::certificates::{missing, not_in_enum};
use crate::error::ApiError;
use crate::extract::{AwsPath, AwsQuery, page_size};
use crate::state::ApiState;

/// The routes of this family.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/things/{thingName}/principals",
            get(list_thing_principals)
                .put(attach_thing_principal)
                .delete(detach_thing_principal),
        )
        .route(
            "/things/{thingName}/principals-v2",
            get(list_thing_principals_v2),
        )
        .route("/principals/things", get(list_principal_things))
        .route("/principals/things-v2", get(list_principal_things_v2))
}

/// The header that carries the principal.
const PRINCIPAL_HEADER: &str = "x-amzn-principal";
/// The default page size of the principal lists.
const DEFAULT_MAX_RESULTS: usize = 25;
/// The largest page size they accept.
const MAX_RESULTS: usize = 250;

const EXCLUSIVE: &str = "EXCLUSIVE_THING";
const NON_EXCLUSIVE: &str = "NON_EXCLUSIVE_THING";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrincipalTypeQuery {
    thing_principal_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    next_token: Option<String>,
    max_results: Option<String>,
    thing_principal_type: Option<String>,
}

fn type_name(exclusive: bool) -> &'static str {
    if exclusive { EXCLUSIVE } else { NON_EXCLUSIVE }
}

/// `thingPrincipalType`: whether it says exclusive, if given.
fn parse_type(value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some(EXCLUSIVE) => Ok(Some(true)),
        Some(NON_EXCLUSIVE) => Ok(Some(false)),
        Some(other) => Err(not_in_enum(
            "thingPrincipalType",
            other,
            "[EXCLUSIVE_THING, NON_EXCLUSIVE_THING]",
        )),
    }
}

fn thing_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Thing {name} cannot be found."))
}

async fn require_thing(state: &ApiState, name: &str) -> Result<(), ApiError> {
    THING_NAME.check(name)?;
    match state.store.thing(name).await? {
        Some(_) => Ok(()),
        None => Err(thing_not_found(name)),
    }
}

/// A certificate principal from the `x-amzn-principal` header: its canonical ARN and its
/// certificate id.
fn certificate_principal(
    state: &ApiState,
    headers: &HeaderMap,
) -> Result<(String, String), ApiError> {
    let text = headers
        .get(PRINCIPAL_HEADER)
        .ok_or_else(|| missing("principal"))?
        .to_str()
        .map_err(|_| ApiError::invalid_request("The principal header is not valid text."))?;
    let arn = Arn::parse(text)
        .filter(|arn| arn.kind == ArnKind::Certificate)
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "The principal {text} is not a certificate ARN \
                 (arn:aws:iot:{{region}}:{{account}}:cert/{{certificateId}}); thingd supports \
                 only certificate principals."
            ))
        })?;
    if !arn.is_in(&state.partition) {
        return Err(ApiError::invalid_request(format!(
            "The principal {text} belongs to another region or account; this endpoint is \
             region {} and account {}.",
            state.partition.region, state.partition.account
        )));
    }
    CERTIFICATE_ID.check_as("principal", &arn.name)?;
    let id = arn.name.to_ascii_lowercase();
    Ok((state.partition.arn(ArnKind::Certificate, &id), id))
}

/// The principal's certificate must be registered.
async fn require_certificate(state: &ApiState, id: &str) -> Result<(), ApiError> {
    match state.store.certificate(id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(
            "The certificate given in the principal does not exist.",
        )),
    }
}

/// Every (thing, exclusive) attachment of a principal.
async fn all_things_of(state: &ApiState, principal: &str) -> Result<Vec<(String, bool)>, ApiError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .things_of_principal(
                principal,
                &PageRequest {
                    after,
                    limit: 1000,
                    ascending: true,
                },
            )
            .await?;
        all.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

/// `PUT /things/{thingName}/principals?thingPrincipalType=` with `x-amzn-principal`.
pub(crate) async fn attach_thing_principal(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<PrincipalTypeQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    THING_NAME.check(&thing)?;
    let requested = parse_type(query.thing_principal_type.as_deref())?;
    let (principal, id) = certificate_principal(&state, &headers)?;
    require_thing(&state, &thing).await?;
    require_certificate(&state, &id).await?;

    let attachments = all_things_of(&state, &principal).await?;
    let current = attachments
        .iter()
        .find(|(name, _)| *name == thing)
        .map(|(_, exclusive)| *exclusive);
    if let Some((other, _)) = attachments
        .iter()
        .find(|(name, exclusive)| *exclusive && *name != thing)
    {
        return Err(ApiError::invalid_request(format!(
            "The principal {principal} is attached exclusively (EXCLUSIVE_THING) to the thing \
             {other}; detach it from {other} first."
        )));
    }
    if requested == Some(true)
        && let Some((other, _)) = attachments.iter().find(|(name, _)| *name != thing)
    {
        return Err(ApiError::invalid_request(format!(
            "The principal {principal} cannot be attached exclusively (EXCLUSIVE_THING) to \
             {thing}: it is attached to the thing {other} too."
        )));
    }
    match (current, requested) {
        (None, requested) => {
            state
                .store
                .attach_principal(&thing, &principal, requested.unwrap_or(false))
                .await?;
        }
        (Some(exclusive), Some(requested)) if exclusive != requested => {
            // The store keeps the first attachment; changing its type is detach and attach.
            state.store.detach_principal(&thing, &principal).await?;
            state
                .store
                .attach_principal(&thing, &principal, requested)
                .await?;
        }
        (Some(_), _) => {}
    }
    Ok(Json(json!({})))
}

/// `DELETE /things/{thingName}/principals` with `x-amzn-principal`: succeeds whether or not the
/// principal was attached.
pub(crate) async fn detach_thing_principal(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    THING_NAME.check(&thing)?;
    let (principal, _) = certificate_principal(&state, &headers)?;
    require_thing(&state, &thing).await?;
    state.store.detach_principal(&thing, &principal).await?;
    Ok(Json(json!({})))
}

/// One page of a list whose items pass `keep`: store pages are read until the page is full or
/// the list ends, and the token is always the store's own.
async fn filtered_page<T, F, Fut>(
    first: Option<String>,
    limit: usize,
    mut fetch: F,
    keep: impl Fn(&T) -> bool,
) -> Result<Page<T>, ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let mut items = Vec::new();
    let mut after = first;
    loop {
        let page = fetch(PageRequest {
            after,
            limit: limit - items.len(),
            ascending: true,
        })
        .await?;
        items.extend(page.items.into_iter().filter(|item| keep(item)));
        match page.next {
            Some(next) if items.len() < limit => after = Some(next),
            next => return Ok(Page { items, next }),
        }
    }
}

async fn thing_principals(
    state: &ApiState,
    thing: &str,
    query: &ListQuery,
    only: Option<bool>,
) -> Result<Page<(String, bool)>, ApiError> {
    THING_NAME.check(thing)?;
    let limit = page_size(
        "maxResults",
        query.max_results.as_deref(),
        MAX_RESULTS,
        DEFAULT_MAX_RESULTS,
    )?;
    if state.store.thing(thing).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "Failed to list principals for thing {thing} because the thing does not exist in \
             your account"
        )));
    }
    filtered_page(
        query.next_token.clone(),
        limit,
        |page| async move { state.store.principals_of_thing(thing, &page).await },
        |(_, exclusive)| only.is_none_or(|only| only == *exclusive),
    )
    .await
}

fn with_token(mut body: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        body["nextToken"] = Value::from(next);
    }
    body
}

/// `GET /things/{thingName}/principals?nextToken=&maxResults=`.
pub(crate) async fn list_thing_principals(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = thing_principals(&state, &thing, &query, None).await?;
    let principals: Vec<&str> = page.items.iter().map(|(p, _)| p.as_str()).collect();
    Ok(Json(with_token(
        json!({ "principals": principals }),
        page.next,
    )))
}

/// `GET /things/{thingName}/principals-v2?nextToken=&maxResults=&thingPrincipalType=`.
pub(crate) async fn list_thing_principals_v2(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let only = parse_type(query.thing_principal_type.as_deref())?;
    let page = thing_principals(&state, &thing, &query, only).await?;
    let objects: Vec<Value> = page
        .items
        .iter()
        .map(|(principal, exclusive)| {
            json!({ "principal": principal, "thingPrincipalType": type_name(*exclusive) })
        })
        .collect();
    Ok(Json(with_token(
        json!({ "thingPrincipalObjects": objects }),
        page.next,
    )))
}

async fn principal_things(
    state: &ApiState,
    headers: &HeaderMap,
    query: &ListQuery,
    only: Option<bool>,
) -> Result<Page<(String, bool)>, ApiError> {
    let limit = page_size(
        "maxResults",
        query.max_results.as_deref(),
        MAX_RESULTS,
        DEFAULT_MAX_RESULTS,
    )?;
    let (principal, id) = certificate_principal(state, headers)?;
    require_certificate(state, &id).await?;
    let principal = principal.as_str();
    filtered_page(
        query.next_token.clone(),
        limit,
        |page| async move { state.store.things_of_principal(principal, &page).await },
        |(_, exclusive)| only.is_none_or(|only| only == *exclusive),
    )
    .await
}

/// `GET /principals/things?nextToken=&maxResults=` with `x-amzn-principal`.
pub(crate) async fn list_principal_things(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let page = principal_things(&state, &headers, &query, None).await?;
    let things: Vec<&str> = page.items.iter().map(|(t, _)| t.as_str()).collect();
    Ok(Json(with_token(json!({ "things": things }), page.next)))
}

/// `GET /principals/things-v2?nextToken=&maxResults=&thingPrincipalType=` with
/// `x-amzn-principal`.
pub(crate) async fn list_principal_things_v2(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let only = parse_type(query.thing_principal_type.as_deref())?;
    let page = principal_things(&state, &headers, &query, only).await?;
    let objects: Vec<Value> = page
        .items
        .iter()
        .map(|(thing, exclusive)| {
            json!({ "thingName": thing, "thingPrincipalType": type_name(*exclusive) })
        })
        .collect();
    Ok(Json(with_token(
        json!({ "principalThingObjects": objects }),
        page.next,
    )))
}
