//! TLS between the wallet and a node, and between nodes (issue 13, item 3): a validator and an
//! observer serve gRPC over TLS with certificates from one CA; the wallet talks to them over
//! `https://` with that CA (and is refused, in words, without it); the observer forwards a
//! submitted transaction to the validator over TLS, so it commits. Then a node requiring client
//! certificates (mutual TLS) refuses a client without one and serves one with a certificate
//! from its client CA; a certificate for another name and an expired one are refused in words.

mod network;

use std::path::Path;
use std::time::Duration;

use bct_ledger::tx::{AdmitAccount, TxKind};
use bct_ledger::types::Role;
use bct_node::config::{GrpcTlsConfig, NodeConfig};
use bct_node::keys::NodeKey;
use bct_node::localnet::{free_ports, generate, LocalnetSpec};
use bct_node::tls::{LocalCa, NodeTls};
use bct_wallet::client::{sign_tx, Client};

/// Writes `cert`, its key and the CA under `home/tls/` and points `[grpc.tls]` at them.
fn use_tls(home: &Path, ca: &LocalCa, cert: &bct_node::tls::IssuedCert, client_ca: bool) {
    let dir = home.join("tls");
    std::fs::create_dir_all(&dir).expect("tls dir");
    std::fs::write(dir.join("ca.crt"), ca.cert_pem()).expect("ca");
    std::fs::write(dir.join("node.crt"), &cert.cert_pem).expect("cert");
    std::fs::write(dir.join("node.key"), &cert.key_pem).expect("key");
    let mut config = NodeConfig::load(home).expect("config");
    config.grpc.tls = Some(GrpcTlsConfig {
        cert_file: "tls/node.crt".into(),
        key_file: "tls/node.key".into(),
        client_ca_file: client_ca.then(|| "tls/ca.crt".into()),
        peer_ca_file: Some("tls/ca.crt".into()),
    });
    for p in &mut config.p2p.peers {
        p.grpc = p.grpc.as_ref().map(|u| u.replace("http://", "https://"));
    }
    config.metrics.listen_addr = None;
    config.save(home).expect("save");
}

