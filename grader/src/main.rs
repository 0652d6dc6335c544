//! # The exercise checker
//!
//! Builds an exercise file, runs it the way the workbook's tests run the examples (over real
//! sockets on loopback, every wait bounded), and says, check by check, ✔ or ✘ with what was
//! expected, what was seen, and a hint.
//!
//! ```text
//! cargo run --bin check -- 02                  the exercises of chapter 02 (or a name: 02_read_exact)
//! cargo run --bin check -- --all               every exercise: "3 of 8 pass", and what is next
//! cargo run --bin check -- --file PATH --exercise 02_read_exact     any file, as that exercise
//! cargo run --bin check -- grade DIR [--exercise NAME] [--json F] [--csv F]   a class's work
//! cargo run --bin check -- --self-test         the checks are honest: solutions pass, starters
//!                                              are "not done yet", every wrong solution fails
//! cargo run --bin check -- --self-test 08      the same, for some exercises only
//! ```
//!
//! Chapter "Teaching with this workbook" (`book/src/teaching.md`) explains grading;
//! `exercises/README.md` explains exercises to students and, at its end, how to add one.

mod answers;
mod build;
mod classroom;
mod exercises;
mod grade;
mod harness;
mod report;
mod run;
mod sandbox;
mod selftest;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Parser, Subcommand};

use build::{build_all, root};
use exercises::{ALL, Exercise, select};
use report::{ExerciseResult, Verdict, json_result, print_check};
use run::{Job, run_parallel};
use socket_workbook::cli;

/// Checks the workbook's exercises over real sockets (see exercises/README.md).
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Exercises to check: a chapter number (`02`), a name (`02_read_exact`), or a file name.
    exercises: Vec<String>,

    /// Check every exercise and show your progress.
    #[arg(long, conflicts_with_all = ["exercises", "file", "self_test"])]
    all: bool,

    /// Check this file (a solution, someone's submission) instead of exercises/NAME.rs;
    /// needs --exercise.
    #[arg(long, requires = "exercise", conflicts_with = "exercises")]
    file: Option<PathBuf>,

    /// With --file: which exercise the file is.
    #[arg(long, requires = "file")]
    exercise: Option<String>,

    /// Prove the checks honest: every reference solution passes, every untouched starter is
    /// "not done yet", every wrong solution in solutions/wrong/ fails. Of every exercise, or
    /// of those named (`--self-test 08 17_allow_list`).
    #[arg(long, conflicts_with = "file")]
    self_test: bool,

    /// Check again every time you save the exercise's file (as `rustlings watch` does);
    /// Ctrl-C stops.
    #[arg(long, conflicts_with_all = ["all", "self_test", "file"])]
    watch: bool,

    /// Print the GitHub Classroom workflow that grades each student's repository on a
    /// runner of its own (grader/classroom/autograding.yml).
    #[arg(long, conflicts_with_all = ["exercises", "file", "self_test", "all"])]
    classroom_workflow: bool,

    #[command(flatten)]
    common: Common,
}

#[derive(ClapArgs)]
pub struct Common {
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE", global = true)]
    json: Option<PathBuf>,

    /// How many programs to check at once.
    #[arg(long, default_value_t = 3, global = true)]
    jobs: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Grade a folder of submissions: one file or one folder per student.
    Grade {
        /// The folder: `DIR/alice.rs` (one file: say which exercise with --exercise) or
        /// `DIR/bob/02_read_exact.rs …` (files named like the exercises).
        dir: PathBuf,

        /// Grade only this exercise (and accept a single file of any name as it).
        #[arg(long)]
        exercise: Option<String>,

        /// Grade (or regrade) only this student: the name of their file or folder.
        #[arg(long)]
        student: Option<String>,

        /// Also write one row per student and exercise as CSV to this file.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,

        /// Also write JUnit XML (a test suite per student, a test case per check).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,

        /// Write one feedback file per student into this folder, to hand back.
        #[arg(long, value_name = "DIR")]
        feedback: Option<PathBuf>,

        /// Points per exercise, from a file of lines `NN_task POINTS` (default: a point a check).
        #[arg(long, value_name = "FILE")]
        points: Option<PathBuf>,

        /// Run the submissions without a sandbox, with your rights: only for work you trust.
        #[arg(long)]
        no_sandbox: bool,

        /// Keep the scratch folder (the built programs) for a look; removed by default.
        #[arg(long)]
        keep_scratch: bool,

        /// Seconds one student's build may take before it is stopped.
        #[arg(long, value_name = "SECS", default_value_t = 90,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        build_limit: u64,
    },
}

