//! Topic rules: CreateTopicRule, GetTopicRule, ListTopicRules, ReplaceTopicRule,
//! DeleteTopicRule, EnableTopicRule, DisableTopicRule, each with its errors.

use axum::http::Method;
use serde_json::{Value, json};

use crate::destinations::Receiver;
use crate::harness::{INVALID_REQUEST, SQL_PARSE, TestApi, UNAUTHORIZED, items};

const ARN_PREFIX: &str = "arn:aws:iot:us-east-1:123456789012:rule/";

fn republish_payload(sql: &str) -> Value {
    json!({
        "sql": sql,
        "actions": [{"republish": {"roleArn": "arn:aws:iam::123456789012:role/r", "topic": "out/${topic(2)}", "qos": 1}}],
    })
}

async fn create(api: &TestApi, name: &str, payload: &Value) -> Value {
    api.post(&format!("/rules/{name}"), payload.clone())
        .await
        .ok()
}

#[tokio::test]
async fn a_created_rule_reads_back_in_aws_shape() {
    let api = TestApi::new().await;
    let payload = json!({
        "sql": "SELECT temperature, topic(2) AS device FROM 'sensors/+/telemetry' WHERE temperature > 30",
        "description": "Hot sensors — «alert»",
        "actions": [
            {"republish": {"roleArn": "arn:aws:iam::123456789012:role/r", "topic": "alerts/${topic(2)}", "qos": 1,
                "headers": {"contentType": "application/json", "userProperties": [{"key": "k", "value": "v"}]}}},
            {"kinesis": {"roleArn": "arn:aws:iam::123456789012:role/r", "streamName": "hot", "partitionKey": "${topic()}"}}
        ],
        "awsIotSqlVersion": "2016-03-23",
        "errorAction": {"republish": {"roleArn": "arn:aws:iam::123456789012:role/r", "topic": "errors"}}
    });
    let answer = api
        .call_with(
            Method::POST,
            "/rules/hot_sensors",
            Some(payload.clone()),
            &[("x-amz-tagging", "team=iot&cost%20center=42")],
        )
        .await
        .ok();
    assert_eq!(answer, json!({}));
    assert_eq!(api.take_rule_changes(), vec!["rule:hot_sensors"]);

    let got = api.get("/rules/hot_sensors").await.ok();
    assert_eq!(got["ruleArn"], format!("{ARN_PREFIX}hot_sensors"));
    let rule = &got["rule"];
    assert_eq!(rule["ruleName"], "hot_sensors");
    for field in [
        "sql",
        "description",
        "actions",
        "awsIotSqlVersion",
        "errorAction",
    ] {
        assert_eq!(rule[field], payload[field], "{field}");
    }
    assert_eq!(rule["ruleDisabled"], false);
    assert!(rule["createdAt"].as_f64().unwrap() > 1.7e9, "{rule}");

    let tags = api
        .get(&format!("/tags?resourceArn={ARN_PREFIX}hot_sensors"))
        .await
        .ok();
    assert_eq!(
        tags["tags"],
        json!([{"Key": "cost center", "Value": "42"}, {"Key": "team", "Value": "iot"}])
    );
}

#[tokio::test]
async fn the_default_sql_version_is_reported_and_disabled_rules_stay_disabled() {
    let api = TestApi::new().await;
    let mut payload = republish_payload("SELECT * FROM 'a'");
    payload["ruleDisabled"] = json!(true);
    create(&api, "r", &payload).await;
    let rule = api.get("/rules/r").await.ok()["rule"].clone();
    assert_eq!(rule["awsIotSqlVersion"], "2015-10-08");
    assert_eq!(rule["ruleDisabled"], true);
    assert!(rule.get("description").is_none() && rule.get("errorAction").is_none());
}

#[tokio::test]
async fn a_rule_name_is_taken_once() {
    let api = TestApi::new().await;
    let payload = republish_payload("SELECT * FROM 'a'");
    create(&api, "taken", &payload).await;
    api.take_rule_changes();
    let message = api
        .post("/rules/taken", payload)
        .await
        .already_exists("taken", format!("{ARN_PREFIX}taken"));
    assert!(message.contains("taken"), "{message}");
    assert!(api.take_rule_changes().is_empty());
}

