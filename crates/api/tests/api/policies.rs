//! CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, the policy versions, AttachPolicy,
//! DetachPolicy, ListAttachedPolicies, ListTargetsForPolicy, the deprecated principal-policy
//! operations, GetEffectivePolicies and TestAuthorization; the authorization changes every
//! registry operation announces; and `thingd_api::authorization`.

use axum::http::Method;
use serde_json::{Value, json};
use thingd_api::AuthorizationChange;
use thingd_api::authorization::{Requester, certificate_context, resolve};

use crate::certificates::{create_certificate, set_status};
use crate::harness::{
    Answer, DELETE_CONFLICT, INVALID_REQUEST, LIMIT_EXCEEDED, MALFORMED_POLICY, NOT_FOUND, TestApi,
    VERSIONS_LIMIT_EXCEEDED, numbered_tags, percent,
};
use crate::principals::{attach as attach_principal, detach as detach_principal};

const PREFIX: &str = "arn:aws:iot:us-east-1:123456789012";
const PRINCIPAL_HEADER: &str = "x-amzn-iot-principal";

fn policy_arn(name: &str) -> String {
    format!("{PREFIX}:policy/{name}")
}

fn group_arn(name: &str) -> String {
    format!("{PREFIX}:thinggroup/{name}")
}

/// A document allowing `action` on `resource` (a suffix after the account).
fn allow(action: &str, resource: &str) -> String {
    statement_document("Allow", action, resource)
}

fn statement_document(effect: &str, action: &str, resource: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": action, "Resource": format!("{PREFIX}:{resource}")}],
    })
    .to_string()
}

/// The IoT button's policy (reference §4.8 (1)): publish to its own topic only.
fn button_document(serial: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Action": "iot:Publish",
            "Effect": "Allow",
            "Resource": format!("{PREFIX}:topic/iotbutton/{serial}"),
        }],
    })
    .to_string()
}

async fn create_policy(api: &TestApi, name: &str, document: &str) -> Value {
    api.post(
        &format!("/policies/{name}"),
        json!({ "policyDocument": document }),
    )
    .await
    .ok()
}

async fn create_version(api: &TestApi, name: &str, document: &str, default: bool) -> Answer {
    api.post(
        &format!("/policies/{name}/version?setAsDefault={default}"),
        json!({ "policyDocument": document }),
    )
    .await
}

async fn attach(api: &TestApi, name: &str, target: &str) -> Answer {
    api.put(
        &format!("/target-policies/{name}"),
        json!({ "target": target }),
    )
    .await
}

async fn detach(api: &TestApi, name: &str, target: &str) -> Answer {
    api.post(
        &format!("/target-policies/{name}"),
        json!({ "target": target }),
    )
    .await
}

/// ListAttachedPolicies of `target` with `query` (e.g. `recursive=true&pageSize=2`).
async fn attached(api: &TestApi, target: &str, query: &str) -> Answer {
    api.post(
        &format!("/attached-policies/{}?{query}", percent(target)),
        json!({}),
    )
    .await
}

/// The policy names of a list answer.
fn names(body: &Value) -> Vec<String> {
    body["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|policy| {
            let name = policy["policyName"].as_str().unwrap();
            assert_eq!(policy["policyArn"], policy_arn(name), "{policy}");
            name.to_owned()
        })
        .collect()
}

/// A new ACTIVE certificate's ARN.
async fn certificate(api: &TestApi) -> String {
    create_certificate(api, true).await["certificateArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `root` ⊃ `mid` ⊃ `leaf`.
async fn hierarchy(api: &TestApi) {
    api.post("/thing-groups/root", json!({})).await.ok();
    api.post("/thing-groups/mid", json!({"parentGroupName": "root"}))
        .await
        .ok();
    api.post("/thing-groups/leaf", json!({"parentGroupName": "mid"}))
        .await
        .ok();
}

async fn add_to_group(api: &TestApi, thing: &str, group: &str) -> Answer {
    api.put(
        "/thing-groups/addThingToThingGroup",
        json!({"thingGroupName": group, "thingName": thing}),
    )
    .await
}

async fn test_authorization(api: &TestApi, client_id: Option<&str>, body: Value) -> Answer {
    let path = match client_id {
        Some(id) => format!("/test-authorization?clientId={}", percent(id)),
        None => "/test-authorization".to_owned(),
    };
    api.post(&path, body).await
}

fn policy_refs(names: &[&str]) -> Value {
    json!({
        "policies": names
            .iter()
            .map(|name| json!({"policyName": name, "policyArn": policy_arn(name)}))
            .collect::<Vec<_>>()
    })
}

// ---------------------------------------------------------------------------------------------
// Policies and versions.

#[tokio::test]
async fn create_get_list_and_delete_a_policy() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "client/${iot:ClientId}");
    let created = api
        .post(
            "/policies/dev-policy",
            json!({"policyDocument": document, "tags": [{"Key": "team", "Value": "a"}]}),
        )
        .await
        .ok();
    assert_eq!(
        created,
        json!({
            "policyName": "dev-policy",
            "policyArn": policy_arn("dev-policy"),
            "policyDocument": document,
            "policyVersionId": "1",
        })
    );

    let got = api.get("/policies/dev-policy").await.ok();
    assert_eq!(got["policyName"], "dev-policy");
    assert_eq!(got["policyArn"], policy_arn("dev-policy"));
    assert_eq!(got["policyDocument"], document.as_str());
    assert_eq!(got["defaultVersionId"], "1");
    assert!(got["creationDate"].as_f64().unwrap() > 1.6e9);
    assert_eq!(got["creationDate"], got["lastModifiedDate"]);
    assert!(!got["generationId"].as_str().unwrap().is_empty());

    // Policies take tags.
    let tags = api
        .get(&format!(
            "/tags?resourceArn={}",
            percent(&policy_arn("dev-policy"))
        ))
        .await
        .ok();
    assert_eq!(tags["tags"], json!([{"Key": "team", "Value": "a"}]));

    // Creating it again is refused, whatever the document.
    let message = api
        .post(
            "/policies/dev-policy",
            json!({ "policyDocument": document }),
        )
        .await
        .already_exists("dev-policy", policy_arn("dev-policy"));
    assert_eq!(
        message,
        "Policy cannot be created - name already exists (name=dev-policy)"
    );

    create_policy(&api, "another", &document).await;
    let listed = api.get("/policies").await.ok();
    assert_eq!(names(&listed), ["another", "dev-policy"]);
    assert!(listed.get("nextMarker").is_none());
    let listed = api.get("/policies?isAscendingOrder=false").await.ok();
    assert_eq!(names(&listed), ["dev-policy", "another"]);

    api.delete("/policies/dev-policy").await.ok();
    api.get("/policies/dev-policy").await.error(NOT_FOUND);
    api.delete("/policies/dev-policy").await.error(NOT_FOUND);
    assert_eq!(names(&api.get("/policies").await.ok()), ["another"]);

    // Its tags went with it: a policy created again with the name starts untagged.
    create_policy(&api, "dev-policy", &document).await;
    let tags = api
        .get(&format!(
            "/tags?resourceArn={}",
            percent(&policy_arn("dev-policy"))
        ))
        .await
        .ok();
    assert_eq!(tags["tags"], json!([]));
}

