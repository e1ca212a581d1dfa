//! The Device Shadow service: classic and named shadows over MQTT
//! (`$aws/things/{thing}/shadow[/name/{shadow}]/{get,update,delete}`) and for the HTTPS data
//! plane, built on the pure `thingd_shadow` crate and the registry's [`ShadowStore`].
//!
//! How a request flows:
//! 1. A client publishes to a request topic. The broker authorizes it (`iot:Publish`), routes it
//!    to any subscribers, and calls the service's [`PublishHook`] on the publishing connection's
//!    task. The hook only parses the topic and pushes the message into the bounded queue of the
//!    worker that owns the shadow (the hash of thing and shadow name picks it); a full queue is
//!    answered at once on `/rejected` with AWS's 429 `Too Many Requests`. The HTTPS data plane
//!    enters through [`ShadowService::get`], [`ShadowService::update`] and
//!    [`ShadowService::delete`], which queue the same way and wait for the answer.
//! 2. A worker takes everything queued, up to the batch size, groups it by shadow and applies each
//!    shadow's requests in arrival order to its current document (from the worker's cache, or
//!    read from the store). Every shadow belongs to exactly one worker, so its requests are
//!    serialised and its versions never repeat.
//! 3. The new documents of all shadows the batch changed are written in one transaction
//!    ([`ShadowStore::put_shadows`]: one fsync for the batch, the group commit), each
//!    conditionally on the version it was computed from. One committer task writes them, with
//!    the batches of the other workers that are ready at the time: SQLite has a single writer,
//!    and workers taking turns at its lock would each pay a sync (and its busy handler's sleeps).
//!    Only then are the answers published
//!    (through [`Broker::publish`], so subscribers' `iot:Receive` policies and the rules see them)
//!    and the HTTPS callers answered.
//! 4. A shadow whose conditional write failed (another node on the same database wrote it) is
//!    read again and its requests recomputed. An answer computed from the cache without a write
//!    that confirms it (a get, a 404, a 409) is recomputed from the store, so a cache never
//!    answers with a document another node has changed.
//!
//! Choices where AWS documents nothing:
//! - Responses are published at QoS 1: a subscriber gets them at the QoS it subscribed with
//!   (AWS's SDK team: "the delivery effort is configured by the QoS level when you send out the
//!   subscribe request"), whatever the request's QoS.
//! - The hook serves the six request topics only. Publishing to a response topic or to an
//!   unknown operation under the shadow prefix is refused by the broker like any other `$` topic
//!   (AWS: "Unsupported publish or subscribe operations to reserved topics can result in a
//!   terminated connection"), so no client can forge the service's answers.
//! - A request whose thing or shadow name breaks AWS's rules is answered on its `/rejected` topic
//!   with 400 and the rule broken; one with an empty name level cannot be answered (its response
//!   topic would be as malformed) and is dropped, counted.
//! - Responses to an MQTT request carry the requester's [`PublishOrigin`], so that rules on the
//!   response topics see who caused them.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mqtt_codec::QoS;
use mqtt_topic::{TopicFilter, TopicLimits, TopicName};
use parking_lot::Mutex;
use thingd_broker::metrics::render_gauge;
use thingd_broker::{Broker, HookId, HookOptions, Message, PublishHook, PublishOrigin};
use thingd_registry::{PageRequest, ShadowRecord, ShadowStore, Timestamp};
use thingd_shadow::{
    MAX_PAYLOAD_BYTES, Operation, Outcome, ShadowDocument, ShadowError, StoredShadow, apply_delete,
    apply_update, get_response, parse_client_token, parse_request_topic, parse_update,
    response_topic, validate_shadow_name, validate_thing_name,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// The request topics the service serves: `{get,update,delete}` of classic and named shadows.
const REQUEST_FILTERS: [&str; 6] = [
    "$aws/things/+/shadow/get",
    "$aws/things/+/shadow/update",
    "$aws/things/+/shadow/delete",
    "$aws/things/+/shadow/name/+/get",
    "$aws/things/+/shadow/name/+/update",
    "$aws/things/+/shadow/name/+/delete",
];

/// How often a batch recomputes a shadow whose conditional write keeps failing (other nodes
/// writing it at the same time) before answering 500.
const MAX_ATTEMPTS: usize = 16;

/// The largest page ListNamedShadowsForThing serves (BC: `pageSize` 1 to 100).
pub const MAX_LIST_PAGE_SIZE: usize = 100;

/// How the shadow service queues and batches its work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowConfig {
    /// Requests waiting per worker; past it new requests are answered 429 `Too Many Requests`.
    pub queue_capacity: usize,
    /// Workers; each owns the shadows that hash to it and writes them in its own transactions.
    pub workers: usize,
    /// The most requests a worker applies and writes in one transaction.
    pub batch_size: usize,
    /// Shadow documents kept in memory, over all workers (0: none), to spare an update the read
    /// of the document it changes.
    pub cache_capacity: usize,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        ShadowConfig {
            queue_capacity: 1024,
            workers: 4,
            batch_size: 128,
            cache_capacity: 4096,
        }
    }
}

