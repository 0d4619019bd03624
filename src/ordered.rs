//! The order-aware view of `git agent-conflicts`: the tasks merged in memory in dependency
//! order, each onto the result of the ones before, as `git agent-integrate` merges them.
//!
//! The pairwise gate asks "do these two branches conflict?"; with dependencies that is the
//! wrong question for a dependent that merged (or was stacked on) an older state of its
//! dependency: the pair conflicts, while integration, which lands the dependency first, never
//! meets that conflict. This view answers the question integration asks: does each task apply
//! cleanly at its place in the order?

use std::collections::HashSet;

use gix::ObjectId;
use serde::Serialize;

use crate::conflicts::{Branch, ConflictPath, MergeCaches, Target};

/// How a task comes out at its place in the dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrderVerdict {
    /// Merges cleanly onto the result of the tasks before it.
    Applies,
    /// Its work is in the result already (its tip is an ancestor): nothing to merge.
    AlreadyIn,
    /// Conflicts with the result of the tasks before it.
    Conflict,
    /// Not tried: a task it depends on does not apply.
    Blocked,
    /// No history in common with the result.
    Unrelated,
    /// The merge failed (the error says why); no verdict.
    Error,
}

impl OrderVerdict {
    /// Does the order fail at this task?
    pub fn fails(self) -> bool {
        matches!(self, OrderVerdict::Conflict | OrderVerdict::Blocked | OrderVerdict::Unrelated | OrderVerdict::Error)
    }
}

/// One task's place in the order.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OrderStep {
    pub task: String,
    pub verdict: OrderVerdict,
    /// The paths that conflict at its place (verdict `conflict`).
    pub conflicts: Vec<ConflictPath>,
    /// The dependency that keeps it from being tried (verdict `blocked`).
    pub blocked_by: Option<String>,
    pub error: Option<String>,
}

/// Merges `branches`, already in dependency order, one after the other onto `target` in
/// memory. `repo` must keep written objects in memory (`with_object_memory`): the merged
/// trees and the chain's commits are never written to the object database.
pub fn merge_in_order(repo: &gix::Repository, target: &Target, branches: &[Branch]) -> anyhow::Result<Vec<OrderStep>> {
    let mut caches = MergeCaches::new(repo)?;
    caches.write_clean_trees = true;
    let mut head = target.commit;
    let mut failed: HashSet<&str> = HashSet::new();
    let mut steps = Vec::with_capacity(branches.len());
    for branch in branches {
        crate::interrupt::check("nothing was written")?;
        let mut step = OrderStep {
            task: branch.task.clone(),
            verdict: OrderVerdict::Applies,
            conflicts: Vec::new(),
            blocked_by: None,
            error: None,
        };
        if let Some(dep) = branch.after.iter().find(|dep| failed.contains(dep.as_str())) {
            step.verdict = OrderVerdict::Blocked;
            step.blocked_by = Some(dep.clone());
        } else {
            match merge_one(repo, &mut caches, head, target, branch) {
                Ok(Placed::Already) => step.verdict = OrderVerdict::AlreadyIn,
                Ok(Placed::Merged(commit)) => head = commit,
                Ok(Placed::Conflict(conflicts)) => {
                    step.verdict = OrderVerdict::Conflict;
                    step.conflicts = conflicts;
                }
                Ok(Placed::Unrelated) => step.verdict = OrderVerdict::Unrelated,
                Err(err) => {
                    step.verdict = OrderVerdict::Error;
                    step.error = Some(format!("{err:#}"));
                    // The caches may be half-updated.
                    caches = MergeCaches::new(repo)?;
                    caches.write_clean_trees = true;
                }
            }
        }
        if step.verdict.fails() {
            failed.insert(&branch.task);
        }
        steps.push(step);
    }
    Ok(steps)
}

enum Placed {
    Already,
    Merged(ObjectId),
    Conflict(Vec<ConflictPath>),
    Unrelated,
}

fn merge_one(
    repo: &gix::Repository,
    caches: &mut MergeCaches<'_>,
    head: ObjectId,
    target: &Target,
    branch: &Branch,
) -> anyhow::Result<Placed> {
    match crate::git::merge_base(repo, branch.head, head)? {
        None => return Ok(Placed::Unrelated),
        Some(base) if base == branch.head => return Ok(Placed::Already),
        Some(_) => {}
    }
    // gix has assertions a merge can trip: that fails this step, not the whole check.
    let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        caches.merge(repo, head, branch.head, &target.label, &branch.label, false)
    }))
    .map_err(|_| anyhow::anyhow!("the merge failed inside gix"))??;
    if !merged.conflicts.is_empty() {
        return Ok(Placed::Conflict(merged.conflicts));
    }
    let tree = merged.tree.ok_or_else(|| anyhow::anyhow!("a clean merge gave no tree"))?;
    // The chain's commits exist in memory only, so their identity is never seen: a fixed one
    // keeps the check independent of the user's configuration.
    let signature = gix::actor::Signature {
        name: "git-agent".into(),
        email: "git-agent@localhost".into(),
        time: gix::date::Time::new(0, 0),
    };
    let commit = gix::objs::Commit {
        tree,
        parents: [head, branch.head].into_iter().collect(),
        author: signature.clone(),
        committer: signature,
        encoding: None,
        message: format!("Merge task {}\n", branch.task).into(),
        extra_headers: Vec::new(),
    };
    Ok(Placed::Merged(repo.write_object(&commit)?.detach()))
}
