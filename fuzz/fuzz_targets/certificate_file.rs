//! cargo-fuzz target `certificate_file`: see `bct_tests::fuzz::certificate_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bct_tests::fuzz::certificate_file(data));
