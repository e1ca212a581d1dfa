//! What the cases share: the backends' fixtures, value builders and the page walker that checks
//! a paged list against its full expected contents.

use std::fmt::Debug;

use tempfile::TempDir;
use thingd_registry::{
    AccessKey, Attributes, CaCertificate, CaStatus, Certificate, CertificateStatus, Inserted, Page,
    PageRequest, Store, StoreError, Tag, Thing, ThingGroup, ThingType, Timestamp,
};
use thingd_storage::SqliteStore;

/// A fresh, empty store of one backend, and whatever must live as long as it.
pub(crate) trait Fixture {
    /// The store under test.
    fn store(&self) -> &dyn Store;
}

/// A SQLite store, with the directory of its file if it has one.
pub(crate) struct SqliteFixture {
    store: SqliteStore,
    _dir: Option<TempDir>,
}

impl Fixture for SqliteFixture {
    fn store(&self) -> &dyn Store {
        &self.store
    }
}

/// An in-memory SQLite store.
pub(crate) async fn sqlite_memory() -> SqliteFixture {
    SqliteFixture {
        store: SqliteStore::memory().await.unwrap(),
        _dir: None,
    }
}

/// A SQLite store on a file in a fresh temporary directory.
pub(crate) async fn sqlite_file() -> SqliteFixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("thingd.db"))
        .await
        .unwrap();
    SqliteFixture {
        store,
        _dir: Some(dir),
    }
}

/// A first page of at most `limit`, ascending.
pub(crate) fn page(limit: usize) -> PageRequest {
    PageRequest {
        after: None,
        limit,
        ascending: true,
    }
}

/// A first page of at most `limit`, in either order.
pub(crate) fn ordered(limit: usize, ascending: bool) -> PageRequest {
    PageRequest {
        after: None,
        limit,
        ascending,
    }
}

/// A first page large enough for everything a case creates.
pub(crate) fn all() -> PageRequest {
    page(1000)
}

/// The limits every paged list is walked with: small ones that split it in many pages, and
/// `len` and `len + 1`, which fit it exactly and with room to spare.
pub(crate) fn limits(len: usize) -> Vec<usize> {
    let mut limits = vec![1, 2, 3, len.max(1), len + 1, 1000];
    limits.dedup();
    limits
}

/// Walks every page of a list with `limit`, checking each page's shape, and returns the union
/// in the order received.
///
/// Pins: no page holds more than `limit`; no page is empty unless the whole list is (a store
/// makes progress, and a list that fits its pages exactly has no trailing empty page); the last
/// page says so with `next == None`.
pub(crate) async fn walk<T: Debug>(
    limit: usize,
    ascending: bool,
    fetch: &mut impl AsyncFnMut(PageRequest) -> Result<Page<T>, StoreError>,
) -> Vec<T> {
    let mut items = Vec::new();
    let mut after = None;
    for _ in 0..10_000 {
        let request = PageRequest {
            after: after.take(),
            limit,
            ascending,
        };
        let Page { items: page, next } = fetch(request).await.unwrap();
        assert!(
            page.len() <= limit,
            "a page of {} with limit {limit}: {page:?}",
            page.len()
        );
        // Only the first page of an empty list is empty: a page is never empty because the
        // previous one happened to end exactly at the end.
        assert!(
            !page.is_empty() || (items.is_empty() && next.is_none()),
            "an empty page (next: {next:?}) after {items:?}"
        );
        items.extend(page);
        match next {
            None => return items,
            Some(token) => after = Some(token),
        }
    }
    panic!("more than 10,000 pages of {limit}: {items:?}");
}

/// Walks a list with every limit of [`limits`] and checks each walk yields exactly `expected`,
/// in its order, with no duplicates and nothing missing.
pub(crate) async fn assert_pages<T: Debug + PartialEq>(
    expected: &[T],
    ascending: bool,
    mut fetch: impl AsyncFnMut(PageRequest) -> Result<Page<T>, StoreError>,
) {
    for limit in limits(expected.len()) {
        let items = walk(limit, ascending, &mut fetch).await;
        assert_eq!(items, expected, "pages of {limit} (ascending: {ascending})");
    }
}

