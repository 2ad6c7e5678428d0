//! Every way adversarial input is refused, with the message a user would read.

mod common;

use bct_ledger::block::{Rejection, TxResult};
use bct_ledger::tx::TxKind;
use bct_proto::{pb, IntoLedger, ProtoError, SIGNED_TX_BYTES_MAX, TX_BODY_BYTES_MAX};
use common::*;
use pb::tx_body::Kind;
use prost::Message;

/// A valid protobuf body holding `kind`, for tests to break one field of.
fn pb_body(kind: Kind) -> pb::TxBody {
    pb::TxBody { chain_id: CHAIN.into(), signer: addr(1).0.to_vec(), nonce: 1, expiry_height: 0, kind: Some(kind) }
}

fn pb_kind(index: usize) -> Kind {
    bct_proto::tx_kind_to_pb(&every_kind()[index])
}

fn kind_named(name: &str) -> Kind {
    let k = every_kind().into_iter().find(|k| k.name() == name).expect("a fixture of that kind");
    bct_proto::tx_kind_to_pb(&k)
}

/// Decodes the encoding of `body` and returns the error message.
fn body_error(body: pb::TxBody) -> String {
    match bct_proto::decode_body(&body.encode_to_vec()) {
        Ok(b) => panic!("decoded {b:?}"),
        Err(e) => e.to_string(),
    }
}

fn check(body: pb::TxBody, expected: &str) {
    assert_eq!(body_error(body), expected);
}

#[test]
fn wrong_address_lengths_name_the_field() {
    let Kind::Transfer(mut t) = kind_named("transfer") else { unreachable!() };
    t.to = vec![1, 2, 3];
    check(pb_body(Kind::Transfer(t)), "transfer.to: expected a 20-byte address, got 3 bytes");

    let mut b = pb_body(kind_named("transfer"));
    b.signer = vec![0; 19];
    check(b, "signer: expected a 20-byte address, got 19 bytes");

    let mut b = pb_body(kind_named("transfer"));
    b.signer = vec![];
    check(b, "signer: expected a 20-byte address, got 0 bytes");

    let Kind::Issue(mut t) = kind_named("issue") else { unreachable!() };
    t.recipient = Some(vec![]);
    check(pb_body(Kind::Issue(t)), "issue.recipient: expected a 20-byte address, got 0 bytes");

    let Kind::Freeze(mut t) = kind_named("freeze") else { unreachable!() };
    t.target = Some(pb::FreezeTarget { target: Some(pb::freeze_target::Target::Account(vec![7; 21])) });
    check(pb_body(Kind::Freeze(t)), "freeze.target.account: expected a 20-byte address, got 21 bytes");

    let Kind::UpdateProject(mut t) = kind_named("update_project") else { unreachable!() };
    t.owner = Some(vec![1; 32]);
    check(pb_body(Kind::UpdateProject(t)), "update_project.owner: expected a 20-byte address, got 32 bytes");
}

#[test]
fn wrong_hash_key_and_signature_lengths_name_the_field() {
    let Kind::Attest(mut t) = kind_named("attest") else { unreachable!() };
    t.report_hash = vec![0; 31];
    check(pb_body(Kind::Attest(t)), "attest.report_hash: expected a 32-byte hash, got 31 bytes");

    let Kind::UpdateValidators(mut t) = kind_named("update_validators") else { unreachable!() };
    t.validators[1].public_key.pop();
    check(
        pb_body(Kind::UpdateValidators(t)),
        "update_validators.validators[1].public_key: expected a 32-byte ed25519 public key, got 31 bytes",
    );

    let Kind::UpdateValidators(mut t) = kind_named("update_validators") else { unreachable!() };
    t.approvals[0].signature.push(0);
    check(
        pb_body(Kind::UpdateValidators(t)),
        "update_validators.approvals[0].signature: expected a 64-byte ed25519 signature, got 65 bytes",
    );

    let Kind::UpdateValidators(mut t) = kind_named("update_validators") else { unreachable!() };
    t.validators = vec![pb::Validator::default(); 101];
    check(pb_body(Kind::UpdateValidators(t)), "update_validators.validators: 101 entries; at most 100 are accepted");
    let Kind::UpdateValidators(mut t) = kind_named("update_validators") else { unreachable!() };
    t.approvals = vec![pb::Approval::default(); 5000];
    check(pb_body(Kind::UpdateValidators(t)), "update_validators.approvals: 5000 entries; at most 100 are accepted");

    let tx = bct_proto::sign(&key(1), &body(1, every_kind().remove(0)));
    let mut p = bct_proto::signed_tx_to_pb(&tx);
    p.signer_public_key.pop();
    assert_eq!(
        bct_proto::signed_tx_from_pb(p.clone()).map_err(|e| e.to_string()),
        Err("signed_tx.signer_public_key: expected a 32-byte ed25519 public key, got 31 bytes".into())
    );
    let status = tonic::Status::from(p.into_ledger().expect_err("short key"));
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "signed_tx.signer_public_key: expected a 32-byte ed25519 public key, got 31 bytes");
    let mut p = bct_proto::signed_tx_to_pb(&tx);
    p.signature.truncate(63);
    let bytes = p.encode_to_vec();
    assert_eq!(
        bct_proto::decode_signed_tx(&bytes).map_err(|e| e.to_string()),
        Err("signed_tx.signature: expected a 64-byte ed25519 signature, got 63 bytes".into())
    );
}

