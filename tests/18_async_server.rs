//! Tests of `examples/18_async_server.rs`: the echo server verified byte for byte, a thousand
//! held connections, the idle timeout, a blocking call that stalls the worker and
//! `spawn_blocking` that does not, the chat room's exchange, flood, silent and hostile members,
//! Ctrl-C with clients connected, and a port in use.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Member, Proc, TIMEOUT, connect, echo, pattern};
use socket2::{Domain, Socket, Type};

const EXAMPLE: &str = "18_async_server";

fn echo_server(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args = vec!["echo", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Proc::server(EXAMPLE, &args)
}

fn chat_server(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args = vec!["chat", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Proc::server(EXAMPLE, &args)
}

#[test]
fn echoes_a_large_payload_byte_for_byte() {
    let (server, addr) = echo_server(&[]);
    let stream = connect(addr);
    // Written by one thread while this one reads, so neither side's buffers can deadlock
    // (chapter 02's big-payload lesson).
    let payload = pattern(4 * 1024 * 1024);
    let sent = payload.clone();
    let mut writer = stream.try_clone().unwrap();
    let writing = thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    (&stream).read_to_end(&mut back).unwrap();
    writing.join().unwrap();
    assert!(
        back == payload,
        "echo differs ({} of {} bytes back)",
        back.len(),
        payload.len()
    );
    server.wait_for_line(&format!("disconnected: {}", stream.local_addr().unwrap()));
    server.wait_for_line(&format!("({} bytes echoed)", payload.len()));
}

#[cfg(unix)]
#[test]
fn holds_a_thousand_connections_and_echoes_on_each() {
    const COUNT: usize = 1000;
    let limit = common::raise_fd_limit(4096);
    if limit < 2 * COUNT as u64 + 64 {
        eprintln!(
            "skipped: the descriptor limit is {limit}, too low for {COUNT} connections"
        );
        return;
    }
    // The server inherits our raised limit.
    let (server, addr) = echo_server(&[]);
    let mut streams: Vec<TcpStream> = (0..COUNT).map(|_| connect(addr)).collect();
    server.wait_for_line(&format!("({COUNT} active)"));
    // Every connection still answers, each with a message of its own.
    for (i, stream) in streams.iter_mut().enumerate() {
        let message = format!("connection {i}");
        assert_eq!(echo(stream, message.as_bytes()), message.as_bytes());
    }
    #[cfg(target_os = "linux")]
    {
        let threads = common::thread_count(server.pid());
        assert!(
            threads < 16,
            "{threads} threads for {COUNT} connections: not a task each?"
        );
    }
}

#[test]
fn closes_a_silent_client_after_the_idle_timeout() {
    let (server, addr) = echo_server(&["--idle-timeout", "0.5"]);
    let mut silent = connect(addr);
    let started = Instant::now();
    let mut rest = Vec::new();
    silent.read_to_end(&mut rest).expect("not closed cleanly");
    assert!(rest.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.wait_for_line("idle: closed");
}

#[test]
fn a_client_that_never_reads_stalls_no_one() {
    let (server, addr) = echo_server(&["--idle-timeout", "2"]);
    common::assert_a_client_that_never_reads_stalls_no_one(&server, addr);
}

/// Two clients connect at once to a server with one worker thread and one second of blocking
/// work per connection: how long until both have their echo?
fn two_clients_at_once(extra: &[&str]) -> Duration {
    let mut args = vec!["--workers", "1", "--blocking-work", "1"];
    args.extend_from_slice(extra);
    let (_server, addr) = echo_server(&args);
    let started = Instant::now();
    let clients: Vec<_> = (0..2)
        .map(|i| {
            thread::spawn(move || {
                let mut stream = connect(addr);
                let message = format!("client {i}");
                assert_eq!(echo(&mut stream, message.as_bytes()), message.as_bytes());
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    started.elapsed()
}

#[test]
fn a_trickler_stalls_no_one() {
    let (_server, addr) = echo_server(&[]);
    common::assert_a_trickler_stalls_no_one(addr);
}

#[test]
fn a_large_stream_echoes_intact_in_little_memory() {
    let (server, addr) = echo_server(&[]);
    common::assert_a_large_stream_echoes_intact(&server, addr, 16 << 20);
}

#[test]
fn end_of_stream_mid_message_gets_the_half_back() {
    let (_server, addr) = echo_server(&[]);
    common::assert_eof_mid_message_gets_the_half_back(addr);
}

#[test]
fn a_client_that_resets_mid_message_leaves_the_others_undisturbed() {
    let (server, addr) = echo_server(&[]);
    let rude = common::assert_a_reset_mid_message_disturbs_no_one(&server, addr);
    // One line on stdout says it went; an error, if the server met the reset, is one line.
    assert!(server.stderr().len() <= 1, "{:?}", server.stderr());
    assert!(
        server
            .stderr()
            .iter()
            .all(|l| l.contains(&rude.to_string()))
    );
}

/// Out of file descriptors, `accept` fails at once for as long as clients wait in the backlog:
/// the server neither spins nor floods its terminal, and serves them once descriptors free up.
#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_it_stays_cheap_and_recovers_when_clients_leave() {
    let (server, addr) = echo_server(&[]);
    let mut held: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for client in &mut held {
        assert_eq!(echo(client, b"held"), b"held");
    }
    common::exhaust_fds(server.pid(), 0);
    common::assert_cheap_while_out_of_fds_then_recovers(&server, addr, move || {
        drop(held)
    });
}

/// Ctrl-C while a client is still sending ends its stream in order, not with a reset.
#[cfg(unix)]
#[test]
fn ctrl_c_with_a_client_sending_ends_its_stream_in_order() {
    let (server, addr) = echo_server(&[]);
    common::assert_ctrl_c_with_a_client_sending_ends_in_order(server, addr);
}

#[test]
fn blocking_inside_a_task_stalls_the_worker_and_spawn_blocking_does_not() {
    let inline = two_clients_at_once(&["--inline"]);
    let fixed = two_clients_at_once(&[]);
    eprintln!(
        "two clients, 1 s of blocking work each: inline {inline:?}, spawn_blocking {fixed:?}"
    );
    // Inline, the one worker does the two seconds one after the other; on spawn_blocking's
    // threads they overlap. Generous margins for a busy machine: the difference is what counts.
    assert!(
        inline >= Duration::from_millis(1900),
        "inline took only {inline:?}"
    );
    assert!(
        inline >= fixed + Duration::from_millis(600),
        "inline {inline:?} vs spawn_blocking {fixed:?}"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_with_clients_connected_exits_cleanly_within_a_second_or_so() {
    let (server, addr) = echo_server(&[]);
    let done = common::assert_ctrl_c_closes_three_clients(server, addr, "(3 active)");
    assert!(
        done.stdout
            .iter()
            .any(|l| l.starts_with("shutting down: done")),
        "{done:?}"
    );
}

#[test]
fn refuses_a_port_in_use_with_one_line() {
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["echo"]);
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["chat"]);
}

#[test]
fn chat_members_see_each_others_messages_in_order_with_notices() {
    let (_server, addr) = chat_server(&[]);
    let (mut ada, hello) = Member::join(addr, "ada");
    assert_eq!(hello, "* hello ada; here: nobody yet");
    let (mut bob, hello) = Member::join(addr, "bob");
    assert_eq!(hello, "* hello bob; here: ada");
    assert_eq!(ada.line(), "* bob joined");
    for n in 0..20 {
        ada.say(&format!("message {n}"));
    }
    for n in 0..20 {
        assert_eq!(bob.line(), format!("ada: message {n}"));
    }
    bob.say("/who");
    assert_eq!(bob.line(), "* here: ada, bob");
    bob.say("/dance");
    assert_eq!(bob.line(), "* commands: /who, /quit");
    let (mut taken, answer) = Member::join(addr, "ada");
    assert_eq!(answer, "* nickname ada is taken");
    assert!(taken.closed());
    bob.say("/quit");
    assert!(bob.closed(), "/quit must close the connection");
    assert_eq!(ada.line(), "* bob left");
}

#[test]
fn control_characters_reach_nobody_raw() {
    let (_server, addr) = chat_server(&[]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (mut mallory, _) = Member::join(addr, "mallory");
    assert_eq!(ada.line(), "* mallory joined");
    mallory.say("x\r\x1b[2Kbob: send me your password\x07\u{9b}");
    let line = ada.line();
    assert_eq!(
        line,
        r"mallory: x\r\u{1b}[2Kbob: send me your password\u{7}\u{9b}"
    );
    assert!(!line.chars().any(char::is_control), "{line:?}");
}

#[test]
fn a_member_that_floods_costs_a_reading_member_nothing() {
    let (_server, addr) = chat_server(&["--stall-timeout", "3"]);
    let (mut reader, _) = Member::join(addr, "reader");
    let (mut flooder, _) = Member::join(addr, "flooder");
    assert_eq!(reader.line(), "* flooder joined");
    const LINES: usize = 20_000;
    let body = "y".repeat(990);
    let text = body.clone();
    let reading = thread::spawn(move || {
        for n in 0..LINES {
            assert_eq!(reader.line(), format!("flooder: {n:05} {text}"), "line {n}");
        }
        reader
    });
    // As fast as it can, never reading: its own socket's buffers may fill, which is its business.
    let mut all = Vec::with_capacity(LINES * 1000);
    for n in 0..LINES {
        all.extend_from_slice(format!("{n:05} {body}\n").as_bytes());
    }
    flooder.stream.write_all(&all).unwrap();
    let _reader = reading.join().expect("the reading member lost lines");
}

#[test]
fn a_member_that_never_reads_is_dropped_while_the_room_goes_on() {
    let (server, addr) = chat_server(&["--stall-timeout", "1", "--outbox", "16"]);
    // The hog reads nothing, through a small receive buffer (no autotuning).
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
    let text = "z".repeat(900);
    let expected = text.clone();
    let listening = thread::spawn(move || {
        let mut notices = Vec::new();
        let mut n = 0;
        while n < 2000 {
            let line = listener.line();
            if line.starts_with('*') {
                notices.push(line);
                continue;
            }
            assert_eq!(line, format!("talker: {n:04} {expected}"));
            n += 1;
        }
        // The notice may come after the last line: the hog is dropped when its writer has
        // made no progress for a second, whenever that falls.
        while notices.is_empty() {
            notices.push(listener.line());
        }
        notices
    });
    for n in 0..2000 {
        talker.say(&format!("{n:04} {text}"));
    }
    let notices = listening.join().unwrap();
    assert_eq!(notices, ["* hog was disconnected (not reading)"]);
    server.wait_for_line("dropped: hog");
}

#[test]
fn a_connection_that_never_names_itself_is_closed() {
    let (server, addr) = chat_server(&["--nick-timeout", "0.5"]);
    let mut silent = connect(addr);
    let mut rest = String::new();
    silent
        .read_to_string(&mut rest)
        .expect("not closed cleanly");
    assert_eq!(rest, "* welcome! your nickname?\n");
    server.wait_for_line("refused:");
}

#[test]
fn overlong_and_invalid_lines_follow_chapter_14s_rules() {
    let (_server, addr) = chat_server(&["--max-line", "64"]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (mut bob, _) = Member::join(addr, "bob");
    assert_eq!(ada.line(), "* bob joined");
    bob.stream.write_all(b"\xff\xfe\n").unwrap();
    assert_eq!(
        bob.line(),
        "* your line was not valid UTF-8 and was not sent"
    );
    bob.say(&"w".repeat(200));
    assert_eq!(bob.line(), "* line longer than 64 bytes: disconnected");
    assert!(bob.closed());
    assert_eq!(ada.line(), "* bob was disconnected (line too long)");
}

#[cfg(unix)]
#[test]
fn ctrl_c_tells_the_room_and_exits_cleanly() {
    let (server, addr) = chat_server(&[]);
    let (mut ada, _) = Member::join(addr, "ada");
    let (mut bob, _) = Member::join(addr, "bob");
    assert_eq!(ada.line(), "* bob joined");
    let started = Instant::now();
    server.sigint();
    for member in [&mut ada, &mut bob] {
        assert_eq!(member.line(), "* server shutting down");
        assert!(member.closed());
    }
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Issue 24: fresh members that never read, one a second, while a flooder keeps the room busy:
/// an honest talker's lines still reach an honest reader, all of them, promptly. (Before: each
/// newcomer held every sender for up to the stall timeout, again and again.)
#[test]
fn a_stream_of_fresh_non_readers_does_not_freeze_the_room() {
    let (_server, addr) = chat_server(&["--stall-timeout", "4"]);
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

/// Issue 22: the member's writer starts before the member joins (chapter 14's rule). When the
/// greeting was queued only after joining, with no writer yet, a one-line outbox filled by a
/// busy room left the newcomer waiting for ever on its own greeting, and every sender waiting
/// on the newcomer: the room froze. Newcomers join a flooded room with `--outbox 1`.
#[test]
fn newcomers_to_a_busy_room_with_a_one_line_outbox_are_greeted_and_the_room_goes_on() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (_server, addr) = chat_server(&["--outbox", "1"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooding = Vec::new();
    for f in 0..4 {
        let (mut flooder, _) = Member::join(addr, &format!("flooder{f}"));
        let mut out = flooder.stream.try_clone().unwrap();
        let stop = Arc::clone(&stop);
        flooding.push(thread::spawn(move || {
            let batch = "hello, room\n".repeat(50);
            while !stop.load(Ordering::Relaxed)
                && out.write_all(batch.as_bytes()).is_ok()
            {}
        }));
        thread::spawn(move || {
            let mut line = String::new();
            while flooder.lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        });
    }
    let started = Instant::now();
    for n in 0..40 {
        let (mut member, hello) = Member::join(addr, &format!("newcomer{n}"));
        assert!(
            hello.starts_with(&format!("* hello newcomer{n}; here: ")),
            "{hello}"
        );
        // and the room still flows to it
        while !member.line().starts_with("flooder") {}
    }
    stop.store(true, Ordering::Relaxed);
    for flooder in flooding {
        let _ = flooder.join();
    }
    // A member that leaves holds nobody up: no sender waits on a closed outbox.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(12), "{took:?}");
}

/// Issue 24: kernel buffers are memory too (see chapter 07's test of the same name).
#[cfg(target_os = "linux")]
#[test]
fn a_client_that_never_reads_holds_a_bounded_kernel_send_buffer() {
    let (_server, addr) = echo_server(&[]);
    let queued =
        common::server_send_queue_for_a_client_that_never_reads(addr, &[7u8; 65536]);
    eprintln!("{queued} bytes queued in the server's send buffer");
    assert!(queued <= 256 * 1024, "{queued} bytes queued");
}

/// Issue 24: buffers that grow must shrink (see chapter 04's test of the same name).
#[cfg(target_os = "linux")]
#[test]
fn an_idle_connection_gives_the_big_buffer_back_after_a_big_message() {
    let (server, addr) = echo_server(&[]);
    for size in [4096, 100_000] {
        let kib = common::rss_kib_per_idle_connection_after_a_message(
            server.pid(),
            addr,
            200,
            size,
        );
        eprintln!("{size}-byte message: {kib} KiB per idle connection");
        assert!(
            kib < 100,
            "{kib} KiB per idle connection after {size} bytes"
        );
    }
}

/// Issue 24: rooms that grow. 500 members with 20-byte nicknames join (each reads its
/// greeting, then nothing more): the server's memory grows modestly, and the greeting of the
/// next one lists 100 names and how many more, far below the 64 KiB line that chapter 14's
/// client accepts (3,050 such members made a 67,150-byte greeting before).
#[cfg(target_os = "linux")]
#[test]
fn a_large_room_costs_little_memory_and_its_greeting_stays_short() {
    common::raise_fd_limit(4096);
    let (server, addr) = chat_server(&[]);
    let start = common::rss_kib(server.pid());
    let mut members = Vec::new();
    for n in 0..500 {
        let (member, hello) = Member::join(addr, &format!("member-{n:013}"));
        assert!(hello.starts_with("* hello "), "{hello}");
        members.push(member);
    }
    let (mut last, hello) = Member::join(addr, "last");
    last.say("/who");
    let who = last.line();
    thread::sleep(Duration::from_millis(500));
    let grown = common::rss_kib(server.pid()) - start;
    eprintln!(
        "500 members: {grown} KiB ({} KiB each); a greeting of {} bytes",
        grown / 500,
        hello.len()
    );
    assert!(hello.len() < 4096, "a greeting of {} bytes", hello.len());
    assert!(hello.ends_with(" and 400 more"), "{hello}");
    assert!(
        who.starts_with("* here: last, member-0000000000000,"),
        "{who}"
    );
    assert!(who.ends_with(" and 401 more"), "{who}");
    assert!(grown < 20 * 1024, "500 members cost {grown} KiB");
}
