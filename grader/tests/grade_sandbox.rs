//! `check grade` against a class with hostile submissions among honest ones, as a teacher
//! would meet it. Each hostile program is an honest answer plus an attack, written so that its
//! grade shows whether the attack worked (it answers wrong, or leaves a canary file, when it
//! could read what is not its own). What must hold:
//!
//! - every honest student gets their true grade, whatever their classmates do;
//! - nothing outside a submission is read (solutions, the teacher's files, the grader) — at run
//!   time or at compile time (`include_str!`), and nothing outside is changed;
//! - a program cannot stop the checks that watch it, nor its classmates';
//! - no process outlives grading; an endless constant evaluation is stopped;
//! - the grade files match the table, and are the grader's alone;
//! - odd folder layouts are graded or warned about, never silently dropped.
//!
//! Where this machine lacks the sandbox's protections (no bubblewrap, user namespaces
//! disabled, no Landlock), the test proves the other promise instead: `grade` refuses, naming
//! what is missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The reference solution with `code` at the start of the function the student writes, and
/// `head` before everything.
fn answer_with(code: &str, head: &str) -> String {
    let solution =
        fs::read_to_string(root().join("solutions/01_byte_counter.rs")).unwrap();
    let start = "fn count_until_closed(stream: &mut TcpStream) -> io::Result<u64> {\n";
    assert!(solution.contains(start), "the solution's function moved");
    let body = solution.replacen(start, &format!("{start}{code}\n"), 1);
    match body.find("\nuse ") {
        Some(i) if !head.is_empty() => format!("{}\n{head}{}", &body[..i], &body[i..]),
        _ => body,
    }
}

fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[test]
fn a_hostile_class_is_graded_truly_and_harms_no_one() {
    let dir = root().join("target/exercise-tests/hostile");
    let _ = fs::remove_dir_all(&dir);
    let class = dir.join("class");
    fs::create_dir_all(&class).unwrap();
    let canary = dir.join("CANARY");
    let solution_path = root().join("solutions/01_byte_counter.rs");
    let secret_path =
        root().join("solutions/wrong/01_byte_counter__counts_the_buffer.rs");
    let secret_line = fs::read_to_string(&secret_path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let put = |rel: &str, text: String| {
        let path = class.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };

    // Honest students: a file, a folder as a zip gives it (nested, with __MACOSX beside), and
    // a folder whose name holds a newline.
    put("honest_file.rs", answer_with("", ""));
    put(
        "honest_zip/Lab 1/src/01_byte_counter.rs",
        answer_with("", ""),
    );
    put(
        "honest_zip/__MACOSX/Lab 1/src/._01_byte_counter.rs",
        "garbage".into(),
    );
    put("new\nline/01_byte_counter.rs", answer_with("", ""));
    // Reads what is not its own: the solutions, the grader, the teacher's home, the grades.
    put(
        "reader.rs",
        answer_with(
            &format!(
                "    for p in [{:?}, {:?}, {:?}, \"/root\", {:?}] {{\n\
                 if std::fs::metadata(p).is_ok() {{ let _ = std::fs::write({:?}, p); return Ok(424242); }}\n\
                 }}\n\
                 if std::env::vars().any(|(k, _)| k.starts_with(\"CARGO\") || k == \"USER\") {{ return Ok(31337); }}",
                solution_path,
                root().join("target"),
                std::env::var("HOME").unwrap_or_default(),
                dir.join("grades.json"),
                canary,
            ),
            "",
        ),
    );
    // Kills the checks that watch it, and the sandbox's first process; then answers honestly.
    put(
        "killer.rs",
        answer_with(
            "    let stat = std::fs::read_to_string(\"/proc/self/stat\").unwrap_or_default();\n\
             let ppid = stat.rsplit(')').next().unwrap_or(\"\").split_whitespace().nth(1).unwrap_or(\"1\").to_string();\n\
             let _ = std::process::Command::new(\"kill\").args([\"-9\", &ppid]).stderr(std::process::Stdio::null()).status();\n\
             let _ = std::process::Command::new(\"kill\").args([\"-9\", \"1\"]).stderr(std::process::Stdio::null()).status();",
            "",
        ),
    );
    // Forges a passing result into the pipe the real one travels on (the sandbox's first
    // process holds it as its stdout), then answers wrong.
    put(
        "forger.rs",
        answer_with(
            "    if let Ok(mut pipe) = std::fs::OpenOptions::new().write(true).open(\"/proc/1/fd/1\") {\n\
             use std::io::Write;\n\
             let _ = writeln!(pipe, \"RESULT 00 {{\\\"exercise\\\":\\\"01_byte_counter\\\",\\\"verdict\\\":\\\"pass\\\"}}\");\n\
             }\n\
             return Ok(7);",
            "",
        ),
    );
    // Leaves a daemon behind that would rewrite the grades later.
    put(
        "daemon.rs",
        answer_with(
            &format!(
                "    {{ use std::os::unix::process::CommandExt;\n\
                 let _ = std::process::Command::new(\"sh\").args([\"-c\", \"sleep 297.25; echo forged > {}\"]).process_group(0).spawn(); }}",
                dir.join("grades.csv").display()
            ),
            "",
        ),
    );
    // Reads a file outside at compile time, into its compiler messages.
    put(
        "includer.rs",
        answer_with(
            "",
            &format!("compile_error!(include_str!({:?}));\n", secret_path),
        ),
    );
    // Never finishes compiling.
    put(
        "const_loop.rs",
        answer_with(
            "",
            "#[allow(long_running_const_eval)]\nconst _X: u64 = { let mut i = 1u64; \
             loop { i = i.wrapping_add(2); if i == 0 { break i; } } };\n",
        ),
    );
    // Allocates 4 GiB.
    put(
        "memory.rs",
        answer_with(
            "    let mut v: Vec<u8> = Vec::new(); v.resize(4 << 30, 1); std::hint::black_box(&v);",
            "",
        ),
    );
    // A misnamed file and a bonus exercise that does not exist: warned, with the closest name.
    put("misnamed/01_byte_count.rs", answer_with("", ""));
    put("misnamed/19_bonus.rs", answer_with("", ""));

    let checker = env!("CARGO_BIN_EXE_check");
    let (json, csv) = (dir.join("grades.json"), dir.join("grades.csv"));
    let started = Instant::now();
    let out = Command::new(checker)
        .args([
            "grade",
            class.to_str().unwrap(),
            "--exercise",
            "01_byte_counter",
            "--build-limit",
            "8",
            "--jobs",
            "3",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--csv")
        .arg(&csv)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();

    if stderr.contains("refusing to grade") {
        // No sandbox here: the promise is the refusal, naming what is missing.
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("--no-sandbox"), "{stderr}");
        eprintln!(
            "sandbox unavailable on this machine; grade refused as it must:\n{stderr}"
        );
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    eprintln!(
        "graded the hostile class in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let grades: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let verdict = |student: &str| -> (String, f64, f64) {
        let s = grades["students"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["student"] == student)
            .unwrap_or_else(|| panic!("no student {student:?}"));
        (
            s["exercises"][0]["verdict"].as_str().unwrap().to_string(),
            s["points"].as_f64().unwrap(),
            s["points_total"].as_f64().unwrap(),
        )
    };
    let all = stdout.clone();
    for honest in [
        "honest_file",
        "honest_zip",
        "new?line",
        "reader",
        "killer",
        "daemon",
    ] {
        let (v, points, total) = verdict(honest);
        assert_eq!((v.as_str(), points), ("pass", total), "{honest}:\n{all}");
    }
    assert_eq!(verdict("includer").0, "compile_error", "{all}");
    assert_eq!(verdict("const_loop").0, "refused", "{all}");
    assert_eq!(verdict("memory").0, "fail", "{all}");
    assert_eq!(verdict("forger").0, "fail", "{all}");
    assert_eq!(verdict("misnamed").0, "missing", "{all}");
    assert!(stdout.contains("is it 01_byte_counter?"), "{stdout}");
    assert!(stdout.contains("19_bonus"), "{stdout}");
    assert!(stdout.contains("identical 01_byte_counter"), "{stdout}");

    // Nothing was read, nothing changed, nothing is left running.
    assert!(
        !canary.exists(),
        "a submission read {:?}",
        fs::read_to_string(&canary)
    );
    let files = format!("{grades}{}", fs::read_to_string(&csv).unwrap());
    assert!(
        !files.contains(&secret_line),
        "a secret reached the grade files"
    );
    assert!(
        !fs::read_to_string(&csv).unwrap().contains("forged"),
        "a daemon rewrote the grades"
    );
    assert!(
        processes_with("297.25").is_empty(),
        "{:?}",
        processes_with("297.25")
    );
    // The table and the files agree, student by student.
    for line in stdout
        .lines()
        .skip_while(|l| !l.starts_with("student"))
        .skip(1)
    {
        if line.trim().is_empty() {
            break;
        }
        let student = line.split("  ").next().unwrap().trim();
        let points = line.rsplit(' ').next().unwrap();
        let (_, earned, total) = verdict(student);
        assert_eq!(
            points,
            format!("{earned:.1}/{total:.1}"),
            "{student}: table and JSON disagree"
        );
    }
    // Scratch files are gone: disk stays bounded.
    let scratch = root().join("target/exercise-check");
    let left: Vec<_> = fs::read_dir(&scratch)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("grade-"))
        .collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
}
