//! 08_idle_timeout: a one-thread poll server that closes clients idle for `--idle-timeout`
//! seconds, sleeping in `wait` until the nearest deadline.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, connect, read_line, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "08_idle_timeout",
    chapter: "08-poll-server.md",
    task: "close clients idle for too long, sleeping in `wait` until the nearest deadline",
    write: "`poll_timeout` and `close_expired`",
    checks: &[
        Check {
            name: "with `--idle-timeout 1`, a client that sends a line every 0.2 s for 2.4 s gets \
                   every echo and stays connected",
            holds: &[1, 5],
            run: active_client_stays,
        },
        Check {
            name: "with `--idle-timeout 1`, a silent client is closed between 1.0 and 1.5 s after \
                   it connects",
            holds: &[2, 4],
            run: silent_client_closed,
        },
        Check {
            name: "with `--idle-timeout 30`, a server with three silent clients costs (almost) \
                   no CPU",
            holds: &[2],
            run: idle_costs_nothing,
        },
        Check {
            name: "with `--idle-timeout 1`, clients with deadlines at 1.0, 1.3 and 2.0 s are each \
                   closed on time (within 0.5 s)",
            holds: &[2, 4],
            run: several_deadlines,
        },
        Check {
            name: "a server with no client costs (almost) no CPU, and still closes the first \
                   client that comes and stays silent",
            holds: &[3],
            run: no_clients_costs_nothing,
        },
    ],
};

const HINT_LATE: &str = "`wait` must return by the nearest deadline: the timeout is the time \
                         from now to the earliest `last_heard + idle`, and after `wait` the \
                         expired clients are closed";

/// Sends a line and reads its echo, or says what happened instead.
fn echo_line(stream: &mut TcpStream, line: &[u8], when: f64) -> Result<(), Fail> {
    let hint = "a client that keeps talking is not idle: count its deadline from `last_heard`, \
                the last time it sent something, not from when it connected";
    if let Err(e) = stream.write_all(line) {
        return Err(fail(
            "the connection stays open while the client talks",
            format!("sending at {when:.1} s failed: {e}"),
            hint,
        ));
    }
    let (got, end) = read_line(stream, Duration::from_secs(2));
    if got == line {
        return Ok(());
    }
    let how = match end {
        End::Closed => "then the server closed the connection",
        End::Reset => "then the connection was reset",
        End::Open => "then nothing within 2 s",
    };
    Err(fail(
        format!("the echo {} at {when:.1} s", show(line)),
        format!("{} {how}", show(&got)),
        hint,
    ))
}

fn active_client_stays(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--idle-timeout", "1"])?;
    let mut stream = connect(addr)?;
    let started = Instant::now();
    for i in 0..12 {
        thread::sleep(Duration::from_millis(200));
        let line = format!("ping {i}\n");
        echo_line(
            &mut stream,
            line.as_bytes(),
            started.elapsed().as_secs_f64(),
        )?;
    }
    Ok(())
}

/// Connects and waits up to `limit` for the server to close; returns when it did, measured
/// from just before the connect, or what happened instead.
fn time_to_close(
    addr: SocketAddr,
    limit: Duration,
) -> Result<(Duration, End, Vec<u8>), Fail> {
    let started = Instant::now();
    let mut stream = connect(addr)?;
    let (got, end) = read_to_end(&mut stream, limit);
    Ok((started.elapsed(), end, got))
}

fn check_closed_within(
    which: &str,
    (elapsed, end, got): (Duration, End, Vec<u8>),
    from: f64,
    to: f64,
) -> Result<(), Fail> {
    let expected =
        format!("{which} closed between {from:.1} s and {to:.1} s, with no data");
    let secs = elapsed.as_secs_f64();
    let seen = match end {
        End::Open => format!("still open after {secs:.1} s"),
        End::Closed | End::Reset if !got.is_empty() => {
            format!("{} then closed at {secs:.2} s", show(&got))
        }
        End::Closed => format!("closed at {secs:.2} s"),
        End::Reset => format!("reset at {secs:.2} s"),
    };
    if end != End::Open && got.is_empty() && (from..=to).contains(&secs) {
        return Ok(());
    }
    let hint = if end == End::Open {
        "with no events, `wait` must still return at the nearest deadline: give it a timeout \
         (`None` sleeps until an event that a silent client never sends)"
    } else if secs < from {
        "a client is idle only after `idle` of silence: close it once `last_heard + idle` has \
         passed, not before"
    } else {
        HINT_LATE
    };
    Err(fail(expected, seen, hint))
}

fn silent_client_closed(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--idle-timeout", "1"])?;
    let result = time_to_close(addr, Duration::from_secs(3))?;
    check_closed_within("the client", result, 1.0, 1.5)
}

fn no_clients_costs_nothing(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&["--idle-timeout", "1"])?;
    super::idle::expect_asleep(
        ctx,
        &server,
        Duration::from_millis(500),
        Duration::from_millis(1200),
        "with no client",
        "with no client there is no deadline: `None` (sleep until an event), never \
         `Some(Duration::ZERO)`, which makes `wait` return at once, forever",
    )?;
    let result = time_to_close(addr, Duration::from_secs(3))?;
    check_closed_within(
        "the first client, after a while without any",
        result,
        1.0,
        1.5,
    )
}

fn idle_costs_nothing(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&["--idle-timeout", "30"])?;
    let _clients = (0..3)
        .map(|_| connect(addr))
        .collect::<Result<Vec<_>, _>>()?;
    // Asleep in `wait` until a deadline 30 s away, the server uses nothing; woken at once,
    // again and again, it is runnable all the time.
    super::idle::expect_asleep(
        ctx,
        &server,
        Duration::from_millis(500),
        Duration::from_millis(1200),
        "with three silent clients whose deadlines are 30 s away",
        "`wait` must sleep until the nearest deadline: a timeout of zero (or one that is too \
         short) makes it return at once, forever",
    )
}

fn several_deadlines(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--idle-timeout", "1"])?;
    let start = Instant::now();
    // Each client on its own thread, started at its offset; the times are from `start`.
    let client = move |delay_ms: u64, talk_after_ms: Option<u64>| {
        thread::spawn(move || -> Result<(Duration, End, Vec<u8>), Fail> {
            thread::sleep(
                Duration::from_millis(delay_ms).saturating_sub(start.elapsed()),
            );
            let mut stream = connect(addr)?;
            if let Some(after) = talk_after_ms {
                thread::sleep(Duration::from_millis(after));
                let at = start.elapsed().as_secs_f64();
                echo_line(&mut stream, b"still here\n", at)?;
            }
            let (got, end) = read_to_end(&mut stream, Duration::from_secs(4));
            Ok((start.elapsed(), end, got))
        })
    };
    let a = client(0, None);
    let b = client(300, None);
    // Connects at 0.6 s and talks at 1.0 s: its deadline moves to 2.0 s.
    let c = client(600, Some(400));
    let joined = [a, b, c].map(|handle| {
        handle.join().unwrap_or_else(|_| {
            Err(fail(
                "the check runs",
                "a client thread panicked",
                "report this",
            ))
        })
    });
    let [a, b, c] = joined;
    check_closed_within("client A (silent from 0.0 s)", a?, 1.0, 1.5)?;
    check_closed_within("client B (silent from 0.3 s)", b?, 1.3, 1.8)?;
    check_closed_within("client C (connects at 0.6 s, talks at 1.0 s)", c?, 2.0, 2.5)
}
