//! The rules: how each transaction kind changes the state, or why it is rejected.

use crate::amount::Amount;
use crate::block::{Accepted, Rejection};
use crate::crypto::{self, Address};
use crate::genesis::Params;
use crate::state::{check_validator_set, State};
use crate::tx::*;
use crate::types::*;

/// What a transaction is executed against besides the state.
pub(crate) struct Env<'a> {
    pub(crate) chain_id: &'a str,
    pub(crate) params: &'a Params,
    pub(crate) height: u64,
    pub(crate) time_ms: u64,
}

/// Longest free-text note or statement, in bytes.
pub const NOTE_BYTES_MAX: usize = 1024;
/// Longest name or beneficiary, in bytes.
pub const NAME_BYTES_MAX: usize = 256;
/// Longest identifier (project id, region, jurisdiction, methodology, currency), in bytes.
pub const ID_BYTES_MAX: usize = 64;

type Outcome = Result<Accepted, Rejection>;

/// Executes one transaction of a block. `Err`: it may not be in a block at all (it fails
/// [`includable`], and nothing changed). `Ok(outcome)`: it is included and its nonce is
/// used, whether the outcome is an acceptance or a rejection; a rejection changes nothing
/// else. So a transaction id has one final outcome: the same bytes again carry a used nonce,
/// which no block may include. `signature_ok` comes from the caller (batch verification).
pub(crate) fn apply_tx(
    state: &mut State,
    env: &Env<'_>,
    tx: &SignedTx,
    signature_ok: bool,
) -> Result<Outcome, Rejection> {
    let mut signer = includable(state, env, tx, signature_ok)?.clone();
    signer.nonce = tx.body().nonce;
    state.accounts.put(signer.address, signer.clone());
    let cp = state.checkpoint();
    let outcome = apply_kind(state, env, &signer, tx);
    if outcome.is_err() {
        state.rollback(cp);
    }
    Ok(outcome)
}

/// The inclusion rule: a block may carry a transaction only if its signature verifies, its
/// signer is the address of its key, it is for this chain, it has not expired, its signer is
/// an account (admitted, possibly suspended), and its nonce is exactly the signer's next one.
/// Returns the signer's account.
pub(crate) fn includable<'s>(
    state: &'s State,
    env: &Env<'_>,
    tx: &SignedTx,
    signature_ok: bool,
) -> Result<&'s Account, Rejection> {
    if !signature_ok {
        return Err(Rejection::BadSignature);
    }
    let body = tx.body();
    let key_address = Address::from_public_key(tx.public_key());
    if body.signer != key_address {
        return Err(Rejection::SignerMismatch { signer: body.signer, key_address });
    }
    if body.chain_id != env.chain_id {
        return Err(Rejection::WrongChainId { expected: env.chain_id.to_string(), got: body.chain_id.clone() });
    }
    if body.expiry_height != 0 && env.height > body.expiry_height {
        return Err(Rejection::Expired { expiry_height: body.expiry_height, height: env.height });
    }
    let signer = state.accounts.get(&body.signer).ok_or(Rejection::UnknownAccount(body.signer))?;
    let expected = signer.nonce + 1;
    if body.nonce < expected {
        return Err(Rejection::StaleNonce { expected, got: body.nonce });
    }
    if body.nonce > expected {
        return Err(Rejection::FutureNonce { expected, got: body.nonce });
    }
    Ok(signer)
}

/// Runs an included transaction's kind (its nonce already used).
fn apply_kind(state: &mut State, env: &Env<'_>, signer: &Account, tx: &SignedTx) -> Outcome {
    if !signer.is_active() {
        return Err(Rejection::AccountSuspended(signer.address));
    }
    let mut cx = Cx { state, env, signer, tx };
    match &tx.body().kind {
        TxKind::AdmitAccount(t) => cx.admit(t),
        TxKind::UpdateAccount(t) => cx.update_account(t),
        TxKind::SuspendAccount(t) => cx.suspend(t),
        TxKind::ReinstateAccount(t) => cx.reinstate(t),
        TxKind::RegisterProject(t) => cx.register_project(t),
        TxKind::UpdateProject(t) => cx.update_project(t),
        TxKind::Attest(t) => cx.attest(t),
        TxKind::Issue(t) => cx.issue(t),
        TxKind::Transfer(t) => cx.transfer(t),
        TxKind::Retire(t) => cx.retire(t),
        TxKind::Pledge(t) => cx.pledge(t),
        TxKind::Release(t) => cx.release(t),
        TxKind::Seize(t) => cx.seize(t),
        TxKind::Freeze(t) => cx.freeze(t),
        TxKind::Unfreeze(t) => cx.unfreeze(t),
        TxKind::Cancel(t) => cx.cancel(t),
        TxKind::UpdateValidators(t) => cx.update_validators(t),
    }
}

