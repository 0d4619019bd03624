//! The work of `git agent-conflicts`: which tasks to check, their heads (or snapshots of
//! their worktrees), the target, and the analysis. Returns data; the command renders it.

use std::collections::{BTreeSet, HashMap};

use gix::ObjectId;
use serde::Serialize;

use crate::conflicts::{Analysis, Branch, Target};
use crate::error::bad_input;
use crate::git::SnapshotOptions;
use crate::ordered::OrderStep;
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
    /// Skip the dependency-order view even when tasks have dependencies.
    pub pairwise: bool,
}

/// A task as the report shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
    /// The tasks merged in dependency order (when any checked task has a dependency among
    /// the checked tasks, and not `pairwise`).
    pub in_order: Option<Vec<OrderStep>>,
}

/// Why there was nothing to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NothingToCheck {
    /// There are no tasks at all.
    NoTasks,
    /// Every task is integrated.
    AllIntegrated,
}

/// Checks every pair of tasks and each against the target, and with dependencies the tasks
/// in dependency order.
pub fn check(repo: &gix::Repository, request: &Request) -> anyhow::Result<Result<Checked, NothingToCheck>> {
    let mut entries = state::read_tasks(repo)?;
    if entries.is_empty() {
        return Ok(Err(NothingToCheck::NoTasks));
    }
    // Every task's branch tip, for what its dependents inherited.
    let mut tips: HashMap<String, ObjectId> = HashMap::new();
    for entry in &entries {
        if let Ok(record) = &entry.record
            && let Some(tip) = crate::git::ref_target(repo, &record.branch)?
        {
            tips.insert(entry.name.clone(), tip);
        }
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
                            after: record.after.clone(),
                            // Where it was stacked too: that work stays its dependencies'
                            // after their branches moved on or were deleted.
                            dependency_tips: record
                                .after
                                .iter()
                                .filter_map(|dep| tips.get(dep).copied())
                                .chain(record.stacked_tips().into_iter().filter(|tip| repo.has_object(tip)))
                                .collect(),
                        });
                    }
                }
            }
        }
        rows.push(row);
    }
    if entries.is_empty() {
        return Ok(Err(NothingToCheck::AllIntegrated));
    }
    let target = resolve_target(repo, request.target.as_deref(), &base_refs)?;

    let in_order = if !request.pairwise && has_dependencies(&branches) {
        // On the repository that already holds the snapshots, in memory like them.
        Some(crate::ordered::merge_in_order(&memory_repo, &target, &in_dependency_order(&branches)?)?)
    } else {
        None
    };
    let snapshots = memory_repo.objects.take_object_memory();
    let mut analysis = crate::conflicts::analyse(repo, branches, &target, snapshots)?;
    add_guard_hazards(repo, &entries, &tips, &target, &mut analysis)?;
    for (task, problem) in &analysis.problems {
        if let Some(row) = rows.iter_mut().find(|r| &r.name == task) {
            row.problems.push(problem.clone());
        }
    }
    Ok(Ok(Checked { target, tasks: rows, analysis, in_order }))
}

/// The guards' hazards of each checked task (see [`crate::hazard`]): what its committed own
/// changes touch that its contracts, protected paths or constraints forbid. Uncommitted edits
/// are `git agent check-edit`'s to judge, before they are made.
fn add_guard_hazards(
    repo: &gix::Repository,
    entries: &[state::TaskEntry],
    tips: &HashMap<String, ObjectId>,
    target: &Target,
    analysis: &mut Analysis,
) -> anyhow::Result<()> {
    use crate::conflicts::{Hazard, HazardKind};
    let protected = crate::settings::Settings::read(repo)?.protected;
    let guarded = |entry: &&state::TaskEntry| {
        entry.record.as_ref().is_ok_and(|record| crate::hazard::guarded(record, &protected))
    };
    if !entries.iter().any(|entry| guarded(&entry)) {
        return Ok(());
    }
    // Every task, not only the checked ones: a dependency's tips tell what a task inherited.
    let all = state::read_tasks(repo)?;
    for entry in entries.iter().filter(guarded) {
        let Ok(record) = &entry.record else { continue };
        let Some(&head) = tips.get(&entry.name) else { continue };
        let own = crate::stack::own_changed_paths(repo, record, &all, head, target.commit)?;
        let mut by_kind: std::collections::BTreeMap<&'static str, (HazardKind, Vec<crate::hazard::Hazard>)> =
            Default::default();
        for hazard in crate::hazard::hazards(repo, record, &protected, &own)? {
            let (key, kind) = match hazard {
                crate::hazard::Hazard::Contract { .. } => ("contract", HazardKind::Contract),
                crate::hazard::Hazard::Protected { .. } => ("protected", HazardKind::Protected),
                _ => ("dependency", HazardKind::NewDependency),
            };
            by_kind.entry(key).or_insert_with(|| (kind, Vec::new())).1.push(hazard);
        }
        for (kind, found) in by_kind.into_values() {
            let what: Vec<String> = found.iter().map(|h| h.describe()).collect();
            analysis.hazards.push(Hazard {
                kind,
                tasks: vec![entry.name.clone()],
                paths: found.iter().map(|h| h.path().clone()).collect(),
                message: format!("{} {} (integrate refuses it)", entry.name, what.join(", ")),
            });
        }
    }
    analysis.summary.hazards = analysis.hazards.len();
    Ok(())
}

/// Does any branch depend on another one being checked?
fn has_dependencies(branches: &[Branch]) -> bool {
    branches.iter().any(|b| b.after.iter().any(|dep| branches.iter().any(|other| &other.task == dep)))
}

/// The branches in dependency order, ties in spawn order (integrate's order). Dependencies
/// outside the checked set are left to the target: integrated, or not part of this check.
fn in_dependency_order(branches: &[Branch]) -> anyhow::Result<Vec<Branch>> {
    let names: Vec<String> = branches.iter().map(|b| b.task.clone()).collect();
    let index = crate::graph::index_by_name(&names);
    let deps: Vec<Vec<usize>> =
        branches.iter().map(|b| b.after.iter().filter_map(|dep| index.get(dep.as_str()).copied()).collect()).collect();
    let order = crate::graph::topo_order(&names, &deps)
        .map_err(|cycle| bad_input(format!("dependency cycle: {cycle}")).hint("check the tasks' --after"))?;
    Ok(order.into_iter().map(|i| branches[i].clone()).collect())
}

/// `--into`, else the tasks' common base branch.
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
        return Err(bad_input(format!("cannot tell what to check against: {why}")).hint("pass --into <branch>").into());
    };
    let commit: ObjectId = crate::git::ref_target(repo, base)?.ok_or_else(|| {
        bad_input(format!("the tasks' base branch {} no longer exists", short(base))).hint("pass --into <branch>")
    })?;
    Ok(Target { label: short(base).to_owned(), commit })
}

fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}