/// The service's counters, rendered on `/metrics` by [`ShadowService::render_metrics`].
#[derive(Debug, Default)]
pub struct ShadowMetrics {
    /// Requests received (MQTT and HTTPS).
    pub requests_total: AtomicU64,
    /// Requests answered with success.
    pub accepted_total: AtomicU64,
    /// Requests answered with an error (throttled ones included).
    pub rejected_total: AtomicU64,
    /// Requests answered 429 because their worker's queue was full.
    pub throttled_total: AtomicU64,
    /// Requests that got no answer: malformed beyond answering, or arriving during shutdown.
    pub dropped_total: AtomicU64,
    /// Transactions written (each holds the changed shadows of every worker's batch waiting).
    pub write_batches_total: AtomicU64,
    /// Shadow documents written.
    pub writes_total: AtomicU64,
    /// Conditional writes that failed because the stored version had moved.
    pub write_conflicts_total: AtomicU64,
}

/// The Device Shadow service (see the module documentation).
pub struct ShadowService {
    queues: Arc<Queues>,
    hooks: Mutex<Vec<HookId>>,
    stop: CancellationToken,
    workers: TaskTracker,
}

impl fmt::Debug for ShadowService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShadowService")
            .field("config", &self.queues.shared.config)
            .finish_non_exhaustive()
    }
}

impl ShadowService {
    /// Registers the broker hook on the shadow request topics (`$aws/things/+/shadow/...`) and
    /// starts the workers.
    pub fn start(
        store: Arc<dyn ShadowStore>,
        broker: Broker,
        config: ShadowConfig,
    ) -> Arc<ShadowService> {
        let config = ShadowConfig {
            queue_capacity: config.queue_capacity.max(1),
            workers: config.workers.max(1),
            batch_size: config.batch_size.max(1),
            cache_capacity: config.cache_capacity,
        };
        let metrics = Arc::new(ShadowMetrics::default());
        let shared = Arc::new(Shared {
            store: store.clone(),
            broker: broker.clone(),
            metrics: metrics.clone(),
            config: config.clone(),
        });
        let stop = CancellationToken::new();
        let workers = TaskTracker::new();
        // Each worker has at most one batch being committed.
        let (committer, commits) = mpsc::channel(config.workers);
        workers.spawn(commit_batches(store, metrics, commits, config.workers));
        let mut senders = Vec::with_capacity(config.workers);
        let cache_capacity = config.cache_capacity.div_ceil(config.workers);
        for _ in 0..config.workers {
            let (sender, receiver) = mpsc::channel(config.queue_capacity);
            senders.push(sender);
            let worker = Worker {
                shared: shared.clone(),
                receiver,
                committer: committer.clone(),
                cache: ShadowCache::new(cache_capacity),
            };
            workers.spawn(worker.run(stop.clone()));
        }
        // The committer stops once every worker has (and dropped its sender).
        drop(committer);
        workers.close();
        let queues = Arc::new(Queues {
            senders,
            hasher: RandomState::new(),
            shared,
        });
        // The hook holds the queues weakly: the broker keeps its hooks, and a strong reference
        // would keep the service (and through it the broker) alive forever.
        let hook: Arc<dyn PublishHook> = Arc::new(RequestHook {
            queues: Arc::downgrade(&queues),
        });
        let options = HookOptions {
            accepts_system_topics: true,
            hook_only: false,
        };
        let mut ids = Vec::with_capacity(REQUEST_FILTERS.len());
        for filter in REQUEST_FILTERS {
            match TopicFilter::parse(filter, &TopicLimits::MQTT) {
                Ok(filter) => ids.push(broker.add_publish_hook(filter, options, hook.clone())),
                // The filters are constants known to be valid.
                Err(error) => warn!(message = "Invalid shadow topic filter.", filter, %error),
            }
        }
        Arc::new(ShadowService {
            queues,
            hooks: Mutex::new(ids),
            stop,
            workers,
        })
    }

    /// GetThingShadow: the document AWS returns (state incl. delta, metadata, version,
    /// timestamp), or the error (404 for a shadow that does not exist).
    pub async fn get(&self, thing: &str, shadow: Option<&str>) -> Result<Vec<u8>, ShadowError> {
        self.call(
            thing,
            shadow,
            Operation::Get,
            Bytes::new(),
            PublishOrigin::server(),
        )
        .await
    }

