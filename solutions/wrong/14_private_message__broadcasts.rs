// WRONG (protocol form) breaks 0: sends the private line with `broadcast`: everyone sees it.
fn tell(room: &Room, from: &str, rest: &str, me: &TcpStream) -> io::Result<()> {
    let Some((nick, text)) = rest.split_once(' ') else {
        return send_line(me, "error: usage: /tell NICK TEXT");
    };
    // The handle is cloned under the lock, and the lock released at the end of the statement:
    // the write below may wait 5 s for a member who does not read, and the room must not.
    let target = lock(room).get(nick).cloned();
    match target {
        Some(_) => {
            broadcast(room, from, &format!("{from} (private): {text}"));
            Ok(())
        }
        None => send_line(me, &format!("error: no one called {nick} is here")),
    }
}
