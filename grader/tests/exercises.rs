//! The exercise checks are honest: proven here, inside `cargo test`.
//!
//! For every graded exercise (exercises/README.md), the checker (`grader/`) is run the way
//! a teacher runs it, with `--self-test --json`: it builds every starter, reference solution and
//! wrong solution in one scratch build, runs each one's checks over real sockets (several at
//! once), and writes the results as JSON. This test asserts on them:
//!
//! - every reference solution (`solutions/NN_task.rs`) passes every check;
//! - every untouched starter (`exercises/NN_task.rs`) fails as "not done yet";
//! - every wrong solution (`solutions/wrong/NN_task__mistake.rs`) compiles and fails at least one
//!   check: a check that no wrong answer fails is not a check;
//! - every exercise has a solution and at least one wrong solution.
//!
//! A second test grades a folder of three submissions (right, wrong, not compiling) as a teacher
//! would, and reads the table's JSON and CSV.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    // The workbook's root: the grader is its `grader/` folder.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs the checker with `args`, killing it after `limit`; returns (exit code, stdout).
fn run_check(args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start the checker");
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the checker did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(50));
    };
    (status.code(), reader.join().unwrap())
}

/// A stored wrong answer (its YOUR PART region) spliced into its starter: a whole program, as
/// a student would hand it in.
fn splice_wrong(exercise: &str, wrong: &str) -> String {
    let starter =
        std::fs::read_to_string(root().join(format!("exercises/{exercise}.rs")))
            .unwrap();
    let answer =
        std::fs::read_to_string(root().join(format!("solutions/wrong/{wrong}.rs")))
            .unwrap();
    let region = answer.split_once('\n').unwrap().1;
    let begin = starter.find("// ====").unwrap();
    let begin = begin + starter[begin..].find('\n').unwrap();
    let end = starter
        .find("// ============================ END OF YOUR PART")
        .unwrap();
    format!("{}\n{region}\n{}", &starter[..begin], &starter[end..])
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = root().join("target").join("exercise-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_solution_passes_every_starter_is_not_done_every_wrong_solution_fails() {
    let started = Instant::now();
    let json_path = scratch_dir("self-test").join("self-test.json");
    // Twelve programs at once on two cores: their checks mostly wait on the network, and the
    // CPU they are judged by is time running *or waiting to run* (grader/src/harness.rs), which
    // load does not hide or inflate; the wrong answers that hang until a timeout then overlap.
    let (code, stdout) = run_check(
        &[
            "--self-test",
            "--json",
            json_path.to_str().unwrap(),
            "--jobs",
            "12",
        ],
        Duration::from_secs(420),
    );
    let json =
        Json::parse(&std::fs::read_to_string(&json_path).expect("no JSON written"));

    let mut failures = Vec::new();
    let results = json.get("results").array();
    for result in results {
        let role = result.get("role").str();
        let file = result.get("file").str();
        let verdict = result.get("verdict").str();
        let passed = result.get("passed").num();
        let total = result.get("total").num();
        let ok = match role {
            "solution" => verdict == "pass" && passed == total,
            "starter" => verdict == "not_done",
            // A wrong answer fails a check of a "Must hold" bullet it claims to break.
            "wrong" => {
                let breaks: Vec<f64> =
                    result.get("breaks").array().iter().map(Json::num).collect();
                (verdict == "fail" || verdict == "timeout")
                    && passed < total
                    && result.get("checks").array().iter().any(|c| {
                        !c.get("passed").bool()
                            && c.get("holds")
                                .array()
                                .iter()
                                .any(|h| breaks.contains(&h.num()))
                    })
            }
            other => panic!("unknown role {other}"),
        };
        if !ok {
            failures.push(format!(
                "{role} {file}: {verdict}, {passed}/{total} checks pass"
            ));
        }
    }
    for exercise in json.get("exercises").array() {
        let name = exercise.get("exercise").str();
        let count = |role: &str| {
            results
                .iter()
                .filter(|r| {
                    r.get("exercise").str() == name && r.get("role").str() == role
                })
                .count()
        };
        assert!(
            exercise.get("checks").num() >= 3.0,
            "{name}: fewer than 3 checks"
        );
        assert_eq!(count("starter"), 1, "{name}: its starter");
        assert_eq!(count("solution"), 1, "{name}: its solution");
        assert!(
            count("wrong") >= 1,
            "{name}: no wrong solution in solutions/wrong/"
        );
    }
    // Every numbered "Must hold" bullet of every starter has a check that proves it.
    for exercise in json.get("bullets").array() {
        let name = exercise.get("exercise").str();
        let bullets = exercise.get("bullets").array();
        if bullets.is_empty() {
            failures.push(format!(
                "{name}: no numbered \"Must hold\" bullets in its starter"
            ));
        }
        for bullet in bullets {
            let n = bullet.get("n").num();
            let proven = results.iter().any(|r| {
                r.get("exercise").str() == name
                    && r.get("role").str() == "solution"
                    && r.get("checks")
                        .array()
                        .iter()
                        .any(|c| c.get("holds").array().iter().any(|h| h.num() == n))
            });
            if !proven {
                failures.push(format!(
                    "{name}: \"Must hold\" {n} has no check ({})",
                    bullet.get("text").str()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}\n{stdout}");
    assert_eq!(code, Some(0), "{stdout}");
    eprintln!(
        "exercise self-test: {} files of {} exercises checked in {:.1} s",
        results.len(),
        json.get("exercises").array().len(),
        started.elapsed().as_secs_f64()
    );
}

/// An exercise's author proves only their exercise honest: `--self-test NAME` runs its
/// starter, solution and wrong solutions, and nothing else. A name that is no exercise is one
/// error line and exit 1.
#[test]
fn a_self_test_of_one_exercise_runs_its_files_only() {
    let json_path = scratch_dir("self-test-one").join("self-test.json");
    let (code, stdout) = run_check(
        &[
            "--self-test",
            "17_allow_list",
            "--json",
            json_path.to_str().unwrap(),
        ],
        Duration::from_secs(200),
    );
    assert_eq!(code, Some(0), "{stdout}");
    let json =
        Json::parse(&std::fs::read_to_string(&json_path).expect("no JSON written"));
    let mut files: Vec<String> = json
        .get("results")
        .array()
        .iter()
        .map(|r| format!("{} {}", r.get("role").str(), r.get("file").str()))
        .collect();
    files.sort();
    let wrong = std::fs::read_dir(root().join("solutions/wrong"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("17_allow_list__")
        })
        .count();
    assert_eq!(files.len(), 2 + wrong, "{files:#?}");
    assert!(
        files.iter().all(|f| f.contains("17_allow_list")),
        "{files:#?}"
    );
    assert!(
        stdout.contains(&format!("{0} of {0} files behave", 2 + wrong)),
        "{stdout}"
    );

    let (code, stdout) =
        run_check(&["--self-test", "99_nothing"], Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stdout}");
}

#[test]
fn grading_a_class_reports_right_wrong_and_not_compiling() {
    let dir = scratch_dir("grade");
    let class = dir.join("class");
    std::fs::create_dir_all(class.join("bob")).unwrap();
    let copy = |from: &str, to: &Path| std::fs::copy(root().join(from), to).unwrap();
    // alice: right, one file; bob: wrong, in a folder; carol: does not compile.
    copy("solutions/01_byte_counter.rs", &class.join("alice.rs"));
    std::fs::write(
        class.join("bob").join("01_byte_counter.rs"),
        splice_wrong("01_byte_counter", "01_byte_counter__short_read_is_the_end"),
    )
    .unwrap();
    let broken = std::fs::read_to_string(root().join("solutions/01_byte_counter.rs"))
        .unwrap()
        .replace("total += n as u64", "total += n");
    std::fs::write(class.join("carol.rs"), broken).unwrap();

    let (json_path, csv_path) = (dir.join("grades.json"), dir.join("grades.csv"));
    let (code, stdout) = run_check(
        &[
            "grade",
            class.to_str().unwrap(),
            "--exercise",
            "01_byte_counter",
            "--json",
            json_path.to_str().unwrap(),
            "--csv",
            csv_path.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(code, Some(0), "{stdout}");
    let json = Json::parse(&std::fs::read_to_string(&json_path).unwrap());
    let verdicts: Vec<(String, String, f64)> = json
        .get("students")
        .array()
        .iter()
        .map(|s| {
            let exercise = &s.get("exercises").array()[0];
            (
                s.get("student").str().to_string(),
                exercise.get("verdict").str().to_string(),
                s.get("points").num(),
            )
        })
        .collect();
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    assert_eq!(
        (verdicts[0].0.as_str(), verdicts[0].1.as_str()),
        ("alice", "pass")
    );
    assert_eq!(
        (verdicts[1].0.as_str(), verdicts[1].1.as_str()),
        ("bob", "fail")
    );
    assert!(verdicts[1].2 >= 1.0, "bob passes some checks: {verdicts:?}");
    assert_eq!(
        (verdicts[2].0.as_str(), verdicts[2].1.as_str()),
        ("carol", "compile_error")
    );
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "student,exercise,verdict,passed,total,points,points_total,passed_checks,failed_checks"
    );
    let alice: Vec<&str> = rows[1].splitn(6, ',').collect();
    assert_eq!(alice[..3], ["alice", "01_byte_counter", "pass"], "{csv}");
    assert_eq!(alice[3], alice[4], "alice passes every check: {csv}");
    assert!(rows[2].starts_with("bob,01_byte_counter,fail,"), "{csv}");
    assert!(
        rows[3].starts_with("carol,01_byte_counter,compile_error,0,"),
        "{csv}"
    );
    // The table names each outcome, and carol's compiler error points at her file.
    assert!(stdout.contains(" pass "), "{stdout}");
    assert!(stdout.contains("does not compile"), "{stdout}");
    let compiler = json.get("students").array()[2].get("exercises").array()[0]
        .get("compiler")
        .str()
        .to_string();
    assert!(compiler.contains("carol.rs"), "{compiler}");
}

/// Just enough JSON to read the checker's output (no dependency for a test).
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Json {
        let chars: Vec<char> = text.chars().collect();
        let mut at = 0;
        let value = Json::value(&chars, &mut at);
        Json::skip(&chars, &mut at);
        assert_eq!(at, chars.len(), "trailing text after JSON");
        value
    }

    fn skip(c: &[char], at: &mut usize) {
        while *at < c.len() && c[*at].is_whitespace() {
            *at += 1;
        }
    }

    fn value(c: &[char], at: &mut usize) -> Json {
        Json::skip(c, at);
        match c[*at] {
            '{' => {
                *at += 1;
                let mut fields = Vec::new();
                loop {
                    Json::skip(c, at);
                    if c[*at] == '}' {
                        *at += 1;
                        return Json::Obj(fields);
                    }
                    if c[*at] == ',' {
                        *at += 1;
                        continue;
                    }
                    let Json::Str(key) = Json::value(c, at) else {
                        panic!("object key is not a string")
                    };
                    Json::skip(c, at);
                    assert_eq!(c[*at], ':');
                    *at += 1;
                    fields.push((key, Json::value(c, at)));
                }
            }
            '[' => {
                *at += 1;
                let mut items = Vec::new();
                loop {
                    Json::skip(c, at);
                    if c[*at] == ']' {
                        *at += 1;
                        return Json::Arr(items);
                    }
                    if c[*at] == ',' {
                        *at += 1;
                        continue;
                    }
                    items.push(Json::value(c, at));
                }
            }
            '"' => {
                *at += 1;
                let mut s = String::new();
                while c[*at] != '"' {
                    if c[*at] == '\\' {
                        *at += 1;
                        match c[*at] {
                            'n' => s.push('\n'),
                            'r' => s.push('\r'),
                            't' => s.push('\t'),
                            'u' => {
                                let hex: String = c[*at + 1..*at + 5].iter().collect();
                                s.push(
                                    char::from_u32(
                                        u32::from_str_radix(&hex, 16).unwrap(),
                                    )
                                    .unwrap(),
                                );
                                *at += 4;
                            }
                            other => s.push(other),
                        }
                    } else {
                        s.push(c[*at]);
                    }
                    *at += 1;
                }
                *at += 1;
                Json::Str(s)
            }
            't' => {
                *at += 4;
                Json::Bool(true)
            }
            'f' => {
                *at += 5;
                Json::Bool(false)
            }
            'n' => {
                *at += 4;
                Json::Null
            }
            _ => {
                let start = *at;
                while *at < c.len()
                    && (c[*at].is_ascii_digit() || "+-.eE".contains(c[*at]))
                {
                    *at += 1;
                }
                let text: String = c[start..*at].iter().collect();
                Json::Num(
                    text.parse()
                        .unwrap_or_else(|_| panic!("bad number {text:?}")),
                )
            }
        }
    }

    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no field {key:?}")),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn array(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            other => panic!("not a boolean: {other:?}"),
        }
    }

    fn num(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            Json::Bool(b) => f64::from(u8::from(*b)),
            other => panic!("not a number: {other:?}"),
        }
    }
}

/// GitHub Classroom grades each student's repository on a runner of its own with the workflow
/// in grader/classroom/autograding.yml: it is exactly what the checker generates for the current
/// exercises (a new exercise or check updates it), and the command of each of its steps works on
/// a student's repository, which has the workbook's own layout: an untouched exercise scores 0
/// (exit code 1, "not done yet"), never an error of the command itself.
#[test]
fn the_classroom_workflow_is_current_and_its_command_works_on_a_student_repository() {
    let committed =
        std::fs::read_to_string(root().join("grader/classroom/autograding.yml"))
            .unwrap();
    let (code, generated) =
        run_check(&["--classroom-workflow"], Duration::from_secs(30));
    assert_eq!(code, Some(0));
    assert!(
        committed == generated,
        "grader/classroom/autograding.yml is stale: regenerate it with \
         `cargo run --bin check -- --classroom-workflow > grader/classroom/autograding.yml`"
    );
    let commands: Vec<&str> = committed
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("command: cargo run --locked --quiet --bin check -- ")
        })
        .collect();
    assert!(commands.len() >= 20, "{commands:?}");
    let (code, stdout) = run_check(&[commands[0]], Duration::from_secs(120));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("not done yet"), "{stdout}");
}
