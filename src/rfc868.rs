//! The RFC 868 Time Protocol's one message (chapters 09 and 10).
//!
//! RFC 868 (1983) answers any datagram with the time as a 32-bit big-endian number of seconds
//! since 1900-01-01 00:00 UTC. Unix counts from 1970, so the two differ by the 70 years
//! between the epochs: 2,208,988,800 seconds. 32 unsigned bits of seconds since 1900 run out on
//! 2036-02-07 at 06:28:16 UTC, when the count wraps to 0. A decoder must pick an era; like NTP,
//! which has the same problem, we read values with the top bit clear (1900–1968 if taken
//! literally, long past) as the era after the wrap.

use jiff::Timestamp;

// ANCHOR: offset
/// Seconds from 1900-01-01 to 1970-01-01 (the Unix epoch): 70 years, 17 of them leap
/// years.
pub const SECONDS_1900_TO_1970: i64 = (70 * 365 + 17) * 86_400;
// ANCHOR_END: offset

// ANCHOR: encode
/// The four bytes an RFC 868 server sends for `now`: seconds since 1900, big-endian
/// ("network byte order"), wrapped to 32 bits.
pub fn encode(now: Timestamp) -> [u8; 4] {
    let since_1900 = now.as_second() + SECONDS_1900_TO_1970;
    // Truncating to 32 bits *is* the protocol: after 2036 the count starts again at 0.
    (since_1900 as u32).to_be_bytes()
}
// ANCHOR_END: encode

// ANCHOR: decode
/// The time that four RFC 868 bytes stand for (in the era 1968–2104; see the module
/// docs).
pub fn decode(bytes: [u8; 4]) -> Timestamp {
    let value = i64::from(u32::from_be_bytes(bytes));
    // Top bit set: 1968-01-20 up to the wrap in 2036. Clear: after the wrap, one era
    // later.
    let era = if value >= 1 << 31 { 0 } else { 1 << 32 };
    Timestamp::from_second(value + era - SECONDS_1900_TO_1970)
        .expect("an RFC 868 value is always a valid timestamp")
}
// ANCHOR_END: decode

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_offset_is_the_well_known_number() {
        assert_eq!(SECONDS_1900_TO_1970, 2_208_988_800);
    }

    #[test]
    fn encodes_a_known_instant() {
        // 2000-01-01T00:00:00Z is 946,684,800 Unix seconds: 3,155,673,600 since 1900.
        let y2k: Timestamp = "2000-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(encode(y2k), 3_155_673_600u32.to_be_bytes());
        assert_eq!(decode(encode(y2k)), y2k);
    }

    #[test]
    fn round_trips_across_the_2036_wrap() {
        for text in [
            "2026-11-23T17:00:00Z",
            "2036-02-07T06:28:15Z",
            "2036-02-07T06:28:16Z",
            "2090-01-01T00:00:00Z",
        ] {
            let t: Timestamp = text.parse().unwrap();
            assert_eq!(decode(encode(t)), t, "{text}");
        }
        let wrap: Timestamp = "2036-02-07T06:28:16Z".parse().unwrap();
        assert_eq!(encode(wrap), [0, 0, 0, 0], "the count wraps to zero");
    }
}
