//! # Exercise 18 · a task per connection, with a lifetime (chapter 18)
//!
//! An async line server on tokio. `WAIT MS` is answered `waited MS` after MS milliseconds
//! (think of a slow lookup); any other line is answered `echo: LINE`. Every connection may live
//! `--lifetime` seconds in all, however busy it is: then the server sends `BYE lifetime` and
//! closes it, even in the middle of a `WAIT`. The runtime has **one thread** on purpose
//! (chapter 18: tasks share the worker threads), so that a task that blocks it is seen at once.
//! The listener and the runtime are written; **write `accept_loop` and `serve`** below.
//!
//! Try it by hand (three terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex18_async_lifetime -- --lifetime 30
//! terminal 2:  nc 127.0.0.1 7878       then type: WAIT 5000
//! terminal 3:  nc 127.0.0.1 7878       then type: hi      (answered at once, WAIT or not)
//! ```
//!
//! Check it (the checker keeps one client waiting while another talks, and outlives lifetimes):
//!
//! ```text
//! cargo run --bin check -- 18_async_lifetime
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::{cli, net};
#[allow(unused_imports)]
// for your code: reading lines, writing, sleeping, deadlines
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
#[allow(unused_imports)]
// for your code: reading lines, writing, sleeping, deadlines
use tokio::time::{Instant, sleep, timeout_at};

/// Async line server: `WAIT MS` and echo, each connection for `--lifetime` at most.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Seconds a connection may live in all, however busy.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = cli::parse_seconds)]
    lifetime: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One thread runs every task: a task that blocks it (instead of awaiting) stops them all.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!(
                "error: cannot start the tokio runtime: {}",
                cli::describe_io(&err)
            );
            return ExitCode::FAILURE;
        }
    };
    cli::report(runtime.block_on(async {
        let listener = listen(args.addr)?;
        accept_loop(listener, args.lifetime).await
    }))
}

/// Chapter 18's listener: chapter 06's socket, announced, handed to tokio.
fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = net::listen(addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    cli::announce(&listener)?;
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    TcpListener::from_std(listener).context("cannot register the listener with tokio")
}

/// What a line asks for.
#[allow(dead_code)] // (until you write `serve`, nothing reads these: delete this line)
enum Request {
    /// `WAIT MS`: answer `waited MS` after MS milliseconds.
    Wait(u64),
    /// Anything else: answer `echo: LINE`.
    Echo(String),
}

impl Request {
    fn parse(line: &str) -> Request {
        match line
            .strip_prefix("WAIT ")
            .map(|ms| ms.trim().parse::<u64>())
        {
            Some(Ok(ms)) => Request::Wait(ms),
            _ => Request::Echo(line.to_string()),
        }
    }
}

// ============================== YOUR PART ==============================
/// Accepts connections forever, each served by `serve` in a task of its own.
///
/// Given: `listener`, announced already; `lifetime`, from `--lifetime`.
///
/// Must hold:
/// 1. clients are served at the same time: while one waits on a `WAIT 1500`, another one that
///    connects is answered at once;
/// 2. print `connected: PEER` for each client, and `error: PEER: …` if its `serve` failed; an
///    `accept` error is printed (`accept failed: …`) and the loop goes on.
///
/// Hints, one at a time:
/// 1. `let (stream, peer) = listener.accept().await?` — but do not end the loop on an error.
/// 2. `tokio::spawn(async move { … serve(stream, lifetime).await … });` for each one.
async fn accept_loop(listener: TcpListener, lifetime: Duration) -> anyhow::Result<()> {
    // (keeps the compiler quiet until you use them: delete this line)
    let _ = (listener, lifetime, serve);
    todo!("accept, and spawn a task per connection")
}

/// Serves one client: answers its lines until it closes, or until `lifetime` has passed since
/// it connected.
///
/// Given: `stream`, the client's connection; `lifetime`. `Request::parse` above.
///
/// Must hold:
/// 3. `WAIT MS` → `waited MS\n` after MS ms; any other line → `echo: LINE\n`;
/// 4. the wait **awaits** (`tokio::time::sleep`): it never blocks the runtime's only thread
///    (`std::thread::sleep` would stop every other client);
/// 5. `lifetime` after the connection, whatever it is doing then — reading a line, in the middle
///    of a `WAIT`, writing — the client gets `BYE lifetime\n` and the connection is closed. A
///    timeout per read is not a lifetime: a client that talks every 0.2 s must still be closed;
/// 6. the client closing its side ends `serve` with `Ok(())`.
///
/// Hints, one at a time:
/// 1. `let (reader, mut writer) = stream.into_split();` and
///    `let mut lines = BufReader::new(reader).lines();` — `lines.next_line().await?` is
///    `Ok(None)` at the end.
/// 2. One deadline for everything: `let deadline = Instant::now() + lifetime;` and
///    `timeout_at(deadline, async { …the whole loop… }).await`: `Err(_)` means it passed.
/// 3. In the `Err(_)` case, write `BYE lifetime\n` (with a short timeout of its own: a client
///    that does not read must not keep the task), and return.
async fn serve(stream: TcpStream, lifetime: Duration) -> std::io::Result<()> {
    // (keeps the compiler quiet until you use them: delete this line)
    let _ = (stream, lifetime, Request::parse);
    todo!("answer the lines, until the client closes or its lifetime is over")
}
// ============================ END OF YOUR PART ============================
