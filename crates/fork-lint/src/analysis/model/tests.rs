//! The program model on packages held in memory: thread contexts from the entry
//! points, the library policy, child regions with one thread, calls across files and
//! crates of a package.

use crate::engine::lint_memory;
use crate::{LintOptions, Report};

const BIN_MANIFEST: &str = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n";

fn lint(files: &[(&str, &str)], named: &[&str]) -> Report {
    lint_memory(files, named, &LintOptions::default())
}

/// `(file name, line, code)` of every finding.
fn found(report: &Report) -> Vec<(String, usize, &'static str)> {
    report
        .diagnostics
        .iter()
        .map(|d| (d.primary.file.name.clone(), d.primary.start.line, d.code))
        .collect()
}

fn codes(report: &Report) -> Vec<&'static str> {
    report.diagnostics.iter().map(|d| d.code).collect()
}

/// A library function in a `pub(crate)` module forks and its child logs; `main` calls
/// it. `before` runs in `main` before the call.
fn bin_with_library(before: &str) -> Vec<(&'static str, String)> {
    vec![
        ("/p/Cargo.toml", BIN_MANIFEST.to_string()),
        ("/p/src/lib.rs", "pub(crate) mod sys;\npub mod api { pub use crate::sys::spawn_child; }\n".into()),
        (
            "/p/src/sys.rs",
            "pub fn spawn_child() -> i32 {\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        println!(\"child\");\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n    pid\n}\n".into(),
        ),
        (
            "/p/src/main.rs",
            format!("fn main() {{\n    {before}\n    demo::sys::spawn_child();\n}}\n"),
        ),
    ]
}

fn refs<'a>(files: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    files.iter().map(|(p, t)| (*p, t.as_str())).collect()
}

#[test]
fn a_library_function_reached_from_a_single_threaded_main_is_single_threaded() {
    let files = bin_with_library("let x = 1;");
    let report = lint(&refs(&files), &["/p/src/sys.rs"]);
    assert!(codes(&report).is_empty(), "{:#?}", found(&report));
}

#[test]
fn a_thread_started_in_main_before_the_call_reaches_the_library_fork() {
    let files = bin_with_library("let _t = std::thread::spawn(|| {});");
    let report = lint(&refs(&files), &["/p/src/sys.rs"]);
    let mut c = codes(&report);
    c.sort();
    assert_eq!(c, ["FL004", "FL007"], "{:#?}", found(&report));
    let fl007 = report
        .diagnostics
        .iter()
        .find(|d| d.code == "FL007")
        .unwrap();
    let labels: Vec<_> = fl007.labels.iter().map(|l| l.message.as_str()).collect();
    assert!(
        labels
            .iter()
            .any(|m| m.contains("`spawn_child` is called here")),
        "{labels:?}"
    );
    assert!(
        labels
            .iter()
            .any(|m| m.contains("a thread is started here")),
        "{labels:?}"
    );
}

#[test]
fn a_public_library_function_of_a_package_without_binaries_has_unknown_callers() {
    let files = [
        ("/p/Cargo.toml", "[package]\nname = \"lib-only\"\n"),
        ("/p/src/lib.rs", "pub mod sys;\nmod private;\n"),
        (
            "/p/src/sys.rs",
            "pub fn detach() {\n    if unsafe { libc::fork() } == 0 {\n        unsafe { libc::_exit(0) }\n    }\n}\n",
        ),
        (
            "/p/src/private.rs",
            "fn helper() {\n    if unsafe { libc::fork() } == 0 {\n        unsafe { libc::_exit(0) }\n    }\n}\n",
        ),
    ];
    let report = lint(&files, &["/p/src/sys.rs", "/p/src/private.rs"]);
    let f = found(&report);
    assert!(f.contains(&("p/src/sys.rs".into(), 2, "FL007")), "{f:#?}");
    // Nothing calls the private helper: its callers are unknown, so the rule is silent.
    assert!(
        !f.iter()
            .any(|x| x.0 == "p/src/private.rs" && x.2 == "FL007"),
        "{f:#?}"
    );
}

