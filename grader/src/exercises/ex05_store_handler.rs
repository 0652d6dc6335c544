//! 05_store_handler: a handler for `server::serve`: a key-value store shared by every client.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, pattern, read_line, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "05_store_handler",
    chapter: "05-thread-pool-server.md",
    task: "a handler for the reusable server: a key-value store shared by all clients",
    write: "`execute` and `handle_client`",
    checks: &[
        Check {
            name: "`SET color blue` then `GET color` on one connection: `OK`, `VALUE blue`",
            holds: &[1, 2, 4],
            run: set_then_get,
        },
        Check {
            name: "a value set by one client is read by another; an unknown key is `NOT FOUND`",
            holds: &[2],
            run: shared_between_clients,
        },
        Check {
            name: "three requests in one write are all answered, in order",
            holds: &[4],
            run: pipelined,
        },
        Check {
            name: "an unknown command gets `ERROR unknown command`; the connection goes on",
            holds: &[3],
            run: unknown_command,
        },
        Check {
            name: "while one client stays connected and silent, another is answered at once",
            holds: &[5],
            run: silent_client_blocks_no_one,
        },
        Check {
            name: "Ctrl-C with a silent client connected: the server exits within 3 s",
            holds: &[6],
            run: ctrl_c_with_a_silent_client,
        },
        Check {
            name: "`SET g hello   big  world` then `GET g`: `VALUE hello   big  world`, every \
                   space kept; a second SET replaces the value",
            holds: &[1],
            run: value_kept_byte_for_byte,
        },
        Check {
            name: "`set a b`, `SET a`, `GET`, `GET a b`, an empty line: each `ERROR unknown \
                   command`",
            holds: &[3],
            run: malformed_requests,
        },
        Check {
            name: "a line split over three writes, 100 ms apart, is answered once",
            holds: &[4],
            run: split_line,
        },
        Check {
            name: "a line of exactly MAX_LINE (1024) bytes is answered, its value stored whole",
            holds: &[7],
            run: line_of_exactly_max,
        },
        Check {
            name: "1025 bytes without a `\\n`: the connection is closed at once, without an \
                   answer",
            holds: &[7],
            run: one_past_max_at_once,
        },
        Check {
            name: "a 100 000-byte `SET` line is refused (closed, never `OK`), and nothing of it \
                   is stored",
            holds: &[7],
            run: huge_line_refused,
        },
        Check {
            name: "a client that closes is done without an error; one that resets is reported \
                   as an error",
            holds: &[8],
            run: close_and_reset,
        },
    ],
};

fn request(stream: &mut TcpStream, line: &str) -> Result<(), Fail> {
    stream.write_all(line.as_bytes()).map_err(|e| {
        fail(
            "the server reads requests",
            format!("sending failed: {e}"),
            "did the handler return early? see the server's errors",
        )
    })
}

fn expect(
    stream: &mut TcpStream,
    answer: &str,
    within: Duration,
    hint: &str,
) -> Result<(), Fail> {
    let (got, end) = read_line(stream, within);
    if got == answer.as_bytes() {
        return Ok(());
    }
    let seen = match end {
        End::Open => format!("{} within {:.1} s", show(&got), within.as_secs_f64()),
        End::Closed => format!("{} and then the connection closed", show(&got)),
        End::Reset => format!("{} and then a reset", show(&got)),
    };
    Err(fail(format!("{answer:?}"), seen, hint))
}

const SOON: Duration = Duration::from_secs(3);

fn set_then_get(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    request(&mut stream, "SET color blue\n")?;
    expect(
        &mut stream,
        "OK\n",
        SOON,
        "answer each line with `execute`'s answer and a `\\n`",
    )?;
    request(&mut stream, "GET color\n")?;
    expect(
        &mut stream,
        "VALUE blue\n",
        SOON,
        "GET answers `VALUE ` and the stored value",
    )?;
    request(&mut stream, "SET motto two words\n")?;
    expect(&mut stream, "OK\n", SOON, "")?;
    request(&mut stream, "GET motto\n")?;
    expect(
        &mut stream,
        "VALUE two words\n",
        SOON,
        "the value is the whole rest of the line: `splitn(3, ' ')`",
    )
}

fn shared_between_clients(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut first = connect(addr)?;
    request(&mut first, "SET shared yes\n")?;
    expect(&mut first, "OK\n", SOON, "")?;
    drop(first);
    let mut second = connect(addr)?;
    request(&mut second, "GET shared\n")?;
    expect(
        &mut second,
        "VALUE yes\n",
        SOON,
        "every client uses the one `Store` that `run` made",
    )?;
    request(&mut second, "GET nothing-here\n")?;
    expect(
        &mut second,
        "NOT FOUND\n",
        SOON,
        "a key never set: `NOT FOUND`",
    )
}

