//! The text prefilter: a file is parsed only if its bytes hold, in code, a word that
//! every form the analysis recognises needs in the same file.
//!
//! Fork points and runtimes are resolved per file (see `analysis::resolve`): every
//! segment of the full path a call resolves to is written somewhere in the file, in
//! the call or in a `use` / `extern crate` item. So each fork point or process the
//! analysis can find has one of these words, as a whole identifier, in the code of its
//! own file:
//!
//! * `fork` / `vfork` (`libc::fork`, `nix::unistd::{fork, vfork}`, `fork::fork`,
//!   `fork::daemon`: the `fork` crate is named too);
//! * `forkrt` (processes, contexts, `set_start_method`, the entry guard), `procspawn`;
//! * `pre_exec` / `before_exec` (the method, or `CommandExt::pre_exec(..)`);
//! * `Daemonize` / `daemonize` (`daemonize::Daemonize::new()…start()`);
//! * `daemon` (daemon(3): `libc::daemon`, `nix::unistd::daemon`);
//! * the last segment of each configured fork point.
//!
//! The search runs in two stages. Stage 1 looks for the substrings (`fork`,
//! `pre_exec`, `before_exec`, `procspawn`, `aemon`, configured names) with
//! aho-corasick over the raw bytes; most files stop here. Stage 2 runs only on files
//! with a hit and keeps a hit only if it is a whole word outside comments and string
//! or character literals (a small lexer), and, for `fork`/`vfork`/`daemon`, only if it is not
//! plainly something else than a path: a method or field (`input.fork()`, `x.fork`),
//! a function being declared (`fn fork`), a binding or field being declared
//! (`let fork = …`, `pub fork: u32`). None of these can be a path that resolves to a
//! fork function. Whenever the lexer is unsure (unterminated literal or comment), the
//! text counts as code.
//!
//! A file that mentions `fork-lint:` anywhere is always kept, so that its suppression
//! comments are checked (unused and malformed suppressions are reported).
//!
//! `coverage_tests.rs` checks this against the analysis: every fork point and
//! process form, in every alias form the resolver supports, passes the prefilter.

use aho_corasick::{AhoCorasick, MatchKind};

/// The built-in stage-1 substrings.
pub const TOKENS: &[&str] = &["fork", "pre_exec", "before_exec", "procspawn", "aemon"];

/// The built-in words a stage-1 hit must be part of.
pub const WORDS: &[&str] = &[
    "fork",
    "vfork",
    "forkrt",
    "pre_exec",
    "before_exec",
    "procspawn",
    "daemonize",
    "Daemonize",
    "daemon",
];

/// Words that only count where they could be a path (see the module doc).
const PATH_ONLY: &[&str] = &["fork", "vfork", "daemon"];

/// The suppression-comment marker.
const MARKER: &[u8] = b"fork-lint:";

pub struct Prefilter {
    matcher: AhoCorasick,
    /// Whole words that count, built-in and configured.
    words: Vec<Vec<u8>>,
    /// Configured fork points whose last segment is not a plain identifier: any
    /// substring hit counts.
    raw_extra: bool,
}

impl Prefilter {
    pub fn new(extra_fork_points: &[String]) -> Prefilter {
        let mut tokens: Vec<String> = TOKENS.iter().map(|s| s.to_string()).collect();
        let mut words: Vec<Vec<u8>> = WORDS.iter().map(|w| w.as_bytes().to_vec()).collect();
        let mut raw_extra = false;
        for p in extra_fork_points {
            let Some(last) = p
                .rsplit("::")
                .next()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let last = last.strip_prefix("r#").unwrap_or(last);
            if !last.bytes().all(is_ident_byte) {
                raw_extra = true;
            }
            tokens.push(last.to_string());
            words.push(last.as_bytes().to_vec());
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&tokens)
            .expect("prefilter tokens are valid");
        Prefilter {
            matcher,
            words,
            raw_extra,
        }
    }

    /// Whether the file may hold something the analysis looks for.
    pub fn may_match(&self, bytes: &[u8]) -> bool {
        let mut hits = self.matcher.find_iter(bytes).peekable();
        if hits.peek().is_none() {
            return false;
        }
        if self.raw_extra || memchr::memmem::find(bytes, MARKER).is_some() {
            return true;
        }
        let mut lexer = Lexer::new(bytes);
        let mut last_word_end = 0;
        for hit in hits {
            let (start, end) = word_around(bytes, hit.start(), hit.end());
            if start < last_word_end {
                continue; // the same word as the previous hit
            }
            last_word_end = end;
            let word = &bytes[start..end];
            if !self.words.iter().any(|w| w == word) {
                continue;
            }
            if PATH_ONLY.iter().any(|w| w.as_bytes() == word) && !may_be_path(bytes, start, end) {
                continue;
            }
            if declared_fn(bytes, start) {
                continue;
            }
            if lexer.is_code(start) {
                return true;
            }
        }
        false
    }
}

