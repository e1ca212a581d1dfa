//! A router over an in-memory store, and a helper that sends one request and returns the status
//! and the JSON body.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use thingd_api::{ApiState, RegistryEvents, router};
use thingd_registry::Partition;
use thingd_storage::SqliteStore;
use tower::ServiceExt;

/// Records the certificates the API announced as revoked.
#[derive(Debug, Default)]
pub(crate) struct RecordedEvents {
    pub(crate) revoked: Mutex<Vec<String>>,
}

impl RegistryEvents for RecordedEvents {
    fn certificate_revoked(&self, certificate_id: &str) {
        self.revoked.lock().unwrap().push(certificate_id.to_owned());
    }
}

/// The API over a fresh in-memory store.
pub(crate) struct TestApi {
    pub(crate) state: ApiState,
    pub(crate) events: Arc<RecordedEvents>,
}

/// A response: status, the `x-amzn-ErrorType` header if any, and the body as JSON (`Null` if
/// empty).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) error_type: Option<String>,
    pub(crate) body: Value,
}

impl Answer {
    /// Asserts a success and returns the body.
    #[track_caller]
    pub(crate) fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        self.body
    }

    /// Asserts an AWS error with this code and status and returns its message.
    #[track_caller]
    pub(crate) fn error(self, code: &str, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.error_type.as_deref(), Some(code), "{self:?}");
        assert_eq!(self.body["__type"], code, "{self:?}");
        self.body["message"].as_str().unwrap_or_default().to_owned()
    }
}

impl TestApi {
    pub(crate) async fn new() -> TestApi {
        let events = Arc::new(RecordedEvents::default());
        let state = ApiState {
            store: Arc::new(SqliteStore::memory().await.unwrap()),
            partition: Partition {
                region: "us-east-1".into(),
                account: "123456789012".into(),
            },
            ca: Arc::new(thingd_pki::CertificateAuthority::generate().unwrap()),
            endpoint_host: "iot.example.test".into(),
            events: events.clone(),
        };
        TestApi { state, events }
    }

    /// Sends `method path` with `body` (JSON, or nothing) and extra headers.
    pub(crate) async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-ErrorType")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Answer {
            status,
            error_type,
            body,
        }
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_with(method, path, body, &[]).await
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }
}
