//! # Exercise 06 · let the client close first (chapter 06)
//!
//! Chapter 06: the side that closes a connection first keeps it in TIME_WAIT, on its own port.
//! A server that closes first piles up TIME_WAIT connections on its listening port, one per
//! client. This greeting server avoids that: it sends its line, then **waits for the client to
//! close first** (at most `--close-wait` seconds, since a client may never close), and only
//! then closes its side. **Write `close_after_client`** below.
//!
//! Try it by hand (two terminals; on Linux, `ss` shows which side holds the TIME_WAIT):
//!
//! ```text
//! terminal 1:  cargo run --example ex06_client_closes_first
//! terminal 2:  nc 127.0.0.1 7878            (the greeting; then Ctrl-D: nc closes first)
//!              ss -tan state time-wait       (the TIME_WAIT is on nc's port, not on 7878)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 06_client_closes_first
//! ```

use std::io::Write;
#[allow(unused_imports)]
// for your code: reading what the client still sends, and the errors
use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
#[allow(unused_imports)] // for your code: a deadline, as in chapter 04
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::shutdown::Shutdown;

/// Greeting server that lets each client close first.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// After its greeting, wait this many seconds at most for the client to close first.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = cli::parse_seconds)]
    close_wait: Duration,
}

/// Who closed first, as [`close_after_client`] saw it.
#[derive(Debug, PartialEq, Eq)]
#[allow(dead_code)] // (until you write `close_after_client`, nothing returns these: delete this line)
enum Closed {
    /// The client closed first (its FIN arrived): the TIME_WAIT is on the client's side.
    ClientFirst,
    /// The client did not close within the wait: we closed first, and keep the TIME_WAIT.
    ServerFirst,
}

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

    // One client at a time (chapter 03): each gets its line, then we wait for it to close.
    while let Some((mut stream, peer)) = shutdown.accept(&listener) {
        let greeted = stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .and_then(|()| stream.write_all(format!("hello, {peer}\n").as_bytes()));
        if let Err(err) = greeted {
            eprintln!("error: cannot greet {peer}: {}", cli::describe_io(&err));
            continue;
        }
        match close_after_client(stream, args.close_wait) {
            Ok(Closed::ClientFirst) => {
                println!("closed: {peer} (the client closed first)")
            }
            Ok(Closed::ServerFirst) => println!(
                "closed: {peer} (no close from the client within {:?}; we closed first)",
                args.close_wait
            ),
            Err(err) => eprintln!("error: {peer}: {}", cli::describe_io(&err)),
        }
    }
    println!("shutting down");
    Ok(())
}

// ============================== YOUR PART ==============================
/// Waits for the client to close its side, for at most `wait`, then closes ours.
///
/// Given: `stream`, a client that has been sent everything it will get (no timeouts set on it);
/// `wait`, how long the client has to close.
///
/// Must hold:
/// 1. until the client closes, our side stays open: no FIN from us first (no `shutdown`, no
///    drop);
/// 2. the client's close is `read` returning 0: then return `ClientFirst` at once (dropping
///    `stream` then closes our side, second, and the TIME_WAIT stays on the client's side);
/// 3. bytes the client still sends are read and ignored: they are not its close;
/// 4. a client that never closes is closed by us after `wait` in all (`ServerFirst`), even if
///    it keeps sending a byte now and then: the wait is a total deadline;
/// 5. other errors are returned (a reset: the client is gone; our drop then sends nothing);
/// 6. waiting costs no CPU: block in `read` with a timeout.
///
/// Hints, one at a time:
/// 1. Read into a small buffer in a loop, and throw the bytes away.
/// 2. The wait is a total deadline, like exercise 04's: before each read, set the read timeout
///    to the time left; a read that times out (`WouldBlock` or `TimedOut`) is the end of the wait.
/// 3. `stream.shutdown(Shutdown::Write)` sends a FIN: that is closing first, exactly what this
///    exercise avoids.
fn close_after_client(stream: TcpStream, wait: Duration) -> io::Result<Closed> {
    let _ = (&stream, wait); // (keeps the compiler quiet until you use them: delete this line)
    todo!("wait for the client's FIN, at most `wait`, then close")
}
// ============================ END OF YOUR PART ============================
