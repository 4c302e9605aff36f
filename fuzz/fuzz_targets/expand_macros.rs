//! Arbitrary text as a file: its `macro_rules!` definitions parsed, every macro call of
//! the file expanded with the definition visible at it (and every definition tried on
//! every call's tokens, so that inputs reach the matchers whatever their names), the
//! whole file's tokens expanded with `expand_fully`, and each result read back as an
//! expression, statements and items. Asserts no panic (errors are fine).
//!
//! The expander is crate-private in `fork-lint`, so it is compiled in here from its
//! source (it depends only on `syn` and `proc-macro2`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use syn::visit::Visit;

#[path = "../../crates/fork-lint/src/analysis/macros/mod.rs"]
#[allow(dead_code, unused_imports)]
mod macros;

use macros::{Limits, MacroDef, MacroTable};

/// Small limits keep each input fast; the code paths are those of the defaults.
const LIMITS: Limits = Limits {
    max_depth: 16,
    max_tokens: 20_000,
    max_work: 200_000,
    max_nesting: 32,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Deeply nested inputs overflow `syn`'s recursive parser before the expander sees
    // them; the lint targets (and the engine's nesting check) cover those.
    if fork_lint::nesting_depth(text, 64).is_none() {
        return;
    }
    let Ok(file) = syn::parse_file(text) else {
        return;
    };
    let table = MacroTable::from_file(&file);

    #[derive(Default)]
    struct Calls<'a> {
        defs: Vec<&'a syn::ItemMacro>,
        calls: Vec<&'a syn::Macro>,
    }
    impl<'a> Visit<'a> for Calls<'a> {
        fn visit_item_macro(&mut self, m: &'a syn::ItemMacro) {
            self.defs.push(m);
            syn::visit::visit_item_macro(self, m);
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            self.calls.push(m);
        }
    }
    let mut calls = Calls::default();
    calls.visit_file(&file);

    for mac in calls.calls.iter().take(64) {
        let mut scratch = table.clone();
        if let Ok(expansion) = scratch.expand_call(mac, &LIMITS) {
            read_back(expansion.tokens);
        }
        if let Some(Ok(def)) = MacroDef::from_macro(mac) {
            let _ = macros::expand(&def, proc_macro2::TokenStream::new());
        }
    }
    for item in calls.defs.iter().take(16) {
        if let Some(Ok(def)) = MacroDef::from_item_macro(item) {
            for mac in calls.calls.iter().take(16) {
                if let Ok(tokens) = macros::expand(&def, mac.tokens.clone()) {
                    read_back(tokens);
                }
            }
        }
    }
    let mut scratch = MacroTable::new();
    if let Ok(tokens) = macros::expand_fully(&mut scratch, quote_file(&file), &LIMITS) {
        read_back(tokens);
    }
});

fn read_back(tokens: proc_macro2::TokenStream) {
    let _ = macros::parse_expr(tokens.clone());
    let _ = macros::parse_stmts(tokens.clone());
    let _ = macros::parse_items(tokens);
}

fn quote_file(file: &syn::File) -> proc_macro2::TokenStream {
    let mut tokens = proc_macro2::TokenStream::new();
    for item in &file.items {
        quote::ToTokens::to_tokens(item, &mut tokens);
    }
    tokens
}
