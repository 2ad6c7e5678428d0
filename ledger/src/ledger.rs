//! The ledger: executes blocks against the state, checks them, and commits them to a store.

use std::collections::{BTreeMap, BTreeSet};

use serde::{de::DeserializeOwned, Serialize};

use crate::block::{self, Block, BlockHeader, Rejection, TxResult};
use crate::crypto::{self, Address, Hash, TxId};
use crate::exec::{self, Env};
use crate::genesis::Genesis;
use crate::invariants;
use crate::state::{GroupKey, Meta, State, Totals, TotalsAfter};
use crate::store::{Batch, Store, StoreError};
use crate::tx::SignedTx;
use crate::types::{Account, AccountStatus, Role, Validator};

/// Why a block cannot be applied. Any of these means the block is invalid and must not be
/// voted for, except [`BlockError::Invariant`] and [`BlockError::Store`], which stop the node.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// Not the next height.
    #[error("block height {got} is not the next height {expected}")]
    Height {
        /// Next height.
        expected: u64,
        /// In the block.
        got: u64,
    },
    /// Does not extend the current head.
    #[error("block does not extend the current head (previous hash {got}, head {expected})")]
    PrevHash {
        /// Head hash.
        expected: Hash,
        /// In the block.
        got: Hash,
    },
    /// Another chain.
    #[error("block is for chain {got:?}, not {expected:?}")]
    ChainId {
        /// Ours.
        expected: String,
        /// In the block.
        got: String,
    },
    /// Time does not move forward.
    #[error("block time {got} ms is not after the previous block's {prev} ms")]
    Time {
        /// Previous block time.
        prev: u64,
        /// In the block.
        got: u64,
    },
    /// Too many transactions or bytes.
    #[error("block exceeds its limits: {0}")]
    TooLarge(String),
    /// A header field does not match what executing the block gives.
    #[error("block header {field} is {got}, but executing the block gives {expected}")]
    Mismatch {
        /// Which field.
        field: &'static str,
        /// Computed.
        expected: String,
        /// In the header.
        got: String,
    },
    /// A transaction signature does not verify: proposers must leave such transactions out.
    #[error("transaction {0} in the block has an invalid signature")]
    BadSignature(TxId),
    /// The same transaction twice in one block.
    #[error("transaction {0} appears twice in the block")]
    DuplicateTx(TxId),
    /// A transaction fails the inclusion rule (wrong chain, expired, unknown signer, used or
    /// skipped nonce, ...): no block may carry it.
    #[error("transaction {tx} may not be in a block: {reason}")]
    NotIncludable {
        /// The transaction.
        tx: TxId,
        /// Why.
        reason: Rejection,
    },
    /// A ledger invariant failed: a bug. The node must stop.
    #[error("ledger invariant violated: {0}")]
    Invariant(String),
    /// Storage failed. The node must stop.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why the ledger could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Storage failed or holds damaged data.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store was made with another genesis.
    #[error("the store belongs to another network: its genesis header is {stored}, this genesis gives {expected}")]
    WrongGenesis {
        /// From the genesis file.
        expected: Hash,
        /// In the store.
        stored: Hash,
    },
    /// The stored state fails its invariants or its root.
    #[error("the stored state is inconsistent: {0}")]
    Inconsistent(String),
}

/// A block executed but not yet committed.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The block.
    pub block: Block,
    /// One result per transaction.
    pub results: Vec<TxResult>,
    pub(crate) writes: Batch,
}

impl Executed {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        self.block.hash()
    }
}

/// Where a committed transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Whether it was accepted there. A rejected transaction may be included again later
    /// (its nonce was not used); the index then points to the newest inclusion, but never
    /// away from an acceptance.
    pub accepted: bool,
}

