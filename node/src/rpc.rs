//! The gRPC server: the `Transactions` and `Events` services, `Query` (see [`crate::query`]),
//! `grpc.health.v1` and server reflection, with limits on message sizes, concurrent requests
//! and event streams. Every error is a gRPC status whose message says what was wrong.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bct_ledger::Hash;
use bct_proto::pb;
use bct_proto::pb::events_server::{Events, EventsServer};
use bct_proto::pb::query_server::QueryServer;
use bct_proto::pb::transactions_server::{Transactions, TransactionsServer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{debug, info};

use crate::chain::Chain;
use crate::config::GrpcConfig;
use crate::error::NodeError;
use crate::limits::{ConnectionLimiter, LimitedIncoming, RateLimiter};
use crate::metrics::Metrics;
use crate::query::QueryService;
use crate::submit::{SubmitError, Submitter, TxState, FORWARDED_HEADER};

/// Wait of a `Submit` that asks to wait without saying how long.
const SUBMIT_WAIT_DEFAULT: Duration = Duration::from_secs(10);
/// Concurrent requests on one connection.
const REQUESTS_PER_CONNECTION_MAX: usize = 128;
/// Block events buffered per subscriber before the stream waits for the client.
const EVENTS_BUFFER_MAX: usize = 16;

impl From<SubmitError> for Status {
    /// Every refusal carries the rich error model (`google.rpc.Status` in the details, with an
    /// `ErrorInfo` whose reason is stable, and the `bct.v1.Rejection` when the ledger refused).
    fn from(e: SubmitError) -> Status {
        use crate::mempool::MempoolError;
        use bct_proto::status::rich;
        use tonic::Code;
        let msg = e.to_string();
        let reason = e.reason();
        match e {
            SubmitError::TooLarge { size, max } => {
                rich(Code::InvalidArgument, msg, reason, &[("size", size.to_string()), ("max", max.to_string())], None)
            }
            SubmitError::BadSignature => rich(Code::InvalidArgument, msg, reason, &[], None),
            SubmitError::Rejected(r) => rich(
                Code::FailedPrecondition,
                msg,
                reason,
                &[("rejection_code", r.code().to_string())],
                Some(&pb::Rejection::from(&r)),
            ),
            SubmitError::NonceUsed { nonce, by, height, next } => {
                // As the ledger's stale-nonce rejection, for programs.
                let r = bct_ledger::Rejection::StaleNonce { expected: next, got: nonce };
                rich(
                    Code::FailedPrecondition,
                    msg,
                    reason,
                    &[
                        ("nonce", nonce.to_string()),
                        ("tx_id", by.to_string()),
                        ("height", height.to_string()),
                        ("next_nonce", next.to_string()),
                    ],
                    Some(&pb::Rejection::from(&r)),
                )
            }
            SubmitError::Mempool(MempoolError::Full { txs_max, bytes_max, .. }) => rich(
                Code::ResourceExhausted,
                msg,
                reason,
                &[("txs_max", txs_max.to_string()), ("bytes_max", bytes_max.to_string())],
                None,
            ),
            SubmitError::Mempool(MempoolError::NonceTaken { nonce, other, .. }) => rich(
                Code::AlreadyExists,
                msg,
                reason,
                &[("nonce", nonce.to_string()), ("tx_id", other.to_string())],
                None,
            ),
            SubmitError::Mempool(MempoolError::NonceTooFarAhead { expected, got, max, .. }) => rich(
                Code::FailedPrecondition,
                msg,
                reason,
                &[("nonce", got.to_string()), ("next_nonce", expected.to_string()), ("window", max.to_string())],
                None,
            ),
            SubmitError::Mempool(MempoolError::StaleNonce { expected, got, .. }) => {
                let r = bct_ledger::Rejection::StaleNonce { expected, got };
                rich(
                    Code::FailedPrecondition,
                    msg,
                    reason,
                    &[("nonce", got.to_string()), ("next_nonce", expected.to_string())],
                    Some(&pb::Rejection::from(&r)),
                )
            }
            SubmitError::Internal(_) => rich(Code::Internal, msg, reason, &[], None),
        }
    }
}

/// A 32-byte id from a request field.
pub(crate) fn hash_field(bytes: &[u8], field: &str) -> Result<Hash, Status> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Status::invalid_argument(format!("{field}: expected 32 bytes, got {}", bytes.len())))?;
    Ok(Hash(arr))
}

fn status_of(state: TxState) -> (pb::TxStatus, Option<pb::Committed>) {
    match state {
        TxState::Pending => (pb::TxStatus::Pending, None),
        TxState::Committed(c) => (pb::TxStatus::Committed, Some(c)),
        TxState::Unknown => (pb::TxStatus::Unknown, None),
    }
}

