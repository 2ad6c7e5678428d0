//! Deliberate misbehaviour, for fault tests only: compiled with the `byzantine` cargo feature
//! (off by default) and enabled by a `[byzantine]` section in `config.toml`. A node built
//! without the feature refuses to start with that section ([`crate::config::NodeConfig::validate`]).
//!
//! Every attack is a Malachite trigger (`{ mode = "always" }`, `{ mode = "at_heights", heights =
//! [5, 9] }`, `{ mode = "height_range", from = 3, to = 40 }`, `{ mode = "random", probability =
//! 0.3 }`, ...), evaluated per (height, round):
//!
//! - Malachite's own network-level attacks (crate `arc-malachitebft-engine-byzantine`, a proxy
//!   actor between the consensus actor and libp2p that rewrites what is published):
//!   `equivocate_votes` (each vote is followed by a second one, validly signed, for another block
//!   id: a double vote), `equivocate_proposals` (a second signed proposal for another block id at
//!   the same height and round), `drop_votes`, `drop_proposals`, `drop_inbound_proposals`, and
//!   `seed` for the random triggers. The conflicting block id is the original with its first byte
//!   flipped (a nil vote is doubled with a made-up block id).
//! - bct's own, in the host: `invalid_blocks`: as proposer, the node builds its block as usual,
//!   then changes the header's state root and signs and streams that block, which every honest
//!   validator must refuse (`Ledger::execute` finds the state root wrong).
//!   `flood_proposal_parts`: at each round it starts, the node publishes [`FLOOD_STREAMS`]
//!   proposal streams that never finish: one sequence number resent with bigger and bigger
//!   payloads, parts larger than a part may be, and distinct parts past the block size. Honest
//!   nodes drop them (the assembler's limits, `parts.rs`) and their memory stays bounded.
//!
//! `ignore_locks` and `force_precommit_nil` are refused: they need hooks in the vote path that bct
//! does not have.
//!
//! What honest nodes report: a double vote or double proposal is kept by the engine as evidence
//! and handed to the host at `Finalized`, which logs it at `WARN` ("equivocation: ...", naming the
//! validator); the engine counts it (`malachitebft_core_consensus_equivocation_votes_total`,
//! `..._equivocation_proposals_total` on `/metrics`). An invalid block is answered `Invalid`
//! (the host logs "invalid block: ...") and prevoted nil, so it is never decided.

use std::sync::Mutex;

use bct_ledger::{Block, Hash};
use malachitebft_app_channel::app::types::core::Round;
use malachitebft_app_channel::{
    ByzantineContext, Channels, ConsensusContext, EngineBuilder, EngineHandle, NetworkContext, RequestContext,
    SyncContext, WalContext,
};
use malachitebft_engine_byzantine::config::make_rng;
use malachitebft_engine_byzantine::{ByzantineConfig, Trigger};
use tracing::warn;

use super::codec::BctCodec;
use super::context::{BctContext, BlockId, Height, ValidatorAddress};
use super::signing::BctSigner;
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::network::EngineConfig;

/// The bct-only keys of the `[byzantine]` section.
const INVALID_BLOCKS: &str = "invalid_blocks";
const FLOOD_PROPOSAL_PARTS: &str = "flood_proposal_parts";

/// Streams a flooding node publishes at each round it starts (see
/// `Host::flood_proposal_parts`): more than a publisher may hold open.
pub const FLOOD_STREAMS: usize = 3 * super::parts::STREAMS_PER_PUBLISHER_MAX;
/// How many times a flooding stream resends one sequence number, each time bigger.
pub const FLOOD_RESENDS: usize = 16;

/// What a misbehaving node does.
pub struct Misbehaviour {
    engine: ByzantineConfig,
    invalid_blocks: Trigger,
    invalid_blocks_fire: Mutex<Box<dyn FnMut(Height, Round) -> bool + Send>>,
    flood_proposal_parts: Trigger,
    flood_fire: Mutex<Box<dyn FnMut(Height, Round) -> bool + Send>>,
}

impl std::fmt::Debug for Misbehaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn bad(message: String) -> NodeError {
    NodeError::Config(format!("[byzantine]: {message}"))
}