    /// UpdateThingShadow: the `/update/accepted` document; publishes accepted, delta and
    /// documents on MQTT too, once the update is durable.
    pub async fn update(
        &self,
        thing: &str,
        shadow: Option<&str>,
        payload: &[u8],
        origin: &PublishOrigin,
    ) -> Result<Vec<u8>, ShadowError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            // Refused before it is copied.
            self.queues.shared.count_request();
            inc(&self.queues.shared.metrics.rejected_total);
            return Err(ShadowError::payload_too_large());
        }
        self.call(
            thing,
            shadow,
            Operation::Update,
            Bytes::copy_from_slice(payload),
            origin.clone(),
        )
        .await
    }

    /// DeleteThingShadow: `{"version","timestamp"}`; publishes `/delete/accepted` too, once the
    /// delete is durable.
    pub async fn delete(
        &self,
        thing: &str,
        shadow: Option<&str>,
        origin: &PublishOrigin,
    ) -> Result<Vec<u8>, ShadowError> {
        self.call(
            thing,
            shadow,
            Operation::Delete,
            Bytes::new(),
            origin.clone(),
        )
        .await
    }

    /// ListNamedShadowsForThing: the names of the thing's named shadows in name order, at most
    /// `page_size` (1 to 100), after `next_token`, and the token of the next page. A thing with
    /// no named shadow (or no such thing) has an empty list, as in AWS IoT.
    pub async fn list_named(
        &self,
        thing: &str,
        page_size: usize,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), ShadowError> {
        validate_thing_name(thing)?;
        if page_size == 0 || page_size > MAX_LIST_PAGE_SIZE {
            return Err(ShadowError::new(
                400,
                format!("pageSize must be between 1 and {MAX_LIST_PAGE_SIZE}"),
            ));
        }
        // The token is the last name of the previous page: anything else was not ours.
        if let Some(token) = next_token
            && validate_shadow_name(token).is_err()
        {
            return Err(ShadowError::new(400, "Invalid nextToken"));
        }
        let page = PageRequest::ascending(next_token.map(str::to_owned), page_size);
        match self.queues.shared.store.named_shadows(thing, &page).await {
            Ok(page) => Ok((page.items, page.next)),
            Err(error) => {
                warn!(message = "Listing named shadows failed.", thing, %error);
                Err(ShadowError::internal())
            }
        }
    }

    /// The service's counters.
    pub fn metrics(&self) -> &ShadowMetrics {
        &self.queues.shared.metrics
    }

    /// Appends the service's metrics, `thingd_shadow_`-prefixed, in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let metrics = &self.queues.shared.metrics;
        let counters: [(&str, &str, &AtomicU64); 8] = [
            (
                "shadow_requests_total",
                "Device Shadow requests received (MQTT and HTTPS).",
                &metrics.requests_total,
            ),
            (
                "shadow_requests_accepted_total",
                "Device Shadow requests answered with success.",
                &metrics.accepted_total,
            ),
            (
                "shadow_requests_rejected_total",
                "Device Shadow requests answered with an error, throttled ones included.",
                &metrics.rejected_total,
            ),
            (
                "shadow_requests_throttled_total",
                "Device Shadow requests answered 429 because their queue was full.",
                &metrics.throttled_total,
            ),
            (
                "shadow_requests_dropped_total",
                "Device Shadow requests not answered (malformed topic, or arriving at shutdown).",
                &metrics.dropped_total,
            ),
            (
                "shadow_write_batches_total",
                "Transactions the shadow service wrote.",
                &metrics.write_batches_total,
            ),
            (
                "shadow_writes_total",
                "Shadow documents written.",
                &metrics.writes_total,
            ),
            (
                "shadow_write_conflicts_total",
                "Conditional shadow writes that found the stored version moved.",
                &metrics.write_conflicts_total,
            ),
        ];
        for (name, help, counter) in counters {
            use std::fmt::Write;
            let _ = writeln!(out, "# HELP thingd_{name} {help}");
            let _ = writeln!(out, "# TYPE thingd_{name} counter");
            let _ = writeln!(out, "thingd_{name} {}", counter.load(Ordering::Relaxed));
        }
        let queued: usize = self
            .queues
            .senders
            .iter()
            .map(|sender| sender.max_capacity() - sender.capacity())
            .sum();
        render_gauge(
            out,
            "shadow_requests_queued",
            "Device Shadow requests waiting for a worker.",
            queued as u64,
        );
    }

    /// Stops taking requests (MQTT requests are refused by the broker from now on, HTTPS calls
    /// answered 503), answers those already queued, and waits for the workers to finish.
    pub async fn shutdown(&self) {
        self.remove_hooks();
        self.stop.cancel();
        self.workers.wait().await;
    }

    fn remove_hooks(&self) {
        let ids = std::mem::take(&mut *self.hooks.lock());
        for id in ids {
            self.queues.shared.broker.remove_publish_hook(id);
        }
    }

    /// Queues an HTTPS request and waits for its answer.
    async fn call(
        &self,
        thing: &str,
        shadow: Option<&str>,
        operation: Operation,
        payload: Bytes,
        origin: PublishOrigin,
    ) -> Result<Vec<u8>, ShadowError> {
        let shared = &self.queues.shared;
        shared.count_request();
        let names = validate_thing_name(thing).and_then(|()| match shadow {
            Some(shadow) => validate_shadow_name(shadow),
            None => Ok(()),
        });
        if let Err(error) = names {
            inc(&shared.metrics.rejected_total);
            return Err(error);
        }
        let (answer, answered) = oneshot::channel();
        let job = Job {
            key: ShadowKey::new(thing, shadow),
            operation,
            payload,
            origin,
            reply: Reply::Caller(answer),
        };
        match self.queues.sender(&job.key).try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                inc(&shared.metrics.throttled_total);
                inc(&shared.metrics.rejected_total);
                return Err(ShadowError::too_many_requests());
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                inc(&shared.metrics.dropped_total);
                return Err(service_unavailable());
            }
        }
        // A worker always answers; a dropped sender means it stopped mid-batch (a panic).
        answered
            .await
            .unwrap_or_else(|_| Err(ShadowError::internal()))
    }
}

