// WRONG (boundary) breaks 0: doubles the wait without a cap: after a long outage, clients wait for hours.
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
            // An answer proves that a program is there: only then start again from the
            // shortest wait. A connect alone may be a frozen server's kernel.
            if converse(stream, timeout) {
                wait = interval;
            }
        }
        // Somewhere in [wait / 2, wait]: clients that failed together spread out.
        let top = wait.as_secs_f64();
        pause(Duration::from_secs_f64(rng.random_range(top / 2.0..=top)));
        wait *= 2;
    }
}
