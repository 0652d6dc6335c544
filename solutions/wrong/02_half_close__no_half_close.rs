// WRONG (protocol form) breaks 2: never tells the server the request is complete (no shutdown(Write)): both sides wait.
fn send_then_read_reply(
    stream: &mut TcpStream,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(reply)
}
