//! CreateThingGroup, DescribeThingGroup, UpdateThingGroup, DeleteThingGroup, ListThingGroups,
//! AddThingToThingGroup, RemoveThingFromThingGroup, UpdateThingGroupsForThing,
//! ListThingsInThingGroup and ListThingGroupsForThing.

use serde_json::{Value, json};

use crate::harness::{
    ALREADY_EXISTS, Answer, INVALID_REQUEST, NOT_FOUND, TestApi, VERSION_CONFLICT, item_names,
    items,
};

fn arn(group: &str) -> String {
    format!("arn:aws:iot:us-east-1:123456789012:thinggroup/{group}")
}

async fn group(api: &TestApi, name: &str, parent: Option<&str>) -> Value {
    let body = match parent {
        Some(parent) => json!({"parentGroupName": parent}),
        None => json!({}),
    };
    api.post(&format!("/thing-groups/{name}"), body).await.ok()
}

async fn thing(api: &TestApi, name: &str) {
    api.post(&format!("/things/{name}"), json!({})).await.ok();
}

async fn add(api: &TestApi, thing: &str, group: &str) {
    api.put(
        "/thing-groups/addThingToThingGroup",
        json!({"thingName": thing, "thingGroupName": group}),
    )
    .await
    .ok();
}

/// Every item of a paged list at `path` (which has a query already), page by page: the values
/// of `field`, or of `field[].key` when `key` is given; and the number of pages.
async fn walk(
    api: &TestApi,
    path: &str,
    field: &str,
    key: Option<&str>,
    max: usize,
) -> (Vec<String>, usize) {
    let pages = api.pages(&format!("{path}&maxResults={max}"), &[]).await;
    let items = items(&pages, field, Some(max));
    (item_names(&items, key.unwrap_or_default()), pages.len())
}

/// UpdateThingGroupsForThing.
async fn update_groups_of_thing(api: &TestApi, body: Value) -> Answer {
    api.put("/thing-groups/updateThingGroupsForThing", body)
        .await
}

/// The names of the groups ListThingGroupsForThing lists for `thing`, on one page.
async fn groups_of(api: &TestApi, thing: &str) -> Vec<String> {
    let page = api.get(&format!("/things/{thing}/thing-groups")).await.ok();
    assert!(page.get("nextToken").is_none(), "{page}");
    names(&page, "thingGroups")
}

fn names(page: &Value, field: &str) -> Vec<String> {
    page[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.get("groupName").unwrap_or(g).as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_and_describe_groups_in_a_hierarchy() {
    let api = TestApi::new().await;
    let created = api
        .post(
            "/thing-groups/lights",
            json!({
                "thingGroupProperties": {
                    "thingGroupDescription": "All lights",
                    "attributePayload": {"attributes": {"site": "berlin"}}
                },
                "tags": [{"Key": "team", "Value": "ops"}]
            }),
        )
        .await
        .ok();
    assert_eq!(created["thingGroupName"], "lights");
    assert_eq!(created["thingGroupArn"], arn("lights"));
    let id = created["thingGroupId"].as_str().unwrap().to_owned();
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));

    let described = api.get("/thing-groups/lights").await.ok();
    assert_eq!(described["thingGroupName"], "lights");
    assert_eq!(described["thingGroupId"], id.as_str());
    assert_eq!(described["thingGroupArn"], arn("lights"));
    assert_eq!(described["version"], 1);
    assert_eq!(
        described["thingGroupProperties"],
        json!({"thingGroupDescription": "All lights", "attributePayload": {"attributes": {"site": "berlin"}}})
    );
    let metadata = described["thingGroupMetadata"].as_object().unwrap();
    assert_eq!(
        metadata.keys().collect::<Vec<_>>(),
        ["creationDate"],
        "a root group has no parent members"
    );
    assert!(metadata["creationDate"].as_f64().unwrap() > 1.6e9);
    assert!(metadata["creationDate"].as_f64().unwrap() < 1e11, "seconds");
    let tags = api
        .get(&format!("/tags?resourceArn={}", arn("lights")))
        .await
        .ok();
    assert_eq!(tags, json!({"tags": [{"Key": "team", "Value": "ops"}]}));

    group(&api, "bulbs", Some("lights")).await;
    group(&api, "red-bulbs", Some("bulbs")).await;
    let described = api.get("/thing-groups/red-bulbs").await.ok();
    assert_eq!(described["thingGroupMetadata"]["parentGroupName"], "bulbs");
    assert_eq!(
        described["thingGroupMetadata"]["rootToParentThingGroups"],
        json!([
            {"groupName": "lights", "groupArn": arn("lights")},
            {"groupName": "bulbs", "groupArn": arn("bulbs")}
        ])
    );
    assert_eq!(
        described["thingGroupProperties"],
        json!({"attributePayload": {"attributes": {}}})
    );
    api.get("/thing-groups/missing").await.error(NOT_FOUND);
}

