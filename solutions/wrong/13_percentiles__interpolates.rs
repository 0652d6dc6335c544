// WRONG (protocol form) breaks 0: interpolates between the two samples around the rank (a spreadsheet's PERCENTILE): a latency nobody measured.
fn percentile(samples: &[u64], p: u32) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // The position (n - 1) × p / 100, between two samples: weigh them by the distance.
    let n = sorted.len();
    let at = (n - 1) as f64 * f64::from(p) / 100.0;
    let (low, high) = (at.floor() as usize, at.ceil() as usize);
    let weight = at - at.floor();
    (sorted[low] as f64 * (1.0 - weight) + sorted[high] as f64 * weight).round() as u64
}
