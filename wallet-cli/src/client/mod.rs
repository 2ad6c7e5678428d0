//! Talk to a bct node over gRPC: build, sign and submit every transaction kind, run every query,
//! follow committed blocks, and check retirement certificates offline.
//!
//! The wallet CLI, the testnet tool and the end-to-end tests all go through [`Client`], so a
//! request is built in one place. Answers are converted to `bct-ledger` types at this edge
//! (checked field by field by `bct-proto`); errors are [`ClientError`]s that say what to do.

// Certificate files and commit verification live in `bct-proto`, shared with the node's web view.
pub use bct_proto::certificate;
pub use bct_proto::commit as consensus;
mod error;
pub mod web;

use std::time::Duration;

use bct_ledger::state::Totals;
use bct_ledger::types::{Account, Attestation, Ecosystem, Lot, Project, Retirement, Ticket, Validator};
use bct_ledger::{Accepted, Address, Block, BlockHeader, Hash, SignedTx, TxBody, TxId, TxKind, TxResult};
use bct_proto::pb;
use bct_proto::pb::events_client::EventsClient;
use bct_proto::pb::query_client::QueryClient;
use bct_proto::pb::transactions_client::TransactionsClient;
use bct_proto::IntoLedger;
use ed25519_dalek::SigningKey;
use tonic::transport::{Channel, Endpoint};

pub use consensus::CommitCertificate;
pub use error::ClientError;

/// The node the wallet talks to when neither `--node` nor `BCT_NODE` says otherwise: the gRPC
/// address `bct-node dev` and `bct-node init` listen on by default.
pub const DEFAULT_NODE_URL: &str = "http://127.0.0.1:9090";
/// How long to wait for a TCP and HTTP/2 connection to the node.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// How long to wait for the answer to a query.
pub const QUERY_TIMEOUT_MS: u64 = 30_000;
/// Added to the commit wait of a submission to get the time allowed for its answer (the node
/// answers `PENDING` when its own wait ends, so the client must wait a little longer).
pub const SUBMIT_TIMEOUT_MARGIN_MS: u64 = 15_000;
/// The commit wait assumed when the request leaves it to the node (the node's default is 10 s;
/// its configured maximum may be longer).
pub const SUBMIT_WAIT_ASSUMED_MS: u64 = 60_000;
/// Largest answer accepted from a node (a block holds at most a few MiB of transactions).
pub const RESPONSE_BYTES_MAX: usize = 64 << 20;
/// Items asked for per page of a listing.
pub const PAGE_ITEMS: u32 = 500;
/// Most items gathered by one listing call before it stops and reports that more exist.
pub const LIST_ITEMS_MAX: usize = 100_000;
/// Most pages read by one listing call.
pub const LIST_PAGES_MAX: usize = 10_000;

/// Blocks a transaction stays includable when no expiry is asked for: about a quarter of an
/// hour at a block a second, long enough to wait out a busy network, short enough that signed
/// bytes lying around do not stay valid for good.
pub const DEFAULT_EXPIRY_BLOCKS: u64 = 1_000;

/// How a transaction is signed and submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOptions {
    /// The nonce to sign with; `None` asks the node for the signer's next nonce.
    pub nonce: Option<u64>,
    /// Last height at which the transaction may be included: `None` signs with the node's
    /// height + [`DEFAULT_EXPIRY_BLOCKS`], `Some(0)` with no expiry (a transaction that never
    /// expires can be submitted by anyone, any time, until its nonce is used).
    pub expiry_height: Option<u64>,
    /// The chain id to sign for; `None` asks the node.
    pub chain_id: Option<String>,
    /// Wait until the transaction is committed (the default), or return once it is admitted.
    pub wait_for_commit: bool,
    /// How long the node should wait for the commit, in ms; 0 leaves it to the node.
    pub wait_timeout_ms: u32,
}

impl Default for TxOptions {
    fn default() -> TxOptions {
        TxOptions { nonce: None, expiry_height: None, chain_id: None, wait_for_commit: true, wait_timeout_ms: 0 }
    }
}

/// Where a committed transaction is, and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// Accepted (with what it created) or rejected (with why).
    pub result: TxResult,
}

