// WRONG (protocol form) breaks 3: one read of the reply, taken for all of it (ignores a reply that comes in pieces).
fn send_then_read_reply(
    stream: &mut TcpStream,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    stream.shutdown(Shutdown::Write)?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = stream.read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}