#[test]
fn library_public_makes_a_binary_packages_library_functions_unknown_callers() {
    let mut options = LintOptions::default();
    options.analysis.library_public = true;
    // `sys` is a `pub(crate)` module, but `api` re-exports `spawn_child` with `pub use`.
    let files = bin_with_library("let x = 1;");
    let report = lint_memory(&refs(&files), &["/p/src/sys.rs"], &options);
    assert!(codes(&report).contains(&"FL007"), "{:#?}", found(&report));
    // Without the re-export, nothing outside the package can call it.
    let files: Vec<(&str, String)> = bin_with_library("let x = 1;")
        .into_iter()
        .map(|(p, t)| {
            let t = t.replace("pub mod api { pub use crate::sys::spawn_child; }\n", "");
            (p, t)
        })
        .collect();
    let report = lint_memory(&refs(&files), &["/p/src/sys.rs"], &options);
    assert!(codes(&report).is_empty(), "{:#?}", found(&report));
    // And by default (the package has a binary) the library is internal to it.
    let files = bin_with_library("let x = 1;");
    let report = lint(&refs(&files), &["/p/src/sys.rs"]);
    assert!(codes(&report).is_empty(), "{:#?}", found(&report));
}

#[test]
fn callers_are_followed_through_many_levels() {
    let mut chain = String::new();
    for i in 0..12 {
        chain.push_str(&format!("fn level{i}() {{ level{}(); }}\n", i + 1));
    }
    chain.push_str("fn level12() {\n    if unsafe { libc::fork() } == 0 {\n        println!(\"deep\");\n        unsafe { libc::_exit(0) }\n    }\n}\n");
    let quiet = BIN_MANIFEST.to_string();
    let single = format!("fn main() {{ level0(); }}\n{chain}");
    let threaded =
        format!("fn main() {{ let _t = std::thread::spawn(|| {{}}); level0(); }}\n{chain}");
    let report = lint(
        &[
            ("/p/Cargo.toml", quiet.as_str()),
            ("/p/src/main.rs", single.as_str()),
        ],
        &["/p/src/main.rs"],
    );
    assert!(!codes(&report).contains(&"FL007"), "{:#?}", found(&report));
    let report = lint(
        &[
            ("/p/Cargo.toml", quiet.as_str()),
            ("/p/src/main.rs", threaded.as_str()),
        ],
        &["/p/src/main.rs"],
    );
    assert!(codes(&report).contains(&"FL007"), "{:#?}", found(&report));
}

#[test]
fn a_thread_started_in_a_helper_called_earlier_counts_unless_joined_there() {
    let program = |helper: &str| {
        format!(
            "fn main() {{\n    setup();\n    if unsafe {{ libc::fork() }} == 0 {{\n        println!(\"child\");\n        unsafe {{ libc::_exit(0) }}\n    }}\n}}\nfn setup() {{ start_logger(); }}\nfn start_logger() {{ {helper} }}\n"
        )
    };
    let leaves = program("std::thread::spawn(|| loop {});");
    let joins = program("let h = std::thread::spawn(|| {}); h.join().unwrap();");
    for (text, expect) in [(leaves, true), (joins, false)] {
        let report = lint(
            &[
                ("/p/Cargo.toml", BIN_MANIFEST),
                ("/p/src/main.rs", text.as_str()),
            ],
            &["/p/src/main.rs"],
        );
        assert_eq!(
            codes(&report).contains(&"FL007"),
            expect,
            "{text}\n{:#?}",
            found(&report)
        );
    }
}

#[test]
fn a_second_fork_in_a_child_has_one_thread() {
    // The double-fork daemon, after a thread started in the parent: the first fork is
    // FL007; the second runs in the child, which has one thread.
    let text = "fn main() {\n    let _t = std::thread::spawn(|| loop {});\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        unsafe { libc::setsid() };\n        let pid2 = unsafe { libc::fork() };\n        if pid2 == 0 {\n            println!(\"daemon\");\n            unsafe { libc::_exit(0) }\n        }\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let report = lint(
        &[("/p/Cargo.toml", BIN_MANIFEST), ("/p/src/main.rs", text)],
        &["/p/src/main.rs"],
    );
    let f = found(&report);
    assert!(f.contains(&("p/src/main.rs".into(), 3, "FL007")), "{f:#?}");
    assert!(!f.iter().any(|x| x.1 == 6 && x.2 == "FL007"), "{f:#?}");
    // `println!` runs in the grandchild, whose parent (the child) had one thread.
    assert!(!f.iter().any(|x| x.1 == 8 && x.2 == "FL004"), "{f:#?}");
}

