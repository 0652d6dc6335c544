//! 04_thread_limit: a threaded echo server serving at most N clients, telling the next "busy".

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, Proc, connect, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "04_thread_limit",
    chapter: "04-threaded-server.md",
    task: "serve at most N clients at once; tell the next one \"busy\"",
    write: "`admit_or_refuse`",
    checks: &[
        Check {
            name: "with --max-clients 2, two clients are served at once",
            holds: &[1],
            run: two_served,
        },
        Check {
            name: "a third client gets `server busy, try again later` and is closed; the two \
                   are still served",
            holds: &[1],
            run: third_refused,
        },
        Check {
            name: "when a served client leaves, its place is free for the next one",
            holds: &[2],
            run: place_comes_back,
        },
        Check {
            name: "after ten clients have come and gone, two at once are still served",
            holds: &[2],
            run: many_come_and_go,
        },
        Check {
            name: "after three clients were refused, a place that comes back is given to the \
                   next client",
            holds: &[3],
            run: refusals_take_no_place,
        },
        Check {
            name: "ten clients refused at once start no thread (Linux: the server's threads are \
                   counted)",
            holds: &[3],
            run: refusals_start_no_thread,
        },
    ],
};

const BUSY: &[u8] = b"server busy, try again later\n";

/// Does the server echo on `stream`? `Ok(None)` yes; `Ok(Some(bytes))`: it answered `bytes`
/// instead (the busy line, say) and closed.
fn echo(stream: &mut TcpStream, message: &[u8]) -> Result<Option<Vec<u8>>, Fail> {
    stream
        .write_all(message)
        .map_err(|e| fail("the server reads", format!("sending failed: {e}"), ""))?;
    // A served client's echo comes within milliseconds: 2 s is room for a busy machine.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut back = vec![0u8; message.len()];
    let mut got = 0;
    while got < back.len() {
        match stream.read(&mut back[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => break,
        }
    }
    back.truncate(got);
    if back == message {
        return Ok(None);
    }
    let (rest, _) = read_to_end(stream, Duration::from_millis(500));
    back.extend_from_slice(&rest);
    Ok(Some(back))
}

fn expect_served(stream: &mut TcpStream, who: &str, hint: &str) -> Result<(), Fail> {
    match echo(stream, b"ping")? {
        None => Ok(()),
        Some(got) => Err(fail(
            format!("{who} is served: its \"ping\" comes back"),
            show(&got),
            hint,
        )),
    }
}

fn start(ctx: &Ctx) -> Result<(Proc, SocketAddr), Fail> {
    ctx.server(&["--max-clients", "2"])
}

fn two_served(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let mut a = connect(addr)?;
    let mut b = connect(addr)?;
    let hint =
        "while fewer than `max` are served, start a thread that runs `serve_client`";
    expect_served(&mut a, "the first client", hint)?;
    expect_served(&mut b, "the second client", hint)
}

fn third_refused(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let mut a = connect(addr)?;
    let mut b = connect(addr)?;
    expect_served(&mut a, "the first client", "")?;
    expect_served(&mut b, "the second client", "")?;
    let mut c = connect(addr)?;
    let (got, end) = read_to_end(&mut c, Duration::from_secs(2));
    if got != BUSY || end != End::Closed {
        return Err(fail(
            format!("{:?}, then the close", String::from_utf8_lossy(BUSY)),
            format!("{} and the connection {end:?}", show(&got)),
            "compare the count *before* your +1 with `max`: with 2 served, the third is refused",
        ));
    }
    expect_served(&mut a, "the first client, after the refusal", "")?;
    expect_served(&mut b, "the second client, after the refusal", "")
}

/// Connects until a client is served (the server may still be ending the last one): up to 2 s.
fn served_within(addr: SocketAddr, what: &str, hint: &str) -> Result<TcpStream, Fail> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut stream = connect(addr)?;
        match echo(&mut stream, b"ping")? {
            None => return Ok(stream),
            Some(got) if Instant::now() >= deadline => {
                return Err(fail(
                    format!("{what} is served"),
                    format!("{} (for 2 s)", show(&got)),
                    hint,
                ));
            }
            Some(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn place_comes_back(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx)?;
    let mut a = connect(addr)?;
    let mut b = connect(addr)?;
    expect_served(&mut a, "the first client", "")?;
    expect_served(&mut b, "the second client", "")?;
    drop(a);
    let _ = server.wait_for_line("disconnected:", Duration::from_secs(3));
    let _c = served_within(
        addr,
        "a new client, once the first has left",
        "give the place back when the client's thread ends: decrement the counter there",
    )?;
    Ok(())
}

fn many_come_and_go(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx)?;
    let hint = "every client that leaves must give its place back, every time";
    for i in 0..10 {
        let stream = served_within(addr, &format!("client {} of 10", i + 1), hint)?;
        drop(stream);
    }
    // Let the server see the last ones leave.
    let deadline = Instant::now() + Duration::from_secs(3);
    while server
        .stdout
        .snapshot()
        .iter()
        .filter(|l| l.starts_with("disconnected:"))
        .count()
        < 10
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(50));
    }
    let _a = served_within(addr, "the first of two at once", hint)?;
    let _b = served_within(addr, "the second of two at once", hint)?;
    Ok(())
}

fn refusals_take_no_place(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx)?;
    let mut a = connect(addr)?;
    let mut b = connect(addr)?;
    expect_served(&mut a, "the first client", "")?;
    expect_served(&mut b, "the second client", "")?;
    for _ in 0..3 {
        let mut c = connect(addr)?;
        let (got, _) = read_to_end(&mut c, Duration::from_secs(2));
        if got != BUSY {
            return Err(fail(
                format!("{:?} for a third client", String::from_utf8_lossy(BUSY)),
                show(&got),
                "with `max` served, refuse the next one",
            ));
        }
    }
    drop(a);
    let _ = server.wait_for_line("disconnected:", Duration::from_secs(3));
    let _c = served_within(
        addr,
        "a new client, once a served one has left (after three refusals)",
        "a refused client must not keep a place: when there is no room, take your +1 back \
         (`fetch_sub`) before refusing",
    )?;
    Ok(())
}

/// How many threads the process has now (Linux), `None` elsewhere.
fn threads(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count())
}

fn refusals_start_no_thread(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx)?;
    let mut a = connect(addr)?;
    let mut b = connect(addr)?;
    expect_served(&mut a, "the first client", "")?;
    expect_served(&mut b, "the second client", "")?;
    let Some(before) = threads(server.pid()) else {
        ctx.note("threads not counted on this platform");
        return Ok(());
    };
    // Ten clients at once, none of which closes: each refusal waits up to 0.2 s for its client
    // to close. Refused on the accepting thread, one after the other, they add no thread; a
    // thread for each would add up to ten at once.
    let flood: Vec<TcpStream> =
        (0..10).map(|_| connect(addr)).collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut most = before;
    while started.elapsed() < Duration::from_millis(600) {
        most = most.max(threads(server.pid()).unwrap_or(before));
        thread::sleep(Duration::from_millis(5));
    }
    drop(flood);
    if most <= before + 1 {
        return Ok(());
    }
    Err(fail(
        format!(
            "at most {} threads while ten clients are refused",
            before + 1
        ),
        format!("{most} threads ({before} before the ten came)"),
        "refuse on the accepting thread itself: a thread for each refused client lets a \
         flood of clients start as many threads as it likes",
    ))
}
