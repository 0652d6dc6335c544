//! # 02 — an echo client
//!
//! Teaches the client's side: `connect` (with a timeout), `write_all` and `read_exact`, and why
//! one `read` is not one message (short reads). With `--size`, it also shows why a client that
//! sends a big payload must read *while* it writes.
//!
//! Start a server first (terminal 1), then run the client (terminal 2):
//!
//! ```text
//! terminal 1:  cargo run --example 01_echo_server
//! terminal 2:  cargo run --example 02_echo_client -- hello world
//! ```
//!
//! Each message is sent, read back and printed on its own line. Without arguments it sends each
//! line you type (Ctrl-D ends). `--size 1000000` sends a generated one-megabyte payload and checks
//! the echo byte for byte; adding `--single-thread` shows the deadlock the second thread avoids.

use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::text::{SHOWN, inert, shown};

/// Echo client: sends each message, reads back exactly as many bytes, prints them.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address of the echo server.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Seconds to wait for the connection, and for each read and write, before giving up.
    #[arg(long, default_value = "5", value_parser = cli::parse_seconds)]
    timeout: Duration,

    /// Instead of messages, send an N-byte generated payload and verify the echo.
    #[arg(long, value_name = "N", conflicts_with = "messages",
          value_parser = cli::number::<usize>(0..=1 << 40))]
    size: Option<usize>,

    /// With --size: write the whole payload before reading anything (deadlocks on big
    /// payloads, ending in a write timeout; see the chapter).
    #[arg(long, requires = "size")]
    single_thread: bool,

    /// Messages to send, one after the other. Without any, lines are read from stdin.
    messages: Vec<String>,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let timeout = args.timeout;
    // ANCHOR: connect
    // 1. Connect. The kernel sends a SYN and waits for the server's SYN-ACK. A plain
    //    `connect` can wait minutes when nobody answers (a firewall dropping packets);
    //    `connect_timeout` gives up after `timeout`. A closed port answers at once
    //    with a reset: "refused".
    let mut stream = TcpStream::connect_timeout(&args.addr, timeout)
        .with_context(|| format!("cannot connect to {}", args.addr))?;

    // Without timeouts, a server that accepts but never answers would hang us forever.
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // ANCHOR_END: connect

    match args.size {
        Some(size) if args.single_thread => send_then_read(stream, size, args.addr),
        Some(size) => send_and_read_together(stream, size, args.addr),
        None if args.messages.is_empty() => {
            for line in io::stdin().lock().lines() {
                let line = line.context("cannot read stdin")?;
                echo_one(&mut stream, &line, args.addr)?;
            }
            Ok(())
        }
        None => {
            for message in &args.messages {
                echo_one(&mut stream, message, args.addr)?;
            }
            Ok(())
        }
    }
}

// ANCHOR: echo_one
/// Sends one message and prints its echo.
fn echo_one(
    stream: &mut TcpStream,
    message: &str,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    // 2. `write` may send only part of the buffer (when a signal or the write timeout
    //    cuts it short); `write_all` loops until all of it is handed to the kernel
    //    (Python's `sendall`).
    stream
        .write_all(message.as_bytes())
        .with_context(|| format!("cannot send to {addr}"))?;

    // 3. Read back exactly as many bytes as we sent. One `read` returns whatever has
    //    arrived so far: the first half of the echo, say, if the server's reply came
    //    in two segments. `read_exact` loops until the buffer is full, and fails if
    //    the stream ends first.
    let mut echo = vec![0u8; message.len()];
    stream
        .read_exact(&mut echo)
        .with_context(|| format!("cannot read the echo from {addr}"))?;

    // 4. An echo client checks the echo: a server that answers something else is
    // broken
    //    (or not an echo server), and printing its answer as "the echo" would hide it.
    //    What it sent is shown inert and bounded (`src/text.rs`, chapter 14): bytes
    //    from the network never reach the terminal as commands.
    if echo != message.as_bytes() {
        bail!(
            "{addr} echoed something else: sent \"{}\", received \"{}\"",
            shown(message.as_bytes(), SHOWN),
            shown(&echo, SHOWN)
        );
    }
    println!("{}", inert(message));
    Ok(())
}
// ANCHOR_END: echo_one

// ANCHOR: payload
/// The generated payload: byte `i` is `i mod 251`. 251 is prime, so the pattern does
/// not repeat at any power-of-two buffer size: a chunk that is lost, doubled or out of
/// place shows up as a mismatch instead of lining up by accident.
fn payload_byte(i: usize) -> u8 {
    (i % 251) as u8
}
// ANCHOR_END: payload

