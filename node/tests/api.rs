//! The gRPC API end to end on a one-validator network: a retirement from admission to an
//! offline-checked retirement certificate, the query service, the event stream, errors as
//! gRPC statuses, health and reflection.

mod common;

use bct_ledger::crypto::{merkle_leaf, merkle_root_from_path};
use bct_ledger::tx::{AdmitAccount, Attest, Issue, RegisterProject, Retire, TxBody, TxKind};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role};
use bct_ledger::{Amount, Hash, SignedTx};
use bct_node::config::NodeConfig;
use bct_node::consensus::certificate;
use bct_node::keys::NodeKey;
use bct_proto::pb;
use bct_proto::IntoLedger;
use common::{serially, Net};
use tokio_stream::StreamExt;

fn signed(key: &NodeKey, nonce: u64, kind: TxKind) -> SignedTx {
    let body = TxBody { chain_id: "bct-test".into(), signer: key.address(), nonce, expiry_height: 0, kind };
    bct_proto::sign(key.signing_key(), &body)
}

/// On a started one-validator `net`: the authority admits two verifiers and a holder
/// (authority nonces 1-3), registers the Lianjiang kelp project for the holder (4), the two
/// verifiers attest 1,000 t of 2024 and the authority issues it (5). The authority, the holder
/// and the ticket id.
async fn issued_ticket(net: &Net) -> (NodeKey, NodeKey, String) {
    let authority = net.net.authorities[0].clone();
    let (v1, v2, holder) = (NodeKey::generate(), NodeKey::generate(), NodeKey::generate());
    let admit = |nonce, who: &NodeKey, role| {
        signed(
            &authority,
            nonce,
            TxKind::AdmitAccount(AdmitAccount {
                address: who.address(),
                role,
                name: format!("account {nonce}"),
                jurisdiction: "CN-FJ".into(),
            }),
        )
    };
    for (nonce, who, role) in [(1, &v1, Role::Verifier), (2, &v2, Role::Verifier), (3, &holder, Role::Holder)] {
        net.submit_committed(0, &admit(nonce, who, role)).await;
    }
    let methodology = Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() };
    let project = "FJ-LJ-KELP-001".to_string();
    net.submit_committed(
        0,
        &signed(
            &authority,
            4,
            TxKind::RegisterProject(RegisterProject {
                id: project.clone(),
                name: "Lianjiang kelp".into(),
                owner: holder.address(),
                ecosystem: Ecosystem::SeaweedFarm,
                location: Location { region: "CN-FJ-350122".into(), coordinates: None },
                area_centiha: 17_180,
                methodology: methodology.clone(),
            }),
        ),
    )
    .await;
    let period = Period {
        start: Date::from_yyyymmdd(20240101).expect("date"),
        end: Date::from_yyyymmdd(20241231).expect("date"),
    };
    let report = Hash::of(b"monitoring report 2024");
    for v in [&v1, &v2] {
        let attest = Attest {
            project: project.clone(),
            period,
            quantity: Amount::from_kg(1_000_000),
            methodology: methodology.clone(),
            report_hash: report,
            statement: "verified on site".into(),
        };
        net.submit_committed(0, &signed(v, 1, TxKind::Attest(attest))).await;
    }
    let issue = Issue {
        project: project.clone(),
        period,
        report_hash: report,
        quantity: Amount::from_kg(1_000_000),
        recipient: None,
    };
    let issued = net.submit_committed(0, &signed(&authority, 5, TxKind::Issue(issue))).await;
    let ticket = accepted(&issued).ticket.expect("ticket id");
    (authority, holder, ticket)
}

fn accepted(c: &pb::Committed) -> pb::Accepted {
    match c.result.as_ref().and_then(|r| r.outcome.clone()) {
        Some(pb::tx_result::Outcome::Accepted(a)) => a,
        other => panic!("not accepted: {other:?}"),
    }
}

