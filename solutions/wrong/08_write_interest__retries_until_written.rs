// WRONG (timing) breaks 3: retries a blocked write until the whole reply is gone: one client that does not read stops every other client, and spins.
fn flush_and_rearm(conn: &mut Conn) -> io::Result<()> {
    // Send now: no need to wait for "writable" when the send buffer probably has room.
    while !conn.pending.is_empty() {
        match (&conn.socket.socket).write(&conn.pending) {
            // Part of it, perhaps: remove just that from the front.
            Ok(n) => {
                conn.pending.drain(..n);
            }
            // The send buffer is full: try again until the client has taken it all.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(err) => return Err(err),
        }
    }
    // "Writable" only while something waits: with nothing to write, a socket with room in its
    // send buffer would wake us at once, forever.
    let (readable, writable) = (conn.wants_input(), !conn.pending.is_empty());
    conn.socket.set_interest(readable, writable)
}