/// The answer for a transaction of a batch that was refused with `status`.
fn refused(tx_id: Vec<u8>, status: &Status) -> pb::SubmitResult {
    pb::SubmitResult {
        tx_id,
        status: pb::TxStatus::Unspecified.into(),
        code: status.code() as u32,
        message: status.message().to_string(),
        rejection: None,
    }
}

/// The `Transactions` service.
pub struct TransactionsService {
    submitter: Submitter,
    wait_max: Duration,
}

#[tonic::async_trait]
impl Transactions for TransactionsService {
    async fn submit(&self, request: Request<pb::SubmitRequest>) -> Result<Response<pb::SubmitResponse>, Status> {
        let forwarded = request.metadata().contains_key(FORWARDED_HEADER);
        let req = request.into_inner();
        let tx = bct_proto::signed_tx_from_pb(req.tx.ok_or_else(|| Status::invalid_argument("tx: missing"))?)?;
        let id = tx.id();
        let state = if req.wait_for_commit {
            let wait = match req.timeout_ms {
                0 => SUBMIT_WAIT_DEFAULT,
                ms => Duration::from_millis(u64::from(ms)),
            }
            .min(self.wait_max);
            self.submitter.submit_and_wait(tx, forwarded, wait).await?
        } else {
            self.submitter.submit(tx, forwarded).await?
        };
        let (status, committed) = status_of(state);
        Ok(Response::new(pb::SubmitResponse { tx_id: id.0.to_vec(), status: status.into(), committed }))
    }

    async fn submit_batch(
        &self,
        request: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        use crate::submit::SUBMIT_BATCH_TXS_MAX;
        let forwarded = request.metadata().contains_key(FORWARDED_HEADER);
        let req = request.into_inner();
        if req.txs.len() > SUBMIT_BATCH_TXS_MAX {
            return Err(Status::invalid_argument(format!(
                "txs: {} transactions in one batch; at most {SUBMIT_BATCH_TXS_MAX}",
                req.txs.len()
            )));
        }
        // Unreadable transactions are answered in place; the rest are admitted together.
        let mut results: Vec<Option<pb::SubmitResult>> = Vec::with_capacity(req.txs.len());
        let mut readable = Vec::new();
        for signed in req.txs {
            match bct_proto::signed_tx_from_pb(signed) {
                Ok(tx) => {
                    readable.push(tx);
                    results.push(None);
                }
                Err(e) => {
                    let status = Status::from(e);
                    results.push(Some(refused(Vec::new(), &status)));
                }
            }
        }
        let ids: Vec<Vec<u8>> = readable.iter().map(|t| t.id().0.to_vec()).collect();
        let answers = self.submitter.submit_batch(readable, forwarded).await;
        let mut answers = ids.into_iter().zip(answers);
        let results = results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    let (id, answer) = answers.next().expect("one answer per readable transaction");
                    match answer {
                        Ok(state) => {
                            let (status, _) = status_of(state);
                            pb::SubmitResult { tx_id: id, status: status.into(), ..Default::default() }
                        }
                        Err(e) => {
                            let rejection = match &e {
                                SubmitError::Rejected(r) => Some(pb::Rejection::from(r)),
                                _ => None,
                            };
                            let mut r = refused(id, &Status::from(e));
                            r.rejection = rejection;
                            r
                        }
                    }
                })
            })
            .collect();
        Ok(Response::new(pb::SubmitBatchResponse { results }))
    }

    async fn get_tx_status(
        &self,
        request: Request<pb::GetTxStatusRequest>,
    ) -> Result<Response<pb::GetTxStatusResponse>, Status> {
        let id = hash_field(&request.get_ref().tx_id, "tx_id")?;
        let (status, committed) = status_of(self.submitter.status(&id).await?);
        Ok(Response::new(pb::GetTxStatusResponse { tx_id: id.0.to_vec(), status: status.into(), committed }))
    }
}

/// How far past the chain's height a subscription may start: a stream waiting for a height
/// the chain will not reach for days would hold its slot for nothing.
pub const SUBSCRIBE_AHEAD_MAX: u64 = 1_000;

/// The `Events` service.
pub struct EventsService {
    chain: Arc<Chain>,
    streams: Arc<Semaphore>,
    per_client: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    per_client_max: usize,
    metrics: Arc<Metrics>,
}

/// One client's hold on an event stream: released (and forgotten at zero) when dropped.
struct ClientStream {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock() {
            if let Some(n) = counts.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&self.ip);
                }
            }
        }
    }
}

