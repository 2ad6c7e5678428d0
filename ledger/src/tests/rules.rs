//! Every transaction kind: its accepted case and each of its rejections. Every rejection
//! goes through `Chain::rejects`, which also asserts that the state root and the signer's
//! nonce did not move.

use super::kit::*;
use crate::block::Rejection;
use crate::tx::*;
use crate::types::*;
use crate::Amount;

fn transfer(ticket: &str, to: &ed25519_dalek::SigningKey, tonnes: u64) -> TxKind {
    TxKind::Transfer(Transfer { ticket: ticket.into(), to: addr(to), quantity: t(tonnes), trade: None })
}

fn retire(ticket: &str, tonnes: u64) -> TxKind {
    TxKind::Retire(Retire {
        ticket: ticket.into(),
        quantity: t(tonnes),
        beneficiary: "Xiamen Airlines carbon-neutral flight".into(),
        purpose: Purpose::Voluntary,
        jurisdiction: "CN".into(),
        note: "".into(),
    })
}

// ----- envelope: signature, chain, nonce, expiry, signer -----

#[test]
fn bad_signature_is_refused_by_check_and_left_out_by_the_proposer() {
    let mut c = Chain::populated();
    let good = c.tx(&owner(), transfer("none", &buyer(), 1));
    let mut sig = *good.signature();
    sig[5] ^= 0x40;
    let bad = SignedTx::from_parts(good.body_bytes().to_vec(), good.body().clone(), *good.public_key(), sig);
    assert_eq!(c.ledger.check_tx(&bad), Err(Rejection::BadSignature));
    let root = c.ledger.state_root();
    assert!(c.block(vec![bad]).is_empty(), "proposer must leave out a bad signature");
    assert_eq!(c.ledger.state_root(), root);
}

#[test]
fn a_valid_signature_over_other_bytes_is_refused() {
    let c = Chain::populated();
    let a = c.tx(&owner(), transfer("x", &buyer(), 1));
    let b = c.tx(&owner(), transfer("y", &buyer(), 2));
    let franken = SignedTx::from_parts(a.body_bytes().to_vec(), a.body().clone(), *a.public_key(), *b.signature());
    let mut c = c;
    assert_eq!(c.ledger.check_tx(&franken), Err(Rejection::BadSignature));
}

#[test]
fn signer_must_match_key() {
    let mut c = Chain::populated();
    let tx = {
        let k = owner();
        let body = TxBody {
            chain_id: CHAIN.into(),
            signer: addr(&buyer()),
            nonce: 1,
            expiry_height: 0,
            kind: transfer("x", &bank(), 1),
        };
        let bytes = postcard::to_allocvec(&body).expect("encodes");
        use ed25519_dalek::Signer;
        let sig = k.sign(&crate::crypto::tx_signing_message(&bytes)).to_bytes();
        SignedTx::from_parts(bytes, body, k.verifying_key().to_bytes(), sig)
    };
    assert!(matches!(c.left_out(tx), Rejection::SignerMismatch { .. }));
}

#[test]
fn wrong_chain_id_is_rejected() {
    let mut c = Chain::populated();
    let tx = sign_with(&owner(), "bct-other", 1, 0, transfer("x", &buyer(), 1));
    assert!(matches!(c.left_out(tx), Rejection::WrongChainId { .. }));
}

#[test]
fn nonces_must_be_exactly_next() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let future = sign_with(&owner(), CHAIN, 3, 0, transfer(&ticket, &buyer(), 1));
    assert_eq!(c.left_out(future), Rejection::FutureNonce { expected: 1, got: 3 });
    c.ok(&owner(), transfer(&ticket, &buyer(), 1));
    let stale = sign_with(&owner(), CHAIN, 1, 0, transfer(&ticket, &buyer(), 2));
    assert_eq!(c.left_out(stale), Rejection::StaleNonce { expected: 2, got: 1 });
    c.ok(&owner(), transfer(&ticket, &buyer(), 1));
    assert_eq!(c.held(&buyer(), &ticket, "active"), t(2));
}

#[test]
fn a_replayed_transaction_is_left_out_and_a_block_carrying_it_is_invalid() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let tx = c.tx(&owner(), transfer(&ticket, &buyer(), 10));
    assert!(c.block(vec![tx.clone()])[0].is_accepted());
    let accepted_at = c.ledger.tx_location(&tx.id()).expect("store").expect("indexed");
    assert_eq!(c.left_out(tx.clone()), Rejection::StaleNonce { expected: 2, got: 1 });
    assert_eq!(c.held(&buyer(), &ticket, "active"), t(10));
    assert_eq!(c.ledger.tx_location(&tx.id()).expect("store"), Some(accepted_at));
    assert!(accepted_at.accepted);
}

