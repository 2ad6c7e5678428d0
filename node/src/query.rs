//! The `Query` service: the committed state, blocks, transactions and proofs, read from the
//! shared ledger. Lists page with `limit` (0 means [`PAGE_DEFAULT`], capped at [`PAGE_MAX`])
//! and `start_after`; a response sets `next_start_after` when more items may follow.

use std::ops::Bound;
use std::sync::Arc;

use bct_ledger::crypto::{merkle_leaf, merkle_path};
use bct_ledger::types::Validator;
use bct_ledger::{block, Address, Hash, StoreError};
use bct_proto::pb;
use bct_proto::pb::query_server::Query;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::chain::{Chain, NodeLedger};
use crate::network::NetworkView;
use crate::rpc::hash_field;
use crate::submit::{committed, Submitter};
use crate::web::index::{Index, TradeFilter};
use crate::web::view::{self, Lookup};

/// Items in a page when the request says 0.
pub const PAGE_DEFAULT: usize = 100;
/// Most items in a page.
pub const PAGE_MAX: usize = 1000;
/// Most records examined for one page of a filtered listing; the page then ends early with a
/// cursor to continue from, so no request scans the whole ledger.
const SCAN_MAX: usize = 10_000;

/// The `Query` service.
#[derive(Clone)]
pub struct QueryService {
    chain: Arc<Chain>,
    submitter: Submitter,
    network: Arc<NetworkView>,
    index: Index,
}

impl QueryService {
    /// The service over the node's chain and its index of trades.
    pub fn new(chain: Arc<Chain>, submitter: Submitter, network: Arc<NetworkView>, index: Index) -> QueryService {
        QueryService { chain, submitter, network, index }
    }
}

/// A web-view lookup failure as a gRPC status.
fn lookup_status(e: Lookup) -> Status {
    match e {
        Lookup::Bad(m) => Status::invalid_argument(m),
        Lookup::NotFound(m) => Status::not_found(m),
        Lookup::Store(m) => Status::internal(m),
    }
}

fn filter_error(e: bct_proto::ProtoError) -> Status {
    Status::invalid_argument(e.to_string())
}

/// The protobuf ecosystem of a web-view ecosystem code (`UNSPECIFIED` for an unknown one).
fn pb_ecosystem(code: &str) -> i32 {
    view::parse_ecosystem(code).map_or(pb::Ecosystem::Unspecified, bct_proto::ecosystem_to_pb) as i32
}

fn ecosystem_code(v: i32, field: &str) -> Result<Option<String>, Status> {
    Ok(bct_proto::ecosystem_filter(v, field).map_err(filter_error)?.map(|e| e.as_str().to_string()))
}

fn page(limit: u32) -> usize {
    match limit {
        0 => PAGE_DEFAULT,
        n => (n as usize).min(PAGE_MAX),
    }
}

fn hex_field(s: &str, what: &str) -> Result<Vec<u8>, Status> {
    hex::decode(s).map_err(|e| Status::internal(format!("{what}: the index holds a malformed id ({e})")))
}

fn storage(e: StoreError) -> Status {
    Status::internal(format!("the node's store failed: {e}"))
}

fn address(bytes: &[u8], field: &str) -> Result<Address, Status> {
    let arr: [u8; 20] = bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!("{field}: expected a 20-byte address, got {} bytes", bytes.len()))
    })?;
    Ok(Address(arr))
}

fn not_found(what: impl std::fmt::Display) -> Status {
    Status::not_found(format!("{what} does not exist on this chain (or is not committed yet)"))
}

/// The validators whose hash is `hash`: stored with the first block they decided.
fn validators_for(ledger: &NodeLedger, hash: &Hash) -> Result<Option<Vec<Validator>>, StoreError> {
    if let Some(v) = Chain::validator_set(ledger, hash)? {
        return Ok(Some(v));
    }
    let current = ledger.validators();
    Ok((block::validator_set_hash(&current) == *hash).then_some(current))
}

