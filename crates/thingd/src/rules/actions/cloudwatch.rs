//! The `cloudwatchMetric` action onto Prometheus metrics served on `/metrics` (reference §5.6,
//! AWS's `CloudwatchMetricAction`).
//!
//! Each distinct (namespace, name, unit) is one series of a metric family named
//! `thingd_rules_metric_{namespace}_{name}`, sanitised to Prometheus' alphabet (every character
//! other than ASCII letters, digits and `_` becomes `_`), labelled `unit="..."`. Three families
//! per metric: the family name itself is a gauge holding the last value recorded, `..._sum` and
//! `..._count` are counters of the values recorded and their number, so rates and averages can
//! be taken as with a CloudWatch statistic. `metricValue` (a template) must render as a number;
//! `metricTimestamp` is ignored (Prometheus stamps samples when it scrapes). The number of
//! series is bounded (`RulesOptions::max_metric_series`): past it new series fail.

use std::collections::BTreeMap;
use std::fmt::Write;

use parking_lot::Mutex;
use thingd_rules::CloudwatchMetricAction;
use thingd_sql::{SqlVersion, Template};

use super::{ActionError, Job, Services, template};

/// A compiled `cloudwatchMetric` action.
pub(crate) struct PutMetric {
    namespace: Template,
    name: Template,
    value: Template,
    unit: Template,
}

impl PutMetric {
    pub(crate) fn compile(
        action: &CloudwatchMetricAction,
        version: SqlVersion,
    ) -> Result<Self, String> {
        Ok(PutMetric {
            namespace: template("metricNamespace", &action.metric_namespace, version)?,
            name: template("metricName", &action.metric_name, version)?,
            value: template("metricValue", &action.metric_value, version)?,
            unit: template("metricUnit", &action.metric_unit, version)?,
        })
    }

    /// Records one value.
    pub(crate) fn run(&self, job: &Job, services: &Services) -> Result<(), ActionError> {
        let render = |t: &Template| job.event.render(t, &services.env);
        let namespace = render(&self.namespace);
        let name = render(&self.name);
        let resource = format!("{namespace}/{name}");
        let text = render(&self.value);
        let value = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                ActionError::new(
                    resource.clone(),
                    format!("The metric value '{text}' is not a number"),
                )
            })?;
        let family = family_name(&namespace, &name).ok_or_else(|| {
            ActionError::new(resource.clone(), "The metric namespace and name are empty")
        })?;
        services
            .cloudwatch
            .record(
                family,
                render(&self.unit),
                value,
                services.options.max_metric_series,
            )
            .map_err(|message| ActionError::new(resource, message))
    }
}

/// The Prometheus family name of a CloudWatch metric.
fn family_name(namespace: &str, name: &str) -> Option<String> {
    if namespace.is_empty() && name.is_empty() {
        return None;
    }
    let sanitised: String = format!("{namespace}_{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(format!("thingd_rules_metric_{sanitised}"))
}

#[derive(Debug, Default, Clone, Copy)]
struct Series {
    last: f64,
    sum: f64,
    count: u64,
}

/// The metrics the action has recorded, by family then unit.
#[derive(Debug, Default)]
pub(crate) struct CloudwatchMetrics {
    series: Mutex<BTreeMap<String, BTreeMap<String, Series>>>,
}

impl CloudwatchMetrics {
    fn record(
        &self,
        family: String,
        unit: String,
        value: f64,
        max_series: usize,
    ) -> Result<(), String> {
        let mut series = self.series.lock();
        let count: usize = series.values().map(BTreeMap::len).sum();
        let known = series
            .get(&family)
            .is_some_and(|units| units.contains_key(&unit));
        if !known && count >= max_series {
            return Err(format!(
                "The cloudwatchMetric action already made {max_series} metric series (--rules-max-metric-series)"
            ));
        }
        let entry = series.entry(family).or_default().entry(unit).or_default();
        entry.last = value;
        entry.sum += value;
        entry.count += 1;
        Ok(())
    }

    /// Renders every series in the Prometheus text format.
    pub(crate) fn render(&self, out: &mut String) {
        let series = self.series.lock();
        for (family, units) in series.iter() {
            let _ = writeln!(
                out,
                "# HELP {family} Last value recorded by a cloudwatchMetric rule action."
            );
            let _ = writeln!(out, "# TYPE {family} gauge");
            for (unit, s) in units {
                let _ = writeln!(
                    out,
                    "{family}{{unit=\"{}\"}} {}",
                    escape_label(unit),
                    s.last
                );
            }
            let _ = writeln!(
                out,
                "# HELP {family}_sum Sum of the values recorded by a cloudwatchMetric rule action."
            );
            let _ = writeln!(out, "# TYPE {family}_sum counter");
            for (unit, s) in units {
                let _ = writeln!(
                    out,
                    "{family}_sum{{unit=\"{}\"}} {}",
                    escape_label(unit),
                    s.sum
                );
            }
            let _ = writeln!(
                out,
                "# HELP {family}_count Values recorded by a cloudwatchMetric rule action."
            );
            let _ = writeln!(out, "# TYPE {family}_count counter");
            for (unit, s) in units {
                let _ = writeln!(
                    out,
                    "{family}_count{{unit=\"{}\"}} {}",
                    escape_label(unit),
                    s.count
                );
            }
        }
    }
}

/// A label value as the text format writes it: backslash, double quote and newline escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_sanitised_and_series_bounded() {
        assert_eq!(
            family_name("Home/Kitchen", "temp.c").as_deref(),
            Some("thingd_rules_metric_Home_Kitchen_temp_c")
        );
        assert_eq!(family_name("", ""), None);
        let metrics = CloudwatchMetrics::default();
        metrics.record("f".into(), "Count".into(), 2.0, 2).unwrap();
        metrics.record("f".into(), "Count".into(), 3.0, 2).unwrap();
        metrics
            .record("f".into(), "Seconds".into(), 1.5, 2)
            .unwrap();
        assert!(metrics.record("g".into(), "Count".into(), 1.0, 2).is_err());
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(out.contains("f{unit=\"Count\"} 3\n"), "{out}");
        assert!(out.contains("f_sum{unit=\"Count\"} 5\n"));
        assert!(out.contains("f_count{unit=\"Count\"} 2\n"));
        assert!(out.contains("f{unit=\"Seconds\"} 1.5\n"));
        assert_eq!(escape_label("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