fn hash(bytes: &[u8]) -> Hash {
    Hash(bytes.try_into().expect("32 bytes"))
}

#[test]
fn n1f0_retirement_certificate_queries_events_and_errors() {
    serially(async {
        let mut net = Net::new(1, 0, 1);
        net.start(0);
        net.wait_height(0, 1).await;
        let (authority, holder, ticket) = issued_ticket(&net).await;
        let retire = Retire {
            ticket: ticket.clone(),
            quantity: Amount::from_kg(250_000),
            beneficiary: "Fuzhou Marathon 2025".into(),
            purpose: Purpose::Event,
            jurisdiction: "CN".into(),
            note: "offset of the event".into(),
        };
        let retire_tx = signed(&holder, 1, TxKind::Retire(retire));
        let retired = net.submit_committed(0, &retire_tx).await;
        let retirement = accepted(&retired).retirement.expect("retirement id");

        // The retirement certificate checks offline: tx and result into the header, header
        // signed by more than 2/3 of the validator set the header names.
        let mut q = net.query(0).await;
        let resp = q
            .get_retirement_certificate(pb::GetRetirementCertificateRequest { retirement_id: retirement })
            .await
            .expect("certificate")
            .into_inner();
        let cert = resp.certificate.expect("certificate");
        assert_eq!(prost::Message::encode_to_vec(&cert), resp.certificate_bytes);
        let header: bct_ledger::BlockHeader = cert.header.clone().expect("header").into_ledger().expect("header");
        let tx = bct_proto::signed_tx_from_pb(cert.tx.clone().expect("tx")).expect("tx");
        assert_eq!(tx.id(), retire_tx.id());
        let tx_proof = cert.tx_proof.clone().expect("tx proof");
        let path: Vec<Hash> = tx_proof.path.iter().map(|p| hash(p)).collect();
        assert_eq!(
            merkle_root_from_path(merkle_leaf(&tx.id().0), tx_proof.index as usize, tx_proof.count as usize, &path),
            Some(header.tx_root)
        );
        let result: bct_ledger::TxResult = cert.result.clone().expect("result").into_ledger().expect("result");
        let result_proof = cert.result_proof.clone().expect("result proof");
        let path: Vec<Hash> = result_proof.path.iter().map(|p| hash(p)).collect();
        assert_eq!(
            merkle_root_from_path(
                merkle_leaf(&result.leaf_bytes()),
                result_proof.index as usize,
                result_proof.count as usize,
                &path
            ),
            Some(header.results_root)
        );
        let validators: Vec<bct_ledger::types::Validator> =
            cert.validators.iter().map(|v| v.clone().into_ledger().expect("validator")).collect();
        assert_eq!(bct_ledger::block::validator_set_hash(&validators), header.validator_set_hash);
        let commit = cert.commit.clone().expect("commit");
        assert_eq!(hash(&commit.block_hash), header.hash());
        certificate::verify(&cert.chain_id, &commit, &validators).expect("commit certificate verifies");
        let mut forged = commit.clone();
        forged.round += 1;
        assert!(certificate::verify(&cert.chain_id, &forged, &validators).is_err());

        // Queries over the same state.
        let lots = q
            .list_lots(pb::ListLotsRequest {
                holder: holder.address().0.to_vec(),
                ticket: None,
                limit: 0,
                start_after: None,
            })
            .await
            .expect("lots")
            .into_inner()
            .lots;
        assert_eq!(lots.len(), 2, "the retirement split the lot: {lots:?}");
        let t = q.get_ticket(pb::GetTicketRequest { id: ticket.clone() }).await.expect("ticket").into_inner();
        assert_eq!(t.attestations.len(), 2);
        let r = q
            .list_retirements(pb::ListRetirementsRequest {
                filter: Some(pb::list_retirements_request::Filter::Beneficiary("Fuzhou Marathon 2025".into())),
                ..Default::default()
            })
            .await
            .expect("retirements")
            .into_inner();
        assert_eq!(r.retirements.len(), 1);
        let supply = q.get_supply(pb::GetSupplyRequest { height: None }).await.expect("supply").into_inner();
        let totals = supply.totals.expect("totals");
        assert_eq!((totals.issued_kg, totals.retired_kg, totals.active_kg), (1_000_000, 250_000, 750_000));
        assert_eq!(supply.by_vintage.first().map(|v| v.vintage), Some(2024));
        let txs = q
            .list_account_transactions(pb::ListAccountTransactionsRequest {
                address: authority.address().0.to_vec(),
                limit: 2,
                start_after: None,
            })
            .await
            .expect("account transactions")
            .into_inner();
        assert_eq!(txs.transactions.len(), 2);
        let cursor = txs.next_start_after.expect("more");
        let rest = q
            .list_account_transactions(pb::ListAccountTransactionsRequest {
                address: authority.address().0.to_vec(),
                limit: 10,
                start_after: Some(cursor),
            })
            .await
            .expect("next page")
            .into_inner();
        assert_eq!(rest.transactions.len(), 3, "5 authority transactions in all");
        let got = q.get_transaction(pb::GetTransactionRequest { tx_id: retire_tx.id().0.to_vec() }).await.expect("tx");
        assert_eq!(got.into_inner().committed.map(|c| c.height), Some(retired.height));
        let missing = q.get_project(pb::GetProjectRequest { id: "NOPE".into() }).await.expect_err("unknown project");
        assert_eq!(missing.code(), tonic::Code::NotFound);
        let bad = q.get_account(pb::GetAccountRequest { address: vec![1, 2, 3] }).await.expect_err("short address");
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad.message().contains("20-byte"), "{}", bad.message());

        // The event stream replays from genesis and follows.
        let mut events = pb::events_client::EventsClient::new(net.channel(0).await)
            .subscribe(pb::SubscribeRequest { from_height: 0 })
            .await
            .expect("subscribe")
            .into_inner();
        for expected in 0..=retired.height {
            let e = events.next().await.expect("event").expect("event ok");
            assert_eq!(e.header.expect("header").height, expected);
            if expected == retired.height {
                assert!(e.tx_ids.contains(&retire_tx.id().0.to_vec()));
            }
        }

        // Errors are statuses that say what is wrong.
        let mut t = net.transactions(0).await;
        let mut bad_sig = bct_proto::signed_tx_to_pb(&signed(
            &authority,
            6,
            TxKind::AdmitAccount(AdmitAccount {
                address: NodeKey::generate().address(),
                role: Role::Holder,
                name: "x".into(),
                jurisdiction: "CN".into(),
            }),
        ));
        bad_sig.signature[0] ^= 1;
        let e = t
            .submit(pb::SubmitRequest { tx: Some(bad_sig), wait_for_commit: false, timeout_ms: 0 })
            .await
            .expect_err("bad signature");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("signature"), "{}", e.message());
        let stranger = TxKind::AdmitAccount(AdmitAccount {
            address: NodeKey::generate().address(),
            role: Role::Holder,
            name: "a stranger".into(),
            jurisdiction: "CN-FJ".into(),
        });
        let stale = bct_proto::signed_tx_to_pb(&signed(&authority, 1, stranger));
        let e = t
            .submit(pb::SubmitRequest { tx: Some(stale), wait_for_commit: false, timeout_ms: 0 })
            .await
            .expect_err("stale");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert!(e.message().contains("nonce 1 was already used"), "{}", e.message());
        // The rich error model: a google.rpc.Status with an ErrorInfo and the ledger's rejection.
        let details = bct_proto::status::details(&e).expect("google.rpc.Status in the details");
        assert_eq!((details.reason.as_str(), details.get("rejection_code")), ("REJECTED", Some("4")));
        assert_eq!(details.rejection.map(|r| r.code), Some(4));
        // Resubmitting a committed transaction is idempotent.
        let again = net.submit(0, &retire_tx).await;
        assert_eq!(again.status, pb::TxStatus::Committed as i32);

        // Health and reflection, for generic tools.
        let mut health = tonic_health::pb::health_client::HealthClient::new(net.channel(0).await);
        let h = health
            .check(tonic_health::pb::HealthCheckRequest { service: "bct.v1.Transactions".into() })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(h.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::{server_reflection_request::MessageRequest, ServerReflectionRequest};
        let mut reflection = ServerReflectionClient::new(net.channel(0).await);
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers =
            reflection.server_reflection_info(tokio_stream::iter(vec![req])).await.expect("reflection").into_inner();
        let listed = format!("{:?}", answers.next().await.expect("answer").expect("ok"));
        assert!(listed.contains("bct.v1.Query") && listed.contains("grpc.health.v1.Health"), "{listed}");
    });
}

