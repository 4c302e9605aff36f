//! The async-signal-safety catalog: which calls a child may make between `fork` and
//! `exec`/`_exit` when the parent had other threads (or always, in a `pre_exec`
//! closure or after `vfork`).
//!
//! After `fork` in a multi-threaded process only the forking thread exists in the
//! child, and every lock another thread held — the allocator's, stdout's, the
//! environment's, a logger's — stays locked forever. POSIX therefore allows only the
//! async-signal-safe functions there (POSIX.1-2017, XSH 2.4.3). The catalog has three
//! answers:
//!
//! * **safe**: the POSIX list (through `libc` and `nix`), `_exit`, the exec family;
//! * **unsafe**, with the reason: allocation (`Box::new`, `vec!`, `String::from`,
//!   `to_string`, `collect`, `format!`), output macros (`println!` takes the stdout
//!   lock and formats), `CString::new`, locking, `std::env`, logging and tracing
//!   macros, `std::process::exit` (runs `atexit` handlers and flushes stdio),
//!   starting threads or commands, panics that format (`panic!("{x}")`,
//!   `assert_eq!`, `unwrap`/`expect`, which format a message on failure), and `?`
//!   that converts into an allocated error (`Box<dyn Error>`, `anyhow::Error`, `String`)
//!   or an error value that boxes its payload (`io::Error::new`, `io::Error::other`;
//!   `io::Error::last_os_error` does not);
//! * **unknown**: everything else. Unknown calls are not reported: a rule that cannot
//!   decide stays silent. Crate-local functions are not judged here; the call-graph
//!   walk looks inside them.
//!
//! The configuration's `unsafe-functions` adds paths or bare names to the unsafe set.

use super::resolve::{Canon, is};
use super::syntax;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Safe,
    Unsafe(&'static str),
    Unknown,
}

/// POSIX.1-2017 async-signal-safe functions (plus the Linux system calls commonly
/// used between fork and exec), reachable as `libc::NAME` or a `nix` wrapper.
pub const POSIX_SAFE: &[&str] = &[
    "_Exit",
    "_exit",
    "abort",
    "accept",
    "access",
    "alarm",
    "bind",
    "cfgetispeed",
    "cfgetospeed",
    "cfsetispeed",
    "cfsetospeed",
    "chdir",
    "chmod",
    "chown",
    "chroot",
    "clock_gettime",
    "close",
    "close_range",
    "closefrom",
    "connect",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "execl",
    "execle",
    "execlp",
    "execv",
    "execve",
    "execveat",
    "execvp",
    "execvpe",
    "faccessat",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fexecve",
    "fork",
    "fstat",
    "fstatat",
    "fsync",
    "ftruncate",
    "futimens",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getpeername",
    "getpgrp",
    "getpid",
    "getppid",
    "getrlimit",
    "getsockname",
    "getsockopt",
    "gettid",
    "getuid",
    "htonl",
    "htons",
    "ioctl",
    "kill",
    "killpg",
    "link",
    "linkat",
    "listen",
    "lseek",
    "lstat",
    "memccpy",
    "memchr",
    "memcmp",
    "memcpy",
    "memmove",
    "memset",
    "mkdir",
    "mkdirat",
    "mkfifo",
    "mkfifoat",
    "mknod",
    "mknodat",
    "mount",
    "nanosleep",
    "ntohl",
    "ntohs",
    "open",
    "openat",
    "pause",
    "personality",
    "pipe",
    "pipe2",
    "poll",
    "prctl",
    "pselect",
    "pthread_kill",
    "pthread_self",
    "pthread_sigmask",
    "raise",
    "read",
    "readlink",
    "readlinkat",
    "recv",
    "recvfrom",
    "recvmsg",
    "rename",
    "renameat",
    "rmdir",
    "sched_setaffinity",
    "select",
    "sem_post",
    "send",
    "sendmsg",
    "sendto",
    "setegid",
    "seteuid",
    "setgid",
    "setgroups",
    "setns",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "setsid",
    "setsockopt",
    "setuid",
    "shutdown",
    "sigaction",
    "sigaddset",
    "sigdelset",
    "sigemptyset",
    "sigfillset",
    "sigismember",
    "signal",
    "sigpending",
    "sigprocmask",
    "sigqueue",
    "sigsuspend",
    "sleep",
    "socket",
    "socketpair",
    "stat",
    "strlen",
    "symlink",
    "symlinkat",
    "syscall",
    "tcdrain",
    "tcflow",
    "tcflush",
    "tcgetattr",
    "tcgetpgrp",
    "tcsendbreak",
    "tcsetattr",
    "tcsetpgrp",
    "time",
    "times",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "unshare",
    "utimensat",
    "wait",
    "waitpid",
    "write",
    "writev",
    "readv",
    "isatty",
    "login_tty",
    "sched_yield",
];

