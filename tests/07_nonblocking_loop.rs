//! Tests of `examples/07_nonblocking_loop.rs`: one thread serves a hundred clients, keeps
//! partial writes for later, does not let a client that never reads grow its memory or stall
//! the others, and naps (near-zero CPU) when idle unless told to `--spin`.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, connect, echo, pattern};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const EXAMPLE: &str = "07_nonblocking_loop";

/// The seed of the random chunk sizes: printed, and settable with `TEST_SEED` to replay a run.
fn seed() -> u64 {
    let seed = std::env::var("TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed: {seed} (replay with TEST_SEED={seed})");
    seed
}

#[test]
fn a_hundred_clients_each_echo_256_kib_in_random_chunks() {
    const CLIENTS: usize = 100;
    const SIZE: usize = 256 * 1024;
    let seed = seed();
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let stream = connect(addr);
                let mut payload = pattern(SIZE);
                payload.rotate_left(n * 997); // different bytes for every client
                let mut writer = stream.try_clone().unwrap();
                let to_send = payload.clone();
                let mut rng = StdRng::seed_from_u64(seed ^ n as u64);
                start.wait();
                // Write in random-sized chunks while this thread's other half reads: 256 KiB
                // may not fit in the buffers, so reading must go on at the same time.
                let sender = thread::spawn(move || {
                    let mut sent = 0;
                    while sent < SIZE {
                        let chunk = rng.random_range(1..=16 * 1024).min(SIZE - sent);
                        writer.write_all(&to_send[sent..sent + chunk]).unwrap();
                        sent += chunk;
                    }
                    writer.shutdown(Shutdown::Write).unwrap();
                });
                let mut back = Vec::with_capacity(SIZE);
                (&stream).read_to_end(&mut back).unwrap();
                sender.join().unwrap();
                back == payload
            })
        })
        .collect();
    let intact = clients
        .into_iter()
        .filter(|_| true)
        .map(|c| c.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(
        intact, CLIENTS,
        "some echoes differ from what was sent (seed {seed})"
    );
    server.wait_for_line(&format!("({} bytes echoed, 0 clients)", SIZE));
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
}

#[test]
fn a_client_that_never_reads_neither_stalls_the_others_nor_grows_the_server() {
    // Backpressure: the server stops reading the hog once 256 KiB of its echo are pending.
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    common::assert_a_client_that_never_reads_stalls_no_one(&server, addr);
}

/// Share of one core that `pid` used over `window`, in percent.
#[cfg(target_os = "linux")]
fn cpu_percent(pid: u32, window: Duration) -> f64 {
    // Linux reports times in USER_HZ ticks, 100 per second on every common configuration.
    const TICKS_PER_SECOND: f64 = 100.0;
    let before = common::cpu_ticks(pid);
    let started = Instant::now();
    thread::sleep(window);
    let used = (common::cpu_ticks(pid) - before) as f64 / TICKS_PER_SECOND;
    used / started.elapsed().as_secs_f64() * 100.0
}

#[cfg(target_os = "linux")]
#[test]
fn idle_it_naps_near_zero_cpu_and_with_spin_it_burns_a_core() {
    let (napping, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let mut client = connect(addr); // one idle client connected: the loop still has work to try
    assert_eq!(echo(&mut client, b"x"), b"x");
    let idle = cpu_percent(napping.pid(), Duration::from_secs(2));
    assert!(
        idle < 5.0,
        "the napping loop used {idle:.1}% of a core while idle"
    );
    drop(napping);

    let (spinning, _) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0", "--spin"]);
    let busy = cpu_percent(spinning.pid(), Duration::from_secs(2));
    // A spinning loop wants 100%; on a busy 2-core machine it may get less, but far more.
    assert!(
        busy > 30.0,
        "the spinning loop used only {busy:.1}% of a core"
    );
    eprintln!("idle CPU: {idle:.1}% napping, {busy:.1}% spinning");
}

#[cfg(unix)]
#[test]
fn ctrl_c_closes_the_clients_and_exits_0() {
    let (server, addr) = Proc::server(EXAMPLE, &["--addr", "127.0.0.1:0"]);
    let done = common::assert_ctrl_c_closes_three_clients(server, addr, "(3 clients)");
    assert!(
        done.stdout
            .contains(&"shutting down: 3 client(s) connected".to_string())
    );
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

/// Not a test but a measurement for the chapter (Linux):
///
/// ```text
/// cargo test --release --test 07_nonblocking_loop -- --ignored --nocapture measure
/// ```
#[cfg(target_os = "linux")]
#[test]
#[ignore = "a measurement; run it explicitly"]
fn measure_idle_cpu_and_round_trip_latency() {
    for args in [&["--nap", "5"][..], &["--nap", "1"], &["--spin"]] {
        let mut full = vec!["--addr", "127.0.0.1:0"];
        full.extend_from_slice(args);
        let (server, addr) = Proc::server(EXAMPLE, &full);
        thread::sleep(Duration::from_millis(200));
        let idle = cpu_percent(server.pid(), Duration::from_secs(3));
        // One client, one 16-byte request at a time: each round trip's time.
        let mut stream = connect(addr);
        let mut times: Vec<Duration> = (0..500)
            .map(|i| {
                let message = format!("request {i:08}");
                let began = Instant::now();
                assert_eq!(echo(&mut stream, message.as_bytes()), message.as_bytes());
                began.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<10} idle CPU {idle:5.1}% of a core; round trip p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            args.join(" "),
            ms(times[times.len() / 2]),
            ms(times[times.len() * 99 / 100]),
            ms(times[times.len() - 1])
        );
    }
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
