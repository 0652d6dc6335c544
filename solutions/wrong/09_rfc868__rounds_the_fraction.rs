// WRONG (boundary) breaks 1: rounds the time to the nearest second (`as_secs_f64().round()`): at 08:30:59.999 it answers 08:31:00.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    let since_1970 = now
        .duration_since(UNIX_EPOCH)
        .expect("the time is before 1970")
        .as_secs_f64()
        .round() as u64;
    let since_1900 = since_1970 + (70 * 365 + 17) * 86_400;
    (since_1900 as u32).to_be_bytes()
}
