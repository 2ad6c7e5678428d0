//! What the web view and the JSON API show, read from the committed ledger: one set of view
//! types (serialised as the API's JSON, documented in its OpenAPI schema, rendered by the pages)
//! and the queries that fill them. Every list is bounded and pages with an opaque cursor.

use std::collections::BTreeMap;
use std::ops::Bound;

use bct_ledger::block::{Block, TxResult};
use bct_ledger::state::{GroupKey, State, Totals};

use super::index::RetirementRow;
use bct_ledger::types::{
    Account, AccountStatus, Attestation, Ecosystem, Lot, LotState, Project, ProjectStatus, Purpose, Retirement, Role,
    Ticket,
};
use bct_ledger::{Address, Amount, Hash, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::chain::{Chain, NodeLedger};

/// Items in a page when the request does not say.
pub const PAGE_DEFAULT: usize = 50;
/// Most items in a page.
pub const PAGE_MAX: usize = 500;
/// Most records examined for one page of a filtered list: the page then ends early with a
/// cursor to continue from, so no request walks the whole ledger.
pub const SCAN_MAX: usize = 20_000;
/// Blocks looked back through for the last height each validator signed.
const SIGNED_LOOKBACK: u64 = 64;

/// A quantity of carbon: exact kilograms, and the same in tonnes as a decimal string.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct Quantity {
    /// Kilograms of CO2-equivalent (the ledger's unit; exact).
    pub kg: u64,
    /// Tonnes, up to three decimals, e.g. `"12.5"`.
    #[schema(value_type = String, example = "12.5")]
    pub tonnes: TonneString,
}

/// Tonnes as a decimal string (serialised without the unit).
#[derive(Clone, Copy, Debug)]
pub struct TonneString(pub Amount);

impl Serialize for TonneString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&tonnes(self.0))
    }
}

/// `12.5` for 12,500 kg (no unit).
pub fn tonnes(a: Amount) -> String {
    let s = a.to_string();
    s.trim_end_matches('t').to_string()
}

impl From<Amount> for Quantity {
    fn from(a: Amount) -> Quantity {
        Quantity { kg: a.kg(), tonnes: TonneString(a) }
    }
}

/// Quantities by state. `issued` = `active + pledged + frozen + retired + cancelled`.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct TotalsView {
    /// Ever issued.
    pub issued: Quantity,
    /// Held and free to move.
    pub active: Quantity,
    /// Pledged to a creditor.
    pub pledged: Quantity,
    /// Under a hold.
    pub frozen: Quantity,
    /// Retired (claimed) for good.
    pub retired: Quantity,
    /// Cancelled for good.
    pub cancelled: Quantity,
}

impl From<&Totals> for TotalsView {
    fn from(t: &Totals) -> TotalsView {
        TotalsView {
            issued: t.issued.into(),
            active: t.active.into(),
            pledged: t.pledged.into(),
            frozen: t.frozen.into(),
            retired: t.retired.into(),
            cancelled: t.cancelled.into(),
        }
    }
}

/// Totals of one group (an ecosystem, a region, a vintage or a project).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GroupTotals {
    /// The group: ecosystem code, region code, vintage year or project id.
    pub key: String,
    /// Its totals.
    pub totals: TotalsView,
}

/// The registry's totals, overall and by group.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Supply {
    /// The height these totals are at.
    pub height: u64,
    /// Overall.
    pub totals: TotalsView,
    /// By ecosystem (codes such as `mangrove`).
    pub by_ecosystem: Vec<GroupTotals>,
    /// By region code.
    pub by_region: Vec<GroupTotals>,
    /// By vintage (the year the monitoring period ends).
    pub by_vintage: Vec<GroupTotals>,
    /// By project id.
    pub by_project: Vec<GroupTotals>,
}

/// A validator with its recent activity.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ValidatorView {
    /// Its name in the validator set.
    pub name: String,
    /// Its account-style address.
    pub address: String,
    /// Its ed25519 public key, hex.
    pub public_key: String,
    /// Voting power.
    pub power: u64,
    /// The last of the recent blocks whose commit it signed (looked back 64 blocks), if any.
    pub last_signed_height: Option<u64>,
}

/// A consensus peer of the answering node.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PeerView {
    /// libp2p peer id.
    pub id: String,
    /// Its address.
    pub address: String,
    /// Whether it is connected now.
    pub connected: bool,
}

/// The chain's state at a glance.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Status {
    /// The chain id.
    pub chain_id: String,
    /// Last committed height.
    pub height: u64,
    /// Header time of the last block, ms since the Unix epoch.
    pub last_block_time_ms: u64,
    /// The same, as `YYYY-MM-DD HH:MM:SS UTC`.
    pub last_block_time: String,
    /// The last block's hash, hex.
    pub last_block_hash: String,
    /// State root after the last block, hex.
    pub state_root: String,
    /// `validator` or `observer`: what the answering node is.
    pub node_role: String,
    /// Transactions waiting in the answering node's mempool.
    pub mempool_size: u64,
    /// The validator set.
    pub validators: Vec<ValidatorView>,
    /// The answering node's consensus peers.
    pub peers: Vec<PeerView>,
}

/// A participant.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Address (`bct1...`).
    pub address: String,
    /// Name.
    pub name: String,
    /// `authority`, `verifier`, `exchange` or `holder`.
    pub role: String,
    /// Jurisdiction code, e.g. `CN-FJ`.
    pub jurisdiction: String,
    /// `admitted` or `suspended`.
    pub status: String,
    /// Why it is suspended, if it is.
    pub suspended_reason: Option<String>,
    /// Why it is under a hold, if it is.
    pub frozen_reason: Option<String>,
    /// Who admitted it.
    pub admitted_by: String,
    /// Height of its admission.
    pub admitted_at: u64,
    /// Transactions it signed that were committed (its last nonce).
    pub nonce: u64,
}

/// A participant with its holdings.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccountDetail {
    /// The participant.
    pub account: AccountView,
    /// What it holds, by ticket and state.
    pub holdings: Vec<Holding>,
    /// Its lots (adjacent lots of one ticket and state shown as one range), at most 500.
    pub lots: Vec<LotView>,
    /// The newest transactions that concern it (signed by it, or naming it), newest first, in
    /// words, at most [`HISTORY_MAX`].
    pub history: Vec<TxView>,
}

