//! # 06 — TIME_WAIT, "address already in use", and SO_REUSEADDR
//!
//! Teaches why a server restarted right after it stopped may fail with "address already in
//! use" although nothing is listening any more, and what the socket option `SO_REUSEADDR` does
//! about it (and what it does not). A self-contained demonstration: it runs numbered steps with
//! real sockets on loopback and prints what happened at each, next to what Linux does.
//!
//! ```text
//! cargo run --example 06_reuse_address
//! ```
//!
//! Look for step 2, where rebinding fails although the listener is closed, and step 3, where
//! the same rebind succeeds because both sockets set SO_REUSEADDR. While it runs (or right
//! after), `ss -tan state time-wait` shows the connections it left in TIME_WAIT.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use socket_workbook::cli;
use socket2::{Domain, SockRef, Socket, Type};

/// SO_REUSEADDR demonstration: TIME_WAIT, "address already in use", and the rebind.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Loopback address for the demonstration. With a fixed port, steps 2, 3 and 4 use PORT,
    /// PORT+1 and PORT+2. The default, port 0, takes free ports: a fixed port stays in
    /// TIME_WAIT for a minute after each run, and a second run would trip over the first.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

/// What happened at one step, and whether that is what Linux does.
struct Checks {
    unexpected: Vec<String>,
}

impl Checks {
    /// Prints `what: succeeded` or `what: failed: why`, and notes a difference from Linux.
    fn outcome(
        &mut self,
        what: &str,
        result: &std::io::Result<Socket>,
        linux_succeeds: bool,
    ) {
        let shown = match result {
            Ok(_) => "succeeded".to_string(),
            Err(err) => format!("failed: {}", describe(err)),
        };
        let expected = if result.is_ok() == linux_succeeds {
            "as on Linux"
        } else {
            self.unexpected.push(what.to_string());
            if linux_succeeds {
                "UNEXPECTED: Linux succeeds here"
            } else {
                "UNEXPECTED: Linux fails here"
            }
        };
        println!("   {what}: {shown} ({expected})");
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut checks = Checks {
        unexpected: Vec::new(),
    };

    // ANCHOR: step1
    println!("1. std's TcpListener::bind and SO_REUSEADDR");
    let std_listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let std_sets_it = SockRef::from(&std_listener).reuse_address()?;
    drop(std_listener);
    println!(
        "   std sets SO_REUSEADDR on this system: {}",
        yes_no(std_sets_it)
    );
    println!(
        "   (on Unix it does; on Windows it must not: there the option lets another\
            \x20program"
    );
    println!(
        "   bind the same port and steal connections, and SO_EXCLUSIVEADDRUSE is the\
            \x20guard)"
    );
    println!(
        "   so this demonstration builds its sockets with socket2, option by option"
    );
    // ANCHOR_END: step1

    // ANCHOR: step2
    let addr = step_addr(args.addr, 0);
    println!("2. without SO_REUSEADDR, the server closes first");
    let listener =
        listen(addr, false).with_context(|| format!("cannot listen on {addr}"))?;
    let port = local_addr(&listener)?.port();
    let addr = SocketAddr::new(addr.ip(), port);
    println!("   listening on {addr} (SO_REUSEADDR off)");
    let client = close_server_side_first(&listener, addr)?;
    drop(listener);
    println!(
        "   the server closed its connection first, then the listener: nothing\
            \x20listens on {addr}"
    );
    report_time_wait(addr, client);
    checks.outcome("rebind without SO_REUSEADDR", &listen(addr, false), false);
    // The connection in TIME_WAIT remembers the setting of the socket it came from
    // (off), and Linux refuses the bind unless *both* have SO_REUSEADDR.
    checks.outcome("rebind with SO_REUSEADDR", &listen(addr, true), false);
    // ANCHOR_END: step2

    // ANCHOR: step3
    let addr = step_addr(args.addr, 1);
    println!("3. with SO_REUSEADDR on the old and the new listener");
    let listener =
        listen(addr, true).with_context(|| format!("cannot listen on {addr}"))?;
    let port = local_addr(&listener)?.port();
    let addr = SocketAddr::new(addr.ip(), port);
    println!("   listening on {addr} (SO_REUSEADDR on)");
    let client = close_server_side_first(&listener, addr)?;
    drop(listener);
    println!("   the server closed its connection first, then the listener");
    report_time_wait(addr, client);
    checks.outcome("rebind with SO_REUSEADDR", &listen(addr, true), true);
    // ANCHOR_END: step3

    // ANCHOR: step4
    let addr = step_addr(args.addr, 2);
    println!("4. a second listener while the first one still listens");
    let first =
        listen(addr, true).with_context(|| format!("cannot listen on {addr}"))?;
    let addr = SocketAddr::new(addr.ip(), local_addr(&first)?.port());
    println!("   listening on {addr} (SO_REUSEADDR on)");
    checks.outcome(
        "second listener, SO_REUSEADDR on both",
        &listen(addr, true),
        false,
    );
    drop(first);
    reuse_port(addr, &mut checks)?;
    // ANCHOR_END: step4

    if !checks.unexpected.is_empty() {
        #[cfg(target_os = "linux")]
        bail!(
            "this kernel behaved differently from the Linux the workbook was tested on, at: {}",
            checks.unexpected.join("; ")
        );
        #[cfg(not(target_os = "linux"))]
        println!(
            "this system differs from Linux at: {}",
            checks.unexpected.join("; ")
        );
    }
    println!("done: every step behaved as on Linux");
    Ok(())
}

// ANCHOR: listen
/// socket(), SO_REUSEADDR on or off, bind(), listen(): the steps std's `bind` does in
/// one call.
fn listen(addr: SocketAddr, reuse_address: bool) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(reuse_address)?; // must come before bind() to matter
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket)
}
// ANCHOR_END: listen