impl Drop for ShadowService {
    fn drop(&mut self) {
        // Dropped without shutdown (a failed start): the hooks must not outlive the service.
        // The workers stop once the queues' senders are gone.
        self.remove_hooks();
    }
}

/// 503, what an HTTPS caller gets once the service is shutting down (BC: ServiceUnavailable).
fn service_unavailable() -> ShadowError {
    ShadowError::new(503, "Service Unavailable")
}

/// Adds one to a counter (relaxed: counters order nothing).
fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What the workers share.
struct Shared {
    store: Arc<dyn ShadowStore>,
    broker: Broker,
    metrics: Arc<ShadowMetrics>,
    config: ShadowConfig,
}

impl Shared {
    fn count_request(&self) {
        inc(&self.metrics.requests_total);
    }

    /// Publishes one response as the service: QoS 1, not retained.
    fn publish(
        &self,
        key: &ShadowKey,
        operation: Operation,
        outcome: Outcome,
        payload: Vec<u8>,
        origin: &PublishOrigin,
    ) {
        let topic = response_topic(&key.thing, key.shadow.as_deref(), operation, outcome);
        // The request topic passed the broker's limits; the response topic is a few levels
        // longer, so it is held to the protocol's limits only (as the broker's own publishes).
        let topic = match TopicName::parse(&topic, &TopicLimits::MQTT) {
            Ok(topic) => topic,
            Err(error) => {
                debug!(message = "Shadow response topic invalid.", %topic, %error);
                return;
            }
        };
        let message = Message::new(
            topic,
            Bytes::from(payload),
            QoS::AtLeastOnce,
            false,
            Default::default(),
        );
        self.broker.publish(message, origin, None);
    }
}

/// A shadow: its thing and, for a named shadow, its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ShadowKey {
    thing: Arc<str>,
    shadow: Option<Arc<str>>,
}

impl ShadowKey {
    fn new(thing: &str, shadow: Option<&str>) -> ShadowKey {
        ShadowKey {
            thing: Arc::from(thing),
            shadow: shadow.map(Arc::from),
        }
    }

    /// The store's name of the shadow: empty for the classic one.
    fn store_name(&self) -> &str {
        self.shadow.as_deref().unwrap_or("")
    }
}

/// One request waiting for its worker.
struct Job {
    key: ShadowKey,
    operation: Operation,
    /// The request document (an MQTT payload, or the HTTPS body; empty for HTTPS get/delete).
    payload: Bytes,
    /// Who sent it; the responses carry it.
    origin: PublishOrigin,
    reply: Reply,
}

/// Where the answer to a request goes.
enum Reply {
    /// An MQTT request: the answer is published on the operation's `/accepted` or `/rejected`.
    Mqtt,
    /// An HTTPS request: the answer goes back to the caller; success is also published on MQTT
    /// for updates and deletes (AWS publishes `/update/accepted` and friends whichever way the
    /// update came), errors are not.
    Caller(oneshot::Sender<Result<Vec<u8>, ShadowError>>),
}

/// The workers' queues, and how a shadow picks its worker.
struct Queues {
    senders: Vec<mpsc::Sender<Job>>,
    hasher: RandomState,
    shared: Arc<Shared>,
}

impl Queues {
    fn sender(&self, key: &ShadowKey) -> &mpsc::Sender<Job> {
        let hash = self.hasher.hash_one(key);
        // The hash is reduced modulo the worker count, which fits in a u64 and back.
        let index = (hash % self.senders.len() as u64) as usize;
        &self.senders[index]
    }

