//! # 16 — heartbeats: detecting dead peers
//!
//! Teaches how each side of a long-lived connection finds out that the other is gone. TCP
//! itself says nothing about a peer that hangs, or whose machine vanished without closing: a
//! `read` just waits. So the client sends a small heartbeat frame every `--interval`, the
//! server answers each one, and either side that hears nothing for `--timeout` gives up on the
//! other — the server drops the client, the client reconnects with backoff. TCP keepalive,
//! enabled too, is the kernel's own (slower, lower-level) version of the same idea.
//!
//! ```text
//! terminal 1:  cargo run --example 16_heartbeat -- server --interval 1
//! terminal 2:  cargo run --example 16_heartbeat -- client --interval 1
//! terminal 3:  kill -STOP $(pgrep -f '16_heartbeat client')   (the server drops it in 3 s)
//! terminal 2:  fg                  (resumes the stopped client, and Ctrl-C reaches it again)
//! ```
//!
//! (`cargo run` replaces itself with the program, whose command line is
//! `target/debug/examples/16_heartbeat client …`: that is what `pgrep -f` finds.) Stop the
//! server instead (`kill -STOP`, later `kill -CONT`) to see the client notice, and reconnect
//! once the server is back. The server drops a client when no *complete* frame has come for the
//! timeout, or when an answer cannot be sent for that long: silent, trickling, or not reading.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use socket_workbook::framing::{FrameDecoder, write_frame};
use socket_workbook::shutdown::Shutdown;
use socket_workbook::{cli, net};
use socket2::{SockRef, TcpKeepalive};

/// Heartbeats over length-prefixed frames, with TCP keepalive underneath.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Answer heartbeats; drop clients that fall silent.
    Server {
        /// Address to listen on. Port 0 asks the OS for any free port.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Seconds between the clients' heartbeats.
        #[arg(long, value_name = "SECS", default_value = "1", value_parser = cli::parse_seconds)]
        interval: Duration,
        /// Seconds of silence before a client is dropped (default: 3 intervals).
        #[arg(long, value_name = "SECS", value_parser = cli::parse_seconds)]
        timeout: Option<Duration>,
    },
    /// Send heartbeats; reconnect (with backoff) when the server stops answering.
    Client {
        /// Address of the heartbeat server.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Seconds between heartbeats.
        #[arg(long, value_name = "SECS", default_value = "1", value_parser = cli::parse_seconds)]
        interval: Duration,
        /// Seconds without an answer before the server is given up on (default: 3 intervals).
        #[arg(long, value_name = "SECS", value_parser = cli::parse_seconds)]
        timeout: Option<Duration>,
    },
}

fn main() -> ExitCode {
    cli::report(match Args::parse().role {
        Role::Server {
            addr,
            interval,
            timeout,
        } => server(addr, interval, timeout.unwrap_or(interval * 3)),
        Role::Client {
            addr,
            interval,
            timeout,
        } => client(addr, interval, timeout.unwrap_or(interval * 3)),
    })
}

// ANCHOR: keepalive
/// Turns on TCP keepalive: after `idle` without traffic the kernel sends empty probes,
/// and after a few unanswered ones it resets the connection. It detects a dead *host*
/// or a cut link — the peer's kernel stops answering — but not a hung *program*: a
/// stopped process's kernel still answers the probes.
fn enable_keepalive(stream: &TcpStream, idle: Duration) -> anyhow::Result<()> {
    // The kernel counts keepalive times in whole seconds (and refuses 0).
    let idle = Duration::from_secs(idle.as_secs_f64().ceil().max(1.0) as u64);
    let keepalive = TcpKeepalive::new().with_time(idle);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let keepalive = keepalive.with_interval(Duration::from_secs(1));
    SockRef::from(stream)
        .set_tcp_keepalive(&keepalive)
        .context("cannot enable TCP keepalive")
}
// ANCHOR_END: keepalive

