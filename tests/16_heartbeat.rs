//! Tests of `examples/16_heartbeat.rs`: a frozen client (SIGSTOP) is dropped by the server after
//! the timeout while a healthy one stays; a frozen server is noticed by the client within its
//! timeout, and the client reconnects once the server is back. And the peers that misbehave on
//! purpose: one that stops reading, one that trickles a byte at a time, one that floods, bad
//! frames, streams cut inside a frame, and Ctrl-C with all of them connected.

#![cfg(unix)]

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, TIMEOUT, connect};
use socket_workbook::framing::{read_frame, write_frame};
use socket2::SockRef;

const EXAMPLE: &str = "16_heartbeat";
const ANSWERS: &str = "the server answers";

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

/// Waits until `proc` has printed at least `n` stdout lines starting with `prefix`.
fn wait_for(proc: &Proc, prefix: &str, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while count(&proc.stdout(), prefix) < n {
        assert!(
            Instant::now() < deadline,
            "no {n} × {prefix:?}: {:?}",
            proc.stdout()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn server() -> (Proc, String) {
    let args = ["server", "--addr", "127.0.0.1:0", "--interval", "0.2"];
    let (server, addr) = Proc::server(EXAMPLE, &args);
    (server, addr.to_string())
}

fn client(addr: &str) -> Proc {
    Proc::start(EXAMPLE, &["client", "--addr", addr, "--interval", "0.2"])
}

#[test]
fn a_frozen_client_is_dropped_while_a_healthy_one_stays() {
    let (server, addr) = server();
    let frozen = client(&addr);
    wait_for(&server, "connected: ", 1);
    let frozen_peer = server.stdout()[2]
        .strip_prefix("connected: ")
        .unwrap()
        .to_string();
    let healthy = client(&addr);
    wait_for(&server, "connected: ", 2);
    wait_for(&healthy, ANSWERS, 1);

    let stopped_at = Instant::now();
    frozen.signal("STOP"); // a hung program: its kernel still keeps the connection up
    let line = server.wait_for_line(&format!("dropped: {frozen_peer}"));
    let took = stopped_at.elapsed();
    assert_eq!(
        line,
        format!("dropped: {frozen_peer} (no heartbeat for 0.6 s)")
    );
    assert!(
        took >= Duration::from_millis(300),
        "dropped too early: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "dropped too late: {took:?}");

    // The healthy client goes on for five more intervals, and neither side gives up.
    thread::sleep(Duration::from_secs(1));
    assert_eq!(
        count(&server.stdout(), "dropped: "),
        1,
        "{:?}",
        server.stdout()
    );
    assert_eq!(
        count(&healthy.stdout(), "connected: "),
        1,
        "{:?}",
        healthy.stdout()
    );
    assert!(
        !healthy
            .stdout()
            .iter()
            .any(|l| l.contains("stopped answering"))
    );
    frozen.signal("CONT");
}

#[test]
fn a_frozen_server_is_noticed_within_the_timeout_and_the_client_reconnects() {
    let (server, addr) = server();
    let client = client(&addr);
    wait_for(&client, ANSWERS, 1);

    let stopped_at = Instant::now();
    server.signal("STOP");
    client.wait_for_line("the server stopped answering (nothing for 0.6 s)");
    let took = stopped_at.elapsed();
    assert!(took < Duration::from_secs(3), "noticed too late: {took:?}");
    // The frozen server's kernel still completes the handshake, but only an answer counts:
    // the pause doubles while the server is frozen, instead of starting over at each connect.
    wait_for(&client, "reconnecting in ", 2);
    let pauses: Vec<String> = client
        .stdout()
        .into_iter()
        .filter(|l| l.starts_with("reconnecting in "))
        .collect();
    assert_eq!(
        pauses[..2],
        ["reconnecting in 0.2 s", "reconnecting in 0.4 s"]
    );

    server.signal("CONT");
    // Reconnected (perhaps after more than one attempt) and answered again.
    wait_for(&client, ANSWERS, 2);
    assert!(count(&client.stdout(), "connected: ") >= 2);
    assert!(count(&client.stdout(), "reconnecting in ") >= 1);
}

#[test]
fn ctrl_c_stops_both_sides_with_exit_0() {
    let (server, addr) = server();
    let client = client(&addr);
    wait_for(&client, ANSWERS, 1);
    client.sigint();
    let client = client.wait(TIMEOUT);
    assert_eq!(client.code(), Some(0), "{client:?}");
    assert_eq!(client.stdout.last().unwrap(), "shutting down: done");
    server.sigint();
    let server = server.wait(TIMEOUT);
    assert_eq!(server.code(), Some(0), "{server:?}");
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["server"]);
}

/// The server's `dropped: PEER …` line for `peer`, if it printed one.
fn dropped_line(server: &Proc, peer: SocketAddr) -> Option<String> {
    let prefix = format!("dropped: {peer} ");
    server.stdout().into_iter().find(|l| l.starts_with(&prefix))
}

fn timed_out(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Issue 11, item 1: a peer that sends but never reads. Its receive buffer fills, then the
/// server's send buffer, and then the server's `write` blocks: the answer's deadline must end it.
#[test]
fn a_client_that_stops_reading_is_dropped() {
    let (server, addr) = server();
    let mut stream = connect(addr.parse().unwrap());
    // A small receive buffer, so that the server's answers fill it (and the server's send
    // buffer) sooner.
    SockRef::from(&stream).set_recv_buffer_size(4096).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let peer = stream.local_addr().unwrap();
    // Big pings (answered with big pongs), one after another without end. The frame is sent
    // as an endless cycle of its bytes, so a write cut short by its timeout never breaks the
    // framing: the next write continues where it stopped.
    let mut frame = Vec::new();
    write_frame(&mut frame, format!("ping {}", "x".repeat(1000)).as_bytes()).unwrap();
    let mut at = 0;
    let started = Instant::now();
    while dropped_line(&server, peer).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a client that never reads was never dropped: {:?}",
            server.stdout()
        );
        match stream.write(&frame[at..]) {
            Ok(n) => at = (at + n) % frame.len(),
            Err(err) if timed_out(&err) => {}
            Err(_) => thread::sleep(Duration::from_millis(10)), // closed by the server
        }
    }
    // Which deadline fires first is a race, and both are this client's fault: the server is
    // either stuck writing an answer it will not read, or waiting for the rest of a frame
    // that the client cannot send because its own writes are blocked behind the server's.
    let line = dropped_line(&server, peer).unwrap();
    assert!(
        line == format!("dropped: {peer} (not reading: an answer waited 0.6 s)")
            || line.starts_with(&format!(
                "dropped: {peer} (no complete heartbeat for 0.6 s"
            )),
        "{line:?}"
    );
    // The server is still there for others.
    let healthy = client(&addr);
    wait_for(&healthy, ANSWERS, 1);
}

/// Issue 11, item 1: a peer that sends one byte at a time, never completing a frame. Every
/// `read` of the server gets a byte well within its timeout; only "time since the last
/// complete frame" catches it.
#[test]
fn a_trickler_that_never_completes_a_frame_is_dropped() {
    let (server, addr) = server();
    let mut stream = connect(addr.parse().unwrap());
    let peer = stream.local_addr().unwrap();
    // A frame announcing 100 bytes, sent one byte every 0.1 s (the timeout is 0.6 s): it
    // would take 10.4 s to complete.
    let mut frame = Vec::new();
    write_frame(&mut frame, &[b'x'; 100]).unwrap();
    let started = Instant::now();
    for byte in frame {
        if dropped_line(&server, peer).is_some() || stream.write_all(&[byte]).is_err()
        {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let took = started.elapsed();
    let line = server.wait_for_line(&format!("dropped: {peer} "));
    assert!(
        line.starts_with(&format!(
            "dropped: {peer} (no complete heartbeat for 0.6 s, "
        )),
        "{line}"
    );
    assert!(took < Duration::from_secs(3), "dropped too late: {took:?}");
}

/// Issue 11, item 1: a read timeout that fires between a frame's header and its payload must
/// not lose the header. A server of our own answers the first heartbeat in two parts, with a
/// pause longer than the client's read timeout (the 0.2 s interval) between them, and then
/// answers normally. The client must take it as one answer and stay in step.
#[test]
fn a_pause_between_header_and_payload_loses_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = client(&addr.to_string());
    let deadline = Instant::now() + TIMEOUT;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(err)
                if err.kind() == ErrorKind::WouldBlock
                    && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(10))
            }
            Err(err) => panic!("the client never connected: {err}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;

    let ping = read_frame(&mut reader, 1024).unwrap().unwrap();
    assert_eq!(ping, b"ping 1");
    let mut pong = Vec::new();
    write_frame(&mut pong, b"pong 1").unwrap();
    writer.write_all(&pong[..4]).unwrap(); // the header…
    thread::sleep(Duration::from_millis(350));
    writer.write_all(&pong[4..]).unwrap(); // …and, after the client's read timed out, the rest

    // Then a second of ordinary answers.
    let until = Instant::now() + Duration::from_secs(1);
    let mut pings = 1;
    while Instant::now() < until {
        let Ok(Some(ping)) = read_frame(&mut reader, 1024) else {
            break; // the client hung up: the assertions below say why
        };
        pings += 1;
        let answer = String::from_utf8(ping).unwrap().replacen("ping", "pong", 1);
        if write_frame(&mut writer, answer.as_bytes()).is_err() {
            break;
        }
    }
    let out = client.stdout();
    assert_eq!(count(&out, "connected: "), 1, "{out:?}");
    assert_eq!(count(&out, ANSWERS), 1, "{out:?}");
    assert!(
        !out.iter()
            .any(|l| l.starts_with("lost the server")
                || l.contains("stopped answering")),
        "{out:?}"
    );
    assert!(pings >= 5, "only {pings} heartbeats in 1.35 s: {out:?}");
}

/// Bad input costs its own connection, never the server or another client: a header that
/// announces 4 GiB (refused after its 4 bytes, nothing allocated), a stream that ends inside a
/// frame, and one that is reset inside a frame.
#[test]
fn bad_frames_and_cut_streams_end_only_their_own_connection() {
    let (server, addr) = server();
    let healthy = client(&addr);
    wait_for(&healthy, ANSWERS, 1);
    let addr: SocketAddr = addr.parse().unwrap();

    let mut huge = connect(addr);
    huge.write_all(&[0xFF; 4]).unwrap();
    let mut rest = Vec::new();
    // The server closes it: end of stream (or a reset), well before the read timeout.
    let started = Instant::now();
    let _ = huge.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.wait_for_stderr_line(
        "a frame of 4294967295 bytes is over the limit of 1024 bytes",
    );

    let mut cut = connect(addr);
    cut.write_all(&[0, 0, 0, 10, b'p', b'i']).unwrap();
    drop(cut); // a FIN, six bytes into a frame
    server.wait_for_stderr_line(
        "the stream ended inside a frame (6 bytes of it received)",
    );

    let mut reset = connect(addr);
    reset.write_all(&[0, 0, 0, 10, b'p']).unwrap();
    thread::sleep(Duration::from_millis(100)); // let the server read those bytes first
    SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset); // linger 0: a reset instead of a FIN
    server.wait_for_stderr_line("connection reset by peer");

    thread::sleep(Duration::from_millis(600)); // a heartbeat timeout
    assert_eq!(
        count(&server.stdout(), "dropped: "),
        0,
        "{:?}",
        server.stdout()
    );
    let out = healthy.stdout();
    assert_eq!(count(&out, "connected: "), 1, "{out:?}");
}

/// A peer that sends heartbeats as fast as it can (and reads the answers): every one is
/// answered, in order, and a healthy client meanwhile is never dropped.
#[test]
fn a_flood_of_heartbeats_is_answered_in_order() {
    const PINGS: usize = 20_000;
    let (server, addr) = server();
    let healthy = client(&addr);
    wait_for(&healthy, ANSWERS, 1);
    let stream = connect(addr.parse().unwrap());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let flood = thread::spawn(move || {
        let mut all = Vec::new();
        for n in 0..PINGS {
            write_frame(&mut all, format!("ping {n}").as_bytes()).unwrap();
        }
        writer.write_all(&all).unwrap();
        writer
    });
    for n in 0..PINGS {
        let pong = read_frame(&mut reader, 1024).unwrap().unwrap();
        assert_eq!(pong, format!("pong {n}").as_bytes());
    }
    drop(flood.join().unwrap());
    assert_eq!(
        count(&server.stdout(), "dropped: "),
        0,
        "{:?}",
        server.stdout()
    );
    assert_eq!(count(&healthy.stdout(), "connected: "), 1);
}

/// Ctrl-C with a healthy client, one that stopped reading, a trickler and a flood connected:
/// the server still stops within about the grace period, with exit code 0.
#[test]
fn ctrl_c_under_load_stops_the_server_within_two_seconds() {
    let (server, addr) = server();
    let healthy = client(&addr);
    wait_for(&healthy, ANSWERS, 1);
    let sock: SocketAddr = addr.parse().unwrap();
    // One that stopped reading, its answers piling up: 2 MB of pings, unread pongs.
    let mut hog = connect(sock);
    SockRef::from(&hog).set_recv_buffer_size(4096).unwrap();
    hog.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut frame = Vec::new();
    write_frame(&mut frame, format!("ping {}", "x".repeat(1000)).as_bytes()).unwrap();
    for _ in 0..2000 {
        if hog.write_all(&frame).is_err() {
            break;
        }
    }
    // A trickler, three bytes into a frame.
    let mut trickler = connect(sock);
    trickler.write_all(&[0, 0, 0]).unwrap();
    // A flood, in its own thread, until the server goes away.
    let flood = thread::spawn(move || {
        let mut stream = connect(sock);
        let mut sink = stream.try_clone().unwrap();
        thread::spawn(
            move || while matches!(sink.read(&mut [0u8; 65536]), Ok(n) if n > 0) {},
        );
        let mut burst = Vec::new();
        for n in 0..1000 {
            write_frame(&mut burst, format!("ping {n}").as_bytes()).unwrap();
        }
        while stream.write_all(&burst).is_ok() {}
    });
    wait_for(&server, "connected: ", 4);
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.sigint();
    let finished = server.wait(TIMEOUT);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(
        finished.elapsed < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(finished.stdout.last().unwrap(), "shutting down: done");
    flood.join().unwrap();
    drop((hog, trickler));
}

/// Out of file descriptors: while the table is full, a new client cannot be served (its
/// `accept` or its duplicate fails with EMFILE). The clients being served are not disturbed,
/// the server logs the failure, and once descriptors are free again it serves new clients,
/// by itself.
#[cfg(target_os = "linux")]
#[test]
fn out_of_descriptors_it_recovers_by_itself() {
    let args = [
        "server",
        "--addr",
        "127.0.0.1:0",
        "--interval",
        "0.2",
        "--timeout",
        "8",
    ];
    let (server, addr) = Proc::server(EXAMPLE, &args);
    // Room for exactly two clients: each takes its socket and the shutdown helper's
    // duplicate, and the accept loop, blocked in `accept`, holds one more slot for the
    // client to come (the kernel reserves it before it waits; `/proc` does not show it).
    // Counted from the lowest free descriptor, not from how many are open: a descriptor
    // inherited from whoever started the tests must not make more room.
    common::exhaust_fds(server.pid(), 2 * 2 + 1);

    // One heartbeat and its answer.
    let ping = |stream: &mut TcpStream, n: usize| {
        write_frame(stream, format!("ping {n}").as_bytes()).unwrap();
        let pong = read_frame(stream, 1024).unwrap();
        assert_eq!(
            pong,
            Some(format!("pong {n}").into_bytes()),
            "stdout: {:?}\nstderr: {:?}",
            server.stdout(),
            server.stderr()
        );
    };
    let mut served: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
    for (n, stream) in served.iter_mut().enumerate() {
        ping(stream, n);
    }
    // These two complete the handshake (the kernel does that), but the table is full: the
    // first is accepted into the last slot and closed at once, its duplicate refused
    // (`cannot serve …`); `accept` itself may fail too (`accept failed: …`).
    let waiting: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
    server.wait_for_stderr_line("too many open files");
    for (n, stream) in served.iter_mut().enumerate() {
        ping(stream, n + 10); // still served
    }
    // Free the table (the waiting clients too: accepted with one descriptor free, a client is
    // closed at once, with an error line). A new client is served again, within seconds.
    drop(served);
    drop(waiting);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut stream = connect(addr);
        write_frame(&mut stream, b"ping 30").unwrap();
        if let Ok(Some(pong)) = read_frame(&mut stream, 1024) {
            assert_eq!(pong, b"pong 30");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never served again: {:?} {:?}",
            server.stdout(),
            server.stderr()
        );
        thread::sleep(Duration::from_millis(100));
    }
    // Every error line names its client, or says what failed.
    for line in server.stderr() {
        assert!(
            line.starts_with("error: accept failed: ") || line.contains("127.0.0.1:"),
            "{line}"
        );
    }
    server.sigint();
    let finished = server.wait(TIMEOUT);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
}
