//! The patch engine on arbitrary bytes and edit combinations: see
//! tests/fuzz_check/mod.rs for the property (shared with the regression
//! tests in tests/fuzz_regressions.rs).
#![no_main]

#[path = "../../tests/fuzz_check/mod.rs"]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_check::check(data));
