//! The book cannot drift from the code.
//!
//! mdBook reports neither a wrong `{{#include}}` path (it leaves the directive in the page) nor
//! a wrong anchor (it silently renders nothing), so this test checks every include, and that
//! every example has its chapter, its tests and its README row. The program output the chapters
//! show is checked by `tests/book_outputs.rs`.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.md` file under `book/src`, with its text.
fn chapters() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                let text = read(&path);
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("book/src"), &mut out);
    out.sort();
    out
}

/// The examples, as `NN_name` stems, in order.
fn examples() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    names
}

/// `(path, anchor)` of every `{{#include …}}` / `{{#rustdoc_include …}}` in `text`.
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{#") {
        let after = &rest[start + 3..];
        let end = after.find("}}").expect("an unclosed {{# directive");
        let directive = after[..end].trim();
        rest = &after[end + 2..];
        let Some(target) = directive
            .strip_prefix("include ")
            .or_else(|| directive.strip_prefix("rustdoc_include "))
        else {
            continue;
        };
        let mut parts = target.trim().splitn(2, ':');
        let path = parts.next().unwrap().to_string();
        let anchor = parts.next().map(str::to_string);
        found.push((path, anchor));
    }
    found
}

#[test]
fn every_include_names_a_file_and_an_anchor_that_exist() {
    let mut count = 0;
    for (chapter, text) in chapters() {
        for (path, anchor) in includes(&text) {
            count += 1;
            let target = chapter.parent().unwrap().join(&path);
            let name = chapter.strip_prefix(root()).unwrap().display().to_string();
            assert!(
                target.is_file(),
                "{name}: includes {path}, which does not exist"
            );
            let Some(anchor) = anchor else { continue };
            // Line numbers drift with every edit; chapters use named anchors only.
            assert!(
                !anchor.starts_with(|c: char| c.is_ascii_digit() || c == ':'),
                "{name}: includes {path}:{anchor} by line numbers; use an ANCHOR"
            );
            let source = read(&target);
            let begin = format!("ANCHOR: {anchor}\n");
            let end = format!("ANCHOR_END: {anchor}\n");
            let (Some(b), Some(e)) = (source.find(&begin), source.find(&end)) else {
                panic!(
                    "{name}: anchor `{anchor}` is missing from {path} (or has no ANCHOR_END)"
                );
            };
            let region = &source[b + begin.len()..e];
            let body = region
                .lines()
                .filter(|l| !l.contains("ANCHOR"))
                .collect::<String>();
            assert!(
                !body.trim().is_empty(),
                "{name}: anchor `{anchor}` in {path} is empty"
            );
        }
    }
    assert!(count > 0, "the book includes nothing");
}

#[test]
fn anchor_names_are_unique_within_each_source_file() {
    for dir in ["examples", "src"] {
        for entry in fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                continue;
            }
            let text = read(&path);
            let mut seen = Vec::new();
            for line in text.lines() {
                if let Some((_, name)) = line.split_once("// ANCHOR: ") {
                    let name = name.trim().to_string();
                    assert!(
                        !seen.contains(&name),
                        "{}: anchor `{name}` twice",
                        path.display()
                    );
                    seen.push(name);
                }
            }
        }
    }
}

#[test]
fn rust_code_in_the_book_is_included_never_pasted() {
    for (chapter, text) in chapters() {
        let mut in_rust = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(info) = trimmed.strip_prefix("```") {
                in_rust = !in_rust && info.starts_with("rust");
                continue;
            }
            if in_rust {
                assert!(
                    trimmed.is_empty()
                        || trimmed.starts_with("{{#include")
                        || trimmed == "// --snip--",
                    "{}: Rust code pasted into the book instead of included: {line}",
                    chapter.display()
                );
            }
        }
    }
}

