//! # 14 — a chat room: broadcast to many clients
//!
//! Teaches broadcasting: every line one client sends goes to every other client. The naive
//! way — loop over the clients and `send` to each (python/chat_server.py) — lets one client
//! that stops reading block the whole room. Here every client has a bounded *outbox* drained by
//! a writer thread of its own; a client whose outbox overflows is disconnected, and the room goes
//! on.
//! Line-framed text, so `nc` is a client too.
//!
//! ```text
//! terminal 1:  cargo run --example 14_chat_room -- server
//! terminal 2:  cargo run --example 14_chat_room -- client --nick ada
//! terminal 3:  cargo run --example 14_chat_room -- client --nick bob
//!              (or: nc -N 127.0.0.1 7878, and type your nickname first)
//! ```
//!
//! Type in terminal 2: it appears in terminal 3 as `ada: …`. `/who` lists who is here, `/quit`
//! leaves.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use socket_workbook::framing::{read_line_frame, write_line_frame};
use socket_workbook::shutdown::Shutdown;
use socket_workbook::{cli, net};
use socket2::SockRef;

/// Chat room: line-based, with a bounded outbox per client.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Run the room until Ctrl-C.
    Server {
        /// Address to listen on. Port 0 asks the OS for any free port.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Lines that may wait for one client; a client that falls further behind is dropped.
        #[arg(long, default_value_t = 256)]
        outbox: usize,
        /// Longest line accepted, in bytes.
        #[arg(long, default_value_t = 1024)]
        max_line: usize,
    },
    /// Join the room: lines from stdin go out, lines from the room are printed.
    Client {
        /// Address of the chat server.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Your nickname: 1 to 20 letters, digits, `-` or `_`.
        #[arg(long)]
        nick: String,
    },
}

/// Longest nickname, in characters.
const MAX_NICK: usize = 20;

fn main() -> ExitCode {
    cli::report(match Args::parse().role {
        Role::Server {
            addr,
            outbox,
            max_line,
        } => server(addr, outbox, max_line),
        Role::Client { addr, nick } => client(addr, &nick),
    })
}

// ANCHOR: room
/// Everyone in the room, by nickname: the one piece of shared state, behind one lock.
#[derive(Default)]
struct Room {
    members: BTreeMap<String, Member>,
}

/// What the room keeps of a client: where to queue its lines, and a handle to cut it off.
struct Member {
    outbox: SyncSender<Arc<str>>,
    socket: TcpStream,
}

