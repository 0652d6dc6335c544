// WRONG (protocol form) breaks 2: waits for the payload but not for the `,` after it: a read that ends just before the `,` is refused.
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
