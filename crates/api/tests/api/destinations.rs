//! HTTP topic rule destinations: create, get, list, update, delete and confirm, the
//! confirmation POST received by a real HTTP server on loopback, and trusted prefixes.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use thingd_api::RulesApiConfig;
use tokio::sync::mpsc;

use crate::harness::{INVALID_REQUEST, TestApi, UNAUTHORIZED, items};

/// How long a test waits for something that should happen at once.
const DEADLINE: Duration = Duration::from_secs(10);

/// One request the receiver got.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

/// A real HTTP server on loopback that records every request and answers `status`.
pub(crate) struct Receiver {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub(crate) async fn start(status: u16) -> Receiver {
        let (sender, requests) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(record)
            .with_state((sender, StatusCode::from_u16(status).unwrap()));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, requests }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request, waiting at most [`DEADLINE`].
    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(DEADLINE, self.requests.recv())
            .await
            .expect("a request within the deadline")
            .expect("the receiver runs")
    }
}

async fn record(
    State((sender, status)): State<(mpsc::UnboundedSender<Received>, StatusCode)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = sender.send(Received {
        method,
        uri: uri.to_string(),
        headers,
        body,
    });
    status
}

/// The API with `config`, its `api_url` set so enable URLs are recognisable.
async fn api_with(trusted: &[String]) -> TestApi {
    TestApi::with_rules(RulesApiConfig {
        trusted_destination_prefixes: trusted.to_vec(),
        api_url: "http://thingd.test:8080".into(),
        ..RulesApiConfig::default()
    })
    .await
}

async fn create(api: &TestApi, url: &str) -> Value {
    api.post(
        "/destinations",
        json!({"destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": url}}}),
    )
    .await
    .ok()["topicRuleDestination"]
        .clone()
}

/// `/destinations/{arn}` as botocore sends it: the greedy label's `:` percent-encoded.
fn path_of(arn: &str) -> String {
    format!("/destinations/{}", arn.replace(':', "%3A"))
}

