//! All git access: gix in-process for objects, refs (compare-and-swap), worktrees and status,
//! and the one place that starts child processes with a clean git environment.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, anyhow};
use bstr::{BString, ByteSlice};
use gix::ObjectId;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};

use crate::error::{Fail, bad_input, race, refused};

/// Opens the repository containing `dir` (or the current directory), like `git -C dir`,
/// and refuses repositories that git-agent cannot serve safely.
pub fn open(dir: Option<&Path>) -> anyhow::Result<gix::Repository> {
    let dir = dir.unwrap_or(Path::new("."));
    let repo = gix::discover(dir).map_err(|err| {
        // The last cause says what is wrong (for example "Object format is not enabled in this build").
        let cause = err.iter_errors().last().map(|e| e.to_string()).unwrap_or_else(|| err.to_string());
        if err.is_unsupported() || cause.contains("Object format") {
            refused(format!("git-agent cannot work with the repository at {}: {cause}", dir.display()))
                .hint("git-agent supports SHA-1 repositories with the \"files\" ref storage")
        } else {
            refused(format!("not in a git repository: {} ({cause})", dir.display()))
                .hint("run the command inside a repository, or point -C at one")
        }
    })?;
    check_supported(&repo)?;
    if repo.committer().is_none() {
        // Reflogs need an identity; like git, fall back to one instead of failing on a fresh
        // machine without user.name. Given as open options (not the user's configuration), so
        // that repositories gix derives from this one, like a new worktree's, keep it.
        let options =
            gix::open::Options::default().config_overrides(["user.name=git-agent", "user.email=git-agent@localhost"]);
        let workdir_or_git_dir = repo.workdir().unwrap_or(repo.git_dir()).to_owned();
        return Ok(gix::open_opts(workdir_or_git_dir, options)?);
    }
    Ok(repo)
}

/// Refuses reftable ref storage (gix cannot write it) and non-SHA-1 object formats.
pub fn check_supported(repo: &gix::Repository) -> Result<(), Fail> {
    if let Some(storage) = repo.config_snapshot().string("extensions.refStorage")
        && storage != "files"
    {
        return Err(refused(format!(
            "this repository stores refs as {storage:?}; git-agent supports only the \"files\" ref storage"
        ))
        .hint("convert it with `git refs migrate --ref-format=files`"));
    }
    if repo.object_hash() != gix::hash::Kind::Sha1 {
        return Err(refused(format!(
            "this repository uses {:?} object names; git-agent supports only SHA-1 repositories",
            repo.object_hash()
        )));
    }
    Ok(())
}

/// The repository of the main worktree (or the bare repository), from any of its worktrees.
pub fn main_repo(repo: &gix::Repository) -> anyhow::Result<gix::Repository> {
    repo.main_repo().context("cannot open the main repository")
}

pub fn full_name(name: &str) -> anyhow::Result<FullName> {
    FullName::try_from(name).map_err(|err| anyhow!(bad_input(format!("{name:?} is not a valid ref name: {err}"))))
}

/// Resolves a user-supplied revision to a commit. Never passes it on as an option.
pub fn resolve_commit(repo: &gix::Repository, rev: &str) -> anyhow::Result<ObjectId> {
    if rev.starts_with('-') || rev.is_empty() {
        return Err(bad_input(format!("{rev:?} is not a revision")).into());
    }
    let id = repo.rev_parse_single(rev).map_err(|_| {
        bad_input(format!("revision {rev:?} not found")).hint("name a branch, tag or commit that exists")
    })?;
    let commit = id
        .object()
        .and_then(|object| object.peel_to_commit())
        .map_err(|_| bad_input(format!("revision {rev:?} does not name a commit")))?;
    Ok(commit.id)
}

/// If `rev` names a local branch, its full ref name (`refs/heads/<rev>`).
pub fn local_branch(repo: &gix::Repository, rev: &str) -> Option<FullName> {
    let name = rev.strip_prefix("refs/heads/").unwrap_or(rev);
    let full = FullName::try_from(format!("refs/heads/{name}")).ok()?;
    repo.try_find_reference(full.as_ref()).ok().flatten().map(|_| full)
}

