//! boto3 (botocore's own SigV4 signer, restJson1 parser, modeled exceptions and paginators)
//! against thingd: each scenario of `boto3_scenarios.py` runs in a Python process configured only
//! by the two files in the data directory and prints what every step observed; the checks are
//! here. Error steps are checked for AWS's code, the HTTP status, and that botocore raised the
//! service model's exception class for it.

use std::ffi::OsString;

use serde_json::{Value, json};
use testkit::TestServer;

use crate::support::{
    AwsEnv, AwsError, TestCa, arn, csr, failed, failed_unmodeled, new_key, ok, registration_code,
    sdk, write,
};

const INVALID_REQUEST: AwsError = ("InvalidRequestException", 400);
const NOT_FOUND: AwsError = ("ResourceNotFoundException", 404);
const ALREADY_EXISTS: AwsError = ("ResourceAlreadyExistsException", 409);
const VERSION_CONFLICT: AwsError = ("VersionConflictException", 409);
const CERTIFICATE_STATE: AwsError = ("CertificateStateException", 406);

/// The names of the items of every page of a recorded paginated list.
fn page_names(pages: &Value, key: &str) -> Vec<Vec<String>> {
    pages
        .as_array()
        .unwrap()
        .iter()
        .map(|page| {
            page.as_array()
                .unwrap()
                .iter()
                .map(|item| match item {
                    Value::String(name) => name.clone(),
                    item => item[key].as_str().unwrap().to_owned(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn boto3_things_succeed_and_fail_as_in_aws() {
    let server = TestServer::start().await.unwrap();
    let observed = AwsEnv::of(&server).boto3("things", &[]).await;

    let created = ok(&observed, "create");
    assert_eq!(created["thingArn"], arn("thing", "py-lamp"));
    let id = created["thingId"].as_str().unwrap();
    assert_eq!(ok(&observed, "create_same")["thingId"], id);
    let exists = failed(&observed, "create_other", ALREADY_EXISTS);
    assert_eq!(exists["resourceId"], id);
    assert_eq!(exists["resourceArn"], arn("thing", "py-lamp"));
    let described = ok(&observed, "describe");
    assert_eq!(described["version"], 1);
    assert_eq!(described["attributes"], json!({"color": "red"}));
    ok(&observed, "update");
    failed(&observed, "update_stale", VERSION_CONFLICT);
    let updated = ok(&observed, "describe_updated");
    assert_eq!(updated["version"], 2);
    assert_eq!(
        updated["attributes"],
        json!({"color": "red", "room": "hall"})
    );
    failed(&observed, "describe_missing", NOT_FOUND);
    failed(&observed, "update_missing", NOT_FOUND);
    failed(&observed, "create_bad_name", INVALID_REQUEST);
    failed(&observed, "create_long_name", INVALID_REQUEST);
    failed(&observed, "create_many_attributes", INVALID_REQUEST);
    failed(&observed, "create_missing_type", NOT_FOUND);

    // get_paginator("list_things") with pages of 2 over the 8 things.
    let pages = page_names(&observed["pages"], "thingName");
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 2]);
    let mut expected = vec!["py-lamp".to_owned()];
    expected.extend((0..7).map(|i| format!("py-paged-{i}")));
    expected.sort();
    assert_eq!(pages.concat(), expected);
    failed(&observed, "list_too_many", INVALID_REQUEST);

    failed(&observed, "delete_stale", VERSION_CONFLICT);
    ok(&observed, "delete");
    ok(&observed, "delete_again");
    failed(&observed, "describe_deleted", NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test]
async fn boto3_thing_types_and_thing_groups() {
    let server = TestServer::start().await.unwrap();
    let observed = AwsEnv::of(&server)
        .boto3("thing_types_and_groups", &[])
        .await;

    let created = ok(&observed, "create_type");
    assert_eq!(created["thingTypeArn"], arn("thingtype", "PyLamp"));
    assert_eq!(
        ok(&observed, "create_type_same")["thingTypeId"],
        created["thingTypeId"]
    );
    failed(&observed, "create_type_other", ALREADY_EXISTS);
    failed(&observed, "create_type_bad_name", INVALID_REQUEST);
    let described = ok(&observed, "describe_type");
    assert_eq!(
        described["thingTypeProperties"],
        json!({"thingTypeDescription": "A lamp", "searchableAttributes": ["room"]})
    );
    assert_eq!(described["thingTypeMetadata"]["deprecated"], false);
    ok(&observed, "create_typed_thing");
    failed(&observed, "delete_type_not_deprecated", INVALID_REQUEST);
    ok(&observed, "deprecate");
    let metadata = &ok(&observed, "describe_deprecated")["thingTypeMetadata"];
    assert_eq!(metadata["deprecated"], true);
    assert!(metadata["deprecationDate"].is_string(), "{metadata}");
    failed(&observed, "create_with_deprecated", INVALID_REQUEST);
    failed(&observed, "delete_type_in_use", INVALID_REQUEST);
    ok(&observed, "untype");
    ok(&observed, "delete_type");
    failed(&observed, "describe_deleted_type", NOT_FOUND);

    ok(&observed, "create_root");
    ok(&observed, "create_child");
    failed(&observed, "create_child_other", ALREADY_EXISTS);
    failed(&observed, "create_orphan", INVALID_REQUEST);
    let child = ok(&observed, "describe_child");
    assert_eq!(
        child["thingGroupMetadata"]["parentGroupName"],
        "py-building"
    );
    assert_eq!(
        child["thingGroupMetadata"]["rootToParentThingGroups"],
        json!([{"groupName": "py-building", "groupArn": arn("thinggroup", "py-building")}])
    );
    failed(&observed, "describe_missing_group", NOT_FOUND);
    assert_eq!(ok(&observed, "update_group")["version"], 2);
    failed(&observed, "update_group_stale", VERSION_CONFLICT);
    for thing in ["py-member-a", "py-member-b", "py-member-c"] {
        ok(&observed, &format!("add_{thing}"));
    }
    failed(&observed, "add_same_hierarchy", INVALID_REQUEST);
    failed(&observed, "add_missing_thing", NOT_FOUND);
    assert_eq!(
        page_names(&observed["members_pages"], ""),
        [vec!["py-member-a", "py-member-b"], vec!["py-member-c"]]
    );
    assert_eq!(
        page_names(&observed["members_recursive"], "").concat(),
        ["py-member-a", "py-member-b", "py-member-c"]
    );
    ok(&observed, "remove");
    assert_eq!(
        ok(&observed, "members_after_remove")["things"],
        json!(["py-member-b", "py-member-c"])
    );
    assert_eq!(
        ok(&observed, "groups_of_thing")["thingGroups"],
        json!([{"groupName": "py-floor", "groupArn": arn("thinggroup", "py-floor")}])
    );
    failed(&observed, "delete_parent", INVALID_REQUEST);
    ok(&observed, "delete_child");
    ok(&observed, "delete_parent_after");
    server.shutdown().await;
}

#[tokio::test]
async fn boto3_certificates_principals_and_markers() {
    let server = TestServer::start().await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (key, _) = new_key();
    let csr_path = write(scratch.path(), "device.csr", &csr(&key, "py-device"));
    let observed = AwsEnv::of(&server)
        .boto3("certificates", &[csr_path.into()])
        .await;

    let created = ok(&observed, "create_keys");
    let id = &created["certificateId"].as_str().unwrap().to_owned();
    assert_eq!(created["certificateArn"], arn("cert", id));
    assert!(
        created["keyPair"]["PrivateKey"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let description = &ok(&observed, "describe")["certificateDescription"];
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["certificatePem"], created["certificatePem"]);
    // botocore parsed the epoch-seconds timestamps into datetimes (printed as text).
    assert!(description["creationDate"].is_string(), "{description}");
    let from_csr = ok(&observed, "from_csr");
    let csr_id = &from_csr["certificateId"].as_str().unwrap().to_owned();
    failed(&observed, "from_bad_csr", INVALID_REQUEST);

    // The paginator follows nextMarker: 5 certificates of ours plus the test server's own, in
    // pages of 2, oldest first.
    let pages = page_names(&observed["pages"], "certificateId");
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2]);
    let all = pages.concat();
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "{all:?}");
    for expected in [&server.client.certificate_id, id, csr_id] {
        assert!(all.contains(expected), "{expected} missing from {all:?}");
    }
    assert_eq!(
        observed["manual_pages"],
        json!([[all[0], all[1]], [all[2], all[3]]])
    );
    failed(&observed, "bad_marker", INVALID_REQUEST);

    failed(&observed, "delete_active", CERTIFICATE_STATE);
    ok(&observed, "attach");
    assert_eq!(
        ok(&observed, "thing_principals")["principals"],
        json!([arn("cert", id)])
    );
    assert_eq!(
        ok(&observed, "principal_things")["things"],
        json!(["py-holder"])
    );
    failed(&observed, "attach_missing_thing", NOT_FOUND);
    failed(&observed, "attach_not_a_certificate", INVALID_REQUEST);
    failed(&observed, "delete_thing_attached", INVALID_REQUEST);
    ok(&observed, "deactivate");
    assert_eq!(
        ok(&observed, "describe_inactive")["certificateDescription"]["status"],
        "INACTIVE"
    );
    failed(
        &observed,
        "delete_attached",
        ("DeleteConflictException", 409),
    );
    ok(&observed, "detach");
    assert_eq!(ok(&observed, "principal_things_after")["things"], json!([]));
    ok(&observed, "delete");
    failed(&observed, "describe_deleted", NOT_FOUND);
    failed(&observed, "describe_bad_id", INVALID_REQUEST);
    ok(&observed, "revoke");
    failed(&observed, "reactivate_revoked", CERTIFICATE_STATE);
    failed(&observed, "bad_status", INVALID_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn boto3_ca_certificates_tags_and_endpoint() {
    let server = TestServer::start().await.unwrap();
    let code = registration_code(&sdk(&server)).await;
    let ca = TestCa::new("Py Device CA");
    let (device, _) = ca.issue("py-ca-device");
    let scratch = tempfile::tempdir().unwrap();
    let args: Vec<OsString> = [
        write(scratch.path(), "ca.pem", &ca.pem),
        write(scratch.path(), "verification.pem", &ca.verification(&code)),
        write(scratch.path(), "wrong.pem", &ca.verification("wrong-code")),
        write(scratch.path(), "device.pem", &device),
    ]
    .into_iter()
    .map(Into::into)
    .collect();
    let observed = AwsEnv::of(&server)
        .boto3("cas_tags_and_endpoint", &args)
        .await;

    assert_eq!(ok(&observed, "registration_code")["registrationCode"], code);
    failed(
        &observed,
        "register_ca_wrong_code",
        ("RegistrationCodeValidationException", 400),
    );
    failed(
        &observed,
        "register_device_before_ca",
        ("CertificateValidationException", 400),
    );
    let ca_id = ok(&observed, "register_ca")["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    let ca_arn = arn("cacert", &ca_id);
    assert_eq!(ok(&observed, "register_ca")["certificateArn"], ca_arn);
    failed(&observed, "register_ca_again", ALREADY_EXISTS);
    let description = &ok(&observed, "describe_ca")["certificateDescription"];
    assert_eq!(description["status"], "ACTIVE");
    assert_eq!(description["certificatePem"], ca.pem);
    let listed = &ok(&observed, "list_cas")["certificates"];
    assert_eq!(listed[0]["certificateId"], ca_id.as_str());
    let device_id = ok(&observed, "register_device")["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    failed(&observed, "register_device_again", ALREADY_EXISTS);
    assert_eq!(
        ok(&observed, "by_ca")["certificates"][0]["certificateId"],
        device_id
    );
    assert_eq!(
        ok(&observed, "ca_tags")["tags"],
        json!([{"Key": "vendor", "Value": "acme"}])
    );
    ok(&observed, "tag");
    ok(&observed, "untag");
    assert_eq!(
        ok(&observed, "tags_after")["tags"],
        json!([{"Key": "site", "Value": "lyon"}])
    );
    failed(&observed, "tag_missing", NOT_FOUND);
    failed(&observed, "tag_reserved", INVALID_REQUEST);
    failed(&observed, "delete_active_ca", CERTIFICATE_STATE);
    ok(&observed, "deactivate_ca");
    assert_eq!(
        ok(&observed, "describe_inactive_ca")["certificateDescription"]["status"],
        "INACTIVE"
    );
    ok(&observed, "delete_ca");
    failed(&observed, "describe_deleted_ca", NOT_FOUND);
    assert_eq!(ok(&observed, "endpoint")["endpointAddress"], "localhost");
    assert_eq!(
        ok(&observed, "endpoint_ats")["endpointAddress"],
        "localhost"
    );
    failed(&observed, "endpoint_bad", INVALID_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn boto3_tampered_unknown_and_stale_requests_are_refused() {
    let server = TestServer::start().await.unwrap();
    let observed = AwsEnv::of(&server).boto3("refused_requests", &[]).await;

    ok(&observed, "good");
    // Authentication errors are not in IoT's service model: botocore raises a plain
    // ClientError with AWS's code. (step, error, how its message starts)
    let bad_signature = ("InvalidSignatureException", 403);
    let skewed = ("InvalidSignatureException", 400);
    for (step, error, message) in [
        (
            "tampered_signature",
            bad_signature,
            "The request signature we calculated does not match",
        ),
        ("tampered_body", bad_signature, ""),
        ("unknown_key", ("UnrecognizedClientException", 403), ""),
        ("wrong_secret", bad_signature, ""),
        ("twenty_minutes_ago", skewed, "Signature expired:"),
        ("twenty_minutes_ahead", skewed, "Signature not yet current:"),
    ] {
        let raised = failed_unmodeled(&observed, step, error);
        let text = raised["message"].as_str().unwrap();
        assert!(text.starts_with(message), "step {step}: {text}");
    }
    failed(&observed, "tampered_body_created", NOT_FOUND);
    ok(&observed, "ten_minutes_ago");
    // None of them was retried: botocore retries throttling and server errors, not these.
    for step in ["tampered_signature", "unknown_key", "twenty_minutes_ago"] {
        assert_eq!(observed[step]["error"]["retries"], 0, "{step}");
    }
    server.shutdown().await;
}
