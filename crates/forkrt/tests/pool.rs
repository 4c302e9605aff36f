//! Issue 18: task results, `Pool`, `Queue` and `Pipe` under fork, spawn and
//! forkserver. A `harness = false` test like `scenarios.rs` (see
//! `common/mod.rs`): spawn and forkserver children re-enter this binary.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Scenario, child, child_with, ensure};
use forkrt::{Connection, Error, Pipe, Pool, Queue, StartMethod, get_context};

type R = Result<(), String>;

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

#[forkrt::task]
fn square(x: u64) -> u64 {
    x * x
}

#[forkrt::task]
fn describe(args: (u32, String)) -> String {
    format!("{}:{}", args.0, args.1)
}

#[forkrt::task]
fn panics_on(x: u64) -> u64 {
    if x % 10 == 3 {
        panic!("boom {x}");
    }
    x
}

/// Item 5 leaves its worker's process (a worker that dies mid-item).
#[forkrt::task]
fn dies_on_five(x: u64) -> u64 {
    if x == 5 {
        forkrt::exit(7);
    }
    x
}

/// Item 6 kills its own worker with SIGKILL (killed from outside mid-item).
#[forkrt::task]
fn killed_on_six(x: u64) -> u64 {
    if x == 6 {
        // SAFETY: a signal to this worker process.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    x
}

#[forkrt::task]
fn sleep_then(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

static INIT_VALUE: AtomicU64 = AtomicU64::new(0);

#[forkrt::task]
fn set_init(v: u64) {
    INIT_VALUE.store(v, Ordering::SeqCst);
}

/// (the initializer's value, this worker's pid)
#[forkrt::task]
fn init_and_pid(_: u64) -> (u64, u32) {
    (INIT_VALUE.load(Ordering::SeqCst), std::process::id())
}

#[forkrt::task]
fn produce(args: (Queue<(u32, u32)>, u32, u32)) {
    let (q, id, n) = args;
    for seq in 0..n {
        q.put((id, seq)).unwrap();
    }
}

/// Takes numbers from `work` until it sees `u64::MAX`, reports each to `out`.
#[forkrt::task]
fn consume(args: (Queue<u64>, Queue<(u32, u64)>)) {
    let (work, out) = args;
    loop {
        let x = work.get().unwrap();
        if x == u64::MAX {
            return;
        }
        out.put((std::process::id(), x)).unwrap();
    }
}

/// Echoes messages back, doubled, until a 0; then sends a large message.
#[forkrt::task]
fn echo(c: Connection<Vec<u64>>) {
    loop {
        let v = c.recv().unwrap();
        if v == [0] {
            break;
        }
        c.send(&v.iter().map(|x| x * 2).collect()).unwrap();
    }
    c.send(&(0..300_000).collect()).unwrap();
}

/// Receives a Connection through a queue and answers on it.
#[forkrt::task]
fn answer_through(q: Queue<Connection<String>>) {
    let c = q.get().unwrap();
    c.send(&format!("hello from {}", std::process::id()))
        .unwrap();
}

/// Puts `x * x` on the queue it is given (a queue inside a pool argument).
#[forkrt::task]
fn put_square(args: (Queue<u64>, u64)) -> u64 {
    args.0.put(args.1 * args.1).unwrap();
    args.1
}

/// Sends a greeting on the connection the initializer gave this worker.
#[forkrt::task]
fn greet_through(c: Connection<String>) {
    c.send(&format!("worker {} ready", std::process::id()))
        .unwrap();
}

fn pool(m: StartMethod, n: usize) -> Result<Pool, String> {
    get_context(m)
        .pool(n)
        .map_err(|x| format!("{m}: pool: {x}"))
}

macro_rules! per_method {
    ($body:ident => $fork:ident, $spawn:ident, $fs:ident) => {
        fn $fork() -> R {
            $body(StartMethod::Fork)
        }
        fn $spawn() -> R {
            $body(StartMethod::Spawn)
        }
        fn $fs() -> R {
            $body(StartMethod::Forkserver)
        }
    };
}

/// Results of map, imap (in order), apply and apply_async.
fn results(m: StartMethod) -> R {
    let p = pool(m, 3)?;
    let got = p.map(square, 0..100u64).map_err(e)?;
    ensure(
        got == (0..100u64).map(|x| x * x).collect::<Vec<_>>(),
        || format!("{m}: map {got:?}"),
    )?;
    let got: Vec<u64> = p
        .imap(square, 0..50u64)
        .collect::<forkrt::Result<_>>()
        .map_err(e)?;
    ensure(got == (0..50u64).map(|x| x * x).collect::<Vec<_>>(), || {
        format!("{m}: imap {got:?}")
    })?;
    ensure(
        p.apply(describe, (7, "seven".into())).map_err(e)? == "7:seven",
        || format!("{m}: apply"),
    )?;
    let a = p.apply_async(square, 12);
    let b = p.apply_async(describe, (1, "one".into()));
    ensure(
        b.get().map_err(e)? == "1:one" && a.get().map_err(e)? == 144,
        || format!("{m}: apply_async"),
    )?;
    ensure(
        p.map(square, Vec::<u64>::new()).map_err(e)?.is_empty(),
        || "empty map".into(),
    )?;
    p.close();
    p.join().map_err(e)?;
    ensure(common::zombie_children().is_empty(), || "zombies".into())
}
per_method!(results => fork_pool_results, spawn_pool_results, forkserver_pool_results);

/// A panic fails its own item only, with its message.
fn panics(m: StartMethod) -> R {
    let p = pool(m, 2)?;
    let got: Vec<forkrt::Result<u64>> = p.imap(panics_on, 0..30u64).collect();
    for (x, r) in got.iter().enumerate() {
        match r {
            Ok(v) if x % 10 != 3 && *v == x as u64 => {}
            Err(Error::TaskPanicked { message, .. }) if x % 10 == 3 => {
                ensure(message == &format!("boom {x}"), || {
                    format!("{m}: message {message}")
                })?
            }
            other => return Err(format!("{m}: item {x}: {other:?}")),
        }
    }
    match p.map(panics_on, [1u64, 3, 4]) {
        Err(Error::TaskPanicked { message, .. }) if message == "boom 3" => {}
        other => return Err(format!("{m}: map with a panic: {other:?}")),
    }
    // The pool still works.
    ensure(p.apply(square, 3).map_err(e)? == 9, || {
        "after panics".into()
    })
}
per_method!(panics => fork_pool_panics_fail_their_item_only, spawn_pool_panics_fail_their_item_only, forkserver_pool_panics_fail_their_item_only);

/// A worker that dies is replaced; its item fails, others do not.
fn dead_worker(m: StartMethod) -> R {
    let p = pool(m, 2)?;
    let before = p.worker_pids();
    let t = Instant::now();
    let got: Vec<forkrt::Result<u64>> = p
        .imap(dies_on_five, 0..4u64)
        .chain(p.imap(dies_on_five, [5u64]))
        .collect();
    ensure(t.elapsed() < Duration::from_secs(30), || {
        "took too long".into()
    })?;
    for (x, r) in got.iter().enumerate() {
        match r {
            Ok(v) if x != 4 && *v == x as u64 => {}
            Err(Error::WorkerDied { exitcode, .. }) if x == 4 => {
                ensure(*exitcode == Some(7), || {
                    format!("{m}: exit code {exitcode:?}")
                })?
            }
            other => return Err(format!("{m}: item {x}: {other:?}")),
        }
    }
    let after = p.worker_pids();
    ensure(after.len() == 2 && after != before, || {
        format!("{m}: workers {before:?} → {after:?}")
    })?;
    ensure(p.map(square, 0..10u64).map_err(e)?.len() == 10, || {
        "after a death".into()
    })?;
    // A worker killed by a signal in the middle of an item: that item fails with the
    // signal, the others do not, and the pool goes on.
    let got: Vec<forkrt::Result<u64>> = p.imap(killed_on_six, 4..8u64).collect();
    for (x, r) in (4..8u64).zip(&got) {
        match r {
            Ok(v) if x != 6 && *v == x => {}
            Err(Error::WorkerDied { exitcode, .. }) if x == 6 => {
                ensure(*exitcode == Some(-libc::SIGKILL), || {
                    format!("{m}: killed mid-item: exit code {exitcode:?}")
                })?
            }
            other => return Err(format!("{m}: killed mid-item: item {x}: {other:?}")),
        }
    }
    ensure(p.map(square, 0..10u64).map_err(e)?.len() == 10, || {
        "after a kill mid-item".into()
    })?;
    // A worker killed from outside while idle is replaced too.
    let victim = after[0];
    // SAFETY: killing our own pool worker.
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    // (Work sent to it before its death shows would fail with WorkerDied.)
    ensure(
        common::wait_until(Duration::from_secs(5), || common::is_dead(victim)),
        || "the victim survived".into(),
    )?;
    ensure(p.map(square, 0..20u64).map_err(e)?.len() == 20, || {
        "after a kill".into()
    })?;
    ensure(!p.worker_pids().contains(&victim), || {
        "the killed worker is still listed".into()
    })
}
per_method!(dead_worker => fork_pool_dead_worker_is_replaced, spawn_pool_dead_worker_is_replaced, forkserver_pool_dead_worker_is_replaced);

/// get_timeout, initializer, maxtasksperchild.
fn timeouts_and_builder(m: StartMethod) -> R {
    let p = pool(m, 1)?;
    let mut r = p.apply_async(sleep_then, 700);
    ensure(
        r.get_timeout(Duration::from_millis(50))
            .map_err(e)?
            .is_none(),
        || format!("{m}: ready too early"),
    )?;
    ensure(
        r.get_timeout(Duration::from_secs(30)).map_err(e)? == Some(700),
        || format!("{m}: get_timeout"),
    )?;
    drop(p);
    let p = forkrt::Pool::builder()
        .method(m)
        .processes(1)
        .initializer(set_init, 42u64)
        .maxtasksperchild(1)
        .build()
        .map_err(e)?;
    let mut pids = Vec::new();
    for i in 0..4u64 {
        let (v, pid) = p.apply(init_and_pid, i).map_err(e)?;
        ensure(v == 42, || {
            format!("{m}: the initializer did not run ({v})")
        })?;
        pids.push(pid);
    }
    pids.dedup();
    ensure(pids.len() == 4, || {
        format!("{m}: maxtasksperchild=1 reused a worker: {pids:?}")
    })
}
per_method!(timeouts_and_builder => fork_pool_timeouts_initializer_maxtasks, spawn_pool_timeouts_initializer_maxtasks, forkserver_pool_timeouts_initializer_maxtasks);

/// close, join, terminate; dropping terminates.
fn lifecycle(m: StartMethod) -> R {
    let p = pool(m, 2)?;
    let pids = p.worker_pids();
    p.close();
    ensure(
        matches!(p.map(square, [1u64]), Err(Error::PoolClosed)),
        || format!("{m}: map after close"),
    )?;
    p.join().map_err(e)?;
    ensure(pids.iter().all(|&pid| common::is_dead(pid)), || {
        format!("{m}: join left workers")
    })?;

    let p = pool(m, 1)?;
    let pending = p.apply_async(sleep_then, 20_000);
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    p.terminate();
    ensure(t.elapsed() < Duration::from_secs(5), || {
        "terminate waited for the work".into()
    })?;
    ensure(matches!(pending.get(), Err(Error::PoolClosed)), || {
        format!("{m}: pending after terminate")
    })?;

    let p = pool(m, 2)?;
    let pids = p.worker_pids();
    let _ = p.apply_async(sleep_then, 20_000);
    drop(p);
    ensure(
        common::wait_until(Duration::from_secs(5), || {
            pids.iter().all(|&pid| common::is_dead(pid))
        }),
        || format!("{m}: drop did not terminate the workers"),
    )?;
    ensure(common::zombie_children().is_empty(), || "zombies".into())
}
per_method!(lifecycle => fork_pool_close_join_terminate_drop, spawn_pool_close_join_terminate_drop, forkserver_pool_close_join_terminate_drop);

/// Three producers, one consumer: every message once, each producer's in order.
fn queue_order(m: StartMethod) -> R {
    let q = Queue::<(u32, u32)>::new().map_err(e)?;
    let n = 300u32;
    let mut ps = Vec::new();
    for id in 0..3 {
        let mut p = get_context(m).process(produce, (q.clone(), id, n));
        p.start().map_err(e)?;
        ps.push(p);
    }
    let mut next = [0u32; 3];
    for _ in 0..3 * n {
        let (id, seq) = q
            .get_timeout(Duration::from_secs(20))
            .map_err(e)?
            .ok_or_else(|| format!("{m}: queue ran dry at {next:?}"))?;
        ensure(seq == next[id as usize], || {
            format!(
                "{m}: producer {id} sent {seq}, expected {}",
                next[id as usize]
            )
        })?;
        next[id as usize] += 1;
    }
    for mut p in ps {
        p.join().map_err(e)?;
        ensure(p.exitcode() == Some(0), || {
            format!("{m}: producer exit {:?}", p.exitcode())
        })?;
    }
    ensure(
        q.get_timeout(Duration::from_millis(50))
            .map_err(e)?
            .is_none(),
        || "an extra message".into(),
    )
}
per_method!(queue_order => fork_queue_ordering_per_producer, spawn_queue_ordering_per_producer, forkserver_queue_ordering_per_producer);

/// Two consumer processes share a queue: each item is taken exactly once.
fn queue_consumers(m: StartMethod) -> R {
    let work = Queue::<u64>::new().map_err(e)?;
    let out = Queue::<(u32, u64)>::new().map_err(e)?;
    let mut ps = Vec::new();
    for _ in 0..2 {
        let mut p = get_context(m).process(consume, (work.clone(), out.clone()));
        p.start().map_err(e)?;
        ps.push(p);
    }
    // Both queues are bounded: feed from a thread while this one drains
    // `out`, or a full `out` would stop the consumers and a full `work` us.
    let feeder = {
        let work = work.clone();
        std::thread::spawn(move || -> forkrt::Result<()> {
            for x in 0..500u64 {
                work.put(x)?;
            }
            work.put(u64::MAX)?;
            work.put(u64::MAX)
        })
    };
    let mut seen = Vec::new();
    for _ in 0..500 {
        let (_, x) = out
            .get_timeout(Duration::from_secs(20))
            .map_err(e)?
            .ok_or("consumers stalled")?;
        seen.push(x);
    }
    feeder.join().map_err(|_| "feeder panicked")?.map_err(e)?;
    seen.sort_unstable();
    ensure(seen == (0..500).collect::<Vec<_>>(), || {
        format!("{m}: items lost or doubled")
    })?;
    for mut p in ps {
        p.join().map_err(e)?;
    }
    Ok(())
}
per_method!(queue_consumers => fork_queue_multiple_consumers, spawn_queue_multiple_consumers, forkserver_queue_multiple_consumers);

/// A pipe both ways, a large message, EOF when the other side is gone, and a
/// Connection sent through a Queue.
fn pipe(m: StartMethod) -> R {
    let (here, there) = Pipe::<Vec<u64>>::new().map_err(e)?;
    let mut p = get_context(m).process(echo, there);
    p.start().map_err(e)?;
    for v in [vec![1u64, 2, 3], (0..10_000).collect()] {
        here.send(&v).map_err(e)?;
        ensure(here.poll(Duration::from_secs(20)).map_err(e)?, || {
            "no answer".into()
        })?;
        let back = here.recv().map_err(e)?;
        ensure(back == v.iter().map(|x| x * 2).collect::<Vec<_>>(), || {
            format!("{m}: echo")
        })?;
    }
    here.send(&vec![0]).map_err(e)?;
    let big = here.recv().map_err(e)?;
    ensure(big.len() == 300_000 && big[299_999] == 299_999, || {
        format!("{m}: large message")
    })?;
    p.join().map_err(e)?;
    // The child's end is closed everywhere now (the parent's copy went to it).
    ensure(matches!(here.recv(), Err(Error::Disconnected)), || {
        format!("{m}: not disconnected")
    })?;

    let q = Queue::<Connection<String>>::new().map_err(e)?;
    let mut p = get_context(m).process(answer_through, q.clone());
    p.start().map_err(e)?;
    let (mine, theirs) = Pipe::<String>::new().map_err(e)?;
    q.put(theirs).map_err(e)?;
    let msg = mine
        .recv_timeout(Duration::from_secs(20))
        .map_err(e)?
        .ok_or("no answer through the passed connection")?;
    ensure(msg.starts_with("hello from "), || msg.clone())?;
    p.join().map_err(e)?;
    ensure(p.exitcode() == Some(0), || "exit".into())
}
per_method!(pipe => fork_pipe_both_ways_and_passed_through_a_queue, spawn_pipe_both_ways_and_passed_through_a_queue, forkserver_pipe_both_ways_and_passed_through_a_queue);

/// Queues and connections inside pool arguments and initializer arguments.
fn pool_channels(m: StartMethod) -> R {
    let q = Queue::<u64>::new().map_err(e)?;
    let p = pool(m, 2)?;
    let items: Vec<(Queue<u64>, u64)> = (0..20).map(|x| (q.clone(), x)).collect();
    ensure(
        p.map(put_square, items).map_err(e)? == (0..20).collect::<Vec<_>>(),
        || format!("{m}: results"),
    )?;
    let mut got: Vec<u64> = (0..20)
        .map(|_| {
            q.get_timeout(Duration::from_secs(20))
                .map_err(e)?
                .ok_or("queue ran dry".into())
        })
        .collect::<Result<_, String>>()?;
    got.sort_unstable();
    ensure(got == (0..20).map(|x| x * x).collect::<Vec<_>>(), || {
        format!("{m}: {got:?}")
    })?;
    drop(p);
    let (mine, theirs) = Pipe::<String>::new().map_err(e)?;
    let p = forkrt::Pool::builder()
        .method(m)
        .processes(2)
        .initializer(greet_through, theirs)
        .build()
        .map_err(e)?;
    for _ in 0..2 {
        let msg = mine
            .recv_timeout(Duration::from_secs(20))
            .map_err(e)?
            .ok_or("an initializer did not greet")?;
        ensure(msg.ends_with("ready"), || msg.clone())?;
    }
    drop(p);
    Ok(())
}
per_method!(pool_channels => fork_pool_queues_and_connections_as_arguments, spawn_pool_queues_and_connections_as_arguments, forkserver_pool_queues_and_connections_as_arguments);

fn queue_timeouts_and_limits() -> R {
    let q = Queue::<String>::new().map_err(e)?;
    let t = Instant::now();
    ensure(
        q.get_timeout(Duration::from_millis(100))
            .map_err(e)?
            .is_none(),
        || "not empty".into(),
    )?;
    ensure(t.elapsed() >= Duration::from_millis(90), || {
        "returned early".into()
    })?;
    // A message far over the inline size goes through a memfd.
    let big = "z".repeat(5 << 20);
    q.put(big.clone()).map_err(e)?;
    ensure(q.get().map_err(e)? == big, || "large message".into())?;
    // Back-pressure: with nobody reading, `put` blocks once the socket buffer is full
    // (unlike CPython's unbounded queue and its feeder thread), and goes on as soon as
    // messages are taken.
    const N: usize = 100_000;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let producer = {
        let (q, done) = (q.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..N {
                q.put(i.to_string()).map_err(e)?;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<(), String>(())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let blocked_at = done.load(std::sync::atomic::Ordering::Relaxed);
    ensure(blocked_at < N, || {
        format!("{N} puts with no reader never blocked")
    })?;
    for i in 0..N {
        let got = q.get().map_err(e)?;
        ensure(got == i.to_string(), || format!("message {i}: {got}"))?;
    }
    producer
        .join()
        .map_err(|_| "the producer panicked".to_string())??;
    // A queue cannot be encoded outside a forkrt message.
    let r = postcard::to_allocvec(&q);
    ensure(r.is_err(), || "a queue serialized on its own".into())
}

static SCENARIOS: &[Scenario] = &[
    child("fork_pool_results", fork_pool_results),
    child("spawn_pool_results", spawn_pool_results),
    child("forkserver_pool_results", forkserver_pool_results),
    child_with(
        "fork_pool_panics_fail_their_item_only",
        fork_pool_panics_fail_their_item_only,
        &[],
        None,
        60,
    ),
    child_with(
        "spawn_pool_panics_fail_their_item_only",
        spawn_pool_panics_fail_their_item_only,
        &[],
        None,
        60,
    ),
    child_with(
        "forkserver_pool_panics_fail_their_item_only",
        forkserver_pool_panics_fail_their_item_only,
        &[],
        None,
        60,
    ),
    child(
        "fork_pool_dead_worker_is_replaced",
        fork_pool_dead_worker_is_replaced,
    ),
    child(
        "spawn_pool_dead_worker_is_replaced",
        spawn_pool_dead_worker_is_replaced,
    ),
    child(
        "forkserver_pool_dead_worker_is_replaced",
        forkserver_pool_dead_worker_is_replaced,
    ),
    child(
        "fork_pool_timeouts_initializer_maxtasks",
        fork_pool_timeouts_initializer_maxtasks,
    ),
    child(
        "spawn_pool_timeouts_initializer_maxtasks",
        spawn_pool_timeouts_initializer_maxtasks,
    ),
    child(
        "forkserver_pool_timeouts_initializer_maxtasks",
        forkserver_pool_timeouts_initializer_maxtasks,
    ),
    child(
        "fork_pool_close_join_terminate_drop",
        fork_pool_close_join_terminate_drop,
    ),
    child(
        "spawn_pool_close_join_terminate_drop",
        spawn_pool_close_join_terminate_drop,
    ),
    child(
        "forkserver_pool_close_join_terminate_drop",
        forkserver_pool_close_join_terminate_drop,
    ),
    child(
        "fork_queue_ordering_per_producer",
        fork_queue_ordering_per_producer,
    ),
    child(
        "spawn_queue_ordering_per_producer",
        spawn_queue_ordering_per_producer,
    ),
    child(
        "forkserver_queue_ordering_per_producer",
        forkserver_queue_ordering_per_producer,
    ),
    child(
        "fork_queue_multiple_consumers",
        fork_queue_multiple_consumers,
    ),
    child(
        "spawn_queue_multiple_consumers",
        spawn_queue_multiple_consumers,
    ),
    child(
        "forkserver_queue_multiple_consumers",
        forkserver_queue_multiple_consumers,
    ),
    child(
        "fork_pipe_both_ways_and_passed_through_a_queue",
        fork_pipe_both_ways_and_passed_through_a_queue,
    ),
    child(
        "spawn_pipe_both_ways_and_passed_through_a_queue",
        spawn_pipe_both_ways_and_passed_through_a_queue,
    ),
    child(
        "forkserver_pipe_both_ways_and_passed_through_a_queue",
        forkserver_pipe_both_ways_and_passed_through_a_queue,
    ),
    child(
        "fork_pool_queues_and_connections_as_arguments",
        fork_pool_queues_and_connections_as_arguments,
    ),
    child(
        "spawn_pool_queues_and_connections_as_arguments",
        spawn_pool_queues_and_connections_as_arguments,
    ),
    child(
        "forkserver_pool_queues_and_connections_as_arguments",
        forkserver_pool_queues_and_connections_as_arguments,
    ),
    child(
        "queue_get_timeout_large_messages_and_encoding_outside_a_message",
        queue_timeouts_and_limits,
    ),
];

#[forkrt::main]
fn main() {
    common::main(SCENARIOS);
}
