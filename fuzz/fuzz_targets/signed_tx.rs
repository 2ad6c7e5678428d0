//! cargo-fuzz target `signed_tx`: see `bct_tests::fuzz::signed_tx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::signed_tx(data));
