//! CreateThingType, DescribeThingType, ListThingTypes, UpdateThingType, DeprecateThingType
//! and DeleteThingType.

use serde_json::{Value, json};

use crate::harness::{
    ALREADY_EXISTS, Answer, INVALID_REQUEST, NOT_FOUND, TestApi, item_names, items, numbered_tags,
};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:thingtype/bulb";

/// Every name ListThingTypes returns, page by page, with `maxResults`; and the number of pages.
async fn walk(api: &TestApi, query: &str, max: usize) -> (Vec<String>, usize) {
    let pages = api
        .pages(&format!("/thing-types?maxResults={max}{query}"), &[])
        .await;
    let items = items(&pages, "thingTypes", Some(max));
    (item_names(&items, "thingTypeName"), pages.len())
}

/// DeprecateThingType with `body`.
async fn deprecate(api: &TestApi, name: &str, body: Value) -> Answer {
    api.post(&format!("/thing-types/{name}/deprecate"), body)
        .await
}

/// DescribeThingType's `thingTypeMetadata`.
async fn type_metadata(api: &TestApi, name: &str) -> Value {
    api.get(&format!("/thing-types/{name}")).await.ok()["thingTypeMetadata"].clone()
}

#[tokio::test]
async fn create_and_describe_a_thing_type() {
    let api = TestApi::new().await;
    let created = api
        .post(
            "/thing-types/bulb",
            json!({
                "thingTypeProperties": {
                    "thingTypeDescription": "A light bulb",
                    "searchableAttributes": ["wattage", "model"]
                },
                "tags": [{"Key": "team", "Value": "lighting"}, {"Key": "empty"}]
            }),
        )
        .await
        .ok();
    assert_eq!(created["thingTypeName"], "bulb");
    assert_eq!(created["thingTypeArn"], ARN);
    let id = created["thingTypeId"].as_str().unwrap();
    assert!(!id.is_empty());

    let described = api.get("/thing-types/bulb").await.ok();
    assert_eq!(described["thingTypeName"], "bulb");
    assert_eq!(described["thingTypeId"], id);
    assert_eq!(described["thingTypeArn"], ARN);
    assert_eq!(
        described["thingTypeProperties"],
        json!({"thingTypeDescription": "A light bulb", "searchableAttributes": ["wattage", "model"]})
    );
    let metadata = &described["thingTypeMetadata"];
    assert_eq!(metadata["deprecated"], false);
    assert!(
        metadata.get("deprecationDate").is_none(),
        "absent members are omitted: {metadata}"
    );
    let created_at = metadata["creationDate"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - created_at).abs() < 60.0,
        "epoch seconds, not milliseconds: {created_at}"
    );

    let tags = api.get(&format!("/tags?resourceArn={ARN}")).await.ok();
    assert_eq!(
        tags,
        json!({"tags": [{"Key": "empty", "Value": ""}, {"Key": "team", "Value": "lighting"}]})
    );

    // Without properties, the optional members are omitted.
    api.post("/thing-types/plain", json!({})).await.ok();
    let plain = api.get("/thing-types/plain").await.ok();
    assert_eq!(plain["thingTypeProperties"], json!({}));
    api.get("/thing-types/missing").await.error(NOT_FOUND);
}

#[tokio::test]
async fn create_is_idempotent_only_for_the_same_properties() {
    let api = TestApi::new().await;
    let body = json!({"thingTypeProperties": {"searchableAttributes": ["a"]}});
    let first = api.post("/thing-types/t", body.clone()).await.ok();
    let again = api.post("/thing-types/t", body).await.ok();
    assert_eq!(first, again);
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"searchableAttributes": ["b"]}}),
    )
    .await
    .already_exists(first["thingTypeId"].clone(), first["thingTypeArn"].clone());
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"searchableAttributes": ["a"], "thingTypeDescription": "d"}}),
    )
    .await
    .error(ALREADY_EXISTS);
}

