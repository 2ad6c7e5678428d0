//! Assembling a node from its home directory: ledger, mempool, consensus engine and host,
//! gRPC API, metrics; and supervising the critical tasks (any of them ending stops the node).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bct_ledger::Genesis;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use malachitebft_app_channel::{
    ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, RequestContext, Signer, SyncContext, WalContext,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::chain::Chain;
use crate::config::{NodeConfig, Role};
use crate::consensus::codec::BctCodec;
use crate::consensus::context::ValidatorAddress;
use crate::consensus::fetch::BlockFetcher;
use crate::consensus::guard::SignGuard;
use crate::consensus::host::{Host, HostParams};
use crate::consensus::signing::{BctSigner, BctVerifier};
use crate::error::NodeError;
use crate::keys::NodeKey;
use crate::mempool::{Mempool, MempoolLimits};
use crate::metrics::Metrics;
use crate::network::{engine_config, known_peers, NetworkView};
use crate::query::QueryService;
use crate::submit::{Forwarder, Submitter};

/// Capacity of the engine's request channels (state dumps, peer changes).
const ENGINE_REQUESTS_MAX: usize = 64;

/// Reads the genesis file named by the configuration.
pub fn load_genesis(home: &Path, config: &NodeConfig) -> Result<Genesis, NodeError> {
    let path = NodeConfig::resolve(home, &config.genesis_file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| NodeError::Config(format!("cannot read the genesis file {}: {e}", path.display())))?;
    Genesis::from_json(&text).map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))
}

/// A started node.
pub struct RunningNode {
    /// Where the gRPC API listens.
    pub grpc_addr: SocketAddr,
    /// Where `GET /metrics` is served, if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the web view and JSON API are served, if configured.
    pub web_addr: Option<SocketAddr>,
    /// The libp2p peer id.
    pub peer_id: String,
    /// The ledger.
    pub chain: Arc<Chain>,
    host: JoinHandle<Result<(), NodeError>>,
    grpc: JoinHandle<Result<(), NodeError>>,
    engine: EngineHandle,
    stop_grpc: Option<oneshot::Sender<()>>,
    aux: Vec<JoinHandle<()>>,
}

impl RunningNode {
    /// Runs until a critical task ends (always an error: they run forever) or `stop` resolves.
    pub async fn run_until(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<(), NodeError> {
        let outcome = tokio::select! {
            r = &mut self.host => flatten("consensus host", r),
            r = &mut self.grpc => flatten("gRPC server", r),
            r = &mut self.engine.handle => Err(NodeError::Engine(format!("the consensus engine stopped: {r:?}"))),
            () = stop => Ok(()),
        };
        if let Err(e) = &outcome {
            error!("node stopping: {e}");
        }
        outcome
    }

    /// Stops every task and the engine, and waits a moment for them to wind down.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop_grpc.take() {
            let _ = tx.send(());
        }
        self.engine.actor.stop(None);
        self.host.abort();
        for t in &self.aux {
            t.abort();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.grpc).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.engine.handle).await;
    }
}

fn flatten(what: &str, r: Result<Result<(), NodeError>, tokio::task::JoinError>) -> Result<(), NodeError> {
    match r {
        Ok(Ok(())) => Err(NodeError::Fatal(format!("the {what} stopped"))),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(NodeError::Fatal(format!("the {what} panicked or was cancelled: {e}"))),
    }
}

/// Starts the node whose home directory is `home`.
pub async fn start(home: &Path) -> Result<RunningNode, NodeError> {
    let config = NodeConfig::load(home)?;
    start_with(home, config).await
}