impl EventsService {
    /// Takes one of `ip`'s stream slots, or says why not.
    fn client_slot(&self, ip: std::net::IpAddr) -> Result<ClientStream, Status> {
        let mut counts = self.per_client.lock().map_err(|_| Status::internal("event stream counts poisoned"))?;
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.per_client_max {
            self.metrics.refused("event_streams");
            return Err(Status::resource_exhausted(format!(
                "{ip} already holds {} event streams, the most one client may; close one first",
                self.per_client_max
            )));
        }
        *n += 1;
        Ok(ClientStream { counts: self.per_client.clone(), ip })
    }
}

/// The event of committed block `height`, if it is committed.
async fn block_event(chain: &Chain, height: u64) -> Result<Option<pb::BlockEvent>, Status> {
    let ledger = chain.read().await;
    let internal = |e: bct_ledger::StoreError| Status::internal(format!("reading block {height}: {e}"));
    let Some(block) = ledger.block(height).map_err(internal)? else { return Ok(None) };
    let results = ledger.results(height).map_err(internal)?.unwrap_or_default();
    Ok(Some(pb::BlockEvent {
        header: Some((&block.header).into()),
        results: results.iter().map(pb::TxResult::from).collect(),
        tx_ids: block.txs.iter().map(|t| t.id().0.to_vec()).collect(),
    }))
}

