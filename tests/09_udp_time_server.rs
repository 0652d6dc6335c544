//! Tests of `examples/09_udp_time_server.rs`: real datagrams in, the time out, in both formats;
//! oversized requests ignored by the rule; many clients at once; Ctrl-C.

mod common;

use std::time::{Duration, Instant};

use common::{Proc, TIMEOUT, udp_client};
use jiff::{Timestamp, ZonedDateTime};
use socket_workbook::rfc868;

const EXAMPLE: &str = "09_udp_time_server";

#[test]
fn the_text_reply_is_the_local_time_with_the_current_year() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let client = udp_client(addr);
    client.send(b"what time is it?").unwrap();
    let mut buf = [0u8; 512];
    let n = client.recv(&mut buf).unwrap();
    let reply = std::str::from_utf8(&buf[..n]).unwrap();
    let year = ZonedDateTime::now().year().to_string();
    assert!(reply.ends_with('\n'), "{reply:?}");
    assert!(reply.contains(&year), "{reply:?} lacks the year {year}");
    let line = server.wait_for_line("answered: ");
    let me = client.local_addr().unwrap();
    assert_eq!(line, format!("answered: {me} (16 bytes in, {n} out)"));
}

#[test]
fn the_rfc868_reply_is_within_two_seconds_of_the_clock() {
    let (_server, addr) =
        Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0", "--format", "rfc868"]);
    let client = udp_client(addr);
    client.send(&[]).unwrap(); // RFC 868 clients send an empty datagram
    let mut buf = [0u8; 16];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(n, 4, "RFC 868 replies are 4 bytes");
    let told = rfc868::decode(buf[..4].try_into().unwrap());
    let drift = (told.as_second() - Timestamp::now().as_second()).abs();
    assert!(drift <= 2, "the server's time is {drift} s off");
}

#[test]
fn an_oversized_datagram_is_ignored_by_the_rule_and_the_server_goes_on() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let client = udp_client(addr);
    client.send(&[b'x'; 2000]).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 512];
    assert!(
        client.recv(&mut buf).is_err(),
        "an oversized request must not be answered"
    );
    let me = client.local_addr().unwrap();
    assert_eq!(
        server.wait_for_line("ignored: "),
        format!("ignored: {me} sent over 512 bytes")
    );
    // Still answering, the same client included.
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    client.send(b"").unwrap();
    assert!(client.recv(&mut buf).unwrap() > 0);
    // Exactly at the limit is fine.
    client.send(&[b'y'; 512]).unwrap();
    assert!(client.recv(&mut buf).unwrap() > 0);
}

#[test]
fn fifty_clients_at_once_all_get_answers() {
    let (_server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0", "--quiet"]);
    let clients: Vec<_> = (0..50).map(|_| udp_client(addr)).collect();
    for client in &clients {
        client.send(b"").unwrap();
    }
    let mut buf = [0u8; 512];
    for client in &clients {
        let n = client.recv(&mut buf).expect("a client got no answer");
        assert!(std::str::from_utf8(&buf[..n]).unwrap().ends_with('\n'));
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_exits_0_within_a_second() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let client = udp_client(addr);
    client.send(b"").unwrap();
    client.recv(&mut [0u8; 64]).unwrap();
    server.wait_for_line("answered: ");
    let started = Instant::now();
    server.sigint();
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        done.stdout.last().unwrap(),
        "shutting down: answered 1, dropped 0, ignored 0"
    );
}

#[cfg(unix)]
#[test]
fn quiet_prints_no_line_per_oversized_datagram_only_the_count() {
    // Issue 11, item 13: under a flood of oversized datagrams, --quiet used to print one
    // "ignored:" line each.
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0", "--quiet"]);
    let client = udp_client(addr);
    let mut buf = [0u8; 512];
    for _ in 0..5 {
        for _ in 0..20 {
            client.send(&[b'x'; 2000]).unwrap();
        }
        // Answered only after the server has read the 20 before it: nothing is still queued,
        // and the receive buffer never holds more than 20 (so none is lost).
        client.send(b"").unwrap();
        client.recv(&mut buf).expect("the server stopped answering");
    }
    server.sigint();
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(
        done.stdout,
        [
            format!("listening on {addr}"),
            "shutting down: answered 5, dropped 0, ignored 100".to_string()
        ]
    );
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
}

#[cfg(unix)]
#[test]
fn ctrl_c_under_a_flood_exits_0_within_a_second() {
    // Two threads send requests as fast as they can and never read the answers; Ctrl-C
    // must still be noticed (the loop looks at the flag after every datagram, not only on
    // the 200 ms timeout).
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0", "--quiet"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooders: Vec<_> = (0..2)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let socket = udp_client(addr);
                let mut sent = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if socket.send(b"").is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    server.sigint();
    let done = server.wait(TIMEOUT);
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent: u64 = flooders.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let last = done.stdout.last().unwrap();
    assert!(last.starts_with("shutting down: answered "), "{last}");
    assert!(sent > 1000, "the flood was only {sent} datagrams");
}

#[test]
fn a_drop_rate_outside_0_to_1_is_a_bad_argument() {
    let done = common::run(EXAMPLE, &["--drop-rate", "2"], b"");
    assert_eq!(done.code(), Some(2), "{done:?}");
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use(EXAMPLE);
}

/// Not a test but a measurement: requests per second on loopback, one client thread per
/// socket, each waiting for its answer before the next request.
///
/// ```text
/// cargo test --release --test 09_udp_time_server -- --ignored --nocapture measure
/// ```
#[test]
#[ignore = "a measurement; run it explicitly"]
fn measure_requests_per_second() {
    for format in ["text", "rfc868"] {
        for clients in [1usize, 4] {
            let args = ["--addr", "127.0.0.1:0", "--quiet", "--format", format];
            let (_server, addr) = Proc::server(EXAMPLE, &args);
            let per_client = 20_000;
            let started = Instant::now();
            let threads: Vec<_> = (0..clients)
                .map(|_| {
                    std::thread::spawn(move || {
                        let socket = udp_client(addr);
                        socket
                            .set_read_timeout(Some(Duration::from_millis(200)))
                            .unwrap();
                        let mut buf = [0u8; 64];
                        let mut lost = 0;
                        for _ in 0..per_client {
                            socket.send(b"").unwrap();
                            if socket.recv(&mut buf).is_err() {
                                lost += 1;
                            }
                        }
                        lost
                    })
                })
                .collect();
            let lost: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            let total = clients * per_client;
            let took = started.elapsed().as_secs_f64();
            println!(
                "--format {format}, {clients} client(s): {total} requests in {took:.2} s = {:.0} requests/s ({lost} unanswered)",
                total as f64 / took
            );
        }
    }
}

/// Issue 24 (Loop DoS, CVE-2024-2169): what a time server answers must never be a request it
/// answers. Its own answers, in both formats, sent back to it from an ordinary client port,
/// are ignored with a log line; a real request right after is answered.
#[test]
fn answers_sent_back_are_ignored_so_two_servers_cannot_loop() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let (_rfc, rfc_addr) =
        Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0", "--format", "rfc868"]);
    let mut answers = Vec::new();
    for to in [addr, rfc_addr] {
        let client = udp_client(to);
        client.send(b"").unwrap();
        let mut buf = [0u8; 512];
        let n = client.recv(&mut buf).unwrap();
        answers.push(buf[..n].to_vec());
    }
    let client = udp_client(addr);
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let me = client.local_addr().unwrap();
    for answer in &answers {
        client.send(answer).unwrap();
        let mut buf = [0u8; 512];
        let got = client.recv(&mut buf);
        assert!(
            got.is_err(),
            "an answer was answered: {got:?} for {answer:?}"
        );
    }
    let ignored: Vec<String> = server
        .stdout()
        .into_iter()
        .filter(|line| line.starts_with(&format!("ignored: {me} ")))
        .collect();
    assert_eq!(
        ignored,
        vec![
            format!(
                "ignored: {me} sent what looks like a time server's answer: no loop"
            );
            2
        ]
    );
    client.send(b"and now the time, please").unwrap();
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert!(client.recv(&mut [0u8; 512]).unwrap() > 20);
}

