// WRONG (resource) breaks 6: polls a non-blocking socket against the clock: the wait spins the CPU.
fn close_after_client(stream: TcpStream, wait: Duration) -> io::Result<Closed> {
    let mut stream = stream;
    stream.set_nonblocking(true)?;
    let deadline = Instant::now() + wait;
    let mut sink = [0u8; 1024];
    while Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) => return Ok(Closed::ClientFirst),
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Closed::ServerFirst)
}
