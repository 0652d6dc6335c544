//! 15_resume_transfer: a receiver that keeps partial files and tells the sender where to resume.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, pattern, read_line, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "15_resume_transfer",
    chapter: "15-file-transfer.md",
    task: "resume an interrupted upload: tell the sender the offset, rename only when complete",
    write: "`receive`",
    checks: &[
        Check {
            name: "a whole file of 100 000 bytes: `OFFSET 0`, then `DONE 100000`, and the file is \
                   there, byte for byte",
            holds: &[],
            run: whole_file,
        },
        Check {
            name: "a transfer cut after 60 000 bytes: the `.part` keeps them, and no file appears \
                   under the real name",
            holds: &[],
            run: cut_keeps_the_part,
        },
        Check {
            name: "the same file sent again after the cut: `OFFSET 60000`, and the rest completes \
                   it",
            holds: &[],
            run: resumed,
        },
        Check {
            name: "a stale `.part` longer than the announced file: `OFFSET 0`, and the file is \
                   the new one",
            holds: &[],
            run: stale_longer_part,
        },
    ],
};

/// A fresh directory for the receiver's files, removed when dropped.
fn inbox() -> Result<tempfile::TempDir, Fail> {
    tempfile::Builder::new()
        .prefix("check-15-")
        .tempdir()
        .map_err(|e| {
            fail(
                "a temporary directory for the received files",
                e.to_string(),
                "is the temporary directory writable?",
            )
        })
}

fn start(ctx: &Ctx, dir: &Path) -> Result<(crate::harness::Proc, SocketAddr), Fail> {
    let dir = dir.to_string_lossy().to_string();
    ctx.server(&["--dir", &dir])
}

/// Sends `PUT name size`, and returns the connection and the line that answered it.
fn put(
    addr: SocketAddr,
    name: &str,
    size: usize,
) -> Result<(TcpStream, String), Fail> {
    let mut stream = connect(addr)?;
    let _ = stream.write_all(format!("PUT {name} {size}\n").as_bytes());
    let (line, _) = read_line(&mut stream, WAIT);
    Ok((
        stream,
        String::from_utf8_lossy(&line).trim_end().to_string(),
    ))
}

fn expect(what: &str, expected: &str, seen: &str, hint: &str) -> Result<(), Fail> {
    if seen == expected {
        return Ok(());
    }
    let seen = if seen.is_empty() {
        "nothing".to_string()
    } else {
        show(seen.as_bytes())
    };
    Err(fail(format!("{what}: {expected:?}"), seen, hint))
}

/// How long the answer `DONE …` may take once the last byte is sent: it is immediate.
const DONE_WAIT: Duration = Duration::from_secs(2);

/// Sends `data` and waits for the answer line (`DONE …`).
fn send_rest(stream: &mut TcpStream, data: &[u8]) -> String {
    let _ = stream.write_all(data);
    let (line, end) = read_line(stream, DONE_WAIT);
    let line = String::from_utf8_lossy(&line).trim_end().to_string();
    if line.is_empty() && end == End::Closed {
        return "(the connection closed)".to_string();
    }
    line
}

fn expect_file(dir: &Path, name: &str, data: &[u8], hint: &str) -> Result<(), Fail> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(content) if content == data => Ok(()),
        Ok(content) => Err(fail(
            format!("{name} holds the {} bytes sent", data.len()),
            format!("{} bytes: {}", content.len(), show(&content)),
            hint,
        )),
        Err(e) => Err(fail(
            format!("{name} holds the {} bytes sent", data.len()),
            format!("cannot read it: {e}"),
            "rename `NAME.part` to `NAME` once the last byte is in",
        )),
    }
}

fn whole_file(ctx: &Ctx) -> Result<(), Fail> {
    let dir = inbox()?;
    let (_server, addr) = start(ctx, dir.path())?;
    let data = pattern(100_000);
    let (mut stream, offset) = put(addr, "a.bin", data.len())?;
    expect(
        "the answer to `PUT a.bin 100000` with no .part",
        "OFFSET 0",
        &offset,
        "no `.part` yet: you have 0 bytes; answer before you read anything",
    )?;
    let done = send_rest(&mut stream, &data);
    expect(
        "the answer once the 100 000 bytes are sent (the connection still open)",
        "DONE 100000",
        &done,
        "read exactly `size - offset` bytes (`reader.take(…)`): the sender waits for your \
         answer, it does not close",
    )?;
    expect_file(dir.path(), "a.bin", &data, "append every byte, in order")
}

