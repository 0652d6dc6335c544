//! 16_two_deadlines: a server that pings a quiet connection and drops a client with no complete
//! line for `--timeout`: two deadlines in one loop.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, connect, read_line};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "16_two_deadlines",
    chapter: "16-heartbeat.md",
    task: "heartbeats both ways: ping a quiet connection, drop a client with no complete line",
    write: "`watch`",
    checks: &[
        Check {
            name: "`PING` is answered `PONG`, `hello` is answered `echo: hello`",
            holds: &[1],
            run: answers,
        },
        Check {
            name: "a silent client (--interval 0.25 --timeout 1): a few `PING`s, then \
                   `BYE timeout` and the close after about 1 s",
            holds: &[2, 3],
            run: silent_client,
        },
        Check {
            name: "a client that sends `PONG` every 0.1 s for 1.6 s: it is pinged all the same, \
                   and never dropped",
            holds: &[2, 3],
            run: chatty_client,
        },
        Check {
            name: "a client that trickles a byte every 0.1 s, never a whole line: dropped after \
                   about 1 s, like a silent one",
            holds: &[3],
            run: trickler,
        },
        Check {
            name: "a client that closes is `disconnected:` and one that resets is `lost:`, each \
                   within 0.6 s, long before the 1 s drop deadline",
            holds: &[4],
            run: closed_and_reset,
        },
        Check {
            name: "a client that waits quietly (--interval 0.5 --timeout 2): the server's thread \
                   sleeps in `read`, (almost) no CPU in 1.2 s",
            holds: &[5],
            run: no_cpu_while_waiting,
        },
        Check {
            name: "two lines in one write (--interval 1): both answered within 0.5 s, not the \
                   second one a read later",
            holds: &[1],
            run: merged_lines,
        },
    ],
};

const ARGS: &[&str] = &["--interval", "0.25", "--timeout", "1"];

/// A line the server sent, and when (since the check's reference instant).
struct Heard {
    at: Duration,
    line: String,
}

/// Reads lines until the server closes or `until` has passed since `since`.
fn listen(
    stream: &mut TcpStream,
    since: Instant,
    until: Duration,
) -> (Vec<Heard>, End) {
    let mut heard = Vec::new();
    loop {
        let Some(left) = until.checked_sub(since.elapsed()) else {
            return (heard, End::Open);
        };
        let (line, end) = read_line(stream, left);
        if !line.is_empty() {
            heard.push(Heard {
                at: since.elapsed(),
                line: String::from_utf8_lossy(&line).trim_end().to_string(),
            });
        }
        if end != End::Open {
            return (heard, end);
        }
    }
}

/// The lines heard, for a message: `0.26 s PING, 0.51 s PING, …`.
fn shown(heard: &[Heard], end: &End) -> String {
    let mut parts: Vec<String> = heard
        .iter()
        .map(|h| format!("{:.2} s {:?}", h.at.as_secs_f64(), h.line))
        .collect();
    parts.push(match end {
        End::Closed => "then the close".to_string(),
        End::Reset => "then a reset".to_string(),
        End::Open => "and the connection still open".to_string(),
    });
    if heard.is_empty() {
        parts.insert(0, "nothing".to_string());
    }
    parts.join(", ")
}

/// Sends `piece` every `every` from another thread, until stopped or the server hangs up.
fn keep_sending(stream: &TcpStream, piece: &'static [u8], every: Duration) -> Sender {
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = stream.try_clone().ok();
    let flag = Arc::clone(&stop);
    let thread = thread::spawn(move || {
        let Some(writer) = writer.as_mut() else {
            return;
        };
        while !flag.load(Ordering::Relaxed) {
            if writer.write_all(piece).is_err() {
                return;
            }
            thread::sleep(every);
        }
    });
    Sender { stop, thread }
}

