//! Tests of `examples/10_udp_time_client.rs`: answers through lost datagrams, a closed port
//! and a silent server reported within the time budget, both formats decoded.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Proc, run};
use jiff::{Timestamp, ZonedDateTime};

const EXAMPLE: &str = "10_udp_time_client";
const SERVER: &str = "09_udp_time_server";

#[test]
fn prints_the_time_from_the_server() {
    let (_server, addr) = Proc::server(SERVER, &["--addr", "127.0.0.1:0"]);
    let done = run(EXAMPLE, &["--addr", &addr.to_string()], b"");
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout.len(), 1);
    assert!(
        done.stdout[0].contains(&ZonedDateTime::now().year().to_string()),
        "{:?}",
        done.stdout
    );
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
}

#[test]
fn decodes_rfc868_into_a_date_within_two_seconds() {
    let (_server, addr) =
        Proc::server(SERVER, &["--addr", "127.0.0.1:0", "--format", "rfc868"]);
    let done = run(
        EXAMPLE,
        &["--addr", &addr.to_string(), "--format", "rfc868"],
        b"",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    let line = &done.stdout[0];
    let seconds: i64 = line
        .split("(RFC 868: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no RFC 868 value in {line:?}"));
    let now_since_1900 =
        Timestamp::now().as_second() + socket_workbook::rfc868::SECONDS_1900_TO_1970;
    assert!((seconds - now_since_1900).abs() <= 2, "{line}");
    assert!(
        line.contains(&ZonedDateTime::now().year().to_string()),
        "{line}"
    );
}

#[test]
fn gets_an_answer_through_dropped_replies() {
    // With seed 6 the server drops its first reply and answers the second: deterministic,
    // since the server draws one random number per request.
    let args = ["--addr", "127.0.0.1:0", "--drop-rate", "0.5", "--seed", "6"];
    let (server, addr) = Proc::server(SERVER, &args);
    let client_args = [
        "--addr",
        &addr.to_string(),
        "--timeout",
        "0.2",
        "--retries",
        "5",
    ];
    let done = run(EXAMPLE, &client_args, b"");
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout.len(), 1);
    assert_eq!(
        done.stderr,
        ["no answer within 0.2 s, asking again (1 of 5 retries)"]
    );
    server.wait_for_line("dropped: ");
    server.wait_for_line("answered: ");
}

#[test]
fn a_closed_port_is_reported_at_once() {
    let closed = {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let started = Instant::now();
    let done = run(EXAMPLE, &["--addr", &closed.to_string()], b"");
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: no time server at {closed}: connection refused \
             (is the server running, and on this port?)"
        )]
    );
    // Within the time budget (1 + 2 + 4 + 8 s); in fact at once, thanks to ICMP.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_silent_server_is_given_up_on_after_the_sum_of_the_waits() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap(); // bound, never answers
    let addr = silent.local_addr().unwrap();
    let started = Instant::now();
    let args = [
        "--addr",
        &addr.to_string(),
        "--timeout",
        "0.2",
        "--retries",
        "2",
    ];
    let done = run(EXAMPLE, &args, b"");
    let took = started.elapsed();
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [
            "no answer within 0.2 s, asking again (1 of 2 retries)".to_string(),
            "no answer within 0.4 s, asking again (2 of 2 retries)".to_string(),
            format!(
                "error: no answer from {addr} after 3 attempts in 1.4 s (is the server running? \
                 are datagrams being lost?)"
            ),
        ]
    );
    // 0.2 + 0.4 + 0.8 s of waiting, plus a generous margin for a busy machine.
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    // The silent server did receive all three requests.
    silent
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    for _ in 0..3 {
        silent
            .recv_from(&mut [0u8; 16])
            .expect("a request never arrived");
    }
}

