// WRONG (timing) breaks 4: takes the read timeout for the end of the reply and returns what came so far: a server that never answers gets an empty reply and exit 0.
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
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok(reply);
            }
            Err(err) => return Err(err),
        }
    }
}
