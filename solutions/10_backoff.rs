//! # Exercise 10 · retries with backoff, under a total deadline (chapter 10)
//!
//! Chapter 10's client retries a fixed number of times, each wait twice the one before, and so
//! may take 1 + 2 + 4 + 8 = 15 s. A user, or a program that calls it, wants a promise instead:
//! "an answer, or an error, within `--deadline` seconds". This client keeps the doubling and
//! adds that promise. Everything is written except the asking: **write `ask_with_backoff`**.
//!
//! Try it by hand against chapter 09's server, dropping most replies on purpose (two
//! terminals):
//!
//! ```text
//! terminal 1:  cargo run --example 09_udp_time_server -- --drop-rate 0.7
//! terminal 2:  cargo run --example ex10_backoff -- --timeout 0.1 --deadline 2
//! ```
//!
//! Check it (the checker's own server drops requests, answers late, or never):
//!
//! ```text
//! cargo run --bin check -- 10_backoff
//! ```

use std::io;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use socket_workbook::cli;

/// UDP time client: asks again with longer and longer waits, and gives up at a deadline.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address of the time server.
    #[arg(long, default_value = "127.0.0.1:7879")]
    addr: SocketAddr,

    /// Seconds to wait for the first answer; each retry waits twice as long as the one before.
    #[arg(long, value_name = "SECS", default_value = "0.5", value_parser = cli::parse_seconds)]
    timeout: Duration,

    /// Seconds after which the client gives up, however many attempts that allowed.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = cli::parse_seconds)]
    deadline: Duration,
}

/// What the client sends: any datagram is a request to a time server.
const REQUEST: &[u8] = b"time?";

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // The clock starts before anything else: the deadline is the user's, from now.
    let deadline = Instant::now() + args.deadline;
    // A UDP socket connected to the server (chapter 10): `send` needs no address, datagrams
    // from anyone else are dropped by the kernel, and "port unreachable" becomes an error.
    let any: SocketAddr = match args.addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).context("cannot open a UDP socket")?;
    socket
        .connect(args.addr)
        .with_context(|| format!("cannot set {} as the peer", args.addr))?;

    match ask_with_backoff(&socket, args.timeout, deadline)
        .with_context(|| format!("cannot ask {}", args.addr))?
    {
        Some(reply) => {
            println!("{}", String::from_utf8_lossy(&reply).trim_end());
            Ok(())
        }
        None => bail!(
            "no answer from {} within {} s (is the server running? are datagrams being lost?)",
            args.addr,
            args.deadline.as_secs_f64()
        ),
    }
}

// ============================== YOUR PART ==============================
/// Sends [`REQUEST`] and waits for the answer; without one, sends it again and waits twice as
/// long, until an answer comes or the deadline passes.
///
/// Given: `socket`, connected to the server (use `send` and `recv`); `first_wait`, how long to
/// wait after the first request; `deadline`, when to give up.
///
/// Must hold:
/// 1. the first request goes out at once; after a wait of `first_wait` without an answer, the
///    next one; then waits of 2 × `first_wait`, 4 × `first_wait`, …: each twice the one before;
/// 2. **no wait lasts past `deadline`**: the last one is cut short, so that `Ok(None)` ("no
///    answer") comes at the deadline, not up to a whole doubled wait after it;
/// 3. any datagram that arrives is the answer (a late one, to an earlier request, too):
///    `Ok(Some(bytes))`, with exactly the bytes received;
/// 4. waiting costs no CPU: block in `recv` with a read timeout, never poll in a loop;
/// 5. a receive error other than the timeout is returned (`ConnectionRefused`: no server
///    there); `ErrorKind::Interrupted` means "try again".
///
/// Hints, one at a time:
/// 1. A loop: `send`, `set_read_timeout`, `recv`; on a timeout (`WouldBlock` on Unix,
///    `TimedOut` on Windows), double the wait and go round again.
/// 2. The time left is `deadline.saturating_duration_since(Instant::now())`: wait for the
///    smaller of that and the doubled wait (`Duration::min`).
/// 3. std refuses a zero read timeout (`set_read_timeout(Some(Duration::ZERO))` is an
///    error): when no time is left, return `Ok(None)` before setting it.
fn ask_with_backoff(
    socket: &UdpSocket,
    first_wait: Duration,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let mut wait = first_wait;
    let mut buf = [0u8; 2048];
    loop {
        // No time left: give up now (and never ask std for a zero timeout).
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.send(REQUEST)?;
        // The last wait is cut short at the deadline.
        socket.set_read_timeout(Some(wait.min(left)))?;
        loop {
            match socket.recv(&mut buf) {
                // Any answer will do, even one to an earlier request: it is a time.
                Ok(n) => return Ok(Some(buf[..n].to_vec())),
                // A signal, not an answer: wait again (the timeout starts over; rare enough).
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                // The wait is over without an answer: lost, or slow. Ask again.
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                // Port unreachable (no server), and the rest: no point asking again.
                Err(err) => return Err(err),
            }
        }
        wait *= 2;
    }
}
// ============================ END OF YOUR PART ============================
