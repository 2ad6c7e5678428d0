//! Multi-node scenarios with real `bct-node` processes on loopback: agreement of validators and
//! an observer, a validator crash and catch-up, a late observer, and an outsider refused.
//! Named by scenario and fault budget (n validators, f faulty).

mod common;

use bct_node::consensus::certificate;
use bct_proto::pb;
use bct_proto::IntoLedger;
use common::{admit, admitted, serially, Net};

fn header(b: &pb::GetBlockResponse) -> bct_ledger::BlockHeader {
    b.block.clone().and_then(|b| b.header).expect("header").into_ledger().expect("valid header")
}

/// Every node has the same block at `height` (hash and state root). The header names its
/// parent's hash, so equal blocks at a height mean equal chains below it. The certificate is
/// checked on the nodes in `certified` (each node stores the one it decided with).
async fn assert_same_block(net: &Net, nodes: &[usize], certified: &[usize], height: u64) -> bct_ledger::BlockHeader {
    let first = header(&net.block(nodes[0], height).await);
    for &i in nodes {
        let b = net.block(i, height).await;
        let h = header(&b);
        assert_eq!(h.hash(), first.hash(), "node {i} has another block at height {height}");
        assert_eq!(h.state_root, first.state_root, "node {i} has another state root at height {height}");
        let cert = b.commit.expect("certificate");
        assert_eq!(cert.block_hash, h.hash().0.to_vec());
        if certified.contains(&i) {
            certificate::verify("bct-test", &cert, &net.net.genesis.validator_set()).expect("certificate verifies");
        }
    }
    first
}

#[test]
fn n4f0_with_observer_all_nodes_agree_on_blocks_and_state() {
    serially(async {
        let mut net = Net::new(4, 1, 5);
        for i in 0..5 {
            net.start(i);
        }
        net.wait_height(4, 1).await;

        // Five authorities each send a burst of transactions to a different node (the observer
        // included): nonces 1..=8 in flight at once, so the mempool's nonce window and forwarding
        // are exercised.
        let chain_id = net.net.genesis.chain_id.clone();
        let mut txs = Vec::new();
        for (a, key) in net.net.authorities.iter().enumerate() {
            for nonce in 1..=8 {
                let tx = admit(key, &chain_id, nonce, &format!("holder-{a}-{nonce}"));
                let r = net.submit(a, &tx).await;
                assert_eq!(r.status, pb::TxStatus::Pending as i32, "{r:?}");
                txs.push((a, tx));
            }
        }
        // One more, waited for through the API.
        let last = admit(&net.net.authorities[0], &chain_id, 9, "holder-last");
        let committed = net.submit_committed(4, &last).await;
        assert!(committed.height >= 1);

        let mut heights = vec![committed.height];
        for (a, tx) in &txs {
            let c = net.wait_committed(*a, tx).await;
            assert!(matches!(c.result.and_then(|r| r.outcome), Some(pb::tx_result::Outcome::Accepted(_))));
            heights.push(c.height);
        }
        heights.sort_unstable();
        heights.dedup();
        // All five nodes reach the same height and agree on the chain up to it.
        let top = net.wait_height(0, committed.height + 2).await;
        for i in 0..5 {
            net.wait_height(i, top).await;
        }
        assert_same_block(&net, &[0, 1, 2, 3, 4], &[0, 1, 2, 3, 4], top).await;
        // The blocks that hold the transactions, with their certificates (checked on the observer).
        for h in heights {
            assert_same_block(&net, &[0, 1, 2, 3, 4], &[4], h).await;
        }
        // Every admitted holder exists on the observer.
        let mut q = net.query(4).await;
        for (_, tx) in &txs {
            let a = admitted(tx);
            q.get_account(pb::GetAccountRequest { address: a.0.to_vec() })
                .await
                .expect("admitted account on the observer");
        }
        // The observer says it is one, and sees its peers.
        let s = net.status(4).await;
        assert_eq!(s.role, pb::NodeRole::Observer as i32);
        assert_eq!(s.validators.len(), 4);
    });
}

