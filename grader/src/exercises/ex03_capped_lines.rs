//! 03_capped_lines: a line reader with a cap, in a sequential line server.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, read_line, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "03_capped_lines",
    chapter: "03-sequential-server.md",
    task: "read a line with a cap on its length, without waiting for its end",
    write: "`read_line_capped`",
    checks: &[
        Check {
            name: "two lines in one write are answered `ok 5`, `ok 7`, in order",
            holds: &[1, 4],
            run: two_lines_in_one_write,
        },
        Check {
            name: "a line split over three writes is answered once, when its `\\n` arrives",
            holds: &[1],
            run: split_line,
        },
        Check {
            name: "a line of exactly --max-line (16) bytes is accepted",
            holds: &[1],
            run: exactly_max,
        },
        Check {
            name: "17 bytes without a `\\n`: the error line at once, then the connection closes",
            holds: &[2],
            run: too_long_at_once,
        },
        Check {
            name: "a last line without `\\n` at the end of the stream is answered",
            holds: &[3],
            run: last_line_without_newline,
        },
        Check {
            name: "a last line of exactly 16 bytes without `\\n` at the end of the stream is \
                   answered `ok 16`",
            holds: &[1, 3],
            run: last_line_of_exactly_max,
        },
        Check {
            name: "17 bytes and their `\\n` in one write: refused, not answered `ok 17`",
            holds: &[2],
            run: one_past_max_with_newline,
        },
        Check {
            name: "an empty line is answered `ok 0`; a client that closes at once has 0 lines",
            holds: &[1, 3],
            run: empty_lines,
        },
        Check {
            name: "a client that resets: the server reports the read error (`cannot read from`) \
                   and serves the next client",
            holds: &[5],
            run: reset,
        },
    ],
};

const MAX: &str = "16";

fn start(ctx: &Ctx) -> Result<(crate::harness::Proc, TcpStream), Fail> {
    let (server, addr) = ctx.server(&["--max-line", MAX])?;
    let stream = connect(addr)?;
    Ok((server, stream))
}

fn send(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), Fail> {
    stream.write_all(bytes).map_err(|e| {
        fail(
            "the server reads what the client sends",
            format!("sending failed: {e}"),
            "did the server close the connection? see its errors",
        )
    })
}

/// Expects the reply line `expected` (with its `\n`).
fn expect_line(
    stream: &mut TcpStream,
    expected: &str,
    hint: &str,
) -> Result<(), Fail> {
    let (got, end) = read_line(stream, WAIT);
    if got == expected.as_bytes() {
        return Ok(());
    }
    let seen = match end {
        End::Closed => format!("{} and then the connection closed", show(&got)),
        End::Reset => format!("{} and then a reset", show(&got)),
        End::Open => format!("{} within {WAIT:?}", show(&got)),
    };
    Err(fail(format!("{expected:?}"), seen, hint))
}

fn two_lines_in_one_write(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream) = start(ctx)?;
    send(&mut stream, b"hello\nsockets\n")?;
    let hint = "return after the first `\\n`; the second line stays in `reader` for the next call";
    expect_line(&mut stream, "ok 5\n", hint)?;
    expect_line(&mut stream, "ok 7\n", hint)
}

fn split_line(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream) = start(ctx)?;
    for piece in [&b"hel"[..], b"lo wor", b"ld\n"] {
        send(&mut stream, piece)?;
        thread::sleep(Duration::from_millis(150));
    }
    expect_line(
        &mut stream,
        "ok 11\n",
        "a piece without `\\n` is not a line yet: `read_until` keeps reading until the `\\n`",
    )?;
    send(&mut stream, b"x\n")?;
    expect_line(
        &mut stream,
        "ok 1\n",
        "answer once per line, not once per piece",
    )
}

fn exactly_max(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream) = start(ctx)?;
    send(&mut stream, b"0123456789abcdef\n")?;
    expect_line(
        &mut stream,
        "ok 16\n",
        "a line of `max` bytes takes `max + 1` bytes with its `\\n`: count them",
    )
}

fn too_long_at_once(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream) = start(ctx)?;
    let started = Instant::now();
    // 17 bytes, and then nothing: a line that never ends.
    send(&mut stream, b"0123456789abcdefg")?;
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(3));
    let expected = "error: line longer than 16 bytes\n";
    if got == expected.as_bytes() && end == End::Closed {
        return Ok(());
    }
    Err(fail(
        format!("{expected:?} and the connection closed, within 3 s"),
        format!(
            "{} after {:.1} s, the connection {}",
            show(&got),
            started.elapsed().as_secs_f64(),
            match end {
                End::Open => "still open",
                End::Closed => "closed",
                End::Reset => "reset",
            }
        ),
        "read at most `max + 1` bytes for a line: `take` stops there, without waiting for a `\\n` \
         that may never come",
    ))
}

