//! A stand-in for `bct-node` in tests, until the real node can be started from here: the
//! `Transactions` and `Query` gRPC services over a real `bct_ledger::Ledger` (in memory), where
//! every admitted transaction is committed at once in a block of its own, signed by three of
//! four test validators. It answers as `proto/proto/bct/v1/node.proto` says a node answers
//! (statuses, rejection details, certificates); it has no consensus, mempool or events.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bct_ledger::block::result_leaves;
use bct_ledger::crypto::{merkle_leaf, merkle_path};
use bct_ledger::{Address, Genesis, Hash, Ledger, MemStore};
use bct_proto::pb;
use bct_proto::pb::query_server::{Query, QueryServer};
use bct_proto::pb::transactions_server::{Transactions, TransactionsServer};
use ed25519_dalek::SigningKey;
use prost::Message;
use tonic::{Request, Response, Status};

use super::{addr, precommits, validator_keys};

struct Chain {
    ledger: Ledger<MemStore>,
    commits: BTreeMap<u64, pb::CommitCertificate>,
    validators: Vec<SigningKey>,
}

type Shared = Arc<Mutex<Chain>>;

fn lock(c: &Shared) -> Result<std::sync::MutexGuard<'_, Chain>, Status> {
    c.lock().map_err(|_| Status::internal("poisoned"))
}

fn address(bytes: &[u8], field: &str) -> Result<Address, Status> {
    let arr: [u8; 20] = bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!("{field}: expected a 20-byte address, got {} bytes", bytes.len()))
    })?;
    Ok(Address(arr))
}

fn hash(bytes: &[u8], field: &str) -> Result<Hash, Status> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Status::invalid_argument(format!("{field}: expected 32 bytes, got {}", bytes.len())))?;
    Ok(Hash(arr))
}

fn not_found(what: impl std::fmt::Display) -> Status {
    Status::not_found(format!("{what} does not exist on this chain (or is not committed yet)"))
}

fn committed(ledger: &Ledger<MemStore>, id: &Hash) -> Option<pb::Committed> {
    let loc = ledger.tx_location(id).ok()??;
    let results = ledger.results(loc.height).ok()??;
    let time_ms = ledger.block(loc.height).ok()??.header.time_ms;
    Some(pb::Committed {
        height: loc.height,
        index: loc.index,
        result: results.get(loc.index as usize).map(pb::TxResult::from),
        time_ms,
    })
}

#[derive(Clone)]
struct Node {
    chain: Shared,
}

#[tonic::async_trait]
impl Transactions for Node {
    async fn submit(&self, request: Request<pb::SubmitRequest>) -> Result<Response<pb::SubmitResponse>, Status> {
        let req = request.into_inner();
        let tx = bct_proto::signed_tx_from_pb(req.tx.ok_or_else(|| Status::invalid_argument("tx: missing"))?)?;
        let id = tx.id();
        let mut chain = lock(&self.chain)?;
        if chain.ledger.tx_location(&id).ok().flatten().is_some_and(|l| l.accepted) {
            let c = committed(&chain.ledger, &id);
            return Ok(Response::new(pb::SubmitResponse {
                tx_id: id.0.to_vec(),
                status: pb::TxStatus::Committed.into(),
                committed: c,
            }));
        }
        if !tx.verify_signature() {
            return Err(Status::invalid_argument("the signature does not verify"));
        }
        if let Err(r) = chain.ledger.check_tx(&tx) {
            let details = pb::Rejection::from(&r).encode_to_vec();
            return Err(Status::with_details(
                tonic::Code::FailedPrecondition,
                format!("the ledger would reject this transaction: {r}"),
                details.into(),
            ));
        }
        let time = chain.ledger.head().time_ms + 60_000;
        let proposer = addr(&chain.validators[0]);
        let executed =
            chain.ledger.build_block(time, proposer, vec![tx]).map_err(|e| Status::internal(e.to_string()))?;
        let header = chain.ledger.commit(executed, vec![]).map_err(|e| Status::internal(e.to_string()))?;
        let signers: Vec<SigningKey> = chain.validators.iter().take(3).cloned().collect();
        let cert = precommits(&signers, &header.chain_id, header.height, 0, &header.hash());
        chain.commits.insert(header.height, cert);
        let (status, c) = if req.wait_for_commit {
            (pb::TxStatus::Committed, committed(&chain.ledger, &id))
        } else {
            (pb::TxStatus::Pending, None)
        };
        Ok(Response::new(pb::SubmitResponse { tx_id: id.0.to_vec(), status: status.into(), committed: c }))
    }