#[tokio::test]
async fn names_properties_and_tags_are_validated() {
    let api = TestApi::new().await;
    api.post(&format!("/thing-types/{}", "t".repeat(128)), json!({}))
        .await
        .ok();
    let too_long = format!("/thing-types/{}", "t".repeat(129));
    // (path, body, a part of the message)
    for (path, body, says) in [
        ("/thing-types/bad%20name", json!({}), "thingTypeName"),
        (too_long.as_str(), json!({}), ""),
        (
            "/thing-types/t",
            json!({"thingTypeProperties": {"searchableAttributes": ["a", "b", "c", "d"]}}),
            "at most 3 searchable attributes",
        ),
        (
            "/thing-types/t",
            json!({"thingTypeProperties": {"searchableAttributes": ["a b"]}}),
            "",
        ),
        (
            "/thing-types/t",
            json!({"thingTypeProperties": {"thingTypeDescription": "x".repeat(2029)}}),
            "",
        ),
        (
            "/thing-types/t",
            json!({"thingTypeProperties": {"thingTypeDescription": "line\nbreak"}}),
            "",
        ),
        (
            "/thing-types/t",
            json!({"thingTypeProperties": {"mqtt5Configuration": {"propagatingAttributes": [
                {"userPropertyKey": "k", "thingAttribute": "a"}
            ]}}}),
            "",
        ),
        (
            "/thing-types/t",
            json!({"tags": numbered_tags(51)}),
            "at most 50 tags",
        ),
        ("/thing-types/t", json!({"tags": [{"Key": ""}]}), ""),
        (
            "/thing-types/t",
            json!({"tags": [{"Key": "aws:owner", "Value": "me"}]}),
            "",
        ),
        ("/thing-types/t", json!({"tags": [{"Value": "no key"}]}), ""),
    ] {
        api.post(path, body)
            .await
            .error_saying(INVALID_REQUEST, says);
    }
    // None of the refused requests created the type.
    api.get("/thing-types/t").await.error(NOT_FOUND);
    // Exactly three searchable attributes and fifty tags are fine.
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"searchableAttributes": ["a", "b", "c"]}, "tags": numbered_tags(50)}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn update_patches_the_given_properties() {
    let api = TestApi::new().await;
    api.post(
        "/thing-types/bulb",
        json!({"thingTypeProperties": {"thingTypeDescription": "old", "searchableAttributes": ["a"]}}),
    )
    .await
    .ok();
    // (the update, the properties it leaves)
    for (update, properties) in [
        (
            json!({"thingTypeDescription": "new"}),
            json!({"thingTypeDescription": "new", "searchableAttributes": ["a"]}),
        ),
        (
            json!({"searchableAttributes": ["x", "y", "z"]}),
            json!({"thingTypeDescription": "new", "searchableAttributes": ["x", "y", "z"]}),
        ),
    ] {
        api.patch(
            "/thing-types/bulb",
            json!({ "thingTypeProperties": update }),
        )
        .await
        .ok();
        let described = api.get("/thing-types/bulb").await.ok();
        assert_eq!(described["thingTypeProperties"], properties);
    }
    api.patch(
        "/thing-types/bulb",
        json!({"thingTypeProperties": {"searchableAttributes": ["a", "b", "c", "d"]}}),
    )
    .await
    .error(INVALID_REQUEST);
    api.patch("/thing-types/missing", json!({"thingTypeProperties": {}}))
        .await
        .error(NOT_FOUND);
}