/// Sends a UDP datagram to `to` that claims to come from `from`'s port on 127.0.0.1, through a
/// raw socket (the kernel adds the IP header, from 127.0.0.1): how an attacker forges a source.
/// `None` without the privilege (CAP_NET_RAW) to open one.
#[cfg(target_os = "linux")]
fn forge(from_port: u16, to: std::net::SocketAddr, payload: &[u8]) -> Option<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP)).ok()?;
    let mut packet = Vec::new();
    packet.extend_from_slice(&from_port.to_be_bytes());
    packet.extend_from_slice(&to.port().to_be_bytes());
    packet.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]); // no checksum (allowed for UDP over IPv4)
    packet.extend_from_slice(payload);
    raw.send_to(&packet, &to.into()).unwrap();
    Some(())
}

/// Issue 24: forged requests. One "from" the server itself would make it answer itself for
/// ever (100 % of a core); one "from" a second server would make the two answer each other
/// for ever; one "from" port 37 or 7 would start a loop with a time or echo service. Each is
/// answered at most once, and the servers are idle a second later. Needs CAP_NET_RAW (root)
/// to forge; says so and checks nothing without it.
#[cfg(target_os = "linux")]
#[test]
fn forged_requests_from_itself_another_server_or_a_service_port_start_no_loop() {
    let (a, a_addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let (b, b_addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    if forge(a_addr.port(), a_addr, b"").is_none() {
        eprintln!("skipped: forging a source address needs CAP_NET_RAW");
        return;
    }
    forge(b_addr.port(), a_addr, b"").unwrap(); // a answers b, b must not answer a
    forge(37, a_addr, b"").unwrap();
    forge(7, b_addr, b"").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let before = (common::cpu_ticks(a.pid()), common::cpu_ticks(b.pid()));
    std::thread::sleep(Duration::from_secs(1));
    let after = (common::cpu_ticks(a.pid()), common::cpu_ticks(b.pid()));
    let spent = (after.0 - before.0, after.1 - before.1);
    let count = |server: &Proc, what: &str| {
        server
            .stdout()
            .iter()
            .filter(|l| l.starts_with(what))
            .count()
    };
    let answered = (count(&a, "answered: "), count(&b, "answered: "));
    assert!(spent.0 < 20 && spent.1 < 20, "CPU ticks in 1 s: {spent:?}");
    assert_eq!(answered, (1, 0), "answers (a, b): {answered:?}");
    a.wait_for_line(&format!(
        "ignored: {a_addr} is our own address (a forged request that would loop)"
    ));
    a.wait_for_line("ignored: 127.0.0.1:37 sent from a service's port (below 1024)");
    b.wait_for_line("ignored: 127.0.0.1:7 sent from a service's port (below 1024)");
    b.wait_for_line(&format!(
        "ignored: {a_addr} sent what looks like a time server's answer: no loop"
    ));
}
