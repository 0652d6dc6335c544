//! A small reusable threaded TCP server: our `socketserver` (chapter 05).
//!
//! Python's `socketserver.ThreadingTCPServer(address, Handler).serve_forever()` runs the accept
//! loop and calls `Handler.handle()` for each client on a new thread. [`serve`] plays the same
//! role, with the three things python/socketserver_upper.py lacks: a bound on the threads (a
//! [`ThreadPool`]), an answer for clients that do not fit ("server busy"), and a clean Ctrl-C
//! shutdown. You give it a bound listener and a [`Handler`] — any closure
//! `Fn(TcpStream, SocketAddr, &Shutdown) -> anyhow::Result<()>` is one — and it does the rest.
//!
//! Turning clients away is cheap whatever the load: one thread, a bounded number of sockets,
//! and no refusal ever waits for another (see [`Refusals`] and the refusing thread below).
//!
//! It prints one line per event, as every server in the workbook does:
//! `queued: PEER (W waiting)` (a free worker picks it up at once, or later),
//! `serving: PEER (A active, W waiting)`, `done: PEER (A active)`, `busy: PEER …`, and on
//! shutdown `closed: PEER (queued; shutting down)` for the clients that never got a worker.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli;
use crate::pool::ThreadPool;
use crate::shutdown::Shutdown;

// ANCHOR: handler
/// What the server does with one client: Python's `BaseRequestHandler.handle`.
///
/// It gets the client's stream (with read and write timeouts already set), the
/// client's address, and the shutdown handle (to [watch](Shutdown::watch_stream) the
/// stream, so that a Ctrl-C wakes a blocked read). An error ends this client only; the
/// server logs it.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()>;
}

/// Any suitable closure is a handler.
impl<F> Handler for F
where
    F: Fn(TcpStream, SocketAddr, &Shutdown) -> anyhow::Result<()>
        + Send
        + Sync
        + 'static,
{
    fn handle(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()> {
        self(stream, peer, shutdown)
    }
}
// ANCHOR_END: handler

/// How many threads, how long a queue, how long a silent client may hold a worker.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads: at most this many clients are served at once.
    pub workers: usize,
    /// Clients that may wait for a worker; beyond that, new clients are told "busy".
    pub queue: usize,
    /// Read and write timeout of every client socket.
    pub idle_timeout: Duration,
    /// What a client that is turned away is told, in the handler's protocol.
    pub refusals: Refusals,
}

/// What a server run did, for its last line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Clients that a worker served (to the end, or until an error).
    pub served: u64,
    /// Clients told "server busy" because every worker was busy and the queue was full.
    pub busy: u64,
    /// Clients still queued at shutdown, told "server shutting down".
    pub turned_away_at_shutdown: u64,
}

// ANCHOR: lines
/// The line a client gets when the pool is full.
pub const BUSY_LINE: &str = "server busy, try again later\n";
/// The line a queued client gets when the server shuts down before serving it.
pub const SHUTTING_DOWN_LINE: &str = "server shutting down\n";

/// The bytes a client gets instead of service. They must be in the protocol the client
/// speaks: a framed client (chapter 12) that received the text line `server busy…`
/// would read its first four bytes, `serv`, as the length of a 1,936,028,278-byte
/// frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    /// When every worker is busy and the queue is full.
    pub busy: Vec<u8>,
    /// To a client still queued when the server shuts down.
    pub shutting_down: Vec<u8>,
}

impl Refusals {
    /// Text lines, [`BUSY_LINE`] and [`SHUTTING_DOWN_LINE`]: for line and byte
    /// protocols (what `nc` shows).
    pub fn lines() -> Refusals {
        Refusals {
            busy: BUSY_LINE.as_bytes().to_vec(),
            shutting_down: SHUTTING_DOWN_LINE.as_bytes().to_vec(),
        }
    }

    /// The same words as length-prefixed frames (chapter 12), each an error frame
    /// (`error: server busy, try again later`), the form in which the framed servers
    /// report every error to their clients.
    pub fn frames() -> Refusals {
        let frame = |line: &str| {
            let mut frame = Vec::new();
            let text = format!("error: {}", line.trim_end());
            crate::framing::write_frame(&mut frame, text.as_bytes())
                .expect("writing to a Vec cannot fail");
            frame
        };
        Refusals {
            busy: frame(BUSY_LINE),
            shutting_down: frame(SHUTTING_DOWN_LINE),
        }
    }
}
// ANCHOR_END: lines

