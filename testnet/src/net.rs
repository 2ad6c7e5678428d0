//! A local network: its layout on disk (`testnet.json` beside one home directory per node) and
//! the node processes. Used by the `bct-testnet` commands and by the fault tests in `tests/`.
//!
//! A node runs as its own operating-system process, started from a [`NodeCommand`] with
//! `run --home <home>` appended; its output goes to `<home>/node.log` and its process id to
//! `<home>/node.pid`, so that another invocation (`status`, `down`) finds it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bct_ledger::Genesis;
use bct_node::config::{NodeConfig, Role};
use bct_node::keys::NodeKey;
use bct_node::localnet::{free_ports, generate, LocalnetSpec, PORTS_PER_NODE};
use bct_wallet::client::{Client, NetworkStatus};
use serde::{Deserialize, Serialize};

/// The file describing a generated network, in its root directory.
pub const LAYOUT_FILE: &str = "testnet.json";
/// A node's process id, in its home directory, while it runs.
pub const PID_FILE: &str = "node.pid";
/// A node's output, in its home directory (appended across restarts).
pub const LOG_FILE: &str = "node.log";

/// How to start a node process: `program prefix... run --home <home>`.
#[derive(Clone, Debug)]
pub struct NodeCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before `run --home <home>`.
    pub prefix: Vec<String>,
}

impl NodeCommand {
    /// This executable's own `node` subcommand (what `bct-testnet` uses, so that the node it
    /// starts is always the one it was built with).
    pub fn this_executable() -> Result<NodeCommand> {
        Ok(NodeCommand { program: std::env::current_exe()?, prefix: vec!["node".into()] })
    }

    /// A `bct-node` binary built in the same target directory as the running executable (a
    /// test or an example: `target/<profile>/deps/x` or `target/<profile>/examples/x`).
    pub fn sibling_bct_node() -> Result<NodeCommand> {
        let exe = std::env::current_exe()?;
        let mut dir = exe.parent().context("the executable has no directory")?.to_path_buf();
        if matches!(dir.file_name().and_then(|n| n.to_str()), Some("deps" | "examples")) {
            dir.pop();
        }
        let program = dir.join("bct-node");
        if !program.exists() {
            bail!("{} not found: build it first (cargo build -p bct-node)", program.display());
        }
        Ok(NodeCommand { program, prefix: Vec::new() })
    }
}

/// What to generate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Options {
    /// Chain id.
    pub chain_id: String,
    /// Validators.
    pub validators: usize,
    /// Observers (regulators' replicas).
    pub observers: usize,
    /// First port, or none for free ports picked by the system. Node `i` takes
    /// `base + 10 i` (p2p), `+1` (gRPC), `+2` (metrics), `+3` (web view).
    pub base_port: Option<u16>,
    /// Longest time between blocks when idle, ms.
    pub empty_block_interval_ms: u64,
    /// Propose timeout, ms.
    pub timeout_propose_ms: u64,
    /// Serve gRPC over TLS with certificates from a CA made for this network
    /// (`tls-ca.crt` in the root).
    #[serde(default)]
    pub tls: bool,
}

/// The CA certificate of a network generated with TLS, in its root.
pub const TLS_CA_FILE: &str = "tls-ca.crt";

impl Default for Options {
    fn default() -> Self {
        Options {
            chain_id: "bct-testnet".into(),
            validators: 4,
            observers: 1,
            base_port: Some(DEFAULT_BASE_PORT),
            empty_block_interval_ms: 500,
            timeout_propose_ms: 3000,
            tls: false,
        }
    }
}

/// Node 0's gRPC port is `DEFAULT_BASE_PORT + 1`.
pub const DEFAULT_BASE_PORT: u16 = 27000;

/// One node of the layout.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `validator-0`, `observer-0`, ...
    pub name: String,
    /// Validator or observer.
    pub validator: bool,
    /// Home directory.
    pub home: PathBuf,
    /// Consensus (libp2p) port.
    pub p2p_port: u16,
    /// gRPC address.
    pub grpc: SocketAddr,
    /// Prometheus address.
    pub metrics: SocketAddr,
    /// Web view and JSON API address (absent in layouts written before it existed).
    #[serde(default)]
    pub web: Option<SocketAddr>,
    /// Public key, hex.
    pub public_key: String,
    /// Whether its gRPC API is served over TLS.
    #[serde(default)]
    pub tls: bool,
}

