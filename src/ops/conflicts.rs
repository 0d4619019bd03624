//! The work of `git agent-conflicts`: which tasks to check, their heads (or snapshots of
//! their worktrees), the target, and the analysis. Returns data; the command renders it.

use std::collections::BTreeSet;

use gix::ObjectId;
use serde::Serialize;

use crate::conflicts::{Analysis, Branch, Target};
use crate::error::bad_input;
use crate::git::SnapshotOptions;
use crate::state::{self, TaskState};

/// Files larger than this are not read into a worktree's snapshot (`--include-uncommitted`).
pub const MAX_SNAPSHOT_FILE_BYTES: u64 = 64 << 20;

/// What to check.
pub struct Request {
    /// Tasks to check (empty: every task not integrated yet).
    pub tasks: Vec<String>,
    /// What to merge into (default: the tasks' common base branch).
    pub target: Option<String>,
    /// Check each worktree as it is, uncommitted changes included.
    pub include_uncommitted: bool,
}

/// A task as the report shows it.
#[derive(Debug, Serialize)]
pub struct TaskRow {
    pub name: String,
    pub branch: Option<String>,
    pub head: Option<String>,
    /// The head is a snapshot of the worktree's uncommitted changes (--include-uncommitted).
    pub uncommitted: bool,
    pub problems: Vec<String>,
}

/// The outcome of a check.
pub struct Checked {
    pub target: Target,
    pub tasks: Vec<TaskRow>,
    pub analysis: Analysis,
}

/// Checks every pair of tasks and each against the target; `None` when every task is integrated.
pub fn check(repo: &gix::Repository, request: &Request) -> anyhow::Result<Option<Checked>> {
    let mut entries = state::read_tasks(repo)?;
    if entries.is_empty() {
        return Err(bad_input("there are no tasks to check")
            .hint("create tasks with `git agent spawn <task>` first")
            .into());
    }
    if request.tasks.is_empty() {
        entries.retain(|e| e.record.as_ref().map_or(true, |r| r.state != TaskState::Integrated));
    } else {
        if let Some(missing) = request.tasks.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
            return Err(bad_input(format!("no task named {missing:?}"))
                .hint("`git agent list` shows the tasks")
                .into());
        }
        entries.retain(|e| request.tasks.contains(&e.name));
    }

    // Snapshots of worktrees live in memory only: a read-only check writes nothing to the
    // object database (defect 16), and reads no file larger than the limit.
    let mut memory_repo = repo.clone().with_object_memory();
    let mut rows = Vec::new();
    let mut branches = Vec::new();
    let mut base_refs = BTreeSet::new();
    for entry in &entries {
        let mut row =
            TaskRow { name: entry.name.clone(), branch: None, head: None, uncommitted: false, problems: Vec::new() };
        match &entry.record {
            Err(why) => row.problems.push(format!("corrupt record: {why}")),
            Ok(record) => {
                row.branch = Some(record.short_branch().to_owned());
                match crate::git::ref_target(repo, &record.branch)? {
                    None => row.problems.push(format!("branch {} is missing", record.short_branch())),
                    Some(mut head) => {
                        if request.include_uncommitted && record.worktree.is_dir() {
                            let options =
                                SnapshotOptions { max_file_bytes: Some(MAX_SNAPSHOT_FILE_BYTES), clean: true };
                            match crate::git::snapshot_worktree(&memory_repo, &record.worktree, options) {
                                Ok(Some(snapshot)) => {
                                    head = snapshot.commit;
                                    row.uncommitted = true;
                                    for (path, size) in snapshot.not_read {
                                        row.problems.push(format!(
                                            "{} is {size} bytes, larger than {MAX_SNAPSHOT_FILE_BYTES}: checked as committed",
                                            crate::git::bytes_to_string(&path)
                                        ));
                                    }
                                }
                                Ok(None) => {}
                                Err(err) => row.problems.push(format!("cannot snapshot the worktree: {err:#}")),
                            }
                        }
                        row.head = Some(head.to_string());
                        base_refs.extend(record.base_ref.clone());
                        branches.push(Branch {
                            task: entry.name.clone(),
                            label: record.short_branch().to_owned(),
                            head,
                            scope: record.scope.clone(),
                        });
                    }
                }
            }
        }
        rows.push(row);
    }
    if entries.is_empty() {
        return Ok(None);
    }
    let target = resolve_target(repo, request.target.as_deref(), &base_refs)?;

    let snapshots = memory_repo.objects.take_object_memory();
    let analysis = crate::conflicts::analyse(repo, branches, &target, snapshots)?;
    for (task, problem) in &analysis.problems {
        if let Some(row) = rows.iter_mut().find(|r| &r.name == task) {
            row.problems.push(problem.clone());
        }
    }
    Ok(Some(Checked { target, tasks: rows, analysis }))
}

/// `--target`, else the tasks' common base branch.
fn resolve_target(repo: &gix::Repository, given: Option<&str>, base_refs: &BTreeSet<String>) -> anyhow::Result<Target> {
    if let Some(rev) = given {
        return Ok(Target { label: rev.to_owned(), commit: crate::git::resolve_commit(repo, rev)? });
    }
    let mut refs = base_refs.iter();
    let (Some(base), None) = (refs.next(), refs.next()) else {
        let why = if base_refs.is_empty() {
            "the tasks were not spawned from a branch".to_owned()
        } else {
            format!(
                "the tasks have different base branches ({})",
                base_refs.iter().map(|r| short(r)).collect::<Vec<_>>().join(", ")
            )
        };
        return Err(bad_input(format!("cannot tell what to check against: {why}"))
            .hint("pass --target <branch>")
            .into());
    };
    let commit: ObjectId = crate::git::ref_target(repo, base)?.ok_or_else(|| {
        bad_input(format!("the tasks' base branch {} no longer exists", short(base))).hint("pass --target <branch>")
    })?;
    Ok(Target { label: short(base).to_owned(), commit })
}

fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}
