// WRONG (timing) breaks 3: takes only `TimedOut` for the deadline (Windows' kind): on Unix the expired read fails with `WouldBlock`, and the client is dropped as an error, without the time-limit line.
fn echo_until_deadline(
    stream: &mut TcpStream,
    deadline: Instant,
) -> io::Result<Ending> {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Ending::DeadlineReached);
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(Ending::Closed),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if err.kind() == ErrorKind::TimedOut => {
                return Ok(Ending::DeadlineReached);
            }
            Err(err) => return Err(err),
        };
        stream.write_all(&buf[..n])?;
    }
}
