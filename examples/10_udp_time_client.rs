//! # 10 — a UDP time client: timeouts, retries, lost datagrams
//!
//! Teaches the client's half of UDP: a datagram may simply never arrive (neither the request
//! nor the reply), so the client waits with a timeout and asks again, waiting twice as long each
//! time (exponential backoff). It `connect`s its UDP socket, so that only the server's replies
//! are accepted and an ICMP "port unreachable" (no server on that port) surfaces as an error.
//!
//! ```text
//! terminal 1:  cargo run --example 09_udp_time_server -- --drop-rate 0.5
//! terminal 2:  cargo run --example 10_udp_time_client
//! ```
//!
//! Look for `no answer within …, asking again` lines on stderr when a reply was dropped, and
//! try `--format rfc868` against a server started with the same flag.

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use jiff::tz::TimeZone;
use socket_workbook::{cli, net, rfc868};

/// UDP time client: asks, waits, asks again with a longer wait.
#[derive(Parser)]
#[command(
    version,
    after_help = "Total time budget: with --timeout T and --retries R the client gives up after \
                  T × (2^(R+1) − 1) seconds at most: 1 + 2 + 4 + 8 = 15 s with the defaults."
)]
struct Args {
    /// Address of the time server.
    #[arg(long, default_value = "127.0.0.1:7879")]
    addr: SocketAddr,

    /// What the server answers: a text line, or RFC 868's 4 bytes (decoded into a date here).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Seconds to wait for the first answer; each retry waits twice as long as the one before.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = cli::parse_seconds)]
    timeout: Duration,

    /// How many times to ask again after a wait without an answer.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    retries: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A line of text, printed as it comes.
    Text,
    /// RFC 868: 4 bytes, big-endian seconds since 1900, printed as a date.
    Rfc868,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // ANCHOR: connect
    // Bind to any local port of the server's address family, then `connect`. For UDP,
    // connect sends nothing: it records the peer, so that `send` needs no address, the
    // kernel drops datagrams from anyone else, and an ICMP error about our datagrams
    // (port unreachable) is reported to us as an error on the next call.
    let any: SocketAddr = match args.addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).context("cannot open a UDP socket")?;
    socket
        .connect(args.addr)
        .with_context(|| format!("cannot set {} as the peer", args.addr))?;
    // ANCHOR_END: connect

    // ANCHOR: retry
    let mut wait = args.timeout;
    let mut waited = Duration::ZERO;
    let attempts = args.retries + 1;
    // Room for a reply much larger than any we expect: a bigger datagram would be cut
    // to fit, and `size == buf.len()` tells us that happened.
    let mut buf = [0u8; 2048];
    for attempt in 1..=attempts {
        // Any datagram is a request; RFC 868 asks for an empty one.
        socket
            .send(&[])
            .with_context(|| format!("cannot send to {}", args.addr))?;
        socket.set_read_timeout(Some(wait))?;
        match socket.recv(&mut buf) {
            Ok(size) if size == buf.len() => {
                bail!("the reply from {} was too long", args.addr)
            }
            Ok(size) => return print_reply(&buf[..size], args.format, args.addr),
            // No datagram within `wait`: lost on the way there, lost on the way back,
            // or the server is busy. We cannot tell which; we can only ask again.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                waited += wait;
                if attempt < attempts {
                    eprintln!(
                        "no answer within {}, asking again ({} of {} retries)",
                        seconds(wait),
                        attempt,
                        args.retries
                    );
                }
                wait *= 2;
            }
            // ICMP "port unreachable" came back: nothing listens there. No point
            // retrying. Linux and macOS say ConnectionRefused, Windows
            // ConnectionReset: we report both as what they mean.
            Err(err) if net::is_port_unreachable(&err) => {
                return Err(io::Error::from(ErrorKind::ConnectionRefused))
                    .with_context(|| format!("no time server at {}", args.addr));
            }
            // Windows only: a reply longer than `buf` fails the call instead of being
            // cut.
            Err(err) if net::is_datagram_too_big(&err) => {
                bail!("the reply from {} was too long", args.addr)
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("cannot receive from {}", args.addr));
            }
        }
    }
    bail!(
        "no answer from {} after {attempts} attempts in {} (is the server running? \
         are datagrams being lost?)",
        args.addr,
        seconds(waited)
    )
    // ANCHOR_END: retry
}

// ANCHOR: print
fn print_reply(reply: &[u8], format: Format, addr: SocketAddr) -> anyhow::Result<()> {
    match format {
        Format::Text => {
            let Some(line) = as_text(reply) else {
                bail!(
                    "{addr} sent {} bytes that are not a line of text: try --format\
                        \x20rfc868",
                    reply.len()
                );
            };
            println!("{line}");
        }
        Format::Rfc868 => {
            let bytes: [u8; 4] = reply.try_into().with_context(|| {
                format!(
                    "{addr} sent {} bytes, not RFC 868's 4: is it a text server?",
                    reply.len()
                )
            })?;
            let time = rfc868::decode(bytes);
            let local = time.to_zoned_datetime(TimeZone::system());
            println!(
                "{} (RFC 868: {} seconds since 1900)",
                local.strftime("%a %b %e %H:%M:%S %Y %Z"),
                u32::from_be_bytes(bytes)
            );
        }
    }
    Ok(())
}

/// The text of a time server's reply, if it is text: UTF-8 without control characters,
/// with or without a line ending. A datagram is already a whole message, so servers
/// differ: ours ends its line with `\n`, RFC 867 daytime servers often with `\r\n`,
/// and a Python server that sends `time.ctime()` sends none.
fn as_text(reply: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(reply).ok()?;
    let line = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    // Control characters (escape sequences, a NUL) are not a time, and must not reach
    // the terminal.
    let control = line.chars().any(char::is_control);
    // Four bytes with no line ending are RFC 868's answer, even when they happen to be
    // valid UTF-8 (some values are): no text time is that short.
    let rfc868_sized = reply.len() == 4 && line.len() == 4;
    (!line.is_empty() && !control && !rfc868_sized).then_some(line)
}
// ANCHOR_END: print

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}
