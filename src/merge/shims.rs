//! Every place where git-agent's merge answer corrects gix's, so that verdicts and conflicted
//! paths are `git merge-tree --write-tree`'s. One item per difference; each says what git does,
//! what gix 0.90 / gix-merge 0.23 does, when it can be deleted, and names its differential test
//! (in `tests/integration/`), which fails with the shim disabled. Delete a shim once the gix
//! release in use gives git's answer (its test then passes without it).
//!
//! Outside this file, for the record:
//! - **Content merges without the indent heuristic**: `vendor/gix-merge` (one line in
//!   `collect_hunks`, `src/blob/builtin_driver/text/utils.rs`: `postprocess_no_heuristic`;
//!   see `vendor/README.md`). git's file merge slides hunks down as far as they go; gix-merge
//!   0.23 places them with imara-diff's indent heuristic, so two insertions at one spot
//!   conflicted where git merges. Delete with the vendored copy once gix-merge has the fix.
//!   Test: `conflicts::a_content_merge_places_hunks_as_git_does`.
//! - **Configuration read as git reads it** (`super::MergeConfig`): rename limit 7000 and
//!   `merge.renameLimit` without `merge.renames` (gix: 1000, and only with `*.renames`;
//!   test `conflicts::more_than_a_thousand_renames_agree_with_merge_tree`), histogram diff
//!   (gix: `diff.algorithm`), attributes from the worktree (gix: the index; test
//!   `conflicts::worktree_attributes_agree_with_merge_tree`), `merge.renormalize` through a
//!   pipeline without filter drivers (test `conflicts::merge_renormalize_agrees_with_merge_tree`),
//!   and `merge.directoryRenames` (gix has no such setting: [`file_location_conflicts`]).

use std::collections::{BTreeMap, HashMap};

use bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::ObjectId;
use gix::diff::tree_with_rewrites::Change;
use gix::merge::plumbing::tree::{Conflict, Resolution, ResolutionFailure, TreatAsUnresolved};

use crate::conflicts::{ChangeKind, ConflictKind};

/// The files gix moved along with a directory it found renamed (it calls that resolved:
/// `Resolution::SourceLocationAffectedByRename`), as moves. [`directory_rename_moves`] says
/// where git puts them; [`place_directory_rename_moves`] puts them there.
fn moves_by_gix(conflicts: &[Conflict]) -> Vec<DirectoryRenameMove> {
    let mut moves = Vec::new();
    for conflict in conflicts {
        let Ok(Resolution::SourceLocationAffectedByRename { final_location }) = &conflict.resolution else {
            continue;
        };
        // One side is the renamed directory, the other the file that was added into it.
        if let Some(file) = [&conflict.ours, &conflict.theirs].into_iter().find(|change| !change.entry_mode().is_tree())
        {
            let (mode, id) = file.entry_mode_and_id();
            moves.push(DirectoryRenameMove {
                from: file.location().to_owned(),
                to: final_location.clone(),
                entry: (mode.kind(), id.to_owned()),
                conflict: true,
            });
        }
    }
    moves
}

/// **File locations in the merged tree** (with [`directory_rename_moves`]).
///
/// git: files added into a renamed directory end up where git's directory rename detection
/// puts them (`merge.directoryRenames=true`), or stay where they were added (`false`, or no
/// directory rename detected); with `conflict` (the default) every such move is a conflict,
/// so a clean merge has none. gix 0.90 moves the files of the directory renames it detects,
/// always. This undoes gix's moves git does not make and makes git's moves gix missed, in the
/// merged tree of a clean merge.
///
/// Delete with [`directory_rename_moves`]. Tests:
/// `conflicts::a_directory_renamed_to_the_top_level_agrees_with_merge_tree` (integrate's
/// merged tree with `true` and `false`).
pub(crate) fn place_directory_rename_moves(
    tree: &mut gix::objs::tree::Editor<'_>,
    conflicts: &[Conflict],
    git_moves: &[DirectoryRenameMove],
    mode: super::DirectoryRenames,
) -> anyhow::Result<()> {
    let wanted: Vec<&DirectoryRenameMove> = match mode {
        super::DirectoryRenames::True => git_moves.iter().collect(),
        super::DirectoryRenames::Conflict => git_moves.iter().filter(|m| !m.conflict).collect(),
        super::DirectoryRenames::False => Vec::new(),
    };
    let same = |a: &DirectoryRenameMove, b: &DirectoryRenameMove| a.from == b.from && a.to == b.to;
    let components = |path: &BString| path.split_str("/").map(|c| c.as_bstr().to_owned()).collect::<Vec<BString>>();
    let by_gix = moves_by_gix(conflicts);
    for undo in by_gix.iter().filter(|m| !wanted.iter().any(|w| same(w, m))) {
        tree.remove(components(&undo.to))?;
        tree.upsert(components(&undo.from), undo.entry.0, undo.entry.1)?;
    }
    for apply in wanted.into_iter().filter(|m| !by_gix.iter().any(|g| same(g, m))) {
        tree.remove(components(&apply.from))?;
        tree.upsert(components(&apply.to), apply.entry.0, apply.entry.1)?;
    }
    Ok(())
}

