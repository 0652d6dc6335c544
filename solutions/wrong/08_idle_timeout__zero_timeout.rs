// WRONG (resource) breaks 2, 3: a fixed poll timeout of zero: `wait` returns at once, forever, and the server spins.
fn poll_timeout(
    conns: &HashMap<usize, Conn>,
    idle: Duration,
    now: Instant,
) -> Option<Duration> {
    // Check the deadlines as often as possible.
    let _ = (conns, idle, now);
    Some(Duration::ZERO)
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