#[tokio::test]
async fn policy_names_and_documents_are_validated() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    for bad in ["a%20b", "a:b", &"p".repeat(129)] {
        let message = api
            .post(
                &format!("/policies/{bad}"),
                json!({ "policyDocument": document }),
            )
            .await
            .error(INVALID_REQUEST);
        assert!(message.contains("policyName"), "{message}");
    }
    create_policy(&api, "a+b=c,d.e@f-g_1", &document).await;
    api.get("/policies/a:b").await.error(INVALID_REQUEST);

    let message = api
        .post("/policies/p", json!({}))
        .await
        .error(INVALID_REQUEST);
    assert!(message.contains("policyDocument"), "{message}");

    for malformed in [
        "not json",
        "{}",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"iot:Connect","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    ] {
        let message = api
            .post("/policies/p", json!({ "policyDocument": malformed }))
            .await
            .error(MALFORMED_POLICY);
        assert!(!message.is_empty(), "{malformed}");
    }
    let message = api
        .post(
            "/policies/p",
            json!({"policyDocument": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"iot:Connect","Resource":"*"}]}"#}),
        )
        .await
        .error(MALFORMED_POLICY);
    assert!(
        message.contains("Permit"),
        "the parser's message: {message}"
    );
    api.get("/policies/p").await.error(NOT_FOUND);

    // Too many tags, or reserved ones, are refused before anything is created.
    api.post(
        "/policies/p",
        json!({"policyDocument": document, "tags": numbered_tags(51)}),
    )
    .await
    .error(INVALID_REQUEST);
    api.get("/policies/p").await.error(NOT_FOUND);
}

