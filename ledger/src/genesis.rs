//! `genesis.json`: the network's chain id, parameters, authorities and first validators.

use serde::{Deserialize, Serialize};

use crate::crypto::Address;
use crate::types::Validator;

/// The largest `tx_bytes_max` a genesis may set: the size limit of a signed transaction on
/// the wire (body + 32-byte key + 64-byte signature, as counted by `SignedTx::wire_size`).
pub const TX_BYTES_MAX_LIMIT: u32 = 16 * 1024;

/// Network-wide parameters, fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Distinct accredited verifiers that must attest a report before it is issued.
    pub attestations_required: u32,
    /// Most transactions in one block.
    pub block_txs_max: u32,
    /// Most bytes of transactions in one block.
    pub block_bytes_max: u64,
    /// Most bytes in one signed transaction.
    pub tx_bytes_max: u32,
}

impl Default for Params {
    fn default() -> Params {
        Params { attestations_required: 2, block_txs_max: 5_000, block_bytes_max: 4 << 20, tx_bytes_max: 16 << 10 }
    }
}

/// An account present from the start (the registry authorities).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// ed25519 public key, hex.
    #[serde(with = "hex32")]
    pub public_key: [u8; 32],
    /// Display name.
    pub name: String,
    /// Jurisdiction code.
    pub jurisdiction: String,
}

impl GenesisAccount {
    /// Its address.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.public_key)
    }
}

/// A validator present from the start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// ed25519 public key, hex.
    #[serde(with = "hex32")]
    pub public_key: [u8; 32],
    /// Voting power.
    pub power: u64,
    /// Operator name.
    pub name: String,
}

/// The whole genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Chain id, e.g. `bct-testnet-1`.
    pub chain_id: String,
    /// Time of the genesis header, ms since the Unix epoch.
    pub genesis_time_ms: u64,
    /// Parameters.
    #[serde(default)]
    pub params: Params,
    /// Authority accounts.
    pub authorities: Vec<GenesisAccount>,
    /// Initial validators.
    pub validators: Vec<GenesisValidator>,
}

/// Why a genesis file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// Not JSON of the right shape.
    #[error("genesis is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// Content problem.
    #[error("genesis is invalid: {0}")]
    Invalid(String),
}

impl Genesis {
    /// Reads and checks a genesis file's content.
    pub fn from_json(text: &str) -> Result<Genesis, GenesisError> {
        let g: Genesis = serde_json::from_str(text)?;
        g.validate()?;
        Ok(g)
    }

    /// The genesis fingerprint: `blake3("bct/genesis/v1\0" || canonical JSON)`, where the
    /// canonical JSON is the compact serialisation of the genesis (fields in their declared
    /// order, keys as hex, no whitespace). Two files that read as the same genesis have the
    /// same fingerprint, however they are laid out.
    pub fn fingerprint(&self) -> crate::Hash {
        let mut h = blake3::Hasher::new();
        h.update(b"bct/genesis/v1\0");
        h.update(&serde_json::to_vec(self).unwrap_or_default());
        crate::Hash(*h.finalize().as_bytes())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks the content: a chain id, at least one authority and one validator, no
    /// duplicate keys, positive powers whose sum fits, at least one required attestation.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let bad = |m: &str| Err(GenesisError::Invalid(m.to_string()));
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return bad("chain_id must be 1 to 64 characters");
        }
        if self.authorities.is_empty() {
            return bad("at least one authority is needed");
        }
        if self.validators.is_empty() {
            return bad("at least one validator is needed");
        }
        if self.params.attestations_required == 0 {
            return bad("params.attestations_required must be at least 1");
        }
        if self.params.block_txs_max == 0 || self.params.tx_bytes_max == 0 {
            return bad("params.block_txs_max and params.tx_bytes_max must be positive");
        }
        if self.params.tx_bytes_max > TX_BYTES_MAX_LIMIT {
            return bad("params.tx_bytes_max may not exceed 16384 (the wire limit of a signed transaction)");
        }
        let mut addrs: Vec<Address> = self.authorities.iter().map(GenesisAccount::address).collect();
        addrs.sort();
        if addrs.windows(2).any(|w| w[0] == w[1]) {
            return bad("an authority key appears twice");
        }
        crate::state::check_validator_set(&self.validator_set()).map_err(GenesisError::Invalid)?;
        Ok(())
    }

    /// The validator set, sorted by address.
    pub fn validator_set(&self) -> Vec<Validator> {
        let mut v: Vec<Validator> = self
            .validators
            .iter()
            .map(|g| Validator { public_key: g.public_key, power: g.power, name: g.name.clone() })
            .collect();
        v.sort_by_key(Validator::address);
        v
    }
}

/// serde of `[u8; 32]` as 64 hex digits.
pub mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes hex.
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Reads hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let bytes = hex::decode(&s).map_err(serde::de::Error::custom)?;
        bytes.try_into().map_err(|_| serde::de::Error::custom("expected 32 bytes (64 hex digits)"))
    }
}
