//! # 12 — the fix: length-prefixed frames
//!
//! Teaches framing: every message goes on the wire as a 4-byte big-endian length and then its
//! bytes, so the reader always knows where a message ends, however TCP merges and splits them
//! (chapter 11). A framed echo server and a client that checks every echoed frame, built on
//! `src/framing.rs`.
//!
//! ```text
//! terminal 1:  cargo run --example 12_framed_messages -- server
//! terminal 2:  cargo run --example 12_framed_messages -- client hello "two words"
//!              cargo run --example 12_framed_messages -- client --count 1000
//! ```
//!
//! Without messages, the client sends `--count` frames of random sizes, cut into random chunks
//! on the wire, and checks that every one comes back whole and in order.

use std::io::{BufReader, ErrorKind, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use socket_workbook::framing::{DEFAULT_MAX_FRAME, read_frame, write_frame};
use socket_workbook::server::{self, Config, MessageDeadline, Refusals};
use socket_workbook::shutdown::Shutdown;
use socket_workbook::text::{SHOWN, inert, shown};
use socket_workbook::{cli, net};

/// Framed echo: a 4-byte big-endian length before every message.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Echo every frame back, on a pool of worker threads, until Ctrl-C.
    Server {
        /// Address to listen on. Port 0 asks the OS for any free port.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Largest frame accepted, in bytes; a larger header closes that connection.
        #[arg(long, default_value_t = DEFAULT_MAX_FRAME,
              value_parser = cli::number::<usize>(1..=u32::MAX as u64))]
        max_frame: usize,
        /// Worker threads: at most this many clients at once.
        #[arg(long, default_value_t = 16, value_parser = cli::number::<usize>(1..=1024))]
        workers: usize,
        /// Clients that may wait for a worker.
        #[arg(long, default_value_t = 64, value_parser = cli::number::<usize>(0..=65_536))]
        queue: usize,
        /// Close a client whose next whole frame takes longer than this many seconds to
        /// arrive, or that reads nothing for as long.
        #[arg(long, value_name = "SECS", default_value = "60", value_parser = cli::parse_seconds)]
        idle_timeout: Duration,
    },
    /// Send frames and check their echoes.
    Client {
        /// Address of the framed echo server.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Without messages: how many random frames to send.
        #[arg(long, default_value_t = 100, value_parser = cli::number::<usize>(0..=10_000))]
        count: usize,
        /// Without messages: seed for the frame sizes (0 to 64 KiB) and the chunking.
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds to wait for the connection and for each read or write.
        #[arg(long, value_name = "SECS", default_value = "10", value_parser = cli::parse_seconds)]
        timeout: Duration,
        /// Messages to send, one frame each.
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::report(match Args::parse().role {
        Role::Server {
            addr,
            max_frame,
            workers,
            queue,
            idle_timeout,
        } => {
            let config = Config {
                workers,
                queue,
                idle_timeout,
                // A framed protocol: "busy" and "shutting down" must be frames too, or the
                // client reads `serv` as the length of a 1,936,028,278-byte frame.
                refusals: Refusals::frames(),
            };
            serve(addr, max_frame, &config)
        }
        Role::Client {
            addr,
            count,
            seed,
            timeout,
            messages,
        } => client(addr, timeout, &messages, count, seed),
    })
}

fn serve(addr: SocketAddr, max_frame: usize, config: &Config) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = net::listen(addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    cli::announce(&listener)?;
    let frame_time = config.idle_timeout;
    let summary = server::serve(
        &listener,
        &shutdown,
        config,
        move |stream, peer, shutdown: &Shutdown| {
            framed_echo(stream, peer, shutdown, max_frame, frame_time)
        },
    )?;
    println!("shutting down: served {} client(s)", summary.served);
    Ok(())
}

