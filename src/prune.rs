//! Cleanup that cannot lose work: what `git agent-prune` checks before it removes a task's
//! worktree, branch and record, and how `--force` archives first.
//!
//! Every removal re-checks at the moment it happens: the worktree is removed by gix only if
//! it is still clean, the branch and the record are deleted by compare-and-swap against the
//! values that were checked. An agent committing, or a spawn of the same task, in between
//! makes the removal fail; nothing is lost.

use std::path::{Path, PathBuf};

use bstr::{BString, ByteSlice};
use gix::ObjectId;
use serde::Serialize;

use crate::output::JsonPath;
use crate::state::TaskRecord;

/// A task's worktree as git has it registered.
pub struct Registration {
    /// The registered path (from `.git/worktrees/<id>/gitdir`).
    pub path: PathBuf,
    /// `.git/worktrees/<id>`.
    pub admin_dir: PathBuf,
    pub locked: Option<String>,
    pub missing: bool,
}

/// What was found about one task, before anything is removed.
#[derive(Debug, Default, Serialize)]
pub struct Check {
    pub task: String,
    /// Why the task cannot be pruned without --force.
    pub refusals: Vec<String>,
    /// Why it cannot be pruned even with --force (nothing could archive it).
    #[serde(skip)]
    pub hard_refusal: bool,
    /// Ignored files in the worktree that spawn did not copy in (lost on removal).
    pub ignored: Vec<JsonPath>,
    /// Commits on the branch that the target does not have.
    pub unmerged_commits: usize,
    pub worktree_missing: bool,
    #[serde(skip)]
    pub tip: Option<ObjectId>,
    #[serde(skip)]
    pub detached_head: Option<ObjectId>,
    #[serde(skip)]
    pub dirty: bool,
}

/// Finds the registration of the worktree at `path` (compared after resolving symlinks).
pub fn registration(repo: &gix::Repository, path: &Path) -> anyhow::Result<Option<Registration>> {
    let wanted = crate::git::normalise_path(path);
    for proxy in repo.worktrees()? {
        let Ok(base) = proxy.base() else { continue };
        if crate::git::normalise_path(&base) == wanted || base == path {
            return Ok(Some(Registration {
                missing: !base.exists(),
                locked: proxy.is_locked().then(|| proxy.lock_reason().map(|r| r.to_string()).unwrap_or_default()),
                admin_dir: proxy.git_dir().to_owned(),
                path: base,
            }));
        }
    }
    Ok(None)
}

/// Checks everything that could make pruning `record` lose work. `target` is what "merged"
/// means; `root` is the worktree root, out of which nothing is ever followed.
pub fn check(
    repo: &gix::Repository,
    record: &TaskRecord,
    target: ObjectId,
    root: &Path,
    copy_patterns: &[String],
) -> anyhow::Result<Check> {
    let mut check = Check { task: record.name.clone(), ..Default::default() };
    check.tip = crate::git::ref_target(repo, &record.branch)?;
    if let Some(tip) = check.tip {
        check.unmerged_commits = crate::git::count_only_in(repo, tip, target)?;
        if check.unmerged_commits > 0 {
            check.refusals.push(format!(
                "branch {} has {} commit(s) that are not in the target",
                record.short_branch(),
                check.unmerged_commits
            ));
        }
    }
    let worktree = &record.worktree;
    let registration = registration(repo, worktree)?;
    check.worktree_missing = !worktree.exists() && registration.as_ref().is_none_or(|r| r.missing);
    if check.worktree_missing {
        return Ok(check);
    }
    // Never follow a link out of the worktree root, and never act on a path that is not where
    // git says the worktree is.
    let real = std::fs::canonicalize(worktree).ok();
    let root = crate::git::normalise_path(root);
    if std::fs::symlink_metadata(worktree).is_ok_and(|m| m.file_type().is_symlink())
        || real.as_ref().is_some_and(|real| !real.starts_with(&root))
    {
        check.refusals.push(format!(
            "{} is a link or leads out of the worktree root {}",
            worktree.display(),
            root.display()
        ));
        return Ok(check);
    }
    match &registration {
        None => {
            check.refusals.push(format!("{} is not a registered worktree of this repository", worktree.display()));
            check.hard_refusal = true;
            return Ok(check);
        }
        Some(r) if crate::git::normalise_path(&r.path) != real.clone().unwrap_or_default() => {
            check.refusals.push(format!(
                "the registered path {} and the real path {} disagree",
                r.path.display(),
                real.unwrap_or_default().display()
            ));
            check.hard_refusal = true;
            return Ok(check);
        }
        Some(r) => {
            if let Some(reason) = &r.locked {
                check.refusals.push(format!("the worktree is locked{}", reason_text(reason)));
            }
        }
    }
    let wt = crate::git::open_worktree_for_status(worktree)?;
    if let Some(state) = wt.state() {
        check.refusals.push(format!("a {} is in progress in the worktree", in_progress_name(&state)));
    }
    if crate::git::has_changes(&wt)? {
        check.dirty = true;
        check.refusals.push("the worktree has uncommitted changes or untracked files".into());
    }
    if crate::git::head_branch(&wt)?.is_none() {
        let head = wt.head_id()?.detach();
        if !reachable_from_any_branch(repo, head, target)? {
            check.detached_head = Some(head);
            check
                .refusals
                .push(format!("HEAD is detached at {} with commits on no branch", crate::git::short_id(&head)));
        }
    }
    if let Some(nested) = nested_repository(worktree)? {
        // Its commits live outside this repository: --force could not archive them.
        check.refusals.push(format!(
            "it holds a nested repository or initialised submodule at {} (move it out first; --force cannot archive it)",
            nested.display()
        ));
        check.hard_refusal = true;
    }
    check.ignored = ignored_not_copied(&wt, copy_patterns)?;
    Ok(check)
}

