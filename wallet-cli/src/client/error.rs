//! Why a call to a node failed, each case worded so that the reader knows what to do next.

use bct_ledger::{Address, Rejection, TxId};
use bct_proto::ProtoError;
use tonic::Code;

/// Why a call to a bct node did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node URL cannot be used.
    #[error(
        "{url:?} is not a usable node URL ({reason}); give one like http://127.0.0.1:9090 with --node or BCT_NODE"
    )]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection could be made, or the connection broke.
    #[error("cannot reach a bct node at {url} ({reason}): is the node running at {url}? Set --node or BCT_NODE to its gRPC address")]
    Unreachable {
        /// The node URL.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The node did not answer in time.
    #[error("no answer came from the node at {url} in the time allowed ({message}): it may be stopped, frozen or overloaded; retry, or check the node")]
    Timeout {
        /// The node URL.
        url: String,
        /// What the transport said.
        message: String,
    },
    /// The thing asked for does not exist (or is not committed yet).
    #[error("not found: {message}")]
    NotFound {
        /// The node's message, naming what was missing.
        message: String,
    },
    /// The request was malformed.
    #[error("the node refused the request: {message}")]
    InvalidArgument {
        /// The node's message, naming the field at fault.
        message: String,
    },
    /// The signer is not an admitted account, so it has no nonce to use.
    #[error(
        "account {address} is not admitted on this chain: ask the authority (or your exchange) to admit it \
         with `bct account admit {address} ...`, or check --key"
    )]
    UnknownAccount {
        /// The signer's address.
        address: Address,
    },
    /// The ledger rejected the transaction, at admission (the node's dry run) or in a block.
    #[error("{}", rejected_message(*tx_id, rejection, *height))]
    Rejected {
        /// The transaction.
        tx_id: TxId,
        /// Why, as the ledger said (boxed: it is large, and errors travel by value).
        rejection: Box<Rejection>,
        /// The block that holds the rejected transaction; `None` when the node refused it
        /// before it entered a block.
        height: Option<u64>,
    },
    /// The node did not take the transaction into its mempool, for a reason of its own.
    #[error("the node did not accept transaction {tx_id}: {message}")]
    NotAdmitted {
        /// The transaction.
        tx_id: TxId,
        /// The status code.
        code: Code,
        /// The node's message.
        message: String,
    },
    /// The node is busy (mempool full, too many streams).
    #[error("the node is busy: {message}; retry later or use another node")]
    Busy {
        /// The node's message.
        message: String,
    },
    /// Any other gRPC status.
    #[error("the node answered {code:?}: {message}")]
    Status {
        /// The status code.
        code: Code,
        /// The node's message.
        message: String,
    },
    /// The answer could not be read as bct data.
    #[error("the node sent an answer this wallet cannot read ({0}); is it a bct node of a compatible version?")]
    BadResponse(String),
}

fn rejected_message(tx_id: TxId, rejection: &Rejection, height: Option<u64>) -> String {
    match height {
        Some(h) => format!(
            "the ledger rejected transaction {tx_id} in block {h}: {rejection} (rejection code {})",
            rejection.code()
        ),
        None => format!(
            "the node refused transaction {tx_id} because the ledger would reject it: {rejection} (rejection code {})",
            rejection.code()
        ),
    }
}

impl From<ProtoError> for ClientError {
    fn from(e: ProtoError) -> ClientError {
        ClientError::BadResponse(e.to_string())
    }
}

impl ClientError {
    /// Maps a gRPC status from the node at `url`.
    pub(crate) fn from_status(url: &str, status: tonic::Status) -> ClientError {
        // A TLS failure surfaces as a transport error whose causes say what it was.
        if let Some(words) = tls_words(&super::error_chain(&status)) {
            return ClientError::Unreachable { url: url.to_string(), reason: words };
        }
        let message = status.message().to_string();
        let lower = message.to_lowercase();
        if status.code() == Code::Cancelled && lower.contains("timeout") {
            // tonic's words for the client's own deadline passing
            return ClientError::Timeout { url: url.to_string(), message: "the wait for an answer ran out".into() };
        }
        if lower.contains("h2 protocol error")
            || lower.contains("http2 error")
            || lower.contains("frame with invalid size")
        {
            return ClientError::Unreachable {
                url: url.to_string(),
                reason: "what answers there does not speak gRPC: is it the node's web or metrics port rather than its \
                         gRPC port (grpc.listen_addr in config.toml)?"
                    .into(),
            };
        }
        match status.code() {
            Code::Unavailable => ClientError::Unreachable { url: url.to_string(), reason: message },
            Code::DeadlineExceeded => ClientError::Timeout { url: url.to_string(), message },
            Code::NotFound => ClientError::NotFound { message },
            Code::InvalidArgument => ClientError::InvalidArgument { message },
            Code::ResourceExhausted => ClientError::Busy { message },
            Code::Unimplemented => ClientError::Status {
                code: Code::Unimplemented,
                message: format!("{message} (is {url} a bct node of this version?)"),
            },
            code => ClientError::Status { code, message },
        }
    }