/// Where a transaction is known to be, as the node answering sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Neither pending nor committed on that node (never seen, dropped, or expired).
    Unknown,
    /// In the mempool, waiting to be included.
    Pending,
    /// In a committed block.
    Committed(Committed),
}

/// The answer to a submission the ledger did not reject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction id.
    pub tx_id: TxId,
    /// The nonce it was signed with.
    pub nonce: u64,
    /// `Pending` when not waiting, or when the commit did not come within the wait;
    /// `Committed` with an accepted result otherwise (a rejection is a [`ClientError::Rejected`]).
    pub status: TxStatus,
}

impl Receipt {
    /// The committed place and what the transaction created, if it is committed.
    pub fn accepted(&self) -> Option<(&Committed, &Accepted)> {
        match &self.status {
            TxStatus::Committed(c) => c.result.outcome.as_ref().ok().map(|a| (c, a)),
            _ => None,
        }
    }
}

/// An account and the nonce its next transaction must use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account.
    pub account: Account,
    /// Its next nonce (committed state).
    pub next_nonce: u64,
    /// The nonce to sign with next when the node holds some of its transactions waiting.
    pub next_nonce_after_pending: u64,
}

/// A ticket with its lots and the attestations behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketInfo {
    /// The ticket.
    pub ticket: Ticket,
    /// Every lot of the ticket, by first serial.
    pub lots: Vec<Lot>,
    /// The attestations of its project, report and period.
    pub attestations: Vec<Attestation>,
}

/// A block with its results and commit certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block.
    pub block: Block,
    /// One result per transaction, in order.
    pub results: Vec<TxResult>,
    /// The precommits that decided it; `None` for the genesis block.
    pub commit: Option<CommitCertificate>,
}

/// A committed transaction with its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionInfo {
    /// The transaction as signed.
    pub tx: SignedTx,
    /// Where it is and what it did.
    pub committed: Committed,
}

/// Totals by lot state, and broken down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supply {
    /// All tickets.
    pub totals: Totals,
    /// By project ecosystem.
    pub by_ecosystem: Vec<(Ecosystem, Totals)>,
    /// By project region code.
    pub by_region: Vec<(String, Totals)>,
    /// By vintage (the year a monitoring period ends).
    pub by_vintage: Vec<(u32, Totals)>,
    /// By project id.
    pub by_project: Vec<(String, Totals)>,
    /// The height these totals are at.
    pub height: u64,
}

/// Whether the answering node votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    /// A consensus validator.
    Validator,
    /// A full node that verifies and serves, and does not vote.
    Observer,
}

impl NodeRole {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Validator => "validator",
            NodeRole::Observer => "observer",
        }
    }
}

/// A consensus peer of the answering node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// libp2p peer id.
    pub id: String,
    /// Multiaddress or host:port.
    pub address: String,
    /// Whether a connection is up.
    pub connected: bool,
}

/// Chain head, validators, peers and mempool of the answering node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkStatus {
    /// Chain id.
    pub chain_id: String,
    /// Latest committed height.
    pub height: u64,
    /// Its header hash.
    pub latest_block_hash: Hash,
    /// Its time, ms since the Unix epoch.
    pub latest_block_time_ms: u64,
    /// The state root after it.
    pub state_root: Hash,
    /// The validator set that decides the next block.
    pub validators: Vec<Validator>,
    /// Consensus peers.
    pub peers: Vec<Peer>,
    /// The node's role, if it said.
    pub role: Option<NodeRole>,
    /// Transactions waiting in its mempool.
    pub mempool_size: u32,
    /// Its own peer id.
    pub node_id: String,
}

/// A transaction that concerns an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountTx {
    /// The transaction.
    pub tx: SignedTx,
    /// Where it is and what it did.
    pub committed: Committed,
}

/// Which retirements to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetirementQuery {
    /// Only this beneficiary's.
    pub beneficiary: Option<String>,
    /// Only this ticket's.
    pub ticket: Option<String>,
    /// Only at or above this height.
    pub from_height: Option<u64>,
    /// Only at or below this height.
    pub to_height: Option<u64>,
}

/// Items gathered from a paged listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing<T> {
    /// The items, in the node's order.
    pub items: Vec<T>,
    /// Whether the listing stopped at the limit asked for while more items exist.
    pub truncated: bool,
}