#[test]
fn every_example_has_a_chapter_tests_a_readme_row_and_a_header() {
    let summary = read(&root().join("book/src/SUMMARY.md"));
    let readme = read(&root().join("README.md"));
    for example in examples() {
        let (number, slug) = example.split_once('_').unwrap();
        let chapter = format!("{number}-{}.md", slug.replace('_', "-"));
        assert!(
            root().join("book/src").join(&chapter).is_file(),
            "{example} has no chapter book/src/{chapter}"
        );
        assert!(
            summary.contains(&format!("({chapter})")),
            "{chapter} is not in SUMMARY.md"
        );
        assert!(
            root().join("tests").join(format!("{example}.rs")).is_file(),
            "{example} has no tests/{example}.rs"
        );
        let row = readme
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{example}`")))
            .unwrap_or_else(|| panic!("{example} has no row in README.md's table"));
        assert!(
            row.contains(&format!("book/src/{chapter}")),
            "{example}'s README row does not link its chapter"
        );
        let source = read(&root().join("examples").join(format!("{example}.rs")));
        assert!(
            source.starts_with("//! "),
            "{example} does not open with a //! header"
        );
    }
}

#[test]
fn summary_links_exist_and_every_chapter_is_linked() {
    let summary = read(&root().join("book/src/SUMMARY.md"));
    let mut linked = Vec::new();
    for part in summary.split("](").skip(1) {
        let target = part.split(')').next().unwrap();
        assert!(
            root().join("book/src").join(target).is_file(),
            "SUMMARY.md links {target}, which does not exist"
        );
        linked.push(target.to_string());
    }
    // A Markdown file that is not a page must be included by one (a generated table), or by the
    // Chinese edition's translation of one (`results.zh-CN.md`; in po/zh-CN.po, or in a
    // translation fragment of po/pending/ before it is merged).
    let all = chapters();
    let mut translations = String::new();
    for dir in ["po", "po/pending"] {
        for entry in fs::read_dir(root().join(dir)).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "po") {
                translations += &read(&path);
            }
        }
    }
    let included = |name: &str| {
        let directive = format!("{{{{#include {name}}}}}");
        all.iter().any(|(_, text)| text.contains(&directive))
            || translations.contains(&format!("msgstr \"{directive}\""))
    };
    for (chapter, _) in &all {
        let name = chapter
            .strip_prefix(root().join("book/src"))
            .unwrap()
            .display()
            .to_string();
        assert!(
            name == "SUMMARY.md" || linked.contains(&name) || included(&name),
            "{name} is neither in SUMMARY.md nor included by a chapter"
        );
    }
}

#[test]
fn every_output_file_is_shown_by_a_chapter() {
    let all: String = chapters().into_iter().map(|(_, text)| text).collect();
    for entry in fs::read_dir(root().join("book/src/outputs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            all.contains(&format!("outputs/{name}")),
            "book/src/outputs/{name} is shown nowhere"
        );
    }
}

#[test]
fn the_ci_and_readme_pin_the_same_mdbook_version() {
    let ci = read(&root().join(".ci/run"));
    let readme = read(&root().join("README.md"));
    let version = ci
        .lines()
        .find_map(|l| l.strip_prefix("MDBOOK_VERSION="))
        .expect(".ci/run sets MDBOOK_VERSION=")
        .trim_matches('"');
    assert!(version.starts_with("0.5."), "mdbook {version} is not 0.5.x");
    assert!(
        readme.contains(&format!(
            "cargo install mdbook --locked --version {version}"
        )),
        "README.md does not tell readers to install mdbook {version}, the version CI uses"
    );
}

/// The graded exercises, as `NN_task` stems of `exercises/NN_task.rs`, in order.
fn graded_exercises() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("exercises"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The rows of the course plan in `teaching.md`: the table under "## A course in …".
fn course_plan(teaching: &str) -> Vec<&str> {
    let section = teaching
        .split("\n## ")
        .find(|s| s.starts_with("A course in "))
        .expect("teaching.md has no \"## A course in …\" section");
    section
        .lines()
        .filter(|l| {
            l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit())
        })
        .collect()
}

#[test]
fn every_exercise_has_its_chapter_link_solution_wrong_solutions_and_checks() {
    let cargo_toml = read(&root().join("Cargo.toml"));
    let registry = read(&root().join("grader/src/exercises.rs"));
    let student_readme = read(&root().join("exercises/README.md"));
    let teaching = read(&root().join("book/src/teaching.md"));
    let exercises = graded_exercises();
    assert!(exercises.len() >= 2, "{exercises:?}");
    for name in &exercises {
        // The starter: its part to write, and its Cargo target.
        let starter = read(&root().join(format!("exercises/{name}.rs")));
        assert!(
            starter.contains("YOUR PART") && starter.contains("todo!("),
            "exercises/{name}.rs has no marked part with todo!()"
        );
        assert!(
            cargo_toml.contains(&format!(
                "name = \"ex{name}\"\npath = \"exercises/{name}.rs\""
            )),
            "Cargo.toml has no [[example]] ex{name} for exercises/{name}.rs"
        );
        // Its solution and wrong solutions, each wrong one saying its mistake on line 1.
        assert!(
            root().join(format!("solutions/{name}.rs")).is_file(),
            "solutions/{name}.rs is missing"
        );
        let wrong: Vec<PathBuf> = fs::read_dir(root().join("solutions/wrong"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{name}__"))
            })
            .collect();
        assert!(!wrong.is_empty(), "no solutions/wrong/{name}__*.rs");
        for file in &wrong {
            assert!(
                read(file).starts_with("// WRONG ("),
                "{} does not start with `// WRONG (class) breaks N: the mistake`",
                file.display()
            );
        }
        // Its checks, registered.
        let checks = read(&root().join(format!("grader/src/exercises/ex{name}.rs")));
        assert!(
            checks.contains(&format!("name: \"{name}\"")),
            "grader/src/exercises/ex{name}.rs does not define exercise {name}"
        );
        assert!(
            registry.contains(&format!("mod ex{name};"))
                && registry.contains(&format!("&ex{name}::EXERCISE")),
            "exercise {name} is not registered in grader/src/exercises.rs"
        );
        // Its chapter links it, and the checks name that chapter.
        let number = &name[..2];
        let (chapter, text) = chapters()
            .into_iter()
            .find(|(p, _)| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{number}-"))
            })
            .unwrap_or_else(|| panic!("no chapter {number} for exercise {name}"));
        // Named as a path in the reader's checkout: a link out of `book/src` would be a
        // broken link in the built book.
        assert!(
            text.contains(&format!("`exercises/{name}.rs`")),
            "{} does not name exercises/{name}.rs",
            chapter.display()
        );
        let chapter_file = chapter.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            checks.contains(&format!("chapter: \"{chapter_file}\"")),
            "ex{name}.rs does not name its chapter {chapter_file}"
        );
        // Listed for students and teachers.
        assert!(
            student_readme.contains(&format!("`{name}.rs`")),
            "exercises/README.md's table has no row for {name}"
        );
        // The course plan gives it a session: once, in the table's last column.
        let plan: Vec<&str> = course_plan(&teaching)
            .iter()
            .filter(|row| {
                row.rsplit('|')
                    .nth(1)
                    .unwrap()
                    .contains(&format!("`{name}`"))
            })
            .copied()
            .collect();
        assert_eq!(
            plan.len(),
            1,
            "book/src/teaching.md's course plan should give {name} one session: {plan:?}"
        );
        for file in &wrong {
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            // Its row names the class its first line gives: `// WRONG (class) breaks N: …`.
            let class = read(file)
                .strip_prefix("// WRONG (")
                .and_then(|rest| rest.split_once(')'))
                .map(|(class, _)| class.to_string())
                .unwrap_or_default();
            assert!(
                teaching.contains(&format!("| `{stem}` | {class} |")),
                "book/src/teaching.md's common wrong answers have no row `{stem}` of class {class}"
            );
        }
    }
}