/// The audit's replay, through the node: a transaction included and rejected used its nonce,
/// so submitting its bytes again answers with its committed rejection (not a refusal, not a
/// second inclusion), even once it could succeed, and the signer's next nonce moved past it.
#[test]
fn n1f0_a_rejected_transaction_keeps_its_outcome_and_cannot_be_replayed() {
    serially(async {
        let mut net = Net::new(1, 0, 1);
        net.start(0);
        net.wait_height(0, 1).await;
        let authority = net.net.authorities[0].clone();
        let holder = NodeKey::generate();
        let admit_holder = TxKind::AdmitAccount(AdmitAccount {
            address: holder.address(),
            role: Role::Holder,
            name: "Late holder".into(),
            jurisdiction: "CN-FJ".into(),
        });
        let update_holder = TxKind::UpdateAccount(bct_ledger::tx::UpdateAccount {
            address: holder.address(),
            name: Some("Late holder, renamed".into()),
            jurisdiction: None,
            role: None,
        });
        // Nonce 2 first (it waits in the mempool for nonce 1), then nonce 1: both are included,
        // and nonce 2 is rejected: it updates an account nobody admitted.
        let stranger = NodeKey::generate();
        let update_stranger = TxKind::UpdateAccount(bct_ledger::tx::UpdateAccount {
            address: stranger.address(),
            name: Some("Nobody".into()),
            jurisdiction: None,
            role: None,
        });
        let second = signed(&authority, 2, update_stranger);
        let first = signed(&authority, 1, admit_holder);
        assert_eq!(net.submit(0, &second).await.status, pb::TxStatus::Pending as i32, "a future nonce waits");
        net.submit_committed(0, &first).await;
        let rejected = net.wait_committed(0, &second).await;
        assert!(
            matches!(
                rejected.result.as_ref().and_then(|r| r.outcome.as_ref()),
                Some(pb::tx_result::Outcome::Rejected(_))
            ),
            "{rejected:?}"
        );
        // Its nonce is used: the authority's next one is 3.
        let mut q = net.query(0).await;
        let next = q.get_account(pb::GetAccountRequest { address: authority.address().0.to_vec() }).await;
        assert_eq!(next.expect("account").into_inner().next_nonce, 3);
        // The stranger is admitted now, so the same bytes would succeed: resubmitted, they
        // answer with their committed rejection, and nothing changes.
        let admit_stranger = TxKind::AdmitAccount(AdmitAccount {
            address: stranger.address(),
            role: Role::Holder,
            name: "Stranger".into(),
            jurisdiction: "CN-FJ".into(),
        });
        net.submit_committed(0, &signed(&authority, 3, admit_stranger)).await;
        let again = net.submit(0, &second).await;
        assert_eq!(again.status, pb::TxStatus::Committed as i32, "{again:?}");
        assert_eq!(again.committed.as_ref().map(|c| c.height), Some(rejected.height));
        assert!(matches!(
            again.committed.and_then(|c| c.result).and_then(|r| r.outcome),
            Some(pb::tx_result::Outcome::Rejected(_))
        ));
        let account = q.get_account(pb::GetAccountRequest { address: stranger.address().0.to_vec() }).await;
        assert_eq!(account.expect("account").into_inner().account.map(|a| a.name), Some("Stranger".to_string()));
        // The authority goes on with nonce 4.
        net.submit_committed(0, &signed(&authority, 4, update_holder)).await;
    });
}

