//! Unit tests: the prefilter never skips a file the analysis would find something in.
//!
//! Every fork point and process entry the analysis knows — the fork functions of the
//! catalog (read from `src/analysis/catalog.rs`, so a new entry is covered the day it
//! is added), the `forkrt` and `procspawn` entry points, `pre_exec`/`before_exec`,
//! `Daemonize`, a configured fork point — is written in every alias form the resolver
//! supports (full and `::`-rooted paths, `use` with rename, groups, nested groups,
//! `self`, `self as`, globs, globs through an alias, `extern crate … as …`, chained
//! `use`, function-local `use`, `use` in an inline module), each after a prefix of
//! tricky lexemes (comments, strings, raw strings, char literals, lifetimes) that the
//! prefilter's lexer must get right. For each snippet the test asserts that the
//! analysis does recognise it (a fork point, a process or a start-method call), that
//! the prefilter accepts it, and that `lint_source` reports the same findings with the
//! prefilter on and off.
//!
//! Fork wrappers (crate-local functions that fork and return to their caller) make
//! their call sites fork points in files that need not mention any token: the engine
//! re-admits those files, checked here on a package on disk.
//!
//! Finally, on the workspace's own sources and fixtures: every file in which the
//! analysis finds something passes the prefilter, and the prefilter's lexer agrees
//! with `proc_macro2`'s about what is code (every identifier is code; every string and
//! character literal is not). Set `FORK_LINT_COVERAGE_DIR` to add a tree (e.g. the
//! registry corpus of the throughput bench).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::analysis::catalog::runtime;
use crate::analysis::model::PackageFile;
use crate::analysis::model::fs::Memory;
use crate::analysis::model::texts::Text;
use crate::analysis::{AnalysisOptions, Package, PackageCx};
use crate::prefilter::{Prefilter, in_code};
use crate::source::SourceFile;
use crate::{InputFile, LintOptions, lint, lint_source};
use typed_arena::Arena;

/// What the analysis finds in one file, analysed on its own.
#[derive(Debug, Default, PartialEq)]
struct Found {
    forks: usize,
    processes: usize,
    set_calls: usize,
}

impl Found {
    fn any(&self) -> bool {
        self.forks + self.processes + self.set_calls > 0
    }
}

fn analyse(src: &str, extra: &[String]) -> Found {
    let options = AnalysisOptions {
        extra_fork_points: extra.to_vec(),
        ..AnalysisOptions::default()
    };
    let found = {
        let asts = Arena::new();
        let file_cxs = Arena::new();
        let fs = Memory::default();
        let source = SourceFile::new(PathBuf::from("snippet.rs"), "snippet.rs".into(), src.into());
        let files = vec![PackageFile {
            path: PathBuf::from("snippet.rs"),
            name: "snippet.rs".into(),
            text: Some(Text::Source(Arc::new(source))),
        }];
        let cx = PackageCx::new(
            Package { root: None },
            &options,
            &fs,
            files,
            &asts,
            &file_cxs,
        );
        match cx.add_candidate(Path::new("snippet.rs")) {
            Ok(()) => Found {
                forks: cx.forks().len(),
                processes: cx.processes().list.len() + cx.processes().pools.len(),
                set_calls: cx.processes().set_calls.len(),
            },
            Err(_) => Found::default(),
        }
    };
    proc_macro2::extra::invalidate_current_thread_spans();
    found
}

fn findings(src: &str, extra: &[String], prefilter: bool) -> Vec<String> {
    let mut options = LintOptions {
        prefilter,
        ..LintOptions::default()
    };
    options.analysis.extra_fork_points = extra.to_vec();
    let report = lint_source("snippet.rs", src, &options);
    report
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{} {}",
                d.primary.start.line, d.primary.start.column, d.code, d.message
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// The catalog

/// The fork functions of `FORK_FNS` in `src/analysis/catalog.rs`.
fn catalog_fork_fns() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/analysis/catalog.rs");
    let text = std::fs::read_to_string(&path).expect("read catalog.rs");
    let file = syn::parse_file(&text).expect("catalog.rs parses");
    let table = file
        .items
        .iter()
        .find_map(|i| match i {
            syn::Item::Const(c) if c.ident == "FORK_FNS" => Some(c),
            _ => None,
        })
        .expect("catalog.rs has FORK_FNS");
    struct Strings(Vec<String>);
    impl<'a> syn::visit::Visit<'a> for Strings {
        fn visit_lit_str(&mut self, s: &'a syn::LitStr) {
            self.0.push(s.value());
        }
    }
    let mut strings = Strings(Vec::new());
    syn::visit::Visit::visit_expr(&mut strings, &table.expr);
    assert!(strings.0.len() >= 6, "FORK_FNS: {:?}", strings.0);
    for p in &strings.0 {
        let canon: Vec<String> = p.split("::").map(String::from).collect();
        assert!(
            crate::analysis::catalog::fork_fn(&[canon], &[]).is_some(),
            "{p} read from FORK_FNS is a fork function"
        );
    }
    strings.0
}

