// WRONG (protocol form) breaks 1: adds the buffer size for each read instead of the number of bytes read.
fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total: u64 = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(_) => total += buf.len() as u64,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}
