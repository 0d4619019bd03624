//! The work of `git agent handoff`: what a successor agent needs to know about a task (the
//! prior agent's commits and changes, its last checkpoint, what remains, the contract), and
//! the successor task itself, stacked on the old one.

use std::collections::HashSet;

use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::git::FileStat;
use crate::ops::spawn::{CreateOptions, Event, Request, Spawned};
use crate::state::{Checkpoint, TaskRecord, TaskState};

/// Most commits a handoff lists (the newest are kept).
const MAX_COMMITS: usize = 200;

/// Everything a handoff prompt says, as data (`--json`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Handoff {
    pub task: String,
    pub branch: String,
    pub state: TaskState,
    pub base_ref: Option<String>,
    /// Where the task's own work starts (its base, or where it was stacked).
    pub start_commit: Option<String>,
    pub head: Option<String>,
    /// The task's own commits, oldest first (at most [`MAX_COMMITS`], the newest).
    pub commits: Vec<Commit>,
    /// Commits left out of `commits` (the oldest).
    pub commits_omitted: usize,
    /// Lines added and removed per file, branch tip against the start.
    pub diffstat: Vec<FileStat>,
    /// Commits on its base branch that the branch lacks.
    pub behind_base: Option<usize>,
    pub integrated_commit: Option<String>,
    pub checkpoint: Option<Checkpoint>,
    pub brief: String,
    /// Acceptance criteria the checkpoint does not list as completed.
    pub acceptance_remaining: Vec<String>,
    /// Acceptance criteria the checkpoint lists as completed.
    pub acceptance_completed: Vec<String>,
    pub scope: Vec<String>,
    pub after: Vec<String>,
    /// Pathspecs the task may not change: its contracts and protected paths, and git config
    /// agent.protected.
    pub protected: Vec<String>,
    /// The constraints the task was given.
    pub constraints: Vec<String>,
    /// agent.checkpointEvery, in seconds.
    pub checkpoint_every_seconds: u64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Commit {
    pub id: String,
    pub subject: String,
}

/// Gathers the handoff of `record`'s task.
pub fn gather(ctx: &Context, record: &TaskRecord) -> anyhow::Result<Handoff> {
    let repo = &ctx.repo;
    let head = crate::git::ref_target(repo, &record.branch)?;
    let start = record.start_commit().filter(|id| repo.has_object(id));
    let (mut commits, mut diffstat) = (Vec::new(), Vec::new());
    if let (Some(head), Some(start)) = (head, start) {
        commits = own_commits(repo, head, start)?;
        diffstat = crate::git::diffstat(repo, start, head)?;
    }
    let commits_omitted = commits.len().saturating_sub(MAX_COMMITS);
    commits.drain(..commits_omitted);
    let behind_base = match (head, &record.base_ref) {
        (Some(head), Some(base_ref)) => match crate::git::ref_target(repo, base_ref)? {
            Some(target) => Some(crate::git::count_only_in(repo, target, head)?),
            None => None,
        },
        _ => None,
    };
    let completed: HashSet<String> =
        record.checkpoint.iter().flat_map(|c| c.completed.iter()).map(|item| normalise(item)).collect();
    let (acceptance_completed, acceptance_remaining) =
        record.acceptance.iter().cloned().partition(|criterion| completed.contains(&normalise(criterion)));
    let mut protected: Vec<String> = Vec::new();
    for pathspec in record.guarded_paths().chain(&ctx.settings.protected) {
        if !protected.contains(pathspec) {
            protected.push(pathspec.clone());
        }
    }
    Ok(Handoff {
        task: record.name.clone(),
        branch: record.short_branch().to_owned(),
        state: record.state,
        base_ref: record.base_ref.as_deref().map(|b| b.trim_start_matches("refs/heads/").to_owned()),
        start_commit: start.map(|id| id.to_string()),
        head: head.map(|id| id.to_string()),
        commits,
        commits_omitted,
        diffstat,
        behind_base,
        integrated_commit: record.integrated_commit.clone(),
        checkpoint: record.checkpoint.clone(),
        brief: record.brief.clone(),
        acceptance_remaining,
        acceptance_completed,
        scope: record.scope.clone(),
        after: record.after.clone(),
        protected,
        constraints: record.constraints.clone(),
        checkpoint_every_seconds: ctx.settings.checkpoint_every.as_secs(),
    })
}

/// The commits on `head` after `start`, oldest first.
fn own_commits(repo: &gix::Repository, head: ObjectId, start: ObjectId) -> anyhow::Result<Vec<Commit>> {
    let mut commits = Vec::new();
    for info in repo.rev_walk([head]).with_hidden([start]).all()? {
        let commit = repo.find_commit(info?.id)?;
        let subject = commit.message()?.summary().to_string();
        commits.push(Commit { id: commit.id.to_string(), subject });
    }
    commits.reverse();
    Ok(commits)
}

/// A criterion and a completed item match without case, surrounding space and a final period.
fn normalise(text: &str) -> String {
    text.trim().trim_end_matches('.').trim().to_lowercase()
}

/// Spawns the successor `new` stacked on `record`'s task (as `git agent spawn NEW --after
/// TASK` would, whatever agent.stack says), with `prompt` as its brief, the task's scope and
/// acceptance criteria, on the task's base. The claim is released before returning.
pub fn successor(
    ctx: &Context,
    record: &TaskRecord,
    new: &str,
    prompt: &str,
    options: CreateOptions,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<Spawned> {
    let base = match &record.base_ref {
        Some(base_ref) => base_ref.clone(),
        None => record.base_commit.clone(),
    };
    let request = Request {
        name: new.to_owned(),
        base: Some(base),
        scope: record.scope.clone(),
        after: vec![record.name.clone()],
        brief: prompt.to_owned(),
        acceptance: record.acceptance.clone(),
        command: Vec::new(),
        // The successor does the same kind of work.
        kind: record.kind.clone(),
        stack: Some(true),
        variant: None,
        // It inherits the guards; an approved plan stays approved for it.
        guards: crate::ops::spawn::Guards {
            protect: record.protect.clone(),
            contracts: record.contracts.clone(),
            constraints: record.constraints.clone(),
            gate: Some(record.awaits_approval()),
        },
    };
    crate::ops::spawn::recover_interrupted_spawn(ctx, new)?;
    let prepared = crate::ops::spawn::prepare(ctx, &request, &HashSet::new())?;
    let (spawned, claim) = crate::ops::spawn::create(ctx, prepared, options, events)?;
    drop(claim);
    Ok(spawned)
}
