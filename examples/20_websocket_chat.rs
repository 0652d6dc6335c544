//! # 20 — WebSocket: chapter 14's chat room, with browser members
//!
//! Teaches the WebSocket protocol (RFC 6455) by writing it on a plain `TcpStream`: the HTTP
//! upgrade handshake (`Sec-WebSocket-Accept`), the frame format (FIN, opcodes, the three length
//! forms, client masking), fragmented messages, ping/pong as chapter 16's heartbeat, and the
//! close handshake. The room is chapter 14's, with its rules: a bounded outbox per member, a
//! member that stops reading is dropped, text made inert. Browser tabs join over WebSocket (the
//! page is served by this same program), `nc` members over chapter 14's line protocol on a
//! second port; both are in the same room.
//!
//! ```text
//! terminal 1:  cargo run --example 20_websocket_chat
//! browser:     open http://127.0.0.1:7878/ in two tabs (type a nickname first)
//! terminal 2:  nc 127.0.0.1 7879        (type your nickname first)
//! ```
//!
//! The first line is `listening on ADDR` (the page and the WebSocket), then the `nc` port.
//! What one tab types appears in the other tab and in `nc` as `ada: …`, and back. Ctrl-C in
//! terminal 1 closes every tab's WebSocket with code 1001 ("going away").

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use data_encoding::BASE64;
use sha1::{Digest, Sha1};
use socket_workbook::framing::{read_line_frame, write_line_frame};
use socket_workbook::shutdown::{self, Shutdown};
use socket_workbook::text::inert;
use socket_workbook::{cli, net};
use socket2::SockRef;

/// Chat room for browsers (WebSocket) and `nc` (lines), in one room.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address for browsers: the page (GET /) and the WebSocket (GET /chat). Port 0 asks
    /// the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Address for line members (`nc`, or chapter 14's client): chapter 14's protocol.
    #[arg(long, default_value = "127.0.0.1:7879")]
    tcp_addr: SocketAddr,
    /// Messages that may wait for one member; while they are all waiting, senders wait too.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    outbox: u32,
    /// Longest line, and longest WebSocket message, accepted, in bytes.
    #[arg(long, default_value_t = 1024)]
    max_line: usize,
    /// Seconds a member may take to accept one message while others wait; then it is dropped.
    #[arg(long, default_value = "5", value_parser = cli::parse_seconds)]
    stall_timeout: Duration,
    /// Seconds a new member has to send its nickname.
    #[arg(long, default_value = "60", value_parser = cli::parse_seconds)]
    nick_timeout: Duration,
    /// Seconds a browser has to send its whole HTTP request (the upgrade handshake).
    #[arg(long, default_value = "10", value_parser = cli::parse_seconds)]
    handshake_timeout: Duration,
    /// Seconds between the server's pings to each browser; one that sends nothing for three
    /// intervals (not even the pong) is dropped (chapter 16's heartbeat).
    #[arg(long, default_value = "10", value_parser = cli::parse_seconds)]
    ping_interval: Duration,
}

/// Longest nickname, in characters.
const MAX_NICK: usize = 20;

/// Longest HTTP request head (request line and headers) accepted, in bytes.
const MAX_HEAD: usize = 8 * 1024;

/// Most header lines in one request.
const MAX_HEADERS: usize = 64;

/// How long a closing member has to answer our close frame with its own.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a client is told when the server lacks the threads or descriptors to serve it.
const BUSY: &str = "* the server is busy: try again later";

/// The page and its script, compiled into the program: no files to find at run time.
const PAGE: &str = include_str!("20_websocket_chat/index.html");
const SCRIPT: &str = include_str!("20_websocket_chat/chat.js");

/// How a member is served: the server's options, shared by every connection's threads.
#[derive(Clone, Copy)]
struct Rules {
    outbox: usize,
    max_line: usize,
    stall: Duration,
    nick_timeout: Duration,
    handshake_timeout: Duration,
    ping_interval: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rules = Rules {
        outbox: args.outbox as usize,
        max_line: args.max_line,
        stall: args.stall_timeout,
        nick_timeout: args.nick_timeout,
        handshake_timeout: args.handshake_timeout,
        ping_interval: args.ping_interval,
    };
    cli::report(server(args.addr, args.tcp_addr, rules))
}

// ANCHOR: accept_key
/// The GUID every WebSocket server appends to the client's key (RFC 6455 §1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)). The
/// client checks it, so it knows that the server really speaks WebSocket (and is not
/// an HTTP server or cache that echoes whatever it gets).
fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    BASE64.encode(&sha1.finalize())
}
// ANCHOR_END: accept_key

// ANCHOR: frame
/// Opcodes (RFC 6455 §5.2). 0–2 carry a message; 8–10 are control frames.
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// Close codes (RFC 6455 §7.4.1) this server sends.
const NORMAL: u16 = 1000;
const GOING_AWAY: u16 = 1001;
const PROTOCOL_ERROR: u16 = 1002;
const UNSUPPORTED: u16 = 1003;
const NOT_UTF8: u16 = 1007;
const TOO_BIG: u16 = 1009;

/// One frame, unmasked.
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// Why a connection ends with a close frame of ours: the close code and the reason.
struct Fail(u16, String);

/// A frame could not be read: the stream ended or failed, or the peer broke the rules.
enum ReadError {
    Io(io::Error),
    Fail(Fail),
}