    /// Takes an MQTT request from the hook: parse the topic, queue it, or answer 429 at once.
    fn enqueue_mqtt(&self, message: &Arc<Message>, origin: &PublishOrigin) {
        let shared = &self.shared;
        shared.count_request();
        let Some(request) = parse_request_topic(message.topic.as_str()) else {
            // An empty thing or shadow level (`+` matches it): no response topic to answer on.
            inc(&shared.metrics.dropped_total);
            debug!(message = "Shadow request on a malformed topic dropped.", topic = %message.topic.as_str());
            return;
        };
        let job = Job {
            key: ShadowKey::new(request.thing, request.shadow),
            operation: request.operation,
            payload: message.payload.clone(),
            origin: origin.clone(),
            reply: Reply::Mqtt,
        };
        match self.sender(&job.key).try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(job)) => {
                inc(&shared.metrics.throttled_total);
                inc(&shared.metrics.rejected_total);
                // The token lets the requester match the rejection to its request; reading it
                // costs one bounded parse, on this overload path only.
                let token = parse_client_token(&job.payload).ok().flatten();
                let payload =
                    ShadowError::too_many_requests().to_payload(token.as_deref(), now_seconds());
                shared.publish(
                    &job.key,
                    job.operation,
                    Outcome::Rejected,
                    payload,
                    &job.origin,
                );
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                inc(&shared.metrics.dropped_total);
            }
        }
    }
}

/// The broker's side: every authorized publish to a request topic.
struct RequestHook {
    queues: Weak<Queues>,
}

impl PublishHook for RequestHook {
    fn on_publish(&self, message: &Arc<Message>, origin: &PublishOrigin) {
        if let Some(queues) = self.queues.upgrade() {
            queues.enqueue_mqtt(message, origin);
        }
    }
}

/// A shadow as the worker knows it: its stored form and whether the store has a record of it
/// (which decides the expectation of the next conditional write).
#[derive(Clone, Debug, Default)]
struct Known {
    stored: StoredShadow,
    exists: bool,
}

impl Known {
    /// The expectation a write of this shadow's successor carries: `Some(None)` when no record
    /// exists, `None` for a version beyond the store's range.
    fn expected_version(&self) -> Option<Option<i64>> {
        if !self.exists {
            return Some(None);
        }
        i64::try_from(self.stored.version).ok().map(Some)
    }
}

/// A worker's bounded cache of the documents of its shadows.
///
/// Only the worker that owns a shadow writes it on this node, so its entry is what the store
/// holds unless another node wrote meanwhile; every answer taken from it is confirmed by a
/// conditional write or recomputed from the store (see [`Worker::process`]).
struct ShadowCache {
    entries: HashMap<ShadowKey, Known>,
    capacity: usize,
}

impl ShadowCache {
    fn new(capacity: usize) -> ShadowCache {
        ShadowCache {
            entries: HashMap::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    fn get(&self, key: &ShadowKey) -> Option<&Known> {
        self.entries.get(key)
    }

    fn insert(&mut self, key: ShadowKey, known: Known) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            // Any entry will do: it is a hint, and finding the first is O(1) in a full map.
            if let Some(victim) = self.entries.keys().next().cloned() {
                self.entries.remove(&victim);
            }
        }
        self.entries.insert(key, known);
    }

    fn remove(&mut self, key: &ShadowKey) {
        self.entries.remove(key);
    }
}

/// The answer to one request, computed in memory and published once the batch is durable.
struct Answer {
    result: Result<Vec<u8>, ShadowError>,
    /// The request's `clientToken`, echoed by a rejection.
    client_token: Option<String>,
    /// Update only: the `/update/delta` payload, if desired and reported differ.
    delta: Option<Vec<u8>>,
    /// Update only: the `/update/documents` payload.
    documents: Option<Vec<u8>>,
}

impl Answer {
    fn rejected(error: ShadowError, client_token: Option<String>) -> Answer {
        Answer {
            result: Err(error),
            client_token,
            delta: None,
            documents: None,
        }
    }
}

/// The requests of one batch for one shadow, in arrival order, and what they came to.
struct Group {
    key: ShadowKey,
    jobs: Vec<Job>,
    /// The shadow before the group: `None` until loaded (again, after a conflict).
    start: Option<Known>,
    /// Whether `start` was read from the store in this batch (so answers need no confirmation).
    read_from_store: bool,
    /// The shadow after the group's requests.
    end: Known,
    /// Whether any request changed the shadow (it must be written).
    changed: bool,
    answers: Vec<Answer>,
}

/// One worker: owns the shadows that hash to it, applies their requests in order and writes
/// them in batches.
struct Worker {
    shared: Arc<Shared>,
    receiver: mpsc::Receiver<Job>,
    committer: mpsc::Sender<Commit>,
    cache: ShadowCache,
}

