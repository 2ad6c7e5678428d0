//! Retirement certificates verified offline: the genuine one passes; any altered byte, any
//! tampered field and any other genesis validator set is refused with a reason.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use bct_ledger::genesis::GenesisValidator;
use bct_ledger::Genesis;
use bct_proto::pb;
use bct_wallet::client::certificate::{verify_file, CertificateError, CertificateFile, DecodedCertificate};
use bct_wallet::client::consensus::CommitError;
use common::*;
use prost::Message;

fn verify_json(json: &str, genesis: &Genesis) -> Result<bct_wallet::client::certificate::Verified, CertificateError> {
    verify_file(json.as_bytes(), genesis)
}

#[test]
fn genuine_certificate_verifies_and_says_what_was_retired() {
    let f = fixture();
    let v = verify_json(&f.file_json, &f.genesis).expect("the genuine certificate verifies");
    let s = &v.summary;
    assert_eq!(s.chain_id, CHAIN);
    assert_eq!(s.retirement_id, 1);
    assert_eq!(s.retiree, addr(&buyer()).to_string());
    assert_eq!(s.beneficiary, BENEFICIARY);
    assert_eq!(s.purpose, "event");
    assert_eq!(s.jurisdiction, "CN-FJ");
    assert_eq!(s.ticket, "FJ-LJ-KELP-001-20210101-20211231-1");
    assert_eq!((s.quantity.as_str(), s.quantity_kg), ("1500t", 1_500_000));
    // The lowest serials not pledged: the first 1000 t went to the bank as collateral.
    assert_eq!(s.serials.len(), 1);
    assert_eq!((s.serials[0].first, s.serials[0].last), (1_000_001, 2_500_000));
    assert_eq!(s.height, 2);
    assert_eq!(s.time_utc, "2022-01-01T05:01:00Z");
    assert_eq!(s.tx_id, f.retire_tx.id().to_hex());
    assert_eq!((v.signed_power, v.total_power), (3, 4));
    assert_eq!(v.signers.len(), 3);
    // The file holds the node's bytes as they are.
    let file: CertificateFile = serde_json::from_str(&f.file_json).expect("json");
    let embedded = base64::engine::general_purpose::STANDARD.decode(&file.certificate_base64).expect("base64");
    assert_eq!(embedded, f.certificate_bytes);
}

/// Flips every byte of the file with two masks (the lowest bit; the ASCII case bit): every
/// variant is refused, with a reason.
#[test]
fn flipping_any_byte_of_the_file_is_refused() {
    let f = fixture();
    let original = f.file_json.as_bytes();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for mask in [0x01u8, 0x20] {
        for i in 0..original.len() {
            let mut bytes = original.to_vec();
            bytes[i] ^= mask;
            match verify_file(&bytes, &f.genesis) {
                Ok(_) => panic!(
                    "flipping byte {i} ({:?}) with {mask:#04x} was accepted; context: {:?}",
                    original[i] as char,
                    String::from_utf8_lossy(&original[i.saturating_sub(30)..(i + 30).min(original.len())])
                ),
                Err(e) => {
                    let reason = e.to_string();
                    assert!(!reason.is_empty());
                    let kind = format!("{e:?}").split([' ', '(', '{']).next().unwrap_or("").to_string();
                    *reasons.entry(kind).or_default() += 1;
                }
            }
        }
    }
    // The refusals come from every layer: JSON, base64, protobuf, cryptography, the summary.
    for layer in ["NotACertificateFile", "Base64", "SummaryMismatch"] {
        assert!(reasons.contains_key(layer), "no refusal of kind {layer}: {reasons:?}");
    }
}