/// Polls GetTopicRuleDestination until its status is `status`, within [`DEADLINE`].
async fn wait_for_status(api: &TestApi, arn: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let destination = api.get(&path_of(arn)).await.ok()["topicRuleDestination"].clone();
        if destination["status"] == status {
            return destination;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {destination} after {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_destination_is_confirmed_through_its_enable_url() {
    let mut receiver = Receiver::start(200).await;
    let api = api_with(&[]).await;
    let url = receiver.url("/iot/confirm");
    let created = create(&api, &url).await;
    let arn = created["arn"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:iot:us-east-1:123456789012:ruledestination/http/"),
        "{arn}"
    );
    assert_eq!(created["status"], "IN_PROGRESS");
    assert_eq!(
        created["httpUrlProperties"],
        json!({"confirmationUrl": url})
    );
    assert!(created["createdAt"].as_f64().unwrap() > 1.7e9);
    assert_eq!(created["createdAt"], created["lastUpdatedAt"]);

    // The confirmation message, as AWS sends it.
    let message = receiver.next().await;
    assert_eq!(message.method, Method::POST);
    let token = message.body["confirmationToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        message.uri,
        format!("/iot/confirm/?confirmationToken={token}")
    );
    assert_eq!(
        message.headers["x-amz-rules-engine-message-type"],
        "DestinationConfirmation"
    );
    assert_eq!(
        message.headers["x-amz-rules-engine-destination-arn"],
        arn.as_str()
    );
    assert_eq!(message.headers["content-type"], "application/json");
    let enable_url = format!("http://thingd.test:8080/confirmdestination/{token}");
    assert_eq!(
        message.body,
        json!({"arn": arn, "confirmationToken": token, "enableUrl": enable_url,
            "messageType": "DestinationConfirmation"})
    );
    assert_eq!(
        api.get(&path_of(&arn)).await.ok()["topicRuleDestination"]["status"],
        "IN_PROGRESS"
    );
    api.take_rule_changes();

    // GET the enableUrl's path: ENABLED.
    assert_eq!(
        api.get(&format!("/confirmdestination/{token}")).await.ok(),
        json!({})
    );
    assert_eq!(api.take_rule_changes(), vec![format!("destination:{arn}")]);
    let got = api.get(&path_of(&arn)).await.ok()["topicRuleDestination"].clone();
    assert_eq!(got["status"], "ENABLED");
    // A token confirms once.
    api.get(&format!("/confirmdestination/{token}"))
        .await
        .error_saying(INVALID_REQUEST, "confirmation token");
    // Setting ENABLED afterwards, as AWS's guide says to, is accepted.
    api.patch("/destinations", json!({"arn": arn, "status": "ENABLED"}))
        .await
        .ok();

    let listed = api.get("/destinations").await.ok();
    assert_eq!(
        listed["destinationSummaries"],
        json!([{"arn": arn, "status": "ENABLED", "createdAt": got["createdAt"],
            "lastUpdatedAt": got["lastUpdatedAt"], "httpUrlSummary": {"confirmationUrl": url}}])
    );
}

#[tokio::test]
async fn a_trusted_destination_is_enabled_without_confirmation() {
    let api = api_with(&["https://hooks.internal/".to_owned()]).await;
    let created = create(&api, "https://hooks.internal/iot").await;
    assert_eq!(created["status"], "ENABLED");
    let arn = created["arn"].as_str().unwrap();
    let stored = api
        .state
        .store
        .topic_rule_destination(arn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.confirmation_token, None, "no confirmation to send");
    // A URL that merely shares the host is not trusted.
    let other = create(&api, "https://hooks.internal.evil/iot").await;
    assert_eq!(other["status"], "IN_PROGRESS");
    // An http action under the prefix gets an ENABLED destination too.
    api.post(
        "/rules/r",
        json!({"sql": "SELECT * FROM 'a'", "actions": [{"http": {"url": "https://hooks.internal/other/x"}}]}),
    )
    .await
    .ok();
    let summaries = api.get("/destinations").await.ok()["destinationSummaries"].clone();
    let statuses: Vec<(&str, &str)> = summaries
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["httpUrlSummary"]["confirmationUrl"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("https://hooks.internal/other/x", "ENABLED")),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_failed_confirmation_is_an_error_with_the_reason_and_can_be_retried() {
    let mut refusing = Receiver::start(500).await;
    let api = api_with(&[]).await;
    let created = create(&api, &refusing.url("/hook")).await;
    let arn = created["arn"].as_str().unwrap().to_owned();
    let first = refusing.next().await;
    let errored = wait_for_status(&api, &arn, "ERROR").await;
    let reason = errored["statusReason"].as_str().unwrap();
    assert!(reason.contains("HTTP 500"), "{reason}");

    // Setting IN_PROGRESS sends a new confirmation with a new token.
    api.patch(
        "/destinations",
        json!({"arn": arn, "status": "IN_PROGRESS"}),
    )
    .await
    .ok();
    let second = refusing.next().await;
    let (old, new) = (
        first.body["confirmationToken"].as_str().unwrap(),
        second.body["confirmationToken"].as_str().unwrap(),
    );
    assert_ne!(old, new);
    api.get(&format!("/confirmdestination/{old}"))
        .await
        .error(INVALID_REQUEST);
    // The receiver answered 500 again, but it did get the token: confirming still works.
    wait_for_status(&api, &arn, "ERROR").await;
    api.get(&format!("/confirmdestination/{new}")).await.ok();
    let enabled = wait_for_status(&api, &arn, "ENABLED").await;
    assert!(enabled.get("statusReason").is_none(), "{enabled}");
}

#[tokio::test]
async fn an_unreachable_confirmation_url_is_an_error() {
    // A port nobody listens on: bind one, note it, close it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let api = api_with(&[]).await;
    let created = create(&api, &format!("http://127.0.0.1:{port}/hook")).await;
    let arn = created["arn"].as_str().unwrap();
    let errored = wait_for_status(&api, arn, "ERROR").await;
    assert!(
        errored["statusReason"]
            .as_str()
            .unwrap()
            .contains("confirmation request failed"),
        "{errored}"
    );
}

#[tokio::test]
async fn status_transitions_follow_aws() {
    let api = api_with(&["https://trusted.example/".to_owned()]).await;
    let arn = create(&api, "https://trusted.example/a").await["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = async |api: &TestApi| {
        api.get(&path_of(&arn)).await.ok()["topicRuleDestination"]["status"].clone()
    };
    let update = async |api: &TestApi, to: &str| {
        api.patch("/destinations", json!({"arn": arn, "status": to}))
            .await
    };
    update(&api, "DISABLED").await.ok();
    assert_eq!(status(&api).await, "DISABLED");
    update(&api, "DISABLED").await.ok();
    update(&api, "ENABLED").await.ok();
    assert_eq!(status(&api).await, "ENABLED");
    for refused in ["ERROR", "DELETING"] {
        update(&api, refused)
            .await
            .error_saying(INVALID_REQUEST, refused);
    }
    update(&api, "PAUSED")
        .await
        .error_saying(INVALID_REQUEST, "enum value set");
    // IN_PROGRESS under a trusted prefix confirms at once.
    update(&api, "IN_PROGRESS").await.ok();
    assert_eq!(status(&api).await, "ENABLED");

    // An unconfirmed destination can be neither enabled nor disabled.
    let pending = create(&api, "https://untrusted.example/a").await["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    for to in ["ENABLED", "DISABLED"] {
        api.patch("/destinations", json!({"arn": pending, "status": to}))
            .await
            .error_saying(INVALID_REQUEST, "only from");
    }
    // Missing members and destinations.
    api.patch("/destinations", json!({"status": "ENABLED"}))
        .await
        .error_saying(INVALID_REQUEST, "'arn'");
    api.patch("/destinations", json!({"arn": arn}))
        .await
        .error_saying(INVALID_REQUEST, "'status'");
    let ghost = "arn:aws:iot:us-east-1:123456789012:ruledestination/http/ghost";
    let message = api
        .patch("/destinations", json!({"arn": ghost, "status": "ENABLED"}))
        .await
        .error(UNAUTHORIZED);
    assert_eq!(
        message,
        format!("Access to TopicRuleDestination '{ghost}' was denied")
    );
    api.get(&path_of(ghost)).await.error(UNAUTHORIZED);
    api.delete(&path_of(ghost)).await.error(UNAUTHORIZED);
}

#[tokio::test]
async fn bad_destinations_are_refused() {
    let api = api_with(&[]).await;
    let cases = [
        (json!({}), "destinationConfiguration"),
        (
            json!({"destinationConfiguration": {}}),
            "httpUrlConfiguration",
        ),
        (
            json!({"destinationConfiguration": {"httpUrlConfiguration": {}}}),
            "confirmationUrl",
        ),
        (
            json!({"destinationConfiguration": {"vpcConfiguration": {"subnetIds": ["s"], "vpcId": "v", "roleArn": "r"}}}),
            "VPC topic rule destinations are not supported",
        ),
        (
            json!({"destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": "ftp://x"}}}),
            "http:// or https://",
        ),
        (
            json!({"destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": "https://x/${topic()}"}}}),
            "templates",
        ),
        (
            json!({"destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": format!("https://x/{}", "a".repeat(2000))}}}),
            "2000",
        ),
    ];
    for (body, needle) in cases {
        api.post("/destinations", body)
            .await
            .error_saying(INVALID_REQUEST, needle);
    }
    assert_eq!(
        api.get("/destinations").await.ok(),
        json!({"destinationSummaries": []})
    );

    let url = "https://trusted-nowhere.example/a";
    let first = create(&api, url).await;
    api.post(
        "/destinations",
        json!({"destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": url}}}),
    )
    .await
    .already_exists(first["arn"].clone(), first["arn"].clone());
    for bad in [
        "/confirmdestination/nope",
        &format!("/confirmdestination/{}", "x".repeat(2049)),
    ] {
        api.get(bad).await.error(INVALID_REQUEST);
    }
}