impl Misbehaviour {
    /// Reads a `[byzantine]` section; unknown keys and unsupported attacks are refused.
    pub fn from_table(section: &toml::Table) -> Result<Misbehaviour, NodeError> {
        let mut rest = section.clone();
        let invalid_blocks: Trigger = match rest.remove(INVALID_BLOCKS) {
            Some(v) => v.try_into().map_err(|e| bad(format!("{INVALID_BLOCKS}: {e}")))?,
            None => Trigger::Never,
        };
        invalid_blocks.validate(INVALID_BLOCKS).map_err(|e| bad(e.to_string()))?;
        let flood_proposal_parts: Trigger = match rest.remove(FLOOD_PROPOSAL_PARTS) {
            Some(v) => v.try_into().map_err(|e| bad(format!("{FLOOD_PROPOSAL_PARTS}: {e}")))?,
            None => Trigger::Never,
        };
        flood_proposal_parts.validate(FLOOD_PROPOSAL_PARTS).map_err(|e| bad(e.to_string()))?;
        // Malachite's config ignores unknown keys: check them against its fields here, so a
        // typo does not silently leave a node honest.
        let known = toml::Table::try_from(ByzantineConfig::default()).map_err(|e| bad(e.to_string()))?;
        if let Some(unknown) = rest.keys().find(|k| !known.contains_key(*k) && *k != "seed") {
            return Err(bad(format!("unknown key {unknown:?}")));
        }
        let engine: ByzantineConfig =
            toml::Value::Table(rest).try_into().map_err(|e: toml::de::Error| bad(e.to_string()))?;
        engine.validate().map_err(|e| bad(e.to_string()))?;
        if engine.ignore_locks.is_set() || engine.force_precommit_nil.is_set() {
            return Err(bad("ignore_locks and force_precommit_nil are not supported by bct".into()));
        }
        let mut rng = make_rng(engine.seed);
        let trigger = invalid_blocks.clone();
        let fire: Box<dyn FnMut(Height, Round) -> bool + Send> = Box::new(move |h, r| trigger.fires(h, r, &mut rng));
        let mut flood_rng = make_rng(engine.seed.map(|s| s.wrapping_add(1)));
        let flood_trigger = flood_proposal_parts.clone();
        let flood_fire: Box<dyn FnMut(Height, Round) -> bool + Send> =
            Box::new(move |h, r| flood_trigger.fires(h, r, &mut flood_rng));
        Ok(Misbehaviour {
            engine,
            invalid_blocks,
            invalid_blocks_fire: Mutex::new(fire),
            flood_proposal_parts,
            flood_fire: Mutex::new(flood_fire),
        })
    }

    /// The misbehaviour `config` asks for, if any, announced loudly in the log.
    pub fn from_config(config: &NodeConfig) -> Result<Option<Misbehaviour>, NodeError> {
        let Some(section) = &config.byzantine else { return Ok(None) };
        let m = Misbehaviour::from_table(section)?;
        warn!(
            attacks = %m.describe(),
            "BYZANTINE NODE: this validator deliberately misbehaves ([byzantine] in config.toml, `byzantine` build \
             feature); for fault tests only, never in a real network"
        );
        Ok(Some(m))
    }

    /// The configured attacks, e.g. `equivocate_votes=Always invalid_blocks=AtHeights { .. }`.
    pub fn describe(&self) -> String {
        let e = &self.engine;
        let all = [
            ("equivocate_votes", &e.equivocate_votes),
            ("equivocate_proposals", &e.equivocate_proposals),
            ("drop_votes", &e.drop_votes),
            ("drop_proposals", &e.drop_proposals),
            ("drop_inbound_proposals", &e.drop_inbound_proposals),
            (INVALID_BLOCKS, &self.invalid_blocks),
            (FLOOD_PROPOSAL_PARTS, &self.flood_proposal_parts),
        ];
        let set: Vec<String> = all.iter().filter(|(_, t)| t.is_set()).map(|(n, t)| format!("{n}={t:?}")).collect();
        if set.is_empty() {
            "none".into()
        } else {
            set.join(" ")
        }
    }

    /// Whether to flood proposal parts when (height, round) starts.
    pub fn floods_proposal_parts(&self, height: Height, round: Round) -> bool {
        self.flood_fire.lock().map(|mut fire| fire(height, round)).unwrap_or(false)
    }

