//! Multi-node scenarios with real `bct-node` processes on loopback: agreement of validators and
//! an observer, a validator crash and catch-up, a late observer, and an outsider refused.
//! Named by scenario and fault budget (n validators, f faulty).

mod common;

use bct_node::consensus::certificate;
use bct_node::keys::NodeKey;
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

/// Runs `bct-node` with `args`; (success, stdout + stderr).
fn bct_node(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bct-node"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run bct-node");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Issue 13, items 1 and 2: four institutions build a network as docs/OPERATIONS.md says:
/// each runs `bct-node init` and sends `bct-node id --json`; the coordinator builds the genesis
/// with `bct-node genesis ...` and everyone checks its fingerprint; each appends the others
/// under `[[p2p.peers]]` to the config `init` wrote (no TOML trap), `bct-node check` passes, and
/// the four commit blocks. `bct-node check` names the culprit of each misconfiguration.
#[test]
fn n4f0_a_network_from_the_genesis_ceremony_and_checked_homes() {
    serially(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let ports = bct_node::localnet::free_ports(12).expect("ports");
        let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
        let names = ["fujian", "xiamen", "hainan", "shenzhen"];
        let mut ids = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let home = s(&root.join(name));
            let p2p = format!("/ip4/127.0.0.1/tcp/{}", ports[3 * i]);
            let grpc = format!("127.0.0.1:{}", ports[3 * i + 1]);
            let metrics = format!("127.0.0.1:{}", ports[3 * i + 2]);
            let (ok, out) = bct_node(&[
                "init",
                "--home",
                &home,
                "--moniker",
                name,
                "--p2p-listen",
                &p2p,
                "--grpc-listen",
                &grpc,
                "--metrics-listen",
                &metrics,
            ]);
            assert!(ok, "{out}");
            let (ok, id) = bct_node(&["id", "--home", &home, "--json"]);
            assert!(ok, "{id}");
            let id_file = root.join(format!("{name}-id.json"));
            std::fs::write(&id_file, &id).expect("write id");
            let v: serde_json::Value = serde_json::from_str(&id).expect("id is JSON");
            ids.push((name.to_string(), v, p2p, grpc, id_file));
        }
        // The coordinator.
        let genesis = s(&root.join("genesis.json"));
        let authority = NodeKey::generate();
        let steps: Vec<Vec<String>> = vec![
            vec![
                "genesis".into(),
                "new".into(),
                "--file".into(),
                genesis.clone(),
                "--chain-id".into(),
                "bct-fujian-1".into(),
            ],
            vec![
                "genesis".into(),
                "add-authority".into(),
                "--file".into(),
                genesis.clone(),
                "--public-key".into(),
                hex::encode(authority.public_key()),
                "--name".into(),
                "Fujian Ocean and Fisheries Bureau".into(),
                "--jurisdiction".into(),
                "CN-FJ".into(),
            ],
        ];
        for step in &steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            let (ok, out) = bct_node(&args);
            assert!(ok, "{step:?}: {out}");
        }
        let (ok, out) = bct_node(&["genesis", "check", "--file", &genesis]);
        assert!(!ok && out.contains("at least one validator is needed"), "an incomplete genesis is refused: {out}");
        for (_, _, _, _, id_file) in &ids {
            let (ok, out) = bct_node(&["genesis", "add-validator", "--file", &genesis, "--id", &s(id_file)]);
            assert!(ok, "{out}");
        }
        let (ok, out) = bct_node(&["genesis", "add-validator", "--file", &genesis, "--id", &s(&ids[0].4)]);
        assert!(!ok && out.contains("already in the genesis") && out.contains("unchanged"), "{out}");
        let (ok, out) = bct_node(&["genesis", "check", "--file", &genesis]);
        assert!(ok && out.contains("fingerprint:") && out.contains("validators:      4"), "{out}");
        let fingerprint = out.lines().find(|l| l.starts_with("fingerprint:")).expect("fingerprint").to_string();

        // Each institution: the genesis, its peers appended to the config init wrote.
        for (i, (name, _, _, _, _)) in ids.iter().enumerate() {
            let home = root.join(name);
            std::fs::copy(&genesis, home.join("genesis.json")).expect("copy genesis");
            let mut peers = String::new();
            for (j, (other, id, p2p, grpc, _)) in ids.iter().enumerate() {
                if i != j {
                    peers.push_str(&format!(
                        "\n[[p2p.peers]]\nname = \"{other}\"\npublic_key = \"{}\"\naddress = \"{p2p}\"\ngrpc = \"http://{grpc}\"\n",
                        id["public_key"].as_str().expect("key")
                    ));
                }
            }
            let mut config = std::fs::OpenOptions::new().append(true).open(home.join("config.toml")).expect("config");
            std::io::Write::write_all(&mut config, peers.as_bytes()).expect("append peers");
            let (ok, out) = bct_node(&["genesis", "check", "--file", &s(&home.join("genesis.json"))]);
            assert!(ok && out.contains(&fingerprint), "{name}: the same fingerprint: {out}");
            let (ok, out) = bct_node(&["check", "--home", &s(&home)]);
            assert!(ok && out.contains("ok:") && out.contains("3 configured"), "{name}: {out}");
        }

        // Misconfigurations, each named: a key readable by others, a port in use, two settings
        // on one port, a missing genesis, an unknown setting.
        let home = root.join("fujian");
        let hs = s(&home);
        let key = home.join("node_key.json");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
        let (ok, out) = bct_node(&["check", "--home", &hs]);
        assert!(!ok && out.contains("node_key.json") && out.contains("chmod 600"), "{out}");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        let busy = std::net::TcpListener::bind(format!("127.0.0.1:{}", ports[1])).expect("take the gRPC port");
        let (ok, out) = bct_node(&["check", "--home", &hs]);
        assert!(!ok && out.contains(&format!("127.0.0.1:{}", ports[1])) && out.contains("grpc.listen_addr"), "{out}");
        drop(busy);
        let config_path = home.join("config.toml");
        let original = std::fs::read_to_string(&config_path).expect("config");
        let same_port = original.replace(
            &format!("listen_addr = \"127.0.0.1:{}\"", ports[2]),
            &format!("listen_addr = \"127.0.0.1:{}\"", ports[1]),
        );
        assert_ne!(same_port, original);
        std::fs::write(&config_path, &same_port).expect("write");
        let (ok, out) = bct_node(&["check", "--home", &hs]);
        assert!(!ok && out.contains("both use port") && out.contains("metrics.listen_addr"), "{out}");
        std::fs::write(&config_path, format!("monikr = \"typo\"\n{original}")).expect("write");
        let (ok, out) = bct_node(&["check", "--home", &hs]);
        assert!(!ok && out.contains("config.toml") && out.contains("monikr"), "{out}");
        std::fs::write(&config_path, &original).expect("restore");
        std::fs::rename(home.join("genesis.json"), home.join("genesis.moved")).expect("move");
        let (ok, out) = bct_node(&["check", "--home", &hs]);
        assert!(!ok && out.contains("genesis.json"), "{out}");
        std::fs::rename(home.join("genesis.moved"), home.join("genesis.json")).expect("move back");
        assert!(!out.contains("Stack backtrace") && !out.contains("Os {"), "{out}");

        // The four run and commit blocks.
        let mut children = Vec::new();
        for (name, ..) in &ids {
            let home = root.join(name);
            let log = std::fs::File::create(home.join("node.log")).expect("log");
            children.push(
                std::process::Command::new(env!("CARGO_BIN_EXE_bct-node"))
                    .args(["run", "--home"])
                    .arg(&home)
                    .stdout(log.try_clone().expect("log"))
                    .stderr(log)
                    .spawn()
                    .expect("run"),
            );
        }
        let deadline = std::time::Instant::now() + common::WAIT;
        for (_, _, _, grpc, _) in &ids {
            loop {
                let height = async {
                    let ch =
                        tonic::transport::Channel::from_shared(format!("http://{grpc}")).ok()?.connect().await.ok()?;
                    let s = pb::query_client::QueryClient::new(ch)
                        .get_network_status(pb::GetNetworkStatusRequest {})
                        .await
                        .ok()?;
                    Some(s.into_inner().height)
                }
                .await
                .unwrap_or(0);
                if height >= 3 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "the ceremony's network did not commit blocks");
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        }
        // A second copy of a running node is refused before it starts, naming the address.
        let (ok, out) = bct_node(&["check", "--home", &hs]);
        assert!(!ok && out.contains("already in use") && out.contains("p2p.listen_addr"), "{out}");
        let (ok, out) = bct_node(&["run", "--home", &hs]);
        assert!(!ok && out.contains("already in use"), "a second copy of the node must not start: {out}");
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    });
}
