//! # 17 — addresses, IPv6 and names: a dual-stack server, a client that tries every address
//!
//! Teaches IPv4 and IPv6 side by side. The server listens on one address of either family; on
//! `[::]` it is *dual-stack* (`IPV6_V6ONLY` off, set explicitly with socket2, because the
//! default differs between systems), and IPv4 clients reach it as IPv4-mapped addresses such as
//! `::ffff:127.0.0.1`. It tells every client the address it sees. The client resolves names
//! (getaddrinfo, through `ToSocketAddrs`), which can give several addresses, and tries them in
//! turn with a timeout each, or races them Happy Eyeballs style (RFC 8305). `blackhole` is a
//! listener that never answers, so that a slow address can be reproduced on one machine.
//!
//! ```text
//! terminal 1:  cargo run --example 17_dual_stack -- server --addr [::]:7878
//! terminal 2:  cargo run --example 17_dual_stack -- client --addr 127.0.0.1:7878
//!              cargo run --example 17_dual_stack -- client --addr [::1]:7878
//! ```
//!
//! The server's first line is `listening on ADDR`, then one saying which clients can reach it.
//! It prints `connected: [::ffff:127.0.0.1]:…` for the IPv4 client, `[::1]:…` for the
//! IPv6 one. For the fallback, start the server on `127.0.0.1` only (its default) and give the
//! client `--addr [::1]:7878 --addr 127.0.0.1:7878`: the first is refused, the second connects.
//! With `blackhole --addr 127.0.0.1:7001` running, compare
//! `client --addr 127.0.0.1:7001 --addr 127.0.0.1:7878` with and without `--happy-eyeballs`.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs,
};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{CommandFactory, Parser, Subcommand};
use socket_workbook::shutdown::Shutdown;
use socket_workbook::text;
use socket_workbook::{cli, net};
use socket2::{Domain, Protocol, Socket, Type};

/// IPv4 and IPv6 side by side: a dual-stack server, a client that tries every address.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Listen, and tell every client the address the server sees it as.
    Server {
        /// Address to listen on: `127.0.0.1:7878` (IPv4 only), `[::1]:7878` (IPv6 only), or
        /// `[::]:7878`, every interface of both families (dual-stack unless --v6only).
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// With an IPv6 address: accept IPv6 clients only (IPV6_V6ONLY on).
        #[arg(long)]
        v6only: bool,
    },
    /// Resolve the addresses, connect to one of them, print what the server says.
    Client {
        /// Where to connect, HOST:PORT: a name (`localhost:7878`) or an address
        /// (`127.0.0.1:7878`, `[::1]:7878`). Give it several times to try several.
        #[arg(long = "addr", value_name = "HOST:PORT", default_value = "localhost:7878",
              value_parser = parse_target)]
        addrs: Vec<String>,
        /// Use IPv4 addresses only.
        #[arg(short = '4', long, conflicts_with = "ipv6")]
        ipv4: bool,
        /// Use IPv6 addresses only.
        #[arg(short = '6', long)]
        ipv6: bool,
        /// Race the addresses: start the next attempt every --delay until one connects,
        /// instead of waiting for each attempt to fail.
        #[arg(long)]
        happy_eyeballs: bool,
        /// With --happy-eyeballs: seconds before the next attempt starts (RFC 8305: 0.25).
        #[arg(long, value_name = "SECS", default_value = "0.25", value_parser = cli::parse_seconds)]
        delay: Duration,
        /// Seconds each connection attempt may take, and the wait for the server's line.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = cli::parse_seconds)]
        timeout: Duration,
    },
    /// Listen but never accept: connects to it get no answer at all, like a host that is down.
    Blackhole {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7001")]
        addr: SocketAddr,
    },
}