/// A committed block's header and what its transactions did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEvent {
    /// The header.
    pub header: BlockHeader,
    /// One result per transaction, in block order.
    pub results: Vec<TxResult>,
    /// The transaction ids, in block order.
    pub tx_ids: Vec<TxId>,
}

/// A stream of committed blocks from [`Client::subscribe`].
pub struct BlockEvents {
    url: String,
    inner: tonic::Streaming<pb::BlockEvent>,
}

impl BlockEvents {
    /// The next committed block; `None` when the node ends the stream.
    pub async fn next(&mut self) -> Result<Option<BlockEvent>, ClientError> {
        let Some(e) = self.inner.message().await.map_err(|s| ClientError::from_status(&self.url, s))? else {
            return Ok(None);
        };
        Ok(Some(BlockEvent {
            header: required(e.header, "block_event.header")?.into_ledger()?,
            results: e.results.into_iter().map(IntoLedger::into_ledger).collect::<Result<_, _>>()?,
            tx_ids: e.tx_ids.iter().map(|b| hash(b, "block_event.tx_ids")).collect::<Result<_, _>>()?,
        }))
    }
}

/// A connection to one bct node.
#[derive(Clone, Debug)]
pub struct Client {
    url: String,
    transactions: TransactionsClient<Channel>,
    query: QueryClient<Channel>,
    events: EventsClient<Channel>,
}

/// The words of a transport error and of every error under it.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, ClientError> {
    v.ok_or_else(|| ClientError::BadResponse(format!("{field}: missing")))
}

fn hash(bytes: &[u8], field: &str) -> Result<Hash, ClientError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ClientError::BadResponse(format!("{field}: expected 32 bytes, got {}", bytes.len())))?;
    Ok(Hash(arr))
}

fn committed_from_pb(c: pb::Committed) -> Result<Committed, ClientError> {
    Ok(Committed {
        height: c.height,
        index: c.index,
        time_ms: c.time_ms,
        result: required(c.result, "committed.result")?.into_ledger()?,
    })
}

fn status_from_pb(status: i32, committed: Option<pb::Committed>) -> Result<TxStatus, ClientError> {
    match pb::TxStatus::try_from(status) {
        Ok(pb::TxStatus::Unknown) => Ok(TxStatus::Unknown),
        Ok(pb::TxStatus::Pending) => Ok(TxStatus::Pending),
        Ok(pb::TxStatus::Committed) => Ok(TxStatus::Committed(committed_from_pb(required(committed, "committed")?)?)),
        _ => Err(ClientError::BadResponse(format!("status: unknown transaction status {status}"))),
    }
}

fn ecosystem_from_pb(v: i32) -> Result<Ecosystem, ClientError> {
    let e = match pb::Ecosystem::try_from(v) {
        Ok(pb::Ecosystem::Mangrove) => Ecosystem::Mangrove,
        Ok(pb::Ecosystem::SaltMarsh) => Ecosystem::SaltMarsh,
        Ok(pb::Ecosystem::Seagrass) => Ecosystem::Seagrass,
        Ok(pb::Ecosystem::SeaweedFarm) => Ecosystem::SeaweedFarm,
        Ok(pb::Ecosystem::ShellfishFarm) => Ecosystem::ShellfishFarm,
        Ok(pb::Ecosystem::Mudflat) => Ecosystem::Mudflat,
        Ok(pb::Ecosystem::WaterColumn) => Ecosystem::WaterColumn,
        Ok(pb::Ecosystem::Other) => Ecosystem::Other,
        _ => return Err(ClientError::BadResponse(format!("ecosystem: unknown value {v}"))),
    };
    Ok(e)
}

fn totals(t: Option<pb::Totals>, field: &str) -> Result<Totals, ClientError> {
    Ok(required(t, field)?.into_ledger()?)
}

fn convert_all<P: IntoLedger>(items: Vec<P>) -> Result<Vec<P::Ledger>, ClientError> {
    Ok(items.into_iter().map(IntoLedger::into_ledger).collect::<Result<_, _>>()?)
}

