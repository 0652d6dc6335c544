//! `check grade DIR`: a class's work, each student in a sandbox of their own.
//!
//! 1. **Find** the submissions as teachers receive them: one `.rs` file or one folder per
//!    student, files found in subfolders (a zip's layout), `__MACOSX/`, hidden files and
//!    symbolic links ignored, misnamed files and unknown exercises warned with the closest
//!    exercise's name, two files for one exercise and identical submissions flagged.
//! 2. **Build** each file: in its own sandbox ([`crate::sandbox`]) with `rustc` alone and a
//!    time limit; or, with `--no-sandbox`, with cargo as `check` does.
//! 3. **Run** the checks of each file in its own sandbox: the results come back on the
//!    runner's standard output, out of the student's reach.
//! 4. **Report**, once every sandbox is gone: the table, and the files a gradebook reads
//!    (JSON, CSV, JUnit XML) and feedback files to hand back, each written whole or not at all.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::build::{self, Built};
use crate::exercises::{ALL, Exercise, select};
use crate::harness::lock;
use crate::report::{
    self, CheckResult, ExerciseResult, Verdict, csv_field, json_result, json_str,
};
use crate::run::{self, BUDGET, Job, all_failed};
use crate::sandbox::{self, Toolkit};

/// One student's results, exercise by exercise, each with its file's hash.
type Row = Vec<(ExerciseResult, Option<String>)>;

/// What `check grade` was asked.
pub struct GradeArgs {
    pub dir: PathBuf,
    pub exercise: Option<String>,
    pub student: Option<String>,
    pub json: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub feedback: Option<PathBuf>,
    pub points: Option<PathBuf>,
    pub no_sandbox: bool,
    pub keep_scratch: bool,
    pub build_limit: Duration,
    pub jobs: usize,
}

/// One student's submission.
struct Submission {
    /// The name shown: the folder's or file's name, control characters made visible.
    student: String,
    files: BTreeMap<&'static str, PathBuf>,
    /// Things the teacher should know about this submission (a misnamed file, …).
    warnings: Vec<String>,
}

/// A name for a table: every byte of a file name can be shown, none can break a line.
fn printable(name: &OsStr) -> String {
    name.to_string_lossy()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Files and folders a student did not mean to hand in.
fn ignored(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || name == "__MACOSX" || name == "target"
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// The exercise a misnamed file most likely is.
fn closest(stem: &str) -> Option<&'static str> {
    ALL.iter()
        .map(|e| (distance(stem, e.name), e.name))
        .filter(|(d, name)| {
            *d <= name.len() / 3 || name.starts_with(&stem[..stem.len().min(3)])
        })
        .min()
        .map(|(_, name)| name)
}

/// Every `.rs` file under `dir` (not following links), sorted, at most `depth` folders down.
fn rust_files(
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) {
    let Ok(entries) = fs::read_dir(dir) else {
        warnings.push(format!("cannot read {}", dir.display()));
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if ignored(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            warnings.push(format!(
                "{} is a symbolic link: ignored (hand in the file itself)",
                printable(&name)
            ));
        } else if meta.is_dir() && depth > 0 {
            rust_files(&path, depth - 1, out, warnings);
        } else if meta.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Finds the submissions in `dir`.
fn discover(
    dir: &Path,
    only: Option<&'static Exercise>,
) -> anyhow::Result<Vec<Submission>> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .filter(|e| !ignored(&e.file_name()))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let mut warnings = Vec::new();
        let mut files = BTreeMap::new();
        let student;
        if meta.is_file() {
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            student = printable(path.file_stem().unwrap_or_default());
            let stem = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let exercise = match only {
                Some(exercise) => Some(exercise),
                None => match select(&stem).as_slice() {
                    [one] => Some(*one),
                    _ => None,
                },
            };
            match exercise {
                Some(exercise) => {
                    files.insert(exercise.name, path.clone());
                }
                None => warnings.push(format!(
                    "one file, `{}`: which exercise is it? grade it with --exercise NAME",
                    printable(entry.file_name().as_os_str())
                )),
            }
        } else if meta.is_dir() {
            student = printable(&entry.file_name());
            let mut rs = Vec::new();
            rust_files(&path, 6, &mut rs, &mut warnings);
            let mut unmatched = Vec::new();
            for file in &rs {
                let stem = file
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let shown = file
                    .strip_prefix(&path)
                    .unwrap_or(file)
                    .display()
                    .to_string();
                match ALL.iter().find(|e| e.name == stem) {
                    Some(exercise) if only.is_none_or(|o| o.name == exercise.name) => {
                        if let Some(first) = files.get(exercise.name) {
                            let first: &PathBuf = first;
                            warnings.push(format!(
                                "two files for {}: {} and {shown}; graded the first",
                                exercise.name,
                                first.strip_prefix(&path).unwrap_or(first).display()
                            ));
                        } else {
                            files.insert(exercise.name, file.clone());
                        }
                    }
                    Some(_) => {}
                    None => unmatched.push((stem, shown, file.clone())),
                }
            }
            // One file of another name, when one exercise is graded: that exercise.
            if let (Some(exercise), true, [(_, _, file)]) =
                (only, files.is_empty(), unmatched.as_slice())
            {
                files.insert(exercise.name, file.clone());
                unmatched.clear();
            }
            for (stem, shown, _) in unmatched {
                warnings.push(match closest(&stem) {
                    Some(name) => format!(
                        "{shown}: no exercise is called `{stem}`; is it {name}? (rename it \
                         {name}.rs to grade it)"
                    ),
                    None => format!("{shown}: no exercise is called `{stem}`: not graded"),
                });
            }
        } else {
            continue;
        }
        out.push(Submission {
            student,
            files,
            warnings,
        });
    }
    Ok(out)
}

/// Points per exercise: `--points FILE`, lines `NN_task POINTS` (`#` comments); by default
/// one point per check.
fn points(path: Option<&Path>) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    let Some(path) = path else {
        return Ok(out);
    };
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(value), None) =
            (words.next(), words.next(), words.next())
        else {
            bail!(
                "{}:{}: expected `NN_task POINTS`, not {line:?}",
                path.display(),
                i + 1
            );
        };
        let exercise = match select(name).as_slice() {
            [one] => one.name,
            _ => bail!(
                "{}:{}: no exercise is called `{name}`",
                path.display(),
                i + 1
            ),
        };
        let value: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .with_context(|| {
                format!("{}:{}: `{value}` is not a number", path.display(), i + 1)
            })?;
        out.insert(exercise.to_string(), value);
    }
    Ok(out)
}

