//! Durability checks run against the real binary: `thingd crash-test` (SIGKILL at random points
//! while QoS 1 traffic flows; nothing acknowledged may be lost).
//!
//! [`crash_test`] starts the `thingd` binary with only the plain MQTT listener, creates two
//! persistent sessions subscribed to `crash/#` (one stays online, one goes offline), lets
//! publishers send QoS 1 messages, and SIGKILLs and restarts thingd at random points. At the
//! end every publisher sends an end marker, both subscribers drain, and the [`CrashReport`]
//! compares what was acknowledged with what was delivered.
//!
//! What MQTT promises and the report checks:
//! - A PUBACK means the server has taken ownership of the message (MQTT 5.0 §4.3.2): every
//!   message whose PUBACK (reason < 0x80) the publisher received is delivered at least once to
//!   every matching session (§4.3.2, §4.1 "the Session state in the Server ... QoS 1 messages
//!   ... pending transmission"), even across a crash of the server. A message sent but never
//!   acknowledged may or may not arrive: it is neither lost nor invented.
//! - Nothing is delivered that was never sent.
//! - Per publisher, the first receipts are in publishing order (§4.6 Message ordering: the
//!   server forwards the messages of one topic from one client in the order received).
//! - A session with a Session Expiry Interval survives a restart: the CONNACK of a Clean Start
//!   0 reconnect says Session Present 1 (§3.2.2.1.1).
//!
//! thingd keeps at most `--max-queued-messages-per-session` messages for a session and drops
//! new ones past it, so the harness starts it with a bound above
//! [`CrashTestOptions::max_messages`], which the publishers send in all, paced over the run: the
//! offline subscriber's queue never overflows, and a loss is the crash's doing, not the bound's.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use mqtt_codec::{
    Ack, Connect, Decoder, Disconnect, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS,
    Subscribe, SubscriptionOptions,
};
use parking_lot::Mutex;
use thingd_registry::{Policy, PolicyStore, Timestamp};
use thingd_storage::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};

/// MQTT 5.0: the subscribers ask for a Session Expiry Interval, which 3.1.1 cannot.
const VERSION: ProtocolVersion = ProtocolVersion::V5;
/// The policy the plain listener holds every client to, created in the registry before the
/// first start.
const POLICY_NAME: &str = "crash-test-anonymous";
/// Allows what the test does, on every resource.
const POLICY_DOCUMENT: &str = concat!(
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#,
    r#""Action":["iot:Connect","iot:Publish","iot:Subscribe","iot:Receive"],"Resource":"*"}]}"#
);
/// The most QoS 1 messages a publisher has unacknowledged.
const WINDOW: usize = 32;
/// The subscribers' Session Expiry Interval, in seconds: far longer than any run.
const SESSION_EXPIRY: u32 = 3600;
/// The sequence number of a publisher's end marker.
const END: u64 = u64::MAX;
/// The filter both subscribers hold.
const FILTER: &str = "crash/#";
/// The files of the broker's store, deleted between kill and restart by
/// [`CrashTestOptions::corrupt_by_deleting_store`].
const MQTT_STORE_FILES: [&str; 3] = ["mqtt.db", "mqtt.db-wal", "mqtt.db-shm"];
/// thingd's output, appended across restarts, in the data directory.
pub const LOG_FILE: &str = "crash-test.log";
/// The bound on one connection attempt (TCP connect, CONNECT, CONNACK).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on thingd accepting MQTT connections after a start (a failure bound).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a subscriber that has every end marker but not every acknowledged message keeps
/// listening: the failure path only (with per-publisher order, nothing should come after the
/// end markers).
const SETTLE: Duration = Duration::from_secs(1);
/// How long a publisher waits for the PUBACKs of its window once asked to stop.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(10);
/// How long thingd may take to exit after SIGTERM before it is killed.
const TERM_TIMEOUT: Duration = Duration::from_secs(30);
/// A publisher's first Packet Identifier.
const FIRST_PACKET_ID: PacketId = match PacketId::new(1) {
    Some(id) => id,
    None => panic!("1 is not 0"),
};
/// How many lost messages a subscriber's report lists.
const EXAMPLES: usize = 8;

/// What [`crash_test`] runs.
#[derive(Clone, Debug)]
pub struct CrashTestOptions {
    /// The `thingd` binary to run.
    pub binary: PathBuf,
    /// How many times thingd is killed (SIGKILL) and restarted; at least 1.
    pub kills: usize,
    /// How many publishers send QoS 1 messages (`crash-pub-{i}` to `crash/{i}`).
    pub publishers: usize,
    /// Seeds the random run times between kills, to replay a run.
    pub seed: u64,
    /// The data directory; a temporary one when `None` (kept when the run fails, for the log).
    pub data_dir: Option<PathBuf>,
    /// The shortest time thingd runs before a kill.
    pub min_run: Duration,
    /// The longest time thingd runs before a kill.
    pub max_run: Duration,
    /// The most messages sent by all publishers together, end markers excluded; the publishers
    /// are paced to spread them over the run (thingd is started with a per-session queue bound
    /// above it, so the offline subscriber's queue never overflows).
    pub max_messages: u64,
    /// How long the subscribers may take to receive every acknowledged message after the last
    /// restart (a failure bound).
    pub drain_timeout: Duration,
    /// The bound on the whole run; past it [`crash_test`] fails with an error.
    pub max_duration: Duration,
    /// Deletes the broker's store (`mqtt.db` and its `-wal` and `-shm`) between each kill and
    /// restart, to check that the harness detects losses.
    #[doc(hidden)]
    pub corrupt_by_deleting_store: bool,
}

