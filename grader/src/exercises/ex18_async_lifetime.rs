//! 18_async_lifetime: a tokio task per connection, a wait that awaits, and a total lifetime.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, connect, read_line};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "18_async_lifetime",
    chapter: "18-async-server.md",
    task: "a tokio task per connection: a wait that awaits, and a lifetime over everything",
    write: "`accept_loop` and `serve`",
    checks: &[
        Check {
            name: "`hello` is answered `echo: hello`, `WAIT 200` is answered `waited 200` after \
                   0.2 s",
            holds: &[],
            run: answers,
        },
        Check {
            name: "while one client waits on `WAIT 1500`, another's `hi` is answered at once",
            holds: &[],
            run: one_waits_another_talks,
        },
        Check {
            name: "--lifetime 1: a client that talks every 0.2 s gets `BYE lifetime` and the \
                   close after about 1 s",
            holds: &[],
            run: chatty_client,
        },
        Check {
            name: "--lifetime 1: a client in the middle of `WAIT 5000` gets `BYE lifetime` and \
                   the close after about 1 s",
            holds: &[],
            run: in_the_middle_of_a_wait,
        },
    ],
};

/// A line the server sent, and when (since the check's reference instant).
struct Heard {
    at: Duration,
    line: String,
}

/// Reads lines until the server closes, `until` has passed since `since`, or `enough` says so.
fn listen(
    stream: &mut TcpStream,
    since: Instant,
    until: Duration,
    enough: impl Fn(&[Heard]) -> bool,
) -> (Vec<Heard>, End) {
    let mut heard = Vec::new();
    loop {
        if enough(&heard) {
            return (heard, End::Open);
        }
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

fn say(stream: &mut TcpStream, line: &str) {
    let _ = stream.write_all(format!("{line}\n").as_bytes());
}

fn answers(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--lifetime", "10"])?;
    let mut stream = connect(addr)?;
    let since = Instant::now();
    say(&mut stream, "hello");
    let (heard, end) = listen(&mut stream, since, Duration::from_secs(2), |h| {
        !h.is_empty()
    });
    if heard.first().is_none_or(|h| h.line != "echo: hello") {
        return Err(fail(
            "\"echo: hello\" in answer to `hello`",
            shown(&heard, &end),
            "read lines with `lines.next_line().await?`, answer each with `writer.write_all`",
        ));
    }
    let since = Instant::now();
    say(&mut stream, "WAIT 200");
    let (heard, end) = listen(&mut stream, since, Duration::from_secs(2), |h| {
        !h.is_empty()
    });
    let on_time = |h: &Heard| {
        h.line == "waited 200"
            && h.at >= Duration::from_millis(180)
            && h.at <= Duration::from_millis(1200)
    };
    if heard.first().is_some_and(on_time) {
        return Ok(());
    }
    Err(fail(
        "\"waited 200\", between 0.18 s and 1.2 s after `WAIT 200`",
        shown(&heard, &end),
        "`Request::Wait(ms)`: `sleep(Duration::from_millis(ms)).await`, then the answer",
    ))
}

fn one_waits_another_talks(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--lifetime", "10"])?;
    let mut first = connect(addr)?;
    say(&mut first, "WAIT 1500");
    thread::sleep(Duration::from_millis(150));
    let mut second = connect(addr)?;
    let since = Instant::now();
    say(&mut second, "hi");
    let (heard, end) = listen(&mut second, since, Duration::from_millis(1000), |h| {
        !h.is_empty()
    });
    if heard.first().is_some_and(|h| h.line == "echo: hi") {
        return Ok(());
    }
    Err(fail(
        "\"echo: hi\" within 1 s, while the first client's `WAIT 1500` is under way",
        shown(&heard, &end),
        "every connection in a task of its own (`tokio::spawn`), and a wait that *awaits* \
         (`tokio::time::sleep`): `std::thread::sleep` stops the runtime's only thread",
    ))
}

/// `BYE lifetime` between 0.8 s and 2.2 s, then the close.
fn expect_bye(heard: &[Heard], end: &End, hint: &str) -> Result<(), Fail> {
    let bye = heard.iter().find(|h| h.line == "BYE lifetime");
    let on_time = bye.is_some_and(|b| {
        b.at >= Duration::from_millis(800) && b.at <= Duration::from_millis(2200)
    });
    let waited = heard.iter().any(|h| h.line.starts_with("waited"));
    if on_time && !waited && *end == End::Closed {
        return Ok(());
    }
    Err(fail(
        "`BYE lifetime` between 0.8 s and 2.2 s after connecting (--lifetime 1), then the close",
        shown(heard, end),
        hint,
    ))
}

fn chatty_client(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--lifetime", "1"])?;
    let since = Instant::now();
    let mut stream = connect(addr)?;
    let mut writer = stream.try_clone().map_err(|e| {
        fail(
            "a second handle on the checker's socket",
            e.to_string(),
            "run the check again",
        )
    })?;
    let talker = thread::spawn(move || {
        for _ in 0..12 {
            if writer.write_all(b"ping\n").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    let (heard, end) =
        listen(&mut stream, since, Duration::from_millis(2500), |_| false);
    drop(stream);
    let _ = talker.join();
    expect_bye(
        &heard,
        &end,
        "the lifetime is one deadline from the connection (`Instant::now() + lifetime`), not a \
         timeout per read that starts again with every line",
    )
}

fn in_the_middle_of_a_wait(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--lifetime", "1"])?;
    let since = Instant::now();
    let mut stream = connect(addr)?;
    say(&mut stream, "WAIT 5000");
    let (heard, end) =
        listen(&mut stream, since, Duration::from_millis(2500), |_| false);
    expect_bye(
        &heard,
        &end,
        "put the deadline around the whole conversation (`timeout_at(deadline, async { … })`), \
         so that it also ends a `sleep` under way",
    )
}