/// The deterministic state machine over a [`Store`].
pub struct Ledger<S: Store> {
    store: S,
    genesis: Genesis,
    state: State,
    head: BlockHeader,
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn height_key(prefix: u8, height: u64) -> Vec<u8> {
    let mut k = vec![prefix];
    k.extend_from_slice(&height.to_be_bytes());
    k
}

const KEY_HEIGHT: &[u8] = b"Mheight";

/// Key of the ledger-wide totals after block `height`: `Z` height.
fn totals_key(height: u64) -> Vec<u8> {
    height_key(b'Z', height)
}

/// Prefix of one group's totals history: `G` project 0x00 vintage (u32 BE).
fn group_prefix(project: &str, vintage: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(project.len() + 6);
    k.push(b'G');
    k.extend_from_slice(project.as_bytes());
    k.push(0);
    k.extend_from_slice(&vintage.to_be_bytes());
    k
}

/// Key of a group's totals after block `height` (written for each block that changed them).
fn group_key(project: &str, vintage: u32, height: u64) -> Vec<u8> {
    let mut k = group_prefix(project, vintage);
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// The totals history entries of a block: ledger-wide always, each changed group.
fn totals_entries(height: u64, after: &TotalsAfter) -> Result<Batch, StoreError> {
    let mut out = vec![(totals_key(height), Some(enc(&after.all)?))];
    for ((project, vintage), t) in &after.groups {
        out.push((group_key(project, *vintage, height), Some(enc(t)?)));
    }
    Ok(out)
}

/// The next state root: unchanged when nothing was written, else
/// blake3(`bct/state/v1\0` || previous root || blake3(write set)).
pub fn next_state_root(prev: &Hash, writes: &Batch) -> Hash {
    if writes.is_empty() {
        return *prev;
    }
    let mut h = blake3::Hasher::new();
    for (k, v) in writes {
        h.update(&(k.len() as u32).to_be_bytes());
        h.update(k);
        match v {
            Some(v) => {
                h.update(&[1]);
                h.update(&(v.len() as u32).to_be_bytes());
                h.update(v);
            }
            None => {
                h.update(&[0]);
            }
        }
    }
    let digest = h.finalize();
    Hash::of_parts(&[crypto::STATE_DOMAIN, &prev.0, digest.as_bytes()])
}

impl<S: Store> Ledger<S> {
    /// Blocks checked against each other when a used store is opened: the newest ones, back
    /// from the committed height (all of them on a shorter chain). Older blocks are checked
    /// when read ([`Ledger::block`]) and by [`Ledger::verify_chain`].
    pub const OPEN_VERIFIED_BLOCKS: u64 = 1_000;

    /// Opens the ledger: a fresh store gets the genesis state (height 0); a used one gives
    /// back exactly the state of its last committed block, after checks: it holds at least
    /// what its high-water mark says was committed ([`StoreError::Lost`]), its newest
    /// [`Ledger::OPEN_VERIFIED_BLOCKS`] blocks pass [`Ledger::verify_chain`], and the whole
    /// state decodes and passes every invariant.
    pub fn open(store: S, genesis: Genesis) -> Result<Ledger<S>, OpenError> {
        let mut state = State::default();
        let genesis_writes = genesis_state(&mut state, &genesis).map_err(|e| OpenError::Inconsistent(e.to_string()))?;
        let root = next_state_root(&Hash::ZERO, &genesis_writes);
        let genesis_header = BlockHeader {
            chain_id: genesis.chain_id.clone(),
            height: 0,
            prev_hash: Hash::ZERO,
            time_ms: genesis.genesis_time_ms,
            proposer: Address::default(),
            tx_root: block::tx_root(&[]),
            results_root: crypto::merkle_root(&[]),
            state_root: root,
            validator_set_hash: block::validator_set_hash(&genesis.validator_set()),
            tx_count: 0,
        };
        match store.get(KEY_HEIGHT)? {
            None => {
                // An empty store whose mark says blocks were committed lost them all (a data
                // file cut to zero reopens empty): never start over at genesis silently.
                if let Some(committed) = store.high_water_mark()? {
                    return Err(StoreError::Lost { holds: "no committed block".into(), committed }.into());
                }
                let mut batch = genesis_writes;
                batch.push((height_key(b'B', 0), Some(enc(&Block { header: genesis_header.clone(), txs: vec![] })?)));
                batch.push((height_key(b'Q', 0), Some(enc(&Vec::<TxResult>::new())?)));
                batch.push((KEY_HEIGHT.to_vec(), Some(0u64.to_be_bytes().to_vec())));
                state.rebuild_group_totals();
                let after = TotalsAfter {
                    all: state.meta().totals,
                    groups: state.group_totals().clone(),
                    tickets: BTreeMap::new(),
                };
                batch.extend(totals_entries(0, &after)?);
                store.apply(batch)?;
                store.record_high_water_mark(0)?;
                state.clear_journal();
                Ok(Ledger { store, genesis, state, head: genesis_header })
            }
            Some(h) => {
                let height = u64::from_be_bytes(
                    h.as_slice().try_into().map_err(|_| StoreError::Corrupt("applied height is not 8 bytes".into()))?,
                );
                // sled reopens a truncated or damaged log as an older database: the mark,
                // kept outside it, says how far it went.
                if let Some(committed) = store.high_water_mark()? {
                    if committed > height {
                        return Err(
                            StoreError::Lost { holds: format!("blocks up to height {height}"), committed }.into()
                        );
                    }
                }
                let stored_genesis =
                    load_block(&store, 0)?.ok_or_else(|| StoreError::Corrupt("genesis block missing".into()))?;
                if stored_genesis.header != genesis_header {
                    return Err(OpenError::WrongGenesis {
                        expected: genesis_header.hash(),
                        stored: stored_genesis.header.hash(),
                    });
                }
                let head = load_block(&store, height)?
                    .ok_or_else(|| StoreError::Corrupt(format!("block {height} missing")))?
                    .header;
                if store.get(&height_key(b'B', height + 1))?.is_some() {
                    return Err(StoreError::Corrupt(format!(
                        "block {} is stored above the committed height {height}",
                        height + 1
                    ))
                    .into());
                }
                let from = height.saturating_sub(Self::OPEN_VERIFIED_BLOCKS - 1).max(1);
                verify_stored_blocks(&store, &genesis.chain_id, from, height, false).map_err(|e| match e {
                    StoreError::Corrupt(m) => StoreError::Corrupt(format!(
                        "{m}; restore the data directory from a backup, or remove it to re-sync the chain from the network"
                    )),
                    e => e,
                })?;
                let mut state = State::default();
                for (k, v) in store.scan_prefix(b"S", usize::MAX)? {
                    state.load_entry(&k[1..], Some(&v)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                }
                state.rebuild_group_totals();
                invariants::check_all(&state).map_err(OpenError::Inconsistent)?;
                // A store written before totals were kept per block starts its history here.
                if store.get(&totals_key(height))?.is_none() {
                    let after = TotalsAfter {
                        all: state.meta().totals,
                        groups: state.group_totals().clone(),
                        tickets: BTreeMap::new(),
                    };
                    store.apply(totals_entries(height, &after)?)?;
                }
                // (Re)write the mark: a store made before marks existed, or whose mark was
                // removed, is protected from here on.
                store.record_high_water_mark(height)?;
                Ok(Ledger { store, genesis, state, head })
            }
        }
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.genesis.chain_id
    }

    /// The last committed header.
    pub fn head(&self) -> &BlockHeader {
        &self.head
    }

    /// The last committed height.
    pub fn height(&self) -> u64 {
        self.head.height
    }

    /// The state root after the last committed block.
    pub fn state_root(&self) -> Hash {
        self.head.state_root
    }

    /// The committed state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Ledger-wide values.
    pub fn meta(&self) -> Meta {
        self.state.meta()
    }

    /// The validator set that decides the next block.
    pub fn validators(&self) -> Vec<Validator> {
        self.state.validators().to_vec()
    }

    /// The next nonce `address` must use, if it is admitted.
    pub fn next_nonce(&self, address: &Address) -> Option<u64> {
        self.state.accounts.get(address).map(|a| a.nonce + 1)
    }

    /// Where a transaction was committed, if it was.
    pub fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>, StoreError> {
        let mut k = vec![b'X'];
        k.extend_from_slice(&id.0);
        self.store.get(&k)?.map(|v| dec(&v, "tx index")).transpose()
    }

    /// A committed block, checked before it is served: its transactions match their ids,
    /// `tx_count` and `tx_root`, and its header is the head or what the next stored block names
    /// as its parent. A damaged block (or a damaged successor) is an error, never an answer.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let Some(block) = load_block(&self.store, height)? else { return Ok(None) };
        check_block_body(&block, height, &self.genesis.chain_id)?;
        let expected = if height == self.head.height {
            self.head.hash()
        } else {
            load_header(&self.store, height + 1)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {} missing", height + 1)))?
                .prev_hash
        };
        if block.header.hash() != expected {
            return Err(StoreError::Corrupt(format!(
                "block {height} hashes to {}, but the chain names {expected} at that height (the block or its successor is damaged)",
                block.header.hash()
            )));
        }
        Ok(Some(block))
    }

    /// Checks the stored chain from `from` to `to` (both clamped to the committed height):
    /// every block present and decodable at its height, for this chain; its transactions
    /// matching their ids, `tx_count` and `tx_root`; its results stored, one per transaction,
    /// matching `results_root`; each block naming the previous one's hash; the newest one
    /// being the head; every transaction signature verifying. The state root is not
    /// recomputed (it chains the write sets of every block, which are not stored).
    /// [`Ledger::open`] runs these checks but the signatures over the newest
    /// [`Ledger::OPEN_VERIFIED_BLOCKS`]; `verify_chain(1, u64::MAX)` checks the whole chain.
    pub fn verify_chain(&self, from: u64, to: u64) -> Result<(), StoreError> {
        let to = to.min(self.head.height);
        let from = from.max(1);
        if from > to {
            return Ok(());
        }
        verify_stored_blocks(&self.store, &self.genesis.chain_id, from, to, true)?;
        if to == self.head.height {
            let top =
                load_header(&self.store, to)?.ok_or_else(|| StoreError::Corrupt(format!("block {to} missing")))?;
            if top != self.head {
                return Err(StoreError::Corrupt(format!("the stored block {to} is not the committed head")));
            }
        }
        Ok(())
    }

    /// The results of a committed block.
    pub fn results(&self, height: u64) -> Result<Option<Vec<TxResult>>, StoreError> {
        self.store.get(&height_key(b'Q', height))?.map(|v| dec(&v, "results")).transpose()
    }

    /// A committed transaction with its result and location.
    pub fn transaction(&self, id: &TxId) -> Result<Option<(SignedTx, TxResult, TxLocation)>, StoreError> {
        let Some(loc) = self.tx_location(id)? else { return Ok(None) };
        let block =
            self.block(loc.height)?.ok_or_else(|| StoreError::Corrupt(format!("block {} missing", loc.height)))?;
        let results =
            self.results(loc.height)?.ok_or_else(|| StoreError::Corrupt(format!("results {} missing", loc.height)))?;
        let i = loc.index as usize;
        match (block.txs.get(i), results.get(i)) {
            (Some(t), Some(r)) if t.id() == *id && r.tx == *id => Ok(Some((t.clone(), r.clone(), loc))),
            (Some(_), Some(_)) => Err(StoreError::Corrupt(format!(
                "transaction index of {id} points to another transaction in block {}",
                loc.height
            ))),
            _ => Err(StoreError::Corrupt(format!("transaction index points outside block {}", loc.height))),
        }
    }

    /// Ids of the transactions that concern `address`, newest first, at most `limit`.
    pub fn txs_of_account(&self, address: &Address, limit: usize) -> Result<Vec<(TxLocation, TxId)>, StoreError> {
        let mut prefix = vec![b'Y'];
        prefix.extend_from_slice(&address.0);
        let mut out = Vec::new();
        for (k, v) in self.store.scan_prefix_rev(&prefix, limit)? {
            let rest = &k[21..];
            if rest.len() != 12 || v.len() != 32 {
                return Err(StoreError::Corrupt("account transaction index entry".into()));
            }
            let height = u64::from_be_bytes(rest[..8].try_into().map_err(|_| StoreError::Corrupt("height".into()))?);
            let index = u32::from_be_bytes(rest[8..].try_into().map_err(|_| StoreError::Corrupt("index".into()))?);
            let id: [u8; 32] = v.as_slice().try_into().map_err(|_| StoreError::Corrupt("tx id".into()))?;
            let accepted = self.tx_location(&Hash(id))?.is_some_and(|l| l.accepted && l.height == height);
            out.push((TxLocation { height, index, accepted }, Hash(id)));
        }
        Ok(out)
    }

    /// Builds the next block from `candidates` (a proposer's job): leaves out transactions
    /// with bad signatures, repeats, those past the block limits, and those that fail the
    /// inclusion rule where they would stand (used or skipped nonces, which covers every
    /// transaction already included; unknown signers; other chains; expired); executes the
    /// rest and fills in the header. Nothing is committed.
    pub fn build_block(
        &mut self,
        time_ms: u64,
        proposer: Address,
        candidates: Vec<SignedTx>,
    ) -> Result<Executed, BlockError> {
        let p = &self.genesis.params;
        let items: Vec<Vec<u8>> = candidates.iter().map(SignedTx::signing_message).collect();
        let sig_ok = crypto::verify_signatures(
            &candidates
                .iter()
                .zip(&items)
                .map(|(t, m)| (t.public_key(), m.as_slice(), t.signature()))
                .collect::<Vec<_>>(),
        );
        let mut seen = BTreeSet::new();
        let mut txs = Vec::new();
        let mut bytes = 0u64;
        for (tx, ok) in candidates.into_iter().zip(sig_ok) {
            if !ok
                || tx.wire_size() > p.tx_bytes_max as usize
                || !seen.insert(tx.id())
                || self.next_nonce(&tx.body().signer).is_some_and(|n| tx.body().nonce < n)
            {
                continue;
            }
            if txs.len() >= p.block_txs_max as usize || bytes + tx.wire_size() as u64 > p.block_bytes_max {
                break;
            }
            bytes += tx.wire_size() as u64;
            txs.push(tx);
        }
        self.assemble(time_ms, proposer, txs)
    }

    /// Executes `txs` (whose signatures are known to verify) as the next block, leaving out
    /// those that fail the inclusion rule, and fills in its header.
    pub(crate) fn assemble(
        &mut self,
        time_ms: u64,
        proposer: Address,
        txs: Vec<SignedTx>,
    ) -> Result<Executed, BlockError> {
        let mut header = BlockHeader {
            chain_id: self.genesis.chain_id.clone(),
            height: self.head.height + 1,
            prev_hash: self.head.hash(),
            time_ms: time_ms.max(self.head.time_ms + 1),
            proposer,
            tx_root: Hash::ZERO,
            results_root: Hash::ZERO,
            state_root: Hash::ZERO,
            validator_set_hash: block::validator_set_hash(self.state.validators()),
            tx_count: 0,
        };
        let ok = vec![true; txs.len()];
        let (txs, results, writes, state_root) = self.run(&header, &txs, &ok, true)?;
        header.tx_root = block::tx_root(&txs);
        header.tx_count = txs.len() as u32;
        let header =
            BlockHeader { results_root: crypto::merkle_root(&block::result_leaves(&results)), state_root, ..header };
        Ok(Executed { block: Block { header, txs }, results, writes })
    }

    /// Checks and executes a proposed or synced block without committing it: every header
    /// field must match, every signature must verify, and the invariants must hold.
    pub fn execute(&mut self, block: &Block) -> Result<Executed, BlockError> {
        let h = &block.header;
        let p = &self.genesis.params;
        if h.chain_id != self.genesis.chain_id {
            return Err(BlockError::ChainId { expected: self.genesis.chain_id.clone(), got: h.chain_id.clone() });
        }
        if h.height != self.head.height + 1 {
            return Err(BlockError::Height { expected: self.head.height + 1, got: h.height });
        }
        if h.prev_hash != self.head.hash() {
            return Err(BlockError::PrevHash { expected: self.head.hash(), got: h.prev_hash });
        }
        if h.time_ms <= self.head.time_ms {
            return Err(BlockError::Time { prev: self.head.time_ms, got: h.time_ms });
        }
        let bytes: u64 = block.txs.iter().map(|t| t.wire_size() as u64).sum();
        if block.txs.len() > p.block_txs_max as usize || bytes > p.block_bytes_max {
            return Err(BlockError::TooLarge(format!("{} transactions, {bytes} bytes", block.txs.len())));
        }
        if let Some(t) = block.txs.iter().find(|t| t.wire_size() > p.tx_bytes_max as usize) {
            return Err(BlockError::TooLarge(format!("transaction {} is {} bytes", t.id(), t.wire_size())));
        }
        mismatch("tx_count", block.txs.len() as u32, h.tx_count)?;
        mismatch("tx_root", block::tx_root(&block.txs), h.tx_root)?;
        mismatch("validator_set_hash", block::validator_set_hash(self.state.validators()), h.validator_set_hash)?;
        let mut seen = BTreeSet::new();
        if let Some(t) = block.txs.iter().find(|t| !seen.insert(t.id())) {
            return Err(BlockError::DuplicateTx(t.id()));
        }
        let items: Vec<Vec<u8>> = block.txs.iter().map(SignedTx::signing_message).collect();
        let sig_ok = crypto::verify_signatures(
            &block
                .txs
                .iter()
                .zip(&items)
                .map(|(t, m)| (t.public_key(), m.as_slice(), t.signature()))
                .collect::<Vec<_>>(),
        );
        if let Some((t, _)) = block.txs.iter().zip(&sig_ok).find(|(_, ok)| !**ok) {
            return Err(BlockError::BadSignature(t.id()));
        }
        let (_, results, writes, state_root) = self.run(h, &block.txs, &sig_ok, false)?;
        mismatch("results_root", crypto::merkle_root(&block::result_leaves(&results)), h.results_root)?;
        mismatch("state_root", state_root, h.state_root)?;
        Ok(Executed { block: block.clone(), results, writes })
    }

    /// Runs the transactions on the state, checks the invariants, collects the write set and
    /// the new root, then rolls the state back: nothing changes until [`Ledger::commit`]. A
    /// transaction that fails the inclusion rule is left out with `leave_out` (a proposer
    /// building), and makes the block invalid without (a validator checking). Returns the
    /// transactions included.
    #[allow(clippy::type_complexity)]
    fn run(
        &mut self,
        header: &BlockHeader,
        txs: &[SignedTx],
        sig_ok: &[bool],
        leave_out: bool,
    ) -> Result<(Vec<SignedTx>, Vec<TxResult>, Batch, Hash), BlockError> {
        let env = Env {
            chain_id: &self.genesis.chain_id,
            params: &self.genesis.params,
            height: header.height,
            time_ms: header.time_ms,
        };
        let start = self.state.checkpoint();
        let mut included = Vec::with_capacity(txs.len());
        let mut results = Vec::with_capacity(txs.len());
        for (tx, ok) in txs.iter().zip(sig_ok) {
            match exec::apply_tx(&mut self.state, &env, tx, *ok) {
                Ok(outcome) => {
                    results.push(TxResult { tx: tx.id(), outcome });
                    included.push(tx.clone());
                }
                Err(_) if leave_out => {}
                Err(reason) => {
                    self.state.rollback(start);
                    return Err(BlockError::NotIncludable { tx: tx.id(), reason });
                }
            }
        }
        let writes = invariants::check_block(&self.state)
            .map_err(BlockError::Invariant)
            .and_then(|()| self.state.write_set().map_err(|e| BlockError::Invariant(e.to_string())));
        self.state.rollback(start);
        let writes = writes?;
        let root = next_state_root(&self.head.state_root, &writes);
        Ok((included, results, writes, root))
    }

    /// Commits an executed block in one atomic batch with `extra` entries (the node's commit
    /// certificate), then updates the in-memory state.
    pub fn commit(&mut self, executed: Executed, extra: Vec<(Vec<u8>, Vec<u8>)>) -> Result<BlockHeader, BlockError> {
        let Executed { block, results, writes } = executed;
        let h = &block.header;
        if h.height != self.head.height + 1 || h.prev_hash != self.head.hash() {
            return Err(BlockError::Height { expected: self.head.height + 1, got: h.height });
        }
        let after = self.state.totals_after(&writes).map_err(|e| BlockError::Invariant(e.to_string()))?;
        let mut batch = writes.clone();
        batch.extend(totals_entries(h.height, &after)?);
        for (i, (tx, result)) in block.txs.iter().zip(&results).enumerate() {
            // An included transaction uses its nonce, so its id is in no other block.
            let loc = TxLocation { height: h.height, index: i as u32, accepted: result.is_accepted() };
            let mut k = vec![b'X'];
            k.extend_from_slice(&tx.id().0);
            batch.push((k, Some(enc(&loc)?)));
            for a in tx.addresses() {
                let mut k = vec![b'Y'];
                k.extend_from_slice(&a.0);
                k.extend_from_slice(&h.height.to_be_bytes());
                k.extend_from_slice(&(i as u32).to_be_bytes());
                batch.push((k, Some(tx.id().0.to_vec())));
            }
        }
        batch.push((height_key(b'B', h.height), Some(enc(&block)?)));
        batch.push((height_key(b'Q', h.height), Some(enc(&results)?)));
        batch.push((KEY_HEIGHT.to_vec(), Some(h.height.to_be_bytes().to_vec())));
        for (k, v) in extra {
            batch.push((k, Some(v)));
        }
        self.store.apply(batch)?;
        for (k, v) in &writes {
            self.state.load_entry(&k[1..], v.as_deref()).map_err(|e| BlockError::Invariant(e.to_string()))?;
        }
        self.state.set_totals(&after);
        if self.state.meta().totals != after.all {
            return Err(BlockError::Invariant(format!(
                "the totals kept at commit {:?} differ from the state's {:?}",
                after.all,
                self.state.meta().totals
            )));
        }
        self.head = block.header.clone();
        // Only once the batch is durable: the mark never claims more than the store holds.
        self.store.record_high_water_mark(h.height)?;
        Ok(block.header)
    }

    /// Executes and commits a block (a follower applying a decided block).
    pub fn apply_block(
        &mut self,
        block: &Block,
        extra: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(BlockHeader, Vec<TxResult>), BlockError> {
        let executed = self.execute(block)?;
        let results = executed.results.clone();
        let header = self.commit(executed, extra)?;
        Ok((header, results))
    }

    /// Ledger-wide totals as they were after block `height`, `None` above the head or before
    /// the store kept totals per block.
    pub fn totals_at(&self, height: u64) -> Result<Option<Totals>, StoreError> {
        if height > self.head.height {
            return Ok(None);
        }
        self.store.get(&totals_key(height))?.map(|v| dec(&v, "totals")).transpose()
    }

    /// The totals of every (project, vintage) group as they were after block `height`
    /// (groups created later are absent). `project` limits it to one project.
    pub fn group_totals_at(
        &self,
        height: u64,
        project: Option<&str>,
    ) -> Result<BTreeMap<GroupKey, Totals>, StoreError> {
        let mut out = BTreeMap::new();
        if height > self.head.height {
            return Ok(out);
        }
        for (p, vintage) in self.state.group_totals().keys() {
            if project.is_some_and(|want| want != p) {
                continue;
            }
            let prefix = group_prefix(p, *vintage);
            if let Some((_, v)) = self.store.last_at_or_before(&prefix, &group_key(p, *vintage, height))? {
                out.insert((p.clone(), *vintage), dec(&v, "group totals")?);
            }
        }
        Ok(out)
    }

    /// Checks every invariant over the whole committed state.
    pub fn check_invariants(&self) -> Result<(), String> {
        invariants::check_all(&self.state)
    }

    /// Re-executes `tx` against the committed state as if it were in the next block, and
    /// reports the result without changing anything (mempool admission, dry runs).
    pub fn check_tx(&mut self, tx: &SignedTx) -> Result<(), Rejection> {
        let ok = tx.verify_signature();
        self.check_tx_signature_known(tx, ok)
    }

    /// [`Ledger::check_tx`] for a caller that has already verified the signature (a mempool
    /// that checks a batch of signatures at once): `signature_ok` is that verification's result.
    pub fn check_tx_signature_known(&mut self, tx: &SignedTx, signature_ok: bool) -> Result<(), Rejection> {
        let env = Env {
            chain_id: &self.genesis.chain_id,
            params: &self.genesis.params,
            height: self.head.height + 1,
            time_ms: self.head.time_ms + 1,
        };
        let start = self.state.checkpoint();
        let outcome = exec::apply_tx(&mut self.state, &env, tx, signature_ok);
        self.state.rollback(start);
        outcome.and_then(|o| o.map(|_| ()))
    }
}

fn mismatch<T: PartialEq + std::fmt::Display>(field: &'static str, expected: T, got: T) -> Result<(), BlockError> {
    if expected == got {
        Ok(())
    } else {
        Err(BlockError::Mismatch { field, expected: expected.to_string(), got: got.to_string() })
    }
}

fn load_block<S: Store>(store: &S, height: u64) -> Result<Option<Block>, StoreError> {
    let Some(bytes) = store.get(&height_key(b'B', height))? else { return Ok(None) };
    let block: Block = dec(&bytes, &format!("block {height}"))?;
    if block.header.height != height {
        return Err(StoreError::Corrupt(format!(
            "the block stored at height {height} says height {}",
            block.header.height
        )));
    }
    Ok(Some(block))
}

/// Only the header of a stored block (it comes first in the encoding).
fn load_header<S: Store>(store: &S, height: u64) -> Result<Option<BlockHeader>, StoreError> {
    let Some(bytes) = store.get(&height_key(b'B', height))? else { return Ok(None) };
    let (header, _): (BlockHeader, _) =
        postcard::take_from_bytes(&bytes).map_err(|e| StoreError::Corrupt(format!("block {height}: {e}")))?;
    if header.height != height {
        return Err(StoreError::Corrupt(format!("the block stored at height {height} says height {}", header.height)));
    }
    Ok(Some(header))
}

/// What a stored block says about itself: its height and chain, and its transactions against
/// their ids, `tx_count` and `tx_root`.
fn check_block_body(block: &Block, height: u64, chain_id: &str) -> Result<(), StoreError> {
    let h = &block.header;
    let corrupt = |what: String| Err(StoreError::Corrupt(format!("block {height}: {what}")));
    if h.height != height {
        return corrupt(format!("stored at height {height} but says height {}", h.height));
    }
    if h.chain_id != chain_id {
        return corrupt(format!("chain id {:?}, not {chain_id:?}", h.chain_id));
    }
    if h.tx_count as usize != block.txs.len() {
        return corrupt(format!("header counts {} transactions, {} are stored", h.tx_count, block.txs.len()));
    }
    if let Some((i, _)) = block.txs.iter().enumerate().find(|(_, t)| crypto::tx_id(t.body_bytes()) != t.id()) {
        return corrupt(format!("transaction {i} does not match its id"));
    }
    if block::tx_root(&block.txs) != h.tx_root {
        return corrupt("its transactions do not match the header's tx_root".into());
    }
    Ok(())
}

/// Checks stored blocks `from..=to` (`from` ≥ 1): each one's body and results, that each
/// names the hash of the block before it, and, if `signatures`, every transaction signature
/// (no header field covers them: `tx_root` is over the ids, which hash the bodies only).
fn verify_stored_blocks<S: Store>(
    store: &S,
    chain_id: &str,
    from: u64,
    to: u64,
    signatures: bool,
) -> Result<(), StoreError> {
    if from > to {
        return Ok(());
    }
    let missing = |h: u64| StoreError::Corrupt(format!("block {h} missing"));
    let mut prev = load_header(store, from - 1)?.ok_or_else(|| missing(from - 1))?.hash();
    for height in from..=to {
        let block = load_block(store, height)?.ok_or_else(|| missing(height))?;
        check_block_body(&block, height, chain_id)?;
        if block.header.prev_hash != prev {
            return Err(StoreError::Corrupt(format!(
                "block {height} does not extend block {}: it names {} as its parent, block {} hashes to {prev}",
                height - 1,
                block.header.prev_hash,
                height - 1
            )));
        }
        let results: Vec<TxResult> = store
            .get(&height_key(b'Q', height))?
            .map(|v| dec(&v, &format!("results of block {height}")))
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt(format!("results of block {height} missing")))?;
        if results.len() != block.txs.len() || results.iter().zip(&block.txs).any(|(r, t)| r.tx != t.id()) {
            return Err(StoreError::Corrupt(format!("results of block {height} do not match its transactions")));
        }
        if crypto::merkle_root(&block::result_leaves(&results)) != block.header.results_root {
            return Err(StoreError::Corrupt(format!(
                "results of block {height} do not match the header's results_root"
            )));
        }
        if signatures {
            let messages: Vec<Vec<u8>> = block.txs.iter().map(SignedTx::signing_message).collect();
            let items: Vec<_> =
                block.txs.iter().zip(&messages).map(|(t, m)| (t.public_key(), m.as_slice(), t.signature())).collect();
            if let Some(i) = crypto::verify_signatures(&items).iter().position(|ok| !ok) {
                return Err(StoreError::Corrupt(format!(
                    "block {height}: the signature of transaction {i} does not verify"
                )));
            }
        }
        prev = block.header.hash();
    }
    Ok(())
}

/// Puts the genesis accounts and validators into an empty state; returns its write set.
fn genesis_state(state: &mut State, genesis: &Genesis) -> Result<Batch, crate::state::CodecError> {
    for a in &genesis.authorities {
        let address = a.address();
        state.accounts.put(
            address,
            Account {
                address,
                role: Role::Authority,
                name: a.name.clone(),
                jurisdiction: a.jurisdiction.clone(),
                status: AccountStatus::Active,
                frozen: None,
                nonce: 0,
                admitted_by: address,
                admitted_at: 0,
            },
        );
    }
    state.set_meta(Meta { next_serial: 1, ..Meta::default() });
    state.validator_set.put(0, genesis.validator_set());
    state.write_set()
}
