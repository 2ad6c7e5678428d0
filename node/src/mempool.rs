//! Transactions waiting for a block: bounded in count and bytes, one per id, ordered by nonce
//! per signer, handed to the proposer oldest-first, and purged as blocks commit.
//!
//! The mempool holds only transactions that passed admission (size, signature, and the
//! ledger's `check_tx` against the committed state, see `crate::node::Submitter`). A
//! transaction whose nonce is ahead of the signer's next nonce is kept (up to
//! [`MEMPOOL_NONCE_AHEAD_MAX`] ahead) so a client may send a burst without waiting for each
//! commit; the proposer only takes a signer's transactions while their nonces follow on.

use std::collections::{BTreeMap, HashMap};

use bct_ledger::{Address, SignedTx, TxId};

/// Most transactions in the mempool.
pub const MEMPOOL_TXS_MAX: usize = 10_000;
/// Most bytes (transaction wire size) in the mempool.
pub const MEMPOOL_BYTES_MAX: usize = 32 << 20;
/// How far past a signer's next nonce a transaction may be and still be admitted.
pub const MEMPOOL_NONCE_AHEAD_MAX: u64 = 16;

/// Limits of one mempool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Most transactions.
    pub txs_max: usize,
    /// Most bytes.
    pub bytes_max: usize,
    /// Largest distance between a transaction's nonce and its signer's next nonce.
    pub nonce_ahead_max: u64,
}

impl Default for MempoolLimits {
    fn default() -> MempoolLimits {
        MempoolLimits {
            txs_max: MEMPOOL_TXS_MAX,
            bytes_max: MEMPOOL_BYTES_MAX,
            nonce_ahead_max: MEMPOOL_NONCE_AHEAD_MAX,
        }
    }
}

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// No room.
    #[error(
        "the mempool is full ({txs} transactions, {bytes} bytes; limits {txs_max} and {bytes_max}); retry in a few seconds"
    )]
    Full {
        /// Held.
        txs: usize,
        /// Held.
        bytes: usize,
        /// Limit.
        txs_max: usize,
        /// Limit.
        bytes_max: usize,
    },
    /// Another transaction of the signer with this nonce is waiting.
    #[error("another transaction ({other}) with nonce {nonce} from {signer} is already waiting; use the next nonce")]
    NonceTaken {
        /// Signer.
        signer: Address,
        /// Nonce.
        nonce: u64,
        /// The waiting one.
        other: TxId,
    },
    /// Too far ahead.
    #[error(
        "nonce {got} is more than {max} ahead of the next nonce {expected} of {signer}; submit the earlier ones first"
    )]
    NonceTooFarAhead {
        /// Signer.
        signer: Address,
        /// Next valid nonce.
        expected: u64,
        /// In the transaction.
        got: u64,
        /// Window.
        max: u64,
    },
    /// Already used.
    #[error("nonce {got} was already used; the next nonce of {signer} is {expected}")]
    StaleNonce {
        /// Signer.
        signer: Address,
        /// Next valid nonce.
        expected: u64,
        /// In the transaction.
        got: u64,
    },
}

/// Whether an insert added the transaction or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Added.
    New,
    /// Already waiting (idempotent resubmission).
    AlreadyPending,
}

#[derive(Clone, Debug)]
struct Entry {
    signer: Address,
    nonce: u64,
}

#[derive(Clone, Debug)]
struct Waiting {
    seq: u64,
    tx: SignedTx,
}

/// The pool.
#[derive(Debug)]
pub struct Mempool {
    limits: MempoolLimits,
    by_id: HashMap<TxId, Entry>,
    by_signer: BTreeMap<Address, BTreeMap<u64, Waiting>>,
    bytes: usize,
    next_seq: u64,
}

