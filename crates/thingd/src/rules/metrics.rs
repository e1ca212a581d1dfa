//! The rules engine's counters, relaxed atomics rendered as `thingd_rules_*` in the Prometheus
//! text format next to the broker's on `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The action types thingd runs, as the metrics label them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ActionKind {
    Republish,
    Http,
    DynamoDbV2,
    Kinesis,
    Firehose,
    Kafka,
    CloudwatchMetric,
}

impl ActionKind {
    pub(crate) const ALL: [ActionKind; 7] = [
        ActionKind::Republish,
        ActionKind::Http,
        ActionKind::DynamoDbV2,
        ActionKind::Kinesis,
        ActionKind::Firehose,
        ActionKind::Kafka,
        ActionKind::CloudwatchMetric,
    ];

    /// The key of the action in AWS's union (`republish`, ...), the metrics label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ActionKind::Republish => "republish",
            ActionKind::Http => "http",
            ActionKind::DynamoDbV2 => "dynamoDBv2",
            ActionKind::Kinesis => "kinesis",
            ActionKind::Firehose => "firehose",
            ActionKind::Kafka => "kafka",
            ActionKind::CloudwatchMetric => "cloudwatchMetric",
        }
    }

    /// The name AWS gives the action in an error action's `failedAction`.
    pub(crate) fn aws_name(self) -> &'static str {
        match self {
            ActionKind::Republish => "RepublishAction",
            ActionKind::Http => "HttpAction",
            ActionKind::DynamoDbV2 => "DynamoDBv2Action",
            ActionKind::Kinesis => "KinesisAction",
            ActionKind::Firehose => "FirehoseAction",
            ActionKind::Kafka => "KafkaAction",
            ActionKind::CloudwatchMetric => "CloudwatchMetricAction",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of one action type.
#[derive(Debug, Default)]
pub(crate) struct ActionCounters {
    /// Deliveries that succeeded.
    pub(crate) succeeded: AtomicU64,
    /// Deliveries that failed (error, refusal or timeout).
    pub(crate) failed: AtomicU64,
    /// Deliveries dropped because the action's queue was full.
    pub(crate) dropped: AtomicU64,
}

/// Picks one counter of an action type.
type CounterOf = fn(&ActionCounters) -> &AtomicU64;

/// Every counter of the rules engine.
#[derive(Debug, Default)]
pub(crate) struct RulesMetrics {
    /// Messages queued for a rule (its FROM matched, or Basic Ingest named it).
    pub(crate) matched: AtomicU64,
    /// Messages dropped because a rule's queue was full.
    pub(crate) rule_dropped: AtomicU64,
    /// Messages whose WHERE was true: the actions got the result.
    pub(crate) triggered: AtomicU64,
    /// Messages whose WHERE was not true.
    pub(crate) filtered: AtomicU64,
    /// Messages whose evaluation failed (a result over the engine's limits).
    pub(crate) evaluation_errors: AtomicU64,
    /// Basic Ingest messages naming a rule that does not exist or is disabled (AWS's
    /// `RuleNotFound`).
    pub(crate) rule_not_found: AtomicU64,
    /// Messages dropped for having passed through too many `republish` actions.
    pub(crate) republish_loops: AtomicU64,
    /// Error actions started (one per message with failed actions).
    pub(crate) error_actions: AtomicU64,
    /// Rules whose stored definition could not be loaded.
    pub(crate) load_errors: AtomicU64,
    /// Rules loaded and enabled.
    pub(crate) rules_loaded: AtomicU64,
    actions: [ActionCounters; 7],
}

impl RulesMetrics {
    /// The counters of one action type.
    pub(crate) fn action(&self, kind: ActionKind) -> &ActionCounters {
        &self.actions[kind.index()]
    }

    /// Renders every counter, `thingd_rules_`-prefixed, in the Prometheus text format.
    pub(crate) fn render(&self, out: &mut String) {
        let plain: [(&str, &str, &str, &AtomicU64); 10] = [
            (
                "matched_total",
                "counter",
                "Messages queued for a rule: its FROM matched, or Basic Ingest named it.",
                &self.matched,
            ),
            (
                "dropped_total",
                "counter",
                "Messages dropped because a rule's queue was full.",
                &self.rule_dropped,
            ),
            (
                "triggered_total",
                "counter",
                "Messages whose WHERE was true, handed to the rule's actions.",
                &self.triggered,
            ),
            (
                "filtered_total",
                "counter",
                "Messages whose WHERE was not true.",
                &self.filtered,
            ),
            (
                "evaluation_errors_total",
                "counter",
                "Messages whose SQL evaluation failed.",
                &self.evaluation_errors,
            ),
            (
                "rule_not_found_total",
                "counter",
                "Basic Ingest messages naming no enabled rule.",
                &self.rule_not_found,
            ),
            (
                "republish_loops_total",
                "counter",
                "Messages dropped after passing through too many republish actions.",
                &self.republish_loops,
            ),
            (
                "error_actions_total",
                "counter",
                "Error actions started: one per message whose actions failed.",
                &self.error_actions,
            ),
            (
                "load_errors_total",
                "counter",
                "Stored rules that could not be loaded.",
                &self.load_errors,
            ),
            (
                "loaded",
                "gauge",
                "Rules loaded and enabled.",
                &self.rules_loaded,
            ),
        ];
        for (name, kind, help, value) in plain {
            let _ = writeln!(out, "# HELP thingd_rules_{name} {help}");
            let _ = writeln!(out, "# TYPE thingd_rules_{name} {kind}");
            let _ = writeln!(out, "thingd_rules_{name} {}", value.load(Ordering::Relaxed));
        }
        let per_action: [(&str, &str, CounterOf); 3] = [
            (
                "action_succeeded_total",
                "Action deliveries that succeeded, by action type.",
                |c| &c.succeeded,
            ),
            (
                "action_failed_total",
                "Action deliveries that failed (error, refusal or timeout), by action type.",
                |c| &c.failed,
            ),
            (
                "action_dropped_total",
                "Action deliveries dropped because the action's queue was full, by action type.",
                |c| &c.dropped,
            ),
        ];
        for (name, help, counter) in per_action {
            let _ = writeln!(out, "# HELP thingd_rules_{name} {help}");
            let _ = writeln!(out, "# TYPE thingd_rules_{name} counter");
            for kind in ActionKind::ALL {
                let _ = writeln!(
                    out,
                    "thingd_rules_{name}{{action=\"{}\"}} {}",
                    kind.label(),
                    counter(self.action(kind)).load(Ordering::Relaxed)
                );
            }
        }
    }
}

/// Adds one to a counter.
pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_action_type_with_its_label() {
        let metrics = RulesMetrics::default();
        inc(&metrics.action(ActionKind::Http).failed);
        inc(&metrics.matched);
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(out.contains("\nthingd_rules_matched_total 1\n"), "{out}");
        assert!(out.contains("thingd_rules_action_failed_total{action=\"http\"} 1\n"));
        assert!(out.contains("thingd_rules_action_failed_total{action=\"kafka\"} 0\n"));
        assert!(out.contains("# TYPE thingd_rules_loaded gauge\n"));
    }
}