/// Flips every byte of the embedded protobuf certificate (with a file around it whose summary
/// matches the altered bytes, so only the certified content is at stake): every variant is refused.
#[test]
fn flipping_any_byte_of_the_certified_bytes_is_refused() {
    let f = fixture();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for mask in [0x01u8, 0x80] {
        for i in 0..f.certificate_bytes.len() {
            let mut bytes = f.certificate_bytes.clone();
            bytes[i] ^= mask;
            let outcome = DecodedCertificate::decode(&bytes).and_then(|d| d.verify(&f.genesis));
            match outcome {
                Ok(_) => panic!("flipping byte {i} of the certificate with {mask:#04x} was accepted"),
                Err(e) => {
                    let kind = format!("{e:?}").split([' ', '(', '{']).next().unwrap_or("").to_string();
                    *reasons.entry(kind).or_default() += 1;
                }
            }
        }
    }
    for kind in ["BadTxSignature", "NotInBlock", "Commit", "NotGenesisSet", "RecordMismatch"] {
        assert!(reasons.contains_key(kind), "no refusal of kind {kind}: {reasons:?}");
    }
}

/// A field-by-field tampering, its expected refusal.
fn refused(f: &Fixture, cert: &pb::RetirementCertificate) -> CertificateError {
    let json = file_for(cert).unwrap_or_else(|e| panic!("the tampered certificate should still decode: {e}"));
    verify_json(&json, &f.genesis).expect_err("tampered certificate must be refused")
}

