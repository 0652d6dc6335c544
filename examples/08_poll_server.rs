//! # 08 — readiness, select-style: a poll server
//!
//! Teaches readiness polling: instead of trying every socket in turn (chapter 07), the thread
//! hands the OS the list of sockets it cares about and sleeps in one call until at least one of
//! them is ready — the job of `select`, `poll`, `epoll` (Linux), `kqueue` (macOS, BSD) and IOCP
//! (Windows), which the `polling` crate wraps behind one API. An idle server uses no CPU, and a
//! reply goes out the moment its request arrives.
//!
//! ```text
//! terminal 1:  cargo run --example 08_poll_server
//! terminal 2:  cargo run --example 02_echo_client -- hello
//! terminal 3:  top -p $(pgrep 08_poll_server)       (0% CPU while idle)
//! ```
//!
//! Look for `connected:` lines counting clients: one thread serves them all.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use polling::{AsRawSource, AsSource, Event, Events, PollMode, Poller};
use socket_workbook::cli::Throttle;
use socket_workbook::shutdown::{
    ACCEPT_PAUSE, DEFAULT_GRACE, ERROR_LINE_INTERVAL, Shutdown,
};
use socket_workbook::{cli, net};

/// Poll server: one thread waits for readiness on every socket at once.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Most bytes waiting to be written to one client. A client that does not read its echoes
    /// is not read from until its backlog drains.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024,
          value_parser = cli::number::<usize>(1..=1 << 30))]
    max_pending: usize,
}

// ANCHOR: registered
/// A socket registered with the poller, which it leaves again before it is closed.
///
/// This is the one place that keeps the contract of polling's `unsafe` `add`: delete a
/// socket from the poller before dropping it. What breaks otherwise depends on the OS
/// mechanism. A `poll()`-style backend keeps descriptor *numbers*: the next `accept`
/// may reuse the closed socket's number, and the new socket would be watched under the
/// old key. epoll (Linux) registers the open file instead, and forgets it when the
/// file's last descriptor is closed (epoll(7), Q6): but if a duplicate (`try_clone`,
/// `dup`, `fork`) keeps the file open, its events go on arriving under a key we
/// believe gone. kqueue drops a descriptor's events on `close` (kqueue(2)). Owning the
/// socket here, and deleting it from the poller in `Drop` (which runs before the
/// fields, the socket included, are dropped), is right for them all.
struct Registered<'p, S>
where
    for<'a> &'a S: AsRawSource + AsSource,
{
    poller: &'p Poller,
    socket: S,
    key: usize,
    interest: Event,
}

impl<'p, S> Registered<'p, S>
where
    for<'a> &'a S: AsRawSource + AsSource,
{
    fn new(poller: &'p Poller, socket: S, interest: Event) -> std::io::Result<Self> {
        // SAFETY: the socket is owned by the returned value, whose `Drop` deletes it
        // from the poller before the socket itself is dropped.
        unsafe { poller.add_with_mode(&socket, interest, PollMode::Level)? };
        Ok(Registered {
            poller,
            socket,
            key: interest.key,
            interest,
        })
    }

    /// Changes what we wait for (readable, writable, both, or nothing), if it changed.
    fn set_interest(&mut self, readable: bool, writable: bool) -> std::io::Result<()> {
        let wanted = Event::new(self.key, readable, writable);
        if (wanted.readable, wanted.writable)
            != (self.interest.readable, self.interest.writable)
        {
            self.poller
                .modify_with_mode(&self.socket, wanted, PollMode::Level)?;
            self.interest = wanted;
        }
        Ok(())
    }
}

impl<S> Drop for Registered<'_, S>
where
    for<'a> &'a S: AsRawSource + AsSource,
{
    fn drop(&mut self) {
        let _ = self.poller.delete(&self.socket);
    }
}
// ANCHOR_END: registered

// ANCHOR: connection
/// Everything the server knows about one client, in one place: the poller's key finds
/// it.
struct Connection<'p> {
    socket: Registered<'p, TcpStream>,
    peer: SocketAddr,
    /// Echo bytes read but not yet written.
    pending: Vec<u8>,
    /// The client closed its side: finish writing, then close.
    finished_reading: bool,
    /// Shutting down: our FIN is sent (after the last echo); we wait for the client's.
    fin_sent: bool,
    echoed: u64,
}
// ANCHOR_END: connection

