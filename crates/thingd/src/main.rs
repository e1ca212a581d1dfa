//! The `thingd` binary: the server and every subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use thingd::ServeOptions;
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
    Serve(ServeArgs),
    /// Manage device certificates.
    #[command(subcommand)]
    Cert(CertCommand),
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
    /// The HTTP listener: MQTT over WebSocket at /mqtt, /metrics ("off" to disable).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_listener)]
    api: Listener,
    /// An extra name or address for the server certificate (repeatable).
    #[arg(long = "hostname")]
    hostnames: Vec<String>,
    /// The largest MQTT packet accepted, in bytes.
    #[arg(long, default_value_t = BrokerConfig::default().max_packet_size)]
    max_packet_size: u32,
    /// The most concurrent client connections.
    #[arg(long, default_value_t = BrokerConfig::default().max_connections)]
    max_connections: usize,
    /// Apply AWS IoT Core's topic limits (256 bytes, 8 levels).
    #[arg(long)]
    aws_topic_limits: bool,
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
        .with_env_filter(EnvFilter::try_from_env("THINGD_LOG").unwrap_or_else(|_| EnvFilter::new("info,rustls=error")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Cert(CertCommand::Issue { name, out, data_dir, force }) => {
            thingd::cert::issue(&data_dir, &name, &out, force).map(|id| {
                info!(message = "Issued a device certificate.", certificate_id = %id, out = %out.display());
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

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut options = ServeOptions::new(args.data_dir);
    options.mqtt = args.mqtt.0;
    options.mqtt_tcp = args.mqtt_tcp.and_then(|l| l.0);
    options.api = args.api.0;
    options.hostnames = args.hostnames;
    options.broker.max_packet_size = args.max_packet_size;
    options.broker.max_connections = args.max_connections;
    if args.aws_topic_limits {
        options.broker.topic_limits = mqtt_topic::TopicLimits::AWS_IOT;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
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
