//! CreateThing, DescribeThing, UpdateThing, DeleteThing and ListThings.

use serde_json::json;

use crate::harness::{
    INVALID_REQUEST, NOT_FOUND, NOT_IMPLEMENTED, TestApi, UNKNOWN_OPERATION, VERSION_CONFLICT,
    item_names, items,
};

#[tokio::test]
async fn create_describe_update_delete_a_thing() {
    let api = TestApi::new().await;
    let created = api
        .post(
            "/things/button-1",
            json!({"attributePayload": {"attributes": {"serial": "G030"}}}),
        )
        .await
        .ok();
    assert_eq!(created["thingName"], "button-1");
    assert_eq!(
        created["thingArn"],
        "arn:aws:iot:us-east-1:123456789012:thing/button-1"
    );
    let described = api.get("/things/button-1").await.ok();
    assert_eq!(described["thingId"], created["thingId"]);
    assert_eq!(described["defaultClientId"], "button-1");
    assert_eq!(described["attributes"], json!({"serial": "G030"}));
    assert_eq!(described["version"], 1);

    api.patch("/things/button-1", json!({"attributePayload": {"attributes": {"color": "red", "serial": ""}, "merge": true}, "expectedVersion": 1}))
        .await
        .ok();
    let described = api.get("/things/button-1").await.ok();
    assert_eq!(
        described["attributes"],
        json!({"color": "red"}),
        "merge adds, an empty value removes"
    );
    assert_eq!(described["version"], 2);

    let message = api
        .patch(
            "/things/button-1",
            json!({"attributePayload": {"attributes": {}}, "expectedVersion": 1}),
        )
        .await
        .error(VERSION_CONFLICT);
    assert_eq!(
        message,
        "The version for thing button-1 does not match the expected version."
    );

    api.delete("/things/button-1").await.ok();
    api.get("/things/button-1").await.error(NOT_FOUND);
    // Deleting a thing that does not exist succeeds, as in AWS IoT.
    api.delete("/things/button-1").await.ok();
}

#[tokio::test]
async fn create_is_idempotent_only_for_the_same_configuration() {
    let api = TestApi::new().await;
    let body = |value: &str| json!({"attributePayload": {"attributes": {"a": value}}});
    let first = api.post("/things/t", body("1")).await.ok();
    let again = api.post("/things/t", body("1")).await.ok();
    assert_eq!(first, again);
    api.post("/things/t", body("2"))
        .await
        .already_exists(first["thingId"].clone(), first["thingArn"].clone());
}

#[tokio::test]
async fn names_and_attributes_are_validated() {
    let api = TestApi::new().await;
    let long = format!("/things/{}", "a".repeat(129));
    // (path, body, error, a part of the message)
    for (path, body, error, says) in [
        (
            "/things/bad%20name",
            json!({}),
            INVALID_REQUEST,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+",
        ),
        (long.as_str(), json!({}), INVALID_REQUEST, ""),
        (
            "/things/t",
            json!({"attributePayload": {"attributes": {"a b": "1"}}}),
            INVALID_REQUEST,
            "",
        ),
        (
            "/things/t",
            json!({"attributePayload": {"attributes": {"a": "1", "b": "2", "c": "3", "d": "4"}}}),
            INVALID_REQUEST,
            "at most 3 attributes",
        ),
        (
            "/things/t",
            json!({"thingTypeName": "missing"}),
            NOT_FOUND,
            "",
        ),
        (
            "/things/t",
            json!({"attributePayload": 7}),
            INVALID_REQUEST,
            "",
        ),
    ] {
        api.post(path, body).await.error_saying(error, says);
    }
}

#[tokio::test]
async fn list_things_pages_and_filters() {
    let api = TestApi::new().await;
    for i in 0..7 {
        let attributes = json!({"floor": (i % 2).to_string(), "serial": format!("S{i}")});
        api.post(
            &format!("/things/thing-{i}"),
            json!({"attributePayload": {"attributes": attributes}}),
        )
        .await
        .ok();
    }
    let pages = api.pages("/things?maxResults=3", &[]).await;
    let names = item_names(&items(&pages, "things", Some(3)), "thingName");
    assert_eq!(
        names,
        (0..7).map(|i| format!("thing-{i}")).collect::<Vec<_>>()
    );
    let floor1 = api
        .get("/things?attributeName=floor&attributeValue=1")
        .await
        .ok();
    assert_eq!(floor1["things"].as_array().unwrap().len(), 3);
    let prefix = api
        .get("/things?attributeName=serial&attributeValue=S&usePrefixAttributeValue=true")
        .await
        .ok();
    assert_eq!(prefix["things"].as_array().unwrap().len(), 7);
    for bad in ["maxResults=0", "maxResults=251"] {
        api.get(&format!("/things?{bad}"))
            .await
            .error(INVALID_REQUEST);
    }
}

#[tokio::test]
async fn unknown_and_unimplemented_operations_get_aws_errors() {
    let api = TestApi::new().await;
    api.get("/billing-groups")
        .await
        .error_saying(NOT_IMPLEMENTED, "ListBillingGroups");
    api.get("/no/such/operation").await.error(UNKNOWN_OPERATION);
}

#[tokio::test]
async fn a_known_path_with_another_method_gets_an_aws_error() {
    let api = TestApi::new().await;
    // POST /things is RegisterThing, which thingd does not offer; DELETE /things is nothing.
    api.post("/things", json!({}))
        .await
        .error_saying(NOT_IMPLEMENTED, "RegisterThing");
    api.delete("/things").await.error(UNKNOWN_OPERATION);
}
