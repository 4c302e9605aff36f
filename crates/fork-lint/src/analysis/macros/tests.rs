//! Expander tests on the shapes of real macros. `sweep` (ignored) expands the
//! invocations of every `macro_rules!` in the local cargo registry.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::quote;

use super::*;

fn def(src: &str) -> MacroDef {
    let item: syn::ItemMacro = syn::parse_str(src).expect("definition parses");
    MacroDef::from_item_macro(&item)
        .expect("a macro_rules! item")
        .expect("a valid definition")
}

fn bad_def(src: &str) -> ExpandError {
    let item: syn::ItemMacro = syn::parse_str(src).expect("definition parses");
    MacroDef::from_item_macro(&item)
        .expect("a macro_rules! item")
        .expect_err("an invalid definition")
}

fn ts(src: &str) -> TokenStream {
    src.parse().expect("tokens")
}

/// Token text without the invisible groups' boundaries (which print as nothing but
/// separate tokens with spaces either way).
fn text(stream: &TokenStream) -> String {
    stream.to_string()
}

fn expand_str(def_src: &str, input: &str) -> Result<String, ExpandError> {
    expand(&def(def_src), ts(input)).map(|s| text(&s))
}

/// Expands everything in `src` (definitions and calls, as in a file) with the default
/// limits.
fn expand_all(src: &str) -> Result<TokenStream, ExpandError> {
    let mut table = MacroTable::new();
    expand_fully(&mut table, ts(src), &Limits::default())
}

/// The first statement-position macro call in function `f` of `file`.
fn first_stmt_macro(file: &syn::File) -> &syn::Macro {
    for item in &file.items {
        if let syn::Item::Fn(f) = item {
            for stmt in &f.block.stmts {
                match stmt {
                    syn::Stmt::Macro(m) => return &m.mac,
                    syn::Stmt::Expr(syn::Expr::Macro(m), _) => return &m.mac,
                    _ => {}
                }
            }
        }
    }
    panic!("no statement macro");
}

// ---- real-world shapes ------------------------------------------------------------

#[test]
fn die_macro_expands_to_a_block_that_exits() {
    let out = expand_str(
        "macro_rules! die { ($($arg:tt)*) => {{ eprintln!($($arg)*); std::process::exit(1) }} }",
        r#""bad: {}", x"#,
    )
    .unwrap();
    assert_eq!(
        out,
        r#"{ eprintln ! ("bad: {}" , x) ; std :: process :: exit (1) }"#
    );
}

