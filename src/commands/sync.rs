//! `git agent sync`: exchange task state with a remote. The work is in [`crate::ops::sync`];
//! this parses and renders.

use super::Context;
use crate::cli::SyncArgs;
use crate::error::Exit;
use crate::ops::sync::{BranchMove, Event, NotesMove, RecordMove, Report, Request, TaskSync, sync};
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: SyncArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let request = Request { remote: args.remote.clone(), dry_run: args.dry_run };
    let report = sync(&ctx, &request, &mut |event| match event {
        Event::Fetching { remote, attempt: 1 } => ui.status(format!("fetching task state from {remote}")),
        Event::Fetching { remote, attempt } => {
            ui.status(format!("fetching task state from {remote} (round {attempt})"))
        }
        Event::Pushing { refs } => ui.status(format!("pushing {refs} ref(s)")),
        Event::Retrying { why } => ui.status(format!("the remote moved meanwhile ({why}): starting again")),
    })?;
    if ui.json {
        ui.json_data(&SyncJson { version: 1, sync: &report });
    } else {
        render(ui, &report);
    }
    // Something left out (corrupt, diverged, refused) is found, not failed: exit 1.
    Ok(if report.incomplete() { Exit::Found } else { Exit::Success })
}

fn render(ui: &Ui, report: &Report) {
    let would = if report.dry_run { "would be " } else { "" };
    let mut quiet = 0;
    for task in &report.tasks {
        if task.record == RecordMove::UpToDate && matches!(task.branch, BranchMove::UpToDate | BranchMove::Absent) {
            quiet += 1;
            continue;
        }
        ui.data(&format!("{}\n", line(task, would)));
        if let Some(reason) = &task.reason {
            ui.status(format!("hint: {reason}"));
        }
    }
    let notes = match report.notes {
        NotesMove::UpToDate | NotesMove::Absent => None,
        NotesMove::Pushed => Some("pushed"),
        NotesMove::Fetched => Some("fetched"),
        NotesMove::Merged => Some("merged"),
        NotesMove::Rejected => Some("refused by the remote"),
    };
    if let Some(notes) = notes {
        ui.data(&format!("test results (refs/notes/agent) {would}{notes}\n"));
    }
    let prefix = if report.dry_run { "dry run: " } else { "" };
    ui.status(format!(
        "{prefix}synced with {}: {} task(s), {quiet} already up to date ({} round trip(s))",
        report.remote,
        report.tasks.len(),
        report.round_trips
    ));
}

fn line(task: &TaskSync, would: &str) -> String {
    let record = match task.record {
        RecordMove::UpToDate => "up to date".to_owned(),
        RecordMove::Published => format!("{would}published"),
        RecordMove::Created => format!("{would}created here"),
        RecordMove::Pushed => format!("{would}pushed"),
        RecordMove::Fetched => format!("{would}fetched"),
        RecordMove::Merged => format!("{would}merged (changed on both sides)"),
        RecordMove::RemovedThere => format!("{would}removed on the remote (pruned here)"),
        RecordMove::RemovedHere => format!("{would}removed here (pruned on the remote)"),
        RecordMove::Restored => format!("{would}sent back (pruned on the remote, but changed or checked out here)"),
        RecordMove::Corrupt => "left alone: corrupt".to_owned(),
        RecordMove::Unrelated => "left alone: unrelated histories".to_owned(),
        RecordMove::Rejected => "refused by the remote".to_owned(),
    };
    let branch = match task.branch {
        BranchMove::UpToDate => "up to date".to_owned(),
        BranchMove::Absent => "none".to_owned(),
        BranchMove::Published => format!("{would}published"),
        BranchMove::Created => format!("{would}created here"),
        BranchMove::Pushed => format!("{would}pushed"),
        BranchMove::Fetched => format!("{would}fast-forwarded here"),
        BranchMove::CheckedOut => "behind, checked out here: not moved".to_owned(),
        BranchMove::Diverged => {
            format!("diverged (here {}, there {}): not moved", short(&task.branch_local), short(&task.branch_remote))
        }
        BranchMove::Kept => "kept here".to_owned(),
        BranchMove::RemovedThere => format!("{would}removed on the remote"),
        BranchMove::Skipped => "not synced".to_owned(),
        BranchMove::Rejected => "refused by the remote".to_owned(),
        BranchMove::Blocked => "cannot be created here".to_owned(),
    };
    format!("{}: record {record}; branch {branch}", task.task)
}

fn short(hex: &Option<String>) -> &str {
    hex.as_deref().map_or("-", |h| &h[..h.len().min(7)])
}

/// `git agent sync --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct SyncJson<'a> {
    version: u32,
    sync: &'a Report,
}
