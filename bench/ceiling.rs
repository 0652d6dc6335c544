//! Chapter 13's yardsticks: the least an echo server and a verifying client can do.
//!
//! Not a lesson. The benchmark (`bench_every_server` in `tests/13_load_generator.rs`) measures
//! the workbook's servers and its load generator against these, in the same run, so that the
//! table shows both limits: how fast the simplest server echoes over loopback (`server`), and
//! how fast the simplest client that still checks every byte can drive a server (`stream`,
//! `pingpong`). They print the same JSON fields as `13_load_generator --json`.
//!
//! ```text
//! cargo run --release --example ceiling -- server --addr 127.0.0.1:7878
//! cargo run --release --example ceiling -- stream --addr 127.0.0.1:7878 --connections 1
//! cargo run --release --example ceiling -- pingpong --addr 127.0.0.1:7878 --clients 50
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use socket_workbook::{cli, net};

/// The simplest echo server and verifying clients, as yardsticks for chapter 13.
#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    role: Role,
    /// Address to listen on (server) or connect to (clients).
    #[arg(long, global = true, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Seconds to run (clients).
    #[arg(long, global = true, default_value = "1", value_parser = cli::parse_seconds)]
    secs: Duration,
}

#[derive(Subcommand)]
enum Role {
    /// A blocking thread per connection copying 256 KiB at a time; nothing else.
    Server,
    /// Per connection, one writer and one reader thread; 64 KiB chunks; every byte checked.
    Stream {
        #[arg(long, default_value_t = 1)]
        connections: usize,
    },
    /// Per client, one thread: write a message, read its echo, compare; again.
    Pingpong {
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::report(match args.role {
        Role::Server => server(args.addr),
        Role::Stream { connections } => stream(args.addr, connections, args.secs),
        Role::Pingpong { clients, size } => {
            pingpong(args.addr, clients, size, args.secs)
        }
    })
}

// ANCHOR: server
fn server(addr: SocketAddr) -> anyhow::Result<()> {
    // Chapter 06's backlog, so that `hold` measures the server, not std's queue of
    // 128.
    let listener = net::listen(addr, net::BACKLOG);
    let listener = listener.with_context(|| format!("cannot listen on {addr}"))?;
    cli::announce(&listener)?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 || stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        });
    }
    Ok(())
}
// ANCHOR_END: server

fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Joins every thread; the first error (or panic) fails the whole run.
fn join_all<T>(
    threads: Vec<thread::JoinHandle<anyhow::Result<T>>>,
) -> anyhow::Result<Vec<T>> {
    let mut results = Vec::new();
    for handle in threads {
        results.push(
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a thread panicked"))??,
        );
    }
    Ok(results)
}

// ANCHOR: stream
const CHUNK: usize = 64 * 1024;

fn stream(addr: SocketAddr, connections: usize, secs: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let deadline = started + secs;
    let mut threads = Vec::new();
    for conn in 0..connections {
        // A different pattern per connection; the writer sends this same chunk again
        // and again, so every 64 KiB of the echo must equal it.
        let chunk: Vec<u8> = (0..CHUNK)
            .map(|i| {
                (i as u8).wrapping_mul(7)
                    ^ (i >> 8) as u8
                    ^ (conn as u8).wrapping_mul(131)
            })
            .collect();
        let mut writer = connect(addr)?;
        let mut reader = writer.try_clone()?;
        // Two chunks end to end: the 64 KiB expected from any offset are one slice.
        let expected = chunk.repeat(2);
        let sent = chunk;
        let writing = thread::spawn(move || -> anyhow::Result<u64> {
            let mut total = 0u64;
            while Instant::now() < deadline {
                writer.write_all(&sent).context("cannot send")?;
                total += CHUNK as u64;
            }
            writer.shutdown(Shutdown::Write)?;
            Ok(total)
        });
        let reading = thread::spawn(move || -> anyhow::Result<u64> {
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0u64;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => return Ok(got),
                    Ok(n) => n,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(err) => return Err(err).context("cannot read"),
                };
                let at = (got % CHUNK as u64) as usize;
                if buf[..n] != expected[at..at + n] {
                    bail!("echo differs near byte {got} of connection {conn}");
                }
                got += n as u64;
            }
        });
        threads.push((writing, reading));
    }
    let mut bytes = 0;
    for (writing, reading) in threads {
        // The reader first: a mismatch is the cause of a failed run (the writer, left
        // blocked, ends with the process).
        let echoed = join_all(vec![reading])?[0];
        let sent = join_all(vec![writing])?[0];
        if echoed != sent {
            bail!("{addr} echoed {echoed} of the {sent} bytes sent");
        }
        bytes += echoed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{{\"mode\":\"stream\",\"client\":\"ceiling\",\"connections\":{connections},\"bytes\":{bytes},\"secs\":{elapsed:.3},\"mb_per_sec\":{:.1},\"verified\":true}}",
        bytes as f64 / elapsed / 1e6
    );
    Ok(())
}
// ANCHOR_END: stream

// ANCHOR: pingpong
fn pingpong(
    addr: SocketAddr,
    clients: usize,
    size: usize,
    secs: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let deadline = started + secs;
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            thread::spawn(move || -> anyhow::Result<u64> {
                let mut stream = connect(addr)?;
                let mut message = vec![0u8; size];
                let mut echo = vec![0u8; size];
                let mut rounds = 0u64;
                while Instant::now() < deadline {
                    // Every round a different message, so a stale echo cannot pass.
                    for (i, byte) in message.iter_mut().enumerate() {
                        *byte = (client as u8)
                            ^ (rounds as u8).wrapping_mul(31)
                            ^ (i as u8);
                    }
                    stream.write_all(&message).context("cannot send")?;
                    stream.read_exact(&mut echo).context("no echo")?;
                    if echo != message {
                        bail!("echo differs (client {client}, round {rounds})");
                    }
                    rounds += 1;
                }
                Ok(rounds)
            })
        })
        .collect();
    let total: u64 = join_all(threads)?.iter().sum();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{{\"mode\":\"pingpong\",\"client\":\"ceiling\",\"clients\":{clients},\"size\":{size},\"round_trips\":{total},\"secs\":{elapsed:.3},\"per_sec\":{:.1},\"verified\":true}}",
        total as f64 / elapsed
    );
    Ok(())
}
// ANCHOR_END: pingpong
