//! CreateThing, DescribeThing, UpdateThing, DeleteThing and ListThings.

use serde_json::json;

use crate::harness::TestApi;

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
        .error("VersionConflictException", 409);
    assert_eq!(
        message,
        "The version for thing button-1 does not match the expected version."
    );

    api.delete("/things/button-1").await.ok();
    api.get("/things/button-1")
        .await
        .error("ResourceNotFoundException", 404);
    // Deleting a thing that does not exist succeeds, as in AWS IoT.
    api.delete("/things/button-1").await.ok();
}

#[tokio::test]
async fn create_is_idempotent_only_for_the_same_configuration() {
    let api = TestApi::new().await;
    let first = api
        .post(
            "/things/t",
            json!({"attributePayload": {"attributes": {"a": "1"}}}),
        )
        .await
        .ok();
    let again = api
        .post(
            "/things/t",
            json!({"attributePayload": {"attributes": {"a": "1"}}}),
        )
        .await
        .ok();
    assert_eq!(first, again);
    let answer = api
        .post(
            "/things/t",
            json!({"attributePayload": {"attributes": {"a": "2"}}}),
        )
        .await;
    assert_eq!(answer.body["resourceId"], first["thingId"]);
    assert_eq!(answer.body["resourceArn"], first["thingArn"]);
    answer.error("ResourceAlreadyExistsException", 409);
}

#[tokio::test]
async fn names_and_attributes_are_validated() {
    let api = TestApi::new().await;
    let message = api
        .post("/things/bad%20name", json!({}))
        .await
        .error("InvalidRequestException", 400);
    assert!(
        message.contains("Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"),
        "{message}"
    );
    let long = "a".repeat(129);
    api.post(&format!("/things/{long}"), json!({}))
        .await
        .error("InvalidRequestException", 400);
    api.post(
        "/things/t",
        json!({"attributePayload": {"attributes": {"a b": "1"}}}),
    )
    .await
    .error("InvalidRequestException", 400);
    let message = api
        .post(
            "/things/t",
            json!({"attributePayload": {"attributes": {"a": "1", "b": "2", "c": "3", "d": "4"}}}),
        )
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("at most 3 attributes"), "{message}");
    api.post("/things/t", json!({"thingTypeName": "missing"}))
        .await
        .error("ResourceNotFoundException", 404);
    api.post("/things/t", json!({"attributePayload": 7}))
        .await
        .error("InvalidRequestException", 400);
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
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(token) => format!("/things?maxResults=3&nextToken={token}"),
            None => "/things?maxResults=3".to_owned(),
        };
        let page = api.get(&path).await.ok();
        names.extend(
            page["things"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["thingName"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
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
    api.get("/things?maxResults=0")
        .await
        .error("InvalidRequestException", 400);
    api.get("/things?maxResults=251")
        .await
        .error("InvalidRequestException", 400);
}

#[tokio::test]
async fn unknown_and_unimplemented_operations_get_aws_errors() {
    let api = TestApi::new().await;
    let message = api
        .get("/policies")
        .await
        .error("NotImplementedException", 501);
    assert!(message.contains("ListPolicies"), "{message}");
    api.get("/no/such/operation")
        .await
        .error("UnknownOperationException", 404);
}

#[tokio::test]
async fn a_known_path_with_another_method_gets_an_aws_error() {
    let api = TestApi::new().await;
    // POST /things is RegisterThing, which thingd does not offer; DELETE /things is nothing.
    let message = api
        .post("/things", json!({}))
        .await
        .error("NotImplementedException", 501);
    assert!(message.contains("RegisterThing"), "{message}");
    api.delete("/things")
        .await
        .error("UnknownOperationException", 404);
}
