//! Helpers of the rules tests: a thingd with rules options, rules put straight into the store
//! (and announced as the API announces them), MQTT 5 clients (rumqttc) whose events go to a
//! channel, an HTTP receiver on loopback, and waits that end on events, never on elapsed time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use serde_json::Value;
use testkit::TestServer;
use thingd::rules::RulesOptions;
use thingd_registry::{RuleStore, Timestamp, TopicRuleDestinationRecord, TopicRuleRecord};
use tokio::sync::mpsc;

/// How long any single wait may take before the test fails: a guard, not a synchronisation.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `future` within [`TIMEOUT`].
pub(crate) async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("timed out waiting")
}

/// Polls `check` until it gives a value, within [`TIMEOUT`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A thingd with the rules options `configure` sets.
pub(crate) async fn start(configure: impl FnOnce(&mut RulesOptions)) -> TestServer {
    TestServer::start_configured(|options| configure(&mut options.rules))
        .await
        .expect("a test server")
}

/// Creates or replaces the rule `name` in the store and waits until the engine runs it, as
/// CreateTopicRule and ReplaceTopicRule do through `RegistryEvents::topic_rule_changed`.
pub(crate) async fn put_rule(server: &TestServer, name: &str, payload: Value) {
    let payload = payload.to_string();
    let disabled = false;
    let store = server.store();
    if store.topic_rule(name).await.expect("the store").is_some() {
        assert!(
            store
                .replace_topic_rule(name, &payload, disabled)
                .await
                .expect("the store")
        );
    } else {
        store
            .insert_topic_rule(&TopicRuleRecord {
                name: name.to_owned(),
                payload,
                disabled,
                created: Timestamp::now(),
            })
            .await
            .expect("the store");
    }
    announce(server, name).await;
}

/// Announces a change of rule `name` as the API does, and waits until it is applied.
pub(crate) async fn announce(server: &TestServer, name: &str) {
    use thingd_api::RegistryEvents as _;
    server.rules().topic_rule_changed(name);
    within(server.rules().settled()).await;
}

/// Adds an ENABLED topic rule destination for `url` and has the engine reload destinations.
pub(crate) async fn enabled_destination(server: &TestServer, url: &str) {
    use thingd_api::RegistryEvents as _;
    let now = Timestamp::now();
    server
        .store()
        .insert_topic_rule_destination(&TopicRuleDestinationRecord {
            arn: format!(
                "arn:aws:iot:us-east-1:000000000000:ruledestination/http/{}",
                uuid::Uuid::new_v4()
            ),
            confirmation_url: url.to_owned(),
            status: "ENABLED".to_owned(),
            status_reason: None,
            confirmation_token: None,
            created: now,
            updated: now,
        })
        .await
        .expect("the store");
    server.rules().topic_rule_destination_changed("any");
    within(server.rules().settled()).await;
}

/// A republish action to `topic` (a template) at QoS 1.
pub(crate) fn republish(topic: &str) -> Value {
    serde_json::json!({"republish": {"roleArn": "arn:aws:iam::000000000000:role/r", "topic": topic, "qos": 1}})
}

/// The `/metrics` text of `server`.
pub(crate) async fn metrics(server: &TestServer) -> String {
    let mut out = server.broker().render_metrics();
    server.rules().render_metrics(&mut out);
    out
}

