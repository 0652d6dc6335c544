//! 10_backoff: a UDP client that retries with doubling waits and gives up at a total deadline,
//! run against a server the checker owns (it drops requests, answers late, or never).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::ex09_rfc868::udp_socket;
use super::{Check, Exercise};
use crate::harness::{Ctx, Finished, Proc, lock};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "10_backoff",
    chapter: "10-udp-time-client.md",
    task: "retry with doubling waits, and give up at a total deadline",
    write: "`ask_with_backoff`",
    checks: &[
        Check {
            name: "a server that answers at once: one request, the answer printed, exit code 0",
            holds: &[1, 3],
            run: answers_at_once,
        },
        Check {
            name: "a server that drops the first 3 requests: 4 requests, each wait twice the one \
                   before (0.2 s, 0.4 s, 0.8 s)",
            holds: &[1],
            run: doubles,
        },
        Check {
            name: "a server that never answers, --deadline 1.5: one `error:` line and exit code 1 \
                   at the deadline (1.3 s to 2.1 s), not a doubled wait later",
            holds: &[2],
            run: gives_up_at_the_deadline,
        },
        Check {
            name: "waiting for a server that never answers costs (almost) no CPU",
            holds: &[4],
            run: no_cpu_while_waiting,
        },
        Check {
            name: "an answer that comes 0.3 s late, after the next request went out, is taken",
            holds: &[3],
            run: late_answer,
        },
        Check {
            name: "nothing listens on the port (--deadline 4): the refusal is an `error:` line and \
                   exit code 1 within 1 s, not a wait until the deadline",
            holds: &[5],
            run: refused,
        },
        Check {
            name: "--timeout 2 against a server that answers at once: the answer within 1.2 s (the \
                   first request goes out at once, not after a wait)",
            holds: &[1],
            run: first_request_at_once,
        },
    ],
};

/// What the checker's server answers.
const ANSWER: &str = "Tue Nov 24 08:00:00 2026 UTC";

/// When each request reached the checker's server.
type Arrivals = Arc<Mutex<Vec<Instant>>>;

/// A UDP server the checker owns, for `life`: records when each request arrived, ignores the
/// first `ignore` of them (`None`: all), and answers the others `delay` later.
fn fake_server(
    ignore: Option<usize>,
    delay: Duration,
    life: Duration,
) -> Result<(SocketAddr, Arrivals), Fail> {
    let socket = udp_socket(Duration::from_millis(50))?;
    let addr = socket
        .local_addr()
        .map_err(|e| fail("a local address", e.to_string(), "is loopback up?"))?;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&arrivals);
    thread::spawn(move || {
        let until = Instant::now() + life;
        let mut buf = [0u8; 2048];
        while Instant::now() < until {
            let Ok((_, peer)) = socket.recv_from(&mut buf) else {
                continue; // the 50 ms timeout: look at the clock
            };
            let index = {
                let mut seen = lock(&seen);
                seen.push(Instant::now());
                seen.len() - 1
            };
            if ignore.is_some_and(|n| index >= n) {
                let Ok(reply) = socket.try_clone() else {
                    continue;
                };
                thread::spawn(move || {
                    thread::sleep(delay);
                    let _ = reply.send_to(format!("{ANSWER}\n").as_bytes(), peer);
                });
            }
        }
    });
    Ok((addr, arrivals))
}

/// Runs the client against `addr` with `--timeout 0.2` and `deadline`, until it exits.
fn client(ctx: &Ctx, addr: SocketAddr, deadline: &str) -> Result<Finished, Fail> {
    client_waiting(ctx, addr, "0.2", deadline)
}

/// Runs the client against `addr` with a first wait of `timeout` and `deadline`.
fn client_waiting(
    ctx: &Ctx,
    addr: SocketAddr,
    timeout: &str,
    deadline: &str,
) -> Result<Finished, Fail> {
    let addr = addr.to_string();
    let proc = ctx.start(&[
        "--addr",
        &addr,
        "--timeout",
        timeout,
        "--deadline",
        deadline,
    ])?;
    proc.wait_exit(Duration::from_secs(6)).ok_or_else(|| {
        fail(
            format!("the client exits within its deadline of {deadline} s"),
            "still running after 6 s",
            "return `Ok(None)` once the deadline has passed",
        )
    })
}

