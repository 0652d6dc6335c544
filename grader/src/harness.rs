//! Running a student's program the way the workbook's tests run an example: started with
//! `--addr 127.0.0.1:0`, its first stdout line `listening on ADDR` read for the port, its output
//! drained by threads (a full pipe blocks a program), killed when dropped. Everything waits with
//! a timeout, so a hung program costs a check its time limit, never the checker its life.
//!
//! Two things a test of our own examples never meets, and a check of a student's program must:
//! a `todo!()` that panics ("not yet implemented": the exercise is not done yet), and a program
//! that spins the CPU. Every [`Proc`] records both in its [`Ctx`].

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::report::{Fail, fail};

/// How long a check waits for anything (a line, a reply, an exit) before it fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// A process that was running or waiting to run (see [`cpu_time`]) for more than this share of
/// at least [`SPIN_MIN_WALL`] spins. A blocking server waiting for clients is near 0 %; a busy
/// loop near 100 % (of one CPU, or more with several threads) however busy the machine is,
/// because time waiting for a CPU counts. Half leaves room for a moment of real work.
pub const SPIN_SHARE: f64 = 0.5;
/// At most this many lines of a program's stdout or stderr are kept…
pub const KEEP_LINES: usize = 2_000;
/// …each cut to this many bytes.
pub const KEEP_LINE_BYTES: usize = 4_096;
/// Shorter lives are too short to tell a busy loop from a burst of work.
pub const SPIN_MIN_WALL: Duration = Duration::from_millis(1000);

/// What the checks of one exercise share: the program under test, and what its processes did.
#[derive(Clone)]
pub struct Ctx {
    pub exe: PathBuf,
    /// Set when a process panicked at a `todo!()`: the exercise is not done yet.
    todo_hit: Arc<AtomicBool>,
    /// Processes that spun the CPU: "used 97 % of a CPU for 2.1 s".
    spins: Arc<Mutex<Vec<String>>>,
    /// Every child started, so that a check that runs out of time can be ended from outside.
    children: Arc<Mutex<Vec<Arc<Mutex<Child>>>>>,
    /// Remarks that are not a check ("CPU time not measured on this platform").
    notes: Arc<Mutex<Vec<String>>>,
    /// Inside the grader's sandbox: the grader itself, which starts each process of the
    /// student's as `check __confine -- PROGRAM ARGS` (Landlock and limits, then exec).
    confine: Option<PathBuf>,
}

impl Ctx {
    pub fn new(exe: PathBuf) -> Ctx {
        Ctx {
            exe,
            todo_hit: Arc::default(),
            spins: Arc::default(),
            children: Arc::default(),
            notes: Arc::default(),
            confine: None,
        }
    }

    /// Starts every program through `check __confine` (see [`crate::sandbox::confine_and_exec`]).
    pub fn confined_by(mut self, confine: Option<PathBuf>) -> Ctx {
        self.confine = confine;
        self
    }

    /// Adds a remark to the exercise's result.
    pub fn note(&self, text: impl Into<String>) {
        lock(&self.notes).push(text.into());
    }

    /// The remarks so far.
    pub fn notes(&self) -> Vec<String> {
        lock(&self.notes).clone()
    }

    /// Did a process panic at a `todo!()`? Only the panic itself counts: std's line
    /// `thread '…' panicked at FILE:LINE:COL:` followed by the message `not yet implemented…`.
    /// A working program that merely logs those words is not "not done".
    pub fn hit_todo(&self) -> bool {
        self.todo_hit.load(Ordering::SeqCst)
    }

