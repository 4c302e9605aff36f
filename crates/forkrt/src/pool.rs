//! `Pool`: Python's `multiprocessing.Pool`, under fork, spawn and forkserver.
//!
//! Each worker is a daemon [`Process`] running [`pool_worker`] with its own
//! SEQPACKET connection to the pool; the pool sends it one chunk of items
//! at a time and gets one record of results back. A private connection per
//! worker (rather than CPython's shared task queue) tells the pool exactly
//! which items a dead worker had, so exactly those fail. The pool has no
//! thread: whoever waits (`map`, `AsyncResult::get`, the `imap` iterator)
//! drives it, under its lock, so that a later fork of the caller does not
//! copy a pool thread's locks.

// fork-lint: allow-file(FL003) -- the pool's own worker task runs only in workers.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chan::{self, Connection};
use crate::codec;
use crate::context::{self, Context, StartMethod};
use crate::error::{Error, Result};
use crate::process::Process;
use crate::registry::{self, TaskEntry};
use crate::state::RtFd;
use crate::sys;

/// Descriptors that travel with an encoded value (queues, connections).
#[derive(Debug, Default)]
struct Fds(Vec<OwnedFd>);

impl Fds {
    /// Duplicates the descriptors an encoding collected (the originals
    /// belong to the caller's values).
    fn dup(raw: &[RawFd]) -> Result<Fds> {
        raw.iter()
            .map(|&fd| {
                // SAFETY: the values that own these descriptors are alive
                // during the call (they were just encoded).
                unsafe { BorrowedFd::borrow_raw(fd) }
                    .try_clone_to_owned()
                    .map_err(|e| Error::io("dup of a queue or connection descriptor", e))
            })
            .collect::<Result<Vec<_>>>()
            .map(Fds)
    }

    fn try_clone(&self) -> Result<Fds> {
        Fds::dup(&self.0.iter().map(AsRawFd::as_raw_fd).collect::<Vec<_>>())
    }
}

impl Serialize for Fds {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let idx: Option<Vec<u32>> = self
            .0
            .iter()
            .map(|fd| codec::pass_fd(fd.as_raw_fd()))
            .collect();
        idx.ok_or_else(|| serde::ser::Error::custom("descriptors outside a forkrt message"))?
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Fds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let idx = Vec::<u32>::deserialize(d)?;
        idx.into_iter()
            .map(|i| {
                codec::take_fd(i).ok_or_else(|| {
                    serde::de::Error::custom("a descriptor of a pool item did not arrive")
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Fds)
    }
}

/// Bytes serialized as one byte string (a length and a copy), not as a
/// sequence of `u8` (one call per byte).
#[derive(Debug, Default, Clone)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// An encoded argument with the descriptors inside it.
#[derive(Serialize, Deserialize, Debug)]
struct Encoded {
    bytes: Bytes,
    fds: Fds,
}

/// Encodes with `encode` (one argument, or a `Vec` of them), keeping copies
/// of the descriptors inside.
fn encode_with(encode: fn(&dyn Any) -> Result<Vec<u8>>, value: &dyn Any) -> Result<Encoded> {
    let (bytes, raw) = codec::encoding_with_fds(|| encode(value));
    Ok(Encoded {
        bytes: Bytes(bytes?),
        fds: Fds::dup(&raw)?,
    })
}

/// What a worker did with one chunk: the encoded `Vec<Result<R, String>>`
/// (a panic fails its item only), or why the chunk could not run at all.
#[derive(Serialize, Deserialize, Debug)]
enum Outcome {
    Ok(Bytes),
    Failed(String),
}

/// Messages between the pool and a worker.
#[derive(Serialize, Deserialize, Debug)]
enum Wire {
    Run {
        chunk: u64,
        task: String,
        site: String,
        /// A `Vec` of arguments, encoded at once.
        items: Encoded,
    },
    Stop,
    Done {
        chunk: u64,
        outcome: Outcome,
    },
}

/// [`Wire`] as a worker reads it: borrowing from the received record, so
/// that a chunk's bytes are decoded by the task's codec straight from the
/// record (for a large chunk, the memfd's pages) without a copy. The
/// variants mirror `Wire`'s order.
#[derive(Deserialize)]
enum WireRef<'a> {
    Run {
        chunk: u64,
        task: &'a str,
        site: &'a str,
        items: EncodedRef<'a>,
    },
    Stop,
}

#[derive(Deserialize)]
struct EncodedRef<'a> {
    bytes: &'a [u8],
    fds: Fds,
}

