// WRONG (timing) breaks 0: the lifetime as a timeout on each read: it starts again with every line, so a client that keeps talking lives forever.
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
        tokio::spawn(async move {
            if let Err(err) = serve(stream, lifetime).await {
                println!("error: {peer}: {err}");
            }
        });
    }
}

async fn serve(stream: TcpStream, lifetime: Duration) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    // The lifetime bounds the wait for each line.
    let talk = async {
        loop {
            let Ok(line) = tokio::time::timeout(lifetime, lines.next_line()).await
            else {
                let bye = writer.write_all(b"BYE lifetime\n");
                let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
                return Ok(());
            };
            let Some(line) = line? else { break };
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
    talk.await
}