/// An admitted, non-suspended account.
fn active_account(state: &State, address: Address) -> Result<&Account, Rejection> {
    let a = state.accounts.get(&address).ok_or(Rejection::UnknownAccount(address))?;
    if !a.is_active() {
        return Err(Rejection::AccountSuspended(address));
    }
    Ok(a)
}

fn invalid(field: &str, reason: impl Into<String>) -> Rejection {
    Rejection::InvalidField { field: field.to_string(), reason: reason.into() }
}

/// Checks a free-text field: emptiness, length, and the text rule
/// ([`crate::text::check_free_text`]: NFC, no control, bidirectional or invisible character).
fn text(field: &str, value: &str, max: usize, required: bool) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(invalid(field, format!("is {} bytes; at most {max} are allowed", value.len())));
    }
    crate::text::check_free_text(value).map_err(|reason| invalid(field, reason))
}

/// Checks a currency: an ISO 4217 code, three capital letters (`CNY`).
fn currency(value: &str) -> Result<(), Rejection> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(invalid(
            "currency",
            format!("\"{}\" is not an ISO 4217 code (three capital letters, e.g. CNY)", crate::text::short(value)),
        ))
    }
}

/// Checks an identifier: 1 to 64 characters of `A-Z a-z 0-9 - _ .`.
fn identifier(field: &str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() || value.len() > ID_BYTES_MAX {
        return Err(invalid(field, format!("must be 1 to {ID_BYTES_MAX} characters")));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        return Err(invalid(field, "may contain only letters, digits, `-`, `_` and `.`"));
    }
    Ok(())
}

fn period(p: &Period) -> Result<(), Rejection> {
    if p.start > p.end {
        return Err(invalid("period", format!("starts {} after it ends {}", p.start, p.end)));
    }
    Ok(())
}

fn positive(q: Amount) -> Result<(), Rejection> {
    if q.is_zero() {
        return Err(Rejection::ZeroAmount);
    }
    Ok(())
}

struct Cx<'a, 'e> {
    state: &'a mut State,
    env: &'a Env<'e>,
    signer: &'a Account,
    tx: &'a SignedTx,
}

impl Cx<'_, '_> {
    fn require_role(&self, roles: &[Role], action: &str) -> Result<(), Rejection> {
        if roles.contains(&self.signer.role) {
            Ok(())
        } else {
            Err(Rejection::WrongRole { role: self.signer.role, action: action.to_string() })
        }
    }

    fn not_frozen(&self) -> Result<(), Rejection> {
        match &self.signer.frozen {
            Some(reason) => Err(Rejection::AccountFrozen { address: self.signer.address, reason: reason.clone() }),
            None => Ok(()),
        }
    }

    fn account(&self, a: Address) -> Result<Account, Rejection> {
        self.state.accounts.get(&a).cloned().ok_or(Rejection::UnknownAccount(a))
    }

    /// The signer may manage `target`: the authority any account, an exchange the holders it admitted.
    fn may_manage(&self, target: &Account, action: &str) -> Result<(), Rejection> {
        match self.signer.role {
            Role::Authority => Ok(()),
            Role::Exchange if target.admitted_by == self.signer.address && target.role == Role::Holder => Ok(()),
            Role::Exchange => Err(Rejection::NotYourCustomer { signer: self.signer.address, target: target.address }),
            _ => Err(Rejection::WrongRole { role: self.signer.role, action: action.to_string() }),
        }
    }

    fn ticket(&self, id: &str) -> Result<Ticket, Rejection> {
        self.state.tickets.get(&id.to_string()).cloned().ok_or_else(|| Rejection::UnknownTicket(id.to_string()))
    }

    fn unfrozen_ticket(&self, id: &str) -> Result<Ticket, Rejection> {
        let t = self.ticket(id)?;
        if let Some(reason) = &t.frozen {
            return Err(Rejection::TicketFrozen { ticket: t.id.clone(), reason: reason.clone() });
        }
        Ok(t)
    }