/// A gRPC server (health only) with the TLS of `home`'s `[grpc.tls]`: the node's own TLS code
/// (`NodeTls::server`), without a whole node.
async fn tls_probe(home: &Path, port: u16) -> tokio::task::JoinHandle<()> {
    let config = NodeConfig::load(home).expect("config");
    let tls = NodeTls::load(home, config.grpc.tls.as_ref().expect("tls")).expect("tls files");
    let (_, health) = tonic_health::server::health_reporter();
    let server = tonic::transport::Server::builder().tls_config(tls.server()).expect("tls").add_service(health);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let task = tokio::spawn(async move {
        let _ = server.serve(addr).await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    task
}

#[test]
fn grpc_over_tls_wallet_forwarding_mutual_tls_and_refusals_in_words() {
    let _lock = network::lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let ports = free_ports(2 * bct_node::localnet::PORTS_PER_NODE + 3).expect("ports");
    let net = generate(
        root,
        &LocalnetSpec {
            chain_id: "bct-tls".into(),
            validators: 1,
            observers: 1,
            authorities: 1,
            ports: ports[..2 * bct_node::localnet::PORTS_PER_NODE].to_vec(),
            empty_block_interval_ms: 300,
            timeout_propose_ms: 2000,
            forward: true,
        },
    )
    .expect("network");
    let ca = LocalCa::new("bct test CA").expect("CA");
    for n in &net.nodes {
        let cert = ca.issue(&n.name, &["127.0.0.1", "localhost"], false).expect("cert");
        use_tls(&n.home, &ca, &cert, false);
    }
    let ca_pem = ca.cert_pem().into_bytes();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    runtime.block_on(async {
        let mut nodes = Vec::new();
        for n in &net.nodes {
            nodes.push(bct_node::node::start(&n.home).await.expect("a TLS node starts"));
        }
        let url = |i: usize| format!("https://{}", net.nodes[i].grpc);
        // The wallet over TLS with the network's CA.
        let validator = Client::connect_tls(&url(0), Some(&ca_pem)).await.expect("wallet over TLS");
        let t0 = std::time::Instant::now();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while validator.network_status().await.map(|s| s.height).unwrap_or(0) < 1 {
            assert!(std::time::Instant::now() < deadline, "no block over TLS");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("first block over TLS after {:?}", t0.elapsed());
        // Without the CA (system roots only): refused in words.
        let e = match Client::connect_tls(&url(0), None).await {
            Ok(c) => c.network_status().await.err().map(|e| e.to_string()).unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("not signed by a CA this wallet trusts") && e.contains("--ca-cert"), "{e}");

        // Forwarding over TLS: a transaction submitted to the observer commits (only the
        // validator proposes, so it went there over https).
        let observer = Client::connect_tls(&url(1), Some(&ca_pem)).await.expect("observer over TLS");
        let authority = net.authorities[0].signing_key().clone();
        let holder = NodeKey::generate();
        let tx = sign_tx(
            &authority,
            "bct-tls",
            1,
            0,
            TxKind::AdmitAccount(AdmitAccount {
                address: holder.address(),
                role: Role::Holder,
                name: "a holder".into(),
                jurisdiction: "CN-FJ".into(),
            }),
        );
        let receipt = observer.submit(&tx, true, 60_000).await.expect("submitted to the observer");
        eprintln!("committed through the observer after {:?}", t0.elapsed());
        assert!(receipt.accepted().is_some(), "forwarded over TLS and committed: {receipt:?}");

        // Mutual TLS, a certificate for another name, an expired certificate: on probes
        // serving the node's TLS configuration.
        let probe_home = root.join("probe");
        std::fs::create_dir_all(&probe_home).expect("dir");
        std::fs::copy(net.nodes[0].home.join("config.toml"), probe_home.join("config.toml")).expect("config");
        let probe = |port: u16| format!("https://127.0.0.1:{port}");
        let status_error = |e: Result<Client, bct_wallet::client::ClientError>| async move {
            match e {
                Ok(c) => c.network_status().await.err().map(|e| e.to_string()).unwrap_or_default(),
                Err(e) => e.to_string(),
            }
        };
        // 1. Client certificates required.
        let cert = ca.issue("probe", &["127.0.0.1"], false).expect("cert");
        use_tls(&probe_home, &ca, &cert, true);
        let port = ports[2 * bct_node::localnet::PORTS_PER_NODE];
        let task = tls_probe(&probe_home, port).await;
        let e = status_error(Client::connect_tls(&probe(port), Some(&ca_pem)).await).await;
        assert!(e.contains("client certificate"), "{e}");
        let client_cert = ca.issue("exchange-system", &["exchange.example"], false).expect("client cert");
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&ca_pem))
            .identity(tonic::transport::Identity::from_pem(&client_cert.cert_pem, &client_cert.key_pem));
        let channel = tonic::transport::Endpoint::from_shared(probe(port))
            .expect("url")
            .tls_config(tls)
            .expect("tls")
            .connect()
            .await
            .expect("a client with a certificate from the client CA connects");
        let served = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await;
        assert!(served.is_ok(), "{served:?}");
        task.abort();
        // 2. A certificate for another name.
        let cert = ca.issue("probe", &["bct.example"], false).expect("cert");
        use_tls(&probe_home, &ca, &cert, false);
        let port = ports[2 * bct_node::localnet::PORTS_PER_NODE + 1];
        let task = tls_probe(&probe_home, port).await;
        let e = status_error(Client::connect_tls(&probe(port), Some(&ca_pem)).await).await;
        assert!(e.contains("not for this host name"), "{e}");
        task.abort();
        // 3. An expired certificate.
        let cert = ca.issue("probe", &["127.0.0.1"], true).expect("cert");
        use_tls(&probe_home, &ca, &cert, false);
        let port = ports[2 * bct_node::localnet::PORTS_PER_NODE + 2];
        let task = tls_probe(&probe_home, port).await;
        let e = status_error(Client::connect_tls(&probe(port), Some(&ca_pem)).await).await;
        assert!(e.contains("expired"), "{e}");
        task.abort();

        for n in nodes {
            n.shutdown().await;
        }
    });
}