/// How long a refusal waits for the client to close after reading our words.
const REFUSAL_LINGER: Duration = Duration::from_millis(200);
/// Refused clients handed to the refusing thread and not yet taken by it. The accept loop never
/// waits for that thread: beyond this many, a refused client is closed right after its words.
const REFUSALS_WAITING: usize = 64;
/// Refused clients lingering at once. Beyond that, the oldest is closed early: a flood of
/// connections costs at most this many sockets (plus [`REFUSALS_WAITING`]), never a thread each.
const REFUSALS_LINGERING: usize = 64;
/// How often the refusing thread looks at its lingering clients while it has any.
const REFUSAL_TICK: Duration = Duration::from_millis(10);

// ANCHOR: serve
/// Serves clients from `listener` with `handler` on a pool of `config.workers`
/// threads, until `shutdown` is triggered; then lets the clients being served finish
/// (the shutdown helper's grace period), tells queued ones that the server is shutting
/// down, and returns.
pub fn serve(
    listener: &TcpListener,
    shutdown: &Shutdown,
    config: &Config,
    handler: impl Handler,
) -> anyhow::Result<Summary> {
    let _listener_watch = shutdown
        .watch_listener(listener)
        .context("cannot watch the listener for Ctrl-C")?;
    let pool = ThreadPool::new(config.workers, config.queue);
    let pool = pool.context("cannot start the worker threads")?;
    let refusals = config.refusals.clone();
    let refuser =
        Refuser::start(refusals).context("cannot start the refusing thread")?;
    let handler = Arc::new(handler);
    let counts = Arc::new(Counts::default());

    while let Some((stream, peer)) = shutdown.accept(listener) {
        if let Err(err) = stream
            .set_read_timeout(Some(config.idle_timeout))
            .and_then(|()| stream.set_write_timeout(Some(config.idle_timeout)))
        {
            eprintln!(
                "error: cannot set timeouts for {peer}: {}",
                cli::describe_io(&err)
            );
            continue;
        }
        // 1. A place in the pool (a free worker, or room in the queue)? Only then does
        //    the client's socket move into a job; otherwise we still hold it and can
        //    say "busy".
        let Some(place) = pool.try_reserve() else {
            counts.busy.fetch_add(1, Ordering::SeqCst);
            println!("busy: {peer} turned away (every worker busy, queue full)");
            refuser.handle().refuse(stream, Why::Busy);
            continue;
        };
        let waiting = counts.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        println!("queued: {peer} ({waiting} waiting)");
        let (handler, counts, shutdown, refuser) = (
            Arc::clone(&handler),
            Arc::clone(&counts),
            shutdown.clone(),
            refuser.handle().clone(),
        );
        // 2. The job runs on a worker, now or when one becomes free.
        let job =
            move || run_one(&*handler, stream, peer, &shutdown, &counts, &refuser);
        place.execute(job);
    }

    // 3. Shutdown: no more accepting. Dropping the pool lets the workers finish the
    //    clients they are serving (woken by the helper) and run every queued job,
    //    which now sees the shutdown and hands its client to the refusing thread; then
    //    the workers are joined. Dropping the refuser lets it finish its lingering
    //    closes: 200 ms at most, however many there are, because they linger side by
    //    side, not one after another.
    drop(pool);
    drop(refuser);
    Ok(Summary {
        served: counts.served.load(Ordering::SeqCst),
        busy: counts.busy.load(Ordering::SeqCst),
        turned_away_at_shutdown: counts.turned_away.load(Ordering::SeqCst),
    })
}
// ANCHOR_END: serve

/// The counters that the accept loop and the workers share.
#[derive(Default)]
struct Counts {
    active: AtomicUsize,
    waiting: AtomicUsize,
    served: AtomicU64,
    busy: AtomicU64,
    turned_away: AtomicU64,
}

