//! CreateThingType, DescribeThingType, ListThingTypes, UpdateThingType, DeprecateThingType
//! and DeleteThingType.

use serde_json::{Value, json};

use crate::harness::TestApi;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:thingtype/bulb";

/// Every name ListThingTypes returns, page by page, with `maxResults`.
async fn walk(api: &TestApi, query: &str, max: usize) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/thing-types?maxResults={max}{query}");
        if let Some(token) = &token {
            path.push_str(&format!("&nextToken={token}"));
        }
        let page = api.get(&path).await.ok();
        pages += 1;
        let items = page["thingTypes"].as_array().unwrap();
        assert!(items.len() <= max);
        names.extend(
            items
                .iter()
                .map(|t| t["thingTypeName"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => return (names, pages),
        }
    }
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
    api.get("/thing-types/missing")
        .await
        .error("ResourceNotFoundException", 404);
}

#[tokio::test]
async fn create_is_idempotent_only_for_the_same_properties() {
    let api = TestApi::new().await;
    let body = json!({"thingTypeProperties": {"searchableAttributes": ["a"]}});
    let first = api.post("/thing-types/t", body.clone()).await.ok();
    let again = api.post("/thing-types/t", body).await.ok();
    assert_eq!(first, again);
    let answer = api
        .post(
            "/thing-types/t",
            json!({"thingTypeProperties": {"searchableAttributes": ["b"]}}),
        )
        .await;
    assert_eq!(answer.body["resourceId"], first["thingTypeId"]);
    assert_eq!(answer.body["resourceArn"], first["thingTypeArn"]);
    answer.error("ResourceAlreadyExistsException", 409);
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"searchableAttributes": ["a"], "thingTypeDescription": "d"}}),
    )
    .await
    .error("ResourceAlreadyExistsException", 409);
}

