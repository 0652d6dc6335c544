//! Tests of `examples/14_chat_room.rs`: broadcast in order with join and leave notices; the
//! flow-control policy (a member that keeps reading loses nothing, however fast another
//! sends; a member that stops reading is dropped with a notice); the rules for nicknames,
//! overlong lines, invalid UTF-8 and control characters; bounded waits for every thread
//! (nickname deadline, write timeout); descriptors; Ctrl-C, also under load.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Member, Proc, TIMEOUT, connect};
use socket2::{Domain, Socket, Type};

const EXAMPLE: &str = "14_chat_room";

fn server(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args = vec!["server", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Proc::server(EXAMPLE, &args)
}

/// A connection with a small receive buffer (SO_RCVBUF turns off Linux's autotuning, which
/// would let it soak up megabytes first), for a member that reads slowly or not at all.
fn small_buffer_socket(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.set_write_timeout(Some(TIMEOUT)).unwrap();
    socket.into()
}

#[test]
fn three_members_see_each_others_messages_in_order_with_notices() {
    let (_server, addr) = server(&[]);
    let (mut ada, hello) = Member::join(addr, "ada");
    assert_eq!(hello, "* hello ada; here: nobody yet");
    let (mut bob, hello) = Member::join(addr, "bob");
    assert_eq!(hello, "* hello bob; here: ada");
    assert_eq!(ada.line(), "* bob joined");
    let (mut cy, hello) = Member::join(addr, "cy");
    assert_eq!(hello, "* hello cy; here: ada, bob");
    assert_eq!(ada.line(), "* cy joined");
    assert_eq!(bob.line(), "* cy joined");

    for n in 0..20 {
        ada.say(&format!("message {n}"));
    }
    for member in [&mut bob, &mut cy] {
        for n in 0..20 {
            assert_eq!(member.line(), format!("ada: message {n}"));
        }
    }
    // (Lines from two senders at the same moment may interleave either way; one at a time.)
    bob.say("hi from bob");
    assert_eq!(cy.line(), "bob: hi from bob");
    assert_eq!(ada.line(), "bob: hi from bob");

    cy.say("/who");
    assert_eq!(cy.line(), "* here: ada, bob, cy");
    cy.say("/quit");
    assert!(cy.closed(), "/quit must close the connection");
    assert_eq!(ada.line(), "* cy left");
    drop(bob); // an abrupt disconnect is a departure too
    assert_eq!(ada.line(), "* bob left");
}

#[test]
fn a_member_that_never_reads_is_dropped_while_the_room_goes_on() {
    let (server, addr) = server(&["--stall-timeout", "1"]);
    let (_hog, hello) = Member::join_on(small_buffer_socket(addr), "hog");
    assert!(hello.starts_with("* hello hog"));

    let (mut listener, _) = Member::join(addr, "listener");
    let (mut talker, _) = Member::join(addr, "talker");
    assert_eq!(listener.line(), "* talker joined");
    const LINES: usize = 3000;
    // No pacing: the talker sends as fast as it can. It is slowed down (its writes block)
    // while the hog's outbox is full, until the hog is dropped; the listener loses nothing.
    let talking = thread::spawn(move || {
        for n in 0..LINES {
            talker.say(&format!("{n:04} {}", "x".repeat(480)));
        }
        talker
    });
    let started = Instant::now();
    let mut notices = Vec::new();
    let mut n = 0;
    while n < LINES {
        let line = listener.line();
        if line.starts_with('*') {
            notices.push(line);
            continue;
        }
        assert_eq!(line, format!("talker: {n:04} {}", "x".repeat(480)));
        n += 1;
    }
    let _talker = talking.join().expect("the talker could not send");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(notices, ["* hog was disconnected (not reading)"]);
    server.wait_for_line("dropped: hog (not reading: over 512 lines behind)");
}

#[test]
fn a_member_that_keeps_reading_loses_nothing_when_another_floods() {
    let (server, addr) = server(&[]);
    let (mut reader, _) = Member::join(addr, "reader");
    let (mut flooder, _) = Member::join(addr, "flooder");
    assert_eq!(reader.line(), "* flooder joined");
    // 20,000 lines of 1,000 bytes (20 MB), written as fast as the socket takes them.
    const LINES: usize = 20_000;
    let flooding = thread::spawn(move || {
        let mut batch = Vec::with_capacity(64 * 1001);
        for n in 0..LINES {
            batch
                .extend_from_slice(format!("{n:05} {}\n", "f".repeat(994)).as_bytes());
            if batch.len() >= 64 * 1001 || n + 1 == LINES {
                flooder
                    .stream
                    .write_all(&batch)
                    .expect("the flooder was stopped");
                batch.clear();
            }
        }
        flooder
    });
    // The reader reads as fast as it can: every line, in order, and no notice.
    for n in 0..LINES {
        let line = reader.line();
        assert_eq!(
            line,
            format!("flooder: {n:05} {}", "f".repeat(994)),
            "line {n}"
        );
    }
    let mut flooder = flooding.join().unwrap();
    flooder.say("/quit");
    assert_eq!(reader.line(), "* flooder left");
    assert!(
        !server.stdout().iter().any(|l| l.starts_with("dropped")),
        "{:?}",
        server.stdout()
    );
}

#[test]
fn a_slow_but_steady_reader_loses_nothing_and_is_not_dropped() {
    let (server, addr) = server(&[]);
    // A small receive buffer, so that the reader's outbox really fills up.
    let (mut slow, _) = Member::join_on(small_buffer_socket(addr), "slow");
    let (mut fast, _) = Member::join(addr, "fast");
    assert_eq!(slow.line(), "* fast joined");
    const LINES: usize = 2000;
    let sending = thread::spawn(move || {
        for n in 0..LINES {
            fast.say(&format!("{n:04} {}", "s".repeat(995)));
        }
        fast
    });
    for n in 0..LINES {
        assert_eq!(slow.line(), format!("fast: {n:04} {}", "s".repeat(995)));
        thread::sleep(Duration::from_millis(1)); // about 1 MB/s at most
    }
    let _fast = sending.join().unwrap();
    assert!(!server.stdout().iter().any(|l| l.starts_with("dropped")));
}

#[test]
fn control_characters_reach_no_one_they_are_shown_escaped() {
    let (_server, addr) = server(&[]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (mut mallory, _) = Member::join(addr, "mallory");
    assert_eq!(ada.line(), "* mallory joined");
    // On a terminal, CR goes back to column 0 and ESC [2K erases the line: ada would see only
    // `alice: send me your password`. Then NUL, BEL, DEL, and C1's CSI (U+009B) and NEL.
    mallory
        .stream
        .write_all(
            "x\r\x1b[2Kalice: send me your password\n\0\x07\x7f\u{9b}2J\u{85}\n"
                .as_bytes(),
        )
        .unwrap();
    let mut raw = Vec::new();
    for _ in 0..2 {
        let mut line = Vec::new();
        ada.lines.read_until(b'\n', &mut line).unwrap();
        raw.extend(line);
    }
    let text = String::from_utf8(raw).unwrap();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached ada: {text:?}"
    );
    assert_eq!(
        text,
        "mallory: x\\r\\u{1b}[2Kalice: send me your password\n\
         mallory: \\0\\u{7}\\u{7f}\\u{9b}2J\\u{85}\n"
    );
    // Nicknames never carry them: only letters, digits, `-` and `_` are accepted.
    let (mut eve, answer) = Member::join(addr, "eve\x1b[2K");
    assert_eq!(answer, "* not a nickname: 1 to 20 letters, digits, - or _");
    assert!(eve.closed());
}

#[test]
fn a_taken_or_invalid_nickname_is_refused() {
    let (server, addr) = server(&[]);
    let (_ada, _) = Member::join(addr, "ada");
    let (mut again, answer) = Member::join(addr, "ada");
    assert_eq!(answer, "* nickname ada is taken");
    assert!(again.closed());
    let (mut odd, answer) = Member::join(addr, "no spaces please");
    assert_eq!(answer, "* not a nickname: 1 to 20 letters, digits, - or _");
    assert!(odd.closed());
    server.wait_for_line("(nickname ada is taken)");
}

#[test]
fn invalid_utf8_is_rejected_and_an_overlong_line_disconnects() {
    let (server, addr) = server(&["--max-line", "100"]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (mut bob, _) = Member::join(addr, "bob");
    assert_eq!(ada.line(), "* bob joined");

    bob.stream.write_all(b"caf\xe9\n").unwrap(); // Latin-1, not UTF-8
    assert_eq!(
        bob.line(),
        "* your line was not valid UTF-8 and was not sent"
    );
    bob.say("still here");
    assert_eq!(
        ada.line(),
        "bob: still here",
        "the invalid line must not reach anyone"
    );

    bob.say(&"y".repeat(150));
    assert_eq!(bob.line(), "* line longer than 100 bytes: disconnected");
    assert!(bob.closed());
    assert_eq!(ada.line(), "* bob was disconnected (line too long)");
    server.wait_for_line("rejected: a line from bob is not UTF-8");
    server.wait_for_line("dropped: bob (a line over 100 bytes)");
}

#[test]
fn the_client_example_sends_what_is_typed_and_prints_the_room() {
    let (_server, addr) = server(&[]);
    let addr = addr.to_string();
    let mut bob = Proc::start(EXAMPLE, &["client", "--addr", &addr, "--nick", "bob"]);
    bob.wait_for_line("* hello bob");
    let ada = common::run(
        EXAMPLE,
        &["client", "--addr", &addr, "--nick", "ada"],
        b"hello from ada\n",
    );
    assert_eq!(ada.code(), Some(0), "{ada:?}");
    assert_eq!(ada.stdout, ["* hello ada; here: bob"]);
    bob.wait_for_line("* ada left");
    bob.close_stdin();
    let bob = bob.wait(TIMEOUT);
    assert_eq!(bob.code(), Some(0), "{bob:?}");
    assert_eq!(
        bob.stdout,
        [
            "* hello bob; here: nobody yet",
            "* ada joined",
            "ada: hello from ada",
            "* ada left"
        ]
    );

    let taken = {
        let _held = Proc::start(EXAMPLE, &["client", "--addr", &addr, "--nick", "cy"]);
        thread::sleep(Duration::from_millis(300));
        common::run(EXAMPLE, &["client", "--addr", &addr, "--nick", "cy"], b"")
    };
    assert_eq!(taken.code(), Some(1));
    assert_eq!(taken.stderr, ["error: nickname cy is taken"]);
}

#[cfg(unix)]
#[test]
fn ctrl_c_closes_everyone_and_exits_0() {
    let (server, addr) = server(&[]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (mut bob, _) = Member::join(addr, "bob");
    assert_eq!(ada.line(), "* bob joined");
    server.sigint();
    for member in [&mut ada, &mut bob] {
        assert_eq!(member.line(), "* server shutting down");
        assert!(member.closed());
    }
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout.last().unwrap(), "shutting down: done");
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["server"]);
}

#[test]
fn a_connection_that_sends_no_nickname_is_closed_at_the_deadline() {
    let (server, addr) = server(&["--nick-timeout", "1"]);
    let mut silent = connect(addr);
    // A trickler: one byte every 300 ms, never a whole line. Each read succeeds, so only a
    // deadline for the whole line (not a per-read timeout) ends it.
    let trickler = connect(addr);
    let trickling = thread::spawn(move || {
        let started = Instant::now();
        for byte in b"abcdefghijklmnopqrstuvwxyz" {
            if (&trickler).write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(300));
        }
        let mut rest = String::new();
        let _ = (&trickler).read_to_string(&mut rest);
        (rest, started.elapsed())
    });
    let started = Instant::now();
    let mut rest = String::new();
    silent.read_to_string(&mut rest).unwrap();
    assert_eq!(
        rest,
        "* welcome! your nickname?\n* no nickname within 1 s: goodbye\n"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    let (rest, elapsed) = trickling.join().unwrap();
    assert!(
        rest.ends_with("* no nickname within 1 s: goodbye\n"),
        "{rest:?}"
    );
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    server.wait_for_line("(no nickname within 1 s)");
}

#[test]
fn an_overlong_nickname_is_refused_after_a_few_bytes() {
    let (server, addr) = server(&[]);
    let mut long = connect(addr);
    let mut lines = BufReader::new(long.try_clone().unwrap());
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    // Far over any nickname, and no newline: the server must not wait for the rest.
    long.write_all(&[b'n'; 100]).unwrap();
    line.clear();
    lines.read_line(&mut line).unwrap();
    assert_eq!(line, "* not a nickname: 1 to 20 letters, digits, - or _\n");
    server.wait_for_line("refused: ");
}

#[test]
fn a_member_that_leaves_with_full_buffers_frees_its_threads() {
    let (server, addr) = server(&[]);
    let (mut watcher, _) = Member::join(addr, "watcher");
    let (mut hog, _) = Member::join_on(small_buffer_socket(addr), "hog");
    assert_eq!(watcher.line(), "* hog joined");
    #[cfg(target_os = "linux")]
    let threads_before = common::thread_count(server.pid());
    // Enough to fill the hog's kernel buffers (its writer then blocks in `write`), not its
    // outbox (so that no sender waits and nobody is dropped for it).
    for n in 0..200 {
        watcher.say(&format!("{n:03} {}", "w".repeat(996)));
    }
    thread::sleep(Duration::from_millis(300));
    // Then the hog leaves without having read a thing.
    hog.say("/quit");
    assert_eq!(watcher.line(), "* hog left");
    server.wait_for_line("left: hog");
    #[cfg(target_os = "linux")]
    {
        let deadline = Instant::now() + TIMEOUT;
        while common::thread_count(server.pid()) + 2 > threads_before {
            assert!(
                Instant::now() < deadline,
                "the hog's two threads never ended"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_member_that_never_reads_its_own_answers_is_dropped_with_the_room_notice() {
    // The default stall timeout, 5 s: within the 10 s a test waits for a line.
    let (server, addr) = server(&[]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (hog, _) = Member::join_on(small_buffer_socket(addr), "hog");
    assert_eq!(ada.line(), "* hog joined");
    // The hog asks `/who` again and again and never reads the answers: they are told to it
    // alone, and fill its buffers and then its outbox.
    let stream = hog.stream.try_clone().unwrap();
    let asking = thread::spawn(move || {
        let burst = "/who\n".repeat(1000);
        for _ in 0..100 {
            if (&stream).write_all(burst.as_bytes()).is_err() {
                break;
            }
        }
    });
    assert_eq!(ada.line(), "* hog was disconnected (not reading)");
    server.wait_for_line("dropped: hog (not reading: over 512 lines behind)");
    drop(hog);
    asking.join().unwrap();
}

#[test]
fn a_line_cut_by_the_end_of_the_stream_or_a_reset_is_not_sent() {
    let (server, addr) = server(&[]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (mut bob, _) = Member::join(addr, "bob");
    assert_eq!(ada.line(), "* bob joined");
    bob.stream.write_all(b"half a li").unwrap();
    bob.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        ada.line(),
        "* bob left",
        "the half line must not reach anyone"
    );
    server.wait_for_line("lost: bob (the stream ended inside a line");

    let (cy, _) = Member::join(addr, "cy");
    assert_eq!(ada.line(), "* cy joined");
    (&cy.stream).write_all(b"half a li").unwrap();
    thread::sleep(Duration::from_millis(100)); // let the bytes arrive before the reset
    // Linger 0: close sends a reset (RST) instead of an orderly end (FIN).
    socket2::SockRef::from(&cy.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(cy);
    assert_eq!(ada.line(), "* cy left");
    server.wait_for_line("lost: cy (connection reset by peer");
    ada.say("/who");
    assert_eq!(ada.line(), "* here: ada");
}

/// Open descriptors of process `pid` (Linux: the entries of `/proc/PID/fd`).
#[cfg(target_os = "linux")]
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn each_member_costs_at_most_two_descriptors() {
    let (server, addr) = server(&[]);
    let (mut first, _) = Member::join(addr, "m0");
    let before = open_descriptors(server.pid());
    let mut members = Vec::new();
    for n in 1..=10 {
        let (member, _) = Member::join(addr, &format!("m{n}"));
        assert!(first.line().ends_with("joined"));
        members.push(member);
    }
    let per_member = (open_descriptors(server.pid()) - before) as f64 / 10.0;
    // The socket itself, and the shutdown helper's handle on it (chapter 03).
    assert!(per_member <= 2.0, "{per_member} descriptors per member");
}

#[cfg(target_os = "linux")]
#[test]
fn out_of_descriptors_the_room_goes_on_and_recovers() {
    let (server, addr) = common::server_with_fd_limit(
        EXAMPLE,
        &["server", "--addr", "127.0.0.1:0"],
        32,
    );
    // More members than descriptors: the kernel completes their handshakes (the backlog),
    // the server cannot accept them all.
    let mut joined = Vec::new();
    let mut waiting = Vec::new();
    let mut busy = 0;
    for n in 0..30 {
        let stream = connect(addr);
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut member = Member {
            lines: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        let mut first = String::new();
        match member.lines.read_line(&mut first) {
            Ok(_) if first == "* welcome! your nickname?\n" => {
                member.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                member.say(&format!("m{n}"));
                assert!(member.line().starts_with("* hello"));
                joined.push(member);
            }
            // Accepted with the last descriptor, and none left to serve it with.
            Ok(_) => {
                assert_eq!(first, "* the server is busy: try again later\n");
                busy += 1;
            }
            // Not accepted (yet): its handshake is done, it waits in the backlog.
            Err(_) => waiting.push(member),
        }
    }
    server.wait_for_stderr_line("too many open files");
    assert!(joined.len() >= 2, "only {} joined", joined.len());
    assert_eq!(joined.len() + busy + waiting.len(), 30);
    assert!(busy + waiting.len() > 0);
    // Those in the room still talk.
    joined.last_mut().unwrap().say("still here");
    while !joined[0].line().ends_with(": still here") {} // after the join notices
    // Out of descriptors, the accept loop pauses between attempts instead of spinning.
    let ticks = common::cpu_ticks(server.pid());
    thread::sleep(Duration::from_secs(1));
    let spent = common::cpu_ticks(server.pid()) - ticks;
    assert!(
        spent < 30,
        "{spent} ticks of CPU in 1 s while out of descriptors"
    );
    // Members leave; the waiting connections are accepted and greeted, and newcomers join,
    // without a restart.
    drop(joined);
    // Every waiting connection gets an answer. Descriptors come back one by one as the
    // members' threads end, so one accepted while a single descriptor was free is told
    // "busy" (the same answer as above), not left hanging.
    // Each answered connection then goes away, as a client would: accepted and waiting for
    // its nickname, it holds two of the server's 32 descriptors (its socket and the shutdown
    // helper's copy), and a dozen of them would otherwise leave none for the next one.
    for mut member in waiting.drain(..) {
        member.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let answer = member.line();
        assert!(
            answer == "* welcome! your nickname?"
                || answer == "* the server is busy: try again later",
            "a waiting connection was answered {answer:?}"
        );
    }
    // The waiting connections, now accepted, hold descriptors of their own: let them go too,
    // and a newcomer must get in once the server has descriptors again. (The members'
    // threads end and close their sockets a moment after they leave.)
    drop(waiting);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut late = BufReader::new(connect(addr));
        let mut first = String::new();
        late.read_line(&mut first).unwrap();
        if first == "* welcome! your nickname?\n" {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {first:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_under_a_flood_with_a_member_that_never_reads_exits_within_seconds() {
    let (server, addr) = server(&[]);
    let (_hog, _) = Member::join_on(small_buffer_socket(addr), "hog");
    let (mut reader, _) = Member::join(addr, "reader");
    let (flooder, _) = Member::join(addr, "flooder");
    assert_eq!(reader.line(), "* flooder joined");
    let flooding = thread::spawn(move || {
        let line = format!("{}\n", "f".repeat(999));
        while (&flooder.stream).write_all(line.as_bytes()).is_ok() {}
    });
    // The reader reads on; the hog makes the flooder wait. Then Ctrl-C.
    let reading = thread::spawn(move || {
        let mut line = String::new();
        while reader.lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
    });
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    server.sigint();
    let done = server.wait(TIMEOUT);
    let took = started.elapsed();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout.last().unwrap(), "shutting down: done");
    assert!(took < Duration::from_secs(4), "Ctrl-C took {took:?}");
    reading.join().unwrap();
    flooding.join().unwrap();
}

/// Bytes a server socket takes from non-blocking `write`s before it would block, when its
/// peer reads nothing through a 4 KiB receive buffer; and the send buffer size then.
#[cfg(target_os = "linux")]
fn bytes_taken_by_a_peer_that_never_reads(
    send_buffer: Option<usize>,
) -> (usize, usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _peer = small_buffer_socket(listener.local_addr().unwrap());
    let (accepted, _) = listener.accept().unwrap();
    let socket = socket2::SockRef::from(&accepted);
    if let Some(size) = send_buffer {
        socket.set_send_buffer_size(size).unwrap();
    }
    accepted.set_nonblocking(true).unwrap();
    let mut taken = 0;
    loop {
        match (&accepted).write(&[b'x'; 1000]) {
            Ok(n) => taken += n,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(err) => panic!("{err}"),
        }
    }
    (taken, socket.send_buffer_size().unwrap())
}

#[cfg(target_os = "linux")]
#[test]
fn linux_doubles_the_send_buffer_it_is_asked_for_and_stops_growing_it() {
    // What the server does to each member's socket, and what Linux makes of it: socket(7),
    // "The kernel doubles this value (to allow space for bookkeeping overhead)".
    let (small, reported) = bytes_taken_by_a_peer_that_never_reads(Some(64 * 1024));
    assert_eq!(reported, 131_072);
    // Left alone, Linux grows the buffer of a socket whose peer is slow, up to the third
    // number of `net.ipv4.tcp_wmem` (4 MiB by default).
    let (grown, grown_to) = bytes_taken_by_a_peer_that_never_reads(None);
    eprintln!(
        "taken: {small} bytes with SO_SNDBUF 64 KiB (reported {reported}); {grown} bytes with the default (grew to {grown_to})"
    );
    assert!(grown > 4 * small, "{grown} vs {small}");
    assert!(grown_to > reported);
}

/// A fake chat server for the client: greets, takes the nickname, then sends `then`.
fn fake_server(then: &'static [u8]) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        (&stream).write_all(b"* welcome! your nickname?\n").unwrap();
        let mut nick = String::new();
        BufReader::new(&stream).read_line(&mut nick).unwrap();
        let _ = (&stream).write_all(then);
    });
    (addr, serving)
}

#[test]
fn the_client_escapes_control_characters_from_the_server() {
    let (addr, serving) = fake_server(
        b"* hello bob; here: nobody yet\nevil: \x1b]0;owned\x07\x1b[2J\r\n",
    );
    let addr = addr.to_string();
    let bob = common::run(EXAMPLE, &["client", "--addr", &addr, "--nick", "bob"], b"");
    serving.join().unwrap();
    assert_eq!(bob.code(), Some(0), "{bob:?}");
    assert_eq!(
        bob.stdout,
        [
            "* hello bob; here: nobody yet",
            "evil: \\u{1b}]0;owned\\u{7}\\u{1b}[2J"
        ]
    );
}

#[test]
fn the_client_refuses_an_endless_greeting() {
    // 1 MiB without a newline, where the answer to the nickname should be.
    static ENDLESS: [u8; 1 << 20] = [b'z'; 1 << 20];
    let (addr, serving) = fake_server(&ENDLESS);
    let addr = addr.to_string();
    let bob = common::run(EXAMPLE, &["client", "--addr", &addr, "--nick", "bob"], b"");
    serving.join().unwrap();
    assert_eq!(bob.code(), Some(1), "{bob:?}");
    assert_eq!(
        bob.stderr,
        ["error: no answer to the nickname: a line is over the limit of 65536 bytes"]
    );
}

#[test]
fn the_client_gives_up_on_a_server_that_never_greets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // The kernel completes the handshake (the backlog); nobody ever accepts or writes.
    let bob = common::run(EXAMPLE, &["client", "--addr", &addr, "--nick", "bob"], b"");
    assert_eq!(bob.code(), Some(1), "{bob:?}");
    assert_eq!(
        bob.stderr,
        [
            "error: the server sent no greeting: timed out (is the peer alive and reading?)"
        ]
    );
    assert!(bob.elapsed < Duration::from_secs(8), "{:?}", bob.elapsed);
    drop(listener);
}

/// Issue 24: fresh members that never read, one a second, while a flooder keeps the room busy:
/// an honest talker's lines still reach an honest reader, all of them, promptly. (Before: each
/// newcomer held every sender for up to the stall timeout, again and again.)
#[test]
fn a_stream_of_fresh_non_readers_does_not_freeze_the_room() {
    let (_server, addr) = server(&["--stall-timeout", "4"]);
    let (gap, prompt, complete) = common::fresh_non_readers_against_the_room(addr);
    eprintln!(
        "largest gap {gap:?}; {:.0}% of lines within 1 s",
        prompt * 100.0
    );
    assert!(complete, "the honest reader lost or reordered lines");
    assert!(gap < Duration::from_secs(2), "a gap of {gap:?}");
    assert!(
        prompt > 0.8,
        "only {:.0}% of lines within 1 s",
        prompt * 100.0
    );
}

/// Issue 24: the greeting and `/who` list 100 nicknames at most, then how many more: a line
/// stays short however large the room (before, 3,050 members of 20-byte nicknames made a
/// 67,150-byte greeting, over the 64 KiB a client accepts).
#[test]
fn the_greeting_of_a_large_room_lists_a_hundred_names_and_how_many_more() {
    let (_server, addr) = server(&[]);
    let mut members = Vec::new();
    for n in 0..120 {
        let (member, hello) = Member::join(addr, &format!("member-{n:013}"));
        assert!(hello.starts_with("* hello "), "{hello}");
        members.push(member);
    }
    let (mut last, hello) = Member::join(addr, "last");
    assert!(hello.len() < 4096, "a greeting of {} bytes", hello.len());
    assert!(
        hello.ends_with("member-0000000000099 and 20 more"),
        "{hello}"
    );
    last.say("/who");
    let who = last.line();
    assert!(
        who.starts_with("* here: last, member-0000000000000,"),
        "{who}"
    );
    assert!(who.ends_with("member-0000000000098 and 21 more"), "{who}");
}