/// Code the book shows fits its column at 1280 px without sideways scrolling: 87 characters
/// (rustfmt.toml's `max_width`, which rustfmt keeps for code; comments and string literals are
/// wrapped by hand, and this is what catches one that is not). The browser check measures the
/// same thing in Chromium; this finds it in a second, naming the line.
#[test]
fn every_included_line_of_rust_fits_the_books_column() {
    let mut long = Vec::new();
    for (chapter, text) in chapters() {
        for (path, anchor) in includes(&text) {
            if !path.ends_with(".rs") {
                continue;
            }
            let target = chapter.parent().unwrap().join(&path);
            let source = read(&target);
            let mut inside = anchor.is_none();
            for (i, line) in source.lines().enumerate() {
                if let Some(a) = &anchor {
                    if line.trim_end().ends_with(&format!("ANCHOR: {a}")) {
                        inside = true;
                        continue;
                    }
                    if line.trim_end().ends_with(&format!("ANCHOR_END: {a}")) {
                        inside = false;
                        continue;
                    }
                }
                if inside && !line.contains("ANCHOR") && line.chars().count() > 87 {
                    long.push(format!(
                        "{}:{}: {} characters",
                        target.strip_prefix(root()).unwrap_or(&target).display(),
                        i + 1,
                        line.chars().count()
                    ));
                }
            }
        }
    }
    long.sort();
    long.dedup();
    assert!(
        long.is_empty(),
        "lines wider than the book's column:\n{}",
        long.join("\n")
    );
}
