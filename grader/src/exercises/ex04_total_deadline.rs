//! 04_total_deadline: a threaded echo server that closes every client after a total time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, pattern, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "04_total_deadline",
    chapter: "04-threaded-server.md",
    task: "close each client after a total time, however active it is",
    write: "`echo_until_deadline`",
    checks: &[
        Check {
            name: "a client is echoed while its time lasts, 100 kB included",
            holds: &[1],
            run: echoes,
        },
        Check {
            name: "a silent client gets the time-limit line and is closed at the deadline (1.5 s)",
            holds: &[3],
            run: silent_client,
        },
        Check {
            name: "a client that sends a byte every 0.3 s is closed at the deadline too",
            holds: &[3],
            run: trickling_client,
        },
        Check {
            name: "waiting for a silent client costs (almost) no CPU",
            holds: &[4],
            run: no_cpu_while_waiting,
        },
        Check {
            name: "a client that sends `bye` and closes is echoed and closed at once, without \
                   the time-limit line",
            holds: &[2],
            run: client_closes,
        },
        Check {
            name: "a client that resets: the server reports the error (`error: PEER: …`), not a \
                   disconnect",
            holds: &[5],
            run: reset,
        },
    ],
};

/// The time limit the checks start the server with.
const LIMIT: &str = "1.5";
/// When a client must have been closed: the deadline, give or take a busy machine.
const EARLIEST: Duration = Duration::from_millis(1300);
const LATEST: Duration = Duration::from_millis(3500);

fn start(ctx: &Ctx) -> Result<(crate::harness::Proc, TcpStream, Instant), Fail> {
    let (server, addr) = ctx.server(&["--max-connection", LIMIT])?;
    let stream = connect(addr)?;
    Ok((server, stream, Instant::now()))
}

/// The client's view of its end: the time-limit line, then the close, within the window.
fn expect_time_up(
    got: &[u8],
    end: End,
    closed_after: Duration,
    hint: &str,
) -> Result<(), Fail> {
    let line = b"error: connection time limit reached\n";
    let in_window = (EARLIEST..=LATEST).contains(&closed_after);
    if got.ends_with(line) && end == End::Closed && in_window {
        return Ok(());
    }
    let hint = if end == End::Closed && !got.ends_with(line) && closed_after <= LATEST
    {
        "the connection closed without the time-limit line: a read that times out fails with \
         `WouldBlock` (Unix) or `TimedOut` (Windows); both mean the deadline is here: return \
         `Ok(Ending::DeadlineReached)`"
    } else if end == End::Closed && closed_after < EARLIEST {
        "closed before the deadline: the time left is `deadline - now`, not less"
    } else {
        hint
    };
    Err(fail(
        format!(
            "the line {:?} and the close, between {:.1} s and {:.1} s after connecting",
            String::from_utf8_lossy(line),
            EARLIEST.as_secs_f64(),
            LATEST.as_secs_f64()
        ),
        format!(
            "{} and the connection {} after {:.1} s",
            show(got),
            match end {
                End::Closed => "closed",
                End::Reset => "reset",
                End::Open => "still open",
            },
            closed_after.as_secs_f64()
        ),
        hint,
    ))
}

fn echoes(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream, _) = start(ctx)?;
    let big = pattern(100_000);
    for message in [&b"hello"[..], b"deadline", &big] {
        let _ = stream.write_all(message);
        let mut back = vec![0u8; message.len()];
        if let Err(e) = stream.read_exact(&mut back) {
            return Err(fail(
                format!("the echo {}", show(message)),
                format!("{e} (got {})", show(&back)),
                "write back every byte you read, with `write_all(&buf[..n])`",
            ));
        }
        if back != message {
            return Err(fail(
                show(message),
                show(&back),
                "echo `&buf[..n]`, in order",
            ));
        }
    }
    Ok(())
}

