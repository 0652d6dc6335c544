// WRONG (timing) breaks 1, 5: counts the deadline from the connection, not from the last bytes heard: a client that keeps talking is closed.
fn poll_timeout(
    conns: &HashMap<usize, Conn>,
    idle: Duration,
    now: Instant,
) -> Option<Duration> {
    conns
        .values()
        .map(|conn| conn.connected + idle)
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