// ANCHOR: framed_echo
/// Echoes frame after frame. A frame over the limit gets an error frame back, then a
/// clean close; the client learns why, and the server goes on with everyone else. Each
/// frame must be in, whole, within `frame_time` of the previous one.
fn framed_echo(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    max_frame: usize,
    frame_time: Duration,
) -> anyhow::Result<()> {
    let _watch = shutdown.watch_stream(&stream)?;
    // Many small frames arrive in few segments: a BufReader turns them into few `read`
    // calls. Under it, a deadline per frame (chapter 05): a read timeout alone would
    // let a client that trickles a byte now and then keep its worker for ever.
    let clone = stream.try_clone().context("cannot clone the socket")?;
    let mut reader = BufReader::new(MessageDeadline::new(clone, frame_time));
    let mut writer = stream;
    loop {
        reader.get_mut().restart();
        match read_frame(&mut reader, max_frame) {
            Ok(Some(payload)) => write_frame(&mut writer, &payload)
                .with_context(|| format!("cannot write to {peer}"))?,
            Ok(None) => return Ok(()), // closed between frames: all is well
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                let secs = frame_time.as_secs_f64();
                println!("idle: closed {peer} (no whole frame in {secs} s)");
                return Ok(());
            }
            Err(err) if err.kind() == ErrorKind::InvalidData => {
                // The rest of the stream cannot be trusted (where would the next frame
                // start?), so the connection ends here — after telling the client, in
                // a frame.
                let mut last_words = Vec::new();
                write_frame(&mut last_words, format!("error: {err}").as_bytes())?;
                server::say_and_close(writer, &last_words);
                return Err(err)
                    .with_context(|| format!("bad frame from {peer}; closed it"));
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("cannot read a frame from {peer}"));
            }
        }
    }
}
// ANCHOR_END: framed_echo

fn client(
    addr: SocketAddr,
    timeout: Duration,
    messages: &[String],
    count: usize,
    seed: Option<u64>,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    // ANCHOR: client_messages
    if !messages.is_empty() {
        for message in messages {
            write_frame(&mut stream, message.as_bytes())
                .with_context(|| format!("cannot send to {addr}"))?;
            let echo = read_frame(&mut stream, DEFAULT_MAX_FRAME)
                .with_context(|| format!("cannot read the echo from {addr}"))?
                .with_context(|| format!("{addr} closed the connection"))?;
            // What the server sent is untrusted: shown inert and bounded
            // (src/text.rs).
            if echo != message.as_bytes() {
                let shown = shown(&echo, SHOWN);
                if echo.starts_with(b"error: ") {
                    bail!("the server answered: {shown}");
                }
                bail!("{addr} echoed something else: \"{shown}\"");
            }
            println!("{}", inert(message));
        }
        return Ok(());
    }
    // ANCHOR_END: client_messages
    random_frames(stream, addr, count, seed)
}

// ANCHOR: random_frames
/// Sends `count` frames of random sizes as one byte stream cut into random chunks,
/// while a second thread reads the echoes and checks each one, in order.
fn random_frames(
    stream: TcpStream,
    addr: SocketAddr,
    count: usize,
    seed: Option<u64>,
) -> anyhow::Result<()> {
    let seed = seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let frames: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            let len = rng.random_range(0..=64 * 1024);
            (0..len)
                .map(|k| (k as u64 * 131 + i as u64) as u8)
                .collect()
        })
        .collect();
    let mut wire = Vec::new();
    for frame in &frames {
        write_frame(&mut wire, frame)?;
    }
    let total = wire.len();

    let mut writer = stream.try_clone().context("cannot clone the socket")?;
    let sender = thread::Builder::new()
        .name("sender".into())
        .spawn(move || -> std::io::Result<()> {
            // Frame boundaries and write boundaries have nothing to do with each
            // other.
            let mut at = 0;
            while at < wire.len() {
                let n = rng.random_range(1..=16 * 1024).min(wire.len() - at);
                writer.write_all(&wire[at..at + n])?;
                at += n;
            }
            writer.shutdown(Direction::Write)
        })
        .context("cannot start the sending thread")?;

    let mut reader = BufReader::new(stream);
    for (i, expected) in frames.iter().enumerate() {
        let echo = read_frame(&mut reader, DEFAULT_MAX_FRAME)
            .with_context(|| format!("cannot read echo {} from {addr}", i + 1))?
            .with_context(|| {
                format!("{addr} closed the connection after {i} of {count} echoes")
            })?;
        if &echo != expected {
            if echo.starts_with(b"error: ") {
                bail!("the server answered: {}", shown(&echo, SHOWN));
            }
            bail!(
                "echo {} of {count} differs from the frame sent (seed {seed})",
                i + 1
            );
        }
    }
    if read_frame(&mut reader, DEFAULT_MAX_FRAME)?.is_some() {
        bail!("{addr} sent more frames than it was sent");
    }
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("the sending thread panicked"))?
        .with_context(|| format!("cannot send to {addr}"))?;
    println!(
        "sent {count} frames ({total} bytes) in random chunks; \
         all {count} echoed intact, in order (seed {seed})"
    );
    Ok(())
}
// ANCHOR_END: random_frames
