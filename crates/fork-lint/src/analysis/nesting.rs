//! How deep a file's syntax tree can nest, measured on its text before `syn` parses it.
//!
//! `syn`'s parser, the `Drop` of its trees, `syn::visit` and the analyses all recurse
//! once per level of nesting, and nothing in them bounds the depth: a 300 kB file of
//! `return return return … x`, `|| || || … x`, `Vec<Vec<Vec<…>>>` or `!!!…x` (no
//! brackets at all), or two megabytes of `1 + 1 + 1 + …`, exhausts even a 256 MB stack,
//! and a stack overflow aborts the process (it is not a panic that can be caught).
//! Files whose estimated depth exceeds the limit are therefore not parsed, and the
//! engine reports them as `FL000` at the place the limit was crossed.
//!
//! The estimate is a lexical over-approximation of the tree's depth. Each bracket
//! opens a level; within a level, every token that can make the tree one level deeper
//! without a bracket (operators and `.`/`?`/`as` chains, prefix keywords such as
//! `return`, `move`, `let`, `if`/`else`, closure bars, generic `<`, and each bracket
//! group that follows another, as in `f()()`) adds one, until a token that separates
//! siblings resets the count: `;`, `=>`, a `,` outside generic angle brackets and
//! closure bars, and the start of a new item or statement after a `}`. Strings,
//! character literals and comments are skipped. Hand-written Rust stays far below the
//! limit (the deepest file of a sweep over ten thousand registry files measures a few
//! hundred); only generated or hostile input comes near it.

/// Where the limit was crossed: the 1-based line and 0-based column in characters,
/// the convention of `proc_macro2` that the parse-error path takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooDeep {
    pub line: usize,
    pub column0: usize,
}

/// Keywords that nest what follows them (or, for `as`/`else`/`in`, chain).
const NESTING_KEYWORDS: &[&[u8]] = &[
    b"as", b"async", b"become", b"box", b"break", b"const", b"dyn", b"else", b"fn", b"for", b"if",
    b"impl", b"in", b"let", b"loop", b"match", b"move", b"mut", b"ref", b"return", b"static",
    b"unsafe", b"while", b"yield",
];

