// WRONG (protocol form) breaks 3: the length parsed with `parse::<usize>()` once the `:` arrives: `+5:hello,` is accepted, and `ab` is never refused.
fn next_message(&mut self) -> io::Result<Option<Vec<u8>>> {
    let invalid = |what: String| io::Error::new(ErrorKind::InvalidData, what);
    let Some(colon) = self.buf.iter().position(|&b| b == b':') else {
        if self.buf.len() > MAX_DIGITS {
            return Err(invalid(format!(
                "a length of more than {MAX_DIGITS} digits"
            )));
        }
        return Ok(None); // the header is not complete yet
    };
    let len: usize = std::str::from_utf8(&self.buf[..colon])
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| invalid("bad length".to_string()))?;
    if len > MAX_PAYLOAD {
        return Err(invalid(format!(
            "{len} bytes announced, at most {MAX_PAYLOAD}"
        )));
    }
    let total = colon + 1 + len + 1;
    if self.buf.len() < total {
        return Ok(None);
    }
    if self.buf[total - 1] != b',' {
        return Err(invalid("no `,` after the payload".to_string()));
    }
    let frame: Vec<u8> = self.buf.drain(..total).collect();
    Ok(Some(frame[colon + 1..total - 1].to_vec()))
}
