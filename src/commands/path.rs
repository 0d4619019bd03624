//! `git agent path`: where a task's worktree is on this machine.

use super::Context;
use crate::cli::PathArgs;
use crate::error::{Exit, refused};
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: PathArgs) -> anyhow::Result<Exit> {
    if let Some(task) = &args.task {
        crate::names::validate_task_name(task)?;
    }
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task_or_current(args.task.as_deref())?;
    // Where git's registrations say it is: `git worktree move` is followed.
    let worktree = crate::ops::prune::worktree_path(&ctx.repo, &record);
    if !worktree.is_dir() {
        return Err(refused(format!("task {} has no worktree on this machine", record.name))
            .hint(format!("`git agent join {}` makes one", record.name))
            .into());
    }
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
