// WRONG (resource) breaks 5: keeps "readable" interest while nothing is wanted: a half-closed client, or one whose replies pile up, wakes `wait` at once, forever.
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
    // "Writable" only while something waits: with nothing to write, a socket with room in its
    // send buffer would wake us at once, forever.
    let (readable, writable) = (true, !conn.pending.is_empty());
    conn.socket.set_interest(readable, writable)
}
