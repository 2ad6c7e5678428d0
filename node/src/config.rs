//! `config.toml`: who the node is, whom it talks to, where it listens, and its limits.
//!
//! Paths are relative to the node's home directory. The peer list is the whole permissioned
//! network (validators and observers): the node connects only to these keys and refuses any
//! other (libp2p `persistent_peers_only`, discovery off).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::NodeError;
use crate::mempool::{MEMPOOL_BYTES_MAX, MEMPOOL_NONCE_AHEAD_MAX, MEMPOOL_TXS_MAX};

/// Name of the configuration file in the home directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Whether the node votes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Votes when its key is in the validator set.
    #[default]
    Validator,
    /// A full node: syncs and verifies every block and serves the API, never votes.
    Observer,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Name in logs and metrics.
    pub moniker: String,
    /// Validator or observer.
    #[serde(default)]
    pub role: Role,
    /// The network's genesis file.
    #[serde(default = "default_genesis_file")]
    pub genesis_file: PathBuf,
    /// This node's ed25519 key (validator key and network identity).
    #[serde(default = "default_key_file")]
    pub key_file: PathBuf,
    /// Ledger database and consensus write-ahead log.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Consensus networking.
    pub p2p: P2pConfig,
    /// The gRPC API.
    pub grpc: GrpcConfig,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The web view and JSON API (read-only).
    #[serde(default)]
    pub web: WebConfig,
    /// Block pacing and consensus timeouts.
    #[serde(default)]
    pub consensus: ConsensusConfig,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolConfig,
    /// Catching up with the network.
    #[serde(default)]
    pub sync: SyncConfig,
    /// Deliberate misbehaviour, for fault tests only (see `consensus::byzantine`). Honoured only
    /// by a node built with the `byzantine` cargo feature; any other build refuses to start
    /// with this section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine: Option<toml::Table>,
}

fn default_genesis_file() -> PathBuf {
    "genesis.json".into()
}

fn default_key_file() -> PathBuf {
    "node_key.json".into()
}

fn default_data_dir() -> PathBuf {
    "data".into()
}

/// Consensus networking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// Multiaddress to listen on, e.g. `/ip4/0.0.0.0/tcp/26656`.
    pub listen_addr: String,
    /// Every other member of the network. Only these keys may connect. Not written when empty,
    /// so that `[[p2p.peers]]` tables can be appended to the file `init` writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerConfig>,
}

/// A member of the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Name, for people.
    pub name: String,
    /// Its ed25519 public key, hex; its libp2p peer id is derived from it.
    pub public_key: String,
    /// Its consensus multiaddress without `/p2p/...`, e.g. `/ip4/10.0.0.2/tcp/26656`.
    pub address: String,
    /// Its gRPC endpoint (`http://host:port`). Transactions submitted here are forwarded to
    /// the validators that have one, so the next proposer has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<String>,
}

/// The gRPC API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// Address to listen on.
    pub listen_addr: SocketAddr,
    /// Largest request or response message, in bytes.
    #[serde(default = "default_message_bytes_max")]
    pub message_bytes_max: usize,
    /// Most requests served at once (over all connections).
    #[serde(default = "default_concurrent_requests_max")]
    pub concurrent_requests_max: usize,
    /// Longest a `Submit` may wait for its commit, in ms.
    #[serde(default = "default_submit_wait_ms_max")]
    pub submit_wait_ms_max: u64,
    /// Most `Events.Subscribe` streams at once.
    #[serde(default = "default_event_streams_max")]
    pub event_streams_max: usize,
    /// Most `Events.Subscribe` streams one client address may hold at once (so one client
    /// cannot take every stream).
    #[serde(default = "default_event_streams_per_client_max")]
    pub event_streams_per_client_max: usize,
    /// Requests per second one client address may make to the bct services (a burst of twice
    /// as many is allowed); more get `RESOURCE_EXHAUSTED`. A `SubmitBatch` is one request.
    #[serde(default = "default_grpc_requests_per_second_per_client")]
    pub requests_per_second_per_client: u32,
    /// Connections one client address may hold open at once; more are closed when accepted.
    #[serde(default = "default_grpc_connections_per_client_max")]
    pub connections_per_client_max: usize,
    /// TLS: the API is served over TLS when set (crate::tls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<GrpcTlsConfig>,
}

