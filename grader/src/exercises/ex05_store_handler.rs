//! 05_store_handler: a handler for `server::serve`: a key-value store shared by every client.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, connect, read_line, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "05_store_handler",
    chapter: "05-thread-pool-server.md",
    task: "a handler for the reusable server: a key-value store shared by all clients",
    write: "`execute` and `handle_client`",
    checks: &[
        Check {
            name: "`SET color blue` then `GET color` on one connection: `OK`, `VALUE blue`",
            holds: &[],
            run: set_then_get,
        },
        Check {
            name: "a value set by one client is read by another; an unknown key is `NOT FOUND`",
            holds: &[],
            run: shared_between_clients,
        },
        Check {
            name: "three requests in one write are all answered, in order",
            holds: &[],
            run: pipelined,
        },
        Check {
            name: "an unknown command gets `ERROR unknown command`; the connection goes on",
            holds: &[],
            run: unknown_command,
        },
        Check {
            name: "while one client stays connected and silent, another is answered at once",
            holds: &[],
            run: silent_client_blocks_no_one,
        },
        Check {
            name: "Ctrl-C with a silent client connected: the server exits within 3 s",
            holds: &[],
            run: ctrl_c_with_a_silent_client,
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
