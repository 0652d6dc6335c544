// WRONG (protocol form) breaks 4: never asks for "writable": a reply larger than the send buffer stops halfway, until the client sends something else.
fn flush_and_rearm(conn: &mut Conn) -> io::Result<()> {
    // Send now: no need to wait for "writable" when the send buffer probably has room.
    while !conn.pending.is_empty() {
        match (&conn.socket.socket).write(&conn.pending) {
            // Part of it, perhaps: remove just that from the front.
            Ok(n) => {
                conn.pending.drain(..n);
            }
            // The send buffer is full: the rest waits for a "writable" event.
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    // We write as soon as there is something to write: no need to be woken for it.
    let (readable, writable) = (conn.wants_input(), false);
    conn.socket.set_interest(readable, writable)
}
