//! What validators sign (votes, proposals, proposal streams), with a domain tag and the chain
//! id in every message, and the ed25519 signer and verifier the engine calls.
//!
//! The byte layouts here are part of the protocol: a commit certificate is checked offline by
//! rebuilding [`precommit_sign_bytes`] for each signature ([`verify_commit_certificate`]).
//! Integers are big-endian; the chain id is length-prefixed (u32).

use async_trait::async_trait;
use bct_ledger::types::Validator as LedgerValidator;
use bct_ledger::Hash;
use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_signing::{Error as SignError, Signer, VerificationResult, Verifier};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};

use super::context::{BctContext, BlockId, Height, Proposal, ValidatorAddress, Vote};
use super::guard::{SignGuard, Verdict};
use tracing::error;

/// Domain tag of prevotes and precommits.
pub use bct_ledger::crypto::VOTE_DOMAIN;
/// Domain tag of proposals.
pub const PROPOSAL_DOMAIN: &[u8] = b"bct/proposal/v1\0";
/// Domain tag of the signature that ends a proposal stream.
pub const PARTS_DOMAIN: &[u8] = b"bct/proposal-parts/v1\0";
/// Domain tag of vote extensions (unused: extensions are disabled, but never unsigned-for).
pub const EXTENSION_DOMAIN: &[u8] = b"bct/vote-extension/v1\0";

fn chain_prefix(domain: &[u8], chain_id: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(domain.len() + 4 + chain_id.len() + 80);
    b.extend_from_slice(domain);
    b.extend_from_slice(&(chain_id.len() as u32).to_be_bytes());
    b.extend_from_slice(chain_id.as_bytes());
    b
}

/// The bytes of a vote: [`bct_ledger::crypto::vote_sign_bytes`], the one definition that
/// certificate verifiers (the wallet's `bct verify`) share.
pub fn vote_sign_bytes(
    chain_id: &str,
    vote_type: VoteType,
    height: u64,
    round: i64,
    value: Option<&Hash>,
    validator: &ValidatorAddress,
) -> Vec<u8> {
    let type_byte = match vote_type {
        VoteType::Prevote => bct_ledger::crypto::PREVOTE,
        VoteType::Precommit => bct_ledger::crypto::PRECOMMIT,
    };
    bct_ledger::crypto::vote_sign_bytes(chain_id, type_byte, height, round, value, &validator.0)
}

/// The bytes a validator signed to precommit `block_hash` at (height, round): what every
/// signature of a commit certificate covers.
pub fn precommit_sign_bytes(
    chain_id: &str,
    height: u64,
    round: u32,
    block_hash: &Hash,
    validator: &ValidatorAddress,
) -> Vec<u8> {
    bct_ledger::crypto::precommit_sign_bytes(chain_id, height, round, block_hash, &validator.0)
}

fn vote_bytes(chain_id: &str, v: &Vote) -> Vec<u8> {
    let value = match &v.value {
        NilOrVal::Nil => None,
        NilOrVal::Val(id) => Some(&id.0),
    };
    vote_sign_bytes(chain_id, v.vote_type, v.height.0, v.round.as_i64(), value, &v.validator)
}

/// `PROPOSAL_DOMAIN || chain || height u64 || round i64 || pol_round i64 || block id || proposer`.
pub fn proposal_sign_bytes(chain_id: &str, p: &Proposal) -> Vec<u8> {
    let mut b = chain_prefix(PROPOSAL_DOMAIN, chain_id);
    b.extend_from_slice(&p.height.0.to_be_bytes());
    b.extend_from_slice(&p.round.as_i64().to_be_bytes());
    b.extend_from_slice(&p.pol_round.as_i64().to_be_bytes());
    b.extend_from_slice(&p.value.0 .0);
    b.extend_from_slice(&p.proposer.0 .0);
    b
}