/// For each offset (in increasing order), whether the prefilter's lexer takes the byte
/// there for code rather than a comment or a string or character literal. For tests.
#[doc(hidden)]
#[cfg(test)]
pub fn in_code(bytes: &[u8], offsets: &[usize]) -> Vec<bool> {
    let mut lexer = Lexer::new(bytes);
    offsets.iter().map(|&at| lexer.is_code(at)).collect()
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The identifier around `start..end` (ASCII and non-ASCII identifier bytes).
fn word_around(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start > 0 && is_ident_byte(bytes[start - 1]) {
        start -= 1;
    }
    while end < bytes.len() && is_ident_byte(bytes[end]) {
        end += 1;
    }
    (start, end)
}

/// The last byte before `at` that is not ASCII whitespace, and its index.
fn prev_non_space(bytes: &[u8], at: usize) -> Option<(usize, u8)> {
    bytes[..at]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map(|i| (i, bytes[i]))
}

fn next_non_space(bytes: &[u8], at: usize) -> Option<(usize, u8)> {
    bytes[at..]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| (at + i, bytes[at + i]))
}

/// Whether the word at `start..end` is right after the keyword `fn`.
fn declared_fn(bytes: &[u8], start: usize) -> bool {
    match prev_non_space(bytes, start) {
        Some((i, b'n')) if i >= 1 && i + 1 < start => {
            bytes[i - 1] == b'f' && (i < 2 || !is_ident_byte(bytes[i - 2]))
        }
        _ => false,
    }
}

/// Whether the identifier at `start..end` could be a path segment: not a method or
/// field name (`.fork`), not a receiver (`fork.x`), not a binding or field being
/// declared (`fork: T`, `fork = …`).
fn may_be_path(bytes: &[u8], start: usize, end: usize) -> bool {
    if let Some((i, b'.')) = prev_non_space(bytes, start) {
        // `a.fork` (but `a..fork` is a range).
        if i == 0 || bytes[i - 1] != b'.' {
            return false;
        }
    }
    match next_non_space(bytes, end) {
        Some((i, b'.')) => bytes.get(i + 1) == Some(&b'.'), // `fork..x` is a range
        Some((i, b':')) => bytes.get(i + 1) == Some(&b':'), // `fork::x` is a path
        Some((i, b'=')) => matches!(bytes.get(i + 1), Some(b'=' | b'>')),
        _ => true,
    }
}

/// A forward lexer that tells code from comments and literals. Asked about
/// increasing offsets, it lexes each byte of the file at most once.
struct Lexer<'a> {
    bytes: &'a [u8],
    /// Everything before `pos` has been classified; `pos` starts a token or code.
    pos: usize,
    /// The last non-code range found (comment or literal), `start..end`.
    skipped: (usize, usize),
}

impl<'a> Lexer<'a> {
    fn new(bytes: &'a [u8]) -> Lexer<'a> {
        Lexer {
            bytes,
            pos: 0,
            skipped: (0, 0),
        }
    }

    /// Whether the byte at `at` is code (not inside a comment or a literal).
    /// Offsets must not decrease between calls.
    fn is_code(&mut self, at: usize) -> bool {
        loop {
            if at < self.skipped.1 {
                return at < self.skipped.0;
            }
            if at < self.pos {
                return true;
            }
            if !self.advance() {
                return true;
            }
        }
    }

    /// Lexes up to the next comment or literal (recorded in `skipped`). Returns false
    /// at the end of the text.
    fn advance(&mut self) -> bool {
        let b = self.bytes;
        let mut i = self.pos;
        while i < b.len() {
            let c = b[i];
            let skip_end = match c {
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    Some(memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n))
                }
                b'/' if b.get(i + 1) == Some(&b'*') => Some(block_comment_end(b, i)),
                b'"' => Some(string_end(b, i + 1)),
                b'\'' => char_literal_end(b, i),
                b'r' | b'b' | b'c' if i == 0 || !is_ident_byte(b[i - 1]) => raw_string_end(b, i),
                _ if is_ident_byte(c) => {
                    // Skip the rest of the identifier (so that `r`/`b` inside one
                    // never starts a raw string).
                    while i + 1 < b.len() && is_ident_byte(b[i + 1]) {
                        i += 1;
                    }
                    None
                }
                _ => None,
            };
            if let Some(end) = skip_end.filter(|&end| end > i) {
                self.skipped = (i, end);
                self.pos = end;
                return true;
            }
            i += 1;
        }
        self.pos = b.len();
        self.skipped = (b.len(), b.len());
        false
    }
}