#[test]
fn tampered_fields_are_refused_with_their_reason() {
    let f = fixture();
    let base = f.certificate.clone();

    // The beneficiary changed inside the signed transaction: another transaction id, which is
    // not in the block (and whose signature would not verify).
    let mut c = base.clone();
    let mut body = pb::TxBody::decode(c.tx.as_ref().expect("tx").body.as_slice()).expect("body");
    if let Some(pb::tx_body::Kind::Retire(r)) = &mut body.kind {
        r.beneficiary = "Someone else".into();
    }
    c.tx.as_mut().expect("tx").body = body.encode_to_vec();
    let result = c.result.as_mut().expect("result");
    result.tx_id = bct_ledger::crypto::tx_id(&c.tx.as_ref().expect("tx").body).0.to_vec();
    assert_eq!(refused(&f, &c), CertificateError::NotInBlock { what: "transaction", root: "tx_root" });

    // A signature from another message.
    let mut c = base.clone();
    c.tx.as_mut().expect("tx").signature[10] ^= 1;
    assert_eq!(refused(&f, &c), CertificateError::BadTxSignature);

    // The same transaction re-signed by another key (same id, so the proofs still hold).
    let mut c = base.clone();
    let other = key(42);
    let tx = c.tx.as_mut().expect("tx");
    let msg = bct_ledger::crypto::tx_signing_message(&tx.body);
    tx.signer_public_key = other.verifying_key().to_bytes().to_vec();
    tx.signature = ed25519_dalek::Signer::sign(&other, &msg).to_bytes().to_vec();
    assert!(matches!(refused(&f, &c), CertificateError::SignerMismatch { .. }));

    // More serials claimed in the result than were retired.
    let mut c = base.clone();
    if let Some(pb::tx_result::Outcome::Accepted(a)) = &mut c.result.as_mut().expect("result").outcome {
        a.serials[0].last += 1000;
    }
    assert!(matches!(refused(&f, &c), CertificateError::ResultMismatch(_)));

    // Another retirement id: the results root no longer matches.
    let mut c = base.clone();
    if let Some(pb::tx_result::Outcome::Accepted(a)) = &mut c.result.as_mut().expect("result").outcome {
        a.retirement = Some(7);
    }
    c.retirement.as_mut().expect("record").id = 7;
    assert_eq!(refused(&f, &c), CertificateError::NotInBlock { what: "result", root: "results_root" });

    // A Merkle proof that claims a bigger block.
    let mut c = base.clone();
    c.tx_proof.as_mut().expect("proof").count = 4;
    assert!(matches!(refused(&f, &c), CertificateError::ProofShape { proof: "tx_proof", .. }));

    // A header with another time: the validators did not sign that header.
    let mut c = base.clone();
    c.header.as_mut().expect("header").time_ms += 1;
    assert!(matches!(refused(&f, &c), CertificateError::CommitForOtherBlock(_)));

    // A header with another time and a commit naming its hash: the signatures fail.
    let mut c = base.clone();
    c.header.as_mut().expect("header").time_ms += 1;
    c.retirement.as_mut().expect("record").time_ms += 1;
    let header: bct_ledger::BlockHeader =
        bct_proto::IntoLedger::into_ledger(c.header.clone().expect("header")).expect("header");
    c.commit.as_mut().expect("commit").block_hash = header.hash().0.to_vec();
    assert!(matches!(refused(&f, &c), CertificateError::Commit(CommitError::BadSignature { index: 0, .. })));

    // Only two of four validators signed.
    let mut c = base.clone();
    c.commit.as_mut().expect("commit").signatures.truncate(2);
    assert_eq!(refused(&f, &c), CertificateError::Commit(CommitError::NoQuorum { signed: 2, total: 4 }));

    // One validator's signature twice makes no quorum of distinct validators.
    let mut c = base.clone();
    let sigs = &mut c.commit.as_mut().expect("commit").signatures;
    sigs[2] = sigs[0].clone();
    assert!(matches!(refused(&f, &c), CertificateError::Commit(CommitError::Duplicate { first: 0, second: 2, .. })));

    // A precommit by a key outside the set.
    let mut c = base.clone();
    let commit = c.commit.as_mut().expect("commit");
    let extra = precommits(
        &[key(99)],
        CHAIN,
        commit.height,
        commit.round,
        &bct_ledger::Hash(commit.block_hash.clone().try_into().expect("32")),
    );
    commit.signatures.push(extra.signatures[0].clone());
    assert!(matches!(refused(&f, &c), CertificateError::Commit(CommitError::UnknownValidator { index: 3, .. })));

    // The commit of another height.
    let mut c = base.clone();
    c.commit.as_mut().expect("commit").height = 1;
    assert!(matches!(refused(&f, &c), CertificateError::CommitForOtherBlock(_)));

    // A validator's power doubled: the set no longer hashes to the header's.
    let mut c = base.clone();
    c.validators[0].power = 2;
    assert_eq!(refused(&f, &c), CertificateError::ValidatorSetHash);

    // The informative record disagrees with the transaction.
    let mut c = base.clone();
    c.retirement.as_mut().expect("record").beneficiary = "Someone else".into();
    assert!(matches!(refused(&f, &c), CertificateError::RecordMismatch { field: "beneficiary", .. }));

    // The readable summary edited, the bytes untouched.
    let mut file: CertificateFile = serde_json::from_str(&f.file_json).expect("json");
    file.retirement.beneficiary = "Someone else".into();
    match verify_json(&file.to_json(), &f.genesis) {
        Err(CertificateError::SummaryMismatch { field, .. }) => assert_eq!(field, "beneficiary"),
        other => panic!("expected a summary mismatch, got {other:?}"),
    }

    // A rejected transaction proves nothing.
    let mut c = base.clone();
    c.result.as_mut().expect("result").outcome =
        Some(pb::tx_result::Outcome::Rejected((&bct_ledger::Rejection::ZeroAmount).into()));
    let e = CertificateFile::from_certificate_bytes(&c.encode_to_vec()).expect_err("refused");
    assert!(matches!(e, CertificateError::RejectedTx(_)), "{e}");
}

