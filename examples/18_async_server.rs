//! # 18 — async I/O with tokio: chapter 08's loop, written for you
//!
//! Teaches async/await on tokio by rewriting two servers the workbook already has: the echo
//! server (chapters 03–08) and the chat room (chapter 14). Each connection is a *task*: code that
//! reads top to bottom like chapter 04's thread, while tokio runs thousands of them on a few
//! threads with chapter 08's readiness loop underneath. Ctrl-C is one more event every task
//! waits for, beside its socket.
//!
//! ```text
//! terminal 1:  cargo run --example 18_async_server -- echo
//! terminal 2:  cargo run --example 02_echo_client -- hello
//!
//! terminal 1:  cargo run --example 18_async_server -- chat
//! terminal 2:  cargo run --example 14_chat_room -- client --nick ada
//! terminal 3:  nc 127.0.0.1 7878        (type a nickname first)
//! ```
//!
//! Look for the server's first line, `listening on ADDR`, then one line per client
//! (`connected:` and `disconnected:` in `echo`, `joined:` and `left:` in `chat`).
//!
//! What async does *not* fix, on demand: `echo --workers 1 --blocking-work 3 --inline` does 3 s
//! of blocking work inside the task, and every other client waits; without `--inline` the same
//! work runs on `spawn_blocking`'s threads and nobody waits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use socket_workbook::echo::{FIRST_BUFFER, STREAM_BUFFER};
use socket_workbook::shutdown::{DRAIN_LIMIT, DRAIN_QUIET};
use socket_workbook::text::inert;
use socket_workbook::{cli, net};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::timeout;

/// Echo server and chat room, on tokio.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,

    /// Worker threads that run the tasks (default: one per CPU core).
    #[arg(long, global = true, value_parser = cli::number::<usize>(1..=1024))]
    workers: Option<usize>,
}

#[derive(Subcommand)]
enum Role {
    /// Echo every byte back, a task per connection (chapters 03–08's server).
    Echo {
        /// Address to listen on. Port 0 asks the OS for any free port.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Close a client that sends nothing (or reads nothing) for this many seconds.
        #[arg(long, value_name = "SECS", default_value = "60", value_parser = cli::parse_seconds)]
        idle_timeout: Duration,
        /// Before echoing, spend this many seconds in *blocking* work per connection (a
        /// stand-in for a blocking library call: a file read, a std DNS lookup, a hash).
        #[arg(long, value_name = "SECS", value_parser = cli::parse_seconds)]
        blocking_work: Option<Duration>,
        /// Do the blocking work inside the task (the mistake) instead of on `spawn_blocking`.
        #[arg(long, requires = "blocking_work")]
        inline: bool,
    },
    /// Chapter 14's chat room (same protocol, same rules), a task per member.
    Chat {
        /// Address to listen on. Port 0 asks the OS for any free port.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Lines that may wait for one member before its senders are slowed down.
        #[arg(long, default_value_t = 256, value_parser = cli::number::<usize>(1..=65_536))]
        outbox: usize,
        /// Longest line accepted, in bytes.
        #[arg(long, default_value_t = 1024, value_parser = cli::number::<usize>(1..=1 << 20))]
        max_line: usize,
        /// Drop a member that has taken no line for this many seconds while lines wait for it (it
        /// stopped reading), as chapter 14 does.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = cli::parse_seconds)]
        stall_timeout: Duration,
        /// Close a connection that has not given a nickname after this many seconds.
        #[arg(long, value_name = "SECS", default_value = "60", value_parser = cli::parse_seconds)]
        nick_timeout: Duration,
    },
}

/// How long Ctrl-C waits for connections to finish before closing them.
const GRACE: Duration = Duration::from_secs(1);

