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

use crate::error::ApiError;
use crate::extract::{AwsPath, AwsQuery, missing, not_in_enum, page_size};
use crate::paging::{all_items, with_next_token};
use crate::state::{ApiState, AuthorizationChange};
use crate::things::existing_thing;

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
    all_items(1000, |page| async move {
        state.store.things_of_principal(principal, &page).await
    })
    .await
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
    existing_thing(&state, &thing).await?;
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
            announce_attachment(&state, thing, principal);
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
    existing_thing(&state, &thing).await?;
    if state.store.detach_principal(&thing, &principal).await? {
        announce_attachment(&state, thing, principal);
    }
    Ok(Json(json!({})))
}

/// Announces that a principal was attached to or detached from a thing: connections with the
/// thing's name as client id resolve to another thing (or none), and the certificate's
/// connections too.
fn announce_attachment(state: &ApiState, thing: String, principal: String) {
    state
        .events
        .authorization_changed(&AuthorizationChange::Thing(thing));
    state
        .events
        .authorization_changed(&AuthorizationChange::Target(principal));
}

/// `maxResults` of the principal lists.
fn max_results(query: &ListQuery) -> Result<usize, ApiError> {
    page_size(
        "maxResults",
        query.max_results.as_deref(),
        MAX_RESULTS,
        DEFAULT_MAX_RESULTS,
    )
}

/// One page of a list of attachments (a thing or a principal, and whether it is exclusive),
/// only those of the type `only` if given: store pages are read until the page is full or the
/// list ends, and the token is always the store's own.
async fn attachments<F, Fut>(
    query: &ListQuery,
    limit: usize,
    only: Option<bool>,
    mut fetch: F,
) -> Result<Page<(String, bool)>, ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<(String, bool)>, StoreError>>,
{
    let mut items = Vec::new();
    let mut after = query.next_token.clone();
    loop {
        let page = fetch(PageRequest::ascending(after, limit - items.len())).await?;
        items.extend(
            page.items
                .into_iter()
                .filter(|(_, exclusive)| only.is_none_or(|only| only == *exclusive)),
        );
        match page.next {
            Some(next) if items.len() < limit => after = Some(next),
            next => return Ok(Page { items, next }),
        }
    }
}

/// The answer of a first-version list: the names only, as `list`.
fn names_json(list: &str, page: Page<(String, bool)>) -> Value {
    let names: Vec<&str> = page.items.iter().map(|(name, _)| name.as_str()).collect();
    with_next_token(json!({ list: names }), page.next)
}

/// The answer of a V2 list: objects with the name as `member` and the attachment's type, as
/// `list`.
fn objects_json(list: &str, member: &str, page: Page<(String, bool)>) -> Value {
    let objects: Vec<Value> = page
        .items
        .iter()
        .map(|(name, exclusive)| {
            json!({ member: name, "thingPrincipalType": type_name(*exclusive) })
        })
        .collect();
    with_next_token(json!({ list: objects }), page.next)
}

async fn thing_principals(
    state: &ApiState,
    thing: &str,
    query: &ListQuery,
    only: Option<bool>,
) -> Result<Page<(String, bool)>, ApiError> {
    THING_NAME.check(thing)?;
    let limit = max_results(query)?;
    if state.store.thing(thing).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "Failed to list principals for thing {thing} because the thing does not exist in \
             your account"
        )));
    }
    attachments(query, limit, only, |page| async move {
        state.store.principals_of_thing(thing, &page).await
    })
    .await
}

/// `GET /things/{thingName}/principals?nextToken=&maxResults=`.
pub(crate) async fn list_thing_principals(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = thing_principals(&state, &thing, &query, None).await?;
    Ok(Json(names_json("principals", page)))
}

/// `GET /things/{thingName}/principals-v2?nextToken=&maxResults=&thingPrincipalType=`.
pub(crate) async fn list_thing_principals_v2(
    State(state): State<ApiState>,
    AwsPath(thing): AwsPath<String>,
    AwsQuery(query): AwsQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let only = parse_type(query.thing_principal_type.as_deref())?;
    let page = thing_principals(&state, &thing, &query, only).await?;
    Ok(Json(objects_json(
        "thingPrincipalObjects",
        "principal",
        page,
    )))
}

async fn principal_things(
    state: &ApiState,
    headers: &HeaderMap,
    query: &ListQuery,
    only: Option<bool>,
) -> Result<Page<(String, bool)>, ApiError> {
    let limit = max_results(query)?;
    let (principal, id) = certificate_principal(state, headers)?;
    require_certificate(state, &id).await?;
    let principal = principal.as_str();
    attachments(query, limit, only, |page| async move {
        state.store.things_of_principal(principal, &page).await
    })
    .await
}

/// `GET /principals/things?nextToken=&maxResults=` with `x-amzn-principal`.
pub(crate) async fn list_principal_things(
    State(state): State<ApiState>,
    AwsQuery(query): AwsQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let page = principal_things(&state, &headers, &query, None).await?;
    Ok(Json(names_json("things", page)))
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
    Ok(Json(objects_json(
        "principalThingObjects",
        "thingName",
        page,
    )))
}
