//! # 03 — a sequential server, and its limit
//!
//! Teaches the accept loop: a server that, unlike 01, keeps running and serves client after
//! client — but **one at a time**. While it serves one client, the next one's connection is
//! complete (the kernel did the handshake) yet nobody reads from it: it waits. Chapter 04 fixes
//! that with threads. This server also stops cleanly on Ctrl-C, even while it is blocked.
//!
//! ```text
//! terminal 1:  cargo run --example 03_sequential_server
//! terminal 2:  nc 127.0.0.1 7878          (type a line: it comes back; keep it open)
//! terminal 3:  cargo run --example 02_echo_client -- hello
//!              (waits: "hello" comes back only when you close terminal 2's nc with Ctrl-D)
//! ```
//!
//! Then press Ctrl-C in terminal 1: it prints `shutting down: served N client(s)` and exits.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::shutdown::Shutdown;

/// Sequential echo server: serves clients one after the other until Ctrl-C.
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
    // ANCHOR: setup
    // Ctrl-C only sets a flag and wakes the sockets we ask it to watch (see the chapter);
    // the loop below decides when to stop.
    let shutdown = Shutdown::on_ctrl_c()?;

    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    println!("listening on {local}");

    // While this `Watch` lives, a Ctrl-C wakes a blocked `accept` by connecting to us.
    let _listener_watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
    // ANCHOR_END: setup

    // ANCHOR: accept_loop
    let mut served: u64 = 0;
    loop {
        // 1. Wait for the next client. Others who connect meanwhile are queued by the kernel
        //    (the listen backlog): their handshake is done, their bytes wait in its buffers.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                // Out of file descriptors, say: this client is lost, the server goes on.
                // A short pause keeps a persistent error from spinning the CPU.
                eprintln!("error: accept failed: {}", cli::describe_io(&err));
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        // 2. Woken for shutdown? The "client" may be our own wake-up call: drop it and stop.
        if shutdown.is_triggered() {
            break;
        }
        // 3. Serve this client to the end. Nobody else is served until `serve` returns.
        println!("connected: {peer}");
        match serve(stream, peer, &shutdown) {
            Ok(echoed) if shutdown.is_triggered() => {
                println!("closed: {peer} ({echoed} bytes echoed; shutting down)");
            }
            Ok(echoed) => println!("disconnected: {peer} ({echoed} bytes echoed)"),
            // A client's error ends that client, never the server.
            Err(err) => eprintln!("error: {}", cli::one_line(&err)),
        }
        served += 1;
        if shutdown.is_triggered() {
            break;
        }
    }
    println!("shutting down: served {served} client(s)");
    Ok(())
    // ANCHOR_END: accept_loop
}

// ANCHOR: serve
/// Echoes everything `peer` sends until it closes, or until shutdown stops the reading.
fn serve(mut stream: TcpStream, peer: SocketAddr, shutdown: &Shutdown) -> anyhow::Result<u64> {
    // While this `Watch` lives, a Ctrl-C makes our blocked `read` return 0 (end of stream):
    // we leave the loop as if the client had closed, after the echo in flight is written.
    let _watch = shutdown
        .watch_stream(&stream)
        .with_context(|| format!("cannot watch {peer} for Ctrl-C"))?;

    let mut buf = [0u8; 4096];
    let mut echoed: u64 = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(echoed),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).with_context(|| format!("cannot read from {peer}")),
        };
        stream
            .write_all(&buf[..n])
            .with_context(|| format!("cannot write to {peer}"))?;
        echoed += n as u64;
    }
}
// ANCHOR_END: serve