/// The audit's replay: a transfer committed as rejected (too few tonnes) used its nonce, so
/// once the signer holds enough, the same public bytes can no longer be included by anyone,
/// and the transaction's outcome stays the rejection.
#[test]
fn a_rejected_transaction_uses_its_nonce_and_cannot_be_replayed() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let tx = c.tx(&buyer(), transfer(&ticket, &owner(), 10));
    assert!(matches!(c.rejects_tx(tx.clone()), Rejection::InsufficientUnits { .. }));
    let rejected_at = c.ledger.tx_location(&tx.id()).expect("store").expect("indexed");
    assert!(!rejected_at.accepted);
    c.ok(&owner(), transfer(&ticket, &buyer(), 50));
    assert_eq!(c.ledger.check_tx(&tx), Err(Rejection::StaleNonce { expected: 2, got: 1 }));
    assert_eq!(c.left_out(tx.clone()), Rejection::StaleNonce { expected: 2, got: 1 });
    assert_eq!(c.ledger.tx_location(&tx.id()).expect("store"), Some(rejected_at));
    assert_eq!(c.held(&buyer(), &ticket, "active"), t(50));
    // The signer's next transaction simply takes the next nonce.
    c.ok(&buyer(), transfer(&ticket, &owner(), 10));
    assert_eq!(c.held(&buyer(), &ticket, "active"), t(40));
}

#[test]
fn expired_transactions_are_left_out_and_expiry_height_itself_is_accepted() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let h = c.ledger.height();
    let late = sign_with(&owner(), CHAIN, 1, h, transfer(&ticket, &buyer(), 1));
    assert_eq!(c.left_out(late), Rejection::Expired { expiry_height: h, height: h + 2 });
    let on_time = sign_with(&owner(), CHAIN, 1, h + 2, transfer(&ticket, &buyer(), 1));
    assert!(c.block(vec![on_time])[0].is_accepted());
}

#[test]
fn unknown_signers_are_left_out_and_suspended_ones_rejected() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let tx = c.tx(&stranger(), transfer(&ticket, &buyer(), 1));
    assert_eq!(c.left_out(tx), Rejection::UnknownAccount(addr(&stranger())));
    c.ok(&authority(), TxKind::SuspendAccount(SuspendAccount { address: addr(&owner()), reason: "audit".into() }));
    assert_eq!(c.rejects(&owner(), transfer(&ticket, &buyer(), 1)), Rejection::AccountSuspended(addr(&owner())));
}

// ----- accounts -----

#[test]
fn authority_admits_any_role_and_exchange_admits_holders() {
    let mut c = Chain::populated();
    c.ok(
        &exchange(),
        TxKind::AdmitAccount(AdmitAccount {
            address: addr(&key(50)),
            role: Role::Holder,
            name: "Customer".into(),
            jurisdiction: "CN-GD".into(),
        }),
    );
    let acc = c.ledger.state().accounts.get(&addr(&key(50))).expect("admitted").clone();
    assert_eq!((acc.role, acc.admitted_by), (Role::Holder, addr(&exchange())));
}

#[test]
fn admission_rejections() {
    let mut c = Chain::populated();
    let admit = |k: u8, role| {
        TxKind::AdmitAccount(AdmitAccount { address: addr(&key(k)), role, name: "N".into(), jurisdiction: "CN".into() })
    };
    assert!(matches!(c.rejects(&owner(), admit(51, Role::Holder)), Rejection::WrongRole { role: Role::Holder, .. }));
    assert!(matches!(
        c.rejects(&exchange(), admit(51, Role::Verifier)),
        Rejection::WrongRole { role: Role::Exchange, .. }
    ));
    assert!(matches!(c.rejects(&verifier1(), admit(51, Role::Holder)), Rejection::WrongRole { .. }));
    assert_eq!(c.rejects(&authority(), admit(5, Role::Holder)), Rejection::AccountExists(addr(&owner())));
    let empty = TxKind::AdmitAccount(AdmitAccount {
        address: addr(&key(52)),
        role: Role::Holder,
        name: " ".into(),
        jurisdiction: "".into(),
    });
    assert!(matches!(c.rejects(&authority(), empty), Rejection::InvalidField { .. }));
    let long = TxKind::AdmitAccount(AdmitAccount {
        address: addr(&key(52)),
        role: Role::Holder,
        name: "x".repeat(300),
        jurisdiction: "".into(),
    });
    assert!(matches!(c.rejects(&authority(), long), Rejection::InvalidField { .. }));
}

