//! # 04 — one thread per client
//!
//! Teaches the simplest answer to chapter 03's blocking problem: give every client its own
//! thread, so that a slow client only ever blocks its own thread. It also shows what a
//! long-running server needs around that: a limit on how long a silent client may hold its
//! thread (`--idle-timeout`), per-client errors that end only that client, and a Ctrl-C that
//! lets the clients in flight finish before the server exits.
//!
//! ```text
//! terminal 1:  cargo run --example 04_threaded_server
//! terminal 2:  nc -N 127.0.0.1 7878       (type a line: it comes back; keep it open)
//! terminal 3:  cargo run --example 02_echo_client -- hello
//!              ("hello" comes back at once, while terminal 2 is still connected)
//! ```
//!
//! Look for the number of active clients on each `connected:` and `disconnected:` line, and
//! leave terminal 2 silent for a minute to see the idle timeout close it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::echo::{End, serve_echo};
use socket_workbook::shutdown::Shutdown;

/// Threaded echo server: one thread per client, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Close a client that sends nothing (or reads nothing) for this many seconds, so that
    /// silent clients cannot hold threads forever.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = cli::parse_seconds)]
    idle_timeout: Duration,
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
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    // Printed once everything the server needs is in place.
    cli::announce(&listener)?;

    // ANCHOR: accept_loop
    // How many clients are being served right now. Each client thread decrements it
    // when it ends; an atomic counter needs no lock for that.
    let active = Arc::new(AtomicUsize::new(0));
    // The client threads, so that shutdown can wait for them to finish.
    let mut threads: Vec<JoinHandle<()>> = Vec::new();

    let mut served: u64 = 0;

    while let Some((stream, peer)) = shutdown.accept(&listener) {
        served += 1;
        // Forget the threads that have ended (their clients left), so the list does
        // not grow with every client the server has ever had.
        threads.retain(|thread| !thread.is_finished());

        // 1. Bound how long this client can hold its thread: a read (or write) that
        //    waits longer than this fails, and the thread ends. Without it, a client
        //    that connects and goes silent keeps its thread and its socket forever.
        let timeouts = stream
            .set_read_timeout(Some(args.idle_timeout))
            .and_then(|()| stream.set_write_timeout(Some(args.idle_timeout)));
        if let Err(err) = timeouts {
            eprintln!(
                "error: cannot set timeouts for {peer}: {}",
                cli::describe_io(&err)
            );
            continue; // dropping `stream` closes this client
        }

        let now_active = active.fetch_add(1, Ordering::SeqCst) + 1;
        println!("connected: {peer} ({now_active} active)");

        // 2. One thread per client. A named thread shows up by name in panics,
        //    debuggers and `top -H`. Linux keeps only the first 15 bytes of a thread's
        //    name (pthread_setname_np(3)), so the name is the client's port, which
        //    tells the clients apart: `client-51000`. `Builder::spawn` returns an
        //    error where `thread::spawn` would panic: when the OS refuses another
        //    thread (out of memory, or the user's thread limit).
        let (client_active, client_shutdown) = (Arc::clone(&active), shutdown.clone());
        let spawned = thread::Builder::new()
            .name(format!("client-{}", peer.port()))
            .spawn(move || {
                serve_client(stream, peer, &client_shutdown, &client_active)
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(err) => {
                // The closure, and with it `stream`, was dropped: this client is
                // closed.
                let now_active = active.fetch_sub(1, Ordering::SeqCst) - 1;
                eprintln!(
                    "error: cannot start a thread for {peer}: {} (closed it;\
                        \x20{now_active} active)",
                    cli::describe_io(&err)
                );
            }
        }
    }
    // ANCHOR_END: accept_loop

    // ANCHOR: shutdown
    // 3. Ctrl-C: we no longer accept. The helper has stopped every client's reading; a
    //    reply in flight is still written, and a client stuck in `write` is closed
    //    after the grace period. Wait for every client thread to end before exiting.
    // (How many are still running is a race with the clients being woken right now, so
    // the line does not pretend to know.)
    println!("shutting down: stopped accepting, waiting for clients in flight");
    for thread in threads {
        // A panicking client thread has already printed its panic; nothing more to do.
        let _ = thread.join();
    }
    println!("shutting down: done, {served} client(s) served in all");
    Ok(())
    // ANCHOR_END: shutdown
}

// ANCHOR: serve_client
/// The body of a client's thread: echo, then say how it ended. Nothing here can stop
/// the server: an error is this client's alone.
fn serve_client(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    active: &AtomicUsize,
) {
    let result = serve_echo(stream, peer, shutdown);
    let left = active.fetch_sub(1, Ordering::SeqCst) - 1;
    match result {
        Ok((echoed, End::Closed)) => {
            println!("disconnected: {peer} ({echoed} bytes echoed, {left} active)");
        }
        Ok((echoed, End::Idle)) => {
            println!("idle: closed {peer} ({echoed} bytes echoed, {left} active)");
        }
        Ok((echoed, End::ShuttingDown)) => {
            println!("closed: {peer} ({echoed} bytes echoed; shutting down)");
        }
        Err(err) => {
            eprintln!("error: {}", cli::one_line(&err));
            println!("disconnected: {peer} after an error ({left} active)");
        }
    }
}
// ANCHOR_END: serve_client
