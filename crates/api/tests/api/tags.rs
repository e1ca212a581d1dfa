//! TagResource, UntagResource and ListTagsForResource, on every kind of resource thingd keeps.

use serde_json::{Value, json};
use thingd_registry::{CaCertificate, CaStatus, Tag, Timestamp};

use crate::harness::TestApi;

const GROUP: &str = "arn:aws:iot:us-east-1:123456789012:thinggroup/lights";
const TYPE: &str = "arn:aws:iot:us-east-1:123456789012:thingtype/bulb";

fn tags(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(key, value)| json!({"Key": key, "Value": value}))
            .collect(),
    )
}

async fn list(api: &TestApi, arn: &str) -> Value {
    api.get(&format!("/tags?resourceArn={arn}")).await.ok()
}

#[tokio::test]
async fn tag_list_and_untag_groups_and_types() {
    let api = TestApi::new().await;
    api.post("/thing-groups/lights", json!({})).await.ok();
    api.post("/thing-types/bulb", json!({})).await.ok();
    for arn in [GROUP, TYPE] {
        assert_eq!(list(&api, arn).await, json!({"tags": []}));
        api.post(
            "/tags",
            json!({"resourceArn": arn, "tags": tags(&[("b", "2"), ("a", "1")])}),
        )
        .await
        .ok();
        assert_eq!(
            list(&api, arn).await,
            json!({"tags": tags(&[("a", "1"), ("b", "2")])}),
            "in key order"
        );
        // A known key gets the new value; an absent value is the empty string.
        api.post(
            "/tags",
            json!({"resourceArn": arn, "tags": [{"Key": "a", "Value": "one"}, {"Key": "c"}]}),
        )
        .await
        .ok();
        assert_eq!(
            list(&api, arn).await,
            json!({"tags": tags(&[("a", "one"), ("b", "2"), ("c", "")])})
        );
        // Unknown keys are ignored.
        api.post(
            "/untag",
            json!({"resourceArn": arn, "tagKeys": ["a", "zzz"]}),
        )
        .await
        .ok();
        assert_eq!(
            list(&api, arn).await,
            json!({"tags": tags(&[("b", "2"), ("c", "")])})
        );
        api.post("/untag", json!({"resourceArn": arn, "tagKeys": []}))
            .await
            .ok();
        api.post("/tags", json!({"resourceArn": arn, "tags": []}))
            .await
            .ok();
    }
    // Tags are per resource.
    api.post("/thing-groups/other", json!({})).await.ok();
    assert_eq!(
        list(&api, "arn:aws:iot:us-east-1:123456789012:thinggroup/other").await,
        json!({"tags": []})
    );
}

#[tokio::test]
async fn ca_certificates_are_taggable() {
    let api = TestApi::new().await;
    let id = "ab".repeat(32);
    let now = Timestamp::now();
    api.state
        .store
        .insert_ca_certificate(&CaCertificate {
            id: id.clone(),
            pem: "-----BEGIN CERTIFICATE-----".into(),
            status: CaStatus::Active,
            auto_registration: false,
            not_before: now,
            not_after: now,
            created: now,
            last_modified: now,
            version: 1,
            generation_id: "g".into(),
        })
        .await
        .unwrap();
    let arn = format!("arn:aws:iot:us-east-1:123456789012:cacert/{id}");
    api.post(
        "/tags",
        json!({"resourceArn": arn, "tags": tags(&[("k", "v")])}),
    )
    .await
    .ok();
    assert_eq!(list(&api, &arn).await, json!({"tags": tags(&[("k", "v")])}));
}

#[tokio::test]
async fn resources_must_exist_and_be_taggable() {
    let api = TestApi::new().await;
    api.post("/things/lamp", json!({})).await.ok();
    let body = |arn: &str| json!({"resourceArn": arn, "tags": tags(&[("k", "v")])});

    // Things and device certificates take no tags in AWS IoT.
    for arn in [
        "arn:aws:iot:us-east-1:123456789012:thing/lamp".to_owned(),
        format!(
            "arn:aws:iot:us-east-1:123456789012:cert/{}",
            "ab".repeat(32)
        ),
    ] {
        let message = api
            .post("/tags", body(&arn))
            .await
            .error("InvalidRequestException", 400);
        assert!(message.contains("does not support tags"), "{message}");
        api.get(&format!("/tags?resourceArn={arn}"))
            .await
            .error("InvalidRequestException", 400);
    }
    for arn in [
        GROUP,
        TYPE,
        "arn:aws:iot:us-east-1:123456789012:policy/p",
        "arn:aws:iot:us-east-1:123456789012:rule/r",
        "arn:aws:iot:us-east-1:123456789012:cacert/abcd",
        // Another account's or region's resource is not here.
        "arn:aws:iot:us-east-1:999999999999:thinggroup/lights",
        "arn:aws:iot:eu-west-1:123456789012:thinggroup/lights",
    ] {
        api.post("/tags", body(arn))
            .await
            .error("ResourceNotFoundException", 404);
        api.post("/untag", json!({"resourceArn": arn, "tagKeys": ["k"]}))
            .await
            .error("ResourceNotFoundException", 404);
        api.get(&format!("/tags?resourceArn={arn}"))
            .await
            .error("ResourceNotFoundException", 404);
    }
    for arn in [
        "lights",
        "arn:aws:s3:::bucket",
        "arn:aws:iot:us-east-1:123456789012:topic/a",
    ] {
        api.post("/tags", body(arn))
            .await
            .error("InvalidRequestException", 400);
    }
}

