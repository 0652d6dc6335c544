//! Every command the book tells the reader to type that runs an example works as typed.
//!
//! The chapters, their outputs, the README and the examples' `//!` headers quote commands such
//! as `cargo run --example 02_echo_client -- --size 1000000`,
//! `target/debug/examples/01_echo_server` or `02_echo_client -- hello`. For each one this test
//! checks that the example exists and that clap accepts its arguments: it runs the built binary
//! with the quoted arguments and `--help` appended. clap parses every argument before it acts
//! on `--help`, so a renamed flag, a missing subcommand or a value of the wrong type fails with
//! exit code 2, and nothing else runs (no server is started). Placeholders the reader fills in
//! (`PORT`, `N`, `…`) stop the check of that command at the flag before them, whose name must
//! still appear in the `--help` text.
//!
//! It also checks every `pgrep PATTERN` and `pgrep -f PATTERN` the book quotes: the pattern must
//! match the process of a program that the same page starts. `cargo run` execs the binary, so
//! that process's command line is `target/debug/examples/NAME ARGS` (no `cargo`, no `--`), and
//! its name, which plain `pgrep` matches, is the first 15 bytes of `NAME`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built binary of `example`. All examples are built with one `cargo build --examples`
/// (one cargo run is much faster than sixteen), found next to the test executable as
/// `tests/common` does, so `--release` and `CARGO_TARGET_DIR` work.
fn binary(example: &str) -> PathBuf {
    static PROFILE_DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = PROFILE_DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(other) => other.to_string(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "--quiet", "--examples", "--profile", &profile])
            .arg("--manifest-path")
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap())
            .output()
            .expect("cannot run cargo");
        assert!(
            out.status.success(),
            "cargo build --examples failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir
    });
    dir.join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX))
}

/// A command that runs an example, as quoted in `source`.
#[derive(Debug, Clone)]
struct Run {
    source: String,
    quoted: String,
    example: String,
    /// `target/<profile>/examples/NAME`, the path the process runs as.
    path: String,
    args: Vec<String>,
    /// The argument the check stopped at (a placeholder), if any.
    placeholder: Option<String>,
}

/// A `pgrep` quoted in `source`.
#[derive(Debug)]
struct Pgrep {
    source: String,
    quoted: String,
    full: bool,
    pattern: String,
}

/// The snippets of shell a file quotes: inline code spans and lines of fenced `text`/`sh`
/// blocks in Markdown, `$ ` lines in outputs, `//!` lines in examples.
fn snippets(path: &Path, text: &str) -> Vec<String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "txt" => text
            .lines()
            .filter_map(|l| l.strip_prefix("$ "))
            .map(str::to_string)
            .collect(),
        "rs" => text
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(str::to_string)
            .collect(),
        _ => markdown_snippets(text),
    }
}

fn markdown_snippets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<bool> = None; // Some(shell?) inside a fenced block
    let mut prose = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match fence {
                None => {
                    let lang = info.trim();
                    let shell = matches!(
                        lang,
                        "" | "text" | "sh" | "console" | "bash" | "shell"
                    );
                    fence = Some(shell);
                }
                Some(_) => fence = None,
            }
            out.extend(inline_code(&std::mem::take(&mut prose)));
            continue;
        }
        match fence {
            Some(true) => {
                out.push(trimmed.strip_prefix("$ ").unwrap_or(trimmed).to_string())
            }
            Some(false) => {}
            None if trimmed.is_empty() => {
                out.extend(inline_code(&std::mem::take(&mut prose)))
            }
            None => {
                // An inline code span may continue on the next line of the paragraph.
                prose.push_str(trimmed);
                prose.push(' ');
            }
        }
    }
    out.extend(inline_code(&prose));
    out
}

/// The contents of the `…` spans in a paragraph.
fn inline_code(paragraph: &str) -> Vec<String> {
    paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.trim().to_string())
        .collect()
}

