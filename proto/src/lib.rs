//! Protobuf messages and gRPC services of bct (package bct.v1), and their conversion to ledger types.
//!
//! - [`pb`]: the generated messages, and the tonic clients and servers of the `Transactions`,
//!   `Query` and `Events` services; [`FILE_DESCRIPTOR_SET`] for gRPC reflection.
//! - Building, signing, encoding and decoding transactions and blocks: [`sign`],
//!   [`encode_body`], [`decode_signed_tx`], [`decode_block`] and their siblings. Decoders take
//!   limits and treat their input as adversarial; errors ([`ProtoError`]) name the field.
//! - Conversions: `From<&ledger type> for pb::Type` everywhere, and [`IntoLedger`] back.
//! - [`commit`]: checking a commit certificate (more than 2/3 of the voting power signed);
//!   [`certificate`]: retirement certificate files and their offline verification, shared by
//!   `bct verify` and the node's web view.
//!
//! `docs/PROTOCOL.md` describes the bytes that are signed and hashed, with test vectors that
//! `tests/protocol_vectors.rs` recomputes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod certificate;
mod codec;
pub mod commit;
mod convert;
mod error;
pub mod rpc_codec;
pub mod status;

/// Generated messages, clients and servers of package `bct.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("bct.v1");
}

/// The encoded `google.protobuf.FileDescriptorSet` of the bct.v1 `.proto` files, for
/// `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bct_v1_descriptor.bin"));

pub use codec::{
    decode_block, decode_body, decode_signed_tx, encode_block, encode_body, encode_signed_tx, sign, signed_tx_from_pb,
    signed_tx_to_pb, SIGNED_TX_BYTES_MAX, TX_BODY_BYTES_MAX,
};
pub use convert::{
    ecosystem_filter, ecosystem_to_pb, purpose_filter, purpose_to_pb, role_filter, role_to_pb, tx_kind_from_pb,
    tx_kind_to_pb, IntoLedger,
};
pub use error::ProtoError;
