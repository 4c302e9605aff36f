//! Arbitrary bytes, as UTF-8 where valid (lossily converted where not), linted with
//! the prefilter off, every output format rendered. See `fork_lint_fuzz::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    fork_lint_fuzz::check(&text);
});
