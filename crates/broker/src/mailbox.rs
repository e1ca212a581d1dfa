//! A session's bounded queue of deliveries: publishers push into it from any connection task, and
//! the session's own connection task drains it in batches.
//!
//! The queue holds every message not yet written to the client: those waiting while the client
//! is offline (QoS 1 and 2 only, as AWS IoT Core does) and those waiting for room in the
//! client's inflight window. Its bounds (messages and bytes) are the session queue cap of the
//! configuration; past them QoS 0 is dropped and QoS 1 and 2 follow [`QueueOverflow`].
//!
//! Before that point, back-pressure keeps messages from being lost to a subscriber that is
//! merely slower than its publishers: a push that finds an online queue half full reports
//! congestion, and the publishing connection stops reading until the queue drains to a quarter
//! ([`Mailbox::space_available`]), for a bounded time. A subscriber that does not drain within
//! that time is marked slow and stops holding publishers back until it catches up, so a stalled
//! client costs its publishers one pause, not their throughput.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use mqtt_codec::QoS;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::QueueOverflow;
use crate::message::Delivery;

/// Why a delivery was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// QoS 0 to an offline session: not kept.
    Offline,
    /// The queue is full.
    Full,
    /// The session has ended.
    Closed,
}

/// A successful push.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// The queue is past its high watermark: the publisher should wait for
    /// [`Mailbox::space_available`] before reading more.
    pub congested: bool,
    /// The oldest queued delivery, dropped to make room ([`QueueOverflow::DropOldest`]).
    pub evicted: Option<Delivery>,
}

#[derive(Debug)]
struct Inbox {
    queue: VecDeque<Delivery>,
    bytes: usize,
    online: bool,
    closed: bool,
    overflowed: bool,
    /// Marked when the subscriber did not drain within the back-pressure timeout.
    slow: bool,
    /// A publisher waits for the queue to drain.
    space_wanted: bool,
}

impl Inbox {
    fn has_space(&self, max_messages: usize, max_bytes: usize) -> bool {
        self.closed
            || !self.online
            || (self.queue.len() <= max_messages / 4 && self.bytes <= max_bytes / 4)
    }
}

/// A session's delivery queue.
#[derive(Debug)]
pub struct Mailbox {
    inbox: Mutex<Inbox>,
    notify: Notify,
    space: Notify,
    max_messages: usize,
    max_bytes: usize,
    overflow: QueueOverflow,
    dropped: AtomicU64,
}

