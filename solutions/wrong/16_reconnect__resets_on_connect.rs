// WRONG (timing) breaks 0: resets the backoff on every successful connect: a server that accepts and never answers is hammered.
fn keep_connected(
    addr: SocketAddr,
    interval: Duration,
    max_wait: Duration,
    timeout: Duration,
) {
    let mut wait = interval;
    let mut rng = rand::rng();
    loop {
        if let Some(stream) = connect(addr, timeout) {
            wait = interval;
            converse(stream, timeout);
        }
        // Somewhere in [wait / 2, wait]: clients that failed together spread out.
        let top = wait.as_secs_f64();
        pause(Duration::from_secs_f64(rng.random_range(top / 2.0..=top)));
        wait = (wait * 2).min(max_wait);
    }
}
