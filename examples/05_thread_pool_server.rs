//! # 05 — a thread pool, and our own `socketserver`
//!
//! Teaches bounded concurrency: a fixed pool of worker threads and a queue of fixed length, so
//! that a burst of clients costs a known amount of memory and the clients that do not fit are
//! told so at once ("server busy") instead of piling up. The pool and the server loop live in
//! the library (`src/pool.rs`, `src/server.rs`) as a small reusable server, the Rust
//! counterpart of Python's `socketserver.ThreadingTCPServer`: this example only chooses a
//! handler.
//!
//! ```text
//! terminal 1:  cargo run --example 05_thread_pool_server -- --workers 1 --queue 1
//! terminals 2, 3, 4:  nc -N 127.0.0.1 7878
//!     (the first is served, the second waits in the queue, the third gets "server busy")
//! ```
//!
//! `--mode lines` swaps the echo for python/socketserver_lines.py's handler: `hello LINE` back.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use socket_workbook::cli;
use socket_workbook::echo::{End, serve_echo};
use socket_workbook::server::{self, Config, MessageDeadline, Refusals};
use socket_workbook::shutdown::Shutdown;

/// Thread-pool server: a fixed number of workers and a bounded queue, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Worker threads: at most this many clients are served at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,

    /// Clients that may wait for a free worker; beyond that, new clients get "server busy".
    #[arg(long, default_value_t = 16)]
    queue: u16,

    /// Close a client that sends (or reads) nothing for this many seconds: an idle client
    /// holds a whole worker. With `--mode lines`, also a client whose line takes longer.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = cli::parse_seconds)]
    idle_timeout: Duration,

    /// What each client gets.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    mode: Mode,

    /// With `--mode lines`: the longest line accepted, in bytes.
    #[arg(long, default_value_t = 1024, value_parser = cli::number::<usize>(1..=1 << 20))]
    max_line: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// Echo every byte back (chapter 01's protocol).
    Echo,
    /// Answer each line with `hello LINE` (python/socketserver_lines.py's handler).
    Lines,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

// ANCHOR: run
fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter
    // 01).
    cli::announce(&listener)?;
    println!("workers: {}, queue: {}", args.workers, args.queue);

    let config = Config {
        workers: usize::from(args.workers),
        queue: usize::from(args.queue),
        idle_timeout: args.idle_timeout,
        // Both handlers speak text (bytes, lines): a refused client gets a text line.
        refusals: Refusals::lines(),
    };
    // The whole server is one call: the library runs the accept loop, the pool and
    // Ctrl-C.
    let summary = match args.mode {
        Mode::Echo => server::serve(&listener, &shutdown, &config, echo),
        Mode::Lines => {
            let (max_line, line_time) = (args.max_line, args.idle_timeout);
            server::serve(
                &listener,
                &shutdown,
                &config,
                move |stream, peer, shutdown: &Shutdown| {
                    hello_lines(stream, peer, shutdown, max_line, line_time)
                },
            )
        }
    }?;
    println!(
        "shutting down: served {} client(s); turned away {} as busy, {} at shutdown",
        summary.served, summary.busy, summary.turned_away_at_shutdown
    );
    Ok(())
}
// ANCHOR_END: run

// ANCHOR: echo
/// The echo handler: chapter 03's loop, reported in one line when the client was idle.
fn echo(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let (echoed, end) = serve_echo(stream, peer, shutdown)?;
    if end == End::Idle {
        println!("idle: closed {peer} ({echoed} bytes echoed)");
    }
    Ok(())
}
// ANCHOR_END: echo

// ANCHOR: lines
/// The line handler of python/socketserver_lines.py: `for line in self.rfile:
/// self.wfile.write(b"hello " + line)`, with a limit on the line length, and on the
/// time each line may take.
fn hello_lines(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    max_line: usize,
    line_time: Duration,
) -> anyhow::Result<()> {
    let _watch = shutdown.watch_stream(&stream)?;
    let mut writer = stream
        .try_clone()
        .context("cannot clone the client's socket")?;
    // BufReader reads big chunks from the socket and hands them out line by line: one
    // system call for many lines, instead of one per byte. Under it, each line gets
    // `line_time` (the idle timeout), whole: a client trickling one byte at a time
    // must not keep its worker for ever.
    let mut reader = BufReader::new(MessageDeadline::new(stream, line_time));
    let mut line = Vec::new();
    loop {
        line.clear();
        reader.get_mut().restart();
        // `take` caps how much this one line may read. `BufRead::lines()` has no cap:
        // a client that sends gigabytes without a newline would make it grow one
        // String until the server runs out of memory. One byte over the limit tells
        // "too long" from "just fits".
        let limit = max_line as u64 + 1;
        match reader.by_ref().take(limit).read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()), // end of stream
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                match line.len() {
                    0 => println!("idle: closed {peer}"),
                    n => println!(
                        "too slow: closed {peer} ({n} bytes of a line, no end)"
                    ),
                }
                return Ok(());
            }
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read from {peer}"));
            }
        }
        let text = match line.strip_suffix(b"\n") {
            Some(text) => text,
            None if line.len() > max_line => {
                // We cannot find the next line's start without reading the rest of
                // this one: say why, and close (cleanly, so that the client gets to
                // read why).
                let why = format!("error: line longer than {max_line} bytes\n");
                server::say_and_close(writer, why.as_bytes());
                bail!("{peer} sent a line longer than {max_line} bytes; closed it");
            }
            // the last line, without a newline, at the end of the stream
            None => &line[..],
        };
        let text = String::from_utf8_lossy(text.strip_suffix(b"\r").unwrap_or(text));
        writer
            .write_all(format!("hello {text}\n").as_bytes())
            .with_context(|| format!("cannot write to {peer}"))?;
    }
}
// ANCHOR_END: lines
