// WRONG (protocol form) breaks 6: stops writing at any error, as at `WouldBlock`: a client that reset is never dropped, and its socket wakes `wait` forever.
fn flush_and_rearm(conn: &mut Conn) -> io::Result<()> {
    // Send now: no need to wait for "writable" when the send buffer probably has room.
    while !conn.pending.is_empty() {
        match (&conn.socket.socket).write(&conn.pending) {
            // Part of it, perhaps: remove just that from the front.
            Ok(n) => {
                conn.pending.drain(..n);
            }
            // The send buffer is full: the rest waits for a "writable" event.
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    // "Writable" only while something waits: with nothing to write, a socket with room in its
    // send buffer would wake us at once, forever.
    let (readable, writable) = (conn.wants_input(), !conn.pending.is_empty());
    conn.socket.set_interest(readable, writable)
}