/// C library functions that are documented as not async-signal-safe.
const LIBC_UNSAFE: &[(&str, &str)] = &[
    ("malloc", "allocates"),
    ("calloc", "allocates"),
    ("realloc", "allocates"),
    ("free", "frees memory (takes the allocator's lock)"),
    ("printf", "uses stdio, which takes locks and allocates"),
    ("fprintf", "uses stdio, which takes locks and allocates"),
    ("sprintf", "uses stdio formatting, which may allocate"),
    ("snprintf", "uses stdio formatting, which may allocate"),
    ("puts", "uses stdio, which takes locks"),
    ("fputs", "uses stdio, which takes locks"),
    ("perror", "uses stdio, which takes locks"),
    ("fopen", "allocates a stdio stream"),
    ("fclose", "uses stdio, which takes locks"),
    ("fflush", "uses stdio, which takes locks"),
    (
        "exit",
        "runs atexit handlers and flushes stdio; use `_exit`",
    ),
    ("atexit", "takes the atexit lock"),
    ("syslog", "takes the syslog lock and allocates"),
    ("openlog", "takes the syslog lock"),
    (
        "getenv",
        "reads the environment, which another thread may be changing",
    ),
    (
        "setenv",
        "changes the environment (takes its lock, allocates)",
    ),
    ("unsetenv", "changes the environment (takes its lock)"),
    ("putenv", "changes the environment (takes its lock)"),
    (
        "pthread_mutex_lock",
        "takes a lock another thread may have held at the fork",
    ),
    ("pthread_create", "starts a thread"),
    (
        "pthread_join",
        "joins a thread that does not exist in the child",
    ),
    ("dlopen", "takes the dynamic loader's lock and allocates"),
    ("dlsym", "takes the dynamic loader's lock"),
    ("getpwnam", "reads NSS databases (allocates, takes locks)"),
    ("getpwuid", "reads NSS databases (allocates, takes locks)"),
    ("getgrnam", "reads NSS databases (allocates, takes locks)"),
    (
        "getaddrinfo",
        "reads NSS databases (allocates, takes locks)",
    ),
    (
        "gethostbyname",
        "reads NSS databases (allocates, takes locks)",
    ),
    ("initgroups", "reads NSS databases (allocates, takes locks)"),
    ("system", "forks and waits, taking locks"),
    ("popen", "forks and allocates"),
    ("opendir", "allocates"),
    ("readdir", "may allocate"),
    ("strerror", "may allocate and is not reentrant"),
    ("localtime", "takes the timezone lock"),
    ("setlocale", "takes the locale lock and allocates"),
];

/// Rust paths that are not async-signal-safe.
const RUST_UNSAFE: &[(&str, &str)] = &[
    (
        "std::process::exit",
        "runs `atexit` handlers and the C library's exit-time cleanup, which are not async-signal-safe; leave with `libc::_exit`",
    ),
    (
        "std::thread::spawn",
        "starts a thread (allocates, takes locks)",
    ),
    (
        "std::thread::Builder::spawn",
        "starts a thread (allocates, takes locks)",
    ),
    (
        "std::env::var",
        "reads the environment under its lock and allocates",
    ),
    (
        "std::env::var_os",
        "reads the environment under its lock and allocates",
    ),
    (
        "std::env::vars",
        "reads the environment under its lock and allocates",
    ),
    (
        "std::env::vars_os",
        "reads the environment under its lock and allocates",
    ),
    (
        "std::env::set_var",
        "changes the environment under its lock and allocates",
    ),
    (
        "std::env::remove_var",
        "changes the environment under its lock",
    ),
    ("std::env::args", "allocates"),
    ("std::env::args_os", "allocates"),
    ("std::env::current_dir", "allocates"),
    ("std::env::temp_dir", "reads the environment and allocates"),
    ("std::ffi::CString::new", "allocates"),
    ("std::ffi::CString::from", "allocates"),
    ("std::ffi::OsString::from", "allocates"),
    ("std::string::String::from", "allocates"),
    ("std::string::String::with_capacity", "allocates"),
    ("std::vec::Vec::with_capacity", "allocates"),
    ("std::boxed::Box::new", "allocates"),
    ("std::rc::Rc::new", "allocates"),
    ("std::sync::Arc::new", "allocates"),
    ("std::path::PathBuf::from", "allocates"),
    ("std::collections::HashMap::with_capacity", "allocates"),
    (
        "std::process::Command::new",
        "allocates (and spawning forks again)",
    ),
    ("std::fs::read_to_string", "allocates"),
    ("std::fs::read", "allocates"),
    ("std::fs::read_dir", "allocates"),
    ("std::fs::canonicalize", "allocates"),
    ("std::io::Error::new", "boxes its payload (allocates)"),
    ("std::io::Error::other", "boxes its payload (allocates)"),
];

