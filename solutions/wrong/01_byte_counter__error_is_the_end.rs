// WRONG (protocol form) breaks 3: takes any read error (a reset, the timeout) for the end of the stream, and answers a count.
fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total: u64 = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Ok(total),
            Ok(n) => total += n as u64,
        }
    }
}