#[tokio::test]
async fn list_policies_pages_with_markers_both_ways() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    for i in 0..7 {
        create_policy(&api, &format!("p{i}"), &document).await;
    }
    for (order, expected) in [
        ("true", ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]),
        ("false", ["p6", "p5", "p4", "p3", "p2", "p1", "p0"]),
    ] {
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut path = format!("/policies?pageSize=3&isAscendingOrder={order}");
            if let Some(marker) = &marker {
                path.push_str(&format!("&marker={}", percent(marker)));
            }
            let page = api.get(&path).await.ok();
            let page_names = names(&page);
            assert!(page_names.len() <= 3);
            seen.extend(page_names);
            match page.get("nextMarker") {
                Some(next) => marker = Some(next.as_str().unwrap().to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, expected);
    }
    api.get("/policies?pageSize=0").await.error(INVALID_REQUEST);
    api.get("/policies?pageSize=251")
        .await
        .error(INVALID_REQUEST);
    api.get("/policies?marker=zz").await.error(INVALID_REQUEST);
    api.get("/policies?isAscendingOrder=yes")
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn policy_versions_are_created_listed_and_chosen() {
    let api = TestApi::new().await;
    let v1 = allow("iot:Connect", "*");
    let v2 = allow("iot:Publish", "topic/a");
    let v3 = allow("iot:Publish", "topic/b");
    create_policy(&api, "p", &v1).await;
    let generation = api.get("/policies/p").await.ok()["generationId"].clone();

    let created = create_version(&api, "p", &v2, false).await.ok();
    assert_eq!(
        created,
        json!({
            "policyArn": policy_arn("p"),
            "policyDocument": v2,
            "policyVersionId": "2",
            "isDefaultVersion": false,
        })
    );
    assert_eq!(api.get("/policies/p").await.ok()["defaultVersionId"], "1");
    // Without setAsDefault the version is not the default either.
    let created = api
        .post("/policies/p/version", json!({ "policyDocument": v3 }))
        .await
        .ok();
    assert_eq!(created["policyVersionId"], "3");
    assert_eq!(created["isDefaultVersion"], false);

    let created = create_version(&api, "p", &v3, true).await.ok();
    assert_eq!(created["policyVersionId"], "4");
    assert_eq!(created["isDefaultVersion"], true);
    let got = api.get("/policies/p").await.ok();
    assert_eq!(got["defaultVersionId"], "4");
    assert_eq!(got["policyDocument"], v3.as_str());
    assert_ne!(got["generationId"], generation);

    let version = api.get("/policies/p/version/2").await.ok();
    assert_eq!(version["policyName"], "p");
    assert_eq!(version["policyArn"], policy_arn("p"));
    assert_eq!(version["policyDocument"], v2.as_str());
    assert_eq!(version["policyVersionId"], "2");
    assert_eq!(version["isDefaultVersion"], false);
    assert!(version["creationDate"].as_f64().is_some());
    assert!(version["lastModifiedDate"].as_f64().is_some());
    assert_eq!(version["generationId"], got["generationId"]);
    assert_eq!(
        api.get("/policies/p/version/4").await.ok()["isDefaultVersion"],
        true
    );

    let listed = api.get("/policies/p/version").await.ok();
    let versions = listed["policyVersions"].as_array().unwrap();
    let ids: Vec<&str> = versions
        .iter()
        .map(|v| v["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["4", "3", "2", "1"], "the newest first");
    let defaults: Vec<bool> = versions
        .iter()
        .map(|v| v["isDefaultVersion"].as_bool().unwrap())
        .collect();
    assert_eq!(defaults, [true, false, false, false]);
    assert!(versions.iter().all(|v| v["createDate"].as_f64().is_some()));

    api.call(Method::PATCH, "/policies/p/version/2", None)
        .await
        .ok();
    let got = api.get("/policies/p").await.ok();
    assert_eq!(got["defaultVersionId"], "2");
    assert_eq!(got["policyDocument"], v2.as_str());

    // The default cannot be deleted; others can, and their ids are not reused.
    let message = api
        .delete("/policies/p/version/2")
        .await
        .error(DELETE_CONFLICT);
    assert!(message.contains("default"), "{message}");
    api.delete("/policies/p/version/4").await.ok();
    api.get("/policies/p/version/4").await.error(NOT_FOUND);
    api.delete("/policies/p/version/4").await.error(NOT_FOUND);
    let created = create_version(&api, "p", &v1, false).await.ok();
    assert_eq!(created["policyVersionId"], "5");

    // Unknown policies, unknown versions and malformed ids.
    api.get("/policies/p/version/99").await.error(NOT_FOUND);
    api.get("/policies/q/version/1").await.error(NOT_FOUND);
    api.get("/policies/q/version").await.error(NOT_FOUND);
    api.call(Method::PATCH, "/policies/p/version/99", None)
        .await
        .error(NOT_FOUND);
    api.call(Method::PATCH, "/policies/q/version/1", None)
        .await
        .error(NOT_FOUND);
    api.delete("/policies/q/version/1").await.error(NOT_FOUND);
    create_version(&api, "q", &v1, true).await.error(NOT_FOUND);
    for bad in ["x", "-1", "1.0"] {
        let message = api
            .get(&format!("/policies/p/version/{bad}"))
            .await
            .error(INVALID_REQUEST);
        assert!(message.contains("policyVersionId"), "{message}");
    }
    create_version(&api, "p", "{", true)
        .await
        .error(MALFORMED_POLICY);
    api.post(
        "/policies/p/version?setAsDefault=maybe",
        json!({"policyDocument": v1}),
    )
    .await
    .error(INVALID_REQUEST);
}

#[tokio::test]
async fn a_policy_has_at_most_five_versions() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    create_policy(&api, "p", &document).await;
    for expected in 2..=5 {
        let created = create_version(&api, "p", &document, false).await.ok();
        assert_eq!(created["policyVersionId"], expected.to_string());
    }
    let message = create_version(&api, "p", &document, true)
        .await
        .error(VERSIONS_LIMIT_EXCEEDED);
    assert!(message.contains('5'), "{message}");
    assert_eq!(api.get("/policies/p").await.ok()["defaultVersionId"], "1");

    api.delete("/policies/p/version/3").await.ok();
    let created = create_version(&api, "p", &document, true).await.ok();
    assert_eq!(created["policyVersionId"], "6");
}

#[tokio::test]
async fn delete_policy_needs_no_other_versions_and_no_targets() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    create_policy(&api, "p", &document).await;
    create_version(&api, "p", &document, true).await.ok();
    let message = api.delete("/policies/p").await.error(DELETE_CONFLICT);
    assert_eq!(
        message,
        "Cannot delete the policy because it has one or more policy versions attached to it \
         (name=p)"
    );
    api.delete("/policies/p/version/1").await.ok();

    let cert = certificate(&api).await;
    attach(&api, "p", &cert).await.ok();
    let message = api.delete("/policies/p").await.error(DELETE_CONFLICT);
    assert_eq!(
        message,
        "The policy cannot be deleted as the policy is attached to one or more principals \
         (name=p)"
    );
    detach(&api, "p", &cert).await.ok();
    api.delete("/policies/p").await.ok();
    api.get("/policies/p/version/2").await.error(NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Attachments.

#[tokio::test]
async fn attach_and_detach_policies_to_certificates_and_groups() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    create_policy(&api, "a", &document).await;
    create_policy(&api, "b", &document).await;
    let cert = certificate(&api).await;
    api.post("/thing-groups/floor", json!({})).await.ok();
    let floor = group_arn("floor");

    assert_eq!(attach(&api, "a", &cert).await.ok(), json!({}));
    attach(&api, "a", &cert).await.ok(); // Attaching again succeeds.
    attach(&api, "b", &cert).await.ok();
    attach(&api, "a", &floor).await.ok();
    // A certificate id in capitals names the same certificate.
    let upper = cert.replace(
        cert.rsplit('/').next().unwrap(),
        &cert.rsplit('/').next().unwrap().to_ascii_uppercase(),
    );
    attach(&api, "b", &upper).await.ok();

    assert_eq!(names(&attached(&api, &cert, "").await.ok()), ["a", "b"]);
    assert_eq!(names(&attached(&api, &floor, "").await.ok()), ["a"]);
    // The target may be given with its `/` unencoded too.
    let unencoded = api
        .post(&format!("/attached-policies/{floor}"), json!({}))
        .await
        .ok();
    assert_eq!(names(&unencoded), ["a"]);

    let mut expected = vec![cert.clone(), floor.clone()];
    expected.sort();
    assert_eq!(
        api.post("/policy-targets/a", json!({})).await.ok(),
        json!({ "targets": expected })
    );
    assert_eq!(
        api.post("/policy-targets/b", json!({})).await.ok(),
        json!({ "targets": [cert] })
    );

    detach(&api, "a", &cert).await.ok();
    detach(&api, "a", &cert).await.ok(); // Detaching what is not attached succeeds.
    detach(&api, "nothing", &cert).await.ok();
    assert_eq!(names(&attached(&api, &cert, "").await.ok()), ["b"]);
    assert_eq!(
        api.post("/policy-targets/a", json!({})).await.ok(),
        json!({ "targets": [floor] })
    );
}

#[tokio::test]
async fn attachment_targets_must_be_certificates_or_groups_that_exist() {
    let api = TestApi::new().await;
    create_policy(&api, "p", &allow("iot:Connect", "*")).await;
    let cert = certificate(&api).await;
    api.post("/things/lamp", json!({})).await.ok();

    let missing_cert = format!("{PREFIX}:cert/{}", "0".repeat(64));
    for target in [missing_cert.as_str(), &group_arn("nowhere")] {
        attach(&api, "p", target).await.error(NOT_FOUND);
        attached(&api, target, "").await.error(NOT_FOUND);
    }
    for target in [
        format!("{PREFIX}:thing/lamp"),
        format!("{PREFIX}:policy/p"),
        "lamp".to_owned(),
        "arn:aws:iam::123456789012:role/x".to_owned(),
        format!("{PREFIX}:cert/not-hex"),
    ] {
        let message = attach(&api, "p", &target).await.error(INVALID_REQUEST);
        assert!(message.contains(&target), "{message}");
        detach(&api, "p", &target).await.error(INVALID_REQUEST);
        attached(&api, &target, "").await.error(INVALID_REQUEST);
    }
    let elsewhere = cert.replace("us-east-1", "eu-west-1");
    attach(&api, "p", &elsewhere).await.error(INVALID_REQUEST);

    attach(&api, "nothing", &cert).await.error(NOT_FOUND);
    api.put("/target-policies/p", json!({}))
        .await
        .error(INVALID_REQUEST);
    api.post("/target-policies/p", json!({}))
        .await
        .error(INVALID_REQUEST);
    api.put("/target-policies/a:b", json!({"target": cert}))
        .await
        .error(INVALID_REQUEST);
    api.post("/policy-targets/nothing", json!({}))
        .await
        .error(NOT_FOUND);
}

#[tokio::test]
async fn a_target_has_at_most_ten_policies() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    let cert = certificate(&api).await;
    for i in 0..11 {
        create_policy(&api, &format!("p{i:02}"), &document).await;
    }
    for i in 0..10 {
        attach(&api, &format!("p{i:02}"), &cert).await.ok();
    }
    let message = attach(&api, "p10", &cert).await.error(LIMIT_EXCEEDED);
    assert!(message.contains("10"), "{message}");
    attach(&api, "p00", &cert).await.ok(); // Already attached: not one more.
    detach(&api, "p00", &cert).await.ok();
    attach(&api, "p10", &cert).await.ok();
}

#[tokio::test]
async fn attached_policies_and_targets_page_with_markers() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    let cert = certificate(&api).await;
    for i in 0..5 {
        create_policy(&api, &format!("p{i}"), &document).await;
        attach(&api, &format!("p{i}"), &cert).await.ok();
    }
    let mut seen = Vec::new();
    let mut query = "pageSize=2".to_owned();
    loop {
        let page = attached(&api, &cert, &query).await.ok();
        let page_names = names(&page);
        assert!(page_names.len() <= 2);
        seen.extend(page_names);
        match page.get("nextMarker") {
            Some(marker) => {
                query = format!("pageSize=2&marker={}", percent(marker.as_str().unwrap()))
            }
            None => break,
        }
    }
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4"]);

    for group in ["g0", "g1", "g2"] {
        api.post(&format!("/thing-groups/{group}"), json!({}))
            .await
            .ok();
        attach(&api, "p0", &group_arn(group)).await.ok();
    }
    let mut targets = Vec::new();
    let mut path = "/policy-targets/p0?pageSize=3".to_owned();
    loop {
        let page = api.post(&path, json!({})).await.ok();
        let list = page["targets"].as_array().unwrap();
        assert!(list.len() <= 3);
        targets.extend(list.iter().map(|t| t.as_str().unwrap().to_owned()));
        match page.get("nextMarker") {
            Some(marker) => {
                path = format!(
                    "/policy-targets/p0?pageSize=3&marker={}",
                    percent(marker.as_str().unwrap())
                )
            }
            None => break,
        }
    }
    let mut expected = vec![cert, group_arn("g0"), group_arn("g1"), group_arn("g2")];
    expected.sort();
    assert_eq!(targets, expected);
}

