// WRONG (protocol form) breaks 1: the mean of the samples above the rank's share: an average, not a latency anyone measured.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    // "p99 is what the slowest 1 % look like": the mean of the samples from the rank on.
    let from = (p as usize * n).div_ceil(100).max(1) - 1;
    let tail = &sorted[from..];
    tail.iter().sum::<u64>() / tail.len() as u64
}
