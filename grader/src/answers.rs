//! The files an exercise is proven with: the starter's numbered "Must hold" bullets, and the
//! wrong answers, each stored as an *answer* — the text of the YOUR PART region only — that is
//! spliced into the starter to make a program.
//!
//! A wrong answer, `solutions/wrong/NN_task__mistake.rs`, reads:
//!
//! ```text
//! // WRONG (boundary) breaks 2: an off-by-one in the cap: a line of exactly MAX bytes is refused.
//! fn read_capped_line(…) -> … {
//!     …
//! }
//! ```
//!
//! Its first line names the class of the mistake (one of [`CLASSES`]), the numbered "Must hold"
//! bullet(s) of the starter it breaks, and the mistake in words. Everything after it replaces
//! what lies between the starter's `YOUR PART` and `END OF YOUR PART` lines. Moving a line of
//! the starter's scaffolding therefore never means editing the wrong answers; a region that no
//! longer splices (the starter lost its markers) is an error of the self-test.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The line that opens the part a student writes, exactly.
pub const BEGIN: &str =
    "// ============================== YOUR PART ==============================";
/// The line that closes it, exactly.
pub const END: &str =
    "// ============================ END OF YOUR PART ============================";

/// The classes of wrong answers (exercises/README.md, "The authors' checklist"): every exercise
/// stores wrong answers of each class its task can be wrong in.
pub const CLASSES: &[&str] = &[
    "boundary",
    "family",
    "timing",
    "resource",
    "protocol form",
    "lock scope",
];

/// A wrong answer's first line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub class: String,
    /// The numbered "Must hold" bullets it breaks.
    pub breaks: Vec<u32>,
    pub mistake: String,
}

/// Parses `// WRONG (class) breaks 2, 4: the mistake`.
pub fn parse_header(line: &str) -> anyhow::Result<Header> {
    let usage = "the first line must read `// WRONG (class) breaks N: the mistake`";
    let rest = line
        .strip_prefix("// WRONG (")
        .with_context(|| format!("{usage}, not {line:?}"))?;
    let (class, rest) = rest.split_once(") breaks ").context(usage)?;
    let (numbers, mistake) = rest.split_once(": ").context(usage)?;
    if !CLASSES.contains(&class) {
        bail!(
            "unknown class `{class}`: one of {} ({usage})",
            CLASSES.join(", ")
        );
    }
    let breaks = numbers
        .split(',')
        .map(|n| n.trim().parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!("`{numbers}` is not a list of bullet numbers ({usage})")
        })?;
    if breaks.is_empty() || mistake.trim().is_empty() {
        bail!("{usage}");
    }
    Ok(Header {
        class: class.to_string(),
        breaks,
        mistake: mistake.trim().to_string(),
    })
}

/// The starter with its YOUR PART region replaced by `region`.
pub fn splice(starter: &str, region: &str) -> anyhow::Result<String> {
    let (Some(begin), Some(end)) = (starter.find(BEGIN), starter.find(END)) else {
        bail!(
            "the starter has no `YOUR PART` … `END OF YOUR PART` lines to splice into"
        );
    };
    if end < begin {
        bail!("the starter's `END OF YOUR PART` comes before its `YOUR PART`");
    }
    let head = &starter[..begin + BEGIN.len()];
    let tail = &starter[end..];
    Ok(format!("{head}\n{}\n{tail}", region.trim_matches('\n')))
}

/// A stored wrong answer: where it is, what it claims, and the program it makes.
#[derive(Debug, Clone)]
pub struct Wrong {
    pub path: PathBuf,
    pub header: Header,
    /// The spliced program, ready to build.
    pub program: PathBuf,
}

/// Splices the wrong answer at `path` into `starter` and writes the program into `dir`.
pub fn materialise(path: &Path, starter: &Path, dir: &Path) -> anyhow::Result<Wrong> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let (first, region) = text.split_once('\n').unwrap_or((&text, ""));
    let header = parse_header(first).with_context(|| format!("{}", path.display()))?;
    let starter_text = fs::read_to_string(starter)
        .with_context(|| format!("cannot read {}", starter.display()))?;
    let program = splice(&starter_text, region).with_context(|| {
        format!(
            "{} no longer splices into {}",
            path.display(),
            starter.display()
        )
    })?;
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let out = dir.join(path.file_name().context("a wrong answer has a file name")?);
    // Said in the program itself, so that compiler messages lead back to the stored answer.
    let program = format!(
        "// Spliced by the checker: {} into {}.\n{program}",
        path.display(),
        starter.display()
    );
    fs::write(&out, program)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Wrong {
        path: path.to_path_buf(),
        header,
        program: out,
    })
}

/// The numbered "Must hold" bullets of a starter, in order: every `/// N. text` line (and its
/// continuation lines) between a `/// Must hold:` line and the next `/// Hints` line. Numbers
/// run on through the file when it has several functions to write.
pub fn must_hold(starter: &str) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = Vec::new();
    let mut inside = false;
    for line in starter.lines() {
        let Some(doc) = line.trim_start().strip_prefix("///") else {
            inside = false;
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with("Must hold") {
            inside = true;
            continue;
        }
        if doc.starts_with("Hints") {
            inside = false;
            continue;
        }
        if !inside {
            continue;
        }
        let numbered = doc
            .split_once(". ")
            .and_then(|(n, text)| Some((n.parse::<u32>().ok()?, text)));
        match (numbered, out.last_mut()) {
            (Some((n, text)), _) => out.push((n, text.to_string())),
            (None, Some((_, text))) if !doc.is_empty() => {
                text.push(' ');
                text.push_str(doc);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_names_its_class_bullets_and_mistake() {
        let h = parse_header("// WRONG (lock scope) breaks 2, 4: holds the lock.")
            .unwrap();
        assert_eq!(h.class, "lock scope");
        assert_eq!(h.breaks, vec![2, 4]);
        assert_eq!(h.mistake, "holds the lock.");
        assert!(parse_header("// WRONG: no class").is_err());
        assert!(parse_header("// WRONG (sloppy) breaks 1: x").is_err());
        assert!(parse_header("// WRONG (timing) breaks two: x").is_err());
    }

    #[test]
    fn a_region_replaces_the_part_between_the_markers_and_nothing_else() {
        let starter =
            format!("use a;\n{BEGIN}\nfn f() {{ todo!() }}\n{END}\nfn main() {{}}\n");
        let spliced = splice(&starter, "fn f() {}\n").unwrap();
        assert_eq!(
            spliced,
            format!("use a;\n{BEGIN}\nfn f() {{}}\n{END}\nfn main() {{}}\n")
        );
        assert!(splice("fn main() {}", "fn f() {}").is_err());
    }

    #[test]
    fn must_hold_bullets_are_numbered_through_the_file() {
        let starter = "/// Given: x.\n///\n/// Must hold:\n/// 1. one,\n///    continued;\n\
                       /// 2. two.\n///\n/// Hints, one at a time:\n/// 1. a hint\nfn f() {}\n\
                       /// Must hold:\n/// 3. three.\nfn g() {}\n";
        assert_eq!(
            must_hold(starter),
            vec![
                (1, "one, continued;".to_string()),
                (2, "two.".to_string()),
                (3, "three.".to_string())
            ]
        );
    }
}
