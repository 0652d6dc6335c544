// WRONG (protocol form) breaks 1: one read, taken for the whole echo (ignores short reads).
fn read_exactly(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let n = stream.read(buf)?;
    if n == 0 {
        return Err(io::Error::from(ErrorKind::UnexpectedEof));
    }
    Ok(())
}
