//! The `republish` action: the result published to a topic of this broker, at QoS 0 or 1, with
//! MQTT 5 headers (reference §5.6; AWS's `RepublishAction` and `MqttHeaders`).
//!
//! The message goes through [`thingd_broker::Broker::publish`] as the server's own: routed to
//! subscribers (each still asks `iot:Receive`) and shown to every hook, rules included, so rules
//! can be chained. A rule republishing to a topic it matches would loop forever; AWS leaves that
//! to the rule's author, thingd bounds it: each pass through a republish action adds one to the
//! message's depth, and the engine drops a message deeper than
//! `RulesOptions::max_republish_depth` (counted in `thingd_rules_republish_loops_total`). The
//! depth travels in a thread-local because hooks run synchronously inside `Broker::publish`, on
//! the publishing thread.

use std::cell::Cell;

use base64::Engine as _;
use bytes::Bytes;
use mqtt_codec::{MqttString, PayloadFormat, PublishProperties, QoS, UserProperty};
use mqtt_topic::TopicName;
use thingd_broker::{Message, PublishOrigin};
use thingd_rules::RepublishAction;
use thingd_sql::{SqlVersion, Template};

use super::{ActionError, Job, Services, template};

thread_local! {
    /// The depth of the message a republish action is publishing on this thread, while it
    /// publishes; 0 otherwise.
    static PUBLISHING_DEPTH: Cell<u8> = const { Cell::new(0) };
}

/// The republish depth of a message shown to a hook now: non-zero only inside a republish.
pub(crate) fn current_depth() -> u8 {
    PUBLISHING_DEPTH.with(Cell::get)
}

/// Resets the thread's depth when the publish returns, even by unwinding.
struct DepthGuard(u8);

impl DepthGuard {
    fn enter(depth: u8) -> DepthGuard {
        DepthGuard(PUBLISHING_DEPTH.with(|d| d.replace(depth)))
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        PUBLISHING_DEPTH.with(|d| d.set(self.0));
    }
}

/// A compiled `republish` action.
pub(crate) struct Republish {
    topic: Template,
    qos: QoS,
    headers: Option<Headers>,
}

struct Headers {
    payload_format_indicator: Option<Template>,
    content_type: Option<Template>,
    response_topic: Option<Template>,
    correlation_data: Option<Template>,
    message_expiry: Option<Template>,
    user_properties: Vec<(Template, Template)>,
}

