//! Ctrl-C shutdown for blocking servers (chapter 03; every server from 03 on uses it).
//!
//! Setting a flag on Ctrl-C is the easy half. The hard half is that a server thread is almost
//! always *blocked in a system call* when the signal comes: in `accept` waiting for the next
//! client, or in `read` waiting for a client's next bytes. Neither returns by itself on Unix:
//! `ctrlc` installs its handler with `SA_RESTART`, so the kernel restarts an interrupted
//! `accept` (and std's `accept` retries `EINTR` itself), and it restarts an interrupted `read`
//! on a socket *without* a receive timeout. (A `read` on a socket *with* one, `SO_RCVTIMEO`,
//! is never restarted — signal(7) — and std's `read` does not retry: it returns
//! `ErrorKind::Interrupted`, which our loops retry.) Either way the thread sleeps through the
//! shutdown. Besides, a signal sent to a process is delivered to *one* of its threads
//! (signal(7)): the other threads, blocked in their own `read`s, are not even interrupted.
//!
//! So a [`Shutdown`] remembers the sockets a server blocks on and, when triggered, *wakes* each
//! one with an ordinary socket operation:
//!
//! | the server is blocked in… | the helper…                                   | the call returns…  |
//! |---------------------------|-----------------------------------------------|--------------------|
//! | `listener.accept()`       | connects to the listener, from a socket made in advance | a (dummy) client |
//! | `stream.read()`           | 0.1 s later, `shutdown(Read)` on the stream   | `Ok(0)`, end of stream |
//! | `stream.write()` (a client that does not read) | after a grace period, `shutdown(Both)` | an error |
//!
//! After waking up, the server checks [`Shutdown::is_triggered`] and leaves its loop; a client
//! in flight is ended with [`close_gracefully`]: the reply already read is sent, then a FIN,
//! then whatever the client still sends is read and dropped for a moment, so that the client
//! sees an orderly end of stream rather than a reset.
//!
//! `ctrlc` can be installed once per process, so the Ctrl-C handler is just one caller of
//! [`Shutdown::trigger`]; tests create a [`Shutdown::new`] and trigger it directly.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown as Direction, SocketAddr, TcpListener,
    TcpStream,
};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::cli::Throttle;

/// How long connections in flight get after a shutdown before they are closed by force.
pub const DEFAULT_GRACE: Duration = Duration::from_millis(1000);

/// How long an accept loop pauses after `accept` failed for want of resources (out of file
/// descriptors, say): long enough that a persistent error costs almost no CPU, short enough
/// that the server is back within a blink once descriptors are free again.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// How often a recurring `accept` error is printed at most; the repeats in between are counted
/// and reported with the next line (see [`Throttle`]).
pub const ERROR_LINE_INTERVAL: Duration = Duration::from_secs(5);

/// How long after the trigger a thread still blocked in a watched stream's `read` is woken.
/// Busy threads see the flag sooner and end their clients themselves (see [`Shutdown::trigger`]).
pub const READ_WAKE_DELAY: Duration = Duration::from_millis(100);

/// The steps of a shutdown, in order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// At the trigger: listeners and wakers.
    Now,
    /// After [`READ_WAKE_DELAY`]: streams, `shutdown(Read)`.
    Read,
    /// After the grace period: streams, `shutdown(Both)`.
    Both,
}

/// A cloneable shutdown handle: one trigger (Ctrl-C or a test), many watchers.
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

struct Inner {
    /// Checked on every pass of a server loop, so a lock-free flag.
    triggered: AtomicBool,
    grace: Duration,
    watched: Mutex<Watched>,
    /// Wakes [`Shutdown::wait_timeout`] sleepers.
    wakeup: Condvar,
    /// Rate-limits the error lines of [`Shutdown::accept`].
    accept_errors: Mutex<Throttle>,
}

#[derive(Default)]
struct Watched {
    next_id: u64,
    items: BTreeMap<u64, Arc<Entry>>,
}