// ANCHOR: together
/// Which direction failed first. A failure in one direction causes one in the other
/// (the reader stops, so the writer ends up blocked; we close the socket, so the other
/// side fails), and only the first is the cause worth reporting.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Writer,
    Reader,
}

/// Sends `size` bytes while a second thread reads the echo back and checks it.
fn send_and_read_together(
    stream: TcpStream,
    size: usize,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    // `try_clone` gives a second handle to the same socket: one thread writes through
    // one, the other reads through the other. Reading and writing are independent
    // directions.
    let reader = stream
        .try_clone()
        .context("cannot clone the socket for the reader thread")?;
    let first_failure = Arc::new(OnceLock::new());
    let checker = {
        let first_failure = Arc::clone(&first_failure);
        thread::Builder::new()
            .name("reader".into())
            .spawn(move || {
                let verified = verify_echo(&reader, size, addr);
                if verified.is_err() {
                    stop_both(&reader, &first_failure, Side::Reader);
                }
                verified
            })
            .context("cannot start the reader thread")?
    };

    let written = write_payload(&stream, size, addr);
    if written.is_err() {
        stop_both(&stream, &first_failure, Side::Writer);
    }
    let verified = checker
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    // Report the cause, not its consequence: a mismatch makes the writer fail too (the
    // socket is shut down under it), and a failed write makes the reader see an early
    // end.
    match first_failure.get() {
        Some(Side::Reader) => verified.and(written),
        _ => written.and(verified),
    }?;
    println!("sent {size} bytes, received {size} bytes: identical");
    Ok(())
}

/// Records `side` as the first to fail (unless the other already was), then shuts the
/// socket down in both directions, so that the other thread's blocked `write` or
/// `read` returns at once instead of waiting for its timeout.
fn stop_both(stream: &TcpStream, first_failure: &OnceLock<Side>, side: Side) {
    let _ = first_failure.set(side);
    let _ = stream.shutdown(Shutdown::Both);
}
// ANCHOR_END: together

/// Writes the payload in 64 KiB chunks, then half-closes: the server's `read` returns 0, it
/// closes its side in turn, and our reader sees the end of the stream after the last byte.
fn write_payload(
    mut stream: &TcpStream,
    size: usize,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let mut chunk = Vec::with_capacity(64 * 1024);
    let mut sent = 0;
    while sent < size {
        let end = (sent + 64 * 1024).min(size);
        chunk.clear();
        chunk.extend((sent..end).map(payload_byte));
        stream.write_all(&chunk).with_context(|| {
            format!("cannot send to {addr} after {sent} of {size} bytes")
        })?;
        sent = end;
    }
    // ANCHOR: half_close
    // "I have nothing more to send": a FIN goes out, but we can still read.
    stream
        .shutdown(Shutdown::Write)
        .with_context(|| format!("cannot half-close the connection to {addr}"))
    // ANCHOR_END: half_close
}

// ANCHOR: verify
/// Reads until the end of the stream, checking every byte against the payload.
fn verify_echo(
    mut stream: &TcpStream,
    size: usize,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(err).with_context(|| {
                    let what = format!("the echo from {addr}");
                    format!("cannot read {what} after {received} of {size} bytes")
                });
            }
        };
        for (offset, &byte) in buf[..n].iter().enumerate() {
            let at = received + offset;
            if at >= size {
                bail!("{addr} echoed more than the {size} bytes sent");
            }
            if byte != payload_byte(at) {
                bail!(
                    "echo from {addr} differs at byte {at}: sent {}, received {byte}",
                    payload_byte(at)
                );
            }
        }
        received += n;
    }
    if received < size {
        bail!("{addr} closed the connection after echoing {received} of {size} bytes");
    }
    Ok(())
}
// ANCHOR_END: verify

// ANCHOR: single_thread
/// The naive way: write everything, then read. Fine for a few kilobytes; a deadlock
/// for a payload bigger than the buffers between us and the server can hold.
fn send_then_read(
    stream: TcpStream,
    size: usize,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    // With a big payload this write times out: the server is blocked writing echoes
    // that nobody reads, so it stopped reading what we write. Both sides wait for each
    // other.
    write_payload(&stream, size, addr)
        .context("deadlock (run without --single-thread)")?;
    verify_echo(&stream, size, addr)?;
    println!("sent {size} bytes, received {size} bytes: identical");
    Ok(())
}
// ANCHOR_END: single_thread
