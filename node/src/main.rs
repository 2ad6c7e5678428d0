//! `bct-node`: create a node's home (`init`), run it (`run`), or try a one-validator network
//! on this machine (`dev`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use bct_node::config::{NodeConfig, Role};
use bct_node::keys::{peer_id_of, NodeKey};
use bct_node::localnet::{generate, LocalnetSpec};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Log filter when `RUST_LOG` is not set: the node at INFO, the consensus engine and libp2p at
/// WARN (which still shows refused peers and failed syncs).
const DEFAULT_LOG: &str = "info,arc_malachitebft=warn,libp2p=warn,sled=warn,h2=warn,tower=warn";

#[derive(Parser)]
#[command(name = "bct-node", version, about = "A node of the bct blue carbon ticket ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates a node home: a new key (node_key.json, mode 0600) and config.toml.
    Init {
        /// The home directory (created if missing).
        #[arg(long)]
        home: PathBuf,
        /// Name in logs and metrics.
        #[arg(long, default_value = "node")]
        moniker: String,
        /// Run as an observer (never votes).
        #[arg(long)]
        observer: bool,
        /// Consensus listen multiaddress.
        #[arg(long, default_value = "/ip4/0.0.0.0/tcp/26656")]
        p2p_listen: String,
        /// gRPC listen address.
        #[arg(long, default_value = "127.0.0.1:9090")]
        grpc_listen: SocketAddr,
        /// Prometheus listen address (none by default).
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
    },
    /// Runs the node of a home directory until Ctrl-C.
    Run {
        /// The home directory.
        #[arg(long)]
        home: PathBuf,
    },
    /// Prints the node's public key, address and libp2p peer id (what other nodes list).
    Id {
        /// The home directory.
        #[arg(long)]
        home: PathBuf,
    },
    /// Starts a single-validator network for a first try, with a ready authority key.
    Dev {
        /// Where to keep it (reused if it exists); a temporary directory by default.
        #[arg(long)]
        home: Option<PathBuf>,
        /// gRPC listen address.
        #[arg(long, default_value = "127.0.0.1:9090")]
        grpc_listen: SocketAddr,
        /// Prometheus listen address.
        #[arg(long, default_value = "127.0.0.1:9100")]
        metrics_listen: SocketAddr,
        /// Web view and JSON API listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        web_listen: SocketAddr,
        /// Consensus port on 127.0.0.1.
        #[arg(long, default_value_t = 26656)]
        p2p_port: u16,
        /// Longest time between blocks when no transaction waits, ms.
        #[arg(long, default_value_t = 1000)]
        empty_block_interval_ms: u64,
    },
}

/// Runs the command; an error is printed as one line, its causes after colons (never a
/// backtrace, whatever `RUST_BACKTRACE` says), and the exit code is 1.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run_command().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The engine's network logs at ERROR what is routine while the peers of a network start one
/// by one or one of them is down: a failed dial (`Error dialing peer`, `Failed to dial peer`),
/// a gossip message with nobody subscribed yet (`Error publishing message:
/// NoPeersSubscribedToTopic` / `InsufficientPeers`). These are not shown; the node's own peer
/// monitor (bct_node::network) warns instead, naming the peers, when a configured peer stays
/// unconnected for 30 s. Every other line of the engine passes.
struct RoutineEngineNoise;

/// The messages [`RoutineEngineNoise`] drops, by prefix.
const ROUTINE_ENGINE_ERRORS: [&str; 4] = [
    "Error dialing peer",
    "Failed to dial peer",
    "Error publishing message: NoPeersSubscribedToTopic",
    "Error publishing message: InsufficientPeers",
];

impl<S> tracing_subscriber::layer::Filter<S> for RoutineEngineNoise {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() != tracing::Level::ERROR || !meta.target().starts_with("arc_malachitebft_") {
            return true;
        }
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "message" {
                    self.0 = value.to_string();
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        !ROUTINE_ENGINE_ERRORS.iter().any(|p| message.0.starts_with(p))
    }
}

async fn run_command() -> Result<()> {
    let cli = Cli::parse();
    // A lone dev validator has no peers to publish to; the engine reports every publish as an
    // error, so its network logs are muted there.
    let default_log = match cli.command {
        Command::Dev { .. } => format!("{DEFAULT_LOG},arc_malachitebft_network=off"),
        _ => DEFAULT_LOG.to_string(),
    };
    use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_log));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .with_filter(filter)
                .with_filter(RoutineEngineNoise),
        )
        .init();
    match cli.command {
        Command::Init { home, moniker, observer, p2p_listen, grpc_listen, metrics_listen } => {
            init(&home, &moniker, observer, p2p_listen, grpc_listen, metrics_listen)
        }
        Command::Run { home } => run(&home).await,
        Command::Id { home } => id(&home),
        Command::Dev { home, grpc_listen, metrics_listen, web_listen, p2p_port, empty_block_interval_ms } => {
            dev(home, grpc_listen, metrics_listen, web_listen, p2p_port, empty_block_interval_ms).await
        }
    }
}

