//! Ctrl-C shutdown for blocking servers (chapter 03; every server from 03 on uses it).
//!
//! Setting a flag on Ctrl-C is the easy half. The hard half is that a server thread is almost
//! always *blocked in a system call* when the signal comes: in `accept` waiting for the next
//! client, or in `read` waiting for a client's next bytes. Neither returns by itself:
//! `ctrlc` installs its handler with `SA_RESTART`, so the kernel restarts the interrupted call,
//! and std retries `EINTR` anyway. The thread would sleep through the shutdown.
//!
//! So a [`Shutdown`] remembers the sockets a server blocks on and, when triggered, *wakes* each
//! one with an ordinary socket operation:
//!
//! | the server is blocked in… | the helper…                                   | the call returns…  |
//! |---------------------------|-----------------------------------------------|--------------------|
//! | `listener.accept()`       | connects to the listener itself               | a (dummy) client   |
//! | `stream.read()`           | `shutdown(Read)` on a clone of the stream     | `Ok(0)`, end of stream |
//! | `stream.write()` (a client that does not read) | after a grace period, `shutdown(Both)` | an error |
//!
//! After waking up, the server checks [`Shutdown::is_triggered`] and leaves its loop. A request
//! that was already read still gets its reply (only *reading* stops at first), which is what a
//! clean close of the connection in flight means for an echo server.
//!
//! `ctrlc` can be installed once per process, so the Ctrl-C handler is just one caller of
//! [`Shutdown::trigger`]; tests create a [`Shutdown::new`] and trigger it directly.

use std::collections::BTreeMap;
use std::io;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown as Direction, SocketAddr, TcpListener, TcpStream,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use anyhow::Context;

/// How long connections in flight get after a shutdown before they are closed by force.
pub const DEFAULT_GRACE: Duration = Duration::from_millis(1000);

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
}

#[derive(Default)]
struct Watched {
    next_id: u64,
    items: BTreeMap<u64, Item>,
}

/// What a server may be blocked on, and so what the helper must wake.
enum Item {
    /// A listening socket: woken by connecting to it.
    Listener(SocketAddr),
    /// A client's stream (our own clone of it): woken by shutting it down.
    Stream(TcpStream),
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
            }),
        }
    }

    // ANCHOR: on_ctrl_c
    /// A handle triggered by Ctrl-C (SIGINT on Unix). A second Ctrl-C exits at once with code
    /// 130, the shell's code for "killed by SIGINT", for when a shutdown itself hangs.
    ///
    /// Fails if a Ctrl-C handler is installed already: there can be only one per process.
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
    /// Begins the shutdown: sets the flag, wakes everything watched, and closes watched streams
    /// that are still open after the grace period. Calling it again does nothing.
    pub fn trigger(&self) {
        let watched = self.inner.lock();
        // The flag changes under the lock, so a socket is either watched before the trigger
        // (and woken here) or sees the flag when it registers (and is woken there): never missed.
        if self.inner.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        for item in watched.items.values() {
            item.wake();
        }
        drop(watched);
        self.inner.wakeup.notify_all();

        // A thread blocked in `write` to a client that stopped reading is not woken by
        // `shutdown(Read)`. Give it the grace period, then shut the stream down both ways.
        let inner = Arc::clone(&self.inner);
        let spawned = thread::Builder::new()
            .name("shutdown-grace".into())
            .spawn(move || {
                thread::sleep(inner.grace);
                for item in inner.lock().items.values() {
                    if let Item::Stream(stream) = item {
                        let _ = stream.shutdown(Direction::Both);
                    }
                }
            });
        if let Err(err) = spawned {
            eprintln!("warning: cannot start the shutdown grace timer: {err}");
        }
    }
    // ANCHOR_END: trigger

    // ANCHOR: accept
    /// One step of an accept loop: waits for the next client, or returns `None` once shutdown
    /// has begun (the listener must be [watched](Self::watch_listener), or a blocked `accept`
    /// would sleep through it).
    ///
    /// An error from `accept` itself loses that one client, never the server: out of file
    /// descriptors (`EMFILE`), say, or a client that reset while still in the backlog. It is
    /// logged on one line, and a short pause keeps a persistent error from spinning the CPU.
    pub fn accept(&self, listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
        loop {
            if self.is_triggered() {
                return None;
            }
            match listener.accept() {
                // Woken for shutdown? The "client" may be our own wake-up call: drop it.
                Ok(_) if self.is_triggered() => return None,
                Ok(accepted) => return Some(accepted),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    eprintln!("error: accept failed: {}", crate::cli::describe_io(&err));
                    self.wait_timeout(Duration::from_millis(100));
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
    pub fn watch_listener(&self, listener: &TcpListener) -> io::Result<Watch> {
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        Ok(self.watch(Item::Listener(addr)))
    }

    /// Watches a client's stream, so that a thread blocked in its `read` wakes on shutdown
    /// (the read returns `Ok(0)`, as if the client had closed), and a thread blocked in its
    /// `write` gets an error once the grace period is over.
    pub fn watch_stream(&self, stream: &TcpStream) -> io::Result<Watch> {
        // A clone is a second handle to the same kernel socket (`dup`): shutting it down
        // affects the server's handle too, and the server keeps ownership of its own.
        Ok(self.watch(Item::Stream(stream.try_clone()?)))
    }

    /// Calls `wake` when shutdown begins (at once if it has begun already), for servers that
    /// block on something else than a socket: a poller, a channel, a condition variable.
    pub fn on_trigger(&self, wake: impl Fn() + Send + 'static) -> Watch {
        self.watch(Item::Waker(Box::new(wake)))
    }

    fn watch(&self, item: Item) -> Watch {
        let mut watched = self.inner.lock();
        if self.is_triggered() {
            item.wake();
        }
        let id = watched.next_id;
        watched.next_id += 1;
        watched.items.insert(id, item);
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
    fn lock(&self) -> MutexGuard<'_, Watched> {
        // A panic while holding this lock cannot leave the map half-changed (inserts and
        // removes are single calls), so a poisoned lock is still safe to use.
        self.watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// ANCHOR: wake
impl Item {
    fn wake(&self) {
        match self {
            // Errors are ignored: the listener may be closed already, or its backlog full, and
            // in either case nobody is left blocked in its `accept`.
            Item::Listener(addr) => {
                let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
            }
            // Stop *reading* only: a reply being written still goes out in full.
            Item::Stream(stream) => {
                let _ = stream.shutdown(Direction::Read);
            }
            Item::Waker(wake) => wake(),
        }
    }
}
// ANCHOR_END: wake

impl Drop for Watch {
    fn drop(&mut self) {
        self.inner.lock().items.remove(&self.id);
    }
}

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
        let (accepted, triggered) = done_rx.recv_timeout(LIMIT).expect("accept never woke");
        assert!(accepted && triggered);
    }

    #[test]
    fn accept_returns_clients_until_the_trigger_then_none() {
        let shutdown = Shutdown::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _watch = shutdown.watch_listener(&listener).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_stream, peer) = shutdown.accept(&listener).expect("a client was waiting");
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
