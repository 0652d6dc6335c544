//! 06_client_closes_first: a server that waits for the client's FIN, so that TIME_WAIT stays on
//! the client's side.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, Proc, connect, read_line, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "06_client_closes_first",
    chapter: "06-reuse-address.md",
    task: "wait for the client to close first, so TIME_WAIT stays on its side",
    write: "`close_after_client`",
    checks: &[
        Check {
            name: "after the greeting, the server keeps the connection open until the client \
                   closes, then closes too",
            holds: &[1, 2],
            run: waits_for_the_client,
        },
        Check {
            name: "the TIME_WAIT is on the client's port, none on the server's (Linux)",
            holds: &[1, 2],
            run: time_wait_on_the_client,
        },
        Check {
            name: "bytes the client sends after the greeting are not its close",
            holds: &[3],
            run: more_bytes_are_not_a_close,
        },
        Check {
            name: "a client that never closes is closed by the server after --close-wait (1 s)",
            holds: &[4],
            run: silent_client_closed_after_the_wait,
        },
        Check {
            name: "a client that sends a byte every 0.3 s and never closes is closed after \
                   --close-wait (1 s) too",
            holds: &[4],
            run: trickling_client_closed_after_the_wait,
        },
        Check {
            name: "a client that resets: the server reports the error, not a close",
            holds: &[5],
            run: reset,
        },
        Check {
            name: "waiting for a silent client to close costs (almost) no CPU",
            holds: &[6],
            run: no_cpu_while_waiting,
        },
    ],
};

fn start(ctx: &Ctx) -> Result<(Proc, SocketAddr), Fail> {
    ctx.server(&["--close-wait", "1"])
}

/// Connects and reads the greeting line.
fn greeted(addr: SocketAddr) -> Result<TcpStream, Fail> {
    let mut stream = connect(addr)?;
    let (line, _) = read_line(&mut stream, Duration::from_secs(3));
    if line.starts_with(b"hello, ") && line.ends_with(b"\n") {
        return Ok(stream);
    }
    Err(fail(
        "the greeting `hello, ADDR`",
        show(&line),
        "the greeting is sent by the given code: keep it",
    ))
}

/// The server must not close before we do: nothing (no FIN) within `quiet`.
fn expect_still_open(
    stream: &mut TcpStream,
    quiet: Duration,
    hint: &str,
) -> Result<(), Fail> {
    let (got, end) = read_to_end(stream, quiet);
    if end == End::Open && got.is_empty() {
        return Ok(());
    }
    Err(fail(
        format!(
            "the connection still open {:.1} s after the greeting (the client closes first)",
            quiet.as_secs_f64()
        ),
        match end {
            End::Closed => {
                format!("{} then the server's FIN: it closed first", show(&got))
            }
            End::Reset => "a reset from the server".to_string(),
            End::Open => format!("unexpected bytes {}", show(&got)),
        },
        hint,
    ))
}

/// After our FIN, the server closes too, soon.
fn expect_server_closes(stream: &mut TcpStream) -> Result<(), Fail> {
    let _ = stream.shutdown(Shutdown::Write);
    let (got, end) = read_to_end(stream, Duration::from_secs(2));
    if end == End::Closed && got.is_empty() {
        return Ok(());
    }
    Err(fail(
        "the server closes within 2 s of the client's close",
        format!("{} and the connection {end:?}", show(&got)),
        "`read` returning 0 is the client's close: return `ClientFirst` then",
    ))
}

fn waits_for_the_client(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx)?;
    let mut stream = greeted(addr)?;
    expect_still_open(
        &mut stream,
        Duration::from_millis(500),
        "no `shutdown`, no drop before the client's close: wait in `read` until it returns 0",
    )?;
    expect_server_closes(&mut stream)?;
    if server
        .wait_for_line("the client closed first", Duration::from_secs(2))
        .is_some()
    {
        return Ok(());
    }
    Err(fail(
        "the server's line `closed: PEER (the client closed first)`",
        format!("{:?}", server.stdout.snapshot()),
        "return `Closed::ClientFirst` when `read` returns 0",
    ))
}

/// Is the connection from local port `local` to remote port `remote` in TIME_WAIT on this side?
/// (Linux: /proc/net/tcp, where state 06 is TIME_WAIT; `None` elsewhere.) Both ports name the
/// one connection: other connections that happen to use one of the ports do not count.
fn time_wait(local: u16, remote: u16) -> Option<bool> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let port = |field: Option<&&str>| {
        field
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    Some(table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        port(fields.get(1)) == Some(local)
            && port(fields.get(2)) == Some(remote)
            && fields.get(3) == Some(&"06")
    }))
}