// ANCHOR: main
fn main() -> ExitCode {
    let args = Args::parse();
    // 1. The runtime: worker threads, each running tasks, and one reactor (chapter
    //    08's poll loop: epoll, kqueue or IOCP) that wakes a task when its socket is
    //    ready. `#[tokio::main]` writes these lines for you; we write them to choose
    //    the thread count.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!(
                "error: cannot start the tokio runtime: {}",
                cli::describe_io(&err)
            );
            return ExitCode::FAILURE;
        }
    };
    // 2. `block_on` runs one future to completion on this thread: our whole server.
    let result = runtime.block_on(async {
        match args.role {
            Role::Echo {
                addr,
                idle_timeout,
                blocking_work,
                inline,
            } => echo_server(addr, idle_timeout, blocking_work, inline).await,
            Role::Chat {
                addr,
                outbox,
                max_line,
                stall_timeout,
                nick_timeout,
            } => {
                let rules = Rules {
                    outbox,
                    max_line,
                    stall_timeout,
                    nick_timeout,
                };
                chat_server(addr, rules).await
            }
        }
    });
    // Dropping a runtime waits for every `spawn_blocking` job to finish; bound that
    // wait.
    runtime.shutdown_timeout(GRACE);
    cli::report(result)
}
// ANCHOR_END: main

// ANCHOR: listen
/// Listens through chapter 06's `net::listen` (SO_REUSEADDR, a long backlog),
/// announces the address, and hands the socket to tokio. A tokio listener must be
/// non-blocking: its `accept` tries, gets `WouldBlock`, and *waits for readiness*
/// instead of blocking the thread.
fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = net::listen(addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    cli::announce(&listener)?;
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    TcpListener::from_std(listener).context("cannot register the listener with tokio")
}
// ANCHOR_END: listen

// ANCHOR: shutdown
/// Ctrl-C as a value every task can wait for: a `watch` channel that flips to `true`
/// once. Each task holds a receiver and puts `changed()` into its `select!` beside its
/// socket.
async fn ctrl_c_signal() -> watch::Receiver<bool> {
    let (tell, told) = watch::channel(false);
    // `tokio::signal::ctrl_c` installs a SIGINT handler (Windows: a console handler)
    // and completes when the signal comes. But a future does nothing until it is
    // polled: the handler is installed on the first poll. So poll it once now, before
    // the server says it is listening; until then a Ctrl-C ends the process at once.
    // (`biased` polls the branches in order; `ready` is ready at once.)
    let mut pressed = Box::pin(tokio::signal::ctrl_c());
    let early = tokio::select! {
        biased;
        result = &mut pressed => Some(result),
        () = std::future::ready(()) => None,
    };
    tokio::spawn(async move {
        let result = match early {
            Some(result) => result,
            None => pressed.await,
        };
        // If the handler cannot be installed we never shut down gracefully: say so.
        if let Err(err) = result {
            eprintln!("error: cannot watch for Ctrl-C: {}", cli::describe_io(&err));
            return;
        }
        let _ = tell.send(true);
    });
    told
}

/// Resolves once Ctrl-C has been pressed (at once if it already was).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // `wait_for` checks the current value first, so a task started after Ctrl-C sees
    // it too. An error means the sender is gone, which never happens before the end of
    // `main`.
    let _ = shutdown.wait_for(|&pressed| pressed).await;
}
// ANCHOR_END: shutdown

