//! Name resolution within one file: which full path a name in the code stands for,
//! through `use` items (renames, groups, `self`, globs), `extern crate` renames and the
//! prelude, with the file's own items shadowing glob imports.
//!
//! Resolution is per file: `use` items at any depth (modules, function bodies) are
//! gathered into one table. Re-exports in other files are not followed; the prefilter
//! relies on this (every form recognised mentions its token in the same file).

use std::collections::{HashMap, HashSet};

use syn::visit::Visit;

/// A resolved path: its segments, `crate` first for this crate's own items.
pub type Canon = Vec<String>;

#[derive(Debug, Default)]
pub struct Resolver {
    aliases: HashMap<String, Canon>,
    /// The `use` aliases of each inline module (`mod tests { use anyhow::Result; }`),
    /// by the module's path in the file: they hold only inside it.
    scoped: HashMap<Vec<String>, HashMap<String, Canon>>,
    /// The inline module being read.
    module: Vec<String>,
    /// Aliases also declared outside every inline module.
    top_level: std::collections::HashSet<String>,
    globs: Vec<Canon>,
    local_items: HashSet<String>,
}

const PRELUDE: &[(&str, &str)] = &[
    ("drop", "std::mem::drop"),
    ("Box", "std::boxed::Box"),
    ("Vec", "std::vec::Vec"),
    ("String", "std::string::String"),
    ("ToString", "std::string::ToString"),
    ("ToOwned", "std::borrow::ToOwned"),
    ("Option", "std::option::Option"),
    ("Result", "std::result::Result"),
    ("Some", "std::option::Option::Some"),
    ("None", "std::option::Option::None"),
    ("Ok", "std::result::Result::Ok"),
    ("Err", "std::result::Result::Err"),
];

/// Crates whose paths are taken as written when not imported under another name.
const EXTERNAL_ROOTS: &[&str] = &["std", "core", "alloc", "crate", "self", "super", "$crate"];

impl Resolver {
    pub fn new(file: &syn::File) -> Resolver {
        let mut r = Resolver::default();
        r.visit_file(file);
        r
    }