    /// Takes the spin reports collected since the last call.
    pub fn take_spins(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.spins))
    }

    /// Kills every process started for this exercise (the watchdog's last resort).
    pub fn kill_all(&self) {
        for child in lock(&self.children).iter() {
            let _ = lock(child).kill();
        }
    }

    /// Starts the program with `args`.
    pub fn start(&self, args: &[&str]) -> Result<Proc, Fail> {
        let mut command = match &self.confine {
            Some(checker) => {
                let mut command = Command::new(checker);
                command.arg("__confine").arg("--").arg(&self.exe);
                command
            }
            None => Command::new(&self.exe),
        };
        command
            .args(args)
            // A panic shows its message and location, not a backtrace, whatever the caller set.
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            fail(
                "the program starts",
                format!("cannot start {}: {e}", self.exe.display()),
                "was it built? run the check again",
            )
        })?;
        let stdout = Lines::drain(child.stdout.take().expect("piped"), None);
        let stderr = Lines::drain(
            child.stderr.take().expect("piped"),
            Some(Arc::clone(&self.todo_hit)),
        );
        let child = Arc::new(Mutex::new(child));
        lock(&self.children).push(Arc::clone(&child));
        let pid = lock(&child).id();
        Ok(Proc {
            child,
            stdout,
            stderr,
            started: Instant::now(),
            spins: Arc::clone(&self.spins),
            usage: Usage::watch(pid),
        })
    }

    /// Starts a server with `--addr 127.0.0.1:0` and `args`, and waits for its first line,
    /// `listening on ADDR`.
    pub fn server(&self, args: &[&str]) -> Result<(Proc, SocketAddr), Fail> {
        self.server_with(&[], args)
    }

    /// Like [`Ctx::server`] for a program with subcommands: `leading` (`["server"]`) comes
    /// before `--addr 127.0.0.1:0`, then `args`.
    pub fn server_with(
        &self,
        leading: &[&str],
        args: &[&str],
    ) -> Result<(Proc, SocketAddr), Fail> {
        let mut all = leading.to_vec();
        all.extend_from_slice(&["--addr", "127.0.0.1:0"]);
        all.extend_from_slice(args);
        let proc = self.start(&all)?;
        let addr = proc.listening()?;
        Ok((proc, addr))
    }
}

/// Locks a mutex, ignoring poisoning (a panicking check must not break the others).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Lines a child printed on one stream, collected by a draining thread.
#[derive(Default)]
pub struct Lines {
    state: Mutex<(Vec<String>, bool)>, // (lines so far, stream closed)
    changed: Condvar,
}

