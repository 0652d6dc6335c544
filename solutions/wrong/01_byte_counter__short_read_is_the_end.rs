// WRONG (protocol form) breaks 1: takes a read shorter than the buffer for the end of the stream (short reads are normal).
fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total: u64 = 0;
    loop {
        let n = stream.read(&mut buf)?;
        total += n as u64;
        // "The buffer was not filled, so the client has sent everything": wrong, the rest
        // may simply not have arrived yet.
        if n < buf.len() {
            return Ok(total);
        }
    }
}