/// **A file both sides renamed alike** (and changed differently).
///
/// git: one conflict, at the new name only. gix 0.90: its index also keeps the old name at the
/// base stage. The old name is dropped unless another unresolved conflict is about it.
///
/// Delete when gix's `index_changed_after_applying_conflicts` leaves no stage at the source.
/// Test: `conflicts::a_file_renamed_alike_on_both_sides_conflicts_at_its_new_name_only`.
pub(crate) fn drop_sources_renamed_alike(
    paths: &mut BTreeMap<BString, ConflictKind>,
    conflicts: &[Conflict],
    how: TreatAsUnresolved,
) {
    let unresolved: Vec<&Conflict> = conflicts.iter().filter(|c| c.is_unresolved(how)).collect();
    for conflict in &unresolved {
        let (a, b) = (&conflict.ours, &conflict.theirs);
        let source = a.source_location();
        let renamed_alike = source != a.location() && source == b.source_location() && a.location() == b.location();
        let source_is_conflicted_itself =
            unresolved.iter().any(|other| other.ours.location() == source || other.theirs.location() == source);
        if renamed_alike && !source_is_conflicted_itself {
            paths.remove(source);
        }
    }
}

/// **Distinct types** (a file against a symlink or submodule, both sides changed).
///
/// git: keeps both, the symlink or submodule at the path and the regular file aside at
/// `<path>~<its side's label>` (slashes in the label as `_`), and lists both paths
/// ("CONFLICT (distinct types)"). gix 0.90 keeps one, at the path.
///
/// Delete when gix moves the regular file aside.
/// Test: `conflicts::type_change_against_a_modification_agrees_with_merge_tree`.
pub(crate) fn distinct_types_aside(
    paths: &mut BTreeMap<BString, ConflictKind>,
    conflict: &Conflict,
    our_label: &str,
    their_label: &str,
) {
    use gix::objs::tree::EntryKind;
    let (ours, theirs) = (&conflict.ours, &conflict.theirs);
    let both_modified = matches!(ours, Change::Modification { .. }) && matches!(theirs, Change::Modification { .. });
    let is_file = |change: &Change| matches!(change.entry_mode().kind(), EntryKind::Blob | EntryKind::BlobExecutable);
    if !both_modified || is_file(ours) == is_file(theirs) || ours.location() != theirs.location() {
        return;
    }
    let label = if is_file(ours) { our_label } else { their_label };
    let mut aside = ours.location().to_owned();
    aside.push_str(format!("~{}", label.replace('/', "_")));
    paths.insert(ours.location().to_owned(), ConflictKind::TypeChange);
    paths.insert(aside, ConflictKind::TypeChange);
}

/// **add/add of the same content with different modes.**
///
/// git: an add/add conflict at the path. gix 0.90: an unresolved conflict
/// (`ResolutionFailure::Unknown`) without index stages, so no path would be listed.
///
/// Delete when gix stages both sides of such an addition.
/// Test: `conflicts::same_content_added_with_different_modes_agrees_with_merge_tree`.
pub(crate) fn add_add_by_mode(paths: &mut BTreeMap<BString, ConflictKind>, conflict: &Conflict) {
    let (a, b) = (&conflict.ours, &conflict.theirs);
    if matches!(conflict.resolution, Err(ResolutionFailure::Unknown))
        && is_addition(a)
        && is_addition(b)
        && a.location() == b.location()
    {
        paths.insert(a.location().to_owned(), ConflictKind::AddAdd);
    }
}

