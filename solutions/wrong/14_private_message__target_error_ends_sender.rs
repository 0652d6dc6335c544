// WRONG (lock scope) breaks 5: returns the error of the write to the target: bob's broken connection ends ada's session (two members' states mixed).
fn tell(room: &Room, from: &str, rest: &str, me: &TcpStream) -> io::Result<()> {
    let Some((nick, text)) = rest.split_once(' ') else {
        return send_line(me, "error: usage: /tell NICK TEXT");
    };
    let target = lock(room).get(nick).cloned();
    match target {
        Some(stream) => send_line(&stream, &format!("{from} (private): {text}")),
        None => send_line(me, &format!("error: no one called {nick} is here")),
    }
}
