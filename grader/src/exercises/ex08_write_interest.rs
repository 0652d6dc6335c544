//! 08_write_interest: a poll server that writes at once and asks for "writable" only while a
//! reply is pending.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

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
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    // A reader that gets nothing for 3 s has met a server that stopped sending.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    send(&mut stream, b"16000000\n")?;
    // Late, so that the send buffer fills and the server must wait for room.
    thread::sleep(Duration::from_millis(500));
    let result = expect_reply(
        &mut stream,
        16_000_000,
        "when `write` says `WouldBlock`, ask for \"writable\": the poller then wakes you when \
         there is room, and the next call sends more",
    );
    stop(server);
    result
}

fn idle_costs_nothing(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    send(&mut stream, b"10\n")?;
    expect_reply(&mut stream, 10, "answer a request with that many bytes")?;
    // A server asleep in `wait` is neither on a CPU nor waiting for one; one woken at once,
    // again and again, is runnable all the time.
    super::idle::expect_asleep(
        ctx,
        &server,
        Duration::from_millis(500),
        Duration::from_millis(1200),
        "with one idle client that has its reply",
        "ask for \"writable\" only while `pending` is not empty: a socket with room in its send \
         buffer is always writable, so `wait` returns at once, forever",
    )
}

/// Ends a server that did real work in a check (building and sending megabytes): by Ctrl-C,
/// so that the harness does not take the runnable time of that work, on a loaded machine,
/// for a busy loop. Whether it spins while it has nothing to do is judged by the checks of
/// bullets 4 and 5 (`idle::expect_asleep`, which lets the work end first).
fn stop(server: Proc) {
    if server.ctrl_c() {
        let _ = server.wait_exit(Duration::from_secs(2));
    }
}

fn one_slow_client(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
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
    stop(server);
    result
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
    super::idle::expect_asleep(
        ctx,
        &server,
        Duration::from_secs(2),
        Duration::from_millis(1200),
        "while a half-closed client does not read its reply",
        HINT_READABLE,
    )?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let result = expect_reply(
        &mut stream,
        8_000_000,
        "a client that has closed its side still gets everything pending",
    );
    stop(server);
    result
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
    let result = super::idle::expect_asleep(
        ctx,
        &server,
        Duration::from_secs(2),
        Duration::from_millis(1200),
        "while a client with a reply pending sends more and reads nothing",
        HINT_READABLE,
    );
    drop(stream);
    stop(server);
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
    let result =
        expect_reply(&mut other, 5, "one client's error never stops the server");
    stop(server);
    result
}
