//! The node's ledger, shared by consensus, the mempool and the API, with notifications of
//! each commit (the committed height, and the transactions someone is waiting for).
//!
//! **Architecture invariant:** only the consensus host (`consensus::host`) commits blocks;
//! everything else reads, or dry-runs transactions with `check_tx`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bct_ledger::{Genesis, Ledger, SledStore, Store, StoreError, TxId};
use bct_proto::pb;
use prost::Message;
use tokio::sync::{oneshot, watch, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard};

use crate::consensus::certificate::{self, certificate_key};
use crate::error::NodeError;

/// The ledger as the node runs it: on sled.
pub type NodeLedger = Ledger<SledStore>;

/// Most clients waiting for one transaction id at once (each `Submit` with wait holds one).
const WAITERS_PER_TX_MAX: usize = 64;

/// The shared ledger and commit notifications.
pub struct Chain {
    ledger: Arc<RwLock<NodeLedger>>,
    genesis: Genesis,
    db: sled::Db,
    height: watch::Sender<u64>,
    waiters: Mutex<HashMap<TxId, Vec<oneshot::Sender<()>>>>,
}

impl Chain {
    /// Opens (or creates) the ledger in `dir` for `genesis`.
    pub fn open(dir: &Path, genesis: Genesis) -> Result<Chain, NodeError> {
        let store = SledStore::open(dir).map_err(|e| NodeError::Storage(e.to_string()))?;
        let db = store.db().clone();
        let ledger = Ledger::open(store, genesis.clone()).map_err(|e| NodeError::Storage(e.to_string()))?;
        Chain::index_set_changes(&ledger).map_err(|e| NodeError::Storage(e.to_string()))?;
        let (height, _) = watch::channel(ledger.height());
        Ok(Chain { ledger: Arc::new(RwLock::new(ledger)), genesis, db, height, waiters: Mutex::new(HashMap::new()) })
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.genesis.chain_id
    }

    /// Shared read access to the ledger.
    pub async fn read(&self) -> RwLockReadGuard<'_, NodeLedger> {
        self.ledger.read().await
    }

    /// Exclusive access that can move into a blocking task (execution, commit, `check_tx`).
    pub async fn write(&self) -> OwnedRwLockWriteGuard<NodeLedger> {
        self.ledger.clone().write_owned().await
    }

    /// The last committed height, without locking.
    pub fn height(&self) -> u64 {
        *self.height.borrow()
    }

    /// Follows the committed height.
    pub fn watch_height(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// The sled database, for the node's own trees.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Resolves when `id` is committed (accepted or rejected). The caller checks the ledger
    /// after registering, so a commit between its check and this call is not missed.
    pub fn wait_for(&self, id: TxId) -> Result<oneshot::Receiver<()>, NodeError> {
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.waiters.lock().map_err(|_| NodeError::Poisoned("waiters"))?;
        let list = waiters.entry(id).or_default();
        list.retain(|s| !s.is_closed());
        if list.len() >= WAITERS_PER_TX_MAX {
            return Err(NodeError::Busy(format!(
                "{WAITERS_PER_TX_MAX} clients already wait for transaction {id}; ask its status instead"
            )));
        }
        list.push(tx);
        Ok(rx)
    }

    /// Drops waiters whose clients went away (after a timeout).
    pub fn forget_waiter(&self, id: &TxId) {
        if let Ok(mut waiters) = self.waiters.lock() {
            if let Some(list) = waiters.get_mut(id) {
                list.retain(|s| !s.is_closed());
                if list.is_empty() {
                    waiters.remove(id);
                }
            }
        }
    }

    /// Announces a commit: wakes the waiters of `txs`, then publishes the height.
    pub(crate) fn announce(&self, height: u64, txs: &[TxId]) {
        if let Ok(mut waiters) = self.waiters.lock() {
            if !waiters.is_empty() {
                for id in txs {
                    for w in waiters.remove(id).unwrap_or_default() {
                        let _ = w.send(());
                    }
                }
            }
        }
        self.height.send_replace(height);
    }

    /// The stored commit certificate of `height`.
    pub fn certificate(ledger: &NodeLedger, height: u64) -> Result<Option<pb::CommitCertificate>, StoreError> {
        let Some(bytes) = ledger.store().get(&certificate_key(height))? else { return Ok(None) };
        pb::CommitCertificate::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("commit certificate of height {height}: {e}")))
    }

    /// Writes the set-change index ([`certificate::set_change_key`]) of a store that has fewer
    /// entries than the ledger has accepted validator set changes (a store written before the
    /// index existed), by reading every block once.
    fn index_set_changes(ledger: &NodeLedger) -> Result<(), StoreError> {
        let changes = ledger.state().meta().valset_version;
        let indexed = ledger.store().scan_prefix(certificate::SET_CHANGE_PREFIX, usize::MAX)?.len() as u64;
        if indexed >= changes {
            return Ok(());
        }
        let mut batch = Vec::new();
        for height in 1..=ledger.height() {
            let Some(block) = ledger.block(height)? else { continue };
            if !block.txs.iter().any(|t| matches!(t.body().kind, bct_ledger::TxKind::UpdateValidators(_))) {
                continue;
            }
            let results = ledger.results(height)?.unwrap_or_default();
            for key in certificate::set_change_keys(&block, &results) {
                batch.push((key, Some(Vec::new())));
            }
        }
        tracing::info!(changes = batch.len(), "indexed the validator set changes of a store written before the index");
        ledger.store().apply(batch)
    }

    /// The accepted validator set changes in blocks below `height`, as (height, index), in
    /// height order.
    pub fn set_changes_before(ledger: &NodeLedger, height: u64) -> Result<Vec<(u64, u32)>, StoreError> {
        Ok(ledger
            .store()
            .scan_prefix(certificate::SET_CHANGE_PREFIX, usize::MAX)?
            .iter()
            .filter_map(|(k, _)| certificate::parse_set_change_key(k))
            .filter(|(h, _)| *h < height)
            .collect())
    }

    /// The validator set whose hash is `hash`, if a block it decided is stored.
    pub fn validator_set(
        ledger: &NodeLedger,
        hash: &bct_ledger::Hash,
    ) -> Result<Option<Vec<bct_ledger::types::Validator>>, StoreError> {
        let Some(bytes) = ledger.store().get(&certificate::validator_set_key(hash))? else { return Ok(None) };
        certificate::decode_validator_set(&bytes).map(Some).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}
