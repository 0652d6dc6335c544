//! Tests of `examples/01_echo_server.rs`: one client, echoed byte for byte, then exit 0.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;

use common::{Proc, TIMEOUT, connect, echo, pattern};

const EXAMPLE: &str = "01_echo_server";

#[test]
fn echoes_a_short_message_then_exits_after_its_one_client() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut client = connect(addr);
    assert_eq!(echo(&mut client, b"hello"), b"hello");
    assert_eq!(echo(&mut client, b"and again"), b"and again");
    let client_addr = client.local_addr().unwrap();
    drop(client);

    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(
        done.stdout,
        [
            format!("listening on {addr}"),
            format!("connected: {client_addr}"),
            format!("disconnected: {client_addr} (14 bytes echoed)"),
        ]
    );
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
}

#[test]
fn echoes_4_mib_byte_for_byte() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let payload = pattern(4 << 20);
    let mut client = connect(addr);

    // Write on a second thread while this one reads: 4 MiB is more than the socket buffers
    // hold, so writing it all before reading would deadlock (chapter 02).
    let mut writer = client.try_clone().unwrap();
    let to_send = payload.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&to_send).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::with_capacity(payload.len());
    client.read_to_end(&mut back).unwrap();
    sender.join().unwrap();

    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "the echo differs from what was sent");
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0));
    assert!(
        done.stdout[2].ends_with("(4194304 bytes echoed)"),
        "{:?}",
        done.stdout
    );
}

#[test]
fn a_client_that_resets_is_one_error_line_and_exit_1() {
    // The chapter's "the client vanishes": the client closes with the echo still unread, so
    // its kernel answers with a reset instead of a FIN, and the server's next read fails.
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut client = connect(addr);
    client.write_all(b"never read back").unwrap();
    // Wait until the echo sits in our receive buffer, unread: closing now sends a reset.
    let mut peeked = [0u8; 15];
    while client.peek(&mut peeked).unwrap() < peeked.len() {
        thread::yield_now();
    }
    let client_addr = client.local_addr().unwrap();
    drop(client);

    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: cannot read from {client_addr}: connection reset by peer \
             (the peer closed the connection abruptly)"
        )]
    );
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use(EXAMPLE);
}

#[test]
fn help_works_and_bad_arguments_exit_2() {
    let help = common::run(EXAMPLE, &["--help"], b"");
    assert_eq!(help.code(), Some(0));
    assert!(
        help.stdout.iter().any(|l| l.contains("--addr <ADDR>")),
        "{:?}",
        help.stdout
    );

    let bad = common::run(EXAMPLE, &["--addr", "not-an-address"], b"");
    assert_eq!(bad.code(), Some(2));
    assert!(
        bad.stderr
            .join("\n")
            .contains("invalid value 'not-an-address'")
    );
}