impl Room {
    /// Queues `line` for every member but `from`. Never blocks: a member whose outbox is full
    /// is removed and returned, for the caller to disconnect once the lock is released.
    fn broadcast(&mut self, line: &str, from: Option<&str>) -> Vec<(String, Member)> {
        let line: Arc<str> = Arc::from(format!("{line}\n"));
        let mut too_slow = Vec::new();
        for (nick, member) in &self.members {
            if Some(nick.as_str()) == from {
                continue;
            }
            match member.outbox.try_send(Arc::clone(&line)) {
                Ok(()) => {}
                // Full: this client has not been reading. Waiting here would stall everyone.
                Err(TrySendError::Full(_)) => too_slow.push(nick.clone()),
                // Its writer has ended: it is leaving anyway.
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
        too_slow
            .into_iter()
            .filter_map(|nick| self.members.remove_entry(&nick))
            .collect()
    }
}
// ANCHOR_END: room

/// The room, shared by every client's threads.
#[derive(Clone, Default)]
struct SharedRoom(Arc<Mutex<Room>>);

impl SharedRoom {
    fn lock(&self) -> MutexGuard<'_, Room> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Broadcasts, then disconnects whoever was too slow, outside the lock, and tells the room.
    fn say(&self, line: &str, from: Option<&str>) {
        let mut dropped = self.lock().broadcast(line, from);
        // Dropping someone is news too, and may in turn find another slow client.
        while let Some((nick, member)) = dropped.pop() {
            println!("dropped: {nick} (its outbox was full: it stopped reading)");
            // Shutting the socket down wakes its reader and its writer, which clean up.
            let _ = member.socket.shutdown(Direction::Both);
            let notice = format!("* {nick} was disconnected (not reading)");
            dropped.extend(self.lock().broadcast(&notice, None));
        }
    }
}

fn server(addr: SocketAddr, outbox: usize, max_line: usize) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener =
        net::listen(addr, net::BACKLOG).with_context(|| format!("cannot listen on {addr}"))?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    cli::announce(&listener)?;
    let _watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;

    let room = SharedRoom::default();
    // Ctrl-C: tell everyone first. Registered before any client's stream is watched, so the
    // notice is queued in every outbox before the readers are woken and the members leave.
    let announcer = room.clone();
    let _announce = shutdown.on_trigger(move || announcer.say("* server shutting down", None));
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        threads.retain(|thread| !thread.is_finished());
        let (room, shutdown) = (room.clone(), shutdown.clone());
        let spawned = thread::Builder::new()
            .name(format!("chat {peer}"))
            .spawn(move || {
                if let Err(err) = serve_member(stream, peer, &room, &shutdown, outbox, max_line) {
                    eprintln!("error: {}", cli::one_line(&err));
                }
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(err) => eprintln!(
                "error: cannot start a thread for {peer}: {}",
                cli::describe_io(&err)
            ),
        }
    }
    println!("shutting down: closing every connection");
    for thread in threads {
        let _ = thread.join();
    }
    println!("shutting down: done");
    Ok(())
}

// ANCHOR: serve_member
/// One client's reading thread: nickname, then lines until it leaves.
fn serve_member(
    stream: TcpStream,
    peer: SocketAddr,
    room: &SharedRoom,
    shutdown: &Shutdown,
    outbox_len: usize,
    max_line: usize,
) -> anyhow::Result<()> {
    let _watch = shutdown.watch_stream(&stream)?;
    // A fixed, small kernel send buffer per client: with the outbox, it bounds what a client that
    // stops reading can cost us (without it, Linux grows the buffer up to `tcp_wmem`'s 4 MiB).
    SockRef::from(&stream).set_send_buffer_size(64 * 1024)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut direct = stream.try_clone()?; // for the few lines sent before joining

    // 1. The first line is the nickname.
    let _ = write_line_frame(&mut direct, b"* welcome! your nickname?");
    let nick = match read_line_frame(&mut reader, max_line) {
        Ok(Some(line)) => match valid_nick(&line) {
            Some(nick) => nick,
            None => {
                let _ = write_line_frame(
                    &mut direct,
                    b"* not a nickname: 1 to 20 letters, digits, - or _",
                );
                println!("refused: {peer} (not a valid nickname)");
                return Ok(());
            }
        },
        _ => return Ok(()), // gone before saying who it is
    };

    // 2. Join: unique nicknames only. The outbox and its writer thread start here.
    let (outbox, queued) = mpsc::sync_channel::<Arc<str>>(outbox_len);
    {
        let mut members = room.lock();
        if members.members.contains_key(&nick) {
            drop(members);
            let _ = write_line_frame(
                &mut direct,
                format!("* nickname {nick} is taken").as_bytes(),
            );
            println!("refused: {peer} (nickname {nick} is taken)");
            return Ok(());
        }
        let here: Vec<&str> = members.members.keys().map(String::as_str).collect();
        let greeting = format!(
            "* hello {nick}; here: {}\n",
            if here.is_empty() {
                "nobody yet".to_string()
            } else {
                here.join(", ")
            }
        );
        let _ = outbox.try_send(Arc::from(greeting));
        let socket = stream.try_clone()?;
        members.members.insert(
            nick.clone(),
            Member {
                outbox: outbox.clone(),
                socket,
            },
        );
    }
    drop(outbox); // the room's copy is the only one now: removing the member ends the writer
    let writer = spawn_writer(stream, queued, &nick)?;
    println!("joined: {nick} ({peer})");
    room.say(&format!("* {nick} joined"), Some(&nick));

    // 3. Lines until the client leaves, each by its rule.
    let reason = loop {
        match read_line_frame(&mut reader, max_line) {
            Ok(Some(line)) => match String::from_utf8(line) {
                Ok(text) if text == "/quit" => break "left",
                Ok(text) if text == "/who" => {
                    let names: Vec<String> = room.lock().members.keys().cloned().collect();
                    tell(room, &nick, &format!("* here: {}", names.join(", ")));
                }
                Ok(text) if text.starts_with('/') => tell(room, &nick, "* commands: /who, /quit"),
                Ok(text) => room.say(&format!("{nick}: {text}"), Some(&nick)),
                // Rule: invalid UTF-8 is not passed on; the sender is told, and stays.
                Err(_) => {
                    println!("rejected: a line from {nick} is not UTF-8");
                    tell(
                        room,
                        &nick,
                        "* your line was not valid UTF-8 and was not sent",
                    );
                }
            },
            Ok(None) => break "left",
            // Rule: a line over the limit ends the connection (where would the next line start?).
            Err(err) if err.kind() == ErrorKind::InvalidData => {
                println!("dropped: {nick} (a line over {max_line} bytes)");
                tell(
                    room,
                    &nick,
                    &format!("* line longer than {max_line} bytes: disconnected"),
                );
                break "was disconnected (line too long)";
            }
            // A reset or a vanished client: it simply leaves.
            Err(err) => {
                println!("lost: {nick} ({})", cli::describe_io(&err));
                break "left";
            }
        }
    };

    // 4. Leave: out of the room (which ends the writer once it has sent what is queued).
    let was_member = room.lock().members.remove(&nick).is_some();
    let _ = writer.join();
    if was_member {
        println!("left: {nick}");
        if !shutdown.is_triggered() {
            room.say(&format!("* {nick} {reason}"), None);
        }
    }
    Ok(())
}
// ANCHOR_END: serve_member

/// Queues a line for one member (dropping it if that member is too slow, like a broadcast).
fn tell(room: &SharedRoom, nick: &str, line: &str) {
    let mut guard = room.lock();
    let Some(member) = guard.members.get(nick) else {
        return;
    };
    if let Err(TrySendError::Full(_)) = member.outbox.try_send(Arc::from(format!("{line}\n"))) {
        if let Some(member) = guard.members.remove(nick) {
            drop(guard);
            println!("dropped: {nick} (its outbox was full: it stopped reading)");
            let _ = member.socket.shutdown(Direction::Both);
        }
    }
}

// ANCHOR: writer
/// The client's writer thread: takes lines from its outbox and writes them, as fast as the
/// client reads. Only this thread ever waits on this client's socket.
fn spawn_writer(
    mut stream: TcpStream,
    queued: Receiver<Arc<str>>,
    nick: &str,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("writer {nick}"))
        .spawn(move || {
            for line in queued {
                if stream.write_all(line.as_bytes()).is_err() {
                    break; // disconnected, or cut off for being too slow
                }
            }
            // The outbox is closed (the member left) or the socket failed: close our side.
            let _ = stream.shutdown(Direction::Both);
        })
}
// ANCHOR_END: writer