// ANCHOR: run_one
/// One job: serve one client on a worker thread, unless the server is shutting down
/// already.
fn run_one(
    handler: &dyn Handler,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    counts: &Counts,
    refuser: &RefuserHandle,
) {
    let waiting = counts.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
    if shutdown.is_triggered() {
        // Queued, never served: say why we close, rather than just closing. The
        // refusing thread does the lingering, so that this worker goes on with the
        // next one at once.
        counts.turned_away.fetch_add(1, Ordering::SeqCst);
        println!("closed: {peer} (queued; shutting down)");
        refuser.refuse(stream, Why::ShuttingDown);
        return;
    }
    let active = counts.active.fetch_add(1, Ordering::SeqCst) + 1;
    println!("serving: {peer} ({active} active, {waiting} waiting)");
    let result = handler.handle(stream, peer, shutdown);
    let active = counts.active.fetch_sub(1, Ordering::SeqCst) - 1;
    counts.served.fetch_add(1, Ordering::SeqCst);
    match result {
        Ok(()) => println!("done: {peer} ({active} active)"),
        Err(err) => {
            eprintln!("error: {}", cli::one_line(&err));
            println!("done: {peer} after an error ({active} active)");
        }
    }
}
// ANCHOR_END: run_one

// ANCHOR: say_and_close
/// Tells a client why it is being closed (`last_words`: a line, or a frame), then
/// closes *cleanly*. Handlers use it too, for a last error message.
///
/// Why not just write and close? Closing a socket that still has unread bytes in its
/// receive buffer (the client may have sent its request already) makes the kernel send
/// a reset (RST) instead of a FIN (RFC 1122, 4.2.2.13, says a TCP should; Linux does).
/// What a reset does to the client depends on the client's system:
///
/// - Linux: bytes that had arrived before the reset are still returned by `read`; the
///   reset shows on the *next* read, as `connection reset by peer` instead of a clean
///   end of stream. A client that reads to the end reports an error after our line.
/// - Windows: once the reset is in, `recv` fails with WSAECONNRESET (Microsoft's
///   `closesocket` documentation), and the line the client had not read yet is lost.
///
/// So: write the line, then half-close, so that our FIN follows it (a Linux client
/// that got the FIN sees a clean end of stream, even if a reset comes later), then
/// read and discard until the client closes too, or for a short while at most, and
/// then close. Apache calls this a "lingering close". The test
/// `linux_returns_data_received_before_a_reset_and_a_fin_first_hides_the_reset` in
/// `tests/05_thread_pool_server.rs` shows both Linux cases.
pub fn say_and_close(mut stream: TcpStream, last_words: &[u8]) {
    let _ = stream.write_all(last_words);
    let _ = stream.shutdown(Direction::Write);
    let deadline = Instant::now() + REFUSAL_LINGER;
    let mut sink = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
// ANCHOR_END: say_and_close

// ANCHOR: deadline
/// A reader that gives each whole *message* a time limit, not each `read`.
///
/// A read timeout bounds one `read`. A client that sends one byte every few seconds
/// never trips it, and keeps its worker for as long as it likes without ever finishing
/// a request: a "trickler" (chapter 04's slowloris). This reader sets the socket's
/// read timeout to the time left before a deadline, before every read, so the whole
/// message must be in before the deadline; [`restart`](Self::restart) gives the next
/// message its time. Past the deadline, reads fail with `TimedOut`, as an idle
/// client's do.
///
/// Setting the timeout is a system call (`setsockopt`), as costly as the `read`
/// itself when a message is small. So the time left is rounded *up* to a whole
/// [`DEADLINE_STEP`], and the call is made only when that value changes: the first
/// read of every message finds the socket already set (to `limit`, rounded up) by the
/// message before, and a conversation of small messages costs one `setsockopt` per
/// connection, not one per message. A trickler's reads, seconds apart, still shorten
/// the timeout every time; the rounding adds at most one step to the deadline (the
/// kernel's timers may add a little more). This reader owns the socket's read
/// timeout: a `set_read_timeout` elsewhere on the same socket (a clone shares it)
/// would go unnoticed.
pub struct MessageDeadline {
    stream: TcpStream,
    limit: Duration,
    deadline: Instant,
    /// The read timeout the socket has now (`None`: not set by us yet).
    timeout: Option<Duration>,
}

/// How finely [`MessageDeadline`] follows its deadline: its rounding lets a read wait
/// up to this much past it.
pub const DEADLINE_STEP: Duration = Duration::from_millis(10);

impl MessageDeadline {
    /// Reads from `stream`, giving each message `limit`, starting now.
    pub fn new(stream: TcpStream, limit: Duration) -> Self {
        let deadline = Instant::now() + limit;
        MessageDeadline {
            stream,
            limit,
            deadline,
            timeout: None,
        }
    }

    /// The next message gets `limit` from now.
    pub fn restart(&mut self) {
        self.deadline = Instant::now() + self.limit;
    }
}

impl Read for MessageDeadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                "the message did not arrive in time",
            ));
        }
        // The time left, rounded up to a whole step: at most a step late, never early.
        let steps = left.as_nanos().div_ceil(DEADLINE_STEP.as_nanos());
        let timeout =
            DEADLINE_STEP.saturating_mul(steps.try_into().unwrap_or(u32::MAX));
        if self.timeout != Some(timeout) {
            self.stream.set_read_timeout(Some(timeout))?;
            self.timeout = Some(timeout);
        }
        self.stream.read(buf)
    }
}
// ANCHOR_END: deadline

