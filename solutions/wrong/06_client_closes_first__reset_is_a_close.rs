// WRONG (protocol form) breaks 5: takes a reset for the client's close: the error is never reported.
fn close_after_client(stream: TcpStream, wait: Duration) -> io::Result<Closed> {
    let mut stream = stream;
    let deadline = Instant::now() + wait;
    let mut sink = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Closed::ServerFirst);
        }
        stream.set_read_timeout(Some(left))?;
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
            Err(_) => return Ok(Closed::ClientFirst),
        }
    }
}