impl Mempool {
    /// An empty mempool.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool { limits, by_id: HashMap::new(), by_signer: BTreeMap::new(), bytes: 0, next_seq: 0 }
    }

    /// Its limits.
    pub fn limits(&self) -> MempoolLimits {
        self.limits
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The nonce after `signer`'s pending transactions: from `committed_next` (the ledger's
    /// next nonce), past every consecutive nonce waiting here.
    pub fn next_nonce_after_pending(&self, signer: &Address, committed_next: u64) -> u64 {
        let mut next = committed_next;
        if let Some(queue) = self.by_signer.get(signer) {
            while queue.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// Whether `id` is waiting.
    pub fn contains(&self, id: &TxId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Adds an admitted transaction; `next_nonce` is its signer's next nonce in the committed state.
    pub fn insert(&mut self, tx: SignedTx, next_nonce: u64) -> Result<Inserted, MempoolError> {
        let id = tx.id();
        if self.by_id.contains_key(&id) {
            return Ok(Inserted::AlreadyPending);
        }
        let signer = tx.body().signer;
        let nonce = tx.body().nonce;
        if nonce < next_nonce {
            return Err(MempoolError::StaleNonce { signer, expected: next_nonce, got: nonce });
        }
        if nonce - next_nonce >= self.limits.nonce_ahead_max.max(1) {
            return Err(MempoolError::NonceTooFarAhead {
                signer,
                expected: next_nonce,
                got: nonce,
                max: self.limits.nonce_ahead_max.max(1) - 1,
            });
        }
        if let Some(other) = self.by_signer.get(&signer).and_then(|q| q.get(&nonce)) {
            return Err(MempoolError::NonceTaken { signer, nonce, other: other.tx.id() });
        }
        let size = tx.wire_size();
        if self.by_id.len() >= self.limits.txs_max || self.bytes + size > self.limits.bytes_max {
            return Err(MempoolError::Full {
                txs: self.by_id.len(),
                bytes: self.bytes,
                txs_max: self.limits.txs_max,
                bytes_max: self.limits.bytes_max,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += size;
        self.by_id.insert(id, Entry { signer, nonce });
        self.by_signer.entry(signer).or_default().insert(nonce, Waiting { seq, tx });
        Ok(Inserted::New)
    }

    /// The transactions a proposer should put in the next block, at most `txs_max` and
    /// `bytes_max`: for each signer the run of consecutive nonces from its next nonce, merged
    /// across signers by arrival (a signer's transactions stay in nonce order).
    pub fn reap(&self, txs_max: usize, bytes_max: usize, next_nonce: impl Fn(&Address) -> u64) -> Vec<SignedTx> {
        // Per signer: the ready run, as (arrival seq, tx), in nonce order.
        let mut runs: Vec<std::collections::VecDeque<&Waiting>> = Vec::new();
        for (signer, queue) in &self.by_signer {
            let first = next_nonce(signer);
            let run: std::collections::VecDeque<&Waiting> = (first..)
                .zip(queue.range(first..))
                .take_while(|(expected, (nonce, _))| *nonce == expected)
                .map(|(_, (_, w))| w)
                .collect();
            if !run.is_empty() {
                runs.push(run);
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // Merge: always take the head with the oldest arrival. Signers are few compared with
        // transactions, so a linear scan over the heads is cheap.
        while out.len() < txs_max {
            let Some((i, _)) =
                runs.iter().enumerate().filter_map(|(i, r)| r.front().map(|w| (i, w.seq))).min_by_key(|(_, s)| *s)
            else {
                break;
            };
            let Some(w) = runs[i].pop_front() else { break };
            let size = w.tx.wire_size();
            if bytes + size > bytes_max {
                // This signer's later nonces cannot follow a skipped one: drop its run.
                runs[i].clear();
                continue;
            }
            bytes += size;
            out.push(w.tx.clone());
        }
        out
    }

    /// Removes what a committed block settled: its transactions, transactions whose nonce is
    /// now used (`next_nonce` is read from the state after the block), and transactions that
    /// expired before `next_height`.
    pub fn purge(
        &mut self,
        committed: &[TxId],
        next_height: u64,
        next_nonce: impl Fn(&Address) -> Option<u64>,
    ) -> usize {
        let before = self.by_id.len();
        for id in committed {
            self.remove(id);
        }
        let mut stale = Vec::new();
        for (signer, queue) in &self.by_signer {
            let next = next_nonce(signer);
            for (nonce, w) in queue {
                let expiry = w.tx.body().expiry_height;
                let used = next.is_none_or(|n| *nonce < n);
                if used || (expiry != 0 && expiry < next_height) {
                    stale.push(w.tx.id());
                }
            }
        }
        for id in &stale {
            self.remove(id);
        }
        before - self.by_id.len()
    }

    fn remove(&mut self, id: &TxId) {
        let Some(e) = self.by_id.remove(id) else { return };
        if let Some(queue) = self.by_signer.get_mut(&e.signer) {
            if let Some(w) = queue.remove(&e.nonce) {
                self.bytes -= w.tx.wire_size();
            }
            if queue.is_empty() {
                self.by_signer.remove(&e.signer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bct_ledger::tx::{ReinstateAccount, TxBody, TxKind};
    use ed25519_dalek::SigningKey;

    fn tx(key: u8, nonce: u64) -> SignedTx {
        let sk = SigningKey::from_bytes(&[key; 32]);
        let signer = Address::from_public_key(&sk.verifying_key().to_bytes());
        let body = TxBody {
            chain_id: "test".into(),
            signer,
            nonce,
            expiry_height: 0,
            kind: TxKind::ReinstateAccount(ReinstateAccount { address: Address([nonce as u8; 20]) }),
        };
        bct_proto::sign(&sk, &body)
    }

    fn signer(t: &SignedTx) -> Address {
        t.body().signer
    }

    #[test]
    fn orders_by_nonce_per_signer_and_by_arrival_across_signers() {
        let mut m = Mempool::new(MempoolLimits::default());
        let (a2, a1, b1, a3) = (tx(1, 2), tx(1, 1), tx(2, 1), tx(1, 3));
        for t in [&a2, &a1, &b1, &a3] {
            assert_eq!(m.insert(t.clone(), 1), Ok(Inserted::New));
        }
        assert_eq!(m.insert(a2.clone(), 1), Ok(Inserted::AlreadyPending));
        let ids: Vec<TxId> = m.reap(100, usize::MAX, |_| 1).iter().map(SignedTx::id).collect();
        // The a-run is a1 (arrived 2nd), a2 (1st), a3 (4th); b1 arrived 3rd. Heads are compared
        // by arrival: a1 before b1, then a2 before b1, then b1 before a3.
        assert_eq!(ids, vec![a1.id(), a2.id(), b1.id(), a3.id()]);
        // A gap stops a signer's run.
        let only_b: Vec<TxId> =
            m.reap(100, usize::MAX, |s| if *s == signer(&a1) { 5 } else { 1 }).iter().map(SignedTx::id).collect();
        assert_eq!(only_b, vec![b1.id()]);
        assert_eq!(m.reap(2, usize::MAX, |_| 1).len(), 2);
    }

    #[test]
    fn refuses_with_reasons() {
        let limits = MempoolLimits { txs_max: 2, bytes_max: usize::MAX, nonce_ahead_max: 4 };
        let mut m = Mempool::new(limits);
        assert!(matches!(m.insert(tx(1, 0), 1), Err(MempoolError::StaleNonce { .. })));
        assert!(matches!(m.insert(tx(1, 5), 1), Err(MempoolError::NonceTooFarAhead { .. })));
        assert_eq!(m.insert(tx(1, 4), 1), Ok(Inserted::New));
        let mut other = tx(1, 4);
        // Same signer and nonce, different transaction.
        other = {
            let sk = SigningKey::from_bytes(&[1; 32]);
            let mut body = other.body().clone();
            body.expiry_height = 99;
            bct_proto::sign(&sk, &body)
        };
        assert!(matches!(m.insert(other, 1), Err(MempoolError::NonceTaken { nonce: 4, .. })));
        assert_eq!(m.insert(tx(2, 1), 1), Ok(Inserted::New));
        let full = m.insert(tx(3, 1), 1).expect_err("full");
        assert!(full.to_string().contains("mempool is full"), "{full}");
    }

    #[test]
    fn purge_removes_committed_stale_and_expired() {
        let mut m = Mempool::new(MempoolLimits::default());
        let (a1, a2, b1) = (tx(1, 1), tx(1, 2), tx(2, 1));
        for t in [&a1, &a2, &b1] {
            m.insert(t.clone(), 1).expect("insert");
        }
        let bytes = m.bytes();
        // a1 committed; b1's nonce got used by another transaction: both signers are at 2.
        let removed = m.purge(&[a1.id()], 2, |_| Some(2));
        assert_eq!(removed, 2);
        assert_eq!(m.len(), 1);
        assert!(m.contains(&a2.id()));
        assert_eq!(m.bytes(), bytes - a1.wire_size() - b1.wire_size());
    }
}