/// Transactions shown in a participant's history.
pub const HISTORY_MAX: usize = 50;

/// One ticket's units held by an account in one state.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Holding {
    /// The ticket.
    pub ticket: String,
    /// `active`, `pledged`, `frozen`, `retired` or `cancelled`.
    pub state: String,
    /// How much.
    pub quantity: Quantity,
}

/// A project.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProjectView {
    /// Project id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner address.
    pub owner: String,
    /// Owner name.
    pub owner_name: String,
    /// Ecosystem code: `mangrove`, `salt_marsh`, `seagrass`, `seaweed_farm`, `shellfish_farm`, `mudflat`, `water_column` or `other`.
    pub ecosystem: String,
    /// Region code.
    pub region: String,
    /// Latitude in degrees, if known.
    pub latitude: Option<f64>,
    /// Longitude in degrees, if known.
    pub longitude: Option<f64>,
    /// Area in hectares, e.g. `"171.8"`.
    pub area_ha: String,
    /// Methodology id.
    pub methodology: String,
    /// Methodology version.
    pub methodology_version: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// Why it is suspended, if it is.
    pub status_reason: Option<String>,
    /// Height of its registration.
    pub registered_at: u64,
}

/// An attestation of a monitoring report by a verifier.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AttestationView {
    /// Verifier address.
    pub verifier: String,
    /// Verifier name.
    pub verifier_name: String,
    /// First day of the monitoring period (`YYYY-MM-DD`).
    pub period_start: String,
    /// Last day of the monitoring period.
    pub period_end: String,
    /// Verified quantity.
    pub quantity: Quantity,
    /// Methodology id and version.
    pub methodology: String,
    /// blake3 of the report, hex.
    pub report_hash: String,
    /// The verifier's statement.
    pub statement: String,
    /// The attesting transaction, hex.
    pub tx: String,
    /// Its height.
    pub height: u64,
}

/// A ticket (one issuance).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// Ticket id.
    pub id: String,
    /// Project id.
    pub project: String,
    /// Vintage: the year the monitoring period ends.
    pub vintage: u32,
    /// First day of the monitoring period.
    pub period_start: String,
    /// Last day of the monitoring period.
    pub period_end: String,
    /// Quantity issued.
    pub quantity: Quantity,
    /// First serial number (one serial per kilogram).
    pub serial_first: u64,
    /// Last serial number.
    pub serial_last: u64,
    /// blake3 of the attested report, hex.
    pub report_hash: String,
    /// First holder address.
    pub issued_to: String,
    /// First holder name.
    pub issued_to_name: String,
    /// Height of the issuance.
    pub issued_at: u64,
    /// Why the whole ticket is under a hold, if it is.
    pub frozen_reason: Option<String>,
}

/// A serial range in one state with one holder.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LotView {
    /// The ticket.
    pub ticket: String,
    /// First serial.
    pub first: u64,
    /// Last serial.
    pub last: u64,
    /// How much.
    pub quantity: Quantity,
    /// Holder address.
    pub holder: String,
    /// Holder name.
    pub holder_name: String,
    /// `active`, `pledged`, `frozen`, `retired` or `cancelled`.
    pub state: String,
    /// The creditor (pledged), the reason (frozen, cancelled).
    pub detail: Option<String>,
    /// The retirement that consumed it (retired).
    pub retirement: Option<u64>,
}

/// A ticket with its lots and attestations.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TicketDetail {
    /// The ticket.
    pub ticket: TicketView,
    /// The project it was issued for.
    pub project: ProjectView,
    /// Its lots (adjacent lots of one holder and state shown as one range), at most 500.
    pub lots: Vec<LotView>,
    /// Whether more lots exist than shown.
    pub lots_truncated: bool,
    /// Totals of this ticket by state.
    pub totals: TotalsView,
    /// The attestations behind it.
    pub attestations: Vec<AttestationView>,
    /// Its retirements, newest first (at most 500).
    pub retirements: Vec<RetirementView>,
    /// Its history, oldest first (at most 500 events): issuance, transfers with price and
    /// reference, pledges, holds, retirements, cancellations.
    pub history: Vec<HistoryEvent>,
    /// Whether more events exist than shown.
    pub history_truncated: bool,
}

/// One accepted transaction in a ticket's history.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    /// Height of its block.
    pub height: u64,
    /// Block time, `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
    /// Transaction id, hex.
    pub tx: String,
    /// Kind code, e.g. `transfer`.
    pub kind: String,
    /// What it did, in English.
    pub summary: String,
    /// What it did, in Chinese.
    pub summary_zh: String,
}

/// A project with its attestations and tickets.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProjectDetail {
    /// The project.
    pub project: ProjectView,
    /// Its totals.
    pub totals: TotalsView,
    /// Every attestation of it.
    pub attestations: Vec<AttestationView>,
    /// Every ticket issued for it.
    pub tickets: Vec<TicketView>,
}

/// A retirement (an offset claim, final).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RetirementView {
    /// Retirement id.
    pub id: u64,
    /// Who retired (address).
    pub retiree: String,
    /// Who retired (name).
    pub retiree_name: String,
    /// On whose behalf.
    pub beneficiary: String,
    /// `voluntary`, `event`, `compliance`, `judicial_restoration` or `other`.
    pub purpose: String,
    /// Jurisdiction of the claim.
    pub jurisdiction: String,
    /// Free text.
    pub note: String,
    /// The ticket.
    pub ticket: String,
    /// Its project.
    pub project: String,
    /// Its ecosystem code.
    pub ecosystem: String,
    /// Its vintage.
    pub vintage: u32,
    /// How much.
    pub quantity: Quantity,
    /// The exact serials.
    pub serials: Vec<SerialRangeView>,
    /// The retiring transaction, hex.
    pub tx: String,
    /// Its height.
    pub height: u64,
    /// Its block's time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The same, `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
}

/// A range of serial numbers.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SerialRangeView {
    /// The ticket.
    pub ticket: String,
    /// First serial.
    pub first: u64,
    /// Last serial.
    pub last: u64,
}

