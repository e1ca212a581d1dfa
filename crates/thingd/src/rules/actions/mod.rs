//! Rule actions: how one rule's result reaches each of its actions, each action's bounded queue
//! and worker tasks, failure accounting for the error action, and the engines behind them.
//!
//! A [`Target`] is one action compiled from AWS's shape (templates parsed once). An
//! [`ActionRunner`] owns its queue: [`ActionRunner::submit`] never waits (a full queue is a
//! failure of that action for that message), and `RulesOptions::action_concurrency` workers take
//! batches from it, so a slow action holds back nobody but itself. When every action of a rule
//! has finished with a message, an [`Invocation`] that saw a failure starts the rule's error
//! action once, with AWS's payload listing every failure (reference §5.7).

pub(crate) mod cloudwatch;
pub(crate) mod dynamodb;
pub(crate) mod firehose;
pub(crate) mod http;
pub(crate) mod kafka;
pub(crate) mod kinesis;
pub(crate) mod nats;
pub(crate) mod republish;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use base64::Engine as _;
use bytes::Bytes;
use parking_lot::Mutex;
use thingd_broker::{Broker, Message, PublishOrigin};
use thingd_rules::Action;
use thingd_sql::{Environment, Input, MqttProperties, Output, Payload, SqlVersion, Template};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::rules::RulesOptions;
use crate::rules::metrics::{ActionKind, RulesMetrics, inc};

/// What the SQL functions ask of the world beyond the message.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) account: String,
}

impl Environment for Env {
    fn account_id(&self) -> &str {
        &self.account
    }
}

/// One message a rule selected, with what its actions and their templates read: the original
/// message (templates see the original payload, reference §5.5), who published it, the SQL
/// result and the SET variables.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) rule: Arc<str>,
    pub(crate) message: Arc<Message>,
    pub(crate) origin: PublishOrigin,
    /// Whether it arrived through Basic Ingest (`$aws/rules/{rule}/...`).
    pub(crate) basic_ingest: bool,
    /// How many `republish` actions the message has passed through.
    pub(crate) depth: u8,
    trace_id: [u8; 36],
    user_properties: Vec<(String, String)>,
    /// The SELECT result (or the error action's payload) and the SET variables.
    pub(crate) output: Output,
    /// The bytes actions send: the JSON text of the result, or its raw bytes.
    pub(crate) body: Bytes,
}

/// What the rules engine knows of a message before evaluating it.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) message: Arc<Message>,
    pub(crate) origin: PublishOrigin,
    pub(crate) basic_ingest: bool,
    pub(crate) depth: u8,
}

/// The part of an [`Event`] known before evaluation, which [`Input`] borrows.
#[derive(Debug)]
pub(crate) struct Prepared {
    incoming: Incoming,
    trace_id: [u8; 36],
    user_properties: Vec<(String, String)>,
}

impl Prepared {
    /// Gives the message its trace id (a UUID, AWS's `traceid()` and `cloudwatchTraceId`) and
    /// collects its MQTT 5 user properties.
    pub(crate) fn new(incoming: Incoming) -> Prepared {
        let trace_id = next_trace_id();
        let user_properties = incoming
            .message
            .properties
            .user_properties
            .iter()
            .map(|p| (p.name.as_str().to_owned(), p.value.as_str().to_owned()))
            .collect();
        Prepared {
            incoming,
            trace_id,
            user_properties,
        }
    }

    /// The message as the SQL sees it; `rule` is the rule's name for Basic Ingest.
    pub(crate) fn input<'a>(&'a self, rule: &'a str) -> Input<'a> {
        input_of(
            &self.incoming.message,
            &self.incoming.origin,
            self.incoming.basic_ingest.then_some(rule),
            &self.trace_id,
            &self.user_properties,
        )
    }