impl Lines {
    /// Drains `stream` on a thread of its own, keeping at most [`KEEP_LINES`] lines of at most
    /// [`KEEP_LINE_BYTES`] bytes each: a program that floods its output costs the checker
    /// bounded memory, and is never blocked by a full pipe (the rest is read and dropped).
    /// With `todo`, watches for the panic of a `todo!()` and sets the flag.
    fn drain(
        stream: impl Read + Send + 'static,
        todo: Option<Arc<AtomicBool>>,
    ) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line: Vec<u8> = Vec::new();
            let mut previous_panicked = false;
            let mut kept = 0usize;
            let mut push = |line: &[u8], previous_panicked: &mut bool| {
                let text = String::from_utf8_lossy(line);
                let text = text.trim_end_matches(['\n', '\r']).to_string();
                if let Some(flag) = &todo {
                    if *previous_panicked && text.starts_with("not yet implemented") {
                        flag.store(true, Ordering::SeqCst);
                    }
                    // `thread 'main' panicked at …:`, or, in newer Rust, with the thread's id:
                    // `thread 'main' (1234) panicked at …:`.
                    *previous_panicked =
                        text.starts_with("thread '") && text.contains(" panicked at ");
                }
                kept += 1;
                if kept <= KEEP_LINES {
                    lock(&sink.state).0.push(text);
                } else if kept == KEEP_LINES + 1 {
                    lock(&sink.state).0.push(format!(
                        "… (more than {KEEP_LINES} lines: the rest is not kept)"
                    ));
                }
                sink.changed.notify_all();
            };
            loop {
                let chunk = match reader.fill_buf() {
                    Ok([]) | Err(_) => break,
                    Ok(chunk) => chunk,
                };
                let (take, ends_line) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (chunk.len(), false),
                };
                let room = KEEP_LINE_BYTES.saturating_sub(line.len());
                line.extend_from_slice(&chunk[..take.min(room)]);
                reader.consume(take);
                if ends_line {
                    push(&line, &mut previous_panicked);
                    line.clear();
                }
            }
            if !line.is_empty() {
                push(&line, &mut previous_panicked);
            }
            lock(&sink.state).1 = true;
            sink.changed.notify_all();
        });
        lines
    }

    pub fn snapshot(&self) -> Vec<String> {
        lock(&self.state).0.clone()
    }

    /// Waits until a line satisfies `pred`; `None` on timeout or end of stream.
    pub fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        loop {
            if let Some(line) = state.0.iter().find(|l| pred(l)) {
                return Some(line.clone());
            }
            let now = Instant::now();
            if state.1 || now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wait_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        while !state.1 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// A running program. Dropping it kills the process (after noting whether it spun).
pub struct Proc {
    child: Arc<Mutex<Child>>,
    pub stdout: Arc<Lines>,
    pub stderr: Arc<Lines>,
    started: Instant,
    spins: Arc<Mutex<Vec<String>>>,
    usage: Arc<Usage>,
}

/// The time each thread of a program (and of its children) wanted the CPU, as last seen.
/// Sampled every 100 ms while the program lives, because the kernel forgets a thread's
/// figures when it exits: a per-client thread that spun until its client left would
/// otherwise vanish from the sum just before a check reads it.
#[derive(Default)]
struct Usage {
    seen: Mutex<std::collections::HashMap<u32, Duration>>,
    /// (when, total) after each sample: what the program did in its last moments.
    history: Mutex<Vec<(Instant, Duration)>>,
    stop: AtomicBool,
}

impl Usage {
    /// Starts sampling `pid` on a thread of its own, until [`Usage::stop`] is set or the
    /// process is gone.
    fn watch(pid: u32) -> Arc<Usage> {
        let usage = Arc::new(Usage::default());
        if cfg!(target_os = "linux") {
            let sampler = Arc::clone(&usage);
            thread::spawn(move || {
                while !sampler.stop.load(Ordering::SeqCst) && sampler.sample(pid) {
                    thread::sleep(Duration::from_millis(100));
                }
            });
        }
        usage
    }

    /// Reads every thread's figure now; false when the process is gone.
    fn sample(&self, pid: u32) -> bool {
        let tasks = task_times(pid);
        let alive = !tasks.is_empty();
        let mut seen = lock(&self.seen);
        for (tid, time) in tasks {
            let entry = seen.entry(tid).or_default();
            *entry = (*entry).max(time);
        }
        if alive {
            let total = seen.values().sum();
            let mut history = lock(&self.history);
            history.push((Instant::now(), total));
            if history.len() > 600 {
                history.drain(..300); // a minute of samples is plenty
            }
        }
        alive
    }

    /// The share of the last `window` in which the program was running or waiting to run;
    /// `None` when it has not lived that long (or is not measured).
    fn recent_share(&self, pid: u32, window: Duration) -> Option<f64> {
        if !self.sample(pid) {
            return None;
        }
        let history = lock(&self.history);
        let &(now, total) = history.last()?;
        let &(then, before) = history
            .iter()
            .rev()
            .find(|(t, _)| now.duration_since(*t) >= window)?;
        let wall = now.duration_since(then).as_secs_f64();
        Some(total.saturating_sub(before).as_secs_f64() / wall)
    }

    /// The total so far (after a fresh sample), or `None` where nothing could be measured.
    fn total(&self, pid: u32) -> Option<Duration> {
        self.sample(pid);
        let seen = lock(&self.seen);
        (!seen.is_empty()).then(|| seen.values().sum())
    }
}

/// How a program ended, and what it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub elapsed: Duration,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// Waits for the first stdout line, `listening on ADDR`, and returns the address.
    pub fn listening(&self) -> Result<SocketAddr, Fail> {
        let first = self.stdout.wait_for(WAIT, |_| true);
        let Some(first) = first else {
            return Err(fail(
                "a first line `listening on ADDR` on stdout",
                format!(
                    "no line within {WAIT:?}; stderr: {:?}",
                    self.stderr.snapshot()
                ),
                "the server prints it right after binding (the starter does: keep that part)",
            ));
        };
        first
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| {
                fail(
                    "a first line `listening on ADDR` on stdout",
                    format!("{first:?}"),
                    "print nothing before `listening on ADDR`: whoever starts a server reads \
                     its port from that line",
                )
            })
    }

    /// Has the process exited? Returns its status if so.
    pub fn try_status(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for the process to exit; `None` if it is still running.
    pub fn wait_exit(&self, timeout: Duration) -> Option<Finished> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                self.stdout.wait_closed(Duration::from_millis(500));
                // (Up to 3 s: on a loaded machine the draining thread may be scheduled late; the stream
                // of a killed process closes at once otherwise, so this costs nothing in the usual case.)
                self.stderr.wait_closed(Duration::from_secs(3));
                return Some(Finished {
                    status,
                    stdout: self.stdout.snapshot(),
                    stderr: self.stderr.snapshot(),
                    elapsed: self.started.elapsed(),
                });
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until a stdout line contains `needle`.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.stdout.wait_for(timeout, |l| l.contains(needle))
    }

    /// The time the process (its threads and children too) has wanted the CPU so far: on Linux
    /// time running plus time waiting to run, so that load does not hide a busy loop (see
    /// [`cpu_time`]); CPU time elsewhere; `None` where it is not measured.
    pub fn cpu_time(&self) -> Option<Duration> {
        if cfg!(target_os = "linux") {
            self.usage.total(self.pid())
        } else {
            cpu_time(self.pid())
        }
    }

    /// Sends SIGINT, as Ctrl-C does (Unix; elsewhere it returns false and does nothing).
    pub fn ctrl_c(&self) -> bool {
        #[cfg(unix)]
        {
            Command::new("kill")
                .args(["-INT", &self.pid().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }
        #[cfg(not(unix))]
        {
            false
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A program still running that wanted the CPU for more than SPIN_SHARE of its last
        // SPIN_MIN_WALL was spinning (see `cpu_time`: load does not hide it). Its last moments,
        // not its whole life: a program that just moved 24 MB was busy for good reason (and on
        // a loaded machine "running or waiting to run" the whole time), but once its work is
        // done a program that waits for the network uses nothing.
        let share = match self.try_status() {
            None if cfg!(target_os = "linux") => {
                self.usage.recent_share(self.pid(), SPIN_MIN_WALL)
            }
            None if self.started.elapsed() >= SPIN_MIN_WALL => self
                .cpu_time()
                .map(|cpu| cpu.as_secs_f64() / self.started.elapsed().as_secs_f64()),
            _ => None,
        };
        self.usage.stop.store(true, Ordering::SeqCst);
        if let Some(share) = share.filter(|s| *s > SPIN_SHARE) {
            lock(&self.spins).push(format!(
                "the program was running or waiting to run {:.0} % of its last {:.1} s (a \
                 program that waits for the network is neither)",
                share * 100.0,
                SPIN_MIN_WALL.as_secs_f64()
            ));
        }
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
        drop(child);
        // Let the panic message of a `todo!()` reach the log before the check is judged.
        // (Up to 3 s: on a loaded machine the draining thread may be scheduled late; the stream
        // of a killed process closes at once otherwise, so this costs nothing in the usual case.)
        self.stderr.wait_closed(Duration::from_secs(3));
    }
}

/// The time process `pid` and every process it started *wanted the CPU*: time on a CPU plus
/// time waiting in a run queue for one, summed over every thread, from
/// `/proc/PID/task/TID/schedstat` (Linux; its first two fields, in nanoseconds).
///
/// Why not CPU time alone: on a shared machine a busy loop gets only its share of a CPU (a
/// tenth of one, with twenty runnable programs on two cores), so CPU seconds per wall second
/// fall with the load, and a spinning answer passed a check when graded beside nine others.
/// A spinning program is *runnable* all the time, whatever the load: on a CPU or waiting for
/// one, its sum grows as fast as the wall clock. A program that blocks is neither, and its sum
/// stays near zero. Children count too: a loop in a forked process is still the program's.
/// Where schedstat is missing (a kernel without CONFIG_SCHED_INFO), CPU time from
/// `/proc/PID/stat`.
#[cfg(target_os = "linux")]
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let tasks = task_times(pid);
    (!tasks.is_empty()).then(|| tasks.iter().map(|(_, t)| *t).sum())
}

/// One thread of a program, as `/proc` last saw it.
#[derive(Debug, Clone, Copy)]
pub struct TaskStat {
    pub tid: u32,
    /// Time it wanted the CPU: on one, or waiting for one (CPU time where schedstat is
    /// missing).
    pub runnable: Duration,
    /// How many times it blocked (voluntary context switches): a thread that waits blocks,
    /// a busy loop is only ever preempted.
    pub blocks: Option<u64>,
}

/// Every thread of `pid` and of its descendants.
#[cfg(target_os = "linux")]
pub fn task_stats(pid: u32) -> Vec<TaskStat> {
    let mut family = vec![pid];
    descendants(&mut family);
    let mut out = Vec::new();
    for p in family {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let path = task.path();
            let runnable = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|text| {
                    let mut fields =
                        text.split_whitespace().map(|f| f.parse::<u64>().ok());
                    Some(Duration::from_nanos(fields.next()?? + fields.next()??))
                })
                .or_else(|| {
                    let stat = std::fs::read_to_string(path.join("stat")).ok()?;
                    Some(Duration::from_millis(stat_ticks(&stat)? * 10))
                });
            let blocks =
                std::fs::read_to_string(path.join("status"))
                    .ok()
                    .and_then(|status| {
                        status
                            .lines()
                            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                            .and_then(|n| n.trim().parse::<u64>().ok())
                    });
            if let Some(runnable) = runnable {
                out.push(TaskStat {
                    tid,
                    runnable,
                    blocks,
                });
            }
        }
    }
    out
}