/// `[grpc.tls]`: paths relative to the home directory, PEM files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcTlsConfig {
    /// The node's certificate (with its chain).
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
    /// When set, clients must present a certificate signed by this CA (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<PathBuf>,
    /// The CA of the other nodes' certificates, for forwarding to `https://` peers (the system
    /// roots when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_ca_file: Option<PathBuf>,
}

fn default_grpc_requests_per_second_per_client() -> u32 {
    1_000
}

fn default_grpc_connections_per_client_max() -> usize {
    64
}

fn default_event_streams_per_client_max() -> usize {
    8
}

fn default_message_bytes_max() -> usize {
    8 << 20
}

fn default_concurrent_requests_max() -> usize {
    512
}

fn default_submit_wait_ms_max() -> u64 {
    30_000
}

fn default_event_streams_max() -> usize {
    64
}

/// The Prometheus endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of `GET /metrics`; absent means no endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_addr: Option<SocketAddr>,
}

/// The web view and JSON API: read-only pages and `/api/v1/`, served by the node itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Address of the web view and `/api/v1/`; absent means no web server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_addr: Option<SocketAddr>,
    /// Most requests served at once (over all clients); more get 503 at once.
    #[serde(default = "default_web_concurrent_requests_max")]
    pub concurrent_requests_max: usize,
    /// Requests per second one client address may make (a burst of twice as many is allowed);
    /// more get 429.
    #[serde(default = "default_web_requests_per_second_per_client")]
    pub requests_per_second_per_client: u32,
    /// Largest request body, in bytes (the certificate check is the only route with a body).
    #[serde(default = "default_web_request_bytes_max")]
    pub request_bytes_max: usize,
    /// Reverse proxies in front of the web server (their addresses): for a request from one of
    /// them, the client is the last address in `X-Forwarded-For` that is not itself a trusted
    /// proxy, so each client behind the proxy gets its own rate limit. Empty: the header is
    /// ignored (anyone could write it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

fn default_web_concurrent_requests_max() -> usize {
    64
}

fn default_web_requests_per_second_per_client() -> u32 {
    50
}

fn default_web_request_bytes_max() -> usize {
    256 * 1024
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            listen_addr: None,
            concurrent_requests_max: default_web_concurrent_requests_max(),
            requests_per_second_per_client: default_web_requests_per_second_per_client(),
            request_bytes_max: default_web_request_bytes_max(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Block pacing and consensus timeouts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusConfig {
    /// Longest time between blocks when no transaction waits, in ms: a proposer with an
    /// empty mempool waits up to this long after the previous block's time for one to arrive,
    /// then proposes (an empty block if none did). With transactions waiting it proposes at
    /// once. Must be less than half of `timeout_propose_ms`.
    #[serde(default = "default_empty_block_interval_ms")]
    pub empty_block_interval_ms: u64,
    /// Time to wait for a proposal in round 0, in ms (grows by half each round).
    #[serde(default = "default_timeout_propose_ms")]
    pub timeout_propose_ms: u64,
    /// Time to wait for prevotes after a polka on anything, in ms.
    #[serde(default = "default_timeout_vote_ms")]
    pub timeout_prevote_ms: u64,
    /// Time to wait for precommits after 2/3 precommits on anything, in ms.
    #[serde(default = "default_timeout_vote_ms")]
    pub timeout_precommit_ms: u64,
}

fn default_empty_block_interval_ms() -> u64 {
    1000
}

fn default_timeout_propose_ms() -> u64 {
    3000
}

fn default_timeout_vote_ms() -> u64 {
    1000
}

impl Default for ConsensusConfig {
    fn default() -> ConsensusConfig {
        ConsensusConfig {
            empty_block_interval_ms: default_empty_block_interval_ms(),
            timeout_propose_ms: default_timeout_propose_ms(),
            timeout_prevote_ms: default_timeout_vote_ms(),
            timeout_precommit_ms: default_timeout_vote_ms(),
        }
    }
}

/// Mempool limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most transactions.
    #[serde(default = "default_mempool_txs_max")]
    pub txs_max: usize,
    /// Most bytes.
    #[serde(default = "default_mempool_bytes_max")]
    pub bytes_max: usize,
    /// How far ahead of an account's next nonce a transaction may be.
    #[serde(default = "default_mempool_nonce_ahead_max")]
    pub nonce_ahead_max: u64,
    /// Forward transactions submitted by clients to the validators' gRPC endpoints, so the
    /// next proposer has them. Off, a transaction waits for this node's turn to propose (and
    /// an observer's never gets in).
    #[serde(default = "default_forward")]
    pub forward: bool,
}

fn default_forward() -> bool {
    true
}

fn default_mempool_txs_max() -> usize {
    MEMPOOL_TXS_MAX
}

fn default_mempool_bytes_max() -> usize {
    MEMPOOL_BYTES_MAX
}

fn default_mempool_nonce_ahead_max() -> u64 {
    MEMPOOL_NONCE_AHEAD_MAX
}

impl Default for MempoolConfig {
    fn default() -> MempoolConfig {
        MempoolConfig {
            txs_max: MEMPOOL_TXS_MAX,
            bytes_max: MEMPOOL_BYTES_MAX,
            nonce_ahead_max: MEMPOOL_NONCE_AHEAD_MAX,
            forward: true,
        }
    }
}

/// Catching up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// How often peers tell each other their height, in ms.
    #[serde(default = "default_status_interval_ms")]
    pub status_interval_ms: u64,
    /// How long to wait for a batch of blocks from a peer, in ms.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_status_interval_ms() -> u64 {
    1000
}