    fn admit(&mut self, t: &AdmitAccount) -> Outcome {
        self.require_role(&[Role::Authority, Role::Exchange], "admit accounts")?;
        if self.signer.role == Role::Exchange && t.role != Role::Holder {
            return Err(Rejection::WrongRole { role: Role::Exchange, action: format!("admit a {} account", t.role) });
        }
        text("name", &t.name, NAME_BYTES_MAX, true)?;
        text("jurisdiction", &t.jurisdiction, ID_BYTES_MAX, false)?;
        if self.state.accounts.contains(&t.address) {
            return Err(Rejection::AccountExists(t.address));
        }
        let account = Account {
            address: t.address,
            role: t.role,
            name: t.name.clone(),
            jurisdiction: t.jurisdiction.clone(),
            status: AccountStatus::Active,
            frozen: None,
            nonce: 0,
            admitted_by: self.signer.address,
            admitted_at: self.env.height,
        };
        self.state.accounts.put(t.address, account);
        Ok(Accepted::default())
    }

    fn update_account(&mut self, t: &UpdateAccount) -> Outcome {
        let mut target = self.account(t.address)?;
        self.may_manage(&target, "update accounts")?;
        if let Some(name) = &t.name {
            text("name", name, NAME_BYTES_MAX, true)?;
            target.name = name.clone();
        }
        if let Some(j) = &t.jurisdiction {
            text("jurisdiction", j, ID_BYTES_MAX, false)?;
            target.jurisdiction = j.clone();
        }
        if let Some(role) = t.role {
            self.require_role(&[Role::Authority], "change an account's role")?;
            target.role = role;
        }
        self.state.accounts.put(target.address, target);
        Ok(Accepted::default())
    }

    fn suspend(&mut self, t: &SuspendAccount) -> Outcome {
        let mut target = self.account(t.address)?;
        self.may_manage(&target, "suspend accounts")?;
        text("reason", &t.reason, NOTE_BYTES_MAX, true)?;
        if t.address == self.signer.address {
            return Err(invalid("address", "an account cannot suspend itself"));
        }
        if !target.is_active() {
            return Err(Rejection::AccountSuspended(t.address));
        }
        target.status = AccountStatus::Suspended { reason: t.reason.clone() };
        self.state.accounts.put(target.address, target);
        Ok(Accepted::default())
    }

    fn reinstate(&mut self, t: &ReinstateAccount) -> Outcome {
        let mut target = self.account(t.address)?;
        self.may_manage(&target, "reinstate accounts")?;
        if target.is_active() {
            return Err(Rejection::NotSuspended(t.address));
        }
        target.status = AccountStatus::Active;
        self.state.accounts.put(target.address, target);
        Ok(Accepted::default())
    }

    fn register_project(&mut self, t: &RegisterProject) -> Outcome {
        self.require_role(&[Role::Authority], "register projects")?;
        identifier("project id", &t.id)?;
        text("name", &t.name, NAME_BYTES_MAX, true)?;
        text("region", &t.location.region, ID_BYTES_MAX, true)?;
        text("methodology id", &t.methodology.id, ID_BYTES_MAX, true)?;
        text("methodology version", &t.methodology.version, ID_BYTES_MAX, false)?;
        if let Some((lat, lon)) = t.location.coordinates {
            if !(-90_000_000..=90_000_000).contains(&lat) || !(-180_000_000..=180_000_000).contains(&lon) {
                return Err(invalid("coordinates", "latitude must be within ±90° and longitude within ±180°"));
            }
        }
        if t.area_centiha == 0 {
            return Err(invalid("area", "must be more than zero"));
        }
        if self.state.projects.contains(&t.id) {
            return Err(Rejection::ProjectExists(t.id.clone()));
        }
        active_account(self.state, t.owner)?;
        let project = Project {
            id: t.id.clone(),
            name: t.name.clone(),
            owner: t.owner,
            ecosystem: t.ecosystem,
            location: t.location.clone(),
            area_centiha: t.area_centiha,
            methodology: t.methodology.clone(),
            status: ProjectStatus::Active,
            registered_at: self.env.height,
        };
        self.state.projects.put(t.id.clone(), project);
        Ok(Accepted::default())
    }

