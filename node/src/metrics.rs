//! Prometheus metrics of the node (height, round, block time, committed transactions, mempool,
//! peers) and of the consensus engine, served as text on `GET /metrics` by a tiny HTTP/1.1
//! listener (no web framework: one route, bounded requests, a few connections at a time).

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
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

/// The node's own metrics (prefix `bct_`).
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
    /// Undecided blocks written and flushed before the engine learned of them.
    pub pending_flushes: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics in its own registry.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bct");
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
            pending_flushes: Counter::default(),
        };
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
            "pending_flushes",
            "Undecided blocks written and flushed to storage before the engine learned of them",
            m.pending_flushes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition of the node's and the engine's metrics.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        // `encode` ends with "# EOF"; the engine's registry follows, so drop ours.
        if let Some(stripped) = out.strip_suffix("# EOF\n") {
            out.truncate(stripped.len());
        }
        malachitebft_app_channel::app::metrics::export(&mut out);
        out
    }
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
        (Some("GET"), Some("/metrics")) => {
            respond(&mut stream, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &metrics.render()).await
        }
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
        let m = Arc::new(Metrics::new());
        m.height.set(42);
        m.committed_txs.inc_by(3);
        let (addr, task) = serve("127.0.0.1:0".parse().expect("addr"), m).await.expect("bind");
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
        let mut body = String::new();
        s.read_to_string(&mut body).await.expect("read");
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("bct_height 42"), "{body}");
        assert!(body.contains("bct_committed_txs_total 3"), "{body}");
        task.abort();
    }
}
