//! The application side of Malachite: answers every message the engine sends (proposing
//! blocks, checking received ones, committing decisions, serving and checking synced blocks).
//!
//! The engine forwards its requests one at a time and waits for each reply, so every branch
//! below replies, and promptly: a missing reply stalls consensus. Block execution runs on
//! the blocking pool, holding the ledger's write lock for its duration.
//!
//! **Architecture invariant:** a block is committed (with its certificate, in one fsync'd
//! batch) before the engine is told so; a restarted node resumes at the stored height + 1.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bct_ledger::{Block, BlockError, Executed, TxId};
use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, Context, ExtendedCommitCertificate, LinearTimeouts, NilOrVal, Round, Validity, VoteExtensions,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, MisbehaviorEvidence, PeerId, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use prost::Message;
use tokio::sync::{mpsc, Notify};
use tracing::{debug, info, warn};

use super::certificate::{self, certificate_key};
use super::context::{BctContext, BlockId, Height, PartInit, ProposalPart, ValidatorAddress, ValidatorSet};
use super::fetch::BlockFetcher;
use super::guard::SignGuard;
use super::parts::{self, Assembler, CompleteStream};
use super::signing::{parts_sign_bytes, BctSigner};
use crate::chain::{Chain, NodeLedger};
use crate::error::NodeError;
use crate::mempool::Mempool;
use crate::metrics::Metrics;

/// How far in the future (by the local clock) a proposed block's time may be.
pub const BLOCK_TIME_FUTURE_MS_MAX: u64 = 5_000;
/// Heights ahead of ours whose proposals are kept until we get there.
const FUTURE_HEIGHTS_MAX: u64 = 2;
/// Proposals kept per future height.
const FUTURE_STREAMS_PER_HEIGHT_MAX: usize = 8;
/// Distinct blocks kept per (height, round): an honest proposer sends one.
const VALUES_PER_ROUND_MAX: usize = 2;
/// Most decided blocks in one value-sync response.
const SYNC_VALUES_MAX: u64 = 20;
/// How long peers are asked for a decided block this node does not have.
const FETCH_PATIENCE: Duration = Duration::from_secs(60);
/// Most bytes of blocks in one value-sync response (the engine refuses above 10 MiB).
const SYNC_RESPONSE_BYTES_MAX: usize = 8 << 20;

/// How the host paces and times consensus.
#[derive(Clone, Debug)]
pub struct HostParams {
    /// Longest time between blocks while no transaction waits. A proposer with nothing to
    /// propose waits up to this long after the previous block's time (and at most half its
    /// propose timeout); a proposer with transactions proposes at once.
    pub empty_block_interval: Duration,
    /// Round timeouts.
    pub timeouts: LinearTimeouts,
    /// Signalled when a transaction enters the mempool.
    pub tx_arrived: Arc<Notify>,
    /// The peers asked for a decided block this node does not have.
    pub fetcher: BlockFetcher,
}

/// The largest encoded block the node accepts, from the genesis block limits plus protobuf
/// framing (at most 16 bytes per transaction and 4 KiB for the header).
pub fn block_wire_bytes_max(params: &bct_ledger::Params) -> usize {
    (params.block_bytes_max as usize).saturating_add(params.block_txs_max as usize * 16).saturating_add(4096)
}

/// A block known for a height, checked or not.
struct Candidate {
    block: Block,
    encoded: Bytes,
    verdict: Verdict,
}

enum Verdict {
    /// Valid; the execution is kept (boxed: it holds the block's write set) until commit.
    Valid(Option<Box<Executed>>),
    Invalid,
}

impl Verdict {
    fn validity(&self) -> Validity {
        match self {
            Verdict::Valid(_) => Validity::Valid,
            Verdict::Invalid => Validity::Invalid,
        }
    }
}

/// The stored form of a proposal that is not decided yet, so that a restart can answer for it:
/// every block handed to the engine as a proposed value (our own, a peer's, a synced one) is
/// written and flushed before the engine learns of it, hence before any vote for it is signed
/// and before the engine's write-ahead log can name it.
#[derive(Clone, PartialEq, prost::Message)]
struct PendingProposal {
    #[prost(uint64, tag = "1")]
    height: u64,
    #[prost(int64, tag = "2")]
    round: i64,
    #[prost(int64, tag = "3")]
    pol_round: i64,
    #[prost(bytes = "vec", tag = "4")]
    proposer: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    signature: Vec<u8>,
    #[prost(bytes = "bytes", tag = "6")]
    block: Bytes,
    /// A decided block received by value sync (no stream signature: its certificate proves it).
    #[prost(bool, tag = "7")]
    synced: bool,
}

/// The consensus host.
pub struct Host {
    ctx: BctContext,
    chain: Arc<Chain>,
    mempool: Arc<Mutex<Mempool>>,
    metrics: Arc<Metrics>,
    me: ValidatorAddress,
    signer: Option<BctSigner>,
    network: mpsc::Sender<NetworkMsg<BctContext>>,
    params: HostParams,
    block_wire_bytes_max: usize,
    height: Height,
    validators: ValidatorSet,
    assembler: Assembler,
    candidates: BTreeMap<(u64, BlockId), Candidate>,
    proposals: BTreeMap<(u64, i64), Vec<ProposedValue<BctContext>>>,
    streamed: BTreeMap<(u64, i64, BlockId), Vec<ProposalPart>>,
    future: BTreeMap<u64, Vec<CompleteStream>>,
    pending: sled::Tree,
    guard: SignGuard,
    stream_seq: u64,
    last_block_time_ms: Option<u64>,
    progress: Progress,
    #[cfg(feature = "byzantine")]
    misbehaviour: Option<Arc<super::byzantine::Misbehaviour>>,
}

