//! # Exercise 09 · RFC 868's four bytes, and the 2036 wrap (chapter 09)
//!
//! An RFC 868 time server: every datagram, an empty one included, is answered with the time as
//! four bytes. Receiving and answering are written; the four bytes are yours: **write
//! `rfc868_bytes`** below, from std's `SystemTime`, without `socket_workbook::rfc868` (the
//! chapter's version, which starts from a `jiff` timestamp).
//!
//! `--now` makes the server answer with a time you choose instead of the clock's, so that you
//! can try the year 2036 today.
//!
//! Try it by hand (two terminals; chapter 10's client decodes the four bytes into a date):
//!
//! ```text
//! terminal 1:  cargo run --example ex09_rfc868 -- --now 2036-02-07T06:28:15Z
//! terminal 2:  cargo run --example 10_udp_time_client -- --format rfc868
//!              (or: nc -u 127.0.0.1 7879 | xxd, and press Enter)
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 09_rfc868
//! ```

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
#[allow(unused_imports)]
// for your code: `UNIX_EPOCH` is where `SystemTime` counts from
use std::time::UNIX_EPOCH;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Parser;
use jiff::Timestamp;
use socket_workbook::cli;
use socket_workbook::shutdown::Shutdown;

/// RFC 868 time server: answers every datagram with four bytes, the seconds since 1900.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7879")]
    addr: SocketAddr,

    /// Answer with this time instead of the clock's, e.g. `2036-02-07T06:28:16Z` (RFC 3339).
    #[arg(long, value_name = "TIME")]
    now: Option<Timestamp>,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    // `SystemTime` is what std's clock gives; a fixed `--now` is turned into one as well.
    let fixed: Option<SystemTime> =
        match args.now {
            Some(time) => Some(SystemTime::try_from(time).with_context(|| {
                format!("{time} is out of this system's time range")
            })?),
            None => None,
        };

    let socket = UdpSocket::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = socket
        .local_addr()
        .context("cannot read the listening address")?;
    println!("listening on {local}");
    // A blocking `recv_from` would sleep through Ctrl-C: wake up now and then to look.
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .context("cannot set the read timeout")?;

    // Requests carry nothing we use: a small buffer; a longer datagram is cut, and answered.
    let mut buf = [0u8; 64];
    while !shutdown.is_triggered() {
        let peer = match socket.recv_from(&mut buf) {
            Ok((_, peer)) => peer,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                // One client's trouble (on Windows, an earlier reply that bounced): go on.
                eprintln!("error: receiving failed: {}", cli::describe_io(&err));
                continue;
            }
        };
        let now = fixed.unwrap_or_else(SystemTime::now);
        let reply = rfc868_bytes(now);
        match socket.send_to(&reply, peer) {
            Ok(_) => println!("answered: {peer} {reply:02x?}"),
            Err(err) => {
                eprintln!("error: cannot answer {peer}: {}", cli::describe_io(&err))
            }
        }
    }
    println!("shutting down");
    Ok(())
}

// ============================== YOUR PART ==============================
/// The four bytes RFC 868 sends for the instant `now`.
///
/// Given: `now`, an instant from 1970 on (the clock's, or `--now`).
///
/// Must hold:
/// 1. the value is the number of whole seconds since 1900-01-01 00:00:00 UTC (fractions of a
///    second dropped, not rounded); `SystemTime` counts from 1970-01-01, 70 years later, and 17
///    of those years were leap years;
/// 2. the four bytes are that number in network byte order: big-endian, most significant first
///    (2000-01-01 00:00:00 UTC is 3,155,673,600 seconds: `bc 17 c2 00`);
/// 3. 32 bits run out on 2036-02-07 at 06:28:16 UTC: from then on the count starts again at 0.
///    That is the protocol, not an error: no panic, no stopping at the largest value.
///
/// Hints, one at a time:
/// 1. `now.duration_since(UNIX_EPOCH)` gives the time since 1970 (an `Err` only before 1970:
///    say so with `expect`); `.as_secs()` drops the fraction.
/// 2. 70 × 365 days plus 17 leap days, of 86,400 seconds each, is the distance from 1900 to
///    1970. Add it in a type that does not overflow (`u64`).
/// 3. `as u32` keeps the low 32 bits (the wrap), and `u32::to_be_bytes` gives the order.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    let _ = now; // (keeps the compiler quiet until you use `now`: delete this line)
    todo!("seconds since 1900, wrapped to 32 bits, big-endian")
}
// ============================ END OF YOUR PART ============================