#[tokio::test]
async fn recursive_attached_policies_include_ancestor_groups() {
    let api = TestApi::new().await;
    hierarchy(&api).await;
    let document = allow("iot:Connect", "*");
    for (policy, group) in [("on-root", "root"), ("on-mid", "mid"), ("on-leaf", "leaf")] {
        create_policy(&api, policy, &document).await;
        attach(&api, policy, &group_arn(group)).await.ok();
    }
    attach(&api, "on-root", &group_arn("leaf")).await.ok();

    assert_eq!(
        names(&attached(&api, &group_arn("leaf"), "").await.ok()),
        ["on-leaf", "on-root"]
    );
    assert_eq!(
        names(
            &attached(&api, &group_arn("leaf"), "recursive=true")
                .await
                .ok()
        ),
        ["on-leaf", "on-mid", "on-root"],
        "each policy once"
    );
    assert_eq!(
        names(
            &attached(&api, &group_arn("mid"), "recursive=true")
                .await
                .ok()
        ),
        ["on-mid", "on-root"]
    );
    assert_eq!(
        names(
            &attached(&api, &group_arn("root"), "recursive=true")
                .await
                .ok()
        ),
        ["on-root"]
    );

    // Paged too.
    let first = attached(&api, &group_arn("leaf"), "recursive=true&pageSize=2")
        .await
        .ok();
    assert_eq!(names(&first), ["on-leaf", "on-mid"]);
    let marker = first["nextMarker"].as_str().unwrap();
    let second = attached(
        &api,
        &group_arn("leaf"),
        &format!("recursive=true&pageSize=2&marker={}", percent(marker)),
    )
    .await
    .ok();
    assert_eq!(names(&second), ["on-root"]);
    assert!(second.get("nextMarker").is_none());
    attached(&api, &group_arn("leaf"), "recursive=perhaps")
        .await
        .error(INVALID_REQUEST);
}

#[tokio::test]
async fn principal_policy_operations_work_on_certificates() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    create_policy(&api, "a", &document).await;
    create_policy(&api, "b", &document).await;
    let cert = certificate(&api).await;
    let other = certificate(&api).await;
    api.post("/thing-groups/g", json!({})).await.ok();
    attach(&api, "a", &group_arn("g")).await.ok();
    let header = |principal: &str| [(PRINCIPAL_HEADER, principal.to_owned())];

    for (policy, principal) in [("a", &cert), ("b", &cert), ("a", &other)] {
        let [(name, value)] = header(principal);
        api.call_with(
            Method::PUT,
            &format!("/principal-policies/{policy}"),
            None,
            &[(name, &value)],
        )
        .await
        .ok();
    }
    let list = api
        .call_with(
            Method::GET,
            "/principal-policies",
            None,
            &[(PRINCIPAL_HEADER, &cert)],
        )
        .await
        .ok();
    assert_eq!(names(&list), ["a", "b"]);
    let list = api
        .call_with(
            Method::GET,
            "/principal-policies?isAscendingOrder=false&pageSize=1",
            None,
            &[(PRINCIPAL_HEADER, &cert)],
        )
        .await
        .ok();
    assert_eq!(names(&list), ["b"]);
    let marker = list["nextMarker"].as_str().unwrap();
    let list = api
        .call_with(
            Method::GET,
            &format!(
                "/principal-policies?isAscendingOrder=false&pageSize=1&marker={}",
                percent(marker)
            ),
            None,
            &[(PRINCIPAL_HEADER, &cert)],
        )
        .await
        .ok();
    assert_eq!(names(&list), ["a"]);
    assert!(list.get("nextMarker").is_none());

    // The policy's principals are its certificates, not its groups.
    let principals = api
        .call_with(
            Method::GET,
            "/policy-principals",
            None,
            &[("x-amzn-iot-policy", "a")],
        )
        .await
        .ok();
    let mut expected = vec![cert.clone(), other.clone()];
    expected.sort();
    assert_eq!(principals, json!({ "principals": expected }));
    let first = api
        .call_with(
            Method::GET,
            "/policy-principals?pageSize=1",
            None,
            &[("x-amzn-iot-policy", "a")],
        )
        .await
        .ok();
    assert_eq!(first["principals"], json!([expected[0]]));
    let marker = first["nextMarker"].as_str().unwrap();
    let rest = api
        .call_with(
            Method::GET,
            &format!("/policy-principals?pageSize=1&marker={}", percent(marker)),
            None,
            &[("x-amzn-iot-policy", "a")],
        )
        .await
        .ok();
    assert_eq!(rest["principals"], json!([expected[1]]));
    // The group target after the certificates may take one more (empty) page to pass.
    if let Some(marker) = rest.get("nextMarker") {
        let tail = api
            .call_with(
                Method::GET,
                &format!(
                    "/policy-principals?pageSize=1&marker={}",
                    percent(marker.as_str().unwrap())
                ),
                None,
                &[("x-amzn-iot-policy", "a")],
            )
            .await
            .ok();
        assert_eq!(tail, json!({ "principals": [] }));
    }
    let descending = api
        .call_with(
            Method::GET,
            "/policy-principals?isAscendingOrder=false&pageSize=1",
            None,
            &[("x-amzn-iot-policy", "a")],
        )
        .await
        .ok();
    assert_eq!(descending["principals"], json!([expected[1]]));
    let marker = descending["nextMarker"].as_str().unwrap();
    let rest = api
        .call_with(
            Method::GET,
            &format!(
                "/policy-principals?isAscendingOrder=false&pageSize=1&marker={}",
                percent(marker)
            ),
            None,
            &[("x-amzn-iot-policy", "a")],
        )
        .await
        .ok();
    assert_eq!(rest["principals"], json!([expected[0]]));
    assert!(rest.get("nextMarker").is_none());

    api.call_with(
        Method::DELETE,
        "/principal-policies/a",
        None,
        &[(PRINCIPAL_HEADER, &cert)],
    )
    .await
    .ok();
    assert_eq!(names(&attached(&api, &cert, "").await.ok()), ["b"]);

    // Errors: missing header, a group is no principal, unknown principal or policy.
    api.call(Method::GET, "/principal-policies", None)
        .await
        .error(INVALID_REQUEST);
    api.call(Method::GET, "/policy-principals", None)
        .await
        .error(INVALID_REQUEST);
    api.call_with(
        Method::GET,
        "/policy-principals",
        None,
        &[("x-amzn-iot-policy", "nothing")],
    )
    .await
    .error(NOT_FOUND);
    api.call_with(
        Method::PUT,
        "/principal-policies/a",
        None,
        &[(PRINCIPAL_HEADER, &group_arn("g"))],
    )
    .await
    .error(INVALID_REQUEST);
    let missing = format!("{PREFIX}:cert/{}", "0".repeat(64));
    for method in [Method::PUT, Method::DELETE] {
        api.call_with(
            method.clone(),
            "/principal-policies/a",
            None,
            &[(PRINCIPAL_HEADER, &missing)],
        )
        .await
        .error(NOT_FOUND);
        api.call_with(
            method,
            "/principal-policies/nothing",
            None,
            &[(PRINCIPAL_HEADER, &cert)],
        )
        .await
        .error(NOT_FOUND);
    }
}

