// WRONG (protocol form) breaks 0: a NICK who is not here: the message is dropped without a word to the sender.
fn tell(room: &Room, from: &str, rest: &str, me: &TcpStream) -> io::Result<()> {
    let Some((nick, text)) = rest.split_once(' ') else {
        return send_line(me, "error: usage: /tell NICK TEXT");
    };
    // The handle is cloned under the lock, and the lock released at the end of the statement:
    // the write below may wait 5 s for a member who does not read, and the room must not.
    let target = lock(room).get(nick).cloned();
    match target {
        Some(stream) => {
            let _ = send_line(&stream, &format!("{from} (private): {text}"));
            Ok(())
        }
        // Not here: nothing to deliver.
        None => Ok(()),
    }
}