fn pipelined(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    request(&mut stream, "SET a 1\nSET b 2\nGET a\n")?;
    let hint = "one `BufReader` for the whole connection: the lines after the first one are \
                already in its buffer";
    expect(&mut stream, "OK\n", SOON, hint)?;
    expect(&mut stream, "OK\n", SOON, hint)?;
    expect(&mut stream, "VALUE 1\n", SOON, hint)
}

fn unknown_command(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    request(&mut stream, "DANCE now\n")?;
    expect(
        &mut stream,
        "ERROR unknown command\n",
        SOON,
        "anything that is not SET or GET gets `ERROR unknown command`",
    )?;
    request(&mut stream, "GET x\n")?;
    expect(
        &mut stream,
        "NOT FOUND\n",
        SOON,
        "a bad command is answered, not a reason to close",
    )
}

fn silent_client_blocks_no_one(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut silent = connect(addr)?;
    request(&mut silent, "SET k v\n")?;
    expect(&mut silent, "OK\n", SOON, "")?;
    // `silent` stays connected and says nothing more.
    let mut other = connect(addr)?;
    request(&mut other, "GET k\n")?;
    expect(
        &mut other,
        "VALUE v\n",
        Duration::from_secs(2),
        "lock the store only inside `execute`, never while waiting for a client's next line",
    )?;
    drop(silent);
    Ok(())
}

fn ctrl_c_with_a_silent_client(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut silent = connect(addr)?;
    request(&mut silent, "SET k v\n")?;
    expect(&mut silent, "OK\n", SOON, "")?;
    let started = Instant::now();
    if !server.ctrl_c() {
        ctx.note(
            "Ctrl-C is not sent on this platform: the Ctrl-C check passes unmeasured",
        );
        return Ok(());
    }
    match server.wait_exit(Duration::from_secs(3)) {
        Some(done) if done.status.code() == Some(0) => Ok(()),
        Some(done) => Err(fail(
            "exit code 0",
            format!("{:?}, stderr {:?}", done.status.code(), done.stderr),
            "return `Ok(())` when the read returns 0 after Ctrl-C",
        )),
        None => Err(fail(
            "the server exits within 3 s of Ctrl-C",
            format!(
                "still running after {:.1} s, waiting for the silent client",
                started.elapsed().as_secs_f64()
            ),
            "`let _watch = shutdown.watch_stream(&stream)?;` at the start of the handler: \
             Ctrl-C then wakes its blocked read",
        )),
    }
}

fn value_kept_byte_for_byte(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    request(&mut stream, "SET g hello   big  world\nGET g\n")?;
    expect(&mut stream, "OK\n", SOON, "")?;
    let (got, _) = read_line(&mut stream, SOON);
    if got != b"VALUE hello   big  world\n" {
        let hint = if got == b"VALUE hello big world\n" {
            "the spaces between the words were lost: the value is the rest of the line as it \
             came (`splitn(3, ' ')`), not its words joined again"
        } else {
            "the value is everything after `SET key `, byte for byte"
        };
        return Err(fail("\"VALUE hello   big  world\\n\"", show(&got), hint));
    }
    request(&mut stream, "SET g again\nGET g\n")?;
    expect(&mut stream, "OK\n", SOON, "")?;
    expect(
        &mut stream,
        "VALUE again\n",
        SOON,
        "a second SET of a key replaces its value (`insert`)",
    )
}

fn malformed_requests(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    request(&mut stream, "SET a 1\n")?;
    expect(&mut stream, "OK\n", SOON, "")?;
    for (line, why) in [
        ("set a b", "commands are in upper case: `set` is unknown"),
        ("SET a", "`SET` needs a key and a value"),
        ("GET", "`GET` needs a key"),
        ("GET a b", "`GET` takes a key and nothing more"),
        ("", "an empty line is no command"),
    ] {
        request(&mut stream, &format!("{line}\n"))?;
        let (got, end) = read_line(&mut stream, SOON);
        if got != b"ERROR unknown command\n" {
            return Err(fail(
                format!("{line:?} answered \"ERROR unknown command\\n\""),
                format!("{} ({end:?})", show(&got)),
                why,
            ));
        }
    }
    request(&mut stream, "GET a\n")?;
    expect(
        &mut stream,
        "VALUE 1\n",
        SOON,
        "a malformed request changes nothing in the store",
    )
}

