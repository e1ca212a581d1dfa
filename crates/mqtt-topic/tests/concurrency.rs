//! Concurrent matching while another thread subscribes and unsubscribes.

use std::sync::atomic::{AtomicBool, Ordering};

use mqtt_topic::{Match, SubscriptionFilter, SubscriptionIndex, TopicName};

fn sub(s: &str) -> SubscriptionFilter {
    s.parse().expect("test filters are valid")
}

#[test]
fn readers_see_a_consistent_index_while_a_writer_churns() {
    const STABLE: u32 = 10;
    let index = SubscriptionIndex::new();
    for key in 0..STABLE {
        index.insert(&sub("devices/+/status"), key, key);
        index.insert(&sub("$share/workers/devices/#"), key, key);
    }
    let done = AtomicBool::new(false);
    let stable_topic: TopicName = "devices/d1/status".parse().unwrap();

    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut rounds = 0u32;
                    while !done.load(Ordering::Acquire) || rounds < 100 {
                        let mut plain = 0;
                        let mut churned = 0;
                        let mut picked = 0;
                        index.for_each_match(&stable_topic, |m| match m {
                            Match::Plain { filter, key, value } => {
                                assert_eq!(key, value);
                                if filter.as_str() == "devices/+/status" {
                                    plain += 1;
                                } else {
                                    churned += 1;
                                }
                            }
                            Match::Shared(group) => {
                                assert!(group.members().len() > 0);
                                assert!(group.pick(|_, _| true).is_some());
                                picked += 1;
                            }
                        });
                        // The stable subscriptions are always all there; the churned ones come
                        // and go in whole write-locked steps.
                        assert_eq!(plain, STABLE);
                        assert!(churned <= 1);
                        assert!((1..=2).contains(&picked), "{picked} groups");
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();

        for i in 0..5_000u32 {
            let key = STABLE + i % 7;
            let filter = sub(if i % 2 == 0 {
                "devices/d1/#"
            } else {
                "$share/other/devices/d1/+"
            });
            let extra = sub(&format!("devices/e{i}/+"));
            assert_eq!(index.insert(&filter, key, key), None);
            index.insert(&extra, key, key);
            assert_eq!(index.remove(&filter, &key), Some(key));
            if i % 3 == 0 {
                index.remove(&extra, &key);
            }
        }
        done.store(true, Ordering::Release);
        for reader in readers {
            assert!(reader.join().unwrap() >= 100);
        }
    });

    // What is left: the stable subscriptions and two thirds of the extra ones.
    let extras_left = (0..5_000u32).filter(|i| i % 3 != 0).count();
    assert_eq!(index.len(), 2 * STABLE as usize + extras_left);
    for i in (0..5_000u32).filter(|i| i % 3 != 0) {
        let key = STABLE + i % 7;
        assert_eq!(
            index.remove(&sub(&format!("devices/e{i}/+")), &key),
            Some(key)
        );
    }
    let stable: Vec<SubscriptionFilter> =
        vec![sub("devices/+/status"), sub("$share/workers/devices/#")];
    for key in 0..STABLE {
        assert_eq!(index.remove_all(&key, &stable), 2);
    }
    assert!(index.is_empty());
    assert_eq!(index.node_count(), 0);
}
