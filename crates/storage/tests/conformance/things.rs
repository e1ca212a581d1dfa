//! `ThingStore`: things and their attributes.

use thingd_registry::{Inserted, Store, Thing, ThingFilter, Timestamp};

use crate::support::{
    NAMES, all, assert_empty, assert_insert_if_absent, assert_missing, assert_one_replace_wins,
    assert_pages, assert_reads_are_consistent, attrs, group, one_page, sorted, tag_with_k, thing,
};

/// A filter on type and attribute.
fn filter(
    thing_type: Option<&str>,
    name: Option<&str>,
    value: Option<&str>,
    prefix: bool,
) -> ThingFilter {
    ThingFilter {
        attribute_name: name.map(str::to_owned),
        attribute_value: value.map(str::to_owned),
        attribute_value_prefix: prefix,
        thing_type: thing_type.map(str::to_owned),
    }
}

async fn list_names(store: &dyn Store, filter: &ThingFilter) -> Vec<String> {
    let page = store.list_things(filter, &all()).await;
    one_page(page).into_iter().map(|t| t.name).collect()
}

/// Checks that `name` is in no group and has no principal.
async fn assert_no_memberships(store: &dyn Store, name: &str) {
    assert!(one_page(store.groups_of_thing(name, &all()).await).is_empty());
    assert!(one_page(store.principals_of_thing(name, &all()).await).is_empty());
}

/// Insert-if-absent creates once, then answers `Exists` with the stored thing, unchanged.
pub(crate) async fn insert_if_absent(store: &dyn Store) {
    let mut original = thing("lamp");
    original.thing_type = Some("light".into());
    original.attributes = attrs(&[("room", "kitchen"), ("watts", "60")]);
    let mut other = thing("lamp");
    other.id = "another-id".into();
    other.thing_type = None;
    other.attributes = attrs(&[("room", "hall")]);
    other.version = 7;
    other.created = Timestamp(1);
    assert_insert_if_absent(
        &original,
        &other,
        async |t| store.insert_thing(t).await,
        async || store.thing("lamp").await,
    )
    .await;
}

/// A missing thing: no thing, nothing to replace or delete, empty lists.
pub(crate) async fn missing(store: &dyn Store) {
    assert_missing(
        async || store.thing("nope").await,
        async || store.replace_thing(&thing("nope"), 1).await,
        async || store.delete_thing("nope").await,
    )
    .await;
    assert_empty(store.list_things(&ThingFilter::default(), &all()).await);
    assert_eq!(store.count_things_of_type("t").await.unwrap(), 0);
}

/// Every field survives, including edge values of attributes and times.
pub(crate) async fn round_trip(store: &dyn Store) {
    let bare = thing("bare");
    let mut full = thing("a:full_thing-1");
    full.id = "8f0b7a1e-2c3d-4e5f-9a8b-7c6d5e4f3a2b".into();
    full.thing_type = Some("sensor".into());
    full.attributes = (0..50)
        .map(|i| (format!("attr{i:02}"), format!("value-{i}")))
        .collect();
    full.attributes.insert("empty".into(), String::new());
    full.attributes
        .insert("serial.number@v1/x#y".into(), "a=[1],b:c".into());
    full.attributes.insert("long".into(), "v".repeat(800));
    full.version = 42;
    full.created = Timestamp(0);
    let mut late = thing("late");
    late.created = Timestamp(253_402_300_799_999);
    for t in [&bare, &full, &late] {
        assert_eq!(store.insert_thing(t).await.unwrap(), Inserted::Created);
    }
    for t in [&bare, &full, &late] {
        assert_eq!(store.thing(&t.name).await.unwrap().as_ref(), Some(t));
    }
    let page = store
        .list_things(&ThingFilter::default(), &all())
        .await
        .unwrap();
    let mut expected = vec![full, bare, late];
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(page.items, expected);
}