    fn update_project(&mut self, t: &UpdateProject) -> Outcome {
        self.require_role(&[Role::Authority], "update projects")?;
        let mut p = self.state.projects.get(&t.id).cloned().ok_or_else(|| Rejection::UnknownProject(t.id.clone()))?;
        if let Some(name) = &t.name {
            text("name", name, NAME_BYTES_MAX, true)?;
            p.name = name.clone();
        }
        if let Some(owner) = t.owner {
            active_account(self.state, owner)?;
            p.owner = owner;
        }
        if let Some(area) = t.area_centiha {
            if area == 0 {
                return Err(invalid("area", "must be more than zero"));
            }
            p.area_centiha = area;
        }
        if let Some(change) = &t.status {
            if p.status == ProjectStatus::Closed {
                return Err(invalid("status", "a closed project cannot change status"));
            }
            p.status = match change {
                ProjectStatusChange::Activate => ProjectStatus::Active,
                ProjectStatusChange::Suspend { reason } => {
                    text("reason", reason, NOTE_BYTES_MAX, true)?;
                    ProjectStatus::Suspended { reason: reason.clone() }
                }
                ProjectStatusChange::Close => ProjectStatus::Closed,
            };
        }
        self.state.projects.put(p.id.clone(), p);
        Ok(Accepted::default())
    }

    fn active_project(&self, id: &str) -> Result<Project, Rejection> {
        let p = self
            .state
            .projects
            .get(&id.to_string())
            .cloned()
            .ok_or_else(|| Rejection::UnknownProject(id.to_string()))?;
        if p.status != ProjectStatus::Active {
            return Err(Rejection::ProjectNotActive(id.to_string()));
        }
        Ok(p)
    }

    fn attest(&mut self, t: &Attest) -> Outcome {
        self.require_role(&[Role::Verifier], "attest monitoring reports")?;
        let p = self.active_project(&t.project)?;
        period(&t.period)?;
        positive(t.quantity)?;
        text("statement", &t.statement, NOTE_BYTES_MAX, false)?;
        if t.methodology != p.methodology {
            return Err(Rejection::MethodologyMismatch {
                expected: format!("{} {}", p.methodology.id, p.methodology.version),
                got: format!("{} {}", t.methodology.id, t.methodology.version),
            });
        }
        let key = (t.project.clone(), t.report_hash, self.signer.address);
        if self.state.attestations.contains(&key) {
            return Err(Rejection::DuplicateAttestation { project: t.project.clone(), report_hash: t.report_hash });
        }
        let a = Attestation {
            project: t.project.clone(),
            verifier: self.signer.address,
            period: t.period,
            quantity: t.quantity,
            methodology: t.methodology.clone(),
            report_hash: t.report_hash,
            statement: t.statement.clone(),
            tx: self.tx.id(),
            height: self.env.height,
        };
        self.state.attestations.put(key, a);
        Ok(Accepted::default())
    }

