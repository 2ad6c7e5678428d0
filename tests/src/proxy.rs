//! Network partitions for tests: a TCP proxy on every link between two nodes, which the test can
//! cut.
//!
//! [`Proxy::install`] rewrites each node's `config.toml` (before the nodes start) so that node
//! `i` lists peer `j` at a port of this proxy that forwards to `j`'s real address: one link per
//! ordered pair and service (consensus p2p, and the gRPC endpoint the node forwards submitted
//! transactions to). Blocking a pair of nodes resets the connections open on both of its links
//! and treats new ones according to the [`Fault`]: refused (accepted, then reset at once) or
//! black-holed (accepted and held, nothing forwarded, as if packets were dropped). Healing lets
//! new connections through; the nodes reconnect by themselves.
//!
//! Why a proxy rather than network namespaces: it needs no privileges and works on any machine
//! the tests run on. Its one weakness is that it only sees the connections that go through it:
//! a node that learned a peer's real listen address (libp2p identify tells every peer) and
//! dialed it would bypass the partition. With discovery off, bct's nodes dial only the
//! addresses of their configuration, but libp2p's request-response behaviour (value sync) dials
//! a disconnected peer with the addresses other behaviours know, identify's cache included. So
//! the tests check, with [`Proxy::bypassing_connections`], that every established connection to
//! a node's real consensus port comes from this proxy (`/proc/net/tcp`, Linux).
//!
//! The proxy runs on the test's tokio runtime and stops with it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use bct_testnet::Testnet;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which connection between two nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// Consensus (libp2p).
    P2p,
    /// gRPC (forwarding of submitted transactions to the validators).
    Grpc,
}

/// What a blocked link does with a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Accept it and reset it at once: the dialer sees a connection reset.
    Refuse,
    /// Accept it and hold it without forwarding a byte until the link changes: the dialer's
    /// handshake times out, as with dropped packets.
    Blackhole,
}

/// Counters of one link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections forwarded to the target.
    pub forwarded: u64,
    /// Connections refused while blocked.
    pub refused: u64,
    /// Connections held without forwarding while blocked.
    pub blackholed: u64,
    /// Forwarded connections reset when the link was blocked.
    pub cut: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    forwarded: AtomicU64,
    refused: AtomicU64,
    blackholed: AtomicU64,
    cut: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> LinkStats {
        LinkStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            forwarded: self.forwarded.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            blackholed: self.blackholed.load(Ordering::Relaxed),
            cut: self.cut.load(Ordering::Relaxed),
        }
    }
}

struct Link {
    port: u16,
    state: watch::Sender<Option<Fault>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

/// The proxies of a network: one link per (from, to, service).
pub struct Proxy {
    links: BTreeMap<(usize, usize, Service), Link>,
    /// Local ports of every upstream connection the proxy ever opened.
    upstream_ports: Arc<Mutex<BTreeSet<u16>>>,
    /// Each node's real consensus port.
    p2p_ports: Vec<u16>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for link in self.links.values() {
            link.task.abort();
        }
    }
}

impl Proxy {
    /// Starts a link for every ordered pair of nodes of `net` and both services, and rewrites
    /// every node's configuration to reach its peers through them. Call before starting the
    /// nodes, inside the test's runtime.
    pub async fn install(net: &Testnet) -> Result<Proxy> {
        let n = net.len();
        let mut proxy = Proxy {
            links: BTreeMap::new(),
            upstream_ports: Arc::default(),
            p2p_ports: (0..n).map(|i| net.node(i).p2p_port).collect(),
        };
        for from in 0..n {
            for to in (0..n).filter(|to| *to != from) {
                let node = net.node(to);
                let p2p = SocketAddr::from(([127, 0, 0, 1], node.p2p_port));
                proxy.add_link(from, to, Service::P2p, p2p).await?;
                proxy.add_link(from, to, Service::Grpc, node.grpc).await?;
            }
        }
        for from in 0..n {
            let mut config = net.config(from)?;
            for peer in &mut config.p2p.peers {
                let Some(to) = (0..n).find(|j| net.node(*j).public_key.eq_ignore_ascii_case(&peer.public_key)) else {
                    bail!("{}: peer {} is not a node of the network", net.node(from).name, peer.name);
                };
                peer.address = format!("/ip4/127.0.0.1/tcp/{}", proxy.port(from, to, Service::P2p));
                if peer.grpc.is_some() {
                    peer.grpc = Some(format!("http://127.0.0.1:{}", proxy.port(from, to, Service::Grpc)));
                }
            }
            config.save(&net.node(from).home)?;
        }
        Ok(proxy)
    }

