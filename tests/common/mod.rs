//! The test harness: runs an example the way a reader does.
//!
//! A test starts the example's own binary with `--addr 127.0.0.1:0`, learns the port from the
//! server's first stdout line (`listening on ADDR`), talks to it over real sockets, and looks at
//! what the program printed and how it exited. Everything is bounded: output is drained by
//! threads (a full pipe would block the server), every wait has a timeout, every socket has read
//! and write timeouts, and a [`Proc`] kills its process when dropped, so nothing outlives a test.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Path to the binary of example `name` (`01_echo_server`), built first.
///
/// `cargo test` builds every example, but `cargo test --test 03_sequential_server` builds none,
/// and a binary left from an earlier build may be stale. So each test process runs
/// `cargo build --example NAME` once per example: a no-op when it is fresh. The binary is found
/// next to the test executable (`target/<profile>/examples/`), so `--release` and
/// `CARGO_TARGET_DIR` work.
pub fn example_path(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let exe = std::env::current_exe().expect("cannot find the test executable");
    // target/<profile>/deps/<test>: the profile directory is two levels up.
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is not in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));

    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if !built.contains(name) {
        build_example(name, profile_dir);
        built.insert(name.to_string());
    }
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn build_example(name: &str, profile_dir: &Path) {
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    let target_dir = profile_dir
        .parent()
        .expect("profile directory has a parent");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--quiet", "--example", name, "--profile", &profile])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run cargo to build an example");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Lines a child process printed on one stream, collected by a draining thread.
#[derive(Default)]
struct Lines {
    state: Mutex<(Vec<String>, bool)>, // (lines so far, stream closed)
    changed: Condvar,
}

impl Lines {
    fn drain(stream: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']).to_string();
                        sink.state.lock().unwrap().0.push(line);
                        sink.changed.notify_all();
                    }
                }
            }
            sink.state.lock().unwrap().1 = true;
            sink.changed.notify_all();
        });
        lines
    }

    fn snapshot(&self) -> Vec<String> {
        self.state.lock().unwrap().0.clone()
    }

    /// Waits until a line satisfies `pred`; returns it, or `None` on timeout or end of stream.
    fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(line) = state.0.iter().find(|l| pred(l)) {
                return Some(line.clone());
            }
            let now = Instant::now();
            if state.1 || now >= deadline {
                return None;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    fn wait_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        while !state.1 && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
    }
}

/// A running example. Dropping it kills the process.
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
}