/// A nickname: 1 to 20 ASCII letters, digits, `-` or `_`.
fn valid_nick(line: &[u8]) -> Option<String> {
    let ok = !line.is_empty()
        && line.len() <= MAX_NICK
        && line
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| String::from_utf8_lossy(line).into_owned())
}

// ANCHOR: client
/// The client: one thread prints what the room sends, the other sends what you type.
fn client(addr: SocketAddr, nick: &str) -> anyhow::Result<()> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream.try_clone()?;

    // The server asks for the nickname, then greets us (or refuses).
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .context("the server sent no greeting")?;
    write_line_frame(&mut writer, nick.as_bytes()).context("cannot send the nickname")?;
    line.clear();
    reader
        .read_line(&mut line)
        .context("no answer to the nickname")?;
    if !line.starts_with("* hello ") {
        bail!("{}", line.trim_end().trim_start_matches("* "));
    }
    print!("{line}");

    // Printing runs on its own thread, so that messages appear while we wait for stdin.
    // (Capped, like everything read from the network: even a server can misbehave.)
    let printer = thread::Builder::new()
        .name("printer".into())
        .spawn(move || {
            while let Ok(Some(line)) = read_line_frame(&mut reader, 64 * 1024) {
                println!("{}", String::from_utf8_lossy(&line));
            }
        })?;
    for line in io::stdin().lock().lines() {
        let line = line.context("cannot read stdin")?;
        write_line_frame(&mut writer, line.as_bytes()).context("cannot send to the room")?;
        if line == "/quit" {
            break;
        }
    }
    // End of input (Ctrl-D) is leaving too.
    let _ = write_line_frame(&mut writer, b"/quit");
    let _ = printer.join();
    Ok(())
}
// ANCHOR_END: client
