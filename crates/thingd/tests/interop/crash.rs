//! The crash test (`thingd::durability`), short: the real binary SIGKILLed a few times while
//! QoS 1 messages flow to an online and an offline persistent session. The long run is
//! `thingd crash-test --kills 100`.

use std::time::Duration;

use thingd::durability::{CrashTestOptions, crash_test};

/// A few kills, two publishers, a temporary data directory.
fn short(data_dir: &std::path::Path) -> CrashTestOptions {
    let mut options = CrashTestOptions::new(env!("CARGO_BIN_EXE_thingd"));
    options.kills = 5;
    options.publishers = 2;
    options.seed = 7;
    options.data_dir = Some(data_dir.to_owned());
    options.max_messages = 5_000;
    options.drain_timeout = Duration::from_secs(30);
    options.max_duration = Duration::from_secs(180);
    options
}

/// Every acknowledged message survives the kills: delivered at least once to both sessions,
/// none invented, per-publisher order kept, sessions present after every restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let report = crash_test(short(dir.path()))
        .await
        .expect("the crash test runs");
    assert!(report.acked > 0, "{report}");
    assert!(report.passed(), "{report}");
}

/// The harness sees losses: with the broker's store deleted between every kill and restart,
/// acknowledged messages are lost and the report says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_detects_losses_when_the_store_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = short(dir.path());
    options.corrupt_by_deleting_store = true;
    let report = crash_test(options).await.expect("the crash test runs");
    assert!(report.acked > 0, "{report}");
    assert!(report.lost() > 0, "no loss detected: {report}");
    assert!(!report.passed(), "{report}");
}
