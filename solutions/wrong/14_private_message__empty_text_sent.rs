// WRONG (boundary) breaks 3: `/tell bob` without text sends bob an empty private line instead of the usage error.
fn tell(room: &Room, from: &str, rest: &str, me: &TcpStream) -> io::Result<()> {
    let (nick, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let target = lock(room).get(nick).cloned();
    match target {
        Some(stream) => {
            let _ = send_line(&stream, &format!("{from} (private): {text}"));
            Ok(())
        }
        None => send_line(me, &format!("error: no one called {nick} is here")),
    }
}
