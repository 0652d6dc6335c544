// WRONG (protocol form) breaks 1: echoes the whole buffer, not the `n` bytes read: the client gets its bytes followed by stale ones.
fn echo_until_deadline(
    stream: &mut TcpStream,
    deadline: Instant,
) -> io::Result<Ending> {
    let mut buf = [0u8; 16];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Ending::DeadlineReached);
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(Ending::Closed),
            Ok(_) => stream.write_all(&buf)?,
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