/// A lost same-nonce race is answered at once: the waiting submission says which transaction
/// used the nonce and where, instead of waiting out its timeout and answering PENDING.
#[test]
fn n1o1_the_loser_of_a_same_nonce_race_is_told_who_won() {
    serially(async {
        let mut net = Net::new(1, 1, 1);
        net.start(0);
        net.start(1);
        net.wait_height(1, 1).await;
        let authority = net.net.authorities[0].clone();
        let admit = |name: &str| {
            TxKind::AdmitAccount(AdmitAccount {
                address: NodeKey::generate().address(),
                role: Role::Holder,
                name: name.into(),
                jurisdiction: "CN-FJ".into(),
            })
        };
        let winner = signed(&authority, 1, admit("Winner"));
        let loser = signed(&authority, 1, admit("Loser"));
        // The winner waits in the validator's mempool; the loser is admitted by the observer
        // (whose state has not seen nonce 1 used) and waits for a commit that cannot come.
        net.submit(0, &winner).await;
        let mut t = net.transactions(1).await;
        let req = pb::SubmitRequest {
            tx: Some(bct_proto::signed_tx_to_pb(&loser)),
            wait_for_commit: true,
            timeout_ms: 60_000,
        };
        let answer = t.submit(req).await;
        let status = answer.expect_err("the loser is not committed");
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        let m = status.message();
        assert!(m.contains(&format!("was used by transaction {}", winner.id())) || m.contains("already used"), "{m}");
        let c = net.wait_committed(0, &winner).await;
        assert!(c.height > 0);
    });
}