/// One watched thing. Its own lock is held while it is woken, and taken by its [`Watch`]'s
/// `drop`, which sets it to `None`: so a wake-up never runs after its `Watch` is gone, and the
/// big `watched` lock is never held during a wake-up (a connect, or chapter 14's broadcast,
/// would otherwise block every other thread's `watch` and `Watch` drop meanwhile).
struct Entry {
    item: Mutex<Option<Item>>,
}

/// What a server may be blocked on, and so what the helper must wake.
enum Item {
    /// A listening socket: woken by connecting to it from `waker`, a socket created when the
    /// listener was watched. At shutdown the process may have no descriptor left to create
    /// one (and the thread blocked in `accept` has reserved the last free slot for the client
    /// it waits for), so the descriptor is set aside in advance.
    Listener { addr: SocketAddr, waker: Socket },
    /// A client's stream, shared with its owner ([`Shutdown::watch_owned`]) or a duplicate of
    /// the owner's handle ([`Shutdown::watch_stream`]): woken by shutting it down.
    Stream(Arc<TcpStream>),
    /// Anything else (a poller, a channel): woken by calling this.
    Waker(Box<dyn Fn() + Send>),
}

/// Keeps a socket or waker watched; dropping it stops watching.
///
/// Drop it when the socket is done with, so that the helper never touches a closed socket.
#[must_use = "dropping a Watch stops watching at once"]
pub struct Watch {
    inner: Arc<Inner>,
    id: u64,
}

/// A client's stream, owned and watched at once ([`Shutdown::watch_owned`]): reads and writes
/// like the `TcpStream` it holds, and stops being watched when it is dropped. Unlike
/// [`Shutdown::watch_stream`], it costs no second file descriptor.
pub struct WatchedStream {
    // Declared first, so dropped first: the helper lets go before the socket is closed.
    _watch: Watch,
    stream: Arc<TcpStream>,
}

impl Shutdown {
    /// A handle with the [default grace period](DEFAULT_GRACE), not connected to Ctrl-C.
    pub fn new() -> Self {
        Self::with_grace(DEFAULT_GRACE)
    }

    /// A handle whose connections in flight get `grace` to finish before they are closed.
    pub fn with_grace(grace: Duration) -> Self {
        Shutdown {
            inner: Arc::new(Inner {
                triggered: AtomicBool::new(false),
                grace,
                watched: Mutex::new(Watched::default()),
                wakeup: Condvar::new(),
                accept_errors: Mutex::new(Throttle::new(ERROR_LINE_INTERVAL)),
            }),
        }
    }

    // ANCHOR: on_ctrl_c
    /// A handle triggered by Ctrl-C (SIGINT on Unix). A second Ctrl-C exits at once
    /// with code 130, the shell's code for "killed by SIGINT", for when a shutdown
    /// itself hangs.
    ///
    /// Fails if a Ctrl-C handler is installed already: there can be only one per
    /// process.
    pub fn on_ctrl_c() -> anyhow::Result<Self> {
        let shutdown = Shutdown::new();
        let handle = shutdown.clone();
        ctrlc::set_handler(move || {
            if handle.is_triggered() {
                eprintln!("second Ctrl-C: exiting without waiting");
                std::process::exit(130);
            }
            handle.trigger();
        })
        .context("cannot install the Ctrl-C handler")?;
        Ok(shutdown)
    }
    // ANCHOR_END: on_ctrl_c

