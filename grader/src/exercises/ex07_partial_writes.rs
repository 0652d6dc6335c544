//! 07_partial_writes: a one-thread client that sends a payload and reads its echo at the
//! same time, with a non-blocking socket, partial writes and `WouldBlock`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use super::{Check, Exercise};
use crate::harness::{Ctx, Finished, serve_once};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "07_partial_writes",
    chapter: "07-nonblocking-loop.md",
    task: "send and receive at once in one thread: partial writes and `WouldBlock`",
    write: "`step`",
    checks: &[
        Check {
            name: "5 bytes: sent, echoed whole, exit code 0",
            holds: &[1, 6],
            run: small,
        },
        Check {
            name: "24 MB to a server that echoes as it reads (more than the buffers hold): no \
                   deadlock, the echo whole and in order",
            holds: &[2, 3],
            run: large,
        },
        Check {
            name: "a server that reads nothing for 2.5 s: the client naps meanwhile (CPU \
                   measured), then finishes",
            holds: &[1, 6],
            run: late_reader,
        },
        Check {
            name: "a server that echoes half of 100 kB and closes: one `error:` line and exit \
                   code 1 at once, not after --stall",
            holds: &[5],
            run: hangs_up_halfway,
        },
        Check {
            name: "a server whose echo of 200 kB has one byte changed: the client says where it \
                   differs (its echo is what it read, not what it sent)",
            holds: &[4],
            run: changed_byte,
        },
        Check {
            name: "a server that sends 5 bytes more after the echo: the client reads only the \
                   echo, and succeeds",
            holds: &[4],
            run: bytes_after_the_echo,
        },
        Check {
            name: "`--size 0`: done at once, exit code 0",
            holds: &[6],
            run: nothing_to_send,
        },
    ],
};