/// How a snippet makes a fork point or a process out of the item it names.
struct Entry {
    what: String,
    /// The path of the item the forms name (a function, or a type).
    item: String,
    /// Statements using it; `ITEM` stands for the way a form names the item.
    uses: Vec<&'static str>,
    extra: Vec<String>,
    /// Whether a renamed import of the item is recognised (`CommandExt::pre_exec` is
    /// recognised by the written name `CommandExt`, so a rename is not).
    renames: bool,
}

impl Entry {
    /// The item is a type whose associated function is called (`ITEM::new(..)`): a
    /// glob import does not resolve a path of two segments.
    fn assoc(&self) -> bool {
        self.uses.iter().all(|u| u.contains("ITEM::"))
    }
}

fn entries() -> Vec<Entry> {
    let mut out = Vec::new();
    for f in catalog_fork_fns() {
        out.push(Entry {
            what: format!("fork function {f}"),
            item: f,
            uses: vec![
                "let _pid = unsafe { ITEM() };",
                "match unsafe { ITEM() } { _ => {} }",
            ],
            extra: Vec::new(),
            renames: true,
        });
    }
    let strip = |p: &str, suffix: &str| p.strip_suffix(suffix).expect(suffix).to_string();
    out.push(Entry {
        what: runtime::FORKRT_PROCESS_NEW.into(),
        item: strip(runtime::FORKRT_PROCESS_NEW, "::new"),
        uses: vec![
            "let mut p = ITEM::new(work, (1u8,)); p.start();",
            "ITEM::new(work, (1u8,)).name(\"w\").start();",
        ],
        extra: Vec::new(),
        renames: true,
    });
    out.push(Entry {
        what: runtime::FORKRT_GET_CONTEXT.into(),
        item: runtime::FORKRT_GET_CONTEXT.into(),
        uses: vec![
            "let ctx = ITEM(method); ctx.process(work, (1u8,)).start();",
            "ITEM(method).process(work, (1u8,)).start();",
        ],
        extra: Vec::new(),
        renames: true,
    });
    out.push(Entry {
        what: format!(
            "{} / {}",
            runtime::FORKRT_POOL_NEW,
            runtime::FORKRT_POOL_BUILDER
        ),
        item: runtime::FORKRT_POOL.into(),
        uses: vec![
            "let pool = ITEM::new(2).unwrap(); pool.map(work, [1u8]);",
            "ITEM::builder().processes(2).initializer(work, 1u8).build().unwrap();",
        ],
        extra: Vec::new(),
        renames: true,
    });
    out.push(Entry {
        what: format!("{} (Context::pool)", runtime::FORKRT_GET_CONTEXT),
        item: runtime::FORKRT_GET_CONTEXT.into(),
        uses: vec!["let pool = ITEM(method).pool(2).unwrap(); pool.apply(work, 1u8);"],
        extra: Vec::new(),
        renames: true,
    });
    for f in [
        runtime::FORKRT_SET_START_METHOD,
        runtime::FORKRT_SET_START_METHOD_FORCE,
    ] {
        out.push(Entry {
            what: f.into(),
            item: f.into(),
            uses: vec!["ITEM(method);"],
            extra: Vec::new(),
            renames: true,
        });
    }
    out.push(Entry {
        what: runtime::PROCSPAWN_SPAWN.into(),
        item: runtime::PROCSPAWN_SPAWN.into(),
        uses: vec!["let _h = ITEM((1u8,), work);"],
        extra: Vec::new(),
        renames: true,
    });
    out.push(Entry {
        what: format!(
            "{} / {}",
            runtime::PROCSPAWN_POOL_NEW,
            runtime::PROCSPAWN_POOL_BUILDER
        ),
        item: strip(runtime::PROCSPAWN_POOL_NEW, "::new"),
        uses: vec![
            "let pool = ITEM::new(2).unwrap(); pool.spawn((1u8,), work);",
            "let pool = ITEM::builder(2).build().unwrap(); pool.spawn((1u8,), work);",
        ],
        extra: Vec::new(),
        renames: true,
    });
    out.push(Entry {
        what: "daemonize::Daemonize::start".into(),
        item: "daemonize::Daemonize".into(),
        uses: vec![
            "ITEM::new().pid_file(\"/tmp/d.pid\").start().unwrap();",
            "let d = ITEM::new(); d.start().unwrap();",
            "let d = ITEM::new(); d.execute();",
        ],
        extra: Vec::new(),
        renames: true,
    });
    out.push(Entry {
        what: "CommandExt::pre_exec / before_exec (path call)".into(),
        item: "std::os::unix::process::CommandExt".into(),
        uses: vec![
            "unsafe { ITEM::pre_exec(&mut cmd, || Ok(())) };",
            "unsafe { ITEM::before_exec(&mut cmd, || Ok(())) };",
        ],
        extra: Vec::new(),
        renames: false,
    });
    out.push(Entry {
        what: "a configured fork point".into(),
        item: "my_runtime::child::spawn_worker".into(),
        uses: vec!["let _pid = ITEM();"],
        extra: vec!["my_runtime::child::spawn_worker".into()],
        renames: true,
    });
    out
}

