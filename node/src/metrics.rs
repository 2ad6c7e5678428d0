//! Prometheus metrics of the node (height, round, block time, committed transactions, mempool,
//! peers) and of the consensus engine, served as text on `GET /metrics` by a tiny HTTP/1.1
//! listener (no web framework: one route, bounded requests, a few connections at a time).

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, info};

use crate::error::NodeError;

/// Most bytes read of an HTTP request head.
const REQUEST_BYTES_MAX: usize = 8 * 1024;
/// Most metrics connections served at once.
const CONNECTIONS_MAX: usize = 16;
/// Time a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the exposition: OpenMetrics text, which is what the body is.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of a counter family, e.g. `[("method", "/bct.v1.Query/GetAccount")]`.
pub type Labels = Vec<(String, String)>;

/// The node's own metrics (prefix `bct_`, each labelled with the node's moniker), and the
/// process's (`process_*`).
pub struct Metrics {
    registry: Registry,
    /// Last committed height.
    pub height: Gauge,
    /// Current consensus round.
    pub round: Gauge,
    /// Time between the last two blocks' header times, in seconds.
    pub block_interval_seconds: Gauge<f64, AtomicU64>,
    /// Header time of the last block, in seconds since the Unix epoch.
    pub block_time_seconds: Gauge<f64, AtomicU64>,
    /// Transactions committed in blocks (accepted or rejected) since start.
    pub committed_txs: Counter,
    /// Blocks committed since start.
    pub committed_blocks: Counter,
    /// Transactions in the mempool.
    pub mempool_txs: Gauge,
    /// Bytes in the mempool.
    pub mempool_bytes: Gauge,
    /// Connected consensus peers.
    pub peers: Gauge,
    /// Peers in the node's configuration (`[[p2p.peers]]`).
    pub peers_configured: Gauge,
    /// Undecided blocks written and flushed before the engine learned of them.
    pub pending_flushes: Counter,
    /// Bytes of block data held in incomplete proposal streams from peers.
    pub proposal_stream_bytes: Gauge,
    /// gRPC requests answered, by method (`method` = the gRPC path; `unknown` for a path no
    /// service serves).
    pub grpc_requests: Family<Labels, Counter>,
    /// gRPC requests answered with an error status, by method and code name.
    pub grpc_errors: Family<Labels, Counter>,
    /// gRPC requests and connections refused by a per-client limit, by `limit`
    /// (`requests_per_second`, `connections`, `event_streams`).
    pub grpc_refused: Family<Labels, Counter>,
    /// Transactions refused at admission, by `reason` (the `ErrorInfo.reason` of the answer).
    pub admission_refused: Family<Labels, Counter>,
    process_cpu_seconds: Counter<f64, AtomicU64>,
    process_resident_memory_bytes: Gauge,
    process_open_fds: Gauge,
    process_start_time_seconds: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new("node")
    }
}

