//! 08_write_interest: a poll server that writes at once and asks for "writable" only while a
//! reply is pending.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, Proc, connect, pattern, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "08_write_interest",
    chapter: "08-poll-server.md",
    task: "write at once; ask the poller for \"writable\" only while a reply is pending",
    write: "`flush_and_rearm`",
    checks: &[
        Check {
            name: "requests `5` and `3` in one line each: `abcde`, then `abc`",
            holds: &[1, 2],
            run: small_replies,
        },
        Check {
            name: "a 16 MB reply (more than the buffers hold) to a client that starts reading 0.5 s late \
                   arrives whole",
            holds: &[2, 4],
            run: large_reply,
        },
        Check {
            name: "a client that has its reply and sits idle costs the server (almost) no CPU",
            holds: &[4],
            run: idle_costs_nothing,
        },
        Check {
            name: "a client that never reads its 8 MB reply does not stop another client's `5`",
            holds: &[3],
            run: one_slow_client,
        },
        Check {
            name: "a client that asks for 8 MB, half-closes and reads nothing for 1.5 s costs the \
                   server (almost) no CPU; then its reply arrives whole",
            holds: &[5],
            run: half_closed_with_a_reply_pending,
        },
        Check {
            name: "a client whose 8 MB reply is pending sends more requests and reads nothing: \
                   the server (almost) no CPU",
            holds: &[5],
            run: sends_more_without_reading,
        },
        Check {
            name: "a client that resets with its 8 MB reply pending: the server reports the \
                   error and drops it, and serves the next client",
            holds: &[6],
            run: reset_with_a_reply_pending,
        },
    ],
};

/// Reads exactly `len` bytes, or says what came instead.
fn read_reply(
    stream: &mut TcpStream,
    len: usize,
) -> Result<Vec<u8>, (Vec<u8>, String)> {
    let mut got = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match stream.read(&mut got[filled..]) {
            Ok(0) => {
                got.truncate(filled);
                return Err((got, "the server closed the connection".into()));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                got.truncate(filled);
                let why = match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                        "then nothing more within the read timeout".to_string()
                    }
                    _ => format!("then an error: {e}"),
                };
                return Err((got, why));
            }
        }
    }
    Ok(got)
}

fn send(stream: &mut TcpStream, request: &[u8]) -> Result<(), Fail> {
    stream.write_all(request).map_err(|e| {
        fail(
            "the server reads requests",
            format!("sending failed: {e}"),
            "is the server still running? (see its errors above)",
        )
    })
}

fn expect_reply(stream: &mut TcpStream, len: usize, hint: &str) -> Result<(), Fail> {
    let expected = pattern(len);
    match read_reply(stream, len) {
        Ok(got) if got == expected => Ok(()),
        Ok(got) => Err(fail(show(&expected), show(&got), hint)),
        Err((got, why)) => Err(fail(
            format!("{len} bytes: {}", show(&expected)),
            format!("{} bytes, {why}", got.len()),
            hint,
        )),
    }
}

fn small_replies(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    send(&mut stream, b"5\n3\n")?;
    let hint = "write `pending` at once, and remove exactly the bytes `write` took";
    expect_reply(&mut stream, 5, hint)?;
    expect_reply(&mut stream, 3, hint)
}

fn large_reply(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    // A reader that gets nothing for 3 s has met a server that stopped sending.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    send(&mut stream, b"16000000\n")?;
    // Late, so that the send buffer fills and the server must wait for room.
    thread::sleep(Duration::from_millis(500));
    expect_reply(
        &mut stream,
        16_000_000,
        "when `write` says `WouldBlock`, ask for \"writable\": the poller then wakes you when \
         there is room, and the next call sends more",
    )
}

/// CPU time the server used over `wall`, or `None` where not measured.
fn cpu_over(server: &Proc, wall: Duration) -> Option<(Duration, Duration)> {
    let before = server.cpu_time()?;
    let started = Instant::now();
    thread::sleep(wall);
    let used = server.cpu_time()?.saturating_sub(before);
    Some((used, started.elapsed()))
}

