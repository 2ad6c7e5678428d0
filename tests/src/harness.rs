//! A local network of real `bct-node` processes for one test: generated in a temporary
//! directory on free loopback ports, started from the `bct-node` binary of this build, killed
//! when dropped (with the tail of every log printed if the test failed).
//!
//! Tests start several processes each: [`serially`] runs one scenario at a time across test
//! processes (an advisory lock on a file), so a 2-core machine never runs two networks at once.
//! Waiting uses generous timeouts; nothing asserts on time.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use bct_testnet::{NodeCommand, Options, Testnet};

/// Longest wait for anything (startup, a height, a commit).
pub const WAIT: Duration = Duration::from_secs(120);

/// Runs one scenario on its own runtime after any other scenario of any test process finished.
pub fn serially(scenario: impl std::future::Future<Output = ()>) {
    let _lock = bct_testnet::net::network_test_lock().expect("network test lock");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(scenario);
}

/// A test network: the [`Testnet`] plus the temporary directory it lives in.
pub struct TestNet {
    /// The network.
    pub net: Testnet,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestNet {
    type Target = Testnet;
    fn deref(&self) -> &Testnet {
        &self.net
    }
}

impl std::ops::DerefMut for TestNet {
    fn deref_mut(&mut self) -> &mut Testnet {
        &mut self.net
    }
}

impl TestNet {
    /// Generates `validators` + `observers` nodes (none started), idle blocks every 200 ms.
    pub fn new(validators: usize, observers: usize) -> TestNet {
        TestNet::with_options(Options {
            chain_id: "bct-test".into(),
            validators,
            observers,
            base_port: None,
            empty_block_interval_ms: 200,
            timeout_propose_ms: 2000,
            tls: false,
        })
    }

    /// Generates a network with `options` (set `base_port: None`).
    pub fn with_options(options: Options) -> TestNet {
        let dir = tempfile::Builder::new().prefix("bct-test-").tempdir().expect("tempdir");
        let command = NodeCommand::sibling_bct_node().expect("the bct-node binary of this build");
        let net = Testnet::generate(dir.path(), options, command).expect("generate");
        let dir = if std::env::var_os("BCT_TEST_KEEP").is_some() {
            eprintln!("keeping the test network in {}", dir.path().display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        TestNet { net, _dir: dir }
    }

    /// Node `i`'s home directory.
    pub fn home(&self, i: usize) -> &Path {
        &self.net.node(i).home
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for i in 0..self.net.len() {
                eprintln!("===== {} (end of {}) =====", self.net.node(i).name, self.net.log_path(i).display());
                eprintln!("{}", self.net.log_tail(i, 60));
            }
        }
    }
}

/// The sum of the samples of `metric` on the `/metrics` endpoint at `addr`.
pub async fn metric(addr: SocketAddr, metric: &str) -> anyhow::Result<f64> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    Ok(body
        .lines()
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// The engine's counters of equivocation evidence (votes, proposals) on a node's `/metrics`:
/// what it saw since it last started.
pub async fn equivocations_counted(addr: SocketAddr) -> anyhow::Result<(f64, f64)> {
    Ok((
        metric(addr, "malachitebft_core_consensus_equivocation_votes_total").await?,
        metric(addr, "malachitebft_core_consensus_equivocation_proposals_total").await?,
    ))
}

/// The lines of a node's log (all its runs: the log is appended to) that report an
/// equivocation seen by the engine or by the node, a message the double-sign guard refused to
/// sign, or a write-ahead log that disagrees with what the engine re-derived.
pub fn equivocation_reports(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("equivocat")
                || l.contains("double-sign")
                || l.contains("double-signed")
                || l.contains("does not match the one recorded")
        })
        .map(str::to_string)
        .collect()
}

/// Checks that no node of `nodes` reported an equivocation in any of its runs (the log) or
/// counts one since its last start (`/metrics`); the reports otherwise.
pub async fn no_equivocation(net: &bct_testnet::Testnet, nodes: &[usize]) -> Result<(), String> {
    let mut found = Vec::new();
    for &i in nodes {
        let log = std::fs::read_to_string(net.log_path(i)).unwrap_or_default();
        for line in equivocation_reports(&log).into_iter().take(5) {
            found.push(format!("{}: {line}", net.node(i).name));
        }
        if let Ok((votes, proposals)) = equivocations_counted(net.node(i).metrics).await {
            if votes > 0.0 || proposals > 0.0 {
                found.push(format!(
                    "{}: /metrics counts {votes} equivocating votes and {proposals} proposals",
                    net.node(i).name
                ));
            }
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.join("\n"))
    }
}

/// Waits until nothing holds sled's lock on the database in `dir` (a dropped handle releases
/// it from a background thread, a moment later).
pub fn wait_unlocked(dir: &Path) {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(dir.join("db")).expect("sled's db file");
    let deadline = std::time::Instant::now() + WAIT;
    while file.try_lock().is_err() {
        assert!(std::time::Instant::now() < deadline, "{} stays locked", dir.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}
