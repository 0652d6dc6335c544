// WRONG (timing) breaks 0: no jitter: every client that failed together reconnects at the same instants.
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
        let _ = (top, &mut rng);
        pause(wait);
        wait = (wait * 2).min(max_wait);
    }
}