/// Which words a refused client gets.
#[derive(Clone, Copy)]
enum Why {
    Busy,
    ShuttingDown,
}

// ANCHOR: refuser
/// Turns clients away without ever making the caller wait, and closes them on a thread
/// of its own.
///
/// [`say_and_close`] lingers up to 200 ms on *one* client. A thread that did that for
/// each refused client in turn would need 13 s for 64 of them, under a flood, and
/// Ctrl-C would wait for it. So a refused socket is made non-blocking (chapter 07 in
/// miniature): the caller writes the words and the FIN at once, which never waits, and
/// hands the socket to the refusing thread. That thread keeps every refused client in
/// one list and drains them all every 10 ms, until each has closed or had its 200 ms.
/// However many clients are refused, each is done within about 200 ms, all on this one
/// thread.
struct Refuser {
    handle: Option<RefuserHandle>,
    thread: Option<thread::JoinHandle<()>>,
}

/// The accept loop's and the workers' way to turn a client away.
#[derive(Clone)]
struct RefuserHandle {
    sender: SyncSender<Lingering>,
    refusals: Arc<Refusals>,
}

/// A refused client whose lingering close is under way.
struct Lingering {
    stream: TcpStream,
    deadline: Instant,
}

impl Refuser {
    fn start(refusals: Refusals) -> std::io::Result<Refuser> {
        let (sender, receiver) = mpsc::sync_channel(REFUSALS_WAITING);
        let thread = thread::Builder::new()
            .name("refuser".into())
            .spawn(move || linger_all(&receiver))?;
        let refusals = Arc::new(refusals);
        Ok(Refuser {
            handle: Some(RefuserHandle { sender, refusals }),
            thread: Some(thread),
        })
    }

    fn handle(&self) -> &RefuserHandle {
        self.handle.as_ref().expect("the refuser is running")
    }
}

impl RefuserHandle {
    /// Tells the client `why`, sends our FIN, and hands the socket to the refusing
    /// thread for its lingering close. Never blocks.
    fn refuse(&self, mut stream: TcpStream, why: Why) {
        let words = match why {
            Why::Busy => &self.refusals.busy,
            Why::ShuttingDown => &self.refusals.shutting_down,
        };
        // Non-blocking: the accept loop must never wait for one client.
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        // A few dozen bytes into the empty send buffer of a new connection: the kernel
        // takes them all at once. (A client that advertised a zero window gets what
        // fits.)
        let _ = stream.write(words);
        let _ = stream.shutdown(Direction::Write);
        let lingering = Lingering {
            stream,
            deadline: Instant::now() + REFUSAL_LINGER,
        };
        // If the refusing thread is 64 clients behind, this one is closed now instead:
        // it has its words and our FIN already (a Linux client reads them, then a
        // clean end of stream, as the test of the lingering close shows), and the
        // flood costs no more sockets.
        let _ = self.sender.try_send(lingering);
    }
}