#[test]
fn account_updates_follow_who_manages_whom() {
    let mut c = Chain::populated();
    c.ok(
        &exchange(),
        TxKind::AdmitAccount(AdmitAccount {
            address: addr(&key(50)),
            role: Role::Holder,
            name: "C".into(),
            jurisdiction: "".into(),
        }),
    );
    let rename = |k: u8| {
        TxKind::UpdateAccount(UpdateAccount {
            address: addr(&key(k)),
            name: Some("Renamed".into()),
            jurisdiction: None,
            role: None,
        })
    };
    c.ok(&exchange(), rename(50));
    c.ok(&authority(), rename(6));
    assert_eq!(c.ledger.state().accounts.get(&addr(&buyer())).map(|a| a.name.clone()), Some("Renamed".into()));
    assert!(matches!(c.rejects(&exchange(), rename(6)), Rejection::NotYourCustomer { .. }));
    assert!(matches!(c.rejects(&owner(), rename(6)), Rejection::WrongRole { .. }));
    assert_eq!(c.rejects(&authority(), rename(77)), Rejection::UnknownAccount(addr(&key(77))));
    let promote = TxKind::UpdateAccount(UpdateAccount {
        address: addr(&key(50)),
        name: None,
        jurisdiction: None,
        role: Some(Role::Verifier),
    });
    assert!(matches!(c.rejects(&exchange(), promote.clone()), Rejection::WrongRole { .. }));
    c.ok(&authority(), promote);
}

#[test]
fn suspension_and_reinstatement() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let suspend = |k: &ed25519_dalek::SigningKey| {
        TxKind::SuspendAccount(SuspendAccount { address: addr(k), reason: "licence revoked".into() })
    };
    let reinstate = |k: &ed25519_dalek::SigningKey| TxKind::ReinstateAccount(ReinstateAccount { address: addr(k) });
    c.ok(&authority(), suspend(&buyer()));
    assert_eq!(c.rejects(&owner(), transfer(&ticket, &buyer(), 1)), Rejection::AccountSuspended(addr(&buyer())));
    assert_eq!(c.rejects(&authority(), suspend(&buyer())), Rejection::AccountSuspended(addr(&buyer())));
    assert!(matches!(c.rejects(&exchange(), suspend(&owner())), Rejection::NotYourCustomer { .. }));
    assert!(matches!(c.rejects(&authority(), suspend(&authority())), Rejection::InvalidField { .. }));
    c.ok(&authority(), reinstate(&buyer()));
    assert_eq!(c.rejects(&authority(), reinstate(&buyer())), Rejection::NotSuspended(addr(&buyer())));
    c.ok(&owner(), transfer(&ticket, &buyer(), 1));
}

// ----- projects -----

#[test]
fn project_registration_and_its_rejections() {
    let mut c = Chain::populated();
    let p = c.ledger.state().projects.get(&"FJ-LJ-KELP".to_string()).expect("registered").clone();
    assert_eq!(
        (p.ecosystem, p.area_centiha, p.status.clone()),
        (Ecosystem::SeaweedFarm, 17_180, ProjectStatus::Active)
    );
    let reg = |f: &dyn Fn(&mut RegisterProject)| {
        let mut p = kelp_project();
        p.id = "FT-MANGROVE".into();
        f(&mut p);
        TxKind::RegisterProject(p)
    };
    assert!(matches!(c.rejects(&owner(), reg(&|_| {})), Rejection::WrongRole { .. }));
    assert_eq!(
        c.rejects(&authority(), TxKind::RegisterProject(kelp_project())),
        Rejection::ProjectExists("FJ-LJ-KELP".into())
    );
    assert!(matches!(c.rejects(&authority(), reg(&|p| p.id = "bad id!".into())), Rejection::InvalidField { .. }));
    assert!(matches!(c.rejects(&authority(), reg(&|p| p.area_centiha = 0)), Rejection::InvalidField { .. }));
    assert!(matches!(
        c.rejects(&authority(), reg(&|p| p.location.coordinates = Some((91_000_000, 0)))),
        Rejection::InvalidField { .. }
    ));
    assert_eq!(
        c.rejects(&authority(), reg(&|p| p.owner = addr(&stranger()))),
        Rejection::UnknownAccount(addr(&stranger()))
    );
    c.ok(&authority(), reg(&|p| p.ecosystem = Ecosystem::Mangrove));
}

