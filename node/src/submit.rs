//! Admission of transactions into the mempool, their status, and forwarding to the validators.
//!
//! Admission checks, cheapest first: already committed (idempotent answer), already waiting,
//! size, signature, then the ledger's `check_tx` against the committed state (a nonce ahead of
//! the account's next one is let through, up to the mempool's window), then the mempool's own
//! limits. A transaction admitted here from a client is forwarded to every validator with a
//! gRPC endpoint, so whichever validator proposes next can include it.

use std::sync::{Arc, Mutex};

use bct_ledger::{Address, Rejection, SignedTx, TxId};
use bct_proto::pb;
use tokio::sync::mpsc;
use tonic::transport::Endpoint;
use tracing::{debug, info, warn};

use crate::chain::{Chain, NodeLedger};
use crate::mempool::{Inserted, Mempool, MempoolError};
use crate::metrics::Metrics;

/// Metadata key marking a submission forwarded by another node (not forwarded again).
pub const FORWARDED_HEADER: &str = "x-bct-forwarded";
/// Transactions queued for each forwarding target before new ones are dropped (the
/// transaction stays in the local mempool and is proposed when this node's turn comes).
const FORWARD_QUEUE_TXS_MAX: usize = 4096;
/// Forwarding calls (batches) in flight to one target.
const FORWARD_CONCURRENCY_MAX: usize = 4;
/// Most transactions in one `SubmitBatch` call (and in one forwarded batch).
pub const SUBMIT_BATCH_TXS_MAX: usize = 1000;
/// Bytes after which a forwarded batch is closed (well under the gRPC message limit).
const FORWARD_BATCH_BYTES_MAX: usize = 2 << 20;

/// Why a transaction was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Larger than the network allows.
    #[error("the transaction is {size} bytes; this network accepts at most {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The signature does not verify.
    #[error("the signature does not verify against the body bytes and signer_public_key (sign exactly the body bytes you send, after the domain tag)")]
    BadSignature,
    /// The ledger would reject it now.
    #[error("the ledger would reject this transaction: {0}")]
    Rejected(Rejection),
    /// The mempool refused it.
    #[error(transparent)]
    Mempool(#[from] MempoolError),
    /// While it waited, another transaction of its signer with the same nonce was committed.
    #[error(
        "nonce {nonce} was used by transaction {by} at height {height}; this transaction can no longer be included \
         (sign it again with the signer's next nonce if it is still wanted)"
    )]
    NonceUsed {
        /// The nonce.
        nonce: u64,
        /// The transaction that used it.
        by: TxId,
        /// Where.
        height: u64,
        /// The signer's next nonce now.
        next: u64,
    },
    /// The node failed.
    #[error("node error: {0}")]
    Internal(String),
}

impl SubmitError {
    /// A stable name of the refusal (`ErrorInfo.reason` in the gRPC status, the `reason`
    /// label of `bct_admission_refused_total`).
    pub fn reason(&self) -> &'static str {
        use crate::mempool::MempoolError;
        match self {
            SubmitError::TooLarge { .. } => "TX_TOO_LARGE",
            SubmitError::BadSignature => "BAD_SIGNATURE",
            SubmitError::Rejected(_) => "REJECTED",
            SubmitError::NonceUsed { .. } | SubmitError::Mempool(MempoolError::StaleNonce { .. }) => "NONCE_USED",
            SubmitError::Mempool(MempoolError::Full { .. }) => "MEMPOOL_FULL",
            SubmitError::Mempool(MempoolError::NonceTaken { .. }) => "NONCE_TAKEN",
            SubmitError::Mempool(MempoolError::NonceTooFarAhead { .. }) => "NONCE_TOO_FAR_AHEAD",
            SubmitError::Internal(_) => "INTERNAL",
        }
    }
}

/// Where a transaction is after admission.
#[derive(Debug, Clone, PartialEq)]
pub enum TxState {
    /// Waiting in the mempool.
    Pending,
    /// In a committed block.
    Committed(pb::Committed),
    /// Not known here.
    Unknown,
}

/// The `Committed` description of a committed transaction, if it is.
pub fn committed(ledger: &NodeLedger, id: &TxId) -> Result<Option<pb::Committed>, bct_ledger::StoreError> {
    let Some(loc) = ledger.tx_location(id)? else { return Ok(None) };
    let results = ledger.results(loc.height)?.unwrap_or_default();
    let time_ms = ledger.block(loc.height)?.map(|b| b.header.time_ms).unwrap_or_default();
    Ok(Some(pb::Committed {
        height: loc.height,
        index: loc.index,
        result: results.get(loc.index as usize).map(pb::TxResult::from),
        time_ms,
    }))
}