#[derive(Clone, Copy, Default)]
struct Level {
    /// Depth at the level's opening bracket.
    base: usize,
    /// Nesting tokens since the last separator.
    run: usize,
    /// Generic angle brackets possibly open (`<` minus `>`).
    angle: usize,
    /// Closure bars since the last separator (odd: inside a parameter list).
    bars: usize,
    /// What the previous token at this level was.
    prev: Prev,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Prev {
    /// Start of the level, an operator or a keyword.
    #[default]
    Other,
    /// An identifier or a closing generic `>`.
    Word,
    /// A number, string or character literal.
    Literal,
    /// A closed `()` or `[]` group.
    Close,
    /// A closed `{}` group: a word or `#` now starts a new item or statement.
    CloseBrace,
}

impl Level {
    fn reset(&mut self) {
        self.run = 0;
        self.angle = 0;
        self.bars = 0;
    }
}

/// The deepest estimated nesting of `text`, or where it first exceeds `limit`.
pub fn measure(text: &str, limit: usize) -> Result<usize, TooDeep> {
    let b = text.as_bytes();
    let mut stack: Vec<Level> = vec![Level::default()];
    let mut max = 0usize;
    let mut line = 1usize;
    let mut line_start = 0usize;
    let mut i = 0usize;
    // The position of byte `at` (on the current line).
    let too_deep = |at: usize, line: usize, line_start: usize| TooDeep {
        line,
        column0: text[line_start..at].chars().count(),
    };
    macro_rules! bump {
        ($n:expr, $at:expr) => {{
            let top = stack.last_mut().expect("the outermost level stays");
            top.run += $n;
            let depth = top.base + top.run;
            if depth > max {
                max = depth;
                if depth > limit {
                    return Err(too_deep($at, line, line_start));
                }
            }
        }};
    }
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                i += 1;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Nested block comments.
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if b[i] == b'\n' {
                            line += 1;
                            line_start = i + 1;
                        }
                        i += 1;
                    }
                }
                continue;
            }
            _ => {}
        }
        let top = stack.last_mut().expect("the outermost level stays");
        let prev = std::mem::take(&mut top.prev);
        let starts_word = c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
        if prev == Prev::CloseBrace && (starts_word || c == b'#' || c == b'\'') {
            let word_end = word_end(b, i);
            let word = &b[i..word_end];
            if !(starts_word && (word == b"else" || word == b"as")) {
                top.reset();
            }
        }
        // String-like literals: `"…"`, `b"…"`, `c"…"`, `r#"…"#`, `br"…"`, `cr#"…"#`.
        if let Some(end) = string_literal(b, i) {
            for &x in &b[i..end] {
                if x == b'\n' {
                    line += 1;
                }
            }
            if let Some(nl) = memchr::memrchr(b'\n', &b[i..end]) {
                line_start = i + nl + 1;
            }
            i = end;
            stack.last_mut().expect("level").prev = Prev::Literal;
            continue;
        }
        if starts_word {
            let end = word_end(b, i);
            let word = &b[i..end];
            i = end;
            if NESTING_KEYWORDS.contains(&word) {
                bump!(1, end - word.len());
            } else {
                stack.last_mut().expect("level").prev = Prev::Word;
            }
            continue;
        }
        if c.is_ascii_digit() {
            // A number: digits, letters (suffixes, hex, exponents) and `_`, and a `.`
            // followed by a digit.
            i += 1;
            while i < b.len() {
                if b[i].is_ascii_alphanumeric()
                    || b[i] == b'_'
                    || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
                {
                    i += 1;
                } else {
                    break;
                }
            }
            stack.last_mut().expect("level").prev = Prev::Literal;
            continue;
        }
        if c == b'\'' {
            // A character literal (`'x'`, `'\n'`, `'\u{1F600}'`) or a lifetime/label.
            if let Some(end) = char_literal(b, i) {
                i = end;
                stack.last_mut().expect("level").prev = Prev::Literal;
            } else {
                i = word_end(b, i + 1).max(i + 1);
            }
            continue;
        }
        let at = i;
        i += 1;
        match c {
            b'(' | b'[' | b'{' => {
                if c != b'{' && prev != Prev::Other {
                    // A postfix call or index on the previous operand.
                    bump!(1, at);
                }
                let top = stack.last().expect("level");
                let base = top.base + top.run + 1;
                stack.push(Level {
                    base,
                    ..Level::default()
                });
                if base > max {
                    max = base;
                    if base > limit {
                        return Err(too_deep(at, line, line_start));
                    }
                }
            }
            b')' | b']' | b'}' => {
                if stack.len() > 1 {
                    stack.pop();
                }
                let top = stack.last_mut().expect("level");
                top.prev = if c == b'}' {
                    Prev::CloseBrace
                } else {
                    Prev::Close
                };
            }
            b';' => stack.last_mut().expect("level").reset(),
            b',' => {
                let top = stack.last_mut().expect("level");
                if top.angle == 0 && top.bars % 2 == 0 {
                    top.reset();
                }
            }
            b'#' => {
                // An attribute: `#[…]` or `#![…]`.
                if b.get(i) == Some(&b'!') {
                    i += 1;
                }
            }
            b'=' if b.get(i) == Some(&b'>') => {
                i += 1;
                stack.last_mut().expect("level").reset();
            }
            b'-' if b.get(i) == Some(&b'>') => {
                i += 1;
                bump!(1, at);
            }
            b':' | b'$' | b'\\' => {
                if c == b':' && b.get(i) == Some(&b':') {
                    i += 1;
                }
            }
            b'<' => {
                // Generic arguments may nest across commas; a `<` right after a literal
                // or a closing bracket is a comparison or shift.
                // `<=` is a comparison, `<<` a shift or two generic openings.
                let width = match b.get(i) {
                    Some(b'=') => {
                        i += 1;
                        0
                    }
                    Some(b'<') => {
                        i += 1;
                        2
                    }
                    _ => 1,
                };
                if !matches!(prev, Prev::Literal | Prev::Close) {
                    stack.last_mut().expect("level").angle += width;
                }
                bump!(1, at);
            }
            b'>' if b.get(i) == Some(&b'=') => {
                i += 1;
                bump!(1, at);
            }
            b'>' => {
                let top = stack.last_mut().expect("level");
                if top.angle > 0 {
                    top.angle -= 1;
                    top.prev = Prev::Word;
                } else {
                    bump!(1, at);
                }
            }
            b'|' => {
                stack.last_mut().expect("level").bars += 1;
                bump!(1, at);
            }
            _ => bump!(1, at),
        }
    }
    Ok(max)
}

/// The end of an identifier-like word starting at `i` (ASCII letters, digits, `_`,
/// and any non-ASCII byte: identifiers may be Unicode).
fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
        i += 1;
    }
    i
}

