//! The two ends of a sandboxed run: the grader starts the checks of one program in a sandbox
//! of its own (`run_in_sandbox`), and the runner inside (`check __run`) runs them, every
//! process of the student's confined, and signs its result with a secret only the grader and
//! the runner know.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::build::Built;
use crate::exercises::{ALL, Exercise};
use crate::report::{self, CheckResult, ExerciseResult, Verdict, json_result};
use crate::run::{self, BUDGET, all_failed};
use crate::sandbox;

/// An [`ExerciseResult`] read back from the JSON the in-sandbox runner printed.
fn result_from_json(
    exercise: &'static Exercise,
    source: PathBuf,
    text: &str,
) -> Option<ExerciseResult> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let verdict = match value["verdict"].as_str()? {
        "pass" => Verdict::Pass,
        "fail" => Verdict::Fail,
        "not_done" => Verdict::NotDone,
        "timeout" => Verdict::Timeout,
        "compile_error" => {
            Verdict::CompileError(value["compiler"].as_str()?.to_string())
        }
        _ => return None,
    };
    let checks = value["checks"].as_array()?;
    if checks.len() != exercise.checks.len() {
        return None;
    }
    let checks = exercise
        .checks
        .iter()
        .zip(checks)
        .map(|(check, c)| CheckResult {
            name: check.name,
            holds: check.holds,
            fail: if c["passed"].as_bool() == Some(true) {
                None
            } else {
                Some(report::fail(
                    c["expected"].as_str().unwrap_or(""),
                    c["seen"].as_str().unwrap_or(""),
                    c["hint"].as_str().unwrap_or(""),
                ))
            },
        })
        .collect();
    Some(ExerciseResult {
        exercise: exercise.name,
        source,
        verdict,
        checks,
        notes: value["notes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        warnings: String::new(),
        elapsed: Duration::from_secs_f64(value["seconds"].as_f64().unwrap_or(0.0)),
    })
}

/// The in-sandbox runner: `check __run EXERCISE PROGRAM`. Runs the checks, every process of the
/// program confined, and prints the result as one JSON object on stdout.
pub fn sandboxed_run(args: &[String]) -> anyhow::Result<()> {
    let [name, program] = args else {
        bail!("usage: check __run EXERCISE PROGRAM");
    };
    sandbox::not_dumpable();
    // The grader's secret for this run, read before any program of the student's exists: the
    // result is signed with it, so that bytes a program pushed into the same pipe (through
    // /proc/1/fd/1, where Landlock is missing) cannot pass for a result.
    let mut secret = String::new();
    std::io::stdin()
        .read_line(&mut secret)
        .context("no secret on stdin")?;
    let secret = secret.trim().to_string();
    let exercise = ALL
        .iter()
        .copied()
        .find(|e| e.name == name)
        .with_context(|| format!("no exercise {name}"))?;
    let me = std::env::current_exe().context("cannot find the checker")?;
    let built = Built::Exe {
        program: PathBuf::from(program),
        warnings: String::new(),
    };
    let result =
        run::run_exercise_with(exercise, PathBuf::from(program), &built, Some(me));
    sandbox::kill_strays();
    let body = json_result(&result);
    println!("RESULT {} {body}", sign(&secret, &body));
    Ok(())
}

/// The signature of a result: SHA-256 of the secret and the body, in hex.
fn sign(secret: &str, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret.as_bytes());
    hasher.update(b"\n");
    hasher.update(body.as_bytes());
    super::hex(&hasher.finalize())
}

/// A fresh secret: 32 bytes from the kernel's random source, in hex.
fn fresh_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(super::hex(&bytes))
}

/// Runs the checks of `program` in a sandbox of its own; reads the result back.
pub fn run_in_sandbox(
    exercise: &'static Exercise,
    source: &Path,
    program: &Path,
) -> ExerciseResult {
    let refused = |why: String| {
        all_failed(
            exercise,
            source.to_path_buf(),
            Verdict::Refused(why.clone()),
            report::fail("the checks run to their end", format!("refused: {why}"), ""),
        )
    };
    let checker = match std::env::current_exe() {
        Ok(me) => me,
        Err(e) => return refused(format!("cannot find the checker: {e}")),
    };
    let mut command = sandbox::sandbox_command(
        &[
            (&checker, "/grader/check", false),
            (program, "/grader/program", false),
        ],
        &[],
    );
    command
        .args(["/grader/check", "__run", exercise.name, "/grader/program"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let secret = match fresh_secret() {
        Ok(secret) => secret,
        Err(e) => return refused(format!("{e:#}")),
    };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return refused(format!("cannot start bwrap: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ =
            std::io::Write::write_all(&mut stdin, format!("{secret}\n").as_bytes());
    }
    let mut stdout = child.stdout.take().expect("piped");
    let reader = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = (&mut stdout).take(4 << 20).read_to_end(&mut text);
        text
    });
    // The runner's own watchdog ends the checks after BUDGET; this one ends a runner that a
    // program stopped or froze.
    let limit = BUDGET + Duration::from_secs(30);
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    let text =
        String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    // Only a line signed with this run's secret is the runner's.
    let signed = text.lines().find_map(|line| {
        let rest = line.strip_prefix("RESULT ")?;
        let (signature, body) = rest.split_once(' ')?;
        (signature == sign(&secret, body)).then_some(body)
    });
    let result =
        signed.and_then(|body| result_from_json(exercise, source.to_path_buf(), body));
    match (status, result) {
        (Some(status), Some(result)) if status.success() => result,
        (None, _) => refused(format!(
            "the checks did not finish within {} s: the program froze the checks that watched it",
            limit.as_secs()
        )),
        (Some(status), _) => refused(format!(
            "the checks that watched the program were stopped ({status}): the program broke \
             out of what a submission may do"
        )),
    }
}