/// The kind of each unresolved conflict, by every path it involves, in git's words (the
/// messages of `git merge-tree`). Two of gix's answers are renamed here:
/// - a directory on one side and a file on the other: gix may call it a type mismatch of two
///   additions (`OursAddedTheirsAddedTypeMismatch`) or force a resolution; git says
///   "CONFLICT (file/directory)";
/// - an add/add of the same content with different modes: gix's `Unknown` failure (see
///   [`add_add_by_mode`]); git says "CONFLICT (add/add)".
///
/// Test: `conflicts::conflict_kinds_of_unambiguous_pairs`.
pub(crate) fn conflict_kinds(conflicts: &[Conflict], how: TreatAsUnresolved) -> HashMap<BString, ConflictKind> {
    let mut kinds = HashMap::new();
    for conflict in conflicts.iter().filter(|c| c.is_unresolved(how)) {
        let (ours, theirs) = conflict.changes_in_resolution();
        let kind = match &conflict.resolution {
            Err(_) | Ok(Resolution::Forced(_)) if ours.entry_mode().is_tree() != theirs.entry_mode().is_tree() => {
                ConflictKind::FileDirectory
            }
            Err(ResolutionFailure::Unknown) if is_addition(ours) && is_addition(theirs) => ConflictKind::AddAdd,
            Err(failure) | Ok(Resolution::Forced(failure)) => failure_kind(failure),
            Ok(Resolution::SourceLocationAffectedByRename { .. }) => ConflictKind::DirectoryRename,
            Ok(Resolution::OursModifiedTheirsRenamedAndChangedThenRename { final_location: Some(_), .. }) => {
                ConflictKind::DirectoryRename
            }
            Ok(_) if is_addition(ours) && is_addition(theirs) => ConflictKind::AddAdd,
            Ok(_) => ConflictKind::Content,
        };
        let mut paths: Vec<BString> = vec![ours.location().to_owned(), theirs.location().to_owned()];
        match &conflict.resolution {
            Err(ResolutionFailure::OursModifiedTheirsDirectoryThenOursRenamed {
                renamed_unique_path_to_modified_blob,
            }) => paths.push(renamed_unique_path_to_modified_blob.clone()),
            Err(ResolutionFailure::OursDirectoryTheirsNonDirectoryTheirsRenamed { renamed_unique_path_of_theirs }) => {
                paths.push(renamed_unique_path_of_theirs.clone())
            }
            Err(ResolutionFailure::OursAddedTheirsAddedTypeMismatch { their_unique_location }) => {
                paths.push(their_unique_location.clone())
            }
            Ok(Resolution::OursModifiedTheirsRenamedAndChangedThenRename {
                final_location: Some(location), ..
            }) => paths.push(location.clone()),
            _ => {}
        }
        for path in paths {
            kinds.entry(path).or_insert(kind);
        }
    }
    kinds
}

fn is_addition(change: &Change) -> bool {
    matches!(change, Change::Addition { .. })
}

fn failure_kind(failure: &ResolutionFailure) -> ConflictKind {
    match failure {
        ResolutionFailure::SubmoduleMerge | ResolutionFailure::SubmoduleAddAdd => ConflictKind::Submodule,
        ResolutionFailure::OursRenamedTheirsRenamedToSameLocation
        | ResolutionFailure::OursRenamedTheirsRenamedDifferently { .. } => ConflictKind::RenameRename,
        ResolutionFailure::OursModifiedTheirsDirectoryThenOursRenamed { .. }
        | ResolutionFailure::OursDirectoryTheirsNonDirectoryTheirsRenamed { .. } => ConflictKind::FileDirectory,
        ResolutionFailure::OursAddedTheirsAddedTypeMismatch { .. }
        | ResolutionFailure::OursModifiedTheirsRenamedTypeMismatch => ConflictKind::TypeChange,
        ResolutionFailure::OursDeletedTheirsRenamed => ConflictKind::RenameDelete,
        ResolutionFailure::OursModifiedTheirsDeleted => ConflictKind::ModifyDelete,
        ResolutionFailure::Unknown => ConflictKind::Content,
    }
}