/// `PARTS_DOMAIN || chain || height u64 || round i64 || pol_round i64 || block id || proposer`:
/// signed by the proposer of (height, round) at the end of the stream that carries the block.
pub fn parts_sign_bytes(
    chain_id: &str,
    height: Height,
    round: Round,
    pol_round: Round,
    block: &BlockId,
    proposer: &ValidatorAddress,
) -> Vec<u8> {
    let mut b = chain_prefix(PARTS_DOMAIN, chain_id);
    b.extend_from_slice(&height.0.to_be_bytes());
    b.extend_from_slice(&round.as_i64().to_be_bytes());
    b.extend_from_slice(&pol_round.as_i64().to_be_bytes());
    b.extend_from_slice(&block.0 .0);
    b.extend_from_slice(&proposer.0 .0);
    b
}

fn extension_sign_bytes(chain_id: &str, scope: &VoteExtensionScope<BctContext>, ext: &[u8]) -> Vec<u8> {
    let mut b = chain_prefix(EXTENSION_DOMAIN, chain_id);
    b.extend_from_slice(&scope.height.0.to_be_bytes());
    b.extend_from_slice(&scope.round.as_i64().to_be_bytes());
    b.extend_from_slice(&scope.value_id.0 .0);
    b.extend_from_slice(&scope.validator_address.0 .0);
    b.extend_from_slice(&(ext.len() as u32).to_be_bytes());
    b.extend_from_slice(ext);
    b
}

fn check(public_key: &PublicKey, msg: &[u8], signature: &Signature) -> VerificationResult {
    VerificationResult::from_bool(public_key.verify(msg, signature).is_ok())
}

/// Checks consensus signatures for one chain.
#[derive(Clone, Debug)]
pub struct BctVerifier {
    chain_id: String,
}

impl BctVerifier {
    /// A verifier for `chain_id`.
    pub fn new(chain_id: impl Into<String>) -> BctVerifier {
        BctVerifier { chain_id: chain_id.into() }
    }
}

