// WRONG (timing) breaks 2: no poll timeout: `wait` sleeps until an event, so a silent client is never closed.
fn poll_timeout(
    conns: &HashMap<usize, Conn>,
    idle: Duration,
    now: Instant,
) -> Option<Duration> {
    let _ = (conns, idle, now);
    None
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
