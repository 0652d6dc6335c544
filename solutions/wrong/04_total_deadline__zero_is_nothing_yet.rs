// WRONG (protocol form) breaks 2: takes `Ok(0)` for "nothing yet" and reads again: a client that closes is kept (and spun on) until its deadline.
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
        match stream.read(&mut buf) {
            Ok(0) => continue,
            Ok(n) => stream.write_all(&buf[..n])?,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok(Ending::DeadlineReached);
            }
            Err(err) => return Err(err),
        }
    }
}
