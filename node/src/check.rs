//! `bct-node check`: everything a node needs before it runs, checked without running it: the
//! configuration, the genesis file, the key file (and who may read it), the peers, and every
//! listen address (free, and not shared with another process). Each problem names the file,
//! the field or the address concerned. The node runs the address checks at start-up too.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use crate::config::{NodeConfig, Role, CONFIG_FILE};
use crate::error::NodeError;
use crate::keys::NodeKey;

/// What a home holds, once every check passed.
#[derive(Debug)]
pub struct Summary {
    /// Lines for people: what was checked and found.
    pub lines: Vec<String>,
}

/// The TCP socket address of a `/ip4/A/tcp/P` or `/ip6/A/tcp/P` multiaddress, if it is one.
pub fn tcp_addr_of(multiaddr: &str) -> Option<SocketAddr> {
    let parts: Vec<&str> = multiaddr.split('/').collect();
    match parts.as_slice() {
        ["", "ip4", ip, "tcp", port, ..] => format!("{ip}:{port}").parse().ok(),
        ["", "ip6", ip, "tcp", port, ..] => format!("[{ip}]:{port}").parse().ok(),
        _ => None,
    }
}

/// Fails if `addr` is taken: by another process, whether or not it allowed sharing the port
/// (libp2p listens with `SO_REUSEPORT`, so a second node on the same consensus port would
/// otherwise start and share it silently). `field` names the setting in config.toml.
pub fn ensure_free(addr: SocketAddr, field: &str) -> Result<(), NodeError> {
    // A plain bind (no SO_REUSEPORT) fails on a port anyone listens on, sharing or not.
    match TcpListener::bind(addr) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(NodeError::Config(format!(
            "{addr} ({field} in {CONFIG_FILE}) is already in use by another process: is another node running with \
             this port? Choose a free port"
        ))),
        Err(e) => Err(NodeError::Config(format!("cannot listen on {addr} ({field} in {CONFIG_FILE}): {e}"))),
    }
}

/// Checks every listen address of `config`: each free, none used twice.
pub fn check_listen_addresses(config: &NodeConfig) -> Result<Vec<(String, SocketAddr)>, NodeError> {
    let mut addrs: Vec<(String, SocketAddr)> = Vec::new();
    let p2p = tcp_addr_of(&config.p2p.listen_addr).ok_or_else(|| {
        NodeError::Config(format!(
            "p2p.listen_addr in {CONFIG_FILE} is {:?}: expected a TCP multiaddress such as /ip4/0.0.0.0/tcp/26656",
            config.p2p.listen_addr
        ))
    })?;
    addrs.push(("p2p.listen_addr".into(), p2p));
    addrs.push(("grpc.listen_addr".into(), config.grpc.listen_addr));
    if let Some(a) = config.metrics.listen_addr {
        addrs.push(("metrics.listen_addr".into(), a));
    }
    if let Some(a) = config.web.listen_addr {
        addrs.push(("web.listen_addr".into(), a));
    }
    for (i, (field, addr)) in addrs.iter().enumerate() {
        if let Some((other, _)) = addrs[..i].iter().find(|(_, a)| a.port() == addr.port() && a.port() != 0) {
            return Err(NodeError::Config(format!(
                "{field} and {other} in {CONFIG_FILE} both use port {}: give each its own port",
                addr.port()
            )));
        }
        if addr.port() != 0 {
            ensure_free(*addr, field)?;
        }
    }
    Ok(addrs)
}

/// Checks the home `home` as `bct-node run` would use it, without starting anything.
pub fn check_home(home: &Path) -> Result<Summary, NodeError> {
    let config = NodeConfig::load(home)?;
    let mut lines = vec![format!(
        "config:   {} (moniker {}, {})",
        home.join(CONFIG_FILE).display(),
        config.moniker,
        match config.role {
            Role::Validator => "validator",
            Role::Observer => "observer",
        }
    )];
    let genesis = crate::node::load_genesis(home, &config)?;
    lines.push(format!(
        "genesis:  {} (chain {}, {} validator(s), {} authority(ies), fingerprint {})",
        NodeConfig::resolve(home, &config.genesis_file).display(),
        genesis.chain_id,
        genesis.validators.len(),
        genesis.authorities.len(),
        genesis.fingerprint().to_hex()
    ));
    let key_path = NodeConfig::resolve(home, &config.key_file);
    let key = NodeKey::load(&key_path)?;
    let in_set = genesis.validators.iter().any(|v| v.public_key == key.public_key());
    lines.push(format!(
        "key:      {} (public key {}, owner-only; {})",
        key_path.display(),
        hex::encode(key.public_key()),
        if in_set { "in the genesis validator set" } else { "not in the genesis validator set" }
    ));
    if config.role == Role::Validator && !in_set {
        lines.push(
            "warning:  this validator's key is not in the genesis validator set: it follows the chain but does not \
             vote until a validator set change adds it"
                .into(),
        );
    }
    match &config.grpc.tls {
        Some(t) => {
            let tls = crate::tls::NodeTls::load(home, t)?;
            lines.push(format!(
                "tls:      gRPC over TLS with {}{}",
                NodeConfig::resolve(home, &t.cert_file).display(),
                if tls.requires_client_certificates() { ", client certificates required" } else { "" }
            ));
        }
        None => {
            lines.push("tls:      off (gRPC in clear text: keep it on a private network or behind a TLS proxy)".into())
        }
    }
    let peers = crate::network::known_peers(&config, &key.public_key())?;
    let others = genesis.validators.iter().filter(|v| v.public_key != key.public_key()).count();
    lines.push(format!("peers:    {} configured ([[p2p.peers]])", peers.len()));
    if peers.is_empty() && others > 0 {
        lines.push(format!(
            "warning:  no peers configured but the genesis has {others} other validator(s): add them under \
             [[p2p.peers]] in {CONFIG_FILE}"
        ));
    }
    for (field, addr) in check_listen_addresses(&config)? {
        lines.push(format!("listen:   {addr} ({field}) is free"));
    }
    Ok(Summary { lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiaddresses_give_their_tcp_address() {
        assert_eq!(tcp_addr_of("/ip4/0.0.0.0/tcp/26656"), Some("0.0.0.0:26656".parse().expect("addr")));
        assert_eq!(tcp_addr_of("/ip6/::1/tcp/7"), Some("[::1]:7".parse().expect("addr")));
        assert_eq!(tcp_addr_of("/ip4/1.2.3.4/udp/9/quic-v1"), None);
        assert_eq!(tcp_addr_of("/dns4/example.org/tcp/1"), None);
    }

    #[test]
    fn a_port_in_use_is_named_even_when_shared_with_reuseport() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let e = ensure_free(addr, "grpc.listen_addr").expect_err("in use");
        let text = e.to_string();
        assert!(text.contains(&addr.to_string()) && text.contains("grpc.listen_addr"), "{text}");
        drop(taken);
        ensure_free(addr, "grpc.listen_addr").expect("free again");
    }
}
