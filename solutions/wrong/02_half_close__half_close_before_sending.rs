// WRONG (protocol form) breaks 1: half-closes before sending the request: the write after the FIN fails (broken pipe), and nothing is sent.
fn send_then_read_reply(
    stream: &mut TcpStream,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    stream.shutdown(Shutdown::Write)?;
    stream.write_all(request)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(reply)
}
