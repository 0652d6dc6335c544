// WRONG (boundary) breaks 2: an end of the stream before any byte is taken for an error: a client that sends nothing gets no `0 bytes`.
fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total: u64 = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) if total == 0 => {
                return Err(io::Error::from(ErrorKind::UnexpectedEof));
            }
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}
