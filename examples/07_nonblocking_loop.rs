//! # 07 — many clients in one thread: a non-blocking loop
//!
//! Teaches non-blocking sockets: `set_nonblocking(true)` turns "wait until something happens"
//! into "try, and hear `WouldBlock` if nothing can happen now". One thread then serves every
//! client by trying each socket in turn, keeping what it could not write yet in a per-client
//! buffer. It also shows the price: a loop that has nothing to do must either burn a core
//! spinning (`--spin`) or nap between passes, which delays every reply.
//!
//! ```text
//! terminal 1:  cargo run --example 07_nonblocking_loop
//! terminal 2:  cargo run --example 02_echo_client -- hello
//! terminal 3:  top -p $(pgrep 07_nonblocking)      (near 0% CPU; try again with --spin)
//! ```
//!
//! Look for `connected:` lines with the number of clients the one thread is serving.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli::Throttle;
use socket_workbook::shutdown::{
    ACCEPT_PAUSE, DEFAULT_GRACE, ERROR_LINE_INTERVAL, Shutdown,
};
use socket_workbook::{cli, net};

/// Non-blocking echo server: one thread, every client, no waiting.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Milliseconds to nap after a pass in which nothing happened. Every reply may wait up to
    /// this long; shorter naps cost more CPU when idle.
    #[arg(long, value_name = "MS", default_value_t = 5, value_parser = cli::number::<u64>(0..=1000))]
    nap: u64,

    /// Never nap: retry at once (one core at 100%, even when idle).
    #[arg(long, conflicts_with = "nap")]
    spin: bool,

    /// Most bytes waiting to be written to one client. A client that does not read its echoes
    /// is not read from until its backlog drains.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024,
          value_parser = cli::number::<usize>(1..=1 << 30))]
    max_pending: usize,
}

// ANCHOR: client
/// Everything the loop knows about one client, in one place.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    /// Echo bytes read but not yet written: what `write` did not take last time.
    pending: Vec<u8>,
    /// The client closed its side (`read` returned 0): finish writing, then close.
    finished_reading: bool,
    echoed: u64,
}
// ANCHOR_END: client

/// What one attempt on a socket achieved.
enum Step {
    /// Bytes moved: the loop made progress.
    Progress,
    /// The OS said "not now" (`WouldBlock`), or there was nothing to do.
    Idle,
    /// The client is gone (closed cleanly, or an error): remove it.
    Done(Result<(), anyhow::Error>),
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_ctrl_c()?;
    // ANCHOR: listen
    let listener = net::listen(args.addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    // From now on `accept` never waits: with no client in the backlog it fails with
    // `WouldBlock` at once.
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    // ANCHOR_END: listen
    // The first line on stdout: `listening on ADDR`, with the real address (chapter 01).
    cli::announce(&listener)?;

    let nap = (!args.spin).then(|| Duration::from_millis(args.nap));
    let mut clients: Vec<Client> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    // After a failed `accept`, when to try again, and how often to say so (see `accept`).
    let mut accept_again = Instant::now();
    let mut accept_errors = Throttle::new(ERROR_LINE_INTERVAL);

    // ANCHOR: loop
    while !shutdown.is_triggered() {
        let mut progress = false;
        if Instant::now() >= accept_again {
            match accept_all(&listener, &mut clients) {
                Ok(accepted) => progress = accepted,
                Err(err) => {
                    // Out of file descriptors, say: the client stays in the backlog,
                    // and another `accept` now would fail the same way. Leave the
                    // listener alone for a moment; print the error at most every few
                    // seconds.
                    let why = cli::describe_io(&err);
                    accept_errors.eprintln(&format!("error: accept failed: {why}"));
                    accept_again = Instant::now() + ACCEPT_PAUSE;
                }
            }
        }

        // Try every client: first write what is pending, then read more.
        let mut index = 0;
        while index < clients.len() {
            let client = &mut clients[index];
            let step = match flush(client) {
                Step::Idle => read_some(client, &mut buf, args.max_pending),
                other => other,
            };
            match step {
                Step::Progress => progress = true,
                Step::Idle => {}
                Step::Done(result) => {
                    let client = clients.swap_remove(index);
                    report_gone(&client, result, clients.len());
                    progress = true;
                    continue; // `index` now holds the client that was last
                }
            }
            index += 1;
        }

        // Nothing happened this pass: nap, or spin. The nap is where idle CPU goes to
        // zero — and where a request that arrives just now waits until we wake up.
        if !progress {
            match nap {
                Some(nap) => {
                    shutdown.wait_timeout(nap);
                }
                None => std::hint::spin_loop(),
            }
        }
    }
    // ANCHOR_END: loop

    finish(clients);
    Ok(())
}

// ANCHOR: accept
/// Accepts every client waiting in the backlog, until the OS says `WouldBlock`.
/// Returns whether it accepted anyone, or the error that stopped it (those accepted
/// before it are in `clients` all the same).
fn accept_all(listener: &TcpListener, clients: &mut Vec<Client>) -> io::Result<bool> {
    let mut progress = false;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                progress = true;
                // An accepted socket does not inherit non-blocking mode everywhere:
                // set it.
                if let Err(err) = stream.set_nonblocking(true) {
                    eprintln!(
                        "error: cannot make {peer} non-blocking: {}",
                        cli::describe_io(&err)
                    );
                    continue;
                }
                clients.push(Client {
                    stream,
                    peer,
                    pending: Vec::new(),
                    finished_reading: false,
                    echoed: 0,
                });
                println!("connected: {peer} ({} connected)", clients.len());
            }
            // "No one is waiting right now": the normal way this loop ends.
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(progress),
            // A signal interrupted the call before it did anything: just try again.
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // A client that gave up while it waited in the backlog: its loss alone.
            Err(err) if err.kind() == ErrorKind::ConnectionAborted => continue,
            // Out of file descriptors (`EMFILE`), say: the caller pauses accepting.
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: accept

// ANCHOR: flush
/// Writes as much of the client's pending echo as the OS takes now.
fn flush(client: &mut Client) -> Step {
    while !client.pending.is_empty() {
        match client.stream.write(&client.pending) {
            // A partial write is normal: the socket's send buffer had room for `n`
            // bytes. Keep the rest for the next pass.
            Ok(n) => {
                client.pending.drain(..n);
                client.echoed += n as u64;
                return Step::Progress;
            }
            // The send buffer is full: the client is not reading fast enough. Not an
            // error.
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Step::Idle,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                let peer = client.peer;
                return Step::Done(
                    Err(err).with_context(|| format!("cannot write to {peer}")),
                );
            }
        }
    }
    if client.finished_reading {
        // everything echoed, and the client has closed its side
        return Step::Done(Ok(()));
    }
    Step::Idle
}
// ANCHOR_END: flush

