//! The AWS SDK for Rust (aws-sdk-iot, real SigV4 signing, its own HTTP client and paginators)
//! against thingd's control plane: each family's operations succeed, and their main errors
//! reach the SDK as the typed exceptions of the service model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_iot::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_iot::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_iot::error::BoxError;
use aws_sdk_iot::operation::create_thing::CreateThingError;
use aws_sdk_iot::types::{
    AttributePayload, CertificateStatus, ThingGroupProperties, ThingPrincipalType,
    ThingTypeProperties,
};
use testkit::TestServer;

use crate::support::{
    arn, assert_code, assert_error, attributes, certificate_from_csr, certificate_status,
    create_active_certificate, describe_certificate, new_key, sdk, sdk_with_key, server_with_sdk,
    service_error, set_certificate_status, tag, tags_of,
};

/// Every item of a list request, through its paginator (which follows `nextToken` or
/// `nextMarker` to the end).
macro_rules! all_items {
    ($request:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
    };
}

#[tokio::test]
async fn sdk_things_create_describe_update_delete_and_their_errors() {
    let (server, iot) = server_with_sdk().await;
    let create = |color: &str| {
        iot.create_thing()
            .thing_name("sdk-lamp")
            .attribute_payload(attributes(&[("color", color)]))
            .send()
    };
    let describe = |name: &str| iot.describe_thing().thing_name(name).send();

    let created = create("red").await.unwrap();
    assert_eq!(created.thing_name(), Some("sdk-lamp"));
    assert_eq!(created.thing_arn(), Some(arn("thing", "sdk-lamp").as_str()));
    let id = created.thing_id().unwrap().to_owned();
    assert!(!id.is_empty());

    // The same create again is idempotent; with other attributes it is a conflict, and the
    // exception carries the existing thing's id and ARN as the model has them.
    let again = create("red").await.unwrap();
    assert_eq!(again.thing_id(), Some(id.as_str()));
    let error = service_error(create("blue").await, 409);
    let CreateThingError::ResourceAlreadyExistsException(exists) = &error else {
        panic!("expected ResourceAlreadyExistsException, got {error:?}");
    };
    assert_eq!(exists.resource_id(), Some(id.as_str()));
    assert_eq!(
        exists.resource_arn(),
        Some(arn("thing", "sdk-lamp").as_str())
    );

    let described = describe("sdk-lamp").await.unwrap();
    assert_eq!(described.thing_id(), Some(id.as_str()));
    assert_eq!(described.default_client_id(), Some("sdk-lamp"));
    assert_eq!(described.version(), 1);
    assert_eq!(
        described.attributes(),
        Some(&HashMap::from([("color".to_owned(), "red".to_owned())]))
    );

    // Optimistic concurrency: the expected version must be the current one.
    iot.update_thing()
        .thing_name("sdk-lamp")
        .expected_version(1)
        .attribute_payload(
            AttributePayload::builder()
                .attributes("room", "hall")
                .merge(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_error!(
        iot.update_thing()
            .thing_name("sdk-lamp")
            .expected_version(1)
            .attribute_payload(attributes(&[("color", "green")]))
            .send()
            .await,
        409,
        is_version_conflict_exception
    );
    let described = describe("sdk-lamp").await.unwrap();
    assert_eq!(described.version(), 2);
    assert_eq!(
        described.attributes(),
        Some(&HashMap::from([
            ("color".to_owned(), "red".to_owned()),
            ("room".to_owned(), "hall".to_owned()),
        ]))
    );

    // Not found, invalid names and sizes.
    assert_error!(
        describe("no-such-thing").await,
        404,
        is_resource_not_found_exception
    );
    assert_error!(
        iot.update_thing()
            .thing_name("no-such-thing")
            .attribute_payload(attributes(&[("a", "b")]))
            .send()
            .await,
        404,
        is_resource_not_found_exception
    );
    let long_value = "v".repeat(801);
    for (name, payload) in [
        ("bad name", None),
        ("semi;colon", None),
        ("x".repeat(129).as_str(), None),
        (
            "too-many-attributes",
            Some(attributes(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
            ])),
        ),
        ("long-value", Some(attributes(&[("a", &long_value)]))),
    ] {
        assert_error!(
            iot.create_thing()
                .thing_name(name)
                .set_attribute_payload(payload)
                .send()
                .await,
            400,
            is_invalid_request_exception,
            name
        );
    }
    assert_error!(
        iot.create_thing()
            .thing_name("typed")
            .thing_type_name("no-such-type")
            .send()
            .await,
        404,
        is_resource_not_found_exception
    );

    // Delete: the expected version is checked; deleting what does not exist succeeds.
    let delete = |version: Option<i64>| {
        iot.delete_thing()
            .thing_name("sdk-lamp")
            .set_expected_version(version)
            .send()
    };
    assert_error!(delete(Some(1)).await, 409, is_version_conflict_exception);
    delete(Some(2)).await.unwrap();
    delete(None).await.unwrap();
    assert_error!(
        describe("sdk-lamp").await,
        404,
        is_resource_not_found_exception
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_list_things_pages_through_the_paginator() {
    let (server, iot) = server_with_sdk().await;
    let mut names = Vec::new();
    for i in 0..7 {
        let name = format!("paged-{i}");
        let floor = if i % 2 == 0 { "even" } else { "odd" };
        iot.create_thing()
            .thing_name(&name)
            .attribute_payload(attributes(&[("floor", floor)]))
            .send()
            .await
            .unwrap();
        names.push(name);
    }
    let thing_names = |things: Vec<aws_sdk_iot::types::ThingAttribute>| -> Vec<String> {
        things
            .iter()
            .map(|thing| thing.thing_name().unwrap().to_owned())
            .collect()
    };

    // Pages of 2: the paginator follows nextToken to the end.
    let pages = iot
        .list_things()
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 4, "{pages:?}");
    assert!(pages[..3].iter().all(|p| p.things().len() == 2));
    assert!(pages[3].next_token().is_none());
    let listed = thing_names(all_items!(iot.list_things().max_results(2)));
    assert_eq!(listed, names);

    // Filtered by an attribute.
    let odd = thing_names(all_items!(
        iot.list_things()
            .attribute_name("floor")
            .attribute_value("odd")
    ));
    assert_eq!(odd, ["paged-1", "paged-3", "paged-5"]);

    // A page size out of the model's range [1, 250] (the SDK does not check it).
    assert_error!(
        iot.list_things().max_results(251).send().await,
        400,
        is_invalid_request_exception
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_thing_types_create_deprecate_and_delete() {
    let (server, iot) = server_with_sdk().await;
    let describe = || iot.describe_thing_type().thing_type_name("Lamp").send();
    let deprecate = || iot.deprecate_thing_type().thing_type_name("Lamp").send();
    let delete = || iot.delete_thing_type().thing_type_name("Lamp").send();
    let create_lamp = |name: &str| {
        iot.create_thing()
            .thing_name(name)
            .thing_type_name("Lamp")
            .send()
    };
    let properties = ThingTypeProperties::builder()
        .thing_type_description("A lamp")
        .searchable_attributes("room")
        .build();
    let created = iot
        .create_thing_type()
        .thing_type_name("Lamp")
        .thing_type_properties(properties.clone())
        .tags(tag("team", "lighting"))
        .send()
        .await
        .unwrap();
    let type_arn = arn("thingtype", "Lamp");
    assert_eq!(created.thing_type_arn(), Some(type_arn.as_str()));
    let again = iot
        .create_thing_type()
        .thing_type_name("Lamp")
        .thing_type_properties(properties)
        .send()
        .await
        .unwrap();
    assert_eq!(again.thing_type_id(), created.thing_type_id());
    assert_error!(
        iot.create_thing_type()
            .thing_type_name("Lamp")
            .thing_type_properties(
                ThingTypeProperties::builder()
                    .thing_type_description("Another lamp")
                    .build(),
            )
            .send()
            .await,
        409,
        is_resource_already_exists_exception
    );
    assert_error!(
        iot.create_thing_type()
            .thing_type_name("Bad/Type")
            .send()
            .await,
        400,
        is_invalid_request_exception
    );

    let described = describe().await.unwrap();
    let props = described.thing_type_properties().unwrap();
    assert_eq!(props.thing_type_description(), Some("A lamp"));
    assert_eq!(props.searchable_attributes(), ["room"]);
    assert!(!described.thing_type_metadata().unwrap().deprecated());
    let tags = tags_of(&iot, &type_arn).await;
    assert_eq!(tags, [tag("team", "lighting")]);

    // A thing of that type; then the type is deprecated: no new things may use it, and it can
    // be deleted only once no thing has it.
    create_lamp("lamp-1").await.unwrap();
    assert_error!(
        delete().await,
        400,
        is_invalid_request_exception,
        "not deprecated"
    );
    deprecate().await.unwrap();
    let metadata = describe()
        .await
        .unwrap()
        .thing_type_metadata()
        .cloned()
        .unwrap();
    assert!(metadata.deprecated());
    assert!(metadata.deprecation_date().is_some());
    assert_error!(
        create_lamp("lamp-2").await,
        400,
        is_invalid_request_exception,
        "deprecated"
    );
    assert_error!(delete().await, 400, is_invalid_request_exception, "in use");

    // Undo, deprecate again, free the thing of its type, delete.
    iot.deprecate_thing_type()
        .thing_type_name("Lamp")
        .undo_deprecate(true)
        .send()
        .await
        .unwrap();
    create_lamp("lamp-2").await.unwrap();
    deprecate().await.unwrap();
    for thing in ["lamp-1", "lamp-2"] {
        iot.update_thing()
            .thing_name(thing)
            .remove_thing_type(true)
            .send()
            .await
            .unwrap();
    }
    delete().await.unwrap();
    assert_error!(describe().await, 404, is_resource_not_found_exception);
    assert_error!(deprecate().await, 404, is_resource_not_found_exception);
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_thing_groups_hierarchy_and_membership() {
    let (server, iot) = server_with_sdk().await;
    let floor_1 = |description: &str| {
        iot.create_thing_group()
            .thing_group_name("floor-1")
            .parent_group_name("building")
            .thing_group_properties(
                ThingGroupProperties::builder()
                    .thing_group_description(description)
                    .build(),
            )
    };
    let add = |group: &str, thing: &str| {
        iot.add_thing_to_thing_group()
            .thing_group_name(group)
            .thing_name(thing)
            .send()
    };
    let delete = |group: &str| iot.delete_thing_group().thing_group_name(group);
    let group_names = |groups: &[aws_sdk_iot::types::GroupNameAndArn]| -> Vec<String> {
        groups
            .iter()
            .map(|g| g.group_name().unwrap().to_owned())
            .collect()
    };
    iot.create_thing_group()
        .thing_group_name("building")
        .send()
        .await
        .unwrap();
    let floor = floor_1("First floor")
        .tags(tag("site", "paris"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        floor.thing_group_arn(),
        Some(arn("thinggroup", "floor-1").as_str())
    );
    assert_error!(
        floor_1("Ground floor").send().await,
        409,
        is_resource_already_exists_exception
    );
    assert_error!(
        iot.create_thing_group()
            .thing_group_name("orphan")
            .parent_group_name("no-such-group")
            .send()
            .await,
        400,
        is_invalid_request_exception
    );

    let described = iot
        .describe_thing_group()
        .thing_group_name("floor-1")
        .send()
        .await
        .unwrap();
    let metadata = described.thing_group_metadata().unwrap();
    assert_eq!(metadata.parent_group_name(), Some("building"));
    assert_eq!(
        group_names(metadata.root_to_parent_thing_groups()),
        ["building"]
    );
    assert_eq!(described.version(), 1);

    // Versions of groups, like things'.
    let updated = iot
        .update_thing_group()
        .thing_group_name("floor-1")
        .thing_group_properties(
            ThingGroupProperties::builder()
                .thing_group_description("Floor one")
                .build(),
        )
        .expected_version(1)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.version(), 2);
    assert_error!(
        iot.update_thing_group()
            .thing_group_name("floor-1")
            .thing_group_properties(ThingGroupProperties::builder().build())
            .expected_version(1)
            .send()
            .await,
        409,
        is_version_conflict_exception
    );

    // Membership.
    for thing in ["lamp-a", "lamp-b"] {
        iot.create_thing().thing_name(thing).send().await.unwrap();
        add("floor-1", thing).await.unwrap();
    }
    let members = |group: &'static str, recursive: bool| {
        let iot = iot.clone();
        async move {
            all_items!(
                iot.list_things_in_thing_group()
                    .thing_group_name(group)
                    .recursive(recursive)
                    .max_results(1)
            )
        }
    };
    assert_eq!(members("floor-1", false).await, ["lamp-a", "lamp-b"]);
    assert!(members("building", false).await.is_empty());
    assert_eq!(members("building", true).await, ["lamp-a", "lamp-b"]);
    let groups = iot
        .list_thing_groups_for_thing()
        .thing_name("lamp-a")
        .send()
        .await
        .unwrap();
    assert_eq!(group_names(groups.thing_groups()), ["floor-1"]);
    // One group per hierarchy for a thing.
    assert_error!(
        add("building", "lamp-a").await,
        400,
        is_invalid_request_exception
    );
    assert_error!(
        add("floor-1", "no-such-thing").await,
        404,
        is_resource_not_found_exception
    );
    iot.remove_thing_from_thing_group()
        .thing_group_name("floor-1")
        .thing_name("lamp-a")
        .send()
        .await
        .unwrap();
    assert_eq!(members("floor-1", false).await, ["lamp-b"]);

    // A group with children cannot be deleted; its children can, then it can.
    assert_error!(
        delete("building").send().await,
        400,
        is_invalid_request_exception
    );
    assert_error!(
        delete("floor-1").expected_version(1).send().await,
        409,
        is_version_conflict_exception
    );
    delete("floor-1").send().await.unwrap();
    delete("building").send().await.unwrap();
    assert_error!(
        iot.describe_thing_group()
            .thing_group_name("building")
            .send()
            .await,
        404,
        is_resource_not_found_exception
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_certificates_keys_csr_describe_list_update_and_delete() {
    let (server, iot) = server_with_sdk().await;

    let created = create_active_certificate(&iot).await;
    let id = created.certificate_id().unwrap().to_owned();
    assert_eq!(id.len(), 64);
    assert_eq!(created.certificate_arn(), Some(arn("cert", &id).as_str()));
    let key_pair = created.key_pair().unwrap();
    assert!(
        key_pair.private_key().unwrap().contains("PRIVATE KEY-----"),
        "{key_pair:?}"
    );
    assert!(key_pair.public_key().unwrap().contains("PUBLIC KEY-----"));
    let description = describe_certificate(&iot, &id).await;
    assert_eq!(description.status(), Some(&CertificateStatus::Active));
    assert_eq!(description.certificate_pem(), created.certificate_pem());
    assert_eq!(description.owned_by(), Some(crate::support::ACCOUNT));
    assert!(description.creation_date().is_some());
    let validity = description.validity().unwrap();
    assert!(validity.not_before().unwrap() < validity.not_after().unwrap());

    // From a CSR: the certificate is for the CSR's key.
    let (key, _) = new_key();
    let from_csr = certificate_from_csr(&iot, &key, "csr-device").await;
    let csr_id = from_csr.certificate_id().unwrap().to_owned();
    let pem = from_csr.certificate_pem().unwrap();
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let certificate = block.parse_x509().unwrap();
    assert_eq!(
        certificate.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key).as_slice()
    );
    assert_eq!(
        certificate_status(&iot, &csr_id).await,
        Some(CertificateStatus::Inactive),
        "setAsActive defaults to false"
    );
    assert_error!(
        iot.create_certificate_from_csr()
            .certificate_signing_request(
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            )
            .send()
            .await,
        400,
        is_invalid_request_exception
    );

    // ListCertificates in pages of 2 through the paginator (markers), oldest first, and newest
    // first (the default): the same certificates in the opposite order.
    let mut ids = vec![id.clone(), csr_id.clone()];
    for _ in 0..3 {
        let more = iot.create_keys_and_certificate().send().await.unwrap();
        ids.push(more.certificate_id().unwrap().to_owned());
    }
    let list = |ascending: bool| {
        let iot = iot.clone();
        async move {
            all_items!(
                iot.list_certificates()
                    .page_size(2)
                    .ascending_order(ascending)
            )
        }
    };
    let ascending = list(true).await;
    let dates: Vec<_> = ascending
        .iter()
        .map(|c| c.creation_date().unwrap().as_nanos())
        .collect();
    assert!(dates.is_sorted(), "{ascending:?}");
    let certificate_ids = |listed: &[aws_sdk_iot::types::Certificate]| -> Vec<String> {
        listed
            .iter()
            .map(|c| c.certificate_id().unwrap().to_owned())
            .collect()
    };
    let listed = certificate_ids(&ascending);
    // The test server's own client certificate is registered too.
    let mut expected = ids;
    expected.push(server.client.certificate_id.clone());
    expected.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    let mut descending = certificate_ids(&list(false).await);
    descending.reverse();
    assert_eq!(descending, listed);
    let one = iot.list_certificates().page_size(1).send().await.unwrap();
    assert_eq!(one.certificates().len(), 1);
    assert!(one.next_marker().is_some());

    // Delete conflicts: an ACTIVE certificate, then one attached to a thing.
    let delete = || iot.delete_certificate().certificate_id(&id).send();
    assert_error!(delete().await, 406, is_certificate_state_exception);
    iot.create_thing()
        .thing_name("holder")
        .send()
        .await
        .unwrap();
    iot.attach_thing_principal()
        .thing_name("holder")
        .principal(arn("cert", &id))
        .send()
        .await
        .unwrap();
    set_certificate_status(&iot, &id, CertificateStatus::Inactive).await;
    assert_error!(delete().await, 409, is_delete_conflict_exception);
    iot.detach_thing_principal()
        .thing_name("holder")
        .principal(arn("cert", &id))
        .send()
        .await
        .unwrap();
    delete().await.unwrap();
    assert_error!(
        iot.describe_certificate().certificate_id(&id).send().await,
        404,
        is_resource_not_found_exception
    );
    assert_error!(delete().await, 404, is_resource_not_found_exception);

    // REVOKED is final; ids must be 64 hex digits.
    set_certificate_status(&iot, &csr_id, CertificateStatus::Revoked).await;
    assert_error!(
        iot.update_certificate()
            .certificate_id(&csr_id)
            .new_status(CertificateStatus::Active)
            .send()
            .await,
        406,
        is_certificate_state_exception
    );
    assert_error!(
        iot.describe_certificate()
            .certificate_id("not-a-certificate-id")
            .send()
            .await,
        400,
        is_invalid_request_exception
    );
    assert_error!(
        iot.update_certificate()
            .certificate_id("0".repeat(64))
            .new_status(CertificateStatus::Inactive)
            .send()
            .await,
        404,
        is_resource_not_found_exception
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_principals_attach_list_and_detach() {
    let (server, iot) = server_with_sdk().await;
    let certificate = create_active_certificate(&iot).await;
    let principal = certificate.certificate_arn().unwrap().to_owned();
    let attach = |thing: &str, principal: &str| {
        iot.attach_thing_principal()
            .thing_name(thing)
            .principal(principal)
    };
    let things_of_principal = || iot.list_principal_things().principal(&principal).send();
    for thing in ["door", "window"] {
        iot.create_thing().thing_name(thing).send().await.unwrap();
    }
    attach("door", &principal).send().await.unwrap();
    // Attaching again is idempotent.
    attach("door", &principal).send().await.unwrap();
    let principals = iot
        .list_thing_principals()
        .thing_name("door")
        .send()
        .await
        .unwrap();
    assert_eq!(principals.principals(), std::slice::from_ref(&principal));
    let things = things_of_principal().await.unwrap();
    assert_eq!(things.things(), ["door"]);

    // Exclusive attachment: not while attached elsewhere.
    assert_error!(
        attach("window", &principal)
            .thing_principal_type(ThingPrincipalType::ExclusiveThing)
            .send()
            .await,
        400,
        is_invalid_request_exception
    );
    attach("window", &principal).send().await.unwrap();
    let v2 = iot
        .list_thing_principals_v2()
        .thing_name("window")
        .send()
        .await
        .unwrap();
    let objects = v2.thing_principal_objects();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].principal(), principal);
    assert_eq!(
        objects[0].thing_principal_type(),
        Some(&ThingPrincipalType::NonExclusiveThing)
    );

    // Errors: a thing or certificate that does not exist, a principal that is no certificate.
    assert_error!(
        attach("no-such-thing", &principal).send().await,
        404,
        is_resource_not_found_exception
    );
    assert_error!(
        attach("door", &arn("cert", &"a".repeat(64))).send().await,
        404,
        is_resource_not_found_exception
    );
    assert_error!(
        attach("door", "arn:aws:iam::000000000000:user/alice")
            .send()
            .await,
        400,
        is_invalid_request_exception
    );
    assert_error!(
        iot.list_thing_principals()
            .thing_name("no-such-thing")
            .send()
            .await,
        404,
        is_resource_not_found_exception
    );
    // A thing with a principal cannot be deleted.
    assert_error!(
        iot.delete_thing().thing_name("door").send().await,
        400,
        is_invalid_request_exception
    );

    for thing in ["door", "window"] {
        iot.detach_thing_principal()
            .thing_name(thing)
            .principal(&principal)
            .send()
            .await
            .unwrap();
    }
    let things = things_of_principal().await.unwrap();
    assert!(things.things().is_empty());
    iot.delete_thing().thing_name("door").send().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_tags_and_describe_endpoint() {
    let (server, iot) = server_with_sdk().await;
    iot.create_thing_group()
        .thing_group_name("tagged")
        .send()
        .await
        .unwrap();
    let group = arn("thinggroup", "tagged");
    iot.tag_resource()
        .resource_arn(&group)
        .tags(tag("env", "test"))
        .tags(tag("owner", "ops"))
        .send()
        .await
        .unwrap();
    iot.untag_resource()
        .resource_arn(&group)
        .tag_keys("owner")
        .send()
        .await
        .unwrap();
    let tags = tags_of(&iot, &group).await;
    assert_eq!(tags, [tag("env", "test")]);
    assert_error!(
        iot.tag_resource()
            .resource_arn(arn("thinggroup", "no-such-group"))
            .tags(tag("a", "b"))
            .send()
            .await,
        404,
        is_resource_not_found_exception
    );
    assert_error!(
        iot.tag_resource()
            .resource_arn(&group)
            .tags(tag(&"k".repeat(129), "v"))
            .send()
            .await,
        400,
        is_invalid_request_exception
    );
    let mut too_many = iot.tag_resource().resource_arn(&group);
    for i in 0..50 {
        too_many = too_many.tags(tag(&format!("key-{i}"), "v"));
    }
    assert_error!(too_many.send().await, 410, is_limit_exceeded_exception);

    let endpoint = |endpoint_type: Option<&str>| {
        iot.describe_endpoint()
            .set_endpoint_type(endpoint_type.map(str::to_owned))
            .send()
    };
    for endpoint_type in [None, Some("iot:Data-ATS")] {
        let answer = endpoint(endpoint_type).await.unwrap();
        assert_eq!(
            answer.endpoint_address(),
            Some("localhost"),
            "{endpoint_type:?}"
        );
    }
    assert_error!(
        endpoint(Some("iot:Nothing")).await,
        400,
        is_invalid_request_exception
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_requests_with_wrong_credentials_are_refused() {
    let server = TestServer::start().await.unwrap();
    let key = server.admin_key();

    let unknown = sdk_with_key(&server, "AKIAUNKNOWNUNKNOWN00", &key.secret_access_key);
    let error = service_error(unknown.list_things().send().await, 403);
    assert_code(&error, "UnrecognizedClientException");

    let wrong_secret = sdk_with_key(&server, &key.access_key_id, "not-the-secret");
    let error = service_error(wrong_secret.list_things().send().await, 403);
    assert_code(&error, "InvalidSignatureException");
    let error = service_error(
        wrong_secret
            .create_thing()
            .thing_name("never-created")
            .send()
            .await,
        403,
    );
    assert_code(&error, "InvalidSignatureException");
    assert_error!(
        sdk(&server)
            .describe_thing()
            .thing_name("never-created")
            .send()
            .await,
        404,
        is_resource_not_found_exception
    );
    server.shutdown().await;
}

/// A clock `offset` away from the real one.
#[derive(Debug)]
struct SkewedClock {
    ahead: bool,
    offset: Duration,
}

impl aws_smithy_async::time::TimeSource for SkewedClock {
    fn now(&self) -> SystemTime {
        if self.ahead {
            SystemTime::now() + self.offset
        } else {
            SystemTime::now() - self.offset
        }
    }
}

/// Records the HTTP status of every attempt the SDK makes.
#[derive(Clone, Debug, Default)]
struct Attempts(Arc<Mutex<Vec<u16>>>);

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "Attempts"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0
            .lock()
            .unwrap()
            .push(context.response().status().as_u16());
        Ok(())
    }
}

/// A client whose clock is 20 minutes off is refused ("Signature expired" / "not yet
/// current", outside the 15 minutes allowed); the SDK then measures the skew from the refusal's
/// `Date` header and signs its retry, and its later requests, with the server's time.
#[tokio::test]
async fn sdk_requests_signed_20_minutes_off_are_refused_then_corrected_by_the_sdk() {
    let server = TestServer::start().await.unwrap();
    for ahead in [false, true] {
        let attempts = Attempts::default();
        let config = sdk(&server)
            .config()
            .to_builder()
            .time_source(SkewedClock {
                ahead,
                offset: Duration::from_secs(20 * 60),
            })
            .interceptor(attempts.clone())
            .build();
        let skewed = aws_sdk_iot::Client::from_conf(config);
        skewed.list_things().send().await.unwrap();
        assert_eq!(
            *attempts.0.lock().unwrap(),
            [400, 200],
            "refused, then corrected (ahead: {ahead})"
        );
        skewed
            .create_thing()
            .thing_name(format!("skewed-{ahead}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            *attempts.0.lock().unwrap(),
            [400, 200, 200],
            "the client keeps the correction (ahead: {ahead})"
        );
    }
    server.shutdown().await;
}

/// Names may hold `:` (AWS's pattern `[a-zA-Z0-9:_-]+`) and attribute values `/=@#[],.:`: the
/// SDK percent-encodes them in paths and queries and signs the encoded form (paths encoded
/// twice in the canonical request, as SigV4 does for every service but S3); thingd must read
/// and verify the same.
#[tokio::test]
async fn sdk_names_and_values_with_reserved_characters() {
    let (server, iot) = server_with_sdk().await;
    let value = "a/b=c@d#e[1],x.y:z";
    iot.create_thing()
        .thing_name("urn:lamp:1")
        .attribute_payload(attributes(&[("path", value)]))
        .send()
        .await
        .unwrap();
    let described = iot
        .describe_thing()
        .thing_name("urn:lamp:1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.thing_arn(),
        Some(arn("thing", "urn:lamp:1").as_str())
    );
    let listed = iot
        .list_things()
        .attribute_name("path")
        .attribute_value(value)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.things().len(), 1);
    assert_eq!(listed.things()[0].thing_name(), Some("urn:lamp:1"));
    let prefixed = iot
        .list_things()
        .attribute_name("path")
        .attribute_value("a/b=")
        .use_prefix_attribute_value(true)
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.things().len(), 1);

    iot.create_thing_type()
        .thing_type_name("type:1")
        .send()
        .await
        .unwrap();
    iot.create_thing_group()
        .thing_group_name("group:1")
        .send()
        .await
        .unwrap();
    iot.add_thing_to_thing_group()
        .thing_group_arn(arn("thinggroup", "group:1"))
        .thing_arn(arn("thing", "urn:lamp:1"))
        .send()
        .await
        .unwrap();
    let members = iot
        .list_things_in_thing_group()
        .thing_group_name("group:1")
        .send()
        .await
        .unwrap();
    assert_eq!(members.things(), ["urn:lamp:1"]);
    let group_arn = arn("thinggroup", "group:1");
    iot.tag_resource()
        .resource_arn(&group_arn)
        .tags(tag("clé à molette", "valeur/with spaces & symbols=?"))
        .send()
        .await
        .unwrap();
    let tags = tags_of(&iot, &group_arn).await;
    assert_eq!(
        tags,
        [tag("clé à molette", "valeur/with spaces & symbols=?")]
    );
    iot.untag_resource()
        .resource_arn(&group_arn)
        .tag_keys("clé à molette")
        .send()
        .await
        .unwrap();
    let certificate = create_active_certificate(&iot).await;
    let principal = certificate.certificate_arn().unwrap();
    iot.attach_thing_principal()
        .thing_name("urn:lamp:1")
        .principal(principal)
        .send()
        .await
        .unwrap();
    let things = iot
        .list_principal_things()
        .principal(principal)
        .send()
        .await
        .unwrap();
    assert_eq!(things.things(), ["urn:lamp:1"]);
    iot.detach_thing_principal()
        .thing_name("urn:lamp:1")
        .principal(principal)
        .send()
        .await
        .unwrap();
    iot.delete_thing()
        .thing_name("urn:lamp:1")
        .send()
        .await
        .unwrap();
    server.shutdown().await;
}