#[test]
fn a_fork_inside_pre_exec_has_one_thread() {
    let text = "use std::os::unix::process::CommandExt;\n#[tokio::main]\nasync fn main() {\n    let mut cmd = std::process::Command::new(\"true\");\n    unsafe {\n        cmd.pre_exec(|| {\n            if libc::fork() != 0 {\n                libc::_exit(0);\n            }\n            Ok(())\n        });\n    }\n    let _ = cmd.status();\n}\n";
    let report = lint(
        &[("/p/Cargo.toml", BIN_MANIFEST), ("/p/src/main.rs", text)],
        &["/p/src/main.rs"],
    );
    assert!(!codes(&report).contains(&"FL007"), "{:#?}", found(&report));
}

#[test]
fn an_integration_test_calling_a_forking_library_function_is_multi_threaded() {
    let files = [
        ("/p/Cargo.toml", BIN_MANIFEST),
        ("/p/src/main.rs", "fn main() { demo::detach(); }\n"),
        (
            "/p/src/lib.rs",
            "pub fn detach() {\n    if unsafe { libc::fork() } == 0 {\n        unsafe { libc::_exit(0) }\n    }\n}\n",
        ),
        (
            "/p/tests/it.rs",
            "#[test]\nfn detaches() { demo::detach(); }\n",
        ),
    ];
    let report = lint(&files, &["/p/src/lib.rs"]);
    let fl007 = report.diagnostics.iter().find(|d| d.code == "FL007");
    let labels: Vec<String> = fl007
        .map(|d| d.labels.iter().map(|l| l.message.clone()).collect())
        .unwrap_or_default();
    assert!(
        labels.iter().any(|m| m.contains("#[test]")),
        "{:#?}",
        found(&report)
    );
}

#[test]
fn findings_are_reported_for_the_files_named_only() {
    let files = bin_with_library("let _t = std::thread::spawn(|| {});");
    let report = lint(&refs(&files), &["/p/src/main.rs"]);
    assert!(codes(&report).is_empty(), "{:#?}", found(&report));
    let report = lint(&refs(&files), &["/p/src/main.rs", "/p/src/sys.rs"]);
    assert!(!codes(&report).is_empty());
}

// ---------------------------------------------------------------------------------
// Every way a child calls code.

/// A binary whose child (a `pre_exec` hook, after a thread) runs `child_code`, with
/// `extra` files.
fn pre_exec_program(hook: &str) -> String {
    format!(
        "use std::io;\nuse std::os::unix::process::CommandExt;\nmod log;\nfn main() {{\n    let mut cmd = std::process::Command::new(\"true\");\n    {hook}\n    let _ = cmd.status();\n}}\n"
    )
}

fn fl004_lines(report: &Report) -> Vec<usize> {
    report
        .diagnostics
        .iter()
        .filter(|d| d.code == "FL004")
        .map(|d| d.primary.start.line)
        .collect()
}

const LOG_RS: &str = "pub struct Logger { pub quiet: bool }\nimpl Logger {\n    pub fn new() -> Logger { Logger { quiet: false } }\n    pub fn log(&self) { println!(\"in the child\"); }\n}\npub struct Quiet;\nimpl Quiet {\n    pub fn log(&self) {}\n}\npub struct Holder { pub logger: Logger }\n";

fn lint_main(main: &str) -> Report {
    lint(
        &[
            ("/p/Cargo.toml", BIN_MANIFEST),
            ("/p/src/main.rs", main),
            ("/p/src/log.rs", LOG_RS),
        ],
        &["/p/src/main.rs", "/p/src/log.rs"],
    )
}

#[test]
fn a_function_passed_as_a_value_is_called() {
    for hook in [
        "unsafe { cmd.pre_exec(|| Err(io::Error::last_os_error()).map_err(io::Error::other)) };",
        "unsafe { cmd.pre_exec(|| Err(io::Error::last_os_error()).map_err(|e| io::Error::other(e))) };",
    ] {
        let report = lint_main(&pre_exec_program(hook));
        assert_eq!(fl004_lines(&report), [6], "{hook}\n{:#?}", found(&report));
    }
}

#[test]
fn a_hook_kept_in_a_variable_or_a_box_is_child_code() {
    for hook in [
        "let hook = move || { println!(\"x\"); Ok(()) };\n    unsafe { cmd.pre_exec(hook) };",
        "let hook = Box::new(move || { println!(\"x\"); Ok(()) });\n    unsafe { cmd.pre_exec(hook) };",
    ] {
        let report = lint_main(&pre_exec_program(hook));
        assert_eq!(
            fl004_lines(&report).len(),
            1,
            "{hook}\n{:#?}",
            found(&report)
        );
    }
}

