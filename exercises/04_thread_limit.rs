//! # Exercise 04 · a thread limit with a busy reply (chapter 04)
//!
//! Chapter 04's server starts a thread for every client, however many come: a thousand
//! clients, a thousand threads. This one serves at most `--max-clients` at once; the next one
//! is told `server busy, try again later` and closed, **without** a thread being started for
//! it. Chapter 05 does this with a pool; here you do it by hand, with a counter.
//! **Write `admit_or_refuse`** below.
//!
//! Try it by hand (four terminals):
//!
//! ```text
//! terminal 1:     cargo run --example ex04_thread_limit -- --max-clients 2
//! terminals 2, 3: nc 127.0.0.1 7878     (both served: type lines, they come back)
//! terminal 4:     nc 127.0.0.1 7878     (`server busy, try again later`, then closed)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 04_thread_limit
//! ```

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
#[allow(unused_imports)]
// for your code: the counter's operations take an `Ordering`
use std::sync::atomic::{AtomicUsize, Ordering};
#[allow(unused_imports)] // for your code: `thread::Builder` starts a thread
use std::thread;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::echo::serve_echo;
use socket_workbook::server::{BUSY_LINE, say_and_close};
use socket_workbook::shutdown::Shutdown;

/// Threaded echo server with a limit on the clients served at once.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Serve at most this many clients at once; tell the others "busy".
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    max_clients: u16,
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

    // How many clients are being served right now.
    let active = Arc::new(AtomicUsize::new(0));
    let max = usize::from(args.max_clients);
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        threads.retain(|thread| !thread.is_finished());
        // An idle client must not hold its place forever (chapter 04's idle timeout).
        let idle = Some(Duration::from_secs(60));
        if let Err(err) = stream
            .set_read_timeout(idle)
            .and_then(|()| stream.set_write_timeout(idle))
        {
            eprintln!(
                "error: cannot set timeouts for {peer}: {}",
                cli::describe_io(&err)
            );
            continue;
        }
        if let Some(thread) = admit_or_refuse(stream, peer, &active, max, &shutdown) {
            threads.push(thread);
        }
    }
    println!("shutting down: waiting for clients in flight");
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// The body of a served client's thread: chapter 03's echo loop.
fn serve_client(stream: TcpStream, peer: SocketAddr, shutdown: &Shutdown) {
    println!("connected: {peer}");
    match serve_echo(stream, peer, shutdown) {
        Ok((echoed, _)) => println!("disconnected: {peer} ({echoed} bytes echoed)"),
        Err(err) => eprintln!("error: {}", cli::one_line(&err)),
    }
}

/// Turns a client away: the busy line, then a clean close (chapter 05's `say_and_close`: it
/// waits up to 0.2 s for the client to close, so that the line is not lost to a reset).
fn refuse(stream: TcpStream, peer: SocketAddr) {
    println!("busy: {peer} turned away");
    say_and_close(stream, BUSY_LINE.as_bytes());
}

// ============================== YOUR PART ==============================
/// Serves `stream` on a new thread if fewer than `max` clients are being served; otherwise
/// refuses it, on this thread, without starting one.
///
/// Given: the new client's `stream` and `peer`; `active`, the number of clients being served
/// right now (shared with their threads); `max`; `shutdown`, for `serve_client`. The two helpers
/// above: `serve_client(stream, peer, &shutdown)` (run it on the client's thread) and
/// `refuse(stream, peer)`.
///
/// Returns the served client's thread (`None` if refused, or if the OS would not start a
/// thread: then say so on stderr, and give the place back).
///
/// Must hold:
/// 1. at most `max` clients are served at once, and `max` are: with `max` served, client
///    `max + 1` gets the busy line (`refuse`), and the `max` served go on being served;
/// 2. when a served client leaves, its place is free again for the next client, every time
///    (after ten clients came and went, `max` are still served at once);
/// 3. a refused client takes no place and costs no thread: it is refused on this thread, and
///    after any number of refusals, a place that comes back goes to the next client.
///
/// Hints, one at a time:
/// 1. `active.fetch_add(1, Ordering::SeqCst)` returns the count *before* adding: compare that
///    with `max`. If there was no room, take the 1 back with `fetch_sub`.
/// 2. The thread needs its own `Arc` of the counter (`Arc::clone(active)`) and of the shutdown
///    handle (`shutdown.clone()`), moved into its closure; it decrements when its client is done.
/// 3. `thread::Builder::new().name(…).spawn(…)` returns an error where `thread::spawn` would
///    panic. A value whose `Drop` decrements the counter gives the place back however the
///    thread ends, even by a panic.
fn admit_or_refuse(
    stream: TcpStream,
    peer: SocketAddr,
    active: &Arc<AtomicUsize>,
    max: usize,
    shutdown: &Shutdown,
) -> Option<JoinHandle<()>> {
    // (keeps the compiler quiet until you use them: delete this line)
    let _ = (&stream, peer, active, max, shutdown, serve_client, refuse);
    todo!("serve the client on a new thread, or refuse it when `max` are served")
}
// ============================ END OF YOUR PART ============================