    /// Has shutdown begun? Server loops check this after every blocking call returns.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    // ANCHOR: trigger
    /// Begins the shutdown: sets the flag, wakes everything watched, and closes
    /// watched streams that are still open after the grace period. Calling it again
    /// does nothing.
    pub fn trigger(&self) {
        let entries: Vec<Arc<Entry>> = {
            let watched = self.inner.lock();
            // The flag changes under the lock, so a socket is either in this list (and
            // woken below) or registers later, sees the flag, and is woken there:
            // never missed.
            if self.inner.triggered.swap(true, Ordering::SeqCst) {
                return;
            }
            watched.items.values().cloned().collect()
        };
        // The wake-ups run without the big lock: other threads may watch or stop
        // watching meanwhile. (Each entry's own lock keeps its `Watch` from vanishing
        // mid-wake.)
        self.inner.wakeup.notify_all();
        for entry in &entries {
            entry.wake(Stage::Now);
        }

        // Streams are woken in two steps, by a timer thread. First, after
        // READ_WAKE_DELAY, a thread still blocked in `read` gets `shutdown(Read)`. (A
        // thread that is busy echoing sees the flag before that and ends its client
        // itself, in an orderly way; once our `shutdown(Read)` is applied, Linux
        // resets a connection on which data arrives after our FIN.) Then, after the
        // grace period, a thread blocked in `write` to a client that stopped reading
        // gets `shutdown(Both)`, which fails its `write`.
        let inner = Arc::clone(&self.inner);
        let spawned =
            thread::Builder::new()
                .name("shutdown-grace".into())
                .spawn(move || {
                    thread::sleep(READ_WAKE_DELAY);
                    inner.wake_all(Stage::Read);
                    thread::sleep(inner.grace.saturating_sub(READ_WAKE_DELAY));
                    inner.wake_all(Stage::Both);
                });
        if let Err(err) = spawned {
            // No timer: wake the readers now. Writers stuck on a client that never
            // reads stay stuck until their write timeout, if they have one.
            eprintln!("warning: cannot start the shutdown grace timer: {err}");
            self.inner.wake_all(Stage::Read);
        }
    }
    // ANCHOR_END: trigger

