//! 02_read_exact: a client that reads exactly the echo, by hand, despite short reads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use super::{Check, Exercise};
use crate::harness::{Ctx, Finished, pattern, serve_once};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "02_read_exact",
    chapter: "02-echo-client.md",
    task: "read exactly the echo's length by hand, despite short reads",
    write: "`read_exactly`",
    checks: &[
        Check {
            name: "a reply in one piece is printed, one line per message (the checker's server \
                   answers in upper case: bytes the client did not send)",
            holds: &[1],
            run: one_piece,
        },
        Check {
            name: "a reply that arrives one byte at a time is printed whole",
            holds: &[1],
            run: byte_by_byte,
        },
        Check {
            name: "a 4 000-byte reply in uneven pieces, 20 ms apart, is printed whole and in order",
            holds: &[1],
            run: uneven_pieces,
        },
        Check {
            name: "an empty message: an empty line at once, then the next message's reply",
            holds: &[2],
            run: empty_message,
        },
        Check {
            name: "a server that hangs up halfway: one `error:` line, exit code 1, no half message",
            holds: &[3],
            run: hangs_up_halfway,
        },
        Check {
            name: "a server that hangs up before the first byte: one `error:` line, exit code 1",
            holds: &[3],
            run: hangs_up_at_once,
        },
        Check {
            name: "a server that never answers, with `--timeout 1`: one `error:` line and exit \
                   code 1 within 3.2 s",
            holds: &[4],
            run: never_answers,
        },
    ],
};

/// What the checker's server answers: the message with its ASCII letters' case swapped, so
/// that a client printing what it *sent* cannot pass.
fn answer_of(message: &[u8]) -> Vec<u8> {
    message
        .iter()
        .map(|b| match b {
            b'a'..=b'z' => b.to_ascii_uppercase(),
            b'A'..=b'Z' => b.to_ascii_lowercase(),
            _ => *b,
        })
        .collect()
}

fn answers_of(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8(answer_of(m.as_bytes())).expect("ASCII"))
        .collect()
}

/// Where two texts first differ, said in words.
fn first_difference(expected: &str, seen: &str) -> String {
    let at = expected
        .bytes()
        .zip(seen.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(seen.len()));
    let around = |s: &str| {
        let bytes = &s.as_bytes()[at.min(s.len())..(at + 12).min(s.len())];
        format!("{:?}", String::from_utf8_lossy(bytes))
    };
    format!(
        "first difference at byte {at}: expected {} there, seen {} ({} and {} bytes in all)",
        around(expected),
        around(seen),
        expected.len(),
        seen.len()
    )
}

/// Reads one message of `len` bytes from the client (as it arrives), or `None`.
fn read_message(stream: &mut TcpStream, len: usize) -> Option<Vec<u8>> {
    let mut message = vec![0u8; len];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}

/// Runs the client against a server that answers each of `messages` with `answer`.
fn client(
    ctx: &Ctx,
    messages: &[String],
    timeout: &str,
    answer: impl Fn(&mut TcpStream, &[u8]) -> bool + Send + 'static,
) -> Result<Finished, Fail> {
    let lens: Vec<usize> = messages.iter().map(String::len).collect();
    let addr: SocketAddr = serve_once(move |mut stream| {
        for len in lens {
            let Some(message) = read_message(&mut stream, len) else {
                return;
            };
            if !answer(&mut stream, &message) {
                return; // dropping the stream hangs up
            }
        }
        // Wait for the client to close, so that it is never the server's close it sees.
        let _ = stream.read(&mut [0u8; 1]);
    })?;
    let addr = addr.to_string();
    let mut args = vec!["--addr", addr.as_str(), "--timeout", timeout];
    args.extend(messages.iter().map(String::as_str));
    let proc = ctx.start(&args)?;
    proc.wait_exit(Duration::from_secs(6)).ok_or_else(|| {
        fail(
            "the client exits",
            format!(
                "still running after 6 s; it printed {:?}",
                proc.stdout.snapshot()
            ),
            "a loop that does not stop at `Ok(0)` reads nothing, forever; one that reads again \
             after a timeout waits forever",
        )
    })
}

/// The client printed exactly `messages`, one per line, and exited 0.
fn expect_printed(
    done: &Finished,
    messages: &[String],
    hint: &str,
) -> Result<(), Fail> {
    let answers = answers_of(messages);
    if done.status.code() == Some(0) && done.stdout == answers {
        return Ok(());
    }
    let hint = if done.stdout == messages && answers != messages {
        "the lines printed are the messages *sent*: print the bytes that `read` put into \
         `buf`, the server's reply"
            .to_string()
    } else if let Some((want, got)) = answers
        .iter()
        .zip(&done.stdout)
        .find(|(a, b)| a != b)
        .filter(|(a, _)| a.len() > 40)
    {
        format!("{}; {hint}", first_difference(want, got))
    } else {
        hint.to_string()
    };
    let shorten = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| match l.char_indices().nth(40) {
                Some((at, _)) => format!("{}… ({} bytes)", &l[..at], l.len()),
                None => l.clone(),
            })
            .collect()
    };
    Err(fail(
        format!("exit code 0 and the lines {:?}", shorten(&answers)),
        format!(
            "exit code {:?}, lines {:?}, stderr {:?}",
            done.status.code(),
            shorten(&done.stdout),
            done.stderr
        ),
        &hint,
    ))
}

