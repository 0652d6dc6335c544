// WRONG (protocol form) breaks 1: splits the line into words and joins them with one space: `a  b   c` arrives as `a b c`.
fn tell(room: &Room, from: &str, rest: &str, me: &TcpStream) -> io::Result<()> {
    let mut words = rest.split_whitespace();
    let Some(nick) = words.next() else {
        return send_line(me, "error: usage: /tell NICK TEXT");
    };
    let text: Vec<&str> = words.collect();
    if text.is_empty() {
        return send_line(me, "error: usage: /tell NICK TEXT");
    }
    let target = lock(room).get(nick).cloned();
    match target {
        Some(stream) => {
            let _ =
                send_line(&stream, &format!("{from} (private): {}", text.join(" ")));
            Ok(())
        }
        None => send_line(me, &format!("error: no one called {nick} is here")),
    }
}
