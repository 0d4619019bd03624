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
//! - **Merge bases through a merge's second parent**: `vendor/gix-revision` (`remove_redundant`
//!   in `src/merge_base/function.rs`). gix-revision 0.52 walked only first parents there, and
//!   kept an ancestor of another base as a base. Test:
//!   `oplog::tests::interleavings::any_interleaving_of_events_and_syncs_converges_without_loss`.
//! - **Configuration read as git reads it** (`super::MergeConfig`): rename limit 7000 and
//!   `merge.renameLimit` without `merge.renames` (gix: 1000, and only with `*.renames`;
//!   test `conflicts::more_than_a_thousand_renames_agree_with_merge_tree`), histogram diff
//!   (gix: `diff.algorithm`), attributes from the worktree (gix: the index; test
//!   `conflicts::worktree_attributes_agree_with_merge_tree`), `merge.renormalize` through a
//!   pipeline without filter drivers (test `conflicts::merge_renormalize_agrees_with_merge_tree`),
//!   and `merge.directoryRenames` (gix has no such setting: [`directory_renames`]).
//!
//! Not corrected (the seeds of `merge_property::KNOWN_DIFFERENCES` show each):
//! - **Rename pairing**: git looks for inexact renames only of sources whose content matters
//!   to the merge, breaks ties of equal similarity by its tree walk (directories new on one
//!   side come last) and estimates similarity its own way; gix's rename tracker pairs some
//!   deleted files with other new files, so conflicts sit at other paths (the verdict agrees).
//! - **Rename/add collisions** (a file renamed onto a file the other side added): git merges
//!   the rename with the other side's changes first ("rename involved in collision" when that
//!   conflicts, leaving nested markers without listing the path) and then with the added
//!   file, which is sometimes clean; gix reports add/add. git's rule for the second merge is
//!   not pinned down yet (a merge from the source's base version does not match every case).
//! - **Directory renames inside virtual merge bases**: git detects none there
//!   (`merge-ort.c`: only at `call_depth` 0); gix's tree merges building the base move files
//!   along its own tree rewrites. No case seen in the property test yet.

use std::collections::{BTreeMap, HashMap, HashSet};

use bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::ObjectId;
use gix::diff::tree_with_rewrites::Change;
use gix::merge::plumbing::tree::{Conflict, Resolution, ResolutionFailure, TreatAsUnresolved};

use crate::conflicts::{ChangeKind, ConflictKind, ConflictPath};

/// The files gix moved along with a directory it found renamed (it calls that resolved:
/// `Resolution::SourceLocationAffectedByRename`), as moves. [`directory_renames`] says
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

