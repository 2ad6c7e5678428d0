//! Transaction bodies and every transaction kind, both ways.

use bct_ledger::state::VALIDATORS_MAX;
use bct_ledger::tx::*;
use bct_ledger::types::Validator;
use bct_ledger::Amount;

use super::*;
use crate::pb::tx_body::Kind;

// ---- body ------------------------------------------------------------------------------------

impl From<&TxBody> for pb::TxBody {
    fn from(b: &TxBody) -> pb::TxBody {
        pb::TxBody {
            chain_id: b.chain_id.clone(),
            signer: b.signer.0.to_vec(),
            nonce: b.nonce,
            expiry_height: b.expiry_height,
            kind: Some(Kind::from(&b.kind)),
        }
    }
}

/// Body-level fields are named on their own (`signer`), kind fields from the kind
/// (`transfer.to`), as a user reads them.
pub(crate) fn tx_body_from_pb(b: pb::TxBody, _at: At<'_>) -> Result<TxBody, ProtoError> {
    let kind = b.kind.ok_or_else(|| At::root("tx body").none_set("transaction kind"))?;
    Ok(TxBody {
        chain_id: b.chain_id,
        signer: address(&b.signer, At::root("signer"))?,
        nonce: b.nonce,
        expiry_height: b.expiry_height,
        kind: tx_kind_from_pb(kind)?,
    })
}
into_ledger!(pb::TxBody => TxBody, "tx body", tx_body_from_pb);

// ---- kinds -----------------------------------------------------------------------------------