/// Sends 60 000 of 100 000 bytes, hangs up, and waits until the receiver has noticed.
fn cut(ctx: &Ctx, dir: &Path) -> Result<(crate::harness::Proc, SocketAddr), Fail> {
    let (server, addr) = start(ctx, dir)?;
    let data = pattern(100_000);
    let (mut stream, offset) = put(addr, "b.bin", data.len())?;
    expect(
        "the answer to `PUT b.bin 100000` with no .part",
        "OFFSET 0",
        &offset,
        "no `.part` yet: you have 0 bytes",
    )?;
    let _ = stream.write_all(&data[..60_000]);
    drop(stream);
    // The server is sequential: once it accepts the next connection it has finished this one.
    // A `PUT` of another file is that next connection.
    let (_probe, _) = put(addr, "probe.bin", 0)?;
    Ok((server, addr))
}

fn cut_keeps_the_part(ctx: &Ctx) -> Result<(), Fail> {
    let dir = inbox()?;
    let (_server, _addr) = cut(ctx, dir.path())?;
    if dir.path().join("b.bin").exists() {
        return Err(fail(
            "no b.bin after a transfer cut at 60 000 of 100 000 bytes",
            format!(
                "b.bin exists, {} bytes",
                fs::metadata(dir.path().join("b.bin")).map_or(0, |m| m.len())
            ),
            "compare what `io::copy` returns with what you asked for: fewer bytes is a cut \
             transfer, to return as an error before the rename",
        ));
    }
    expect_file(
        dir.path(),
        "b.bin.part",
        &pattern(60_000),
        "write the bytes to `NAME.part` as they arrive, and keep it when the transfer is cut",
    )
}

fn resumed(ctx: &Ctx) -> Result<(), Fail> {
    let dir = inbox()?;
    let (_server, addr) = cut(ctx, dir.path())?;
    let data = pattern(100_000);
    let (mut stream, offset) = put(addr, "b.bin", data.len())?;
    expect(
        "the answer to `PUT b.bin 100000` after 60 000 bytes arrived",
        "OFFSET 60000",
        &offset,
        "the length of `NAME.part` is what you have: `file.metadata()?.len()`; do not empty it",
    )?;
    let done = send_rest(&mut stream, &data[60_000..]);
    expect(
        "the answer once the last 40 000 bytes are sent",
        "DONE 100000",
        &done,
        "read exactly `size - offset` bytes, appended to the `.part`",
    )?;
    expect_file(
        dir.path(),
        "b.bin",
        &data,
        "append to the `.part` (`OpenOptions::append`): the first 60 000 bytes stay",
    )
}

fn stale_longer_part(ctx: &Ctx) -> Result<(), Fail> {
    let dir = inbox()?;
    let stale = dir.path().join("c.bin.part");
    fs::write(&stale, vec![b'#'; 5000]).map_err(|e| {
        fail(
            "the checker can write a stale .part",
            e.to_string(),
            "is the temporary directory writable?",
        )
    })?;
    let (_server, addr) = start(ctx, dir.path())?;
    let data = pattern(3000);
    let (mut stream, offset) = put(addr, "c.bin", data.len())?;
    expect(
        "the answer to `PUT c.bin 3000` with a c.bin.part of 5000 bytes",
        "OFFSET 0",
        &offset,
        "a `.part` longer than the whole file is not its beginning: empty it \
         (`file.set_len(0)`) and start at 0",
    )?;
    let done = send_rest(&mut stream, &data);
    expect(
        "the answer once the 3000 bytes are sent",
        "DONE 3000",
        &done,
        "after emptying the stale `.part`, read all `size` bytes",
    )?;
    expect_file(
        dir.path(),
        "c.bin",
        &data,
        "empty the stale `.part` before appending",
    )
}
