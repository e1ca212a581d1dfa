//! `ThingGroupStore`: static thing groups, their hierarchy, attributes and members.

use std::collections::{BTreeMap, BTreeSet};

use thingd_registry::{Inserted, Store, ThingGroup, Timestamp};

use crate::support::{
    NAMES, all, assert_insert_if_absent, assert_missing, assert_one_replace_wins, assert_pages,
    assert_reads_are_consistent, attrs, group, one_page, sorted, tag_with_k, thing,
};

async fn insert_groups(store: &dyn Store, groups: &[(&str, Option<&str>)]) {
    for (name, parent) in groups {
        assert_eq!(
            store
                .insert_thing_group(&group(name, *parent))
                .await
                .unwrap(),
            Inserted::Created,
            "{name}"
        );
    }
}

async fn list_names(
    store: &dyn Store,
    parent: Option<&str>,
    prefix: Option<&str>,
    recursive: bool,
) -> Vec<String> {
    let page = store
        .list_thing_groups(parent, prefix, recursive, &all())
        .await;
    one_page(page).into_iter().map(|g| g.name).collect()
}

async fn stored(store: &dyn Store, names: &[String]) -> Vec<ThingGroup> {
    let mut groups = Vec::new();
    for name in names {
        groups.push(store.thing_group(name).await.unwrap().unwrap());
    }
    groups
}

async fn members(store: &dyn Store, group: &str, recursive: bool) -> Vec<String> {
    one_page(store.things_in_group(group, recursive, &all()).await)
}

async fn groups_of(store: &dyn Store, thing: &str) -> Vec<String> {
    one_page(store.groups_of_thing(thing, &all()).await)
}

/// Insert-if-absent creates once, then answers `Exists` with the stored group, unchanged.
pub(crate) async fn insert_if_absent(store: &dyn Store) {
    store
        .insert_thing_group(&group("parent", None))
        .await
        .unwrap();
    let mut original = group("floor-1", Some("parent"));
    original.description = Some("First floor".into());
    original.attributes = attrs(&[("building", "b1"), ("level", "1")]);
    let mut other = group("floor-1", None);
    other.id = "other".into();
    other.description = None;
    other.attributes = attrs(&[("x", "y")]);
    other.version = 9;
    assert_insert_if_absent(
        &original,
        &other,
        async |g| store.insert_thing_group(g).await,
        async || store.thing_group("floor-1").await,
    )
    .await;
}

/// A missing group: none to read, replace or delete, no children, members or memberships.
pub(crate) async fn missing(store: &dyn Store) {
    assert_missing(
        async || store.thing_group("nope").await,
        async || store.replace_thing_group(&group("nope", None), 1).await,
        async || store.delete_thing_group("nope").await,
    )
    .await;
    assert!(store.child_groups("nope").await.unwrap().is_empty());
    assert!(
        !store
            .remove_thing_from_group("nope", "nothing")
            .await
            .unwrap()
    );
    for recursive in [false, true] {
        assert!(members(store, "nope", recursive).await.is_empty());
        assert!(
            list_names(store, Some("nope"), None, recursive)
                .await
                .is_empty()
        );
        assert!(list_names(store, None, None, recursive).await.is_empty());
    }
    assert!(groups_of(store, "nothing").await.is_empty());
}

/// Every field survives.
pub(crate) async fn round_trip(store: &dyn Store) {
    let bare = group("bare", None);
    let mut full = group("a:full_group-1", Some("bare"));
    full.id = "0f1e2d3c".into();
    full.description = Some("Température « salon » 🌡️".into());
    full.attributes = (0..50)
        .map(|i| (format!("attr{i:02}"), format!("value-{i}")))
        .collect();
    full.attributes.insert("empty".into(), String::new());
    full.version = 12;
    full.created = Timestamp(0);
    for g in [&bare, &full] {
        assert_eq!(
            store.insert_thing_group(g).await.unwrap(),
            Inserted::Created
        );
    }
    for g in [&bare, &full] {
        assert_eq!(store.thing_group(&g.name).await.unwrap().as_ref(), Some(g));
    }
    let page = store
        .list_thing_groups(None, None, false, &all())
        .await
        .unwrap();
    assert_eq!(page.items, vec![full, bare]);
}

