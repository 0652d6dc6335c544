//! A small reusable threaded TCP server: our `socketserver` (chapter 05).
//!
//! Python's `socketserver.ThreadingTCPServer(address, Handler).serve_forever()` runs the accept
//! loop and calls `Handler.handle()` for each client on a new thread. [`serve`] plays the same
//! role, with the three things python/socketserver_upper.py lacks: a bound on the threads (a
//! [`ThreadPool`]), an answer for clients that do not fit ("server busy"), and a clean Ctrl-C
//! shutdown. You give it a bound listener and a [`Handler`] — any closure
//! `Fn(TcpStream, SocketAddr, &Shutdown) -> anyhow::Result<()>` is one — and it does the rest.
//!
//! It prints one line per event, as every server in the workbook does:
//! `queued: PEER (W waiting)` (a free worker picks it up at once, or later),
//! `serving: PEER (A active, W waiting)`, `done: PEER (A active)`, `busy: PEER …`, and on
//! shutdown `closed: PEER (queued; shutting down)` for the clients that never got a worker.

use std::io::{Read, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli;
use crate::pool::ThreadPool;
use crate::shutdown::Shutdown;

// ANCHOR: handler
/// What the server does with one client: Python's `BaseRequestHandler.handle`.
///
/// It gets the client's stream (with read and write timeouts already set), the client's
/// address, and the shutdown handle (to [watch](Shutdown::watch_stream) the stream, so that a
/// Ctrl-C wakes a blocked read). An error ends this client only; the server logs it.
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
    F: Fn(TcpStream, SocketAddr, &Shutdown) -> anyhow::Result<()> + Send + Sync + 'static,
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
// ANCHOR_END: lines

/// How long a refusal waits for the client to close after reading our line.
const REFUSAL_LINGER: Duration = Duration::from_millis(200);
/// How many refusals may wait for the refusing thread before we drop clients outright.
const REFUSALS_WAITING: usize = 64;

// ANCHOR: serve
/// Serves clients from `listener` with `handler` on a pool of `config.workers` threads, until
/// `shutdown` is triggered; then lets the clients being served finish (the shutdown helper's
/// grace period), tells queued ones that the server is shutting down, and returns.
pub fn serve(
    listener: &TcpListener,
    shutdown: &Shutdown,
    config: &Config,
    handler: impl Handler,
) -> anyhow::Result<Summary> {
    let _listener_watch = shutdown
        .watch_listener(listener)
        .context("cannot watch the listener for Ctrl-C")?;
    let pool =
        ThreadPool::new(config.workers, config.queue).context("cannot start the worker threads")?;
    let refuser = Refuser::start().context("cannot start the refusing thread")?;
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
        // 1. A place in the pool (a free worker, or room in the queue)? Only then does the
        //    client's socket move into a job; otherwise we still hold it and can say "busy".
        let Some(place) = pool.try_reserve() else {
            counts.busy.fetch_add(1, Ordering::SeqCst);
            println!("busy: {peer} turned away (every worker busy, queue full)");
            refuser.refuse(stream, peer);
            continue;
        };
        let waiting = counts.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        println!("queued: {peer} ({waiting} waiting)");
        let (handler, counts, shutdown) =
            (Arc::clone(&handler), Arc::clone(&counts), shutdown.clone());
        // 2. The job runs on a worker, now or when one becomes free.
        place.execute(move || run_one(&*handler, stream, peer, &shutdown, &counts));
    }

    // 3. Shutdown: no more accepting. Dropping the pool lets the workers finish the clients
    //    they are serving (woken by the helper) and run every queued job, which now sees the
    //    shutdown and turns its client away; then the workers are joined.
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
/// One job: serve one client on a worker thread, unless the server is shutting down already.
fn run_one(
    handler: &dyn Handler,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    counts: &Counts,
) {
    let waiting = counts.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
    if shutdown.is_triggered() {
        // Queued, never served: say why we close, rather than just closing.
        counts.turned_away.fetch_add(1, Ordering::SeqCst);
        println!("closed: {peer} (queued; shutting down)");
        say_and_close(stream, SHUTTING_DOWN_LINE.as_bytes());
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
/// Tells a client why it is being closed (`last_words`: a line, or a frame), then closes
/// *cleanly*. Handlers use it too, for a last error message.
///
/// Closing a socket that still has unread bytes in its receive buffer (the client may have sent
/// its request already) makes the kernel send a reset, and a reset can destroy our line before
/// the client reads it. So: write the line, half-close (our FIN follows the line), and read and
/// discard until the client closes too, or for a short while at most. Apache calls this a
/// "lingering close".
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

/// A thread that turns clients away, so that the accept loop never waits on a refusal.
struct Refuser {
    sender: Option<mpsc::SyncSender<TcpStream>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Refuser {
    fn start() -> std::io::Result<Refuser> {
        let (sender, receiver) = mpsc::sync_channel::<TcpStream>(REFUSALS_WAITING);
        let thread = thread::Builder::new()
            .name("refuser".into())
            .spawn(move || {
                for stream in receiver {
                    say_and_close(stream, BUSY_LINE.as_bytes());
                }
            })?;
        Ok(Refuser {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Hands `stream` to the refusing thread, which tells it "busy"; if even that thread is
    /// swamped, closes it at once.
    fn refuse(&self, stream: TcpStream, peer: SocketAddr) {
        let sender = self.sender.as_ref().expect("the refuser is running");
        if sender.try_send(stream).is_err() {
            eprintln!("error: too many clients to turn away politely; closed {peer} at once");
        }
    }
}

impl Drop for Refuser {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

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
        thread::spawn(move || tx.send(serve(&listener, &handle, &config, handler).unwrap()));
        (addr, shutdown, rx)
    }

    fn config(workers: usize, queue: usize) -> Config {
        Config {
            workers,
            queue,
            idle_timeout: LIMIT,
        }
    }

    /// A handler that greets, then waits for the client to close.
    fn greeter(mut stream: TcpStream, _: SocketAddr, shutdown: &Shutdown) -> anyhow::Result<()> {
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
}