impl Worker {
    async fn run(mut self, stop: CancellationToken) {
        let batch_size = self.shared.config.batch_size;
        let mut jobs = Vec::with_capacity(batch_size);
        let mut stopping = false;
        loop {
            let received = if stopping {
                self.receiver.recv_many(&mut jobs, batch_size).await
            } else {
                tokio::select! {
                    biased;
                    received = self.receiver.recv_many(&mut jobs, batch_size) => received,
                    () = stop.cancelled() => {
                        // Nothing more is taken; what is queued is still answered below.
                        self.receiver.close();
                        stopping = true;
                        continue;
                    }
                }
            };
            if received == 0 {
                break;
            }
            self.process(std::mem::take(&mut jobs)).await;
            jobs.reserve(batch_size);
        }
    }

    /// Applies one batch: group by shadow, compute, write what changed in one transaction,
    /// publish and answer. Shadows whose write conflicted are read again and recomputed.
    async fn process(&mut self, jobs: Vec<Job>) {
        let mut groups = group_by_shadow(jobs);
        let mut pending: Vec<usize> = (0..groups.len()).collect();
        for _attempt in 0..MAX_ATTEMPTS {
            if pending.is_empty() {
                return;
            }
            let now = now_seconds();
            let mut failed = Vec::new();
            for &index in &pending {
                let group = &mut groups[index];
                if let Err(error) = self.load(group).await {
                    failed.push((index, error));
                    continue;
                }
                compute(group, now);
            }
            for (index, error) in failed {
                pending.retain(|&pending| pending != index);
                self.finish_with_error(&mut groups[index], error);
            }

            // One transaction for every shadow the batch changed.
            let mut writing = Vec::new();
            let mut writes = Vec::new();
            for &index in &pending {
                let group = &groups[index];
                if group.changed
                    && let Some(write) = write_of(group)
                {
                    writing.push(index);
                    writes.push(write);
                }
            }
            let written = self.write(writes).await;
            if written.is_none() {
                // Nothing of the batch was written: every changed shadow fails; the others are
                // answered as computed.
                for &index in &writing {
                    pending.retain(|&pending| pending != index);
                    self.cache.remove(&groups[index].key);
                    self.finish_with_error(&mut groups[index], ShadowError::internal());
                }
            }
            let written = written.unwrap_or_default();

            let mut retry = Vec::new();
            for index in pending {
                let group = &mut groups[index];
                let confirmed = if group.changed {
                    let Some(slot) = writing.iter().position(|&w| w == index) else {
                        // A version that does not fit the store: answered 500.
                        self.finish_with_error(group, ShadowError::internal());
                        continue;
                    };
                    if written.get(slot).copied().unwrap_or(false) {
                        inc(&self.shared.metrics.writes_total);
                        true
                    } else {
                        inc(&self.shared.metrics.write_conflicts_total);
                        false
                    }
                } else {
                    group.read_from_store
                };
                if confirmed {
                    group.end.exists |= group.changed;
                    self.cache.insert(group.key.clone(), group.end.clone());
                    self.finish(group, now);
                } else {
                    // Another node wrote the shadow, or the answers came from the cache
                    // without a write to confirm them: read it and compute again.
                    self.cache.remove(&group.key);
                    group.start = None;
                    retry.push(index);
                }
            }
            pending = retry;
        }
        for index in pending {
            warn!(message = "Shadow write kept conflicting; giving up.", thing = %groups[index].key.thing);
            self.finish_with_error(&mut groups[index], ShadowError::internal());
        }
    }

    /// Writes a batch in one transaction: whether each write's expectation held, or `None` if
    /// the store failed (then nothing was written).
    async fn write(&self, writes: Vec<(ShadowRecord, Option<i64>)>) -> Option<Vec<bool>> {
        if writes.is_empty() {
            return Some(Vec::new());
        }
        let (reply, written) = oneshot::channel();
        self.committer.send(Commit { writes, reply }).await.ok()?;
        written.await.ok().flatten()
    }

    /// Sets the group's starting state: from the cache when the group writes (its conditional
    /// write confirms it), else from the store.
    async fn load(&mut self, group: &mut Group) -> Result<(), ShadowError> {
        if group.start.is_some() {
            return Ok(());
        }
        let writes = group.jobs.iter().any(|job| job.operation != Operation::Get);
        if writes && let Some(known) = self.cache.get(&group.key) {
            group.start = Some(known.clone());
            group.read_from_store = false;
            return Ok(());
        }
        let record = self
            .shared
            .store
            .shadow(&group.key.thing, group.key.store_name())
            .await
            .map_err(|error| {
                warn!(message = "Reading a shadow failed.", thing = %group.key.thing, %error);
                ShadowError::internal()
            })?;
        let known = match record {
            None => Known::default(),
            Some(record) => Known {
                stored: StoredShadow {
                    document: record
                        .document
                        .as_deref()
                        .map(ShadowDocument::from_json)
                        .transpose()?,
                    version: u64::try_from(record.version).map_err(|_| ShadowError::internal())?,
                },
                exists: true,
            },
        };
        group.start = Some(known);
        group.read_from_store = true;
        Ok(())
    }