/// What a serial number is now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SerialLookup {
    /// The serial asked for.
    pub serial: u64,
    /// The ticket it belongs to.
    pub ticket: TicketView,
    /// The lot holding it now (holder and state).
    pub lot: LotView,
    /// The retirement that consumed it, if it is retired.
    pub retirement: Option<RetirementView>,
}

/// A page of items and the cursor of the next page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One commit signature.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignatureView {
    /// The validator's name (or its key when the set is not known).
    pub validator: String,
    /// Its public key, hex.
    pub public_key: String,
    /// Its voting power in the set that decided the block.
    pub power: u64,
}

/// A transaction in a block, with its result.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TxView {
    /// Transaction id, hex.
    pub id: String,
    /// Height of its block.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Block time, `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
    /// Kind code, e.g. `transfer`.
    pub kind: String,
    /// Signer address.
    pub signer: String,
    /// Signer name.
    pub signer_name: String,
    /// Signer's nonce.
    pub nonce: u64,
    /// What it does, in English.
    pub summary: String,
    /// What it does, in Chinese.
    pub summary_zh: String,
    /// Whether the ledger accepted it.
    pub accepted: bool,
    /// Why it was rejected, if it was.
    pub rejection: Option<String>,
    /// The ticket it issued, if any.
    pub issued_ticket: Option<String>,
    /// The retirement it made, if any.
    pub retirement: Option<u64>,
}

/// A block.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BlockView {
    /// Height.
    pub height: u64,
    /// Header hash, hex.
    pub hash: String,
    /// Previous header hash, hex.
    pub prev_hash: String,
    /// Header time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The same, `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
    /// Proposer address.
    pub proposer: String,
    /// Proposer name (validator name), if known.
    pub proposer_name: String,
    /// Merkle root of the transaction ids, hex.
    pub tx_root: String,
    /// Merkle root of the results, hex.
    pub results_root: String,
    /// State root after the block, hex.
    pub state_root: String,
    /// Hash of the validator set that decided it, hex.
    pub validator_set_hash: String,
    /// Consensus round of the decision (absent for genesis).
    pub round: Option<u32>,
    /// Who signed its commit.
    pub signatures: Vec<SignatureView>,
    /// Signed voting power, and of the whole set.
    pub signed_power: u64,
    /// Voting power of the set that decided it.
    pub total_power: u64,
    /// Its transactions.
    pub txs: Vec<TxView>,
}

/// A bad request or unknown item, as the API and the pages report it.
#[derive(Debug)]
pub enum Lookup {
    /// 400: a parameter is wrong.
    Bad(String),
    /// 404: no such item.
    NotFound(String),
    /// 500: the node's store failed.
    Store(String),
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Bad(m) | Lookup::NotFound(m) | Lookup::Store(m) => f.write_str(m),
        }
    }
}

impl From<StoreError> for Lookup {
    fn from(e: StoreError) -> Lookup {
        Lookup::Store(format!("the node's store failed: {e}"))
    }
}

/// Short for view results.
pub type Found<T> = Result<T, Lookup>;

// --- wording shared by the API codes ---------------------------------------------------------

/// The ecosystem's code.
pub fn ecosystem_code(e: Ecosystem) -> &'static str {
    e.as_str()
}

/// Parses an ecosystem code.
pub fn parse_ecosystem(s: &str) -> Found<Ecosystem> {
    Ecosystem::ALL.into_iter().find(|e| e.as_str() == s).ok_or_else(|| {
        let all: Vec<&str> = Ecosystem::ALL.iter().map(|e| e.as_str()).collect();
        Lookup::Bad(format!("ecosystem: {} is not one of {}", quote(s), all.join(", ")))
    })
}

/// The purposes and their codes.
pub const PURPOSES: [Purpose; 5] =
    [Purpose::Voluntary, Purpose::Event, Purpose::Compliance, Purpose::JudicialRestoration, Purpose::Other];

/// Parses a purpose code.
pub fn parse_purpose(s: &str) -> Found<Purpose> {
    PURPOSES.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
        let all: Vec<&str> = PURPOSES.iter().map(|p| p.as_str()).collect();
        Lookup::Bad(format!("purpose: {} is not one of {}", quote(s), all.join(", ")))
    })
}

/// Quotes user input in a message: at most 64 characters, control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(64).flat_map(char::escape_debug).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// Folds text for searching: full-width ASCII forms and the ideographic space become their
/// half-width forms, then lower case. `ＦＯＯＤ` and `food` fold alike.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS UTC` for ms since the Unix epoch: the certificate's UTC time
/// (`bct_proto::certificate::utc`) to the second, written for people.
pub fn utc(ms: u64) -> String {
    let rfc3339 = bct_proto::certificate::utc(ms - ms % 1000);
    format!("{} UTC", rfc3339.trim_end_matches('Z').replacen('T', " ", 1))
}

/// The date (`YYYY-MM-DD`) of ms since the Unix epoch, in UTC.
pub fn utc_date(ms: u64) -> String {
    utc(ms)[..10].to_string()
}

/// Day number since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD` into ms since the Unix epoch at the start of that day (UTC).
pub fn parse_date(field: &str, s: &str) -> Found<u64> {
    let bad = || Lookup::Bad(format!("{field}: expected a date as YYYY-MM-DD, got {}", quote(s)));
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (u32, u32, u32) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    bct_ledger::types::Date::from_yyyymmdd(y * 10_000 + m * 100 + d).ok_or_else(bad)?;
    if y < 1970 {
        return Err(bad());
    }
    Ok(days_from_civil(i64::from(y), m, d) as u64 * 86_400_000)
}

pub use bct_ledger::words::hectares;

// --- building views ---------------------------------------------------------------------------

fn name_of(state: &State, a: &Address) -> String {
    state.accounts.get(a).map(|acc| acc.name.clone()).unwrap_or_else(|| a.to_string())
}