/// A file one side added (or renamed) into a directory that the other side renamed, and where
/// git's directory rename detection puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirectoryRenameMove {
    pub from: BString,
    pub to: BString,
    /// The file's mode and blob.
    pub entry: (gix::objs::tree::EntryKind, ObjectId),
    /// Is it a file location conflict with `merge.directoryRenames=conflict`? Not when the
    /// move takes a renamed file back to where it came from, and the renaming side changed
    /// it there (git merges the two as one file, cleanly).
    pub conflict: bool,
}

/// **Directory renames as git detects them** (`merge-ort.c`, `diffcore-rename.c`).
///
/// git: a directory D of the merge base was renamed by side S when D is gone entirely on S and
/// the other side O added a file directly into D (D is then "relevant"; its removed
/// subdirectories too). Each file rename on S out of D votes for `dirname(new)` (and, while
/// the trailing components agree, for the same rename of D's relevant ancestors); the
/// destination with the unique majority wins (`get_provisional_directory_renames`), also the
/// top level (`moved/x` -> `x` renames `moved/` to the top level). A directory renamed on both
/// sides counts on neither (`handle_directory_level_conflicts`); a rename into a directory the
/// other side itself renamed away is skipped (`dir_rename_exclusions`). Each file O added or
/// renamed below a renamed directory (the deepest) is moved along (`apply_dir_rename`):
/// `merge.directoryRenames=conflict` (the default) reports "CONFLICT (file location)" at the
/// new path, `true` moves it cleanly, `false` detects nothing.
///
/// gix 0.90: detects directory renames by pairing trees (a tree rewrite), with no majority
/// rule and no rename to the top level, and always moves cleanly (git's `true`). The results
/// differ for a directory whose files moved one by one (to the top level, or with changes),
/// for a directory whose new subdirectory stays put in git (it is not relevant), and for
/// `conflict`/`false`.
///
/// Not reproduced here (left as gix has them, listed in the report of the property test):
/// "directory rename split" (no majority: git conflicts without a path), a file renamed away
/// and moved back home unchanged by a directory rename (git conflicts without a path), "implicit dir
/// rename" collisions and paths in the way (git conflicts, the file stays), and directory
/// renames inside the merges that build a virtual merge base.
///
/// This also puts the other side's rename target of a rename/rename below the renamed
/// directory, as git does (`dir/x2` -> `newdir/x2` when `dir` became `newdir`; test
/// `conflicts::rename_inside_a_renamed_directory_agrees_with_merge_tree`).
///
/// Delete when gix detects directory renames with git's rules and reads
/// `merge.directoryRenames`. Tests: `conflicts::a_directory_renamed_to_the_top_level_agrees_with_merge_tree`
/// (all three settings), `conflicts::every_pair_agrees_with_git_merge_tree` (dirmv vs dir-add),
/// `conflicts::new_subdirectory_of_a_renamed_directory_agrees_with_merge_tree`, and seeds 16
/// and 1034 of `merge_property`.
pub(crate) fn directory_rename_moves(
    repo: &gix::Repository,
    base: ObjectId,
    sides: [ObjectId; 2],
    rewrites: Option<gix::diff::Rewrites>,
    diff_cache: &mut gix::diff::blob::Platform,
) -> anyhow::Result<Vec<DirectoryRenameMove>> {
    use std::collections::HashSet;
    let Some(rewrites) = rewrites else { return Ok(Vec::new()) };
    if sides.contains(&base) {
        return Ok(Vec::new());
    }
    // What each side removed (directories) and added (files), without rename detection.
    let mut removed_dirs: [HashSet<BString>; 2] = Default::default();
    let mut added: [Vec<BString>; 2] = Default::default();
    for (s, tree) in sides.iter().enumerate() {
        for (path, mode, kind) in crate::conflicts::entry_changes(repo, base, *tree)? {
            match kind {
                ChangeKind::Deleted if mode.is_tree() => {
                    removed_dirs[s].insert(path);
                }
                ChangeKind::Added if !mode.is_tree() => added[s].push(path),
                _ => {}
            }
        }
    }
    // Directories removed on S with a file added directly into them on O: "relevant for self".
    let mut relevant: [HashSet<BString>; 2] = Default::default();
    for s in 0..2 {
        for path in &added[1 - s] {
            let dir = parent_dir(path.as_bstr()).map_or_else(BString::default, ToOwned::to_owned);
            if removed_dirs[s].contains(&dir) {
                relevant[s].insert(dir);
            }
        }
    }
    if relevant.iter().all(HashSet::is_empty) {
        return Ok(Vec::new());
    }
    #[derive(PartialEq)]
    enum Relevance {
        NotRelevant,
        ForAncestor,
        ForSelf,
    }
    let mut dir_renames: [BTreeMap<BString, BString>; 2] = Default::default();
    for s in 0..2 {
        if relevant[s].is_empty() {
            continue;
        }
        let relevance = |dir: &BStr| -> Option<Relevance> {
            if !removed_dirs[s].contains(dir) {
                return None;
            }
            Some(if relevant[s].contains(dir) {
                Relevance::ForSelf
            } else if ancestors(dir).any(|a| relevant[s].contains(a)) {
                Relevance::ForAncestor
            } else {
                Relevance::NotRelevant
            })
        };
        let mut counts: BTreeMap<BString, BTreeMap<BString, usize>> = BTreeMap::new();
        for (old, new) in renames(repo, base, sides[s], rewrites, diff_cache)? {
            let (old_parts, new_parts): (Vec<&[u8]>, Vec<&[u8]>) =
                (old.split_str("/").collect(), new.split_str("/").collect());
            let (mut o, mut n) = (old_parts.len() - 1, new_parts.len() - 1);
            let mut first = true;
            loop {
                let old_dir = old_parts[..o].join(&b'/');
                let Some(flag) = relevance(old_dir.as_bstr()) else { break };
                if !first && old_parts[o] != new_parts[n] {
                    break;
                }
                if first || flag == Relevance::ForSelf {
                    let new_dir = BString::from(new_parts[..n].join(&b'/'));
                    *counts.entry(old_dir.into()).or_default().entry(new_dir).or_default() += 1;
                }
                first = false;
                if flag == Relevance::NotRelevant || o == 0 || n == 0 {
                    break;
                }
                o -= 1;
                n -= 1;
            }
        }
        for (old_dir, targets) in counts {
            if relevance(old_dir.as_bstr()) == Some(Relevance::NotRelevant) {
                continue;
            }
            let max = targets.values().copied().max().unwrap_or(0);
            let mut best = targets.iter().filter(|(_, count)| **count == max);
            if let (Some((dir, _)), None) = (best.next(), best.next()) {
                dir_renames[s].insert(old_dir, dir.clone());
            }
        }
    }
    let both: Vec<BString> = dir_renames[0].keys().filter(|d| dir_renames[1].contains_key(*d)).cloned().collect();
    for dir in both {
        dir_renames[0].remove(&dir);
        dir_renames[1].remove(&dir);
    }
    // Apply each side's renames to the other side's new paths.
    let base_tree = repo.find_tree(base)?;
    let mut moves = Vec::new();
    for s in 0..2 {
        let o = 1 - s;
        if dir_renames[s].is_empty() {
            continue;
        }
        let other_tree = repo.find_tree(sides[o])?;
        let own_tree = repo.find_tree(sides[s])?;
        let mut renamed_from: Option<BTreeMap<BString, BString>> = None;
        let mut targets: BTreeMap<BString, Vec<BString>> = BTreeMap::new();
        for path in &added[o] {
            let Some((old_dir, new_dir)) = ancestors(path.as_bstr()).find_map(|dir| dir_renames[s].get_key_value(dir))
            else {
                continue;
            };
            if dir_renames[o].contains_key(new_dir) {
                continue;
            }
            let rest = &path[old_dir.len() + usize::from(!old_dir.is_empty())..];
            let mut to = new_dir.clone();
            if !to.is_empty() {
                to.push_byte(b'/');
            }
            to.push_str(rest);
            targets.entry(to).or_default().push(path.clone());
        }
        for (to, from) in targets {
            let to_path = gix::path::from_bstr(to.as_bstr())?.into_owned();
            // git (`path_in_way`): anything at the new path, except the base's file that this
            // very file was renamed from (whatever the renaming side did to it).
            let base_entry = base_tree.lookup_entry_by_path(&to_path)?;
            let base_has_it = base_entry.is_some();
            let mut back_home = false;
            let in_base = base_has_it && {
                let sources = match &mut renamed_from {
                    Some(sources) => sources,
                    None => renamed_from.insert(
                        renames(repo, base, sides[o], rewrites, diff_cache)?
                            .into_iter()
                            .map(|(old, new)| (new, old))
                            .collect(),
                    ),
                };
                back_home = from.len() == 1 && sources.get(&from[0]) == Some(&to);
                !back_home
            };
            let in_the_way = in_base
                || other_tree.lookup_entry_by_path(&to_path)?.is_some()
                || (!base_has_it && own_tree.lookup_entry_by_path(&to_path)?.is_some());
            // Several files to one path, or something in the way: git conflicts and leaves
            // them where they are (not reproduced: see above).
            if let ([from], false) = (&from[..], in_the_way) {
                let from_path = gix::path::from_bstr(from.as_bstr())?.into_owned();
                let Some(entry) = other_tree.lookup_entry_by_path(&from_path)? else { continue };
                let entry = (entry.mode().kind(), entry.object_id());
                let changed_by_renamer = back_home
                    && own_tree.lookup_entry_by_path(&to_path)?.map(|e| (e.mode(), e.object_id()))
                        != base_entry.as_ref().map(|e| (e.mode(), e.object_id()));
                // Back home unchanged: git says "CONFLICT (file location)" but stages nothing, so
                // it lists no path (not reproduced: no conflict here; see above).
                let unchanged =
                    back_home && base_entry.as_ref().map(|e| (e.mode().kind(), e.object_id())) == Some(entry);
                moves.push(DirectoryRenameMove {
                    from: from.clone(),
                    to,
                    entry,
                    conflict: !changed_by_renamer && !unchanged,
                });
            }
        }
    }
    moves.sort_by(|a, b| a.from.cmp(&b.from));
    Ok(moves)
}

