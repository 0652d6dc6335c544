// WRONG (boundary) breaks 2: rounds the rank p × n / 100 to the nearest instead of up: p99 of 1 to 170 is 168.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let rank = (f64::from(p) * n as f64 / 100.0).round() as usize;
    sorted[rank.clamp(1, n) - 1]
}
