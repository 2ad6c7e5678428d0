//! cargo-fuzz target `proposal_part`: see `bct_tests::fuzz::proposal_part`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::proposal_part(data));