    /// The event of a result.
    pub(crate) fn into_event(self, rule: Arc<str>, output: Output) -> Event {
        let body = match &output.payload {
            Payload::Bytes(bytes) => bytes.clone(),
            Payload::Json(_) => Bytes::from(output.to_payload()),
        };
        Event {
            rule,
            message: self.incoming.message,
            origin: self.incoming.origin,
            basic_ingest: self.incoming.basic_ingest,
            depth: self.incoming.depth,
            trace_id: self.trace_id,
            user_properties: self.user_properties,
            output,
            body,
        }
    }
}

/// A trace id for a message: a UUID (version 4 layout) unique within the process (a counter)
/// and across restarts (a random salt drawn once), without a system call per message.
fn next_trace_id() -> [u8; 36] {
    static SALT: OnceLock<[u8; 16]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = *SALT.get_or_init(|| *uuid::Uuid::new_v4().as_bytes());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    for (byte, c) in bytes[8..].iter_mut().zip(count.to_be_bytes()) {
        *byte ^= c;
    }
    let mut text = [0u8; 36];
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text);
    text
}

fn input_of<'a>(
    message: &'a Message,
    origin: &'a PublishOrigin,
    basic_ingest_rule: Option<&'a str>,
    trace_id: &'a [u8; 36],
    user_properties: &'a [(String, String)],
) -> Input<'a> {
    let properties = &message.properties;
    Input {
        topic: message.topic.as_str(),
        payload: &message.payload,
        client_id: origin.client_id.as_deref(),
        principal: origin.certificate_id.as_deref(),
        source_ip: origin
            .remote_addr
            .map(|a| a.ip())
            .map(|ip| ip.to_canonical()),
        timestamp_ms: i64::try_from(message.received_at_ms).unwrap_or(i64::MAX),
        trace_id: std::str::from_utf8(trace_id).ok(),
        mqtt: MqttProperties {
            format_indicator: properties.payload_format_indicator.map(|f| match f {
                mqtt_codec::PayloadFormat::Unspecified => 0,
                mqtt_codec::PayloadFormat::Utf8 => 1,
            }),
            content_type: properties.content_type.as_ref().map(|s| s.as_str()),
            response_topic: properties.response_topic.as_ref().map(|s| s.as_str()),
            correlation_data: properties.correlation_data.as_deref(),
            user_properties,
        },
        basic_ingest_rule,
    }
}

impl Event {
    /// The original message as the SQL and the templates see it.
    pub(crate) fn input(&self) -> Input<'_> {
        input_of(
            &self.message,
            &self.origin,
            self.basic_ingest.then_some(&*self.rule),
            &self.trace_id,
            &self.user_properties,
        )
    }

    /// The message's trace id (AWS's `cloudwatchTraceId`).
    pub(crate) fn trace_id(&self) -> &str {
        std::str::from_utf8(&self.trace_id).unwrap_or_default()
    }

    /// Renders one of the action's templates on the original message and the SET variables.
    pub(crate) fn render(&self, template: &Template, env: &Env) -> String {
        template.render(&self.input(), env, &self.output.variables)
    }

    /// The JSON result, if the result is JSON.
    pub(crate) fn json(&self) -> Option<&serde_json::Value> {
        self.output.json()
    }

    /// The error action's event for this message: AWS's payload listing `failures`, with the
    /// same original message and SET variables for its templates.
    fn error_event(&self, failures: &[Failure]) -> Event {
        let payload = serde_json::json!({
            "ruleName": &*self.rule,
            "topic": self.message.topic.as_str(),
            "cloudwatchTraceId": self.trace_id(),
            "clientId": self.origin.client_id.as_deref().unwrap_or("n/a"),
            "base64OriginalPayload":
                base64::engine::general_purpose::STANDARD.encode(&self.message.payload),
            "failures": failures.iter().map(|f| serde_json::json!({
                "failedAction": f.action,
                "failedResource": f.resource,
                "errorMessage": f.message,
            })).collect::<Vec<_>>(),
        });
        let body = Bytes::from(payload.to_string());
        Event {
            rule: self.rule.clone(),
            message: self.message.clone(),
            origin: self.origin.clone(),
            basic_ingest: self.basic_ingest,
            depth: self.depth,
            trace_id: self.trace_id,
            user_properties: self.user_properties.clone(),
            output: Output {
                payload: Payload::Json(payload),
                variables: self.output.variables.clone(),
            },
            body,
        }
    }
}

