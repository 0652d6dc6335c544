// WRONG (boundary) breaks 2, 3: the rank p × n / 100 rounded down (integer division): right for 1 to 100, but p50 of 1 to 5 is 2.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let rank = (p as usize * n / 100).max(1);
    sorted[rank - 1]
}
