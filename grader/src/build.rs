//! Building any exercise file — a student's, a reference solution, a wrong one — into a program.
//!
//! The files are not targets of the workbook's own package (a teacher deletes `solutions/`, a
//! student's submission lives anywhere), so the checker writes a scratch package under
//! `target/exercise-check/` whose `[[bin]]` targets point at the files by absolute path. It
//! depends on the workbook (`socket-workbook = { path = ROOT }`) and on the same crates as the
//! workbook, with the workbook's `Cargo.lock` copied in and `--offline`: nothing is downloaded,
//! and the versions are the ones the examples are built with. It builds into the workbook's own
//! target directory, so the dependencies are those already compiled for the examples.
//!
//! One `cargo build --keep-going` builds every file at once; a file that does not compile does
//! not stop the others, and is built again alone to get its compiler messages, which point at
//! the file itself.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The workbook's root directory (the grader lives in its `grader/` folder).
pub fn root() -> PathBuf {
    let grader = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    grader.parent().map(Path::to_path_buf).unwrap_or(grader)
}

/// The result of building one file.
#[derive(Debug, Clone)]
pub enum Built {
    /// The program, ready to run, and the compiler's warnings (often the bug: an unused
    /// `MAX_LINE` is a cap never applied).
    Exe { program: PathBuf, warnings: String },
    /// The compiler's messages.
    CompileError(String),
    /// Not built, and why: the build ran out of time, or the sandbox could not run it.
    Refused(String),
}

/// Where the checker itself was built: `target/<profile>/`, and the cargo profile's name.
fn profile_dir() -> anyhow::Result<(PathBuf, String)> {
    let exe = std::env::current_exe().context("cannot find the checker's own path")?;
    let dir = exe
        .parent()
        .context("the checker is not in a directory")?
        .to_path_buf();
    // `cargo test` runs a test from target/<profile>/deps; the checker itself lives one level up.
    let dir = if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    };
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    Ok((dir, profile))
}

/// The name of the binary built from `source`: the same file content at the same path gives the
/// same name, so checkers running at once never overwrite each other's programs.
fn bin_name(source: &Path) -> anyhow::Result<String> {
    let content = fs::read(source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    content.hash(&mut hasher);
    Ok(format!("xc_{:016x}", hasher.finish()))
}

/// A path as a TOML basic string.
fn toml_str(path: &Path) -> String {
    let text = path.display().to_string();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The `[dependencies]` table of the workbook's own Cargo.toml, as written there.
fn workbook_dependencies(root: &Path) -> anyhow::Result<String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml"))
        .context("cannot read Cargo.toml")?;
    let mut out = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == "[dependencies]";
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Where the checker writes its scratch files: `target/exercise-check/`.
pub fn scratch_root() -> anyhow::Result<PathBuf> {
    let (profile_dir, _) = profile_dir()?;
    let target_dir = profile_dir
        .parent()
        .context("the profile directory has no parent")?;
    Ok(target_dir.join("exercise-check"))
}

/// Writes the scratch package that builds `bins` (binary name → source file) with the
/// workbook's library and dependencies; returns its directory. One package per set of files,
/// so that two checkers never rewrite each other's.
pub fn write_scratch(
    target_dir: &Path,
    bins: &BTreeMap<String, PathBuf>,
) -> anyhow::Result<PathBuf> {
    let root = root();
    let mut hasher = DefaultHasher::new();
    bins.keys().for_each(|k| k.hash(&mut hasher));
    let scratch = target_dir
        .join("exercise-check")
        .join(format!("{:016x}", hasher.finish()));
    fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;

    let mut manifest = String::from(
        "# Written by the exercise checker (grader/src/build.rs); rewritten on every run.\n\
         [package]\nname = \"exercise-check\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\nautobins = false\nautoexamples = false\nautotests = false\n\
         autobenches = false\n\n[workspace]\n\n[dependencies]\n",
    );
    manifest.push_str(&format!(
        "socket-workbook = {{ path = {} }}\n",
        toml_str(&root)
    ));
    manifest.push_str(&workbook_dependencies(&root)?);
    for (name, source) in bins {
        manifest.push_str(&format!(
            "\n[[bin]]\nname = \"{name}\"\npath = {}\ntest = false\nbench = false\n",
            toml_str(source)
        ));
    }
    fs::write(scratch.join("Cargo.toml"), manifest)
        .context("cannot write the scratch package")?;
    fs::copy(root.join("Cargo.lock"), scratch.join("Cargo.lock"))
        .context("cannot copy Cargo.lock into the scratch package")?;
    Ok(scratch)
}

/// The crate names a program of the workbook may `use`: the library and the workbook's
/// `[dependencies]` (as Rust names: `socket_workbook`, `anyhow`, …).
pub fn direct_crates() -> anyhow::Result<Vec<String>> {
    let mut names = vec!["socket_workbook".to_string()];
    for line in workbook_dependencies(&root())?.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            names.push(name.trim().replace('-', "_"));
        }
    }
    Ok(names)
}