    async fn get_tx_status(
        &self,
        request: Request<pb::GetTxStatusRequest>,
    ) -> Result<Response<pb::GetTxStatusResponse>, Status> {
        let id = hash(&request.get_ref().tx_id, "tx_id")?;
        let chain = lock(&self.chain)?;
        let c = committed(&chain.ledger, &id);
        let status = if c.is_some() { pb::TxStatus::Committed } else { pb::TxStatus::Unknown };
        Ok(Response::new(pb::GetTxStatusResponse { tx_id: id.0.to_vec(), status: status.into(), committed: c }))
    }
}

#[tonic::async_trait]
impl Query for Node {
    async fn get_account(&self, r: Request<pb::GetAccountRequest>) -> Result<Response<pb::GetAccountResponse>, Status> {
        let a = address(&r.get_ref().address, "address")?;
        let chain = lock(&self.chain)?;
        let account = chain.ledger.state().accounts.get(&a).ok_or_else(|| not_found(format!("account {a}")))?;
        Ok(Response::new(pb::GetAccountResponse { account: Some(account.into()), next_nonce: account.nonce + 1 }))
    }

    async fn list_lots(&self, r: Request<pb::ListLotsRequest>) -> Result<Response<pb::ListLotsResponse>, Status> {
        let req = r.into_inner();
        let holder = address(&req.holder, "holder")?;
        let chain = lock(&self.chain)?;
        let lots = chain
            .ledger
            .state()
            .lots_of_holder(holder)
            .into_iter()
            .filter(|l| req.ticket.as_ref().is_none_or(|t| *t == l.ticket))
            .map(pb::Lot::from)
            .collect();
        Ok(Response::new(pb::ListLotsResponse { lots, next_start_after: None }))
    }

    async fn get_ticket(&self, r: Request<pb::GetTicketRequest>) -> Result<Response<pb::GetTicketResponse>, Status> {
        let id = &r.get_ref().id;
        let chain = lock(&self.chain)?;
        let state = chain.ledger.state();
        let ticket = state.tickets.get(id).ok_or_else(|| not_found(format!("ticket {id:?}")))?;
        let lots = state.lots_of_ticket(id).into_iter().map(pb::Lot::from).collect();
        let attestations = state
            .attestations_of(&ticket.project)
            .into_iter()
            .filter(|a| a.report_hash == ticket.report_hash && a.period == ticket.period)
            .map(pb::Attestation::from)
            .collect();
        Ok(Response::new(pb::GetTicketResponse { ticket: Some(ticket.into()), lots, attestations }))
    }

    async fn list_tickets(
        &self,
        r: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let chain = lock(&self.chain)?;
        let tickets = chain.ledger.state().tickets_of(&r.get_ref().project).into_iter().map(pb::Ticket::from).collect();
        Ok(Response::new(pb::ListTicketsResponse { tickets, next_start_after: None }))
    }

    async fn get_project(&self, r: Request<pb::GetProjectRequest>) -> Result<Response<pb::GetProjectResponse>, Status> {
        let id = &r.get_ref().id;
        let chain = lock(&self.chain)?;
        let p = chain.ledger.state().projects.get(id).ok_or_else(|| not_found(format!("project {id:?}")))?;
        Ok(Response::new(pb::GetProjectResponse { project: Some(p.into()) }))
    }

    async fn list_projects(
        &self,
        _r: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let chain = lock(&self.chain)?;
        let projects = chain.ledger.state().projects.iter().map(|(_, p)| p.into()).collect();
        Ok(Response::new(pb::ListProjectsResponse { projects, next_start_after: None }))
    }

    async fn list_attestations(
        &self,
        r: Request<pb::ListAttestationsRequest>,
    ) -> Result<Response<pb::ListAttestationsResponse>, Status> {
        let chain = lock(&self.chain)?;
        let attestations =
            chain.ledger.state().attestations_of(&r.get_ref().project).into_iter().map(pb::Attestation::from).collect();
        Ok(Response::new(pb::ListAttestationsResponse { attestations, next_start_after: None }))
    }

