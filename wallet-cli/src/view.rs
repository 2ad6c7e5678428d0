//! JSON views of ledger values for people and scripts: addresses in bech32, hashes in hex,
//! quantities both as tonnes text (`12.5t`) and as kilograms, dates as `YYYY-MM-DD`, times in UTC.
//!
//! `bct --json` prints these; the testnet tool and tests can reuse them so every program shows
//! the same value the same way.

use bct_ledger::block::{BlockHeader, TxResult};
use bct_ledger::state::Totals;
use bct_ledger::tx::{FreezeTarget, ProjectStatusChange, TxKind};
use bct_ledger::types::{
    Account, AccountStatus, Attestation, Lot, LotState, Methodology, Period, Project, ProjectStatus, Retirement,
    SerialRange, Ticket, Validator,
};
use bct_ledger::{Amount, SignedTx};
use serde_json::{json, Value};

pub use bct_proto::certificate::utc;

use crate::client::consensus::CommitCertificate;
use crate::client::{Committed, TxStatus};

/// An area in hundredths of a hectare as hectares, e.g. `171.8 ha`.
pub fn hectares(centiha: u64) -> String {
    let (whole, frac) = (centiha / 100, centiha % 100);
    if frac == 0 {
        format!("{whole} ha")
    } else {
        format!("{whole}.{} ha", format!("{frac:02}").trim_end_matches('0'))
    }
}

/// A quantity: `{"t": "12.5t", "kg": 12500}`.
pub fn amount(a: Amount) -> Value {
    json!({ "t": a.to_string(), "kg": a.kg() })
}

/// A monitoring period.
pub fn period(p: &Period) -> Value {
    json!({ "start": p.start.to_string(), "end": p.end.to_string() })
}

/// A methodology.
pub fn methodology(m: &Methodology) -> Value {
    json!({ "id": m.id, "version": m.version })
}

/// An account, with its next nonce if known.
pub fn account(a: &Account, next_nonce: Option<u64>) -> Value {
    let (status, suspended_reason) = match &a.status {
        AccountStatus::Active => ("active", None),
        AccountStatus::Suspended { reason } => ("suspended", Some(reason.clone())),
    };
    json!({
        "address": a.address.to_string(),
        "role": a.role.as_str(),
        "name": a.name,
        "jurisdiction": a.jurisdiction,
        "status": status,
        "suspended_reason": suspended_reason,
        "frozen_reason": a.frozen,
        "nonce": a.nonce,
        "next_nonce": next_nonce,
        "admitted_by": a.admitted_by.to_string(),
        "admitted_at": a.admitted_at,
    })
}

/// A lot state: its name and detail.
pub fn lot_state(s: &LotState) -> Value {
    match s {
        LotState::Active => json!({ "state": "active" }),
        LotState::Pledged { pledgee } => json!({ "state": "pledged", "pledgee": pledgee.to_string() }),
        LotState::Frozen { reason } => json!({ "state": "frozen", "reason": reason }),
        LotState::Retired { retirement } => json!({ "state": "retired", "retirement": retirement }),
        LotState::Cancelled { reason } => json!({ "state": "cancelled", "reason": reason }),
    }
}

/// The detail of a lot state in words (`pledged to bct1...`), empty for active lots.
pub fn lot_state_detail(s: &LotState) -> String {
    match s {
        LotState::Active => String::new(),
        LotState::Pledged { pledgee } => format!("to {pledgee}"),
        LotState::Frozen { reason } => reason.clone(),
        LotState::Retired { retirement } => format!("retirement {retirement}"),
        LotState::Cancelled { reason } => reason.clone(),
    }
}

/// A lot.
pub fn lot(l: &Lot) -> Value {
    json!({
        "ticket": l.ticket,
        "first": l.first,
        "last": l.last,
        "quantity": amount(l.amount()),
        "holder": l.holder.to_string(),
        "state": lot_state(&l.state),
    })
}

/// A ticket.
pub fn ticket(t: &Ticket) -> Value {
    json!({
        "id": t.id,
        "project": t.project,
        "period": period(&t.period),
        "vintage": t.period.vintage(),
        "quantity": amount(t.quantity),
        "serial_first": t.serial_first,
        "serial_last": t.serial_last,
        "report_hash": t.report_hash.to_hex(),
        "verifiers": t.verifiers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "issued_to": t.issued_to.to_string(),
        "issued_at": t.issued_at,
        "frozen_reason": t.frozen,
    })
}

/// An attestation.
pub fn attestation(a: &Attestation) -> Value {
    json!({
        "project": a.project,
        "verifier": a.verifier.to_string(),
        "period": period(&a.period),
        "quantity": amount(a.quantity),
        "methodology": methodology(&a.methodology),
        "report_hash": a.report_hash.to_hex(),
        "statement": a.statement,
        "tx_id": a.tx.to_hex(),
        "height": a.height,
    })
}

/// A project status in words.
pub fn project_status(s: &ProjectStatus) -> String {
    match s {
        ProjectStatus::Active => "active".into(),
        ProjectStatus::Suspended { reason } => format!("suspended: {reason}"),
        ProjectStatus::Closed => "closed".into(),
    }
}

