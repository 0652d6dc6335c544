// WRONG (protocol form) breaks 0: picks the sample at the rank in arrival order: the samples are never sorted.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let sorted = samples.to_vec();
    // Rank ceil(p × n / 100), from 1; at least 1, so that a tiny p still names a sample.
    let n = sorted.len();
    let rank = (p as usize * n).div_ceil(100).max(1);
    sorted[rank - 1]
}
