// WRONG (protocol form) breaks 4: accepts a frame without a masking key, reading its payload as the key.
/// Takes the first whole client frame out of the buffer, unmasked.
///
/// Given: `self.buf`, every byte received and not yet taken out, starting at the first
/// byte of a frame (chapter 20, "Frames"):
/// byte 0 is FIN (top bit) and the opcode (low 4 bits); byte 1 is MASK (top bit) and a
/// 7-bit length: 0–125 is the length, 126 means the next 2 bytes are the length, 127 the
/// next 8 (both big-endian); then the 4-byte masking key; then the payload, each byte
/// XORed with key byte `i % 4`.
///
/// Must hold:
/// 1. `Ok(Some(frame))` once the whole frame is in the buffer, with `fin`, `opcode` and
///    the payload *unmasked*; its bytes are removed, and the next call starts at the next
///    frame.
/// 2. `Ok(None)`, the buffer untouched, while the buffer holds only a beginning: the bytes
///    can stop anywhere (inside the extended length, the key, the payload), and the
///    checker stops them everywhere.
/// 3. All three length forms: 7-bit, 126 + 16-bit, 127 + 64-bit, big-endian.
/// 4. An `ErrorKind::InvalidData` error (`io::Error::new(ErrorKind::InvalidData, "…")`)
///    as soon as byte 1 is in, for an unmasked frame: a client MUST mask (RFC 6455 §5.1).
/// 5. An `ErrorKind::InvalidData` error as soon as the length is known, for a length over
///    `MAX_PAYLOAD` (exactly `MAX_PAYLOAD` is fine): do not wait for the payload, and do
///    not allocate for it.
///
/// Hints, one at a time:
/// 1. Work out the header's size first: 2 bytes, plus 0, 2 or 8 for the length, plus 4
///    for the key. Until that many bytes are in, only checks 4 (and 5, once the length's
///    bytes are in) can say anything.
/// 2. `u16::from_be_bytes(self.buf[2..4].try_into().unwrap())`, and the same with `u64`
///    and `[2..10]`.
/// 3. With `header` and `len`, the frame is `header + len` bytes:
///    `let frame: Vec<u8> = self.buf.drain(..header + len).collect();`, then unmask
///    `frame[header..]` with `frame[header - 4..header]`.
fn next_frame(&mut self) -> io::Result<Option<Frame>> {
    let Some(&[first, second]) =
        self.buf.get(..2).map(|b| <&[u8; 2]>::try_from(b).unwrap())
    else {
        return Ok(None);
    };
    let (len, key_at) = match second & 0x7F {
        126 => match self.buf.get(2..4) {
            Some(bytes) => {
                (u64::from(u16::from_be_bytes(bytes.try_into().unwrap())), 4)
            }
            None => return Ok(None),
        },
        127 => match self.buf.get(2..10) {
            Some(bytes) => (u64::from_be_bytes(bytes.try_into().unwrap()), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    if len > MAX_PAYLOAD {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("a frame of {len} bytes, over the limit of {MAX_PAYLOAD}"),
        ));
    }
    let header = key_at + 4;
    let total = header + len as usize;
    if self.buf.len() < total {
        return Ok(None);
    }
    let frame: Vec<u8> = self.buf.drain(..total).collect();
    let key = &frame[key_at..header];
    let payload = frame[header..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    Ok(Some(Frame::new(first & 0x80 != 0, first & 0x0F, payload)))
}
