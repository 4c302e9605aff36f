//! The text prefilter: a file is parsed only if its bytes contain a token that every
//! form the analysis recognises needs in the same file.
//!
//! Fork points and runtimes are resolved per file (see `analysis::resolve`), so each
//! one the analysis can find mentions one of these tokens in its own file: `fork`
//! (libc/nix/fork-crate forks, `vfork`, `forkrt`, `ForkResult`), `pre_exec` /
//! `before_exec`, `procspawn`, `daemonize`/`Daemonize`. Configured fork points add
//! their last path segment.

use aho_corasick::AhoCorasick;

/// The built-in tokens.
pub const TOKENS: &[&str] = &["fork", "pre_exec", "before_exec", "procspawn", "aemonize"];

pub struct Prefilter {
    matcher: AhoCorasick,
}

impl Prefilter {
    pub fn new(extra_fork_points: &[String]) -> Prefilter {
        let mut tokens: Vec<String> = TOKENS.iter().map(|s| s.to_string()).collect();
        for p in extra_fork_points {
            if let Some(last) = p.rsplit("::").next().filter(|s| !s.is_empty()) {
                tokens.push(last.to_string());
            }
        }
        let matcher = AhoCorasick::new(&tokens).expect("prefilter tokens are valid");
        Prefilter { matcher }
    }

    /// Whether the file may hold something the analysis looks for.
    pub fn may_match(&self, bytes: &[u8]) -> bool {
        self.matcher.is_match(bytes)
    }
}
