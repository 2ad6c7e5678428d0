//! Writing the home directories of a whole network on one machine (loopback ports): keys,
//! `genesis.json`, and each node's `config.toml` listing every other node. Used by
//! `bct-node dev`, the tests, and tools that start local networks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bct_ledger::Genesis;

use crate::config::{NodeConfig, PeerConfig, Role};
use crate::error::NodeError;
use crate::keys::NodeKey;

/// Ports each node of a local network takes: p2p, gRPC, metrics, web.
pub const PORTS_PER_NODE: usize = 4;

/// What to generate.
#[derive(Clone, Debug)]
pub struct LocalnetSpec {
    /// Chain id.
    pub chain_id: String,
    /// Number of validators (equal power).
    pub validators: usize,
    /// Number of observers.
    pub observers: usize,
    /// Number of authority accounts in genesis (their keys are written too).
    pub authorities: usize,
    /// Loopback ports to use: each node takes [`PORTS_PER_NODE`] (p2p, gRPC, metrics, web).
    pub ports: Vec<u16>,
    /// Longest time between blocks when idle, ms.
    pub empty_block_interval_ms: u64,
    /// Propose timeout, ms.
    pub timeout_propose_ms: u64,
    /// Whether nodes forward submitted transactions to the validators.
    pub forward: bool,
}

/// One generated node.
#[derive(Clone, Debug)]
pub struct LocalNode {
    /// Its name (`validator-0`, `observer-0`).
    pub name: String,
    /// Its home directory.
    pub home: PathBuf,
    /// Its role.
    pub role: Role,
    /// Its gRPC address.
    pub grpc: SocketAddr,
    /// Its metrics address.
    pub metrics: SocketAddr,
    /// Its web view and JSON API address.
    pub web: SocketAddr,
    /// Its public key.
    pub public_key: [u8; 32],
}

/// A generated network.
#[derive(Clone, Debug)]
pub struct Localnet {
    /// The nodes, validators first.
    pub nodes: Vec<LocalNode>,
    /// The authority keys (also written as `authority-<i>.json` in the root directory).
    pub authorities: Vec<NodeKey>,
    /// The genesis.
    pub genesis: Genesis,
}

/// The lowest port [`free_ports`] picks.
const PICK_PORT_MIN: u16 = 20_000;

/// The first port of the kernel's ephemeral range (what outgoing connections take their local
/// port from), 32768 if it cannot be read.
fn ephemeral_port_min() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32_768)
}

/// Picks `n` free TCP ports for a local network: below the kernel's ephemeral range, so that
/// no outgoing connection (of this network's own nodes, or of anything else on the machine) can
/// take one between choosing and binding, as a port handed out by binding port 0 could. Each
/// port is checked free on loopback and on every interface; the search starts at a point
/// drawn from the process id and the clock, so that concurrent pickers rarely meet.
pub fn free_ports(n: usize) -> Result<Vec<u16>, NodeError> {
    let top = ephemeral_port_min().max(PICK_PORT_MIN + 1_000);
    let span = u32::from(top - PICK_PORT_MIN);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let seed = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    let mut ports = Vec::with_capacity(n);
    for k in 0..span {
        if ports.len() == n {
            break;
        }
        let port = PICK_PORT_MIN + ((seed.wrapping_add(k)) % span) as u16;
        let free = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::TcpListener::bind(("0.0.0.0", port)).is_ok();
        if free {
            ports.push(port);
        }
    }
    if ports.len() < n {
        return Err(NodeError::Config(format!(
            "found only {} free TCP ports between {PICK_PORT_MIN} and {top}, {n} needed",
            ports.len()
        )));
    }
    Ok(ports)
}

