//! CreateThingGroup, DescribeThingGroup, UpdateThingGroup, DeleteThingGroup, ListThingGroups,
//! AddThingToThingGroup, RemoveThingFromThingGroup, UpdateThingGroupsForThing,
//! ListThingsInThingGroup and ListThingGroupsForThing.

use serde_json::{Value, json};

use crate::harness::TestApi;

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
/// of `field`, or of `field[].key` when `key` is given.
async fn walk(
    api: &TestApi,
    path: &str,
    field: &str,
    key: Option<&str>,
    max: usize,
) -> (Vec<String>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let mut url = format!("{path}&maxResults={max}");
        if let Some(token) = &token {
            url.push_str(&format!("&nextToken={token}"));
        }
        let page = api.get(&url).await.ok();
        pages += 1;
        let list = page[field].as_array().unwrap();
        assert!(list.len() <= max, "{page}");
        items.extend(list.iter().map(|item| {
            match key {
                Some(key) => &item[key],
                None => item,
            }
            .as_str()
            .unwrap()
            .to_owned()
        }));
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => return (items, pages),
        }
    }
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
    api.get("/thing-groups/missing")
        .await
        .error("ResourceNotFoundException", 404);
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
        answer.error("ResourceAlreadyExistsException", 409);
    }
}

