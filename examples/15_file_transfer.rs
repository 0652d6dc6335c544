//! # 15 — file transfer: streaming a file with a header, progress and a checksum
//!
//! Teaches how to move a file over TCP so that nothing is lost or half-written: a framed header
//! (name and size) that the receiver can refuse before any data flows; the contents streamed in
//! chunks, never the whole file in memory; a SHA-256 checksum at the end; and a receiver that
//! writes to a temporary file and renames it into place only once the checksum matches.
//! Names from the network are untrusted: nothing is ever written outside `--dir`.
//!
//! ```text
//! terminal 1:  cargo run --example 15_file_transfer -- receive --dir /tmp/inbox
//! terminal 2:  cargo run --example 15_file_transfer -- send Cargo.lock
//! ```
//!
//! Look for the summary on both sides (bytes, seconds, MB/s); large files show a progress bar.

use std::fs::File;
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use socket_workbook::framing::{read_frame, write_frame, write_frame_within};
use socket_workbook::server::{self, Config, Refusals};
use socket_workbook::shutdown::Shutdown;
use socket_workbook::text::{SHOWN, shown};
use socket_workbook::{cli, net};
use tempfile::NamedTempFile;

/// File transfer over length-prefixed frames, checked with SHA-256.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Receive files into a directory, until Ctrl-C.
    Receive {
        /// Directory to save files in (it must exist).
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on. Port 0 asks the OS for any free port.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Replace a file that exists already (refused otherwise).
        #[arg(long)]
        overwrite: bool,
        /// Largest file accepted, in bytes.
        #[arg(long, default_value_t = 1 << 30)]
        max_size: u64,
        /// Seconds each frame (the header, a 64 KiB chunk) may take to arrive whole; a sender
        /// slower than that is cut off.
        #[arg(long, value_name = "SECS", default_value = "30", value_parser = cli::parse_seconds)]
        frame_timeout: Duration,
        /// Slowest average rate accepted for the contents, in bytes per second; a sender that
        /// falls more than one frame timeout behind it is cut off.
        #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024,
              value_parser = clap::value_parser!(u64).range(1..))]
        min_rate: u64,
    },
    /// Send one file.
    Send {
        /// The file to send.
        file: PathBuf,
        /// Address of the receiver.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Name to save it under (default: the file's own name).
        #[arg(long)]
        name: Option<String>,
        /// Seconds the receiver may take to take in one frame (a 64 KiB chunk), or to answer.
        #[arg(long, value_name = "SECS", default_value = "30", value_parser = cli::parse_seconds)]
        timeout: Duration,
    },
}

/// Size of the data frames, and of the reads from the file.
const CHUNK: usize = 64 * 1024;
/// Files larger than this get a progress bar.
const PROGRESS_FROM: u64 = 16 * 1024 * 1024;

fn main() -> ExitCode {
    cli::report(match Args::parse().role {
        Role::Receive {
            dir,
            addr,
            overwrite,
            max_size,
            frame_timeout,
            min_rate,
        } => {
            let limits = Limits {
                max_size,
                frame_timeout,
                min_rate,
            };
            receive(&dir, addr, overwrite, limits)
        }
        Role::Send {
            file,
            addr,
            name,
            timeout,
        } => send(&file, addr, name, timeout),
    })
}

// ANCHOR: protocol
// The protocol, one frame (chapter 12) per step:
//   sender → receiver   name (UTF-8), then size (8 bytes, big-endian)
//   receiver → sender   "ok", or "error: why" (and the connection ends)
//   sender → receiver   the contents, in frames of up to 64 KiB
//   sender → receiver   the SHA-256 of the contents (32 bytes)
//   receiver → sender   "ok: saved NAME", or "error: why"
// ANCHOR_END: protocol

// ANCHOR: valid_name
/// The longest name accepted, in bytes: the limit of one file name on Linux's usual
/// filesystems (`NAME_MAX`). The filesystem has the last word: see `check_target`.
const MAX_NAME: usize = 255;

