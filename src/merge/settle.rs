//! The in-memory resolution strategies of `agent.resolve.<name>.strategy` (union, ours,
//! theirs): each conflicted file merged again with its conflicting hunks settled, as
//! `git merge-file --union` (`--ours`, `--theirs`) settles them, through the same blob merge
//! (attributes, conversions, histogram diff) as every other merge. No command runs, so a dry
//! run gets the exact result.

use bstr::ByteSlice;
use gix::ObjectId;
use gix::merge::blob::builtin_driver::binary::ResolveWith;
use gix::merge::blob::builtin_driver::text::Conflict;
use gix::objs::tree::EntryKind;
use serde::Serialize;

use crate::conflicts::{ConflictKind, ConflictPath};
use crate::output::JsonPath;
use crate::settings::ResolveStrategy;

/// A conflicted file settled: what goes at its path.
#[derive(Debug, Clone)]
pub struct Settled {
    pub path: bstr::BString,
    pub kind: EntryKind,
    pub blob: ObjectId,
}

/// A conflict a rule covers that its strategy cannot settle, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Unsettled {
    pub path: JsonPath,
    pub kind: ConflictKind,
    pub why: Unsettleable,
}

/// Why a strategy cannot settle a conflict: there are no three versions of one file to merge
/// line by line, or (union) no lines.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Unsettleable {
    /// union: a version is binary; `git merge-file --union` refuses binary files and there
    /// are no lines to keep both of (ours and theirs take that side's file, as `git merge -X`
    /// does).
    Binary,
    /// One side deleted (or renamed away) the file the other changed: keeping "both sides"
    /// would bring back a deleted file or drop a change, which is a decision, not a merge.
    Deleted,
    /// The sides hold different kinds of entry (file, executable, symlink, submodule,
    /// directory) at the path.
    DifferentKinds,
    /// A symlink or submodule: no lines to merge.
    NotAFile,
    /// The file was renamed: its merge base is not at the path.
    Renamed,
    /// A conflict about where files go (rename/rename, directory rename), not what they hold.
    Location,
}

impl std::fmt::Display for Unsettleable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unsettleable::Binary => "a binary file (union keeps lines; git merge-file --union refuses binary files)",
            Unsettleable::Deleted => "one side deleted the file",
            Unsettleable::DifferentKinds => "the sides hold different kinds of entry (or modes) at the path",
            Unsettleable::NotAFile => "a symlink or submodule, not a file of lines",
            Unsettleable::Renamed => "the file was renamed, its merge base is not at this path",
            Unsettleable::Location => "a conflict about where files go, not what they hold",
        })
    }
}

