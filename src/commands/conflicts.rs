//! `git agent-conflicts` (also `git agent conflicts`): every pair of agent branches, and each
//! against the target, checked in memory. The work is in [`crate::ops::conflicts`].

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::Context;
use crate::cli::{ConflictsArgs, ConflictsFormat};
use crate::conflicts::{Analysis, ConflictPath, PairVerdict, Target, TargetVerdict};
use crate::error::Exit;
use crate::ops::conflicts::{Checked, NothingToCheck, Request, TaskRow};
use crate::ordered::{OrderStep, OrderVerdict};
use crate::output::{GlobalArgs, Style, Ui, kebab, paint};

#[derive(Serialize, schemars::JsonSchema)]
struct TargetInfo {
    name: String,
    commit: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Report<'a> {
    version: u32,
    /// None when there was nothing to check.
    target: Option<TargetInfo>,
    tasks: &'a [TaskRow],
    pairs: &'a [crate::conflicts::PairResult],
    against_target: &'a [crate::conflicts::TargetResult],
    hazards: &'a [crate::conflicts::Hazard],
    in_order: Option<&'a [OrderStep]>,
    summary: &'a crate::conflicts::Summary,
}

pub fn run(global: &GlobalArgs, ui: &Ui, args: ConflictsArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
    let ctx = Context::open(global)?;
    let request = Request {
        tasks: args.tasks.clone(),
        target: args.target.clone(),
        include_uncommitted: args.include_uncommitted,
        pairwise: args.pairwise,
    };
    let checked = match crate::ops::conflicts::check(&ctx.repo, &request)? {
        Ok(checked) => checked,
        Err(nothing) => {
            ui.status(match nothing {
                NothingToCheck::NoTasks => "there are no tasks: nothing to check (`git agent spawn <task>` makes one)",
                NothingToCheck::AllIntegrated => "every task is integrated: nothing to check",
            });
            if ui.json {
                // The same schema, empty, so that a script reads "nothing conflicts" the usual way.
                let empty = Analysis::default();
                ui.json_data(&Report {
                    version: 1,
                    target: None,
                    tasks: &[],
                    pairs: &empty.pairs,
                    against_target: &empty.against_target,
                    hazards: &empty.hazards,
                    in_order: None,
                    summary: &empty.summary,
                });
            }
            return Ok(Exit::Success);
        }
    };
    let Checked { target, tasks: rows, analysis, in_order } = &checked;
    for row in rows.iter().filter(|r| !r.problems.is_empty()) {
        ui.warn(format!("task {}: {}", row.name, row.problems.join("; ")));
    }
    if ui.json {
        ui.json_data(&Report {
            version: 1,
            target: Some(TargetInfo { name: target.label.clone(), commit: target.commit.to_string() }),
            tasks: rows,
            pairs: &analysis.pairs,
            against_target: &analysis.against_target,
            hazards: &analysis.hazards,
            in_order: in_order.as_deref(),
            summary: &analysis.summary,
        });
    } else {
        // The tasks that were checked (a task with a warning, such as a file too large for its
        // snapshot, was checked too), in task order: each has a verdict against the target.
        let names: Vec<String> = analysis.against_target.iter().map(|t| t.task.clone()).collect();
        let text = match args.format {
            ConflictsFormat::Matrix => render_matrix(&names, target, analysis, in_order.as_deref()),
            ConflictsFormat::List => render_list(&names, target, analysis, in_order.as_deref()),
        };
        ui.data(&text);
    }
    Ok(exit_status(analysis, in_order.as_deref()))
}

/// With a dependency order, its verdict decides; else every pair's and the target's.
fn exit_status(analysis: &Analysis, in_order: Option<&[OrderStep]>) -> Exit {
    let order_error = in_order.is_some_and(|steps| steps.iter().any(|s| s.verdict == OrderVerdict::Error));
    if analysis.summary.failed_merges > 0 || order_error {
        // The report is printed, but the check is incomplete: no "clean" may be read into it.
        return Exit::Failed;
    }
    let conflicts = match in_order {
        Some(steps) => steps.iter().any(|s| s.verdict.fails()),
        None => analysis.has_conflicts(),
    };
    if conflicts { Exit::Found } else { Exit::Success }
}

fn order_text(in_order: &[OrderStep], target: &Target) -> String {
    let mut out = format!(
        "\n{}\n",
        paint(format!("In dependency order onto {} (as integrate merges them):", target.label), Style::new().bold())
    );
    let width = in_order.iter().map(|s| s.task.chars().count()).max().unwrap_or(0);
    for step in in_order {
        let what = match step.verdict {
            OrderVerdict::Applies => paint("applies cleanly", Style::new().green()),
            OrderVerdict::AlreadyIn => "already in".to_owned(),
            OrderVerdict::Conflict => {
                format!("{}: {}", paint("conflicts", Style::new().red().bold()), conflict_text(&step.conflicts))
            }
            OrderVerdict::Blocked => format!(
                "{} (depends on {})",
                paint("blocked", Style::new().red()),
                step.blocked_by.as_deref().unwrap_or("?")
            ),
            OrderVerdict::Unrelated => "unrelated history (git refuses the merge)".to_owned(),
            OrderVerdict::Error => {
                format!("{}: {}", paint("merge failed", Style::new().red().bold()), step.error.as_deref().unwrap_or(""))
            }
        };
        out.push_str(&format!("  {:<width$}  {what}\n", step.task));
    }
    out
}