/// One way of naming an item: items at the top of the file, a `use` in the function
/// body, the expression that names the item, whether everything sits in a module.
struct Form {
    name: &'static str,
    items: String,
    local: String,
    expr: String,
    in_module: bool,
    /// Whether the item itself is imported under another name.
    renames_item: bool,
    /// Whether the item comes from a glob import.
    glob: bool,
    /// Whether the analysis is known to resolve this form (else only the implication
    /// "recognised ⇒ the prefilter accepts" is checked).
    resolved: bool,
}

fn forms(item: &str) -> Vec<Form> {
    let segs: Vec<&str> = item.split("::").collect();
    let n = segs.len();
    let name = segs[n - 1];
    let module = segs[..n - 1].join("::");
    let last_mod = segs[n - 2];
    let first = segs[0];
    let rest = segs[1..].join("::");
    let form = |name, items: String, local: String, expr: String| Form {
        name,
        items,
        local,
        expr,
        in_module: false,
        renames_item: false,
        glob: name.contains("glob"),
        resolved: true,
    };
    let mut v = vec![
        form("full path", String::new(), String::new(), item.into()),
        form(
            "::-rooted path",
            String::new(),
            String::new(),
            format!("::{item}"),
        ),
        form("use", format!("use {item};"), String::new(), name.into()),
        form(
            "use ::path",
            format!("use ::{item};"),
            String::new(),
            name.into(),
        ),
        Form {
            renames_item: true,
            ..form(
                "use … as",
                format!("use {item} as AliasX;"),
                String::new(),
                "AliasX".into(),
            )
        },
        form(
            "use group",
            format!("use {module}::{{{name}, SomethingElse}};"),
            String::new(),
            name.into(),
        ),
        Form {
            renames_item: true,
            ..form(
                "use group with rename",
                format!("use {module}::{{SomethingElse, {name} as AliasY}};"),
                String::new(),
                "AliasY".into(),
            )
        },
        form(
            "use root group",
            format!("use {{{item}}};"),
            String::new(),
            name.into(),
        ),
        form(
            "use {self}",
            format!("use {module}::{{self}};"),
            String::new(),
            format!("{last_mod}::{name}"),
        ),
        form(
            "use {self as …}",
            format!("use {module}::{{self as ModZ}};"),
            String::new(),
            format!("ModZ::{name}"),
        ),
        form(
            "use module",
            format!("use {module};"),
            String::new(),
            format!("{last_mod}::{name}"),
        ),
        form(
            "use crate as",
            format!("use {first} as CrateW;"),
            String::new(),
            format!("CrateW::{rest}"),
        ),
        form(
            "glob",
            format!("use {module}::*;"),
            String::new(),
            name.into(),
        ),
        form(
            "extern crate … as",
            format!("extern crate {first} as crate_k;"),
            String::new(),
            format!("crate_k::{rest}"),
        ),
        Form {
            renames_item: true,
            ..form(
                "function-local use",
                String::new(),
                format!("use {item} as LocalV;"),
                "LocalV".into(),
            )
        },
        form(
            "function-local glob",
            String::new(),
            format!("use {module}::*;"),
            name.into(),
        ),
        Form {
            in_module: true,
            ..form(
                "use in an inline module",
                format!("use {item};"),
                String::new(),
                name.into(),
            )
        },
    ];
    if n >= 3 {
        let mid = segs[1..n - 1].join("::");
        v.push(form(
            "nested group",
            format!("use {first}::{{{mid}::{{{name}}}, other::Thing}};"),
            String::new(),
            name.into(),
        ));
        v.push(Form {
            renames_item: true,
            ..form(
                "chained use",
                format!("use {module}; use {last_mod}::{name} as Chained;"),
                String::new(),
                "Chained".into(),
            )
        });
        v.push(form(
            "glob through an alias",
            format!("use {first} as CrateG; use CrateG::{mid}::*;"),
            String::new(),
            name.into(),
        ));
    }
    // Written in ways the analysis may or may not resolve: only the implication holds.
    v.push(Form {
        resolved: false,
        ..form(
            "spaces and comments inside the path",
            String::new(),
            String::new(),
            segs.join(" :: /* c */ "),
        )
    });
    v.push(Form {
        resolved: false,
        ..form(
            "raw identifiers",
            String::new(),
            String::new(),
            segs.iter()
                .map(|s| format!("r#{s}"))
                .collect::<Vec<_>>()
                .join("::"),
        )
    });
    v
}