/// The items of a list that must fit one page (no `next`).
#[track_caller]
pub(crate) fn one_page<T: Debug>(page: Result<Page<T>, StoreError>) -> Vec<T> {
    let page = page.unwrap();
    assert_eq!(page.next, None, "{page:?}");
    page.items
}

/// Checks that a list is empty: no items, no next page.
#[track_caller]
pub(crate) fn assert_empty<T: Debug>(page: Result<Page<T>, StoreError>) {
    let page = page.unwrap();
    assert!(page.items.is_empty() && page.next.is_none(), "{page:?}");
}

/// Insert-if-absent: `original` is created once; inserting `other` (the same key, other
/// fields) or `original` again answers `Exists` with the stored original, and `read` still
/// finds `original`, unchanged.
pub(crate) async fn assert_insert_if_absent<T: Clone + Debug + PartialEq>(
    original: &T,
    other: &T,
    insert: impl AsyncFn(&T) -> Result<Inserted<T>, StoreError>,
    read: impl AsyncFn() -> Result<Option<T>, StoreError>,
) {
    assert_eq!(insert(original).await.unwrap(), Inserted::Created);
    for again in [other, original] {
        assert_eq!(
            insert(again).await.unwrap(),
            Inserted::Exists(original.clone())
        );
    }
    assert_eq!(read().await.unwrap().as_ref(), Some(original));
}

/// A missing record: none to read, none to replace (and replacing does not create it), none to
/// delete.
pub(crate) async fn assert_missing<T: Debug + PartialEq>(
    read: impl AsyncFn() -> Result<Option<T>, StoreError>,
    replace: impl AsyncFn() -> Result<bool, StoreError>,
    delete: impl AsyncFn() -> Result<bool, StoreError>,
) {
    assert_eq!(read().await.unwrap(), None);
    assert!(!replace().await.unwrap());
    assert_eq!(read().await.unwrap(), None, "replace must not create");
    assert!(!delete().await.unwrap());
    assert_eq!(read().await.unwrap(), None);
}

/// Of two replaces with the same `expected` version run at once, exactly one wins, and `read`
/// then finds the winner's record, whole. `case` names the case in failure messages.
pub(crate) async fn assert_one_replace_wins<T: Clone + Debug + PartialEq>(
    (left, right): (&T, &T),
    expected: i64,
    replace: impl AsyncFn(&T, i64) -> Result<bool, StoreError>,
    read: impl AsyncFn() -> Result<Option<T>, StoreError>,
    case: &str,
) {
    let (l, r) = tokio::join!(replace(left, expected), replace(right, expected));
    let (l, r) = (l.unwrap(), r.unwrap());
    assert!(l ^ r, "{case}: left {l}, right {r}");
    let winner = if l { left } else { right };
    assert_eq!(
        read().await.unwrap().as_ref(),
        Some(winner),
        "{case}: the winner's record, whole"
    );
}

/// A read racing a replace sees the record before or after it, never a mix (the row of one
/// version with the attributes of another): for 100 rounds, `version_of(round + 1)` replaces
/// `version_of(round)` while `read` reads it and `list` lists it; whatever they see must be
/// `version_of` the version it has. The store starts with `version_of(1)`.
pub(crate) async fn assert_reads_are_consistent<T: Debug + PartialEq>(
    version_of: impl Fn(i64) -> T,
    version: impl Fn(&T) -> i64,
    replace: impl AsyncFn(&T, i64) -> Result<bool, StoreError>,
    read: impl AsyncFn() -> Result<Option<T>, StoreError>,
    list: impl AsyncFn() -> Result<Page<T>, StoreError>,
) {
    let check = |seen: &T| assert_eq!(seen, &version_of(version(seen)), "a torn read");
    for round in 1..=100_i64 {
        let next = version_of(round + 1);
        let (replaced, one, listed) = tokio::join!(replace(&next, round), read(), list());
        assert!(replaced.unwrap());
        check(&one.unwrap().unwrap());
        listed.unwrap().items.iter().for_each(check);
    }
}

