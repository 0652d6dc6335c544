//! Tests of `examples/14_chat_room.rs`: broadcast in order with join and leave notices; a
//! client that stops reading is dropped while the room goes on; the rules for nicknames,
//! overlong lines and invalid UTF-8.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, TIMEOUT, connect};
use socket2::{Domain, Socket, Type};

const EXAMPLE: &str = "14_chat_room";

fn server(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args = vec!["server", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Proc::server(EXAMPLE, &args)
}

/// A chat member speaking the line protocol, as `nc` would.
struct Member {
    stream: TcpStream,
    lines: BufReader<TcpStream>,
}

impl Member {
    fn join(addr: SocketAddr, nick: &str) -> (Member, String) {
        Member::join_on(connect(addr), nick)
    }

    fn join_on(stream: TcpStream, nick: &str) -> (Member, String) {
        let mut member = Member {
            lines: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        assert_eq!(member.line(), "* welcome! your nickname?");
        member.say(nick);
        let answer = member.line();
        (member, answer)
    }

    fn say(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines
            .read_line(&mut line)
            .expect("no line from the server");
        line.trim_end_matches('\n').to_string()
    }

    fn closed(&mut self) -> bool {
        let mut rest = String::new();
        matches!(self.lines.read_line(&mut rest), Ok(0))
    }
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
    let (server, addr) = server(&[]);
    // The hog reads nothing, through a small receive buffer (SO_RCVBUF turns off Linux's
    // autotuning, which would let it soak up megabytes first).
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.set_write_timeout(Some(TIMEOUT)).unwrap();
    let (_hog, hello) = Member::join_on(socket.into(), "hog");
    assert!(hello.starts_with("* hello hog"));

    let (mut listener, _) = Member::join(addr, "listener");
    let (mut talker, _) = Member::join(addr, "talker");
    assert_eq!(listener.line(), "* talker joined");
    const LINES: usize = 3000;
    const BATCH: usize = 100;
    // The listener tells the talker how far it has read, so that the talker never gets more
    // than a batch ahead of it: the listener is a *fast* reader and must never be dropped.
    let (progress, caught_up) = std::sync::mpsc::channel();
    let reading = thread::spawn(move || {
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
            if n % BATCH == 0 {
                let _ = progress.send(n);
            }
        }
        notices
    });
    let started = Instant::now();
    for n in 0..LINES {
        talker.say(&format!("{n:04} {}", "x".repeat(480)));
        if (n + 1) % BATCH == 0 && n + 1 > BATCH {
            // Wait until the listener has read the batch before the last one.
            while caught_up
                .recv_timeout(TIMEOUT)
                .expect("the listener stopped")
                < n + 1 - BATCH
            {}
        }
    }
    let notices = reading.join().expect("the listener missed messages");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        notices.contains(&"* hog was disconnected (not reading)".to_string()),
        "{notices:?}"
    );
    server.wait_for_line("dropped: hog (its outbox was full: it stopped reading)");
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