/// A name is accepted only if it is exactly one ordinary path component: no `/` or
/// `\`, no `..` or `.`, not absolute, not empty. Anything else could write outside the
/// directory (`../../home/you/.bashrc`, `/etc/passwd`) or somewhere unexpected inside
/// it (`a/b`). And no control characters: the name is printed in logs and terminals,
/// where a newline forges a log line and an escape sequence (`ESC [2J`) rewrites the
/// screen.
fn valid_name(name: &str) -> Result<&str, String> {
    let mut components = Path::new(name).components();
    let single = matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(part)), None) if part == name
    );
    // `{name:?}` prints the name quoted and escaped (`"a\nb"`): harmless in any
    // message.
    if name.is_empty()
        || name.len() > MAX_NAME
        || !single
        || name.contains(['/', '\\'])
    {
        return Err(format!("the name {name:?} is not a plain file name"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("the name {name:?} contains control characters"));
    }
    Ok(name)
}
// ANCHOR_END: valid_name

/// What a sender is allowed: how big a file, how long per frame, how slow on average.
#[derive(Clone, Copy)]
struct Limits {
    max_size: u64,
    frame_timeout: Duration,
    min_rate: u64,
}

fn receive(
    dir: &Path,
    addr: SocketAddr,
    overwrite: bool,
    limits: Limits,
) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("{} is not a directory (create it first)", dir.display());
    }
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = net::listen(addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    cli::announce(&listener)?;
    println!("saving into {}", dir.display());
    let config = Config {
        workers: 4,
        queue: 16,
        idle_timeout: Duration::from_secs(30),
        // "busy" and "shutting down" as error frames, which the sender reports as refusals.
        refusals: Refusals::frames(),
    };
    let dir = dir.to_path_buf();
    let summary = server::serve(
        &listener,
        &shutdown,
        &config,
        move |stream, peer, shutdown: &Shutdown| {
            receive_one(stream, peer, shutdown, &dir, overwrite, limits)
        },
    )?;
    // Served counts every sender a worker took, refused ones included: not only transfers.
    let n = summary.served;
    println!(
        "shutting down: {n} sender{} served",
        if n == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Tells the sender why, in a frame, and closes cleanly (chapter 05's lingering close).
fn refuse(stream: TcpStream, why: &str) {
    let mut frame = Vec::new();
    let _ = write_frame(&mut frame, format!("error: {why}").as_bytes());
    server::say_and_close(stream, &frame);
}

// ANCHOR: frame_clock
/// The receiving side of the connection, where every frame must arrive whole within
/// `frame_timeout` of [`restart`](Self::restart): a peer is alive if whole frames
/// arrive, not bytes. A read timeout alone bounds each `read`, so a sender that
/// trickles a byte now and then would hold a worker forever.
///
/// Alive is not enough for a transfer, though: a sender of empty (or one-byte) frames
/// every second delivers whole frames and moves nothing. So the contents also have a
/// deadline that only *data* moves ([`restart_by`](Self::restart_by)): progress, not
/// activity.
struct FrameClock {
    stream: TcpStream,
    frame_timeout: Duration,
    deadline: Instant,
    /// What the deadline stands for, said when it passes.
    why: String,
}

impl FrameClock {
    fn new(stream: TcpStream, frame_timeout: Duration) -> Self {
        let mut clock = FrameClock {
            stream,
            frame_timeout,
            deadline: Instant::now(),
            why: String::new(),
        };
        clock.restart();
        clock
    }

    /// Call before reading each frame: the next one has `frame_timeout` to arrive.
    fn restart(&mut self) {
        let secs = self.frame_timeout.as_secs_f64();
        self.deadline = Instant::now() + self.frame_timeout;
        self.why = format!("no complete frame within {secs} s");
    }

    /// Like `restart`, but the frame must also arrive by `progress_due`, a deadline
    /// that frames do not move: only the bytes they carry do (see `receive_one`).
    fn restart_by(&mut self, progress_due: Instant, why: &str) {
        self.restart();
        if progress_due < self.deadline {
            self.deadline = progress_due;
            self.why = why.to_string();
        }
    }
}

impl Read for FrameClock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let expired = || io::Error::new(ErrorKind::TimedOut, self.why.clone());
        let left = self.deadline.checked_duration_since(Instant::now());
        let Some(left) = left.filter(|left| !left.is_zero()) else {
            return Err(expired());
        };
        // Each `read` waits only for the time left to the whole frame. (A socket
        // timeout is `WouldBlock` on Unix, `TimedOut` on Windows.)
        self.stream.set_read_timeout(Some(left))?;
        use ErrorKind::{TimedOut, WouldBlock};
        match self.stream.read(buf) {
            Err(err) if matches!(err.kind(), WouldBlock | TimedOut) => Err(expired()),
            read => read,
        }
    }
}
// ANCHOR_END: frame_clock

// ANCHOR: header
/// Reads the header: the name frame, then the size frame. `Ok(None)` if the sender
/// closed before sending anything; `Err(why)`, in words for the sender, if it is not a
/// header.
fn read_header(reader: &mut impl Read) -> Result<Option<(Vec<u8>, u64)>, String> {
    let malformed = |part: &str, err: io::Error| {
        format!("malformed header: the {part}: {}", cli::describe_io(&err))
    };
    let name = read_frame(reader, 1024).map_err(|err| malformed("name", err))?;
    let Some(name) = name else {
        return Ok(None);
    };
    let size = read_frame(reader, 8)
        .map_err(|err| malformed("size", err))?
        .ok_or("malformed header: the stream ended after the name")?;
    let Ok(size) = <[u8; 8]>::try_from(size.as_slice()) else {
        let len = size.len();
        return Err(format!("malformed header: the size is {len} bytes, not 8"));
    };
    Ok(Some((name, u64::from_be_bytes(size))))
}

/// Whether the file can be saved as `target`, asked of the filesystem before any data
/// comes.
fn check_target(target: &Path, name: &str, overwrite: bool) -> Result<(), String> {
    // `symlink_metadata` looks at the name itself, without following a symbolic link:
    // a file, a directory, a link (even one pointing nowhere) all count.
    // `target.exists()` follows links, and calls a dangling one "nothing there": the
    // upload would be taken in full, and only the final rename would fail.
    match std::fs::symlink_metadata(target) {
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        // The filesystem refuses the name itself (too long for it, say): say so now.
        Err(err) => Err(format!(
            "{name} cannot be saved: {}",
            cli::describe_io(&err)
        )),
        Ok(meta) if overwrite && meta.file_type().is_file() => Ok(()),
        Ok(_) if overwrite => Err(format!("{name} exists and is not a regular file")),
        Ok(_) => Err(format!(
            "{name} exists already (the receiver can allow --overwrite)"
        )),
    }
}

/// The temporary file's prefix: `.NAME.partial-`, with at most 32 bytes of the name,
/// so that the temporary name stays short: every name that `valid_name` accepts, up to
/// 255 bytes, must leave room for the random suffix.
fn partial_prefix(name: &str) -> String {
    let mut end = name.len().min(32);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.partial-", &name[..end])
}
// ANCHOR_END: header

// ANCHOR: receive_one
/// One transfer: header, checks, contents into a temporary file, checksum, rename.
fn receive_one(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    dir: &Path,
    overwrite: bool,
    limits: Limits,
) -> anyhow::Result<()> {
    let Limits {
        max_size,
        frame_timeout,
        min_rate,
    } = limits;
    let _watch = shutdown.watch_stream(&stream)?;
    let mut reader =
        BufReader::new(FrameClock::new(stream.try_clone()?, frame_timeout));
    let mut writer = stream;

    // 1. The header, checked before a single byte of data is accepted. Every "no" is a
    //    frame that the sender prints, sent before the sender sends any data.
    reader.get_mut().restart(); // the whole header within one frame timeout
    let (name, size) = match read_header(&mut reader) {
        Ok(Some(header)) => header,
        Ok(None) => bail!("{peer} closed without sending a header"),
        Err(why) => {
            refuse(writer, &why);
            bail!("refused a header from {peer}: {why}");
        }
    };
    let name = match std::str::from_utf8(&name)
        .map_err(|_| "the name is not UTF-8".to_string())
        .and_then(valid_name)
    {
        Ok(name) => name.to_string(),
        Err(why) => {
            refuse(writer, &why);
            bail!("refused a file from {peer}: {why}");
        }
    };
    let target = dir.join(&name);
    let checked = if size > max_size {
        Err(format!(
            "{name} is {size} bytes, over the limit of {max_size}"
        ))
    } else {
        check_target(&target, &name, overwrite)
    };
    if let Err(why) = checked {
        refuse(writer, &why);
        bail!("refused {name} from {peer}: {why}");
    }

    // 2. A temporary file in the target directory (so that the final rename stays on
    //    one filesystem, and is atomic). If anything below fails, dropping it deletes
    //    it.
    let mut partial = match NamedTempFile::with_prefix_in(partial_prefix(&name), dir) {
        Ok(partial) => partial,
        Err(err) => {
            let why = format!("cannot create a file: {}", cli::describe_io(&err));
            refuse(writer, &why);
            bail!("refused {name} from {peer}: {why}");
        }
    };
    write_frame(&mut writer, b"ok")?;
    println!("receiving: {name} ({size} bytes) from {peer}");

    // 3. The contents, chunk by chunk: never the whole file in memory. Each chunk is
    //    due within a frame timeout, and the transfer as a whole must keep up
    //    `min_rate` on average: by `started + frame_timeout + received / min_rate`,
    //    which only received bytes move. An empty or one-byte frame restarts no clock.
    let started = Instant::now();
    let progress = progress_bar(size);
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let too_slow = format!(
        "slower than the minimum of {min_rate} bytes/s for over {} s",
        frame_timeout.as_secs_f64()
    );
    while received < size {
        let earned = Duration::from_secs_f64(received as f64 / min_rate as f64);
        let due = started + frame_timeout + earned;
        reader.get_mut().restart_by(due, &too_slow);
        let chunk = match read_frame(&mut reader, CHUNK) {
            Ok(Some(chunk)) if received + chunk.len() as u64 <= size => chunk,
            Ok(Some(_)) => {
                bail!("{peer} sent more than the {size} bytes it announced for {name}")
            }
            Ok(None) => bail!(
                "the transfer of {name} from {peer} was interrupted \
                 after {received} of {size} bytes; nothing saved"
            ),
            Err(err) => bail!(
                "the transfer of {name} from {peer} was interrupted \
                 after {received} of {size} bytes: {}; nothing saved",
                cli::describe_io(&err)
            ),
        };
        if let Err(err) = partial.write_all(&chunk) {
            // A full disk, say: the sender is told why, in a frame, not by a reset.
            // (tempfile's errors name the temporary path; the kind is what matters.)
            let err = io::Error::from(err.kind());
            let why = format!("cannot write {name}: {}", cli::describe_io(&err));
            refuse(writer, &format!("{why}; nothing saved"));
            bail!("{why} (from {peer}); nothing saved");
        }
        hasher.update(&chunk);
        received += chunk.len() as u64;
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();

    // 4. The checksum: only a match makes the file real.
    reader.get_mut().restart();
    let sent_sum = read_frame(&mut reader, 32)?.context("no checksum")?;
    let our_sum = hasher.finalize();
    if sent_sum.as_slice() != our_sum.as_slice() {
        // Deleted before the sender is told: "nothing saved" is then true.
        drop(partial);
        refuse(
            writer,
            "checksum mismatch: the file was damaged on the way; nothing saved",
        );
        bail!("checksum mismatch for {name} from {peer}; nothing saved");
    }
    partial
        .as_file()
        .sync_all()
        .with_context(|| format!("cannot flush {name} to disk"))?;
    let persisted = if overwrite {
        partial.persist(&target)
    } else {
        partial.persist_noclobber(&target)
    };
    if let Err(err) = persisted {
        refuse(
            writer,
            &format!("cannot save {name}: {}", cli::describe_io(&err.error)),
        );
        bail!("cannot save {name}: {}", cli::describe_io(&err.error));
    }
    write_frame(&mut writer, format!("ok: saved {name}").as_bytes())?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "received: {name} ({size} bytes) in {secs:.2} s ({:.1} MB/s), sha256 {}",
        size as f64 / secs / 1e6,
        hex(&our_sum)
    );
    Ok(())
}
// ANCHOR_END: receive_one

// ANCHOR: send
fn send(
    path: &Path,
    addr: SocketAddr,
    name: Option<String>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut file =
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot read the size of {}", path.display()))?
        .len();
    let name = match name {
        Some(name) => name,
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| {
                format!("{} has no usable file name: use --name", path.display())
            })?
            .to_string(),
    };

    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let writer = stream;

    // 1. The header, and the receiver's yes or no.
    write_frame_within(&writer, name.as_bytes(), timeout)
        .with_context(|| format!("cannot send to {addr}"))?;
    write_frame_within(&writer, &size.to_be_bytes(), timeout)
        .with_context(|| format!("cannot send to {addr}"))?;
    if let Err(why) = answer(&mut reader, addr)? {
        bail!("the receiver refused: {why}");
    }

    // 2. The contents, in chunks, hashed on the way.
    let started = Instant::now();
    let progress = progress_bar(size);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut sent: u64 = 0;
    while sent < size {
        let n = match file.read(&mut buf) {
            Ok(0) => bail!(
                "{} shrank while being sent ({sent} of {size} bytes)",
                path.display()
            ),
            // a file that grows: send what we announced
            Ok(n) => n.min((size - sent) as usize),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("cannot read {}", path.display()));
            }
        };
        hasher.update(&buf[..n]);
        if let Err(err) = write_frame_within(&writer, &buf[..n], timeout) {
            // A receiver that gives up mid-transfer (its disk is full, say) says why
            // in a frame, then closes: our write fails with "broken pipe", but the
            // cause is in that frame.
            if let Some(why) = why_it_stopped(&mut reader) {
                bail!("the receiver stopped after {sent} of {size} bytes: {why}");
            }
            return Err(err).with_context(|| {
                format!("cannot send to {addr} after {sent} of {size} bytes")
            });
        }
        sent += n as u64;
        progress.inc(n as u64);
    }
    progress.finish_and_clear();

    // 3. The checksum, and the verdict.
    let sum = hasher.finalize();
    write_frame_within(&writer, &sum, timeout)
        .with_context(|| format!("cannot send to {addr}"))?;
    // Every byte may fit in the socket buffers before a receiver whose disk filled up
    // says so: its `error: …` then comes as the verdict, and it is still where the
    // receiver stopped.
    let verdict = match answer(&mut reader, addr)? {
        Ok(verdict) => verdict,
        Err(why) => bail!("the receiver stopped after {sent} of {size} bytes: {why}"),
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sent: {name} ({size} bytes) in {secs:.2} s ({:.1} MB/s); \
         {verdict}, sha256 {}",
        size as f64 / secs / 1e6,
        hex(&sum)
    );
    Ok(())
}

