//! 10_stale_replies: a UDP client that numbers its questions and drops late answers to earlier
//! ones, within each attempt's deadline; run against servers the checker owns.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::ex09_rfc868::udp_socket;
use super::ex10_backoff::cpu_over;
use super::{Check, Exercise};
use crate::harness::{Ctx, Finished};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "10_stale_replies",
    chapter: "10-udp-time-client.md",
    task: "keep only the answer to the question asked: late answers to earlier ones are dropped",
    write: "`receive_answer`",
    checks: &[
        Check {
            name: "a server that answers at once: `#1 …`, `#2 …`, `#3 …`, exit code 0",
            holds: &[1],
            run: answers_at_once,
        },
        Check {
            name: "a server that answers each question's first request 0.45 s late (after the \
                   client asked again): every line answers its own question",
            holds: &[2],
            run: late_answers,
        },
        Check {
            name: "stale answers every 0.1 s and never the right one: the client still gives up \
                   after 3 waits of 0.3 s (by 1.8 s)",
            holds: &[2, 3],
            run: stale_stream,
        },
        Check {
            name: "a server that never answers: one `error:` line, exit code 1",
            holds: &[3, 5],
            run: silent,
        },
        Check {
            name: "waiting 1.2 s for a server that never answers costs (almost) no CPU",
            holds: &[4],
            run: no_cpu_while_waiting,
        },
        Check {
            name: "nothing listens on the port (--timeout 1 --retries 3): the refusal is an \
                   `error:` line and exit code 1 within 1 s, not four waits",
            holds: &[5],
            run: refused,
        },
        Check {
            name: "a decoy `#12 decoy` before the answer to `#1`: `#1 answer` is taken, not the \
                   decoy (the number ends at the space)",
            holds: &[1, 2],
            run: decoy,
        },
    ],
};

/// How the checker's server behaves.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers every request `#k` with `#k answer`, the first one of each `k` after a delay.
    Answer { first_delay: Duration },
    /// Never answers; once asked, sends `#0 stale` every 0.1 s.
    Stale,
    /// Never answers.
    Silent,
    /// Sends a decoy `#k2 decoy` (for `#1`: `#12 decoy`), then the answer `#k answer`.
    Decoy,
}

/// Starts the server for 5 s on a thread; returns its address.
fn server(behaviour: Behaviour) -> Result<SocketAddr, Fail> {
    let socket = udp_socket(Duration::from_millis(50))?;
    let addr = socket
        .local_addr()
        .map_err(|e| fail("a local address", e.to_string(), "is loopback up?"))?;
    thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(5);
        let mut asked: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut spamming = false;
        let mut buf = [0u8; 512];
        while Instant::now() < until {
            let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let request = buf[..n].to_vec();
            let times = asked.entry(request.clone()).or_insert(0);
            *times += 1;
            match behaviour {
                Behaviour::Answer { first_delay } => {
                    let delay = if *times == 1 {
                        first_delay
                    } else {
                        Duration::ZERO
                    };
                    reply_later(&socket, peer, request, b" answer", delay);
                }
                Behaviour::Stale if !spamming => {
                    spamming = true;
                    spam(&socket, peer);
                }
                Behaviour::Decoy => {
                    let mut decoy = request.clone();
                    decoy.extend_from_slice(b"2 decoy");
                    let _ = socket.send_to(&decoy, peer);
                    reply_later(
                        &socket,
                        peer,
                        request,
                        b" answer",
                        Duration::from_millis(50),
                    );
                }
                Behaviour::Stale | Behaviour::Silent => {}
            }
        }
    });
    Ok(addr)
}

fn reply_later(
    socket: &UdpSocket,
    peer: SocketAddr,
    request: Vec<u8>,
    tail: &[u8],
    delay: Duration,
) {
    let Ok(socket) = socket.try_clone() else {
        return;
    };
    let mut reply = request;
    reply.extend_from_slice(tail);
    thread::spawn(move || {
        thread::sleep(delay);
        let _ = socket.send_to(&reply, peer);
    });
}

