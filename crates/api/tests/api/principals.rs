//! AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals(V2) and
//! ListPrincipalThings(V2).

use axum::http::Method;
use serde_json::{Value, json};

use crate::certificates::create_certificate;
use crate::harness::{Answer, INVALID_REQUEST, NOT_FOUND, TestApi, items};

const HEADER: &str = "x-amzn-principal";

/// AttachThingPrincipal, with `thingPrincipalType` if `kind` is given.
pub(crate) async fn attach(
    api: &TestApi,
    thing: &str,
    principal: &str,
    kind: Option<&str>,
) -> Answer {
    let path = match kind {
        Some(kind) => format!("/things/{thing}/principals?thingPrincipalType={kind}"),
        None => format!("/things/{thing}/principals"),
    };
    api.call_with(Method::PUT, &path, None, &[(HEADER, principal)])
        .await
}

/// DetachThingPrincipal.
pub(crate) async fn detach(api: &TestApi, thing: &str, principal: &str) -> Answer {
    api.call_with(
        Method::DELETE,
        &format!("/things/{thing}/principals"),
        None,
        &[(HEADER, principal)],
    )
    .await
}

async fn principal_things(api: &TestApi, path: &str, principal: &str) -> Answer {
    api.call_with(Method::GET, path, None, &[(HEADER, principal)])
        .await
}

