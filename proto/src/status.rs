//! The rich error model of the bct services: an error's gRPC status carries, in its
//! `grpc-status-details-bin` trailer, a `google.rpc.Status` (the standard every gRPC library
//! reads, e.g. Python's `rpc_status.from_call`, Go's `status.FromError`) whose details are a
//! `google.rpc.ErrorInfo` (domain [`ERROR_DOMAIN`], a stable `reason` in upper snake case, and
//! metadata such as the nonce or the transaction id) and, when the ledger refused a transaction,
//! the `bct.v1.Rejection`.
//!
//! [`rich`] builds such a status on the server; [`details`] reads it back on a client.

use prost::Message;
use prost_types::Any;
use tonic::{Code, Status};
use tonic_types::pb as rpc;

use crate::pb;

/// `ErrorInfo.domain` of every bct error.
pub const ERROR_DOMAIN: &str = "bct.v1";
/// Type URL of a `google.rpc.ErrorInfo` in `Any`.
pub const ERROR_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.ErrorInfo";
/// Type URL of a `bct.v1.Rejection` in `Any`.
pub const REJECTION_TYPE_URL: &str = "type.googleapis.com/bct.v1.Rejection";

/// What a bct error status says to programs, besides its code and message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorDetails {
    /// `ErrorInfo.reason`, e.g. `REJECTED`, `NONCE_USED`, `MEMPOOL_FULL` (empty if absent).
    pub reason: String,
    /// `ErrorInfo.metadata`, sorted by key.
    pub metadata: Vec<(String, String)>,
    /// The ledger's rejection, when the ledger refused the transaction.
    pub rejection: Option<pb::Rejection>,
}

impl ErrorDetails {
    /// A metadata value by key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A status with `code` and `message`, whose details are a `google.rpc.Status` holding an
/// `ErrorInfo` (`reason`, `metadata`) and, if given, the ledger's `rejection`.
pub fn rich(
    code: Code,
    message: impl Into<String>,
    reason: &str,
    metadata: &[(&str, String)],
    rejection: Option<&pb::Rejection>,
) -> Status {
    let message = message.into();
    let info = rpc::ErrorInfo {
        reason: reason.to_string(),
        domain: ERROR_DOMAIN.to_string(),
        metadata: metadata.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    };
    let mut details = vec![Any { type_url: ERROR_INFO_TYPE_URL.to_string(), value: info.encode_to_vec() }];
    if let Some(r) = rejection {
        details.push(Any { type_url: REJECTION_TYPE_URL.to_string(), value: r.encode_to_vec() });
    }
    let status = rpc::Status { code: code as i32, message: message.clone(), details };
    Status::with_details(code, message, status.encode_to_vec().into())
}

/// The details of a bct error status, or `None` when it carries none (a status from the
/// transport, or from a server that does not use the rich model). Details that are not
/// `ErrorInfo` or `Rejection` are skipped.
pub fn details(status: &Status) -> Option<ErrorDetails> {
    if status.details().is_empty() {
        return None;
    }
    let rich = rpc::Status::decode(status.details()).ok()?;
    let mut out = ErrorDetails::default();
    for any in rich.details {
        match any.type_url.as_str() {
            ERROR_INFO_TYPE_URL => {
                if let Ok(info) = rpc::ErrorInfo::decode(any.value.as_slice()) {
                    out.reason = info.reason;
                    let mut metadata: Vec<(String, String)> = info.metadata.into_iter().collect();
                    metadata.sort();
                    out.metadata = metadata;
                }
            }
            REJECTION_TYPE_URL => out.rejection = pb::Rejection::decode(any.value.as_slice()).ok(),
            _ => {}
        }
    }
    Some(out)
}

/// The ledger's rejection carried by a status, if any.
pub fn rejection(status: &Status) -> Option<pb::Rejection> {
    details(status).and_then(|d| d.rejection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rich_status_round_trips_as_google_rpc_status() {
        let r = pb::Rejection { code: 4, message: "nonce 1 was already used".into(), reason: None };
        let s = rich(Code::FailedPrecondition, "refused", "REJECTED", &[("nonce", "1".into())], Some(&r));
        // What any gRPC library reads: a google.rpc.Status with the same code and message.
        let g = rpc::Status::decode(s.details()).expect("google.rpc.Status");
        assert_eq!((g.code, g.message.as_str()), (Code::FailedPrecondition as i32, "refused"));
        assert_eq!(g.details.len(), 2);
        assert_eq!(g.details[0].type_url, ERROR_INFO_TYPE_URL);
        let d = details(&s).expect("details");
        assert_eq!(d.reason, "REJECTED");
        assert_eq!(d.get("nonce"), Some("1"));
        assert_eq!(d.rejection, Some(r));
        // The old encoding (a bare bct.v1.Rejection) is not mistaken for a google.rpc.Status
        // with a rejection in it.
        let bare = Status::with_details(Code::FailedPrecondition, "x", pb::Rejection::default().encode_to_vec().into());
        assert_eq!(rejection(&bare), None);
        assert_eq!(details(&Status::not_found("x")), None);
    }
}
