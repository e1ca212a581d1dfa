//! The `thingd` binary: the server and every subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use thingd::ServeOptions;
use thingd::rules::RulesOptions;
use thingd_broker::BrokerConfig;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

/// thingd: a self-hosted IoT platform that speaks AWS IoT Core's protocols.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the platform.
    // Boxed: its many flags make it far larger than the other subcommands' (large_enum_variant).
    Serve(Box<ServeArgs>),
    /// Manage device certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Measure MQTT brokers (thingd's plain listener, Mosquitto, ...) with the scenarios of
    /// docs/perf.md, and print a Markdown table.
    Bench(BenchArgs),
    /// Press the classic AWS IoT button once: publish a click to iotbutton/<serial> over
    /// MQTT/TLS with the button's certificate, and wait for the broker's PUBACK.
    Button(ButtonArgs),
    /// Check durability: run the thingd binary, SIGKILL it at random points while QoS 1
    /// messages flow to an online and an offline persistent session, restart it, and check
    /// that every acknowledged message is delivered, none invented, in per-publisher order.
    CrashTest(CrashTestArgs),
}

#[derive(Args, Debug)]
struct CrashTestArgs {
    /// How many times thingd is killed (SIGKILL) and restarted.
    #[arg(long, default_value_t = 100)]
    kills: usize,
    /// How many QoS 1 publishers.
    #[arg(long, default_value_t = 4)]
    publishers: usize,
    /// The seed of the random kill points (default: from the clock; printed to replay a run).
    #[arg(long)]
    seed: Option<u64>,
    /// The data directory (default: a temporary one, kept when the test fails).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The shortest run between kills, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    min_run_ms: u64,
    /// The longest run between kills, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 600)]
    max_run_ms: u64,
    /// The most messages sent in all, paced over the run (thingd is started with a session
    /// queue bound above it).
    #[arg(long, default_value_t = 200_000)]
    max_messages: u64,
    /// The bound on the whole run, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    max_seconds: u64,
    /// The thingd binary to test (default: this one).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Delete the broker's store between kill and restart: checks that the test sees losses.
    #[arg(long, hide = true)]
    corrupt_by_deleting_store: bool,
}

#[derive(Args, Debug)]
struct ButtonArgs {
    /// The MQTT/TLS endpoint, host:port (the host is checked against the server certificate).
    #[arg(long, default_value = "localhost:8883")]
    endpoint: String,
    /// The button's certificate (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// The button's private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// The CA certificate the server's certificate chains to (PEM; thingd's ca.pem).
    #[arg(long)]
    ca: PathBuf,
    /// The device serial number (DSN), e.g. G030JF051234A5BC.
    #[arg(long)]
    serial: String,
    /// The press: SINGLE, DOUBLE or LONG (the clickType AWS's button sends; any case).
    #[arg(long, value_enum, ignore_case = true, default_value = "single")]
    click: thingd::button::ClickType,
    /// The battery voltage reported, in millivolts.
    #[arg(long, default_value_t = 1567)]
    battery_mv: u32,
    /// The MQTT client id (default: the serial number).
    #[arg(long)]
    client_id: Option<String>,
    /// Seconds to wait for the broker before giving up.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// A broker to measure, as NAME=ADDRESS (repeatable), e.g. thingd=127.0.0.1:1884.
    #[arg(long = "target", required = true, value_parser = parse_target)]
    targets: Vec<(String, SocketAddr)>,
    /// Scenarios to run, by letter (a to f); all when omitted.
    #[arg(long, value_delimiter = ',')]
    scenario: Vec<String>,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Runs per scenario and target; the median run (by delivered rate) is reported.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Subscribers ask for persistent sessions (Clean Session 0): a durable broker then stores
    /// every QoS 1 delivery until it is acknowledged.
    #[arg(long)]
    persistent_subscribers: bool,
}

