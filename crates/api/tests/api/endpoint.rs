//! DescribeEndpoint.

use serde_json::json;

use crate::harness::{INVALID_REQUEST, TestApi};

#[tokio::test]
async fn every_endpoint_type_answers_the_configured_host() {
    let api = TestApi::new().await;
    for endpoint_type in [
        "iot:Data",
        "iot:Data-ATS",
        "iot:CredentialProvider",
        "iot:Jobs",
    ] {
        let answer = api
            .get(&format!("/endpoint?endpointType={endpoint_type}"))
            .await
            .ok();
        assert_eq!(answer, json!({"endpointAddress": "iot.example.test"}));
    }
    // Without a type AWS answers the iot:Data endpoint.
    let answer = api.get("/endpoint").await.ok();
    assert_eq!(answer, json!({"endpointAddress": "iot.example.test"}));
}

#[tokio::test]
async fn unknown_endpoint_types_are_invalid_requests() {
    let api = TestApi::new().await;
    for endpoint_type in ["iot:Unknown", "iot:data-ats", "", "iot%3AData%20"] {
        api.get(&format!("/endpoint?endpointType={endpoint_type}"))
            .await
            .error_saying(INVALID_REQUEST, "not recognized");
    }
}