/// Text in front of the snippet that the prefilter's lexer must not lose its way in.
const PREFIXES: &[&str] = &[
    "",
    "// a comment with a quote \" and an apostrophe ' and fork\n",
    "/* block /* nested \" */ still a comment ' */\n",
    "/** doc block with `libc::fork()` */\nconst DOC: u8 = 0;\n",
    "/// doc line: ```\n/// libc::fork();\n/// ```\nconst DOC2: u8 = 0;\n",
    "const S: &str = \"string with // and /* and 'q' \\\" fork\";\n",
    "const R: &str = r##\"raw \"# fork \"##;\n",
    "const BR: &[u8] = br##\"x\"# \"##;\n",
    "const C1: char = '\"';\nconst C2: char = '\\'';\nconst C3: u8 = b'\\\\';\nconst C4: char = '/';\n",
    "const U: char = '\\u{1F600}';\nconst E: &str = \"é\"; // ünïcödé\n",
    "fn lifetimes<'a, 'b: 'a>(x: &'a str, _y: &'b str) -> &'a str { x }\n",
    "fn labels() { 'outer: loop { break 'outer; } }\n",
    "#[doc = \"fork\"]\nfn documented() { let _ = r\"\\\"; let _ = b\"\\\\\"; }\n",
    "macro_rules! m { ($x:expr) => { $x }; }\nconst CS: &core::ffi::CStr = c\"fork\";\n",
];

