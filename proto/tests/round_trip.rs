//! Ledger → protobuf bytes → ledger gives back the same value, for every transaction kind,
//! signed transactions, blocks, results, rejections and state types.

mod common;

use bct_ledger::block::{self, Accepted, Block, BlockHeader, Rejection, TxResult};
use bct_ledger::state::Totals;
use bct_ledger::tx::*;
use bct_ledger::types::*;
use bct_ledger::{crypto, Address, Amount, Hash, SignedTx, TxBody};
use bct_proto::{pb, IntoLedger};
use common::*;
use proptest::prelude::*;
use prost::Message;

#[test]
fn every_transaction_kind_round_trips_through_bytes() {
    let kinds = every_kind();
    let mut names: Vec<&str> = kinds.iter().map(TxKind::name).collect();
    names.dedup();
    assert_eq!(names.len(), 17, "the fixture covers every kind: {names:?}");
    for (i, kind) in kinds.into_iter().enumerate() {
        let body = body(i as u64 + 1, kind);
        let bytes = bct_proto::encode_body(&body);
        assert_eq!(bct_proto::decode_body(&bytes).as_ref(), Ok(&body), "{}", body.kind.name());
        let pb_kind = bct_proto::tx_kind_to_pb(&body.kind);
        assert_eq!(bct_proto::tx_kind_from_pb(pb_kind), Ok(body.kind.clone()));
        assert_eq!(pb::TxBody::from(&body).into_ledger(), Ok(body));
    }
}

#[test]
fn a_signed_transaction_verifies_and_survives_the_wire() {
    let k = key(1);
    for (i, kind) in every_kind().into_iter().enumerate() {
        let body = TxBody { expiry_height: 1_000 + i as u64, ..body(i as u64 + 1, kind) };
        let tx = bct_proto::sign(&k, &body);
        assert!(tx.verify_signature(), "{}", body.kind.name());
        assert_eq!(tx.body(), &body);
        assert_eq!(tx.body_bytes(), bct_proto::encode_body(&body).as_slice());
        assert_eq!(tx.id(), crypto::tx_id(tx.body_bytes()));
        assert_eq!(Address::from_public_key(tx.public_key()), body.signer);

        let bytes = bct_proto::encode_signed_tx(&tx);
        assert!(bytes.len() <= bct_proto::SIGNED_TX_BYTES_MAX);
        let back = bct_proto::decode_signed_tx(&bytes).expect("decodes");
        assert_eq!(back, tx);
        assert!(back.verify_signature());
        assert_eq!(bct_proto::signed_tx_from_pb(bct_proto::signed_tx_to_pb(&tx)), Ok(tx));
    }
}

#[test]
fn a_tampered_body_no_longer_verifies() {
    let tx = bct_proto::sign(&key(1), &body(1, every_kind().remove(14)));
    let mut other = tx.body().clone();
    other.nonce = 2;
    let forged = SignedTx::from_parts(bct_proto::encode_body(&other), other, *tx.public_key(), *tx.signature());
    assert!(!forged.verify_signature());
    let wrong_key = bct_proto::sign(&key(2), tx.body());
    let mixed =
        SignedTx::from_parts(tx.body_bytes().to_vec(), tx.body().clone(), *tx.public_key(), *wrong_key.signature());
    assert!(!mixed.verify_signature());
}

fn header(height: u64, txs: &[SignedTx]) -> BlockHeader {
    BlockHeader {
        chain_id: CHAIN.into(),
        height,
        prev_hash: Hash::of(b"previous"),
        time_ms: 1_700_000_000_000 + height,
        proposer: addr(200),
        tx_root: block::tx_root(txs),
        results_root: Hash::of(b"results"),
        state_root: Hash::of(b"state"),
        validator_set_hash: Hash::of(b"validators"),
        tx_count: txs.len() as u32,
    }
}

#[test]
fn blocks_round_trip_with_body_bytes_as_signed() {
    let txs: Vec<SignedTx> =
        every_kind().into_iter().enumerate().map(|(i, k)| bct_proto::sign(&key(1), &body(i as u64 + 1, k))).collect();
    let block = Block { header: header(7, &txs), txs };
    let bytes = bct_proto::encode_block(&block);
    let back = bct_proto::decode_block(&bytes, bytes.len()).expect("decodes");
    assert_eq!(back, block);
    assert_eq!(back.hash(), block.hash());
    for (a, b) in back.txs.iter().zip(&block.txs) {
        assert_eq!(a.body_bytes(), b.body_bytes());
        assert!(a.verify_signature());
    }
    let empty = Block { header: header(0, &[]), txs: vec![] };
    assert_eq!(bct_proto::decode_block(&bct_proto::encode_block(&empty), 1 << 20), Ok(empty));
    let h = block.header.clone();
    assert_eq!(pb::BlockHeader::from(&h).into_ledger(), Ok(h));
}