#[tokio::test]
async fn create_is_idempotent_only_for_the_same_group() {
    let api = TestApi::new().await;
    group(&api, "root", None).await;
    group(&api, "other", None).await;
    let body = json!({
        "parentGroupName": "root",
        "thingGroupProperties": {"attributePayload": {"attributes": {"a": "1"}}}
    });
    let first = api.post("/thing-groups/child", body.clone()).await.ok();
    let again = api.post("/thing-groups/child", body).await.ok();
    assert_eq!(first, again);
    for different in [
        json!({"parentGroupName": "root"}),
        json!({"parentGroupName": "other", "thingGroupProperties": {"attributePayload": {"attributes": {"a": "1"}}}}),
        json!({"thingGroupProperties": {"attributePayload": {"attributes": {"a": "1"}}}}),
        json!({"parentGroupName": "root", "thingGroupProperties": {
            "thingGroupDescription": "d", "attributePayload": {"attributes": {"a": "1"}}
        }}),
    ] {
        let answer = api.post("/thing-groups/child", different).await;
        assert_eq!(answer.body["resourceId"], first["thingGroupId"]);
        assert_eq!(answer.body["resourceArn"], arn("child"));
        answer.error(ALREADY_EXISTS);
    }
}

#[tokio::test]
async fn names_parents_and_attributes_are_validated() {
    let api = TestApi::new().await;
    let long_name = "g".repeat(129);
    let attributes = |count| -> serde_json::Map<String, Value> {
        (0..count)
            .map(|i| (format!("a{i}"), Value::from("v")))
            .collect()
    };
    let tags: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    // (name, body, a part of the message)
    for (name, body, says) in [
        ("bad%20name", json!({}), ""),
        (&long_name, json!({}), ""),
        ("g", json!({"parentGroupName": "missing"}), "missing"),
        ("g", json!({"parentGroupName": "bad name"}), ""),
        (
            "g",
            json!({"thingGroupProperties": {"attributePayload": {"attributes": {"a b": "1"}}}}),
            "",
        ),
        (
            "g",
            json!({"thingGroupProperties": {"attributePayload": {"attributes": {"a": "x".repeat(801)}}}}),
            "",
        ),
        (
            "g",
            json!({"thingGroupProperties": {"thingGroupDescription": "x".repeat(2029)}}),
            "",
        ),
        (
            "g",
            json!({"thingGroupProperties": {"attributePayload": {"attributes": attributes(51)}}}),
            "at most 50 attributes",
        ),
        ("g", json!({"tags": tags}), ""),
    ] {
        let message = api
            .post(&format!("/thing-groups/{name}"), body.clone())
            .await
            .error(INVALID_REQUEST);
        assert!(message.contains(says), "{name} {body}: {message}");
    }
    api.get("/thing-groups/g").await.error(NOT_FOUND);
}