// ANCHOR: close_first
/// A client connects; the *server* closes the connection first, then the client. The
/// side that closes first is the one that ends in TIME_WAIT: here, the server's, on
/// the server's port. Returns the client's address.
fn close_server_side_first(
    listener: &Socket,
    addr: SocketAddr,
) -> anyhow::Result<SocketAddr> {
    let mut client = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let client_addr = client.local_addr()?;
    let (accepted, _) = listener.accept().context("accept failed")?;
    drop(accepted); // the server's FIN goes first
    // Wait for it to arrive (read returns 0), then close the client's side too.
    let n = client
        .read(&mut [0u8; 1])
        .context("the client never saw the server's close")?;
    if n != 0 {
        bail!("the server sent data instead of closing");
    }
    drop(client);
    Ok(client_addr)
}
// ANCHOR_END: close_first

/// Step 4's contrast: SO_REUSEPORT (Linux, the BSDs) does allow several listeners on one
/// address and port.
fn reuse_port(addr: SocketAddr, checks: &mut Checks) -> anyhow::Result<()> {
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    {
        let listen_reuse_port = || -> std::io::Result<Socket> {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.set_reuse_port(true)?;
            socket.bind(&addr.into())?;
            socket.listen(128)?;
            Ok(socket)
        };
        let first =
            listen_reuse_port().with_context(|| format!("cannot listen on {addr}"))?;
        println!(
            "   SO_REUSEPORT is a different option: it lets listeners share a port (on"
        );
        println!(
            "   Linux: processes of the same user, and the kernel spreads new connections"
        );
        println!(
            "   among them; the BSDs allow the sharing but do not spread: FreeBSD has"
        );
        println!("   SO_REUSEPORT_LB for that)");
        checks.outcome(
            "second listener, SO_REUSEPORT on both",
            &listen_reuse_port(),
            true,
        );
        drop(first);
    }
    #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
    {
        let _ = (addr, checks);
        println!(
            "   (SO_REUSEPORT, which lets listeners share a port, does not exist here)"
        );
    }
    Ok(())
}

/// Where we can see it (Linux), shows the connection in TIME_WAIT.
fn report_time_wait(server: SocketAddr, client: SocketAddr) {
    match wait_for_time_wait(server.port()) {
        Some(true) => {
            println!(
                "   the server's side of the connection is in TIME_WAIT: {server} -> {client}"
            )
        }
        Some(false) => println!("   (no connection in TIME_WAIT found on {server})"),
        None => println!("   (TIME_WAIT is not visible from here: try `netstat -an`)"),
    }
}

/// Linux: looks for a TIME_WAIT entry with local port `port` in /proc/net/tcp and tcp6, for up
/// to a second (the client's FIN may still be on its way). `None` where there is no /proc.
fn wait_for_time_wait(port: u16) -> Option<bool> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let mut readable = false;
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            readable = true;
            // Columns: sl local_address rem_address st …; addresses are HEXIP:HEXPORT, and
            // state 06 is TIME_WAIT.
            let found = text.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let local_port = fields
                    .get(1)
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                local_port == Some(port) && fields.get(3) == Some(&"06")
            });
            if found {
                return Some(true);
            }
        }
        if !readable {
            return None;
        }
        if Instant::now() > deadline {
            return Some(false);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn step_addr(base: SocketAddr, offset: u16) -> SocketAddr {
    match base.port() {
        0 => base,
        port => SocketAddr::new(base.ip(), port.saturating_add(offset)),
    }
}

fn local_addr(socket: &Socket) -> anyhow::Result<SocketAddr> {
    socket
        .local_addr()?
        .as_socket()
        .context("the listener has no IP address")
}

fn describe(err: &std::io::Error) -> String {
    match err.kind() {
        ErrorKind::AddrInUse => "address already in use".to_string(),
        _ => cli::describe_io(err),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