#[tokio::test]
async fn deprecated_types_take_no_new_things_until_undeprecated() {
    let api = TestApi::new().await;
    api.post("/thing-types/bulb", json!({})).await.ok();
    api.post("/things/lamp-1", json!({"thingTypeName": "bulb"}))
        .await
        .ok();
    deprecate(&api, "bulb", json!({})).await.ok();
    let metadata = type_metadata(&api, "bulb").await;
    assert_eq!(metadata["deprecated"], true);
    let deprecated_at = metadata["deprecationDate"].as_f64().unwrap();
    assert!(deprecated_at >= metadata["creationDate"].as_f64().unwrap());

    api.post("/things/lamp-2", json!({"thingTypeName": "bulb"}))
        .await
        .error(INVALID_REQUEST);
    // Things of the type stay as they are.
    assert_eq!(
        api.get("/things/lamp-1").await.ok()["thingTypeName"],
        "bulb"
    );
    // Deprecating again keeps the first date.
    deprecate(&api, "bulb", json!({"undoDeprecate": false}))
        .await
        .ok();
    let metadata = type_metadata(&api, "bulb").await;
    assert_eq!(metadata["deprecationDate"].as_f64().unwrap(), deprecated_at);

    deprecate(&api, "bulb", json!({"undoDeprecate": true}))
        .await
        .ok();
    let metadata = type_metadata(&api, "bulb").await;
    assert_eq!(metadata["deprecated"], false);
    assert!(metadata.get("deprecationDate").is_none(), "{metadata}");
    api.post("/things/lamp-2", json!({"thingTypeName": "bulb"}))
        .await
        .ok();

    deprecate(&api, "missing", json!({})).await.error(NOT_FOUND);
    deprecate(&api, "bulb", json!({"undoDeprecate": "yes"}))
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn delete_requires_deprecation_and_no_things() {
    let api = TestApi::new().await;
    api.post(
        "/thing-types/bulb",
        json!({"tags": [{"Key": "team", "Value": "lighting"}]}),
    )
    .await
    .ok();
    api.post("/things/lamp", json!({"thingTypeName": "bulb"}))
        .await
        .ok();

    api.delete("/thing-types/bulb")
        .await
        .error_saying(INVALID_REQUEST, "deprecated");
    deprecate(&api, "bulb", json!({})).await.ok();
    api.delete("/thing-types/bulb")
        .await
        .error_saying(INVALID_REQUEST, "things");

    api.patch("/things/lamp", json!({"removeThingType": true}))
        .await
        .ok();
    api.delete("/thing-types/bulb").await.ok();
    api.get("/thing-types/bulb").await.error(NOT_FOUND);
    api.delete("/thing-types/bulb").await.error(NOT_FOUND);

    // Its tags went with it: a new type of the same name starts untagged.
    api.post("/thing-types/bulb", json!({})).await.ok();
    let tags = api.get(&format!("/tags?resourceArn={ARN}")).await.ok();
    assert_eq!(tags, json!({"tags": []}));
}

#[tokio::test]
async fn list_thing_types_pages_and_filters() {
    let api = TestApi::new().await;
    for i in 0..7 {
        api.post(
            &format!("/thing-types/type-{i}"),
            json!({"thingTypeProperties": {"searchableAttributes": ["serial"]}}),
        )
        .await
        .ok();
    }
    deprecate(&api, "type-3", json!({})).await.ok();

    let (names, pages) = walk(&api, "", 3).await;
    assert_eq!(
        names,
        (0..7).map(|i| format!("type-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(pages, 3);

    let all = api.get("/thing-types").await.ok();
    assert!(all.get("nextToken").is_none(), "{all}");
    let first = &all["thingTypes"][0];
    assert_eq!(first["thingTypeName"], "type-0");
    assert_eq!(
        first["thingTypeArn"],
        "arn:aws:iot:us-east-1:123456789012:thingtype/type-0"
    );
    assert_eq!(
        first["thingTypeProperties"],
        json!({"searchableAttributes": ["serial"]})
    );
    assert_eq!(first["thingTypeMetadata"]["deprecated"], false);
    assert!(
        first.get("thingTypeId").is_none(),
        "ThingTypeDefinition has no id"
    );
    assert_eq!(
        all["thingTypes"][3]["thingTypeMetadata"]["deprecated"],
        true
    );

    let one = api.get("/thing-types?thingTypeName=type-3").await.ok();
    assert_eq!(one["thingTypes"].as_array().unwrap().len(), 1);
    assert_eq!(one["thingTypes"][0]["thingTypeName"], "type-3");
    let none = api.get("/thing-types?thingTypeName=nothing").await.ok();
    assert_eq!(none, json!({"thingTypes": []}));

    for bad in ["maxResults=0", "maxResults=251", "thingTypeName=bad%20name"] {
        api.get(&format!("/thing-types?{bad}"))
            .await
            .error(INVALID_REQUEST);
    }
}
