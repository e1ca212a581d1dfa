//! The rules engine: AWS IoT topic rules evaluated on the messages the broker sees, and their
//! actions run against self-hosted engines (reference §5.5–5.7, §1.16).
//!
//! How a message flows:
//!
//! 1. A publish hook per distinct FROM filter (shared by the rules that name it) and one hook on
//!    `$aws/rules/#` for Basic Ingest see the message on the publishing task. They only clone two
//!    `Arc`s into each matching rule's bounded queue (`try_send`): a full queue drops the message
//!    and counts it, the publisher never waits.
//! 2. Each rule's worker task evaluates SET, WHERE and SELECT ([`thingd_sql::Statement`]) and
//!    hands the result to every action's own bounded queue.
//! 3. Each action has its own worker: one task taking batches in order for the actions whose
//!    engine benefits (SQL tables, JetStream, Kafka) or does not wait (republish, metrics), so
//!    they deliver in the order of the messages; `RulesOptions::action_concurrency` tasks for
//!    `http`, which waits on one request per message. A full queue, a failure or a timeout is
//!    one failure of that action for that message; the rule's `errorAction` then runs once for
//!    the message with every failure listed (AWS's error action payload).
//!
//! Actions keep AWS's shapes and map each AWS resource onto an engine named in thingd's
//! configuration: `republish` (this broker), `http` (HTTPS, plain HTTP to allowed prefixes),
//! `dynamoDBv2` (a SQLite or PostgreSQL table), `kinesis` and `firehose` (NATS JetStream
//! streams), `kafka` (Kafka brokers from the action's `bootstrap.servers`) and
//! `cloudwatchMetric` (a Prometheus metric on `/metrics`). ARCHITECTURE.md documents each mapping.

pub mod actions;
mod engine;
mod metrics;

use std::path::PathBuf;
use std::time::Duration;

pub use engine::RulesEngine;

/// How the rules engine runs and where its actions deliver.
#[derive(Clone)]
pub struct RulesOptions {
    /// Whether rules run at all; without it no hook is registered and no rule is loaded.
    pub enabled: bool,
    /// Messages waiting for one rule's evaluation; past it new messages for that rule are
    /// dropped (and counted).
    pub rule_queue: usize,
    /// Results waiting for one action; past it the action fails for that message (and the
    /// error action runs).
    pub action_queue: usize,
    /// Requests of one `http` action under way at once (the other actions have one worker each,
    /// which keeps the order of the messages).
    pub action_concurrency: usize,
    /// The most results one action worker takes at once, for actions that batch (SQL tables,
    /// JetStream, Kafka).
    pub batch_size: usize,
    /// The `http` action's request timeout (AWS: 3 s).
    pub http_timeout: Duration,
    /// Every other action's timeout per batch.
    pub action_timeout: Duration,
    /// URL prefixes the `http` action may reach over plain `http://`; HTTPS needs none.
    pub http_allow: Vec<String>,
    /// Extra CA certificates (PEM files) the `http` action trusts besides the webpki roots.
    pub http_ca_files: Vec<PathBuf>,
    /// URL prefixes the `http` action may reach without an ENABLED topic rule destination.
    pub trusted_destinations: Vec<String>,
    /// The `dynamoDBv2` action's database: PostgreSQL at this URL; `None` uses the SQLite
    /// file [`RulesOptions::sqlite_path`].
    pub postgres_url: Option<String>,
    /// The SQLite file of the `dynamoDBv2` action; `None` is `rules.db` in the data directory.
    pub sqlite_path: Option<PathBuf>,
    /// The NATS server of the `kinesis` and `firehose` actions.
    pub nats_url: Option<String>,
    /// How many times a message may pass through `republish` actions (a rule republishing to a
    /// topic it matches, or rules republishing to each other) before the engine drops it.
    pub max_republish_depth: u8,
    /// The most distinct series the `cloudwatchMetric` action creates on `/metrics`.
    pub max_metric_series: usize,
}

impl Default for RulesOptions {
    fn default() -> Self {
        RulesOptions {
            enabled: true,
            rule_queue: 1024,
            action_queue: 1024,
            action_concurrency: 4,
            batch_size: 100,
            http_timeout: Duration::from_secs(3),
            action_timeout: Duration::from_secs(10),
            http_allow: Vec::new(),
            http_ca_files: Vec::new(),
            trusted_destinations: Vec::new(),
            postgres_url: None,
            sqlite_path: None,
            nats_url: None,
            max_republish_depth: 8,
            max_metric_series: 1000,
        }
    }
}

impl std::fmt::Debug for RulesOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database and NATS URLs may hold passwords: only whether they are set is shown.
        let set = |url: &Option<String>| url.as_ref().map(|_| "<set>");
        f.debug_struct("RulesOptions")
            .field("enabled", &self.enabled)
            .field("rule_queue", &self.rule_queue)
            .field("action_queue", &self.action_queue)
            .field("action_concurrency", &self.action_concurrency)
            .field("batch_size", &self.batch_size)
            .field("http_timeout", &self.http_timeout)
            .field("action_timeout", &self.action_timeout)
            .field("http_allow", &self.http_allow)
            .field("http_ca_files", &self.http_ca_files)
            .field("trusted_destinations", &self.trusted_destinations)
            .field("postgres_url", &set(&self.postgres_url))
            .field("sqlite_path", &self.sqlite_path)
            .field("nats_url", &set(&self.nats_url))
            .field("max_republish_depth", &self.max_republish_depth)
            .field("max_metric_series", &self.max_metric_series)
            .finish()
    }
}

/// The SQLite file of the `dynamoDBv2` action in the data directory, by default.
pub const RULES_DATABASE_FILE: &str = "rules.db";
