//! # 11 — sticky packets: TCP does not keep your messages apart
//!
//! Teaches the bug behind "粘包/拆包" (sticky and split packets): TCP carries a stream of bytes,
//! not messages, so a program that treats each `read` as one message sees several messages
//! merged into one read, and one message split across several. This demonstration makes it
//! happen on demand, on loopback, every time: it starts a naive server that reads late (after
//! the client has finished sending), then a client that sends numbered messages, one `write`
//! each, and prints what every `read` returned.
//!
//! ```text
//! cargo run --example 11_sticky_packets                  (small messages merge)
//! cargo run --example 11_sticky_packets -- --mode split  (big messages split)
//! ```
//!
//! Look at the last line: how many reads the server saw for how many messages.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use socket_workbook::cli;

/// Sticky-packet demonstration: one write per message, and what the reads return.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address for the demonstration's server. The default, port 0, takes any free port:
    /// the program talks only to itself, so it need not collide with a server you left
    /// running.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,

    /// `merge`: many small messages, read with a 64-byte buffer; `split`: messages of 1.5 to
    /// 3 KB, read with a 1 KiB buffer.
    #[arg(long, value_enum, default_value_t = Mode::Merge)]
    mode: Mode,

    /// How many messages the client sends. The server waits for the first 64 KiB before it
    /// reads (about 20 messages in split mode); reads beyond that depend on timing.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    messages: u16,

    /// Seed for the message sizes (random when absent); the same seed gives the same run.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Small messages, back to back: reads merge them.
    Merge,
    /// Messages larger than the reader's buffer: each arrives in several reads.
    Split,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let (sizes, buffer) = match args.mode {
        Mode::Merge => (5..=20, 64),
        Mode::Split => (1500..=3000, 1024),
    };
    // ANCHOR: messages
    // Message i is "#i:" and then letters, to a random length: readable, and every
    // message differs, so the output can say which bytes came from which message.
    let messages: Vec<Vec<u8>> = (1..=args.messages)
        .map(|i| {
            let len: usize = rng.random_range(sizes.clone());
            let mut message = format!("#{i}:").into_bytes();
            message.extend(
                (0..len.saturating_sub(message.len())).map(|k| b'a' + (k % 26) as u8),
            );
            message
        })
        .collect();
    // ANCHOR_END: messages
    let total: usize = messages.iter().map(Vec::len).sum();
    println!(
        "mode {}: {} messages, {total} bytes, read with a {buffer}-byte buffer (seed {seed})",
        if args.mode == Mode::Merge {
            "merge"
        } else {
            "split"
        },
        messages.len()
    );

    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    println!("listening on {addr}");

    // ANCHOR: client
    // The client: one `write_all` per message, as a program that believes in messages
    // would.
    let to_send = messages.clone();
    let client = thread::Builder::new()
        .name("client".into())
        .spawn(move || -> anyhow::Result<()> {
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .with_context(|| format!("cannot connect to {addr}"))?;
            for message in &to_send {
                stream.write_all(message).context("cannot send")?;
            }
            Ok(()) // closing the stream: the server's last read returns 0
        })
        .context("cannot start the client thread")?;
    // ANCHOR_END: client

    let (mut stream, _) = listener.accept().context("accept failed")?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    // ANCHOR: read_late
    // What makes this reliable: the server reads *late*. It waits until the kernel
    // holds every byte the client sent (peeking, which leaves them queued), as a busy
    // server that gets to this socket a little later would find them. Then each `read`
    // returns as much as the buffer holds, whatever the writes were. (Up to 64 KiB:
    // more might not fit in the socket's receive buffer, and the client would block
    // before it finished.)
    let wait_for = total.min(64 * 1024);
    let mut all = vec![0u8; wait_for];
    loop {
        match stream.peek(&mut all) {
            Ok(n) if n == wait_for => break,
            Ok(0) => bail!("the client closed before sending everything"),
            Ok(_) => thread::yield_now(), // part of it is still on its way
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("cannot peek at the received bytes"),
        }
    }
    // ANCHOR_END: read_late

    // ANCHOR: naive_reads
    // The naive server: every `read` is taken to be one message.
    let mut reads: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; buffer];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reads.push(buf[..n].to_vec()),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("cannot read"),
        }
    }
    client
        .join()
        .map_err(|_| anyhow::anyhow!("the client thread panicked"))??;
    // ANCHOR_END: naive_reads

    report(&messages, &reads);
    Ok(())
}

// ANCHOR: report
/// Prints, for every read, which messages' bytes it held, and a summary.
fn report(messages: &[Vec<u8>], reads: &[Vec<u8>]) {
    // Where each message starts and ends in the stream.
    let mut bounds = Vec::new();
    let mut offset = 0;
    for message in messages {
        bounds.push((offset, offset + message.len()));
        offset += message.len();
    }
    let mut reads_of = vec![0usize; messages.len()]; // how many reads each message touched
    let mut shares = vec![false; messages.len()]; // shared a read with another message
    let mut start = 0;
    for (r, read) in reads.iter().enumerate() {
        let end = start + read.len();
        let mut parts = Vec::new();
        let inside: Vec<usize> = (0..messages.len())
            .filter(|&m| bounds[m].0 < end && bounds[m].1 > start)
            .collect();
        for &m in &inside {
            let (from, to) = (bounds[m].0.max(start), bounds[m].1.min(end));
            let len = messages[m].len();
            parts.push(if to - from == len {
                format!("#{} whole", m + 1)
            } else if from == bounds[m].0 {
                format!("#{} first {} of {len} bytes", m + 1, to - from)
            } else if to == bounds[m].1 {
                format!("#{} last {} of {len} bytes", m + 1, to - from)
            } else {
                format!("#{} middle {} of {len} bytes", m + 1, to - from)
            });
            reads_of[m] += 1;
            shares[m] |= inside.len() > 1;
        }
        println!(
            "read {} ({} bytes): {}",
            r + 1,
            read.len(),
            parts.join(", ")
        );
        start = end;
    }
    let split = reads_of.iter().filter(|&&n| n > 1).count();
    let merged = (0..messages.len())
        .filter(|&m| shares[m] && reads_of[m] == 1)
        .count();
    let alone = (0..messages.len())
        .filter(|&m| !shares[m] && reads_of[m] == 1)
        .count();
    println!(
        "sent {} messages in {} writes; the server saw {} reads: {merged} message(s) merged \
         with others, {split} split across reads, {alone} alone",
        messages.len(),
        messages.len(),
        reads.len()
    );
}
// ANCHOR_END: report