fn main() -> ExitCode {
    cli::report(match Args::parse().role {
        Role::Server { addr, v6only } => {
            if v6only && addr.is_ipv4() {
                // A bad combination of arguments: clap's exit code 2, like any other.
                Args::command()
                    .error(
                        clap::error::ErrorKind::ArgumentConflict,
                        "--v6only needs an IPv6 address, such as --addr [::]:7878",
                    )
                    .exit();
            }
            server(addr, v6only)
        }
        Role::Client {
            addrs,
            ipv4,
            ipv6,
            happy_eyeballs,
            delay,
            timeout,
        } => {
            let family = match (ipv4, ipv6) {
                (true, _) => Family::V4,
                (_, true) => Family::V6,
                _ => Family::Any,
            };
            let strategy = match happy_eyeballs {
                true => Strategy::Race { delay },
                false => Strategy::OneAfterAnother,
            };
            client(&addrs, family, strategy, timeout)
        }
        Role::Blackhole { addr } => blackhole(addr),
    })
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

// ANCHOR: listen
/// socket(), the options, bind(), listen(), one step at a time, so that `IPV6_V6ONLY`
/// is set *before* bind(), the only time it counts. Returns the listener and a line
/// saying which clients can reach it.
fn listen(addr: SocketAddr, v6only: bool) -> anyhow::Result<(TcpListener, String)> {
    // 1. The socket's family follows the address: AF_INET for IPv4, AF_INET6 for IPv6.
    let domain = Domain::for_address(addr);
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?; // as in chapter 06

    // 2. An IPv6 socket on `[::]` also receives IPv4 connections unless IPV6_V6ONLY is
    //    on, and its default differs: off on Linux (the sysctl net.ipv6.bindv6only),
    //    on on Windows and FreeBSD, always on on OpenBSD. std's `TcpListener::bind`
    //    leaves it at the default, so the same program would be dual-stack on one
    //    system and not on another. We read the default, then set the option
    //    ourselves.
    let reach = if addr.is_ipv6() {
        let default = on_off(socket.only_v6()?);
        socket.set_only_v6(v6only).with_context(|| {
            format!(
                "cannot set IPV6_V6ONLY {} (this system's default: {default})",
                on_off(v6only)
            )
        })?;
        let (state, who) = match v6only {
            true => ("on", "IPv6 clients only"),
            false => ("off", "IPv4 clients arrive as ::ffff:a.b.c.d"),
        };
        format!("IPV6_V6ONLY {state} (this system's default: {default}): {who}")
    } else {
        "an IPv4 socket: IPv6 clients cannot reach it".to_string()
    };

    // 3. bind() and listen(), with chapter 06's backlog.
    socket.bind(&addr.into())?;
    socket.listen(net::BACKLOG)?;
    Ok((socket.into(), reach))
}
// ANCHOR_END: listen

fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

// ANCHOR: peer
/// How the server sees a client. A dual-stack socket reports an IPv4 client as an
/// IPv4-mapped IPv6 address, `::ffff:127.0.0.1` (RFC 4291, 2.5.5.2); `to_canonical`
/// turns it back into `127.0.0.1`, which is what logs, allow-lists and rate limits
/// should compare.
fn describe_peer(peer: SocketAddr) -> String {
    // Compare the addresses, not the socket addresses: `SocketAddr::new` would drop a
    // link-local client's scope id (`%2`), and the two would differ for the wrong
    // reason.
    let canonical = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    if peer.ip().to_canonical() != peer.ip() {
        format!("{peer} (an IPv4 client, IPv4-mapped; to_canonical: {canonical})")
    } else if peer.is_ipv6() {
        format!("{peer} (an IPv6 client)")
    } else {
        format!("{peer} (an IPv4 client)")
    }
}
// ANCHOR_END: peer

// ANCHOR: server
fn server(addr: SocketAddr, v6only: bool) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let (listener, reach) =
        listen(addr, v6only).with_context(|| format!("cannot listen on {addr}"))?;
    let _watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
    cli::announce(&listener)?;
    println!("{reach}");
    // One short line per client and nothing to read: serving them in turn is enough
    // (03).
    while let Some((mut stream, peer)) = shutdown.accept(&listener) {
        println!("connected: {}", describe_peer(peer));
        // Tell the client the address exactly as `accept` gave it to us.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        if let Err(err) = writeln!(stream, "{peer}") {
            eprintln!("error: cannot answer {peer}: {}", cli::describe_io(&err));
        }
    }
    println!("shutting down: done");
    Ok(())
}
// ANCHOR_END: server

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Family {
    Any,
    V4,
    V6,
}

