// WRONG (protocol form) breaks 2: shuts down both directions, so the reply can no longer be read.
fn send_then_read_reply(
    stream: &mut TcpStream,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    stream.shutdown(Shutdown::Both)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(reply)
}
