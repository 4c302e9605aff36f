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
    let mut m = Measure {
        text,
        b: text.as_bytes(),
        limit,
        stack: vec![Level::default()],
        max: 0,
        line: 1,
        line_start: 0,
        i: 0,
    };
    while m.i < m.b.len() {
        if m.skip_trivia() {
            continue;
        }
        m.token()?;
    }
    Ok(m.max)
}

/// The scan's state: where it is, and the open levels.
struct Measure<'t> {
    text: &'t str,
    b: &'t [u8],
    limit: usize,
    /// The open brackets' levels; the outermost stays.
    stack: Vec<Level>,
    max: usize,
    line: usize,
    /// Byte offset of the current line's start.
    line_start: usize,
    i: usize,
}

impl Measure<'_> {
    fn top(&mut self) -> &mut Level {
        self.stack.last_mut().expect("the outermost level stays")
    }

    /// Records a depth, failing at byte `at` when it is past the limit.
    fn reach(&mut self, depth: usize, at: usize) -> Result<(), TooDeep> {
        if depth > self.max {
            self.max = depth;
            if depth > self.limit {
                return Err(TooDeep {
                    line: self.line,
                    column0: self.text[self.line_start..at].chars().count(),
                });
            }
        }
        Ok(())
    }

    /// One more nesting token at this level.
    fn bump(&mut self, at: usize) -> Result<(), TooDeep> {
        let top = self.top();
        top.run += 1;
        let depth = top.base + top.run;
        self.reach(depth, at)
    }

    /// Counts the line breaks in `b[from..to]`, which the scan jumps over.
    fn lines_in(&mut self, from: usize, to: usize) {
        for &x in &self.b[from..to] {
            if x == b'\n' {
                self.line += 1;
            }
        }
        if let Some(nl) = memchr::memrchr(b'\n', &self.b[from..to]) {
            self.line_start = from + nl + 1;
        }
    }

    /// Skips whitespace, a line break or a comment at the cursor; `false` at a token.
    fn skip_trivia(&mut self) -> bool {
        let b = self.b;
        let i = self.i;
        match b[i] {
            b'\n' => {
                self.line += 1;
                self.line_start = i + 1;
                self.i += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                self.i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => self.block_comment(),
            _ => return false,
        }
        true
    }

    /// Skips a block comment (they nest).
    fn block_comment(&mut self) {
        let b = self.b;
        let mut depth = 0usize;
        while self.i < b.len() {
            let i = self.i;
            if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                depth += 1;
                self.i += 2;
            } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    break;
                }
            } else {
                if b[i] == b'\n' {
                    self.line += 1;
                    self.line_start = i + 1;
                }
                self.i += 1;
            }
        }
    }

    /// One token at the cursor.
    fn token(&mut self) -> Result<(), TooDeep> {
        let b = self.b;
        let i = self.i;
        let c = b[i];
        let top = self.top();
        let prev = std::mem::take(&mut top.prev);
        let starts_word = c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
        if prev == Prev::CloseBrace && (starts_word || c == b'#' || c == b'\'') {
            let word = &b[i..word_end(b, i)];
            if !(starts_word && (word == b"else" || word == b"as")) {
                top.reset();
            }
        }
        // String-like literals: `"…"`, `b"…"`, `c"…"`, `r#"…"#`, `br"…"`, `cr#"…"#`.
        if let Some(end) = string_literal(b, i) {
            self.lines_in(i, end);
            self.i = end;
            self.top().prev = Prev::Literal;
            return Ok(());
        }
        if starts_word {
            let end = word_end(b, i);
            self.i = end;
            if NESTING_KEYWORDS.contains(&&b[i..end]) {
                return self.bump(i);
            }
            self.top().prev = Prev::Word;
            return Ok(());
        }
        if c.is_ascii_digit() {
            self.i = number_end(b, i);
            self.top().prev = Prev::Literal;
            return Ok(());
        }
        if c == b'\'' {
            // A character literal (`'x'`, `'\n'`, `'\u{1F600}'`) or a lifetime/label.
            if let Some(end) = char_literal(b, i) {
                self.i = end;
                self.top().prev = Prev::Literal;
            } else {
                self.i = word_end(b, i + 1).max(i + 1);
            }
            return Ok(());
        }
        self.i += 1;
        self.punct(c, i, prev)
    }

    /// A punctuation token `c` at byte `at` (the cursor is past it), after `prev`.
    fn punct(&mut self, c: u8, at: usize, prev: Prev) -> Result<(), TooDeep> {
        let next = self.b.get(self.i).copied();
        match c {
            b'(' | b'[' | b'{' => {
                if c != b'{' && prev != Prev::Other {
                    // A postfix call or index on the previous operand.
                    self.bump(at)?;
                }
                let top = self.top();
                let base = top.base + top.run + 1;
                self.stack.push(Level {
                    base,
                    ..Level::default()
                });
                self.reach(base, at)?;
            }
            b')' | b']' | b'}' => {
                if self.stack.len() > 1 {
                    self.stack.pop();
                }
                self.top().prev = if c == b'}' {
                    Prev::CloseBrace
                } else {
                    Prev::Close
                };
            }
            b';' => self.top().reset(),
            b',' => {
                let top = self.top();
                if top.angle == 0 && top.bars % 2 == 0 {
                    top.reset();
                }
            }
            // An attribute: `#[…]` or `#![…]`.
            b'#' if next == Some(b'!') => self.i += 1,
            b'#' => {}
            b'=' if next == Some(b'>') => {
                self.i += 1;
                self.top().reset();
            }
            b'-' if next == Some(b'>') => {
                self.i += 1;
                self.bump(at)?;
            }
            b':' if next == Some(b':') => self.i += 1,
            b':' | b'$' | b'\\' => {}
            b'<' => {
                // Generic arguments may nest across commas; a `<` right after a literal
                // or a closing bracket is a comparison or shift.
                // `<=` is a comparison, `<<` a shift or two generic openings.
                let width = match next {
                    Some(b'=') => 0,
                    Some(b'<') => 2,
                    _ => 1,
                };
                if matches!(next, Some(b'=' | b'<')) {
                    self.i += 1;
                }
                if !matches!(prev, Prev::Literal | Prev::Close) {
                    self.top().angle += width;
                }
                self.bump(at)?;
            }
            b'>' if next == Some(b'=') => {
                self.i += 1;
                self.bump(at)?;
            }
            b'>' => {
                let top = self.top();
                if top.angle > 0 {
                    top.angle -= 1;
                    top.prev = Prev::Word;
                } else {
                    self.bump(at)?;
                }
            }
            b'|' => {
                self.top().bars += 1;
                self.bump(at)?;
            }
            _ => self.bump(at)?,
        }
        Ok(())
    }
}

/// The end of a number starting at `i`: digits, letters (suffixes, hex, exponents) and
/// `_`, and a `.` followed by a digit.
fn number_end(b: &[u8], mut i: usize) -> usize {
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
    i
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
