//! # Exercise 08 · close idle clients, in one thread, without waking needlessly (chapter 08)
//!
//! A poll echo server that closes any client silent for `--idle-timeout` seconds. A thread
//! per client would sleep on its own read timeout; here one thread waits for every client in
//! `wait`, so the timeout is `wait`'s: long enough to sleep until the next client's deadline,
//! no longer, and never zero. Everything is written except that: **write `poll_timeout` and
//! `close_expired`** below.
//!
//! Try it by hand (three terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex08_idle_timeout -- --idle-timeout 5
//! terminal 2:  nc 127.0.0.1 7878            (type nothing: closed after 5 s)
//! terminal 3:  nc 127.0.0.1 7878            (type a line every few seconds: stays open)
//!              top -p $(pgrep ex08_idle)     (0% CPU while the clients are silent)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 08_idle_timeout
//! ```

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use polling::{AsRawSource, AsSource, Event, Events, PollMode, Poller};
use socket_workbook::cli;
use socket_workbook::shutdown::Shutdown;

/// Poll echo server: one thread, every client; closes the ones silent for too long.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Seconds a client may stay silent before it is closed (fractions allowed: 0.5).
    #[arg(long, default_value_t = 10.0)]
    idle_timeout: f64,
}

/// A socket registered with the poller, which it leaves again before it is closed (chapter
/// 08 explains why this order matters: `Drop` deletes it first, then the socket closes).
struct Registered<'p, S>
where
    for<'a> &'a S: AsRawSource + AsSource,
{
    poller: &'p Poller,
    socket: S,
}

impl<'p, S> Registered<'p, S>
where
    for<'a> &'a S: AsRawSource + AsSource,
{
    fn new(poller: &'p Poller, socket: S, interest: Event) -> io::Result<Self> {
        // SAFETY: the socket is owned by the returned value, whose `Drop` deletes it from the
        // poller before the socket itself is dropped.
        unsafe { poller.add_with_mode(&socket, interest, PollMode::Level)? };
        Ok(Registered { poller, socket })
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

/// One client, in one place. Removing it from the map closes it: `Registered`'s `Drop`
/// deletes it from the poller, then the stream closes.
struct Conn<'p> {
    socket: Registered<'p, TcpStream>,
    peer: SocketAddr,
    /// When the client connected (for the log line when it leaves).
    connected: Instant,
    /// When bytes last came from the client: set on connect and on every read that got data.
    last_heard: Instant,
}

/// The listener's key; clients get 1, 2, 3, …
const LISTENER: usize = 0;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    if !(args.idle_timeout > 0.0 && args.idle_timeout <= 86_400.0) {
        bail!(
            "--idle-timeout: expected seconds between 0 and 86400, not {}",
            args.idle_timeout
        );
    }
    let idle = Duration::from_secs_f64(args.idle_timeout);
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
        // Sleep until a socket is ready, or until the nearest deadline: whichever comes first.
        let timeout = poll_timeout(&conns, idle, Instant::now());
        events.clear();
        match poller.wait(&mut events, timeout) {
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
            match echo(conn, &mut buf) {
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
        // After events *and* after a timeout: `wait` returning with no events is how a
        // deadline announces itself.
        close_expired(&mut conns, idle, Instant::now());
    }
    println!("shutting down: {} client(s) connected", conns.len());
    Ok(())
}

/// Accepts every waiting client and registers it, interested in reading.
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
                let now = Instant::now();
                let conn = Conn {
                    socket,
                    peer,
                    connected: now,
                    last_heard: now,
                };
                conns.insert(key, conn);
            }
            Err(err) => {
                eprintln!("error: cannot register {peer}: {}", cli::describe_io(&err))
            }
        }
    }
}

/// Reads what the client sent and echoes it. Returns `true` when the client is done.
///
/// To keep this exercise about time, the echo is simple: a client whose echo does not fit in
/// its send buffer at once (it sends a lot and reads nothing) is closed. Exercise
/// `08_write_interest` shows how to keep the rest and send it later.
fn echo(conn: &mut Conn, buf: &mut [u8]) -> io::Result<bool> {
    let n = match (&conn.socket.socket).read(buf) {
        Ok(0) => return Ok(true),
        Ok(n) => n,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::WouldBlock | ErrorKind::Interrupted
            ) =>
        {
            return Ok(false);
        }
        Err(err) => return Err(err),
    };
    // Activity: the client is not idle, whatever it sent.
    conn.last_heard = Instant::now();
    match (&conn.socket.socket).write(&buf[..n]) {
        Ok(written) if written == n => Ok(false),
        Ok(_) => Err(io::Error::other("the client does not read its echo")),
        Err(err) => Err(err),
    }
}

/// Logs a client closed for its silence. `close_expired` calls it for each one it closes.
fn log_idle(conn: &Conn, now: Instant) {
    println!(
        "idle: {} closed after {:.1} s of silence ({:.1} s connected)",
        conn.peer,
        now.duration_since(conn.last_heard).as_secs_f64(),
        now.duration_since(conn.connected).as_secs_f64(),
    );
}

// ============================== YOUR PART ==============================
/// How long `wait` may sleep: until the nearest client's deadline, and no longer.
///
/// Given: `conns`, every client (`conn.last_heard`: when it last sent something); `idle`, how
/// long a client may stay silent; `now`, the time to measure from. `poller.wait` takes the
/// result: `None` sleeps until an event, `Some(d)` at most `d`.
///
/// Must hold:
/// 1. a client's deadline is `idle` after it was last heard from, so a client that keeps
///    talking is never closed;
/// 2. with clients: the time from `now` to the **nearest** deadline (the earliest one), or zero
///    if it has passed. Later than that, a silent client is closed late; sooner, `wait` returns
///    for nothing and costs CPU;
/// 3. with no clients: no deadline, `None` (sleep until someone connects). Never
///    `Some(Duration::ZERO)`: `wait` would return at once, again and again, and the server
///    spins at 100% CPU.
///
/// Hints, one at a time:
/// 1. `conns.values().map(|c| c.last_heard + idle)` gives every deadline; `.min()` the nearest
///    (an `Option`: `None` when there are no clients).
/// 2. `Option::map` turns that deadline into a wait.
/// 3. `deadline.saturating_duration_since(now)` is the wait, zero once the deadline has passed.
fn poll_timeout(
    conns: &HashMap<usize, Conn>,
    idle: Duration,
    now: Instant,
) -> Option<Duration> {
    conns
        .values()
        .map(|conn| conn.last_heard + idle)
        .min()
        .map(|deadline| deadline.saturating_duration_since(now))
}

/// Closes every client whose deadline has passed.
///
/// Given: the same `conns`, `idle` and `now` as `poll_timeout`; `log_idle(&conn, now)` prints
/// the line for one closed client. Removing a client from `conns` closes it.
///
/// Must hold:
/// 4. every client with `last_heard + idle <= now` is removed (and logged); the others stay;
/// 5. the deadline is the same as in `poll_timeout`: counted from `last_heard`, not from when
///    the client connected.
///
/// Hints, one at a time:
/// 1. `conns.retain(|_, conn| …)` keeps the clients for which the closure returns `true`.
/// 2. In the closure: is `now` before `conn.last_heard + idle`? If not, log it and return
///    `false`.
fn close_expired(conns: &mut HashMap<usize, Conn>, idle: Duration, now: Instant) {
    conns.retain(|_, conn| {
        if now < conn.last_heard + idle {
            return true;
        }
        log_idle(conn, now);
        false
    });
}
// ============================ END OF YOUR PART ============================