fn silent_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, mut stream, connected) = start(ctx)?;
    let (got, end) = read_to_end(&mut stream, WAIT);
    expect_time_up(
        &got,
        end,
        connected.elapsed(),
        "set a read timeout of the time left before the read; when it expires, return \
         `DeadlineReached`",
    )
}

fn trickling_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, stream, connected) = start(ctx)?;
    // One byte every 0.3 s: never silent long enough for a timeout that restarts with each
    // read, until the checker gives up after 5 s.
    let writer = stream
        .try_clone()
        .map_err(|e| fail("a socket", e.to_string(), ""))?;
    let trickle = thread::spawn(move || {
        let mut writer = writer;
        while connected.elapsed() < WAIT {
            if writer.write_all(b".").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(300));
        }
    });
    let mut reader = stream;
    let (got, end) = read_to_end(&mut reader, WAIT + Duration::from_millis(500));
    let closed_after = connected.elapsed();
    let _ = reader.shutdown(std::net::Shutdown::Both);
    let _ = trickle.join();
    // The echoes of the dots come first; the line must end what the client received.
    expect_time_up(
        &got,
        end,
        closed_after,
        "a read timeout restarts with every read: set it before each read to the time left \
         until the deadline",
    )
}

fn no_cpu_while_waiting(ctx: &Ctx) -> Result<(), Fail> {
    // A time limit of 4 s: the client's thread is judged while it waits, long before its
    // deadline ends it.
    let (server, addr) = ctx.server(&["--max-connection", "4"])?;
    let _stream = connect(addr)?;
    super::idle::expect_asleep(
        ctx,
        &server,
        Duration::ZERO,
        Duration::from_millis(900),
        "while its client is silent",
        "block in `read` with a timeout; a loop that retries a non-blocking read at once spins",
    )
}

fn client_closes(ctx: &Ctx) -> Result<(), Fail> {
    let (server, mut stream, connected) = start(ctx)?;
    let _ = stream.write_all(b"bye");
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let (got, end) = read_to_end(&mut stream, WAIT);
    let after = connected.elapsed();
    // The deadline is 1.5 s away: a close that waited for it came too late.
    if got == b"bye" && end == End::Closed && after < EARLIEST {
        return Ok(());
    }
    let hint = if got.ends_with(b"time limit reached\n") {
        "`read` returning `Ok(0)` is the client's close: return `Ok(Ending::Closed)` at once"
    } else {
        "echo what you read, and return `Ok(Ending::Closed)` when `read` returns 0"
    };
    let _ = server;
    Err(fail(
        format!(
            "\"bye\" and the close, within {:.1} s (before the deadline)",
            EARLIEST.as_secs_f64()
        ),
        format!(
            "{} and the connection {} after {:.1} s",
            show(&got),
            match end {
                End::Closed => "closed",
                End::Reset => "reset",
                End::Open => "still open",
            },
            after.as_secs_f64()
        ),
        hint,
    ))
}

fn reset(ctx: &Ctx) -> Result<(), Fail> {
    let (server, stream, _) = start(ctx)?;
    let mut writer: &TcpStream = &stream;
    let _ = writer.write_all(b"x");
    thread::sleep(Duration::from_millis(200));
    // A linger time of zero makes the close a reset (RST): the server's read fails.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
    if server
        .stderr
        .wait_for(WAIT, |l| l.starts_with("error: "))
        .is_some()
    {
        return Ok(());
    }
    let disconnected = server
        .stdout
        .snapshot()
        .iter()
        .any(|l| l.starts_with("disconnected"));
    Err(fail(
        "a line `error: PEER: …` on the server's stderr",
        format!(
            "stdout {:?}, stderr {:?}",
            server.stdout.snapshot(),
            server.stderr.snapshot()
        ),
        if disconnected {
            "a reset is not the client's close: only `Ok(0)` is; return other errors"
        } else {
            "return errors other than `Interrupted` and the timeout: the caller reports them"
        },
    ))
}
