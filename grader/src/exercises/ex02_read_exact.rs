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
            name: "an echo in one piece is printed, one line per message",
            holds: &[],
            run: one_piece,
        },
        Check {
            name: "an echo that arrives one byte at a time is printed whole",
            holds: &[],
            run: byte_by_byte,
        },
        Check {
            name: "a 30 000-byte echo in uneven pieces, 20 ms apart, is printed whole and in order",
            holds: &[],
            run: uneven_pieces,
        },
        Check {
            name: "a server that hangs up halfway: one `error:` line, exit code 1, no half message",
            holds: &[],
            run: hangs_up_halfway,
        },
    ],
};

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
    let mut args = vec!["--addr", addr.as_str(), "--timeout", "3"];
    args.extend(messages.iter().map(String::as_str));
    let proc = ctx.start(&args)?;
    proc.wait_exit(Duration::from_secs(6)).ok_or_else(|| {
        fail(
            "the client exits",
            format!(
                "still running after 6 s; it printed {:?}",
                proc.stdout.snapshot()
            ),
            "a loop that does not stop at `Ok(0)` reads nothing, forever",
        )
    })
}

/// The client printed exactly `messages`, one per line, and exited 0.
fn expect_printed(
    done: &Finished,
    messages: &[String],
    hint: &str,
) -> Result<(), Fail> {
    if done.status.code() == Some(0) && done.stdout == messages {
        return Ok(());
    }
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
        format!("exit code 0 and the lines {:?}", shorten(messages)),
        format!(
            "exit code {:?}, lines {:?}, stderr {:?}",
            done.status.code(),
            shorten(&done.stdout),
            done.stderr
        ),
        hint,
    ))
}

fn one_piece(ctx: &Ctx) -> Result<(), Fail> {
    let messages = ["hello".to_string(), "world".to_string()];
    let done = client(ctx, &messages, |stream, message| {
        stream.write_all(message).is_ok()
    })?;
    expect_printed(&done, &messages, "fill `buf` from `read` until it is full")
}

fn byte_by_byte(ctx: &Ctx) -> Result<(), Fail> {
    let messages = ["hello".to_string(), "sockets".to_string()];
    let done = client(ctx, &messages, |stream, message| {
        message.iter().all(|byte| {
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
    let text = String::from_utf8(pattern(30_000)).expect("ASCII");
    let messages = [text];
    let done = client(ctx, &messages, |stream, message| {
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
    let done = client(ctx, &messages, |stream, message| {
        let _ = stream.write_all(&message[..message.len() / 2]);
        thread::sleep(Duration::from_millis(100));
        false // and hang up
    })?;
    let one_error_line =
        done.stderr.len() == 1 && done.stderr[0].starts_with("error: ");
    if done.status.code() == Some(1) && done.stdout.is_empty() && one_error_line {
        return Ok(());
    }
    Err(fail(
        "exit code 1, nothing on stdout, one `error: …` line on stderr",
        format!(
            "exit code {:?}, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        "when `read` returns `Ok(0)` before the buffer is full, return \
         `Err(io::Error::from(ErrorKind::UnexpectedEof))`",
    ))
}