/// The commit a ref points to, if the ref exists.
pub fn ref_target(repo: &gix::Repository, name: &str) -> anyhow::Result<Option<ObjectId>> {
    let Some(mut reference) = repo.try_find_reference(name).with_context(|| format!("cannot read ref {name}"))? else {
        return Ok(None);
    };
    Ok(Some(reference.peel_to_id().with_context(|| format!("cannot resolve ref {name}"))?.detach()))
}

fn log(message: &str) -> LogChange {
    LogChange { mode: RefLog::AndReference, force_create_reflog: true, message: message.into() }
}

/// Creates all `refs` in one transaction, each only if it does not exist yet.
pub fn create_refs(repo: &gix::Repository, refs: &[(&str, ObjectId)], message: &str) -> anyhow::Result<()> {
    let edits = refs
        .iter()
        .map(|(name, id)| {
            Ok(RefEdit::new(
                full_name(name)?,
                Change::Update { log: log(message), expected: PreviousValue::MustNotExist, new: Target::Object(*id) },
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let applied = apply_edits(repo, edits, "create")?;
    // gix accepts "must not exist" when the ref exists with the very value we write: two
    // spawns of one task both "create" the branch at the base. The applied edit tells.
    if let Some(edit) = applied
        .iter()
        .find(|edit| matches!(&edit.change, Change::Update { expected: PreviousValue::MustExistAndMatch(_), .. }))
    {
        return Err(race(format!("cannot create {}: it exists already", edit.name)).into());
    }
    Ok(())
}

/// Moves `name` from `old` to `new`, only if it still points at `old`.
pub fn update_ref(
    repo: &gix::Repository,
    name: &str,
    old: ObjectId,
    new: ObjectId,
    message: &str,
) -> anyhow::Result<()> {
    let edit = RefEdit::new(
        full_name(name)?,
        Change::Update {
            log: log(message),
            expected: PreviousValue::MustExistAndMatch(Target::Object(old)),
            new: Target::Object(new),
        },
    );
    apply_edits(repo, vec![edit], "update")?;
    Ok(())
}

/// Deletes `name`, only if it still points at `old`.
pub fn delete_ref(repo: &gix::Repository, name: &str, old: ObjectId) -> anyhow::Result<()> {
    let edit = RefEdit::new(
        full_name(name)?,
        Change::Delete { expected: PreviousValue::MustExistAndMatch(Target::Object(old)), log: RefLog::AndReference },
    );
    apply_edits(repo, vec![edit], "delete")?;
    Ok(())
}

/// Applies ref edits with git-agent's identity in the reflog: gix refuses to write a reflog
/// without a committer, and a fresh machine may have no `user.name` configured.
fn apply_edits(repo: &gix::Repository, edits: Vec<RefEdit>, action: &str) -> anyhow::Result<Vec<RefEdit>> {
    let committer = signature(repo)?;
    let mut time = Default::default();
    repo.edit_references_as(edits, Some(committer.to_ref(&mut time))).map_err(|err| ref_error(err, action))
}

/// Turns a failed ref transaction into an error with the right exit code: a ref that exists
/// already or moved meanwhile is refused; a held lock is a lost race.
fn ref_error(err: gix::Error, action: &str) -> anyhow::Error {
    use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
    let detail = format!("{err:?}");
    let fail = if let Some(e) = err.downcast_any_ref::<MustNotExist>() {
        race(format!("cannot {action} {}: it exists already (at {})", e.full_name, e.actual))
    } else if let Some(e) = err.downcast_any_ref::<ReferenceOutOfDate>() {
        race(format!("cannot {action} {}: it was changed concurrently (now {})", e.full_name, e.actual))
            .hint("another git-agent or git command changed it; look again and retry")
    } else if err.is_retryable() {
        race(format!("cannot {action} a ref: it is locked by another process"))
            .hint("another git command holds the lock; retry when it has finished")
    } else if err.is_not_found() {
        race(format!("cannot {action} a ref: it was deleted concurrently"))
    } else {
        return anyhow!(err).context(format!("cannot {action} a ref"));
    };
    anyhow!(fail).context(detail)
}

/// The identity for commits git-agent writes itself: the configured committer, else a fixed one.
pub fn signature(repo: &gix::Repository) -> anyhow::Result<gix::actor::Signature> {
    Ok(match repo.committer() {
        Some(sig) => sig.context("invalid committer identity")?.to_owned().context("invalid committer identity")?,
        None => gix::actor::Signature {
            name: "git-agent".into(),
            email: "git-agent@localhost".into(),
            time: gix::date::Time::now_local_or_utc(),
        },
    })
}

/// Writes a commit holding `file` = `bytes` as its only entry, on top of `parent`.
pub fn write_file_commit(
    repo: &gix::Repository,
    file: &str,
    bytes: &[u8],
    parent: Option<ObjectId>,
    message: &str,
) -> anyhow::Result<ObjectId> {
    let blob = repo.write_blob(bytes)?.detach();
    let mut editor = repo.edit_tree(ObjectId::empty_tree(repo.object_hash()))?;
    editor.upsert(file, gix::objs::tree::EntryKind::Blob, blob)?;
    let tree = editor.write()?.detach();
    let sig = signature(repo)?;
    let commit = gix::objs::Commit {
        tree,
        parents: parent.into_iter().collect(),
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

/// Committer time of a commit, seconds since the epoch.
pub fn commit_time(repo: &gix::Repository, id: ObjectId) -> anyhow::Result<i64> {
    Ok(repo.find_commit(id)?.time()?.seconds)
}

/// Opens the worktree at `path` for a read-only status check, tuned for speed:
/// - the index checksum is not verified (`index.skipHash`): hashing the whole index with
///   SHA-1DC cost a fifth of `git agent list`, and a damaged index still fails to parse;
/// - file times are compared to the nanosecond (`gitoxide.core.useNsec`, git's USE_NSEC):
///   in a worktree checked out within the second its index was written, every entry is
///   "racily clean" at second resolution and would be read and compared byte by byte, on
///   every `list`, until something rewrites the index. Both git and gix record nanoseconds
///   in the index; where the file system has none, both sides are 0 and the entry stays racy.
pub fn open_worktree_for_status(path: &Path) -> anyhow::Result<gix::Repository> {
    let options = gix::open::Options::default().config_overrides(["index.skipHash=true", "gitoxide.core.useNsec=true"]);
    Ok(gix::open_opts(path, options)?)
}

/// Does the worktree of `repo` have uncommitted changes or untracked (not ignored) files?
/// Untracked files count even under `status.showUntrackedFiles=no`: they can be lost too.
pub fn has_changes(repo: &gix::Repository) -> anyhow::Result<bool> {
    if has_staged_changes(repo)? {
        return Ok(true);
    }
    let mut items =
        status(repo, gix::status::UntrackedFiles::Collapsed, true)?.into_index_worktree_iter(Vec::<BString>::new())?;
    Ok(items.next().transpose()?.is_some())
}

/// A status of `repo`'s worktree without rename tracking, where untracked files are always
/// looked for: gix drops the directory walk under `status.showUntrackedFiles=no`, but such
/// files can be lost all the same.
fn status(
    repo: &gix::Repository,
    untracked: gix::status::UntrackedFiles,
    submodules_dirty: bool,
) -> anyhow::Result<gix::status::Platform<'_, gix::progress::Discard>> {
    Ok(repo
        .status(gix::progress::Discard)?
        .index_worktree_options_mut(|options| {
            if options.dirwalk_options.is_none() {
                options.dirwalk_options = repo.dirwalk_options().ok();
            }
        })
        .untracked_files(untracked)
        .index_worktree_rewrites(None)
        .index_worktree_submodules(gix::status::Submodule::Given {
            ignore: gix::submodule::config::Ignore::All,
            check_dirty: submodules_dirty,
        }))
}

/// An exit status as a shell reports it: the code, or 128 + the signal that ended the process.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}

/// Does the index differ from HEAD's tree? A valid cache tree (the index's TREE extension)
/// whose root is HEAD's tree answers "no" without building an index from the tree.
fn has_staged_changes(repo: &gix::Repository) -> anyhow::Result<bool> {
    let index = repo.index_or_empty()?;
    let head_tree = repo.head_tree_id_or_empty()?.detach();
    if let Some(cache_tree) = index.tree()
        && cache_tree.num_entries.is_some()
        && cache_tree.id == head_tree
    {
        return Ok(false);
    }
    let mut staged = false;
    repo.tree_index_status(&head_tree, &index, None, gix::status::tree_index::TrackRenames::Disabled, |_, _, _| {
        staged = true;
        Ok(std::ops::ControlFlow::Break(()))
    })?;
    Ok(staged)
}

/// Untracked and ignored files in the worktree of `repo` matching `patterns`, as
/// repository-relative paths. Patterns are anchored at the top of the worktree.
pub fn untracked_matching(repo: &gix::Repository, patterns: &[String]) -> anyhow::Result<Vec<BString>> {
    use gix::dir::walk::EmissionMode;
    if patterns.is_empty() {
        return Ok(Vec::new());
    }
    // Without `:/`, gix makes patterns relative to the process's current directory.
    let patterns: Vec<BString> =
        patterns.iter().map(|p| if p.starts_with(':') { p.as_str().into() } else { format!(":/{p}").into() }).collect();
    let index = repo.index_or_empty()?;
    let options =
        repo.dirwalk_options()?.emit_untracked(EmissionMode::Matching).emit_ignored(Some(EmissionMode::Matching));
    let mut paths = Vec::new();
    for item in repo.dirwalk_iter(index, patterns, Default::default(), options)? {
        paths.push(item?.entry.rela_path);
    }
    paths.sort();
    Ok(paths)
}

/// Adds a linked worktree at `dest` with `branch` (full name) checked out.
///
/// Registrations are serialised between git-agent processes: while adding a worktree, gix
/// reads every other registration's `gitdir` file and fails on one still being written.
pub fn add_worktree(
    repo: &gix::Repository,
    dest: &Path,
    branch: &FullName,
    interrupt: &AtomicBool,
) -> anyhow::Result<()> {
    add_worktree_at(repo, dest, gix::worktree::add::Head::Attached(branch.clone()), interrupt)
}

/// Adds a linked worktree at `dest` with a detached HEAD at `commit`.
pub fn add_detached_worktree(
    repo: &gix::Repository,
    dest: &Path,
    commit: ObjectId,
    interrupt: &AtomicBool,
) -> anyhow::Result<()> {
    add_worktree_at(repo, dest, gix::worktree::add::Head::Detached(commit), interrupt)
}

fn add_worktree_at(
    repo: &gix::Repository,
    dest: &Path,
    head: gix::worktree::add::Head,
    interrupt: &AtomicBool,
) -> anyhow::Result<()> {
    let lock_path = repo.common_dir().join("agent-worktrees");
    let _lock = gix::lock::Marker::acquire_to_hold_resource(
        &lock_path,
        gix::lock::acquire::Fail::AfterDurationWithBackoff(std::time::Duration::from_secs(60)),
        None,
        0,
    )
    .map_err(|err| {
        race(format!("cannot take the lock {}.lock: {err}", lock_path.display()))
            .hint("another git-agent spawn holds it; if none is running, delete that file")
    })?;
    repo.add_worktree(dest, head, gix::progress::Discard, interrupt).map_err(|err| {
        if err.is_cancelled() {
            anyhow!(Fail::new(crate::error::Exit::Failed, "interrupted while checking out the worktree"))
        } else if err.is_conflict() {
            anyhow!(refused(format!("cannot add a worktree at {}: {err}", dest.display())))
        } else {
            anyhow!(err).context(format!("cannot add a worktree at {}", dest.display()))
        }
    })?;
    Ok(())
}

/// Removes a linked worktree that this process created, whatever it contains.
pub fn remove_created_worktree(repo: &gix::Repository, dest: &Path) -> anyhow::Result<()> {
    repo.prepare_remove_worktree(dest)?.remove(gix::worktree::remove::Force::OverrideLock, gix::progress::Discard)?;
    Ok(())
}

/// The full name of the branch checked out in `repo`'s worktree, if HEAD is attached.
pub fn head_branch(repo: &gix::Repository) -> anyhow::Result<Option<FullName>> {
    Ok(repo.head_name()?)
}

/// A `std::process::Command` for a user's program (agent, setup, test), run in `dir`, without
/// git's environment variables leaking in: `GIT_DIR` and friends would point the child's own
/// git commands at the wrong repository.
pub fn user_command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    command.current_dir(dir);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_PREFIX",
        "GIT_COMMON_DIR",
        "GIT_OBJECT_DIRECTORY",
        "GIT_NAMESPACE",
    ] {
        command.env_remove(var);
    }
    command
}

/// Canonical form of a path that may not exist yet: its deepest existing ancestor is
/// canonicalised and the rest appended, so paths compare reliably.
pub fn normalise_path(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Is `path` an existing directory with something in it?
pub fn is_non_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_some())
}

pub fn short_id(id: &ObjectId) -> String {
    id.to_hex_with_len(7).to_string()
}

pub fn bytes_to_string(bytes: &[u8]) -> String {
    bytes.to_str_lossy().into_owned()
}

/// A commit holding the worktree at `path` as it is now: HEAD plus uncommitted changes and
/// untracked (not ignored) files, or `None` when the worktree is clean. The worktree's index
/// and files are only read. File contents are taken as they are, without running clean
/// filters. The commit and its blobs go to the object database as unreferenced objects (a
/// later `git gc` removes them), so that merges on other threads can read them.
pub fn snapshot_worktree(repo: &gix::Repository, path: &Path) -> anyhow::Result<Option<ObjectId>> {
    let worktree = open_worktree_for_status(path)?;
    let workdir = worktree.workdir().context("the task worktree has no working directory")?.to_owned();
    let head = worktree.head_id()?.detach();
    let mut changed = std::collections::BTreeSet::new();
    let items = status(&worktree, gix::status::UntrackedFiles::Files, false)?
        .tree_index_track_renames(gix::status::tree_index::TrackRenames::Disabled)
        .into_iter(None)?;
    for item in items {
        changed.insert(item?.location().to_owned());
    }
    if changed.is_empty() {
        return Ok(None);
    }
    let head_tree = repo.find_commit(head)?.tree_id()?.detach();
    let mut editor = repo.edit_tree(head_tree)?;
    for relative in changed {
        let full = workdir.join(gix::path::from_bstr(relative.as_bstr())?);
        match std::fs::symlink_metadata(&full) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                editor.remove(relative.as_bstr())?;
            }
            Err(err) => return Err(anyhow!(err).context(format!("cannot read {}", full.display()))),
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&full)?;
                let blob = repo.write_blob(gix::path::into_bstr(target.as_path())?.as_ref())?.detach();
                editor.upsert(relative.as_bstr(), gix::objs::tree::EntryKind::Link, blob)?;
            }
            Ok(meta) if meta.is_file() => {
                let blob = repo.write_blob(std::fs::read(&full)?)?.detach();
                let kind = if is_executable(&meta) {
                    gix::objs::tree::EntryKind::BlobExecutable
                } else {
                    gix::objs::tree::EntryKind::Blob
                };
                editor.upsert(relative.as_bstr(), kind, blob)?;
            }
            // Directories here are submodules or nested repositories: their pointer stays.
            Ok(_) => {}
        }
    }
    let tree = editor.write()?.detach();
    let signature = signature(repo)?;
    let commit = gix::objs::Commit {
        tree,
        parents: vec![head].into(),
        author: signature.clone(),
        committer: signature,
        encoding: None,
        message: "git-agent: snapshot of uncommitted changes\n".into(),
        extra_headers: Vec::new(),
    };
    Ok(Some(repo.write_object(&commit)?.detach()))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// The one way git-agent runs `git` itself (where gix has no equivalent): in `dir`, with a