fn parse_target(value: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = value
        .split_once('=')
        .ok_or("expected NAME=ADDRESS, e.g. thingd=127.0.0.1:1884")?;
    let addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    Ok((name.to_owned(), addr))
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The data directory; created on first start.
    #[arg(long, env = "THINGD_DATA_DIR", default_value = "./thingd-data")]
    data_dir: PathBuf,
    /// MQTT over TLS with client certificates ("off" to disable).
    #[arg(long, default_value = "0.0.0.0:8883", value_parser = parse_listener)]
    mqtt: Listener,
    /// Plain MQTT over TCP, for development and conformance suites (off unless given).
    #[arg(long, value_parser = parse_listener)]
    mqtt_tcp: Option<Listener>,
    /// The AWS IoT policy (by name, created with the API) that clients without credentials are
    /// held to: the plain --mqtt-tcp listener and MQTT over WebSocket from loopback. Without it,
    /// every CONNECT there is refused (default deny).
    #[arg(long, value_name = "POLICY_NAME")]
    mqtt_tcp_policy: Option<String>,
    /// The HTTP listener: MQTT over WebSocket at /mqtt, /metrics ("off" to disable).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_listener)]
    api: Listener,
    /// The HTTPS device data plane, AWS IoT's port 8443: Publish, device shadows and retained
    /// messages over HTTPS with a client certificate ("off" to disable).
    #[arg(long, default_value = "0.0.0.0:8443", value_parser = parse_listener)]
    https: Listener,
    /// An extra name or address for the server certificate (repeatable).
    #[arg(long = "hostname")]
    hostnames: Vec<String>,
    /// The largest MQTT packet accepted, in bytes.
    #[arg(long, default_value_t = BrokerConfig::default().max_packet_size)]
    max_packet_size: u32,
    /// The most concurrent client connections.
    #[arg(long, default_value_t = BrokerConfig::default().max_connections)]
    max_connections: usize,
    /// The most QoS 1 and 2 messages queued for one session (offline, or waiting for its
    /// inflight window), in memory and in the store.
    #[arg(long, value_name = "N", default_value_t = BrokerConfig::default().max_session_queue)]
    max_queued_messages_per_session: usize,
    /// What happens to a QoS 1 or 2 message for a session whose queue is full: drop-new (as
    /// AWS IoT does), drop-oldest, or disconnect (the subscriber, with 0x97 for MQTT 5).
    #[arg(long, value_enum, default_value = "drop-new")]
    queue_overflow: QueueOverflowArg,
    /// The most bytes of messages kept in the store (mqtt.db) for persistent sessions.
    #[arg(long, value_name = "BYTES", default_value_t = BrokerConfig::default().max_stored_bytes)]
    max_stored_bytes: u64,
    /// Past --max-stored-bytes: refuse the publisher (PUBACK 0x97; MQTT 3.1.1 clients are
    /// disconnected) or drop-oldest (each session the message is queued for drops its oldest).
    #[arg(long, value_enum, default_value = "refuse")]
    store_full: StoreFullArg,
    /// When a commit of mqtt.db is durable, and QoS 1/2 messages acknowledged: full (on disk,
    /// fsync at every commit: survives a power loss) or normal (in the operating system:
    /// survives kill -9 and crashes of thingd, not a power loss).
    #[arg(long, value_enum, default_value = "full")]
    store_sync: StoreSyncArg,
    /// Apply AWS IoT Core's topic limits (256 bytes, 8 levels).
    #[arg(long)]
    aws_topic_limits: bool,
    /// Worker threads serving connections (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// The region in the ARNs thingd hands out and in its SigV4 scope.
    #[arg(long, env = "THINGD_REGION", default_value = "us-east-1")]
    region: String,
    /// The 12-digit account id in the ARNs thingd hands out.
    #[arg(long, env = "THINGD_ACCOUNT_ID", default_value = "000000000000", value_parser = parse_account_id)]
    account_id: String,
    /// A URL prefix of HTTP topic rule destinations thingd trusts (repeatable): a destination
    /// under it is ENABLED at once, without AWS's confirmation POST.
    #[arg(long = "rules-trusted-destination", value_name = "PREFIX")]
    rules_trusted_destinations: Vec<String>,
    /// Run no topic rules (none is loaded; Basic Ingest topics are refused).
    #[arg(long)]
    no_rules: bool,
    /// Messages waiting for one rule's evaluation; past it the rule drops new messages.
    #[arg(long, value_name = "N", default_value_t = RulesOptions::default().rule_queue)]
    rules_queue: usize,
    /// Results waiting for one rule action; past it the action fails (the error action runs).
    #[arg(long, value_name = "N", default_value_t = RulesOptions::default().action_queue)]
    rules_action_queue: usize,
    /// Requests of one http rule action under way at once (other actions deliver in order,
    /// one batch at a time).
    #[arg(long, value_name = "N", default_value_t = RulesOptions::default().action_concurrency)]
    rules_action_concurrency: usize,
    /// The most results a batching action (dynamoDBv2, kinesis, firehose, kafka) writes at once.
    #[arg(long, value_name = "N", default_value_t = RulesOptions::default().batch_size)]
    rules_batch_size: usize,
    /// The http action's request timeout, in milliseconds (AWS: 3000).
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    rules_http_timeout_ms: u64,
    /// Every other action's timeout per batch, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    rules_action_timeout_ms: u64,
    /// A URL prefix the http action may reach over plain http:// (repeatable); HTTPS needs none.
    #[arg(long = "rules-http-allow", value_name = "PREFIX")]
    rules_http_allow: Vec<String>,
    /// A PEM file of CA certificates the http action trusts besides the webpki roots
    /// (repeatable).
    #[arg(long = "rules-http-ca", value_name = "FILE")]
    rules_http_ca: Vec<PathBuf>,
    /// PostgreSQL for the dynamoDBv2 action (default: rules.db, SQLite, in the data directory).
    #[arg(
        long,
        env = "THINGD_RULES_POSTGRES",
        value_name = "URL",
        hide_env_values = true
    )]
    rules_postgres: Option<String>,
    /// The NATS server (JetStream) of the kinesis and firehose actions.
    #[arg(
        long,
        env = "THINGD_RULES_NATS",
        value_name = "URL",
        hide_env_values = true
    )]
    rules_nats: Option<String>,
    /// How many republish actions a message may pass through before it is dropped.
    #[arg(long, value_name = "N", default_value_t = RulesOptions::default().max_republish_depth)]
    rules_max_republish_depth: u8,
    /// The most metric series the cloudwatchMetric action creates on /metrics.
    #[arg(long, value_name = "N", default_value_t = RulesOptions::default().max_metric_series)]
    rules_max_metric_series: usize,
}