#[test]
fn project_status_controls_attestation_and_issuance() {
    let mut c = Chain::populated();
    let upd = |s: ProjectStatusChange| {
        TxKind::UpdateProject(UpdateProject {
            id: "FJ-LJ-KELP".into(),
            name: None,
            owner: None,
            area_centiha: None,
            status: Some(s),
        })
    };
    c.ok(&verifier1(), TxKind::Attest(attest(period(20210101, 20211231), 100, 1)));
    c.ok(&authority(), upd(ProjectStatusChange::Suspend { reason: "survey".into() }));
    assert_eq!(
        c.rejects(&verifier2(), TxKind::Attest(attest(period(20210101, 20211231), 100, 1))),
        Rejection::ProjectNotActive("FJ-LJ-KELP".into())
    );
    c.ok(&authority(), upd(ProjectStatusChange::Activate));
    c.ok(&verifier2(), TxKind::Attest(attest(period(20210101, 20211231), 100, 1)));
    assert!(matches!(c.rejects(&owner(), upd(ProjectStatusChange::Close)), Rejection::WrongRole { .. }));
    assert_eq!(
        c.rejects(
            &authority(),
            TxKind::UpdateProject(UpdateProject {
                id: "NOPE".into(),
                name: None,
                owner: None,
                area_centiha: None,
                status: None
            })
        ),
        Rejection::UnknownProject("NOPE".into())
    );
    c.ok(&authority(), upd(ProjectStatusChange::Close));
    assert!(matches!(c.rejects(&authority(), upd(ProjectStatusChange::Activate)), Rejection::InvalidField { .. }));
    let issue = TxKind::Issue(Issue {
        project: "FJ-LJ-KELP".into(),
        period: period(20210101, 20211231),
        report_hash: report(1),
        quantity: t(10),
        recipient: None,
    });
    assert_eq!(c.rejects(&authority(), issue), Rejection::ProjectNotActive("FJ-LJ-KELP".into()));
}

// ----- attestations -----

#[test]
fn attestation_accepted_and_rejected() {
    let mut c = Chain::populated();
    let p = period(20210101, 20211231);
    c.ok(&verifier1(), TxKind::Attest(attest(p, 6000, 1)));
    assert_eq!(c.ledger.state().attestations_of("FJ-LJ-KELP").len(), 1);
    assert!(matches!(
        c.rejects(&verifier1(), TxKind::Attest(attest(p, 6000, 1))),
        Rejection::DuplicateAttestation { .. }
    ));
    assert!(matches!(
        c.rejects(&owner(), TxKind::Attest(attest(p, 6000, 2))),
        Rejection::WrongRole { role: Role::Holder, .. }
    ));
    assert!(matches!(c.rejects(&exchange(), TxKind::Attest(attest(p, 6000, 2))), Rejection::WrongRole { .. }));
    assert_eq!(c.rejects(&verifier2(), TxKind::Attest(attest(p, 0, 2))), Rejection::ZeroAmount);
    assert!(matches!(
        c.rejects(&verifier2(), TxKind::Attest(attest(period(20211231, 20210101), 10, 2))),
        Rejection::InvalidField { .. }
    ));
    let mut other = attest(p, 10, 2);
    other.methodology.version = "2019".into();
    assert!(matches!(c.rejects(&verifier2(), TxKind::Attest(other)), Rejection::MethodologyMismatch { .. }));
    let mut unknown = attest(p, 10, 2);
    unknown.project = "NOPE".into();
    assert_eq!(c.rejects(&verifier2(), TxKind::Attest(unknown)), Rejection::UnknownProject("NOPE".into()));
}

// ----- issuance -----

#[test]
fn issuance_creates_a_ticket_with_a_serial_block() {
    let mut c = Chain::populated();
    let id = c.issued(27_456);
    assert_eq!(id, "FJ-LJ-KELP-20210101-20211231-1");
    let ticket = c.ledger.state().tickets.get(&id).expect("ticket").clone();
    assert_eq!((ticket.serial_first, ticket.serial_last), (1, 27_456_000));
    assert_eq!(ticket.verifiers.len(), 2);
    assert_eq!(c.held(&owner(), &id, "active"), t(27_456));
    assert_eq!(c.ledger.meta().totals.issued, t(27_456));
    // The next ticket's serials follow on.
    let p = period(20220101, 20221231);
    for v in [verifier1(), verifier2()] {
        c.ok(&v, TxKind::Attest(attest(p, 5, 2)));
    }
    let a = c.ok(
        &authority(),
        TxKind::Issue(Issue {
            project: "FJ-LJ-KELP".into(),
            period: p,
            report_hash: report(2),
            quantity: t(5),
            recipient: Some(addr(&exchange())),
        }),
    );
    let second = c.ledger.state().tickets.get(&a.ticket.expect("id")).expect("ticket").clone();
    assert_eq!((second.serial_first, second.issued_to), (27_456_001, addr(&exchange())));
}

