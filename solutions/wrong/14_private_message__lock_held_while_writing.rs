// WRONG (lock scope) breaks 0: writes to the target while holding the room's lock: a member who stops reading stalls the whole room.
fn tell(room: &Room, from: &str, rest: &str, me: &TcpStream) -> io::Result<()> {
    let Some((nick, text)) = rest.split_once(' ') else {
        return send_line(me, "error: usage: /tell NICK TEXT");
    };
    // The handle is cloned under the lock, and the lock released at the end of the statement:
    // the write below may wait 5 s for a member who does not read, and the room must not.
    let members = lock(room);
    match members.get(nick) {
        Some(stream) => {
            let _ = send_line(stream, &format!("{from} (private): {text}"));
            Ok(())
        }
        None => send_line(me, &format!("error: no one called {nick} is here")),
    }
}
