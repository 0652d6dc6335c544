//! 13_percentiles: nearest-rank percentiles of latency samples a client sends.

use std::io::Write;
use std::net::Shutdown;

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "13_percentiles",
    chapter: "13-load-generator.md",
    task: "nearest-rank latency percentiles (p50, p99, max) of samples a client sends",
    write: "`percentile`",
    checks: &[
        Check {
            name: "1 to 100 in a shuffled order: `n=100 p50=50 p99=99 max=100`",
            holds: &[],
            run: one_to_hundred,
        },
        Check {
            name: "99 samples of 1000 µs and one of 250000 µs: p99 is 1000 (one in 100 is above)",
            holds: &[],
            run: slow_tail,
        },
        Check {
            name: "5 1 4 2 3: `n=5 p50=3 p99=5 max=5`",
            holds: &[],
            run: five_samples,
        },
        Check {
            name: "a single sample, 42: every percentile is 42",
            holds: &[],
            run: one_sample,
        },
    ],
};

/// Sends `samples`, one per line, half-closes, and compares the answer with `expected`.
fn report(ctx: &Ctx, samples: &[u64], expected: &str, hint: &str) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    let text: String = samples.iter().map(|s| format!("{s}\n")).collect();
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    let (got, end) = read_to_end(&mut stream, WAIT);
    let expected = format!("{expected}\n");
    if got == expected.as_bytes() && end == End::Closed {
        return Ok(());
    }
    let shown: Vec<String> = samples.iter().take(12).map(u64::to_string).collect();
    let more = if samples.len() > 12 { " …" } else { "" };
    Err(fail(
        show(expected.as_bytes()),
        format!(
            "{} ({end:?}) for the samples {}{more}",
            show(&got),
            shown.join(" ")
        ),
        hint,
    ))
}

fn one_to_hundred(ctx: &Ctx) -> Result<(), Fail> {
    // Every number from 1 to 100 once, in an order far from sorted (37 and 100 share no factor).
    let samples: Vec<u64> = (0..100).map(|i| (i * 37) % 100 + 1).collect();
    report(
        ctx,
        &samples,
        "n=100 p50=50 p99=99 max=100",
        "sort a copy first; then rank ceil(p × n / 100) counts from 1: p50 of 100 samples is \
         the 50th smallest, at index 49",
    )
}

fn slow_tail(ctx: &Ctx) -> Result<(), Fail> {
    let mut samples = vec![1000u64; 99];
    samples.insert(40, 250_000);
    report(
        ctx,
        &samples,
        "n=100 p50=1000 p99=1000 max=250000",
        "the answer is one sample, never a mix of two: p99 of 100 samples is the 99th smallest, \
         and 99 of these are 1000",
    )
}

fn five_samples(ctx: &Ctx) -> Result<(), Fail> {
    report(
        ctx,
        &[5, 1, 4, 2, 3],
        "n=5 p50=3 p99=5 max=5",
        "the samples come in the order they were measured: sort a copy before you pick by rank",
    )
}

fn one_sample(ctx: &Ctx) -> Result<(), Fail> {
    report(
        ctx,
        &[42],
        "n=1 p50=42 p99=42 max=42",
        "with n = 1, every rank rounds up to 1: index 0",
    )
}