/// How a process ended, and everything it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub elapsed: Duration,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl Proc {
    /// Starts example `name` with `args`; its stdin is a pipe the test may write to.
    pub fn start(name: &str, args: &[&str]) -> Proc {
        Proc::start_with_env(name, args, &[])
    }

    /// Like [`Proc::start`], with extra environment variables (`TZ=UTC`, say).
    pub fn start_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut command = Command::new(example_path(name));
        command.args(args).envs(env.iter().copied());
        Proc::spawn(name, command)
    }

    /// Starts any command (a Python server, say) with the same draining and clean-up.
    pub fn spawn(name: &str, mut command: Command) -> Proc {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = Lines::drain(child.stdout.take().unwrap());
        let stderr = Lines::drain(child.stderr.take().unwrap());
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    /// Starts a server example and waits for its first line, `listening on ADDR`.
    pub fn server(name: &str, args: &[&str]) -> (Proc, SocketAddr) {
        Proc::server_with_env(name, args, &[])
    }

    /// Like [`Proc::server`], with extra environment variables.
    pub fn server_with_env(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Proc, SocketAddr) {
        Proc::start_with_env(name, args, env).listening()
    }

    /// Waits for a server's first line, `listening on ADDR`, and returns the address.
    pub fn listening(self) -> (Proc, SocketAddr) {
        let name = self.name.clone();
        let first = self.stdout.wait_for(TIMEOUT, |_| true).unwrap_or_else(|| {
            panic!("{name} printed no first line; stderr: {:?}", self.stderr())
        });
        let addr = first
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                panic!("{name}'s first line is not `listening on ADDR`: {first:?}")
            });
        (self, addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes to the process's stdin (`close_stdin` sends end of file).
    pub fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(bytes)
            .expect("cannot write to the child's stdin");
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The stdout lines so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.snapshot()
    }

    /// The stderr lines so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.snapshot()
    }

    /// Waits until a stdout line contains `needle`, and returns that line.
    pub fn wait_for_line(&self, needle: &str) -> String {
        self.stdout
            .wait_for(TIMEOUT, |l| l.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "{} never printed a line containing {needle:?}\nstdout: {:?}\nstderr: {:?}",
                    self.name,
                    self.stdout(),
                    self.stderr()
                )
            })
    }

    /// Waits until a stderr line contains `needle`, and returns that line.
    pub fn wait_for_stderr_line(&self, needle: &str) -> String {
        self.stderr
            .wait_for(TIMEOUT, |l| l.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "{} never printed an error line containing {needle:?}\nstderr: {:?}",
                    self.name,
                    self.stderr()
                )
            })
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    #[cfg(unix)]
    pub fn sigint(&self) {
        self.signal("INT");
    }

    /// Sends a signal by name (`STOP` freezes the process, as a hung program; `CONT` resumes).
    #[cfg(unix)]
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("cannot run `kill`");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits for the process to exit (killing it and failing the test after `timeout`).
    pub fn wait(mut self, timeout: Duration) -> Finished {
        self.stdin = None; // a program reading stdin sees end of file
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait failed") {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {timeout:?}\nstdout: {:?}\nstderr: {:?}",
                    self.name,
                    self.stdout(),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        let elapsed = started.elapsed();
        self.stdout.wait_closed(TIMEOUT);
        self.stderr.wait_closed(TIMEOUT);
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
            elapsed,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs example `name` to completion with `args`, and `stdin` as its input.
pub fn run(name: &str, args: &[&str], stdin: &[u8]) -> Finished {
    let mut proc = Proc::start(name, args);
    if !stdin.is_empty() {
        proc.write_stdin(stdin);
    }
    proc.wait(TIMEOUT)
}

/// A client connection with read and write timeouts, so a test can never hang on it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Sends `message` and reads back exactly as many bytes.
pub fn echo(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream
        .write_all(message)
        .expect("write to the server failed");
    let mut back = vec![0u8; message.len()];
    stream
        .read_exact(&mut back)
        .expect("reading the echo failed");
    back
}

/// A port on which nothing listens (bound once by us, then released).
pub fn closed_port_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// `len` bytes of varied content (not zeros), so a misplaced chunk cannot go unnoticed.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
        .collect()
}

/// A server example started on a port that another server holds fails the way the conventions
/// say: nothing on stdout, one line on stderr naming the address, exit code 1.
pub fn assert_refuses_a_port_in_use(example: &str) {
    assert_refuses_a_port_in_use_with(example, &[]);
}

/// The same, for a server started with `leading` arguments first (a subcommand, `--dir …`).
pub fn assert_refuses_a_port_in_use_with(example: &str, leading: &[&str]) {
    let with_addr = |addr: &str| -> Vec<String> {
        let mut args: Vec<String> = leading.iter().map(|a| a.to_string()).collect();
        args.extend(["--addr".to_string(), addr.to_string()]);
        args
    };
    let first_args = with_addr("127.0.0.1:0");
    let first_args: Vec<&str> = first_args.iter().map(String::as_str).collect();
    let (_first, addr) = Proc::server(example, &first_args);
    let second_args = with_addr(&addr.to_string());
    let second_args: Vec<&str> = second_args.iter().map(String::as_str).collect();
    let second = run(example, &second_args, b"");
    assert_eq!(second.code(), Some(1), "{second:?}");
    assert!(second.stdout.is_empty(), "{:?}", second.stdout);
    assert_eq!(
        second.stderr,
        [format!(
            "error: cannot listen on {addr}: address already in use \
             (is another server running on it?)"
        )]
    );
}