struct Sender {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Sender {
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

fn start(ctx: &Ctx) -> Result<(crate::harness::Proc, SocketAddr), Fail> {
    ctx.server(ARGS)
}

fn answers(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let mut stream = connect(addr)?;
    for (send, expected) in [("PING", "PONG"), ("hello", "echo: hello")] {
        let since = Instant::now();
        let _ = stream.write_all(format!("{send}\n").as_bytes());
        let (heard, end) = listen(&mut stream, since, Duration::from_millis(200));
        // The server's own PINGs may come in between: the answer is the first other line.
        let answer = heard.iter().find(|h| h.line != "PING");
        if answer.is_none_or(|h| h.line != expected) {
            return Err(fail(
                format!("{expected:?} within 0.2 s of sending {send:?}"),
                shown(&heard, &end),
                "take every complete line out of `Lines` and pass it to `respond` as soon as \
                 it is in",
            ));
        }
    }
    Ok(())
}

/// The check of a client that must be dropped about `timeout` (1 s) after `since`.
fn expect_dropped(heard: &[Heard], end: &End, hint: &str) -> Result<(), Fail> {
    let bye = heard.iter().find(|h| h.line == "BYE timeout");
    let on_time = bye.is_some_and(|b| {
        b.at >= Duration::from_millis(700) && b.at <= Duration::from_millis(2200)
    });
    if on_time && *end == End::Closed {
        return Ok(());
    }
    Err(fail(
        "`BYE timeout` between 0.7 s and 2.2 s (--timeout 1), then the close",
        shown(heard, end),
        hint,
    ))
}

fn silent_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let since = Instant::now();
    let mut stream = connect(addr)?;
    let (heard, end) = listen(&mut stream, since, Duration::from_millis(2500));
    let pings = heard
        .iter()
        .take_while(|h| h.line != "BYE timeout")
        .filter(|h| h.line == "PING")
        .count();
    if pings < 2 {
        return Err(fail(
            "a `PING` about every 0.25 s (--interval 0.25) while the server sends nothing",
            shown(&heard, &end),
            "the ping deadline is `last_sent + interval`: when it has passed, send `PING` and \
             move `last_sent`",
        ));
    }
    expect_dropped(
        &heard,
        &end,
        "the drop deadline is `last_line + timeout`: read with a timeout of the time left to \
         the nearer deadline, and check it again after every read",
    )
}

fn chatty_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let since = Instant::now();
    let mut stream = connect(addr)?;
    let sender = keep_sending(&stream, b"PONG\n", Duration::from_millis(100));
    let (heard, end) = listen(&mut stream, since, Duration::from_millis(1600));
    sender.stop();
    let pings = heard.iter().filter(|h| h.line == "PING").count();
    let dropped = end != End::Open || heard.iter().any(|h| h.line == "BYE timeout");
    if dropped {
        return Err(fail(
            "no `BYE`, no close: a complete line every 0.1 s keeps the client in (--timeout 1)",
            shown(&heard, &end),
            "every complete line moves the drop deadline: `last_line = Instant::now()`",
        ));
    }
    if pings < 3 {
        return Err(fail(
            "a `PING` about every 0.25 s for 1.6 s (at least 3): `PONG` gets no answer, so the \
             server sends nothing else",
            shown(&heard, &end),
            "the ping deadline counts from what the server *sent* (`last_sent`), not from what \
             it received",
        ));
    }
    Ok(())
}

fn trickler(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx)?;
    let mut stream = connect(addr)?;
    let _ = stream.write_all(b"hello\n");
    // The complete line's moment: from here, only bytes come, never a whole line.
    let since = Instant::now();
    let sender = keep_sending(&stream, b"x", Duration::from_millis(100));
    let (heard, end) = listen(&mut stream, since, Duration::from_millis(2500));
    sender.stop();
    expect_dropped(
        &heard,
        &end,
        "bytes are not a line: only a complete line (`next_line` returning one) moves the drop \
         deadline, never a `read` that returned something",
    )
}