impl NodeInfo {
    /// `http://<grpc>`, or `https://` over TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.grpc)
    }

    /// `http://<web>/`, if the node serves the web view.
    pub fn web_url(&self) -> Option<String> {
        self.web.map(|w| format!("http://{w}/"))
    }
}

/// The layout of a generated network (`testnet.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Layout {
    /// What it was generated with.
    pub options: Options,
    /// Validators first, then observers.
    pub nodes: Vec<NodeInfo>,
    /// The authority key file (genesis authority), relative to the root.
    pub authority_key: PathBuf,
}

/// A generated network and the processes this handle started.
pub struct Testnet {
    /// Root directory.
    pub root: PathBuf,
    /// Its layout.
    pub layout: Layout,
    command: NodeCommand,
    children: Vec<Option<Child>>,
}

impl Testnet {
    /// Generates a network into `root` (which must not hold one already).
    pub fn generate(root: &Path, options: Options, command: NodeCommand) -> Result<Testnet> {
        if root.join(LAYOUT_FILE).exists() {
            bail!("{} already holds a testnet; use it, or remove it first (bct-testnet down --clean)", root.display());
        }
        let total = options.validators + options.observers;
        let ports = match options.base_port {
            Some(base) => {
                let last = u32::from(base) + 10 * total as u32;
                if last > u32::from(u16::MAX) {
                    bail!("base port {base} leaves no room for {total} nodes");
                }
                (0..total).flat_map(|i| (0..PORTS_PER_NODE as u16).map(move |k| base + 10 * i as u16 + k)).collect()
            }
            None => free_ports(total * PORTS_PER_NODE)?,
        };
        let spec = LocalnetSpec {
            chain_id: options.chain_id.clone(),
            validators: options.validators,
            observers: options.observers,
            authorities: 1,
            ports: ports.clone(),
            empty_block_interval_ms: options.empty_block_interval_ms,
            timeout_propose_ms: options.timeout_propose_ms,
            forward: true,
        };
        let net = generate(root, &spec)?;
        if options.tls {
            let ca = bct_node::tls::LocalCa::new(&format!("{} local CA", options.chain_id))?;
            std::fs::write(root.join(TLS_CA_FILE), ca.cert_pem())?;
            for n in &net.nodes {
                let cert = ca.issue(&n.name, &["127.0.0.1", "localhost"], false)?;
                let dir = n.home.join("tls");
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("ca.crt"), ca.cert_pem())?;
                std::fs::write(dir.join("node.crt"), &cert.cert_pem)?;
                std::fs::write(dir.join("node.key"), &cert.key_pem)?;
                let mut config = bct_node::config::NodeConfig::load(&n.home)?;
                config.grpc.tls = Some(bct_node::config::GrpcTlsConfig {
                    cert_file: "tls/node.crt".into(),
                    key_file: "tls/node.key".into(),
                    client_ca_file: None,
                    peer_ca_file: Some("tls/ca.crt".into()),
                });
                for p in &mut config.p2p.peers {
                    p.grpc = p.grpc.as_ref().map(|u| u.replace("http://", "https://"));
                }
                config.save(&n.home)?;
            }
        }
        let nodes = net
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeInfo {
                name: n.name.clone(),
                validator: n.role == Role::Validator,
                home: n.home.clone(),
                p2p_port: ports[i * PORTS_PER_NODE],
                grpc: n.grpc,
                metrics: n.metrics,
                web: Some(n.web),
                public_key: hex::encode(n.public_key),
                tls: options.tls,
            })
            .collect::<Vec<_>>();
        let layout = Layout { options, nodes, authority_key: PathBuf::from("authority-0.json") };
        std::fs::write(root.join(LAYOUT_FILE), serde_json::to_string_pretty(&layout)?)?;
        Ok(Testnet::with_layout(root, layout, command))
    }

    /// Opens the network generated in `root`.
    pub fn open(root: &Path, command: NodeCommand) -> Result<Testnet> {
        let path = root.join(LAYOUT_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("no testnet in {} (bct-testnet generate makes one)", root.display()))?;
        let layout: Layout =
            serde_json::from_str(&text).with_context(|| format!("{} is not a layout", path.display()))?;
        Ok(Testnet::with_layout(root, layout, command))
    }

    fn with_layout(root: &Path, layout: Layout, command: NodeCommand) -> Testnet {
        let children = layout.nodes.iter().map(|_| None).collect();
        Testnet { root: root.to_path_buf(), layout, command, children }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.layout.nodes.len()
    }

    /// Whether there are no nodes (never, for a generated network).
    pub fn is_empty(&self) -> bool {
        self.layout.nodes.is_empty()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &NodeInfo {
        &self.layout.nodes[i]
    }

    /// The genesis.
    pub fn genesis(&self) -> Result<Genesis> {
        let path = self.node(0).home.join("genesis.json");
        Genesis::from_json(&std::fs::read_to_string(&path)?).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The genesis authority's key.
    pub fn authority(&self) -> Result<NodeKey> {
        Ok(NodeKey::load(&self.root.join(&self.layout.authority_key))?)
    }

    /// Node `i`'s configuration (to change before starting it).
    pub fn config(&self, i: usize) -> Result<NodeConfig> {
        Ok(NodeConfig::load(&self.node(i).home)?)
    }

    /// The process id recorded for node `i`, if its process is alive.
    pub fn running_pid(&self, i: usize) -> Option<u32> {
        let text = std::fs::read_to_string(self.node(i).home.join(PID_FILE)).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        // A recycled pid would show another program: check it is ours.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let home = self.node(i).home.to_string_lossy().into_owned();
        String::from_utf8_lossy(&cmdline).contains(&home).then_some(pid)
    }

    /// Starts node `i` as a process of its own process group (so that a Ctrl-C in the
    /// terminal that ran `up` does not reach it).
    pub fn start(&mut self, i: usize) -> Result<u32> {
        use std::os::unix::process::CommandExt as _;
        if let Some(pid) = self.running_pid(i) {
            bail!("{} is already running (pid {pid})", self.node(i).name);
        }
        let home = self.node(i).home.clone();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(home.join(LOG_FILE))?;
        let child = Command::new(&self.command.program)
            .args(&self.command.prefix)
            .args(["run", "--home"])
            .arg(&home)
            .env(
                "RUST_LOG",
                std::env::var("BCT_NODE_LOG").unwrap_or_else(|_| {
                    "info,bct_node::blocks=debug,arc_malachitebft=warn,libp2p=warn,sled=warn,h2=warn".into()
                }),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", self.command.program.display()))?;
        let pid = child.id();
        std::fs::write(home.join(PID_FILE), pid.to_string())?;
        self.children[i] = Some(child);
        Ok(pid)
    }

    /// Starts every node.
    pub fn start_all(&mut self) -> Result<()> {
        for i in 0..self.len() {
            self.start(i)?;
        }
        Ok(())
    }

    /// Sends `signal` (`KILL`, `TERM`, `STOP`, `CONT`) to node `i`'s process.
    pub fn signal(&self, i: usize, signal: &str) -> Result<()> {
        let Some(pid) = self.child_pid(i).or_else(|| self.running_pid(i)) else {
            bail!("{} is not running", self.node(i).name)
        };
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status()?;
        if !status.success() {
            bail!("kill -{signal} {pid} failed");
        }
        Ok(())
    }

    fn child_pid(&self, i: usize) -> Option<u32> {
        self.children[i].as_ref().map(Child::id)
    }

    /// Kills node `i` with SIGKILL (a crash) and waits for it to be gone.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        } else if let Some(pid) = self.running_pid(i) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            wait_gone(pid, Duration::from_secs(10));
        }
        let _ = std::fs::remove_file(self.node(i).home.join(PID_FILE));
        Ok(())
    }

    /// Stops node `i` cleanly (SIGTERM, then SIGKILL after `grace`); whether it stopped in
    /// time by itself.
    pub fn stop(&mut self, i: usize, grace: Duration) -> Result<bool> {
        let pid = match self.child_pid(i).or_else(|| self.running_pid(i)) {
            Some(p) => p,
            None => return Ok(true),
        };
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let clean = if let Some(mut c) = self.children[i].take() {
            let deadline = Instant::now() + grace;
            loop {
                if c.try_wait()?.is_some() {
                    break true;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break false;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        } else {
            let gone = wait_gone(pid, grace);
            if !gone {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                wait_gone(pid, Duration::from_secs(10));
            }
            gone
        };
        let _ = std::fs::remove_file(self.node(i).home.join(PID_FILE));
        Ok(clean)
    }

    /// Stops every node.
    pub fn stop_all(&mut self, grace: Duration) -> Result<()> {
        for i in 0..self.len() {
            self.stop(i, grace)?;
        }
        Ok(())
    }

    /// Forgets the processes this handle started, leaving them running (what `up` does).
    pub fn detach(&mut self) {
        for c in &mut self.children {
            *c = None;
        }
    }

    /// The network's CA certificate (PEM), if it was generated with TLS.
    pub fn ca_pem(&self) -> Option<Vec<u8>> {
        if self.layout.options.tls {
            std::fs::read(self.root.join(TLS_CA_FILE)).ok()
        } else {
            None
        }
    }

    /// Connects to node `i` once.
    async fn connect(&self, i: usize) -> Result<Client, bct_wallet::client::ClientError> {
        Client::connect_tls(&self.node(i).url(), self.ca_pem().as_deref()).await
    }

    /// A client to node `i` (connects, retrying until `timeout`).
    pub async fn client(&self, i: usize, timeout: Duration) -> Result<Client> {
        let url = self.node(i).url();
        let deadline = Instant::now() + timeout;
        loop {
            match self.connect(i).await {
                Ok(c) => return Ok(c),
                Err(e) if Instant::now() > deadline => bail!("{} does not answer at {url}: {e}", self.node(i).name),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Node `i`'s status, or why it has none.
    pub async fn status(&self, i: usize) -> Result<NetworkStatus> {
        let client = self.connect(i).await?;
        Ok(client.network_status().await?)
    }

    /// Waits until node `i` has committed `height`; its height then.
    pub async fn wait_height(&self, i: usize, height: u64, timeout: Duration) -> Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(s) = self.status(i).await {
                if s.height >= height {
                    return Ok(s.height);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not reach height {height} within {timeout:?} (log: {})",
                    self.node(i).name,
                    self.log_path(i).display()
                );
            }
            if let Some(pid) = self.child_pid(i) {
                if wait_gone(pid, Duration::ZERO) {
                    bail!("{} exited; see {}", self.node(i).name, self.log_path(i).display());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Node `i`'s log file.
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.node(i).home.join(LOG_FILE)
    }

    /// The last `lines` lines of node `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The process ids of the running nodes (by index).
    pub fn pids(&self) -> Vec<Option<u32>> {
        (0..self.len()).map(|i| self.child_pid(i).or_else(|| self.running_pid(i))).collect()
    }
}

impl Drop for Testnet {
    /// Processes this handle started and did not detach are killed with it (a test that fails
    /// leaves nothing running).
    fn drop(&mut self) {
        for c in self.children.iter_mut() {
            if let Some(mut c) = c.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// Waits until process `pid` is gone; whether it went within `timeout`.
fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        // A zombie (exited, not yet reaped by its parent) counts as gone.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s) if s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')) => return true,
            Ok(_) if Instant::now() >= deadline => return false,
            Ok(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// CPU time (user + system, seconds) and resident memory (bytes) of process `pid`, from
/// `/proc` (Linux).
pub fn process_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    // After the command name: state is field 3 of stat(5); utime and stime are 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = 100.0; // USER_HZ on Linux
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(((utime + stime) / ticks, rss_kb * 1024))
}

/// Takes the machine-wide lock that system tests hold while they run a network (an advisory
/// lock on a file in the temporary directory), so a 2-core machine never runs two at once;
/// released when the file is dropped.
pub fn network_test_lock() -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("bct-node-network-tests.lock"))?;
    file.lock()?;
    Ok(file)
}
