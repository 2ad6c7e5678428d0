//! cargo-fuzz target `certificate`: see `bct_tests::fuzz::certificate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::certificate(data));