/// What handling one client's event decided (`serve` and `end_in_order`): `None` keeps the
/// client, `Some(result)` says it is done (cleanly, or with an error).
type Outcome = Option<anyhow::Result<()>>;

/// The listener's key; clients get 1, 2, 3, …
const LISTENER: usize = 0;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = net::listen(args.addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;

    // ANCHOR: setup
    // The poller: epoll on Linux, kqueue on macOS and the BSDs, IOCP on Windows.
    let poller = Arc::new(Poller::new().context("cannot create the poller")?);
    // Ctrl-C must wake the thread sleeping in `wait`: `notify` makes `wait` return at
    // once.
    let notifier = Arc::clone(&poller);
    let _wake_on_ctrl_c = shutdown.on_trigger(move || {
        let _ = notifier.notify();
    });
    // The first line on stdout: `listening on ADDR`, with the real address (chapter
    // 01). Printed once everything the server needs is in place.
    cli::announce(&listener)?;
    let mut listener = Some(
        Registered::new(&poller, listener, Event::readable(LISTENER))
            .context("cannot register the listener")?,
    );
    // ANCHOR_END: setup

    let mut connections: HashMap<usize, Connection> = HashMap::new();
    let mut next_key = LISTENER + 1;
    let mut events = Events::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut deadline: Option<Instant> = None;
    // Set while accepting is paused after an error (see `accept`): when to listen again.
    let mut accept_again: Option<Instant> = None;
    let mut accept_errors = Throttle::new(ERROR_LINE_INTERVAL);

    // ANCHOR: loop
    loop {
        // Ctrl-C: stop accepting and echoing. Each client gets the grace period for an
        // orderly end (chapter 03): its pending echo, then our FIN, then we read and
        // drop what it still sends until it closes too — closing with its data
        // arriving would reset it.
        if shutdown.is_triggered() && deadline.is_none() {
            deadline = Some(Instant::now() + DEFAULT_GRACE);
            listener = None; // leaves the poller, then closes
            println!("shutting down: {} client(s) connected", connections.len());
            connections.retain(|_, conn| {
                match end_in_order(conn, Event::none(0), &mut buf) {
                    Some(result) => {
                        report_closed(conn, result);
                        false // dropped: deleted from the poller, then closed
                    }
                    None => true,
                }
            });
        }
        if let Some(deadline) = deadline
            && (connections.is_empty() || Instant::now() >= deadline)
        {
            break;
        }

        // Accepting was paused after an error, and the pause is over: listen again.
        if let (Some(again), Some(listener)) = (accept_again, &mut listener)
            && Instant::now() >= again
        {
            accept_again = None;
            listener
                .set_interest(true, false)
                .context("cannot update the poller for the listener")?;
        }

        // Sleep until at least one registered socket is ready (or Ctrl-C notifies us,
        // or a deadline comes). With nothing to do, this thread uses no CPU at all.
        events.clear();
        let waited = match [deadline, accept_again].into_iter().flatten().min() {
            None => poller.wait(&mut events, None),
            Some(until) => poller.wait_deadline(&mut events, until),
        };
        match waited {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("waiting for readiness failed"),
        }

        for event in events.iter() {
            if event.key == LISTENER {
                let Some(listener) = &mut listener else {
                    continue;
                };
                let (socket, keys) = (&listener.socket, &mut next_key);
                let Some(err) = accept_all(&poller, socket, &mut connections, keys)
                else {
                    continue;
                };
                // Out of file descriptors, say. The client stays in the backlog, so
                // the listener stays readable: level-triggered, `wait` would return at
                // once, forever, and `accept` fail at once: a busy loop. So stop
                // listening for a moment, and say so at most every few seconds.
                let line = format!("error: accept failed: {}", cli::describe_io(&err));
                accept_errors.eprintln(&line);
                listener
                    .set_interest(false, false)
                    .context("cannot update the poller for the listener")?;
                accept_again = Some(Instant::now() + ACCEPT_PAUSE);
                continue;
            }
            // A key may belong to a connection closed earlier in this same batch.
            let Some(conn) = connections.get_mut(&event.key) else {
                continue;
            };
            let outcome = match deadline {
                None => serve(conn, event, &mut buf, args.max_pending),
                Some(_) => end_in_order(conn, event, &mut buf),
            };
            if let Some(result) = outcome {
                let conn = connections
                    .remove(&event.key)
                    .expect("the connection is present");
                match deadline {
                    None => report_gone(&conn, result, connections.len()),
                    Some(_) => report_closed(&conn, result),
                }
                // `conn` is dropped here: deleted from the poller, then closed.
            }
        }
    }
    // ANCHOR_END: loop

    for conn in connections.values() {
        println!(
            "closed: {} ({} bytes echoed; shutting down)",
            conn.peer, conn.echoed
        );
    }
    println!("shutting down: done");
    Ok(())
}