/// Writes the network into `dir` (one subdirectory per node).
pub fn generate(dir: &Path, spec: &LocalnetSpec) -> Result<Localnet, NodeError> {
    let total = spec.validators + spec.observers;
    if spec.validators == 0 || spec.authorities == 0 {
        return Err(NodeError::Config("a network needs at least one validator and one authority".into()));
    }
    if spec.ports.len() < total * PORTS_PER_NODE {
        return Err(NodeError::Config(format!(
            "{} nodes need {} ports, {} given",
            total,
            total * PORTS_PER_NODE,
            spec.ports.len()
        )));
    }
    std::fs::create_dir_all(dir)?;
    let authorities: Vec<NodeKey> = (0..spec.authorities).map(|_| NodeKey::generate()).collect();
    for (i, a) in authorities.iter().enumerate() {
        a.save(&dir.join(format!("authority-{i}.json")))?;
    }
    let keys: Vec<NodeKey> = (0..total).map(|_| NodeKey::generate()).collect();
    // The same steps as the genesis ceremony (`bct-node genesis ...`, crate::ceremony).
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let config_error = |e: String| NodeError::Config(format!("genesis of the local network: {e}"));
    let mut genesis = crate::ceremony::new_draft(&spec.chain_id, now).map_err(config_error)?;
    for (i, a) in authorities.iter().enumerate() {
        crate::ceremony::add_authority(&mut genesis, a.public_key(), &format!("Authority {i}"), "CN")
            .map_err(config_error)?;
    }
    for (i, k) in keys[..spec.validators].iter().enumerate() {
        crate::ceremony::add_validator(&mut genesis, k.public_key(), &format!("validator-{i}"), 1)
            .map_err(config_error)?;
    }
    genesis.validate().map_err(|e| NodeError::Config(e.to_string()))?;
    let genesis_json = genesis.to_json();
    let mut nodes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let (name, role) = if i < spec.validators {
            (format!("validator-{i}"), Role::Validator)
        } else {
            (format!("observer-{}", i - spec.validators), Role::Observer)
        };
        let p = &spec.ports[i * PORTS_PER_NODE..(i + 1) * PORTS_PER_NODE];
        nodes.push(LocalNode {
            home: dir.join(&name),
            name,
            role,
            grpc: SocketAddr::from(([127, 0, 0, 1], p[1])),
            metrics: SocketAddr::from(([127, 0, 0, 1], p[2])),
            web: SocketAddr::from(([127, 0, 0, 1], p[3])),
            public_key: key.public_key(),
        });
    }
    let peer = |i: usize| PeerConfig {
        name: nodes[i].name.clone(),
        public_key: hex::encode(nodes[i].public_key),
        address: format!("/ip4/127.0.0.1/tcp/{}", spec.ports[i * PORTS_PER_NODE]),
        grpc: Some(format!("http://{}", nodes[i].grpc)),
    };
    for (i, (node, key)) in nodes.iter().zip(&keys).enumerate() {
        std::fs::create_dir_all(&node.home)?;
        key.save(&node.home.join("node_key.json"))?;
        std::fs::write(node.home.join("genesis.json"), &genesis_json)?;
        let mut config = NodeConfig::new(
            &node.name,
            node.role,
            format!("/ip4/127.0.0.1/tcp/{}", spec.ports[i * PORTS_PER_NODE]),
            node.grpc,
        );
        config.metrics.listen_addr = Some(node.metrics);
        config.web.listen_addr = Some(node.web);
        // Every client of a network on one machine comes from 127.0.0.1: the per-address limit
        // is raised so that tests and `bct-testnet web-bench` measure the server, not the limit.
        config.web.requests_per_second_per_client = 100_000;
        config.grpc.requests_per_second_per_client = 100_000;
        config.grpc.connections_per_client_max = 1_024;
        config.consensus.empty_block_interval_ms = spec.empty_block_interval_ms;
        config.consensus.timeout_propose_ms = spec.timeout_propose_ms;
        config.mempool.forward = spec.forward;
        config.p2p.peers = (0..total).filter(|j| *j != i).map(peer).collect();
        config.save(&node.home)?;
    }
    Ok(Localnet { nodes, authorities, genesis })
}