/// Settles each of `conflicts` (merging `theirs` into `ours` from `base`) with `strategy`,
/// which must not be [`ResolveStrategy::Run`]: every file's settled blob, or the conflicts
/// that stay conflicts.
pub fn settle(
    repo: &gix::Repository,
    strategy: ResolveStrategy,
    trees: [ObjectId; 3],
    conflicts: &[ConflictPath],
) -> anyhow::Result<Result<Vec<Settled>, Vec<Unsettled>>> {
    let (text, binary) = match strategy {
        ResolveStrategy::Union => (Conflict::ResolveWithUnion, None),
        ResolveStrategy::Ours => (Conflict::ResolveWithOurs, Some(ResolveWith::Ours)),
        ResolveStrategy::Theirs => (Conflict::ResolveWithTheirs, Some(ResolveWith::Theirs)),
        ResolveStrategy::Run => anyhow::bail!("the run strategy settles nothing in memory"),
    };
    let config = super::MergeConfig::read(repo);
    let mut options = config.tree_options(repo)?.blob_merge;
    options.text.conflict = text;
    options.resolve_binary_with = binary;
    options.is_virtual_ancestor = false;
    let mut platform = config.blob_platform(repo)?;
    let [base, ours, theirs] = trees.map(|tree| repo.find_tree(tree));
    let (base, ours, theirs) = (base?, ours?, theirs?);
    let mut settled = Vec::new();
    let mut unsettled = Vec::new();
    for conflict in conflicts {
        let path = conflict.path.0.as_bstr();
        let entry = |tree: &gix::Tree<'_>| -> anyhow::Result<Option<(EntryKind, ObjectId)>> {
            let found = tree.lookup_entry_by_path(gix::path::from_bstr(path)?)?;
            Ok(found.map(|e| (e.mode().kind(), e.object_id())))
        };
        let sides = (entry(&base)?, entry(&ours)?, entry(&theirs)?);
        let mut refuse = |why| unsettled.push(Unsettled { path: conflict.path.clone(), kind: conflict.kind, why });
        let (base, ours, theirs) = match (conflict.kind, sides) {
            (ConflictKind::Content | ConflictKind::AddAdd, (base, Some(ours), Some(theirs))) => (base, ours, theirs),
            (
                ConflictKind::Content | ConflictKind::AddAdd | ConflictKind::ModifyDelete | ConflictKind::RenameDelete,
                _,
            ) => {
                refuse(Unsettleable::Deleted);
                continue;
            }
            (ConflictKind::TypeChange | ConflictKind::FileDirectory, _) => {
                refuse(Unsettleable::DifferentKinds);
                continue;
            }
            (ConflictKind::Submodule, _) => {
                refuse(Unsettleable::NotAFile);
                continue;
            }
            (
                ConflictKind::RenameRename
                | ConflictKind::DirectoryRename
                | ConflictKind::DirectoryRenameSplit
                | ConflictKind::DirectoryRenameCollision
                | ConflictKind::FileInWayOfDirectoryRename
                | ConflictKind::FileLocationUnlisted,
                _,
            ) => {
                refuse(Unsettleable::Location);
                continue;
            }
        };
        let is_file = |kind: EntryKind| matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable);
        if !is_file(ours.0) || !is_file(theirs.0) {
            refuse(if ours.0 == theirs.0 { Unsettleable::NotAFile } else { Unsettleable::DifferentKinds });
            continue;
        }
        // The file's mode merged three-way; two files added with different modes are a
        // conflict git lists as add/add.
        let kind = match base {
            Some(base) if !is_file(base.0) => {
                refuse(Unsettleable::DifferentKinds);
                continue;
            }
            Some(base) if ours.0 == base.0 => theirs.0,
            Some(_) => ours.0,
            None if conflict.kind == ConflictKind::Content => {
                refuse(Unsettleable::Renamed);
                continue;
            }
            None if ours.0 != theirs.0 => {
                refuse(Unsettleable::DifferentKinds);
                continue;
            }
            // add/add: merged against an empty file, as git does.
            None => ours.0,
        };
        use gix::merge::blob::ResourceKind;
        let objects = &repo.objects;
        let base_id = base.map_or_else(|| ObjectId::null(repo.object_hash()), |b| b.1);
        platform.set_resource(base_id, kind, path, ResourceKind::CommonAncestorOrBase, objects)?;
        platform.set_resource(ours.1, ours.0, path, ResourceKind::CurrentOrOurs, objects)?;
        platform.set_resource(theirs.1, theirs.0, path, ResourceKind::OtherOrTheirs, objects)?;
        let prepared = platform.prepare_merge(objects, options)?;
        // Built-in drivers only: no configured merge driver runs (see crate::merge).
        let driver = prepared.configured_driver().err().unwrap_or(gix::merge::blob::BuiltinDriver::Text);
        let mut out = Vec::new();
        let mut input = gix::diff::blob::InternedInput::new(&[][..], &[]);
        let labels = Default::default();
        let (pick, resolution) = prepared.builtin_merge(driver, &mut out, &mut input, labels);
        if resolution == gix::merge::blob::Resolution::Conflict {
            refuse(Unsettleable::Binary);
            continue;
        }
        let blob = prepared
            .id_by_pick(pick, &out, |buf| repo.write_blob(buf).map(|id| id.detach()))?
            .ok_or_else(|| anyhow::anyhow!("no merged version of {path}"))?;
        settled.push(Settled { path: path.to_owned(), kind, blob });
    }
    Ok(if unsettled.is_empty() { Ok(settled) } else { Err(unsettled) })
}