// ANCHOR: echo_accept
async fn echo_server(
    addr: SocketAddr,
    idle: Duration,
    work: Option<Duration>,
    inline: bool,
) -> anyhow::Result<()> {
    let mut shutdown = ctrl_c_signal().await;
    let listener = listen(addr)?;
    let addr = listener.local_addr()?; // the port resolved, for the lines below
    // Every connection's task, so that Ctrl-C can wait for them (and abort
    // stragglers).
    let mut tasks = JoinSet::new();
    let mut served: u64 = 0;
    let mut accept_errors = cli::Throttle::new(Duration::from_secs(5));
    loop {
        // 3. `select!` waits for whichever comes first: a new connection, or Ctrl-C.
        //    This is chapter 08's "register the listener and the waker, wait, look at
        //    what is ready".
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(err) => {
                    // Out of descriptors, or a connection reset while queued: this
                    // client's problem, or a moment's. Out of descriptors the listener
                    // stays ready, so pause (no busy loop) and print one line per 5 s
                    // at most (no log flood), as chapter 08's server does.
                    let why = cli::describe_io(&err);
                    let line = format!("error: cannot accept on {addr}: {why}");
                    accept_errors.eprintln(&line);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => break,
        };
        served += 1;
        // Forget the tasks that have ended, so the set does not grow with every
        // client.
        while tasks.try_join_next().is_some() {}
        println!("connected: {peer} ({} active)", tasks.len() + 1);
        // 4. One task per connection: its state and its buffer, not a thread's stack.
        //    The task owns its stream; `shutdown.clone()` is its own receiver.
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            match serve_echo(stream, idle, work, inline, shutdown).await {
                Ok((echoed, End::Closed)) => {
                    println!("disconnected: {peer} ({echoed} bytes echoed)");
                }
                Ok((echoed, End::Idle)) => {
                    println!("idle: closed {peer} ({echoed} bytes echoed)")
                }
                Ok((echoed, End::ShuttingDown)) => {
                    println!("closed: {peer} ({echoed} bytes echoed; shutting down)");
                }
                Err(err) => {
                    eprintln!("error: {peer}: {}", cli::describe_io(&err));
                    println!("disconnected: {peer} after an error");
                }
            }
        });
    }
    // 5. Ctrl-C: no more accepting. Every task has seen the same signal and is
    //    finishing; give them a grace period, then abort whoever is left (dropping a
    //    task closes its socket).
    while tasks.try_join_next().is_some() {}
    println!(
        "shutting down: stopped accepting, waiting for {} connection(s)",
        tasks.len()
    );
    if timeout(GRACE, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        println!(
            "shutting down: closing {} connection(s) still busy",
            tasks.len()
        );
        tasks.shutdown().await;
    }
    println!("shutting down: done, {served} client(s) served in all");
    Ok(())
}
// ANCHOR_END: echo_accept

/// How an echo connection ended.
enum End {
    Closed,
    Idle,
    ShuttingDown,
}

// ANCHOR: serve_echo
/// One connection's task: chapter 03's echo loop, with `.await` where the thread would
/// block.
async fn serve_echo(
    mut stream: TcpStream,
    idle: Duration,
    work: Option<Duration>,
    inline: bool,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<(u64, End)> {
    if let Some(work) = work {
        blocking_work(work, inline).await;
    }
    // Chapter 03's buffer policy: 4 KiB to start, so a thousand idle connections cost
    // a thousand small buffers; a read that fills it shows a client that streams, and
    // it gets 256 KiB, so a stream moves in few system calls — but only while bytes
    // are waiting: `try_read` takes what is there and never waits, and once nothing
    // is, the buffer shrinks back before the task waits again.
    let mut buf = vec![0u8; FIRST_BUFFER];
    let mut echoed = 0u64;
    loop {
        let streaming = buf.len() == STREAM_BUFFER;
        let n = if streaming {
            if *shutdown.borrow() {
                break;
            }
            match stream.try_read(&mut buf) {
                Ok(0) => return Ok((echoed, End::Closed)),
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                    buf = vec![0u8; FIRST_BUFFER]; // drained: give it back
                    continue;
                }
                Err(err) => return Err(err),
            }
        } else {
            // 6. Wait for bytes, for the idle timeout, or for Ctrl-C, whichever is
            // first.
            //    The losing branches are simply dropped: a `read` that has not
            //    completed has taken no bytes (tokio documents `read` as cancel-safe),
            //    so nothing is lost.
            tokio::select! {
                read = timeout(idle, stream.read(&mut buf)) => match read {
                    Err(_elapsed) => return Ok((echoed, End::Idle)),
                    Ok(Ok(0)) => return Ok((echoed, End::Closed)),
                    Ok(Ok(n)) => n,
                    Ok(Err(err)) => return Err(err),
                },
                () = stopped(&mut shutdown) => break,
            }
        };
        // 7. Write it all back. While the client is not reading, this `.await` parks
        //    the task (not a thread) until the socket is writable again — bounded by
        //    the same idle timeout, so a client that never reads cannot hold us
        //    forever.
        match timeout(idle, stream.write_all(&buf[..n])).await {
            Ok(result) => result?,
            Err(_elapsed) => return Ok((echoed, End::Idle)),
        }
        echoed += n as u64;
        if n == buf.len() && !streaming {
            buf.resize(STREAM_BUFFER, 0);
        }
    }
    // 8. Ctrl-C: the last reply is written. End it the way chapter 03 does: our FIN,
    //    then read and drop what the client still sends until its own FIN or a short
    //    quiet. Closing with its data still arriving would make our kernel answer with
    //    a reset (RST), and the client could lose the replies it had not read yet.
    stream.shutdown().await?;
    let drain = async {
        loop {
            match timeout(DRAIN_QUIET, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => continue,
                _ => break, // its FIN, an error, or quiet for DRAIN_QUIET
            }
        }
    };
    let _ = timeout(DRAIN_LIMIT, drain).await;
    Ok((echoed, End::ShuttingDown))
}
// ANCHOR_END: serve_echo