#[derive(Serialize, Deserialize, Debug)]
struct InitSpec {
    task: String,
    site: String,
    args: Encoded,
}

/// The argument of [`pool_worker`].
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct WorkerArgs {
    conn: Connection<Wire>,
    init: Option<InitSpec>,
    /// 0 = unlimited.
    maxtasks: u64,
}

/// A pool worker: runs the initializer, then chunks until told to stop, the
/// pool goes away, or `maxtasks` chunks are done.
#[crate::task]
fn pool_worker(args: WorkerArgs) {
    // A panicking item is reported to the pool with its message; printing
    // it here too would only duplicate it.
    std::panic::set_hook(Box::new(|_| {}));
    if let Some(init) = args.init {
        let Some(entry) = registry::by_name(&init.task, &init.site) else {
            crate::exit(3);
        };
        let Encoded { bytes, fds } = init.args;
        let Ok(call) = codec::decoding_with_fds(fds.0, || (entry.decode)(&bytes.0)) else {
            crate::exit(3);
        };
        if registry::catch_panic(call).is_err() {
            crate::exit(3);
        }
    }
    let mut done = 0u64;
    let fd = args.conn.as_fd().as_raw_fd();
    loop {
        let next = chan::recv_with(fd, None, |body| {
            let run = match postcard::take_from_bytes::<WireRef<'_>>(body) {
                Ok((run, [])) => run,
                _ => return Ok(None),
            };
            let WireRef::Run {
                chunk,
                task,
                site,
                items,
            } = run
            else {
                return Ok(None);
            };
            let outcome = match registry::by_name(task, site) {
                Some(entry) => {
                    let EncodedRef { bytes, fds } = items;
                    match codec::decoding_with_fds(fds.0, || (entry.call_many)(bytes)) {
                        Ok(r) => Outcome::Ok(Bytes(r)),
                        Err(e) => Outcome::Failed(e.detail()),
                    }
                }
                None => Outcome::Failed(format!("no task `{task}` registered at {site}")),
            };
            Ok(Some((chunk, outcome)))
        });
        let Ok(Some(Some((chunk, outcome)))) = next else {
            break; // Stop, the pool gone, or a message we cannot read
        };
        if args.conn.send(&Wire::Done { chunk, outcome }).is_err() {
            break;
        }
        done += 1;
        if args.maxtasks != 0 && done >= args.maxtasks {
            break;
        }
    }
}

struct Worker {
    process: Process,
    /// The pool's end of the worker's connection (a runtime descriptor, so
    /// that fork children do not inherit it).
    fd: RtFd,
    /// Chunks sent and not answered, oldest first: the one it runs, and
    /// the next one waiting in its socket (so that it never idles between
    /// chunks). It reads a chunk only after answering the previous one.
    chunks: VecDeque<u64>,
    done: u64,
}

/// Chunks a worker holds at most (running + waiting).
const PREFETCH: usize = 2;

struct Chunk {
    id: u64,
    job: u64,
    /// Its position among the job's chunks.
    index: usize,
    task: &'static TaskEntry,
    items: Encoded,
}

/// Why a whole chunk failed.
#[derive(Clone, Debug)]
enum ChunkError {
    Died { pid: u32, exitcode: Option<i32> },
    Failed { task: String, message: String },
    Closed,
}

impl ChunkError {
    fn to_error(&self) -> Error {
        match self {
            ChunkError::Died { pid, exitcode } => Error::WorkerDied {
                pid: *pid,
                exitcode: *exitcode,
            },
            ChunkError::Failed { task, message } => Error::Decode {
                task: task.clone(),
                message: message.clone(),
            },
            ChunkError::Closed => Error::PoolClosed,
        }
    }
}

type ChunkResult = std::result::Result<Vec<u8>, ChunkError>;

