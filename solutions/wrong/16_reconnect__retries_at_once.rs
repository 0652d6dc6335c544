// WRONG (resource) breaks 0: tries again at once after a failure: a refused connect returns in microseconds, and the client spins.
fn keep_connected(
    addr: SocketAddr,
    interval: Duration,
    max_wait: Duration,
    timeout: Duration,
) {
    let mut wait = interval;
    let mut rng = rand::rng();
    loop {
        let Some(stream) = connect(addr, timeout) else {
            continue; // not there: try again
        };
        if converse(stream, timeout) {
            wait = interval;
        }
        // Somewhere in [wait / 2, wait]: clients that failed together spread out.
        let top = wait.as_secs_f64();
        pause(Duration::from_secs_f64(rng.random_range(top / 2.0..=top)));
        wait = (wait * 2).min(max_wait);
    }
}
