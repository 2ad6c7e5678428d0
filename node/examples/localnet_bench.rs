//! Measures a local network of `bct-node` processes: blocks per second with no load, and
//! submit→commit latency (one transaction in flight, then several clients at once).
//!
//! ```text
//! cargo build --release -p bct-node --examples
//! target/release/examples/localnet_bench [validators] [empty_block_interval_ms] [txs] [clients] [forward]
//! ```
//! Defaults: 4 validators, 1000 ms, 100 transactions, 8 clients, forwarding on (1; 0 turns it
//! off: a transaction then waits for the turn of the validator it was sent to). Latency is measured by the
//! client from sending `Submit { wait_for_commit: true }` to receiving the `COMMITTED` answer.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bct_ledger::tx::{AdmitAccount, TxBody, TxKind};
use bct_ledger::types::Role;
use bct_node::keys::NodeKey;
use bct_node::localnet::{free_ports, generate, LocalnetSpec};
use bct_proto::pb;
use bct_proto::pb::query_client::QueryClient;
use bct_proto::pb::transactions_client::TransactionsClient;
use tonic::transport::Channel;

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn admit(authority: &NodeKey, chain_id: &str, nonce: u64) -> pb::SignedTx {
    let body = TxBody {
        chain_id: chain_id.into(),
        signer: authority.address(),
        nonce,
        expiry_height: 0,
        kind: TxKind::AdmitAccount(AdmitAccount {
            address: NodeKey::generate().address(),
            role: Role::Holder,
            name: format!("bench holder {nonce}"),
            jurisdiction: "CN".into(),
        }),
    };
    bct_proto::signed_tx_to_pb(&bct_proto::sign(authority.signing_key(), &body))
}

async fn connect(url: String) -> Result<Channel> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match Channel::from_shared(url.clone())?.connect().await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => bail!("{url}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn height(q: &mut QueryClient<Channel>) -> Result<u64> {
    Ok(q.get_network_status(pb::GetNetworkStatusRequest {}).await?.into_inner().height)
}

/// Submits and waits; returns the latency.
async fn submit_wait(t: &mut TransactionsClient<Channel>, tx: pb::SignedTx) -> Result<Duration> {
    let start = Instant::now();
    let r = t.submit(pb::SubmitRequest { tx: Some(tx), wait_for_commit: true, timeout_ms: 30_000 }).await?.into_inner();
    if r.status != pb::TxStatus::Committed as i32 {
        bail!("not committed within 30 s: {r:?}");
    }
    Ok(start.elapsed())
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| ms(v[((v.len() as f64 - 1.0) * p).round() as usize]);
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    println!(
        "{name}: n={} mean={mean:.0} ms p50={:.0} ms p90={:.0} ms p99={:.0} ms max={:.0} ms",
        v.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        ms(v[v.len() - 1])
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (validators, interval, txs, clients) = (arg(0, 4) as usize, arg(1, 1000), arg(2, 100), arg(3, 8) as usize);
    let forward = arg(4, 1) != 0;
    let exe = std::env::current_exe()?;
    let bin: PathBuf = exe.parent().and_then(|p| p.parent()).context("exe dir")?.join("bct-node");
    if !bin.exists() {
        bail!("{} not found: build it first (cargo build --release -p bct-node)", bin.display());
    }
    let dir = tempfile::tempdir()?;
    let spec = LocalnetSpec {
        chain_id: "bct-bench".into(),
        validators,
        observers: 0,
        authorities: clients.max(1),
        ports: free_ports(validators * bct_node::localnet::PORTS_PER_NODE)?,
        empty_block_interval_ms: interval,
        timeout_propose_ms: 3000,
        forward,
    };
    let net = generate(dir.path(), &spec)?;
    let mut nodes = Nodes(Vec::new());
    for n in &net.nodes {
        let log = std::fs::File::create(n.home.join("node.log"))?;
        nodes.0.push(
            Command::new(&bin)
                .args(["run", "--home"])
                .arg(&n.home)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()?,
        );
    }
    let urls: Vec<String> = net.nodes.iter().map(|n| format!("http://{}", n.grpc)).collect();
    let mut q = QueryClient::new(connect(urls[0].clone()).await?);
    while height(&mut q).await.unwrap_or(0) < 3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{validators} validators, empty block interval {interval} ms, forwarding {}, loopback, 2-core machine",
        if forward { "on" } else { "off" }
    );

    // Idle blocks per second.
    let (h0, t0) = (height(&mut q).await?, Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (h1, dt) = (height(&mut q).await?, t0.elapsed());
    println!(
        "idle: {} blocks in {:.1} s = {:.2} blocks/s",
        h1 - h0,
        dt.as_secs_f64(),
        (h1 - h0) as f64 / dt.as_secs_f64()
    );

    // One transaction in flight, sent to each node in turn.
    let chain_id = net.genesis.chain_id.clone();
    let mut lat = Vec::new();
    let mut clients_t = Vec::new();
    for u in &urls {
        clients_t.push(TransactionsClient::new(connect(u.clone()).await?));
    }
    for k in 0..txs {
        let tx = admit(&net.authorities[0], &chain_id, k + 1);
        let i = k as usize % urls.len();
        lat.push(submit_wait(&mut clients_t[i], tx).await?);
    }
    summary("submit→commit, 1 in flight", lat);

    // Several clients at once, each waiting for its commit before the next transaction.
    let (h_load, t0) = (height(&mut q).await?, Instant::now());
    let mut tasks = Vec::new();
    for c in 0..clients {
        let key = net.authorities[c].clone();
        let mut t = clients_t[c % urls.len()].clone();
        let chain_id = chain_id.clone();
        let first = if c == 0 { txs + 1 } else { 1 };
        tasks.push(tokio::spawn(async move {
            let mut v = Vec::new();
            for k in 0..txs {
                v.push(submit_wait(&mut t, admit(&key, &chain_id, first + k)).await?);
            }
            Ok::<_, anyhow::Error>(v)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let dt = t0.elapsed();
    let n = all.len();
    summary(&format!("submit→commit, {clients} clients"), all);
    println!(
        "{clients} clients: {n} transactions in {:.1} s = {:.1} tx/s",
        dt.as_secs_f64(),
        n as f64 / dt.as_secs_f64()
    );
    let h2 = height(&mut q).await?;
    println!(
        "under load: {} blocks in {:.1} s = {:.2} blocks/s",
        h2 - h_load,
        dt.as_secs_f64(),
        (h2 - h_load) as f64 / dt.as_secs_f64()
    );
    Ok(())
}
