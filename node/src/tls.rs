//! TLS for the gRPC API (`[grpc.tls]` in config.toml): the node's certificate and key, an
//! optional CA whose client certificates the node requires (mutual TLS, e.g. between an
//! exchange's systems and its node), and the CA of the other nodes' certificates for forwarding
//! to `https://` peers. Every file is read at start-up; a problem names the file and the field.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::{GrpcTlsConfig, NodeConfig, CONFIG_FILE};
use crate::error::NodeError;

/// The TLS material of a node, read and checked.
#[derive(Clone)]
pub struct NodeTls {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    client_ca_pem: Option<Vec<u8>>,
    peer_ca_pem: Option<Vec<u8>>,
}

fn read_pem(home: &Path, path: &Path, field: &str, what: &str) -> Result<Vec<u8>, NodeError> {
    let full = NodeConfig::resolve(home, path);
    let bytes = std::fs::read(&full)
        .map_err(|e| NodeError::Config(format!("cannot read {} ({field} in {CONFIG_FILE}): {e}", full.display())))?;
    if !String::from_utf8_lossy(&bytes).contains(&format!("-----BEGIN {what}")) {
        return Err(NodeError::Config(format!(
            "{} ({field} in {CONFIG_FILE}) holds no PEM {}",
            full.display(),
            what.to_lowercase()
        )));
    }
    Ok(bytes)
}

impl NodeTls {
    /// Reads the files `config` names, relative to `home`.
    pub fn load(home: &Path, config: &GrpcTlsConfig) -> Result<NodeTls, NodeError> {
        let cert_pem = read_pem(home, &config.cert_file, "grpc.tls.cert_file", "CERTIFICATE")?;
        let key_pem = read_pem(home, &config.key_file, "grpc.tls.key_file", "")?;
        if !String::from_utf8_lossy(&key_pem).contains("PRIVATE KEY-----") {
            return Err(NodeError::Config(format!(
                "{} (grpc.tls.key_file in {CONFIG_FILE}) holds no PEM private key",
                NodeConfig::resolve(home, &config.key_file).display()
            )));
        }
        let client_ca_pem = config
            .client_ca_file
            .as_ref()
            .map(|p| read_pem(home, p, "grpc.tls.client_ca_file", "CERTIFICATE"))
            .transpose()?;
        let peer_ca_pem = config
            .peer_ca_file
            .as_ref()
            .map(|p| read_pem(home, p, "grpc.tls.peer_ca_file", "CERTIFICATE"))
            .transpose()?;
        Ok(NodeTls { cert_pem, key_pem, client_ca_pem, peer_ca_pem })
    }

    /// The server side: the node's identity, and the client CA when clients must show a
    /// certificate.
    pub fn server(&self) -> ServerTlsConfig {
        let mut c = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        if let Some(ca) = &self.client_ca_pem {
            c = c.client_ca_root(Certificate::from_pem(ca));
        }
        c
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_certificates(&self) -> bool {
        self.client_ca_pem.is_some()
    }

    /// The client side, for forwarding to and fetching from `https://` peers: the peers' CA
    /// (the system roots if none is configured) and the node's own certificate, which peers
    /// that require client certificates accept when one CA signs every node's certificate.
    pub fn client(&self) -> ClientTlsConfig {
        let c = ClientTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        match &self.peer_ca_pem {
            Some(ca) => c.ca_certificate(Certificate::from_pem(ca)),
            None => c.with_native_roots(),
        }
    }
}

/// The TLS settings for a client of `url`: none for `http://`; for `https://`, the node's own
/// (`tls`), or the system roots when the node has no `[grpc.tls]`.
pub fn client_for(url: &str, tls: Option<&NodeTls>) -> Option<ClientTlsConfig> {
    if !url.starts_with("https://") {
        return None;
    }
    Some(match tls {
        Some(t) => t.client(),
        None => ClientTlsConfig::new().with_native_roots(),
    })
}

/// A certificate authority for a network on one machine or a test (`bct-testnet generate
/// --tls`): it signs node and client certificates. Real networks use their institutions' CA.
pub struct LocalCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct IssuedCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

fn rcgen_error(e: rcgen::Error) -> NodeError {
    NodeError::Config(format!("cannot make a TLS certificate: {e}"))
}

impl LocalCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Result<LocalCa, NodeError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate().map_err(rcgen_error)?;
        let cert = params.self_signed(&key).map_err(rcgen_error)?;
        Ok(LocalCa { cert, key })
    }

    /// The CA's certificate, PEM (what clients and peers trust).
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `names` (host names or IP addresses), valid from now for a year, or
    /// (with `expired`) one that expired in 2020, for tests.
    pub fn issue(&self, common_name: &str, names: &[&str], expired: bool) -> Result<IssuedCert, NodeError> {
        let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .map_err(rcgen_error)?;
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        } else {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let year = 1970 + (now / 31_557_600) as i32;
            params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
            params.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
        }
        let key = rcgen::KeyPair::generate().map_err(rcgen_error)?;
        let cert = params.signed_by(&key, &self.cert, &self.key).map_err(rcgen_error)?;
        Ok(IssuedCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}
