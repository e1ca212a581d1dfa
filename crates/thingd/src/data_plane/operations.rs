//! The iot-data operations (botocore's `iot-data` model, reference §1.3, §1.9, §6.6, §9.6):
//! each validates its input, asks the requester's [`Authorized`] for the policy action AWS IoT
//! checks, and calls the broker or the shadow service.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use mqtt_codec::{MqttString, PayloadFormat, PublishProperties, QoS, UserProperty};
use mqtt_topic::TopicName;
use serde_json::{Value, json};
use thingd_broker::Message;
use thingd_broker::retained::RetainOutcome;
use thingd_policy::Action;
use thingd_shadow::ShadowError;

use super::auth::read_body;
use super::error::DataPlaneError;
use super::input::{
    Query, base64_decode, base64_encode, percent_decode, user_properties, user_properties_json,
};
use super::{Authorized, DataPlane, increment};

/// ListRetainedMessages' page size when `maxResults` is absent, and its largest (the model's
/// bound).
const MAX_RETAINED_PAGE: i64 = 200;
/// ListNamedShadowsForThing's page size when `pageSize` is absent.
const DEFAULT_SHADOW_PAGE: i64 = 25;
/// ListNamedShadowsForThing's largest page (the model's bound).
const MAX_SHADOW_PAGE: i64 = 100;
/// The longest `nextToken` read, in bytes (thingd's tokens are far shorter).
const MAX_NEXT_TOKEN: usize = 1024;

/// The routes of every operation, each with its methods; a known path with another method is
/// answered 405 `MethodNotAllowedException`.
pub(super) fn routes() -> Router<Arc<DataPlane>> {
    Router::new()
        .route("/topics", only(post(missing_topic)))
        .route("/topics/", only(post(missing_topic)))
        .route("/topics/{*topic}", only(post(publish)))
        .route("/retainedMessage", only(get(list_retained_messages)))
        .route("/retainedMessage/", only(get(missing_topic)))
        .route("/retainedMessage/{*topic}", only(get(get_retained_message)))
        .route(
            "/things/{thingName}/shadow",
            only(
                get(get_thing_shadow)
                    .post(update_thing_shadow)
                    .delete(delete_thing_shadow),
            ),
        )
        .route(
            "/api/things/shadow/ListNamedShadowsForThing/{thingName}",
            only(get(list_named_shadows_for_thing)),
        )
}

/// `routes` with iot-data's answer to any other method.
fn only(routes: MethodRouter<Arc<DataPlane>>) -> MethodRouter<Arc<DataPlane>> {
    routes.fallback(method_not_allowed)
}

async fn method_not_allowed(method: Method, uri: Uri) -> DataPlaneError {
    DataPlaneError::method_not_allowed(method.as_str(), uri.path())
}

/// The answer to a path that names no operation.
pub(super) async fn unknown_operation(method: Method, uri: Uri) -> DataPlaneError {
    DataPlaneError::unknown_operation(method.as_str(), uri.path())
}

async fn missing_topic() -> DataPlaneError {
    DataPlaneError::invalid_request("The topic is missing from the request path")
}

