//! Tests of `examples/16_heartbeat.rs`: a frozen client (SIGSTOP) is dropped by the server after
//! the timeout while a healthy one stays; a frozen server is noticed by the client within its
//! timeout, and the client reconnects once the server is back.

#![cfg(unix)]

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, TIMEOUT};

const EXAMPLE: &str = "16_heartbeat";
const ANSWERS: &str = "the server answers";

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

/// Waits until `proc` has printed at least `n` stdout lines starting with `prefix`.
fn wait_for(proc: &Proc, prefix: &str, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while count(&proc.stdout(), prefix) < n {
        assert!(
            Instant::now() < deadline,
            "no {n} × {prefix:?}: {:?}",
            proc.stdout()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn server() -> (Proc, String) {
    let args = ["server", "--addr", "127.0.0.1:0", "--interval", "0.2"];
    let (server, addr) = Proc::server(EXAMPLE, &args);
    (server, addr.to_string())
}

fn client(addr: &str) -> Proc {
    Proc::start(EXAMPLE, &["client", "--addr", addr, "--interval", "0.2"])
}

#[test]
fn a_frozen_client_is_dropped_while_a_healthy_one_stays() {
    let (server, addr) = server();
    let frozen = client(&addr);
    wait_for(&server, "connected: ", 1);
    let frozen_peer = server.stdout()[2]
        .strip_prefix("connected: ")
        .unwrap()
        .to_string();
    let healthy = client(&addr);
    wait_for(&server, "connected: ", 2);
    wait_for(&healthy, ANSWERS, 1);

    let stopped_at = Instant::now();
    frozen.signal("STOP"); // a hung program: its kernel still keeps the connection up
    let line = server.wait_for_line(&format!("dropped: {frozen_peer}"));
    let took = stopped_at.elapsed();
    assert_eq!(
        line,
        format!("dropped: {frozen_peer} (no heartbeat for 0.6 s)")
    );
    assert!(
        took >= Duration::from_millis(300),
        "dropped too early: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "dropped too late: {took:?}");

    // The healthy client goes on for five more intervals, and neither side gives up.
    thread::sleep(Duration::from_secs(1));
    assert_eq!(
        count(&server.stdout(), "dropped: "),
        1,
        "{:?}",
        server.stdout()
    );
    assert_eq!(
        count(&healthy.stdout(), "connected: "),
        1,
        "{:?}",
        healthy.stdout()
    );
    assert!(
        !healthy
            .stdout()
            .iter()
            .any(|l| l.contains("stopped answering"))
    );
    frozen.signal("CONT");
}

#[test]
fn a_frozen_server_is_noticed_within_the_timeout_and_the_client_reconnects() {
    let (server, addr) = server();
    let client = client(&addr);
    wait_for(&client, ANSWERS, 1);

    let stopped_at = Instant::now();
    server.signal("STOP");
    client.wait_for_line("the server stopped answering (nothing for 0.6 s)");
    let took = stopped_at.elapsed();
    assert!(took < Duration::from_secs(3), "noticed too late: {took:?}");

    server.signal("CONT");
    // Reconnected (perhaps after more than one attempt) and answered again.
    wait_for(&client, ANSWERS, 2);
    assert!(count(&client.stdout(), "connected: ") >= 2);
    assert!(count(&client.stdout(), "reconnecting in ") >= 1);
}

#[test]
fn ctrl_c_stops_both_sides_with_exit_0() {
    let (server, addr) = server();
    let client = client(&addr);
    wait_for(&client, ANSWERS, 1);
    client.sigint();
    let client = client.wait(TIMEOUT);
    assert_eq!(client.code(), Some(0), "{client:?}");
    assert_eq!(client.stdout.last().unwrap(), "shutting down: done");
    server.sigint();
    let server = server.wait(TIMEOUT);
    assert_eq!(server.code(), Some(0), "{server:?}");
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["server"]);
}
