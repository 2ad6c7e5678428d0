//! cargo-fuzz target `proposal_stream`: see `bct_tests::fuzz::proposal_stream`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::proposal_stream(data));