impl From<&TxKind> for Kind {
    fn from(k: &TxKind) -> Kind {
        match k {
            TxKind::AdmitAccount(t) => Kind::AdmitAccount(pb::AdmitAccount {
                address: t.address.0.to_vec(),
                role: role_to_pb(t.role).into(),
                name: t.name.clone(),
                jurisdiction: t.jurisdiction.clone(),
            }),
            TxKind::UpdateAccount(t) => Kind::UpdateAccount(pb::UpdateAccount {
                address: t.address.0.to_vec(),
                name: t.name.clone(),
                jurisdiction: t.jurisdiction.clone(),
                role: t.role.map(|r| role_to_pb(r).into()),
            }),
            TxKind::SuspendAccount(t) => {
                Kind::SuspendAccount(pb::SuspendAccount { address: t.address.0.to_vec(), reason: t.reason.clone() })
            }
            TxKind::ReinstateAccount(t) => {
                Kind::ReinstateAccount(pb::ReinstateAccount { address: t.address.0.to_vec() })
            }
            TxKind::RegisterProject(t) => Kind::RegisterProject(pb::RegisterProject {
                id: t.id.clone(),
                name: t.name.clone(),
                owner: t.owner.0.to_vec(),
                ecosystem: ecosystem_to_pb(t.ecosystem).into(),
                location: Some((&t.location).into()),
                area_centiha: t.area_centiha,
                methodology: Some((&t.methodology).into()),
            }),
            TxKind::UpdateProject(t) => Kind::UpdateProject(pb::UpdateProject {
                id: t.id.clone(),
                name: t.name.clone(),
                owner: t.owner.map(|a| a.0.to_vec()),
                area_centiha: t.area_centiha,
                status: t.status.as_ref().map(status_change_to_pb),
            }),
            TxKind::Attest(t) => Kind::Attest(pb::Attest {
                project: t.project.clone(),
                period: Some((&t.period).into()),
                quantity_kg: t.quantity.kg(),
                methodology: Some((&t.methodology).into()),
                report_hash: t.report_hash.0.to_vec(),
                statement: t.statement.clone(),
            }),
            TxKind::Issue(t) => Kind::Issue(pb::Issue {
                project: t.project.clone(),
                period: Some((&t.period).into()),
                report_hash: t.report_hash.0.to_vec(),
                quantity_kg: t.quantity.kg(),
                recipient: t.recipient.map(|a| a.0.to_vec()),
            }),
            TxKind::Transfer(t) => Kind::Transfer(pb::Transfer {
                ticket: t.ticket.clone(),
                to: t.to.0.to_vec(),
                quantity_kg: t.quantity.kg(),
                trade: t.trade.as_ref().map(|tr| pb::Trade {
                    price_per_tonne_minor: tr.price_per_tonne_minor,
                    currency: tr.currency.clone(),
                    reference: tr.reference.clone(),
                }),
            }),
            TxKind::Retire(t) => Kind::Retire(pb::Retire {
                ticket: t.ticket.clone(),
                quantity_kg: t.quantity.kg(),
                beneficiary: t.beneficiary.clone(),
                purpose: purpose_to_pb(t.purpose).into(),
                jurisdiction: t.jurisdiction.clone(),
                note: t.note.clone(),
            }),
            TxKind::Pledge(t) => Kind::Pledge(pb::Pledge {
                ticket: t.ticket.clone(),
                quantity_kg: t.quantity.kg(),
                pledgee: t.pledgee.0.to_vec(),
            }),
            TxKind::Release(t) => Kind::Release(pb::Release {
                ticket: t.ticket.clone(),
                holder: t.holder.0.to_vec(),
                quantity_kg: t.quantity.kg(),
            }),
            TxKind::Seize(t) => Kind::Seize(pb::Seize {
                ticket: t.ticket.clone(),
                holder: t.holder.0.to_vec(),
                quantity_kg: t.quantity.kg(),
            }),
            TxKind::Freeze(t) => {
                Kind::Freeze(pb::Freeze { target: Some(freeze_target_to_pb(&t.target)), reason: t.reason.clone() })
            }
            TxKind::Unfreeze(t) => Kind::Unfreeze(pb::Unfreeze { target: Some(freeze_target_to_pb(&t.target)) }),
            TxKind::Cancel(t) => Kind::Cancel(pb::Cancel {
                ticket: t.ticket.clone(),
                holder: t.holder.0.to_vec(),
                quantity_kg: t.quantity.kg(),
                reason: t.reason.clone(),
            }),
            TxKind::UpdateValidators(t) => Kind::UpdateValidators(pb::UpdateValidators {
                validators: t.validators.iter().map(pb::Validator::from).collect(),
                approvals: t
                    .approvals
                    .iter()
                    .map(|a| pb::Approval { public_key: a.public_key.to_vec(), signature: a.signature.to_vec() })
                    .collect(),
            }),
        }
    }
}

/// The protobuf form of a transaction kind.
pub fn tx_kind_to_pb(kind: &TxKind) -> Kind {
    Kind::from(kind)
}