#[test]
fn issuance_needs_enough_accredited_attestations() {
    let mut c = Chain::populated();
    let p = period(20210101, 20211231);
    let issue = |q: u64| {
        TxKind::Issue(Issue {
            project: "FJ-LJ-KELP".into(),
            period: p,
            report_hash: report(1),
            quantity: t(q),
            recipient: None,
        })
    };
    c.ok(&verifier1(), TxKind::Attest(attest(p, 6000, 1)));
    assert_eq!(c.rejects(&authority(), issue(6000)), Rejection::NotEnoughAttestations { required: 2, found: 1 });
    // An attestation of another period does not count.
    c.ok(&verifier2(), TxKind::Attest(attest(period(20210101, 20211130), 6000, 1)));
    assert_eq!(c.rejects(&authority(), issue(6000)), Rejection::NotEnoughAttestations { required: 2, found: 1 });
    // A verifier suspended after attesting is no longer accredited.
    c.admit(&key(60), Role::Verifier, "Third verifier");
    c.ok(&key(60), TxKind::Attest(attest(p, 5500, 1)));
    c.ok(
        &authority(),
        TxKind::SuspendAccount(SuspendAccount { address: addr(&key(60)), reason: "accreditation lapsed".into() }),
    );
    assert_eq!(c.rejects(&authority(), issue(5000)), Rejection::NotEnoughAttestations { required: 2, found: 1 });
    c.ok(&authority(), TxKind::ReinstateAccount(ReinstateAccount { address: addr(&key(60)) }));
    // The quantity is capped at what the second-highest verifier attested.
    assert_eq!(
        c.rejects(&authority(), issue(5501)),
        Rejection::QuantityAboveAttested { requested: t(5501), attested: t(5500) }
    );
    assert!(matches!(c.rejects(&owner(), issue(10)), Rejection::WrongRole { .. }));
    assert_eq!(c.rejects(&authority(), issue(0)), Rejection::ZeroAmount);
    c.ok(&authority(), issue(5500));
}

#[test]
fn overlapping_monitoring_periods_are_refused() {
    let mut c = Chain::populated();
    let first = c.issued(100);
    let p = period(20211201, 20220630);
    for v in [verifier1(), verifier2()] {
        c.ok(&v, TxKind::Attest(attest(p, 50, 2)));
    }
    let issue = |p: Period| {
        TxKind::Issue(Issue {
            project: "FJ-LJ-KELP".into(),
            period: p,
            report_hash: report(2),
            quantity: t(50),
            recipient: None,
        })
    };
    assert_eq!(c.rejects(&authority(), issue(p)), Rejection::PeriodOverlap(first));
}

#[test]
fn issuance_that_would_overflow_serials_is_refused() {
    let mut c = Chain::populated();
    c.issued(1);
    let p = period(20220101, 20221231);
    let huge = Amount::from_kg(u64::MAX);
    for v in [verifier1(), verifier2()] {
        let mut a = attest(p, 1, 3);
        a.quantity = huge;
        c.ok(&v, TxKind::Attest(a));
    }
    let issue = TxKind::Issue(Issue {
        project: "FJ-LJ-KELP".into(),
        period: p,
        report_hash: report(3),
        quantity: huge,
        recipient: None,
    });
    assert_eq!(c.rejects(&authority(), issue), Rejection::AmountOverflow);
}

// ----- transfers -----

#[test]
fn transfers_split_lots_lowest_serials_first() {
    let mut c = Chain::populated();
    let ticket = c.issued(6000);
    c.ok(
        &owner(),
        TxKind::Transfer(Transfer {
            ticket: ticket.clone(),
            to: addr(&exchange()),
            quantity: t(1000),
            trade: Some(Trade {
                price_per_tonne_minor: 2000,
                currency: "CNY".into(),
                reference: "HX-2022-0001".into(),
            }),
        }),
    );
    let moved = c.ledger.state().lots_of(addr(&exchange()), &ticket).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(moved.len(), 1);
    assert_eq!((moved[0].first, moved[0].last), (1, 1_000_000));
    let kept = c.ledger.state().lots_of(addr(&owner()), &ticket).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!((kept[0].first, kept[0].last), (1_000_001, 6_000_000));
    // Taking across several lots.
    c.ok(&exchange(), transfer(&ticket, &owner(), 1000));
    c.ok(&owner(), transfer(&ticket, &buyer(), 1500));
    let got =
        c.ledger.state().lots_of(addr(&buyer()), &ticket).into_iter().map(|l| (l.first, l.last)).collect::<Vec<_>>();
    assert_eq!(got, vec![(1, 1_000_000), (1_000_001, 1_500_000)]);
    assert_eq!(c.held(&owner(), &ticket, "active"), t(4500));
}

