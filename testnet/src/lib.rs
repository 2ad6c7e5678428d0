//! `bct-testnet`: a whole bct network on one machine. The library holds what the command and
//! the fault tests share: the network layout and its node processes ([`net`]), the real-case
//! demo ([`demo`]) and the load generator ([`bench`]).

pub mod bench;
pub mod demo;
pub mod net;
pub mod webbench;

pub use net::{NodeCommand, Options, Testnet};
