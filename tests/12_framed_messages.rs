//! Tests of `examples/12_framed_messages.rs`: frames of any size, cut anywhere on the wire,
//! come back whole and in order; the wire format is the plain 4-byte big-endian one; a bad
//! header closes only that connection, after an error frame.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, TIMEOUT, connect, run};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use socket_workbook::framing::{DEFAULT_MAX_FRAME, read_frame, write_frame};

const EXAMPLE: &str = "12_framed_messages";

fn server(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args = vec!["server", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Proc::server(EXAMPLE, &args)
}

#[test]
fn a_thousand_random_frames_in_random_chunks_come_back_whole_and_in_order() {
    let seed: u64 = std::env::var("TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed: {seed} (replay with TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let (_server, addr) = server(&[]);
    let frames: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            (0..rng.random_range(0..=64 * 1024))
                .map(|k: usize| (k * 7 + i) as u8)
                .collect()
        })
        .collect();
    let mut wire = Vec::new();
    for frame in &frames {
        write_frame(&mut wire, frame).unwrap();
    }
    let stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut at = 0;
        while at < wire.len() {
            let n = rng.random_range(1..=20_000).min(wire.len() - at);
            writer.write_all(&wire[at..at + n]).unwrap();
            at += n;
        }
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut reader = BufReader::new(stream);
    for (i, expected) in frames.iter().enumerate() {
        let echo = read_frame(&mut reader, DEFAULT_MAX_FRAME)
            .unwrap()
            .expect("closed early");
        assert!(&echo == expected, "frame {i} differs (seed {seed})");
    }
    assert!(
        read_frame(&mut reader, DEFAULT_MAX_FRAME)
            .unwrap()
            .is_none(),
        "extra frames"
    );
    sender.join().unwrap();
}

#[test]
fn a_hand_built_frame_is_echoed_byte_for_byte() {
    let (_server, addr) = server(&[]);
    let mut stream = connect(addr);
    // What Python's `struct.pack('!I', 5) + b'hello'` sends.
    let frame = [0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o'];
    stream.write_all(&frame).unwrap();
    let mut back = [0u8; 9];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(back, frame);
    // An empty frame is a frame too.
    stream.write_all(&[0, 0, 0, 0]).unwrap();
    let mut empty = [9u8; 4];
    stream.read_exact(&mut empty).unwrap();
    assert_eq!(empty, [0, 0, 0, 0]);
}

#[test]
fn an_oversized_header_closes_only_that_connection_after_an_error_frame() {
    let (server, addr) = server(&["--max-frame", "1000"]);
    let mut other = connect(addr);
    write_frame(&mut other, b"before").unwrap();
    assert_eq!(read_frame(&mut other, 1000).unwrap().unwrap(), b"before");

    let mut bad = connect(addr);
    let bad_addr = bad.local_addr().unwrap();
    bad.write_all(&[0xFF, 0xFF, 0xFF, 0xFF]).unwrap();
    let reply = read_frame(&mut bad, 1000).unwrap().expect("no error frame");
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        "error: a frame of 4294967295 bytes is over the limit of 1000 bytes"
    );
    let mut rest = Vec::new();
    bad.read_to_end(&mut rest).expect("not closed cleanly");
    assert!(rest.is_empty());

    // The other client, and new ones, are still served.
    write_frame(&mut other, b"after").unwrap();
    assert_eq!(read_frame(&mut other, 1000).unwrap().unwrap(), b"after");
    let mut newcomer = connect(addr);
    write_frame(&mut newcomer, b"new").unwrap();
    assert_eq!(read_frame(&mut newcomer, 1000).unwrap().unwrap(), b"new");
    let line = server.wait_for_stderr_line("bad frame");
    assert_eq!(
        line,
        format!(
            "error: bad frame from {bad_addr}; closed it: a frame of 4294967295 bytes is over \
             the limit of 1000 bytes"
        )
    );
}

#[test]
fn the_client_prints_each_echo_and_checks_random_frames() {
    let (_server, addr) = server(&[]);
    let addr = addr.to_string();
    let done = run(
        EXAMPLE,
        &["client", "--addr", &addr, "hello", "two words", ""],
        b"",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, ["hello", "two words", ""]);

    let done = run(
        EXAMPLE,
        &["client", "--addr", &addr, "--count", "300", "--seed", "5"],
        b"",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout.len(), 1);
    assert!(
        done.stdout[0].starts_with("sent 300 frames ("),
        "{:?}",
        done.stdout
    );
    assert!(done.stdout[0].ends_with("all 300 echoed intact, in order (seed 5)"));
}