fn main() -> ExitCode {
    // The grader's own steps inside a sandbox (grader/src/sandbox.rs), never typed by a person.
    let raw: Vec<String> = std::env::args().skip(1).collect();
    match raw.first().map(String::as_str) {
        Some("__confine") => {
            let rest = raw.get(2..).unwrap_or_default(); // after `__confine --`
            let Some((program, args)) = rest.split_first() else {
                return cli::report(Err(anyhow::anyhow!(
                    "usage: check __confine -- PROGRAM"
                )));
            };
            return cli::report(sandbox::confine_and_exec(Path::new(program), args));
        }
        Some("__run") => return cli::report(grade::sandboxed_run(&raw[1..])),
        _ => {}
    }
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Some(Command::Grade {
            dir,
            exercise,
            student,
            csv,
            junit,
            feedback,
            points,
            no_sandbox,
            keep_scratch,
            build_limit,
        }) => grade::grade(&grade::GradeArgs {
            dir: dir.clone(),
            exercise: exercise.clone(),
            student: student.clone(),
            json: cli.common.json.clone(),
            csv: csv.clone(),
            junit: junit.clone(),
            feedback: feedback.clone(),
            points: points.clone(),
            no_sandbox: *no_sandbox,
            keep_scratch: *keep_scratch,
            build_limit: std::time::Duration::from_secs(*build_limit),
            jobs: cli.common.jobs,
        }),
        None if cli.classroom_workflow => {
            print!("{}", classroom::workflow());
            Ok(true)
        }
        None if cli.self_test => selected(&cli.exercises)
            .and_then(|chosen| selftest::self_test(&chosen, &cli.common)),
        None if cli.all => check_all(&cli.common),
        None => match (&cli.file, &cli.exercise) {
            (Some(file), Some(name)) => one_exercise(name)
                .and_then(|ex| check_files(&[(ex, file.clone())], &cli.common)),
            _ if cli.watch => watch(&cli.exercises, &cli.common),
            _ => check_named(&cli.exercises, &cli.common),
        },
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => cli::report(Err(err)),
    }
}

