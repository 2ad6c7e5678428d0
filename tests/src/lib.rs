//! Shared pieces of the system tests: the harness that runs a local network of real
//! `bct-node` processes ([`harness`]) and the fuzz harnesses, one per decoder of untrusted bytes
//! ([`fuzz`]), shared by the cargo-fuzz targets in `fuzz/` and the corpus replay test.

pub mod fuzz;
pub mod harness;
pub mod load;
pub mod proxy;
