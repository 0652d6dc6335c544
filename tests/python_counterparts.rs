//! The Python counterparts in `python/` (and chapter 13's two in `bench/`) work as the chapters
//! and `python/README.md` say: each server is started the way the reader starts it
//! (`python3 python/NAME.py --addr 127.0.0.1:0`), prints `listening on ADDR` first, and is
//! talked to over real sockets. Without `python3` on the PATH every test says so and passes.

mod common;

use common::{Proc, TIMEOUT, connect, echo};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The real interpreter behind `python3`, or `None` (with the reason printed) when there is none.
///
/// `python3` may be a shim (pyenv) that runs the interpreter as a child: killing the shim would
/// leave the server running, so the tests start `sys.executable` itself.
fn python() -> Option<&'static Path> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let out = Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output();
            match out {
                Ok(out) if out.status.success() => {
                    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
                    Some(PathBuf::from(path))
                }
                _ => {
                    eprintln!(
                        "skipped: python3 is not installed (the Python counterparts need it)"
                    );
                    None
                }
            }
        })
        .as_deref()
}

/// `python3 SCRIPT ARGS…`, run from the repository root as the README says.
fn command(script: &str, args: &[&str]) -> Option<Command> {
    let mut command = Command::new(python()?);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(script)
        .args(args);
    Some(command)
}

/// Starts a Python server with `--addr 127.0.0.1:0` and waits for `listening on ADDR`.
fn server(script: &str) -> Option<(Proc, SocketAddr)> {
    let command = command(script, &["--addr", "127.0.0.1:0"])?;
    Some(Proc::spawn(script, command).listening())
}

/// Reads one `\n`-terminated line.
fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("cannot read a line");
    line
}

#[test]
fn echo_server_serves_one_client_then_exits() {
    let Some((server, addr)) = server("python/echo_server.py") else {
        return;
    };
    let mut stream = connect(addr);
    assert_eq!(echo(&mut stream, b"hello"), b"hello");
    drop(stream);
    server.wait_for_line("disconnected: 127.0.0.1:");
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        done.stdout.last().unwrap().ends_with("(5 bytes echoed)"),
        "{done:?}"
    );
}

#[test]
fn echo_client_prints_what_its_one_recv_returned() {
    let Some((_server, addr)) = server("python/echo_server.py") else {
        return;
    };
    let addr = addr.to_string();
    let mut client =
        command("python/echo_client.py", &["--addr", &addr, "hello"]).unwrap();
    let out = client.output().expect("cannot run echo_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("first recv() returned 5"), "{stdout}");
    assert!(stdout.contains("received: hello"), "{stdout}");
}

#[test]
fn sequential_server_serves_the_second_client_only_after_the_first() {
    let Some((_server, addr)) = server("python/sequential_server.py") else {
        return;
    };
    let mut first = connect(addr);
    assert_eq!(echo(&mut first, b"one"), b"one");
    let mut second = connect(addr); // connects at once: the kernel queues it
    second.write_all(b"two").unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 3];
    assert!(
        second.read(&mut buf).is_err(),
        "the second client was served too early"
    );
    drop(first);
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    second.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"two");
}

/// Two clients at once, each echoed while the other stays connected.
fn serves_two_at_once(script: &str) {
    let Some((_server, addr)) = server(script) else {
        return;
    };
    let mut first = connect(addr);
    let mut second = connect(addr);
    assert_eq!(echo(&mut second, b"second"), b"second");
    assert_eq!(echo(&mut first, b"first"), b"first");
    let big = common::pattern(300_000); // more than one recv(): the loop must keep going
    let writer = {
        let mut w = first.try_clone().unwrap();
        let big = big.clone();
        std::thread::spawn(move || w.write_all(&big).unwrap())
    };
    let mut back = vec![0u8; big.len()];
    first.read_exact(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == big, "{script}: the large echo differs");
}

#[test]
fn threaded_server_serves_two_clients_at_once() {
    serves_two_at_once("python/threaded_server.py");
}

#[test]
fn nonblocking_server_serves_two_clients_at_once() {
    serves_two_at_once("python/nonblocking_server.py");
}

#[test]
fn socketserver_upper_answers_one_recv_in_upper_case() {
    let Some((_server, addr)) = server("python/socketserver_upper.py") else {
        return;
    };
    let mut stream = connect(addr);
    stream.write_all(b"hello\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap(); // the handler returns: the server closes
    assert_eq!(answer, b"HELLO");
}

#[test]
fn socketserver_lines_says_hello_to_each_line() {
    let Some((_server, addr)) = server("python/socketserver_lines.py") else {
        return;
    };
    let stream = connect(addr);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    writer.write_all(b"world\n").unwrap();
    assert_eq!(read_line(&mut reader), "hello world\n");
    writer.write_all(b"again\n").unwrap();
    assert_eq!(read_line(&mut reader), "hello again\n");
}

#[test]
fn select_server_answers_each_read_with_its_greeting() {
    let Some((_server, addr)) = server("python/select_server.py") else {
        return;
    };
    let mut a = connect(addr);
    let b = connect(addr);
    let mut reader = BufReader::new(b.try_clone().unwrap());
    let mut b = b;
    b.write_all(b"anything\n").unwrap();
    assert_eq!(read_line(&mut reader), "Hello, world!\n");
    a.write_all(b"x").unwrap();
    let mut greeting = [0u8; 14];
    a.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"Hello, world!\n");
}