#[test]
fn a_genesis_with_another_validator_set_is_refused() {
    let f = fixture();
    // One validator replaced.
    let mut keys = validator_keys();
    keys[3] = key(250);
    let other = genesis_with_validators(&keys);
    let e = verify_json(&f.file_json, &other).expect_err("another set");
    assert!(matches!(e, CertificateError::NotGenesisSet { height: 2, .. }), "{e}");
    assert!(e.to_string().contains("history leads to from the genesis"), "{e}");

    // One validator fewer.
    let fewer = genesis_with_validators(&validator_keys()[..3]);
    let e = verify_json(&f.file_json, &fewer).expect_err("fewer");
    assert!(e.to_string().contains("it has 4 validators, the genesis has 3"), "{e}");

    // Same keys, other powers.
    let mut powers = genesis();
    powers.validators[0].power = 5;
    let e = verify_json(&f.file_json, &powers).expect_err("other powers");
    assert!(matches!(e, CertificateError::NotGenesisSet { .. }), "{e}");

    // Same keys and powers, another operator name.
    let mut names = genesis();
    names.validators = names
        .validators
        .iter()
        .map(|v| GenesisValidator { name: format!("{} (renamed)", v.name), ..v.clone() })
        .collect();
    let e = verify_json(&f.file_json, &names).expect_err("other names");
    assert!(e.to_string().contains("named"), "{e}");

    // Another chain.
    let mut chain = genesis();
    chain.chain_id = "bct-other-1".into();
    let e = verify_json(&f.file_json, &chain).expect_err("other chain");
    assert!(matches!(e, CertificateError::WrongChain { field: "chain_id", .. }), "{e}");
}

/// The report of every check: a genuine certificate passes them all; one with two faults
/// (another signature, another validator set) fails exactly those two and passes the rest,
/// while `verify_file` refuses it with the first; an unreadable file fails the first check
/// and runs none of the others.
#[test]
fn each_check_has_its_verdict() {
    use bct_wallet::client::certificate::{check_file, Check};
    let f = fixture();
    let (verdicts, outcome) = check_file(f.file_json.as_bytes(), &f.genesis);
    assert!(outcome.is_ok());
    assert_eq!(verdicts.iter().map(|v| v.check).collect::<Vec<_>>(), Check::ALL.to_vec());
    assert!(verdicts.iter().all(|v| v.outcome == Some(Ok(()))), "{verdicts:?}");

    let mut c = f.certificate.clone();
    c.tx.as_mut().expect("tx").signature[10] ^= 1;
    let mut g = f.genesis.clone();
    g.validators[0].power = 2;
    let json = file_for(&c).expect("decodes");
    let (verdicts, outcome) = check_file(json.as_bytes(), &g);
    let failed: Vec<Check> = verdicts.iter().filter(|v| matches!(v.outcome, Some(Err(_)))).map(|v| v.check).collect();
    assert_eq!(failed, vec![Check::ValidatorSet, Check::TxSignature]);
    assert!(verdicts.iter().all(|v| v.outcome.is_some()), "every check ran: {verdicts:?}");
    assert!(matches!(outcome, Err(CertificateError::NotGenesisSet { .. })));
    assert_eq!(verify_json(&json, &g).map(|_| ()), outcome.map(|_| ()));

    let (verdicts, outcome) = check_file(b"{ not json", &f.genesis);
    assert!(matches!(outcome, Err(CertificateError::NotACertificateFile(_))));
    assert!(matches!(verdicts[0].outcome, Some(Err(CertificateError::NotACertificateFile(_)))));
    assert!(verdicts[1..].iter().all(|v| v.outcome.is_none()), "{verdicts:?}");
}

/// One certificate, one encoding: a retirement's result names no ticket, and the same result
/// with a present but empty `ticket` is refused instead of verifying like the absent one.
#[test]
fn a_present_but_empty_ticket_in_the_result_is_refused() {
    let f = fixture();
    let mut c = f.certificate.clone();
    if let Some(pb::tx_result::Outcome::Accepted(a)) = &mut c.result.as_mut().expect("result").outcome {
        assert_eq!(a.ticket, None);
        a.ticket = Some(String::new());
    }
    let json = match file_for(&c) {
        Ok(json) => json,
        Err(e) => {
            // refused already while decoding: that is the point
            assert!(e.to_string().contains("accepted.ticket"), "{e}");
            return;
        }
    };
    let e = verify_json(&json, &f.genesis).expect_err("refused");
    assert!(e.to_string().contains("accepted.ticket") && e.to_string().contains("empty"), "{e}");
}

