//! Worktrees: adding, removing, status and snapshots of uncommitted work.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, anyhow};
use bstr::{BString, ByteSlice};
use gix::ObjectId;
use gix::refs::FullName;

use crate::error::{Fail, refused};
use crate::git::*;

/// Opens the worktree at `path` for a read-only status check, tuned for speed:
/// - the index checksum is not verified (`index.skipHash`): hashing the whole index with
///   SHA-1DC cost a fifth of `git agent list`, and a damaged index still fails to parse;
/// - file times are compared to the nanosecond (`gitoxide.core.useNsec`, git's USE_NSEC):
///   in a worktree checked out within the second its index was written, every entry is
///   "racily clean" at second resolution and would be read and compared byte by byte, on
///   every `list`, until something rewrites the index. Both git and gix record nanoseconds
///   in the index; where the file system has none, both sides are 0 and the entry stays racy.
///
/// A status must run nothing the repository configured (see git-agent(1), SECURITY): gix would
/// run a `filter.<name>.clean` or `process` driver to hash a file whose time changed, so the
/// filter drivers are removed from this repository's configuration. A file is then compared
/// as it is on disk, as git does for a filter attribute without a driver.
pub fn open_worktree_for_status(path: &Path) -> anyhow::Result<gix::Repository> {
    let options = gix::open::Options::default().config_overrides(["index.skipHash=true", "gitoxide.core.useNsec=true"]);
    let mut repo = gix::open_opts(path, options)?;
    without_filter_drivers(&mut repo)?;
    Ok(repo)
}

/// Removes every `filter.<name>.*` section from `repo`'s in-memory configuration.
pub fn without_filter_drivers(repo: &mut gix::Repository) -> anyhow::Result<()> {
    let mut config = repo.config_snapshot_mut();
    let ids: Vec<_> = config
        .sections_and_ids_by_name("filter")
        .map(|sections| sections.map(|(_, id)| id).collect())
        .unwrap_or_default();
    for id in ids {
        config.remove_section_by_id(id);
    }
    config.commit()?;
    Ok(())
}

/// Does the worktree of `repo` have uncommitted changes or untracked (not ignored) files?
/// Untracked files count even under `status.showUntrackedFiles=no`: they can be lost too.
pub fn has_changes(repo: &gix::Repository) -> anyhow::Result<bool> {
    has_changes_sharing(repo, &mut StatusShare::new(repo))
}

/// What checking many worktrees of one repository can share: their HEAD trees are mostly the
/// same, and turning a tree into an index to compare with the worktree's (reading and decoding
/// every tree object) was a quarter of `list`'s time, done again in every worktree. In memory
/// only: as git's cache tree (the index's TREE extension, which gix's checkout does not write).
pub struct StatusShare<'a> {
    /// A handle on the same object database, with an object cache.
    objects: &'a gix::Repository,
    /// HEAD trees as indexes, by tree id.
    trees: std::collections::HashMap<ObjectId, gix::index::File>,
}

