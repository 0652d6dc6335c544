//! 10_stale_replies: a UDP client that numbers its questions and drops late answers to earlier
//! ones, within each attempt's deadline; run against servers the checker owns.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::ex09_rfc868::udp_socket;
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
            holds: &[],
            run: answers_at_once,
        },
        Check {
            name: "a server that answers each question's first request 0.45 s late (after the \
                   client asked again): every line answers its own question",
            holds: &[],
            run: late_answers,
        },
        Check {
            name: "stale answers every 0.1 s and never the right one: the client still gives up \
                   after 3 waits of 0.3 s (by 1.8 s)",
            holds: &[],
            run: stale_stream,
        },
        Check {
            name: "a server that never answers: one `error:` line, exit code 1",
            holds: &[],
            run: silent,
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
