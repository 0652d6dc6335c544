//! Tests of `examples/02_echo_client.rs`, against echo servers the test itself runs, so that
//! what the client puts on the wire can be checked, and servers can misbehave on purpose.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use common::{TIMEOUT, closed_port_addr, run};

const EXAMPLE: &str = "02_echo_client";

/// How the test's server answers.
#[derive(Clone, Copy)]
enum Behaviour {
    Echo,
    /// Echo, but with byte number `n` of the stream flipped.
    FlipByte(usize),
    /// Echo the first `n` bytes, then close.
    CloseAfter(usize),
    /// Read everything, answer nothing.
    Silent,
    /// Answer the first read with these bytes instead of the echo, then nothing.
    Answer(&'static [u8]),
}

/// Serves one client with `behaviour` on `bind`; the receiver gets every byte the client sent.
fn one_client_server(
    bind: &str,
    behaviour: Behaviour,
) -> (SocketAddr, Receiver<Vec<u8>>) {
    let listener = TcpListener::bind(bind).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let start = received.len();
            received.extend_from_slice(&buf[..n]);
            let mut reply = buf[..n].to_vec();
            match behaviour {
                Behaviour::Echo => {}
                Behaviour::Silent => continue,
                Behaviour::Answer(answer) => {
                    if start == 0 {
                        let _ = stream.write_all(answer);
                    }
                    continue;
                }
                Behaviour::FlipByte(at) => {
                    if (start..start + n).contains(&at) {
                        reply[at - start] ^= 0xFF;
                    }
                }
                Behaviour::CloseAfter(limit) => {
                    reply.truncate(limit.saturating_sub(start));
                    if start + n >= limit {
                        let _ = stream.write_all(&reply);
                        break;
                    }
                }
            }
            if stream.write_all(&reply).is_err() {
                break;
            }
        }
        let _ = tx.send(received);
    });
    (addr, rx)
}

fn received(rx: Receiver<Vec<u8>>) -> Vec<u8> {
    rx.recv_timeout(TIMEOUT)
        .expect("the test server never finished")
}

#[test]
fn prints_each_echoed_message_and_sends_exactly_them() {
    let (addr, rx) = one_client_server("127.0.0.1:0", Behaviour::Echo);
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string(), "hello", "two words", "ünïcode"],
        b"",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, ["hello", "two words", "ünïcode"]);
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
    assert_eq!(received(rx), "hellotwo wordsünïcode".as_bytes());
}

#[test]
fn without_arguments_it_sends_stdin_lines() {
    let (addr, rx) = one_client_server("127.0.0.1:0", Behaviour::Echo);
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string()],
        b"first line\nsecond\n",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, ["first line", "second"]);
    assert_eq!(received(rx), b"first linesecond");
}

#[test]
fn size_sends_a_generated_payload_and_verifies_the_echo() {
    let (addr, rx) = one_client_server("127.0.0.1:0", Behaviour::Echo);
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string(), "--size", "1000000"],
        b"",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(
        done.stdout,
        ["sent 1000000 bytes, received 1000000 bytes: identical"]
    );
    let sent = received(rx);
    assert_eq!(sent.len(), 1_000_000);
    assert!(sent.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
}

#[test]
fn size_detects_a_corrupted_echo() {
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::FlipByte(123_456));
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string(), "--size", "1000000"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    assert!(
        done.stderr[0].contains(&format!("echo from {addr} differs at byte 123456")),
        "{:?}",
        done.stderr
    );
}

#[test]
fn a_corrupted_echo_of_a_big_payload_is_reported_as_such_at_once() {
    // Issue 11, item 11: with a payload far bigger than the socket buffers, the writer used to
    // go on after the reader had found the mismatch, block once the buffers were full, and the
    // client reported its write timeout ("cannot send … timed out") instead of the mismatch.
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::FlipByte(123_456));
    let done = run(
        EXAMPLE,
        &[
            "--addr",
            &addr.to_string(),
            "--size",
            "64000000",
            "--timeout",
            "4",
        ],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: echo from {addr} differs at byte 123456: sent {}, received {}",
            123_456 % 251,
            (123_456 % 251) ^ 0xFF
        )]
    );
    // The writer was stopped, not left to run into its 4-second timeout.
    assert!(
        done.elapsed < Duration::from_secs(3),
        "took {:?}",
        done.elapsed
    );
}