/// A project.
pub fn project(p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "owner": p.owner.to_string(),
        "ecosystem": p.ecosystem.as_str(),
        "region": p.location.region,
        "coordinates_microdeg": p.location.coordinates.map(|(lat, lon)| json!({ "latitude": lat, "longitude": lon })),
        "area_centiha": p.area_centiha,
        "area": hectares(p.area_centiha),
        "methodology": methodology(&p.methodology),
        "status": project_status(&p.status),
        "registered_at": p.registered_at,
    })
}

/// A serial range.
pub fn serial_range(r: &SerialRange) -> Value {
    json!({ "ticket": r.ticket, "first": r.first, "last": r.last })
}

/// A retirement.
pub fn retirement(r: &Retirement) -> Value {
    json!({
        "id": r.id,
        "retiree": r.retiree.to_string(),
        "beneficiary": r.beneficiary,
        "purpose": r.purpose.as_str(),
        "jurisdiction": r.jurisdiction,
        "note": r.note,
        "ticket": r.ticket,
        "quantity": amount(r.quantity),
        "serials": r.serials.iter().map(serial_range).collect::<Vec<_>>(),
        "tx_id": r.tx.to_hex(),
        "height": r.height,
        "time_ms": r.time_ms,
        "time_utc": utc(r.time_ms),
    })
}

/// Totals by lot state.
pub fn totals(t: &Totals) -> Value {
    json!({
        "issued": amount(t.issued),
        "active": amount(t.active),
        "pledged": amount(t.pledged),
        "frozen": amount(t.frozen),
        "retired": amount(t.retired),
        "cancelled": amount(t.cancelled),
    })
}

/// A validator.
pub fn validator(v: &Validator) -> Value {
    json!({
        "name": v.name,
        "address": v.address().to_string(),
        "public_key": hex::encode(v.public_key),
        "power": v.power,
    })
}

/// A block header, with its hash.
pub fn header(h: &BlockHeader) -> Value {
    json!({
        "chain_id": h.chain_id,
        "height": h.height,
        "hash": h.hash().to_hex(),
        "prev_hash": h.prev_hash.to_hex(),
        "time_ms": h.time_ms,
        "time_utc": utc(h.time_ms),
        "proposer": h.proposer.to_string(),
        "tx_root": h.tx_root.to_hex(),
        "results_root": h.results_root.to_hex(),
        "state_root": h.state_root.to_hex(),
        "validator_set_hash": h.validator_set_hash.to_hex(),
        "tx_count": h.tx_count,
    })
}

/// A transaction result.
pub fn tx_result(r: &TxResult) -> Value {
    match &r.outcome {
        Ok(a) => json!({
            "tx_id": r.tx.to_hex(),
            "accepted": true,
            "ticket": a.ticket,
            "retirement": a.retirement,
            "serials": a.serials.iter().map(serial_range).collect::<Vec<_>>(),
        }),
        Err(e) => json!({
            "tx_id": r.tx.to_hex(),
            "accepted": false,
            "rejection_code": e.code(),
            "rejection": e.to_string(),
        }),
    }
}

/// A result in words: `accepted`, `accepted: ticket X`, `rejected (code): why`.
pub fn tx_result_text(r: &TxResult) -> String {
    match &r.outcome {
        Ok(a) => {
            let mut parts = Vec::new();
            if let Some(t) = &a.ticket {
                parts.push(format!("ticket {t}"));
            }
            if let Some(id) = a.retirement {
                parts.push(format!("retirement {id}"));
            }
            for s in &a.serials {
                parts.push(format!("serials {}..{} of {}", s.first, s.last, s.ticket));
            }
            if parts.is_empty() {
                "accepted".into()
            } else {
                format!("accepted: {}", parts.join(", "))
            }
        }
        Err(e) => format!("rejected ({}): {e}", e.code()),
    }
}

fn freeze_target(t: &FreezeTarget) -> Value {
    match t {
        FreezeTarget::Account(a) => json!({ "account": a.to_string() }),
        FreezeTarget::Ticket(id) => json!({ "ticket": id }),
    }
}

