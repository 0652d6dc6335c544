//! Running an exercise's checks against one built program, bounded in time, and running many
//! such jobs in parallel.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::build::Built;
use crate::exercises::Exercise;
use crate::harness::{Ctx, lock};
use crate::report::{CheckResult, ExerciseResult, Verdict, fail};

/// The most one exercise's checks may take; each check has its own, much shorter, timeouts, so
/// this only ends a program that defeats them.
pub const BUDGET: Duration = Duration::from_secs(60);

/// What a "not done yet" check says.
pub fn not_done_fail(exercise: &Exercise) -> crate::report::Fail {
    fail(
        "your code instead of the `todo!()`",
        "the program panicked with \"not yet implemented\"",
        format!(
            "not done yet: open exercises/{}.rs and write {}",
            exercise.name, exercise.write
        ),
    )
}

/// A result in which every check failed for one reason (it did not compile, it was refused).
pub fn all_failed(
    exercise: &'static Exercise,
    source: PathBuf,
    verdict: Verdict,
    why: crate::report::Fail,
) -> ExerciseResult {
    ExerciseResult {
        exercise: exercise.name,
        source,
        verdict,
        checks: exercise
            .checks
            .iter()
            .map(|c| CheckResult {
                name: c.name,
                holds: c.holds,
                fail: Some(why.clone()),
            })
            .collect(),
        notes: vec![],
        warnings: String::new(),
        elapsed: Duration::ZERO,
    }
}

/// Runs every check of `exercise` against `built`, built from `source`.
pub fn run_exercise(
    exercise: &'static Exercise,
    source: PathBuf,
    built: &Built,
) -> ExerciseResult {
    run_exercise_with(exercise, source, built, None)
}

/// [`run_exercise`], where `confine` (inside a sandbox: the grader's own path) starts every
/// process of the student's through `check __confine`, and strays are killed after each check.
pub fn run_exercise_with(
    exercise: &'static Exercise,
    source: PathBuf,
    built: &Built,
    confine: Option<PathBuf>,
) -> ExerciseResult {
    let started = Instant::now();
    let (exe, warnings) = match built {
        Built::Exe { program, warnings } => (program.clone(), warnings.clone()),
        Built::CompileError(messages) => {
            return all_failed(
                exercise,
                source,
                Verdict::CompileError(messages.clone()),
                fail(
                    "the file compiles",
                    "compile errors",
                    "fix the compiler's first error, then check again",
                ),
            );
        }
        Built::Refused(why) => {
            return all_failed(
                exercise,
                source,
                Verdict::Refused(why.clone()),
                fail(
                    "the file is built and checked",
                    format!("refused: {why}"),
                    "",
                ),
            );
        }
    };

    let sandboxed = confine.is_some();
    let ctx = Ctx::new(exe).confined_by(confine);
    let (tx, rx) = mpsc::channel::<CheckResult>();
    let worker_ctx = ctx.clone();
    // The checks run on their own thread, so that a check stuck beyond its timeouts (it should
    // never be) can be abandoned: the watchdog below kills the processes and moves on.
    thread::spawn(move || {
        for check in exercise.checks {
            if worker_ctx.hit_todo() {
                break;
            }
            let mut outcome = (check.run)(&worker_ctx).err();
            if sandboxed {
                // Whatever the program left running (a daemon, a child in a process group of
                // its own) ends with its check.
                crate::sandbox::kill_strays();
            }
            let spins = worker_ctx.take_spins();
            if let (Some(failed), false) = (&mut outcome, spins.is_empty()) {
                failed.seen = format!("{}; and {}", failed.seen, spins.join("; "));
            } else if outcome.is_none() && !spins.is_empty() {
                outcome = Some(fail(
                    "a program that waits without using the CPU",
                    spins.join("; "),
                    "a loop that retries at once (a non-blocking read, a zero timeout, a read \
                     that keeps returning 0) spins: block, or wait with a timeout",
                ));
            }
            if tx
                .send(CheckResult {
                    name: check.name,
                    holds: check.holds,
                    fail: outcome,
                })
                .is_err()
            {
                break;
            }
        }
    });

    let deadline = started + BUDGET;
    let mut checks = Vec::new();
    let mut timed_out = false;
    while checks.len() < exercise.checks.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(result) => checks.push(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                ctx.kill_all();
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break, // stopped at "not done yet"
        }
    }
    let not_done = ctx.hit_todo();
    for check in &exercise.checks[checks.len()..] {
        checks.push(CheckResult {
            name: check.name,
            holds: check.holds,
            fail: Some(if not_done {
                not_done_fail(exercise)
            } else {
                fail(
                    "the checks finish",
                    format!("they ran out of time ({} s)", BUDGET.as_secs()),
                    "the program hangs: every wait needs a timeout",
                )
            }),
        });
    }
    if not_done {
        // Every check that failed because of the panic says so, not something puzzling.
        for check in &mut checks {
            if check.fail.is_some() {
                check.fail = Some(not_done_fail(exercise));
            }
        }
    }
    let verdict = if not_done {
        Verdict::NotDone
    } else if timed_out {
        Verdict::Timeout
    } else if checks.iter().all(CheckResult::passed) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let mut notes = ctx.notes();
    notes.sort();
    notes.dedup();
    ExerciseResult {
        exercise: exercise.name,
        source,
        verdict,
        checks,
        notes,
        warnings,
        elapsed: started.elapsed(),
    }
}

/// One job for [`run_parallel`].
pub struct Job {
    pub exercise: &'static Exercise,
    pub source: PathBuf,
    pub built: Built,
}

/// Runs the jobs on `workers` threads; the results come back in the jobs' order.
pub fn run_parallel(jobs: Vec<Job>, workers: usize) -> Vec<ExerciseResult> {
    let count = jobs.len();
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>()));
    lock(&queue).reverse(); // pop() takes from the end: keep the order
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (queue, tx) = (Arc::clone(&queue), tx.clone());
            thread::spawn(move || {
                loop {
                    let Some((index, job)) = lock(&queue).pop() else {
                        return;
                    };
                    let result = run_exercise(job.exercise, job.source, &job.built);
                    if tx.send((index, result)).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut results: Vec<_> = rx.iter().collect();
    for thread in threads {
        let _ = thread.join();
    }
    results.sort_by_key(|(index, _)| *index);
    assert_eq!(results.len(), count, "a check worker died");
    results.into_iter().map(|(_, r)| r).collect()
}