// ANCHOR: blocking_work
/// A blocking call inside async code. `std::thread::sleep` stands for any call that
/// blocks the thread instead of returning a future: std file or socket I/O,
/// `ToSocketAddrs`, a long CPU loop. Inside a task it blocks the *worker thread*, and
/// every task queued on that worker waits with it. `spawn_blocking` moves it to a
/// separate pool of threads meant for waiting.
async fn blocking_work(work: Duration, inline: bool) {
    if inline {
        // the mistake: this worker runs nothing else meanwhile
        std::thread::sleep(work);
    } else {
        // The task awaits the result; its worker thread runs other tasks meanwhile.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(work)).await;
    }
}
// ANCHOR_END: blocking_work

/// The chat room's rules, from the command line.
#[derive(Clone, Copy)]
struct Rules {
    outbox: usize,
    max_line: usize,
    stall_timeout: Duration,
    nick_timeout: Duration,
}

// ANCHOR: room
/// Everyone in the room, by nickname: the sending end of each member's bounded outbox,
/// and a way to tell its reader to stop. A std `Mutex` is right here: it is never held
/// across an `.await`, only for the moment it takes to copy the list.
#[derive(Clone, Default)]
struct Room(Arc<Mutex<BTreeMap<String, Member>>>);

#[derive(Clone)]
struct Member {
    outbox: mpsc::Sender<Arc<str>>,
    kicked: Arc<Notify>,
    pace: Arc<Pace>,
}

/// How a member keeps up: what its senders and its writer share.
struct Pace {
    /// Lines that may wait before senders wait too (`--outbox`); the channel holds
    /// twice as many, for a member that is behind.
    outbox: usize,
    /// How long senders wait for a full outbox (a tenth of the stall timeout).
    patience: Duration,
    /// When the writer last took a line, or lines started to wait in an empty outbox.
    progress: Mutex<Instant>,
    /// Signalled by the writer each time it takes a line.
    taken: Notify,
    /// Signalled by a sender that found the member too far behind: its writer cuts it
    /// off.
    behind: Notify,
}

impl Member {
    /// Queues `line` if the outbox has room (below `--outbox`), without waiting.
    fn try_deliver(&self, line: &Arc<str>) -> bool {
        let queued = self.outbox.max_capacity() - self.outbox.capacity();
        if queued == 0 {
            *self.pace.lock() = Instant::now(); // an idle member is not a slow one
        }
        queued < self.pace.outbox && self.outbox.try_send(Arc::clone(line)).is_ok()
    }

    /// Queues `line` by chapter 14's policy: a member that keeps reading loses
    /// nothing (while it takes lines, the sender waits for room, and TCP slows the
    /// sender down); a member that takes no line for `patience` is *behind*: nobody
    /// waits for it any more, and its lines are kept up to a second outbox's worth;
    /// further behind than that, its writer cuts it off. So a member that stops
    /// reading costs the room one `patience` at most, however many stop in turn.
    async fn deliver(&self, line: &Arc<str>) {
        loop {
            // Ask to be woken by the next line taken *before* looking, so that a
            // line taken in between is not missed.
            let taken = self.pace.taken.notified();
            tokio::pin!(taken);
            taken.as_mut().enable();
            let queued = self.outbox.max_capacity() - self.outbox.capacity();
            let now = Instant::now();
            let progress = {
                let mut progress = self.pace.lock();
                if queued == 0 {
                    *progress = now; // an idle member is not a slow one
                }
                *progress
            };
            let patience_ends = progress + self.pace.patience;
            if queued >= self.pace.outbox && now < patience_ends {
                // Full, but it took a line a moment ago: it reads, slower than the
                // room. Wait for it (or for it to leave).
                tokio::select! {
                    _ = tokio::time::timeout_at(patience_ends.into(), taken) => {
                        continue;
                    }
                    () = self.outbox.closed() => return,
                }
            }
            if let Err(TrySendError::Full(_)) = self.outbox.try_send(Arc::clone(line))
            {
                self.pace.behind.notify_one();
            }
            return; // (an error `Closed` means the member has left)
        }
    }
}