#[tokio::test]
async fn requests_are_validated() {
    let api = TestApi::new().await;
    api.post("/thing-groups/lights", json!({})).await.ok();
    let message = api
        .post("/tags", json!({"tags": tags(&[("k", "v")])}))
        .await
        .error("InvalidRequestException", 400);
    assert!(message.contains("resourceArn"), "{message}");
    api.post("/tags", json!({"resourceArn": GROUP}))
        .await
        .error("InvalidRequestException", 400);
    api.post("/untag", json!({"resourceArn": GROUP}))
        .await
        .error("InvalidRequestException", 400);
    api.post("/untag", json!({"tagKeys": ["k"]}))
        .await
        .error("InvalidRequestException", 400);
    api.get("/tags").await.error("InvalidRequestException", 400);

    for bad in [
        json!([{"Key": "", "Value": "v"}]),
        json!([{"Key": "k".repeat(129), "Value": "v"}]),
        json!([{"Key": "k", "Value": "v".repeat(257)}]),
        json!([{"Key": "bad\u{0}key", "Value": "v"}]),
        json!([{"Key": "aws:reserved", "Value": "v"}]),
        json!([{"Value": "no key"}]),
        json!({"Key": "k"}),
    ] {
        api.post("/tags", json!({"resourceArn": GROUP, "tags": bad}))
            .await
            .error("InvalidRequestException", 400);
    }
    api.post(
        "/untag",
        json!({"resourceArn": GROUP, "tagKeys": ["aws:x"]}),
    )
    .await
    .error("InvalidRequestException", 400);
    api.post("/untag", json!({"resourceArn": GROUP, "tagKeys": [""]}))
        .await
        .error("InvalidRequestException", 400);
    // Unicode letters, spaces and the allowed punctuation are fine; values are free.
    api.post(
        "/tags",
        json!({"resourceArn": GROUP, "tags": tags(&[("Größe 1_.:/=+-@", "any thing! ✓")])}),
    )
    .await
    .ok();
    assert_eq!(list(&api, GROUP).await["tags"][0]["Key"], "Größe 1_.:/=+-@");
}

#[tokio::test]
async fn a_resource_has_at_most_fifty_tags() {
    let api = TestApi::new().await;
    api.post("/thing-groups/lights", json!({})).await.ok();
    let first: Vec<(String, String)> = (0..40).map(|i| (format!("k{i:02}"), "v".into())).collect();
    let pairs: Vec<(&str, &str)> = first
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    api.post("/tags", json!({"resourceArn": GROUP, "tags": tags(&pairs)}))
        .await
        .ok();
    // Ten new keys plus changed values of existing ones make fifty.
    let more: Vec<(String, String)> = (30..50).map(|i| (format!("k{i:02}"), "w".into())).collect();
    let pairs: Vec<(&str, &str)> = more.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    api.post("/tags", json!({"resourceArn": GROUP, "tags": tags(&pairs)}))
        .await
        .ok();
    assert_eq!(
        list(&api, GROUP).await["tags"].as_array().unwrap().len(),
        50
    );
    let message = api
        .post(
            "/tags",
            json!({"resourceArn": GROUP, "tags": tags(&[("one-more", "v")])}),
        )
        .await
        .error("LimitExceededException", 410);
    assert!(message.contains("at most 50 tags"), "{message}");
    // Changing a value at the limit is fine.
    api.post(
        "/tags",
        json!({"resourceArn": GROUP, "tags": tags(&[("k00", "x")])}),
    )
    .await
    .ok();
    api.post("/untag", json!({"resourceArn": GROUP, "tagKeys": ["k00"]}))
        .await
        .ok();
    api.post(
        "/tags",
        json!({"resourceArn": GROUP, "tags": tags(&[("one-more", "v")])}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn list_tags_pages() {
    let api = TestApi::new().await;
    api.post("/thing-groups/lights", json!({})).await.ok();
    // More tags than the API lets anyone set (e.g. a store filled by an older thingd), to walk
    // the pages.
    let seeded: Vec<Tag> = (0..120)
        .map(|i| Tag {
            key: format!("k{i:03}"),
            value: i.to_string(),
        })
        .collect();
    api.state.store.tag_resource(GROUP, &seeded).await.unwrap();
    let mut keys = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/tags?resourceArn={GROUP}");
        if let Some(token) = &token {
            path.push_str(&format!("&nextToken={token}"));
        }
        let page = api.get(&path).await.ok();
        pages += 1;
        keys.extend(
            page["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["Key"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        keys,
        seeded.iter().map(|t| t.key.clone()).collect::<Vec<_>>()
    );
    assert_eq!(pages, 3);
}