/// The refusing thread: keeps refused clients until each has closed or had its time.
fn linger_all(receiver: &Receiver<Lingering>) {
    let mut lingering: VecDeque<Lingering> = VecDeque::new();
    let mut next_sweep = Instant::now();
    loop {
        // 1. Take new clients: wait without a time limit when nobody lingers (an idle
        //    server costs nothing), else for one tick at most.
        let first = if lingering.is_empty() {
            match receiver.recv() {
                Ok(client) => Some(client),
                Err(_) => return, // the server is done, and nobody lingers
            }
        } else {
            match receiver.recv_timeout(REFUSAL_TICK) {
                Ok(client) => Some(client),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    // The server is done: finish the lingering closes.
                    thread::sleep(REFUSAL_TICK);
                    None
                }
            }
        };
        let waiting = std::iter::from_fn(|| receiver.try_recv().ok());
        for client in first.into_iter().chain(waiting) {
            if lingering.len() == REFUSALS_LINGERING {
                lingering.pop_front(); // the oldest has had the most time: closed now
            }
            lingering.push_back(client);
        }
        // 2. Once a tick (not for every new client: under a flood, that would be a
        //    read per lingering client per refused one), drain every lingering client,
        //    and close those that closed or whose time is up.
        let now = Instant::now();
        if now >= next_sweep {
            lingering.retain_mut(|c| now < c.deadline && drain(&mut c.stream));
            next_sweep = now + REFUSAL_TICK;
        }
    }
}