/// The certificate identifier: from the genesis fingerprint and the retirement id, shown on
/// verification; the fingerprint ignores the file's layout and changes with its content.
#[test]
fn the_certificate_id_names_the_chain_and_the_retirement() {
    use bct_wallet::client::certificate::certificate_id;
    let f = fixture();
    let v = verify_json(&f.file_json, &f.genesis).expect("verifies");
    let fp = f.genesis.fingerprint();
    assert_eq!(v.certificate_id, certificate_id(&fp, 1));
    assert_eq!(v.certificate_id, format!("BCT-{}-1", &fp.to_hex()[..12]));
    assert_ne!(certificate_id(&fp, 1), certificate_id(&fp, 11));
    let compact = serde_json::to_string(&f.genesis).expect("json");
    assert_eq!(Genesis::from_json(&compact).expect("genesis").fingerprint(), fp, "layout does not matter");
    let mut other = f.genesis.clone();
    other.chain_id.push('x');
    assert_ne!(other.fingerprint(), fp);
}

/// Issue 13, item 5: a certificate made after a validator set change verifies against the
/// original genesis file alone, through its set history; without the history, or with a change
/// not signed by more than 2/3 of the set before it, it is refused.
#[test]
fn a_certificate_after_a_validator_set_change_verifies_through_its_history() {
    let old_set: Vec<_> = validator_keys().into_iter().take(3).collect();
    let f = fixture_after_set_change(&old_set);
    let v = verify_json(&f.file_json, &f.genesis).expect("verifies against the genesis through the history");
    assert_eq!(v.set_changes, 1);
    assert_eq!(v.summary.height, 3);
    assert!(v.signers.iter().any(|s| s.public_key == key(204).verifying_key().to_bytes()), "signed by the new set");

    // Without its history, the new set cannot be traced back to the genesis.
    let mut cert = f.certificate.clone();
    cert.validator_set_history.clear();
    let e = verify_json(&file_for(&cert).expect("file"), &f.genesis).expect_err("no history");
    assert!(matches!(e, CertificateError::NotGenesisSet { height: 3, .. }), "{e}");
    assert!(e.to_string().contains("history"), "{e}");

    // The change signed by only 2 of the 4 validators before it: refused.
    let weak = fixture_after_set_change(&old_set[..2]);
    let e = verify_json(&weak.file_json, &weak.genesis).expect_err("2 of 4 signed the change");
    assert!(matches!(e, CertificateError::SetHistory { index: 0, height: 2, .. }), "{e}");
    assert!(e.to_string().contains("not signed by more than 2/3 of the set before it"), "{e}");

    // Signed by the new set instead (204 was not a validator before the change): refused.
    let by_new = fixture_after_set_change(&[key(200), key(201), key(204)]);
    let e = verify_json(&by_new.file_json, &by_new.genesis).expect_err("signed by the new set");
    assert!(matches!(e, CertificateError::SetHistory { index: 0, .. }), "{e}");

    // The change's transaction swapped for another (its proof no longer leads to the block).
    let mut cert = f.certificate.clone();
    let other = bct_proto::signed_tx_to_pb(&f.retire_tx);
    cert.validator_set_history[0].tx = Some(other);
    let e = file_for(&cert).expect_err("not a set change");
    assert!(e.contains("validator_set_history[0].tx") && e.contains("not update_validators"), "{e}");

    // A history from another genesis: the same file against a genesis with other validators.
    let other_genesis = genesis_with_validators(&[key(210), key(211), key(212), key(213)]);
    let e = verify_json(&f.file_json, &other_genesis).expect_err("other genesis");
    assert!(matches!(e, CertificateError::SetHistory { index: 0, .. }), "{e}");

    // Any byte of the history altered is refused.
    let bytes = f.certificate_bytes.clone();
    let history_start = bytes.len() - f.certificate.validator_set_history[0].encoded_len();
    for i in (history_start..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let file = serde_json::json!({
            "format": "bct-retirement-certificate/v1",
            "retirement": serde_json::from_str::<serde_json::Value>(&f.file_json).expect("json")["retirement"],
            "certificate_base64": base64::engine::general_purpose::STANDARD.encode(&b),
        });
        assert!(verify_json(&file.to_string(), &f.genesis).is_err(), "byte {i} of the history altered and accepted");
    }
}
