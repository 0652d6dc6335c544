//! # Exercise 11 · messages out of a stream, however the reads cut it (chapter 11)
//!
//! Chapter 11 shows that TCP keeps no message boundaries: one `read` may return half a message,
//! or three messages and a bit of a fourth. This server's clients end every message with `\n`,
//! and it answers each message with one line, `got: MESSAGE`. The reading is written, and
//! deliberately naive about sizes (a 16-byte buffer, so that reads cut messages often); turning
//! what the reads return into messages is yours: **write `take_messages`** below, by hand
//! (no `BufReader`, no `lines()`).
//!
//! Try it by hand (two terminals; type several lines, or paste a few at once):
//!
//! ```text
//! terminal 1:  cargo run --example ex11_line_splitter
//! terminal 2:  nc 127.0.0.1 7878
//! ```
//!
//! Check it (the checker merges messages into one write, and cuts them at every byte):
//!
//! ```text
//! cargo run --bin check -- 11_line_splitter
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::shutdown::Shutdown;

/// Line server: answers every `\n`-terminated message with `got: MESSAGE`.
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
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let _listener_watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
    cli::announce(&listener)?;

    // One client at a time, as in chapter 03: the subject here is the bytes, not concurrency.
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        println!("connected: {peer}");
        match serve(stream, &shutdown) {
            Ok(count) => println!("disconnected: {peer} ({count} messages)"),
            Err(err) => eprintln!("error: {peer}: {}", cli::one_line(&err)),
        }
    }
    println!("shutting down");
    Ok(())
}

/// Reads the client's bytes as they come and answers every whole message.
fn serve(mut stream: TcpStream, shutdown: &Shutdown) -> anyhow::Result<u64> {
    // While this `Watch` lives, Ctrl-C makes a blocked `read` return 0 (chapter 03).
    let _watch = shutdown.watch_stream(&stream)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    // Bytes received and not yet part of a whole message: they wait here for the rest.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16];
    let mut count = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("cannot read"),
        };
        for message in take_messages(&mut pending, &buf[..n]) {
            count += 1;
            let mut reply = b"got: ".to_vec();
            reply.extend_from_slice(&message);
            reply.push(b'\n');
            stream.write_all(&reply).context("cannot answer")?;
        }
    }
    if !pending.is_empty() {
        // The client closed in the middle of a message: say so, rather than answer half of it.
        let line = format!(
            "error: the stream ended inside a message ({} bytes)\n",
            pending.len()
        );
        stream.write_all(line.as_bytes()).context("cannot answer")?;
    }
    Ok(count)
}

// ============================== YOUR PART ==============================
/// Adds the bytes one `read` returned to the bytes still waiting, and takes out every message
/// that is now whole.
///
/// Given: `pending`, the bytes received earlier that did not end a message yet (empty at the
/// start); `received`, what the latest `read` returned: any number of bytes, cut anywhere.
///
/// Must hold:
/// 1. returns every message that is now complete, in order, each **without** its `\n`; one call
///    may complete none, one, or many messages (one read can hold several);
/// 2. bytes after the last `\n` are the start of the next message: they stay in `pending`, and
///    the next call continues them. Nothing is lost, nothing is returned twice;
/// 3. an empty line (`\n` alone) is a message too: the empty one.
///
/// Hints, one at a time:
/// 1. Append first: `pending.extend_from_slice(received)`. Then the question is only "where
///    are the `\n`s in `pending`?".
/// 2. In a loop, find the first `\n`: `pending.iter().position(|&b| b == b'\n')`. No more: stop.
/// 3. `pending.drain(..=i)` removes the message *and* its `\n` from the front, and gives them
///    to you; keep all but the last byte.
fn take_messages(pending: &mut Vec<u8>, received: &[u8]) -> Vec<Vec<u8>> {
    let _ = (pending, received); // (keeps the compiler quiet until you use them: delete this line)
    todo!("append, then take out every complete line")
}
// ============================ END OF YOUR PART ============================
