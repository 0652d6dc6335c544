//! Tests of `examples/03_sequential_server.rs`: clients served one at a time, a client's
//! failure never stops the server, and Ctrl-C (SIGINT) stops it cleanly whatever it is doing.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{Proc, TIMEOUT, connect, echo};
use socket2::{Domain, SockRef, Socket, Type};

const EXAMPLE: &str = "03_sequential_server";

#[test]
fn a_second_client_is_served_only_after_the_first_leaves() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut first = connect(addr);
    assert_eq!(echo(&mut first, b"first"), b"first");
    let first_addr = first.local_addr().unwrap();

    // The second client's connect succeeds (the kernel completes the handshake and queues it
    // in the backlog) and its bytes are buffered, but nobody reads them yet.
    let mut second = connect(addr);
    let second_addr = second.local_addr().unwrap();
    second.write_all(b"second").unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = second
        .read(&mut [0u8; 16])
        .expect_err("second client answered too early");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );

    // The first client is still being served meanwhile.
    assert_eq!(echo(&mut first, b"still me"), b"still me");
    drop(first);

    // Now the server gets to the second client, and the bytes it sent long ago come back.
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut back = [0u8; 6];
    second.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"second");
    drop(second);

    server.wait_for_line(&format!("disconnected: {second_addr}"));
    assert_eq!(
        server.stdout(),
        [
            format!("listening on {addr}"),
            format!("connected: {first_addr}"),
            format!("disconnected: {first_addr} (13 bytes echoed)"),
            format!("connected: {second_addr}"),
            format!("disconnected: {second_addr} (6 bytes echoed)"),
        ]
    );
}

#[test]
fn a_client_that_resets_mid_message_does_not_stop_the_server() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    {
        // Send a lot and read nothing, then close abortively: with linger 0, close() sends a
        // reset (RST) instead of a FIN, as the kernel of a crashed client may.
        let mut rude = connect(addr);
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..8 {
            rude.write_all(&chunk).unwrap();
        }
        SockRef::from(&rude)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }
    let mut polite = connect(addr);
    assert_eq!(echo(&mut polite, b"still serving"), b"still serving");
    drop(polite);
    server.wait_for_line("(13 bytes echoed)");
    // The server met the reset while reading (ECONNRESET) or while writing an echo (ECONNRESET,
    // or EPIPE once the reset has been reported): one line either way.
    let line = server.wait_for_stderr_line("error: cannot ");
    assert!(
        line.contains("connection reset by peer") || line.contains("broken pipe"),
        "{line}"
    );
    assert_eq!(server.stderr().len(), 1, "{:?}", server.stderr());
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_idle_exits_0_at_once_and_frees_the_port() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut client = connect(addr);
    assert_eq!(echo(&mut client, b"one"), b"one");
    drop(client);
    server.wait_for_line("disconnected:");

    // The server is now blocked in `accept`.
    server.sigint();
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        done.elapsed < Duration::from_secs(2),
        "took {:?}",
        done.elapsed
    );
    assert_eq!(
        done.stdout.last().unwrap(),
        "shutting down: served 1 client(s)"
    );
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);

    // A listening socket leaves no TIME_WAIT behind: the port is free again at once.
    TcpListener::bind(addr).expect("the port is still taken after shutdown");
}

