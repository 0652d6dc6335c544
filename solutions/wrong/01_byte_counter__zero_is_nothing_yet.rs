// WRONG (protocol form) breaks 2: takes `Ok(0)` for "nothing yet" and reads again: the end of the stream is never seen.
fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total: u64 = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => continue,
            Ok(n) => total += n as u64,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}
