// WRONG (protocol form) breaks 0: takes the first datagram that arrives for the answer: a late answer to an earlier question answers the wrong one.
fn receive_answer(
    socket: &UdpSocket,
    id: u32,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let _ = id;
    let mut buf = [0u8; 2048];
    loop {
        // The time left, not a fresh timeout: dropped datagrams must not stretch the wait.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            // The server answered.
            Ok(n) => return Ok(Some(buf[..n].to_vec())),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(err),
        }
    }
}
