// WRONG (boundary) breaks 3: wraps with `% u32::MAX` (2^32 - 1) instead of at 2^32: the last second before the wrap is already 0, and every later count is off by one.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    let since_1970 = now
        .duration_since(UNIX_EPOCH)
        .expect("the time is before 1970")
        .as_secs();
    let since_1900 = since_1970 + (70 * 365 + 17) * 86_400;
    ((since_1900 % u64::from(u32::MAX)) as u32).to_be_bytes()
}
