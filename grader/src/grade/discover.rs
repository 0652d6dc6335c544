//! Finding the submissions in a folder, as teachers receive them: one `.rs` file or one folder
//! per student, files found in subfolders (a zip's layout), `__MACOSX/`, hidden files and
//! symbolic links ignored, misnamed files and unknown exercises warned with the closest
//! exercise's name, two files for one exercise flagged. Any byte may be in a name.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::exercises::{ALL, Exercise, select};

/// One student's submission.
pub struct Submission {
    /// The name shown: the folder's or file's name, control characters made visible.
    pub student: String,
    pub files: BTreeMap<&'static str, PathBuf>,
    /// Things the teacher should know about this submission (a misnamed file, …).
    pub warnings: Vec<String>,
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
pub fn discover(
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