/// (thread id, time it wanted the CPU) for every thread of `pid` and of its descendants.
#[cfg(target_os = "linux")]
fn task_times(pid: u32) -> Vec<(u32, Duration)> {
    task_stats(pid)
        .into_iter()
        .map(|t| (t.tid, t.runnable))
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn task_times(_pid: u32) -> Vec<(u32, Duration)> {
    Vec::new()
}

/// utime + stime of a `/proc/…/stat` line, in USER_HZ ticks (100 per second everywhere common).
#[cfg(target_os = "linux")]
fn stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Every living descendant of the processes in `out` (children, their children, …), appended.
#[cfg(target_os = "linux")]
fn descendants(out: &mut Vec<u32>) {
    let mut parents: Vec<(u32, u32)> = Vec::new(); // (pid, ppid)
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let ppid = stat.rfind(')').and_then(|i| {
            stat[i + 2..].split_whitespace().nth(1)?.parse::<u32>().ok()
        });
        if let Some(ppid) = ppid {
            parents.push((p, ppid));
        }
    }
    let mut i = 0;
    loop {
        let parent = out[i];
        for &(p, ppid) in &parents {
            if ppid == parent && !out.contains(&p) {
                out.push(p);
            }
        }
        i += 1;
        if i >= out.len() {
            return;
        }
    }
}