    // ANCHOR: accept
    /// One step of an accept loop: waits for the next client, or returns `None` once
    /// shutdown has begun (the listener must be [watched](Self::watch_listener), or a
    /// blocked `accept` would sleep through it).
    ///
    /// An error from `accept` itself loses that one client, never the server. Out of
    /// file descriptors (`EMFILE`), `accept` fails at once, again and again, as long
    /// as the clients wait in the backlog: so after such an error the loop pauses
    /// ([`ACCEPT_PAUSE`]), and the error line is printed at most once every few
    /// seconds with a count of the repeats. Once descriptors are free again, the next
    /// attempt succeeds: nothing else is needed.
    pub fn accept(&self, listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
        loop {
            if self.is_triggered() {
                return None;
            }
            match listener.accept() {
                // Woken for shutdown? The "client" may be our own wake-up call: drop
                // it.
                Ok(_) if self.is_triggered() => return None,
                Ok(accepted) => return Some(accepted),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) if self.is_triggered() => return None,
                Err(err) => {
                    let line = crate::cli::describe_io(&err);
                    self.inner
                        .accept_errors
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .eprintln(&format!("error: accept failed: {line}"));
                    // A client that gave up while waiting in the backlog is that
                    // client's problem alone: go on at once. Anything else is a
                    // shortage: pause.
                    let per_client = matches!(
                        err.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    );
                    if !per_client {
                        self.wait_timeout(ACCEPT_PAUSE);
                    }
                }
            }
        }
    }
    // ANCHOR_END: accept

    /// Sleeps for `timeout` or until shutdown begins, whichever comes first.
    /// Returns whether shutdown has begun: a loop that naps between rounds uses this instead of
    /// `thread::sleep`, so that it stops at once.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let watched = self.inner.lock();
        let (_watched, _) = self
            .inner
            .wakeup
            .wait_timeout_while(watched, timeout, |_| !self.is_triggered())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.is_triggered()
    }

    /// Watches a listener, so that a thread blocked in its `accept` wakes on shutdown.
    ///
    /// The wake-up is a connection to the listener's own address (to the loopback address of
    /// the same family when it listens on all interfaces); `accept` returns it like any client,
    /// and the accept loop, seeing [`is_triggered`](Self::is_triggered), drops it and stops.
    /// The socket that will connect is created here, while descriptors are free: one
    /// descriptor per watched listener, kept until the `Watch` is dropped.
    pub fn watch_listener(&self, listener: &TcpListener) -> io::Result<Watch> {
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        let waker = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        // Non-blocking: at shutdown the connect only sends its SYN, and `trigger` does not
        // wait for the handshake (up to a second or more if the backlog is full — but then
        // `accept` is not blocked anyway: it has clients to return).
        waker.set_nonblocking(true)?;
        Ok(self.watch(Item::Listener { addr, waker }))
    }

    /// Watches a client's stream, so that a thread blocked in its `read` wakes on shutdown
    /// (the read returns `Ok(0)`, as if the client had closed), and a thread blocked in its
    /// `write` gets an error once the grace period is over.
    ///
    /// The helper keeps a duplicate of the stream (`try_clone`, `dup` on Unix), so that it can
    /// never shut down a descriptor that its owner has closed and the OS has reused: **a second
    /// file descriptor per client**, for as long as the `Watch` lives. A server that owns the
    /// stream can use [`watch_owned`](Self::watch_owned) instead, which costs none.
    pub fn watch_stream(&self, stream: &TcpStream) -> io::Result<Watch> {
        Ok(self.watch(Item::Stream(Arc::new(stream.try_clone()?))))
    }

    /// Takes ownership of a client's stream and watches it, as
    /// [`watch_stream`](Self::watch_stream) does, without duplicating it: the helper and the
    /// server share the one socket (an `Arc`), which is closed when both have let go.
    pub fn watch_owned(&self, stream: TcpStream) -> WatchedStream {
        let stream = Arc::new(stream);
        let watch = self.watch(Item::Stream(Arc::clone(&stream)));
        WatchedStream {
            _watch: watch,
            stream,
        }
    }

    /// Calls `wake` when shutdown begins (at once if it has begun already), for servers that
    /// block on something else than a socket: a poller, a channel, a condition variable.
    pub fn on_trigger(&self, wake: impl Fn() + Send + 'static) -> Watch {
        self.watch(Item::Waker(Box::new(wake)))
    }

    fn watch(&self, item: Item) -> Watch {
        let entry = Arc::new(Entry {
            item: Mutex::new(Some(item)),
        });
        let (id, late) = {
            let mut watched = self.inner.lock();
            let id = watched.next_id;
            watched.next_id += 1;
            watched.items.insert(id, Arc::clone(&entry));
            (id, self.is_triggered())
        };
        if late {
            // Registered after the trigger took its list: wake it here, outside the lock.
            // (A stream watched after the trigger is a client that arrived too late: its
            // `read` is stopped at once.)
            entry.wake(Stage::Now);
            entry.wake(Stage::Read);
        }
        Watch {
            inner: Arc::clone(&self.inner),
            id,
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Inner {
    fn wake_all(&self, stage: Stage) {
        let entries: Vec<Arc<Entry>> = self.lock().items.values().cloned().collect();
        for entry in entries {
            entry.wake(stage);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Watched> {
        // A panic while holding this lock cannot leave the map half-changed (inserts and
        // removes are single calls), so a poisoned lock is still safe to use.
        self.watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entry {
    fn lock(&self) -> MutexGuard<'_, Option<Item>> {
        self.item
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wake(&self, stage: Stage) {
        if let Some(item) = &*self.lock() {
            item.wake(stage);
        }
    }
}

// ANCHOR: wake
impl Item {
    fn wake(&self, stage: Stage) {
        match (self, stage) {
            // Errors are ignored: the listener may be closed already, or its backlog
            // full, and in either case nobody is left blocked in its `accept`. (On
            // Linux, `shutdown` on the listener wakes `accept` too, with `EINVAL`; but
            // POSIX specifies `shutdown` for connected sockets only, and Windows
            // answers WSAENOTCONN. Connecting works everywhere.)
            (Item::Listener { addr, waker }, Stage::Now) => {
                let _ = waker.connect(&SockAddr::from(*addr));
            }
            (Item::Waker(wake), Stage::Now) => wake(),
            // Stop *reading* only: a reply being written still goes out in full.
            (Item::Stream(stream), Stage::Read) => {
                let _ = stream.shutdown(Direction::Read);
            }
            // The grace period is over: a `write` still blocked fails.
            (Item::Stream(stream), Stage::Both) => {
                let _ = stream.shutdown(Direction::Both);
            }
            _ => {}
        }
    }
}
// ANCHOR_END: wake

impl Drop for Watch {
    fn drop(&mut self) {
        let entry = self.inner.lock().items.remove(&self.id);
        if let Some(entry) = entry {
            // Waits for a wake-up of this entry that is running right now, if any; after this,
            // the helper never touches the item again. (Dropped here, outside the big lock.)
            let item = entry.lock().take();
            drop(item);
        }
    }
}

impl WatchedStream {
    /// Stops watching, then ends the connection with [`close_gracefully`]: a FIN after the
    /// replies, and a short drain. Returns how many bytes the client sent that were dropped.
    pub fn close_gracefully(self) -> u64 {
        let WatchedStream { _watch, stream } = self;
        // First stop watching, so that the helper's `shutdown(Read)` cannot hit the stream
        // while we drain (see `close_gracefully`, the function).
        drop(_watch);
        close_gracefully(&stream)
    }
}

impl Deref for WatchedStream {
    type Target = TcpStream;
    fn deref(&self) -> &TcpStream {
        &self.stream
    }
}

impl Read for WatchedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.stream).read(buf)
    }
}

impl Write for WatchedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.stream).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

// ANCHOR: close_gracefully
/// How long [`close_gracefully`] waits for a client to go quiet after our FIN.
pub const DRAIN_QUIET: Duration = Duration::from_millis(200);
/// The most time [`close_gracefully`] spends draining a client that keeps sending.
pub const DRAIN_LIMIT: Duration = Duration::from_millis(800);

/// Ends a connection in an orderly way, once the replies are written: sends a FIN
/// (`shutdown(Write)`), then reads and drops what the client still sends, until the
/// client closes its side too, or stays quiet for [`DRAIN_QUIET`], or [`DRAIN_LIMIT`]
/// is over. Returns how many bytes were dropped.
///
/// Why drain: a client may still be sending when we decide to stop (it has not seen
/// our FIN yet). Closing a socket with unread data in its receive buffer, or receiving
/// data once it is closed, makes the kernel answer with a reset (RST) instead of an
/// orderly end (Linux does so; RFC 1122 §4.2.2.13 allows it): the client would see
/// "connection reset" or "broken pipe" and could lose the replies still on their way.
/// Reading on for a moment lets the client read our FIN and stop. (Shutting down our
/// *read* side instead would not help: Linux keeps accepting data after
/// `shutdown(Read)`, and once a FIN is sent too, resets the connection when more data
/// comes.)
pub fn close_gracefully(stream: &TcpStream) -> u64 {
    // The FIN goes out after everything already written: the client reads all its
    // replies, then the end of the stream.
    let _ = stream.shutdown(Direction::Write);
    let _ = stream.set_read_timeout(Some(DRAIN_QUIET));
    let started = Instant::now();
    let mut dropped = 0u64;
    let mut buf = [0u8; 16 * 1024];
    while started.elapsed() < DRAIN_LIMIT {
        match (&*stream).read(&mut buf) {
            Ok(0) => break, // the client closed its side: an orderly end on both sides
            Ok(n) => dropped += n as u64,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            // Quiet for DRAIN_QUIET (the read timed out), or the client reset: done.
            Err(_) => break,
        }
    }
    dropped
}
// ANCHOR_END: close_gracefully

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::time::Instant;

    const LIMIT: Duration = Duration::from_secs(5);

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        for s in [&client, &server] {
            s.set_read_timeout(Some(LIMIT)).unwrap();
            s.set_write_timeout(Some(LIMIT)).unwrap();
        }
        (client, server)
    }

    #[test]
    fn trigger_wakes_a_thread_blocked_in_accept() {
        let shutdown = Shutdown::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _watch = shutdown.watch_listener(&listener).unwrap();
        let (done_tx, done_rx) = mpsc::channel();
        let flag = shutdown.clone();
        thread::spawn(move || {
            let accepted = listener.accept().is_ok();
            done_tx.send((accepted, flag.is_triggered())).unwrap();
        });
        thread::sleep(Duration::from_millis(100)); // let it block in accept
        shutdown.trigger();
        let (accepted, triggered) =
            done_rx.recv_timeout(LIMIT).expect("accept never woke");
        assert!(accepted && triggered);
    }

    #[test]
    fn accept_returns_clients_until_the_trigger_then_none() {
        let shutdown = Shutdown::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _watch = shutdown.watch_listener(&listener).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_stream, peer) =
            shutdown.accept(&listener).expect("a client was waiting");
        assert_eq!(peer, client.local_addr().unwrap());

        let trigger = shutdown.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            trigger.trigger();
        });
        let started = Instant::now();
        assert!(shutdown.accept(&listener).is_none());
        assert!(started.elapsed() < LIMIT);
    }

    #[test]
    fn a_listener_on_all_interfaces_is_woken_through_loopback() {
        let shutdown = Shutdown::new();
        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let _watch = shutdown.watch_listener(&listener).unwrap();
        shutdown.trigger();
        let (_stream, peer) = listener.accept().unwrap();
        assert!(peer.ip().is_loopback());
    }

    #[test]
    fn trigger_wakes_a_blocked_read_with_end_of_stream() {
        let shutdown = Shutdown::new();
        let (_client, mut server) = pair();
        let _watch = shutdown.watch_stream(&server).unwrap();
        let reader = thread::spawn(move || {
            let started = Instant::now();
            let n = server.read(&mut [0u8; 16]).unwrap();
            (n, started.elapsed())
        });
        thread::sleep(Duration::from_millis(100));
        shutdown.trigger();
        let (n, waited) = reader.join().unwrap();
        assert_eq!(n, 0, "a woken read returns end of stream");
        assert!(
            waited < Duration::from_secs(3),
            "woken by the trigger, not the timeout"
        );
    }

    #[test]
    fn a_reply_in_flight_still_goes_out_after_the_trigger() {
        let shutdown = Shutdown::new();
        let (mut client, mut server) = pair();
        let _watch = shutdown.watch_stream(&server).unwrap();
        shutdown.trigger();
        server.write_all(b"reply").unwrap();
        drop(server);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"reply");
    }

    #[test]
    fn a_stream_watched_after_the_trigger_is_woken_at_once() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let (_client, mut server) = pair();
        let _watch = shutdown.watch_stream(&server).unwrap();
        assert_eq!(server.read(&mut [0u8; 16]).unwrap(), 0);
    }

    #[test]
    fn a_writer_stuck_on_a_client_that_never_reads_fails_after_the_grace_period() {
        let shutdown = Shutdown::with_grace(Duration::from_millis(200));
        let (_client, mut server) = pair(); // the client never reads
        server
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _watch = shutdown.watch_stream(&server).unwrap();
        let writer = thread::spawn(move || {
            let chunk = vec![7u8; 1 << 20];
            let started = Instant::now();
            loop {
                if let Err(err) = server.write_all(&chunk) {
                    return (err.kind(), started.elapsed());
                }
            }
        });
        thread::sleep(Duration::from_millis(300)); // let the buffers fill
        shutdown.trigger();
        let (kind, waited) = writer.join().unwrap();
        assert_ne!(
            kind,
            io::ErrorKind::WouldBlock,
            "woken by the helper, not the timeout"
        );
        assert!(waited < Duration::from_secs(5));
    }

    #[test]
    fn wakers_run_once_and_dropped_watches_are_forgotten() {
        let shutdown = Shutdown::new();
        let kept = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (k, d) = (Arc::clone(&kept), Arc::clone(&dropped));
        let _kept_watch = shutdown.on_trigger(move || {
            k.fetch_add(1, Ordering::SeqCst);
        });
        drop(shutdown.on_trigger(move || {
            d.fetch_add(1, Ordering::SeqCst);
        }));
        shutdown.trigger();
        shutdown.trigger();
        assert_eq!(kept.load(Ordering::SeqCst), 1);
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_slow_wake_up_does_not_block_other_threads_watching_and_unwatching() {
        let shutdown = Shutdown::new();
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        // A wake-up that takes its time, like chapter 14's broadcast to a room.
        let _slow = shutdown.on_trigger(move || {
            let _ = entered_tx.send(());
            let _ = release_rx.lock().unwrap().recv_timeout(LIMIT);
        });
        let trigger = shutdown.clone();
        let triggering = thread::spawn(move || trigger.trigger());
        entered_rx
            .recv_timeout(LIMIT)
            .expect("the wake-up never ran");

        // Meanwhile another client's thread starts and stops watching its stream.
        let (done_tx, done_rx) = mpsc::channel();
        let other = shutdown.clone();
        thread::spawn(move || {
            let (_client, server) = pair();
            let watch = other.watch_stream(&server).unwrap();
            drop(watch);
            let _ = done_tx.send(());
        });
        let unblocked = done_rx.recv_timeout(Duration::from_secs(2));
        release_tx.send(()).unwrap();
        triggering.join().unwrap();
        assert!(
            unblocked.is_ok(),
            "watching waited for another item's wake-up to finish"
        );
    }

    #[test]
    fn an_owned_stream_is_woken_and_reads_and_writes_as_the_stream() {
        let shutdown = Shutdown::new();
        let (mut client, server) = pair();
        let mut server = shutdown.watch_owned(server);
        client.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).unwrap();
        server.write_all(&got).unwrap();
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        shutdown.trigger();
        assert_eq!(
            server.read(&mut got).unwrap(),
            0,
            "woken with end of stream"
        );
    }

    #[test]
    fn closing_gracefully_sends_the_reply_then_a_fin_and_drains_what_is_still_coming()
    {
        let shutdown = Shutdown::new();
        let (client, server) = pair();
        let server = shutdown.watch_owned(server);
        // The client is still sending when the server shuts down.
        let writer = client.try_clone().unwrap();
        let sending = thread::spawn(move || {
            let chunk = [5u8; 8192];
            let mut sent = 0usize;
            let mut last = Ok(());
            for _ in 0..64 {
                last = (&writer).write_all(&chunk);
                if last.is_err() {
                    break;
                }
                sent += chunk.len();
                thread::sleep(Duration::from_millis(2));
            }
            (sent, last.map_err(|e| e.kind()))
        });
        thread::sleep(Duration::from_millis(20));
        shutdown.trigger();
        (&*server).write_all(b"last reply").unwrap();
        let closer = thread::spawn(move || server.close_gracefully());
        let mut got = Vec::new();
        (&client)
            .read_to_end(&mut got)
            .expect("an orderly end, not a reset");
        assert_eq!(got, b"last reply");
        let (_sent, last) = sending.join().unwrap();
        assert_eq!(last, Ok(()), "the client's writes were not reset");
        let dropped = closer.join().unwrap();
        assert!(dropped > 0, "the client's last bytes were drained");
    }

    #[test]
    fn wait_timeout_returns_early_on_trigger() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.wait_timeout(Duration::from_millis(10)));
        let trigger = shutdown.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            trigger.trigger();
        });
        let started = Instant::now();
        assert!(shutdown.wait_timeout(Duration::from_secs(10)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