/// The directories above `path`, deepest first, ending with the top level (`""`).
fn ancestors(path: &BStr) -> impl Iterator<Item = &BStr> {
    path.rfind_iter("/").map(move |slash| path[..slash].as_bstr()).chain(std::iter::once(b"".as_bstr()))
}

/// The file renames (no copies) from `from` to `to`, detected as the merge detects them.
fn renames(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
    rewrites: gix::diff::Rewrites,
    diff_cache: &mut gix::diff::blob::Platform,
) -> anyhow::Result<Vec<(BString, BString)>> {
    let (old, new) = (repo.find_tree(from)?, repo.find_tree(to)?);
    let mut out = Vec::new();
    gix::diff::tree_with_rewrites(
        gix::objs::TreeRefIter::from_bytes(&old.data, repo.object_hash()),
        gix::objs::TreeRefIter::from_bytes(&new.data, repo.object_hash()),
        diff_cache,
        &mut gix::diff::tree::State::default(),
        &repo.objects,
        |change| {
            if let gix::diff::tree_with_rewrites::ChangeRef::Rewrite {
                source_location,
                location,
                entry_mode,
                copy: false,
                ..
            } = change
                && !entry_mode.is_tree()
            {
                out.push((source_location.to_owned(), location.to_owned()));
            }
            Ok(std::ops::ControlFlow::Continue(()))
        },
        gix::diff::tree_with_rewrites::Options {
            location: Some(gix::diff::tree::recorder::Location::Path),
            rewrites: Some(rewrites),
        },
    )?;
    diff_cache.clear_resource_cache_keep_allocation();
    Ok(out)
}

fn parent_dir(path: &BStr) -> Option<&BStr> {
    path.rfind("/").map(|slash| path[..slash].as_bstr())
}