impl CrashTestOptions {
    /// Options for `binary` with the defaults: 100 kills, 4 publishers, runs of 100 to 600 ms,
    /// 200,000 messages, a 60 s drain and a 30 minute bound.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        CrashTestOptions {
            binary: binary.into(),
            kills: 100,
            publishers: 4,
            seed: 1,
            data_dir: None,
            min_run: Duration::from_millis(100),
            max_run: Duration::from_millis(600),
            max_messages: 200_000,
            drain_timeout: Duration::from_secs(60),
            max_duration: Duration::from_secs(30 * 60),
            corrupt_by_deleting_store: false,
        }
    }
}

/// What one subscriber received, compared with what the publishers sent and had acknowledged.
#[derive(Clone, Debug, Default)]
pub struct SubscriberReport {
    /// The client id.
    pub name: String,
    /// PUBLISH packets received, end markers excluded.
    pub received: u64,
    /// Distinct messages received (that were sent).
    pub delivered: u64,
    /// Receipts of a message already received.
    pub duplicates: u64,
    /// Acknowledged messages never received.
    pub lost: u64,
    /// The first lost messages, as (publisher, sequence number).
    pub lost_examples: Vec<(u32, u64)>,
    /// Messages received that no publisher sent (or that did not parse).
    pub invented: u64,
    /// First receipts whose sequence number is below an earlier first receipt's from the same
    /// publisher.
    pub out_of_order: u64,
    /// Publishers whose acknowledged end marker never arrived.
    pub missing_end_markers: u64,
    /// Reconnects (Clean Start 0) whose CONNACK said Session Present 0: the session was lost.
    pub sessions_lost: u64,
    /// How the drain ended.
    pub drain: String,
}

impl SubscriberReport {
    /// Whether this subscriber saw nothing wrong.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.invented == 0
            && self.out_of_order == 0
            && self.missing_end_markers == 0
            && self.sessions_lost == 0
    }
}

/// The outcome of [`crash_test`].
#[derive(Clone, Debug, Default)]
pub struct CrashReport {
    /// The seed of the run times.
    pub seed: u64,
    /// How many times thingd was killed with SIGKILL (and restarted).
    pub kills: usize,
    /// How many publishers ran.
    pub publishers: usize,
    /// QoS 1 messages sent, end markers excluded.
    pub published: u64,
    /// Messages whose PUBACK (reason < 0x80) arrived.
    pub acked: u64,
    /// Messages whose PUBACK carried an error reason (≥ 0x80).
    pub refused: u64,
    /// The online and the offline subscriber.
    pub subscribers: Vec<SubscriberReport>,
    /// Anything else that went wrong (thingd exiting by itself, an end marker never
    /// acknowledged, nothing acknowledged at all).
    pub problems: Vec<String>,
    /// The data directory (thingd's log is [`LOG_FILE`] in it).
    pub data_dir: PathBuf,
    /// How long the run took.
    pub elapsed: Duration,
}

impl CrashReport {
    /// Whether nothing acknowledged was lost, nothing invented, order held, sessions survived
    /// and nothing else went wrong.
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.subscribers.iter().all(SubscriberReport::passed)
    }

    /// Distinct messages delivered, summed over the subscribers.
    pub fn delivered(&self) -> u64 {
        self.subscribers.iter().map(|s| s.delivered).sum()
    }

    /// Duplicate receipts, summed over the subscribers.
    pub fn duplicates(&self) -> u64 {
        self.subscribers.iter().map(|s| s.duplicates).sum()
    }

    /// Acknowledged messages never delivered, summed over the subscribers.
    pub fn lost(&self) -> u64 {
        self.subscribers.iter().map(|s| s.lost).sum()
    }

    /// Messages delivered but never sent, summed over the subscribers.
    pub fn invented(&self) -> u64 {
        self.subscribers.iter().map(|s| s.invented).sum()
    }

    /// First receipts out of per-publisher order, summed over the subscribers.
    pub fn out_of_order(&self) -> u64 {
        self.subscribers.iter().map(|s| s.out_of_order).sum()
    }
}

impl fmt::Display for CrashReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "crash test {}: {} kills (SIGKILL), {} publishers, seed {}, {:.1} s",
            if self.passed() { "PASSED" } else { "FAILED" },
            self.kills,
            self.publishers,
            self.seed,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  published {} QoS 1 messages, {} acknowledged, {} refused",
            self.published, self.acked, self.refused
        )?;
        writeln!(
            f,
            "  total: delivered {} (unique), {} duplicates, {} lost, {} invented, {} out of order",
            self.delivered(),
            self.duplicates(),
            self.lost(),
            self.invented(),
            self.out_of_order()
        )?;
        for s in &self.subscribers {
            writeln!(
                f,
                "  {}: received {}, delivered {} (unique), {} duplicates, lost {} of {} \
                 acknowledged, {} invented, {} out of order, {} end markers missing, \
                 {} sessions lost; drain: {}",
                s.name,
                s.received,
                s.delivered,
                s.duplicates,
                s.lost,
                self.acked,
                s.invented,
                s.out_of_order,
                s.missing_end_markers,
                s.sessions_lost,
                s.drain
            )?;
            if !s.lost_examples.is_empty() {
                let examples: Vec<String> = s
                    .lost_examples
                    .iter()
                    .map(|(p, q)| format!("crash-pub-{p}#{q}"))
                    .collect();
                writeln!(f, "    lost e.g. {}", examples.join(", "))?;
            }
        }
        for problem in &self.problems {
            writeln!(f, "  problem: {problem}")?;
        }
        write!(
            f,
            "  data dir: {} (thingd's log: {LOG_FILE})",
            self.data_dir.display()
        )
    }
}

