//! The one guarded path for every destructive action git-agent takes: deleting a task's
//! branch, record or archive refs, removing a worktree or its registration.
//!
//! A [`Guard`] holds the task's claim, so no other git-agent works on the task meanwhile. Each
//! action re-checks, at the moment it happens, what the decision to take it was based on, and
//! refuses when anything changed:
//! - a branch is deleted only if it is the task's own (`refs/heads/<prefix><task>`), is checked
//!   out in no worktree (the main one included), points where it was checked (compare-and-swap),
//!   and was created by `git agent spawn` for this task (its first reflog entry says so; a
//!   record alone proves nothing);
//! - a worktree is moved aside atomically first (same directory), checked there (the caller's
//!   `verify`: still clean, or archived), and only the entries that were there when it was
//!   checked are deleted; anything that appeared meanwhile is put back.
//!
//! Errors carry their exit code: refused (3) when nothing was changed, lost race (4) when the
//! state moved under the action and the action was undone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use gix::ObjectId;

use crate::error::{Fail, race, refused};
use crate::git::{PendingRefs, RegisteredHead, Registration};
use crate::lock::Lock;

/// The claim on one task, and the checks every destructive action on it goes through.
pub struct Guard<'repo> {
    repo: &'repo gix::Repository,
    task: String,
    branch: String,
    _claim: Lock,
}

impl<'repo> Guard<'repo> {
    /// Claims `task` (fails at once, naming the holder, if another git-agent holds it).
    pub fn claim(repo: &'repo gix::Repository, task: &str, prefix: &str, purpose: &str) -> anyhow::Result<Self> {
        let claim = crate::lock::claim_task(repo, task, purpose)?;
        Ok(Self::with_claim(repo, task, prefix, claim))
    }

    /// A guard for a claim already held (spawn holds its claim from the start).
    pub fn with_claim(repo: &'repo gix::Repository, task: &str, prefix: &str, claim: Lock) -> Self {
        Guard { repo, task: task.to_owned(), branch: task_branch(prefix, task), _claim: claim }
    }

    /// The only branch this guard ever deletes.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Why `name` must not be deleted, if anything: it is not the task's branch, it is checked
    /// out somewhere (except in `leaving`, a registration being removed with it), or git-agent
    /// did not create it (whether or not a record claims it).
    pub fn branch_refusal(
        &self,
        name: &str,
        has_record: bool,
        leaving: Option<&Path>,
    ) -> anyhow::Result<Option<String>> {
        if name != self.branch {
            return Ok(Some(format!("{name} is not the branch of task {} ({})", self.task, self.branch)));
        }
        if let Some(place) = checked_out_at(self.repo, name, leaving)? {
            return Ok(Some(format!("branch {} is checked out in {place}", short(name))));
        }
        // A record is no proof: it can be hand-made, fetched or planted. Only the branch's own
        // first reflog entry, written by spawn when it created the branch, is.
        if !created_by_spawn(self.repo, name, &self.task)? {
            let record = if has_record { "" } else { "has no task record and " };
            return Ok(Some(format!(
                "branch {} {record}was not created by git-agent spawn {} (its first reflog entry does not say so)",
                short(name),
                self.task
            )));
        }
        Ok(None)
    }