/// Replace succeeds only at the expected version, and replaces type and attributes wholesale.
pub(crate) async fn replace_checks_the_version(store: &dyn Store) {
    let mut v1 = thing("lamp");
    v1.thing_type = Some("light".into());
    v1.attributes = attrs(&[("room", "kitchen"), ("watts", "60")]);
    store.insert_thing(&v1).await.unwrap();

    let mut v2 = v1.clone();
    v2.version = 2;
    v2.thing_type = Some("dimmable".into());
    v2.attributes = attrs(&[("room", "hall"), ("lumens", "800")]);
    assert!(
        !store.replace_thing(&v2, 0).await.unwrap(),
        "a wrong expected version"
    );
    assert!(
        !store.replace_thing(&v2, 2).await.unwrap(),
        "a future expected version"
    );
    assert_eq!(
        store.thing("lamp").await.unwrap().as_ref(),
        Some(&v1),
        "unchanged by failed replaces"
    );
    assert!(store.replace_thing(&v2, 1).await.unwrap());
    assert_eq!(store.thing("lamp").await.unwrap().as_ref(), Some(&v2));

    let mut v3 = v2.clone();
    v3.version = 3;
    v3.thing_type = None;
    v3.attributes.clear();
    assert!(
        !store.replace_thing(&v3, 1).await.unwrap(),
        "a stale version"
    );
    assert_eq!(store.thing("lamp").await.unwrap().as_ref(), Some(&v2));
    assert!(store.replace_thing(&v3, 2).await.unwrap());
    assert_eq!(store.thing("lamp").await.unwrap().as_ref(), Some(&v3));
    // The listing sees the same thing (no attribute left behind).
    let page = store
        .list_things(&ThingFilter::default(), &all())
        .await
        .unwrap();
    assert_eq!(page.items, vec![v3]);
}

/// Of two replaces with the same expected version, exactly one wins, round after round.
pub(crate) async fn concurrent_replaces_one_wins(store: &dyn Store) {
    let base = thing("contended");
    store.insert_thing(&base).await.unwrap();
    for round in 1..=20_i64 {
        let mut left = base.clone();
        left.version = round + 1;
        left.attributes = attrs(&[("writer", "left")]);
        let mut right = base.clone();
        right.version = round + 1;
        right.attributes = attrs(&[("writer", "right"), ("extra", "x")]);
        assert_one_replace_wins(
            (&left, &right),
            round,
            async |t, expected| store.replace_thing(t, expected).await,
            async || store.thing("contended").await,
            &format!("round {round}"),
        )
        .await;
    }
}

/// Of two inserts of one name, exactly one creates; the other gets the winner's thing.
pub(crate) async fn concurrent_inserts_one_wins(store: &dyn Store) {
    for round in 0..10 {
        let name = format!("race-{round}");
        let mut left = thing(&name);
        left.id = "left".into();
        left.attributes = attrs(&[("writer", "left")]);
        let mut right = thing(&name);
        right.id = "right".into();
        let (l, r) = tokio::join!(store.insert_thing(&left), store.insert_thing(&right));
        match (l.unwrap(), r.unwrap()) {
            (Inserted::Created, Inserted::Exists(winner)) => assert_eq!(winner, left),
            (Inserted::Exists(winner), Inserted::Created) => assert_eq!(winner, right),
            other => panic!("round {round}: {other:?}"),
        }
    }
}