#[test]
fn a_text_client_against_an_rfc868_server_says_what_to_try() {
    // A stand-in RFC 868 server that always answers with the same instant, 2000-01-01, so that
    // the four bytes are known (0xBC17C200: not UTF-8, whatever the day).
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = fake.local_addr().unwrap();
    let answerer = std::thread::spawn(move || {
        fake.set_read_timeout(Some(common::TIMEOUT)).unwrap();
        let (_, peer) = fake.recv_from(&mut [0u8; 16]).unwrap();
        let y2k: Timestamp = "2000-01-01T00:00:00Z".parse().unwrap();
        fake.send_to(&socket_workbook::rfc868::encode(y2k), peer)
            .unwrap();
    });
    let done = run(EXAMPLE, &["--addr", &addr.to_string()], b"");
    answerer.join().unwrap();
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: {addr} sent 4 bytes that are not a line of text: try --format rfc868"
        )]
    );
}

/// A stand-in time server that answers one request with `reply`, whatever it is.
fn answers_once_with(
    reply: &'static [u8],
) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = fake.local_addr().unwrap();
    let answerer = std::thread::spawn(move || {
        fake.set_read_timeout(Some(common::TIMEOUT)).unwrap();
        let (_, peer) = fake.recv_from(&mut [0u8; 16]).unwrap();
        fake.send_to(reply, peer).unwrap();
    });
    (addr, answerer)
}

#[test]
fn a_text_reply_without_a_line_ending_is_printed() {
    // What a Python server sends with `sock.sendto(time.ctime().encode(), addr)`: 24 bytes, no
    // newline (issue 11, item 10: it used to be refused as "not a line of text").
    let (addr, answerer) = answers_once_with(b"Mon Nov 23 17:20:00 2026");
    let done = run(EXAMPLE, &["--addr", &addr.to_string()], b"");
    answerer.join().unwrap();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, ["Mon Nov 23 17:20:00 2026"]);
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
}

#[test]
fn a_text_reply_ending_in_crlf_is_printed_without_it() {
    // RFC 867 daytime servers often end their line with CR LF.
    let (addr, answerer) =
        answers_once_with(b"Monday, November 23, 2026 17:20:00-UTC\r\n");
    let done = run(EXAMPLE, &["--addr", &addr.to_string()], b"");
    answerer.join().unwrap();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, ["Monday, November 23, 2026 17:20:00-UTC"]);
}

#[test]
fn a_reply_with_control_characters_is_not_printed() {
    // An escape sequence (here: clear the screen) is not a time, and must not reach the
    // reader's terminal.
    let (addr, answerer) = answers_once_with(b"\x1b[2JMon Nov 23 17:20:00 2026\n");
    let done = run(EXAMPLE, &["--addr", &addr.to_string()], b"");
    answerer.join().unwrap();
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
    assert_eq!(
        done.stderr,
        [format!(
            "error: {addr} sent 29 bytes that are not a line of text: try --format rfc868"
        )]
    );
}

#[test]
fn four_bytes_that_happen_to_be_utf8_are_still_taken_for_rfc868() {
    // 0xEC 0x80 0x80 0x41 is valid UTF-8 ("\u{c000}A") and an RFC 868 value of 2025.
    let (addr, answerer) = answers_once_with(&[0xEC, 0x80, 0x80, 0x41]);
    let done = run(EXAMPLE, &["--addr", &addr.to_string()], b"");
    answerer.join().unwrap();
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: {addr} sent 4 bytes that are not a line of text: try --format rfc868"
        )]
    );
}

#[test]
fn an_oversized_reply_is_an_error_not_a_cut_line() {
    // 3,000 bytes do not fit the client's 2,048-byte buffer: Linux cuts the datagram to fit,
    // and a full buffer is how the client knows.
    static BIG: [u8; 3000] = [b'x'; 3000];
    let (addr, answerer) = answers_once_with(&BIG);
    let done = run(EXAMPLE, &["--addr", &addr.to_string()], b"");
    answerer.join().unwrap();
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
    assert_eq!(
        done.stderr,
        [format!("error: the reply from {addr} was too long")]
    );
}

#[test]
fn help_states_the_time_budget() {
    let help = run(EXAMPLE, &["--help"], b"");
    assert_eq!(help.code(), Some(0));
    assert!(
        help.stdout.join(" ").contains("1 + 2 + 4 + 8 = 15 s"),
        "{:?}",
        help.stdout
    );
}