#[tokio::test]
async fn hierarchies_are_at_most_seven_deep() {
    let api = TestApi::new().await;
    group(&api, "level-1", None).await;
    for level in 2..=7 {
        group(
            &api,
            &format!("level-{level}"),
            Some(&format!("level-{}", level - 1)),
        )
        .await;
    }
    let described = api.get("/thing-groups/level-7").await.ok();
    assert_eq!(
        described["thingGroupMetadata"]["rootToParentThingGroups"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    api.post(
        "/thing-groups/level-8",
        json!({"parentGroupName": "level-7"}),
    )
    .await
    .error_saying(INVALID_REQUEST, "at most 7 levels");
    // A sibling at level 7 is fine.
    group(&api, "level-7b", Some("level-6")).await;
}

#[tokio::test]
async fn a_group_has_at_most_one_hundred_children() {
    let api = TestApi::new().await;
    group(&api, "parent", None).await;
    for i in 0..100 {
        group(&api, &format!("child-{i:03}"), Some("parent")).await;
    }
    api.post(
        "/thing-groups/child-100",
        json!({"parentGroupName": "parent"}),
    )
    .await
    .error_saying(INVALID_REQUEST, "at most 100");
    // Re-creating an existing child is still idempotent.
    group(&api, "child-000", Some("parent")).await;
    // Grandchildren do not count.
    group(&api, "grandchild", Some("child-000")).await;
}

#[tokio::test]
async fn update_merges_or_replaces_attributes_and_checks_versions() {
    let api = TestApi::new().await;
    api.post(
        "/thing-groups/g",
        json!({"thingGroupProperties": {"thingGroupDescription": "d1", "attributePayload": {"attributes": {"a": "1", "b": "2"}}}}),
    )
    .await
    .ok();

    // (the update, the version it makes, the properties it leaves, why)
    for (update, version, properties, why) in [
        (
            json!({"thingGroupProperties": {"attributePayload": {"attributes": {"b": "", "c": "3"}, "merge": true}}, "expectedVersion": 1}),
            2,
            json!({"thingGroupDescription": "d1", "attributePayload": {"attributes": {"a": "1", "c": "3"}}}),
            "merge adds, an empty value removes, the description stays",
        ),
        (
            json!({"thingGroupProperties": {"thingGroupDescription": "d2", "attributePayload": {"attributes": {"z": "9"}}}}),
            3,
            json!({"thingGroupDescription": "d2", "attributePayload": {"attributes": {"z": "9"}}}),
            "without merge the attributes are replaced",
        ),
    ] {
        let answer = api.patch("/thing-groups/g", update).await.ok();
        assert_eq!(answer, json!({ "version": version }));
        let described = api.get("/thing-groups/g").await.ok();
        assert_eq!(described["thingGroupProperties"], properties, "{why}");
        assert_eq!(described["version"], version);
    }

    let message = api
        .patch(
            "/thing-groups/g",
            json!({"thingGroupProperties": {}, "expectedVersion": 2}),
        )
        .await
        .error(VERSION_CONFLICT);
    assert_eq!(
        message,
        "The version for thing group g does not match the expected version."
    );
    api.patch("/thing-groups/g", json!({"expectedVersion": 3}))
        .await
        .error_saying(INVALID_REQUEST, "thingGroupProperties");
    api.patch("/thing-groups/missing", json!({"thingGroupProperties": {}}))
        .await
        .error(NOT_FOUND);
    let attributes: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("a{i}"), Value::from("v")))
        .collect();
    api.patch(
        "/thing-groups/g",
        json!({"thingGroupProperties": {"attributePayload": {"attributes": attributes, "merge": true}}}),
    )
    .await
    .error(INVALID_REQUEST);
    assert_eq!(api.get("/thing-groups/g").await.ok()["version"], 3);
}

#[tokio::test]
async fn delete_refuses_groups_with_children_and_checks_versions() {
    let api = TestApi::new().await;
    api.post(
        "/thing-groups/parent",
        json!({"tags": [{"Key": "k", "Value": "v"}]}),
    )
    .await
    .ok();
    group(&api, "child", Some("parent")).await;
    thing(&api, "lamp").await;
    add(&api, "lamp", "parent").await;

    let message = api
        .delete("/thing-groups/parent")
        .await
        .error(INVALID_REQUEST);
    assert_eq!(
        message,
        "Cannot delete thing group : parent when there are still child groups attached to it"
    );
    api.delete("/thing-groups/child?expectedVersion=2")
        .await
        .error(VERSION_CONFLICT);
    api.delete("/thing-groups/child?expectedVersion=x")
        .await
        .error(INVALID_REQUEST);
    api.delete("/thing-groups/child?expectedVersion=1")
        .await
        .ok();
    api.delete("/thing-groups/parent").await.ok();
    api.get("/thing-groups/parent").await.error(NOT_FOUND);
    // Deleting a group that does not exist succeeds, as in AWS IoT.
    api.delete("/thing-groups/parent").await.ok();

    // Its members stay, out of the group; its tags are gone.
    api.get("/things/lamp").await.ok();
    let groups = api.get("/things/lamp/thing-groups").await.ok();
    assert_eq!(groups, json!({"thingGroups": []}));
    group(&api, "parent", None).await;
    let tags = api
        .get(&format!("/tags?resourceArn={}", arn("parent")))
        .await
        .ok();
    assert_eq!(tags, json!({"tags": []}));
}

