//! Block headers, blocks, transaction results and rejections, both ways.

use bct_ledger::block::{Accepted, Block, BlockHeader, Rejection, TxResult};
use bct_ledger::Amount;

use super::*;
use crate::pb::rejection as r;
use crate::pb::rejection::Reason;

// ---- header and block ------------------------------------------------------------------------

impl From<&BlockHeader> for pb::BlockHeader {
    fn from(h: &BlockHeader) -> pb::BlockHeader {
        pb::BlockHeader {
            chain_id: h.chain_id.clone(),
            height: h.height,
            prev_hash: h.prev_hash.0.to_vec(),
            time_ms: h.time_ms,
            proposer: h.proposer.0.to_vec(),
            tx_root: h.tx_root.0.to_vec(),
            results_root: h.results_root.0.to_vec(),
            state_root: h.state_root.0.to_vec(),
            validator_set_hash: h.validator_set_hash.0.to_vec(),
            tx_count: h.tx_count,
        }
    }
}

pub(crate) fn block_header_from_pb(h: pb::BlockHeader, at: At<'_>) -> Result<BlockHeader, ProtoError> {
    Ok(BlockHeader {
        chain_id: h.chain_id,
        height: h.height,
        prev_hash: hash(&h.prev_hash, at.field("prev_hash"))?,
        time_ms: h.time_ms,
        proposer: address(&h.proposer, at.field("proposer"))?,
        tx_root: hash(&h.tx_root, at.field("tx_root"))?,
        results_root: hash(&h.results_root, at.field("results_root"))?,
        state_root: hash(&h.state_root, at.field("state_root"))?,
        validator_set_hash: hash(&h.validator_set_hash, at.field("validator_set_hash"))?,
        tx_count: h.tx_count,
    })
}
into_ledger!(pb::BlockHeader => BlockHeader, "block_header", block_header_from_pb);

impl From<&Block> for pb::Block {
    fn from(b: &Block) -> pb::Block {
        pb::Block { header: Some((&b.header).into()), txs: b.txs.iter().map(crate::codec::signed_tx_to_pb).collect() }
    }
}

pub(crate) fn block_from_pb(b: pb::Block, at: At<'_>) -> Result<Block, ProtoError> {
    let header = block_header_from_pb(required(b.header, at.field("header"))?, at.field("header"))?;
    let txs = b
        .txs
        .into_iter()
        .enumerate()
        .map(|(index, t)| {
            crate::codec::signed_tx_from_pb(t).map_err(|e| ProtoError::InBlockTx { index, source: Box::new(e) })
        })
        .collect::<Result<_, _>>()?;
    Ok(Block { header, txs })
}
into_ledger!(pb::Block => Block, "block", block_from_pb);

// ---- results ---------------------------------------------------------------------------------

impl From<&TxResult> for pb::TxResult {
    fn from(t: &TxResult) -> pb::TxResult {
        use pb::tx_result::Outcome;
        let outcome = match &t.outcome {
            Ok(a) => Outcome::Accepted(pb::Accepted {
                ticket: a.ticket.clone(),
                retirement: a.retirement,
                serials: a.serials.iter().map(pb::SerialRange::from).collect(),
            }),
            Err(e) => Outcome::Rejected(e.into()),
        };
        pb::TxResult { tx_id: t.tx.0.to_vec(), outcome: Some(outcome) }
    }
}

pub(crate) fn tx_result_from_pb(t: pb::TxResult, at: At<'_>) -> Result<TxResult, ProtoError> {
    use pb::tx_result::Outcome;
    let outcome = match t.outcome.ok_or_else(|| at.none_set("outcome (accepted or rejected)"))? {
        Outcome::Accepted(a) => {
            let serials = a
                .serials
                .into_iter()
                .map(|r| super::state::serial_range_from_pb(r, at.field("accepted.serials")))
                .collect::<Result<_, _>>()?;
            // One result, one encoding: a ledger never names an empty ticket, so a present but
            // empty `ticket` is refused rather than read as an absent one.
            if a.ticket.as_deref() == Some("") {
                return Err(at
                    .field("accepted.ticket")
                    .invalid("present but empty (leave it out when no ticket is named)"));
            }
            Ok(Accepted { ticket: a.ticket, retirement: a.retirement, serials })
        }
        Outcome::Rejected(r) => Err(rejection_from_pb(r, at.field("rejected"))?),
    };
    Ok(TxResult { tx: hash(&t.tx_id, at.field("tx_id"))?, outcome })
}
into_ledger!(pb::TxResult => TxResult, "tx_result", tx_result_from_pb);

// ---- rejections ------------------------------------------------------------------------------

