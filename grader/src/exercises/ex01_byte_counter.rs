//! 01_byte_counter: a one-client server that counts the bytes until the client half-closes.

use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, pattern, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "01_byte_counter",
    chapter: "01-echo-server.md",
    task: "count the bytes a client sends until it closes (the read loop)",
    write: "`count_until_closed`",
    checks: &[
        Check {
            name: "5 bytes sent in one piece: the reply is `5 bytes`",
            holds: &[],
            run: one_piece,
        },
        Check {
            name: "10 bytes in three pieces with pauses between them: the reply is `10 bytes`",
            holds: &[],
            run: three_pieces,
        },
        Check {
            name: "1 000 000 bytes: the reply is `1000000 bytes`",
            holds: &[],
            run: a_megabyte,
        },
        Check {
            name: "a client that sends nothing and closes: the reply is `0 bytes`",
            holds: &[],
            run: nothing,
        },
        Check {
            name: "the server exits with code 0 after answering",
            holds: &[],
            run: exits_cleanly,
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
    let (reply, end) = read_to_end(&mut stream, WAIT);
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
            "{} and the connection still open after {WAIT:?}",
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
    let Some(done) = server.wait_exit(WAIT) else {
        return Err(fail(
            "exit code 0 within 5 s of answering",
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