/// Sends admitted transactions to the validators' gRPC endpoints.
#[derive(Clone, Default)]
pub struct Forwarder {
    targets: Vec<(String, mpsc::Sender<pb::SignedTx>)>,
}

impl Forwarder {
    /// Starts one forwarding task per `(name, url)` target.
    pub fn start(
        targets: Vec<(String, String)>,
        tls: Option<&crate::tls::NodeTls>,
    ) -> Result<Forwarder, crate::NodeError> {
        let mut out = Vec::new();
        for (name, url) in targets {
            let mut endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| crate::NodeError::Config(format!("peer {name:?}: grpc {url:?} is not a URL: {e}")))?
                .connect_timeout(std::time::Duration::from_secs(5))
                .timeout(std::time::Duration::from_secs(10));
            if let Some(c) = crate::tls::client_for(&url, tls) {
                endpoint = endpoint
                    .tls_config(c)
                    .map_err(|e| crate::NodeError::Config(format!("peer {name:?}: TLS for {url:?}: {e}")))?;
            }
            let client = pb::transactions_client::TransactionsClient::new(endpoint.connect_lazy());
            let (tx, rx) = mpsc::channel::<pb::SignedTx>(FORWARD_QUEUE_TXS_MAX);
            let task_name = name.clone();
            tokio::spawn(async move {
                let mut rx = rx;
                let in_flight = Arc::new(tokio::sync::Semaphore::new(FORWARD_CONCURRENCY_MAX));
                // Whatever is queued goes in one batch (up to the batch limit).
                while let Some(first) = rx.recv().await {
                    let mut bytes = prost::Message::encoded_len(&first);
                    let mut txs = vec![first];
                    while txs.len() < SUBMIT_BATCH_TXS_MAX && bytes < FORWARD_BATCH_BYTES_MAX {
                        match rx.try_recv() {
                            Ok(t) => {
                                bytes += prost::Message::encoded_len(&t);
                                txs.push(t);
                            }
                            Err(_) => break,
                        }
                    }
                    let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                    let mut client = client.clone();
                    let name = task_name.clone();
                    tokio::spawn(async move {
                        let mut req = tonic::Request::new(pb::SubmitBatchRequest { txs });
                        req.metadata_mut().insert(FORWARDED_HEADER, tonic::metadata::MetadataValue::from_static("1"));
                        if let Err(status) = client.submit_batch(req).await {
                            debug!(peer = %name, "forwarding a batch failed: {}", status.message());
                        }
                        drop(permit);
                    });
                }
            });
            out.push((name, tx));
        }
        Ok(Forwarder { targets: out })
    }

    /// Queues `tx` for every target; a full queue drops it for that target.
    pub fn forward(&self, tx: &SignedTx) {
        if self.targets.is_empty() {
            return;
        }
        let signed = bct_proto::signed_tx_to_pb(tx);
        for (name, q) in &self.targets {
            if q.try_send(signed.clone()).is_err() {
                warn!(peer = %name, "forwarding queue full; the transaction waits for this node's turn to propose");
            }
        }
    }
}

/// Admission, status and waiting, shared by the gRPC services.
#[derive(Clone)]
pub struct Submitter {
    chain: Arc<Chain>,
    mempool: Arc<Mutex<Mempool>>,
    metrics: Arc<Metrics>,
    forwarder: Forwarder,
    arrived: Arc<tokio::sync::Notify>,
    /// Admissions allowed to wait for the ledger's write lock at once: the lock is fair, so
    /// a flood of submissions queued on it would make block building and commits wait behind
    /// all of them; the rest wait here instead, where consensus does not queue.
    admitting: Arc<tokio::sync::Semaphore>,
}

/// Admissions (single or batch) that may queue on the ledger's write lock at once.
pub const ADMISSIONS_AT_LOCK_MAX: usize = 4;

impl Submitter {
    /// A submitter over the node's chain and mempool; `arrived` is signalled on each new
    /// transaction (a waiting proposer listens).
    pub fn new(
        chain: Arc<Chain>,
        mempool: Arc<Mutex<Mempool>>,
        metrics: Arc<Metrics>,
        forwarder: Forwarder,
        arrived: Arc<tokio::sync::Notify>,
    ) -> Submitter {
        Submitter {
            chain,
            mempool,
            metrics,
            forwarder,
            arrived,
            admitting: Arc::new(tokio::sync::Semaphore::new(ADMISSIONS_AT_LOCK_MAX)),
        }
    }