/// Checks and converts a transaction kind; errors are named from the kind (`transfer.to`).
pub fn tx_kind_from_pb(kind: Kind) -> Result<TxKind, ProtoError> {
    Ok(match kind {
        Kind::AdmitAccount(t) => {
            let at = At::root("admit_account");
            TxKind::AdmitAccount(AdmitAccount {
                address: address(&t.address, at.field("address"))?,
                role: role(t.role, at.field("role"))?,
                name: t.name,
                jurisdiction: t.jurisdiction,
            })
        }
        Kind::UpdateAccount(t) => {
            let at = At::root("update_account");
            TxKind::UpdateAccount(UpdateAccount {
                address: address(&t.address, at.field("address"))?,
                name: t.name,
                jurisdiction: t.jurisdiction,
                role: t.role.map(|r| role(r, at.field("role"))).transpose()?,
            })
        }
        Kind::SuspendAccount(t) => {
            let at = At::root("suspend_account");
            TxKind::SuspendAccount(SuspendAccount {
                address: address(&t.address, at.field("address"))?,
                reason: t.reason,
            })
        }
        Kind::ReinstateAccount(t) => {
            let at = At::root("reinstate_account");
            TxKind::ReinstateAccount(ReinstateAccount { address: address(&t.address, at.field("address"))? })
        }
        Kind::RegisterProject(t) => {
            let at = At::root("register_project");
            TxKind::RegisterProject(RegisterProject {
                id: t.id,
                name: t.name,
                owner: address(&t.owner, at.field("owner"))?,
                ecosystem: ecosystem(t.ecosystem, at.field("ecosystem"))?,
                location: location(t.location, at.field("location"))?,
                area_centiha: t.area_centiha,
                methodology: methodology(t.methodology, at.field("methodology"))?,
            })
        }
        Kind::UpdateProject(t) => {
            let at = At::root("update_project");
            TxKind::UpdateProject(UpdateProject {
                id: t.id,
                name: t.name,
                owner: opt_address(t.owner, at.field("owner"))?,
                area_centiha: t.area_centiha,
                status: t.status.map(|s| status_change_from_pb(s, at.field("status"))).transpose()?,
            })
        }
        Kind::Attest(t) => {
            let at = At::root("attest");
            TxKind::Attest(Attest {
                project: t.project,
                period: period(t.period, at.field("period"))?,
                quantity: Amount::from_kg(t.quantity_kg),
                methodology: methodology(t.methodology, at.field("methodology"))?,
                report_hash: hash(&t.report_hash, at.field("report_hash"))?,
                statement: t.statement,
            })
        }
        Kind::Issue(t) => {
            let at = At::root("issue");
            TxKind::Issue(Issue {
                project: t.project,
                period: period(t.period, at.field("period"))?,
                report_hash: hash(&t.report_hash, at.field("report_hash"))?,
                quantity: Amount::from_kg(t.quantity_kg),
                recipient: opt_address(t.recipient, at.field("recipient"))?,
            })
        }
        Kind::Transfer(t) => {
            let at = At::root("transfer");
            TxKind::Transfer(Transfer {
                ticket: t.ticket,
                to: address(&t.to, at.field("to"))?,
                quantity: Amount::from_kg(t.quantity_kg),
                trade: t.trade.map(|tr| Trade {
                    price_per_tonne_minor: tr.price_per_tonne_minor,
                    currency: tr.currency,
                    reference: tr.reference,
                }),
            })
        }
        Kind::Retire(t) => {
            let at = At::root("retire");
            TxKind::Retire(Retire {
                ticket: t.ticket,
                quantity: Amount::from_kg(t.quantity_kg),
                beneficiary: t.beneficiary,
                purpose: purpose(t.purpose, at.field("purpose"))?,
                jurisdiction: t.jurisdiction,
                note: t.note,
            })
        }
        Kind::Pledge(t) => {
            let at = At::root("pledge");
            TxKind::Pledge(Pledge {
                ticket: t.ticket,
                quantity: Amount::from_kg(t.quantity_kg),
                pledgee: address(&t.pledgee, at.field("pledgee"))?,
            })
        }
        Kind::Release(t) => {
            let at = At::root("release");
            TxKind::Release(Release {
                ticket: t.ticket,
                holder: address(&t.holder, at.field("holder"))?,
                quantity: Amount::from_kg(t.quantity_kg),
            })
        }
        Kind::Seize(t) => {
            let at = At::root("seize");
            TxKind::Seize(Seize {
                ticket: t.ticket,
                holder: address(&t.holder, at.field("holder"))?,
                quantity: Amount::from_kg(t.quantity_kg),
            })
        }
        Kind::Freeze(t) => {
            let at = At::root("freeze");
            TxKind::Freeze(Freeze { target: freeze_target_from_pb(t.target, at.field("target"))?, reason: t.reason })
        }
        Kind::Unfreeze(t) => {
            let at = At::root("unfreeze");
            TxKind::Unfreeze(Unfreeze { target: freeze_target_from_pb(t.target, at.field("target"))? })
        }
        Kind::Cancel(t) => {
            let at = At::root("cancel");
            TxKind::Cancel(Cancel {
                ticket: t.ticket,
                holder: address(&t.holder, at.field("holder"))?,
                quantity: Amount::from_kg(t.quantity_kg),
                reason: t.reason,
            })
        }
        Kind::UpdateValidators(t) => {
            let at = At::root("update_validators");
            // A valid change never has more entries than a validator set may; refusing more here
            // keeps a body's few bytes per empty entry from growing into much more memory.
            for (name, count) in [("validators", t.validators.len()), ("approvals", t.approvals.len())] {
                if count > VALIDATORS_MAX {
                    return Err(at
                        .field(name)
                        .invalid(format!("{count} entries; at most {VALIDATORS_MAX} are accepted")));
                }
            }
            let vs = at.field("validators");
            let validators = t
                .validators
                .into_iter()
                .enumerate()
                .map(|(i, v)| validator_from_pb(v, vs.index(i)))
                .collect::<Result<Vec<_>, _>>()?;
            let aps = at.field("approvals");
            let approvals = t
                .approvals
                .into_iter()
                .enumerate()
                .map(|(i, a)| {
                    let at = aps.index(i);
                    Ok(Approval {
                        public_key: public_key(&a.public_key, at.field("public_key"))?,
                        signature: signature(&a.signature, at.field("signature"))?,
                    })
                })
                .collect::<Result<Vec<_>, ProtoError>>()?;
            TxKind::UpdateValidators(UpdateValidators { validators, approvals })
        }
    })
}

