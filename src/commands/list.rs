//! `git agent list` (alias `status`): every task at a glance. The rows come from [`crate::ops::list`].

use serde::Serialize;

use super::Context;
use crate::cli::ListArgs;
use crate::error::{Exit, bad_input};
use crate::ops::list::{DirtyCheck, Row, RowState, rows_with_costs};
use crate::output::{GlobalArgs, Style, Ui, kebab, paint};
use crate::state;

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Report {
    version: u32,
    tasks: Vec<Row>,
}

pub fn run(global: &GlobalArgs, ui: &Ui, args: ListArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
    let ctx = Context::open(global)?;
    let mut entries = state::read_tasks(&ctx.repo)?;
    if !args.tasks.is_empty() {
        if let Some(missing) = args.tasks.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
            return Err(bad_input(format!("no task named {missing:?}")).into());
        }
        entries.retain(|e| args.tasks.contains(&e.name));
    }
    let dirty = match (args.no_dirty, args.verbose) {
        (true, _) => DirtyCheck::Skip,
        (false, true) => DirtyCheck::Files,
        (false, false) => DirtyCheck::Any,
    };
    let rows = rows_with_costs(&ctx, &entries, dirty);
    if ui.json {
        ui.json_data(&Report { version: 1, tasks: rows });
    } else if rows.is_empty() {
        ui.status(
            "no tasks yet: start one with `git agent spawn <task>`, or several with `git agent spawn --plan plan.json`",
        );
    } else {
        ui.data(&render(&rows, now_unix()));
    }
    Ok(Exit::Success)
}

pub(crate) fn now_unix() -> i64 {
    (state::now_ms() / 1000) as i64
}

/// "5m", "3h", "2d": how long ago, in one unit.
pub(crate) fn age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// How many uncommitted files `-v` names under a task before "and N more".
const FILES_SHOWN: usize = 10;

fn render(rows: &[Row], now: i64) -> String {
    let header = ["TASK", "STATE", "STATUS", "AHEAD", "BEHIND", "FILES", "DIRTY", "LAST", "AFTER", "NOTES"];
    let mut table: Vec<[String; 10]> = Vec::new();
    for row in rows {
        let opt = |n: Option<usize>| n.map_or("-".to_owned(), |n| n.to_string());
        let mut notes = Vec::new();
        if let Some(drift) = row.base_drift.filter(|d| *d > 0 && row.state != RowState::Integrated) {
            notes.push(format!("base moved +{drift}"));
        }
        if row.dependency_moved && row.state != RowState::Integrated {
            notes.push("dependency moved".to_owned());
        }
        if let Some(gate) = row.gate.filter(|gate| *gate != crate::state::GateState::Approved) {
            notes.push(format!("plan {}", gate.as_str()));
        }
        if !row.hazards.is_empty() {
            let shown: Vec<String> = row.hazards.iter().take(2).map(|h| h.describe()).collect();
            let more =
                if row.hazards.len() > 2 { format!(" (+{} more)", row.hazards.len() - 2) } else { String::new() };
            notes.push(format!("hazard: {}{more}", shown.join(", ")));
        }
        if !row.out_of_scope.is_empty() {
            let shown: Vec<String> = row.out_of_scope.iter().take(3).map(|p| p.to_string()).collect();
            let more = if row.out_of_scope.len() > 3 { ", ..." } else { "" };
            notes.push(format!("{} outside scope: {}{more}", row.out_of_scope.len(), shown.join(", ")));
        }
        if row.running && row.idle {
            let quiet = row.last_activity_unix.map_or(String::new(), |t| format!(" for {}", age(now - t)));
            notes.push(format!("agent running, idle{quiet}"));
        } else if row.running {
            notes.push("agent running".to_owned());
            if let Some(seconds) = row.checkpoint_overdue {
                notes.push(format!("no checkpoint for {}", age(seconds as i64)));
            }
        } else if let Some(exit) = row.agent_exit.filter(|e| *e != 0) {
            notes.push(format!("agent exited {exit}"));
        }
        notes.extend(row.problems.iter().cloned());
        notes.extend(row.cost.as_ref().map(|cost| format!("cost {}", cost.short())));
        notes.extend(row.variant.as_ref().map(|v| format!("variant {} of {}", v.index, v.of)));
        table.push([
            // A task name has no `*`: the marker cannot be mistaken for part of it.
            if row.current { format!("{}*", row.name) } else { row.name.clone() },
            kebab(&row.state),
            status_cell(row, now),
            opt(row.ahead),
            opt(row.behind),
            opt(row.files_changed),
            row.dirty.map_or("-".to_owned(), |d| if d { "yes".into() } else { "no".into() }),
            row.last_commit_unix.map_or("-".to_owned(), |t| age(now - t)),
            if row.after.is_empty() { "-".to_owned() } else { row.after.join(",") },
            notes.join("; "),
        ]);
    }
    let mut widths = header.map(str::len);
    for cells in &table {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [String; 10], style: Option<Style>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let padded = if i == 9 { cell.clone() } else { format!("{cell:<w$}  ") };
            out.push_str(&match (i, style) {
                (_, Some(style)) => paint(&padded, style),
                (1, None) => paint(&padded, state_style(cell)),
                (2, None) if cell.starts_with("blocked") => paint(&padded, Style::new().red()),
                (9, None) if !cell.is_empty() => paint(&padded, Style::new().yellow()),
                _ => padded,
            });
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.map(str::to_owned), Some(Style::new().bold()));
    for (cells, row) in table.into_iter().zip(rows) {
        out.push_str(&line(cells, None));
        out.push_str(&uncommitted_lines(row));
    }
    out
}

/// With `-v`: the task's uncommitted files under its row, as `git status --short` shows them.
fn uncommitted_lines(row: &Row) -> String {
    let files = row.uncommitted.as_deref().unwrap_or_default();
    let mut out: String =
        files.iter().take(FILES_SHOWN).map(|file| format!("    {} {}\n", file.code(), file.path)).collect();
    if files.len() > FILES_SHOWN {
        out.push_str(&format!("    and {} more\n", files.len() - FILES_SHOWN));
    }
    out
}

/// "working 5m": the agent's status and how long it has been so; "-" when it never reported.
pub(crate) fn status_cell(row: &Row, now: i64) -> String {
    match &row.status {
        Some(status) if status.at_ms > 0 => {
            format!("{} {}", status.status.as_str(), age(now - (status.at_ms / 1000) as i64))
        }
        Some(status) => status.status.as_str().to_owned(),
        None => "-".to_owned(),
    }
}

fn state_style(state: &str) -> Style {
    match state {
        "done" => Style::new().green(),
        "integrated" => Style::new().dimmed(),
        "corrupt" | "unknown" => Style::new().red(),
        _ => Style::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_use_one_unit() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(3 * 86_400 + 5), "3d");
        assert_eq!(age(-5), "0s");
    }
}