    /// Locks the deletion of the task's record (at `record`) and branch (at `tip`); each must
    /// still be where it was checked. Nothing is written until [`PendingRefs::commit`].
    pub fn lock_deletions(
        &self,
        record: Option<ObjectId>,
        tip: Option<ObjectId>,
        has_record: bool,
        leaving: Option<&Path>,
    ) -> anyhow::Result<PendingRefs<'repo>> {
        let record_ref = crate::layout::record_ref(&self.task);
        let mut refs: Vec<(&str, ObjectId)> = Vec::new();
        if let Some(record) = record {
            refs.push((record_ref.as_str(), record));
        }
        if let Some(tip) = tip {
            if let Some(why) = self.branch_refusal(&self.branch, has_record, leaving)? {
                return Err(refused(why).into());
            }
            refs.push((self.branch.as_str(), tip));
        }
        crate::git::pending_delete(self.repo, &refs)
    }

    /// Deletes the task's branch alone (compare-and-swap against `tip`), after the checks.
    pub fn delete_branch(&self, tip: ObjectId, has_record: bool) -> anyhow::Result<()> {
        self.lock_deletions(None, Some(tip), has_record, None)?.commit()
    }

    /// Deletes the task's record alone (compare-and-swap against `record`): spawn's undo.
    pub fn delete_record(&self, record: ObjectId) -> anyhow::Result<()> {
        self.lock_deletions(Some(record), None, true, None)?.commit()
    }

    /// Removes the registration of a worktree whose directory is gone, if the registration is
    /// still exactly as it was checked (same HEAD, still missing, lock state unchanged).
    pub fn remove_missing_registration(&self, checked: &Registration) -> anyhow::Result<()> {
        let now = self.current(checked)?;
        if !now.missing {
            return Err(race(format!("the worktree {} reappeared", display(&now.path))).into());
        }
        self.check_registration_is_the_tasks(&now)?;
        std::fs::remove_dir_all(&now.admin_dir)?;
        Ok(())
    }

    /// Removes the worktree of `checked` and its registration: moves the directory aside,
    /// runs `verify` on the moved directory (it fails to keep the worktree), and deletes only
    /// what was there when `verify` ran; if anything changed meanwhile, puts it back.
    /// `before_delete` runs between the check and the deletion. (prune takes its ref locks only
    /// after the deletion: a kill during it must leave no ref lock behind.)
    pub fn remove_worktree<T>(
        &self,
        checked: &Registration,
        verify: impl FnOnce(&Path) -> anyhow::Result<()>,
        before_delete: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let now = self.current(checked)?;
        self.check_registration_is_the_tasks(&now)?;
        let path = now.path.clone().ok_or_else(|| refused("the worktree registration names no directory"))?;
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            // A link: only the link goes, never what it points to.
            let result = before_delete()?;
            std::fs::remove_file(&path)?;
            std::fs::remove_dir_all(&now.admin_dir)?;
            return Ok(result);
        }
        if !crate::git::worktree_points_to(&path, &now.admin_dir) {
            return Err(refused(format!(
                "{} is not the worktree registered in {} (its .git file is missing or points elsewhere)",
                path.display(),
                now.admin_dir.display()
            ))
            .into());
        }
        let aside = crate::layout::prune_aside(&path);
        if std::fs::symlink_metadata(&aside).is_ok() {
            return Err(refused(format!("{} exists already; move it away", aside.display())).into());
        }
        std::fs::rename(&path, &aside)
            .map_err(|err| anyhow!(err).context(format!("cannot move {}", path.display())))?;
        crate::pause::point("prune-moved-aside");
        let put_back = |err: anyhow::Error| -> anyhow::Error {
            match std::fs::rename(&aside, &path) {
                Ok(()) => err,
                Err(back) => err.context(format!(
                    "and the worktree could not be moved back from {} to {}: {back}",
                    aside.display(),
                    path.display()
                )),
            }
        };
        let checked_entries = manifest(&aside, &now.admin_dir);
        if let Err(err) = verify(&aside) {
            return Err(put_back(err));
        }
        crate::pause::point("prune-before-delete");
        if manifest(&aside, &now.admin_dir) != checked_entries {
            return Err(put_back(
                race(format!("{} changed while it was being removed; it was put back", path.display()))
                    .hint("something is still writing in it; look again and retry")
                    .into(),
            ));
        }
        let result = before_delete().map_err(put_back)?;
        if !delete_exactly(&aside, &checked_entries) {
            return Err(put_back(
                race(format!(
                    "files appeared in {} while it was being deleted; they were kept and put back",
                    path.display()
                ))
                .into(),
            ));
        }
        std::fs::remove_dir_all(&now.admin_dir)?;
        Ok(result)
    }

    /// The registration as it is now; it must be as it was checked, and not the worktree this
    /// command runs in.
    fn current(&self, checked: &Registration) -> anyhow::Result<Registration> {
        if let Some(fail) = current_worktree_refusal(self.repo, checked) {
            return Err(fail.into());
        }
        let now = crate::git::registrations(self.repo)?
            .into_iter()
            .find(|r| r.admin_dir == checked.admin_dir)
            .ok_or_else(|| race(format!("the worktree registration {} went away", checked.admin_dir.display())))?;
        if now.head != checked.head || now.path != checked.path || now.locked != checked.locked {
            return Err(race(format!(
                "the worktree {} changed (HEAD, path or lock) since it was checked",
                display(&now.path)
            ))
            .into());
        }
        Ok(now)
    }

    /// A registration whose HEAD names a branch other than the task's is someone else's.
    fn check_registration_is_the_tasks(&self, registration: &Registration) -> Result<(), Fail> {
        match &registration.head {
            RegisteredHead::Branch(name) if name != &self.branch => Err(refused(format!(
                "the worktree {} has {} checked out, not the branch of task {}",
                display(&registration.path),
                short(name),
                self.task
            ))),
            _ => Ok(()),
        }
    }
}

/// Removes the registration of a worktree no task owns whose directory is gone, if it is still
/// exactly as it was checked (no task's claim covers it: the re-read is the guard).
pub fn remove_stray_registration(repo: &gix::Repository, checked: &Registration) -> anyhow::Result<()> {
    if let Some(fail) = current_worktree_refusal(repo, checked) {
        return Err(fail.into());
    }
    let now = crate::git::registrations(repo)?.into_iter().find(|r| r.admin_dir == checked.admin_dir);
    match now {
        Some(now) if now.missing && now.locked.is_none() && now.head == checked.head && now.path == checked.path => {
            std::fs::remove_dir_all(&now.admin_dir)?;
            Ok(())
        }
        _ => Err(race(format!("the worktree registration {} changed", checked.admin_dir.display())).into()),
    }
}