/// Each conflict as `path (kind)`; a conflict git lists no file for also names the files it
/// is about: `path (kind: source, ...)`.
fn conflict_text(conflicts: &[ConflictPath]) -> String {
    let one = |c: &ConflictPath| {
        let sources: Vec<String> = c.sources.iter().map(ToString::to_string).collect();
        match sources.is_empty() {
            true => format!("{} ({})", c.path, c.kind),
            false => format!("{} ({}: {})", c.path, c.kind, sources.join(", ")),
        }
    };
    conflicts.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// Tasks beyond this many are summarised: a 100-column matrix helps nobody.
const MATRIX_MAX: usize = 24;

fn render_matrix(names: &[String], target: &Target, analysis: &Analysis, in_order: Option<&[OrderStep]>) -> String {
    let mut cell: HashMap<(&str, &str), char> = HashMap::new();
    for pair in &analysis.pairs {
        let mark = match pair.verdict {
            PairVerdict::Conflict => 'X',
            PairVerdict::CleanOverlap => '~',
            PairVerdict::Unrelated => 'u',
            PairVerdict::Error => '!',
        };
        cell.insert((pair.a.as_str(), pair.b.as_str()), mark);
        cell.insert((pair.b.as_str(), pair.a.as_str()), mark);
    }
    let target_conflict: BTreeSet<&str> = analysis
        .against_target
        .iter()
        .filter(|t| t.verdict == TargetVerdict::Conflict)
        .map(|t| t.task.as_str())
        .collect();
    // With many tasks, show only those involved in something.
    let shown: Vec<&String> = if names.len() > MATRIX_MAX {
        names.iter().filter(|n| cell.keys().any(|(a, _)| a == n) || target_conflict.contains(n.as_str())).collect()
    } else {
        names.iter().collect()
    };
    let mut out = format!(
        "{} task(s) against {} ({}); {} pair(s), {} merged in memory\n\n",
        names.len(),
        target.label,
        crate::git::short_id(&target.commit),
        analysis.summary.pairs_checked,
        analysis.summary.merged_in_memory
    );
    let width = shown.len().to_string().len().max(1) + 1;
    let name_width = shown.iter().map(|n| n.chars().count()).max().unwrap_or(0).min(24);
    out.push_str(&format!("{:>w$} {:<nw$}", "", "", w = width, nw = name_width));
    for i in 1..=shown.len() {
        out.push_str(&format!("{i:>width$}"));
    }
    out.push_str(&format!("  {}\n", target.label));
    for (i, row) in shown.iter().enumerate() {
        let name: String = row.chars().take(name_width).collect();
        out.push_str(&format!("{:>w$} {:<nw$}", i + 1, name, w = width, nw = name_width));
        for column in &shown {
            let mark =
                if row == column { '-' } else { cell.get(&(row.as_str(), column.as_str())).copied().unwrap_or('.') };
            out.push_str(&" ".repeat(width - 1));
            out.push_str(&paint_mark(mark));
        }
        let against = if target_conflict.contains(row.as_str()) { 'X' } else { '.' };
        out.push_str(&format!("  {}\n", paint_mark(against)));
    }
    if shown.len() < names.len() {
        out.push_str(&format!(
            "({} other task(s) merge cleanly with every other and with the target)\n",
            names.len() - shown.len()
        ));
    }
    out.push_str(&format!(
        "\n{} conflict   {} same files, merges cleanly (review)   {} clean\n",
        paint_mark('X'),
        paint_mark('~'),
        paint_mark('.')
    ));
    out.push_str(&details(analysis, target, in_order));
    out
}

/// A matrix mark, coloured when colour is on (callers pad before it: escape codes have no width).
fn paint_mark(mark: char) -> String {
    let style = match mark {
        'X' => Style::new().red().bold(),
        '~' => Style::new().yellow(),
        _ => Style::new().dimmed(),
    };
    paint(mark, style)
}

fn details(analysis: &Analysis, target: &Target, in_order: Option<&[OrderStep]>) -> String {
    let mut out = String::new();
    let conflicts: Vec<_> = analysis.pairs.iter().filter(|p| p.verdict == PairVerdict::Conflict).collect();
    let against: Vec<_> = analysis.against_target.iter().filter(|t| t.verdict == TargetVerdict::Conflict).collect();
    if !conflicts.is_empty() || !against.is_empty() {
        out.push_str(&format!("\n{}\n", paint("Conflicts:", Style::new().bold())));
        for pair in conflicts {
            out.push_str(&format!("  {} x {}: {}\n", pair.a, pair.b, conflict_text(&pair.conflicts)));
        }
        for t in against {
            out.push_str(&format!("  {} x {}: {}\n", t.task, target.label, conflict_text(&t.conflicts)));
        }
    }
    let overlaps: Vec<_> = analysis.pairs.iter().filter(|p| p.verdict == PairVerdict::CleanOverlap).collect();
    if !overlaps.is_empty() {
        out.push_str(&format!("\n{}\n", paint("Same files, merging cleanly:", Style::new().bold())));
        for pair in overlaps {
            let paths: Vec<String> = pair.overlap.iter().map(|p| p.to_string()).collect();
            out.push_str(&format!("  {} ~ {}: {}\n", pair.a, pair.b, paths.join(", ")));
        }
    }
    if !analysis.hazards.is_empty() {
        out.push_str(&format!("\n{}\n", paint("Hazards:", Style::new().bold())));
        for hazard in &analysis.hazards {
            let paths: Vec<String> = hazard.paths.iter().map(|p| p.to_string()).collect();
            out.push_str(&format!("  {}: {}: {}\n", hazard.kind, hazard.message, paths.join(", ")));
        }
    }
    let unrelated: Vec<_> = analysis.pairs.iter().filter(|p| p.verdict == PairVerdict::Unrelated).collect();
    if !unrelated.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            paint("Unrelated histories (git refuses to merge them):", Style::new().bold())
        ));
        for pair in unrelated {
            out.push_str(&format!("  {} u {}\n", pair.a, pair.b));
        }
    }
    let failed: Vec<String> = analysis
        .pairs
        .iter()
        .filter_map(|p| p.error.as_ref().map(|e| format!("  {} ! {}: {e}\n", p.a, p.b)))
        .chain(
            analysis
                .against_target
                .iter()
                .filter_map(|t| t.error.as_ref().map(|e| format!("  {} ! {}: {e}\n", t.task, target.label))),
        )
        .collect();
    if !failed.is_empty() {
        out.push_str(&format!("\n{}\n", paint("Merges that failed (no verdict):", Style::new().red().bold())));
        out.push_str(&failed.concat());
    }
    if !failed.is_empty() {
        return out;
    }
    match in_order {
        Some(steps) => {
            out.push_str(&order_text(steps, target));
            if steps.iter().all(|s| !s.verdict.fails()) {
                let pairwise =
                    if analysis.has_conflicts() { " (the pairwise conflicts above are not met)" } else { "" };
                out.push_str(&format!("\nNo conflicts in dependency order{pairwise}.\n"));
            }
        }
        None if !analysis.has_conflicts() => out.push_str("\nNo conflicts.\n"),
        None => {}
    }
    out
}

