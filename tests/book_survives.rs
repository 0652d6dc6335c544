//! The appendix "What each server survives" (`book/src/survives.md`) names, for every server and
//! failure mode, the test that proves it. This test keeps it honest: every test it names exists
//! in the file it says, and every server's table covers every failure mode the workbook teaches,
//! or the section says in words why one does not apply.

use std::path::Path;

const MODES: &[&str] = &[
    "slow reader",
    "trickler",
    "flood",
    "oversized input",
    "EOF mid-message",
    "reset mid-message",
    "descriptors exhausted",
    "Ctrl-C under load",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The test file named in `text` (`tests/NN_name.rs`), if any.
fn test_file(text: &str) -> Option<String> {
    let start = text.find("`tests/")? + 1;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_string())
}

/// The inline code spans of a line.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

struct Section {
    heading: String,
    file: Option<String>,
    prose: bool,
    rows: Vec<String>,
}

fn sections() -> Vec<Section> {
    let text = std::fs::read_to_string(root().join("book/src/survives.md")).unwrap();
    let mut sections: Vec<Section> = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            sections.push(Section {
                heading: heading.to_string(),
                file: test_file(heading),
                prose: false,
                rows: Vec::new(),
            });
        } else if let Some(section) = sections.last_mut() {
            if line.starts_with('|') {
                section.rows.push(line.to_string());
            } else if !line.trim().is_empty() {
                section.prose = true;
            }
        }
    }
    sections
}

#[test]
fn every_test_named_exists_in_its_file() {
    let mut missing = Vec::new();
    let mut named = 0;
    for section in sections() {
        for row in section.rows.iter().skip(2) {
            let file = test_file(row)
                .or_else(|| section.file.clone())
                .unwrap_or_else(|| panic!("no test file for row {row:?}"));
            let source = std::fs::read_to_string(root().join(&file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            for name in code_spans(row) {
                if name.starts_with("tests/") {
                    continue;
                }
                named += 1;
                if !source.contains(&format!("fn {name}(")) {
                    missing.push(format!("{file}: no test `{name}`"));
                }
            }
        }
    }
    assert!(named > 100, "only {named} tests named: is the page there?");
    assert!(
        missing.is_empty(),
        "survives.md names tests that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_server_covers_every_failure_mode_or_says_why_not() {
    for section in sections().iter().filter(|s| s.file.is_some()) {
        let labels: Vec<String> = section
            .rows
            .iter()
            .skip(2)
            .map(|row| row.split('|').nth(1).unwrap_or("").trim().to_string())
            .collect();
        let uncovered: Vec<&&str> = MODES
            .iter()
            .filter(|m| !labels.iter().any(|l| l == **m))
            .collect();
        assert!(
            uncovered.is_empty() || section.prose,
            "{}: no test for {uncovered:?}, and no words saying why",
            section.heading
        );
    }
}

#[test]
fn every_server_example_has_a_section() {
    let text = std::fs::read_to_string(root().join("book/src/survives.md")).unwrap();
    for server in [
        "03_sequential_server",
        "04_threaded_server",
        "05_thread_pool_server",
        "07_nonblocking_loop",
        "08_poll_server",
        "09_udp_time_server",
        "12_framed_messages",
        "14_chat_room",
        "15_file_transfer",
        "16_heartbeat",
        "18_async_server",
    ] {
        assert!(
            text.contains(&format!("(`tests/{server}.rs`)")),
            "survives.md has no section for {server}"
        );
    }
}

#[test]
fn every_client_has_rows_and_every_printing_client_a_hostile_text_row() {
    let sections = sections();
    let clients = sections
        .iter()
        .find(|s| s.heading == "The clients")
        .expect("survives.md has no section `## The clients`");
    let row_of = |client: &str, failure: &str| {
        clients.rows.iter().skip(2).any(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            cells
                .get(1)
                .is_some_and(|c| c.starts_with(&format!("{client} ")))
                && cells.get(2).is_some_and(|f| f.starts_with(failure))
        })
    };
    for client in ["02", "10", "12", "13", "14", "15", "17"] {
        assert!(
            row_of(client, ""),
            "the clients' table has no row for {client}"
        );
    }
    // Every client that prints what a server sent shows it inert.
    for client in ["02", "10", "12", "14", "15", "17"] {
        assert!(
            row_of(client, "hostile text"),
            "{client}: no `hostile text` row"
        );
    }
    for (client, failure) in [
        ("14", "a server that is gone"),
        ("15", "a server that stops reading"),
        ("15", "a full disk"),
        ("13", "a server that never stops sending"),
        ("12", "an oversized answer"),
        ("02", "a wrong answer"),
    ] {
        assert!(row_of(client, failure), "{client}: no `{failure}` row");
    }
}