fn idle_costs_nothing(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    send(&mut stream, b"10\n")?;
    expect_reply(&mut stream, 10, "answer a request with that many bytes")?;
    let Some((used, wall)) = cpu_over(&server, Duration::from_millis(1500)) else {
        ctx.note("CPU time is not measured on this platform: the CPU check passes unmeasured");
        return Ok(());
    };
    // A server asleep in `wait` uses nothing; one woken at once, again and again, a whole CPU.
    if used.as_secs_f64() <= 0.2 * wall.as_secs_f64() {
        return Ok(());
    }
    Err(fail(
        format!(
            "at most {:.2} s of CPU in {:.1} s with one idle client",
            0.2 * wall.as_secs_f64(),
            wall.as_secs_f64()
        ),
        format!("{:.2} s of CPU", used.as_secs_f64()),
        "ask for \"writable\" only while `pending` is not empty: a socket with room in its send \
         buffer is always writable, so `wait` returns at once, forever",
    ))
}

fn one_slow_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut slow = connect(addr)?;
    send(&mut slow, b"8000000\n")?;
    thread::sleep(Duration::from_millis(300));
    let mut other = connect(addr)?;
    let _ = other.set_read_timeout(Some(Duration::from_secs(2)));
    send(&mut other, b"5\n")?;
    let result = expect_reply(
        &mut other,
        5,
        "a full send buffer (`WouldBlock`) means: keep the rest, ask for \"writable\", and return \
         to the loop; retrying until it is all written stops every other client",
    );
    drop(slow);
    result
}

/// Fails when the server wanted the CPU for more than a fifth of `wall`.
fn expect_asleep(
    ctx: &Ctx,
    server: &Proc,
    wall: Duration,
    what: &str,
    hint: &str,
) -> Result<(), Fail> {
    let Some((used, wall)) = cpu_over(server, wall) else {
        ctx.note("CPU time is not measured on this platform: the CPU check passes unmeasured");
        return Ok(());
    };
    if used.as_secs_f64() <= 0.2 * wall.as_secs_f64() {
        return Ok(());
    }
    Err(fail(
        format!(
            "at most {:.2} s of CPU in {:.1} s {what}",
            0.2 * wall.as_secs_f64(),
            wall.as_secs_f64()
        ),
        format!("{:.2} s of CPU", used.as_secs_f64()),
        hint,
    ))
}

const HINT_READABLE: &str = "ask for \"readable\" only while `conn.wants_input()`: a socket \
                             whose peer has closed, or that holds requests we do not read now, \
                             is always readable, so `wait` returns at once, forever";

fn half_closed_with_a_reply_pending(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    send(&mut stream, b"8000000\n")?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    thread::sleep(Duration::from_millis(300));
    expect_asleep(
        ctx,
        &server,
        Duration::from_millis(1500),
        "while a half-closed client does not read its reply",
        HINT_READABLE,
    )?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    expect_reply(
        &mut stream,
        8_000_000,
        "a client that has closed its side still gets everything pending",
    )
}

fn sends_more_without_reading(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    send(&mut stream, b"8000000\n")?;
    thread::sleep(Duration::from_millis(300));
    // More requests the server must not read now (its replies are piling up): they wait in
    // the socket, which stays readable.
    send(&mut stream, b"1\n2\n3\n")?;
    thread::sleep(Duration::from_millis(100));
    let result = expect_asleep(
        ctx,
        &server,
        Duration::from_millis(1500),
        "while a client with a reply pending sends more and reads nothing",
        HINT_READABLE,
    );
    drop(stream);
    result
}

fn reset_with_a_reply_pending(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    send(&mut stream, b"8000000\n")?;
    // Read a little, so that the server is sure to be writing, then reset.
    let mut some = [0u8; 1000];
    let _ = stream.read(&mut some);
    thread::sleep(Duration::from_millis(200));
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
    if server
        .stderr
        .wait_for(Duration::from_secs(3), |l| l.starts_with("error: "))
        .is_none()
    {
        return Err(fail(
            "a line `error: PEER: …` on the server's stderr",
            format!(
                "stdout {:?}, stderr {:?}",
                server.stdout.snapshot(),
                server.stderr.snapshot()
            ),
            "a write error other than `WouldBlock` and `Interrupted` (the client reset: \
             \"connection reset\" or \"broken pipe\") is returned: the loop then drops the client",
        ));
    }
    let mut other = connect(addr)?;
    let _ = other.set_read_timeout(Some(Duration::from_secs(2)));
    send(&mut other, b"5\n")?;
    expect_reply(&mut other, 5, "one client's error never stops the server")
}