/// Replace succeeds only at the expected version and replaces description and attributes
/// wholesale.
pub(crate) async fn replace_checks_the_version(store: &dyn Store) {
    store
        .insert_thing_group(&group("root", None))
        .await
        .unwrap();
    let mut v1 = group("g", Some("root"));
    v1.description = Some("one".into());
    v1.attributes = attrs(&[("a", "1"), ("b", "2")]);
    store.insert_thing_group(&v1).await.unwrap();

    let mut v2 = v1.clone();
    v2.version = 2;
    v2.description = Some("two".into());
    v2.attributes = attrs(&[("b", "3"), ("c", "4")]);
    assert!(!store.replace_thing_group(&v2, 0).await.unwrap());
    assert!(!store.replace_thing_group(&v2, 2).await.unwrap());
    assert_eq!(store.thing_group("g").await.unwrap().as_ref(), Some(&v1));
    assert!(store.replace_thing_group(&v2, 1).await.unwrap());
    assert_eq!(store.thing_group("g").await.unwrap().as_ref(), Some(&v2));

    let mut v3 = v2.clone();
    v3.version = 3;
    v3.description = None;
    v3.attributes.clear();
    assert!(
        !store.replace_thing_group(&v3, 1).await.unwrap(),
        "a stale version"
    );
    assert!(store.replace_thing_group(&v3, 2).await.unwrap());
    assert_eq!(store.thing_group("g").await.unwrap().as_ref(), Some(&v3));
    let listed = store
        .list_thing_groups(Some("root"), None, false, &all())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![v3]);
}

/// Of two replaces with the same expected version, exactly one wins, round after round.
pub(crate) async fn concurrent_replaces_one_wins(store: &dyn Store) {
    let base = group("contended", None);
    store.insert_thing_group(&base).await.unwrap();
    for round in 1..=20_i64 {
        let mut left = base.clone();
        left.version = round + 1;
        left.description = Some("left".into());
        left.attributes = attrs(&[("writer", "left")]);
        let mut right = base.clone();
        right.version = round + 1;
        right.attributes = attrs(&[("writer", "right"), ("extra", "x")]);
        assert_one_replace_wins(
            (&left, &right),
            round,
            async |g, expected| store.replace_thing_group(g, expected).await,
            async || store.thing_group("contended").await,
            &format!("round {round}"),
        )
        .await;
    }
}

/// The tree of [`hierarchy`]: `root` > `a` > `a1` > `a1x`, with siblings and another tree.
const TREE: &[(&str, Option<&str>)] = &[
    ("root", None),
    ("b", Some("root")),
    ("a", Some("root")),
    ("a2", Some("a")),
    ("a1", Some("a")),
    ("a1x", Some("a1")),
    ("other", None),
    ("o1", Some("other")),
];

/// A listing and the names it gives: (parent, name prefix, recursive, names).
type ListCase = (
    Option<&'static str>,
    Option<&'static str>,
    bool,
    &'static [&'static str],
);

/// Children, all descendants (three levels down), neither the group itself nor other trees;
/// without a parent, every group whatever `recursive` says.
pub(crate) async fn hierarchy(store: &dyn Store) {
    insert_groups(store, TREE).await;
    let everything = sorted(&["root", "b", "a", "a2", "a1", "a1x", "other", "o1"]);
    let cases: &[ListCase] = &[
        (None, None, false, &[]),
        (None, None, true, &[]),
        (Some("root"), None, false, &["a", "b"]),
        (Some("root"), None, true, &["a", "a1", "a1x", "a2", "b"]),
        (Some("a"), None, false, &["a1", "a2"]),
        (Some("a"), None, true, &["a1", "a1x", "a2"]),
        (Some("a1"), None, false, &["a1x"]),
        (Some("a1"), None, true, &["a1x"]),
        (Some("a1x"), None, false, &[]),
        (Some("a1x"), None, true, &[]),
        (Some("other"), None, true, &["o1"]),
        (Some("nope"), None, true, &[]),
        (Some("root"), Some("a1"), true, &["a1", "a1x"]),
        (Some("root"), Some("a1"), false, &[]),
        (Some("root"), Some("b"), false, &["b"]),
        (Some("a"), Some("a1x"), true, &["a1x"]),
    ];
    for (parent, prefix, recursive, expected) in cases {
        let expected = if parent.is_none() {
            everything.clone()
        } else {
            sorted(expected)
        };
        assert_eq!(
            list_names(store, *parent, *prefix, *recursive).await,
            expected,
            "{parent:?} {prefix:?} {recursive}"
        );
    }
    // Listed groups come whole.
    let listed = store
        .list_thing_groups(Some("root"), None, true, &all())
        .await
        .unwrap()
        .items;
    assert_eq!(
        listed,
        stored(store, &sorted(&["a", "a1", "a1x", "a2", "b"])).await
    );
    assert_eq!(listed[2].parent.as_deref(), Some("a1"));

    assert_eq!(
        store.child_groups("root").await.unwrap(),
        sorted(&["a", "b"])
    );
    assert_eq!(store.child_groups("a1").await.unwrap(), sorted(&["a1x"]));
    assert!(store.child_groups("a1x").await.unwrap().is_empty());
    assert!(store.child_groups("nope").await.unwrap().is_empty());
}

