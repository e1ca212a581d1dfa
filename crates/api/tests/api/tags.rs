//! TagResource, UntagResource and ListTagsForResource, on every kind of resource thingd keeps.

use serde_json::{Value, json};
use thingd_registry::{CaCertificate, CaStatus, Tag, Timestamp};

use crate::harness::{
    Answer, INVALID_REQUEST, LIMIT_EXCEEDED, NOT_FOUND, TestApi, item_names, items,
};

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

/// TagResource with `tags` (JSON).
async fn tag(api: &TestApi, arn: &str, tags: Value) -> Answer {
    api.post("/tags", json!({"resourceArn": arn, "tags": tags}))
        .await
}

/// UntagResource of `keys` (JSON).
async fn untag(api: &TestApi, arn: &str, keys: Value) -> Answer {
    api.post("/untag", json!({"resourceArn": arn, "tagKeys": keys}))
        .await
}

/// Tags `k<i>` (two digits) for each `i` of `numbers`, all with `value`.
fn numbered(numbers: std::ops::Range<usize>, value: &str) -> Value {
    numbers
        .map(|i| json!({"Key": format!("k{i:02}"), "Value": value}))
        .collect()
}

#[tokio::test]
async fn tag_list_and_untag_groups_and_types() {
    let api = TestApi::new().await;
    api.post("/thing-groups/lights", json!({})).await.ok();
    api.post("/thing-types/bulb", json!({})).await.ok();
    for arn in [GROUP, TYPE] {
        assert_eq!(list(&api, arn).await, json!({"tags": []}));
        tag(&api, arn, tags(&[("b", "2"), ("a", "1")])).await.ok();
        assert_eq!(
            list(&api, arn).await,
            json!({"tags": tags(&[("a", "1"), ("b", "2")])}),
            "in key order"
        );
        // A known key gets the new value; an absent value is the empty string.
        tag(
            &api,
            arn,
            json!([{"Key": "a", "Value": "one"}, {"Key": "c"}]),
        )
        .await
        .ok();
        assert_eq!(
            list(&api, arn).await,
            json!({"tags": tags(&[("a", "one"), ("b", "2"), ("c", "")])})
        );
        // Unknown keys are ignored.
        untag(&api, arn, json!(["a", "zzz"])).await.ok();
        assert_eq!(
            list(&api, arn).await,
            json!({"tags": tags(&[("b", "2"), ("c", "")])})
        );
        untag(&api, arn, json!([])).await.ok();
        tag(&api, arn, json!([])).await.ok();
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
    tag(&api, &arn, tags(&[("k", "v")])).await.ok();
    assert_eq!(list(&api, &arn).await, json!({"tags": tags(&[("k", "v")])}));
}

#[tokio::test]
async fn resources_must_exist_and_be_taggable() {
    let api = TestApi::new().await;
    api.post("/things/lamp", json!({})).await.ok();
    let one = || tags(&[("k", "v")]);

    // Things and device certificates take no tags in AWS IoT.
    for arn in [
        "arn:aws:iot:us-east-1:123456789012:thing/lamp".to_owned(),
        format!(
            "arn:aws:iot:us-east-1:123456789012:cert/{}",
            "ab".repeat(32)
        ),
    ] {
        tag(&api, &arn, one())
            .await
            .error_saying(INVALID_REQUEST, "does not support tags");
        api.get(&format!("/tags?resourceArn={arn}"))
            .await
            .error(INVALID_REQUEST);
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
        tag(&api, arn, one()).await.error(NOT_FOUND);
        untag(&api, arn, json!(["k"])).await.error(NOT_FOUND);
        api.get(&format!("/tags?resourceArn={arn}"))
            .await
            .error(NOT_FOUND);
    }
    for arn in [
        "lights",
        "arn:aws:s3:::bucket",
        "arn:aws:iot:us-east-1:123456789012:topic/a",
    ] {
        tag(&api, arn, one()).await.error(INVALID_REQUEST);
    }
}

#[tokio::test]
async fn requests_are_validated() {
    let api = TestApi::new().await;
    api.post("/thing-groups/lights", json!({})).await.ok();
    api.post("/tags", json!({"tags": tags(&[("k", "v")])}))
        .await
        .error_saying(INVALID_REQUEST, "resourceArn");
    for (path, body) in [
        ("/tags", json!({"resourceArn": GROUP})),
        ("/untag", json!({"resourceArn": GROUP})),
        ("/untag", json!({"tagKeys": ["k"]})),
    ] {
        api.post(path, body).await.error(INVALID_REQUEST);
    }
    api.get("/tags").await.error(INVALID_REQUEST);

    for bad in [
        json!([{"Key": "", "Value": "v"}]),
        json!([{"Key": "k".repeat(129), "Value": "v"}]),
        json!([{"Key": "k", "Value": "v".repeat(257)}]),
        json!([{"Key": "bad\u{0}key", "Value": "v"}]),
        json!([{"Key": "aws:reserved", "Value": "v"}]),
        json!([{"Value": "no key"}]),
        json!({"Key": "k"}),
    ] {
        tag(&api, GROUP, bad).await.error(INVALID_REQUEST);
    }
    for bad in ["aws:x", ""] {
        untag(&api, GROUP, json!([bad]))
            .await
            .error(INVALID_REQUEST);
    }
    // Unicode letters, spaces and the allowed punctuation are fine; values are free.
    tag(&api, GROUP, tags(&[("Größe 1_.:/=+-@", "any thing! ✓")]))
        .await
        .ok();
    assert_eq!(list(&api, GROUP).await["tags"][0]["Key"], "Größe 1_.:/=+-@");
}

#[tokio::test]
async fn a_resource_has_at_most_fifty_tags() {
    let api = TestApi::new().await;
    api.post("/thing-groups/lights", json!({})).await.ok();
    tag(&api, GROUP, numbered(0..40, "v")).await.ok();
    // Ten new keys plus changed values of existing ones make fifty.
    tag(&api, GROUP, numbered(30..50, "w")).await.ok();
    assert_eq!(
        list(&api, GROUP).await["tags"].as_array().unwrap().len(),
        50
    );
    tag(&api, GROUP, tags(&[("one-more", "v")]))
        .await
        .error_saying(LIMIT_EXCEEDED, "at most 50 tags");
    // Changing a value at the limit is fine.
    tag(&api, GROUP, tags(&[("k00", "x")])).await.ok();
    untag(&api, GROUP, json!(["k00"])).await.ok();
    tag(&api, GROUP, tags(&[("one-more", "v")])).await.ok();
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
    let pages = api.pages(&format!("/tags?resourceArn={GROUP}"), &[]).await;
    let keys = item_names(&items(&pages, "tags", None), "Key");
    assert_eq!(
        keys,
        seeded.iter().map(|t| t.key.clone()).collect::<Vec<_>>()
    );
    assert_eq!(pages.len(), 3);
}
