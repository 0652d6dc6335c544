// WRONG (resource) breaks 5: waits for the `:` however many digits come: a peer that sends digits forever is never refused, and the buffer grows.
fn next_message(&mut self) -> io::Result<Option<Vec<u8>>> {
    let invalid = |what: String| io::Error::new(ErrorKind::InvalidData, what);
    // 1. The header: digits, then `:`. Look no further than the longest header can be, so
    //    that a peer sending digits forever is refused after MAX_DIGITS + 1 bytes.
    let head = &self.buf[..];
    let colon = match head.iter().position(|&b| b == b':') {
        Some(colon) => colon,
        None => {
            // No `:` yet: fine while every byte so far is a digit and there is room for more.
            if let Some(&bad) = head.iter().find(|b| !b.is_ascii_digit()) {
                return Err(invalid(format!("{:?} in the length", bad as char)));
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
    if self.buf.len() < total {
        return Ok(None);
    }
    if self.buf[total - 1] != b',' {
        return Err(invalid("no `,` after the payload".to_string()));
    }
    // 3. Take it out: the next call starts at the next netstring.
    let frame: Vec<u8> = self.buf.drain(..total).collect();
    Ok(Some(frame[colon + 1..total - 1].to_vec()))
}