/// Runs the crash test: see the module documentation. Fails with an error only when the test
/// cannot run (thingd does not start, the overall bound passes); what it finds is in the
/// report.
pub async fn crash_test(options: CrashTestOptions) -> anyhow::Result<CrashReport> {
    if options.kills == 0 {
        bail!("the crash test needs at least one kill");
    }
    if options.publishers == 0 || options.publishers > u32::MAX as usize {
        bail!("the crash test needs at least one publisher");
    }
    if options.min_run > options.max_run {
        bail!("the shortest run is longer than the longest");
    }
    let (data_dir, temp) = match &options.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("thingd-crash-")
                .tempdir()
                .context("creating a temporary data directory")?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    let mut thingd = None;
    let outcome = timeout(options.max_duration, run(&options, &data_dir, &mut thingd)).await;
    // Whatever happened, no thingd is left behind: SIGTERM, then SIGKILL past the bound.
    if let Some(mut running) = thingd.take() {
        running.terminate().await;
    }
    let report = match outcome {
        Ok(result) => result?,
        Err(_) => bail!(
            "the crash test did not finish within {:?} (data dir {})",
            options.max_duration,
            data_dir.display()
        ),
    };
    if let Some(temp) = temp {
        if report.passed() {
            drop(temp);
        } else {
            // Kept for thingd's log and the databases.
            let _ = temp.keep();
        }
    }
    Ok(report)
}

/// What the tasks share.
struct Ctx {
    addr: SocketAddr,
    /// The bound on the whole run.
    deadline: Instant,
    /// Messages the publishers may still send.
    budget: AtomicI64,
    /// The time between two messages of one publisher.
    interval: Duration,
    /// The bound on the end markers and the drain.
    drain_timeout: Duration,
}