impl From<&Rejection> for pb::Rejection {
    fn from(e: &Rejection) -> pb::Rejection {
        let a = |x: &Address| x.0.to_vec();
        let reason = match e {
            Rejection::BadSignature => Reason::BadSignature(r::BadSignature {}),
            Rejection::SignerMismatch { signer, key_address } => {
                Reason::SignerMismatch(r::SignerMismatch { signer: a(signer), key_address: a(key_address) })
            }
            Rejection::WrongChainId { expected, got } => {
                Reason::WrongChainId(r::WrongChainId { expected: expected.clone(), got: got.clone() })
            }
            Rejection::StaleNonce { expected, got } => {
                Reason::StaleNonce(r::StaleNonce { expected: *expected, got: *got })
            }
            Rejection::FutureNonce { expected, got } => {
                Reason::FutureNonce(r::FutureNonce { expected: *expected, got: *got })
            }
            Rejection::Expired { expiry_height, height } => {
                Reason::Expired(r::Expired { expiry_height: *expiry_height, height: *height })
            }
            Rejection::UnknownAccount(x) => Reason::UnknownAccount(r::UnknownAccount { address: a(x) }),
            Rejection::AccountSuspended(x) => Reason::AccountSuspended(r::AccountSuspended { address: a(x) }),
            Rejection::AccountFrozen { address, reason } => {
                Reason::AccountFrozen(r::AccountFrozen { address: a(address), reason: reason.clone() })
            }
            Rejection::WrongRole { role, action } => {
                Reason::WrongRole(r::WrongRole { role: role_to_pb(*role).into(), action: action.clone() })
            }
            Rejection::NotYourCustomer { signer, target } => {
                Reason::NotYourCustomer(r::NotYourCustomer { signer: a(signer), target: a(target) })
            }
            Rejection::AccountExists(x) => Reason::AccountExists(r::AccountExists { address: a(x) }),
            Rejection::NotSuspended(x) => Reason::NotSuspended(r::NotSuspended { address: a(x) }),
            Rejection::InvalidField { field, reason } => {
                Reason::InvalidField(r::InvalidField { field: field.clone(), reason: reason.clone() })
            }
            Rejection::ProjectExists(p) => Reason::ProjectExists(r::ProjectExists { project: p.clone() }),
            Rejection::UnknownProject(p) => Reason::UnknownProject(r::UnknownProject { project: p.clone() }),
            Rejection::ProjectNotActive(p) => Reason::ProjectNotActive(r::ProjectNotActive { project: p.clone() }),
            Rejection::MethodologyMismatch { expected, got } => {
                Reason::MethodologyMismatch(r::MethodologyMismatch { expected: expected.clone(), got: got.clone() })
            }
            Rejection::DuplicateAttestation { project, report_hash } => {
                Reason::DuplicateAttestation(r::DuplicateAttestation {
                    project: project.clone(),
                    report_hash: report_hash.0.to_vec(),
                })
            }
            Rejection::NotEnoughAttestations { required, found } => {
                Reason::NotEnoughAttestations(r::NotEnoughAttestations { required: *required, found: *found })
            }
            Rejection::QuantityAboveAttested { requested, attested } => {
                Reason::QuantityAboveAttested(r::QuantityAboveAttested {
                    requested_kg: requested.kg(),
                    attested_kg: attested.kg(),
                })
            }
            Rejection::PeriodOverlap(t) => Reason::PeriodOverlap(r::PeriodOverlap { ticket: t.clone() }),
            Rejection::ZeroAmount => Reason::ZeroAmount(r::ZeroAmount {}),
            Rejection::AmountOverflow => Reason::AmountOverflow(r::AmountOverflow {}),
            Rejection::UnknownTicket(t) => Reason::UnknownTicket(r::UnknownTicket { ticket: t.clone() }),
            Rejection::TicketFrozen { ticket, reason } => {
                Reason::TicketFrozen(r::TicketFrozen { ticket: ticket.clone(), reason: reason.clone() })
            }
            Rejection::InsufficientUnits { holder, ticket, state, available, requested } => {
                Reason::InsufficientUnits(r::InsufficientUnits {
                    holder: a(holder),
                    ticket: ticket.clone(),
                    state: state.clone(),
                    available_kg: available.kg(),
                    requested_kg: requested.kg(),
                })
            }
            Rejection::SelfTransfer => Reason::SelfTransfer(r::SelfTransfer {}),
            Rejection::AlreadyFrozen(t) => Reason::AlreadyFrozen(r::AlreadyFrozen { target: t.clone() }),
            Rejection::NotFrozen(t) => Reason::NotFrozen(r::NotFrozen { target: t.clone() }),
            Rejection::InvalidValidatorSet(s) => {
                Reason::InvalidValidatorSet(r::InvalidValidatorSet { reason: s.clone() })
            }
            Rejection::NotEnoughApprovals { approved, total } => {
                Reason::NotEnoughApprovals(r::NotEnoughApprovals { approved: *approved, total: *total })
            }
            Rejection::BadApproval { index } => Reason::BadApproval(r::BadApproval { index: *index }),
        };
        pb::Rejection { code: e.code().into(), message: e.to_string(), reason: Some(reason) }
    }
}

