//! The permissioned consensus network: Malachite's libp2p configuration built from our
//! `config.toml` (discovery off, only the configured keys may connect), and a view of the
//! connected peers for `GetNetworkStatus` and metrics.
//!
//! A node whose key is not in the peer list is disconnected right after the libp2p identify
//! exchange; Malachite logs it at `WARN` (target `arc_malachitebft_discovery`) as
//! "Rejecting connection from non-persistent peer".

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bct_proto::pb;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, NodeConfig as EngineNodeConfig, P2pConfig, ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::NetworkRequest;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::{NodeConfig, Role};
use crate::error::NodeError;
use crate::keys::peer_id_of;
use crate::metrics::Metrics;

/// How often the peer view is refreshed.
const PEERS_REFRESH: Duration = Duration::from_secs(2);

/// The configuration Malachite reads.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl EngineNodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// How long a configured peer may stay unconnected before the node warns.
const MISSING_WARN_AFTER: Duration = Duration::from_secs(30);
/// How often it repeats the warning while peers stay unconnected.
const MISSING_WARN_EVERY: Duration = Duration::from_secs(300);

/// A configured peer: name, libp2p id, consensus address.
#[derive(Clone, Debug)]
pub struct KnownPeer {
    /// Name from the configuration.
    pub name: String,
    /// Derived from its key.
    pub peer_id: String,
    /// Where to dial it.
    pub address: Multiaddr,
}

/// The peers of the configuration, except the node itself (`me`, its public key).
pub fn known_peers(config: &NodeConfig, me: &[u8; 32]) -> Result<Vec<KnownPeer>, NodeError> {
    let mut out = Vec::new();
    for p in &config.p2p.peers {
        let key: [u8; 32] = hex::decode(&p.public_key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| NodeError::Config(format!("peer {:?}: public_key must be 64 hex digits", p.name)))?;
        if &key == me {
            continue;
        }
        let peer_id = peer_id_of(&key)?;
        let address: Multiaddr = format!("{}/p2p/{peer_id}", p.address.trim_end_matches('/')).parse().map_err(|e| {
            NodeError::Config(format!("peer {:?}: address {:?} is not a multiaddress: {e}", p.name, p.address))
        })?;
        out.push(KnownPeer { name: p.name.clone(), peer_id: peer_id.to_string(), address });
    }
    Ok(out)
}

/// Malachite's configuration: permissioned peers, value sync tuned for quick catch-up.
pub fn engine_config(config: &NodeConfig, peers: &[KnownPeer]) -> Result<EngineConfig, NodeError> {
    let listen_addr: Multiaddr = config.p2p.listen_addr.parse().map_err(|e| {
        NodeError::Config(format!("p2p.listen_addr {:?} is not a multiaddress: {e}", config.p2p.listen_addr))
    })?;
    // Malachite panics at start on anything else; say so here instead.
    let text = listen_addr.to_string();
    let tcp_or_quic = text.contains("/tcp/") || text.contains("/quic-v1");
    if !tcp_or_quic {
        return Err(NodeError::Config(format!(
            "p2p.listen_addr {:?} must be a TCP or QUIC address, e.g. /ip4/0.0.0.0/tcp/26656",
            config.p2p.listen_addr
        )));
    }
    let mut p2p = P2pConfig {
        listen_addr,
        persistent_peers: peers.iter().map(|p| p.address.clone()).collect(),
        persistent_peers_only: true,
        ..P2pConfig::default()
    };
    p2p.discovery.enabled = false;
    let consensus = ConsensusConfig { p2p, ..ConsensusConfig::default() };
    let value_sync = ValueSyncConfig {
        enabled: true,
        status_update_interval: Duration::from_millis(config.sync.status_interval_ms.max(100)),
        request_timeout: Duration::from_millis(config.sync.request_timeout_ms.max(1000)),
        ..ValueSyncConfig::default()
    };
    Ok(EngineConfig { moniker: config.moniker.clone(), consensus, value_sync })
}

