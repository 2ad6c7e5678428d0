//! Network partitions of a 4-validator network (real `bct-node` processes), made with the TCP
//! proxy of `bct_tests::proxy` on every link between two nodes (consensus and transaction
//! forwarding).
//!
//! - `n4_partition_2_2_halts_then_heals`: {0,1} | {2,3}: neither half has more than 2/3 of the
//!   voting power, so neither commits anything while transactions wait; after healing, blocks
//!   resume, the waiting transactions commit, and every node has the same block at every height.
//! - `n4_partition_3_1_majority_commits_minority_catches_up`: node 3 cut off (black-holed): the
//!   other three keep committing transactions and blocks; node 3 commits nothing meanwhile; after
//!   healing it catches up to the same blocks and state root, and takes part again.
//!
//! The only timing assertion is the safety one: no height moves during a partition window in which
//! no quorum exists. Everything else waits with generous deadlines.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bct_ledger::tx::{AdmitAccount, TxKind};
use bct_ledger::types::Role;
use bct_ledger::{Hash, SignedTx};
use bct_node::keys::NodeKey;
use bct_testnet::Testnet;
use bct_tests::harness::{serially, TestNet, WAIT};
use bct_tests::proxy::{Fault, Proxy};
use bct_wallet::client::{sign_tx, Client, Committed, TxStatus};

/// How long heights must stay put while no side has a quorum.
const NO_PROGRESS_WINDOW: Duration = Duration::from_secs(8);
/// Time for decisions already under way at the cut to land before heights are recorded.
const SETTLE: Duration = Duration::from_secs(2);
/// Transactions and blocks the majority commits while node 3 is cut off.
const MAJORITY_TXS: usize = 6;
const MAJORITY_BLOCKS: u64 = 15;

/// An authority's transaction admitting a fresh holder account.
fn admit(authority: &NodeKey, chain_id: &str, nonce: u64, name: &str) -> SignedTx {
    let holder = NodeKey::generate();
    let kind = TxKind::AdmitAccount(AdmitAccount {
        address: holder.address(),
        role: Role::Holder,
        name: name.into(),
        jurisdiction: "CN-FJ".into(),
    });
    sign_tx(authority.signing_key(), chain_id, nonce, 0, kind)
}

async fn client(net: &Testnet, i: usize) -> Client {
    net.client(i, WAIT).await.expect("client")
}

async fn height(net: &Testnet, i: usize) -> u64 {
    net.status(i).await.expect("status").height
}

async fn heights(net: &Testnet, nodes: &[usize]) -> Vec<u64> {
    let mut out = Vec::new();
    for &i in nodes {
        out.push(height(net, i).await);
    }
    out
}

/// Starts every node and waits until each has committed `height` and sees all its peers.
async fn start_all(net: &mut TestNet, height: u64) {
    for i in 0..net.len() {
        net.start(i).expect("start");
    }
    for i in 0..net.len() {
        net.wait_height(i, height, WAIT).await.expect("height");
        wait_connected(net, i, net.len() - 1).await;
    }
}

