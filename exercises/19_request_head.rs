//! # Exercise 19 · a request head with a cap and a deadline (chapter 19)
//!
//! Chapter 19's server reads a request head with `BufRead` and `take`. Here you read it
//! yourself, from the socket, the way an HTTP server's lowest layer does: bytes arrive in reads
//! that stop anywhere, several requests may arrive in one read (pipelining), a head may never
//! end (431), and a slowloris client may send one byte now and then, forever (408). This server
//! answers every request head with `200` and the request line as the body, on a keep-alive
//! connection; requests here have no body. Everything is written except the reading of one
//! head: **write `read_head`** below.
//!
//! Try it by hand (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex19_request_head
//! terminal 2:  printf 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n' | nc -N 127.0.0.1 7878
//!              (two answers, `GET /a HTTP/1.1` and `GET /b HTTP/1.1`)
//!              curl -v http://127.0.0.1:7878/hello
//! ```
//!
//! Check it (the checker cuts requests at every byte, pipelines them, sends endless and
//! trickling heads, and watches the CPU while it waits):
//!
//! ```text
//! cargo run --bin check -- 19_request_head
//! ```

use std::io::{self, Write};
#[allow(unused_imports)] // for your code: reads, and their errors
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;
#[allow(unused_imports)] // for your code: the deadline
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Request-head server: answers every head with `200` and its request line, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// The largest request head accepted, in bytes, its `\r\n\r\n` included; `431` beyond.
    #[arg(long, default_value_t = 8192)]
    max_head: usize,

    /// Seconds in which each request head must arrive whole; `408` when it does not.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = cli::parse_seconds)]
    header_timeout: Duration,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    // A thread per client (chapter 04): a slow client must not hold up the others.
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (max_head, time) = (args.max_head, args.header_timeout);
        thread::spawn(move || {
            let peer = stream
                .peer_addr()
                .map_or("?".to_string(), |p| p.to_string());
            match serve(stream, max_head, time) {
                Ok(how) => println!("closed: {peer} ({how})"),
                Err(err) => println!("dropped: {peer}: {err}"),
            }
        });
    }
    Ok(())
}

/// One connection: heads one after another, each answered at once (keep-alive).
fn serve(
    mut stream: TcpStream,
    max_head: usize,
    time: Duration,
) -> io::Result<&'static str> {
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    // What the client sent and no head has taken yet: the start of the next head, or a
    // whole pipeline of them.
    let mut pending = Vec::new();
    loop {
        let head = match read_head(&mut stream, &mut pending, max_head, time) {
            Ok(head) => head,
            Err(NoHead::Closed) => return Ok("end of stream, or idle"),
            Err(NoHead::TooLarge) => {
                refuse(&mut stream, "431 Request Header Fields Too Large")?;
                return Ok("431");
            }
            Err(NoHead::TimedOut) => {
                refuse(&mut stream, "408 Request Timeout")?;
                return Ok("408");
            }
            Err(NoHead::Failed(err)) => return Err(err),
        };
        // The first line of the head, answered as the body: a client sees which request each
        // answer belongs to.
        let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
        let body = format!("{line}\n");
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes())?;
    }
}

/// A refusal: the status, `Connection: close`, and the end of the connection.
fn refuse(stream: &mut TcpStream, status: &str) -> io::Result<()> {
    let body = format!("{status}\n");
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)
}

/// How reading a head ended, when it gave no head.
#[derive(Debug)]
#[allow(dead_code)] // (until you write `read_head`, nothing returns these: delete this line)
enum NoHead {
    /// The client is gone or idle: the stream ended, or the time ran out, before a byte of this
    /// head; or the stream ended in the middle of it (nobody is left to answer). Close quietly.
    Closed,
    /// More than `max_head` bytes, and still no end of head: answer `431`.
    TooLarge,
    /// Part of the head came, not all of it, within the time: answer `408`.
    TimedOut,
    /// Any other error of the socket.
    Failed(io::Error),
}

/// Where the first head in `bytes` ends (the index just past its `\r\n\r\n`), if it does.
fn end_of_head(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The size of each read: a head usually arrives in one.
const READ_SIZE: usize = 4096;

// ============================== YOUR PART ==============================
/// Reads the next request head: every byte up to and including the first `\r\n\r\n`.
///
/// Given: `stream`, the client's socket (no read timeout set: setting it is up to you);
/// `pending`, the bytes received and not taken yet (empty, or the start of this head, or this
/// head and more: a pipeline); `max_head`, the largest head accepted, its `\r\n\r\n` included;
/// `time`, how long the whole head may take, from this call. `end_of_head(bytes)` finds where
/// a head ends; `READ_SIZE` is a good size for each read.
///
/// Must hold:
/// 1. `Ok(head)` once the whole head is in, however the bytes were split across reads (the
///    `\r\n\r\n` itself may be split); the head is removed from `pending`, and the bytes after
///    it stay there, in order, for the next call (pipelined requests). A head already whole in
///    `pending` is returned without reading.
/// 2. A head of up to `max_head` bytes is accepted, one of exactly `max_head` included;
///    `Err(NoHead::TooLarge)` as soon as more than `max_head` bytes are in without an end of
///    head among them: at once, not when (if ever) the head ends.
/// 3. `Err(NoHead::TimedOut)` when the head has begun but is not whole within `time` of the
///    call, however often bytes arrive: a client sending a byte every 100 ms is refused at
///    the deadline, not kept for ever.
/// 4. `Err(NoHead::Closed)` when no byte of the head came before the end of the stream or the
///    deadline (an idle keep-alive connection gets no `408`), and when the stream ends in the
///    middle of a head. Other errors: `Err(NoHead::Failed(err))`.
/// 5. Waiting costs no CPU: the reads block, with the socket's read timeout set to the time
///    left (chapter 04), never a loop that polls.
///
/// Hints, one at a time:
/// 1. Loop: look in `pending` first (`end_of_head`, and the size); only then read more, and
///    append what the read returned to `pending`.
/// 2. The deadline is `Instant::now() + time`, taken once; before each read,
///    `stream.set_read_timeout(Some(left))` with `left` what remains of it. A read that times
///    out fails with `WouldBlock` (Unix) or `TimedOut` (Windows): which `NoHead` it means
///    depends on whether `pending` is empty.
/// 3. `pending.drain(..end).collect()` takes the head out and keeps the rest. Too large means:
///    no end within the first `max_head` bytes, and more than `max_head` bytes in.
fn read_head(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    max_head: usize,
    time: Duration,
) -> Result<Vec<u8>, NoHead> {
    // (keeps the compiler quiet until you use them: delete this line)
    let _ = (stream, pending, max_head, time, end_of_head, READ_SIZE);
    todo!("read until `\\r\\n\\r\\n`, at most `max_head` bytes, within `time`")
}
// ============================ END OF YOUR PART ============================