struct Job {
    /// Per chunk: how many items, and its outcome once known.
    chunks: Vec<(usize, Option<ChunkResult>)>,
    left: usize,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum PoolState {
    Open,
    Closed,
    Terminated,
}

struct Inner {
    ctx: Context,
    processes: usize,
    init: Option<InitSpec>,
    maxtasks: u64,
    workers: Vec<Worker>,
    queue: VecDeque<Chunk>,
    in_flight: HashMap<u64, Chunk>,
    jobs: HashMap<u64, Job>,
    next_id: u64,
    state: PoolState,
}

/// A pool of worker processes, like Python's `multiprocessing.Pool`.
///
/// Tasks are `#[forkrt::task]` functions (under every start method, as
/// CPython's pool pickles its function under fork too); their arguments and
/// results are serialized. A task's panic fails its own item only
/// ([`Error::TaskPanicked`] with the message); a worker that dies (killed,
/// `exit`) is replaced and the items it was running fail with
/// [`Error::WorkerDied`]. Work is sent in chunks, so many tiny tasks cost
/// little. Dropping the pool terminates it.
///
/// ```no_run
/// #[forkrt::task]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// #[forkrt::main]
/// fn main() -> forkrt::Result<()> {
///     let pool = forkrt::Pool::new(4)?;
///     assert_eq!(pool.map(square, 1..=3)?, vec![1, 4, 9]);
///     let r = pool.apply_async(square, 7);
///     assert_eq!(r.get()?, 49);
///     pool.close();
///     pool.join()
/// }
/// ```
pub struct Pool {
    inner: Arc<Mutex<Inner>>,
}

/// Builds a [`Pool`]: `Pool::builder().processes(4).initializer(init, args)
/// .maxtasksperchild(100).build()`.
pub struct PoolBuilder {
    method: Option<StartMethod>,
    processes: usize,
    init: Option<Result<InitSpec>>,
    maxtasks: u64,
}

impl PoolBuilder {
    /// Number of worker processes (0, the default: the number of CPUs).
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = n;
        self
    }

    /// Runs `task(args)` in each worker when it starts (Python's
    /// `initializer`/`initargs`). `task` is a `#[forkrt::task]`; `args` must
    /// serialize (it is sent to every worker).
    pub fn initializer<F, A, R>(mut self, task: F, args: A) -> Self
    where
        F: Fn(A) -> R + 'static,
        A: 'static,
    {
        let _ = task;
        self.init = Some(entry_for::<F, A>().and_then(|entry| {
            Ok(InitSpec {
                task: entry.name.to_string(),
                site: entry.site.to_string(),
                args: encode_with(entry.encode, &args)?,
            })
        }));
        self
    }

    /// A worker leaves after this many chunks of work and is replaced
    /// (Python's `maxtasksperchild`); 0, the default, means never.
    pub fn maxtasksperchild(mut self, n: usize) -> Self {
        self.maxtasks = n as u64;
        self
    }

    /// The start method of the workers (default: the default context's).
    pub fn method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Starts the workers.
    pub fn build(self) -> Result<Pool> {
        let method = self.method.unwrap_or_else(context::fix_default);
        let processes = match self.processes {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let init = self.init.transpose()?;
        let mut inner = Inner {
            ctx: context::get_context(method),
            processes,
            init,
            maxtasks: self.maxtasks,
            workers: Vec::new(),
            queue: VecDeque::new(),
            in_flight: HashMap::new(),
            jobs: HashMap::new(),
            next_id: 0,
            state: PoolState::Open,
        };
        for _ in 0..processes {
            if let Err(e) = inner.start_worker() {
                inner.terminate();
                return Err(e);
            }
        }
        Ok(Pool {
            inner: Arc::new(Mutex::new(inner)),
        })
    }
}

/// The registry entry of task `F` taking `A`.
fn entry_for<F: 'static, A: 'static>() -> Result<&'static TaskEntry> {
    let entry = registry::entry_of::<F>().ok_or(Error::NotRegistered {
        type_name: std::any::type_name::<F>(),
    })?;
    if (entry.arg_type_id)() != std::any::TypeId::of::<A>() {
        return Err(Error::protocol(format!(
            "task `{}` takes `{}`, not the argument it was given",
            entry.name,
            (entry.arg_type_name)()
        )));
    }
    Ok(entry)
}

