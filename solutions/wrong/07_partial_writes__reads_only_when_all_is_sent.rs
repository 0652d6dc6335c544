// WRONG (protocol form) breaks 3: reads only once the whole payload is sent: the server stops reading when nobody takes its echo, and both wait.
fn step(
    stream: &mut TcpStream,
    transfer: &mut Transfer,
    buf: &mut [u8],
) -> io::Result<Step> {
    let mut moved = false;

    // 1. Write what the OS takes now. A partial write is normal: the send buffer had room for
    //    `n` bytes; the rest waits for the next turn.
    if transfer.sent < transfer.payload.len() {
        match stream.write(&transfer.payload[transfer.sent..]) {
            Ok(n) => {
                transfer.sent += n;
                moved |= n > 0;
            }
            // The send buffer is full: the server has not read enough yet. Not an error.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) => {}
            Err(err) => return Err(err),
        }
    }

    // 2. Read what has arrived, even before everything is sent: the server can only go on
    //    reading our payload while someone takes its echo.
    let missing = transfer.payload.len() - transfer.echo.len();
    if missing > 0 && transfer.sent == transfer.payload.len() {
        let want = missing.min(buf.len());
        match stream.read(&mut buf[..want]) {
            // The server closed before the whole echo came back.
            Ok(0) => return Err(io::Error::from(ErrorKind::UnexpectedEof)),
            Ok(n) => {
                transfer.echo.extend_from_slice(&buf[..n]);
                moved = true;
            }
            // Nothing has arrived since the last turn: "not now".
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) => {}
            Err(err) => return Err(err),
        }
    }

    if transfer.echo.len() == transfer.payload.len() {
        Ok(Step::Done)
    } else if moved {
        Ok(Step::Progress)
    } else {
        Ok(Step::Idle)
    }
}
