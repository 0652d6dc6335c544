//! 12_netstring_decoder: an incremental decoder of netstrings, fed whatever each read returned.

use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "12_netstring_decoder",
    chapter: "12-framed-messages.md",
    task: "an incremental netstring decoder, fed bytes that stop anywhere",
    write: "`NetstringDecoder::next_message`",
    checks: &[
        Check {
            name: "three netstrings in one write (one empty, one full of `:` and `,`): three lines",
            holds: &[],
            run: three_in_one_write,
        },
        Check {
            name: "the same stream cut in two at every byte offset: the same three lines each time",
            holds: &[],
            run: every_split,
        },
        Check {
            name: "the same stream one byte at a time: the same three lines",
            holds: &[],
            run: byte_by_byte,
        },
        Check {
            name: "a payload not followed by `,`: an `error:` line, and the server hangs up",
            holds: &[],
            run: missing_comma,
        },
        Check {
            name: "a length of 9 digits and no `:`: refused at once, without waiting for more",
            holds: &[],
            run: endless_length,
        },
    ],
};

/// The stream the checks send, cut in every way: the empty payload and the payload made of
/// digits, `:` and `,` catch a decoder that searches for separators instead of counting.
const STREAM: &[u8] = b"12:hello, world,0:,6:1:2,3,,";
const REPLY: &[u8] = b"12 hello, world\n0 \n6 1:2,3,\n";

/// Sends `pieces` (a pause before each but the first), half-closes, reads the reply to the end.
fn exchange(
    addr: SocketAddr,
    pieces: &[&[u8]],
    pause: Duration,
) -> Result<(Vec<u8>, End), Fail> {
    let mut stream = connect(addr)?;
    // Every write its own segment: a piece that the server must see alone is not merged by
    // Nagle's algorithm with the next one.
    let _ = stream.set_nodelay(true);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            thread::sleep(pause);
        }
        // A server that refused the stream may have hung up already: what it said is read below.
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(read_to_end(&mut stream, WAIT))
}

fn expect_reply(got: &[u8], end: &End, what: &str, hint: &str) -> Result<(), Fail> {
    if got == REPLY && *end == End::Closed {
        return Ok(());
    }
    Err(fail(
        format!("{}, then the end of the stream", show(REPLY)),
        format!("{} ({end:?}) {what}", show(got)),
        hint,
    ))
}

fn three_in_one_write(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let (got, end) = exchange(addr, &[STREAM], Duration::ZERO)?;
    expect_reply(
        &got,
        &end,
        "for one write of the whole stream",
        "remove the whole netstring, `,` included, so that the next call starts at the next \
         length; the payload's length, not a search for `,`, says where it ends",
    )
}

fn every_split(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    for at in 1..STREAM.len() {
        let (first, rest) = STREAM.split_at(at);
        // Long enough for the server to read the first piece alone, on a busy machine too.
        let (got, end) = exchange(addr, &[first, rest], Duration::from_millis(25))?;
        expect_reply(
            &got,
            &end,
            &format!(
                "when the stream was cut after byte {at}: {} then {}",
                show(first),
                show(rest)
            ),
            "a buffer that ends before the netstring does is not an error: return `Ok(None)` \
             and wait for more (no `:` yet, half a payload, no `,` yet)",
        )?;
    }
    Ok(())
}

fn byte_by_byte(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let pieces: Vec<&[u8]> = STREAM.chunks(1).collect();
    let (got, end) = exchange(addr, &pieces, Duration::from_millis(10))?;
    expect_reply(
        &got,
        &end,
        "when the stream came one byte at a time",
        "every call may see one byte more than the last: `Ok(None)` until the `,` is in",
    )
}

/// Sends `bytes` and keeps the connection open: the server must answer `error: …` and hang up
/// by itself, within 2 s.
fn expect_refused(ctx: &Ctx, bytes: &[u8], hint: &str) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    let started = Instant::now();
    let _ = stream.write_all(bytes);
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(2));
    let elapsed = started.elapsed();
    if got.starts_with(b"error: ")
        && got.ends_with(b"\n")
        && matches!(end, End::Closed)
    {
        return Ok(());
    }
    Err(fail(
        format!(
            "after {}: a line `error: …`, and the server hangs up at once",
            show(bytes)
        ),
        format!(
            "{} and {} after {:.1} s",
            show(&got),
            match end {
                End::Open => "the connection still open",
                End::Closed => "the end of the stream",
                End::Reset => "a reset",
            },
            elapsed.as_secs_f64()
        ),
        hint,
    ))
}

fn missing_comma(ctx: &Ctx) -> Result<(), Fail> {
    expect_refused(
        ctx,
        b"5:hello!",
        "once the byte after the payload is in, check that it is `,`: \
         `Err(io::Error::new(ErrorKind::InvalidData, …))` if not",
    )
}

fn endless_length(ctx: &Ctx) -> Result<(), Fail> {
    expect_refused(
        ctx,
        b"123456789",
        "a length has at most MAX_DIGITS digits: more digits and no `:` can only be a bad \
         header, so refuse it without waiting for a `:` that may never come",
    )
}
