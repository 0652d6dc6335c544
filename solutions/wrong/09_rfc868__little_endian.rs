// WRONG (protocol form) breaks 0: sends the number little-endian (the order in memory on x86 and ARM), not in network byte order.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    // Whole seconds since 1970 (the fraction dropped); the clock is never before 1970 here.
    let since_1970 = now
        .duration_since(UNIX_EPOCH)
        .expect("the time is before 1970")
        .as_secs();
    // 1900 to 1970: 70 years of 365 days, and 17 leap days.
    let since_1900 = since_1970 + (70 * 365 + 17) * 86_400;
    // The low 32 bits, in the order they are in memory.
    (since_1900 as u32).to_le_bytes()
}
