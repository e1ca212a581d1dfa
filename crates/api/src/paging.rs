//! Reading the store's paged lists: a whole list, page by page, and the `nextToken` of an
//! answer.

use std::future::Future;

use serde_json::Value;
use thingd_registry::{Page, PageRequest, StoreError};

use crate::error::ApiError;

/// Reads a store list from its start to its end, `limit` items a page, handing each page's
/// items to `each`.
pub(crate) async fn each_page<T, F, Fut>(
    limit: usize,
    mut fetch: F,
    mut each: impl FnMut(Vec<T>),
) -> Result<(), ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut after = None;
    loop {
        let page = fetch(PageRequest::ascending(after, limit)).await?;
        each(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Every item of a store list, read `limit` items a page.
pub(crate) async fn all_items<T, F, Fut>(limit: usize, fetch: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut all = Vec::new();
    each_page(limit, fetch, |items| all.extend(items)).await?;
    Ok(all)
}

/// `body` with the `nextToken` of the next page, if one follows.
pub(crate) fn with_next_token(mut body: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        body["nextToken"] = Value::from(next);
    }
    body
}
