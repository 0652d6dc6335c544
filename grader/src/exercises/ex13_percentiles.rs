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
            holds: &[1, 2, 4],
            run: one_to_hundred,
        },
        Check {
            name: "99 samples of 1000 µs and one of 250000 µs: p99 is 1000 (one in 100 is above)",
            holds: &[1],
            run: slow_tail,
        },
        Check {
            name: "5 1 4 2 3: `n=5 p50=3 p99=5 max=5`",
            holds: &[3],
            run: five_samples,
        },
        Check {
            name: "a single sample, 42: every percentile is 42",
            holds: &[3],
            run: one_sample,
        },
        Check {
            name: "1 to 170 in a shuffled order: p99 is 169 (rank 168.3, rounded up)",
            holds: &[2],
            run: rank_rounded_up,
        },
        Check {
            name: "7 and three samples near u64::MAX: p50, p99 and max are samples, without an \
                   overflow",
            holds: &[1, 4],
            run: near_the_largest,
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

fn rank_rounded_up(ctx: &Ctx) -> Result<(), Fail> {
    // 1 to 170 (170 and 71 share no factor): p99 × 170 / 100 = 168.3, so rank 169. Rounded to
    // the nearest, or down, it is 168; p50 = 85 exactly.
    let samples: Vec<u64> = (0..170).map(|i| (i * 71) % 170 + 1).collect();
    report(
        ctx,
        &samples,
        "n=170 p50=85 p99=169 max=170",
        "the rank is p × n / 100 rounded **up** (168.3 → 169), not to the nearest and not down: \
         in integers, `(p × n).div_ceil(100)`",
    )
}

fn near_the_largest(ctx: &Ctx) -> Result<(), Fail> {
    let max = u64::MAX;
    report(
        ctx,
        &[max - 1, 7, max, max - 2],
        &format!("n=4 p50={} p99={max} max={max}", max - 2),
        "pick one sample by its rank; adding samples (an average, a midpoint) overflows a u64 \
         near its largest value",
    )
}