/// One value of every rejection variant (the match makes this fail to compile when one is added).
fn every_rejection() -> Vec<Rejection> {
    let all = vec![
        Rejection::BadSignature,
        Rejection::SignerMismatch { signer: addr(1), key_address: addr(2) },
        Rejection::WrongChainId { expected: CHAIN.into(), got: "bct-mainnet".into() },
        Rejection::StaleNonce { expected: 5, got: 3 },
        Rejection::FutureNonce { expected: 5, got: 9 },
        Rejection::Expired { expiry_height: 10, height: 11 },
        Rejection::UnknownAccount(addr(3)),
        Rejection::AccountSuspended(addr(3)),
        Rejection::AccountFrozen { address: addr(3), reason: "court order".into() },
        Rejection::WrongRole { role: Role::Holder, action: "issue".into() },
        Rejection::NotYourCustomer { signer: addr(4), target: addr(5) },
        Rejection::AccountExists(addr(3)),
        Rejection::NotSuspended(addr(3)),
        Rejection::InvalidField { field: "name".into(), reason: "must not be empty".into() },
        Rejection::ProjectExists("P".into()),
        Rejection::UnknownProject("P".into()),
        Rejection::ProjectNotActive("P".into()),
        Rejection::MethodologyMismatch { expected: "A".into(), got: "B".into() },
        Rejection::DuplicateAttestation { project: "P".into(), report_hash: Hash::of(b"r") },
        Rejection::NotEnoughAttestations { required: 2, found: 1 },
        Rejection::QuantityAboveAttested { requested: Amount::from_kg(2), attested: Amount::from_kg(1) },
        Rejection::PeriodOverlap("P-20210101-20211231-1".into()),
        Rejection::ZeroAmount,
        Rejection::AmountOverflow,
        Rejection::UnknownTicket("T".into()),
        Rejection::TicketFrozen { ticket: "T".into(), reason: "review".into() },
        Rejection::InsufficientUnits {
            holder: addr(6),
            ticket: "T".into(),
            state: "active".into(),
            available: Amount::from_kg(1),
            requested: Amount::from_kg(2),
        },
        Rejection::SelfTransfer,
        Rejection::AlreadyFrozen("T".into()),
        Rejection::NotFrozen("T".into()),
        Rejection::InvalidValidatorSet("empty".into()),
        Rejection::NotEnoughApprovals { approved: 1, total: 4 },
        Rejection::BadApproval { index: 2 },
    ];
    for r in &all {
        match r {
            Rejection::BadSignature
            | Rejection::SignerMismatch { .. }
            | Rejection::WrongChainId { .. }
            | Rejection::StaleNonce { .. }
            | Rejection::FutureNonce { .. }
            | Rejection::Expired { .. }
            | Rejection::UnknownAccount(_)
            | Rejection::AccountSuspended(_)
            | Rejection::AccountFrozen { .. }
            | Rejection::WrongRole { .. }
            | Rejection::NotYourCustomer { .. }
            | Rejection::AccountExists(_)
            | Rejection::NotSuspended(_)
            | Rejection::InvalidField { .. }
            | Rejection::ProjectExists(_)
            | Rejection::UnknownProject(_)
            | Rejection::ProjectNotActive(_)
            | Rejection::MethodologyMismatch { .. }
            | Rejection::DuplicateAttestation { .. }
            | Rejection::NotEnoughAttestations { .. }
            | Rejection::QuantityAboveAttested { .. }
            | Rejection::PeriodOverlap(_)
            | Rejection::ZeroAmount
            | Rejection::AmountOverflow
            | Rejection::UnknownTicket(_)
            | Rejection::TicketFrozen { .. }
            | Rejection::InsufficientUnits { .. }
            | Rejection::SelfTransfer
            | Rejection::AlreadyFrozen(_)
            | Rejection::NotFrozen(_)
            | Rejection::InvalidValidatorSet(_)
            | Rejection::NotEnoughApprovals { .. }
            | Rejection::BadApproval { .. } => {}
        }
    }
    all
}