/// An account's view.
pub fn account_view(a: &Account) -> AccountView {
    let (status, suspended_reason) = match &a.status {
        AccountStatus::Active => ("admitted", None),
        AccountStatus::Suspended { reason } => ("suspended", Some(reason.clone())),
    };
    AccountView {
        address: a.address.to_string(),
        name: a.name.clone(),
        role: a.role.as_str().to_string(),
        jurisdiction: a.jurisdiction.clone(),
        status: status.to_string(),
        suspended_reason,
        frozen_reason: a.frozen.clone(),
        admitted_by: a.admitted_by.to_string(),
        admitted_at: a.admitted_at,
        nonce: a.nonce,
    }
}

/// A project's view.
pub fn project_view(state: &State, p: &Project) -> ProjectView {
    let (status, status_reason) = match &p.status {
        ProjectStatus::Active => ("active", None),
        ProjectStatus::Suspended { reason } => ("suspended", Some(reason.clone())),
        ProjectStatus::Closed => ("closed", None),
    };
    let coords = p.location.coordinates;
    ProjectView {
        id: p.id.clone(),
        name: p.name.clone(),
        owner: p.owner.to_string(),
        owner_name: name_of(state, &p.owner),
        ecosystem: ecosystem_code(p.ecosystem).to_string(),
        region: p.location.region.clone(),
        latitude: coords.map(|(lat, _)| f64::from(lat) / 1e6),
        longitude: coords.map(|(_, lon)| f64::from(lon) / 1e6),
        area_ha: hectares(p.area_centiha),
        methodology: p.methodology.id.clone(),
        methodology_version: p.methodology.version.clone(),
        status: status.to_string(),
        status_reason,
        registered_at: p.registered_at,
    }
}

fn attestation_view(state: &State, a: &Attestation) -> AttestationView {
    AttestationView {
        verifier: a.verifier.to_string(),
        verifier_name: name_of(state, &a.verifier),
        period_start: a.period.start.to_string(),
        period_end: a.period.end.to_string(),
        quantity: a.quantity.into(),
        methodology: format!("{} ({})", a.methodology.id, a.methodology.version),
        report_hash: a.report_hash.to_hex(),
        statement: a.statement.clone(),
        tx: a.tx.to_string(),
        height: a.height,
    }
}

/// A ticket's view.
pub fn ticket_view(state: &State, t: &Ticket) -> TicketView {
    TicketView {
        id: t.id.clone(),
        project: t.project.clone(),
        vintage: t.period.vintage(),
        period_start: t.period.start.to_string(),
        period_end: t.period.end.to_string(),
        quantity: t.quantity.into(),
        serial_first: t.serial_first,
        serial_last: t.serial_last,
        report_hash: t.report_hash.to_hex(),
        issued_to: t.issued_to.to_string(),
        issued_to_name: name_of(state, &t.issued_to),
        issued_at: t.issued_at,
        frozen_reason: t.frozen.clone(),
    }
}

fn lot_view(state: &State, lot: &Lot) -> LotView {
    let (detail, retirement) = match &lot.state {
        LotState::Active => (None, None),
        LotState::Pledged { pledgee } => (Some(name_of(state, pledgee)), None),
        LotState::Frozen { reason } | LotState::Cancelled { reason } => (Some(reason.clone()), None),
        LotState::Retired { retirement } => (None, Some(*retirement)),
    };
    LotView {
        ticket: lot.ticket.clone(),
        first: lot.first,
        last: lot.last,
        quantity: lot.amount().into(),
        holder: lot.holder.to_string(),
        holder_name: name_of(state, &lot.holder),
        state: lot.state.as_str().to_string(),
        detail,
        retirement,
    }
}

/// Lots in serial order, adjacent ones of the same holder and state (and retirement) merged.
fn merged_lots<'a>(state: &State, lots: impl Iterator<Item = &'a Lot>, max: usize) -> (Vec<LotView>, bool) {
    let mut out: Vec<LotView> = Vec::new();
    let mut prev: Option<&Lot> = None;
    for lot in lots {
        let joins = prev.is_some_and(|p| {
            p.ticket == lot.ticket && p.holder == lot.holder && p.state == lot.state && p.last + 1 == lot.first
        });
        match out.last_mut() {
            Some(last) if joins => {
                last.last = lot.last;
                last.quantity = Amount::from_kg(last.last - last.first + 1).into();
            }
            _ => {
                if out.len() == max {
                    return (out, true);
                }
                out.push(lot_view(state, lot));
            }
        }
        prev = Some(lot);
    }
    (out, false)
}

/// A retirement's view.
pub fn retirement_view(state: &State, r: &Retirement) -> RetirementView {
    let ticket = state.tickets.get(&r.ticket);
    let project = ticket.and_then(|t| state.projects.get(&t.project));
    RetirementView {
        id: r.id,
        retiree: r.retiree.to_string(),
        retiree_name: name_of(state, &r.retiree),
        beneficiary: r.beneficiary.clone(),
        purpose: r.purpose.as_str().to_string(),
        jurisdiction: r.jurisdiction.clone(),
        note: r.note.clone(),
        ticket: r.ticket.clone(),
        project: ticket.map(|t| t.project.clone()).unwrap_or_default(),
        ecosystem: project.map(|p| ecosystem_code(p.ecosystem).to_string()).unwrap_or_default(),
        vintage: ticket.map(|t| t.period.vintage()).unwrap_or_default(),
        quantity: r.quantity.into(),
        serials: r
            .serials
            .iter()
            .map(|s| SerialRangeView { ticket: s.ticket.clone(), first: s.first, last: s.last })
            .collect(),
        tx: r.tx.to_string(),
        height: r.height,
        time_ms: r.time_ms,
        time: utc(r.time_ms),
    }
}

fn groups(map: BTreeMap<String, Totals>) -> Vec<GroupTotals> {
    map.into_iter().map(|(key, t)| GroupTotals { key, totals: (&t).into() }).collect()
}

/// The registry's totals now, overall and by group: the ledger keeps them per (project,
/// vintage) at every commit, so this sums a few hundred entries, never the lots.
pub fn supply(ledger: &NodeLedger) -> Supply {
    let state = ledger.state();
    supply_of(state, ledger.height(), &ledger.meta().totals, state.group_totals())
}

