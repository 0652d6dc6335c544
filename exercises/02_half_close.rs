//! # Exercise 02 · say "I am done", then read the whole reply (chapter 02)
//!
//! Some protocols have no length and no end marker: the client sends its request and signals its
//! end by closing its sending side (a half-close: it sends a FIN, but keeps reading), and the
//! server's reply ends when the server closes. Chapter 02's `--size` mode half-closes this way.
//! This client sends its arguments as one request and prints the whole reply.
//! **Write `send_then_read_reply`** below.
//!
//! Try it by hand against chapter 01's server, which echoes until the client's end of stream, or
//! against your byte counter of exercise 01, which answers `N bytes` (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example 01_echo_server          (or: --example ex01_byte_counter)
//! terminal 2:  cargo run --example ex02_half_close -- hello world
//! ```
//!
//! Check it (the checker runs servers that reply only after your FIN, in pieces):
//!
//! ```text
//! cargo run --bin check -- 02_half_close
//! ```

use std::io::{self, Write};
#[allow(unused_imports)]
// for your code: `Read` for reading, `Shutdown` for the half-close
use std::io::{ErrorKind, Read};
#[allow(unused_imports)]
use std::net::Shutdown;
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Request-reply client: sends the words as one request, half-closes, prints the whole reply.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address of the server.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Seconds to wait for the connection, and for each read and write, before giving up.
    #[arg(long, default_value = "5", value_parser = cli::parse_seconds)]
    timeout: Duration,

    /// The request: the words, joined by spaces.
    #[arg(required = true)]
    words: Vec<String>,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&args.addr, args.timeout)
        .with_context(|| format!("cannot connect to {}", args.addr))?;
    stream.set_read_timeout(Some(args.timeout))?;
    stream.set_write_timeout(Some(args.timeout))?;

    let request = args.words.join(" ");
    let reply = send_then_read_reply(&mut stream, request.as_bytes())
        .with_context(|| format!("no complete reply from {}", args.addr))?;

    // The reply as the server sent it, byte for byte.
    let mut stdout = io::stdout().lock();
    stdout.write_all(&reply).context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")?;
    Ok(())
}

// ============================== YOUR PART ==============================
/// Sends `request`, tells the server that the request is complete, and returns everything the
/// server sends back until it closes the connection.
///
/// Given: `stream`, connected, with read and write timeouts; `request`, the bytes to send.
///
/// Must hold:
/// 1. every byte of `request` is sent (a single `write` may take only part of it), an empty
///    request included;
/// 2. then the server learns that nothing more is coming: it waits for that before it answers.
///    The connection must stay open for reading: the reply is still to come;
/// 3. the reply is everything the server sends until it closes (`read` returns `Ok(0)`),
///    however many pieces and lines it comes in, with pauses between them; a server that
///    closes without a word sends an empty reply, which is no error;
/// 4. errors are returned with `?`, the read timeout included (the server never answered): the
///    client then prints one `error:` line and exits 1, within about its `--timeout`.
///
/// Hints, one at a time:
/// 1. `write_all`, then `stream.shutdown(Shutdown::Write)`: a FIN goes out, reading goes on.
///    `Shutdown::Both` would close the reading side too, and dropping the stream closes it all.
/// 2. `read_to_end` reads until `Ok(0)`; or write that loop yourself, into a `Vec<u8>`.
/// 3. Without the half-close, the server waits for more of the request, and you wait for its
///    reply: both wait until your read times out.
fn send_then_read_reply(
    stream: &mut TcpStream,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    let _ = (stream, request); // (keeps the compiler quiet until you use them: delete this line)
    todo!("send the request, half-close, read the reply until the server closes")
}
// ============================ END OF YOUR PART ============================