#[test]
fn every_recognised_form_passes_the_prefilter() {
    let mut checked = 0;
    let mut snippets = 0;
    let mut unresolved_forms = Vec::new();
    for entry in entries() {
        let prefilter = Prefilter::new(&entry.extra);
        for form in forms(&entry.item) {
            for (u, use_) in entry.uses.iter().enumerate() {
                let stmt = use_.replace("ITEM", &form.expr);
                let body = format!(
                    "{items}\npub fn work(_: (u8,)) {{}}\npub fn site<M>(method: M, mut cmd: std::process::Command) {{\n    {local}\n    {stmt}\n}}\n",
                    items = form.items,
                    local = form.local,
                );
                let body = if form.in_module {
                    format!("mod inner {{\n{body}}}\n")
                } else {
                    body
                };
                // Each snippet alone and after one of the prefixes, in turn.
                let prefix = PREFIXES[snippets % PREFIXES.len()];
                snippets += 1;
                for prefix in ["", prefix] {
                    let src = format!("{prefix}{body}");
                    let found = analyse(&src, &entry.extra);
                    let what = format!("{} / {} / use {u}", entry.what, form.name);
                    if !found.any() {
                        let expected = form.resolved
                            && (entry.renames || !form.renames_item)
                            && !(form.glob && entry.assoc());
                        if expected {
                            unresolved_forms.push(what.clone());
                        }
                        continue;
                    }
                    assert!(
                        prefilter.may_match(src.as_bytes()),
                        "{what}: the analysis finds {found:?} but the prefilter skips:\n{src}"
                    );
                    assert_eq!(
                        findings(&src, &entry.extra, true),
                        findings(&src, &entry.extra, false),
                        "{what}: findings differ with the prefilter on and off:\n{src}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        unresolved_forms.is_empty(),
        "forms the resolver is expected to resolve but did not (update the test if the analysis changed on purpose):\n{}",
        unresolved_forms.join("\n")
    );
    assert!(checked > 800, "only {checked} snippets were recognised");
}

#[test]
fn pre_exec_methods_pass_the_prefilter() {
    let prefilter = Prefilter::new(&[]);
    for method in ["pre_exec", "before_exec"] {
        for call in [
            format!("unsafe {{ cmd.{method}(|| Ok(())) }};"),
            format!("unsafe {{ cmd.arg(\"x\").{method}(move || {{ println!(\"x\"); Ok(()) }}) }};"),
            format!("unsafe {{ cmd\n        .{method}(helper) }};"),
        ] {
            for prefix in PREFIXES {
                let src = format!(
                    "{prefix}use std::os::unix::process::CommandExt as _;\nfn helper() -> std::io::Result<()> {{ Ok(()) }}\npub fn site(mut cmd: std::process::Command) {{\n    {call}\n}}\n"
                );
                let found = analyse(&src, &[]);
                assert!(found.forks > 0, "{method}: not recognised:\n{src}");
                assert!(
                    prefilter.may_match(src.as_bytes()),
                    "{method}: skipped:\n{src}"
                );
                assert_eq!(findings(&src, &[], true), findings(&src, &[], false));
            }
        }
    }
}

/// Words that must not make a file a candidate on their own: the prefilter is sound
/// only if these are truly not forms of a fork point, which the analysis confirms.
#[test]
fn skipped_lookalikes_are_not_fork_points() {
    let prefilter = Prefilter::new(&[]);
    for src in [
        "use syn::parse::ParseStream;\npub fn f(input: ParseStream) { let fork = input.fork(); let _ = fork.parse::<syn::Ident>(); }\n",
        "pub struct Counters { pub fork: u64, pub vfork: u64 }\npub fn f(c: &Counters) -> u64 { c.fork + c.vfork }\n",
        "extern \"C\" { pub fn fork() -> i32; }\n",
        "pub const __NR_fork: u32 = 57;\npub const CLONE_VFORK: u32 = 0x4000;\n",
        "/// Call `libc::fork()` and then `waitpid`.\npub fn documented() {}\n",
        "pub fn f() { let s = \"libc::fork()\"; let r = r#\"nix::unistd::fork()\"#; let _ = (s, r); }\n",
        "pub fn f() { /* unsafe { libc::fork() }; */ }\n",
        "pub fn forked() -> bool { let forking = true; forking }\n",
    ] {
        assert!(!prefilter.may_match(src.as_bytes()), "not skipped:\n{src}");
        assert!(!analyse(src, &[]).any(), "recognised after all:\n{src}");
    }
}

// ---------------------------------------------------------------------------------
// Fork wrappers across files

fn write(root: &Path, files: &[(&str, &str)]) -> Vec<InputFile> {
    let mut out = Vec::new();
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        if rel.ends_with(".rs") {
            out.push(InputFile {
                name: rel.to_string(),
                path,
            });
        }
    }
    out
}

fn lint_keys(files: &[InputFile], prefilter: bool) -> Vec<String> {
    let options = LintOptions {
        prefilter,
        jobs: 1,
        ..LintOptions::default()
    };
    let report = lint(files, &options);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report
        .diagnostics
        .iter()
        .filter(|d| d.code != "FL000")
        .map(|d| {
            format!(
                "{}:{}:{} {} {}",
                d.primary.file.name,
                d.primary.start.line,
                d.primary.start.column,
                d.code,
                d.message
            )
        })
        .collect()
}

#[test]
fn callers_of_fork_wrappers_are_linted_though_they_mention_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let files = write(
        dir.path(),
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"w\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "src/lib.rs",
                "pub mod spawning;\npub mod level2;\npub mod user;\npub mod unrelated;\n",
            ),
            (
                "src/spawning.rs",
                "/// Forks; the child gets 0.\npub fn start_child() -> i32 {\n    unsafe { libc::fork() }\n}\n",
            ),
            (
                "src/level2.rs",
                "pub fn start_twice() -> i32 {\n    crate::spawning::start_child()\n}\n",
            ),
            (
                "src/user.rs",
                "use std::sync::Mutex;\nstatic M: Mutex<u32> = Mutex::new(0);\npub fn go() {\n    let pid = crate::spawning::start_child();\n    if pid == 0 {\n        println!(\"child\");\n    }\n}\npub fn go2() {\n    let _g = M.lock().unwrap();\n    let pid = crate::level2::start_twice();\n    if pid == 0 {\n        let _h = M.lock().unwrap();\n        println!(\"child\");\n    }\n}\n",
            ),
            ("src/unrelated.rs", "pub fn nothing() -> u32 { 1 }\n"),
        ],
    );
    let prefilter = Prefilter::new(&[]);
    let user = std::fs::read(dir.path().join("src/user.rs")).unwrap();
    assert!(!prefilter.may_match(&user), "user.rs mentions no token");
    let on = lint_keys(&files, true);
    let off = lint_keys(&files, false);
    assert_eq!(on, off, "the same findings with the prefilter on and off");
    assert!(
        on.iter().any(|f| f.starts_with("src/user.rs")),
        "the wrapper's callers in user.rs have findings: {on:#?}"
    );
}

