// WRONG (boundary) breaks 0: stops at the largest 32-bit value in 2036 instead of wrapping to 0 as the protocol does.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    // Whole seconds since 1970 (the fraction dropped); the clock is never before 1970 here.
    let since_1970 = now
        .duration_since(UNIX_EPOCH)
        .expect("the time is before 1970")
        .as_secs();
    // 1900 to 1970: 70 years of 365 days, and 17 leap days.
    let since_1900 = since_1970 + (70 * 365 + 17) * 86_400;
    // A value too large for 32 bits: the largest one there is.
    u32::try_from(since_1900).unwrap_or(u32::MAX).to_be_bytes()
}
