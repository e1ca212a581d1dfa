//! Restart: what AWS clients created (things, types, groups, certificates, a CA, attachments,
//! tags, policies) is all there after thingd stops and starts again on the same data directory, devices
//! connect as before, and the admin key and the two files for AWS clients still work.

use std::collections::HashMap;

use aws_sdk_iot::types::CertificateStatus;
use mqtt_codec::ProtocolVersion;
use testkit::TestServer;
use thingd_broker::BrokerConfig;

use crate::support::{
    AwsEnv, Device, TestCa, allow_everything, arn, attributes, certificate_from_csr,
    certificate_status, certificates_of_ca, create_active_certificate, new_key, register_active_ca,
    registration_code, sdk, server_with_sdk, tag, tags_of,
};

#[tokio::test]
async fn the_registry_the_admin_key_and_the_aws_files_survive_a_restart() {
    let (server, iot) = server_with_sdk().await;
    iot.create_thing_type()
        .thing_type_name("Meter")
        .tags(tag("unit", "kWh"))
        .send()
        .await
        .unwrap();
    iot.create_thing()
        .thing_name("meter-1")
        .thing_type_name("Meter")
        .attribute_payload(attributes(&[("floor", "2")]))
        .send()
        .await
        .unwrap();
    iot.create_thing_group()
        .thing_group_name("site")
        .send()
        .await
        .unwrap();
    iot.add_thing_to_thing_group()
        .thing_group_name("site")
        .thing_name("meter-1")
        .send()
        .await
        .unwrap();
    let keys = create_active_certificate(&iot).await;
    let cert = keys.certificate_pem().unwrap().to_owned();
    let key = keys.key_pair().unwrap().private_key().unwrap().to_owned();
    let cert_id = keys.certificate_id().unwrap().to_owned();
    iot.attach_thing_principal()
        .thing_name("meter-1")
        .principal(keys.certificate_arn().unwrap())
        .send()
        .await
        .unwrap();
    let (csr_key, csr_key_pem) = new_key();
    let inactive = certificate_from_csr(&iot, &csr_key, "meter-spare").await;
    let code = registration_code(&iot).await;
    let ca = TestCa::new("Meter CA");
    let ca_id = register_active_ca(&iot, &ca, &code).await;
    let (vendor_cert, vendor_key) = ca.issue("meter-vendor");
    let vendor = iot
        .register_certificate()
        .certificate_pem(&vendor_cert)
        .status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    allow_everything(&iot, keys.certificate_arn().unwrap()).await;
    allow_everything(&iot, vendor.certificate_arn().unwrap()).await;
    Device::connect(&server, &cert, &key, "meter-1", ProtocolVersion::V5)
        .await
        .expect("connects before the restart");

    let admin_key = server.admin_key().clone();
    let files = AwsEnv::of(&server);
    let credentials = std::fs::read_to_string(&files.credentials).unwrap();
    let old_endpoint = format!("http://{}", server.api);
    assert!(
        std::fs::read_to_string(&files.config)
            .unwrap()
            .contains(&old_endpoint)
    );

    let data = server.stop_keeping_data().await;
    let server = TestServer::start_in(data, BrokerConfig::default())
        .await
        .unwrap();
    assert_eq!(server.admin_key(), &admin_key, "the admin key is kept");
    let files = AwsEnv::of(&server);
    assert_eq!(
        std::fs::read_to_string(&files.credentials).unwrap(),
        credentials
    );
    let config = std::fs::read_to_string(&files.config).unwrap();
    let new_endpoint = format!("http://{}", server.api);
    assert!(
        config.contains(&new_endpoint) && !config.contains(&old_endpoint),
        "the endpoint is rewritten: {config}"
    );

    // The SDK with the (same) admin key on the new endpoint.
    let iot = sdk(&server);
    let thing = iot
        .describe_thing()
        .thing_name("meter-1")
        .send()
        .await
        .unwrap();
    assert_eq!(thing.thing_type_name(), Some("Meter"));
    assert_eq!(
        thing.attributes(),
        Some(&HashMap::from([("floor".to_owned(), "2".to_owned())]))
    );
    let tags = tags_of(&iot, &arn("thingtype", "Meter")).await;
    assert_eq!(tags.len(), 1);
    let members = iot
        .list_things_in_thing_group()
        .thing_group_name("site")
        .send()
        .await
        .unwrap();
    assert_eq!(members.things(), ["meter-1"]);
    let principals = iot
        .list_thing_principals()
        .thing_name("meter-1")
        .send()
        .await
        .unwrap();
    assert_eq!(principals.principals(), [arn("cert", &cert_id)]);
    assert_eq!(
        certificate_status(&iot, &cert_id).await,
        Some(CertificateStatus::Active)
    );
    let inactive_id = inactive.certificate_id().unwrap();
    assert_eq!(
        certificate_status(&iot, inactive_id).await,
        Some(CertificateStatus::Inactive)
    );
    assert_eq!(certificates_of_ca(&iot, &ca_id).await.len(), 1);

    // Devices: as before the restart.
    let mut device = Device::connect(&server, &cert, &key, "meter-1", ProtocolVersion::V5)
        .await
        .expect("the certificate still connects");
    device.ping().await;
    Device::connect(
        &server,
        &vendor_cert,
        &vendor_key,
        "vendor",
        ProtocolVersion::V5,
    )
    .await
    .expect("a certificate of the registered CA still connects");
    Device::assert_refused(
        &server,
        inactive.certificate_pem().unwrap(),
        &csr_key_pem,
        "spare",
        ProtocolVersion::V5,
        "an INACTIVE certificate",
    )
    .await;

    // The AWS CLI, through the two files only.
    let listed = files.aws_json(&["iot", "list-things"]).await;
    assert_eq!(listed["things"][0]["thingName"], "meter-1", "{listed}");
    server.shutdown().await;
}
