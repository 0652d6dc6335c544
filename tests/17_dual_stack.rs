//! Tests of `examples/17_dual_stack.rs`: a dual-stack server sees an IPv4 client as
//! `::ffff:127.0.0.1` and an IPv6 client as `::1` (skipped where there is no IPv6 loopback);
//! with IPV6_V6ONLY it refuses IPv4; the client falls back to the second of two addresses, in
//! turn or Happy Eyeballs style; and every failure is one line and exit code 1. No test needs a
//! network: names are `.invalid` (RFC 6761), addresses are loopback.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Finished, Proc, TIMEOUT, closed_port_addr, connect};

const EXAMPLE: &str = "17_dual_stack";

/// Whether this machine has an IPv6 loopback; prints why a test is skipped when not.
fn ipv6_loopback(test: &str) -> bool {
    match TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(err) => {
            println!("skipped {test}: no IPv6 loopback here (binding [::1]:0: {err})");
            false
        }
    }
}

/// The line the server sends: the client's address as the server sees it.
fn line_from(stream: &mut TcpStream) -> String {
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .expect("the server's line never ended");
    text
}

fn client(args: &[&str]) -> Finished {
    let mut all = vec!["client"];
    all.extend_from_slice(args);
    common::run(EXAMPLE, &all, b"")
}

fn assert_one_error_line(done: &Finished, starts_with: &str) {
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    assert!(
        done.stderr[0].starts_with(starts_with),
        "{:?} does not start with {starts_with:?}",
        done.stderr[0]
    );
}

#[test]
fn a_dual_stack_server_sees_ipv4_clients_as_mapped_addresses() {
    if !ipv6_loopback("a_dual_stack_server_sees_ipv4_clients_as_mapped_addresses") {
        return;
    }
    let (server, addr) = Proc::server(EXAMPLE, &["server", "--addr", "[::]:0"]);
    // Set explicitly, whatever the default; the default itself is Linux's (ipv6(7)).
    let reach = server.wait_for_line("IPV6_V6ONLY");
    assert!(reach.starts_with("IPV6_V6ONLY off"), "{reach}");
    #[cfg(target_os = "linux")]
    if std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only")
        .is_ok_and(|v| v.trim() == "0")
    {
        assert_eq!(
            reach,
            "IPV6_V6ONLY off (this system's default: off): IPv4 clients arrive as ::ffff:a.b.c.d"
        );
    }

    // An IPv4 client, to 127.0.0.1: the server's `accept` reports ::ffff:127.0.0.1.
    let mut v4 = connect(SocketAddr::from(([127, 0, 0, 1], addr.port())));
    let v4_port = v4.local_addr().unwrap().port();
    assert_eq!(
        line_from(&mut v4),
        format!("[::ffff:127.0.0.1]:{v4_port}\n")
    );
    server.wait_for_line(&format!(
        "connected: [::ffff:127.0.0.1]:{v4_port} (an IPv4 client, IPv4-mapped; \
         to_canonical: 127.0.0.1:{v4_port})"
    ));

    // An IPv6 client, to ::1, on the same socket and port.
    let mut v6 = connect(format!("[::1]:{}", addr.port()).parse().unwrap());
    let v6_port = v6.local_addr().unwrap().port();
    assert_eq!(line_from(&mut v6), format!("[::1]:{v6_port}\n"));
    server.wait_for_line(&format!("connected: [::1]:{v6_port} (an IPv6 client)"));

    // The example's own client says the same.
    let done = client(&["--addr", &format!("127.0.0.1:{}", addr.port())]);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        done.stdout
            .last()
            .unwrap()
            .starts_with("the server sees us as [::ffff:127.0.0.1]:"),
        "{:?}",
        done.stdout
    );
}

#[test]
fn with_v6only_the_same_listener_refuses_ipv4_clients() {
    if !ipv6_loopback("with_v6only_the_same_listener_refuses_ipv4_clients") {
        return;
    }
    let (server, addr) =
        Proc::server(EXAMPLE, &["server", "--addr", "[::]:0", "--v6only"]);
    assert!(
        server
            .wait_for_line("IPV6_V6ONLY")
            .starts_with("IPV6_V6ONLY on")
    );
    let v4 = SocketAddr::from(([127, 0, 0, 1], addr.port()));
    let err = TcpStream::connect_timeout(&v4, TIMEOUT)
        .expect_err("IPv4 got through --v6only");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let mut v6 = connect(format!("[::1]:{}", addr.port()).parse().unwrap());
    let v6_port = v6.local_addr().unwrap().port();
    assert_eq!(line_from(&mut v6), format!("[::1]:{v6_port}\n"));
}

