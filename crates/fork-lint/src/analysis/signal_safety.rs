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
//! * **paths**: std functions that take a path (`File::open`, `fs::*`,
//!   `env::set_current_dir`) copy it into a stack buffer when it is shorter than 384
//!   bytes (std's `MAX_STACK_ALLOCATION`) and allocate a `CString` otherwise: a string
//!   literal shorter than that is safe, any other path may allocate;
//! * **by receiver**: `.clone()` allocates for the heap types (`String`, `Vec`, `Box`,
//!   `PathBuf`, the collections), `.insert()` for the collections; `.status()`,
//!   `.output()`, `.spawn()` start a process on a `Command` (or a receiver of unknown
//!   type), and are not judged on other types; `.exec()` on a `Command` builds the
//!   argument and environment blocks (allocates, takes the environment lock);
//! * **unknown**: everything else. Unknown calls are not reported: a rule that cannot
//!   decide stays silent. Crate-local functions are not judged here; the call-graph
//!   walk looks inside them.
//!
//! **Macros known by meaning** (the one table of other crates' macros):
//! `println!`/`print!`/`eprintln!`/`eprint!`/`dbg!` format and take the stdout or
//! stderr lock; `format!` allocates; `vec![]` allocates only with elements (`vec![]` is
//! `Vec::new()`); `log`/`tracing`/`slog`/`defmt` macros (`trace!`…`error!`, `log!`,
//! `event!`) format and take the logger's locks; `anyhow!`, `bail!`, `ensure!`, `eyre!`,
//! `format_err!` allocate an error; `panic!`, `unreachable!`, `todo!`, `unimplemented!`
//! panic (the panic hook takes the stderr lock; a message is formatted and boxed);
//! `assert!`/`debug_assert!` and the `_eq`/`_ne` forms panic when they fail (formatting
//! their operands); `write!`/`writeln!` to `io::stdout()`/`io::stderr()` format and take
//! the stream's lock. The package's own `macro_rules!` are not judged here: they are
//! expanded and their code is walked.
//!
//! **Functions of common crates** known to allocate or take locks: nix's
//! `unistd::initgroups`, `unistd::getgrouplist`, `User::from_name`/`from_uid`,
//! `Group::from_name`/`from_gid` (they read the user and group databases through NSS,
//! which allocates and takes locks: glibc's `initgroups(3)`, `getpwnam_r(3)`);
//! `serde_json::to_string`/`to_vec`/`to_writer`, `postcard::to_allocvec`/`to_stdvec`,
//! `bincode::serialize` (they build their output in allocated buffers).
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
    (
        "std::fs::remove_dir_all",
        "reads the directory tree (allocates)",
    ),
    ("std::fs::read_link", "allocates the link's target"),
    (
        "nix::unistd::initgroups",
        "reads the group database through NSS (allocates, takes locks)",
    ),
    (
        "nix::unistd::getgrouplist",
        "reads the group database through NSS (allocates, takes locks)",
    ),
    (
        "nix::unistd::User::from_name",
        "reads the user database through NSS (allocates, takes locks)",
    ),
    (
        "nix::unistd::User::from_uid",
        "reads the user database through NSS (allocates, takes locks)",
    ),
    (
        "nix::unistd::Group::from_name",
        "reads the group database through NSS (allocates, takes locks)",
    ),
    (
        "nix::unistd::Group::from_gid",
        "reads the group database through NSS (allocates, takes locks)",
    ),
    (
        "serde_json::to_string",
        "serializes into an allocated buffer",
    ),
    ("serde_json::to_vec", "serializes into an allocated buffer"),
    (
        "serde_json::to_writer",
        "serializes through allocated buffers",
    ),
    (
        "postcard::to_allocvec",
        "serializes into an allocated buffer",
    ),
    ("postcard::to_stdvec", "serializes into an allocated buffer"),
    ("bincode::serialize", "serializes into an allocated buffer"),
];

