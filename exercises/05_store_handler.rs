//! # Exercise 05 · a handler for the reusable server: a shared key-value store (chapter 05)
//!
//! Chapter 05's `server::serve` runs the accept loop, the pool and Ctrl-C; you give it a
//! handler. This one serves a tiny key-value store that every client shares, one command per
//! line:
//!
//! ```text
//! SET key value    →  OK                 (the value is the rest of the line; spaces allowed)
//! GET key          →  VALUE value        or  NOT FOUND
//! anything else    →  ERROR unknown command
//! ```
//!
//! **Write `execute` and `handle_client`** below.
//!
//! Try it by hand (three terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex05_store_handler
//! terminal 2:  nc 127.0.0.1 7878         (type `SET color blue`, then `GET color`)
//! terminal 3:  nc 127.0.0.1 7878         (type `GET color`: `VALUE blue`)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 05_store_handler
//! ```

use std::collections::HashMap;
#[allow(unused_imports)] // for your code: reading lines, writing answers
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[allow(unused_imports)] // for your code: `.context(…)` on errors, `bail!`
use anyhow::{Context, bail};
use clap::Parser;
use socket_workbook::cli;
use socket_workbook::server::{self, Config, Refusals};
use socket_workbook::shutdown::Shutdown;

/// Key-value store server on the reusable thread-pool server (chapter 05).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Worker threads: at most this many clients are served at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
}

/// The store every client shares: one map behind one lock.
type Store = Arc<Mutex<HashMap<String, String>>>;

/// The longest request line accepted, in bytes.
const MAX_LINE: usize = 1024;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;

    let config = Config {
        workers: usize::from(args.workers),
        queue: 16,
        // An idle client holds a worker: close it after a minute of silence.
        idle_timeout: Duration::from_secs(60),
        // "server busy" as a line: the store speaks lines.
        refusals: Refusals::lines(),
    };
    let store: Store = Arc::default();
    let summary = server::serve(
        &listener,
        &shutdown,
        &config,
        move |stream, peer, shutdown: &Shutdown| {
            handle_client(stream, peer, shutdown, &store)
        },
    )?;
    println!("shutting down: served {} client(s)", summary.served);
    Ok(())
}

// ============================== YOUR PART ==============================
/// Runs one request line (without its `\n`) against the store and returns the answer line
/// (without its `\n`).
///
/// Must hold:
/// 1. `SET key value` stores `value`, the whole rest of the line after the key and its space,
///    byte for byte (`SET g hello   big  world` stores `hello   big  world`, every space kept),
///    and answers `OK`; a second `SET` of a key replaces its value;
/// 2. `GET key` answers `VALUE value`, or `NOT FOUND` for a key never set;
/// 3. anything else answers `ERROR unknown command`: an unknown command, a command in lower
///    case (`set`), `SET` without a value, `GET` without a key or with more after its key, an
///    empty line.
///
/// Hints, one at a time:
/// 1. `request.splitn(3, ' ')` gives the command, the key and the rest.
/// 2. `store.lock()` returns a guard; the lock is held until the guard is dropped. Here, in a
///    function that never waits for the network, holding it to the end is fine.
/// 3. A poisoned lock (a thread panicked while holding it) still holds a sound map:
///    `.unwrap_or_else(|poisoned| poisoned.into_inner())`.
fn execute(store: &Store, request: &str) -> String {
    let _ = (store, request); // (keeps the compiler quiet until you use them: delete this line)
    todo!("parse SET/GET and answer")
}

/// Serves one client: reads its request lines and writes one answer line for each, until it
/// closes, stays silent too long, or the server shuts down.
///
/// Given (by `server::serve`): `stream`, with read and write timeouts of 60 s set; `peer`;
/// `shutdown`, the server's shutdown handle; `store`, the shared map. A silent client's
/// timeout (`WouldBlock` or `TimedOut` after 60 s) ends it without an error: `return Ok(())`.
///
/// Must hold:
/// 4. every request line gets its answer line (`execute`, then `\n`), in order, even when a
///    client sends several lines in one write, or one line in several writes;
/// 5. while one client is connected (even silent), other clients are answered at once: never
///    hold the store's lock while waiting for the network;
/// 6. Ctrl-C ends a silent client at once: the server exits within a second or so, not after
///    the 60 s idle timeout (watch the stream: chapter 03's `shutdown.watch_stream`);
/// 7. a line of exactly `MAX_LINE` bytes (not counting its `\n`) is answered; a line of
///    `MAX_LINE + 1` bytes ends the client with an error as soon as those bytes have arrived,
///    without waiting for a `\n` that may never come, and without an answer;
/// 8. the client's close (`read` returns 0) ends it without an error; a read error (a reset)
///    ends it with the error (`Err`: the server reports it).
///
/// Hints, one at a time:
/// 1. `let _watch = shutdown.watch_stream(&stream)?;` first: while `_watch` lives, Ctrl-C makes
///    a blocked read return 0, the end of the stream.
/// 2. One `BufReader` for the whole connection, made before the loop (`stream.try_clone()` gives
///    a second handle to write with): a `BufReader` made for each line throws away the bytes it
///    had already read past that line.
/// 3. Chapter 05's `hello_lines` reads capped lines with `take(MAX_LINE as u64 + 1)` and
///    `read_until`, and treats `WouldBlock`/`TimedOut` as the idle timeout.
fn handle_client(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    store: &Store,
) -> anyhow::Result<()> {
    // (keeps the compiler quiet until you use them: delete this line)
    let _ = (&stream, peer, shutdown, store, MAX_LINE, execute);
    todo!("answer each request line until the client leaves")
}
// ============================ END OF YOUR PART ============================
