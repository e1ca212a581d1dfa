//! The `kafka` action: the result produced to a Kafka topic with rskafka (reference §5.6, AWS's
//! `KafkaAction`).
//!
//! The brokers are the action's `clientProperties["bootstrap.servers"]` (a comma-separated list;
//! AWS reaches them through the VPC destination `destinationArn`, which thingd ignores). The
//! record's value is the result, its key `key` (a template), its headers `headers` (templates).
//! `partition` (a template) picks the partition; without it the record goes to partition 0
//! (thingd has no key-hashing partitioner). Records are produced uncompressed and acknowledged
//! by all in-sync replicas (rskafka's `acks=all`), whatever `acks` and `compression.type` say.
//! Only `security.protocol` PLAINTEXT is supported: SSL and SASL fail every delivery.
//! A worker batches the results of one topic and partition into one produce request.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rskafka::BackoffConfig;
use rskafka::chrono::{TimeZone, Utc};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use thingd_rules::KafkaAction;
use thingd_sql::{SqlVersion, Template};
use tokio::sync::Mutex;

use super::{ActionError, Job, Services, template};

/// The most cached connections (clusters and partitions) before the cache starts over.
const MAX_CACHED: usize = 256;

/// A compiled `kafka` action.
pub(crate) struct Kafka {
    topic: Template,
    key: Option<Template>,
    partition: Option<Template>,
    bootstrap_servers: Template,
    headers: Vec<(Template, Template)>,
}

impl Kafka {
    pub(crate) fn compile(action: &KafkaAction, version: SqlVersion) -> Result<Self, String> {
        let properties = &action.client_properties;
        let Some(servers) = properties.get("bootstrap.servers") else {
            return Err("clientProperties has no bootstrap.servers".to_owned());
        };
        if let Some(protocol) = properties.get("security.protocol")
            && !protocol.eq_ignore_ascii_case("PLAINTEXT")
        {
            return Err(format!(
                "security.protocol {protocol} is not supported by thingd's kafka action (PLAINTEXT only)"
            ));
        }
        let optional = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|text| template(field, text, version))
                .transpose()
        };
        Ok(Kafka {
            topic: template("topic", &action.topic, version)?,
            key: optional("key", &action.key)?,
            partition: optional("partition", &action.partition)?,
            bootstrap_servers: template("clientProperties.bootstrap.servers", servers, version)?,
            headers: action
                .headers
                .iter()
                .flatten()
                .map(|h| {
                    Ok((
                        template("headers.key", &h.key, version)?,
                        template("headers.value", &h.value, version)?,
                    ))
                })
                .collect::<Result<_, String>>()?,
        })
    }

    /// Produces the batch, one request per cluster, topic and partition.
    pub(crate) async fn run(
        &self,
        batch: &[Job],
        services: &Services,
    ) -> Vec<Result<(), ActionError>> {
        let mut results: Vec<Result<(), ActionError>> = Vec::with_capacity(batch.len());
        let mut groups: BTreeMap<(String, String, i32), Vec<(usize, Record)>> = BTreeMap::new();
        for (i, job) in batch.iter().enumerate() {
            let event = &job.event;
            let render = |t: &Template| event.render(t, &services.env);
            let topic = render(&self.topic);
            let partition = match self.partition.as_ref().map(render) {
                None => Ok(0),
                Some(text) if text.trim().is_empty() => Ok(0),
                Some(text) => text
                    .trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|p| *p >= 0)
                    .ok_or_else(|| format!("The partition '{text}' is not a partition number")),
            };
            let partition = match partition {
                Ok(partition) => partition,
                Err(message) => {
                    results.push(Err(ActionError::new(topic, message)));
                    continue;
                }
            };
            if topic.is_empty() || topic.len() > 249 {
                results.push(Err(ActionError::new(
                    topic,
                    "A Kafka topic name has 1 to 249 characters",
                )));
                continue;
            }
            let record = Record {
                key: self.key.as_ref().map(|k| render(k).into_bytes()),
                value: Some(event.body.to_vec()),
                headers: self
                    .headers
                    .iter()
                    .map(|(k, v)| (render(k), render(v).into_bytes()))
                    .collect(),
                timestamp: Utc
                    .timestamp_millis_opt(i64::try_from(event.message.received_at_ms).unwrap_or(0))
                    .single()
                    .unwrap_or_default(),
            };
            let servers = render(&self.bootstrap_servers);
            groups
                .entry((servers, topic, partition))
                .or_default()
                .push((i, record));
            results.push(Ok(()));
        }
        for ((servers, topic, partition), records) in groups {
            let (indices, records): (Vec<usize>, Vec<Record>) = records.into_iter().unzip();
            let outcome = match services.kafka.partition(&servers, &topic, partition).await {
                Ok(client) => client
                    .produce(records, Compression::NoCompression)
                    .await
                    .map(|_| ())
                    .map_err(|error| format!("Producing to {topic}/{partition} failed: {error}")),
                Err(error) => Err(error),
            };
            if let Err(message) = outcome {
                for i in indices {
                    results[i] = Err(ActionError::new(topic.clone(), message.clone()));
                }
            }
        }
        results
    }
}

/// Connections to Kafka clusters and their partitions, made on first use and kept.
pub(crate) struct KafkaClients {
    timeout: Duration,
    clusters: Mutex<HashMap<String, Arc<Client>>>,
    partitions: Mutex<HashMap<(String, String, i32), Arc<PartitionClient>>>,
}

impl std::fmt::Debug for KafkaClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaClients").finish_non_exhaustive()
    }
}

impl KafkaClients {
    /// Clients that give up connecting after `timeout`.
    pub(crate) fn new(timeout: Duration) -> KafkaClients {
        KafkaClients {
            timeout,
            clusters: Mutex::new(HashMap::new()),
            partitions: Mutex::new(HashMap::new()),
        }
    }

    fn backoff(&self) -> BackoffConfig {
        BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            // Without a deadline rskafka retries a closed port forever.
            deadline: Some(self.timeout),
        }
    }

    async fn cluster(&self, servers: &str) -> Result<Arc<Client>, String> {
        let mut clusters = self.clusters.lock().await;
        if let Some(client) = clusters.get(servers) {
            return Ok(client.clone());
        }
        let brokers: Vec<String> = servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if brokers.is_empty() {
            return Err("bootstrap.servers names no broker".to_owned());
        }
        let client = ClientBuilder::new(brokers)
            .client_id("thingd-rules")
            .backoff_config(self.backoff())
            .build()
            .await
            .map_err(|error| format!("Cannot connect to the Kafka brokers {servers}: {error}"))?;
        if clusters.len() >= MAX_CACHED {
            clusters.clear();
        }
        let client = Arc::new(client);
        clusters.insert(servers.to_owned(), client.clone());
        Ok(client)
    }

    async fn partition(
        &self,
        servers: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionClient>, String> {
        let key = (servers.to_owned(), topic.to_owned(), partition);
        if let Some(client) = self.partitions.lock().await.get(&key) {
            return Ok(client.clone());
        }
        let cluster = self.cluster(servers).await?;
        let client = cluster
            .partition_client(topic, partition, UnknownTopicHandling::Error)
            .await
            .map_err(|error| {
                format!("Cannot reach partition {partition} of the Kafka topic {topic}: {error}")
            })?;
        let client = Arc::new(client);
        let mut partitions = self.partitions.lock().await;
        if partitions.len() >= MAX_CACHED {
            partitions.clear();
        }
        partitions.insert(key, client.clone());
        Ok(client)
    }
}
