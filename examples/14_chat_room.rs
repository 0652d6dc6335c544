//! # 14 — a chat room: broadcast to many clients
//!
//! Teaches broadcasting: every line one client sends goes to every other client. The naive
//! way — loop over the clients and `send` to each (python/chat_server.py) — lets one client that stops
//! reading block the whole room. Here every client has a bounded *outbox* drained by a writer
//! thread of its own, and the room has a flow-control policy: while a member's outbox is full,
//! whoever sends to it waits (so the sender's reads pause, and TCP slows the sender down); a
//! member that takes no line for `--stall-timeout` seconds is disconnected, and the room is
//! told. Text from members is made inert (control characters escaped) before anyone sees it.
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

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use socket_workbook::framing::{read_line_frame, write_line_frame};
use socket_workbook::shutdown::Shutdown;
use socket_workbook::text::inert;
use socket_workbook::{cli, net};

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
        /// Lines that may wait for one client; while they are all waiting, senders wait too.
        #[arg(long, default_value_t = 256, value_parser = cli::number::<u32>(1..=65_536))]
        outbox: u32,
        /// Longest line accepted, in bytes.
        #[arg(long, default_value_t = 1024, value_parser = cli::number::<usize>(1..=1 << 20))]
        max_line: usize,
        /// Seconds a client may take to accept one line while others wait; then it is dropped.
        #[arg(long, default_value = "5", value_parser = cli::parse_seconds)]
        stall_timeout: Duration,
        /// Seconds a new connection has to send its nickname.
        #[arg(long, default_value = "60", value_parser = cli::parse_seconds)]
        nick_timeout: Duration,
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

/// Most nicknames a greeting or `/who` lists: the line stays about 2 KiB however large the
/// room, well within what a client accepts (ours takes 64 KiB).
const MAX_NAMES_SHOWN: usize = 100;

/// What a client is told when the server lacks the threads or descriptors to serve it.
const BUSY: &[u8] = b"* the server is busy: try again later";

/// How a member is served: the server's options, shared by every client's threads.
#[derive(Clone, Copy)]
struct Rules {
    outbox: usize,
    max_line: usize,
    stall: Duration,
    nick_timeout: Duration,
}

fn main() -> ExitCode {
    cli::report(match Args::parse().role {
        Role::Server {
            addr,
            outbox,
            max_line,
            stall_timeout,
            nick_timeout,
        } => {
            let rules = Rules {
                outbox: outbox as usize,
                max_line,
                stall: stall_timeout,
                nick_timeout,
            };
            server(addr, rules)
        }
        Role::Client { addr, nick } => client(addr, &nick),
    })
}

// ANCHOR: outbox
/// The lines waiting to be sent to one member, and that member's socket. Senders put
/// lines in with [`Outbox::push`]; the member's writer thread takes them out with
/// [`Outbox::next_line`].
struct Outbox {
    stream: Arc<TcpStream>,
    capacity: usize,
    /// How long a member may take to accept one line before it is cut off.
    stall: Duration,
    /// How long senders wait for room in a full outbox: a member that takes no line
    /// for this long is *behind*, and nobody waits for it any more.
    patience: Duration,
    state: Mutex<OutboxState>,
    /// Signalled on every change: a line in, a line out, closed, the writer done.
    changed: Condvar,
}

struct OutboxState {
    lines: VecDeque<Arc<str>>,
    /// False once the member has left or was cut off: no more lines go in.
    open: bool,
    /// When the member last made progress: the writer took a line, or lines started to
    /// wait in an empty outbox (an idle member is not a slow one).
    progress: Instant,
    /// The member stopped reading and was cut off: why.
    cut_off: Option<String>,
    writer_done: bool,
}