#[test]
fn methods_on_values_of_known_type_are_followed_across_files() {
    let cases = [
        // A constructor call.
        (
            "let l = log::Logger::new();\n    unsafe { cmd.pre_exec(move || { l.log(); Ok(()) }) };",
            true,
        ),
        // A type annotation.
        (
            "let l: log::Logger = log::Logger::new();\n    unsafe { cmd.pre_exec(move || { l.log(); Ok(()) }) };",
            true,
        ),
        // A struct literal, then a field of it.
        (
            "let h = log::Holder { logger: log::Logger::new() };\n    unsafe { cmd.pre_exec(move || { h.logger.log(); Ok(()) }) };",
            true,
        ),
        // Another type's method of the same name does nothing unsafe.
        (
            "let q = log::Quiet;\n    unsafe { cmd.pre_exec(move || { q.log(); Ok(()) }) };",
            false,
        ),
    ];
    for (hook, unsafe_call) in cases {
        let report = lint_main(&pre_exec_program(hook));
        let in_log: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.code == "FL004" && d.primary.file.name.ends_with("log.rs"))
            .collect();
        assert_eq!(
            !in_log.is_empty(),
            unsafe_call,
            "{hook}\n{:#?}",
            found(&report)
        );
    }
}

#[test]
fn closures_handed_to_a_forking_helper_are_child_code_through_wrappers() {
    let child_rs = "pub fn run_in_child(f: impl FnOnce()) {\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        f();\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let main_rs = "mod child;\nfn main() {\n    let _t = std::thread::spawn(|| loop {});\n    child::run_in_child(|| {\n        println!(\"direct\");\n    });\n    wrapped(|| eprintln!(\"through a wrapper\"));\n    child::run_in_child(|| unsafe {\n        libc::write(2, b\"safe\\n\".as_ptr().cast(), 5);\n    });\n}\nfn wrapped<F: FnOnce()>(f: F) {\n    child::run_in_child(move || {\n        f();\n    });\n}\n";
    let report = lint(
        &[
            ("/p/Cargo.toml", BIN_MANIFEST),
            ("/p/src/main.rs", main_rs),
            ("/p/src/child.rs", child_rs),
        ],
        &["/p/src/main.rs"],
    );
    assert_eq!(fl004_lines(&report), [5, 7], "{:#?}", found(&report));
}

// ---------------------------------------------------------------------------------
// Names real code uses.

fn lint_bin(files: &[(&str, &str)]) -> Report {
    let mut all = vec![("/p/Cargo.toml", BIN_MANIFEST)];
    all.extend_from_slice(files);
    let named: Vec<&str> = files.iter().map(|f| f.0).collect();
    lint(&all, &named)
}

#[test]
fn std_items_reexported_by_other_crates_are_stds() {
    let main = pre_exec_program(
        "unsafe { cmd.pre_exec(|| Err(tokio::io::Error::new(tokio::io::ErrorKind::Other, \"x\"))) };",
    )
    .replace("use std::io;\n", "use tokio::io;\n");
    let report = lint_main(&main);
    assert_eq!(fl004_lines(&report), [6], "{:#?}", found(&report));
}

#[test]
fn a_renamed_crate_and_a_package_reexport_of_fork_are_fork_points() {
    let renamed = "use libc as c;\nfn main() {\n    let _t = std::thread::spawn(|| loop {});\n    if unsafe { c::fork() } == 0 {\n        unsafe { c::_exit(0) }\n    }\n}\n";
    let report = lint_bin(&[("/p/src/main.rs", renamed)]);
    assert!(codes(&report).contains(&"FL007"), "{:#?}", found(&report));
    // `sys.rs` re-exports `fork` under another name; `main.rs` never writes `fork`.
    let sys = "pub use libc::fork as raw_fork;\n";
    let main = "mod sys;\nuse crate::sys::raw_fork;\nfn main() {\n    let _t = std::thread::spawn(|| loop {});\n    if unsafe { raw_fork() } == 0 {\n        unsafe { libc::_exit(0) }\n    }\n}\n";
    let report = lint_bin(&[("/p/src/main.rs", main), ("/p/src/sys.rs", sys)]);
    let f = found(&report);
    assert!(f.contains(&("p/src/main.rs".into(), 5, "FL007")), "{f:#?}");
}

#[test]
fn question_marks_into_allocating_error_types_through_aliases() {
    let child = |ret: &str, uses: &str| {
        format!(
            "{uses}\nfn main() {{\n    let _t = std::thread::spawn(|| loop {{}});\n    if unsafe {{ libc::fork() }} == 0 {{\n        let _ = work();\n        unsafe {{ libc::_exit(0) }}\n    }}\n}}\nfn work() -> {ret} {{\n    std::fs::metadata(\"/\")?;\n    Ok(())\n}}\n"
        )
    };
    let cases = [
        (child("Result<()>", "use eyre::Result;"), true),
        (child("anyhow::Result<()>", ""), true),
        (child("Result<(), Box<dyn std::error::Error>>", ""), true),
        (
            child("Result<()>", "mod error;\nuse crate::error::Result;"),
            true,
        ),
        (child("std::io::Result<()>", ""), false),
    ];
    for (main, allocates) in cases {
        let report = lint_bin(&[
            ("/p/src/main.rs", main.as_str()),
            (
                "/p/src/error.rs",
                "pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;\n",
            ),
        ]);
        let question: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.code == "FL004" && d.message.starts_with("`?`"))
            .collect();
        assert_eq!(
            !question.is_empty(),
            allocates,
            "{main}\n{:#?}",
            found(&report)
        );
    }
}

#[test]
fn daemonize_builders_are_fork_points() {
    for start in ["start()", "execute()"] {
        let main = format!(
            "use daemonize::Daemonize;\nfn main() {{\n    let _t = std::thread::spawn(|| loop {{}});\n    let _ = Daemonize::new().pid_file(\"/tmp/x.pid\").working_directory(\"/\").{start};\n}}\n"
        );
        let report = lint_bin(&[("/p/src/main.rs", main.as_str())]);
        assert!(
            codes(&report).contains(&"FL007"),
            "{start}: {:#?}",
            found(&report)
        );
    }
}

// ---------------------------------------------------------------------------------
// Macros of the package, expanded.

#[test]
fn a_die_macro_in_pre_exec_is_seen_through() {
    let main = "use std::os::unix::process::CommandExt;\nmacro_rules! die {\n    ($($arg:tt)*) => {{\n        eprintln!($($arg)*);\n        std::process::exit(1)\n    }};\n}\nfn main() {\n    let mut cmd = std::process::Command::new(\"true\");\n    unsafe {\n        cmd.pre_exec(|| {\n            if libc::setsid() < 0 {\n                die!(\"setsid failed\");\n            }\n            Ok(())\n        });\n    }\n    let _ = cmd.status();\n}\n";
    let report = lint_bin(&[("/p/src/main.rs", main)]);
    assert_eq!(fl004_lines(&report), [13], "{:#?}", found(&report));
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.code == "FL004")
        .unwrap();
    let labels: Vec<(usize, &str)> = d
        .labels
        .iter()
        .map(|l| (l.span.start.line, l.message.as_str()))
        .collect();
    assert!(
        labels.contains(&(2, "in this expansion of `die!`")),
        "{labels:?}"
    );
}

#[test]
fn a_macro_from_another_file_is_expanded_in_a_fork_child() {
    let macros =
        "macro_rules! report {\n    ($msg:expr) => {\n        println!(\"{}\", $msg)\n    };\n}\n";
    let main = "#[macro_use]\nmod macros;\nfn main() {\n    let _t = std::thread::spawn(|| loop {});\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        report!(\"in the child\");\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let report = lint_bin(&[("/p/src/main.rs", main), ("/p/src/macros.rs", macros)]);
    let f = found(&report);
    assert!(f.contains(&("p/src/main.rs".into(), 7, "FL004")), "{f:#?}");
    // The definition's own text is not where the finding points.
    assert!(!f.iter().any(|x| x.0.ends_with("macros.rs")), "{f:#?}");
}

#[test]
fn a_macro_generated_test_that_forks_is_analysed() {
    let lib = "macro_rules! fork_test {\n    ($name:ident) => {\n        #[test]\n        fn $name() {\n            let pid = unsafe { libc::fork() };\n            if pid == 0 {\n                unsafe { libc::_exit(0) }\n            }\n            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n        }\n    };\n}\nfork_test!(forks_once);\nfork_test!(forks_twice);\n";
    let report = lint(
        &[
            ("/p/Cargo.toml", "[package]\nname = \"l\"\n"),
            ("/p/src/lib.rs", lib),
        ],
        &["/p/src/lib.rs"],
    );
    let f = found(&report);
    assert!(f.contains(&("p/src/lib.rs".into(), 13, "FL007")), "{f:#?}");
    assert!(f.contains(&("p/src/lib.rs".into(), 14, "FL007")), "{f:#?}");
}

#[test]
fn a_child_that_leaves_through_a_macro_does_not_fall_through() {
    let program = |body: &str| {
        format!(
            "macro_rules! leave_child {{\n    () => {{\n        {body}\n    }};\n}}\nfn main() {{\n    let pid = unsafe {{ libc::fork() }};\n    if pid == 0 {{\n        leave_child!();\n    }}\n    unsafe {{ libc::waitpid(pid, std::ptr::null_mut(), 0) }};\n}}\n"
        )
    };
    let leaves = program("unsafe { libc::_exit(0) }");
    let stays = program("let _ = 1;");
    for (text, falls) in [(leaves, false), (stays, true)] {
        let report = lint_bin(&[("/p/src/main.rs", text.as_str())]);
        assert_eq!(
            codes(&report).contains(&"FL005"),
            falls,
            "{text}\n{:#?}",
            found(&report)
        );
    }
}

/// The FL007 message of a `main` that runs `start` and then forks.
fn fl007_message_after(start: &str) -> String {
    let main = format!(
        "fn main() {{\n    {start}\n    let pid = unsafe {{ libc::fork() }};\n    if pid == 0 {{ unsafe {{ libc::_exit(0) }} }}\n    unsafe {{ libc::waitpid(pid, std::ptr::null_mut(), 0) }};\n}}\nfn poll_forever() {{}}\n"
    );
    let files = [("/p/Cargo.toml", BIN_MANIFEST), ("/p/src/main.rs", &main)];
    let report = lint(&files, &["/p/src/main.rs"]);
    let fl007 = report.diagnostics.iter().find(|d| d.code == "FL007");
    fl007
        .unwrap_or_else(|| panic!("no FL007 after `{start}`: {:#?}", found(&report)))
        .message
        .clone()
}

#[test]
fn fl007_names_the_thread_that_may_be_running() {
    for (start, name) in [
        (
            "let worker = std::thread::spawn(|| {});",
            "while the thread `worker` may be running",
        ),
        (
            "let _h = std::thread::Builder::new().name(\"flusher\".into()).spawn(|| {}).unwrap();",
            "while the thread \"flusher\" may be running",
        ),
        (
            "std::thread::spawn(poll_forever);",
            "while the thread running `poll_forever` may be running",
        ),
        (
            "let mut hs = Vec::new(); hs.push(std::thread::spawn(|| {}));",
            "while a thread whose handle goes into `hs` may be running",
        ),
        (
            "let _t = std::thread::spawn(|| {});",
            "while a thread may be running",
        ),
        (
            "let n: u64 = (0..10u64).into_par_iter().sum();",
            "while rayon's worker threads may be running",
        ),
        (
            "let rt = tokio::runtime::Runtime::new().unwrap();",
            "while the async runtime's worker threads may be running",
        ),
        (
            "let a = std::thread::spawn(|| {}); let b = std::thread::spawn(|| {});",
            "while the thread `a` and 1 other thread may be running",
        ),
    ] {
        let message = fl007_message_after(start);
        assert!(message.contains(name), "`{start}`: {message}");
    }
}

#[test]
fn fl002_names_the_thread_that_may_hold_the_lock_and_shows_its_start() {
    let main = "use std::sync::{Arc, Mutex};\nfn main() {\n    let state = Arc::new(Mutex::new(0));\n    let s = state.clone();\n    let ticker = std::thread::spawn(move || loop { *s.lock().unwrap() += 1; });\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        let n = *state.lock().unwrap();\n        unsafe { libc::_exit(n) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let files = [("/p/Cargo.toml", BIN_MANIFEST), ("/p/src/main.rs", main)];
    let report = lint(&files, &["/p/src/main.rs"]);
    let fl002 = report
        .diagnostics
        .iter()
        .find(|d| d.code == "FL002")
        .unwrap_or_else(|| panic!("{:#?}", found(&report)));
    assert!(
        fl002.message.contains("may be held by the thread `ticker`"),
        "{}",
        fl002.message
    );
    let start = fl002
        .labels
        .iter()
        .find(|l| l.message == "the thread `ticker` is started here")
        .expect("a label at the thread's start");
    assert_eq!(start.span.start.line, 5);
}

#[test]
fn a_thread_started_by_a_package_macro_counts_at_the_fork() {
    let main = "macro_rules! start_worker {\n    () => {\n        std::thread::spawn(|| loop {})\n    };\n}\nfn main() {\n    let _h = start_worker!();\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let f = found(&lint_bin(&[("/p/src/main.rs", main)]));
    assert!(f.contains(&("p/src/main.rs".into(), 8, "FL007")), "{f:#?}");
}

#[test]
fn a_thread_a_package_macro_starts_and_joins_is_not_running_at_the_fork() {
    let main = "macro_rules! in_a_thread {\n    ($f:expr) => {\n        let h = std::thread::spawn($f);\n        h.join().unwrap();\n    };\n}\nfn main() {\n    in_a_thread!(|| println!(\"hi\"));\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let f = found(&lint_bin(&[("/p/src/main.rs", main)]));
    assert!(!f.iter().any(|x| x.2 == "FL007"), "{f:#?}");
}

#[test]
fn a_lock_a_package_macro_takes_is_held_across_the_fork() {
    let main = "use std::sync::Mutex;\nstatic M: Mutex<u32> = Mutex::new(0);\nmacro_rules! hold {\n    ($m:expr) => {\n        $m.lock().unwrap()\n    };\n}\nfn main() {\n    let g = hold!(M);\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        let _c = M.lock();\n        unsafe { libc::_exit(0) }\n    }\n    drop(g);\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let f = found(&lint_bin(&[("/p/src/main.rs", main)]));
    assert!(f.contains(&("p/src/main.rs".into(), 10, "FL002")), "{f:#?}");
}

#[test]
fn a_logging_macro_defined_by_a_macro_is_expanded_in_pre_exec() {
    // A privilege tool's shape: `make_logger!` stamps out `note!` in another file (a
    // name no crate's logging macro has, so only the expansion can tell).
    let log = "macro_rules! make_logger {\n    ($d:tt $name:ident, $level:literal) => {\n        macro_rules! $name {\n            ($d($d arg:tt)*) => { eprintln!(\"[{}] {}\", $level, format_args!($d($d arg)*)) };\n        }\n    };\n}\nmake_logger!($ note, 2);\n";
    let main = "use std::os::unix::process::CommandExt;\n#[macro_use]\nmod log;\nfn main() {\n    let mut cmd = std::process::Command::new(\"true\");\n    unsafe {\n        cmd.pre_exec(|| {\n            note!(\"dropping privileges\");\n            Ok(())\n        });\n    }\n    let _ = cmd.spawn();\n}\n";
    let report = lint_bin(&[("/p/src/main.rs", main), ("/p/src/log.rs", log)]);
    assert_eq!(fl004_lines(&report), [8], "{:#?}", found(&report));
}

#[test]
fn a_binary_sees_through_its_librarys_exported_macro() {
    let lib = "#[macro_export]\nmacro_rules! die {\n    ($code:expr) => {{\n        eprintln!(\"fatal\");\n        std::process::exit($code)\n    }};\n}\n";
    let main = "use std::os::unix::process::CommandExt;\nuse mylib::die;\nfn main() {\n    let mut cmd = std::process::Command::new(\"true\");\n    unsafe {\n        cmd.pre_exec(|| {\n            mylib::die!(3);\n        });\n        cmd.pre_exec(|| {\n            die!(4);\n        });\n    }\n    let _ = cmd.spawn();\n}\n";
    let report = lint(
        &[
            ("/p/Cargo.toml", "[package]\nname = \"mylib\"\n"),
            ("/p/src/lib.rs", lib),
            ("/p/src/main.rs", main),
        ],
        &["/p/src/main.rs"],
    );
    assert_eq!(fl004_lines(&report), [7, 10], "{:#?}", found(&report));
}

/// Runs `check` on a package built in memory, every file a non-candidate text.
fn with_package(files: &[(&str, &str)], check: impl FnOnce(&super::PackageCx<'_>)) {
    use super::texts::Text;
    use super::{Package, PackageCx, PackageFile};
    let fs = super::fs::Memory::new(files.iter().copied());
    let options = crate::analysis::AnalysisOptions::default();
    let asts = typed_arena::Arena::new();
    let file_cxs = typed_arena::Arena::new();
    let package_files = files
        .iter()
        .map(|(path, text)| PackageFile {
            path: (*path).into(),
            name: path.trim_start_matches('/').to_string(),
            text: Some(Text::Raw((*text).into())),
        })
        .collect();
    let package = Package {
        root: Some("/p".into()),
    };
    let cx = PackageCx::new(package, &options, &fs, package_files, &asts, &file_cxs);
    check(&cx);
}

/// Runs `check` on a package whose only source file is `src/lib.rs`, holding `lib`.
fn with_lib(lib: &str, check: impl for<'a> FnOnce(&super::PackageCx<'a>, &'a super::FileCx<'a>)) {
    let files = [("/p/Cargo.toml", BIN_MANIFEST), ("/p/src/lib.rs", lib)];
    with_package(&files, |cx| {
        let file = cx.file(std::path::Path::new("/p/src/lib.rs")).unwrap();
        check(cx, file);
    });
}

#[test]
fn an_item_macro_is_expanded_only_for_the_words_it_writes() {
    let lib = "macro_rules! wrap {\n    ($($item:item)*) => { $( #[cfg(unix)] $item )* };\n}\nwrap! {\n    pub fn close_all() { helper(); }\n}\nwrap! {\n    pub fn unrelated() {}\n}\nwrap! {\n    pub fn spawn() { unsafe { libc::fork() }; }\n}\nfn helper() {}\n";
    with_lib(lib, |cx, file| {
        assert!(file.fns.iter().all(|f| f.generated_by.is_none()));
        let named: Vec<_> = file.fns_named(cx, "close_all");
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].generated_by.as_deref(), Some("wrap"));
        // Only the call that writes `close_all` was expanded.
        assert_eq!(cx.expanded_calls.borrow().len(), 1);
        let users: Vec<_> = file.fns_using(cx, "helper");
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].name, "close_all");
        assert_eq!(cx.expanded_calls.borrow().len(), 1);
        // The fork finder's scan: the calls that write a word of the prefilter.
        let scanned: Vec<String> = file
            .scanned_fns(cx)
            .iter()
            .map(|f| f.name.clone())
            .collect();
        assert_eq!(scanned, ["helper", "spawn"]);
        assert_eq!(cx.expanded_calls.borrow().len(), 2);
    });
}