    /// The chain.
    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// The nonce `signer`'s next transaction should use, counting its pending ones.
    pub fn next_nonce_after_pending(&self, signer: &Address, committed_next: u64) -> u64 {
        self.mempool.lock().map_or(committed_next, |m| m.next_nonce_after_pending(signer, committed_next))
    }

    /// Number of transactions waiting.
    pub fn mempool_len(&self) -> usize {
        self.mempool.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Admits `tx`; `forwarded` is true when another node sent it (it is not forwarded again).
    pub async fn submit(&self, tx: SignedTx, forwarded: bool) -> Result<TxState, SubmitError> {
        // One admission path for single transactions and batches: a batch of one.
        self.submit_batch(vec![tx], forwarded)
            .await
            .pop()
            .unwrap_or_else(|| Err(SubmitError::Internal("no answer for the transaction".into())))
    }

    /// Admits a batch: one signature batch verification, one pass under the ledger's write
    /// lock, one forwarding batch. One answer per transaction, in order.
    pub async fn submit_batch(&self, txs: Vec<SignedTx>, forwarded: bool) -> Vec<Result<TxState, SubmitError>> {
        let internal = |e: bct_ledger::StoreError| SubmitError::Internal(e.to_string());
        let mut answers: Vec<Option<Result<TxState, SubmitError>>> = Vec::with_capacity(txs.len());
        let ids: Vec<TxId> = txs.iter().map(SignedTx::id).collect();
        {
            let ledger = self.chain.read().await;
            let max = ledger.genesis().params.tx_bytes_max as usize;
            let mempool = self.mempool.lock().map_err(|_| SubmitError::Internal("mempool lock poisoned".into()));
            for (tx, id) in txs.iter().zip(&ids) {
                let answer = match ledger.tx_location(id) {
                    Err(e) => Some(Err(internal(e))),
                    // Included before, accepted or rejected: its one final outcome (it used its
                    // nonce, so no block may carry it again).
                    Ok(Some(_)) => Some(
                        committed(&ledger, id).map_err(internal).map(|c| TxState::Committed(c.unwrap_or_default())),
                    ),
                    Ok(_) if tx.wire_size() > max => Some(Err(SubmitError::TooLarge { size: tx.wire_size(), max })),
                    Ok(_) => match &mempool {
                        Ok(m) if m.contains(id) => Some(Ok(TxState::Pending)),
                        Ok(_) => None,
                        Err(_) => Some(Err(SubmitError::Internal("mempool lock poisoned".into()))),
                    },
                };
                answers.push(answer);
            }
        }
        // Signatures of the transactions still undecided, in one batch.
        let open: Vec<usize> = (0..txs.len()).filter(|i| answers[*i].is_none()).collect();
        let messages: Vec<Vec<u8>> = open.iter().map(|i| txs[*i].signing_message()).collect();
        let items: Vec<(&[u8; 32], &[u8], &[u8; 64])> = open
            .iter()
            .zip(&messages)
            .map(|(i, m)| (txs[*i].public_key(), m.as_slice(), txs[*i].signature()))
            .collect();
        let sig_ok = bct_ledger::crypto::verify_signatures(&items);
        for (i, ok) in open.iter().zip(sig_ok) {
            if !ok {
                answers[*i] = Some(Err(SubmitError::BadSignature));
            }
        }
        let mut admitted = Vec::new();
        {
            let Ok(_turn) = self.admitting.acquire().await else {
                return answers
                    .into_iter()
                    .map(|a| a.unwrap_or_else(|| Err(SubmitError::Internal("admission closed".into()))))
                    .collect();
            };
            // The write lock keeps the state `check_tx` sees and the next nonces in step.
            let mut ledger = self.chain.write().await;
            let mempool = self.mempool.lock();
            let Ok(mut mempool) = mempool else {
                return answers
                    .into_iter()
                    .map(|a| a.unwrap_or_else(|| Err(SubmitError::Internal("mempool lock poisoned".into()))))
                    .collect();
            };
            for (i, tx) in txs.into_iter().enumerate() {
                if answers[i].is_some() {
                    continue;
                }
                // The signature passed the batch verification above.
                let answer = match ledger.check_tx_signature_known(&tx, true) {
                    Ok(()) | Err(Rejection::FutureNonce { .. }) => {
                        let next = ledger.next_nonce(&tx.body().signer).unwrap_or(1);
                        match mempool.insert(tx.clone(), next) {
                            Ok(Inserted::New) => {
                                admitted.push(tx);
                                Ok(TxState::Pending)
                            }
                            Ok(Inserted::AlreadyPending) => Ok(TxState::Pending),
                            Err(e) => Err(SubmitError::Mempool(e)),
                        }
                    }
                    Err(r) => Err(SubmitError::Rejected(r)),
                };
                answers[i] = Some(answer);
            }
            self.metrics.mempool_txs.set(mempool.len() as i64);
            self.metrics.mempool_bytes.set(mempool.bytes() as i64);
        }
        if !admitted.is_empty() {
            self.arrived.notify_one();
            debug!(txs = admitted.len(), forwarded, "admitted a batch");
            if !forwarded {
                for tx in &admitted {
                    self.forwarder.forward(tx);
                }
            }
        }
        let answers: Vec<Result<TxState, SubmitError>> =
            answers.into_iter().map(|a| a.unwrap_or_else(|| Err(SubmitError::Internal("no answer".into())))).collect();
        for refused in answers.iter().filter_map(|a| a.as_ref().err()) {
            self.metrics.admission_refusal(refused.reason());
        }
        answers
    }

    /// Where `id` is.
    pub async fn status(&self, id: &TxId) -> Result<TxState, SubmitError> {
        if self.mempool.lock().map_err(|_| SubmitError::Internal("mempool lock poisoned".into()))?.contains(id) {
            return Ok(TxState::Pending);
        }
        let ledger = self.chain.read().await;
        match committed(&ledger, id).map_err(|e| SubmitError::Internal(e.to_string()))? {
            Some(c) => Ok(TxState::Committed(c)),
            None => Ok(TxState::Unknown),
        }
    }

    /// Submits and waits up to `wait` for the commit (then answers `Pending`).
    pub async fn submit_and_wait(
        &self,
        tx: SignedTx,
        forwarded: bool,
        wait: std::time::Duration,
    ) -> Result<TxState, SubmitError> {
        let id = tx.id();
        let (signer, nonce) = (tx.body().signer, tx.body().nonce);
        // Registered before admission, so a commit right after admission is not missed.
        let waiter = self.chain.wait_for(id).map_err(|e| SubmitError::Internal(e.to_string()))?;
        let state = self.submit(tx, forwarded).await;
        if !matches!(state, Ok(TxState::Pending)) {
            self.chain.forget_waiter(&id);
            return state;
        }
        // It may have been committed between admission and now, by an earlier submission.
        if let TxState::Committed(c) = self.status(&id).await? {
            self.chain.forget_waiter(&id);
            return Ok(TxState::Committed(c));
        }
        // Wait for the commit, and at each new height check whether another transaction took
        // the nonce (a same-nonce race lost on another node): then say so at once.
        let mut heights = self.chain.watch_height();
        let deadline = tokio::time::Instant::now() + wait;
        tokio::pin!(waiter);
        loop {
            tokio::select! {
                _ = &mut waiter => return self.status(&id).await,
                changed = heights.changed() => {
                    if changed.is_err() {
                        return self.status(&id).await;
                    }
                    if let Some(e) = self.nonce_used(&id, signer, nonce).await? {
                        self.chain.forget_waiter(&id);
                        return Err(e);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.chain.forget_waiter(&id);
                    info!(tx = %id, waited_ms = wait.as_millis() as u64, "transaction not committed within the wait");
                    return Ok(TxState::Pending);
                }
            }
        }
    }

    /// If `id` is not committed but its signer's `nonce` is used: which transaction used it.
    async fn nonce_used(&self, id: &TxId, signer: Address, nonce: u64) -> Result<Option<SubmitError>, SubmitError> {
        let internal = |e: bct_ledger::StoreError| SubmitError::Internal(e.to_string());
        let ledger = self.chain.read().await;
        if ledger.tx_location(id).map_err(internal)?.is_some() {
            return Ok(None);
        }
        let next = ledger.next_nonce(&signer).unwrap_or(0);
        if next <= nonce {
            return Ok(None);
        }
        // The signer's recent transactions, newest first: the one with this nonce.
        for (loc, other) in ledger.txs_of_account(&signer, 256).map_err(internal)? {
            if let Some((tx, _, _)) = ledger.transaction(&other).map_err(internal)? {
                if tx.body().signer == signer && tx.body().nonce == nonce {
                    return Ok(Some(SubmitError::NonceUsed { nonce, by: other, height: loc.height, next }));
                }
            }
        }
        Ok(None)
    }
}