impl Pace {
    fn lock(&self) -> MutexGuard<'_, Instant> {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Member>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `line` to every member but `from`, each by [`Member::deliver`]'s policy.
    async fn say(&self, line: &str, from: Option<&str>) {
        let line: Arc<str> = Arc::from(format!("{line}\n"));
        // Under the lock, queue the line for every member with room (which never
        // waits), and copy out only those without: the lock is not held while we wait,
        // and a line to a thousand members does not copy a thousand of them (a storm
        // of joins would copy the room once per join: memory quadratic in members).
        let full: Vec<Member> = self
            .lock()
            .iter()
            .filter(|(nick, _)| Some(nick.as_str()) != from)
            .filter(|(_, member)| !member.try_deliver(&line))
            .map(|(_, member)| member.clone())
            .collect();
        for member in full {
            member.deliver(&line).await;
        }
    }

    /// Sends `line` to one member.
    async fn tell(&self, nick: &str, line: &str) {
        let member = self.lock().get(nick).cloned();
        if let Some(member) = member {
            member.deliver(&Arc::from(format!("{line}\n"))).await;
        }
    }

    /// Removes `nick` if it is still the member that `pace` belongs to (a member
    /// refused for a taken nickname must not remove the one that has it).
    fn remove(&self, nick: &str, pace: &Arc<Pace>) -> Option<Member> {
        let mut members = self.lock();
        let same = members
            .get(nick)
            .is_some_and(|member| Arc::ptr_eq(&member.pace, pace));
        if same { members.remove(nick) } else { None }
    }
}
// ANCHOR_END: room

