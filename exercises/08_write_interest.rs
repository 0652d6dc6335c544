//! # Exercise 08 · write now, and ask for "writable" only when the OS says "not now" (chapter 08)
//!
//! A poll server for a tiny protocol: a client sends a line with a number, `N`, and gets `N`
//! bytes back (`abcd…`). Replies can be large, and clients slow to read them. Chapter 08's
//! server waits for a "writable" event before it writes anything; this one writes a reply at
//! once, and asks the poller for "writable" only when the OS did not take all of it, and only
//! until it has. Everything is written except that: **write `flush_and_rearm`** below.
//!
//! Try it by hand (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex08_write_interest
//! terminal 2:  nc 127.0.0.1 7878            (type 5, Enter: `abcde` comes back)
//! terminal 3:  top -p $(pgrep ex08_write)    (0% CPU while the client is idle)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 08_write_interest
//! ```

use std::collections::HashMap;
#[allow(unused_imports)]
// for your code: `write` needs the `Write` trait in scope
use std::io::Write;
use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use polling::{AsRawSource, AsSource, Event, Events, PollMode, Poller};
use socket_workbook::cli;
use socket_workbook::shutdown::Shutdown;

/// Poll server: answers each line `N` with `N` bytes, in one thread, for every client.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
}

/// The largest reply one request may ask for.
const MAX_REPLY: usize = 16_000_000;
/// A client whose replies waiting to be sent are this large is not read from until they drain
/// (backpressure, as in chapters 07 and 08).
const MAX_PENDING: usize = 1_000_000;
/// A request line longer than this is not a number: the client is closed.
const MAX_LINE: usize = 32;

/// A socket registered with the poller, which it leaves again before it is closed (chapter
/// 08 explains why this order matters: `Drop` deletes it first, then the socket closes).
struct Registered<'p, S>
where
    for<'a> &'a S: AsRawSource + AsSource,
{
    poller: &'p Poller,
    socket: S,
    interest: Event,
}

impl<'p, S> Registered<'p, S>
where
    for<'a> &'a S: AsRawSource + AsSource,
{
    fn new(poller: &'p Poller, socket: S, interest: Event) -> io::Result<Self> {
        // SAFETY: the socket is owned by the returned value, whose `Drop` deletes it from the
        // poller before the socket itself is dropped.
        unsafe { poller.add_with_mode(&socket, interest, PollMode::Level)? };
        Ok(Registered {
            poller,
            socket,
            interest,
        })
    }

    /// Tells the poller what to wake us for: readable, writable, both, or neither. Costs a
    /// system call only when it changes.
    #[allow(dead_code)] // (until you write `flush_and_rearm`, nothing calls this: delete this line)
    fn set_interest(&mut self, readable: bool, writable: bool) -> io::Result<()> {
        let wanted = Event::new(self.interest.key, readable, writable);
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

/// One client, in one place.
struct Conn<'p> {
    socket: Registered<'p, TcpStream>,
    peer: SocketAddr,
    /// Reply bytes not yet taken by the OS, oldest first.
    pending: Vec<u8>,
    /// The start of a request line whose `\n` has not come yet.
    line: Vec<u8>,
    /// The client closed its side: send what is pending, then close.
    finished_reading: bool,
}

impl Conn<'_> {
    /// Whether to read from this client now: it has not closed, and its replies are not
    /// piling up.
    fn wants_input(&self) -> bool {
        !self.finished_reading && self.pending.len() < MAX_PENDING
    }

    /// The protocol: every complete line `N` adds `N` bytes to `pending`.
    fn take_requests(&mut self, received: &[u8]) -> io::Result<()> {
        for &byte in received {
            if byte != b'\n' {
                self.line.push(byte);
                if self.line.len() > MAX_LINE {
                    return Err(io::Error::new(
                        ErrorKind::InvalidData,
                        "request line too long",
                    ));
                }
                continue;
            }
            let text = String::from_utf8_lossy(&self.line);
            match text.trim().parse::<usize>() {
                Ok(n) if n <= MAX_REPLY => {
                    self.pending.extend((0..n).map(|i| b'a' + (i % 26) as u8));
                }
                _ => self.pending.extend_from_slice(
                    format!("error: expected a number of bytes up to {MAX_REPLY}\n")
                        .as_bytes(),
                ),
            }
            self.line.clear();
        }
        Ok(())
    }
}