/// **File locations in the merged tree** (with [`directory_renames`]).
///
/// git: files added into a renamed directory end up where git's directory rename detection
/// puts them (`merge.directoryRenames=true`), or stay where they were added (`false`, or no
/// directory rename detected); with `conflict` (the default) every such move is a conflict,
/// so a clean merge has none. gix 0.90 moves the files of the directory renames it detects,
/// always. This undoes gix's moves git does not make and makes git's moves gix missed, in the
/// merged tree of a clean merge.
///
/// Delete with [`directory_renames`]. Tests:
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
/// The new names count after git's directory renames (`moves`): a file one side renamed into
/// a directory the other side renamed, which takes it to where the other side renamed the
/// same file, is renamed alike for git (one conflict, at that name); gix has a rename/rename
/// to two names (seed 1981 of `merge_property`).
///
/// Delete when gix's `index_changed_after_applying_conflicts` leaves no stage at the source
/// (and with [`directory_renames`] for the moved names). Tests:
/// `conflicts::a_file_renamed_alike_on_both_sides_conflicts_at_its_new_name_only`,
/// `conflicts::a_file_renamed_alike_through_a_directory_rename_conflicts_at_its_new_name_only`.
pub(crate) fn drop_sources_renamed_alike(
    paths: &mut BTreeMap<BString, ConflictKind>,
    conflicts: &[Conflict],
    moves: &[DirectoryRenameMove],
    how: TreatAsUnresolved,
) {
    let moved = |location: &BStr| -> BString {
        moves.iter().find(|m| m.from == location).map_or_else(|| location.to_owned(), |m| m.to.clone())
    };
    let unresolved: Vec<&Conflict> = conflicts.iter().filter(|c| c.is_unresolved(how)).collect();
    for conflict in &unresolved {
        let (a, b) = (&conflict.ours, &conflict.theirs);
        let source = a.source_location();
        let (a_to, b_to) = (moved(a.location()), moved(b.location()));
        let renamed_alike = source != a_to && source == b.source_location() && a_to == b_to;
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
    /// Is it a listed file location conflict with `merge.directoryRenames=conflict`? Not
    /// always when the move takes a renamed file back to where it came from (see [`back_home`]).
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
/// Conflicts git reports without a conflicted file, which this reports as the kinds git lists
/// no path for (see [`ConflictKind::is_listed`]):
/// - no unique majority: "CONFLICT (directory rename split)", the directory stays put
///   (`DirectoryRenameSplit`, at the directory);
/// - several files moved to one path, or something in the way there (`path_in_way`):
///   "CONFLICT (implicit dir rename)", the files stay where they were
///   (`DirectoryRenameCollision`, `FileInWayOfDirectoryRename`, at that path);
/// - a file O renamed into D, which the directory rename takes back home: see
///   [`back_home`].
///
/// gix 0.90: detects directory renames by pairing trees (a tree rewrite), with no majority
/// rule and no rename to the top level, and always moves cleanly (git's `true`). The results
/// differ for a directory whose files moved one by one (to the top level, or with changes),
/// for a directory whose new subdirectory stays put in git (it is not relevant), for
/// `conflict`/`false`, and gix has none of the conflicts above.
///
/// Not reproduced here: directory renames inside the merges that build a virtual merge base
/// (git detects none there), and which renames git's rename detection finds at all (it skips
/// inexact renames of sources no conflict depends on).
///
/// This also puts the other side's rename target of a rename/rename below the renamed
/// directory, as git does (`dir/x2` -> `newdir/x2` when `dir` became `newdir`; test
/// `conflicts::rename_inside_a_renamed_directory_agrees_with_merge_tree`).
///
/// Delete when gix detects directory renames with git's rules and reads
/// `merge.directoryRenames`. Tests: `conflicts::a_directory_renamed_to_the_top_level_agrees_with_merge_tree`
/// (all three settings), `conflicts::every_pair_agrees_with_git_merge_tree` (dirmv vs dir-add),
/// `conflicts::new_subdirectory_of_a_renamed_directory_agrees_with_merge_tree`,
/// `conflicts::directory_rename_conflicts_without_a_listed_file_agree_with_merge_tree` (split,
/// collision, in the way), `conflicts::a_file_moved_back_home_by_a_directory_rename_agrees_with_merge_tree`,
/// and seeds 16 and 1034 of `merge_property`.
pub(crate) fn directory_renames(
    repo: &gix::Repository,
    base: ObjectId,
    sides: [ObjectId; 2],
    mode: super::DirectoryRenames,
    rewrites: Option<gix::diff::Rewrites>,
    diff_cache: &mut gix::diff::blob::Platform,
) -> anyhow::Result<DirectoryRenames> {
    let mut outcome = DirectoryRenames::default();
    let Some(rewrites) = rewrites else { return Ok(outcome) };
    if sides.contains(&base) || mode == super::DirectoryRenames::False {
        return Ok(outcome);
    }
    let changes = [SideChanges::of(repo, base, sides[0])?, SideChanges::of(repo, base, sides[1])?];
    // Directories removed on S with a file added directly into them on O: "relevant for self".
    let mut relevant: [HashSet<BString>; 2] = Default::default();
    for s in 0..2 {
        for path in &changes[1 - s].added {
            let dir = parent_dir(path.as_bstr()).map_or_else(BString::default, ToOwned::to_owned);
            if changes[s].removed_dirs.contains(&dir) {
                relevant[s].insert(dir);
            }
        }
    }
    if relevant.iter().all(HashSet::is_empty) {
        return Ok(outcome);
    }
    let mut dir_renames: [BTreeMap<BString, BString>; 2] = Default::default();
    for s in 0..2 {
        if !relevant[s].is_empty() {
            let votes =
                votes(&renames(repo, base, sides[s], rewrites, diff_cache)?, &changes[s].removed_dirs, &relevant[s]);
            dir_renames[s] = majorities(votes, &mut outcome.unlisted);
        }
    }
    let both: Vec<BString> = dir_renames[0].keys().filter(|d| dir_renames[1].contains_key(*d)).cloned().collect();
    for dir in both {
        dir_renames[0].remove(&dir);
        dir_renames[1].remove(&dir);
    }
    // Apply each side's renames to the other side's new paths.
    for s in 0..2 {
        if dir_renames[s].is_empty() {
            continue;
        }
        let o = 1 - s;
        let apply = Apply {
            base: repo.find_tree(base)?,
            adder: repo.find_tree(sides[o])?,
            renamer: repo.find_tree(sides[s])?,
            adder_renames: renames(repo, base, sides[o], rewrites, diff_cache)?
                .into_iter()
                .map(|(old, new)| (new, old))
                .collect(),
            adder_detects_renames: !relevant[o].is_empty() || changes[o].deletes_what_the_other_changed(&changes[s]),
            mode,
        };
        for (to, from) in targets(&changes[o].added, &dir_renames[s], &dir_renames[o]) {
            apply.one(to, from, &mut outcome)?;
        }
    }
    outcome.moves.sort_by(|a, b| a.from.cmp(&b.from));
    Ok(outcome)
}

/// What git's directory rename detection does to one merge (see [`directory_renames`]).
#[derive(Debug, Default)]
pub(crate) struct DirectoryRenames {
    /// The files moved along with a renamed directory.
    pub moves: Vec<DirectoryRenameMove>,
    /// The conflicts git reports without a conflicted file.
    pub unlisted: Vec<ConflictPath>,
}

/// What one side changed since the merge base, without rename detection.
struct SideChanges {
    /// Directories of the base that are gone.
    removed_dirs: HashSet<BString>,
    /// Files that are new.
    added: Vec<BString>,
    /// Files of the base that are gone (as files).
    deleted: HashSet<BString>,
    /// Files of the base that are changed (in content, mode or type) or gone.
    changed: HashSet<BString>,
}

impl SideChanges {
    fn of(repo: &gix::Repository, base: ObjectId, side: ObjectId) -> anyhow::Result<SideChanges> {
        let mut changes = SideChanges {
            removed_dirs: HashSet::new(),
            added: Vec::new(),
            deleted: HashSet::new(),
            changed: HashSet::new(),
        };
        for (path, mode, kind) in crate::conflicts::entry_changes(repo, base, side)? {
            match (kind, mode.is_tree()) {
                (ChangeKind::Deleted, true) => {
                    changes.removed_dirs.insert(path);
                }
                (ChangeKind::Added, false) => changes.added.push(path),
                (ChangeKind::Deleted, false) => {
                    changes.deleted.insert(path.clone());
                    changes.changed.insert(path);
                }
                (ChangeKind::Modified, false) => {
                    changes.changed.insert(path);
                }
                (ChangeKind::Added | ChangeKind::Modified, true) => {}
            }
        }
        Ok(changes)
    }

    /// Does this side delete a file the other side changed (or deleted too)? git then has a
    /// rename source whose content matters, and runs rename detection for this side, which
    /// finds its exact renames too (`add_pair`'s `content_relevant`, `possible_side_renames`).
    fn deletes_what_the_other_changed(&self, other: &SideChanges) -> bool {
        self.deleted.iter().any(|path| other.changed.contains(path))
    }
}

/// The votes of `renames` for where each removed directory went (`update_dir_rename_counts`):
/// old directory -> new directory -> number of files.
fn votes(
    renames: &[(BString, BString)],
    removed_dirs: &HashSet<BString>,
    relevant: &HashSet<BString>,
) -> BTreeMap<BString, BTreeMap<BString, usize>> {
    let relevance = |dir: &BStr| -> Option<Relevance> {
        if !removed_dirs.contains(dir) {
            return None;
        }
        Some(if relevant.contains(dir) {
            Relevance::ForSelf
        } else if ancestors(dir).any(|a| relevant.contains(a)) {
            Relevance::ForAncestor
        } else {
            Relevance::NotRelevant
        })
    };
    let mut counts: BTreeMap<BString, BTreeMap<BString, usize>> = BTreeMap::new();
    for (old, new) in renames {
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
    // git keeps the counts of relevant directories only (`cleanup_dir_rename_info`).
    counts.retain(|dir, _| relevance(dir.as_bstr()) != Some(Relevance::NotRelevant));
    counts
}

#[derive(PartialEq)]
enum Relevance {
    NotRelevant,
    ForAncestor,
    ForSelf,
}

/// Each directory's destination with the unique most votes; a tie is git's "directory rename
/// split" conflict (`get_provisional_directory_renames`), and the directory is not renamed.
fn majorities(
    votes: BTreeMap<BString, BTreeMap<BString, usize>>,
    unlisted: &mut Vec<ConflictPath>,
) -> BTreeMap<BString, BString> {
    let mut renamed = BTreeMap::new();
    for (old_dir, targets) in votes {
        let max = targets.values().copied().max().unwrap_or(0);
        let mut best = targets.into_iter().filter(|(_, count)| *count == max);
        match (best.next(), best.next()) {
            (Some((dir, _)), None) => {
                renamed.insert(old_dir, dir);
            }
            (Some(_), Some(_)) => {
                unlisted.push(ConflictPath::unlisted(old_dir, ConflictKind::DirectoryRenameSplit, []))
            }
            (None, _) => {}
        }
    }
    renamed
}

/// Where the directory renames of one side put the other side's new files: new path -> the
/// files (`compute_collisions`). A rename into a directory the adding side renamed away
/// itself is skipped (`dir_rename_exclusions`).
fn targets(
    added: &[BString],
    renamed: &BTreeMap<BString, BString>,
    adder_renamed: &BTreeMap<BString, BString>,
) -> BTreeMap<BString, Vec<BString>> {
    let mut targets: BTreeMap<BString, Vec<BString>> = BTreeMap::new();
    for path in added {
        let Some((old_dir, new_dir)) = ancestors(path.as_bstr()).find_map(|dir| renamed.get_key_value(dir)) else {
            continue;
        };
        if adder_renamed.contains_key(new_dir) {
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
    targets
}

/// Moves the files of the adding side along with the renaming side's directory renames.
struct Apply<'repo> {
    base: gix::Tree<'repo>,
    adder: gix::Tree<'repo>,
    renamer: gix::Tree<'repo>,
    /// The adding side's renames, new path -> old path.
    adder_renames: BTreeMap<BString, BString>,
    /// Does git run rename detection for the adding side at all? See [`back_home`].
    adder_detects_renames: bool,
    mode: super::DirectoryRenames,
}

impl Apply<'_> {
    /// The files `from` that the directory renames put at `to`.
    fn one(&self, to: BString, from: Vec<BString>, outcome: &mut DirectoryRenames) -> anyhow::Result<()> {
        let to_path = gix::path::from_bstr(to.as_bstr())?.into_owned();
        let entry_of = |tree: &gix::Tree<'_>| -> anyhow::Result<Option<(gix::objs::tree::EntryKind, ObjectId)>> {
            Ok(tree.lookup_entry_by_path(&to_path)?.map(|e| (e.mode().kind(), e.object_id())))
        };
        let (base_entry, renamer_entry) = (entry_of(&self.base)?, entry_of(&self.renamer)?);
        let home = match &from[..] {
            [from] if self.adder_renames.get(from) == Some(&to) => Some(from),
            _ => None,
        };
        // git (`path_in_way`): the adding side's own file at the new path, or the base's file
        // there unless this very file was renamed from it. A file only the renaming side has
        // there is no obstacle: the two meet at the new path (an add/add).
        let in_the_way =
            (base_entry.is_some() && home.is_none()) || self.adder.lookup_entry_by_path(&to_path)?.is_some();
        if in_the_way || from.len() > 1 {
            let kind = if in_the_way {
                ConflictKind::FileInWayOfDirectoryRename
            } else {
                ConflictKind::DirectoryRenameCollision
            };
            outcome.unlisted.push(ConflictPath::unlisted(to, kind, from));
            return Ok(());
        }
        let from = &from[0];
        let from_path = gix::path::from_bstr(from.as_bstr())?.into_owned();
        let Some(entry) = self.adder.lookup_entry_by_path(&from_path)? else { return Ok(()) };
        let entry = (entry.mode().kind(), entry.object_id());
        let mut conflict = true;
        if home.is_some() {
            match back_home(self.adder_detects_renames, base_entry, renamer_entry, entry) {
                BackHome::Listed => {}
                BackHome::RenamedOnBothSides => conflict = false,
                // With `true`, git's message is no conflict.
                BackHome::Unlisted if self.mode == super::DirectoryRenames::True => conflict = false,
                BackHome::Unlisted => {
                    conflict = false;
                    let kind = ConflictKind::FileLocationUnlisted;
                    outcome.unlisted.push(ConflictPath::unlisted(to.clone(), kind, [from.clone()]));
                }
            }
        }
        outcome.moves.push(DirectoryRenameMove { from: from.clone(), to, entry, conflict });
        Ok(())
    }
}

/// **A file taken back home, in the conflicts** (with [`back_home`]).
///
/// git: where its rename detection saw the rename that a directory rename undoes, it stages
/// nothing for the file, whatever both sides did to it, and reports "CONFLICT (file
/// location)" only where the merge conflicts for another reason; with nothing else
/// conflicted it merges cleanly, without the message (observed with git 2.47: merge-ort redoes
/// a merge once rename detection has run, with the renames cached, and that run decides).
/// gix content-merges the file at its place (and may conflict there).
///
/// This drops gix's conflicts about such a file where others remain, and the file location
/// conflicts where none do. A content conflict of gix's about the file alone stays: git's
/// clean merge drops the file from its merged tree (git 2.47), and neither the gate nor
/// integrate should call that clean (seed 1062 of `merge_property`, a known difference).
///
/// Delete with [`back_home`]. Test:
/// `conflicts::a_file_moved_back_home_by_a_directory_rename_agrees_with_merge_tree`; seed 1286.
pub(crate) fn files_taken_home(listed: &mut Vec<ConflictPath>, unlisted: &mut Vec<ConflictPath>) {
    let taken_home = |c: &ConflictPath| c.kind == ConflictKind::FileLocationUnlisted;
    let home: HashSet<BString> = unlisted
        .iter()
        .filter(|c| taken_home(c))
        .flat_map(|c| std::iter::once(&c.path).chain(&c.sources))
        .map(|path| path.0.clone())
        .collect();
    let (about_home, others): (Vec<ConflictPath>, Vec<ConflictPath>) =
        listed.drain(..).partition(|c| home.contains(&c.path.0));
    if others.is_empty() && unlisted.iter().all(taken_home) {
        *listed = about_home;
        unlisted.clear();
    } else {
        *listed = others;
    }
}

/// How git ends a file that O renamed from X into a directory S renamed, which takes it back
/// to X.
enum BackHome {
    /// "CONFLICT (file location)" at X, listed (base, S's and O's file staged at X).
    Listed,
    /// "CONFLICT (file location)", with nothing staged, or clean (see [`files_taken_home`]).
    Unlisted,
    /// S renamed (or deleted) X too: the rename/rename (rename/delete) at X is the conflict,
    /// as gix has it.
    RenamedOnBothSides,
}

/// **A file taken back home by a directory rename** (O renamed X to D/X, S renamed D so that
/// D/X becomes X again).
///
/// git: what happens depends on whether git's rename detection sees O's rename at all. It
/// runs for O only when O has a rename source that matters (a file O deleted that S changed
/// or deleted too, or a file in a directory O removed and S added into), and then finds exact
/// renames, and inexact ones of sources that matter (X does when S changed it):
/// - not seen: D/X is an addition, moved to X by the directory rename: "CONFLICT (file
///   location)" at X, listed with the base's, S's and O's file staged there (seed 1201);
/// - seen: "CONFLICT (file location)" with nothing staged, where the merge conflicts anyway,
///   else clean (seeds 3016, 1286; see [`files_taken_home`]); git 2.47 then drops the file
///   from its merged tree, where git-agent keeps it at X;
/// - S renamed X as well: a rename/rename at X, as gix has it (seed 16; git 2.47 crashes
///   where S deleted X).
///
/// gix 0.90 has no directory rename here (see [`directory_renames`]).
///
/// Delete with [`directory_renames`]. Test:
/// `conflicts::a_file_moved_back_home_by_a_directory_rename_agrees_with_merge_tree`; seeds
/// 1201 and 3016 of `merge_property`.
fn back_home(
    adder_detects_renames: bool,
    base: Option<(gix::objs::tree::EntryKind, ObjectId)>,
    renamer: Option<(gix::objs::tree::EntryKind, ObjectId)>,
    moved: (gix::objs::tree::EntryKind, ObjectId),
) -> BackHome {
    if renamer.is_none() {
        return BackHome::RenamedOnBothSides;
    }
    let changed_by_renamer = renamer != base;
    let exact = base == Some(moved);
    match changed_by_renamer || (exact && adder_detects_renames) {
        false => BackHome::Listed,
        true => BackHome::Unlisted,
    }
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
