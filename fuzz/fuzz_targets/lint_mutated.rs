//! Real Rust sources (the seed corpus: fixtures and registry files that mention
//! fork), mutated with awareness of Rust's structure: fork-related snippets spliced in
//! at line and token boundaries, lines and balanced bracket groups deleted, duplicated
//! and moved, identifiers renamed to the names the analyses look for. One mutation in
//! four is libFuzzer's own byte-level one. See `fork_lint_fuzz::mutate`.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

fuzz_target!(|data: &[u8]| {
    // Non-UTF-8 inputs come from the byte-level mutations; `lint_bytes` covers those.
    if let Ok(text) = std::str::from_utf8(data) {
        fork_lint_fuzz::check(text);
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = fork_lint_fuzz::Rng::new(seed);
    if rng.below(4) == 0 {
        return fuzzer_mutate(data, size, max_size);
    }
    match std::str::from_utf8(&data[..size]) {
        Ok(text) => {
            let mutated = fork_lint_fuzz::mutate(text, &mut rng);
            let bytes = mutated.as_bytes();
            if bytes.len() > max_size || bytes.is_empty() {
                return fuzzer_mutate(data, size, max_size);
            }
            data[..bytes.len()].copy_from_slice(bytes);
            bytes.len()
        }
        Err(_) => fuzzer_mutate(data, size, max_size),
    }
});
