//! The book's box-drawing diagrams are drawn right: every vertical edge meets the edge (or the
//! label) above or below it in the same column, and every corner meets its edge. A box whose
//! right edge is one column off (`│kernel: receive│` under a `┐` one column to the left) reads as
//! broken in every browser; this test names the file, line and column.
//!
//! And they cannot break in a browser: a drawing is marked as a diagram (```` ```text,diagram ````,
//! which workbook.css never wraps; an unmarked ```` ```text ```` block wraps its long lines) and
//! is at most `MAX_WIDTH` columns wide, which fits the book's column at 1280 px. The browser check
//! (book/tools/check-browser.mjs) measures the same in Chromium.

use std::path::{Path, PathBuf};

/// The widest a diagram may be, in columns: what the book's column holds at 1280 px in the code
/// font (85-column diagrams fit in Chromium with DejaVu Sans Mono, in both editions; the browser
/// check measures it on every build).
const MAX_WIDTH: usize = 85;

/// Characters only a drawing uses: box-drawing lines and the arrow heads.
fn is_drawing(c: char) -> bool {
    ('\u{2500}'..='\u{257F}').contains(&c) || "▲▶▼◀".contains(c)
}

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

/// A ```text block of a chapter.
struct Block {
    /// The line number of its first line.
    first_line: usize,
    /// Marked ```text,diagram.
    diagram: bool,
    lines: Vec<Vec<char>>,
}

/// The ```text blocks of a chapter.
fn text_blocks(source: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in source.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) if line.trim_start().starts_with("```text") => {
                current = Some(Block {
                    first_line: i + 2,
                    diagram: line.trim() == "```text,diagram",
                    lines: vec![],
                })
            }
            (Some(_), true) => blocks.extend(current.take()),
            (Some(block), false) => block.lines.push(line.chars().collect()),
            _ => {}
        }
    }
    blocks
}

/// What keeps a block from showing unbroken in a browser, as `(row, what is wrong)`.
fn unbreakable(block: &Block) -> Vec<(usize, String)> {
    let mut wrong = Vec::new();
    for (r, line) in block.lines.iter().enumerate() {
        if block.diagram && line.len() > MAX_WIDTH {
            wrong.push((
                r,
                format!(
                    "the diagram is {} columns wide here, more than {MAX_WIDTH}: \
                     it does not fit the column at 1280 px",
                    line.len()
                ),
            ));
        }
        if !block.diagram && line.iter().any(|&c| is_drawing(c)) {
            wrong.push((
                r,
                "a drawing in a block not marked ```text,diagram: it would wrap"
                    .into(),
            ));
        }
    }
    wrong
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
        for block in text_blocks(&source) {
            for (row, col, what) in misdrawn(&block.lines) {
                problems.push(format!(
                    "{}:{}:{}: {what}",
                    file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap()
                        .display(),
                    block.first_line + row,
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

#[test]
fn every_diagram_is_marked_and_fits_the_column() {
    let mut problems = Vec::new();
    for file in chapters() {
        let source = std::fs::read_to_string(&file).unwrap();
        for block in text_blocks(&source) {
            for (row, what) in unbreakable(&block) {
                problems.push(format!(
                    "{}:{}: {what}",
                    file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap()
                        .display(),
                    block.first_line + row,
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "diagrams that would break in a browser:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_a_wide_or_unmarked_diagram() {
    let chapter = |fence: &str, width: usize| {
        format!(
            "text\n\n{fence}\n┌{}┐\n└{}┘\n```\n",
            "─".repeat(width - 2),
            "─".repeat(width - 2)
        )
    };
    let found = |source: &str| -> Vec<(usize, String)> {
        text_blocks(source).iter().flat_map(unbreakable).collect()
    };
    assert!(found(&chapter("```text,diagram", MAX_WIDTH)).is_empty());
    let wide = found(&chapter("```text,diagram", MAX_WIDTH + 1));
    assert_eq!(wide.len(), 2, "{wide:?}");
    assert!(wide[0].1.contains("86 columns wide"), "{wide:?}");
    let unmarked = found(&chapter("```text", 10));
    assert_eq!(unmarked.len(), 2, "{unmarked:?}");
    assert!(unmarked[0].1.contains("not marked"), "{unmarked:?}");
}