fn init(
    home: &Path,
    moniker: &str,
    observer: bool,
    p2p_listen: String,
    grpc_listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
) -> Result<()> {
    if home.join(bct_node::config::CONFIG_FILE).exists() {
        bail!("{} already holds a config.toml; refusing to overwrite a node's home", home.display());
    }
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let role = if observer { Role::Observer } else { Role::Validator };
    let mut config = NodeConfig::new(moniker, role, p2p_listen, grpc_listen);
    config.metrics.listen_addr = metrics_listen;
    let key_path = NodeConfig::resolve(home, &config.key_file);
    let key = NodeKey::generate();
    key.save(&key_path)?;
    config.save(home)?;
    let role_word = match role {
        Role::Validator => "a validator",
        Role::Observer => "an observer",
    };
    println!("Created {}, the home of {role_word} node.", home.display());
    print_id(&key)?;
    println!();
    println!("Next:");
    println!("  1. put the network's genesis.json in {}", home.display());
    println!("     (a validator's public key must be in its `validators`);");
    println!("  2. list every other node under [[p2p.peers]] in config.toml (name, public_key, address, grpc),");
    println!("     and give the other nodes this node's public key and address;");
    println!("  3. bct-node run --home {}", home.display());
    Ok(())
}

fn print_id(key: &NodeKey) -> Result<()> {
    println!("public key: {}", hex::encode(key.public_key()));
    println!("address:    {}", key.address());
    println!("peer id:    {}", peer_id_of(&key.public_key())?);
    Ok(())
}

fn id(home: &Path) -> Result<()> {
    let config = NodeConfig::load(home)?;
    let key = NodeKey::load(&NodeConfig::resolve(home, &config.key_file))?;
    print_id(&key)
}

async fn run(home: &Path) -> Result<()> {
    let mut node = bct_node::node::start(home).await?;
    let stop = async {
        // Ctrl-C, or SIGTERM from a service manager or `bct-testnet down`: a clean stop.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("stop requested: stopping");
    };
    let outcome = node.run_until(stop).await;
    node.shutdown().await;
    Ok(outcome?)
}

async fn dev(
    home: Option<PathBuf>,
    grpc_listen: SocketAddr,
    metrics_listen: SocketAddr,
    web_listen: SocketAddr,
    p2p_port: u16,
    empty_block_interval_ms: u64,
) -> Result<()> {
    let (_temp, root) = match home {
        Some(dir) => (None, dir),
        None => {
            let t = tempfile::Builder::new().prefix("bct-dev-").tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let node_home = root.join("validator-0");
    if !node_home.join(bct_node::config::CONFIG_FILE).exists() {
        let spec = LocalnetSpec {
            chain_id: "bct-dev".into(),
            validators: 1,
            observers: 0,
            authorities: 1,
            ports: vec![p2p_port, grpc_listen.port(), metrics_listen.port(), web_listen.port()],
            empty_block_interval_ms,
            timeout_propose_ms: 3000,
            forward: true,
        };
        generate(&root, &spec)?;
        let mut config = NodeConfig::load(&node_home)?;
        config.grpc.listen_addr = grpc_listen;
        config.metrics.listen_addr = Some(metrics_listen);
        config.web.listen_addr = Some(web_listen);
        config.save(&node_home)?;
    }
    let authority_file = root.join("authority-0.json");
    let authority = NodeKey::load(&authority_file)?;
    let mut node = bct_node::node::start(&node_home).await?;
    println!();
    println!("bct dev network (chain id bct-dev, one validator) in {}", root.display());
    println!("  gRPC:      http://{}", node.grpc_addr);
    if let Some(w) = node.web_addr {
        println!("  web view:  http://{w}/   (JSON API: http://{w}/api/v1/, OpenAPI: http://{w}/api/v1/openapi.json)");
    }
    if let Some(m) = node.metrics_addr {
        println!("  metrics:   http://{m}/metrics");
    }
    println!("  authority: {} (key file {})", authority.address(), authority_file.display());
    println!("             secret {}", hex::encode(authority.secret()));
    println!("  Ctrl-C stops it{}.", if home_is_temp(&_temp) { " and deletes the directory" } else { "" });
    println!();
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let outcome = node.run_until(stop).await;
    node.shutdown().await;
    Ok(outcome?)
}

fn home_is_temp(t: &Option<tempfile::TempDir>) -> bool {
    t.is_some()
}