/// The registry's totals as they were after block `height` (the ledger keeps them per block).
pub fn supply_at(ledger: &NodeLedger, height: u64) -> Found<Supply> {
    if height > ledger.height() {
        return Err(Lookup::NotFound(format!("height {height}: the chain is at height {}", ledger.height())));
    }
    let all = ledger.totals_at(height).map_err(|e| Lookup::Store(e.to_string()))?.ok_or_else(|| {
        Lookup::NotFound(format!(
            "totals at height {height}: this node's store keeps totals per block only from the height it was \
             upgraded at; ask for a later height"
        ))
    })?;
    let groups = ledger.group_totals_at(height, None).map_err(|e| Lookup::Store(e.to_string()))?;
    Ok(supply_of(ledger.state(), height, &all, &groups))
}

/// Sums (project, vintage) group totals by ecosystem, region, vintage and project.
fn supply_of(state: &State, height: u64, all: &Totals, groups_in: &BTreeMap<GroupKey, Totals>) -> Supply {
    let mut by_ecosystem: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_region: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_vintage: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_project: BTreeMap<String, Totals> = BTreeMap::new();
    for ((project, vintage), t) in groups_in {
        if let Some(p) = state.projects.get(project) {
            by_ecosystem.entry(ecosystem_code(p.ecosystem).to_string()).or_default().add(t);
            by_region.entry(p.location.region.clone()).or_default().add(t);
        }
        by_vintage.entry(vintage.to_string()).or_default().add(t);
        by_project.entry(project.clone()).or_default().add(t);
    }
    Supply {
        height,
        totals: all.into(),
        by_ecosystem: groups(by_ecosystem),
        by_region: groups(by_region),
        by_vintage: groups(by_vintage),
        by_project: groups(by_project),
    }
}

/// A project's totals now (the sum of its vintages' totals kept at commit).
pub fn project_totals(state: &State, project: &str) -> Totals {
    let mut t = Totals::default();
    for (_, g) in state.group_totals().range((project.to_string(), 0)..=(project.to_string(), u32::MAX)) {
        t.add(g);
    }
    t
}

/// A ticket's totals now (kept at commit).
pub fn ticket_totals(state: &State, ticket: &str) -> Totals {
    state.ticket_totals().get(ticket).cloned().unwrap_or_default()
}

/// The chain's status as the answering node sees it.
pub fn status(ledger: &NodeLedger, node_role: &str, mempool_size: usize, peers: Vec<PeerView>) -> Found<Status> {
    let head = ledger.head();
    let mut last_signed: BTreeMap<[u8; 32], u64> = BTreeMap::new();
    let validators = ledger.validators();
    let mut h = head.height;
    while h > 0 && head.height - h < SIGNED_LOOKBACK && last_signed.len() < validators.len() {
        if let Some(c) = Chain::certificate(ledger, h)? {
            for s in &c.signatures {
                if let Ok(k) = <[u8; 32]>::try_from(s.validator_public_key.as_slice()) {
                    last_signed.entry(k).or_insert(h);
                }
            }
        }
        h -= 1;
    }
    Ok(Status {
        chain_id: ledger.chain_id().to_string(),
        height: head.height,
        last_block_time_ms: head.time_ms,
        last_block_time: utc(head.time_ms),
        last_block_hash: head.hash().to_hex(),
        state_root: head.state_root.to_hex(),
        node_role: node_role.to_string(),
        mempool_size: mempool_size as u64,
        validators: validators
            .iter()
            .map(|v| ValidatorView {
                name: v.name.clone(),
                address: v.address().to_string(),
                public_key: hex::encode(v.public_key),
                power: v.power,
                last_signed_height: last_signed.get(&v.public_key).copied(),
            })
            .collect(),
        peers,
    })
}

/// Filters of the project list.
#[derive(Debug, Default)]
pub struct ProjectFilter {
    /// Substring of the id or the name (folded).
    pub q: Option<String>,
    /// Ecosystem.
    pub ecosystem: Option<Ecosystem>,
    /// Region code prefix (`CN-FJ` matches `CN-FJ-350122`).
    pub region: Option<String>,
    /// `active`, `suspended` or `closed`.
    pub status: Option<String>,
}

/// Parses a project status filter.
pub fn parse_project_status(s: &str) -> Found<String> {
    match s {
        "active" | "suspended" | "closed" => Ok(s.to_string()),
        _ => Err(Lookup::Bad(format!("status: {} is not one of active, suspended, closed", quote(s)))),
    }
}

/// One page of projects in id order after `cursor`.
pub fn projects(state: &State, f: &ProjectFilter, cursor: Option<&str>, limit: usize) -> Page<ProjectView> {
    let q = f.q.as_deref().map(fold);
    let start = cursor.map_or(Bound::Unbounded, |c| Bound::Excluded(c.to_string()));
    let mut items = Vec::new();
    let mut next_cursor = None;
    let mut last_seen: Option<&String> = None;
    for (scanned, (id, p)) in state.projects.range((start, Bound::Unbounded)).enumerate() {
        if items.len() == limit || scanned == SCAN_MAX {
            next_cursor = last_seen.cloned();
            break;
        }
        last_seen = Some(id);
        let view = project_view(state, p);
        let keep = q.as_ref().is_none_or(|q| fold(&p.id).contains(q) || fold(&p.name).contains(q))
            && f.ecosystem.is_none_or(|e| e == p.ecosystem)
            && f.region.as_ref().is_none_or(|r| p.location.region.starts_with(r.as_str()))
            && f.status.as_ref().is_none_or(|s| *s == view.status);
        if keep {
            items.push(view);
        }
    }
    Page { items, next_cursor }
}

/// A project with its attestations and tickets.
pub fn project(state: &State, id: &str) -> Found<ProjectDetail> {
    let p = state.projects.get(&id.to_string()).ok_or_else(|| Lookup::NotFound(format!("project {}", quote(id))))?;
    let tickets = state.tickets_of(id);
    Ok(ProjectDetail {
        project: project_view(state, p),
        totals: (&project_totals(state, id)).into(),
        attestations: state.attestations_of(id).into_iter().map(|a| attestation_view(state, a)).collect(),
        tickets: tickets.into_iter().map(|t| ticket_view(state, t)).collect(),
    })
}

