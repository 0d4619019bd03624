//! Objects and history: record commits, reachability, merge bases and tree diffs.

use bstr::BString;
use gix::ObjectId;

use crate::git::*;

/// Writes a commit holding `file` = `bytes` as its only entry, on top of `parent`.
pub fn write_file_commit(
    repo: &gix::Repository,
    file: &str,
    bytes: &[u8],
    parent: Option<ObjectId>,
    message: &str,
) -> anyhow::Result<ObjectId> {
    write_files_commit(repo, &[(file, bytes)], parent.into_iter().collect(), message)
}

/// Writes a commit on `parents` whose tree holds exactly `files` (name, contents), by
/// git-agent's own identity.
pub fn write_files_commit(
    repo: &gix::Repository,
    files: &[(&str, &[u8])],
    parents: Vec<ObjectId>,
    message: &str,
) -> anyhow::Result<ObjectId> {
    let mut editor = repo.edit_tree(ObjectId::empty_tree(repo.object_hash()))?;
    for (file, bytes) in files {
        let blob = repo.write_blob(bytes)?.detach();
        editor.upsert(*file, gix::objs::tree::EntryKind::Blob, blob)?;
    }
    let tree = editor.write()?.detach();
    write_commit(repo, tree, parents, message)
}

/// Writes a commit of `tree` on `parents`, by git-agent's own identity ([`signature`]): the
/// commits of records and snapshots, never the user's branches.
pub fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parents: Vec<ObjectId>,
    message: &str,
) -> anyhow::Result<ObjectId> {
    let sig = signature(repo)?;
    let commit = gix::objs::Commit {
        tree,
        parents: parents.into(),
        author: sig.clone(),
        committer: sig,
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    Ok(repo.write_object(&commit)?.detach())
}

/// Reads `file` from the tree of `commit`, refusing blobs larger than `limit` bytes.
pub fn read_file_from_commit(
    repo: &gix::Repository,
    commit: ObjectId,
    file: &str,
    limit: u64,
) -> Result<Vec<u8>, String> {
    let commit = repo.find_commit(commit).map_err(|_| "the record ref does not point to a commit".to_owned())?;
    let tree = commit.tree().map_err(|err| format!("the record commit has no readable tree: {err}"))?;
    let entry = tree.find_entry(file).ok_or_else(|| format!("the record commit has no {file}"))?;
    let id = entry.object_id();
    let size = repo.find_header(id).map_err(|err| format!("cannot read {file}: {err}"))?.size();
    if size > limit {
        return Err(format!("{file} is {size} bytes, larger than the limit of {limit}"));
    }
    Ok(repo.find_blob(id).map_err(|err| format!("cannot read {file}: {err}"))?.data.clone())
}

/// Number of commits reachable from `a` but not from `b` (`git rev-list --count b..a`).
pub fn count_only_in(repo: &gix::Repository, a: ObjectId, b: ObjectId) -> anyhow::Result<usize> {
    if a == b {
        return Ok(0);
    }
    let mut n = 0;
    for info in repo.rev_walk([a]).with_hidden([b]).all()? {
        info?;
        n += 1;
    }
    Ok(n)
}

/// Is `commit` reachable from any of `tips` (`git rev-list commit --not tips` is empty)? One
/// walk for all of them; tips that are not commits (a tag of a tree) keep no commit.
pub fn reachable_from(repo: &gix::Repository, commit: ObjectId, tips: &[ObjectId]) -> anyhow::Result<bool> {
    if tips.contains(&commit) {
        return Ok(true);
    }
    let commits =
        tips.iter().copied().filter(|tip| repo.find_header(*tip).is_ok_and(|h| h.kind() == gix::object::Kind::Commit));
    Ok(repo.rev_walk([commit]).with_hidden(commits).all()?.next().transpose()?.is_none())
}

/// The first merge commit reachable from `a` and not from `b`, if any.
pub fn merge_commit_only_in(repo: &gix::Repository, a: ObjectId, b: ObjectId) -> anyhow::Result<Option<ObjectId>> {
    for info in repo.rev_walk([a]).with_hidden([b]).all()? {
        let info = info?;
        if info.parent_ids.len() > 1 {
            return Ok(Some(info.id));
        }
    }
    Ok(None)
}

/// Every merge base of `a` and `b` (more than one in a criss-cross history), best first.
pub fn merge_bases(repo: &gix::Repository, a: ObjectId, b: ObjectId) -> anyhow::Result<Vec<ObjectId>> {
    if a == b {
        return Ok(vec![a]);
    }
    Ok(repo.merge_bases_many(a, &[b])?.into_iter().map(|id| id.detach()).collect())
}

pub fn merge_base(repo: &gix::Repository, a: ObjectId, b: ObjectId) -> anyhow::Result<Option<ObjectId>> {
    if a == b {
        return Ok(Some(a));
    }
    Ok(repo.merge_base(a, b)?.map(|id| id.detach()))
}

/// Paths of files that differ between the trees of two commits (no rename detection).
pub fn changed_paths(
    repo: &gix::Repository,
    old_commit: ObjectId,
    new_commit: ObjectId,
) -> anyhow::Result<Vec<BString>> {
    if old_commit == new_commit {
        return Ok(Vec::new());
    }
    let old = repo.find_commit(old_commit)?.tree()?;
    let new = repo.find_commit(new_commit)?.tree()?;
    let options = gix::diff::Options::default().with_rewrites(None);
    let changes = repo.diff_tree_to_tree(&old, &new, options)?;
    Ok(changes.into_iter().filter(|c| !c.entry_mode().is_tree()).map(|c| c.location().to_owned()).collect())
}

/// One file's lines added and removed between two commits (`binary`: not counted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct FileStat {
    pub path: crate::output::JsonPath,
    pub added: u64,
    pub removed: u64,
    pub binary: bool,
}

