//! The work of `git agent join`: give a task that exists here (its record and branch, fetched
//! from another machine by `git agent sync`) a worktree on this machine, with spawn's
//! machinery: the claim, the checkout, agent.copy, agent.setup, and the rollback. join never
//! creates or moves the branch and never writes the record. Returns data; the command renders.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Context;
use super::spawn::{CreateOptions, Event, NewWorktree, Undo};
use crate::error::{bad_input, refused};
use crate::state::{TaskRecord, TaskState};

/// What a join did, for the report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Joined {
    pub task: String,
    /// The task's branch, short (`agent/db`).
    pub branch: String,
    pub worktree: PathBuf,
    /// Files copied from the main worktree (agent.copy).
    pub copied: Vec<String>,
    /// The agent.setup command that ran, if any.
    pub setup: Option<String>,
}

/// Creates the worktree of task `name` at `<worktree root>/<name>` with its branch checked
/// out; refuses (before writing anything) a task that is integrated, has no branch here, has
/// a worktree here already, or whose branch is checked out anywhere. On any failure or signal
/// after the checkout, removes the worktree again.
pub fn join(
    ctx: &Context,
    name: &str,
    options: CreateOptions,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<Joined> {
    // First: a bare repository without agent.worktreeRoot has no place for any worktree.
    let root = ctx.worktree_root()?;
    let record = joinable_record(ctx, name)?;
    let path = root.join(name);
    // Claimed before the checks, so that they still hold when the worktree is added: of two
    // joins one loses here, and prune or spawn leave the task alone meanwhile.
    let claim = crate::lock::claim_task(&ctx.repo, name, "join")?;
    let branch = joinable_branch(ctx, name, &path)?;
    let new = NewWorktree { root: &root, path: &path, branch: &branch, task: &record };
    let undo = Undo::new("the new worktree was removed; the task's branch and record are untouched");
    let (furnished, _claim) = super::spawn::undoable(ctx, name, claim, "join", undo, events, |undo, events| {
        super::spawn::check_out(ctx, &new, undo, events)?;
        crate::pause::point("join-worktree-added");
        undo.check_interrupted()?;
        super::spawn::furnish(ctx, &new, options, undo, events)
    })?;
    Ok(Joined {
        task: name.to_owned(),
        branch: branch.shorten().to_string(),
        worktree: path,
        copied: furnished.files.copied,
        setup: furnished.setup,
    })
}

/// The task's record, if it can be worked on: it exists here, is readable, not integrated.
fn joinable_record(ctx: &Context, name: &str) -> anyhow::Result<TaskRecord> {
    if crate::state::find_task(&ctx.repo, name)?.is_none() {
        return Err(bad_input(format!("no task named {name:?} here"))
            .hint("fetch the tasks of the other machines first: git agent sync [REMOTE]; `git agent list` shows the tasks here")
            .into());
    }
    let (_, record) = ctx.task(name)?;
    match record.state {
        TaskState::Active | TaskState::Done => Ok(record),
        TaskState::Integrated => Err(refused(format!("task {name:?} is integrated already"))
            .hint("its work is on its target branch; spawn a new task for more work")
            .into()),
        TaskState::Unknown => Err(refused(format!("task {name:?} has a state this git-agent does not know"))
            .hint("upgrade git-agent")
            .into()),
    }
}

/// The task's branch (`refs/heads/<agent.branchPrefix><task>`), if a worktree for it can go to
/// `path`: the branch exists here, the task has no worktree on this machine, the branch is
/// checked out nowhere, and nothing is at `path`.
fn joinable_branch(ctx: &Context, name: &str, path: &Path) -> anyhow::Result<gix::refs::FullName> {
    let repo = &ctx.repo;
    let branch = crate::guard::task_branch(&ctx.settings.branch_prefix, name);
    let full = crate::git::full_name(&branch)?;
    let short = full.shorten().to_string();
    if repo.try_find_reference(full.as_ref())?.is_none() {
        return Err(refused(format!("task {name:?} has no branch {short} here"))
            .hint(format!("fetch it first: git agent sync [REMOTE] (or git fetch REMOTE {branch}:{branch})"))
            .into());
    }
    if let Some(registration) = crate::ops::prune::find_registration(repo, &branch, path)? {
        let place = registration.path.as_deref().unwrap_or(path).display().to_string();
        let hint = if registration.missing {
            "its directory is gone: `git worktree prune` removes the stale registration, then join again".to_owned()
        } else {
            format!("work there: cd {place}")
        };
        return Err(refused(format!("task {name:?} has a worktree on this machine already: {place}"))
            .hint(hint)
            .into());
    }
    if let Some(place) = crate::guard::checked_out_at(repo, &branch, None)? {
        return Err(refused(format!("branch {short} of task {name:?} is checked out in {place}"))
            .hint("a branch can be checked out in one worktree only: switch that worktree to another branch first")
            .into());
    }
    super::spawn::check_worktree_dir(path, "")?;
    Ok(full)
}
