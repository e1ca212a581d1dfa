//! The engine: loads the stored rules, compiles them, registers the publish hooks that feed
//! them, runs each rule's worker, and reloads a rule when the API announces a change.
//!
//! Hooks: one per distinct FROM filter, shared by every rule that names it (its rule list is
//! swapped atomically on reload, so the publishing task reads it without a lock), registered as
//! given (a filter starting with a wildcard does not match `$` topics [MQTT-4.7.2-1], so rules on
//! `$aws/...` topics name them). One more hook on `$aws/rules/#` serves Basic Ingest (reference
//! §1.16): clients may publish there, the messages reach no subscriber and no retained store,
//! and `$aws/rules/{ruleName}/rest/of/topic` reaches only that rule, whose FROM (if any) must
//! match `rest/of/topic`. Rules whose FROM starts with `$aws/rules/` get no hook of their own:
//! Basic Ingest topics reach only the rule they name.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use mqtt_topic::{TopicFilter, TopicLimits, TopicName};
use thingd_broker::{Broker, HookId, HookOptions, Message, PublishHook, PublishOrigin};
use thingd_registry::{Partition, RuleStore, StoreError, TopicRuleRecord};
use thingd_rules::TopicRulePayload;
use thingd_sql::Statement;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::rules::actions::{
    self, ActionRunner, Env, Incoming, Invocation, Job, Prepared, Services, Target,
};
use crate::rules::metrics::{RulesMetrics, inc};
use crate::rules::{RULES_DATABASE_FILE, RulesOptions};

/// The prefix of Basic Ingest topics.
const BASIC_INGEST_PREFIX: &str = "$aws/rules/";

/// The rules engine. Cheap to clone: clones share the same engine.
#[derive(Clone)]
pub struct RulesEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RulesEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesEngine")
            .field("enabled", &self.inner.services.options.enabled)
            .finish_non_exhaustive()
    }
}

struct Inner {
    services: Arc<Services>,
    store: Arc<dyn RuleStore>,
    state: tokio::sync::Mutex<State>,
    /// The enabled rules by name, for Basic Ingest; swapped whole on every reload.
    by_name: Arc<ArcSwap<HashMap<Arc<str>, Arc<RuleHandle>>>>,
    basic_ingest_hook: parking_lot::Mutex<Option<HookId>>,
    /// Reloads announced and not finished yet, for [`RulesEngine::settled`].
    pending: watch::Sender<usize>,
}

/// The loaded rules and the hooks that feed them.
#[derive(Default)]
struct State {
    rules: HashMap<String, Arc<RuleHandle>>,
    hooks: HashMap<String, (HookId, Arc<FilterHook>)>,
}

/// What the publish path holds of a rule: its queue.
pub(crate) struct RuleHandle {
    name: Arc<str>,
    /// The FROM filter the rule's hook is registered for (`None`: Basic Ingest only).
    hooked_filter: Option<String>,
    queue: mpsc::Sender<Incoming>,
    services: Arc<Services>,
}