/// What `git diff --stat old new` counts, in memory: lines added and removed per changed file
/// (no rename detection). Blobs are compared as stored: no textconv or other configured
/// program runs.
pub fn diffstat(repo: &gix::Repository, old_commit: ObjectId, new_commit: ObjectId) -> anyhow::Result<Vec<FileStat>> {
    if old_commit == new_commit {
        return Ok(Vec::new());
    }
    let old = repo.find_commit(old_commit)?.tree()?;
    let new = repo.find_commit(new_commit)?.tree()?;
    let mut cache = repo.diff_resource_cache_for_tree_diff()?;
    let mut stats = Vec::new();
    old.changes()?
        .options(|options| {
            options.track_rewrites(None);
        })
        .for_each_to_obtain_tree(&new, |change| {
            if !change.entry_mode().is_tree() {
                let counts =
                    change.diff(&mut cache).ok().and_then(|mut platform| platform.line_counts().ok()).flatten();
                stats.push(FileStat {
                    path: crate::output::JsonPath(change.location().to_owned()),
                    added: counts.map_or(0, |c| u64::from(c.insertions)),
                    removed: counts.map_or(0, |c| u64::from(c.removals)),
                    binary: counts.is_none(),
                });
            }
            cache.clear_resource_cache_keep_allocation();
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
    Ok(stats)
}

/// Committer time of a commit, seconds since the epoch.
pub fn commit_time(repo: &gix::Repository, id: ObjectId) -> anyhow::Result<i64> {
    Ok(repo.find_commit(id)?.time()?.seconds)
}

/// Of `paths` (changed on `head` since `fork`), those the branch only inherited from one of
/// `dependency_tips`: the branch holds some of the dependency's commits beyond `fork` (it
/// merged the dependency, or was stacked on it), and its version of the path is exactly the
/// version it got from there (same mode and content, or deleted in both). A path the branch
/// changed again after inheriting it is its own change.
pub fn inherited_paths<'a>(
    repo: &gix::Repository,
    head: ObjectId,
    fork: ObjectId,
    dependency_tips: &[ObjectId],
    paths: impl Iterator<Item = &'a BString> + Clone,
) -> anyhow::Result<std::collections::BTreeSet<BString>> {
    let mut inherited = std::collections::BTreeSet::new();
    let head_tree = repo.find_commit(head)?.tree()?;
    for &tip in dependency_tips {
        // What the branch holds of the dependency: their merge base. Nothing beyond the fork
        // (the base is the fork or older) means nothing inherited.
        let Some(held) = merge_base(repo, head, tip)? else { continue };
        if merge_base(repo, held, fork)? == Some(held) {
            continue;
        }
        let held_tree = repo.find_commit(held)?.tree()?;
        for path in paths.clone() {
            if inherited.contains(path) {
                continue;
            }
            let entry = |tree: &gix::Tree<'_>| -> anyhow::Result<Option<(gix::objs::tree::EntryMode, ObjectId)>> {
                Ok(tree.lookup_entry(path.split(|&b| b == b'/'))?.map(|entry| (entry.mode(), entry.object_id())))
            };
            if entry(&head_tree)? == entry(&held_tree)? {
                inherited.insert(path.clone());
            }
        }
    }
    Ok(inherited)
}

/// The mode and object of `path` in `tree`, `None` when it has no such entry.
pub fn entry_at(tree: &gix::Tree<'_>, path: &[u8]) -> anyhow::Result<Option<(gix::objs::tree::EntryMode, ObjectId)>> {
    Ok(tree.lookup_entry(path.split(|&b| b == b'/'))?.map(|entry| (entry.mode(), entry.object_id())))
}

/// Paths of every file (not tree) in a commit's tree, `/`-separated.
pub fn tree_files(repo: &gix::Repository, commit: ObjectId) -> anyhow::Result<Vec<BString>> {
    let tree = repo.find_commit(commit)?.tree()?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse().breadthfirst(&mut recorder)?;
    Ok(recorder.records.into_iter().filter(|entry| !entry.mode.is_tree()).map(|entry| entry.filepath).collect())
}
