//! What grading shows and writes: the table, and the files a gradebook, a CI dashboard or a
//! student reads (JUnit XML, feedback).

use std::fmt::Write as _;

use super::Row;
use super::discover::Submission;
use super::row_score;
use crate::exercises::Exercise;
use crate::report::{ExerciseResult, Verdict};
use std::collections::BTreeMap;

pub fn cell(r: &ExerciseResult) -> String {
    let score = format!("{}/{}", r.passed_count(), r.checks.len());
    match &r.verdict {
        Verdict::Pass => format!("{score} pass"),
        Verdict::Fail => format!("{score} fail"),
        Verdict::NotDone => format!("{score} not done"),
        Verdict::CompileError(_) => "does not compile".to_string(),
        Verdict::Timeout => format!("{score} timeout"),
        Verdict::Missing => "missing".to_string(),
        Verdict::Refused(_) => "refused".to_string(),
    }
}

/// Why a result is not a pass, in one line (or two).
pub fn why(r: &ExerciseResult) -> Option<String> {
    Some(match &r.verdict {
        Verdict::CompileError(text) => text
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("compile error")
            .to_string(),
        Verdict::Refused(why) => format!("refused: {why}"),
        Verdict::Fail | Verdict::Timeout => r
            .checks
            .iter()
            .find(|c| !c.passed())
            .map(|c| {
                let seen = c.fail.as_ref().map(|f| f.seen.as_str()).unwrap_or("");
                let mut shown: String = seen.chars().take(140).collect();
                if shown.len() < seen.len() {
                    shown.push('…');
                }
                format!("✘ {}\n    seen: {shown}", c.name)
            })
            .unwrap_or_default(),
        _ => return None,
    })
}

pub fn print_table(
    table: &[(&Submission, Row)],
    graded: &[&'static Exercise],
    weights: &BTreeMap<String, f64>,
    identical: &[String],
) {
    let name_width = table
        .iter()
        .map(|(s, _)| s.student.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let col_width = graded
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0)
        .max(16);
    println!();
    print!("{:name_width$}", "student");
    for exercise in graded {
        print!("  {:col_width$}", exercise.name);
    }
    println!("  points");
    for (sub, row) in table {
        print!("{:name_width$}", sub.student);
        for (r, _) in row {
            print!("  {:col_width$}", cell(r));
        }
        let (earned, most) = row_score(row, graded, weights);
        println!("  {earned:.1}/{most:.1}");
    }
    println!();
    for (sub, row) in table {
        for warning in &sub.warnings {
            println!("{} — warning: {warning}", sub.student);
        }
        for (r, _) in row {
            if let Some(why) = why(r) {
                println!("{} / {}: {why}", sub.student, r.exercise);
            }
        }
    }
    for line in identical {
        println!("flag: {line}");
    }
}

/// JUnit XML: a test suite per student, a test case per check.
pub fn junit(table: &[(&Submission, Row)]) -> String {
    let xml = |s: &str| -> String {
        s.chars()
            .filter(|&c| c == '\t' || c == '\n' || !c.is_control())
            .collect::<String>()
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (sub, row) in table {
        let tests: usize = row.iter().map(|(r, _)| r.checks.len()).sum();
        let failures: usize = row
            .iter()
            .map(|(r, _)| r.checks.len() - r.passed_count())
            .sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\">",
            xml(&sub.student)
        );
        for (r, _) in row {
            for c in &r.checks {
                let _ = write!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\"",
                    xml(r.exercise),
                    xml(c.name)
                );
                match &c.fail {
                    None => out.push_str("/>\n"),
                    Some(f) => {
                        let _ = write!(
                            out,
                            "><failure message=\"{}\">expected: {}\nseen: {}\nhint: {}</failure></testcase>\n",
                            xml(&f.expected),
                            xml(&f.expected),
                            xml(&f.seen),
                            xml(&f.hint)
                        );
                    }
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The feedback file handed back to one student: their own results only.
pub fn feedback(sub: &Submission, row: &[(ExerciseResult, Option<String>)]) -> String {
    let mut out = format!("Feedback for {}\n", sub.student);
    for warning in &sub.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    for (r, _) in row {
        let _ = writeln!(out, "\n{}: {}", r.exercise, cell(r));
        match &r.verdict {
            Verdict::CompileError(text) => {
                let _ = writeln!(out, "{text}");
            }
            Verdict::Refused(why) => {
                let _ = writeln!(out, "refused: {why}");
            }
            Verdict::Missing => {}
            _ => {
                for c in &r.checks {
                    match &c.fail {
                        None => {
                            let _ = writeln!(out, "  ✔ {}", c.name);
                        }
                        Some(f) => {
                            let _ = writeln!(
                                out,
                                "  ✘ {}\n      expected: {}\n      seen:     {}\n      hint:     {}",
                                c.name, f.expected, f.seen, f.hint
                            );
                        }
                    }
                }
            }
        }
        if !r.warnings.trim().is_empty() {
            let _ = writeln!(out, "compiler warnings:\n{}", r.warnings.trim_end());
        }
    }
    out
}