impl Outbox {
    /// Queues `line`, waiting while the outbox is full, but not for a member that has
    /// stopped. The policy in four rules:
    /// - a member that keeps reading loses nothing: while it takes lines, the sender
    ///   waits for room instead;
    /// - the sender's reads pause meanwhile: TCP slows the sender down, not the
    ///   reader;
    /// - a member that takes no line for `patience` (a tenth of `stall`) is *behind*:
    ///   senders stop waiting for it, and its lines are kept, up to one more outbox's
    ///   worth, in case it resumes. So a member that stops costs the room one
    ///   `patience` at most, not `stall` — however many stop, one after another;
    /// - a member further behind than that, or that takes no line for `stall`, is
    ///   cut off.
    fn push(&self, line: &Arc<str>) {
        let mut state = self.lock();
        loop {
            if !state.open {
                return; // gone, or cut off: the line is not for anyone any more
            }
            let now = Instant::now();
            if state.lines.len() < self.capacity {
                if state.lines.is_empty() {
                    state.progress = now; // an idle member is not a slow one
                }
                state.lines.push_back(Arc::clone(line));
                self.changed.notify_all();
                return;
            }
            // Full. A member that took a line within `patience` is reading, only
            // slower than the room: wait for it (flow control).
            let patience_ends = state.progress + self.patience;
            if now < patience_ends {
                state = self
                    .changed
                    .wait_timeout(state, patience_ends - now)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
                continue;
            }
            // Behind: keep the line without waiting, within limits.
            let stalled = now >= state.progress + self.stall;
            if !stalled && state.lines.len() < 2 * self.capacity {
                state.lines.push_back(Arc::clone(line));
                self.changed.notify_all();
                return;
            }
            drop(state);
            let why = if stalled {
                format!("no line taken for {} s", self.stall.as_secs_f64())
            } else {
                format!("over {} lines behind", 2 * self.capacity)
            };
            self.cut_off(why);
            return;
        }
    }

    /// Queues `line` without waiting, even over capacity: for the greeting and the
    /// shutdown notice, one line each, which must never make their sender wait.
    fn push_now(&self, line: &str) {
        let mut state = self.lock();
        if state.open {
            state.lines.push_back(Arc::from(format!("{line}\n")));
            self.changed.notify_all();
        }
    }