/// std functions that take a path as their first argument: the path is copied into a
/// stack buffer when it is shorter than [`PATH_STACK_BYTES`], and into an allocated
/// `CString` otherwise.
const PATH_FNS: &[&str] = &[
    "std::env::set_current_dir",
    "std::fs::File::open",
    "std::fs::File::create",
    "std::fs::File::create_new",
    "std::fs::create_dir",
    "std::fs::create_dir_all",
    "std::fs::remove_file",
    "std::fs::remove_dir",
    "std::fs::rename",
    "std::fs::copy",
    "std::fs::write",
    "std::fs::metadata",
    "std::fs::symlink_metadata",
    "std::fs::hard_link",
    "std::fs::set_permissions",
    "std::os::unix::fs::symlink",
    "std::os::unix::fs::chown",
    "std::os::unix::fs::lchown",
    "std::os::unix::fs::chroot",
];

/// std's `MAX_STACK_ALLOCATION`: shorter paths are converted on the stack.
pub const PATH_STACK_BYTES: usize = 384;

/// What a path function does with a path that may be long.
const PATH_WHY: &str = "copies its path into a stack buffer only when it is shorter than 384 bytes, and allocates a `CString` for a longer one; build the `CString` before the fork and call `libc::chdir`/`libc::open` on it";

/// Types whose `.clone()` allocates.
const HEAP_TYPES: &[&str] = &[
    "String",
    "Vec",
    "Box",
    "PathBuf",
    "OsString",
    "CString",
    "HashMap",
    "HashSet",
    "BTreeMap",
    "BTreeSet",
    "VecDeque",
    "BinaryHeap",
];

/// Collections whose `.insert()` may allocate.
const COLLECTIONS: &[&str] = &[
    "Vec", "HashMap", "HashSet", "BTreeMap", "BTreeSet", "VecDeque", "String",
];

