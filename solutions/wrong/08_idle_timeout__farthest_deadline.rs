// WRONG (timing) breaks 2: sleeps until the farthest deadline (`max`), not the nearest: the earlier clients are closed late.
fn poll_timeout(
    conns: &HashMap<usize, Conn>,
    idle: Duration,
    now: Instant,
) -> Option<Duration> {
    conns
        .values()
        .map(|conn| conn.last_heard + idle)
        .max()
        .map(|deadline| deadline.saturating_duration_since(now))
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
