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
            holds: &[],
            run: answers,
        },
        Check {
            name: "a silent client (--interval 0.25 --timeout 1): a few `PING`s, then \
                   `BYE timeout` and the close after about 1 s",
            holds: &[],
            run: silent_client,
        },
        Check {
            name: "a client that sends `PONG` every 0.1 s for 1.6 s: it is pinged all the same, \
                   and never dropped",
            holds: &[],
            run: chatty_client,
        },
        Check {
            name: "a client that trickles a byte every 0.1 s, never a whole line: dropped after \
                   about 1 s, like a silent one",
            holds: &[],
            run: trickler,
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
