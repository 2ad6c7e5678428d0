//! The genesis ceremony: a coordinator builds `genesis.json` from what each institution sends
//! (the output of `bct-node id --json` for a validator, a wallet key's public key for an
//! authority), and everyone checks the result by its fingerprint. `bct-node genesis ...` runs
//! these steps; `bct-testnet generate` builds its networks' genesis with them too.
//!
//! A draft may be incomplete (no authority or validator yet); [`check`] requires a whole,
//! valid genesis and gives its fingerprint.

use std::path::Path;

use bct_ledger::genesis::{GenesisAccount, GenesisValidator};
use bct_ledger::{Genesis, Params};
use serde::Deserialize;

use crate::error::NodeError;

fn bad(file: &Path, message: impl std::fmt::Display) -> NodeError {
    NodeError::Config(format!("{}: {message}", file.display()))
}

/// A new draft: `chain_id`, the genesis time, default parameters, nobody yet.
pub fn new_draft(chain_id: &str, genesis_time_ms: u64) -> Result<Genesis, String> {
    if chain_id.is_empty() || chain_id.len() > 64 {
        return Err(format!("the chain id {chain_id:?} must be 1 to 64 characters"));
    }
    if !chain_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        return Err(format!("the chain id {chain_id:?} may hold only letters, digits, '-', '_' and '.'"));
    }
    Ok(Genesis {
        chain_id: chain_id.to_string(),
        genesis_time_ms,
        params: Params::default(),
        authorities: Vec::new(),
        validators: Vec::new(),
    })
}

/// Reads a draft (complete or not): the JSON shape only.
pub fn read_draft(file: &Path) -> Result<Genesis, NodeError> {
    let text = std::fs::read_to_string(file).map_err(|e| bad(file, format!("cannot read it: {e}")))?;
    serde_json::from_str(&text).map_err(|e| bad(file, format!("not a genesis file: {e}")))
}

/// Writes a draft as pretty JSON.
pub fn write_draft(file: &Path, genesis: &Genesis) -> Result<(), NodeError> {
    std::fs::write(file, format!("{}\n", genesis.to_json())).map_err(|e| bad(file, format!("cannot write it: {e}")))
}

/// What `bct-node id --json` prints, as a coordinator receives it.
#[derive(Debug, Deserialize)]
pub struct NodeId {
    /// The node's moniker.
    pub name: String,
    /// `validator` or `observer`.
    #[serde(default)]
    pub role: Option<String>,
    /// ed25519 public key, hex.
    pub public_key: String,
}

/// 32 bytes from 64 hex digits.
pub fn public_key(hex_key: &str) -> Result<[u8; 32], String> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("the public key {hex_key:?} is not 64 hex digits"))
}

/// Adds a validator (a key appearing twice, as validator or authority, is refused).
pub fn add_validator(g: &mut Genesis, public_key: [u8; 32], name: &str, power: u64) -> Result<(), String> {
    if power == 0 {
        return Err("the voting power must be at least 1".into());
    }
    bct_ledger::text::check_free_text(name).map_err(|e| format!("the name {e}"))?;
    if g.validators.iter().any(|v| v.public_key == public_key) {
        return Err(format!("the validator key {} is already in the genesis", hex::encode(public_key)));
    }
    if let Some(v) = g.validators.iter().find(|v| v.name == name) {
        return Err(format!("a validator is already named {name:?} ({})", hex::encode(v.public_key)));
    }
    g.validators.push(GenesisValidator { public_key, power, name: name.to_string() });
    Ok(())
}

/// Adds an authority account (a registry or regulator key from the wallet).
pub fn add_authority(g: &mut Genesis, public_key: [u8; 32], name: &str, jurisdiction: &str) -> Result<(), String> {
    bct_ledger::text::check_free_text(name).map_err(|e| format!("the name {e}"))?;
    bct_ledger::text::check_free_text(jurisdiction).map_err(|e| format!("the jurisdiction {e}"))?;
    if name.trim().is_empty() || jurisdiction.trim().is_empty() {
        return Err("an authority needs a name and a jurisdiction (e.g. CN-FJ)".into());
    }
    if g.authorities.iter().any(|a| a.public_key == public_key) {
        return Err(format!("the authority key {} is already in the genesis", hex::encode(public_key)));
    }
    g.authorities.push(GenesisAccount { public_key, name: name.to_string(), jurisdiction: jurisdiction.to_string() });
    Ok(())
}

/// The settings `set` may change, with what each means.
pub const SETTINGS: [(&str, &str); 6] = [
    ("chain_id", "the chain's name (1-64 letters, digits, '-', '_', '.')"),
    ("genesis_time_ms", "time of the genesis header, ms since the Unix epoch"),
    ("attestations_required", "distinct accredited verifiers that must attest a report before issuance"),
    ("block_txs_max", "most transactions in one block"),
    ("block_bytes_max", "most bytes of transactions in one block"),
    ("tx_bytes_max", "most bytes of one signed transaction (at most 16384)"),
];

