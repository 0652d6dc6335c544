// WRONG (protocol form) breaks 8: every read error ends the client as quietly as the idle timeout: a reset is never reported.
fn execute(store: &Store, request: &str) -> String {
    let mut parts = request.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("SET"), Some(key), Some(value)) => {
            // The guard is a temporary: the lock is released at the end of this statement.
            store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(key.to_string(), value.to_string());
            "OK".to_string()
        }
        (Some("GET"), Some(key), None) => {
            let map = store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match map.get(key) {
                Some(value) => format!("VALUE {value}"),
                None => "NOT FOUND".to_string(),
            }
        }
        _ => "ERROR unknown command".to_string(),
    }
}

fn handle_client(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    store: &Store,
) -> anyhow::Result<()> {
    // 1. While this lives, Ctrl-C makes our blocked read return 0: we leave at once.
    let _watch = shutdown.watch_stream(&stream)?;
    // 2. One reader for the connection: the lines after the current one wait in its buffer.
    let mut writer = stream
        .try_clone()
        .context("cannot clone the client's socket")?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    // 3. One byte over the limit tells "too long" from "just fits".
    let limit = MAX_LINE as u64 + 1;
    loop {
        line.clear();
        match reader.by_ref().take(limit).read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()), // the client closed, or Ctrl-C stopped the reading
            Ok(_) => {}
            // The idle timeout (60 s of silence): not an error of ours.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                println!("idle: closed {peer}");
                return Ok(());
            }
            Err(_) => return Ok(()),
        }
        let Some(request) = line.strip_suffix(b"\n") else {
            if line.len() > MAX_LINE {
                bail!("{peer} sent a line longer than {MAX_LINE} bytes; closed it");
            }
            return Ok(()); // a last line without `\n`, cut short by the end of the stream
        };
        let request =
            String::from_utf8_lossy(request.strip_suffix(b"\r").unwrap_or(request));
        let answer = execute(store, &request);
        writer
            .write_all(format!("{answer}\n").as_bytes())
            .with_context(|| format!("cannot write to {peer}"))?;
    }
}