#[test]
fn die_in_statement_position_reparses_as_statements() {
    // The lead's path: a file, its table, a statement macro in a `pre_exec` body.
    let src = r#"
        macro_rules! die {
            ($($arg:tt)*) => {{
                eprintln!($($arg)*);
                std::process::exit(1)
            }};
        }
        fn child() {
            die!("setsid failed: {}", err);
        }
    "#;
    let file = syn::parse_file(src).unwrap();
    let mut table = MacroTable::from_file(&file);
    let mac = first_stmt_macro(&file);
    let expansion = table.expand_call(mac, &Limits::default()).unwrap();
    assert_eq!(expansion.def.name(), "die");
    assert_eq!(expansion.steps.len(), 1);
    // The invocation and the definition are where the source has them.
    assert_eq!(expansion.call_site.start().line, 9);
    assert_eq!(expansion.def.span().start().line, 2);
    let stmts = parse_stmts(expansion.tokens).unwrap();
    assert_eq!(stmts.len(), 1);
    let syn::Stmt::Expr(syn::Expr::Block(block), None) = &stmts[0] else {
        panic!("a block expression: {} statements", stmts.len());
    };
    assert_eq!(block.block.stmts.len(), 2);
    let exit = quote!(#block).to_string();
    assert!(exit.contains("std :: process :: exit (1)"), "{exit}");
}

#[test]
fn logging_macros_defined_by_a_macro_are_registered_and_expanded() {
    // A privilege tool's shape: one macro stamps out `debug!`/`info!`; `$d` carries
    // the `$` the inner definition needs.
    let out = expand_all(
        r#"
        macro_rules! make_logger {
            ($d:tt $name:ident, $level:literal) => {
                macro_rules! $name {
                    ($d($d arg:tt)*) => { $crate::log::write($level, format_args!($d($d arg)*)) };
                }
            };
        }
        make_logger!($ debug, 1);
        make_logger!($ info, 2);
        fn child() { info!("uid {}", uid); }
        "#,
    )
    .unwrap();
    let s = text(&out);
    assert!(
        s.contains(r#"crate :: log :: write (2 , format_args ! ("uid {}" , uid))"#),
        "{s}"
    );
    // The generated definitions stay in the output (and parse as items).
    let items = parse_items(out).unwrap();
    assert_eq!(items.len(), 4);
}

#[test]
fn inner_macro_variables_not_bound_by_the_outer_rule_are_kept() {
    let out = expand_all(
        r#"
        macro_rules! make { ($name:ident) => { macro_rules! $name { ($e:expr) => { log($e) } } } }
        make!(warn);
        fn f() { warn!(1 + 2); }
        "#,
    )
    .unwrap();
    assert!(text(&out).contains("log ((1 + 2))") || text(&out).contains("log (1 + 2)"));
}

#[test]
fn macro_generated_tests_that_fork_parse_as_test_functions() {
    let src = r#"
        macro_rules! fork_test {
            ($name:ident, $body:block) => { #[test] fn $name() $body };
        }
        fork_test!(waits_for_child, {
            match unsafe { libc::fork() } { 0 => unsafe { libc::_exit(0) }, pid => wait(pid) }
        });
        fork_test!(second, { let _ = nix::unistd::fork(); });
    "#;
    let items = parse_items(expand_all(src).unwrap()).unwrap();
    let tests: Vec<&syn::ItemFn> = items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Fn(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0].sig.ident, "waits_for_child");
    assert!(tests[0].attrs[0].path().is_ident("test"));
    let body = quote!(#(#tests)*).to_string();
    assert!(body.contains("libc :: fork ()"), "{body}");
}

#[test]
fn tt_muncher_counts_recursively() {
    let out = expand_all(
        r#"
        macro_rules! count_tts {
            () => { 0usize };
            ($head:tt $($tail:tt)*) => { 1usize + count_tts!($($tail)*) };
        }
        count_tts!(a b (c d) [e] f)
        "#,
    )
    .unwrap();
    let items_and_expr: Vec<TokenTree> = out.into_iter().collect();
    // The definition (4 tokens), then the expansion spliced as the last statement.
    let expr: TokenStream = items_and_expr[4..].iter().cloned().collect();
    let parsed = parse_expr(expr.clone()).unwrap();
    assert!(matches!(parsed, syn::Expr::Binary(_)));
    assert_eq!(text(&expr).matches("1usize").count(), 5);
    assert_eq!(text(&expr).matches("0usize").count(), 1);
}

#[test]
fn accumulating_muncher_reverses_its_input() {
    let out = expand_str_fully(
        r#"
        macro_rules! reverse {
            (@acc [$($acc:tt)*]) => { [$($acc),*] };
            (@acc [$($acc:tt)*] $h:tt $($t:tt)*) => { reverse!(@acc [$h $($acc)*] $($t)*) };
            ($($t:tt)*) => { reverse!(@acc [] $($t)*) };
        }
        "#,
        "reverse!(1 2 3)",
    );
    assert_eq!(out, "[3 , 2 , 1]");
}

/// Defines the macros of `defs` in a table, then expands `call`, returning the
/// expansion without the definitions.
fn expand_str_fully(defs: &str, call: &str) -> String {
    let file = syn::parse_file(defs).unwrap();
    let mut table = MacroTable::from_file(&file);
    let out = expand_fully(&mut table, ts(call), &Limits::default()).unwrap();
    text(&out)
}

#[test]
fn counting_macro_with_replace_expr() {
    let out = expand_str_fully(
        r#"
        macro_rules! replace_expr { ($_t:tt $sub:expr) => { $sub }; }
        macro_rules! count { ($($tts:tt)*) => { <[()]>::len(&[$(replace_expr!($tts ())),*]) }; }
        "#,
        "count!(a b c)",
    );
    assert_eq!(out.matches("()").count(), 4, "{out}");
    assert!(parse_expr(ts(&out)).is_ok());
}

#[test]
fn dollar_crate_becomes_crate_with_the_definition_span() {
    let src = "macro_rules! helper {\n    () => { $crate::util::leave_child() };\n}";
    let d = def(src);
    let out = expand(&d, TokenStream::new()).unwrap();
    assert_eq!(text(&out), "crate :: util :: leave_child ()");
    let first = out.into_iter().next().unwrap();
    let TokenTree::Ident(krate) = first else {
        panic!("an ident")
    };
    assert_eq!(krate.span().start().line, 2);
    assert_eq!(krate.span().start().column, 13);
}

#[test]
fn crate_paths_to_table_macros_are_expanded() {
    let out = expand_str_fully(
        r#"
        macro_rules! leave { () => { unsafe { libc::_exit(1) } } }
        macro_rules! wrap { () => { $crate::leave!() } }
        "#,
        "fn f() { wrap!(); crate::leave!(); log::leave!(); }",
    );
    assert_eq!(out.matches("_exit").count(), 2, "{out}");
    assert!(out.contains("log :: leave ! ()"), "{out}");
}

#[test]
fn nested_repetitions_with_separators() {
    let out = expand_str(
        r#"macro_rules! map {
            ($( $k:expr => $( $v:expr ),* );* $(;)?) => {{
                let mut m = Map::new();
                $( m.insert($k, vec![$($v),*]); )*
                m
            }};
        }"#,
        r#""a" => 1, 2, 3; "b" => ; "c" => 4;"#,
    )
    .unwrap();
    let expr = parse_expr(ts(&out)).unwrap();
    let s = quote!(#expr).to_string();
    assert!(s.contains(r#"insert ("a" , vec ! [1 , 2 , 3])"#), "{s}");
    assert!(s.contains(r#"insert ("b" , vec ! [])"#), "{s}");
    assert!(s.contains(r#"insert ("c" , vec ! [4])"#), "{s}");
}

#[test]
fn optional_trailing_separator_and_one_or_more() {
    let d = "macro_rules! sum { ($($x:expr),+ $(,)?) => { 0 $(+ $x)+ } }";
    assert_eq!(expand_str(d, "1, 2").unwrap(), "0 + 1 + 2");
    assert_eq!(expand_str(d, "1, 2,").unwrap(), "0 + 1 + 2");
    assert_eq!(expand_str(d, ""), Err(ExpandError::NoMatch("sum".into())));
}

#[test]
fn optional_fragment_present_and_absent() {
    let d = "macro_rules! opt { ($a:ident $(= $b:expr)?) => { f($a $(, $b)?) } }";
    assert_eq!(expand_str(d, "x").unwrap(), "f (x)");
    assert_eq!(expand_str(d, "x = 3").unwrap(), "f (x , 3)");
}

#[test]
fn glued_punctuation_separators_and_tokens() {
    let d = "macro_rules! arms { ($($p:ident => $e:expr)=>*) => { [$($e),*] }; }";
    assert_eq!(expand_str(d, "a => 1 => b => 2").unwrap(), "[1 , 2]");
    // `tt` takes `=>` and `::` whole, as rustc's tokens.
    let d = "macro_rules! three { ($a:tt $b:tt $c:tt) => { ok } }";
    assert_eq!(expand_str(d, "x => y").unwrap(), "ok");
    assert_eq!(expand_str(d, "x :: y").unwrap(), "ok");
    assert_eq!(expand_str(d, "'a + 'b").unwrap(), "ok");
}

#[test]
fn first_matching_rule_wins() {
    let d = r#"macro_rules! m {
        (@internal $x:ident) => { internal($x) };
        ($x:ident) => { plain($x) };
        ($x:expr) => { expr($x) };
    }"#;
    assert_eq!(expand_str(d, "@internal a").unwrap(), "internal (a)");
    assert_eq!(expand_str(d, "a").unwrap(), "plain (a)");
    assert_eq!(expand_str(d, "a + 1").unwrap(), "expr (a + 1)");
}

// ---- fragments and their follow sets ----------------------------------------------

#[test]
fn expr_stops_at_fat_arrow_comma_and_semicolon() {
    let d = "macro_rules! m { ($a:expr => $b:expr, $c:expr; $d:expr) => { ($a) ($b) ($c) ($d) } }";
    let out = expand_str(
        d,
        "x + 1 => if y { 1 } else { 2 }, |a, b| a + b; S { f: 1 }",
    )
    .unwrap();
    assert_eq!(
        out,
        "(x + 1) (if y { 1 } else { 2 }) (| a , b | a + b) (S { f : 1 })"
    );
}

#[test]
fn expr_fragment_is_one_operand_after_substitution() {
    let d = "macro_rules! twice { ($e:expr) => { $e * 2 } }";
    let out = expand(&def(d), ts("1 + 1")).unwrap();
    let syn::Expr::Binary(bin) = parse_expr(out.clone()).unwrap() else {
        panic!("a binary expression")
    };
    assert!(matches!(bin.op, syn::BinOp::Mul(_)));
    assert!(matches!(*bin.left, syn::Expr::Group(_)));
    let first = out.into_iter().next().unwrap();
    assert!(matches!(first, TokenTree::Group(g) if g.delimiter() == Delimiter::None));
}

#[test]
fn block_like_expression_fragment_ends_its_statement() {
    // heapless/http `probe_loop!`: `$body` (a block) then another statement.
    let d = r#"macro_rules! probe_loop {
        ($probe_var: ident < $len: expr, $body: expr) => {
            loop { if $probe_var < $len { $body $probe_var += 1; } else { $probe_var = 0; } }
        }
    }"#;
    let out = expand(&def(d), ts("probe < self.len(), { if done { break; } }")).unwrap();
    assert!(parse_stmts(out).is_ok());
    let out = expand(&def(d), ts("i < n, if a { b() } else { c() }")).unwrap();
    assert!(parse_stmts(out).is_ok());
}

#[test]
fn pat_followed_by_a_vertical_bar_is_pat_param() {
    // itertools (edition 2018): `|$it:pat| $closure:expr`.
    let d = "macro_rules! check { ($src:expr, |$it:pat| $closure:expr) => { let $it = $src; $closure } }";
    assert_eq!(
        expand_str(d, "it, |i| i.count()").unwrap(),
        "let i = it ; i . count ()"
    );
}

#[test]
fn ty_stops_at_comma_and_equals_with_generics_inside() {
    let d = "macro_rules! m { ($t:ty, $u:ty = $e:expr) => { let _: $u = $e as $t; } }";
    let out = expand(&def(d), ts("HashMap<K, V>, Vec<Vec<u8>> = x")).unwrap();
    assert_eq!(
        text(&out),
        "let _ : Vec < Vec < u8 >> = x as HashMap < K , V > ;"
    );
    assert!(parse_stmts(out).is_ok());
}

#[test]
fn pat_takes_alternatives_and_pat_param_does_not() {
    let d = "macro_rules! m { ($p:pat_param | $q:pat_param) => { two }; ($p:pat) => { one }; }";
    assert_eq!(expand_str(d, "Some(1) | None").unwrap(), "two");
    let d = "macro_rules! m { ($p:pat) => { one }; }";
    assert_eq!(expand_str(d, "Some(1) | None").unwrap(), "one");
    let d = "macro_rules! m { ($p:pat if $c:expr) => { matches!(v, $p if $c) } }";
    assert_eq!(
        expand_str(d, "Some(x) if x > 1").unwrap(),
        "matches ! (v , Some (x) if x > 1)"
    );
}

#[test]
fn stmt_fragment_without_semicolon() {
    let d = "macro_rules! m { ($($s:stmt);*) => { $($s;)* } }";
    let out = expand(&def(d), ts("let x = 1; f(x); let y: u8 = 2")).unwrap();
    let stmts = parse_stmts(out).unwrap();
    assert_eq!(stmts.len(), 3);
    assert!(matches!(stmts[0], syn::Stmt::Local(_)));
}

#[test]
fn item_block_path_meta_vis_literal_lifetime_fragments() {
    let d = r#"macro_rules! m {
        ($(#[$m:meta])* $v:vis struct $n:ident<$l:lifetime>; $p:path; $lit:literal; $b:block; $i:item) => {
            $(#[$m])* $v struct $n<$l>(&$l u8); fn g() -> $p { let _ = $lit; $b } $i
        };
    }"#;
    let out = expand(
        &def(d),
        ts(r#"#[derive(Debug)] #[doc = "x"] pub(crate) struct S<'a>; std::io::Result<()>; -1; { Ok(()) }; fn h() {}"#),
    )
    .unwrap();
    let items = parse_items(out.clone()).unwrap();
    assert_eq!(items.len(), 3, "{out}");
    let syn::Item::Struct(s) = &items[0] else {
        panic!("a struct")
    };
    assert_eq!(s.attrs.len(), 2);
    assert!(matches!(s.vis, syn::Visibility::Restricted(_)));
    // An empty `vis` and no attributes.
    let out = expand(
        &def(d),
        ts("struct T<'b>; Foo; \"s\"; {}; const C: u8 = 1;"),
    )
    .unwrap();
    assert_eq!(parse_items(out).unwrap().len(), 3);
}

#[test]
fn ident_fragment_takes_keywords_but_not_underscore() {
    let d = "macro_rules! m { ($i:ident) => { ident }; ($t:tt) => { tt }; }";
    assert_eq!(expand_str(d, "self").unwrap(), "ident");
    assert_eq!(expand_str(d, "_").unwrap(), "tt");
}

#[test]
fn literal_fragment_takes_negative_numbers_and_bools() {
    let d = "macro_rules! m { ($l:literal) => { lit }; ($($t:tt)*) => { other }; }";
    assert_eq!(expand_str(d, "-1").unwrap(), "lit");
    assert_eq!(expand_str(d, "true").unwrap(), "lit");
    assert_eq!(expand_str(d, "\"s\"").unwrap(), "lit");
    assert_eq!(expand_str(d, "x").unwrap(), "other");
}

#[test]
fn forwarded_expression_is_opaque_to_literal_tokens() {
    // As in rustc: once an `expr` is forwarded, the inner macro cannot look inside.
    let out = expand_str_fully(
        r#"
        macro_rules! inner { (1) => { one }; ($e:expr) => { expr }; }
        macro_rules! outer { ($e:expr) => { inner!($e) }; }
        "#,
        "outer!(1); inner!(1);",
    );
    assert_eq!(out, "expr ; one ;");
}

#[test]
fn tokens_after_a_fragment_must_match_exactly() {
    let d = "macro_rules! m { ($e:expr ; done) => { ok } }";
    assert_eq!(expand_str(d, "a ; done").unwrap(), "ok");
    assert_eq!(
        expand_str(d, "a ; undone"),
        Err(ExpandError::NoMatch("m".into()))
    );
}

#[test]
fn delimiters_in_the_matcher_must_match() {
    let d = "macro_rules! m { ([$x:ident]) => { bracket }; (($x:ident)) => { paren }; }";
    assert_eq!(expand_str(d, "[a]").unwrap(), "bracket");
    assert_eq!(expand_str(d, "(a)").unwrap(), "paren");
    assert!(expand_str(d, "{a}").is_err());
}

// ---- spans and hygiene ------------------------------------------------------------

#[test]
fn definition_tokens_keep_definition_spans_and_fragments_keep_invocation_spans() {
    let file = syn::parse_file(
        "macro_rules! m {\n    ($e:expr) => { call($e) };\n}\nfn f() {\n    m!(value);\n}\n",
    )
    .unwrap();
    let mut table = MacroTable::from_file(&file);
    let expansion = table
        .expand_call(first_stmt_macro(&file), &Limits::default())
        .unwrap();
    let tts: Vec<TokenTree> = expansion.tokens.into_iter().collect();
    assert_eq!(
        tts[0].span().start().line,
        2,
        "`call` comes from the definition"
    );
    let TokenTree::Group(args) = &tts[1] else {
        panic!("(…)")
    };
    assert_eq!(args.span().start().line, 2);
    let value = args.stream().into_iter().next().unwrap();
    assert_eq!(
        value.span().start().line,
        5,
        "`value` comes from the invocation"
    );
    assert_eq!(expansion.call_site.start().line, 5);
    assert_eq!(expansion.call_site.end().column, 13);
    assert_eq!(expansion.def.span().start().line, 1);
    assert_eq!(expansion.def.span().end().line, 3);
}

#[test]
fn transcriber_let_bindings_do_not_capture_invocation_names() {
    let d = "macro_rules! double { ($e:expr) => {{ let x = $e; let y = x; x + y }} }";
    let out = expand(&def(d), ts("x + 1")).unwrap();
    let s = text(&out);
    assert_eq!(
        s,
        "{ let x__fl_hyg1 = x + 1 ; let y__fl_hyg1 = x__fl_hyg1 ; x__fl_hyg1 + y__fl_hyg1 }"
    );
    assert_eq!(original_name("x__fl_hyg1"), "x");
    assert_eq!(original_name("plain"), "plain");
}

#[test]
fn hygiene_leaves_fields_methods_paths_and_bound_names_alone() {
    let d = r#"macro_rules! m { ($v:ident, $e:expr) => {{
        let guard = $e.lock();
        let $v = guard.value;
        let Some(inner) = self.guard.get() else { return };
        guard::release(inner, S { guard: 1 });
        guard.drop_it()
    }} }"#;
    let s = text(&expand(&def(d), ts("out, m")).unwrap());
    assert!(s.contains("let guard__fl_hyg1 = m . lock ()"), "{s}");
    assert!(s.contains("let out = guard__fl_hyg1 . value"), "{s}");
    assert!(s.contains("self . guard . get ()"), "{s}");
    assert!(s.contains("guard :: release (inner__fl_hyg1"), "{s}");
    assert!(s.contains("S { guard : 1 }"), "{s}");
    assert!(s.contains("guard__fl_hyg1 . drop_it ()"), "{s}");
}

#[test]
fn hygiene_numbers_differ_between_expansions_of_one_table() {
    let out = expand_str_fully(
        "macro_rules! tmp { () => { let t = 1; } }",
        "tmp!(); tmp!();",
    );
    assert!(out.contains("t__fl_hyg1"), "{out}");
    assert!(out.contains("t__fl_hyg2"), "{out}");
}

// ---- the table ----------------------------------------------------------------------

#[test]
fn later_definitions_shadow_earlier_ones() {
    let file = syn::parse_file(
        r#"
        macro_rules! m { () => { first } }
        fn a() { m!(); }
        macro_rules! m { () => { second } }
        fn b() { m!(); }
        "#,
    )
    .unwrap();
    let table = MacroTable::from_file(&file);
    assert_eq!(table.len(), 2);
    let calls: Vec<&syn::Macro> = file
        .items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Fn(f) => match &f.block.stmts[0] {
                syn::Stmt::Macro(m) => Some(&m.mac),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut t = table.clone();
    let a = t.expand_call(calls[0], &Limits::default()).unwrap();
    let b = t.expand_call(calls[1], &Limits::default()).unwrap();
    assert_eq!(text(&a.tokens), "first");
    assert_eq!(text(&b.tokens), "second");
    assert_eq!(
        text(&expand(table.get("m").unwrap(), TokenStream::new()).unwrap()),
        "second"
    );
}

#[test]
fn block_local_definitions_are_visible_only_after_them_in_their_block() {
    let src = r#"
        fn a() {
            m!();
            macro_rules! m { () => { local } }
            m!();
        }
        fn b() { m!(); }
    "#;
    let file = syn::parse_file(src).unwrap();
    let table = MacroTable::from_file(&file);
    let offset = |needle: &str, nth: usize| src.match_indices(needle).nth(nth).unwrap().0;
    assert!(table.visible_at("m", offset("m!();", 0)).is_none());
    assert!(table.visible_at("m", offset("m!();", 1)).is_some());
    assert!(table.visible_at("m", offset("m!();", 2)).is_none());
}

#[test]
fn exported_macros_are_visible_anywhere() {
    let src = r#"
        fn a() { m!(); }
        mod inner { #[macro_export] macro_rules! m { () => { exported } } }
    "#;
    let file = syn::parse_file(src).unwrap();
    let table = MacroTable::from_file(&file);
    let def = table.visible_at("m", src.find("m!").unwrap()).unwrap();
    assert!(def.is_exported());
}

#[test]
fn definitions_inside_a_group_end_with_it() {
    let out = text(
        &expand_all("fn f() { macro_rules! m { () => { inner } } m!(); } fn g() { m!(); }")
            .unwrap(),
    );
    assert!(out.contains("inner ;"), "{out}");
    assert!(out.contains("fn g () { m ! () ; }"), "{out}");
}

#[test]
fn definition_from_a_macro_call_form() {
    let mac: syn::Macro = syn::parse_str("macro_rules! { leave { () => { exit(0) } } }").unwrap();
    let d = MacroDef::from_macro(&mac).unwrap().unwrap();
    assert_eq!(d.name(), "leave");
    assert_eq!(text(&expand(&d, TokenStream::new()).unwrap()), "exit (0)");
}

// ---- positions of nested calls ------------------------------------------------------

#[test]
fn nested_call_in_expression_position_keeps_precedence() {
    let defs = r#"
        macro_rules! add { ($a:expr, $b:expr) => { $a + $b } }
        macro_rules! double_sum { ($a:expr, $b:expr) => { 2 * add!($a, $b) } }
    "#;
    let mut table = MacroTable::from_file(&syn::parse_file(defs).unwrap());
    let out = expand_fully(&mut table, ts("double_sum!(1, 2)"), &Limits::default()).unwrap();
    let syn::Expr::Binary(bin) = parse_expr(out).unwrap() else {
        panic!("a binary expression")
    };
    assert!(matches!(bin.op, syn::BinOp::Mul(_)));
}

#[test]
fn nested_call_in_expression_position_is_an_invisible_group() {
    let mut table = MacroTable::new();
    let out = expand_fully(
        &mut table,
        ts(r#"
            macro_rules! add { ($a:expr, $b:expr) => { $a + $b } }
            let v = 2 * add!(1, 2);
        "#),
        &Limits::default(),
    )
    .unwrap();
    let stmts = parse_stmts(out).unwrap();
    let syn::Stmt::Local(local) = &stmts[1] else {
        panic!("a let statement")
    };
    let init = &local.init.as_ref().unwrap().expr;
    let syn::Expr::Binary(bin) = &**init else {
        panic!()
    };
    assert!(matches!(bin.op, syn::BinOp::Mul(_)));
    assert!(matches!(*bin.right, syn::Expr::Group(_)));
}

#[test]
fn nested_call_in_statement_position_is_spliced() {
    let out = expand_all(
        r#"
        macro_rules! two { () => { let a = 1; let b = 2; } }
        fn f() { two!(); g(); }
        "#,
    )
    .unwrap();
    let items = parse_items(out).unwrap();
    let syn::Item::Fn(f) = &items[1] else {
        panic!()
    };
    // `let a…; let b…; ;` then `g();`
    assert_eq!(
        f.block
            .stmts
            .iter()
            .filter(|s| matches!(s, syn::Stmt::Local(_)))
            .count(),
        2
    );
}

// ---- failures and limits --------------------------------------------------------------

#[test]
fn no_rule_matches() {
    let d = "macro_rules! m { (a) => {}; (b $x:ident) => {} }";
    assert_eq!(expand_str(d, "c"), Err(ExpandError::NoMatch("m".into())));
    assert_eq!(expand_str(d, "b 1"), Err(ExpandError::NoMatch("m".into())));
}

#[test]
fn infinite_recursion_hits_the_depth_limit() {
    let result = expand_all("macro_rules! r { () => { r!() } } r!()");
    assert_eq!(result.unwrap_err(), ExpandError::RecursionLimit);
}

#[test]
fn depth_limit_is_configurable() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let defs = r#"macro_rules! count_tts {
        () => { 0 };
        ($h:tt $($t:tt)*) => { 1 + count_tts!($($t)*) };
    }"#;
    let mut table = MacroTable::from_file(&syn::parse_file(defs).unwrap());
    assert!(expand_fully(&mut table, ts("count_tts!(a b)"), &limits).is_ok());
    assert_eq!(
        expand_fully(&mut table, ts("count_tts!(a b c)"), &limits).unwrap_err(),
        ExpandError::RecursionLimit
    );
}

#[test]
fn exponential_growth_hits_the_output_limit() {
    let result = expand_all("macro_rules! d { ($($t:tt)*) => { d!($($t)* $($t)*) } } d!(x)");
    assert_eq!(result.unwrap_err(), ExpandError::OutputLimit);
}

#[test]
fn growth_in_depth_hits_the_nesting_or_output_limit() {
    let result = expand_all("macro_rules! n { ($($t:tt)*) => { n!(((($($t)*)))) } } n!(x)");
    assert!(matches!(
        result,
        Err(ExpandError::NestingLimit | ExpandError::RecursionLimit)
    ));
}

#[test]
fn large_inputs_hit_the_work_limit() {
    let limits = Limits {
        max_work: 1_000,
        ..Limits::default()
    };
    let mut table = MacroTable::new();
    table.define(def("macro_rules! all { ($($e:expr),*) => { $($e;)* } }"));
    let many: Vec<String> = (0..500).map(|i| format!("f({i})")).collect();
    let call = format!("all!({})", many.join(", "));
    assert_eq!(
        expand_fully(&mut table, ts(&call), &limits).unwrap_err(),
        ExpandError::WorkLimit
    );
    assert!(expand_fully(&mut table, ts(&call), &Limits::default()).is_ok());
}

#[test]
fn long_expression_lists_cost_linear_work() {
    // 5,000 expressions: handing `syn` the whole rest at each would be 60 M tokens.
    let mut table = MacroTable::new();
    table.define(def(
        "macro_rules! all { ($($e:expr),* $(,)?) => { $($e;)* } }",
    ));
    let many: Vec<String> = (0..5_000).map(|i| format!("f({i})")).collect();
    let call = format!("all!({})", many.join(", "));
    let limits = Limits {
        max_work: 200_000,
        ..Limits::default()
    };
    let out = expand_fully(&mut table, ts(&call), &limits).unwrap();
    assert_eq!(parse_stmts(out).unwrap().len(), 5_000);
    // A closure's comma is not the end of the fragment.
    let out = expand(
        table.get("all").unwrap(),
        ts("|a, b| a + b, g::<A, B>(), 3"),
    )
    .unwrap();
    assert_eq!(parse_stmts(out).unwrap().len(), 3);
}

#[test]
fn ambiguous_repetition_is_an_error() {
    let d = "macro_rules! m { ($($a:ident)* $b:ident) => {} }";
    assert_eq!(expand_str(d, "x y"), Err(ExpandError::Ambiguous));
}

#[test]
fn repetition_counts_must_agree() {
    let d = "macro_rules! m { ($($a:ident)* ; $($b:ident)*) => { $(($a, $b))* } }";
    assert!(expand_str(d, "x y ; z").is_err_and(|e| matches!(e, ExpandError::Transcription(_))));
    assert_eq!(expand_str(d, "x y ; z w").unwrap(), "(x , z) (y , w)");
}

#[test]
fn invalid_definitions_are_errors() {
    assert!(matches!(
        bad_def("macro_rules! m { ($x) => {} }"),
        ExpandError::BadDefinition(_)
    ));
    assert!(matches!(
        bad_def("macro_rules! m { ($x:nonsense) => {} }"),
        ExpandError::BadDefinition(_)
    ));
    assert!(matches!(
        bad_def("macro_rules! m { ($()*) => {} }"),
        ExpandError::BadDefinition(_)
    ));
    assert!(matches!(
        bad_def("macro_rules! m { ($($v:vis)*) => {} }"),
        ExpandError::BadDefinition(_)
    ));
    assert!(matches!(
        bad_def("macro_rules! m { ($x:ident $x:ident) => {} }"),
        ExpandError::BadDefinition(_)
    ));
    assert!(matches!(
        bad_def("macro_rules! m { () => {} junk }"),
        ExpandError::BadDefinition(_)
    ));
    assert!(matches!(
        bad_def("macro_rules! m {}"),
        ExpandError::BadDefinition(_)
    ));
}

#[test]
fn an_expansion_that_is_not_the_syntax_asked_for_is_a_parse_error() {
    let out = expand_str("macro_rules! m { () => { let x = ; } }", "").unwrap();
    assert!(matches!(parse_stmts(ts(&out)), Err(ExpandError::Parse(_))));
    assert!(matches!(parse_expr(ts("a b")), Err(ExpandError::Parse(_))));
}

#[test]
fn calls_of_unknown_macros_are_left_as_written() {
    let out = expand_all("fn f() { println!(\"{}\", x); vec![1]; }").unwrap();
    assert_eq!(
        text(&out),
        "fn f () { println ! (\"{}\" , x) ; vec ! [1] ; }"
    );
}

#[test]
fn expand_call_of_a_name_not_in_the_table() {
    let mac: syn::Macro = syn::parse_str("nothing!()").unwrap();
    let mut table = MacroTable::new();
    assert_eq!(
        table.expand_call(&mac, &Limits::default()).unwrap_err(),
        ExpandError::NotFound("nothing".into())
    );
    let mac: syn::Macro = syn::parse_str("log::info!()").unwrap();
    assert!(matches!(
        table.expand_call(&mac, &Limits::default()),
        Err(ExpandError::NotFound(_))
    ));
}

// ---- the registry sweep ---------------------------------------------------------------

/// Every `macro_rules!` of every `.rs` file under the local cargo registry, and every
/// call of one in the same file (expression, statement, item, pattern, type and
/// associated-item positions), expanded and read back as the syntax of its position.
/// Reports counts, failures by reason and the slowest expansion; asserts that nothing
/// panicked. `FL_MACRO_SWEEP_DUMP=<file>` writes each call (definition body, input,
/// one-step result) as JSON lines, for comparing with other expanders.
///
/// `cargo test --release -p fork-lint --lib macros::tests::sweep -- --ignored --nocapture`
#[test]
#[ignore = "walks the whole local cargo registry"]
fn sweep_registry_macros() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(sweep)
        .unwrap()
        .join()
        .unwrap();
}

#[derive(Default)]
struct Sweep {
    files: usize,
    files_with_macros: usize,
    unparsable: usize,
    defs: usize,
    bad_defs: std::collections::BTreeMap<String, usize>,
    calls: usize,
    expanded: usize,
    reparsed: usize,
    failures: std::collections::BTreeMap<String, usize>,
    failure_examples: Vec<String>,
    panics: usize,
    slowest: (std::time::Duration, String),
    total: std::time::Duration,
    dump: Option<std::io::BufWriter<std::fs::File>>,
}

#[derive(Clone, Copy)]
enum Position {
    Expr,
    Stmts,
    Items,
    Pat,
    Type,
}

fn sweep() {
    use std::io::Write;
    let home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
    let root = std::path::Path::new(&home).join("registry/src");
    let mut sweep = Sweep {
        dump: std::env::var("FL_MACRO_SWEEP_DUMP")
            .ok()
            .map(|p| std::io::BufWriter::new(std::fs::File::create(p).unwrap())),
        ..Sweep::default()
    };
    let started = std::time::Instant::now();
    let mut paths: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .collect();
    paths.sort();
    for path in &paths {
        sweep.files += 1;
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if !text.contains("macro_rules") || text.len() > crate::MAX_FILE_BYTES {
            continue;
        }
        if crate::nesting_depth(&text, crate::MAX_NESTING).is_none() {
            continue;
        }
        let Ok(file) = syn::parse_file(&text) else {
            sweep.unparsable += 1;
            continue;
        };
        sweep.files_with_macros += 1;
        let shown = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sweep_file(&file, &shown, &mut sweep)
        }));
        if outcome.is_err() {
            sweep.panics += 1;
            eprintln!("PANIC in {shown}");
        }
    }
    if let Some(dump) = &mut sweep.dump {
        dump.flush().unwrap();
    }
    eprintln!("registry: {}", root.display());
    eprintln!(
        "files: {} .rs, {} with macro_rules! parsed ({} unparsable by syn)",
        sweep.files, sweep.files_with_macros, sweep.unparsable
    );
    eprintln!(
        "definitions: {} parsed, rejected: {:?}",
        sweep.defs, sweep.bad_defs
    );
    eprintln!(
        "calls: {} found, {} expanded, {} read back as their position's syntax",
        sweep.calls, sweep.expanded, sweep.reparsed
    );
    eprintln!("failures: {:?}", sweep.failures);
    for example in sweep.failure_examples.iter().take(40) {
        eprintln!("  {example}");
    }
    eprintln!(
        "expansion time: {:.2?} in total, slowest {:.2?} ({}); sweep {:.1?}; panics: {}",
        sweep.total,
        sweep.slowest.0,
        sweep.slowest.1,
        started.elapsed(),
        sweep.panics
    );
    assert_eq!(sweep.panics, 0);
}

fn sweep_file(file: &syn::File, shown: &str, sweep: &mut Sweep) {
    use syn::visit::Visit;

    struct Calls<'a> {
        defs: Vec<&'a syn::ItemMacro>,
        calls: Vec<(&'a syn::Macro, Position)>,
    }
    impl<'a> Visit<'a> for Calls<'a> {
        fn visit_item_macro(&mut self, m: &'a syn::ItemMacro) {
            if m.mac.path.is_ident("macro_rules") {
                self.defs.push(m);
            } else {
                self.calls.push((&m.mac, Position::Items));
            }
            syn::visit::visit_item_macro(self, m);
        }
        fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
            self.calls.push((&m.mac, Position::Stmts));
        }
        fn visit_expr_macro(&mut self, m: &'a syn::ExprMacro) {
            self.calls.push((&m.mac, Position::Expr));
        }
        fn visit_pat(&mut self, p: &'a syn::Pat) {
            match p {
                syn::Pat::Macro(m) => self.calls.push((&m.mac, Position::Pat)),
                _ => syn::visit::visit_pat(self, p),
            }
        }
        fn visit_type_macro(&mut self, m: &'a syn::TypeMacro) {
            self.calls.push((&m.mac, Position::Type));
        }
        fn visit_impl_item_macro(&mut self, m: &'a syn::ImplItemMacro) {
            self.calls.push((&m.mac, Position::Items));
        }
        fn visit_trait_item_macro(&mut self, m: &'a syn::TraitItemMacro) {
            self.calls.push((&m.mac, Position::Items));
        }
    }
    let mut calls = Calls {
        defs: Vec::new(),
        calls: Vec::new(),
    };
    calls.visit_file(file);
    let mut bodies = std::collections::HashMap::new();
    for item in &calls.defs {
        match MacroDef::from_item_macro(item) {
            Some(Ok(d)) => {
                sweep.defs += 1;
                bodies.insert(d.span().byte_range().start, item.mac.tokens.to_string());
            }
            Some(Err(e)) => *sweep.bad_defs.entry(e.to_string()).or_default() += 1,
            None => {}
        }
    }
    let table = MacroTable::from_file(file);
    for (mac, position) in calls.calls {
        let Some(name) = local_macro_name(&mac.path) else {
            continue;
        };
        let at = mac.path.segments[0].ident.span().byte_range().start;
        let Some(def) = table.visible_at(&name, at).cloned() else {
            continue;
        };
        sweep.calls += 1;
        let started = std::time::Instant::now();
        let result = table.clone().expand_call(mac, &Limits::default());
        let elapsed = started.elapsed();
        sweep.total += elapsed;
        let line = mac.path.segments[0].ident.span().start().line;
        if elapsed > sweep.slowest.0 {
            sweep.slowest = (elapsed, format!("{shown}:{line} {name}!"));
        }
        let reason = match result {
            Ok(expansion) => {
                sweep.expanded += 1;
                let tokens = expansion.tokens;
                let parsed = match position {
                    Position::Expr => parse_expr(tokens.clone())
                        .map(drop)
                        .or_else(|_| parse_stmts(tokens).map(drop)),
                    Position::Stmts => parse_stmts(tokens).map(drop),
                    Position::Items => parse_items(tokens).map(drop),
                    Position::Pat => syn::Pat::parse_multi_with_leading_vert
                        .parse2(tokens)
                        .map(drop)
                        .map_err(|e| ExpandError::Parse(e.to_string())),
                    Position::Type => syn::parse2::<syn::Type>(tokens)
                        .map(drop)
                        .map_err(|e| ExpandError::Parse(e.to_string())),
                };
                match parsed {
                    Ok(()) => {
                        sweep.reparsed += 1;
                        None
                    }
                    Err(_) => Some("Parse".to_owned()),
                }
            }
            Err(e) => Some(format!("{e:?}").split('(').next().unwrap().to_owned()),
        };
        if let Some(reason) = &reason {
            *sweep.failures.entry(reason.clone()).or_default() += 1;
            if sweep.failure_examples.len() < 200 {
                sweep
                    .failure_examples
                    .push(format!("{reason}: {shown}:{line} {name}!"));
            }
        }
        if let (Some(dump), Some(body)) =
            (&mut sweep.dump, bodies.get(&def.span().byte_range().start))
        {
            use std::io::Write;
            let started = std::time::Instant::now();
            let single = expand(&def, mac.tokens.clone());
            let single_time = started.elapsed();
            let record = serde_json::json!({
                "file": shown,
                "line": line,
                "name": name,
                "def": body,
                "input": mac.tokens.to_string(),
                "ok": single.is_ok(),
                "out": single.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                "err": single.err().map(|e| e.to_string()),
                "nanos": single_time.as_nanos() as u64,
            });
            writeln!(dump, "{record}").unwrap();
        }
    }
}
