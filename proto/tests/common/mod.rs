//! Shared fixtures: keys, addresses, and one realistic transaction of every kind.
#![allow(dead_code, unreachable_pub)]

use bct_ledger::tx::*;
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role, Validator};
use bct_ledger::{Address, Amount, Hash, TxBody};
use ed25519_dalek::SigningKey;

pub const CHAIN: &str = "bct-testnet-1";

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn addr(seed: u8) -> Address {
    Address::from_public_key(&key(seed).verifying_key().to_bytes())
}

pub fn date(v: u32) -> Date {
    Date::from_yyyymmdd(v).expect("a calendar date")
}

pub fn period(start: u32, end: u32) -> Period {
    Period { start: date(start), end: date(end) }
}

pub fn kelp_methodology() -> Methodology {
    Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() }
}

/// One transaction of every kind, in `TxKind` order, with every optional field both set and unset
/// somewhere.
pub fn every_kind() -> Vec<TxKind> {
    let report = Hash::of(b"Lianjiang kelp monitoring report 2021");
    vec![
        TxKind::AdmitAccount(AdmitAccount {
            address: addr(10),
            role: Role::Verifier,
            name: "Third Institute of Oceanography".into(),
            jurisdiction: "CN-FJ".into(),
        }),
        TxKind::UpdateAccount(UpdateAccount {
            address: addr(10),
            name: Some("TIO, Ministry of Natural Resources".into()),
            jurisdiction: None,
            role: Some(Role::Holder),
        }),
        TxKind::UpdateAccount(UpdateAccount {
            address: addr(10),
            name: None,
            jurisdiction: Some(String::new()),
            role: None,
        }),
        TxKind::SuspendAccount(SuspendAccount { address: addr(11), reason: "licence expired".into() }),
        TxKind::ReinstateAccount(ReinstateAccount { address: addr(11) }),
        TxKind::RegisterProject(RegisterProject {
            id: "FJ-LJ-KELP-001".into(),
            name: "Lianjiang kelp farm".into(),
            owner: addr(12),
            ecosystem: Ecosystem::SeaweedFarm,
            location: Location { region: "CN-FJ-350122".into(), coordinates: Some((26_200_000, 119_540_000)) },
            area_centiha: 17_180,
            methodology: kelp_methodology(),
        }),
        TxKind::RegisterProject(RegisterProject {
            id: "SZ-FT-MANGROVE".into(),
            name: "Futian mangrove reserve".into(),
            owner: addr(13),
            ecosystem: Ecosystem::Mangrove,
            location: Location { region: "CN-GD-440304".into(), coordinates: None },
            area_centiha: 12_600,
            methodology: Methodology { id: "SZDB/Z mangrove".into(), version: "2023-05-25".into() },
        }),
        TxKind::UpdateProject(UpdateProject {
            id: "FJ-LJ-KELP-001".into(),
            name: Some("Lianjiang kelp farm, phase 2".into()),
            owner: Some(addr(14)),
            area_centiha: Some(20_000),
            status: Some(ProjectStatusChange::Suspend { reason: "typhoon damage survey".into() }),
        }),
        TxKind::UpdateProject(UpdateProject {
            id: "FJ-LJ-KELP-001".into(),
            name: None,
            owner: None,
            area_centiha: None,
            status: Some(ProjectStatusChange::Activate),
        }),
        TxKind::UpdateProject(UpdateProject {
            id: "FJ-LJ-KELP-001".into(),
            name: None,
            owner: None,
            area_centiha: Some(0),
            status: Some(ProjectStatusChange::Close),
        }),
        TxKind::UpdateProject(UpdateProject {
            id: "X".into(),
            name: None,
            owner: None,
            area_centiha: None,
            status: None,
        }),
        TxKind::Attest(Attest {
            project: "FJ-LJ-KELP-001".into(),
            period: period(20210101, 20211231),
            quantity: Amount::from_kg(27_456_000),
            methodology: kelp_methodology(),
            report_hash: report,
            statement: "Verified removal for 2021, report TIO-2022-017".into(),
        }),
        TxKind::Issue(Issue {
            project: "FJ-LJ-KELP-001".into(),
            period: period(20210101, 20211231),
            report_hash: report,
            quantity: Amount::from_kg(27_456_000),
            recipient: None,
        }),
        TxKind::Issue(Issue {
            project: "FJ-LJ-KELP-001".into(),
            period: period(20200229, 20201231),
            report_hash: report,
            quantity: Amount::from_kg(1),
            recipient: Some(addr(15)),
        }),
        TxKind::Transfer(Transfer {
            ticket: "FJ-LJ-KELP-001-20210101-20211231-1".into(),
            to: addr(16),
            quantity: Amount::from_kg(6_000_000),
            trade: Some(Trade {
                price_per_tonne_minor: 2_000,
                currency: "CNY".into(),
                reference: "HX-2022-0001".into(),
            }),
        }),
        TxKind::Transfer(Transfer {
            ticket: "FJ-LJ-KELP-001-20210101-20211231-1".into(),
            to: addr(16),
            quantity: Amount::from_kg(u64::MAX),
            trade: None,
        }),
        TxKind::Retire(Retire {
            ticket: "FJ-LJ-KELP-001-20210101-20211231-1".into(),
            quantity: Amount::from_kg(1_000_000),
            beneficiary: "Carbon-neutral air ticket campaign".into(),
            purpose: Purpose::Event,
            jurisdiction: "CN".into(),
            note: "碳中和机票".into(),
        }),
        TxKind::Retire(Retire {
            ticket: "T".into(),
            quantity: Amount::from_kg(105_000),
            beneficiary: "Dongshan county court case 2023-17".into(),
            purpose: Purpose::JudicialRestoration,
            jurisdiction: "CN-FJ".into(),
            note: String::new(),
        }),
        TxKind::Pledge(Pledge { ticket: "T".into(), quantity: Amount::from_kg(3_000_000), pledgee: addr(17) }),
        TxKind::Release(Release { ticket: "T".into(), holder: addr(16), quantity: Amount::from_kg(1_000) }),
        TxKind::Seize(Seize { ticket: "T".into(), holder: addr(16), quantity: Amount::from_kg(2_000) }),
        TxKind::Freeze(Freeze { target: FreezeTarget::Account(addr(16)), reason: "court order 2024-3".into() }),
        TxKind::Freeze(Freeze { target: FreezeTarget::Ticket("T".into()), reason: "report under review".into() }),
        TxKind::Unfreeze(Unfreeze { target: FreezeTarget::Account(addr(16)) }),
        TxKind::Unfreeze(Unfreeze { target: FreezeTarget::Ticket(String::new()) }),
        TxKind::Cancel(Cancel {
            ticket: "T".into(),
            holder: addr(16),
            quantity: Amount::from_kg(500),
            reason: "reversal: mangrove loss".into(),
        }),
        TxKind::UpdateValidators(UpdateValidators {
            validators: vec![
                Validator { public_key: [1; 32], power: 1, name: "Straits exchange".into() },
                Validator { public_key: [2; 32], power: 3, name: "Xiamen exchange".into() },
            ],
            approvals: vec![Approval { public_key: [3; 32], signature: [4; 64] }],
        }),
        TxKind::UpdateValidators(UpdateValidators { validators: vec![], approvals: vec![] }),
    ]
}

pub fn body(nonce: u64, kind: TxKind) -> TxBody {
    TxBody { chain_id: CHAIN.into(), signer: addr(1), nonce, expiry_height: 0, kind }
}