/// Why one delivery of an action failed: AWS's `failedResource` and `errorMessage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActionError {
    /// The resource the action was writing to, as rendered for this message (a topic, a URL,
    /// a table).
    pub(crate) resource: String,
    /// What went wrong.
    pub(crate) message: String,
}

impl ActionError {
    pub(crate) fn new(resource: impl Into<String>, message: impl Into<String>) -> ActionError {
        ActionError {
            resource: resource.into(),
            message: message.into(),
        }
    }
}

/// One failed action in an error action's payload.
#[derive(Clone, Debug)]
struct Failure {
    action: &'static str,
    resource: String,
    message: String,
}

/// One rule invocation with an error action: counts the actions still running and collects
/// their failures, then starts the error action once if any failed.
pub(crate) struct Invocation {
    remaining: AtomicUsize,
    failures: Mutex<Vec<Failure>>,
    error_action: Arc<ActionRunner>,
}

impl Invocation {
    /// An invocation of `actions` actions whose failures go to `error_action`.
    pub(crate) fn new(actions: usize, error_action: Arc<ActionRunner>) -> Arc<Invocation> {
        Arc::new(Invocation {
            remaining: AtomicUsize::new(actions),
            failures: Mutex::new(Vec::new()),
            error_action,
        })
    }

    fn finished(&self, event: &Arc<Event>, failure: Option<Failure>) {
        if let Some(failure) = failure {
            self.failures.lock().push(failure);
        }
        // AcqRel: the last action to finish sees every failure the others pushed.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let failures = std::mem::take(&mut *self.failures.lock());
        if failures.is_empty() {
            return;
        }
        inc(&self.error_action.services.metrics.error_actions);
        let error_event = Arc::new(event.error_event(&failures));
        self.error_action.submit(Job {
            event: error_event,
            invocation: None,
        });
    }
}

/// One delivery for one action: the event and, for rules with an error action, the
/// invocation it reports to.
pub(crate) struct Job {
    pub(crate) event: Arc<Event>,
    pub(crate) invocation: Option<Arc<Invocation>>,
}

impl Job {
    fn finish(self, kind: ActionKind, failure: Option<ActionError>) {
        if let Some(invocation) = self.invocation {
            let failure = failure.map(|error| Failure {
                action: kind.aws_name(),
                resource: error.resource,
                message: error.message,
            });
            invocation.finished(&self.event, failure);
        }
    }
}

/// An action compiled for running: its templates parsed, its engine chosen.
pub(crate) enum Target {
    Republish(republish::Republish),
    Http(http::Http),
    DynamoDb(dynamodb::PutItem),
    Kinesis(kinesis::Kinesis),
    Firehose(firehose::Firehose),
    Kafka(kafka::Kafka),
    CloudwatchMetric(cloudwatch::PutMetric),
    /// An action thingd cannot run as defined (a template that does not parse, a feature it
    /// does not have): every delivery fails with the reason, so the error action hears of it.
    Broken {
        resource: String,
        reason: String,
    },
}