/// Ctrl-C while a client is sending without pause and reading its echoes: the client reads
/// them, then an orderly end of stream (not a reset), and none of its writes fails, provided it
/// stops sending when it sees that end; the server exits 0 with a `closed:` line counting every
/// byte the client received. (A server that closes while the client's data is still arriving
/// makes the kernel reset the connection.) Returns how the server finished.
#[cfg(unix)]
pub fn assert_ctrl_c_with_a_client_sending_ends_in_order(
    server: Proc,
    addr: SocketAddr,
) -> Finished {
    use std::sync::atomic::{AtomicBool, Ordering};

    let client = connect(addr);
    let client_addr = client.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stream, stop) = (client.try_clone().unwrap(), Arc::clone(&stop));
        thread::spawn(move || {
            let chunk = pattern(16 * 1024);
            let mut sent = 0u64;
            while !stop.load(Ordering::SeqCst) {
                if let Err(err) = (&stream).write_all(&chunk) {
                    return Err((err.kind(), sent));
                }
                sent += chunk.len() as u64;
            }
            Ok(sent)
        })
    };
    // Read echoes until some have come back: data is now flowing both ways.
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    while received < 1 << 20 {
        received += (&client).read(&mut buf).expect("echo") as u64;
    }
    server.sigint();
    let end = loop {
        match (&client).read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => received += n as u64,
            Err(err) => break Err(err.kind()),
        }
    };
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    drop(client);
    assert_eq!(
        end,
        Ok(()),
        "the client's read saw an error, not the end of the stream"
    );
    let sent = written.unwrap_or_else(|(kind, sent)| {
        panic!("the client's write failed ({kind:?}) after {sent} bytes")
    });
    assert!(received <= sent);

    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
    let closed =
        format!("closed: {client_addr} ({received} bytes echoed; shutting down)");
    assert!(
        done.stdout.contains(&closed),
        "{closed:?} not in {:?}",
        done.stdout
    );
    done
}

/// Resident memory of process `pid` in KiB (Linux: `VmRSS` in `/proc/PID/status`).
#[cfg(target_os = "linux")]
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("no VmRSS line")
}

/// Number of threads of process `pid` (Linux: `Threads` in `/proc/PID/status`).
#[cfg(target_os = "linux")]
pub fn thread_count(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("no Threads line")
}

