//! A real bct network for the end-to-end tests: `bct-node` validators written by
//! `bct_node::localnet::generate` and started in this process with `bct_node::node::start_with`
//! (consensus over libp2p on loopback, gRPC, forwarding), on a runtime of their own in a thread
//! of their own, so the tests may be synchronous or async. Waits are generous; nothing asserts
//! on time.
//!
//! One network at a time, across processes too (cargo-nextest runs each test in a process of
//! its own): an advisory lock on the file the node's own network tests lock, so a 2-core machine
//! never runs two networks at once. `BCT_TEST_LOG=<filter>` prints the nodes' logs to stderr;
//! `BCT_TEST_KEEP=1` keeps the network's directory.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bct_ledger::Genesis;
use bct_node::keys::NodeKey;
use bct_node::localnet::{free_ports, generate, LocalnetSpec};
use ed25519_dalek::SigningKey;

/// Longest wait for anything: the network's first block, a height, a commit.
pub const WAIT: Duration = Duration::from_secs(90);

/// How long a transaction command asks the node to wait for its commit (`--wait-ms`); the
/// nodes are configured to allow it.
pub const COMMIT_WAIT_MS: u64 = 60_000;

/// A running network; stopped (and its directory deleted) when dropped.
pub struct Network {
    /// The directory holding every node's home and `authority-0.json`.
    pub root: PathBuf,
    /// The chain id.
    pub chain_id: String,
    /// The genesis.
    pub genesis: Genesis,
    /// The gRPC URL of each node (validators in order).
    pub urls: Vec<String>,
    /// The web view and JSON API address of each node (`http://host:port`).
    pub webs: Vec<String>,
    /// The genesis authority's key.
    pub authority: SigningKey,
    /// Each validator's key, in the genesis order.
    pub validators: Vec<SigningKey>,
    dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _lock: std::fs::File,
}

/// What the network is made of.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Number of validators (equal power).
    pub validators: usize,
    /// Longest time between blocks when idle, ms.
    pub empty_block_interval_ms: u64,
    /// Propose timeout, ms (more than twice the interval).
    pub timeout_propose_ms: u64,
}

impl Spec {
    /// `validators` validators, an empty block every second when idle.
    pub fn validators(validators: usize) -> Spec {
        Spec { validators, empty_block_interval_ms: 1000, timeout_propose_ms: 3000 }
    }
}

/// Holds the lock every test network takes, until dropped.
pub fn lock() -> std::fs::File {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("bct-node-network-tests.lock"))
        .expect("lock file");
    // `File::lock` is Rust 1.89; bct-node, which these tests run, needs 1.89 anyway.
    #[allow(clippy::incompatible_msrv)]
    file.lock().expect("lock");
    file
}

