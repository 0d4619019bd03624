//! `git agent open`: a task's worktree in the user's editor. The work is in [`crate::ops::open`].

use super::Context;
use crate::cli::OpenArgs;
use crate::error::Exit;
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: OpenArgs) -> anyhow::Result<Exit> {
    if ui.json {
        return Err(crate::error::no_json_output("open")
            .hint("`git agent path --json TASK` gives the worktree")
            .into());
    }
    // Names are checked before any git call.
    args.task.as_deref().map(crate::names::validate_task_name).transpose()?;
    let ctx = Context::open(global)?;
    let (record, worktree) = crate::ops::open::task_worktree(&ctx, args.task.as_deref())?;
    let editor = crate::ops::open::editor(&ctx.settings, |name| std::env::var(name).ok())?;
    ui.status(format!(
        "opening task {} ({}) with {} ({})",
        record.name,
        worktree.display(),
        editor.command,
        editor.from
    ));
    crate::ops::open::open(&editor, &worktree)?;
    Ok(Exit::Success)
}
