//! What a new worktree gets besides its branch's files: copies of the main worktree's ignored
//! files that `.worktreeinclude` names and of the untracked or ignored files `agent.copy`
//! matches (reflinked where the file system can: a clone shares the blocks and writes almost
//! nothing), and links to the main worktree's heavy directories (`agent.link`: node_modules,
//! target, .venv), which are shared rather than copied.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;
use serde::Serialize;

use crate::error::bad_input;
use crate::git::CopiedBytes;
use crate::settings::Settings;

/// What was put into a new worktree.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Furnished {
    /// Files and directories copied from the main worktree, relative to the worktree.
    pub copied: Vec<String>,
    /// Links made to the main worktree (agent.link), relative to the worktree.
    pub linked: Vec<String>,
    /// agent.link paths the main worktree does not have: no link was made.
    pub link_missing: Vec<String>,
    /// Links git does not ignore in the new worktree (list and prune see them as untracked).
    pub link_not_ignored: Vec<String>,
    /// The bytes the copies wrote, and those they cloned.
    pub bytes: CopiedBytes,
}

/// Refuses an agent.link path that the task's start commit tracks (or tracks something
/// below): the link would replace the branch's own files. Exit status 2.
pub fn check_links_untracked(repo: &gix::Repository, start: ObjectId, links: &[String]) -> anyhow::Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let tree = repo.find_commit(start)?.tree()?;
    for link in links {
        if tree.lookup_entry_by_path(link)?.is_some() {
            return Err(bad_input(format!("agent.link {link:?} is tracked: a link cannot replace the branch's files"))
                .hint(format!(
                    "link only ignored paths (node_modules, target, .venv): git config --unset-all agent.link {link:?}"
                ))
                .into());
        }
    }
    Ok(())
}

/// Copies and links into the new worktree `dest` from the main worktree of `repo`.
pub fn furnish(repo: &gix::Repository, settings: &Settings, dest: &Path) -> anyhow::Result<Furnished> {
    let mut furnished = Furnished::default();
    let main = crate::git::main_repo(repo)?;
    let Some(source) = main.workdir().map(ToOwned::to_owned) else {
        return Ok(furnished);
    };
    link(&source, dest, &settings.link, &mut furnished)?;
    let mut paths = crate::git::untracked_matching(&main, &settings.copy)?;
    paths.extend(included(&main, &source)?);
    paths.sort();
    paths.dedup();
    for path in paths {
        // A linked directory is shared: nothing in it is copied.
        if settings.link.iter().any(|link| crate::scope::contains(std::slice::from_ref(link), path.as_bstr())) {
            continue;
        }
        let relative = gix::path::from_bstr(path.as_bstr())?.into_owned();
        let target = dest.join(&relative);
        if target.symlink_metadata().is_ok() {
            continue; // Tracked in the new checkout: the branch's version wins.
        }
        let bytes = crate::git::copy_recursively(&source.join(&relative), &target)
            .with_context(|| format!("cannot copy {} into the new worktree", relative.display()))?;
        furnished.bytes.add(bytes);
        furnished.copied.push(crate::git::bytes_to_string(&path));
    }
    if !furnished.linked.is_empty() {
        furnished.link_not_ignored = not_ignored(dest, &furnished.linked)?;
    }
    Ok(furnished)
}

/// Makes a link at each agent.link path of `dest` to the same path in the main worktree
/// `source` (absolute, so that it survives a `git worktree move`).
fn link(source: &Path, dest: &Path, links: &[String], furnished: &mut Furnished) -> anyhow::Result<()> {
    for path in links {
        let original = source.join(path);
        if original.symlink_metadata().is_err() {
            furnished.link_missing.push(path.clone());
            continue;
        }
        let at = dest.join(path);
        if at.symlink_metadata().is_ok() {
            continue; // Checked out there (below a tracked directory): the branch's files win.
        }
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::os::unix::fs::symlink(&original, &at)
            .with_context(|| format!("cannot link {} to {}", at.display(), original.display()))?;
        furnished.linked.push(path.clone());
    }
    Ok(())
}

/// The links git shows as untracked in the new worktree: .gitignore's `node_modules/` (with
/// the slash) matches directories only, and a link is not one.
fn not_ignored(dest: &Path, linked: &[String]) -> anyhow::Result<Vec<String>> {
    let wt = crate::git::open_worktree_for_status(dest)?;
    let untracked = crate::git::changed_files(&wt)?;
    Ok(linked.iter().filter(|link| untracked.iter().any(|path| path == link.as_str())).cloned().collect())
}