#[test]
fn unspecified_and_unknown_enums_are_refused() {
    let Kind::Retire(mut t) = kind_named("retire") else { unreachable!() };
    t.purpose = 0;
    check(pb_body(Kind::Retire(t.clone())), "retire.purpose: unspecified");
    t.purpose = 99;
    check(pb_body(Kind::Retire(t)), "retire.purpose: unknown value 99");

    let Kind::AdmitAccount(mut t) = kind_named("admit_account") else { unreachable!() };
    t.role = pb::Role::Unspecified.into();
    check(pb_body(Kind::AdmitAccount(t)), "admit_account.role: unspecified");

    let Kind::UpdateAccount(mut t) = kind_named("update_account") else { unreachable!() };
    t.role = Some(0);
    check(pb_body(Kind::UpdateAccount(t)), "update_account.role: unspecified");

    let Kind::RegisterProject(mut t) = kind_named("register_project") else { unreachable!() };
    t.ecosystem = -1;
    check(pb_body(Kind::RegisterProject(t)), "register_project.ecosystem: unknown value -1");
}

#[test]
fn missing_messages_and_empty_one_ofs_are_refused() {
    let mut b = pb_body(kind_named("transfer"));
    b.kind = None;
    check(b, "tx body: no transaction kind set");
    assert_eq!(bct_proto::decode_body(&[]).map_err(|e| e.to_string()), Err("tx body: no transaction kind set".into()));

    let Kind::Attest(mut t) = kind_named("attest") else { unreachable!() };
    t.period = None;
    check(pb_body(Kind::Attest(t)), "attest.period: missing");

    let Kind::Issue(mut t) = kind_named("issue") else { unreachable!() };
    t.period = None;
    check(pb_body(Kind::Issue(t)), "issue.period: missing");

    let Kind::RegisterProject(mut t) = kind_named("register_project") else { unreachable!() };
    t.location = None;
    check(pb_body(Kind::RegisterProject(t)), "register_project.location: missing");

    let Kind::RegisterProject(mut t) = kind_named("register_project") else { unreachable!() };
    t.methodology = None;
    check(pb_body(Kind::RegisterProject(t)), "register_project.methodology: missing");

    let Kind::UpdateProject(mut t) = kind_named("update_project") else { unreachable!() };
    t.status = Some(pb::ProjectStatusChange { change: None });
    check(pb_body(Kind::UpdateProject(t)), "update_project.status: no status change set");

    let Kind::Freeze(mut t) = kind_named("freeze") else { unreachable!() };
    t.target = None;
    check(pb_body(Kind::Freeze(t)), "freeze.target: missing");

    let Kind::Unfreeze(mut t) = kind_named("unfreeze") else { unreachable!() };
    t.target = Some(pb::FreezeTarget { target: None });
    check(pb_body(Kind::Unfreeze(t)), "unfreeze.target: no account or ticket set");
}