/// One client cannot take every event stream: at most 8 from one address at once (the 9th is
/// refused until one closes), and a subscription far past the chain's height is refused
/// instead of holding a slot while it waits.
#[test]
fn n1f0_event_streams_are_limited_per_client() {
    serially(async {
        let mut net = Net::new(1, 0, 1);
        net.start(0);
        net.wait_height(0, 1).await;
        let mut events = pb::events_client::EventsClient::new(net.channel(0).await);
        let mut held = Vec::new();
        for _ in 0..8 {
            let s = events.subscribe(pb::SubscribeRequest { from_height: 1 }).await.expect("a stream");
            held.push(s.into_inner());
        }
        let refused = events.subscribe(pb::SubscribeRequest { from_height: 1 }).await.expect_err("the 9th");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{refused:?}");
        assert!(refused.message().contains("already holds 8 event streams"), "{}", refused.message());
        drop(held.pop());
        // The slot is given back when the server sees the stream closed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match events.subscribe(pb::SubscribeRequest { from_height: 1 }).await {
                Ok(s) => {
                    held.push(s.into_inner());
                    break;
                }
                Err(s) if s.code() == tonic::Code::ResourceExhausted && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(s) => panic!("a closed stream's slot was not given back: {s:?}"),
            }
        }
        drop(held);
        let far = events.subscribe(pb::SubscribeRequest { from_height: 10_000_000 }).await.expect_err("too far");
        assert_eq!(far.code(), tonic::Code::OutOfRange, "{far:?}");
    });
}