/// The name prefix is literal (`_` is no wildcard) and case-sensitive, alone or with a parent.
pub(crate) async fn name_prefix(store: &dyn Store) {
    insert_groups(
        store,
        &[
            ("g", None),
            ("g_1", None),
            ("g_1-c", Some("g_1")),
            ("gx1", None),
            ("G1", None),
            ("ga", Some("g")),
            ("h", None),
        ],
    )
    .await;
    let cases: &[(Option<&str>, &str, bool, &[&str])] = &[
        (None, "g", false, &["g", "g_1", "g_1-c", "ga", "gx1"]),
        (None, "g", true, &["g", "g_1", "g_1-c", "ga", "gx1"]),
        (None, "g_", false, &["g_1", "g_1-c"]),
        (None, "G", false, &["G1"]),
        (None, "g_1-c", false, &["g_1-c"]),
        (None, "g_1-cc", false, &[]),
        (
            None,
            "",
            false,
            &["G1", "g", "g_1", "g_1-c", "ga", "gx1", "h"],
        ),
        (None, "%", false, &[]),
        (Some("g"), "g", false, &["ga"]),
        (Some("g"), "h", false, &[]),
        (Some("g_1"), "g_1", true, &["g_1-c"]),
    ];
    for (parent, prefix, recursive, expected) in cases {
        assert_eq!(
            list_names(store, *parent, Some(prefix), *recursive).await,
            sorted(expected),
            "{parent:?} {prefix:?}"
        );
    }
}

/// Every group, the children of one and the descendants of another, in byte order of names,
/// in pages of any size.
pub(crate) async fn list_pages(store: &dyn Store) {
    insert_groups(
        store,
        &[
            ("A", None),
            ("a", None),
            ("thing-2", Some("A")),
            ("Z", Some("A")),
            ("a:b", Some("A")),
            ("B-1", Some("A")),
            ("a_b", Some("a")),
            ("a-b", Some("a")),
            ("b", Some("a")),
            ("thing-10", Some("a_b")),
        ],
    )
    .await;
    let everything = stored(store, &sorted(&NAMES)).await;
    for recursive in [false, true] {
        assert_pages(&everything, true, async |p| {
            store.list_thing_groups(None, None, recursive, &p).await
        })
        .await;
    }
    let children = stored(store, &sorted(&["thing-2", "Z", "a:b", "B-1"])).await;
    assert_pages(&children, true, async |p| {
        store.list_thing_groups(Some("A"), None, false, &p).await
    })
    .await;
    let descendants = stored(store, &sorted(&["a_b", "a-b", "b", "thing-10"])).await;
    assert_pages(&descendants, true, async |p| {
        store.list_thing_groups(Some("a"), None, true, &p).await
    })
    .await;
    let prefixed = stored(store, &sorted(&["a", "a:b", "a_b", "a-b"])).await;
    assert_pages(&prefixed, true, async |p| {
        store.list_thing_groups(None, Some("a"), false, &p).await
    })
    .await;
}