/// The end of a (nested) block comment starting at `i`; an unterminated comment is
/// taken as code (it ends right away).
fn block_comment_end(b: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    i
}

/// The end of a string whose body starts at `i` (after the opening quote); an
/// unterminated string is taken as code.
fn string_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while let Some(n) = memchr::memchr2(b'"', b'\\', &b[j..]) {
        j += n;
        if b[j] == b'\\' {
            j += 2;
            continue;
        }
        return j + 1;
    }
    i
}

/// A character or byte literal at `i` (`'a'`, `'\n'`, `'\u{1F600}'`, `'"'`), or
/// `None` for a lifetime or label (`'a`, `'static`).
fn char_literal_end(b: &[u8], i: usize) -> Option<usize> {
    let next = *b.get(i + 1)?;
    if next == b'\\' {
        // An escape: up to the closing quote, which is near.
        let from = (i + 3).min(b.len());
        let limit = (i + 16).min(b.len());
        return b[from..limit.max(from)]
            .iter()
            .position(|&c| c == b'\'')
            .map(|n| from + n + 1);
    }
    let width = match next {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    (b.get(i + 1 + width) == Some(&b'\'')).then_some(i + 2 + width)
}

/// A raw string (`r"…"`, `r#"…"#`, `br"…"`, `cr#"…"#`) starting at `i`.
fn raw_string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if b[j] != b'r' {
        j += 1; // `b` or `c`
        if b.get(j) != Some(&b'r') {
            return None;
        }
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    j += hashes;
    if b.get(j) != Some(&b'"') {
        return None; // `r#ident`, or an identifier starting with r/b/c
    }
    j += 1;
    while let Some(n) = memchr::memchr(b'"', &b[j..]) {
        j += n + 1;
        if b[j..]
            .iter()
            .take(hashes)
            .take_while(|&&c| c == b'#')
            .count()
            == hashes
        {
            return Some(j + hashes);
        }
    }
    Some(i) // unterminated: code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(src: &str) -> bool {
        Prefilter::new(&[]).may_match(src.as_bytes())
    }

    #[test]
    fn code_words_pass() {
        assert!(passes("fn main() { unsafe { libc::fork() }; }"));
        assert!(passes("use nix::unistd::{fork as f, ForkResult};"));
        assert!(passes("use libc::*; fn g() { vfork(); }"));
        assert!(passes("x..fork()"));
        assert!(passes("let a = (fork)();"));
        assert!(passes("cmd.pre_exec(|| Ok(()));"));
        assert!(passes("use forkrt::Process;"));
        assert!(passes("extern crate forkrt as rt;"));
        assert!(passes("let d = daemonize::Daemonize::new();"));
        assert!(passes("let p = r#fork();"));
        assert!(passes("fn f<'a>(x: &'a str) { fork(); }"));
        assert!(passes("let c = '\"'; fork();"));
        assert!(passes("let s = r#\"a\"b\"#; fork();"));
        assert!(passes("/* a /* nested */ b */ fork();"));
        assert!(passes("let s = \"\\\"\"; fork();"));
        assert!(passes("let c = '\\''; fork();"));
        assert!(passes("let c = b'\\x7f'; fork();"));
        assert!(passes("/* unterminated fork()"));
        assert!(passes("\"unterminated fork()"));
        assert!(passes("// fork-lint: allow(FL004)\nfn main() {}"));
    }

    #[test]
    fn other_uses_do_not() {
        assert!(!passes("fn main() {}"));
        assert!(!passes("// fork the process\nfn main() {}"));
        assert!(!passes("/// see `libc::fork`\nfn main() {}"));
        assert!(!passes("/* fork() */ fn main() {}"));
        assert!(!passes("let s = \"fork\";"));
        assert!(!passes("let s = r#\"libc::fork()\"#;"));
        assert!(!passes("let f = input.fork();"));
        assert!(!passes("let fork = 1; fork.parse()"));
        assert!(!passes("struct S { pub fork: u32 }"));
        assert!(!passes("pub fn fork() -> pid_t;"));
        assert!(!passes("const __NR_fork: u32 = 57;"));
        assert!(!passes("let forked = true; fork_lint::lint();"));
        assert!(!passes("let c = 'x'; // fork\n"));
    }

    #[test]
    fn configured_fork_points() {
        let p = Prefilter::new(&["my::spawn_child".to_string()]);
        assert!(p.may_match(b"use my::spawn_child as s; s();"));
        assert!(!p.may_match(b"// spawn_child"));
        assert!(!p.may_match(b"spawn_children()"));
    }
}

#[cfg(test)]
mod coverage_tests;