/// Publish: `POST /topics/{topic}?qos&retain&contentType&responseTopic&messageExpiry`, MQTT 5
/// headers, the raw payload as body. The topic may come as one percent-encoded label (SDKs
/// encode `/` as `%2F`) or with raw slashes (hand-written clients); both are accepted.
async fn publish(
    State(plane): State<Arc<DataPlane>>,
    Extension(caller): Extension<Authorized>,
    request: Request,
) -> Result<Response, DataPlaneError> {
    let (parts, body) = request.into_parts();
    let topic = topic_of(&plane, parts.uri.path(), "/topics/")?;
    let query = Query::parse(parts.uri.query())?;
    let qos = match query.integer("qos", 0, 1)? {
        None | Some(0) => QoS::AtMostOnce,
        Some(_) => QoS::AtLeastOnce,
    };
    let retain = query.boolean("retain")?.unwrap_or(false);
    let properties = publish_properties(&plane, &query, &parts.headers)?;
    let payload = read_body(body).await?;
    if properties.payload_format_indicator == Some(PayloadFormat::Utf8)
        && std::str::from_utf8(&payload).is_err()
    {
        // [MQTT-3.3.2-4]: a payload announced as UTF-8 must be.
        return Err(DataPlaneError::invalid_request(
            "The payload is not valid UTF-8, as x-amz-mqtt5-payload-format-indicator says",
        ));
    }
    caller.check_topic(Action::Publish, topic.as_str())?;
    if retain {
        caller.check_topic(Action::RetainPublish, topic.as_str())?;
    }
    if !plane.broker.accepts_client_publish(&topic) {
        // [MQTT-4.7.2-1]: `$` topics are the server's; clients publish only to those a service
        // takes (device shadows, Basic Ingest), over HTTPS as over MQTT.
        return Err(DataPlaneError::forbidden_because(format!(
            "Publishing to the reserved topic {} is not allowed",
            topic.as_str()
        )));
    }
    let message = Message::new(topic, payload, qos, retain, properties);
    // Answered once durable, as a QoS 1 PUBACK is: what a persistent session or the retained
    // store needed written is on disk before the caller hears OK.
    let (_, retained) = plane
        .broker
        .publish_durably(message, caller.origin(), None)
        .await
        .map_err(|_| {
            DataPlaneError::throttling(
                "The message store is full: the message was not accepted, try again later",
            )
        })?;
    increment(&plane.metrics.publishes_total);
    if retained == Some(RetainOutcome::Refused) {
        // As MQTT answers QuotaExceeded: the store is at its limit of retained topics.
        return Err(DataPlaneError::throttling(
            "The retained message store is full: the message was delivered to subscribers but not retained",
        ));
    }
    // AWS answers a successful publish with this body (its model defines no output).
    Ok(json_response(
        json!({"message": "OK", "traceId": uuid::Uuid::new_v4().to_string()}),
    ))
}

/// The MQTT 5 properties of a Publish: `contentType`, `responseTopic` and `messageExpiry` from
/// the query, user properties, payload format and correlation data from the headers.
fn publish_properties(
    plane: &DataPlane,
    query: &Query,
    headers: &HeaderMap,
) -> Result<PublishProperties, DataPlaneError> {
    let mut properties = PublishProperties::default();
    if let Some(content_type) = query.get("contentType") {
        properties.content_type = Some(mqtt_string(content_type, "contentType")?);
    }
    if let Some(response_topic) = query.get("responseTopic") {
        // [MQTT-3.3.2-14]: the Response Topic is a topic name, without wildcards.
        TopicName::parse(response_topic, &plane.broker.config().topic_limits).map_err(|e| {
            DataPlaneError::invalid_request(format!("The responseTopic is not a valid topic: {e}"))
        })?;
        properties.response_topic = Some(mqtt_string(response_topic, "responseTopic")?);
    }
    if let Some(seconds) = query.integer("messageExpiry", 0, i64::from(u32::MAX))? {
        // The range was checked: the Message Expiry Interval is a four-byte integer.
        properties.message_expiry_interval = u32::try_from(seconds).ok();
    }
    if let Some(value) = header_text(headers, "x-amz-mqtt5-user-properties")? {
        for (name, value) in user_properties(value)? {
            properties.user_properties.push(UserProperty::new(
                mqtt_string(&name, "user property name")?,
                mqtt_string(&value, "user property value")?,
            ));
        }
    }
    if let Some(value) = header_text(headers, "x-amz-mqtt5-payload-format-indicator")? {
        properties.payload_format_indicator = Some(match value {
            "UNSPECIFIED_BYTES" => PayloadFormat::Unspecified,
            "UTF8_DATA" => PayloadFormat::Utf8,
            other => {
                return Err(DataPlaneError::invalid_request(format!(
                    "1 validation error detected: Value '{other}' at 'payloadFormatIndicator' \
                     failed to satisfy constraint: Member must satisfy enum value set: \
                     [UNSPECIFIED_BYTES, UTF8_DATA]"
                )));
            }
        });
    }
    if let Some(value) = header_text(headers, "x-amz-mqtt5-correlation-data")? {
        let data = base64_decode(value, "x-amz-mqtt5-correlation-data header")?;
        if data.len() > MqttString::MAX_LEN {
            return Err(DataPlaneError::invalid_request(
                "The correlation data is longer than 65535 bytes",
            ));
        }
        properties.correlation_data = Some(Bytes::from(data));
    }
    Ok(properties)
}

