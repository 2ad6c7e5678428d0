//! The things the ledger keeps: accounts, projects, attestations, tickets, lots, retirements.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::crypto::{Address, Hash, TxId};

/// What an account may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// The registry authority: admits participants, registers projects, issues, freezes, cancels.
    Authority,
    /// An accredited third-party verifier: attests monitoring reports.
    Verifier,
    /// A trading centre: runs a validator, admits its own customers, records trades.
    Exchange,
    /// Anyone else: project owners, buyers, banks.
    Holder,
}

impl Role {
    /// The lower-case name used in the API, CLI and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Authority => "authority",
            Role::Verifier => "verifier",
            Role::Exchange => "exchange",
            Role::Holder => "holder",
        }
    }
}

impl Role {
    /// "a" or "an", for messages.
    pub fn article(self) -> &'static str {
        match self {
            Role::Authority | Role::Exchange => "an",
            Role::Verifier | Role::Holder => "a",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an account may act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountStatus {
    /// May sign and receive.
    Active,
    /// May neither sign nor receive; the reason is public.
    Suspended {
        /// Why.
        reason: String,
    },
}

/// An admitted participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its address.
    pub address: Address,
    /// Its role.
    pub role: Role,
    /// Display name (a company, an institute, a person).
    pub name: String,
    /// Jurisdiction code, e.g. `CN-FJ`.
    pub jurisdiction: String,
    /// Active or suspended.
    pub status: AccountStatus,
    /// A regulatory or judicial hold: the account may not move, pledge or retire units.
    pub frozen: Option<String>,
    /// The nonce of its last accepted transaction (0 before the first).
    pub nonce: u64,
    /// Who admitted it (itself for genesis accounts).
    pub admitted_by: Address,
    /// Height of admission (0 for genesis).
    pub admitted_at: u64,
}

impl Account {
    /// Whether it is active (not suspended).
    pub fn is_active(&self) -> bool {
        matches!(self.status, AccountStatus::Active)
    }
}

/// The kind of coastal or marine ecosystem a project measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ecosystem {
    /// 红树林
    Mangrove,
    /// 盐沼
    SaltMarsh,
    /// 海草床
    Seagrass,
    /// Seaweed (kelp, algae) farming.
    SeaweedFarm,
    /// Shellfish (oyster, scallop) farming.
    ShellfishFarm,
    /// Unvegetated tidal mudflat.
    Mudflat,
    /// Water column.
    WaterColumn,
    /// Anything else.
    Other,
}

impl Ecosystem {
    /// Every ecosystem, in order.
    pub const ALL: [Ecosystem; 8] = [
        Ecosystem::Mangrove,
        Ecosystem::SaltMarsh,
        Ecosystem::Seagrass,
        Ecosystem::SeaweedFarm,
        Ecosystem::ShellfishFarm,
        Ecosystem::Mudflat,
        Ecosystem::WaterColumn,
        Ecosystem::Other,
    ];

    /// The snake_case name used in the API, CLI and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Mangrove => "mangrove",
            Ecosystem::SaltMarsh => "salt_marsh",
            Ecosystem::Seagrass => "seagrass",
            Ecosystem::SeaweedFarm => "seaweed_farm",
            Ecosystem::ShellfishFarm => "shellfish_farm",
            Ecosystem::Mudflat => "mudflat",
            Ecosystem::WaterColumn => "water_column",
            Ecosystem::Other => "other",
        }
    }
}

/// Where a project is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Administrative region code, e.g. `CN-FJ-350122` (Lianjiang county).
    pub region: String,
    /// Optional centre point in microdegrees (latitude, longitude).
    pub coordinates: Option<(i32, i32)>,
}

/// A methodology and its version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Methodology {
    /// Identifier, e.g. `HY/T 0349-2022`.
    pub id: String,
    /// Version, e.g. `2022`.
    pub version: String,
}

/// Whether a project may receive issuance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectStatus {
    /// May be attested and issued.
    Active,
    /// Temporarily not issuable (reason public).
    Suspended {
        /// Why.
        reason: String,
    },
    /// Closed for good.
    Closed,
}

/// A registered carbon project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Readable id, e.g. `FJ-LJ-KELP-001`: letters, digits, `-` and `_`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The owner that receives issuance by default.
    pub owner: Address,
    /// Ecosystem type.
    pub ecosystem: Ecosystem,
    /// Location.
    pub location: Location,
    /// Area in hundredths of a hectare (171.8 ha = 17,180).
    pub area_centiha: u64,
    /// Methodology the project is measured with.
    pub methodology: Methodology,
    /// Status.
    pub status: ProjectStatus,
    /// Height at registration.
    pub registered_at: u64,
}

/// A calendar date as `YYYYMMDD`, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date(u32);

impl Date {
    /// A date from `YYYYMMDD`, `None` if it is not a real calendar date (years 1900..=2999).
    pub fn from_yyyymmdd(v: u32) -> Option<Date> {
        let (y, m, d) = (v / 10_000, (v / 100) % 100, v % 100);
        if !(1900..=2999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
            return None;
        }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        (d <= days).then_some(Date(v))
    }

    /// The `YYYYMMDD` number.
    pub fn yyyymmdd(self) -> u32 {
        self.0
    }