// ANCHOR: accept
/// The listener is readable: accept every waiting client and register each one.
/// Returns the error that stopped it early, if one did.
fn accept_all<'p>(
    poller: &'p Poller,
    listener: &TcpListener,
    connections: &mut HashMap<usize, Connection<'p>>,
    next_key: &mut usize,
) -> Option<io::Error> {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return None,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // A client that gave up while it waited in the backlog: its loss alone.
            Err(err) if err.kind() == ErrorKind::ConnectionAborted => continue,
            // Out of file descriptors (`EMFILE`), say: the caller pauses accepting.
            Err(err) => return Some(err),
        };
        let key = *next_key;
        *next_key += 1;
        // Interested in reading only: asking for "writable" while there is nothing to
        // write would wake us on every `wait`, since a socket with room in its send
        // buffer is always writable.
        let registered = stream
            .set_nonblocking(true)
            .and_then(|()| Registered::new(poller, stream, Event::readable(key)));
        match registered {
            Ok(socket) => {
                let conn = Connection {
                    socket,
                    peer,
                    pending: Vec::new(),
                    finished_reading: false,
                    fin_sent: false,
                    echoed: 0,
                };
                connections.insert(key, conn);
                println!("connected: {peer} ({} connected)", connections.len());
            }
            Err(err) => {
                eprintln!("error: cannot register {peer}: {}", cli::describe_io(&err))
            }
        }
    }
}
// ANCHOR_END: accept

// ANCHOR: serve
/// Handles one readiness event of a client. Returns `Some` when the client is done.
///
/// The system calls per round trip are the point here: one `read` and one `write`,
/// and no change of registration while the client keeps up. The poller is asked for
/// "writable" only when a `write` would block, and told to stop once the backlog is
/// written.
fn serve(
    conn: &mut Connection,
    event: Event,
    buf: &mut [u8],
    max_pending: usize,
) -> Option<anyhow::Result<()>> {
    let peer = conn.peer;
    let stream = &conn.socket.socket;
    // Writable: we asked for it only because a backlog is pending. Level-triggered, so
    // one `write` per event is enough: if room remains, the next `wait` reports it
    // again.
    if event.writable && !conn.pending.is_empty() {
        match write_some(stream, &conn.pending) {
            Ok(n) => {
                conn.pending.drain(..n);
                conn.echoed += n as u64;
            }
            Err(err) => {
                return Some(
                    Err(err).with_context(|| format!("cannot write to {peer}")),
                );
            }
        }
    }
    // Readable: read once. Readiness means a `read` will not block, not that it
    // succeeds.
    let room = max_pending.saturating_sub(conn.pending.len());
    if event.readable && room > 0 && !conn.finished_reading {
        let want = room.min(buf.len());
        match (&*stream).read(&mut buf[..want]) {
            Ok(0) => conn.finished_reading = true,
            // Echo at once: the socket is almost always writable, so asking the poller
            // first would cost a `modify` and a `wait` for nothing. Only what the
            // socket does not take now is kept, behind any backlog (bytes stay in
            // order).
            Ok(n) => {
                let mut written = 0;
                if conn.pending.is_empty() {
                    match write_some(stream, &buf[..n]) {
                        Ok(taken) => written = taken,
                        Err(err) => {
                            let why = || format!("cannot write to {peer}");
                            return Some(Err(err).with_context(why));
                        }
                    }
                }
                conn.echoed += written as u64;
                conn.pending.extend_from_slice(&buf[written..n]);
            }
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) => {}
            Err(err) => {
                return Some(
                    Err(err).with_context(|| format!("cannot read from {peer}")),
                );
            }
        }
    }
    if conn.finished_reading && conn.pending.is_empty() {
        return Some(Ok(())); // all echoed, and nothing more will be read
    }
    // Ask for what we can use next: more input only while there is room for its echo
    // (backpressure, as in chapter 07), and "writable" only while a backlog is
    // pending. `set_interest` calls the poller only when this differs from what is
    // registered: for a client that keeps up, never.
    let want_read = !conn.finished_reading && conn.pending.len() < max_pending;
    let want_write = !conn.pending.is_empty();
    if let Err(err) = conn.socket.set_interest(want_read, want_write) {
        return Some(
            Err(err).with_context(|| format!("cannot update the poller for {peer}")),
        );
    }
    None
}