/// GetRetainedMessage: `GET /retainedMessage/{topic}`; the payload and user properties as base64
/// in JSON, `lastModifiedTime` in milliseconds.
async fn get_retained_message(
    State(plane): State<Arc<DataPlane>>,
    Extension(caller): Extension<Authorized>,
    uri: Uri,
) -> Result<Response, DataPlaneError> {
    let topic = topic_of(&plane, uri.path(), "/retainedMessage/")?;
    caller.check_topic(Action::GetRetainedMessage, topic.as_str())?;
    let Some(message) = plane.broker.retained_message(&topic) else {
        return Err(DataPlaneError::not_found(format!(
            "No retained message exists for the topic {}",
            topic.as_str()
        )));
    };
    let mut body = json!({
        "topic": message.topic.as_str(),
        "payload": base64_encode(&message.payload),
        "qos": qos_number(message.qos),
        "lastModifiedTime": message.received_at_ms,
    });
    let user = &message.properties.user_properties;
    if !user.is_empty() {
        let array = user_properties_json(
            user.iter()
                .map(|property| (property.name.as_str(), property.value.as_str())),
        );
        body["userProperties"] = Value::from(base64_encode(&array));
    }
    Ok(json_response(body))
}

/// ListRetainedMessages: `GET /retainedMessage?maxResults&nextToken`, in topic order. The token
/// is the last topic of the page, base64url-encoded.
async fn list_retained_messages(
    State(plane): State<Arc<DataPlane>>,
    Extension(caller): Extension<Authorized>,
    uri: Uri,
) -> Result<Response, DataPlaneError> {
    let query = Query::parse(uri.query())?;
    let limit = query
        .integer("maxResults", 1, MAX_RETAINED_PAGE)?
        .unwrap_or(MAX_RETAINED_PAGE);
    let after = match query.get("nextToken") {
        None => None,
        Some(token) => Some(decode_retained_token(token)?),
    };
    caller.check(Action::ListRetainedMessages, "*")?;
    // One more than asked for tells whether another page follows.
    let limit = usize::try_from(limit).unwrap_or(1);
    let mut page = plane.broker.retained_messages(after.as_deref(), limit + 1);
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last()
            .map(|message| URL_SAFE_NO_PAD.encode(message.topic.as_str()))
    } else {
        None
    };
    let topics: Vec<Value> = page
        .iter()
        .map(|message| {
            json!({
                "topic": message.topic.as_str(),
                "payloadSize": message.payload.len(),
                "qos": qos_number(message.qos),
                "lastModifiedTime": message.received_at_ms,
            })
        })
        .collect();
    let mut body = json!({ "retainedTopics": topics });
    if let Some(next) = next {
        body["nextToken"] = Value::from(next);
    }
    Ok(json_response(body))
}