impl Family {
    fn admits(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

#[derive(Clone, Copy)]
enum Strategy {
    /// Each address in turn, the next one only once the previous attempt has failed.
    OneAfterAnother,
    /// Happy Eyeballs: a new attempt every `delay` until one connects.
    Race { delay: Duration },
}

/// Checks an `--addr` of the client: `HOST:PORT`, with IPv6 addresses in brackets.
fn parse_target(text: &str) -> Result<String, String> {
    if text.parse::<SocketAddr>().is_ok() {
        return Ok(text.to_string());
    }
    // An IPv6 address alone (`[::1]`, `::1`): its last colon is not a port's. (Whether
    // `::1:7878` is an address or an address and a port, only its author knows: the
    // brackets below say which.)
    use std::net::Ipv6Addr;
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    let before_last_colon = text.rsplit_once(':').map_or("", |(host, _)| host);
    if bare.parse::<Ipv6Addr>().is_ok()
        && (text.starts_with('[') || before_last_colon.parse::<Ipv6Addr>().is_err())
    {
        return Err(format!("`{text}` has no port: write [{bare}]:7878"));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!(
            "`{text}` has no port: write HOST:PORT, such as localhost:7878"
        ));
    };
    if host.contains(':') && !host.starts_with('[') {
        return Err(format!("put an IPv6 address in brackets: [{host}]:{port}"));
    }
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("`{text}` is not HOST:PORT, such as localhost:7878"));
    }
    Ok(text.to_string())
}

// ANCHOR: client
fn client(
    targets: &[String],
    family: Family,
    strategy: Strategy,
    timeout: Duration,
) -> anyhow::Result<()> {
    let shown = targets.join(", ");
    // 1. Resolve every --addr, keeping each list in the order the system returned it.
    let mut found = Vec::new();
    for target in targets {
        found.extend(resolve(target)?);
    }
    // 2. Keep the family asked for (-4, -6).
    let wanted = found.iter().copied().filter(|a| family.admits(a));
    let addrs: Vec<SocketAddr> = wanted.collect();
    if addrs.is_empty() {
        let (wanted, flag) = match family {
            Family::V6 => ("IPv6", "-6"),
            _ => ("IPv4", "-4"),
        };
        bail!(
            "cannot connect to {shown}: no {wanted} address among {} \
             (try without {flag})",
            list(&found)
        );
    }
    // 3. Connect to one of them.
    let started = Instant::now();
    let (stream, addr) = match strategy {
        Strategy::OneAfterAnother => one_after_another(&addrs, timeout, started),
        Strategy::Race { delay } => race(&addrs, delay, timeout, started),
    }
    .with_context(|| format!("cannot connect to {shown}"))?;
    // 4. The server's one line: how it sees us.
    stream.set_read_timeout(Some(timeout))?;
    let mut line = String::new();
    BufReader::new(stream.take(256))
        .read_line(&mut line)
        .with_context(|| format!("cannot read from {addr}"))?;
    if line.is_empty() {
        bail!(
            "{addr} closed the connection without a line (not this chapter's server?)"
        );
    }
    // The server's words, shown inert (src/text.rs): not its escape sequences.
    println!(
        "the server sees us as {}",
        text::shown(line.trim_end().as_bytes(), text::SHOWN)
    );
    Ok(())
}
// ANCHOR_END: client