fn server(
    addr: SocketAddr,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = net::listen(addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {}", addr))?;
    let _watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    // Printed once everything the server needs is in place.
    cli::announce(&listener)?;
    println!(
        "expecting a heartbeat every {} s; dropping clients silent for {} s",
        interval.as_secs_f64(),
        timeout.as_secs_f64()
    );
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        threads.retain(|thread| !thread.is_finished());
        let shutdown = shutdown.clone();
        let spawned = thread::Builder::new()
            .name(format!("heartbeat {peer}"))
            .spawn(move || {
                if let Err(err) = answer(stream, peer, timeout, &shutdown) {
                    eprintln!("error: {}", cli::one_line(&err));
                }
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(err) => eprintln!(
                "error: cannot start a thread for {peer}: {}",
                cli::describe_io(&err)
            ),
        }
    }
    for thread in threads {
        let _ = thread.join();
    }
    println!("shutting down: done");
    Ok(())
}

// ANCHOR: deadlines
/// The largest frame either side accepts: a heartbeat is a few bytes.
const MAX_FRAME: usize = 1024;

/// The time left until `deadline`, or `None` once it has passed. (`None` rather than
/// zero: `set_read_timeout(Some(Duration::ZERO))` is an error, not "do not wait".)
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// How a socket timeout shows up: `WouldBlock` on Unix, `TimedOut` on Windows (std's
/// `set_read_timeout` documentation).
fn timed_out(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// What one bounded read brought.
enum Got {
    /// Some bytes, now in the decoder (perhaps not a whole frame yet).
    Bytes,
    /// The end of the stream: the peer closed.
    End,
    /// Nothing before the deadline (or a signal interrupted the wait).
    Nothing,
}

/// Reads whatever has arrived into `decoder`, waiting until `deadline` at most. The
/// decoder keeps a partial frame across calls: a timeout that fires between a frame's
/// header and its payload loses nothing, and the next read continues where this one
/// stopped.
fn read_by(
    stream: &mut TcpStream,
    decoder: &mut FrameDecoder,
    deadline: Instant,
) -> io::Result<Got> {
    let Some(left) = time_left(deadline) else {
        return Ok(Got::Nothing);
    };
    stream.set_read_timeout(Some(left))?;
    let mut buf = [0u8; 4096];
    match stream.read(&mut buf) {
        Ok(0) => Ok(Got::End),
        Ok(n) => {
            decoder.push(&buf[..n]);
            Ok(Got::Bytes)
        }
        Err(err) if timed_out(&err) => Ok(Got::Nothing),
        Err(err) if err.kind() == ErrorKind::Interrupted => Ok(Got::Nothing),
        Err(err) => Err(err),
    }
}

/// `write_all` with a deadline. A peer that stops reading fills its receive buffer,
/// then our send buffer, and then `write` blocks: without a bound, forever. A write
/// timeout alone bounds each `write` call, and `write_all` may make many; so each call
/// gets the time left.
fn write_by(
    stream: &mut TcpStream,
    payload: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    let mut frame = Vec::new();
    write_frame(&mut frame, payload)?; // the frame in memory first: one buffer to send
    let mut rest = frame.as_slice();
    while !rest.is_empty() {
        let Some(left) = time_left(deadline) else {
            return Err(io::Error::from(ErrorKind::TimedOut));
        };
        stream.set_write_timeout(Some(left))?;
        match stream.write(rest) {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(n) => rest = &rest[n..],
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
// ANCHOR_END: deadlines

// ANCHOR: answer
/// One client: answer every heartbeat. Drop the client when no *complete* frame has
/// come for `timeout`, whatever it does meanwhile, or when an answer cannot be sent
/// within `timeout`.
fn answer(
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let _watch = shutdown
        .watch_stream(&stream)
        .with_context(|| format!("cannot serve {peer}"))?;
    enable_keepalive(&stream, timeout)
        .with_context(|| format!("cannot serve {peer}"))?;
    let mut stream = stream;
    // Bytes that do not make a whole frame yet wait here, across reads (chapter 12).
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    // 1. Liveness: only a complete frame moves the deadline. A byte now and then (a
    //    trickle) keeps each `read` busy but proves nothing.
    let mut deadline = Instant::now() + timeout;
    println!("connected: {peer}");
    loop {
        // 2. Answer every complete frame, within the same deadline.
        while let Some(ping) = decoder
            .next_frame()
            .with_context(|| format!("lost {peer}"))?
        {
            deadline = Instant::now() + timeout;
            let pong = match ping.strip_prefix(b"ping ") {
                Some(n) => [b"pong ".as_slice(), n].concat(),
                None => b"pong".to_vec(),
            };
            match write_by(&mut stream, &pong, deadline) {
                Ok(()) => {}
                Err(err) if timed_out(&err) => {
                    let secs = timeout.as_secs_f64();
                    println!(
                        "dropped: {peer} (not reading: an answer waited {secs} s)"
                    );
                    return Ok(());
                }
                Err(_) if shutdown.is_triggered() => return Ok(()),
                Err(err) => {
                    return Err(err).with_context(|| format!("cannot answer {peer}"));
                }
            }
        }
        // 3. Wait for more bytes, until the deadline at most.
        match read_by(&mut stream, &mut decoder, deadline)
            .with_context(|| format!("lost {peer}"))?
        {
            Got::Bytes => {}
            Got::End if shutdown.is_triggered() => return Ok(()),
            Got::End => {
                decoder.finish().with_context(|| format!("lost {peer}"))?;
                println!("disconnected: {peer}");
                return Ok(());
            }
            Got::Nothing if time_left(deadline).is_none() => {
                let secs = timeout.as_secs_f64();
                let why = match decoder.buffered() {
                    0 => format!("no heartbeat for {secs} s"),
                    n => {
                        format!("no complete heartbeat for {secs} s, {n} bytes of one")
                    }
                };
                println!("dropped: {peer} ({why})");
                // closing tells the client, if it is still there to hear it
                return Ok(());
            }
            Got::Nothing => {} // interrupted by a signal: the deadline is still ahead
        }
    }
}
// ANCHOR_END: answer

// ANCHOR: client
/// Connects, sends heartbeats, and starts over with a growing pause whenever the
/// server is unreachable or stops answering. Runs until Ctrl-C.
fn client(
    addr: SocketAddr,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let mut backoff = interval;
    while !shutdown.is_triggered() {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                println!("connected: {addr}");
                let mut answered = false;
                match heartbeats(stream, interval, timeout, &shutdown, &mut answered) {
                    Ok(why) => println!("{why}"),
                    Err(err) => println!("lost the server: {}", cli::one_line(&err)),
                }
                // Only an answer resets the backoff, not the connection: the kernel
                // completes the handshake even for a frozen server (see "Run it").
                if answered {
                    backoff = interval;
                }
            }
            Err(err) => {
                println!("cannot connect to {addr}: {}", cli::describe_io(&err))
            }
        }
        if shutdown.is_triggered() {
            break;
        }
        // Wait longer after every failure (up to 30 s), so that many clients of a
        // server that is struggling do not all hammer it at once the moment it is
        // back.
        println!("reconnecting in {} s", backoff.as_secs_f64());
        shutdown.wait_timeout(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    println!("shutting down: done");
    Ok(())
}

/// One connection's heartbeats. Returns why it ended; sets `answered` once the server
/// answers.
fn heartbeats(
    stream: TcpStream,
    interval: Duration,
    timeout: Duration,
    shutdown: &Shutdown,
    answered: &mut bool,
) -> anyhow::Result<String> {
    let _watch = shutdown.watch_stream(&stream)?;
    enable_keepalive(&stream, timeout)?;
    let mut stream = stream;
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let first_sent = Instant::now();
    // The same rule as the server's: the server is alive if a complete frame came
    // lately.
    let mut last_answer = first_sent;
    let stopped = || {
        let secs = timeout.as_secs_f64();
        Ok(format!(
            "the server stopped answering (nothing for {secs} s)"
        ))
    };
    for n in 1u64.. {
        // 1. A heartbeat. A server that stops reading cannot block us either.
        let sent = Instant::now();
        match write_by(
            &mut stream,
            format!("ping {n}").as_bytes(),
            last_answer + timeout,
        ) {
            Err(err) if timed_out(&err) => return stopped(),
            other => other.context("cannot send a heartbeat")?,
        }
        // 2. Answers, until it is time for the next heartbeat.
        let next = sent + interval;
        loop {
            while let Some(_pong) = decoder.next_frame()? {
                last_answer = Instant::now();
                // One line when the server first answers, not one per heartbeat.
                if !*answered {
                    *answered = true;
                    let rtt = last_answer.duration_since(first_sent).as_micros();
                    println!(
                        "the server answers: first heartbeat answered in {rtt} µs"
                    );
                }
            }
            if time_left(last_answer + timeout).is_none() {
                return stopped();
            }
            if time_left(next).is_none() {
                break;
            }
            match read_by(&mut stream, &mut decoder, next.min(last_answer + timeout))?
            {
                Got::Bytes | Got::Nothing => {}
                Got::End if shutdown.is_triggered() => {
                    return Ok("disconnected (shutting down)".into());
                }
                Got::End => return Ok("the server closed the connection".into()),
            }
        }
    }
    unreachable!("heartbeats are numbered without end")
}
// ANCHOR_END: client