/// Tags `arn` with `k=v`; returns the tag.
pub(crate) async fn tag_with_k(store: &dyn Store, arn: &str) -> Tag {
    let tag = Tag {
        key: "k".into(),
        value: "v".into(),
    };
    store
        .tag_resource(arn, std::slice::from_ref(&tag))
        .await
        .unwrap();
    tag
}

/// Attributes from pairs.
pub(crate) fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Names whose byte order differs from case-insensitive or locale order (upper case before
/// lower case, `-` < `:` < `_`, digits compared as characters), inserted out of order.
pub(crate) const NAMES: [&str; 10] = [
    "thing-2", "a_b", "Z", "a-b", "thing-10", "a:b", "A", "b", "a", "B-1",
];

/// `names` in byte order, the order every name-ordered list has.
pub(crate) fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    names.sort();
    names
}

/// A thing with no type and no attributes, version 1.
pub(crate) fn thing(name: &str) -> Thing {
    Thing {
        name: name.to_owned(),
        id: format!("id-{name}"),
        thing_type: None,
        attributes: Attributes::new(),
        version: 1,
        created: Timestamp(1_700_000_000_000),
    }
}

/// A thing type with no description, no searchable attributes, not deprecated.
pub(crate) fn thing_type(name: &str) -> ThingType {
    ThingType {
        name: name.to_owned(),
        id: format!("type-id-{name}"),
        description: None,
        searchable_attributes: Vec::new(),
        deprecated: None,
        created: Timestamp(1_700_000_000_000),
    }
}

/// A thing group with no description and no attributes, version 1.
pub(crate) fn group(name: &str, parent: Option<&str>) -> ThingGroup {
    ThingGroup {
        name: name.to_owned(),
        id: format!("group-id-{name}"),
        parent: parent.map(str::to_owned),
        description: None,
        attributes: Attributes::new(),
        version: 1,
        created: Timestamp(1_700_000_000_000),
    }
}

/// A certificate id: 64 lowercase hex digits.
pub(crate) fn cert_id(n: u32) -> String {
    format!("{n:064x}")
}

/// An active certificate with no CA, version 1.
pub(crate) fn certificate(n: u32, created: i64) -> Certificate {
    Certificate {
        id: cert_id(n),
        pem: format!("-----BEGIN CERTIFICATE-----\ncert{n}\n-----END CERTIFICATE-----\n"),
        ca_certificate_id: None,
        status: CertificateStatus::Active,
        not_before: Timestamp(created - 1000),
        not_after: Timestamp(created + 365 * 86_400_000),
        created: Timestamp(created),
        last_modified: Timestamp(created),
        version: 1,
        generation_id: format!("gen-{n}-1"),
    }
}

/// An active CA certificate without auto-registration, version 1.
pub(crate) fn ca_certificate(n: u32, created: i64) -> CaCertificate {
    CaCertificate {
        id: cert_id(n),
        pem: format!("-----BEGIN CERTIFICATE-----\nca{n}\n-----END CERTIFICATE-----\n"),
        status: CaStatus::Active,
        auto_registration: false,
        not_before: Timestamp(created - 1000),
        not_after: Timestamp(created + 3650 * 86_400_000),
        created: Timestamp(created),
        last_modified: Timestamp(created),
        version: 1,
        generation_id: format!("ca-gen-{n}-1"),
    }
}

/// An access key.
pub(crate) fn access_key(id: &str, created: i64) -> AccessKey {
    AccessKey {
        access_key_id: id.to_owned(),
        secret_access_key: format!("secret-of-{id}"),
        user: "admin".to_owned(),
        created: Timestamp(created),
    }
}