/// The one exercise `name` selects.
pub fn one_exercise(name: &str) -> anyhow::Result<&'static Exercise> {
    match select(name).as_slice() {
        [one] => Ok(one),
        [] => bail!(
            "no exercise is called `{name}` (see exercises/README.md for the list)"
        ),
        many => bail!(
            "`{name}` is {} exercises: say which ({})",
            many.len(),
            many.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The student's own file of an exercise.
pub fn starter(exercise: &Exercise) -> PathBuf {
    root()
        .join("exercises")
        .join(format!("{}.rs", exercise.name))
}

/// Builds the files and runs the jobs; prints nothing.
pub fn build_and_run(
    pairs: &[(&'static Exercise, PathBuf)],
    common: &Common,
) -> anyhow::Result<Vec<ExerciseResult>> {
    let mut sources: Vec<PathBuf> = Vec::new();
    let mut jobs_src = Vec::new();
    for (exercise, file) in pairs {
        let file = fs::canonicalize(file)
            .with_context(|| format!("cannot find {}", file.display()))?;
        sources.push(file.clone());
        jobs_src.push((*exercise, file));
    }
    sources.sort();
    sources.dedup();
    eprintln!(
        "building {} file{}…",
        sources.len(),
        if sources.len() == 1 { "" } else { "s" }
    );
    let built = build_all(&sources)?;
    let jobs = jobs_src
        .into_iter()
        .map(|(exercise, source)| Job {
            exercise,
            built: built[&source].clone(),
            source,
        })
        .collect();
    Ok(run_parallel(jobs, common.jobs))
}

/// Prints one exercise's result in full.
pub fn print_result(result: &ExerciseResult, exercise: &Exercise) {
    println!();
    println!(
        "{} — {} (chapter: book/src/{})",
        exercise.name, exercise.task, exercise.chapter
    );
    println!("file: {}", result.source.display());
    match &result.verdict {
        Verdict::NotDone => {
            println!(
                "  ✘ not done yet: open exercises/{}.rs and write {}",
                exercise.name, exercise.write
            );
            println!(
                "    (the program stopped at `todo!()`: replace it with your code)"
            );
            return;
        }
        Verdict::CompileError(messages) => {
            println!("{messages}");
            println!(
                "  ✘ the file does not compile: the messages above point at its lines"
            );
            return;
        }
        _ => {}
    }
    if !result.warnings.trim().is_empty() {
        // Shown first: a warning often names the bug (an unused constant, a value never read).
        println!("  the compiler's warnings (often the bug itself):");
        for line in result.warnings.trim_end().lines() {
            println!("    {line}");
        }
    }
    for check in &result.checks {
        print_check(check);
    }
    for note in &result.notes {
        println!("  note: {note}");
    }
    println!(
        "  {} of {} checks pass{}",
        result.passed_count(),
        result.checks.len(),
        if result.verdict == Verdict::Timeout {
            " (the checks ran out of time)"
        } else {
            ""
        }
    );
}

pub fn write_json(path: &Path, body: &str) -> anyhow::Result<()> {
    fs::write(path, body).with_context(|| format!("cannot write {}", path.display()))
}

fn results_json(
    results: &[ExerciseResult],
    extra: &[String],
    started: Instant,
) -> String {
    let items: Vec<String> = results.iter().map(json_result).collect();
    format!(
        "{{\"seconds\":{:.2},\"results\":[\n{}\n]{}}}\n",
        started.elapsed().as_secs_f64(),
        items.join(",\n"),
        extra.iter().map(|e| format!(",{e}")).collect::<String>()
    )
}

/// `check 02`, `check 02_read_exact`: the student's own files, in full detail.
fn check_named(names: &[String], common: &Common) -> anyhow::Result<bool> {
    if names.is_empty() {
        bail!(
            "say which exercise to check: `cargo run --bin check -- 01` (a chapter), \
             `-- 01_byte_counter`, or `-- --all`"
        );
    }
    let pairs: Vec<_> = selected(names)?
        .into_iter()
        .map(|e| (e, starter(e)))
        .collect();
    check_files(&pairs, common)
}

/// `check --watch 02`: checks, then checks again whenever one of the exercise files is saved.
/// The `notify` crate asks the OS to say when a file changes (inotify, FSEvents,
/// ReadDirectoryChangesW): nothing is polled.
fn watch(names: &[String], common: &Common) -> anyhow::Result<bool> {
    use notify::{EventKind, RecursiveMode, Watcher};
    use std::sync::mpsc;
    use std::time::Duration;

    let files: Vec<PathBuf> =
        selected_named(names)?.into_iter().map(starter).collect();
    let (tx, rx) = mpsc::channel();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let _ = tx.send(event);
        })
        .context("cannot watch files")?;
    // Editors save by writing a new file and renaming it over the old one: watch the folder,
    // and keep the events about our files.
    let folder = root().join("exercises");
    watcher
        .watch(&folder, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", folder.display()))?;
    loop {
        let _ = check_named(names, common)?;
        println!();
        println!(
            "watching {} for changes (Ctrl-C to stop)…",
            files
                .iter()
                .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        // Wait for a change to one of our files, then for the editor to finish (a save is
        // often several events within a few milliseconds).
        loop {
            let event = rx.recv().context("the file watcher stopped")?;
            let ours = event.as_ref().is_ok_and(|e| {
                matches!(e.kind, EventKind::Modify(_) | EventKind::Create(_))
                    && e.paths.iter().any(|p| {
                        files
                            .iter()
                            .any(|f| p.ends_with(f.file_name().unwrap_or_default()))
                    })
            });
            if ours {
                break;
            }
        }
        while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
        println!("\n──── changed: checking again ────");
    }
}

/// [`selected`], but an empty list is an error: say which exercise.
fn selected_named(names: &[String]) -> anyhow::Result<Vec<&'static Exercise>> {
    if names.is_empty() {
        bail!("say which exercise to watch: `cargo run --bin check -- --watch 01`");
    }
    selected(names)
}

/// The exercises `names` select (chapter numbers, names, file names), in the order given;
/// every exercise when `names` is empty.
fn selected(names: &[String]) -> anyhow::Result<Vec<&'static Exercise>> {
    if names.is_empty() {
        return Ok(ALL.to_vec());
    }
    let mut chosen: Vec<&'static Exercise> = Vec::new();
    for name in names {
        let found = select(name);
        if found.is_empty() {
            bail!(
                "no exercise is called `{name}` (see exercises/README.md for the list)"
            );
        }
        for exercise in found {
            if !chosen.iter().any(|e| e.name == exercise.name) {
                chosen.push(exercise);
            }
        }
    }
    Ok(chosen)
}

fn check_files(
    pairs: &[(&'static Exercise, PathBuf)],
    common: &Common,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let results = build_and_run(pairs, common)?;
    for (result, (exercise, _)) in results.iter().zip(pairs) {
        print_result(result, exercise);
    }
    if let Some(path) = &common.json {
        write_json(path, &results_json(&results, &[], started))?;
    }
    Ok(results.iter().all(|r| r.verdict == Verdict::Pass))
}

/// `check --all`: one line per exercise, the progress, and what to do next.
fn check_all(common: &Common) -> anyhow::Result<bool> {
    let started = Instant::now();
    let pairs: Vec<_> = ALL.iter().map(|e| (*e, starter(e))).collect();
    let results = build_and_run(&pairs, common)?;
    println!();
    let width = ALL.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for (result, exercise) in results.iter().zip(ALL) {
        let (mark, what) = match &result.verdict {
            Verdict::Pass => ("✔", format!("{} checks pass", result.checks.len())),
            Verdict::NotDone => ("·", "not done yet".to_string()),
            Verdict::CompileError(_) => ("✘", "does not compile".to_string()),
            Verdict::Timeout => ("✘", "ran out of time".to_string()),
            _ => (
                "✘",
                format!(
                    "{} of {} checks pass",
                    result.passed_count(),
                    result.checks.len()
                ),
            ),
        };
        println!(
            "{mark} {:width$}  {what:24} {}",
            exercise.name, exercise.task
        );
    }
    let passed = results
        .iter()
        .filter(|r| r.verdict == Verdict::Pass)
        .count();
    println!();
    println!("{passed} of {} pass", results.len());
    // Next: the first exercise started but failing, else the first not done.
    let next = results
        .iter()
        .zip(ALL)
        .find(|(r, _)| !matches!(r.verdict, Verdict::Pass | Verdict::NotDone))
        .or_else(|| {
            results
                .iter()
                .zip(ALL)
                .find(|(r, _)| r.verdict != Verdict::Pass)
        });
    match next {
        Some((result, exercise)) if result.verdict == Verdict::NotDone => println!(
            "next: open exercises/{}.rs and write {}; then `cargo run --bin check -- {}`",
            exercise.name, exercise.write, exercise.name
        ),
        Some((_, exercise)) => println!(
            "next: exercises/{}.rs — see what fails with `cargo run --bin check -- {}`",
            exercise.name, exercise.name
        ),
        None => println!("every exercise passes: well done"),
    }
    if let Some(path) = &common.json {
        write_json(path, &results_json(&results, &[], started))?;
    }
    Ok(passed == results.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use report::{csv_field, json_str};

    #[test]
    fn a_number_a_name_or_a_file_name_selects_exercises() {
        let names = |q: &str| select(q).iter().map(|e| e.name).collect::<Vec<_>>();
        assert_eq!(names("02"), ["02_read_exact", "02_half_close"]);
        assert_eq!(names("2"), names("02"));
        assert_eq!(names("02_read_exact"), ["02_read_exact"]);
        assert_eq!(names("read_exact"), ["02_read_exact"]);
        assert_eq!(names("exercises/02_read_exact.rs"), ["02_read_exact"]);
        assert!(names("99").is_empty());
    }

    #[test]
    fn every_exercise_has_a_unique_name_and_at_least_three_checks() {
        let mut names: Vec<_> = ALL.iter().map(|e| e.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|e| e.checks.len() >= 3));
    }

    #[test]
    fn json_and_csv_escape_what_they_must() {
        assert_eq!(json_str("a \"b\"\n\\"), r#""a \"b\"\n\\""#);
        assert_eq!(json_str("\u{1}"), r#""\u0001""#);
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, \"b\""), r#""a, ""b""""#);
    }
}