/// The body of [`crash_test`]; the running thingd is left in `thingd` for the caller to stop.
async fn run(
    options: &CrashTestOptions,
    data_dir: &Path,
    thingd: &mut Option<Thingd>,
) -> anyhow::Result<CrashReport> {
    let started = Instant::now();
    let mut report = CrashReport {
        seed: options.seed,
        publishers: options.publishers,
        data_dir: data_dir.to_owned(),
        ..CrashReport::default()
    };
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    create_policy(data_dir).await?;
    let addr = free_port()?;
    *thingd = Some(Thingd::start(&options.binary, data_dir, addr, queue_bound(options)).await?);

    // Pace the publishers so that max_messages spread over the expected run time.
    let mean_run = (options.min_run + options.max_run) / 2;
    let expected = (mean_run * u32::try_from(options.kills).unwrap_or(u32::MAX))
        .max(Duration::from_millis(100));
    let per_publisher = (options.max_messages / options.publishers as u64).max(1);
    let ctx = Arc::new(Ctx {
        addr,
        deadline: started + options.max_duration,
        budget: AtomicI64::new(i64::try_from(options.max_messages).unwrap_or(i64::MAX)),
        interval: expected / u32::try_from(per_publisher).unwrap_or(u32::MAX),
        drain_timeout: options.drain_timeout,
    });

    // Both sessions exist before any publisher starts: a message published earlier matches
    // no session and does not count.
    let online = Arc::new(Sub::new("crash-sub-online"));
    let offline = Arc::new(Sub::new("crash-sub-offline"));
    let online_conn = subscribe_fresh(&ctx, &online.name).await?;
    let offline_conn = subscribe_fresh(&ctx, &offline.name).await?;
    offline_conn.disconnect().await;

    let (stop_subs, stop_subs_rx) = watch::channel(false);
    let online_task = tokio::spawn(subscriber(
        online.clone(),
        ctx.clone(),
        Some(online_conn),
        stop_subs_rx.clone(),
    ));
    let (stop_pubs, stop_pubs_rx) = watch::channel(false);
    let publishers: Vec<_> = (0..options.publishers)
        .map(|i| tokio::spawn(publisher(i as u32, ctx.clone(), stop_pubs_rx.clone())))
        .collect();

    // The killer.
    let mut rng = XorShift::new(options.seed);
    let span = u64::try_from((options.max_run - options.min_run).as_millis()).unwrap_or(0);
    for _ in 0..options.kills {
        let pause = options.min_run + Duration::from_millis(rng.next() % (span + 1));
        let Some(mut running) = thingd.take() else {
            bail!("thingd is not running");
        };
        if let Some(status) = running.run_for(pause).await? {
            report.problems.push(format!(
                "thingd exited by itself ({status}) after {} kills",
                report.kills
            ));
        } else {
            running.kill().await?;
            report.kills += 1;
        }
        if options.corrupt_by_deleting_store {
            for file in MQTT_STORE_FILES {
                match std::fs::remove_file(data_dir.join(file)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("deleting {file}")),
                }
            }
        }
        *thingd = Some(Thingd::start(&options.binary, data_dir, addr, queue_bound(options)).await?);
    }

    // The publishers finish their windows, send their end markers and wait for the PUBACKs.
    let _ = stop_pubs.send(true);
    let mut acked: Vec<HashSet<u64>> = Vec::new();
    let mut sent: Vec<u64> = Vec::new();
    let mut ended: Vec<bool> = Vec::new();
    for (i, task) in publishers.into_iter().enumerate() {
        let outcome = task.await.context("a publisher panicked")?;
        report.published += outcome.sent;
        report.acked += outcome.acked.len() as u64;
        report.refused += outcome.refused;
        if let Some(problem) = outcome.problem {
            report.problems.push(format!("crash-pub-{i}: {problem}"));
        }
        sent.push(outcome.sent);
        ended.push(outcome.end_acked);
        acked.push(outcome.acked.into_iter().collect());
    }
    if report.acked == 0 {
        report
            .problems
            .push("no message was acknowledged: the test proved nothing".to_owned());
    }

    // The offline subscriber comes back; both drain.
    let offline_task = tokio::spawn(subscriber(offline.clone(), ctx.clone(), None, stop_subs_rx));
    let drain_deadline = Instant::now() + options.drain_timeout;
    let (online_drain, offline_drain) = tokio::join!(
        drain(&online, &acked, &ended, drain_deadline),
        drain(&offline, &acked, &ended, drain_deadline)
    );
    let _ = stop_subs.send(true);
    for task in [online_task, offline_task] {
        if let Err(e) = task.await.context("a subscriber panicked")? {
            report.problems.push(format!("{e:#}"));
        }
    }
    report.subscribers = vec![
        online.report(&acked, &sent, &ended, online_drain),
        offline.report(&acked, &sent, &ended, offline_drain),
    ];
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Creates the policy the plain listener applies, directly in the registry database.
async fn create_policy(data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(crate::serve::DATABASE_FILE);
    let store = SqliteStore::open(&path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let now = Timestamp::now();
    let policy = Policy {
        name: POLICY_NAME.to_owned(),
        default_version_id: 1,
        created: now,
        last_modified: now,
        generation_id: format!("crash-test-{}", now.0),
    };
    // An existing policy of this name (a reused data directory) is kept.
    store
        .insert_policy(&policy, POLICY_DOCUMENT)
        .await
        .with_context(|| format!("creating the policy {POLICY_NAME}"))?;
    Ok(())
}

/// A loopback port free now; thingd binds it at every start.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}

/// A running thingd child process.
struct Thingd {
    child: Child,
}

impl Thingd {
    /// Starts thingd and waits until it accepts an MQTT connection; a thingd that exits during
    /// startup is started again, three times at most.
    async fn start(
        binary: &Path,
        data_dir: &Path,
        addr: SocketAddr,
        queue_bound: u64,
    ) -> anyhow::Result<Thingd> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut child = spawn(binary, data_dir, addr, queue_bound)?;
            match wait_ready(&mut child, addr).await {
                Ok(()) => return Ok(Thingd { child }),
                Err(Startup::Exited(status)) if attempts < 3 => {
                    tracing::warn!(%status, "thingd exited during startup; starting it again");
                }
                Err(Startup::Exited(status)) => bail!(
                    "thingd exited during startup ({status}); see {}",
                    data_dir.join(LOG_FILE).display()
                ),
                Err(Startup::Failed(e)) => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    return Err(e.context(format!(
                        "thingd did not start; see {}",
                        data_dir.join(LOG_FILE).display()
                    )));
                }
            }
        }
    }

    /// Lets thingd run for `pause`; its exit status if it exited by itself meanwhile.
    async fn run_for(
        &mut self,
        pause: Duration,
    ) -> anyhow::Result<Option<std::process::ExitStatus>> {
        tokio::select! {
            status = self.child.wait() => Ok(Some(status.context("waiting for thingd")?)),
            () = sleep(pause) => Ok(None),
        }
    }

    /// SIGKILL (what `start_kill` sends on Unix), and waits for the exit.
    async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill().context("killing thingd")?;
        self.child.wait().await.context("waiting for thingd")?;
        Ok(())
    }

    /// SIGTERM (a graceful shutdown), SIGKILL past [`TERM_TIMEOUT`].
    async fn terminate(&mut self) {
        let term = match self.child.id() {
            // tokio only sends SIGKILL, and unsafe (libc::kill) is not allowed: kill(1).
            Some(pid) => Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|s| s.success()),
            None => false,
        };
        if !term || timeout(TERM_TIMEOUT, self.child.wait()).await.is_err() {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

/// Why a start failed.
enum Startup {
    /// thingd exited.
    Exited(std::process::ExitStatus),
    /// thingd did not accept a connection within [`READY_TIMEOUT`], or could not be waited
    /// for.
    Failed(anyhow::Error),
}

/// The per-session queue bound thingd runs with: room for every message of the run, end
/// markers included, with a margin.
fn queue_bound(options: &CrashTestOptions) -> u64 {
    options.max_messages.saturating_mul(2).saturating_add(1000)
}

/// Starts the binary with only the plain MQTT listener, its output appended to [`LOG_FILE`].
fn spawn(
    binary: &Path,
    data_dir: &Path,
    addr: SocketAddr,
    queue_bound: u64,
) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join(LOG_FILE))
        .context("opening the log file")?;
    let err = log.try_clone()?;
    Command::new(binary)
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--mqtt", "off", "--https", "off", "--api", "off"])
        .arg("--mqtt-tcp")
        .arg(addr.to_string())
        .args(["--mqtt-tcp-policy", POLICY_NAME])
        .arg("--max-queued-messages-per-session")
        .arg(queue_bound.to_string())
        .env_remove("RUST_LOG")
        .env("THINGD_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        // A harness that fails or is dropped leaves no thingd behind.
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

/// Retries a CONNECT until thingd answers with a CONNACK, with a short backoff.
async fn wait_ready(child: &mut Child, addr: SocketAddr) -> Result<(), Startup> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut backoff = Duration::from_millis(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(Startup::Exited(status)),
            Ok(None) => {}
            Err(e) => return Err(Startup::Failed(e.into())),
        }
        match connect(addr, "crash-probe", true, None).await {
            Ok(connection) => {
                connection.disconnect().await;
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(Startup::Failed(
                    e.context("waiting for thingd to accept MQTT"),
                ));
            }
            Err(_) => {}
        }
        sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(100));
    }
}