/// The items' results of one chunk, in order.
fn chunk_items<R: 'static>(entry: &TaskEntry, len: usize, result: ChunkResult) -> Vec<Result<R>> {
    let bytes = match result {
        Ok(b) => b,
        Err(e) => return (0..len).map(|_| Err(e.to_error())).collect(),
    };
    let decoded = (entry.decode_many)(&bytes).and_then(|b| {
        b.downcast::<Vec<std::result::Result<R, String>>>()
            .map(|r| *r)
            .map_err(|_| Error::protocol(format!("task `{}` returned another type", entry.name)))
    });
    match decoded {
        Ok(items) if items.len() == len => items
            .into_iter()
            .map(|r| {
                r.map_err(|message| Error::TaskPanicked {
                    task: entry.name.to_string(),
                    message,
                })
            })
            .collect(),
        Ok(items) => (0..len)
            .map(|_| {
                Err(Error::protocol(format!(
                    "a worker returned {} results for {len} items",
                    items.len()
                )))
            })
            .collect(),
        Err(e) => {
            let failed = ChunkError::Failed {
                task: entry.name.to_string(),
                message: e.detail(),
            };
            (0..len).map(|_| Err(failed.to_error())).collect()
        }
    }
}

impl Inner {
    fn start_worker(&mut self) -> Result<()> {
        let (mine, theirs) = chan::seqpacket_pair()?;
        let fd = RtFd::one(|| Ok(mine)).map_err(|e| Error::io("registering a pool channel", e))?;
        let init = match &self.init {
            Some(i) => Some(InitSpec {
                task: i.task.clone(),
                site: i.site.clone(),
                args: Encoded {
                    bytes: i.args.bytes.clone(),
                    fds: i.args.fds.try_clone()?,
                },
            }),
            None => None,
        };
        let args = WorkerArgs {
            conn: Connection::from_fd(theirs),
            init,
            maxtasks: self.maxtasks,
        };
        let mut process = self
            .ctx
            .process(pool_worker, args)
            .name(format!("PoolWorker-{}", self.next_id))
            .daemon(true);
        self.next_id += 1;
        process.start()?;
        self.workers.push(Worker {
            process,
            fd,
            chunks: VecDeque::new(),
            done: 0,
        });
        Ok(())
    }

    /// Queues the encoded chunks of a new job (`lens`: items per chunk).
    fn submit(&mut self, task: &'static TaskEntry, chunks: Vec<(usize, Encoded)>) -> Result<u64> {
        if self.state != PoolState::Open {
            return Err(Error::PoolClosed);
        }
        let job = self.next_id;
        self.next_id += 1;
        let mut lens = Vec::with_capacity(chunks.len());
        for (index, (len, items)) in chunks.into_iter().enumerate() {
            lens.push((len, None));
            self.queue.push_back(Chunk {
                id: self.next_id,
                job,
                index,
                task,
                items,
            });
            self.next_id += 1;
        }
        let left = lens.len();
        self.jobs.insert(job, Job { chunks: lens, left });
        Ok(job)
    }

    /// Sends queued chunks to workers: first one to each idle worker, then a
    /// second behind it.
    fn dispatch(&mut self) {
        for depth in 0..PREFETCH {
            self.dispatch_round(depth);
        }
    }

    fn dispatch_round(&mut self, depth: usize) {
        for w in 0..self.workers.len() {
            // A worker leaves after its maxtasksperchild-th chunk (its EOF
            // brings a replacement): send it no more than that.
            let worker = &self.workers[w];
            let budget_left =
                self.maxtasks == 0 || worker.done + (worker.chunks.len() as u64) < self.maxtasks;
            if worker.chunks.len() != depth || !budget_left {
                continue;
            }
            let Some(chunk) = self.queue.pop_front() else {
                return;
            };
            let msg = Wire::Run {
                chunk: chunk.id,
                task: chunk.task.name.to_string(),
                site: chunk.task.site.to_string(),
                items: chunk.items,
            };
            let sent = chan::send_record(self.workers[w].fd.raw(), &msg, None);
            let Wire::Run { items, .. } = msg else {
                unreachable!()
            };
            let chunk = Chunk { items, ..chunk };
            match sent {
                Ok(_) => {
                    self.workers[w].chunks.push_back(chunk.id);
                    self.in_flight.insert(chunk.id, chunk);
                }
                // The worker is gone; its EOF replaces it. The chunk waits.
                Err(_) => self.queue.push_front(chunk),
            }
        }
    }

    fn record(&mut self, chunk: &Chunk, result: ChunkResult) {
        let Some(job) = self.jobs.get_mut(&chunk.job) else {
            return;
        };
        if let Some(slot) = job.chunks.get_mut(chunk.index) {
            if slot.1.is_none() {
                slot.1 = Some(result);
                job.left -= 1;
            }
        }
    }