impl Target {
    /// Compiles `action` for a rule of SQL `version`.
    pub(crate) fn compile(action: &Action, version: SqlVersion) -> (ActionKind, Target) {
        let resource = action.resource().to_owned();
        let (kind, compiled) = match action {
            Action::Republish(a) => (
                ActionKind::Republish,
                republish::Republish::compile(a, version).map(Target::Republish),
            ),
            Action::Http(a) => (
                ActionKind::Http,
                http::Http::compile(a, version).map(Target::Http),
            ),
            Action::DynamoDBv2(a) => (
                ActionKind::DynamoDbV2,
                dynamodb::PutItem::compile(a, version).map(Target::DynamoDb),
            ),
            Action::Kinesis(a) => (
                ActionKind::Kinesis,
                kinesis::Kinesis::compile(a, version).map(Target::Kinesis),
            ),
            Action::Firehose(a) => (
                ActionKind::Firehose,
                firehose::Firehose::compile(a, version).map(Target::Firehose),
            ),
            Action::Kafka(a) => (
                ActionKind::Kafka,
                kafka::Kafka::compile(a, version).map(Target::Kafka),
            ),
            Action::CloudwatchMetric(a) => (
                ActionKind::CloudwatchMetric,
                cloudwatch::PutMetric::compile(a, version).map(Target::CloudwatchMetric),
            ),
        };
        let target = compiled.unwrap_or_else(|reason| Target::Broken { resource, reason });
        (kind, target)
    }

    /// The most deliveries one worker hands the engine at once.
    fn batch_limit(&self, options: &RulesOptions) -> usize {
        match self {
            Target::DynamoDb(_) | Target::Kinesis(_) | Target::Firehose(_) | Target::Kafka(_) => {
                options.batch_size.max(1)
            }
            _ => 1,
        }
    }

    /// How many workers the action gets. Actions that wait on one request per message (http)
    /// get `action_concurrency`; the others get one, which keeps the order of the messages
    /// (batching gives the engines their throughput, republish and metrics do not wait).
    fn workers(&self, options: &RulesOptions) -> usize {
        match self {
            Target::Http(_) => options.action_concurrency.max(1),
            _ => 1,
        }
    }

    /// How long one batch may take before each of its deliveries counts as failed.
    fn timeout(&self, options: &RulesOptions) -> Duration {
        match self {
            // The request has its own timeout (AWS's 3 s); this is a backstop.
            Target::Http(_) => options.http_timeout + Duration::from_secs(1),
            _ => options.action_timeout,
        }
    }

    /// Delivers a batch; one result per job, in order.
    async fn run(&self, batch: &[Job], services: &Services) -> Vec<Result<(), ActionError>> {
        match self {
            Target::Republish(action) => {
                batch.iter().map(|job| action.run(job, services)).collect()
            }
            Target::Http(action) => {
                let mut results = Vec::with_capacity(batch.len());
                for job in batch {
                    results.push(action.run(job, services).await);
                }
                results
            }
            Target::DynamoDb(action) => action.run(batch, services).await,
            Target::Kinesis(action) => action.run(batch, services).await,
            Target::Firehose(action) => action.run(batch, services).await,
            Target::Kafka(action) => action.run(batch, services).await,
            Target::CloudwatchMetric(action) => {
                batch.iter().map(|job| action.run(job, services)).collect()
            }
            Target::Broken { resource, reason } => batch
                .iter()
                .map(|_| Err(ActionError::new(resource.clone(), reason.clone())))
                .collect(),
        }
    }
}

/// Parses an action field that AWS lets hold substitution templates.
pub(crate) fn template(field: &str, text: &str, version: SqlVersion) -> Result<Template, String> {
    Template::parse(text, version)
        .map_err(|error| format!("The template in {field} does not parse: {error}"))
}

