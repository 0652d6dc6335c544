//! 18_async_lifetime: a tokio task per connection, a wait that awaits, and a total lifetime.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, Proc, connect, read_line};
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
            holds: &[3],
            run: answers,
        },
        Check {
            name: "while one client waits on `WAIT 1500`, another's `hi` is answered at once",
            holds: &[1, 4],
            run: one_waits_another_talks,
        },
        Check {
            name: "--lifetime 1: a client that talks every 0.2 s gets `BYE lifetime` and the \
                   close after about 1 s",
            holds: &[5],
            run: chatty_client,
        },
        Check {
            name: "--lifetime 1: a client in the middle of `WAIT 5000` gets `BYE lifetime` and \
                   the close after about 1 s",
            holds: &[5],
            run: in_the_middle_of_a_wait,
        },
        Check {
            name: "`connected: PEER` for each client; one that closes its side is closed too, \
                   with no `error:` line; one that resets gets `error: PEER: …`",
            holds: &[2, 6],
            run: close_and_reset,
        },
        Check {
            name: "out of descriptors (the server's limit lowered): `accept failed: …` is \
                   printed, the loop pauses instead of spinning, and serves again once \
                   descriptors are free",
            holds: &[2],
            run: accept_fails,
        },
        Check {
            name: "--lifetime 1: a client that sends and never reads (the server's writes wait) \
                   is still cut off, within 3 s",
            holds: &[5],
            run: client_stops_reading,
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

/// `connected: ME` for the checker's `stream`, within 2 s.
fn expect_connected(server: &Proc, stream: &TcpStream) -> Result<String, Fail> {
    let me = stream
        .local_addr()
        .map_err(|e| {
            fail(
                "the checker's own address",
                e.to_string(),
                "run the check again",
            )
        })?
        .to_string();
    if server
        .wait_for_line(&format!("connected: {me}"), Duration::from_secs(2))
        .is_some()
    {
        return Ok(me);
    }
    Err(fail(
        format!("the line `connected: {me}` once the client from {me} is accepted"),
        format!("stdout {:?}", server.stdout.snapshot()),
        "print `connected: {peer}` with the address `accept` returned, for every client",
    ))
}

fn close_and_reset(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&["--lifetime", "10"])?;
    // A client that says hello and closes its side: `serve` ends with `Ok(())`.
    let mut stream = connect(addr)?;
    let me = expect_connected(&server, &stream)?;
    say(&mut stream, "hello");
    let (line, _) = read_line(&mut stream, Duration::from_secs(2));
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let since = Instant::now();
    let (heard, end) = listen(&mut stream, since, Duration::from_secs(2), |_| false);
    thread::sleep(Duration::from_millis(200));
    let errors: Vec<String> = server
        .stdout
        .snapshot()
        .into_iter()
        .filter(|l| l.starts_with(&format!("error: {me}")))
        .collect();
    if line != b"echo: hello\n" || end != End::Closed || !errors.is_empty() {
        return Err(fail(
            "\"echo: hello\", then the close within 2 s of the client closing its side, and no \
             `error:` line for it",
            format!(
                "{:?}, then {}; error lines {errors:?}",
                String::from_utf8_lossy(&line),
                shown(&heard, &end)
            ),
            if !errors.is_empty() {
                "`next_line` returning `Ok(None)` is the client's close: the normal end, \
                 `Ok(())`, not an error"
            } else {
                "when `next_line` returns `Ok(None)`, leave the loop and return: dropping the \
                 stream closes the connection"
            },
        ));
    }
    // A client that resets: the read fails, and the error is printed with the peer.
    let stream = connect(addr)?;
    let me = expect_connected(&server, &stream)?;
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
    if server
        .wait_for_line(&format!("error: {me}: "), Duration::from_secs(2))
        .is_some()
    {
        return Ok(());
    }
    Err(fail(
        format!(
            "a line `error: {me}: …` after the client from {me} reset the connection"
        ),
        format!("stdout {:?}", server.stdout.snapshot()),
        "when `serve` returns an error, print it: `println!(\"error: {peer}: {err}\")` in the \
         task, and return read errors from `serve` (`?`), not `Ok(())`",
    ))
}