/// Starts a node from `config` (paths relative to `home`).
pub async fn start_with(home: &Path, config: NodeConfig) -> Result<RunningNode, NodeError> {
    config.validate()?;
    // libp2p listens with SO_REUSEPORT: a port another node holds would be shared silently.
    if let Some(p2p) = crate::check::tcp_addr_of(&config.p2p.listen_addr).filter(|a| a.port() != 0) {
        crate::check::ensure_free(p2p, "p2p.listen_addr")?;
    }
    let genesis = load_genesis(home, &config)?;
    let key = NodeKey::load(&NodeConfig::resolve(home, &config.key_file))?;
    let tls = config.grpc.tls.as_ref().map(|t| crate::tls::NodeTls::load(home, t)).transpose()?;
    let data: PathBuf = NodeConfig::resolve(home, &config.data_dir);
    std::fs::create_dir_all(&data)?;
    let chain = Arc::new(Chain::open(&data.join("ledger"), genesis.clone())?);
    let chain_id = genesis.chain_id.clone();
    let me = ValidatorAddress::from_public_key(&key.public_key());
    let in_set = chain.read().await.validators().iter().any(|v| v.public_key == key.public_key());
    match (config.role, in_set) {
        (Role::Validator, false) => warn!(
            address = %key.address(),
            "this node's key is not in the validator set: it follows the chain but does not vote until it is added"
        ),
        (Role::Observer, true) => {
            warn!("this node's key is in the validator set but the node runs as an observer: it never votes")
        }
        _ => {}
    }
    let others_in_set = chain.read().await.validators().iter().filter(|v| v.public_key != key.public_key()).count();
    if config.p2p.peers.is_empty() && others_in_set > 0 {
        warn!(
            validators = others_in_set,
            "config.toml lists no peers ([[p2p.peers]]) but the validator set has {others_in_set} other \
             validator(s): this node cannot reach them and will not follow or decide blocks"
        );
    }

    let metrics = Arc::new(Metrics::new(&config.moniker));
    let mempool = Arc::new(Mutex::new(Mempool::new(MempoolLimits {
        txs_max: config.mempool.txs_max,
        bytes_max: config.mempool.bytes_max,
        nonce_ahead_max: config.mempool.nonce_ahead_max,
    })));

    // Consensus engine.
    let peers = known_peers(&config, &key.public_key())?;
    let engine_cfg = engine_config(&config, &peers)?;
    let keypair = key.libp2p_keypair()?;
    let peer_id = keypair.public().to_peer_id();
    let verifier = BctVerifier::new(chain_id.clone());
    let (identity, consensus_ctx, signer) = match config.role {
        Role::Validator => {
            let signer = BctSigner::new(key.secret(), chain_id.clone());
            let proof = signer
                .sign_validator_proof(key.public_key().to_vec(), peer_id.to_bytes())
                .await
                .map_err(|e| NodeError::Engine(format!("signing the validator proof: {e}")))?;
            let proof_bytes =
                BctCodec.encode(&proof).map_err(|e| NodeError::Engine(format!("encoding the validator proof: {e}")))?;
            let identity = NetworkIdentity::new_validator(config.moniker.clone(), keypair, me.to_string(), proof_bytes);
            // The engine signs through the double-sign guard (votes and proposals, durably
            // recorded before signing); the host signs only proposal streams.
            let guard = SignGuard::open(chain.db()).map_err(|e| NodeError::Storage(e.to_string()))?;
            let guarded = signer.clone().with_guard(guard);
            let ctx = ConsensusContext::new_validator(me, Box::new(verifier.clone()), Box::new(guarded));
            (identity, ctx, Some(signer))
        }
        Role::Observer => {
            let identity = NetworkIdentity::new(config.moniker.clone(), keypair, None);
            (identity, ConsensusContext::new_full_node(me, Box::new(verifier.clone())), None)
        }
    };
    let wal = WalContext::new(data.join("wal").join("consensus.wal"), BctCodec);
    let network = NetworkContext::new(identity, BctCodec);
    let (sync, requests) = (SyncContext::new(BctCodec), RequestContext::new(ENGINE_REQUESTS_MAX));
    // Fault tests only: a `[byzantine]` section, honoured by a build with the `byzantine` feature.
    #[cfg(feature = "byzantine")]
    let misbehaviour = crate::consensus::byzantine::Misbehaviour::from_config(&config)?.map(Arc::new);
    #[cfg(feature = "byzantine")]
    let started = crate::consensus::byzantine::start_engine(
        misbehaviour.as_deref(),
        signer.as_ref(),
        me,
        engine_cfg,
        wal,
        network,
        consensus_ctx,
        sync,
        requests,
    )
    .await;
    #[cfg(not(feature = "byzantine"))]
    let started = malachitebft_app_channel::start_engine(
        crate::consensus::context::BctContext,
        engine_cfg,
        wal,
        network,
        consensus_ctx,
        sync,
        requests,
    )
    .await
    .map_err(|e| NodeError::Engine(format!("{e:#}")));
    let (mut channels, engine) = started?;

    let c = &config.consensus;
    let tx_arrived = Arc::new(tokio::sync::Notify::new());
    let fetch_from: Vec<(String, String)> = config
        .p2p
        .peers
        .iter()
        .filter(|p| p.public_key.to_lowercase() != hex::encode(key.public_key()))
        .filter_map(|p| p.grpc.clone().map(|g| (p.name.clone(), g)))
        .collect();
    let params = HostParams {
        tx_arrived: tx_arrived.clone(),
        fetcher: BlockFetcher::new(fetch_from, tls.as_ref())?,
        empty_block_interval: Duration::from_millis(c.empty_block_interval_ms),
        timeouts: LinearTimeouts {
            propose: Duration::from_millis(c.timeout_propose_ms),
            propose_delta: Duration::from_millis(c.timeout_propose_ms / 2),
            prevote: Duration::from_millis(c.timeout_prevote_ms),
            prevote_delta: Duration::from_millis(c.timeout_prevote_ms / 2),
            precommit: Duration::from_millis(c.timeout_precommit_ms),
            precommit_delta: Duration::from_millis(c.timeout_precommit_ms / 2),
            rebroadcast: Duration::from_millis(c.timeout_propose_ms + c.timeout_prevote_ms + c.timeout_precommit_ms),
            ..LinearTimeouts::default()
        },
    };
    let host =
        Host::new(chain.clone(), mempool.clone(), metrics.clone(), me, signer, channels.network.clone(), params)?;
    #[cfg(feature = "byzantine")]
    let host = host.with_misbehaviour(misbehaviour);
    let net_requests = channels.net_requests.clone();
    let host = tokio::spawn(async move { host.run(&mut channels).await });

    // Network view, forwarding, API.
    let view = Arc::new(NetworkView::new(peer_id.to_string(), config.role, peers));
    let mut aux = vec![view.clone().monitor(net_requests, metrics.clone())];
    let validator_keys: Vec<String> = genesis.validators.iter().map(|v| hex::encode(v.public_key)).collect();
    let targets: Vec<(String, String)> = config
        .p2p
        .peers
        .iter()
        .filter(|p| {
            p.public_key != hex::encode(key.public_key()) && validator_keys.contains(&p.public_key.to_lowercase())
        })
        .filter_map(|p| p.grpc.clone().map(|g| (p.name.clone(), g)))
        .collect();
    let forwarder =
        if config.mempool.forward { Forwarder::start(targets, tls.as_ref())? } else { Forwarder::default() };
    let submitter = Submitter::new(chain.clone(), mempool, metrics.clone(), forwarder, tx_arrived);
    // The index of trades and ticket histories serves gRPC too, so it runs on every node.
    let index = crate::web::index::Index::open(chain.db())?;
    aux.push(index.clone().follow(chain.clone()));
    let query = QueryService::new(chain.clone(), submitter.clone(), view, index.clone());
    let web = crate::web::Web {
        overview: Default::default(),
        chain: chain.clone(),
        query: query.clone(),
        index,
        role: match config.role {
            Role::Validator => "validator",
            Role::Observer => "observer",
        },
    };
    let (stop_grpc, stopped) = oneshot::channel::<()>();
    let (grpc_addr, grpc) = crate::rpc::serve(&config.grpc, tls.as_ref(), submitter, query, metrics.clone(), async {
        let _ = stopped.await;
    })
    .await?;
    let metrics_addr = match config.metrics.listen_addr {
        Some(addr) => {
            let (bound, task) = crate::metrics::serve(addr, metrics).await?;
            aux.push(task);
            Some(bound)
        }
        None => None,
    };
    let web_addr = match crate::web::serve(&config.web, web).await? {
        Some((bound, task)) => {
            aux.push(task);
            Some(bound)
        }
        None => None,
    };
    info!(
        moniker = %config.moniker,
        role = %match config.role {
            Role::Validator => "validator",
            Role::Observer => "observer",
        },
        %peer_id,
        address = %key.address(),
        height = chain.height(),
        %grpc_addr,
        "node started"
    );
    Ok(RunningNode {
        grpc_addr,
        metrics_addr,
        web_addr,
        peer_id: peer_id.to_string(),
        chain,
        host,
        grpc,
        engine,
        stop_grpc: Some(stop_grpc),
        aux,
    })
}
