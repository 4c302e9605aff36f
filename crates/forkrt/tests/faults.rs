//! Issue 16: no runtime fault harms another process, no task runs twice.
//! One scenario per defect the adversarial review found; each failed before
//! its fix. A `harness = false` test like `scenarios.rs` (see
//! `common/mod.rs`): spawn and forkserver children re-enter this binary.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{Kind, Outcome, Scenario, child, child_with, ensure};
use forkrt::{Error, Process, StartMethod, get_context};
use serde::{Deserialize, Serialize};

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::Forkserver,
];
const SERIALIZING: [StartMethod; 2] = [StartMethod::Spawn, StartMethod::Forkserver];

type R = Result<(), String>;

#[forkrt::task]
fn empty(_: ()) {}

#[forkrt::task]
fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[forkrt::task]
fn takes_bytes(b: Vec<u8>) {
    std::hint::black_box(b);
}

/// Exits 0 if the string is `n` bytes of 'x'.
#[forkrt::task]
fn check_big(args: (usize, String)) {
    let b = args.1.as_bytes();
    if b.len() != args.0 || b.first() != Some(&b'x') || b.last() != Some(&b'x') {
        forkrt::exit(3);
    }
}

#[forkrt::task]
fn read_stdin(_: ()) {
    let target = std::fs::read_link("/proc/self/fd/0").unwrap_or_default();
    if target != std::path::Path::new("/dev/null") {
        eprintln!("stdin is {}", target.display());
        forkrt::exit(5);
    }
}

#[forkrt::task]
fn print_line(s: String) {
    println!("{s}");
}

/// Writes the child's working directory and its arguments (NUL-separated).
#[forkrt::task]
fn report_cwd_args(path: String) {
    let cwd = std::env::current_dir().unwrap();
    let args: Vec<String> = std::env::args().collect();
    std::fs::write(path, format!("{}\n{}", cwd.display(), args.join("\0"))).unwrap();
}

/// Sleeps, then creates `path`.
#[forkrt::task]
fn touch_after(args: (String, u64)) {
    std::thread::sleep(Duration::from_millis(args.1));
    std::fs::write(args.0, "done").unwrap();
}

/// Prints without a newline and leaves with `forkrt::exit(3)`.
#[forkrt::task]
fn exit_early(_: ()) {
    print!("PARTIAL-FROM-CHILD");
    forkrt::exit(3);
}

/// An argument whose decoding (in the forkserver child, after the server
/// forked it and before it answers) records itself and kills the server:
/// "the server died after forking the child but before replying".
struct KillsServerOnDecode(String);

impl Serialize for KillsServerOnDecode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for KillsServerOnDecode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let path = String::deserialize(d)?;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .unwrap();
        writeln!(f, "decoded in {}", std::process::id()).unwrap();
        // SAFETY: our parent is the forkserver (this task is only started by it).
        unsafe { libc::kill(libc::getppid(), libc::SIGKILL) };
        std::thread::sleep(Duration::from_secs(5));
        Ok(KillsServerOnDecode(path))
    }
}

#[forkrt::task]
fn kills_server(_: KillsServerOnDecode) {}

fn run<F, A>(m: StartMethod, f: F, a: A) -> Result<i32, String>
where
    F: FnOnce(A) + Send + 'static,
    A: Send + 'static,
{
    let mut p = get_context(m).process(f, a);
    p.start().map_err(|e| format!("{m}: start: {e}"))?;
    p.join().map_err(|e| format!("{m}: join: {e}"))?;
    p.exitcode()
        .ok_or_else(|| format!("{m}: no exit code after join"))
}

fn start(m: StartMethod, ms: u64) -> Result<Process, String> {
    let mut p = get_context(m).process(sleep_ms, ms);
    p.start().map_err(|e| format!("{m}: start: {e}"))?;
    Ok(p)
}

fn server_pid() -> Result<u32, String> {
    forkrt::__private::forkserver_pid().ok_or_else(|| "no forkserver".to_string())
}

fn open_fds_of(pid: u32) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

fn lowest_free(fds: &[i32]) -> i32 {
    (0..).find(|n| !fds.contains(n)).unwrap()
}