/// Pages a listing: calls `fetch(start_after, page_size)` until the node sends no cursor, the
/// `limit` is reached, the cursor stops moving, or [`LIST_PAGES_MAX`] pages were read (a
/// filtered page may be empty and still carry a cursor: the node bounds the records it scans).
async fn gather<T, C, F, Fut>(limit: usize, mut fetch: F) -> Result<Listing<T>, ClientError>
where
    C: PartialEq + Clone,
    F: FnMut(Option<C>, u32) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<C>), ClientError>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<C> = None;
    for _ in 0..LIST_PAGES_MAX {
        let wanted = limit.saturating_sub(items.len());
        let page = u32::try_from(wanted).unwrap_or(PAGE_ITEMS).clamp(1, PAGE_ITEMS);
        let (batch, next) = fetch(cursor.clone(), page).await?;
        items.extend(batch);
        match next {
            Some(next) if items.len() < limit && cursor.as_ref() != Some(&next) => cursor = Some(next),
            next => {
                let truncated = next.is_some() || items.len() > limit;
                items.truncate(limit);
                return Ok(Listing { items, truncated });
            }
        }
    }
    items.truncate(limit);
    Ok(Listing { items, truncated: true })
}

/// Builds, encodes and signs a transaction (`bct_proto::sign`): the one way this crate makes
/// the bytes a node receives.
pub fn sign_tx(key: &SigningKey, chain_id: &str, nonce: u64, expiry_height: u64, kind: TxKind) -> SignedTx {
    let signer = Address::from_public_key(&key.verifying_key().to_bytes());
    let body = TxBody { chain_id: chain_id.to_string(), signer, nonce, expiry_height, kind };
    bct_proto::sign(key, &body)
}

/// The address of a signing key.
pub fn address_of(key: &SigningKey) -> Address {
    Address::from_public_key(&key.verifying_key().to_bytes())
}

/// How long the first request to an `https://` node may take before the wallet says why not.
const TLS_PROBE_TIMEOUT_MS: u64 = 5_000;

impl Client {
    /// Connects to the node at `url` (e.g. [`DEFAULT_NODE_URL`]); fails at once, with a
    /// message saying what to check, if nothing answers there. An `https://` node is trusted
    /// through the system's root certificates.
    pub async fn connect(url: &str) -> Result<Client, ClientError> {
        Client::connect_tls(url, None).await
    }

