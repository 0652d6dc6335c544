//! Tests of `examples/08_poll_server.rs`: thousands of connections held by one thread, each
//! echoing correctly; no CPU while idle; a slow reader stalls no one; Ctrl-C exits 0.

mod common;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, connect, echo};

const EXAMPLE: &str = "08_poll_server";

/// Opens `count` connections, then has every one echo a message unique to it.
/// Returns how many echoed correctly.
fn hold_and_echo(addr: std::net::SocketAddr, count: usize) -> usize {
    let mut streams: Vec<TcpStream> = Vec::with_capacity(count);
    for _ in 0..count {
        streams.push(connect(addr));
    }
    // All are connected at once; now each one echoes, from 16 threads.
    let per_thread = count.div_ceil(16);
    let mut handles = Vec::new();
    let mut base = 0;
    while !streams.is_empty() {
        let batch: Vec<TcpStream> =
            streams.drain(..per_thread.min(streams.len())).collect();
        let first = base;
        base += batch.len();
        handles.push(thread::spawn(move || {
            let mut ok = 0;
            for (i, mut stream) in batch.into_iter().enumerate() {
                let message = format!("connection {:06}", first + i);
                if echo(&mut stream, message.as_bytes()) == message.as_bytes() {
                    ok += 1;
                }
                std::mem::forget(stream); // keep it open until the process ends
            }
            ok
        }));
    }
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[cfg(unix)]
#[test]
fn two_thousand_connections_are_held_and_each_echoes() {
    const COUNT: usize = 2000;
    // Our 2000 sockets, the server's 2000, and some to spare, in each process.
    let limit = common::raise_fd_limit(COUNT as u64 + 200);
    if limit < COUNT as u64 + 200 {
        eprintln!(
            "skipped: the open-files hard limit is {limit}, too low for {COUNT} connections"
        );
        return;
    }
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let ok = hold_and_echo(addr, COUNT);
    assert_eq!(ok, COUNT);
    server.wait_for_line(&format!("({COUNT} clients)"));
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
}

#[cfg(target_os = "linux")]
#[test]
fn an_idle_server_uses_no_cpu() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut clients: Vec<_> = (0..10).map(|_| connect(addr)).collect();
    for client in &mut clients {
        assert_eq!(echo(client, b"x"), b"x");
    }
    let before = common::cpu_ticks(server.pid());
    let started = Instant::now();
    thread::sleep(Duration::from_secs(2));
    let used = (common::cpu_ticks(server.pid()) - before) as f64 / 100.0;
    let percent = used / started.elapsed().as_secs_f64() * 100.0;
    assert!(
        percent < 2.0,
        "the idle poll server used {percent:.1}% of a core"
    );
}

#[test]
fn a_client_that_never_reads_stalls_no_one() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_a_client_that_never_reads_stalls_no_one(&server, addr);
}

#[cfg(unix)]
#[test]
fn ctrl_c_closes_the_clients_and_exits_0() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let done = common::assert_ctrl_c_closes_three_clients(server, addr, "(3 clients)");
    let closed = done
        .stdout
        .iter()
        .filter(|l| l.starts_with("closed: "))
        .count();
    assert_eq!(closed, 3, "{:?}", done.stdout);
    assert_eq!(done.stdout.last().unwrap(), "shutting down: done");
}

/// Issue 11: out of file descriptors, `accept` fails at once for as long as clients wait in
/// the backlog. The server must neither spin nor flood its terminal, and must serve the waiting
/// clients by itself once connections close.
#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_it_stays_cheap_and_recovers_when_clients_leave() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut held: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for client in &mut held {
        assert_eq!(echo(client, b"held"), b"held");
    }
    common::exhaust_fds(server.pid(), 0);
    common::assert_cheap_while_out_of_fds_then_recovers(&server, addr, move || {
        drop(held)
    });
}

/// Issue 12: Ctrl-C while a client is still sending ends its stream in order, not with a reset.
#[cfg(unix)]
#[test]
fn ctrl_c_with_a_client_sending_ends_its_stream_in_order() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_ctrl_c_with_a_client_sending_ends_in_order(server, addr);
}

#[test]
fn a_trickler_stalls_no_one() {
    let (_server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_a_trickler_stalls_no_one(addr);
}

#[test]
fn a_large_stream_echoes_intact_in_little_memory() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_a_large_stream_echoes_intact(&server, addr, 16 << 20);
}

#[test]
fn end_of_stream_mid_message_gets_the_half_back() {
    let (_server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_eof_mid_message_gets_the_half_back(addr);
}

#[test]
fn a_client_that_resets_mid_message_leaves_the_others_undisturbed() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
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

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use(EXAMPLE);
}

