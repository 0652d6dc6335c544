//! The program output that the book shows, produced by running the examples for real.
//!
//! Each scenario below runs examples the way a chapter tells the reader to, and renders what
//! each terminal shows into `book/src/outputs/NAME.txt`; chapters include those files. This test
//! fails when a program no longer prints what the book shows. After an intended change,
//! regenerate them with:
//!
//! ```text
//! UPDATE_BOOK_OUTPUTS=1 cargo test --test book_outputs
//! ```
//!
//! Run-dependent values are masked so that the files are stable: the server's port (the test
//! uses port 0) is shown as the default 7878 the reader's command uses, every other port (a
//! client's, picked by its OS) as 51000, 51001, … in order of appearance.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use common::{Finished, Proc, TIMEOUT, closed_port_addr};

/// Every file in `book/src/outputs/`, and the scenario that writes it.
const OUTPUTS: &[&str] = &[
    "01-server.txt",
    "01-client.txt",
    "01-address-in-use.txt",
    "02-size.txt",
    "02-refused.txt",
    "02-deadlock.txt",
    "03-server.txt",
    "03-client-1.txt",
    "03-client-2.txt",
    "03-ctrl-c.txt",
    "04-server.txt",
    "04-client-1.txt",
    "04-client-2.txt",
    "04-idle-server.txt",
    "04-idle-client.txt",
    "05-server.txt",
    "05-client-1.txt",
    "05-client-2.txt",
    "06-demo.txt",
    "06-rerun.txt",
    "07-server.txt",
    "08-server.txt",
    "09-server.txt",
    "10-client.txt",
    "10-rfc868.txt",
    "10-retry.txt",
    "10-refused.txt",
    "11-merge.txt",
    "11-split.txt",
    "12-server.txt",
    "12-client.txt",
    "12-limit-server.txt",
    "12-limit-client.txt",
    "13-loads.txt",
    "14-server.txt",
    "14-ada.txt",
    "14-bob.txt",
    "14-mallory.txt",
    "14-attack.txt",
    "15-receiver.txt",
    "15-sender.txt",
    "16-server.txt",
    "16-client.txt",
    "17-server.txt",
    "17-clients.txt",
    "17-fallback.txt",
    "17-blackhole.txt",
    "17-happy-eyeballs.txt",
    "17-errors.txt",
    "18-echo-server.txt",
    "18-echo-client.txt",
    "18-chat-server.txt",
    "18-chat-ada.txt",
    "19-server.txt",
    "19-hello.txt",
    "19-pipelined.txt",
    "19-refused.txt",
    "20-server.txt",
    "20-bob.txt",
];

fn outputs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book/src/outputs")
}

/// What the terminals of one scenario showed, with ports masked.
struct Transcripts {
    server_port: u16,
    /// The port the reader's command uses by default, shown instead of `server_port`.
    shown_port: u16,
    other_ports: BTreeMap<u16, u16>,
    files: Vec<(&'static str, String)>,
}

impl Transcripts {
    fn new(server_port: u16) -> Self {
        Transcripts {
            server_port,
            shown_port: 7878,
            other_ports: BTreeMap::new(),
            files: Vec::new(),
        }
    }

    /// The same, for an example whose default port is `shown_port` (UDP's 7879).
    fn with_default_port(server_port: u16, shown_port: u16) -> Self {
        Transcripts {
            shown_port,
            ..Transcripts::new(server_port)
        }
    }

    /// Adds a terminal: the command the reader types, then what it printed.
    fn add(&mut self, file: &'static str, command: &str, lines: &[String]) {
        let mut text = format!("$ {command}\n");
        for line in lines {
            text.push_str(&self.mask(line));
            text.push('\n');
        }
        self.files.push((file, text));
    }