#[test]
fn a_call_whose_macro_defines_macros_is_expanded_before_later_calls() {
    // `make!` defines `gen!`, which the second call uses.
    let lib = "macro_rules! make {\n    () => {\n        macro_rules! gen { ($n:ident) => { pub fn $n() {} }; }\n    };\n}\nmake!();\ngen!(made_later);\n";
    with_lib(lib, |cx, file| {
        let named = file.fns_named(cx, "made_later");
        assert_eq!(
            named.len(),
            1,
            "the second call sees the macro the first defines"
        );
    });
}

#[test]
fn a_child_calls_a_helper_generated_in_a_file_without_fork_words() {
    let helpers = "macro_rules! unix_only {\n    ($($item:item)*) => { $( #[cfg(unix)] $item )* };\n}\nunix_only! {\n    pub fn report() {\n        println!(\"child\");\n    }\n}\n";
    let main = "mod helpers;\nfn main() {\n    let _t = std::thread::spawn(|| loop {});\n    let pid = unsafe { libc::fork() };\n    if pid == 0 {\n        helpers::report();\n        unsafe { libc::_exit(0) }\n    }\n    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };\n}\n";
    let report = lint_bin(&[("/p/src/main.rs", main), ("/p/src/helpers.rs", helpers)]);
    let f = found(&report);
    assert!(
        f.contains(&("p/src/helpers.rs".into(), 6, "FL004")),
        "{f:#?}"
    );
}

#[test]
fn a_definition_handed_through_a_wrapper_is_seen_by_later_calls() {
    let lib = "macro_rules! wrap {\n    ($($item:item)*) => { $( #[cfg(unix)] $item )* };\n}\nwrap! {\n    macro_rules! gen { ($n:ident) => { pub fn $n() {} }; }\n}\ngen!(made_by_gen);\n";
    with_lib(lib, |cx, file| {
        assert_eq!(file.fns_named(cx, "made_by_gen").len(), 1);
    });
}
