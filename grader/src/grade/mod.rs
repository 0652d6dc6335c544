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

mod discover;
mod output;
mod runner;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::build::{self, Built};
use crate::exercises::{ALL, Exercise, select};
use crate::harness::lock;
use crate::report::{self, ExerciseResult, Verdict, csv_field, json_result, json_str};
use crate::run::{self, Job, all_failed};
use crate::sandbox::{self, Toolkit};
use discover::{Submission, discover};
use output::{feedback, junit, print_table};
use runner::run_in_sandbox;
pub use runner::sandboxed_run;

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
    hex(&Sha256::digest(fs::read(path).unwrap_or_default()))
}

/// Bytes in lowercase hex (file hashes, the runner's secret and signature).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
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
        .filter(|p| p.required && p.available.is_err())
        .collect();
    if !args.no_sandbox {
        for p in protections.iter().filter(|p| !p.required) {
            if let Err(why) = &p.available {
                eprintln!("warning: {}: {why}; it stops {}", p.name, p.stops);
            }
        }
    }
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

    let scratch_root = build::scratch_root()?;
    // A grading that was interrupted (Ctrl-C) left its scratch folder: remove those whose
    // grader is gone, so that disk stays bounded over many classes.
    for entry in fs::read_dir(&scratch_root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("grade-")
            .and_then(|p| p.parse::<u32>().ok())
        {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    let scratch = scratch_root.join(format!("grade-{}", std::process::id()));
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
                            // Compiler messages name the file as the student named it.
                            &file
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_else(|| format!("{}.rs", exercise.name)),
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

pub(crate) fn row_score(
    row: &[(ExerciseResult, Option<String>)],
    graded: &[&'static Exercise],
    weights: &BTreeMap<String, f64>,
) -> (f64, f64) {
    row.iter()
        .zip(graded)
        .map(|((r, _), e)| score(r, e, weights))
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d))
}
