//! 09_rate_limit: a UDP echo server that answers each client address at most `--limit` times
//! per second, and forgets clients whose window has ended.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::ex09_rfc868::udp_socket;
use super::{Check, Exercise};
use crate::harness::{Ctx, Proc, WAIT};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "09_rate_limit",
    chapter: "09-udp-time-server.md",
    task: "answer each client address at most N times per second, in bounded memory",
    write: "`RateLimiter::allow`",
    checks: &[
        Check {
            name: "5 datagrams from one client (--limit 10): all 5 echoed",
            holds: &[],
            run: under_the_limit,
        },
        Check {
            name: "30 datagrams at once from one client (--limit 10): exactly 10 echoed",
            holds: &[],
            run: over_the_limit,
        },
        Check {
            name: "the same client, 1.35 s after its 30: echoed again (a new window)",
            holds: &[],
            run: new_window,
        },
        Check {
            name: "one client sends 30, then another sends 5: the other gets all 5 echoed",
            holds: &[],
            run: per_client,
        },
        Check {
            name: "200 clients send once; 2.2 s later a new client's log line says `tracking 1 \
                   clients` (or 2): the old windows are forgotten",
            holds: &[],
            run: forgets,
        },
    ],
};

/// Starts the server with `--limit 10`.
fn server(ctx: &Ctx) -> Result<(Proc, SocketAddr), Fail> {
    ctx.server(&["--limit", "10"])
}

/// Sends `count` numbered datagrams from `socket` to `addr`, then collects the echoes until
/// none has come for 250 ms. Returns how many came back.
fn burst(socket: &UdpSocket, addr: SocketAddr, count: usize) -> Result<usize, Fail> {
    for i in 0..count {
        socket
            .send_to(format!("ping {i}").as_bytes(), addr)
            .map_err(|e| {
                fail(
                    format!("datagrams can be sent to {addr}"),
                    e.to_string(),
                    "is the server still running?",
                )
            })?;
    }
    let _ = socket.set_read_timeout(Some(Duration::from_millis(250)));
    let mut buf = [0u8; 512];
    let mut echoed = 0;
    let until = Instant::now() + WAIT;
    while Instant::now() < until {
        match socket.recv_from(&mut buf) {
            Ok((_, from)) if from == addr => echoed += 1,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break, // 250 ms of quiet: that was all
        }
    }
    Ok(echoed)
}

fn expect_count(seen: usize, want: usize, what: &str, hint: &str) -> Result<(), Fail> {
    if seen == want {
        return Ok(());
    }
    Err(fail(
        format!("{want} echoes {what}"),
        format!("{seen} echoes"),
        hint,
    ))
}

fn under_the_limit(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = server(ctx)?;
    let client = udp_socket(WAIT)?;
    let echoed = burst(&client, addr, 5)?;
    expect_count(
        echoed,
        5,
        "for 5 datagrams",
        "a client's first `limit` datagrams in its window are allowed: return `true`",
    )
}

fn over_the_limit(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = server(ctx)?;
    let client = udp_socket(WAIT)?;
    let echoed = burst(&client, addr, 30)?;
    expect_count(
        echoed,
        10,
        "for 30 datagrams sent within a fraction of a second",
        "count the answers in the client's window; allowed while `answered < limit`",
    )
}

fn new_window(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = server(ctx)?;
    let client = udp_socket(WAIT)?;
    let first = burst(&client, addr, 30)?;
    // With the 250 ms of quiet that ended the burst, 1.35 s after the window began.
    thread::sleep(Duration::from_millis(1100));
    let again = burst(&client, addr, 5)?;
    if first == 10 && again == 5 {
        return Ok(());
    }
    Err(fail(
        "10 echoes for the first 30 datagrams, then 5 for 5 sent 1.35 s later",
        format!("{first}, then {again}"),
        "a datagram after the client's window has ended begins a new window, with a count of 0",
    ))
}

fn per_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = server(ctx)?;
    let (flooder, other) = (udp_socket(WAIT)?, udp_socket(WAIT)?);
    let flooded = burst(&flooder, addr, 30)?;
    let echoed = burst(&other, addr, 5)?;
    if flooded == 10 && echoed == 5 {
        return Ok(());
    }
    Err(fail(
        "10 echoes for the client that sent 30; 5 for the other client's 5",
        format!("{flooded}, and {echoed}"),
        "one window per client address (`self.clients`, keyed by `peer`), not one for everyone",
    ))
}

fn forgets(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = server(ctx)?;
    // 200 addresses: 200 sockets, each on its own port, each sending one datagram.
    let mut crowd = Vec::new();
    for _ in 0..200 {
        let socket = udp_socket(WAIT)?;
        let _ = socket.send_to(b"hello", addr);
        crowd.push(socket);
    }
    thread::sleep(Duration::from_millis(2200));
    let newcomer = udp_socket(WAIT)?;
    let me = newcomer
        .local_addr()
        .map_err(|e| fail("a local address", e.to_string(), "is loopback up?"))?;
    let echoed = burst(&newcomer, addr, 1)?;
    let line = server.wait_for_line(&format!(": {me} "), WAIT);
    let tracked = line.as_deref().and_then(|l| {
        let after = l.split("tracking ").nth(1)?;
        after.split(' ').next()?.parse::<usize>().ok()
    });
    if echoed == 1 && tracked.is_some_and(|n| n <= 2) {
        return Ok(());
    }
    Err(fail(
        format!(
            "the newcomer echoed, and its log line `answered: {me} (…; tracking 1 clients)`"
        ),
        format!("{echoed} echo, log line {line:?}"),
        "forget the clients whose window has ended: now and then (once per window), \
         `self.clients.retain(…)` those whose window is still running",
    ))
}
