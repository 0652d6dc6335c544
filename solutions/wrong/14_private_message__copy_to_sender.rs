// WRONG (protocol form) breaks 2: sends the private line to the sender too, "so she sees what she sent".
fn tell(room: &Room, from: &str, rest: &str, me: &TcpStream) -> io::Result<()> {
    let Some((nick, text)) = rest.split_once(' ') else {
        return send_line(me, "error: usage: /tell NICK TEXT");
    };
    let target = lock(room).get(nick).cloned();
    match target {
        Some(stream) => {
            let line = format!("{from} (private): {text}");
            let _ = send_line(&stream, &line);
            send_line(me, &line)
        }
        None => send_line(me, &format!("error: no one called {nick} is here")),
    }
}