/// What every action shares: the broker, the clients of the engines, the configuration.
pub(crate) struct Services {
    pub(crate) broker: Broker,
    pub(crate) env: Env,
    pub(crate) options: RulesOptions,
    pub(crate) metrics: Arc<RulesMetrics>,
    pub(crate) http: http::HttpClient,
    /// The confirmation URLs of the ENABLED topic rule destinations.
    pub(crate) destinations: ArcSwap<Vec<String>>,
    pub(crate) tables: dynamodb::Tables,
    pub(crate) nats: nats::Nats,
    pub(crate) kafka: kafka::KafkaClients,
    pub(crate) cloudwatch: cloudwatch::CloudwatchMetrics,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

/// An action's queue and the identity its failures are reported under.
pub(crate) struct ActionRunner {
    kind: ActionKind,
    /// The action's resource as written, for failures that happen before rendering.
    resource: String,
    queue: mpsc::Sender<Job>,
    services: Arc<Services>,
    last_warning_ms: Arc<AtomicU64>,
}

impl ActionRunner {
    /// Starts the workers of `target`; they stop when every handle to the runner is gone and
    /// its queue drained, or when the engine shuts down.
    pub(crate) fn start(
        kind: ActionKind,
        resource: String,
        target: Target,
        services: &Arc<Services>,
    ) -> Arc<ActionRunner> {
        let (queue, receiver) = mpsc::channel(services.options.action_queue.max(1));
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let target = Arc::new(target);
        let last_warning_ms = Arc::new(AtomicU64::new(0));
        for _ in 0..target.workers(&services.options) {
            services.tasks.spawn(work(
                kind,
                resource.clone(),
                target.clone(),
                receiver.clone(),
                services.clone(),
                last_warning_ms.clone(),
            ));
        }
        Arc::new(ActionRunner {
            kind,
            resource,
            queue,
            services: services.clone(),
            last_warning_ms,
        })
    }

    /// Queues a delivery without waiting: a full queue fails it at once.
    pub(crate) fn submit(&self, job: Job) {
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Closed(job)) => {
                inc(&self.services.metrics.action(self.kind).dropped);
                let error = ActionError::new(
                    self.resource.clone(),
                    format!(
                        "The {} action's queue is full ({} waiting); the message was dropped",
                        self.kind.label(),
                        self.services.options.action_queue
                    ),
                );
                warn_now_and_then(&self.last_warning_ms, self.kind, &job.event, &error);
                job.finish(self.kind, Some(error));
            }
        }
    }
}

/// One worker of an action: takes a batch, delivers it within the action's timeout, reports.
async fn work(
    kind: ActionKind,
    resource: String,
    target: Arc<Target>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    services: Arc<Services>,
    last_warning_ms: Arc<AtomicU64>,
) {
    let limit = target.batch_limit(&services.options);
    let timeout = target.timeout(&services.options);
    let mut batch = Vec::with_capacity(limit);
    loop {
        let received = {
            let mut receiver = receiver.lock().await;
            tokio::select! {
                received = receiver.recv_many(&mut batch, limit) => received,
                () = services.shutdown.cancelled() => 0,
            }
        };
        if received == 0 {
            return;
        }
        let results = tokio::time::timeout(timeout, target.run(&batch, &services))
            .await
            .unwrap_or_default();
        let counters = services.metrics.action(kind);
        for (i, job) in batch.drain(..).enumerate() {
            let result = results.get(i).cloned().unwrap_or_else(|| {
                Err(ActionError::new(
                    resource.clone(),
                    format!("The {} action timed out after {timeout:?}", kind.label()),
                ))
            });
            match result {
                Ok(()) => {
                    inc(&counters.succeeded);
                    job.finish(kind, None);
                }
                Err(error) => {
                    inc(&counters.failed);
                    warn_now_and_then(&last_warning_ms, kind, &job.event, &error);
                    job.finish(kind, Some(error));
                }
            }
        }
    }
}

/// Logs an action failure: each at debug, and at most one every ten seconds per action at warn,
/// so that a failing engine is visible without a log line per message.
fn warn_now_and_then(last_ms: &AtomicU64, kind: ActionKind, event: &Event, error: &ActionError) {
    const QUIET_MS: u64 = 10_000;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let last = last_ms.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= QUIET_MS
        && last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        warn!(
            message = "A rule action failed (further failures of this action are logged at debug for 10 s).",
            rule = %event.rule, action = kind.label(), resource = %error.resource, error = %error.message
        );
    } else {
        debug!(
            message = "A rule action failed.",
            rule = %event.rule, action = kind.label(), resource = %error.resource, error = %error.message
        );
    }
}