#[tokio::test]
async fn list_thing_groups_filters_and_pages() {
    let api = TestApi::new().await;
    // a -> a1 -> a1x, a -> a2; b -> b1
    group(&api, "a", None).await;
    group(&api, "a1", Some("a")).await;
    group(&api, "a1x", Some("a1")).await;
    group(&api, "a2", Some("a")).await;
    group(&api, "b", None).await;
    group(&api, "b1", Some("b")).await;

    let all = api.get("/thing-groups").await.ok();
    assert_eq!(
        names(&all, "thingGroups"),
        ["a", "a1", "a1x", "a2", "b", "b1"]
    );
    assert_eq!(
        all["thingGroups"][0],
        json!({"groupName": "a", "groupArn": arn("a")})
    );
    assert!(all.get("nextToken").is_none());
    let recursive = api.get("/thing-groups?recursive=true").await.ok();
    assert_eq!(recursive, all);
    // (query, the groups it lists)
    for (query, listed) in [
        ("recursive=false", &["a", "b"][..]),
        ("parentGroup=a", &["a1", "a2"]),
        ("parentGroup=a&recursive=false", &["a1", "a2"]),
        ("parentGroup=a&recursive=true", &["a1", "a1x", "a2"]),
        ("namePrefixFilter=a1", &["a1", "a1x"]),
        (
            "parentGroup=a&recursive=true&namePrefixFilter=a1",
            &["a1", "a1x"],
        ),
    ] {
        let page = api.get(&format!("/thing-groups?{query}")).await.ok();
        assert_eq!(names(&page, "thingGroups"), listed, "{query}");
    }
    for (query, error) in [
        ("parentGroup=missing", NOT_FOUND),
        ("recursive=maybe", INVALID_REQUEST),
        ("maxResults=251", INVALID_REQUEST),
        ("namePrefixFilter=a%20b", INVALID_REQUEST),
    ] {
        api.get(&format!("/thing-groups?{query}"))
            .await
            .error(error);
    }

    // Page by page: (query, page size, the groups listed, the number of pages if known).
    // Root groups only: pages may be shorter than asked, but every root comes exactly once.
    for (query, max, listed, pages) in [
        ("", 2, &["a", "a1", "a1x", "a2", "b", "b1"][..], Some(3)),
        (
            "parentGroup=a&recursive=true",
            1,
            &["a1", "a1x", "a2"],
            None,
        ),
        ("recursive=false", 2, &["a", "b"], None),
    ] {
        let path = format!("/thing-groups?{query}");
        let (all, walked) = walk(&api, &path, "thingGroups", Some("groupName"), max).await;
        assert_eq!(all, listed, "{query}");
        if let Some(pages) = pages {
            assert_eq!(walked, pages, "{query}");
        }
    }
}

#[tokio::test]
async fn things_join_and_leave_groups_by_name_or_arn() {
    let api = TestApi::new().await;
    group(&api, "lights", None).await;
    group(&api, "sensors", None).await;
    thing(&api, "lamp").await;
    thing(&api, "meter").await;

    add(&api, "lamp", "lights").await;
    // Adding again is a no-op.
    add(&api, "lamp", "lights").await;
    api.put(
        "/thing-groups/addThingToThingGroup",
        json!({
            "thingArn": "arn:aws:iot:us-east-1:123456789012:thing/meter",
            "thingGroupArn": arn("lights")
        }),
    )
    .await
    .ok();
    api.put(
        "/thing-groups/addThingToThingGroup",
        json!({"thingName": "lamp", "thingGroupName": "sensors", "thingGroupArn": arn("sensors"), "overrideDynamicGroups": false}),
    )
    .await
    .ok();

    let members = api.get("/thing-groups/lights/things").await.ok();
    assert_eq!(members, json!({"things": ["lamp", "meter"]}));
    let groups = api.get("/things/lamp/thing-groups").await.ok();
    assert_eq!(
        groups,
        json!({"thingGroups": [
            {"groupName": "lights", "groupArn": arn("lights")},
            {"groupName": "sensors", "groupArn": arn("sensors")}
        ]})
    );

    api.put(
        "/thing-groups/removeThingFromThingGroup",
        json!({"thingName": "lamp", "thingGroupArn": arn("lights")}),
    )
    .await
    .ok();
    // Removing a thing that is not a member succeeds.
    api.put(
        "/thing-groups/removeThingFromThingGroup",
        json!({"thingName": "lamp", "thingGroupName": "lights"}),
    )
    .await
    .ok();
    let members = api.get("/thing-groups/lights/things").await.ok();
    assert_eq!(members, json!({"things": ["meter"]}));

    // Deleting a thing removes its memberships.
    api.delete("/things/meter").await.ok();
    let members = api.get("/thing-groups/lights/things").await.ok();
    assert_eq!(members, json!({"things": []}));
}