#[test]
fn transfer_rejections() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    assert!(matches!(c.rejects(&owner(), transfer(&ticket, &buyer(), 101)), Rejection::InsufficientUnits { .. }));
    assert_eq!(c.rejects(&owner(), transfer(&ticket, &buyer(), 0)), Rejection::ZeroAmount);
    assert_eq!(c.rejects(&owner(), transfer("NOPE-1", &buyer(), 1)), Rejection::UnknownTicket("NOPE-1".into()));
    assert_eq!(c.rejects(&owner(), transfer(&ticket, &stranger(), 1)), Rejection::UnknownAccount(addr(&stranger())));
    assert_eq!(c.rejects(&owner(), transfer(&ticket, &owner(), 1)), Rejection::SelfTransfer);
    let big = TxKind::Transfer(Transfer {
        ticket: ticket.clone(),
        to: addr(&buyer()),
        quantity: Amount::from_kg(u64::MAX),
        trade: None,
    });
    assert!(matches!(c.rejects(&owner(), big), Rejection::InsufficientUnits { .. }));
    let bad_trade = TxKind::Transfer(Transfer {
        ticket: ticket.clone(),
        to: addr(&buyer()),
        quantity: t(1),
        trade: Some(Trade { price_per_tonne_minor: 1, currency: "".into(), reference: "".into() }),
    });
    assert!(matches!(c.rejects(&owner(), bad_trade), Rejection::InvalidField { .. }));
}

// ----- retirement -----

#[test]
fn retirement_records_exact_serials_and_is_final() {
    let mut c = Chain::populated();
    let ticket = c.issued(6000);
    c.ok(&owner(), transfer(&ticket, &buyer(), 1000));
    let a = c.ok(&buyer(), retire(&ticket, 400));
    let id = a.retirement.expect("retirement id");
    let r = c.ledger.state().retirements.get(&id).expect("stored").clone();
    assert_eq!((r.quantity, r.retiree, r.purpose), (t(400), addr(&buyer()), Purpose::Voluntary));
    assert_eq!(r.serials.iter().map(|s| (s.first, s.last)).collect::<Vec<_>>(), vec![(1, 400_000)]);
    assert_eq!(c.ledger.state().retirements_for("Xiamen Airlines carbon-neutral flight").len(), 1);
    assert_eq!(c.ledger.state().retirements_of_ticket(&ticket).len(), 1);
    assert_eq!(c.held(&buyer(), &ticket, "retired"), t(400));
    // Retired units can be neither retired again nor moved.
    assert!(matches!(c.rejects(&buyer(), retire(&ticket, 601)), Rejection::InsufficientUnits { .. }));
    assert!(matches!(c.rejects(&buyer(), transfer(&ticket, &owner(), 601)), Rejection::InsufficientUnits { .. }));
    let blank = TxKind::Retire(Retire {
        ticket: ticket.clone(),
        quantity: t(1),
        beneficiary: "".into(),
        purpose: Purpose::Event,
        jurisdiction: "".into(),
        note: "".into(),
    });
    assert!(matches!(c.rejects(&buyer(), blank), Rejection::InvalidField { .. }));
    assert_eq!(c.rejects(&buyer(), retire(&ticket, 0)), Rejection::ZeroAmount);
    assert!(matches!(c.rejects(&bank(), retire(&ticket, 1)), Rejection::InsufficientUnits { .. }));
    let judicial = TxKind::Retire(Retire {
        ticket: ticket.clone(),
        quantity: t(600),
        beneficiary: "Dongshan court case".into(),
        purpose: Purpose::JudicialRestoration,
        jurisdiction: "CN-FJ".into(),
        note: "substitute restoration".into(),
    });
    assert_eq!(c.ok(&buyer(), judicial).retirement, Some(id + 1));
}

// ----- pledges -----