    async fn add_link(&mut self, from: usize, to: usize, service: Service, target: SocketAddr) -> Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding a proxy port")?;
        let port = listener.local_addr()?.port();
        let (state, _) = watch::channel(None);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(serve(listener, target, state.clone(), counters.clone(), self.upstream_ports.clone()));
        self.links.insert((from, to, service), Link { port, state, counters, task });
        Ok(())
    }

    /// The proxy port node `from` uses to reach `to`'s `service`.
    pub fn port(&self, from: usize, to: usize, service: Service) -> u16 {
        self.links[&(from, to, service)].port
    }

    fn set_pair(&self, a: usize, b: usize, state: Option<Fault>) {
        for ((from, to, _), link) in &self.links {
            if (*from, *to) == (a, b) || (*from, *to) == (b, a) {
                link.state.send_replace(state);
            }
        }
    }

    /// Cuts every link between `a` and `b`, both ways and both services.
    pub fn block(&self, a: usize, b: usize, fault: Fault) {
        self.set_pair(a, b, Some(fault));
    }

    /// Cuts every link between nodes of different `groups`.
    pub fn partition(&self, groups: &[&[usize]], fault: Fault) {
        for (g, group) in groups.iter().enumerate() {
            for other in &groups[g + 1..] {
                for &a in *group {
                    for &b in *other {
                        self.block(a, b, fault);
                    }
                }
            }
        }
    }

    /// Cuts node `i` from every other node.
    pub fn isolate(&self, i: usize, fault: Fault) {
        for j in (0..self.p2p_ports.len()).filter(|j| *j != i) {
            self.block(i, j, fault);
        }
    }

    /// Lets every link through again.
    pub fn heal(&self) {
        for link in self.links.values() {
            link.state.send_replace(None);
        }
    }

    /// The counters of the consensus links, by (from, to).
    pub fn p2p_stats(&self) -> BTreeMap<(usize, usize), LinkStats> {
        self.links
            .iter()
            .filter(|((_, _, s), _)| *s == Service::P2p)
            .map(|((from, to, _), link)| ((*from, *to), link.counters.snapshot()))
            .collect()
    }

    /// The established TCP connections to a node's real consensus port that do not come from
    /// this proxy (Linux: `/proc/net/tcp`): a node that bypassed the partition. Empty is good.
    pub fn bypassing_connections(&self) -> Result<Vec<String>> {
        let table = std::fs::read_to_string("/proc/net/tcp").context("reading /proc/net/tcp")?;
        // Read after the table, so that a connection opened meanwhile is known.
        let ours = self.upstream_ports.lock().map(|p| p.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state)) = (fields.get(1), fields.get(2), fields.get(3)) else {
                continue;
            };
            const ESTABLISHED: &str = "01";
            if *state != ESTABLISHED {
                continue;
            }
            let (Some(local_port), Some(remote_port)) = (hex_port(local), hex_port(remote)) else { continue };
            if let Some(node) = self.p2p_ports.iter().position(|p| *p == local_port) {
                if !ours.contains(&remote_port) {
                    out.push(format!(
                        "node {node}'s consensus port {local_port} <- 127.0.0.1:{remote_port} (not the proxy)"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The port of a `/proc/net/tcp` address (`0100007F:1F90`).
fn hex_port(address: &str) -> Option<u16> {
    u16::from_str_radix(address.rsplit(':').next()?, 16).ok()
}

/// Accepts connections of one link until the proxy is dropped.
async fn serve(
    listener: TcpListener,
    target: SocketAddr,
    state: watch::Sender<Option<Fault>>,
    counters: Arc<Counters>,
    upstream_ports: Arc<Mutex<BTreeSet<u16>>>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let mut rx = state.subscribe();
        let fault = *rx.borrow_and_update();
        match fault {
            Some(Fault::Refuse) => {
                counters.refused.fetch_add(1, Ordering::Relaxed);
                reset(inbound);
            }
            Some(Fault::Blackhole) => {
                counters.blackholed.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(hold(inbound, rx));
            }
            None => {
                tokio::spawn(forward(inbound, target, rx, counters.clone(), upstream_ports.clone()));
            }
        }
    }
}

/// Closes `stream` with a reset rather than an orderly shutdown.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// A black-holed connection: read and drop everything until the link's state changes.
async fn hold(mut inbound: TcpStream, mut rx: watch::Receiver<Option<Fault>>) {
    {
        let mut sink = [0u8; 4096];
        let drain = async { while let Ok(1..) = inbound.read(&mut sink).await {} };
        tokio::select! {
            () = drain => {}
            _ = rx.wait_for(|s| *s != Some(Fault::Blackhole)) => {}
        }
    }
    reset(inbound);
}

/// Copies both ways between `inbound` and the target until either side closes or the link is
/// blocked (then both are reset).
async fn forward(
    mut inbound: TcpStream,
    target: SocketAddr,
    mut rx: watch::Receiver<Option<Fault>>,
    counters: Arc<Counters>,
    upstream_ports: Arc<Mutex<BTreeSet<u16>>>,
) {
    let upstream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target)).await;
    let Ok(Ok(mut upstream)) = upstream else {
        reset(inbound);
        return;
    };
    if let (Ok(addr), Ok(mut ports)) = (upstream.local_addr(), upstream_ports.lock()) {
        ports.insert(addr.port());
    }
    let _ = (inbound.set_nodelay(true), upstream.set_nodelay(true));
    counters.forwarded.fetch_add(1, Ordering::Relaxed);
    let cut = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream) => false,
        _ = rx.wait_for(Option::is_some) => true,
    };
    if cut {
        counters.cut.fetch_add(1, Ordering::Relaxed);
        reset(inbound);
        reset(upstream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    /// Whether `ping` comes back through `s` within half a second.
    async fn echoes(s: &mut TcpStream) -> bool {
        if s.write_all(b"ping").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        matches!(tokio::time::timeout(Duration::from_millis(500), s.read_exact(&mut buf)).await, Ok(Ok(_)))
            && &buf == b"ping"
    }

    async fn connect(port: u16) -> TcpStream {
        TcpStream::connect(("127.0.0.1", port)).await.expect("connect")
    }

    #[tokio::test]
    async fn forwards_cuts_refuses_blackholes_and_spots_bypasses() {
        // A stand-in for a node's consensus port: echoes what it reads.
        let node = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let node_addr = node.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = node.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let mut proxy =
            Proxy { links: BTreeMap::new(), upstream_ports: Arc::default(), p2p_ports: vec![0, node_addr.port()] };
        proxy.add_link(0, 1, Service::P2p, node_addr).await.expect("link");
        let port = proxy.port(0, 1, Service::P2p);
        let settle = || tokio::time::sleep(Duration::from_millis(100));

        let mut through = connect(port).await;
        assert!(echoes(&mut through).await);
        assert_eq!(proxy.bypassing_connections().expect("proc"), Vec::<String>::new());
        let mut direct = connect(node_addr.port()).await;
        assert!(echoes(&mut direct).await);
        assert_eq!(proxy.bypassing_connections().expect("proc").len(), 1, "the direct connection is spotted");
        drop(direct);

        proxy.block(0, 1, Fault::Refuse);
        settle().await;
        assert!(!echoes(&mut through).await, "an open connection is cut");
        assert!(!echoes(&mut connect(port).await).await, "a new connection is refused");
        proxy.block(1, 0, Fault::Blackhole);
        settle().await;
        assert!(!echoes(&mut connect(port).await).await, "a new connection is black-holed");
        proxy.heal();
        settle().await;
        assert!(echoes(&mut connect(port).await).await, "healed");
        let s = proxy.p2p_stats()[&(0, 1)];
        assert_eq!((s.accepted, s.forwarded, s.cut, s.refused, s.blackholed), (4, 2, 1, 1, 1), "{s:?}");
    }
}
