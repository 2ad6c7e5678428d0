//! Limits per client address, shared by the gRPC API and the web view: a token bucket of
//! requests per second ([`RateLimiter`]), and a cap on open connections ([`ConnectionLimiter`],
//! applied to accepted sockets by [`LimitedIncoming`]).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Client addresses whose request rate is tracked at once; beyond it the idle ones are dropped.
pub const CLIENTS_TRACKED_MAX: usize = 10_000;

/// A token bucket per client address: `per_second` tokens a second, at most `burst` saved.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    clients: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` requests a second per client, with a burst of twice that.
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: 2.0 * f64::from(per_second),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The configured rate.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Whether `ip` may make one more request now (and takes a token if so).
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut clients) = self.clients.lock() else { return false };
        if clients.len() >= CLIENTS_TRACKED_MAX && !clients.contains_key(&ip) {
            // Forget clients whose bucket refilled: they lose nothing by it.
            let (rate, burst) = (self.per_second, self.burst);
            clients.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
            if clients.len() >= CLIENTS_TRACKED_MAX {
                return false;
            }
        }
        let (tokens, at) = clients.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Open connections per client address, at most `max` each.
#[derive(Debug)]
pub struct ConnectionLimiter {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of a client; released when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.limiter.open.lock() {
            if let Some(n) = open.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

impl ConnectionLimiter {
    /// At most `max` open connections per client address.
    pub fn new(max: usize) -> Arc<ConnectionLimiter> {
        Arc::new(ConnectionLimiter { max, open: Mutex::new(HashMap::new()) })
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for one more connection from `ip`, or `None` if it holds `max` already.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot { limiter: self.clone(), ip })
    }
}

/// An accepted socket holding its client's connection slot.
#[derive(Debug)]
pub struct LimitedStream {
    inner: TcpStream,
    _slot: ConnectionSlot,
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Connected for LimitedStream {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        self.inner.connect_info()
    }
}

/// The sockets a listener accepts, each taking a slot of its client address; a connection
/// over the client's limit is closed at once and reported to `refused`.
pub struct LimitedIncoming {
    listener: TcpListener,
    limiter: Arc<ConnectionLimiter>,
    refused: Box<dyn Fn(SocketAddr) + Send + Sync>,
}

impl LimitedIncoming {
    /// Accepts from `listener` under `limiter`.
    pub fn new(
        listener: TcpListener,
        limiter: Arc<ConnectionLimiter>,
        refused: impl Fn(SocketAddr) + Send + Sync + 'static,
    ) -> LimitedIncoming {
        LimitedIncoming { listener, limiter, refused: Box::new(refused) }
    }
}

impl Stream for LimitedIncoming {
    type Item = io::Result<LimitedStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.listener.poll_accept(cx) {
                Poll::Pending => return Poll::Pending,
                // An accept error (out of descriptors, a reset before accept) is the server's
                // to log; it does not end the stream.
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Ok((stream, peer))) => match this.limiter.acquire(peer.ip()) {
                    Some(slot) => {
                        let _ = stream.set_nodelay(true);
                        return Poll::Ready(Some(Ok(LimitedStream { inner: stream, _slot: slot })));
                    }
                    None => {
                        (this.refused)(peer);
                        drop(stream);
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_is_refused_and_others_are_not() {
        let l = RateLimiter::new(5);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        let allowed = (0..100).filter(|_| l.allow(a)).count();
        // a burst of twice the rate, plus whatever refilled while the loop ran
        assert!((10..=11).contains(&allowed), "{allowed}");
        assert!(!l.allow(a));
        assert!(l.allow(b), "another client is not held back by the first");
        std::thread::sleep(std::time::Duration::from_millis(450));
        assert!(l.allow(a), "the bucket refills at the configured rate");
    }

    #[test]
    fn idle_clients_are_forgotten_when_the_table_is_full() {
        let l = RateLimiter::new(1000);
        for i in 0..CLIENTS_TRACKED_MAX as u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(i + 1));
            assert!(l.allow(ip));
        }
        // every bucket is one token short of full: refilled within a millisecond
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(l.allow("192.0.2.1".parse().expect("ip")));
        assert!(l.tracked() < 10);
    }

    #[test]
    fn connections_are_counted_per_client_and_released_on_drop() {
        let l = ConnectionLimiter::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        let first = l.acquire(a).expect("first");
        let _second = l.acquire(a).expect("second");
        assert!(l.acquire(a).is_none(), "a third from the same client is refused");
        assert!(l.acquire(b).is_some(), "another client is not held back");
        drop(first);
        assert!(l.acquire(a).is_some(), "a closed connection frees its slot");
    }

    #[tokio::test]
    async fn the_listener_closes_connections_over_the_limit() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = refused.clone();
        let mut incoming = LimitedIncoming::new(listener, ConnectionLimiter::new(1), move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let _a = TcpStream::connect(addr).await.expect("connect");
        let first = futures::StreamExt::next(&mut incoming).await.expect("item").expect("accepted");
        let mut b = TcpStream::connect(addr).await.expect("connect");
        let _c = TcpStream::connect(addr).await.expect("connect");
        // b is refused (closed), then c waits: the stream yields nothing for it yet.
        let next = tokio::time::timeout(std::time::Duration::from_millis(300), futures::StreamExt::next(&mut incoming));
        assert!(next.await.is_err(), "nothing accepted while the client holds its one slot");
        assert!(refused.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        let mut buf = [0u8; 1];
        let n = tokio::io::AsyncReadExt::read(&mut b, &mut buf).await.unwrap_or(0);
        assert_eq!(n, 0, "the refused connection is closed");
        drop(first);
    }
}
