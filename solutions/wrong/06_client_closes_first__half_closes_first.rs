// WRONG (protocol form) breaks 1: half-closes first (shutdown(Write)): that FIN is the first close; TIME_WAIT stays here.
fn close_after_client(stream: TcpStream, wait: Duration) -> io::Result<Closed> {
    let mut stream = stream;
    // "Tell the client we are done, then wait for it": our FIN goes first.
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(wait))?;
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return Ok(Closed::ClientFirst),
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok(Closed::ServerFirst);
            }
            Err(err) => return Err(err),
        }
    }
}
