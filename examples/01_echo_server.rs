//! # 01 — the simplest echo server
//!
//! Teaches the five steps every TCP server takes: create a socket, bind it to an address,
//! listen, accept a client, then read and write. This server serves exactly **one** client:
//! it echoes back everything that client sends until the client closes, then exits.
//!
//! Run it, then talk to it from a second terminal:
//!
//! ```text
//! terminal 1:  cargo run --example 01_echo_server
//! terminal 2:  cargo run --example 02_echo_client -- hello
//!              (or: nc -N 127.0.0.1 7878, type lines, Ctrl-D to close)
//! ```
//!
//! Look for `listening on 127.0.0.1:7878`, then `connected: 127.0.0.1:PORT` — the client's own
//! address, with a port the client's OS picked — and finally how many bytes were echoed.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

// ANCHOR: args
/// Echo server: serves one client, echoes all it sends, exits when it closes.
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
// ANCHOR_END: args

fn run(args: Args) -> anyhow::Result<()> {
    // ANCHOR: bind
    // 1. Socket, bind and listen in one call. std's `TcpListener::bind` creates a TCP
    //    socket (and, on Unix, sets SO_REUSEADDR: chapter 06), binds it to the address
    //    (claims the port: a second server on it gets "address already in use"), and
    //    calls `listen`, which tells the kernel to complete handshakes with clients on
    //    our behalf and queue them until we accept them.
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;

    // 2. Ask which address we really got: with port 0 the kernel picked a free port,
    //    and whoever starts us (a reader, a test) learns it from this line.
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    println!("listening on {local}");
    // ANCHOR_END: bind

    // ANCHOR: accept
    // 3. Accept one client. `accept` blocks until the kernel has finished a three-way
    //    handshake with someone; it hands us a *new* socket for that client, while
    //    `listener` would keep listening for the next one (this lesson takes only
    //    one).
    let (mut stream, peer) = listener.accept().context("accept failed")?;
    println!("connected: {peer}");
    // ANCHOR_END: accept

    // ANCHOR: echo
    // 4. Echo until the client closes. `read` blocks until *some* bytes have arrived
    //    and returns how many: 1 byte or 4096, however the network delivered them,
    //    never "one message". `Ok(0)` means end of stream: the client closed its side
    //    (it sent a FIN).
    let mut buf = [0u8; 4096];
    let mut echoed: u64 = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            // A signal arrived while we were blocked; nothing was read: just try
            // again.
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read from {peer}"));
            }
        };
        // A blocking `write` waits for room in the send buffer, but a signal or a
        // write timeout can cut it short after part of the bytes: `write_all` loops
        // until every byte is handed to the kernel.
        stream
            .write_all(&buf[..n])
            .with_context(|| format!("cannot write to {peer}"))?;
        echoed += n as u64;
    }
    // ANCHOR_END: echo

    // ANCHOR: close
    // 5. Close. Dropping `stream` closes our side (we send our FIN); dropping
    //    `listener` stops listening, and the port is free again.
    println!("disconnected: {peer} ({echoed} bytes echoed)");
    Ok(())
    // ANCHOR_END: close
}
