// WRONG (boundary) breaks 1, 4: where the rank falls exactly on a sample, averages it with the next one (a textbook median): `a + b` overflows near u64::MAX.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let rank = (p as usize * n).div_ceil(100).max(1);
    if (p as usize * n) % 100 == 0 && rank < n {
        // An even split: the median of an even count is the middle of the two middle ones.
        (sorted[rank - 1] + sorted[rank]) / 2
    } else {
        sorted[rank - 1]
    }
}
