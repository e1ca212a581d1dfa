//! The NATS JetStream side of the `kinesis` and `firehose` actions: one connection to
//! `--rules-nats`, opened on first use, and the streams the actions publish to, created when
//! missing.
//!
//! A Kinesis stream or Firehose delivery stream named `N` is the JetStream stream `N'` with the
//! subject `thingd.rules.N'`, where `N'` is `N` with every character other than ASCII letters,
//! digits, `_` and `-` replaced by `_` (JetStream stream names may not hold `.`, spaces or
//! wildcards). A stream created by thingd keeps messages by JetStream's defaults (limits
//! retention, file storage, no maximum); an operator may create the stream beforehand with other
//! limits, as long as it takes the subject. Every record is published with an acknowledgement:
//! a delivery succeeds when JetStream has stored it.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use tokio::sync::{Mutex, OnceCell};

/// How long to wait for the NATS server when connecting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most stream names remembered as existing.
const MAX_KNOWN_STREAMS: usize = 10_000;

/// `url` without a `user:password@` part, for messages: credentials are never logged.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The stream name and subject that stand for an AWS stream name.
pub(crate) fn stream_and_subject(aws_name: &str) -> Result<(String, String), String> {
    if aws_name.is_empty() || aws_name.len() > 128 {
        return Err(format!(
            "The stream name '{aws_name}' must have 1 to 128 bytes"
        ));
    }
    let name: String = aws_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let subject = format!("thingd.rules.{name}");
    Ok((name, subject))
}

/// One record to publish.
pub(crate) struct Record {
    pub(crate) stream: String,
    pub(crate) subject: String,
    pub(crate) headers: HeaderMap,
    pub(crate) payload: Bytes,
}

/// The connection to the NATS server and the streams known to exist.
#[derive(Debug)]
pub(crate) struct Nats {
    url: Option<String>,
    context: OnceCell<jetstream::Context>,
    streams: Mutex<HashSet<String>>,
}

impl Nats {
    pub(crate) fn new(url: Option<String>) -> Nats {
        Nats {
            url,
            context: OnceCell::new(),
            streams: Mutex::new(HashSet::new()),
        }
    }

    async fn context(&self) -> Result<&jetstream::Context, String> {
        let Some(url) = &self.url else {
            return Err("No NATS server is configured for the kinesis and firehose actions (--rules-nats URL)".to_owned());
        };
        self.context
            .get_or_try_init(|| async {
                let client = async_nats::ConnectOptions::new()
                    .connection_timeout(CONNECT_TIMEOUT)
                    .connect(url.as_str())
                    .await
                    .map_err(|error| {
                        format!(
                            "Cannot connect to NATS at {}: {error}",
                            without_credentials(url)
                        )
                    })?;
                Ok(jetstream::new(client))
            })
            .await
    }

    async fn ensure_stream(
        &self,
        context: &jetstream::Context,
        name: &str,
        subject: &str,
    ) -> Result<(), String> {
        if self.streams.lock().await.contains(name) {
            return Ok(());
        }
        context
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![subject.to_owned()],
                ..Default::default()
            })
            .await
            .map_err(|error| {
                format!("Cannot create or find the JetStream stream {name}: {error}")
            })?;
        let mut streams = self.streams.lock().await;
        // Stream names come from templates: keep the set bounded (a forgotten stream is only
        // looked up again).
        if streams.len() >= MAX_KNOWN_STREAMS {
            streams.clear();
        }
        streams.insert(name.to_owned());
        Ok(())
    }

    /// Publishes `records`, all before waiting for any acknowledgement; one result per record.
    pub(crate) async fn publish(&self, records: Vec<Record>) -> Vec<Result<(), String>> {
        let context = match self.context().await {
            Ok(context) => context,
            Err(error) => return records.iter().map(|_| Err(error.clone())).collect(),
        };
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            if let Err(error) = self
                .ensure_stream(context, &record.stream, &record.subject)
                .await
            {
                pending.push(Err(error));
                continue;
            }
            let sent = context
                .publish_with_headers(record.subject, record.headers, record.payload)
                .await
                .map_err(|error| format!("Publishing to JetStream failed: {error}"));
            pending.push(sent);
        }
        let mut results = Vec::with_capacity(pending.len());
        for sent in pending {
            results.push(match sent {
                Ok(ack) => ack
                    .await
                    .map(|_| ())
                    .map_err(|error| format!("JetStream did not store the record: {error}")),
                Err(error) => Err(error),
            });
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::stream_and_subject;

    #[test]
    fn aws_names_become_stream_names_and_subjects() {
        assert_eq!(
            stream_and_subject("sensor.data-1").unwrap(),
            (
                "sensor_data-1".to_owned(),
                "thingd.rules.sensor_data-1".to_owned()
            )
        );
        assert!(stream_and_subject("").is_err());
    }

    #[test]
    fn credentials_are_left_out_of_urls_in_messages() {
        assert_eq!(
            super::without_credentials("nats://user:secret@127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
        assert_eq!(
            super::without_credentials("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }
}
