//! The ledger's state types (accounts, projects, attestations, tickets, lots, retirements,
//! totals), both ways: to answer queries, and for clients to read the answers.

use bct_ledger::state::Totals;
use bct_ledger::types::{
    Account, AccountStatus, Attestation, Lot, LotState, Project, ProjectStatus, Retirement, SerialRange, Ticket,
};
use bct_ledger::Amount;

use super::*;

// ---- account ---------------------------------------------------------------------------------

impl From<&Account> for pb::Account {
    fn from(a: &Account) -> pb::Account {
        use pb::account::{Active, Status, Suspended};
        pb::Account {
            address: a.address.0.to_vec(),
            role: role_to_pb(a.role).into(),
            name: a.name.clone(),
            jurisdiction: a.jurisdiction.clone(),
            frozen_reason: a.frozen.clone(),
            nonce: a.nonce,
            admitted_by: a.admitted_by.0.to_vec(),
            admitted_at: a.admitted_at,
            status: Some(match &a.status {
                AccountStatus::Active => Status::Active(Active {}),
                AccountStatus::Suspended { reason } => Status::Suspended(Suspended { reason: reason.clone() }),
            }),
        }
    }
}

fn account_from_pb(a: pb::Account, at: At<'_>) -> Result<Account, ProtoError> {
    use pb::account::Status;
    Ok(Account {
        address: address(&a.address, at.field("address"))?,
        role: role(a.role, at.field("role"))?,
        name: a.name,
        jurisdiction: a.jurisdiction,
        status: match a.status.ok_or_else(|| at.field("status").missing())? {
            Status::Active(_) => AccountStatus::Active,
            Status::Suspended(s) => AccountStatus::Suspended { reason: s.reason },
        },
        frozen: a.frozen_reason,
        nonce: a.nonce,
        admitted_by: address(&a.admitted_by, at.field("admitted_by"))?,
        admitted_at: a.admitted_at,
    })
}
into_ledger!(pb::Account => Account, "account", account_from_pb);

// ---- project ---------------------------------------------------------------------------------

impl From<&Project> for pb::Project {
    fn from(p: &Project) -> pb::Project {
        use pb::project::{Active, Closed, Status, Suspended};
        pb::Project {
            id: p.id.clone(),
            name: p.name.clone(),
            owner: p.owner.0.to_vec(),
            ecosystem: ecosystem_to_pb(p.ecosystem).into(),
            location: Some((&p.location).into()),
            area_centiha: p.area_centiha,
            methodology: Some((&p.methodology).into()),
            registered_at: p.registered_at,
            status: Some(match &p.status {
                ProjectStatus::Active => Status::Active(Active {}),
                ProjectStatus::Suspended { reason } => Status::Suspended(Suspended { reason: reason.clone() }),
                ProjectStatus::Closed => Status::Closed(Closed {}),
            }),
        }
    }
}

fn project_from_pb(p: pb::Project, at: At<'_>) -> Result<Project, ProtoError> {
    use pb::project::Status;
    Ok(Project {
        id: p.id,
        name: p.name,
        owner: address(&p.owner, at.field("owner"))?,
        ecosystem: ecosystem(p.ecosystem, at.field("ecosystem"))?,
        location: location(p.location, at.field("location"))?,
        area_centiha: p.area_centiha,
        methodology: methodology(p.methodology, at.field("methodology"))?,
        status: match p.status.ok_or_else(|| at.field("status").missing())? {
            Status::Active(_) => ProjectStatus::Active,
            Status::Suspended(s) => ProjectStatus::Suspended { reason: s.reason },
            Status::Closed(_) => ProjectStatus::Closed,
        },
        registered_at: p.registered_at,
    })
}
into_ledger!(pb::Project => Project, "project", project_from_pb);

// ---- attestation -----------------------------------------------------------------------------