#[test]
fn dates_that_are_not_on_the_calendar_are_refused() {
    let Kind::Attest(mut t) = kind_named("attest") else { unreachable!() };
    t.period = Some(pb::Period { start: 20231301, end: 20231231 });
    check(
        pb_body(Kind::Attest(t.clone())),
        "attest.period.start: 20231301 is not a calendar date (YYYYMMDD, years 1900 to 2999)",
    );
    t.period = Some(pb::Period { start: 20230101, end: 20230229 });
    check(
        pb_body(Kind::Attest(t.clone())),
        "attest.period.end: 20230229 is not a calendar date (YYYYMMDD, years 1900 to 2999)",
    );
    t.period = Some(pb::Period { start: 0, end: 20230101 });
    check(pb_body(Kind::Attest(t)), "attest.period.start: 0 is not a calendar date (YYYYMMDD, years 1900 to 2999)");

    let Kind::Issue(mut t) = kind_named("issue") else { unreachable!() };
    t.period = Some(pb::Period { start: 20240229, end: 30000101 });
    check(pb_body(Kind::Issue(t)), "issue.period.end: 30000101 is not a calendar date (YYYYMMDD, years 1900 to 2999)");
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let big = vec![0u8; TX_BODY_BYTES_MAX + 1];
    assert_eq!(
        bct_proto::decode_body(&big).map_err(|e| e.to_string()),
        Err(format!("tx body is {} bytes; at most {TX_BODY_BYTES_MAX} bytes are accepted", TX_BODY_BYTES_MAX + 1))
    );
    let big = vec![0u8; SIGNED_TX_BYTES_MAX + 1];
    assert_eq!(
        bct_proto::decode_signed_tx(&big).map_err(|e| e.to_string()),
        Err("signed transaction is 16385 bytes; at most 16384 bytes are accepted".into())
    );
    assert_eq!(
        bct_proto::decode_block(&[0u8; 101], 100).map_err(|e| e.to_string()),
        Err("block is 101 bytes; at most 100 bytes are accepted".into())
    );
    // A body whose note fills it up to the limit still fits in a signed transaction, and
    // one byte more is refused inside the signed transaction too.
    let kind = every_kind().into_iter().find(|k| k.name() == "retire").expect("retire");
    let mut b = body(1, kind);
    let base = bct_proto::encode_body(&b).len();
    let TxKind::Retire(r2) = &mut b.kind else { unreachable!() };
    // Length prefixes grow as the note does: fill, then trim what they took.
    r2.note.push_str(&"x".repeat(TX_BODY_BYTES_MAX - base));
    let over = bct_proto::encode_body(&b).len() - TX_BODY_BYTES_MAX;
    let TxKind::Retire(r2) = &mut b.kind else { unreachable!() };
    r2.note.truncate(r2.note.len() - over);
    let tx = bct_proto::sign(&key(1), &b);
    assert_eq!(tx.body_bytes().len(), TX_BODY_BYTES_MAX);
    let bytes = bct_proto::encode_signed_tx(&tx);
    assert_eq!(bytes.len(), SIGNED_TX_BYTES_MAX);
    assert_eq!(bct_proto::decode_signed_tx(&bytes), Ok(tx));
    let TxKind::Retire(r3) = &mut b.kind else { unreachable!() };
    r3.note.push('x');
    let tx = bct_proto::sign(&key(1), &b);
    assert_eq!(
        bct_proto::signed_tx_from_pb(bct_proto::signed_tx_to_pb(&tx)).map_err(|e| e.to_string()),
        Err(format!("tx body is {} bytes; at most {TX_BODY_BYTES_MAX} bytes are accepted", TX_BODY_BYTES_MAX + 1))
    );
}