/// Not a test but a measurement for the chapter (Unix; needs a hard open-files limit above
/// 2 × COUNT): how many connections one thread holds, each echoing, and the server's memory.
///
/// ```text
/// cargo test --release --test 08_poll_server -- --ignored --nocapture measure
/// CONNECTIONS=19000 cargo test --release --test 08_poll_server -- --ignored --nocapture measure
/// ```
#[cfg(target_os = "linux")]
#[test]
#[ignore = "a measurement; run it explicitly"]
fn measure_ten_thousand_connections() {
    let count = std::env::var("CONNECTIONS")
        .ok()
        .and_then(|c| c.parse().ok());
    let count: usize = count.unwrap_or(10_000);
    let limit = common::raise_fd_limit(count as u64 + 500);
    assert!(
        limit >= count as u64 + 500,
        "the open-files hard limit is {limit}"
    );
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let rss_before = common::rss_kib(server.pid());
    let started = Instant::now();
    let ok = hold_and_echo(addr, count);
    let took = started.elapsed();
    server.wait_for_line(&format!("({count} clients)"));
    let rss = common::rss_kib(server.pid());
    println!(
        "{ok} of {count} connections held at once and echoed correctly in {:.2} s; \
         server RSS {rss_before} KiB idle, {rss} KiB with {count} connections",
        took.as_secs_f64()
    );
    assert_eq!(ok, count);
}

/// Not a test but a measurement for the chapter (Linux, needs `strace`): the server's system
/// calls per round trip, with `CLIENTS` clients (default 10) each echoing 64-byte messages
/// one at a time. It also checks the one figure that does not depend on timing: a client
/// that keeps up never changes its registration, so `epoll_ctl` (which `polling` also
/// calls twice per `wait`, for its own timer and notifier) stays well under one per round
/// trip. The first version asked for "writable" after every read and dropped it after every
/// write: two more `epoll_ctl` per round trip.
///
/// ```text
/// cargo test --release --test 08_poll_server -- --ignored --nocapture system_calls
/// CLIENTS=50 cargo test --release --test 08_poll_server -- --ignored --nocapture system_calls
/// ```
#[cfg(target_os = "linux")]
#[test]
#[ignore = "a measurement; run it explicitly"]
fn measure_system_calls_per_round_trip() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    const ROUND_TRIPS: usize = 2000;
    let clients: usize = std::env::var("CLIENTS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10);
    if Command::new("strace").arg("-V").output().is_err() {
        println!("skipped: strace is not installed (apt-get install strace)");
        return;
    }
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let summary = std::env::temp_dir().join(format!("08-strace-{}.txt", server.pid()));
    let mut strace = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&summary)
        .args(["-p", &server.pid().to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start strace");
    // strace says "Process N attached" once it traces the server.
    let mut line = String::new();
    let mut stderr = BufReader::new(strace.stderr.take().unwrap());
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("attached"), "strace: {line}");

    let talkers: Vec<_> = (0..clients)
        .map(|_| {
            let mut stream = connect(addr);
            stream.set_nodelay(true).unwrap();
            thread::spawn(move || {
                let message = [b'x'; 64];
                for _ in 0..ROUND_TRIPS {
                    assert_eq!(echo(&mut stream, &message), message);
                }
            })
        })
        .collect();
    for talker in talkers {
        talker.join().unwrap();
    }
    // SIGINT makes strace detach and write its summary.
    let status = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    strace.wait().unwrap();
    let table = std::fs::read_to_string(&summary).unwrap();
    let _ = std::fs::remove_file(&summary);
    // A row: % time, seconds, usecs/call, calls, [errors,] name.
    let calls = |name: &str| -> u64 {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().last() == Some(name));
        row.and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
            .unwrap_or(0)
    };
    let round_trips = (clients * ROUND_TRIPS) as f64;
    let per = |name: &str| calls(name) as f64 / round_trips;
    println!(
        "{clients} clients, {round_trips} round trips of 64 bytes; per round trip:"
    );
    for name in [
        "recvfrom",
        "sendto",
        "epoll_ctl",
        "epoll_pwait",
        "timerfd_settime",
        "read",
        "total",
    ] {
        println!("  {name:<16} {:.3}", per(name));
    }
    assert!(
        per("epoll_ctl") < 1.0,
        "epoll_ctl per round trip: {:.2}",
        per("epoll_ctl")
    );
}

/// Issue 24: kernel buffers are memory too. A client that sends and never reads leaves in the
/// server's own send buffer no more than the bounded `SO_SNDBUF` that every server listening
/// through `net::listen` gives its connections (before: 2.9–4.4 MiB, auto-tuned).
#[cfg(target_os = "linux")]
#[test]
fn a_client_that_never_reads_holds_a_bounded_kernel_send_buffer() {
    let (_server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let queued =
        common::server_send_queue_for_a_client_that_never_reads(addr, &[7u8; 65536]);
    eprintln!("{queued} bytes queued in the server's send buffer");
    assert!(queued <= 256 * 1024, "{queued} bytes queued");
}
