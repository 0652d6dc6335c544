//! 01_byte_counter: a one-client server that counts the bytes until the client half-closes.

use std::io::Write;
use std::net::Shutdown;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, pattern, read_to_end, show};

/// How long a check waits for the reply after the client's close: the server answers within
/// milliseconds; 3 s is room for a busy machine.
const REPLY: Duration = Duration::from_secs(3);
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "01_byte_counter",
    chapter: "01-echo-server.md",
    task: "count the bytes a client sends until it closes (the read loop)",
    write: "`count_until_closed`",
    checks: &[
        Check {
            name: "5 bytes sent in one piece: the reply is `5 bytes`",
            holds: &[1, 2],
            run: one_piece,
        },
        Check {
            name: "10 bytes in three pieces with pauses between them: the reply is `10 bytes`",
            holds: &[1],
            run: three_pieces,
        },
        Check {
            name: "1 000 000 bytes: the reply is `1000000 bytes`",
            holds: &[1],
            run: a_megabyte,
        },
        Check {
            name: "a client that sends nothing and closes: the reply is `0 bytes`",
            holds: &[2],
            run: nothing,
        },
        Check {
            name: "the server exits with code 0 after answering",
            holds: &[2],
            run: exits_cleanly,
        },
        Check {
            name: "a client that resets the connection: `error: cannot read from …`, exit code \
                   1, no count sent",
            holds: &[3],
            run: reset,
        },
        Check {
            name: "50 MB sent: the server's memory stays under 16 MB, and the count is right",
            holds: &[4, 1],
            run: fifty_megabytes,
        },
    ],
};

/// Sends `pieces` with a pause before each but the first, half-closes, and returns the reply.
fn send_pieces(
    ctx: &Ctx,
    pieces: &[&[u8]],
) -> Result<(Vec<u8>, End, crate::harness::Proc), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            // Long enough for the server to read the pieces one by one, on any machine.
            thread::sleep(Duration::from_millis(200));
        }
        stream.write_all(piece).map_err(|e| {
            fail(
                "the server reads everything the client sends",
                format!("sending failed: {e}"),
                "did the server close the connection early? read until `read` returns 0",
            )
        })?;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let (reply, end) = read_to_end(&mut stream, REPLY);
    Ok((reply, end, server))
}

fn expect_reply(ctx: &Ctx, pieces: &[&[u8]], hint: &str) -> Result<(), Fail> {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let (reply, end, _server) = send_pieces(ctx, pieces)?;
    let expected = format!("{total} bytes\n");
    if reply == expected.as_bytes() && end == End::Closed {
        return Ok(());
    }
    let seen = match end {
        End::Open => format!(
            "{} and the connection still open after {REPLY:?}",
            show(&reply)
        ),
        _ => show(&reply),
    };
    Err(fail(
        format!("{expected:?}, then the end of the stream"),
        seen,
        hint,
    ))
}

fn one_piece(ctx: &Ctx) -> Result<(), Fail> {
    expect_reply(
        ctx,
        &[b"hello"],
        "count `n`, what `read` returned, not the size of your buffer",
    )
}

fn three_pieces(ctx: &Ctx) -> Result<(), Fail> {
    expect_reply(
        ctx,
        &[b"abc", b"defgh", b"ij"],
        "a read that returns less than the buffer is not the end: only `Ok(0)` is",
    )
}

fn a_megabyte(ctx: &Ctx) -> Result<(), Fail> {
    let data = pattern(1_000_000);
    let pieces: Vec<&[u8]> = data.chunks(250_000).collect();
    expect_reply(
        ctx,
        &pieces,
        "keep reading until `Ok(0)`; add the `n` of every read",
    )
}

fn nothing(ctx: &Ctx) -> Result<(), Fail> {
    expect_reply(
        ctx,
        &[],
        "the very first read may return `Ok(0)`: the answer is then 0",
    )
}

fn exits_cleanly(ctx: &Ctx) -> Result<(), Fail> {
    let (reply, _end, server) = send_pieces(ctx, &[b"bye"])?;
    let Some(done) = server.wait_exit(REPLY) else {
        return Err(fail(
            "exit code 0 within 3 s of answering",
            format!("still running; the reply was {}", show(&reply)),
            "return from `count_until_closed` when `read` returns `Ok(0)`",
        ));
    };
    if done.status.code() == Some(0) {
        return Ok(());
    }
    Err(fail(
        "exit code 0",
        format!("{:?}, stderr: {:?}", done.status.code(), done.stderr),
        "return `Ok(total)` at the end of the stream, not an error",
    ))
}

fn reset(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let stream = connect(addr)?;
    let mut writer: &TcpStream = &stream;
    let _ = writer.write_all(b"some bytes, then a reset");
    thread::sleep(Duration::from_millis(200));
    // A linger time of zero makes the close a reset (RST), not a FIN: the server's next read
    // fails with "connection reset", which is no end of the stream.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
    let Some(done) = server.wait_exit(WAIT) else {
        return Err(fail(
            "exit code 1 within 5 s of the reset",
            "still running",
            "a read error other than `Interrupted` ends the loop: return it with `?`",
        ));
    };
    let read_error = done.stderr.len() == 1
        && done.stderr[0].starts_with("error: cannot read from");
    let counted = done.stdout.iter().any(|l| l.starts_with("counted"));
    if done.status.code() == Some(1) && read_error && !counted {
        return Ok(());
    }
    let hint = if counted || done.stderr.iter().any(|l| l.contains("cannot write")) {
        "the reset was taken for the end of the stream: only `Ok(0)` is the end; return \
         any other error (but `Interrupted`) with `?`"
    } else {
        "return the read's error with `?`: the caller prints `error: cannot read from …`"
    };
    Err(fail(
        "exit code 1, one line `error: cannot read from …` on stderr, no `counted:` line",
        format!(
            "exit code {:?}, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        hint,
    ))
}

/// The most memory the process has held so far (Linux: `VmHWM` of `/proc/PID/status`), in
/// bytes; `None` elsewhere.
fn peak_memory(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn fifty_megabytes(ctx: &Ctx) -> Result<(), Fail> {
    const SENT: usize = 50 * 1024 * 1024;
    const LIMIT: u64 = 16 * 1024 * 1024;
    let (server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    let chunk = pattern(1024 * 1024);
    for _ in 0..SENT / chunk.len() {
        stream.write_all(&chunk).map_err(|e| {
            fail(
                "the server reads 50 MB",
                format!("sending failed: {e}"),
                "read until `read` returns `Ok(0)`",
            )
        })?;
    }
    // Everything sent is in the server's hands (or in its receive buffer, a few MB at most).
    thread::sleep(Duration::from_millis(300));
    let peak = peak_memory(server.pid());
    let _ = stream.shutdown(Shutdown::Write);
    let (reply, _end) = read_to_end(&mut stream, REPLY);
    let expected = format!("{SENT} bytes\n");
    if let Some(peak) = peak.filter(|&p| p > LIMIT) {
        return Err(fail(
            format!("the server's memory under {} MB", LIMIT >> 20),
            format!("its memory peaked at {} MB while 50 MB arrived", peak >> 20),
            "count, do not keep: add `n` and reuse one buffer for every read, instead of \
             collecting the bytes (`read_to_end`, `extend_from_slice`)",
        ));
    }
    if peak.is_none() {
        ctx.note("memory not measured on this platform");
    }
    if reply == expected.as_bytes() {
        return Ok(());
    }
    Err(fail(
        format!("{expected:?}"),
        show(&reply),
        "add the `n` of every read, until `Ok(0)`",
    ))
}