#[test]
fn results_and_every_rejection_round_trip() {
    let mut results = vec![
        TxResult { tx: Hash::of(b"a"), outcome: Ok(Accepted::default()) },
        TxResult { tx: Hash::of(b"b"), outcome: Ok(Accepted { ticket: Some("T-1".into()), ..Accepted::default() }) },
        TxResult {
            tx: Hash::of(b"c"),
            outcome: Ok(Accepted {
                ticket: None,
                retirement: Some(7),
                serials: vec![bct_ledger::types::SerialRange { ticket: "T-1".into(), first: 10, last: 19 }],
            }),
        },
    ];
    for (i, r) in every_rejection().into_iter().enumerate() {
        let p = pb::Rejection::from(&r);
        assert_eq!(p.code, u32::from(r.code()));
        assert_eq!(p.message, r.to_string());
        assert_eq!(p.clone().into_ledger(), Ok(r.clone()));
        results.push(TxResult { tx: Hash::of(&[i as u8]), outcome: Err(r) });
    }
    for r in results {
        let bytes = pb::TxResult::from(&r).encode_to_vec();
        let back = pb::TxResult::decode(bytes.as_slice()).expect("decodes").into_ledger();
        assert_eq!(back.as_ref(), Ok(&r));
        assert_eq!(back.expect("converts").leaf_bytes(), r.leaf_bytes());
    }
}

#[test]
fn rejection_detail_is_the_one_of_field_numbered_100_plus_code() {
    use prost::encoding::{decode_key, decode_varint};
    for r in every_rejection() {
        let bytes = pb::Rejection::from(&r).encode_to_vec();
        let mut buf = bytes.as_slice();
        let mut last_tag = 0;
        while !buf.is_empty() {
            let (tag, wire_type) = decode_key(&mut buf).expect("key");
            last_tag = tag;
            match wire_type {
                prost::encoding::WireType::Varint => {
                    decode_varint(&mut buf).expect("varint");
                }
                prost::encoding::WireType::LengthDelimited => {
                    let len = decode_varint(&mut buf).expect("length") as usize;
                    buf = &buf[len..];
                }
                other => panic!("unexpected wire type {other:?}"),
            }
        }
        assert_eq!(last_tag, 100 + u32::from(r.code()), "{r:?}");
    }
}

