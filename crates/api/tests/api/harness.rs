//! A router over an in-memory store, a helper that sends one request and returns the status and
//! the JSON body, the AWS errors the API answers, and a walker of `nextToken`-paged lists.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use thingd_api::{ApiState, AuthorizationChange, RegistryEvents, RulesApiConfig, router};
use thingd_registry::Partition;
use thingd_storage::SqliteStore;
use tower::ServiceExt;

/// An AWS error: its code and HTTP status.
pub(crate) type AwsError = (&'static str, u16);

pub(crate) const INVALID_REQUEST: AwsError = ("InvalidRequestException", 400);
pub(crate) const NOT_FOUND: AwsError = ("ResourceNotFoundException", 404);
pub(crate) const ALREADY_EXISTS: AwsError = ("ResourceAlreadyExistsException", 409);
pub(crate) const VERSION_CONFLICT: AwsError = ("VersionConflictException", 409);
pub(crate) const CERTIFICATE_VALIDATION: AwsError = ("CertificateValidationException", 400);
pub(crate) const CERTIFICATE_STATE: AwsError = ("CertificateStateException", 406);
pub(crate) const LIMIT_EXCEEDED: AwsError = ("LimitExceededException", 410);
pub(crate) const DELETE_CONFLICT: AwsError = ("DeleteConflictException", 409);
pub(crate) const MALFORMED_POLICY: AwsError = ("MalformedPolicyException", 400);
pub(crate) const VERSIONS_LIMIT_EXCEEDED: AwsError = ("VersionsLimitExceededException", 409);
pub(crate) const NOT_IMPLEMENTED: AwsError = ("NotImplementedException", 501);
pub(crate) const UNKNOWN_OPERATION: AwsError = ("UnknownOperationException", 404);
pub(crate) const SQL_PARSE: AwsError = ("SqlParseException", 400);
pub(crate) const UNAUTHORIZED: AwsError = ("UnauthorizedException", 401);

/// Records the certificates the API announced as revoked and the authorization changes it
/// announced.
#[derive(Debug, Default)]
pub(crate) struct RecordedEvents {
    pub(crate) revoked: Mutex<Vec<String>>,
    pub(crate) changes: Mutex<Vec<AuthorizationChange>>,
    /// Topic rules and destinations announced as changed (`rule:{name}`, `destination:{arn}`).
    pub(crate) rule_changes: Mutex<Vec<String>>,
}

impl RegistryEvents for RecordedEvents {
    fn certificate_revoked(&self, certificate_id: &str) {
        self.revoked.lock().unwrap().push(certificate_id.to_owned());
    }

    fn authorization_changed(&self, change: &AuthorizationChange) {
        self.changes.lock().unwrap().push(change.clone());
    }

    fn topic_rule_changed(&self, rule_name: &str) {
        self.rule_changes
            .lock()
            .unwrap()
            .push(format!("rule:{rule_name}"));
    }

    fn topic_rule_destination_changed(&self, arn: &str) {
        self.rule_changes
            .lock()
            .unwrap()
            .push(format!("destination:{arn}"));
    }
}

impl TestApi {
    /// The authorization changes announced since the last call, emptied.
    pub(crate) fn take_changes(&self) -> Vec<AuthorizationChange> {
        std::mem::take(&mut *self.events.changes.lock().unwrap())
    }
}

/// The API over a fresh in-memory store.
pub(crate) struct TestApi {
    pub(crate) state: ApiState,
    pub(crate) events: Arc<RecordedEvents>,
}

/// A response: status, the `x-amzn-ErrorType` header if any, and the body as JSON (`Null` if
/// empty); and the request it answers, for failure messages.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) request: String,
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

    /// Asserts the AWS error `error` (its code, in the header and the body, and its status) and
    /// returns its message.
    #[track_caller]
    pub(crate) fn error(self, (code, status): AwsError) -> String {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.error_type.as_deref(), Some(code), "{self:?}");
        assert_eq!(self.body["__type"], code, "{self:?}");
        self.body["message"].as_str().unwrap_or_default().to_owned()
    }

    /// Asserts the AWS error `error` with a message that contains `part`, and returns the
    /// message.
    #[track_caller]
    pub(crate) fn error_saying(self, error: AwsError, part: &str) -> String {
        let request = self.request.clone();
        let message = self.error(error);
        assert!(message.contains(part), "{request}: {message}");
        message
    }

    /// Asserts ResourceAlreadyExistsException naming the resource that exists, by id and ARN,
    /// and returns its message.
    #[track_caller]
    pub(crate) fn already_exists(self, id: impl Into<Value>, arn: impl Into<Value>) -> String {
        assert_eq!(self.body["resourceId"], id.into(), "{self:?}");
        assert_eq!(self.body["resourceArn"], arn.into(), "{self:?}");
        self.error(ALREADY_EXISTS)
    }
}