impl From<&Attestation> for pb::Attestation {
    fn from(a: &Attestation) -> pb::Attestation {
        pb::Attestation {
            project: a.project.clone(),
            verifier: a.verifier.0.to_vec(),
            period: Some((&a.period).into()),
            quantity_kg: a.quantity.kg(),
            methodology: Some((&a.methodology).into()),
            report_hash: a.report_hash.0.to_vec(),
            statement: a.statement.clone(),
            tx_id: a.tx.0.to_vec(),
            height: a.height,
        }
    }
}

fn attestation_from_pb(a: pb::Attestation, at: At<'_>) -> Result<Attestation, ProtoError> {
    Ok(Attestation {
        project: a.project,
        verifier: address(&a.verifier, at.field("verifier"))?,
        period: period(a.period, at.field("period"))?,
        quantity: Amount::from_kg(a.quantity_kg),
        methodology: methodology(a.methodology, at.field("methodology"))?,
        report_hash: hash(&a.report_hash, at.field("report_hash"))?,
        statement: a.statement,
        tx: hash(&a.tx_id, at.field("tx_id"))?,
        height: a.height,
    })
}
into_ledger!(pb::Attestation => Attestation, "attestation", attestation_from_pb);

// ---- ticket ----------------------------------------------------------------------------------

impl From<&Ticket> for pb::Ticket {
    fn from(t: &Ticket) -> pb::Ticket {
        pb::Ticket {
            id: t.id.clone(),
            project: t.project.clone(),
            period: Some((&t.period).into()),
            quantity_kg: t.quantity.kg(),
            serial_first: t.serial_first,
            serial_last: t.serial_last,
            report_hash: t.report_hash.0.to_vec(),
            verifiers: t.verifiers.iter().map(|v| v.0.to_vec()).collect(),
            issued_to: t.issued_to.0.to_vec(),
            issued_at: t.issued_at,
            frozen_reason: t.frozen.clone(),
        }
    }
}

fn ticket_from_pb(t: pb::Ticket, at: At<'_>) -> Result<Ticket, ProtoError> {
    Ok(Ticket {
        id: t.id,
        project: t.project,
        period: period(t.period, at.field("period"))?,
        quantity: Amount::from_kg(t.quantity_kg),
        serial_first: t.serial_first,
        serial_last: t.serial_last,
        report_hash: hash(&t.report_hash, at.field("report_hash"))?,
        verifiers: addresses(&t.verifiers, at.field("verifiers"))?,
        issued_to: address(&t.issued_to, at.field("issued_to"))?,
        issued_at: t.issued_at,
        frozen: t.frozen_reason,
    })
}
into_ledger!(pb::Ticket => Ticket, "ticket", ticket_from_pb);

// ---- lot -------------------------------------------------------------------------------------

impl From<&LotState> for pb::LotState {
    fn from(s: &LotState) -> pb::LotState {
        use pb::lot_state::{Active, Cancelled, Frozen, Pledged, Retired, State};
        let state = match s {
            LotState::Active => State::Active(Active {}),
            LotState::Pledged { pledgee } => State::Pledged(Pledged { pledgee: pledgee.0.to_vec() }),
            LotState::Frozen { reason } => State::Frozen(Frozen { reason: reason.clone() }),
            LotState::Retired { retirement } => State::Retired(Retired { retirement: *retirement }),
            LotState::Cancelled { reason } => State::Cancelled(Cancelled { reason: reason.clone() }),
        };
        pb::LotState { state: Some(state) }
    }
}

fn lot_state_from_pb(s: Option<pb::LotState>, at: At<'_>) -> Result<LotState, ProtoError> {
    use pb::lot_state::State;
    Ok(match required(s, at)?.state.ok_or_else(|| at.none_set("lot state"))? {
        State::Active(_) => LotState::Active,
        State::Pledged(p) => LotState::Pledged { pledgee: address(&p.pledgee, at.field("pledged").field("pledgee"))? },
        State::Frozen(f) => LotState::Frozen { reason: f.reason },
        State::Retired(r) => LotState::Retired { retirement: r.retirement },
        State::Cancelled(c) => LotState::Cancelled { reason: c.reason },
    })
}