/// Writes what the socket takes now, without waiting: 0 when its send buffer is full.
fn write_some(stream: &TcpStream, data: &[u8]) -> io::Result<usize> {
    match (&*stream).write(data) {
        Ok(n) => Ok(n),
        // Full (`WouldBlock`), or a signal came first (`Interrupted`): nothing was
        // written; the caller keeps the bytes and waits for "writable".
        Err(err) if err.kind() == ErrorKind::WouldBlock => Ok(0),
        Err(err) if err.kind() == ErrorKind::Interrupted => Ok(0),
        Err(err) => Err(err),
    }
}
// ANCHOR_END: serve

// ANCHOR: end_in_order
/// Shutting down: writes what is pending, then sends a FIN, then reads and drops what
/// the client still sends until it closes too. Returns `Some` when the client is done.
fn end_in_order(conn: &mut Connection, event: Event, buf: &mut [u8]) -> Outcome {
    let peer = conn.peer;
    let stream = &conn.socket.socket;
    if !conn.pending.is_empty() {
        match (&*stream).write(&conn.pending) {
            Ok(n) => {
                conn.pending.drain(..n);
                conn.echoed += n as u64;
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => {
                let err = Err(err).with_context(|| format!("cannot write to {peer}"));
                return Some(err);
            }
        }
    }
    if event.readable && !conn.finished_reading {
        match (&*stream).read(buf) {
            Ok(0) => conn.finished_reading = true,
            Ok(_) => {} // dropped: no more echoes
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => {
                let err = Err(err).with_context(|| format!("cannot read from {peer}"));
                return Some(err);
            }
        }
    }
    if conn.pending.is_empty() {
        if !conn.fin_sent {
            let _ = stream.shutdown(Direction::Write); // the FIN, after the last echo
            conn.fin_sent = true;
        }
        if conn.finished_reading {
            return Some(Ok(())); // both sides closed: an orderly end
        }
    }
    // Readable for the client's data or its FIN; writable while an echo is pending.
    let (want_read, want_write) = (!conn.finished_reading, !conn.pending.is_empty());
    if let Err(err) = conn.socket.set_interest(want_read, want_write) {
        let why = || format!("cannot update the poller for {peer}");
        return Some(Err(err).with_context(why));
    }
    None
}
// ANCHOR_END: end_in_order

/// A client ended by the shutdown, in order or not.
fn report_closed(conn: &Connection, result: anyhow::Result<()>) {
    if let Err(err) = result {
        eprintln!("error: {}", cli::one_line(&err));
    }
    println!(
        "closed: {} ({} bytes echoed; shutting down)",
        conn.peer, conn.echoed
    );
}

fn report_gone(conn: &Connection, result: anyhow::Result<()>, left: usize) {
    match result {
        Ok(()) => println!(
            "disconnected: {} ({} bytes echoed, {left} connected)",
            conn.peer, conn.echoed
        ),
        Err(err) => {
            eprintln!("error: {}", cli::one_line(&err));
            println!(
                "disconnected: {} after an error ({left} connected)",
                conn.peer
            );
        }
    }
}