/// What a transaction asks for, field by field.
pub fn tx_kind(k: &TxKind) -> Value {
    match k {
        TxKind::AdmitAccount(t) => json!({
            "address": t.address.to_string(), "role": t.role.as_str(), "name": t.name, "jurisdiction": t.jurisdiction,
        }),
        TxKind::UpdateAccount(t) => json!({
            "address": t.address.to_string(), "name": t.name, "jurisdiction": t.jurisdiction,
            "role": t.role.map(|r| r.as_str()),
        }),
        TxKind::SuspendAccount(t) => json!({ "address": t.address.to_string(), "reason": t.reason }),
        TxKind::ReinstateAccount(t) => json!({ "address": t.address.to_string() }),
        TxKind::RegisterProject(t) => json!({
            "id": t.id, "name": t.name, "owner": t.owner.to_string(), "ecosystem": t.ecosystem.as_str(),
            "region": t.location.region,
            "coordinates_microdeg": t.location.coordinates.map(|(lat, lon)| json!({ "latitude": lat, "longitude": lon })),
            "area_centiha": t.area_centiha, "methodology": methodology(&t.methodology),
        }),
        TxKind::UpdateProject(t) => json!({
            "id": t.id, "name": t.name, "owner": t.owner.map(|o| o.to_string()), "area_centiha": t.area_centiha,
            "status": t.status.as_ref().map(|s| match s {
                ProjectStatusChange::Activate => "activate".to_string(),
                ProjectStatusChange::Suspend { reason } => format!("suspend: {reason}"),
                ProjectStatusChange::Close => "close".to_string(),
            }),
        }),
        TxKind::Attest(t) => json!({
            "project": t.project, "period": period(&t.period), "quantity": amount(t.quantity),
            "methodology": methodology(&t.methodology), "report_hash": t.report_hash.to_hex(), "statement": t.statement,
        }),
        TxKind::Issue(t) => json!({
            "project": t.project, "period": period(&t.period), "report_hash": t.report_hash.to_hex(),
            "quantity": amount(t.quantity), "recipient": t.recipient.map(|r| r.to_string()),
        }),
        TxKind::Transfer(t) => json!({
            "ticket": t.ticket, "to": t.to.to_string(), "quantity": amount(t.quantity),
            "trade": t.trade.as_ref().map(|tr| json!({
                "price_per_tonne_minor": tr.price_per_tonne_minor, "currency": tr.currency, "reference": tr.reference,
            })),
        }),
        TxKind::Retire(t) => json!({
            "ticket": t.ticket, "quantity": amount(t.quantity), "beneficiary": t.beneficiary,
            "purpose": t.purpose.as_str(), "jurisdiction": t.jurisdiction, "note": t.note,
        }),
        TxKind::Pledge(t) => {
            json!({ "ticket": t.ticket, "quantity": amount(t.quantity), "pledgee": t.pledgee.to_string() })
        }
        TxKind::Release(t) => {
            json!({ "ticket": t.ticket, "holder": t.holder.to_string(), "quantity": amount(t.quantity) })
        }
        TxKind::Seize(t) => {
            json!({ "ticket": t.ticket, "holder": t.holder.to_string(), "quantity": amount(t.quantity) })
        }
        TxKind::Freeze(t) => json!({ "target": freeze_target(&t.target), "reason": t.reason }),
        TxKind::Unfreeze(t) => json!({ "target": freeze_target(&t.target) }),
        TxKind::Cancel(t) => json!({
            "ticket": t.ticket, "holder": t.holder.to_string(), "quantity": amount(t.quantity), "reason": t.reason,
        }),
        TxKind::UpdateValidators(t) => json!({
            "validators": t.validators.iter().map(validator).collect::<Vec<_>>(),
            "approvals": t.approvals.iter().map(|a| json!({
                "public_key": hex::encode(a.public_key), "signature": hex::encode(a.signature),
            })).collect::<Vec<_>>(),
        }),
    }
}

/// A signed transaction: id, signer, nonce and what it asks for.
pub fn signed_tx(t: &SignedTx) -> Value {
    let b = t.body();
    json!({
        "id": t.id().to_hex(),
        "chain_id": b.chain_id,
        "signer": b.signer.to_string(),
        "signer_public_key": hex::encode(t.public_key()),
        "nonce": b.nonce,
        "expiry_height": b.expiry_height,
        "kind": b.kind.name(),
        b.kind.name(): tx_kind(&b.kind),
    })
}

/// Where a committed transaction is and what it did.
pub fn committed(c: &Committed) -> Value {
    json!({
        "height": c.height,
        "index": c.index,
        "time_ms": c.time_ms,
        "time_utc": utc(c.time_ms),
        "result": tx_result(&c.result),
    })
}

/// A transaction's status.
pub fn tx_status(s: &TxStatus) -> Value {
    match s {
        TxStatus::Unknown => json!({ "status": "unknown" }),
        TxStatus::Pending => json!({ "status": "pending" }),
        TxStatus::Committed(c) => json!({ "status": "committed", "committed": committed(c) }),
    }
}

/// A commit certificate.
pub fn commit(c: &CommitCertificate) -> Value {
    json!({
        "height": c.height,
        "round": c.round,
        "block_hash": c.block_hash.to_hex(),
        "signatures": c.signatures.iter().map(|s| json!({
            "validator_public_key": hex::encode(s.public_key),
            "signature": hex::encode(s.signature),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(1_695_715_200_123), "2023-09-26T08:00:00.123Z");
        // 2000-02-29 (a leap day) and 2100-03-01 (2100 is not a leap year).
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(4_107_542_400_000), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn hectares_without_trailing_zeros() {
        assert_eq!(hectares(17_180), "171.8 ha");
        assert_eq!(hectares(12_600), "126 ha");
        assert_eq!(hectares(5), "0.05 ha");
    }
}
