//! The entry guard: `forkrt::init()` and what `#[forkrt::main]` inserts.
//!
//! In an ordinary run it only records that the guard ran. In a process
//! started by spawn (or the forkserver itself) it takes over: it reads the
//! task from the inherited channel, answers the handshake, runs the task and
//! exits — `main`'s own body never runs there.

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::Error;
use crate::registry;
use crate::state::{self, GUARD_DONE, ROLE_ENV, RtFd};
use crate::sys::{self, Pid};
use crate::wire::{self, ChildRequest, ErrorReport, FrameReader, Read, errcode, kind};

/// The entry guard. Call it as the very first statement of `main` (or put
/// `#[forkrt::main]` on `main`, which does exactly that).
///
/// * In the main program it marks the process as bootstrapped, registers an exit
///   handler and returns. The handler runs when the program ends normally (return from
///   `main`, or `std::process::exit`), as CPython's does: it terminates the daemon
///   children still running and waits for the other children whose `Process` was
///   dropped without a join. (`forkrt::exit` and a signal skip it.)
/// * In a child started by the `spawn` method it runs the requested task and
///   exits (code 0, or 1 after a panic) — it never returns there.
/// * In the forkserver process it runs the server and never returns.
///
/// Code before the guard runs in every spawned child too, which is why it
/// must come first: a child that does not reach the guard within the
/// handshake timeout is killed, and one that tries to start processes
/// before it gets [`Error::Bootstrapping`].
pub fn init() {
    match std::env::var_os(ROLE_ENV) {
        None => {
            if !GUARD_DONE.swap(true, Ordering::AcqRel) {
                // As CPython's exit handler: when the program ends normally
                // (return from main, or `exit`), join the children whose
                // `Process` was dropped unjoined, after terminating daemons.
                // SAFETY: registering a plain extern "C" function.
                unsafe { libc::atexit(join_children_at_exit) };
            }
        }
        Some(role) => child_main(&role.to_string_lossy()),
    }
}

extern "C" fn join_children_at_exit() {
    // Never unwind into the C library.
    let _ = std::panic::catch_unwind(state::join_children);
}

/// True if this process was started by spawn and has not reached its guard
/// yet: starting processes now would run pre-guard code recursively.
pub(crate) fn bootstrapping() -> bool {
    !GUARD_DONE.load(Ordering::Acquire) && std::env::var_os(ROLE_ENV).is_some()
}

fn child_main(role: &str) -> ! {
    // kind:fd:ppid:name (the name, last, may contain ':').
    let mut parts = role.splitn(4, ':');
    let (Some(kind), Some(fd), Some(ppid), Some(name)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bad_role(role)
    };
    let (Ok(fd), Ok(ppid)) = (fd.parse::<i32>(), ppid.parse::<Pid>()) else {
        bad_role(role)
    };
    if fd < 3 || !matches!(kind, "spawn" | "spawn-watched" | "forkserver") {
        bad_role(role);
    }
    // The marker must not leak into processes this child starts with
    // std::process::Command (they would take it for their own role).
    //
    // SAFETY: the guard runs as the first statement of main, before the
    // program starts threads, so no other thread can be reading the
    // environment concurrently (Rust-side readers take std's env lock anyway).
    unsafe { std::env::remove_var(ROLE_ENV) };
    // SAFETY: `fd` is the channel our parent made inheritable for us alone;
    // nothing else in this fresh process owns it.
    let chan = match RtFd::one(|| Ok(unsafe { OwnedFd::from_raw_fd(fd) })) {
        Ok(c) => c,
        Err(_) => sys::exit_now(1),
    };
    if sys::set_cloexec(chan.raw(), true).is_err()
        || sys::set_nonblocking(chan.raw(), true).is_err()
    {
        eprintln!("forkrt: spawned child: the channel fd {fd} is not open");
        std::process::exit(1);
    }
    GUARD_DONE.store(true, Ordering::Release);
    name_after_binary(name);
    if kind == "forkserver" {
        // The server outlives no parent: it leaves when the channel reaches
        // EOF, which works whichever thread of the parent started it.
        crate::forkserver::serve(chan)
    }
    // A child started from the parent's main thread dies with it by
    // PDEATHSIG; one started from another thread (which may end long before
    // the process) dies when the parent's end of the channel closes.
    if kind == "spawn" && !sys::die_with_parent(ppid) {
        // Our parent died before we got here; nobody wants our result.
        std::process::exit(1);
    }
    spawned_child(chan, kind == "spawn-watched")
}

