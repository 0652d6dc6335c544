// WRONG (boundary) breaks 3: takes an empty reply for a failure: a server that closes without a word ends the client with an error.
fn send_then_read_reply(
    stream: &mut TcpStream,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    stream.shutdown(Shutdown::Write)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    if reply.is_empty() {
        return Err(io::Error::from(ErrorKind::UnexpectedEof));
    }
    Ok(reply)
}
