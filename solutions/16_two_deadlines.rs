//! # Exercise 16 · heartbeats both ways: two deadlines in one loop (chapter 16)
//!
//! Chapter 16's server only answers heartbeats. This one also sends its own, so that a client
//! can tell a quiet server from a dead one: whenever the server has sent nothing for
//! `--interval`, it sends `PING`. And it drops a client from which no *complete line* has come
//! for `--timeout` (`BYE timeout`, then it closes). Lines: `PING` is answered `PONG`, `PONG` is
//! taken silently, anything else is echoed as `echo: …`. One thread per client; the thread
//! sleeps in `read` until the nearer of two deadlines. **Write `watch`** below.
//!
//! Try it by hand (two terminals; type `PING`, or nothing, and watch):
//!
//! ```text
//! terminal 1:  cargo run --example ex16_two_deadlines -- --interval 2 --timeout 10
//! terminal 2:  nc 127.0.0.1 7878
//! ```
//!
//! Check it (the checker plays a silent client, a chatty one, and one that trickles bytes):
//!
//! ```text
//! cargo run --bin check -- 16_two_deadlines
//! ```

use std::io::Read;
use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Heartbeats both ways: pings quiet clients' connections, drops silent clients.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Seconds without sending anything after which the server sends `PING`.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = cli::parse_seconds)]
    interval: Duration,
    /// Seconds without a complete line from the client after which it is dropped.
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = cli::parse_seconds)]
    timeout: Duration,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let (interval, timeout) = (args.interval, args.timeout);
        thread::spawn(move || {
            let peer = stream
                .peer_addr()
                .map_or("?".to_string(), |p| p.to_string());
            println!("connected: {peer}");
            // A client that stops reading must not hold this thread forever either.
            let _ = stream.set_write_timeout(Some(timeout));
            match watch(&mut stream, interval, timeout) {
                Ok(Ending::Closed) => println!("disconnected: {peer}"),
                Ok(Ending::Silent) => {
                    let _ = stream.write_all(b"BYE timeout\n");
                    let secs = timeout.as_secs_f64();
                    println!("dropped: {peer} (no complete line for {secs} s)");
                }
                Err(err) => println!("lost: {peer}: {err}"),
            }
        });
    }
    Ok(())
}

/// How `watch` ended.
enum Ending {
    /// The client closed the connection.
    Closed,
    /// No complete line from the client for `timeout`.
    Silent,
}

/// The longest line accepted: a heartbeat is a few bytes.
const MAX_LINE: usize = 1024;

/// Bytes received and not yet taken out as lines (chapter 12's decoder, for lines).
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// Appends what one `read` returned.
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Takes out the next complete line, without its `\n` (or `\r\n`).
    fn next_line(&mut self) -> io::Result<Option<String>> {
        let Some(end) = self.buf.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > MAX_LINE {
                return Err(io::Error::new(ErrorKind::InvalidData, "line too long"));
            }
            return Ok(None);
        };
        let line: Vec<u8> = self.buf.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line);
        Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
    }
}

/// Answers one complete line; returns whether it sent something.
fn respond(stream: &mut TcpStream, line: &str) -> io::Result<bool> {
    match line {
        "PING" => stream.write_all(b"PONG\n").map(|()| true),
        "PONG" => Ok(false), // the client's answer to our PING: nothing to say
        other => stream
            .write_all(format!("echo: {other}\n").as_bytes())
            .map(|()| true),
    }
}

/// The time left until `deadline`, or `None` once it has passed. (`None` rather than zero:
/// `set_read_timeout(Some(Duration::ZERO))` is an error, not "do not wait".)
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// How a read timeout shows up: `WouldBlock` on Unix, `TimedOut` on Windows (std's
/// `set_read_timeout` documentation).
fn timed_out(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

// ============================== YOUR PART ==============================
/// Serves one client until it closes (`Ending::Closed`) or falls silent (`Ending::Silent`).
///
/// Given: `stream`, the client's connection (a write timeout is set; no read timeout yet);
/// `interval` and `timeout` from the command line. `Lines`, `respond`, `time_left` and
/// `timed_out` above.
///
/// Must hold:
/// 1. every complete line is answered with `respond`, as soon as it is in;
/// 2. **the ping deadline**: whenever the server has sent nothing (no answer, no ping) for
///    `interval`, it sends `PING\n`. A client that sends `PONG` every 0.1 s gets no answers,
///    so it gets a `PING` every `interval` all the same;
/// 3. **the drop deadline**: no complete line for `timeout` → return `Ok(Ending::Silent)`. Only
///    a complete line counts: a client that sends a byte now and then, never a `\n`, is dropped
///    on time like a silent one;
/// 4. `read` returning `Ok(0)` → `Ok(Ending::Closed)`; any error but a timeout or
///    `Interrupted` → return it;
/// 5. the thread sleeps in `read` between events: never a loop that polls (the checker measures
///    the CPU time).
///
/// Hints, one at a time:
/// 1. Keep two instants, `last_sent` and `last_line`; the deadlines are `last_sent + interval`
///    and `last_line + timeout`.
/// 2. In a loop: take out the complete lines (each moves `last_line`; each answer moves
///    `last_sent`); then drop if the drop deadline has passed; then ping if the ping deadline
///    has; then read, with `set_read_timeout(time_left(nearer deadline))`.
/// 3. `Ok(n)` → `lines.push(&buf[..n])` and nothing else: the next turn of the loop decides
///    whether a line is complete. A timeout is no error: the next turn checks the deadlines.
fn watch(
    stream: &mut TcpStream,
    interval: Duration,
    timeout: Duration,
) -> io::Result<Ending> {
    let mut lines = Lines::default();
    let mut last_sent = Instant::now();
    let mut last_line = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        // 1. Every complete line: proof of life, and perhaps an answer.
        while let Some(line) = lines.next_line()? {
            last_line = Instant::now();
            if respond(stream, &line)? {
                last_sent = Instant::now();
            }
        }
        // 2. The two deadlines, each from its own event.
        let drop_at = last_line + timeout;
        let ping_at = last_sent + interval;
        if time_left(drop_at).is_none() {
            return Ok(Ending::Silent);
        }
        if time_left(ping_at).is_none() {
            stream.write_all(b"PING\n")?;
            last_sent = Instant::now();
            continue;
        }
        // 3. Sleep in `read` until bytes come or the nearer deadline passes.
        let Some(wait) = time_left(drop_at.min(ping_at)) else {
            continue;
        };
        stream.set_read_timeout(Some(wait))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(Ending::Closed),
            // Only bytes: whether they finish a line is for the next turn to see.
            Ok(n) => lines.push(&buf[..n]),
            Err(err) if timed_out(&err) || err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
// ============================ END OF YOUR PART ============================
