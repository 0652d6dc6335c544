// WRONG (boundary) breaks 2: the wait computed as `interval * 2u32.pow(failures)`, capped afterwards: after 32 failures in a row the power overflows (a panic).
fn keep_connected(
    addr: SocketAddr,
    interval: Duration,
    max_wait: Duration,
    timeout: Duration,
) {
    let mut failures = 0u32;
    let mut rng = rand::rng();
    loop {
        if let Some(stream) = connect(addr, timeout) {
            // An answer proves that a program is there: only then start again from the
            // shortest wait. A connect alone may be a frozen server's kernel.
            if converse(stream, timeout) {
                failures = 0;
            }
        }
        // Somewhere in [wait / 2, wait]: clients that failed together spread out.
        let wait = (interval * 2u32.pow(failures)).min(max_wait);
        let top = wait.as_secs_f64();
        pause(Duration::from_secs_f64(rng.random_range(top / 2.0..=top)));
        failures += 1;
    }
}