/// CPU time (user + system) of process `pid` in clock ticks, from `/proc/<pid>/stat`
/// (Linux counts in USER_HZ ticks: 100 per second on every common configuration).
#[cfg(target_os = "linux")]
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The descriptors process `pid` has open (Linux: the entries of `/proc/PID/fd`).
#[cfg(target_os = "linux")]
pub fn open_fds(pid: u32) -> Vec<u64> {
    let mut fds: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// Sets the soft limit on open files of the running process `pid` (Linux: prlimit(2), what
/// `prlimit --pid PID --nofile=N:` does), keeping its hard limit.
#[cfg(target_os = "linux")]
pub fn set_fd_limit(pid: u32, soft: u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit only reads and writes the structs we pass.
    unsafe {
        let none = std::ptr::null();
        assert_eq!(
            libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, none, &mut old),
            0
        );
        let new = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: old.rlim_max,
        };
        let status =
            libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut());
        assert_eq!(
            status,
            0,
            "prlimit failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Waits (up to 5 s) until the main thread of process `pid` is blocked in `accept` (Linux:
/// `/proc/PID/wchan` names the kernel function it sleeps in, `inet_csk_accept`). A server
/// prints its last line a moment before it gets there.
#[cfg(target_os = "linux")]
pub fn wait_until_blocked_in_accept(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let wchan =
            std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if wchan.contains("accept") {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Leaves process `pid` with only `spare` free file descriptors: its soft limit becomes the
/// lowest number it has not open, plus `spare`. (A descriptor number must be below the limit.
/// A thread blocked in `accept` has reserved the slot for its next client already, which
/// `/proc` does not show: with `spare` 1, that slot is the only one left, and it is taken
/// again when the `accept` is interrupted by a signal and restarted.)
#[cfg(target_os = "linux")]
pub fn exhaust_fds(pid: u32, spare: u64) {
    let open = open_fds(pid);
    let lowest_free = (0u64..).find(|n| !open.contains(n)).unwrap();
    set_fd_limit(pid, lowest_free + spare);
}

/// A server out of file descriptors, with clients waiting in its backlog, stays cheap: under
/// 10% of a core and at most one error line over 3 s (a server that retries `accept` at once
/// spins, and one that logs every failure floods its terminal). Then `free` frees descriptors,
/// and every waiting client is served without anything else being done.
/// Call it after [`exhaust_fds`].
#[cfg(target_os = "linux")]
pub fn assert_cheap_while_out_of_fds_then_recovers(
    server: &Proc,
    addr: SocketAddr,
    free: impl FnOnce(),
) {
    let pid = server.pid();
    let mut waiting: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect();
    for (i, client) in waiting.iter_mut().enumerate() {
        client.write_all(format!("waiting {i}").as_bytes()).unwrap();
    }
    server.wait_for_stderr_line("too many open files");
    thread::sleep(Duration::from_millis(300));
    let (lines, ticks, started) =
        (server.stderr().len(), cpu_ticks(pid), Instant::now());
    thread::sleep(Duration::from_secs(3));
    let new_lines = server.stderr().len() - lines;
    let cpu =
        (cpu_ticks(pid) - ticks) as f64 / 100.0 / started.elapsed().as_secs_f64()
            * 100.0;
    assert!(
        cpu < 10.0,
        "used {cpu:.1}% of a core while out of descriptors"
    );
    assert!(
        new_lines <= 1,
        "{new_lines} error lines in 3 s: {:?}",
        &server.stderr()[lines..lines + new_lines.min(5)]
    );

    free();
    for (i, mut client) in waiting.into_iter().enumerate() {
        let message = format!("waiting {i}");
        let mut back = vec![0u8; message.len()];
        client
            .read_exact(&mut back)
            .unwrap_or_else(|e| panic!("waiting client {i} never served: {e}"));
        assert_eq!(back, message.as_bytes());
    }
}

/// `total` short-lived clients against `addr`, `parallel` at a time: each connects, echoes
/// 16 bytes (checked), and closes. Returns the wall time for all of them.
pub fn short_lived_clients(
    addr: SocketAddr,
    total: usize,
    parallel: usize,
) -> Duration {
    let started = Instant::now();
    let workers: Vec<_> = (0..parallel)
        .map(|w| {
            let share = total / parallel + usize::from(w < total % parallel);
            thread::spawn(move || {
                for i in 0..share {
                    let mut stream = connect(addr);
                    let message = format!("{w:06}-{i:09}");
                    assert_eq!(
                        echo(&mut stream, message.as_bytes()),
                        message.as_bytes()
                    );
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a short-lived client failed");
    }
    started.elapsed()
}

/// A UDP socket on loopback, connected to `addr`, with read and write timeouts.
pub fn udp_client(addr: SocketAddr) -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(addr).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.set_write_timeout(Some(TIMEOUT)).unwrap();
    socket
}

/// A client that sends as fast as it can and never reads must neither stall another client
/// nor make the server's memory grow (Linux: its RSS stays under 32 MiB). The hog's writes
/// stall once the server stops reading it and the kernel buffers fill; they time out, which
/// ends its thread.
pub fn assert_a_client_that_never_reads_stalls_no_one(
    server: &Proc,
    addr: SocketAddr,
) {
    let hog = connect(addr);
    hog.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let hog_thread = thread::spawn(move || {
        let chunk = vec![b'h'; 64 * 1024];
        let mut sent = 0usize;
        while (&hog).write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        (hog, sent)
    });
    // Meanwhile another client is served as usual.
    let mut polite = connect(addr);
    for round in 0..20u8 {
        let message = [round; 1000];
        assert_eq!(echo(&mut polite, &message), message, "round {round}");
    }
    let (_hog, sent) = hog_thread.join().unwrap();
    assert!(sent > 0);
    // Still served while the hog is stuck.
    assert_eq!(
        echo(&mut polite, b"after the hog stalled"),
        b"after the hog stalled"
    );
    #[cfg(target_os = "linux")]
    {
        let rss = rss_kib(server.pid());
        assert!(
            rss < 32 * 1024,
            "server RSS {rss} KiB after the hog sent {sent} bytes"
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = server;
}

/// A client that sends one byte every 50 ms (a trickler, the slowloris pattern) holds no one
/// up: meanwhile another client's echoes each come back within a second, and the trickler
/// gets every byte back too.
pub fn assert_a_trickler_stalls_no_one(addr: SocketAddr) {
    let trickler = thread::spawn(move || {
        let mut stream = connect(addr);
        let sent: Vec<u8> = (0..30u8).map(|i| b'a' + i % 26).collect();
        for byte in &sent {
            stream.write_all(&[*byte]).unwrap();
            thread::sleep(Duration::from_millis(50));
        }
        let mut back = vec![0u8; sent.len()];
        stream.read_exact(&mut back).unwrap();
        back == sent
    });
    thread::sleep(Duration::from_millis(100)); // the trickler is connected and trickling
    let mut polite = connect(addr);
    for round in 0..10u8 {
        let started = Instant::now();
        assert_eq!(echo(&mut polite, &[round; 100]), [round; 100]);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "round {round} took {took:?}");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(trickler.join().unwrap(), "the trickler's echo differs");
}

/// One client sends `size` bytes and closes its sending side (end of stream) while it reads:
/// every byte comes back, in order, then the end of the stream; and the server's memory stays
/// small (Linux: RSS under 32 MiB), however big the stream.
pub fn assert_a_large_stream_echoes_intact(
    server: &Proc,
    addr: SocketAddr,
    size: usize,
) {
    let stream = connect(addr);
    let payload = pattern(size);
    let writer = {
        let (stream, payload) = (stream.try_clone().unwrap(), payload.clone());
        thread::spawn(move || {
            (&stream).write_all(&payload).unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::with_capacity(size);
    (&stream).read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), size);
    assert!(back == payload, "the echo differs from what was sent");
    #[cfg(target_os = "linux")]
    {
        let rss = rss_kib(server.pid());
        assert!(
            rss < 32 * 1024,
            "server RSS {rss} KiB after a {size}-byte stream"
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = server;
}

/// A client that sends half a message and then closes its sending side (end of stream in the
/// middle of a message): the half it sent comes back, then the end of the stream.
pub fn assert_eof_mid_message_gets_the_half_back(addr: SocketAddr) {
    let mut stream = connect(addr);
    let half = pattern(3000);
    stream.write_all(&half).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert!(
        back == half,
        "got {} bytes back of {}",
        back.len(),
        half.len()
    );
}

/// A client resets its connection (linger 0) in the middle of a message while three others
/// are connected: they go on being served, and so does a newcomer. Returns the address of the
/// client that reset, for the server's own lines.
pub fn assert_a_reset_mid_message_disturbs_no_one(
    server: &Proc,
    addr: SocketAddr,
) -> SocketAddr {
    let mut others: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for other in &mut others {
        assert_eq!(echo(other, b"before"), b"before");
    }
    let rude = connect(addr);
    let rude_addr = rude.local_addr().unwrap();
    (&rude).write_all(&pattern(32 * 1024)).unwrap();
    socket2::SockRef::from(&rude)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude); // linger 0: close() sends a reset (RST) instead of a FIN
    server.wait_for_line(&format!("disconnected: {rude_addr}"));
    for other in &mut others {
        assert_eq!(echo(other, b"after"), b"after");
    }
    let mut newcomer = connect(addr);
    assert_eq!(echo(&mut newcomer, b"still serving"), b"still serving");
    rude_addr
}

/// Ctrl-C with three clients connected: each sees a clean end of stream, the server exits 0
/// within 3 s. Returns how it finished, for the example's own line checks.
#[cfg(unix)]
pub fn assert_ctrl_c_closes_three_clients(
    server: Proc,
    addr: SocketAddr,
    connected: &str,
) -> Finished {
    let mut clients: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for client in &mut clients {
        assert_eq!(echo(client, b"hi"), b"hi");
    }
    server.wait_for_line(connected);
    let started = Instant::now();
    server.sigint();
    for client in &mut clients {
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).expect("not closed cleanly");
        assert!(rest.is_empty());
    }
    let done = server.wait(TIMEOUT);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    done
}

/// Raises this process's soft limit on open files to at least `wanted` (the server, started
/// afterwards, inherits it). Returns the limit now in force: less than `wanted` when the hard
/// limit does not allow more.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, but not on every Unix
pub fn raise_fd_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if (limit.rlim_cur as u64) < wanted {
            limit.rlim_cur = (wanted as libc::rlim_t).min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    limit.rlim_cur as u64
}

/// A member of a chat room speaking chapter 14's line protocol, as `nc` would (the rooms of
/// chapters 14 and 18).
pub struct Member {
    pub stream: TcpStream,
    pub lines: BufReader<TcpStream>,
}

impl Member {
    pub fn join(addr: SocketAddr, nick: &str) -> (Member, String) {
        Member::join_on(connect(addr), nick)
    }

    pub fn join_on(stream: TcpStream, nick: &str) -> (Member, String) {
        let mut member = Member {
            lines: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        assert_eq!(member.line(), "* welcome! your nickname?");
        member.say(nick);
        let answer = member.line();
        (member, answer)
    }

    pub fn say(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines
            .read_line(&mut line)
            .expect("no line from the server");
        line.trim_end_matches('\n').to_string()
    }

    pub fn closed(&mut self) -> bool {
        let mut rest = String::new();
        matches!(self.lines.read_line(&mut rest), Ok(0))
    }
}

/// Starts server example `name` with `args` and at most `max_fds` open files (`ulimit -n`,
/// soft and hard), as a server about to run out of descriptors, and waits for its first line.
#[cfg(unix)]
pub fn server_with_fd_limit(
    name: &str,
    args: &[&str],
    max_fds: u64,
) -> (Proc, SocketAddr) {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(example_path(name));
    command.args(args);
    // SAFETY: between fork and exec, only setrlimit (async-signal-safe) runs.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: max_fds as libc::rlim_t,
                rlim_max: max_fds as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Proc::spawn(name, command).listening()
}

/// Issue 24: a stream of fresh members that never read (a 4 KiB receive buffer each, one a
/// second) while a flooder keeps the room busy, must not stop an honest talker's lines (one
/// every 50 ms) from reaching an honest reader. Before the fix each newcomer held every sender
/// for up to `--stall-timeout` (4 s in the tests), over and over. Returns
/// the largest gap between two of the talker's lines at the reader, the share of the talker's
/// lines that arrived within a second of being sent, and whether every line arrived, in order.
pub fn fresh_non_readers_against_the_room(addr: SocketAddr) -> (Duration, f64, bool) {
    use socket2::{Domain, Socket, Type};
    use std::sync::atomic::{AtomicBool, Ordering};
    const RUN: Duration = Duration::from_secs(8);
    const EVERY: Duration = Duration::from_millis(50);

    /// The talker's lines as they arrive: number, and when.
    type Arrivals = Arc<Mutex<Vec<(u32, Instant)>>>;
    // Every honest member drains what it is sent on a thread of its own.
    fn drain(mut member: Member, record: Option<Arrivals>) {
        thread::spawn(move || {
            let _ = member
                .stream
                .set_read_timeout(Some(Duration::from_secs(30)));
            let mut line = String::new();
            loop {
                line.clear();
                match member.lines.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if let (Some(record), Some(n)) =
                    (&record, line.strip_prefix("talker: "))
                {
                    if let Ok(n) = n.trim_end().parse::<u32>() {
                        record.lock().unwrap().push((n, Instant::now()));
                    }
                }
            }
        });
    }
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let (reader, _) = Member::join(addr, "reader");
    drain(reader, Some(Arc::clone(&arrivals)));
    let (talker, _) = Member::join(addr, "talker");
    let mut talker_out = talker.stream.try_clone().unwrap();
    drain(talker, None);
    let (flooder, _) = Member::join(addr, "flooder");
    let mut flooder_out = flooder.stream.try_clone().unwrap();
    drain(flooder, None);

    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            // About 400 lines of 1,000 bytes a second.
            let batch = format!("{}\n", "f".repeat(999)).repeat(20);
            while !stop.load(Ordering::Relaxed) {
                if flooder_out.write_all(batch.as_bytes()).is_err() {
                    return;
                }
                thread::sleep(EVERY);
            }
        })
    };
    let mut non_readers = Vec::new();
    let started = Instant::now();
    let mut sent_at = Vec::new();
    let mut next_newcomer = started;
    while started.elapsed() < RUN {
        if Instant::now() >= next_newcomer {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            socket.set_recv_buffer_size(4096).unwrap();
            socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
            let mut stream: TcpStream = socket.into();
            stream.set_write_timeout(Some(TIMEOUT)).unwrap();
            let _ = stream.write_all(format!("nr{}\n", non_readers.len()).as_bytes());
            non_readers.push(stream); // joins, and never reads a byte
            next_newcomer += Duration::from_secs(1);
        }
        let n = sent_at.len() as u32;
        talker_out
            .write_all(format!("{n}\n").as_bytes())
            .expect("the talker could not send");
        sent_at.push(Instant::now());
        thread::sleep(EVERY);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flooding.join();
    // Whatever is still on its way has a few seconds to arrive: nothing is lost.
    let deadline = Instant::now() + Duration::from_secs(8);
    while arrivals.lock().unwrap().len() < sent_at.len() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let numbers: Vec<u32> = arrivals.iter().map(|&(n, _)| n).collect();
    let complete = numbers == (0..sent_at.len() as u32).collect::<Vec<u32>>();
    let mut times: Vec<Instant> = vec![started];
    times.extend(arrivals.iter().map(|&(_, at)| at));
    let gap = times
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap();
    let prompt = arrivals
        .iter()
        .filter(|&&(n, at)| at - sent_at[n as usize] < Duration::from_secs(1))
        .count();
    drop(non_readers);
    (gap, prompt as f64 / sent_at.len() as f64, complete)
}

/// Issue 24: bytes queued in the *server's* kernel send buffer for one client that sends and
/// never reads (a 4 KiB receive buffer of its own), once the server has stopped taking more:
/// Linux's `/proc/net/tcp` `tx_queue` of the server's end of the connection. `message` is what
/// the client sends, again and again (an echo server sends it all back), for up to 3 s.
#[cfg(target_os = "linux")]
pub fn server_send_queue_for_a_client_that_never_reads(
    addr: SocketAddr,
    message: &[u8],
) -> u64 {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let started = Instant::now();
    let mut stuck = 0;
    while started.elapsed() < Duration::from_secs(3) && stuck < 3 {
        match stream.write_all(message) {
            Ok(()) => stuck = 0,
            Err(_) => stuck += 1, // the server stopped reading: every buffer is full
        }
    }
    let (server, client) = (addr.port(), stream.local_addr().unwrap().port());
    let mut queued = None;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port =
                |field: &str| u16::from_str_radix(field.rsplit(':').next()?, 16).ok();
            if port(fields[1]) == Some(server) && port(fields[2]) == Some(client) {
                let tx = fields[4].split(':').next().unwrap();
                queued = Some(u64::from_str_radix(tx, 16).unwrap());
            }
        }
    }
    drop(stream);
    queued.expect("the server's end of the connection is not in /proc/net/tcp")
}

/// Issue 24: buffers that grow must shrink. `clients` connections each send one message of
/// `size` bytes, read its echo, and stay connected, silent. Returns how much the server's
/// resident memory grew, in KiB per connection (Linux: `VmRSS`), measured against the same
/// number of connections that sent one byte.
#[cfg(target_os = "linux")]
pub fn rss_kib_per_idle_connection_after_a_message(
    pid: u32,
    addr: SocketAddr,
    clients: usize,
    size: usize,
) -> u64 {
    let hold = |size: usize| {
        let message = pattern(size);
        (0..clients)
            .map(|_| {
                let mut stream = connect(addr);
                assert_eq!(echo(&mut stream, &message), message);
                stream
            })
            .collect::<Vec<TcpStream>>()
    };
    let small = hold(1);
    thread::sleep(Duration::from_millis(300));
    let before = rss_kib(pid);
    let big = hold(size);
    thread::sleep(Duration::from_millis(300));
    let after = rss_kib(pid);
    drop((small, big));
    after.saturating_sub(before) / clients as u64
}
