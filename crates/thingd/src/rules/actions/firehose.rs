//! The `firehose` action onto a NATS JetStream stream (see [`super::nats`] for the mapping).
//!
//! The result is one record, followed by `separator` when one is set (`\n`, `\t`, `\r\n` or
//! `,`). With `batchMode`, a result that is a JSON array is sent as one record per element (at
//! most 500, as AWS's PutRecordBatch), each element's JSON text followed by the separator; a
//! delivery succeeds when JetStream stored all of them.

use bytes::{BufMut, Bytes, BytesMut};
use thingd_rules::FirehoseAction;
use thingd_sql::{SqlVersion, Template};

use super::nats::{Record, stream_and_subject};
use super::{ActionError, Job, Services, template};

/// The most records one result may become in batch mode (AWS's PutRecordBatch limit).
const MAX_BATCH_RECORDS: usize = 500;

/// A compiled `firehose` action.
pub(crate) struct Firehose {
    stream: Template,
    separator: Option<String>,
    batch_mode: bool,
}

impl Firehose {
    pub(crate) fn compile(action: &FirehoseAction, version: SqlVersion) -> Result<Self, String> {
        if let Some(separator) = &action.separator
            && !matches!(separator.as_str(), "\n" | "\t" | "\r\n" | ",")
        {
            return Err(format!(
                "The separator '{}' is not one of \\n, \\t, \\r\\n and ','",
                separator.escape_default()
            ));
        }
        Ok(Firehose {
            stream: template("deliveryStreamName", &action.delivery_stream_name, version)?,
            separator: action.separator.clone(),
            batch_mode: action.batch_mode.unwrap_or(false),
        })
    }

    fn record(&self, data: &[u8]) -> Bytes {
        let separator = self.separator.as_deref().unwrap_or("");
        let mut record = BytesMut::with_capacity(data.len() + separator.len());
        record.put_slice(data);
        record.put_slice(separator.as_bytes());
        record.freeze()
    }

    /// Puts the records of each result; one result per job.
    pub(crate) async fn run(
        &self,
        batch: &[Job],
        services: &Services,
    ) -> Vec<Result<(), ActionError>> {
        let mut results: Vec<Result<(), ActionError>> = Vec::with_capacity(batch.len());
        let mut records = Vec::new();
        // For each job that reached NATS: its index, stream name and how many records it has.
        let mut owners: Vec<(usize, String, usize)> = Vec::new();
        for (i, job) in batch.iter().enumerate() {
            let name = job.event.render(&self.stream, &services.env);
            let (stream, subject) = match stream_and_subject(&name) {
                Ok(mapped) => mapped,
                Err(message) => {
                    results.push(Err(ActionError::new(name, message)));
                    continue;
                }
            };
            let payloads: Vec<Bytes> = match job.event.json() {
                Some(serde_json::Value::Array(items)) if self.batch_mode => {
                    if items.len() > MAX_BATCH_RECORDS {
                        results.push(Err(ActionError::new(
                            name,
                            format!(
                                "The batch has {} records; the limit is {MAX_BATCH_RECORDS}",
                                items.len()
                            ),
                        )));
                        continue;
                    }
                    items
                        .iter()
                        .map(|item| self.record(item.to_string().as_bytes()))
                        .collect()
                }
                _ => vec![self.record(&job.event.body)],
            };
            owners.push((i, name, payloads.len()));
            for payload in payloads {
                records.push(Record {
                    stream: stream.clone(),
                    subject: subject.clone(),
                    headers: async_nats::HeaderMap::new(),
                    payload,
                });
            }
            results.push(Ok(()));
        }
        let mut outcomes = services.nats.publish(records).await.into_iter();
        for (i, name, count) in owners {
            for outcome in outcomes.by_ref().take(count) {
                if let Err(message) = outcome
                    && results[i].is_ok()
                {
                    results[i] = Err(ActionError::new(name.clone(), message));
                }
            }
        }
        results
    }
}