    fn issue(&mut self, t: &Issue) -> Outcome {
        self.require_role(&[Role::Authority], "issue tickets")?;
        let p = self.active_project(&t.project)?;
        period(&t.period)?;
        positive(t.quantity)?;
        let recipient = t.recipient.unwrap_or(p.owner);
        active_account(self.state, recipient)?;
        if let Some(earlier) = self.state.tickets_of(&t.project).into_iter().find(|x| x.period.overlaps(&t.period)) {
            return Err(Rejection::PeriodOverlap(earlier.id.clone()));
        }
        // Attestations of this report and period by currently accredited verifiers.
        let lo = (t.project.clone(), t.report_hash, Address::default());
        let mut attested: Vec<Amount> = self
            .state
            .attestations
            .range(lo..)
            .take_while(|((proj, h, _), _)| *proj == t.project && *h == t.report_hash)
            .filter(|(_, a)| a.period == t.period)
            .filter(|((_, _, v), _)| {
                self.state.accounts.get(v).is_some_and(|acc| acc.role == Role::Verifier && acc.is_active())
            })
            .map(|(_, a)| a.quantity)
            .collect();
        let required = self.env.params.attestations_required;
        if (attested.len() as u64) < u64::from(required) {
            return Err(Rejection::NotEnoughAttestations { required, found: attested.len() as u32 });
        }
        attested.sort_unstable_by(|a, b| b.cmp(a));
        let cap = attested[required as usize - 1];
        if t.quantity > cap {
            return Err(Rejection::QuantityAboveAttested { requested: t.quantity, attested: cap });
        }
        let mut meta = self.state.meta();
        let first = meta.next_serial.max(1);
        let last = first.checked_add(t.quantity.kg() - 1).ok_or(Rejection::AmountOverflow)?;
        meta.next_serial = last.checked_add(1).ok_or(Rejection::AmountOverflow)?;
        meta.totals.issued = meta.totals.issued.checked_add(t.quantity).ok_or(Rejection::AmountOverflow)?;
        meta.totals.sum_of_states().and_then(|s| s.checked_add(t.quantity)).ok_or(Rejection::AmountOverflow)?;
        self.state.set_meta(meta);

        let seq = self.state.tickets_of(&t.project).len() + 1;
        let id = format!("{}-{}-{}-{}", t.project, t.period.start.yyyymmdd(), t.period.end.yyyymmdd(), seq);
        let mut verifiers: Vec<Address> = self
            .state
            .attestations
            .range((t.project.clone(), t.report_hash, Address::default())..)
            .take_while(|((proj, h, _), _)| *proj == t.project && *h == t.report_hash)
            .filter(|(_, a)| a.period == t.period && a.quantity >= t.quantity)
            .map(|((_, _, v), _)| *v)
            .collect();
        verifiers.sort();
        let ticket = Ticket {
            id: id.clone(),
            project: t.project.clone(),
            period: t.period,
            quantity: t.quantity,
            serial_first: first,
            serial_last: last,
            report_hash: t.report_hash,
            verifiers,
            issued_to: recipient,
            issued_at: self.env.height,
            frozen: None,
        };
        self.state.tickets_by_project.put((t.project.clone(), id.clone()), ());
        self.state.tickets.put(id.clone(), ticket);
        self.state.put_lot(Lot { ticket: id.clone(), first, last, holder: recipient, state: LotState::Active });
        Ok(Accepted { ticket: Some(id), ..Accepted::default() })
    }

    /// Takes `quantity` from `holder`'s lots of `ticket` that match `wanted`, lowest serials
    /// first, splitting the last lot if needed. Returns the taken pieces (still in their old
    /// state); the caller stores them with their new holder or state.
    fn take(
        &mut self,
        holder: Address,
        ticket: &str,
        quantity: Amount,
        wanted: &dyn Fn(&LotState) -> bool,
        desc: &str,
    ) -> Result<Vec<Lot>, Rejection> {
        positive(quantity)?;
        // Walk the holder's lots lowest serials first and stop once enough is found; only a
        // shortfall needs the full sum (for the error message).
        let mut candidates: Vec<Lot> = Vec::new();
        let mut found = 0u64;
        for l in self.state.lots_of(holder, ticket) {
            if found >= quantity.kg() {
                break;
            }
            if wanted(&l.state) {
                found = found.saturating_add(l.amount().kg());
                candidates.push(l.clone());
            }
        }
        if found < quantity.kg() {
            let available = self
                .state
                .lots_of(holder, ticket)
                .filter(|l| wanted(&l.state))
                .fold(Amount::ZERO, |acc, l| acc.checked_add(l.amount()).unwrap_or(acc));
            return Err(Rejection::InsufficientUnits {
                holder,
                ticket: ticket.to_string(),
                state: desc.to_string(),
                available,
                requested: quantity,
            });
        }
        let mut remaining = quantity.kg();
        let mut pieces = Vec::new();
        for mut lot in candidates {
            if remaining == 0 {
                break;
            }
            let size = lot.amount().kg();
            if size > remaining {
                let rest = Lot { first: lot.first + remaining, ..lot.clone() };
                lot.last = lot.first + remaining - 1;
                self.state.put_lot(rest);
                remaining = 0;
            } else {
                remaining -= size;
            }
            pieces.push(lot);
        }
        Ok(pieces)
    }

    fn transfer(&mut self, t: &Transfer) -> Outcome {
        self.not_frozen()?;
        self.unfrozen_ticket(&t.ticket)?;
        if t.to == self.signer.address {
            return Err(Rejection::SelfTransfer);
        }
        active_account(self.state, t.to)?;
        if let Some(trade) = &t.trade {
            currency(&trade.currency)?;
            text("trade reference", &trade.reference, NAME_BYTES_MAX, false)?;
        }
        let pieces = self.take(self.signer.address, &t.ticket, t.quantity, &|s| *s == LotState::Active, "active")?;
        for mut lot in pieces {
            lot.holder = t.to;
            self.state.put_lot(lot);
        }
        Ok(Accepted::default())
    }

