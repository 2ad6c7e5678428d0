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
enum GenesisCommand {
    /// Starts a draft: the chain id and the genesis time, default parameters, nobody yet.
    New {
        /// The draft to write (refused if it exists).
        #[arg(long, default_value = "genesis.json")]
        file: PathBuf,
        /// The chain's name, e.g. bct-fujian-1 (every network needs its own).
        #[arg(long)]
        chain_id: String,
        /// Time of the genesis header, ms since the Unix epoch (now by default).
        #[arg(long)]
        genesis_time_ms: Option<u64>,
    },
    /// Adds a validator from what its institution sent: the output of `bct-node id --json`
    /// (--id FILE), or its public key and name.
    AddValidator {
        #[arg(long, default_value = "genesis.json")]
        file: PathBuf,
        /// A file holding the output of `bct-node id --json`.
        #[arg(long, conflicts_with = "public_key")]
        id: Option<PathBuf>,
        /// The node's public key (64 hex digits), if not given with --id.
        #[arg(long, requires = "name")]
        public_key: Option<String>,
        /// The validator's name (its moniker when read from --id).
        #[arg(long)]
        name: Option<String>,
        /// Voting power.
        #[arg(long, default_value_t = 1)]
        power: u64,
    },
    /// Adds an authority account (the registry's or a regulator's wallet key: `bct keys show`).
    AddAuthority {
        #[arg(long, default_value = "genesis.json")]
        file: PathBuf,
        /// Its public key, 64 hex digits.
        #[arg(long)]
        public_key: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its jurisdiction, e.g. CN-FJ.
        #[arg(long)]
        jurisdiction: String,
    },
    /// Changes a setting: chain_id, genesis_time_ms, attestations_required, block_txs_max,
    /// block_bytes_max, tx_bytes_max.
    Set {
        #[arg(long, default_value = "genesis.json")]
        file: PathBuf,
        /// The setting.
        name: String,
        /// Its new value.
        value: String,
    },
    /// Prints the draft or genesis for people.
    Show {
        #[arg(long, default_value = "genesis.json")]
        file: PathBuf,
    },
    /// Checks a whole genesis as a node reads it and prints its fingerprint (compare it with
    /// every other institution's before anyone starts a node).
    Check {
        #[arg(long, default_value = "genesis.json")]
        file: PathBuf,
    },
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
        /// As JSON, for a genesis coordinator (`bct-node genesis add-validator --id FILE`).
        #[arg(long)]
        json: bool,
    },
    /// The genesis ceremony: build genesis.json from the institutions' keys, check it, and
    /// print its fingerprint for everyone to compare (docs/OPERATIONS.md).
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Checks a home without running the node: config, genesis, key file and its permissions,
    /// peers, listen addresses (free, not shared); prints a summary or what to fix.
    Check {
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
        Command::Id { home, json } => id(&home, json),
        Command::Genesis { command } => genesis_command(command),
        Command::Check { home } => {
            let summary = bct_node::check::check_home(&home)?;
            for line in summary.lines {
                println!("{line}");
            }
            println!("ok: {} is ready to run (bct-node run --home {})", home.display(), home.display());
            Ok(())
        }
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
    println!("Next (docs/OPERATIONS.md, the genesis ceremony):");
    println!("  1. send `bct-node id --home {} --json` to the network's coordinator;", home.display());
    println!("  2. put the genesis.json you receive in {} and compare the fingerprint that", home.display());
    println!("     `bct-node genesis check --file {}/genesis.json` prints with the coordinator's;", home.display());
    println!("  3. append every other node to config.toml as [[p2p.peers]] (name, public_key, address, grpc);");
    println!("  4. bct-node check --home {}, then bct-node run --home {}", home.display(), home.display());
    Ok(())
}

