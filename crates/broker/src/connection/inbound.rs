//! Packets from the client: PUBLISH and its acknowledgements, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
//! DISCONNECT, and the packets a client may not send.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_codec::{
    Ack, Disconnect, Packet, PayloadFormat, ProtocolVersion, Publish, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use mqtt_topic::{SubscriptionFilter, TopicName};
use tracing::debug;

use super::{Close, Connection};
use crate::durable::DeliveryChange;
use crate::lifecycle;
use crate::message::{Delivery, Message, SubscriptionIds};
use crate::metrics::Metrics;
use crate::router::{RouteOutcome, Subscriber};
use crate::session::{InflightStage, StoredSubscription};

impl Connection {
    /// Handles one packet from the client.
    pub(super) fn handle(&mut self, packet: Packet) -> Result<(), Close> {
        match packet {
            Packet::Publish(publish) => self.on_publish(publish),
            Packet::PubAck(ack) => {
                self.on_ack(ack.packet_id, InflightStage::AwaitingPubAck);
                Ok(())
            }
            Packet::PubRec(ack) => {
                self.on_pubrec(ack);
                Ok(())
            }
            Packet::PubRel(ack) => {
                self.on_pubrel(ack);
                Ok(())
            }
            Packet::PubComp(ack) => {
                self.on_ack(ack.packet_id, InflightStage::AwaitingPubComp);
                Ok(())
            }
            Packet::Subscribe(subscribe) => self.on_subscribe(subscribe),
            Packet::Unsubscribe(unsubscribe) => self.on_unsubscribe(unsubscribe),
            Packet::PingReq => {
                // [MQTT-3.12.4-1]: the server MUST send PINGRESP in response to PINGREQ.
                self.send(Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(disconnect) => self.on_disconnect(disconnect),
            // [MQTT-3.1.0-2]: a second CONNECT is a Protocol Error.
            Packet::Connect(_) => Err(self.protocol_error("second CONNECT")),
            // [MQTT-4.12.0-...]: no authentication exchange was started, so AUTH is unexpected.
            Packet::Auth(_) => Err(self.protocol_error("AUTH without an authentication method")),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                Err(self.protocol_error("a packet only servers send"))
            }
        }
    }

    pub(super) fn send(&mut self, packet: Packet) {
        // Encoding packets the broker built itself cannot fail for lack of a field; a failure
        // would mean a packet too large to exist, which is dropped rather than sent half.
        let _ = packet.encode(self.version, &mut self.wbuf);
    }

    fn protocol_error(&self, what: &str) -> Close {
        debug!(message = "Protocol error.", client_id = %self.client_id, what);
        Metrics::inc(&self.core.metrics.protocol_errors_total);
        Close::Server(ReasonCode::ProtocolError)
    }

    /// Acknowledges an incoming QoS 1 or 2 PUBLISH with `reason` (5.0), or refuses a QoS 0 one.
    fn acknowledge(&mut self, publish: &Publish, reason: ReasonCode) -> Result<(), Close> {
        let Some(id) = publish.packet_id else {
            return Ok(());
        };
        // 3.1.1 has no negative acknowledgement: the server acknowledges and drops the message
        // ([MQTT-3.3.5-2] of 3.1.1 allows exactly that), so the reason is sent only to 5.0 clients.
        let reason = if self.version == ProtocolVersion::V5 {
            reason
        } else {
            ReasonCode::Success
        };
        // What the message needed stored must be durable before it is acknowledged.
        let ticket = self.publish_ticket.take();
        match publish.qos {
            QoS::AtLeastOnce => self.send_ack(Packet::PubAck(Ack::with_reason(id, reason)), ticket),
            QoS::ExactlyOnce => {
                let mut ticket = ticket;
                if !reason.is_error() {
                    self.session.state.lock().incoming_qos2.insert(id);
                    if self.session.is_stored() {
                        // The identifier is durable with the message: a PUBLISH resent after a
                        // restart is recognised and not delivered twice.
                        ticket = ticket.max(self.core.save_session(&self.session));
                    }
                }
                self.send_ack(Packet::PubRec(Ack::with_reason(id, reason)), ticket);
            }
            QoS::AtMostOnce => {}
        }
        Ok(())
    }

    fn on_publish(&mut self, mut publish: Publish) -> Result<(), Close> {
        self.counts.publish_received += 1;
        // Copies of the few limits needed past the `&mut self` calls below: cloning the shared
        // `Arc<Core>` per message would bounce its reference count between cores.
        let maximum_qos = self.core.config.maximum_qos;
        let receive_maximum = usize::from(self.core.config.receive_maximum);
        let topic_limits = self.core.config.topic_limits;
        if publish.qos > maximum_qos {
            // [MQTT-3.2.2-11]: a QoS above the Maximum QoS is answered with 0x9B.
            return Err(Close::Server(ReasonCode::QoSNotSupported));
        }
        // [MQTT-3.3.4-6]: a client's PUBLISH does not carry Subscription Identifiers.
        if !publish.properties.subscription_identifiers.is_empty() {
            return Err(self.protocol_error("subscription identifier in a client PUBLISH"));
        }
        let topic = self.resolve_topic(&mut publish)?;
        if let Some(response) = &publish.properties.response_topic {
            // [MQTT-3.3.2-14]: the Response Topic is a Topic Name, without wildcards.
            if TopicName::parse(response, &topic_limits).is_err() {
                return Err(self.protocol_error("invalid response topic"));
            }
        }
        if publish.properties.payload_format_indicator == Some(PayloadFormat::Utf8)
            && std::str::from_utf8(&publish.payload).is_err()
        {
            // [MQTT-3.3.2-4]: the receiver may check a payload announced as UTF-8.
            if publish.qos == QoS::AtMostOnce {
                return Err(Close::Server(ReasonCode::PayloadFormatInvalid));
            }
            return self.acknowledge(&publish, ReasonCode::PayloadFormatInvalid);
        }
        if let (QoS::ExactlyOnce, Some(id)) = (publish.qos, publish.packet_id) {
            let state = self.session.state.lock();
            if state.incoming_qos2.contains(&id) {
                // [MQTT-4.3.3-...]: a re-sent QoS 2 PUBLISH whose PUBREL has not arrived is
                // acknowledged again but not delivered twice.
                drop(state);
                // The first PUBREC may still wait for the store (on a connection that is gone);
                // this one waits for everything submitted so far, which covers it.
                let ticket = self.core.durable.as_ref().map(|d| d.last_ticket());
                self.send_ack(Packet::PubRec(Ack::new(id)), ticket);
                return Ok(());
            }
            if state.incoming_qos2.len() >= receive_maximum {
                // [MQTT-3.3.4-9]: more unacknowledged QoS 2 messages than Receive Maximum.
                return Err(Close::Server(ReasonCode::ReceiveMaximumExceeded));
            }
        }
        // The hooks that see this message, found once; with none registered this is one atomic
        // load.
        let hooked = self.core.hooks.matching(&topic, None, &mut self.hooks);
        // Topics starting with `$` are the server's [MQTT-4.7.2-1]: clients may publish only to
        // those a service accepts (device shadows, Basic Ingest). Others are refused as any
        // message (5.0: 0x87 for QoS 1 and 2) but, not being a policy decision, a 3.1.1 client
        // keeps its connection.
        if topic.is_system() && !hooked.accepts_system_topics {
            debug!(message = "Publish to a server topic refused.", client_id = %self.client_id, topic = %topic.as_str());
            self.counts.publishes_denied += 1;
            self.hooks.clear();
            return self.acknowledge(&publish, ReasonCode::NotAuthorized);
        }
        if !self.authz.publish(&topic, publish.qos, publish.retain) {
            self.hooks.clear();
            return self.deny_publish(&publish, &topic);
        }

        let mut properties = std::mem::take(&mut publish.properties);
        properties.topic_alias = None;
        let expires_at = properties
            .message_expiry_interval
            .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
        let message = Arc::new(Message {
            topic,
            payload: publish.payload.clone(),
            qos: publish.qos,
            retain: publish.retain,
            properties,
            expires_at,
            origin: Some(self.session.key()),
            received_at_ms: self.received_at_ms,
        });
        let outcome = if hooked.hook_only {
            // Basic Ingest: for the hooks alone, neither retained nor routed.
            RouteOutcome::default()
        } else {
            if self.core.refuses(&message) {
                self.hooks.clear();
                return self.refuse_store_full(&publish);
            }
            let mut ticket = None;
            if message.retain {
                // [MQTT-3.3.1-5]: store (or, empty, clear [MQTT-3.3.1-6]) before forwarding, so
                // that a SUBSCRIBE racing with this publish finds it live or retained.
                ticket = self.core.retain(&message).1;
            }
            let mut outcome =
                self.core
                    .router
                    .route(&message, &mut self.scratch, self.core.durable.as_deref());
            if outcome.refused {
                self.hooks.clear();
                return self.refuse_store_full(&publish);
            }
            outcome.ticket = outcome.ticket.max(ticket);
            outcome
        };
        self.publish_ticket = outcome.ticket;
        let hooks_saw_it = !self.hooks.is_empty();
        if hooks_saw_it {
            self.hooks.call(&message, &self.origin);
        }
        if !outcome.matched() && !hooks_saw_it {
            self.counts.publish_unrouted += 1;
        }
        self.counts.deliveries_dropped += outcome.dropped as u64;
        let reason = if outcome.matched() || hooks_saw_it || message.retain {
            ReasonCode::Success
        } else {
            ReasonCode::NoMatchingSubscribers
        };
        self.acknowledge(&publish, reason)
    }

    /// Answers a PUBLISH the authorizer refused, as AWS IoT does: a 5.0 client gets PUBACK or
    /// PUBREC 0x87 Not authorized for QoS 1 and 2, and its QoS 0 message is dropped, the
    /// connection kept; a 3.1.1 client, whose protocol has no negative acknowledgement, is
    /// disconnected (no acknowledgement is sent, so it cannot take the message as accepted).
    #[cold]
    fn deny_publish(&mut self, publish: &Publish, topic: &TopicName) -> Result<(), Close> {
        debug!(message = "Publish not authorized.", client_id = %self.client_id, topic = %topic.as_str(), qos = ?publish.qos);
        self.counts.publishes_denied += 1;
        if self.version == ProtocolVersion::V5 {
            self.acknowledge(publish, ReasonCode::NotAuthorized)
        } else {
            Err(Close::Server(ReasonCode::NotAuthorized))
        }
    }

    /// Answers a PUBLISH the durable store had no room for (see [`crate::StoreFull::Refuse`]):
    /// a 5.0 client gets PUBACK or PUBREC 0x97 Quota exceeded; a 3.1.1 client, which has no
    /// negative acknowledgement, is disconnected rather than told the message was accepted.
    #[cold]
    fn refuse_store_full(&mut self, publish: &Publish) -> Result<(), Close> {
        debug!(message = "Publish refused: the durable store is full.", client_id = %self.client_id);
        if self.version == ProtocolVersion::V5 {
            self.acknowledge(publish, ReasonCode::QuotaExceeded)
        } else {
            Err(Close::Server(ReasonCode::QuotaExceeded))
        }
    }

    /// The topic of a PUBLISH, through its Topic Alias if it uses one (§3.3.2.3.4).
    fn resolve_topic(&mut self, publish: &mut Publish) -> Result<TopicName, Close> {
        let limits = &self.core.config.topic_limits;
        let alias = publish.properties.topic_alias.map(NonZeroU16::get);
        let slot = match alias {
            None => None,
            Some(alias) if usize::from(alias) <= self.incoming_aliases.len() => {
                Some(usize::from(alias) - 1)
            }
            // [MQTT-3.3.2-9], [MQTT-3.3.2-10]: an alias above the server's Topic Alias Maximum.
            Some(_) => return Err(Close::Server(ReasonCode::TopicAliasInvalid)),
        };
        if publish.topic.is_empty() {
            return match slot.and_then(|s| self.incoming_aliases[s].clone()) {
                Some(topic) => Ok(topic),
                // §3.3.2.3.4: an empty topic with no alias, or with an alias never set, is a
                // Protocol Error.
                None => Err(self.protocol_error("empty topic without a known topic alias")),
            };
        }
        let topic =
            match TopicName::from_byte_string(publish.topic.as_byte_string().clone(), limits) {
                Ok(topic) => topic,
                // [MQTT-3.3.2-2]: wildcards (or any invalid name) get 0x90 Topic Name invalid.
                Err(error) => {
                    debug!(message = "Invalid topic name.", client_id = %self.client_id, %error);
                    Metrics::inc(&self.core.metrics.protocol_errors_total);
                    return Err(Close::Server(ReasonCode::TopicNameInvalid));
                }
            };
        if let Some(slot) = slot {
            // The alias may outlive this packet's buffer: keep a copy of the name, not a slice.
            self.incoming_aliases[slot] =
                Some(TopicName::parse(topic.as_str(), limits).unwrap_or_else(|_| topic.clone()));
        }
        Ok(topic)
    }

    fn on_ack(&mut self, id: mqtt_codec::PacketId, expected: InflightStage) {
        let mut state = self.session.state.lock();
        if state.inflight.get(&id).is_some_and(|e| e.stage == expected) {
            if let Some(seq) = state.inflight.remove(&id).and_then(|e| e.delivery.durable) {
                self.progress.push(DeliveryChange::Done {
                    uid: self.session.uid(),
                    seq,
                });
            }
            self.mailbox_ready = true;
        }
        // An acknowledgement for an unknown identifier is ignored: it may be a late duplicate.
    }

    fn on_pubrec(&mut self, ack: Ack) {
        let mut state = self.session.state.lock();
        match state.inflight.get_mut(&ack.packet_id) {
            Some(entry) if entry.stage == InflightStage::AwaitingPubRec => {
                let stored = entry.delivery.durable;
                if ack.reason_code.is_error() {
                    // [MQTT-4.3.3-...]: a PUBREC with an error ends the flow.
                    state.inflight.remove(&ack.packet_id);
                    self.mailbox_ready = true;
                    if let Some(seq) = stored {
                        self.progress.push(DeliveryChange::Done {
                            uid: self.session.uid(),
                            seq,
                        });
                    }
                    return;
                }
                entry.stage = InflightStage::AwaitingPubComp;
                drop(state);
                let mut ticket = None;
                if let Some(seq) = stored {
                    self.progress.push(DeliveryChange::Released {
                        uid: self.session.uid(),
                        seq,
                        packet_id: ack.packet_id.get(),
                    });
                    // PUBREL once that is stored: after a restart the flow resumes with PUBREL,
                    // not with the PUBLISH again [MQTT-4.4.0-1].
                    ticket = self.submit_progress();
                }
                self.send_ack(Packet::PubRel(Ack::new(ack.packet_id)), ticket);
            }
            Some(entry) if entry.stage == InflightStage::AwaitingPubComp => {
                // A duplicate PUBREC: PUBREL again.
                drop(state);
                self.send(Packet::PubRel(Ack::new(ack.packet_id)));
            }
            _ => {
                drop(state);
                self.send(Packet::PubRel(Ack::with_reason(
                    ack.packet_id,
                    ReasonCode::PacketIdentifierNotFound,
                )));
            }
        }
    }

    fn on_pubrel(&mut self, ack: Ack) {
        let known = self
            .session
            .state
            .lock()
            .incoming_qos2
            .remove(&ack.packet_id);
        // The identifier is free once that is stored: PUBCOMP waits for it, or a restart could
        // take the client's next QoS 2 PUBLISH under this identifier for a duplicate.
        let ticket = if known && self.session.is_stored() {
            self.core.save_session(&self.session)
        } else {
            None
        };
        // [MQTT-4.3.3-11]: PUBCOMP releases the identifier; an unknown one gets 0x92 (5.0).
        let reason = if known {
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        self.send_ack(
            Packet::PubComp(Ack::with_reason(ack.packet_id, reason)),
            ticket,
        );
    }

    fn on_subscribe(&mut self, subscribe: Subscribe) -> Result<(), Close> {
        let v5 = self.version == ProtocolVersion::V5;
        let config = &self.core.config;
        let identifier = subscribe.properties.subscription_identifier;
        let mut reasons = Vec::with_capacity(subscribe.filters.len());
        // Indexes into `subscribe.filters` of the filters granted, for the lifecycle event.
        let mut granted_filters = Vec::new();
        let mut retained = Vec::new();
        let now = Instant::now();
        for (index, (text, options)) in subscribe.filters.iter().enumerate() {
            let filter = match SubscriptionFilter::parse(text, &config.topic_limits) {
                Ok(filter) => filter,
                Err(error) => {
                    debug!(message = "Invalid topic filter.", client_id = %self.client_id, %error);
                    reasons.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            // [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error.
            if filter.is_shared() && options.no_local {
                return Err(self.protocol_error("No Local on a shared subscription"));
            }
            if !self.authz.subscribe(&filter) {
                reasons.push(ReasonCode::NotAuthorized);
                continue;
            }
            let mut granted = *options;
            granted.qos = granted.qos.min(config.maximum_qos);
            let mut state = self.session.state.lock();
            // A session that ended (taken over with Clean Start) must not gain subscriptions:
            // its owner already removed them from the router, and any added now would leak.
            // Checked under the state lock, which ending a session takes to forget them.
            if self.session.has_ended() {
                return Err(Close::Server(ReasonCode::SessionTakenOver));
            }
            let existed = state.subscriptions.contains_key(text.as_str());
            if !existed && state.subscriptions.len() >= config.max_subscriptions_per_session {
                reasons.push(ReasonCode::QuotaExceeded);
                continue;
            }
            state.subscriptions.insert(
                Box::from(text.as_str()),
                StoredSubscription {
                    filter: filter.clone(),
                    options: granted,
                    identifier,
                },
            );
            self.core.router.subscribe(
                &filter,
                Subscriber {
                    session: self.session.clone(),
                    options: granted,
                    identifier,
                },
            );
            drop(state);
            // [MQTT-3.3.1-9..11]: retained messages per Retain Handling; none for shared
            // subscriptions [MQTT-4.8.2-...].
            let send_retained = !filter.is_shared()
                && match granted.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendAtSubscribeIfNew => !existed,
                    RetainHandling::DoNotSend => false,
                };
            if send_retained {
                for message in self.core.retained.matching(filter.filter(), now) {
                    retained.push(Delivery {
                        qos: message.qos.min(granted.qos),
                        // [MQTT-3.3.1-8]: sent because of a new subscription, so RETAIN is 1.
                        retain: true,
                        subscription_ids: identifier.into_iter().collect::<SubscriptionIds>(),
                        message,
                        durable: None,
                    });
                }
            }
            granted_filters.push(index);
            reasons.push(match granted.qos {
                QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
        }
        let _ = v5;
        // [MQTT-3.8.4-1]: SUBACK carries the same Packet Identifier, one code per filter.
        let mut suback = SubAck {
            packet_id: subscribe.packet_id,
            properties: Default::default(),
            reason_codes: reasons,
        };
        suback.reason_codes.shrink_to_fit();
        // A persistent session's subscriptions are durable before the client is told.
        let ticket = self.core.save_session(&self.session);
        self.send_ack(Packet::SubAck(suback), ticket);
        if !granted_filters.is_empty() {
            let filters = &subscribe.filters;
            self.core.publish_lifecycle(|| {
                lifecycle::subscriptions(
                    &self.subject(),
                    true,
                    granted_filters.iter().map(|&i| filters[i].0.as_str()),
                )
            });
        }
        for delivery in retained {
            if self.session.mailbox.push(delivery).is_err() {
                Metrics::inc(&self.core.metrics.deliveries_dropped_total);
            }
        }
        self.mailbox_ready = true;
        Ok(())
    }

    fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Result<(), Close> {
        let mut reasons = Vec::with_capacity(unsubscribe.filters.len());
        let mut removed_filters = Vec::new();
        for (index, text) in unsubscribe.filters.iter().enumerate() {
            let removed = self
                .session
                .state
                .lock()
                .subscriptions
                .remove(text.as_str());
            let reason = match removed {
                Some(stored) => {
                    self.core
                        .router
                        .unsubscribe(&stored.filter, self.session.key());
                    removed_filters.push(index);
                    ReasonCode::Success
                }
                None => match SubscriptionFilter::parse(text, &self.core.config.topic_limits) {
                    Ok(_) => ReasonCode::NoSubscriptionExisted,
                    Err(_) => ReasonCode::TopicFilterInvalid,
                },
            };
            reasons.push(reason);
        }
        let ticket = self.core.save_session(&self.session);
        // [MQTT-3.10.4-4], [MQTT-3.11.3-1]: UNSUBACK with one reason code per filter (5.0).
        self.send_ack(
            Packet::UnsubAck(UnsubAck {
                packet_id: unsubscribe.packet_id,
                properties: Default::default(),
                reason_codes: reasons,
            }),
            ticket,
        );
        if !removed_filters.is_empty() {
            let filters = &unsubscribe.filters;
            self.core.publish_lifecycle(|| {
                lifecycle::subscriptions(
                    &self.subject(),
                    false,
                    removed_filters.iter().map(|&i| filters[i].as_str()),
                )
            });
        }
        Ok(())
    }

    fn on_disconnect(&mut self, disconnect: Disconnect) -> Result<(), Close> {
        let session_expiry = disconnect.properties.session_expiry_interval;
        if let Some(requested) = session_expiry {
            // [MQTT-3.14.2-2]: a session that had an expiry of 0 cannot be given one now.
            if self.session_expiry == 0 && requested != 0 {
                return Err(
                    self.protocol_error("session expiry set on DISCONNECT after 0 in CONNECT")
                );
            }
        }
        let session_expiry = session_expiry.map(|s| s.min(self.core.config.max_session_expiry));
        // [MQTT-3.14.4-3]: a normal DISCONNECT discards the will; 0x04 asks for it to be published.
        let publish_will = disconnect.reason_code == ReasonCode::DisconnectWithWillMessage;
        Err(Close::ClientDisconnect {
            publish_will,
            session_expiry,
        })
    }
}