#[test]
fn an_ipv4_server_sees_plain_ipv4_addresses() {
    let (server, addr) = Proc::server(EXAMPLE, &["server", "--addr", "127.0.0.1:0"]);
    assert_eq!(
        server.wait_for_line("IPv4 socket"),
        "an IPv4 socket: IPv6 clients cannot reach it"
    );
    let mut v4 = connect(addr);
    let port = v4.local_addr().unwrap().port();
    assert_eq!(line_from(&mut v4), format!("127.0.0.1:{port}\n"));
    server.wait_for_line(&format!("connected: 127.0.0.1:{port} (an IPv4 client)"));
}

/// The classic failure: a server on 127.0.0.1 only, a client whose first address is ::1
/// (what `localhost` resolves to first on many systems). Refused, then the fallback connects.
#[test]
fn the_client_falls_back_to_the_second_address() {
    let (_server, addr) = Proc::server(EXAMPLE, &["server", "--addr", "127.0.0.1:0"]);
    let first = format!("[::1]:{}", addr.port());
    let second = addr.to_string();
    let done = client(&["--addr", &first, "--addr", &second]);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
    let after_ms =
        |line: &str| line.split_once(" ms: ").map(|(_, rest)| rest.to_string());
    let events: Vec<String> = done.stdout.iter().filter_map(|l| after_ms(l)).collect();
    assert_eq!(events[0], format!("trying {first} (for up to 5 s)"));
    // Without an IPv6 loopback the first attempt fails too, in other words.
    let refused = format!("{first}: connection refused");
    assert!(
        events[1] == refused || !ipv6_loopback("the ::1 refusal"),
        "{events:?}"
    );
    assert!(events[1].starts_with(&format!("{first}: ")), "{events:?}");
    assert_eq!(events[2], format!("trying {second} (for up to 5 s)"));
    assert!(
        events[3].starts_with(&format!("connected to {second} from 127.0.0.1:")),
        "{events:?}"
    );
    assert!(
        done.stdout[4].starts_with("the server sees us as 127.0.0.1:"),
        "{:?}",
        done.stdout
    );
}

/// A listener that never answers (its queue full), then a working server. Tried in turn, the
/// first address costs the whole per-attempt timeout; raced, 250 ms.
#[test]
fn happy_eyeballs_starts_the_next_attempt_after_250_ms() {
    let (blackhole, silent) =
        Proc::server(EXAMPLE, &["blackhole", "--addr", "127.0.0.1:0"]);
    blackhole.wait_for_line("never accepting");
    let (_server, addr) = Proc::server(EXAMPLE, &["server", "--addr", "127.0.0.1:0"]);
    let (silent, working) = (silent.to_string(), addr.to_string());
    let addrs = ["--addr", &silent, "--addr", &working];

    let started = Instant::now();
    let mut args = addrs.to_vec();
    args.push("--happy-eyeballs");
    let raced = client(&args);
    let took = started.elapsed();
    assert_eq!(raced.code(), Some(0), "{raced:?}");
    assert!(
        raced.stdout[1].ends_with(&format!(
            "no answer from {silent} within 250 ms: trying {working} too"
        )),
        "{:?}",
        raced.stdout
    );
    assert!(
        raced.stdout[2].contains(&format!("connected to {working} from "))
            && raced.stdout[2].ends_with("; dropping the other attempt"),
        "{:?}",
        raced.stdout
    );
    let at_ms = |line: &str| -> u64 {
        let ms = line.strip_prefix("at ").and_then(|l| l.split_once(" ms: "));
        ms.unwrap().0.parse().unwrap()
    };
    assert!(at_ms(&raced.stdout[1]) >= 250, "{:?}", raced.stdout);
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let started = Instant::now();
    let mut args = addrs.to_vec();
    args.extend(["--timeout", "1"]);
    let in_turn = client(&args);
    let took = started.elapsed();
    assert_eq!(in_turn.code(), Some(0), "{in_turn:?}");
    assert!(
        in_turn.stdout[1].ends_with(&format!("{silent}: timed out")),
        "{:?}",
        in_turn.stdout
    );
    assert!(at_ms(&in_turn.stdout[1]) >= 1000, "{:?}", in_turn.stdout);
    assert!(took >= Duration::from_secs(1), "took {took:?}");
}

#[test]
fn a_name_that_does_not_resolve_is_one_line_and_exit_1() {
    // `.invalid` never resolves (RFC 2606, RFC 6761 6.4): no network is needed to fail.
    let done = client(&["--addr", "no-such-host.invalid:7878"]);
    assert_one_error_line(&done, "error: cannot resolve no-such-host.invalid:7878: ");
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
}