/// An MQTT 5.0 connection through the workspace's codec.
struct Connection {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    decoder: Decoder,
    rbuf: BytesMut,
    /// Session Present of the CONNACK.
    session_present: bool,
}

/// Connects once, bounded by [`CONNECT_TIMEOUT`].
async fn connect(
    addr: SocketAddr,
    client_id: &str,
    clean_start: bool,
    session_expiry: Option<u32>,
) -> anyhow::Result<Connection> {
    let attempt = async {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        let mut connection = Connection {
            reader,
            writer,
            decoder: Decoder::new(VERSION, 16 << 20),
            rbuf: BytesMut::with_capacity(16 * 1024),
            session_present: false,
        };
        let mut connect = Connect::new(VERSION, MqttString::new(client_id)?);
        connect.clean_start = clean_start;
        connect.properties.session_expiry_interval = session_expiry;
        connection.send(&Packet::Connect(Box::new(connect))).await?;
        match connection.next_packet().await? {
            Packet::ConnAck(ack) if !ack.reason_code.is_error() => {
                connection.session_present = ack.session_present;
                Ok(connection)
            }
            other => bail!("{client_id}: expected a successful CONNACK, got {other:?}"),
        }
    };
    timeout(CONNECT_TIMEOUT, attempt)
        .await
        .context("CONNECT timed out")?
}

/// Connects until it works or `deadline` passes, with a short backoff (thingd is restarting).
async fn connect_retrying(
    addr: SocketAddr,
    client_id: &str,
    clean_start: bool,
    session_expiry: Option<u32>,
    deadline: Instant,
) -> anyhow::Result<Connection> {
    let mut backoff = Duration::from_millis(5);
    loop {
        match connect(addr, client_id, clean_start, session_expiry).await {
            Ok(connection) => return Ok(connection),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("{client_id} could not reconnect")));
            }
            Err(_) => {}
        }
        sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(100));
    }
}

impl Connection {
    /// The next packet; an error when the connection closes or sends garbage. Cancel safe:
    /// bytes read stay in the buffer.
    async fn next_packet(&mut self) -> anyhow::Result<Packet> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rbuf)? {
                return Ok(packet);
            }
            if self.reader.read_buf(&mut self.rbuf).await? == 0 {
                bail!("connection closed");
            }
        }
    }

    async fn send(&mut self, packet: &Packet) -> anyhow::Result<()> {
        let mut out = BytesMut::new();
        packet.encode(VERSION, &mut out)?;
        self.writer.write_all(&out).await?;
        Ok(())
    }

    /// Subscribes to [`FILTER`] with QoS 1 and checks the SUBACK grants it.
    async fn subscribe(&mut self) -> anyhow::Result<()> {
        let packet_id = PacketId::new(1).context("packet id")?;
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            properties: Default::default(),
            filters: vec![(
                MqttString::new(FILTER)?,
                SubscriptionOptions::qos(QoS::AtLeastOnce),
            )],
        }))
        .await?;
        loop {
            match self.next_packet().await? {
                Packet::SubAck(ack) if ack.packet_id == packet_id => {
                    if ack.reason_codes.iter().any(|r| r.is_error()) {
                        bail!("SUBACK refused {FILTER}: {:?}", ack.reason_codes);
                    }
                    return Ok(());
                }
                Packet::Publish(_) => {}
                other => bail!("expected SUBACK, got {other:?}"),
            }
        }
    }

    /// A normal DISCONNECT (reason 0x00: the session is kept for its expiry interval,
    /// §3.14.2.1), then the close.
    async fn disconnect(mut self) {
        let _ = self.send(&Packet::Disconnect(Disconnect::default())).await;
        let _ = self.writer.shutdown().await;
    }
}