/// The value of the sample `series` (name with labels) in `/metrics`, 0 when absent.
pub(crate) async fn metric(server: &TestServer, series: &str) -> f64 {
    let text = metrics(server).await;
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|value| value.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// Waits until the sample `series` reaches at least `value`.
pub(crate) async fn metric_reaches(server: &TestServer, series: &str, value: f64) {
    eventually(series, || async {
        (metric(server, series).await >= value).then_some(())
    })
    .await;
}

/// Waits until the action `action` has succeeded `count` times in all.
pub(crate) async fn actions_succeeded(server: &TestServer, action: &str, count: f64) {
    let series = format!("thingd_rules_action_succeeded_total{{action=\"{action}\"}}");
    metric_reaches(server, &series, count).await;
}

/// An MQTT 5 client over the plain listener (held to the allow-all policy).
pub(crate) struct Mqtt {
    pub(crate) client: AsyncClient,
    publishes: mpsc::UnboundedReceiver<Publish>,
    acks: mpsc::UnboundedReceiver<Packet>,
}

impl Mqtt {
    /// Connects as `client_id` and waits for the CONNACK.
    pub(crate) async fn connect(server: &TestServer, client_id: &str) -> Mqtt {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", server.mqtt_tcp.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        let (publish_tx, publishes) = mpsc::unbounded_channel();
        let (ack_tx, mut acks) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(event) = eventloop.poll().await {
                if let Event::Incoming(packet) = event {
                    match packet {
                        Packet::Publish(publish) => {
                            let _ = publish_tx.send(publish);
                        }
                        other => {
                            let _ = ack_tx.send(other);
                        }
                    }
                }
            }
        });
        within(async {
            loop {
                if let Some(Packet::ConnAck(_)) = acks.recv().await {
                    break;
                }
            }
        })
        .await;
        Mqtt {
            client,
            publishes,
            acks,
        }
    }

    /// Connects as `client_id` and subscribes to `errors/#`, where the tests' error actions
    /// republish.
    pub(crate) async fn errors_watcher(server: &TestServer, client_id: &str) -> Mqtt {
        let mut watcher = Mqtt::connect(server, client_id).await;
        watcher.subscribe("errors/#").await;
        watcher
    }

    /// Subscribes to `filter` at QoS 1 and waits for the SUBACK.
    pub(crate) async fn subscribe(&mut self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        self.wait_ack(|p| matches!(p, Packet::SubAck(_))).await;
    }

    async fn wait_ack(&mut self, pick: impl Fn(&Packet) -> bool) -> Packet {
        within(async {
            loop {
                let packet = self.acks.recv().await.expect("the event loop ended");
                if pick(&packet) {
                    return packet;
                }
            }
        })
        .await
    }

    /// Publishes at QoS 1 and waits for the PUBACK: the message has gone through the hooks.
    pub(crate) async fn publish(&mut self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.publish_with(topic, payload, PublishProperties::default())
            .await;
    }

    /// Publishes at QoS 1 with MQTT 5 properties and waits for the PUBACK.
    pub(crate) async fn publish_with(
        &mut self,
        topic: &str,
        payload: impl Into<Vec<u8>>,
        properties: PublishProperties,
    ) {
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, payload.into(), properties)
            .await
            .expect("publish");
        self.wait_ack(|p| matches!(p, Packet::PubAck(_))).await;
    }

    /// The next message received.
    pub(crate) async fn next(&mut self) -> Publish {
        within(self.publishes.recv())
            .await
            .expect("the event loop ended")
    }

    /// The next message received, as JSON, with its topic.
    pub(crate) async fn next_json(&mut self) -> (String, Value) {
        let publish = self.next().await;
        let topic = String::from_utf8_lossy(&publish.topic).into_owned();
        let json = serde_json::from_slice(&publish.payload)
            .unwrap_or_else(|e| panic!("not JSON on {topic}: {e}: {:?}", publish.payload));
        (topic, json)
    }

    /// Whatever arrived and was not read yet, without waiting.
    pub(crate) fn drain(&mut self) -> Vec<Publish> {
        let mut out = Vec::new();
        while let Ok(publish) = self.publishes.try_recv() {
            out.push(publish);
        }
        out
    }
}

/// What an HTTP receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// How an HTTP receiver answers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Answer {
    /// With this status.
    Status(u16),
    /// Never: the request waits until the test ends.
    Stall,
}

#[derive(Clone)]
struct ReceiverState {
    answer: Answer,
    tx: mpsc::UnboundedSender<Received>,
}

/// An HTTP server on loopback that records every request and answers as told.
pub(crate) struct HttpReceiver {
    pub(crate) addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Received>,
}

impl HttpReceiver {
    pub(crate) async fn start(answer: Answer) -> HttpReceiver {
        async fn handle(
            State(state): State<ReceiverState>,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let _ = state.tx.send(Received {
                path: uri.to_string(),
                headers,
                body,
            });
            match state.answer {
                Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
                Answer::Stall => std::future::pending().await,
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(ReceiverState { answer, tx });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpReceiver { addr, rx }
    }

    /// `http://127.0.0.1:{port}`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next request.
    pub(crate) async fn next(&mut self) -> Received {
        within(self.rx.recv()).await.expect("the receiver stopped")
    }
}

/// A TCP server on loopback that accepts connections and never says anything: a peer that
/// stalls (NATS, Kafka).
pub(crate) async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// A loopback port with nothing listening.
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// An error action republishing to `topic`.
pub(crate) fn error_to(topic: &str) -> Value {
    republish(topic)
}

/// Checks the shape of an error action payload (reference §5.7) and returns its failures.
pub(crate) fn check_error_payload(
    payload: &Value,
    rule: &str,
    topic: &str,
    client_id: &str,
    original: &[u8],
) -> Vec<Value> {
    use base64::Engine as _;
    assert_eq!(payload["ruleName"], rule, "{payload}");
    assert_eq!(payload["topic"], topic, "{payload}");
    assert_eq!(payload["clientId"], client_id, "{payload}");
    let trace = payload["cloudwatchTraceId"].as_str().expect("a trace id");
    assert!(uuid::Uuid::parse_str(trace).is_ok(), "{trace}");
    assert_eq!(
        payload["base64OriginalPayload"],
        base64::engine::general_purpose::STANDARD.encode(original)
    );
    let failures = payload["failures"].as_array().expect("failures").clone();
    assert!(!failures.is_empty());
    for failure in &failures {
        assert!(
            failure["failedAction"]
                .as_str()
                .is_some_and(|s| s.ends_with("Action"))
        );
        assert!(failure["failedResource"].is_string());
        assert!(
            failure["errorMessage"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
    failures
}

/// A shared flag for hooks that stall.
pub(crate) type Gate = Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>;
