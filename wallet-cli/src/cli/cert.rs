//! `bct certificate get` (from a node) and `bct verify` (offline, with only the genesis file).

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use bct_ledger::Genesis;
use bct_wallet::client::certificate::{
    verify_file, CertificateFile, RetirementSummary, Verified, CERTIFICATE_FILE_BYTES_MAX,
};
use bct_wallet::client::Client;
use serde_json::json;

use super::output::{fields, Out};

fn load_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the genesis file {}", path.display()))?;
    Genesis::from_json(&text).with_context(|| format!("{} is not a usable genesis file", path.display()))
}

fn summary_text(s: &RetirementSummary) -> Vec<(&'static str, String)> {
    let serials: Vec<String> = s.serials.iter().map(|r| format!("{}..{} of {}", r.first, r.last, r.ticket)).collect();
    vec![
        ("retirement", format!("{} on chain {}", s.retirement_id, s.chain_id)),
        ("retired by", s.retiree.clone()),
        ("quantity", format!("{} of ticket {}", s.quantity, s.ticket)),
        ("beneficiary", s.beneficiary.clone()),
        ("purpose", s.purpose.clone()),
        ("jurisdiction", s.jurisdiction.clone()),
        ("note", s.note.clone()),
        ("serials", serials.join(", ")),
        ("block", format!("{} at {} (hash {})", s.height, s.time_utc, s.block_hash)),
        ("transaction", s.tx_id.clone()),
    ]
}

/// Fetches the certificate of retirement `id` and writes the file; with `genesis`, verifies
/// it first and writes nothing if it is refused.
pub(crate) async fn get(
    client: &Client,
    id: u64,
    output: &Path,
    genesis: Option<&Path>,
    out: Out,
) -> anyhow::Result<()> {
    let bytes = client.retirement_certificate_bytes(id).await?;
    let file = CertificateFile::from_certificate_bytes(&bytes)
        .with_context(|| format!("the node's certificate of retirement {id} cannot be read"))?;
    let content = file.to_json();
    let verified =
        match genesis {
            Some(g) => Some(verify_file(content.as_bytes(), &load_genesis(g)?).with_context(|| {
                format!("the node's certificate of retirement {id} is refused; nothing was written")
            })?),
            None => None,
        };
    std::fs::write(output, &content).with_context(|| format!("cannot write {}", output.display()))?;
    let v = json!({
        "file": output.display().to_string(),
        "verified": verified.is_some(),
        "retirement": serde_json::to_value(&file.retirement)?,
    });
    out.show(&v, || {
        let mut items = summary_text(&file.retirement);
        items.push(("written to", output.display().to_string()));
        if verified.is_none() {
            items.push(("check it", format!("bct verify {} --genesis genesis.json", output.display())));
        }
        fields(&items)
    });
    Ok(())
}

fn verified_text(v: &Verified, genesis: &Genesis) -> String {
    let signers: Vec<String> = v.signers.iter().map(|s| s.name.clone()).collect();
    let mut items = vec![("VERIFIED", "this retirement is recorded on the chain of the genesis file".to_string())];
    items.push(("certificate", v.certificate_id.clone()));
    items.push(("genesis", format!("chain {}, fingerprint {}", genesis.chain_id, genesis.fingerprint().to_hex())));
    items.push((
        "validator sets",
        match v.set_changes {
            0 => "the genesis set decided the block".to_string(),
            n => format!("{n} change(s) since the genesis, each signed by more than 2/3 of the set before it"),
        },
    ));
    items.extend(summary_text(&v.summary));
    let mixed = bct_ledger::text::mixed_script_words(&v.summary.beneficiary);
    if !mixed.is_empty() {
        items.push((
            "WARNING",
            format!(
                "the beneficiary mixes Latin, Greek or Cyrillic letters in {}: look-alike letters can make a name \
                 pass for another",
                mixed.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    items.push(("signed by", format!("{} of {} voting power: {}", v.signed_power, v.total_power, signers.join(", "))));
    fields(&items)
}

/// Verifies a certificate file offline.
pub(crate) fn verify(file: &Path, genesis: &Path, out: Out) -> anyhow::Result<()> {
    let genesis = load_genesis(genesis)?;
    // Read at most one byte over the limit: enough for `verify_file` to refuse a huge file.
    let mut content = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(CERTIFICATE_FILE_BYTES_MAX as u64 + 1).read_to_end(&mut content))
        .with_context(|| format!("cannot read the certificate {}", file.display()))?;
    let verified = match verify_file(&content, &genesis) {
        Ok(v) => v,
        // With --json, main prints the refusal as {"verified": false, "reason": ...}.
        Err(e) => return Err(anyhow::Error::new(e).context(format!("certificate {} is refused", file.display()))),
    };
    let mixed: Vec<&str> = bct_ledger::text::mixed_script_words(&verified.summary.beneficiary);
    let v = json!({
        "verified": true,
        "certificate_id": verified.certificate_id,
        "warnings": mixed.iter().map(|w| format!("the beneficiary mixes Latin, Greek or Cyrillic letters in \"{w}\"")).collect::<Vec<_>>(),
        "retirement": serde_json::to_value(&verified.summary)?,
        "signed_power": verified.signed_power,
        "total_power": verified.total_power,
        "signers": verified.signers.iter().map(bct_wallet::view::validator).collect::<Vec<_>>(),
        "chain_id": genesis.chain_id,
        "genesis_fingerprint": genesis.fingerprint().to_hex(),
        "validator_set_changes": verified.set_changes,
    });
    out.show(&v, || verified_text(&verified, &genesis));
    Ok(())
}