/// Types whose `.status()`, `.output()`, `.spawn()` and `.exec()` run a program.
const COMMAND_TYPES: &[&str] = &["Command", "CommandExt"];

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
    ("ensure", "allocates an error when the condition fails"),
    ("eyre", "allocates an error"),
    ("format_err", "allocates an error"),
    (
        "panic",
        "panics: the panic hook takes the stderr lock, and the message is formatted and boxed",
    ),
    (
        "unreachable",
        "panics: the panic hook takes the stderr lock, and the message is formatted and boxed",
    ),
    (
        "todo",
        "panics: the panic hook takes the stderr lock, and the message is boxed",
    ),
    (
        "unimplemented",
        "panics: the panic hook takes the stderr lock, and the message is boxed",
    ),
    (
        "assert",
        "panics when it fails (the panic hook takes the stderr lock, the message is formatted)",
    ),
    (
        "debug_assert",
        "panics when it fails (the panic hook takes the stderr lock, the message is formatted)",
    ),
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

    /// A method call, judged by its name and, when the code says it, the receiver's type
    /// (last path segment).
    pub fn method_on(&self, name: &str, receiver: Option<&str>) -> Verdict {
        match (name, receiver) {
            ("clone", Some(ty)) if HEAP_TYPES.contains(&ty) => {
                return Verdict::Unsafe("allocates (clones a heap value)");
            }
            ("insert", Some(ty)) if COLLECTIONS.contains(&ty) => {
                return Verdict::Unsafe("may allocate (grows the collection)");
            }
            ("exec", Some(ty)) if COMMAND_TYPES.contains(&ty) => {
                return Verdict::Unsafe(
                    "builds the argument and environment blocks (allocates, takes the environment lock)",
                );
            }
            ("status" | "output" | "spawn", Some(ty))
                if !COMMAND_TYPES.contains(&ty) && ty != "Builder" =>
            {
                // Another type's method of the same name: not judged by name.
                return Verdict::Unknown;
            }
            _ => {}
        }
        self.method(name)
    }

    /// A call of a std function that takes a path: unsafe unless the path is a string
    /// literal short enough for std's stack buffer. `None` for other functions.
    pub fn path_call(
        &self,
        candidates: &[Canon],
        first_arg: Option<&syn::Expr>,
    ) -> Option<Verdict> {
        if !candidates.iter().any(|c| PATH_FNS.iter().any(|p| is(c, p))) {
            return None;
        }
        let literal = first_arg.and_then(short_literal);
        Some(match literal {
            Some(len) if len < PATH_STACK_BYTES => Verdict::Unknown,
            _ => Verdict::Unsafe(PATH_WHY),
        })
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
        if name == "vec" && !mac.tokens.is_empty() {
            return Verdict::Unsafe("allocates");
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

/// The length of a path argument that is a string literal (`"/dev/null"`,
/// `Path::new("/")`).
fn short_literal(e: &syn::Expr) -> Option<usize> {
    match syntax::peel(e) {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value().len()),
        syn::Expr::Call(c) if c.args.len() == 1 => {
            let syn::Expr::Path(p) = syntax::peel(&c.func) else {
                return None;
            };
            let segs = syntax::segments(&p.path);
            (segs.ends_with(&["Path".to_string(), "new".to_string()])
                || segs.ends_with(&["OsStr".to_string(), "new".to_string()]))
            .then(|| short_literal(&c.args[0]))
            .flatten()
        }
        _ => None,
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
    fn panics_and_vec_macros_by_meaning() {
        let c = Catalog::default();
        let m = |s: &str| syn::parse_str::<syn::ExprMacro>(s).unwrap().mac;
        let unsafe_ = |v: Verdict| matches!(v, Verdict::Unsafe(_));
        assert!(unsafe_(
            c.macro_call(&["panic".into()], &m("panic!(\"boom\")"))
        ));
        assert!(unsafe_(
            c.macro_call(&["assert".into()], &m("assert!(x > 0)"))
        ));
        assert!(unsafe_(
            c.macro_call(&["ensure".into()], &m("ensure!(x > 0, \"x\")"))
        ));
        assert!(unsafe_(
            c.macro_call(&["info".into()], &m("info!(\"child\")"))
        ));
        assert_eq!(
            c.macro_call(&["vec".into()], &m("vec![]")),
            Verdict::Unknown
        );
        assert!(unsafe_(c.macro_call(&["vec".into()], &m("vec![0; 4]"))));
    }

    #[test]
    fn paths_allocate_unless_short_literals() {
        let c = Catalog::default();
        let arg = |s: &str| syn::parse_str::<syn::Expr>(s).unwrap();
        let f = canon("std::fs::File::open");
        assert_eq!(
            c.path_call(&f, Some(&arg("\"/dev/null\""))),
            Some(Verdict::Unknown)
        );
        assert_eq!(
            c.path_call(&f, Some(&arg("std::path::Path::new(\"/\")"))),
            Some(Verdict::Unknown)
        );
        assert!(matches!(
            c.path_call(&f, Some(&arg("path"))),
            Some(Verdict::Unsafe(_))
        ));
        let long = format!("\"/{}\"", "x".repeat(400));
        assert!(matches!(
            c.path_call(&f, Some(&arg(&long))),
            Some(Verdict::Unsafe(_))
        ));
        assert_eq!(c.path_call(&canon("libc::open"), None), None);
    }

    #[test]
    fn methods_by_receiver_type() {
        let c = Catalog::default();
        assert!(matches!(
            c.method_on("clone", Some("String")),
            Verdict::Unsafe(_)
        ));
        assert_eq!(c.method_on("clone", Some("Pid")), Verdict::Unknown);
        assert_eq!(c.method_on("clone", None), Verdict::Unknown);
        assert!(matches!(
            c.method_on("status", Some("Command")),
            Verdict::Unsafe(_)
        ));
        assert_eq!(c.method_on("status", Some("Process")), Verdict::Unknown);
        assert!(matches!(c.method_on("status", None), Verdict::Unsafe(_)));
        assert!(matches!(
            c.method_on("exec", Some("Command")),
            Verdict::Unsafe(_)
        ));
        assert_eq!(c.method_on("exec", None), Verdict::Unknown);
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