/// A ticket with its lots, attestations and retirements.
pub fn ticket(state: &State, id: &str) -> Found<TicketDetail> {
    let t = state.tickets.get(&id.to_string()).ok_or_else(|| Lookup::NotFound(format!("ticket {}", quote(id))))?;
    let p = state
        .projects
        .get(&t.project)
        .ok_or_else(|| Lookup::Store(format!("the project of ticket {id} is missing")))?;
    // A ticket's lots are the lots in its serial block: read lazily, so a ticket split into a
    // million lots costs one page.
    let lots = state.lots.range(t.serial_first..=t.serial_last).map(|(_, l)| l);
    let (lots_view, lots_truncated) = merged_lots(state, lots, PAGE_MAX);
    let retirements =
        state.retirements_of_ticket(id).into_iter().rev().take(PAGE_MAX).map(|r| retirement_view(state, r)).collect();
    Ok(TicketDetail {
        ticket: ticket_view(state, t),
        project: project_view(state, p),
        lots: lots_view,
        lots_truncated,
        totals: (&ticket_totals(state, id)).into(),
        attestations: state
            .attestations_of(&t.project)
            .into_iter()
            .filter(|a| a.report_hash == t.report_hash && a.period == t.period)
            .map(|a| attestation_view(state, a))
            .collect(),
        retirements,
        history: Vec::new(),
        history_truncated: false,
    })
}

/// One page of tickets (issuances) in id order after `cursor`, optionally of one project and
/// one ecosystem.
pub fn tickets(
    state: &State,
    project: Option<&str>,
    ecosystem: Option<Ecosystem>,
    cursor: Option<&str>,
    limit: usize,
) -> Page<TicketView> {
    let start = cursor.map_or(Bound::Unbounded, |c| Bound::Excluded(c.to_string()));
    let mut items = Vec::new();
    let mut next_cursor = None;
    let mut last_seen: Option<&String> = None;
    for (scanned, (id, t)) in state.tickets.range((start, Bound::Unbounded)).enumerate() {
        if items.len() == limit || scanned == SCAN_MAX {
            next_cursor = last_seen.cloned();
            break;
        }
        last_seen = Some(id);
        let keep = project.is_none_or(|p| p == t.project)
            && ecosystem.is_none_or(|e| state.projects.get(&t.project).is_some_and(|p| p.ecosystem == e));
        if keep {
            items.push(ticket_view(state, t));
        }
    }
    Page { items, next_cursor }
}

/// Every lot of a ticket in serial order, adjacent ones of one holder and state merged.
pub fn lots_of_ticket(state: &State, ticket: &str) -> Vec<LotView> {
    merged_lots(state, state.lots_of_ticket(ticket).into_iter(), usize::MAX).0
}

/// Parses a serial number.
pub fn parse_serial(s: &str) -> Found<u64> {
    s.trim().replace([',', '_', ' '], "").parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Lookup::Bad(format!(
            "serial: expected a serial number (a positive whole number such as 1200345), got {}",
            quote(s)
        ))
    })
}

/// The ticket, lot and retirement of serial `serial`.
pub fn serial(state: &State, serial: u64) -> Found<SerialLookup> {
    let (t, lot, retirement) = find_serial(state, serial)?;
    Ok(SerialLookup {
        serial,
        ticket: ticket_view(state, t),
        lot: lot_view(state, lot),
        retirement: retirement.map(|r| retirement_view(state, r)),
    })
}

/// The ticket, the lot holding it now, and the retirement that consumed serial `serial`.
pub fn find_serial(state: &State, serial: u64) -> Found<(&Ticket, &Lot, Option<&Retirement>)> {
    let not_found = || {
        Lookup::NotFound(format!(
            "serial number {serial}: no ticket has it (issued serials run from 1 to {})",
            state.meta().next_serial.saturating_sub(1)
        ))
    };
    let (_, lot) = state.lots.range(..=serial).next_back().ok_or_else(not_found)?;
    if lot.last < serial {
        return Err(not_found());
    }
    let t = state.tickets.get(&lot.ticket).ok_or_else(not_found)?;
    let retirement = match lot.state {
        LotState::Retired { retirement } => state.retirements.get(&retirement),
        _ => None,
    };
    Ok((t, lot, retirement))
}

/// Filters of the retirement search.
#[derive(Debug, Default)]
pub struct RetirementFilter {
    /// Substring of the beneficiary (folded: case and full-width forms ignored).
    pub beneficiary: Option<String>,
    /// Purpose.
    pub purpose: Option<Purpose>,
    /// Project id.
    pub project: Option<String>,
    /// Ticket id.
    pub ticket: Option<String>,
    /// Ecosystem.
    pub ecosystem: Option<Ecosystem>,
    /// Jurisdiction code prefix.
    pub jurisdiction: Option<String>,
    /// From this time (ms, inclusive).
    pub from_ms: Option<u64>,
    /// Before this time (ms, exclusive).
    pub until_ms: Option<u64>,
}

/// Parses a retirement cursor.
pub fn parse_id_cursor(s: &str) -> Found<u64> {
    s.parse().map_err(|_| Lookup::Bad(format!("cursor: {} is not a cursor this list returned", quote(s))))
}

/// One page of retirements, newest first, before `cursor` (a retirement id).
pub fn retirements(
    state: &State,
    rows: &[RetirementRow],
    f: &RetirementFilter,
    cursor: Option<u64>,
    limit: usize,
) -> Page<RetirementView> {
    let (found, next) = find_retirements(state, rows, f, cursor, limit);
    Page {
        items: found.into_iter().map(|r| retirement_view(state, r)).collect(),
        next_cursor: next.map(|n| n.to_string()),
    }
}