    /// Replaces every `IP:PORT` port: the server's with 7878, others with 51000, 51001, …
    fn mask(&mut self, line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some((start, end)) = find_port(rest) {
            let port: u16 = rest[start..end].parse().unwrap();
            let shown = if port == self.server_port {
                self.shown_port
            } else {
                let next = 51000 + self.other_ports.len() as u16;
                *self.other_ports.entry(port).or_insert(next)
            };
            out.push_str(&rest[..start]);
            out.push_str(&shown.to_string());
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    /// Compares with the files in `book/src/outputs/`, or rewrites them when asked to.
    fn check(self) {
        let update = std::env::var_os("UPDATE_BOOK_OUTPUTS").is_some();
        for (name, text) in self.files {
            assert!(OUTPUTS.contains(&name), "{name} is missing from OUTPUTS");
            let path = outputs_dir().join(name);
            if update {
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let shown = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                shown == text,
                "book/src/outputs/{name} no longer matches what the program prints.\n\
                 --- the book shows:\n{shown}\n--- the program printed:\n{text}\n\
                 If the change is intended: UPDATE_BOOK_OUTPUTS=1 cargo test --test book_outputs"
            );
        }
    }
}

/// The byte range of the next port number that follows `127.0.0.1:` or `]:`, if any.
fn find_port(text: &str) -> Option<(usize, usize)> {
    let mut best: Option<usize> = None;
    for marker in ["127.0.0.1:", "]:"] {
        if let Some(i) = text.find(marker) {
            let start = i + marker.len();
            if text[start..].starts_with(|c: char| c.is_ascii_digit()) {
                best = Some(best.map_or(start, |b: usize| b.min(start)));
            }
        }
    }
    let start = best?;
    let len = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len() - start);
    Some((start, start + len))
}

/// The stdout lines, then the stderr lines, then the exit code when it is not 0: what a
/// terminal shows for a program that prints its error last.
fn terminal(done: &Finished) -> Vec<String> {
    let mut lines = done.stdout.clone();
    lines.extend(done.stderr.iter().cloned());
    if done.code() != Some(0) {
        lines.push("$ echo $?".into());
        lines.push(done.code().map_or("(killed)".into(), |c| c.to_string()));
    }
    lines
}

/// A server's terminal: the lines it printed before Ctrl-C, `^C`, then the rest. The terminal
/// echoes `^C` without a newline, so the program's next line follows on the same line.
fn with_ctrl_c(before_signal: &[String], all: &[String]) -> Vec<String> {
    let mut shown = before_signal.to_vec();
    let mut rest = all[before_signal.len()..].iter();
    shown.push(format!("^C{}", rest.next().map_or("", String::as_str)));
    shown.extend(rest.cloned());
    shown
}

/// Replaces the number (digits, perhaps a decimal point) between `before` and `after` with `…`,
/// for figures that vary by run.
fn mask_number(line: &str, before: &str, after: &str) -> String {
    match line.find(before) {
        Some(i) => {
            let start = i + before.len();
            match line[start..].find(after) {
                Some(len)
                    if len > 0
                        && line[start..start + len]
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b == b'.') =>
                {
                    format!("{}…{}", &line[..start], &line[start + len..])
                }
                _ => line.to_string(),
            }
        }
        None => line.to_string(),
    }
}

#[test]
fn masking_covers_every_port_form() {
    let mut t = Transcripts::new(4000);
    assert_eq!(
        t.mask("listening on 127.0.0.1:4000"),
        "listening on 127.0.0.1:7878"
    );
    assert_eq!(
        t.mask("connected: 127.0.0.1:39999 and [::1]:40001, 127.0.0.1:39999"),
        "connected: 127.0.0.1:51000 and [::1]:51001, 127.0.0.1:51000"
    );
    assert_eq!(t.mask("no port here: 127.0.0.1"), "no port here: 127.0.0.1");
    assert_eq!(
        mask_number("after 1234 of 99 bytes", "after ", " of"),
        "after … of 99 bytes"
    );
    assert_eq!(
        mask_time(
            "Tue Jan  6 09:05:01 2027 CET (RFC 868: 3976619101 seconds since 1900)"
        ),
        "Mon Nov 23 17:20:00 2026 CET (RFC 868: 4004443200 seconds since 1900)"
    );
    assert_eq!(
        mask_time("not a time at all, but long enough"),
        "not a time at all, but long enough"
    );
}

#[test]
fn chapter_01_echo_server_and_client() {
    let (server, addr) = Proc::server("01_echo_server", &["--addr", "127.0.0.1:0"]);
    let client = common::run(
        "02_echo_client",
        &["--addr", &addr.to_string(), "hello", "world"],
        b"",
    );
    let server = server.wait(TIMEOUT);
    let in_use = {
        let (_busy, busy_addr) =
            Proc::server("01_echo_server", &["--addr", "127.0.0.1:0"]);
        let second =
            common::run("01_echo_server", &["--addr", &busy_addr.to_string()], b"");
        (busy_addr, second)
    };

    let mut t = Transcripts::new(addr.port());
    t.add(
        "01-server.txt",
        "cargo run --example 01_echo_server",
        &terminal(&server),
    );
    t.add(
        "01-client.txt",
        "cargo run --example 02_echo_client -- hello world",
        &terminal(&client),
    );
    t.check();
    let mut t = Transcripts::new(in_use.0.port());
    t.add(
        "01-address-in-use.txt",
        "cargo run --example 01_echo_server",
        &terminal(&in_use.1),
    );
    t.check();
}

#[test]
fn chapter_02_size_refused_and_deadlock() {
    let (server, addr) = Proc::server("01_echo_server", &["--addr", "127.0.0.1:0"]);
    let size = common::run(
        "02_echo_client",
        &["--addr", &addr.to_string(), "--size", "1000000"],
        b"",
    );
    drop(server);
    let mut t = Transcripts::new(addr.port());
    t.add(
        "02-size.txt",
        "cargo run --example 02_echo_client -- --size 1000000",
        &terminal(&size),
    );
    t.check();

    let closed = closed_port_addr();
    let refused = common::run(
        "02_echo_client",
        &["--addr", &closed.to_string(), "hello"],
        b"",
    );
    let mut t = Transcripts::new(closed.port());
    t.add(
        "02-refused.txt",
        "cargo run --example 02_echo_client -- hello",
        &terminal(&refused),
    );
    t.check();

    let (server, addr) = Proc::server("01_echo_server", &["--addr", "127.0.0.1:0"]);
    let args = ["--size", "64000000", "--single-thread", "--timeout", "1"];
    let mut full = vec!["--addr".to_string(), addr.to_string()];
    full.extend(args.iter().map(|a| a.to_string()));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let deadlock = common::run("02_echo_client", &full, b"");
    drop(server);
    let lines: Vec<String> = terminal(&deadlock)
        .iter()
        .map(|l| mask_number(l, "after ", " of"))
        .collect();
    let mut t = Transcripts::new(addr.port());
    let command = format!("cargo run --example 02_echo_client -- {}", args.join(" "));
    t.add("02-deadlock.txt", &command, &lines);
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_03_two_clients_in_turn_then_ctrl_c() {
    let (server, addr) =
        Proc::server("03_sequential_server", &["--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();

    // Terminal 2: an interactive client; the reader types a line and sees it come back.
    let mut first = Proc::start("02_echo_client", &["--addr", &addr_arg]);
    first.write_stdin(b"typed by the first client\n");
    first.wait_for_line("typed by the first client");

    // Terminal 3: a second client, which waits while the first is connected (for up to a
    // minute: the reader needs time to go back to terminal 2).
    let second_args = ["--addr", &addr_arg, "--timeout", "60", "hello"];
    let second = Proc::start("02_echo_client", &second_args);
    server.wait_for_line("connected:");
    thread::sleep(Duration::from_millis(300));
    assert!(
        second.stdout().is_empty(),
        "the second client was served too early"
    );

    // The first client ends (Ctrl-D); now the second one is served.
    let first = first.wait(TIMEOUT);
    let second = second.wait(TIMEOUT);
    let before_signal = {
        server.wait_for_line("(5 bytes echoed)");
        server.stdout()
    };
    server.sigint();
    let server = server.wait(TIMEOUT);

    let shown = with_ctrl_c(&before_signal, &server.stdout);
    let mut typed = vec!["typed by the first client".to_string()];
    typed.extend(terminal(&first));
    typed.push("^D".into());

    let mut t = Transcripts::new(addr.port());
    t.add(
        "03-server.txt",
        "cargo run --example 03_sequential_server",
        &shown,
    );
    t.add(
        "03-client-1.txt",
        "cargo run --example 02_echo_client",
        &typed,
    );
    t.add(
        "03-client-2.txt",
        "cargo run --example 02_echo_client -- --timeout 60 hello",
        &terminal(&second),
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_03_ctrl_c_with_a_client_connected() {
    let (server, addr) =
        Proc::server("03_sequential_server", &["--addr", "127.0.0.1:0"]);
    let mut client = Proc::start("02_echo_client", &["--addr", &addr.to_string()]);
    client.write_stdin(b"hello\n");
    client.wait_for_line("hello");
    // The echo came back, so the server has printed its `connected:` line; wait until our
    // draining thread has read it too, so that `^C` goes after it in the transcript.
    server.wait_for_line("connected:");
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    drop(client);

    let shown = with_ctrl_c(&before_signal, &server.stdout);
    let mut t = Transcripts::new(addr.port());
    t.add(
        "03-ctrl-c.txt",
        "cargo run --example 03_sequential_server",
        &shown,
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_04_two_clients_at_once_then_ctrl_c() {
    let (server, addr) =
        Proc::server("04_threaded_server", &["--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();

    // Terminal 2: an interactive client that types one line, then stays connected.
    let mut first = Proc::start("02_echo_client", &["--addr", &addr_arg]);
    first.write_stdin(b"typed by the first client\n");
    first.wait_for_line("typed by the first client");

    // Terminal 3: served at once, although the first client is still connected.
    let second =
        Proc::start("02_echo_client", &["--addr", &addr_arg, "hello"]).wait(TIMEOUT);
    server.wait_for_line("disconnected:");

    // Ctrl-C in terminal 1 closes the first client, which is still connected.
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    drop(first);

    let mut t = Transcripts::new(addr.port());
    t.add(
        "04-server.txt",
        "cargo run --example 04_threaded_server",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    t.add(
        "04-client-1.txt",
        "cargo run --example 02_echo_client",
        &[
            "typed by the first client".to_string(),
            "typed by the first client".to_string(),
        ],
    );
    t.add(
        "04-client-2.txt",
        "cargo run --example 02_echo_client -- hello",
        &terminal(&second),
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_04_an_idle_client_is_closed() {
    let args = ["--addr", "127.0.0.1:0", "--idle-timeout", "5"];
    let (server, addr) = Proc::server("04_threaded_server", &args);

    // Terminal 2: a client that connects and types nothing.
    let mut client = Proc::start("02_echo_client", &["--addr", &addr.to_string()]);
    server.wait_for_line("connected:");
    // Five seconds of silence later, the server closes it.
    server.wait_for_line("idle: closed");
    // Only now does the reader type a line: the client finds the connection closed.
    client.write_stdin(b"too late\n");
    let client = client.wait(TIMEOUT);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);

    let mut typed = vec!["too late".to_string()];
    typed.extend(terminal(&client));
    let mut t = Transcripts::new(addr.port());
    t.add(
        "04-idle-server.txt",
        "cargo run --example 04_threaded_server -- --idle-timeout 5",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    t.add(
        "04-idle-client.txt",
        "cargo run --example 02_echo_client",
        &typed,
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_05_one_worker_one_place_in_the_queue() {
    let args = ["--addr", "127.0.0.1:0", "--workers", "1", "--queue", "1"];
    let (server, addr) = Proc::server("05_thread_pool_server", &args);
    let addr_arg = addr.to_string();

    // Terminal 2: served, and holds the only worker while it waits for more typing.
    let mut first = Proc::start("02_echo_client", &["--addr", &addr_arg]);
    first.write_stdin(b"typed by the first client\n");
    first.wait_for_line("typed by the first client");

    // Terminal 3: takes the only place in the queue.
    // `--timeout 120`: queued, it gets no echo until the reader has ended terminal 2.
    let second = Proc::start(
        "02_echo_client",
        &["--addr", &addr_arg, "--timeout", "120", "hello"],
    );
    server.wait_for_line("(1 waiting)");
    thread::sleep(Duration::from_millis(200));
    assert!(
        server
            .stdout()
            .iter()
            .filter(|l| l.starts_with("queued: "))
            .count()
            == 2
    );

    // Terminal 4 (`nc`, played by the test): no worker, no place: told so at once.
    let third = common::connect(addr);
    let mut busy = String::new();
    std::io::Read::read_to_string(&mut &third, &mut busy).unwrap();
    assert_eq!(busy, "server busy, try again later\n");

    // Terminal 2 ends (Ctrl-D): its worker takes the queued client.
    let first_lines = first.stdout();
    let _ = first.wait(TIMEOUT);
    let second = second.wait(TIMEOUT);
    server.wait_for_line("done: ");
    wait_for_count(&server, "done: ", 2);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);

    let mut typed = vec!["typed by the first client".to_string()];
    typed.extend(first_lines);
    typed.push("^D".into());
    let mut t = Transcripts::new(addr.port());
    t.add(
        "05-server.txt",
        "cargo run --example 05_thread_pool_server -- --workers 1 --queue 1",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    t.add(
        "05-client-1.txt",
        "cargo run --example 02_echo_client",
        &typed,
    );
    t.add(
        "05-client-2.txt",
        "cargo run --example 02_echo_client -- --timeout 120 hello",
        &terminal(&second),
    );
    t.check();
}

#[test]
fn chapter_06_the_demonstration() {
    let done = common::run("06_reuse_address", &["--addr", "127.0.0.1:0"], b"");
    // Port 0 is the example's default, so the reader's command has no --addr; no port in the
    // output is "the server's", so all are shown as 51000, 51001, …
    let mut t = Transcripts::new(0);
    t.add(
        "06-demo.txt",
        "cargo run --example 06_reuse_address",
        &terminal(&done),
    );
    t.check();
}

#[test]
fn chapter_06_a_second_run_on_a_fixed_port() {
    // The first run leaves step 2's connection in TIME_WAIT on the port, and uses the next two
    // ports for steps 3 and 4: if one of those happens to be taken, try another port.
    let (port, second) = (0..5)
        .find_map(|_| {
            let addr = closed_port_addr();
            let first =
                common::run("06_reuse_address", &["--addr", &addr.to_string()], b"");
            (first.code() == Some(0)).then(|| {
                let again = common::run(
                    "06_reuse_address",
                    &["--addr", &addr.to_string()],
                    b"",
                );
                (addr.port(), again)
            })
        })
        .expect("no run of 06_reuse_address on a fixed port succeeded");
    let mut t = Transcripts::with_default_port(port, 7000);
    t.add(
        "06-rerun.txt",
        "cargo run --example 06_reuse_address -- --addr 127.0.0.1:7000",
        &terminal(&second),
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_07_one_thread_two_clients_then_ctrl_c() {
    one_thread_two_clients_then_ctrl_c("07_nonblocking_loop", "07-server.txt");
}

#[cfg(unix)]
#[test]
fn chapter_08_one_thread_two_clients_then_ctrl_c() {
    one_thread_two_clients_then_ctrl_c("08_poll_server", "08-server.txt");
}

/// A single-threaded server with an interactive client held open, a second client served at
/// once, then Ctrl-C.
#[cfg(unix)]
fn one_thread_two_clients_then_ctrl_c(example: &str, file: &'static str) {
    let (server, addr) = Proc::server(example, &["--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();
    let mut first = Proc::start("02_echo_client", &["--addr", &addr_arg]);
    first.write_stdin(b"typed by the first client\n");
    first.wait_for_line("typed by the first client");
    let second =
        Proc::start("02_echo_client", &["--addr", &addr_arg, "hello"]).wait(TIMEOUT);
    assert_eq!(second.stdout, ["hello"]);
    wait_for_count(&server, "disconnected: ", 1);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    drop(first);

    let mut t = Transcripts::new(addr.port());
    t.add(
        file,
        &format!("cargo run --example {example}"),
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    t.check();
}

/// The time the book shows for every run: 2026-11-23 17:20:00 UTC.
const SHOWN_TIME: &str = "Mon Nov 23 17:20:00 2026";

/// Replaces a `ctime`-style time (`Mon Nov 23 17:19:52 2026`) at the start of `line` with
/// [`SHOWN_TIME`], after checking that it really is one; and the RFC 868 count of seconds with
/// the one for that same instant.
fn mask_time(line: &str) -> String {
    let format = "%a %b %e %H:%M:%S %Y";
    let Some(prefix) = line.get(..SHOWN_TIME.len()) else {
        return line.to_string();
    };
    if jiff::fmt::strtime::parse(format, prefix).is_err() {
        return line.to_string();
    }
    let line = format!("{SHOWN_TIME}{}", &line[SHOWN_TIME.len()..]);
    let shown: jiff::Timestamp = "2026-11-23T17:20:00Z".parse().unwrap();
    let seconds =
        u32::from_be_bytes(socket_workbook::rfc868::encode(shown)).to_string();
    match mask_number(&line, "(RFC 868: ", " seconds") {
        masked if masked != line => masked.replace('…', &seconds),
        _ => line,
    }
}

#[cfg(unix)]
#[test]
fn chapters_09_and_10_time_over_udp() {
    // The book shows UTC; a reader's machine prints its own zone.
    let utc = [("TZ", "UTC")];
    let (server, addr) =
        Proc::server_with_env("09_udp_time_server", &["--addr", "127.0.0.1:0"], &utc);
    let addr_arg = addr.to_string();
    let client =
        Proc::start_with_env("10_udp_time_client", &["--addr", &addr_arg], &utc)
            .wait(TIMEOUT);
    // A request over the server's limit, as `head -c 2000 /dev/zero | nc -u 127.0.0.1 7879` sends.
    let oversized = common::udp_client(addr);
    oversized.send(&[0u8; 2000]).unwrap();
    server.wait_for_line("ignored: ");
    let again =
        Proc::start_with_env("10_udp_time_client", &["--addr", &addr_arg], &utc)
            .wait(TIMEOUT);
    assert_eq!(again.code(), Some(0));
    wait_for_count(&server, "answered: ", 2);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    let mut t = Transcripts::with_default_port(addr.port(), 7879);
    t.add(
        "09-server.txt",
        "cargo run --example 09_udp_time_server",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    let shown: Vec<String> = terminal(&client).iter().map(|l| mask_time(l)).collect();
    t.add(
        "10-client.txt",
        "cargo run --example 10_udp_time_client",
        &shown,
    );
    t.check();

    let args = ["--addr", "127.0.0.1:0", "--format", "rfc868"];
    let (server, addr) = Proc::server_with_env("09_udp_time_server", &args, &utc);
    let client_args = ["--addr", &addr.to_string(), "--format", "rfc868"];
    let client =
        Proc::start_with_env("10_udp_time_client", &client_args, &utc).wait(TIMEOUT);
    drop(server);
    let shown: Vec<String> = terminal(&client).iter().map(|l| mask_time(l)).collect();
    let mut t = Transcripts::with_default_port(addr.port(), 7879);
    t.add(
        "10-rfc868.txt",
        "cargo run --example 10_udp_time_client -- --format rfc868",
        &shown,
    );
    t.check();

    // Seed 6 drops the first reply (the server draws one number per request).
    let args = ["--addr", "127.0.0.1:0", "--drop-rate", "0.5", "--seed", "6"];
    let (server, addr) = Proc::server_with_env("09_udp_time_server", &args, &utc);
    let client = Proc::start_with_env(
        "10_udp_time_client",
        &["--addr", &addr.to_string()],
        &utc,
    )
    .wait(TIMEOUT);
    drop(server);
    // The retry lines (stderr) come before the answer (stdout), as in a terminal.
    assert_eq!(client.code(), Some(0));
    let mut shown = client.stderr.clone();
    shown.extend(client.stdout.iter().map(|l| mask_time(l)));
    let mut t = Transcripts::with_default_port(addr.port(), 7879);
    t.add(
        "10-retry.txt",
        "cargo run --example 10_udp_time_client",
        &shown,
    );
    t.check();

    let closed = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let refused =
        common::run("10_udp_time_client", &["--addr", &closed.to_string()], b"");
    let mut t = Transcripts::with_default_port(closed.port(), 7879);
    t.add(
        "10-refused.txt",
        "cargo run --example 10_udp_time_client",
        &terminal(&refused),
    );
    t.check();
}

#[test]
fn chapter_11_merge_and_split() {
    for (file, mode) in [("11-merge.txt", "merge"), ("11-split.txt", "split")] {
        let args = [
            "--addr",
            "127.0.0.1:0",
            "--mode",
            mode,
            "--seed",
            "7",
            "--messages",
            "12",
        ];
        let done = common::run("11_sticky_packets", &args, b"");
        // Port 0 is the example's default, so the reader's command has no --addr, and the
        // port it gets is any: shown as 51000, like a client's.
        let mut t = Transcripts::new(0);
        let command = format!(
            "cargo run --example 11_sticky_packets -- --mode {mode} --seed 7 --messages 12"
        );
        t.add(file, &command, &terminal(&done));
        t.check();
    }
}

#[cfg(unix)]
#[test]
fn chapter_12_framed_echo() {
    let example = "12_framed_messages";
    let (server, addr) = Proc::server(example, &["server", "--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();
    let messages = common::run(
        example,
        &["client", "--addr", &addr_arg, "hello", "two words"],
        b"",
    );
    let random = common::run(
        example,
        &[
            "client", "--addr", &addr_arg, "--count", "100", "--seed", "1",
        ],
        b"",
    );
    wait_for_count(&server, "done: ", 2);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    let mut t = Transcripts::new(addr.port());
    t.add(
        "12-server.txt",
        "cargo run --example 12_framed_messages -- server",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    let mut client = vec![];
    client.extend(terminal(&messages));
    client.push(
        "$ cargo run --example 12_framed_messages -- client --count 100 --seed 1"
            .into(),
    );
    client.extend(terminal(&random));
    t.add(
        "12-client.txt",
        "cargo run --example 12_framed_messages -- client hello \"two words\"",
        &client,
    );
    t.check();

    let args = ["server", "--addr", "127.0.0.1:0", "--max-frame", "16"];
    let (server, addr) = Proc::server(example, &args);
    let long = common::run(
        example,
        &[
            "client",
            "--addr",
            &addr.to_string(),
            "a message longer than sixteen bytes",
        ],
        b"",
    );
    server.wait_for_stderr_line("bad frame");
    wait_for_count(&server, "done: ", 1);
    let mut lines = server.stdout();
    lines.extend(server.stderr());
    // stdout and stderr interleave in a terminal; the error line comes right before `done:`.
    let done_at = lines.iter().position(|l| l.starts_with("done: ")).unwrap();
    let error = lines.pop().unwrap();
    lines.insert(done_at, error);
    let mut t = Transcripts::new(addr.port());
    t.add(
        "12-limit-server.txt",
        "cargo run --example 12_framed_messages -- server --max-frame 16",
        &lines,
    );
    t.add(
        "12-limit-client.txt",
        "cargo run --example 12_framed_messages -- client \"a message longer than sixteen bytes\"",
        &terminal(&long),
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_13_one_run_of_each_load() {
    // Chapter 08's server for the raw-echo loads, chapter 12's for `framed`, as the chapter
    // says; one second each (the chapter's command is the same), figures masked: they vary
    // from run to run and machine to machine, the shape of each line does not.
    let (echo, addr) = Proc::server("08_poll_server", &["--addr", "127.0.0.1:0"]);
    let (framed, framed_addr) =
        Proc::server("12_framed_messages", &["server", "--addr", "127.0.0.1:0"]);
    let loads: [&[&str]; 4] = [
        &["pingpong", "--clients", "50", "--secs", "1"],
        &["stream", "--secs", "1"],
        &["hold", "--connections", "100"],
        &["framed", "--clients", "10", "--secs", "1"],
    ];
    let mask = |line: &String| -> String {
        let mut line = line.clone();
        for (before, after) in [
            ("messages: ", " round trips"),
            (" in ", " s ="),
            ("= ", "/s"),
            ("p50 ", " ms"),
            ("p99 ", " ms"),
            ("max ", " ms"),
            ("): ", " bytes"),
            ("= ", " MB/s"),
            (" in ", " s ("),
            ("connect ", " ms)"),
            ("once: ", " s in all"),
        ] {
            line = mask_number(&line, before, after);
        }
        line
    };
    let mut shown = Vec::new();
    for (i, load) in loads.iter().enumerate() {
        let target = if load[0] == "framed" {
            framed_addr
        } else {
            addr
        };
        let target = target.to_string();
        let mut args = load.to_vec();
        args.extend(["--addr", &target]);
        let done = common::run("13_load_generator", &args, b"");
        assert_eq!(
            done.code(),
            Some(0),
            "13_load_generator {load:?} failed: {done:?}"
        );
        assert!(
            done.stdout.iter().any(|l| l.ends_with("all verified")),
            "13_load_generator {load:?} did not verify its bytes: {:?}",
            done.stdout
        );
        if i > 0 {
            // `framed` names its server's address; masked below as the chapter's 7879.
            let addr_arg = if load[0] == "framed" {
                format!(" --addr {target}")
            } else {
                String::new()
            };
            shown.push(format!(
                "$ cargo run --release --example 13_load_generator -- {}{addr_arg}",
                load.join(" ")
            ));
        }
        shown.extend(terminal(&done).iter().map(mask));
    }
    drop(echo);
    drop(framed);
    let mut t = Transcripts::with_default_port(framed_addr.port(), 7879);
    t.add(
        "13-loads.txt",
        &format!(
            "cargo run --release --example 13_load_generator -- {}",
            loads[0].join(" ")
        ),
        &shown,
    );
    t.check();
}

#[test]
fn chapter_14_a_chat() {
    let example = "14_chat_room";
    let (server, addr) = Proc::server(example, &["server", "--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();
    let mut bob =
        Proc::start(example, &["client", "--addr", &addr_arg, "--nick", "bob"]);
    bob.wait_for_line("* hello bob");
    let typed = ["hello, bob", "/who"];
    let ada = common::run(
        example,
        &["client", "--addr", &addr_arg, "--nick", "ada"],
        format!("{}\n", typed.join("\n")).as_bytes(),
    );
    bob.wait_for_line("* ada left");
    bob.write_stdin(b"/quit\n");
    let bob = bob.wait(TIMEOUT);
    wait_for_count(&server, "left: ", 2);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);

    let mut t = Transcripts::new(addr.port());
    t.add(
        "14-server.txt",
        "cargo run --example 14_chat_room -- server",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    // Ada's terminal: the greeting, what she typed, the answer to /who, then Ctrl-D.
    let mut shown = vec![ada.stdout[0].clone()];
    shown.extend(typed.iter().map(|l| l.to_string()));
    shown.extend(ada.stdout[1..].iter().cloned());
    shown.push("^D".into());
    t.add(
        "14-ada.txt",
        "cargo run --example 14_chat_room -- client --nick ada",
        &shown,
    );
    let mut shown = bob.stdout.clone();
    shown.push("/quit".into());
    t.add(
        "14-bob.txt",
        "cargo run --example 14_chat_room -- client --nick bob",
        &shown,
    );
    t.check();
}

/// Chapter 14's attack: a line that would erase itself on a terminal and show a forged one.
#[test]
fn chapter_14_control_characters() {
    let example = "14_chat_room";
    let (_server, addr) = Proc::server(example, &["server", "--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();
    let mut bob =
        Proc::start(example, &["client", "--addr", &addr_arg, "--nick", "bob"]);
    bob.wait_for_line("* hello bob");
    let mallory = common::run(
        example,
        &["client", "--addr", &addr_arg, "--nick", "mallory"],
        b"x\r\x1b[2Kalice: send me your password\n",
    );
    bob.wait_for_line("* mallory left");
    bob.write_stdin(b"/quit\n");
    let bob = bob.wait(TIMEOUT);

    let mut t = Transcripts::new(addr.port());
    t.add(
        "14-mallory.txt",
        "printf 'x\\r\\033[2Kalice: send me your password\\n' \\\n  \
         | cargo run --example 14_chat_room -- client --nick mallory",
        &terminal(&mallory),
    );
    let mut shown = bob.stdout.clone();
    shown.push("/quit".into());
    t.add(
        "14-attack.txt",
        "cargo run --example 14_chat_room -- client --nick bob",
        &shown,
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_16_a_frozen_client_and_a_frozen_server() {
    let example = "16_heartbeat";
    let interval = ["--interval", "0.5"];
    let mut args = vec!["server", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(&interval);
    let (server, addr) = Proc::server(example, &args);
    let addr_arg = addr.to_string();
    let mut client_args = vec!["client", "--addr", &addr_arg];
    client_args.extend_from_slice(&interval);

    // A client that hangs (SIGSTOP, as `kill -STOP` in a terminal).
    let frozen = Proc::start(example, &client_args);
    frozen.wait_for_line("the server answers");
    frozen.signal("STOP");
    server.wait_for_line("dropped: ");
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    frozen.signal("CONT");
    let mut t = Transcripts::new(addr.port());
    t.add(
        "16-server.txt",
        "cargo run --example 16_heartbeat -- server --interval 0.5",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    t.check();

    // A server that hangs, then comes back.
    let (server, addr) = Proc::server(example, &args);
    let addr_arg = addr.to_string();
    let mut client_args = vec!["client", "--addr", &addr_arg];
    client_args.extend_from_slice(&interval);
    let client = Proc::start(example, &client_args);
    client.wait_for_line("the server answers");
    server.signal("STOP");
    // Two attempts while frozen: the connect succeeds, no answer comes, the pause doubles.
    wait_for_count(&client, "reconnecting in ", 2);
    server.signal("CONT");
    wait_for_count(&client, "the server answers", 2);
    let before_signal = client.stdout();
    client.sigint();
    let client = client.wait(TIMEOUT);
    let shown: Vec<String> = with_ctrl_c(&before_signal, &client.stdout)
        .iter()
        .map(|l| mask_number(l, "answered in ", " µs"))
        .collect();
    let mut t = Transcripts::new(addr.port());
    t.add(
        "16-client.txt",
        "cargo run --example 16_heartbeat -- client --interval 0.5",
        &shown,
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_15_a_transfer_and_three_refusals() {
    let example = "15_file_transfer";
    let inbox = tempfile::TempDir::new().unwrap();
    let outbox = tempfile::TempDir::new().unwrap();
    let file = outbox.path().join("notes.txt");
    std::fs::write(&file, "three lines\nof notes\nto send\n").unwrap();
    let dir = inbox.path().to_str().unwrap();
    let (server, addr) =
        Proc::server(example, &["receive", "--dir", dir, "--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();
    let file_arg = file.to_str().unwrap();
    let sent = common::run(example, &["send", file_arg, "--addr", &addr_arg], b"");
    let again = common::run(example, &["send", file_arg, "--addr", &addr_arg], b"");
    let escape = common::run(
        example,
        &["send", file_arg, "--addr", &addr_arg, "--name", "../escape"],
        b"",
    );
    let lines = common::run(
        example,
        &[
            "send",
            file_arg,
            "--addr",
            &addr_arg,
            "--name",
            "two\nlines",
        ],
        b"",
    );
    wait_for_count(&server, "done: ", 4);
    server.wait_for_stderr_line("two\\nlines");
    let before_signal = server.stdout();
    let errors = server.stderr();
    server.sigint();
    let server = server.wait(TIMEOUT);

    // Timings vary: mask them; the directories are temporary: show the chapter's (outside
    // the repository, so that the reader's `cargo run` leaves no file in it).
    let mask = |line: &String| -> String {
        let line = line
            .replace(dir, "/tmp/inbox")
            .replace(file_arg, "/tmp/outbox/notes.txt");
        let line = mask_number(&line, " in ", " s (");
        mask_number(&line, " s (", " MB/s)")
    };
    // The receiver's terminal: its lines, with each refusal's error where it was printed
    // (right before that client's `done:` line).
    let mut receiver: Vec<String> = Vec::new();
    let mut errors = errors.into_iter();
    for line in with_ctrl_c(&before_signal, &server.stdout) {
        if line.contains("after an error") {
            receiver.extend(errors.next());
        }
        receiver.push(line);
    }
    let receiver: Vec<String> = receiver.iter().map(mask).collect();
    // The sender's terminal: the file the reader creates, its SHA-256 (as `sha256sum` prints
    // it), then the transfers.
    let sum: String =
        <sha2::Sha256 as sha2::Digest>::digest(std::fs::read(&file).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    let mut sender = vec![
        "$ sha256sum /tmp/outbox/notes.txt".to_string(),
        format!("{sum}  /tmp/outbox/notes.txt"),
        "$ cargo run --example 15_file_transfer -- send /tmp/outbox/notes.txt".into(),
    ];
    sender.extend(terminal(&sent).iter().map(mask));
    sender.push(
        "$ cargo run --example 15_file_transfer -- send /tmp/outbox/notes.txt".into(),
    );
    sender.extend(terminal(&again).iter().map(mask));
    sender.push(
        "$ cargo run --example 15_file_transfer -- send /tmp/outbox/notes.txt --name ../escape"
            .into(),
    );
    sender.extend(terminal(&escape).iter().map(mask));
    sender.push(
        "$ cargo run --example 15_file_transfer -- send /tmp/outbox/notes.txt --name $'two\\nlines'".into(),
    );
    sender.extend(terminal(&lines).iter().map(mask));
    let mut t = Transcripts::new(addr.port());
    t.add(
        "15-receiver.txt",
        "cargo run --example 15_file_transfer -- receive --dir /tmp/inbox",
        &receiver,
    );
    t.add(
        "15-sender.txt",
        r"printf 'three lines\nof notes\nto send\n' > /tmp/outbox/notes.txt",
        &sender,
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_17_dual_stack_fallback_and_happy_eyeballs() {
    let example = "17_dual_stack";
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("skipped chapter 17's outputs: no IPv6 loopback here");
        return;
    }
    let cmd = |args: &str| format!("cargo run --example 17_dual_stack -- {args}");
    // Times since the first attempt vary by a millisecond or two: masked.
    let shown = |done: &Finished| -> Vec<String> {
        let lines = terminal(done).into_iter();
        lines.map(|l| mask_number(&l, "at ", " ms:")).collect()
    };

    // A dual-stack server; an IPv4 client, then an IPv6 client.
    let (server, addr) = Proc::server(example, &["server", "--addr", "[::]:0"]);
    let (v4, v6) = (
        format!("127.0.0.1:{}", addr.port()),
        format!("[::1]:{}", addr.port()),
    );
    let v4_client = common::run(example, &["client", "--addr", &v4], b"");
    let v6_client = common::run(example, &["client", "--addr", &v6], b"");
    wait_for_count(&server, "connected: ", 2);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    let mut clients = shown(&v4_client);
    clients.push(format!("$ {}", cmd(&format!("client --addr {v6}"))));
    clients.extend(shown(&v6_client));
    let mut t = Transcripts::new(addr.port());
    t.add(
        "17-server.txt",
        &cmd("server --addr [::]:7878"),
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    t.add(
        "17-clients.txt",
        &cmd("client --addr 127.0.0.1:7878"),
        &clients,
    );
    t.check();

    // The classic failure: a server on 127.0.0.1 only, ::1 tried first.
    let (server, addr) = Proc::server(example, &["server", "--addr", "127.0.0.1:0"]);
    let first = format!("[::1]:{}", addr.port());
    let fallback = common::run(
        example,
        &["client", "--addr", &first, "--addr", &addr.to_string()],
        b"",
    );
    let mut t = Transcripts::new(addr.port());
    t.add(
        "17-fallback.txt",
        &cmd("client --addr [::1]:7878 --addr 127.0.0.1:7878"),
        &shown(&fallback),
    );
    t.check();

    // An address that never answers, then the working one: in turn, then raced.
    let (blackhole, silent) =
        Proc::server(example, &["blackhole", "--addr", "127.0.0.1:0"]);
    blackhole.wait_for_line("never accepting");
    let addrs = ["--addr", &silent.to_string(), "--addr", &addr.to_string()];
    let in_turn = common::run(
        example,
        &[&["client"], &addrs[..], &["--timeout", "2"]].concat(),
        b"",
    );
    let raced = common::run(
        example,
        &[&["client"], &addrs[..], &["--happy-eyeballs"]].concat(),
        b"",
    );
    let before_signal = blackhole.stdout();
    blackhole.sigint();
    let blackhole = blackhole.wait(TIMEOUT);
    drop(server);
    // Commands in the middle of a transcript are masked too: they carry the real ports.
    let both = |silent: u16, working: u16| {
        format!("client --addr 127.0.0.1:{silent} --addr 127.0.0.1:{working}")
    };
    let mut terminal_3 = shown(&in_turn);
    let raced_command =
        format!("{} --happy-eyeballs", both(silent.port(), addr.port()));
    terminal_3.push(format!("$ {}", cmd(&raced_command)));
    terminal_3.extend(shown(&raced));
    let mut t = Transcripts::new(addr.port());
    t.other_ports.insert(silent.port(), 7001); // the port the chapter's command uses
    t.add(
        "17-blackhole.txt",
        &cmd("blackhole --addr 127.0.0.1:7001"),
        &with_ctrl_c(&before_signal, &blackhole.stdout),
    );
    t.add(
        "17-happy-eyeballs.txt",
        &cmd(&format!("{} --timeout 2", both(7001, 7878))),
        &terminal_3,
    );
    t.check();

    // Failures: a name that does not resolve, no address of the family, nobody listening.
    let closed = closed_port_addr();
    let port = closed.port();
    let runs = [
        vec![
            "--addr".to_string(),
            "no-such-host.invalid:7878".to_string(),
        ],
        vec!["--addr".to_string(), closed.to_string(), "-6".to_string()],
        vec![
            "--addr".to_string(),
            format!("[::1]:{port}"),
            "--addr".to_string(),
            closed.to_string(),
        ],
    ];
    let mut errors = Vec::new();
    for (i, args) in runs.iter().enumerate() {
        let mut all = vec!["client"];
        all.extend(args.iter().map(String::as_str));
        let done = common::run(example, &all, b"");
        if i > 0 {
            errors.push(format!("$ {}", cmd(&all.join(" "))));
        }
        // The resolver's own words differ between systems (and with the network's state).
        errors.extend(shown(&done).iter().map(|l| {
            let known = "failed to lookup address information: ";
            match (l.find(known), l.find(" (is the name right")) {
                (Some(start), Some(end)) => {
                    format!("{}…{}", &l[..start + known.len()], &l[end..])
                }
                _ => l.clone(),
            }
        }));
    }
    let mut t = Transcripts::new(port);
    t.add(
        "17-errors.txt",
        &cmd("client --addr no-such-host.invalid:7878"),
        &errors,
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_18_echo_and_chat_on_tokio() {
    let example = "18_async_server";
    // The echo server: one client, then Ctrl-C.
    let (server, addr) = Proc::server(example, &["echo", "--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();
    let client =
        Proc::start("02_echo_client", &["--addr", &addr_arg, "hello", "tokio"])
            .wait(TIMEOUT);
    server.wait_for_line("disconnected:");
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    let mut t = Transcripts::new(addr.port());
    t.add(
        "18-echo-server.txt",
        "cargo run --example 18_async_server -- echo",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    t.add(
        "18-echo-client.txt",
        "cargo run --example 02_echo_client -- hello tokio",
        &terminal(&client),
    );
    t.check();

    // The chat room, with chapter 14's own client.
    let (server, addr) = Proc::server(example, &["chat", "--addr", "127.0.0.1:0"]);
    let addr_arg = addr.to_string();
    let mut bob = Proc::start(
        "14_chat_room",
        &["client", "--addr", &addr_arg, "--nick", "bob"],
    );
    bob.wait_for_line("* hello bob");
    let typed = ["hello from tokio", "/who"];
    let ada = common::run(
        "14_chat_room",
        &["client", "--addr", &addr_arg, "--nick", "ada"],
        format!("{}\n", typed.join("\n")).as_bytes(),
    );
    bob.wait_for_line("* ada left");
    bob.write_stdin(b"/quit\n");
    let _bob = bob.wait(TIMEOUT);
    wait_for_count(&server, "left: ", 2);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    let mut t = Transcripts::new(addr.port());
    t.add(
        "18-chat-server.txt",
        "cargo run --example 18_async_server -- chat",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    let mut shown = vec![ada.stdout[0].clone()];
    shown.extend(typed.iter().map(|l| l.to_string()));
    shown.extend(ada.stdout[1..].iter().cloned());
    shown.push("^D".into());
    t.add(
        "18-chat-ada.txt",
        "cargo run --example 14_chat_room -- client --nick ada",
        &shown,
    );
    t.check();
}

#[cfg(unix)]
#[test]
fn chapter_19_requests_by_hand_then_ctrl_c() {
    use std::io::{Read, Write};
    let (server, addr) = Proc::server("19_http_server", &["--addr", "127.0.0.1:0"]);
    // What `printf '…' | nc -N 127.0.0.1 7878` shows: the request goes out, nc half-closes,
    // and the server's bytes come back until it closes too.
    let by_hand = |request: &str| -> Vec<String> {
        let mut stream = common::connect(addr);
        stream.write_all(request.as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
            .lines()
            .map(|l| match l.strip_prefix("Date: ") {
                Some(_) => "Date: Mon, 07 Dec 2026 19:13:18 GMT".to_string(),
                None => l.to_string(),
            })
            .collect()
    };
    let command = |request: &str| {
        format!(
            "printf '{}' | nc -N 127.0.0.1 7878",
            request.replace('\r', "\\r").replace('\n', "\\n")
        )
    };
    let hello = "GET /hello?name=ada HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let pipelined = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
                     GET /chunked HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let refused = "GET /hello HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n";
    let transcripts = [
        ("19-hello.txt", hello),
        ("19-pipelined.txt", pipelined),
        ("19-refused.txt", refused),
    ]
    .map(|(file, request)| (file, command(request), request));
    let mut shown = Vec::new();
    for (n, (file, command, request)) in transcripts.into_iter().enumerate() {
        shown.push((file, command, by_hand(request)));
        // One connection's lines at a time, as a reader typing the commands sees them.
        wait_for_count(&server, "done: ", n + 1);
    }
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);
    let mut t = Transcripts::new(addr.port());
    t.add(
        "19-server.txt",
        "cargo run --example 19_http_server",
        &with_ctrl_c(&before_signal, &server.stdout),
    );
    for (file, command, lines) in &shown {
        t.add(file, command, lines);
    }
    t.check();
}

/// Chapter 20: a browser member (tungstenite, standing in for a tab) and chapter 14's client on
/// the `nc` port chat in one room; then Ctrl-C.
#[cfg(unix)]
#[test]
fn chapter_20_a_browser_and_nc_in_one_room() {
    use tungstenite::{
        Message, protocol::CloseFrame, protocol::frame::coding::CloseCode,
    };
    let example = "20_websocket_chat";
    let (server, addr) = Proc::server(
        example,
        &["--addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0"],
    );
    let line = server.wait_for_line("nc members: nc ");
    let nc_port = line.rsplit(' ').next().unwrap().to_string();
    let nc_addr = format!("127.0.0.1:{nc_port}");
    let mut bob = Proc::start(
        "14_chat_room",
        &["client", "--addr", &nc_addr, "--nick", "bob"],
    );
    bob.wait_for_line("* hello bob");
    let stream = common::connect(addr);
    let (mut ada, _) =
        tungstenite::client(format!("ws://{addr}/chat"), stream).unwrap();
    assert_eq!(heard(&mut ada), "* welcome! your nickname?");
    ada.send(Message::text("ada")).unwrap();
    assert_eq!(heard(&mut ada), "* hello ada; here: bob");
    bob.wait_for_line("* ada joined");
    ada.send(Message::text("hello from a browser tab")).unwrap();
    bob.wait_for_line("ada: hello from a browser tab");
    bob.write_stdin(b"hi ada, this is a terminal\n");
    assert_eq!(heard(&mut ada), "bob: hi ada, this is a terminal");
    // The tab is closed: the browser sends a close frame with 1001, "going away".
    ada.close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "".into(),
    }))
    .unwrap();
    while ada.read().is_ok() {}
    bob.wait_for_line("* ada left");
    bob.write_stdin(b"/quit\n");
    let _bob = bob.wait(TIMEOUT);
    wait_for_count(&server, "left: ", 2);
    let before_signal = server.stdout();
    server.sigint();
    let server = server.wait(TIMEOUT);

    // The nc port is shown as its default, 7879, in `nc 127.0.0.1 7879` as in `IP:PORT`.
    let nc_default = |lines: Vec<String>| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.replace(&format!(" {nc_port}"), " 7879")
                    .replace(&format!(":{nc_port}"), ":7879")
            })
            .collect()
    };
    let mut t = Transcripts::new(addr.port());
    t.add(
        "20-server.txt",
        "cargo run --example 20_websocket_chat",
        &nc_default(with_ctrl_c(&before_signal, &server.stdout)),
    );
    let mut shown = bob_lines(&_bob.stdout);
    shown.push("/quit".into());
    t.add(
        "20-bob.txt",
        "cargo run --example 14_chat_room -- client --addr 127.0.0.1:7879 --nick bob",
        &shown,
    );
    t.check();
}

/// The next text message a WebSocket client gets.
fn heard(ws: &mut tungstenite::WebSocket<std::net::TcpStream>) -> String {
    loop {
        if let tungstenite::Message::Text(text) = ws.read().unwrap() {
            return text.to_string();
        }
    }
}

/// Bob's terminal: what the room printed, with what he typed where he typed it.
fn bob_lines(printed: &[String]) -> Vec<String> {
    let mut shown = Vec::new();
    for line in printed {
        shown.push(line.clone());
        if line == "ada: hello from a browser tab" {
            shown.push("hi ada, this is a terminal".into());
        }
    }
    shown
}

/// Waits until `proc` has printed `count` stdout lines starting with `prefix`.
fn wait_for_count(proc: &Proc, prefix: &str, count: usize) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while proc
        .stdout()
        .iter()
        .filter(|l| l.starts_with(prefix))
        .count()
        < count
    {
        assert!(std::time::Instant::now() < deadline, "{:?}", proc.stdout());
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_output_file_is_made_by_a_scenario() {
    let mut on_disk: Vec<String> = std::fs::read_dir(outputs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = OUTPUTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "book/src/outputs/ and OUTPUTS disagree");
}