impl Republish {
    pub(crate) fn compile(action: &RepublishAction, version: SqlVersion) -> Result<Self, String> {
        let optional = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|text| template(field, text, version))
                .transpose()
        };
        let headers = match &action.headers {
            None => None,
            Some(h) => Some(Headers {
                payload_format_indicator: optional(
                    "headers.payloadFormatIndicator",
                    &h.payload_format_indicator,
                )?,
                content_type: optional("headers.contentType", &h.content_type)?,
                response_topic: optional("headers.responseTopic", &h.response_topic)?,
                correlation_data: optional("headers.correlationData", &h.correlation_data)?,
                message_expiry: optional("headers.messageExpiry", &h.message_expiry)?,
                user_properties: h
                    .user_properties
                    .iter()
                    .flatten()
                    .map(|p| {
                        Ok((
                            template("headers.userProperties.key", &p.key, version)?,
                            template("headers.userProperties.value", &p.value, version)?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            }),
        };
        Ok(Republish {
            topic: template("topic", &action.topic, version)?,
            qos: if action.qos_level() == 1 {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            },
            headers,
        })
    }

    /// Publishes one result.
    pub(crate) fn run(&self, job: &Job, services: &Services) -> Result<(), ActionError> {
        let event = &job.event;
        let rendered = event.render(&self.topic, &services.env);
        // `$$` writes a literal `$`: `$$aws/things/x/shadow/update` targets the reserved topic.
        let topic_text = match rendered.strip_prefix("$$") {
            Some(rest) => format!("${rest}"),
            None => rendered,
        };
        let fail = |message: String| ActionError::new(topic_text.clone(), message);
        let topic = TopicName::parse(&topic_text, &services.broker.config().topic_limits)
            .map_err(|error| fail(format!("The republish topic is not valid: {error}")))?;
        if is_job_topic(topic.as_str()) {
            return Err(fail(
                "Republishing to reserved job topics is not supported".to_owned(),
            ));
        }
        let properties = match &self.headers {
            None => PublishProperties::default(),
            Some(headers) => headers.render(event, services).map_err(fail)?,
        };
        let message = Message::new(topic, event.body.clone(), self.qos, false, properties);
        let next_depth = event.depth.saturating_add(1);
        let _depth = DepthGuard::enter(next_depth);
        services
            .broker
            .publish(message, &PublishOrigin::server(), None);
        Ok(())
    }
}

impl Headers {
    fn render(
        &self,
        event: &super::Event,
        services: &Services,
    ) -> Result<PublishProperties, String> {
        let render = |t: &Option<Template>| t.as_ref().map(|t| event.render(t, &services.env));
        let string = |field: &str, value: String| {
            MqttString::new(&value).map_err(|error| format!("headers.{field}: {error}"))
        };
        let mut properties = PublishProperties::default();
        if let Some(indicator) = render(&self.payload_format_indicator) {
            properties.payload_format_indicator = match indicator.as_str() {
                "UNSPECIFIED_BYTES" | "0" => Some(PayloadFormat::Unspecified),
                "UTF-8_DATA" | "UTF8_DATA" | "1" => Some(PayloadFormat::Utf8),
                "" => None,
                other => {
                    return Err(format!(
                        "headers.payloadFormatIndicator must be UNSPECIFIED_BYTES or UTF-8_DATA, not '{other}'"
                    ));
                }
            };
        }
        if let Some(value) = render(&self.content_type).filter(|v| !v.is_empty()) {
            properties.content_type = Some(string("contentType", value)?);
        }
        if let Some(value) = render(&self.response_topic).filter(|v| !v.is_empty()) {
            properties.response_topic = Some(string("responseTopic", value)?);
        }
        if let Some(value) = render(&self.correlation_data).filter(|v| !v.is_empty()) {
            let data = base64::engine::general_purpose::STANDARD
                .decode(value.as_bytes())
                .map_err(|error| format!("headers.correlationData is not base64: {error}"))?;
            properties.correlation_data = Some(Bytes::from(data));
        }
        if let Some(value) = render(&self.message_expiry).filter(|v| !v.is_empty()) {
            let seconds = value.trim().parse::<u32>().map_err(|_| {
                format!("headers.messageExpiry must be a number of seconds, not '{value}'")
            })?;
            properties.message_expiry_interval = Some(seconds);
        }
        for (key, value) in &self.user_properties {
            properties.user_properties.push(UserProperty::new(
                string("userProperties.key", event.render(key, &services.env))?,
                string("userProperties.value", event.render(value, &services.env))?,
            ));
        }
        Ok(properties)
    }
}

/// Whether `topic` is one of the reserved job topics, which AWS does not let rules republish to
/// (`$aws/things/{thing}/jobs/...`).
fn is_job_topic(topic: &str) -> bool {
    let mut levels = topic.split('/');
    matches!(
        (levels.next(), levels.next(), levels.next(), levels.next()),
        (Some("$aws"), Some("things"), Some(_), Some("jobs"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_topics_are_recognised() {
        assert!(is_job_topic("$aws/things/t/jobs/notify"));
        assert!(!is_job_topic("$aws/things/t/shadow/update"));
        assert!(!is_job_topic("aws/things/t/jobs"));
    }

    #[test]
    fn the_depth_guard_restores_the_previous_depth() {
        assert_eq!(current_depth(), 0);
        {
            let _outer = DepthGuard::enter(1);
            assert_eq!(current_depth(), 1);
            {
                let _inner = DepthGuard::enter(2);
                assert_eq!(current_depth(), 2);
            }
            assert_eq!(current_depth(), 1);
        }
        assert_eq!(current_depth(), 0);
    }
}
