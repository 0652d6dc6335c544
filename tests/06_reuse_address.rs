//! Tests of `examples/06_reuse_address.rs`: the demonstration runs, and its output proves that
//! the rebind failed in step 2 (no SO_REUSEADDR on the connection in TIME_WAIT) and succeeded in
//! step 3 (SO_REUSEADDR on both sockets).

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::TIMEOUT;

const EXAMPLE: &str = "06_reuse_address";

/// The lines of step `n` (from the line starting `n.` up to the next step).
fn step(stdout: &[String], n: u8) -> Vec<String> {
    let start = stdout
        .iter()
        .position(|l| l.starts_with(&format!("{n}. ")))
        .unwrap_or_else(|| panic!("no step {n}: {stdout:?}"));
    stdout[start..]
        .iter()
        .take_while(|l| l.starts_with(&format!("{n}. ")) || l.starts_with("   "))
        .cloned()
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn the_rebind_fails_in_time_wait_without_reuseaddr_and_succeeds_with_it() {
    let done = common::run(EXAMPLE, &["--addr", "127.0.0.1:0"], b"");
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);

    assert!(
        step(&done.stdout, 1)
            .contains(&"   std sets SO_REUSEADDR on this system: yes".into())
    );

    let two = step(&done.stdout, 2);
    assert!(
        two.iter()
            .any(|l| l.contains("is in TIME_WAIT: 127.0.0.1:")),
        "{two:?}"
    );
    for rebind in ["without SO_REUSEADDR", "with SO_REUSEADDR"] {
        let line = format!(
            "   rebind {rebind}: failed: address already in use (as on Linux)"
        );
        assert!(two.contains(&line), "missing {line:?} in {two:?}");
    }

    let three = step(&done.stdout, 3);
    assert!(
        three
            .iter()
            .any(|l| l.contains("is in TIME_WAIT: 127.0.0.1:")),
        "{three:?}"
    );
    let line = "   rebind with SO_REUSEADDR: succeeded (as on Linux)".to_string();
    assert!(three.contains(&line), "missing {line:?} in {three:?}");

    let four = step(&done.stdout, 4);
    let refused = "   second listener, SO_REUSEADDR on both: failed: address already in use (as on Linux)";
    assert!(four.contains(&refused.to_string()), "{four:?}");
    let shared = "   second listener, SO_REUSEPORT on both: succeeded (as on Linux)";
    assert!(four.contains(&shared.to_string()), "{four:?}");
    assert_eq!(
        done.stdout.last().unwrap(),
        "done: every step behaved as on Linux"
    );
}

#[test]
fn without_addr_it_runs_while_another_server_holds_7878() {
    // A demonstration that talks only to itself takes free ports (issue 11, item 14), so a
    // server left running from an earlier chapter is no obstacle.
    let _held = match TcpListener::bind("127.0.0.1:7878") {
        Ok(listener) => Some(listener),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => None, // taken anyway
        Err(err) => {
            eprintln!("skipped: cannot bind or check 127.0.0.1:7878 here: {err}");
            return;
        }
    };
    let done = common::run(EXAMPLE, &[], b"");
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
    assert!(
        !done.stdout.iter().any(|l| l.contains("127.0.0.1:7878")),
        "{:?}",
        done.stdout
    );
}

/// Chapter 06's claim that the "one listener" rule is per address *and* port, checked with
/// SO_REUSEADDR on every socket (Linux: all of 127.0.0.0/8 is loopback there; macOS has only
/// 127.0.0.1 unless you add aliases).
#[cfg(target_os = "linux")]
#[test]
fn one_listener_per_address_and_port_even_with_reuseaddr() {
    use socket2::{Domain, Socket, Type};
    let listen = |addr: SocketAddr| -> std::io::Result<Socket> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(16)?;
        Ok(socket)
    };
    let first = listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = first.local_addr().unwrap().as_socket().unwrap().port();
    let on = |ip: &str| -> SocketAddr { format!("{ip}:{port}").parse().unwrap() };
    // Another address, the same port: allowed.
    let _second = listen(on("127.0.0.2")).expect("127.0.0.2 is another address");
    // The same address and port: refused, SO_REUSEADDR or not.
    let err = listen(on("127.0.0.1")).expect_err("a second listener");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    // The wildcard address covers 127.0.0.1 too: refused as well.
    let err = listen(on("0.0.0.0")).expect_err("a wildcard listener");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn help_explains_the_port_choice() {
    let help = common::run(EXAMPLE, &["--help"], b"");
    assert_eq!(help.code(), Some(0));
    assert!(
        help.stdout.join(" ").contains("TIME_WAIT"),
        "{:?}",
        help.stdout
    );
}

/// Opens `count` connections at once (from 50 threads) to a listener with an accepting
/// thread, and returns every connect's duration.
fn connect_burst(listener: TcpListener, count: usize) -> Vec<Duration> {
    let addr: SocketAddr = listener.local_addr().unwrap();
    let accepter = thread::spawn(move || {
        let mut held = Vec::with_capacity(count);
        while held.len() < count {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(err) => panic!("accept failed: {err}"),
            }
        }
        held
    });
    let threads = 50;
    let start = Arc::new(Barrier::new(threads));
    let clients: Vec<_> = (0..threads)
        .map(|_| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut times = Vec::new();
                let mut held = Vec::new();
                for _ in 0..count / threads {
                    let began = Instant::now();
                    held.push(
                        TcpStream::connect_timeout(&addr, TIMEOUT)
                            .expect("connect failed"),
                    );
                    times.push(began.elapsed());
                }
                (times, held)
            })
        })
        .collect();
    let results: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    drop(accepter.join().unwrap());
    results
        .into_iter()
        .flat_map(|(times, _held)| times)
        .collect()
}

