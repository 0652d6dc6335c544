//! # 13 — a load generator: measuring servers
//!
//! Teaches how to measure a server honestly: many clients at once, every byte that comes back
//! checked against what was sent, and figures that mean something — round trips per second with
//! latency percentiles, megabytes per second, connections held. A figure that was not verified
//! is not reported: any mismatch or error makes the run fail.
//!
//! ```text
//! terminal 1:  cargo run --release --example 08_poll_server
//! terminal 2:  cargo run --release --example 13_load_generator -- pingpong --clients 50
//!              cargo run --release --example 13_load_generator -- stream --connections 4
//!              cargo run --release --example 13_load_generator -- hold --connections 5000
//! ```
//!
//! `framed` is `pingpong` with chapter 12's frames (for `12_framed_messages server`). Add
//! `--json` for one machine-readable line.

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Parser, Subcommand};
use indicatif::ProgressBar;
use socket_workbook::cli;
use socket_workbook::framing::{read_frame, write_frame};

/// Load generator for the workbook's echo servers; every byte is verified.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    load: Load,
}

#[derive(Subcommand)]
enum Load {
    /// N clients, each on its own connection, send an M-byte message and wait for its echo,
    /// over and over: round trips per second and latency.
    Pingpong(Pingpong),
    /// `pingpong` with length-prefixed frames (chapter 12).
    Framed(Pingpong),
    /// N connections each stream bytes continuously while reading the echo: MB/s.
    Stream(Stream),
    /// Open N connections and keep them all open, then echo once on each.
    Hold(Hold),
}

#[derive(ClapArgs)]
struct Common {
    /// Address of the echo server.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Print one JSON line instead of the human summary.
    #[arg(long)]
    json: bool,
}

#[derive(ClapArgs)]
struct Pingpong {
    #[command(flatten)]
    common: Common,
    /// Clients, each with its own connection and thread.
    #[arg(long, default_value_t = 1, value_parser = cli::number::<usize>(1..=10_000))]
    clients: usize,
    /// Bytes per message.
    #[arg(long, default_value_t = 64, value_parser = cli::number::<usize>(1..=1 << 24))]
    size: usize,
    /// Run for this many seconds...
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = cli::parse_seconds)]
    secs: Duration,
    /// ...or stop each client after this many round trips, whichever comes first.
    #[arg(long, value_parser = cli::number::<u64>(1..))]
    count: Option<u64>,
}

#[derive(ClapArgs)]
struct Stream {
    #[command(flatten)]
    common: Common,
    /// Connections, each with a writer and a reader thread.
    #[arg(long, default_value_t = 1, value_parser = cli::number::<usize>(1..=1024))]
    connections: usize,
    /// Run for this many seconds.
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = cli::parse_seconds)]
    secs: Duration,
}

#[derive(ClapArgs)]
struct Hold {
    #[command(flatten)]
    common: Common,
    /// Connections to open and hold at once (each needs a file descriptor: see `ulimit -n`).
    #[arg(long, default_value_t = 1000, value_parser = cli::number::<usize>(1..=1_000_000))]
    connections: usize,
    /// Then keep them all open this many seconds more, to look at them at human speed
    /// (`ss -tn`, the server's memory with `ps -o rss`), before closing them.
    #[arg(long, value_name = "SECS", value_parser = cli::parse_seconds)]
    keep: Option<Duration>,
}

fn main() -> ExitCode {
    cli::report(match Args::parse().load {
        Load::Pingpong(args) => pingpong(&args, false),
        Load::Framed(args) => pingpong(&args, true),
        Load::Stream(args) => stream(&args),
        Load::Hold(args) => hold(&args),
    })
}

// ANCHOR: pattern
/// The byte at `offset` of the message of client `client` in round `round`. Every
/// client and every round gets different bytes, so an echo that comes back on the
/// wrong connection, out of order or stale cannot pass for the right one. (Not zeros:
/// a server bug that returns a zeroed buffer would pass a test made of zeros.)
fn byte_at(client: u64, round: u64, offset: u64) -> u8 {
    (client.wrapping_mul(131) ^ round.wrapping_mul(31) ^ offset.wrapping_mul(7))
        .wrapping_add(offset >> 8) as u8
}
// ANCHOR_END: pattern

fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    // Small messages must not wait for Nagle (chapter 12): measure the server, not the kernel.
    stream.set_nodelay(true)?;
    Ok(stream)
}

// ANCHOR: watchdog
/// How long after the end of a run the server has to finish its echoes.
const DRAIN: Duration = Duration::from_secs(5);

