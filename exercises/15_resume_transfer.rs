//! # Exercise 15 · resuming an interrupted transfer (chapter 15)
//!
//! Chapter 15's receiver starts every file from its first byte, and a transfer cut at 99 % is
//! lost. This receiver keeps what arrived: the bytes of `NAME` go to `NAME.part` as they come,
//! and a sender that connects again for the same file is told where to continue. The protocol
//! (lines, then raw bytes):
//!
//! ```text
//! sender:    PUT NAME SIZE\n            the file's name and its size in bytes
//! receiver:  OFFSET N\n                 "I have the first N bytes: send the rest"
//! sender:    SIZE - N bytes             (and nothing more; it keeps the connection open)
//! receiver:  DONE SIZE\n                and `NAME.part` has become `NAME`
//! ```
//!
//! The header, the names and the loop are written; **write `receive`** below: the offset, the
//! bytes, and the rename.
//!
//! Try it by hand (two terminals; the second sends 5 bytes, then 5 more on a new connection):
//!
//! ```text
//! terminal 1:  mkdir -p /tmp/inbox && cargo run --example ex15_resume_transfer -- --dir /tmp/inbox
//! terminal 2:  printf 'PUT a.txt 10\nhello' | nc -N 127.0.0.1 7878            (OFFSET 0)
//!              printf 'PUT a.txt 10\nworld' | nc -N 127.0.0.1 7878      (OFFSET 5, DONE 10)
//! ```
//!
//! Check it (the checker cuts transfers halfway, and leaves stale files behind):
//!
//! ```text
//! cargo run --bin check -- 15_resume_transfer
//! ```

#[allow(unused_imports)]
// for your code: `OpenOptions` opens the `.part`, `fs::rename` renames it
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Resuming receiver: keeps partial files, and tells a sender where to continue.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Directory the files are written to (it must exist).
    #[arg(long)]
    dir: PathBuf,
}

/// The largest file accepted: 1 GiB.
const MAX_SIZE: u64 = 1 << 30;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.dir.is_dir(),
        "{} is not a directory",
        args.dir.display()
    );
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    // One sender at a time (chapter 03's loop): two senders of one file at once would write
    // the same `.part`; a real server would lock it.
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let peer = stream
            .peer_addr()
            .map_or("?".to_string(), |p| p.to_string());
        match serve(&stream, &args.dir) {
            Ok(()) => println!("done: {peer}"),
            Err(err) => println!("interrupted: {peer}: {err}"),
        }
    }
    Ok(())
}

/// Reads the header `PUT NAME SIZE`, checks it, and hands over to `receive`.
fn serve(stream: &TcpStream, dir: &Path) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.by_ref().take(300).read_line(&mut header)?;
    let refuse = |why: &str| {
        let mut writer = stream;
        let _ = writer.write_all(format!("error: {why}\n").as_bytes());
        io::Error::new(ErrorKind::InvalidData, why.to_string())
    };
    let mut words = header.split_whitespace();
    let (Some("PUT"), Some(name), Some(size), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(refuse("expected `PUT NAME SIZE`"));
    };
    // A name from the network is untrusted (chapter 15): one plain file name, nothing else.
    let plain = !name.starts_with('.')
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !plain {
        return Err(refuse("a name is letters, digits, `.`, `_` and `-`"));
    }
    let Some(size) = size.parse::<u64>().ok().filter(|&s| s <= MAX_SIZE) else {
        return Err(refuse("a size is a number of bytes, at most 1 GiB"));
    };
    // `reader`, not `stream`: the BufReader may already hold the first bytes of the file.
    receive(&mut reader, stream, dir, name, size)
}

/// Where the bytes of `name` wait until the last one has arrived.
fn part_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.part"))
}

// ============================== YOUR PART ==============================
/// Receives the file `name` of `size` bytes, continuing where an earlier transfer stopped.
///
/// Given: `reader`, to read the file's bytes from; `writer`, to answer on (`let mut w = writer;
/// w.write_all(…)`); `dir`; a checked `name`; the announced `size`. `part_path(dir, name)`.
///
/// Must hold:
/// 1. answer `OFFSET N` with N the length of `NAME.part` (0 if there is none), then append what
///    the sender sends to it;
/// 2. a `NAME.part` *longer* than `size` cannot be the beginning of this file (it is left from
///    another one): start it again, empty, and answer `OFFSET 0`;
/// 3. read exactly `size - N` bytes: the sender does not close the connection to say it is done,
///    it waits for your answer;
/// 4. the connection ends before that (the sender was cut off): keep `NAME.part` with everything
///    that arrived, return an error, and do **not** create `NAME` — an incomplete file never
///    appears under its real name;
/// 5. complete: rename `NAME.part` to `NAME` (`fs::rename`) and answer `DONE SIZE`.
///
/// Hints, one at a time:
/// 1. `OpenOptions::new().create(true).append(true).open(&part)?` opens the `.part` to add to;
///    `file.metadata()?.len()` is what you have. `file.set_len(0)` empties it.
/// 2. `io::copy(&mut reader.take(size - have), &mut file)?` copies at most that many bytes and
///    returns how many it copied: fewer means the sender went away.
/// 3. `Err(io::Error::from(ErrorKind::UnexpectedEof))` for a cut transfer.
fn receive(
    reader: &mut impl Read,
    writer: &TcpStream,
    dir: &Path,
    name: &str,
    size: u64,
) -> io::Result<()> {
    // (keeps the compiler quiet until you use them: delete this line)
    let _ = (reader, writer, dir, name, size, part_path);
    todo!("answer the offset, append the rest, rename when complete")
}
// ============================ END OF YOUR PART ============================
