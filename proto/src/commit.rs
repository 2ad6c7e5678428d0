//! Commit certificates: the precommit signatures by which more than 2/3 of the voting power
//! decided a block, and the exact bytes each of those signatures covers.

use std::collections::BTreeSet;

use crate::pb;
use bct_ledger::crypto::verify_signature;
use bct_ledger::types::Validator;
use bct_ledger::{Address, Hash};

/// The bytes a validator signs to precommit a block: what every signature of a commit
/// certificate covers. Defined once in `bct-ledger` and signed by the node's consensus.
pub use bct_ledger::crypto::{precommit_sign_bytes, PRECOMMIT as PRECOMMIT_VOTE_TYPE, VOTE_DOMAIN};

/// One validator's precommit signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitSignature {
    /// The validator's ed25519 public key.
    pub public_key: [u8; 32],
    /// Its signature over [`precommit_sign_bytes`].
    pub signature: [u8; 64],
}

/// The precommits that decided a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitCertificate {
    /// Height of the block.
    pub height: u64,
    /// Consensus round of the decision.
    pub round: u32,
    /// The header hash that was decided.
    pub block_hash: Hash,
    /// The signatures, in the node's order.
    pub signatures: Vec<CommitSignature>,
}

/// Why a commit certificate does not prove its block.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// A field has the wrong length.
    #[error("{field}: expected {expected} bytes, got {got}")]
    Length {
        /// Which field.
        field: String,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// Signed by a key outside the validator set.
    #[error("signature {index} is by {key}, which is not a validator of this block's set")]
    UnknownValidator {
        /// Position of the signature.
        index: usize,
        /// Hex public key.
        key: String,
    },
    /// The same validator signed twice.
    #[error("validator {key} signed twice (signatures {first} and {second})")]
    Duplicate {
        /// Hex public key.
        key: String,
        /// First position.
        first: usize,
        /// Second position.
        second: usize,
    },
    /// A signature does not verify over the precommit bytes.
    #[error("signature {index} (validator {name}, key {key}) does not verify over the precommit for this block")]
    BadSignature {
        /// Position of the signature.
        index: usize,
        /// Hex public key.
        key: String,
        /// The validator's name.
        name: String,
    },
    /// Too little voting power signed.
    #[error("the valid signatures carry {signed} of {total} voting power; more than 2/3 is needed")]
    NoQuorum {
        /// Power that signed.
        signed: u64,
        /// Total power of the set.
        total: u64,
    },
}

/// What a verified commit shows: who signed, with how much power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitCheck {
    /// Power that signed.
    pub signed_power: u64,
    /// Total power of the set.
    pub total_power: u64,
    /// The signers, in signature order.
    pub signers: Vec<Validator>,
}

fn fixed<const N: usize>(bytes: &[u8], field: impl Fn() -> String) -> Result<[u8; N], CommitError> {
    bytes.try_into().map_err(|_| CommitError::Length { field: field(), expected: N, got: bytes.len() })
}