/// Splits a shell snippet into words, keeping quoted strings whole (quotes removed).
fn words(snippet: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut any = false;
    for c in snippet.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// Where a shell command ends: a pipe, a list operator, a redirection, a closing `$(`.
fn ends_command(word: &str) -> bool {
    matches!(word, "|" | "||" | "&&" | ";" | "&" | ")" | "#")
        || word.starts_with('>')
        || word.starts_with('<')
        || word.starts_with("2>")
        || word.starts_with('(')
}

/// A word the reader replaces: `PORT`, `N`, `ADDR`, `…`, `<file>`.
fn is_placeholder(word: &str) -> bool {
    word.contains('…')
        || word.contains("...")
        || word.starts_with('<')
        || word.contains('$')
        || (word.chars().any(|c| c.is_ascii_uppercase())
            && word.chars().all(|c| {
                c.is_ascii_uppercase() || c == '_' || c == ':' || c.is_ascii_digit()
            })
            && !word.starts_with("--"))
        || word.ends_with(":PORT")
}

fn runs_in(source: &str, snippet: &str, examples: &[String]) -> Vec<Run> {
    let words = words(snippet);
    let mut runs = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        // The example, the path it runs as, and where its own arguments start.
        let found: Option<(String, String, Option<usize>)> = if w == "--example" {
            let name = words.get(i + 1).cloned().unwrap_or_default();
            let release = words[..i].iter().any(|w| w == "--release");
            let profile = if release { "release" } else { "debug" };
            let mut j = i + 2;
            while j < words.len() && words[j] != "--" && !ends_command(&words[j]) {
                j += 1;
            }
            let start = (j < words.len() && words[j] == "--").then_some(j + 1);
            let args_start = start.or(Some(words.len().min(j)).filter(|_| false));
            let path = format!("target/{profile}/examples/{name}");
            // Without `--`, no arguments reach the example.
            Some((name, path, args_start.or(Some(usize::MAX))))
        } else if let Some((_, name)) = w.rsplit_once("examples/") {
            let name =
                name.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_');
            (w.contains("target/") && !name.ends_with(".rs") && !name.is_empty())
                .then(|| (name.to_string(), w.clone(), Some(i + 1)))
        } else if examples.contains(w)
            && words.get(i + 1).is_some_and(|n| n == "--")
            && (i == 0 || words[i - 1] != "--test")
        {
            Some((w.clone(), format!("target/debug/examples/{w}"), Some(i + 2)))
        } else {
            None
        };
        let Some((example, path, start)) = found else {
            i += 1;
            continue;
        };
        let mut args = Vec::new();
        let mut placeholder = None;
        let mut j = start.unwrap_or(usize::MAX);
        while j < words.len() && !ends_command(&words[j]) {
            if is_placeholder(&words[j]) {
                placeholder = Some(words[j].clone());
                break;
            }
            args.push(words[j].clone());
            j += 1;
        }
        runs.push(Run {
            source: source.to_string(),
            quoted: snippet.to_string(),
            example,
            path,
            args,
            placeholder,
        });
        i = j.max(i + 1);
    }
    runs
}

fn pgreps_in(source: &str, snippet: &str) -> Vec<Pgrep> {
    let words = words(snippet);
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if w != "pgrep" && w != "$(pgrep" {
            continue;
        }
        let mut full = false;
        let mut j = i + 1;
        while let Some(flag) = words.get(j).filter(|w| w.starts_with('-')) {
            full |= flag.contains('f');
            j += 1;
        }
        if let Some(pattern) = words.get(j) {
            let pattern = pattern.trim_end_matches(')').to_string();
            found.push(Pgrep {
                source: source.to_string(),
                quoted: snippet.to_string(),
                full,
                pattern,
            });
        }
    }
    found
}

/// The files that quote commands: chapters (with the outputs each includes), README, examples.
fn sources() -> Vec<(String, Vec<String>)> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["book/src", "examples"] {
        for entry in fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str());
            if matches!(ext, Some("md" | "rs")) {
                files.push(path);
            }
        }
    }
    files.push(root().join("README.md"));
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let mut snips = snippets(&path, &text);
        // The outputs a chapter includes show commands the chapter starts.
        for part in text.split("{{#include ").skip(1) {
            let target = part.split("}}").next().unwrap().trim();
            if target.starts_with("outputs/") {
                let file = path
                    .parent()
                    .unwrap()
                    .join(target.split(':').next().unwrap());
                let included = fs::read_to_string(&file).unwrap_or_default();
                snips.extend(snippets(&file, &included));
            }
        }
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        out.push((name, snips));
    }
    out
}

fn examples() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    // Examples declared in Cargo.toml outside examples/: the graded exercises, bench's ceiling.
    let manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for block in manifest.split("[[example]]").skip(1) {
        let name = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_string());
        names.extend(name);
    }
    names.sort();
    names
}

fn all_runs() -> Vec<Run> {
    let examples = examples();
    let mut runs = Vec::new();
    for (source, snips) in sources() {
        for snip in snips {
            runs.extend(runs_in(&source, &snip, &examples));
        }
    }
    runs
}