/// The listener's key; clients get 1, 2, 3, …
const LISTENER: usize = 0;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;

    let poller = Arc::new(Poller::new().context("cannot create the poller")?);
    // Ctrl-C must wake the thread sleeping in `wait`.
    let notifier = Arc::clone(&poller);
    let _wake_on_ctrl_c = shutdown.on_trigger(move || {
        let _ = notifier.notify();
    });
    cli::announce(&listener)?;
    let listener = Registered::new(&poller, listener, Event::readable(LISTENER))
        .context("cannot register the listener")?;

    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next_key = LISTENER + 1;
    let mut events = Events::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !shutdown.is_triggered() {
        // Sleep until a registered socket is ready for what we asked: no CPU while idle,
        // unless we ask for something that is always true.
        events.clear();
        match poller.wait(&mut events, None) {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("waiting for readiness failed"),
        }
        for event in events.iter() {
            if event.key == LISTENER {
                accept_all(&poller, &listener.socket, &mut conns, &mut next_key);
                continue;
            }
            let Some(conn) = conns.get_mut(&event.key) else {
                continue;
            };
            match serve(conn, event, &mut buf) {
                Ok(false) => {}
                Ok(true) => {
                    println!("disconnected: {}", conn.peer);
                    conns.remove(&event.key); // deleted from the poller, then closed
                }
                Err(err) => {
                    eprintln!("error: {}: {}", conn.peer, cli::describe_io(&err));
                    conns.remove(&event.key);
                }
            }
        }
    }
    println!("shutting down: {} client(s) connected", conns.len());
    Ok(())
}

/// Accepts every waiting client and registers it, interested in reading only.
fn accept_all<'p>(
    poller: &'p Poller,
    listener: &TcpListener,
    conns: &mut HashMap<usize, Conn<'p>>,
    next_key: &mut usize,
) {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                return eprintln!("error: accept failed: {}", cli::describe_io(&err));
            }
        };
        let key = *next_key;
        *next_key += 1;
        let registered = stream
            .set_nonblocking(true)
            .and_then(|()| Registered::new(poller, stream, Event::readable(key)));
        match registered {
            Ok(socket) => {
                println!("connected: {peer}");
                let conn = Conn {
                    socket,
                    peer,
                    pending: Vec::new(),
                    line: Vec::new(),
                    finished_reading: false,
                };
                conns.insert(key, conn);
            }
            Err(err) => {
                eprintln!("error: cannot register {peer}: {}", cli::describe_io(&err))
            }
        }
    }
}

/// Handles one event of a client: reads requests when readable, then sends what it can.
/// Returns `true` when the client is done.
fn serve(conn: &mut Conn, event: Event, buf: &mut [u8]) -> io::Result<bool> {
    if event.readable && conn.wants_input() {
        match (&conn.socket.socket).read(buf) {
            Ok(0) => conn.finished_reading = true,
            Ok(n) => conn.take_requests(&buf[..n])?,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) => {}
            Err(err) => return Err(err),
        }
    }
    // After a read (new replies) and after a writable event (room again): send, and say what
    // to wake us for next.
    flush_and_rearm(conn)?;
    Ok(conn.finished_reading && conn.pending.is_empty())
}

// ============================== YOUR PART ==============================
/// Sends as much of `conn.pending` as the OS takes now, then tells the poller what to wake
/// this client for next.
///
/// Given: `conn.socket.socket`, the client's non-blocking stream (write with
/// `(&conn.socket.socket).write(…)`); `conn.pending`, the reply bytes not sent yet;
/// `conn.wants_input()`, whether to read from this client; `conn.socket.set_interest(readable,
/// writable)`.
///
/// Must hold:
/// 1. write at once, without waiting for a "writable" event: most replies fit in the send
///    buffer and leave in this call;
/// 2. a `write` may take part of `pending`, and `WouldBlock` means the send buffer is full:
///    remove exactly what was written from the front of `pending`; keep the rest;
/// 3. never wait or retry in a loop until it is all gone: other clients are waiting for this
///    thread (a client that never reads its reply stops no one);
/// 4. interest in "writable" exactly while `pending` is not empty: without it, the rest of a
///    large reply never leaves; with nothing to write, a socket with room in its send buffer is
///    always writable, and asking for it wakes `wait` at once, again and again: the server
///    spins;
/// 5. interest in "readable" exactly while `conn.wants_input()`: a client that has closed its
///    side, or whose replies are piling up while it sends more, has a socket that is always
///    readable, and asking for it spins the server just the same;
/// 6. errors other than `WouldBlock` and `Interrupted` are returned (a client that reset the
///    connection): the loop then drops the client.
///
/// Hints, one at a time:
/// 1. A loop while `pending` is not empty: `write`, then `pending.drain(..n)`; on `WouldBlock`,
///    stop (break).
/// 2. After the loop: `conn.socket.set_interest(conn.wants_input(), !conn.pending.is_empty())`.
/// 3. Level-triggered (as here), the poller reports "writable" again as long as there is room
///    and you asked for it: the next event continues the reply.
fn flush_and_rearm(conn: &mut Conn) -> io::Result<()> {
    let _ = conn; // (keeps the compiler quiet until you use `conn`: delete this line)
    todo!("write what the OS takes; ask for writable only while something is pending")
}
// ============================ END OF YOUR PART ============================