fn set_nofile(pid: u32, soft: u64) -> Result<libc::rlimit, String> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid pointer to an rlimit struct for the duration of the call.
    unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: valid pointers to rlimit structs for the duration of the call.
    let r = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    if r != 0 {
        return Err(format!("prlimit: {}", std::io::Error::last_os_error()));
    }
    Ok(old)
}

fn restore_nofile(pid: u32, old: libc::rlimit) {
    // SAFETY: as in set_nofile.
    unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &old, std::ptr::null_mut()) };
}

/// Status field (in KiB) from /proc/PID/status.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = &s[s.rfind(')').map_or(0, |i| i + 1)..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

// ---------------------------------------------------------------------------
// 1. A failed start fails that start only.
// ---------------------------------------------------------------------------

fn failed_start_leaves_other_children_running() -> R {
    let m = StartMethod::Forkserver;
    let mut a = start(m, 1500)?;
    let server = server_pid()?;
    // An argument over the limit (FORKRT_MAX_ARG_BYTES=1000000 here).
    let r = get_context(m)
        .process(takes_bytes, vec![7u8; 2 << 20])
        .start();
    ensure(matches!(r, Err(Error::ArgumentTooLarge { .. })), || {
        format!("over the limit: {r:?}")
    })?;
    // Descriptors exhausted in the client.
    let me = std::process::id();
    // The lowest free descriptor number is what the next open gets.
    let lowest = {
        use std::os::fd::AsRawFd;
        std::fs::File::open("/dev/null")
            .map_err(|e| e.to_string())?
            .as_raw_fd()
    };
    let old = set_nofile(me, lowest as u64)?;
    let r = get_context(m).process(empty, ()).start();
    restore_nofile(me, old);
    let msg = match &r {
        Err(e @ Error::ResourceLimit { .. }) => e.to_string(),
        other => return Err(format!("with EMFILE in the client: {other:?}")),
    };
    ensure(
        msg.contains("file descriptors") && msg.contains("ulimit -n"),
        || format!("message does not say what ran out and what to do: {msg}"),
    )?;
    ensure(server_pid()? == server, || "the server was replaced".into())?;
    a.join().map_err(|e| format!("A: {e}"))?;
    ensure(a.exitcode() == Some(0), || {
        format!("the running child A ended with {:?}", a.exitcode())
    })?;
    ensure(run(m, empty, ())? == 0, || "a later start".into())
}

// ---------------------------------------------------------------------------
// 2. At most once.
// ---------------------------------------------------------------------------

fn request_is_never_sent_twice() -> R {
    let m = StartMethod::Forkserver;
    ensure(run(m, empty, ())? == 0, || "warm-up".into())?;
    let scratch = common::scratch_dir("once");
    let dir = scratch.path();
    let log = dir.join("decoded").display().to_string();
    let r = get_context(m)
        .process(kills_server, KillsServerOnDecode(log.clone()))
        .start();
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    ensure(lines.lines().count() == 1, || {
        format!(
            "the request reached a child {} times:\n{lines}",
            lines.lines().count()
        )
    })?;
    match r {
        Err(Error::ForkserverUnavailable { reason }) => {
            ensure(reason.contains("not sent again"), || {
                format!("reason: {reason}")
            })?
        }
        other => return Err(format!("start: {other:?}")),
    }
    ensure(run(m, empty, ())? == 0, || {
        "the next start restarts the server".into()
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------
// 3. Mutual authentication; the socket directory is checked.
// ---------------------------------------------------------------------------

/// What an impostor listening on the socket path received.
#[derive(Debug, Default)]
struct Heard {
    after_challenge: usize,
    fds: usize,
}

fn impostor(listener: std::os::unix::net::UnixListener) -> Heard {
    use std::os::fd::AsRawFd;
    let mut heard = Heard::default();
    listener.set_nonblocking(false).unwrap();
    let Ok((mut s, _)) = listener.accept() else {
        return heard;
    };
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf); // HELLO, if the client sends one
    // A challenge frame in both the old (32-byte) and new (64-byte) shape.
    let mut frame = vec![b'F', b'K', 1, 0x20];
    frame.extend_from_slice(&64u32.to_le_bytes());
    frame.extend_from_slice(&[0x5a; 64]);
    let _ = s.write_all(&frame);
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        let mut fds = [0u8; 512];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: zeroed msghdr with valid iovec and control buffers.
        let n = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = fds.as_mut_ptr().cast();
            msg.msg_controllen = fds.len() as _;
            let n = libc::recvmsg(s.as_raw_fd(), &mut msg, 0);
            if msg.msg_controllen > 0 {
                heard.fds += 1;
            }
            n
        };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock {
                continue;
            }
            break;
        }
        heard.after_challenge += n as usize;
    }
    heard
}

