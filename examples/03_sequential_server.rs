//! # 03 — a sequential server, and its limit
//!
//! Teaches the accept loop: a server that, unlike 01, keeps running and serves client after
//! client — but **one at a time**. While it serves one client, the next one's connection is
//! complete (the kernel did the handshake) yet nobody reads from it: it waits. Chapter 04 fixes
//! that with threads. This server also stops cleanly on Ctrl-C, even while it is blocked.
//!
//! ```text
//! terminal 1:  cargo run --example 03_sequential_server
//! terminal 2:  nc -N 127.0.0.1 7878       (type a line: it comes back; keep it open)
//! terminal 3:  cargo run --example 02_echo_client -- --timeout 60 hello
//!              (waits: "hello" comes back only when you close terminal 2's nc with Ctrl-D;
//!              `--timeout 60` gives you a minute for that instead of the client's 5 s)
//! ```
//!
//! Then press Ctrl-C in terminal 1: it prints `shutting down: served N client(s)` and exits.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::echo::{End, serve_echo};
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
    // Ctrl-C only sets a flag and wakes the sockets we ask it to watch (see the
    // chapter); the loop below decides when to stop.
    let shutdown = Shutdown::on_ctrl_c()?;

    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;

    // While this `Watch` lives, a Ctrl-C wakes a blocked `accept` by connecting to us
    // (from a socket the helper creates now, so that it works even when descriptors
    // run out later).
    let _listener_watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter
    // 01). Printed last, once everything the server needs is in place.
    cli::announce(&listener)?;
    // ANCHOR_END: setup

    // ANCHOR: accept_loop
    let mut served: u64 = 0;
    // 1. Wait for the next client (`None` once Ctrl-C has been pressed). Others who
    //    connect meanwhile are queued by the kernel in the listen backlog: their
    //    handshake is done, their bytes wait in its buffers.
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        // 2. Serve this client to the end. Nobody else is served until `serve_echo`
        //    returns.
        println!("connected: {peer}");
        match serve_echo(stream, peer, &shutdown) {
            Ok((echoed, End::ShuttingDown)) => {
                println!("closed: {peer} ({echoed} bytes echoed; shutting down)");
            }
            Ok((echoed, _)) => {
                println!("disconnected: {peer} ({echoed} bytes echoed)")
            }
            // 3. A client's error ends that client, never the server.
            Err(err) => eprintln!("error: {}", cli::one_line(&err)),
        }
        served += 1;
    }
    println!("shutting down: served {served} client(s)");
    Ok(())
    // ANCHOR_END: accept_loop
}
