// WRONG (boundary) breaks 0: counts 70 years of 365 days from 1900 to 1970, forgetting the 17 leap days.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    // Whole seconds since 1970 (the fraction dropped); the clock is never before 1970 here.
    let since_1970 = now
        .duration_since(UNIX_EPOCH)
        .expect("the time is before 1970")
        .as_secs();
    // 1900 to 1970: 70 years of 365 days.
    let since_1900 = since_1970 + 70 * 365 * 86_400;
    // Keeping the low 32 bits *is* the protocol: the count wraps to 0 in 2036.
    (since_1900 as u32).to_be_bytes()
}