fn client_authenticates_the_server() -> R {
    let m = StartMethod::Forkserver;
    ensure(run(m, empty, ())? == 0, || "warm-up".into())?;
    let server = server_pid()?;
    let path = forkrt::__private::forkserver_socket_path().map_err(|e| e.to_string())?;
    let moved = path.with_file_name("s.real");
    std::fs::rename(&path, &moved).map_err(|e| e.to_string())?;
    let listener = std::os::unix::net::UnixListener::bind(&path).map_err(|e| e.to_string())?;
    let t = std::thread::spawn(move || impostor(listener));
    // The connection this process authenticated before keeps going to the
    // real server (the impostor hears nothing of this start) ...
    ensure(run(m, empty, ())? == 0, || {
        "a start over the authenticated connection".into()
    })?;
    // ... and a new connection must first be proven.
    forkrt::__private::forkserver_disconnect();
    let r = get_context(m).process(empty, ()).start();
    let heard = t.join().map_err(|_| "impostor panicked")?;
    std::fs::remove_file(&path).map_err(|e| e.to_string())?;
    std::fs::rename(&moved, &path).map_err(|e| e.to_string())?;
    ensure(heard.after_challenge == 0 && heard.fds == 0, || {
        format!("the impostor received the request: {heard:?}")
    })?;
    match &r {
        Err(Error::ForkserverUnavailable { reason }) if reason.contains("did not prove") => {}
        other => return Err(format!("start through an impostor: {other:?}")),
    }
    // A socket directory others can write is refused before connecting.
    let dir = path.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| e.to_string())?;
    forkrt::__private::forkserver_disconnect();
    let r = get_context(m).process(empty, ()).start();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    match &r {
        Err(Error::ForkserverUnavailable { reason }) if reason.contains("open to other users") => {}
        other => return Err(format!("start with a 0777 socket directory: {other:?}")),
    }
    ensure(server_pid()? == server, || "the server was replaced".into())?;
    ensure(run(m, empty, ())? == 0, || "after the impostor".into())
}