// ---------------------------------------------------------------------------------
// Real files: the workspace's sources and fixtures

fn rust_files(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in roots {
        for e in walkdir::WalkDir::new(root)
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_type().is_dir()
                        && (e.file_name() == "target"
                            || e.file_name().to_str().is_some_and(|n| n.starts_with('.'))))
            })
            .filter_map(Result::ok)
        {
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs") {
                out.push(e.into_path());
            }
        }
    }
    out.sort();
    out
}

fn corpus() -> Vec<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut roots = vec![
        workspace.join("crates"),
        workspace.join("fixtures"),
        workspace.join("tests"),
        workspace.join("examples"),
    ];
    roots.extend(std::env::var_os("FORK_LINT_COVERAGE_DIR").map(PathBuf::from));
    rust_files(&roots)
}

#[test]
fn workspace_files_with_findings_pass_the_prefilter() {
    let prefilter = Prefilter::new(&[]);
    let mut recognised = 0;
    for path in corpus() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if text.len() > 4 << 20 {
            continue;
        }
        let found = analyse(&text, &[]);
        if found.any() {
            recognised += 1;
            assert!(
                prefilter.may_match(text.as_bytes()),
                "{}: the analysis finds {found:?} but the prefilter skips it",
                path.display()
            );
        }
    }
    assert!(
        recognised >= 20,
        "only {recognised} files with fork points or processes"
    );
}

#[test]
fn the_prefilter_lexer_agrees_with_proc_macro2() {
    use proc_macro2::{TokenStream, TokenTree};
    let mut idents = 0;
    for path in corpus() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if text.len() > 4 << 20 {
            continue;
        }
        let Ok(stream) = text.parse::<TokenStream>() else {
            continue;
        };
        let file = SourceFile::new(path.clone(), String::new(), text.clone());
        let offset = |lc: proc_macro2::LineColumn| file.position(lc.line, lc.column).offset;
        // (offset, expected to be code)
        let mut expect: Vec<(usize, bool, String)> = Vec::new();
        let mut stack = vec![stream.into_iter()];
        while let Some(top) = stack.last_mut() {
            match top.next() {
                Some(TokenTree::Group(g)) => stack.push(g.stream().into_iter()),
                Some(TokenTree::Ident(i)) => {
                    let at = offset(i.span().start());
                    let name = i.to_string();
                    // Doc comments become `#[doc = "…"]` with the comment's span.
                    if text[at..].starts_with(&name) {
                        expect.push((at, true, name));
                    }
                }
                Some(TokenTree::Literal(l)) => {
                    let at = offset(l.span().start());
                    let lit = l.to_string();
                    let quote = lit.find(['"', '\'']);
                    let raw =
                        lit.starts_with('r') || lit.starts_with("br") || lit.starts_with("cr");
                    if let Some(q) = quote.filter(|_| text[at..].starts_with(&lit)) {
                        // A raw string is skipped from its prefix, others from the quote.
                        let at = if raw { at } else { at + q };
                        expect.push((at, false, lit.chars().take(40).collect()));
                    }
                }
                Some(_) => {}
                None => {
                    stack.pop();
                }
            }
        }
        proc_macro2::extra::invalidate_current_thread_spans();
        expect.sort_by_key(|e| e.0);
        let offsets: Vec<usize> = expect.iter().map(|e| e.0).collect();
        let got = in_code(text.as_bytes(), &offsets);
        for ((at, want, what), got) in expect.iter().zip(got) {
            assert_eq!(
                got,
                *want,
                "{}: byte {at} ({what}): proc_macro2 says {}",
                path.display(),
                if *want { "code" } else { "a literal" }
            );
            idents += usize::from(*want);
        }
    }
    assert!(idents > 10_000, "only {idents} identifiers checked");
}