// ANCHOR: resolve
/// A name becomes a list of addresses. An address literal (`127.0.0.1:7878`,
/// `[::1]:7878`) needs no resolver: std parses it. Anything else goes to the system's
/// resolver (getaddrinfo: /etc/hosts, DNS, …), which **blocks** this thread until it
/// answers, and may return several addresses of both families, sorted by the system's
/// preferences (RFC 6724, or its predecessor RFC 3484 in glibc).
fn resolve(target: &str) -> anyhow::Result<Vec<SocketAddr>> {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let addrs: Vec<SocketAddr> = match target.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        // The resolver's own words ("Name or service not known" from glibc); they
        // differ between systems, so we keep them as they are and add our hint.
        Err(err) => bail!(
            "cannot resolve {target}: {err} (is the name right, and can this \
             machine reach its DNS server?)"
        ),
    };
    if addrs.is_empty() {
        bail!("cannot resolve {target}: the resolver returned no address");
    }
    println!("{target} resolves to {}", list(&addrs));
    Ok(addrs)
}
// ANCHOR_END: resolve

fn list(addrs: &[SocketAddr]) -> String {
    let shown: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    shown.join(", ")
}

/// Prints one step of the connection attempts, with the time since the first one started.
fn log(started: Instant, what: &str) {
    println!("at {} ms: {what}", started.elapsed().as_millis());
}

// ANCHOR: one_after_another
/// Tries each address in turn, each for at most `timeout`. std's
/// `TcpStream::connect("host:port")` does the same, but with no timeout at all: an
/// address that does not answer holds it for the kernel's whole SYN retry schedule
/// (over two minutes on Linux) before the next is tried.
fn one_after_another(
    addrs: &[SocketAddr],
    timeout: Duration,
    started: Instant,
) -> anyhow::Result<(TcpStream, SocketAddr)> {
    let mut failures = Vec::new();
    for &addr in addrs {
        log(
            started,
            &format!("trying {addr} (for up to {} s)", timeout.as_secs_f64()),
        );
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                log(started, &connected(&stream, addr));
                return Ok((stream, addr));
            }
            Err(err) => {
                log(started, &format!("{addr}: {}", words(&err)));
                failures.push((addr, err));
            }
        }
    }
    Err(all_failed(failures))
}
// ANCHOR_END: one_after_another

// ANCHOR: race
/// Happy Eyeballs (RFC 8305, section 5): start with the first address; whenever
/// `delay` passes without a connection, or the attempts running so far have all
/// failed, start the next one. The first attempt to connect wins; the others are
/// dropped.
fn race(
    addrs: &[SocketAddr],
    delay: Duration,
    timeout: Duration,
    started: Instant,
) -> anyhow::Result<(TcpStream, SocketAddr)> {
    // Each attempt is a blocking `connect_timeout` in its own thread, reporting here.
    let (report, outcomes) = mpsc::channel();
    let mut next = 0; // the next address to try
    let mut running = 0; // attempts started and not finished
    let mut next_start = Instant::now();
    let mut failures = Vec::new();
    loop {
        if next < addrs.len() && (running == 0 || Instant::now() >= next_start) {
            let addr = addrs[next];
            let what = match running {
                0 => format!("trying {addr}"),
                _ => {
                    let (prev, ms) = (addrs[next - 1], delay.as_millis());
                    format!("no answer from {prev} within {ms} ms: trying {addr} too")
                }
            };
            log(started, &what);
            let report = report.clone();
            thread::spawn(move || {
                // When this attempt loses, the receiver is gone, `send` fails, and the
                // stream it carries is dropped: closed. A blocking connect cannot be
                // cancelled from outside, so a slow loser finishes (or times out) in
                // the background.
                let _ =
                    report.send((addr, TcpStream::connect_timeout(&addr, timeout)));
            });
            next += 1;
            running += 1;
            next_start = Instant::now() + delay;
        }
        // Wait for an outcome, but no longer than until the next attempt is due.
        let outcome = if next < addrs.len() {
            let until_next = next_start.saturating_duration_since(Instant::now());
            match outcomes.recv_timeout(until_next) {
                Ok(outcome) => outcome,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(err) => bail!("the connection attempts stopped: {err}"),
            }
        } else {
            outcomes.recv().context("the connection attempts stopped")?
        };
        running -= 1;
        match outcome {
            (addr, Ok(stream)) => {
                let others = match running {
                    0 => String::new(),
                    1 => "; dropping the other attempt".to_string(),
                    n => format!("; dropping the {n} other attempts"),
                };
                log(started, &format!("{}{others}", connected(&stream, addr)));
                return Ok((stream, addr));
            }
            (addr, Err(err)) => {
                log(started, &format!("{addr}: {}", words(&err)));
                failures.push((addr, err));
                if running == 0 && next == addrs.len() {
                    // List them in the order they were tried, not the order they
                    // failed.
                    failures.sort_by_key(|(a, _)| addrs.iter().position(|x| x == a));
                    return Err(all_failed(failures));
                }
            }
        }
    }
}
// ANCHOR_END: race

