//! Starting from what the durable store kept: retained messages, and persistent sessions with
//! their subscriptions, unacknowledged and queued deliveries and pending wills, restored
//! offline, with their expiry counted across the restart.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use mqtt_codec::{PacketId, QoS};
use mqtt_topic::SubscriptionFilter;
use tracing::{info, warn};

use crate::core::{Core, session_origin};
use crate::durable::{DeliveryChange, Op, decode_message};
use crate::message::{Delivery, Message, SubscriptionIds, now_ms};
use crate::retained::RetainOutcome;
use crate::session::{InflightStage, RestoredSession, StoredSubscription};
use crate::store::{DeliveryStage, Snapshot, StoredDelivery, StoredSession};

/// What a restore found, for the log.
#[derive(Debug, Default)]
pub(crate) struct RestoreCounts {
    pub(crate) sessions: usize,
    pub(crate) expired: usize,
    pub(crate) deliveries: usize,
    pub(crate) retained: usize,
    pub(crate) skipped: usize,
}

impl Core {
    /// Restores `snapshot` into this (new, empty) core. Sessions whose expiry passed while
    /// thingd was down end now (publishing a pending will, [MQTT-3.1.2-8]); their rows, and
    /// rows that cannot be read back, are removed through the durable writer.
    pub(crate) fn restore(self: &Arc<Self>, snapshot: &Snapshot) -> RestoreCounts {
        let mut counts = RestoreCounts::default();
        let now = now_ms();
        for row in &snapshot.retained {
            let expired = row.expires_at_ms.is_some_and(|at| at <= now);
            let kept = match decode_message(&row.packet, row.received_at_ms, row.expires_at_ms) {
                None => {
                    warn!(message = "Dropping a stored retained message that does not decode.", topic = %row.topic);
                    false
                }
                // Expired while thingd was down [MQTT-3.3.2-5].
                Some(_) if expired => false,
                Some(mut message) => {
                    message.retain = true;
                    // Refused when the configured maximum is now lower than what was kept.
                    self.retained.retain(&message) == RetainOutcome::Stored
                }
            };
            if kept {
                counts.retained += 1;
            } else {
                counts.skipped += 1;
                self.submit(Op::Retain {
                    topic: row.topic.clone(),
                    message: None,
                });
            }
        }
        let mut messages: HashMap<u64, Option<Arc<Message>>> = HashMap::new();
        for row in &snapshot.messages {
            let message = decode_message(&row.packet, row.received_at_ms, row.expires_at_ms);
            if message.is_none() {
                warn!(
                    message = "A stored message does not decode; its deliveries are dropped.",
                    id = row.id
                );
            }
            messages.insert(row.id, message.map(Arc::new));
        }
        let mut deliveries: HashMap<u64, Vec<&StoredDelivery>> = HashMap::new();
        for delivery in &snapshot.deliveries {
            deliveries.entry(delivery.uid).or_default().push(delivery);
        }
        let mut known_uids = Vec::with_capacity(snapshot.sessions.len());
        for row in &snapshot.sessions {
            known_uids.push(row.uid);
            let mut own = deliveries.remove(&row.uid).unwrap_or_default();
            own.sort_by_key(|d| d.seq);
            self.restore_session(row, own, &messages, now, &mut counts);
        }
        // Deliveries whose session row is gone (a crash between writes cannot leave them, but
        // an older version or a hand-edited file might): removed with their uid.
        for uid in deliveries.into_keys() {
            self.submit(Op::EndSession {
                client_id: String::new(),
                uid,
            });
        }
        info!(
            message = "Restored durable state.",
            sessions = counts.sessions,
            expired_sessions = counts.expired,
            deliveries = counts.deliveries,
            retained = counts.retained,
            skipped = counts.skipped
        );
        counts
    }

    fn submit(&self, op: Op) {
        if let Some(durable) = &self.durable {
            durable.submit(op);
        }
    }