/// Why the worktree of `registration` must not be removed by this command, if it must not: it
/// is the worktree the command runs in (the repository was opened from it, so its state is
/// found through that registration's files) or it holds the current directory. git refuses
/// `git worktree remove` of the current worktree for the same reason.
pub fn current_worktree_refusal(repo: &gix::Repository, registration: &Registration) -> Option<Fail> {
    let admin = crate::git::normalise_path(&registration.admin_dir);
    let opened_from = crate::git::normalise_path(repo.git_dir()) == admin;
    let cwd_inside = registration.path.as_ref().is_some_and(|path| {
        std::env::current_dir()
            .is_ok_and(|cwd| crate::git::normalise_path(&cwd).starts_with(crate::git::normalise_path(path)))
    });
    if !opened_from && !cwd_inside {
        return None;
    }
    let main = crate::git::main_repo(repo).ok().and_then(|m| m.workdir().map(crate::git::normalise_path));
    let hint = match main {
        Some(main) => format!("run it from the main worktree, for example: git -C {} agent prune", main.display()),
        None => "run it from another directory, outside this worktree".to_owned(),
    };
    Some(
        refused(format!("{} is the worktree you are in; it is not removed from inside", display(&registration.path)))
            .hint(hint),
    )
}

/// `refs/heads/<prefix><task>`.
pub fn task_branch(prefix: &str, task: &str) -> String {
    format!("refs/heads/{prefix}{task}")
}

/// Was `name` created by `git agent spawn <task>` (or by sync, from a remote's copy of a task
/// branch)? Its oldest reflog entry says so.
pub fn created_by_spawn(repo: &gix::Repository, name: &str, task: &str) -> anyhow::Result<bool> {
    Ok(crate::git::first_reflog_message(repo, name)?.is_some_and(|m| {
        let m = m.trim();
        m == crate::layout::spawn_reflog_message(task) || m == crate::layout::sync_reflog_message(task)
    }))
}

/// Where `branch` is checked out (or being rebased or bisected): the main worktree or a linked
/// one, other than the registration `except`.
pub fn checked_out_at(repo: &gix::Repository, branch: &str, except: Option<&Path>) -> anyhow::Result<Option<String>> {
    let common = repo.common_dir();
    let main_names = |name: &str| {
        crate::git::read_head_file(&common.join("HEAD")) == RegisteredHead::Branch(name.to_owned())
            || ["rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START"].iter().any(|f| {
                std::fs::read_to_string(common.join(f)).is_ok_and(|s| {
                    let s = s.trim();
                    s == name || format!("refs/heads/{s}") == name
                })
            })
    };
    if main_names(branch) {
        let main = crate::git::main_repo(repo)?;
        let place = main.workdir().map_or_else(|| "the repository's HEAD".to_owned(), |p| p.display().to_string());
        return Ok(Some(place));
    }
    for registration in crate::git::registrations(repo)? {
        if except.is_some_and(|e| e == registration.admin_dir) {
            continue;
        }
        let on_head = registration.head == RegisteredHead::Branch(branch.to_owned());
        if on_head || registration.busy_branches.iter().any(|b| b == branch) {
            return Ok(Some(display(&registration.path)));
        }
    }
    Ok(None)
}

/// Puts back worktrees a killed prune left moved aside: a `.prune-<name>-<pid>-<start>` directory
/// beside a missing registered worktree, pointing to that registration, whose prune is gone.
/// Returns the paths restored.
pub fn restore_moved_aside(repo: &gix::Repository) -> anyhow::Result<Vec<PathBuf>> {
    let mut restored = Vec::new();
    for registration in crate::git::registrations(repo)? {
        let Some(path) = registration.path.as_ref().filter(|_| registration.missing) else { continue };
        let Some(parent) = path.parent() else { continue };
        let prefix = crate::layout::prune_aside_prefix(path);
        let Ok(entries) = std::fs::read_dir(parent) else { continue };
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some((pid, start)) = file_name.strip_prefix(&prefix).and_then(crate::layout::parse_pid_and_start)
            else {
                continue;
            };
            let alive = crate::process::process_may_be_alive(pid, start);
            if alive || !crate::git::worktree_points_to(&entry.path(), &registration.admin_dir) {
                continue;
            }
            if std::fs::rename(entry.path(), path).is_ok() {
                restored.push(path.clone());
            }
            break;
        }
    }
    Ok(restored)
}

