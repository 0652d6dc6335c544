//! "Waiting costs no CPU", judged the same way on an idle laptop and on a 2-core machine
//! grading a class: shared by the CPU checks of the exercises of chapters 04–08.
//!
//! Three measures of a process over a window (Linux, from `/proc/PID/task/*`; its threads and
//! children included):
//!
//! - time *runnable* (on a CPU or waiting for one: `harness::cpu_time`): a busy loop is
//!   runnable all the time however loaded the machine is, a program blocked in `read` or `wait`
//!   is not;
//! - *voluntary* context switches: each time a thread blocks (a `read`, a `wait`, a `sleep`).
//!   A program that naps a millisecond between turns (chapter 07's loop) blocks hundreds of
//!   times a second; on a loaded machine each wake-up also waits its turn for a CPU, so its
//!   runnable time grows with the load, but its switches say that it waits. A busy loop never
//!   blocks: it is only ever preempted (an *involuntary* switch);
//! - nothing else: CPU time alone falls with the load (a busy loop gets a tenth of a CPU with
//!   twenty programs on two cores), so it cannot tell a loop from a nap.
//!
//! A program is asleep over a window when it was runnable for at most [`RUNNABLE_SHARE`] of it,
//! or when it blocked at least [`BLOCKS_PER_SECOND`] times a second. Real work (building an
//! 8 MB reply in a debug build takes a loaded machine seconds of runnable time) is neither:
//! [`expect_asleep`] therefore first gives the program up to `settle` to finish what it was
//! asked, and judges the window after it. A spinning program never settles.

use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{Ctx, Proc};
use crate::report::{Fail, fail};

/// Runnable for at most this share of a window: asleep.
const RUNNABLE_SHARE: f64 = 0.2;
/// Blocked at least this often: waiting, whatever the load adds to its runnable time.
const BLOCKS_PER_SECOND: f64 = 20.0;
/// The slices in which [`expect_asleep`] waits for the program to settle.
const SLICE: Duration = Duration::from_millis(200);

/// What a process did over a window.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub wall: Duration,
    pub runnable: Duration,
    pub blocks: u64,
}

impl Usage {
    pub fn asleep(&self) -> bool {
        let wall = self.wall.as_secs_f64().max(1e-3);
        self.runnable.as_secs_f64() <= RUNNABLE_SHARE * wall
            || self.blocks as f64 / wall >= BLOCKS_PER_SECOND
    }

    pub fn describe(&self) -> String {
        let wall = self.wall.as_secs_f64().max(1e-3);
        format!(
            "runnable (on a CPU or waiting for one) {:.2} s of {:.1} s ({:.0} %), blocked {} \
             times ({:.0} a second)",
            self.runnable.as_secs_f64(),
            wall,
            100.0 * self.runnable.as_secs_f64() / wall,
            self.blocks,
            self.blocks as f64 / wall
        )
    }
}

/// Per thread: the nanoseconds it was runnable, and how many times it blocked, for process
/// `pid`, its threads and its children (Linux; `harness::task_stats`).
#[cfg(target_os = "linux")]
type Snapshot = std::collections::HashMap<u32, (u64, u64)>;

#[cfg(target_os = "linux")]
fn snapshot(pid: u32) -> Option<Snapshot> {
    let out: Snapshot = crate::harness::task_stats(pid)
        .into_iter()
        .filter_map(|t| Some((t.tid, (t.runnable.as_nanos() as u64, t.blocks?))))
        .collect();
    (!out.is_empty()).then_some(out)
}

/// Measures `proc` over `window`; `None` where the runnable time is not measured.
///
/// Thread by thread: a thread that ends within the window takes its time with it (its
/// `/proc` entry is gone), and a sum over the process would then lose that thread's whole
/// past, hiding the others' time too. Threads that end count for nothing here; threads that
/// start count from zero.
#[cfg(target_os = "linux")]
pub fn usage(proc: &Proc, window: Duration) -> Option<Usage> {
    let pid = proc.pid();
    let before = snapshot(pid)?;
    let started = Instant::now();
    thread::sleep(window);
    let after = snapshot(pid).unwrap_or_default();
    let wall = started.elapsed();
    let (mut runnable, mut blocks) = (0u64, 0u64);
    for (key, (r, b)) in &after {
        let (r0, b0) = before.get(key).copied().unwrap_or((0, 0));
        runnable += r.saturating_sub(r0);
        blocks += b.saturating_sub(b0);
    }
    Some(Usage {
        wall,
        runnable: Duration::from_nanos(runnable),
        blocks,
    })
}

/// Elsewhere, CPU time alone (`harness::cpu_time`, where it is measured) judges: no count of
/// blocks.
#[cfg(not(target_os = "linux"))]
pub fn usage(proc: &Proc, window: Duration) -> Option<Usage> {
    let before = crate::harness::cpu_time(proc.pid())?;
    let started = Instant::now();
    thread::sleep(window);
    Some(Usage {
        wall: started.elapsed(),
        runnable: crate::harness::cpu_time(proc.pid())?.saturating_sub(before),
        blocks: 0,
    })
}

/// Waits up to `settle` for `proc` to finish its work (a slice in which it is asleep), then
/// requires it to be asleep over `window`. Says `what` it should be waiting for on failure.
pub fn expect_asleep(
    ctx: &Ctx,
    proc: &Proc,
    settle: Duration,
    window: Duration,
    what: &str,
    hint: &str,
) -> Result<(), Fail> {
    let started = Instant::now();
    loop {
        let Some(slice) = usage(proc, SLICE) else {
            ctx.note("CPU time is not measured on this platform: the CPU check passes unmeasured");
            return Ok(());
        };
        if slice.asleep() || started.elapsed() >= settle {
            break;
        }
    }
    let Some(measured) = usage(proc, window) else {
        return Ok(());
    };
    if measured.asleep() {
        return Ok(());
    }
    Err(fail(
        format!(
            "a program asleep {what}: runnable at most {:.0} % of the time, or blocking (at \
             least {BLOCKS_PER_SECOND:.0} times a second)",
            RUNNABLE_SHARE * 100.0
        ),
        measured.describe(),
        hint,
    ))
}
