//! Hashes, addresses, signatures and Merkle trees: every byte that is signed or hashed.
//!
//! `docs/PROTOCOL.md` describes these constructions for implementers in other
//! languages; its test vectors are recomputed by `proto/tests/protocol_vectors.rs`.

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32m, Hrp};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Domain tag prefixed to a transaction body before signing and hashing.
pub const TX_DOMAIN: &[u8] = b"bct/tx/v1\0";
/// Domain tag of block header hashes.
pub const HEADER_DOMAIN: &[u8] = b"bct/header/v1\0";
/// Domain tag of validator set hashes.
pub const VALSET_DOMAIN: &[u8] = b"bct/valset/v1\0";
/// Domain tag of the signatures validators give to approve a validator set change.
pub const VALSET_APPROVAL_DOMAIN: &[u8] = b"bct/valset-approval/v1\0";
/// Domain tag of state roots.
pub const STATE_DOMAIN: &[u8] = b"bct/state/v1\0";
/// Domain tag of consensus votes (prevotes and precommits).
pub const VOTE_DOMAIN: &[u8] = b"bct/vote/v1\0";
/// The vote type byte of a prevote.
pub const PREVOTE: u8 = 1;
/// The vote type byte of a precommit.
pub const PRECOMMIT: u8 = 2;
/// Human-readable part of bech32 addresses.
pub const ADDRESS_HRP: &str = "bct";

/// A 32-byte blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash (the previous hash of the genesis header).
    pub const ZERO: Hash = Hash([0; 32]);

    /// blake3 of `bytes`.
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// blake3 of the concatenation of `parts`.
    pub fn of_parts(parts: &[&[u8]]) -> Hash {
        let mut h = blake3::Hasher::new();
        for p in parts {
            h.update(p);
        }
        Hash(*h.finalize().as_bytes())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, ParseError> {
        let bytes = hex::decode(s.trim()).map_err(|_| ParseError::Hex(s.to_string()))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| ParseError::HashLength(s.to_string()))?;
        Ok(Hash(arr))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

/// A transaction id: blake3 of [`TX_DOMAIN`] followed by the body bytes as signed.
pub type TxId = Hash;

/// Why an address, hash or key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid bech32 with the `bct` prefix.
    #[error("{0:?} is not a bct address (bech32m text starting with `bct1`)")]
    Address(String),
    /// Not hexadecimal.
    #[error("{0:?} is not hexadecimal")]
    Hex(String),
    /// Wrong length for a hash.
    #[error("{0:?} is not 32 bytes (64 hex digits)")]
    HashLength(String),
}

/// An account address: the first 20 bytes of blake3 of the ed25519 public key,
/// written as bech32m with the `bct` prefix.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of an ed25519 public key.
    pub fn from_public_key(public_key: &[u8; 32]) -> Address {
        let h = blake3::hash(public_key);
        let mut a = [0u8; 20];
        a.copy_from_slice(&h.as_bytes()[..20]);
        Address(a)
    }

    /// The raw 20 bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        match bech32::encode::<Bech32m>(hrp, &self.0) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Address {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Address, ParseError> {
        let err = || ParseError::Address(s.to_string());
        let (hrp, data) = bech32::decode(s.trim()).map_err(|_| err())?;
        if hrp.as_str() != ADDRESS_HRP {
            return Err(err());
        }
        let arr: [u8; 20] = data.try_into().map_err(|_| err())?;
        Ok(Address(arr))
    }
}

/// The bytes a validator signs for a consensus vote, integers big-endian:
/// `VOTE_DOMAIN || len(chain_id) u32 || chain_id || vote type (1 prevote, 2 precommit) ||
/// height u64 || round i64 || (0x00 for nil | 0x01 || block hash 32) || validator address 20`.
/// The node signs these and certificate verifiers check them: one definition for both.
pub fn vote_sign_bytes(
    chain_id: &str,
    vote_type: u8,
    height: u64,
    round: i64,
    block_hash: Option<&Hash>,
    validator: &Address,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(VOTE_DOMAIN.len() + 4 + chain_id.len() + 1 + 8 + 8 + 1 + 32 + 20);
    b.extend_from_slice(VOTE_DOMAIN);
    b.extend_from_slice(&(chain_id.len() as u32).to_be_bytes());
    b.extend_from_slice(chain_id.as_bytes());
    b.push(vote_type);
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&round.to_be_bytes());
    match block_hash {
        None => b.push(0),
        Some(h) => {
            b.push(1);
            b.extend_from_slice(&h.0);
        }
    }
    b.extend_from_slice(&validator.0);
    b
}

/// The bytes every signature of a commit certificate covers: a precommit of `block_hash`.
pub fn precommit_sign_bytes(
    chain_id: &str,
    height: u64,
    round: u32,
    block_hash: &Hash,
    validator: &Address,
) -> Vec<u8> {
    vote_sign_bytes(chain_id, PRECOMMIT, height, i64::from(round), Some(block_hash), validator)
}

/// The message an ed25519 key signs for a transaction: [`TX_DOMAIN`] then the body bytes.
pub fn tx_signing_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(TX_DOMAIN.len() + body.len());
    m.extend_from_slice(TX_DOMAIN);
    m.extend_from_slice(body);
    m
}

/// The id of a transaction with these body bytes.
pub fn tx_id(body: &[u8]) -> TxId {
    Hash::of_parts(&[TX_DOMAIN, body])
}

/// Checks one ed25519 signature (strict: rejects small-order keys and malleable signatures).
pub fn verify_signature(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let sig = Signature::from_bytes(signature);
    key.verify_strict(message, &sig).is_ok()
}