/// Reads and discards what a lingering client sent. `false` once it has closed (or
/// failed): dropping the socket then closes it with nothing unread, so without a
/// reset.
fn drain(stream: &mut TcpStream) -> bool {
    let mut sink = [0u8; 4096];
    // A bounded number of reads per tick: a client that sends as fast as it can must
    // not keep this thread from the others.
    for _ in 0..16 {
        match stream.read(&mut sink) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::WouldBlock => return true,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

impl Drop for Refuser {
    /// Stops taking clients, lets the lingering closes finish (200 ms at most), and
    /// joins.
    fn drop(&mut self) {
        drop(self.handle.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
// ANCHOR_END: refuser

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::sync::mpsc::channel;

    const LIMIT: Duration = Duration::from_secs(5);

    fn client(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.set_write_timeout(Some(LIMIT)).unwrap();
        stream
    }

    /// Starts `serve` on a thread; returns its address, its shutdown handle and its result.
    fn start(
        config: Config,
        handler: impl Handler,
    ) -> (SocketAddr, Shutdown, mpsc::Receiver<Summary>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::with_grace(Duration::from_millis(300));
        let (tx, rx) = channel();
        let handle = shutdown.clone();
        thread::spawn(move || {
            tx.send(serve(&listener, &handle, &config, handler).unwrap())
        });
        (addr, shutdown, rx)
    }

    fn config(workers: usize, queue: usize) -> Config {
        Config {
            workers,
            queue,
            idle_timeout: LIMIT,
            refusals: Refusals::lines(),
        }
    }

    /// A handler that greets, then waits for the client to close.
    fn greeter(
        mut stream: TcpStream,
        _: SocketAddr,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()> {
        let _watch = shutdown.watch_stream(&stream)?;
        stream.write_all(b"hello\n")?;
        let _ = stream.read(&mut [0u8; 16])?;
        Ok(())
    }

    fn first_line(stream: &TcpStream) -> String {
        let mut line = String::new();
        std::io::BufReader::new(stream)
            .read_line(&mut line)
            .unwrap();
        line
    }

    #[test]
    fn serves_with_a_closure_handler_and_turns_away_the_overflow() {
        let (addr, shutdown, result) = start(config(1, 1), greeter);
        let served = client(addr);
        assert_eq!(first_line(&served), "hello\n"); // holds the only worker
        let queued = client(addr); // waits in the queue
        let turned_away = client(addr);
        assert_eq!(first_line(&turned_away), BUSY_LINE);
        drop(served); // the worker is free: the queued client is served
        assert_eq!(first_line(&queued), "hello\n");
        drop(queued);
        shutdown.trigger();
        let summary = result.recv_timeout(LIMIT).unwrap();
        assert_eq!(summary.served, 2);
        assert_eq!(summary.busy, 1);
    }

    #[test]
    fn shutdown_drains_the_queue_telling_queued_clients_why() {
        let (addr, shutdown, result) = start(config(1, 2), greeter);
        let served = client(addr);
        assert_eq!(first_line(&served), "hello\n");
        let queued: Vec<TcpStream> = (0..2).map(|_| client(addr)).collect();
        thread::sleep(Duration::from_millis(100)); // let the server accept and queue them
        shutdown.trigger();
        for stream in &queued {
            assert_eq!(first_line(stream), SHUTTING_DOWN_LINE);
        }
        let summary = result.recv_timeout(LIMIT).unwrap();
        assert_eq!(summary.turned_away_at_shutdown, 2);
        assert_eq!(summary.served, 1);
        drop(served);
    }

    #[test]
    fn framed_refusals_are_error_frames() {
        let frames = Refusals::frames();
        let mut busy = &frames.busy[..];
        let payload = crate::framing::read_frame(&mut busy, 1024)
            .unwrap()
            .unwrap();
        assert_eq!(payload, b"error: server busy, try again later");
        assert!(busy.is_empty(), "one frame, nothing after it");
        let mut closing = &frames.shutting_down[..];
        let payload = crate::framing::read_frame(&mut closing, 1024)
            .unwrap()
            .unwrap();
        assert_eq!(payload, b"error: server shutting down");
    }

    /// Regression: the refusing thread lingered up to 200 ms on each refused client, one after
    /// another, so under a flood the 40th client waited 8 s for its "busy", and Ctrl-C waited
    /// for all of them.
    #[test]
    fn refusals_linger_side_by_side_and_shutdown_does_not_wait_for_them_in_turn() {
        let (addr, shutdown, result) = start(config(1, 0), greeter);
        let served = client(addr);
        assert_eq!(first_line(&served), "hello\n"); // holds the only worker
        let started = Instant::now();
        // Forty clients that stay connected and never close: each refusal lingers its full
        // 200 ms.
        let refused: Vec<TcpStream> = (0..40).map(|_| client(addr)).collect();
        for stream in &refused {
            assert_eq!(first_line(stream), BUSY_LINE);
        }
        let told = started.elapsed();
        assert!(told < Duration::from_secs(2), "40 refusals took {told:?}");
        // Forty more, and Ctrl-C while they linger.
        let more: Vec<TcpStream> = (0..40).map(|_| client(addr)).collect();
        for stream in &more {
            assert_eq!(first_line(stream), BUSY_LINE); // accepted, refused, still lingering
        }
        let triggered = Instant::now();
        shutdown.trigger();
        let summary = result.recv_timeout(LIMIT).expect("serve did not return");
        let took = triggered.elapsed();
        assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
        assert_eq!(summary.busy, 80);
        drop((served, refused, more));
    }

    /// A message deadline costs a `setsockopt` only when the time left, in whole steps,
    /// changes: not at the first read of each new message, which finds the socket set to
    /// the whole limit already; but after a pause within a message, which shortens it.
    #[test]
    fn message_deadline_sets_the_timeout_only_when_it_changes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = client(listener.local_addr().unwrap());
        let (stream, _) = listener.accept().unwrap();
        let limit = Duration::from_secs(10);
        let mut reader = MessageDeadline::new(stream, limit);
        let mut buf = [0u8; 16];
        for message in [&b"one"[..], b"two", b"three"] {
            reader.restart();
            peer.write_all(message).unwrap();
            let n = reader.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], message);
            assert_eq!(reader.timeout, Some(limit), "rounded up to the whole limit");
        }
        let set = reader.stream.read_timeout().unwrap().unwrap();
        assert!(
            set.abs_diff(limit) < DEADLINE_STEP,
            "the socket's own: {set:?}"
        );
        // A pause in the middle of a message: the next read gets less time.
        thread::sleep(Duration::from_millis(60));
        peer.write_all(b"!").unwrap();
        assert_eq!(reader.read(&mut buf).unwrap(), 1);
        let shorter = reader.timeout.unwrap();
        assert!(
            shorter <= limit - Duration::from_millis(50) && shorter > limit / 2,
            "{shorter:?}"
        );
        assert_eq!(shorter.as_millis() % DEADLINE_STEP.as_millis(), 0);
        // The kernel keeps it in its own units (Linux: clock ticks), so only nearly equal.
        let on_socket = reader.stream.read_timeout().unwrap().unwrap();
        assert!(on_socket.abs_diff(shorter) < DEADLINE_STEP, "{on_socket:?}");
    }
}