// ANCHOR: read
/// Reads what has arrived, unless this client's pending echo is already at the limit.
fn read_some(client: &mut Client, buf: &mut [u8], max_pending: usize) -> Step {
    // Backpressure: a client that does not read its echoes stops being read. Its bytes
    // then pile up in the kernel's buffers instead of our memory, until they are full
    // and TCP's flow control makes the client's own `write` wait. Without this limit,
    // one client that only sends would make `pending` — our memory — grow without end.
    let room = max_pending.saturating_sub(client.pending.len());
    if room == 0 || client.finished_reading {
        return Step::Idle;
    }
    let want = room.min(buf.len());
    loop {
        match client.stream.read(&mut buf[..want]) {
            Ok(0) => {
                // End of stream. Echo what is still pending, then close (`flush`
                // does).
                client.finished_reading = true;
                return if client.pending.is_empty() {
                    Step::Done(Ok(()))
                } else {
                    Step::Progress
                };
            }
            Ok(n) => return echo_now(client, &buf[..n]),
            // Nothing has arrived: "not now", not an error.
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Step::Idle,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                let peer = client.peer;
                return Step::Done(
                    Err(err).with_context(|| format!("cannot read from {peer}")),
                );
            }
        }
    }
}

/// Echoes what was just read: written at once when nothing is pending (the socket's
/// send buffer almost always has room), and only what the socket does not take is kept
/// for the next pass. Behind a backlog it just queues: a `write` now would only hear
/// `WouldBlock`.
fn echo_now(client: &mut Client, data: &[u8]) -> Step {
    let mut written = 0;
    if client.pending.is_empty() {
        written = loop {
            match client.stream.write(data) {
                // Often all of it; a partial write leaves the rest for `flush`.
                Ok(n) => break n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break 0,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    let peer = client.peer;
                    let why = || format!("cannot write to {peer}");
                    return Step::Done(Err(err).with_context(why));
                }
            }
        };
    }
    client.echoed += written as u64;
    client.pending.extend_from_slice(&data[written..]);
    Step::Progress
}
// ANCHOR_END: read

fn report_gone(client: &Client, result: anyhow::Result<()>, left: usize) {
    match result {
        Ok(()) => println!(
            "disconnected: {} ({} bytes echoed, {left} connected)",
            client.peer, client.echoed
        ),
        Err(err) => {
            eprintln!("error: {}", cli::one_line(&err));
            println!(
                "disconnected: {} after an error ({left} connected)",
                client.peer
            );
        }
    }
}

// ANCHOR: finish
/// Ctrl-C: stop accepting and echoing. Each client gets the grace period for an
/// orderly end (chapter 03): its pending echo, then our FIN, then we read and drop
/// what it still sends until it closes too — closing while its data is arriving would
/// reset the connection.
fn finish(mut clients: Vec<Client>) {
    println!("shutting down: {} client(s) connected", clients.len());
    let deadline = Instant::now() + DEFAULT_GRACE;
    let mut buf = [0u8; 16 * 1024];
    let mut fin_sent = vec![false; clients.len()];
    let mut ending = vec![true; clients.len()];
    while Instant::now() < deadline && ending.contains(&true) {
        for (i, client) in clients.iter_mut().enumerate() {
            if !ending[i] {
                continue;
            }
            if let Step::Done(Err(_)) = flush(client) {
                ending[i] = false; // the client is gone; nothing more to send
                continue;
            }
            if !client.pending.is_empty() {
                continue; // its send buffer is full: the next pass
            }
            if !fin_sent[i] {
                let _ = client.stream.shutdown(std::net::Shutdown::Write);
                fin_sent[i] = true;
            }
            match client.stream.read(&mut buf) {
                // it closed too: an orderly end on both sides
                Ok(0) => ending[i] = false,
                Ok(_) => {} // dropped: no more echoes
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => ending[i] = false,
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    for client in &clients {
        println!(
            "closed: {} ({} bytes echoed; shutting down)",
            client.peer, client.echoed
        );
    }
    println!("shutting down: done");
}
// ANCHOR_END: finish