#[test]
fn n4f1_validator_restarts_and_catches_up() {
    serially(async {
        let mut net = Net::new(4, 0, 1);
        for i in 0..4 {
            net.start(i);
        }
        net.wait_height(3, 2).await;
        let chain_id = net.net.genesis.chain_id.clone();
        let authority = net.net.authorities[0].clone();

        // Crash validator 3; the other three (more than 2/3) keep deciding.
        net.kill(3);
        let before = net.status(0).await.height;
        let mut nonce = 0;
        for i in 0..6 {
            nonce += 1;
            let tx = admit(&authority, &chain_id, nonce, &format!("during-outage-{i}"));
            net.submit_committed(i % 3, &tx).await;
        }
        let during = net.wait_height(0, before + 5).await;

        // Restart it: it resumes from its stored height and syncs what it missed.
        net.start(3);
        net.wait_height(3, during).await;
        assert_same_block(&net, &[0, 1, 2, 3], &[3], during).await;

        // It takes part again: a transaction submitted to it commits everywhere.
        nonce += 1;
        let tx = admit(&authority, &chain_id, nonce, "after-restart");
        let c = net.submit_committed(3, &tx).await;
        for i in 0..4 {
            net.wait_height(i, c.height).await;
        }
        assert_same_block(&net, &[0, 1, 2, 3], &[3], c.height).await;
    });
}

#[test]
fn n4f0_late_observer_catches_up_and_outsider_is_refused() {
    serially(async {
        // Nodes 0-3 validators, 4 the late observer, 5 an outsider nobody lists.
        let mut net = Net::new(4, 2, 1);
        net.make_outsider(5);
        for i in 0..4 {
            net.start(i);
        }
        net.start(5);
        let chain_id = net.net.genesis.chain_id.clone();
        let authority = net.net.authorities[0].clone();
        for nonce in 1..=4 {
            let tx = admit(&authority, &chain_id, nonce, &format!("early-{nonce}"));
            net.submit_committed((nonce % 4) as usize, &tx).await;
        }
        // The observer joins more than 100 blocks late and must sync them all.
        let target = net.wait_height(0, 105).await;

        net.start(4);
        net.wait_height(4, target).await;
        let h = assert_same_block(&net, &[0, 1, 2, 3, 4], &[4], target).await;
        assert_eq!(h.height, target);

        // The outsider is refused by every validator and never gets a block.
        let outsider_id = net.status(5).await.node_id;
        assert_eq!(net.status(5).await.height, 0, "the outsider must not sync");
        let refused = (0..4).any(|i| {
            let log = net.log(i);
            log.contains("Rejecting connection from non-persistent peer") && log.contains(&outsider_id)
        });
        assert!(refused, "no validator logged refusing the outsider {outsider_id}");
    });
}

/// Audit item 15, as an operator sees it (the node's default log levels): a validator whose
/// peers are not running warns, naming them, instead of repeating `connected=0`; once they run,
/// the start-up of a two-validator network logs no ERROR line (the engine's routine dial
/// failures while peers start are not errors); a block does not log a line of its own at INFO,
/// the first committed block is said once.
#[test]
fn n2f0_operator_logs_warn_on_missing_peers_and_hold_no_routine_errors() {
    serially(async {
        let mut net = Net::new(2, 0, 1);
        net.start_with_default_log(0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let peer = net.net.nodes[1].name.clone();
        loop {
            let log = net.log(0);
            if log.contains("of 1 configured consensus peers not connected") {
                let line = log.lines().find(|l| l.contains("not connected")).unwrap_or_default().to_string();
                assert!(line.contains(" WARN "), "{line}");
                assert!(line.contains(&peer) && line.contains("cannot follow or decide blocks"), "{line}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no warning about the missing peer:\n{log}");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        net.start_with_default_log(1);
        net.wait_height(0, 5).await;
        net.wait_height(1, 5).await;
        for i in 0..2 {
            let log = net.log(i);
            let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
            assert!(errors.is_empty(), "node {i} logged errors in a normal start-up:\n{}", errors.join("\n"));
            assert!(!log.contains("committed block height="), "node {i} logs every block at INFO:\n{log}");
            assert_eq!(log.matches("committed the first block since start").count(), 1, "node {i}:\n{log}");
            assert!(log.contains("role=validator"), "node {i}: the role in words:\n{log}");
        }
    });
}
