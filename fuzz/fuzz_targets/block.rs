//! cargo-fuzz target `block`: see `bct_tests::fuzz::block`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::block(data));
