//! cargo-fuzz target `consensus_msg`: see `bct_tests::fuzz::consensus_msg`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::consensus_msg(data));
