//! `git agent path`: where a task's worktree is on this machine.

use super::Context;
use crate::cli::PathArgs;
use crate::error::Exit;
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: PathArgs) -> anyhow::Result<Exit> {
    // Names are checked before any git call.
    args.task.as_deref().map(crate::names::validate_task_name).transpose()?;
    let ctx = Context::open(global)?;
    let (record, worktree) = crate::ops::open::task_worktree(&ctx, args.task.as_deref())?;
    if ui.json {
        ui.json_data(&PathJson { version: 1, task: &record.name, worktree: &worktree });
    } else {
        ui.data(&format!("{}\n", worktree.display()));
    }
    Ok(Exit::Success)
}

/// `git agent path --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct PathJson<'a> {
    version: u32,
    task: &'a str,
    worktree: &'a std::path::Path,
}