// ---------------------------------------------------------------------------------------------
// GetEffectivePolicies and TestAuthorization.

#[tokio::test]
async fn effective_policies_come_from_the_certificate_and_the_thing_groups() {
    let api = TestApi::new().await;
    hierarchy(&api).await;
    let document = allow("iot:Connect", "*");
    for (policy, target) in [
        ("on-root", group_arn("root")),
        ("on-mid", group_arn("mid")),
        ("on-leaf", group_arn("leaf")),
    ] {
        create_policy(&api, policy, &document).await;
        attach(&api, policy, &target).await.ok();
    }
    create_policy(&api, "on-cert", &allow("iot:Publish", "topic/x")).await;
    create_policy(&api, "unattached", &document).await;
    api.post("/thing-groups/elsewhere", json!({})).await.ok();
    create_policy(&api, "on-elsewhere", &document).await;
    attach(&api, "on-elsewhere", &group_arn("elsewhere"))
        .await
        .ok();
    let cert = certificate(&api).await;
    attach(&api, "on-cert", &cert).await.ok();
    api.post("/things/dev1", json!({})).await.ok();
    attach_principal(&api, "dev1", &cert, None).await.ok();
    add_to_group(&api, "dev1", "mid").await.ok();

    let effective = api
        .post(
            "/effective-policies?thingName=dev1",
            json!({ "principal": cert }),
        )
        .await
        .ok();
    let policies = effective["effectivePolicies"].as_array().unwrap();
    let listed: Vec<&str> = policies
        .iter()
        .map(|p| p["policyName"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["on-cert", "on-mid", "on-root"]);
    let on_cert = &policies[0];
    assert_eq!(on_cert["policyArn"], policy_arn("on-cert"));
    assert_eq!(
        on_cert["policyDocument"],
        allow("iot:Publish", "topic/x").as_str()
    );

    // The certificate alone, the thing alone.
    let only_cert = api
        .post("/effective-policies", json!({ "principal": cert }))
        .await
        .ok();
    assert_eq!(names_of_effective(&only_cert), ["on-cert"]);
    let only_thing = api
        .post("/effective-policies?thingName=dev1", json!({}))
        .await
        .ok();
    assert_eq!(names_of_effective(&only_thing), ["on-mid", "on-root"]);

    // Moving the thing deeper brings the leaf's policy; a new default version shows.
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "dev1", "thingGroupsToAdd": ["leaf"], "thingGroupsToRemove": ["mid"]}),
    )
    .await
    .ok();
    let replaced = allow("iot:Subscribe", "topicfilter/y");
    create_version(&api, "on-root", &replaced, true).await.ok();
    let effective = api
        .post(
            "/effective-policies?thingName=dev1",
            json!({ "principal": cert }),
        )
        .await
        .ok();
    assert_eq!(
        names_of_effective(&effective),
        ["on-cert", "on-leaf", "on-mid", "on-root"]
    );
    assert_eq!(
        effective["effectivePolicies"][3]["policyDocument"],
        replaced.as_str()
    );

    // Unknown things and principals, other principals, Cognito.
    api.post("/effective-policies?thingName=ghost", json!({}))
        .await
        .error(NOT_FOUND);
    let missing = format!("{PREFIX}:cert/{}", "0".repeat(64));
    api.post("/effective-policies", json!({ "principal": missing }))
        .await
        .error(NOT_FOUND);
    api.post(
        "/effective-policies",
        json!({ "principal": group_arn("root") }),
    )
    .await
    .error(INVALID_REQUEST);
    api.post(
        "/effective-policies",
        json!({ "cognitoIdentityPoolId": "us-east-1:pool" }),
    )
    .await
    .error(INVALID_REQUEST);
    assert_eq!(
        api.post("/effective-policies", json!({})).await.ok(),
        json!({ "effectivePolicies": [] })
    );
}