    /// Drives the pool until `done` holds or `deadline` passes; returns
    /// whether `done` holds.
    fn pump(&mut self, deadline: Option<Instant>, done: impl Fn(&Inner) -> bool) -> Result<bool> {
        loop {
            if self.state != PoolState::Terminated {
                self.dispatch();
            }
            if done(self) {
                return Ok(true);
            }
            if self.workers.is_empty() {
                if self.state == PoolState::Terminated {
                    return Ok(done(self));
                }
                // Every worker failed to start: say why rather than wait.
                self.start_worker()?;
                continue;
            }
            let mut pfds: Vec<libc::pollfd> = self
                .workers
                .iter()
                .map(|w| libc::pollfd {
                    fd: w.fd.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let timeout = sys::poll_timeout(deadline);
            // SAFETY: pfds is a valid array of pfds.len() pollfds.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io("poll on pool workers", e));
            }
            if n == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(done(self));
            }
            // Back to front, so that removing a dead worker keeps the
            // other indices valid.
            for w in (0..pfds.len()).rev() {
                if pfds[w].revents != 0 {
                    self.on_worker(w)?;
                }
            }
        }
    }

    fn on_worker(&mut self, w: usize) -> Result<()> {
        match chan::recv_record::<Wire>(self.workers[w].fd.raw(), Some(Instant::now())) {
            Ok(Some(Wire::Done { chunk, outcome })) => {
                let worker = &mut self.workers[w];
                worker.chunks.retain(|&c| c != chunk);
                worker.done += 1;
                if let Some(c) = self.in_flight.remove(&chunk) {
                    let result = match outcome {
                        Outcome::Ok(b) => Ok(b.0),
                        Outcome::Failed(message) => Err(ChunkError::Failed {
                            task: c.task.name.to_string(),
                            message,
                        }),
                    };
                    self.record(&c, result);
                }
                Ok(())
            }
            Ok(Some(_)) | Ok(None) => Ok(()),
            // EOF (or a broken channel): the worker left — retired after
            // maxtasksperchild, or died.
            Err(_) => {
                let mut worker = self.workers.swap_remove(w);
                let code = match worker.process.join_timeout(Duration::from_secs(2)) {
                    Ok(Some(code)) => Some(code),
                    _ => {
                        let _ = worker.process.kill();
                        worker.process.join().ok().and(worker.process.exitcode())
                    }
                };
                let pid = worker.process.pid().unwrap_or(0);
                // The oldest unanswered chunk was running: its items fail.
                // The ones behind it were never read (a worker reads the next
                // chunk only after answering): they go back to the queue.
                let mut held = worker.chunks.into_iter();
                if let Some(c) = held.next().and_then(|id| self.in_flight.remove(&id)) {
                    self.record(
                        &c,
                        Err(ChunkError::Died {
                            pid,
                            exitcode: code,
                        }),
                    );
                }
                for id in held.rev() {
                    if let Some(c) = self.in_flight.remove(&id) {
                        self.queue.push_front(c);
                    }
                }
                if self.state != PoolState::Terminated {
                    self.start_worker()?;
                }
                Ok(())
            }
        }
    }

    fn job_done(&self, job: u64) -> bool {
        self.jobs.get(&job).is_none_or(|j| j.left == 0)
    }

