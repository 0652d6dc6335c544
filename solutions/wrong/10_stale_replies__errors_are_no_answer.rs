// WRONG (protocol form) breaks 5: every receive error is "no answer": a refused request (no server there) is asked again and again, and reported as unanswered.
fn receive_answer(
    socket: &UdpSocket,
    id: u32,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let wanted = format!("#{id} ");
    let mut buf = [0u8; 2048];
    loop {
        // The time left, not a fresh timeout: dropped datagrams must not stretch the wait.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) if buf[..n].starts_with(wanted.as_bytes()) => {
                return Ok(Some(buf[..n].to_vec()));
            }
            // A late answer to an earlier question, or noise: not ours. Wait on.
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Ok(None),
        }
    }
}