fn names_of_effective(body: &Value) -> Vec<String> {
    body["effectivePolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policyName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn test_authorization_with_the_iot_button_policy() {
    let api = TestApi::new().await;
    let serial = "G030JF051234A5BC";
    create_policy(&api, "button", &button_document(serial)).await;
    let cert = certificate(&api).await;
    attach(&api, "button", &cert).await.ok();

    let own = format!("{PREFIX}:topic/iotbutton/{serial}");
    let other = format!("{PREFIX}:topic/iotbutton/OTHER");
    let answer = test_authorization(
        &api,
        Some("button-client"),
        json!({
            "principal": cert,
            "authInfos": [
                {"actionType": "PUBLISH", "resources": [own, other]},
                {"actionType": "SUBSCRIBE", "resources": [format!("{PREFIX}:topicfilter/iotbutton/{serial}")]},
                {"actionType": "CONNECT", "resources": [format!("{PREFIX}:client/button-client")]},
            ],
        }),
    )
    .await
    .ok();
    let results = answer["authResults"].as_array().unwrap();
    assert_eq!(results.len(), 4, "one result per resource");

    assert_eq!(
        results[0]["authInfo"],
        json!({"actionType": "PUBLISH", "resources": [own]})
    );
    assert_eq!(results[0]["authDecision"], "ALLOWED");
    assert_eq!(results[0]["allowed"], policy_refs(&["button"]));
    assert_eq!(results[0]["denied"]["explicitDeny"], policy_refs(&[]));

    assert_eq!(
        results[1]["authInfo"],
        json!({"actionType": "PUBLISH", "resources": [other]})
    );
    for result in &results[1..] {
        assert_eq!(result["authDecision"], "IMPLICIT_DENY", "{result}");
        assert_eq!(result["allowed"], policy_refs(&[]), "{result}");
        assert_eq!(
            result["denied"]["explicitDeny"],
            policy_refs(&[]),
            "{result}"
        );
        assert_eq!(
            result["denied"]["implicitDeny"],
            policy_refs(&["button"]),
            "the policies evaluated: {result}"
        );
    }
    assert_eq!(results[3]["authInfo"]["actionType"], "CONNECT");
    assert!(results[0]["missingContextValues"].is_array());

    // Skipping the policy denies even the button's topic.
    let answer = test_authorization(
        &api,
        None,
        json!({
            "principal": cert,
            "authInfos": [{"actionType": "PUBLISH", "resources": [own]}],
            "policyNamesToSkip": ["button"],
        }),
    )
    .await
    .ok();
    let result = &answer["authResults"][0];
    assert_eq!(result["authDecision"], "IMPLICIT_DENY");
    assert_eq!(result["denied"]["implicitDeny"], policy_refs(&[]));
}

#[tokio::test]
async fn test_authorization_names_the_policies_of_an_explicit_deny() {
    let api = TestApi::new().await;
    create_policy(&api, "allow-all", &allow("iot:*", "*")).await;
    create_policy(
        &api,
        "deny-secret",
        &statement_document("Deny", "iot:Publish", "topic/secret/*"),
    )
    .await;
    create_policy(
        &api,
        "deny-receive",
        &statement_document("Deny", "iot:Receive", "topic/secret/*"),
    )
    .await;
    create_policy(&api, "also-allow", &allow("iot:Publish", "topic/*")).await;
    api.post("/thing-groups/fleet", json!({})).await.ok();
    attach(&api, "deny-secret", &group_arn("fleet")).await.ok();
    let cert = certificate(&api).await;
    attach(&api, "allow-all", &cert).await.ok();
    attach(&api, "deny-receive", &cert).await.ok();
    api.post("/things/dev1", json!({})).await.ok();
    attach_principal(&api, "dev1", &cert, None).await.ok();
    add_to_group(&api, "dev1", "fleet").await.ok();

    let secret = format!("{PREFIX}:topic/secret/plans");
    let open = format!("{PREFIX}:topic/open");
    let body = json!({
        "principal": cert,
        "authInfos": [{"actionType": "PUBLISH", "resources": [secret, open]}],
        "policyNamesToAdd": ["also-allow"],
    });

    // As the thing (client id = thing name, certificate attached): the group's Deny applies.
    let answer = test_authorization(&api, Some("dev1"), body.clone())
        .await
        .ok();
    let denied = &answer["authResults"][0];
    assert_eq!(denied["authDecision"], "EXPLICIT_DENY");
    assert_eq!(
        denied["denied"]["explicitDeny"],
        policy_refs(&["deny-secret"])
    );
    let allowed = &answer["authResults"][1];
    assert_eq!(allowed["authDecision"], "ALLOWED");
    assert_eq!(
        allowed["allowed"],
        policy_refs(&["allow-all", "also-allow"])
    );

    // With another client id the connection does not resolve to the thing: no group policies.
    let answer = test_authorization(&api, Some("someone-else"), body)
        .await
        .ok();
    assert_eq!(answer["authResults"][0]["authDecision"], "ALLOWED");

    // Receive on the secret topic is denied by the certificate's own policy.
    let answer = test_authorization(
        &api,
        Some("dev1"),
        json!({
            "principal": cert,
            "authInfos": [{"actionType": "RECEIVE", "resources": [secret]}],
        }),
    )
    .await
    .ok();
    let result = &answer["authResults"][0];
    assert_eq!(result["authDecision"], "EXPLICIT_DENY");
    assert_eq!(
        result["denied"]["explicitDeny"],
        policy_refs(&["deny-receive"])
    );
    assert_eq!(result["allowed"], policy_refs(&["allow-all"]));
}

#[tokio::test]
async fn test_authorization_validates_its_input() {
    let api = TestApi::new().await;
    create_policy(&api, "p", &allow("iot:Connect", "*")).await;
    let cert = certificate(&api).await;
    let resource = format!("{PREFIX}:client/c");
    let info = json!({"actionType": "CONNECT", "resources": [resource]});

    // Without a principal only the added policies are evaluated.
    let answer = test_authorization(
        &api,
        Some("c"),
        json!({"authInfos": [info], "policyNamesToAdd": ["p"]}),
    )
    .await
    .ok();
    assert_eq!(answer["authResults"][0]["authDecision"], "ALLOWED");

    for body in [
        json!({"principal": cert}),
        json!({"principal": cert, "authInfos": []}),
        json!({"principal": cert, "authInfos": vec![info.clone(); 11]}),
        json!({"principal": cert, "authInfos": [{"actionType": "DELETE", "resources": [resource]}]}),
        json!({"principal": cert, "authInfos": [{"resources": [resource]}]}),
        json!({"principal": cert, "authInfos": [{"actionType": "CONNECT"}]}),
        json!({"principal": cert, "authInfos": [{"actionType": "CONNECT", "resources": ["x".repeat(2049)]}]}),
        json!({"principal": cert, "authInfos": [info], "policyNamesToAdd": ["a b"]}),
        json!({"principal": group_arn("g"), "authInfos": [info]}),
        json!({"cognitoIdentityPoolId": "pool", "authInfos": [info]}),
    ] {
        test_authorization(&api, None, body)
            .await
            .error(INVALID_REQUEST);
    }
    let missing = format!("{PREFIX}:cert/{}", "0".repeat(64));
    test_authorization(
        &api,
        None,
        json!({"principal": missing, "authInfos": [info]}),
    )
    .await
    .error(NOT_FOUND);
    let message = test_authorization(
        &api,
        None,
        json!({"principal": cert, "authInfos": [info], "policyNamesToAdd": ["ghost"]}),
    )
    .await
    .error(NOT_FOUND);
    assert!(message.contains("ghost"), "{message}");
}

#[tokio::test]
async fn thing_policy_variables_resolve_for_the_attached_thing() {
    let api = TestApi::new().await;
    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": format!("{PREFIX}:topic/${{iot:Connection.Thing.ThingName}}/${{iot:Connection.Thing.Attributes[room]}}"),
        }],
    })
    .to_string();
    create_policy(&api, "scoped", &document).await;
    let cert = certificate(&api).await;
    attach(&api, "scoped", &cert).await.ok();
    api.post(
        "/things/lamp",
        json!({"attributePayload": {"attributes": {"room": "kitchen"}}}),
    )
    .await
    .ok();
    let kitchen = format!("{PREFIX}:topic/lamp/kitchen");
    let body = json!({
        "principal": cert,
        "authInfos": [{"actionType": "PUBLISH", "resources": [kitchen]}],
    });

    // Not attached yet: the thing variables do not resolve.
    let answer = test_authorization(&api, Some("lamp"), body.clone())
        .await
        .ok();
    assert_eq!(answer["authResults"][0]["authDecision"], "IMPLICIT_DENY");

    attach_principal(&api, "lamp", &cert, None).await.ok();
    let answer = test_authorization(&api, Some("lamp"), body.clone())
        .await
        .ok();
    assert_eq!(answer["authResults"][0]["authDecision"], "ALLOWED");

    // The attributes are read when asked: a changed room no longer matches.
    api.patch(
        "/things/lamp",
        json!({"attributePayload": {"attributes": {"room": "hall"}}}),
    )
    .await
    .ok();
    let answer = test_authorization(&api, Some("lamp"), body).await.ok();
    assert_eq!(answer["authResults"][0]["authDecision"], "IMPLICIT_DENY");
}

// ---------------------------------------------------------------------------------------------
// Deleting what policies are attached to.

