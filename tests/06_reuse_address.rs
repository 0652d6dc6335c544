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

    assert!(step(&done.stdout, 1).contains(&"   std sets SO_REUSEADDR on this system: yes".into()));

    let two = step(&done.stdout, 2);
    assert!(
        two.iter()
            .any(|l| l.contains("is in TIME_WAIT: 127.0.0.1:")),
        "{two:?}"
    );
    for rebind in ["without SO_REUSEADDR", "with SO_REUSEADDR"] {
        let line = format!("   rebind {rebind}: failed: address already in use (as on Linux)");
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
    let refused =
        "   second listener, SO_REUSEADDR on both: failed: address already in use (as on Linux)";
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
                    held.push(TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect failed"));
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

/// Not a test but a measurement for chapter 06 (Linux: needs `ulimit -n` above 10,000):
///
/// ```text
/// cargo test --release --test 06_reuse_address -- --ignored --nocapture measure
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
            socket_workbook::net::listen("127.0.0.1:0".parse().unwrap(), 4096).unwrap(),
        ),
    ] {
        let began = Instant::now();
        let mut times = connect_burst(listener, COUNT);
        let total = began.elapsed();
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
    }
}
