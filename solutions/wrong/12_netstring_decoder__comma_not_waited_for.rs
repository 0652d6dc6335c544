// WRONG (protocol form) breaks 0: waits for the payload but not for the `,` after it: a read that ends just before the `,` is refused.
/// Takes the first whole netstring out of the buffer and returns its payload.
///
/// Given: `self.buf`, every byte received and not yet taken out, starting at the first byte
/// of a netstring: `DIGITS:PAYLOAD,`, where DIGITS is the payload's length in decimal.
///
/// Must hold:
/// - `Ok(Some(payload))` once the *whole* netstring is in the buffer, the trailing `,`
///   included; those bytes are then removed, and the next call starts at the next netstring;
/// - `Ok(None)`, the buffer untouched, while it holds only a beginning: some digits, the
///   digits and `:`, part of the payload, the payload without its `,`. The bytes can stop
///   anywhere, and the checker stops them everywhere;
/// - an error of kind `ErrorKind::InvalidData` (`io::Error::new(ErrorKind::InvalidData,
///   "…")`) at once for a header that cannot be right: a byte other than a digit before
///   the `:`, no digit at all, more than `MAX_DIGITS` digits, a length above `MAX_PAYLOAD`,
///   or a byte other than `,` after the payload. Do not wait for more bytes to refuse it;
/// - the payload may hold any bytes, `:` and `,` and digits included: its length, not a
///   search for `,`, says where it ends.
///
/// Hints, one at a time:
/// 1. Find the `:` among the first `MAX_DIGITS + 1` bytes
///    (`self.buf.iter().position(|&b| b == b':')`); no `:` yet is not an error by itself.
/// 2. With `colon` its index, the netstring is `colon + 1 + len + 1` bytes long: wait until
///    the buffer holds that many, then check the byte at `colon + 1 + len` is `,`.
/// 3. `let frame: Vec<u8> = self.buf.drain(..total).collect();` takes it out; the payload
///    is `frame[colon + 1..total - 1]`.
fn next_message(&mut self) -> io::Result<Option<Vec<u8>>> {
    let invalid = |what: String| io::Error::new(ErrorKind::InvalidData, what);
    // 1. The header: digits, then `:`. Look no further than the longest header can be, so
    //    that a peer sending digits forever is refused after MAX_DIGITS + 1 bytes.
    let head = &self.buf[..self.buf.len().min(MAX_DIGITS + 1)];
    let colon = match head.iter().position(|&b| b == b':') {
        Some(colon) => colon,
        None => {
            // No `:` yet: fine while every byte so far is a digit and there is room for more.
            if let Some(&bad) = head.iter().find(|b| !b.is_ascii_digit()) {
                return Err(invalid(format!("{:?} in the length", bad as char)));
            }
            if head.len() > MAX_DIGITS {
                return Err(invalid(format!(
                    "a length of more than {MAX_DIGITS} digits"
                )));
            }
            return Ok(None);
        }
    };
    let digits = &self.buf[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid(format!(
            "bad length {:?}",
            String::from_utf8_lossy(digits)
        )));
    }
    // Only ASCII digits, at most MAX_DIGITS of them: this parse cannot overflow.
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| invalid("bad length".to_string()))?;
    if len > MAX_PAYLOAD {
        return Err(invalid(format!(
            "{len} bytes announced, at most {MAX_PAYLOAD}"
        )));
    }
    // 2. The whole netstring: header, payload, and the `,` after it.
    let total = colon + 1 + len + 1;
    // The payload is here: the `,` must be right after it.
    if self.buf.len() < total - 1 {
        return Ok(None);
    }
    if self.buf.get(total - 1) != Some(&b',') {
        return Err(invalid("no `,` after the payload".to_string()));
    }
    // 3. Take it out: the next call starts at the next netstring.
    let frame: Vec<u8> = self.buf.drain(..total).collect();
    Ok(Some(frame[colon + 1..total - 1].to_vec()))
}
