// WRONG (lock scope) breaks 4: one deadline for all: when any client has expired, every client is closed, the ones still in time too.
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
    let any_expired = conns.values().any(|conn| now >= conn.last_heard + idle);
    if any_expired {
        for conn in conns.values() {
            log_idle(conn, now);
        }
        conns.clear();
    }
}
