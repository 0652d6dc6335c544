// WRONG (resource) breaks 4: asks for "writable" all the time: an idle socket is always writable, so `wait` returns at once, forever, and the server spins.
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
    // Always ready to send the next reply.
    let (readable, writable) = (conn.wants_input(), true);
    conn.socket.set_interest(readable, writable)
}