impl TestApi {
    pub(crate) async fn new() -> TestApi {
        TestApi::with_rules(RulesApiConfig::default()).await
    }

    /// The API with this configuration of topic rule destinations.
    pub(crate) async fn with_rules(rules: RulesApiConfig) -> TestApi {
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
            rules,
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
        let described = format!("{method} {path}");
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
            request: described,
            status,
            error_type,
            body,
        }
    }

    /// Sends `method path` with `body` as it is (not necessarily JSON) and extra headers.
    pub(crate) async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let described = format!("{method} {path}");
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
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
            request: described,
            status,
            error_type,
            body,
        }
    }

    /// The topic rule and destination changes announced since the last call, emptied.
    pub(crate) fn take_rule_changes(&self) -> Vec<String> {
        std::mem::take(&mut *self.events.rule_changes.lock().unwrap())
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

    /// PUT with an empty JSON object, as clients send operations whose input is all in the path
    /// and query (UpdateCertificate, UpdateCACertificate, ...).
    pub(crate) async fn put_empty(&self, path: &str) -> Answer {
        self.put(path, json!({})).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// Every page of the `nextToken`-paged list at `path`, read to its end: the query `path`
    /// has, if any, and `headers` go with every page's request, the `nextToken` of the page
    /// before (percent-encoded) with every page but the first. Fails after 100 pages.
    pub(crate) async fn pages(&self, path: &str, headers: &[(&str, &str)]) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut url = path.to_owned();
        let mut pages = Vec::new();
        loop {
            let page = self.call_with(Method::GET, &url, None, headers).await.ok();
            let next = page
                .get("nextToken")
                .map(|token| percent(token.as_str().unwrap()));
            pages.push(page);
            match next {
                Some(token) => url = format!("{path}{separator}nextToken={token}"),
                None => return pages,
            }
            assert!(pages.len() < 100, "the pages of {path} do not end");
        }
    }
}

/// `count` tags, `k0` to `k<count - 1>`, in the API's JSON.
pub(crate) fn numbered_tags(count: usize) -> Value {
    (0..count)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect()
}

/// The items of the list `field` of every page, in order; checks that no page holds more than
/// `max`, if given.
#[track_caller]
pub(crate) fn items(pages: &[Value], field: &str, max: Option<usize>) -> Vec<Value> {
    let mut items = Vec::new();
    for page in pages {
        let list = page[field].as_array().unwrap();
        if let Some(max) = max {
            assert!(list.len() <= max, "more than {max}: {page}");
        }
        items.extend(list.iter().cloned());
    }
    items
}

/// The names of listed items: each item itself if it is a string, or its string member `key`.
pub(crate) fn item_names(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| item.as_str().unwrap_or_else(|| item[key].as_str().unwrap()))
        .map(str::to_owned)
        .collect()
}

/// `text` percent-encoded for a query: all but unreserved characters.
pub(crate) fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