fn time_wait_on_the_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let mut stream = greeted(addr)?;
    let client_port = stream.local_addr().map(|a| a.port()).unwrap_or(0);
    // Give the server the time it has to close first, if it does.
    let _ = read_to_end(&mut stream, Duration::from_millis(300));
    let _ = stream.shutdown(Shutdown::Write);
    let _ = read_to_end(&mut stream, Duration::from_secs(2));
    drop(stream);
    let (server_port, client_port) = (addr.port(), client_port);
    let Some(mut on_server) = time_wait(server_port, client_port) else {
        ctx.note("TIME_WAIT is not inspected on this platform: that check passes unmeasured");
        return Ok(());
    };
    // The kernel updates the table as the last ACK is handled: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut on_client = time_wait(client_port, server_port).unwrap_or(false);
    while !on_client && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        on_client = time_wait(client_port, server_port).unwrap_or(false);
    }
    on_server |= time_wait(server_port, client_port).unwrap_or(false);
    if on_client && !on_server {
        return Ok(());
    }
    Err(fail(
        format!(
            "the connection in TIME_WAIT on the client's side (port {client_port}) only"
        ),
        format!(
            "in TIME_WAIT on the client's side: {}; on the server's side (port {server_port}): {}",
            yes_no(on_client),
            yes_no(on_server)
        ),
        "the side that sends the first FIN keeps the TIME_WAIT: let the client's FIN come first",
    ))
}

fn more_bytes_are_not_a_close(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let mut stream = greeted(addr)?;
    let _ = stream.write_all(b"thanks!\n");
    expect_still_open(
        &mut stream,
        Duration::from_millis(500),
        "`Ok(n)` with n > 0 is data, not a close: ignore it and keep reading until `Ok(0)`",
    )?;
    expect_server_closes(&mut stream)
}

fn silent_client_closed_after_the_wait(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let mut stream = greeted(addr)?;
    let started = Instant::now();
    let (_, end) = read_to_end(&mut stream, Duration::from_secs(3));
    let after = started.elapsed();
    if end == End::Closed
        && (Duration::from_millis(700)..Duration::from_millis(2900)).contains(&after)
    {
        return Ok(());
    }
    Err(fail(
        "the server closes about 1 s after the greeting (--close-wait 1)",
        format!("the connection {end:?} after {:.1} s", after.as_secs_f64()),
        "set a read timeout of the time left before each read: a client may never close",
    ))
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn trickling_client_closed_after_the_wait(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let stream = greeted(addr)?;
    let started = Instant::now();
    let mut writer = stream
        .try_clone()
        .map_err(|e| fail("a socket", e.to_string(), ""))?;
    let trickler = std::thread::spawn(move || {
        for _ in 0..12 {
            if writer.write_all(b".").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let mut reader = stream;
    let (_, end) = read_to_end(&mut reader, Duration::from_secs(3));
    let after = started.elapsed();
    drop(reader);
    let _ = trickler.join();
    if end != End::Open
        && (Duration::from_millis(700)..Duration::from_millis(2900)).contains(&after)
    {
        return Ok(());
    }
    Err(fail(
        "the server closes about 1 s after the greeting (--close-wait 1), though the client \
         keeps sending",
        format!("the connection {end:?} after {:.1} s", after.as_secs_f64()),
        if end == End::Open {
            "a read timeout restarts with every read: the wait is a total deadline; before each \
             read, set the timeout to the time *left*"
        } else {
            "close when the whole wait has passed, not before"
        },
    ))
}

fn reset(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx)?;
    let stream = greeted(addr)?;
    std::thread::sleep(Duration::from_millis(100));
    // A linger time of zero makes the close a reset (RST), not a FIN.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
    if server
        .stderr
        .wait_for(Duration::from_secs(3), |l| l.starts_with("error: "))
        .is_some()
    {
        return Ok(());
    }
    Err(fail(
        "a line `error: PEER: …` on the server's stderr",
        format!(
            "stdout {:?}, stderr {:?}",
            server.stdout.snapshot(),
            server.stderr.snapshot()
        ),
        "a reset is not a close: only `Ok(0)` is; return other errors",
    ))
}

fn no_cpu_while_waiting(ctx: &Ctx) -> Result<(), Fail> {
    // `--close-wait 3`: the wait is judged long before it ends.
    let (server, addr) = ctx.server(&["--close-wait", "3"])?;
    let _stream = greeted(addr)?;
    super::idle::expect_asleep(
        ctx,
        &server,
        Duration::ZERO,
        Duration::from_millis(1000),
        "while it waits for a silent client to close",
        "block in `read` with a timeout; a loop around a non-blocking read spins",
    )
}
