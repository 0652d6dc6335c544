//! What a check run found, and the three ways it is shown: lines with ✔ and ✘ for a person, JSON
//! and CSV for a gradebook or a test.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// Why one check failed: what it expected, what it saw, and what to try.
#[derive(Debug, Clone)]
pub struct Fail {
    pub expected: String,
    pub seen: String,
    pub hint: String,
}

/// Builds a [`Fail`]; every check's failure says all three things.
pub fn fail(
    expected: impl Into<String>,
    seen: impl Into<String>,
    hint: impl Into<String>,
) -> Fail {
    Fail {
        expected: expected.into(),
        seen: seen.into(),
        hint: hint.into(),
    }
}

/// The result of one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: &'static str,
    /// The numbered "Must hold" bullets of the exercise that this check proves.
    pub holds: &'static [u32],
    /// `None`: passed. A check that was not run (after "not done yet") has a `Fail` too.
    pub fail: Option<Fail>,
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.fail.is_none()
    }
}

/// The overall outcome for one file and one exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// At least one check failed.
    Fail,
    /// The `todo!()` is still there: the program panicked with "not yet implemented".
    NotDone,
    /// The file does not compile; the compiler's messages are kept.
    CompileError(String),
    /// The checks did not finish within the time allowed (a hang the checks' own timeouts did
    /// not catch).
    Timeout,
    /// (Grading) the student handed in no file for this exercise.
    Missing,
    /// (Grading) not graded, and why: the build ran out of time, the program broke out of
    /// what the sandbox allows (killed the checks that watched it), the sandbox failed.
    Refused(String),
}

impl Verdict {
    /// The word used in JSON and CSV.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotDone => "not_done",
            Verdict::CompileError(_) => "compile_error",
            Verdict::Timeout => "timeout",
            Verdict::Missing => "missing",
            Verdict::Refused(_) => "refused",
        }
    }
}

/// One file checked as one exercise.
#[derive(Debug, Clone)]
pub struct ExerciseResult {
    pub exercise: &'static str,
    pub source: PathBuf,
    pub verdict: Verdict,
    pub checks: Vec<CheckResult>,
    /// Things worth saying that are not a check (CPU not measured on this platform, …).
    pub notes: Vec<String>,
    /// The compiler's warnings, when it gave any.
    pub warnings: String,
    pub elapsed: Duration,
}

impl ExerciseResult {
    pub fn passed_count(&self) -> usize {
        self.checks.iter().filter(|c| c.passed()).count()
    }
}

/// Prints one check's line, and for a failure what was expected, seen, and the hint.
pub fn print_check(check: &CheckResult) {
    match &check.fail {
        None => println!("  ✔ {}", check.name),
        Some(fail) => {
            println!("  ✘ {}", check.name);
            println!("      expected: {}", fail.expected);
            println!("      seen:     {}", fail.seen);
            println!("      hint:     {}", fail.hint);
        }
    }
}

/// A string as a JSON string literal.
pub fn json_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One exercise result as a JSON object.
pub fn json_result(result: &ExerciseResult) -> String {
    let checks: Vec<String> = result
        .checks
        .iter()
        .map(|c| {
            let mut s = format!(
                "{{\"name\":{},\"holds\":{:?},\"passed\":{}",
                json_str(c.name),
                c.holds,
                c.passed()
            );
            if let Some(f) = &c.fail {
                let _ = write!(
                    s,
                    ",\"expected\":{},\"seen\":{},\"hint\":{}",
                    json_str(&f.expected),
                    json_str(&f.seen),
                    json_str(&f.hint)
                );
            }
            s.push('}');
            s
        })
        .collect();
    let compiler = match &result.verdict {
        Verdict::CompileError(text) => format!(",\"compiler\":{}", json_str(text)),
        _ => String::new(),
    };
    let notes: Vec<String> = result.notes.iter().map(|n| json_str(n)).collect();
    format!(
        "{{\"exercise\":{},\"file\":{},\"verdict\":{},\"passed\":{},\"total\":{},\
         \"seconds\":{:.2},\"checks\":[{}],\"notes\":[{}]{}}}",
        json_str(result.exercise),
        json_str(&result.source.display().to_string()),
        json_str(result.verdict.word()),
        result.passed_count(),
        result.checks.len(),
        result.elapsed.as_secs_f64(),
        checks.join(","),
        notes.join(","),
        compiler
    )
}

/// A CSV field, quoted when it needs to be (RFC 4180).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