/// `--queue-overflow`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum QueueOverflowArg {
    DropNew,
    DropOldest,
    Disconnect,
}

/// `--store-sync`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum StoreSyncArg {
    Full,
    Normal,
}

/// `--store-full`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum StoreFullArg {
    Refuse,
    DropOldest,
}

fn parse_account_id(value: &str) -> Result<String, String> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err("an AWS account id is 12 digits".to_owned())
    }
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Issue a device certificate signed by the data directory's CA into a folder
    /// (cert.pem, key.pem, ca.pem).
    Issue {
        /// The certificate's common name, e.g. the thing name.
        #[arg(long)]
        name: String,
        /// The folder to write into.
        #[arg(long)]
        out: PathBuf,
        /// The data directory of the thingd whose CA signs.
        #[arg(long, env = "THINGD_DATA_DIR", default_value = "./thingd-data")]
        data_dir: PathBuf,
        /// Replace an existing key.pem in the folder.
        #[arg(long)]
        force: bool,
    },
}

/// A listener address, or "off".
#[derive(Clone, Copy, Debug)]
struct Listener(Option<SocketAddr>);

fn parse_listener(value: &str) -> Result<Listener, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(Listener(None));
    }
    value
        .parse::<SocketAddr>()
        .map(|a| Listener(Some(a)))
        .map_err(|e| format!("expected an address such as 0.0.0.0:8883, or \"off\": {e}"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("THINGD_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,rustls=error")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Bench(args) => bench(args),
        Command::Button(args) => button(args),
        Command::CrashTest(args) => crash_test(args),
        Command::Cert(CertCommand::Issue { name, out, data_dir, force }) => {
            run_async(thingd::cert::issue(&data_dir, &name, &out, force)).map(|id| {
                info!(message = "Issued and registered a device certificate.", certificate_id = %id, out = %out.display());
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn crash_test(args: CrashTestArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let binary = match args.binary {
        Some(binary) => binary,
        None => std::env::current_exe()?,
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut options = thingd::durability::CrashTestOptions::new(binary);
    options.kills = args.kills;
    options.publishers = args.publishers;
    options.seed = seed;
    options.data_dir = args.data_dir;
    options.min_run = std::time::Duration::from_millis(args.min_run_ms);
    options.max_run = std::time::Duration::from_millis(args.max_run_ms);
    options.max_messages = args.max_messages;
    options.max_duration = std::time::Duration::from_secs(args.max_seconds);
    options.corrupt_by_deleting_store = args.corrupt_by_deleting_store;
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(thingd::durability::crash_test(options))?;
    writeln!(std::io::stdout().lock(), "{report}")?;
    if report.passed() {
        Ok(())
    } else {
        anyhow::bail!(
            "the crash test failed: {} acknowledged messages lost, {} invented, {} out of order \
             (the report above says more)",
            report.lost(),
            report.invented(),
            report.out_of_order()
        )
    }
}

fn button(args: ButtonArgs) -> anyhow::Result<()> {
    let options = thingd::button::ButtonOptions {
        endpoint: args.endpoint,
        cert: args.cert,
        key: args.key,
        ca: args.ca,
        serial: args.serial,
        click: args.click,
        battery_mv: args.battery_mv,
        client_id: args.client_id,
        timeout: std::time::Duration::from_secs(args.timeout),
    };
    let topic = run_async(thingd::button::press(&options))?;
    info!(message = "The click was published and acknowledged.", topic = %topic, click = options.click.as_str());
    Ok(())
}

/// Runs a future on a small runtime, for the subcommands that talk to the store or the network.
fn run_async<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut options = ServeOptions::new(args.data_dir);
    options.mqtt = args.mqtt.0;
    options.mqtt_tcp = args.mqtt_tcp.and_then(|l| l.0);
    options.mqtt_tcp_policy = args.mqtt_tcp_policy;
    options.api = args.api.0;
    options.https = args.https.0;
    options.hostnames = args.hostnames;
    options.rules_trusted_destinations = args.rules_trusted_destinations;
    options.rules = RulesOptions {
        enabled: !args.no_rules,
        rule_queue: args.rules_queue,
        action_queue: args.rules_action_queue,
        action_concurrency: args.rules_action_concurrency,
        batch_size: args.rules_batch_size,
        http_timeout: std::time::Duration::from_millis(args.rules_http_timeout_ms),
        action_timeout: std::time::Duration::from_millis(args.rules_action_timeout_ms),
        http_allow: args.rules_http_allow,
        http_ca_files: args.rules_http_ca,
        trusted_destinations: Vec::new(),
        postgres_url: args.rules_postgres,
        sqlite_path: None,
        nats_url: args.rules_nats,
        max_republish_depth: args.rules_max_republish_depth,
        max_metric_series: args.rules_max_metric_series,
    };
    options.partition = thingd_registry::Partition {
        region: args.region,
        account: args.account_id,
    };
    options.broker.max_packet_size = args.max_packet_size;
    options.broker.max_connections = args.max_connections;
    options.broker.max_session_queue = args.max_queued_messages_per_session.max(1);
    options.broker.queue_overflow = match args.queue_overflow {
        QueueOverflowArg::DropNew => thingd_broker::QueueOverflow::DropNew,
        QueueOverflowArg::DropOldest => thingd_broker::QueueOverflow::DropOldest,
        QueueOverflowArg::Disconnect => thingd_broker::QueueOverflow::Disconnect,
    };
    options.broker.max_stored_bytes = args.max_stored_bytes;
    options.broker.store_full = match args.store_full {
        StoreFullArg::Refuse => thingd_broker::StoreFull::Refuse,
        StoreFullArg::DropOldest => thingd_broker::StoreFull::DropOldest,
    };
    options.store_sync = match args.store_sync {
        StoreSyncArg::Full => thingd_storage::DurableSync::Full,
        StoreSyncArg::Normal => thingd_storage::DurableSync::Normal,
    };
    if args.aws_topic_limits {
        options.broker.topic_limits = mqtt_topic::TopicLimits::AWS_IOT;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let running = thingd::serve::start(options).await?;
        info!(message = "thingd is running.", data_dir = %running.data_dir.display());
        wait_for_signal().await?;
        info!(message = "Shutting down.");
        running.shutdown().await;
        Ok(())
    })
}

/// Waits for SIGTERM or Ctrl-C.
async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        result = tokio::signal::ctrl_c() => result?,
    }
    Ok(())
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let scenarios: Vec<_> = thingd_bench::Scenario::standard(
        std::time::Duration::from_secs(args.warmup),
        std::time::Duration::from_secs(args.duration),
    )
    .into_iter()
    .filter(|s| {
        args.scenario.is_empty()
            || args
                .scenario
                .iter()
                .any(|l| s.name.starts_with(&format!("{l}:")))
    })
    .map(|mut s| {
        if args.persistent_subscribers {
            s.persistent_subscribers = true;
            s.name.push_str(" (persistent subscribers)");
        }
        s
    })
    .collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| scenario | broker | delivered/s | published/s | p50 | p99 | p99.9 | max | sent | lost | dup |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for scenario in &scenarios {
        for (name, addr) in &args.targets {
            let mut reports = Vec::new();
            for _ in 0..args.runs.max(1) {
                reports.push(runtime.block_on(thingd_bench::run(*addr, scenario))?);
            }
            reports.sort_by(|a, b| a.delivered_per_sec.total_cmp(&b.delivered_per_sec));
            let r = &reports[reports.len() / 2];
            let ms = |ns: u64| format!("{:.2} ms", ns as f64 / 1e6);
            writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                name,
                r.delivered_per_sec,
                r.published_per_sec,
                ms(r.latency[0]),
                ms(r.latency[1]),
                ms(r.latency[2]),
                ms(r.latency[3]),
                r.sent,
                r.lost,
                r.duplicates
            )?;
            out.flush()?;
        }
    }
    Ok(())
}
