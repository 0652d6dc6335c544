// WRONG (resource) breaks 0: awaits `serve` in the accept loop instead of spawning a task: one client at a time.
async fn accept_loop(listener: TcpListener, lifetime: Duration) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors, a connection reset before it was accepted: the listener
            // is fine; pause a little so that a persistent error does not spin.
            Err(err) => {
                println!("accept failed: {err}");
                sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        println!("connected: {peer}");
        // A task per connection: this loop goes straight back to `accept`.
        if let Err(err) = serve(stream, lifetime).await {
            println!("error: {peer}: {err}");
        }
    }
}

async fn serve(stream: TcpStream, lifetime: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + lifetime;
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    // One deadline around the whole conversation: whichever `.await` is pending when it
    // passes (a read, a sleep, a write) is dropped, and `timeout_at` returns `Err`.
    let talk = async {
        while let Some(line) = lines.next_line().await? {
            let answer = match Request::parse(&line) {
                Request::Wait(ms) => {
                    sleep(Duration::from_millis(ms)).await;
                    format!("waited {ms}\n")
                }
                Request::Echo(text) => format!("echo: {text}\n"),
            };
            writer.write_all(answer.as_bytes()).await?;
        }
        Ok(())
    };
    match timeout_at(deadline, talk).await {
        Ok(result) => result,
        Err(_elapsed) => {
            // The goodbye gets a second of its own: a client that does not read gets none.
            let bye = writer.write_all(b"BYE lifetime\n");
            let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
            Ok(())
        }
    }
}
