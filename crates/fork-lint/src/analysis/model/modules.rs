//! The module tree of a target, read from the text of its files without parsing them:
//! from the crate root, every `mod name;` declaration (with `#[path = "…"]`, inside
//! inline `mod a { … }` blocks, `pub` or not, `#[cfg(test)]` or not) leads to the file
//! that holds the module, as rustc finds it. A small lexer skips comments and literals;
//! only declarations at module level count (not inside function bodies).
//!
//! Scanning text instead of parsing keeps the tree cheap enough to build for every
//! package with a fork point, before any file but the candidates is parsed.

use std::path::{Path, PathBuf};

/// One `mod name;` declaration of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModDecl {
    /// The inline modules it is written in (`mod a { mod b; }` → `["a"]`), each with
    /// whether it is `pub` and `#[cfg(test)]`.
    pub inline: Vec<InlineMod>,
    /// The module's name.
    pub name: String,
    /// Declared `pub` (not `pub(crate)` or narrower).
    pub public: bool,
    /// Under `#[cfg(test)]`.
    pub cfg_test: bool,
    /// `#[macro_use]`: its `macro_rules!` stay visible after it.
    pub macro_use: bool,
    /// `#[path = "…"]`.
    pub path_attr: Option<String>,
}

/// An inline module that encloses a declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineMod {
    /// Its name.
    pub name: String,
    /// Declared `pub`.
    pub public: bool,
    /// Under `#[cfg(test)]`.
    pub cfg_test: bool,
}

