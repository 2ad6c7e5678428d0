//! The client library against a real one-validator `bct-node` network: signing with the node's
//! nonce and chain id, waiting for commits, rejections with the ledger's reason, a transaction
//! left waiting behind a nonce gap, the event stream, listings, and certificates.

mod common;
mod network;

use std::time::{Duration, Instant};

use bct_ledger::tx::{AdmitAccount, Retire};
use bct_ledger::types::{Purpose, Role};
use bct_ledger::{Rejection, TxId, TxKind};
use bct_wallet::client::certificate::{verify_file, CertificateFile};
use bct_wallet::client::{Client, ClientError, RetirementQuery, TxOptions, TxStatus};
use common::*;
use ed25519_dalek::SigningKey;
use network::{Network, Spec, WAIT};

fn admit(who: &SigningKey, role: Role) -> TxKind {
    TxKind::AdmitAccount(AdmitAccount { address: addr(who), role, name: "x".into(), jurisdiction: "CN-FJ".into() })
}

/// Waits until the node says `id` is committed.
async fn committed(client: &Client, id: &TxId) -> bct_wallet::client::Committed {
    let deadline = Instant::now() + WAIT;
    loop {
        if let TxStatus::Committed(c) = client.tx_status(id).await.expect("status") {
            return c;
        }
        assert!(Instant::now() < deadline, "transaction {id} not committed within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_take_nonce_and_chain_from_the_node_and_wait_for_the_commit() {
    let net = Network::start(Spec::validators(1));
    let client = Client::connect(net.url()).await.expect("connects");
    let status = client.network_status().await.expect("status");
    assert_eq!((status.chain_id.as_str(), status.validators.len()), (net.chain_id.as_str(), 1));
    assert!(status.height >= 1, "{status:?}");
    let mut events = client.subscribe(status.height + 1).await.expect("subscribed");

    let a = &net.authority;
    assert_eq!(client.next_nonce(&addr(a)).await.expect("nonce"), 1);
    let receipt = client.send(a, admit(&verifier1(), Role::Verifier), &TxOptions::default()).await.expect("sent");
    assert_eq!(receipt.nonce, 1);
    let (c, accepted) = receipt.accepted().expect("committed and accepted");
    assert!(c.height > status.height, "{c:?}");
    assert_eq!(c.index, 0);
    assert_eq!(accepted.ticket, None);
    assert_eq!(client.next_nonce(&addr(a)).await.expect("nonce"), 2);
    assert!(matches!(client.tx_status(&receipt.tx_id).await.expect("status"), TxStatus::Committed(_)));
    let shown = client.transaction(&receipt.tx_id).await.expect("tx");
    assert_eq!(shown.tx.id(), receipt.tx_id);
    // Signed with an expiry by default: the node's height then + 1000 blocks.
    let expiry = shown.tx.body().expiry_height;
    assert!(
        expiry >= status.height + bct_wallet::client::DEFAULT_EXPIRY_BLOCKS && expiry < c.height + 1000,
        "expiry {expiry}, signed after height {}",
        status.height
    );

    // The event stream has every block from where it started, the admission in its own.
    let deadline = Instant::now() + WAIT;
    let mut next = status.height + 1;
    loop {
        let e = tokio::time::timeout(WAIT, events.next()).await.expect("an event in time").expect("event");
        let e = e.expect("the stream goes on");
        assert_eq!(e.header.height, next);
        next += 1;
        if e.header.height == c.height {
            assert_eq!(e.tx_ids, [receipt.tx_id]);
            assert!(e.results[0].outcome.is_ok(), "{:?}", e.results);
            break;
        }
        assert!(e.tx_ids.is_empty() && Instant::now() < deadline, "{:?}", e.tx_ids);
    }

    // Not waiting: the node answers at admission.
    let no_wait = TxOptions { wait_for_commit: false, ..TxOptions::default() };
    let r = client.send(a, admit(&verifier2(), Role::Verifier), &no_wait).await.expect("sent");
    assert_eq!(r.status, TxStatus::Pending);
    // A second one while the first may still wait: it takes the next nonce (the node counts
    // the signer's pending transactions), instead of colliding with the first.
    let second = client.send(a, admit(&key(61), Role::Holder), &no_wait).await.expect("sent while one is pending");
    assert_eq!(second.nonce, r.nonce + 1);
    committed(&client, &r.tx_id).await;
    committed(&client, &second.tx_id).await;

    // A nonce already used: refused at admission, with the ledger's reason and code.
    let stale = TxOptions { nonce: Some(1), ..TxOptions::default() };
    match client.send(a, admit(&owner(), Role::Holder), &stale).await {
        Err(ClientError::Rejected { rejection, height: None, .. }) => {
            assert_eq!(*rejection, Rejection::StaleNonce { expected: 4, got: 1 });
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    let e = client.send(a, admit(&verifier2(), Role::Verifier), &TxOptions::default()).await.expect_err("exists");
    assert!(e.to_string().contains("is already admitted") && e.to_string().contains("rejection code 15"), "{e}");

    // A nonce ahead is admitted but waits for the gap: the wait ends with it pending, and it
    // commits once the gap is filled.
    let ahead = TxOptions { nonce: Some(5), wait_timeout_ms: 500, ..TxOptions::default() };
    let waiting = client.send(a, admit(&owner(), Role::Holder), &ahead).await.expect("admitted");
    assert_eq!(waiting.status, TxStatus::Pending);
    assert_eq!(client.tx_status(&waiting.tx_id).await.expect("status"), TxStatus::Pending);
    let gap = client.send(a, admit(&buyer(), Role::Holder), &TxOptions::default()).await.expect("sent");
    assert_eq!(gap.nonce, 4);
    let c = committed(&client, &waiting.tx_id).await;
    assert!(c.result.outcome.is_ok(), "{c:?}");
    assert_eq!(client.next_nonce(&addr(a)).await.expect("nonce"), 6);

    // A signer that is not admitted has no nonce: the error says who must admit it.
    let e = client.send(&key(77), admit(&key(78), Role::Holder), &TxOptions::default()).await.expect_err("unknown");
    assert!(matches!(e, ClientError::UnknownAccount { .. }));
    assert!(e.to_string().contains("bct account admit"), "{e}");

    // Queries of things that do not exist.
    assert!(matches!(client.project("NOPE").await, Err(ClientError::NotFound { .. })));
    assert!(matches!(client.block(Some(1 << 40)).await, Err(ClientError::NotFound { .. })));
    let b = client.block(None).await.expect("latest");
    assert!(b.block.header.height >= c.height);
    assert!(b.commit.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retirements_list_and_certificates_verify() {
    let net = Network::start(Spec::validators(1));
    let client = Client::connect(net.url()).await.expect("connects");
    let opts = TxOptions::default();
    let a = &net.authority;
    for (who, role) in
        [(verifier1(), Role::Verifier), (verifier2(), Role::Verifier), (owner(), Role::Holder), (buyer(), Role::Holder)]
    {
        client.send(a, admit(&who, role), &opts).await.expect("admitted");
    }
    // The fixture's project, attestations, issuance and transfer, through the node.
    let first_block = replay_block1(&client, a).await;
    assert!(first_block > 0);
    let ticket = "FJ-LJ-KELP-001-20210101-20211231-1";
    let mut ids = Vec::new();
    for (i, beneficiary) in ["A", "B", "A"].iter().enumerate() {
        let r = client
            .send(
                &buyer(),
                TxKind::Retire(Retire {
                    ticket: ticket.into(),
                    quantity: bct_ledger::Amount::from_tonnes(10 + i as u64).expect("small"),
                    beneficiary: (*beneficiary).into(),
                    purpose: Purpose::Voluntary,
                    jurisdiction: "CN-FJ".into(),
                    note: String::new(),
                }),
                &opts,
            )
            .await
            .expect("retired");
        ids.push(r.accepted().and_then(|(_, a)| a.retirement).expect("a retirement id"));
    }
    assert_eq!(ids, [1, 2, 3]);
    // All of them, or up to a limit (the listing then says it was cut).
    let all = client.retirements(&RetirementQuery::default(), 100).await.expect("list");
    assert_eq!((all.items.len(), all.truncated), (3, false));
    let two = client.retirements(&RetirementQuery::default(), 2).await.expect("list");
    assert_eq!((two.items.len(), two.truncated), (2, true));
    let a_only = client
        .retirements(&RetirementQuery { beneficiary: Some("A".into()), ..Default::default() }, 100)
        .await
        .expect("list");
    assert_eq!(a_only.items.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 3]);

    let bytes = client.retirement_certificate_bytes(2).await.expect("certificate");
    let file = CertificateFile::from_certificate_bytes(&bytes).expect("decodes");
    let v = verify_file(file.to_json().as_bytes(), &net.genesis).expect("verifies");
    assert_eq!((v.summary.retirement_id, v.summary.beneficiary.as_str(), v.summary.quantity.as_str()), (2, "B", "11t"));
    // The fixture's network is another one: its genesis does not verify this certificate.
    assert!(verify_file(file.to_json().as_bytes(), &genesis()).is_err());

    let lots = client.lots(&addr(&buyer()), Some(ticket), 1000).await.expect("lots");
    let retired: u64 = lots.items.iter().filter(|l| l.state.is_final()).map(|l| l.amount().kg()).sum();
    assert_eq!(retired, 33_000);
}

/// Project, attestations, issuance and a transfer to the buyer; returns the issuing height.
async fn replay_block1(client: &Client, a: &SigningKey) -> u64 {
    use bct_ledger::tx::{Attest, Issue, RegisterProject, Transfer};
    use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period};
    let opts = TxOptions::default();
    let period = Period {
        start: Date::from_yyyymmdd(20210101).expect("date"),
        end: Date::from_yyyymmdd(20211231).expect("date"),
    };
    let methodology = Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() };
    let report = bct_ledger::Hash::of(b"report");
    let t = |n| bct_ledger::Amount::from_tonnes(n).expect("small");
    client
        .send(
            a,
            TxKind::RegisterProject(RegisterProject {
                id: "FJ-LJ-KELP-001".into(),
                name: "Lianjiang kelp farm".into(),
                owner: addr(&owner()),
                ecosystem: Ecosystem::SeaweedFarm,
                location: Location { region: "CN-FJ-350122".into(), coordinates: None },
                area_centiha: 17_180,
                methodology: methodology.clone(),
            }),
            &opts,
        )
        .await
        .expect("registered");
    for v in [verifier1(), verifier2()] {
        client
            .send(
                &v,
                TxKind::Attest(Attest {
                    project: "FJ-LJ-KELP-001".into(),
                    period,
                    quantity: t(6000),
                    methodology: methodology.clone(),
                    report_hash: report,
                    statement: String::new(),
                }),
                &opts,
            )
            .await
            .expect("attested");
    }
    let issued = client
        .send(
            a,
            TxKind::Issue(Issue {
                project: "FJ-LJ-KELP-001".into(),
                period,
                report_hash: report,
                quantity: t(6000),
                recipient: None,
            }),
            &opts,
        )
        .await
        .expect("issued");
    let (c, accepted) = issued.accepted().expect("accepted");
    assert_eq!(accepted.ticket.as_deref(), Some("FJ-LJ-KELP-001-20210101-20211231-1"));
    let height = c.height;
    client
        .send(
            &owner(),
            TxKind::Transfer(Transfer {
                ticket: "FJ-LJ-KELP-001-20210101-20211231-1".into(),
                to: addr(&buyer()),
                quantity: t(6000),
                trade: None,
            }),
            &opts,
        )
        .await
        .expect("transferred");
    height
}
