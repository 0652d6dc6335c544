// WRONG (timing) breaks 0: the drop deadline counts from the connection, and no line moves it: a lively client is dropped after `timeout`.
fn watch(
    stream: &mut TcpStream,
    interval: Duration,
    timeout: Duration,
) -> io::Result<Ending> {
    let mut lines = Lines::default();
    let mut last_sent = Instant::now();
    let mut last_line = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        // 1. Every complete line: proof of life, and perhaps an answer.
        while let Some(line) = lines.next_line()? {
            if respond(stream, &line)? {
                last_sent = Instant::now();
            }
        }
        // 2. The two deadlines, each from its own event.
        let drop_at = last_line + timeout;
        let ping_at = last_sent + interval;
        if time_left(drop_at).is_none() {
            return Ok(Ending::Silent);
        }
        if time_left(ping_at).is_none() {
            stream.write_all(b"PING\n")?;
            last_sent = Instant::now();
            continue;
        }
        // 3. Sleep in `read` until bytes come or the nearer deadline passes.
        let Some(wait) = time_left(drop_at.min(ping_at)) else {
            continue;
        };
        stream.set_read_timeout(Some(wait))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(Ending::Closed),
            // Only bytes: whether they finish a line is for the next turn to see.
            Ok(n) => lines.push(&buf[..n]),
            Err(err) if timed_out(&err) || err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