#[tokio::test]
async fn names_properties_and_tags_are_validated() {
    let api = TestApi::new().await;
    let message = api
        .post("/thing-types/bad%20name", json!({}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("thingTypeName"), "{message}");
    api.post(&format!("/thing-types/{}", "t".repeat(129)), json!({}))
        .await
        .error("InvalidRequestException", 400);
    api.post(&format!("/thing-types/{}", "t".repeat(128)), json!({}))
        .await
        .ok();

    let message = api
        .post(
            "/thing-types/t",
            json!({"thingTypeProperties": {"searchableAttributes": ["a", "b", "c", "d"]}}),
        )
        .await
        .error("InvalidRequestException", 400);
    assert!(
        message.contains("at most 3 searchable attributes"),
        "{message}"
    );
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"searchableAttributes": ["a b"]}}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"thingTypeDescription": "x".repeat(2029)}}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"thingTypeDescription": "line\nbreak"}}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"mqtt5Configuration": {"propagatingAttributes": [
            {"userPropertyKey": "k", "thingAttribute": "a"}
        ]}}}),
    )
    .await
    .error("InvalidRequestException", 400);

    let tags: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let message = api
        .post("/thing-types/t", json!({"tags": tags}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("at most 50 tags"), "{message}");
    api.post("/thing-types/t", json!({"tags": [{"Key": ""}]}))
        .await
        .error("InvalidRequestException", 400);
    api.post(
        "/thing-types/t",
        json!({"tags": [{"Key": "aws:owner", "Value": "me"}]}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.post("/thing-types/t", json!({"tags": [{"Value": "no key"}]}))
        .await
        .error("InvalidRequestException", 400);
    // None of the refused requests created the type.
    api.get("/thing-types/t")
        .await
        .error("ResourceNotFoundException", 404);
    // Exactly three searchable attributes and fifty tags are fine.
    let tags: Vec<Value> = (0..50)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    api.post(
        "/thing-types/t",
        json!({"thingTypeProperties": {"searchableAttributes": ["a", "b", "c"]}, "tags": tags}),
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
    api.patch(
        "/thing-types/bulb",
        json!({"thingTypeProperties": {"thingTypeDescription": "new"}}),
    )
    .await
    .ok();
    let described = api.get("/thing-types/bulb").await.ok();
    assert_eq!(
        described["thingTypeProperties"],
        json!({"thingTypeDescription": "new", "searchableAttributes": ["a"]})
    );
    api.patch(
        "/thing-types/bulb",
        json!({"thingTypeProperties": {"searchableAttributes": ["x", "y", "z"]}}),
    )
    .await
    .ok();
    let described = api.get("/thing-types/bulb").await.ok();
    assert_eq!(
        described["thingTypeProperties"],
        json!({"thingTypeDescription": "new", "searchableAttributes": ["x", "y", "z"]})
    );
    api.patch(
        "/thing-types/bulb",
        json!({"thingTypeProperties": {"searchableAttributes": ["a", "b", "c", "d"]}}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.patch("/thing-types/missing", json!({"thingTypeProperties": {}}))
        .await
        .error("ResourceNotFoundException", 404);
}

#[tokio::test]
async fn deprecated_types_take_no_new_things_until_undeprecated() {
    let api = TestApi::new().await;
    api.post("/thing-types/bulb", json!({})).await.ok();
    api.post("/things/lamp-1", json!({"thingTypeName": "bulb"}))
        .await
        .ok();
    api.post("/thing-types/bulb/deprecate", json!({}))
        .await
        .ok();
    let metadata = api.get("/thing-types/bulb").await.ok()["thingTypeMetadata"].clone();
    assert_eq!(metadata["deprecated"], true);
    let deprecated_at = metadata["deprecationDate"].as_f64().unwrap();
    assert!(deprecated_at >= metadata["creationDate"].as_f64().unwrap());

    api.post("/things/lamp-2", json!({"thingTypeName": "bulb"}))
        .await
        .error("InvalidRequestException", 400);
    // Things of the type stay as they are.
    assert_eq!(
        api.get("/things/lamp-1").await.ok()["thingTypeName"],
        "bulb"
    );
    // Deprecating again keeps the first date.
    api.post(
        "/thing-types/bulb/deprecate",
        json!({"undoDeprecate": false}),
    )
    .await
    .ok();
    let metadata = api.get("/thing-types/bulb").await.ok()["thingTypeMetadata"].clone();
    assert_eq!(metadata["deprecationDate"].as_f64().unwrap(), deprecated_at);

    api.post(
        "/thing-types/bulb/deprecate",
        json!({"undoDeprecate": true}),
    )
    .await
    .ok();
    let metadata = api.get("/thing-types/bulb").await.ok()["thingTypeMetadata"].clone();
    assert_eq!(metadata["deprecated"], false);
    assert!(metadata.get("deprecationDate").is_none(), "{metadata}");
    api.post("/things/lamp-2", json!({"thingTypeName": "bulb"}))
        .await
        .ok();

    api.post("/thing-types/missing/deprecate", json!({}))
        .await
        .error("ResourceNotFoundException", 404);
    api.post(
        "/thing-types/bulb/deprecate",
        json!({"undoDeprecate": "yes"}),
    )
    .await
    .error("InvalidRequestException", 400);
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

    let message = api
        .delete("/thing-types/bulb")
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("deprecated"), "{message}");
    api.post("/thing-types/bulb/deprecate", json!({}))
        .await
        .ok();
    let message = api
        .delete("/thing-types/bulb")
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("things"), "{message}");

    api.patch("/things/lamp", json!({"removeThingType": true}))
        .await
        .ok();
    api.delete("/thing-types/bulb").await.ok();
    api.get("/thing-types/bulb")
        .await
        .error("ResourceNotFoundException", 404);
    api.delete("/thing-types/bulb")
        .await
        .error("ResourceNotFoundException", 404);

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
    api.post("/thing-types/type-3/deprecate", json!({}))
        .await
        .ok();

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

    api.get("/thing-types?maxResults=0")
        .await
        .error("InvalidRequestException", 400);
    api.get("/thing-types?maxResults=251")
        .await
        .error("InvalidRequestException", 400);
    api.get("/thing-types?thingTypeName=bad%20name")
        .await
        .error("InvalidRequestException", 400);
}
