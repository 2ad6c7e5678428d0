//! Commit certificates as the node stores and serves them: `bct.v1.CommitCertificate` (public
//! keys, not addresses, so a certificate is checkable with only the validator set), under the
//! store key `C` || height, written in the same atomic batch as the block.

use bct_ledger::Hash;
use bct_proto::pb;
use malachitebft_app_channel::app::types::core::{CommitCertificate, CommitSignature, Round};
use malachitebft_signing_ed25519::Signature;

use super::context::{BctContext, BlockId, Height, ValidatorAddress, ValidatorSet};
use super::signing::{verify_commit_certificate, CertificateError};

/// The store key of the certificate of `height`: `C` then the height (u64, big-endian).
pub fn certificate_key(height: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'C');
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// The API and storage form of a certificate; `validators` are those that decided the height.
pub fn to_pb(
    cert: &CommitCertificate<BctContext>,
    validators: &ValidatorSet,
) -> Result<pb::CommitCertificate, CertificateError> {
    let mut signatures = Vec::with_capacity(cert.commit_signatures.len());
    for s in &cert.commit_signatures {
        let v = validators
            .get(&s.address)
            .ok_or_else(|| CertificateError::Malformed(format!("signer {} is not a validator", s.address)))?;
        signatures.push(pb::CommitSignature {
            validator_public_key: v.public_key.as_bytes().to_vec(),
            signature: s.signature.to_bytes().to_vec(),
        });
    }
    Ok(pb::CommitCertificate {
        height: cert.height.0,
        round: cert.round.as_u32().ok_or_else(|| CertificateError::Malformed("nil round".into()))?,
        block_hash: cert.value_id.0 .0.to_vec(),
        signatures,
    })
}

/// (ed25519 public key, signature) pairs of a certificate.
pub type Signatures = Vec<([u8; 32], [u8; 64])>;

/// The (public key, signature) pairs and block hash of a stored certificate, length-checked.
pub fn parts_of(cert: &pb::CommitCertificate) -> Result<(Hash, Signatures), CertificateError> {
    let hash: [u8; 32] = cert
        .block_hash
        .as_slice()
        .try_into()
        .map_err(|_| CertificateError::Malformed("block_hash is not 32 bytes".into()))?;
    let mut sigs = Vec::with_capacity(cert.signatures.len());
    for (i, s) in cert.signatures.iter().enumerate() {
        let key: [u8; 32] = s
            .validator_public_key
            .as_slice()
            .try_into()
            .map_err(|_| CertificateError::Malformed(format!("signature {i}: public key is not 32 bytes")))?;
        let sig: [u8; 64] = s
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| CertificateError::Malformed(format!("signature {i}: signature is not 64 bytes")))?;
        sigs.push((key, sig));
    }
    Ok((Hash(hash), sigs))
}

/// The engine's form of a stored certificate (for value sync).
pub fn from_pb(cert: &pb::CommitCertificate) -> Result<CommitCertificate<BctContext>, CertificateError> {
    let (hash, sigs) = parts_of(cert)?;
    Ok(CommitCertificate {
        height: Height(cert.height),
        round: Round::new(cert.round),
        value_id: BlockId(hash),
        commit_signatures: sigs
            .into_iter()
            .map(|(key, sig)| CommitSignature::new(ValidatorAddress::from_public_key(&key), Signature::from_bytes(sig)))
            .collect(),
    })
}

/// Checks a stored certificate offline against the validators of its height.
pub fn verify(
    chain_id: &str,
    cert: &pb::CommitCertificate,
    validators: &[bct_ledger::types::Validator],
) -> Result<(), CertificateError> {
    let (hash, sigs) = parts_of(cert)?;
    verify_commit_certificate(chain_id, cert.height, cert.round, &hash, &sigs, validators)
}

/// The store key of the validator set whose hash is `hash`: `C`, `s`, then the hash. Written
/// with the first block a set decides, so proofs about old blocks can name their signers
/// after the set has changed.
pub fn validator_set_key(hash: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(34);
    k.extend_from_slice(b"Cs");
    k.extend_from_slice(&hash.0);
    k
}

/// The stored form of a validator set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredValidatorSet {
    /// The validators, by address.
    #[prost(message, repeated, tag = "1")]
    pub validators: Vec<pb::Validator>,
}

/// Encodes a validator set for [`validator_set_key`].
pub fn encode_validator_set(validators: &[bct_ledger::types::Validator]) -> Vec<u8> {
    prost::Message::encode_to_vec(&StoredValidatorSet {
        validators: validators.iter().map(pb::Validator::from).collect(),
    })
}

/// Decodes a stored validator set.
pub fn decode_validator_set(bytes: &[u8]) -> Result<Vec<bct_ledger::types::Validator>, CertificateError> {
    use bct_proto::IntoLedger;
    let set: StoredValidatorSet =
        prost::Message::decode(bytes).map_err(|e| CertificateError::Malformed(format!("stored validator set: {e}")))?;
    set.validators
        .into_iter()
        .map(|v| v.into_ledger().map_err(|e| CertificateError::Malformed(format!("stored validator set: {e}"))))
        .collect()
}

/// The store key that records an accepted validator set change: `C`, `v`, the height of its
/// block (u64, big-endian) and its position in the block (u32, big-endian); the value is empty.
/// Retirement certificates carry every change before their block (the set history from
/// genesis), found through these keys in height order.
pub fn set_change_key(height: u64, index: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(14);
    k.extend_from_slice(SET_CHANGE_PREFIX);
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The prefix of [`set_change_key`].
pub const SET_CHANGE_PREFIX: &[u8] = b"Cv";

/// The (height, index) of a [`set_change_key`].
pub fn parse_set_change_key(key: &[u8]) -> Option<(u64, u32)> {
    let rest = key.strip_prefix(SET_CHANGE_PREFIX)?;
    let height = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    let index = u32::from_be_bytes(rest.get(8..12)?.try_into().ok()?);
    Some((height, index))
}

/// The [`set_change_key`]s of the accepted validator set changes in a block.
pub fn set_change_keys(block: &bct_ledger::Block, results: &[bct_ledger::TxResult]) -> Vec<Vec<u8>> {
    block
        .txs
        .iter()
        .zip(results)
        .enumerate()
        .filter(|(_, (tx, r))| matches!(tx.body().kind, bct_ledger::TxKind::UpdateValidators(_)) && r.outcome.is_ok())
        .map(|(i, _)| set_change_key(block.header.height, i as u32))
        .collect()
}
