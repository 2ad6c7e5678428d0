//! `bct-testnet`: a whole bct network on this machine.
//!
//! `generate` writes keys, configs and a genesis; `up` starts the nodes as background processes
//! and waits until they commit blocks; `status` shows each node; `down` stops them; `demo` plays
//! the real cases of the domain on a running network; `bench` measures throughput and latency.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use bct_testnet::bench::{self, BenchOptions, Mode};
use bct_testnet::net::{process_usage, DEFAULT_BASE_PORT};
use bct_testnet::{demo, NodeCommand, Options, Testnet};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Where the network lives when `--dir` is not given.
const DEFAULT_DIR: &str = ".bct-testnet";

#[derive(Parser)]
#[command(
    name = "bct-testnet",
    version,
    about = "Runs a bct network on this machine: validators, observers, demo, benchmark"
)]
struct Cli {
    /// The network's directory.
    #[arg(long, global = true, default_value = DEFAULT_DIR, env = "BCT_TESTNET_DIR")]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct GenerateArgs {
    /// Validators (trading centres).
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Observers (regulators' replicas).
    #[arg(long, default_value_t = 1)]
    observers: usize,
    /// First port: node i uses base+10i (p2p), +1 (gRPC), +2 (metrics), +3 (web view and JSON API).
    #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
    /// Chain id; by default `bct-testnet-` and 8 random hex digits, so that no two networks
    /// share one (a certificate names its chain).
    #[arg(long)]
    chain_id: Option<String>,
    /// Longest time between blocks when no transaction waits, ms.
    #[arg(long, default_value_t = 500)]
    empty_block_interval_ms: u64,
    /// Serve gRPC over TLS: a CA for this network (tls-ca.crt in --dir) signs each node's
    /// certificate; wallets connect with `--ca-cert <dir>/tls-ca.crt`.
    #[arg(long)]
    tls: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Writes keys, configs and genesis for N validators and M observers into --dir.
    Generate(GenerateArgs),
    /// Starts every node in the background (generating the network first if --dir has none),
    /// waits until they commit blocks, and prints the endpoints.
    Up(GenerateArgs),
    /// Shows each node: process, height, state root, peers, mempool.
    Status,
    /// Stops every node (SIGTERM, then SIGKILL after 10 s).
    Down {
        /// Also delete the network's directory.
        #[arg(long)]
        clean: bool,
    },
    /// Plays the real cases of blue carbon (Lianjiang, Futian, Zhangzhou, Yancheng) on the
    /// network, starting it first if it is not running.
    Demo {
        /// Where to write the retirement certificate.
        #[arg(long)]
        certificate: Option<PathBuf>,
    },
    /// Load generator: funded accounts, pre-signed transfers, open or closed loop.
    Bench(BenchArgs),
    /// How fast the observer's web view answers (overview, retirement search, serial lookup)
    /// under concurrent clients, and how fast the retirements CSV streams.
    WebBench {
        /// The web address to measure [default: the observer's, else validator-0's].
        #[arg(long)]
        url: Option<String>,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Where to write the JSON report.
        #[arg(long, default_value = "web-bench-report.json")]
        report: PathBuf,
    },
    /// Runs one node (what `up` starts; not for direct use).
    #[command(hide = true)]
    Node {
        #[command(subcommand)]
        command: NodeRun,
    },
}

#[derive(Subcommand)]
enum NodeRun {
    Run {
        #[arg(long)]
        home: PathBuf,
    },
}

#[derive(Args)]
struct BenchArgs {
    /// Offered load in transfers/s (open loop); without it, closed loop finds saturation.
    #[arg(long)]
    rate: Option<u64>,
    /// Closed loop: transfers in flight.
    #[arg(long, default_value_t = 4000)]
    in_flight: usize,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Funded sender accounts.
    #[arg(long, default_value_t = 2000)]
    accounts: usize,
    /// Every Nth transaction of each account retires 1 kg instead of transferring it (to build
    /// a ledger with retirements for web-bench).
    #[arg(long)]
    retire_every: Option<u64>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-report.json")]
    report: PathBuf,
    /// Run against a fresh network in a temporary directory (4 validators, 1 observer),
    /// instead of the one in --dir.
    #[arg(long)]
    fresh: bool,
}

/// Errors are printed as one line of words with their causes (`Error: ...: ...`), never Rust's
/// debug form or a backtrace, whatever `RUST_BACKTRACE` says; the exit code is 1.
fn main() -> std::process::ExitCode {
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli() -> Result<()> {
    let cli = Cli::parse();
    if let Command::Node { command: NodeRun::Run { home } } = &cli.command {
        return run_node(home);
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Generate(args) => {
                let net = Testnet::generate(&cli.dir, options(&args), NodeCommand::this_executable()?)?;
                println!("Generated {} nodes in {}.", net.len(), cli.dir.display());
                print_endpoints(&net);
                println!("Start them with: bct-testnet up");
                Ok(())
            }
            Command::Up(args) => {
                let mut net = up(&cli.dir, &args).await?;
                net.detach();
                Ok(())
            }
            Command::Status => status(&cli.dir).await,
            Command::Down { clean } => down(&cli.dir, clean),
            Command::Demo { certificate } => {
                let mut net = up(&cli.dir, &GenerateArgs::parse_default()).await?;
                net.detach();
                let cert = certificate.unwrap_or_else(|| cli.dir.join("retirement-certificate.json"));
                demo::run(&net, &cert).await?;
                println!();
                println!(
                    "The network keeps running: `bct-testnet status`, the wallet (`bct --node {} status`),",
                    net.node(0).url()
                );
                println!("and `bct-testnet down` to stop it.");
                Ok(())
            }
            Command::Bench(args) => run_bench(&cli.dir, args).await,
            Command::WebBench { url, clients, duration, report } => {
                run_web_bench(&cli.dir, url, clients, duration, &report).await
            }
            Command::Node { .. } => unreachable!("handled above"),
        }
    })
}

