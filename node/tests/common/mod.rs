//! Test harness: a local network of real `bct-node` processes on loopback ports, gRPC clients,
//! and transaction builders. Waiting uses generous timeouts; nothing asserts on time.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bct_ledger::tx::{AdmitAccount, TxBody, TxKind};
use bct_ledger::types::Role;
use bct_ledger::{Address, SignedTx};
use bct_node::config::NodeConfig;
use bct_node::keys::NodeKey;
use bct_node::localnet::{free_ports, generate, Localnet, LocalnetSpec};
use bct_proto::pb;
use bct_proto::pb::query_client::QueryClient;
use bct_proto::pb::transactions_client::TransactionsClient;
use tonic::transport::Channel;

/// Tests start several processes each: run them one at a time.
pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one scenario on its own runtime, after any other scenario finished: in this process
/// (a mutex) and in others (an advisory lock on a file, for runners such as cargo-nextest that
/// start one process per test), so a 2-core machine never runs two networks at once.
pub(crate) fn serially(scenario: impl std::future::Future<Output = ()>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("bct-node-network-tests.lock"))
        .expect("lock file");
    lock_file.lock().expect("lock");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(scenario);
}

/// Longest wait for anything (startup, a height, a commit).
pub(crate) const WAIT: Duration = Duration::from_secs(180);

/// A network of node processes; killed when dropped (logs printed if the test failed).
pub(crate) struct Net {
    _dir: Option<tempfile::TempDir>,
    pub(crate) root: PathBuf,
    pub(crate) net: Localnet,
    children: Vec<Option<Child>>,
    channels: Mutex<std::collections::BTreeMap<usize, Channel>>,
}

