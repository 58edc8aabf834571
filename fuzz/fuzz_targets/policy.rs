#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| threadlog_fuzz::targets::policy(data));