/// The Merkle proof of leaf `index` among `leaves`.
fn merkle_proof(leaves: &[Hash], index: u32) -> Option<pb::MerkleProof> {
    merkle_path(leaves, index as usize).map(|path| pb::MerkleProof {
        index,
        count: leaves.len() as u32,
        path: path.iter().map(|h| h.0.to_vec()).collect(),
    })
}

/// Every accepted validator set change in blocks below `height`, proven (see
/// `bct.v1.ValidatorSetChange`), oldest first.
fn set_history(ledger: &NodeLedger, height: u64) -> Result<Vec<pb::ValidatorSetChange>, Status> {
    let mut history = Vec::new();
    for (h, index) in Chain::set_changes_before(ledger, height).map_err(storage)? {
        let missing =
            |what: &str| Status::internal(format!("the {what} of validator set change {h}/{index} is missing"));
        let block = ledger.block(h).map_err(storage)?.ok_or_else(|| missing("block"))?;
        let results = ledger.results(h).map_err(storage)?.unwrap_or_default();
        let tx = block.txs.get(index as usize).ok_or_else(|| missing("transaction"))?;
        let result = results.get(index as usize).ok_or_else(|| missing("result"))?;
        let tx_leaves: Vec<Hash> = block.txs.iter().map(|t| merkle_leaf(&t.id().0)).collect();
        let commit = Chain::certificate(ledger, h).map_err(storage)?.ok_or_else(|| missing("commit certificate"))?;
        history.push(pb::ValidatorSetChange {
            tx: Some(bct_proto::signed_tx_to_pb(tx)),
            result: Some(result.into()),
            header: Some((&block.header).into()),
            tx_proof: Some(merkle_proof(&tx_leaves, index).ok_or_else(|| missing("transaction proof"))?),
            result_proof: Some(
                merkle_proof(&block::result_leaves(&results), index).ok_or_else(|| missing("result proof"))?,
            ),
            commit: Some(commit),
        });
    }
    Ok(history)
}

