//! What rules need to build fixes: the package's dependencies (a fix may call only a
//! crate the package depends on), the text of a node, whether a point is in an
//! `unsafe` block, whether `std::io::Write` is in scope, and where a statement can be
//! inserted before a point.

use std::path::Path;

use syn::visit::Visit;

use super::FileCx;
use super::syntax::Node;
use crate::diagnostic::Span;
use crate::fix::Edit;

/// The name the code of `file` calls crate `krate` by (its key in the package's
/// `Cargo.toml`, `-` as `_`), when the package depends on it: `[dependencies]` and
/// target-specific dependencies; `[dev-dependencies]` too for files of `tests/`,
/// `benches/` and `examples/`. `None` when the package does not depend on it or has
/// no readable manifest.
pub fn dependency_name(
    manifest: &toml::Table,
    package_root: Option<&Path>,
    file: &Path,
    krate: &str,
) -> Option<String> {
    let root = package_root?;
    let dev_ok = file
        .strip_prefix(root)
        .ok()
        .and_then(|rel| rel.components().next())
        .is_some_and(|c| {
            matches!(
                c.as_os_str().to_str(),
                Some("tests" | "benches" | "examples")
            )
        });
    let keys: &[&str] = if dev_ok {
        &["dependencies", "dev-dependencies", "dev_dependencies"]
    } else {
        &["dependencies"]
    };
    let targets = manifest
        .get("target")
        .and_then(|t| t.as_table())
        .into_iter()
        .flat_map(|t| t.values().filter_map(|v| v.as_table()));
    let tables = std::iter::once(manifest).chain(targets).flat_map(|t| {
        keys.iter()
            .filter_map(|k| t.get(*k).and_then(|d| d.as_table()))
    });
    tables.flat_map(|t| t.iter()).find_map(|(key, spec)| {
        let package = spec.get("package").and_then(|p| p.as_str()).unwrap_or(key);
        (package == krate).then(|| key.replace('-', "_"))
    })
}

/// The source text of a span.
pub fn text(span: &Span) -> &str {
    span.file
        .text
        .get(span.start.offset..span.end.offset)
        .unwrap_or("")
}

/// Whether the byte `offset` of the file is inside an `unsafe` block (closures inherit
/// it; a nested `fn` item does not).
pub fn in_unsafe_block(file: &FileCx<'_>, offset: usize) -> bool {
    struct V<'f, 'a> {
        file: &'f FileCx<'a>,
        offset: usize,
        /// Innermost construct containing the offset: (length, is an unsafe block).
        best: Option<(usize, bool)>,
    }
    impl V<'_, '_> {
        /// The length of `span` if it holds the offset.
        fn holding(&self, span: proc_macro2::Span) -> Option<usize> {
            let s = self.file.span(span);
            (s.start.offset <= self.offset && self.offset < s.end.offset)
                .then(|| s.end.offset - s.start.offset)
        }
        fn contains(&self, span: proc_macro2::Span) -> bool {
            self.holding(span).is_some()
        }
        fn consider(&mut self, span: proc_macro2::Span, is_unsafe: bool) -> bool {
            let Some(len) = self.holding(span) else {
                return false;
            };
            if self.best.is_none_or(|(best, _)| len <= best) {
                self.best = Some((len, is_unsafe));
            }
            true
        }
    }
    // Spans of braces only: `Spanned::span` of an item prints all its tokens, and a
    // file with hundreds of findings asks this for each.
    fn braces(b: &syn::token::Brace) -> proc_macro2::Span {
        b.span.join()
    }
    impl<'ast> Visit<'ast> for V<'_, '_> {
        // Only the items whose braces hold the offset are descended into.
        fn visit_item(&mut self, i: &'ast syn::Item) {
            let inside = match i {
                syn::Item::Fn(f) => self.contains(braces(&f.block.brace_token)),
                syn::Item::Impl(imp) => self.contains(braces(&imp.brace_token)),
                syn::Item::Trait(t) => self.contains(braces(&t.brace_token)),
                syn::Item::Mod(m) => m
                    .content
                    .as_ref()
                    .is_some_and(|(b, _)| self.contains(braces(b))),
                syn::Item::Const(_) | syn::Item::Static(_) => true,
                _ => false,
            };
            if inside {
                syn::visit::visit_item(self, i);
            }
        }
        fn visit_impl_item(&mut self, i: &'ast syn::ImplItem) {
            if let syn::ImplItem::Fn(f) = i {
                if self.contains(braces(&f.block.brace_token)) {
                    syn::visit::visit_impl_item(self, i);
                }
            }
        }
        fn visit_expr_unsafe(&mut self, e: &'ast syn::ExprUnsafe) {
            if self.consider(braces(&e.block.brace_token), true) {
                syn::visit::visit_expr_unsafe(self, e);
            }
        }
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            if self.consider(braces(&f.block.brace_token), false) {
                syn::visit::visit_item_fn(self, f);
            }
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            if self.consider(braces(&f.block.brace_token), false) {
                syn::visit::visit_impl_item_fn(self, f);
            }
        }
    }
    let mut v = V {
        file,
        offset,
        best: None,
    };
    v.visit_file(file.ast);
    v.best.is_some_and(|(_, is_unsafe)| is_unsafe)
}