/// A new certificate's ARN.
async fn certificate(api: &TestApi) -> String {
    create_certificate(api, true).await["certificateArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn attach_list_and_detach() {
    let api = TestApi::new().await;
    api.post("/things/lamp", json!({})).await.ok();
    api.post("/things/switch", json!({})).await.ok();
    let cert = certificate(&api).await;
    let other = certificate(&api).await;

    assert_eq!(attach(&api, "lamp", &cert, None).await.ok(), json!({}));
    attach(&api, "lamp", &cert, None).await.ok(); // idempotent
    attach(&api, "lamp", &other, Some("EXCLUSIVE_THING"))
        .await
        .ok();
    attach(&api, "switch", &cert, Some("NON_EXCLUSIVE_THING"))
        .await
        .ok();

    let mut expected = vec![cert.clone(), other.clone()];
    expected.sort();
    assert_eq!(
        api.get("/things/lamp/principals").await.ok(),
        json!({"principals": expected})
    );
    let v2 = api.get("/things/lamp/principals-v2").await.ok();
    let objects = v2["thingPrincipalObjects"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    for object in objects {
        let kind = if object["principal"] == other {
            "EXCLUSIVE_THING"
        } else {
            "NON_EXCLUSIVE_THING"
        };
        assert_eq!(object["thingPrincipalType"], kind, "{object}");
    }
    assert_eq!(
        api.get("/things/lamp/principals-v2?thingPrincipalType=EXCLUSIVE_THING")
            .await
            .ok(),
        json!({"thingPrincipalObjects": [{"principal": other, "thingPrincipalType": "EXCLUSIVE_THING"}]})
    );

    assert_eq!(
        principal_things(&api, "/principals/things", &cert)
            .await
            .ok(),
        json!({"things": ["lamp", "switch"]})
    );
    assert_eq!(
        principal_things(&api, "/principals/things-v2", &other)
            .await
            .ok(),
        json!({"principalThingObjects": [{"thingName": "lamp", "thingPrincipalType": "EXCLUSIVE_THING"}]})
    );
    assert_eq!(
        principal_things(
            &api,
            "/principals/things-v2?thingPrincipalType=EXCLUSIVE_THING",
            &cert
        )
        .await
        .ok(),
        json!({"principalThingObjects": []})
    );

    // A thing with principals cannot be deleted.
    api.delete("/things/lamp").await.error(INVALID_REQUEST);
    assert_eq!(detach(&api, "lamp", &cert).await.ok(), json!({}));
    detach(&api, "lamp", &cert).await.ok(); // not attached: still fine
    detach(&api, "lamp", &other).await.ok();
    assert_eq!(
        api.get("/things/lamp/principals").await.ok(),
        json!({"principals": []})
    );
    assert_eq!(
        principal_things(&api, "/principals/things", &cert)
            .await
            .ok(),
        json!({"things": ["switch"]})
    );
    api.delete("/things/lamp").await.ok();
}

#[tokio::test]
async fn principals_must_be_certificates_of_this_account() {
    let api = TestApi::new().await;
    api.post("/things/lamp", json!({})).await.ok();
    let cert = certificate(&api).await;

    api.call(Method::PUT, "/things/lamp/principals", None)
        .await
        .error_saying(INVALID_REQUEST, "'principal'");
    let other_account = cert.replace("123456789012", "210987654321");
    let other_region = cert.replace("us-east-1", "eu-west-1");
    // (principal, a part of the message)
    for (bad, says) in [
        // A Cognito identity.
        (
            "us-east-1:3f2a8c4e-1111-2222-3333-444455556666",
            "certificate ARN",
        ),
        (
            "arn:aws:iot:us-east-1:123456789012:thing/lamp",
            "certificate ARN",
        ),
        ("arn:aws:iam::123456789012:user/alice", "certificate ARN"),
        ("cert/abc", "certificate ARN"),
        (&other_account, "another region or account"),
        (&other_region, ""),
        ("arn:aws:iot:us-east-1:123456789012:cert/abc", ""),
    ] {
        let message = attach(&api, "lamp", bad, None).await.error(INVALID_REQUEST);
        assert!(message.contains(says), "{bad}: {message}");
    }
    attach(&api, "lamp", &cert, Some("SOMETIMES"))
        .await
        .error(INVALID_REQUEST);

    let missing = format!("arn:aws:iot:us-east-1:123456789012:cert/{}", "0".repeat(64));
    attach(&api, "lamp", &missing, None)
        .await
        .error_saying(NOT_FOUND, "certificate");
    attach(&api, "ghost", &cert, None)
        .await
        .error_saying(NOT_FOUND, "ghost");
    detach(&api, "ghost", &cert).await.error(NOT_FOUND);
    attach(&api, "bad%20name", &cert, None)
        .await
        .error(INVALID_REQUEST);
    principal_things(&api, "/principals/things", &missing)
        .await
        .error(NOT_FOUND);
    principal_things(&api, "/principals/things-v2", "nonsense")
        .await
        .error(INVALID_REQUEST);
    api.get("/principals/things").await.error(INVALID_REQUEST);
    api.get("/things/ghost/principals")
        .await
        .error_saying(NOT_FOUND, "ghost");
    api.get("/things/ghost/principals-v2")
        .await
        .error(NOT_FOUND);

    // The ARN is kept in its canonical form: an uppercase id names the same certificate.
    let upper = match cert.rsplit_once('/') {
        Some((prefix, id)) => format!("{prefix}/{}", id.to_ascii_uppercase()),
        None => unreachable!(),
    };
    attach(&api, "lamp", &upper, None).await.ok();
    assert_eq!(
        api.get("/things/lamp/principals").await.ok(),
        json!({"principals": [cert]})
    );
}

#[tokio::test]
async fn an_exclusive_attachment_is_the_only_one() {
    let api = TestApi::new().await;
    for thing in ["a", "b"] {
        api.post(&format!("/things/{thing}"), json!({})).await.ok();
    }
    let cert = certificate(&api).await;

    attach(&api, "a", &cert, Some("EXCLUSIVE_THING")).await.ok();
    attach(&api, "a", &cert, Some("EXCLUSIVE_THING")).await.ok();
    attach(&api, "a", &cert, None).await.ok(); // a plain re-attach keeps the type
    let message = attach(&api, "b", &cert, None)
        .await
        .error_saying(INVALID_REQUEST, "exclusively");
    assert!(message.contains("thing a"), "{message}");
    attach(&api, "b", &cert, Some("EXCLUSIVE_THING"))
        .await
        .error(INVALID_REQUEST);
    let v2 = principal_things(&api, "/principals/things-v2", &cert)
        .await
        .ok();
    assert_eq!(
        v2,
        json!({"principalThingObjects": [{"thingName": "a", "thingPrincipalType": "EXCLUSIVE_THING"}]})
    );

    // Explicitly non-exclusive: the attachment's type changes, and others may follow.
    attach(&api, "a", &cert, Some("NON_EXCLUSIVE_THING"))
        .await
        .ok();
    attach(&api, "b", &cert, None).await.ok();
    attach(&api, "a", &cert, Some("EXCLUSIVE_THING"))
        .await
        .error_saying(INVALID_REQUEST, "attached to the thing b");
    detach(&api, "b", &cert).await.ok();
    attach(&api, "a", &cert, Some("EXCLUSIVE_THING")).await.ok();
    let v2 = api.get("/things/a/principals-v2").await.ok();
    assert_eq!(
        v2,
        json!({"thingPrincipalObjects": [{"principal": cert, "thingPrincipalType": "EXCLUSIVE_THING"}]})
    );
}

/// Walks a `nextToken` list, returning every item of `member` and the number of pages.
async fn walk(
    api: &TestApi,
    path: &str,
    member: &str,
    principal: Option<&str>,
) -> (Vec<Value>, usize) {
    let headers: Vec<(&str, &str)> = principal.map(|p| (HEADER, p)).into_iter().collect();
    let pages = api.pages(path, &headers).await;
    (items(&pages, member, None), pages.len())
}

#[tokio::test]
async fn lists_page_with_tokens() {
    let api = TestApi::new().await;
    api.post("/things/hub", json!({})).await.ok();
    let mut certs = Vec::new();
    for _ in 0..5 {
        let cert = certificate(&api).await;
        attach(&api, "hub", &cert, None).await.ok();
        certs.push(cert);
    }
    certs.sort();
    let (principals, pages) = walk(
        &api,
        "/things/hub/principals?maxResults=2",
        "principals",
        None,
    )
    .await;
    assert_eq!(
        principals,
        certs.iter().map(|c| json!(c)).collect::<Vec<_>>()
    );
    assert_eq!(pages, 3);

    let shared = certificate(&api).await;
    let mut names = Vec::new();
    for i in 0..5 {
        let name = format!("thing-{i}");
        api.post(&format!("/things/{name}"), json!({})).await.ok();
        attach(&api, &name, &shared, None).await.ok();
        names.push(json!(name));
    }
    let (things, pages) = walk(
        &api,
        "/principals/things?maxResults=2",
        "things",
        Some(&shared),
    )
    .await;
    assert_eq!((things, pages), (names.clone(), 3));
    let (objects, _) = walk(
        &api,
        "/principals/things-v2?maxResults=4",
        "principalThingObjects",
        Some(&shared),
    )
    .await;
    assert_eq!(objects.len(), 5);

    // A filtered page is filled from the pages that follow.
    attach(&api, "hub", &shared, Some("EXCLUSIVE_THING"))
        .await
        .error(INVALID_REQUEST);
    let only = certs[3].clone();
    detach(&api, "hub", &only).await.ok();
    for cert in &certs[..3] {
        detach(&api, "hub", cert).await.ok();
        attach(&api, "hub", cert, Some("EXCLUSIVE_THING"))
            .await
            .ok();
    }
    let (exclusive, pages) = walk(
        &api,
        "/things/hub/principals-v2?maxResults=2&thingPrincipalType=EXCLUSIVE_THING",
        "thingPrincipalObjects",
        None,
    )
    .await;
    assert_eq!(exclusive.len(), 3);
    assert!(
        exclusive
            .iter()
            .all(|o| o["thingPrincipalType"] == "EXCLUSIVE_THING")
    );
    assert_eq!(pages, 2);
    let (plain, _) = walk(
        &api,
        "/things/hub/principals-v2?maxResults=1&thingPrincipalType=NON_EXCLUSIVE_THING",
        "thingPrincipalObjects",
        None,
    )
    .await;
    assert_eq!(
        plain,
        [json!({"principal": certs[4], "thingPrincipalType": "NON_EXCLUSIVE_THING"})]
    );

    for bad in [
        "principals?maxResults=0",
        "principals?maxResults=251",
        "principals-v2?thingPrincipalType=ALL",
    ] {
        api.get(&format!("/things/hub/{bad}"))
            .await
            .error(INVALID_REQUEST);
    }
}
