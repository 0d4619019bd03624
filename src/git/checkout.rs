//! Bringing a checked-out branch's worktree and index along when the branch moves, the way
//! git's `receive.denyCurrentBranch=updateInstead` does: worktree and index first, under
//! `index.lock`, then the ref; and back again if the ref cannot be moved.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bstr::ByteSlice;
use gix::ObjectId;

use crate::error::{race, refused};
use crate::git::*;

/// A worktree (with its index) brought from `before` to `after`; [`Followed::undo`] takes it
/// back when the ref could not be moved.
#[derive(Debug)]
pub struct Followed {
    worktree: PathBuf,
    index: PathBuf,
    before: ObjectId,
    after: ObjectId,
    /// The index as written for `after`: an undo only touches an index nobody changed since.
    written: Vec<u8>,
    /// The command that moved it, for the messages.
    command: &'static str,
}

/// Brings the worktree at `worktree`, where `branch` is checked out at `before`, to `after`,
/// files and index, as a fast-forward would. Everything is checked again here, under the
/// worktree's `index.lock`: the branch is still checked out there at `before`, nothing is
/// modified or untracked, and no file that is not tracked (ignored ones included: stricter
/// than git, on purpose) is where the new commit puts one. Refuses (exit 3) or reports a
/// held lock (exit 4) without changing anything.
pub fn follow(worktree: &Path, branch: &str, before: ObjectId, after: ObjectId) -> anyhow::Result<Followed> {
    follow_by(worktree, branch, before, after, INTEGRATE)
}

/// Which command moves the branch, for its messages: integrate lands, restack moves a task.
#[derive(Debug, Clone, Copy)]
pub struct Mover {
    pub command: &'static str,
    /// What did not happen when the worktree cannot follow.
    pub nothing_done: &'static str,
}

pub const INTEGRATE: Mover = Mover { command: "integrate", nothing_done: "nothing was landed" };
pub const RESTACK: Mover = Mover { command: "restack", nothing_done: "the branch was not moved" };

/// [`follow`], with the messages of `mover`.
pub fn follow_by(
    worktree: &Path,
    branch: &str,
    before: ObjectId,
    after: ObjectId,
    mover: Mover,
) -> anyhow::Result<Followed> {
    let Mover { command, nothing_done } = mover;
    let repo = open_worktree_for_status(worktree)?;
    let index = repo.index_path();
    let lock = lock_index(&index, worktree, command)?;
    let head = repo.head_name()?.map(|name| name.as_bstr().to_owned());
    if head.as_ref().map(|h| h.as_bstr()) != Some(branch.as_bytes().as_bstr()) {
        return Err(race(format!(
            "{nothing_done}: {branch} is no longer checked out in {}, as it was when the run started",
            worktree.display()
        ))
        .hint(format!("look at what changed, then run {command} again"))
        .into());
    }
    let now = repo.head_id()?.detach();
    if now != before {
        return Err(race(format!(
            "{nothing_done}: {branch} moved during the run, not by this run (now {}; checked out in {})",
            short_id(&now),
            worktree.display()
        ))
        .hint(format!("look at what changed, then run {command} again"))
        .into());
    }
    if has_changes(&repo)? {
        return Err(refused(format!(
            "{branch} is checked out in {} and has uncommitted changes or untracked files now (they appeared \
             during the run); {nothing_done}",
            worktree.display()
        ))
        .hint(format!("commit or stash them there, then run {command} again"))
        .into());
    }
    if let Some(path) = first_untracked_in_the_way(&repo, worktree, before, after)? {
        return Err(refused(format!(
            "{branch} is checked out in {} and the new commit would overwrite {}, which git does not track \
             (an ignored file?); {nothing_done}",
            worktree.display(),
            path.display()
        ))
        .hint(format!("move that file away, then run {command} again"))
        .into());
    }
    crate::pause::point("integrate-worktree-update");
    let written = two_tree_checkout(&repo, worktree, &index, before, after).map_err(|err| {
        refused(format!("{branch} is checked out in {}, which cannot follow: {err:#}", worktree.display()))
            .hint(format!("{nothing_done}; make the worktree clean, then run {command} again"))
    })?;
    commit_index(lock, &written)?;
    Ok(Followed { worktree: worktree.to_owned(), index, before, after, written, command })
}

impl Followed {
    /// Takes the worktree and index back to `before`, unless someone changed the index since
    /// (then it is left alone, and the error says so).
    pub fn undo(self) -> anyhow::Result<()> {
        let lock = lock_index(&self.index, &self.worktree, self.command)?;
        let now = std::fs::read(&self.index).with_context(|| format!("cannot read {}", self.index.display()))?;
        if now != self.written {
            anyhow::bail!("its index changed meanwhile, so it was left as it is");
        }
        let repo = open_worktree_for_status(&self.worktree)?;
        let written = two_tree_checkout(&repo, &self.worktree, &self.index, self.after, self.before)?;
        commit_index(lock, &written)
    }
}