#[cfg(unix)]
#[test]
fn ctrl_c_with_a_client_connected_closes_it_cleanly_and_exits_0() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut client = connect(addr);
    assert_eq!(echo(&mut client, b"before"), b"before");
    let client_addr = client.local_addr().unwrap();

    // The server is now blocked in this client's `read`.
    let sent_at = Instant::now();
    server.sigint();
    // A clean close: end of stream (a FIN), not a reset and not a hang.
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("the connection was not closed cleanly");
    assert!(rest.is_empty(), "{rest:?}");

    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        sent_at.elapsed() < Duration::from_secs(2),
        "took {:?}",
        sent_at.elapsed()
    );
    assert_eq!(
        done.stdout[done.stdout.len() - 2..],
        [
            format!("closed: {client_addr} (6 bytes echoed; shutting down)"),
            "shutting down: served 1 client(s)".to_string(),
        ]
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_a_client_never_reads_exits_0_within_the_grace_period() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    // A client that never reads, with a small, fixed receive buffer: setting SO_RCVBUF turns
    // off Linux's receive-buffer autotuning, which would otherwise let an unread socket absorb
    // up to `net.ipv4.tcp_rmem`'s maximum (32 MiB here) and unblock the server now and then.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    let mut stuck: std::net::TcpStream = socket.into();
    // Fill the pipes: the server echoes into our receive buffer, which we never drain, until
    // its `write_all` blocks; then it stops reading, and our writes stall too. Three writes in
    // a row that take no byte at all for 300 ms each mean the server is stuck in `write`.
    stuck
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let chunk = vec![b'y'; 256 * 1024];
    let mut stalls = 0;
    while stalls < 3 {
        match stuck.write(&chunk) {
            Ok(0) => {
                unreachable!("a blocking write of a non-empty buffer never returns 0")
            }
            Ok(_written) => stalls = 0,
            Err(_) => stalls += 1,
        }
    }

    let sent_at = Instant::now();
    server.sigint();
    let done = server.wait(TIMEOUT);
    let took = sent_at.elapsed();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(
        done.stdout.last().unwrap(),
        "shutting down: served 1 client(s)"
    );
    // Two endings are right, and which one happens is the kernel's timing: an unread socket's
    // window still opens a little now and then (Linux compacts its receive queue), so the
    // server may be between writes, in `read`, at the signal, and is closed at once; or it is
    // blocked in `write`, and the grace period ends it with an error. In the second case it
    // must have waited out the grace period (one second) first. (The unit tests of
    // `src/shutdown.rs` check the grace period on its own.)
    if done.stderr.iter().any(|l| l.contains("cannot write to")) {
        assert!(
            took >= Duration::from_millis(900),
            "force-closed before the grace period: {took:?}; {done:?}"
        );
    } else {
        assert!(
            done.stdout.iter().any(|l| l.starts_with("closed: ")),
            "{done:?}"
        );
    }
}

/// Issue 11: out of file descriptors, the accept loop must stay cheap (no busy loop, at most
/// one error line every few seconds) and go on by itself once descriptors are free again.
/// (A sequential server holds one client at a time, so here the limit itself is raised again.)
#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_it_stays_cheap_and_recovers_when_descriptors_are_free() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let pid = server.pid();
    // A first client: once it is served, the server's setup is over.
    let mut first = connect(addr);
    assert_eq!(echo(&mut first, b"first"), b"first");
    drop(first);
    server.wait_for_line("disconnected:");
    common::wait_until_blocked_in_accept(pid);
    common::exhaust_fds(pid, 0);
    // The `accept` blocked right now had reserved its slot before the limit came down: one
    // last client gets it. After that one, the table is full.
    let mut last = connect(addr);
    assert_eq!(echo(&mut last, b"last"), b"last");
    drop(last);
    common::assert_cheap_while_out_of_fds_then_recovers(&server, addr, || {
        common::set_fd_limit(pid, 1024)
    });
}

/// Issue 11: the shutdown helper woke a blocked `accept` by connecting to the listener, which
/// needs a new descriptor; with none free, Ctrl-C was ignored.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_works_with_no_file_descriptor_left() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut client = connect(addr);
    assert_eq!(echo(&mut client, b"one"), b"one");
    drop(client);
    server.wait_for_line("disconnected:");
    common::wait_until_blocked_in_accept(server.pid());
    common::exhaust_fds(server.pid(), 1);
    server.sigint();
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        done.elapsed < Duration::from_secs(2),
        "took {:?}",
        done.elapsed
    );
}

/// Issue 12: Ctrl-C while a client is still sending. The server used to stop reading with
/// `shutdown(Read)` and close with the client's bytes still arriving, so the kernel reset the
/// connection: the client saw "connection reset" or "broken pipe" while the server logged a
/// clean close.
#[cfg(unix)]
#[test]
fn ctrl_c_with_a_client_sending_ends_its_stream_in_order() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let done = common::assert_ctrl_c_with_a_client_sending_ends_in_order(server, addr);
    assert_eq!(
        done.stdout.last().unwrap(),
        "shutting down: served 1 client(s)"
    );
}

#[test]
fn fifty_clients_at_once_are_all_served_in_turn() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    // All connect and send at once: the kernel queues them in the backlog, their bytes in
    // their receive buffers; the server gets to each in turn.
    let mut clients: Vec<_> = (0..50).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .write_all(format!("client {i:02}").as_bytes())
            .unwrap();
    }
    for (i, mut client) in clients.into_iter().enumerate() {
        let mut back = [0u8; 9];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, format!("client {i:02}").as_bytes());
    }
    server.wait_for_line("(9 bytes echoed)");
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
}

#[test]
fn a_large_stream_echoes_intact_in_little_memory() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_a_large_stream_echoes_intact(&server, addr, 16 << 20);
}

#[test]
fn end_of_stream_mid_message_gets_the_half_back() {
    let (_server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_eof_mid_message_gets_the_half_back(addr);
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use(EXAMPLE);
}