    /// Whether our proposal at (height, round) is to be an invalid block.
    pub fn proposes_invalid_block(&self, height: Height, round: Round) -> bool {
        self.invalid_blocks_fire.lock().map(|mut fire| fire(height, round)).unwrap_or(false)
    }
}

/// Makes `block` invalid: its state root no longer matches what executing it gives.
pub fn corrupt_state_root(block: &mut Block) {
    block.header.state_root.0[0] ^= 0x01;
}

/// The block id an equivocating vote or proposal names instead of `original`: the original
/// with its first byte flipped (so the short form in logs differs too), or a made-up one for a
/// nil vote.
fn conflicting_block_id(original: Option<&BlockId>) -> BlockId {
    match original {
        Some(id) => {
            let mut bytes = id.0 .0;
            bytes[0] ^= 0xff;
            BlockId(Hash(bytes))
        }
        None => BlockId(Hash::of(b"bct/byzantine/made-up-block")),
    }
}

/// Starts the engine: Malachite's `start_engine`, or, for a misbehaving validator, the same
/// engine with Malachite's Byzantine network proxy between consensus and libp2p.
#[allow(clippy::too_many_arguments)]
pub async fn start_engine(
    misbehaviour: Option<&Misbehaviour>,
    signer: Option<&BctSigner>,
    me: ValidatorAddress,
    config: EngineConfig,
    wal: WalContext<BctCodec>,
    network: NetworkContext<BctCodec>,
    consensus: ConsensusContext<BctContext>,
    sync: SyncContext<BctCodec>,
    requests: RequestContext,
) -> Result<(Channels<BctContext>, EngineHandle), NodeError> {
    let (Some(m), Some(signer)) = (misbehaviour, signer) else {
        return malachitebft_app_channel::start_engine(BctContext, config, wal, network, consensus, sync, requests)
            .await
            .map_err(|e| NodeError::Engine(format!("{e:#}")));
    };
    let byzantine = ByzantineContext {
        identity: network.identity,
        codec: network.codec,
        config: m.engine.clone(),
        signer: Box::new(signer.clone()),
        address: me,
        conflicting_value_fn: Some(Box::new(|id: &BlockId| conflicting_block_id(Some(id)))),
        conflicting_vote_value_fn: Some(Box::new(conflicting_block_id)),
    };
    EngineBuilder::new(BctContext, config)
        .with_default_wal(wal)
        .with_byzantine_network(byzantine)
        .await
        .map_err(|e| NodeError::Engine(format!("{e:#}")))?
        .with_default_sync(sync)
        .with_default_consensus(consensus)
        .with_default_request(requests)
        .build()
        .await
        .map_err(|e| NodeError::Engine(format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn reads_malachite_and_bct_attacks_and_refuses_the_rest() {
        let m = Misbehaviour::from_table(&table(
            "equivocate_votes = { mode = \"always\" }\ninvalid_blocks = { mode = \"at_heights\", heights = [3] }\nseed = 7\n",
        ))
        .expect("valid");
        assert!(m.engine.equivocate_votes.is_set());
        assert!(m.proposes_invalid_block(Height(3), Round::new(0)));
        assert!(!m.proposes_invalid_block(Height(4), Round::new(0)));
        assert!(m.describe().contains("invalid_blocks"));
        assert!(Misbehaviour::from_table(&table("equivocate_vote = { mode = \"always\" }\n")).is_err());
        assert!(Misbehaviour::from_table(&table("ignore_locks = { mode = \"always\" }\n")).is_err());
        assert!(Misbehaviour::from_table(&table("invalid_blocks = { mode = \"sometimes\" }\n")).is_err());
        assert!(Misbehaviour::from_table(&table(
            "drop_votes = { mode = \"always\" }\nequivocate_votes = { mode = \"always\" }\n"
        ))
        .is_err());
    }

    #[test]
    fn conflicting_ids_differ() {
        let id = BlockId(Hash([5; 32]));
        assert_ne!(conflicting_block_id(Some(&id)), id);
        assert_ne!(conflicting_block_id(None), conflicting_block_id(Some(&id)));
    }
}
