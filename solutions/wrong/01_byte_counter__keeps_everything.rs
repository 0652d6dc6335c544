// WRONG (resource) breaks 4: keeps every byte in a Vec and returns its length: the server's memory grows with what the client sends.
fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all)?;
    Ok(all.len() as u64)
}