/// The ignored files and directories of the main worktree (at `top`) that its
/// `.worktreeinclude` names, as Claude Code and worktrunk copy them: a path must be both
/// matched there and ignored by git. No file, nothing.
fn included(main: &gix::Repository, top: &Path) -> anyhow::Result<Vec<BString>> {
    let Some(include) = Include::read(top)? else { return Ok(Vec::new()) };
    let include = &include.0;
    let mut found = Vec::new();
    for (path, is_dir) in ignored_entries(main)? {
        match matches(include, path.as_bstr(), is_dir) {
            Some(true) => found.push(path),
            Some(false) => {}
            // An ignored directory reported whole: the patterns may name files inside it.
            None if is_dir => walk_ignored_dir(include, top, path, &mut found)?,
            None => {}
        }
    }
    Ok(found)
}

/// The patterns of the main worktree's `.worktreeinclude` (gitignore syntax, relative to the
/// top), for prune to know the copies spawn made.
#[derive(Debug, Clone, Default)]
pub struct Include(gix::ignore::Search);

impl Include {
    /// The main worktree's `.worktreeinclude`, if it has one.
    pub fn read(top: &Path) -> anyhow::Result<Option<Include>> {
        let file = top.join(crate::layout::WORKTREE_INCLUDE);
        let Ok(bytes) = std::fs::read(&file) else { return Ok(None) };
        let mut search = gix::ignore::Search::default();
        search.add_patterns_buffer(&bytes, file, None, Default::default())?;
        Ok(Some(Include(search)))
    }

    /// Does it include `path` (repository-relative, below `top`), or, for a directory, every
    /// file below it? (git reports an ignored directory whole; spawn may have copied only some
    /// files into it, and an empty directory holds nothing to lose.) Links are not followed.
    pub fn covers(&self, top: &Path, path: &BStr, is_dir: bool) -> bool {
        match matches(&self.0, path, is_dir) {
            Some(included) => included,
            None if is_dir => {
                let Ok(full) = gix::path::from_bstr(path).map(|relative| top.join(relative)) else { return false };
                let Ok(entries) = std::fs::read_dir(full) else { return false };
                entries.flatten().all(|entry| {
                    let Ok(meta) = entry.path().symlink_metadata() else { return false };
                    let Ok(name) = gix::path::into_bstr(PathBuf::from(entry.file_name())).map(|n| n.into_owned())
                    else {
                        return false;
                    };
                    let mut child = BString::from(path);
                    child.push(b'/');
                    child.extend_from_slice(&name);
                    self.covers(top, child.as_bstr(), meta.is_dir())
                })
            }
            None => false,
        }
    }
}

/// Whether the last pattern matching `path` includes it (`Some(true)`) or excludes it (`!`).
fn matches(include: &gix::ignore::Search, path: &BStr, is_dir: bool) -> Option<bool> {
    include
        .pattern_matching_relative_path(path, Some(is_dir), gix::glob::pattern::Case::Sensitive)
        .map(|found| !found.pattern.is_negative())
}

/// The main worktree's ignored entries: files, links and whole ignored directories (not the
/// nested repositories, the task worktrees among them, that gix reports apart).
fn ignored_entries(main: &gix::Repository) -> anyhow::Result<Vec<(BString, bool)>> {
    use gix::dir::entry::{Kind, Status};
    use gix::dir::walk::EmissionMode;
    let index = main.index_or_empty()?;
    let options = main.dirwalk_options()?.emit_ignored(Some(EmissionMode::CollapseDirectory));
    let mut entries = Vec::new();
    for item in main.dirwalk_iter(index, Vec::<BString>::new(), Default::default(), options)? {
        let entry = item?.entry;
        if !matches!(entry.status, Status::Ignored(_)) {
            continue;
        }
        match entry.disk_kind {
            Some(Kind::Directory) => entries.push((entry.rela_path, true)),
            Some(Kind::File | Kind::Symlink) => entries.push((entry.rela_path, false)),
            _ => {}
        }
    }
    Ok(entries)
}

/// The entries below the ignored directory `dir` the patterns include (all of it is ignored).
/// Links are not followed, and a directory holding a `.git` (a repository, a task's worktree)
/// is not entered.
fn walk_ignored_dir(
    include: &gix::ignore::Search,
    top: &Path,
    dir: BString,
    found: &mut Vec<BString>,
) -> anyhow::Result<()> {
    let full: PathBuf = top.join(gix::path::from_bstr(dir.as_bstr())?);
    if full.join(".git").symlink_metadata().is_ok() {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(&full) else { return Ok(()) };
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        let mut path = dir.clone();
        path.push(b'/');
        path.extend_from_slice(gix::path::into_bstr(PathBuf::from(entry.file_name()))?.as_ref());
        match matches(include, path.as_bstr(), meta.is_dir()) {
            Some(true) => found.push(path),
            Some(false) => {}
            None if meta.is_dir() => walk_ignored_dir(include, top, path, found)?,
            None => {}
        }
    }
    Ok(())
}
