//! # Exercise 14 · a private message in the chat (chapter 14)
//!
//! A small chat room, one thread per member (chapter 04's server): the first line a client sends
//! is its nickname, every other line goes to everyone else as `NICK: text`, and `/who` lists who
//! is here. One command is missing: `/tell NICK TEXT` sends TEXT to that one member only, as
//! `FROM (private): TEXT`. **Write `tell`** below.
//!
//! Try it by hand (three terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex14_private_message
//! terminal 2:  nc 127.0.0.1 7878      then type: ada       then: /tell bob psst
//! terminal 3:  nc 127.0.0.1 7878      then type: bob       (sees `ada (private): psst`)
//! ```
//!
//! Check it (the checker joins as three members, and one of them stops reading):
//!
//! ```text
//! cargo run --bin check -- 14_private_message
//! ```

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Chat room with private messages: line-based, one thread per member.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
}

/// Longest line accepted, in bytes (chapter 03's cap: a line without end is not buffered).
const MAX_LINE: u64 = 1024;

/// Who is here: nickname → a handle on that member's socket. `Arc<TcpStream>` because the
/// member's own thread reads from it while others write to it (`&TcpStream` is `Write`).
type Room = Arc<Mutex<BTreeMap<String, Arc<TcpStream>>>>;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    let room = Room::default();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let room = Arc::clone(&room);
        thread::spawn(move || {
            let peer = stream
                .peer_addr()
                .map_or("?".to_string(), |p| p.to_string());
            if let Err(err) = member(stream, &room) {
                println!("dropped: {peer}: {err}");
            }
        });
    }
    Ok(())
}

/// Locks the room. A thread that panicked while holding the lock leaves the map as it was
/// (every change is one `insert` or `remove`), so the poison is safe to ignore.
fn lock(room: &Room) -> MutexGuard<'_, BTreeMap<String, Arc<TcpStream>>> {
    room.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes one line to a member. A member that has not read for 5 s makes this fail with a
/// timeout (the write timeout set when it joined): a stuck reader costs a writer 5 s at most.
fn send_line(stream: &TcpStream, line: &str) -> io::Result<()> {
    let mut writer = stream;
    writer.write_all(format!("{line}\n").as_bytes())
}

/// Sends `line` to everyone but `from`. The handles are copied under the lock and written to
/// after it is released: a member that does not read then blocks this thread, not the room.
fn broadcast(room: &Room, from: &str, line: &str) {
    let others: Vec<Arc<TcpStream>> = lock(room)
        .iter()
        .filter(|(nick, _)| nick.as_str() != from)
        .map(|(_, stream)| Arc::clone(stream))
        .collect();
    for stream in others {
        let _ = send_line(&stream, line); // a member that cannot take it is its own thread's problem
    }
}

/// One member's life: its nickname, its lines, its leaving.
fn member(stream: TcpStream, room: &Room) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let me = Arc::new(stream);
    let mut reader = BufReader::new(&*me);
    let mut line = String::new();

    // 1. The nickname: letters, digits, `-` or `_`, and not taken.
    reader.by_ref().take(MAX_LINE).read_line(&mut line)?;
    let nick = line.trim().to_string();
    let valid = !nick.is_empty()
        && nick.len() <= 20
        && nick
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return send_line(&me, "error: a nickname is 1 to 20 letters, digits, - or _");
    }
    {
        let mut members = lock(room);
        if members.contains_key(&nick) {
            drop(members);
            return send_line(&me, &format!("error: {nick} is taken"));
        }
        members.insert(nick.clone(), Arc::clone(&me));
    }
    send_line(&me, &format!("welcome {nick}"))?;
    broadcast(room, &nick, &format!("* {nick} joined"));
    println!("joined: {nick}");

    // 2. Its lines, until it leaves (end of stream, an error, or a line too long).
    let result = loop {
        line.clear();
        match reader.by_ref().take(MAX_LINE).read_line(&mut line) {
            Ok(0) => break Ok(()),
            Ok(_) if !line.ends_with('\n') => {
                break send_line(&me, "error: line too long");
            }
            Ok(_) => {}
            Err(err) => break Err(err),
        }
        let text = line.trim_end_matches(['\r', '\n']);
        let reply = if text == "/who" {
            let names: Vec<String> = lock(room).keys().cloned().collect();
            send_line(&me, &format!("here: {}", names.join(", ")))
        } else if let Some(rest) = text.strip_prefix("/tell ") {
            tell(room, &nick, rest, &me)
        } else if text.starts_with('/') {
            send_line(&me, "error: commands are /who and /tell NICK TEXT")
        } else {
            broadcast(room, &nick, &format!("{nick}: {text}"));
            Ok(())
        };
        if let Err(err) = reply {
            break Err(err);
        }
    };

    // 3. Gone: out of the room, and everyone told.
    lock(room).remove(&nick);
    broadcast(room, &nick, &format!("* {nick} left"));
    println!("left: {nick}");
    result
}

// ============================== YOUR PART ==============================
/// `/tell NICK TEXT`: sends `FROM (private): TEXT` to the member NICK, and to no one else.
///
/// Given: the `room`; `from`, the sender's nickname; `rest`, the line after `/tell `
/// (`bob meet at 10:00, room 2`); `me`, the sender's socket. `lock`, `send_line` and
/// `broadcast` above.
///
/// Must hold:
/// 1. NICK is the first word of `rest`, TEXT everything after the space that follows it, kept as
///    it is (spaces, `:` and all): bob receives `ada (private): meet at 10:00, room 2`;
/// 2. only NICK receives it: not the others, not the sender;
/// 3. NICK not here: the sender gets one line `error: no one called NICK is here`, and stays;
///    no TEXT (`/tell bob`): the sender gets `error: usage: /tell NICK TEXT`;
/// 4. a member who has stopped reading may make `send_line` to them wait up to 5 s: while it
///    waits, the room goes on (others' `/who` is answered at once). So never write while you
///    hold the room's lock;
/// 5. return an error only when writing to the *sender* fails (it ends the sender's session);
///    a failed write to the target is the target's problem, as in `broadcast`.
///
/// Hints, one at a time:
/// 1. `rest.split_once(' ')` gives `(nick, text)`, or `None` when there is no text.
/// 2. Look the member up under the lock and keep a clone of its `Arc<TcpStream>`:
///    `let target = lock(room).get(nick).cloned();` — the lock is released at the `;`.
/// 3. Then, lock-free: `Some(stream)` → `send_line(&stream, …)`, `None` → the error to `me`.
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
        None => send_line(me, &format!("error: no one called {nick} is here")),
    }
}
// ============================ END OF YOUR PART ============================