#[test]
fn pledge_release_and_seize() {
    let mut c = Chain::populated();
    let ticket = c.issued(1000);
    let pledge = |q| TxKind::Pledge(Pledge { ticket: ticket.clone(), quantity: t(q), pledgee: addr(&bank()) });
    c.ok(&owner(), pledge(600));
    assert_eq!(c.held(&owner(), &ticket, "pledged"), t(600));
    // Pledged units cannot be moved or retired by the holder.
    assert!(matches!(c.rejects(&owner(), transfer(&ticket, &buyer(), 401)), Rejection::InsufficientUnits { .. }));
    assert!(matches!(c.rejects(&owner(), retire(&ticket, 401)), Rejection::InsufficientUnits { .. }));
    // Only the pledgee can release or seize.
    let release = |q| TxKind::Release(Release { ticket: ticket.clone(), holder: addr(&owner()), quantity: t(q) });
    let seize = |q| TxKind::Seize(Seize { ticket: ticket.clone(), holder: addr(&owner()), quantity: t(q) });
    assert!(matches!(c.rejects(&buyer(), release(100)), Rejection::InsufficientUnits { .. }));
    assert!(matches!(c.rejects(&bank(), release(601)), Rejection::InsufficientUnits { .. }));
    c.ok(&bank(), release(100));
    assert_eq!(c.held(&owner(), &ticket, "active"), t(500));
    c.ok(&bank(), seize(200));
    assert_eq!(c.held(&bank(), &ticket, "active"), t(200));
    assert_eq!(c.held(&owner(), &ticket, "pledged"), t(300));
    assert!(matches!(c.rejects(&owner(), pledge(501)), Rejection::InsufficientUnits { .. }));
    let to_self = TxKind::Pledge(Pledge { ticket: ticket.clone(), quantity: t(1), pledgee: addr(&owner()) });
    assert!(matches!(c.rejects(&owner(), to_self), Rejection::InvalidField { .. }));
    let to_stranger = TxKind::Pledge(Pledge { ticket: ticket.clone(), quantity: t(1), pledgee: addr(&stranger()) });
    assert_eq!(c.rejects(&owner(), to_stranger), Rejection::UnknownAccount(addr(&stranger())));
}

// ----- holds -----

#[test]
fn frozen_accounts_cannot_move_pledge_or_retire() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let target = FreezeTarget::Account(addr(&owner()));
    c.ok(&authority(), TxKind::Freeze(Freeze { target: target.clone(), reason: "court order 2023-01".into() }));
    assert!(matches!(c.rejects(&owner(), transfer(&ticket, &buyer(), 1)), Rejection::AccountFrozen { .. }));
    assert!(matches!(c.rejects(&owner(), retire(&ticket, 1)), Rejection::AccountFrozen { .. }));
    assert!(matches!(
        c.rejects(&owner(), TxKind::Pledge(Pledge { ticket: ticket.clone(), quantity: t(1), pledgee: addr(&bank()) })),
        Rejection::AccountFrozen { .. }
    ));
    assert!(matches!(
        c.rejects(&authority(), TxKind::Freeze(Freeze { target: target.clone(), reason: "again".into() })),
        Rejection::AlreadyFrozen(_)
    ));
    assert!(matches!(
        c.rejects(&exchange(), TxKind::Unfreeze(Unfreeze { target: target.clone() })),
        Rejection::WrongRole { role: Role::Exchange, .. }
    ));
    c.ok(&authority(), TxKind::Unfreeze(Unfreeze { target: target.clone() }));
    assert!(matches!(c.rejects(&authority(), TxKind::Unfreeze(Unfreeze { target })), Rejection::NotFrozen(_)));
    c.ok(&owner(), transfer(&ticket, &buyer(), 1));
}

#[test]
fn frozen_tickets_freeze_their_lots() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    c.ok(&owner(), transfer(&ticket, &buyer(), 40));
    let target = FreezeTarget::Ticket(ticket.clone());
    assert!(matches!(
        c.rejects(&exchange(), TxKind::Freeze(Freeze { target: target.clone(), reason: "x".into() })),
        Rejection::WrongRole { .. }
    ));
    c.ok(&authority(), TxKind::Freeze(Freeze { target: target.clone(), reason: "reversal risk".into() }));
    assert_eq!(c.held(&buyer(), &ticket, "frozen"), t(40));
    assert_eq!(c.ledger.meta().totals.frozen, t(100));
    assert!(matches!(c.rejects(&buyer(), transfer(&ticket, &owner(), 1)), Rejection::TicketFrozen { .. }));
    assert!(matches!(c.rejects(&buyer(), retire(&ticket, 1)), Rejection::TicketFrozen { .. }));
    assert!(matches!(
        c.rejects(
            &authority(),
            TxKind::Freeze(Freeze { target: FreezeTarget::Ticket("NOPE".into()), reason: "x".into() })
        ),
        Rejection::UnknownTicket(_)
    ));
    assert!(matches!(
        c.rejects(&authority(), TxKind::Freeze(Freeze { target: target.clone(), reason: "".into() })),
        Rejection::InvalidField { .. }
    ));
    c.ok(&authority(), TxKind::Unfreeze(Unfreeze { target }));
    assert_eq!(c.held(&buyer(), &ticket, "active"), t(40));
    c.ok(&buyer(), retire(&ticket, 40));
}