/// A subscriber's first connection: a new session (Clean Start 1, whatever an earlier run in
/// the same data directory left) that lasts [`SESSION_EXPIRY`], subscribed to [`FILTER`].
async fn subscribe_fresh(ctx: &Ctx, client_id: &str) -> anyhow::Result<Connection> {
    let mut connection = connect_retrying(
        ctx.addr,
        client_id,
        true,
        Some(SESSION_EXPIRY),
        ctx.deadline,
    )
    .await?;
    connection
        .subscribe()
        .await
        .with_context(|| format!("{client_id} subscribing"))?;
    Ok(connection)
}

/// A publisher's 16-byte payload: its index and the sequence number (big-endian u64s).
fn payload(publisher: u32, sequence: u64) -> Bytes {
    let mut buf = BytesMut::with_capacity(16);
    buf.put_u64(u64::from(publisher));
    buf.put_u64(sequence);
    buf.freeze()
}

/// The (publisher, sequence) of a payload received on `topic`, if it is one of ours.
fn parse(topic: &str, payload: &[u8]) -> Option<(u32, u64)> {
    let bytes: &[u8; 16] = payload.try_into().ok()?;
    let (p, s) = bytes.split_at(8);
    let publisher = u32::try_from(u64::from_be_bytes(p.try_into().ok()?)).ok()?;
    let sequence = u64::from_be_bytes(s.try_into().ok()?);
    (topic == format!("crash/{publisher}")).then_some((publisher, sequence))
}

/// Returns once `stop` says true or its sender is gone (without holding the watch's lock
/// across an await, which would make the future not `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// What a publisher did.
#[derive(Default)]
struct PublisherOutcome {
    /// Sequence numbers used: 0 to `sent - 1`.
    sent: u64,
    /// Sequence numbers whose PUBACK said success.
    acked: Vec<u64>,
    /// PUBACKs with an error reason.
    refused: u64,
    /// Whether the end marker's PUBACK arrived.
    end_acked: bool,
    /// Why it gave up, if it did.
    problem: Option<String>,
}

/// Sends QoS 1 messages with new sequence numbers (never resending: a message whose
/// connection died unacknowledged is neither lost nor invented), reconnecting after every
/// kill, until `stop`; then waits for its window and sends the end marker.
async fn publisher(index: u32, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) -> PublisherOutcome {
    let client_id = format!("crash-pub-{index}");
    let topic = match MqttString::new(&format!("crash/{index}")) {
        Ok(topic) => topic,
        Err(e) => {
            return PublisherOutcome {
                problem: Some(format!("topic: {e}")),
                ..PublisherOutcome::default()
            };
        }
    };
    let mut out = PublisherOutcome::default();
    let mut packet_id = FIRST_PACKET_ID;
    let mut next_send = Instant::now();
    let mut stopping = false;
    // Packet id -> sequence number of the messages awaiting their PUBACK on this connection.
    let mut inflight: HashMap<PacketId, u64> = HashMap::new();
    let mut connection: Option<Connection> = None;
    let mut window_deadline = None;
    loop {
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => {
                // The unacknowledged messages of the dead connection stay unacknowledged.
                inflight.clear();
                if stopping {
                    // The end marker's loop below reconnects.
                    break;
                }
                match connect_retrying(ctx.addr, &client_id, true, None, ctx.deadline).await {
                    Ok(conn) => connection.insert(conn),
                    Err(e) => {
                        out.problem = Some(format!("{e:#}"));
                        return out;
                    }
                }
            }
        };
        if stopping && inflight.is_empty() {
            break;
        }
        let can_send =
            !stopping && inflight.len() < WINDOW && ctx.budget.load(Ordering::Relaxed) > 0;
        let far = ctx.deadline;
        let mut lost = false;
        tokio::select! {
            biased;
            () = stopped(&mut stop), if !stopping => {
                stopping = true;
                window_deadline = Some(Instant::now() + WINDOW_TIMEOUT);
            }
            () = sleep_until(window_deadline.unwrap_or(far)), if stopping => {
                // The rest of the window stays unacknowledged (sent, may or may not arrive).
                break;
            }
            () = sleep_until(next_send), if can_send => {
                if ctx.budget.fetch_sub(1, Ordering::Relaxed) <= 0 {
                    continue;
                }
                while inflight.contains_key(&packet_id) {
                    packet_id = packet_id.next();
                }
                let sequence = out.sent;
                out.sent += 1;
                inflight.insert(packet_id, sequence);
                let publish = Publish::with_qos(
                    topic.clone(),
                    payload(index, sequence),
                    QoS::AtLeastOnce,
                    packet_id,
                );
                packet_id = packet_id.next();
                // Catch up after a restart, but by no more than a window's worth.
                let now = Instant::now();
                let catch_up = ctx.interval * WINDOW as u32;
                next_send = (next_send + ctx.interval)
                    .max(now.checked_sub(catch_up).unwrap_or(now));
                if conn.send(&Packet::Publish(publish)).await.is_err() {
                    lost = true;
                }
            }
            packet = conn.next_packet() => match packet {
                Ok(Packet::PubAck(ack)) => record_ack(&mut out, &mut inflight, &ack),
                Ok(Packet::Disconnect(_)) | Err(_) => lost = true,
                Ok(_) => {}
            },
        }
        if lost {
            connection = None;
        }
    }
    // The end marker, resent on a new connection until acknowledged.
    let end_deadline = Instant::now() + ctx.drain_timeout;
    loop {
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => {
                inflight.clear();
                match connect_retrying(ctx.addr, &client_id, true, None, end_deadline).await {
                    Ok(conn) => connection.insert(conn),
                    Err(e) => {
                        out.problem = Some(format!("end marker: {e:#}"));
                        return out;
                    }
                }
            }
        };
        while inflight.contains_key(&packet_id) {
            packet_id = packet_id.next();
        }
        let end_id = packet_id;
        packet_id = packet_id.next();
        let publish =
            Publish::with_qos(topic.clone(), payload(index, END), QoS::AtLeastOnce, end_id);
        let exchange = async {
            conn.send(&Packet::Publish(publish)).await?;
            loop {
                match conn.next_packet().await? {
                    Packet::PubAck(ack) if ack.packet_id == end_id => {
                        return Ok::<bool, anyhow::Error>(!ack.reason_code.is_error());
                    }
                    Packet::PubAck(ack) => record_ack(&mut out, &mut inflight, &ack),
                    Packet::Disconnect(d) => bail!("DISCONNECT {:?}", d.reason_code),
                    _ => {}
                }
            }
        };
        match timeout(
            end_deadline.saturating_duration_since(Instant::now()),
            exchange,
        )
        .await
        {
            Ok(Ok(true)) => {
                out.end_acked = true;
                if let Some(conn) = connection.take() {
                    conn.disconnect().await;
                }
                return out;
            }
            Ok(Ok(false)) => {
                out.problem = Some("the end marker was refused".to_owned());
                return out;
            }
            Ok(Err(_)) => connection = None,
            Err(_) => {
                out.problem = Some("the end marker was never acknowledged".to_owned());
                return out;
            }
        }
    }
}