/// The `mod name;` declarations of a file's text, in order.
pub fn declarations(text: &str) -> Vec<ModDecl> {
    // Most files of a big package declare no module: no need to lex them.
    if !may_declare(text.as_bytes()) {
        return Vec::new();
    }
    let tokens = lex(text);
    let mut out = Vec::new();
    // The brace blocks open here: an inline module, the body of a macro invoked at
    // module level (`cfg_if! { … }`, `feature! { … }`: declarations inside count, and
    // so do those in its nested blocks), or anything else (a function body…).
    let mut frames: Vec<Frame> = Vec::new();
    // How many of the open frames are `Other` and `Macro` (asked at every token).
    let (mut others, mut macros) = (0usize, 0usize);
    let mut attrs = Attrs::default();
    let mut public = false;
    let mut i = 0;
    while i < tokens.len() {
        // At module level: outside any block but inline modules and macro bodies.
        let item_level = others == 0;
        let in_macro = macros > 0;
        match &tokens[i] {
            Tok::Punct(b'#') if item_level => {
                // `#[…]` or `#![…]`: read the attribute.
                let mut j = i + 1;
                let inner = matches!(tokens.get(j), Some(Tok::Punct(b'!')));
                if inner {
                    j += 1;
                }
                if matches!(tokens.get(j), Some(Tok::Punct(b'['))) {
                    let end = matching(&tokens, j, b'[', b']');
                    if !inner {
                        attrs.read(&tokens[j + 1..end.min(tokens.len())]);
                    }
                    i = end + 1;
                    continue;
                }
            }
            Tok::Ident("pub") if item_level => {
                public = true;
                if matches!(tokens.get(i + 1), Some(Tok::Punct(b'('))) {
                    // `pub(crate)`, `pub(super)`, `pub(in …)`: not visible outside.
                    public = false;
                    i = matching(&tokens, i + 1, b'(', b')') + 1;
                    continue;
                }
            }
            Tok::Ident("mod") if item_level => {
                if let Some(Tok::Ident(name)) = tokens.get(i + 1) {
                    let name = name.strip_prefix("r#").unwrap_or(name).to_string();
                    match tokens.get(i + 2) {
                        Some(Tok::Punct(b';')) => {
                            out.push(ModDecl {
                                inline: inline_path(&frames),
                                name,
                                public,
                                cfg_test: attrs.cfg_test,
                                macro_use: attrs.macro_use,
                                path_attr: attrs.path.take(),
                            });
                            i += 3;
                        }
                        Some(Tok::Punct(b'{')) => {
                            frames.push(Frame::Module(InlineMod {
                                name,
                                public,
                                cfg_test: attrs.cfg_test,
                            }));
                            i += 3;
                        }
                        _ => i += 2,
                    }
                    attrs = Attrs::default();
                    public = false;
                    continue;
                }
            }
            Tok::Punct(b'{') => {
                let invocation = i >= 2
                    && matches!(tokens[i - 1], Tok::Punct(b'!'))
                    && matches!(tokens[i - 2], Tok::Ident(_));
                if item_level && (invocation || in_macro) {
                    macros += 1;
                    frames.push(Frame::Macro);
                } else {
                    others += 1;
                    frames.push(Frame::Other);
                }
                attrs = Attrs::default();
                public = false;
            }
            Tok::Punct(b'}') => {
                match frames.pop() {
                    Some(Frame::Other) => others -= 1,
                    Some(Frame::Macro) => macros -= 1,
                    _ => {}
                }
                attrs = Attrs::default();
                public = false;
            }
            Tok::Punct(b';') => {
                attrs = Attrs::default();
                public = false;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A brace block of a file, as [`declarations`] sees it.
enum Frame {
    Module(InlineMod),
    Macro,
    Other,
}

fn inline_path(frames: &[Frame]) -> Vec<InlineMod> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Module(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The file a declaration names, as rustc looks for it: `dir/name.rs` or
/// `dir/name/mod.rs`, where `dir` is the declaring file's directory for crate roots
/// and `mod.rs` files, and `dir/<stem>/` for other files; inline modules add a
/// directory each. `#[path]` is relative to the declaring file's directory (plus the
/// inline modules' directories). Returns the candidates in rustc's order.
pub fn module_files(declaring: &Path, is_root: bool, decl: &ModDecl) -> Vec<PathBuf> {
    let dir = declaring.parent().unwrap_or(Path::new(""));
    let mod_rs = is_root || declaring.file_name().is_some_and(|n| n == "mod.rs");
    if let Some(path) = &decl.path_attr {
        let mut base = dir.to_path_buf();
        for m in &decl.inline {
            base.push(&m.name);
        }
        return vec![normalize(&base.join(path))];
    }
    let mut base = dir.to_path_buf();
    if !mod_rs {
        if let Some(stem) = declaring.file_stem() {
            base.push(stem);
        }
    }
    for m in &decl.inline {
        base.push(&m.name);
    }
    vec![
        base.join(format!("{}.rs", decl.name)),
        base.join(&decl.name).join("mod.rs"),
    ]
}

/// `a/b/../c` → `a/c`, without touching the file system (the path may be in memory).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[derive(Default)]
struct Attrs {
    path: Option<String>,
    /// `path` came from a `cfg_attr` for Unix: a later one for another platform does
    /// not replace it.
    path_for_unix: bool,
    cfg_test: bool,
    macro_use: bool,
}

impl Attrs {
    fn read(&mut self, toks: &[Tok<'_>]) {
        match toks {
            [Tok::Ident("path"), Tok::Punct(b'='), Tok::Str(s, raw), ..] => {
                self.path = Some(string_value(s, *raw));
            }
            // `#[cfg_attr(unix, path = "imp/unix.rs")]`: the path on this platform (a
            // Unix one; the first given when none says which).
            [Tok::Ident("cfg_attr"), Tok::Punct(b'('), rest @ ..] => {
                let at = rest.windows(3).position(|w| {
                    matches!(w, [Tok::Ident("path"), Tok::Punct(b'='), Tok::Str(..)])
                });
                if let Some(Tok::Str(s, raw)) = at.map(|at| &rest[at + 2]) {
                    let unix = rest[..at.unwrap_or(0)].iter().any(|t| {
                        matches!(
                            t,
                            Tok::Ident("unix" | "linux" | "target_os" | "target_family")
                        )
                    }) && !rest[..at.unwrap_or(0)]
                        .iter()
                        .any(|t| matches!(t, Tok::Ident("windows")));
                    if unix || self.path.is_none() {
                        if !self.path_for_unix {
                            self.path = Some(string_value(s, *raw));
                        }
                        self.path_for_unix |= unix;
                    }
                }
            }
            [
                Tok::Ident("cfg"),
                Tok::Punct(b'('),
                Tok::Ident("test"),
                Tok::Punct(b')'),
            ] => self.cfg_test = true,
            [Tok::Ident("macro_use"), ..] => self.macro_use = true,
            _ => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok<'t> {
    Ident(&'t str),
    /// A string literal: what is between its quotes, and whether it is raw.
    Str(&'t str, bool),
    Punct(u8),
    Other,
}

/// The index of the token that closes the group opened at `open` (or the end).
fn matching(tokens: &[Tok<'_>], open: usize, o: u8, c: u8) -> usize {
    let mut depth = 0usize;
    for (k, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Tok::Punct(p) if *p == o => depth += 1,
            Tok::Punct(p) if *p == c => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Rust tokens, coarsely: identifiers, string values, one-byte punctuation; comments,
/// whitespace, numbers, characters and lifetimes skipped. Unterminated literals and
/// comments end the text.
fn lex(text: &str) -> Vec<Tok<'_>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1);
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some((inside, raw, end)) = string_at(b, i) {
            out.push(Tok::Str(text.get(inside).unwrap_or(""), raw));
            i = end;
        } else if c == b'\'' {
            // A character literal, or a lifetime / label.
            if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            } else {
                let ch_len = text
                    .get(i + 1..)
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                if b.get(i + 1 + ch_len) == Some(&b'\'') {
                    i += 2 + ch_len;
                } else {
                    i += 1;
                    while i < b.len() && is_ident_byte(b[i]) {
                        i += 1;
                    }
                }
            }
        } else if is_ident_start(c) {
            let start = i;
            if b[i..].starts_with(b"r#") && b.get(i + 2).is_some_and(|&x| is_ident_start(x)) {
                i += 2;
            }
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            out.push(text.get(start..i).map_or(Tok::Other, Tok::Ident));
        } else if c.is_ascii_digit() {
            while i < b.len() && (is_ident_byte(b[i]) || b[i] == b'.') {
                if b[i] == b'.' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    break;
                }
                i += 1;
            }
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// A string literal starting at `i` (`"…"`, `b"…"`, `c"…"`, raw forms): the range
/// between its quotes, whether it is raw, and the offset after it.
fn string_at(b: &[u8], i: usize) -> Option<(std::ops::Range<usize>, bool, usize)> {
    let mut j = i;
    if matches!(b.get(j), Some(b'b' | b'c')) {
        j += 1;
    }
    let raw = b.get(j) == Some(&b'r');
    if raw {
        j += 1;
    }
    let mut hashes = 0;
    while raw && b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    if b.get(j) != Some(&b'"') {
        return None;
    }
    // `r#ident` is a raw identifier, not a string.
    j += 1;
    let start = j;
    while j < b.len() {
        match b[j] {
            b'\\' if !raw => j += 2,
            b'"' => {
                if (0..hashes).all(|h| b.get(j + 1 + h) == Some(&b'#')) {
                    return Some((start..j, raw, j + 1 + hashes));
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    Some((start..start, raw, b.len()))
}

/// A string literal's value from what is between its quotes (escapes other than `\\`
/// and `\"` kept as written).
fn string_value(inside: &str, raw: bool) -> String {
    if raw {
        return inside.to_string();
    }
    let mut out = String::with_capacity(inside.len());
    let mut chars = inside.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('\\' | '"')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => {}
            },
            c => out.push(c),
        }
    }
    out
}

/// Whether `text` may declare a module: `mod`, as a word, then an identifier and `;`
/// or `{`. Cheaper than lexing, and false for half the bytes of a big package.
fn may_declare(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"mod").any(|at| {
        if at > 0 && is_ident_byte(text[at - 1]) {
            return false;
        }
        let mut j = at + 3;
        let spaces = j;
        while text.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        if j == spaces {
            return false;
        }
        if text[j..].starts_with(b"r#") {
            j += 2;
        }
        let name = j;
        while text.get(j).is_some_and(|&b| is_ident_byte(b)) {
            j += 1;
        }
        if j == name {
            return false;
        }
        while text.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        matches!(text.get(j), Some(b';' | b'{'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        declarations(text)
            .into_iter()
            .map(|d| {
                let mut path: Vec<String> = d.inline.iter().map(|m| m.name.clone()).collect();
                path.push(d.name);
                path.join("::")
            })
            .collect()
    }

    #[test]
    fn declarations_at_module_level_only_and_in_module_level_macros() {
        let text = r#"
            //! mod not_me;
            /* mod nor_me; /* nested */ mod still_not; */
            mod a;
            pub mod b;
            pub(crate) mod c;
            #[cfg(test)]
            mod tests;
            #[path = "sys/unix.rs"] mod sys;
            mod inline { pub mod d; fn f() { let s = "mod e;"; } }
            fn g() { mod h { } let c = '{'; let l: &'static str = "}"; }
            mod r#type;
            cfg_if::cfg_if! {
                if #[cfg(unix)] { mod unix; } else { mod other; }
            }
            feature! {
                #![feature = "process"]
                pub mod unistd;
            }
            macro_rules! m { () => { fn f() { mod not_this; } } }
            mod after;
        "#;
        assert_eq!(
            names(text),
            [
                "a",
                "b",
                "c",
                "tests",
                "sys",
                "inline::d",
                "type",
                "unix",
                "other",
                "unistd",
                "after"
            ]
        );
        let decls = declarations(text);
        assert!(!decls[0].public && decls[1].public && !decls[2].public);
        assert!(decls[3].cfg_test && !decls[4].cfg_test);
        assert_eq!(decls[4].path_attr.as_deref(), Some("sys/unix.rs"));
        assert!(decls[5].inline[0].name == "inline" && decls[5].public);
    }

    #[test]
    fn files_are_found_as_rustc_finds_them() {
        let decl = |name: &str| ModDecl {
            inline: Vec::new(),
            name: name.into(),
            public: false,
            cfg_test: false,
            macro_use: false,
            path_attr: None,
        };
        let from_root = module_files(Path::new("/p/src/main.rs"), true, &decl("a"));
        assert_eq!(
            from_root,
            [
                PathBuf::from("/p/src/a.rs"),
                PathBuf::from("/p/src/a/mod.rs")
            ]
        );
        let from_leaf = module_files(Path::new("/p/src/a.rs"), false, &decl("b"));
        assert_eq!(from_leaf[0], PathBuf::from("/p/src/a/b.rs"));
        let from_mod_rs = module_files(Path::new("/p/src/a/mod.rs"), false, &decl("b"));
        assert_eq!(from_mod_rs[0], PathBuf::from("/p/src/a/b.rs"));
        let mut inline = decl("c");
        inline.inline.push(InlineMod {
            name: "x".into(),
            public: false,
            cfg_test: false,
        });
        let nested = module_files(Path::new("/p/src/lib.rs"), true, &inline);
        assert_eq!(nested[0], PathBuf::from("/p/src/x/c.rs"));
    }

    #[test]
    fn raw_strings_and_chars_do_not_confuse_the_lexer() {
        let text = "const A: &str = r#\"mod x; \" }\"#; const B: char = '\\''; mod real;";
        assert_eq!(names(text), ["real"]);
    }
}