/// What the node knows of its network.
pub struct NetworkView {
    node_id: String,
    role: Role,
    known: Vec<KnownPeer>,
    connected: RwLock<BTreeSet<String>>,
}

impl NetworkView {
    /// A view with no connections yet.
    pub fn new(node_id: String, role: Role, known: Vec<KnownPeer>) -> NetworkView {
        NetworkView { node_id, role, known, connected: RwLock::new(BTreeSet::new()) }
    }

    /// This node's peer id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Validator or observer, as the API says it.
    pub fn role(&self) -> pb::NodeRole {
        match self.role {
            Role::Validator => pb::NodeRole::Validator,
            Role::Observer => pb::NodeRole::Observer,
        }
    }

    /// Every configured peer and whether it is connected now.
    pub fn peers(&self) -> Vec<pb::Peer> {
        let connected = self.connected.read().map(|c| c.clone()).unwrap_or_default();
        self.known
            .iter()
            .map(|p| pb::Peer {
                id: p.peer_id.clone(),
                address: p.address.to_string(),
                connected: connected.contains(&p.peer_id),
            })
            .collect()
    }

    /// Number of connected configured peers.
    pub fn connected(&self) -> usize {
        self.connected.read().map(|c| c.len()).unwrap_or(0)
    }

    /// Refreshes the view from the network actor every few seconds, until the network stops.
    pub fn monitor(
        self: Arc<Self>,
        requests: mpsc::Sender<NetworkRequest>,
        metrics: Arc<Metrics>,
    ) -> tokio::task::JoinHandle<()> {
        metrics.peers_configured.set(i64::try_from(self.known.len()).unwrap_or(i64::MAX));
        tokio::spawn(async move {
            let mut last = usize::MAX;
            // Since when no configured peer is connected, and when that was last said.
            let mut missing_since: Option<std::time::Instant> = None;
            let mut warned: Option<std::time::Instant> = None;
            loop {
                tokio::time::sleep(PEERS_REFRESH).await;
                match NetworkRequest::dump_state(&requests).await {
                    Ok(Some(dump)) => {
                        let now: BTreeSet<String> = dump.peers.keys().map(|p| p.to_string()).collect();
                        let n = now.iter().filter(|p| self.known.iter().any(|k| &k.peer_id == *p)).count();
                        if let Ok(mut c) = self.connected.write() {
                            *c = now;
                        }
                        metrics.peers.set(n as i64);
                        if n != last {
                            info!(connected = n, configured = self.known.len(), "consensus peers");
                            last = n;
                        }
                        let connected = self.connected.read().map(|c| c.clone()).unwrap_or_default();
                        let missing: Vec<String> = self
                            .known
                            .iter()
                            .filter(|k| !connected.contains(&k.peer_id))
                            .map(|k| format!("{} ({})", k.name, k.address))
                            .collect();
                        if missing.is_empty() {
                            missing_since = None;
                            warned = None;
                            continue;
                        }
                        let since = *missing_since.get_or_insert_with(std::time::Instant::now);
                        let due = warned.is_none_or(|w| w.elapsed() >= MISSING_WARN_EVERY);
                        if since.elapsed() >= MISSING_WARN_AFTER && due {
                            let consequence =
                                if n == 0 { "; with no peer this node cannot follow or decide blocks" } else { "" };
                            warn!(
                                seconds = since.elapsed().as_secs(),
                                "{} of {} configured consensus peers not connected: {}{consequence}; check that they \
                                 run, that their addresses in [[p2p.peers]] are right and reachable, and that they \
                                 list this node's key",
                                missing.len(),
                                self.known.len(),
                                missing.join(", ")
                            );
                            warned = Some(std::time::Instant::now());
                        }
                    }
                    Ok(None) => debug!("network state not available yet"),
                    Err(malachitebft_app_channel::ConsensusRequestError::Closed) => return,
                    Err(e) => debug!("network state request failed: {e}"),
                }
            }
        })
    }
}