#[test]
fn chat_server_broadcasts_to_the_others() {
    let Some((server, addr)) = server("python/chat_server.py") else {
        return;
    };
    let mut ada = connect(addr);
    let bob = connect(addr);
    // Both joined before anyone speaks (the server prints a line per connection).
    server.wait_for_line("connected:");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while server.stdout().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            server.stdout()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    ada.write_all(b"hi bob\n").unwrap();
    let mut reader = BufReader::new(bob);
    assert_eq!(read_line(&mut reader), "hi bob\n");
}

#[test]
fn udp_time_server_answers_every_datagram_with_a_line() {
    let Some((_server, addr)) = server("python/udp_time_server.py") else {
        return;
    };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.set_write_timeout(Some(TIMEOUT)).unwrap();
    for _ in 0..2 {
        socket.send_to(b"time?", addr).unwrap();
        let mut buf = [0u8; 100];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(from, addr);
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        // time.ctime(): `Tue Nov 24 08:00:02 2026`, then the newline.
        assert!(line.ends_with('\n') && line.len() == 25, "{line:?}");
    }
    let addr = addr.to_string();
    // The chapter 10 client accepts its reply, as python/README.md says.
    let rust = common::run("10_udp_time_client", &["--addr", &addr], b"");
    assert_eq!(rust.code(), Some(0), "{rust:?}");
    let out = command("python/udp_time_client.py", &["--addr", &addr])
        .unwrap()
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 24);
}

#[test]
fn udp_time_client_gives_up_after_its_timeout() {
    let Some(mut client) = command(
        "python/udp_time_client.py",
        &[
            "--addr",
            &common::closed_port_addr().to_string(),
            "--timeout",
            "1",
        ],
    ) else {
        return;
    };
    let out = client.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn bench_servers_echo() {
    for script in [
        "bench/python_threaded_echo.py",
        "bench/python_selectors_echo.py",
    ] {
        // Chapter 13 starts them with the address as their one argument.
        let Some(command) = command(script, &["127.0.0.1:0"]) else {
            return;
        };
        let (_server, addr) = Proc::spawn(script, command).listening();
        let mut stream = connect(addr);
        assert_eq!(echo(&mut stream, b"hello"), b"hello", "{script}");
    }
}

#[test]
fn platform_checks_print_what_the_portability_appendix_says_of_linux() {
    let Some(mut checks) = command("python/platform_checks.py", &[]) else {
        return;
    };
    let out = checks.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for check in ["rst:", "udp:", "sndbuf:", "v6only:", "eintr:"] {
        assert!(stdout.contains(check), "{check} missing:\n{stdout}");
    }
    if !cfg!(target_os = "linux") {
        return;
    }
    // The Linux column of book/src/portability.md, line by line.
    for expected in [
        "rst: first recv -> b'hello'",
        "rst: second recv -> ConnectionResetError (ECONNRESET)",
        "udp: unconnected socket, reply from a closed port -> TimeoutError",
        "udp: connected socket, reply from a closed port -> ConnectionRefusedError (ECONNREFUSED)",
        "udp: 100-byte datagram into a 10-byte buffer -> b'yyyyyyyyyy'",
        "sndbuf: set 65536, read back -> 131072",
        "eintr: SO_RCVTIMEO unset, signal after 0.3 s: recv -> 1 byte(s)",
        "eintr: SO_RCVTIMEO set, signal after 0.3 s: recv -> EINTR",
    ] {
        assert!(
            stdout.contains(expected),
            "expected {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn http_server_answers_hello_and_echo_with_keep_alive() {
    let Some((_server, addr)) = server("python/http_server.py") else {
        return;
    };
    let mut stream = connect(addr);
    // Two requests on one connection: keep-alive, as chapter 19's server.
    stream
        .write_all(
            b"GET /hello?name=ada HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    for body in ["hello, ada\n", "hi"] {
        let mut head = String::new();
        loop {
            let line = read_line(&mut reader);
            if line.trim_end().is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {}\r\n", body.len())),
            "{head}"
        );
        let mut got = vec![0; body.len()];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(got, body.as_bytes());
    }
}

#[test]
fn wsgi_hello_answers_hello_and_echo_and_closes() {
    let Some((_server, addr)) = server("python/wsgi_hello.py") else {
        return;
    };
    for (request, body) in [
        (
            &b"GET /hello?name=ada HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            "hello, ada\n",
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
            "hi",
        ),
    ] {
        let mut stream = connect(addr);
        stream.write_all(request).unwrap();
        // wsgiref speaks HTTP/1.0: one request, then it closes.
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
        assert!(reply.ends_with(&format!("\r\n\r\n{body}")), "{reply}");
    }
}
