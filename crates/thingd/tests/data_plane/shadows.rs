//! Device shadows over HTTPS (AWS IoT's shadow REST API, reference §6.6): the same documents and
//! errors as over MQTT, and an update over HTTPS published on the MQTT response topics too.

use mqtt_codec::QoS;
use serde_json::{Value, json};
use testkit::TestServer;

use crate::client::{Https, curl};
use crate::support::{Client, Net, V5};

#[tokio::test]
async fn shadow_operations_over_https_answer_as_aws_does() {
    let server = TestServer::start().await.unwrap();
    let mut mqtt = Client::connect(&server, Net::Tcp, V5, "watcher").await;
    mqtt.subscribe("$aws/things/lamp/shadow/update/accepted", QoS::AtLeastOnce)
        .await;
    let mut https = Https::connect(&server, &server.client).await;

    let missing = https.get("/things/lamp/shadow").await;
    let message = missing.assert_error(404, "ResourceNotFoundException");
    assert_eq!(message, "No shadow exists with name: 'lamp'");

    // curl, as a device updates its shadow.
    let updated = curl(
        &server,
        &server.client,
        "POST",
        "/things/lamp/shadow",
        Some(r#"{"state":{"desired":{"color":"red"}},"clientToken":"t-1"}"#),
    )
    .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    let accepted = updated.json();
    assert_eq!(accepted["state"]["desired"]["color"], "red");
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["clientToken"], "t-1");
    assert!(accepted["metadata"]["desired"]["color"]["timestamp"].is_u64());
    // The same document on MQTT.
    let published = mqtt.expect_publish().await;
    let on_mqtt: Value = serde_json::from_slice(&published.payload).unwrap();
    assert_eq!(on_mqtt["version"], 1);
    assert_eq!(on_mqtt["state"], accepted["state"]);

    let got = https.get("/things/lamp/shadow").await.ok_json();
    assert_eq!(got["state"]["desired"]["color"], "red");
    assert_eq!(got["state"]["delta"]["color"], "red");
    assert_eq!(got["version"], 1);

    let reported = https
        .post(
            "/things/lamp/shadow",
            br#"{"state":{"reported":{"color":"red"}},"version":1}"#,
        )
        .await
        .ok_json();
    assert_eq!(reported["version"], 2);
    let got = https.get("/things/lamp/shadow").await.ok_json();
    assert!(got["state"].get("delta").is_none(), "{got}");

    // Errors: iot-data's code in x-amzn-ErrorType, the shadow error document as the body
    // (reference §6.5), AWS's messages kept and the request's clientToken echoed.
    let conflict = https
        .post(
            "/things/lamp/shadow",
            br#"{"state":{"desired":{"color":"blue"}},"version":1,"clientToken":"t-9"}"#,
        )
        .await;
    let document = conflict.assert_shadow_error(409, "ConflictException");
    assert_eq!(document["message"], "Version conflict", "{document}");
    assert_eq!(document["clientToken"], "t-9", "{document}");
    let bad = https.post("/things/lamp/shadow", b"{not json").await;
    let document = bad.assert_shadow_error(400, "InvalidRequestException");
    assert_eq!(document["message"], "Invalid JSON", "{document}");
    assert!(document.get("clientToken").is_none(), "{document}");
    let unnamed = https.get("/things/lamp/shadow?name=nothing").await;
    let document = unnamed.assert_shadow_error(404, "ResourceNotFoundException");
    assert!(document.get("clientToken").is_none(), "{document}");
    let big_state = json!({"state": {"desired": {"blob": "x".repeat(9 * 1024)}}}).to_string();
    https
        .post("/things/lamp/shadow", big_state.as_bytes())
        .await
        .assert_error(413, "RequestEntityTooLargeException");

    // Named shadows, listed without the classic one.
    for name in ["cfg", "firmware"] {
        let reply = https
            .post(
                &format!("/things/lamp/shadow?name={name}"),
                br#"{"state":{"reported":{"v":1}}}"#,
            )
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let listed = https
        .get("/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=1")
        .await
        .ok_json();
    assert_eq!(listed["results"], json!(["cfg"]));
    assert!(listed["timestamp"].is_u64());
    let token = listed["nextToken"].as_str().unwrap().to_owned();
    let rest = https
        .get(&format!(
            "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=1&nextToken={token}"
        ))
        .await
        .ok_json();
    assert_eq!(rest["results"], json!(["firmware"]));
    let none = https
        .get("/api/things/shadow/ListNamedShadowsForThing/no-such-thing")
        .await
        .ok_json();
    assert_eq!(none["results"], json!([]));

    // Delete: the version and time; then gone, named shadows untouched.
    let deleted = https
        .request("DELETE", "/things/lamp/shadow", &[], b"")
        .await
        .ok_json();
    assert_eq!(deleted["version"], 2);
    assert!(deleted["timestamp"].is_u64());
    https
        .get("/things/lamp/shadow")
        .await
        .assert_error(404, "ResourceNotFoundException");
    let named = https.get("/things/lamp/shadow?name=cfg").await.ok_json();
    assert_eq!(named["state"]["reported"]["v"], 1);
    let missing_named = https.get("/things/lamp/shadow?name=nope").await;
    assert_eq!(
        missing_named.assert_error(404, "ResourceNotFoundException"),
        "No shadow exists with name: 'nope'"
    );
    server.shutdown().await;
}
