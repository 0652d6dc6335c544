//! # Exercise 01 · a byte counter (chapter 01)
//!
//! Chapter 01's server echoes; this one counts. It serves one client: it reads everything the
//! client sends until the client closes its sending side, answers with one line, `N bytes`, and
//! exits. Everything is written except the read loop: **write `count_until_closed`** below.
//!
//! Try it by hand (two terminals; `-N` makes OpenBSD netcat, Linux's usual `nc`, close its
//! sending side at the end of its input):
//!
//! ```text
//! terminal 1:  cargo run --example ex01_byte_counter
//! terminal 2:  printf 'hello' | nc -N 127.0.0.1 7878        (prints `5 bytes`)
//! ```
//!
//! Check it (it runs the program and talks to it over real sockets, the way the tests do):
//!
//! ```text
//! cargo run --bin check -- 01_byte_counter
//! ```

use std::io::{self, Write};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Byte counter: serves one client, counts what it sends, answers `N bytes`, exits.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;

    let (mut stream, peer) = listener.accept().context("accept failed")?;
    println!("connected: {peer}");
    // A client that goes silent must not hold us forever: a read that waits longer than this
    // fails with a timeout error (chapter 04 explains idle timeouts).
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context("cannot set a read timeout")?;

    let total = count_until_closed(&mut stream)
        .with_context(|| format!("cannot read from {peer}"))?;

    // The answer, then close: dropping `stream` sends our FIN after the line.
    stream
        .write_all(format!("{total} bytes\n").as_bytes())
        .with_context(|| format!("cannot write to {peer}"))?;
    println!("counted: {total} bytes from {peer}");
    Ok(())
}

// ============================== YOUR PART ==============================
/// Reads from `stream` until the client closes its sending side, and returns how many bytes
/// arrived in all.
///
/// Given: `stream`, connected to the client, with a read timeout of 10 s.
/// `ErrorKind::Interrupted` from `read` means "nothing was read, try again".
///
/// Must hold:
/// 1. every byte counts, however the bytes arrive: in one piece, or in many pieces with pauses
///    between them. One `read` returns what has arrived *so far* (1 byte or 4096), never "all
///    of it", and a read that returns less than the buffer's size is not the end;
/// 2. `Ok(0)` from `read` is the end: the client closed its side (it sent a FIN). A client that
///    sends nothing and closes gets `0 bytes`;
/// 3. any other error (the timeout, a reset) is returned with `?`: the caller reports it
///    (`error: cannot read from …`, exit 1), and no count is sent;
/// 4. count, do not keep: a client may send gigabytes, and this server's memory must not grow
///    with what it sends (50 MB sent leave the server under 16 MB).
///
/// Hints, one at a time:
/// 1. A `[0u8; 4096]` buffer on the stack and a `loop` around `stream.read(&mut buf)`.
/// 2. `match` on the result: `Ok(0) => break`, `Ok(n) => total += n as u64`, and the two errors.
/// 3. Chapter 01's echo loop has the same shape: it writes `&buf[..n]` where you count `n`.
fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total: u64 = 0;
    loop {
        match stream.read(&mut buf) {
            // End of stream: the client closed its sending side.
            Ok(0) => return Ok(total),
            // Whatever arrived so far: count it and read again.
            Ok(n) => total += n as u64,
            // A signal interrupted the wait; nothing was read.
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}
// ============================ END OF YOUR PART ============================