impl From<io::Error> for ReadError {
    fn from(err: io::Error) -> Self {
        ReadError::Io(err)
    }
}

fn fail(code: u16, why: impl Into<String>) -> ReadError {
    ReadError::Fail(Fail(code, why.into()))
}

/// Reads one frame from a client. `Ok(None)` if the stream ends before its first byte.
///
/// ```text
///  byte 0: FIN RSV1 RSV2 RSV3 opcode(4)   byte 1: MASK length(7)
///  length 0–125: that is the length
///  length 126:   the next 2 bytes are the length (big-endian)
///  length 127:   the next 8 bytes are the length (big-endian, top bit 0)
///  then the 4-byte masking key (client frames), then the payload, masked
/// ```
///
/// Every limit is checked on the header, *before* the payload's buffer is allocated: a
/// client that announces 2^63 bytes costs us 14 bytes of reading, not a gigabyte.
fn read_frame(reader: &mut impl Read, max: usize) -> Result<Option<Frame>, ReadError> {
    let mut head = [0u8; 2];
    // The first byte on its own: the end of the stream here is a clean end.
    if reader.read(&mut head[..1])? == 0 {
        return Ok(None);
    }
    reader.read_exact(&mut head[1..])?;
    let fin = head[0] & 0x80 != 0;
    let opcode = head[0] & 0x0F;
    if head[0] & 0x70 != 0 {
        // RSV bits are for extensions, and we agreed to none in the handshake.
        return Err(fail(PROTOCOL_ERROR, "reserved bits set"));
    }
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(fail(PROTOCOL_ERROR, format!("unknown opcode {opcode:#x}")));
    }
    let masked = head[1] & 0x80 != 0;
    if !masked {
        // A client MUST mask every frame (§5.1): the mask keeps a hostile page from
        // choosing the bytes on the wire, which could fool a proxy in between into
        // caching them. A server MUST close on an unmasked frame.
        return Err(fail(PROTOCOL_ERROR, "a client frame that is not masked"));
    }
    let control = opcode >= CLOSE;
    if control && (!fin || head[1] & 0x7F > 125) {
        // Control frames are never fragmented and carry at most 125 bytes (§5.5),
        // so they can go between the fragments of a message.
        return Err(fail(PROTOCOL_ERROR, "a fragmented or long control frame"));
    }
    // The three length forms.
    let len = match head[1] & 0x7F {
        126 => {
            let mut ext = [0u8; 2];
            reader.read_exact(&mut ext)?;
            u64::from(u16::from_be_bytes(ext))
        }
        127 => {
            let mut ext = [0u8; 8];
            reader.read_exact(&mut ext)?;
            let len = u64::from_be_bytes(ext);
            if len >> 63 != 0 {
                return Err(fail(PROTOCOL_ERROR, "a length with its top bit set"));
            }
            len
        }
        short => u64::from(short),
    };
    if !control && len > max as u64 {
        // Checked before allocating anything for the payload.
        return Err(fail(TOO_BIG, format!("a frame over {max} bytes")));
    }
    let mut mask = [0u8; 4];
    reader.read_exact(&mut mask)?;
    let mut payload = vec![0u8; len as usize];
    reader.read_exact(&mut payload)?;
    // Unmasking: byte i is XORed with mask byte i mod 4.
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok(Some(Frame {
        fin,
        opcode,
        payload,
    }))
}

/// A frame from the server: never masked, always FIN (we do not fragment what we
/// send).
fn encode_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(len as u8),
        len @ 126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// A close frame's payload: the code (2 bytes, big-endian), then a UTF-8 reason.
fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    // A control frame carries at most 125 bytes: 2 for the code, 123 for the reason.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}
// ANCHOR_END: frame

// ANCHOR: outbox
/// What a member's writer thread sends: a line of the room's text, or (to browsers
/// only) a control frame.
enum Out {
    Line(Arc<str>),
    Pong(Vec<u8>),
    Close(u16, String),
}

/// Chapter 14's outbox: what waits to be sent to one member, bounded, drained by that
/// member's writer thread. Only lines count against the capacity; a pong or a close is
/// queued at once (there is at most one per frame the member itself sent).
struct Outbox {
    stream: Arc<TcpStream>,
    capacity: usize,
    stall: Duration,
    /// How long senders wait for room in a full outbox (chapter 14: a member that
    /// takes nothing for this long is *behind*, and nobody waits for it any more).
    patience: Duration,
    state: Mutex<OutboxState>,
    changed: Condvar,
}

struct OutboxState {
    items: VecDeque<Out>,
    open: bool,
    progress: Instant,
    /// The member stopped reading and was cut off: why.
    cut_off: Option<String>,
    writer_done: bool,
}

/// What the writer gets from [`Outbox::next`].
enum Next {
    Send(Out),
    /// Nothing to send before the deadline given: time for a ping.
    Idle,
    Closed,
}

