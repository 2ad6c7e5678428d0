//! cargo-fuzz target `structured`: see `bct_tests::fuzz::structured`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::structured(data));
