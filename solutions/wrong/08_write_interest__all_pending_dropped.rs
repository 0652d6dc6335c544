// WRONG (protocol form) breaks 2: clears all of `pending` after a write that took only part of it: a large reply loses its rest.
fn flush_and_rearm(conn: &mut Conn) -> io::Result<()> {
    // Send now: no need to wait for "writable" when the send buffer probably has room.
    while !conn.pending.is_empty() {
        match (&conn.socket.socket).write(&conn.pending) {
            // Part of it, perhaps: remove just that from the front.
            Ok(n) => {
                let _ = n;
                conn.pending.clear();
            }
            // The send buffer is full: the rest waits for a "writable" event.
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    // "Writable" only while something waits: with nothing to write, a socket with room in its
    // send buffer would wake us at once, forever.
    let (readable, writable) = (conn.wants_input(), !conn.pending.is_empty());
    conn.socket.set_interest(readable, writable)
}