    /// Pages for real (by id, `limit` 0 meaning 2), so the client's paging is exercised.
    async fn list_retirements(
        &self,
        r: Request<pb::ListRetirementsRequest>,
    ) -> Result<Response<pb::ListRetirementsResponse>, Status> {
        use pb::list_retirements_request::Filter;
        let req = r.into_inner();
        let limit = match req.limit {
            0 => 2,
            n => (n as usize).min(2),
        };
        let chain = lock(&self.chain)?;
        let mut out = Vec::new();
        let mut more = false;
        for (id, ret) in chain.ledger.state().retirements.iter() {
            if req.start_after.is_some_and(|s| *id <= s)
                || req.from_height.is_some_and(|h| ret.height < h)
                || req.to_height.is_some_and(|h| ret.height > h)
            {
                continue;
            }
            let keep = match &req.filter {
                Some(Filter::Beneficiary(b)) => ret.beneficiary == *b,
                Some(Filter::Ticket(t)) => ret.ticket == *t,
                None => true,
            };
            if !keep {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(ret);
        }
        let next_start_after = if more { out.last().map(|r| r.id) } else { None };
        Ok(Response::new(pb::ListRetirementsResponse {
            retirements: out.into_iter().map(pb::Retirement::from).collect(),
            next_start_after,
        }))
    }

    async fn get_retirement(
        &self,
        r: Request<pb::GetRetirementRequest>,
    ) -> Result<Response<pb::GetRetirementResponse>, Status> {
        let id = r.get_ref().id;
        let chain = lock(&self.chain)?;
        let ret = chain.ledger.state().retirements.get(&id).ok_or_else(|| not_found(format!("retirement {id}")))?;
        Ok(Response::new(pb::GetRetirementResponse { retirement: Some(ret.into()) }))
    }

    async fn get_block(&self, r: Request<pb::GetBlockRequest>) -> Result<Response<pb::GetBlockResponse>, Status> {
        let chain = lock(&self.chain)?;
        let height = r.get_ref().height.unwrap_or(chain.ledger.height());
        let block = chain.ledger.block(height).ok().flatten().ok_or_else(|| not_found(format!("block {height}")))?;
        let results = chain.ledger.results(height).ok().flatten().unwrap_or_default();
        Ok(Response::new(pb::GetBlockResponse {
            block: Some((&block).into()),
            results: results.iter().map(pb::TxResult::from).collect(),
            commit: chain.commits.get(&height).cloned(),
        }))
    }

    async fn get_transaction(
        &self,
        r: Request<pb::GetTransactionRequest>,
    ) -> Result<Response<pb::GetTransactionResponse>, Status> {
        let id = hash(&r.get_ref().tx_id, "tx_id")?;
        let chain = lock(&self.chain)?;
        let (tx, _, _) =
            chain.ledger.transaction(&id).ok().flatten().ok_or_else(|| not_found(format!("transaction {id}")))?;
        Ok(Response::new(pb::GetTransactionResponse {
            tx: Some(bct_proto::signed_tx_to_pb(&tx)),
            committed: committed(&chain.ledger, &id),
        }))
    }

    async fn list_account_transactions(
        &self,
        r: Request<pb::ListAccountTransactionsRequest>,
    ) -> Result<Response<pb::ListAccountTransactionsResponse>, Status> {
        let req = r.into_inner();
        let a = address(&req.address, "address")?;
        let chain = lock(&self.chain)?;
        let mut transactions = Vec::new();
        for (_, id) in
            chain.ledger.txs_of_account(&a, req.limit.max(1) as usize).map_err(|e| Status::internal(e.to_string()))?
        {
            let (tx, _, _) = chain.ledger.transaction(&id).ok().flatten().ok_or_else(|| Status::internal("missing"))?;
            transactions.push(pb::AccountTransaction {
                tx_id: id.0.to_vec(),
                tx: Some(bct_proto::signed_tx_to_pb(&tx)),
                committed: committed(&chain.ledger, &id),
            });
        }
        Ok(Response::new(pb::ListAccountTransactionsResponse { transactions, next_start_after: None }))
    }

    async fn get_supply(&self, _r: Request<pb::GetSupplyRequest>) -> Result<Response<pb::GetSupplyResponse>, Status> {
        let chain = lock(&self.chain)?;
        let totals = chain.ledger.meta().totals;
        Ok(Response::new(pb::GetSupplyResponse {
            totals: Some((&totals).into()),
            by_ecosystem: vec![pb::SupplyByEcosystem {
                ecosystem: pb::Ecosystem::SeaweedFarm.into(),
                totals: Some((&totals).into()),
            }],
            by_region: vec![],
            by_vintage: vec![],
        }))
    }

    async fn get_retirement_certificate(
        &self,
        r: Request<pb::GetRetirementCertificateRequest>,
    ) -> Result<Response<pb::GetRetirementCertificateResponse>, Status> {
        let id = r.get_ref().retirement_id;
        let chain = lock(&self.chain)?;
        let ledger = &chain.ledger;
        let retirement = ledger.state().retirements.get(&id).ok_or_else(|| not_found(format!("retirement {id}")))?;
        let (tx, result, loc) =
            ledger.transaction(&retirement.tx).ok().flatten().ok_or_else(|| Status::internal("tx"))?;
        let block = ledger.block(loc.height).ok().flatten().ok_or_else(|| Status::internal("block"))?;
        let results = ledger.results(loc.height).ok().flatten().unwrap_or_default();
        let index = loc.index as usize;
        let tx_leaves: Vec<Hash> = block.txs.iter().map(|t| merkle_leaf(&t.id().0)).collect();
        let res_leaves = result_leaves(&results);
        let proof = |leaves: &[Hash]| pb::MerkleProof {
            index: loc.index,
            count: leaves.len() as u32,
            path: merkle_path(leaves, index).unwrap_or_default().iter().map(|h| h.0.to_vec()).collect(),
        };
        let certificate = pb::RetirementCertificate {
            chain_id: ledger.chain_id().to_string(),
            tx: Some(bct_proto::signed_tx_to_pb(&tx)),
            result: Some((&result).into()),
            header: Some((&block.header).into()),
            tx_proof: Some(proof(&tx_leaves)),
            result_proof: Some(proof(&res_leaves)),
            commit: chain.commits.get(&loc.height).cloned(),
            validators: ledger.validators().iter().map(pb::Validator::from).collect(),
            retirement: Some(retirement.into()),
        };
        let certificate_bytes = certificate.encode_to_vec();
        Ok(Response::new(pb::GetRetirementCertificateResponse { certificate: Some(certificate), certificate_bytes }))
    }

    async fn get_network_status(
        &self,
        _r: Request<pb::GetNetworkStatusRequest>,
    ) -> Result<Response<pb::GetNetworkStatusResponse>, Status> {
        let chain = lock(&self.chain)?;
        let head = chain.ledger.head();
        Ok(Response::new(pb::GetNetworkStatusResponse {
            chain_id: chain.ledger.chain_id().to_string(),
            height: head.height,
            latest_block_hash: head.hash().0.to_vec(),
            latest_block_time_ms: head.time_ms,
            state_root: head.state_root.0.to_vec(),
            validators: chain.ledger.validators().iter().map(pb::Validator::from).collect(),
            peers: vec![],
            role: pb::NodeRole::Validator.into(),
            mempool_size: 0,
            node_id: "fake-node".into(),
        }))
    }
}

/// A running fake node; told to stop when dropped. Its thread is not joined: a graceful
/// shutdown waits for open connections, whose client side may live on the very runtime that
/// is dropping this value.
pub struct FakeNode {
    /// Its gRPC URL.
    pub url: String,
    /// Its genesis.
    pub genesis: Genesis,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Starts a fake node for `genesis` on a free loopback port, in a thread of its own.
pub fn start(genesis: Genesis) -> FakeNode {
    let ledger = Ledger::open(MemStore::new(), genesis.clone()).expect("genesis opens");
    let chain = Arc::new(Mutex::new(Chain { ledger, commits: BTreeMap::new(), validators: validator_keys() }));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", std_listener.local_addr().expect("bound"));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let node = Node { chain };
            let _ = tonic::transport::Server::builder()
                .add_service(TransactionsServer::new(node.clone()))
                .add_service(QueryServer::new(node))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop_rx.await;
                })
                .await;
        });
    });
    FakeNode { url, genesis, stop: Some(stop_tx) }
}
