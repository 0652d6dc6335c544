// WRONG (timing) breaks 5: `close_expired` counts from the connection, not from `last_heard` (unlike `poll_timeout`): a client that keeps talking is closed after `idle`.
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
}

fn close_expired(conns: &mut HashMap<usize, Conn>, idle: Duration, now: Instant) {
    conns.retain(|_, conn| {
        if now < conn.connected + idle {
            return true;
        }
        log_idle(conn, now);
        false
    });
}
