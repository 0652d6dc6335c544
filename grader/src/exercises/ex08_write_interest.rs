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
            holds: &[],
            run: small_replies,
        },
        Check {
            name: "a 16 MB reply (more than the buffers hold) to a client that starts reading 0.5 s late \
                   arrives whole",
            holds: &[],
            run: large_reply,
        },
        Check {
            name: "a client that has its reply and sits idle costs the server (almost) no CPU",
            holds: &[],
            run: idle_costs_nothing,
        },
        Check {
            name: "a client that never reads its 8 MB reply does not stop another client's `5`",
            holds: &[],
            run: one_slow_client,
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
