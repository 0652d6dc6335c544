//! `check --self-test`: the checks are honest. Every reference solution passes, every
//! untouched starter is "not done yet", every stored wrong answer (spliced into its starter,
//! see [`crate::answers`]) fails a check of a "Must hold" bullet it claims to break, and every
//! numbered bullet has a check. `grader/tests/exercises.rs` runs it inside `cargo test`.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;

use crate::answers;
use crate::build::{self, root};
use crate::exercises::{ALL, Exercise};
use crate::report::{ExerciseResult, Verdict, json_result, json_str};
use crate::{Common, build_and_run, print_result, starter, write_json};

/// The role of a file in the self-test, and what it must do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Starter,
    Solution,
    Wrong,
}

impl Role {
    fn word(self) -> &'static str {
        match self {
            Role::Starter => "starter",
            Role::Solution => "solution",
            Role::Wrong => "wrong",
        }
    }

    /// Does `result` show what a file of this role must show? A wrong answer must compile,
    /// run, and fail a check of a bullet it claims to break (not just be unfinished, and not
    /// fail by accident somewhere else).
    fn as_expected(
        self,
        result: &ExerciseResult,
        wrong: Option<&answers::Wrong>,
    ) -> bool {
        match self {
            Role::Starter => result.verdict == Verdict::NotDone,
            Role::Solution => result.verdict == Verdict::Pass,
            Role::Wrong => {
                let breaks = wrong.map(|w| w.header.breaks.as_slice()).unwrap_or(&[]);
                matches!(result.verdict, Verdict::Fail | Verdict::Timeout)
                    && result.checks.iter().any(|c| {
                        !c.passed() && c.holds.iter().any(|h| breaks.contains(h))
                    })
            }
        }
    }
}

/// The wrong answers of `exercise`: `solutions/wrong/<name>__<mistake>.rs`.
pub fn wrong_solutions(exercise: &Exercise) -> Vec<PathBuf> {
    let prefix = format!("{}__", exercise.name);
    let mut found: Vec<PathBuf> = fs::read_dir(root().join("solutions/wrong"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "rs")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    found.sort();
    found
}

/// `check --self-test`: every starter, solution and wrong solution of `exercises`, and
/// whether each behaves.
pub fn self_test(
    exercises: &[&'static Exercise],
    common: &Common,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut pairs = Vec::new();
    let mut roles = Vec::new();
    // For each file of `pairs`, the wrong answer it was spliced from (None: a whole file).
    let mut wrongs: Vec<Option<answers::Wrong>> = Vec::new();
    for &exercise in exercises {
        let solution = root()
            .join("solutions")
            .join(format!("{}.rs", exercise.name));
        if !solution.is_file() {
            bail!(
                "{} is missing: the self-test needs the solutions (this copy had them removed?)",
                solution.display()
            );
        }
        pairs.push((exercise, starter(exercise)));
        roles.push(Role::Starter);
        pairs.push((exercise, solution));
        roles.push(Role::Solution);
        wrongs.extend([None, None]);
        // A wrong answer is stored as its YOUR PART region: spliced into the starter here.
        let spliced = build::scratch_root()?.join("spliced");
        for path in wrong_solutions(exercise) {
            let wrong = answers::materialise(&path, &starter(exercise), &spliced)?;
            pairs.push((exercise, wrong.program.clone()));
            roles.push(Role::Wrong);
            wrongs.push(Some(wrong));
        }
    }
    let mut results = build_and_run(&pairs, common)?;
    // Results name the stored answer, not the spliced program.
    for (result, wrong) in results.iter_mut().zip(&wrongs) {
        if let Some(wrong) = wrong {
            result.source = wrong.path.clone();
        }
    }
    println!();
    let mut all_good = true;
    for ((result, role), wrong) in results.iter().zip(&roles).zip(&wrongs) {
        let good = role.as_expected(result, wrong.as_ref());
        all_good &= good;
        let file = result
            .source
            .strip_prefix(root())
            .unwrap_or(&result.source)
            .display()
            .to_string();
        println!(
            "{} {:9} {:62} {:13} {}/{} checks pass  {:.1} s",
            if good { "✔" } else { "✘" },
            role.word(),
            file,
            result.verdict.word(),
            result.passed_count(),
            result.checks.len(),
            result.elapsed.as_secs_f64()
        );
        if let (false, Some(wrong)) = (good, wrong) {
            println!(
                "    claims ({}) to break \"Must hold\" {:?}: no check of {} failed",
                wrong.header.class,
                wrong.header.breaks,
                if wrong.header.breaks.len() == 1 {
                    "it"
                } else {
                    "them"
                }
            );
        }
        if !good {
            let exercise = ALL
                .iter()
                .find(|e| e.name == result.exercise)
                .expect("known");
            print_result(result, exercise);
        }
    }
    // Every numbered "Must hold" bullet has a check that proves it.
    let mut bullets_json = Vec::new();
    for &exercise in exercises {
        let text = fs::read_to_string(starter(exercise)).unwrap_or_default();
        let bullets = answers::must_hold(&text);
        for (n, what) in &bullets {
            if !exercise.checks.iter().any(|c| c.holds.contains(n)) {
                all_good = false;
                println!(
                    "✘ {}: \"Must hold\" {n} has no check ({what})",
                    exercise.name
                );
            }
        }
        if bullets.is_empty() {
            all_good = false;
            println!(
                "✘ {}: the starter has no numbered \"Must hold\" bullets",
                exercise.name
            );
        }
        bullets_json.push(format!(
            "{{\"exercise\":{},\"bullets\":[{}]}}",
            json_str(exercise.name),
            bullets
                .iter()
                .map(|(n, what)| format!("{{\"n\":{n},\"text\":{}}}", json_str(what)))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    println!();
    println!(
        "{} of {} files behave as they must ({:.1} s in all)",
        results
            .iter()
            .zip(&roles)
            .zip(&wrongs)
            .filter(|((r, role), w)| role.as_expected(r, w.as_ref()))
            .count(),
        results.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &common.json {
        // The same results, each with its role, for grader/tests/exercises.rs.
        let items: Vec<String> = results
            .iter()
            .zip(&roles)
            .zip(&wrongs)
            .map(|((r, role), wrong)| {
                let body = json_result(r);
                let claim = match wrong {
                    Some(w) => format!(
                        "\"class\":{},\"breaks\":{:?},",
                        json_str(&w.header.class),
                        w.header.breaks
                    ),
                    None => String::new(),
                };
                format!("{{\"role\":{},{claim}{}", json_str(role.word()), &body[1..])
            })
            .collect();
        let registry: Vec<String> = exercises
            .iter()
            .map(|e| {
                format!(
                    "{{\"exercise\":{},\"chapter\":{},\"checks\":{}}}",
                    json_str(e.name),
                    json_str(e.chapter),
                    e.checks.len()
                )
            })
            .collect();
        let body = format!(
            "{{\"seconds\":{:.2},\"exercises\":[{}],\"bullets\":[{}],\"results\":[\n{}\n]}}\n",
            started.elapsed().as_secs_f64(),
            registry.join(","),
            bullets_json.join(","),
            items.join(",\n")
        );
        write_json(path, &body)?;
    }
    Ok(all_good)
}
