//! The work of `git agent open` (and `path`): where a task's worktree is here, and which
//! editor opens it.

use std::path::{Path, PathBuf};

use super::Context;
use crate::error::{Exit, Fail, bad_input, refused};
use crate::settings::Settings;
use crate::state::TaskRecord;

/// The worktree of the task named (or the one we are in), where git's registrations say it is
/// (`git worktree move` is followed). A task without one on this machine is refused (exit 3).
/// The caller checks the name first, before any git call.
pub fn task_worktree(ctx: &Context, task: Option<&str>) -> anyhow::Result<(TaskRecord, PathBuf)> {
    let (_, record) = ctx.task_or_current(task)?;
    let worktree = crate::ops::prune::worktree_path(&ctx.repo, &record);
    if !worktree.is_dir() {
        return Err(refused(format!("task {} has no worktree on this machine", record.name))
            .hint(format!("`git agent join {}` makes one", record.name))
            .into());
    }
    Ok((record, worktree))
}

/// The editor command line, and where it came from (said before it runs: it may have been
/// planted in the repository's configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    pub command: String,
    pub from: String,
}

/// `agent.open`, else `$VISUAL`, else `$EDITOR` (`var` reads the environment); none is exit 2.
pub fn editor(settings: &Settings, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Editor> {
    if let Some(command) = &settings.open {
        let origin = settings.origin(crate::layout::key::OPEN).map(|o| format!(" from {o}")).unwrap_or_default();
        return Ok(Editor { command: command.clone(), from: format!("{}{origin}", crate::layout::key::OPEN) });
    }
    for name in ["VISUAL", "EDITOR"] {
        if let Some(command) = var(name).filter(|value| !value.trim().is_empty()) {
            return Ok(Editor { command, from: format!("${name}") });
        }
    }
    Err(bad_input("no editor to open the worktree with: agent.open, VISUAL and EDITOR are all unset")
        .hint("git config --global agent.open code (or any editor command), or set EDITOR")
        .into())
}

/// Runs `editor` in `worktree` with the worktree's path as its argument, through the shell as
/// git runs its editor (`sh -c '<editor> "$@"'`, so `code --wait` works), on the terminal.
pub fn open(editor: &Editor, worktree: &Path) -> anyhow::Result<()> {
    let outcome = crate::process::Run::shell(&format!("{} \"$@\"", editor.command), worktree)
        .arg(&editor.command)
        .arg(worktree)
        .timeout(None)
        .capture(crate::process::Capture::Terminal)
        .run()?;
    if !outcome.status.success() {
        return Err(
            Fail::new(Exit::Found, format!("the editor {:?} failed ({})", editor.command, outcome.status)).into()
        );
    }
    Ok(())
}