/// One entry per pair, in task order (`clean` for the pairs that merge cleanly without
/// touching the same files), then per branch against the target, hazards, and the order.
fn render_list(names: &[String], target: &Target, analysis: &Analysis, in_order: Option<&[OrderStep]>) -> String {
    let mut out = String::new();
    let reported: HashMap<(&str, &str), &crate::conflicts::PairResult> =
        analysis.pairs.iter().map(|p| ((p.a.as_str(), p.b.as_str()), p)).collect();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let Some(pair) = reported.get(&(a.as_str(), b.as_str())) else {
                out.push_str(&format!("clean {a} {b}\n"));
                continue;
            };
            out.push_str(&format!("{} {} {}\n", kebab(&pair.verdict), pair.a, pair.b));
            for c in &pair.conflicts {
                out.push_str(&format!("  {} {}\n", c.kind, c.path));
            }
            for path in pair.overlap.iter().filter(|p| !pair.conflicts.iter().any(|c| &c.path == *p)) {
                out.push_str(&format!("  overlap {path}\n"));
            }
        }
    }
    for t in &analysis.against_target {
        out.push_str(&format!("{} {} {}\n", kebab(&t.verdict), t.task, target.label));
        for c in &t.conflicts {
            out.push_str(&format!("  {} {}\n", c.kind, c.path));
        }
    }
    for hazard in &analysis.hazards {
        out.push_str(&format!("hazard {} {}\n", hazard.kind, hazard.tasks.join(" ")));
        for path in &hazard.paths {
            out.push_str(&format!("  {path}\n"));
        }
    }
    for step in in_order.unwrap_or_default() {
        out.push_str(&format!("in-order {} {}", kebab(&step.verdict), step.task));
        if let Some(dep) = &step.blocked_by {
            out.push_str(&format!(" {dep}"));
        }
        out.push('\n');
        for c in &step.conflicts {
            out.push_str(&format!("  {} {}\n", c.kind, c.path));
        }
    }
    out
}