impl Outbox {
    fn new(stream: Arc<TcpStream>, rules: &Rules) -> Outbox {
        Outbox {
            stream,
            capacity: rules.outbox,
            stall: rules.stall,
            patience: rules.stall / 10,
            state: Mutex::new(OutboxState {
                items: VecDeque::new(),
                open: true,
                progress: Instant::now(),
                cut_off: None,
                writer_done: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Queues a line, waiting while the outbox is full, but not for a member that has
    /// stopped: chapter 14's four rules. A member that reads loses nothing (the sender
    /// waits for room, so TCP slows the sender); a member that takes nothing for
    /// `patience` (a tenth of `stall`) is *behind*: nobody waits for it, and its lines
    /// are kept up to one more outbox's worth; further behind, or silent for `stall`,
    /// it is cut off. So a stream of fresh members that never read costs the room one
    /// `patience` each, not `stall` each.
    fn push(&self, line: &Arc<str>) {
        let mut state = self.lock();
        loop {
            if !state.open {
                return;
            }
            let now = Instant::now();
            if state.items.len() < self.capacity {
                if state.items.is_empty() {
                    state.progress = now;
                }
                state.items.push_back(Out::Line(Arc::clone(line)));
                self.changed.notify_all();
                return;
            }
            // Full: a member that took something within `patience` is reading, only
            // slower than the room; wait for it.
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
            if !stalled && state.items.len() < 2 * self.capacity {
                state.items.push_back(Out::Line(Arc::clone(line)));
                self.changed.notify_all();
                return;
            }
            drop(state);
            self.cut_off(if stalled {
                format!("nothing taken for {} s", self.stall.as_secs_f64())
            } else {
                format!("over {} lines behind", 2 * self.capacity)
            });
            return;
        }
    }

    /// Queues without waiting, over capacity if need be: the greeting, a notice to the
    /// member itself, a pong, the close frame. Never makes its caller wait.
    fn push_now(&self, item: Out) {
        let mut state = self.lock();
        if state.open {
            state.items.push_back(item);
            self.changed.notify_all();
        }
    }

    /// A line of text for this member alone, queued at once.
    fn tell(&self, line: &str) {
        self.push_now(Out::Line(Arc::from(line)));
    }

    /// The writer's side: the next item, waiting until `until` at most.
    fn next(&self, until: Option<Instant>) -> Next {
        let mut state = self.lock();
        loop {
            if let Some(item) = state.items.pop_front() {
                state.progress = Instant::now();
                self.changed.notify_all();
                return Next::Send(item);
            }
            if !state.open {
                return Next::Closed;
            }
            state = match until {
                None => self
                    .changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        return Next::Idle;
                    }
                    self.changed
                        .wait_timeout(state, until - now)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
    }

    fn close(&self) {
        self.lock().open = false;
        self.changed.notify_all();
    }

    /// The member stopped reading: forget its lines and shut the socket down.
    fn cut_off(&self, why: String) {
        {
            let mut state = self.lock();
            state.cut_off.get_or_insert(why);
            state.open = false;
            state.items.clear();
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

/// Everyone in the room, by nickname, behind one lock (chapter 14).
#[derive(Clone, Default)]
struct SharedRoom(Arc<Mutex<BTreeMap<String, Arc<Outbox>>>>);

impl SharedRoom {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Outbox>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn all_but(&self, from: Option<&str>) -> Vec<Arc<Outbox>> {
        self.lock()
            .iter()
            .filter(|(nick, _)| Some(nick.as_str()) != from)
            .map(|(_, outbox)| Arc::clone(outbox))
            .collect()
    }

    /// Queues `line` for every member but `from`; the room's lock is held only to copy
    /// the list (waiting for a full outbox under it would stop everyone from joining).
    fn say(&self, line: &str, from: Option<&str>) {
        say_to(&self.all_but(from), line);
    }

    fn names(&self) -> String {
        let room = self.lock();
        room.keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn remove(&self, nick: &str, outbox: &Arc<Outbox>) -> Vec<Arc<Outbox>> {
        let mut room = self.lock();
        if room.get(nick).is_some_and(|o| Arc::ptr_eq(o, outbox)) {
            room.remove(nick);
        }
        room.values().cloned().collect()
    }
}

fn say_to(outboxes: &[Arc<Outbox>], line: &str) {
    let line: Arc<str> = Arc::from(line);
    for outbox in outboxes {
        outbox.push(&line);
    }
}

// ANCHOR: server
fn server(addr: SocketAddr, tcp_addr: SocketAddr, rules: Rules) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    let web = net::listen(addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let lines = net::listen(tcp_addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {tcp_addr} (--tcp-addr)"))?;
    let _watch_web = shutdown
        .watch_listener(&web)
        .context("cannot watch the listener for Ctrl-C")?;
    let _watch_lines = shutdown
        .watch_listener(&lines)
        .context("cannot watch the listener for Ctrl-C")?;
    let web_addr = cli::announce(&web)?;
    println!("browsers: open http://{web_addr}/");
    let line_addr = lines.local_addr().context("cannot read the address")?;
    println!("nc members: nc {} {}", line_addr.ip(), line_addr.port());

    let room = SharedRoom::default();
    // Ctrl-C: every member is told, and every browser gets a close frame with 1001
    // ("going away"), before the readers are woken: `push_now` never waits.
    let announcer = room.clone();
    let _announce = shutdown.on_trigger(move || {
        for outbox in announcer.lock().values() {
            outbox.tell("* server shutting down");
            outbox.push_now(Out::Close(GOING_AWAY, "server shutting down".into()));
        }
    });

    // Two accept loops, one per listener, each starting a thread per connection.
    let line_loop = {
        let (room, shutdown) = (room.clone(), shutdown.clone());
        thread::Builder::new()
            .name("accept nc".into())
            .spawn(move || accept_loop(&lines, Kind::Lines, &room, &shutdown, rules))
            .context("cannot start the accept thread")?
    };
    accept_loop(&web, Kind::Web, &room, &shutdown, rules);
    let _ = line_loop.join();
    println!("shutting down: done");
    Ok(())
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// HTTP: the page, or a WebSocket upgrade.
    Web,
    /// Chapter 14's line protocol.
    Lines,
}

fn accept_loop(
    listener: &TcpListener,
    kind: Kind,
    room: &SharedRoom,
    shutdown: &Shutdown,
    rules: Rules,
) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = shutdown.accept(listener) {
        threads.retain(|thread| !thread.is_finished());
        let (room, shutdown) = (room.clone(), shutdown.clone());
        let spawned = thread::Builder::new()
            .name(format!("connection {peer}"))
            .spawn(move || {
                if let Err(err) = serve(stream, peer, kind, &room, &shutdown, rules) {
                    eprintln!("error: {peer}: {}", cli::one_line(&err));
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
    if kind == Kind::Web {
        println!("shutting down: closing every connection");
    }
    for thread in threads {
        let _ = thread.join();
    }
}
// ANCHOR_END: server

/// Reads a connection's socket with one deadline for the whole of something (a request
/// head, a nickname, the next heartbeat), not a timeout per `read`: a client that sends
/// one byte every few seconds cannot stretch it (chapter 16's "liveness is a deadline").
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
        loop {
            // A signal (Ctrl-C) interrupts a read on a socket with a timeout, and the
            // kernel does not restart it (signal(7)): try again, as every loop here does.
            match (&*self.stream).read(buf) {
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                done => return done,
            }
        }
    }
}

fn timed_out(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

/// One connection, from accept to close.
fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    kind: Kind,
    room: &SharedRoom,
    shutdown: &Shutdown,
    rules: Rules,
) -> anyhow::Result<()> {
    // Out of file descriptors, this is where it shows: say so in the client's protocol.
    let _watch = shutdown.watch_stream(&stream).inspect_err(|_| {
        let _ = match kind {
            Kind::Lines => write_line_frame(&mut &stream, BUSY.as_bytes()),
            Kind::Web => (&stream).write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
                  Connection: close\r\n\r\n",
            ),
        };
    })?;
    stream.set_write_timeout(Some(rules.stall))?;
    // A small send buffer per member, as in chapter 14: with the outbox, it bounds what
    // a member that stops reading holds.
    SockRef::from(&stream).set_send_buffer_size(64 * 1024)?;
    let stream = Arc::new(stream);
    let mut reader = BufReader::new(DeadlineReader {
        stream: Arc::clone(&stream),
        deadline: None,
    });
    let member = match kind {
        Kind::Lines => Member::Lines,
        Kind::Web => {
            reader.get_mut().deadline = Some(Instant::now() + rules.handshake_timeout);
            match handshake(&mut reader, &stream, peer, rules)? {
                Some(member) => member,
                None => return Ok(()), // a page was served, or the request refused
            }
        }
    };
    serve_member(member, reader, stream, peer, room, shutdown, rules)
}

// ANCHOR: handshake
/// The request's head: `GET /chat HTTP/1.1`, then `Name: value` lines, then an empty
/// line. Header names are case-insensitive (RFC 9110 §5.1), so they are kept
/// lowercase.
struct Request {
    method: String,
    path: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header (`Connection: keep-alive, Upgrade`) has
    /// `token`.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.header(name).is_some_and(|value| {
            value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    }
}

/// Why a request head could not be read.
enum HeadError {
    TooBig,
    Malformed,
    TimedOut,
    Gone,
}

/// Reads the request head: at most `MAX_HEAD` bytes and `MAX_HEADERS` lines, all
/// before the handshake deadline (the reader's).
fn read_head(reader: &mut impl BufRead) -> Result<Request, HeadError> {
    let mut left = MAX_HEAD;
    let request_line = head_line(reader, &mut left)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    let mut request = Request {
        method: method.to_string(),
        path: path.to_string(),
        version: version.to_string(),
        headers: Vec::new(),
    };
    loop {
        let line = head_line(reader, &mut left)?;
        if line.is_empty() {
            return Ok(request);
        }
        if request.headers.len() == MAX_HEADERS {
            return Err(HeadError::TooBig);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HeadError::Malformed);
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(HeadError::Malformed);
        }
        let value = value.trim_matches([' ', '\t']).to_string();
        request.headers.push((name.to_ascii_lowercase(), value));
    }
}

/// One line of the head, within the `left` bytes the head may still take.
fn head_line(
    reader: &mut impl BufRead,
    left: &mut usize,
) -> Result<String, HeadError> {
    if *left == 0 {
        return Err(HeadError::TooBig);
    }
    match read_line_frame(reader, *left) {
        Ok(Some(line)) => {
            *left = left.saturating_sub(line.len() + 1);
            String::from_utf8(line).map_err(|_| HeadError::Malformed)
        }
        Ok(None) => Err(HeadError::Gone),
        Err(err) if err.kind() == ErrorKind::InvalidData => Err(HeadError::TooBig),
        Err(err) if timed_out(&err) => Err(HeadError::TimedOut),
        Err(_) => Err(HeadError::Gone),
    }
}

/// Reads the request and answers it: the page, the script, a refusal, or the switch
/// to WebSocket (then the connection is a member's).
fn handshake(
    reader: &mut BufReader<DeadlineReader>,
    stream: &TcpStream,
    peer: SocketAddr,
    rules: Rules,
) -> anyhow::Result<Option<Member>> {
    let respond = |status: &str, extra: &str, body: &str| {
        let head = format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        let _ = (&*stream).write_all(head.as_bytes());
        let _ = (&*stream).write_all(body.as_bytes());
        // Then an orderly end (chapter 03): our FIN, and whatever else the client sent
        // is drained, so that it reads the answer rather than a reset.
        shutdown::close_gracefully(stream);
    };
    let refuse = |status: &str, extra: &str, why: &str| {
        println!("refused: {peer} ({why})");
        respond(status, extra, &format!("{why}\n"));
    };
    let request = match read_head(reader) {
        Ok(request) => request,
        Err(HeadError::Gone) => return Ok(None),
        Err(HeadError::TimedOut) => {
            let secs = rules.handshake_timeout.as_secs_f64();
            let why = format!("no complete request within {secs} s");
            refuse("408 Request Timeout", "", &why);
            return Ok(None);
        }
        Err(HeadError::TooBig) => {
            let why = format!("a request head over {MAX_HEAD} bytes");
            refuse("431 Request Header Fields Too Large", "", &why);
            return Ok(None);
        }
        Err(HeadError::Malformed) => {
            refuse("400 Bad Request", "", "not an HTTP request");
            return Ok(None);
        }
    };
    if request.method != "GET" {
        refuse("405 Method Not Allowed", "Allow: GET\r\n", "only GET here");
        return Ok(None);
    }
    if !matches!(request.version.as_str(), "HTTP/1.1" | "HTTP/1.0") {
        refuse("505 HTTP Version Not Supported", "", "not HTTP/1.x");
        return Ok(None);
    }
    // Defence in depth for the page: scripts from this server only, so even text that
    // somehow became markup could not run (the page never makes markup of text).
    let page_headers = "Content-Type: text/html; charset=utf-8\r\n\
         Content-Security-Policy: default-src 'none'; script-src 'self'; \
         style-src 'unsafe-inline'; connect-src 'self'; img-src data:\r\n\
         X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";
    match request.path.as_str() {
        "/" | "/index.html" => {
            respond("200 OK", page_headers, PAGE);
            return Ok(None);
        }
        "/chat.js" => {
            let js = "Content-Type: text/javascript; charset=utf-8\r\n\
                      X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";
            respond("200 OK", js, SCRIPT);
            return Ok(None);
        }
        "/chat" => {}
        _ => {
            respond("404 Not Found", "", "not found: try /\n");
            return Ok(None);
        }
    }

    // The upgrade request (RFC 6455 §4.2.1): HTTP/1.1, `Upgrade: websocket`,
    // `Connection: Upgrade`, version 13, and a key of 16 random bytes in base64.
    if !request.has_token("upgrade", "websocket")
        || !request.has_token("connection", "upgrade")
        || request.version != "HTTP/1.1"
    {
        let why = "a WebSocket endpoint: send an upgrade request";
        refuse("426 Upgrade Required", "Upgrade: websocket\r\n", why);
        return Ok(None);
    }
    if request.header("sec-websocket-version") != Some("13") {
        let extra = "Sec-WebSocket-Version: 13\r\n";
        refuse("426 Upgrade Required", extra, "WebSocket version 13 only");
        return Ok(None);
    }
    let key = request.header("sec-websocket-key").unwrap_or("");
    if BASE64.decode(key.as_bytes()).map(|k| k.len()) != Ok(16) {
        refuse("400 Bad Request", "", "no valid Sec-WebSocket-Key");
        return Ok(None);
    }
    // A browser sends the page's origin. Any web site's page can open a WebSocket to
    // any address, and the browser adds this user's cookies: a server that does not
    // check the origin lets other sites act in the user's name (cross-site WebSocket
    // hijacking). Ours accepts its own page, and clients that are not browsers.
    if let Some(origin) = request.header("origin") {
        let own = request
            .header("host")
            .is_some_and(|host| origin == format!("http://{host}"));
        if !own {
            let why = format!("a page from another origin: {}", inert(origin));
            refuse("403 Forbidden", "", &why);
            return Ok(None);
        }
    }
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    (&*stream)
        .write_all(answer.as_bytes())
        .with_context(|| format!("cannot answer the handshake of {peer}"))?;
    // From here on, frames; any bytes the client sent right after its request are
    // already in `reader`'s buffer, and are read as frames.
    reader.get_mut().deadline = None;
    Ok(Some(Member::WebSocket(Ws::default())))
}
// ANCHOR_END: handshake

/// How a member speaks, and where it is in its protocol.
enum Member {
    /// Chapter 14's lines.
    Lines,
    /// WebSocket messages, one line each.
    WebSocket(Ws),
}

/// Where a WebSocket member is in its protocol.
#[derive(Default)]
struct Ws {
    /// A fragmented message being put together: its opcode and its bytes so far.
    fragments: Option<(u8, Vec<u8>)>,
    /// We queued a close frame: nothing more goes out.
    sent_close: bool,
    /// The member sent its close frame: nothing more comes in.
    got_close: bool,
    /// Once in the room: how long the member may go without a complete frame.
    heartbeat: Option<Duration>,
}

/// What a member said next.
enum Heard {
    Line(String),
    /// A line that is not UTF-8 (a line member's; for a browser, the connection fails).
    NotUtf8,
    /// The member broke a limit or the protocol, and was told why; the connection ends.
    Broke(String),
    /// The member left in an orderly way: the end of its stream, or its close frame.
    Left,
    /// The connection failed (a reset, say): how.
    Lost(String),
    /// The deadline passed: no nickname, or no sign of life.
    TimedOut,
}

// ANCHOR: messages
impl Member {
    /// Reads until the member said one whole line (for a browser, one whole message),
    /// answering control frames on the way.
    fn next_line(
        &mut self,
        reader: &mut BufReader<DeadlineReader>,
        outbox: &Outbox,
        rules: &Rules,
    ) -> Heard {
        let ws = match self {
            Member::Lines => return next_text_line(reader, outbox, rules),
            Member::WebSocket(ws) => ws,
        };
        loop {
            let frame = match read_frame(reader, rules.max_line) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Heard::Left,
                Err(ReadError::Io(err)) if timed_out(&err) => return Heard::TimedOut,
                Err(ReadError::Io(err)) => return Heard::Lost(cli::describe_io(&err)),
                Err(ReadError::Fail(Fail(code, why))) => {
                    return ws.fail(outbox, code, why);
                }
            };
            // A complete frame: the member is alive. The next one is due within the
            // heartbeat timeout from now (chapter 16's deadline, not a read timeout).
            if let Some(heartbeat) = ws.heartbeat {
                reader.get_mut().deadline = Some(Instant::now() + heartbeat);
            }
            match frame.opcode {
                PING => outbox.push_now(Out::Pong(frame.payload)),
                PONG => {} // the answer to our heartbeat: arriving was the point
                CLOSE => {
                    ws.got_close = true;
                    let code = match frame.payload[..] {
                        [] => NORMAL,
                        [high, low, ..] => u16::from_be_bytes([high, low]),
                        [_] => {
                            let why = "a close frame of one byte";
                            return ws.fail(outbox, PROTOCOL_ERROR, why);
                        }
                    };
                    // The close handshake: we answer with a close frame of our own
                    // (echoing the code), and then the server closes the TCP
                    // connection first (§7.1.1).
                    ws.close(outbox, code, "");
                    return Heard::Left;
                }
                opcode => {
                    // A data frame: the whole message, or one fragment of it.
                    let message = match (opcode, ws.fragments.take()) {
                        (CONTINUATION, None) => {
                            let why = "a continuation with no message to continue";
                            return ws.fail(outbox, PROTOCOL_ERROR, why);
                        }
                        (CONTINUATION, Some((first, mut bytes))) => {
                            // Each fragment was checked on its own; the sum must fit
                            // too.
                            if bytes.len() + frame.payload.len() > rules.max_line {
                                let why =
                                    format!("a message over {} bytes", rules.max_line);
                                return ws.fail(outbox, TOO_BIG, why);
                            }
                            bytes.extend_from_slice(&frame.payload);
                            (first, bytes)
                        }
                        (_, Some(_)) => {
                            let why = "a new message inside a fragmented one";
                            return ws.fail(outbox, PROTOCOL_ERROR, why);
                        }
                        (first, None) => (first, frame.payload),
                    };
                    if !frame.fin {
                        ws.fragments = Some(message);
                        continue;
                    }
                    return match message {
                        (BINARY, _) => {
                            let why = "a binary message (this room takes text)";
                            ws.fail(outbox, UNSUPPORTED, why)
                        }
                        (_, bytes) => match String::from_utf8(bytes) {
                            Ok(text) => Heard::Line(text),
                            // A text message MUST be UTF-8 (§8.1): the connection
                            // fails.
                            Err(_) => {
                                ws.fail(outbox, NOT_UTF8, "a text message not UTF-8")
                            }
                        },
                    };
                }
            }
        }
    }

    /// Ends the conversation from our side: a browser gets a close frame with `code`
    /// (once), a line member the line `notice`.
    fn close(&mut self, outbox: &Outbox, code: u16, notice: &str) {
        match self {
            Member::Lines => outbox.tell(notice),
            Member::WebSocket(ws) => {
                ws.close(outbox, code, notice.trim_start_matches("* "))
            }
        }
    }
}

impl Ws {
    /// Queues our close frame, unless it is queued already.
    fn close(&mut self, outbox: &Outbox, code: u16, reason: &str) {
        if !self.sent_close {
            self.sent_close = true;
            outbox.push_now(Out::Close(code, reason.to_string()));
        }
    }

    /// The member broke a rule: it gets a close frame with `code` and `why`, and goes.
    fn fail(&mut self, outbox: &Outbox, code: u16, why: impl Into<String>) -> Heard {
        let why = why.into();
        self.close(outbox, code, &why);
        Heard::Broke(why)
    }
}

/// Chapter 14's line member: the next line, at most `max_line` bytes.
fn next_text_line(reader: &mut impl BufRead, outbox: &Outbox, rules: &Rules) -> Heard {
    match read_line_frame(reader, rules.max_line) {
        Ok(Some(line)) => match String::from_utf8(line) {
            Ok(text) => Heard::Line(text),
            Err(_) => Heard::NotUtf8,
        },
        Ok(None) => Heard::Left,
        Err(err) if err.kind() == ErrorKind::InvalidData => {
            let max = rules.max_line;
            outbox.tell(&format!("* line longer than {max} bytes: disconnected"));
            Heard::Broke(format!("a line over {max} bytes"))
        }
        Err(err) if timed_out(&err) => Heard::TimedOut,
        Err(err) => Heard::Lost(cli::describe_io(&err)),
    }
}
// ANCHOR_END: messages

// ANCHOR: serve_member
/// One member's reading thread: nickname, then lines until it leaves.
fn serve_member(
    mut member: Member,
    mut reader: BufReader<DeadlineReader>,
    stream: Arc<TcpStream>,
    peer: SocketAddr,
    room: &SharedRoom,
    shutdown: &Shutdown,
    rules: Rules,
) -> anyhow::Result<()> {
    let browser = matches!(member, Member::WebSocket(_));
    // 1. The outbox and its writer first: from now on everything this member is sent,
    //    the greeting included, goes through them.
    let outbox = Arc::new(Outbox::new(Arc::clone(&stream), &rules));
    let writer = match spawn_writer(Arc::clone(&outbox), browser, rules.ping_interval)
    {
        Ok(writer) => writer,
        Err(err) => {
            let _ = write_line_frame(&mut &*stream, BUSY.as_bytes());
            return Err(err).context("cannot start a writer thread");
        }
    };
    let leave =
        |member: Member, reader| finish(member, reader, &outbox, writer, &rules);

    // 2. The nickname: the first line, or the first message, within `nick_timeout`.
    outbox.tell("* welcome! your nickname?");
    reader.get_mut().deadline = Some(Instant::now() + rules.nick_timeout);
    let refused = |member: &mut Member, why: &str, notice: &str| {
        println!("refused: {peer} ({why})");
        if browser {
            // The page shows it; the close frame's reason is short.
            outbox.tell(notice);
        }
        member.close(&outbox, NORMAL, notice);
    };
    let nick = match member.next_line(&mut reader, &outbox, &rules) {
        Heard::Line(line) => valid_nick(&line),
        Heard::NotUtf8 => None,
        Heard::TimedOut => {
            let secs = rules.nick_timeout.as_secs_f64();
            let why = format!("no nickname within {secs} s");
            refused(&mut member, &why, &format!("* {why}: goodbye"));
            return leave(member, reader);
        }
        Heard::Broke(why) => {
            println!("refused: {peer} ({why})");
            return leave(member, reader);
        }
        Heard::Left | Heard::Lost(_) => {
            if shutdown.is_triggered() {
                member.close(&outbox, GOING_AWAY, "* server shutting down");
            }
            return leave(member, reader);
        }
    };
    let Some(nick) = nick else {
        let notice = "* not a nickname: 1 to 20 letters, digits, - or _";
        refused(&mut member, "not a valid nickname", notice);
        return leave(member, reader);
    };
    // From here on a line member may be silent for hours (chapter 14); a browser must
    // show signs of life, its pongs at least, within three ping intervals (chapter
    // 16).
    match &mut member {
        Member::Lines => {
            reader.get_mut().deadline = None;
            stream.set_read_timeout(None)?;
        }
        Member::WebSocket(ws) => {
            ws.heartbeat = Some(3 * rules.ping_interval);
            reader.get_mut().deadline = Some(Instant::now() + 3 * rules.ping_interval);
        }
    }

    // 3. Join: unique nicknames only; the greeting and the notices agree on who is
    //    here.
    let others = {
        let mut members = room.lock();
        if members.contains_key(&nick) {
            None
        } else {
            let here = members.keys().map(String::as_str).collect::<Vec<_>>();
            let here = if here.is_empty() {
                "nobody yet".to_string()
            } else {
                here.join(", ")
            };
            outbox.tell(&format!("* hello {nick}; here: {here}"));
            let others: Vec<Arc<Outbox>> = members.values().cloned().collect();
            members.insert(nick.clone(), Arc::clone(&outbox));
            Some(others)
        }
    };
    let Some(others) = others else {
        let why = format!("nickname {nick} is taken");
        refused(&mut member, &why, &format!("* {why}"));
        return leave(member, reader);
    };
    let how = if browser { "browser" } else { "nc" };
    println!("joined: {nick} ({how}, {peer})");
    say_to(&others, &format!("* {nick} joined"));

    // 4. Lines until the member leaves, each by chapter 14's rules.
    let reason = loop {
        match member.next_line(&mut reader, &outbox, &rules) {
            Heard::Line(text) if text == "/quit" => {
                // A browser gets the close handshake; nc just the end of the stream.
                if let Member::WebSocket(ws) = &mut member {
                    ws.close(&outbox, NORMAL, "bye");
                }
                break "left".to_string();
            }
            Heard::Line(text) if text == "/who" => {
                outbox.tell(&format!("* here: {}", room.names()));
            }
            Heard::Line(text) if text.starts_with('/') => {
                outbox.tell("* commands: /who, /quit");
            }
            // Rule: control characters are shown, not obeyed. (So a newline inside a
            // browser's message cannot forge a second line for the nc members.)
            Heard::Line(text) => {
                room.say(&format!("{nick}: {}", inert(&text)), Some(&nick));
            }
            Heard::NotUtf8 => {
                println!("rejected: a line from {nick} is not UTF-8");
                outbox.tell("* your line was not valid UTF-8 and was not sent");
            }
            Heard::Broke(why) => {
                println!("dropped: {nick} ({why})");
                break format!("was disconnected ({why})");
            }
            Heard::TimedOut => {
                let secs = (3 * rules.ping_interval).as_secs_f64();
                println!("dropped: {nick} (no sign of life for {secs} s)");
                break "was disconnected (no heartbeat)".to_string();
            }
            Heard::Left | Heard::Lost(_) if shutdown.is_triggered() => {
                member.close(&outbox, GOING_AWAY, "* server shutting down");
                break "left".to_string();
            }
            Heard::Left => break "left".to_string(),
            Heard::Lost(how) => {
                println!("lost: {nick} ({how})");
                break "left".to_string();
            }
        }
    };

    // 5. Leave: out of the room, then the rest of the close, bounded.
    let others = room.remove(&nick, &outbox);
    let cut_off = outbox.lock().cut_off.clone();
    leave(member, reader)?;
    let cut_off = cut_off.or_else(|| outbox.lock().cut_off.clone());
    let notice = if let Some(why) = cut_off {
        println!("dropped: {nick} (not reading: {why})");
        format!("* {nick} was disconnected (not reading)")
    } else {
        if reason == "left" {
            println!("left: {nick}");
        }
        format!("* {nick} {reason}")
    };
    if !shutdown.is_triggered() {
        say_to(&others, &notice);
    }
    Ok(())
}
// ANCHOR_END: serve_member

// ANCHOR: finish
/// The end of a connection. The writer sends what is queued (a close frame last)
/// within the stall timeout. A browser that has not answered our close frame yet gets
/// [`CLOSE_TIMEOUT`] to do so; then the server closes the TCP connection first
/// (§7.1.1), with chapter 03's orderly close.
fn finish(
    member: Member,
    mut reader: BufReader<DeadlineReader>,
    outbox: &Outbox,
    writer: JoinHandle<()>,
    rules: &Rules,
) -> anyhow::Result<()> {
    outbox.close();
    let state = outbox.lock();
    let (state, waited) = outbox
        .changed
        .wait_timeout_while(state, rules.stall, |s| !s.writer_done)
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let cut_off = state.cut_off.is_some();
    drop(state);
    if waited.timed_out() {
        let _ = outbox.stream.shutdown(Direction::Both);
    }
    let _ = writer.join();
    if let Member::WebSocket(ws) = member {
        if ws.sent_close && !ws.got_close && !cut_off && !waited.timed_out() {
            // Wait for the member's close frame; whatever comes before it is dropped.
            reader.get_mut().deadline = Some(Instant::now() + CLOSE_TIMEOUT);
            while let Ok(Some(frame)) = read_frame(&mut reader, rules.max_line) {
                if frame.opcode == CLOSE {
                    break;
                }
            }
        }
    }
    shutdown::close_gracefully(&outbox.stream);
    Ok(())
}
// ANCHOR_END: finish

// ANCHOR: writer
/// The member's writer thread: the only one that writes to its socket. A browser gets
/// every line as a text frame, and a ping every `ping_interval`, however busy the room
/// (chapter 16's heartbeat, in WebSocket's own frames: browsers answer pings by
/// themselves, and the answer is what keeps the member in); a line member gets lines.
fn spawn_writer(
    outbox: Arc<Outbox>,
    browser: bool,
    ping_interval: Duration,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new().name("writer".into()).spawn(move || {
        let mut next_ping = browser.then(|| Instant::now() + ping_interval);
        let mut pings = 0u32;
        loop {
            let bytes = match next_ping {
                // On a fixed schedule, not "when idle": a member that only listens
                // to a busy room must still be asked, or it could never prove it is
                // alive.
                Some(due) if Instant::now() >= due => {
                    next_ping = Some(Instant::now() + ping_interval);
                    pings = pings.wrapping_add(1);
                    encode_frame(PING, &pings.to_be_bytes())
                }
                _ => match outbox.next(next_ping) {
                    Next::Closed => break,
                    Next::Idle => continue, // the ping is due: sent at the top
                    Next::Send(Out::Line(line)) if browser => {
                        encode_frame(TEXT, line.as_bytes())
                    }
                    Next::Send(Out::Line(line)) => format!("{line}\n").into_bytes(),
                    Next::Send(Out::Pong(payload)) => encode_frame(PONG, &payload),
                    Next::Send(Out::Close(..)) if !browser => break,
                    Next::Send(Out::Close(code, why)) => {
                        let frame = encode_frame(CLOSE, &close_payload(code, &why));
                        let _ = (&*outbox.stream).write_all(&frame);
                        break; // nothing may follow a close frame (§5.5.1)
                    }
                },
            };
            if let Err(err) = (&*outbox.stream).write_all(&bytes) {
                // Not one byte accepted for the stall timeout: not reading.
                if timed_out(&err) {
                    let secs = outbox.stall.as_secs_f64();
                    outbox.cut_off(format!("nothing taken for {secs} s"));
                }
                break;
            }
        }
        {
            let mut state = outbox.lock();
            state.open = false;
            state.items.clear();
            state.writer_done = true;
        }
        outbox.changed.notify_all();
        if !browser {
            // Wakes the reader, as in chapter 14. (A browser's reader is woken by the
            // close frame it gets back, or by its deadline.)
            let _ = outbox.stream.shutdown(Direction::Both);
        }
    })
}
// ANCHOR_END: writer

/// A nickname: 1 to 20 ASCII letters, digits, `-` or `_` (so never a control character).
fn valid_nick(line: &str) -> Option<String> {
    let ok = !line.is_empty()
        && line.len() <= MAX_NICK
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_of_rfc_6455() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
