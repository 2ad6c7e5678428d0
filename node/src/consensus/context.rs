//! The Malachite `Context` of bct: heights, addresses, block-id values, votes, proposals and validators.
//!
//! The value consensus decides is a block id (the header hash, 32 bytes): the signed proposal
//! and the votes stay small, and the block itself travels as proposal parts
//! ([`ProposalPart`]) or, for a node catching up, through value sync.

use std::fmt;

use bct_ledger::{Address, Hash};
use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    self as mtypes, Context, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use malachitebft_signing_ed25519::{Ed25519, PublicKey, Signature};

/// A validator's address in consensus: the ledger address of its key (first 20 bytes of
/// blake3 of the ed25519 public key), so a block's `proposer` field is the consensus proposer.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ValidatorAddress(pub Address);

impl ValidatorAddress {
    /// The address of an ed25519 public key.
    pub fn from_public_key(public_key: &[u8; 32]) -> ValidatorAddress {
        ValidatorAddress(Address::from_public_key(public_key))
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl mtypes::Address for ValidatorAddress {}

/// A block height; the first block is height 1 (the genesis header is height 0).
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mtypes::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// The decided value: a block id (the hash of the block header). It is its own id.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub Hash);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short form for logs: the first 6 bytes.
        for b in &self.0 .0[..6] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({})", self.0)
    }
}

impl mtypes::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// The voter.
    pub validator: ValidatorAddress,
    /// Unused: vote extensions are disabled in bct.
    pub extension: Option<SignedExtension<BctContext>>,
}

impl mtypes::Vote<BctContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<BctContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<BctContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<BctContext>) -> Self {
        Vote { extension: Some(extension), ..self }
    }
}

/// A proposal for a block at a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockId,
    /// The round in which this value got a polka, if it is a re-proposal.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: ValidatorAddress,
}

impl mtypes::Proposal<BctContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// The first part of a proposal stream: which proposal the following data belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInit {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Polka round of a re-proposal, else nil.
    pub pol_round: Round,
    /// The proposer of (height, round): only its streams are accepted.
    pub proposer: ValidatorAddress,
}

/// One part of a streamed proposal: `Init`, then `Data` chunks of the encoded block, then `Fin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// Which proposal.
    Init(PartInit),
    /// A chunk of the `bct.v1.Block` encoding.
    Data(Bytes),
    /// The proposer's signature over [`crate::consensus::signing::parts_sign_bytes`], which
    /// binds the stream to (chain, height, round, block id).
    Fin(Signature),
}

impl mtypes::ProposalPart<BctContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init(_))
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// A validator: key, derived address and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Derived from the key.
    pub address: ValidatorAddress,
    /// ed25519 key.
    pub public_key: PublicKey,
    /// Voting power.
    pub voting_power: VotingPower,
}

impl mtypes::Validator<BctContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// Why a ledger validator cannot be a consensus validator.
#[derive(Debug, thiserror::Error)]
#[error("validator {name:?} has an invalid ed25519 public key {key}")]
pub struct BadValidatorKey {
    name: String,
    key: String,
}

/// The validators of a height, sorted by address so that index order (and so the proposer
/// rotation) is the same on every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

impl ValidatorSet {
    /// The consensus form of the ledger's validator set.
    pub fn from_ledger(validators: &[bct_ledger::types::Validator]) -> Result<ValidatorSet, BadValidatorKey> {
        let mut out = Vec::with_capacity(validators.len());
        for v in validators {
            let public_key = PublicKey::from_bytes(v.public_key)
                .map_err(|_| BadValidatorKey { name: v.name.clone(), key: hex::encode(v.public_key) })?;
            out.push(Validator {
                address: ValidatorAddress::from_public_key(&v.public_key),
                public_key,
                voting_power: v.power,
            });
        }
        out.sort_by_key(|v| v.address);
        out.dedup_by_key(|v| v.address);
        Ok(ValidatorSet { validators: out })
    }

    /// The validators, by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The validator with this address.
    pub fn get(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators.binary_search_by_key(address, |v| v.address).ok().map(|i| &self.validators[i])
    }
}

impl mtypes::ValidatorSet<BctContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.validators.iter().map(|v| v.voting_power).sum()
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.get(address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// The bct consensus context.
#[derive(Clone, Debug, Default)]
pub struct BctContext;

impl BctContext {
    /// Index of the proposer of (height, round) in a set of `count` validators:
    /// round-robin, `(height - 1 + round) mod count`.
    pub fn proposer_index(count: usize, height: Height, round: Round) -> usize {
        let round = u64::from(round.as_u32().unwrap_or(0));
        let count = count.max(1) as u64;
        (height.0.saturating_sub(1).wrapping_add(round) % count) as usize
    }
}

impl Context for BctContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = Bytes;
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(&self, set: &'a ValidatorSet, height: Height, round: Round) -> &'a Validator {
        // The engine never asks with an empty set: a height cannot start without validators.
        &set.validators[Self::proposer_index(set.validators.len(), height, round)]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        proposer: ValidatorAddress,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, proposer }
    }

    fn new_prevote(&self, height: Height, round: Round, value: NilOrVal<BlockId>, validator: ValidatorAddress) -> Vote {
        Vote { vote_type: VoteType::Prevote, height, round, value, validator, extension: None }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value: NilOrVal<BlockId>,
        validator: ValidatorAddress,
    ) -> Vote {
        Vote { vote_type: VoteType::Precommit, height, round, value, validator, extension: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposer_rotates_by_height_and_round() {
        let at = |h, r: u32| BctContext::proposer_index(4, Height(h), Round::new(r));
        assert_eq!((at(1, 0), at(2, 0), at(3, 0), at(4, 0), at(5, 0)), (0, 1, 2, 3, 0));
        assert_eq!((at(1, 1), at(1, 3), at(2, 3)), (1, 3, 0));
        assert_eq!(BctContext::proposer_index(1, Height(7), Round::new(9)), 0);
    }
}