impl RuleHandle {
    /// Queues a message for the rule without waiting: a full queue drops it (and counts it).
    fn offer(&self, message: &Arc<Message>, origin: &PublishOrigin, basic_ingest: bool) {
        let metrics = &self.services.metrics;
        let depth = actions::republish::current_depth();
        if depth > self.services.options.max_republish_depth {
            inc(&metrics.republish_loops);
            return;
        }
        let incoming = Incoming {
            message: message.clone(),
            origin: origin.clone(),
            basic_ingest,
            depth,
        };
        match self.queue.try_send(incoming) {
            Ok(()) => inc(&metrics.matched),
            Err(mpsc::error::TrySendError::Full(_)) => inc(&metrics.rule_dropped),
            // The rule is being replaced or removed.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The hook of one FROM filter: every rule that names it.
struct FilterHook {
    rules: ArcSwap<Vec<Arc<RuleHandle>>>,
}

impl PublishHook for FilterHook {
    fn on_publish(&self, message: &Arc<Message>, origin: &PublishOrigin) {
        for rule in self.rules.load().iter() {
            rule.offer(message, origin, false);
        }
    }
}

/// The Basic Ingest hook: `$aws/rules/{ruleName}/...` reaches that rule only.
struct BasicIngestHook {
    by_name: Arc<ArcSwap<HashMap<Arc<str>, Arc<RuleHandle>>>>,
    metrics: Arc<RulesMetrics>,
}

impl PublishHook for BasicIngestHook {
    fn on_publish(&self, message: &Arc<Message>, origin: &PublishOrigin) {
        let name = message
            .topic
            .as_str()
            .strip_prefix(BASIC_INGEST_PREFIX)
            .and_then(|rest| rest.split('/').next());
        let rules = self.by_name.load();
        match name.and_then(|name| rules.get(name)) {
            Some(rule) => rule.offer(message, origin, true),
            // AWS logs RuleNotFound and tells the client nothing (reference §1.16).
            None => inc(&self.metrics.rule_not_found),
        }
    }
}

/// A rule ready to run: its statement and its actions' runners.
struct CompiledRule {
    name: Arc<str>,
    statement: Statement,
    /// The FROM filter, which Basic Ingest messages must match once their prefix is removed.
    filter: Option<TopicFilter>,
    actions: Vec<Arc<ActionRunner>>,
    error_action: Option<Arc<ActionRunner>>,
}

impl CompiledRule {
    /// Evaluates one message and hands the result to every action.
    fn process(&self, incoming: Incoming, services: &Services) {
        let metrics = &services.metrics;
        if incoming.basic_ingest && !self.basic_ingest_matches(&incoming.message) {
            inc(&metrics.filtered);
            return;
        }
        let prepared = Prepared::new(incoming);
        let output = match self
            .statement
            .evaluate(&prepared.input(&self.name), &services.env)
        {
            Ok(Some(output)) => output,
            Ok(None) => {
                inc(&metrics.filtered);
                return;
            }
            Err(error) => {
                inc(&metrics.evaluation_errors);
                debug!(message = "A rule's evaluation failed.", rule = %self.name, %error);
                return;
            }
        };
        inc(&metrics.triggered);
        if self.actions.is_empty() {
            return;
        }
        let event = Arc::new(prepared.into_event(self.name.clone(), output));
        let invocation = self
            .error_action
            .as_ref()
            .map(|error_action| Invocation::new(self.actions.len(), error_action.clone()));
        for action in &self.actions {
            action.submit(Job {
                event: event.clone(),
                invocation: invocation.clone(),
            });
        }
    }

    /// Whether a Basic Ingest message's topic, without `$aws/rules/{ruleName}/`, matches the
    /// rule's FROM (AWS: the FROM clause still filters when present).
    fn basic_ingest_matches(&self, message: &Message) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        let rest = message
            .topic
            .as_str()
            .strip_prefix(BASIC_INGEST_PREFIX)
            .and_then(|rest| rest.strip_prefix(&*self.name))
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or("");
        TopicName::parse(rest, &TopicLimits::MQTT).is_ok_and(|topic| filter.matches(&topic))
    }
}

/// A rule's worker: evaluates its messages one after another until the rule is replaced or
/// removed (its queue closes once the publish path lets go of it) or the engine stops.
async fn run_rule(
    rule: CompiledRule,
    mut queue: mpsc::Receiver<Incoming>,
    services: Arc<Services>,
) {
    loop {
        let incoming = tokio::select! {
            incoming = queue.recv() => incoming,
            () = services.shutdown.cancelled() => None,
        };
        match incoming {
            Some(incoming) => rule.process(incoming, &services),
            None => return,
        }
    }
}

impl RulesEngine {
    /// Starts the engine: loads every stored rule and destination, and registers the hooks.
    /// With `options.enabled` false, an engine that loads nothing and hooks nothing.
    pub async fn start(
        broker: Broker,
        store: Arc<dyn RuleStore>,
        partition: &Partition,
        options: RulesOptions,
        data_dir: &Path,
    ) -> anyhow::Result<RulesEngine> {
        let mut extra_roots = Vec::new();
        for path in &options.http_ca_files {
            extra_roots.push(std::fs::read_to_string(path).map_err(|error| {
                anyhow::anyhow!(
                    "reading the --rules-http-ca file {}: {error}",
                    path.display()
                )
            })?);
        }
        let http = actions::http::HttpClient::new(&extra_roots)
            .map_err(|error| anyhow::anyhow!("configuring the http action's TLS: {error}"))?;
        let sqlite_path = options
            .sqlite_path
            .clone()
            .unwrap_or_else(|| data_dir.join(RULES_DATABASE_FILE));
        let metrics = Arc::new(RulesMetrics::default());
        let services = Arc::new(Services {
            broker,
            env: Env {
                account: partition.account.clone(),
            },
            http,
            destinations: ArcSwap::from_pointee(Vec::new()),
            tables: actions::dynamodb::Tables::new(
                options.postgres_url.clone(),
                sqlite_path,
                // The action's one worker, and a spare for a schema change under way.
                2,
            ),
            nats: actions::nats::Nats::new(options.nats_url.clone()),
            kafka: actions::kafka::KafkaClients::new(options.action_timeout),
            cloudwatch: actions::cloudwatch::CloudwatchMetrics::default(),
            metrics: metrics.clone(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            options,
        });
        let engine = RulesEngine {
            inner: Arc::new(Inner {
                services,
                store,
                state: tokio::sync::Mutex::new(State::default()),
                by_name: Arc::new(ArcSwap::from_pointee(HashMap::new())),
                basic_ingest_hook: parking_lot::Mutex::new(None),
                pending: watch::Sender::new(0),
            }),
        };
        if !engine.inner.services.options.enabled {
            info!(message = "The rules engine is disabled.");
            return Ok(engine);
        }
        engine.reload_destinations().await?;
        engine.load_all().await?;
        let hook = Arc::new(BasicIngestHook {
            by_name: engine.inner.by_name.clone(),
            metrics,
        });
        let id = engine.inner.services.broker.add_publish_hook(
            filter("$aws/rules/#")?,
            HookOptions {
                accepts_system_topics: true,
                hook_only: true,
            },
            hook,
        );
        *engine.inner.basic_ingest_hook.lock() = Some(id);
        Ok(engine)
    }

    async fn load_all(&self) -> Result<(), StoreError> {
        let records = self.inner.store.all_topic_rules().await?;
        let mut state = self.inner.state.lock().await;
        for record in records {
            if let Some(rule) = self.start_rule(&record) {
                state.rules.insert(record.name.clone(), rule);
            }
        }
        let filters: Vec<String> = state
            .rules
            .values()
            .filter_map(|r| r.hooked_filter.clone())
            .collect();
        for filter in filters {
            self.rehook(&mut state, &filter);
        }
        self.publish_names(&state);
        info!(message = "Rules loaded.", rules = state.rules.len());
        Ok(())
    }

    /// Reloads rule `name` from the store: a new definition replaces the old one (which
    /// finishes the messages it has queued), a disabled or deleted rule stops receiving.
    pub async fn reload_rule(&self, name: &str) -> Result<(), StoreError> {
        if !self.inner.services.options.enabled {
            return Ok(());
        }
        let record = self.inner.store.topic_rule(name).await?;
        let mut state = self.inner.state.lock().await;
        let old = state.rules.remove(name);
        let new = record.as_ref().and_then(|record| self.start_rule(record));
        if let Some(new) = &new {
            state.rules.insert(name.to_owned(), new.clone());
        }
        for filter in [old, new]
            .iter()
            .flatten()
            .filter_map(|rule| rule.hooked_filter.clone())
        {
            self.rehook(&mut state, &filter);
        }
        self.publish_names(&state);
        debug!(
            message = "Rule reloaded.",
            rule = name,
            loaded = state.rules.contains_key(name)
        );
        Ok(())
    }

    /// Reloads the ENABLED topic rule destinations the `http` action may post under.
    pub async fn reload_destinations(&self) -> Result<(), StoreError> {
        let destinations = self.inner.store.all_topic_rule_destinations().await?;
        let enabled: Vec<String> = destinations
            .into_iter()
            .filter(|d| d.status == "ENABLED")
            .map(|d| d.confirmation_url)
            .collect();
        self.inner.services.destinations.store(Arc::new(enabled));
        Ok(())
    }

    /// Waits until every change announced through [`thingd_api::RegistryEvents`] so far has
    /// been applied.
    pub async fn settled(&self) {
        let mut pending = self.inner.pending.subscribe();
        let _ = pending.wait_for(|n| *n == 0).await;
    }

    /// The names of the loaded (enabled) rules, sorted.
    pub async fn rule_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .state
            .lock()
            .await
            .rules
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Appends the engine's metrics (`thingd_rules_*`) and the `cloudwatchMetric` action's
    /// series in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.inner.services.metrics.render(out);
        self.inner.services.cloudwatch.render(out);
    }

    /// Stops feeding rules, and stops every worker (waiting at most `grace` for deliveries
    /// under way).
    pub async fn shutdown(&self, grace: std::time::Duration) {
        let services = &self.inner.services;
        if let Some(id) = self.inner.basic_ingest_hook.lock().take() {
            services.broker.remove_publish_hook(id);
        }
        {
            let mut state = self.inner.state.lock().await;
            for (_, (id, _)) in state.hooks.drain() {
                services.broker.remove_publish_hook(id);
            }
            state.rules.clear();
        }
        self.inner.by_name.store(Arc::new(HashMap::new()));
        services.shutdown.cancel();
        services.tasks.close();
        let _ = tokio::time::timeout(grace, services.tasks.wait()).await;
    }

    /// Compiles a stored rule and starts its worker and its actions' workers; `None` if it is
    /// disabled or cannot be loaded (logged and counted).
    fn start_rule(&self, record: &TopicRuleRecord) -> Option<Arc<RuleHandle>> {
        if record.disabled {
            return None;
        }
        let services = &self.inner.services;
        let compiled = match compile(record, services) {
            Ok(compiled) => compiled,
            Err(error) => {
                inc(&services.metrics.load_errors);
                warn!(message = "A stored rule cannot be loaded; it does not run.", rule = %record.name, %error);
                return None;
            }
        };
        let hooked_filter = compiled
            .statement
            .topic_filter()
            .filter(|f| !f.starts_with(BASIC_INGEST_PREFIX))
            .map(str::to_owned);
        let (queue, receiver) = mpsc::channel(services.options.rule_queue.max(1));
        let name = compiled.name.clone();
        services
            .tasks
            .spawn(run_rule(compiled, receiver, services.clone()));
        Some(Arc::new(RuleHandle {
            name,
            hooked_filter,
            queue,
            services: services.clone(),
        }))
    }

    /// Gives the hook of `filter` the rules that now name it: registers it for the first,
    /// removes it after the last.
    fn rehook(&self, state: &mut State, filter: &str) {
        let broker = &self.inner.services.broker;
        let mut rules: Vec<Arc<RuleHandle>> = state
            .rules
            .values()
            .filter(|rule| rule.hooked_filter.as_deref() == Some(filter))
            .cloned()
            .collect();
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        match (state.hooks.get(filter), rules.is_empty()) {
            (Some((id, _)), true) => {
                broker.remove_publish_hook(*id);
                state.hooks.remove(filter);
            }
            (Some((_, hook)), false) => hook.rules.store(Arc::new(rules)),
            (None, true) => {}
            (None, false) => match TopicFilter::parse(filter, &TopicLimits::MQTT) {
                Ok(parsed) => {
                    let hook = Arc::new(FilterHook {
                        rules: ArcSwap::from_pointee(rules),
                    });
                    let id = broker.add_publish_hook(parsed, HookOptions::default(), hook.clone());
                    state.hooks.insert(filter.to_owned(), (id, hook));
                }
                // The rule compiled with this filter, so this cannot happen; log if it does.
                Err(error) => {
                    warn!(message = "A rule's FROM filter cannot be hooked.", filter, %error)
                }
            },
        }
    }

    /// Publishes the name map Basic Ingest reads.
    fn publish_names(&self, state: &State) {
        let by_name: HashMap<Arc<str>, Arc<RuleHandle>> = state
            .rules
            .values()
            .map(|rule| (rule.name.clone(), rule.clone()))
            .collect();
        self.inner
            .services
            .metrics
            .rules_loaded
            .store(by_name.len() as u64, Ordering::Relaxed);
        self.inner.by_name.store(Arc::new(by_name));
    }

    /// Runs `work` off the caller's task, counted in [`RulesEngine::settled`].
    fn announce<F>(&self, work: F)
    where
        F: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        self.inner.pending.send_modify(|n| *n += 1);
        let inner = self.inner.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.pending.send_modify(|n| *n -= 1);
            warn!(
                message = "A rule change was announced outside the runtime; it applies at restart."
            );
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = work.await {
                warn!(message = "Applying a rule change failed; it applies at the next change or restart.", %error);
            }
            inner.pending.send_modify(|n| *n -= 1);
        });
    }
}