fn lock_index(index: &Path, worktree: &Path, command: &str) -> anyhow::Result<gix::lock::File> {
    gix::lock::File::acquire_to_update_resource(index, gix::lock::acquire::Fail::Immediately, None, 0).map_err(|err| {
        race(format!(
            "cannot take {}.lock ({err}): another git process is working in {}",
            index.display(),
            worktree.display()
        ))
        .hint(format!("wait for it to finish and run {command} again; if none is running, remove that lock file"))
        .into()
    })
}

fn commit_index(mut lock: gix::lock::File, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    lock.write_all(bytes)?;
    lock.commit().map_err(|err| anyhow::anyhow!("cannot write the index: {}", err.error))?;
    Ok(())
}

/// `git read-tree -m -u <from> <to>` on a copy of the index (the real one is locked by us):
/// git's two-tree merge updates only the files that differ and refuses to overwrite a file
/// that does not match the index. Returns the new index's bytes.
fn two_tree_checkout(
    repo: &gix::Repository,
    worktree: &Path,
    index: &Path,
    from: ObjectId,
    to: ObjectId,
) -> anyhow::Result<Vec<u8>> {
    let scratch_index = repo.git_dir().join(crate::layout::LANDING_INDEX);
    match copy_keeping_mtime(index, &scratch_index) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(anyhow::anyhow!(err).context(format!("cannot copy {}", index.display()))),
    }
    // As updateInstead does: refresh first, so that a file that was only touched (an editor, a
    // formatter, a branch switch) counts as the clean file it is, not as "not uptodate".
    let refresh = crate::process::git(worktree, &["update-index", "-q", "--refresh"])
        .and_then(|git| git.env("GIT_INDEX_FILE", &scratch_index).run())
        .context("cannot run git update-index --refresh");
    // Its exit status says whether files differ; read-tree below decides whether that matters.
    if let Err(err) = refresh {
        let _ = std::fs::remove_file(&scratch_index);
        return Err(err);
    }
    let result = crate::process::git(worktree, &["read-tree", "-m", "-u", &from.to_string(), &to.to_string()])
        .and_then(|git| git.env("GIT_INDEX_FILE", &scratch_index).run())
        .context("cannot run git read-tree");
    let written = result.and_then(|outcome| {
        if !outcome.status.success() {
            anyhow::bail!("{}", outcome.output_tail_lossy().trim());
        }
        std::fs::read(&scratch_index).context("cannot read the new index")
    });
    let _ = std::fs::remove_file(&scratch_index);
    written
}

/// Copies the index with its modification time: git takes entries whose files changed in
/// the same second as the index was written as "racily clean" and compares their contents;
/// a copy dated now would make such a modified file look clean, and be overwritten.
fn copy_keeping_mtime(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::copy(from, to)?;
    let modified = std::fs::metadata(from)?.modified()?;
    std::fs::File::options().write(true).open(to)?.set_modified(modified)
}

/// The first path where the move from `before` to `after` would put a file and something
/// untracked (an ignored file, or a directory of them) is in the way.
fn first_untracked_in_the_way(
    repo: &gix::Repository,
    worktree: &Path,
    before: ObjectId,
    after: ObjectId,
) -> anyhow::Result<Option<PathBuf>> {
    let before_tree = repo.find_commit(before)?.tree()?;
    for path in changed_paths(repo, before, after)? {
        let relative = gix::path::from_bstr(path.as_bstr())?.into_owned();
        if before_tree.lookup_entry_by_path(&relative)?.is_some() {
            continue;
        }
        let full = worktree.join(&relative);
        match std::fs::symlink_metadata(&full) {
            Ok(_) => return Ok(Some(full)),
            // A file where the new commit has a directory: in the way unless git tracks it
            // (then the move replaces it).
            Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
                if let Some(file) = untracked_file_among_parents(&before_tree, worktree, &relative)? {
                    return Ok(Some(file));
                }
            }
            Err(_) => {}
        }
    }
    Ok(None)
}

/// The first parent directory of `relative` that is a file on disk and not tracked in `tree`.
fn untracked_file_among_parents(
    tree: &gix::Tree<'_>,
    worktree: &Path,
    relative: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    for parent in relative.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()) {
        let full = worktree.join(parent);
        if std::fs::symlink_metadata(&full).is_ok_and(|m| !m.is_dir()) {
            let tracked = tree.lookup_entry_by_path(parent)?.is_some();
            return Ok((!tracked).then_some(full));
        }
    }
    Ok(None)
}
