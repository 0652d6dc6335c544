//! # Exercise 16 · reconnect with capped, jittered backoff (chapter 16)
//!
//! A client that keeps a connection to a server: it sends `ping N` lines and expects a
//! `pong N` line back for each. When it cannot connect, or the connection fails, or the server
//! stops answering, it waits and connects again — and the waits are where the skill lies:
//!
//! - each wait twice the one before, from `--interval`, but never more than `--max-wait`;
//! - each wait drawn at random between half of it and all of it, so that a thousand clients
//!   that lost the same server do not all come back at the same instant;
//! - only an **answer** starts the waits again from `--interval`: a connect that succeeds proves
//!   only that a kernel accepted it (chapter 16's "Run it": a frozen server's kernel accepts
//!   into its backlog, and nothing ever answers).
//!
//! Everything is written except the loop that decides: **write `keep_connected`**.
//!
//! Try it by hand (two terminals): start the client first and watch the waits grow while
//! nothing listens; then start a line server that answers (here `socat`, on Debian and Ubuntu
//! `sudo apt install socat`), stop it with Ctrl-C, and start it again:
//!
//! ```text
//! terminal 1:  cargo run --example ex16_reconnect -- --interval 0.5 --max-wait 8
//! terminal 2:  socat TCP-LISTEN:7878,reuseaddr,fork SYSTEM:'sed -u s/ping/pong/'
//! ```
//!
//! Check it (the checker's own server refuses, then accepts and never answers, then answers):
//!
//! ```text
//! cargo run --bin check -- 16_reconnect
//! ```

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
#[allow(unused_imports)] // for your code: `random_range` on `rand::rng()`
use rand::Rng;
use socket_workbook::cli;

/// Keeps a connection to a line server, and reconnects with capped, jittered backoff.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address of the server.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Seconds of the first wait before reconnecting; each next one is twice as long.
    #[arg(long, value_name = "SECS", default_value = "0.5", value_parser = cli::parse_seconds)]
    interval: Duration,

    /// Seconds that no wait exceeds, however often the client failed.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = cli::parse_seconds)]
    max_wait: Duration,

    /// Seconds to wait for each answer (and for a connect) before giving the server up.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = cli::parse_seconds)]
    timeout: Duration,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    if args.interval.is_zero()
        || args.max_wait < args.interval
        || args.timeout.is_zero()
    {
        anyhow::bail!(
            "invalid waits: --interval and --timeout must be above 0, and --max-wait at least \
             --interval (try --interval 0.5 --max-wait 30)"
        );
    }
    keep_connected(args.addr, args.interval, args.max_wait, args.timeout);
    Ok(())
}

/// One attempt to connect, bounded by `timeout` (a dropped SYN would otherwise block for a
/// minute or more). `None`, with a line saying why, when it fails.
fn connect(addr: SocketAddr, timeout: Duration) -> Option<TcpStream> {
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => {
            println!("connected to {addr}");
            Some(stream)
        }
        Err(err) => {
            println!("cannot connect to {addr}: {}", cli::describe_io(&err));
            None
        }
    }
}

/// Talks to the server over `stream` until the connection fails: a `ping N` line, then up to
/// `timeout` for the `pong N` line, then the next ping `timeout` later. Returns whether **at
/// least one answer** came: the proof that a program, not just a kernel, is there.
fn converse(stream: TcpStream, timeout: Duration) -> bool {
    let mut answered = false;
    let reason = match talk(&stream, timeout, &mut answered) {
        Ok(()) => "the server closed the connection".to_string(),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            format!("no answer within {} s", timeout.as_secs_f64())
        }
        Err(err) => cli::describe_io(&err),
    };
    println!("lost: {reason}");
    answered
}

/// The conversation itself; `Ok(())` when the server closes, an error otherwise.
fn talk(stream: &TcpStream, timeout: Duration, answered: &mut bool) -> io::Result<()> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let mut line = String::new();
    for n in 1u64.. {
        writer.write_all(format!("ping {n}\n").as_bytes())?;
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        println!("answer: {}", line.trim_end());
        *answered = true;
        thread::sleep(timeout);
    }
    Ok(())
}

/// Sleeps for `wait`, after saying so: `waiting 0.123 s`. Blocking in a sleep costs no CPU.
fn pause(wait: Duration) {
    println!("waiting {:.3} s", wait.as_secs_f64());
    thread::sleep(wait);
}

// ============================== YOUR PART ==============================
/// Connects to `addr`, talks while the connection lasts, and after each failure waits and
/// connects again; forever (the user stops the client with Ctrl-C).
///
/// Given: [`connect`] (one attempt: `Some(stream)` or `None`), [`converse`] (talks until the
/// connection fails; `true` if at least one answer came), [`pause`] (says how long, then
/// sleeps); `interval`, `max_wait`, `timeout` from the command line.
///
/// Must hold:
/// 1. the first attempt is made at once; after every failed attempt or lost connection, one
///    [`pause`] before the next attempt;
/// 2. the nominal waits are `interval`, 2 × `interval`, 4 × `interval`, …, each twice the one
///    before, but **never above `max_wait`**;
/// 3. each actual wait is **drawn at random in [nominal / 2, nominal]**: never the same sequence
///    twice, so that clients that failed together do not come back together;
/// 4. the nominal wait starts again from `interval` **only after the server answered**
///    (`converse` returned `true`), never merely because a connect succeeded;
/// 5. waiting costs no CPU: never try again without a pause.
///
/// Hints, one at a time:
/// 1. Keep the nominal wait in a variable outside the loop; inside: connect, converse if
///    connected, pause, double.
/// 2. Doubling with a cap: `(wait * 2).min(max_wait)`.
/// 3. The jitter, in seconds: `let top = wait.as_secs_f64();`, then
///    `rand::rng().random_range(top / 2.0..=top)`, and `Duration::from_secs_f64` of that.
fn keep_connected(
    addr: SocketAddr,
    interval: Duration,
    max_wait: Duration,
    timeout: Duration,
) {
    // (keeps the compiler quiet until you use them: delete this line)
    let _ = (addr, interval, max_wait, timeout, connect, converse, pause);
    todo!("connect, talk, pause with jitter, double up to the cap, reset on an answer")
}
// ============================ END OF YOUR PART ============================
