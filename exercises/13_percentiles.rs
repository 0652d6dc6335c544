//! # Exercise 13 · latency percentiles, by nearest rank (chapter 13)
//!
//! Chapter 13's load generator reports latency as percentiles, because an average hides the
//! slow requests a user notices. This server does the reporting part for any measuring tool: a
//! client sends its latency samples, one per line in microseconds, and closes its sending side;
//! the server answers with one line, `n=COUNT p50=… p99=… max=…`, and serves the next client.
//! The reading and the answer are written; **write `percentile`** below.
//!
//! Try it by hand (two terminals; `-N` makes OpenBSD netcat close its sending side at the end):
//!
//! ```text
//! terminal 1:  cargo run --example ex13_percentiles
//! terminal 2:  printf '300\n100\n200\n' | nc -N 127.0.0.1 7878    (n=3 p50=200 p99=300 max=300)
//! ```
//!
//! Check it (the checker sends samples whose percentiles it knows):
//!
//! ```text
//! cargo run --bin check -- 13_percentiles
//! ```

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Latency report: reads samples (µs, one per line) until the client closes, answers the
/// percentiles.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
}

/// A client may send this many samples at most (8 bytes each: 8 MB of memory).
const MAX_SAMPLES: usize = 1_000_000;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    // One client at a time (chapter 03's loop): each one sends its samples and goes.
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let peer = stream
            .peer_addr()
            .map_or("?".to_string(), |p| p.to_string());
        match serve(stream) {
            Ok(n) => println!("reported: {n} samples from {peer}"),
            Err(err) => println!("dropped: {peer}: {err}"),
        }
    }
    Ok(())
}

/// Reads the samples until the client closes its side, then answers with one line.
fn serve(stream: TcpStream) -> io::Result<usize> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut samples: Vec<u64> = Vec::new();
    // `take` caps the line's length (chapter 03): a line of a gigabyte is not a sample.
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        let n = (&mut reader).take(32).read_line(&mut line)?;
        if n == 0 {
            break; // the client closed its side: every sample is in
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let Ok(sample) = text.parse::<u64>() else {
            writer.write_all(
                format!("error: {text:?} is not a number of µs\n").as_bytes(),
            )?;
            return Err(io::Error::new(ErrorKind::InvalidData, "not a number"));
        };
        if samples.len() == MAX_SAMPLES {
            writer.write_all(
                format!("error: more than {MAX_SAMPLES} samples\n").as_bytes(),
            )?;
            return Err(io::Error::new(ErrorKind::InvalidData, "too many samples"));
        }
        samples.push(sample);
    }
    let answer = if samples.is_empty() {
        "n=0\n".to_string()
    } else {
        let (p50, p99, max) = (
            percentile(&samples, 50),
            percentile(&samples, 99),
            percentile(&samples, 100),
        );
        format!("n={} p50={p50} p99={p99} max={max}\n", samples.len())
    };
    writer.write_all(answer.as_bytes())?;
    Ok(samples.len())
}

// ============================== YOUR PART ==============================
/// Returns the `p`-th percentile of `samples` by the **nearest-rank** method: the smallest
/// sample such that at least `p` % of all the samples are less than or equal to it.
///
/// Given: `samples`, at least one, in the order they arrived (not sorted; borrowed, not yours
/// to sort in place); `p`, from 1 to 100.
///
/// Must hold:
/// 1. the answer is always one of the samples (a latency that was really measured), never an
///    average of two and never an average of all;
/// 2. with the samples sorted, it is the one at rank `ceil(p × n / 100)`, counting ranks from 1,
///    and rounded **up** whenever `p × n / 100` is not whole: for 1 to 100, p50 is 50 and p99
///    is 99; for 1 to 170, p99 is 169 (rank 168.3, rounded up to 169);
/// 3. the smallest inputs too: for the five samples 1 to 5, p50 is 3 and p99 is 5; with one
///    sample, every percentile is that sample;
/// 4. p100 is the largest sample (rank n), and any `u64` is a sample: samples near `u64::MAX`
///    are answered without an overflow.
///
/// Hints, one at a time:
/// 1. Copy and sort: `let mut sorted = samples.to_vec(); sorted.sort_unstable();`.
/// 2. `ceil(p × n / 100)` in integers is `(p × n + 99) / 100`; ranks count from 1, indexes
///    from 0.
/// 3. Try your formula by hand on n = 100, p = 50 (rank 50: index 49), before you run anything.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let _ = (samples, p); // (keeps the compiler quiet until you use them: delete this line)
    todo!("the nearest-rank percentile of the samples")
}
// ============================ END OF YOUR PART ============================
