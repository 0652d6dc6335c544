// WRONG (timing) breaks 2: waits a whole `idle` from now, whenever there are clients: every event pushes the next wake-up back, and silent clients are closed late.
fn poll_timeout(
    conns: &HashMap<usize, Conn>,
    idle: Duration,
    now: Instant,
) -> Option<Duration> {
    let _ = now;
    if conns.is_empty() { None } else { Some(idle) }
}

fn close_expired(conns: &mut HashMap<usize, Conn>, idle: Duration, now: Instant) {
    conns.retain(|_, conn| {
        if now < conn.last_heard + idle {
            return true;
        }
        log_idle(conn, now);
        false
    });
}