/// Bare constructor names that allocate whatever crate they come from.
const ALLOCATING_CONSTRUCTORS: &[(&str, &str)] = &[
    ("CString", "new"),
    ("String", "from"),
    ("String", "with_capacity"),
    ("Vec", "with_capacity"),
    ("Box", "new"),
    ("Rc", "new"),
    ("Arc", "new"),
    ("PathBuf", "from"),
    ("OsString", "from"),
];

/// Methods that allocate or panic with a formatted message, whatever the receiver.
const UNSAFE_METHODS: &[(&str, &str)] = &[
    ("to_string", "allocates"),
    ("to_owned", "allocates"),
    ("to_vec", "allocates"),
    ("to_string_lossy", "may allocate"),
    ("into_boxed_slice", "may allocate"),
    ("collect", "allocates"),
    ("push", "may allocate (grows the buffer)"),
    ("push_str", "may allocate (grows the buffer)"),
    ("extend", "may allocate (grows the buffer)"),
    ("extend_from_slice", "may allocate (grows the buffer)"),
    ("reserve", "allocates"),
    (
        "join",
        "allocates (or joins a thread that does not exist in the child)",
    ),
    ("concat", "allocates"),
    ("repeat", "allocates"),
    (
        "unwrap",
        "panics with a formatted message on failure (allocates, takes the stderr lock)",
    ),
    (
        "expect",
        "panics with a formatted message on failure (allocates, takes the stderr lock)",
    ),
    ("unwrap_err", "panics with a formatted message on failure"),
    ("expect_err", "panics with a formatted message on failure"),
    (
        "spawn",
        "starts a process or thread (allocates, takes locks)",
    ),
    ("output", "starts a process (allocates, takes locks)"),
    ("status", "starts a process (allocates, takes locks)"),
];

/// Macros that are never safe in a child.
const UNSAFE_MACROS: &[(&str, &str)] = &[
    ("println", "formats, allocates and takes the stdout lock"),
    ("print", "formats, allocates and takes the stdout lock"),
    ("eprintln", "formats and takes the stderr lock"),
    ("eprint", "formats and takes the stderr lock"),
    ("format", "allocates"),
    ("vec", "allocates"),
    ("dbg", "formats and takes the stderr lock"),
    ("assert_eq", "formats both values when it fails (allocates)"),
    ("assert_ne", "formats both values when it fails (allocates)"),
    (
        "debug_assert_eq",
        "formats both values when it fails (allocates)",
    ),
    (
        "debug_assert_ne",
        "formats both values when it fails (allocates)",
    ),
    ("anyhow", "allocates an error"),
    ("bail", "allocates an error"),
    ("eyre", "allocates an error"),
];

/// Logging and tracing macros: the logger takes locks and allocates.
const LOG_MACROS: &[&str] = &["trace", "debug", "info", "warn", "error", "log", "event"];
const LOG_CRATES: &[&str] = &["log", "tracing", "slog", "defmt"];

/// The catalog, with the configuration's additions.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    extra_unsafe: Vec<String>,
}

impl Catalog {
    pub fn new(extra_unsafe: &[String]) -> Catalog {
        Catalog {
            extra_unsafe: extra_unsafe.to_vec(),
        }
    }

    /// A call to a path (`candidates` from the resolver).
    pub fn call(&self, candidates: &[Canon]) -> Verdict {
        for c in candidates {
            if self
                .extra_unsafe
                .iter()
                .any(|p| is(c, p) || (!p.contains("::") && c.last() == Some(p)))
            {
                return Verdict::Unsafe("is listed as not async-signal-safe in the configuration");
            }
            if let Some((_, why)) = RUST_UNSAFE.iter().find(|(p, _)| is(c, p)) {
                return Verdict::Unsafe(why);
            }
            let root = c.first().map(String::as_str);
            let name = c.last().map(String::as_str).unwrap_or("");
            let is_c_binding = matches!(root, Some("libc"))
                || (root == Some("nix") && c.get(1).is_some_and(|s| s == "libc"));
            if is_c_binding {
                if let Some((_, why)) = LIBC_UNSAFE.iter().find(|(n, _)| *n == name) {
                    return Verdict::Unsafe(why);
                }
                if POSIX_SAFE.contains(&name) {
                    return Verdict::Safe;
                }
            }
            if root == Some("nix") && POSIX_SAFE.contains(&name) {
                return Verdict::Safe;
            }
            if c.len() >= 2 {
                let (ty, f) = (c[c.len() - 2].as_str(), name);
                if let Some((_, _)) = ALLOCATING_CONSTRUCTORS
                    .iter()
                    .find(|(t, m)| *t == ty && *m == f)
                {
                    return Verdict::Unsafe("allocates");
                }
            }
        }
        Verdict::Unknown
    }