/// Waits until node `i` reports `n` connected consensus peers.
async fn wait_connected(net: &Testnet, i: usize, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = net.status(i).await.expect("status");
        if s.peers.iter().filter(|p| p.connected).count() == n {
            return;
        }
        assert!(Instant::now() < deadline, "node {i} never saw {n} peers: {:?}", s.peers);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until node `i` has `tx` in a block with an accepted result.
async fn wait_committed(net: &Testnet, i: usize, tx: &SignedTx) -> Committed {
    let c = client(net, i).await;
    let deadline = Instant::now() + WAIT;
    loop {
        if let TxStatus::Committed(committed) = c.tx_status(&tx.id()).await.expect("tx status") {
            assert!(committed.result.outcome.is_ok(), "{} rejected: {:?}", tx.id(), committed.result);
            return committed;
        }
        assert!(Instant::now() < deadline, "{} not committed on node {i}", tx.id());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every node in `nodes` has the same block (hash and state root) at every height from 1 to
/// `top`, each with a commit certificate that proves it. Returns the hash at `top`.
async fn assert_same_chain(net: &Testnet, nodes: &[usize], top: u64) -> Hash {
    let genesis = net.genesis().expect("genesis");
    let validators = genesis.validator_set();
    let clients: Vec<Client> = {
        let mut v = Vec::new();
        for &i in nodes {
            v.push(client(net, i).await);
        }
        v
    };
    let mut last = Hash::ZERO;
    for h in 1..=top {
        let mut first: Option<(Hash, Hash)> = None;
        for (c, &i) in clients.iter().zip(nodes) {
            let info = c.block(Some(h)).await.unwrap_or_else(|e| panic!("node {i}, block {h}: {e}"));
            let hash = info.block.hash();
            let cert = info.commit.unwrap_or_else(|| panic!("node {i}: block {h} has no certificate"));
            assert_eq!(cert.block_hash, hash, "node {i}: the certificate of height {h} names another block");
            cert.verify(&genesis.chain_id, &validators)
                .unwrap_or_else(|e| panic!("node {i}: the certificate of height {h} does not verify: {e}"));
            let seen = (hash, info.block.header.state_root);
            match first {
                None => first = Some(seen),
                Some(f) => assert_eq!(f, seen, "fork: node {i} has another block (hash, state root) at height {h}"),
            }
            last = hash;
        }
    }
    last
}

/// The peer ids node `i` reports connected.
async fn connected_peers(net: &Testnet, i: usize) -> BTreeSet<String> {
    let s = net.status(i).await.expect("status");
    s.peers.into_iter().filter(|p| p.connected).map(|p| p.id).collect()
}

#[test]
fn n4_partition_2_2_halts_then_heals() {
    serially(async {
        let started = Instant::now();
        let mut net = TestNet::new(4, 0);
        let proxy = Proxy::install(&net).await.expect("proxy");
        start_all(&mut net, 2).await;
        let ids: Vec<String> = {
            let mut v = Vec::new();
            for i in 0..4 {
                v.push(net.status(i).await.expect("status").node_id);
            }
            v
        };
        let authority = net.authority().expect("authority");
        let chain_id = net.genesis().expect("genesis").chain_id;
        let mut nonce = 0;
        // Transactions commit through the proxy before the partition.
        for i in 0..2 {
            nonce += 1;
            let tx = admit(&authority, &chain_id, nonce, &format!("before-{i}"));
            client(&net, i).await.submit(&tx, true, 30_000).await.expect("submit");
        }

        proxy.partition(&[&[0, 1], &[2, 3]], Fault::Refuse);
        let cut = Instant::now();
        tokio::time::sleep(SETTLE).await;
        // Transactions wait in both halves, sent to every node in turn.
        let mut pending = Vec::new();
        for k in 0..8 {
            nonce += 1;
            let tx = admit(&authority, &chain_id, nonce, &format!("during-{k}"));
            let receipt = client(&net, k % 4).await.submit(&tx, false, 0).await.expect("submit");
            assert_eq!(receipt.status, TxStatus::Pending);
            pending.push((k % 4, tx));
        }
        let before = heights(&net, &[0, 1, 2, 3]).await;
        tokio::time::sleep(NO_PROGRESS_WINDOW).await;
        let after = heights(&net, &[0, 1, 2, 3]).await;
        assert_eq!(after, before, "a half without a quorum committed during the partition");
        for (i, tx) in &pending {
            let status = client(&net, *i).await.tx_status(&tx.id()).await.expect("tx status");
            assert_eq!(status, TxStatus::Pending, "node {i}: {} during the partition", tx.id());
        }
        // Each node sees only its own half, and nothing reached a node around the proxy.
        for i in 0..4 {
            let other_half: BTreeSet<String> =
                if i < 2 { ids[2..].iter().cloned().collect() } else { ids[..2].iter().cloned().collect() };
            let connected = connected_peers(&net, i).await;
            assert!(connected.is_disjoint(&other_half), "node {i} is connected across the partition: {connected:?}");
        }
        let bypass = proxy.bypassing_connections().expect("connections");
        assert!(bypass.is_empty(), "connections around the proxy: {bypass:?}");
        let stats = proxy.p2p_stats();
        let refused: u64 = stats.values().map(|s| s.refused).sum();
        let cut_links: u64 = stats.values().map(|s| s.cut).sum();
        assert!(cut_links > 0, "the partition cut no connection: {stats:?}");
        let partition_secs = cut.elapsed().as_secs_f64();

        proxy.heal();
        let healed = Instant::now();
        for i in 0..4 {
            wait_connected(&net, i, 3).await;
        }
        let reconnect_secs = healed.elapsed().as_secs_f64();
        let resume = before.iter().max().copied().unwrap_or(0) + 3;
        for i in 0..4 {
            net.wait_height(i, resume, WAIT).await.expect("progress after healing");
        }
        let mut committed_at = Vec::new();
        for (i, tx) in &pending {
            committed_at.push(wait_committed(&net, *i, tx).await.height);
        }
        let commit_secs = healed.elapsed().as_secs_f64();
        assert!(committed_at.iter().all(|h| *h > *before.iter().max().unwrap_or(&0)));
        let top = heights(&net, &[0, 1, 2, 3]).await.into_iter().min().unwrap_or(0);
        assert_same_chain(&net, &[0, 1, 2, 3], top).await;
        eprintln!(
            "2|2 partition: heights held at {before:?} for {partition_secs:.1} s (window {NO_PROGRESS_WINDOW:?}), \
             {refused} connection attempts refused, {cut_links} connections cut; healed: all peers back after \
             {reconnect_secs:.1} s, the 8 waiting transactions committed at heights {committed_at:?} within \
             {commit_secs:.1} s; same chain on all 4 nodes up to height {top}; scenario {:.1} s",
            started.elapsed().as_secs_f64()
        );
    });
}

#[test]
fn n4_partition_3_1_majority_commits_minority_catches_up() {
    serially(async {
        let started = Instant::now();
        let mut net = TestNet::new(4, 0);
        let proxy = Proxy::install(&net).await.expect("proxy");
        start_all(&mut net, 2).await;
        let authority = net.authority().expect("authority");
        let chain_id = net.genesis().expect("genesis").chain_id;
        let mut nonce = 0;

        proxy.isolate(3, Fault::Blackhole);
        let cut = Instant::now();
        tokio::time::sleep(SETTLE).await;
        let minority_at = height(&net, 3).await;
        let majority_at = height(&net, 0).await;
        // The three commit transactions, sent to each in turn, and blocks.
        let mut txs = Vec::new();
        for k in 0..MAJORITY_TXS {
            nonce += 1;
            let tx = admit(&authority, &chain_id, nonce, &format!("majority-{k}"));
            let receipt = client(&net, k % 3).await.submit(&tx, true, 30_000).await.expect("submit");
            assert!(receipt.accepted().is_some(), "{receipt:?}");
            txs.push(tx);
        }
        let majority_top = net.wait_height(0, majority_at + MAJORITY_BLOCKS, WAIT).await.expect("the majority commits");
        assert_eq!(height(&net, 3).await, minority_at, "the isolated node committed alone");
        let bypass = proxy.bypassing_connections().expect("connections");
        assert!(bypass.is_empty(), "connections around the proxy: {bypass:?}");
        let stats = proxy.p2p_stats();
        let blackholed: u64 = stats.values().map(|s| s.blackholed).sum();
        let isolation_secs = cut.elapsed().as_secs_f64();

        proxy.heal();
        let healed = Instant::now();
        let target = height(&net, 0).await;
        net.wait_height(3, target, WAIT).await.expect("the isolated node catches up");
        let catch_up_secs = healed.elapsed().as_secs_f64();
        let top = heights(&net, &[0, 1, 2, 3]).await.into_iter().min().unwrap_or(0);
        assert_same_chain(&net, &[0, 1, 2, 3], top).await;
        let roots: Vec<Hash> = {
            let mut v = Vec::new();
            for i in 0..4 {
                v.push(client(&net, i).await.block(Some(top)).await.expect("block").block.header.state_root);
            }
            v
        };
        assert!(roots.iter().all(|r| *r == roots[0]), "state roots at {top}: {roots:?}");
        for tx in &txs {
            wait_committed(&net, 3, tx).await;
        }
        // It takes part again: a transaction sent to it commits everywhere.
        nonce += 1;
        let tx = admit(&authority, &chain_id, nonce, "after-healing");
        let receipt = client(&net, 3).await.submit(&tx, true, 30_000).await.expect("submit to node 3");
        let at = receipt.accepted().expect("accepted").0.height;
        for i in 0..3 {
            wait_committed(&net, i, &tx).await;
        }
        let top = heights(&net, &[0, 1, 2, 3]).await.into_iter().min().unwrap_or(0);
        assert!(top >= at);
        assert_same_chain(&net, &[0, 1, 2, 3], top).await;
        eprintln!(
            "3|1 partition: node 3 held at height {minority_at} for {isolation_secs:.1} s ({blackholed} connection \
             attempts black-holed) while the majority went from {majority_at} to {majority_top} (+{} blocks, {MAJORITY_TXS} \
             transactions); healed: node 3 reached height {target} in {catch_up_secs:.1} s; same chain and state \
             root on all 4 nodes up to height {top}; scenario {:.1} s",
            majority_top - majority_at,
            started.elapsed().as_secs_f64()
        );
    });
}