/// One entry of a directory tree as found: type, size, change time and inode, enough to see
/// that anything was written, added or removed.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Stamp {
    kind: u8,
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    let kind = if meta.file_type().is_symlink() {
        2
    } else if meta.is_dir() {
        1
    } else {
        0
    };
    // A directory's own size and time change when entries come and go; the entries show that.
    let (len, modified) = if kind == 1 { (0, None) } else { (meta.len(), meta.modified().ok()) };
    Stamp { kind, len, modified, inode }
}

/// Every entry below `dir` (links not followed), plus the registration's index and HEAD,
/// which change when the agent stages or commits.
fn manifest(dir: &Path, admin_dir: &Path) -> BTreeMap<PathBuf, Stamp> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.insert(entry.path(), stamp(&meta));
        }
    }
    for file in ["index", "HEAD"] {
        if let Ok(meta) = admin_dir.join(file).symlink_metadata() {
            out.insert(admin_dir.join(file), stamp(&meta));
        }
    }
    out
}

/// Deletes the entries of `entries` below `dir` that are still as recorded, deepest first, and
/// `dir` itself; returns false if anything else was found (and kept).
fn delete_exactly(dir: &Path, entries: &BTreeMap<PathBuf, Stamp>) -> bool {
    let mut clean = true;
    let mut first = true;
    // The worktree's `.git` file goes last: until then, a half-deleted worktree (a late file
    // kept it, or the process was killed) still belongs to its registration, and the next
    // prune can check it, archive it and finish.
    let dot_git = dir.join(".git");
    let mut paths: Vec<&PathBuf> = entries.keys().filter(|p| p.starts_with(dir) && **p != dot_git).collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for path in paths {
        let recorded = &entries[path];
        let Ok(meta) = path.symlink_metadata() else { continue };
        if stamp(&meta) != *recorded {
            clean = false;
            continue;
        }
        let removed = if recorded.kind == 1 { std::fs::remove_dir(path) } else { std::fs::remove_file(path) };
        clean &= removed.is_ok();
        if first {
            // Half-way through the deletion: a test writes a late file here.
            crate::pause::point("prune-deleting");
            first = false;
        }
    }
    // Anything still there but `.git` appeared meanwhile: keep the worktree git's.
    let only_dot_git = std::fs::read_dir(dir).is_ok_and(|entries| entries.flatten().all(|e| e.path() == dot_git));
    if !clean || !only_dot_git {
        return false;
    }
    if let Some(recorded) = entries.get(&dot_git)
        && dot_git.symlink_metadata().is_ok_and(|meta| stamp(&meta) == *recorded)
        && std::fs::remove_file(&dot_git).is_err()
    {
        return false;
    }
    std::fs::remove_dir(dir).is_ok()
}

/// Deletes one archive's refs (`refs/agent/archive/...`, as listed: name and commit), all or
/// none, each only if it still points where it was listed.
pub fn drop_archive_refs(repo: &gix::Repository, refs: &[(String, ObjectId)]) -> anyhow::Result<()> {
    if let Some((name, _)) = refs.iter().find(|(name, _)| !name.starts_with(crate::layout::ARCHIVE_PREFIX)) {
        return Err(refused(format!("{name} is not an archive ref")).into());
    }
    let edits =
        refs.iter().map(|(name, old)| crate::git::cas_delete_edit(name, *old)).collect::<anyhow::Result<Vec<_>>>()?;
    crate::git::apply_transaction(repo, edits)
}

/// The default worktree root (`<main worktree>.agents`) is git-agent's own folder: once the
/// last worktree in it is gone, it goes too, instead of lingering empty beside the repository.
/// A configured `agent.worktreeRoot` is the user's and stays; a root with anything in it stays.
pub fn remove_default_root_if_empty(repo: &gix::Repository, root: &Path) {
    let is_default = crate::layout::worktree_root(repo, None).is_ok_and(|default| default == root);
    if is_default {
        // Fails, harmlessly, unless the folder is empty.
        let _ = std::fs::remove_dir(root);
    }
}

fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

fn display(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or_else(|| "(unknown path)".to_owned(), |p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_exactly_what_was_recorded_and_keeps_what_appeared() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("wt");
        std::fs::create_dir_all(top.join("sub")).unwrap();
        std::fs::write(top.join("sub/a"), "a").unwrap();
        std::fs::write(top.join("b"), "b").unwrap();
        let recorded = manifest(&top, dir.path());
        std::fs::write(top.join("sub/late"), "late").unwrap();
        assert!(!delete_exactly(&top, &recorded));
        assert_eq!(std::fs::read_to_string(top.join("sub/late")).unwrap(), "late");
        assert!(!top.join("b").exists());

        let recorded = manifest(&top, dir.path());
        assert!(delete_exactly(&top, &recorded));
        assert!(!top.exists());
    }
}