fn connected(stream: &TcpStream, addr: SocketAddr) -> String {
    match stream.local_addr() {
        Ok(local) => format!("connected to {addr} from {local}"),
        Err(_) => format!("connected to {addr}"),
    }
}

/// A failed attempt in a few words (the hint comes once, at the end).
fn words(err: &io::Error) -> String {
    match err.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ if timed_out(err) => "timed out".to_string(),
        _ => cli::describe_io(err),
    }
}

/// `connect_timeout` reports its timeout as `TimedOut`; `WouldBlock` means the same on some
/// systems (chapter 02).
fn timed_out(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

// ANCHOR: all_failed
/// One line for "nothing worked": every address with what happened to it, and one
/// hint.
fn all_failed(failures: Vec<(SocketAddr, io::Error)>) -> anyhow::Error {
    if let [(_, err)] = failures.as_slice() {
        return anyhow!(cli::describe_io(err)); // one address: as in chapter 02
    }
    let each: Vec<String> = failures
        .iter()
        .map(|(a, e)| format!("{a} {}", words(e)))
        .collect();
    let refused = |e: &io::Error| e.kind() == ErrorKind::ConnectionRefused;
    let hint = if failures.iter().all(|(_, e)| refused(e)) {
        " (is the server running, and on this port?)"
    } else if failures.iter().any(|(_, e)| timed_out(e)) {
        " (no answer at all: is the host up, or are packets to it dropped?)"
    } else {
        ""
    };
    anyhow!("every address failed: {}{hint}", each.join(", "))
}
// ANCHOR_END: all_failed

// ---------------------------------------------------------------------------------------------
// The blackhole
// ---------------------------------------------------------------------------------------------

// ANCHOR: blackhole
/// A listener that never accepts, with its queue filled by our own connections. When
/// the queue of a listening socket is full, Linux *drops* new SYNs without a word (the
/// client retransmits its SYN at 1, 2, 3, 4 and 5 s, then at 7, 11, 19 s… on Linux 6.5
/// and later, `tcp_syn_linear_timeouts`; at 1, 3, 7 s… on older kernels), exactly what
/// a client sees from a host that is down or a firewall that drops packets; some
/// systems answer with a reset instead, and the demonstration stops.
fn blackhole(addr: SocketAddr) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = (|| -> io::Result<TcpListener> {
        let domain = Domain::for_address(addr);
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(0)?; // the shortest queue the system allows
        Ok(socket.into())
    })()
    .with_context(|| format!("cannot listen on {addr}"))?;
    let mut target = cli::announce(&listener)?;
    if target.ip().is_unspecified() {
        target.set_ip(match target {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    // Connect to ourselves until a connect gets no answer: the queue is full. `held`
    // keeps those connections open until we exit.
    let mut held = Vec::new();
    loop {
        match TcpStream::connect_timeout(&target, Duration::from_millis(500)) {
            Ok(stream) if held.len() < 64 => held.push(stream),
            Ok(_) => bail!("the queue of {target} never fills up on this system"),
            Err(err) if timed_out(&err) => break,
            Err(err) => bail!(
                "this system answers a connect to a full queue with: {} \
                 (Linux drops it instead; the demonstration needs that)",
                words(&err)
            ),
        }
    }
    println!(
        "never accepting: our connections fill its queue, new ones get no answer"
    );
    while !shutdown.wait_timeout(Duration::from_secs(60)) {}
    println!("shutting down: done");
    Ok(())
}
// ANCHOR_END: blackhole