impl GenerateArgs {
    fn parse_default() -> GenerateArgs {
        GenerateArgs {
            validators: 4,
            observers: 1,
            base_port: DEFAULT_BASE_PORT,
            chain_id: None,
            empty_block_interval_ms: 500,
            tls: false,
        }
    }
}

/// A chain id no other network has: `bct-testnet-` and 8 random hex digits.
fn unique_chain_id() -> String {
    let random = bct_node::keys::NodeKey::generate().public_key();
    format!("bct-testnet-{}", hex::encode(&random[..4]))
}

fn options(args: &GenerateArgs) -> Options {
    Options {
        chain_id: args.chain_id.clone().unwrap_or_else(unique_chain_id),
        validators: args.validators,
        observers: args.observers,
        base_port: Some(args.base_port),
        empty_block_interval_ms: args.empty_block_interval_ms,
        timeout_propose_ms: 3000,
        tls: args.tls,
    }
}

/// The node itself, in this process (what `up` starts as a child).
fn run_node(home: &Path) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut node = bct_node::node::start(home).await?;
        let stop = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("stop requested");
        };
        let outcome = node.run_until(stop).await;
        node.shutdown().await;
        Ok(outcome?)
    })
}

/// Opens (or generates) the network in `dir`, starts whatever is not running, and waits until
/// every node has committed a block.
async fn up(dir: &Path, args: &GenerateArgs) -> Result<Testnet> {
    let command = NodeCommand::this_executable()?;
    let mut net = if dir.join(bct_testnet::net::LAYOUT_FILE).exists() {
        Testnet::open(dir, command)?
    } else {
        println!("Generating {} validators and {} observers in {}.", args.validators, args.observers, dir.display());
        Testnet::generate(dir, options(args), command)?
    };
    let mut started = 0;
    for i in 0..net.len() {
        if net.running_pid(i).is_none() {
            net.start(i)?;
            started += 1;
        }
    }
    if started > 0 {
        println!("Started {started} nodes; waiting for blocks...");
    }
    let mut heights = Vec::new();
    for i in 0..net.len() {
        match net.wait_height(i, 1, Duration::from_secs(60)).await {
            Ok(h) => heights.push(h),
            Err(e) => {
                eprintln!("{e}\n--- last lines of {} ---\n{}", net.log_path(i).display(), net.log_tail(i, 20));
                bail!("the testnet did not come up; `bct-testnet down` stops what started");
            }
        }
    }
    println!(
        "The testnet is up: {} nodes committing blocks (height {}).",
        net.len(),
        heights.iter().max().unwrap_or(&0)
    );
    print_endpoints(&net);
    Ok(net)
}

fn print_endpoints(net: &Testnet) {
    println!("  {:<13} {:<10} {:<24} {:<24} {:<30} log", "node", "role", "gRPC", "web view and /api/v1/", "metrics");
    for n in &net.layout.nodes {
        println!(
            "  {:<13} {:<10} {:<24} {:<24} {:<30} {}",
            n.name,
            if n.validator { "validator" } else { "observer" },
            n.url(),
            n.web_url().unwrap_or_else(|| "-".into()),
            format!("http://{}/metrics", n.metrics),
            n.home.join(bct_testnet::net::LOG_FILE).display()
        );
    }
    println!("  authority key: {}", net.root.join(&net.layout.authority_key).display());
    if net.layout.options.tls {
        println!(
            "  gRPC over TLS: wallets trust the network's CA with --ca-cert {}",
            net.root.join(bct_testnet::net::TLS_CA_FILE).display()
        );
    }
}

