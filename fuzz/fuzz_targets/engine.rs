//! The patch engine on arbitrary bytes and edit combinations: see
//! tests/it/support/fuzz_check.rs for the property (shared with the
//! regression tests in tests/it/fuzz_regressions.rs).
#![no_main]

#[path = "../../tests/it/support/fuzz_check.rs"]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_check::check(data));