/// We exec `/proc/self/exe`, so the kernel names the child "exe"; give it
/// the binary's own name back for ps, top and killall (the parent sends it:
/// see [`binary_name`]).
fn name_after_binary(base: &str) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // comm holds 15 bytes plus NUL.
        let mut name = [0u8; 16];
        let n = base.len().min(15);
        name[..n].copy_from_slice(&base.as_bytes()[..n]);
        // SAFETY: PR_SET_NAME reads a NUL-terminated buffer of ≤ 16 bytes.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = base;
}

/// The name of this process's binary (looked up once): what its spawned
/// children call themselves.
pub(crate) fn binary_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|b| b.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "forkrt".to_string())
    })
}

fn bad_role(role: &str) -> ! {
    eprintln!("forkrt: malformed {ROLE_ENV}={role:?} (this variable is internal to forkrt)");
    std::process::exit(2)
}

fn report(chan: &RtFd, code: u8, task: &str, message: String) {
    let r = ErrorReport {
        code,
        task: task.to_string(),
        pid: sys::getpid() as u32,
        message,
    };
    let deadline = Some(Instant::now() + state::handshake_timeout());
    let _ = wire::write_all(chan.raw(), &wire::frame(kind::ERROR, &r), deadline);
}

fn spawned_child(chan: RtFd, watched: bool) -> ! {
    let timeout = state::handshake_timeout();
    let deadline = Some(Instant::now() + timeout);
    let mut reader = FrameReader::default();
    let mut fds = Vec::new();
    let req: ChildRequest = match wire::read_frame_fds(chan.raw(), &mut reader, deadline, &mut fds)
    {
        Ok(Read::Frame(kind::REQUEST, payload)) => match wire::decode("request", &payload) {
            Ok(r) => r,
            Err(e) => fail(&chan, errcode::PROTOCOL, "", e),
        },
        Ok(Read::Frame(k, _)) => fail(
            &chan,
            errcode::PROTOCOL,
            "",
            Error::protocol(format!("expected a request, got frame kind {k:#x}")),
        ),
        Ok(Read::Eof) => std::process::exit(1), // the parent gave up on us
        Ok(Read::Timeout) => fail(
            &chan,
            errcode::PROTOCOL,
            "",
            Error::protocol("no request from the parent within the handshake timeout"),
        ),
        Err(e) => fail(&chan, errcode::PROTOCOL, "", e),
    };
    if req.fingerprint != registry::fingerprint() {
        fail(
            &chan,
            errcode::PROTOCOL,
            &req.task,
            Error::protocol(
                "the child runs a different build of this program (task registry fingerprint \
                 differs); was the binary replaced on disk?",
            ),
        );
    }
    let Some(entry) = registry::by_name(&req.task, &req.site) else {
        fail(
            &chan,
            errcode::NOT_REGISTERED,
            &req.task,
            Error::protocol(format!("no task `{}` registered at {}", req.task, req.site)),
        )
    };
    // The argument follows the envelope; its transfer has a deadline on
    // progress, not on the whole (a large argument takes what it takes).
    let args = match wire::read_args(chan.raw(), &mut reader, req.args_len, timeout) {
        Ok(a) => a,
        Err(e) => fail(&chan, errcode::PROTOCOL, &req.task, e),
    };
    let call = match crate::codec::decoding_with_fds(fds, || (entry.decode)(&args)) {
        Ok(call) => call,
        Err(e) => fail(&chan, errcode::DECODE, &req.task, e),
    };
    drop(args);
    {
        let mut rt = state::rt();
        let me = state::Identity {
            name: Some(req.name),
            ident: state::Ident::from_slice(&req.ident),
            daemon: req.daemon,
        };
        let parent = state::Identity::named(req.parent_name);
        state::become_child(&mut rt, me, Some(parent), req.parent_pid);
    }
    let ready = wire::frame_raw(kind::READY, &[]);
    if !matches!(
        wire::write_all(chan.raw(), &ready, Some(Instant::now() + timeout)),
        Ok(true)
    ) {
        std::process::exit(1);
    }
    if watched {
        // The channel stays open for the child's life: its other end is the
        // parent's, and its hang-up is the death signal.
        if !sys::die_when_closed(chan.raw()) {
            std::process::exit(1);
        }
        std::mem::forget(chan);
    } else {
        drop(chan);
    }
    // stdin is already /dev/null: the spawn set it up.
    let code = crate::fork::run_task(call);
    // As CPython's children do after their target: join our own children.
    state::join_children();
    // A spawned child is a fresh program: leave through exit(3) so that its
    // own atexit handlers run, as CPython's spawned children do.
    std::process::exit(code)
}

/// Reports `err` to the parent and on stderr, then exits with code 1.
fn fail(chan: &RtFd, code: u8, task: &str, err: Error) -> ! {
    report(chan, code, task, err.detail());
    eprintln!("forkrt: spawned child: {err}");
    crate::fork::flush_stdio();
    std::process::exit(1)
}
