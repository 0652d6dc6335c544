// WRONG (boundary) breaks 0: index `p × n / 100` taken for a rank counted from 0: p50 of 1 to 100 is 51.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // Rank ceil(p × n / 100), from 1; at least 1, so that a tiny p still names a sample.
    let n = sorted.len();
    let index = (p as usize * n / 100).min(n - 1);
    sorted[index]
}
