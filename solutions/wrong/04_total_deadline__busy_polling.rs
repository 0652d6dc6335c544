// WRONG (resource) breaks 4: busy-waits: a non-blocking socket polled in a loop against the clock spins the CPU.
fn echo_until_deadline(
    stream: &mut TcpStream,
    deadline: Instant,
) -> io::Result<Ending> {
    let mut buf = [0u8; 4096];
    stream.set_nonblocking(true)?;
    loop {
        if Instant::now() >= deadline {
            return Ok(Ending::DeadlineReached);
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(Ending::Closed),
            Ok(n) => n,
            // Nothing yet: check the clock and try again at once.
            Err(err) if err.kind() == ErrorKind::WouldBlock => continue,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        stream.set_nonblocking(false)?;
        stream.write_all(&buf[..n])?;
        stream.set_nonblocking(true)?;
    }
}