/// After a failed write: the receiver's last words, if it sent an `error: …` frame
/// before closing (they wait in our receive buffer). What it says is shown inert and
/// bounded (src/text.rs): its words, not its escape sequences, reach the terminal.
fn why_it_stopped(reader: &mut BufReader<TcpStream>) -> Option<String> {
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    let answer = read_frame(reader, 4096).ok()??;
    answer.strip_prefix(b"error: ").map(|why| shown(why, SHOWN))
}

/// Reads the receiver's answer: `Ok(…)` for `ok…`, `Err(why)` for `error: why` (shown
/// inert); the caller says what the refusal means at its step.
fn answer(
    reader: &mut impl Read,
    addr: SocketAddr,
) -> anyhow::Result<Result<String, String>> {
    let answer = read_frame(reader, 4096)
        .with_context(|| format!("no answer from {addr}"))?
        .with_context(|| format!("{addr} closed the connection without an answer"))?;
    let answer = shown(&answer, SHOWN);
    Ok(match answer.strip_prefix("error: ") {
        Some(why) => Err(why.to_string()),
        None => Ok(answer),
    })
}
// ANCHOR_END: send

/// A progress bar on stderr for large files; indicatif draws nothing when stderr is not a
/// terminal (a pipe, a test).
fn progress_bar(size: u64) -> ProgressBar {
    if size < PROGRESS_FROM {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