/// The ledger rejection a protobuf one stands for. `reason` decides the variant; `code`
/// must agree with it; `message` is for people and is not checked.
pub(crate) fn rejection_from_pb(p: pb::Rejection, at: At<'_>) -> Result<Rejection, ProtoError> {
    let reason_at = at.field("reason");
    let addr = |bytes: &[u8], name: &str| address(bytes, reason_at.field(name));
    let rejection = match p.reason.ok_or_else(|| reason_at.none_set("rejection reason"))? {
        Reason::BadSignature(_) => Rejection::BadSignature,
        Reason::SignerMismatch(x) => Rejection::SignerMismatch {
            signer: addr(&x.signer, "signer")?,
            key_address: addr(&x.key_address, "key_address")?,
        },
        Reason::WrongChainId(x) => Rejection::WrongChainId { expected: x.expected, got: x.got },
        Reason::StaleNonce(x) => Rejection::StaleNonce { expected: x.expected, got: x.got },
        Reason::FutureNonce(x) => Rejection::FutureNonce { expected: x.expected, got: x.got },
        Reason::Expired(x) => Rejection::Expired { expiry_height: x.expiry_height, height: x.height },
        Reason::UnknownAccount(x) => Rejection::UnknownAccount(addr(&x.address, "address")?),
        Reason::AccountSuspended(x) => Rejection::AccountSuspended(addr(&x.address, "address")?),
        Reason::AccountFrozen(x) => {
            Rejection::AccountFrozen { address: addr(&x.address, "address")?, reason: x.reason }
        }
        Reason::WrongRole(x) => Rejection::WrongRole { role: role(x.role, reason_at.field("role"))?, action: x.action },
        Reason::NotYourCustomer(x) => {
            Rejection::NotYourCustomer { signer: addr(&x.signer, "signer")?, target: addr(&x.target, "target")? }
        }
        Reason::AccountExists(x) => Rejection::AccountExists(addr(&x.address, "address")?),
        Reason::NotSuspended(x) => Rejection::NotSuspended(addr(&x.address, "address")?),
        Reason::InvalidField(x) => Rejection::InvalidField { field: x.field, reason: x.reason },
        Reason::ProjectExists(x) => Rejection::ProjectExists(x.project),
        Reason::UnknownProject(x) => Rejection::UnknownProject(x.project),
        Reason::ProjectNotActive(x) => Rejection::ProjectNotActive(x.project),
        Reason::MethodologyMismatch(x) => Rejection::MethodologyMismatch { expected: x.expected, got: x.got },
        Reason::DuplicateAttestation(x) => Rejection::DuplicateAttestation {
            project: x.project,
            report_hash: hash(&x.report_hash, reason_at.field("report_hash"))?,
        },
        Reason::NotEnoughAttestations(x) => Rejection::NotEnoughAttestations { required: x.required, found: x.found },
        Reason::QuantityAboveAttested(x) => Rejection::QuantityAboveAttested {
            requested: Amount::from_kg(x.requested_kg),
            attested: Amount::from_kg(x.attested_kg),
        },
        Reason::PeriodOverlap(x) => Rejection::PeriodOverlap(x.ticket),
        Reason::ZeroAmount(_) => Rejection::ZeroAmount,
        Reason::AmountOverflow(_) => Rejection::AmountOverflow,
        Reason::UnknownTicket(x) => Rejection::UnknownTicket(x.ticket),
        Reason::TicketFrozen(x) => Rejection::TicketFrozen { ticket: x.ticket, reason: x.reason },
        Reason::InsufficientUnits(x) => Rejection::InsufficientUnits {
            holder: addr(&x.holder, "holder")?,
            ticket: x.ticket,
            state: x.state,
            available: Amount::from_kg(x.available_kg),
            requested: Amount::from_kg(x.requested_kg),
        },
        Reason::SelfTransfer(_) => Rejection::SelfTransfer,
        Reason::AlreadyFrozen(x) => Rejection::AlreadyFrozen(x.target),
        Reason::NotFrozen(x) => Rejection::NotFrozen(x.target),
        Reason::InvalidValidatorSet(x) => Rejection::InvalidValidatorSet(x.reason),
        Reason::NotEnoughApprovals(x) => Rejection::NotEnoughApprovals { approved: x.approved, total: x.total },
        Reason::BadApproval(x) => Rejection::BadApproval { index: x.index },
    };
    if u32::from(rejection.code()) != p.code {
        return Err(at.field("code").invalid(format!(
            "{} does not match the reason, whose code is {}",
            p.code,
            rejection.code()
        )));
    }
    Ok(rejection)
}
into_ledger!(pb::Rejection => Rejection, "rejection", rejection_from_pb);