/// Errors repeat at most a short prefix of what they were given: a 100 KB ticket id comes
/// back as a short message (a default client would refuse a 100 KB one), and so does a 4 KB
/// chain id in a transaction.
#[test]
fn n1f0_error_messages_quote_a_short_prefix_of_long_input() {
    serially(async {
        let mut net = Net::new(1, 0, 1);
        net.start(0);
        net.wait_height(0, 1).await;
        let long = "T".repeat(100_000);
        let e = net.query(0).await.get_ticket(pb::GetTicketRequest { id: long }).await.expect_err("no such ticket");
        assert_eq!(e.code(), tonic::Code::NotFound);
        assert!(e.message().len() < 300 && e.message().contains("(100000 bytes)"), "{}", e.message().len());
        let authority = net.net.authorities[0].clone();
        let body = TxBody {
            chain_id: "c".repeat(4_000),
            signer: authority.address(),
            nonce: 1,
            expiry_height: 0,
            kind: TxKind::AdmitAccount(AdmitAccount {
                address: NodeKey::generate().address(),
                role: Role::Holder,
                name: "x".into(),
                jurisdiction: "CN".into(),
            }),
        };
        let tx = bct_proto::sign(authority.signing_key(), &body);
        let mut t = net.transactions(0).await;
        let req =
            pb::SubmitRequest { tx: Some(bct_proto::signed_tx_to_pb(&tx)), wait_for_commit: false, timeout_ms: 0 };
        let e = t.submit(req).await.expect_err("another chain");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
        assert!(e.message().len() < 400 && e.message().contains("(4000 bytes)"), "{}", e.message());
    });
}

/// `GET /metrics` of node `i`, as text (the body only).
async fn scrape(net: &Net, i: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(net.net.nodes[i].metrics).await.expect("metrics port");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).await.expect("read");
    assert!(text.contains("content-type: application/openmetrics-text; version=1.0.0"), "{text}");
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

