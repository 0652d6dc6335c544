// WRONG (protocol form) breaks 3: reads the reply up to its first `\n`, taken for the end: a reply of several lines is cut.
fn send_then_read_reply(
    stream: &mut TcpStream,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    stream.shutdown(Shutdown::Write)?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(reply),
            Ok(n) => {
                reply.extend_from_slice(&buf[..n]);
                if reply.contains(&b'\n') {
                    let end = reply.iter().position(|&b| b == b'\n').unwrap_or(0);
                    reply.truncate(end + 1);
                    return Ok(reply);
                }
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}
