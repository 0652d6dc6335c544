//! # Exercise 04 · a total deadline per client (chapter 04)
//!
//! Chapter 04's threaded server closes a client that stays silent for `--idle-timeout`. But a
//! client that sends one byte every 59 seconds is never silent for 60: it can hold its thread
//! forever. This server gives each client a **total** time, `--max-connection SECS`, however
//! active it is; when it is up, the client gets `error: connection time limit reached` and is
//! closed. **Write `echo_until_deadline`** below.
//!
//! Try it by hand (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex04_total_deadline -- --max-connection 10
//! terminal 2:  nc 127.0.0.1 7878        (type lines: they come back; after 10 s, the error)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 04_total_deadline
//! ```

use std::io;
#[allow(unused_imports)] // for your code: `read`, `write_all` and the errors
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::server::say_and_close;
use socket_workbook::shutdown::Shutdown;

/// Threaded echo server that gives every client a total time limit.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Close every client this many seconds after it connected, however active it is.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = cli::parse_seconds)]
    max_connection: Duration,
}

/// How [`echo_until_deadline`] ended, when it ended without an error.
#[derive(Debug, PartialEq, Eq)]
#[allow(dead_code)] // (until you write `echo_until_deadline`, nothing returns these: delete this line)
enum Ending {
    /// The client closed its side (`read` returned 0), or Ctrl-C stopped the reading.
    Closed,
    /// The deadline passed.
    DeadlineReached,
}

/// The line a client gets when its time is up.
const TIME_UP: &[u8] = b"error: connection time limit reached\n";

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let _listener_watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
    cli::announce(&listener)?;

    let mut threads = Vec::new();
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        threads.retain(|t: &thread::JoinHandle<()>| !t.is_finished());
        // The client's clock starts now, when the server accepted it.
        let deadline = Instant::now() + args.max_connection;
        println!("connected: {peer}");
        let client_shutdown = shutdown.clone();
        let spawned = thread::Builder::new()
            .name(format!("client {peer}"))
            .spawn(move || serve_client(stream, peer, deadline, &client_shutdown));
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(err) => eprintln!("error: cannot start a thread for {peer}: {err}"),
        }
    }
    println!("shutting down: waiting for clients in flight");
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// One client's thread: echo until the deadline, then say why and close.
fn serve_client(
    mut stream: TcpStream,
    peer: SocketAddr,
    deadline: Instant,
    shutdown: &Shutdown,
) {
    // While this `Watch` lives, Ctrl-C makes a blocked `read` return 0 (chapter 03).
    let _watch = match shutdown.watch_stream(&stream) {
        Ok(watch) => watch,
        Err(err) => {
            return eprintln!(
                "error: cannot watch {peer}: {}",
                cli::describe_io(&err)
            );
        }
    };
    // A client that does not read our echoes must not block us past the deadline either: no
    // single write may wait longer than the whole time the client has.
    let total = deadline.saturating_duration_since(Instant::now());
    if let Err(err) =
        stream.set_write_timeout(Some(total.max(Duration::from_millis(1))))
    {
        return eprintln!(
            "error: cannot set a timeout for {peer}: {}",
            cli::describe_io(&err)
        );
    }
    match echo_until_deadline(&mut stream, deadline) {
        Ok(Ending::Closed) => println!("disconnected: {peer}"),
        Ok(Ending::DeadlineReached) => {
            say_and_close(stream, TIME_UP);
            println!("closed: {peer} (time limit reached)");
        }
        Err(err) => eprintln!("error: {peer}: {}", cli::describe_io(&err)),
    }
}

// ============================== YOUR PART ==============================
/// Echoes everything the client sends until it closes, or until `deadline`, whichever comes
/// first.
///
/// Given: `stream`, the client's socket, with a write timeout (and no read timeout: that is
/// yours to set); `deadline`, the instant the client's time is up. `ErrorKind::Interrupted`
/// from `read` means "nothing was read, try again".
///
/// Must hold:
/// 1. everything the client sends comes back, in order (`write_all` what you read);
/// 2. `Ok(Ending::Closed)` when `read` returns 0, at once: a client that closes is not kept
///    until its deadline;
/// 3. `Ok(Ending::DeadlineReached)` at the deadline (within a fraction of a second), whether
///    the client is silent **or** keeps sending a byte now and then: no wait for a read may
///    last beyond the deadline. A read that times out fails with `WouldBlock` on Unix and
///    `TimedOut` on Windows: both mean the deadline is here;
/// 4. waiting costs no CPU: block in `read`, never loop around a non-blocking socket or a zero
///    timeout;
/// 5. other errors (a reset) are returned: the caller reports them.
///
/// Hints, one at a time:
/// 1. A read timeout set once (`set_read_timeout(Some(limit))`) restarts with every read: a
///    client that sends a byte each time just before it expires is never timed out.
/// 2. So set it before *each* read, to the time left: `deadline.saturating_duration_since(now)`.
/// 3. std refuses a zero timeout (`set_read_timeout(Some(Duration::ZERO))` is an error): when no
///    time is left, return `DeadlineReached` before setting it. A read that times out fails with
///    `WouldBlock` on Unix and `TimedOut` on Windows: both mean the deadline is here.
fn echo_until_deadline(
    stream: &mut TcpStream,
    deadline: Instant,
) -> io::Result<Ending> {
    let _ = (stream, deadline); // (keeps the compiler quiet until you use them: delete this line)
    todo!("echo until the client closes or the deadline passes")
}
// ============================ END OF YOUR PART ============================
