//! The service's API, what the HTTPS data plane calls (GetThingShadow, UpdateThingShadow,
//! DeleteThingShadow, ListNamedShadowsForThing): answers and errors as AWS gives them, updates
//! and deletes published on MQTT as well (errors not), paging, concurrent callers, and the
//! service's counters on `/metrics`.

use std::net::SocketAddr;

use serde_json::{Value, json};
use testkit::TestServer;
use thingd_broker::PublishOrigin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::device::{Device, assert_timestamp_in_seconds, version_of};
use crate::support::within;

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test]
async fn get_update_and_delete_answer_as_the_data_plane_needs() {
    let server = TestServer::start().await.unwrap();
    let shadows = server.shadows().clone();
    let origin = PublishOrigin::default();
    let mut observer = Device::connect(&server, "api-observer", "api-thing", None).await;

    let error = shadows.get("api-thing", None).await.unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (404, "No shadow exists with name: 'api-thing'")
    );
    let accepted = json_of(
        &shadows
            .update(
                "api-thing",
                None,
                br#"{"state":{"desired":{"a":1}},"clientToken":"h1"}"#,
                &origin,
            )
            .await
            .unwrap(),
    );
    assert_eq!(accepted["state"], json!({"desired": {"a": 1}}));
    assert_eq!(version_of(&accepted), 1);
    assert_eq!(accepted["clientToken"], "h1");
    assert_timestamp_in_seconds(&accepted);
    // The update is published on MQTT as if it had come from there.
    assert_eq!(observer.expect("update/accepted").await, accepted);
    assert_eq!(
        observer.expect("update/delta").await["state"],
        json!({"a": 1})
    );
    observer.expect("update/documents").await;

    let document = json_of(&shadows.get("api-thing", None).await.unwrap());
    assert_eq!(document["state"]["delta"], json!({"a": 1}));
    assert_eq!(version_of(&document), 1);
    assert!(document.get("clientToken").is_none());

    // Errors go back to the caller only.
    for (payload, code, message) in [
        (&b"{"[..], 400, "Invalid JSON"),
        (
            br#"{"state":{"desired":{"a":2}},"version":7}"#,
            409,
            "Version conflict",
        ),
    ] {
        let error = shadows
            .update("api-thing", None, payload, &origin)
            .await
            .unwrap_err();
        assert_eq!((error.code, error.message.as_str()), (code, message));
    }
    let huge = vec![b' '; 200 * 1024];
    assert_eq!(
        shadows
            .update("api-thing", None, &huge, &origin)
            .await
            .unwrap_err()
            .code,
        413
    );
    for (thing, shadow) in [("bad thing", None), ("ok", Some("bad/name")), ("", None)] {
        assert_eq!(
            shadows.get(thing, shadow).await.unwrap_err().code,
            400,
            "{thing:?} {shadow:?}"
        );
    }
    observer.assert_nothing_more().await;

    let deleted = json_of(&shadows.delete("api-thing", None, &origin).await.unwrap());
    assert_eq!(version_of(&deleted), 1);
    assert_timestamp_in_seconds(&deleted);
    assert_eq!(observer.expect("delete/accepted").await, deleted);
    assert_eq!(shadows.get("api-thing", None).await.unwrap_err().code, 404);
    let error = shadows
        .delete("api-thing", None, &origin)
        .await
        .unwrap_err();
    assert_eq!(error.code, 404);
    observer.assert_nothing_more().await;
    server.shutdown().await;
}

#[tokio::test]
async fn named_shadows_are_listed_in_pages() {
    let server = TestServer::start().await.unwrap();
    let shadows = server.shadows().clone();
    let origin = PublishOrigin::default();
    for name in ["s3", "s0", "s4", "s1", "s2"] {
        shadows
            .update(
                "lister",
                Some(name),
                br#"{"state":{"reported":{"on":true}}}"#,
                &origin,
            )
            .await
            .unwrap();
    }
    shadows
        .update("lister", None, br#"{"state":{"reported":{}}}"#, &origin)
        .await
        .unwrap();
    shadows.delete("lister", Some("s2"), &origin).await.unwrap();

    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let (names, next) = shadows
            .list_named("lister", 2, token.as_deref())
            .await
            .unwrap();
        pages.push(names);
        match next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(pages.concat(), ["s0", "s1", "s3", "s4"]);
    assert!(pages.iter().all(|page| page.len() <= 2), "{pages:?}");
    assert_eq!(
        shadows.list_named("nobody", 100, None).await.unwrap(),
        (Vec::<String>::new(), None)
    );
    for (thing, size, token) in [
        ("lister", 0, None),
        ("lister", 101, None),
        ("bad thing", 10, None),
        ("lister", 10, Some("not/a/name")),
    ] {
        assert_eq!(
            shadows
                .list_named(thing, size, token)
                .await
                .unwrap_err()
                .code,
            400,
            "{thing} {size} {token:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_callers_of_one_shadow_get_distinct_consecutive_versions() {
    const CALLERS: usize = 64;
    const UPDATES: usize = 5;
    let server = TestServer::start().await.unwrap();
    let mut tasks = Vec::new();
    for caller in 0..CALLERS {
        let shadows = server.shadows().clone();
        tasks.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for update in 0..UPDATES {
                let payload = json!({"state": {"reported": {"caller": caller, "n": update}}});
                let accepted = shadows
                    .update(
                        "contended",
                        Some("one"),
                        payload.to_string().as_bytes(),
                        &PublishOrigin::default(),
                    )
                    .await
                    .unwrap();
                versions.push(version_of(&json_of(&accepted)));
            }
            versions
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let versions = within(task).await.unwrap();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "{versions:?}"
        );
        all.extend(versions);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=(CALLERS * UPDATES) as u64).collect::<Vec<_>>());
    let metrics = server.shadows().metrics();
    let writes = metrics
        .writes_total
        .load(std::sync::atomic::Ordering::Relaxed);
    let batches = metrics
        .write_batches_total
        .load(std::sync::atomic::Ordering::Relaxed);
    // One shadow is one write per transaction, however many of its updates the batch holds.
    assert_eq!(writes, batches);
    assert!(batches <= (CALLERS * UPDATES) as u64);
    server.shutdown().await;
}

/// `GET path` on the HTTP listener; the body.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    within(async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        body.to_owned()
    })
    .await
}

/// The value of a sample in the exposition text.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_service_counts_its_requests_on_the_metrics_endpoint() {
    let server = TestServer::start().await.unwrap();
    let mut device = Device::connect(&server, "counted", "counted", None).await;
    device.send("get", b"").await;
    device.expect("get/rejected").await;
    device
        .send("update", br#"{"state":{"reported":{"x":1}}}"#)
        .await;
    device.expect("update/accepted").await;
    device.expect("update/documents").await;
    let text = http_get(server.api, "/metrics").await;
    assert_eq!(sample(&text, "thingd_shadow_requests_total"), 2);
    assert_eq!(sample(&text, "thingd_shadow_requests_accepted_total"), 1);
    assert_eq!(sample(&text, "thingd_shadow_requests_rejected_total"), 1);
    assert_eq!(sample(&text, "thingd_shadow_requests_throttled_total"), 0);
    assert_eq!(sample(&text, "thingd_shadow_writes_total"), 1);
    assert_eq!(sample(&text, "thingd_shadow_requests_queued"), 0);
    assert!(text.contains("# TYPE thingd_shadow_requests_total counter"));
    // The broker's own metrics are still there.
    assert!(text.contains("thingd_connections_current "));
    server.shutdown().await;
}
