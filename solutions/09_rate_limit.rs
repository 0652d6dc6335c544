//! # Exercise 09 · a per-client rate limit for a UDP server (chapter 09)
//!
//! A UDP server answers anyone who sends it a datagram, as often as they send one: a single
//! client can keep it busy, and a forged source address makes it flood someone else (chapter
//! 09, "Requests are not trusted"). This echo server answers each client address at most
//! `--limit` times per second and ignores the rest. The receiving, echoing and logging are
//! written; the decision is yours: **write `RateLimiter::allow`** below.
//!
//! Try it by hand (two terminals; paste a dozen lines into `nc` at once):
//!
//! ```text
//! terminal 1:  cargo run --example ex09_rate_limit -- --limit 3
//! terminal 2:  nc -u 127.0.0.1 7879
//! ```
//!
//! Check it:
//!
//! ```text
//! cargo run --bin check -- 09_rate_limit
//! ```

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use socket_workbook::shutdown::Shutdown;
use socket_workbook::{cli, net};

/// UDP echo server that answers each client address at most `--limit` times per second.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7879")]
    addr: SocketAddr,

    /// Most datagrams answered per client address and second; the rest are ignored.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
}

/// One client's current window: when it began, and how many datagrams were answered in it.
struct Window {
    started: Instant,
    answered: u32,
}

/// Who was answered how often, per client address.
struct RateLimiter {
    /// Most answers per client and window.
    limit: u32,
    /// How long a window lasts: one second.
    window: Duration,
    /// The clients seen in the last window or so. An address is the client: IP *and* port.
    clients: HashMap<SocketAddr, Window>,
    /// When `clients` was last cleared of clients whose window has ended.
    last_sweep: Instant,
}

impl RateLimiter {
    fn new(limit: u32) -> Self {
        RateLimiter {
            limit,
            window: Duration::from_secs(1),
            clients: HashMap::new(),
            last_sweep: Instant::now(),
        }
    }

    /// How many clients the limiter remembers now (it is in the log, to watch memory).
    fn tracked(&self) -> usize {
        self.clients.len()
    }
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
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

    let mut limiter = RateLimiter::new(args.limit);
    let mut buf = [0u8; 512];
    while !shutdown.is_triggered() {
        let (size, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // Windows only: an earlier echo bounced ("port unreachable"). Not our problem.
            Err(err) if net::is_port_unreachable(&err) => continue,
            Err(err) => {
                eprintln!("error: receiving failed: {}", cli::describe_io(&err));
                continue;
            }
        };
        // The decision comes before any work: an ignored datagram costs a lookup, no reply.
        if !limiter.allow(peer, Instant::now()) {
            println!(
                "ignored: {peer} is over the limit (tracking {} clients)",
                limiter.tracked()
            );
            continue;
        }
        match socket.send_to(&buf[..size], peer) {
            Ok(_) => println!(
                "answered: {peer} ({size} bytes; tracking {} clients)",
                limiter.tracked()
            ),
            Err(err) => {
                eprintln!("error: cannot answer {peer}: {}", cli::describe_io(&err))
            }
        }
    }
    println!("shutting down");
    Ok(())
}

// ============================== YOUR PART ==============================
impl RateLimiter {
    /// Decides whether the datagram that `peer` sent at `now` is answered, and counts it if so.
    ///
    /// Given: `self.clients`, the window of each client seen lately; `self.limit` and
    /// `self.window` (1 s); `self.last_sweep`.
    ///
    /// Must hold:
    /// 1. a client's window begins with its first datagram, and lasts `self.window`; in it, the
    ///    first `self.limit` datagrams are allowed (`true`), the rest refused (`false`);
    /// 2. a datagram that comes after the client's window has ended begins a new window: the
    ///    client is answered again;
    /// 3. each client address has its own window: one client's flood never costs another
    ///    client its answers;
    /// 4. memory stays bounded: a client whose window has ended is forgotten, at the latest
    ///    about a window later (a server that sees a million addresses in a day must not keep
    ///    them all).
    ///
    /// Hints, one at a time:
    /// 1. `self.clients.entry(peer).or_insert(Window { started: now, answered: 0 })` finds or
    ///    makes the client's window in one lookup.
    /// 2. If `now - window.started >= self.window`, start the window again at `now`, with 0
    ///    answered. Then: allowed if `answered < limit` (and then `answered += 1`).
    /// 3. Forgetting: once per window (`now - self.last_sweep >= self.window`),
    ///    `self.clients.retain(…)` the clients whose window is still running, and set
    ///    `last_sweep`. Sweeping on every datagram would also work, at the price of a pass over
    ///    every client each time.
    fn allow(&mut self, peer: SocketAddr, now: Instant) -> bool {
        // Forget the clients whose window has ended, once per window: memory stays
        // proportional to the clients of about the last second, not of all time.
        if now.duration_since(self.last_sweep) >= self.window {
            let window = self.window;
            self.clients
                .retain(|_, w| now.duration_since(w.started) < window);
            self.last_sweep = now;
        }
        let client = self.clients.entry(peer).or_insert(Window {
            started: now,
            answered: 0,
        });
        // The client's window is over: this datagram begins the next one.
        if now.duration_since(client.started) >= self.window {
            *client = Window {
                started: now,
                answered: 0,
            };
        }
        if client.answered < self.limit {
            client.answered += 1;
            true
        } else {
            false
        }
    }
}
// ============================ END OF YOUR PART ============================