#[test]
fn no_address_of_the_wanted_family_is_one_line_and_exit_1() {
    let done = client(&["--addr", "127.0.0.1:7878", "-6"]);
    assert_one_error_line(&done, "");
    assert_eq!(
        done.stderr[0],
        "error: cannot connect to 127.0.0.1:7878: no IPv6 address among 127.0.0.1:7878 \
         (try without -6)"
    );
}

#[test]
fn every_address_failing_is_one_line_listing_them_and_exit_1() {
    let (blackhole, silent) =
        Proc::server(EXAMPLE, &["blackhole", "--addr", "127.0.0.1:0"]);
    blackhole.wait_for_line("never accepting");
    let closed = closed_port_addr();
    let (closed, silent) = (closed.to_string(), silent.to_string());
    let done = client(&["--addr", &closed, "--addr", &silent, "--timeout", "0.5"]);
    assert_one_error_line(&done, "");
    assert_eq!(
        done.stderr[0],
        format!(
            "error: cannot connect to {closed}, {silent}: every address failed: \
             {closed} connection refused, {silent} timed out \
             (no answer at all: is the host up, or are packets to it dropped?)"
        )
    );
    // Raced, the same line, in the order the addresses were tried.
    let done = client(&[
        "--addr",
        &silent,
        "--addr",
        &closed,
        "--timeout",
        "0.5",
        "--happy-eyeballs",
    ]);
    assert_one_error_line(&done, "");
    assert_eq!(
        done.stderr[0],
        format!(
            "error: cannot connect to {silent}, {closed}: every address failed: \
             {silent} timed out, {closed} connection refused \
             (no answer at all: is the host up, or are packets to it dropped?)"
        )
    );
}

#[test]
fn addresses_refused_are_listed_with_the_refusal_hint() {
    let (a, b) = (
        closed_port_addr().to_string(),
        closed_port_addr().to_string(),
    );
    let done = client(&["--addr", &a, "--addr", &b]);
    assert_one_error_line(&done, "");
    assert_eq!(
        done.stderr[0],
        format!(
            "error: cannot connect to {a}, {b}: every address failed: {a} connection refused, \
             {b} connection refused (is the server running, and on this port?)"
        )
    );
}

#[test]
fn what_the_server_says_is_shown_not_obeyed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let serving = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = stream.write_all(b"\x1b[2J\x1b]0;pwned\x07 10.0.0.1\n");
    });
    let done = client(&["--addr", &addr]);
    serving.join().unwrap();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(
        done.stdout.last().unwrap(),
        r"the server sees us as \u{1b}[2J\u{1b}]0;pwned\u{7} 10.0.0.1"
    );
}

#[test]
fn bad_addresses_are_argument_errors() {
    for (args, why) in [
        (
            vec!["client", "--addr", "::1:7878"],
            "put an IPv6 address in brackets: [::1]:7878",
        ),
        (vec!["client", "--addr", "localhost"], "has no port"),
        (
            vec!["client", "--addr", "[::1]"],
            "`[::1]` has no port: write [::1]:7878",
        ),
        (
            vec!["client", "--addr", "::1"],
            "`::1` has no port: write [::1]:7878",
        ),
        (
            vec!["client", "--addr", "[::1]:port"],
            "`[::1]:port` is not HOST:PORT",
        ),
        (
            vec!["server", "--addr", "127.0.0.1:0", "--v6only"],
            "--v6only needs an IPv6 address",
        ),
    ] {
        let done = common::run(EXAMPLE, &args, b"");
        assert_eq!(done.code(), Some(2), "{done:?}");
        assert!(done.stderr[0].contains(why), "{:?}", done.stderr);
    }
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["server"]);
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["blackhole"]);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_server_and_the_blackhole_within_a_second() {
    let addr = if TcpListener::bind("[::1]:0").is_ok() {
        "[::]:0"
    } else {
        "127.0.0.1:0"
    };
    for args in [
        ["server", "--addr", addr],
        ["blackhole", "--addr", "127.0.0.1:0"],
    ] {
        let (proc, _) = Proc::server(EXAMPLE, &args);
        proc.wait_for_line(if args[0] == "server" {
            "IPV"
        } else {
            "never accepting"
        });
        let started = Instant::now();
        proc.sigint();
        let done = proc.wait(TIMEOUT);
        assert_eq!(done.code(), Some(0), "{done:?}");
        assert_eq!(done.stdout.last().unwrap(), "shutting down: done");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}
