//! # Exercise 07 · one thread that sends and receives at once (chapter 07)
//!
//! Chapter 02's client, run with `--single-thread`, deadlocks on a big payload: it writes
//! everything before it reads, the server's echo fills the buffers, the server stops reading,
//! and both wait for each other forever. Chapter 02 cures it with a second thread. This client
//! cures it with chapter 07's tool instead: a non-blocking socket, one thread, and a loop that
//! writes what the OS will take *and* reads what has arrived, turn by turn. The loop is
//! written; one turn is yours: **write `step`** below.
//!
//! Try it by hand against chapter 01's echo server, with a payload far larger than the
//! buffers (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example 01_echo_server
//! terminal 2:  cargo run --example ex07_partial_writes -- --size 50000000
//! ```
//!
//! Check it (the checker's servers echo at once, late, or hang up halfway):
//!
//! ```text
//! cargo run --bin check -- 07_partial_writes
//! ```

use std::io;
#[allow(unused_imports)] // for your code: `read`, `write` and the errors
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use socket_workbook::cli;

/// Echo client in one thread: sends a payload and reads its echo at the same time.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address of the echo server.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Bytes to send (and to get back).
    #[arg(long, default_value_t = 10_000_000)]
    size: usize,

    /// Give up after this many seconds in which no byte moved either way.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = cli::parse_seconds)]
    stall: Duration,
}

/// Everything the loop knows about the exchange, in one place.
#[allow(dead_code)] // (until you write `step`, nothing reads these: delete this line)
struct Transfer {
    /// What to send.
    payload: Vec<u8>,
    /// How many bytes of `payload` the OS has taken so far: the rest is still to send.
    sent: usize,
    /// What has come back so far; the exchange is over when it is as long as `payload`.
    echo: Vec<u8>,
}

/// What one turn achieved.
#[allow(dead_code)] // (until you write `step`, nothing returns these: delete this line)
enum Step {
    /// Bytes moved, one way or the other: take another turn at once.
    Progress,
    /// The OS said "not now" both ways: nap, then try again.
    Idle,
    /// The whole echo is in.
    Done,
}

/// How long to nap after a turn in which nothing moved (chapter 07's `--nap`): short enough
/// not to slow the exchange down much, long enough to use almost no CPU.
const NAP: Duration = Duration::from_millis(1);

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&args.addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {}", args.addr))?;
    // From now on `read` and `write` never wait: they do what they can now, or fail with
    // `WouldBlock`.
    stream
        .set_nonblocking(true)
        .context("cannot make the socket non-blocking")?;

    // Varied bytes, so that a byte out of place cannot go unnoticed.
    let payload: Vec<u8> = (0..args.size).map(|i| (i % 251) as u8).collect();
    let mut transfer = Transfer {
        payload,
        sent: 0,
        echo: Vec::with_capacity(args.size),
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_progress = Instant::now();
    loop {
        let turn = step(&mut stream, &mut transfer, &mut buf)
            .with_context(|| format!("cannot exchange with {}", args.addr))?;
        match turn {
            Step::Done => break,
            Step::Progress => last_progress = Instant::now(),
            Step::Idle => {
                if last_progress.elapsed() >= args.stall {
                    bail!(
                        "no progress with {} for {} s: {} of {} bytes sent, {} received (is \
                         the server reading?)",
                        args.addr,
                        args.stall.as_secs_f64(),
                        transfer.sent,
                        transfer.payload.len(),
                        transfer.echo.len()
                    );
                }
                thread::sleep(NAP);
            }
        }
    }

    // The same bytes, in the same order: otherwise say where they first differ.
    if transfer.echo != transfer.payload {
        let (echo, payload) = (&transfer.echo, &transfer.payload);
        let at = echo.iter().zip(payload).position(|(a, b)| a != b);
        bail!(
            "the echo from {} differs from what was sent, from byte {} on ({} bytes came back)",
            args.addr,
            at.unwrap_or(echo.len().min(payload.len())),
            echo.len()
        );
    }
    println!(
        "sent {} bytes; the echo came back whole",
        transfer.payload.len()
    );
    Ok(())
}

// ============================== YOUR PART ==============================
/// One turn of the loop: write what the OS takes now, read what has arrived now, and say how
/// it went.
///
/// Given: `stream`, connected and **non-blocking**; `transfer`, the exchange so far; `buf`, a
/// buffer for reading.
///
/// Must hold:
/// 1. never wait: every `read` and `write` on a non-blocking socket returns at once, and
///    `ErrorKind::WouldBlock` means "not now", not an error (so does `Interrupted`);
/// 2. a `write` may take fewer bytes than offered: add what it returned to `transfer.sent`, and
///    offer the rest (`&payload[sent..]`) next turn, never a byte twice, never one skipped;
/// 3. read in the same turn, before everything is sent: the server echoes as it reads, and
///    stops reading when nobody takes its echo;
/// 4. `echo` gets exactly the bytes `read` returned, in order, and at most the bytes still
///    missing: what the server sends after the echo is not read (the given code compares
///    `echo` with `payload` and says where they differ);
/// 5. `Ok(0)` from `read` before the whole echo came back is an error: return
///    `Err(io::Error::from(ErrorKind::UnexpectedEof))`; other errors are returned as they are;
/// 6. return `Step::Done` once `echo` is as long as `payload` (an empty payload: at the first
///    turn); `Step::Progress` if bytes moved this turn; otherwise `Step::Idle` (the loop naps),
///    never a loop of your own that retries.
///
/// Hints, one at a time:
/// 1. Two parts, each a `match`: first the write (if `sent < payload.len()`), then the read.
///    Keep a `bool` that says whether either moved a byte.
/// 2. Not `write_all`: on a non-blocking socket it fails with `WouldBlock` halfway, and you
///    cannot tell how much it had written. One `write`, and `sent += n`.
/// 3. Read at most what is still missing (`&mut buf[..missing.min(buf.len())]`), and append
///    `&buf[..n]` to `echo`.
fn step(
    stream: &mut TcpStream,
    transfer: &mut Transfer,
    buf: &mut [u8],
) -> io::Result<Step> {
    let _ = (stream, transfer, buf); // (keeps the compiler quiet until you use them: delete this line)
    todo!("write what the OS takes, read what has arrived, and say how it went")
}
// ============================ END OF YOUR PART ============================