#[tokio::test]
async fn membership_requests_are_validated() {
    let api = TestApi::new().await;
    group(&api, "g", None).await;
    thing(&api, "t").await;
    for path in [
        "/thing-groups/addThingToThingGroup",
        "/thing-groups/removeThingFromThingGroup",
    ] {
        for (body, error) in [
            (
                json!({"thingName": "missing", "thingGroupName": "g"}),
                NOT_FOUND,
            ),
            (
                json!({"thingName": "t", "thingGroupName": "missing"}),
                NOT_FOUND,
            ),
            (
                json!({"thingArn": "arn:aws:iot:us-east-1:123456789012:thing/missing", "thingGroupName": "g"}),
                NOT_FOUND,
            ),
            (json!({"thingGroupName": "g"}), INVALID_REQUEST),
            (json!({"thingName": "t"}), INVALID_REQUEST),
            (
                json!({"thingName": "t", "thingGroupName": "g", "thingGroupArn": arn("other")}),
                INVALID_REQUEST,
            ),
            (
                json!({"thingName": "t", "thingGroupArn": "not-an-arn"}),
                INVALID_REQUEST,
            ),
            (
                json!({"thingName": "t", "thingGroupArn": "arn:aws:iot:us-east-1:123456789012:thing/g"}),
                INVALID_REQUEST,
            ),
            (
                json!({"thingName": "t", "thingGroupArn": "arn:aws:iot:eu-west-1:123456789012:thinggroup/g"}),
                NOT_FOUND,
            ),
            (
                json!({"thingName": "a b", "thingGroupName": "g"}),
                INVALID_REQUEST,
            ),
        ] {
            api.put(path, body).await.error(error);
        }
    }
    for (path, error) in [
        ("/thing-groups/missing/things", NOT_FOUND),
        ("/things/missing/thing-groups", NOT_FOUND),
        ("/thing-groups/g/things?recursive=1", INVALID_REQUEST),
    ] {
        api.get(path).await.error(error);
    }
}

#[tokio::test]
async fn a_thing_is_in_at_most_one_group_of_a_hierarchy() {
    let api = TestApi::new().await;
    group(&api, "root", None).await;
    group(&api, "left", Some("root")).await;
    group(&api, "right", Some("root")).await;
    group(&api, "left-leaf", Some("left")).await;
    group(&api, "elsewhere", None).await;
    thing(&api, "t").await;
    add(&api, "t", "left").await;
    for conflicting in ["root", "right", "left-leaf"] {
        api.put(
            "/thing-groups/addThingToThingGroup",
            json!({"thingName": "t", "thingGroupName": conflicting}),
        )
        .await
        .error_saying(INVALID_REQUEST, "same hierarchy");
    }
    add(&api, "t", "elsewhere").await;
    assert_eq!(groups_of(&api, "t").await, ["elsewhere", "left"]);
}