#[test]
fn state_types_round_trip() {
    let report = Hash::of(b"report");
    let accounts = [
        Account {
            address: addr(1),
            role: Role::Authority,
            name: "Fujian Ocean and Fisheries Bureau".into(),
            jurisdiction: "CN-FJ".into(),
            status: AccountStatus::Active,
            frozen: None,
            nonce: 0,
            admitted_by: addr(1),
            admitted_at: 0,
        },
        Account {
            address: addr(2),
            role: Role::Holder,
            name: "Kelp farm".into(),
            jurisdiction: "CN-FJ".into(),
            status: AccountStatus::Suspended { reason: "unpaid fees".into() },
            frozen: Some("court order".into()),
            nonce: 9,
            admitted_by: addr(3),
            admitted_at: 12,
        },
    ];
    for a in &accounts {
        assert_eq!(pb::Account::from(a).into_ledger().as_ref(), Ok(a));
    }
    for (status, coordinates) in [
        (ProjectStatus::Active, None),
        (ProjectStatus::Suspended { reason: "survey".into() }, Some((-1, 2))),
        (ProjectStatus::Closed, Some((i32::MIN, i32::MAX))),
    ] {
        let p = Project {
            id: "FJ-LJ-KELP-001".into(),
            name: "Lianjiang kelp farm".into(),
            owner: addr(2),
            ecosystem: Ecosystem::SeaweedFarm,
            location: Location { region: "CN-FJ-350122".into(), coordinates },
            area_centiha: 17_180,
            methodology: kelp_methodology(),
            status,
            registered_at: 3,
        };
        assert_eq!(pb::Project::from(&p).into_ledger().as_ref(), Ok(&p));
    }
    for e in Ecosystem::ALL {
        let p = pb::RegisterProject {
            ecosystem: pb::Ecosystem::from_str_name(&format!("ECOSYSTEM_{}", e.as_str().to_uppercase()))
                .expect("proto name matches the ledger name")
                .into(),
            ..Default::default()
        };
        assert_ne!(p.ecosystem, 0);
    }
    let att = Attestation {
        project: "P".into(),
        verifier: addr(4),
        period: period(20210101, 20211231),
        quantity: Amount::from_kg(27_456_000),
        methodology: kelp_methodology(),
        report_hash: report,
        statement: "ok".into(),
        tx: Hash::of(b"tx"),
        height: 4,
    };
    assert_eq!(pb::Attestation::from(&att).into_ledger().as_ref(), Ok(&att));
    let ticket = Ticket {
        id: "P-20210101-20211231-1".into(),
        project: "P".into(),
        period: period(20210101, 20211231),
        quantity: Amount::from_kg(1000),
        serial_first: 1,
        serial_last: 1000,
        report_hash: report,
        verifiers: vec![addr(4), addr(5)],
        issued_to: addr(2),
        issued_at: 5,
        frozen: Some("review".into()),
    };
    assert_eq!(pb::Ticket::from(&ticket).into_ledger().as_ref(), Ok(&ticket));
    for state in [
        LotState::Active,
        LotState::Pledged { pledgee: addr(7) },
        LotState::Frozen { reason: "hold".into() },
        LotState::Retired { retirement: 3 },
        LotState::Cancelled { reason: "reversal".into() },
    ] {
        let lot = Lot { ticket: "T".into(), first: 10, last: 20, holder: addr(2), state };
        assert_eq!(pb::Lot::from(&lot).into_ledger().as_ref(), Ok(&lot));
    }
    let ret = Retirement {
        id: 1,
        retiree: addr(2),
        beneficiary: "Airline".into(),
        purpose: Purpose::Voluntary,
        jurisdiction: "CN".into(),
        note: String::new(),
        ticket: "T".into(),
        quantity: Amount::from_kg(15),
        serials: vec![
            SerialRange { ticket: "T".into(), first: 1, last: 10 },
            SerialRange { ticket: "T".into(), first: 21, last: 25 },
        ],
        tx: Hash::of(b"tx"),
        height: 9,
        time_ms: 1_700_000_000_000,
    };
    assert_eq!(pb::Retirement::from(&ret).into_ledger().as_ref(), Ok(&ret));
    let totals = Totals {
        issued: Amount::from_kg(6),
        active: Amount::from_kg(1),
        pledged: Amount::from_kg(1),
        frozen: Amount::from_kg(1),
        retired: Amount::from_kg(2),
        cancelled: Amount::from_kg(1),
    };
    assert_eq!(pb::Totals::from(&totals).into_ledger().as_ref(), Ok(&totals));
    let v = Validator { public_key: [9; 32], power: 10, name: "Straits exchange".into() };
    assert_eq!(pb::Validator::from(&v).into_ledger().as_ref(), Ok(&v));
}

#[test]
fn the_descriptor_set_describes_every_file_and_service() {
    let fds = prost_types::FileDescriptorSet::decode(bct_proto::FILE_DESCRIPTOR_SET).expect("decodes");
    let files: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
    assert_eq!(files, ["bct/v1/tx.proto", "bct/v1/types.proto", "bct/v1/node.proto"]);
    assert!(fds.file.iter().all(|f| f.package() == "bct.v1"));
    let services: Vec<&str> = fds.file.iter().flat_map(|f| &f.service).map(|s| s.name()).collect();
    assert_eq!(services, ["Transactions", "Query", "Events"]);
}

/// The numbering convention that makes field-number order the order generators write
/// (prost writes one-ofs after the other fields): fields numbered in declaration order, and
/// one-of members numbered above every other field of their message.
#[test]
fn fields_are_numbered_in_order_with_one_ofs_last() {
    fn check(m: &prost_types::DescriptorProto, path: &str) {
        let path = format!("{path}.{}", m.name());
        let in_real_oneof = |f: &prost_types::FieldDescriptorProto| f.oneof_index.is_some() && !f.proto3_optional();
        let plain: Vec<i32> = m.field.iter().filter(|f| !in_real_oneof(f)).map(|f| f.number()).collect();
        let oneof: Vec<i32> = m.field.iter().filter(|f| in_real_oneof(f)).map(|f| f.number()).collect();
        assert!(plain.windows(2).all(|w| w[0] < w[1]), "{path}: fields numbered in declaration order");
        assert!(oneof.windows(2).all(|w| w[0] < w[1]), "{path}: one-of members numbered in order");
        if let (Some(max_plain), Some(min_oneof)) = (plain.iter().max(), oneof.iter().min()) {
            assert!(max_plain < min_oneof, "{path}: one-of members numbered above the other fields");
        }
        for nested in &m.nested_type {
            check(nested, &path);
        }
    }
    let fds = prost_types::FileDescriptorSet::decode(bct_proto::FILE_DESCRIPTOR_SET).expect("decodes");
    for f in &fds.file {
        for m in &f.message_type {
            check(m, f.package());
        }
    }
}