fn split_line(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    for piece in ["SET sp", "lit val", "ue\n"] {
        request(&mut stream, piece)?;
        thread::sleep(Duration::from_millis(100));
    }
    expect(
        &mut stream,
        "OK\n",
        SOON,
        "a piece without `\\n` is not a line yet: read until the `\\n`",
    )?;
    request(&mut stream, "GET split\n")?;
    expect(
        &mut stream,
        "VALUE value\n",
        SOON,
        "answer once per line, not per piece",
    )
}

fn line_of_exactly_max(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    // `SET k ` and 1018 bytes: 1024 in all, then the `\n`.
    let value = String::from_utf8(pattern(1024 - 6)).expect("ASCII");
    request(&mut stream, &format!("SET k {value}\nGET k\n"))?;
    let hint = "a line of MAX_LINE bytes takes MAX_LINE + 1 with its `\\n`: read at most \
                `MAX_LINE + 1` bytes, and refuse only a line that has more than MAX_LINE before \
                its `\\n`";
    expect(&mut stream, "OK\n", SOON, hint)?;
    expect(&mut stream, &format!("VALUE {value}\n"), SOON, hint)
}

fn one_past_max_at_once(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    let started = Instant::now();
    let mut line = b"SET k ".to_vec();
    line.extend_from_slice(&pattern(1025 - 6));
    request(&mut stream, &String::from_utf8(line).expect("ASCII"))?;
    // …and no `\n`: a line that never ends.
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(3));
    if got.is_empty() && end != End::Open {
        return Ok(());
    }
    Err(fail(
        "the connection closed within 3 s, without an answer",
        format!(
            "{} and the connection {} after {:.1} s",
            show(&got),
            match end {
                End::Open => "still open",
                End::Closed => "closed",
                End::Reset => "reset",
            },
            started.elapsed().as_secs_f64()
        ),
        if end == End::Open {
            "read a line with a cap: `take(MAX_LINE as u64 + 1)` stops there, without waiting for \
             a `\\n` that may never come; then end the client with an error"
        } else {
            "a line longer than MAX_LINE is refused: no answer, the client ends with an error"
        },
    ))
}

fn huge_line_refused(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    let mut line = b"SET big ".to_vec();
    line.extend_from_slice(&pattern(100_000));
    line.push(b'\n');
    // The server may close while this is still being sent: a failed write is fine here.
    let _ = stream.write_all(&line);
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(3));
    if got.starts_with(b"OK") || end == End::Open {
        return Err(fail(
            "the connection closed without an answer",
            format!("{} ({end:?})", show(&got)),
            "no cap on the line: a client can make the server hold any amount of memory; read \
             at most `MAX_LINE + 1` bytes for a line",
        ));
    }
    let mut other = connect(addr)?;
    request(&mut other, "GET big\n")?;
    expect(
        &mut other,
        "NOT FOUND\n",
        SOON,
        "a refused line must not be executed, in part or whole",
    )
}

fn close_and_reset(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut closing = connect(addr)?;
    request(&mut closing, "GET x\n")?;
    expect(&mut closing, "NOT FOUND\n", SOON, "")?;
    drop(closing);
    let done = server.wait_for_line("done: ", WAIT);
    if done.as_deref().is_none_or(|l| l.contains("after an error")) {
        return Err(fail(
            "`done: PEER (…)` for a client that closed, without an error",
            format!(
                "stdout {:?}, stderr {:?}",
                server.stdout.snapshot(),
                server.stderr.snapshot()
            ),
            "`read` returning 0 is the client's close: `return Ok(())`",
        ));
    }
    let resetting = connect(addr)?;
    let mut writer: &TcpStream = &resetting;
    let _ = writer.write_all(b"GET y");
    thread::sleep(Duration::from_millis(200));
    // A linger time of zero makes the close a reset: the server's read fails.
    let _ = socket2::SockRef::from(&resetting).set_linger(Some(Duration::ZERO));
    drop(resetting);
    if server.wait_for_line("after an error", WAIT).is_some() {
        return Ok(());
    }
    Err(fail(
        "`done: PEER after an error` for a client that reset the connection",
        format!(
            "stdout {:?}, stderr {:?}",
            server.stdout.snapshot(),
            server.stderr.snapshot()
        ),
        "only `Ok(0)` and the idle timeout end a client quietly: return other read errors",
    ))
}