/// One page of retirements, newest first, with ids below `before`, and the `before` of the
/// next page if more may follow (a page ends after [`SCAN_MAX`] examined). The filters are
/// checked on the search rows ([`crate::web::index::Index::with_retirement_rows`]), so a
/// search costs a scan of short strings, not a walk over the ledger.
pub fn find_retirements<'s>(
    state: &'s State,
    rows: &[RetirementRow],
    f: &RetirementFilter,
    before: Option<u64>,
    limit: usize,
) -> (Vec<&'s Retirement>, Option<u64>) {
    let b = f.beneficiary.as_deref().map(fold);
    let end = before.map_or(rows.len(), |b| (b.saturating_sub(1) as usize).min(rows.len()));
    let mut items = Vec::new();
    let mut next_cursor = None;
    for (scanned, row) in rows[..end].iter().rev().enumerate() {
        if items.len() == limit || scanned == SCAN_MAX {
            // the next page starts with this one (the bound is exclusive)
            next_cursor = Some(row.id + 1);
            break;
        }
        let keep = b.as_ref().is_none_or(|b| row.beneficiary_folded.contains(b.as_str()))
            && f.purpose.is_none_or(|p| p == row.purpose)
            && f.ticket.as_ref().is_none_or(|t| *t == row.ticket)
            && f.project.as_ref().is_none_or(|p| *p == row.project)
            && f.ecosystem.is_none_or(|e| row.ecosystem == Some(e))
            && f.jurisdiction.as_ref().is_none_or(|j| row.jurisdiction.starts_with(j.as_str()))
            && f.from_ms.is_none_or(|from| row.time_ms >= from)
            && f.until_ms.is_none_or(|until| row.time_ms < until);
        if keep {
            if let Some(r) = state.retirements.get(&row.id) {
                items.push(r);
            }
        }
    }
    (items, next_cursor)
}

/// A retirement.
pub fn retirement(state: &State, id: u64) -> Found<RetirementView> {
    state
        .retirements
        .get(&id)
        .map(|r| retirement_view(state, r))
        .ok_or_else(|| Lookup::NotFound(format!("retirement {id}")))
}

/// Filters of the participant list.
#[derive(Debug, Default)]
pub struct AccountFilter {
    /// Role.
    pub role: Option<Role>,
    /// `admitted`, `suspended` or `frozen`.
    pub status: Option<String>,
    /// Substring of the name (folded).
    pub q: Option<String>,
}

/// Parses a role.
pub fn parse_role(s: &str) -> Found<Role> {
    [Role::Authority, Role::Verifier, Role::Exchange, Role::Holder]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| Lookup::Bad(format!("role: {} is not one of authority, verifier, exchange, holder", quote(s))))
}

/// Parses an account status filter.
pub fn parse_account_status(s: &str) -> Found<String> {
    match s {
        "admitted" | "suspended" | "frozen" => Ok(s.to_string()),
        _ => Err(Lookup::Bad(format!("status: {} is not one of admitted, suspended, frozen", quote(s)))),
    }
}

/// Parses an address (`bct1...`).
pub fn parse_address(field: &str, s: &str) -> Found<Address> {
    s.parse::<Address>().map_err(|_| Lookup::Bad(format!("{field}: {} is not a bct address (bct1...)", quote(s))))
}

/// One page of participants in address order after `cursor`.
pub fn accounts(state: &State, f: &AccountFilter, cursor: Option<Address>, limit: usize) -> Page<AccountView> {
    let (found, next) = find_accounts(state, f, cursor, limit);
    Page { items: found.into_iter().map(account_view).collect(), next_cursor: next.map(|a| a.to_string()) }
}

/// One page of participants in address order after `cursor`, and the cursor of the next
/// page if more may follow (a page ends after [`SCAN_MAX`] examined).
pub fn find_accounts<'s>(
    state: &'s State,
    f: &AccountFilter,
    cursor: Option<Address>,
    limit: usize,
) -> (Vec<&'s Account>, Option<Address>) {
    let q = f.q.as_deref().map(fold);
    let start = cursor.map_or(Bound::Unbounded, Bound::Excluded);
    let mut items = Vec::new();
    let mut next_cursor = None;
    let mut last_seen: Option<&Address> = None;
    for (scanned, (address, a)) in state.accounts.range((start, Bound::Unbounded)).enumerate() {
        if items.len() == limit || scanned == SCAN_MAX {
            next_cursor = last_seen.copied();
            break;
        }
        last_seen = Some(address);
        let status_ok = match f.status.as_deref() {
            Some("admitted") => a.is_active(),
            Some("suspended") => !a.is_active(),
            Some("frozen") => a.frozen.is_some(),
            _ => true,
        };
        if status_ok && f.role.is_none_or(|r| r == a.role) && q.as_ref().is_none_or(|q| fold(&a.name).contains(q)) {
            items.push(a);
        }
    }
    (items, next_cursor)
}