/// The log target of the per-block lines (`proposing block`, `committed block`), at DEBUG:
/// `RUST_LOG=info,bct_node::blocks=debug` shows every block; at INFO a node says
/// [`PROGRESS_EVERY`] what it committed.
pub const BLOCKS_TARGET: &str = "bct_node::blocks";
/// How often the node logs a summary of the blocks it committed.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(60);

/// What was committed since the last progress line.
struct Progress {
    since: std::time::Instant,
    blocks: u64,
    txs: u64,
    first_said: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress { since: std::time::Instant::now(), blocks: 0, txs: 0, first_said: false }
    }

    /// Counts a committed block; logs the first one since start, then a summary every
    /// [`PROGRESS_EVERY`].
    fn committed(&mut self, height: u64, txs: u64, mempool: usize) {
        self.blocks += 1;
        self.txs += txs;
        if !self.first_said {
            self.first_said = true;
            info!(height, "committed the first block since start; from now on a summary every minute");
        } else if self.since.elapsed() >= PROGRESS_EVERY {
            let secs = self.since.elapsed().as_secs().max(1);
            info!(
                height,
                blocks = self.blocks,
                txs = self.txs,
                seconds = secs,
                mempool,
                "committed {} block(s) and {} transaction(s) in the last {secs} s",
                self.blocks,
                self.txs
            );
            *self = Progress { since: std::time::Instant::now(), blocks: 0, txs: 0, first_said: true };
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn fatal(what: &str, e: impl std::fmt::Display) -> NodeError {
    NodeError::Fatal(format!("{what}: {e}"))
}

/// A vote's value for the log: the full block id (evidence must be exact), or `nil`.
fn vote_value(v: &NilOrVal<BlockId>) -> String {
    match v {
        NilOrVal::Nil => "nil".into(),
        NilOrVal::Val(id) => id.0.to_string(),
    }
}

/// Logs, at `WARN`, the equivocations the engine saw while deciding `height`: two different
/// votes (same height, round and type) or two different proposals (same height and round), each
/// validly signed by the same validator. Each pair is evidence against that validator; the engine
/// also counts them (`malachitebft_core_consensus_equivocation_votes_total` and
/// `..._equivocation_proposals_total` on `/metrics`).
fn report_equivocations(height: Height, evidence: &MisbehaviorEvidence<BctContext>) {
    for (validator, pairs) in evidence.votes.iter() {
        for (first, second) in pairs {
            let (a, b) = (&first.message, &second.message);
            warn!(
                %height,
                round = %a.round,
                vote_type = ?a.vote_type,
                %validator,
                first = %vote_value(&a.value),
                second = %vote_value(&b.value),
                "equivocation: validator signed two different votes for the same height, round and type"
            );
        }
    }
    for (validator, pairs) in evidence.proposals.iter() {
        for (first, second) in pairs {
            let (a, b) = (&first.message, &second.message);
            warn!(
                %height,
                round = %a.round,
                %validator,
                first = %a.value.0,
                second = %b.value.0,
                "equivocation: validator signed two different proposals for the same height and round"
            );
        }
    }
}

impl Host {
    /// A host for the node `me`, voting with `signer` if it is a validator.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain: Arc<Chain>,
        mempool: Arc<Mutex<Mempool>>,
        metrics: Arc<Metrics>,
        me: ValidatorAddress,
        signer: Option<BctSigner>,
        network: mpsc::Sender<NetworkMsg<BctContext>>,
        params: HostParams,
    ) -> Result<Host, NodeError> {
        let pending = chain.db().open_tree(b"consensus-pending").map_err(|e| NodeError::Storage(e.to_string()))?;
        let guard = SignGuard::open(chain.db()).map_err(|e| NodeError::Storage(e.to_string()))?;
        let block_wire_bytes_max = block_wire_bytes_max(&chain.genesis().params);
        let validators =
            ValidatorSet::from_ledger(&chain.genesis().validator_set()).map_err(|e| fatal("genesis", e))?;
        Ok(Host {
            ctx: BctContext,
            chain,
            mempool,
            metrics,
            me,
            signer,
            network,
            params,
            block_wire_bytes_max,
            height: Height(0),
            validators,
            assembler: Assembler::new(block_wire_bytes_max),
            candidates: BTreeMap::new(),
            proposals: BTreeMap::new(),
            streamed: BTreeMap::new(),
            future: BTreeMap::new(),
            pending,
            guard,
            // Unique stream ids across restarts without storing a counter.
            stream_seq: now_ms() << 16,
            last_block_time_ms: None,
            progress: Progress::new(),
            #[cfg(feature = "byzantine")]
            misbehaviour: None,
        })
    }

    /// Makes this host misbehave as configured (fault tests only).
    #[cfg(feature = "byzantine")]
    pub fn with_misbehaviour(mut self, misbehaviour: Option<Arc<super::byzantine::Misbehaviour>>) -> Host {
        self.misbehaviour = misbehaviour;
        self
    }

    /// Answers the engine until it stops. Returns only on a fatal error or when the engine
    /// closes its channel.
    pub async fn run(mut self, channels: &mut Channels<BctContext>) -> Result<(), NodeError> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg).await?;
        }
        Err(NodeError::Engine("the consensus engine stopped".into()))
    }

    async fn handle(&mut self, msg: AppMsg<BctContext>) -> Result<(), NodeError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let start = self.on_ready().await?;
                info!(height = %start, "consensus ready, starting at the stored height + 1");
                let _ = reply.send((start, self.height_params()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                #[cfg(feature = "byzantine")]
                if self.misbehaviour.as_ref().is_some_and(|m| m.floods_proposal_parts(height, round)) {
                    self.flood_proposal_parts(height, round).await;
                }
                let values = self.on_started_round(height, round).await?;
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                let value = self.on_get_value(height, round, timeout).await?;
                let _ = reply.send(LocallyProposedValue::new(height, round, value));
                self.publish_own(height, round, Round::Nil, value).await;
            }
            AppMsg::ExtendVote { reply, .. } => {
                // Vote extensions are disabled (policy `Disabled`): nothing to add.
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                self.on_restream(height, round, valid_round, address, value_id).await;
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                // Every block is kept.
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let value = self.on_part(published_by.unwrap_or(from), part).await?;
                let _ = reply.send(value);
            }
            AppMsg::Decided { certificate, extensions: _, reply } => {
                self.on_decided(certificate).await?;
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, extensions: _, evidence, reply } => {
                report_equivocations(certificate.height, &evidence);
                let next = self.on_finalized(certificate).await?;
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = self.decided_values(range.start().0, range.end().0).await?;
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let outcome = self.on_synced_value(height, round, proposer, value_bytes).await?;
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    fn height_params(&self) -> HeightParams<BctContext> {
        // No target time: a decided height is finalized at once; pacing is the proposer's
        // (see `wait_for_transactions`).
        HeightParams::new(self.validators.clone(), self.params.timeouts, None)
    }

    /// Reloads the validator set that decides the next block.
    async fn refresh_validators(&mut self) -> Result<(), NodeError> {
        let validators = self.chain.read().await.validators();
        self.validators = ValidatorSet::from_ledger(&validators).map_err(|e| fatal("validator set", e))?;
        Ok(())
    }

    async fn on_ready(&mut self) -> Result<Height, NodeError> {
        let (height, time_ms) = {
            let ledger = self.chain.read().await;
            (ledger.height(), ledger.head().time_ms)
        };
        self.last_block_time_ms = Some(time_ms);
        self.refresh_validators().await?;
        self.height = Height(height + 1);
        self.metrics.height.set(height as i64);
        // Blocks stored before a restart: the engine may replay them from its WAL.
        let mut restored = 0;
        for item in self.pending.scan_prefix(self.height.0.to_be_bytes()) {
            let (_, v) = item.map_err(|e| NodeError::Storage(e.to_string()))?;
            let p = PendingProposal::decode(v.as_ref())
                .map_err(|e| NodeError::Storage(format!("an undecided block stored before the restart: {e}")))?;
            if self.restore(p).await? {
                restored += 1;
            }
        }
        if restored > 0 {
            info!(height = %self.height, restored, "restored undecided proposals from before the restart");
        }
        Ok(self.height)
    }

    /// Takes back a block stored before a restart; whether it was for this height and sound.
    async fn restore(&mut self, p: PendingProposal) -> Result<bool, NodeError> {
        let (Ok(proposer), Ok(signature)) =
            (<[u8; 20]>::try_from(p.proposer.as_slice()), <[u8; 64]>::try_from(p.signature.as_slice()))
        else {
            return Ok(false);
        };
        let proposer = ValidatorAddress(bct_ledger::Address(proposer));
        let (height, round) = (Height(p.height), Round::from(p.round));
        if p.synced {
            let Ok(block) = bct_proto::decode_block(&p.block, self.block_wire_bytes_max) else { return Ok(false) };
            let id = BlockId(block.hash());
            let validity = self.check(height, id, block, p.block, None, false).await?;
            self.remember(ProposedValue { height, round, valid_round: Round::Nil, proposer, value: id, validity });
            return Ok(true);
        }
        let init = PartInit { height, round, pol_round: Round::from(p.pol_round), proposer };
        let signature = malachitebft_signing_ed25519::Signature::from_bytes(signature);
        let stream =
            CompleteStream { parts: parts::split(init.clone(), &p.block, signature), init, data: p.block, signature };
        Ok(self.accept_stream(stream, false).await?.is_some())
    }

    async fn on_started_round(
        &mut self,
        height: Height,
        round: Round,
    ) -> Result<Vec<ProposedValue<BctContext>>, NodeError> {
        self.metrics.round.set(round.as_i64());
        if height != self.height {
            self.height = height;
        }
        // Proposals that arrived while we were behind.
        if let Some(streams) = self.future.remove(&height.0) {
            for s in streams {
                self.accept_stream(s, true).await?;
            }
        }
        self.future.retain(|h, _| *h > height.0);
        Ok(self.proposals.get(&(height.0, round.as_i64())).cloned().unwrap_or_default())
    }

    /// Our block for (height, round): the one already built for it, or a new one from the mempool.
    async fn on_get_value(&mut self, height: Height, round: Round, timeout: Duration) -> Result<BlockId, NodeError> {
        let own = self
            .proposals
            .get(&(height.0, round.as_i64()))
            .and_then(|vs| vs.iter().find(|v| v.proposer == self.me))
            .map(|v| v.value);
        if let Some(id) = own {
            return Ok(id);
        }
        if round.as_i64() == 0 {
            self.wait_for_transactions(timeout).await?;
        }
        let started = Instant::now();
        let params = self.chain.genesis().params.clone();
        let mut ledger = self.chain.write().await;
        let candidates = {
            let mempool = self.mempool.lock().map_err(|_| NodeError::Poisoned("mempool"))?;
            mempool.reap(params.block_txs_max as usize, params.block_bytes_max as usize, |a| {
                ledger.next_nonce(a).unwrap_or(1)
            })
        };
        let me = self.me.0;
        let executed = tokio::task::spawn_blocking(move || ledger.build_block(now_ms(), me, candidates))
            .await
            .map_err(|e| fatal("building a block", e))?
            .map_err(|e| fatal("building a block", e))?;
        #[cfg(feature = "byzantine")]
        if self.misbehaviour.as_ref().is_some_and(|m| m.proposes_invalid_block(height, round)) {
            return Ok(self.propose_invalid(height, round, executed.block));
        }
        let id = BlockId(executed.hash());
        let block = executed.block.clone();
        debug!(target: BLOCKS_TARGET, %height, %round, block = %id, txs = block.txs.len(), took_ms = started.elapsed().as_millis() as u64, "proposing block");
        if started.elapsed() > timeout {
            warn!(%height, %round, "building the block took longer than the propose timeout");
        }
        let encoded = Bytes::from(bct_proto::encode_block(&block));
        // Durable before the engine learns of it (and so before it signs anything for it).
        if let Some(signer) = &self.signer {
            let init = PartInit { height, round, pol_round: Round::Nil, proposer: self.me };
            let signature = signer.sign_parts(height, round, Round::Nil, &id, &self.me);
            self.persist(&init, &id, &signature, &encoded, false).await?;
        }
        self.candidates
            .insert((height.0, id), Candidate { block, encoded, verdict: Verdict::Valid(Some(Box::new(executed))) });
        let pv = ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.me,
            value: id,
            validity: Validity::Valid,
        };
        self.remember(pv);
        Ok(id)
    }

    /// Byzantine: proposal streams that try to get past the assembler's memory limits, for
    /// (height, round): more streams than one publisher may hold, a sequence number resent
    /// with bigger and bigger payloads, a part larger than a part may be, and streams of
    /// distinct parts past the block size, none of them ever finished.
    #[cfg(feature = "byzantine")]
    async fn flood_proposal_parts(&mut self, height: Height, round: Round) {
        use super::byzantine::{FLOOD_RESENDS, FLOOD_STREAMS};
        let init = ProposalPart::Init(PartInit { height, round, pol_round: Round::Nil, proposer: self.me });
        let full = Bytes::from(vec![0xB7; parts::PART_DATA_BYTES_MAX]);
        let mut messages = 0usize;
        let mut bytes = 0usize;
        for k in 0..FLOOD_STREAMS {
            self.stream_seq += 1;
            let mut id = Vec::with_capacity(20);
            id.extend_from_slice(&height.0.to_be_bytes());
            id.extend_from_slice(&round.as_u32().unwrap_or(0).to_be_bytes());
            id.extend_from_slice(&self.stream_seq.to_be_bytes());
            let stream_id = StreamId::new(Bytes::from(id));
            let mut stream: Vec<(u64, ProposalPart)> = vec![(0, init.clone())];
            match k % 3 {
                // The same sequence number again and again, each time bigger (up to a part).
                0 => {
                    for r in 1..=FLOOD_RESENDS {
                        let len = parts::PART_DATA_BYTES_MAX * r / FLOOD_RESENDS;
                        stream.push((1, ProposalPart::Data(full.slice(..len.max(1)))));
                    }
                }
                // One part larger than a part may be.
                1 => stream.push((1, ProposalPart::Data(Bytes::from(vec![0xB7; 2 * parts::PART_DATA_BYTES_MAX])))),
                // Distinct full parts until past the block size limit; never a Fin.
                _ => {
                    let n = (self.block_wire_bytes_max / parts::PART_DATA_BYTES_MAX + 2) as u64;
                    for seq in 1..=n {
                        stream.push((seq, ProposalPart::Data(full.clone())));
                    }
                }
            }
            for (seq, part) in stream {
                bytes += match &part {
                    ProposalPart::Data(d) => d.len(),
                    _ => 0,
                };
                messages += 1;
                let msg = StreamMessage::new(
                    stream_id.clone(),
                    seq,
                    malachitebft_app_channel::app::streaming::StreamContent::Data(part),
                );
                if self.network.send(NetworkMsg::PublishProposalPart(msg)).await.is_err() {
                    return;
                }
            }
        }
        warn!(%height, %round, streams = FLOOD_STREAMS, messages, bytes, "BYZANTINE: flooding proposal parts");
    }

    /// Byzantine: our proposal for (height, round) is `block` with a wrong state root.
    #[cfg(feature = "byzantine")]
    fn propose_invalid(&mut self, height: Height, round: Round, mut block: Block) -> BlockId {
        super::byzantine::corrupt_state_root(&mut block);
        let id = BlockId(block.hash());
        warn!(%height, %round, block = %id, "BYZANTINE: proposing a block with a wrong state root");
        let encoded = Bytes::from(bct_proto::encode_block(&block));
        // Invalid for us too: should it ever be decided, re-execution fails and the node stops.
        self.candidates.insert((height.0, id), Candidate { block, encoded, verdict: Verdict::Invalid });
        self.remember(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.me,
            value: id,
            validity: Validity::Valid,
        });
        id
    }

    /// Waits until a transaction is ready to propose, or the empty-block interval after the
    /// previous block's time has passed (never more than half the propose timeout, so the
    /// other validators do not give up on this proposer).
    async fn wait_for_transactions(&self, timeout: Duration) -> Result<(), NodeError> {
        let head_time_ms = self.chain.read().await.head().time_ms;
        let due_ms = head_time_ms.saturating_add(self.params.empty_block_interval.as_millis() as u64);
        let wait = Duration::from_millis(due_ms.saturating_sub(now_ms())).min(timeout / 2);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.params.tx_arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if tokio::time::Instant::now() >= deadline || self.has_ready_transactions().await? {
                return Ok(());
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Whether the mempool holds a transaction that can go into the next block.
    async fn has_ready_transactions(&self) -> Result<bool, NodeError> {
        let ledger = self.chain.read().await;
        let mempool = self.mempool.lock().map_err(|_| NodeError::Poisoned("mempool"))?;
        if mempool.is_empty() {
            return Ok(false);
        }
        Ok(!mempool.reap(1, usize::MAX, |a| ledger.next_nonce(a).unwrap_or(1)).is_empty())
    }

    /// Streams our proposal of `id` at (height, round), signing its parts.
    async fn publish_own(&mut self, height: Height, round: Round, pol_round: Round, id: BlockId) {
        let Some(signer) = &self.signer else { return };
        let Some(c) = self.candidates.get(&(height.0, id)) else {
            warn!(%height, %round, block = %id, "cannot stream a block we do not have");
            return;
        };
        let init = PartInit { height, round, pol_round, proposer: self.me };
        let signature = signer.sign_parts(height, round, pol_round, &id, &self.me);
        // The block is durable already: it was stored when built, received or synced.
        let data = c.encoded.clone();
        let parts = parts::split(init, &data, signature);
        self.streamed.insert((height.0, round.as_i64(), id), parts.clone());
        self.publish(height, round, &parts).await;
    }

    async fn publish(&mut self, height: Height, round: Round, parts: &[ProposalPart]) {
        self.stream_seq += 1;
        let mut id = Vec::with_capacity(20);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_u32().unwrap_or(0).to_be_bytes());
        id.extend_from_slice(&self.stream_seq.to_be_bytes());
        for msg in parts::stream_messages(StreamId::new(Bytes::from(id)), parts) {
            if self.network.send(NetworkMsg::PublishProposalPart(msg)).await.is_err() {
                warn!("the network stopped; proposal parts not published");
                return;
            }
        }
    }

    async fn on_restream(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        address: ValidatorAddress,
        id: BlockId,
    ) {
        if let Some(parts) = self.streamed.get(&(height.0, round.as_i64(), id)).cloned() {
            // The original stream, with its proposer's signature.
            self.publish(height, round, &parts).await;
        } else if address == self.me {
            // Our re-proposal of a block first proposed in `valid_round`.
            self.publish_own(height, round, valid_round, id).await;
        } else {
            warn!(%height, %round, block = %id, "asked to restream a proposal we do not have");
        }
    }

    async fn on_part(
        &mut self,
        publisher: PeerId,
        part: StreamMessage<ProposalPart>,
    ) -> Result<Option<ProposedValue<BctContext>>, NodeError> {
        let pushed = self.assembler.push(publisher, part);
        self.metrics.proposal_stream_bytes.set(i64::try_from(self.assembler.bytes_held()).unwrap_or(i64::MAX));
        let stream = match pushed {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(None),
            Err(e) => {
                warn!(%publisher, "dropped a proposal stream: {e}");
                return Ok(None);
            }
        };
        let h = stream.init.height.0;
        if h < self.height.0 {
            return Ok(None);
        }
        if h > self.height.0 {
            if h <= self.height.0 + FUTURE_HEIGHTS_MAX {
                let list = self.future.entry(h).or_default();
                if list.len() < FUTURE_STREAMS_PER_HEIGHT_MAX {
                    list.push(stream);
                }
            }
            return Ok(None);
        }
        self.accept_stream(stream, true).await
    }

    /// Authenticates a complete stream for the current height, checks its block, and
    /// records the proposed value. `None` if the stream is not the round proposer's.
    async fn accept_stream(
        &mut self,
        stream: CompleteStream,
        persist: bool,
    ) -> Result<Option<ProposedValue<BctContext>>, NodeError> {
        let CompleteStream { init, data, signature, parts } = stream;
        let (height, round) = (init.height, init.round);
        if height != self.height {
            return Ok(None);
        }
        let proposer = self.ctx.select_proposer(&self.validators, height, round).clone();
        if init.proposer != proposer.address {
            warn!(%height, %round, claimed = %init.proposer, expected = %proposer.address, "proposal stream not from the round's proposer");
            return Ok(None);
        }
        let block = match bct_proto::decode_block(&data, self.block_wire_bytes_max) {
            Ok(b) => b,
            Err(e) => {
                warn!(%height, %round, %proposer.address, "undecodable proposed block: {e}");
                return Ok(None);
            }
        };
        let id = BlockId(block.hash());
        let signed = parts_sign_bytes(self.chain.chain_id(), height, round, init.pol_round, &id, &proposer.address);
        if proposer.public_key.verify(&signed, &signature).is_err() {
            warn!(%height, %round, %proposer.address, "proposal stream signature does not verify");
            return Ok(None);
        }
        let per_round = self.proposals.get(&(height.0, round.as_i64())).map_or(0, Vec::len);
        let known = self.candidates.contains_key(&(height.0, id));
        if !known && per_round >= VALUES_PER_ROUND_MAX {
            warn!(%height, %round, %proposer.address, "proposer sent more than one block for the round; ignoring more");
            return Ok(None);
        }
        // A fresh proposal's block names its proposer; a re-proposal carries the block of an
        // earlier round's proposer.
        let expected_builder = init.pol_round.is_nil().then_some(proposer.address);
        let validity = self.check(height, id, block, data.clone(), expected_builder, true).await?;
        // Durable before the engine learns of it: it may vote for this block, lock on it and
        // have to re-propose it, after any number of restarts. (An invalid block gets only nil
        // votes: the engine's write-ahead log keeps its verdict.)
        if persist && validity == Validity::Valid {
            self.persist(&init, &id, &signature, &data, false).await?;
        }
        self.streamed.insert((height.0, round.as_i64(), id), parts);
        let pv = ProposedValue {
            height,
            round,
            valid_round: init.pol_round,
            proposer: proposer.address,
            value: id,
            validity,
        };
        self.remember(pv.clone());
        Ok(Some(pv))
    }

    /// Checks a block for the current height (once per block id) and keeps it.
    async fn check(
        &mut self,
        height: Height,
        id: BlockId,
        block: Block,
        encoded: Bytes,
        builder: Option<ValidatorAddress>,
        check_time: bool,
    ) -> Result<Validity, NodeError> {
        if let Some(c) = self.candidates.get(&(height.0, id)) {
            return Ok(c.verdict.validity());
        }
        let h = &block.header;
        let problem = if h.height != height.0 {
            Some(format!("block height {} is not {height}", h.height))
        } else if builder.is_some_and(|b| b.0 != h.proposer) {
            Some(format!("block proposer {} is not the round's proposer", h.proposer))
        } else if self.validators.get(&ValidatorAddress(h.proposer)).is_none() {
            Some(format!("block proposer {} is not a validator", h.proposer))
        } else if check_time && h.time_ms > now_ms() + BLOCK_TIME_FUTURE_MS_MAX {
            Some(format!("block time {} ms is more than {BLOCK_TIME_FUTURE_MS_MAX} ms ahead of our clock", h.time_ms))
        } else {
            None
        };
        let verdict = match problem {
            Some(p) => {
                warn!(%height, block = %id, "invalid block: {p}");
                Verdict::Invalid
            }
            None => match self.execute(block.clone()).await? {
                Ok(executed) => Verdict::Valid(Some(Box::new(executed))),
                Err(e) => {
                    warn!(%height, block = %id, "invalid block: {e}");
                    Verdict::Invalid
                }
            },
        };
        let validity = verdict.validity();
        self.candidates.insert((height.0, id), Candidate { block, encoded, verdict });
        Ok(validity)
    }

    /// Executes a block against the committed state. The outer error is a local failure
    /// (storage, invariant: the node must stop), the inner one an invalid block.
    async fn execute(&self, block: Block) -> Result<Result<Executed, BlockError>, NodeError> {
        let mut ledger = self.chain.write().await;
        let result = tokio::task::spawn_blocking(move || ledger.execute(&block))
            .await
            .map_err(|e| fatal("executing a block", e))?;
        match result {
            Err(e @ (BlockError::Store(_) | BlockError::Invariant(_))) => Err(fatal("executing a block", e)),
            other => Ok(other),
        }
    }

    fn remember(&mut self, pv: ProposedValue<BctContext>) {
        let list = self.proposals.entry((pv.height.0, pv.round.as_i64())).or_default();
        if !list.iter().any(|v| v.value == pv.value && v.valid_round == pv.valid_round) {
            list.push(pv);
        }
    }

    /// Stores a block that is not decided yet and flushes it to disk, so that a restart can
    /// still answer for it. A failure stops the node: handing the engine a block that a crash
    /// could lose could leave this node locked on a value it cannot produce.
    async fn persist(
        &self,
        init: &PartInit,
        id: &BlockId,
        signature: &malachitebft_signing_ed25519::Signature,
        block: &Bytes,
        synced: bool,
    ) -> Result<(), NodeError> {
        let mut key = Vec::with_capacity(48);
        key.extend_from_slice(&init.height.0.to_be_bytes());
        key.extend_from_slice(&init.round.as_i64().to_be_bytes());
        key.extend_from_slice(&id.0 .0);
        let record = PendingProposal {
            height: init.height.0,
            round: init.round.as_i64(),
            pol_round: init.pol_round.as_i64(),
            proposer: init.proposer.0 .0.to_vec(),
            signature: signature.to_bytes().to_vec(),
            block: block.clone(),
            synced,
        };
        let storage = |e: sled::Error| NodeError::Storage(format!("storing an undecided block: {e}"));
        self.pending.insert(key, record.encode_to_vec()).map_err(storage)?;
        self.pending.flush_async().await.map_err(storage)?;
        self.metrics.pending_flushes.inc();
        Ok(())
    }

    async fn on_decided(&mut self, cert: CommitCertificate<BctContext>) -> Result<(), NodeError> {
        let height = cert.height;
        let id = cert.value_id;
        if !self.candidates.contains_key(&(height.0, id)) {
            // Every block the engine knows was flushed to our storage before it learned of it
            // (see `persist`), so storage lost data it had flushed; the engine decided from its
            // write-ahead log and a synced certificate, and value sync will not send the block.
            // Restarting the height instead would reset the engine's log and let this validator
            // vote again in rounds it has voted in: the block is asked of the peers.
            warn!(%height, block = %id, "decided a block this node does not have (its storage lost it); asking the peers");
            let Some(block) =
                self.params.fetcher.fetch(height.0, &id.0, self.block_wire_bytes_max, FETCH_PATIENCE).await
            else {
                return Err(NodeError::Storage(format!(
                    "the network decided block {id} at height {height}, which this node accepted but no longer has, \
                     and no peer sent it within {FETCH_PATIENCE:?}: its storage lost data it had flushed; restore the \
                     data directory from a backup, or remove it to re-sync the chain from the network"
                )));
            };
            let encoded = Bytes::from(bct_proto::encode_block(&block));
            // Not checked as a proposal: execution below decides whether it applies.
            self.candidates.insert((height.0, id), Candidate { block, encoded, verdict: Verdict::Invalid });
        }
        let Some(candidate) = self.candidates.get_mut(&(height.0, id)) else {
            return Err(fatal("committing a block", "the decided block vanished"));
        };
        let executed = match &mut candidate.verdict {
            Verdict::Valid(executed) => executed.take(),
            // We refused it, possibly for a local reason (our clock behind the proposer's):
            // more than 2/3 of the voting power accepted it, so execution decides below.
            Verdict::Invalid => None,
        };
        let block = candidate.block.clone();
        let executed = match executed {
            Some(e) => *e,
            None => self.execute(block.clone()).await?.map_err(|e| {
                // This node's software or state differs from the network's: stop loudly.
                fatal(&format!("the network decided block {id} at height {height}, which this node cannot apply"), e)
            })?,
        };
        let cert_pb = certificate::to_pb(&cert, &self.validators).map_err(|e| fatal("certificate", e))?;
        let txs: Vec<TxId> = block.txs.iter().map(|t| t.id()).collect();
        let tx_count = txs.len();
        let mut ledger = self.chain.write().await;
        let header = tokio::task::spawn_blocking(move || {
            let mut extra = vec![(certificate_key(height.0), cert_pb.encode_to_vec())];
            // Accepted validator set changes, for the set history of later certificates.
            for key in certificate::set_change_keys(&executed.block, &executed.results) {
                extra.push((key, Vec::new()));
            }
            // The first block a validator set decides also stores the set, for later proofs.
            let set_key = certificate::validator_set_key(&executed.block.header.validator_set_hash);
            if bct_ledger::Store::get(ledger.store(), &set_key)?.is_none() {
                extra.push((set_key, certificate::encode_validator_set(&ledger.validators())));
            }
            let header = ledger.commit(executed, extra)?;
            Ok::<_, BlockError>((header, ledger))
        })
        .await
        .map_err(|e| fatal("committing a block", e))?;
        let (header, ledger) = header.map_err(|e| fatal("committing a block", e))?;
        let ledger = tokio::sync::OwnedRwLockWriteGuard::downgrade(ledger);
        let purged = self.purge_mempool(&ledger, &txs, height.0);
        drop(ledger);
        self.chain.announce(height.0, &txs);
        self.update_metrics(&header, tx_count);
        debug!(target: BLOCKS_TARGET, %height, round = %cert.round, block = %id, txs = tx_count, signatures = cert.commit_signatures.len(), purged, "committed block");
        let waiting = self.mempool.lock().map(|m| m.len()).unwrap_or(0);
        self.progress.committed(height.0, tx_count as u64, waiting);
        Ok(())
    }

    fn purge_mempool(&self, ledger: &NodeLedger, txs: &[TxId], height: u64) -> usize {
        let Ok(mut mempool) = self.mempool.lock() else { return 0 };
        let purged = mempool.purge(txs, height + 1, |a| ledger.next_nonce(a));
        self.metrics.mempool_txs.set(mempool.len() as i64);
        self.metrics.mempool_bytes.set(mempool.bytes() as i64);
        purged
    }

    fn update_metrics(&mut self, header: &bct_ledger::BlockHeader, txs: usize) {
        self.metrics.height.set(header.height as i64);
        self.metrics.committed_blocks.inc();
        self.metrics.committed_txs.inc_by(txs as u64);
        self.metrics.block_time_seconds.set(header.time_ms as f64 / 1000.0);
        if let Some(prev) = self.last_block_time_ms {
            self.metrics.block_interval_seconds.set(header.time_ms.saturating_sub(prev) as f64 / 1000.0);
        }
        self.last_block_time_ms = Some(header.time_ms);
    }

    async fn on_finalized(&mut self, cert: CommitCertificate<BctContext>) -> Result<Next<BctContext>, NodeError> {
        let height = cert.height;
        // The certificate at finalization may hold more precommits than at decision: keep
        // the larger one (both prove the block).
        let stored = {
            let ledger = self.chain.read().await;
            Chain::certificate(&ledger, height.0).map_err(|e| fatal("reading a certificate", e))?
        };
        if stored.is_some_and(|s| s.signatures.len() < cert.commit_signatures.len()) {
            let bigger = certificate::to_pb(&cert, &self.validators).map_err(|e| fatal("certificate", e))?;
            let ledger = self.chain.read().await;
            if let Err(e) = bct_ledger::Store::apply(
                ledger.store(),
                vec![(certificate_key(height.0), Some(bigger.encode_to_vec()))],
            ) {
                warn!(%height, "could not store the finalized certificate: {e}");
            }
        }
        self.prune(height.0);
        self.refresh_validators().await?;
        self.height = Height(height.0 + 1);
        Ok(Next::Start(self.height, self.height_params()))
    }

    /// Forgets everything about heights up to `height`.
    fn prune(&mut self, height: u64) {
        let keep = height + 1;
        self.candidates = self.candidates.split_off(&(keep, BlockId(bct_ledger::Hash::ZERO)));
        self.proposals = self.proposals.split_off(&(keep, i64::MIN));
        self.streamed = self.streamed.split_off(&(keep, i64::MIN, BlockId(bct_ledger::Hash::ZERO)));
        self.future = self.future.split_off(&keep);
        let end = keep.to_be_bytes();
        for key in self.pending.range(..end.as_slice()).keys().flatten() {
            let _ = self.pending.remove(key);
        }
        // Nothing is signed for a decided height any more.
        self.guard.prune_below(keep);
    }

    async fn decided_values(&self, from: u64, to: u64) -> Result<Vec<RawDecidedValue<BctContext>>, NodeError> {
        let ledger = self.chain.read().await;
        let from = from.max(1);
        let to = to.min(ledger.height()).min(from.saturating_add(SYNC_VALUES_MAX - 1));
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for h in from..=to {
            let block = ledger.block(h).map_err(|e| fatal("reading a block", e))?;
            let cert = Chain::certificate(&ledger, h).map_err(|e| fatal("reading a certificate", e))?;
            let (Some(block), Some(cert)) = (block, cert) else { break };
            let cert = certificate::from_pb(&cert).map_err(|e| fatal("stored certificate", e))?;
            let encoded = bct_proto::encode_block(&block);
            if !out.is_empty() && bytes + encoded.len() > SYNC_RESPONSE_BYTES_MAX {
                break;
            }
            bytes += encoded.len();
            let cert =
                ExtendedCommitCertificate::from_commit_certificate_and_extensions(cert, VoteExtensions::default());
            out.push(RawDecidedValue::new(Bytes::from(encoded), cert));
        }
        Ok(out)
    }

    async fn on_synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: ValidatorAddress,
        bytes: Bytes,
    ) -> Result<SyncedValueOutcome<BctContext>, NodeError> {
        let block = match bct_proto::decode_block(&bytes, self.block_wire_bytes_max) {
            Ok(b) => b,
            Err(e) => {
                warn!(%height, "a peer sent an undecodable synced block: {e}");
                return Ok(SyncedValueOutcome::PeerFault);
            }
        };
        if block.header.height != height.0 {
            warn!(%height, got = block.header.height, "a peer sent a synced block for another height");
            return Ok(SyncedValueOutcome::PeerFault);
        }
        if height != self.height {
            self.height = height;
        }
        let id = BlockId(block.hash());
        // Decided blocks are old by now: their time is not checked against our clock.
        let validity = self.check(height, id, block, bytes.clone(), None, false).await?;
        // A validator's engine records the value in its write-ahead log: after a crash it may
        // decide it from there and a synced certificate, without asking for the bytes again.
        if self.signer.is_some() && validity == Validity::Valid {
            let init = PartInit { height, round, pol_round: Round::Nil, proposer };
            let unsigned = malachitebft_signing_ed25519::Signature::from_bytes([0; 64]);
            self.persist(&init, &id, &unsigned, &bytes, true).await?;
        }
        let pv = ProposedValue { height, round, valid_round: Round::Nil, proposer, value: id, validity };
        self.remember(pv.clone());
        debug!(%height, block = %id, ?validity, "synced block checked");
        Ok(SyncedValueOutcome::Verdict(pv))
    }
}