    /// As [`Client::connect`]; an `https://` node's certificate must be signed by the CA in
    /// `ca_pem` (PEM), or by a system root when `None`.
    pub async fn connect_tls(url: &str, ca_pem: Option<&[u8]>) -> Result<Client, ClientError> {
        let bad = |reason: String| ClientError::BadUrl { url: url.to_string(), reason };
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            return Err(bad("it must start with http:// or https://".into()));
        }
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| bad(error_chain(&e)))?
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .http2_keep_alive_interval(Duration::from_secs(30));
        if https {
            let tls = tonic::transport::ClientTlsConfig::new();
            let tls = match ca_pem {
                Some(ca) => tls.ca_certificate(tonic::transport::Certificate::from_pem(ca)),
                None => tls.with_native_roots(),
            };
            endpoint = endpoint.tls_config(tls).map_err(|e| bad(error_chain(&e)))?;
        }
        let channel = endpoint.connect().await.map_err(|e| ClientError::Unreachable {
            url: url.to_string(),
            reason: error::tls_words(&error_chain(&e)).unwrap_or_else(|| error_chain(&e)),
        })?;
        let client = Client::with_channel(url, channel);
        if https {
            // With TLS 1.3 a node that requires client certificates accepts the handshake and
            // closes the connection right after: one short request tells that apart at once.
            let mut probe = tonic::Request::new(pb::GetNetworkStatusRequest {});
            probe.set_timeout(Duration::from_millis(TLS_PROBE_TIMEOUT_MS));
            if let Err(status) = client.query.clone().get_network_status(probe).await {
                let transport = matches!(
                    status.code(),
                    tonic::Code::Unknown
                        | tonic::Code::Cancelled
                        | tonic::Code::Unavailable
                        | tonic::Code::DeadlineExceeded
                );
                if transport {
                    let cause = error_chain(&status);
                    return Err(ClientError::Unreachable {
                        url: url.to_string(),
                        reason: error::tls_words(&cause).unwrap_or_else(|| {
                            format!(
                                "the node closed the TLS connection right after the handshake: it most likely requires \
                                 a client certificate (mutual TLS), which this wallet does not present; use a client \
                                 that holds one issued by the node's client CA ({cause})"
                            )
                        }),
                    });
                }
            }
        }
        Ok(client)
    }

    /// A client over an existing channel (e.g. one made with `Endpoint::connect_lazy`).
    pub fn with_channel(url: &str, channel: Channel) -> Client {
        Client {
            url: url.to_string(),
            transactions: TransactionsClient::new(channel.clone())
                .max_decoding_message_size(RESPONSE_BYTES_MAX)
                .max_encoding_message_size(RESPONSE_BYTES_MAX),
            query: QueryClient::new(channel.clone())
                .max_decoding_message_size(RESPONSE_BYTES_MAX)
                .max_encoding_message_size(RESPONSE_BYTES_MAX),
            events: EventsClient::new(channel).max_decoding_message_size(RESPONSE_BYTES_MAX),
        }
    }

    /// The node URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn status_error(&self, s: tonic::Status) -> ClientError {
        ClientError::from_status(&self.url, s)
    }

    fn query_request<T>(msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.set_timeout(Duration::from_millis(QUERY_TIMEOUT_MS));
        r
    }

    // ---- transactions ------------------------------------------------------------------------

    /// The nonce to sign the next transaction of `address` with: past its transactions waiting
    /// on the node.
    pub async fn next_nonce_after_pending(&self, address: &Address) -> Result<u64, ClientError> {
        match self.account(address).await {
            Ok(info) => Ok(info.next_nonce_after_pending),
            Err(ClientError::NotFound { .. }) => Err(ClientError::UnknownAccount { address: *address }),
            Err(e) => Err(e),
        }
    }

    /// The nonce the next transaction of `address` must use (committed state).
    pub async fn next_nonce(&self, address: &Address) -> Result<u64, ClientError> {
        match self.account(address).await {
            Ok(info) => Ok(info.next_nonce),
            Err(ClientError::NotFound { .. }) => Err(ClientError::UnknownAccount { address: *address }),
            Err(e) => Err(e),
        }
    }

    /// Signs `kind` with `key`: the chain id, nonce and expiry come from `options`, or from
    /// the node (the expiry: its height + [`DEFAULT_EXPIRY_BLOCKS`]).
    pub async fn sign(&self, key: &SigningKey, kind: TxKind, options: &TxOptions) -> Result<SignedTx, ClientError> {
        let (chain_id, expiry_height) = match (&options.chain_id, options.expiry_height) {
            (Some(c), Some(e)) => (c.clone(), e),
            (c, e) => {
                let s = self.network_status().await?;
                (c.clone().unwrap_or(s.chain_id), e.unwrap_or(s.height + DEFAULT_EXPIRY_BLOCKS))
            }
        };
        let nonce = match options.nonce {
            Some(n) => n,
            // Past the signer's transactions still waiting on the node, so a second transaction
            // while one is pending takes the next nonce instead of colliding with it.
            None => self.next_nonce_after_pending(&address_of(key)).await?,
        };
        Ok(sign_tx(key, &chain_id, nonce, expiry_height, kind))
    }

    /// Signs and submits `kind` (see [`Client::sign`] and [`Client::submit`]).
    pub async fn send(&self, key: &SigningKey, kind: TxKind, options: &TxOptions) -> Result<Receipt, ClientError> {
        let tx = self.sign(key, kind, options).await?;
        self.submit(&tx, options.wait_for_commit, options.wait_timeout_ms).await
    }

    /// Submits a signed transaction, waiting for its commit if `wait_for_commit` (for at most
    /// `wait_timeout_ms`, 0 leaving the wait to the node). A rejection, by the node's dry run or
    /// in a block, is [`ClientError::Rejected`] with the ledger's reason.
    pub async fn submit(
        &self,
        tx: &SignedTx,
        wait_for_commit: bool,
        wait_timeout_ms: u32,
    ) -> Result<Receipt, ClientError> {
        let tx_id = tx.id();
        let mut request = tonic::Request::new(pb::SubmitRequest {
            tx: Some(bct_proto::signed_tx_to_pb(tx)),
            wait_for_commit,
            timeout_ms: wait_timeout_ms,
        });
        let wait_ms = match (wait_for_commit, wait_timeout_ms) {
            (false, _) => 0,
            (true, 0) => SUBMIT_WAIT_ASSUMED_MS,
            (true, ms) => u64::from(ms),
        };
        request.set_timeout(Duration::from_millis(wait_ms + SUBMIT_TIMEOUT_MARGIN_MS));
        let response = self
            .transactions
            .clone()
            .submit(request)
            .await
            .map_err(|s| ClientError::from_submit_status(&self.url, tx_id, s))?
            .into_inner();
        if response.tx_id != tx_id.0 {
            return Err(ClientError::BadResponse(format!(
                "tx_id: the node answered for {}, not for the transaction sent ({tx_id})",
                hex::encode(&response.tx_id)
            )));
        }
        let status = status_from_pb(response.status, response.committed)?;
        if let TxStatus::Committed(c) = &status {
            if let Err(rejection) = &c.result.outcome {
                return Err(ClientError::Rejected {
                    tx_id,
                    rejection: Box::new(rejection.clone()),
                    height: Some(c.height),
                });
            }
        }
        Ok(Receipt { tx_id, nonce: tx.body().nonce, status })
    }

    /// Where a transaction is, as this node sees it.
    pub async fn tx_status(&self, tx_id: &TxId) -> Result<TxStatus, ClientError> {
        let r = self
            .transactions
            .clone()
            .get_tx_status(Client::query_request(pb::GetTxStatusRequest { tx_id: tx_id.0.to_vec() }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        status_from_pb(r.status, r.committed)
    }

    // ---- queries -----------------------------------------------------------------------------

    /// An account and its next nonce.
    pub async fn account(&self, address: &Address) -> Result<AccountInfo, ClientError> {
        let r = self
            .query
            .clone()
            .get_account(Client::query_request(pb::GetAccountRequest { address: address.0.to_vec() }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(AccountInfo {
            account: required(r.account, "account")?.into_ledger()?,
            next_nonce: r.next_nonce,
            next_nonce_after_pending: r.next_nonce_after_pending.max(r.next_nonce),
        })
    }

    /// The lots `holder` holds (of `ticket` only, if given), by ticket then first serial; at
    /// most `limit` of them.
    pub async fn lots(
        &self,
        holder: &Address,
        ticket: Option<&str>,
        limit: usize,
    ) -> Result<Listing<Lot>, ClientError> {
        gather(limit, |start_after, page| {
            let mut q = self.query.clone();
            let request = pb::ListLotsRequest {
                holder: holder.0.to_vec(),
                ticket: ticket.map(str::to_string),
                limit: page,
                start_after,
            };
            async move {
                let r =
                    q.list_lots(Client::query_request(request)).await.map_err(|s| self.status_error(s))?.into_inner();
                Ok((convert_all(r.lots)?, r.next_start_after))
            }
        })
        .await
    }

    /// A ticket with its lots and attestations.
    pub async fn ticket(&self, id: &str) -> Result<TicketInfo, ClientError> {
        let r = self
            .query
            .clone()
            .get_ticket(Client::query_request(pb::GetTicketRequest { id: id.to_string() }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(TicketInfo {
            ticket: required(r.ticket, "ticket")?.into_ledger()?,
            lots: convert_all(r.lots)?,
            attestations: convert_all(r.attestations)?,
        })
    }

    /// The tickets issued for a project, by id; at most `limit`.
    pub async fn tickets(&self, project: &str, limit: usize) -> Result<Listing<Ticket>, ClientError> {
        gather(limit, |start_after, page| {
            let mut q = self.query.clone();
            let request = pb::ListTicketsRequest { project: project.to_string(), limit: page, start_after };
            async move {
                let r = q
                    .list_tickets(Client::query_request(request))
                    .await
                    .map_err(|s| self.status_error(s))?
                    .into_inner();
                Ok((convert_all(r.tickets)?, r.next_start_after))
            }
        })
        .await
    }

    /// A project.
    pub async fn project(&self, id: &str) -> Result<Project, ClientError> {
        let r = self
            .query
            .clone()
            .get_project(Client::query_request(pb::GetProjectRequest { id: id.to_string() }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(required(r.project, "project")?.into_ledger()?)
    }

    /// All projects, by id; at most `limit`.
    pub async fn projects(&self, limit: usize) -> Result<Listing<Project>, ClientError> {
        gather(limit, |start_after, page| {
            let mut q = self.query.clone();
            let request = pb::ListProjectsRequest { limit: page, start_after };
            async move {
                let r = q
                    .list_projects(Client::query_request(request))
                    .await
                    .map_err(|s| self.status_error(s))?
                    .into_inner();
                Ok((convert_all(r.projects)?, r.next_start_after))
            }
        })
        .await
    }

    /// The attestations of a project, by report hash then verifier; at most `limit`.
    pub async fn attestations(&self, project: &str, limit: usize) -> Result<Listing<Attestation>, ClientError> {
        gather(limit, |start_after, page| {
            let mut q = self.query.clone();
            let request = pb::ListAttestationsRequest { project: project.to_string(), limit: page, start_after };
            async move {
                let r = q
                    .list_attestations(Client::query_request(request))
                    .await
                    .map_err(|s| self.status_error(s))?
                    .into_inner();
                Ok((convert_all(r.attestations)?, r.next_start_after))
            }
        })
        .await
    }

    /// Retirements, by id, filtered as `query` says; at most `limit`.
    pub async fn retirements(&self, query: &RetirementQuery, limit: usize) -> Result<Listing<Retirement>, ClientError> {
        use pb::list_retirements_request::Filter;
        let filter = match (&query.beneficiary, &query.ticket) {
            (Some(b), None) => Some(Filter::Beneficiary(b.clone())),
            (None, Some(t)) => Some(Filter::Ticket(t.clone())),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(ClientError::InvalidArgument {
                    message: "retirements can be listed by beneficiary or by ticket, not both at once".into(),
                })
            }
        };
        gather(limit, |start_after, page| {
            let mut q = self.query.clone();
            let request = pb::ListRetirementsRequest {
                from_height: query.from_height,
                to_height: query.to_height,
                limit: page,
                start_after,
                filter: filter.clone(),
            };
            async move {
                let r = q
                    .list_retirements(Client::query_request(request))
                    .await
                    .map_err(|s| self.status_error(s))?
                    .into_inner();
                Ok((convert_all(r.retirements)?, r.next_start_after))
            }
        })
        .await
    }

    /// A retirement by id.
    pub async fn retirement(&self, id: u64) -> Result<Retirement, ClientError> {
        let r = self
            .query
            .clone()
            .get_retirement(Client::query_request(pb::GetRetirementRequest { id }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(required(r.retirement, "retirement")?.into_ledger()?)
    }

    /// A block by height, or the latest.
    pub async fn block(&self, height: Option<u64>) -> Result<BlockInfo, ClientError> {
        let r = self
            .query
            .clone()
            .get_block(Client::query_request(pb::GetBlockRequest { height }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(BlockInfo {
            block: required(r.block, "block")?.into_ledger()?,
            results: convert_all(r.results)?,
            commit: r
                .commit
                .map(|c| CommitCertificate::from_pb(&c))
                .transpose()
                .map_err(|e| ClientError::BadResponse(format!("commit: {e}")))?,
        })
    }

    /// A committed transaction with its result.
    pub async fn transaction(&self, tx_id: &TxId) -> Result<TransactionInfo, ClientError> {
        let r = self
            .query
            .clone()
            .get_transaction(Client::query_request(pb::GetTransactionRequest { tx_id: tx_id.0.to_vec() }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(TransactionInfo {
            tx: bct_proto::signed_tx_from_pb(required(r.tx, "tx")?)?,
            committed: committed_from_pb(required(r.committed, "committed")?)?,
        })
    }

    /// The transactions that concern an account, newest first; at most `limit`.
    pub async fn account_transactions(
        &self,
        address: &Address,
        limit: usize,
    ) -> Result<Listing<AccountTx>, ClientError> {
        gather(limit, |start_after, page| {
            let mut q = self.query.clone();
            let request = pb::ListAccountTransactionsRequest { address: address.0.to_vec(), limit: page, start_after };
            async move {
                let r = q
                    .list_account_transactions(Client::query_request(request))
                    .await
                    .map_err(|s| self.status_error(s))?
                    .into_inner();
                let mut items = Vec::with_capacity(r.transactions.len());
                for t in r.transactions {
                    items.push(AccountTx {
                        tx: bct_proto::signed_tx_from_pb(required(t.tx, "transactions.tx")?)?,
                        committed: committed_from_pb(required(t.committed, "transactions.committed")?)?,
                    });
                }
                Ok((items, r.next_start_after))
            }
        })
        .await
    }

    /// Totals by lot state, by ecosystem, region and vintage.
    pub async fn supply(&self) -> Result<Supply, ClientError> {
        self.supply_at(None).await
    }

    /// Totals as they were after block `height` (`None`: now); the node keeps them per block.
    pub async fn supply_at(&self, height: Option<u64>) -> Result<Supply, ClientError> {
        let r = self
            .query
            .clone()
            .get_supply(Client::query_request(pb::GetSupplyRequest { height }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(Supply {
            totals: totals(r.totals, "totals")?,
            by_ecosystem: r
                .by_ecosystem
                .into_iter()
                .map(|e| Ok((ecosystem_from_pb(e.ecosystem)?, totals(e.totals, "by_ecosystem.totals")?)))
                .collect::<Result<_, ClientError>>()?,
            by_region: r
                .by_region
                .into_iter()
                .map(|e| Ok((e.region, totals(e.totals, "by_region.totals")?)))
                .collect::<Result<_, ClientError>>()?,
            by_vintage: r
                .by_vintage
                .into_iter()
                .map(|e| Ok((e.vintage, totals(e.totals, "by_vintage.totals")?)))
                .collect::<Result<_, ClientError>>()?,
            by_project: r
                .by_project
                .into_iter()
                .map(|e| Ok((e.project, totals(e.totals, "by_project.totals")?)))
                .collect::<Result<_, ClientError>>()?,
            height: r.height,
        })
    }

    /// The retirement certificate of retirement `id`, as the protobuf bytes of a
    /// `bct.v1.RetirementCertificate` (exactly as the node encoded them).
    pub async fn retirement_certificate_bytes(&self, id: u64) -> Result<Vec<u8>, ClientError> {
        let r = self
            .query
            .clone()
            .get_retirement_certificate(Client::query_request(pb::GetRetirementCertificateRequest {
                retirement_id: id,
            }))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        if !r.certificate_bytes.is_empty() {
            return Ok(r.certificate_bytes);
        }
        // A node that leaves `certificate_bytes` empty still sends the message.
        let cert = required(r.certificate, "certificate")?;
        Ok(prost::Message::encode_to_vec(&cert))
    }

    /// Chain head, validators, peers and mempool of this node.
    pub async fn network_status(&self) -> Result<NetworkStatus, ClientError> {
        let r = self
            .query
            .clone()
            .get_network_status(Client::query_request(pb::GetNetworkStatusRequest {}))
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(NetworkStatus {
            chain_id: r.chain_id,
            height: r.height,
            latest_block_hash: hash(&r.latest_block_hash, "latest_block_hash")?,
            latest_block_time_ms: r.latest_block_time_ms,
            state_root: hash(&r.state_root, "state_root")?,
            validators: convert_all(r.validators)?,
            peers: r.peers.into_iter().map(|p| Peer { id: p.id, address: p.address, connected: p.connected }).collect(),
            role: match pb::NodeRole::try_from(r.role) {
                Ok(pb::NodeRole::Validator) => Some(NodeRole::Validator),
                Ok(pb::NodeRole::Observer) => Some(NodeRole::Observer),
                _ => None,
            },
            mempool_size: r.mempool_size,
            node_id: r.node_id,
        })
    }

    // ---- events ------------------------------------------------------------------------------

    /// Follows committed blocks from `from_height` on (stored ones first, then new ones).
    pub async fn subscribe(&self, from_height: u64) -> Result<BlockEvents, ClientError> {
        let inner = self
            .events
            .clone()
            .subscribe(pb::SubscribeRequest { from_height })
            .await
            .map_err(|s| self.status_error(s))?
            .into_inner();
        Ok(BlockEvents { url: self.url.clone(), inner })
    }
}
