//! Hold bct keys, sign and submit every transaction kind, query a node, and verify retirement
//! certificates offline.
//!
//! - [`client`]: the gRPC client of a bct node ([`client::Client`]), retirement certificate
//!   files and their offline verification ([`client::certificate`]), commit certificates and the
//!   precommit bytes validators sign ([`client::consensus`]).
//! - [`keystore`]: named ed25519 keys sealed under a passphrase (argon2id, XChaCha20-Poly1305).
//! - [`parse`]: what people type (quantities, periods, areas, prices, validators) into values.
//! - [`view`]: ledger values as JSON for people and scripts.
//!
//! The binary `bct` (`src/main.rs`, `src/cli/`) is a thin layer over these; the testnet tool
//! and the end-to-end tests reuse them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod client;
pub mod keystore;
pub mod parse;
pub mod view;
