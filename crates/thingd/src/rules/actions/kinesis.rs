//! The `kinesis` action onto a NATS JetStream stream (see [`super::nats`] for the mapping): the
//! result is one record; `partitionKey` (a template) travels in the `Kinesis-Partition-Key`
//! header, since JetStream has no partitions of its own.

use async_nats::HeaderMap;
use thingd_rules::KinesisAction;
use thingd_sql::{SqlVersion, Template};

use super::nats::{Record, stream_and_subject};
use super::{ActionError, Job, Services, template};

/// The header that carries the record's partition key.
pub(crate) const PARTITION_KEY_HEADER: &str = "Kinesis-Partition-Key";

/// A compiled `kinesis` action.
pub(crate) struct Kinesis {
    stream: Template,
    partition_key: Option<Template>,
}

impl Kinesis {
    pub(crate) fn compile(action: &KinesisAction, version: SqlVersion) -> Result<Self, String> {
        Ok(Kinesis {
            stream: template("streamName", &action.stream_name, version)?,
            partition_key: action
                .partition_key
                .as_deref()
                .map(|key| template("partitionKey", key, version))
                .transpose()?,
        })
    }

    /// Puts one record per result.
    pub(crate) async fn run(
        &self,
        batch: &[Job],
        services: &Services,
    ) -> Vec<Result<(), ActionError>> {
        let mut results: Vec<Result<(), ActionError>> = Vec::with_capacity(batch.len());
        let mut records = Vec::new();
        let mut published = Vec::new();
        for (i, job) in batch.iter().enumerate() {
            let name = job.event.render(&self.stream, &services.env);
            match stream_and_subject(&name) {
                Ok((stream, subject)) => {
                    let mut headers = HeaderMap::new();
                    if let Some(key) = &self.partition_key {
                        let key = job.event.render(key, &services.env);
                        if !key.is_empty() {
                            headers.insert(PARTITION_KEY_HEADER, key.as_str());
                        }
                    }
                    records.push(Record {
                        stream,
                        subject,
                        headers,
                        payload: job.event.body.clone(),
                    });
                    published.push((i, name));
                    results.push(Ok(()));
                }
                Err(message) => results.push(Err(ActionError::new(name, message))),
            }
        }
        let outcomes = services.nats.publish(records).await;
        for ((i, name), outcome) in published.into_iter().zip(outcomes) {
            if let Err(message) = outcome {
                results[i] = Err(ActionError::new(name, message));
            }
        }
        results
    }
}
