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
//! then:        kill -STOP $(pgrep -f '16_heartbeat -- client')   (the server drops it in 3 s)
//! ```
//!
//! Stop the server instead (`kill -STOP`, later `kill -CONT`) to see the client notice, and
//! reconnect once the server is back.

use std::io::{BufReader, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use socket_workbook::framing::{read_frame, write_frame};
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
/// Turns on TCP keepalive: after `idle` without traffic the kernel sends empty probes, and
/// after a few unanswered ones it resets the connection. It detects a dead *host* or a cut
/// link — the peer's kernel stops answering — but not a hung *program*: a stopped process's
/// kernel still answers the probes.
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

fn server(addr: SocketAddr, interval: Duration, timeout: Duration) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener =
        net::listen(addr, net::BACKLOG).with_context(|| format!("cannot listen on {}", addr))?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    cli::announce(&listener)?;
    println!(
        "expecting a heartbeat every {} s; dropping clients silent for {} s",
        interval.as_secs_f64(),
        timeout.as_secs_f64()
    );
    let _watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
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

// ANCHOR: answer
/// One client: answer every heartbeat; drop the client after `timeout` of silence.
fn answer(
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let _watch = shutdown.watch_stream(&stream)?;
    enable_keepalive(&stream, timeout)?;
    // The heartbeat timeout *is* the read timeout: no frame for that long, and `read` fails.
    stream.set_read_timeout(Some(timeout))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    println!("connected: {peer}");
    loop {
        match read_frame(&mut reader, 1024) {
            Ok(Some(ping)) => {
                let pong = match ping.strip_prefix(b"ping ") {
                    Some(n) => [b"pong ".as_slice(), n].concat(),
                    None => b"pong".to_vec(),
                };
                write_frame(&mut writer, &pong).with_context(|| format!("cannot answer {peer}"))?;
            }
            Ok(None) if shutdown.is_triggered() => return Ok(()),
            Ok(None) => {
                println!("disconnected: {peer}");
                return Ok(());
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                println!(
                    "dropped: {peer} (no heartbeat for {} s)",
                    timeout.as_secs_f64()
                );
                return Ok(()); // closing tells the client, if it is still there to hear it
            }
            Err(err) => return Err(err).with_context(|| format!("lost {peer}")),
        }
    }
}
// ANCHOR_END: answer

// ANCHOR: client
/// Connects, sends heartbeats, and starts over with a growing pause whenever the server is
/// unreachable or stops answering. Runs until Ctrl-C.
fn client(addr: SocketAddr, interval: Duration, timeout: Duration) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let mut backoff = interval;
    while !shutdown.is_triggered() {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                println!("connected: {addr}");
                backoff = interval; // a connection that worked resets the backoff
                match heartbeats(stream, interval, timeout, &shutdown) {
                    Ok(why) => println!("{why}"),
                    Err(err) => println!("lost the server: {}", cli::one_line(&err)),
                }
            }
            Err(err) => println!("cannot connect to {addr}: {}", cli::describe_io(&err)),
        }
        if shutdown.is_triggered() {
            break;
        }
        // Wait longer after every failure (up to 30 s), so that many clients of a server that
        // is struggling do not all hammer it at once the moment it is back.
        println!("reconnecting in {} s", backoff.as_secs_f64());
        shutdown.wait_timeout(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    println!("shutting down: done");
    Ok(())
}

/// One connection's heartbeats. Returns why it ended.
fn heartbeats(
    stream: TcpStream,
    interval: Duration,
    timeout: Duration,
    shutdown: &Shutdown,
) -> anyhow::Result<String> {
    let _watch = shutdown.watch_stream(&stream)?;
    enable_keepalive(&stream, timeout)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut last_answer = Instant::now();
    for n in 1u64.. {
        let sent = Instant::now();
        write_frame(&mut writer, format!("ping {n}").as_bytes())
            .context("cannot send a heartbeat")?;
        // Read answers until it is time for the next heartbeat.
        let next = sent + interval;
        while let Some(left) = next
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        {
            reader.get_ref().set_read_timeout(Some(left))?;
            match read_frame(&mut reader, 1024) {
                Ok(Some(_pong)) => {
                    last_answer = Instant::now();
                    // One line when the server first answers, not one per heartbeat.
                    if n == 1 {
                        let rtt = last_answer.duration_since(sent).as_micros();
                        println!("the server answers: first heartbeat answered in {rtt} µs");
                    }
                }
                Ok(None) if shutdown.is_triggered() => {
                    return Ok("disconnected (shutting down)".into());
                }
                Ok(None) => return Ok("the server closed the connection".into()),
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(err) => return Err(err.into()),
            }
        }
        if last_answer.elapsed() >= timeout {
            return Ok(format!(
                "the server stopped answering (nothing for {} s)",
                timeout.as_secs_f64()
            ));
        }
    }
    unreachable!("heartbeats are numbered without end")
}
// ANCHOR_END: client
