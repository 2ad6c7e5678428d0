//! Consensus: the Malachite context, codecs and signing of bct, proposal streams, commit
//! certificates, and the host that answers the engine.

#[cfg(feature = "byzantine")]
pub mod byzantine;
pub mod certificate;
pub mod codec;
pub mod context;
pub mod fetch;
pub mod guard;
pub mod host;
pub mod parts;
pub mod signing;
