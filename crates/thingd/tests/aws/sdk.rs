//! The AWS SDK for Rust (aws-sdk-iot, real SigV4 signing, its own HTTP client and paginators)
//! against thingd's control plane: each family's operations succeed, and their main errors
//! reach the SDK as the typed exceptions of the service model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_iot::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_iot::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_iot::error::BoxError;

use aws_sdk_iot::types::{
    AttributePayload, CertificateStatus, Tag, ThingGroupProperties, ThingPrincipalType,
    ThingTypeProperties,
};
use testkit::TestServer;

use crate::support::{arn, assert_code, csr, new_key, sdk, sdk_with_key, service_error};

fn attributes(pairs: &[(&str, &str)]) -> AttributePayload {
    let mut payload = AttributePayload::builder();
    for (name, value) in pairs {
        payload = payload.attributes(*name, *value);
    }
    payload.build()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

#[tokio::test]
async fn sdk_things_create_describe_update_delete_and_their_errors() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);

    let created = iot
        .create_thing()
        .thing_name("sdk-lamp")
        .attribute_payload(attributes(&[("color", "red")]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.thing_name(), Some("sdk-lamp"));
    assert_eq!(created.thing_arn(), Some(arn("thing", "sdk-lamp").as_str()));
    let id = created.thing_id().unwrap().to_owned();
    assert!(!id.is_empty());

    // The same create again is idempotent; with other attributes it is a conflict, and the
    // exception carries the existing thing's id and ARN as the model has them.
    let again = iot
        .create_thing()
        .thing_name("sdk-lamp")
        .attribute_payload(attributes(&[("color", "red")]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.thing_id(), Some(id.as_str()));
    let error = service_error(
        iot.create_thing()
            .thing_name("sdk-lamp")
            .attribute_payload(attributes(&[("color", "blue")]))
            .send()
            .await,
        409,
    );
    let aws_sdk_iot::operation::create_thing::CreateThingError::ResourceAlreadyExistsException(
        exists,
    ) = &error
    else {
        panic!("expected ResourceAlreadyExistsException, got {error:?}");
    };
    assert_eq!(exists.resource_id(), Some(id.as_str()));
    assert_eq!(
        exists.resource_arn(),
        Some(arn("thing", "sdk-lamp").as_str())
    );

    let described = iot
        .describe_thing()
        .thing_name("sdk-lamp")
        .send()
        .await
        .unwrap();
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
    let error = service_error(
        iot.update_thing()
            .thing_name("sdk-lamp")
            .expected_version(1)
            .attribute_payload(attributes(&[("color", "green")]))
            .send()
            .await,
        409,
    );
    assert!(error.is_version_conflict_exception(), "{error:?}");
    let described = iot
        .describe_thing()
        .thing_name("sdk-lamp")
        .send()
        .await
        .unwrap();
    assert_eq!(described.version(), 2);
    assert_eq!(
        described.attributes(),
        Some(&HashMap::from([
            ("color".to_owned(), "red".to_owned()),
            ("room".to_owned(), "hall".to_owned()),
        ]))
    );

    // Not found, invalid names and sizes.
    let error = service_error(
        iot.describe_thing()
            .thing_name("no-such-thing")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    let error = service_error(
        iot.update_thing()
            .thing_name("no-such-thing")
            .attribute_payload(attributes(&[("a", "b")]))
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    for bad in ["bad name", "semi;colon", &"x".repeat(129)] {
        let error = service_error(iot.create_thing().thing_name(bad).send().await, 400);
        assert!(error.is_invalid_request_exception(), "{bad:?}: {error:?}");
    }
    let error = service_error(
        iot.create_thing()
            .thing_name("too-many-attributes")
            .attribute_payload(attributes(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
            ]))
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    let error = service_error(
        iot.create_thing()
            .thing_name("long-value")
            .attribute_payload(attributes(&[("a", &"v".repeat(801))]))
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    let error = service_error(
        iot.create_thing()
            .thing_name("typed")
            .thing_type_name("no-such-type")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");

    // Delete: the expected version is checked; deleting what does not exist succeeds.
    let error = service_error(
        iot.delete_thing()
            .thing_name("sdk-lamp")
            .expected_version(1)
            .send()
            .await,
        409,
    );
    assert!(error.is_version_conflict_exception(), "{error:?}");
    iot.delete_thing()
        .thing_name("sdk-lamp")
        .expected_version(2)
        .send()
        .await
        .unwrap();
    iot.delete_thing()
        .thing_name("sdk-lamp")
        .send()
        .await
        .unwrap();
    let error = service_error(
        iot.describe_thing().thing_name("sdk-lamp").send().await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_list_things_pages_through_the_paginator() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
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
    let listed: Vec<String> = iot
        .list_things()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|thing| thing.thing_name().unwrap().to_owned())
        .collect();
    assert_eq!(listed, names);

    // Filtered by an attribute.
    let odd: Vec<String> = iot
        .list_things()
        .attribute_name("floor")
        .attribute_value("odd")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|thing| thing.thing_name().unwrap().to_owned())
        .collect();
    assert_eq!(odd, ["paged-1", "paged-3", "paged-5"]);

    // A page size out of the model's range [1, 250] (the SDK does not check it).
    let error = service_error(iot.list_things().max_results(251).send().await, 400);
    assert!(error.is_invalid_request_exception(), "{error:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_thing_types_create_deprecate_and_delete() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
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
    let error = service_error(
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
    );
    assert!(error.is_resource_already_exists_exception(), "{error:?}");
    let error = service_error(
        iot.create_thing_type()
            .thing_type_name("Bad/Type")
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");

    let described = iot
        .describe_thing_type()
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    let props = described.thing_type_properties().unwrap();
    assert_eq!(props.thing_type_description(), Some("A lamp"));
    assert_eq!(props.searchable_attributes(), ["room"]);
    assert!(!described.thing_type_metadata().unwrap().deprecated());
    let tags = iot
        .list_tags_for_resource()
        .resource_arn(&type_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags(), [tag("team", "lighting")]);

    // A thing of that type; then the type is deprecated: no new things may use it, and it can
    // be deleted only once no thing has it.
    iot.create_thing()
        .thing_name("lamp-1")
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    let error = service_error(
        iot.delete_thing_type().thing_type_name("Lamp").send().await,
        400,
    );
    assert!(
        error.is_invalid_request_exception(),
        "not deprecated: {error:?}"
    );
    iot.deprecate_thing_type()
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    let metadata = iot
        .describe_thing_type()
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap()
        .thing_type_metadata()
        .cloned()
        .unwrap();
    assert!(metadata.deprecated());
    assert!(metadata.deprecation_date().is_some());
    let error = service_error(
        iot.create_thing()
            .thing_name("lamp-2")
            .thing_type_name("Lamp")
            .send()
            .await,
        400,
    );
    assert!(
        error.is_invalid_request_exception(),
        "deprecated: {error:?}"
    );
    let error = service_error(
        iot.delete_thing_type().thing_type_name("Lamp").send().await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "in use: {error:?}");

    // Undo, deprecate again, free the thing of its type, delete.
    iot.deprecate_thing_type()
        .thing_type_name("Lamp")
        .undo_deprecate(true)
        .send()
        .await
        .unwrap();
    iot.create_thing()
        .thing_name("lamp-2")
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    iot.deprecate_thing_type()
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    for thing in ["lamp-1", "lamp-2"] {
        iot.update_thing()
            .thing_name(thing)
            .remove_thing_type(true)
            .send()
            .await
            .unwrap();
    }
    iot.delete_thing_type()
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    let error = service_error(
        iot.describe_thing_type()
            .thing_type_name("Lamp")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    let error = service_error(
        iot.deprecate_thing_type()
            .thing_type_name("Lamp")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_thing_groups_hierarchy_and_membership() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    iot.create_thing_group()
        .thing_group_name("building")
        .send()
        .await
        .unwrap();
    let floor = iot
        .create_thing_group()
        .thing_group_name("floor-1")
        .parent_group_name("building")
        .thing_group_properties(
            ThingGroupProperties::builder()
                .thing_group_description("First floor")
                .build(),
        )
        .tags(tag("site", "paris"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        floor.thing_group_arn(),
        Some(arn("thinggroup", "floor-1").as_str())
    );
    let error = service_error(
        iot.create_thing_group()
            .thing_group_name("floor-1")
            .parent_group_name("building")
            .thing_group_properties(
                ThingGroupProperties::builder()
                    .thing_group_description("Ground floor")
                    .build(),
            )
            .send()
            .await,
        409,
    );
    assert!(error.is_resource_already_exists_exception(), "{error:?}");
    let error = service_error(
        iot.create_thing_group()
            .thing_group_name("orphan")
            .parent_group_name("no-such-group")
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");

    let described = iot
        .describe_thing_group()
        .thing_group_name("floor-1")
        .send()
        .await
        .unwrap();
    let metadata = described.thing_group_metadata().unwrap();
    assert_eq!(metadata.parent_group_name(), Some("building"));
    let path: Vec<_> = metadata
        .root_to_parent_thing_groups()
        .iter()
        .map(|g| g.group_name().unwrap())
        .collect();
    assert_eq!(path, ["building"]);
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
    let error = service_error(
        iot.update_thing_group()
            .thing_group_name("floor-1")
            .thing_group_properties(ThingGroupProperties::builder().build())
            .expected_version(1)
            .send()
            .await,
        409,
    );
    assert!(error.is_version_conflict_exception(), "{error:?}");

    // Membership.
    for thing in ["lamp-a", "lamp-b"] {
        iot.create_thing().thing_name(thing).send().await.unwrap();
        iot.add_thing_to_thing_group()
            .thing_group_name("floor-1")
            .thing_name(thing)
            .send()
            .await
            .unwrap();
    }
    let members = |group: &'static str, recursive: bool| {
        let iot = iot.clone();
        async move {
            iot.list_things_in_thing_group()
                .thing_group_name(group)
                .recursive(recursive)
                .max_results(1)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .unwrap()
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
    let names: Vec<_> = groups
        .thing_groups()
        .iter()
        .map(|g| g.group_name().unwrap())
        .collect();
    assert_eq!(names, ["floor-1"]);
    // One group per hierarchy for a thing.
    let error = service_error(
        iot.add_thing_to_thing_group()
            .thing_group_name("building")
            .thing_name("lamp-a")
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    let error = service_error(
        iot.add_thing_to_thing_group()
            .thing_group_name("floor-1")
            .thing_name("no-such-thing")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    iot.remove_thing_from_thing_group()
        .thing_group_name("floor-1")
        .thing_name("lamp-a")
        .send()
        .await
        .unwrap();
    assert_eq!(members("floor-1", false).await, ["lamp-b"]);

    // A group with children cannot be deleted; its children can, then it can.
    let error = service_error(
        iot.delete_thing_group()
            .thing_group_name("building")
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    let error = service_error(
        iot.delete_thing_group()
            .thing_group_name("floor-1")
            .expected_version(1)
            .send()
            .await,
        409,
    );
    assert!(error.is_version_conflict_exception(), "{error:?}");
    iot.delete_thing_group()
        .thing_group_name("floor-1")
        .send()
        .await
        .unwrap();
    iot.delete_thing_group()
        .thing_group_name("building")
        .send()
        .await
        .unwrap();
    let error = service_error(
        iot.describe_thing_group()
            .thing_group_name("building")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_certificates_keys_csr_describe_list_update_and_delete() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);

    let created = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let id = created.certificate_id().unwrap().to_owned();
    assert_eq!(id.len(), 64);
    assert_eq!(created.certificate_arn(), Some(arn("cert", &id).as_str()));
    let key_pair = created.key_pair().unwrap();
    assert!(
        key_pair.private_key().unwrap().contains("PRIVATE KEY-----"),
        "{key_pair:?}"
    );
    assert!(key_pair.public_key().unwrap().contains("PUBLIC KEY-----"));
    let description = iot
        .describe_certificate()
        .certificate_id(&id)
        .send()
        .await
        .unwrap()
        .certificate_description()
        .cloned()
        .unwrap();
    assert_eq!(description.status(), Some(&CertificateStatus::Active));
    assert_eq!(description.certificate_pem(), created.certificate_pem());
    assert_eq!(description.owned_by(), Some(crate::support::ACCOUNT));
    assert!(description.creation_date().is_some());
    let validity = description.validity().unwrap();
    assert!(validity.not_before().unwrap() < validity.not_after().unwrap());

    // From a CSR: the certificate is for the CSR's key.
    let (key, _) = new_key();
    let from_csr = iot
        .create_certificate_from_csr()
        .certificate_signing_request(csr(&key, "csr-device"))
        .send()
        .await
        .unwrap();
    let csr_id = from_csr.certificate_id().unwrap().to_owned();
    let pem = from_csr.certificate_pem().unwrap();
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let certificate = block.parse_x509().unwrap();
    assert_eq!(
        certificate.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key).as_slice()
    );
    let status = iot
        .describe_certificate()
        .certificate_id(&csr_id)
        .send()
        .await
        .unwrap()
        .certificate_description()
        .and_then(|d| d.status().cloned());
    assert_eq!(
        status,
        Some(CertificateStatus::Inactive),
        "setAsActive defaults to false"
    );
    let error = service_error(
        iot.create_certificate_from_csr()
            .certificate_signing_request(
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            )
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");

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
            iot.list_certificates()
                .page_size(2)
                .ascending_order(ascending)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .unwrap()
        }
    };
    let ascending = list(true).await;
    let dates: Vec<_> = ascending
        .iter()
        .map(|c| c.creation_date().unwrap().as_nanos())
        .collect();
    assert!(dates.is_sorted(), "{ascending:?}");
    let listed: Vec<String> = ascending
        .iter()
        .map(|c| c.certificate_id().unwrap().to_owned())
        .collect();
    // The test server's own client certificate is registered too.
    let mut expected = ids;
    expected.push(server.client.certificate_id.clone());
    expected.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    let mut descending: Vec<String> = list(false)
        .await
        .iter()
        .map(|c| c.certificate_id().unwrap().to_owned())
        .collect();
    descending.reverse();
    assert_eq!(descending, listed);
    let one = iot.list_certificates().page_size(1).send().await.unwrap();
    assert_eq!(one.certificates().len(), 1);
    assert!(one.next_marker().is_some());

    // Delete conflicts: an ACTIVE certificate, then one attached to a thing.
    let error = service_error(
        iot.delete_certificate().certificate_id(&id).send().await,
        406,
    );
    assert!(error.is_certificate_state_exception(), "{error:?}");
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
    iot.update_certificate()
        .certificate_id(&id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    let error = service_error(
        iot.delete_certificate().certificate_id(&id).send().await,
        409,
    );
    assert!(error.is_delete_conflict_exception(), "{error:?}");
    iot.detach_thing_principal()
        .thing_name("holder")
        .principal(arn("cert", &id))
        .send()
        .await
        .unwrap();
    iot.delete_certificate()
        .certificate_id(&id)
        .send()
        .await
        .unwrap();
    let error = service_error(
        iot.describe_certificate().certificate_id(&id).send().await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    let error = service_error(
        iot.delete_certificate().certificate_id(&id).send().await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");

    // REVOKED is final; ids must be 64 hex digits.
    iot.update_certificate()
        .certificate_id(&csr_id)
        .new_status(CertificateStatus::Revoked)
        .send()
        .await
        .unwrap();
    let error = service_error(
        iot.update_certificate()
            .certificate_id(&csr_id)
            .new_status(CertificateStatus::Active)
            .send()
            .await,
        406,
    );
    assert!(error.is_certificate_state_exception(), "{error:?}");
    let error = service_error(
        iot.describe_certificate()
            .certificate_id("not-a-certificate-id")
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    let error = service_error(
        iot.update_certificate()
            .certificate_id("0".repeat(64))
            .new_status(CertificateStatus::Inactive)
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_principals_attach_list_and_detach() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
    let certificate = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let principal = certificate.certificate_arn().unwrap().to_owned();
    for thing in ["door", "window"] {
        iot.create_thing().thing_name(thing).send().await.unwrap();
    }
    iot.attach_thing_principal()
        .thing_name("door")
        .principal(&principal)
        .send()
        .await
        .unwrap();
    // Attaching again is idempotent.
    iot.attach_thing_principal()
        .thing_name("door")
        .principal(&principal)
        .send()
        .await
        .unwrap();
    let principals = iot
        .list_thing_principals()
        .thing_name("door")
        .send()
        .await
        .unwrap();
    assert_eq!(principals.principals(), std::slice::from_ref(&principal));
    let things = iot
        .list_principal_things()
        .principal(&principal)
        .send()
        .await
        .unwrap();
    assert_eq!(things.things(), ["door"]);

    // Exclusive attachment: not while attached elsewhere.
    let error = service_error(
        iot.attach_thing_principal()
            .thing_name("window")
            .principal(&principal)
            .thing_principal_type(ThingPrincipalType::ExclusiveThing)
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    iot.attach_thing_principal()
        .thing_name("window")
        .principal(&principal)
        .send()
        .await
        .unwrap();
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
    let error = service_error(
        iot.attach_thing_principal()
            .thing_name("no-such-thing")
            .principal(&principal)
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    let error = service_error(
        iot.attach_thing_principal()
            .thing_name("door")
            .principal(arn("cert", &"a".repeat(64)))
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    let error = service_error(
        iot.attach_thing_principal()
            .thing_name("door")
            .principal("arn:aws:iam::000000000000:user/alice")
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    let error = service_error(
        iot.list_thing_principals()
            .thing_name("no-such-thing")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    // A thing with a principal cannot be deleted.
    let error = service_error(iot.delete_thing().thing_name("door").send().await, 400);
    assert!(error.is_invalid_request_exception(), "{error:?}");

    for thing in ["door", "window"] {
        iot.detach_thing_principal()
            .thing_name(thing)
            .principal(&principal)
            .send()
            .await
            .unwrap();
    }
    let things = iot
        .list_principal_things()
        .principal(&principal)
        .send()
        .await
        .unwrap();
    assert!(things.things().is_empty());
    iot.delete_thing().thing_name("door").send().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn sdk_tags_and_describe_endpoint() {
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
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
    let tags = iot
        .list_tags_for_resource()
        .resource_arn(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags(), [tag("env", "test")]);
    let error = service_error(
        iot.tag_resource()
            .resource_arn(arn("thinggroup", "no-such-group"))
            .tags(tag("a", "b"))
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    let error = service_error(
        iot.tag_resource()
            .resource_arn(&group)
            .tags(tag(&"k".repeat(129), "v"))
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
    let mut too_many = iot.tag_resource().resource_arn(&group);
    for i in 0..50 {
        too_many = too_many.tags(tag(&format!("key-{i}"), "v"));
    }
    let error = service_error(too_many.send().await, 410);
    assert!(error.is_limit_exceeded_exception(), "{error:?}");

    let endpoint = iot.describe_endpoint().send().await.unwrap();
    assert_eq!(endpoint.endpoint_address(), Some("localhost"));
    let ats = iot
        .describe_endpoint()
        .endpoint_type("iot:Data-ATS")
        .send()
        .await
        .unwrap();
    assert_eq!(ats.endpoint_address(), Some("localhost"));
    let error = service_error(
        iot.describe_endpoint()
            .endpoint_type("iot:Nothing")
            .send()
            .await,
        400,
    );
    assert!(error.is_invalid_request_exception(), "{error:?}");
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
    let error = service_error(
        sdk(&server)
            .describe_thing()
            .thing_name("never-created")
            .send()
            .await,
        404,
    );
    assert!(error.is_resource_not_found_exception(), "{error:?}");
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
    let server = TestServer::start().await.unwrap();
    let iot = sdk(&server);
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
    let tags = iot
        .list_tags_for_resource()
        .resource_arn(&group_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags(),
        [tag("clé à molette", "valeur/with spaces & symbols=?")]
    );
    iot.untag_resource()
        .resource_arn(&group_arn)
        .tag_keys("clé à molette")
        .send()
        .await
        .unwrap();
    let certificate = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    iot.attach_thing_principal()
        .thing_name("urn:lamp:1")
        .principal(certificate.certificate_arn().unwrap())
        .send()
        .await
        .unwrap();
    let things = iot
        .list_principal_things()
        .principal(certificate.certificate_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(things.things(), ["urn:lamp:1"]);
    iot.detach_thing_principal()
        .thing_name("urn:lamp:1")
        .principal(certificate.certificate_arn().unwrap())
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