#[async_trait]
impl Verifier<BctContext> for BctVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SignError> {
        Ok(check(public_key, &vote_bytes(&self.chain_id, vote), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SignError> {
        Ok(check(public_key, &proposal_sign_bytes(&self.chain_id, proposal), signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<BctContext>,
        extension: &Bytes,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SignError> {
        Ok(check(public_key, &extension_sign_bytes(&self.chain_id, scope, extension), signature))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<BctContext>,
    ) -> Result<VerificationResult, SignError> {
        match proof.decoded_public_key() {
            Ok(key) => Ok(check(&key, &proof.preimage(), &proof.signature)),
            // A malformed key is a bad proof, not a failure of ours.
            Err(_) => Ok(VerificationResult::Invalid),
        }
    }
}

/// Signs consensus messages with a validator's ed25519 key, for one chain.
#[derive(Clone)]
pub struct BctSigner {
    key: PrivateKey,
    chain_id: String,
    guard: Option<SignGuard>,
}

impl std::fmt::Debug for BctSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BctSigner").field("public_key", &hex::encode(self.key.public_key().as_bytes())).finish()
    }
}

impl BctSigner {
    /// A signer with the 32-byte ed25519 secret `secret` for `chain_id`.
    pub fn new(secret: [u8; 32], chain_id: impl Into<String>) -> BctSigner {
        BctSigner { key: PrivateKey::from(secret), chain_id: chain_id.into(), guard: None }
    }

    /// The same signer, refusing through `guard` to sign a second, different vote or proposal
    /// for any height, round and kind (see [`super::guard`]).
    pub fn with_guard(mut self, guard: SignGuard) -> BctSigner {
        self.guard = Some(guard);
        self
    }

    /// The double-sign guard, if any.
    pub fn guard(&self) -> Option<&SignGuard> {
        self.guard.as_ref()
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Signs the end of a proposal stream.
    pub fn sign_parts(
        &self,
        height: Height,
        round: Round,
        pol_round: Round,
        block: &BlockId,
        proposer: &ValidatorAddress,
    ) -> Signature {
        self.key.sign(&parts_sign_bytes(&self.chain_id, height, round, pol_round, block, proposer))
    }
}

#[async_trait]
impl Signer<BctContext> for BctSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<BctContext, Vote>, SignError> {
        let vote = match &self.guard {
            None => vote,
            Some(guard) => match guard.vote(vote).await.map_err(SignError::from_source)? {
                Verdict::Sign(v) => v,
                Verdict::Conflict { asked, recorded } => {
                    error!(
                        height = %asked.height,
                        round = %asked.round,
                        vote_type = ?asked.vote_type,
                        asked = ?asked.value,
                        signed_before = ?recorded.value,
                        "double-sign guard: asked to sign a second, different vote for this height, round and type; \
                         signing the one signed before instead"
                    );
                    recorded
                }
            },
        };
        let signature = self.key.sign(&vote_bytes(&self.chain_id, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(&self, proposal: Proposal) -> Result<SignedMessage<BctContext, Proposal>, SignError> {
        let proposal = match &self.guard {
            None => proposal,
            Some(guard) => match guard.proposal(proposal).await.map_err(SignError::from_source)? {
                Verdict::Sign(p) => p,
                Verdict::Conflict { asked, recorded } => {
                    error!(
                        height = %asked.height,
                        round = %asked.round,
                        asked = %asked.value,
                        signed_before = %recorded.value,
                        "double-sign guard: asked to sign a second, different proposal for this height and round; \
                         signing the one signed before instead"
                    );
                    recorded
                }
            },
        };
        let signature = self.key.sign(&proposal_sign_bytes(&self.chain_id, &proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<BctContext>,
        extension: Bytes,
    ) -> Result<SignedMessage<BctContext, Bytes>, SignError> {
        let signature = self.key.sign(&extension_sign_bytes(&self.chain_id, &scope, &extension));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<BctContext>, SignError> {
        let preimage = ValidatorProof::<BctContext>::signing_bytes(&public_key, &peer_id);
        Ok(ValidatorProof::new(public_key, peer_id, self.key.sign(&preimage)))
    }
}

/// Why a commit certificate does not prove a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Signed by a key that is not in the validator set.
    #[error("signature {index} is by {key}, which is not a validator of this height")]
    UnknownValidator {
        /// Position.
        index: usize,
        /// Hex public key.
        key: String,
    },
    /// The same validator twice.
    #[error("validator {key} signed twice")]
    Duplicate {
        /// Hex public key.
        key: String,
    },
    /// A signature does not verify.
    #[error("signature {index} (validator {key}) does not verify over the precommit")]
    BadSignature {
        /// Position.
        index: usize,
        /// Hex public key.
        key: String,
    },
    /// Not enough voting power.
    #[error("the signatures carry {signed} of {total} voting power; more than 2/3 is needed")]
    NoQuorum {
        /// Signed power.
        signed: u64,
        /// Total power.
        total: u64,
    },
    /// Malformed.
    #[error("malformed certificate: {0}")]
    Malformed(String),
}

/// Checks offline that `signatures` (public key, signature) are precommits for `block_hash` at
/// (height, round) by distinct members of `validators` holding more than 2/3 of the power.
pub fn verify_commit_certificate(
    chain_id: &str,
    height: u64,
    round: u32,
    block_hash: &Hash,
    signatures: &[([u8; 32], [u8; 64])],
    validators: &[LedgerValidator],
) -> Result<(), CertificateError> {
    let total: u64 = validators.iter().map(|v| v.power).sum();
    let mut seen = std::collections::BTreeSet::new();
    let mut signed = 0u64;
    for (index, (key, signature)) in signatures.iter().enumerate() {
        let hex_key = || hex::encode(key);
        let Some(v) = validators.iter().find(|v| &v.public_key == key) else {
            return Err(CertificateError::UnknownValidator { index, key: hex_key() });
        };
        if !seen.insert(*key) {
            return Err(CertificateError::Duplicate { key: hex_key() });
        }
        let msg = precommit_sign_bytes(chain_id, height, round, block_hash, &ValidatorAddress::from_public_key(key));
        if !bct_ledger::crypto::verify_signature(key, &msg, signature) {
            return Err(CertificateError::BadSignature { index, key: hex_key() });
        }
        signed = signed.saturating_add(v.power);
    }
    // More than 2/3: 3 * signed > 2 * total, in u128 so nothing overflows.
    if u128::from(signed) * 3 <= u128::from(total) * 2 {
        return Err(CertificateError::NoQuorum { signed, total });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_bytes_separate_chains_and_vote_types() {
        let a = ValidatorAddress::from_public_key(&[1; 32]);
        let h = Hash([7; 32]);
        let pre = vote_sign_bytes("c", VoteType::Prevote, 1, 0, Some(&h), &a);
        let com = vote_sign_bytes("c", VoteType::Precommit, 1, 0, Some(&h), &a);
        let other_chain = vote_sign_bytes("d", VoteType::Precommit, 1, 0, Some(&h), &a);
        assert_ne!(pre, com);
        assert_ne!(com, other_chain);
        assert_eq!(com, precommit_sign_bytes("c", 1, 0, &h, &a));
        assert!(com.starts_with(VOTE_DOMAIN));
    }

    /// The precommit layout, written out by hand: `bct verify` (wallet-cli) and PROTOCOL.md
    /// rebuild these bytes, so a change here is a protocol change.
    #[test]
    fn precommit_bytes_are_locked() {
        let got = precommit_sign_bytes(
            "bct-dev",
            7,
            1,
            &Hash([0x55; 32]),
            &ValidatorAddress(bct_ledger::Address([0xaa; 20])),
        );
        let mut want = b"bct/vote/v1\0".to_vec();
        want.extend_from_slice(&[0, 0, 0, 7]);
        want.extend_from_slice(b"bct-dev");
        want.push(2);
        want.extend_from_slice(&7u64.to_be_bytes());
        want.extend_from_slice(&1i64.to_be_bytes());
        want.push(1);
        want.extend_from_slice(&[0x55; 32]);
        want.extend_from_slice(&[0xaa; 20]);
        assert_eq!(hex::encode(got), hex::encode(want));
    }

    #[test]
    fn certificate_needs_more_than_two_thirds() {
        let keys: Vec<PrivateKey> = (1..=4u8).map(|i| PrivateKey::from([i; 32])).collect();
        let validators: Vec<LedgerValidator> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| LedgerValidator { public_key: *k.public_key().as_bytes(), power: 1, name: format!("v{i}") })
            .collect();
        let block = Hash([9; 32]);
        let sig = |k: &PrivateKey| {
            let pk = *k.public_key().as_bytes();
            let msg = precommit_sign_bytes("chain", 5, 1, &block, &ValidatorAddress::from_public_key(&pk));
            (pk, k.sign(&msg).to_bytes())
        };
        let three: Vec<_> = keys[..3].iter().map(sig).collect();
        assert_eq!(verify_commit_certificate("chain", 5, 1, &block, &three, &validators), Ok(()));
        assert_eq!(
            verify_commit_certificate("chain", 5, 1, &block, &three[..2], &validators),
            Err(CertificateError::NoQuorum { signed: 2, total: 4 })
        );
        assert!(matches!(
            verify_commit_certificate("chain", 5, 2, &block, &three, &validators),
            Err(CertificateError::BadSignature { index: 0, .. })
        ));
        let dup = vec![three[0], three[0], three[1]];
        assert!(matches!(
            verify_commit_certificate("chain", 5, 1, &block, &dup, &validators),
            Err(CertificateError::Duplicate { .. })
        ));
    }
}