/// The points a result earns, and the most it could.
fn score(
    result: &ExerciseResult,
    exercise: &Exercise,
    weights: &BTreeMap<String, f64>,
) -> (f64, f64) {
    let total = weights
        .get(exercise.name)
        .copied()
        .unwrap_or(exercise.checks.len() as f64);
    let share = if exercise.checks.is_empty() {
        0.0
    } else {
        result.passed_count() as f64 / exercise.checks.len() as f64
    };
    (total * share, total)
}

/// Writes `body` to `path` whole or not at all: a temporary file beside it, then a rename.
fn write_atomically(path: &Path, body: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut temp, body.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The SHA-256 of a file, in hex.
fn sha256(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

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
    println!("{}", json_result(&result));
    Ok(())
}

/// Runs the checks of `program` in a sandbox of its own; reads the result back.
fn run_in_sandbox(
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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return refused(format!("cannot start bwrap: {e}")),
    };
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
    match (
        status,
        result_from_json(exercise, source.to_path_buf(), text.trim()),
    ) {
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

/// `check grade DIR`.
pub fn grade(args: &GradeArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let only = match &args.exercise {
        Some(name) => Some(crate::one_exercise(name)?),
        None => None,
    };
    let weights = points(args.points.as_deref())?;
    let mut subs = discover(&args.dir, only)?;
    if let Some(student) = &args.student {
        subs.retain(|s| &s.student == student);
        if subs.is_empty() {
            bail!("no submission of `{student}` in {}", args.dir.display());
        }
    }
    if subs.is_empty() {
        bail!(
            "no submissions in {} (one .rs file or one folder per student)",
            args.dir.display()
        );
    }

    // The protections, before any student's code is touched.
    let protections = sandbox::probe();
    let missing: Vec<&sandbox::Protection> = protections
        .iter()
        .filter(|p| p.available.is_err())
        .collect();
    let sandboxed = !args.no_sandbox;
    if sandboxed && !missing.is_empty() {
        let mut text = String::from(
            "refusing to grade: this machine lacks protections that keep a hostile submission \
             from reading or changing what is not its own:",
        );
        for p in &missing {
            let _ = write!(
                text,
                "\n  - {}: {} (it stops {})",
                p.name,
                p.available.as_ref().err().map(String::as_str).unwrap_or(""),
                p.stops
            );
        }
        text.push_str(
            "\nhint: grade on a Linux machine with bubblewrap and Landlock, or pass --no-sandbox \
             if you trust every submission (or run this inside a throwaway virtual machine)",
        );
        bail!(text);
    }
    if !sandboxed {
        eprintln!(
            "warning: --no-sandbox: the submissions run with your rights, in one process group; \
             grade only work you trust"
        );
    }

    // The exercises graded: the one asked for, or every exercise someone handed in.
    let graded: Vec<&'static Exercise> = match only {
        Some(exercise) => vec![exercise],
        None => ALL
            .iter()
            .copied()
            .filter(|e| subs.iter().any(|s| s.files.contains_key(e.name)))
            .collect(),
    };
    let mut pairs: Vec<(usize, &'static Exercise, PathBuf)> = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        for exercise in &graded {
            if let Some(file) = sub.files.get(exercise.name) {
                pairs.push((i, *exercise, file.clone()));
            }
        }
    }

    // Identical files handed in by several students.
    let hashes: Vec<String> = pairs.iter().map(|(_, _, f)| sha256(f)).collect();
    let mut same: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (k, (i, exercise, _)) in pairs.iter().enumerate() {
        same.entry((exercise.name, hashes[k].as_str()))
            .or_default()
            .push(*i);
    }
    let mut identical: Vec<String> = Vec::new();
    for ((exercise, _), students) in &same {
        if students.len() > 1 {
            let names: Vec<&str> =
                students.iter().map(|&i| subs[i].student.as_str()).collect();
            identical.push(format!("identical {exercise}: {}", names.join(", ")));
        }
    }

    let scratch = build::scratch_root()?.join(format!("grade-{}", std::process::id()));
    let results: Vec<ExerciseResult> = if sandboxed {
        eprintln!("preparing the sandbox's toolkit (the workbook's libraries)…");
        let placeholder = crate::starter(graded.first().copied().unwrap_or(ALL[0]));
        let toolkit = Toolkit::prepare(&scratch.join("toolkit"), &placeholder)?;
        eprintln!(
            "building and checking {} file{} in {} sandboxes at a time…",
            pairs.len(),
            if pairs.len() == 1 { "" } else { "s" },
            args.jobs.max(1)
        );
        let queue = Arc::new(Mutex::new(
            pairs.iter().cloned().enumerate().rev().collect::<Vec<_>>(),
        ));
        let done = Arc::new(Mutex::new(Vec::new()));
        let toolkit = Arc::new(toolkit);
        thread::scope(|scope| {
            for _ in 0..args.jobs.max(1) {
                let (queue, done, toolkit, scratch) =
                    (&queue, &done, &toolkit, &scratch);
                scope.spawn(move || {
                    loop {
                        let Some((k, (_, exercise, file))) = lock(queue).pop() else {
                            return;
                        };
                        let work = scratch.join(format!("work-{k}"));
                        let built = toolkit.build(
                            &file,
                            &work,
                            &format!("{}.rs", exercise.name),
                            args.build_limit,
                        );
                        let mut result = match &built {
                            Built::Exe { program, warnings } => {
                                let mut r = run_in_sandbox(exercise, &file, program);
                                r.warnings = warnings.clone();
                                r
                            }
                            _ => run::run_exercise(exercise, file.clone(), &built),
                        };
                        result.source = file.clone();
                        let _ = fs::remove_dir_all(&work); // disk stays bounded
                        lock(done).push((k, result));
                    }
                });
            }
        });
        let mut done = std::mem::take(&mut *lock(&done));
        done.sort_by_key(|(k, _)| *k);
        done.into_iter().map(|(_, r)| r).collect()
    } else {
        let files: Vec<PathBuf> = pairs.iter().map(|(_, _, f)| f.clone()).collect();
        let mut unique = files.clone();
        unique.sort();
        unique.dedup();
        eprintln!("building {} files…", unique.len());
        let built = build::build_all(&unique)?;
        let jobs = pairs
            .iter()
            .map(|(_, exercise, file)| Job {
                exercise,
                built: built[file].clone(),
                source: file.clone(),
            })
            .collect();
        run::run_parallel(jobs, args.jobs)
    };
    if !args.keep_scratch {
        let _ = fs::remove_dir_all(&scratch);
    }

    // Every student × exercise, in order; what was not handed in is "missing".
    let mut by_pair: BTreeMap<(usize, &str), (ExerciseResult, String)> =
        BTreeMap::new();
    for (((i, exercise, _), result), hash) in pairs.iter().zip(results).zip(&hashes) {
        by_pair.insert((*i, exercise.name), (result, hash.clone()));
    }
    let mut table: Vec<(&Submission, Row)> = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        let mut row = Vec::new();
        for exercise in &graded {
            row.push(match by_pair.remove(&(i, exercise.name)) {
                Some((result, hash)) => (result, Some(hash)),
                None => (
                    all_failed(
                        exercise,
                        PathBuf::new(),
                        Verdict::Missing,
                        report::fail("a file", "none handed in", ""),
                    ),
                    None,
                ),
            });
        }
        table.push((sub, row));
    }
    let built_any = table.iter().flat_map(|(_, row)| row).any(|(r, _)| {
        !matches!(
            r.verdict,
            Verdict::Missing | Verdict::CompileError(_) | Verdict::Refused(_)
        )
    });

    print_table(&table, &graded, &weights, &identical);

    let version = env!("CARGO_PKG_VERSION");
    if let Some(path) = &args.json {
        let students: Vec<String> = table
            .iter()
            .map(|(sub, row)| {
                let (earned, most) = row_score(row, &graded, &weights);
                let exercises: Vec<String> = row
                    .iter()
                    .map(|(r, hash)| {
                        let body = json_result(r);
                        let hash = hash.as_deref().map(json_str).unwrap_or("null".into());
                        let warnings = json_str(&r.warnings);
                        format!("{{\"sha256\":{hash},\"warnings\":{warnings},{}", &body[1..])
                    })
                    .collect();
                format!(
                    "{{\"student\":{},\"points\":{earned:.2},\"points_total\":{most:.2},\
                     \"warnings\":[{}],\"exercises\":[{}]}}",
                    json_str(&sub.student),
                    sub.warnings.iter().map(|w| json_str(w)).collect::<Vec<_>>().join(","),
                    exercises.join(",")
                )
            })
            .collect();
        let body = format!(
            "{{\"checker\":{{\"name\":\"socket-workbook check\",\"version\":{}}},\
             \"sandbox\":{},\"seconds\":{:.2},\"identical\":[{}],\"students\":[\n{}\n]}}\n",
            json_str(version),
            sandboxed,
            started.elapsed().as_secs_f64(),
            identical
                .iter()
                .map(|w| json_str(w))
                .collect::<Vec<_>>()
                .join(","),
            students.join(",\n")
        );
        write_atomically(path, &body)?;
    }
    if let Some(path) = &args.csv {
        let mut body = String::from(
            "student,exercise,verdict,passed,total,points,points_total,passed_checks,failed_checks\n",
        );
        for (sub, row) in &table {
            for ((r, _), exercise) in row.iter().zip(&graded) {
                let names = |passed: bool| -> String {
                    r.checks
                        .iter()
                        .filter(|c| c.passed() == passed)
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let (earned, most) = score(r, exercise, &weights);
                let _ = writeln!(
                    body,
                    "{},{},{},{},{},{earned:.2},{most:.2},{},{}",
                    csv_field(&sub.student),
                    csv_field(r.exercise),
                    r.verdict.word(),
                    r.passed_count(),
                    r.checks.len(),
                    csv_field(&names(true)),
                    csv_field(&names(false))
                );
            }
        }
        write_atomically(path, &body)?;
    }
    if let Some(path) = &args.junit {
        write_atomically(path, &junit(&table))?;
    }
    if let Some(dir) = &args.feedback {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for (sub, row) in &table {
            let safe: String = sub
                .student
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let safe = safe.trim_start_matches('.').to_string();
            write_atomically(&dir.join(format!("{safe}.txt")), &feedback(sub, row))?;
        }
    }
    eprintln!("graded in {:.1} s", started.elapsed().as_secs_f64());
    if !built_any {
        bail!("no submission could be built and checked: see the table above");
    }
    Ok(true)
}

fn row_score(
    row: &[(ExerciseResult, Option<String>)],
    graded: &[&'static Exercise],
    weights: &BTreeMap<String, f64>,
) -> (f64, f64) {
    row.iter()
        .zip(graded)
        .map(|((r, _), e)| score(r, e, weights))
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d))
}

fn cell(r: &ExerciseResult) -> String {
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
fn why(r: &ExerciseResult) -> Option<String> {
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

fn print_table(
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
fn junit(table: &[(&Submission, Row)]) -> String {
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
fn feedback(sub: &Submission, row: &[(ExerciseResult, Option<String>)]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misnamed_file_is_matched_to_the_closest_exercise() {
        assert_eq!(closest("05_store"), Some("05_store_handler"));
        assert_eq!(closest("02_read_exactly"), Some("02_read_exact"));
        assert_eq!(closest("zzzzzzzzzzzzzzzzzzzzzzzz"), None);
    }

    #[test]
    fn any_byte_in_a_name_is_shown_on_one_line() {
        assert_eq!(printable(OsStr::new("a\nb\tc")), "a?b?c");
    }
}
