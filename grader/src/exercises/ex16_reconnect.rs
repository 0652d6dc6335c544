//! 16_reconnect: a TCP client that reconnects with doubling, capped, jittered waits, run against
//! a server the checker owns (it refuses by not listening, accepts and never answers, answers).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, Proc};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "16_reconnect",
    chapter: "16-heartbeat.md",
    task: "reconnect with doubling, capped, jittered waits; reset only after an answer",
    write: "`keep_connected`",
    checks: &[
        Check {
            name: "nothing listens, --interval 0.1 --max-wait 0.4: the waits double and stop at \
                   the cap (0.1, 0.2, 0.4, 0.4, 0.4, 0.4 s, each drawn in [half, all])",
            holds: &[],
            run: doubles_and_caps,
        },
        Check {
            name: "two clients that fail together: every wait within [wait / 2, wait], and the \
                   waits vary (not all the nominal wait, not the same in both clients)",
            holds: &[],
            run: jittered,
        },
        Check {
            name: "a server that accepts and never answers grows the waits; only after an answer \
                   do they start again from --interval",
            holds: &[],
            run: resets_after_an_answer,
        },
        Check {
            name: "waiting for a server that is not there costs (almost) no CPU",
            holds: &[],
            run: no_busy_loop,
        },
    ],
};

/// Slack for a wait printed with 3 decimals.
const SLACK: f64 = 0.002;

/// A port on which nothing listens: bound, then closed (connects to it are refused).
fn closed_port() -> Result<SocketAddr, Fail> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| fail("a free local port", e.to_string(), "is loopback up?"))?;
    listener
        .local_addr()
        .map_err(|e| fail("a local address", e.to_string(), "is loopback up?"))
}

fn client(
    ctx: &Ctx,
    addr: SocketAddr,
    interval: &str,
    max_wait: &str,
) -> Result<Proc, Fail> {
    let addr = addr.to_string();
    ctx.start(&[
        "--addr",
        &addr,
        "--interval",
        interval,
        "--max-wait",
        max_wait,
        "--timeout",
        "0.2",
    ])
}

/// The seconds of a `waiting 0.123 s` line.
fn wait_of(line: &str) -> Option<f64> {
    line.strip_prefix("waiting ")?
        .strip_suffix(" s")?
        .parse()
        .ok()
}