impl thingd_api::RegistryEvents for RulesEngine {
    fn certificate_revoked(&self, _certificate_id: &str) {}

    fn topic_rule_changed(&self, rule_name: &str) {
        let engine = self.clone();
        let name = rule_name.to_owned();
        self.announce(async move { engine.reload_rule(&name).await });
    }

    fn topic_rule_destination_changed(&self, _arn: &str) {
        let engine = self.clone();
        self.announce(async move { engine.reload_destinations().await });
    }
}

/// Parses a stored rule and compiles its actions, starting their workers.
fn compile(record: &TopicRuleRecord, services: &Arc<Services>) -> Result<CompiledRule, String> {
    let payload = TopicRulePayload::from_json(&record.payload).map_err(|e| e.to_string())?;
    let version = payload.sql_version().map_err(|e| e.to_string())?;
    let statement = payload.statement().map_err(|e| e.to_string())?;
    let filter = statement
        .topic_filter()
        .map(|f| TopicFilter::parse(f, &TopicLimits::MQTT))
        .transpose()
        .map_err(|error| format!("The FROM topic filter is not valid: {error}"))?;
    let start = |action: &thingd_rules::Action| {
        let (kind, target) = Target::compile(action, version);
        if let Target::Broken { reason, .. } = &target {
            warn!(message = "A rule action cannot run; each of its deliveries will fail.", rule = %record.name, action = kind.label(), %reason);
        }
        ActionRunner::start(kind, action.resource().to_owned(), target, services)
    };
    let actions = payload.actions.iter().map(start).collect();
    let error_action = payload.error_action.as_ref().map(start);
    Ok(CompiledRule {
        name: Arc::from(record.name.as_str()),
        statement,
        filter,
        actions,
        error_action,
    })
}

fn filter(text: &str) -> anyhow::Result<TopicFilter> {
    TopicFilter::parse(text, &TopicLimits::MQTT)
        .map_err(|error| anyhow::anyhow!("the topic filter {text}: {error}"))
}