#[test]
fn garbage_bytes_are_refused() {
    for garbage in
        [&[0xff, 0xff, 0xff][..], &[0x0a, 0x05, 0x01], &[0x12], b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"]
    {
        let e = bct_proto::decode_body(garbage).expect_err("garbage");
        assert!(matches!(e, ProtoError::Malformed { what: "tx body", .. }), "{e:?}");
        assert!(e.to_string().starts_with("tx body is not a valid protobuf encoding: "), "{e}");
        let e = bct_proto::decode_signed_tx(garbage).expect_err("garbage");
        assert!(e.to_string().starts_with("signed transaction is not a valid protobuf encoding: "), "{e}");
        let e = bct_proto::decode_block(garbage, 1 << 20).expect_err("garbage");
        assert!(e.to_string().starts_with("block is not a valid protobuf encoding: "), "{e}");
    }
    // A string that is not UTF-8.
    let mut bytes = vec![0x0a, 0x02, 0xc3, 0x28];
    bytes.extend(pb_body(kind_named("transfer")).encode_to_vec().iter().skip(2 + CHAIN.len()));
    let e = bct_proto::decode_body(&bytes).expect_err("invalid UTF-8");
    assert!(e.to_string().starts_with("tx body is not a valid protobuf encoding: "), "{e}");
}

#[test]
fn non_canonical_bodies_are_refused() {
    let good = pb_body(kind_named("transfer")).encode_to_vec();
    let not_canonical = Err(ProtoError::NotCanonical { what: "tx body" });

    // An unknown field (number 99, varint 1) appended: a newer client's field this node would drop.
    let mut unknown = good.clone();
    unknown.extend([0x98, 0x06, 0x01]);
    assert_eq!(bct_proto::decode_body(&unknown), not_canonical);

    // expiry_height = 0 written out instead of omitted.
    let mut explicit_default = good.clone();
    explicit_default.extend([0x20, 0x00]);
    assert_eq!(bct_proto::decode_body(&explicit_default), not_canonical);

    // The nonce written twice (the last one wins in protobuf).
    let mut repeated = good.clone();
    repeated.extend([0x18, 0x01]);
    assert_eq!(bct_proto::decode_body(&repeated), not_canonical);

    // Fields out of order: the kind first.
    let b = pb_body(kind_named("transfer"));
    let kind_only = pb::TxBody { kind: b.kind.clone(), ..Default::default() }.encode_to_vec();
    let rest = pb::TxBody { kind: None, ..b }.encode_to_vec();
    let reordered = [kind_only, rest].concat();
    assert_eq!(bct_proto::decode_body(&reordered), not_canonical);

    // A non-minimal varint for the nonce (1 as 0x81 0x00).
    let nonce_at = good.iter().position(|&x| x == 0x18).expect("nonce tag");
    let mut long_varint = good[..nonce_at + 1].to_vec();
    long_varint.extend([0x81, 0x00]);
    long_varint.extend(&good[nonce_at + 2..]);
    assert_eq!(bct_proto::decode_body(&long_varint), not_canonical);

    assert_eq!(
        ProtoError::NotCanonical { what: "tx body" }.to_string(),
        "tx body is not canonically encoded (fields out of field-number order, repeated, set to their default \
         without `optional`, or unknown to this version): encode it as docs/PROTOCOL.md describes"
    );
    assert!(bct_proto::decode_body(&good).is_ok());
}

#[test]
fn bad_blocks_name_the_header_field_or_the_transaction() {
    let txs: Vec<_> = (0..3).map(|i| bct_proto::sign(&key(1), &body(i + 1, every_kind().remove(0)))).collect();
    let header = pb::BlockHeader {
        chain_id: CHAIN.into(),
        height: 1,
        prev_hash: vec![0; 32],
        time_ms: 1,
        proposer: vec![0; 20],
        tx_root: vec![0; 32],
        results_root: vec![0; 32],
        state_root: vec![0; 32],
        validator_set_hash: vec![0; 32],
        tx_count: 3,
    };
    let block = pb::Block { header: Some(header.clone()), txs: txs.iter().map(bct_proto::signed_tx_to_pb).collect() };
    let decode = |b: &pb::Block| bct_proto::decode_block(&b.encode_to_vec(), 1 << 20).map_err(|e| e.to_string());
    assert!(decode(&block).is_ok());

    let mut b = block.clone();
    b.header = None;
    assert_eq!(decode(&b), Err("block.header: missing".into()));

    let mut b = block.clone();
    b.header = Some(pb::BlockHeader { prev_hash: vec![0; 31], ..header.clone() });
    assert_eq!(decode(&b), Err("block.header.prev_hash: expected a 32-byte hash, got 31 bytes".into()));

    let mut b = block.clone();
    b.header = Some(pb::BlockHeader { proposer: vec![], ..header.clone() });
    assert_eq!(decode(&b), Err("block.header.proposer: expected a 20-byte address, got 0 bytes".into()));

    let mut b = block.clone();
    b.txs[1].signature = vec![1; 10];
    assert_eq!(
        decode(&b),
        Err("block transaction 1: signed_tx.signature: expected a 64-byte ed25519 signature, got 10 bytes".into())
    );

    let mut b = block;
    let Kind::AdmitAccount(mut t) = pb_kind(0) else { unreachable!() };
    t.role = 0;
    b.txs[2].body = pb_body(Kind::AdmitAccount(t)).encode_to_vec();
    assert_eq!(decode(&b), Err("block transaction 2: admit_account.role: unspecified".into()));

    assert_eq!(
        pb::BlockHeader { state_root: vec![], ..header }.into_ledger().map_err(|e| e.to_string()),
        Err("block_header.state_root: expected a 32-byte hash, got 0 bytes".into())
    );
}

#[test]
fn bad_results_and_state_are_refused() {
    let rejected = TxResult {
        tx: bct_ledger::Hash::of(b"t"),
        outcome: Err(Rejection::InsufficientUnits {
            holder: addr(2),
            ticket: "T".into(),
            state: "active".into(),
            available: bct_ledger::Amount::from_kg(1),
            requested: bct_ledger::Amount::from_kg(2),
        }),
    };
    let good = pb::TxResult::from(&rejected);
    let err = |r: pb::TxResult| r.into_ledger().map_err(|e| e.to_string());

    let mut r = good.clone();
    r.outcome = None;
    assert_eq!(err(r), Err("tx_result: no outcome (accepted or rejected) set".into()));

    let mut r = good.clone();
    r.tx_id = vec![1; 3];
    assert_eq!(err(r), Err("tx_result.tx_id: expected a 32-byte hash, got 3 bytes".into()));

    let mut r = good.clone();
    let Some(pb::tx_result::Outcome::Rejected(rej)) = &mut r.outcome else { unreachable!() };
    rej.code = 55;
    assert_eq!(err(r), Err("tx_result.rejected.code: 55 does not match the reason, whose code is 54".into()));

    let mut r = good.clone();
    let Some(pb::tx_result::Outcome::Rejected(rej)) = &mut r.outcome else { unreachable!() };
    rej.reason = None;
    assert_eq!(err(r), Err("tx_result.rejected.reason: no rejection reason set".into()));

    let mut r = good;
    let Some(pb::tx_result::Outcome::Rejected(rej)) = &mut r.outcome else { unreachable!() };
    let Some(pb::rejection::Reason::InsufficientUnits(u)) = &mut rej.reason else { unreachable!() };
    u.holder = vec![0; 4];
    assert_eq!(err(r), Err("tx_result.rejected.reason.holder: expected a 20-byte address, got 4 bytes".into()));

    let lot = pb::Lot { ticket: "T".into(), first: 1, last: 2, holder: addr(2).0.to_vec(), state: None };
    assert_eq!(lot.clone().into_ledger().map_err(|e| e.to_string()), Err("lot.state: missing".into()));
    let lot = pb::Lot { state: Some(pb::LotState { state: None }), ..lot };
    assert_eq!(lot.clone().into_ledger().map_err(|e| e.to_string()), Err("lot.state: no lot state set".into()));
    let lot = pb::Lot {
        state: Some(pb::LotState {
            state: Some(pb::lot_state::State::Pledged(pb::lot_state::Pledged { pledgee: vec![1] })),
        }),
        ..lot
    };
    assert_eq!(
        lot.into_ledger().map_err(|e| e.to_string()),
        Err("lot.state.pledged.pledgee: expected a 20-byte address, got 1 bytes".into())
    );

    let ticket = pb::Ticket { verifiers: vec![vec![0; 20], vec![0; 2]], ..Default::default() };
    assert_eq!(
        ticket.into_ledger().map_err(|e| e.to_string()),
        Err("ticket.period: missing".into()),
        "fields are checked in order"
    );
    let ticket = pb::Ticket {
        period: Some(pb::Period { start: 20210101, end: 20211231 }),
        report_hash: vec![0; 32],
        verifiers: vec![vec![0; 20], vec![0; 2]],
        ..Default::default()
    };
    assert_eq!(
        ticket.into_ledger().map_err(|e| e.to_string()),
        Err("ticket.verifiers[1]: expected a 20-byte address, got 2 bytes".into())
    );

    let account = pb::Account { address: vec![0; 20], role: 1, admitted_by: vec![0; 20], ..Default::default() };
    assert_eq!(account.into_ledger().map_err(|e| e.to_string()), Err("account.status: missing".into()));

    let v = pb::Validator { public_key: vec![0; 33], power: 1, name: "x".into() };
    assert_eq!(
        v.into_ledger().map_err(|e| e.to_string()),
        Err("validator.public_key: expected a 32-byte ed25519 public key, got 33 bytes".into())
    );
}