#[tokio::test]
async fn bad_rules_are_refused_with_aws_errors_and_not_stored() {
    let api = TestApi::new().await;
    let cases: Vec<(&str, String, (&str, u16), &str)> = vec![
        ("bad-name", republish_payload("SELECT * FROM 'a'").to_string(), INVALID_REQUEST, "ruleName"),
        ("r1", republish_payload("SELECT * FRM 'a'").to_string(), SQL_PARSE, "line 1:"),
        ("r1", republish_payload("SELECT [1] AS x FROM 'a'").to_string(), SQL_PARSE, "line 1:"),
        (
            "r1",
            json!({"sql": "SELECT * FROM 'a'", "actions": [{"s3": {"roleArn": "r", "bucketName": "b", "key": "k"}}]}).to_string(),
            INVALID_REQUEST,
            "Action type 's3' is not supported by thingd; supported: republish, http",
        ),
        (
            "r1",
            json!({"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"roleArn": "r", "topic": "t", "qos": 2}}]}).to_string(),
            INVALID_REQUEST,
            "actions[0].republish.qos",
        ),
        ("r1", String::new(), INVALID_REQUEST, "topicRulePayload"),
        ("r1", "{\"sql\": ".to_owned(), INVALID_REQUEST, "not valid JSON"),
        ("r1", "[1]".to_owned(), INVALID_REQUEST, "JSON object"),
        ("r1", "{\"sql\": \"SELECT * FROM 'a'\"}".to_owned(), INVALID_REQUEST, "actions"),
    ];
    for (name, body, error, needle) in cases {
        for method in [Method::POST, Method::PATCH] {
            api.call_raw(method.clone(), &format!("/rules/{name}"), &body, &[])
                .await
                .error_saying(error, needle);
        }
    }
    api.get("/rules/r1").await.error(UNAUTHORIZED);
    assert!(api.take_rule_changes().is_empty());

    // A body past the rule size limit.
    let mut huge = republish_payload("SELECT * FROM 'a'");
    huge["description"] = json!("x".repeat(300 * 1024));
    api.post("/rules/r1", huge)
        .await
        .error_saying(INVALID_REQUEST, "limit");
    // A bad tagging header.
    api.call_with(
        Method::POST,
        "/rules/r1",
        Some(republish_payload("SELECT * FROM 'a'")),
        &[("x-amz-tagging", "aws:reserved=1")],
    )
    .await
    .error(INVALID_REQUEST);
    api.get("/rules/r1").await.error(UNAUTHORIZED);
}

#[tokio::test]
async fn a_missing_rule_is_an_unauthorized_exception_as_in_aws() {
    let api = TestApi::new().await;
    let payload = republish_payload("SELECT * FROM 'a'");
    for answer in [
        api.get("/rules/ghost").await,
        api.patch("/rules/ghost", payload).await,
        api.delete("/rules/ghost").await,
        api.post("/rules/ghost/enable", json!({})).await,
        api.post("/rules/ghost/disable", json!({})).await,
    ] {
        let message = answer.error(UNAUTHORIZED);
        assert_eq!(message, "Access to topic rule 'ghost' was denied");
    }
    // A malformed name is an invalid request, not a missing rule.
    api.get("/rules/no-dashes").await.error(INVALID_REQUEST);
}

#[tokio::test]
async fn replace_changes_the_payload_and_keeps_creation_and_tags() {
    let api = TestApi::new().await;
    api.call_with(
        Method::POST,
        "/rules/r",
        Some(republish_payload("SELECT * FROM 'a'")),
        &[("x-amz-tagging", "k=v")],
    )
    .await
    .ok();
    api.post("/rules/r/disable", json!({})).await.ok();
    let before = api.get("/rules/r").await.ok()["rule"].clone();
    api.take_rule_changes();

    let replacement = json!({
        "sql": "SELECT VALUE temperature FROM 'b/#'",
        "actions": [{"firehose": {"roleArn": "arn:r", "deliveryStreamName": "d", "separator": ","}}],
        "awsIotSqlVersion": "beta"
    });
    assert_eq!(
        api.patch("/rules/r", replacement.clone()).await.ok(),
        json!({})
    );
    assert_eq!(api.take_rule_changes(), vec!["rule:r"]);
    let after = api.get("/rules/r").await.ok()["rule"].clone();
    assert_eq!(after["sql"], replacement["sql"]);
    assert_eq!(after["actions"], replacement["actions"]);
    assert_eq!(after["awsIotSqlVersion"], "beta");
    assert_eq!(after["createdAt"], before["createdAt"]);
    // ruleDisabled is the new payload's (absent: enabled).
    assert_eq!(after["ruleDisabled"], false);
    let tags = api
        .get(&format!("/tags?resourceArn={ARN_PREFIX}r"))
        .await
        .ok();
    assert_eq!(tags["tags"], json!([{"Key": "k", "Value": "v"}]));
}

#[tokio::test]
async fn enable_and_disable_flip_the_flag() {
    let api = TestApi::new().await;
    create(&api, "r", &republish_payload("SELECT * FROM 'a'")).await;
    api.take_rule_changes();
    for (operation, disabled) in [("disable", true), ("disable", true), ("enable", false)] {
        assert_eq!(
            api.post(&format!("/rules/r/{operation}"), json!({}))
                .await
                .ok(),
            json!({})
        );
        assert_eq!(
            api.get("/rules/r").await.ok()["rule"]["ruleDisabled"],
            disabled
        );
        let listed = api.get("/rules").await.ok();
        assert_eq!(listed["rules"][0]["ruleDisabled"], disabled);
    }
    assert_eq!(api.take_rule_changes(), vec!["rule:r"; 3]);
}

#[tokio::test]
async fn delete_removes_the_rule_and_its_tags() {
    let api = TestApi::new().await;
    let payload = republish_payload("SELECT * FROM 'a'");
    api.call_with(
        Method::POST,
        "/rules/r",
        Some(payload.clone()),
        &[("x-amz-tagging", "k=v")],
    )
    .await
    .ok();
    api.take_rule_changes();
    assert_eq!(api.delete("/rules/r").await.ok(), json!({}));
    assert_eq!(api.take_rule_changes(), vec!["rule:r"]);
    api.get("/rules/r").await.error(UNAUTHORIZED);
    api.delete("/rules/r").await.error(UNAUTHORIZED);
    // The name is free again, without the old tags.
    create(&api, "r", &payload).await;
    let tags = api
        .get(&format!("/tags?resourceArn={ARN_PREFIX}r"))
        .await
        .ok();
    assert_eq!(tags["tags"], json!([]));
}

#[tokio::test]
async fn list_pages_and_filters() {
    let api = TestApi::new().await;
    // Seven rules: r0..r6 in name order; even ones on 'even/#', odd ones on 'odd/+'; r3 and r5
    // disabled; r6 has no FROM clause (Basic Ingest only).
    for i in 0..7 {
        let sql = match i {
            6 => "SELECT *".to_owned(),
            i if i % 2 == 0 => "SELECT * FROM 'even/#'".to_owned(),
            _ => "SELECT * FROM 'odd/+'".to_owned(),
        };
        let mut payload = republish_payload(&sql);
        payload["ruleDisabled"] = json!(i == 3 || i == 5);
        create(&api, &format!("r{i}"), &payload).await;
    }
    let all = api.get("/rules").await.ok();
    assert!(all.get("nextToken").is_none());
    let rules = all["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 7);
    assert_eq!(
        rules[0],
        json!({"ruleArn": format!("{ARN_PREFIX}r0"), "ruleName": "r0", "topicPattern": "even/#",
            "createdAt": rules[0]["createdAt"], "ruleDisabled": false})
    );
    assert!(rules[6].get("topicPattern").is_none(), "{}", rules[6]);

    let names = |values: Vec<Value>| -> Vec<String> {
        values
            .iter()
            .map(|v| v["ruleName"].as_str().unwrap().to_owned())
            .collect()
    };
    for size in 1..=4 {
        let pages = api.pages(&format!("/rules?maxResults={size}"), &[]).await;
        assert_eq!(
            names(items(&pages, "rules", Some(size))),
            ["r0", "r1", "r2", "r3", "r4", "r5", "r6"],
            "pages of {size}"
        );
        let pages = api
            .pages(&format!("/rules?maxResults={size}&topic=odd/%2B"), &[])
            .await;
        assert_eq!(
            names(items(&pages, "rules", Some(size))),
            ["r1", "r3", "r5"]
        );
        let pages = api
            .pages(&format!("/rules?maxResults={size}&ruleDisabled=false"), &[])
            .await;
        assert_eq!(
            names(items(&pages, "rules", Some(size))),
            ["r0", "r1", "r2", "r4", "r6"]
        );
        let pages = api
            .pages(
                &format!("/rules?maxResults={size}&ruleDisabled=true&topic=odd/%2B"),
                &[],
            )
            .await;
        assert_eq!(names(items(&pages, "rules", Some(size))), ["r3", "r5"]);
    }
    let none = api.get("/rules?topic=nothing").await.ok();
    assert_eq!(none, json!({"rules": []}));
    for bad in [
        "maxResults=0",
        "maxResults=10001",
        "maxResults=x",
        "ruleDisabled=maybe",
    ] {
        api.get(&format!("/rules?{bad}"))
            .await
            .error(INVALID_REQUEST);
    }
    api.get(&format!("/rules?nextToken={}", "x".repeat(200)))
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn an_http_action_without_a_destination_gets_one_in_progress() {
    let mut receiver = Receiver::start(200).await;
    let api = TestApi::new().await;
    let url = receiver.url("/hooks/a");
    let payload = json!({"sql": "SELECT * FROM 'a'", "actions": [{"http": {"url": url}}]});
    create(&api, "with_http", &payload).await;

    // The destination of the action's URL exists, IN_PROGRESS, and its confirmation arrived.
    let confirmation = receiver.next().await;
    assert!(
        confirmation.uri.starts_with("/hooks/a/?confirmationToken="),
        "{confirmation:?}"
    );
    let listed = api.get("/destinations").await.ok();
    let summaries = listed["destinationSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 1, "{listed}");
    assert_eq!(summaries[0]["status"], "IN_PROGRESS");
    assert_eq!(summaries[0]["httpUrlSummary"]["confirmationUrl"], url);
    let changes = api.take_rule_changes();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0], "rule:with_http");
    assert!(
        changes[1]
            .starts_with("destination:arn:aws:iot:us-east-1:123456789012:ruledestination/http/")
    );

    // A second rule under the same URL, or one whose confirmationUrl covers it, creates none.
    let deeper = json!({"sql": "SELECT * FROM 'b'", "actions": [{"http": {"url": format!("{url}/deeper")}}],
        "errorAction": {"http": {"url": url}}});
    create(&api, "same_destination", &deeper).await;
    let listed = api.get("/destinations").await.ok();
    assert_eq!(listed["destinationSummaries"].as_array().unwrap().len(), 1);

    // A replace whose action names another confirmation URL gets that destination.
    let other = receiver.url("/other");
    let replaced = json!({"sql": "SELECT * FROM 'b'", "actions": [{"http": {
        "url": format!("{other}/x/${{topic()}}"), "confirmationUrl": other}}]});
    api.patch("/rules/same_destination", replaced).await.ok();
    let confirmation = receiver.next().await;
    assert!(
        confirmation.uri.starts_with("/other/?confirmationToken="),
        "{confirmation:?}"
    );
    let listed = api.get("/destinations").await.ok();
    assert_eq!(listed["destinationSummaries"].as_array().unwrap().len(), 2);
}