/// The end of a string literal starting at `i`, if one does.
fn string_literal(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    // Prefixes: b, c, r, br, cr.
    if matches!(b.get(j), Some(b'b' | b'c')) {
        j += 1;
    }
    let raw = b.get(j) == Some(&b'r');
    if raw {
        j += 1;
    }
    if j > i && i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    if raw {
        let hashes_start = j;
        while b.get(j) == Some(&b'#') {
            j += 1;
        }
        let hashes = j - hashes_start;
        if b.get(j) != Some(&b'"') {
            return None;
        }
        j += 1;
        loop {
            let q = memchr::memchr(b'"', &b[j..])? + j;
            j = q + 1;
            if b.len() >= j + hashes && b[j..j + hashes].iter().all(|&h| h == b'#') {
                return Some(j + hashes);
            }
        }
    }
    if b.get(j) != Some(&b'"') {
        return None;
    }
    j += 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    // Unterminated: the rest of the file (the parser reports it).
    Some(b.len())
}

/// The end of a character literal starting at the `'` at `i`, if one does (otherwise
/// it is a lifetime or a label).
fn char_literal(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i + 1)? {
        b'\\' => {
            // An escape: the escaped character, then the closing quote within a short
            // distance (`'\u{10FFFF}'`).
            let from = (i + 3).min(b.len());
            let rest = &b[from..b.len().min(i + 16)];
            memchr::memchr(b'\'', rest).map(|n| from + n + 1)
        }
        b'\'' => None,
        _ => {
            // One character (possibly multi-byte), then a quote.
            let s = std::str::from_utf8(&b[i + 1..b.len().min(i + 5)])
                .or_else(|e| std::str::from_utf8(&b[i + 1..i + 1 + e.valid_up_to()]))
                .ok()?;
            let ch = s.chars().next()?;
            let after = i + 1 + ch.len_utf8();
            (b.get(after) == Some(&b'\'')).then_some(after + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(s: &str) -> usize {
        measure(s, usize::MAX).unwrap()
    }

    #[test]
    fn brackets_nest() {
        assert_eq!(depth("((()))"), 3);
        assert_eq!(depth("{ { } } { }"), 2);
    }

    #[test]
    fn separators_reset() {
        let many_statements = "fn f() { ".to_string() + &"a = !b + c;".repeat(10_000) + "}";
        assert!(depth(&many_statements) < 10);
        let big_array = "const T: [i32; 3] = [".to_string() + &"-1 << 2, ".repeat(10_000) + "];";
        assert!(depth(&big_array) < 10);
        let many_items = "fn a() -> u8 { 1 }\n".repeat(10_000);
        assert!(depth(&many_items) < 10);
        let many_arms = "match x { ".to_string() + &"A | B => {} ".repeat(10_000) + "}";
        assert!(depth(&many_arms) < 10);
        let docs = "//! docs\n".repeat(10_000) + "#![allow(x)]\n".repeat(10_000).as_str();
        assert!(depth(&docs) < 10);
    }

    #[test]
    fn chains_without_brackets_count() {
        for (unit, n) in [
            ("!", 3000),
            ("return ", 3000),
            ("|| ", 3000),
            ("|a, b| ", 3000),
            ("x.f()", 3000),
            ("x? ", 3000),
            ("1 + ", 3000),
            ("x = ", 3000),
            ("Vec<", 3000),
            ("HashMap<K, ", 3000),
            ("if a {} else ", 3000),
            ("()", 3000),
        ] {
            let s = unit.repeat(n);
            assert!(depth(&s) >= n, "{unit:?}: {}", depth(&s));
        }
    }

    #[test]
    fn literals_and_comments_are_skipped() {
        let s = format!(
            "/* {} */ // {}\n\"{}\" r#\"{}\"# '(' '\\'' b'-' 'a: loop {{}}",
            "(".repeat(5000),
            "!".repeat(5000),
            "-".repeat(5000),
            "\"(".repeat(5000)
        );
        // `loop` and its block.
        assert_eq!(depth(&s), 2);
    }

    #[test]
    fn reports_where_the_limit_is_crossed() {
        // `é (` is a call, one level more, so the 50th `(` opens level 51.
        let s = "fn main() {}\n  é ".to_string() + &"(".repeat(100);
        assert_eq!(
            measure(&s, 50),
            Err(TooDeep {
                line: 2,
                column0: 4 + 49
            })
        );
    }
}