#[tokio::test]
async fn destinations_list_in_pages_and_delete() {
    let api = api_with(&["https://t.example/".to_owned()]).await;
    let mut arns = Vec::new();
    for i in 0..5 {
        arns.push(
            create(&api, &format!("https://t.example/{i}")).await["arn"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    arns.sort();
    for size in 1..=3 {
        let pages = api
            .pages(&format!("/destinations?maxResults={size}"), &[])
            .await;
        let listed: Vec<String> = items(&pages, "destinationSummaries", Some(size))
            .iter()
            .map(|s| s["arn"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, arns, "pages of {size}");
    }
    for bad in ["maxResults=0", "maxResults=1001"] {
        api.get(&format!("/destinations?{bad}"))
            .await
            .error(INVALID_REQUEST);
    }
    api.take_rule_changes();
    assert_eq!(api.delete(&path_of(&arns[2])).await.ok(), json!({}));
    assert_eq!(
        api.take_rule_changes(),
        vec![format!("destination:{}", arns[2])]
    );
    api.get(&path_of(&arns[2])).await.error(UNAUTHORIZED);
    let left = api.get("/destinations").await.ok()["destinationSummaries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(left, 4);
    // The unencoded ARN path works too.
    api.get(&format!("/destinations/{}", arns[0])).await.ok();
}

#[tokio::test]
async fn confirmation_needs_no_signature_but_everything_else_does() {
    let mut receiver = Receiver::start(200).await;
    let api = api_with(&[]).await;
    create(&api, &receiver.url("/c")).await;
    let token = receiver.next().await.body["confirmationToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = thingd_api::authenticated_router(api.state.clone());
    let send = async |path: &str| {
        use tower::ServiceExt;
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        app.clone().oneshot(request).await.unwrap().status()
    };
    assert_eq!(send("/destinations").await, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&format!("/confirmdestination/{token}")).await,
        StatusCode::OK
    );
    let summaries = api.get("/destinations").await.ok()["destinationSummaries"].clone();
    assert_eq!(summaries[0]["status"], "ENABLED");
}