/// Linux: the network namespace's `TcpExtListenOverflows` and `TcpExtListenDrops` counters,
/// as `nstat` shows them, from `/proc/net/netstat`. `None` elsewhere.
fn listen_counters() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let pairs: Vec<(&str, u64)> = names
            .split_whitespace()
            .zip(values.split_whitespace())
            .filter_map(|(n, v)| Some((n, v.parse().ok()?)))
            .collect();
        let get = |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        return Some((get("ListenOverflows")?, get("ListenDrops")?));
    }
    None
}

/// Not a test but a measurement for chapter 06 (Linux: needs `ulimit -n` above 10,000):
///
/// ```text
/// cargo test --release --test 06_reuse_address -- --ignored --nocapture measure_a_burst
/// ```
#[test]
#[ignore = "a measurement; run it explicitly"]
fn measure_a_burst_of_5000_connects_against_both_backlogs() {
    const COUNT: usize = 5000;
    for (name, listener) in [
        (
            "std TcpListener::bind (backlog 128)",
            TcpListener::bind("127.0.0.1:0").unwrap(),
        ),
        (
            "socket_workbook::net::listen (backlog 4096)",
            socket_workbook::net::listen("127.0.0.1:0".parse().unwrap(), 4096)
                .unwrap(),
        ),
    ] {
        let before = listen_counters();
        let began = Instant::now();
        let mut times = connect_burst(listener, COUNT);
        let total = began.elapsed();
        let after = listen_counters();
        times.sort();
        let slow = times
            .iter()
            .filter(|t| **t >= Duration::from_millis(900))
            .count();
        println!(
            "{name}: {COUNT} connects in {:.2} s; median {:.2} ms, max {:.0} ms; {slow} took a second or more",
            total.as_secs_f64(),
            times[COUNT / 2].as_secs_f64() * 1000.0,
            times[COUNT - 1].as_secs_f64() * 1000.0
        );
        if let (Some(before), Some(after)) = (before, after) {
            println!(
                "  during the burst: ListenOverflows +{}, ListenDrops +{} (whole network namespace)",
                after.0 - before.0,
                after.1 - before.1
            );
        }
    }
}

/// Not a test but a measurement for chapter 06 (Linux): when a client's SYN reaches a listener
/// whose accept queue is full, and how often the client sends it again.
///
/// A listener with a backlog of 1 that never accepts holds 2 connections (Linux lets the queue
/// reach backlog + 1); a third client then sits in SYN-SENT. Its socket's own retransmission
/// count (`TCP_INFO`'s `tcpi_total_retrans`) is sampled every 5 ms, and every increase is
/// printed: the schedule of SYN retransmissions this kernel uses.
///
/// ```text
/// cargo test --test 06_reuse_address -- --ignored --nocapture measure_syn
/// ```
#[cfg(target_os = "linux")]
#[test]
#[ignore = "a measurement; run it explicitly (about 13 s)"]
fn measure_syn_retransmissions_against_a_full_accept_queue() {
    use socket2::{Domain, Socket, Type};
    use std::os::fd::AsRawFd;

    let listener =
        socket_workbook::net::listen("127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let addr = listener.local_addr().unwrap();
    let _queued: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect_timeout(&addr, TIMEOUT).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(100)); // let both handshakes finish

    let before = listen_counters();
    let client = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    client.set_nonblocking(true).unwrap();
    let began = Instant::now();
    let _ = client.connect(&addr.into()); // EINPROGRESS: the SYN is on its way
    let total_retrans = |socket: &Socket| -> (u8, u32) {
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "getsockopt(TCP_INFO) failed");
        (info.tcpi_state, info.tcpi_total_retrans)
    };
    let mut seen = 0;
    let mut at = Vec::new();
    while began.elapsed() < Duration::from_secs(13) {
        let (state, retrans) = total_retrans(&client);
        assert_eq!(state, 2, "the client left SYN-SENT (state {state})"); // TCP_SYN_SENT
        if retrans > seen {
            seen = retrans;
            at.push(format!("{:.2} s", began.elapsed().as_secs_f64()));
        }
        thread::sleep(Duration::from_millis(5));
    }
    let after = listen_counters();
    let sysctl = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|_| "absent".into())
    };
    println!(
        "kernel {}; tcp_syn_retries {}, tcp_syn_linear_timeouts {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        sysctl("tcp_syn_retries"),
        sysctl("tcp_syn_linear_timeouts")
    );
    println!(
        "SYN retransmitted at {} after the first SYN (still in SYN-SENT after 13 s)",
        at.join(", ")
    );
    if let (Some(before), Some(after)) = (before, after) {
        println!(
            "meanwhile: ListenOverflows +{}, ListenDrops +{} (whole network namespace)",
            after.0 - before.0,
            after.1 - before.1
        );
    }
}