/// Seconds between consecutive arrivals.
fn gaps(arrivals: &[Instant]) -> Vec<f64> {
    arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect()
}

fn seconds(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().map(|v| format!("{v:.2} s")).collect();
    format!("[{}]", shown.join(", "))
}

/// Exit code 0, the answer printed.
fn expect_answer(done: &Finished, hint: &str) -> Result<(), Fail> {
    if done.status.code() == Some(0) && done.stdout == [ANSWER] {
        return Ok(());
    }
    Err(fail(
        format!("exit code 0 and the line {ANSWER:?}"),
        format!(
            "exit code {:?}, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        hint,
    ))
}

fn answers_at_once(ctx: &Ctx) -> Result<(), Fail> {
    let (addr, arrivals) =
        fake_server(Some(0), Duration::ZERO, Duration::from_secs(5))?;
    let done = client(ctx, addr, "5")?;
    expect_answer(
        &done,
        "return the bytes `recv` received: `Ok(Some(buf[..n].to_vec()))`",
    )?;
    let count = lock(&arrivals).len();
    if count == 1 {
        return Ok(());
    }
    Err(fail(
        "one request: the answer came at once",
        format!("{count} requests"),
        "send once, then wait: a request goes out again only after a wait without an answer",
    ))
}

fn doubles(ctx: &Ctx) -> Result<(), Fail> {
    let (addr, arrivals) =
        fake_server(Some(3), Duration::ZERO, Duration::from_secs(5))?;
    let done = client(ctx, addr, "5")?;
    let arrivals = lock(&arrivals).clone();
    let gaps = gaps(&arrivals);
    expect_answer(
        &done,
        "after a wait without an answer, send the request again (the 4th is answered)",
    )?;
    // The first wait is 0.2 s; each one after it twice the one before. Ratios, with room for
    // a busy machine: a fixed interval gives 1, doubling 2.
    let first_ok = gaps.first().is_some_and(|g| (0.15..=0.5).contains(g));
    let doubling = gaps
        .windows(2)
        .all(|w| (1.4..=3.0).contains(&(w[1] / w[0])));
    if gaps.len() == 3 && first_ok && doubling {
        return Ok(());
    }
    Err(fail(
        "4 requests, 0.2 s, 0.4 s and 0.8 s apart (each gap twice the one before)",
        format!("{} requests, {} apart", arrivals.len(), seconds(&gaps)),
        if gaps.len() != 3 {
            "send one request per wait, and stop once an answer came"
        } else {
            "double the wait after each one without an answer: `wait *= 2`"
        },
    ))
}

fn gives_up_at_the_deadline(ctx: &Ctx) -> Result<(), Fail> {
    let (addr, arrivals) = fake_server(None, Duration::ZERO, Duration::from_secs(5))?;
    let done = client(ctx, addr, "1.5")?;
    let gaps = gaps(&lock(&arrivals));
    let one_error = done.stderr.len() == 1 && done.stderr[0].starts_with("error: ");
    let in_time = (1.3..=2.1).contains(&done.elapsed.as_secs_f64());
    if done.status.code() == Some(1) && one_error && in_time {
        return Ok(());
    }
    Err(fail(
        "one `error: no answer …` line and exit code 1, 1.3 s to 2.1 s after the start",
        format!(
            "exit code {:?} after {:.2} s, stderr {:?}; requests {} apart",
            done.status.code(),
            done.elapsed.as_secs_f64(),
            done.stderr,
            seconds(&gaps)
        ),
        if in_time {
            "return `Ok(None)` at the deadline: the starter turns it into the error line"
        } else {
            "the waits 0.2 + 0.4 + 0.8 s leave 0.1 s: wait for the smaller of the doubled wait \
             and the time left"
        },
    ))
}

/// What a program measured over `window`, after `settle` for its start: `Some((seconds
/// running or waiting to run, wall seconds))`, `None` where it is not measured (or it exited).
/// The start is left out: loading a program on a busy machine is time waiting to run, and
/// says nothing about how it waits.
pub(super) fn cpu_over(
    proc: &Proc,
    settle: Duration,
    window: Duration,
) -> Option<(f64, f64)> {
    thread::sleep(settle);
    // Thread by thread (`idle::usage`): a thread that ends in the window does not hide the
    // others' time.
    let used = super::idle::usage(proc, window)?;
    Some((used.runnable.as_secs_f64(), used.wall.as_secs_f64()))
}

fn no_cpu_while_waiting(ctx: &Ctx) -> Result<(), Fail> {
    let (addr, _arrivals) = fake_server(None, Duration::ZERO, Duration::from_secs(5))?;
    let addr = addr.to_string();
    let proc =
        ctx.start(&["--addr", &addr, "--timeout", "0.2", "--deadline", "1.5"])?;
    let measured = cpu_over(
        &proc,
        Duration::from_millis(300),
        Duration::from_millis(900),
    );
    let still_running = proc.try_status().is_none();
    let _ = proc.wait_exit(Duration::from_secs(3));
    let Some((used, wall)) = measured else {
        if !still_running {
            return Err(fail(
                "the client still waiting 1.2 s after it started (its deadline is 1.5 s)",
                "it had exited",
                "keep asking until the deadline",
            ));
        }
        ctx.note("CPU time is not measured on this platform: the CPU check passes unmeasured");
        return Ok(());
    };
    // A client blocked in `recv` uses a few milliseconds; a polling loop, all of the window.
    if used <= 0.25 * wall {
        return Ok(());
    }
    Err(fail(
        format!(
            "at most {:.2} s on the CPU in {wall:.1} s of waiting",
            0.25 * wall
        ),
        format!("{used:.2} s on the CPU (running or waiting to run)"),
        "block in `recv` with a read timeout; a loop around a non-blocking socket spins",
    ))
}

fn late_answer(ctx: &Ctx) -> Result<(), Fail> {
    let (addr, arrivals) =
        fake_server(Some(0), Duration::from_millis(300), Duration::from_secs(5))?;
    let done = client(ctx, addr, "5")?;
    expect_answer(
        &done,
        "any datagram that arrives is an answer, also one to an earlier request",
    )?;
    let count = lock(&arrivals).len();
    if count <= 2 {
        return Ok(());
    }
    Err(fail(
        "at most 2 requests: the answer to the first came 0.3 s after it",
        format!("{count} requests"),
        "keep the same socket and take the first datagram that comes",
    ))
}

fn refused(ctx: &Ctx) -> Result<(), Fail> {
    // A port nobody listens on: bind one, learn its number, close it. A datagram to it comes
    // back as ICMP "port unreachable", which a connected UDP socket reports on its next `recv`.
    let addr = {
        let socket = udp_socket(Duration::from_millis(50))?;
        socket
            .local_addr()
            .map_err(|e| fail("a local address", e.to_string(), "is loopback up?"))?
    };
    let done = client(ctx, addr, "4")?;
    let secs = done.elapsed.as_secs_f64();
    let stderr = done.stderr.join("\n");
    let refused = stderr.contains("refused");
    if done.status.code() == Some(1) && refused && secs <= 1.0 {
        return Ok(());
    }
    Err(fail(
        "exit code 1 within 1 s, with an `error:` line that says the connection was refused",
        format!(
            "exit code {:?} after {secs:.2} s, stderr {:?}",
            done.status.code(),
            done.stderr
        ),
        if secs > 1.0 {
            "`recv` returned `ConnectionRefused` (no server there): that is not a timeout, and \
             asking again cannot help: return the error (`Err(err) => return Err(err)`)"
        } else {
            "return the receive error as it is: the starter prints it with the address"
        },
    ))
}

fn first_request_at_once(ctx: &Ctx) -> Result<(), Fail> {
    let (addr, _arrivals) =
        fake_server(Some(0), Duration::ZERO, Duration::from_secs(5))?;
    let done = client_waiting(ctx, addr, "2", "5")?;
    expect_answer(&done, "return the bytes `recv` received")?;
    let seconds = done.elapsed.as_secs_f64();
    if seconds <= 1.2 {
        return Ok(());
    }
    Err(fail(
        "the answer printed within 1.2 s (the server answers at once; --timeout 2)",
        format!("after {seconds:.2} s"),
        if seconds >= 1.9 {
            "send the first request at once: the wait comes *after* a request, never before the \
             first"
        } else {
            "send, then wait in `recv`: the answer ends the wait as soon as it comes"
        },
    ))
}