#[tonic::async_trait]
impl Query for QueryService {
    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let a = address(&request.get_ref().address, "address")?;
        let ledger = self.chain.read().await;
        let account = ledger.state().accounts.get(&a).ok_or_else(|| not_found(format!("account {a}")))?;
        let next_nonce = account.nonce + 1;
        Ok(Response::new(pb::GetAccountResponse {
            account: Some(account.into()),
            next_nonce,
            next_nonce_after_pending: self.submitter.next_nonce_after_pending(&a, next_nonce),
        }))
    }

    async fn list_lots(&self, request: Request<pb::ListLotsRequest>) -> Result<Response<pb::ListLotsResponse>, Status> {
        let req = request.into_inner();
        let holder = address(&req.holder, "holder")?;
        let limit = page(req.limit);
        let ledger = self.chain.read().await;
        let state = ledger.state();
        let start = match (&req.start_after, &req.ticket) {
            (Some(c), _) => Bound::Excluded((holder, c.ticket.clone(), c.first)),
            (None, Some(t)) => Bound::Included((holder, t.clone(), 0)),
            (None, None) => Bound::Included((holder, String::new(), 0)),
        };
        let mut lots = Vec::new();
        let mut more = false;
        for ((h, t, first), ()) in state.lots_by_holder.range((start, Bound::Unbounded)) {
            if *h != holder || req.ticket.as_ref().is_some_and(|want| want != t) {
                break;
            }
            if lots.len() == limit {
                more = true;
                break;
            }
            if let Some(lot) = state.lots.get(first) {
                lots.push(lot);
            }
        }
        let next_start_after =
            if more { lots.last().map(|l| pb::LotCursor { ticket: l.ticket.clone(), first: l.first }) } else { None };
        Ok(Response::new(pb::ListLotsResponse {
            lots: lots.into_iter().map(pb::Lot::from).collect(),
            next_start_after,
        }))
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::GetTicketResponse>, Status> {
        let id = &request.get_ref().id;
        let ledger = self.chain.read().await;
        let state = ledger.state();
        let ticket =
            state.tickets.get(id).ok_or_else(|| not_found(format!("ticket \"{}\"", bct_ledger::text::short(id))))?;
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
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let req = request.into_inner();
        let limit = page(req.limit);
        let ledger = self.chain.read().await;
        let state = ledger.state();
        let start = match &req.start_after {
            Some(t) => Bound::Excluded((req.project.clone(), t.clone())),
            None => Bound::Included((req.project.clone(), String::new())),
        };
        let mut tickets = Vec::new();
        let mut more = false;
        for ((p, t), ()) in state.tickets_by_project.range((start, Bound::Unbounded)) {
            if *p != req.project {
                break;
            }
            if tickets.len() == limit {
                more = true;
                break;
            }
            if let Some(ticket) = state.tickets.get(t) {
                tickets.push(ticket);
            }
        }
        let next_start_after = if more { tickets.last().map(|t| t.id.clone()) } else { None };
        Ok(Response::new(pb::ListTicketsResponse {
            tickets: tickets.into_iter().map(pb::Ticket::from).collect(),
            next_start_after,
        }))
    }

    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::GetProjectResponse>, Status> {
        let id = &request.get_ref().id;
        let ledger = self.chain.read().await;
        let project = ledger
            .state()
            .projects
            .get(id)
            .ok_or_else(|| not_found(format!("project \"{}\"", bct_ledger::text::short(id))))?;
        Ok(Response::new(pb::GetProjectResponse { project: Some(project.into()) }))
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let req = request.into_inner();
        let limit = page(req.limit);
        let ledger = self.chain.read().await;
        let start = match req.start_after {
            Some(id) => Bound::Excluded(id),
            None => Bound::Unbounded,
        };
        let mut it = ledger.state().projects.range((start, Bound::Unbounded));
        let projects: Vec<pb::Project> = it.by_ref().take(limit).map(|(_, p)| p.into()).collect();
        let next_start_after = if it.next().is_some() { projects.last().map(|p| p.id.clone()) } else { None };
        Ok(Response::new(pb::ListProjectsResponse { projects, next_start_after }))
    }

    async fn list_attestations(
        &self,
        request: Request<pb::ListAttestationsRequest>,
    ) -> Result<Response<pb::ListAttestationsResponse>, Status> {
        let req = request.into_inner();
        let limit = page(req.limit);
        let start = match &req.start_after {
            Some(c) => Bound::Excluded((
                req.project.clone(),
                hash_field(&c.report_hash, "start_after.report_hash")?,
                address(&c.verifier, "start_after.verifier")?,
            )),
            None => Bound::Included((req.project.clone(), Hash::ZERO, Address::default())),
        };
        let ledger = self.chain.read().await;
        let mut attestations = Vec::new();
        let mut more = false;
        for ((p, _, _), a) in ledger.state().attestations.range((start, Bound::Unbounded)) {
            if *p != req.project {
                break;
            }
            if attestations.len() == limit {
                more = true;
                break;
            }
            attestations.push(a);
        }
        let next_start_after = if more {
            attestations.last().map(|a| pb::AttestationCursor {
                report_hash: a.report_hash.0.to_vec(),
                verifier: a.verifier.0.to_vec(),
            })
        } else {
            None
        };
        Ok(Response::new(pb::ListAttestationsResponse {
            attestations: attestations.into_iter().map(pb::Attestation::from).collect(),
            next_start_after,
        }))
    }

    async fn list_retirements(
        &self,
        request: Request<pb::ListRetirementsRequest>,
    ) -> Result<Response<pb::ListRetirementsResponse>, Status> {
        use pb::list_retirements_request::Filter;
        let req = request.into_inner();
        let limit = page(req.limit);
        let after = req.start_after.unwrap_or(0);
        let (lo, hi) = (req.from_height.unwrap_or(0), req.to_height.unwrap_or(u64::MAX));
        let ledger = self.chain.read().await;
        let state = ledger.state();
        let ids: Box<dyn Iterator<Item = u64> + '_> = match &req.filter {
            None => Box::new(state.retirements.range((Bound::Excluded(after), Bound::Unbounded)).map(|(id, _)| *id)),
            Some(Filter::Beneficiary(b)) => Box::new(
                state
                    .retirements_by_beneficiary
                    .range((Bound::Excluded((b.clone(), after)), Bound::Unbounded))
                    .take_while(move |((x, _), _)| x == b)
                    .map(|((_, id), _)| *id),
            ),
            Some(Filter::Ticket(t)) => Box::new(
                state
                    .retirements_by_ticket
                    .range((Bound::Excluded((t.clone(), after)), Bound::Unbounded))
                    .take_while(move |((x, _), _)| x == t)
                    .map(|((_, id), _)| *id),
            ),
        };
        let mut retirements = Vec::new();
        let mut last_seen = None;
        let mut more = false;
        for (scanned, id) in ids.enumerate() {
            if retirements.len() == limit || scanned == SCAN_MAX {
                more = true;
                break;
            }
            last_seen = Some(id);
            if let Some(r) = state.retirements.get(&id) {
                if (lo..=hi).contains(&r.height) {
                    retirements.push(pb::Retirement::from(r));
                }
            }
        }
        Ok(Response::new(pb::ListRetirementsResponse {
            retirements,
            next_start_after: if more { last_seen } else { None },
        }))
    }

    async fn get_retirement(
        &self,
        request: Request<pb::GetRetirementRequest>,
    ) -> Result<Response<pb::GetRetirementResponse>, Status> {
        let id = request.get_ref().id;
        let ledger = self.chain.read().await;
        let r = ledger.state().retirements.get(&id).ok_or_else(|| not_found(format!("retirement {id}")))?;
        Ok(Response::new(pb::GetRetirementResponse { retirement: Some(r.into()) }))
    }

    async fn get_block(&self, request: Request<pb::GetBlockRequest>) -> Result<Response<pb::GetBlockResponse>, Status> {
        let ledger = self.chain.read().await;
        let height = request.get_ref().height.unwrap_or(ledger.height());
        let block = ledger
            .block(height)
            .map_err(storage)?
            .ok_or_else(|| not_found(format!("block {height} (the latest committed block is {})", ledger.height())))?;
        let results = ledger.results(height).map_err(storage)?.unwrap_or_default();
        let commit = if height == 0 { None } else { Chain::certificate(&ledger, height).map_err(storage)? };
        Ok(Response::new(pb::GetBlockResponse {
            block: Some((&block).into()),
            results: results.iter().map(pb::TxResult::from).collect(),
            commit,
        }))
    }

    async fn get_transaction(
        &self,
        request: Request<pb::GetTransactionRequest>,
    ) -> Result<Response<pb::GetTransactionResponse>, Status> {
        let id = hash_field(&request.get_ref().tx_id, "tx_id")?;
        let ledger = self.chain.read().await;
        let (tx, _, _) =
            ledger.transaction(&id).map_err(storage)?.ok_or_else(|| not_found(format!("transaction {id}")))?;
        Ok(Response::new(pb::GetTransactionResponse {
            tx: Some(bct_proto::signed_tx_to_pb(&tx)),
            committed: committed(&ledger, &id).map_err(storage)?,
        }))
    }

    async fn list_account_transactions(
        &self,
        request: Request<pb::ListAccountTransactionsRequest>,
    ) -> Result<Response<pb::ListAccountTransactionsResponse>, Status> {
        let req = request.into_inner();
        let a = address(&req.address, "address")?;
        let limit = page(req.limit);
        let ledger = self.chain.read().await;
        // The ledger's account index (store keys `Y` || address || height || index, see
        // `bct_ledger::store`), read newest first from just before the cursor.
        let tree = self.chain.db().open_tree(b"bct").map_err(|e| Status::internal(e.to_string()))?;
        let mut prefix = vec![b'Y'];
        prefix.extend_from_slice(&a.0);
        let mut end = prefix.clone();
        match req.start_after {
            Some(c) => {
                end.extend_from_slice(&c.height.to_be_bytes());
                end.extend_from_slice(&c.index.to_be_bytes());
            }
            None => end.push(0xff),
        }
        let mut out = Vec::new();
        let mut more = false;
        for item in tree.range(prefix.clone()..end).rev() {
            let (k, _) = item.map_err(|e| Status::internal(e.to_string()))?;
            if out.len() == limit {
                more = true;
                break;
            }
            let rest = &k[prefix.len()..];
            if rest.len() != 12 {
                return Err(Status::internal("damaged account transaction index"));
            }
            let mut h = [0u8; 8];
            let mut i = [0u8; 4];
            h.copy_from_slice(&rest[..8]);
            i.copy_from_slice(&rest[8..]);
            let (height, index) = (u64::from_be_bytes(h), u32::from_be_bytes(i));
            let block =
                ledger.block(height).map_err(storage)?.ok_or_else(|| Status::internal("indexed block missing"))?;
            let results = ledger.results(height).map_err(storage)?.unwrap_or_default();
            let Some(tx) = block.txs.get(index as usize) else {
                return Err(Status::internal("index points outside its block"));
            };
            out.push(pb::AccountTransaction {
                tx_id: tx.id().0.to_vec(),
                tx: Some(bct_proto::signed_tx_to_pb(tx)),
                committed: Some(pb::Committed {
                    height,
                    index,
                    result: results.get(index as usize).map(pb::TxResult::from),
                    time_ms: block.header.time_ms,
                }),
            });
        }
        let next_start_after = if more {
            out.last().and_then(|t| t.committed.as_ref()).map(|c| pb::TxCursor { height: c.height, index: c.index })
        } else {
            None
        };
        Ok(Response::new(pb::ListAccountTransactionsResponse { transactions: out, next_start_after }))
    }

    async fn get_supply(
        &self,
        request: Request<pb::GetSupplyRequest>,
    ) -> Result<Response<pb::GetSupplyResponse>, Status> {
        let height = request.get_ref().height;
        let ledger = self.chain.read().await;
        let supply = match height {
            Some(h) => view::supply_at(&ledger, h).map_err(lookup_status)?,
            None => view::supply(&ledger),
        };
        let totals = |t: &view::TotalsView| pb::Totals {
            issued_kg: t.issued.kg,
            active_kg: t.active.kg,
            pledged_kg: t.pledged.kg,
            frozen_kg: t.frozen.kg,
            retired_kg: t.retired.kg,
            cancelled_kg: t.cancelled.kg,
        };
        let ecosystem = pb_ecosystem;
        Ok(Response::new(pb::GetSupplyResponse {
            totals: Some(totals(&supply.totals)),
            by_ecosystem: supply
                .by_ecosystem
                .iter()
                .map(|g| pb::SupplyByEcosystem { ecosystem: ecosystem(&g.key), totals: Some(totals(&g.totals)) })
                .collect(),
            by_region: supply
                .by_region
                .iter()
                .map(|g| pb::SupplyByRegion { region: g.key.clone(), totals: Some(totals(&g.totals)) })
                .collect(),
            by_vintage: supply
                .by_vintage
                .iter()
                .map(|g| pb::SupplyByVintage { vintage: g.key.parse().unwrap_or(0), totals: Some(totals(&g.totals)) })
                .collect(),
            by_project: supply
                .by_project
                .iter()
                .map(|g| pb::SupplyByProject { project: g.key.clone(), totals: Some(totals(&g.totals)) })
                .collect(),
            height: supply.height,
        }))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let req = request.into_inner();
        let filter = view::AccountFilter {
            role: bct_proto::role_filter(req.role.unwrap_or(0), "role").map_err(filter_error)?,
            status: match pb::list_accounts_request::Status::try_from(req.status) {
                Ok(pb::list_accounts_request::Status::Any) => None,
                Ok(pb::list_accounts_request::Status::Admitted) => Some("admitted".into()),
                Ok(pb::list_accounts_request::Status::Suspended) => Some("suspended".into()),
                Ok(pb::list_accounts_request::Status::Frozen) => Some("frozen".into()),
                Err(_) => {
                    return Err(Status::invalid_argument(format!("status: {} is not a known status", req.status)))
                }
            },
            q: req.name_contains.filter(|q| !q.is_empty()),
        };
        let cursor = req.start_after.as_deref().map(|b| address(b, "start_after")).transpose()?;
        let ledger = self.chain.read().await;
        let (accounts, next) = view::find_accounts(ledger.state(), &filter, cursor, page(req.limit));
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts.into_iter().map(pb::Account::from).collect(),
            next_start_after: next.map(|a| a.0.to_vec()),
        }))
    }

    async fn list_trades(
        &self,
        request: Request<pb::ListTradesRequest>,
    ) -> Result<Response<pb::ListTradesResponse>, Status> {
        let req = request.into_inner();
        let filter = TradeFilter {
            project: req.project.filter(|p| !p.is_empty()),
            ticket: req.ticket.filter(|t| !t.is_empty()),
            ecosystem: ecosystem_code(req.ecosystem, "ecosystem")?,
            from_ms: req.from_time_ms,
            until_ms: req.until_time_ms,
        };
        let cursor = req.start_after.map(|c| (c.height, c.index));
        let index = self.index.clone();
        let limit = page(req.limit);
        let (records, next) = tokio::task::spawn_blocking(move || index.trade_records(&filter, cursor, limit))
            .await
            .map_err(|e| Status::internal(format!("the trade list failed: {e}")))?
            .map_err(lookup_status)?;
        let mut trades = Vec::with_capacity(records.len());
        for t in records {
            trades.push(pb::TradeRecord {
                height: t.height,
                index: t.index,
                time_ms: t.time_ms,
                tx_id: hex_field(&t.tx, "trade tx")?,
                ecosystem: pb_ecosystem(&t.ecosystem),
                seller: t.seller.parse::<Address>().map(|a| a.0.to_vec()).unwrap_or_default(),
                buyer: t.buyer.parse::<Address>().map(|a| a.0.to_vec()).unwrap_or_default(),
                ticket: t.ticket,
                project: t.project,
                quantity_kg: t.quantity_kg,
                trade: Some(pb::Trade {
                    price_per_tonne_minor: t.price_per_tonne_minor,
                    currency: t.currency,
                    reference: t.reference,
                }),
            });
        }
        Ok(Response::new(pb::ListTradesResponse {
            trades,
            next_start_after: next.map(|(height, index)| pb::TradeCursor { height, index }),
        }))
    }

    async fn get_trade_volumes(
        &self,
        _request: Request<pb::GetTradeVolumesRequest>,
    ) -> Result<Response<pb::GetTradeVolumesResponse>, Status> {
        let volumes = self
            .index
            .volume_records()
            .map_err(lookup_status)?
            .into_iter()
            .map(|(ecosystem, currency, v)| pb::TradeVolume {
                ecosystem: pb_ecosystem(&ecosystem),
                currency,
                trades: v.trades,
                quantity_kg: v.kg,
                volume_weighted_price_per_tonne_minor: v.volume_weighted_price(),
            })
            .collect();
        Ok(Response::new(pb::GetTradeVolumesResponse { volumes }))
    }

    async fn lookup_serial(
        &self,
        request: Request<pb::LookupSerialRequest>,
    ) -> Result<Response<pb::LookupSerialResponse>, Status> {
        let serial = request.get_ref().serial;
        let ledger = self.chain.read().await;
        let (ticket, lot, retirement) = view::find_serial(ledger.state(), serial).map_err(lookup_status)?;
        Ok(Response::new(pb::LookupSerialResponse {
            ticket: Some(ticket.into()),
            lot: Some(lot.into()),
            retirement: retirement.map(pb::Retirement::from),
        }))
    }

    async fn search_retirements(
        &self,
        request: Request<pb::SearchRetirementsRequest>,
    ) -> Result<Response<pb::SearchRetirementsResponse>, Status> {
        let req = request.into_inner();
        let filter = view::RetirementFilter {
            beneficiary: req.beneficiary_contains.filter(|b| !b.is_empty()),
            purpose: bct_proto::purpose_filter(req.purpose, "purpose").map_err(filter_error)?,
            project: req.project.filter(|p| !p.is_empty()),
            ticket: req.ticket.filter(|t| !t.is_empty()),
            ecosystem: bct_proto::ecosystem_filter(req.ecosystem, "ecosystem").map_err(filter_error)?,
            jurisdiction: req.jurisdiction.filter(|j| !j.is_empty()),
            from_ms: req.from_time_ms,
            until_ms: req.until_time_ms,
        };
        let ledger = self.chain.read().await;
        let state = ledger.state();
        let (found, next) = self.index.with_retirement_rows(state, |rows| {
            view::find_retirements(state, rows, &filter, req.before, page(req.limit))
        });
        Ok(Response::new(pb::SearchRetirementsResponse {
            retirements: found.into_iter().map(pb::Retirement::from).collect(),
            next_before: next,
        }))
    }

    async fn get_retirement_certificate(
        &self,
        request: Request<pb::GetRetirementCertificateRequest>,
    ) -> Result<Response<pb::GetRetirementCertificateResponse>, Status> {
        let id = request.get_ref().retirement_id;
        let ledger = self.chain.read().await;
        let retirement = ledger.state().retirements.get(&id).ok_or_else(|| not_found(format!("retirement {id}")))?;
        let (tx, result, loc) = ledger
            .transaction(&retirement.tx)
            .map_err(storage)?
            .ok_or_else(|| Status::internal(format!("the transaction of retirement {id} is missing")))?;
        let block = ledger.block(loc.height).map_err(storage)?.ok_or_else(|| Status::internal("block missing"))?;
        let results = ledger.results(loc.height).map_err(storage)?.unwrap_or_default();
        let index = loc.index as usize;
        let tx_leaves: Vec<Hash> = block.txs.iter().map(|t| merkle_leaf(&t.id().0)).collect();
        let result_leaves = block::result_leaves(&results);
        let proof = |leaves: &[Hash]| {
            merkle_path(leaves, index).map(|path| pb::MerkleProof {
                index: loc.index,
                count: leaves.len() as u32,
                path: path.iter().map(|h| h.0.to_vec()).collect(),
            })
        };
        let (Some(tx_proof), Some(result_proof)) = (proof(&tx_leaves), proof(&result_leaves)) else {
            return Err(Status::internal("the transaction's index is outside its block"));
        };
        let validator_set_history = set_history(&ledger, loc.height)?;
        let commit = Chain::certificate(&ledger, loc.height)
            .map_err(storage)?
            .ok_or_else(|| Status::internal(format!("the commit certificate of block {} is missing", loc.height)))?;
        let validators =
            validators_for(&ledger, &block.header.validator_set_hash).map_err(storage)?.ok_or_else(|| {
                Status::failed_precondition(format!(
                "this node no longer has the validator set that decided block {}; ask a node that synced from genesis",
                loc.height
            ))
            })?;
        let certificate = pb::RetirementCertificate {
            chain_id: ledger.chain_id().to_string(),
            tx: Some(bct_proto::signed_tx_to_pb(&tx)),
            result: Some((&result).into()),
            header: Some((&block.header).into()),
            tx_proof: Some(tx_proof),
            result_proof: Some(result_proof),
            commit: Some(commit),
            validators: validators.iter().map(pb::Validator::from).collect(),
            retirement: Some(retirement.into()),
            validator_set_history,
        };
        let certificate_bytes = certificate.encode_to_vec();
        Ok(Response::new(pb::GetRetirementCertificateResponse { certificate: Some(certificate), certificate_bytes }))
    }

    async fn get_network_status(
        &self,
        _request: Request<pb::GetNetworkStatusRequest>,
    ) -> Result<Response<pb::GetNetworkStatusResponse>, Status> {
        let ledger = self.chain.read().await;
        let head = ledger.head();
        Ok(Response::new(pb::GetNetworkStatusResponse {
            chain_id: ledger.chain_id().to_string(),
            height: head.height,
            latest_block_hash: head.hash().0.to_vec(),
            latest_block_time_ms: head.time_ms,
            state_root: head.state_root.0.to_vec(),
            validators: ledger.validators().iter().map(pb::Validator::from).collect(),
            peers: self.network.peers(),
            role: self.network.role().into(),
            mempool_size: self.submitter.mempool_len() as u32,
            node_id: self.network.node_id().to_string(),
        }))
    }
}