    /// A method call, judged by its name alone.
    pub fn method(&self, name: &str) -> Verdict {
        if self
            .extra_unsafe
            .iter()
            .any(|p| !p.contains("::") && p == name)
        {
            return Verdict::Unsafe("is listed as not async-signal-safe in the configuration");
        }
        UNSAFE_METHODS
            .iter()
            .find(|(m, _)| *m == name)
            .map_or(Verdict::Unknown, |(_, why)| Verdict::Unsafe(why))
    }

    /// A macro invocation; `canon` is its resolved path, `args` its parsed arguments.
    pub fn macro_call(&self, canon: &[String], mac: &syn::Macro) -> Verdict {
        let name = syntax::macro_name(mac);
        let root = canon.first().map(String::as_str).unwrap_or("");
        if self
            .extra_unsafe
            .iter()
            .any(|p| p.strip_suffix('!').unwrap_or(p) == name)
        {
            return Verdict::Unsafe("is listed as not async-signal-safe in the configuration");
        }
        if let Some((_, why)) = UNSAFE_MACROS.iter().find(|(n, _)| *n == name) {
            return Verdict::Unsafe(why);
        }
        if LOG_MACROS.contains(&name.as_str()) && (canon.len() == 1 || LOG_CRATES.contains(&root)) {
            return Verdict::Unsafe("logs: the logger formats, allocates and takes locks");
        }
        if matches!(
            name.as_str(),
            "panic" | "unreachable" | "todo" | "unimplemented" | "assert" | "debug_assert"
        ) && formats(mac, &name)
        {
            return Verdict::Unsafe(
                "panics with a formatted message (allocates, takes the stderr lock)",
            );
        }
        if matches!(name.as_str(), "write" | "writeln") {
            if let Some(args) = syntax::macro_args(mac) {
                if args.first().is_some_and(writes_to_std_stream) {
                    return Verdict::Unsafe("formats and takes the stdout/stderr lock");
                }
            }
        }
        Verdict::Unknown
    }
}

/// Whether a panicking macro's message has arguments to format.
fn formats(mac: &syn::Macro, name: &str) -> bool {
    let Some(args) = syntax::macro_args(mac) else {
        return false;
    };
    let message_at = usize::from(matches!(name, "assert" | "debug_assert"));
    let rest: Vec<_> = args.iter().skip(message_at).collect();
    match rest.as_slice() {
        [] => false,
        [
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }),
        ] => s.value().contains('{'),
        _ => true,
    }
}

/// `io::stdout()`, `std::io::stderr().lock()`, …
fn writes_to_std_stream(e: &syn::Expr) -> bool {
    let root = syntax::chain_root(e);
    let root = match root {
        syn::Expr::Call(c) => &*c.func,
        other => other,
    };
    matches!(syntax::peel(root), syn::Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "stdout" || s.ident == "stderr"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Vec<Canon> {
        vec![s.split("::").map(String::from).collect()]
    }

    #[test]
    fn posix_list_through_libc_and_nix() {
        let c = Catalog::default();
        assert_eq!(c.call(&canon("libc::write")), Verdict::Safe);
        assert_eq!(c.call(&canon("nix::unistd::dup2")), Verdict::Safe);
        assert!(matches!(c.call(&canon("libc::malloc")), Verdict::Unsafe(_)));
        assert!(matches!(
            c.call(&canon("std::process::exit")),
            Verdict::Unsafe(_)
        ));
        assert_eq!(c.call(&canon("mycrate::helper")), Verdict::Unknown);
    }

    #[test]
    fn panics_only_unsafe_when_formatting() {
        let c = Catalog::default();
        let m = |s: &str| syn::parse_str::<syn::ExprMacro>(s).unwrap().mac;
        assert_eq!(
            c.macro_call(&["panic".into()], &m("panic!(\"boom\")")),
            Verdict::Unknown
        );
        assert!(matches!(
            c.macro_call(&["panic".into()], &m("panic!(\"boom {}\", x)")),
            Verdict::Unsafe(_)
        ));
        assert_eq!(
            c.macro_call(&["assert".into()], &m("assert!(x > 0)")),
            Verdict::Unknown
        );
        assert!(matches!(
            c.macro_call(&["assert".into()], &m("assert!(x > 0, \"x={x}\")")),
            Verdict::Unsafe(_)
        ));
        assert!(matches!(
            c.macro_call(&["info".into()], &m("info!(\"child\")")),
            Verdict::Unsafe(_)
        ));
    }

    #[test]
    fn configured_additions() {
        let c = Catalog::new(&["my_log".to_string(), "mycrate::alloc_thing".to_string()]);
        assert!(matches!(
            c.call(&canon("mycrate::alloc_thing")),
            Verdict::Unsafe(_)
        ));
        assert!(matches!(c.method("my_log"), Verdict::Unsafe(_)));
    }
}
