//! Tests of `examples/13_load_generator.rs`: against real servers it reports positive figures,
//! all verified; against deliberately broken echo servers (the test's own) it fails, saying why.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;

use common::{Proc, TIMEOUT, run};

const EXAMPLE: &str = "13_load_generator";

/// The value of `"key":` in a one-line JSON object (numbers and booleans).
fn field(json: &str, key: &str) -> String {
    let start = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + key.len()
        + 3;
    json[start..]
        .split([',', '}'])
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

#[test]
fn pingpong_against_the_threaded_server_reports_a_verified_positive_rate() {
    let (_server, addr) = Proc::server("04_threaded_server", &["--addr", "127.0.0.1:0"]);
    let args = [
        "pingpong",
        "--addr",
        &addr.to_string(),
        "--clients",
        "4",
        "--count",
        "50",
        "--json",
    ];
    let done = run(EXAMPLE, &args, b"");
    assert_eq!(done.code(), Some(0), "{done:?}");
    let json = &done.stdout[0];
    assert_eq!(field(json, "round_trips"), "200");
    assert!(
        field(json, "per_sec").parse::<f64>().unwrap() > 0.0,
        "{json}"
    );
    assert_eq!(field(json, "verified"), "true");
}

#[test]
fn stream_hold_and_framed_report_verified_figures() {
    let (_poll, addr) = Proc::server("08_poll_server", &["--addr", "127.0.0.1:0"]);
    let addr = addr.to_string();
    let stream = run(
        EXAMPLE,
        &[
            "stream",
            "--addr",
            &addr,
            "--connections",
            "2",
            "--secs",
            "0.5",
            "--json",
        ],
        b"",
    );
    assert_eq!(stream.code(), Some(0), "{stream:?}");
    assert!(
        field(&stream.stdout[0], "mb_per_sec")
            .parse::<f64>()
            .unwrap()
            > 0.0
    );

    let hold = run(
        EXAMPLE,
        &["hold", "--addr", &addr, "--connections", "300"],
        b"",
    );
    assert_eq!(hold.code(), Some(0), "{hold:?}");
    assert!(
        hold.stdout[0].starts_with("hold: 300 connections opened in "),
        "{:?}",
        hold.stdout
    );

    let (_framed, framed_addr) =
        Proc::server("12_framed_messages", &["server", "--addr", "127.0.0.1:0"]);
    let framed = run(
        EXAMPLE,
        &[
            "framed",
            "--addr",
            &framed_addr.to_string(),
            "--clients",
            "2",
            "--count",
            "20",
        ],
        b"",
    );
    assert_eq!(framed.code(), Some(0), "{framed:?}");
    assert!(
        framed.stdout[0].starts_with("framed: 2 client(s), 64-byte messages: 40 round trips"),
        "{:?}",
        framed.stdout
    );
}

/// A broken echo server: `flip` flips one byte of every 1000th read; otherwise it closes each
/// connection after its first read.
fn broken_server(flip: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                let mut buf = [0u8; 4096];
                let mut reads = 0u64;
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if !flip {
                        return; // drop the connection without echoing
                    }
                    reads += 1;
                    if reads % 1000 == 3 {
                        buf[n / 2] ^= 0x40;
                    }
                    if stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_server_that_flips_a_byte_fails_the_run() {
    let addr = broken_server(true);
    let done = run(
        EXAMPLE,
        &["pingpong", "--addr", &addr.to_string(), "--count", "20"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(
        done.stdout.is_empty(),
        "no figures for a failed run: {:?}",
        done.stdout
    );
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    assert!(
        done.stderr[0].starts_with("error: the run failed; no figures are reported: echo from "),
        "{:?}",
        done.stderr
    );
    assert!(
        done.stderr[0].contains("differs at byte 32 (client 0, round 2)"),
        "{:?}",
        done.stderr
    );
}

#[test]
fn a_server_that_drops_the_connection_fails_the_run() {
    let addr = broken_server(false);
    let done = run(
        EXAMPLE,
        &["pingpong", "--addr", &addr.to_string(), "--count", "20"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty());
    assert!(
        done.stderr[0].contains(&format!("{addr} closed the connection (client 0, round 0)")),
        "{:?}",
        done.stderr
    );
}
