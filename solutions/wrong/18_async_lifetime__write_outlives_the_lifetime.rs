// WRONG (timing) breaks 5: the deadline bounds the reads and the waits, but not the writes: a client that stops reading keeps its connection forever.
async fn accept_loop(listener: TcpListener, lifetime: Duration) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                println!("accept failed: {err}");
                sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        println!("connected: {peer}");
        tokio::spawn(async move {
            if let Err(err) = serve(stream, lifetime).await {
                println!("error: {peer}: {err}");
            }
        });
    }
}

async fn serve(stream: TcpStream, lifetime: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + lifetime;
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    loop {
        // Every wait has the deadline: the next line, and a `WAIT`.
        let Ok(line) = timeout_at(deadline, lines.next_line()).await else {
            break;
        };
        let Some(line) = line? else {
            return Ok(());
        };
        let answer = match Request::parse(&line) {
            Request::Wait(ms) => {
                if timeout_at(deadline, sleep(Duration::from_millis(ms)))
                    .await
                    .is_err()
                {
                    break;
                }
                format!("waited {ms}\n")
            }
            Request::Echo(text) => format!("echo: {text}\n"),
        };
        // (A write is quick, isn't it?)
        writer.write_all(answer.as_bytes()).await?;
    }
    let bye = writer.write_all(b"BYE lifetime\n");
    let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
    Ok(())
}