    fn retire(&mut self, t: &Retire) -> Outcome {
        self.not_frozen()?;
        self.unfrozen_ticket(&t.ticket)?;
        text("beneficiary", &t.beneficiary, NAME_BYTES_MAX, true)?;
        text("jurisdiction", &t.jurisdiction, ID_BYTES_MAX, false)?;
        text("note", &t.note, NOTE_BYTES_MAX, false)?;
        let pieces = self.take(self.signer.address, &t.ticket, t.quantity, &|s| *s == LotState::Active, "active")?;
        let mut meta = self.state.meta();
        meta.retirements += 1;
        let id = meta.retirements;
        self.state.set_meta(meta);
        let mut serials = Vec::with_capacity(pieces.len());
        for mut lot in pieces {
            serials.push(SerialRange { ticket: lot.ticket.clone(), first: lot.first, last: lot.last });
            lot.state = LotState::Retired { retirement: id };
            self.state.put_lot(lot);
        }
        let r = Retirement {
            id,
            retiree: self.signer.address,
            beneficiary: t.beneficiary.clone(),
            purpose: t.purpose,
            jurisdiction: t.jurisdiction.clone(),
            note: t.note.clone(),
            ticket: t.ticket.clone(),
            quantity: t.quantity,
            serials,
            tx: self.tx.id(),
            height: self.env.height,
            time_ms: self.env.time_ms,
        };
        self.state.retirements_by_beneficiary.put((t.beneficiary.clone(), id), ());
        self.state.retirements_by_ticket.put((t.ticket.clone(), id), ());
        let serials = r.serials.clone();
        self.state.retirements.put(id, r);
        Ok(Accepted { ticket: None, retirement: Some(id), serials })
    }

    fn pledge(&mut self, t: &Pledge) -> Outcome {
        self.not_frozen()?;
        self.unfrozen_ticket(&t.ticket)?;
        if t.pledgee == self.signer.address {
            return Err(invalid("pledgee", "an account cannot pledge to itself"));
        }
        active_account(self.state, t.pledgee)?;
        let pieces = self.take(self.signer.address, &t.ticket, t.quantity, &|s| *s == LotState::Active, "active")?;
        for mut lot in pieces {
            lot.state = LotState::Pledged { pledgee: t.pledgee };
            self.state.put_lot(lot);
        }
        Ok(Accepted::default())
    }

    fn pledged_to_signer(&self) -> impl Fn(&LotState) -> bool {
        let me = self.signer.address;
        move |s: &LotState| matches!(s, LotState::Pledged { pledgee } if *pledgee == me)
    }

    fn release(&mut self, t: &Release) -> Outcome {
        let ticket = self.ticket(&t.ticket)?;
        self.account(t.holder)?;
        let wanted = self.pledged_to_signer();
        let desc = format!("pledged to {}", self.signer.address);
        let pieces = self.take(t.holder, &t.ticket, t.quantity, &wanted, &desc)?;
        // Units released while their ticket is under a hold join the hold.
        let state = match ticket.frozen {
            Some(reason) => LotState::Frozen { reason },
            None => LotState::Active,
        };
        for mut lot in pieces {
            lot.state = state.clone();
            self.state.put_lot(lot);
        }
        Ok(Accepted::default())
    }

    fn seize(&mut self, t: &Seize) -> Outcome {
        self.not_frozen()?;
        self.unfrozen_ticket(&t.ticket)?;
        self.account(t.holder)?;
        let wanted = self.pledged_to_signer();
        let desc = format!("pledged to {}", self.signer.address);
        let pieces = self.take(t.holder, &t.ticket, t.quantity, &wanted, &desc)?;
        for mut lot in pieces {
            lot.holder = self.signer.address;
            lot.state = LotState::Active;
            self.state.put_lot(lot);
        }
        Ok(Accepted::default())
    }