fn spam(socket: &UdpSocket, peer: SocketAddr) {
    let Ok(socket) = socket.try_clone() else {
        return;
    };
    thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            let _ = socket.send_to(b"#0 stale", peer);
            thread::sleep(Duration::from_millis(100));
        }
    });
}

/// Runs the client against `addr` with `args`, until it exits (6 s at most).
fn client(ctx: &Ctx, addr: SocketAddr, args: &[&str]) -> Result<Finished, Fail> {
    let addr = addr.to_string();
    let mut all = vec!["--addr", addr.as_str()];
    all.extend_from_slice(args);
    let proc = ctx.start(&all)?;
    proc.wait_exit(Duration::from_secs(6)).ok_or_else(|| {
        fail(
            "the client exits within 6 s",
            format!("still running; it printed {:?}", proc.stdout.snapshot()),
            "every wait ends at its deadline: set the read timeout to the time left before each \
             `recv`",
        )
    })
}

fn expect_lines(done: &Finished, hint: &str) -> Result<(), Fail> {
    let right = done.stdout.len() == 3
        && done
            .stdout
            .iter()
            .enumerate()
            .all(|(i, line)| line.starts_with(&format!("#{} ", i + 1)));
    if done.status.code() == Some(0) && right {
        return Ok(());
    }
    Err(fail(
        "exit code 0 and three lines, `#1 …`, `#2 …`, `#3 …`",
        format!(
            "exit code {:?}, lines {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        hint,
    ))
}

fn answers_at_once(ctx: &Ctx) -> Result<(), Fail> {
    let addr = server(Behaviour::Answer {
        first_delay: Duration::ZERO,
    })?;
    let done = client(ctx, addr, &["--count", "3", "--timeout", "0.3"])?;
    expect_lines(
        &done,
        "return the datagram that starts with `#ID ` as it arrived: `Ok(Some(buf[..n].to_vec()))`",
    )
}

fn late_answers(ctx: &Ctx) -> Result<(), Fail> {
    let addr = server(Behaviour::Answer {
        first_delay: Duration::from_millis(450),
    })?;
    let done = client(ctx, addr, &["--count", "3", "--timeout", "0.3"])?;
    expect_lines(
        &done,
        "the late answer to question #1 arrives while you wait for #2: a datagram that does \
         not start with `#ID ` (your `id`, then a space) is not the answer; drop it and wait on",
    )
}

fn stale_stream(ctx: &Ctx) -> Result<(), Fail> {
    let addr = server(Behaviour::Stale)?;
    let done = client(
        ctx,
        addr,
        &["--count", "1", "--timeout", "0.3", "--retries", "2"],
    )?;
    let one_error = done.stderr.len() == 1 && done.stderr[0].starts_with("error: ");
    let seconds = done.elapsed.as_secs_f64();
    if done.status.code() == Some(1) && one_error && (0.8..=1.8).contains(&seconds) {
        return Ok(());
    }
    Err(fail(
        "one `error:` line and exit code 1, 0.8 s to 1.8 s after the start (3 waits of 0.3 s)",
        format!(
            "exit code {:?} after {seconds:.2} s, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        if done.stdout.is_empty() {
            "a read timeout restarts with every `recv`: set it before each one to the time left \
             until `deadline`, so that the stale datagrams cannot stretch the wait"
        } else {
            "`#0 stale` is not the answer to question #1"
        },
    ))
}

fn silent(ctx: &Ctx) -> Result<(), Fail> {
    let addr = server(Behaviour::Silent)?;
    let done = client(
        ctx,
        addr,
        &["--count", "1", "--timeout", "0.2", "--retries", "2"],
    )?;
    let one_error = done.stderr.len() == 1 && done.stderr[0].starts_with("error: ");
    if done.status.code() == Some(1) && one_error && done.stdout.is_empty() {
        return Ok(());
    }
    Err(fail(
        "one `error:` line, exit code 1, nothing on stdout",
        format!(
            "exit code {:?}, stdout {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        "at the deadline, return `Ok(None)`: the starter asks again, then reports the error",
    ))
}

fn no_cpu_while_waiting(ctx: &Ctx) -> Result<(), Fail> {
    let addr = server(Behaviour::Silent)?.to_string();
    let proc = ctx.start(&[
        "--addr",
        &addr,
        "--count",
        "1",
        "--timeout",
        "0.7",
        "--retries",
        "1",
    ])?;
    let measured = cpu_over(
        &proc,
        Duration::from_millis(200),
        Duration::from_millis(900),
    );
    let still_running = proc.try_status().is_none();
    let _ = proc.wait_exit(Duration::from_secs(3));
    let Some((used, wall)) = measured else {
        if !still_running {
            return Err(fail(
                "the client still waiting 1.1 s after it started (2 waits of 0.7 s)",
                format!("it had exited; stderr {:?}", proc.stderr.snapshot()),
                "wait until the deadline for the answer",
            ));
        }
        ctx.note("CPU time is not measured on this platform: the CPU check passes unmeasured");
        return Ok(());
    };
    // `cpu_time` counts time running or waiting to run: a blocked `recv` leaves it near zero
    // however busy the machine is, a polling loop fills it.
    if used <= 0.25 * wall {
        return Ok(());
    }
    Err(fail(
        format!(
            "at most {:.2} s on the CPU in {wall:.1} s of waiting",
            0.25 * wall
        ),
        format!("{used:.2} s on the CPU (running or waiting to run)"),
        "block in `recv` with a read timeout (the time left); a non-blocking socket polled in \
         a loop spins",
    ))
}

fn refused(ctx: &Ctx) -> Result<(), Fail> {
    // A port nobody listens on: its "port unreachable" comes back as `ConnectionRefused`.
    let addr = {
        let socket = udp_socket(Duration::from_millis(50))?;
        socket
            .local_addr()
            .map_err(|e| fail("a local address", e.to_string(), "is loopback up?"))?
    };
    let done = client(
        ctx,
        addr,
        &["--count", "1", "--timeout", "1", "--retries", "3"],
    )?;
    let seconds = done.elapsed.as_secs_f64();
    let refused = done.stderr.join("\n").contains("refused");
    if done.status.code() == Some(1) && refused && seconds <= 1.0 {
        return Ok(());
    }
    Err(fail(
        "exit code 1 within 1 s, with an `error:` line that says the connection was refused",
        format!(
            "exit code {:?} after {seconds:.2} s, stderr {:?}",
            done.status.code(),
            done.stderr
        ),
        if refused || seconds > 1.0 {
            "`ConnectionRefused` is not a timeout and not a datagram to drop: return it \
             (`Err(err) => return Err(err)`)"
        } else {
            "only the timeout is `Ok(None)`: an error such as `ConnectionRefused` is returned"
        },
    ))
}

fn decoy(ctx: &Ctx) -> Result<(), Fail> {
    let addr = server(Behaviour::Decoy)?;
    let done = client(ctx, addr, &["--count", "3", "--timeout", "0.5"])?;
    let answers = done.stdout.len() == 3
        && done
            .stdout
            .iter()
            .enumerate()
            .all(|(i, line)| *line == format!("#{} answer", i + 1));
    if done.status.code() == Some(0) && answers {
        return Ok(());
    }
    Err(fail(
        "exit code 0 and `#1 answer`, `#2 answer`, `#3 answer`: the decoys `#12 decoy`, \
         `#22 decoy`, `#32 decoy` dropped",
        format!(
            "exit code {:?}, lines {:?}, stderr {:?}",
            done.status.code(),
            done.stdout,
            done.stderr
        ),
        if done.stdout.iter().any(|l| l.contains("decoy")) {
            "compare with `#ID ` *with* the space: `#1` is also the start of `#12 …`"
        } else {
            "return the datagram that starts with `#ID ` as it arrived"
        },
    ))
}
