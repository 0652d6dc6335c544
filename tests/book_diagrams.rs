//! The book's box-drawing diagrams are drawn right: every vertical edge meets the edge (or the
//! label) above or below it in the same column, and every corner meets its edge. A box whose right edge is one column off (`│kernel: receive│`
//! under a `┐` one column to the left) reads as broken in every browser; this test names the
//! file, line and column.

use std::path::{Path, PathBuf};

/// Characters that continue a vertical line downwards from their cell.
const OPEN_BELOW: &str = "│┌┐├┤┬┼▲▼";
/// Characters that continue a vertical line upwards from their cell.
const OPEN_ABOVE: &str = "│└┘├┤┴┼▲▼";

fn chapters() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// The ```text blocks of a chapter: (line number of the block's first line, its lines).
fn text_blocks(source: &str) -> Vec<(usize, Vec<Vec<char>>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<Vec<char>>)> = None;
    for (i, line) in source.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) if line.trim_start().starts_with("```text") => {
                current = Some((i + 2, vec![]))
            }
            (Some(_), true) => blocks.extend(current.take()),
            (Some((_, lines)), false) => lines.push(line.chars().collect()),
            _ => {}
        }
    }
    blocks
}

/// The misdrawn cells of one block, as `(row, column, what is wrong)`.
fn misdrawn(lines: &[Vec<char>]) -> Vec<(usize, usize, String)> {
    let at = |row: Option<usize>, col: usize| -> char {
        row.and_then(|r| lines.get(r))
            .and_then(|l| l.get(col))
            .copied()
            .unwrap_or(' ')
    };
    let mut wrong = Vec::new();
    for (r, line) in lines.iter().enumerate() {
        for (c, &ch) in line.iter().enumerate() {
            let above = at(r.checked_sub(1), c);
            let below = at(Some(r + 1), c);
            let up = OPEN_BELOW.contains(above);
            let down = OPEN_ABOVE.contains(below);
            let problem = match ch {
                '┌' | '┐' if !down => Some("its edge does not continue below"),
                '└' | '┘' if !up => Some("its edge does not continue above"),
                // A vertical line may also run into a label (a state name in a state diagram).
                '│' if !up
                    && !down
                    && !above.is_alphanumeric()
                    && !below.is_alphanumeric() =>
                {
                    Some("meets no edge or label above or below")
                }
                '├' | '┤' | '┼' if !up && !down => {
                    Some("meets no edge above or below")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                wrong.push((r, c, format!("`{ch}` {problem}")));
            }
        }
    }
    wrong
}

#[test]
fn every_box_edge_meets_its_neighbour() {
    let mut problems = Vec::new();
    for file in chapters() {
        let source = std::fs::read_to_string(&file).unwrap();
        for (first_line, lines) in text_blocks(&source) {
            for (row, col, what) in misdrawn(&lines) {
                problems.push(format!(
                    "{}:{}:{}: {what}",
                    file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap()
                        .display(),
                    first_line + row,
                    col + 1
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "misdrawn diagrams:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_a_box_one_column_off() {
    let good = ["┌────┐", "│ ok │", "└────┘"];
    let bad = ["┌────┐", "│ bad │", "└────┘"];
    let grid = |rows: &[&str]| -> Vec<Vec<char>> {
        rows.iter().map(|r| r.chars().collect()).collect()
    };
    assert!(misdrawn(&grid(&good)).is_empty());
    let found = misdrawn(&grid(&bad));
    assert!(
        found.iter().any(|(r, c, _)| (*r, *c) == (1, 6)),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(r, c, _)| (*r, *c) == (0, 5)),
        "{found:?}"
    );
}