#[test]
fn size_detects_a_truncated_echo() {
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::CloseAfter(5000));
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string(), "--size", "1000000"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    // The client may notice while writing (a reset) or while reading (the early end);
    // either way the line names the server.
    assert!(done.stderr[0].starts_with("error: "), "{:?}", done.stderr);
    assert!(
        done.stderr[0].contains(&addr.to_string()),
        "{:?}",
        done.stderr
    );
}

#[test]
fn a_short_echo_of_a_message_is_an_error_not_a_short_line() {
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::CloseAfter(3));
    let done = run(EXAMPLE, &["--addr", &addr.to_string(), "hello"], b"");
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
    assert_eq!(
        done.stderr,
        [format!(
            "error: cannot read the echo from {addr}: connection closed before all data \
             arrived (the peer closed the connection early)"
        )]
    );
}

#[test]
fn a_wrong_echo_is_an_error_not_the_echo() {
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::Answer(b"HELLO"));
    let done = run(EXAMPLE, &["--addr", &addr.to_string(), "hello"], b"");
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
    assert_eq!(
        done.stderr,
        [format!(
            "error: {addr} echoed something else: sent \"hello\", received \"HELLO\""
        )]
    );
}

#[test]
fn escape_sequences_from_the_server_are_shown_not_obeyed() {
    // Clear the screen, retitle the window, return to column 0: 16 bytes, as many as sent.
    let answer: &[u8] = b"\x1b[2J\x1b]0;pwned\x07\rok";
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::Answer(answer));
    let message = "x".repeat(answer.len());
    let done = run(EXAMPLE, &["--addr", &addr.to_string(), &message], b"");
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: {addr} echoed something else: sent \"{message}\", received \
             \"\\u{{1b}}[2J\\u{{1b}}]0;pwned\\u{{7}}\\rok\""
        )]
    );
}

#[test]
fn a_refused_connection_is_one_line_naming_the_address() {
    let addr = closed_port_addr();
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string(), "--timeout", "5", "hi"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: cannot connect to {addr}: connection refused \
             (is the server running, and on this port?)"
        )]
    );
    assert!(
        done.elapsed < Duration::from_secs(5),
        "took {:?}",
        done.elapsed
    );
}

#[test]
fn a_silent_server_is_a_timeout_not_a_hang() {
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::Silent);
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string(), "--timeout", "1", "hi"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: cannot read the echo from {addr}: timed out (is the peer alive and reading?)"
        )]
    );
    assert!(
        done.elapsed < Duration::from_secs(5),
        "took {:?}",
        done.elapsed
    );
}

#[test]
fn single_thread_mode_deadlocks_on_a_big_payload_and_says_so() {
    let (addr, _rx) = one_client_server("127.0.0.1:0", Behaviour::Echo);
    // 64 MB is far more than loopback's send and receive buffers on both sides hold together.
    let done = run(
        EXAMPLE,
        &[
            "--addr",
            &addr.to_string(),
            "--size",
            "64000000",
            "--single-thread",
            "--timeout",
            "1",
        ],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    let line = &done.stderr[0];
    assert!(
        line.starts_with("error: deadlock (run without --single-thread): "),
        "{line}"
    );
    assert!(
        line.ends_with("timed out (is the peer alive and reading?)"),
        "{line}"
    );
}

#[test]
fn works_over_ipv6_loopback_where_the_machine_has_it() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let (addr, rx) = one_client_server("[::1]:0", Behaviour::Echo);
    let done = run(EXAMPLE, &["--addr", &addr.to_string(), "over", "ipv6"], b"");
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, ["over", "ipv6"]);
    assert_eq!(received(rx), b"overipv6");

    let closed = {
        let l = TcpListener::bind("[::1]:0").unwrap();
        l.local_addr().unwrap()
    };
    let refused = run(EXAMPLE, &["--addr", &closed.to_string(), "hi"], b"");
    assert_eq!(refused.code(), Some(1));
    assert_eq!(refused.stderr.len(), 1);
    assert!(
        refused.stderr[0]
            .contains(&format!("cannot connect to {closed}: connection refused"))
    );
}

#[test]
fn a_timeout_of_zero_is_a_bad_argument() {
    let done = run(EXAMPLE, &["--timeout", "0", "hi"], b"");
    assert_eq!(done.code(), Some(2), "{done:?}");
    assert!(
        done.stderr[0].contains("`0` is not a positive number of seconds"),
        "{:?}",
        done.stderr
    );
}