#[tokio::test]
async fn names_parents_and_attributes_are_validated() {
    let api = TestApi::new().await;
    api.post("/thing-groups/bad%20name", json!({}))
        .await
        .error("InvalidRequestException", 400);
    api.post(&format!("/thing-groups/{}", "g".repeat(129)), json!({}))
        .await
        .error("InvalidRequestException", 400);
    let message = api
        .post("/thing-groups/g", json!({"parentGroupName": "missing"}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("missing"), "{message}");
    api.post("/thing-groups/g", json!({"parentGroupName": "bad name"}))
        .await
        .error("InvalidRequestException", 400);
    api.post(
        "/thing-groups/g",
        json!({"thingGroupProperties": {"attributePayload": {"attributes": {"a b": "1"}}}}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.post(
        "/thing-groups/g",
        json!({"thingGroupProperties": {"attributePayload": {"attributes": {"a": "x".repeat(801)}}}}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.post(
        "/thing-groups/g",
        json!({"thingGroupProperties": {"thingGroupDescription": "x".repeat(2029)}}),
    )
    .await
    .error("InvalidRequestException", 400);
    let attributes: serde_json::Map<String, Value> = (0..51)
        .map(|i| (format!("a{i}"), Value::from("v")))
        .collect();
    let message = api
        .post(
            "/thing-groups/g",
            json!({"thingGroupProperties": {"attributePayload": {"attributes": attributes}}}),
        )
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("at most 50 attributes"), "{message}");
    let tags: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    api.post("/thing-groups/g", json!({"tags": tags}))
        .await
        .error("InvalidRequestException", 400);
    api.get("/thing-groups/g")
        .await
        .error("ResourceNotFoundException", 404);
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
    let message = api
        .post(
            "/thing-groups/level-8",
            json!({"parentGroupName": "level-7"}),
        )
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("at most 7 levels"), "{message}");
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
    let message = api
        .post(
            "/thing-groups/child-100",
            json!({"parentGroupName": "parent"}),
        )
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("at most 100"), "{message}");
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

    let answer = api
        .patch(
            "/thing-groups/g",
            json!({"thingGroupProperties": {"attributePayload": {"attributes": {"b": "", "c": "3"}, "merge": true}}, "expectedVersion": 1}),
        )
        .await
        .ok();
    assert_eq!(answer, json!({"version": 2}));
    let described = api.get("/thing-groups/g").await.ok();
    assert_eq!(
        described["thingGroupProperties"],
        json!({"thingGroupDescription": "d1", "attributePayload": {"attributes": {"a": "1", "c": "3"}}}),
        "merge adds, an empty value removes, the description stays"
    );
    assert_eq!(described["version"], 2);

    let answer = api
        .patch(
            "/thing-groups/g",
            json!({"thingGroupProperties": {"thingGroupDescription": "d2", "attributePayload": {"attributes": {"z": "9"}}}}),
        )
        .await
        .ok();
    assert_eq!(answer["version"], 3);
    let described = api.get("/thing-groups/g").await.ok();
    assert_eq!(
        described["thingGroupProperties"],
        json!({"thingGroupDescription": "d2", "attributePayload": {"attributes": {"z": "9"}}}),
        "without merge the attributes are replaced"
    );

    let message = api
        .patch(
            "/thing-groups/g",
            json!({"thingGroupProperties": {}, "expectedVersion": 2}),
        )
        .await
        .error("VersionConflictException", 409);
    assert_eq!(
        message,
        "The version for thing group g does not match the expected version."
    );
    let message = api
        .patch("/thing-groups/g", json!({"expectedVersion": 3}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("thingGroupProperties"), "{message}");
    api.patch("/thing-groups/missing", json!({"thingGroupProperties": {}}))
        .await
        .error("ResourceNotFoundException", 404);
    let attributes: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("a{i}"), Value::from("v")))
        .collect();
    api.patch(
        "/thing-groups/g",
        json!({"thingGroupProperties": {"attributePayload": {"attributes": attributes, "merge": true}}}),
    )
    .await
    .error("InvalidRequestException", 400);
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
        .error("InvalidRequestException", 400);
    assert_eq!(
        message,
        "Cannot delete thing group : parent when there are still child groups attached to it"
    );
    api.delete("/thing-groups/child?expectedVersion=2")
        .await
        .error("VersionConflictException", 409);
    api.delete("/thing-groups/child?expectedVersion=x")
        .await
        .error("InvalidRequestException", 400);
    api.delete("/thing-groups/child?expectedVersion=1")
        .await
        .ok();
    api.delete("/thing-groups/parent").await.ok();
    api.get("/thing-groups/parent")
        .await
        .error("ResourceNotFoundException", 404);
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
    let roots = api.get("/thing-groups?recursive=false").await.ok();
    assert_eq!(names(&roots, "thingGroups"), ["a", "b"]);

    let children = api.get("/thing-groups?parentGroup=a").await.ok();
    assert_eq!(names(&children, "thingGroups"), ["a1", "a2"]);
    let children = api
        .get("/thing-groups?parentGroup=a&recursive=false")
        .await
        .ok();
    assert_eq!(names(&children, "thingGroups"), ["a1", "a2"]);
    let descendants = api
        .get("/thing-groups?parentGroup=a&recursive=true")
        .await
        .ok();
    assert_eq!(names(&descendants, "thingGroups"), ["a1", "a1x", "a2"]);
    let prefixed = api.get("/thing-groups?namePrefixFilter=a1").await.ok();
    assert_eq!(names(&prefixed, "thingGroups"), ["a1", "a1x"]);
    let prefixed = api
        .get("/thing-groups?parentGroup=a&recursive=true&namePrefixFilter=a1")
        .await
        .ok();
    assert_eq!(names(&prefixed, "thingGroups"), ["a1", "a1x"]);

    api.get("/thing-groups?parentGroup=missing")
        .await
        .error("ResourceNotFoundException", 404);
    api.get("/thing-groups?recursive=maybe")
        .await
        .error("InvalidRequestException", 400);
    api.get("/thing-groups?maxResults=251")
        .await
        .error("InvalidRequestException", 400);
    api.get("/thing-groups?namePrefixFilter=a%20b")
        .await
        .error("InvalidRequestException", 400);

    let (all, pages) = walk(&api, "/thing-groups?", "thingGroups", Some("groupName"), 2).await;
    assert_eq!(all, ["a", "a1", "a1x", "a2", "b", "b1"]);
    assert_eq!(pages, 3);
    let (descendants, _) = walk(
        &api,
        "/thing-groups?parentGroup=a&recursive=true",
        "thingGroups",
        Some("groupName"),
        1,
    )
    .await;
    assert_eq!(descendants, ["a1", "a1x", "a2"]);
    // Root groups only: pages may be shorter than asked, but every root comes exactly once.
    let (roots, _) = walk(
        &api,
        "/thing-groups?recursive=false",
        "thingGroups",
        Some("groupName"),
        2,
    )
    .await;
    assert_eq!(roots, ["a", "b"]);
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
        api.put(path, json!({"thingName": "missing", "thingGroupName": "g"}))
            .await
            .error("ResourceNotFoundException", 404);
        api.put(path, json!({"thingName": "t", "thingGroupName": "missing"}))
            .await
            .error("ResourceNotFoundException", 404);
        api.put(
            path,
            json!({"thingArn": "arn:aws:iot:us-east-1:123456789012:thing/missing", "thingGroupName": "g"}),
        )
        .await
        .error("ResourceNotFoundException", 404);
        api.put(path, json!({"thingGroupName": "g"}))
            .await
            .error("InvalidRequestException", 400);
        api.put(path, json!({"thingName": "t"}))
            .await
            .error("InvalidRequestException", 400);
        api.put(
            path,
            json!({"thingName": "t", "thingGroupName": "g", "thingGroupArn": arn("other")}),
        )
        .await
        .error("InvalidRequestException", 400);
        api.put(
            path,
            json!({"thingName": "t", "thingGroupArn": "not-an-arn"}),
        )
        .await
        .error("InvalidRequestException", 400);
        api.put(
            path,
            json!({"thingName": "t", "thingGroupArn": "arn:aws:iot:us-east-1:123456789012:thing/g"}),
        )
        .await
        .error("InvalidRequestException", 400);
        api.put(
            path,
            json!({"thingName": "t", "thingGroupArn": "arn:aws:iot:eu-west-1:123456789012:thinggroup/g"}),
        )
        .await
        .error("ResourceNotFoundException", 404);
        api.put(path, json!({"thingName": "a b", "thingGroupName": "g"}))
            .await
            .error("InvalidRequestException", 400);
    }
    api.get("/thing-groups/missing/things")
        .await
        .error("ResourceNotFoundException", 404);
    api.get("/things/missing/thing-groups")
        .await
        .error("ResourceNotFoundException", 404);
    api.get("/thing-groups/g/things?recursive=1")
        .await
        .error("InvalidRequestException", 400);
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
        let message = api
            .put(
                "/thing-groups/addThingToThingGroup",
                json!({"thingName": "t", "thingGroupName": conflicting}),
            )
            .await
            .error("InvalidRequestException", 400);
        assert!(message.contains("same hierarchy"), "{message}");
    }
    add(&api, "t", "elsewhere").await;
    let groups = api.get("/things/t/thing-groups").await.ok();
    assert_eq!(names(&groups, "thingGroups"), ["elsewhere", "left"]);
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
    let message = api
        .put(
            "/thing-groups/addThingToThingGroup",
            json!({"thingName": "t", "thingGroupName": "g10"}),
        )
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("at most 10"), "{message}");
    // Re-adding one it is in is still fine.
    add(&api, "t", "g00").await;
    // Swapping in one call keeps ten.
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToAdd": ["g10"], "thingGroupsToRemove": ["g00"]}),
    )
    .await
    .ok();
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToAdd": ["g00"]}),
    )
    .await
    .error("InvalidRequestException", 400);

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
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToAdd": ["right", "other"], "thingGroupsToRemove": ["left"]}),
    )
    .await
    .ok();
    let groups = api.get("/things/t/thing-groups").await.ok();
    assert_eq!(names(&groups, "thingGroups"), ["other", "right"]);
    // ...but not adding two of one hierarchy.
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToAdd": ["left"]}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToAdd": ["left", "root"], "thingGroupsToRemove": ["right"]}),
    )
    .await
    .error("InvalidRequestException", 400);
    // Refused requests change nothing.
    let groups = api.get("/things/t/thing-groups").await.ok();
    assert_eq!(names(&groups, "thingGroups"), ["other", "right"]);

    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToAdd": ["missing"]}),
    )
    .await
    .error("ResourceNotFoundException", 404);
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToRemove": ["missing"]}),
    )
    .await
    .error("ResourceNotFoundException", 404);
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "missing", "thingGroupsToAdd": ["other"]}),
    )
    .await
    .error("ResourceNotFoundException", 404);
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingGroupsToAdd": ["other"]}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToAdd": ["bad name"]}),
    )
    .await
    .error("InvalidRequestException", 400);

    // Removing everything, and a call with nothing to do, succeed.
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t", "thingGroupsToRemove": ["right", "other"]}),
    )
    .await
    .ok();
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "t"}),
    )
    .await
    .ok();
    let groups = api.get("/things/t/thing-groups").await.ok();
    assert_eq!(groups, json!({"thingGroups": []}));
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

    let direct = api.get("/thing-groups/root/things").await.ok();
    assert_eq!(names(&direct, "things"), ["r0", "r1", "r2", "r3", "r4"]);
    let all = api
        .get("/thing-groups/root/things?recursive=true")
        .await
        .ok();
    assert_eq!(
        names(&all, "things"),
        ["c0", "g0", "r0", "r1", "r2", "r3", "r4"]
    );
    let child = api
        .get("/thing-groups/child/things?recursive=true")
        .await
        .ok();
    assert_eq!(names(&child, "things"), ["c0", "g0"]);

    let (things, pages) = walk(
        &api,
        "/thing-groups/root/things?recursive=true",
        "things",
        None,
        3,
    )
    .await;
    assert_eq!(things, ["c0", "g0", "r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(pages, 3);
    let (things, _) = walk(&api, "/thing-groups/root/things?", "things", None, 2).await;
    assert_eq!(things, ["r0", "r1", "r2", "r3", "r4"]);
    api.get("/thing-groups/root/things?maxResults=0")
        .await
        .error("InvalidRequestException", 400);
}