    /// Publishes and delivers every answer of a group.
    fn finish(&self, group: &mut Group, now: u64) {
        let shared = &self.shared;
        for (job, answer) in group.jobs.drain(..).zip(group.answers.drain(..)) {
            match &answer.result {
                Ok(_) => inc(&shared.metrics.accepted_total),
                Err(_) => inc(&shared.metrics.rejected_total),
            }
            let publish_success = match &job.reply {
                Reply::Mqtt => true,
                Reply::Caller(_) => job.operation != Operation::Get,
            };
            match &answer.result {
                Ok(accepted) if publish_success => {
                    shared.publish(
                        &job.key,
                        job.operation,
                        Outcome::Accepted,
                        accepted.clone(),
                        &job.origin,
                    );
                    if let Some(delta) = answer.delta {
                        shared.publish(&job.key, job.operation, Outcome::Delta, delta, &job.origin);
                    }
                    if let Some(documents) = answer.documents {
                        shared.publish(
                            &job.key,
                            job.operation,
                            Outcome::Documents,
                            documents,
                            &job.origin,
                        );
                    }
                }
                Err(error) if matches!(job.reply, Reply::Mqtt) => {
                    let payload = error.to_payload(answer.client_token.as_deref(), now);
                    shared.publish(
                        &job.key,
                        job.operation,
                        Outcome::Rejected,
                        payload,
                        &job.origin,
                    );
                }
                _ => {}
            }
            if let Reply::Caller(caller) = job.reply {
                // The caller may have gone (its HTTP request cancelled): nothing to do then.
                let _ = caller.send(answer.result);
            }
        }
    }

    /// Answers every request of a group with one error.
    fn finish_with_error(&self, group: &mut Group, error: ShadowError) {
        let now = now_seconds();
        group.answers = group
            .jobs
            .iter()
            .map(|job| Answer::rejected(error.clone(), client_token_of(job)))
            .collect();
        self.finish(group, now);
    }
}

/// The request's `clientToken`, if it has a valid one.
fn client_token_of(job: &Job) -> Option<String> {
    parse_client_token(&job.payload).ok().flatten()
}

/// Splits a batch by shadow, keeping each shadow's requests in arrival order.
fn group_by_shadow(jobs: Vec<Job>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<ShadowKey, usize> = HashMap::with_capacity(jobs.len());
    for job in jobs {
        match index.get(&job.key) {
            Some(&at) => groups[at].jobs.push(job),
            None => {
                index.insert(job.key.clone(), groups.len());
                groups.push(Group {
                    key: job.key.clone(),
                    jobs: vec![job],
                    start: None,
                    read_from_store: false,
                    end: Known::default(),
                    changed: false,
                    answers: Vec::new(),
                });
            }
        }
    }
    groups
}

/// Applies a group's requests, in order, to its starting state.
fn compute(group: &mut Group, now: u64) {
    let mut current = group.start.clone().unwrap_or_default();
    group.changed = false;
    group.answers.clear();
    for job in &group.jobs {
        let answer = match validate_names(&job.key) {
            Err(error) => Answer::rejected(error, client_token_of(job)),
            Ok(()) => match job.operation {
                Operation::Get => get(&job.key, &current, &job.payload, now),
                Operation::Update => match update(&current, &job.payload, now) {
                    Ok((stored, answer)) => {
                        current.stored = stored;
                        group.changed = true;
                        answer
                    }
                    Err(answer) => answer,
                },
                Operation::Delete => match delete(&job.key, &current, &job.payload, now) {
                    Ok((stored, answer)) => {
                        current.stored = stored;
                        group.changed = true;
                        answer
                    }
                    Err(answer) => answer,
                },
            },
        };
        group.answers.push(answer);
    }
    group.end = current;
}

fn validate_names(key: &ShadowKey) -> Result<(), ShadowError> {
    validate_thing_name(&key.thing)?;
    if let Some(shadow) = &key.shadow {
        validate_shadow_name(shadow)?;
    }
    Ok(())
}

/// AWS IoT's 404 names the thing for the classic shadow (the pure crate cannot).
fn with_names(key: &ShadowKey, error: ShadowError) -> ShadowError {
    if error.is_no_shadow() {
        ShadowError::no_shadow(&key.thing, key.shadow.as_deref())
    } else {
        error
    }
}