#[test]
fn every_quoted_command_names_an_example_and_arguments_it_accepts() {
    let examples = examples();
    let runs = all_runs();
    assert!(
        runs.len() > 50,
        "found only {} commands: {runs:#?}",
        runs.len()
    );
    let mut failures = Vec::new();
    // One binary run per distinct argument list.
    let mut checked: BTreeMap<(String, Vec<String>), Option<String>> = BTreeMap::new();
    for run in &runs {
        if !examples.contains(&run.example) {
            failures.push(format!(
                "{}: `{}` runs example `{}`, which does not exist",
                run.source, run.quoted, run.example
            ));
            continue;
        }
        // A flag right before a placeholder is checked by name in the help text.
        let mut args = run.args.clone();
        let pending_flag = match (&run.placeholder, args.last()) {
            (Some(_), Some(last)) if last.starts_with("--") => args.pop(),
            _ => None,
        };
        let key = (run.example.clone(), args.clone());
        let help = checked
            .entry(key)
            .or_insert_with(|| help_after(&run.example, &args))
            .clone();
        match help {
            None => failures.push(format!(
                "{}: `{}`: `{} {}` is rejected (try it with --help appended)",
                run.source,
                run.quoted,
                run.example,
                args.join(" ")
            )),
            Some(help) => {
                if let Some(flag) = pending_flag {
                    let named = help
                        .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
                        .any(|w| w == flag);
                    if !named {
                        failures.push(format!(
                            "{}: `{}`: {} has no option {flag}",
                            run.source, run.quoted, run.example
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "checked {} quoted commands ({} distinct argument lists)",
        runs.len(),
        checked.len()
    );
}

/// Runs the built example with `args --help`: its help text, or `None` when clap rejects the
/// arguments.
fn help_after(example: &str, args: &[String]) -> Option<String> {
    let out = Command::new(binary(example))
        .args(args)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {example}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && stdout.contains("Usage:")).then_some(stdout)
}

#[test]
fn every_pgrep_pattern_matches_a_program_its_page_starts() {
    let examples = examples();
    let mut failures = Vec::new();
    let mut count = 0;
    for (source, snips) in sources() {
        let mut runs = Vec::new();
        let mut pgreps = Vec::new();
        for snip in &snips {
            runs.extend(runs_in(&source, snip, &examples));
            pgreps.extend(pgreps_in(&source, snip));
        }
        for pgrep in pgreps {
            count += 1;
            let candidates: Vec<String> = runs
                .iter()
                .map(|run| {
                    if pgrep.full {
                        std::iter::once(run.path.clone())
                            .chain(run.args.iter().cloned())
                            .collect::<Vec<_>>()
                            .join(" ")
                    } else {
                        let name = run.path.rsplit('/').next().unwrap();
                        name.chars().take(15).collect()
                    }
                })
                .collect();
            if !candidates.iter().any(|c| ere_matches(&pgrep.pattern, c)) {
                failures.push(format!(
                    "{}: `{}`: `{}` matches none of the programs this page starts, which run \
                     as {:?}",
                    pgrep.source, pgrep.quoted, pgrep.pattern, candidates
                ));
            }
        }
    }
    assert!(count > 0, "the book quotes no pgrep");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether the extended regular expression `pattern` matches somewhere in `text`, as pgrep
/// does. Literals, `.`, `*`, `^` and `$` only: enough for the book, and a pattern that uses
/// more is reported rather than guessed at.
fn ere_matches(pattern: &str, text: &str) -> bool {
    assert!(
        !pattern.contains(['+', '?', '(', ')', '[', ']', '{', '}', '|', '\\']),
        "pgrep pattern {pattern:?}: teach ere_matches the syntax it uses"
    );
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    if p.first() == Some(&'^') {
        return match_here(&p[1..], &t);
    }
    (0..=t.len()).any(|i| match_here(&p, &t[i..]))
}

fn match_here(p: &[char], t: &[char]) -> bool {
    match p {
        [] => true,
        ['$'] => t.is_empty(),
        [c, '*', rest @ ..] => {
            let mut i = 0;
            loop {
                if match_here(rest, &t[i..]) {
                    return true;
                }
                if i < t.len() && (*c == '.' || t[i] == *c) {
                    i += 1;
                } else {
                    return false;
                }
            }
        }
        [c, rest @ ..] => {
            !t.is_empty() && (*c == '.' || t[0] == *c) && match_here(rest, &t[1..])
        }
    }
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let examples = examples();
    // A renamed flag is rejected; the real one is accepted.
    assert!(help_after("02_echo_client", &["--size".into(), "10".into()]).is_some());
    assert!(help_after("02_echo_client", &["--bytes".into(), "10".into()]).is_none());
    // `cargo run` arguments are those after `--`, and the process runs as the binary's path.
    let runs = runs_in(
        "t",
        "cargo run --example 16_heartbeat -- client --interval 0.5",
        &examples,
    );
    assert_eq!(runs[0].path, "target/debug/examples/16_heartbeat");
    assert_eq!(runs[0].args, ["client", "--interval", "0.5"]);
    // The pattern the book once had (issue 13) cannot match: there is no `--` in the process.
    let line = "target/debug/examples/16_heartbeat client --interval 0.5";
    assert!(!ere_matches("16_heartbeat -- client", line));
    assert!(ere_matches("16_heartbeat client", line));
    assert!(ere_matches("^target.*heartbeat c", line));
    // Placeholders stop the arguments; shell operators end the command.
    let runs = runs_in(
        "t",
        "for i in $(seq 3); do cargo run --example 02_echo_client -- --addr 127.0.0.1:PORT hi & done",
        &examples,
    );
    assert_eq!(runs[0].args, ["--addr"]);
    assert_eq!(runs[0].placeholder.as_deref(), Some("127.0.0.1:PORT"));
}