fn last_line_without_newline(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream) = start(ctx)?;
    send(&mut stream, b"tail")?;
    let _ = stream.shutdown(Shutdown::Write);
    let (got, end) = read_to_end(&mut stream, WAIT);
    if got == b"ok 4\n" && end == End::Closed {
        return Ok(());
    }
    Err(fail(
        "\"ok 4\\n\", then the connection closed",
        format!("{} ({end:?})", show(&got)),
        "at the end of the stream, bytes without a `\\n` are a last line (Complete); only \
         nothing at all is End",
    ))
}

fn last_line_of_exactly_max(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream) = start(ctx)?;
    send(&mut stream, b"0123456789abcdef")?;
    let _ = stream.shutdown(Shutdown::Write);
    let (got, end) = read_to_end(&mut stream, WAIT);
    if got == b"ok 16\n" && end == End::Closed {
        return Ok(());
    }
    let hint = if got.starts_with(b"error") {
        "16 bytes is not longer than `max` (16): too long is `len > max`, not `>=`"
    } else {
        "at the end of the stream, bytes without a `\\n` are a last line (Complete)"
    };
    Err(fail(
        "\"ok 16\\n\", then the connection closed",
        format!("{} ({end:?})", show(&got)),
        hint,
    ))
}

fn one_past_max_with_newline(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream) = start(ctx)?;
    send(&mut stream, b"0123456789abcdefg\n")?;
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(3));
    let expected = "error: line longer than 16 bytes\n";
    if got == expected.as_bytes() && end == End::Closed {
        return Ok(());
    }
    Err(fail(
        format!("{expected:?} and the connection closed"),
        format!("{} ({end:?})", show(&got)),
        "a line of 17 bytes is too long even when its `\\n` follows: read at most `max + 1` \
         bytes, and a line that has `max + 1` bytes before its `\\n` is refused",
    ))
}

fn empty_lines(ctx: &Ctx) -> Result<(), Fail> {
    let (server, mut stream) = start(ctx)?;
    let addr = stream
        .peer_addr()
        .map_err(|e| fail("the server's address", e.to_string(), ""))?;
    send(&mut stream, b"\n\n")?;
    let _ = stream.shutdown(Shutdown::Write);
    let (got, end) = read_to_end(&mut stream, WAIT);
    if got != b"ok 0\nok 0\n" || end != End::Closed {
        return Err(fail(
            "\"ok 0\\nok 0\\n\" for two empty lines, then the connection closed",
            format!("{} ({end:?})", show(&got)),
            "an empty line (just `\\n`) is a line: Complete, with `line` empty; only the end \
             of the stream, with no byte, is End",
        ));
    }

    drop(stream);
    // A client that connects and closes without a byte: `End` at once, 0 lines.
    let quiet = connect(addr)?;
    drop(quiet);
    let line = server.wait_for_line("(0 lines)", WAIT);
    if line.is_some() {
        return Ok(());
    }
    Err(fail(
        "the server's line `disconnected: … (0 lines)` for a client that sent nothing",
        format!("stdout {:?}", server.stdout.snapshot()),
        "no byte at all before the end of the stream is `Line::End`, at once",
    ))
}

fn reset(ctx: &Ctx) -> Result<(), Fail> {
    let (server, stream) = start(ctx)?;
    let addr = stream
        .peer_addr()
        .map_err(|e| fail("the address", e.to_string(), ""))?;
    let mut writer: &TcpStream = &stream;
    let _ = writer.write_all(b"half a line");
    thread::sleep(Duration::from_millis(200));
    // A linger time of zero makes the close a reset: the server's read fails.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
    let reported = server
        .stderr
        .wait_for(WAIT, |l| l.contains("cannot read from"));
    if reported.is_none() {
        return Err(fail(
            "a line `error: cannot read from …` on the server's stderr",
            format!(
                "stdout {:?}, stderr {:?}",
                server.stdout.snapshot(),
                server.stderr.snapshot()
            ),
            "a reset is an error, not the end of the stream: return it with `?`",
        ));
    }
    let mut next = connect(addr)?;
    send(&mut next, b"next\n")?;
    expect_line(
        &mut next,
        "ok 4\n",
        "one client's error never stops the server",
    )
}
