// WRONG (lock scope) breaks 5: locks the store once for the whole connection, across blocking reads: other clients wait.
fn execute(store: &Store, request: &str) -> String {
    let mut parts = request.splitn(3, ' ');
    let answer = match (parts.next(), parts.next(), parts.next()) {
        (Some("SET"), Some(key), Some(value)) => {
            let mut map = store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.insert(key.to_string(), value.to_string());
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
    };
    answer
}

fn handle_client(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    store: &Store,
) -> anyhow::Result<()> {
    let _watch = shutdown.watch_stream(&stream)?;
    // "Lock once per client, not once per line": the lock is then held while the client is
    // silent, and every other client waits for this one to leave.
    let mut map = store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut writer = stream
        .try_clone()
        .context("cannot clone the client's socket")?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let limit = MAX_LINE as u64 + 1;
    loop {
        line.clear();
        match reader.by_ref().take(limit).read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok(());
            }
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read from {peer}"));
            }
        }
        let Some(request) = line.strip_suffix(b"\n") else {
            bail!("{peer} sent a line longer than {MAX_LINE} bytes; closed it");
        };
        let request = String::from_utf8_lossy(request);
        let mut parts = request.splitn(3, ' ');
        let answer = match (parts.next(), parts.next(), parts.next()) {
            (Some("SET"), Some(key), Some(value)) => {
                map.insert(key.to_string(), value.to_string());
                "OK".to_string()
            }
            (Some("GET"), Some(key), None) => match map.get(key) {
                Some(value) => format!("VALUE {value}"),
                None => "NOT FOUND".to_string(),
            },
            _ => "ERROR unknown command".to_string(),
        };
        writer.write_all(format!("{answer}\n").as_bytes())?;
    }
}