    fn take_job(&mut self, job: u64) -> Vec<(usize, ChunkResult)> {
        self.jobs
            .remove(&job)
            .map(|j| {
                j.chunks
                    .into_iter()
                    .map(|(len, r)| (len, r.unwrap_or(Err(ChunkError::Closed))))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn terminate(&mut self) {
        self.state = PoolState::Terminated;
        self.queue.clear();
        self.in_flight.clear();
        for job in self.jobs.values_mut() {
            for slot in job.chunks.iter_mut().filter(|s| s.1.is_none()) {
                slot.1 = Some(Err(ChunkError::Closed));
            }
            job.left = 0;
        }
        for w in &self.workers {
            let _ = w.process.terminate();
        }
        for mut w in self.workers.drain(..) {
            if !matches!(w.process.join_timeout(Duration::from_secs(1)), Ok(Some(_))) {
                let _ = w.process.kill();
                let _ = w.process.join();
            }
        }
    }
}

impl Pool {
    /// A pool of `processes` workers (0: the number of CPUs) started with the
    /// default context's method.
    pub fn new(processes: usize) -> Result<Pool> {
        Pool::builder().processes(processes).build()
    }

    /// A [`PoolBuilder`] (processes, initializer, maxtasksperchild, method).
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            method: None,
            processes: 0,
            init: None,
            maxtasks: 0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Encodes `items` in chunks (about four per worker, as CPython) and
    /// queues them.
    fn submit<F, A>(&self, items: impl IntoIterator<Item = A>) -> Result<(&'static TaskEntry, u64)>
    where
        F: 'static,
        A: 'static,
    {
        let entry = entry_for::<F, A>()?;
        let mut items: Vec<A> = items.into_iter().collect();
        let processes = self.lock().processes;
        let size = items.len().div_ceil(processes * 4).max(1);
        let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
        while !items.is_empty() {
            let rest = items.split_off(size.min(items.len()));
            let len = items.len();
            chunks.push((len, encode_with(entry.encode_many, &items)?));
            items = rest;
        }
        let job = self.lock().submit(entry, chunks)?;
        Ok((entry, job))
    }

    /// `task` applied to every item, in order (Python's `map`). The first
    /// failing item's error is returned (a panic: [`Error::TaskPanicked`]);
    /// use [`imap`](Self::imap) for one result per item.
    pub fn map<F, A, R>(&self, task: F, items: impl IntoIterator<Item = A>) -> Result<Vec<R>>
    where
        F: Fn(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        let _ = task;
        let (entry, job) = self.submit::<F, A>(items)?;
        let chunks = {
            let mut inner = self.lock();
            inner.pump(None, |i| i.job_done(job))?;
            inner.take_job(job)
        };
        let mut out = Vec::new();
        for (len, result) in chunks {
            for r in chunk_items::<R>(entry, len, result) {
                out.push(r?);
            }
        }
        Ok(out)
    }

    /// `task` applied to every item, yielding each result in order as it is
    /// ready (Python's `imap`); a failing item is an `Err` in its place.
    pub fn imap<F, A, R>(
        &self,
        task: F,
        items: impl IntoIterator<Item = A>,
    ) -> impl Iterator<Item = Result<R>> + '_
    where
        F: Fn(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        let _ = task;
        let submitted = self.submit::<F, A>(items);
        let (setup_error, entry, job, chunks) = match submitted {
            Ok((entry, job)) => {
                let n = self.lock().jobs.get(&job).map_or(0, |j| j.chunks.len());
                (None, Some(entry), job, n)
            }
            Err(e) => (Some(e), None, 0, 0),
        };
        Imap {
            pool: self,
            setup_error,
            entry,
            job,
            next_chunk: 0,
            chunks,
            ready: VecDeque::new(),
        }
    }

    /// `task(args)` in a worker, waiting for the result (Python's `apply`).
    pub fn apply<F, A, R>(&self, task: F, args: A) -> Result<R>
    where
        F: Fn(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        self.apply_async(task, args).get()
    }

    /// `task(args)` in a worker; the result is collected later through the
    /// [`AsyncResult`] (Python's `apply_async`).
    pub fn apply_async<F, A, R>(&self, task: F, args: A) -> AsyncResult<R>
    where
        F: Fn(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        let _ = task;
        let submitted = self.submit::<F, A>([args]);
        AsyncResult {
            inner: self.inner.clone(),
            job: submitted.map_err(Some),
            _r: PhantomData,
        }
    }

    /// No more work is accepted; the workers leave once the queued work is
    /// done (Python's `close`).
    pub fn close(&self) {
        let mut inner = self.lock();
        if inner.state == PoolState::Open {
            inner.state = PoolState::Closed;
        }
    }

    /// Waits until the queued work is done and the workers have left (closes
    /// the pool first if needed; Python's `join` requires `close` first).
    pub fn join(&self) -> Result<()> {
        let mut inner = self.lock();
        if inner.state == PoolState::Open {
            inner.state = PoolState::Closed;
        }
        if inner.state == PoolState::Closed {
            inner.pump(None, |i| i.queue.is_empty() && i.in_flight.is_empty())?;
            for w in &inner.workers {
                let _ = chan::send_record(w.fd.raw(), &Wire::Stop, None);
            }
        }
        inner.state = PoolState::Terminated;
        for mut w in inner.workers.drain(..) {
            if !matches!(w.process.join_timeout(Duration::from_secs(10)), Ok(Some(_))) {
                let _ = w.process.kill();
                let _ = w.process.join();
            }
        }
        Ok(())
    }

    /// Stops the workers at once (SIGTERM); unfinished work fails with
    /// [`Error::PoolClosed`] (Python's `terminate`).
    pub fn terminate(&self) {
        self.lock().terminate();
    }

    /// The pids of the current workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.lock()
            .workers
            .iter()
            .filter_map(|w| w.process.pid())
            .collect()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut inner = self.lock();
        if inner.state != PoolState::Terminated || !inner.workers.is_empty() {
            inner.terminate();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("Pool")
            .field("method", &inner.ctx.get_start_method())
            .field("processes", &inner.processes)
            .field("workers", &inner.workers.len())
            .finish()
    }
}

impl Context {
    /// A pool of `processes` workers started with this context's method.
    pub fn pool(&self, processes: usize) -> Result<Pool> {
        Pool::builder()
            .processes(processes)
            .method(self.get_start_method())
            .build()
    }
}

struct Imap<'a, R> {
    pool: &'a Pool,
    setup_error: Option<Error>,
    entry: Option<&'static TaskEntry>,
    job: u64,
    next_chunk: usize,
    chunks: usize,
    /// Decoded results of the current chunk, not yet yielded.
    ready: VecDeque<Result<R>>,
}

impl<R: 'static> Iterator for Imap<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        if let Some(e) = self.setup_error.take() {
            return Some(Err(e));
        }
        if let Some(r) = self.ready.pop_front() {
            return Some(r);
        }
        let entry = self.entry?;
        if self.next_chunk >= self.chunks {
            return None;
        }
        let k = self.next_chunk;
        self.next_chunk += 1;
        let job = self.job;
        let mut inner = self.pool.lock();
        let done = |inner: &Inner| {
            inner
                .jobs
                .get(&job)
                .is_none_or(|j| j.chunks.get(k).is_none_or(|c| c.1.is_some()))
        };
        if let Err(e) = inner.pump(None, done) {
            return Some(Err(e));
        }
        let (len, result) = inner
            .jobs
            .get_mut(&job)
            .and_then(|j| j.chunks.get_mut(k))
            .map(|c| (c.0, c.1.take().unwrap_or(Err(ChunkError::Closed))))
            .unwrap_or((1, Err(ChunkError::Closed)));
        if self.next_chunk >= self.chunks {
            inner.jobs.remove(&job);
        }
        drop(inner);
        self.ready = chunk_items::<R>(entry, len, result).into();
        self.ready.pop_front()
    }
}

