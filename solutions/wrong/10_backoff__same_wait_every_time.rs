// WRONG (timing) breaks 0: never doubles the wait: a fixed interval, which keeps a struggling server flooded.
fn ask_with_backoff(
    socket: &UdpSocket,
    first_wait: Duration,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let wait = first_wait;
    let mut buf = [0u8; 2048];
    loop {
        // No time left: give up now (and never ask std for a zero timeout).
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.send(REQUEST)?;
        // The last wait is cut short at the deadline.
        socket.set_read_timeout(Some(wait.min(left)))?;
        loop {
            match socket.recv(&mut buf) {
                // Any answer will do, even one to an earlier request: it is a time.
                Ok(n) => return Ok(Some(buf[..n].to_vec())),
                // A signal, not an answer: wait again (the timeout starts over; rare enough).
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                // The wait is over without an answer: lost, or slow. Ask again.
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                // Port unreachable (no server), and the rest: no point asking again.
                Err(err) => return Err(err),
            }
        }
    }
}