fn log_to_stderr() {
    if let Ok(filter) = std::env::var("BCT_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    }
}

impl Network {
    /// Generates the network, starts every node and waits until each has committed a block.
    pub fn start(spec: Spec) -> Network {
        let asked = Instant::now();
        let lock = lock();
        if asked.elapsed() > Duration::from_secs(1) {
            eprintln!("waited {:?} for another test network to finish", asked.elapsed());
        }
        let started = Instant::now();
        log_to_stderr();
        let dir = tempfile::Builder::new().prefix("bct-wallet-test-").tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let chain_id = "bct-e2e".to_string();
        let localnet = generate(
            &root,
            &LocalnetSpec {
                chain_id: chain_id.clone(),
                validators: spec.validators,
                observers: 0,
                authorities: 1,
                ports: free_ports(spec.validators * bct_node::localnet::PORTS_PER_NODE).expect("free ports"),
                empty_block_interval_ms: spec.empty_block_interval_ms,
                timeout_propose_ms: spec.timeout_propose_ms,
                forward: true,
            },
        )
        .expect("the network is written");
        let dir = if std::env::var_os("BCT_TEST_KEEP").is_some() {
            eprintln!("keeping the test network in {}", root.display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let validators: Vec<SigningKey> = localnet
            .nodes
            .iter()
            .map(|n| NodeKey::load(&n.home.join("node_key.json")).expect("node key").signing_key().clone())
            .collect();
        let homes: Vec<PathBuf> = localnet.nodes.iter().map(|n| n.home.clone()).collect();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (ready_tx, ready) = mpsc::channel::<Result<Vec<String>, String>>();
        let thread = std::thread::Builder::new()
            .name("bct-network".into())
            .spawn(move || run_nodes(homes, stopped, ready_tx))
            .expect("the network thread starts");
        let mut network = Network {
            root,
            chain_id,
            genesis: localnet.genesis,
            urls: Vec::new(),
            webs: localnet.nodes.iter().map(|n| format!("http://{}", n.web)).collect(),
            authority: localnet.authorities[0].signing_key().clone(),
            validators,
            dir,
            stop: Some(stop),
            thread: Some(thread),
            _lock: lock,
        };
        match ready.recv_timeout(WAIT + Duration::from_secs(30)) {
            Ok(Ok(urls)) => network.urls = urls,
            Ok(Err(e)) => panic!("the network did not start: {e}"),
            Err(e) => panic!("the network did not start in time: {e}"),
        }
        eprintln!("{} validators started in {:?}", spec.validators, started.elapsed());
        network
    }

    /// The gRPC URL of the first validator.
    pub fn url(&self) -> &str {
        &self.urls[0]
    }

    /// The network's genesis file (every node has the same).
    pub fn genesis_file(&self) -> PathBuf {
        self.home(0).join("genesis.json")
    }

    /// The genesis authority's key file (`bct-node`'s key file format).
    pub fn authority_key_file(&self) -> PathBuf {
        self.root.join("authority-0.json")
    }

    /// The home directory of node `i`.
    pub fn home(&self, i: usize) -> PathBuf {
        self.root.join(format!("validator-{i}"))
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if std::thread::panicking() {
            eprintln!(
                "the test network was in {} (set BCT_TEST_KEEP=1 to keep it, BCT_TEST_LOG=info for the nodes' logs)",
                self.root.display()
            );
        }
        drop(self.dir.take());
    }
}

/// The network thread: starts the nodes, reports their URLs once each committed a block, and
/// runs them until told to stop (a node that stops by itself says why on stderr).
fn run_nodes(
    homes: Vec<PathBuf>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    ready: mpsc::Sender<Result<Vec<String>, String>>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bct-node")
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut nodes = Vec::new();
        for home in &homes {
            match start_node(home).await {
                Ok(n) => nodes.push(n),
                Err(e) => {
                    let _ = ready.send(Err(format!("{}: {e}", home.display())));
                    for n in nodes {
                        n.shutdown().await;
                    }
                    return;
                }
            }
        }
        let urls: Vec<String> = nodes.iter().map(|n| format!("http://{}", n.grpc_addr)).collect();
        let deadline = Instant::now() + WAIT;
        let mut outcome = Ok(urls);
        while nodes.iter().any(|n| n.chain.height() < 1) {
            if Instant::now() > deadline {
                let heights: Vec<u64> = nodes.iter().map(|n| n.chain.height()).collect();
                outcome = Err(format!("no first block within {WAIT:?} (heights {heights:?})"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = ready.send(outcome);
        let mut tasks = Vec::new();
        for (i, mut node) in nodes.into_iter().enumerate() {
            let mut stop = stopped.clone();
            tasks.push(tokio::spawn(async move {
                let outcome = node
                    .run_until(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = outcome {
                    eprintln!("test network: validator-{i} stopped: {e}");
                }
                node.shutdown().await;
            }));
        }
        let _ = stopped.wait_for(|s| *s).await;
        for t in tasks {
            let _ = t.await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// Starts the node of `home`, allowing `Submit` to wait [`COMMIT_WAIT_MS`].
async fn start_node(home: &Path) -> Result<bct_node::node::RunningNode, bct_node::NodeError> {
    let mut config = bct_node::config::NodeConfig::load(home)?;
    config.grpc.submit_wait_ms_max = COMMIT_WAIT_MS;
    config.metrics.listen_addr = None;
    bct_node::node::start_with(home, config).await
}
