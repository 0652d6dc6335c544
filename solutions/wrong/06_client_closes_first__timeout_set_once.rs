// WRONG (timing) breaks 4: sets the read timeout once: it restarts with every read, so a client that sends a byte now and then is never closed.
fn close_after_client(stream: TcpStream, wait: Duration) -> io::Result<Closed> {
    let mut stream = stream;
    stream.set_read_timeout(Some(wait))?;
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return Ok(Closed::ClientFirst),
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok(Closed::ServerFirst);
            }
            Err(err) => return Err(err),
        }
    }
}