    /// Maps a gRPC status answering the submission of `tx_id`: a refusal by the ledger's dry
    /// run carries the `bct.v1.Rejection` in the status details.
    pub(crate) fn from_submit_status(url: &str, tx_id: TxId, status: tonic::Status) -> ClientError {
        use bct_proto::IntoLedger;
        match status.code() {
            Code::FailedPrecondition => {
                let rejection = bct_proto::status::rejection(&status).and_then(|r| r.into_ledger().ok());
                match rejection {
                    Some(rejection) => ClientError::Rejected { tx_id, rejection: Box::new(rejection), height: None },
                    None => ClientError::NotAdmitted {
                        tx_id,
                        code: Code::FailedPrecondition,
                        message: status.message().to_string(),
                    },
                }
            }
            Code::AlreadyExists => {
                ClientError::NotAdmitted { tx_id, code: Code::AlreadyExists, message: status.message().to_string() }
            }
            _ => ClientError::from_status(url, status),
        }
    }
}

/// What a TLS failure means, in words, if `chain` (an error and its causes) is one: an unknown
/// CA, a certificate for another name, an expired certificate, a node that wants a client
/// certificate, a node that does not speak TLS.
pub(crate) fn tls_words(chain: &str) -> Option<String> {
    let c = chain.to_lowercase();
    let says = |s: &str| c.contains(&s.to_lowercase());
    // Only what rustls and the TLS handshake say: "Timeout expired" is not a certificate.
    if !(says("certificate") || says("tls") || says("handshake") || says("UnknownIssuer") || says("NotValidForName")) {
        return None;
    }
    let words = if says("UnknownIssuer") {
        "the node's TLS certificate is not signed by a CA this wallet trusts: give the network's CA with \
         --ca-cert FILE (or BCT_CA_CERT)"
    } else if says("NotValidForName") || says("not valid for name") {
        "the node's TLS certificate is not for this host name: use the name the certificate was issued for in --node"
    } else if says("Expired") {
        "the node's TLS certificate has expired (or this computer's clock is wrong): the node's operator must renew it"
    } else if says("CertificateRequired") || says("certificate required") || says("HandshakeFailure") {
        "the node requires a client certificate (mutual TLS) that this wallet does not present: use a client that \
         holds one issued by the node's client CA"
    } else if says("InvalidContentType") || says("corrupt message") || says("wrong version number") {
        "the node does not speak TLS on this port: use http:// (or the node's TLS port)"
    } else {
        return None;
    };
    Some(format!("{words} ({})", chain.lines().next().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_said_in_words() {
        let e = tls_words("transport error: invalid peer certificate: UnknownIssuer").expect("words");
        assert!(e.contains("--ca-cert"), "{e}");
        let e = tls_words("invalid peer certificate: NotValidForName").expect("words");
        assert!(e.contains("host name"), "{e}");
        let e = tls_words("invalid peer certificate: Expired").expect("words");
        assert!(e.contains("expired"), "{e}");
        assert!(tls_words("connection refused").is_none());
        assert!(tls_words("The operation was cancelled: Timeout expired").is_none(), "a timeout is not a certificate");
    }

    #[test]
    fn transport_failures_are_said_in_words() {
        let url = "http://127.0.0.1:9090";
        let e = ClientError::from_status(url, tonic::Status::cancelled("Timeout expired")).to_string();
        assert!(e.starts_with("no answer came from the node at http://127.0.0.1:9090 in the time allowed"), "{e}");
        assert!(!e.contains("Cancelled"), "{e}");
        let e = ClientError::from_status(url, tonic::Status::unknown("h2 protocol error: http2 error")).to_string();
        assert!(e.contains("does not speak gRPC") && e.contains("grpc.listen_addr"), "{e}");
        assert!(!e.contains("h2 protocol error"), "{e}");
        let e = ClientError::from_status(url, tonic::Status::deadline_exceeded("deadline")).to_string();
        assert!(e.contains("in the time allowed"), "{e}");
    }
}