/// stable locale, no fsmonitor, and none of the caller's repository-selecting variables.
/// Callers pass revisions as object ids and paths after `--`, never user text as options.
pub fn git_command(dir: &Path) -> std::process::Command {
    let mut command = user_command("git", dir);
    command.env("LC_ALL", "C").args(["-c", "core.fsmonitor=false"]);
    command
}

/// Runs `git` in `dir` and fails with its stderr when it does.
pub fn run_git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = git_command(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run git {}", args.join(" ")))?;
    if !output.status.success() {
        anyhow::bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Ref edits whose locks are held until [`PendingRefs::commit`]: concurrent writers of these
/// refs fail (and see a lock) meanwhile; dropping the value releases them, writing nothing.
pub struct PendingRefs<'repo> {
    transaction: gix::refs::file::Transaction<'repo, 'repo>,
    repo: &'repo gix::Repository,
}

impl<'repo> PendingRefs<'repo> {
    /// Locks `edits` now. The expectations (must not exist, must match) are checked here.
    fn prepare(repo: &'repo gix::Repository, edits: Vec<RefEdit>, action: &str) -> anyhow::Result<Self> {
        use gix::lock::acquire::Fail as LockFail;
        let transaction = repo
            .refs
            .transaction()
            .prepare(edits, LockFail::Immediately, LockFail::Immediately)
            .map_err(|err| ref_error(err, action))?;
        Ok(PendingRefs { transaction, repo })
    }

    pub fn commit(self) -> anyhow::Result<()> {
        let committer = signature(self.repo)?;
        self.transaction
            .commit(Some(committer.to_ref(&mut Default::default())))
            .map_err(|err| ref_error(err, "update"))?;
        Ok(())
    }
}

/// Claims `task` for this process until the returned lock is dropped: a spawn holds it from
/// start to finish, prune while it removes the task. Another git-agent working on the same
/// task gets a lost-race error (exit 4) at once. A plain lock file beside the refs, not a held
/// ref transaction: those also hold `packed-refs.lock`, which would block this process's own
/// ref writes in any repository whose refs have been packed.
pub fn claim_task(repo: &gix::Repository, task: &str) -> anyhow::Result<gix::lock::Marker> {
    let dir = repo.common_dir().join("agent-claims");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    gix::lock::Marker::acquire_to_hold_resource(dir.join(task), gix::lock::acquire::Fail::Immediately, None, 0).map_err(
        |_| {
            race(format!("another git-agent is spawning or pruning task {task:?} right now"))
                .hint(format!(
                    "try again when it has finished; if none is running, delete {}",
                    dir.join(format!("{task}.lock")).display()
                ))
                .into()
        },
    )
}

/// Locks the deletion of `refs` (each must still point where it was checked); commit later.
pub fn pending_delete<'repo>(
    repo: &'repo gix::Repository,
    refs: &[(&str, ObjectId)],
) -> anyhow::Result<PendingRefs<'repo>> {
    let edits = refs
        .iter()
        .map(|(name, old)| {
            Ok(RefEdit::new(
                full_name(name)?,
                Change::Delete {
                    expected: PreviousValue::MustExistAndMatch(Target::Object(*old)),
                    log: RefLog::AndReference,
                },
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    PendingRefs::prepare(repo, edits, "delete")
}