impl Mailbox {
    /// An empty, offline mailbox with these bounds.
    pub fn new(max_messages: usize, max_bytes: usize, overflow: QueueOverflow) -> Self {
        Mailbox {
            inbox: Mutex::new(Inbox {
                queue: VecDeque::new(),
                bytes: 0,
                online: false,
                closed: false,
                overflowed: false,
                slow: false,
                space_wanted: false,
            }),
            notify: Notify::new(),
            space: Notify::new(),
            max_messages,
            max_bytes,
            overflow,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues a delivery, waking the session's connection task if it may be waiting.
    pub fn push(&self, delivery: Delivery) -> Result<Pushed, Rejected> {
        let size = delivery.message.payload.len();
        let mut inbox = self.inbox.lock();
        if inbox.closed {
            return Err(Rejected::Closed);
        }
        if !inbox.online && delivery.qos == QoS::AtMostOnce {
            return Err(Rejected::Offline);
        }
        // An empty queue always takes one message, so a message larger than the byte bound
        // can still be delivered to an online client.
        let full = inbox.queue.len() >= self.max_messages
            || (!inbox.queue.is_empty() && inbox.bytes + size > self.max_bytes);
        let mut evicted = None;
        if full && self.overflow == QueueOverflow::DropOldest && delivery.qos != QoS::AtMostOnce {
            // Room for the newest at the cost of the oldest: one in, one out, whatever its size.
            evicted = inbox.queue.pop_front();
            if let Some(old) = &evicted {
                inbox.bytes -= old.message.payload.len();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        } else if full {
            // Only a connected subscriber can be disconnected: an offline session's overflow
            // just drops, or the flag would close the client's next connection right after its
            // CONNACK, for messages lost before it even connected.
            let wake = delivery.qos != QoS::AtMostOnce
                && self.overflow == QueueOverflow::Disconnect
                && inbox.online
                && !std::mem::replace(&mut inbox.overflowed, true);
            drop(inbox);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if wake {
                self.notify.notify_one();
            }
            return Err(Rejected::Full);
        }
        let was_empty = inbox.queue.is_empty();
        inbox.queue.push_back(delivery);
        inbox.bytes += size;
        let congested = inbox.online
            && !inbox.slow
            && (inbox.queue.len() >= self.max_messages / 2 || inbox.bytes >= self.max_bytes / 2);
        drop(inbox);
        // The consumer drains the whole queue whenever it is woken, so only the push that finds
        // the queue empty needs to wake it; a stored permit covers a consumer not yet waiting.
        if was_empty {
            self.notify.notify_one();
        }
        Ok(Pushed { congested, evicted })
    }

    /// Drops the oldest queued delivery, returning it (the store is full and drops the oldest
    /// to make room, see [`crate::StoreFull::DropOldest`]).
    pub fn evict_oldest(&self) -> Option<Delivery> {
        let mut inbox = self.inbox.lock();
        let evicted = inbox.queue.pop_front()?;
        inbox.bytes -= evicted.message.payload.len();
        drop(inbox);
        self.dropped.fetch_add(1, Ordering::Relaxed);
        Some(evicted)
    }

    /// Puts deliveries back at the front, in order (used when a connection ends with messages it
    /// had taken but not written).
    pub fn push_front_all(&self, deliveries: impl DoubleEndedIterator<Item = Delivery>) {
        let mut inbox = self.inbox.lock();
        for delivery in deliveries.rev() {
            inbox.bytes += delivery.message.payload.len();
            inbox.queue.push_front(delivery);
        }
    }

    /// Moves deliveries into `out`, in order, until `max` are taken, the queue is empty, or the
    /// next one is QoS 1 or 2 and `inflight_slots` is exhausted (it stays at the head, which
    /// keeps per-topic order [MQTT-4.6.0-6]). Returns whether the queue still holds messages.
    pub fn drain(&self, out: &mut Vec<Delivery>, max: usize, inflight_slots: &mut usize) -> bool {
        let mut inbox = self.inbox.lock();
        let mut taken = 0;
        while taken < max {
            let Some(front) = inbox.queue.front() else {
                break;
            };
            if front.qos != QoS::AtMostOnce {
                if *inflight_slots == 0 {
                    break;
                }
                *inflight_slots -= 1;
            }
            let Some(delivery) = inbox.queue.pop_front() else {
                break;
            };
            inbox.bytes -= delivery.message.payload.len();
            out.push(delivery);
            taken += 1;
        }
        let more = !inbox.queue.is_empty();
        if inbox.has_space(self.max_messages, self.max_bytes) {
            inbox.slow = false;
            if std::mem::take(&mut inbox.space_wanted) {
                drop(inbox);
                self.space.notify_waiters();
            }
        }
        more
    }

    /// Waits until the queue has drained to a quarter of its bounds (or the session went
    /// offline or ended), which is when a congested publisher reads again.
    pub async fn space_available(&self) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            // Registered before the check, so a drain between the check and the wait is seen.
            notified.as_mut().enable();
            {
                let mut inbox = self.inbox.lock();
                if inbox.has_space(self.max_messages, self.max_bytes) {
                    return;
                }
                inbox.space_wanted = true;
            }
            notified.await;
        }
    }

    /// Marks the subscriber as slow: it stops reporting congestion until it drains.
    pub fn mark_slow(&self) {
        self.inbox.lock().slow = true;
    }

    /// Waits until a push may have happened since the last drain.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Marks the session online or offline. Going offline drops queued QoS 0 messages, which
    /// are not kept for offline sessions.
    pub fn set_online(&self, online: bool) {
        let mut inbox = self.inbox.lock();
        inbox.online = online;
        if !online {
            // The connection an overflow asked to disconnect is gone already.
            inbox.overflowed = false;
            // Publishers waiting on this queue would wait for nothing: nobody drains it now.
            self.space.notify_waiters();
            let before = inbox.queue.len();
            inbox.queue.retain(|d| d.qos != QoS::AtMostOnce);
            inbox.bytes = inbox.queue.iter().map(|d| d.message.payload.len()).sum();
            let dropped = before - inbox.queue.len();
            self.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
        }
    }

    /// Ends the mailbox: queued messages are discarded and later pushes refused.
    pub fn close(&self) {
        let mut inbox = self.inbox.lock();
        inbox.closed = true;
        inbox.queue.clear();
        inbox.bytes = 0;
        drop(inbox);
        self.notify.notify_one();
        self.space.notify_waiters();
    }

    /// Whether a QoS 1/2 overflow asked for the subscriber to be disconnected (and clears it).
    pub fn take_overflow(&self) -> bool {
        std::mem::take(&mut self.inbox.lock().overflowed)
    }

    /// Whether the session is online.
    pub fn is_online(&self) -> bool {
        self.inbox.lock().online
    }

    /// The number of queued deliveries.
    pub fn len(&self) -> usize {
        self.inbox.lock().queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deliveries refused because the queue was full or the session offline.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use mqtt_codec::PublishProperties;
    use mqtt_topic::{TopicLimits, TopicName};

    use super::*;
    use crate::message::{Message, SubscriptionIds};

    fn delivery(qos: QoS, payload: &'static [u8]) -> Delivery {
        Delivery {
            message: Arc::new(Message {
                topic: TopicName::parse("t", &TopicLimits::MQTT).unwrap(),
                payload: Bytes::from_static(payload),
                qos,
                retain: false,
                properties: PublishProperties::default(),
                expires_at: None,
                origin: None,
                received_at_ms: 0,
            }),
            qos,
            retain: false,
            subscription_ids: SubscriptionIds::None,
            durable: None,
        }
    }

    #[test]
    fn offline_sessions_keep_only_qos_1_and_2() {
        let mailbox = Mailbox::new(10, 1 << 20, QueueOverflow::DropNew);
        assert_eq!(
            mailbox.push(delivery(QoS::AtMostOnce, b"a")).err(),
            Some(Rejected::Offline)
        );
        assert!(mailbox.push(delivery(QoS::AtLeastOnce, b"b")).is_ok());
        mailbox.set_online(true);
        assert!(mailbox.push(delivery(QoS::AtMostOnce, b"c")).is_ok());
        mailbox.set_online(false);
        assert_eq!(mailbox.len(), 1);
    }

    #[test]
    fn the_message_bound_drops_and_counts() {
        let mailbox = Mailbox::new(2, 1 << 20, QueueOverflow::DropNew);
        mailbox.set_online(true);
        assert!(mailbox.push(delivery(QoS::AtMostOnce, b"1")).is_ok());
        assert!(mailbox.push(delivery(QoS::AtLeastOnce, b"2")).is_ok());
        assert_eq!(
            mailbox.push(delivery(QoS::AtMostOnce, b"3")).err(),
            Some(Rejected::Full)
        );
        assert_eq!(
            mailbox.push(delivery(QoS::AtLeastOnce, b"4")).err(),
            Some(Rejected::Full)
        );
        assert_eq!(mailbox.dropped(), 2);
        assert!(
            !mailbox.take_overflow(),
            "DropNew never asks for a disconnect"
        );
    }

    #[test]
    fn drop_oldest_makes_room_for_the_newest_and_counts() {
        let mailbox = Mailbox::new(2, 1 << 20, QueueOverflow::DropOldest);
        for payload in [b"1", b"2"] {
            assert!(
                mailbox
                    .push(delivery(QoS::AtLeastOnce, payload))
                    .unwrap()
                    .evicted
                    .is_none()
            );
        }
        let pushed = mailbox.push(delivery(QoS::AtLeastOnce, b"3")).unwrap();
        assert_eq!(
            pushed.evicted.map(|d| d.message.payload.clone()),
            Some(Bytes::from_static(b"1"))
        );
        assert_eq!(mailbox.len(), 2);
        assert_eq!(mailbox.dropped(), 1);
        assert_eq!(
            mailbox.evict_oldest().map(|d| d.message.payload.clone()),
            Some(Bytes::from_static(b"2"))
        );
        assert_eq!(mailbox.dropped(), 2);
    }

    #[test]
    fn the_byte_bound_applies_once_something_is_queued() {
        let mailbox = Mailbox::new(100, 4, QueueOverflow::Disconnect);
        mailbox.set_online(true);
        assert!(
            mailbox
                .push(delivery(QoS::AtLeastOnce, b"larger than four"))
                .is_ok()
        );
        assert_eq!(
            mailbox.push(delivery(QoS::AtLeastOnce, b"x")).err(),
            Some(Rejected::Full)
        );
        assert!(mailbox.take_overflow());
        assert!(!mailbox.take_overflow());
    }

    #[test]
    fn congestion_is_reported_past_half_and_cleared_below_a_quarter() {
        let mailbox = Mailbox::new(8, 1 << 20, QueueOverflow::DropNew);
        mailbox.set_online(true);
        let flags: Vec<bool> = (0..5)
            .map(|_| {
                mailbox
                    .push(delivery(QoS::AtMostOnce, b"x"))
                    .unwrap()
                    .congested
            })
            .collect();
        assert_eq!(flags, [false, false, false, true, true]);
        mailbox.mark_slow();
        assert!(
            !mailbox
                .push(delivery(QoS::AtMostOnce, b"x"))
                .unwrap()
                .congested,
            "slow subscribers do not hold publishers"
        );
        let mut out = Vec::new();
        let mut slots = 0;
        mailbox.drain(&mut out, 4, &mut slots);
        assert!(
            !mailbox
                .push(delivery(QoS::AtMostOnce, b"x"))
                .unwrap()
                .congested,
            "still slow above a quarter"
        );
        mailbox.drain(&mut out, 100, &mut slots);
        for _ in 0..3 {
            mailbox.push(delivery(QoS::AtMostOnce, b"x")).unwrap();
        }
        assert!(
            mailbox
                .push(delivery(QoS::AtMostOnce, b"x"))
                .unwrap()
                .congested,
            "draining clears the slow mark"
        );
    }

    #[tokio::test]
    async fn space_available_wakes_when_the_consumer_drains() {
        let mailbox = std::sync::Arc::new(Mailbox::new(8, 1 << 20, QueueOverflow::DropNew));
        mailbox.set_online(true);
        for _ in 0..6 {
            mailbox.push(delivery(QoS::AtMostOnce, b"x")).unwrap();
        }
        let waiter = tokio::spawn({
            let mailbox = mailbox.clone();
            async move { mailbox.space_available().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let mut out = Vec::new();
        let mut slots = 0;
        mailbox.drain(&mut out, 100, &mut slots);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn drain_stops_at_a_qos1_message_when_the_window_is_full() {
        let mailbox = Mailbox::new(10, 1 << 20, QueueOverflow::DropNew);
        mailbox.set_online(true);
        for qos in [
            QoS::AtMostOnce,
            QoS::AtLeastOnce,
            QoS::AtLeastOnce,
            QoS::AtMostOnce,
        ] {
            mailbox.push(delivery(qos, b"x")).unwrap();
        }
        let mut out = Vec::new();
        let mut slots = 1;
        assert!(mailbox.drain(&mut out, 100, &mut slots));
        assert_eq!(out.len(), 2);
        assert_eq!(slots, 0);
        let mut slots = 5;
        out.clear();
        assert!(!mailbox.drain(&mut out, 100, &mut slots));
        assert_eq!(
            out.iter().map(|d| d.qos).collect::<Vec<_>>(),
            [QoS::AtLeastOnce, QoS::AtMostOnce]
        );
    }
}
