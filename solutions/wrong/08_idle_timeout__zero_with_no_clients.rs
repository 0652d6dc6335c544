// WRONG (resource) breaks 3: `unwrap_or(Duration::ZERO)` when there is no client: a server with nobody connected spins the CPU.
fn poll_timeout(
    conns: &HashMap<usize, Conn>,
    idle: Duration,
    now: Instant,
) -> Option<Duration> {
    conns
        .values()
        .map(|conn| conn.last_heard + idle)
        .min()
        .map(|deadline| deadline.saturating_duration_since(now))
        .or(Some(Duration::ZERO))
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
