//! The invariants checked after every block. A failure is a bug: the block is not
//! committed and the node stops.

use crate::amount::Amount;
use crate::state::{State, Totals};
use crate::types::LotState;

/// Checks the invariants over what the current block touched (the state's journal): every
/// touched lot lies inside its ticket and meets its neighbours exactly (so, since lots are
/// never removed, every ticket stays covered without gap or overlap), totals reconcile,
/// nonces only grow, final lots never change, and the holder index matches touched lots.
/// [`check_all`] walks the whole state instead; the tests run both after every block.
pub fn check_block(state: &State) -> Result<(), String> {
    for (first, original) in state.lots.originals() {
        let Some(lot) = state.lots.get(first) else {
            return Err(format!("lot {first} was removed"));
        };
        if let Some(orig) = original {
            if orig.state.is_final() && orig != lot {
                return Err(format!("final lot {first} ({}) changed", orig.state.as_str()));
            }
        }
        if !state.lots_by_holder.contains(&(lot.holder, lot.ticket.clone(), lot.first)) {
            return Err(format!("lot {first} is missing from the holder index"));
        }
        check_neighbours(state, lot)?;
    }
    for (addr, original) in state.accounts.originals() {
        if let (Some(orig), Some(now)) = (original, state.accounts.get(addr)) {
            if now.nonce < orig.nonce {
                return Err(format!("nonce of {addr} went back from {} to {}", orig.nonce, now.nonce));
            }
        }
    }
    check_totals(&state.meta().totals)
}

/// A lot lies within its ticket's serial block, and the lots just below and above it (by
/// serial) continue it exactly when they belong to the same ticket.
fn check_neighbours(state: &State, lot: &crate::types::Lot) -> Result<(), String> {
    let id = &lot.ticket;
    let ticket = state.tickets.get(id).ok_or_else(|| format!("lot {} belongs to unknown ticket {id}", lot.first))?;
    if lot.first < ticket.serial_first || lot.last > ticket.serial_last || lot.last < lot.first {
        return Err(format!("lot {}..={} lies outside ticket {id}", lot.first, lot.last));
    }
    let below = state.lots.range(..lot.first).next_back().map(|(_, l)| l);
    match below {
        Some(b) if b.ticket == *id && b.last + 1 != lot.first => {
            return Err(format!("ticket {id}: lot {}..={} is not followed by lot {}", b.first, b.last, lot.first));
        }
        Some(b) if b.ticket != *id && lot.first != ticket.serial_first => {
            return Err(format!("ticket {id}: no lot covers the serials before {}", lot.first));
        }
        None if lot.first != ticket.serial_first => {
            return Err(format!("ticket {id}: no lot covers the serials before {}", lot.first));
        }
        _ => {}
    }
    let above = state.lots.range(lot.first + 1..).next().map(|(_, l)| l);
    match above {
        Some(a) if a.ticket == *id && lot.last + 1 != a.first => {
            Err(format!("ticket {id}: lot {}..={} is not followed by lot {}", lot.first, lot.last, a.first))
        }
        Some(a) if a.ticket != *id && lot.last != ticket.serial_last => {
            Err(format!("ticket {id}: no lot covers the serials after {}", lot.last))
        }
        None if lot.last != ticket.serial_last => {
            Err(format!("ticket {id}: no lot covers the serials after {}", lot.last))
        }
        _ => Ok(()),
    }
}

/// Checks every invariant over the whole state (start-up, tests).
pub fn check_all(state: &State) -> Result<(), String> {
    let mut recomputed = Totals::default();
    for (id, ticket) in state.tickets.iter() {
        check_ticket(state, id)?;
        recomputed.issued = recomputed.issued.checked_add(ticket.quantity).ok_or("issued overflows")?;
    }
    for (first, lot) in state.lots.iter() {
        if !state.tickets.contains(&lot.ticket) {
            return Err(format!("lot {first} belongs to unknown ticket {}", lot.ticket));
        }
        let bucket = match lot.state {
            LotState::Active => &mut recomputed.active,
            LotState::Pledged { .. } => &mut recomputed.pledged,
            LotState::Frozen { .. } => &mut recomputed.frozen,
            LotState::Retired { .. } => &mut recomputed.retired,
            LotState::Cancelled { .. } => &mut recomputed.cancelled,
        };
        *bucket = bucket.checked_add(lot.amount()).ok_or("totals overflow")?;
    }
    if state.lots_by_holder.len() != state.lots.len() || state.lots_by_ticket.len() != state.lots.len() {
        return Err("lot indexes do not have one entry per lot".into());
    }
    let (groups, tickets) = state.recompute_totals();
    if &groups != state.group_totals() || &tickets != state.ticket_totals() {
        return Err("the totals kept per ticket and per project and vintage differ from the lots".into());
    }
    let totals = state.meta().totals;
    if totals != recomputed {
        return Err(format!("stored totals {totals:?} differ from the lots {recomputed:?}"));
    }
    check_totals(&totals)
}

fn check_totals(t: &Totals) -> Result<(), String> {
    match t.sum_of_states() {
        Some(sum) if sum == t.issued => Ok(()),
        sum => Err(format!(
            "issued {} but active+pledged+frozen+retired+cancelled = {:?}",
            t.issued,
            sum.map(|s: Amount| s.to_string())
        )),
    }
}

/// The lots of a ticket cover its serial block exactly, without gap or overlap.
fn check_ticket(state: &State, id: &str) -> Result<(), String> {
    let ticket = state.tickets.get(&id.to_string()).ok_or_else(|| format!("lots refer to unknown ticket {id}"))?;
    let mut next = ticket.serial_first;
    for lot in state.lots_of_ticket(id) {
        if lot.ticket != id || lot.first != next || lot.last < lot.first {
            return Err(format!("ticket {id}: lot {}..={} does not continue at serial {next}", lot.first, lot.last));
        }
        next = lot.last + 1;
    }
    if next != ticket.serial_last + 1 {
        return Err(format!("ticket {id}: lots end at {} but the ticket ends at {}", next - 1, ticket.serial_last));
    }
    if ticket.quantity.kg() != ticket.serial_last - ticket.serial_first + 1 {
        return Err(format!("ticket {id}: quantity does not match its serial block"));
    }
    Ok(())
}