async fn chat_server(addr: SocketAddr, rules: Rules) -> anyhow::Result<()> {
    let mut shutdown = ctrl_c_signal().await;
    let listener = listen(addr)?;
    let addr = listener.local_addr()?; // the port resolved, for the lines below
    let room = Room::default();
    let mut tasks = JoinSet::new();
    let mut accept_errors = cli::Throttle::new(Duration::from_secs(5));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(err) => {
                    let why = cli::describe_io(&err);
                    accept_errors.eprintln(&format!("error: cannot accept on {addr}: {why}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => break,
        };
        while tasks.try_join_next().is_some() {}
        let (room, shutdown) = (room.clone(), shutdown.clone());
        tasks.spawn(async move {
            if let Err(err) = serve_member(stream, peer, room, shutdown, rules).await {
                println!("lost: {peer} ({})", cli::describe_io(&err));
            }
        });
    }
    // Ctrl-C: the members' readers stop; tell everyone, then let the writers flush.
    println!("shutting down: closing every connection");
    let _ = timeout(GRACE, room.say("* server shutting down", None)).await;
    // Dropping the room's senders lets each writer finish its queue and close.
    room.lock().clear();
    if timeout(GRACE, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tasks.shutdown().await;
    }
    println!("shutting down: done");
    Ok(())
}

// ANCHOR: serve_member
/// One member: nickname, join, then lines until it leaves. Its writer is a second
/// task.
async fn serve_member(
    stream: TcpStream,
    peer: SocketAddr,
    room: Room,
    mut shutdown: watch::Receiver<bool>,
    rules: Rules,
) -> std::io::Result<()> {
    // 1. The kernel send buffer is small already, inherited from the listener
    //    (chapter 06's `net::listen`): with the outbox it bounds what a member that
    //    stops reading can hold of ours. Split the socket: the read half stays here,
    //    the write half goes to the writer task.
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"* welcome! your nickname?\n").await?;

    // 2. The nickname, within `nick_timeout`, capped like every line.
    let nick = match timeout(rules.nick_timeout, read_line(&mut reader, MAX_NICK + 2))
        .await
    {
        Err(_elapsed) => {
            println!(
                "refused: {peer} (no nickname within {:?})",
                rules.nick_timeout
            );
            return Ok(());
        }
        Ok(Ok(Line::Text(text))) if valid_nick(&text) => text,
        Ok(Ok(Line::Eof)) => return Ok(()),
        Ok(Err(err)) => return Err(err),
        Ok(Ok(_)) => {
            writer
                .write_all(b"* not a nickname: 1 to 20 letters, digits, - or _\n")
                .await?;
            println!("refused: {peer} (not a valid nickname)");
            return Ok(());
        }
    };

    // 3. A bounded channel is the member's outbox, and its writer task starts
    //    *before* the member joins, as in chapter 14: from the moment others can send
    //    to it, something drains it.
    let (outbox, queued) = mpsc::channel::<Arc<str>>(rules.outbox.saturating_mul(2));
    let kicked = Arc::new(Notify::new());
    let pace = Arc::new(Pace {
        outbox: rules.outbox,
        patience: rules.stall_timeout / 10,
        progress: Mutex::new(Instant::now()),
        taken: Notify::new(),
        behind: Notify::new(),
    });
    let writer = tokio::spawn(write_outbox(
        writer,
        queued,
        nick.clone(),
        room.clone(),
        rules,
        Arc::clone(&pace),
    ));

    // 4. Join: unique nicknames only. The greeting goes into the still empty outbox
    //    (so `try_send` cannot fail) before anyone else can send to it.
    let joined = {
        let mut members = room.lock();
        if members.contains_key(&nick) {
            false
        } else {
            let here = who_is_here(members.keys(), members.len());
            let _ =
                outbox.try_send(Arc::from(format!("* hello {nick}; here: {here}\n")));
            let member = Member {
                outbox: outbox.clone(),
                kicked: Arc::clone(&kicked),
                pace: Arc::clone(&pace),
            };
            members.insert(nick.clone(), member);
            true
        }
    };
    if !joined {
        let _ = outbox.try_send(Arc::from(format!("* nickname {nick} is taken\n")));
        drop(outbox); // the writer sends it, then closes
        let _ = writer.await;
        println!("refused: {peer} (nickname {nick} is taken)");
        return Ok(());
    }
    drop(outbox); // the room's copy is the only one now: leaving ends the writer
    println!("joined: {nick} ({peer})");
    room.say(&format!("* {nick} joined"), Some(&nick)).await;

    // 5. Lines until the member leaves, is dropped, or the server stops.
    let reason = loop {
        let line = tokio::select! {
            line = read_line(&mut reader, rules.max_line) => line,
            // its writer dropped it: already announced
            () = kicked.notified() => break None,
            () = stopped(&mut shutdown) => break None,
        };
        match line {
            Ok(Line::Text(text)) if text == "/quit" => break Some("left"),
            Ok(Line::Text(text)) if text == "/who" => {
                let here = {
                    let members = room.lock();
                    who_is_here(members.keys(), members.len())
                };
                room.tell(&nick, &format!("* here: {here}")).await;
            }
            Ok(Line::Text(text)) if text.starts_with('/') => {
                room.tell(&nick, "* commands: /who, /quit").await;
            }
            Ok(Line::Text(text)) => {
                room.say(&format!("{nick}: {}", inert(&text)), Some(&nick))
                    .await
            }
            Ok(Line::NotUtf8) => {
                println!("rejected: a line from {nick} is not UTF-8");
                room.tell(&nick, "* your line was not valid UTF-8 and was not sent")
                    .await;
            }
            Ok(Line::TooLong) => {
                println!("dropped: {nick} (a line over {} bytes)", rules.max_line);
                let notice = format!(
                    "* line longer than {} bytes: disconnected",
                    rules.max_line
                );
                room.tell(&nick, &notice).await;
                break Some("was disconnected (line too long)");
            }
            Ok(Line::Eof) => break Some("left"),
            Err(err) => {
                println!("lost: {nick} ({})", cli::describe_io(&err));
                break Some("left");
            }
        }
    };

    // 6. Leave: out of the room, which closes the outbox; the writer sends what is
    //    queued. On Ctrl-C the member stays in the room until the server has queued
    //    its last notice and closed every outbox itself, so nobody misses "server
    //    shutting down".
    let was_member = !*shutdown.borrow() && room.remove(&nick, &pace).is_some();
    let _ = writer.await;
    if let (true, Some(reason)) = (was_member, reason) {
        println!("left: {nick}");
        room.say(&format!("* {nick} {reason}"), None).await;
    }
    Ok(())
}
// ANCHOR_END: serve_member