/// A participant with its holdings.
pub fn account(state: &State, address: Address) -> Found<AccountDetail> {
    let a = state.accounts.get(&address).ok_or_else(|| Lookup::NotFound(format!("account {address}")))?;
    let lots = state.lots_of_holder(address);
    let mut holdings: BTreeMap<(String, &'static str), Amount> = BTreeMap::new();
    for lot in &lots {
        let h = holdings.entry((lot.ticket.clone(), lot.state.as_str())).or_default();
        *h = h.checked_add(lot.amount()).unwrap_or(*h);
    }
    let (lots, _) = merged_lots(state, lots.into_iter(), PAGE_MAX);
    Ok(AccountDetail {
        account: account_view(a),
        holdings: holdings
            .into_iter()
            .map(|((ticket, st), q)| Holding { ticket, state: st.to_string(), quantity: q.into() })
            .collect(),
        lots,
        history: Vec::new(),
    })
}

/// A participant with its holdings and its newest transactions.
pub fn account_with_history(ledger: &NodeLedger, address: Address) -> Found<AccountDetail> {
    let mut d = account(ledger.state(), address)?;
    d.history = account_history(ledger, &address, HISTORY_MAX)?;
    Ok(d)
}

/// The newest `limit` transactions that concern `address`, in words, newest first (each
/// block read once).
pub fn account_history(ledger: &NodeLedger, address: &Address, limit: usize) -> Found<Vec<TxView>> {
    let mut blocks: BTreeMap<u64, (bct_ledger::Block, Vec<bct_ledger::TxResult>)> = BTreeMap::new();
    let mut out = Vec::new();
    for (loc, _) in ledger.txs_of_account(address, limit)? {
        if !blocks.contains_key(&loc.height) {
            let block =
                ledger.block(loc.height)?.ok_or_else(|| Lookup::Store(format!("block {} is missing", loc.height)))?;
            let results = ledger.results(loc.height)?.unwrap_or_default();
            blocks.insert(loc.height, (block, results));
        }
        if let Some((block, results)) = blocks.get(&loc.height) {
            if let Some(v) = tx_view(ledger.state(), block, loc.index as usize, results.get(loc.index as usize)) {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// A transaction's view, given its block and result.
pub fn tx_view(state: &State, block: &Block, index: usize, result: Option<&TxResult>) -> Option<TxView> {
    let tx = block.txs.get(index)?;
    let body = tx.body();
    let (accepted, rejection, issued_ticket, retirement) = match result.map(|r| &r.outcome) {
        Some(Ok(a)) => (true, None, a.ticket.clone(), a.retirement),
        Some(Err(e)) => (false, Some(e.to_string()), None, None),
        None => (false, Some("no result stored".into()), None, None),
    };
    let names = |a: &Address| name_of(state, a);
    Some(TxView {
        id: tx.id().to_string(),
        height: block.header.height,
        index: index as u32,
        time: utc(block.header.time_ms),
        kind: body.kind.name().to_string(),
        signer: body.signer.to_string(),
        signer_name: names(&body.signer),
        nonce: body.nonce,
        summary: super::words::describe(&body.kind, &names, super::i18n::Lang::En),
        summary_zh: super::words::describe(&body.kind, &names, super::i18n::Lang::Zh),
        accepted,
        rejection,
        issued_ticket,
        retirement,
    })
}

/// A block with its commit and transactions.
pub fn block(ledger: &NodeLedger, height: u64) -> Found<BlockView> {
    let block = ledger.block(height)?.ok_or_else(|| {
        Lookup::NotFound(format!("block {height} (the latest committed block is {})", ledger.height()))
    })?;
    let results = ledger.results(height)?.unwrap_or_default();
    let commit = if height == 0 { None } else { Chain::certificate(ledger, height)? };
    let set = Chain::validator_set(ledger, &block.header.validator_set_hash)?.unwrap_or_else(|| {
        let current = ledger.validators();
        if bct_ledger::block::validator_set_hash(&current) == block.header.validator_set_hash {
            current
        } else {
            Vec::new()
        }
    });
    let state = ledger.state();
    let signatures: Vec<SignatureView> = commit
        .as_ref()
        .map(|c| {
            c.signatures
                .iter()
                .map(|s| {
                    let v = set.iter().find(|v| v.public_key.as_slice() == s.validator_public_key.as_slice());
                    SignatureView {
                        validator: v.map_or_else(|| hex::encode(&s.validator_public_key), |v| v.name.clone()),
                        public_key: hex::encode(&s.validator_public_key),
                        power: v.map_or(0, |v| v.power),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let proposer_name = set
        .iter()
        .find(|v| v.address() == block.header.proposer)
        .map_or_else(|| block.header.proposer.to_string(), |v| v.name.clone());
    Ok(BlockView {
        height,
        hash: block.header.hash().to_hex(),
        prev_hash: block.header.prev_hash.to_hex(),
        time_ms: block.header.time_ms,
        time: utc(block.header.time_ms),
        proposer: block.header.proposer.to_string(),
        proposer_name,
        tx_root: block.header.tx_root.to_hex(),
        results_root: block.header.results_root.to_hex(),
        state_root: block.header.state_root.to_hex(),
        validator_set_hash: block.header.validator_set_hash.to_hex(),
        round: commit.as_ref().map(|c| c.round),
        signed_power: signatures.iter().map(|s| s.power).sum(),
        total_power: set.iter().map(|v| v.power).sum(),
        signatures,
        txs: (0..block.txs.len()).filter_map(|i| tx_view(state, &block, i, results.get(i))).collect(),
    })
}

/// Parses a transaction id (64 hex digits).
pub fn parse_tx_id(s: &str) -> Found<Hash> {
    Hash::from_hex(s).map_err(|_| Lookup::Bad(format!("transaction id: expected 64 hex digits, got {}", quote(s))))
}

/// A committed transaction.
pub fn transaction(ledger: &NodeLedger, id: &Hash) -> Found<TxView> {
    let loc = ledger.tx_location(id)?.ok_or_else(|| Lookup::NotFound(format!("transaction {}", id.to_hex())))?;
    let block = ledger.block(loc.height)?.ok_or_else(|| Lookup::Store(format!("block {} is missing", loc.height)))?;
    let results = ledger.results(loc.height)?.unwrap_or_default();
    tx_view(ledger.state(), &block, loc.index as usize, results.get(loc.index as usize))
        .ok_or_else(|| Lookup::Store(format!("transaction {} points outside its block", id.to_hex())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_matches_full_width_and_case() {
        assert_eq!(fold("ＦＯＯＤ　Co"), "food co");
        assert!(fold("Zhangzhou Food Company").contains(&fold("ｆｏｏｄ")));
        assert!(!fold("Zhangzhou Fish").contains(&fold("food")));
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199_000), "2024-02-29 23:59:59 UTC");
        let ms = parse_date("from", "2024-02-29").expect("a leap day");
        assert_eq!(utc(ms), "2024-02-29 00:00:00 UTC");
        for bad in ["2023-02-29", "2024-2-1", "yesterday", "2024-13-01", "1969-12-31", ""] {
            assert!(matches!(parse_date("from", bad), Err(Lookup::Bad(_))), "{bad}");
        }
    }

    #[test]
    fn serials_parse_and_refuse() {
        assert_eq!(parse_serial("1,200,345").ok(), Some(1_200_345));
        for bad in ["0", "-1", "abc", "", "1.5"] {
            assert!(matches!(parse_serial(bad), Err(Lookup::Bad(_))), "{bad}");
        }
    }

    #[test]
    fn quoting_bounds_and_escapes() {
        let long = "x".repeat(10_000);
        assert!(quote(&long).chars().count() < 70);
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn hectares_print_without_trailing_zeros() {
        assert_eq!(hectares(17_180), "171.8");
        assert_eq!(hectares(500), "5");
        assert_eq!(hectares(1), "0.01");
    }
}