// ---- property tests --------------------------------------------------------------------------

fn arb_address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address)
}

fn arb_hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

fn arb_text() -> impl Strategy<Value = String> {
    ".{0,24}"
}

fn arb_amount() -> impl Strategy<Value = Amount> {
    any::<u64>().prop_map(Amount::from_kg)
}

fn arb_date() -> impl Strategy<Value = Date> {
    (1900u32..=2999, 1u32..=12, 1u32..=31)
        .prop_filter_map("a calendar date", |(y, m, d)| Date::from_yyyymmdd(y * 10_000 + m * 100 + d))
}

fn arb_period() -> impl Strategy<Value = Period> {
    (arb_date(), arb_date()).prop_map(|(start, end)| Period { start, end })
}

fn arb_methodology() -> impl Strategy<Value = Methodology> {
    (arb_text(), arb_text()).prop_map(|(id, version)| Methodology { id, version })
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Authority), Just(Role::Verifier), Just(Role::Exchange), Just(Role::Holder)]
}

fn arb_purpose() -> impl Strategy<Value = Purpose> {
    prop_oneof![
        Just(Purpose::Voluntary),
        Just(Purpose::Event),
        Just(Purpose::Compliance),
        Just(Purpose::JudicialRestoration),
        Just(Purpose::Other)
    ]
}

fn arb_freeze_target() -> impl Strategy<Value = FreezeTarget> {
    prop_oneof![arb_address().prop_map(FreezeTarget::Account), arb_text().prop_map(FreezeTarget::Ticket)]
}

fn arb_validator() -> impl Strategy<Value = Validator> {
    (any::<[u8; 32]>(), any::<u64>(), arb_text()).prop_map(|(public_key, power, name)| Validator {
        public_key,
        power,
        name,
    })
}

fn arb_approval() -> impl Strategy<Value = Approval> {
    (any::<[u8; 32]>(), prop::collection::vec(any::<u8>(), 64))
        .prop_map(|(public_key, sig)| Approval { public_key, signature: sig.try_into().expect("64 bytes") })
}

