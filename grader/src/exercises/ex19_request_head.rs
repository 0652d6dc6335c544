//! 19_request_head: an HTTP request head read from the socket, with a cap and a deadline.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "19_request_head",
    chapter: "19-http-server.md",
    task: "a request head read from the socket: pipelined, capped, within a deadline",
    write: "`read_head`",
    checks: &[
        Check {
            name: "three pipelined requests in one write: three answers, in order",
            holds: &[1],
            run: pipelined,
        },
        Check {
            name: "a request cut in two at every byte offset: the same answer each time",
            holds: &[1],
            run: every_split,
        },
        Check {
            name: "a head of exactly --max-head (64) bytes is answered 200; of 65 bytes, 431",
            holds: &[2],
            run: at_the_limit,
        },
        Check {
            name: "a head that never ends, sent without pause: 431 within 2 s",
            holds: &[2],
            run: endless_head,
        },
        Check {
            name: "a head trickled one byte every 100 ms: 408 at the 1 s deadline",
            holds: &[3],
            run: trickler,
        },
        Check {
            name: "an idle connection is closed at the deadline without a byte; \
                   one ended mid-head gets no answer",
            holds: &[4],
            run: idle_and_cut,
        },
        Check {
            name: "a client that sends nothing for 1.5 s costs the server no CPU",
            holds: &[5],
            run: no_spinning,
        },
    ],
};

const MAX_HEAD: usize = 64;

/// A server with a 64-byte cap and a 1 s deadline (or the one given).
fn start(
    ctx: &Ctx,
    timeout: &str,
) -> Result<(crate::harness::Proc, SocketAddr), Fail> {
    ctx.server(&["--max-head", "64", "--header-timeout", timeout])
}

fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

/// The answer the server gives to a head whose request line is `line`.
fn answer(line: &str) -> String {
    let body = format!("{line}\n");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Sends `pieces` (a pause before each but the first), half-closes, reads to the end.
fn exchange(
    addr: SocketAddr,
    pieces: &[&[u8]],
    pause: Duration,
) -> Result<(Vec<u8>, End), Fail> {
    let mut stream = connect(addr)?;
    let _ = stream.set_nodelay(true);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            thread::sleep(pause);
        }
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(read_to_end(&mut stream, WAIT))
}

fn pipelined(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx, "5")?;
    let sent = format!("{}{}{}", request("/a"), request("/b"), request("/c"));
    let (got, end) = exchange(addr, &[sent.as_bytes()], Duration::ZERO)?;
    let wanted = format!(
        "{}{}{}",
        answer("GET /a HTTP/1.1"),
        answer("GET /b HTTP/1.1"),
        answer("GET /c HTTP/1.1")
    );
    if got == wanted.as_bytes() && end == End::Closed {
        return Ok(());
    }
    Err(fail(
        format!(
            "three answers, for /a, /b and /c: {}",
            show(wanted.as_bytes())
        ),
        format!("{} ({end:?})", show(&got)),
        "one read may bring several heads: take the first out of `pending` and keep the \
         bytes after it there, in order, for the next call",
    ))
}

fn every_split(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx, "5")?;
    let sent = request("/split");
    let wanted = answer("GET /split HTTP/1.1");
    for at in 1..sent.len() {
        let (first, rest) = sent.as_bytes().split_at(at);
        // Long enough for the server to read the first piece alone, on a busy machine too.
        let (got, end) = exchange(addr, &[first, rest], Duration::from_millis(25))?;
        if got != wanted.as_bytes() || end != End::Closed {
            return Err(fail(
                format!("{}, then the end of the stream", show(wanted.as_bytes())),
                format!(
                    "{} ({end:?}) when the request was cut after byte {at}: {} then {}",
                    show(&got),
                    show(first),
                    show(rest)
                ),
                "look for the end of the head in everything received so far, not only in \
                 what the last read returned: `\\r\\n\\r\\n` itself may arrive in two reads",
            ));
        }
    }
    Ok(())
}

/// A head of exactly `len` bytes: `GET /… HTTP/1.1\r\nHost: x\r\n\r\n` with a padded path.
fn head_of(len: usize) -> String {
    let pad = len - request("/").len();
    request(&format!("/{}", "p".repeat(pad)))
}

fn at_the_limit(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx, "5")?;
    let exact = head_of(MAX_HEAD);
    let (got, _) = exchange(addr, &[exact.as_bytes()], Duration::ZERO)?;
    if !got.starts_with(b"HTTP/1.1 200 ") {
        return Err(fail(
            format!(
                "`200` for a head of exactly {MAX_HEAD} bytes (its `\\r\\n\\r\\n` included)"
            ),
            show(&got),
            "a head of exactly `max_head` bytes is accepted: count the `\\r\\n\\r\\n` in, and \
             compare with `>` where it is too large",
        ));
    }
    let over = head_of(MAX_HEAD + 1);
    let (got, _) = exchange(addr, &[over.as_bytes()], Duration::ZERO)?;
    if !got.starts_with(b"HTTP/1.1 431 ") {
        return Err(fail(
            format!("`431` for a head of {} bytes", MAX_HEAD + 1),
            show(&got),
            "a head longer than `max_head` is refused, even when its end has arrived",
        ));
    }
    Ok(())
}