fn reason_text(reason: &str) -> String {
    if reason.trim().is_empty() { String::new() } else { format!(" ({})", reason.trim()) }
}

fn in_progress_name(state: &gix::state::InProgress) -> &'static str {
    use gix::state::InProgress::*;
    match state {
        Merge => "merge",
        Rebase | RebaseInteractive | ApplyMailboxRebase => "rebase",
        CherryPick | CherryPickSequence => "cherry-pick",
        Bisect => "bisect",
        Revert | RevertSequence => "revert",
        ApplyMailbox => "git am",
    }
}

/// Is `commit` in the target or on some local branch?
fn reachable_from_any_branch(repo: &gix::Repository, commit: ObjectId, target: ObjectId) -> anyhow::Result<bool> {
    if crate::git::merge_base(repo, commit, target)? == Some(commit) {
        return Ok(true);
    }
    for branch in repo.references()?.local_branches()? {
        let Ok(mut branch) = branch else { continue };
        let Ok(tip) = branch.peel_to_id() else { continue };
        if crate::git::merge_base(repo, commit, tip.detach())? == Some(commit) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The first `.git` below the worktree's top (a submodule or another repository), if any.
/// Links are not followed.
fn nested_repository(worktree: &Path) -> anyhow::Result<Option<PathBuf>> {
    let mut stack = vec![worktree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if entry.file_name() == ".git" {
                if dir != worktree {
                    return Ok(Some(path));
                }
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
            }
        }
    }
    Ok(None)
}

/// Ignored files and directories in the worktree other than those matching `agent.copy`:
/// build output is fine to lose, hand-made notes are not, so they are shown.
fn ignored_not_copied(wt: &gix::Repository, copy_patterns: &[String]) -> anyhow::Result<Vec<JsonPath>> {
    use gix::dir::walk::EmissionMode;
    let index = wt.index_or_empty()?;
    let options = wt
        .dirwalk_options()?
        .emit_ignored(Some(EmissionMode::CollapseDirectory))
        .emit_untracked(EmissionMode::Matching);
    let patterns: Vec<BString> = vec![":/".into()];
    let mut found = Vec::new();
    for item in wt.dirwalk_iter(index, patterns, Default::default(), options)? {
        let item = item?;
        if !matches!(item.entry.status, gix::dir::entry::Status::Ignored(_)) {
            continue;
        }
        let path = item.entry.rela_path;
        if copy_patterns.iter().any(|p| copied_by(p, path.as_bstr())) {
            continue;
        }
        found.push(JsonPath(path));
    }
    found.sort();
    Ok(found)
}

/// Does the `agent.copy` pattern match `path` (as spawn's top-anchored pathspec would)?
fn copied_by(pattern: &str, path: &bstr::BStr) -> bool {
    crate::scope::contains(&[pattern.trim_start_matches(":/").to_owned()], path)
}

/// What `--force` saved, as refs under `refs/agent/archive/<task>/<stamp>/`.
#[derive(Debug, Serialize, Default)]
pub struct Archive {
    pub refs: Vec<(String, String)>,
}

/// Saves whatever pruning would lose: the branch tip, a detached HEAD, and a snapshot commit
/// of the uncommitted changes and untracked files; plus the record itself.
pub fn archive(
    repo: &gix::Repository,
    record: &TaskRecord,
    record_commit: ObjectId,
    check: &Check,
) -> anyhow::Result<Archive> {
    let stamp = crate::state::now_ms();
    let prefix = crate::layout::archive_prefix(&record.name, stamp);
    let mut refs: Vec<(String, ObjectId)> = vec![(format!("{prefix}/record"), record_commit)];
    if let Some(tip) = check.tip {
        refs.push((format!("{prefix}/branch"), tip));
    }
    if let Some(head) = check.detached_head {
        refs.push((format!("{prefix}/head"), head));
    }
    if check.dirty
        && let Some(snapshot) = crate::git::snapshot_worktree(repo, &record.worktree)?
    {
        refs.push((format!("{prefix}/worktree"), snapshot));
    }
    let edits: Vec<(&str, ObjectId)> = refs.iter().map(|(name, id)| (name.as_str(), *id)).collect();
    crate::git::create_refs(repo, &edits, &format!("git-agent: archive {}", record.name))?;
    Ok(Archive { refs: refs.into_iter().map(|(name, id)| (name, id.to_string())).collect() })
}

/// Removes the worktree's registration when its directory is gone (what `git worktree prune`
/// does for one entry; gix has no API for it).
pub fn remove_stale_registration(registration: &Registration) -> anyhow::Result<()> {
    if registration.missing && registration.locked.is_none() {
        std::fs::remove_dir_all(&registration.admin_dir)?;
    }
    Ok(())
}