/// Audit item 9: one client address is held to `grpc.requests_per_second_per_client` (more:
/// RESOURCE_EXHAUSTED, reason RATE_LIMITED) and `grpc.connections_per_client_max` open
/// connections (more are closed), and the refusals are counted in the metrics, with the
/// requests, errors and admission refusals.
#[test]
fn n1f0_requests_and_connections_are_limited_per_client_and_counted() {
    serially(async {
        let mut net = Net::new(1, 0, 1);
        let home = net.home(0).to_path_buf();
        let mut config = NodeConfig::load(&home).expect("config");
        config.grpc.requests_per_second_per_client = 5;
        config.grpc.connections_per_client_max = 2;
        config.save(&home).expect("save");
        net.start(0);
        net.wait_height(0, 1).await;
        // Wait for the bucket to fill again after the harness's own polling.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let mut q = net.query(0).await;
        let mut refused = None;
        for _ in 0..40 {
            match q.get_network_status(pb::GetNetworkStatusRequest {}).await {
                Ok(_) => {}
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let e = refused.expect("a client over its rate is refused");
        assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
        assert!(e.message().contains("at most 5 per second"), "{}", e.message());
        let d = bct_proto::status::details(&e).expect("rich error");
        assert_eq!(d.reason, "RATE_LIMITED");
        // The bucket refills: the same client is served again a moment later.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        q.get_network_status(pb::GetNetworkStatusRequest {}).await.expect("served again after a pause");

        // Connections: the harness holds one; one more is allowed, a third is closed.
        let url = format!("http://{}", net.net.nodes[0].grpc);
        let second = tonic::transport::Channel::from_shared(url.clone()).expect("url").connect().await.expect("2nd");
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        let mut second_q = pb::query_client::QueryClient::new(second);
        second_q.get_network_status(pb::GetNetworkStatusRequest {}).await.expect("the second connection is served");
        let third = tonic::transport::Channel::from_shared(url)
            .expect("url")
            .connect_timeout(std::time::Duration::from_secs(5))
            .connect()
            .await;
        let third_answer = match third {
            Err(_) => None,
            Ok(ch) => {
                Some(pb::query_client::QueryClient::new(ch).get_network_status(pb::GetNetworkStatusRequest {}).await)
            }
        };
        assert!(
            !matches!(third_answer, Some(Ok(_))),
            "a third connection from the same address is not served: {third_answer:?}"
        );

        // An admission refusal (a bad signature), for the counter.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let who = NodeKey::generate();
        let kind = TxKind::AdmitAccount(AdmitAccount {
            address: who.address(),
            role: Role::Holder,
            name: "a holder".into(),
            jurisdiction: "CN-FJ".into(),
        });
        let mut bad = bct_proto::signed_tx_to_pb(&signed(&net.net.authorities[0], 1, kind));
        bad.signature[0] ^= 1;
        let e = net
            .transactions(0)
            .await
            .submit(pb::SubmitRequest { tx: Some(bad), wait_for_commit: false, timeout_ms: 0 })
            .await
            .expect_err("bad signature");
        assert_eq!(bct_proto::status::details(&e).map(|d| d.reason), Some("BAD_SIGNATURE".into()));

        let m = scrape(&net, 0).await;
        let moniker = &net.net.nodes[0].name;
        for needle in [
            format!("bct_grpc_refused_total{{moniker=\"{moniker}\",limit=\"requests_per_second\"}} "),
            format!("bct_grpc_refused_total{{moniker=\"{moniker}\",limit=\"connections\"}} "),
            format!("bct_admission_refused_total{{moniker=\"{moniker}\",reason=\"BAD_SIGNATURE\"}} 1"),
            format!(
                "bct_grpc_errors_total{{moniker=\"{moniker}\",method=\"/bct.v1.Transactions/Submit\",code=\"INVALID_ARGUMENT\"}} 1"
            ),
            format!("bct_grpc_requests_total{{moniker=\"{moniker}\",method=\"/bct.v1.Query/GetNetworkStatus\"}} "),
            format!("bct_peers_configured{{moniker=\"{moniker}\"}} 0"),
            format!("bct_build_info{{moniker=\"{moniker}\",version=\""),
            "process_resident_memory_bytes{".to_string(),
        ] {
            assert!(m.contains(&needle), "metrics lack {needle}:\n{m}");
        }
        assert!(!m.contains("_total_total"), "{m}");
    });
}

/// The metric names in `text` (PromQL or JSON): words starting `bct_`, `malachitebft_` or
/// `process_`.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if word(bytes[i]) && (i == 0 || !word(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && word(bytes[i]) {
                i += 1;
            }
            let w = &text[start..i];
            if ["bct_", "malachitebft_", "process_"].iter().any(|p| w.starts_with(p)) {
                names.insert(w.to_string());
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Whether the exposition `m` has metric `name`: as a sample, or as a family (a labelled
/// counter has no sample until its first label set) named `name` or `name` without its
/// sample suffix.
fn exposes(m: &str, name: &str) -> bool {
    let sample = m.lines().any(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(['{', ' '])));
    let families: Vec<&str> = ["", "_total", "_info", "_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| if suffix.is_empty() { Some(name) } else { name.strip_suffix(suffix) })
        .collect();
    sample || families.iter().any(|f| m.lines().any(|l| l.starts_with(&format!("# TYPE {f} "))))
}

/// Audit item 16: the Prometheus rules and the Grafana dashboard under deploy/ parse, and use
/// only metrics a running node serves.
#[test]
fn deploy_files_use_only_metrics_a_node_serves() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("deploy");
    let rules = std::fs::read_to_string(root.join("prometheus/alerts.yml")).expect("alerts.yml");
    let rules: serde_yaml::Value = serde_yaml::from_str(&rules).expect("alerts.yml is YAML");
    let mut exprs = Vec::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("every rule is an alert");
            let expr = rule["expr"].as_str().unwrap_or_else(|| panic!("{name}: no expr"));
            assert!(rule["annotations"]["summary"].as_str().is_some(), "{name}: no summary");
            assert!(rule["labels"]["severity"].as_str().is_some(), "{name}: no severity");
            exprs.push(expr.to_string());
        }
    }
    assert!(exprs.len() >= 10, "{exprs:?}");
    let dashboard = std::fs::read_to_string(root.join("grafana/bct-network.json")).expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    let used: std::collections::BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert!(used.contains("bct_height") && used.contains("bct_peers_configured"), "{used:?}");
    serially(async {
        let mut net = Net::new(1, 0, 1);
        net.start(0);
        net.wait_height(0, 2).await;
        let m = scrape(&net, 0).await;
        let missing: Vec<&String> = used.iter().filter(|n| !exposes(&m, n)).collect();
        assert!(missing.is_empty(), "deploy/ uses metrics the node does not serve: {missing:?}\n{m}");
        // And the check can fail: a name the node does not serve is caught.
        assert!(!exposes(&m, "bct_no_such_metric_total"));
    });
}