/// Waits (up to `limit`) until the client has printed `count` `waiting` lines; returns its
/// stdout so far.
fn lines_until_waits(proc: &Proc, count: usize, limit: Duration) -> Vec<String> {
    let until = Instant::now() + limit;
    loop {
        let lines = proc.stdout.snapshot();
        let waits = lines.iter().filter(|l| wait_of(l).is_some()).count();
        if waits >= count || Instant::now() >= until || proc.try_status().is_some() {
            return lines;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn waits(lines: &[String]) -> Vec<f64> {
    lines.iter().filter_map(|l| wait_of(l)).collect()
}

fn seconds(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
    format!("[{}] s", shown.join(", "))
}

/// The nominal waits the lines call for: from `interval`, doubled up to `max`, and back to
/// `interval` after a connection on which an `answer:` came. One per `waiting` line.
fn nominal(lines: &[String], interval: f64, max: f64) -> Vec<f64> {
    let mut next = interval;
    let mut answered = false;
    let mut out = Vec::new();
    for line in lines {
        if line.starts_with("answer: ") {
            answered = true;
        } else if wait_of(line).is_some() {
            if answered {
                next = interval;
                answered = false;
            }
            out.push(next);
            next = (next * 2.0).min(max);
        }
    }
    out
}

/// The first wait outside [nominal / 2, nominal], as (index, seen, nominal).
fn out_of_range(seen: &[f64], nominal: &[f64]) -> Option<(usize, f64, f64)> {
    seen.iter()
        .zip(nominal)
        .enumerate()
        .find(|(_, (s, n))| **s < **n / 2.0 - SLACK || **s > **n + SLACK)
        .map(|(i, (s, n))| (i, *s, *n))
}

fn doubles_and_caps(ctx: &Ctx) -> Result<(), Fail> {
    let addr = closed_port()?;
    let proc = client(ctx, addr, "0.1", "0.4")?;
    let lines = lines_until_waits(&proc, 6, Duration::from_secs(4));
    let seen = waits(&lines);
    let expected = nominal(&lines, 0.1, 0.4);
    if let Some((i, s, n)) = out_of_range(&seen, &expected) {
        return Err(fail(
            format!(
                "waits of about {} (each in [half, all])",
                seconds(&expected)
            ),
            format!(
                "{}: wait {} was {s:.3} s, not in [{:.3}, {n:.3}]",
                seconds(&seen),
                i + 1,
                n / 2.0
            ),
            if s > n {
                "double the wait after each failure, but never past --max-wait: `.min(max_wait)`"
            } else {
                "start from --interval and double after each failure; draw each wait in [w/2, w]"
            },
        ));
    }
    if seen.len() >= 6 {
        return Ok(());
    }
    Err(fail(
        "6 `waiting` lines within 4 s (one pause after each refused connect)",
        format!("{} of them: {}", seen.len(), seconds(&seen)),
        "after each failed attempt, call `pause` before the next one",
    ))
}

fn jittered(ctx: &Ctx) -> Result<(), Fail> {
    let addr = closed_port()?;
    // Started together, as clients of a server that just went away.
    let first = client(ctx, addr, "0.2", "0.4")?;
    let second = client(ctx, addr, "0.2", "0.4")?;
    // One deadline for both: the second client ran while the first was awaited.
    let until = Instant::now() + Duration::from_secs(3);
    let runs = [
        lines_until_waits(&first, 4, until - Instant::now()),
        lines_until_waits(&second, 4, until.saturating_duration_since(Instant::now())),
    ];
    let mut all = Vec::new();
    let mut ratios = Vec::new();
    for lines in &runs {
        let seen: Vec<f64> = waits(lines).into_iter().take(4).collect();
        let expected = nominal(lines, 0.2, 0.4);
        if seen.len() < 4 {
            return Err(fail(
                "4 `waiting` lines from each client within 3 s",
                seconds(&seen),
                "after each failed attempt, call `pause` before the next one",
            ));
        }
        if let Some((i, s, n)) = out_of_range(&seen, &expected) {
            return Err(fail(
                format!(
                    "each wait in [wait / 2, wait]: about {}",
                    seconds(&expected)
                ),
                format!(
                    "{}: wait {} was {s:.3} s, not in [{:.3}, {n:.3}]",
                    seconds(&seen),
                    i + 1,
                    n / 2.0
                ),
                "draw each wait between half the nominal wait and all of it, never more",
            ));
        }
        ratios.extend(
            seen.iter()
                .zip(&expected)
                .map(|(s, n)| (s / n * 100.0).round() as i64),
        );
        all.push(seen);
    }
    ratios.sort_unstable();
    ratios.dedup();
    let same = all[0] == all[1];
    // Uniform draws over [w/2, w] give 8 different fractions; a fixed wait gives one.
    if ratios.len() >= 3 && !same {
        return Ok(());
    }
    Err(fail(
        "waits that vary: drawn at random, different in the two clients",
        format!(
            "client 1 {}, client 2 {}",
            seconds(&all[0]),
            seconds(&all[1])
        ),
        if ratios.len() < 3 {
            "draw each wait at random in [wait / 2, wait] (`random_range`)"
        } else {
            "the two clients waited exactly alike: draw from `rand::rng()`, not a fixed seed"
        },
    ))
}

/// A server the checker owns, on `addr`: nothing listens for `refuse`; then it accepts and
/// never answers, except connection number `answer_on` (from 1), whose first `ping` it answers
/// before closing it.
fn phased_server(addr: SocketAddr, refuse: Duration, answer_on: usize) {
    thread::spawn(move || {
        thread::sleep(refuse);
        let Ok(listener) = TcpListener::bind(addr) else {
            return;
        };
        let until = Instant::now() + Duration::from_secs(8);
        let _ = listener.set_nonblocking(true);
        let mut held: Vec<TcpStream> = Vec::new();
        let mut count = 0;
        while Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => {
                    count += 1;
                    let _ = stream.set_nonblocking(false);
                    if count == answer_on {
                        thread::spawn(move || answer_once(stream));
                    } else {
                        held.push(stream); // accepted, never answered
                    }
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
}

fn answer_once(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_ok() {
        let n = line.trim_end().strip_prefix("ping ").unwrap_or("1");
        let _ = (&stream).write_all(format!("pong {n}\n").as_bytes());
    }
    // Closing after the answer ends the connection: the client waits again, from --interval.
}

fn resets_after_an_answer(ctx: &Ctx) -> Result<(), Fail> {
    let addr = closed_port()?;
    // Refused for 0.25 s; then connections 1 and 2 are accepted and never answered, and 3 is
    // answered once and closed.
    phased_server(addr, Duration::from_millis(250), 3);
    let proc = client(ctx, addr, "0.1", "0.4")?;
    let lines = lines_until_waits(&proc, 8, Duration::from_millis(4500));
    let seen = waits(&lines);
    let expected = nominal(&lines, 0.1, 0.4);
    let answers = lines.iter().filter(|l| l.starts_with("answer: ")).count();
    if let Some((i, s, n)) = out_of_range(&seen, &expected) {
        return Err(fail(
            format!(
                "waits of about {}: growing while connects succeed but nothing answers, back to \
                 0.1 s after an answer",
                seconds(&expected)
            ),
            format!(
                "{}: wait {} was {s:.3} s, not in [{:.3}, {n:.3}]",
                seconds(&seen),
                i + 1,
                n / 2.0
            ),
            if s < n {
                "a successful connect proves only that a kernel accepted: reset the wait only \
                 when `converse` returns true"
            } else {
                "after `converse` returned true (the server answered), start again from \
                 --interval"
            },
        ));
    }
    if answers >= 1 && seen.len() >= 8 {
        return Ok(());
    }
    Err(fail(
        "8 `waiting` lines within 4.5 s, and the third accepted connection answered",
        format!("{} waits {}, {answers} answers", seen.len(), seconds(&seen)),
        "after each failed attempt or lost connection, one `pause`, then connect again",
    ))
}

fn no_busy_loop(ctx: &Ctx) -> Result<(), Fail> {
    let addr = closed_port()?;
    let proc = client(ctx, addr, "0.1", "0.4")?;
    let started = Instant::now();
    thread::sleep(Duration::from_millis(1200));
    let Some(used) = proc.cpu_time() else {
        if proc.try_status().is_some() {
            return Err(fail(
                "the client still trying 1.2 s after it started",
                "it had exited",
                "keep trying: `keep_connected` never returns",
            ));
        }
        ctx.note("CPU time is not measured on this platform: the CPU check passes unmeasured");
        return Ok(());
    };
    let wall = started.elapsed();
    // A client asleep in `pause` uses a few milliseconds; one that retries at once, all it gets.
    if used.as_secs_f64() <= 0.2 * wall.as_secs_f64() {
        return Ok(());
    }
    let attempts = proc.stdout.snapshot().len();
    Err(fail(
        format!(
            "at most {:.2} s of CPU in {:.1} s of retrying",
            0.2 * wall.as_secs_f64(),
            wall.as_secs_f64()
        ),
        format!(
            "{:.2} s of CPU, {attempts} lines printed",
            used.as_secs_f64()
        ),
        "a refused connect returns at once: without a pause, the loop spins",
    ))
}