#[test]
fn the_client_shows_the_servers_error_and_exits_1() {
    let (_server, addr) = server(&["--max-frame", "10"]);
    let done = run(
        EXAMPLE,
        &[
            "client",
            "--addr",
            &addr.to_string(),
            "longer than ten bytes",
        ],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [
            "error: the server answered: error: a frame of 21 bytes is over the limit of 10 bytes"
        ]
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_exits_0() {
    let (server, addr) = server(&[]);
    let mut client = connect(addr);
    write_frame(&mut client, b"hi").unwrap();
    assert_eq!(read_frame(&mut client, 64).unwrap().unwrap(), b"hi");
    let started = Instant::now();
    server.sigint();
    assert!(
        read_frame(&mut client, 64).unwrap().is_none(),
        "not closed between frames"
    );
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        done.stdout.last().unwrap(),
        "shutting down: served 1 client(s)"
    );
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["server"]);
}

/// Round trips of one small frame at a time, with the header and the payload written in one
/// `write` or in two. Returns the median round trip.
fn round_trips(addr: SocketAddr, two_writes: bool, count: usize) -> Duration {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let payload = [b'x'; 100];
    let mut times: Vec<Duration> = (0..count)
        .map(|_| {
            let began = Instant::now();
            if two_writes {
                stream
                    .write_all(&(payload.len() as u32).to_be_bytes())
                    .unwrap();
                stream.write_all(&payload).unwrap();
            } else {
                write_frame(&mut stream, &payload).unwrap();
            }
            read_frame(&mut stream, 1024).unwrap().unwrap();
            began.elapsed()
        })
        .collect();
    times.sort();
    times[count / 2]
}

/// Not a test but measurements for the chapter:
///
/// ```text
/// cargo test --release --test 12_framed_messages -- --ignored --nocapture measure
/// ```
#[test]
#[ignore = "a measurement; run it explicitly"]
fn measure_nagle_and_throughput() {
    let (_framed, addr) = server(&[]);
    for two_writes in [false, true] {
        let median = round_trips(addr, two_writes, 50);
        println!(
            "100-byte frames, header and payload in {}: median round trip {:.3} ms",
            if two_writes {
                "two writes"
            } else {
                "one write"
            },
            median.as_secs_f64() * 1000.0
        );
    }

    // Throughput: 256 MiB through the framed echo (64 KiB frames) and through chapter 04's raw
    // echo, each with a writer thread and a reader.
    const TOTAL: usize = 256 * 1024 * 1024;
    let (_raw, raw_addr) =
        Proc::server("04_threaded_server", &["--addr", "127.0.0.1:0"]);
    for (name, addr, framed) in [
        ("raw echo (04)", raw_addr, false),
        ("framed echo (12)", addr, true),
    ] {
        let stream = connect(addr);
        let mut writer = stream.try_clone().unwrap();
        let began = Instant::now();
        let sender = thread::spawn(move || {
            let chunk = vec![b'z'; 64 * 1024];
            for _ in 0..TOTAL / chunk.len() {
                if framed {
                    write_frame(&mut writer, &chunk).unwrap();
                } else {
                    writer.write_all(&chunk).unwrap();
                }
            }
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut reader = BufReader::new(stream);
        let mut received = 0;
        if framed {
            while let Some(frame) = read_frame(&mut reader, DEFAULT_MAX_FRAME).unwrap()
            {
                received += frame.len();
            }
        } else {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut buf).unwrap() {
                    0 => break,
                    n => received += n,
                }
            }
        }
        sender.join().unwrap();
        assert_eq!(received, TOTAL);
        let secs = began.elapsed().as_secs_f64();
        println!(
            "{name}: {} MiB echoed in {secs:.2} s = {:.0} MiB/s",
            TOTAL >> 20,
            (TOTAL >> 20) as f64 / secs
        );
    }
}