/// The result of [`Pool::apply_async`], like Python's `AsyncResult`.
pub struct AsyncResult<R> {
    inner: Arc<Mutex<Inner>>,
    /// The job, or the error that kept it from being submitted.
    job: std::result::Result<(&'static TaskEntry, u64), Option<Error>>,
    _r: PhantomData<fn() -> R>,
}

impl<R: 'static> AsyncResult<R> {
    /// Waits for the result.
    pub fn get(self) -> Result<R> {
        match self.wait(None)? {
            Some(r) => Ok(r),
            None => Err(Error::PoolClosed),
        }
    }

    /// Waits at most `timeout`; `Ok(None)` if the result is not ready yet
    /// (the call can be repeated).
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<Option<R>> {
        self.wait_mut(Some(Instant::now() + timeout))
    }

    fn wait(mut self, deadline: Option<Instant>) -> Result<Option<R>> {
        self.wait_mut(deadline)
    }

    fn wait_mut(&mut self, deadline: Option<Instant>) -> Result<Option<R>> {
        let (entry, job) = match &mut self.job {
            Ok(j) => *j,
            Err(e) => return Err(e.take().unwrap_or(Error::PoolClosed)),
        };
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.pump(deadline, |i| i.job_done(job))? {
            return Ok(None);
        }
        let chunk = inner
            .take_job(job)
            .into_iter()
            .next()
            .unwrap_or((1, Err(ChunkError::Closed)));
        drop(inner);
        self.job = Err(None);
        chunk_items::<R>(entry, chunk.0, chunk.1)
            .into_iter()
            .next()
            .unwrap_or(Err(Error::PoolClosed))
            .map(Some)
    }
}

impl<R> std::fmt::Debug for AsyncResult<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult").finish_non_exhaustive()
    }
}
