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
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    let mut parts = request.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("SET"), Some(key), Some(value)) => {
            // The guard is a temporary: the lock is released at the end of this statement.
            store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(key.to_string(), value.to_string());
            "OK".to_string()
        }
        (Some("GET"), Some(key), None) => {
            let map = store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match map.get(key) {
                Some(value) => format!("VALUE {value}"),
                None => "NOT FOUND".to_string(),
            }
        }
        _ => "ERROR unknown command".to_string(),
    }
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
    // 1. While this lives, Ctrl-C makes our blocked read return 0: we leave at once.
    let _watch = shutdown.watch_stream(&stream)?;
    // 2. One reader for the connection: the lines after the current one wait in its buffer.
    let mut writer = stream
        .try_clone()
        .context("cannot clone the client's socket")?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    // 3. One byte over the limit tells "too long" from "just fits".
    let limit = MAX_LINE as u64 + 1;
    loop {
        line.clear();
        match reader.by_ref().take(limit).read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()), // the client closed, or Ctrl-C stopped the reading
            Ok(_) => {}
            // The idle timeout (60 s of silence): not an error of ours.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                println!("idle: closed {peer}");
                return Ok(());
            }
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read from {peer}"));
            }
        }
        let Some(request) = line.strip_suffix(b"\n") else {
            if line.len() > MAX_LINE {
                bail!("{peer} sent a line longer than {MAX_LINE} bytes; closed it");
            }
            return Ok(()); // a last line without `\n`, cut short by the end of the stream
        };
        let request =
            String::from_utf8_lossy(request.strip_suffix(b"\r").unwrap_or(request));
        let answer = execute(store, &request);
        writer
            .write_all(format!("{answer}\n").as_bytes())
            .with_context(|| format!("cannot write to {peer}"))?;
    }
}
// ============================ END OF YOUR PART ============================
