// WRONG (resource) breaks 0: busy-waits: a non-blocking socket polled in a loop against the clock spins the CPU.
fn ask_with_backoff(
    socket: &UdpSocket,
    first_wait: Duration,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let mut wait = first_wait;
    let mut buf = [0u8; 2048];
    // Never block: look for an answer, and look at the clock, as often as we can.
    socket.set_nonblocking(true)?;
    loop {
        if Instant::now() >= deadline {
            return Ok(None);
        }
        socket.send(REQUEST)?;
        let give_up_at = (Instant::now() + wait).min(deadline);
        while Instant::now() < give_up_at {
            match socket.recv(&mut buf) {
                // Any answer will do, even one to an earlier request: it is a time.
                Ok(n) => return Ok(Some(buf[..n].to_vec())),
                // Nothing yet: look again.
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::WouldBlock | ErrorKind::Interrupted
                    ) => {}
                // Port unreachable (no server), and the rest: no point asking again.
                Err(err) => return Err(err),
            }
        }
        wait *= 2;
    }
}