impl<'a> StatusShare<'a> {
    pub fn new(objects: &'a gix::Repository) -> StatusShare<'a> {
        StatusShare { objects, trees: Default::default() }
    }
}

/// [`has_changes`], with what earlier worktrees' checks left in `share`.
pub fn has_changes_sharing(repo: &gix::Repository, share: &mut StatusShare<'_>) -> anyhow::Result<bool> {
    if has_staged_changes(repo, share)? {
        return Ok(true);
    }
    let mut items =
        status(repo, gix::status::UntrackedFiles::Collapsed, true)?.into_index_worktree_iter(Vec::<BString>::new())?;
    Ok(items.next().transpose()?.is_some())
}

/// The paths that differ in the worktree of `repo`: staged, unstaged, and untracked files that
/// are not ignored (each file, not its directory), sorted, each once.
pub fn changed_files(repo: &gix::Repository) -> anyhow::Result<Vec<BString>> {
    let mut paths = Vec::new();
    for item in status(repo, gix::status::UntrackedFiles::Files, false)?.into_iter(Vec::<BString>::new())? {
        paths.push(item?.location().to_owned());
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// How a path differs, in one of the two columns of `git status --short`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    Added,
    Modified,
    Deleted,
    TypeChanged,
    /// A side of a merge conflict.
    Unmerged,
    Untracked,
}

impl Mark {
    /// The letter `git status --short` shows.
    pub fn letter(self) -> char {
        match self {
            Mark::Added => 'A',
            Mark::Modified => 'M',
            Mark::Deleted => 'D',
            Mark::TypeChanged => 'T',
            Mark::Unmerged => 'U',
            Mark::Untracked => '?',
        }
    }
}

/// One uncommitted path, as `git status --short` shows it: how the index differs from HEAD
/// (`staged`, its X) and how the worktree differs from the index (`unstaged`, its Y).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct FileStatus {
    pub path: crate::output::JsonPath,
    pub staged: Option<Mark>,
    pub unstaged: Option<Mark>,
}

impl FileStatus {
    /// "XY": the two letters of `git status --short`, a space for no change.
    pub fn code(&self) -> String {
        [self.staged, self.unstaged].iter().map(|mark| mark.map_or(' ', Mark::letter)).collect()
    }
}

/// The uncommitted paths of the worktree of `repo` in `git status --short`'s order (tracked
/// paths sorted, then untracked ones sorted), as `git status --short
/// --untracked-files=all` with `status.renames=false` names them: without rename tracking (a
/// rename is its deletion and its addition), each untracked file rather than its directory.
pub fn uncommitted_files(repo: &gix::Repository) -> anyhow::Result<Vec<FileStatus>> {
    use gix::status::index_worktree::Item as Worktree;
    use gix::status::plumbing::index_as_worktree::{Change, EntryStatus};
    // The two comparisons arrive interleaved, from two threads; a conflict's letters replace
    // whatever the index-to-HEAD comparison says of its stages.
    #[derive(Default)]
    struct Marks {
        staged: Option<Mark>,
        unstaged: Option<Mark>,
        conflict: Option<(Mark, Mark)>,
    }
    let mut paths: std::collections::BTreeMap<BString, Marks> = Default::default();
    let platform = status(repo, gix::status::UntrackedFiles::Files, false)?
        .tree_index_track_renames(gix::status::tree_index::TrackRenames::Disabled);
    for item in platform.into_iter(Vec::<BString>::new())? {
        match item? {
            gix::status::Item::TreeIndex(change) => {
                for (path, mark) in staged_marks(&change) {
                    paths.entry(path).or_default().staged = Some(mark);
                }
            }
            gix::status::Item::IndexWorktree(Worktree::Modification { rela_path, status, .. }) => {
                let marks = paths.entry(rela_path).or_default();
                match status {
                    EntryStatus::Conflict { summary, .. } => marks.conflict = Some(conflict_marks(summary)),
                    EntryStatus::Change(Change::Removed) => marks.unstaged = Some(Mark::Deleted),
                    EntryStatus::Change(Change::Type { .. }) => marks.unstaged = Some(Mark::TypeChanged),
                    EntryStatus::Change(_) => marks.unstaged = Some(Mark::Modified),
                    // `git add --intent-to-add`: git shows " A".
                    EntryStatus::IntentToAdd => marks.unstaged = Some(Mark::Added),
                    EntryStatus::NeedsUpdate(_) => {}
                }
            }
            gix::status::Item::IndexWorktree(Worktree::DirectoryContents { entry, .. }) => {
                if entry.status == gix::dir::entry::Status::Untracked {
                    let marks = paths.entry(entry.rela_path).or_default();
                    (marks.staged, marks.unstaged) = (Some(Mark::Untracked), Some(Mark::Untracked));
                }
            }
            // Rename tracking is off: a deletion and an addition each come on their own.
            gix::status::Item::IndexWorktree(Worktree::Rewrite { .. }) => {}
        }
    }
    let mut files: Vec<FileStatus> = paths
        .into_iter()
        .filter_map(|(path, marks)| {
            let (staged, unstaged) = match marks.conflict {
                Some((ours, theirs)) => (Some(ours), Some(theirs)),
                None => (marks.staged, marks.unstaged),
            };
            let path = crate::output::JsonPath(path);
            (staged.is_some() || unstaged.is_some()).then_some(FileStatus { path, staged, unstaged })
        })
        .collect();
    files.sort_by_key(|file| file.staged == Some(Mark::Untracked));
    Ok(files)
}

/// The paths and letters of a change between HEAD's tree and the index.
fn staged_marks(change: &gix::diff::index::Change) -> Vec<(BString, Mark)> {
    use gix::diff::index::ChangeRef;
    match change {
        ChangeRef::Addition { location, .. } => vec![(location.clone().into_owned(), Mark::Added)],
        ChangeRef::Deletion { location, .. } => vec![(location.clone().into_owned(), Mark::Deleted)],
        ChangeRef::Modification { location, previous_entry_mode, entry_mode, .. } => {
            // A file that became a symbolic link (or the reverse) is T; an executable bit is M.
            use gix::index::entry::Mode;
            let is_file = |mode: &Mode| *mode == Mode::FILE || *mode == Mode::FILE_EXECUTABLE;
            let type_changed =
                previous_entry_mode != entry_mode && !(is_file(previous_entry_mode) && is_file(entry_mode));
            let mark = if type_changed { Mark::TypeChanged } else { Mark::Modified };
            vec![(location.clone().into_owned(), mark)]
        }
        ChangeRef::Rewrite { source_location, location, copy, .. } => {
            let mut marks = vec![(location.clone().into_owned(), Mark::Added)];
            if !copy {
                marks.push((source_location.clone().into_owned(), Mark::Deleted));
            }
            marks
        }
    }
}

/// The two letters of a merge conflict, as `git status --short` shows them.
fn conflict_marks(conflict: gix::status::plumbing::index_as_worktree::Conflict) -> (Mark, Mark) {
    use gix::status::plumbing::index_as_worktree::Conflict;
    match conflict {
        Conflict::BothDeleted => (Mark::Deleted, Mark::Deleted),
        Conflict::AddedByUs => (Mark::Added, Mark::Unmerged),
        Conflict::DeletedByThem => (Mark::Unmerged, Mark::Deleted),
        Conflict::AddedByThem => (Mark::Unmerged, Mark::Added),
        Conflict::DeletedByUs => (Mark::Deleted, Mark::Unmerged),
        Conflict::BothAdded => (Mark::Added, Mark::Added),
        Conflict::BothModified => (Mark::Unmerged, Mark::Unmerged),
    }
}

/// When the worktree of `repo` last changed, as far as can be told without reading files:
/// the latest modification time of its index (written by every `git add` and commit) and of
/// each modified or untracked (not ignored) file. `None` when no time could be read.
pub fn last_file_change(repo: &gix::Repository) -> anyhow::Result<Option<std::time::SystemTime>> {
    let mtime = |path: &Path| std::fs::symlink_metadata(path).and_then(|m| m.modified()).ok();
    let mut latest = mtime(&repo.index_path());
    let workdir = repo.workdir().context("the repository has no worktree")?;
    let items =
        status(repo, gix::status::UntrackedFiles::Files, false)?.into_index_worktree_iter(Vec::<BString>::new())?;
    for item in items {
        // A deleted file has no time: the index's says when it was last seen.
        let item = item?;
        let Ok(path) = gix::path::from_bstr(item.rela_path()) else { continue };
        latest = latest.max(mtime(&workdir.join(path)));
    }
    Ok(latest)
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

/// Does the index differ from HEAD's tree? A valid cache tree (the index's TREE extension)
/// whose root is HEAD's tree answers "no" without building an index from the tree.
fn has_staged_changes(repo: &gix::Repository, share: &mut StatusShare<'_>) -> anyhow::Result<bool> {
    let index = repo.index_or_empty()?;
    let head_tree = repo.head_tree_id_or_empty()?.detach();
    if let Some(cache_tree) = index.tree()
        && cache_tree.num_entries.is_some()
        && cache_tree.id == head_tree
    {
        return Ok(false);
    }
    // An index whose entries are HEAD's tree's, one for one, has nothing staged; anything
    // else (a difference, a conflict, an unborn HEAD) is left to the full comparison.
    if !head_tree.is_empty_tree() {
        let tree_index = match share.trees.entry(head_tree) {
            std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert(share.objects.index_from_tree(&head_tree)?),
        };
        if same_entries(&index, tree_index) {
            return Ok(false);
        }
    }
    let mut staged = false;
    share.objects.tree_index_status(
        &head_tree,
        &index,
        None,
        gix::status::tree_index::TrackRenames::Disabled,
        |_, _, _| {
            staged = true;
            Ok(std::ops::ControlFlow::Break(()))
        },
    )?;
    Ok(staged)
}

/// Do two indexes hold the same entries: paths, stages, modes and object ids?
fn same_entries(a: &gix::index::State, b: &gix::index::State) -> bool {
    a.entries().len() == b.entries().len()
        && a.entries().iter().zip(b.entries()).all(|(x, y)| {
            x.id == y.id && x.mode == y.mode && x.flags.stage() == y.flags.stage() && x.path(a) == y.path(b)
        })
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
    // A lock left by a killed spawn is recovered; a live holder (another spawn checking out)
    // is waited for, and named if it takes too long.
    let lock_path = crate::layout::worktrees_lock(repo.common_dir());
    let _lock = crate::lock::acquire_waiting(&lock_path, "worktree-add", std::time::Duration::from_secs(60))
        .map_err(|busy| busy.into_fail("adding a worktree"))?;
    repo.add_worktree(dest, head, gix::progress::Discard, interrupt).map_err(|err| {
        if err.is_cancelled() {
            crate::interrupt::check("the checkout was rolled back").err().unwrap_or_else(|| {
                anyhow!(Fail::new(crate::error::Exit::Failed, "interrupted while checking out the worktree"))
            })
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

/// How [`snapshot_worktree`] reads the files.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotOptions {
    /// Files larger than this are not read: their entry stays as in HEAD, and they are listed.
    pub max_file_bytes: Option<u64>,
    /// Take file contents through the clean conversion, as `git add` would, with the built-in
    /// conversions only (end of line, working-tree encoding): no filter driver runs. Without
    /// it, the bytes are taken as they are (an archive keeps exactly what was there).
    pub clean: bool,
}

/// A snapshot of a worktree: the commit, and the files it could not hold.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub commit: ObjectId,
    /// Files larger than [`SnapshotOptions::max_file_bytes`], with their sizes.
    pub not_read: Vec<(BString, u64)>,
}

/// A commit holding the worktree at `path` as it is now: HEAD plus uncommitted changes and
/// untracked (not ignored) files, or `None` when the worktree is clean. The worktree's index
/// and files are only read. The commit and its blobs are written to `repo`'s object store:
/// the object database, or memory when `repo` keeps its objects in memory
/// ([`gix::Repository::with_object_memory`]), as the read-only conflict check does.
pub fn snapshot_worktree(
    repo: &gix::Repository,
    path: &Path,
    options: SnapshotOptions,
) -> anyhow::Result<Option<Snapshot>> {
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
    let mut clean = if options.clean { Some(CleanConversion::new(&worktree)?) } else { None };
    let head_tree = repo.find_commit(head)?.tree_id()?.detach();
    let mut editor = repo.edit_tree(head_tree)?;
    let mut not_read = Vec::new();
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
            Ok(meta) if options.max_file_bytes.is_some_and(|max| meta.len() > max) => {
                not_read.push((relative, meta.len()));
            }
            Ok(meta) if meta.is_file() => {
                let raw = std::fs::read(&full)?;
                let bytes = match clean.as_mut() {
                    Some(clean) => clean.convert(&raw, relative.as_bstr())?,
                    None => raw,
                };
                let blob = repo.write_blob(bytes)?.detach();
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
    let commit = write_commit(repo, tree, vec![head], "git-agent: snapshot of uncommitted changes\n")?;
    Ok(Some(Snapshot { commit, not_read }))
}

/// A commit on the worktree's HEAD holding its index (what is staged) as a tree, or `None`
/// when the index matches HEAD. A staged version of a file can differ from both HEAD and the
/// file on disk: a snapshot of the files alone would lose it. Built in memory from the index
/// entries (the index is only read: prune checks that nothing in the worktree changed); of a
/// conflicted path, "ours" (stage 2) is kept, else the first stage found.
pub fn snapshot_index(repo: &gix::Repository, path: &Path) -> anyhow::Result<Option<ObjectId>> {
    let worktree = open_worktree_for_status(path)?;
    if !has_staged_changes(&worktree, &mut StatusShare::new(&worktree))? {
        return Ok(None);
    }
    let head = worktree.head_id()?.detach();
    let index = worktree.index_or_empty()?;
    let mut editor = repo.edit_tree(ObjectId::empty_tree(repo.object_hash()))?;
    let mut conflicted = std::collections::BTreeSet::new();
    for entry in index.entries() {
        let Some(mode) = entry.mode.to_tree_entry_mode() else { continue };
        let entry_path = entry.path(&index);
        let stage = entry.stage();
        if stage != gix::index::entry::Stage::Unconflicted {
            let first = conflicted.insert(entry_path.to_owned());
            if !first && stage != gix::index::entry::Stage::Ours {
                continue;
            }
        }
        editor.upsert(entry_path, mode.kind(), entry.id)?;
    }
    let tree = editor.write()?.detach();
    Ok(Some(write_commit(repo, tree, vec![head], "git-agent: snapshot of the staged changes (the index)\n")?))
}

/// git's clean conversion (`git add`) with the built-in conversions only: the attributes of
/// the worktree, end-of-line and working-tree-encoding conversion, and no filter driver.
struct CleanConversion<'repo> {
    repo: &'repo gix::Repository,
    pipeline: gix::filter::plumbing::Pipeline,
    attributes: gix::worktree::Stack,
}

impl<'repo> CleanConversion<'repo> {
    fn new(worktree: &'repo gix::Repository) -> anyhow::Result<Self> {
        let mut options = gix::filter::Pipeline::options(worktree)?;
        options.drivers.clear();
        let pipeline =
            gix::filter::plumbing::Pipeline::new(worktree.command_context()?, worktree.object_hash(), options);
        let index = worktree.index_or_empty()?;
        let attributes = worktree
            .attributes_only(&index, gix::worktree::stack::state::attributes::Source::WorktreeThenIdMapping)?
            .detach();
        Ok(CleanConversion { repo: worktree, pipeline, attributes })
    }

    fn convert(&mut self, bytes: &[u8], path: &bstr::BStr) -> anyhow::Result<Vec<u8>> {
        use gix::filter::plumbing::pipeline::convert::ToGitOutcome;
        use std::io::Read as _;
        let entry = self.attributes.at_entry(path, None, &self.repo.objects)?;
        let relative = gix::path::from_bstr(path)?;
        // No index object: git's "a CR is already in the index" exception is for `git add`
        // into that index; a snapshot compares contents, as a renormalising merge does.
        let outcome = self.pipeline.convert_to_git(
            bytes,
            relative.as_ref(),
            &mut |_, attributes| {
                entry.matching_attributes(attributes);
            },
            &mut |_| Ok(None),
        )?;
        Ok(match outcome {
            ToGitOutcome::Unchanged(_) => bytes.to_vec(),
            ToGitOutcome::Buffer(converted) => converted.to_vec(),
            ToGitOutcome::Process(mut reader) => {
                let mut out = Vec::new();
                reader.read_to_end(&mut out)?;
                out
            }
        })
    }
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

/// What a worktree registration's own `HEAD` file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisteredHead {
    /// `ref: <full name>`.
    Branch(String),
    Detached(ObjectId),
    /// Missing or unreadable.
    Unknown,
}

/// One linked worktree as git has it registered in `<common dir>/worktrees/<id>`, read from
/// the files themselves, so that broken registrations (missing directory, unreadable files)
/// are seen too.
#[derive(Debug, Clone)]
pub struct Registration {
    /// `<common dir>/worktrees/<id>`.
    pub admin_dir: std::path::PathBuf,
    /// The worktree's directory (from the `gitdir` file, less its `/.git`), if readable.
    pub path: Option<std::path::PathBuf>,
    pub head: RegisteredHead,
    /// `Some(reason)` when the registration is locked (git's `locked` file).
    pub locked: Option<String>,
    /// The directory the registration names does not exist.
    pub missing: bool,
    /// Branches an operation in progress works on (rebase, bisect): git treats them as
    /// checked out as well.
    pub busy_branches: Vec<String>,
}

/// Every linked worktree registration of the repository: the one walk over them.
pub fn registrations(repo: &gix::Repository) -> anyhow::Result<Vec<Registration>> {
    let dir = repo.common_dir().join("worktrees");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(anyhow!(err).context(format!("cannot read {}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let admin_dir = entry.path();
        if !admin_dir.is_dir() {
            continue;
        }
        out.push(read_registration(admin_dir));
    }
    out.sort_by(|a, b| a.admin_dir.cmp(&b.admin_dir));
    Ok(out)
}

fn read_registration(admin_dir: std::path::PathBuf) -> Registration {
    let path = std::fs::read(admin_dir.join("gitdir")).ok().and_then(|bytes| {
        let text = bytes.trim_end_with(|c| c == '\n' || c == '\r');
        let gitdir = gix::path::from_bstr(text.as_bstr()).ok()?.into_owned();
        let gitdir = if gitdir.is_relative() { admin_dir.join(gitdir) } else { gitdir };
        gitdir.parent().map(ToOwned::to_owned)
    });
    let missing = path.as_ref().is_none_or(|p| std::fs::symlink_metadata(p).is_err());
    let locked = std::fs::read(admin_dir.join("locked")).ok().map(|r| r.to_str_lossy().trim().to_owned());
    let mut busy_branches = Vec::new();
    for file in ["rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START"] {
        if let Ok(bytes) = std::fs::read(admin_dir.join(file)) {
            let name = bytes.to_str_lossy().trim().to_owned();
            let name = if name.starts_with("refs/") { name } else { format!("refs/heads/{name}") };
            busy_branches.push(name);
        }
    }
    Registration { head: read_head_file(&admin_dir.join("HEAD")), admin_dir, path, locked, missing, busy_branches }
}

/// Parses a `HEAD` file as git writes it.
pub fn read_head_file(path: &Path) -> RegisteredHead {
    let Ok(bytes) = std::fs::read(path) else { return RegisteredHead::Unknown };
    let text = bytes.to_str_lossy();
    let text = text.trim();
    if let Some(name) = text.strip_prefix("ref:") {
        return RegisteredHead::Branch(name.trim().to_owned());
    }
    ObjectId::from_hex(text.as_bytes()).map_or(RegisteredHead::Unknown, RegisteredHead::Detached)
}

/// Does the worktree directory `path` belong to the registration `admin_dir`: is its `.git`
/// a file pointing there? (A copied, replaced or foreign directory does not.)
pub fn worktree_points_to(path: &Path, admin_dir: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path.join(".git")) else { return false };
    let text = bytes.to_str_lossy();
    let Some(target) = text.trim().strip_prefix("gitdir:") else { return false };
    let target = Path::new(target.trim());
    let target = if target.is_relative() { path.join(target) } else { target.to_owned() };
    normalise_path(&target) == normalise_path(admin_dir)
}

/// The first reflog message of a local branch (the oldest entry), if it has a reflog.
pub fn first_reflog_message(repo: &gix::Repository, name: &str) -> anyhow::Result<Option<String>> {
    let Some(reference) = repo.try_find_reference(name)? else { return Ok(None) };
    let mut platform = reference.log_iter();
    let Some(entries) = platform.all()? else { return Ok(None) };
    let first = entries.into_iter().next().transpose()?;
    Ok(first.map(|line| line.message.to_str_lossy().into_owned()))
}

/// Copies a file, a symlink (as a symlink) or a directory tree (agent.copy files into a new
/// worktree or a scratch slot). Files are reflinked where the file system can (the copy shares
/// the original's blocks until either changes), else copied; returns which bytes were which.
pub fn copy_recursively(from: &Path, to: &Path) -> std::io::Result<CopiedBytes> {
    let meta = from.symlink_metadata()?;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)?;
        return Ok(CopiedBytes::default());
    }
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        let mut bytes = CopiedBytes::default();
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            bytes.add(copy_recursively(&entry.path(), &to.join(entry.file_name()))?);
        }
        return Ok(bytes);
    }
    Ok(match reflink_copy::reflink_or_copy(from, to)? {
        None => CopiedBytes { written: 0, cloned: meta.len() },
        Some(written) => CopiedBytes { written, cloned: 0 },
    })
}

/// The bytes of files [`copy_recursively`] wrote, and of those it cloned (reflinked: they
/// take no new space until changed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct CopiedBytes {
    pub written: u64,
    pub cloned: u64,
}

impl CopiedBytes {
    pub fn add(&mut self, other: CopiedBytes) {
        self.written += other.written;
        self.cloned += other.cloned;
    }
}