/// CPU time of process `pid` from `ps -o time=` (macOS and the BSDs print `M:SS.cc`).
#[cfg(all(unix, not(target_os = "linux")))]
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let out = Command::new("ps")
        .args(["-o", "time=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // [[DD-]HH:]MM:SS[.cc]: add up the fields from the right.
    let text = text.trim();
    let (days, rest) = match text.split_once('-') {
        Some((d, r)) => (d.parse::<f64>().ok()?, r),
        None => (0.0, text),
    };
    let mut seconds = days * 86_400.0;
    for (i, field) in rest.rsplit(':').enumerate() {
        seconds += field.parse::<f64>().ok()? * 60f64.powi(i as i32);
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// CPU time is not measured on Windows: the CPU checks say "not measured".
#[cfg(not(unix))]
pub fn cpu_time(_pid: u32) -> Option<Duration> {
    None
}

/// A client connection with read and write timeouts of [`WAIT`].
pub fn connect(addr: SocketAddr) -> Result<TcpStream, Fail> {
    let stream = TcpStream::connect_timeout(&addr, WAIT).map_err(|e| {
        fail(
            format!("the server accepts a connection on {addr}"),
            format!("connect failed: {e}"),
            "is the server still running? (see its errors above)",
        )
    })?;
    let _ = stream.set_read_timeout(Some(WAIT));
    let _ = stream.set_write_timeout(Some(WAIT));
    Ok(stream)
}

/// How a read until the end of the stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The peer closed cleanly (`read` returned 0).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Nothing more arrived within the timeout; the connection is still open.
    Open,
}

/// Reads everything until the peer closes, or until `timeout` passes without it.
pub fn read_to_end(stream: &mut TcpStream, timeout: Duration) -> (Vec<u8>, End) {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return (got, End::Open);
        };
        let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match stream.read(&mut buf) {
            Ok(0) => return (got, End::Closed),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (got, End::Open);
            }
            Err(_) => return (got, End::Reset),
        }
    }
}