#[tonic::async_trait]
impl Events for EventsService {
    type SubscribeStream = ReceiverStream<Result<pb::BlockEvent, Status>>;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let head = self.chain.height();
        let mut next = request.get_ref().from_height;
        if next > head + SUBSCRIBE_AHEAD_MAX {
            return Err(Status::out_of_range(format!(
                "from_height {next} is more than {SUBSCRIBE_AHEAD_MAX} blocks past this node's height {head}; \
                 subscribe from a nearer height"
            )));
        }
        let client = match request.remote_addr() {
            Some(addr) => Some(self.client_slot(addr.ip())?),
            None => None,
        };
        let permit = self.streams.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(
                "this node serves its maximum number of event streams; retry later or use another node",
            )
        })?;
        let chain = self.chain.clone();
        let (tx, rx) = mpsc::channel(EVENTS_BUFFER_MAX);
        tokio::spawn(async move {
            let (_permit, _client) = (permit, client);
            let mut heights = chain.watch_height();
            loop {
                let head = *heights.borrow_and_update();
                // Stored blocks first, then each new one as it is committed.
                while next <= head {
                    let event = match block_event(&chain, next).await {
                        Ok(Some(e)) => Ok(e),
                        Ok(None) => Err(Status::internal(format!("block {next} is missing from the store"))),
                        Err(s) => Err(s),
                    };
                    let failed = event.is_err();
                    if tx.send(event).await.is_err() || failed {
                        return;
                    }
                    next += 1;
                }
                tokio::select! {
                    changed = heights.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Starts the gRPC server on `config.listen_addr`; returns the bound address and its task.
pub async fn serve(
    config: &GrpcConfig,
    tls: Option<&crate::tls::NodeTls>,
    submitter: Submitter,
    query: QueryService,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<(), NodeError>>), NodeError> {
    let listener = TcpListener::bind(config.listen_addr).await.map_err(|e| {
        NodeError::Config(format!("cannot listen for gRPC on {} ([grpc] listen_addr): {e}", config.listen_addr))
    })?;
    let bound = listener.local_addr()?;
    let chain = submitter.chain().clone();
    let size = config.message_bytes_max;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<TransactionsServer<TransactionsService>>().await;
    health.set_serving::<QueryServer<QueryService>>().await;
    health.set_serving::<EventsServer<EventsService>>().await;
    // Both reflection versions: grpcurl and newer clients speak v1, Python's grpcio-reflection
    // and many older tools speak v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(bct_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder().build_v1().map_err(|e| NodeError::Grpc(format!("reflection: {e}")))?;
    let reflection_v1alpha =
        reflection_builder().build_v1alpha().map_err(|e| NodeError::Grpc(format!("reflection (v1alpha): {e}")))?;

    let transactions = TransactionsServer::new(TransactionsService {
        submitter,
        wait_max: Duration::from_millis(config.submit_wait_ms_max),
    })
    .max_decoding_message_size(size)
    .max_encoding_message_size(size);
    let events = EventsServer::new(EventsService {
        chain,
        streams: Arc::new(Semaphore::new(config.event_streams_max)),
        per_client: Arc::default(),
        per_client_max: config.event_streams_per_client_max,
        metrics: metrics.clone(),
    })
    .max_decoding_message_size(size)
    .max_encoding_message_size(size);
    let query = QueryServer::new(query).max_decoding_message_size(size).max_encoding_message_size(size);

    // Longer than the longest Submit wait; streams are not cut (their response starts at once).
    let timeout = Duration::from_millis(config.submit_wait_ms_max) + Duration::from_secs(10);
    let mut builder = tonic::transport::Server::builder();
    if let Some(t) = tls {
        builder = builder.tls_config(t.server()).map_err(|e| {
            NodeError::Config(format!("[grpc.tls] in config.toml: the certificate or key is unusable: {e}"))
        })?;
    }
    let router = builder
        .concurrency_limit_per_connection(REQUESTS_PER_CONNECTION_MAX)
        .timeout(timeout)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(GuardLayer::new(config.requests_per_second_per_client, metrics.clone()))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(config.concurrent_requests_max))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(transactions)
        .add_service(query)
        .add_service(events);
    info!(
        %bound,
        tls = match tls {
            None => "off",
            Some(t) if t.requires_client_certificates() => "on, client certificates required",
            Some(_) => "on",
        },
        "gRPC API listening (bct.v1.Transactions, Query, Events; grpc.health.v1; reflection)"
    );
    let connections = ConnectionLimiter::new(config.connections_per_client_max);
    let incoming = LimitedIncoming::new(listener, connections, move |peer| {
        metrics.refused("connections");
        debug!(%peer, "gRPC: the client holds grpc.connections_per_client_max connections; closing a new one");
    });
    let task = tokio::spawn(async move {
        router.serve_with_incoming_shutdown(incoming, shutdown).await.map_err(|e| NodeError::Grpc(e.to_string()))
    });
    Ok((bound, task))
}

impl TransactionsService {
    /// The service over `submitter`, waiting at most `wait_max` for commits.
    pub fn new(submitter: Submitter, wait_max: Duration) -> TransactionsService {
        TransactionsService { submitter, wait_max }
    }
}

/// The name of a gRPC status code as the gRPC specification writes it (`NOT_FOUND`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The gRPC server's outer layer: a request rate per client address
/// (`grpc.requests_per_second_per_client`, more get `RESOURCE_EXHAUSTED` at once), and the
/// request and error counters of every method.
#[derive(Clone)]
pub struct GuardLayer {
    rate: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
}

impl GuardLayer {
    /// `per_second` requests a second per client address, counted in `metrics`.
    pub fn new(per_second: u32, metrics: Arc<Metrics>) -> GuardLayer {
        GuardLayer { rate: Arc::new(RateLimiter::new(per_second)), metrics }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard { inner, rate: self.rate.clone(), metrics: self.metrics.clone() }
    }
}

/// See [`GuardLayer`].
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    rate: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
}

type HttpResponse = tonic::codegen::http::Response<tonic::body::Body>;

impl<S, B> tower::Service<tonic::codegen::http::Request<B>> for Guard<S>
where
    S: tower::Service<tonic::codegen::http::Request<B>, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_string();
        let extensions = request.extensions();
        let client = extensions
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|i| i.remote_addr())
            .or_else(|| {
                extensions
                    .get::<tonic::transport::server::TlsConnectInfo<tonic::transport::server::TcpConnectInfo>>()
                    .and_then(|i| i.get_ref().remote_addr())
            })
            .map(|a| a.ip());
        if let Some(ip) = client {
            if !self.rate.allow(ip) {
                self.metrics.refused("requests_per_second");
                let status = bct_proto::status::rich(
                    tonic::Code::ResourceExhausted,
                    format!(
                        "too many requests from {ip}: at most {} per second (grpc.requests_per_second_per_client); \
                         wait a moment and retry, or send transactions in batches (SubmitBatch)",
                        self.rate.per_second()
                    ),
                    "RATE_LIMITED",
                    &[("limit", self.rate.per_second().to_string())],
                    None,
                );
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        }
        // The service that was polled ready answers this request; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let response = inner.call(request).await?;
            // An error before any message is a trailers-only response: grpc-status in the
            // headers. (An error at the end of a stream is not counted.)
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map(tonic::Code::from_i32)
                .unwrap_or(tonic::Code::Ok);
            // A path no service serves is not a label: anyone can make up paths.
            let method = if code == tonic::Code::Unimplemented { "unknown".to_string() } else { path };
            metrics.grpc_requests.get_or_create(&vec![("method".to_string(), method.clone())]).inc();
            if code != tonic::Code::Ok {
                metrics
                    .grpc_errors
                    .get_or_create(&vec![
                        ("method".to_string(), method),
                        ("code".to_string(), code_name(code).to_string()),
                    ])
                    .inc();
            }
            Ok(response)
        })
    }
}