/// Issue 13, item 5, on a real node: after a validator set change (the validator's power and
/// name change, so the set's hash does), a new retirement's certificate carries the change in
/// its set history and verifies against the original genesis alone; the certificate of a
/// retirement made before the change carries no history and still verifies.
#[test]
fn n1f0_certificates_verify_across_a_validator_set_change() {
    use bct_ledger::tx::{Approval, UpdateValidators};
    use bct_ledger::types::Validator;
    serially(async {
        let mut net = Net::new(1, 0, 1);
        net.start(0);
        net.wait_height(0, 1).await;
        let genesis = net.net.genesis.clone();
        let (authority, holder, ticket) = issued_ticket(&net).await;
        let retire = |nonce: u64, beneficiary: &str| {
            signed(
                &holder,
                nonce,
                TxKind::Retire(Retire {
                    ticket: ticket.clone(),
                    quantity: Amount::from_kg(100_000),
                    beneficiary: beneficiary.into(),
                    purpose: Purpose::Event,
                    jurisdiction: "CN".into(),
                    note: String::new(),
                }),
            )
        };
        let before =
            accepted(&net.submit_committed(0, &retire(1, "Fuzhou Marathon 2025")).await).retirement.expect("id");

        // The set change: the one validator, with power 2 and another name, approved by itself.
        let node_key = NodeKey::load(&net.home(0).join("node_key.json")).expect("node key");
        let mut new_set =
            vec![Validator { public_key: node_key.public_key(), power: 2, name: "Fujian exchange".into() }];
        new_set.sort_by_key(Validator::address);
        let message = bct_ledger::tx::valset_approval_message("bct-test", 1, &new_set);
        let approval = Approval {
            public_key: node_key.public_key(),
            signature: ed25519_dalek::Signer::sign(node_key.signing_key(), &message).to_bytes(),
        };
        let change = TxKind::UpdateValidators(UpdateValidators { validators: new_set, approvals: vec![approval] });
        let changed = net.submit_committed(0, &signed(&authority, 6, change)).await;
        assert!(matches!(
            changed.result.as_ref().and_then(|r| r.outcome.clone()),
            Some(pb::tx_result::Outcome::Accepted(_))
        ));
        let after = accepted(&net.submit_committed(0, &retire(2, "Xiamen Airlines")).await).retirement.expect("id");

        let mut q = net.query(0).await;
        for (id, changes) in [(after, 1usize), (before, 0)] {
            let resp = q
                .get_retirement_certificate(pb::GetRetirementCertificateRequest { retirement_id: id })
                .await
                .expect("certificate")
                .into_inner();
            assert_eq!(resp.certificate.as_ref().map(|c| c.validator_set_history.len()), Some(changes));
            let file = bct_proto::certificate::CertificateFile::from_certificate_bytes(&resp.certificate_bytes)
                .expect("file")
                .to_json();
            let v = bct_proto::certificate::verify_file(file.as_bytes(), &genesis)
                .unwrap_or_else(|e| panic!("retirement {id}: {e}"));
            assert_eq!(v.set_changes, changes);
            if changes == 1 {
                assert_eq!((v.signed_power, v.total_power), (2, 2), "signed by the new set");
            }
        }
    });
}