fn default_request_timeout_ms() -> u64 {
    10_000
}

impl Default for SyncConfig {
    fn default() -> SyncConfig {
        SyncConfig {
            status_interval_ms: default_status_interval_ms(),
            request_timeout_ms: default_request_timeout_ms(),
        }
    }
}

impl NodeConfig {
    /// A configuration with defaults for everything but names and addresses.
    pub fn new(moniker: impl Into<String>, role: Role, p2p_listen: String, grpc_listen: SocketAddr) -> NodeConfig {
        NodeConfig {
            moniker: moniker.into(),
            role,
            genesis_file: default_genesis_file(),
            key_file: default_key_file(),
            data_dir: default_data_dir(),
            p2p: P2pConfig { listen_addr: p2p_listen, peers: Vec::new() },
            grpc: GrpcConfig {
                listen_addr: grpc_listen,
                message_bytes_max: default_message_bytes_max(),
                concurrent_requests_max: default_concurrent_requests_max(),
                submit_wait_ms_max: default_submit_wait_ms_max(),
                event_streams_max: default_event_streams_max(),
                event_streams_per_client_max: default_event_streams_per_client_max(),
                requests_per_second_per_client: default_grpc_requests_per_second_per_client(),
                connections_per_client_max: default_grpc_connections_per_client_max(),
                tls: None,
            },
            metrics: MetricsConfig::default(),
            web: WebConfig::default(),
            consensus: ConsensusConfig::default(),
            mempool: MempoolConfig::default(),
            sync: SyncConfig::default(),
            byzantine: None,
        }
    }

