//! Stacked dependencies: where a task with dependencies starts (`spawn --after`) or is moved
//! to (`restack`), so that its agent builds on its dependencies' work instead of merging it
//! by hand.
//!
//! The rule, for spawn and restack alike: the dependencies that matter are those with commits
//! the base lacks, less any whose tip another of them holds already (a dependency stacked on
//! the other). None: the task starts at the base. One: at its tip. Several: at a merge of
//! their tips, made in memory by the project's one merge engine; if they conflict, there is
//! no such start, and the caller refuses (spawn) or reports the conflict (restack).

use anyhow::Context as _;
use gix::ObjectId;

use crate::conflicts::{ConflictPath, MergeCaches};

/// A dependency and its branch tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepTip {
    pub task: String,
    /// The branch name without `refs/heads/`, as merges label it (`agent/db`).
    pub label: String,
    pub tip: ObjectId,
}

/// Where a task's own commits start.
#[derive(Debug, Clone)]
pub enum Start {
    /// On these dependencies' work: `commit` is the one tip, or the merge of the tips.
    On { deps: Vec<DepTip>, commit: ObjectId },
    /// The dependencies' tips conflict with each other: there is no commit holding them all.
    Conflict { deps: Vec<DepTip>, conflicts: Vec<ConflictPath> },
}

/// `a` is `b` or an ancestor of it.
pub fn is_ancestor(repo: &gix::Repository, a: ObjectId, b: ObjectId) -> anyhow::Result<bool> {
    Ok(crate::git::merge_base(repo, a, b)? == Some(a))
}

/// Of `deps`, those whose work a task starting at `base` would lack: tips that are not in
/// `base`, without the ones another dependency's tip holds (in `deps` order, no repeats).
pub fn needed(repo: &gix::Repository, base: ObjectId, deps: &[DepTip]) -> anyhow::Result<Vec<DepTip>> {
    let mut with_work: Vec<DepTip> = Vec::new();
    for dep in deps {
        if with_work.iter().any(|d| d.tip == dep.tip) || is_ancestor(repo, dep.tip, base)? {
            continue;
        }
        with_work.push(dep.clone());
    }
    let mut needed = Vec::new();
    for dep in &with_work {
        let mut held = false;
        for other in with_work.iter().filter(|other| other.tip != dep.tip) {
            if is_ancestor(repo, dep.tip, other.tip)? {
                held = true;
                break;
            }
        }
        if !held {
            needed.push(dep.clone());
        }
    }
    Ok(needed)
}

/// The commit holding the work of every one of `deps` (as [`needed`] returns them, at least
/// one): the one tip, or a new merge commit whose parents are the tips, by `signature`, for
/// `task`. Objects are written to `repo`: give a repository keeping objects in memory for a
/// check that must write nothing.
pub fn start(
    repo: &gix::Repository,
    deps: Vec<DepTip>,
    signature: &gix::actor::Signature,
    task: &str,
) -> anyhow::Result<Start> {
    let Some((first, rest)) = deps.split_first() else {
        anyhow::bail!("no dependency to stack on");
    };
    if rest.is_empty() {
        let commit = first.tip;
        return Ok(Start::On { deps, commit });
    }
    let mut caches = MergeCaches::new(repo)?;
    caches.write_clean_trees = true;
    let (mut current, mut label, mut tree) = (first.tip, first.label.clone(), None);
    for dep in rest {
        // Each tip is merged onto the merge of the ones before, as `git merge A B C` would
        // (an octopus merge is a series of two-way merges).
        let merged = caches.merge(repo, current, dep.tip, &label, &dep.label, false)?;
        if !merged.conflicts.is_empty() {
            return Ok(Start::Conflict { deps, conflicts: merged.conflicts });
        }
        let merged_tree = merged.tree.context("a clean merge gave no tree")?;
        // An intermediate commit, only to find the next merge base from: never referenced.
        current = write_commit(repo, merged_tree, vec![current, dep.tip], signature, "intermediate stack merge\n")?;
        label = format!("{label}+{}", dep.label);
        tree = Some(merged_tree);
    }
    let labels: Vec<&str> = deps.iter().map(|d| d.label.as_str()).collect();
    let message = format!("Stack task {task} on {}\n", labels.join(", "));
    let parents = deps.iter().map(|d| d.tip).collect();
    let commit = write_commit(repo, tree.expect("two or more tips merged"), parents, signature, &message)?;
    Ok(Start::On { deps, commit })
}

fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parents: Vec<ObjectId>,
    signature: &gix::actor::Signature,
    message: &str,
) -> anyhow::Result<ObjectId> {
    let commit = gix::objs::Commit {
        tree,
        parents: parents.into(),
        author: signature.clone(),
        committer: signature.clone(),
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    Ok(repo.write_object(&commit)?.detach())
}

/// The current tips of the dependencies `after` whose branches exist, in that order. Records
/// that cannot be read and missing branches are left out: they have no work to stack on.
pub fn dependency_tips(
    repo: &gix::Repository,
    after: &[String],
    entries: &[crate::state::TaskEntry],
) -> anyhow::Result<Vec<DepTip>> {
    let mut tips = Vec::new();
    for dep in after {
        let Some(Ok(dep_record)) = entries.iter().find(|e| &e.name == dep).map(|e| e.record.as_ref()) else {
            continue;
        };
        if let Some(tip) = crate::git::ref_target(repo, &dep_record.branch)? {
            tips.push(DepTip { task: dep.clone(), label: dep_record.short_branch().to_owned(), tip });
        }
    }
    Ok(tips)
}

/// Would `git agent restack` change something for this stacked task: is some dependency's work
/// (beyond the task's base) missing from its branch tip `head`?
pub fn dependency_moved(
    repo: &gix::Repository,
    record: &crate::state::TaskRecord,
    head: ObjectId,
    deps: &[DepTip],
) -> anyhow::Result<bool> {
    if record.stack.is_none() {
        return Ok(false);
    }
    let Some(base) = ObjectId::from_hex(record.base_commit.as_bytes()).ok().filter(|id| repo.has_object(id)) else {
        return Ok(false);
    };
    for dep in needed(repo, base, deps)? {
        if !is_ancestor(repo, dep.tip, head)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a task's branch changed itself.
#[derive(Debug, Clone)]
pub struct OwnChanges {
    /// The branch's merge base with the target (its base commit when there is none).
    pub merge_base: ObjectId,
    pub head: ObjectId,
    /// The files changed since `merge_base`, less those only inherited from dependencies.
    pub paths: Vec<bstr::BString>,
    /// The dependencies' tips the branch holds: what they hold is inherited, not its own.
    pub inherited_tips: Vec<ObjectId>,
}

/// What a task's branch changed itself: the files changed between its merge base with
/// `target` and `head`, less those it only inherited from its dependencies (their work, not
/// its own: never outside its scope, never its hazard).
pub fn own_changed_paths(
    repo: &gix::Repository,
    record: &crate::state::TaskRecord,
    entries: &[crate::state::TaskEntry],
    head: ObjectId,
    target: ObjectId,
) -> anyhow::Result<OwnChanges> {
    let base_commit = ObjectId::from_hex(record.base_commit.as_bytes())
        .map_err(|_| anyhow::anyhow!("the record's base commit is not an object id"))?;
    let dependencies = dependency_tips(repo, &record.after, entries)?;
    let mut tips: Vec<ObjectId> = dependencies.iter().map(|dep| dep.tip).collect();
    tips.extend(record.stacked_tips().into_iter().filter(|tip| repo.has_object(tip)));
    let merge_base = crate::git::merge_base(repo, head, target)?.unwrap_or(base_commit);
    let mut paths = crate::git::changed_paths(repo, merge_base, head)?;
    if !tips.is_empty() {
        let inherited = crate::git::inherited_paths(repo, head, merge_base, &tips, paths.iter())?;
        paths.retain(|path| !inherited.contains(path));
    }
    Ok(OwnChanges { merge_base, head, paths, inherited_tips: tips })
}