impl Net {
    /// Generates `validators` + `observers` nodes (none started).
    pub(crate) fn new(validators: usize, observers: usize, authorities: usize) -> Net {
        let dir = tempfile::Builder::new().prefix("bct-node-test-").tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        if std::env::var_os("BCT_TEST_KEEP").is_some() {
            eprintln!("keeping the test network in {}", root.display());
        }
        let total = validators + observers;
        let spec = LocalnetSpec {
            chain_id: "bct-test".into(),
            validators,
            observers,
            authorities,
            ports: free_ports(total * bct_node::localnet::PORTS_PER_NODE).expect("ports"),
            empty_block_interval_ms: 200,
            timeout_propose_ms: 2000,
            forward: true,
        };
        let net = generate(&root, &spec).expect("generate");
        let dir = if std::env::var_os("BCT_TEST_KEEP").is_some() {
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        Net { _dir: dir, root, children: (0..total).map(|_| None).collect(), net, channels: Mutex::default() }
    }

    pub(crate) fn home(&self, i: usize) -> &Path {
        &self.net.nodes[i].home
    }

    /// Removes node `name` from every other node's peer list (it becomes an outsider).
    pub(crate) fn make_outsider(&self, i: usize) {
        let name = self.net.nodes[i].name.clone();
        for (j, n) in self.net.nodes.iter().enumerate() {
            if j == i {
                continue;
            }
            let mut c = NodeConfig::load(&n.home).expect("config");
            c.p2p.peers.retain(|p| p.name != name);
            c.save(&n.home).expect("save");
        }
    }

    /// Starts node `i` (its output goes to `<home>/node.log`, appended across restarts).
    pub(crate) fn start(&mut self, i: usize) {
        let home = self.home(i).to_path_buf();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(home.join("node.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_bct-node"))
            .args(["run", "--home"])
            .arg(&home)
            .env(
                "RUST_LOG",
                std::env::var("BCT_TEST_LOG")
                    .unwrap_or_else(|_| "info,bct_node::blocks=debug,arc_malachitebft=warn,libp2p=warn".into()),
            )
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn bct-node");
        self.children[i] = Some(child);
    }

    /// Starts node `i` as an operator would: no `RUST_LOG`, so the node's own default log
    /// levels.
    pub(crate) fn start_with_default_log(&mut self, i: usize) {
        let home = self.home(i).to_path_buf();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(home.join("node.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_bct-node"))
            .args(["run", "--home"])
            .arg(&home)
            .env_remove("RUST_LOG")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn bct-node");
        self.children[i] = Some(child);
    }

    /// Kills node `i` (SIGKILL: a crash, not a clean stop).
    pub(crate) fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.home(i).join("node.log")).unwrap_or_default()
    }

    pub(crate) async fn transactions(&self, i: usize) -> TransactionsClient<Channel> {
        TransactionsClient::new(self.channel(i).await)
    }

    pub(crate) async fn query(&self, i: usize) -> QueryClient<Channel> {
        QueryClient::new(self.channel(i).await)
    }

    /// A channel to node `i`'s gRPC API, once it answers (one per node, reused; it
    /// reconnects by itself after the node restarts).
    pub(crate) async fn channel(&self, i: usize) -> Channel {
        if let Some(ch) = self.channels.lock().unwrap_or_else(|e| e.into_inner()).get(&i) {
            return ch.clone();
        }
        let ch = self.connect(i).await;
        self.channels.lock().unwrap_or_else(|e| e.into_inner()).insert(i, ch.clone());
        ch
    }

    async fn connect(&self, i: usize) -> Channel {
        let url = format!("http://{}", self.net.nodes[i].grpc);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(ch) = Channel::from_shared(url.clone()).expect("url").connect().await {
                return ch;
            }
            assert!(Instant::now() < deadline, "node {i} never opened its gRPC port");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn status(&self, i: usize) -> pb::GetNetworkStatusResponse {
        let mut q = self.query(i).await;
        q.get_network_status(pb::GetNetworkStatusRequest {}).await.expect("status").into_inner()
    }

    /// Waits until node `i` has committed `height`; returns its height then.
    pub(crate) async fn wait_height(&self, i: usize, height: u64) -> u64 {
        let deadline = Instant::now() + WAIT;
        let mut q = self.query(i).await;
        loop {
            if let Ok(s) = q.get_network_status(pb::GetNetworkStatusRequest {}).await {
                let h = s.into_inner().height;
                if h >= height {
                    return h;
                }
            }
            assert!(Instant::now() < deadline, "node {i} did not reach height {height} in {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The block of `height` on node `i`: header and certificate.
    pub(crate) async fn block(&self, i: usize, height: u64) -> pb::GetBlockResponse {
        let mut q = self.query(i).await;
        q.get_block(pb::GetBlockRequest { height: Some(height) }).await.expect("block").into_inner()
    }

    /// Submits and waits for the commit; panics unless accepted.
    pub(crate) async fn submit_committed(&self, i: usize, tx: &SignedTx) -> pb::Committed {
        let mut t = self.transactions(i).await;
        let req =
            pb::SubmitRequest { tx: Some(bct_proto::signed_tx_to_pb(tx)), wait_for_commit: true, timeout_ms: 60_000 };
        let resp = t.submit(req).await.expect("submit").into_inner();
        assert_eq!(resp.status, pb::TxStatus::Committed as i32, "transaction {} not committed: {resp:?}", tx.id());
        let committed = resp.committed.expect("committed");
        let accepted = matches!(
            committed.result.as_ref().and_then(|r| r.outcome.as_ref()),
            Some(pb::tx_result::Outcome::Accepted(_))
        );
        assert!(accepted, "transaction {} rejected: {committed:?}", tx.id());
        committed
    }

    /// Submits without waiting.
    pub(crate) async fn submit(&self, i: usize, tx: &SignedTx) -> pb::SubmitResponse {
        let mut t = self.transactions(i).await;
        let req = pb::SubmitRequest { tx: Some(bct_proto::signed_tx_to_pb(tx)), wait_for_commit: false, timeout_ms: 0 };
        t.submit(req).await.expect("submit").into_inner()
    }

    /// Waits until `tx` is committed on node `i`.
    pub(crate) async fn wait_committed(&self, i: usize, tx: &SignedTx) -> pb::Committed {
        let deadline = Instant::now() + WAIT;
        let mut t = self.transactions(i).await;
        loop {
            let s = t
                .get_tx_status(pb::GetTxStatusRequest { tx_id: tx.id().0.to_vec() })
                .await
                .expect("status")
                .into_inner();
            if s.status == pb::TxStatus::Committed as i32 {
                return s.committed.expect("committed");
            }
            assert!(Instant::now() < deadline, "transaction {} not committed on node {i}", tx.id());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            for (i, n) in self.net.nodes.iter().enumerate() {
                let log = self.log(i);
                let tail: Vec<&str> = log.lines().rev().take(60).collect();
                eprintln!("===== {} (last {} lines) =====", n.name, tail.len());
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// An authority's `AdmitAccount` of a fresh holder, with `nonce`.
pub(crate) fn admit(authority: &NodeKey, chain_id: &str, nonce: u64, name: &str) -> SignedTx {
    let holder = NodeKey::generate();
    let body = TxBody {
        chain_id: chain_id.into(),
        signer: authority.address(),
        nonce,
        expiry_height: 0,
        kind: TxKind::AdmitAccount(AdmitAccount {
            address: holder.address(),
            role: Role::Holder,
            name: name.into(),
            jurisdiction: "CN-FJ".into(),
        }),
    };
    bct_proto::sign(authority.signing_key(), &body)
}

/// The address an `admit` transaction admits.
pub(crate) fn admitted(tx: &SignedTx) -> Address {
    match &tx.body().kind {
        TxKind::AdmitAccount(a) => a.address,
        _ => panic!("not an admit"),
    }
}