/// Adding and removing say whether anything changed; members list in byte order, in pages.
pub(crate) async fn membership(store: &dyn Store) {
    insert_groups(store, &[("g", None), ("h", None)]).await;
    for name in NAMES {
        store.insert_thing(&thing(name)).await.unwrap();
    }
    assert!(store.add_thing_to_group("g", "a").await.unwrap());
    assert!(
        !store.add_thing_to_group("g", "a").await.unwrap(),
        "a member already"
    );
    assert!(store.remove_thing_from_group("g", "a").await.unwrap());
    assert!(
        !store.remove_thing_from_group("g", "a").await.unwrap(),
        "not a member any more"
    );
    assert!(
        !store.remove_thing_from_group("h", "b").await.unwrap(),
        "never a member"
    );
    assert!(members(store, "g", false).await.is_empty());

    for name in NAMES {
        assert!(store.add_thing_to_group("g", name).await.unwrap());
    }
    assert!(store.add_thing_to_group("h", "b").await.unwrap());
    let expected = sorted(&NAMES);
    for recursive in [false, true] {
        assert_pages(&expected, true, async |p| {
            store.things_in_group("g", recursive, &p).await
        })
        .await;
    }
    assert_eq!(members(store, "h", false).await, vec!["b".to_owned()]);
    assert!(store.remove_thing_from_group("g", "b").await.unwrap());
    assert_eq!(
        members(store, "h", false).await,
        vec!["b".to_owned()],
        "other groups keep their members"
    );
    assert_eq!(groups_of(store, "b").await, vec!["h".to_owned()]);
}

/// A recursive member list spans the group and every descendant, each thing once.
pub(crate) async fn things_in_group_recursive(store: &dyn Store) {
    insert_groups(store, TREE).await;
    let placed = ["root", "a", "a1", "a1x", "b", "other"];
    let mut direct: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (i, name) in NAMES.iter().enumerate() {
        store.insert_thing(&thing(name)).await.unwrap();
        // Each thing in one group, some in a second (an ancestor or a cousin) too.
        let mut groups = vec![placed[i % placed.len()]];
        if i % 3 == 0 {
            groups.push(placed[(i + 3) % placed.len()]);
        }
        for g in groups {
            if direct.entry(g).or_default().insert((*name).to_owned()) {
                assert!(store.add_thing_to_group(g, name).await.unwrap());
            }
        }
    }
    let descendants: &[(&str, &[&str])] = &[
        ("root", &["root", "a", "a1", "a1x", "b"]),
        ("a", &["a", "a1", "a1x", "a2"]),
        ("a1", &["a1", "a1x"]),
        ("a1x", &["a1x"]),
        ("a2", &["a2"]),
        ("other", &["other", "o1"]),
    ];
    for (g, tree) in descendants {
        let expected: Vec<String> = tree
            .iter()
            .flat_map(|t| direct.get(t).cloned().unwrap_or_default())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_pages(&expected, true, async |p| {
            store.things_in_group(g, true, &p).await
        })
        .await;
        let own: Vec<String> = direct
            .get(g)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        assert_pages(&own, true, async |p| {
            store.things_in_group(g, false, &p).await
        })
        .await;
    }
    assert!(members(store, "nope", true).await.is_empty());
    // The recursive list really is deduplicated: a thing in a group and in its descendant.
    let mut thing_in_two = thing("twice");
    thing_in_two.attributes = attrs(&[("k", "v")]);
    store.insert_thing(&thing_in_two).await.unwrap();
    store.add_thing_to_group("root", "twice").await.unwrap();
    store.add_thing_to_group("a1x", "twice").await.unwrap();
    let all_of_root = members(store, "root", true).await;
    assert_eq!(
        all_of_root.iter().filter(|n| *n == "twice").count(),
        1,
        "{all_of_root:?}"
    );
}

/// The groups a thing is in directly (not their ancestors), in byte order, in pages.
pub(crate) async fn groups_of_thing(store: &dyn Store) {
    insert_groups(store, &[("A", None), ("a", Some("A")), ("b", Some("a"))]).await;
    for name in NAMES {
        if !["A", "a", "b"].contains(&name) {
            store.insert_thing_group(&group(name, None)).await.unwrap();
        }
    }
    store.insert_thing(&thing("device")).await.unwrap();
    store.insert_thing(&thing("leaf")).await.unwrap();
    for name in NAMES {
        assert!(store.add_thing_to_group(name, "device").await.unwrap());
    }
    assert!(store.add_thing_to_group("b", "leaf").await.unwrap());
    let expected = sorted(&NAMES);
    assert_pages(&expected, true, async |p| {
        store.groups_of_thing("device", &p).await
    })
    .await;
    assert_eq!(
        groups_of(store, "leaf").await,
        vec!["b".to_owned()],
        "not b's ancestors"
    );
    assert!(groups_of(store, "nothing").await.is_empty());
}