fn decode_retained_token(token: &str) -> Result<String, DataPlaneError> {
    let invalid = || DataPlaneError::invalid_request("The nextToken is not valid");
    if token.len() > MAX_NEXT_TOKEN {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// GetThingShadow: `GET /things/{thingName}/shadow[?name=]`, the document as the shadow service
/// returns it.
async fn get_thing_shadow(
    State(plane): State<Arc<DataPlane>>,
    Extension(caller): Extension<Authorized>,
    uri: Uri,
) -> Result<Response, DataPlaneError> {
    get_shadow_document(&plane, &caller, &uri)
        .await
        .map_err(|e| e.in_shadow_document(None))
}

async fn get_shadow_document(
    plane: &DataPlane,
    caller: &Authorized,
    uri: &Uri,
) -> Result<Response, DataPlaneError> {
    let target = ShadowTarget::of(uri, "/things/", "/shadow")?;
    caller.check(Action::GetThingShadow, &target.resource())?;
    let document = plane
        .shadows
        .get(&target.thing, target.shadow.as_deref())
        .await
        .map_err(|e| target.error(e))?;
    Ok(raw_json(document))
}

/// UpdateThingShadow: `POST /things/{thingName}/shadow[?name=]` with the request document; the
/// `/update/accepted` document in return (published on MQTT too).
async fn update_thing_shadow(
    State(plane): State<Arc<DataPlane>>,
    Extension(caller): Extension<Authorized>,
    request: Request,
) -> Result<Response, DataPlaneError> {
    let (parts, body) = request.into_parts();
    let shadow_error = |e: DataPlaneError| e.in_shadow_document(None);
    let target = ShadowTarget::of(&parts.uri, "/things/", "/shadow").map_err(shadow_error)?;
    let payload = read_body(body).await.map_err(shadow_error)?;
    // Only read again when refusing: the clientToken the error document echoes.
    let refused = |e: DataPlaneError| {
        let token = thingd_shadow::parse_client_token(&payload).ok().flatten();
        e.in_shadow_document(token)
    };
    caller
        .check(Action::UpdateThingShadow, &target.resource())
        .map_err(refused)?;
    let document = plane
        .shadows
        .update(
            &target.thing,
            target.shadow.as_deref(),
            &payload,
            caller.origin(),
        )
        .await
        .map_err(|e| refused(target.error(e)))?;
    Ok(raw_json(document))
}

/// DeleteThingShadow: `DELETE /things/{thingName}/shadow[?name=]`; `{"version","timestamp"}`.
async fn delete_thing_shadow(
    State(plane): State<Arc<DataPlane>>,
    Extension(caller): Extension<Authorized>,
    uri: Uri,
) -> Result<Response, DataPlaneError> {
    delete_shadow(&plane, &caller, &uri)
        .await
        .map_err(|e| e.in_shadow_document(None))
}

async fn delete_shadow(
    plane: &DataPlane,
    caller: &Authorized,
    uri: &Uri,
) -> Result<Response, DataPlaneError> {
    let target = ShadowTarget::of(uri, "/things/", "/shadow")?;
    caller.check(Action::DeleteThingShadow, &target.resource())?;
    let document = plane
        .shadows
        .delete(&target.thing, target.shadow.as_deref(), caller.origin())
        .await
        .map_err(|e| target.error(e))?;
    Ok(raw_json(document))
}

/// ListNamedShadowsForThing: `GET /api/things/shadow/ListNamedShadowsForThing/{thingName}
/// ?nextToken&pageSize`; `{"results", "nextToken"?, "timestamp"}` (seconds, as every shadow
/// timestamp). The classic shadow is not listed; an unknown thing has none.
async fn list_named_shadows_for_thing(
    State(plane): State<Arc<DataPlane>>,
    Extension(caller): Extension<Authorized>,
    uri: Uri,
) -> Result<Response, DataPlaneError> {
    list_named_shadows(&plane, &caller, &uri)
        .await
        .map_err(|e| e.in_shadow_document(None))
}

async fn list_named_shadows(
    plane: &DataPlane,
    caller: &Authorized,
    uri: &Uri,
) -> Result<Response, DataPlaneError> {
    const PREFIX: &str = "/api/things/shadow/ListNamedShadowsForThing/";
    let raw = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let thing = percent_decode(raw, false, "thing name")?;
    thingd_shadow::validate_thing_name(&thing)?;
    let query = Query::parse(uri.query())?;
    let page_size = query
        .integer("pageSize", 1, MAX_SHADOW_PAGE)?
        .unwrap_or(DEFAULT_SHADOW_PAGE);
    let next_token = query.get("nextToken");
    if next_token.is_some_and(|token| token.len() > MAX_NEXT_TOKEN) {
        return Err(DataPlaneError::invalid_request(
            "The nextToken is not valid",
        ));
    }
    caller.check(Action::ListNamedShadowsForThing, &format!("thing/{thing}"))?;
    let (names, next) = plane
        .shadows
        .list_named(&thing, usize::try_from(page_size).unwrap_or(1), next_token)
        .await?;
    let mut body = json!({ "results": names, "timestamp": now_seconds() });
    if let Some(next) = next {
        body["nextToken"] = Value::from(next);
    }
    Ok(json_response(body))
}

/// The shadow a request names: the thing from the path, the shadow from `?name=` (absent: the
/// classic shadow), both checked against AWS IoT's name rules.
struct ShadowTarget {
    thing: String,
    shadow: Option<String>,
}

impl ShadowTarget {
    fn of(uri: &Uri, prefix: &str, suffix: &str) -> Result<ShadowTarget, DataPlaneError> {
        let raw = uri
            .path()
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .unwrap_or_default();
        let thing = percent_decode(raw, false, "thing name")?;
        thingd_shadow::validate_thing_name(&thing)?;
        let query = Query::parse(uri.query())?;
        let shadow = match query.get("name") {
            None => None,
            Some(name) => {
                thingd_shadow::validate_shadow_name(name)?;
                Some(name.to_owned())
            }
        };
        Ok(ShadowTarget { thing, shadow })
    }

    /// The resource policies name it by: `thing/{thing}`, or `thing/{thing}/{shadow}` for a
    /// named shadow (reference §4.2).
    fn resource(&self) -> String {
        match &self.shadow {
            None => format!("thing/{}", self.thing),
            Some(shadow) => format!("thing/{}/{shadow}", self.thing),
        }
    }

    /// The answer to a shadow service error, the 404 of a missing shadow naming it as AWS does.
    fn error(&self, error: ShadowError) -> DataPlaneError {
        if error.is_no_shadow() {
            ShadowError::no_shadow(&self.thing, self.shadow.as_deref()).into()
        } else {
            error.into()
        }
    }
}

/// The topic of a request path after `prefix`, percent-decoded and parsed as a topic name under
/// the broker's limits.
fn topic_of(plane: &DataPlane, path: &str, prefix: &str) -> Result<TopicName, DataPlaneError> {
    let raw = path.strip_prefix(prefix).unwrap_or_default();
    let text = percent_decode(raw, false, "topic")?;
    TopicName::parse(&text, &plane.broker.config().topic_limits)
        .map_err(|e| DataPlaneError::invalid_request(format!("The topic is not valid: {e}")))
}

/// A header's value as text, if present.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, DataPlaneError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(Some).map_err(|_| {
            DataPlaneError::invalid_request(format!("The {name} header is not visible ASCII"))
        }),
    }
}

/// `text` as an MQTT UTF-8 string (no NUL, at most 65535 bytes).
fn mqtt_string(text: &str, what: &str) -> Result<MqttString, DataPlaneError> {
    MqttString::new(text).map_err(|e| {
        DataPlaneError::invalid_request(format!("The {what} is not a valid MQTT string: {e}"))
    })
}

fn qos_number(qos: QoS) -> u8 {
    match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
        QoS::ExactlyOnce => 2,
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn json_response(body: Value) -> Response {
    raw_json(body.to_string().into_bytes())
}

/// A 200 answer whose body is a JSON document already serialized.
fn raw_json(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}