fn count_prefix(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

fn wait_until(what: &str, proc: &Proc, done: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done(&proc.stdout()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Regression: the server turned clients away with the text line `server busy, try again
/// later`, which a framed client reads as a frame of 0x73657276 = 1,936,028,278 bytes.
#[test]
fn a_full_server_refuses_with_an_error_frame_that_the_client_reports() {
    let (server, addr) = server(&["--workers", "1", "--queue", "0"]);
    let mut served = connect(addr);
    write_frame(&mut served, b"mine").unwrap();
    assert_eq!(read_frame(&mut served, 64).unwrap().unwrap(), b"mine"); // holds the worker

    let mut refused = connect(addr);
    let answer = read_frame(&mut refused, 1024)
        .expect("the refusal is not a frame")
        .expect("closed without a refusal");
    assert_eq!(answer, b"error: server busy, try again later");
    let mut rest = Vec::new();
    refused.read_to_end(&mut rest).expect("not closed cleanly");
    assert!(rest.is_empty(), "{rest:?}");

    let done = run(
        EXAMPLE,
        &["client", "--addr", &addr.to_string(), "hello"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        ["error: the server answered: error: server busy, try again later"]
    );
    wait_until("two refusals", &server, |out| {
        count_prefix(out, "busy: ") == 2
    });
}

/// Regression: a client still queued at Ctrl-C got `server shutting down` as a text line.
#[cfg(unix)]
#[test]
fn ctrl_c_tells_a_queued_client_in_an_error_frame() {
    let (server, addr) = server(&["--workers", "1", "--queue", "1"]);
    let mut served = connect(addr);
    write_frame(&mut served, b"mine").unwrap();
    assert_eq!(read_frame(&mut served, 64).unwrap().unwrap(), b"mine");
    let mut queued = connect(addr);
    wait_until("a queued client", &server, |out| {
        count_prefix(out, "queued: ") == 2
    });
    server.sigint();
    let answer = read_frame(&mut queued, 1024)
        .expect("the refusal is not a frame")
        .expect("closed without a word");
    assert_eq!(answer, b"error: server shutting down");
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
}

/// Regression: under a flood, Ctrl-C took 11–20 s: the refusing thread lingered 200 ms on
/// each queued refusal in turn, and the shutdown waited for it.
#[cfg(unix)]
#[test]
fn ctrl_c_under_a_flood_exits_within_two_seconds() {
    let (server, addr) = server(&["--workers", "1", "--queue", "1"]);
    let mut served = connect(addr);
    write_frame(&mut served, b"mine").unwrap();
    assert_eq!(read_frame(&mut served, 64).unwrap().unwrap(), b"mine");
    // 200 clients that connect, send half a frame, and never close: each refusal lingers.
    let flood: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = connect(addr);
            stream.write_all(&[0, 0]).unwrap();
            stream
        })
        .collect();
    wait_until("150 refusals", &server, |out| {
        count_prefix(out, "busy: ") >= 150
    });
    let started = Instant::now();
    server.sigint();
    let done = server.wait(TIMEOUT);
    let took = started.elapsed();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(took < Duration::from_secs(2), "Ctrl-C took {took:?}");
    drop(flood);
}

/// Regression (trickler): a read timeout bounds one `read`, so a client that sent a header and
/// then one byte every 300 ms kept its worker for as long as it liked. Each frame now has to
/// be in, whole, within `--idle-timeout`.
#[test]
fn a_trickler_loses_its_worker_after_the_idle_timeout() {
    let (server, addr) =
        server(&["--workers", "1", "--queue", "1", "--idle-timeout", "1"]);
    let mut trickler = connect(addr);
    let trickler_addr = trickler.local_addr().unwrap();
    server.wait_for_line(&format!("serving: {trickler_addr}"));
    let trickling = thread::spawn(move || {
        // A header announcing 1,000 bytes, then one byte every 300 ms, for up to 9 s.
        let _ = trickler.write_all(&1000u32.to_be_bytes());
        for _ in 0..30 {
            thread::sleep(Duration::from_millis(300));
            if trickler.write_all(b"x").is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut next = connect(addr); // queued behind the trickler
    write_frame(&mut next, b"my turn").unwrap();
    assert_eq!(read_frame(&mut next, 64).unwrap().unwrap(), b"my turn");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(4), "served after {waited:?}");
    server.wait_for_line(&format!(
        "idle: closed {trickler_addr} (no whole frame in 1 s)"
    ));
    trickling.join().unwrap();
}

/// A client that sends and never reads: the echo's `write` blocks once its buffers are full,
/// and the write timeout (`--idle-timeout`) frees the worker.
#[test]
fn a_client_that_never_reads_loses_its_worker_after_the_idle_timeout() {
    let (server, addr) =
        server(&["--workers", "1", "--queue", "1", "--idle-timeout", "1"]);
    let mut hog = connect(addr);
    let hog_addr = hog.local_addr().unwrap();
    server.wait_for_line(&format!("serving: {hog_addr}"));
    let hogging = thread::spawn(move || {
        let frame = vec![b'h'; 64 * 1024];
        for _ in 0..1024 {
            if write_frame(&mut hog, &frame).is_err() {
                break; // the server gave up on us: our writes fail
            }
        }
    });
    let started = Instant::now();
    let mut next = connect(addr);
    write_frame(&mut next, b"my turn").unwrap();
    assert_eq!(read_frame(&mut next, 64).unwrap().unwrap(), b"my turn");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(6), "served after {waited:?}");
    server.wait_for_stderr_line(&format!("cannot write to {hog_addr}"));
    hogging.join().unwrap();
}

/// A client that ends its stream, or resets it, in the middle of a frame: one error line, and
/// everyone else is still served.
#[test]
fn eof_and_reset_inside_a_frame_are_one_error_line_each() {
    let (server, addr) = server(&[]);
    let mut other = connect(addr);
    write_frame(&mut other, b"before").unwrap();
    assert_eq!(read_frame(&mut other, 64).unwrap().unwrap(), b"before");

    let mut cut = connect(addr);
    let cut_addr = cut.local_addr().unwrap();
    cut.write_all(&[0, 0, 0, 10, b'a', b'b', b'c']).unwrap(); // 3 of 10 bytes
    cut.shutdown(Shutdown::Write).unwrap();
    let line = server.wait_for_stderr_line(&cut_addr.to_string());
    assert_eq!(
        line,
        format!(
            "error: cannot read a frame from {cut_addr}: the stream ended inside a frame of 10 \
             bytes (the peer closed the connection early)"
        )
    );

    let mut reset = connect(addr);
    let reset_addr = reset.local_addr().unwrap();
    reset.write_all(&[0, 0, 0, 10, b'a']).unwrap();
    thread::sleep(Duration::from_millis(100)); // let the server start on the frame
    // Linger with a zero timeout: `close` sends a reset instead of a FIN.
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset);
    let line = server.wait_for_stderr_line(&reset_addr.to_string());
    assert!(
        line.starts_with(&format!("error: cannot read a frame from {reset_addr}: "))
            && line.contains("reset"),
        "{line}"
    );

    write_frame(&mut other, b"after").unwrap();
    assert_eq!(read_frame(&mut other, 64).unwrap().unwrap(), b"after");
    assert_eq!(server.stderr().len(), 2, "{:?}", server.stderr());
}

/// Out of file descriptors (`ulimit -n 40`, 60 clients): `accept` fails with EMFILE, the
/// server says so at a bounded rate, and recovers by itself once clients leave; and Ctrl-C
/// still ends it while no descriptor is free.
#[cfg(target_os = "linux")]
#[test]
fn out_of_descriptors_it_stays_cheap_recovers_and_obeys_ctrl_c() {
    let (server, addr) = common::server_with_fd_limit(
        EXAMPLE,
        &[
            "server",
            "--addr",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--queue",
            "100",
        ],
        40,
    );
    let exhaust = || -> Vec<TcpStream> {
        let clients: Vec<TcpStream> = (0..60).map(|_| connect(addr)).collect();
        server.wait_for_stderr_line("too many open files");
        clients
    };

    // 1. Exhausted: error lines, but not a flood of them (the accept loop pauses).
    let clients = exhaust();
    let before = server.stderr().len();
    thread::sleep(Duration::from_secs(1));
    let per_second = server.stderr().len() - before;
    assert!(per_second <= 20, "{per_second} error lines in a second");

    // 2. The clients leave: the server catches up with the backlog and serves again.
    drop(clients);
    let mut next = connect(addr);
    write_frame(&mut next, b"back again").unwrap();
    assert_eq!(read_frame(&mut next, 64).unwrap().unwrap(), b"back again");
    drop(next);

    // 3. Exhausted again, and Ctrl-C.
    let _clients = exhaust();
    let signalled = Instant::now();
    server.sigint();
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(3), "Ctrl-C took {took:?}");
}

/// Issue 24: kernel buffers are memory too (see chapter 07's test of the same name): frames of
/// 64 KiB, echoed to a client that never reads.
#[cfg(target_os = "linux")]
#[test]
fn a_client_that_never_reads_holds_a_bounded_kernel_send_buffer() {
    let (_server, addr) = Proc::server(EXAMPLE, &["server", "--addr", "127.0.0.1:0"]);
    let mut frame = Vec::new();
    socket_workbook::framing::write_frame(&mut frame, &[7u8; 65536]).unwrap();
    let queued = common::server_send_queue_for_a_client_that_never_reads(addr, &frame);
    eprintln!("{queued} bytes queued in the server's send buffer");
    assert!(queued <= 256 * 1024, "{queued} bytes queued");
}
