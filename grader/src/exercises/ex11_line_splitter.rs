//! 11_line_splitter: a server that finds `\n`-terminated messages in reads cut anywhere.

use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "11_line_splitter",
    chapter: "11-sticky-packets.md",
    task: "take `\\n`-terminated messages out of reads that cut and merge them",
    write: "`take_messages`",
    checks: &[
        Check {
            name: "one message in one write is answered `got: hello`",
            holds: &[],
            run: one_message,
        },
        Check {
            name: "three messages in one write (merged): three answers, in order",
            holds: &[],
            run: merged,
        },
        Check {
            name: "one message in three writes 100 ms apart (split): one answer, whole",
            holds: &[],
            run: split,
        },
        Check {
            name: "200 messages of 0 to 40 bytes, empty ones included, cut by reads at every \
                   offset: 200 answers, in order",
            holds: &[],
            run: many,
        },
        Check {
            name: "a client that closes in the middle of a message: the whole ones answered, \
                   then the error line, no half message",
            holds: &[],
            run: ends_inside,
        },
    ],
};

/// Sends `pieces` (pausing `pause` between them), half-closes, and compares what comes back
/// until the server closes with `expected`.
fn exchange(
    ctx: &Ctx,
    pieces: &[&[u8]],
    pause: Duration,
    expected: &[u8],
    hint: &str,
) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    // Every write its own segment: the pieces reach the server as pieces.
    let _ = stream.set_nodelay(true);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            thread::sleep(pause);
        }
        stream.write_all(piece).map_err(|e| {
            fail(
                "the server reads everything the client sends",
                format!("sending failed: {e}"),
                "did the server stop reading? keep reading until `read` returns 0",
            )
        })?;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let (got, end) = read_to_end(&mut stream, WAIT);
    if got == expected && end == End::Closed {
        return Ok(());
    }
    Err(fail(
        format!("{}, then the end of the stream", show(expected)),
        match end {
            End::Closed => show(&got),
            End::Reset => format!("{}, then a reset", show(&got)),
            End::Open => format!(
                "{} and the connection still open after {WAIT:?}",
                show(&got)
            ),
        },
        hint,
    ))
}

/// The server's answers to `messages`, in order.
fn answers(messages: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        out.extend_from_slice(b"got: ");
        out.extend_from_slice(message);
        out.push(b'\n');
    }
    out
}

fn one_message(ctx: &Ctx) -> Result<(), Fail> {
    exchange(
        ctx,
        &[b"hello\n"],
        Duration::ZERO,
        b"got: hello\n",
        "return the message without its `\\n`",
    )
}

fn merged(ctx: &Ctx) -> Result<(), Fail> {
    exchange(
        ctx,
        &[b"one\ntwo\nthree\n"],
        Duration::ZERO,
        &answers(&[b"one", b"two", b"three"]),
        "one read held three messages: take out every `\\n`-terminated message there is, in a \
         loop, not just the first",
    )
}

fn split(ctx: &Ctx) -> Result<(), Fail> {
    exchange(
        ctx,
        &[b"hel", b"lo, wor", b"ld\n"],
        Duration::from_millis(100),
        b"got: hello, world\n",
        "a read ended in the middle of the message: keep the bytes after the last `\\n` in \
         `pending`, and continue them with the next read",
    )
}

fn many(ctx: &Ctx) -> Result<(), Fail> {
    // Lengths 0, 7, 14, … (mod 41): every length from 0 to 40, so that the server's 16-byte
    // reads end at every offset of some message.
    let messages: Vec<Vec<u8>> = (0..200usize)
        .map(|i| {
            let len = i * 7 % 41;
            (0..len).map(|k| b'a' + ((i + k) % 26) as u8).collect()
        })
        .collect();
    let mut stream = Vec::new();
    for message in &messages {
        stream.extend_from_slice(message);
        stream.push(b'\n');
    }
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    exchange(
        ctx,
        &[&stream],
        Duration::ZERO,
        &answers(&refs),
        "every read may end anywhere, even between a message and its `\\n`, and hold several \
         messages: append to `pending`, then take out every complete line",
    )
}

fn ends_inside(ctx: &Ctx) -> Result<(), Fail> {
    let mut expected = answers(&[b"complete"]);
    expected
        .extend_from_slice(b"error: the stream ended inside a message (4 bytes)\n");
    exchange(
        ctx,
        &[b"complete\nhalf"],
        Duration::ZERO,
        &expected,
        "bytes after the last `\\n` are not a message yet: they stay in `pending` (the starter \
         reports them when the stream ends)",
    )
}
