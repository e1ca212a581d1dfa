//! The `cloudwatchMetric` action onto Prometheus series on `/metrics`: values recorded, values
//! that are not numbers, and the bound on series.

use serde_json::{Value, json};

use crate::support::*;

fn metric_action(name: &str, value: &str, unit: &str) -> Value {
    json!({"cloudwatchMetric": {
        "roleArn": "arn:aws:iam::000000000000:role/r",
        "metricNamespace": "Home/Sensors",
        "metricName": name,
        "metricValue": value,
        "metricUnit": unit
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_become_prometheus_series() {
    let server = start(|_| {}).await;
    put_rule(
        &server,
        "metrics",
        json!({
            "sql": "SELECT * FROM 'cw/+'",
            "actions": [metric_action("temp.${topic(2)}", "${temp}", "None"), metric_action("readings", "1", "Count")]
        }),
    )
    .await;
    let mut device = Mqtt::connect(&server, "cw-device").await;
    device.publish("cw/kitchen", r#"{"temp": 21.5}"#).await;
    device.publish("cw/kitchen", r#"{"temp": 23}"#).await;
    actions_succeeded(&server, "cloudwatchMetric", 4.0).await;
    let family = "thingd_rules_metric_Home_Sensors_temp_kitchen";
    assert_eq!(
        metric(&server, &format!("{family}{{unit=\"None\"}}")).await,
        23.0
    );
    assert_eq!(
        metric(&server, &format!("{family}_sum{{unit=\"None\"}}")).await,
        44.5
    );
    assert_eq!(
        metric(&server, &format!("{family}_count{{unit=\"None\"}}")).await,
        2.0
    );
    assert_eq!(
        metric(
            &server,
            "thingd_rules_metric_Home_Sensors_readings_count{unit=\"Count\"}"
        )
        .await,
        2.0
    );
    assert!(
        metrics(&server)
            .await
            .contains(&format!("# TYPE {family} gauge"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_are_not_numbers_and_series_past_the_bound_fail() {
    let server = start(|rules| rules.max_metric_series = 1).await;
    put_rule(
        &server,
        "bad_metrics",
        json!({
            "sql": "SELECT * FROM 'cw/bad'",
            "actions": [metric_action("n_${n}", "${v}", "Count")],
            "errorAction": error_to("errors/cw")
        }),
    )
    .await;
    let mut subscriber = Mqtt::errors_watcher(&server, "cw-errors").await;
    let mut device = Mqtt::connect(&server, "cw-bad").await;
    device.publish("cw/bad", r#"{"n": 1, "v": "high"}"#).await;
    let (_, body) = subscriber.next_json().await;
    let failures = check_error_payload(
        &body,
        "bad_metrics",
        "cw/bad",
        "cw-bad",
        br#"{"n": 1, "v": "high"}"#,
    );
    assert_eq!(failures[0]["failedAction"], "CloudwatchMetricAction");
    assert_eq!(failures[0]["failedResource"], "Home/Sensors/n_1");
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not a number")
    );

    device.publish("cw/bad", r#"{"n": 1, "v": 5}"#).await;
    actions_succeeded(&server, "cloudwatchMetric", 1.0).await;
    device.publish("cw/bad", r#"{"n": 2, "v": 5}"#).await;
    let (_, body) = subscriber.next_json().await;
    let failures = body["failures"].as_array().unwrap();
    assert!(
        failures[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("metric series"),
        "{failures:?}"
    );
}