/// Echoes everything until the client closes (or a 5 s timeout: the client is stuck).
fn echo(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs the client with `--size size` against a server that behaves as `behave`, and waits up
/// to `limit` for it to exit.
fn client(
    ctx: &Ctx,
    size: usize,
    limit: Duration,
    behave: impl FnOnce(TcpStream) + Send + 'static,
) -> Result<Finished, Fail> {
    let addr = serve_once(behave)?.to_string();
    let size = size.to_string();
    let proc = ctx.start(&["--addr", &addr, "--size", &size])?;
    proc.wait_exit(limit).ok_or_else(|| {
        fail(
            format!("the client exits within {limit:?}"),
            format!("still running; stdout {:?}", proc.stdout.snapshot()),
            "a loop of your own that retries a blocked `write` never reads: the server's echo \
             fills the buffers, the server stops reading, and both wait forever. Return \
             `Step::Idle` instead",
        )
    })
}

/// Exit code 0 and the success line.
fn expect_success(done: &Finished, size: usize, hint: &str) -> Result<(), Fail> {
    let line = format!("sent {size} bytes; the echo came back whole");
    if done.status.code() == Some(0) && done.stdout == [line.clone()] {
        return Ok(());
    }
    Err(fail(
        format!("exit code 0 and the line {line:?}"),
        format!(
            "exit code {:?}, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        hint,
    ))
}

fn small(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, 5, Duration::from_secs(6), |mut s| echo(&mut s))?;
    expect_success(
        &done,
        5,
        "`WouldBlock` means \"not now\": the echo has not arrived yet; return `Step::Idle` and \
         the loop tries again after a nap",
    )
}

fn large(ctx: &Ctx) -> Result<(), Fail> {
    let size = 24_000_000;
    let done = client(ctx, size, Duration::from_secs(8), |mut s| echo(&mut s))?;
    expect_success(
        &done,
        size,
        "one `write` per turn, `sent += n` with the `n` it returned (not `write_all`: it fails \
         with `WouldBlock` halfway, and you cannot tell how much it wrote); and read in every \
         turn",
    )
}

fn late_reader(ctx: &Ctx) -> Result<(), Fail> {
    let size = 8_000_000;
    let addr = serve_once(|mut s| {
        thread::sleep(Duration::from_millis(2500));
        echo(&mut s);
    })?
    .to_string();
    let proc = ctx.start(&["--addr", &addr, "--size", &size.to_string()])?;
    // While the server reads nothing, the client has filled the buffers and can only wait:
    // napping between turns, it blocks hundreds of times a second (see `idle`).
    let asleep = super::idle::expect_asleep(
        ctx,
        &proc,
        Duration::from_millis(600),
        Duration::from_millis(1000),
        "while the server reads nothing",
        "when nothing can move, return `Step::Idle` (the loop naps); never retry in a loop of \
         your own, and never return `Progress` when no byte moved",
    );
    let Some(done) = proc.wait_exit(Duration::from_secs(8)) else {
        return Err(fail(
            "the client exits within 8 s",
            "still running",
            "return `Step::Idle` when both ways say `WouldBlock`: the loop naps and tries again",
        ));
    };
    expect_success(
        &done,
        size,
        "keep what the OS did not take for the next turn",
    )?;
    asleep
}

fn hangs_up_halfway(ctx: &Ctx) -> Result<(), Fail> {
    let size = 100_000;
    let done = client(ctx, size, Duration::from_secs(6), move |mut s| {
        // Read everything (so that closing sends a FIN, not a reset), echo half, close our
        // side, and wait for the client to close its own.
        let mut all = vec![0u8; size];
        if s.read_exact(&mut all).is_err() {
            return;
        }
        let _ = s.write_all(&all[..size / 2]);
        let _ = s.shutdown(Shutdown::Write);
        let _ = s.read(&mut [0u8; 1]);
    })?;
    let one_error = done.stderr.len() == 1 && done.stderr[0].starts_with("error: ");
    // --stall is 5 s: an answer well before it did not come from the stall detector.
    let at_once = done.elapsed < Duration::from_secs(3);
    if done.status.code() == Some(1) && one_error && at_once && done.stdout.is_empty()
    {
        return Ok(());
    }
    Err(fail(
        "one `error: …` line and exit code 1, within 3 s",
        format!(
            "exit code {:?} after {:.1} s, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.elapsed.as_secs_f64(),
            done.stdout,
            done.stderr
        ),
        "`Ok(0)` from `read` before the whole echo came back: return \
         `Err(io::Error::from(ErrorKind::UnexpectedEof))`",
    ))
}

fn changed_byte(ctx: &Ctx) -> Result<(), Fail> {
    let size = 200_000;
    const AT: usize = 123_457;
    let done = client(ctx, size, Duration::from_secs(6), move |mut s| {
        let mut all = vec![0u8; size];
        if s.read_exact(&mut all).is_err() {
            return;
        }
        all[AT] ^= 0x55;
        let _ = s.write_all(&all);
        let _ = s.read(&mut [0u8; 1]);
    })?;
    let expected = format!("from byte {AT} on");
    let one_error = done.stderr.len() == 1 && done.stderr[0].contains(&expected);
    if done.status.code() == Some(1) && one_error {
        return Ok(());
    }
    let hint = if done.status.code() == Some(0) {
        "the echo the program checked is not what the server sent: append `&buf[..n]`, the \
         bytes `read` put in the buffer, to `echo`"
    } else {
        "append exactly the bytes read, in order: the given code then finds the changed byte"
    };
    Err(fail(
        format!(
            "exit code 1 and one `error: …` line that says the echo differs {expected}"
        ),
        format!(
            "exit code {:?}, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        hint,
    ))
}

fn bytes_after_the_echo(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, 5, Duration::from_secs(6), |mut s| {
        let mut all = [0u8; 5];
        if s.read_exact(&mut all).is_err() {
            return;
        }
        // The echo and 5 bytes more, in one write: they arrive together.
        let mut reply = all.to_vec();
        reply.extend_from_slice(b"extra");
        let _ = s.write_all(&reply);
        let _ = s.read(&mut [0u8; 1]);
    })?;
    expect_success(
        &done,
        5,
        "read at most the bytes still missing (`&mut buf[..missing.min(buf.len())]`): what comes \
         after the echo is not part of it",
    )
}

fn nothing_to_send(ctx: &Ctx) -> Result<(), Fail> {
    let done = client(ctx, 0, Duration::from_secs(4), |mut s| {
        let _ = s.read(&mut [0u8; 1]);
    })?;
    if done.elapsed > Duration::from_secs(2) {
        return Err(fail(
            "exit code 0 within 2 s",
            format!("exit after {:.1} s", done.elapsed.as_secs_f64()),
            "with nothing to send, the echo is complete before the first turn: `Step::Done`",
        ));
    }
    expect_success(
        &done,
        0,
        "an echo as long as the payload is done, even when both are empty: decide `Done` after \
         both parts of the turn, whatever moved",
    )
}