#[tokio::test]
async fn a_thing_is_in_at_most_ten_groups() {
    let api = TestApi::new().await;
    thing(&api, "t").await;
    for i in 0..11 {
        group(&api, &format!("g{i:02}"), None).await;
    }
    for i in 0..10 {
        add(&api, "t", &format!("g{i:02}")).await;
    }
    api.put(
        "/thing-groups/addThingToThingGroup",
        json!({"thingName": "t", "thingGroupName": "g10"}),
    )
    .await
    .error_saying(INVALID_REQUEST, "at most 10");
    // Re-adding one it is in is still fine.
    add(&api, "t", "g00").await;
    // Swapping in one call keeps ten.
    update_groups_of_thing(
        &api,
        json!({"thingName": "t", "thingGroupsToAdd": ["g10"], "thingGroupsToRemove": ["g00"]}),
    )
    .await
    .ok();
    update_groups_of_thing(&api, json!({"thingName": "t", "thingGroupsToAdd": ["g00"]}))
        .await
        .error(INVALID_REQUEST);

    // ListThingGroupsForThing pages.
    let (groups, pages) = walk(
        &api,
        "/things/t/thing-groups?",
        "thingGroups",
        Some("groupName"),
        4,
    )
    .await;
    assert_eq!(
        groups,
        (1..11).map(|i| format!("g{i:02}")).collect::<Vec<_>>()
    );
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn update_thing_groups_for_thing_moves_a_thing_as_a_whole() {
    let api = TestApi::new().await;
    group(&api, "root", None).await;
    group(&api, "left", Some("root")).await;
    group(&api, "right", Some("root")).await;
    group(&api, "other", None).await;
    thing(&api, "t").await;
    add(&api, "t", "left").await;

    // Moving between two groups of one hierarchy works in one call...
    update_groups_of_thing(
        &api,
        json!({"thingName": "t", "thingGroupsToAdd": ["right", "other"], "thingGroupsToRemove": ["left"]}),
    )
    .await
    .ok();
    assert_eq!(groups_of(&api, "t").await, ["other", "right"]);
    // ...but not adding two of one hierarchy; and a group or thing must exist. (request, error)
    for (body, error) in [
        (
            json!({"thingName": "t", "thingGroupsToAdd": ["left"]}),
            INVALID_REQUEST,
        ),
        (
            json!({"thingName": "t", "thingGroupsToAdd": ["left", "root"], "thingGroupsToRemove": ["right"]}),
            INVALID_REQUEST,
        ),
        (
            json!({"thingName": "t", "thingGroupsToAdd": ["missing"]}),
            NOT_FOUND,
        ),
        (
            json!({"thingName": "t", "thingGroupsToRemove": ["missing"]}),
            NOT_FOUND,
        ),
        (
            json!({"thingName": "missing", "thingGroupsToAdd": ["other"]}),
            NOT_FOUND,
        ),
        (json!({"thingGroupsToAdd": ["other"]}), INVALID_REQUEST),
        (
            json!({"thingName": "t", "thingGroupsToAdd": ["bad name"]}),
            INVALID_REQUEST,
        ),
    ] {
        update_groups_of_thing(&api, body).await.error(error);
        // Refused requests change nothing.
        assert_eq!(groups_of(&api, "t").await, ["other", "right"]);
    }

    // Removing everything, and a call with nothing to do, succeed.
    for body in [
        json!({"thingName": "t", "thingGroupsToRemove": ["right", "other"]}),
        json!({"thingName": "t"}),
    ] {
        update_groups_of_thing(&api, body).await.ok();
    }
    assert!(groups_of(&api, "t").await.is_empty());
}

#[tokio::test]
async fn list_things_in_thing_group_recurses_and_pages() {
    let api = TestApi::new().await;
    group(&api, "root", None).await;
    group(&api, "child", Some("root")).await;
    group(&api, "grandchild", Some("child")).await;
    for i in 0..5 {
        thing(&api, &format!("r{i}")).await;
        add(&api, &format!("r{i}"), "root").await;
    }
    thing(&api, "c0").await;
    add(&api, "c0", "child").await;
    thing(&api, "g0").await;
    add(&api, "g0", "grandchild").await;

    // (query, the things listed, at once and in pages of 3)
    for (query, listed) in [
        ("", &["r0", "r1", "r2", "r3", "r4"][..]),
        (
            "recursive=true",
            &["c0", "g0", "r0", "r1", "r2", "r3", "r4"],
        ),
    ] {
        let page = api
            .get(&format!("/thing-groups/root/things?{query}"))
            .await
            .ok();
        assert_eq!(names(&page, "things"), listed, "{query}");
        let path = format!("/thing-groups/root/things?{query}");
        let (things, pages) = walk(&api, &path, "things", None, 3).await;
        assert_eq!(things, listed, "{query}");
        assert_eq!(pages, listed.len().div_ceil(3), "{query}");
    }
    let child = api
        .get("/thing-groups/child/things?recursive=true")
        .await
        .ok();
    assert_eq!(names(&child, "things"), ["c0", "g0"]);
    let (things, _) = walk(&api, "/thing-groups/root/things?", "things", None, 2).await;
    assert_eq!(things, ["r0", "r1", "r2", "r3", "r4"]);
    api.get("/thing-groups/root/things?maxResults=0")
        .await
        .error(INVALID_REQUEST);
}