fn one_piece(ctx: &Ctx) -> Result<(), Fail> {
    let messages = ["hello".to_string(), "world".to_string()];
    let done = client(ctx, &messages, "3", |stream, message| {
        stream.write_all(&answer_of(message)).is_ok()
    })?;
    expect_printed(&done, &messages, "fill `buf` from `read` until it is full")
}

fn byte_by_byte(ctx: &Ctx) -> Result<(), Fail> {
    let messages = ["hello".to_string(), "sockets".to_string()];
    let done = client(ctx, &messages, "3", |stream, message| {
        answer_of(message).iter().all(|byte| {
            thread::sleep(Duration::from_millis(30));
            stream.write_all(&[*byte]).is_ok()
        })
    })?;
    expect_printed(
        &done,
        &messages,
        "one `read` returned 1 byte: read again, into `&mut buf[filled..]`, until the buffer \
         is full",
    )
}

fn uneven_pieces(ctx: &Ctx) -> Result<(), Fail> {
    // (4 000 bytes: the checker keeps the first 4 096 bytes of an output line.)
    let text = String::from_utf8(pattern(4_000)).expect("ASCII");
    let messages = [text];
    let done = client(ctx, &messages, "3", |stream, message| {
        let message = answer_of(message);
        // Pieces of 1, 7, 49, … bytes: never a size a buffer would line up with.
        let mut at = 0;
        let mut size = 1;
        while at < message.len() {
            let end = (at + size).min(message.len());
            if stream.write_all(&message[at..end]).is_err() {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
            at = end;
            size = size * 7 % 4099;
        }
        true
    })?;
    expect_printed(
        &done,
        &messages,
        "each read must continue after the bytes already read: `&mut buf[filled..]`",
    )
}

fn hangs_up_halfway(ctx: &Ctx) -> Result<(), Fail> {
    let messages = ["half of this message".to_string()];
    let done = client(ctx, &messages, "3", |stream, message| {
        let _ = stream.write_all(&answer_of(message)[..message.len() / 2]);
        thread::sleep(Duration::from_millis(100));
        false // and hang up
    })?;
    expect_one_error(&done, None)
}

fn hangs_up_at_once(ctx: &Ctx) -> Result<(), Fail> {
    let messages = ["nobody home".to_string()];
    let done = client(ctx, &messages, "3", |_, _| false)?;
    expect_one_error(&done, None)
}

fn never_answers(ctx: &Ctx) -> Result<(), Fail> {
    let messages = ["anyone there?".to_string()];
    let done = client(ctx, &messages, "1", |_, _| {
        // Reads the message and says nothing, longer than the client's 1 s timeout.
        thread::sleep(Duration::from_secs(4));
        false
    })?;
    expect_one_error(&done, Some(Duration::from_millis(3200)))
}

fn empty_message(ctx: &Ctx) -> Result<(), Fail> {
    let messages = [String::new(), "abc".to_string()];
    let done = client(ctx, &messages, "3", |stream, message| {
        stream.write_all(&answer_of(message)).is_ok()
    })?;
    expect_printed(
        &done,
        &messages,
        "a buffer of length 0 is already full: return `Ok(())` before any read (a `read` into an \
         empty buffer returns `Ok(0)`, which is not the end of the stream)",
    )
}

/// The client failed as it should: exit code 1, nothing on stdout, one `error:` line (within
/// `within`, when given).
fn expect_one_error(done: &Finished, within: Option<Duration>) -> Result<(), Fail> {
    let one_error_line =
        done.stderr.len() == 1 && done.stderr[0].starts_with("error: ");
    let in_time = within.is_none_or(|w| done.elapsed <= w);
    if done.status.code() == Some(1)
        && done.stdout.is_empty()
        && one_error_line
        && in_time
    {
        return Ok(());
    }
    let expected = match within {
        Some(w) => format!(
            "within {:.1} s: exit code 1, nothing on stdout, one `error: …` line on stderr",
            w.as_secs_f64()
        ),
        None => {
            "exit code 1, nothing on stdout, one `error: …` line on stderr".to_string()
        }
    };
    let hint = if !in_time {
        "the read timed out (`WouldBlock` or `TimedOut`) and the loop read again: only \
         `Interrupted` means \"try again\"; return any other error"
    } else if done.stdout.iter().any(|l| l.contains('\0'))
        || done.status.code() == Some(0)
    {
        "`Ok(0)` before the buffer is full is the end of the stream, not a full buffer: return \
         `Err(io::Error::from(ErrorKind::UnexpectedEof))`"
    } else {
        "when `read` returns `Ok(0)` before the buffer is full, return \
         `Err(io::Error::from(ErrorKind::UnexpectedEof))`"
    };
    Err(fail(
        expected,
        format!(
            "after {:.1} s: exit code {:?}, stdout {:?}, stderr {:?}",
            done.elapsed.as_secs_f64(),
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        hint,
    ))
}