impl Metrics {
    /// A fresh set of metrics in its own registry, labelled `moniker="<moniker>"`.
    pub fn new(moniker: &str) -> Metrics {
        let mut root = Registry::with_labels(std::iter::once((
            std::borrow::Cow::Borrowed("moniker"),
            std::borrow::Cow::Owned(moniker.to_string()),
        )));
        let m = Metrics {
            registry: Registry::default(),
            height: Gauge::default(),
            round: Gauge::default(),
            block_interval_seconds: Gauge::default(),
            block_time_seconds: Gauge::default(),
            committed_txs: Counter::default(),
            committed_blocks: Counter::default(),
            mempool_txs: Gauge::default(),
            mempool_bytes: Gauge::default(),
            peers: Gauge::default(),
            peers_configured: Gauge::default(),
            pending_flushes: Counter::default(),
            proposal_stream_bytes: Gauge::default(),
            grpc_requests: Family::default(),
            grpc_errors: Family::default(),
            grpc_refused: Family::default(),
            admission_refused: Family::default(),
            process_cpu_seconds: Counter::default(),
            process_resident_memory_bytes: Gauge::default(),
            process_open_fds: Gauge::default(),
            process_start_time_seconds: Gauge::default(),
        };
        let start = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        m.process_start_time_seconds.set(start);
        root.register(
            "process_cpu_seconds",
            "User and system CPU time of the node process",
            m.process_cpu_seconds.clone(),
        );
        root.register(
            "process_resident_memory_bytes",
            "Resident memory of the node process",
            m.process_resident_memory_bytes.clone(),
        );
        root.register("process_open_fds", "Open file descriptors of the node process", m.process_open_fds.clone());
        root.register(
            "process_start_time_seconds",
            "When the node's metrics started (Unix seconds)",
            m.process_start_time_seconds.clone(),
        );
        let registry = root.sub_registry_with_prefix("bct");
        registry.register(
            "build",
            "The node's version",
            Info::new(vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]),
        );
        registry.register("height", "Last committed block height", m.height.clone());
        registry.register("round", "Current consensus round", m.round.clone());
        registry.register(
            "block_interval_seconds",
            "Time between the header times of the last two blocks",
            m.block_interval_seconds.clone(),
        );
        registry.register(
            "block_time_seconds",
            "Header time of the last block (Unix seconds)",
            m.block_time_seconds.clone(),
        );
        registry.register("committed_txs", "Transactions committed in blocks since start", m.committed_txs.clone());
        registry.register("committed_blocks", "Blocks committed since start", m.committed_blocks.clone());
        registry.register("mempool_txs", "Transactions waiting in the mempool", m.mempool_txs.clone());
        registry.register("mempool_bytes", "Bytes waiting in the mempool", m.mempool_bytes.clone());
        registry.register("peers", "Connected consensus peers", m.peers.clone());
        registry.register(
            "peers_configured",
            "Consensus peers in the node's configuration",
            m.peers_configured.clone(),
        );
        registry.register(
            "pending_flushes",
            "Undecided blocks written and flushed to storage before the engine learned of them",
            m.pending_flushes.clone(),
        );
        registry.register(
            "proposal_stream_bytes",
            "Bytes of block data held in incomplete proposal streams from peers",
            m.proposal_stream_bytes.clone(),
        );
        registry.register("grpc_requests", "gRPC requests answered, by method", m.grpc_requests.clone());
        registry.register(
            "grpc_errors",
            "gRPC requests answered with an error status, by method and code",
            m.grpc_errors.clone(),
        );
        registry.register(
            "grpc_refused",
            "gRPC requests and connections refused by a per-client limit, by limit",
            m.grpc_refused.clone(),
        );
        registry.register(
            "admission_refused",
            "Transactions refused at admission, by reason",
            m.admission_refused.clone(),
        );
        Metrics { registry: root, ..m }
    }

    /// Counts one refusal by the per-client limit `limit`.
    pub fn refused(&self, limit: &str) {
        self.grpc_refused.get_or_create(&vec![("limit".to_string(), limit.to_string())]).inc();
    }

    /// Counts one transaction refused at admission for `reason`.
    pub fn admission_refusal(&self, reason: &str) {
        self.admission_refused.get_or_create(&vec![("reason".to_string(), reason.to_string())]).inc();
    }

    /// Reads the process's CPU time, memory and descriptors (Linux `/proc`; elsewhere they
    /// stay at zero).
    fn refresh_process(&self) {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name (which may hold spaces) closed by ')'.
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')' and
                // the state; in clock ticks of USER_HZ (100 on Linux).
                let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
                let cpu = (ticks(11) + ticks(12)) as f64 / 100.0;
                let seen = self.process_cpu_seconds.get();
                if cpu > seen {
                    self.process_cpu_seconds.inc_by(cpu - seen);
                }
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let kb = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<i64>().ok());
            if let Some(kb) = kb {
                self.process_resident_memory_bytes.set(kb * 1024);
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.process_open_fds.set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
        }
    }

    /// The OpenMetrics text of the node's and the engine's metrics.
    pub fn render(&self) -> String {
        self.refresh_process();
        let mut out = String::new();
        // Writing to a String cannot fail. Ours without "# EOF": the engine's registry follows
        // and ends the exposition.
        let _ = encode_registry(&mut out, &self.registry);
        let mut engine = String::new();
        malachitebft_app_channel::app::metrics::export(&mut engine);
        if engine.is_empty() {
            engine.push_str("# EOF\n");
        }
        out.push_str(&counter_names(&engine));
        out
    }
}

