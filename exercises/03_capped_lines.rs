//! # Exercise 03 · a capped line reader (chapter 03)
//!
//! A sequential server (chapter 03's accept loop) with a line protocol: each line a client sends
//! is answered with `ok N`, N being the line's length in bytes. A line is read until its `\n`,
//! but a client that sends megabytes without a newline must not make the server buffer them
//! all: past `--max-line` bytes, the server answers `error: line longer than MAX bytes` and
//! closes the connection. **Write `read_line_capped`** below: `BufRead::read_line` has no cap.
//!
//! Try it by hand (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex03_capped_lines -- --max-line 10
//! terminal 2:  nc 127.0.0.1 7878         (type `hello`: `ok 5`; type a long line: the error)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 03_capped_lines
//! ```

#[allow(unused_imports)]
// for your code: `BufRead` has `read_until`, `Read` has `take`
use std::io::{self, BufRead, ErrorKind, Read};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::server::say_and_close;
use socket_workbook::shutdown::Shutdown;

/// Line-length server: answers each line with `ok N`, refuses lines longer than --max-line.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// The longest line accepted, in bytes, not counting its `\n`.
    #[arg(long, default_value_t = 1024)]
    max_line: usize,
}

/// What one call of [`read_line_capped`] found.
#[derive(Debug, PartialEq, Eq)]
#[allow(dead_code)] // (until you write `read_line_capped`, nothing returns these: delete this line)
enum Line {
    /// A line is in the buffer, without its `\n` (the last line of a stream may have none).
    Complete,
    /// More than `max` bytes came without a `\n`: the line is too long.
    TooLong,
    /// The stream ended, and no bytes of a new line had arrived.
    End,
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

    // Chapter 03's accept loop: one client at a time, until Ctrl-C.
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        println!("connected: {peer}");
        match serve_lines(stream, peer, &shutdown, args.max_line) {
            Ok(lines) => println!("disconnected: {peer} ({lines} lines)"),
            Err(err) => eprintln!("error: {}", cli::one_line(&err)),
        }
    }
    println!("shutting down");
    Ok(())
}

/// Answers each line of one client; returns how many lines it sent.
fn serve_lines(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    max: usize,
) -> anyhow::Result<u64> {
    let _watch = shutdown.watch_stream(&stream)?;
    let mut writer = stream.try_clone().context("cannot clone the socket")?;
    // One BufReader for the whole connection: it reads big chunks from the socket, and the
    // bytes after a line's `\n` wait in it for the next call.
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut lines = 0;
    loop {
        line.clear();
        let found = read_line_capped(&mut reader, max, &mut line)
            .with_context(|| format!("cannot read from {peer}"))?;
        match found {
            Line::Complete => {
                lines += 1;
                writer
                    .write_all(format!("ok {}\n", line.len()).as_bytes())
                    .with_context(|| format!("cannot write to {peer}"))?;
            }
            Line::TooLong => {
                // Say why, then close cleanly (chapter 05's lingering close: the client may
                // still be sending the rest of its line).
                let why = format!("error: line longer than {max} bytes\n");
                say_and_close(writer, why.as_bytes());
                println!("closed: {peer} sent a line longer than {max} bytes");
                return Ok(lines);
            }
            Line::End => return Ok(lines),
        }
    }
}

// ============================== YOUR PART ==============================
/// Reads the next line from `reader` into `line` (empty when called), reading at most `max + 1`
/// bytes for it.
///
/// Given: `reader`, buffering the client's socket (keep using it: it may already hold the next
/// lines); `max`, the longest line accepted, not counting its `\n`; `line`, an empty buffer.
///
/// Must hold:
/// 1. `Line::Complete` with `line` holding the line **without** its `\n`, for a line of up to
///    `max` bytes: a line of exactly `max` bytes is accepted, and so is an empty line (`\n`
///    alone: `line` stays empty);
/// 2. `Line::TooLong` as soon as `max + 1` bytes have arrived without a `\n`: without waiting for
///    the rest of the line, which may never end (the client may be sending gigabytes); a line of
///    `max + 1` bytes is refused even when its `\n` comes in the same write;
/// 3. at the end of the stream: `Line::Complete` for a last line that has no `\n` (up to `max`
///    bytes, exactly `max` included), then `Line::End`; `Line::End` at once when no byte of a
///    new line came;
/// 4. the bytes after a `\n` stay in `reader` for the next call;
/// 5. errors (a timeout, a reset) are returned with `?`: the caller reports them.
///
/// Hints, one at a time:
/// 1. `(&mut *reader).take(n)` is a reader that stops after `n` bytes; `read_until(b'\n', line)`
///    on it reads up to and including a `\n`, or until those `n` bytes, or the end of stream.
/// 2. How many bytes may one line take, its `\n` included, before it is surely too long? Count
///    carefully: a line of exactly `max` bytes plus its `\n` must pass.
/// 3. Then look at what arrived: ends with `\n` → Complete (pop it); nothing → End; longer than
///    `max` → TooLong; otherwise the stream ended after a last line without `\n`.
fn read_line_capped(
    reader: &mut BufReader<TcpStream>,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    let _ = (reader, max, line); // (keeps the compiler quiet until you use them: delete this line)
    todo!("read one line, at most `max` bytes before its `\\n`")
}
// ============================ END OF YOUR PART ============================
