// WRONG (timing) breaks 0: sets the read timeout once, before the loop: every dropped datagram starts a whole wait again, so stale ones stretch it without end.
fn receive_answer(
    socket: &UdpSocket,
    id: u32,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let wanted = format!("#{id} ");
    let mut buf = [0u8; 2048];
    // Wait until the deadline.
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(None);
    }
    socket.set_read_timeout(Some(left))?;
    loop {
        match socket.recv(&mut buf) {
            Ok(n) if buf[..n].starts_with(wanted.as_bytes()) => {
                return Ok(Some(buf[..n].to_vec()));
            }
            // A late answer to an earlier question, or noise: not ours. Wait on.
            Ok(_) => {}
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