    fn restore_session(
        self: &Arc<Self>,
        row: &StoredSession,
        own: Vec<&StoredDelivery>,
        messages: &HashMap<u64, Option<Arc<Message>>>,
        now: u64,
        counts: &mut RestoreCounts,
    ) {
        let end = |core: &Arc<Core>| {
            core.submit(Op::EndSession {
                client_id: row.client_id.clone(),
                uid: row.uid,
            })
        };
        let will = row.will.as_ref().and_then(|will| {
            decode_message(&will.packet, now, will.expires_at_ms)
                .map(|message| (Arc::new(message), will.due_at_ms))
        });
        // An online session's expiry starts when its connection closed: at the crash, which
        // is (as far as anyone can tell) now.
        let elapsed_secs = if row.online {
            0
        } else {
            now.saturating_sub(row.saved_at_ms) / 1000
        };
        let left = u64::from(row.expiry_interval).saturating_sub(elapsed_secs);
        if left == 0 {
            counts.expired += 1;
            if let Some((will, _)) = will {
                // [MQTT-3.1.2-8]: a will still waiting is published when the session ends;
                // before its row goes.
                self.publish_will(
                    will,
                    &crate::hooks::PublishOrigin {
                        client_id: Some(Arc::from(row.client_id.as_str())),
                        ..crate::hooks::PublishOrigin::default()
                    },
                );
            }
            end(self);
            return;
        }
        let mut subscriptions = HashMap::new();
        for saved in &row.subscriptions {
            // A filter the current limits refuse is dropped rather than restored unchecked.
            match SubscriptionFilter::parse(&saved.filter, &self.config.topic_limits) {
                Ok(filter) => {
                    subscriptions.insert(
                        Box::from(saved.filter.as_str()),
                        StoredSubscription {
                            filter,
                            options: saved.options,
                            identifier: saved.identifier,
                        },
                    );
                }
                Err(error) => {
                    warn!(message = "Dropping a stored subscription.", client_id = %row.client_id, filter = %saved.filter, %error)
                }
            }
        }
        let mut inflight = Vec::new();
        let mut queued = Vec::new();
        let mut dropped = Vec::new();
        let mut next_seq = 1;
        for delivery in own {
            next_seq = next_seq.max(delivery.seq.saturating_add(1));
            let Some(message) = messages.get(&delivery.message_id).cloned().flatten() else {
                counts.skipped += 1;
                dropped.push(DeliveryChange::Done {
                    uid: row.uid,
                    seq: delivery.seq,
                });
                continue;
            };
            let qos = match delivery.qos {
                2 => QoS::ExactlyOnce,
                _ => QoS::AtLeastOnce,
            };
            let restored = Delivery {
                message,
                qos,
                retain: delivery.retain,
                subscription_ids: delivery
                    .subscription_ids
                    .iter()
                    .filter_map(|id| NonZeroU32::new(*id))
                    .collect::<SubscriptionIds>(),
                durable: Some(delivery.seq),
            };
            counts.deliveries += 1;
            let sent = delivery.packet_id.and_then(PacketId::new);
            match (delivery.stage, sent) {
                (DeliveryStage::Sent, Some(id)) => {
                    let stage = if qos == QoS::ExactlyOnce {
                        InflightStage::AwaitingPubRec
                    } else {
                        InflightStage::AwaitingPubAck
                    };
                    inflight.push((id, restored, stage));
                }
                (DeliveryStage::Released, Some(id)) => {
                    inflight.push((id, restored, InflightStage::AwaitingPubComp))
                }
                // Queued, or sent under an identifier that was never recorded: sent again as
                // new.
                _ => queued.push(restored),
            }
        }
        if !dropped.is_empty() {
            self.submit(Op::Deliveries(dropped));
        }
        let restored = RestoredSession {
            client_id: row.client_id.clone(),
            uid: row.uid,
            expiry_interval: row.expiry_interval,
            subscriptions,
            inflight,
            queued,
            next_seq,
            will: will.clone(),
            incoming_qos2: row
                .incoming_qos2
                .iter()
                .filter_map(|id| PacketId::new(*id))
                .collect(),
        };
        let Some((session, generation)) = self.sessions.restore(restored) else {
            // Two rows for one Client Identifier cannot exist (it is the key).
            return;
        };
        counts.sessions += 1;
        for stored in session.state.lock().subscriptions.values() {
            self.router.subscribe(
                &stored.filter,
                crate::router::Subscriber {
                    session: session.clone(),
                    options: stored.options,
                    identifier: stored.identifier,
                },
            );
        }
        if let Some((_, due_at_ms)) = will {
            let delay = Duration::from_millis(due_at_ms.saturating_sub(now));
            self.schedule_will(&session, delay, generation, &session_origin(&session));
        }
        self.schedule_expiry(
            &session,
            u32::try_from(left).unwrap_or(u32::MAX),
            generation,
        );
        if row.online {
            // Its expiry now counts from the restart: the row says so, offline.
            self.save_session(&session);
        }
    }
}
