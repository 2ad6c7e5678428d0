//! Bad input and permissions (issue 6), through the real gRPC API of real `bct-node` processes:
//!
//! - `hostile_inputs_refused_state_unchanged`: a table of hostile submissions (malformed and
//!   oversized messages, forged or misplaced signatures, wrong chain, replays, stale and future
//!   nonces, unknown, suspended and frozen accounts, every role violation, zero, "negative" and
//!   overflowing amounts, frozen, pledged, retired and cancelled lots, overlapping issuance), each
//!   with the gRPC code and message it must get and a check that the state did not move; the
//!   table is printed. A transaction the mempool admits (a nonce ahead) and the ledger rejects
//!   at execution is followed to its committed rejection.
//! - `invalid_flood_does_not_starve_valid_clients`: one client floods a node with invalid
//!   transactions over several connections while other clients commit valid ones there.
//! - `outsider_cannot_join_or_influence`: a node whose key is neither in genesis nor in any
//!   peer list cannot join, sync, sign blocks, or get its own transactions or approvals in.
//!
//! Nothing asserts on time; deadlines only stop hangs. The numbers are printed for
//! docs/RELIABILITY.md.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bct_ledger::crypto::tx_signing_message;
use bct_ledger::tx::{
    AdmitAccount, Approval, Attest, Cancel, Freeze, FreezeTarget, Issue, Pledge, RegisterProject, Retire, Seize,
    SuspendAccount, Transfer, UpdateAccount, UpdateValidators,
};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role, Validator};
use bct_ledger::{Address, Amount, Hash, SignedTx, TxBody, TxId, TxKind};
use bct_node::keys::NodeKey;
use bct_proto::pb;
use bct_proto::pb::query_client::QueryClient;
use bct_proto::pb::transactions_client::TransactionsClient;
use bct_tests::harness::{serially, TestNet, WAIT};
use ed25519_dalek::Signer as _;
use prost::bytes::{Buf as _, BufMut as _};
use prost::Message as _;
use tonic::transport::Channel;
use tonic::Code;

/// The chain id of [`TestNet`] networks.
const CHAIN: &str = "bct-test";
const PROJECT: &str = "FJ-LJ-KELP-001";
/// The node's default `grpc.message_bytes_max`.
const GRPC_MESSAGE_BYTES_MAX: usize = 8 << 20;

// ---- transactions ------------------------------------------------------------------------------

fn body(key: &NodeKey, chain: &str, nonce: u64, expiry_height: u64, kind: TxKind) -> TxBody {
    TxBody { chain_id: chain.into(), signer: key.address(), nonce, expiry_height, kind }
}

fn signed(key: &NodeKey, nonce: u64, kind: TxKind) -> SignedTx {
    bct_proto::sign(key.signing_key(), &body(key, CHAIN, nonce, 0, kind))
}

/// `body` bytes signed as they are by `key` (for bodies `bct_proto::sign` would not make).
fn sign_bytes(key: &NodeKey, body: Vec<u8>) -> pb::SignedTx {
    let signature = key.signing_key().sign(&tx_signing_message(&body)).to_bytes().to_vec();
    pb::SignedTx { body, signer_public_key: key.public_key().to_vec(), signature }
}

fn pb_body(body: &TxBody) -> pb::TxBody {
    pb::TxBody::from(body)
}

fn date(v: u32) -> Date {
    Date::from_yyyymmdd(v).expect("date")
}

fn period(start: u32, end: u32) -> Period {
    Period { start: date(start), end: date(end) }
}

fn year(y: u32) -> Period {
    period(y * 10_000 + 101, y * 10_000 + 1231)
}

fn kg(v: u64) -> Amount {
    Amount::from_kg(v)
}

fn methodology() -> Methodology {
    Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() }
}

fn admit(who: &NodeKey, role: Role, name: &str) -> TxKind {
    TxKind::AdmitAccount(AdmitAccount { address: who.address(), role, name: name.into(), jurisdiction: "CN-FJ".into() })
}

fn attest(p: Period, report: Hash, quantity: u64) -> TxKind {
    TxKind::Attest(Attest {
        project: PROJECT.into(),
        period: p,
        quantity: kg(quantity),
        methodology: methodology(),
        report_hash: report,
        statement: "verified on site".into(),
    })
}

fn issue(p: Period, report: Hash, quantity: u64, recipient: Option<Address>) -> TxKind {
    TxKind::Issue(Issue { project: PROJECT.into(), period: p, report_hash: report, quantity: kg(quantity), recipient })
}

fn transfer(ticket: &str, to: Address, quantity: u64) -> TxKind {
    TxKind::Transfer(Transfer { ticket: ticket.into(), to, quantity: kg(quantity), trade: None })
}

fn retire(ticket: &str, quantity: u64) -> TxKind {
    TxKind::Retire(Retire {
        ticket: ticket.into(),
        quantity: kg(quantity),
        beneficiary: "Fuzhou Marathon 2025".into(),
        purpose: Purpose::Event,
        jurisdiction: "CN".into(),
        note: String::new(),
    })
}

fn pledge(ticket: &str, pledgee: Address, quantity: u64) -> TxKind {
    TxKind::Pledge(Pledge { ticket: ticket.into(), quantity: kg(quantity), pledgee })
}

fn cancel(ticket: &str, holder: Address, quantity: u64) -> TxKind {
    TxKind::Cancel(Cancel { ticket: ticket.into(), holder, quantity: kg(quantity), reason: "reversal".into() })
}

fn freeze(target: FreezeTarget) -> TxKind {
    TxKind::Freeze(Freeze { target, reason: "court order 2025-17".into() })
}

fn report(name: &str) -> Hash {
    Hash::of(name.as_bytes())
}

fn request(tx: pb::SignedTx) -> pb::SubmitRequest {
    pb::SubmitRequest { tx: Some(tx), wait_for_commit: false, timeout_ms: 0 }
}

fn request_of(tx: &SignedTx) -> pb::SubmitRequest {
    request(bct_proto::signed_tx_to_pb(tx))
}

// ---- a raw gRPC call: any bytes as the request message ----------------------------------------

/// A codec that sends the given bytes as the message and returns the answer's bytes.
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut v = vec![0; src.remaining()];
        src.copy_to_slice(&mut v);
        Ok(Some(v))
    }
}

/// `Transactions/Submit` with `bytes` as the request message, exactly.
async fn raw_submit(channel: Channel, bytes: Vec<u8>) -> Result<pb::SubmitResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/bct.v1.Transactions/Submit");
    let answer = grpc.unary(tonic::Request::new(bytes), path, RawCodec).await?.into_inner();
    pb::SubmitResponse::decode(answer.as_slice()).map_err(|e| tonic::Status::data_loss(e.to_string()))
}

// ---- the API of a running network --------------------------------------------------------------

/// One gRPC channel per node.
struct Api {
    channels: Vec<Channel>,
}

/// What the state looks like from one node, without the height: state root, supply totals, and
/// the next nonce of every account of interest (`None`: not admitted).
#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    state_root: String,
    supply: Option<pb::Totals>,
    nonces: Vec<Option<u64>>,
}