fn arb_kind() -> impl Strategy<Value = TxKind> {
    let accounts = prop_oneof![
        (arb_address(), arb_role(), arb_text(), arb_text()).prop_map(|(address, role, name, jurisdiction)| {
            TxKind::AdmitAccount(AdmitAccount { address, role, name, jurisdiction })
        }),
        (
            arb_address(),
            proptest::option::of(arb_text()),
            proptest::option::of(arb_text()),
            proptest::option::of(arb_role())
        )
            .prop_map(|(address, name, jurisdiction, role)| {
                TxKind::UpdateAccount(UpdateAccount { address, name, jurisdiction, role })
            }),
        (arb_address(), arb_text())
            .prop_map(|(address, reason)| TxKind::SuspendAccount(SuspendAccount { address, reason })),
        arb_address().prop_map(|address| TxKind::ReinstateAccount(ReinstateAccount { address })),
    ];
    let ecosystem = prop::sample::select(Ecosystem::ALL.to_vec());
    let status = prop_oneof![
        Just(ProjectStatusChange::Activate),
        arb_text().prop_map(|reason| ProjectStatusChange::Suspend { reason }),
        Just(ProjectStatusChange::Close),
    ];
    let projects = prop_oneof![
        (
            arb_text(),
            arb_text(),
            arb_address(),
            ecosystem,
            arb_text(),
            proptest::option::of(any::<(i32, i32)>()),
            any::<u64>(),
            arb_methodology()
        )
            .prop_map(|(id, name, owner, ecosystem, region, coordinates, area_centiha, methodology)| {
                TxKind::RegisterProject(RegisterProject {
                    id,
                    name,
                    owner,
                    ecosystem,
                    location: Location { region, coordinates },
                    area_centiha,
                    methodology,
                })
            }),
        (
            arb_text(),
            proptest::option::of(arb_text()),
            proptest::option::of(arb_address()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(status)
        )
            .prop_map(|(id, name, owner, area_centiha, status)| {
                TxKind::UpdateProject(UpdateProject { id, name, owner, area_centiha, status })
            }),
        (arb_text(), arb_period(), arb_amount(), arb_methodology(), arb_hash(), arb_text()).prop_map(
            |(project, period, quantity, methodology, report_hash, statement)| {
                TxKind::Attest(Attest { project, period, quantity, methodology, report_hash, statement })
            }
        ),
        (arb_text(), arb_period(), arb_hash(), arb_amount(), proptest::option::of(arb_address())).prop_map(
            |(project, period, report_hash, quantity, recipient)| {
                TxKind::Issue(Issue { project, period, report_hash, quantity, recipient })
            }
        ),
    ];
    let trade = (any::<u64>(), arb_text(), arb_text()).prop_map(|(price_per_tonne_minor, currency, reference)| Trade {
        price_per_tonne_minor,
        currency,
        reference,
    });
    let units = prop_oneof![
        (arb_text(), arb_address(), arb_amount(), proptest::option::of(trade))
            .prop_map(|(ticket, to, quantity, trade)| TxKind::Transfer(Transfer { ticket, to, quantity, trade })),
        (arb_text(), arb_amount(), arb_text(), arb_purpose(), arb_text(), arb_text()).prop_map(
            |(ticket, quantity, beneficiary, purpose, jurisdiction, note)| {
                TxKind::Retire(Retire { ticket, quantity, beneficiary, purpose, jurisdiction, note })
            }
        ),
        (arb_text(), arb_amount(), arb_address()).prop_map(|(ticket, quantity, pledgee)| TxKind::Pledge(Pledge {
            ticket,
            quantity,
            pledgee
        })),
        (arb_text(), arb_address(), arb_amount()).prop_map(|(ticket, holder, quantity)| TxKind::Release(Release {
            ticket,
            holder,
            quantity
        })),
        (arb_text(), arb_address(), arb_amount()).prop_map(|(ticket, holder, quantity)| TxKind::Seize(Seize {
            ticket,
            holder,
            quantity
        })),
    ];
    let holds = prop_oneof![
        (arb_freeze_target(), arb_text()).prop_map(|(target, reason)| TxKind::Freeze(Freeze { target, reason })),
        arb_freeze_target().prop_map(|target| TxKind::Unfreeze(Unfreeze { target })),
        (arb_text(), arb_address(), arb_amount(), arb_text()).prop_map(|(ticket, holder, quantity, reason)| {
            TxKind::Cancel(Cancel { ticket, holder, quantity, reason })
        }),
        (prop::collection::vec(arb_validator(), 0..5), prop::collection::vec(arb_approval(), 0..5))
            .prop_map(|(validators, approvals)| TxKind::UpdateValidators(UpdateValidators { validators, approvals })),
    ];
    prop_oneof![accounts, projects, units, holds]
}

fn arb_tx_body() -> impl Strategy<Value = TxBody> {
    (arb_text(), arb_address(), any::<u64>(), any::<u64>(), arb_kind()).prop_map(
        |(chain_id, signer, nonce, expiry_height, kind)| TxBody { chain_id, signer, nonce, expiry_height, kind },
    )
}

proptest! {
    #[test]
    fn any_body_round_trips_and_its_encoding_is_canonical(body in arb_tx_body()) {
        let bytes = bct_proto::encode_body(&body);
        prop_assert_eq!(bct_proto::decode_body(&bytes), Ok(body.clone()));
        prop_assert_eq!(bct_proto::encode_body(&bct_proto::decode_body(&bytes).expect("decodes")), bytes);
    }

    #[test]
    fn any_signed_body_verifies(body in arb_tx_body(), seed in any::<[u8; 32]>()) {
        let k = ed25519_dalek::SigningKey::from_bytes(&seed);
        let tx = bct_proto::sign(&k, &body);
        prop_assert!(tx.verify_signature());
        let back = bct_proto::decode_signed_tx(&bct_proto::encode_signed_tx(&tx)).expect("decodes");
        prop_assert_eq!(back.id(), tx.id());
        prop_assert_eq!(back, tx);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = bct_proto::decode_body(&bytes);
        let _ = bct_proto::decode_signed_tx(&bytes);
        let _ = bct_proto::decode_block(&bytes, 1 << 20);
    }
}