    /// Reads `home/config.toml`.
    pub fn load(home: &Path) -> Result<NodeConfig, NodeError> {
        let path = home.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            NodeError::Config(format!(
                "cannot read {}: {e} (run `bct-node init --home {}` first)",
                path.display(),
                home.display()
            ))
        })?;
        let config: NodeConfig =
            toml::from_str(&text).map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))?;
        config.validate()?;
        Ok(config)
    }

    /// Writes `home/config.toml`.
    pub fn save(&self, home: &Path) -> Result<(), NodeError> {
        let text = toml::to_string_pretty(self).map_err(|e| NodeError::Config(format!("cannot encode config: {e}")))?;
        std::fs::write(home.join(CONFIG_FILE), text)?;
        Ok(())
    }

    /// Checks values that TOML types cannot.
    pub fn validate(&self) -> Result<(), NodeError> {
        let bad = |m: String| Err(NodeError::Config(m));
        if self.moniker.is_empty() {
            return bad("moniker must not be empty".into());
        }
        if self.grpc.message_bytes_max < 64 * 1024 {
            return bad("grpc.message_bytes_max must be at least 65536".into());
        }
        if self.grpc.concurrent_requests_max == 0
            || self.grpc.event_streams_max == 0
            || self.grpc.event_streams_per_client_max == 0
            || self.grpc.requests_per_second_per_client == 0
            || self.grpc.connections_per_client_max == 0
        {
            return bad("grpc.concurrent_requests_max, grpc.event_streams_max, grpc.event_streams_per_client_max, \
                 grpc.requests_per_second_per_client and grpc.connections_per_client_max must be positive"
                .into());
        }
        if self.web.concurrent_requests_max == 0 || self.web.requests_per_second_per_client == 0 {
            return bad("web.concurrent_requests_max and web.requests_per_second_per_client must be positive".into());
        }
        if self.web.request_bytes_max < 16 * 1024 {
            return bad("web.request_bytes_max must be at least 16384".into());
        }
        if self.mempool.txs_max == 0 || self.mempool.bytes_max == 0 || self.mempool.nonce_ahead_max == 0 {
            return bad("mempool.txs_max, mempool.bytes_max and mempool.nonce_ahead_max must be positive".into());
        }
        if self.consensus.empty_block_interval_ms.saturating_mul(2) >= self.consensus.timeout_propose_ms {
            return bad(format!(
                "consensus.empty_block_interval_ms ({}) must be less than half of consensus.timeout_propose_ms ({}), \
                 or validators give up on the proposer while it waits for transactions",
                self.consensus.empty_block_interval_ms, self.consensus.timeout_propose_ms
            ));
        }
        for p in &self.p2p.peers {
            let key = hex::decode(&p.public_key).ok().filter(|k| k.len() == 32);
            if key.is_none() {
                return bad(format!("peer {:?}: public_key must be 64 hex digits", p.name));
            }
        }
        if let Some(section) = &self.byzantine {
            #[cfg(feature = "byzantine")]
            {
                if self.role != Role::Validator {
                    return bad("[byzantine]: only a validator can misbehave in consensus".into());
                }
                crate::consensus::byzantine::Misbehaviour::from_table(section)?;
            }
            #[cfg(not(feature = "byzantine"))]
            {
                let _ = section;
                return bad("config.toml has a [byzantine] section (deliberate misbehaviour, for fault tests), \
                     but this bct-node was built without the `byzantine` cargo feature: remove the section"
                    .into());
            }
        }
        Ok(())
    }

    /// A path from the configuration, resolved against `home`.
    pub fn resolve(home: &Path, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            home.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_toml_with_defaults() {
        let mut c =
            NodeConfig::new("v0", Role::Validator, "/ip4/127.0.0.1/tcp/1".into(), "127.0.0.1:2".parse().expect("addr"));
        c.p2p.peers.push(PeerConfig {
            name: "v1".into(),
            public_key: "11".repeat(32),
            address: "/ip4/127.0.0.1/tcp/3".into(),
            grpc: Some("http://127.0.0.1:4".into()),
        });
        let text = toml::to_string_pretty(&c).expect("encode");
        let back: NodeConfig = toml::from_str(&text).expect("decode");
        assert_eq!(back, c);
        let minimal =
            "moniker = \"x\"\n[p2p]\nlisten_addr = \"/ip4/0.0.0.0/tcp/1\"\n[grpc]\nlisten_addr = \"0.0.0.0:9090\"\n";
        let m: NodeConfig = toml::from_str(minimal).expect("minimal");
        assert_eq!(m.mempool.txs_max, MEMPOOL_TXS_MAX);
        assert_eq!(m.role, Role::Validator);
        assert!(toml::from_str::<NodeConfig>(&format!("{minimal}typo = 1\n")).is_err());
    }

    /// A `[byzantine]` section is honoured only by a build with the `byzantine` feature, which
    /// still refuses unknown attacks.
    #[test]
    fn byzantine_section_needs_the_feature() {
        let minimal =
            "moniker = \"x\"\n[p2p]\nlisten_addr = \"/ip4/0.0.0.0/tcp/1\"\n[grpc]\nlisten_addr = \"0.0.0.0:9090\"\n";
        let with = |section: &str| -> NodeConfig { toml::from_str(&format!("{minimal}{section}")).expect("parses") };
        let c = with("[byzantine]\nequivocate_votes = { mode = \"always\" }\n");
        assert!(c.byzantine.is_some());
        assert_eq!(c.validate().is_ok(), cfg!(feature = "byzantine"), "{:?}", c.validate());
        assert!(with("[byzantine]\nequivocate_vote = { mode = \"always\" }\n").validate().is_err());
        assert!(with("").validate().is_ok());
    }
}