/// Checks many signatures, with one batch verification when all are valid and a
/// per-signature fallback that finds the bad ones otherwise. Returns one flag per item.
pub fn verify_signatures(items: &[(&[u8; 32], &[u8], &[u8; 64])]) -> Vec<bool> {
    if items.is_empty() {
        return Vec::new();
    }
    let mut keys = Vec::with_capacity(items.len());
    let mut sigs = Vec::with_capacity(items.len());
    let mut msgs: Vec<&[u8]> = Vec::with_capacity(items.len());
    let mut all_keys_ok = true;
    for (pk, msg, sig) in items {
        match VerifyingKey::from_bytes(pk) {
            Ok(k) if !k.is_weak() => keys.push(k),
            _ => {
                all_keys_ok = false;
                break;
            }
        }
        sigs.push(Signature::from_bytes(sig));
        msgs.push(msg);
    }
    if all_keys_ok && ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
        return vec![true; items.len()];
    }
    items.iter().map(|(pk, msg, sig)| verify_signature(pk, msg, sig)).collect()
}

/// serde of a 64-byte signature as a byte sequence.
pub mod sig64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the bytes.
    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter())
    }

    /// Reads exactly 64 bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v = Vec::<u8>::deserialize(d)?;
        v.try_into().map_err(|_| serde::de::Error::custom("expected a 64-byte signature"))
    }
}

/// Leaf hash of a Merkle tree: blake3(0x00 || item).
pub fn merkle_leaf(item: &[u8]) -> Hash {
    Hash::of_parts(&[&[0u8], item])
}

/// Inner node hash of a Merkle tree: blake3(0x01 || left || right).
pub fn merkle_node(left: &Hash, right: &Hash) -> Hash {
    Hash::of_parts(&[&[1u8], &left.0, &right.0])
}

/// Root of the Merkle tree over `leaves` (already leaf-hashed), built as in RFC 6962:
/// the left subtree holds the largest power of two smaller than the count. The
/// empty tree's root is blake3 of nothing.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::of(&[]),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            merkle_node(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The sibling hashes from leaf `index` up to the root, lowest first; `None` if out of range.
pub fn merkle_path(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    let mut lo = 0;
    let mut hi = leaves.len();
    let mut idx = index;
    // Walk down from the root, remembering siblings, then reverse.
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if idx < k {
            path.push(merkle_root(&leaves[lo + k..hi]));
            hi = lo + k;
        } else {
            path.push(merkle_root(&leaves[lo..lo + k]));
            lo += k;
            idx -= k;
        }
    }
    path.reverse();
    Some(path)
}

/// Recomputes the root from a leaf, its index, the tree size and its path.
pub fn merkle_root_from_path(leaf: Hash, index: usize, count: usize, path: &[Hash]) -> Option<Hash> {
    if index >= count {
        return None;
    }
    // Recreate the descent to know, at every level, whether we were left or right.
    let mut sides = Vec::new();
    let (mut lo, mut hi, mut idx) = (0usize, count, index);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if idx < k {
            sides.push(true);
            hi = lo + k;
        } else {
            sides.push(false);
            lo += k;
            idx -= k;
        }
    }
    if sides.len() != path.len() {
        return None;
    }
    let mut acc = leaf;
    for (sibling, was_left) in path.iter().zip(sides.iter().rev()) {
        acc = if *was_left { merkle_node(&acc, sibling) } else { merkle_node(sibling, &acc) };
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips_and_catches_typos() {
        let a = Address::from_public_key(&[7u8; 32]);
        let s = a.to_string();
        assert!(s.starts_with("bct1"));
        assert_eq!(s.parse::<Address>(), Ok(a));
        let mut typo = s.clone().into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'q' { b'p' } else { b'q' };
        let typo = String::from_utf8(typo).expect("ascii");
        assert!(typo.parse::<Address>().is_err());
        assert!("cosmos1qqqqqq".parse::<Address>().is_err());
    }

    #[test]
    fn merkle_paths_verify_for_every_leaf_and_size() {
        for n in 1..=17usize {
            let leaves: Vec<Hash> = (0..n).map(|i| merkle_leaf(&[i as u8])).collect();
            let root = merkle_root(&leaves);
            for i in 0..n {
                let path = merkle_path(&leaves, i).expect("in range");
                assert_eq!(merkle_root_from_path(leaves[i], i, n, &path), Some(root), "n={n} i={i}");
                let wrong = merkle_leaf(b"other");
                assert_ne!(merkle_root_from_path(wrong, i, n, &path), Some(root));
            }
            assert!(merkle_path(&leaves, n).is_none());
        }
    }

    #[test]
    fn batch_verification_finds_the_bad_signature() {
        use ed25519_dalek::{Signer, SigningKey};
        let keys: Vec<SigningKey> = (0..5u8).map(|i| SigningKey::from_bytes(&[i + 1; 32])).collect();
        let msgs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let mut sigs: Vec<[u8; 64]> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m).to_bytes()).collect();
        let pks: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
        let items: Vec<(&[u8; 32], &[u8], &[u8; 64])> =
            (0..5).map(|i| (&pks[i], msgs[i].as_slice(), &sigs[i])).collect();
        assert_eq!(verify_signatures(&items), vec![true; 5]);
        sigs[2][0] ^= 1;
        let items: Vec<(&[u8; 32], &[u8], &[u8; 64])> =
            (0..5).map(|i| (&pks[i], msgs[i].as_slice(), &sigs[i])).collect();
        assert_eq!(verify_signatures(&items), vec![true, true, false, true, true]);
    }
}
