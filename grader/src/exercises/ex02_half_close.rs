//! 02_half_close: a client that sends, half-closes, and reads the reply until the server closes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use super::{Check, Exercise};
use crate::harness::{Ctx, Finished, pattern, serve_once};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "02_half_close",
    chapter: "02-echo-client.md",
    task: "send a request, half-close, read the reply until the server closes",
    write: "`send_then_read_reply`",
    checks: &[
        Check {
            name: "a server that answers after the client's FIN: its reply `11 bytes` is printed",
            holds: &[1, 2],
            run: counted,
        },
        Check {
            name: "a reply of two lines in three pieces, 150 ms apart, is printed whole",
            holds: &[3],
            run: reply_in_pieces,
        },
        Check {
            name: "a 20 000-byte request arrives whole before the FIN",
            holds: &[1, 2],
            run: big_request,
        },
        Check {
            name: "a server that never answers: one `error:` line and exit code 1 within the timeout",
            holds: &[4],
            run: never_answers,
        },
        Check {
            name: "an empty request (the word `\"\"`): the server still learns it is complete \
                   and answers `0 bytes`",
            holds: &[1, 2],
            run: empty_request,
        },
        Check {
            name: "a server that closes without a word: an empty reply, exit code 0",
            holds: &[3],
            run: empty_reply,
        },
    ],
};

/// Reads the request until the client's FIN; `None` if it never comes (within the timeout).
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    stream.read_to_end(&mut request).ok()?;
    Some(request)
}

/// Runs the client with `words` and `--timeout 2` against a server that calls `answer` with
/// the whole request once the client has half-closed.
fn client(
    ctx: &Ctx,
    words: &[&str],
    answer: impl FnOnce(&mut TcpStream, Vec<u8>) + Send + 'static,
) -> Result<Finished, Fail> {
    let addr = serve_once(move |mut stream| {
        if let Some(request) = read_request(&mut stream) {
            answer(&mut stream, request);
        }
        // Dropping the stream closes it: the end of the reply.
    })?;
    let addr = addr.to_string();
    let mut args = vec!["--addr", addr.as_str(), "--timeout", "2"];
    args.extend_from_slice(words);
    let proc = ctx.start(&args)?;
    proc.wait_exit(Duration::from_secs(6)).ok_or_else(|| {
        fail(
            "the client exits",
            "still running after 6 s",
            "read until `read` returns `Ok(0)`, and stop there",
        )
    })
}

fn expect_stdout(done: &Finished, expected: &str, hint: &str) -> Result<(), Fail> {
    let stdout = done.stdout.join("\n");
    if done.status.code() == Some(0) && stdout == expected {
        return Ok(());
    }
    let shown = |s: &str| match s.char_indices().nth(60) {
        Some((at, _)) => format!("{:?}… ({} bytes)", &s[..at], s.len()),
        None => format!("{s:?}"),
    };
    Err(fail(
        format!("exit code 0 and {} on stdout", shown(expected)),
        format!(
            "exit code {:?}, stdout {}, stderr {:?}",
            done.status.code(),
            shown(&stdout),
            done.stderr
        ),
        hint,
    ))
}

fn counted(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, &["hello", "world"], |stream, request| {
        let _ = stream.write_all(format!("{} bytes\n", request.len()).as_bytes());
    })?;
    expect_stdout(
        &done,
        "11 bytes",
        "after `write_all`, `stream.shutdown(Shutdown::Write)`: the server waits for that FIN \
         before it answers, and the socket must stay open for reading",
    )
}

fn reply_in_pieces(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, &["tell", "me"], |stream, _| {
        for piece in ["first piece,\n", "second piece, ", "third piece\n"] {
            if stream.write_all(piece.as_bytes()).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(150));
        }
    })?;
    expect_stdout(
        &done,
        "first piece,\nsecond piece, third piece",
        "one `read` returns what has arrived so far, and a reply may hold many lines: keep \
         reading until `Ok(0)`",
    )
}

fn big_request(ctx: &Ctx) -> Result<(), Fail> {
    let word = String::from_utf8(pattern(20_000)).expect("ASCII");
    let expected = word.clone();
    let done = client(ctx, &[word.as_str()], move |stream, request| {
        let verdict = if request == expected.as_bytes() {
            "request complete\n".to_string()
        } else {
            format!("request damaged: {} bytes\n", request.len())
        };
        let _ = stream.write_all(verdict.as_bytes());
    })?;
    expect_stdout(
        &done,
        "request complete",
        "send the whole request with `write_all` before the half-close",
    )
}

fn never_answers(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, &["anyone?"], |stream, _| {
        // Holds the connection open without a word, longer than the client's 2 s timeout.
        thread::sleep(Duration::from_secs(4));
        let _ = stream.write_all(b"too late\n");
    })?;
    let one_error_line =
        done.stderr.len() == 1 && done.stderr[0].starts_with("error: ");
    if done.status.code() == Some(1)
        && done.stdout.is_empty()
        && one_error_line
        && done.elapsed < Duration::from_millis(3800)
    {
        return Ok(());
    }
    Err(fail(
        "within 3.8 s: exit code 1, nothing on stdout, one `error: …` line",
        format!(
            "after {:.1} s: exit code {:?}, stdout {:?}, stderr {:?}",
            done.elapsed.as_secs_f64(),
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        "return the read's timeout error with `?`: the caller prints it and exits 1",
    ))
}

fn empty_request(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, &[""], |stream, request| {
        let _ = stream.write_all(format!("{} bytes\n", request.len()).as_bytes());
    })?;
    expect_stdout(
        &done,
        "0 bytes",
        "an empty request is still a request: send it (nothing), then half-close",
    )
}

fn empty_reply(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, &["quiet", "please"], |_, _| {
        // Closes at once, without a word: the reply is empty, and that is not an error.
    })?;
    expect_stdout(
        &done,
        "",
        "a server may answer nothing: `Ok(0)` at once ends an empty reply, which is no error",
    )
}