#[tokio::test]
async fn certificates_with_policies_are_deleted_only_by_force() {
    let api = TestApi::new().await;
    create_policy(&api, "p", &allow("iot:Connect", "*")).await;
    let created = create_certificate(&api, false).await;
    let id = created["certificateId"].as_str().unwrap();
    let arn = created["certificateArn"].as_str().unwrap().to_owned();
    attach(&api, "p", &arn).await.ok();
    api.take_changes();

    let message = api
        .delete(&format!("/certificates/{id}"))
        .await
        .error(DELETE_CONFLICT);
    assert_eq!(
        message,
        format!("Certificate policies must be detached before deletion (arn: {arn})")
    );
    assert!(api.take_changes().is_empty());

    api.delete(&format!("/certificates/{id}?forceDelete=true"))
        .await
        .ok();
    assert_eq!(
        api.take_changes(),
        [AuthorizationChange::Target(arn.clone())]
    );
    assert_eq!(
        api.post("/policy-targets/p", json!({})).await.ok(),
        json!({ "targets": [] })
    );
    api.delete("/policies/p").await.ok();
}

#[tokio::test]
async fn deleting_a_thing_group_detaches_its_policies() {
    let api = TestApi::new().await;
    create_policy(&api, "p", &allow("iot:Connect", "*")).await;
    api.post("/thing-groups/g", json!({})).await.ok();
    attach(&api, "p", &group_arn("g")).await.ok();
    api.take_changes();

    api.delete("/thing-groups/g").await.ok();
    assert_eq!(
        api.take_changes(),
        [AuthorizationChange::ThingGroup("g".into())]
    );
    // A group created again with the name has none of them.
    api.post("/thing-groups/g", json!({})).await.ok();
    assert_eq!(
        names(&attached(&api, &group_arn("g"), "").await.ok()),
        Vec::<String>::new()
    );
    api.delete("/policies/p").await.ok();
}

// ---------------------------------------------------------------------------------------------
// Announced changes.

#[tokio::test]
async fn policy_operations_announce_authorization_changes() {
    let api = TestApi::new().await;
    let document = allow("iot:Connect", "*");
    let cert = certificate(&api).await;
    api.post("/thing-groups/g", json!({})).await.ok();
    api.take_changes();
    let policy = |name: &str| AuthorizationChange::Policy(name.into());
    let target = |arn: &str| AuthorizationChange::Target(arn.into());

    create_policy(&api, "p", &document).await;
    assert_eq!(api.take_changes(), [policy("p")]);
    create_version(&api, "p", &document, false).await.ok();
    assert_eq!(api.take_changes(), [], "a version that is not the default");
    create_version(&api, "p", &document, true).await.ok();
    assert_eq!(api.take_changes(), [policy("p")]);
    api.call(Method::PATCH, "/policies/p/version/1", None)
        .await
        .ok();
    assert_eq!(api.take_changes(), [policy("p")]);
    api.delete("/policies/p/version/2").await.ok();
    api.delete("/policies/p/version/3").await.ok();
    assert_eq!(api.take_changes(), [], "versions that are not the default");

    attach(&api, "p", &cert).await.ok();
    attach(&api, "p", &group_arn("g")).await.ok();
    assert_eq!(api.take_changes(), [target(&cert), target(&group_arn("g"))]);
    attach(&api, "p", &cert).await.ok();
    assert_eq!(api.take_changes(), [], "nothing changed");
    detach(&api, "p", &cert).await.ok();
    detach(&api, "p", &group_arn("g")).await.ok();
    assert_eq!(api.take_changes(), [target(&cert), target(&group_arn("g"))]);
    detach(&api, "p", &cert).await.ok();
    assert_eq!(api.take_changes(), [], "nothing changed");

    api.call_with(
        Method::PUT,
        "/principal-policies/p",
        None,
        &[(PRINCIPAL_HEADER, &cert)],
    )
    .await
    .ok();
    assert_eq!(api.take_changes(), [target(&cert)]);
    api.call_with(
        Method::DELETE,
        "/principal-policies/p",
        None,
        &[(PRINCIPAL_HEADER, &cert)],
    )
    .await
    .ok();
    assert_eq!(api.take_changes(), [target(&cert)]);

    api.delete("/policies/p").await.ok();
    assert_eq!(api.take_changes(), [policy("p")]);

    // Failures announce nothing.
    create_version(&api, "p", &document, true)
        .await
        .error(NOT_FOUND);
    api.call(Method::PATCH, "/policies/p/version/1", None)
        .await
        .error(NOT_FOUND);
    assert_eq!(api.take_changes(), []);
}

#[tokio::test]
async fn registry_operations_announce_authorization_changes() {
    let api = TestApi::new().await;
    let cert = certificate(&api).await;
    api.post("/thing-groups/g", json!({})).await.ok();
    api.post("/thing-groups/h", json!({})).await.ok();
    api.take_changes();
    let thing = |name: &str| AuthorizationChange::Thing(name.into());

    api.post("/things/lamp", json!({})).await.ok();
    assert_eq!(api.take_changes(), [thing("lamp")]);
    api.post("/things/lamp", json!({})).await.ok();
    assert_eq!(api.take_changes(), [], "the thing existed already");
    api.patch(
        "/things/lamp",
        json!({"attributePayload": {"attributes": {"room": "hall"}}}),
    )
    .await
    .ok();
    assert_eq!(api.take_changes(), [thing("lamp")]);

    attach_principal(&api, "lamp", &cert, None).await.ok();
    assert_eq!(
        api.take_changes(),
        [thing("lamp"), AuthorizationChange::Target(cert.clone())]
    );
    attach_principal(&api, "lamp", &cert, None).await.ok();
    assert_eq!(api.take_changes(), [], "attached already");
    detach_principal(&api, "lamp", &cert).await.ok();
    assert_eq!(
        api.take_changes(),
        [thing("lamp"), AuthorizationChange::Target(cert.clone())]
    );

    add_to_group(&api, "lamp", "g").await.ok();
    assert_eq!(api.take_changes(), [thing("lamp")]);
    add_to_group(&api, "lamp", "g").await.ok();
    assert_eq!(api.take_changes(), [], "a member already");
    api.put(
        "/thing-groups/updateThingGroupsForThing",
        json!({"thingName": "lamp", "thingGroupsToAdd": ["h"], "thingGroupsToRemove": ["g"]}),
    )
    .await
    .ok();
    assert_eq!(api.take_changes(), [thing("lamp")]);
    api.put(
        "/thing-groups/removeThingFromThingGroup",
        json!({"thingGroupName": "h", "thingName": "lamp"}),
    )
    .await
    .ok();
    assert_eq!(api.take_changes(), [thing("lamp")]);

    api.delete("/things/lamp").await.ok();
    assert_eq!(api.take_changes(), [thing("lamp")]);
    api.delete("/thing-groups/g").await.ok();
    assert_eq!(
        api.take_changes(),
        [AuthorizationChange::ThingGroup("g".into())]
    );

    // Revoking a certificate is a revocation, not an authorization change.
    let id = cert.rsplit('/').next().unwrap();
    set_status(&api, &format!("/certificates/{id}"), "INACTIVE")
        .await
        .ok();
    assert_eq!(api.take_changes(), []);
}