/// Whether `std::io::Write` is surely in scope at a point: imported (under any name,
/// `_` included, or by `std::io::prelude::*`) in the innermost inline module around the
/// point (the file's top level if none), or in a block around it.
pub fn io_write_in_scope(file: &FileCx<'_>, ancestors: &[Node<'_>], offset: usize) -> bool {
    let mut items: &[syn::Item] = &file.ast.items;
    'descend: loop {
        for item in items {
            if let syn::Item::Mod(m) = item {
                let s = file.span_of(m);
                if let Some((_, inner)) = &m.content {
                    if s.start.offset <= offset && offset < s.end.offset {
                        items = inner;
                        continue 'descend;
                    }
                }
            }
        }
        break;
    }
    let block_items = ancestors.iter().flat_map(|n| match n {
        Node::Block(b) | Node::Stmt(b, _) => b.stmts.as_slice(),
        _ => &[],
    });
    let uses = items
        .iter()
        .chain(block_items.filter_map(|s| match s {
            syn::Stmt::Item(i) => Some(i),
            _ => None,
        }))
        .filter_map(|i| match i {
            syn::Item::Use(u) => Some(&u.tree),
            _ => None,
        });
    uses.into_iter().any(|tree| {
        let mut paths = Vec::new();
        flatten(tree, &mut Vec::new(), &mut paths);
        paths.iter().any(|p| {
            let p: Vec<&str> = p.iter().map(String::as_str).collect();
            let p = p
                .strip_prefix(&["std"])
                .or_else(|| p.strip_prefix(&["", "std"]));
            matches!(
                p,
                Some(["io", "Write"] | ["io", "prelude", "*"] | ["io", "*"])
            )
        })
    })
}

fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => out.push(
            prefix
                .iter()
                .cloned()
                .chain([n.ident.to_string()])
                .collect(),
        ),
        syn::UseTree::Rename(r) => out.push(
            prefix
                .iter()
                .cloned()
                .chain([r.ident.to_string()])
                .collect(),
        ),
        syn::UseTree::Glob(_) => {
            out.push(prefix.iter().cloned().chain(["*".to_string()]).collect())
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| flatten(t, prefix, out)),
    }
}

/// An edit that inserts `statement` just before the statement that holds the point
/// whose ancestors are given: the innermost statement that begins its line (outside
/// `unsafe { … }` wrappers), on a line of its own with the same indentation.
pub fn insert_before_statement(
    file: &FileCx<'_>,
    ancestors: &[Node<'_>],
    statement: &str,
) -> Option<Edit> {
    let text = &file.source.text;
    let mut fallback = None;
    for node in ancestors.iter().rev() {
        let Node::Stmt(block, i) = node else { continue };
        let span = file.span_of(&block.stmts[*i]);
        let at = span.start.offset;
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let indent = &text[line_start..at];
        if indent.chars().all(|c| c == ' ' || c == '\t') {
            let point = Span {
                file: file.source.clone(),
                start: span.start,
                end: span.start,
            };
            return Some(Edit {
                span: point,
                content: format!("{statement}\n{indent}"),
            });
        }
        fallback.get_or_insert(span);
    }
    // Code on one line: insert in the line, before the outermost statement found.
    let span = fallback?;
    Some(Edit {
        span: Span {
            file: file.source.clone(),
            start: span.start,
            end: span.start,
        },
        content: format!("{statement} "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dependencies_by_package_name_and_target() {
        let manifest: toml::Table = toml::from_str(
            "[package]\nname = \"p\"\n[dependencies]\nc = { package = \"libc\", version = \"0.2\" }\n[target.'cfg(unix)'.dependencies]\nnix.workspace = true\n[dev-dependencies]\nfork = \"0.2\"\n",
        )
        .unwrap();
        let dir = Path::new("/p");
        let src = dir.join("src/main.rs");
        let name = |file: &Path, krate: &str| dependency_name(&manifest, Some(dir), file, krate);
        assert_eq!(name(&src, "libc").as_deref(), Some("c"));
        assert_eq!(name(&src, "nix").as_deref(), Some("nix"));
        assert_eq!(name(&src, "fork"), None);
        let test = dir.join("tests/t.rs");
        assert_eq!(name(&test, "fork").as_deref(), Some("fork"));
        assert_eq!(dependency_name(&manifest, None, &src, "libc"), None);
    }
}