/// A TMPDIR that other users can write (and is not sticky) is refused.
fn socket_base_writable_by_others_is_refused() -> R {
    let scratch = common::scratch_dir("opentmp");
    let base = scratch.path();
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| e.to_string())?;
    // SAFETY: single-threaded scenario process; the forkserver is not started yet.
    unsafe {
        std::env::set_var("TMPDIR", base);
        std::env::remove_var("XDG_RUNTIME_DIR");
    }
    let r = get_context(StartMethod::Forkserver)
        .process(empty, ())
        .start();
    match &r {
        Err(Error::ForkserverUnavailable { reason })
            if reason.contains("other users can write")
                && reason.contains(&*base.to_string_lossy()) => {}
        other => return Err(format!("TMPDIR mode 0777: {other:?}")),
    }
    // Sticky, like /tmp: others cannot replace our entries.
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o1777))
        .map_err(|e| e.to_string())?;
    ensure(run(StartMethod::Forkserver, empty, ())? == 0, || {
        "sticky TMPDIR".into()
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------
// 4. Unauthenticated peers get 256 bytes.
// ---------------------------------------------------------------------------

fn unauthenticated_peer_cannot_make_the_server_buffer() -> R {
    use std::os::unix::net::UnixStream;
    ensure(run(StartMethod::Forkserver, empty, ())? == 0, || {
        "warm-up".into()
    })?;
    let server = server_pid()?;
    let rss0 = status_kib(server, "VmRSS:").unwrap_or(0);
    let path = forkrt::__private::forkserver_socket_path().map_err(|e| e.to_string())?;
    let mut s = UnixStream::connect(&path).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut header = vec![b'F', b'K', 1, 0x26];
    header.extend_from_slice(&(512u32 << 20).to_le_bytes());
    let mut sent = 0usize;
    if s.write_all(&header).is_ok() {
        let chunk = vec![0u8; 64 << 10];
        while sent < (32 << 20) {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
    }
    let rss1 = status_kib(server, "VmRSS:").unwrap_or(0);
    // What the client could write is bounded by the kernel's socket buffer; what tells
    // the cap is that the server has closed the connection: the read ends at once.
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // (It may say why first: a REFUSED frame, then the end.)
    let mut answer = Vec::new();
    let closed = match std::io::Read::read_to_end(&mut s, &mut answer) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    ensure(closed, || {
        "the server kept the connection of a peer that announced a 512 MiB frame before authenticating".into()
    })?;
    ensure(sent < (4 << 20), || {
        format!("the server took {sent} bytes from an unauthenticated peer")
    })?;
    ensure(rss1 < rss0 + 4096, || {
        format!("server RSS {rss0} → {rss1} KiB")
    })?;
    ensure(server_pid()? == server, || "server replaced".into())?;
    ensure(run(StartMethod::Forkserver, empty, ())? == 0, || {
        "after the flood".into()
    })
}

// ---------------------------------------------------------------------------
// 5 and 15. EMFILE in the server: reported, no spin, keeps serving.
// ---------------------------------------------------------------------------

fn server_out_of_descriptors_reports_and_keeps_serving() -> R {
    let m = StartMethod::Forkserver;
    let mut a = start(m, 1500)?;
    let server = server_pid()?;
    let old = set_nofile(server, lowest_free(&open_fds_of(server)) as u64)?;
    let ticks0 = cpu_ticks(server);
    let t0 = Instant::now();
    let r = get_context(m).process(empty, ()).start();
    // Let a spinning server show itself.
    std::thread::sleep(Duration::from_millis(500));
    let busy = cpu_ticks(server) - ticks0;
    let wall = t0.elapsed();
    restore_nofile(server, old);
    let msg = match &r {
        Err(e @ Error::ResourceLimit { .. }) => e.to_string(),
        other => return Err(format!("start with the server out of fds: {other:?}")),
    };
    ensure(
        msg.contains("forkserver") && msg.contains("file descriptors") && msg.contains("ulimit -n"),
        || format!("message does not name what ran out and what to do: {msg}"),
    )?;
    ensure(!msg.contains("protocol error"), || {
        format!("message: {msg}")
    })?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = busy as f64 / hz;
    ensure(cpu < wall.as_secs_f64() / 2.0, || {
        format!("the server used {cpu:.2} s of CPU in {wall:?} (spinning)")
    })?;
    ensure(server_pid()? == server, || "server replaced".into())?;
    a.join().map_err(|e| format!("A: {e}"))?;
    ensure(a.exitcode() == Some(0), || {
        format!("A ended {:?}", a.exitcode())
    })?;
    ensure(run(m, empty, ())? == 0, || {
        "after the limit was restored".into()
    })
}

// ---------------------------------------------------------------------------
// 6. stdin is /dev/null in children of every method.
// ---------------------------------------------------------------------------

fn spawn_stdin_is_devnull_after_fork_cached_it() -> R {
    // Make fd 3 the lowest free descriptor, so that the runtime's cached
    // /dev/null lands on it (as it did for the review).
    // SAFETY: fcntl/dup2/close on descriptor numbers of this test process.
    unsafe {
        if libc::fcntl(3, libc::F_GETFD) != -1 {
            libc::dup2(3, 200);
            libc::close(3);
        }
    }
    ensure(run(StartMethod::Fork, empty, ())? == 0, || "fork".into())?;
    let fd3 = std::fs::read_link("/proc/self/fd/3").unwrap_or_default();
    eprintln!("fd 3 after a fork start: {}", fd3.display());
    for m in METHODS {
        ensure(run(m, read_stdin, ())? == 0, || {
            format!("{m}: stdin is not /dev/null")
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 7. The handshake deadline does not count the argument transfer.
// ---------------------------------------------------------------------------

fn large_argument_is_not_a_handshake_timeout() -> R {
    let n = 512 << 20;
    for m in SERIALIZING {
        let big = "x".repeat(n);
        let code = run(m, check_big, (n, big))?;
        ensure(code == 0, || format!("{m}: exit {code}"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 8. A size limit before any child starts; no doubled prefixes.
// ---------------------------------------------------------------------------

fn argument_over_the_limit_fails_before_any_child() -> R {
    ensure(forkrt::max_arg_bytes() == 1_000_000, || {
        format!(
            "limit from FORKRT_MAX_ARG_BYTES: {}",
            forkrt::max_arg_bytes()
        )
    })?;
    for m in SERIALIZING {
        let mut p = get_context(m).process(takes_bytes, vec![1u8; 2_000_000]);
        match p.start() {
            Err(e @ Error::ArgumentTooLarge { size, limit, .. }) => {
                ensure(size > 2_000_000 && limit == 1_000_000, || {
                    format!("{size} {limit}")
                })?;
                let msg = e.to_string();
                ensure(
                    msg.contains("takes_bytes") && msg.contains("FORKRT_MAX_ARG_BYTES"),
                    || msg.clone(),
                )?;
            }
            other => return Err(format!("{m}: {other:?}")),
        }
        ensure(p.pid().is_none(), || "a child was started".into())?;
    }
    ensure(common::zombie_children().is_empty(), || "zombies".into())?;
    forkrt::set_max_arg_bytes(4_000_000);
    for m in SERIALIZING {
        ensure(run(m, takes_bytes, vec![1u8; 2_000_000])? == 0, || {
            format!("{m}: under the raised limit")
        })?;
    }
    Ok(())
}

fn error_messages_have_no_doubled_prefixes() -> R {
    use forkrt::__private::{REQUEST_KIND, forkserver_raw, frame, request_frame_for, spawn_raw};
    let mut messages = Vec::new();
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"garbage, not a frame".to_vec(), vec![]),
        (frame(REQUEST_KIND, &[0xff; 40]), vec![]),
        (frame(0x77, &[]), vec![]),
        (
            request_frame_for(&takes_bytes, 3).unwrap(),
            vec![0xff, 0xff, 0xff],
        ),
    ];
    for (envelope, args) in &cases {
        if let Err(e) = spawn_raw(envelope, args) {
            messages.push(e.to_string());
        }
        if let Err(e) = forkserver_raw(envelope, args) {
            messages.push(e.to_string());
        }
    }
    ensure(messages.len() == 2 * cases.len(), || {
        format!("{messages:#?}")
    })?;
    for msg in &messages {
        for prefix in [
            "forkrt protocol error",
            "protocol error: protocol error",
            "the forkserver is unavailable",
            "cannot transfer the arguments",
            "cannot deserialize",
        ] {
            ensure(msg.matches(prefix).count() <= 1, || {
                format!("doubled {prefix:?} in: {msg}")
            })?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 9. A child of a dead forkserver reads as ended.
// ---------------------------------------------------------------------------

fn child_of_a_dead_forkserver_reads_ended() -> R {
    let p = start(StartMethod::Forkserver, 30_000)?;
    let server = server_pid()?;
    // SAFETY: killing the forkserver, our own child.
    unsafe { libc::kill(server as i32, libc::SIGKILL) };
    ensure(
        common::wait_until(Duration::from_secs(10), || !p.is_alive()),
        || "the child still reads alive after its server died".into(),
    )?;
    ensure(p.exitcode() == Some(255), || {
        format!("exitcode {:?} (CPython reports 255)", p.exitcode())
    })
}

// ---------------------------------------------------------------------------
// 10. Runtime channels never take descriptors 0–2.
// ---------------------------------------------------------------------------

fn closed_stdout_never_carries_protocol() -> R {
    // With the forkserver and the runtime's cached descriptors in place, the
    // next descriptor the runtime makes (a forkserver connection, a spawn
    // channel) takes the lowest free number: 1 once stdout is closed.
    for m in METHODS {
        ensure(run(m, empty, ())? == 0, || format!("{m}: warm-up"))?;
    }
    // SAFETY: closing this process's stdout on purpose.
    unsafe { libc::close(1) };
    for m in METHODS {
        let code = run(m, print_line, format!("hello from {m}"))?;
        ensure(code == 0, || format!("{m}: exit {code}"))?;
    }
    let fd1 = std::fs::read_link("/proc/self/fd/1").unwrap_or_default();
    ensure(fd1 == std::path::Path::new("/dev/null"), || {
        format!("fd 1 is {}", fd1.display())
    })
}

// ---------------------------------------------------------------------------
// 11. Children run in the caller's cwd and see its argv.
// ---------------------------------------------------------------------------

fn children_see_the_callers_cwd_and_argv() -> R {
    ensure(run(StartMethod::Forkserver, empty, ())? == 0, || {
        "warm-up".into()
    })?;
    let scratch = common::scratch_dir("cwd");
    let dir = scratch.path();
    std::env::set_current_dir(dir).map_err(|e| e.to_string())?;
    let dir = std::env::current_dir().map_err(|e| e.to_string())?;
    let args: Vec<String> = std::env::args().collect();
    for m in METHODS {
        let out = dir.join(format!("report-{m}")).display().to_string();
        ensure(run(m, report_cwd_args, out.clone())? == 0, || {
            format!("{m}: exit")
        })?;
        let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
        let (cwd, argv) = text.split_once('\n').unwrap_or_default();
        ensure(cwd == dir.display().to_string(), || {
            format!("{m}: child ran in {cwd}, the caller in {}", dir.display())
        })?;
        ensure(argv == args.join("\0"), || {
            format!(
                "{m}: child saw {:?}, the caller has {args:?}",
                argv.split('\0').collect::<Vec<_>>()
            )
        })?;
    }
    std::env::set_current_dir("/").map_err(|e| e.to_string())?;
    Ok(())
}

// ---------------------------------------------------------------------------
// 12. Returning from main joins children (and terminates daemons).
// ---------------------------------------------------------------------------

/// Helper: drops an unjoined child and a daemon child per method, each
/// creating its marker after 300 ms, then returns (the program ends).
fn drop_children_and_return() -> R {
    let dir = std::env::var("MARKER_DIR").map_err(|e| e.to_string())?;
    for m in METHODS {
        let mut p = get_context(m).process(touch_after, (format!("{dir}/{m}"), 300u64));
        p.start().map_err(|e| e.to_string())?;
        let mut d = get_context(m)
            .process(touch_after, (format!("{dir}/{m}-daemon"), 300u64))
            .daemon(true);
        d.start().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn returning_from_main_joins_children() -> R {
    let scratch = common::scratch_dir("atexit");
    let dir = scratch.path();
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--forkrt-scenario", "drop_children_and_return"])
        .env("MARKER_DIR", dir);
    let mut child = common::spawn_grouped(&mut cmd);
    let o = common::wait_child(&mut child, Duration::from_secs(30));
    ensure(o.status.is_some_and(|s| s.success()), || o.describe())?;
    for m in METHODS {
        ensure(dir.join(m.to_string()).exists(), || {
            format!(
                "{m}: the non-daemon child's work was lost\n{}",
                o.describe()
            )
        })?;
        ensure(!dir.join(format!("{m}-daemon")).exists(), || {
            format!("{m}: the daemon child was not terminated")
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 13. forkrt::exit: flushes, and runs no atexit handler of the parent.
// ---------------------------------------------------------------------------

extern "C" fn announce_atexit() {
    eprintln!("ATEXIT-HANDLER-RAN in {}", std::process::id());
}

fn forkrt_exit_skips_the_parents_atexit_handlers() -> R {
    // SAFETY: registering a plain extern "C" function.
    unsafe { libc::atexit(announce_atexit) };
    for m in METHODS {
        ensure(run(m, exit_early, ())? == 3, || format!("{m}: exit code"))?;
    }
    Ok(())
}

fn check_atexit_once(o: &Outcome) -> R {
    // The scenario process's own exit runs it once; no child may.
    ensure(o.stderr.matches("ATEXIT-HANDLER-RAN").count() == 1, || {
        "atexit handler count".into()
    })?;
    ensure(o.stdout.matches("PARTIAL-FROM-CHILD").count() == 3, || {
        "forkrt::exit did not flush stdout".into()
    })
}

// ---------------------------------------------------------------------------
// 14. The forkserver never holds an argument.
// ---------------------------------------------------------------------------

fn server_never_holds_an_argument() -> R {
    let m = StartMethod::Forkserver;
    ensure(run(m, empty, ())? == 0, || "warm-up".into())?;
    let server = server_pid()?;
    let peak0 = status_kib(server, "VmHWM:").ok_or("no VmHWM")?;
    let n = 200 << 20;
    ensure(run(m, check_big, (n, "x".repeat(n)))? == 0, || {
        "big start".into()
    })?;
    let peak1 = status_kib(server, "VmHWM:").ok_or("no VmHWM")?;
    ensure(peak1 < peak0 + 16 * 1024, || {
        format!("the server's peak memory grew {peak0} → {peak1} KiB for a 200 MiB argument")
    })?;
    ensure(server_pid()? == server, || "server replaced".into())
}

static SCENARIOS: &[Scenario] = &[
    child_with(
        "failed_forkserver_start_leaves_other_children_running",
        failed_start_leaves_other_children_running,
        &[("FORKRT_MAX_ARG_BYTES", "1000000")],
        None,
        60,
    ),
    child(
        "forkserver_request_is_never_sent_twice",
        request_is_never_sent_twice,
    ),
    child(
        "client_authenticates_the_forkserver",
        client_authenticates_the_server,
    ),
    child(
        "socket_base_writable_by_others_is_refused",
        socket_base_writable_by_others_is_refused,
    ),
    child(
        "unauthenticated_peer_cannot_make_the_server_buffer",
        unauthenticated_peer_cannot_make_the_server_buffer,
    ),
    child(
        "forkserver_out_of_descriptors_reports_and_keeps_serving",
        server_out_of_descriptors_reports_and_keeps_serving,
    ),
    child_with(
        "spawn_stdin_is_devnull_after_fork_cached_it",
        spawn_stdin_is_devnull_after_fork_cached_it,
        &[("FORKRT_NO_FORK_WARNING", "1")],
        None,
        60,
    ),
    child_with(
        "large_argument_is_not_a_handshake_timeout",
        large_argument_is_not_a_handshake_timeout,
        &[("FORKRT_HANDSHAKE_TIMEOUT_MS", "500")],
        None,
        120,
    ),
    child_with(
        "argument_over_the_limit_fails_before_any_child",
        argument_over_the_limit_fails_before_any_child,
        &[("FORKRT_MAX_ARG_BYTES", "1000000")],
        None,
        60,
    ),
    child_with(
        "error_messages_have_no_doubled_prefixes",
        error_messages_have_no_doubled_prefixes,
        &[("FORKRT_HANDSHAKE_TIMEOUT_MS", "1000")],
        None,
        60,
    ),
    child(
        "child_of_a_dead_forkserver_reads_ended",
        child_of_a_dead_forkserver_reads_ended,
    ),
    child(
        "closed_stdout_never_carries_protocol",
        closed_stdout_never_carries_protocol,
    ),
    child(
        "children_see_the_callers_cwd_and_argv",
        children_see_the_callers_cwd_and_argv,
    ),
    Scenario {
        name: "returning_from_main_joins_children",
        kind: Kind::Driver(returning_from_main_joins_children),
    },
    Scenario {
        name: "drop_children_and_return",
        kind: Kind::Helper(drop_children_and_return),
    },
    child_with(
        "forkrt_exit_skips_the_parents_atexit_handlers",
        forkrt_exit_skips_the_parents_atexit_handlers,
        &[],
        Some(check_atexit_once),
        60,
    ),
    child(
        "forkserver_never_holds_an_argument",
        server_never_holds_an_argument,
    ),
];

#[forkrt::main]
fn main() {
    common::main(SCENARIOS);
}