/// Where the checker itself was built, and the cargo profile (for the sandbox's toolkit).
pub fn target_and_profile() -> anyhow::Result<(PathBuf, PathBuf, String)> {
    let (profile_dir, profile) = profile_dir()?;
    let target_dir = profile_dir
        .parent()
        .context("the profile directory has no parent")?
        .to_path_buf();
    Ok((target_dir, profile_dir, profile))
}

/// Builds every file in `sources` (absolute paths); returns what became of each.
pub fn build_all(sources: &[PathBuf]) -> anyhow::Result<HashMap<PathBuf, Built>> {
    let (profile_dir, profile) = profile_dir()?;
    let target_dir = profile_dir
        .parent()
        .context("the profile directory has no parent")?
        .to_path_buf();

    let mut bins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for source in sources {
        bins.insert(bin_name(source)?, source.clone());
    }
    if bins.is_empty() {
        return Ok(HashMap::new());
    }

    let scratch = write_scratch(&target_dir, &bins)?;

    // Which programs this build produced is what cargo says (an artifact message per binary,
    // fresh or rebuilt), not whether a file of that name exists: a binary left from an earlier
    // build must not hide a failure to rebuild it. (Deleting the old binaries first did that,
    // but it pulled programs from under another checker running in the same folder: `--watch`
    // and a second terminal, say.)

    let cargo = |extra: &[&str]| {
        let mut command =
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .args(["build", "--offline", "--quiet", "--profile", &profile])
            .arg("--manifest-path")
            .arg(scratch.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .args(extra)
            .stdin(Stdio::null());
        command
    };
    let output = cargo(&["--keep-going", "--bins", "--message-format=json"])
        .output()
        .context("cannot run cargo")?;
    // The compiler's warnings, by binary: often the bug itself (an unused `MAX_LINE` is a cap
    // never applied), so the student sees them with the checks.
    let mut warnings: HashMap<String, String> = HashMap::new();
    let mut produced: HashMap<String, PathBuf> = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact" {
            if let (Some(target), Some(exe)) = (
                message["target"]["name"].as_str(),
                message["executable"].as_str(),
            ) {
                produced.insert(target.to_string(), PathBuf::from(exe));
            }
        }
        if message["reason"] == "compiler-message"
            && message["message"]["level"] == "warning"
        {
            if let (Some(target), Some(text)) = (
                message["target"]["name"].as_str(),
                message["message"]["rendered"].as_str(),
            ) {
                warnings
                    .entry(target.to_string())
                    .or_default()
                    .push_str(text);
            }
        }
    }

    let mut results = HashMap::new();
    for (name, source) in &bins {
        if let Some(exe) = produced.remove(name).filter(|e| e.is_file()) {
            results.insert(
                source.clone(),
                Built::Exe {
                    program: exe,
                    warnings: warnings.remove(name).unwrap_or_default(),
                },
            );
            continue;
        }
        // Built again alone, for this file's messages only.
        let alone = cargo(&["--bin", name])
            .output()
            .context("cannot run cargo")?;
        let mut text = String::from_utf8_lossy(&alone.stderr).into_owned();
        if text.trim().is_empty() {
            text = String::from_utf8_lossy(&output.stderr).into_owned();
        }
        let text: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("error: could not compile `exercise-check`"))
            .collect();
        results.insert(source.clone(), Built::CompileError(text.join("\n")));
    }
    if results
        .values()
        .all(|b| matches!(b, Built::CompileError(_)))
        && !output.status.success()
    {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !stderr.contains("error[") && !stderr.contains("error:") {
            bail!("cargo failed to build the exercises:\n{stderr}");
        }
    }
    Ok(results)
}
