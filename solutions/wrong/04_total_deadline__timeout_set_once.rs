// WRONG (timing) breaks 3: sets the read timeout once: it restarts with every read, so a trickling client stays forever.
fn echo_until_deadline(
    stream: &mut TcpStream,
    deadline: Instant,
) -> io::Result<Ending> {
    let mut buf = [0u8; 4096];
    let limit = deadline.saturating_duration_since(Instant::now());
    stream.set_read_timeout(Some(limit.max(Duration::from_millis(1))))?;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(Ending::Closed),
            Ok(n) => n,
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
        };
        stream.write_all(&buf[..n])?;
    }
}
