// WRONG (protocol form) breaks 2: uses `write_all` on a non-blocking socket: it fails with `WouldBlock` halfway, and the part it wrote is sent again.
fn step(
    stream: &mut TcpStream,
    transfer: &mut Transfer,
    buf: &mut [u8],
) -> io::Result<Step> {
    let mut moved = false;

    // 1. Write the rest of the payload.
    if transfer.sent < transfer.payload.len() {
        match stream.write_all(&transfer.payload[transfer.sent..]) {
            Ok(()) => {
                transfer.sent = transfer.payload.len();
                moved = true;
            }
            // The send buffer is full: try again next turn.
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
    if missing > 0 {
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
