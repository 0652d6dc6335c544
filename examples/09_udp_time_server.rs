//! # 09 — a UDP time server
//!
//! Teaches datagrams: no connection, no accept, no stream — one socket, and every `recv_from`
//! returns one whole datagram together with the address to answer. One thread serves every
//! client without any concurrency machinery. It answers each datagram with the time, as text
//! (like python/udp_time_server.py's `time.ctime()`, with the time zone) or as the RFC 868
//! Time Protocol's four bytes.
//!
//! ```text
//! terminal 1:  cargo run --example 09_udp_time_server
//! terminal 2:  cargo run --example 10_udp_time_client
//!              (or: nc -u 127.0.0.1 7879, press Enter)
//! ```
//!
//! Look for one log line per request. With `--drop-rate 0.5`, half the replies are dropped on
//! purpose, so that chapter 10's client has to retry.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use jiff::fmt::strtime;
use jiff::{Timestamp, ZonedDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use socket_workbook::shutdown::Shutdown;
use socket_workbook::{cli, net, rfc868};

/// UDP time server: answers every datagram with the current time.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7879")]
    addr: SocketAddr,

    /// What to answer.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Share of replies to drop on purpose, from 0 to 1, to see the client's retries.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_rate)]
    drop_rate: f64,

    /// Seed for the drops, to make a run repeatable (random when absent).
    #[arg(long)]
    seed: Option<u64>,

    /// Largest request accepted, in bytes; larger datagrams are ignored (see the chapter).
    #[arg(long, value_name = "BYTES", default_value_t = 512)]
    max_request: usize,

    /// Do not log each request, nor each ignored one (for load tests and floods): the
    /// counts are in the last line.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A line like `Mon Nov 23 17:20:00 2026 UTC`: the local time and its zone (RFC 867 style).
    Text,
    /// RFC 868: 4 bytes, big-endian seconds since 1900-01-01 00:00 UTC.
    Rfc868,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a number from 0 to 1")),
    }
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;

    // ANCHOR: bind
    // A UDP socket is bound, and that is all: no listen, no accept. Every client's
    // datagrams arrive on this one socket.
    let socket = UdpSocket::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = socket
        .local_addr()
        .context("cannot read the listening address")?;
    println!("listening on {local}");
    // A blocking `recv_from` would sleep through Ctrl-C; with a timeout it returns now
    // and then, and the loop looks at the flag.
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .context("cannot set the read timeout")?;
    // ANCHOR_END: bind

    let seed = args.seed.unwrap_or_else(rand::random);
    if args.drop_rate > 0.0 {
        println!(
            "dropping {:.0}% of replies on purpose (seed {seed})",
            args.drop_rate * 100.0
        );
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut answered, mut dropped, mut ignored) = (0u64, 0u64, 0u64);

    // ANCHOR: loop
    // One byte more than we accept: `recv_from` silently cuts a datagram to the
    // buffer's size, so a request that fills the whole buffer was too big (and may
    // have been longer still).
    let mut buf = vec![0u8; args.max_request + 1];
    while !shutdown.is_triggered() {
        let (size, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            // The timeout: nothing arrived; go and look at the flag.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // Windows only: a datagram longer than `buf` is an error there
            // (WSAEMSGSIZE), and we do not even learn who sent it. Same rule as below:
            // not answered.
            Err(err) if net::is_datagram_too_big(&err) => {
                ignored += 1;
                if !args.quiet {
                    println!("ignored: a datagram of over {} bytes", args.max_request);
                }
                continue;
            }
            // Windows only: an earlier reply of ours came back as "port unreachable"
            // (the client left). Linux and macOS never tell an unconnected socket. Not
            // our problem.
            Err(err) if net::is_port_unreachable(&err) => continue,
            Err(err) => {
                // One client's trouble, or the system's: log it and go on.
                eprintln!("error: receiving failed: {}", cli::describe_io(&err));
                continue;
            }
        };

        // Every datagram is a request, an empty one included (RFC 868 clients send
        // nothing). Requests are not trusted: an oversized one is ignored, with one
        // log line, and no answer — answering unchecked datagrams is how UDP servers
        // get used to flood others. So is one that could start a loop (see
        // `loop_risk`). With --quiet, not even the line: a flood of them is counted in
        // the last line.
        let why = if size > args.max_request {
            Some(format!("sent over {} bytes", args.max_request))
        } else {
            loop_risk(&buf[..size], peer, local).map(str::to_string)
        };
        if let Some(why) = why {
            ignored += 1;
            if !args.quiet {
                println!("ignored: {peer} {why}");
            }
            continue;
        }
        if rng.random_bool(args.drop_rate) {
            dropped += 1;
            if !args.quiet {
                println!("dropped: {peer} ({size} bytes; --drop-rate)");
            }
            continue;
        }
        let reply = match args.format {
            Format::Text => {
                format!("{}\n", ZonedDateTime::now().strftime(TEXT_TIME)).into_bytes()
            }
            Format::Rfc868 => rfc868::encode(Timestamp::now()).to_vec(),
        };
        // One datagram out, to the address the request came from. No connection and no
        // retransmission: if it is lost on the way, only the client can notice. (On
        // Linux a UDP socket does have a send buffer, SO_SNDBUF: datagrams the network
        // card has not sent yet count against it, and `send_to` sleeps while it is
        // full.)
        match socket.send_to(&reply, peer) {
            Ok(_) => {
                answered += 1;
                if !args.quiet {
                    println!(
                        "answered: {peer} ({size} bytes in, {} out)",
                        reply.len()
                    );
                }
            }
            Err(err) => {
                eprintln!("error: cannot answer {peer}: {}", cli::describe_io(&err))
            }
        }
    }
    // ANCHOR_END: loop

    println!(
        "shutting down: answered {answered}, dropped {dropped}, ignored {ignored}"
    );
    Ok(())
}