    fn freeze(&mut self, t: &Freeze) -> Outcome {
        self.require_role(&[Role::Authority], "freeze accounts or tickets")?;
        text("reason", &t.reason, NOTE_BYTES_MAX, true)?;
        match &t.target {
            FreezeTarget::Account(a) => {
                let mut acc = self.account(*a)?;
                if acc.frozen.is_some() {
                    return Err(Rejection::AlreadyFrozen(format!("account {a}")));
                }
                acc.frozen = Some(t.reason.clone());
                self.state.accounts.put(*a, acc);
            }
            FreezeTarget::Ticket(id) => {
                let mut ticket = self.ticket(id)?;
                if ticket.frozen.is_some() {
                    return Err(Rejection::AlreadyFrozen(format!("ticket {id}")));
                }
                ticket.frozen = Some(t.reason.clone());
                let active: Vec<Lot> = self
                    .state
                    .lots_of_ticket(id)
                    .into_iter()
                    .filter(|l| l.state == LotState::Active)
                    .cloned()
                    .collect();
                for mut lot in active {
                    lot.state = LotState::Frozen { reason: t.reason.clone() };
                    self.state.put_lot(lot);
                }
                self.state.tickets.put(id.clone(), ticket);
            }
        }
        Ok(Accepted::default())
    }

    fn unfreeze(&mut self, t: &Unfreeze) -> Outcome {
        self.require_role(&[Role::Authority], "unfreeze accounts or tickets")?;
        match &t.target {
            FreezeTarget::Account(a) => {
                let mut acc = self.account(*a)?;
                if acc.frozen.is_none() {
                    return Err(Rejection::NotFrozen(format!("account {a}")));
                }
                acc.frozen = None;
                self.state.accounts.put(*a, acc);
            }
            FreezeTarget::Ticket(id) => {
                let mut ticket = self.ticket(id)?;
                if ticket.frozen.is_none() {
                    return Err(Rejection::NotFrozen(format!("ticket {id}")));
                }
                ticket.frozen = None;
                let frozen: Vec<Lot> = self
                    .state
                    .lots_of_ticket(id)
                    .into_iter()
                    .filter(|l| matches!(l.state, LotState::Frozen { .. }))
                    .cloned()
                    .collect();
                for mut lot in frozen {
                    lot.state = LotState::Active;
                    self.state.put_lot(lot);
                }
                self.state.tickets.put(id.clone(), ticket);
            }
        }
        Ok(Accepted::default())
    }

    fn cancel(&mut self, t: &Cancel) -> Outcome {
        self.require_role(&[Role::Authority], "cancel units")?;
        self.ticket(&t.ticket)?;
        self.account(t.holder)?;
        text("reason", &t.reason, NOTE_BYTES_MAX, true)?;
        let wanted = |s: &LotState| matches!(s, LotState::Active | LotState::Frozen { .. });
        let pieces = self.take(t.holder, &t.ticket, t.quantity, &wanted, "active or frozen")?;
        for mut lot in pieces {
            lot.state = LotState::Cancelled { reason: t.reason.clone() };
            self.state.put_lot(lot);
        }
        Ok(Accepted::default())
    }

    fn update_validators(&mut self, t: &UpdateValidators) -> Outcome {
        self.require_role(&[Role::Authority], "change the validator set")?;
        check_validator_set(&t.validators).map_err(Rejection::InvalidValidatorSet)?;
        for v in &t.validators {
            text("validator name", &v.name, NAME_BYTES_MAX, false)?;
        }
        let mut new_set = t.validators.clone();
        new_set.sort_by_key(Validator::address);
        let mut meta = self.state.meta();
        let current = self.state.validators().to_vec();
        let version = meta.valset_version + 1;
        let message = valset_approval_message(self.env.chain_id, version, &new_set);
        let total: u64 = current.iter().map(|v| v.power).sum();
        let mut approved: u64 = 0;
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in t.approvals.iter().enumerate() {
            let validator = current.iter().find(|v| v.public_key == a.public_key);
            let ok = validator.is_some() && crypto::verify_signature(&a.public_key, &message, &a.signature);
            let Some(v) = validator.filter(|_| ok) else {
                return Err(Rejection::BadApproval { index: i as u32 });
            };
            if seen.insert(a.public_key) {
                approved += v.power;
            }
        }
        if u128::from(approved) * 3 <= u128::from(total) * 2 {
            return Err(Rejection::NotEnoughApprovals { approved, total });
        }
        meta.valset_version = version;
        self.state.set_meta(meta);
        self.state.validator_set.put(0, new_set);
        Ok(Accepted::default())
    }
}
