//! Run a bct ledger node: Malachite BFT consensus over libp2p, a mempool, the block store,
//! the gRPC API, and Prometheus metrics.
//!
//! - [`consensus`]: the Malachite `Context`, codecs and signing, and the host that proposes,
//!   checks and commits blocks.
//! - [`mempool`]: transactions waiting for a block.
//! - [`chain`]: the shared ledger and commit notifications.
//! - [`node`]: assembling and starting everything from a [`config::NodeConfig`].
//! - [`web`]: the read-only web view and JSON API (`[web]` in config.toml).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod ceremony;
pub mod chain;
pub mod check;
pub mod config;
pub mod consensus;
pub mod error;
pub mod keys;
pub mod limits;
pub mod localnet;
pub mod mempool;
pub mod metrics;
pub mod network;
pub mod node;
pub mod query;
pub mod rpc;
pub mod submit;
pub mod tls;
pub mod web;

pub use error::NodeError;