fn genesis_command(command: GenesisCommand) -> Result<()> {
    use bct_node::ceremony;
    let edit =
        |file: &Path, change: &dyn Fn(&mut bct_ledger::Genesis) -> std::result::Result<(), String>| -> Result<()> {
            let mut g = ceremony::read_draft(file)?;
            change(&mut g).map_err(|e| anyhow::anyhow!("{}: {e}; the file is unchanged", file.display()))?;
            ceremony::write_draft(file, &g)?;
            Ok(())
        };
    match command {
        GenesisCommand::New { file, chain_id, genesis_time_ms } => {
            if file.exists() {
                bail!("{} exists; refusing to overwrite a genesis (choose another --file)", file.display());
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let g = ceremony::new_draft(&chain_id, genesis_time_ms.unwrap_or(now)).map_err(anyhow::Error::msg)?;
            ceremony::write_draft(&file, &g)?;
            println!("Started {} for chain {chain_id}.", file.display());
            println!("Next: add the authorities (bct-node genesis add-authority) and the validators");
            println!("(bct-node genesis add-validator --id node-id.json), then bct-node genesis check.");
        }
        GenesisCommand::AddValidator { file, id, public_key, name, power } => {
            let (key_hex, name) = match (id, public_key) {
                (Some(path), _) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read the node id {}", path.display()))?;
                    let id: ceremony::NodeId = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not the output of `bct-node id --json`", path.display()))?;
                    if id.role.as_deref() == Some("observer") {
                        bail!(
                            "{} is an observer's id ({}): observers never vote; only validators go in the genesis",
                            path.display(),
                            id.name
                        );
                    }
                    (id.public_key, name.unwrap_or(id.name))
                }
                (None, Some(k)) => (k, name.unwrap_or_default()),
                (None, None) => {
                    bail!("say which validator: --id FILE (from `bct-node id --json`) or --public-key HEX --name NAME")
                }
            };
            let key = ceremony::public_key(&key_hex).map_err(anyhow::Error::msg)?;
            edit(&file, &|g| ceremony::add_validator(g, key, &name, power))?;
            println!("Added validator {name} (power {power}) to {}.", file.display());
        }
        GenesisCommand::AddAuthority { file, public_key, name, jurisdiction } => {
            let key = ceremony::public_key(&public_key).map_err(anyhow::Error::msg)?;
            edit(&file, &|g| ceremony::add_authority(g, key, &name, &jurisdiction))?;
            println!("Added authority {name} ({jurisdiction}) to {}.", file.display());
        }
        GenesisCommand::Set { file, name, value } => {
            edit(&file, &|g| ceremony::set(g, &name, &value))?;
            println!("Set {name} = {value} in {}.", file.display());
        }
        GenesisCommand::Show { file } => {
            let g = ceremony::read_draft(&file)?;
            for line in ceremony::describe(&g) {
                println!("{line}");
            }
            match g.validate() {
                Ok(()) => println!("fingerprint:     {}", g.fingerprint().to_hex()),
                Err(e) => println!("not complete yet: {e}"),
            }
        }
        GenesisCommand::Check { file } => {
            let (g, fingerprint) = ceremony::check(&file)?;
            for line in ceremony::describe(&g) {
                println!("{line}");
            }
            println!("fingerprint:     {}", fingerprint.to_hex());
            println!("ok: {} is a valid genesis; every institution should see the same fingerprint", file.display());
        }
    }
    Ok(())
}

fn print_id(key: &NodeKey) -> Result<()> {
    println!("public key: {}", hex::encode(key.public_key()));
    println!("address:    {}", key.address());
    println!("peer id:    {}", peer_id_of(&key.public_key())?);
    Ok(())
}

fn id(home: &Path, json: bool) -> Result<()> {
    let config = NodeConfig::load(home)?;
    let key = NodeKey::load(&NodeConfig::resolve(home, &config.key_file))?;
    if json {
        let id = serde_json::json!({
            "name": config.moniker,
            "role": match config.role { Role::Validator => "validator", Role::Observer => "observer" },
            "public_key": hex::encode(key.public_key()),
            "address": key.address().to_string(),
            "peer_id": peer_id_of(&key.public_key())?.to_string(),
            "p2p_listen_addr": config.p2p.listen_addr,
            "grpc_listen_addr": config.grpc.listen_addr.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&id)?);
        return Ok(());
    }
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