fn endless_head(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx, "5")?;
    let mut stream = connect(addr)?;
    let writer = {
        let stream = stream
            .try_clone()
            .map_err(|e| fail("a socket", e.to_string(), ""))?;
        thread::spawn(move || {
            let mut s = &stream;
            let started = Instant::now();
            let _ = s.write_all(b"GET / HTTP/1.1\r\n");
            let line = format!("X-Filler: {}\r\n", "f".repeat(100));
            // For 3 s at most: a server that never answers is not fed for ever.
            while started.elapsed() < Duration::from_secs(3) {
                if s.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
        })
    };
    let started = Instant::now();
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(2));
    let took = started.elapsed();
    let _ = stream.shutdown(Shutdown::Both);
    let _ = writer.join();
    if got.starts_with(b"HTTP/1.1 431 ") {
        return Ok(());
    }
    Err(fail(
        "`431` within 2 s, while the head goes on arriving",
        format!("{} ({end:?}) after {took:.1?}", show(&got)),
        "check the size as the bytes arrive, before reading more: a head that never ends \
         must be refused once it has passed `max_head`, not when its end comes",
    ))
}

fn trickler(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx, "1")?;
    let mut stream = connect(addr)?;
    let _ = stream.set_nodelay(true);
    let writer = {
        let stream = stream
            .try_clone()
            .map_err(|e| fail("a socket", e.to_string(), ""))?;
        thread::spawn(move || {
            let mut s = &stream;
            let _ = s.write_all(b"GET / HTTP/1.1\r\nX: ");
            // One byte every 100 ms, for 4 s at most.
            for _ in 0..40 {
                thread::sleep(Duration::from_millis(100));
                if s.write_all(b"a").is_err() {
                    break;
                }
            }
        })
    };
    let started = Instant::now();
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(4));
    let took = started.elapsed();
    let _ = stream.shutdown(Shutdown::Both);
    let _ = writer.join();
    let in_time =
        took >= Duration::from_millis(700) && took <= Duration::from_millis(2500);
    if got.starts_with(b"HTTP/1.1 408 ") && in_time {
        return Ok(());
    }
    Err(fail(
        "`408` between 0.7 s and 2.5 s after the head began (the deadline is 1 s)",
        format!("{} ({end:?}) after {took:.1?}", show(&got)),
        "one deadline for the whole head, taken once: set each read's timeout to the time \
         *left*, not to the whole time again (every byte would restart it)",
    ))
}

fn idle_and_cut(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = start(ctx, "1")?;
    // Idle: one request answered, then nothing: closed at the deadline, with no `408`.
    let mut stream = connect(addr)?;
    let _ = stream.write_all(request("/once").as_bytes());
    let started = Instant::now();
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(4));
    let took = started.elapsed();
    let wanted = answer("GET /once HTTP/1.1");
    if got != wanted.as_bytes()
        || end != End::Closed
        || took > Duration::from_millis(2500)
    {
        return Err(fail(
            format!(
                "{}, then the connection closed by the server within 2.5 s, nothing else",
                show(wanted.as_bytes())
            ),
            format!("{} ({end:?}) after {took:.1?}", show(&got)),
            "when no byte of the next head came before the deadline, the connection is idle: \
             `NoHead::Closed`, not `TimedOut` (a `408` would answer a request never sent)",
        ));
    }
    // Cut: half a head, then the end of the stream: no answer, the connection closed.
    let (got, end) = exchange(addr, &[b"GET /half HTTP/1.1\r\nHo"], Duration::ZERO)?;
    if !got.is_empty() || end != End::Closed {
        return Err(fail(
            "no answer, and the connection closed, after half a head and the end of the stream",
            format!("{} ({end:?})", show(&got)),
            "`read` returning 0 in the middle of a head means the client is gone: \
             `NoHead::Closed`",
        ));
    }
    Ok(())
}

fn no_spinning(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = start(ctx, "5")?;
    let stream: TcpStream = connect(addr)?;
    // Half a head, then silence, for 1.5 s.
    let mut s = &stream;
    let _ = s.write_all(b"GET / HTTP/1.1\r\n");
    thread::sleep(Duration::from_millis(200));
    let Some(before) = server.cpu_time() else {
        ctx.note("CPU time is not measured on this platform: the no-spinning check passed unmeasured");
        return Ok(());
    };
    thread::sleep(Duration::from_millis(1500));
    let used = server.cpu_time().unwrap_or(before).saturating_sub(before);
    drop(stream);
    if used < Duration::from_millis(300) {
        return Ok(());
    }
    Err(fail(
        "almost no CPU while the client is silent for 1.5 s",
        format!("the server wanted the CPU for {used:.2?} of those 1.5 s"),
        "block in `read` with a read timeout (the time left) instead of polling the socket in \
         a loop",
    ))
}