/// Sets one of [`SETTINGS`].
pub fn set(g: &mut Genesis, name: &str, value: &str) -> Result<(), String> {
    let number = || value.parse::<u64>().map_err(|_| format!("{name} must be a whole number, not {value:?}"));
    let small = || number().and_then(|n| u32::try_from(n).map_err(|_| format!("{name} must be at most {}", u32::MAX)));
    match name {
        "chain_id" => g.chain_id = new_draft(value, 0)?.chain_id,
        "genesis_time_ms" => g.genesis_time_ms = number()?,
        "attestations_required" => g.params.attestations_required = small()?,
        "block_txs_max" => g.params.block_txs_max = small()?,
        "block_bytes_max" => g.params.block_bytes_max = number()?,
        "tx_bytes_max" => g.params.tx_bytes_max = small()?,
        other => {
            let known: Vec<&str> = SETTINGS.iter().map(|(n, _)| *n).collect();
            return Err(format!("there is no setting {other:?}; the settings are {}", known.join(", ")));
        }
    }
    Ok(())
}

/// Checks a whole genesis as a node reads it; gives its fingerprint.
pub fn check(file: &Path) -> Result<(Genesis, bct_ledger::Hash), NodeError> {
    let text = std::fs::read_to_string(file).map_err(|e| bad(file, format!("cannot read it: {e}")))?;
    let g = Genesis::from_json(&text).map_err(|e| bad(file, e))?;
    let fingerprint = g.fingerprint();
    Ok((g, fingerprint))
}

/// The genesis for people, one line per item.
pub fn describe(g: &Genesis) -> Vec<String> {
    let mut lines = vec![
        format!("chain id:        {}", g.chain_id),
        format!("genesis time:    {} ms since the Unix epoch", g.genesis_time_ms),
        format!(
            "parameters:      {} attestations required; blocks of at most {} transactions and {} bytes; \
             transactions of at most {} bytes",
            g.params.attestations_required, g.params.block_txs_max, g.params.block_bytes_max, g.params.tx_bytes_max
        ),
        format!("authorities:     {}", g.authorities.len()),
    ];
    for a in &g.authorities {
        lines.push(format!("  {} ({}), key {}", a.name, a.jurisdiction, hex::encode(a.public_key)));
    }
    let total: u64 = g.validators.iter().map(|v| v.power).sum();
    lines.push(format!("validators:      {} (total voting power {total})", g.validators.len()));
    for v in &g.validators {
        lines.push(format!("  {} power {}, key {}", v.name, v.power, hex::encode(v.public_key)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> [u8; 32] {
        crate::keys::NodeKey::from_secret([b; 32]).public_key()
    }

    #[test]
    fn a_ceremony_builds_a_valid_genesis_and_refuses_mistakes() {
        let mut g = new_draft("bct-fujian-1", 1_700_000_000_000).expect("draft");
        assert!(g.validate().is_err(), "a draft without members is not a genesis yet");
        add_authority(&mut g, key(1), "Fujian Ocean and Fisheries Bureau", "CN-FJ").expect("authority");
        for (i, name) in
            ["Fujian exchange", "Xiamen exchange", "Hainan exchange", "Shenzhen exchange"].iter().enumerate()
        {
            add_validator(&mut g, key(10 + i as u8), name, 1).expect("validator");
        }
        g.validate().expect("valid");
        // Mistakes, each refused with what was wrong.
        assert!(add_validator(&mut g, key(10), "again", 1).expect_err("twice").contains("already in the genesis"));
        assert!(add_validator(&mut g, key(20), "Fujian exchange", 1).expect_err("name").contains("already named"));
        assert!(add_validator(&mut g, key(21), "x", 0).expect_err("power").contains("at least 1"));
        assert!(add_validator(&mut g, key(22), "a\nb", 1).expect_err("text").contains("control character"));
        assert!(add_authority(&mut g, key(1), "again", "CN").expect_err("twice").contains("already"));
        assert!(set(&mut g, "colour", "blue").expect_err("unknown").contains("no setting \"colour\""));
        assert!(set(&mut g, "block_txs_max", "many").expect_err("number").contains("whole number"));
        assert!(new_draft("bct fujian", 0).expect_err("space").contains("may hold only"));
        set(&mut g, "attestations_required", "3").expect("set");
        assert_eq!(g.params.attestations_required, 3);
        // The fingerprint does not depend on the file's layout.
        let compact = serde_json::to_string(&g).expect("json");
        let pretty = g.to_json();
        let a: Genesis = serde_json::from_str(&compact).expect("read");
        let b: Genesis = serde_json::from_str(&pretty).expect("read");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert!(describe(&g).iter().any(|l| l.contains("Xiamen exchange power 1")));
    }
}
