//! Execute blue carbon ticket transactions deterministically and store the result.
//!
//! `bct-ledger` is the state machine every node runs: accounts, projects, attestations,
//! tickets, lots and retirements, the rules that change them, the invariants checked after
//! every block, and storage behind the [`Store`] trait. It does no network or clock I/O:
//! time comes from block headers, and the same blocks give byte-identical state everywhere.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod amount;
pub mod block;
pub mod crypto;
mod exec;
pub mod genesis;
pub mod invariants;
mod ledger;
pub mod state;
pub mod store;
pub mod text;
pub mod tx;
pub mod types;
pub mod words;

pub use amount::Amount;
pub use block::{Accepted, Block, BlockHeader, Rejection, TxResult};
pub use crypto::{Address, Hash, TxId};
pub use exec::{ID_BYTES_MAX, NAME_BYTES_MAX, NOTE_BYTES_MAX};
pub use genesis::{Genesis, Params};
pub use ledger::{next_state_root, BlockError, Executed, Ledger, OpenError, TxLocation};
pub use store::{MemStore, SledStore, Store, StoreError};
pub use tx::{SignedTx, TxBody, TxKind};

#[cfg(test)]
mod tests;
