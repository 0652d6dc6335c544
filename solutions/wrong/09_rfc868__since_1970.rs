// WRONG (protocol form) breaks 1: sends the Unix time (seconds since 1970), as `time(2)` gives it, not RFC 868's seconds since 1900.
fn rfc868_bytes(now: SystemTime) -> [u8; 4] {
    let since_1970 = now
        .duration_since(UNIX_EPOCH)
        .expect("the time is before 1970")
        .as_secs();
    (since_1970 as u32).to_be_bytes()
}