// ANCHOR: writer
/// The member's writer task: lines from its outbox to its socket. A write that makes
/// no progress for `stall_timeout` means the member stopped reading, and so does a
/// sender's word that it fell too far behind: it is dropped, with a notice.
async fn write_outbox(
    mut socket: OwnedWriteHalf,
    mut queued: mpsc::Receiver<Arc<str>>,
    nick: String,
    room: Room,
    rules: Rules,
    pace: Arc<Pace>,
) {
    let secs = rules.stall_timeout.as_secs_f64();
    let behind = format!("over {} lines behind", 2 * pace.outbox);
    let why = loop {
        let line = tokio::select! {
            line = queued.recv() => match line {
                Some(line) => line,
                None => break None, // left, or shutting down
            },
            () = pace.behind.notified() => break Some(behind),
        };
        *pace.lock() = Instant::now();
        pace.taken.notify_waiters();
        tokio::select! {
            wrote = timeout(rules.stall_timeout, socket.write_all(line.as_bytes()))
                => {
                match wrote {
                    Ok(Ok(())) => {}
                    // reset or closed: its reader sees the same and leaves
                    Ok(Err(_gone)) => break None,
                    Err(_stalled) => break Some(format!("no line taken for {secs} s")),
                }
            }
            () = pace.behind.notified() => break Some(behind),
        }
    };
    if let Some(why) = why {
        println!("dropped: {nick} (not reading: {why})");
        if let Some(member) = room.remove(&nick, &pace) {
            member.kicked.notify_one();
        }
        // Announce from a task of its own: `say` may wait on other members.
        let room = room.clone();
        let notice = format!("* {nick} was disconnected (not reading)");
        tokio::spawn(async move { room.say(&notice, None).await });
    }
    // Outbox closed (left, or shutting down) or the socket failed: close the outbox
    // (whoever waits on it moves on), and send our FIN.
    drop(queued);
    let _ = socket.shutdown().await;
}
// ANCHOR_END: writer

/// Longest nickname, in bytes.
const MAX_NICK: usize = 20;

/// Most nicknames a greeting or `/who` lists: a line stays short (about 2 KiB) however
/// large the room, and within what any client accepts (chapter 14's takes 64 KiB).
const MAX_NAMES_SHOWN: usize = 100;

/// `ada, bob, … and 12 more`: the first names of a room of `count`, or `nobody yet`.
fn who_is_here<'a>(names: impl Iterator<Item = &'a String>, count: usize) -> String {
    let shown: Vec<&str> = names.take(MAX_NAMES_SHOWN).map(String::as_str).collect();
    match count - shown.len() {
        _ if shown.is_empty() => "nobody yet".to_string(),
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// A line as the chat's rules see it.
enum Line {
    Text(String),
    NotUtf8,
    TooLong,
    Eof,
}

// ANCHOR: read_line
/// Reads one `\n`-terminated line of at most `max` bytes (`\r\n` accepted). `take`
/// caps how much `read_until` may buffer, so a client cannot make us allocate without
/// bound.
async fn read_line(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max: usize,
) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let n = reader
        .take(max as u64 + 2)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(Line::Eof);
    }
    if line.last() != Some(&b'\n') {
        // Either the cap was reached or the stream ended mid-line.
        return Ok(if line.len() > max {
            Line::TooLong
        } else {
            Line::Eof
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > max {
        return Ok(Line::TooLong);
    }
    Ok(String::from_utf8(line).map_or(Line::NotUtf8, Line::Text))
}
// ANCHOR_END: read_line

/// A nickname: 1 to 20 ASCII letters, digits, `-` or `_`.
fn valid_nick(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_NICK
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