    /// The writer's side: the next line to send, waiting for one; `None` once the
    /// outbox is closed and empty.
    fn next_line(&self) -> Option<Arc<str>> {
        let mut state = self.lock();
        loop {
            if let Some(line) = state.lines.pop_front() {
                state.progress = Instant::now();
                self.changed.notify_all(); // a sender may be waiting for this room
                return Some(line);
            }
            if !state.open {
                return None;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// No more lines: the writer sends what is queued, then ends.
    fn close(&self) {
        self.lock().open = false;
        self.changed.notify_all();
    }

    /// The member stopped reading: forget its lines, wake whoever waits on them, and
    /// shut the socket down, which ends its writer (the write fails) and its reader
    /// (the read returns 0).
    fn cut_off(&self, why: String) {
        {
            let mut state = self.lock();
            state.cut_off.get_or_insert(why);
            state.open = false;
            state.lines.clear();
        }
        self.changed.notify_all();
        let _ = self.stream.shutdown(Direction::Both);
    }

    fn lock(&self) -> MutexGuard<'_, OutboxState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
// ANCHOR_END: outbox

// ANCHOR: room
/// Everyone in the room, by nickname: the one piece of shared state, behind one lock.
#[derive(Default)]
struct Room {
    members: BTreeMap<String, Arc<Outbox>>,
}

impl Room {
    /// `ada, bob, … and 12 more`: the first [`MAX_NAMES_SHOWN`] nicknames, so that the
    /// line stays short however large the room; or `nobody yet`.
    fn here(&self) -> String {
        let names = self.members.keys().take(MAX_NAMES_SHOWN);
        let shown: Vec<&str> = names.map(String::as_str).collect();
        match self.members.len() - shown.len() {
            _ if shown.is_empty() => "nobody yet".to_string(),
            0 => shown.join(", "),
            more => format!("{} and {more} more", shown.join(", ")),
        }
    }

    /// Every member's outbox but `from`'s.
    fn all_but(&self, from: Option<&str>) -> Vec<Arc<Outbox>> {
        self.members
            .iter()
            .filter(|(nick, _)| Some(nick.as_str()) != from)
            .map(|(_, outbox)| Arc::clone(outbox))
            .collect()
    }
}

/// Queues `line` for each of `outboxes`, waiting where one is full ([`Outbox::push`]).
fn say_to(outboxes: &[Arc<Outbox>], line: &str) {
    let line: Arc<str> = Arc::from(format!("{line}\n"));
    for outbox in outboxes {
        // A member cut off here is announced by its own reader thread as it leaves.
        outbox.push(&line);
    }
}

/// The room, shared by every client's threads.
#[derive(Clone, Default)]
struct SharedRoom(Arc<Mutex<Room>>);

impl SharedRoom {
    fn lock(&self) -> MutexGuard<'_, Room> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `line` for every member but `from`. The room's lock is held only to copy
    /// the list: waiting for a full outbox under it would stop everyone else from even
    /// joining. One sender's lines reach each member in the order sent; two senders'
    /// lines may interleave differently for different members.
    fn say(&self, line: &str, from: Option<&str>) {
        let outboxes = self.lock().all_but(from);
        say_to(&outboxes, line);
    }

    /// Who is here, by nickname in alphabetical order.
    fn names(&self) -> String {
        self.lock().here()
    }

    /// Removes `nick` (if it is still the member that owns `outbox`), and returns who
    /// is left to be told.
    fn remove(&self, nick: &str, outbox: &Arc<Outbox>) -> Vec<Arc<Outbox>> {
        let mut room = self.lock();
        if room
            .members
            .get(nick)
            .is_some_and(|o| Arc::ptr_eq(o, outbox))
        {
            room.members.remove(nick);
        }
        room.all_but(None)
    }
}
// ANCHOR_END: room

fn server(addr: SocketAddr, rules: Rules) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = net::listen(addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let _watch = shutdown
        .watch_listener(&listener)
        .context("cannot watch the listener for Ctrl-C")?;
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    // Printed once everything the server needs is in place.
    cli::announce(&listener)?;

    let room = SharedRoom::default();
    // Ctrl-C: tell everyone first. Registered before any client's stream is watched, so the
    // notice is queued in every outbox before the readers are woken and the members leave.
    // `push_now` never waits: a shutdown must not wait for a member that stopped reading.
    let announcer = room.clone();
    let _announce = shutdown.on_trigger(move || {
        for outbox in announcer.lock().members.values() {
            outbox.push_now("* server shutting down");
        }
    });
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = shutdown.accept(&listener) {
        threads.retain(|thread| !thread.is_finished());
        let (room, shutdown) = (room.clone(), shutdown.clone());
        let spawned =
            thread::Builder::new()
                .name(format!("chat {peer}"))
                .spawn(move || {
                    if let Err(err) =
                        serve_member(stream, peer, &room, &shutdown, rules)
                    {
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

/// Reads a member's socket. Until the nickname is in, the whole line must arrive before a
/// deadline: a per-read timeout alone would let a client that sends one byte every few
/// seconds hold its thread for ever (chapter 04's slowloris).
struct DeadlineReader {
    stream: Arc<TcpStream>,
    deadline: Option<Instant>,
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        (&*self.stream).read(buf)
    }
}

// ANCHOR: serve_member
/// One client's reading thread: nickname, then lines until it leaves.
fn serve_member(
    stream: TcpStream,
    peer: SocketAddr,
    room: &SharedRoom,
    shutdown: &Shutdown,
    rules: Rules,
) -> anyhow::Result<()> {
    // Out of file descriptors, this is where it shows: say so (which needs none),
    // close.
    let _watch = shutdown.watch_stream(&stream).inspect_err(|_| {
        let _ = write_line_frame(&mut &stream, BUSY);
    })?;
    // Every write to this client is bounded: one that moves no byte for the stall
    // timeout fails, so no thread of ours waits for ever on a client that stopped
    // reading.
    stream.set_write_timeout(Some(rules.stall))?;
    // Its kernel send buffer is small already: 64 KiB asked for on the listener by
    // `net::listen` (chapter 06), which every accepted connection inherits. With the
    // outbox, it bounds what a client that stops reading holds.
    // One socket, shared by this thread, the writer and the room: no `try_clone`,
    // which would cost a file descriptor per copy.
    let stream = Arc::new(stream);
    let mut reader = BufReader::new(DeadlineReader {
        stream: Arc::clone(&stream),
        deadline: Some(Instant::now() + rules.nick_timeout),
    });

    // 1. The first line is the nickname: short, and due within `nick_timeout`.
    let _ = write_line_frame(&mut &*stream, b"* welcome! your nickname?");
    let refuse = |answer: &str, why: &str| {
        let _ = write_line_frame(&mut &*stream, answer.as_bytes());
        println!("refused: {peer} ({why})");
    };
    // (+1 for a `\r` from a client that ends lines with CRLF.)
    let nick = match read_line_frame(&mut reader, MAX_NICK + 1) {
        Ok(Some(line)) => valid_nick(&line),
        Err(err) if err.kind() == ErrorKind::InvalidData => None, // longer than that
        Err(err)
            if matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) =>
        {
            let secs = rules.nick_timeout.as_secs_f64();
            refuse(
                &format!("* no nickname within {secs} s: goodbye"),
                &format!("no nickname within {secs} s"),
            );
            return Ok(());
        }
        _ => return Ok(()), // gone before saying who it is
    };
    let Some(nick) = nick else {
        refuse(
            "* not a nickname: 1 to 20 letters, digits, - or _",
            "not a valid nickname",
        );
        return Ok(());
    };
    // A member may be silent for hours: from here on, reads wait as long as it takes.
    reader.get_mut().deadline = None;
    stream.set_read_timeout(None)?;

    // 2. The outbox and its writer thread, before joining: a member is in the room
    //    only once something drains its outbox.
    let outbox = Arc::new(Outbox {
        stream: Arc::clone(&stream),
        capacity: rules.outbox,
        stall: rules.stall,
        patience: rules.stall / 10,
        state: Mutex::new(OutboxState {
            lines: VecDeque::new(),
            open: true,
            progress: Instant::now(),
            cut_off: None,
            writer_done: false,
        }),
        changed: Condvar::new(),
    });
    let writer = match spawn_writer(Arc::clone(&outbox), &nick) {
        Ok(writer) => writer,
        Err(err) => {
            let _ = write_line_frame(&mut &*stream, BUSY);
            let what = format!("cannot start a writer thread for {nick} ({peer})");
            return Err(err).context(what);
        }
    };

    // 3. Join: unique nicknames only. Who is told of the arrival is decided together
    //    with the arrival itself, so that the greeting's "here:" and the notices
    //    agree.
    let joined = {
        let mut room = room.lock();
        if room.members.contains_key(&nick) {
            None
        } else {
            let here = room.here();
            outbox.push_now(&format!("* hello {nick}; here: {here}"));
            let others = room.all_but(None);
            room.members.insert(nick.clone(), Arc::clone(&outbox));
            Some(others)
        }
    };
    let Some(others) = joined else {
        outbox.push_now(&format!("* nickname {nick} is taken"));
        finish_writer(&outbox, writer, rules.stall);
        println!("refused: {peer} (nickname {nick} is taken)");
        return Ok(());
    };
    println!("joined: {nick} ({peer})");
    say_to(&others, &format!("* {nick} joined"));

    // 4. Lines until the client leaves, each by its rule.
    let tell = |line: &str| outbox.push(&Arc::from(format!("{line}\n")));
    let reason = loop {
        match read_line_frame(&mut reader, rules.max_line) {
            Ok(Some(line)) => match String::from_utf8(line) {
                Ok(text) if text == "/quit" => break "left",
                Ok(text) if text == "/who" => {
                    tell(&format!("* here: {}", room.names()));
                }
                Ok(text) if text.starts_with('/') => {
                    tell("* commands: /who, /quit");
                }
                // Rule: control characters are shown, not obeyed (see `inert`).
                Ok(text) => {
                    room.say(&format!("{nick}: {}", inert(&text)), Some(&nick))
                }
                // Rule: invalid UTF-8 is not passed on; the sender is told, and stays.
                Err(_) => {
                    println!("rejected: a line from {nick} is not UTF-8");
                    tell("* your line was not valid UTF-8 and was not sent");
                }
            },
            Ok(None) => break "left",
            // Rule: a line over the limit ends the connection (where would the next
            // go?)
            Err(err) if err.kind() == ErrorKind::InvalidData => {
                println!("dropped: {nick} (a line over {} bytes)", rules.max_line);
                tell(&format!(
                    "* line longer than {} bytes: disconnected",
                    rules.max_line
                ));
                break "was disconnected (line too long)";
            }
            // A reset, a vanished client, a line cut short by the end of the stream.
            Err(err) => {
                println!("lost: {nick} ({})", cli::describe_io(&err));
                break "left";
            }
        }
    };

    // 5. Leave: out of the room, then let the writer send what is queued (bounded).
    let cut_off = outbox.lock().cut_off.take();
    let others = room.remove(&nick, &outbox);
    finish_writer(&outbox, writer, rules.stall);
    let notice = if let Some(why) = cut_off {
        println!("dropped: {nick} (not reading: {why})");
        format!("* {nick} was disconnected (not reading)")
    } else {
        println!("left: {nick}");
        format!("* {nick} {reason}")
    };
    if !shutdown.is_triggered() {
        say_to(&others, &notice);
    }
    Ok(())
}
// ANCHOR_END: serve_member

// ANCHOR: writer
/// The client's writer thread: takes lines from its outbox and writes them, as fast as
/// the client reads. Only this thread ever waits on this client's socket.
fn spawn_writer(outbox: Arc<Outbox>, nick: &str) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("writer {nick}"))
        .spawn(move || {
            while let Some(line) = outbox.next_line() {
                if let Err(err) = (&*outbox.stream).write_all(line.as_bytes()) {
                    // The write timeout: not one byte accepted for `stall`. Not
                    // reading.
                    if matches!(
                        err.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) {
                        let secs = outbox.stall.as_secs_f64();
                        outbox.cut_off(format!("no line taken for {secs} s"));
                    }
                    break; // otherwise: disconnected, or already cut off
                }
            }
            // Closed and sent, or failed: nothing more goes in (a sender waiting for
            // room moves on), and our side of the socket closes, which also wakes the
            // reader.
            {
                let mut state = outbox.lock();
                state.open = false;
                state.lines.clear();
                state.writer_done = true;
            }
            outbox.changed.notify_all();
            let _ = outbox.stream.shutdown(Direction::Both);
        })
}

/// Waits for the writer to send what is queued, at most `limit`; then cuts the line (a
/// member that leaves with its buffers full must not keep two threads for ever).
fn finish_writer(outbox: &Outbox, writer: JoinHandle<()>, limit: Duration) {
    outbox.close();
    let state = outbox.lock();
    let (state, waited) = outbox
        .changed
        .wait_timeout_while(state, limit, |s| !s.writer_done)
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    drop(state);
    if waited.timed_out() {
        let _ = outbox.stream.shutdown(Direction::Both);
    }
    let _ = writer.join();
}
// ANCHOR_END: writer

/// A nickname: 1 to 20 ASCII letters, digits, `-` or `_` (so never a control character).
fn valid_nick(line: &[u8]) -> Option<String> {
    let ok = !line.is_empty()
        && line.len() <= MAX_NICK
        && line
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| String::from_utf8_lossy(line).into_owned())
}

/// Longest line the client accepts from the server: even a server can misbehave.
const CLIENT_MAX_LINE: usize = 64 * 1024;

// ANCHOR: client
/// The client: one thread prints what the room sends, the other sends what you type.
fn client(addr: SocketAddr, nick: &str) -> anyhow::Result<()> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream.try_clone()?;
    // A server that stops reading cannot hang what you type for ever: a line it has
    // not taken in 30 s is an error (the room's own flow control pauses us 5 s at
    // most).
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;

    // The server asks for the nickname, then greets us (or refuses): two capped lines,
    // due within 5 s each (a server answers at once): one that never does cannot hang
    // us.
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut greeting = || -> anyhow::Result<String> {
        match read_line_frame(&mut reader, CLIENT_MAX_LINE)? {
            Some(line) => Ok(inert(&String::from_utf8_lossy(&line)).into_owned()),
            None => bail!("the server closed the connection"),
        }
    };
    greeting().context("the server sent no greeting")?;
    write_line_frame(&mut writer, nick.as_bytes())
        .context("cannot send the nickname")?;
    let hello = greeting().context("no answer to the nickname")?;
    if !hello.starts_with("* hello ") {
        bail!("{}", hello.trim_start_matches("* "));
    }
    println!("{hello}");
    stream.set_read_timeout(None)?; // from now on, the room may be quiet for hours

    // Printing runs on its own thread, so that messages appear while we wait for
    // stdin. What the room sends is made inert too: this client does not trust the
    // server either. When the room ends first (the server closed the connection, shut
    // down or died), there is nothing left to type for: the printer ends the program,
    // since a thread blocked reading the keyboard cannot be woken portably.
    let leaving = Arc::new(AtomicBool::new(false));
    let left = Arc::clone(&leaving);
    let printer = thread::Builder::new()
        .name("printer".into())
        .spawn(move || {
            let ended = print_room(&mut reader, addr);
            if !left.load(Ordering::SeqCst) {
                eprintln!("error: {}", cli::one_line(&ended));
                std::process::exit(1);
            }
        })?;
    let typed = (|| -> anyhow::Result<()> {
        for line in io::BufRead::lines(io::stdin().lock()) {
            let line = line.context("cannot read stdin")?;
            if line == "/quit" {
                break;
            }
            let sent = write_line_frame(&mut writer, line.as_bytes());
            sent.context("cannot send to the room")?;
        }
        Ok(())
    })();
    // End of input (Ctrl-D) is leaving too. The server answers `/quit` by closing;
    // one that does not gets 5 s. (An error sending is ours to report, not the
    // printer's.)
    leaving.store(true, Ordering::SeqCst);
    let _ = write_line_frame(&mut writer, b"/quit");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = printer.join();
    typed
}

/// Prints the room's lines until it ends; returns why it ended. A line over the cap is
/// left out (and said so), not the end of the room.
fn print_room(reader: &mut impl io::BufRead, addr: SocketAddr) -> anyhow::Error {
    loop {
        match read_line_frame(reader, CLIENT_MAX_LINE) {
            Ok(Some(line)) => println!("{}", inert(&String::from_utf8_lossy(&line))),
            Ok(None) => return anyhow::anyhow!("{addr} closed the connection"),
            Err(err) if err.kind() == ErrorKind::InvalidData => {
                if let Err(err) = reader.skip_until(b'\n') {
                    return anyhow::Error::new(err)
                        .context(format!("cannot read from {addr}"));
                }
                let max = CLIENT_MAX_LINE;
                eprintln!("warning: left out a line of over {max} bytes from {addr}");
            }
            Err(err) => {
                return anyhow::Error::new(err)
                    .context(format!("cannot read from {addr}"));
            }
        }
    }
}
// ANCHOR_END: client