/// Records a PUBACK of a message of the window.
fn record_ack(out: &mut PublisherOutcome, inflight: &mut HashMap<PacketId, u64>, ack: &Ack) {
    if let Some(sequence) = inflight.remove(&ack.packet_id) {
        // MQTT 5.0 §3.4.2.1: a reason of 0x80 or more means the message was not accepted.
        if ack.reason_code.is_error() {
            out.refused += 1;
        } else {
            out.acked.push(sequence);
        }
    }
}

/// A subscriber's receipts, shared with the drain.
struct Sub {
    name: String,
    receipts: Mutex<Receipts>,
    /// Signalled at every receipt and every lost session.
    notify: Notify,
}

#[derive(Default)]
struct Receipts {
    /// (publisher, sequence) of every message received, in receipt order, end markers apart.
    messages: Vec<(u32, u64)>,
    /// Publishers whose end marker arrived.
    ends: HashSet<u32>,
    /// Payloads that were not ours.
    unparsable: u64,
    /// Reconnects whose CONNACK said Session Present 0.
    sessions_lost: u64,
    /// Whether the current session lost the subscription (nothing more can arrive).
    unsubscribed: bool,
}

impl Sub {
    fn new(name: &str) -> Self {
        Sub {
            name: name.to_owned(),
            receipts: Mutex::new(Receipts::default()),
            notify: Notify::new(),
        }
    }

    fn record(&self, publish: &Publish) {
        let mut receipts = self.receipts.lock();
        match parse(&publish.topic, &publish.payload) {
            Some((p, END)) => {
                receipts.ends.insert(p);
            }
            Some(message) => receipts.messages.push(message),
            None => receipts.unparsable += 1,
        }
        drop(receipts);
        self.notify.notify_one();
    }

    /// Compares the receipts with what was sent and acknowledged.
    fn report(
        &self,
        acked: &[HashSet<u64>],
        sent: &[u64],
        ended: &[bool],
        drain: Drain,
    ) -> SubscriberReport {
        let receipts = self.receipts.lock();
        let mut report = SubscriberReport {
            name: self.name.clone(),
            received: receipts.messages.len() as u64,
            invented: receipts.unparsable,
            sessions_lost: receipts.sessions_lost,
            drain: drain.to_string(),
            ..SubscriberReport::default()
        };
        let mut seen: HashSet<(u32, u64)> = HashSet::new();
        let mut highest: HashMap<u32, u64> = HashMap::new();
        for &(p, s) in &receipts.messages {
            if s >= sent.get(p as usize).copied().unwrap_or(0) {
                report.invented += 1;
                continue;
            }
            if !seen.insert((p, s)) {
                report.duplicates += 1;
                continue;
            }
            report.delivered += 1;
            match highest.get_mut(&p) {
                Some(h) if s < *h => report.out_of_order += 1,
                Some(h) => *h = s,
                None => {
                    highest.insert(p, s);
                }
            }
        }
        for (p, acked) in acked.iter().enumerate() {
            let mut lost: Vec<u64> = acked
                .iter()
                .copied()
                .filter(|s| !seen.contains(&(p as u32, *s)))
                .collect();
            lost.sort_unstable();
            report.lost += lost.len() as u64;
            for s in lost {
                if report.lost_examples.len() < EXAMPLES {
                    report.lost_examples.push((p as u32, s));
                }
            }
        }
        report.missing_end_markers = ended
            .iter()
            .enumerate()
            .filter(|(p, acked)| **acked && !receipts.ends.contains(&(*p as u32)))
            .count() as u64;
        report
    }
}

