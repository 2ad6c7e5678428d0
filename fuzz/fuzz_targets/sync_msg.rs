//! cargo-fuzz target `sync_msg`: see `bct_tests::fuzz::sync_msg`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::sync_msg(data));
