//! # Exercise 10 · stale replies: which answer belongs to which question (chapter 10)
//!
//! A UDP client that retries meets a new problem when it asks more than once: the answer to an
//! attempt it gave up on may still arrive, late, while it waits for the answer to the *next*
//! question. Taken at face value, it answers the wrong question. This client numbers its
//! questions (`#1`, `#2`, …), the server puts the number in front of its answer (`#2 …`), and
//! the client keeps only the answer to the question it is asking. The asking and retrying are
//! written; the waiting is yours: **write `receive_answer`** below.
//!
//! Try it by hand, playing the server yourself with `nc` (two terminals): when the client's
//! `#1` appears, type a stale answer, `#0 old news`, then the right one, `#1 hello`; only the
//! second is printed.
//!
//! ```text
//! terminal 1:  nc -u -l 127.0.0.1 7879
//! terminal 2:  cargo run --example ex10_stale_replies -- --count 1 --timeout 30
//! ```
//!
//! Check it (the checker's own server answers late, or sends stale answers without end):
//!
//! ```text
//! cargo run --bin check -- 10_stale_replies
//! ```

use std::io;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use socket_workbook::cli;

/// UDP client that asks numbered questions and ignores answers to earlier ones.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address of the server.
    #[arg(long, default_value = "127.0.0.1:7879")]
    addr: SocketAddr,

    /// How many questions to ask, one after the other.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,

    /// Seconds to wait for each attempt's answer.
    #[arg(long, value_name = "SECS", default_value = "0.5", value_parser = cli::parse_seconds)]
    timeout: Duration,

    /// How many times to ask a question again after a wait without its answer.
    #[arg(long, default_value_t = 3)]
    retries: u32,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // A connected UDP socket (chapter 10): only the server's datagrams reach us.
    let any: SocketAddr = match args.addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).context("cannot open a UDP socket")?;
    socket
        .connect(args.addr)
        .with_context(|| format!("cannot set {} as the peer", args.addr))?;

    for id in 1..=args.count {
        let mut answer = None;
        for _attempt in 0..=args.retries {
            // The same question again: its number says which answer we are waiting for.
            socket
                .send(format!("#{id}").as_bytes())
                .with_context(|| format!("cannot send to {}", args.addr))?;
            let deadline = Instant::now() + args.timeout;
            answer = receive_answer(&socket, id, deadline)
                .with_context(|| format!("cannot receive from {}", args.addr))?;
            if answer.is_some() {
                break;
            }
        }
        let Some(answer) = answer else {
            bail!(
                "no answer to question #{id} from {} after {} attempts",
                args.addr,
                args.retries + 1
            );
        };
        println!("{}", String::from_utf8_lossy(&answer).trim_end());
    }
    Ok(())
}

// ============================== YOUR PART ==============================
/// Waits until `deadline` for the answer to question `id`, and returns it; datagrams that are
/// not that answer are dropped.
///
/// Given: `socket`, connected to the server (use `recv`); `id`, the question's number; the
/// answer to it is a datagram that starts with `#ID ` (a `#`, the number, a space), e.g.
/// `#2 Tue Nov 24 08:00:00 2026 UTC`; `deadline`, when this attempt is over.
///
/// Must hold:
/// 1. returns `Ok(Some(datagram))`, the whole datagram, as soon as the answer to `id` arrives;
/// 2. any other datagram (an answer to an earlier question, come late; anything else) is
///    dropped, and the wait goes on;
/// 3. the wait ends at `deadline`, however many datagrams were dropped on the way: then
///    `Ok(None)` (the caller asks again). Dropped datagrams must not stretch it;
/// 4. waiting costs no CPU: block in `recv` with a read timeout;
/// 5. the timeout (`WouldBlock` on Unix, `TimedOut` on Windows) means `Ok(None)`;
///    `Interrupted`, try again; any other error is returned.
///
/// Hints, one at a time:
/// 1. A loop around `recv`; compare the start of what arrived with `format!("#{id} ")` (with
///    the space: `#1` is also the start of `#12 …`).
/// 2. A read timeout set once, before the loop, starts over with every `recv`: a server that
///    keeps sending stale answers would keep you waiting forever.
/// 3. So set it before each `recv`, to the time left:
///    `deadline.saturating_duration_since(Instant::now())`, and return `Ok(None)` when that is
///    zero (std refuses a zero timeout).
fn receive_answer(
    socket: &UdpSocket,
    id: u32,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let wanted = format!("#{id} ");
    let mut buf = [0u8; 2048];
    loop {
        // The time left, not a fresh timeout: dropped datagrams must not stretch the wait.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) if buf[..n].starts_with(wanted.as_bytes()) => {
                return Ok(Some(buf[..n].to_vec()));
            }
            // A late answer to an earlier question, or noise: not ours. Wait on.
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(err),
        }
    }
}
// ============================ END OF YOUR PART ============================