// ----- cancellation -----

#[test]
fn cancellation_is_final() {
    let mut c = Chain::populated();
    let ticket = c.issued(100);
    let cancel = |q| {
        TxKind::Cancel(Cancel {
            ticket: ticket.clone(),
            holder: addr(&owner()),
            quantity: t(q),
            reason: "mangrove loss (reversal)".into(),
        })
    };
    assert!(matches!(c.rejects(&exchange(), cancel(10)), Rejection::WrongRole { .. }));
    assert!(matches!(c.rejects(&authority(), cancel(101)), Rejection::InsufficientUnits { .. }));
    c.ok(&authority(), cancel(30));
    assert_eq!(c.held(&owner(), &ticket, "cancelled"), t(30));
    assert_eq!(c.ledger.meta().totals.cancelled, t(30));
    assert!(matches!(c.rejects(&owner(), transfer(&ticket, &buyer(), 71)), Rejection::InsufficientUnits { .. }));
    assert!(matches!(c.rejects(&authority(), cancel(71)), Rejection::InsufficientUnits { .. }));
    let no_reason =
        TxKind::Cancel(Cancel { ticket: ticket.clone(), holder: addr(&owner()), quantity: t(1), reason: "".into() });
    assert!(matches!(c.rejects(&authority(), no_reason), Rejection::InvalidField { .. }));
}

// ----- validator set -----

#[test]
fn validator_set_changes_need_authority_and_two_thirds() {
    use ed25519_dalek::Signer;
    let mut c = Chain::populated();
    let current: Vec<_> = (200..204).map(key).collect();
    let new_set: Vec<Validator> = (200..203)
        .chain([210])
        .map(|s| Validator { public_key: key(s).verifying_key().to_bytes(), power: 1, name: format!("v{s}") })
        .collect();
    let mut sorted = new_set.clone();
    sorted.sort_by_key(Validator::address);
    let msg = valset_approval_message(CHAIN, 1, &sorted);
    let approvals = |ks: &[ed25519_dalek::SigningKey]| -> Vec<Approval> {
        ks.iter()
            .map(|k| Approval { public_key: k.verifying_key().to_bytes(), signature: k.sign(&msg).to_bytes() })
            .collect()
    };
    let change =
        |a: Vec<Approval>| TxKind::UpdateValidators(UpdateValidators { validators: new_set.clone(), approvals: a });
    assert_eq!(
        c.rejects(&authority(), change(approvals(&current[..2]))),
        Rejection::NotEnoughApprovals { approved: 2, total: 4 }
    );
    // A repeated approval counts once.
    let mut dup = approvals(&current[..2]);
    dup.push(dup[0].clone());
    assert_eq!(c.rejects(&authority(), change(dup)), Rejection::NotEnoughApprovals { approved: 2, total: 4 });
    assert_eq!(c.rejects(&authority(), change(approvals(&[key(210)]))), Rejection::BadApproval { index: 0 });
    let mut forged = approvals(&current[..3]);
    forged[1].signature[0] ^= 1;
    assert_eq!(c.rejects(&authority(), change(forged)), Rejection::BadApproval { index: 1 });
    assert!(matches!(c.rejects(&exchange(), change(approvals(&current[..3]))), Rejection::WrongRole { .. }));
    let empty = TxKind::UpdateValidators(UpdateValidators { validators: vec![], approvals: approvals(&current[..3]) });
    assert!(matches!(c.rejects(&authority(), empty), Rejection::InvalidValidatorSet(_)));
    let before = c.ledger.head().validator_set_hash;
    c.ok(&authority(), change(approvals(&current[..3])));
    assert_eq!(c.ledger.validators(), sorted);
    c.block(vec![]);
    assert_ne!(c.ledger.head().validator_set_hash, before);
    assert_eq!(c.ledger.head().validator_set_hash, crate::block::validator_set_hash(&sorted));
}