/// The run's own time limit. Every `read` has a timeout, but a run does not end by
/// itself when a server keeps sending after our FIN, or answers one byte every few
/// seconds (each read succeeds, in time). Every connection is registered here; at
/// `end + DRAIN` a thread shuts them all down, which makes every blocked `read`
/// and `write` return at once, and the run fails.
struct Watchdog {
    streams: Mutex<Vec<TcpStream>>,
    fired: AtomicBool,
    /// Dropped by `finish`: the watchdog's thread wakes and leaves at once.
    done: Mutex<Option<mpsc::Sender<()>>>,
}

impl Watchdog {
    fn start(end: Instant) -> Arc<Watchdog> {
        let (done, finished) = mpsc::channel::<()>();
        let watchdog = Arc::new(Watchdog {
            streams: Mutex::new(Vec::new()),
            fired: AtomicBool::new(false),
            done: Mutex::new(Some(done)),
        });
        let dog = Arc::clone(&watchdog);
        thread::spawn(move || {
            let left = (end + DRAIN).saturating_duration_since(Instant::now());
            if finished.recv_timeout(left) == Err(RecvTimeoutError::Timeout) {
                dog.fired.store(true, Ordering::SeqCst);
                for stream in lock(&dog.streams).iter() {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
        });
        watchdog
    }

    /// Registers a connection, to be shut down if the run overruns.
    fn watch(&self, stream: &TcpStream) -> anyhow::Result<()> {
        let clone = stream.try_clone().context("cannot clone a socket")?;
        lock(&self.streams).push(clone);
        Ok(())
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Ends the watch; an error if the run had to be cut short.
    fn finish(&self, addr: SocketAddr) -> anyhow::Result<()> {
        lock(&self.done).take();
        if self.fired() {
            bail!(
                "{addr} was still sending {} s after the end of the run (echoing \
                 more than it was sent, or too slowly); no figures are reported",
                DRAIN.as_secs()
            );
        }
        Ok(())
    }
}

/// A lock that a panicked thread cannot poison for the others.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
// ANCHOR_END: watchdog

/// A spinner on stderr (drawn only on a terminal) showing a live count.
fn progress(
    label: &'static str,
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let bar = ProgressBar::new_spinner();
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let n = done.load(Ordering::Relaxed);
            let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{n} {label} ({rate:.0}/s)"));
            bar.tick();
            thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    })
}

// ANCHOR: pingpong
fn pingpong(args: &Pingpong, framed: bool) -> anyhow::Result<()> {
    let addr = args.common.addr;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = progress("round trips", Arc::clone(&done), Arc::clone(&stop));
    let deadline = Instant::now() + args.secs;
    let watchdog = Watchdog::start(deadline);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|client| {
            let (done, size, count) = (Arc::clone(&done), args.size, args.count);
            let watchdog = Arc::clone(&watchdog);
            thread::spawn(move || -> anyhow::Result<Vec<u32>> {
                let stream = connect(addr)?;
                watchdog.watch(&stream)?;
                let mut reader = BufReader::new(stream.try_clone()?);
                let mut writer = stream;
                let mut message = vec![0u8; size];
                let mut echo = vec![0u8; size];
                let mut latencies = Vec::new(); // microseconds, one per round trip
                for round in 0.. {
                    let enough = count.is_some_and(|c| round >= c);
                    if Instant::now() >= deadline || enough {
                        break;
                    }
                    for (i, byte) in message.iter_mut().enumerate() {
                        *byte = byte_at(client as u64, round, i as u64);
                    }
                    let sent = Instant::now();
                    if framed {
                        write_frame(&mut writer, &message)?;
                        echo = read_frame(&mut reader, size.max(1))?.with_context(
                            || {
                                let at = format!("client {client}, round {round}");
                                format!("{addr} closed the connection ({at})")
                            },
                        )?;
                    } else {
                        writer.write_all(&message)?;
                        reader.read_exact(&mut echo).map_err(|err| {
                            match err.kind() {
                                ErrorKind::UnexpectedEof => anyhow::anyhow!(
                                    "{addr} closed the connection (client {client},\
                                        \x20round {round})"
                                ),
                                _ => anyhow::Error::new(err),
                            }
                        })?;
                    }
                    let micros = sent.elapsed().as_micros();
                    latencies.push(micros.min(u32::MAX as u128) as u32);
                    let differs = |i: &usize| echo.get(*i) != Some(&message[*i]);
                    if let Some(at) = (0..size).find(differs) {
                        bail!(
                            "echo from {addr} differs at byte {at} (client {client},\
                                \x20round {round})"
                        );
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failure = None;
    for worker in workers {
        match worker.join() {
            Ok(Ok(mine)) => latencies.extend(mine),
            Ok(Err(err)) => failure = failure.or(Some(err)),
            Err(_) => {
                failure = failure.or(Some(anyhow::anyhow!("a client thread panicked")))
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = spinner.join();
    watchdog.finish(addr)?; // an overrun is the cause of any failure it made
    if let Some(err) = failure {
        return Err(err.context("the run failed; no figures are reported"));
    }
    latencies.sort_unstable();
    let total = latencies.len();
    if total == 0 {
        bail!("no round trip completed");
    }
    // Nearest rank: the p-th percentile is the smallest sample with at least p% of all
    // the samples at or below it, the ⌈p·n/100⌉-th in sorted order (p50 of 1..=100 is
    // 50).
    let pct =
        |p: usize| f64::from(latencies[(total * p).div_ceil(100).max(1) - 1]) / 1000.0;
    let max = f64::from(latencies[total - 1]) / 1000.0;
    let rate = total as f64 / elapsed;
    let mode = if framed { "framed" } else { "pingpong" };
    if args.common.json {
        println!(
            "{{\"mode\":\"{mode}\",\"addr\":\"{addr}\",\"clients\":{},\"size\":{},\"ro\
                und_trips\":{total},\"secs\":{elapsed:.3},\"per_sec\":{rate:.1},\"p50_\
                ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{max:.3},\"verified\":true}}",
            args.clients,
            args.size,
            pct(50),
            pct(99)
        );
    } else {
        println!(
            "{mode}: {} client(s), {}-byte messages: {total} round trips in\
                \x20{elapsed:.2} s = {rate:.0}/s, all verified",
            args.clients, args.size
        );
        println!(
            "latency: p50 {:.3} ms, p99 {:.3} ms, max {max:.3} ms",
            pct(50),
            pct(99)
        );
    }
    Ok(())
}
// ANCHOR_END: pingpong

// ANCHOR: stream_pattern
/// Bytes per `write` and per `read` of a stream.
const CHUNK: usize = 64 * 1024;
/// A stream's bytes repeat every 65,536: `byte_at(conn, 0, offset)` depends on
/// `offset` only through its low 8 bits (`offset * 7`, as a byte) and the 8 bits
/// above them (`offset >> 8`).
const PERIOD: u64 = 1 << 16;

/// The bytes of connection `conn`'s stream, computed once: one period and one chunk
/// more, so that the `CHUNK` bytes from any offset in the period are one slice.
/// Computing `byte_at` for every byte, as the first version of this program did,
/// cost the writer and the reader more CPU than the kernel's copies (chapter 13,
/// "The load generator's own limit").
fn stream_pattern(conn: u64) -> Vec<u8> {
    (0..PERIOD + CHUNK as u64)
        .map(|offset| byte_at(conn, 0, offset))
        .collect()
}
// ANCHOR_END: stream_pattern

// ANCHOR: stream
fn stream(args: &Stream) -> anyhow::Result<()> {
    let addr = args.common.addr;
    let echoed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = progress("bytes echoed", Arc::clone(&echoed), Arc::clone(&stop));
    let deadline = Instant::now() + args.secs;
    let watchdog = Watchdog::start(deadline);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.connections)
        .map(|conn| -> anyhow::Result<_> {
            let stream = connect(addr)?;
            watchdog.watch(&stream)?;
            let mut writer = stream.try_clone()?;
            // Which direction failed first: one failure causes the other (a reader
            // that stops leaves the writer blocked), and only the first is the cause
            // to report.
            let first_failure = Arc::new(OnceLock::<Side>::new());
            let failed = Arc::clone(&first_failure);
            // The writer sends slices of these bytes; the reader compares the echo
            // with them.
            let expected = Arc::new(stream_pattern(conn as u64));
            let pattern = Arc::clone(&expected);
            let writing = thread::spawn(move || -> anyhow::Result<u64> {
                let result = (|| {
                    let mut sent: u64 = 0;
                    while Instant::now() < deadline {
                        let at = (sent % PERIOD) as usize;
                        writer
                            .write_all(&pattern[at..at + CHUNK])
                            .with_context(|| format!("cannot send to {addr}"))?;
                        sent += CHUNK as u64;
                    }
                    // the echo ends after the last byte
                    writer.shutdown(Shutdown::Write)?;
                    Ok(sent)
                })();
                if result.is_err() {
                    stop_both(&writer, &failed, Side::Writer);
                }
                result
            });
            let echoed = Arc::clone(&echoed);
            let failed = Arc::clone(&first_failure);
            let mut reader = stream;
            let reading = thread::spawn(move || -> anyhow::Result<u64> {
                let result = (|| {
                    let mut buf = vec![0u8; CHUNK];
                    let mut got: u64 = 0;
                    loop {
                        let n = match reader.read(&mut buf) {
                            Ok(0) => return Ok(got),
                            Ok(n) => n,
                            Err(err) if err.kind() == ErrorKind::Interrupted => {
                                continue;
                            }
                            Err(err) => {
                                return Err(err).with_context(|| {
                                    format!("cannot read from {addr}")
                                });
                            }
                        };
                        // One slice comparison (a `memcmp`, many bytes per
                        // instruction); only a mismatch pays for finding the first
                        // differing byte.
                        let at = (got % PERIOD) as usize;
                        let want = &expected[at..at + n];
                        if buf[..n] != *want {
                            let i = (0..n).find(|&i| buf[i] != want[i]).unwrap_or(0);
                            bail!(
                                "echo from {addr} differs at byte {} of connection\
                                    \x20{conn}",
                                got + i as u64
                            );
                        }
                        got += n as u64;
                        echoed.fetch_add(n as u64, Ordering::Relaxed);
                    }
                })();
                if result.is_err() {
                    stop_both(&reader, &failed, Side::Reader);
                }
                result
            });
            Ok((writing, reading, first_failure))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut total: u64 = 0;
    for (writing, reading, first_failure) in workers {
        let sent = writing
            .join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))?;
        let got = reading
            .join()
            .map_err(|_| anyhow::anyhow!("a reader panicked"))?;
        if watchdog.fired() {
            continue; // every connection was cut short: `finish` says why
        }
        // The first failure is the cause: a mismatch, not the write it then made fail.
        let (sent, got) = match first_failure.get() {
            Some(Side::Reader) => {
                let got = got?;
                (sent?, got)
            }
            _ => {
                let sent = sent?;
                (sent, got?)
            }
        };
        if got != sent {
            bail!("{addr} echoed {got} of the {sent} bytes sent");
        }
        total += got;
    }
    watchdog.finish(addr)?;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = spinner.join();
    let mb_s = total as f64 / elapsed / 1e6;
    if args.common.json {
        println!(
            "{{\"mode\":\"stream\",\"addr\":\"{addr}\",\"connections\":{},\"bytes\":{t\
                otal},\"secs\":{elapsed:.3},\"mb_per_sec\":{mb_s:.1},\"verified\":true\
                }}",
            args.connections
        );
    } else {
        println!(
            "stream: {} connection(s): {total} bytes echoed in {elapsed:.2} s =\
                \x20{mb_s:.1} MB/s, all verified",
            args.connections
        );
    }
    Ok(())
}
// ANCHOR_END: stream

/// The direction of a stream connection that failed first.
#[derive(Clone, Copy)]
enum Side {
    Writer,
    Reader,
}

/// Records `side` as the first to fail (unless the other was), and shuts the socket down
/// both ways, so that the other thread's blocked call returns now rather than at its
/// timeout.
fn stop_both(stream: &TcpStream, first_failure: &OnceLock<Side>, side: Side) {
    let _ = first_failure.set(side);
    let _ = stream.shutdown(Shutdown::Both);
}

// ANCHOR: hold
fn hold(args: &Hold) -> anyhow::Result<()> {
    let addr = args.common.addr;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut streams = Vec::with_capacity(args.connections);
    for n in 0..args.connections {
        let began = Instant::now();
        let stream = connect(addr).with_context(|| {
            format!("after {n} of {} connections", args.connections)
        })?;
        slowest = slowest.max(began.elapsed());
        streams.push(stream);
    }
    let opening = started.elapsed().as_secs_f64();
    // Every connection is open at once; now each one echoes once.
    for (n, stream) in streams.iter_mut().enumerate() {
        let message: Vec<u8> = (0..32).map(|i| byte_at(n as u64, 1, i)).collect();
        stream
            .write_all(&message)
            .with_context(|| format!("cannot send on connection {n}"))?;
        let mut echo = [0u8; 32];
        stream
            .read_exact(&mut echo)
            .with_context(|| format!("no echo on connection {n}"))?;
        if echo[..] != message[..] {
            bail!("echo from {addr} differs on connection {n}");
        }
    }
    let total = started.elapsed().as_secs_f64();
    let served = streams.len();
    if args.common.json {
        println!(
            "{{\"mode\":\"hold\",\"addr\":\"{addr}\",\"connections\":{served},\"open_s\
                ecs\":{opening:.3},\"slowest_connect_ms\":{:.1},\"total_secs\":{total:\
                .3},\"verified\":true}}",
            slowest.as_secs_f64() * 1000.0
        );
    } else {
        println!(
            "hold: {served} connections opened in {opening:.2} s (slowest connect\
                \x20{:.1} ms), all held at once and each echoed once: {total:.2} s in\
                \x20all, all verified",
            slowest.as_secs_f64() * 1000.0
        );
    }
    if let Some(keep) = args.keep {
        // On stderr, so that with `--json` stdout still holds one line.
        eprintln!(
            "keeping the {served} connections open for {} s",
            keep.as_secs_f64()
        );
        thread::sleep(keep);
    }
    Ok(())
}
// ANCHOR_END: hold