// ---------------------------------------------------------------------------------------------
// `thingd_api::authorization` directly.

#[tokio::test]
async fn resolve_holds_a_requester_to_its_certificate_thing_groups_and_extras() {
    let api = TestApi::new().await;
    hierarchy(&api).await;
    let document = allow("iot:Connect", "*");
    for (policy, target) in [
        ("on-root", group_arn("root")),
        ("on-leaf", group_arn("leaf")),
    ] {
        create_policy(&api, policy, &document).await;
        attach(&api, policy, &target).await.ok();
    }
    create_policy(&api, "on-cert", &document).await;
    create_policy(&api, "anonymous", &document).await;
    let created = create_certificate(&api, true).await;
    let id = created["certificateId"].as_str().unwrap().to_owned();
    let cert = created["certificateArn"].as_str().unwrap().to_owned();
    attach(&api, "on-cert", &cert).await.ok();
    attach(&api, "on-root", &cert).await.ok();
    api.post(
        "/things/dev1",
        json!({"attributePayload": {"attributes": {"room": "hall"}}}),
    )
    .await
    .ok();
    attach_principal(&api, "dev1", &cert, None).await.ok();
    add_to_group(&api, "dev1", "leaf").await.ok();

    let store = api.state.store.as_ref();
    let partition = &api.state.partition;
    let requester = Requester {
        certificate_id: Some(id.to_ascii_uppercase()),
        client_id: Some("dev1".into()),
        source_ip: Some("192.0.2.7".parse().unwrap()),
        connect_attributes: vec!["PersistentConnect".into()],
        last_will_topic: Some("wills/dev1".into()),
        extra_policies: vec!["anonymous".into(), "ghost".into(), "on-cert".into()],
        skip_policies: vec!["on-leaf".into()],
    };
    let resolved = resolve(store, partition, &requester).await.unwrap();
    let names: Vec<&str> = resolved.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["anonymous", "on-cert", "on-root"]);
    assert!(
        resolved
            .policies
            .iter()
            .all(|p| p.arn == policy_arn(&p.name))
    );
    assert_eq!(resolved.thing.as_deref(), Some("dev1"));
    assert_eq!(resolved.groups, ["leaf", "mid", "root"]);
    let context = &resolved.context;
    assert_eq!(context.region, "us-east-1");
    assert_eq!(context.account, "123456789012");
    assert_eq!(context.client_id.as_deref(), Some("dev1"));
    assert_eq!(context.source_ip, requester.source_ip);
    assert_eq!(context.connect_attributes, ["PersistentConnect"]);
    assert_eq!(context.last_will_topic.as_deref(), Some("wills/dev1"));
    let thing = context.thing.as_ref().unwrap();
    assert_eq!(thing.name, "dev1");
    assert_eq!(thing.attributes["room"], "hall");
    let certificate = context.certificate.as_ref().unwrap();
    assert_eq!(certificate.id, id);
    assert!(
        certificate
            .subject
            .contains(&("CommonName".into(), "AWS IoT Certificate".into())),
        "{:?}",
        certificate.subject
    );

    // Another client id: the certificate's policies only.
    let other = Requester {
        certificate_id: Some(id.clone()),
        client_id: Some("not-the-thing".into()),
        ..Requester::default()
    };
    let resolved = resolve(store, partition, &other).await.unwrap();
    let names: Vec<&str> = resolved.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["on-cert", "on-root"]);
    assert_eq!(resolved.thing, None);
    assert!(resolved.groups.is_empty());
    assert!(resolved.context.thing.is_none());

    // No certificate: only the extras; an unknown certificate is no certificate.
    let anonymous = Requester {
        certificate_id: Some("0".repeat(64)),
        client_id: Some("dev1".into()),
        extra_policies: vec!["anonymous".into()],
        ..Requester::default()
    };
    let resolved = resolve(store, partition, &anonymous).await.unwrap();
    let names: Vec<&str> = resolved.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["anonymous"]);
    assert!(resolved.context.certificate.is_none());
    assert!(resolved.thing.is_none());
}

#[test]
fn certificate_context_names_fields_as_aws_does() {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType, SerialNumber};
    let mut params = CertificateParams::new(vec!["device.example".to_owned()]).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, "IoT Devices");
    dn.push(DnType::OrganizationalUnitName, "LightBulb");
    dn.push(DnType::StateOrProvinceName, "NY");
    dn.push(DnType::LocalityName, "Albany");
    dn.push(DnType::CommonName, "LightBulb Device Cert");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 46]), "Bulb001");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), "123");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 12]), "RGB");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 4]), "Multi Color");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 42]), "Bulb");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 43]), "ZZ");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 65]), "RGB Device");
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 44]), "4");
    params.distinguished_name = dn;
    params.subject_alt_names.extend([
        SanType::Rfc822Name("bulb@example.com".try_into().unwrap()),
        SanType::IpAddress("192.0.2.1".parse().unwrap()),
        SanType::IpAddress("2001:db8::1".parse().unwrap()),
        SanType::URI("urn:example:bulb".try_into().unwrap()),
    ]);
    params.serial_number = Some(SerialNumber::from_slice(&[
        0x92, 0x12, 0x85, 0xcb, 0xb7, 0xa5, 0xe0, 0x86,
    ]));
    let key = KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key).unwrap();

    let context = certificate_context("abc", certificate.der());
    assert_eq!(context.id, "abc");
    let subject: Vec<(&str, &str)> = context
        .subject
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for expected in [
        ("Country", "US"),
        ("Organization", "IoT Devices"),
        ("OrganizationalUnit", "LightBulb"),
        ("State", "NY"),
        ("Locality", "Albany"),
        ("CommonName", "LightBulb Device Cert"),
        ("DistinguishedNameQualifier", "Bulb001"),
        ("SerialNumber", "123"),
        ("Title", "RGB"),
        ("Surname", "Multi Color"),
        ("GivenName", "Bulb"),
        ("Initials", "ZZ"),
        ("Pseudonym", "RGB Device"),
        ("GenerationQualifier", "4"),
    ] {
        assert!(subject.contains(&expected), "{expected:?} in {subject:?}");
    }
    assert_eq!(subject.len(), 14);
    assert_eq!(context.issuer, context.subject, "self-signed");
    let sans: Vec<(&str, &str)> = context
        .subject_alternative_names
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        sans,
        [
            ("DNSName", "device.example"),
            ("RFC822Name", "bulb@example.com"),
            ("IPAddress", "192.0.2.1"),
            ("IPAddress", "2001:db8::1"),
            ("UniformResourceIdentifier", "urn:example:bulb"),
        ]
    );
    assert!(context.issuer_alternative_names.is_empty());
    // AWS IoT's documentation: serial 92:12:85:cb:b7:a5:e0:86 is 10525622389124227206.
    assert_eq!(context.serial_number, "10525622389124227206");
    assert!(context.not_before.is_some() && context.not_after.is_some());

    let garbage = certificate_context("id", b"not a certificate");
    assert_eq!(garbage.id, "id");
    assert!(garbage.subject.is_empty() && garbage.serial_number.is_empty());
}