fn status_change_to_pb(s: &ProjectStatusChange) -> pb::ProjectStatusChange {
    use pb::project_status_change::{Activate, Change, Close, Suspend};
    let change = match s {
        ProjectStatusChange::Activate => Change::Activate(Activate {}),
        ProjectStatusChange::Suspend { reason } => Change::Suspend(Suspend { reason: reason.clone() }),
        ProjectStatusChange::Close => Change::Close(Close {}),
    };
    pb::ProjectStatusChange { change: Some(change) }
}

fn status_change_from_pb(s: pb::ProjectStatusChange, at: At<'_>) -> Result<ProjectStatusChange, ProtoError> {
    use pb::project_status_change::Change;
    Ok(match s.change.ok_or_else(|| at.none_set("status change"))? {
        Change::Activate(_) => ProjectStatusChange::Activate,
        Change::Suspend(s) => ProjectStatusChange::Suspend { reason: s.reason },
        Change::Close(_) => ProjectStatusChange::Close,
    })
}

fn freeze_target_to_pb(t: &FreezeTarget) -> pb::FreezeTarget {
    use pb::freeze_target::Target;
    let target = match t {
        FreezeTarget::Account(a) => Target::Account(a.0.to_vec()),
        FreezeTarget::Ticket(id) => Target::Ticket(id.clone()),
    };
    pb::FreezeTarget { target: Some(target) }
}

fn freeze_target_from_pb(t: Option<pb::FreezeTarget>, at: At<'_>) -> Result<FreezeTarget, ProtoError> {
    use pb::freeze_target::Target;
    Ok(match required(t, at)?.target.ok_or_else(|| at.none_set("account or ticket"))? {
        Target::Account(a) => FreezeTarget::Account(address(&a, at.field("account"))?),
        Target::Ticket(id) => FreezeTarget::Ticket(id),
    })
}

// ---- validators ------------------------------------------------------------------------------

impl From<&Validator> for pb::Validator {
    fn from(v: &Validator) -> pb::Validator {
        pb::Validator { public_key: v.public_key.to_vec(), power: v.power, name: v.name.clone() }
    }
}

pub(crate) fn validator_from_pb(v: pb::Validator, at: At<'_>) -> Result<Validator, ProtoError> {
    Ok(Validator { public_key: public_key(&v.public_key, at.field("public_key"))?, power: v.power, name: v.name })
}
into_ledger!(pb::Validator => Validator, "validator", validator_from_pb);