impl CommitCertificate {
    /// Reads the protobuf form, checking every length.
    pub fn from_pb(c: &pb::CommitCertificate) -> Result<CommitCertificate, CommitError> {
        let block_hash = Hash(fixed::<32>(&c.block_hash, || "commit.block_hash".into())?);
        let signatures = c
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(CommitSignature {
                    public_key: fixed::<32>(&s.validator_public_key, || {
                        format!("commit.signatures[{i}].validator_public_key")
                    })?,
                    signature: fixed::<64>(&s.signature, || format!("commit.signatures[{i}].signature"))?,
                })
            })
            .collect::<Result<_, CommitError>>()?;
        Ok(CommitCertificate { height: c.height, round: c.round, block_hash, signatures })
    }

    /// The protobuf form.
    pub fn to_pb(&self) -> pb::CommitCertificate {
        pb::CommitCertificate {
            height: self.height,
            round: self.round,
            block_hash: self.block_hash.0.to_vec(),
            signatures: self
                .signatures
                .iter()
                .map(|s| pb::CommitSignature {
                    validator_public_key: s.public_key.to_vec(),
                    signature: s.signature.to_vec(),
                })
                .collect(),
        }
    }

    /// Checks that the signatures are precommits for this block by distinct members of
    /// `validators` holding more than 2/3 of its voting power. Every signature must be valid
    /// and by a member: a certificate carrying anything else is refused, not trimmed.
    pub fn verify(&self, chain_id: &str, validators: &[Validator]) -> Result<CommitCheck, CommitError> {
        let total: u64 = validators.iter().fold(0u64, |acc, v| acc.saturating_add(v.power));
        let mut seen: BTreeSet<[u8; 32]> = BTreeSet::new();
        let mut signers = Vec::with_capacity(self.signatures.len());
        for (index, s) in self.signatures.iter().enumerate() {
            let key = || hex::encode(s.public_key);
            let Some(v) = validators.iter().find(|v| v.public_key == s.public_key) else {
                return Err(CommitError::UnknownValidator { index, key: key() });
            };
            if !seen.insert(s.public_key) {
                let first = self.signatures.iter().position(|o| o.public_key == s.public_key).unwrap_or(index);
                return Err(CommitError::Duplicate { key: key(), first, second: index });
            }
            signers.push(v.clone());
        }
        // One by one, stopping at the first bad signature: a certificate has few signatures,
        // and a refusal should cost little.
        for (index, s) in self.signatures.iter().enumerate() {
            let address = Address::from_public_key(&s.public_key);
            let message = precommit_sign_bytes(chain_id, self.height, self.round, &self.block_hash, &address);
            if !verify_signature(&s.public_key, &message, &s.signature) {
                return Err(CommitError::BadSignature {
                    index,
                    key: hex::encode(s.public_key),
                    name: signers[index].name.clone(),
                });
            }
        }
        let signed = signers.iter().fold(0u64, |acc, v| acc.saturating_add(v.power));
        // More than 2/3: 3 * signed > 2 * total, in u128 so nothing overflows.
        if u128::from(signed) * 3 <= u128::from(total) * 2 {
            return Err(CommitError::NoQuorum { signed, total });
        }
        Ok(CommitCheck { signed_power: signed, total_power: total, signers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    /// The layout written out by hand from the node's doc comment, so a change on either side
    /// shows up here.
    #[test]
    fn precommit_bytes_follow_the_documented_layout() {
        let validator = Address([0xaa; 20]);
        let got = precommit_sign_bytes("bct-dev", 7, 1, &Hash([0x55; 32]), &validator);
        let mut want = b"bct/vote/v1\0".to_vec();
        want.extend_from_slice(&[0, 0, 0, 7]);
        want.extend_from_slice(b"bct-dev");
        want.push(2);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        want.push(1);
        want.extend_from_slice(&[0x55; 32]);
        want.extend_from_slice(&[0xaa; 20]);
        assert_eq!(hex::encode(&got), hex::encode(&want));
    }

    fn set(keys: &[SigningKey], powers: &[u64]) -> Vec<Validator> {
        let mut v: Vec<Validator> = keys
            .iter()
            .zip(powers)
            .enumerate()
            .map(|(i, (k, p))| Validator { public_key: k.verifying_key().to_bytes(), power: *p, name: format!("v{i}") })
            .collect();
        v.sort_by_key(Validator::address);
        v
    }

    fn certificate(keys: &[&SigningKey], round: u32) -> CommitCertificate {
        let block_hash = Hash([9; 32]);
        let signatures = keys
            .iter()
            .map(|k| {
                let public_key = k.verifying_key().to_bytes();
                let msg = precommit_sign_bytes("c", 5, round, &block_hash, &Address::from_public_key(&public_key));
                CommitSignature { public_key, signature: k.sign(&msg).to_bytes() }
            })
            .collect();
        CommitCertificate { height: 5, round, block_hash, signatures }
    }

    #[test]
    fn quorum_is_more_than_two_thirds_of_the_power() {
        let keys: Vec<SigningKey> = (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let equal = set(&keys, &[1, 1, 1, 1]);
        let three = certificate(&[&keys[0], &keys[1], &keys[2]], 0);
        let check = three.verify("c", &equal).expect("3 of 4 is a quorum");
        assert_eq!((check.signed_power, check.total_power), (3, 4));
        let two = certificate(&[&keys[0], &keys[1]], 0);
        assert_eq!(two.verify("c", &equal), Err(CommitError::NoQuorum { signed: 2, total: 4 }));
        // Power, not heads: one validator with 3 of 4 power decides alone.
        let heavy = set(&keys, &[7, 1, 1, 1]);
        assert!(certificate(&[&keys[0]], 0).verify("c", &heavy).is_ok());
        // Exactly 2/3 is not enough.
        let thirds = set(&keys[..3], &[1, 1, 1]);
        assert_eq!(two.verify("c", &thirds), Err(CommitError::NoQuorum { signed: 2, total: 3 }));
    }

    #[test]
    fn refuses_duplicates_strangers_and_bad_signatures() {
        let keys: Vec<SigningKey> = (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let equal = set(&keys, &[1, 1, 1, 1]);
        let dup = certificate(&[&keys[0], &keys[1], &keys[0]], 0);
        assert!(matches!(dup.verify("c", &equal), Err(CommitError::Duplicate { first: 0, second: 2, .. })));
        let stranger = SigningKey::from_bytes(&[99; 32]);
        let with_stranger = certificate(&[&keys[0], &stranger, &keys[1], &keys[2]], 0);
        assert!(matches!(with_stranger.verify("c", &equal), Err(CommitError::UnknownValidator { index: 1, .. })));
        let mut wrong_round = certificate(&[&keys[0], &keys[1], &keys[2]], 0);
        wrong_round.round = 1;
        assert!(matches!(wrong_round.verify("c", &equal), Err(CommitError::BadSignature { index: 0, .. })));
        let other_chain = certificate(&[&keys[0], &keys[1], &keys[2]], 0);
        assert!(matches!(other_chain.verify("d", &equal), Err(CommitError::BadSignature { .. })));
    }
}