impl Api {
    async fn connect(net: &TestNet) -> Api {
        let mut channels = Vec::new();
        for i in 0..net.len() {
            let url = net.node(i).url();
            let deadline = Instant::now() + WAIT;
            let ch = loop {
                match Channel::from_shared(url.clone()).expect("url").connect().await {
                    Ok(ch) => break ch,
                    Err(e) => assert!(Instant::now() < deadline, "node {i} never opened its gRPC port: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            channels.push(ch);
        }
        Api { channels }
    }

    fn transactions(&self, i: usize) -> TransactionsClient<Channel> {
        TransactionsClient::new(self.channels[i].clone()).max_encoding_message_size(64 << 20)
    }

    fn query(&self, i: usize) -> QueryClient<Channel> {
        QueryClient::new(self.channels[i].clone())
    }

    async fn status(&self, i: usize) -> pb::GetNetworkStatusResponse {
        self.query(i).get_network_status(pb::GetNetworkStatusRequest {}).await.expect("status").into_inner()
    }

    async fn wait_height(&self, i: usize, height: u64) -> u64 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(s) = self.query(i).get_network_status(pb::GetNetworkStatusRequest {}).await {
                if s.get_ref().height >= height {
                    return s.into_inner().height;
                }
            }
            assert!(Instant::now() < deadline, "node {i} did not reach height {height} in {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn submit(&self, i: usize, req: pb::SubmitRequest) -> Result<pb::SubmitResponse, tonic::Status> {
        self.transactions(i).submit(req).await.map(tonic::Response::into_inner)
    }

    /// Waits for `tx` to be committed (resubmitting is idempotent) and returns where.
    async fn wait_committed(&self, i: usize, tx: &SignedTx) -> pb::Committed {
        let deadline = Instant::now() + WAIT;
        loop {
            let req = pb::SubmitRequest {
                tx: Some(bct_proto::signed_tx_to_pb(tx)),
                wait_for_commit: true,
                timeout_ms: 20_000,
            };
            let r = self.submit(i, req).await.unwrap_or_else(|e| panic!("transaction {} refused: {e:?}", tx.id()));
            if r.status == pb::TxStatus::Committed as i32 {
                return r.committed.expect("committed");
            }
            assert!(Instant::now() < deadline, "transaction {} not committed within {WAIT:?}", tx.id());
        }
    }

    /// Submits `txs` to node `i` all at once (in order), then waits until each is committed;
    /// each must be accepted.
    async fn commit_all(&self, i: usize, txs: &[SignedTx]) -> Vec<pb::Committed> {
        for tx in txs {
            let r = self.submit(i, request_of(tx)).await.unwrap_or_else(|e| panic!("{:?} refused: {e:?}", tx.body()));
            assert_ne!(r.status, pb::TxStatus::Unknown as i32);
        }
        let mut out = Vec::new();
        for tx in txs {
            let c = self.wait_committed(i, tx).await;
            assert!(
                matches!(c.result.as_ref().and_then(|r| r.outcome.as_ref()), Some(pb::tx_result::Outcome::Accepted(_))),
                "{:?} rejected: {c:?}",
                tx.body().kind
            );
            out.push(c);
        }
        // Every node has applied them before the next step, whichever node it talks to.
        let top = out.iter().map(|c| c.height).max().unwrap_or(0);
        for n in 0..self.channels.len() {
            self.wait_height(n, top).await;
        }
        out
    }

    /// Waits until node `i` says `id` is committed, accepted or rejected (a rejected
    /// transaction is not answered as committed by `Submit`, which admits it again).
    async fn wait_tx_committed(&self, i: usize, id: &TxId) -> pb::Committed {
        let deadline = Instant::now() + WAIT;
        loop {
            let r = self.transactions(i).get_tx_status(pb::GetTxStatusRequest { tx_id: id.0.to_vec() }).await;
            let r = r.expect("tx status").into_inner();
            if r.status == pb::TxStatus::Committed as i32 {
                return r.committed.expect("committed");
            }
            assert!(Instant::now() < deadline, "transaction {id} not committed within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn next_nonce(&self, i: usize, a: &Address) -> Option<u64> {
        match self.query(i).get_account(pb::GetAccountRequest { address: a.0.to_vec() }).await {
            Ok(r) => Some(r.into_inner().next_nonce),
            Err(s) if s.code() == Code::NotFound => None,
            Err(s) => panic!("account {a}: {s:?}"),
        }
    }

    async fn supply(&self, i: usize) -> Option<pb::Totals> {
        self.query(i).get_supply(pb::GetSupplyRequest { height: None }).await.expect("supply").into_inner().totals
    }

    async fn snapshot(&self, i: usize, accounts: &[Address]) -> Snapshot {
        let nonces = async {
            let mut nonces = Vec::new();
            for a in accounts {
                nonces.push(self.next_nonce(i, a).await);
            }
            nonces
        };
        let (status, supply, nonces) = tokio::join!(self.status(i), self.supply(i), nonces);
        Snapshot { state_root: hex::encode(status.state_root), supply, nonces }
    }

    async fn tx_status(&self, i: usize, id: &TxId) -> i32 {
        let r = self.transactions(i).get_tx_status(pb::GetTxStatusRequest { tx_id: id.0.to_vec() }).await;
        r.expect("tx status").into_inner().status
    }

    async fn active_kg(&self, i: usize, holder: &Address, ticket: &str) -> u64 {
        let lots = self
            .query(i)
            .list_lots(pb::ListLotsRequest {
                holder: holder.0.to_vec(),
                ticket: Some(ticket.into()),
                limit: 0,
                start_after: None,
            })
            .await
            .expect("lots")
            .into_inner()
            .lots;
        lots.iter()
            .filter(|l| {
                matches!(l.state.as_ref().and_then(|s| s.state.as_ref()), Some(pb::lot_state::State::Active(_)))
            })
            .map(|l| l.last - l.first + 1)
            .sum()
    }
}

fn rejection_of(c: &pb::Committed) -> Option<pb::Rejection> {
    match c.result.as_ref().and_then(|r| r.outcome.clone()) {
        Some(pb::tx_result::Outcome::Rejected(r)) => Some(r),
        _ => None,
    }
}

fn accepted_ticket(c: &pb::Committed) -> String {
    match c.result.as_ref().and_then(|r| r.outcome.clone()) {
        Some(pb::tx_result::Outcome::Accepted(a)) => a.ticket.expect("a ticket id"),
        other => panic!("not accepted: {other:?}"),
    }
}

// ---- 1. the table --------------------------------------------------------------------------------

/// The participants of the hostile-input scenario.
struct Actors {
    authority: NodeKey,
    exchange: NodeKey,
    v1: NodeKey,
    v2: NodeKey,
    /// An admitted verifier, suspended: no longer accredited.
    suspended_verifier: NodeKey,
    /// A holder that pretends to be a verifier.
    holder_verifier: NodeKey,
    /// The project owner; receives the 2024 ticket.
    owner: NodeKey,
    other: NodeKey,
    /// Holds only pledged units (pledged to the owner).
    pledgor: NodeKey,
    /// Holds only retired units.
    retiree: NodeKey,
    /// Holds only cancelled units.
    cancelled: NodeKey,
    /// Holds only frozen units (the 2023 ticket, frozen).
    frozen_lots: NodeKey,
    /// A frozen account.
    frozen_account: NodeKey,
}

impl Actors {
    fn new(authority: NodeKey) -> Actors {
        let k = NodeKey::generate;
        Actors {
            authority,
            exchange: k(),
            v1: k(),
            v2: k(),
            suspended_verifier: k(),
            holder_verifier: k(),
            owner: k(),
            other: k(),
            pledgor: k(),
            retiree: k(),
            cancelled: k(),
            frozen_lots: k(),
            frozen_account: k(),
        }
    }

    fn addresses(&self) -> Vec<Address> {
        [
            &self.authority,
            &self.exchange,
            &self.v1,
            &self.v2,
            &self.suspended_verifier,
            &self.holder_verifier,
            &self.owner,
            &self.other,
            &self.pledgor,
            &self.retiree,
            &self.cancelled,
            &self.frozen_lots,
            &self.frozen_account,
        ]
        .iter()
        .map(|k| k.address())
        .collect()
    }
}

/// The tickets the setup issued.
struct Tickets {
    /// 2023, 500 t, to `frozen_lots`, then frozen.
    frozen: String,
    /// 2024, 1000 t, to the owner; 100 t each moved to the pledgor, the retiree and `cancelled`.
    main: String,
}

/// Admits everyone, registers the project, has two verifiers attest three reports (one of
/// them for u64::MAX kg), issues two tickets and puts lots into every state.
async fn setup(api: &Api, a: &Actors) -> Tickets {
    let auth = &a.authority;
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    let mut txs = Vec::new();
    for (who, role, name) in [
        (&a.exchange, Role::Exchange, "Haixia marine exchange"),
        (&a.v1, Role::Verifier, "Third Institute of Oceanography"),
        (&a.v2, Role::Verifier, "Fujian certification centre"),
        (&a.suspended_verifier, Role::Verifier, "Lapsed verifier"),
        (&a.holder_verifier, Role::Holder, "Would-be verifier"),
        (&a.owner, Role::Holder, "Lianjiang kelp cooperative"),
        (&a.other, Role::Holder, "Xiamen Airlines"),
        (&a.pledgor, Role::Holder, "Pledgor"),
        (&a.retiree, Role::Holder, "Retiree"),
        (&a.cancelled, Role::Holder, "Cancelled"),
        (&a.frozen_lots, Role::Holder, "Frozen lots"),
        (&a.frozen_account, Role::Holder, "Frozen account"),
    ] {
        txs.push(signed(auth, next(), admit(who, role, name)));
    }
    txs.push(signed(
        auth,
        next(),
        TxKind::RegisterProject(RegisterProject {
            id: PROJECT.into(),
            name: "Lianjiang kelp".into(),
            owner: a.owner.address(),
            ecosystem: Ecosystem::SeaweedFarm,
            location: Location { region: "CN-FJ-350122".into(), coordinates: None },
            area_centiha: 17_180,
            methodology: methodology(),
        }),
    ));
    txs.push(signed(
        auth,
        next(),
        TxKind::SuspendAccount(SuspendAccount {
            address: a.suspended_verifier.address(),
            reason: "accreditation lapsed".into(),
        }),
    ));
    txs.push(signed(auth, next(), freeze(FreezeTarget::Account(a.frozen_account.address()))));
    api.commit_all(0, &txs).await;

    // Two accredited verifiers attest three reports; the third for u64::MAX kg.
    let mut txs = Vec::new();
    for v in [&a.v1, &a.v2] {
        txs.push(signed(v, 1, attest(year(2023), report("report 2023"), 500_000)));
        txs.push(signed(v, 2, attest(year(2024), report("report 2024"), 1_000_000)));
        txs.push(signed(v, 3, attest(year(2025), report("report 2025"), u64::MAX)));
    }
    api.commit_all(1, &txs).await;

    let frozen = format!("{PROJECT}-20230101-20231231-1");
    let txs = [
        signed(auth, next(), issue(year(2023), report("report 2023"), 500_000, Some(a.frozen_lots.address()))),
        signed(auth, next(), issue(year(2024), report("report 2024"), 1_000_000, None)),
        signed(auth, next(), freeze(FreezeTarget::Ticket(frozen.clone()))),
    ];
    let c = api.commit_all(2, &txs).await;
    assert_eq!(accepted_ticket(&c[0]), frozen);
    let main = accepted_ticket(&c[1]);

    let o = &a.owner;
    let txs = [
        signed(o, 1, transfer(&main, a.pledgor.address(), 100_000)),
        signed(o, 2, transfer(&main, a.retiree.address(), 100_000)),
        signed(o, 3, transfer(&main, a.cancelled.address(), 100_000)),
    ];
    api.commit_all(3, &txs).await;
    let txs = [
        signed(&a.pledgor, 1, pledge(&main, o.address(), 100_000)),
        signed(&a.retiree, 1, retire(&main, 100_000)),
        signed(auth, next(), cancel(&main, a.cancelled.address(), 100_000)),
    ];
    api.commit_all(0, &txs).await;

    let t = api.supply(0).await.expect("totals");
    assert_eq!(
        (t.issued_kg, t.active_kg, t.frozen_kg, t.pledged_kg, t.retired_kg, t.cancelled_kg),
        (1_500_000, 700_000, 500_000, 100_000, 100_000, 100_000),
        "lots in every state"
    );
    Tickets { frozen, main }
}

/// What a case must get.
enum Expect {
    /// A gRPC error with this code and message.
    Status(Code, String),
    /// `FAILED_PRECONDITION` from the ledger's dry run: this rejection code (in the details) and message.
    Ledger(u32, String),
    /// Answered OK with this transaction status.
    Ok(pb::TxStatus),
}

enum Req {
    /// Bytes sent as the `SubmitRequest` message.
    Raw(Vec<u8>),
    /// A request.
    Submit(Box<pb::SubmitRequest>),
}

struct Case {
    name: String,
    req: Req,
    expect: Expect,
    /// The transaction, if it has an id: refused ones must be unknown to every node afterwards.
    id: Option<TxId>,
}

/// What a case got.
struct Answer {
    code: Code,
    message: String,
    rejection: Option<u32>,
    status: Option<pb::TxStatus>,
}

impl Answer {
    fn of(r: Result<pb::SubmitResponse, tonic::Status>) -> Answer {
        match r {
            Ok(r) => {
                let status = pb::TxStatus::try_from(r.status).unwrap_or(pb::TxStatus::Unspecified);
                let message = match &r.committed {
                    Some(c) => format!("{} (height {})", status.as_str_name(), c.height),
                    None => status.as_str_name().to_string(),
                };
                Answer { code: Code::Ok, message, rejection: None, status: Some(status) }
            }
            Err(s) => {
                // Audit item 7: details, when present, are the standard google.rpc.Status (what
                // every gRPC library reads), with the same code and message as the status.
                if !s.details().is_empty() {
                    let rich = <tonic_types::Status as prost::Message>::decode(s.details())
                        .expect("status details are a google.rpc.Status");
                    assert_eq!((rich.code, rich.message.as_str()), (s.code() as i32, s.message()), "{s:?}");
                    assert!(bct_proto::status::details(&s).is_some_and(|d| !d.reason.is_empty()), "{s:?}");
                }
                let rejection = bct_proto::status::rejection(&s).map(|r| r.code);
                Answer { code: s.code(), message: s.message().to_string(), rejection, status: None }
            }
        }
    }

    /// Why it is not what `e` says, if it is not.
    fn mismatch(&self, e: &Expect) -> Option<String> {
        let ok = match e {
            Expect::Status(code, msg) => self.code == *code && self.message.contains(msg.as_str()),
            Expect::Ledger(code, msg) => {
                self.code == Code::FailedPrecondition
                    && self.rejection == Some(*code)
                    && self.message.contains(msg.as_str())
            }
            Expect::Ok(status) => self.code == Code::Ok && self.status == Some(*status),
        };
        // Audit item 6: no answer echoes long input (a default client refuses big messages).
        let ok = ok && self.message.len() <= 1024;
        (!ok).then(|| {
            let wanted = match e {
                Expect::Status(code, msg) => format!("{code:?} containing {msg:?}"),
                Expect::Ledger(code, msg) => format!("FailedPrecondition, rejection {code}, containing {msg:?}"),
                Expect::Ok(status) => format!("OK {}", status.as_str_name()),
            };
            format!("expected {wanted}; got {:?} rejection {:?}: {}", self.code, self.rejection, self.message)
        })
    }
}

fn code_name(c: Code) -> String {
    // `Code::FailedPrecondition` -> `FAILED_PRECONDITION`.
    let mut out = String::new();
    for (i, ch) in format!("{c:?}").chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

#[test]
fn hostile_inputs_refused_state_unchanged() {
    serially(async {
        let mut net = TestNet::new(4, 0);
        net.start_all().expect("start");
        for i in 0..4 {
            net.wait_height(i, 1, WAIT).await.expect("height 1");
        }
        let api = Api::connect(&net).await;
        let a = Actors::new(net.authority().expect("authority key"));
        let t0 = Instant::now();
        let t = setup(&api, &a).await;
        let t1 = Instant::now();
        println!("setup: {:.1} s", (t1 - t0).as_secs_f64());

        // Every node has applied the setup before the table starts.
        let top = api.status(0).await.height;
        for i in 0..4 {
            api.wait_height(i, top).await;
        }
        let accounts = a.addresses();
        let start = api.snapshot(0, &accounts).await;
        let first_height = api.status(0).await.height;
        for i in 1..4 {
            assert_eq!(api.snapshot(i, &accounts).await, start, "node {i} differs after the setup");
        }

        // ---- the cases ----
        let auth = &a.authority;
        let na = api.next_nonce(0, &auth.address()).await.expect("authority");
        let no = api.next_nonce(0, &a.owner.address()).await.expect("owner");
        let ne = api.next_nonce(0, &a.exchange.address()).await.expect("exchange");
        let nv = api.next_nonce(0, &a.v1.address()).await.expect("v1");
        let owner = a.owner.address();
        let main = t.main.as_str();
        let frozen = t.frozen.as_str();
        let stranger = NodeKey::generate();
        let good = signed(auth, na, admit(&NodeKey::generate(), Role::Holder, "never admitted"));
        let mut cases: Vec<Case> = Vec::new();
        let mut add = |name: &str, req: Req, expect: Expect, id: Option<TxId>| {
            cases.push(Case { name: name.into(), req, expect, id });
        };
        let tx_case = |tx: &SignedTx| (Req::Submit(Box::new(request_of(tx))), Some(tx.id()));
        let status = |c: Code, m: &str| Expect::Status(c, m.to_string());
        let ledger = |c: u32, m: String| Expect::Ledger(c, m);

        // Malformed and oversized messages.
        add(
            "garbage bytes as the request",
            Req::Raw(b"\xff\xfe\xfd\xfc\x00\x01 this is not protobuf \xff\xff\xff".to_vec()),
            status(Code::InvalidArgument, "not a valid protobuf encoding"),
            None,
        );
        let whole = request_of(&good).encode_to_vec();
        add(
            "truncated request (half of a valid one)",
            Req::Raw(whole[..whole.len() / 2].to_vec()),
            status(Code::InvalidArgument, "not a valid protobuf encoding"),
            None,
        );
        add("empty request (no tx)", Req::Raw(Vec::new()), status(Code::InvalidArgument, "tx: missing"), None);
        let mut garbage = bct_proto::signed_tx_to_pb(&good);
        garbage.body = b"\x0a\xff\xff\xff\xff\x0fgarbage".to_vec();
        add(
            "garbage tx body",
            Req::Submit(Box::new(request(garbage))),
            status(Code::InvalidArgument, "tx body is not a valid protobuf encoding"),
            None,
        );
        let mut truncated = bct_proto::signed_tx_to_pb(&good);
        truncated.body.truncate(truncated.body.len() - 5);
        let truncated = sign_bytes(auth, truncated.body);
        add(
            "truncated tx body (re-signed)",
            Req::Submit(Box::new(request(truncated))),
            status(Code::InvalidArgument, "tx body is not a valid protobuf encoding"),
            None,
        );
        let mut unknown_field = good.body_bytes().to_vec();
        unknown_field.extend_from_slice(&[0xf8, 0x06, 0x01]); // field 111, varint 1
        add(
            "tx body with an unknown field (re-signed)",
            Req::Submit(Box::new(request(sign_bytes(auth, unknown_field)))),
            status(Code::InvalidArgument, "tx body is not canonically encoded"),
            None,
        );
        let mut no_kind = pb_body(good.body());
        no_kind.kind = None;
        add(
            "tx body without a transaction kind",
            Req::Submit(Box::new(request(sign_bytes(auth, no_kind.encode_to_vec())))),
            status(Code::InvalidArgument, "tx body: no transaction kind set"),
            None,
        );
        let mut short_key = bct_proto::signed_tx_to_pb(&good);
        short_key.signer_public_key.pop();
        add(
            "31-byte public key",
            Req::Submit(Box::new(request(short_key))),
            status(Code::InvalidArgument, "signed_tx.signer_public_key: expected"),
            None,
        );
        let mut short_sig = bct_proto::signed_tx_to_pb(&good);
        short_sig.signature.pop();
        add(
            "63-byte signature",
            Req::Submit(Box::new(request(short_sig))),
            status(Code::InvalidArgument, "signed_tx.signature: expected"),
            None,
        );
        let mut short_to = pb_body(&body(auth, CHAIN, na, 0, transfer(main, owner, 1)));
        if let Some(pb::tx_body::Kind::Transfer(t)) = short_to.kind.as_mut() {
            t.to = vec![1, 2, 3];
        }
        add(
            "3-byte recipient address",
            Req::Submit(Box::new(request(sign_bytes(auth, short_to.encode_to_vec())))),
            status(Code::InvalidArgument, "transfer.to: expected a 20-byte address, got 3 bytes"),
            None,
        );
        let mut no_role = pb_body(good.body());
        if let Some(pb::tx_body::Kind::AdmitAccount(x)) = no_role.kind.as_mut() {
            x.role = 0;
        }
        add(
            "role left UNSPECIFIED",
            Req::Submit(Box::new(request(sign_bytes(auth, no_role.encode_to_vec())))),
            status(Code::InvalidArgument, "role: unspecified"),
            None,
        );
        let mut huge_note = retire(main, 1);
        if let TxKind::Retire(r) = &mut huge_note {
            r.note = "x".repeat(20_000);
        }
        let huge = signed(&a.owner, no, huge_note);
        add(
            "20 KB tx body (over the 16 KiB transaction limit)",
            Req::Submit(Box::new(request_of(&huge))),
            status(Code::InvalidArgument, "tx body is 20"),
            None,
        );
        let mut over = bct_proto::signed_tx_to_pb(&good);
        over.body = vec![0x0a; GRPC_MESSAGE_BYTES_MAX + 1024];
        add(
            "8 MiB + 1 KiB request (over grpc.message_bytes_max)",
            Req::Submit(Box::new(request(over))),
            status(Code::OutOfRange, "decoded message length too large"),
            None,
        );

        // Signatures.
        let mut flipped = bct_proto::signed_tx_to_pb(&good);
        flipped.signature[10] ^= 0x01;
        add(
            "bad signature (one bit flipped)",
            Req::Submit(Box::new(request(flipped))),
            status(Code::InvalidArgument, "the signature does not verify"),
            Some(good.id()),
        );
        let other_body = signed(auth, na, admit(&NodeKey::generate(), Role::Holder, "other"));
        let mut swapped = bct_proto::signed_tx_to_pb(&other_body);
        swapped.signature = good.signature().to_vec();
        add(
            "valid signature over other bytes",
            Req::Submit(Box::new(request(swapped))),
            status(Code::InvalidArgument, "the signature does not verify"),
            Some(other_body.id()),
        );
        // The identity point with R = identity, S = 0 "verifies" any message under lax rules.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut id_sig = [0u8; 64];
        id_sig[0] = 1;
        let id_body = TxBody {
            chain_id: CHAIN.into(),
            signer: Address::from_public_key(&identity),
            nonce: 1,
            expiry_height: 0,
            kind: admit(&stranger, Role::Authority, "identity key"),
        };
        let id_tx = pb::SignedTx {
            body: bct_proto::encode_body(&id_body),
            signer_public_key: identity.to_vec(),
            signature: id_sig.to_vec(),
        };
        add(
            "small-order (identity) key with the trivial signature",
            Req::Submit(Box::new(request(id_tx))),
            status(Code::InvalidArgument, "the signature does not verify"),
            None,
        );
        let imp = bct_proto::sign(
            a.owner.signing_key(),
            &TxBody { signer: auth.address(), ..body(auth, CHAIN, na, 0, admit(&stranger, Role::Verifier, "x")) },
        );
        let (r, id) = tx_case(&imp);
        add(
            "owner signs a body naming the authority as signer",
            r,
            ledger(2, format!("is not the address of the signing key ({owner})")),
            id,
        );

        // Chain, replay, nonces, expiry.
        let wrong_chain =
            bct_proto::sign(auth.signing_key(), &body(auth, "bct-other", na, 0, good.body().kind.clone()));
        let (r, id) = tx_case(&wrong_chain);
        add("wrong chain id", r, ledger(3, "chain id \"bct-other\" is not this network's".into()), id);
        let replay = signed(auth, 1, admit(&a.exchange, Role::Exchange, "Haixia marine exchange"));
        add(
            "replay of a committed transaction (same bytes)",
            Req::Submit(Box::new(request_of(&replay))),
            Expect::Ok(pb::TxStatus::Committed),
            None,
        );
        let (r, id) = tx_case(&signed(auth, 1, admit(&stranger, Role::Holder, "stale")));
        add(
            "stale nonce (1)",
            r,
            ledger(4, format!("nonce 1 was already used; the next nonce of this account is {na}")),
            id,
        );
        let (r, id) = tx_case(&signed(auth, na + 16, admit(&stranger, Role::Holder, "far")));
        add(
            "nonce 16 ahead (over the mempool window)",
            r,
            status(Code::FailedPrecondition, &format!("nonce {} is more than 15 ahead", na + 16)),
            id,
        );
        let expired =
            bct_proto::sign(auth.signing_key(), &body(auth, CHAIN, na, 1, admit(&stranger, Role::Holder, "x")));
        let (r, id) = tx_case(&expired);
        add("expired (expiry_height 1)", r, ledger(6, "the transaction expired at height 1".into()), id);
        // Admitted: a nonce ahead waits for its predecessor (it is rejected at execution below).
        let parked = signed(&a.owner, no + 1, retire(main, 10_000_000));
        add(
            "nonce 1 ahead, retiring more than held (admitted)",
            Req::Submit(Box::new(request_of(&parked))),
            Expect::Ok(pb::TxStatus::Pending),
            None,
        );
        add(
            "the same again (idempotent)",
            Req::Submit(Box::new(request_of(&parked))),
            Expect::Ok(pb::TxStatus::Pending),
            None,
        );
        let (r, id) = tx_case(&signed(&a.owner, no + 1, retire(main, 1)));
        add(
            "another transaction with that nonce",
            r,
            status(Code::AlreadyExists, &format!("with nonce {} from {owner} is already waiting", no + 1)),
            id,
        );

        // Accounts.
        let (r, id) = tx_case(&signed(&stranger, 1, transfer(main, owner, 1)));
        add("unknown signer", r, ledger(10, format!("account {} is not admitted", stranger.address())), id);
        let sv = a.suspended_verifier.address();
        let (r, id) = tx_case(&signed(&a.suspended_verifier, 1, attest(year(2026), report("r26"), 1000)));
        add("suspended verifier attests (not accredited)", r, ledger(11, format!("account {sv} is suspended")), id);
        let fa = a.frozen_account.address();
        let (r, id) = tx_case(&signed(&a.frozen_account, 1, transfer(main, owner, 1)));
        add("frozen account transfers", r, ledger(12, format!("account {fa} is frozen")), id);
        let (r, id) = tx_case(&signed(&a.owner, no, transfer(main, stranger.address(), 1)));
        add("transfer to an unknown account", r, ledger(10, "is not admitted".into()), id);
        let (r, id) = tx_case(&signed(&a.owner, no, transfer(main, sv, 1)));
        add("transfer to a suspended account", r, ledger(11, format!("account {sv} is suspended")), id);

        // Roles.
        let role_cases: Vec<(&str, &NodeKey, u64, TxKind, &str)> = vec![
            (
                "holder issues",
                &a.owner,
                no,
                issue(year(2026), report("r26"), 1, None),
                "a holder account may not issue tickets",
            ),
            (
                "holder attests (unaccredited verifier)",
                &a.holder_verifier,
                1,
                attest(year(2026), report("r26"), 1000),
                "a holder account may not attest monitoring reports",
            ),
            (
                "exchange freezes an account",
                &a.exchange,
                ne,
                freeze(FreezeTarget::Account(owner)),
                "an exchange account may not freeze accounts or tickets",
            ),
            (
                "exchange freezes a ticket",
                &a.exchange,
                ne,
                freeze(FreezeTarget::Ticket(main.into())),
                "an exchange account may not freeze accounts or tickets",
            ),
            (
                "exchange admits a verifier",
                &a.exchange,
                ne,
                admit(&stranger, Role::Verifier, "x"),
                "an exchange account may not admit a verifier account",
            ),
            (
                "holder admits an account",
                &a.owner,
                no,
                admit(&stranger, Role::Holder, "x"),
                "a holder account may not admit accounts",
            ),
            (
                "verifier registers a project",
                &a.v1,
                nv,
                TxKind::RegisterProject(RegisterProject {
                    id: "FAKE-1".into(),
                    name: "Fake".into(),
                    owner,
                    ecosystem: Ecosystem::Mangrove,
                    location: Location { region: "CN".into(), coordinates: None },
                    area_centiha: 1,
                    methodology: methodology(),
                }),
                "a verifier account may not register projects",
            ),
            (
                "verifier issues",
                &a.v1,
                nv,
                issue(year(2026), report("r26"), 1, None),
                "a verifier account may not issue tickets",
            ),
            ("holder cancels units", &a.owner, no, cancel(main, owner, 1), "a holder account may not cancel units"),
            (
                "holder changes the validator set",
                &a.owner,
                no,
                TxKind::UpdateValidators(UpdateValidators { validators: Vec::new(), approvals: Vec::new() }),
                "a holder account may not change the validator set",
            ),
            (
                "verifier changes an account's role",
                &a.v1,
                nv,
                TxKind::UpdateAccount(UpdateAccount {
                    address: a.v1.address(),
                    name: None,
                    jurisdiction: None,
                    role: Some(Role::Authority),
                }),
                "a verifier account may not update accounts",
            ),
        ];
        for (name, key, nonce, kind, msg) in role_cases {
            let (r, id) = tx_case(&signed(key, nonce, kind));
            add(name, r, ledger(13, msg.into()), id);
        }
        let (r, id) = tx_case(&signed(
            &a.exchange,
            ne,
            TxKind::SuspendAccount(SuspendAccount { address: owner, reason: "x".into() }),
        ));
        add(
            "exchange suspends a holder it did not admit",
            r,
            ledger(14, "may only manage the holders it admitted".into()),
            id,
        );
        let mut new_set: Vec<Validator> = net.genesis().expect("genesis").validator_set();
        let intruder = NodeKey::generate();
        new_set.push(Validator { public_key: intruder.public_key(), power: 100, name: "intruder".into() });
        let forged = bct_ledger::tx::valset_approval_message(CHAIN, 1, &new_set);
        let approval =
            Approval { public_key: intruder.public_key(), signature: intruder.signing_key().sign(&forged).to_bytes() };
        let (r, id) = tx_case(&signed(
            auth,
            na,
            TxKind::UpdateValidators(UpdateValidators { validators: new_set, approvals: vec![approval] }),
        ));
        add(
            "validator set change approved by a non-validator",
            r,
            ledger(62, "approval 0 is not a valid signature by a current validator".into()),
            id,
        );

        // Amounts.
        let (r, id) = tx_case(&signed(&a.owner, no, transfer(main, a.other.address(), 0)));
        add("zero transfer", r, ledger(50, "the quantity must be more than zero".into()), id);
        let (r, id) = tx_case(&signed(auth, na, issue(year(2030), report("r30"), 0, None)));
        add("zero issue", r, ledger(50, "the quantity must be more than zero".into()), id);
        let (r, id) = tx_case(&signed(&a.owner, no, transfer(main, a.other.address(), u64::MAX)));
        add(
            "transfer of u64::MAX kg (-1 as int64)",
            r,
            ledger(
                54,
                "holds 700t active of ticket".to_string() + &format!(" {main}; 18446744073709551.615t requested"),
            ),
            id,
        );
        let (r, id) = tx_case(&signed(&a.owner, no, retire(main, 1 << 63)));
        add(
            "retire 2^63 kg (i64::MIN as int64)",
            r,
            ledger(54, format!("holds 700t active of ticket {main}; 9223372036854775.808t requested")),
            id,
        );
        let (r, id) = tx_case(&signed(auth, na, issue(year(2025), report("report 2025"), u64::MAX, None)));
        add(
            "issue u64::MAX kg (attested): serials overflow",
            r,
            ledger(51, "the quantity is too large: serial numbers or totals would overflow".into()),
            id,
        );
        let (r, id) = tx_case(&signed(&a.owner, no, retire(main, 700_001)));
        add("retire 1 kg more than held", r, ledger(54, "holds 700t active".into()), id);
        let (r, id) = tx_case(&signed(&a.owner, no, transfer("NO-SUCH-TICKET", a.other.address(), 1)));
        add("transfer of an unknown ticket", r, ledger(52, "ticket NO-SUCH-TICKET does not exist".into()), id);
        let (r, id) = tx_case(&signed(&a.owner, no, transfer(main, owner, 1)));
        add("transfer to oneself", r, ledger(55, "sender and recipient are the same account".into()), id);

        // Audit items 2 and 6: text that would spoof a printed record, and an echo of a long id.
        let mut spoof = retire(main, 1);
        if let TxKind::Retire(r) = &mut spoof {
            r.beneficiary = "Fuzhou Marathon 2025\nbeneficiary: someone else".into();
        }
        let (r, id) = tx_case(&signed(&a.owner, no, spoof));
        add(
            "beneficiary with a line break (a second printed line)",
            r,
            ledger(20, "invalid beneficiary: contains a control character".into()),
            id,
        );
        let (r, id) =
            tx_case(&signed(auth, na, admit(&NodeKey::generate(), Role::Holder, "Lianjiang \u{202E}gnaijnaiL")));
        add(
            "account name with a right-to-left override",
            r,
            ledger(20, "invalid name: contains a bidirectional control character, U+202E".into()),
            id,
        );
        let (r, id) = tx_case(&signed(&a.owner, no, transfer(&"T".repeat(10_000), a.exchange.address(), 1)));
        add(
            "transfer of a 10 KB ticket id (echoed as a short prefix)",
            r,
            ledger(52, "… (10000 bytes) does not exist".into()),
            id,
        );

        // Lots in every state.
        let holds =
            |who: &NodeKey, state: &str| format!("{} holds 0t {state} of ticket {main}; 100t requested", who.address());
        let lot_cases: Vec<(&str, &NodeKey, TxKind, u32, String)> = vec![
            (
                "transfer of frozen lots",
                &a.frozen_lots,
                transfer(frozen, owner, 1),
                53,
                format!("ticket {frozen} is frozen"),
            ),
            ("retire frozen lots", &a.frozen_lots, retire(frozen, 1), 53, format!("ticket {frozen} is frozen")),
            ("pledge frozen lots", &a.frozen_lots, pledge(frozen, owner, 1), 53, format!("ticket {frozen} is frozen")),
            ("transfer of pledged lots", &a.pledgor, transfer(main, owner, 100_000), 54, holds(&a.pledgor, "active")),
            ("retire pledged lots", &a.pledgor, retire(main, 100_000), 54, holds(&a.pledgor, "active")),
            ("transfer of retired lots", &a.retiree, transfer(main, owner, 100_000), 54, holds(&a.retiree, "active")),
            ("retire retired lots again", &a.retiree, retire(main, 100_000), 54, holds(&a.retiree, "active")),
            (
                "transfer of cancelled lots",
                &a.cancelled,
                transfer(main, owner, 100_000),
                54,
                holds(&a.cancelled, "active"),
            ),
            ("retire cancelled lots", &a.cancelled, retire(main, 100_000), 54, holds(&a.cancelled, "active")),
            (
                "seize pledged lots by a non-pledgee",
                &a.other,
                TxKind::Seize(Seize { ticket: main.into(), holder: a.pledgor.address(), quantity: kg(100_000) }),
                54,
                format!(
                    "{} holds 0t pledged to {} of ticket {main}; 100t requested",
                    a.pledgor.address(),
                    a.other.address()
                ),
            ),
        ];
        for (name, key, kind, code, msg) in lot_cases {
            let nonce = api.next_nonce(0, &key.address()).await.expect("admitted");
            let (r, id) = tx_case(&signed(key, nonce, kind));
            add(name, r, ledger(code, msg), id);
        }
        let (r, id) = tx_case(&signed(auth, na, cancel(main, a.retiree.address(), 100_000)));
        add("cancel retired lots", r, ledger(54, holds(&a.retiree, "active or frozen")), id);

        // Issuance.
        let (r, id) = tx_case(&signed(auth, na, issue(period(20240701, 20250630), report("report 2024"), 1, None)));
        add("issue a period overlapping an issued one", r, ledger(43, format!("overlaps ticket {main}")), id);
        let (r, id) = tx_case(&signed(auth, na, issue(year(2024), report("report 2024"), 1_000_000, None)));
        add("issue the same period again", r, ledger(43, format!("overlaps ticket {main}")), id);
        let (r, id) = tx_case(&signed(auth, na, issue(year(2026), report("r26"), 1, None)));
        add(
            "issue without attestations",
            r,
            ledger(41, "issuance needs 2 distinct accredited verifiers attesting this report, period and at least this quantity; found 0".into()),
            id,
        );
        let (r, id) = tx_case(&signed(&a.v1, nv, attest(year(2024), report("report 2024"), 1_000_000)));
        add("duplicate attestation", r, ledger(40, "this verifier already attested report".into()), id);

        // ---- run them: each answer, and the state unchanged on the node that answered ----
        let mut rows: Vec<(String, String, String, Option<String>)> = Vec::new();
        let mut refused_ids = Vec::new();
        for (k, case) in cases.into_iter().enumerate() {
            let node = k % 4;
            // The state root covers the whole state; the supply and the signer's nonce say it
            // in words. The full snapshot of every node is compared after the table.
            let signer: Vec<Address> = match &case.req {
                Req::Submit(r) => {
                    r.tx.clone()
                        .and_then(|t| bct_proto::signed_tx_from_pb(t).ok())
                        .map(|t| t.body().signer)
                        .into_iter()
                        .collect()
                }
                Req::Raw(_) => Vec::new(),
            };
            let before = api.snapshot(node, &signer).await;
            let result = match case.req {
                Req::Raw(bytes) => raw_submit(api.channels[node].clone(), bytes).await,
                Req::Submit(req) => api.submit(node, *req).await,
            };
            let answer = Answer::of(result);
            let after = api.snapshot(node, &signer).await;
            let mut problem = answer.mismatch(&case.expect);
            if before != after {
                problem = Some(format!("{} the state moved: {before:?} -> {after:?}", problem.unwrap_or_default()));
            }
            if answer.code != Code::Ok {
                refused_ids.extend(case.id);
            }
            let code = match answer.rejection {
                Some(r) => format!("{} (rejection {r})", code_name(answer.code)),
                None => code_name(answer.code),
            };
            rows.push((case.name, code, answer.message, problem));
        }

        println!("table: {:.1} s", t1.elapsed().as_secs_f64());
        // After a few more blocks: no node changed state, none knows a refused transaction, and
        // the only transaction waiting anywhere is the admitted one.
        let h = api.status(0).await.height;
        for i in 0..4 {
            api.wait_height(i, h + 3).await;
        }
        let mut late = Vec::new();
        for i in 0..4 {
            let s = api.snapshot(i, &accounts).await;
            if s != start {
                late.push(format!("node {i}: state moved during the table: {start:?} -> {s:?}"));
            }
            for id in &refused_ids {
                if api.tx_status(i, id).await != pb::TxStatus::Unknown as i32 {
                    late.push(format!("node {i} knows refused transaction {id}"));
                }
            }
        }
        let deadline = Instant::now() + WAIT;
        for i in 0..4 {
            loop {
                let pool = api.status(i).await.mempool_size;
                if pool == 1 {
                    break;
                }
                if Instant::now() > deadline {
                    late.push(format!("node {i}: {pool} transactions waiting, expected only the admitted one"));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if api.tx_status(i, &parked.id()).await != pb::TxStatus::Pending as i32 {
                late.push(format!("node {i}: the admitted transaction is not pending"));
            }
        }

        // The admitted one is rejected at execution once its predecessor commits: it uses its
        // nonce (an included transaction does, accepted or rejected, so its bytes can never be
        // replayed), and nothing else but the predecessor's transfer changed.
        let owner_active = api.active_kg(0, &owner, main).await;
        let other_active = api.active_kg(0, &a.other.address(), main).await;
        let supply = api.supply(0).await;
        let retirements = api.query(0).list_retirements(pb::ListRetirementsRequest::default()).await.expect("list");
        let predecessor = signed(&a.owner, no, transfer(main, a.other.address(), 1_000));
        api.commit_all(1, &[predecessor]).await;
        let c = api.wait_tx_committed(2, &parked.id()).await;
        let rejection = rejection_of(&c);
        let name = "…then its predecessor commits: rejected at execution".to_string();
        let mut problem = None;
        match &rejection {
            Some(r) if r.code == 54 && r.message.contains("holds 699t active") => {}
            other => problem = Some(format!("expected a committed rejection 54; got {other:?}")),
        }
        let unchanged = (
            api.next_nonce(2, &owner).await,
            api.active_kg(2, &owner, main).await,
            api.active_kg(2, &a.other.address(), main).await,
            api.supply(2).await,
            api.query(2).list_retirements(pb::ListRetirementsRequest::default()).await.expect("list").into_inner(),
        );
        let expected = (Some(no + 2), owner_active - 1_000, other_active + 1_000, supply, retirements.into_inner());
        if unchanged != expected {
            problem = Some(format!(
                "{} state after the rejection: {unchanged:?}, expected {expected:?}",
                problem.unwrap_or_default()
            ));
        }
        let (code, message) = match rejection {
            Some(r) => (format!("committed, rejected (rejection {})", r.code), r.message),
            None => ("committed".to_string(), format!("{c:?}")),
        };
        rows.push((name, code, message, problem));

        // The table, for docs/RELIABILITY.md.
        println!("\n| # | hostile input | gRPC code | message |\n|---|---|---|---|");
        for (k, (name, code, message, problem)) in rows.iter().enumerate() {
            let mark = if problem.is_some() { " **UNEXPECTED**" } else { "" };
            println!("| {} | {name}{mark} | {code} | {} |", k + 1, message.replace('|', "\\|"));
        }
        let failures: Vec<String> =
            rows.iter().filter_map(|(name, _, _, p)| p.as_ref().map(|p| format!("{name}: {p}"))).chain(late).collect();
        assert!(failures.is_empty(), "{} unexpected answers:\n{}", failures.len(), failures.join("\n"));
        println!(
            "{} answers as expected; the first {} left state root {} unchanged from height {first_height} to {} \
             (empty blocks do not move it)",
            rows.len(),
            rows.len() - 1,
            start.state_root,
            h + 3
        );
    });
}

// ---- 2. a flood of invalid transactions ---------------------------------------------------------

/// Connections the flooder opens to the node, and requests it keeps in flight on each: 4 × 128
/// is the node's per-connection limit on each and its global limit (512) in all.
const FLOOD_CONNECTIONS: usize = 4;
const FLOOD_IN_FLIGHT_PER_CONNECTION: usize = 128;
/// The flood goes on at least until this many invalid transactions were sent.
const FLOOD_MIN: u64 = 1_000;
/// Valid transactions per honest client (three clients).
const VALID_PER_CLIENT: u64 = 8;

/// Sets the flag when dropped (stops the flood when the test ends, also by a panic).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One invalid submission of the flood and the code it must get.
struct FloodItem {
    kind: &'static str,
    raw: Option<Vec<u8>>,
    req: Option<pb::SubmitRequest>,
    expect: Code,
}

/// What one flood worker saw: answers by (kind, code), and the unexpected ones.
type FloodTally = (BTreeMap<String, u64>, Vec<String>);

async fn connect(url: &str) -> Channel {
    let deadline = Instant::now() + WAIT;
    loop {
        match Channel::from_shared(url.to_string()).expect("url").connect().await {
            Ok(ch) => return ch,
            Err(e) => assert!(Instant::now() < deadline, "{url} does not answer: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The invalid transactions of the flood, each resent many times (the node checks it afresh
/// each time): bad signatures, stale nonces, nonces past the window, unknown signers, a role
/// violation, a wrong chain id, garbage bodies and garbage requests. `flooder` is an admitted
/// exchange whose nonce 1 is used.
fn flood_pool(flooder: &NodeKey, victim: &NodeKey) -> Vec<FloodItem> {
    let tx = |nonce: u64, k: usize| signed(flooder, nonce, admit(&NodeKey::generate(), Role::Holder, &format!("f{k}")));
    let item = |kind, req: pb::SubmitRequest, expect| FloodItem { kind, raw: None, req: Some(req), expect };
    let mut pool = Vec::new();
    for k in 0..24 {
        let mut bad = bct_proto::signed_tx_to_pb(&tx(2, k));
        bad.signature[k % 64] ^= 0x40;
        pool.push(item("bad signature", request(bad), Code::InvalidArgument));
        pool.push(item("stale nonce", request_of(&tx(1, k)), Code::FailedPrecondition));
        pool.push(item("nonce past the window", request_of(&tx(18 + k as u64, k)), Code::FailedPrecondition));
        let stranger = NodeKey::generate();
        let unknown = signed(&stranger, 1, admit(&NodeKey::generate(), Role::Holder, "x"));
        pool.push(item("unknown signer", request_of(&unknown), Code::FailedPrecondition));
        let role = signed(flooder, 2, freeze(FreezeTarget::Account(victim.address())));
        pool.push(item("role violation", request_of(&role), Code::FailedPrecondition));
        let chain = bct_proto::sign(
            flooder.signing_key(),
            &body(flooder, "bct-other", 2, 0, admit(&stranger, Role::Holder, "x")),
        );
        pool.push(item("wrong chain id", request_of(&chain), Code::FailedPrecondition));
        let mut junk = bct_proto::signed_tx_to_pb(&tx(2, k));
        junk.body = vec![0xff; 40 + k];
        pool.push(item("garbage body", request(junk), Code::InvalidArgument));
        let raw = vec![0xff - k as u8; 64 + k];
        pool.push(FloodItem { kind: "garbage request", raw: Some(raw), req: None, expect: Code::InvalidArgument });
    }
    pool
}

/// One flood worker: sends items of `pool` over `channel`, one at a time, until `stop`.
fn flood_worker(
    channel: Channel,
    pool: Arc<Vec<FloodItem>>,
    first: usize,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<FloodTally> {
    tokio::spawn(async move {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut wrong: Vec<String> = Vec::new();
        let mut k = first;
        while !stop.load(Ordering::Relaxed) {
            let item = &pool[k % pool.len()];
            k += 7;
            let r = match (&item.raw, &item.req) {
                (Some(bytes), _) => raw_submit(channel.clone(), bytes.clone()).await,
                (None, Some(req)) => {
                    TransactionsClient::new(channel.clone()).submit(req.clone()).await.map(tonic::Response::into_inner)
                }
                (None, None) => unreachable!("an item is raw or a request"),
            };
            sent.fetch_add(1, Ordering::Relaxed);
            let (code, message) = match &r {
                Ok(r) => (Code::Ok, format!("{r:?}")),
                Err(s) => (s.code(), s.message().to_string()),
            };
            *counts.entry(format!("{} -> {}", item.kind, code_name(code))).or_default() += 1;
            // The refusal it must get; a node shedding load may also refuse it otherwise, but
            // must never admit it.
            let shed =
                matches!(code, Code::ResourceExhausted | Code::Cancelled | Code::Unavailable | Code::DeadlineExceeded);
            if code != item.expect && !shed {
                wrong.push(format!("{}: {code:?} {message}", item.kind));
            }
            if code == Code::Unavailable {
                // The node is gone (the test is ending): do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        (counts, wrong)
    })
}

/// An honest transaction: admitted by the node at `channel` (sent without waiting for the
/// commit), then committed and accepted as seen by the nodes at `watch`. Returns the time to
/// admission and to commit.
fn honest_tx(channel: Channel, watch: Vec<Channel>, tx: SignedTx) -> tokio::task::JoinHandle<(Duration, Duration)> {
    tokio::spawn(async move {
        let started = Instant::now();
        let r = TransactionsClient::new(channel)
            .submit(request_of(&tx))
            .await
            .unwrap_or_else(|e| panic!("valid transaction {} refused: {e:?}", tx.id()))
            .into_inner();
        assert_eq!(r.status, pb::TxStatus::Pending as i32, "valid transaction {}: {r:?}", tx.id());
        let admitted = started.elapsed();
        loop {
            for ch in &watch {
                let s = TransactionsClient::new(ch.clone())
                    .get_tx_status(pb::GetTxStatusRequest { tx_id: tx.id().0.to_vec() })
                    .await
                    .expect("status")
                    .into_inner();
                if s.status == pb::TxStatus::Committed as i32 {
                    let c = s.committed.expect("committed");
                    assert!(
                        matches!(c.result.and_then(|r| r.outcome), Some(pb::tx_result::Outcome::Accepted(_))),
                        "valid transaction {} rejected",
                        tx.id()
                    );
                    return (admitted, started.elapsed());
                }
            }
            assert!(started.elapsed() < WAIT, "valid transaction {} not committed within {WAIT:?}", tx.id());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

fn summary(latencies: &[Duration]) -> String {
    let n = latencies.len().max(1) as u32;
    let mean = latencies.iter().sum::<Duration>() / n;
    let max = latencies.iter().max().copied().unwrap_or_default();
    format!("n={}, mean {:.2} s, max {:.2} s", latencies.len(), mean.as_secs_f64(), max.as_secs_f64())
}

#[test]
fn invalid_flood_does_not_starve_valid_clients() {
    serially(async {
        let mut net = TestNet::new(4, 0);
        net.start_all().expect("start");
        for i in 0..4 {
            net.wait_height(i, 1, WAIT).await.expect("height 1");
        }
        let api = Api::connect(&net).await;
        let auth = net.authority().expect("authority key");
        let (flooder, ex1, ex2) = (NodeKey::generate(), NodeKey::generate(), NodeKey::generate());
        api.commit_all(
            0,
            &[
                signed(&auth, 1, admit(&flooder, Role::Exchange, "Flooder")),
                signed(&auth, 2, admit(&ex1, Role::Exchange, "Exchange one")),
                signed(&auth, 3, admit(&ex2, Role::Exchange, "Exchange two")),
            ],
        )
        .await;
        // The flooder's nonce 1 is used, so its nonce-1 transactions are stale.
        api.commit_all(0, &[signed(&flooder, 1, admit(&NodeKey::generate(), Role::Holder, "customer"))]).await;

        // Honest latency before the flood, for comparison.
        let watch: Vec<Channel> = api.channels[1..].to_vec();
        let mut baseline = Vec::new();
        for nonce in 4..7 {
            let tx = signed(&auth, nonce, admit(&NodeKey::generate(), Role::Holder, "baseline"));
            baseline.push(honest_tx(api.channels[0].clone(), watch.clone(), tx).await.expect("baseline").1);
        }

        // The flood: several connections to node 0, each with as many requests in flight as
        // the node allows.
        let pool = Arc::new(flood_pool(&flooder, &ex1));
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_exit = StopOnDrop(stop.clone());
        let sent = Arc::new(AtomicU64::new(0));
        let mut flood = Vec::new();
        for c in 0..FLOOD_CONNECTIONS {
            let channel = connect(&net.node(0).url()).await;
            for w in 0..FLOOD_IN_FLIGHT_PER_CONNECTION {
                let first = c * FLOOD_IN_FLIGHT_PER_CONNECTION + w;
                flood.push(flood_worker(channel.clone(), pool.clone(), first, stop.clone(), sent.clone()));
            }
        }
        // How far node 0 falls behind the others while it is flooded.
        let monitor = {
            let (stop, channels) = (stop.clone(), api.channels.clone());
            tokio::spawn(async move {
                let mut worst = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut heights = Vec::new();
                    for ch in &channels {
                        let s = QueryClient::new(ch.clone()).get_network_status(pb::GetNetworkStatusRequest {}).await;
                        heights.push(s.map(|s| s.into_inner().height).unwrap_or(0));
                    }
                    let others = heights[1..].iter().copied().max().unwrap_or(0);
                    worst = worst.max(others.saturating_sub(heights[0]));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                worst
            })
        };
        let flood_started = Instant::now();
        while sent.load(Ordering::Relaxed) < 200 {
            assert!(flood_started.elapsed() < WAIT, "the flood does not get going");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Honest clients, each sending its transactions at once: the authority and an exchange
        // through the flooded node, another exchange through node 1.
        let sent_before = sent.load(Ordering::Relaxed);
        let valid_started = Instant::now();
        let mut honest = Vec::new();
        for k in 0..VALID_PER_CLIENT {
            let tx = signed(&auth, 7 + k, admit(&NodeKey::generate(), Role::Holder, "during the flood"));
            honest.push(("authority via node 0", tx.id(), honest_tx(api.channels[0].clone(), watch.clone(), tx)));
            let tx = signed(&ex1, 1 + k, admit(&NodeKey::generate(), Role::Holder, "customer"));
            honest.push(("exchange one via node 0", tx.id(), honest_tx(api.channels[0].clone(), watch.clone(), tx)));
            let tx = signed(&ex2, 1 + k, admit(&NodeKey::generate(), Role::Holder, "customer"));
            honest.push(("exchange two via node 1", tx.id(), honest_tx(api.channels[1].clone(), watch.clone(), tx)));
        }
        let mut by_client: BTreeMap<&str, (Vec<Duration>, Vec<Duration>)> = BTreeMap::new();
        let mut ids = Vec::new();
        for (client, id, h) in honest {
            let (admitted, committed) = h.await.expect("an honest transaction failed");
            let e = by_client.entry(client).or_default();
            e.0.push(admitted);
            e.1.push(committed);
            ids.push(id);
        }
        let valid_time = valid_started.elapsed();
        let sent_during = sent.load(Ordering::Relaxed) - sent_before;
        while sent.load(Ordering::Relaxed) < FLOOD_MIN {
            assert!(flood_started.elapsed() < WAIT, "the flood stalled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let worst_lag = monitor.await.expect("monitor");
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut wrong = Vec::new();
        for f in flood {
            let (c, w) = f.await.expect("flood task");
            for (k, v) in c {
                *counts.entry(k).or_default() += v;
            }
            wrong.extend(w);
        }
        let flood_time = flood_started.elapsed();
        let total = sent.load(Ordering::Relaxed);

        // Afterwards node 0 catches up; every node has every honest transaction and nothing of
        // the flood (the flooder's nonce did not move, no mempool holds anything), and all agree.
        let recovered = Instant::now();
        let top = api.status(1).await.height;
        for i in 0..4 {
            api.wait_height(i, top).await;
        }
        let caught_up = recovered.elapsed();
        let root = api.query(1).get_block(pb::GetBlockRequest { height: Some(top) }).await.expect("block").into_inner();
        let root = root.block.and_then(|b| b.header).expect("header").state_root;
        for i in 0..4 {
            assert_eq!(api.next_nonce(i, &flooder.address()).await, Some(2), "node {i}: the flooder's nonce moved");
            assert_eq!(api.status(i).await.mempool_size, 0, "node {i} holds transactions after the flood");
            for id in &ids {
                assert_eq!(api.tx_status(i, id).await, pb::TxStatus::Committed as i32, "node {i} lacks {id}");
            }
            let b = api.query(i).get_block(pb::GetBlockRequest { height: Some(top) }).await.expect("block");
            assert_eq!(b.into_inner().block.and_then(|b| b.header).expect("header").state_root, root, "node {i}");
        }

        println!(
            "\nflood: {total} invalid transactions to node 0 in {:.1} s ({:.0}/s) over {FLOOD_CONNECTIONS} connections × \
             {FLOOD_IN_FLIGHT_PER_CONNECTION} in flight; {sent_during} of them while the honest clients ran",
            flood_time.as_secs_f64(),
            total as f64 / flood_time.as_secs_f64()
        );
        for (k, v) in &counts {
            println!("  {k}: {v}");
        }
        let all: Vec<Duration> = by_client.values().flat_map(|(_, c)| c.iter().copied()).collect();
        println!(
            "valid: {} sent, {} committed and accepted, all within {:.1} s; submit-to-commit before the flood {}, during {}",
            3 * VALID_PER_CLIENT,
            all.len(),
            valid_time.as_secs_f64(),
            summary(&baseline),
            summary(&all)
        );
        for (client, (admitted, committed)) in &by_client {
            println!("  {client}: admission {}; commit {}", summary(admitted), summary(committed));
        }
        println!(
            "node 0 fell up to {worst_lag} blocks behind the others during the flood and caught up {:.1} s after it",
            caught_up.as_secs_f64()
        );
        assert_eq!(all.len() as u64, 3 * VALID_PER_CLIENT);
        assert!(sent_during > 0, "the flood did not overlap the honest clients");
        assert!(
            wrong.is_empty(),
            "{} flood answers were not the expected refusal, e.g. {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        );
    });
}

// ---- 3. an outsider ------------------------------------------------------------------------------

#[test]
fn outsider_cannot_join_or_influence() {
    serially(async {
        // Five nodes generated; the fifth is taken out of genesis and out of every peer list.
        // It keeps the true genesis, a validator's role, and all four validators as its peers
        // (it dials them and would forward to them).
        let mut net = TestNet::new(5, 0);
        let outsider_key = NodeKey::load(&net.home(4).join("node_key.json")).expect("outsider key");
        let outsider_name = net.node(4).name.clone();
        let mut genesis = net.genesis().expect("genesis");
        genesis.validators.retain(|v| v.public_key != outsider_key.public_key());
        assert_eq!(genesis.validators.len(), 4);
        for i in 0..5 {
            std::fs::write(net.home(i).join("genesis.json"), genesis.to_json()).expect("genesis");
        }
        for i in 0..4 {
            let mut c = net.config(i).expect("config");
            c.p2p.peers.retain(|p| p.name != outsider_name);
            c.save(net.home(i)).expect("save");
        }
        let validators = genesis.validator_set();
        let set_hash = bct_ledger::block::validator_set_hash(&validators);
        let addresses: Vec<Vec<u8>> = validators.iter().map(|v| v.address().0.to_vec()).collect();

        net.start_all().expect("start");
        for i in 0..4 {
            net.wait_height(i, 2, WAIT).await.expect("the four commit");
        }
        let api = Api::connect(&net).await;
        let outsider_id = api.status(4).await.node_id;
        let auth = net.authority().expect("authority key");
        let before = api.snapshot(0, &[auth.address(), outsider_key.address()]).await;

        // Its own transactions, sent straight to each validator, as a client and as a
        // "forwarding node", and to itself: the account is unknown everywhere.
        let mut with_self = validators.clone();
        with_self.push(Validator { public_key: outsider_key.public_key(), power: 10, name: "outsider".into() });
        let approval_msg = bct_ledger::tx::valset_approval_message(CHAIN, 1, &with_self);
        let own_approval = Approval {
            public_key: outsider_key.public_key(),
            signature: outsider_key.signing_key().sign(&approval_msg).to_bytes(),
        };
        let own_txs = [
            signed(&outsider_key, 1, admit(&outsider_key, Role::Authority, "outsider")),
            signed(
                &outsider_key,
                1,
                TxKind::UpdateValidators(UpdateValidators {
                    validators: with_self.clone(),
                    approvals: vec![own_approval.clone()],
                }),
            ),
        ];
        let unknown = format!("account {} is not admitted", outsider_key.address());
        for tx in &own_txs {
            for i in 0..5 {
                for forwarded in [false, true] {
                    let mut req = tonic::Request::new(request_of(tx));
                    if forwarded {
                        req.metadata_mut().insert("x-bct-forwarded", tonic::metadata::MetadataValue::from_static("1"));
                    }
                    let e = api.transactions(i).submit(req).await.expect_err("the outsider's own transaction");
                    let rejection = bct_proto::status::rejection(&e).map(|r| r.code);
                    assert_eq!(
                        (e.code(), rejection),
                        (Code::FailedPrecondition, Some(10)),
                        "node {i}, forwarded {forwarded}: {e:?}"
                    );
                    assert!(e.message().contains(&unknown), "{}", e.message());
                }
            }
        }
        // The authority's validator set change, approved by the outsider alone: refused.
        let change = signed(
            &auth,
            1,
            TxKind::UpdateValidators(UpdateValidators { validators: with_self, approvals: vec![own_approval] }),
        );
        let e = api.submit(0, request_of(&change)).await.expect_err("approved by a non-validator");
        assert_eq!(bct_proto::status::rejection(&e).map(|r| r.code), Some(62), "{e:?}");
        println!("authority's validator set change approved by the outsider alone: {:?} {}", e.code(), e.message());

        // The four keep committing, with their own set; the outsider stays at genesis.
        let h = api.status(0).await.height;
        for i in 0..4 {
            api.wait_height(i, h + 5).await;
        }
        let top = api.status(0).await.height;
        for i in 0..4 {
            let s = api.status(i).await;
            let keys: Vec<Vec<u8>> = s.validators.iter().map(|v| v.public_key.clone()).collect();
            let expected: Vec<Vec<u8>> = validators.iter().map(|v| v.public_key.to_vec()).collect();
            assert_eq!(keys, expected, "node {i}'s validator set changed");
            assert!(s.peers.iter().all(|p| p.id != outsider_id), "node {i} lists the outsider as a peer");
            // The peer view is refreshed from the network every few seconds: wait for it.
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let peers = api.status(i).await.peers;
                if peers.iter().filter(|p| p.connected).count() == 3 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "node {i} never saw its 3 peers: {peers:?}");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            assert_eq!(s.mempool_size, 0, "node {i} holds the outsider's transactions");
        }
        for i in 0..4 {
            assert_eq!(
                api.snapshot(i, &[auth.address(), outsider_key.address()]).await,
                before,
                "node {i}'s state moved"
            );
        }
        // Every block so far: proposed by one of the four, decided by the four's set, signed
        // by them alone.
        let outsider_pk = outsider_key.public_key().to_vec();
        for height in 1..=top {
            let b =
                api.query(0).get_block(pb::GetBlockRequest { height: Some(height) }).await.expect("block").into_inner();
            let header = b.block.and_then(|b| b.header).expect("header");
            assert!(addresses.contains(&header.proposer), "block {height} proposed by an unknown key");
            assert_eq!(header.validator_set_hash, set_hash.0.to_vec(), "block {height}: another validator set");
            let cert = b.commit.expect("certificate");
            bct_node::consensus::certificate::verify(CHAIN, &cert, &validators).expect("certificate by the four");
            assert!(
                cert.signatures.iter().all(|s| s.validator_public_key != outsider_pk),
                "block {height} signed by the outsider"
            );
        }
        let s = api.status(4).await;
        assert_eq!(s.height, 0, "the outsider synced blocks");
        // (Its own peer view may show a validator "connected" for the instant between a TCP
        // connection and the validator dropping it after the identify exchange: it redials.)
        // Each validator refused its connections.
        let deadline = Instant::now() + WAIT;
        let mut refusals = Vec::new();
        for i in 0..4 {
            loop {
                let log = std::fs::read_to_string(net.log_path(i)).unwrap_or_default();
                let n = log
                    .lines()
                    .filter(|l| l.contains("Rejecting connection from non-persistent peer") && l.contains(&outsider_id))
                    .count();
                if n > 0 {
                    refusals.push(n);
                    break;
                }
                assert!(Instant::now() < deadline, "validator {i} never logged refusing the outsider {outsider_id}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        println!(
            "outsider {outsider_id}: height 0; its connections refused by each validator ({refusals:?} times so \
             far); the 4 committed {top} blocks, every one proposed and certified by the genesis set"
        );
    });
}
