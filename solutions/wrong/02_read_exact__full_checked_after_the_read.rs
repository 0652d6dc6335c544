// WRONG (boundary) breaks 2: asks "is the buffer full?" only after a read: an empty message reads into an empty buffer, gets `Ok(0)`, and fails.
fn read_exactly(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    loop {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(io::Error::from(ErrorKind::UnexpectedEof)),
            Ok(n) => filled += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        if filled == buf.len() {
            return Ok(());
        }
    }
}