    /// The names the file's `use` items (inline modules' included) give to paths that
    /// `wanted` accepts; `None` when a glob import of such a path may give any name.
    pub fn names_importing(&self, wanted: impl Fn(&[String]) -> bool) -> Option<Vec<String>> {
        if self.globs.iter().any(|g| wanted(g)) {
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        let scoped = self.scoped.values().flat_map(|m| m.iter());
        for (name, canon) in self.aliases.iter().chain(scoped) {
            if wanted(canon) && !out.contains(name) {
                out.push(name.clone());
            }
        }
        Some(out)
    }

    /// The full path `path` stands for. A single unresolved name stays a single
    /// segment (`["helper"]`): a function of this crate, or unknown.
    pub fn canonical(&self, path: &syn::Path) -> Canon {
        let segs = super::syntax::segments(path);
        self.canonical_segments(&segs, path.leading_colon.is_some())
    }

    pub fn canonical_segments(&self, segs: &[String], leading_colon: bool) -> Canon {
        self.canonical_with(
            segs,
            leading_colon,
            self.aliases.get(segs.first().map_or("", String::as_str)),
        )
    }

    /// The canonical path of `segs` when its first segment is the alias `alias` (or
    /// none).
    fn canonical_with(&self, segs: &[String], leading_colon: bool, alias: Option<&Canon>) -> Canon {
        let Some(first) = segs.first() else {
            return Vec::new();
        };
        let mut out: Canon = if leading_colon {
            segs.to_vec()
        } else if let Some(full) = alias {
            full.iter().chain(&segs[1..]).cloned().collect()
        } else if matches!(first.as_str(), "self" | "super" | "$crate") {
            std::iter::once("crate".to_string())
                .chain(segs[1..].iter().skip_while(|s| *s == "super").cloned())
                .collect()
        } else if segs.len() == 1 && !self.local_items.contains(first) {
            match PRELUDE.iter().find(|(n, _)| n == first) {
                Some((_, full)) => full.split("::").map(String::from).collect(),
                None => segs.to_vec(),
            }
        } else {
            segs.to_vec()
        };
        if matches!(out[0].as_str(), "core" | "alloc") {
            out[0] = "std".to_string();
        }
        reexported_std(&mut out);
        out
    }

    /// Every path `path` may stand for: the canonical one, then one per glob import
    /// for a single unresolved name (`fork` under `use nix::unistd::*`).
    pub fn candidates(&self, path: &syn::Path) -> Vec<Canon> {
        let canon = self.canonical(path);
        let mut out = vec![canon.clone()];
        if path.leading_colon.is_none()
            && path.segments.len() == 1
            && !self.is_local(&canon[0])
            && !self.aliases.contains_key(&canon[0])
        {
            for glob in &self.globs {
                out.push(
                    glob.iter()
                        .cloned()
                        .chain(std::iter::once(canon[0].clone()))
                        .collect(),
                );
            }
        }
        out
    }

    /// Whether the first segment names an item of this file (or is `crate`).
    pub fn is_local(&self, first: &str) -> bool {
        first == "crate" || self.local_items.contains(first)
    }

    /// Whether a path refers to this crate: `crate::…`, `self::…`, `super::…`, an item
    /// of this file, or an unresolved single name.
    pub fn is_crate_local(&self, canon: &Canon) -> bool {
        match canon.first().map(String::as_str) {
            Some("crate") => true,
            Some(first) if canon.len() == 1 => !self.aliases.contains_key(first),
            Some(first) => self.local_items.contains(first) && !EXTERNAL_ROOTS.contains(&first),
            None => false,
        }
    }

    fn add_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(super::syntax::ident_text(&p.ident));
                self.add_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = super::syntax::ident_text(&n.ident);
                if name == "self" {
                    if let Some(last) = prefix.last().cloned() {
                        self.add_alias(last, prefix.clone());
                    }
                } else {
                    let mut full = prefix.clone();
                    full.push(name.clone());
                    self.add_alias(name, full);
                }
            }
            syn::UseTree::Rename(r) => {
                let name = super::syntax::ident_text(&r.ident);
                let full = if name == "self" {
                    prefix.clone()
                } else {
                    prefix
                        .iter()
                        .cloned()
                        .chain(std::iter::once(name))
                        .collect()
                };
                if r.rename != "_" {
                    self.add_alias(r.rename.to_string(), full);
                }
            }
            syn::UseTree::Glob(_) => {
                let resolved = self.canonical_segments(prefix, false);
                self.globs.push(resolved);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.add_tree(prefix, t);
                }
            }
        }
    }

    fn add_alias(&mut self, name: String, full: Canon) {
        // `use crate::a::b` / `use self::x`: keep `crate` as the root.
        let full = if full.first().is_some_and(|f| f == "self" || f == "super") {
            std::iter::once("crate".to_string())
                .chain(full.into_iter().skip_while(|s| s == "self" || s == "super"))
                .collect()
        } else {
            // `use unistd::fork` after `use nix::unistd`: expand the first segment.
            match self.aliases.get(&full[0]) {
                Some(head) if full.len() > 1 && head.last() == Some(&full[0]) => head
                    .iter()
                    .cloned()
                    .chain(full[1..].iter().cloned())
                    .collect(),
                _ => full,
            }
        };
        if full.len() == 1 && full[0] == name {
            return; // `use libc;`
        }
        if self.module.is_empty() {
            self.top_level.insert(name.clone());
        } else {
            self.scoped
                .entry(self.module.clone())
                .or_default()
                .entry(name.clone())
                .or_insert(full.clone());
        }
        self.aliases.entry(name).or_insert(full);
    }

    /// The full path `path` stands for in the inline module `module` of the file:
    /// like [`Resolver::canonical`], but a `use` of an inline module counts only inside
    /// it (a test module's `use anyhow::Result;` says nothing about the code around it).
    pub fn canonical_in(&self, path: &syn::Path, module: &[String]) -> Canon {
        let segs = super::syntax::segments(path);
        let Some(first) = segs.first() else {
            return Vec::new();
        };
        let leading_colon = path.leading_colon.is_some();
        for depth in (1..=module.len()).rev() {
            if let Some(full) = self.scoped.get(&module[..depth]).and_then(|m| m.get(first)) {
                return self.canonical_with(&segs, leading_colon, Some(full));
            }
        }
        // An alias declared only inside some inline module is not visible here.
        let alias = self
            .aliases
            .get(first)
            .filter(|_| self.top_level_alias(first));
        self.canonical_with(&segs, leading_colon, alias)
    }

    /// Whether the alias `name` comes from a `use` outside every inline module.
    fn top_level_alias(&self, name: &str) -> bool {
        self.top_level.contains(name)
    }
}

impl<'ast> Visit<'ast> for Resolver {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        self.add_tree(&mut prefix, &u.tree);
    }

    fn visit_item_extern_crate(&mut self, e: &'ast syn::ItemExternCrate) {
        if let Some((_, rename)) = &e.rename {
            self.aliases
                .insert(rename.to_string(), vec![e.ident.to_string()]);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.local_items.insert(super::syntax::ident_text(&m.ident));
        self.module.push(super::syntax::ident_text(&m.ident));
        syn::visit::visit_item_mod(self, m);
        self.module.pop();
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        let name = match item {
            syn::Item::Fn(i) => Some(&i.sig.ident),
            syn::Item::Static(i) => Some(&i.ident),
            syn::Item::Const(i) => Some(&i.ident),
            syn::Item::Struct(i) => Some(&i.ident),
            syn::Item::Enum(i) => Some(&i.ident),
            syn::Item::Mod(i) => Some(&i.ident),
            syn::Item::Trait(i) => Some(&i.ident),
            syn::Item::Type(i) => Some(&i.ident),
            syn::Item::Union(i) => Some(&i.ident),
            _ => None,
        };
        if let Some(name) = name {
            self.local_items.insert(super::syntax::ident_text(name));
        }
        syn::visit::visit_item(self, item);
    }

    // Expressions hold no `use` items except inside blocks, which `visit_block` reaches;
    // skipping expression-level detail keeps this pass cheap.
    fn visit_expr(&mut self, e: &'ast syn::Expr) {
        syn::visit::visit_expr(self, e);
    }
}