/// Delete reports whether the group existed and takes its attributes and memberships along;
/// it leaves its things, its tags (kept by ARN) and other groups alone.
pub(crate) async fn delete_cascades(store: &dyn Store) {
    let mut doomed = group("doomed", None);
    doomed.attributes = attrs(&[("a", "1")]);
    insert_groups(store, &[("kept", None)]).await;
    store.insert_thing_group(&doomed).await.unwrap();
    for name in ["t1", "t2"] {
        store.insert_thing(&thing(name)).await.unwrap();
        assert!(store.add_thing_to_group("doomed", name).await.unwrap());
    }
    assert!(store.add_thing_to_group("kept", "t1").await.unwrap());
    let arn = "arn:aws:iot:us-east-1:123456789012:thinggroup/doomed";
    let tag = tag_with_k(store, arn).await;

    assert!(store.delete_thing_group("doomed").await.unwrap());
    assert!(!store.delete_thing_group("doomed").await.unwrap());
    assert_eq!(store.thing_group("doomed").await.unwrap(), None);
    assert_eq!(groups_of(store, "t1").await, vec!["kept".to_owned()]);
    assert!(groups_of(store, "t2").await.is_empty());
    assert!(members(store, "doomed", false).await.is_empty());
    assert_eq!(members(store, "kept", false).await, vec!["t1".to_owned()]);
    assert_eq!(
        store.thing("t2").await.unwrap(),
        Some(thing("t2")),
        "things stay"
    );
    assert_eq!(
        store.tags_of(arn, &all()).await.unwrap().items,
        vec![tag],
        "tags are the caller's"
    );

    // A new group of the same name starts bare.
    let reborn = group("doomed", None);
    assert_eq!(
        store.insert_thing_group(&reborn).await.unwrap(),
        Inserted::Created
    );
    assert_eq!(store.thing_group("doomed").await.unwrap(), Some(reborn));
    assert!(members(store, "doomed", true).await.is_empty());

    // Children first, then their parent.
    insert_groups(store, &[("parent", None), ("child", Some("parent"))]).await;
    assert!(store.delete_thing_group("child").await.unwrap());
    assert!(store.child_groups("parent").await.unwrap().is_empty());
    assert!(store.delete_thing_group("parent").await.unwrap());
}

/// Deleting a group that still has children is the caller's mistake: the store refuses with an
/// error and changes nothing (never leaves orphans).
pub(crate) async fn delete_with_children_fails(store: &dyn Store) {
    insert_groups(store, &[("parent", None), ("child", Some("parent"))]).await;
    store.insert_thing(&thing("t")).await.unwrap();
    store.add_thing_to_group("parent", "t").await.unwrap();
    let result = store.delete_thing_group("parent").await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(
        store.thing_group("parent").await.unwrap(),
        Some(group("parent", None))
    );
    assert_eq!(
        store.thing_group("child").await.unwrap(),
        Some(group("child", Some("parent")))
    );
    assert_eq!(
        store.child_groups("parent").await.unwrap(),
        vec!["child".to_owned()]
    );
    assert_eq!(members(store, "parent", false).await, vec!["t".to_owned()]);
}

/// A read racing a replace sees the group before or after it, never a mix (the row of one
/// version with the attributes of another).
pub(crate) async fn reads_are_consistent(store: &dyn Store) {
    fn version_of(round: i64) -> ThingGroup {
        let mut g = group("g", None);
        g.version = round;
        g.description = Some(format!("v{round}"));
        g.attributes = attrs(&[
            ("version", &round.to_string()),
            (&format!("only-{round}"), "x"),
        ]);
        g
    }
    store.insert_thing_group(&version_of(1)).await.unwrap();
    let everything = all();
    assert_reads_are_consistent(
        version_of,
        |g| g.version,
        async |g, expected| store.replace_thing_group(g, expected).await,
        async || store.thing_group("g").await,
        async || {
            store
                .list_thing_groups(None, None, false, &everything)
                .await
        },
    )
    .await;
}