fn get(key: &ShadowKey, current: &Known, payload: &[u8], now: u64) -> Answer {
    let token = match parse_client_token(payload) {
        Ok(token) => token,
        Err(error) => return Answer::rejected(error, None),
    };
    match get_response(
        &current.stored,
        key.shadow.as_deref(),
        token.as_deref(),
        now,
    ) {
        Ok(document) => Answer {
            result: Ok(document),
            client_token: token,
            delta: None,
            documents: None,
        },
        Err(error) => Answer::rejected(with_names(key, error), token),
    }
}

fn update(current: &Known, payload: &[u8], now: u64) -> Result<(StoredShadow, Answer), Answer> {
    let request = match parse_update(payload) {
        Ok(request) => request,
        Err(error) => {
            // The token is echoed if the payload has a readable one.
            let token = parse_client_token(payload).ok().flatten();
            return Err(Answer::rejected(error, token));
        }
    };
    let token = request.client_token().map(str::to_owned);
    match apply_update(&current.stored, &request, now) {
        Ok(outcome) => Ok((
            outcome.stored,
            Answer {
                result: Ok(outcome.accepted),
                client_token: token,
                delta: outcome.delta,
                documents: Some(outcome.documents),
            },
        )),
        Err(error) => Err(Answer::rejected(error, token)),
    }
}

fn delete(
    key: &ShadowKey,
    current: &Known,
    payload: &[u8],
    now: u64,
) -> Result<(StoredShadow, Answer), Answer> {
    let token = match parse_client_token(payload) {
        Ok(token) => token,
        Err(error) => return Err(Answer::rejected(error, None)),
    };
    match apply_delete(
        &current.stored,
        key.shadow.as_deref(),
        token.as_deref(),
        now,
    ) {
        Ok((stored, payload)) => Ok((
            stored,
            Answer {
                result: Ok(payload),
                client_token: token,
                delta: None,
                documents: None,
            },
        )),
        Err(error) => Err(Answer::rejected(with_names(key, error), token)),
    }
}

/// One worker's batch of conditional writes, for the committer.
struct Commit {
    writes: Vec<(ShadowRecord, Option<i64>)>,
    /// Whether each write's expectation held, in order; `None` if nothing was written.
    reply: oneshot::Sender<Option<Vec<bool>>>,
}

/// The committer: writes the batches of every worker waiting at the time in one transaction.
///
/// SQLite has one writer at a time; workers committing on their own would queue for its lock
/// (in SQLite's busy handler, which sleeps) and sync once each. Here the batches that arrive
/// while a transaction commits are written together by the next one: one sync for all of them.
/// The workers own disjoint shadows, so their writes are independent of each other.
async fn commit_batches(
    store: Arc<dyn ShadowStore>,
    metrics: Arc<ShadowMetrics>,
    mut commits: mpsc::Receiver<Commit>,
    workers: usize,
) {
    let mut pending = Vec::with_capacity(workers);
    while commits.recv_many(&mut pending, workers).await > 0 {
        let mut writes = Vec::new();
        let mut lengths = Vec::with_capacity(pending.len());
        for commit in &mut pending {
            lengths.push(commit.writes.len());
            writes.append(&mut commit.writes);
        }
        inc(&metrics.write_batches_total);
        let mut written = match store.put_shadows(&writes).await {
            Ok(written) if written.len() == writes.len() => Some(written.into_iter()),
            Ok(written) => {
                warn!(
                    message = "The store answered a shadow batch with the wrong count.",
                    writes = writes.len(),
                    answers = written.len()
                );
                None
            }
            Err(error) => {
                warn!(message = "Writing shadows failed.", shadows = writes.len(), %error);
                None
            }
        };
        for (commit, length) in pending.drain(..).zip(lengths) {
            let outcome = written
                .as_mut()
                .map(|outcomes| outcomes.by_ref().take(length).collect());
            // A worker that stopped waiting has nothing left to answer.
            let _ = commit.reply.send(outcome);
        }
    }
}

/// The conditional write of a changed group: its end state, expected at its start version;
/// `None` for a version beyond the store's range (the group is then answered 500).
fn write_of(group: &Group) -> Option<(ShadowRecord, Option<i64>)> {
    let expected = match &group.start {
        Some(start) => start.expected_version()?,
        None => None,
    };
    let record = ShadowRecord {
        thing: group.key.thing.to_string(),
        shadow: group.key.store_name().to_owned(),
        document: group
            .end
            .stored
            .document
            .as_ref()
            .map(ShadowDocument::to_json),
        version: i64::try_from(group.end.stored.version).ok()?,
        updated: Timestamp::now(),
    };
    Some((record, expected))
}

/// Seconds since the epoch: the shadow service's clock (AWS's shadow timestamps are seconds).
fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