/// Paths of other crates that are std's or libc's items re-exported (`use tokio::io;`
/// then `io::Error::new` is `std::io::Error::new`): (prefix, what it stands for).
const CRATE_REEXPORTS: &[(&str, &str)] = &[
    ("tokio::io::Error", "std::io::Error"),
    ("tokio::io::ErrorKind", "std::io::ErrorKind"),
    ("tokio::io::Result", "std::io::Result"),
    ("async_std::io::Error", "std::io::Error"),
    ("async_std::io::ErrorKind", "std::io::ErrorKind"),
    ("async_std::io::Result", "std::io::Result"),
    ("async_std::process::exit", "std::process::exit"),
    ("futures::io::Error", "std::io::Error"),
    ("futures::io::ErrorKind", "std::io::ErrorKind"),
    ("futures::io::Result", "std::io::Result"),
    ("smol::io::Error", "std::io::Error"),
    ("nix::libc", "libc"),
];

/// Rewrites a path through [`CRATE_REEXPORTS`].
fn reexported_std(path: &mut Canon) {
    // Asked of every path resolved: compared segment by segment, without allocating.
    for (from, to) in CRATE_REEXPORTS {
        let len = from.split("::").count();
        if path.len() >= len && is(&path[..len], from) {
            let mut out: Canon = to.split("::").map(String::from).collect();
            out.extend(path[len..].iter().cloned());
            *path = out;
            return;
        }
    }
}

/// Whether a canonical path equals a `::`-separated pattern.
pub fn is(canon: &[String], pattern: &str) -> bool {
    // Asked for every catalogue entry of every call judged: a `char` split is a memchr,
    // a `"::"` split a substring search.
    let mut parts = pattern.split(':').filter(|p| !p.is_empty());
    let mut n = 0;
    for seg in canon {
        match parts.next() {
            Some(p) if p == seg => n += 1,
            _ => return false,
        }
    }
    parts.next().is_none() && n == canon.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(src: &str, path: &str) -> Vec<Canon> {
        let file: syn::File = syn::parse_str(src).unwrap();
        let r = Resolver::new(&file);
        let path: syn::Path = syn::parse_str(path).unwrap();
        r.candidates(&path)
    }

    fn first(src: &str, path: &str) -> String {
        resolve(src, path)[0].join("::")
    }

    #[test]
    fn renames_groups_and_self() {
        assert_eq!(
            first("use libc::fork as raw_fork;", "raw_fork"),
            "libc::fork"
        );
        assert_eq!(
            first("use nix::unistd::{fork, ForkResult};", "ForkResult::Child"),
            "nix::unistd::ForkResult::Child"
        );
        assert_eq!(
            first("use nix::unistd::{self};", "unistd::fork"),
            "nix::unistd::fork"
        );
        assert_eq!(
            first("use nix::unistd;", "unistd::fork"),
            "nix::unistd::fork"
        );
        assert_eq!(
            first("extern crate nix as n;", "n::unistd::fork"),
            "nix::unistd::fork"
        );
        assert_eq!(
            first("fn f() { use std::process; }", "process::exit"),
            "std::process::exit"
        );
        assert_eq!(first("", "core::mem::drop"), "std::mem::drop");
        assert_eq!(first("", "drop"), "std::mem::drop");
    }

    #[test]
    fn globs_offer_candidates_but_local_items_shadow_them() {
        let c = resolve("use nix::unistd::*;", "fork");
        assert!(c.iter().any(|c| c.join("::") == "nix::unistd::fork"));
        let c = resolve("use nix::unistd::*; fn fork() {}", "fork");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0], vec!["fork".to_string()]);
    }

    #[test]
    fn other_crates_reexports_of_std_are_std() {
        assert_eq!(
            first("use tokio::io;", "io::Error::new"),
            "std::io::Error::new"
        );
        assert_eq!(first("use nix::libc;", "libc::_exit"), "libc::_exit");
        assert_eq!(first("use libc as c;", "c::fork"), "libc::fork");
    }

    #[test]
    fn a_test_modules_use_holds_only_inside_it() {
        let file: syn::File =
            syn::parse_str("mod tests { use anyhow::Result; }\nuse std::process;").unwrap();
        let r = Resolver::new(&file);
        let path: syn::Path = syn::parse_str("Result").unwrap();
        assert_eq!(r.canonical_in(&path, &[]).join("::"), "std::result::Result");
        assert_eq!(
            r.canonical_in(&path, &["tests".to_string()]).join("::"),
            "anyhow::Result"
        );
        let path: syn::Path = syn::parse_str("process::exit").unwrap();
        assert_eq!(
            r.canonical_in(&path, &["tests".to_string()]).join("::"),
            "std::process::exit"
        );
    }

    #[test]
    fn pattern_matching() {
        assert!(is(&["libc".into(), "fork".into()], "libc::fork"));
        assert!(!is(&["libc".into()], "libc::fork"));
        assert!(!is(
            &["libc".into(), "fork".into(), "x".into()],
            "libc::fork"
        ));
    }
}