/// Receives and acknowledges messages, reconnecting (Clean Start 0, no new SUBSCRIBE: the
/// session holds the subscription) after every kill, until `stop`.
async fn subscriber(
    sub: Arc<Sub>,
    ctx: Arc<Ctx>,
    mut connection: Option<Connection>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let mut conn = match connection.take() {
            Some(conn) => conn,
            None => {
                let connecting = connect_retrying(
                    ctx.addr,
                    &sub.name,
                    false,
                    Some(SESSION_EXPIRY),
                    ctx.deadline,
                );
                let conn = tokio::select! {
                    () = stopped(&mut stop) => return Ok(()),
                    conn = connecting => conn?,
                };
                if !conn.session_present {
                    let mut receipts = sub.receipts.lock();
                    receipts.sessions_lost += 1;
                    receipts.unsubscribed = true;
                    drop(receipts);
                    sub.notify.notify_one();
                }
                conn
            }
        };
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut stop) => {
                    conn.disconnect().await;
                    return Ok(());
                }
                packet = conn.next_packet() => match packet {
                    Ok(Packet::Publish(publish)) => {
                        sub.record(&publish);
                        if let (QoS::AtLeastOnce, Some(id)) = (publish.qos, publish.packet_id)
                            && conn.send(&Packet::PubAck(Ack::new(id))).await.is_err()
                        {
                            break;
                        }
                    }
                    Ok(Packet::Disconnect(_)) | Err(_) => break,
                    Ok(_) => {}
                },
            }
        }
    }
}

/// How a subscriber's drain ended.
#[derive(Clone, Copy, Debug)]
enum Drain {
    /// Every acknowledged message and every acknowledged end marker arrived.
    Complete,
    /// Every end marker arrived, some acknowledged messages did not, and nothing more came for
    /// [`SETTLE`].
    EndMarkersOnly,
    /// The session was lost: it holds no subscription, nothing more can arrive.
    SessionLost,
    /// The drain timeout passed.
    TimedOut,
}

impl fmt::Display for Drain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Drain::Complete => "complete",
            Drain::EndMarkersOnly => "every end marker, not every acknowledged message",
            Drain::SessionLost => "stopped, the session was lost",
            Drain::TimedOut => "timed out",
        })
    }
}

/// Waits until `sub` has every acknowledged message and end marker, or cannot get them.
async fn drain(sub: &Sub, acked: &[HashSet<u64>], ended: &[bool], deadline: Instant) -> Drain {
    let mut missing: HashSet<(u32, u64)> = acked
        .iter()
        .enumerate()
        .flat_map(|(p, set)| set.iter().map(move |s| (p as u32, *s)))
        .collect();
    let ends_expected: HashSet<u32> = ended
        .iter()
        .enumerate()
        .filter(|(_, e)| **e)
        .map(|(p, _)| p as u32)
        .collect();
    let mut read = 0;
    let mut settle: Option<Instant> = None;
    loop {
        let notified = sub.notify.notified();
        {
            let receipts = sub.receipts.lock();
            for message in &receipts.messages[read..] {
                missing.remove(message);
            }
            read = receipts.messages.len();
            let ends = ends_expected.is_subset(&receipts.ends);
            if ends && missing.is_empty() {
                return Drain::Complete;
            }
            if receipts.unsubscribed {
                return Drain::SessionLost;
            }
            if ends && settle.is_none() {
                settle = Some(Instant::now() + SETTLE);
            }
        }
        let until = settle.map_or(deadline, |s| s.min(deadline));
        tokio::select! {
            () = notified => {}
            () = sleep_until(until) => {
                return if settle.is_some_and(|s| s <= deadline) {
                    Drain::EndMarkersOnly
                } else {
                    Drain::TimedOut
                };
            }
        }
    }
}

/// xorshift64*: the kill points, reproducible from the seed (no `rand` dependency).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // The state must not be 0.
        XorShift((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_foreign_ones_do_not_parse() {
        assert_eq!(parse("crash/3", &payload(3, 42)), Some((3, 42)));
        assert_eq!(parse("crash/3", &payload(3, END)), Some((3, END)));
        assert_eq!(parse("crash/2", &payload(3, 42)), None);
        assert_eq!(parse("crash/3", b"hello"), None);
    }

    #[test]
    fn the_report_counts_losses_duplicates_inventions_and_disorder() {
        let sub = Sub::new("s");
        {
            let mut r = sub.receipts.lock();
            r.messages = vec![(0, 0), (0, 2), (0, 1), (0, 2), (0, 9), (1, 0)];
            r.ends.insert(0);
        }
        let acked = vec![HashSet::from([0, 1, 2, 3]), HashSet::from([0])];
        let report = sub.report(&acked, &[5, 1], &[true, true], Drain::TimedOut);
        assert_eq!(report.delivered, 4);
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.invented, 1, "sequence 9 was never sent");
        assert_eq!(report.out_of_order, 1, "1 after 2");
        assert_eq!(report.lost, 1);
        assert_eq!(report.lost_examples, vec![(0, 3)]);
        assert_eq!(report.missing_end_markers, 1);
        assert!(!report.passed());
    }
}
