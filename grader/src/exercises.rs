//! Every graded exercise: its file, its chapter, the function to write, and its checks.
//!
//! To add one, see "Adding an exercise" in `exercises/README.md`: a module here with a
//! `pub static EXERCISE`, and one line in [`ALL`].

use crate::harness::Ctx;
use crate::report::Fail;

mod ex01_byte_counter;
mod ex02_half_close;
mod ex02_read_exact;
mod ex03_capped_lines;
mod ex04_thread_limit;
mod ex04_total_deadline;
mod ex05_store_handler;
mod ex06_client_closes_first;
mod ex07_partial_writes;
mod ex08_idle_timeout;
mod ex08_write_interest;
mod ex09_rate_limit;
mod ex09_rfc868;
mod ex10_backoff;
mod ex10_stale_replies;
mod ex11_line_splitter;
mod ex12_netstring_decoder;
mod ex13_percentiles;
mod ex14_private_message;
mod ex15_resume_transfer;
mod ex16_reconnect;
mod ex16_two_deadlines;
mod ex17_allow_list;
mod ex18_async_lifetime;
mod ex19_request_head;
mod ex20_frame_decoder;
/// "Waiting costs no CPU", judged alike at any load (the CPU checks of chapters 04–08).
mod idle;

/// One check: a name that says what must hold, and the code that looks.
pub struct Check {
    /// Says what must hold, as a sentence: "an echo that arrives one byte at a time is printed
    /// whole".
    pub name: &'static str,
    /// The numbered "Must hold" bullets of the starter that this check proves (at least one;
    /// `grader/tests/exercises.rs` fails when a bullet has no check).
    pub holds: &'static [u32],
    pub run: fn(&Ctx) -> Result<(), Fail>,
}

/// A graded exercise.
pub struct Exercise {
    /// The file's stem: `exercises/<name>.rs`, `solutions/<name>.rs`, example `ex<name>`.
    pub name: &'static str,
    /// The chapter's file in `book/src/`.
    pub chapter: &'static str,
    /// The task in a few words, for lists and the teacher's table.
    pub task: &'static str,
    /// What the student writes, as said in "not done yet: … write `read_exactly`".
    pub write: &'static str,
    pub checks: &'static [Check],
}

/// Every exercise, in the workbook's order.
pub static ALL: &[&Exercise] = &[
    &ex01_byte_counter::EXERCISE,
    &ex02_read_exact::EXERCISE,
    &ex02_half_close::EXERCISE,
    &ex03_capped_lines::EXERCISE,
    &ex04_total_deadline::EXERCISE,
    &ex04_thread_limit::EXERCISE,
    &ex05_store_handler::EXERCISE,
    &ex06_client_closes_first::EXERCISE,
    &ex07_partial_writes::EXERCISE,
    &ex08_write_interest::EXERCISE,
    &ex08_idle_timeout::EXERCISE,
    &ex09_rfc868::EXERCISE,
    &ex09_rate_limit::EXERCISE,
    &ex10_backoff::EXERCISE,
    &ex10_stale_replies::EXERCISE,
    &ex11_line_splitter::EXERCISE,
    &ex12_netstring_decoder::EXERCISE,
    &ex13_percentiles::EXERCISE,
    &ex14_private_message::EXERCISE,
    &ex15_resume_transfer::EXERCISE,
    &ex16_two_deadlines::EXERCISE,
    &ex16_reconnect::EXERCISE,
    &ex17_allow_list::EXERCISE,
    &ex18_async_lifetime::EXERCISE,
    &ex19_request_head::EXERCISE, // chapter 19
    &ex20_frame_decoder::EXERCISE,
];

/// The exercises a name selects: a full name (`02_read_exact`), a chapter number (`02`, `2`),
/// or the name without its number (`read_exact`).
pub fn select(query: &str) -> Vec<&'static Exercise> {
    let query = query.trim().trim_end_matches(".rs");
    let query = query.rsplit(['/', '\\']).next().unwrap_or(query);
    if let Ok(number) = query.parse::<u32>() {
        return ALL
            .iter()
            .copied()
            .filter(|e| e.name[..2].parse::<u32>() == Ok(number))
            .collect();
    }
    ALL.iter()
        .copied()
        .filter(|e| e.name == query || e.name.get(3..) == Some(query))
        .collect()
}