impl From<&Lot> for pb::Lot {
    fn from(l: &Lot) -> pb::Lot {
        pb::Lot {
            ticket: l.ticket.clone(),
            first: l.first,
            last: l.last,
            holder: l.holder.0.to_vec(),
            state: Some((&l.state).into()),
        }
    }
}

fn lot_from_pb(l: pb::Lot, at: At<'_>) -> Result<Lot, ProtoError> {
    Ok(Lot {
        ticket: l.ticket,
        first: l.first,
        last: l.last,
        holder: address(&l.holder, at.field("holder"))?,
        state: lot_state_from_pb(l.state, at.field("state"))?,
    })
}
into_ledger!(pb::Lot => Lot, "lot", lot_from_pb);

// ---- retirement ------------------------------------------------------------------------------

impl From<&SerialRange> for pb::SerialRange {
    fn from(r: &SerialRange) -> pb::SerialRange {
        pb::SerialRange { ticket: r.ticket.clone(), first: r.first, last: r.last }
    }
}

pub(crate) fn serial_range_from_pb(r: pb::SerialRange, _at: At<'_>) -> Result<SerialRange, ProtoError> {
    Ok(SerialRange { ticket: r.ticket, first: r.first, last: r.last })
}
into_ledger!(pb::SerialRange => SerialRange, "serial_range", serial_range_from_pb);

impl From<&Retirement> for pb::Retirement {
    fn from(r: &Retirement) -> pb::Retirement {
        pb::Retirement {
            id: r.id,
            retiree: r.retiree.0.to_vec(),
            beneficiary: r.beneficiary.clone(),
            purpose: purpose_to_pb(r.purpose).into(),
            jurisdiction: r.jurisdiction.clone(),
            note: r.note.clone(),
            ticket: r.ticket.clone(),
            quantity_kg: r.quantity.kg(),
            serials: r.serials.iter().map(pb::SerialRange::from).collect(),
            tx_id: r.tx.0.to_vec(),
            height: r.height,
            time_ms: r.time_ms,
        }
    }
}

fn retirement_from_pb(r: pb::Retirement, at: At<'_>) -> Result<Retirement, ProtoError> {
    let serials_at = at.field("serials");
    Ok(Retirement {
        id: r.id,
        retiree: address(&r.retiree, at.field("retiree"))?,
        beneficiary: r.beneficiary,
        purpose: purpose(r.purpose, at.field("purpose"))?,
        jurisdiction: r.jurisdiction,
        note: r.note,
        ticket: r.ticket,
        quantity: Amount::from_kg(r.quantity_kg),
        serials: r
            .serials
            .into_iter()
            .enumerate()
            .map(|(i, s)| serial_range_from_pb(s, serials_at.index(i)))
            .collect::<Result<_, _>>()?,
        tx: hash(&r.tx_id, at.field("tx_id"))?,
        height: r.height,
        time_ms: r.time_ms,
    })
}
into_ledger!(pb::Retirement => Retirement, "retirement", retirement_from_pb);

// ---- totals ----------------------------------------------------------------------------------

impl From<&Totals> for pb::Totals {
    fn from(t: &Totals) -> pb::Totals {
        pb::Totals {
            issued_kg: t.issued.kg(),
            active_kg: t.active.kg(),
            pledged_kg: t.pledged.kg(),
            frozen_kg: t.frozen.kg(),
            retired_kg: t.retired.kg(),
            cancelled_kg: t.cancelled.kg(),
        }
    }
}

fn totals_from_pb(t: pb::Totals, _at: At<'_>) -> Result<Totals, ProtoError> {
    Ok(Totals {
        issued: Amount::from_kg(t.issued_kg),
        active: Amount::from_kg(t.active_kg),
        pledged: Amount::from_kg(t.pledged_kg),
        frozen: Amount::from_kg(t.frozen_kg),
        retired: Amount::from_kg(t.retired_kg),
        cancelled: Amount::from_kg(t.cancelled_kg),
    })
}
into_ledger!(pb::Totals => Totals, "totals", totals_from_pb);