/// Delete reports whether the thing existed and takes its attributes, group memberships and
/// principal attachments along; it leaves tags (kept by ARN) and other things alone.
pub(crate) async fn delete_cascades(store: &dyn Store) {
    let mut doomed = thing("doomed");
    doomed.attributes = attrs(&[("a", "1"), ("b", "2")]);
    let mut kept = thing("kept");
    kept.attributes = attrs(&[("a", "1")]);
    store.insert_thing(&doomed).await.unwrap();
    store.insert_thing(&kept).await.unwrap();
    for name in ["g1", "g2"] {
        store.insert_thing_group(&group(name, None)).await.unwrap();
        assert!(store.add_thing_to_group(name, "doomed").await.unwrap());
        assert!(store.add_thing_to_group(name, "kept").await.unwrap());
    }
    assert!(
        store
            .attach_principal("doomed", "arn:cert/1", false)
            .await
            .unwrap()
    );
    assert!(
        store
            .attach_principal("doomed", "arn:cert/2", true)
            .await
            .unwrap()
    );
    assert!(
        store
            .attach_principal("kept", "arn:cert/1", false)
            .await
            .unwrap()
    );
    let arn = "arn:aws:iot:us-east-1:123456789012:thing/doomed";
    let tag = tag_with_k(store, arn).await;

    assert!(store.delete_thing("doomed").await.unwrap());
    assert!(
        !store.delete_thing("doomed").await.unwrap(),
        "a second delete finds nothing"
    );
    assert_eq!(store.thing("doomed").await.unwrap(), None);
    assert_no_memberships(store, "doomed").await;
    for name in ["g1", "g2"] {
        assert_eq!(
            store
                .things_in_group(name, false, &all())
                .await
                .unwrap()
                .items,
            vec!["kept".to_owned()]
        );
    }
    assert_eq!(
        store
            .things_of_principal("arn:cert/1", &all())
            .await
            .unwrap()
            .items,
        vec![("kept".to_owned(), false)]
    );
    assert!(
        store
            .things_of_principal("arn:cert/2", &all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.thing("kept").await.unwrap(), Some(kept.clone()));
    let attribute_filter = filter(None, Some("b"), None, false);
    assert!(
        list_names(store, &attribute_filter).await.is_empty(),
        "its attributes are gone"
    );
    assert_eq!(
        store.tags_of(arn, &all()).await.unwrap().items,
        vec![tag],
        "tags are the caller's"
    );

    // A new thing of the same name starts bare: nothing of the old one comes back.
    let reborn = thing("doomed");
    assert_eq!(
        store.insert_thing(&reborn).await.unwrap(),
        Inserted::Created
    );
    assert_eq!(store.thing("doomed").await.unwrap(), Some(reborn));
    assert_no_memberships(store, "doomed").await;
}

/// ListThings walks every thing in byte order of names, whatever the page size.
pub(crate) async fn list_pages(store: &dyn Store) {
    for (i, name) in NAMES.iter().enumerate() {
        let mut t = thing(name);
        // Attributes on some, so that each listed thing must carry exactly its own.
        if i % 2 == 0 {
            t.attributes = attrs(&[("n", &i.to_string()), ("name", name)]);
        }
        store.insert_thing(&t).await.unwrap();
    }
    let mut expected = Vec::new();
    for name in sorted(&NAMES) {
        expected.push(store.thing(&name).await.unwrap().unwrap());
    }
    let everything = ThingFilter::default();
    assert_pages(&expected, true, async |p| {
        store.list_things(&everything, &p).await
    })
    .await;
}

/// A thing of [`FILTERED`]: name, type, attributes.
type Filtered = (
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

/// The things of [`list_filters`].
const FILTERED: &[Filtered] = &[
    (
        "t1",
        Some("sensor"),
        &[("color", "red"), ("serial", "abc123")],
    ),
    ("t2", Some("sensor"), &[("color", "redwood")]),
    ("t3", Some("actuator"), &[("color", "red")]),
    ("t4", None, &[("color", "blue")]),
    ("t5", None, &[]),
    ("t6", Some("sensor"), &[]),
    ("t7", Some("sensor"), &[("size", "red")]),
    ("t8", None, &[("color", "Red")]),
    ("t9", None, &[("code", "a_c"), ("color", "")]),
    ("u1", Some("sensor"), &[("code", "abc"), ("color", "red%")]),
];

async fn insert_filtered(store: &dyn Store) {
    for (name, thing_type, pairs) in FILTERED {
        let mut t = thing(name);
        t.thing_type = thing_type.map(str::to_owned);
        t.attributes = attrs(pairs);
        store.insert_thing(&t).await.unwrap();
    }
}

/// ListThings filters on type, on attribute name, on attribute value exactly (case-sensitively)
/// or by prefix (literally: `_` and `%` are not wildcards), and on all of them combined; and
/// lists each matching thing whole, with every attribute.
pub(crate) async fn list_filters(store: &dyn Store) {
    insert_filtered(store).await;
    let cases: &[(ThingFilter, &[&str])] = &[
        (
            ThingFilter::default(),
            &["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "u1"],
        ),
        (
            filter(Some("sensor"), None, None, false),
            &["t1", "t2", "t6", "t7", "u1"],
        ),
        (filter(Some("actuator"), None, None, false), &["t3"]),
        (filter(Some("unknown"), None, None, false), &[]),
        (
            filter(None, Some("color"), None, false),
            &["t1", "t2", "t3", "t4", "t8", "t9", "u1"],
        ),
        (
            filter(None, Some("color"), None, true),
            &["t1", "t2", "t3", "t4", "t8", "t9", "u1"],
        ),
        (filter(None, Some("serial"), None, false), &["t1"]),
        (filter(None, Some("nothing"), None, false), &[]),
        (
            filter(None, Some("color"), Some("red"), false),
            &["t1", "t3"],
        ),
        (filter(None, Some("color"), Some("Red"), false), &["t8"]),
        (filter(None, Some("color"), Some("re"), false), &[]),
        (filter(None, Some("color"), Some(""), false), &["t9"]),
        (filter(None, Some("size"), Some("red"), false), &["t7"]),
        (
            filter(None, Some("color"), Some("red"), true),
            &["t1", "t2", "t3", "u1"],
        ),
        (
            filter(None, Some("color"), Some("re"), true),
            &["t1", "t2", "t3", "u1"],
        ),
        (filter(None, Some("color"), Some("redwood"), true), &["t2"]),
        (filter(None, Some("color"), Some("redwoods"), true), &[]),
        (filter(None, Some("color"), Some("RED"), true), &[]),
        (filter(None, Some("color"), Some("red%"), true), &["u1"]),
        (filter(None, Some("color"), Some("%"), true), &[]),
        (
            filter(None, Some("color"), Some(""), true),
            &["t1", "t2", "t3", "t4", "t8", "t9", "u1"],
        ),
        (filter(None, Some("code"), Some("a_"), true), &["t9"]),
        (filter(None, Some("code"), Some("a_c"), false), &["t9"]),
        (
            filter(Some("sensor"), Some("color"), None, false),
            &["t1", "t2", "u1"],
        ),
        (
            filter(Some("sensor"), Some("color"), Some("red"), false),
            &["t1"],
        ),
        (
            filter(Some("sensor"), Some("color"), Some("red"), true),
            &["t1", "t2", "u1"],
        ),
        (
            filter(Some("actuator"), Some("color"), Some("redw"), true),
            &[],
        ),
        (
            filter(Some("sensor"), Some("size"), Some("r"), true),
            &["t7"],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            list_names(store, filter).await,
            sorted(expected),
            "{filter:?}"
        );
    }
    // Matching things come whole, not only with the attribute that matched.
    let page = store
        .list_things(&filter(None, Some("serial"), None, false), &all())
        .await
        .unwrap();
    assert_eq!(page.items, vec![store.thing("t1").await.unwrap().unwrap()]);
}

/// Filtered lists page like unfiltered ones.
pub(crate) async fn list_filters_page(store: &dyn Store) {
    insert_filtered(store).await;
    // Things that do not match, between and around those that do.
    for name in ["t0", "t15", "t55", "z"] {
        let mut t = thing(name);
        t.thing_type = Some("other".into());
        t.attributes = attrs(&[("color", "green")]);
        store.insert_thing(&t).await.unwrap();
    }
    for (filter, names) in [
        (
            filter(None, Some("color"), Some("red"), true),
            &["t1", "t2", "t3", "u1"][..],
        ),
        (
            filter(Some("sensor"), None, None, false),
            &["t1", "t2", "t6", "t7", "u1"][..],
        ),
        (
            filter(Some("sensor"), Some("color"), None, false),
            &["t1", "t2", "u1"][..],
        ),
    ] {
        let mut expected: Vec<Thing> = Vec::new();
        for name in names {
            expected.push(store.thing(name).await.unwrap().unwrap());
        }
        assert_pages(&expected, true, async |p| {
            store.list_things(&filter, &p).await
        })
        .await;
    }
}

/// The count of things of a type follows inserts, type changes and deletes.
pub(crate) async fn count_of_type(store: &dyn Store) {
    for (name, thing_type) in [
        ("a", Some("x")),
        ("b", Some("x")),
        ("c", Some("y")),
        ("d", None),
    ] {
        let mut t = thing(name);
        t.thing_type = thing_type.map(str::to_owned);
        store.insert_thing(&t).await.unwrap();
    }
    assert_eq!(store.count_things_of_type("x").await.unwrap(), 2);
    assert_eq!(store.count_things_of_type("y").await.unwrap(), 1);
    assert_eq!(store.count_things_of_type("X").await.unwrap(), 0);
    assert_eq!(store.count_things_of_type("").await.unwrap(), 0);

    let mut c = store.thing("c").await.unwrap().unwrap();
    c.thing_type = Some("x".into());
    c.version = 2;
    assert!(store.replace_thing(&c, 1).await.unwrap());
    assert_eq!(store.count_things_of_type("x").await.unwrap(), 3);
    assert_eq!(store.count_things_of_type("y").await.unwrap(), 0);

    let mut a = store.thing("a").await.unwrap().unwrap();
    a.thing_type = None;
    a.version = 2;
    assert!(store.replace_thing(&a, 1).await.unwrap());
    assert!(store.delete_thing("b").await.unwrap());
    assert_eq!(store.count_things_of_type("x").await.unwrap(), 1);
}

/// A read racing a replace sees the thing before or after it, never a mix (the row of one
/// version with the attributes of another).
pub(crate) async fn reads_are_consistent(store: &dyn Store) {
    fn version_of(round: i64) -> Thing {
        let mut t = thing("t");
        t.version = round;
        t.thing_type = Some(format!("type-{round}"));
        t.attributes = attrs(&[
            ("version", &round.to_string()),
            (&format!("only-{round}"), "x"),
        ]);
        t
    }
    store.insert_thing(&version_of(1)).await.unwrap();
    let everything = ThingFilter::default();
    let page = all();
    assert_reads_are_consistent(
        version_of,
        |t| t.version,
        async |t, expected| store.replace_thing(t, expected).await,
        async || store.thing("t").await,
        async || store.list_things(&everything, &page).await,
    )
    .await;
}
