// WRONG (boundary) breaks 3: `u32::try_from(…).expect(…)`: the server panics at the 2036 wrap instead of counting on from 0.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    let since_1970 = now
        .duration_since(UNIX_EPOCH)
        .expect("the time is before 1970")
        .as_secs();
    let since_1900 = since_1970 + (70 * 365 + 17) * 86_400;
    u32::try_from(since_1900)
        .expect("the time fits in 32 bits")
        .to_be_bytes()
}