/// The engine names some counters `..._total` (e.g. `malachitebft_sync_status_total`), which
/// the encoder exposes as `..._total_total`: the family loses the suffix, so its sample is
/// `..._total` once, as OpenMetrics and Prometheus expect.
fn counter_names(text: &str) -> String {
    let doubled: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .filter(|name| name.ends_with("_total"))
        .map(str::to_string)
        .collect();
    if doubled.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut line = line.to_string();
        for family in &doubled {
            let stripped = &family[..family.len() - "_total".len()];
            for (from, to) in [
                (format!("# TYPE {family} "), format!("# TYPE {stripped} ")),
                (format!("# HELP {family} "), format!("# HELP {stripped} ")),
                (format!("# UNIT {family} "), format!("# UNIT {stripped} ")),
                (format!("{family}_total"), format!("{stripped}_total")),
                (format!("{family}_created"), format!("{stripped}_created")),
            ] {
                if line.starts_with(&from) {
                    line = format!("{to}{}", &line[from.len()..]);
                }
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Serves `GET /metrics` on `addr` until the task is dropped. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), NodeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| NodeError::Config(format!("cannot listen for metrics on {addr} ([metrics] listen_addr): {e}")))?;
    let bound = listener.local_addr()?;
    info!(%bound, "metrics endpoint listening (GET /metrics)");
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else { continue };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                debug!(%peer, "metrics: too many connections, closing");
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(e) = answer(stream, &metrics).await {
                    debug!(%peer, "metrics request failed: {e}");
                }
            });
        }
    });
    Ok((bound, task))
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut buf = vec![0u8; REQUEST_BYTES_MAX];
    let mut len = 0;
    let head_done = |b: &[u8]| b.windows(4).any(|w| w == b"\r\n\r\n");
    while !head_done(&buf[..len]) {
        if len == buf.len() {
            return respond(&mut stream, "431 Request Header Fields Too Large", "text/plain", "request too large\n")
                .await;
        }
        let n = tokio::time::timeout(REQUEST_TIMEOUT, stream.read(&mut buf[len..]))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request timed out"))??;
        if n == 0 {
            return Ok(());
        }
        len += n;
    }
    let line = buf[..len].split(|b| *b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("GET"), Some("/metrics")) => respond(&mut stream, "200 OK", CONTENT_TYPE, &metrics.render()).await,
        (Some("GET"), _) => respond(&mut stream, "404 Not Found", "text/plain", "only /metrics is served\n").await,
        _ => respond(&mut stream, "405 Method Not Allowed", "text/plain", "only GET is served\n").await,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let m = Arc::new(Metrics::new("validator-0"));
        m.height.set(42);
        m.committed_txs.inc_by(3);
        let (addr, task) = serve("127.0.0.1:0".parse().expect("addr"), m).await.expect("bind");
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
        let mut body = String::new();
        s.read_to_string(&mut body).await.expect("read");
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("content-type: application/openmetrics-text"), "{body}");
        assert!(body.contains("bct_height{moniker=\"validator-0\"} 42"), "{body}");
        assert!(body.contains("bct_committed_txs_total{moniker=\"validator-0\"} 3"), "{body}");
        assert!(body.contains("bct_build_info{moniker=\"validator-0\",version=\""), "{body}");
        assert!(body.contains("process_resident_memory_bytes{moniker=\"validator-0\"} "), "{body}");
        assert!(!body.contains("process_resident_memory_bytes{moniker=\"validator-0\"} 0\n"), "{body}");
        assert!(body.trim_end().ends_with("# EOF") && body.matches("# EOF").count() == 1, "{body}");
        task.abort();
    }

    #[test]
    fn counters_named_total_are_not_exposed_as_total_total() {
        let engine = "# HELP malachitebft_sync_status_total Statuses.\n# TYPE malachitebft_sync_status_total counter\n\
                      malachitebft_sync_status_total_total{moniker=\"a\"} 4\n# TYPE x counter\nx_total 1\n# EOF\n";
        let fixed = counter_names(engine);
        assert!(fixed.contains("# TYPE malachitebft_sync_status counter\n"), "{fixed}");
        assert!(fixed.contains("# HELP malachitebft_sync_status Statuses.\n"), "{fixed}");
        assert!(fixed.contains("\nmalachitebft_sync_status_total{moniker=\"a\"} 4\n"), "{fixed}");
        assert!(!fixed.contains("_total_total"), "{fixed}");
        assert!(fixed.contains("\nx_total 1\n# EOF\n"), "{fixed}");
    }
}