fn accept_fails(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&["--lifetime", "10"])?;
    // Lower the server's descriptor limit to what it has open now, plus one: the first client
    // is accepted, the next accept fails with EMFILE ("too many open files").
    let open =
        std::fs::read_dir(format!("/proc/{}/fd", server.pid())).map(|d| d.count());
    let limited = open.as_ref().ok().is_some_and(|&n| {
        let limit = format!("--nofile={}", n + 1);
        std::process::Command::new("prlimit")
            .args(["--pid", &server.pid().to_string(), &limit])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !limited {
        ctx.note(
            "the descriptor limit could not be lowered here (prlimit): not tried",
        );
        return Ok(());
    }
    let first = connect(addr)?;
    expect_connected(&server, &first)?;
    let mut waiting = connect(addr)?; // in the backlog: its accept fails while `first` is open
    let Some(_) = server.wait_for_line("accept failed", Duration::from_secs(2)) else {
        return Err(fail(
            "a line `accept failed: …` while the server has no descriptor left",
            format!("stdout {:?}", server.stdout.snapshot()),
            "an `accept` error is printed (`println!(\"accept failed: {err}\")`), and the loop \
             goes on",
        ));
    };
    // The error lasts as long as `first` holds the last descriptor: a loop that retries at
    // once spins on it.
    let before = server.cpu_time();
    let started = Instant::now();
    thread::sleep(Duration::from_millis(1000));
    let used = server
        .cpu_time()
        .zip(before)
        .map(|(after, before)| after.saturating_sub(before).as_secs_f64());
    let wall = started.elapsed().as_secs_f64();
    if let Some(used) = used
        && used > 0.3 * wall
    {
        return Err(fail(
            format!(
                "at most {:.2} s on the CPU in {wall:.1} s of failing accepts",
                0.3 * wall
            ),
            format!(
                "{used:.2} s, and {} `accept failed` lines",
                server
                    .stdout
                    .snapshot()
                    .iter()
                    .filter(|l| l.starts_with("accept failed"))
                    .count()
            ),
            "out of descriptors, `accept` fails again at once: pause a little after an error \
             (`sleep(Duration::from_millis(100)).await`) before the next try",
        ));
    }
    drop(first);
    let since = Instant::now();
    say(&mut waiting, "hi");
    let (heard, end) = listen(&mut waiting, since, Duration::from_secs(2), |h| {
        !h.is_empty()
    });
    if heard.first().is_some_and(|h| h.line == "echo: hi") {
        return Ok(());
    }
    Err(fail(
        "\"echo: hi\" for the client that waited, once the first one closed and a descriptor \
         was free",
        format!(
            "{}; the server's last lines {:?}",
            shown(&heard, &end),
            server
                .stdout
                .snapshot()
                .iter()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
        ),
        "an accept error is not the end of the server: print it and go on accepting",
    ))
}

fn client_stops_reading(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&["--lifetime", "1"])?;
    let since = Instant::now();
    let mut stream = connect(addr)?;
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    // Lines the server echoes: with nobody reading, its writes soon wait. When it closes the
    // connection with our lines still unread, the kernel resets it, and our next write fails.
    let line = format!("{}\n", "z".repeat(1000));
    let mut written = 0usize;
    while since.elapsed() < Duration::from_millis(3500) {
        match stream.write(line.as_bytes()) {
            Ok(n) => written += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                let at = since.elapsed();
                if at >= Duration::from_millis(800) {
                    return Ok(());
                }
                return Err(fail(
                    "the connection cut off about 1 s after connecting (--lifetime 1)",
                    format!("cut off after {:.2} s", at.as_secs_f64()),
                    "the lifetime starts when the client connects",
                ));
            }
        }
    }
    Err(fail(
        "the connection cut off within 3 s (--lifetime 1, then at most 1 s for `BYE`), though \
         the client never reads",
        format!(
            "still open after {:.1} s; the client wrote {written} bytes",
            since.elapsed().as_secs_f64()
        ),
        "the deadline must also end a write that waits (`write_all(…).await` on a client that \
         does not read): put it around the whole conversation, not only around the reads",
    ))
}