/// The text answer: `Mon Nov 23 17:20:00 2026 UTC` (the zone is the local one).
const TEXT_TIME: &str = "%a %b %e %H:%M:%S %Y %Z";

// ANCHOR: loop_risk
/// Why a datagram must not be answered because the answer could start a *loop*, or
/// `None`. A UDP server answers whatever address a datagram claims to come from, and
/// that address is easily forged. Forge a request "from" another server that answers
/// anything, and the two answer each other for ever (the "Loop DoS" attacks,
/// CVE-2024-2169, found in TFTP, DNS, NTP, and the old echo, chargen, daytime and RFC
/// 868 time services); forge one "from" the server itself, and it answers itself. Real
/// services break such loops the way this one does:
fn loop_risk(
    request: &[u8],
    peer: SocketAddr,
    local: SocketAddr,
) -> Option<&'static str> {
    // 1. Our own address: the answer would come straight back as a new request.
    if peer == local || (local.ip().is_unspecified() && peer.port() == local.port()) {
        return Some("is our own address (a forged request that would loop)");
    }
    // 2. A port below 1024 is a service's, not a client's: clients send from the
    //    ephemeral ports the system picks (32768–60999 on Linux), and echo (7),
    //    daytime (13), chargen (19) and time (37) answer every datagram. Port 0 is
    //    never a real sender.
    if peer.port() < 1024 {
        return Some("sent from a service's port (below 1024): no answer, no loop");
    }
    // 3. Something shaped like an answer is not a request. Answering it is how two
    //    time servers (or a time server and an echo server) keep each other busy:
    //    every answer of ours must be something we would ignore.
    if looks_like_an_answer(request) {
        return Some("sent what looks like a time server's answer: no loop");
    }
    None
}

/// Whether `datagram` has the shape of an answer of ours: RFC 868's four bytes, or a
/// line with the time in our text format.
fn looks_like_an_answer(datagram: &[u8]) -> bool {
    if datagram.len() == 4 {
        return true;
    }
    let Ok(text) = std::str::from_utf8(datagram) else {
        return false;
    };
    // `Mon Nov 23 17:20:00 2026` (24 characters), then the zone, then a newline.
    let Some(time) = text.strip_suffix('\n').and_then(|line| line.get(..24)) else {
        return false;
    };
    strtime::parse("%a %b %e %H:%M:%S %Y", time).is_ok()
}
// ANCHOR_END: loop_risk