/// Reads one line (up to `\n`), or whatever came before the timeout or the end of the stream.
#[allow(dead_code)] // used by the line exercises
pub fn read_line(stream: &mut TcpStream, timeout: Duration) -> (Vec<u8>, End) {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if got.last() == Some(&b'\n') {
            return (got, End::Open);
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return (got, End::Open);
        };
        let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match stream.read(&mut byte) {
            Ok(0) => return (got, End::Closed),
            Ok(_) => got.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (got, End::Open);
            }
            Err(_) => return (got, End::Reset),
        }
    }
}

/// Bytes shown in a message: as text when they are text, shortened when long.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX {
        format!("{text:?}… ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

/// `len` bytes of varied content (not zeros), so a misplaced chunk cannot go unnoticed.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A one-connection server the checker owns, for exercises whose program is a client: accepts
/// one client on a free loopback port and runs `behave` with it on a thread (its socket with
/// read and write timeouts). Returns the address to give the client's `--addr`.
pub fn serve_once(
    behave: impl FnOnce(TcpStream) + Send + 'static,
) -> Result<SocketAddr, Fail> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| {
        fail(
            "the checker can listen on 127.0.0.1",
            format!("cannot listen: {e}"),
            "is the loopback interface up?",
        )
    })?;
    let addr = listener.local_addr().map_err(|e| {
        fail(
            "a local address",
            e.to_string(),
            "is the loopback interface up?",
        )
    })?;
    thread::spawn(move || {
        // Wait for the client at most WAIT: a client that never connects must not leave this
        // thread behind forever.
        let _ = listener.set_nonblocking(true);
        let deadline = Instant::now() + WAIT;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5))
                }
                Err(_) => return,
            }
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(WAIT));
        let _ = stream.set_write_timeout(Some(WAIT));
        let _ = stream.set_nodelay(true); // every write is its own segment: pieces stay pieces
        behave(stream);
    });
    Ok(addr)
}
