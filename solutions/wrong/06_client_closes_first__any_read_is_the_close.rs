// WRONG (protocol form) breaks 3: takes any read for the close: a client that sends one more byte is closed on first.
fn close_after_client(stream: TcpStream, wait: Duration) -> io::Result<Closed> {
    let mut stream = stream;
    stream.set_read_timeout(Some(wait))?;
    match stream.read(&mut [0u8; 1024]) {
        Ok(_) => Ok(Closed::ClientFirst),
        Err(err)
            if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            Ok(Closed::ServerFirst)
        }
        Err(err) => Err(err),
    }
}