async fn status(dir: &Path) -> Result<()> {
    let net = Testnet::open(dir, NodeCommand::this_executable()?)?;
    println!(
        "{:<13} {:<8} {:>8} {:>8} {:<18} {:>6} {:>8} {:>7} {:>9}",
        "node", "pid", "height", "mempool", "state root", "peers", "cpu s", "rss MiB", "gRPC"
    );
    for i in 0..net.len() {
        let node = net.node(i);
        let pid = net.running_pid(i);
        let usage = pid.and_then(process_usage);
        let (height, mempool, root, peers) = match (pid, net.status(i).await) {
            (Some(_), Ok(s)) => (
                s.height.to_string(),
                s.mempool_size.to_string(),
                hex::encode(&s.state_root.0[..8]),
                s.peers.iter().filter(|p| p.connected).count().to_string(),
            ),
            (Some(_), Err(_)) => ("-".into(), "-".into(), "not answering".into(), "-".into()),
            (None, _) => ("-".into(), "-".into(), "stopped".into(), "-".into()),
        };
        println!(
            "{:<13} {:<8} {:>8} {:>8} {:<18} {:>6} {:>8} {:>7} {:>9}",
            node.name,
            pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            height,
            mempool,
            root,
            peers,
            usage.map(|u| format!("{:.1}", u.0)).unwrap_or_else(|| "-".into()),
            usage.map(|u| (u.1 >> 20).to_string()).unwrap_or_else(|| "-".into()),
            node.grpc.port()
        );
    }
    Ok(())
}

fn down(dir: &Path, clean: bool) -> Result<()> {
    let mut net = match Testnet::open(dir, NodeCommand::this_executable()?) {
        Ok(n) => n,
        Err(e) if clean && !dir.exists() => {
            println!("Nothing to stop: {e}");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mut stopped = 0;
    for i in 0..net.len() {
        if net.running_pid(i).is_some() {
            let clean_stop = net.stop(i, Duration::from_secs(10))?;
            println!("{}: {}", net.node(i).name, if clean_stop { "stopped" } else { "killed after 10 s" });
            stopped += 1;
        }
    }
    if stopped == 0 {
        println!("No node of {} was running.", dir.display());
    }
    if clean {
        std::fs::remove_dir_all(dir)?;
        println!("Removed {}.", dir.display());
    }
    Ok(())
}

async fn run_web_bench(dir: &Path, url: Option<String>, clients: usize, duration: u64, report: &Path) -> Result<()> {
    let url = match url {
        Some(u) => u,
        None => {
            let net = Testnet::open(dir, NodeCommand::this_executable()?)?;
            let pick = (0..net.len()).find(|i| !net.node(*i).validator).unwrap_or(0);
            net.node(pick).web_url().context("that node serves no web view ([web] listen_addr)")?
        }
    };
    if clients == 0 || duration == 0 {
        bail!("--clients and --duration must be at least 1");
    }
    let options = bct_testnet::webbench::WebBenchOptions { url, clients, duration: Duration::from_secs(duration) };
    let r = bct_testnet::webbench::run(&options).await?;
    std::fs::write(report, serde_json::to_string_pretty(&r)?)?;
    bct_testnet::webbench::print(&r);
    println!("JSON report: {}", report.display());
    Ok(())
}

async fn run_bench(dir: &Path, args: BenchArgs) -> Result<()> {
    let temp;
    let mut net = if args.fresh {
        temp = std::env::temp_dir().join(format!("bct-bench-{}", std::process::id()));
        let mut o = Options { chain_id: "bct-bench".into(), base_port: None, ..Options::default() };
        o.empty_block_interval_ms = 500;
        let mut net = Testnet::generate(&temp, o, NodeCommand::this_executable()?)?;
        net.start_all()?;
        for i in 0..net.len() {
            net.wait_height(i, 1, Duration::from_secs(60)).await?;
        }
        net
    } else {
        let net = Testnet::open(dir, NodeCommand::this_executable()?)?;
        if net.pids().iter().any(Option::is_none) {
            bail!("not every node of {} is running: `bct-testnet up` first, or use --fresh", dir.display());
        }
        net
    };
    let mode = match args.rate {
        Some(rate) => Mode::Open { rate },
        None => Mode::Closed { in_flight: args.in_flight },
    };
    let options = BenchOptions {
        mode,
        duration: Duration::from_secs(args.duration),
        warmup: Duration::from_secs(args.warmup),
        accounts: args.accounts,
        retire_every: args.retire_every,
    };
    let report = bench::run(&net, &options).await?;
    std::fs::write(&args.report, serde_json::to_string_pretty(&report)?)?;
    bench::print(&report);
    println!("JSON report: {}", args.report.display());
    if args.fresh {
        net.stop_all(Duration::from_secs(10))?;
        let _ = std::fs::remove_dir_all(&net.root);
    }
    Ok(())
}
