//! # Exercise 02 · reading exactly N bytes, by hand (chapter 02)
//!
//! Chapter 02's client reads the echo with `read_exact`. Here you write it yourself: sending is
//! done, and the client knows how many bytes the echo has (as many as it sent), but one `read`
//! returns whatever has arrived so far, which may be one byte of it. **Write `read_exactly`**
//! below, without calling `read_exact`.
//!
//! Try it by hand against chapter 01's server (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example 01_echo_server
//! terminal 2:  cargo run --example ex02_read_exact -- hello world
//! ```
//!
//! Check it (the checker runs servers that echo slowly, in pieces, or hang up halfway):
//!
//! ```text
//! cargo run --bin check -- 02_read_exact
//! ```

use std::io::{self, Write};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Echo client: sends each message and prints its echo, read byte for byte.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address of the echo server.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Seconds to wait for the connection, and for each read and write, before giving up.
    #[arg(long, default_value = "5", value_parser = cli::parse_seconds)]
    timeout: Duration,

    /// Messages to send, one after the other.
    #[arg(required = true)]
    messages: Vec<String>,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&args.addr, args.timeout)
        .with_context(|| format!("cannot connect to {}", args.addr))?;
    stream.set_read_timeout(Some(args.timeout))?;
    stream.set_write_timeout(Some(args.timeout))?;

    for message in &args.messages {
        stream
            .write_all(message.as_bytes())
            .with_context(|| format!("cannot send to {}", args.addr))?;
        // The echo is exactly as long as the message: read exactly that many bytes.
        let mut echo = vec![0u8; message.len()];
        read_exactly(&mut stream, &mut echo)
            .with_context(|| format!("cannot read the echo from {}", args.addr))?;
        println!("{}", String::from_utf8_lossy(&echo));
    }
    Ok(())
}

// ============================== YOUR PART ==============================
/// Fills `buf` completely with bytes read from `stream`, however they arrive.
///
/// Given: `stream`, connected, with a read timeout (`--timeout`); `buf`, as long as the
/// expected echo. `ErrorKind::Interrupted` from `read` means "nothing was read, try again".
///
/// Must hold:
/// 1. on `Ok(())`, every byte of `buf` holds the next byte of the stream, in order, however the
///    bytes arrive: a read that returns 1 byte when 5 are expected is normal, and the next read
///    continues *after* it;
/// 2. an empty `buf` (an empty message) is already full: `Ok(())` at once, without waiting;
/// 3. if the stream ends (`read` returns `Ok(0)`) before `buf` is full, even before its first
///    byte, return an error of kind `ErrorKind::UnexpectedEof`
///    (`io::Error::from(ErrorKind::UnexpectedEof)`): the caller then prints one error line and
///    exits 1. Never print half a message, never loop forever;
/// 4. any other error is returned at once, the read timeout included (`WouldBlock` on Unix,
///    `TimedOut` on Windows): with `--timeout 1`, a server that never answers ends the client
///    with an error after about 1 s, not a retry.
///
/// Hints, one at a time:
/// 1. Keep a count `filled` of the bytes already in `buf`; loop while `filled < buf.len()`.
/// 2. Read into the part not filled yet: `stream.read(&mut buf[filled..])`.
/// 3. `Ok(0)` with `filled < buf.len()` is the peer's close: without a check, the loop reads
///    0 bytes again and again, forever, at full speed.
fn read_exactly(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            // The peer closed before the whole echo arrived.
            Ok(0) => return Err(io::Error::from(ErrorKind::UnexpectedEof)),
            // Some bytes arrived: the next read continues after them.
            Ok(n) => filled += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
// ============================ END OF YOUR PART ============================