fn closed_and_reset(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx)?;
    for reset in [false, true] {
        let mut stream = connect(addr)?;
        let me = stream.local_addr().map_err(|e| {
            fail(
                "the checker's own address",
                e.to_string(),
                "run the check again",
            )
        })?;
        let _ = stream.write_all(b"hello\n");
        let (line, _) = read_line(&mut stream, Duration::from_millis(1000));
        if line != b"echo: hello\n" && line != b"PING\n" {
            return Err(fail(
                "`echo: hello` after sending `hello`",
                format!("{:?}", String::from_utf8_lossy(&line)),
                "pass every complete line to `respond`",
            ));
        }
        if reset {
            // SO_LINGER 0: the close sends a reset, and the server's next `read` fails with
            // ECONNRESET.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        drop(stream);
        let expected = if reset {
            format!("lost: {me}: ")
        } else {
            format!("disconnected: {me}")
        };
        if server
            .wait_for_line(&expected, Duration::from_millis(600))
            .is_some()
        {
            continue;
        }
        let mine: Vec<String> = server
            .stdout
            .snapshot()
            .into_iter()
            .filter(|l| l.contains(&me.to_string()))
            .collect();
        let dropped = mine.iter().any(|l| l.starts_with("dropped:"));
        return Err(fail(
            format!(
                "a `{expected}…` line within 0.6 s of the {}",
                if reset { "reset" } else { "close" }
            ),
            format!("the server's lines about {me} so far: {mine:?}"),
            match (reset, dropped) {
                (false, _) => {
                    "`read` returning `Ok(0)` is the end of the stream: return \
                               `Ok(Ending::Closed)` at once (a loop that goes on reads 0 again \
                               and again)"
                }
                (true, true) => {
                    "only a timeout (`timed_out(&err)`) or `Interrupted` means \
                                 \"read again\": any other error is returned, it will not get \
                                 better"
                }
                (true, false) => {
                    "return the error of a failed `read` (`Err(err) => return \
                                  Err(err)`): the starter prints it as `lost: PEER: …`"
                }
            },
        ));
    }
    Ok(())
}

fn no_cpu_while_waiting(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&["--interval", "0.5", "--timeout", "2"])?;
    let stream = connect(addr)?;
    let _ = server.wait_for_line("connected: ", Duration::from_secs(2));
    let before = server.cpu_time();
    let started = Instant::now();
    thread::sleep(Duration::from_millis(1200));
    let after = server.cpu_time();
    let wall = started.elapsed().as_secs_f64();
    drop(stream);
    let Some(used) = after
        .zip(before)
        .map(|(a, b)| a.saturating_sub(b).as_secs_f64())
    else {
        ctx.note("CPU time is not measured on this platform: the CPU check passes unmeasured");
        return Ok(());
    };
    // `cpu_time` counts time running or waiting to run: a thread asleep in `read` adds next to
    // nothing however busy the machine is; a polling loop adds all of its time.
    if used <= 0.25 * wall {
        return Ok(());
    }
    Err(fail(
        format!(
            "at most {:.2} s on the CPU in {wall:.1} s with one quiet client",
            0.25 * wall
        ),
        format!("{used:.2} s"),
        "sleep in `read` until the nearer deadline: `set_read_timeout(Some(time left))`, never a \
         non-blocking socket polled in a loop",
    ))
}

fn merged_lines(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--interval", "1", "--timeout", "3"])?;
    let mut stream = connect(addr)?;
    let since = Instant::now();
    let _ = stream.write_all(b"one\ntwo\n");
    let (heard, end) = listen(&mut stream, since, Duration::from_millis(1500));
    let answers: Vec<&Heard> = heard.iter().filter(|h| h.line != "PING").collect();
    let on_time = answers.len() >= 2
        && answers[0].line == "echo: one"
        && answers[1].line == "echo: two"
        && answers[1].at <= Duration::from_millis(500);
    if on_time {
        return Ok(());
    }
    Err(fail(
        "`echo: one` and `echo: two` within 0.5 s of one write holding both lines",
        shown(&heard, &end),
        "one read may bring several lines: answer every complete line there is \
         (`while let Some(line) = lines.next_line()?`) before reading again",
    ))
}