    /// The year.
    pub fn year(self) -> u32 {
        self.0 / 10_000
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0 / 10_000, (self.0 / 100) % 100, self.0 % 100)
    }
}

/// A monitoring period, both ends inclusive, `start <= end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub start: Date,
    /// Last day.
    pub end: Date,
}

impl Period {
    /// Whether the two periods share at least one day.
    pub fn overlaps(&self, other: &Period) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// The vintage: the year the period ends.
    pub fn vintage(&self) -> u32 {
        self.end.year()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A verifier's signed statement over a project's monitoring report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// Project.
    pub project: String,
    /// The attesting verifier.
    pub verifier: Address,
    /// Monitoring period.
    pub period: Period,
    /// Verified quantity.
    pub quantity: Amount,
    /// Methodology applied.
    pub methodology: Methodology,
    /// blake3 of the verification report.
    pub report_hash: Hash,
    /// Free-text statement (opinion, report reference).
    pub statement: String,
    /// The attesting transaction.
    pub tx: TxId,
    /// Height it was recorded at.
    pub height: u64,
}

/// A block of issued units for one project and one monitoring period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// `<project>-<YYYYMMDD>-<YYYYMMDD>-<seq>`.
    pub id: String,
    /// Project.
    pub project: String,
    /// Monitoring period.
    pub period: Period,
    /// Issued quantity, equal to `serial_last - serial_first + 1` kilograms.
    pub quantity: Amount,
    /// First serial number (one serial per kilogram).
    pub serial_first: u64,
    /// Last serial number, inclusive.
    pub serial_last: u64,
    /// The report the attestations covered.
    pub report_hash: Hash,
    /// Verifiers whose attestations supported the issuance, sorted.
    pub verifiers: Vec<Address>,
    /// First holder.
    pub issued_to: Address,
    /// Height of issuance.
    pub issued_at: u64,
    /// A hold on the whole ticket, if any.
    pub frozen: Option<String>,
}

/// What can be done with a lot now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LotState {
    /// Held and free to move.
    Active,
    /// Collateral for `pledgee`.
    Pledged {
        /// The bank (or other creditor) holding the pledge.
        pledgee: Address,
    },
    /// Held but not movable until unfrozen.
    Frozen {
        /// Why.
        reason: String,
    },
    /// Retired for good.
    Retired {
        /// The retirement record.
        retirement: u64,
    },
    /// Cancelled for good.
    Cancelled {
        /// Why.
        reason: String,
    },
}

impl LotState {
    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            LotState::Active => "active",
            LotState::Pledged { .. } => "pledged",
            LotState::Frozen { .. } => "frozen",
            LotState::Retired { .. } => "retired",
            LotState::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether the lot can never change again.
    pub fn is_final(&self) -> bool {
        matches!(self, LotState::Retired { .. } | LotState::Cancelled { .. })
    }
}

/// A holding: a contiguous range of a ticket's serials, its holder and its state.
/// Lots are keyed by their first serial, which no other lot shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    /// Ticket.
    pub ticket: String,
    /// First serial.
    pub first: u64,
    /// Last serial, inclusive.
    pub last: u64,
    /// Holder.
    pub holder: Address,
    /// State.
    pub state: LotState,
}

impl Lot {
    /// Its quantity.
    pub fn amount(&self) -> Amount {
        Amount::from_kg(self.last - self.first + 1)
    }
}

/// Why units were retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// A voluntary offset (a company's footprint, a carbon-neutral campaign).
    Voluntary,
    /// Offsetting an event.
    Event,
    /// A regulatory compliance obligation.
    Compliance,
    /// Court-ordered substitute ecological restoration (替代性修复).
    JudicialRestoration,
    /// Anything else (say what in the note).
    Other,
}

impl Purpose {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Voluntary => "voluntary",
            Purpose::Event => "event",
            Purpose::Compliance => "compliance",
            Purpose::JudicialRestoration => "judicial_restoration",
            Purpose::Other => "other",
        }
    }
}

/// A contiguous range of serials of one ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialRange {
    /// Ticket.
    pub ticket: String,
    /// First serial.
    pub first: u64,
    /// Last serial, inclusive.
    pub last: u64,
}

/// A final, public retirement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    /// Sequential id, from 1.
    pub id: u64,
    /// The account that retired.
    pub retiree: Address,
    /// On whose behalf (a company, an event, a court case).
    pub beneficiary: String,
    /// Why.
    pub purpose: Purpose,
    /// Jurisdiction the claim is made in.
    pub jurisdiction: String,
    /// Free text.
    pub note: String,
    /// Ticket.
    pub ticket: String,
    /// Total retired.
    pub quantity: Amount,
    /// The exact serials retired, lowest first.
    pub serials: Vec<SerialRange>,
    /// The retiring transaction.
    pub tx: TxId,
    /// Height.
    pub height: u64,
    /// Block time (ms since the Unix epoch).
    pub time_ms: u64,
}

/// A consensus validator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Validator {
    /// ed25519 public key.
    pub public_key: [u8; 32],
    /// Voting power (equal by default).
    pub power: u64,
    /// Operator name, e.g. the trading centre.
    pub name: String,
}

impl Validator {
    /// Its address.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.public_key)
    }
}
