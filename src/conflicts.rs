//! Pairwise conflict detection between agent branches, in memory, without touching any
//! worktree, index or ref.
//!
//! Checking N branches naively costs N(N-1)/2 three-way merges. Most pairs of agent branches
//! touch disjoint files and cannot conflict, so:
//!
//! 1. each branch is diffed once against its merge base with the target (N tree diffs);
//! 2. the changed paths are indexed, and a pair is a *candidate* only if the two branches
//!    change the same path, a path that is a directory on the other side, add a file into a
//!    directory the other side deleted from (a possible directory rename), share commits, or
//!    forked from different target commits;
//! 3. only candidates get a real in-memory merge (gix, the same `ort`-style algorithm as
//!    `git merge-tree`), on all cores, with caches reused across merges.
//!
//! A pair that is not a candidate merges cleanly: both sides start from the same commit X,
//! their own commits are disjoint, so X is their merge base, and a three-way merge of changes
//! to disjoint paths has nothing to conflict on.
//!
//! Verdicts and conflicted paths follow `git merge-tree --write-tree`; where gix's answer
//! differs from git's (directory renames, "CONFLICT (file location)", distinct types, ...) the
//! correction is in `crate::merge::shims`. External merge drivers and filters configured in
//! the repository are never run by this read-only check.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::ObjectId;
use gix::merge::plumbing::tree::{Resolution, ResolutionFailure, TreatAsUnresolved};
use serde::Serialize;

use crate::merge::{DirectoryRenames, shims};
use crate::output::JsonPath;

/// A branch to check: the task it belongs to and the commit to merge.
#[derive(Debug, Clone)]
pub struct Branch {
    pub task: String,
    /// The label of its side in a merge: the branch name without `refs/heads/`.
    pub label: String,
    pub head: ObjectId,
    pub scope: Vec<String>,
    /// The tasks it depends on (spawn --after).
    pub after: Vec<String>,
    /// The tips of the branches of the tasks it depends on, where they exist: what it may
    /// have inherited by merging or stacking on them.
    pub dependency_tips: Vec<ObjectId>,
}

/// What the branches are merged into.
#[derive(Debug, Clone)]
pub struct Target {
    pub label: String,
    pub commit: ObjectId,
}

/// How a path conflicts, in the words of `git merge-tree`'s messages.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    Content,
    AddAdd,
    ModifyDelete,
    RenameDelete,
    RenameRename,
    FileDirectory,
    DirectoryRename,
    Submodule,
    TypeChange,
    // Conflicts git reports without a conflicted file (`git merge-tree` exits 1 and lists no
    // path for them, only a message): the path names what the message is about.
    /// "CONFLICT (directory rename split)": no destination got a majority of the directory's
    /// files; the path is the directory.
    DirectoryRenameSplit,
    /// "CONFLICT (implicit dir rename)": directory renames would put several files (the
    /// `sources`) at the path; they stay where they were.
    DirectoryRenameCollision,
    /// "CONFLICT (implicit dir rename)": something is in the way at the path where a directory
    /// rename would put the `sources`; they stay where they were.
    FileInWayOfDirectoryRename,
    /// "CONFLICT (file location)" for a file a directory rename takes back to where it was
    /// renamed from (its `sources`), where git stages nothing.
    FileLocationUnlisted,
}

impl ConflictKind {
    /// Does `git merge-tree` list a conflicted file at the path? Not for the conflicts it
    /// reports with a message only.
    pub fn is_listed(self) -> bool {
        !matches!(
            self,
            ConflictKind::DirectoryRenameSplit
                | ConflictKind::DirectoryRenameCollision
                | ConflictKind::FileInWayOfDirectoryRename
                | ConflictKind::FileLocationUnlisted
        )
    }
}

impl std::fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::output::kebab(self).as_str())
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
pub struct ConflictPath {
    pub path: JsonPath,
    pub kind: ConflictKind,
    /// For the kinds git lists no file for: the files the conflict is about (those a directory
    /// rename would have moved to `path`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<JsonPath>,
}

impl ConflictPath {
    /// A conflicted file, as git lists it.
    pub fn listed(path: BString, kind: ConflictKind) -> ConflictPath {
        ConflictPath { path: JsonPath(path), kind, sources: Vec::new() }
    }

    /// A conflict git reports without a conflicted file (`kind` is not listed), about `path`
    /// and the files `sources`.
    pub fn unlisted(path: BString, kind: ConflictKind, sources: impl IntoIterator<Item = BString>) -> ConflictPath {
        debug_assert!(!kind.is_listed());
        ConflictPath { path: JsonPath(path), kind, sources: sources.into_iter().map(JsonPath).collect() }
    }
}

/// A pair's verdict; plainly clean pairs are not listed.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PairVerdict {
    Conflict,
    /// Both change a path, and git merges the changes cleanly.
    CleanOverlap,
    /// The two branches share no history: git refuses to merge them ("unrelated histories").
    /// Integration never merges one into the other directly, so this is no conflict.
    Unrelated,
    /// The merge failed (see `error`): no verdict.
    Error,
}

/// A task's verdict against the target.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetVerdict {
    Conflict,
    Clean,
    /// The merge failed (see `error`): no verdict.
    Error,
}

/// Risks that are not merge conflicts.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HazardKind {
    OutOfScope,
    DependencyManifest,
    MigrationNumber,
    SameNewPath,
    /// A task changed a contract (see [`crate::hazard`]).
    Contract,
    /// A task changed a protected path.
    Protected,
    /// A task added a dependency (or changed a lock file) under a "no new dependencies"
    /// constraint.
    NewDependency,
}

impl std::fmt::Display for HazardKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::output::kebab(self).as_str())
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PairResult {
    pub a: String,
    pub b: String,
    pub verdict: PairVerdict,
    pub conflicts: Vec<ConflictPath>,
    pub overlap: Vec<JsonPath>,
    /// Why the merge failed, with verdict `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TargetResult {
    pub task: String,
    pub verdict: TargetVerdict,
    pub conflicts: Vec<ConflictPath>,
    /// Why the merge failed, with verdict `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Hazard {
    pub kind: HazardKind,
    pub tasks: Vec<String>,
    pub paths: Vec<JsonPath>,
    pub message: String,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub tasks: usize,
    pub pairs_checked: usize,
    pub merged_in_memory: usize,
    pub conflicting_pairs: usize,
    pub clean_overlaps: usize,
    pub conflicts_with_target: usize,
    pub hazards: usize,
    pub unrelated_pairs: usize,
    /// Merges that failed: the check is incomplete.
    pub failed_merges: usize,
}

#[derive(Debug, Default)]
pub struct Analysis {
    pub pairs: Vec<PairResult>,
    pub against_target: Vec<TargetResult>,
    pub hazards: Vec<Hazard>,
    pub summary: Summary,
    /// Branches that could not be analysed (for example: no common history with the target).
    pub problems: Vec<(String, String)>,
}

impl Analysis {
    pub fn has_conflicts(&self) -> bool {
        self.summary.conflicting_pairs > 0 || self.summary.conflicts_with_target > 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Added,
    Deleted,
    Modified,
}

/// One branch, prepared: where it forked from the target and what it changed since.
struct Prepared {
    branch: Branch,
    /// The best merge base with the target.
    fork: ObjectId,
    /// Is `fork` the only merge base with the target? In a criss-cross history (an agent that
    /// merged main) there are several, git merges against their virtual merge base, and what
    /// the target changed since `fork` says nothing about the merge's outcome.
    fork_is_unique: bool,
    changes: BTreeMap<BString, ChangeKind>,
    /// Of `changes`, those inherited from a dependency's branch unchanged: the dependency's
    /// work, not this task's (scope and hazards leave them out).
    inherited: BTreeSet<BString>,
    commits: HashSet<ObjectId>,
}

impl Prepared {
    /// The changes this task made itself, without those it inherited from its dependencies.
    fn own_changes(&self) -> impl Iterator<Item = (&BString, &ChangeKind)> {
        self.changes.iter().filter(|(path, _)| !self.inherited.contains(*path))
    }
}

/// Checks every pair of `branches` and each branch against `target`.
///
/// `snapshots` holds objects kept in memory only (snapshots of worktrees): every worker sees them.
pub fn analyse(
    repo: &gix::Repository,
    branches: Vec<Branch>,
    target: &Target,
    snapshots: Option<gix::odb::memory::Storage>,
) -> anyhow::Result<Analysis> {
    // Trees are read many times over (every branch's diff starts at the same root tree), and
    // in packs they are deltas: without a cache, inflating them dominated the whole check.
    let mut repo = repo.clone();
    repo.object_cache_size(64 << 20);
    // The index is read only for attribute lookups here: skip verifying its checksum.
    repo.config_snapshot_mut().set_raw_value("index.skipHash", "true")?;
    let repo = &repo;
    let mut analysis = Analysis::default();
    let mut prepared = Vec::new();
    let mut workers = Workers::new(repo, snapshots);
    let results = workers.run(
        branches.len(),
        |repo| Ok(repo.revision_graph(commit_graph_of(repo)?)),
        |graph, repo, k| prepare(repo, graph, branches[k].clone(), target.commit),
    )?;
    for (branch, result) in branches.iter().zip(results) {
        match result {
            Some(p) => prepared.push(p),
            None => analysis
                .problems
                .push((branch.task.clone(), format!("{} has no history in common with the target", branch.label))),
        }
    }
    let n = prepared.len();
    analysis.summary.tasks = n;
    analysis.summary.pairs_checked = n * n.saturating_sub(1) / 2;

    let mut forks = ForkSegments::new(repo, &mut workers, &prepared, target.commit)?;
    let candidates = candidate_pairs(repo, &prepared, &mut forks)?;
    let mut jobs: Vec<Job> = candidates
        .iter()
        .map(|&(i, j)| {
            // Overlap is measured from the pair's merge base. When both forked from the same
            // commit and share no commits, that is the fork, and the changes are known already.
            let base_is_fork =
                prepared[i].fork == prepared[j].fork && prepared[i].commits.is_disjoint(&prepared[j].commits);
            Job::Pair(i, j, !base_is_fork)
        })
        .collect();
    for i in 0..prepared.len() {
        // Skipping the merge is proven only from a unique merge base (defect 10: with two, the
        // target's changes since one of them missed a conflict through the virtual base).
        if forks.target_moved_into(i) != Some(false) {
            jobs.push(Job::Target(i));
        }
    }
    analysis.summary.merged_in_memory = jobs.len();
    let known: Vec<Option<KnownBase>> = jobs
        .iter()
        .map(|job| match *job {
            Job::Pair(i, j, _) => forks.known_base(&prepared, i, j),
            Job::Target(i) => forks.known_target_base(&prepared, i),
        })
        .collect();
    let outcomes = run_merges(&mut workers, &prepared, target, &jobs, &known)?;

    for (job, outcome) in jobs.iter().zip(outcomes) {
        let merged = match outcome {
            JobOutcome::Merged(merged) => merged,
            JobOutcome::Unrelated => {
                if let Job::Pair(i, j, _) = *job {
                    analysis.summary.unrelated_pairs += 1;
                    analysis.pairs.push(pair_result(&prepared, i, j, PairVerdict::Unrelated, None));
                }
                continue;
            }
            JobOutcome::Failed(error) => {
                analysis.summary.failed_merges += 1;
                match *job {
                    Job::Pair(i, j, _) => {
                        analysis.pairs.push(pair_result(&prepared, i, j, PairVerdict::Error, Some(error)));
                    }
                    Job::Target(i) => analysis.against_target.push(TargetResult {
                        task: prepared[i].branch.task.clone(),
                        verdict: TargetVerdict::Error,
                        conflicts: Vec::new(),
                        error: Some(error),
                    }),
                }
                continue;
            }
        };
        let Merged { conflicts, overlap, .. } = merged;
        match *job {
            Job::Pair(i, j, overlap_from_merge) => {
                let overlap: Vec<JsonPath> = if overlap_from_merge {
                    overlap.into_iter().map(JsonPath).collect()
                } else {
                    let (a, b) = (&prepared[i].changes, &prepared[j].changes);
                    a.keys().filter(|path| b.contains_key(*path)).map(|path| JsonPath(path.clone())).collect()
                };
                let verdict = if !conflicts.is_empty() {
                    analysis.summary.conflicting_pairs += 1;
                    PairVerdict::Conflict
                } else if !overlap.is_empty() {
                    analysis.summary.clean_overlaps += 1;
                    PairVerdict::CleanOverlap
                } else {
                    continue;
                };
                let mut result = pair_result(&prepared, i, j, verdict, None);
                result.conflicts = conflicts;
                result.overlap = overlap;
                analysis.pairs.push(result);
            }
            Job::Target(i) if !conflicts.is_empty() => {
                analysis.summary.conflicts_with_target += 1;
                analysis.against_target.push(TargetResult {
                    task: prepared[i].branch.task.clone(),
                    verdict: TargetVerdict::Conflict,
                    conflicts,
                    error: None,
                });
            }
            Job::Target(_) => {}
        }
    }
    // Every branch gets a verdict against the target, in task order.
    for p in &prepared {
        if !analysis.against_target.iter().any(|t| t.task == p.branch.task) {
            analysis.against_target.push(TargetResult {
                task: p.branch.task.clone(),
                verdict: TargetVerdict::Clean,
                conflicts: Vec::new(),
                error: None,
            });
        }
    }
    let order: HashMap<&str, usize> = prepared.iter().enumerate().map(|(i, p)| (p.branch.task.as_str(), i)).collect();
    analysis.against_target.sort_by_key(|t| order[t.task.as_str()]);
    analysis.pairs.sort_by_key(|pair| (order[pair.a.as_str()], order[pair.b.as_str()]));

    analysis.hazards = hazards(repo, &prepared)?;
    analysis.summary.hazards = analysis.hazards.len();
    Ok(analysis)
}

fn prepare(
    repo: &gix::Repository,
    graph: &mut CommitGraphWalk<'_>,
    branch: Branch,
    target: ObjectId,
) -> anyhow::Result<Option<Prepared>> {
    let bases: Vec<ObjectId> = if branch.head == target {
        vec![target]
    } else {
        gix::revision::plumbing::merge_base(branch.head, &[target], graph)?.map(Vec::from).unwrap_or_default()
    };
    let Some(&fork) = bases.first() else {
        return Ok(None);
    };
    let fork_is_unique = bases.len() == 1;
    let changes = changes(repo, fork, branch.head)?;
    let inherited = crate::git::inherited_paths(repo, branch.head, fork, &branch.dependency_tips, changes.keys())?;
    let mut commits = HashSet::new();
    if fork != branch.head {
        for info in repo.rev_walk([branch.head]).with_hidden([fork]).all()? {
            commits.insert(info?.id);
        }
    }
    Ok(Some(Prepared { branch, fork, fork_is_unique, changes, inherited, commits }))
}

/// Files that differ between the trees of two commits, and how.
fn changes(repo: &gix::Repository, from: ObjectId, to: ObjectId) -> anyhow::Result<BTreeMap<BString, ChangeKind>> {
    if from == to {
        return Ok(BTreeMap::new());
    }
    tree_changes(repo, repo.find_commit(from)?.tree_id()?.detach(), repo.find_commit(to)?.tree_id()?.detach())
}

/// Files that differ between two trees, and how.
fn tree_changes(repo: &gix::Repository, from: ObjectId, to: ObjectId) -> anyhow::Result<BTreeMap<BString, ChangeKind>> {
    Ok(entry_changes(repo, from, to)?
        .into_iter()
        .filter(|(_, mode, _)| !mode.is_tree())
        .map(|(path, _, kind)| (path, kind))
        .collect())
}

/// Every entry (trees too) that differs between two trees, and how, without rename detection.
///
/// Uses the plain tree diff: `Repository::diff_tree_to_tree()` builds a resource cache with an
/// attribute stack from the index on every call, which cost more than the diff itself here.
pub(crate) fn entry_changes(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
) -> anyhow::Result<Vec<(BString, gix::objs::tree::EntryMode, ChangeKind)>> {
    use gix::diff::tree::recorder::Change;
    if from == to {
        return Ok(Vec::new());
    }
    let old = repo.find_tree(from)?;
    let new = repo.find_tree(to)?;
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(&old.data, repo.object_hash()),
        gix::objs::TreeRefIter::from_bytes(&new.data, repo.object_hash()),
        gix::diff::tree::State::default(),
        &repo.objects,
        &mut recorder,
    )?;
    Ok(recorder
        .records
        .into_iter()
        .map(|change| match change {
            Change::Addition { path, entry_mode, .. } => (path, entry_mode, ChangeKind::Added),
            Change::Deletion { path, entry_mode, .. } => (path, entry_mode, ChangeKind::Deleted),
            Change::Modification { path, entry_mode, .. } => (path, entry_mode, ChangeKind::Modified),
        })
        .collect())
}

/// The directories above a path, deepest first, without the root.
fn parent_dirs(path: &BStr) -> impl Iterator<Item = &BStr> {
    path.rfind_iter("/").map(move |slash| path[..slash].as_bstr())
}

/// Could changes `a` and `b`, made from the same commit, interact in a merge?
#[cfg(test)]
fn paths_interact(a: &BTreeMap<BString, ChangeKind>, b: &BTreeMap<BString, ChangeKind>) -> bool {
    ChangeIndex::new(std::iter::once(b)).interacts(a)
}

/// Changed paths of several branches, indexed to find pairs whose changes can interact.
struct PathIndex<'a> {
    files: HashMap<&'a BStr, Vec<usize>>,
    dirs: HashMap<&'a BStr, Vec<usize>>,
    deleted_from: HashMap<&'a BStr, Vec<usize>>,
    changes: Vec<&'a BTreeMap<BString, ChangeKind>>,
}

impl<'a> PathIndex<'a> {
    fn new(changes: impl Iterator<Item = &'a BTreeMap<BString, ChangeKind>>) -> Self {
        let mut index = PathIndex {
            files: HashMap::new(),
            dirs: HashMap::new(),
            deleted_from: HashMap::new(),
            changes: Vec::new(),
        };
        for (i, changes) in changes.enumerate() {
            index.changes.push(changes);
            for (path, kind) in changes {
                index.files.entry(path.as_bstr()).or_default().push(i);
                for dir in parent_dirs(path.as_bstr()) {
                    let owners = index.dirs.entry(dir).or_default();
                    if owners.last() != Some(&i) {
                        owners.push(i);
                    }
                    if *kind == ChangeKind::Deleted {
                        let owners = index.deleted_from.entry(dir).or_default();
                        if owners.last() != Some(&i) {
                            owners.push(i);
                        }
                    }
                }
            }
        }
        index
    }

    /// Pairs (i < j) that change the same path, where one's file is the other's directory, or
    /// where one adds a file below a directory the other deleted files from.
    fn interacting_pairs(&self) -> BTreeSet<(usize, usize)> {
        let mut pairs = BTreeSet::new();
        let mut add = |x: usize, y: usize| {
            if x != y {
                pairs.insert((x.min(y), x.max(y)));
            }
        };
        for owners in self.files.values() {
            for (k, &x) in owners.iter().enumerate() {
                for &y in &owners[k + 1..] {
                    add(x, y);
                }
            }
        }
        for (path, owners) in &self.files {
            if let Some(dir_owners) = self.dirs.get(path) {
                for &x in owners {
                    for &y in dir_owners {
                        add(x, y);
                    }
                }
            }
        }
        for (i, changes) in self.changes.iter().enumerate() {
            for (path, kind) in changes.iter() {
                if *kind != ChangeKind::Added {
                    continue;
                }
                for dir in parent_dirs(path.as_bstr()) {
                    for &x in self.deleted_from.get(dir).into_iter().flatten() {
                        add(i, x);
                    }
                }
            }
        }
        pairs
    }
}

/// The pairs that need a real merge. Every pair left out merges cleanly; the proof.
///
/// Notation: for branch i, H_i is its head, F_i its fork (best merge base with the target),
/// C_i = changes(F_i -> H_i) its own changes, K_i its own commits (reachable from H_i, not from
/// F_i). "Interact" is the [`PathIndex`] relation: the same path, a file on one side where the
/// other has a directory, or an addition below a directory the other side deleted a file from
/// (a possible directory rename). A rename is a deletion plus an addition, so it interacts
/// through both paths. Two fact carry the proof:
///
/// (1) Changes from the pair's merge base M that do not interact merge cleanly (the three-way
///     merge, rename and directory-rename detection only ever meet on interacting paths).
/// (2) A path that differs between trees X and Z differs between X and Y or between Y and Z,
///     and a path added (deleted) from X to Z is added (deleted) from X to Y or from Y to Z.
///     So changes(M -> H_i) is covered by changes(M -> F_i) and C_i, each with its own kinds,
///     and because "interact" only grows with more paths and kinds, if neither part interacts
///     with either part of the other branch, the exact changes do not interact either.
///
/// The cases:
/// - K_i and K_j share a commit: merged.
/// - Same fork F, no shared commits: a common ancestor of H_i and H_j outside F's history
///   would be a shared commit, so F is the pair's only merge base, and by (1) non-interacting
///   C_i and C_j merge cleanly.
/// - Different forks, each the *only* merge base with the target, no shared commits: every
///   common ancestor of H_i and the target is an ancestor of F_i, so K_i has no commit in the
///   target's history and none in F_j's; the common ancestors of H_i and H_j are then exactly
///   those of F_i and F_j, and so are the merge bases. If that merge base M is unique, then
///   by (1) and (2) the pair is clean when no two of C_i, S_i = changes(M -> F_i), C_j,
///   S_j = changes(M -> F_j) from different branches interact.
/// - In particular, when F_i is an ancestor of F_j, M = F_i, S_i is empty, and the pair is
///   clean when C_i interacts with no part of a cover of S_j = changes(F_i -> F_j) (C_j may
///   touch what the target changed before F_j: that is its own history). [`ForkSegments`]
///   finds such covers from a few tree diffs: the target's first-parent line is cut at the
///   forks on it (and the target), and by (2) changes(F_i -> F_j) is covered by
///   U_i = changes(F_i -> A_i), the line's segments from A_i up to L_j, and
///   D_j = changes(L_j -> F_j), where A_i is a line point F_i is an ancestor of, L_j a line
///   point that is an ancestor of F_j, and A_i is L_j or older (so F_i -> A_i -> L_j -> F_j
///   is a chain of ancestors). For a fork on the line, A = L = the fork and U, D are empty.
///   The same cover with F_j = the target bounds what the target changed since F_i, for the
///   merge of branch i into the target.
/// - Forks whose line points do not order them: their merge bases are computed and S_i, S_j
///   diffed (once per pair of forks and per (M, F)).
/// - Anything else (several merge bases of the forks, a fork that is not the only merge base
///   with the target) is merged.
fn candidate_pairs(
    repo: &gix::Repository,
    prepared: &[Prepared],
    forks: &mut ForkSegments<'_>,
) -> anyhow::Result<BTreeSet<(usize, usize)>> {
    let mut pairs = PathIndex::new(prepared.iter().map(|p| &p.changes)).interacting_pairs();
    // Shared commits (one branch built on another) move the merge base off the fork point.
    let mut by_commit: HashMap<ObjectId, Vec<usize>> = HashMap::new();
    for (i, p) in prepared.iter().enumerate() {
        for commit in &p.commits {
            by_commit.entry(*commit).or_default().push(i);
        }
    }
    for owners in by_commit.values() {
        for (k, &x) in owners.iter().enumerate() {
            for &y in &owners[k + 1..] {
                pairs.insert((x.min(y), x.max(y)));
            }
        }
    }
    // Branches forked from different target commits also see the target's changes in between.
    for i in 0..prepared.len() {
        for j in i + 1..prepared.len() {
            if prepared[i].fork == prepared[j].fork || pairs.contains(&(i, j)) {
                continue;
            }
            if !forks.pair_is_proven_clean(repo, prepared, i, j)? {
                pairs.insert((i, j));
            }
        }
    }
    Ok(pairs)
}

/// Where a unique fork meets the target's first-parent line (see [`candidate_pairs`]). Places
/// count line points from the target (0) down to older ones.
#[derive(Debug, Clone, Copy)]
struct Attach {
    /// A: the oldest line point the fork is an ancestor of (its own place when on the line).
    up: usize,
    /// U = changes(fork -> A), as an index into the side diffs; `None` on the line.
    up_diff: Option<usize>,
    /// L: the newest line point that is an ancestor of the fork (its own place on the line),
    /// if there is one.
    down: Option<usize>,
    /// D = changes(L -> fork), as an index into the side diffs; `None` on the line.
    down_diff: Option<usize>,
}

/// The target's history between fork points, for [`candidate_pairs`] and the branch-against-
/// target checks: one tree diff per line segment and at most two per fork off the line.
struct ForkSegments<'repo> {
    /// One commit walk for every merge base of forks: they share most of their history.
    graph: CommitGraphWalk<'repo>,
    /// Per branch, where its fork meets the line; `None` when the fork is not unique.
    attach: Vec<Option<Attach>>,
    /// Per branch: the line segments its own changes interact with, ascending. Segment k runs
    /// from line point k+1 to line point k.
    segment_hits: Vec<Vec<usize>>,
    /// Per branch: the side diffs (U and D of forks off the line) its changes interact with.
    side_hits: Vec<HashSet<usize>>,
    /// Does line segment k delete a file?
    segment_deletes: Vec<bool>,
    /// Does side diff k delete a file?
    side_deletes: Vec<bool>,
    /// Merge bases of pairs of forks the line does not order, unique or `None`.
    bases: HashMap<(ObjectId, ObjectId), Option<ObjectId>>,
    /// changes(M -> F), indexed, per (M, F).
    segments: HashMap<(ObjectId, ObjectId), (BTreeMap<BString, ChangeKind>, ChangeIndex)>,
}

impl<'repo> ForkSegments<'repo> {
    fn new(
        repo: &'repo gix::Repository,
        workers: &mut Workers,
        prepared: &[Prepared],
        target: ObjectId,
    ) -> anyhow::Result<Self> {
        let unique: HashSet<ObjectId> = prepared.iter().filter(|p| p.fork_is_unique).map(|p| p.fork).collect();
        // The line points: the target and the forks found on its first-parent line, newest first.
        let mut on_line: Vec<(usize, ObjectId)> =
            first_parent_places(repo, target, &unique)?.into_iter().map(|(id, depth)| (depth, id)).collect();
        on_line.push((0, target));
        on_line.sort();
        on_line.dedup();
        let points: Vec<ObjectId> = on_line.into_iter().map(|(_, id)| id).collect();
        let place_of: HashMap<ObjectId, usize> = points.iter().enumerate().map(|(k, id)| (*id, k)).collect();

        // Forks off the line: their A and L, by bisection (ancestry is monotone along the line).
        let mut graph = repo.revision_graph(commit_graph_of(repo)?);
        let mut diffs: Vec<(ObjectId, ObjectId)> = points.windows(2).map(|w| (w[1], w[0])).collect();
        let segment_count = diffs.len();
        let mut attach_of: HashMap<ObjectId, Attach> = HashMap::new();
        for fork in &unique {
            let attach = match place_of.get(fork) {
                Some(&place) => Attach { up: place, up_diff: None, down: Some(place), down_diff: None },
                None => {
                    // Points 0..=up have the fork as an ancestor (the target does, as the fork
                    // is one of its merge bases; without it, there is no proof).
                    let Some(up) = last_true(points.len(), |k| is_ancestor(*fork, points[k], &mut graph))? else {
                        continue;
                    };
                    diffs.push((*fork, points[up]));
                    let up_diff = Some(diffs.len() - 1 - segment_count);
                    // Points down.. are ancestors of the fork.
                    let older =
                        last_true(points.len(), |k| is_ancestor(points[points.len() - 1 - k], *fork, &mut graph))?;
                    let down = older.map(|k| points.len() - 1 - k);
                    let down_diff = down.map(|down| {
                        diffs.push((points[down], *fork));
                        diffs.len() - 1 - segment_count
                    });
                    Attach { up, up_diff, down, down_diff }
                }
            };
            attach_of.insert(*fork, attach);
        }
        let mut changes_of =
            workers.run(diffs.len(), |_| Ok(()), |_, repo, k| changes(repo, diffs[k].0, diffs[k].1))?;
        let side_changes = changes_of.split_off(segment_count);
        let segment_index = ChangeIndex::new(changes_of.iter());
        let side_index = ChangeIndex::new(side_changes.iter());
        let attach: Vec<Option<Attach>> =
            prepared.iter().map(|p| attach_of.get(&p.fork).copied().filter(|_| p.fork_is_unique)).collect();
        let segment_hits =
            prepared.iter().map(|p| segment_index.hits(&p.changes).into_iter().collect::<Vec<_>>()).collect();
        let side_hits = prepared.iter().map(|p| side_index.hits(&p.changes).into_iter().collect()).collect();
        let deletes = |changes: &BTreeMap<BString, ChangeKind>| changes.values().any(|k| *k == ChangeKind::Deleted);
        Ok(ForkSegments {
            graph,
            attach,
            segment_hits,
            side_hits,
            segment_deletes: changes_of.iter().map(deletes).collect(),
            side_deletes: side_changes.iter().map(deletes).collect(),
            bases: HashMap::new(),
            segments: HashMap::new(),
        })
    }

    /// Do branch i's own changes interact with the line segments in `places` or with the
    /// given side diffs?
    fn touches(&self, i: usize, places: std::ops::Range<usize>, sides: [Option<usize>; 2]) -> bool {
        self.segment_hits[i].iter().any(|k| places.contains(k))
            || sides.into_iter().flatten().any(|side| self.side_hits[i].contains(&side))
    }

    /// Could the target's changes since branch i's fork interact with the branch's own changes?
    /// `None` when the fork is not unique (no proof: merge).
    fn target_moved_into(&self, i: usize) -> Option<bool> {
        let attach = self.attach[i]?;
        Some(self.touches(i, 0..attach.up, [attach.up_diff, None]))
    }

    /// When the old fork is the merge base of the two forks through the line (see
    /// [`candidate_pairs`]): the old branch, the new one, and the places of the segments between.
    fn ordered(&self, i: usize, j: usize) -> Option<(usize, Attach, Attach, std::ops::Range<usize>)> {
        let (attach_i, attach_j) = (self.attach[i]?, self.attach[j]?);
        for ((old, at_old), at_new) in [((i, attach_i), attach_j), ((j, attach_j), attach_i)] {
            // The old fork is an ancestor of A_old, which is L_new or older, an ancestor of the
            // new fork: the old fork is the merge base.
            if let Some(down) = at_new.down
                && at_old.up >= down
            {
                return Some((old, at_old, at_new, down..at_old.up));
            }
        }
        None
    }

    /// Could a cover of the changes between two line points delete a file?
    fn deletes(&self, places: std::ops::Range<usize>, sides: [Option<usize>; 2]) -> bool {
        self.segment_deletes[places].iter().any(|d| *d) || sides.into_iter().flatten().any(|k| self.side_deletes[k])
    }

    /// The merge base of branches i and j when the proof of [`candidate_pairs`] knows it: their
    /// common fork, or the old fork of an ordered pair (both need disjoint own commits).
    fn known_base(&self, prepared: &[Prepared], i: usize, j: usize) -> Option<KnownBase> {
        let (a, b) = (&prepared[i], &prepared[j]);
        if !a.commits.is_disjoint(&b.commits) {
            return None;
        }
        let own_deletions = changes_delete(&a.changes) || changes_delete(&b.changes);
        if a.fork == b.fork {
            return Some(KnownBase { base: a.fork, exact: i, deletions: own_deletions });
        }
        let (old, at_old, at_new, between) = self.ordered(i, j)?;
        let deletions = own_deletions || self.deletes(between, [at_old.up_diff, at_new.down_diff]);
        Some(KnownBase { base: prepared[old].fork, exact: old, deletions })
    }

    /// Branch i's merge base with the target, when it is unique: its fork.
    fn known_target_base(&self, prepared: &[Prepared], i: usize) -> Option<KnownBase> {
        let attach = self.attach[i]?;
        let deletions = changes_delete(&prepared[i].changes) || self.deletes(0..attach.up, [attach.up_diff, None]);
        Some(KnownBase { base: prepared[i].fork, exact: i, deletions })
    }

    /// For branches with different forks and no shared commits (see [`candidate_pairs`]).
    fn pair_is_proven_clean(
        &mut self,
        repo: &gix::Repository,
        prepared: &[Prepared],
        i: usize,
        j: usize,
    ) -> anyhow::Result<bool> {
        let (a, b) = (&prepared[i], &prepared[j]);
        if self.attach[i].is_none() || self.attach[j].is_none() {
            return Ok(false);
        }
        if let Some((old, at_old, at_new, between)) = self.ordered(i, j) {
            return Ok(!self.touches(old, between, [at_old.up_diff, at_new.down_diff]));
        }
        let key = (a.fork.min(b.fork), a.fork.max(b.fork));
        let base = match self.bases.get(&key) {
            Some(base) => *base,
            None => {
                let bases = gix::revision::plumbing::merge_base(a.fork, &[b.fork], &mut self.graph)?;
                let base = bases.filter(|bases| bases.len() == 1).map(|bases| *bases.first());
                self.bases.insert(key, base);
                base
            }
        };
        let Some(base) = base else { return Ok(false) };
        for fork in [a.fork, b.fork] {
            if let std::collections::hash_map::Entry::Vacant(entry) = self.segments.entry((base, fork)) {
                let moved = changes(repo, base, fork)?;
                let index = ChangeIndex::new(std::iter::once(&moved));
                entry.insert((moved, index));
            }
        }
        let (a_moved, a_index) = &self.segments[&(base, a.fork)];
        let (b_moved, b_index) = &self.segments[&(base, b.fork)];
        let interact = b_index.interacts(&a.changes)
            || a_index.interacts(&b.changes)
            || (!a_moved.is_empty() && b_index.interacts(a_moved))
            || (!b_moved.is_empty() && !a_moved.is_empty() && a_index.interacts(b_moved));
        Ok(!interact)
    }
}

/// A merge whose merge base the prefilter's proof knows (see [`ForkSegments::known_base`]).
#[derive(Debug, Clone, Copy)]
struct KnownBase {
    /// The only merge base.
    base: ObjectId,
    /// The branch whose changes since `base` are exactly its own changes.
    exact: usize,
    /// Could either side have deleted a file since `base`? (Covers of the changes are checked,
    /// so `false` is certain.)
    deletions: bool,
}

fn changes_delete(changes: &BTreeMap<BString, ChangeKind>) -> bool {
    changes.values().any(|kind| *kind == ChangeKind::Deleted)
}

/// Of `paths` (files), those whose entry differs between the trees of commits `from` and `to`:
/// what a plain diff of the two would list among them.
fn changed_since<'a>(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
    paths: impl Iterator<Item = &'a BString>,
) -> anyhow::Result<Vec<BString>> {
    let (from, to) = (repo.find_commit(from)?.tree()?, repo.find_commit(to)?.tree()?);
    // A directory is no file: the plain diff lists the files below it, not the directory.
    let file_at = |tree: &gix::Tree<'_>, path: &BString| -> anyhow::Result<_> {
        Ok(crate::git::entry_at(tree, path)?.filter(|(mode, _)| !mode.is_tree()))
    };
    let mut changed = Vec::new();
    for path in paths {
        if file_at(&from, path)? != file_at(&to, path)? {
            changed.push(path.clone());
        }
    }
    Ok(changed)
}

/// Is `ancestor` in the history of `commit` (or the same commit)?
fn is_ancestor(ancestor: ObjectId, commit: ObjectId, graph: &mut CommitGraphWalk<'_>) -> anyhow::Result<bool> {
    if ancestor == commit {
        return Ok(true);
    }
    let bases = gix::revision::plumbing::merge_base(ancestor, &[commit], graph)?;
    Ok(bases.is_some_and(|bases| bases.len() == 1 && *bases.first() == ancestor))
}

/// The last k in 0..n for which `test` holds, where it holds for a prefix of 0..n.
fn last_true(n: usize, mut test: impl FnMut(usize) -> anyhow::Result<bool>) -> anyhow::Result<Option<usize>> {
    let (mut lo, mut hi) = (0, n);
    // Invariant: test holds below lo, fails from hi on.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if test(mid)? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo.checked_sub(1))
}

/// How far down the target's first-parent line each of `forks` is (0: the target itself),
/// for those found on it. The walk stops once every fork is found, or a day older than the
/// oldest fork not found yet (clock skew only makes it miss forks, which are then handled
/// without the line).
fn first_parent_places(
    repo: &gix::Repository,
    target: ObjectId,
    forks: &HashSet<ObjectId>,
) -> anyhow::Result<HashMap<ObjectId, usize>> {
    let mut oldest = i64::MAX;
    for fork in forks {
        oldest = oldest.min(repo.find_commit(*fork)?.time()?.seconds);
    }
    let mut found = HashMap::new();
    let mut next = Some(target);
    let mut depth = 0;
    while let Some(id) = next {
        if found.len() == forks.len() {
            break;
        }
        if forks.contains(&id) {
            found.insert(id, depth);
        }
        let commit = repo.find_commit(id)?;
        if commit.time()?.seconds < oldest.saturating_sub(86_400) {
            break;
        }
        next = commit.parent_ids().next().map(|id| id.detach());
        depth += 1;
    }
    Ok(found)
}

/// Several sets of changes, indexed to find quickly which of them another set interacts with
/// (in the sense of [`PathIndex`]): the number of lookups grows with the other set, not with
/// the indexed ones.
struct ChangeIndex {
    files: HashMap<BString, Vec<usize>>,
    /// Directories above changed files.
    dirs: HashMap<BString, Vec<usize>>,
    /// Directories above deleted files.
    deleted_from: HashMap<BString, Vec<usize>>,
    /// Directories above added files.
    added_under: HashMap<BString, Vec<usize>>,
}

impl ChangeIndex {
    fn new<'a>(sets: impl Iterator<Item = &'a BTreeMap<BString, ChangeKind>>) -> Self {
        let mut index = ChangeIndex {
            files: HashMap::new(),
            dirs: HashMap::new(),
            deleted_from: HashMap::new(),
            added_under: HashMap::new(),
        };
        let push = |map: &mut HashMap<BString, Vec<usize>>, key: &BStr, k: usize| {
            let owners = map.entry(key.to_owned()).or_default();
            if owners.last() != Some(&k) {
                owners.push(k);
            }
        };
        for (k, set) in sets.enumerate() {
            for (path, kind) in set {
                push(&mut index.files, path.as_bstr(), k);
                for dir in parent_dirs(path.as_bstr()) {
                    push(&mut index.dirs, dir, k);
                    match kind {
                        ChangeKind::Deleted => push(&mut index.deleted_from, dir, k),
                        ChangeKind::Added => push(&mut index.added_under, dir, k),
                        ChangeKind::Modified => {}
                    }
                }
            }
        }
        index
    }

    /// The indexed sets that `changes` interacts with.
    fn hits(&self, changes: &BTreeMap<BString, ChangeKind>) -> BTreeSet<usize> {
        let mut hits = BTreeSet::new();
        let mut add = |owners: Option<&Vec<usize>>| hits.extend(owners.into_iter().flatten().copied());
        for (path, kind) in changes {
            // The same path, or a file here where the other has a directory.
            add(self.files.get(path));
            add(self.dirs.get(path));
            for dir in parent_dirs(path.as_bstr()) {
                // A file there where this side has a directory.
                add(self.files.get(dir));
                match kind {
                    ChangeKind::Added => add(self.deleted_from.get(dir)),
                    ChangeKind::Deleted => add(self.added_under.get(dir)),
                    ChangeKind::Modified => {}
                }
            }
        }
        hits
    }

    fn interacts(&self, changes: &BTreeMap<BString, ChangeKind>) -> bool {
        !self.hits(changes).is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
enum Job {
    /// Merge two branches; `true`: measure their overlap from the merge base the merge finds.
    Pair(usize, usize, bool),
    /// Merge a branch into the target.
    Target(usize),
}

/// One repository handle per core, kept across phases so that the trees a worker decoded
/// while diffing branches are still in its object cache when it merges them (gix
/// repositories are not `Sync`: each thread needs its own).
struct Workers {
    repos: Vec<gix::Repository>,
}

impl Workers {
    fn new(repo: &gix::Repository, snapshots: Option<gix::odb::memory::Storage>) -> Self {
        let sync = repo.clone().into_sync();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let repos = (0..threads)
            .map(|_| {
                // In memory: merged trees and virtual merge bases are never written to disk.
                let mut repo = sync.to_thread_local().with_object_memory();
                if let Some(snapshots) = &snapshots {
                    repo.objects.set_object_memory(snapshots.clone());
                }
                repo.object_cache_size(64 << 20);
                repo
            })
            .collect();
        Workers { repos }
    }

    /// Runs `count` work items on all cores, each worker building its state once with `start`.
    fn run<'w, S, R: Send>(
        &'w mut self,
        count: usize,
        start: impl Fn(&'w gix::Repository) -> anyhow::Result<S> + Sync,
        work: impl Fn(&mut S, &'w gix::Repository, usize) -> anyhow::Result<R> + Sync,
    ) -> anyhow::Result<Vec<R>> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<R>>> = Mutex::new((0..count).map(|_| None).collect());
        let active = self.repos.len().min(count);
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let handles: Vec<_> = self.repos[..active]
                .iter_mut()
                .map(|repo| {
                    let (next, results, start, work) = (&next, &results, &start, &work);
                    scope.spawn(move || -> anyhow::Result<()> {
                        let repo = &*repo;
                        let mut state = start(repo)?;
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            if k >= count {
                                return Ok(());
                            }
                            let result = work(&mut state, repo, k)?;
                            results.lock().expect("no worker panics while holding the lock")[k] = Some(result);
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().expect("worker thread panicked")?;
            }
            Ok(())
        })?;
        Ok(results.into_inner().expect("workers are done").into_iter().map(|r| r.expect("every item ran")).collect())
    }
}

fn pair_result(prepared: &[Prepared], i: usize, j: usize, verdict: PairVerdict, error: Option<String>) -> PairResult {
    PairResult {
        a: prepared[i].branch.task.clone(),
        b: prepared[j].branch.task.clone(),
        verdict,
        conflicts: Vec::new(),
        overlap: Vec::new(),
        error,
    }
}

/// How one merge job ended. A merge that fails is that job's result, never the whole run's
/// (defect 24: one unrelated pair aborted the check of every pair).
enum JobOutcome {
    Merged(Merged),
    /// No merge base: git refuses the merge.
    Unrelated,
    Failed(String),
}

/// Runs the merges on all cores; each worker keeps its merge caches across merges.
fn run_merges(
    workers: &mut Workers,
    prepared: &[Prepared],
    target: &Target,
    jobs: &[Job],
    known: &[Option<KnownBase>],
) -> anyhow::Result<Vec<JobOutcome>> {
    workers.run(jobs.len(), MergeCaches::new, |caches, repo, k| {
        let (ours, theirs, our_label, their_label) = match jobs[k] {
            Job::Pair(i, j, _) => {
                (prepared[i].branch.head, prepared[j].branch.head, &prepared[i].branch.label, &prepared[j].branch.label)
            }
            Job::Target(i) => (target.commit, prepared[i].branch.head, &target.label, &prepared[i].branch.label),
        };
        let with_overlap = matches!(jobs[k], Job::Pair(_, _, true));
        // gix has assertions a merge can trip: a panic fails this merge only, and the worker's
        // caches are rebuilt, as they may be half-updated.
        let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match known[k] {
            Some(known) => {
                let mut merged =
                    caches.merge_from_base(repo, known.base, ours, theirs, our_label, their_label, known.deletions)?;
                if with_overlap {
                    // The files changed on both sides: of the exact side's own changes, those the
                    // other side also changed since the base (an entry lookup each, not a diff).
                    let other = if prepared[known.exact].branch.head == ours { theirs } else { ours };
                    merged.overlap = changed_since(repo, known.base, other, prepared[known.exact].changes.keys())?;
                }
                Ok(merged)
            }
            None => caches.merge(repo, ours, theirs, our_label, their_label, with_overlap),
        }));
        let merged = match merged {
            Ok(merged) => merged,
            Err(panic) => {
                *caches = MergeCaches::new(repo)?;
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic");
                return Ok(JobOutcome::Failed(format!("the merge failed inside gix: {what}")));
            }
        };
        Ok(match merged {
            Ok(merged) => JobOutcome::Merged(merged),
            // Only now look for the reason: merge bases are costly, and failures rare.
            Err(_) if crate::git::merge_bases(repo, ours, theirs).is_ok_and(|bases| bases.is_empty()) => {
                JobOutcome::Unrelated
            }
            Err(err) => JobOutcome::Failed(format!("{err:#}")),
        })
    })
}

/// The commit walk's graph, kept across merges: merge bases of the next merge reuse the
/// commits the last one parsed (on real history most of a merge's time went to parsing the
/// same commits again).
type CommitGraphWalk<'repo> =
    gix::revwalk::Graph<'repo, 'static, gix::revwalk::graph::Commit<gix::revision::plumbing::merge_base::Flags>>;

/// The repository's commit-graph file, read once per process and object directory: the
/// kept [`CommitGraphWalk`] borrows it for as long as the process runs.
fn commit_graph_of(repo: &gix::Repository) -> anyhow::Result<Option<&'static gix::commitgraph::Graph>> {
    use std::sync::{Mutex, OnceLock};
    static GRAPHS: OnceLock<Mutex<HashMap<std::path::PathBuf, Option<&'static gix::commitgraph::Graph>>>> =
        OnceLock::new();
    let mut graphs = GRAPHS.get_or_init(Default::default).lock().expect("no panic while holding the lock");
    let key = repo.objects.store_ref().path().to_owned();
    if let Some(graph) = graphs.get(&key) {
        return Ok(*graph);
    }
    let graph: Option<&'static gix::commitgraph::Graph> =
        repo.commit_graph_if_enabled()?.map(|g| &*Box::leak(Box::new(g)));
    graphs.insert(key, graph);
    Ok(graph)
}

/// How merges name commits in conflict labels (virtual merge bases): abbreviated, as git does.
fn abbreviated(repo: &gix::Repository) -> impl FnMut(&gix::hash::oid) -> String + '_ {
    use gix::prelude::ObjectIdExt;
    move |id| id.to_owned().attach(repo).shorten_or_id().to_string()
}

/// One worker's merge machinery: caches are built once and reused for every merge, all on
/// the one repository handle they were made for.
pub(crate) struct MergeCaches<'repo> {
    /// Write the merged tree of clean merges (for integration); checks only need verdicts.
    pub write_clean_trees: bool,
    diff_cache: gix::diff::blob::Platform,
    blob_merge: gix::merge::blob::Platform,
    graph: CommitGraphWalk<'repo>,
    options: gix::merge::commit::Options,
    /// The same options for merges of trees with a given base (integrate's rebase steps and rules).
    tree_options: gix::merge::plumbing::tree::Options,
    directory_renames: DirectoryRenames,
}

impl<'repo> MergeCaches<'repo> {
    pub(crate) fn new(repo: &'repo gix::Repository) -> anyhow::Result<Self> {
        let config = crate::merge::MergeConfig::read(repo);
        let tree_options = config.tree_options(repo)?;
        Ok(MergeCaches {
            write_clean_trees: false,
            diff_cache: repo.diff_resource_cache_for_tree_diff()?,
            blob_merge: config.blob_platform(repo)?,
            graph: repo.revision_graph(commit_graph_of(repo)?),
            options: gix::merge::commit::Options::from(tree_options.clone()),
            tree_options,
            directory_renames: config.directory_renames,
        })
    }

    /// Merges `theirs` into `ours` in memory. Returns the conflicted paths (empty when clean)
    /// and, with `with_overlap`, the files both sides changed since their merge base.
    pub(crate) fn merge(
        &mut self,
        repo: &gix::Repository,
        ours: ObjectId,
        theirs: ObjectId,
        our_label: &str,
        their_label: &str,
        with_overlap: bool,
    ) -> anyhow::Result<Merged> {
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: None,
            current: Some(our_label.into()),
            other: Some(their_label.into()),
        };
        let outcome = gix::merge::plumbing::commit(
            ours,
            theirs,
            labels,
            &mut self.graph,
            &mut self.diff_cache,
            &mut self.blob_merge,
            repo,
            &mut abbreviated(repo),
            self.options.clone().into(),
        )?;
        let base_tree = outcome.merge_base_tree_id;
        let overlap = if with_overlap {
            let ours_changes = tree_changes(repo, base_tree, repo.find_commit(ours)?.tree_id()?.detach())?;
            let theirs_changes = tree_changes(repo, base_tree, repo.find_commit(theirs)?.tree_id()?.detach())?;
            ours_changes.into_keys().filter(|path| theirs_changes.contains_key(path)).collect()
        } else {
            Vec::new()
        };
        let sides = [repo.find_commit(ours)?.tree_id()?.detach(), repo.find_commit(theirs)?.tree_id()?.detach()];
        self.conflicts_of(repo, outcome.tree_merge, base_tree, sides, our_label, their_label, overlap)
    }

    /// Merges the commits `ours` and `theirs` whose only merge base is known to be the commit
    /// `base`: git's merge of the two, without looking for the merge base again. With
    /// `deletions` false, neither side deleted a file since `base` (the caller proves it).
    #[allow(clippy::too_many_arguments)]
    fn merge_from_base(
        &mut self,
        repo: &gix::Repository,
        base: ObjectId,
        ours: ObjectId,
        theirs: ObjectId,
        our_label: &str,
        their_label: &str,
        deletions: bool,
    ) -> anyhow::Result<Merged> {
        let tree_of =
            |commit: ObjectId| -> anyhow::Result<ObjectId> { Ok(repo.find_commit(commit)?.tree_id()?.detach()) };
        let (base, ours, theirs) = (tree_of(base)?, tree_of(ours)?, tree_of(theirs)?);
        self.merge_trees_with(repo, base, ours, theirs, our_label, their_label, deletions)
    }

    /// Merges the trees `ours` and `theirs` with `base` as their merge base (a rebase step's
    /// parent, a rule's base), with the same caches and configuration as [`Self::merge`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn merge_trees(
        &mut self,
        repo: &gix::Repository,
        base: ObjectId,
        ours: ObjectId,
        theirs: ObjectId,
        our_label: &str,
        their_label: &str,
    ) -> anyhow::Result<Merged> {
        self.merge_trees_with(repo, base, ours, theirs, our_label, their_label, true)
    }

    /// [`Self::merge_trees`]; with `deletions` false (proven by the caller: no file deleted on
    /// either side since `base`) without rename tracking or directory renames.
    #[allow(clippy::too_many_arguments)]
    fn merge_trees_with(
        &mut self,
        repo: &gix::Repository,
        base: ObjectId,
        ours: ObjectId,
        theirs: ObjectId,
        our_label: &str,
        their_label: &str,
        deletions: bool,
    ) -> anyhow::Result<Merged> {
        use gix::objs::Write as _;
        // The ancestor's label only appears inside conflict markers, which this check never shows.
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("merge base".into()),
            current: Some(our_label.into()),
            other: Some(their_label.into()),
        };
        // A rename pairs a file deleted on one side with one added there (merges detect no
        // copies and break no modifications into pairs): with no file deleted on either side
        // since the base there is none, and tracking renames would only buffer every change.
        let mut options = self.tree_options.clone();
        if !deletions {
            options.rewrites = None;
        }
        let merge = gix::merge::plumbing::tree(
            &base,
            &ours,
            &theirs,
            labels,
            repo,
            |buf| repo.write_buf(gix::objs::Kind::Blob, buf),
            &mut Default::default(),
            &mut self.diff_cache,
            &mut self.blob_merge,
            options,
        )?;
        self.conflicts_of_with(repo, merge, base, [ours, theirs], our_label, their_label, Vec::new(), deletions)
    }

    /// The tree to merge `ours` and `theirs` against, as git chooses it: the tree of their
    /// merge base, or with several bases (criss-cross histories) the virtual merge base built
    /// by merging the bases, as `git merge-tree` does. `None` for unrelated histories.
    pub(crate) fn merge_base_tree(
        &mut self,
        repo: &gix::Repository,
        ours: ObjectId,
        theirs: ObjectId,
    ) -> anyhow::Result<Option<ObjectId>> {
        let Some(bases) = gix::revision::plumbing::merge_base(ours, &[theirs], &mut self.graph)? else {
            return Ok(None);
        };
        let mut bases: Vec<ObjectId> = bases.into();
        if bases.len() == 1 {
            return Ok(Some(repo.find_commit(bases[0])?.tree_id()?.detach()));
        }
        // git pops the bases from the end of the list (merge-ort.c), as gix's commit merge does.
        let first = bases.pop().expect("two or more");
        let second = bases.pop().expect("two or more");
        let merged = gix::merge::plumbing::commit::virtual_merge_base(
            first,
            second,
            bases,
            &mut self.graph,
            &mut self.diff_cache,
            &mut self.blob_merge,
            repo,
            &mut abbreviated(repo),
            self.tree_options.clone(),
        )?;
        Ok(Some(merged.tree_id))
    }

    /// The outcome of a tree merge: the merged tree when clean (if asked for), else the
    /// conflicted paths exactly as git lists them.
    #[allow(clippy::too_many_arguments)]
    fn conflicts_of(
        &mut self,
        repo: &gix::Repository,
        merge: gix::merge::plumbing::tree::Outcome<'_>,
        base_tree: ObjectId,
        sides: [ObjectId; 2],
        our_label: &str,
        their_label: &str,
        overlap: Vec<BString>,
    ) -> anyhow::Result<Merged> {
        self.conflicts_of_with(repo, merge, base_tree, sides, our_label, their_label, overlap, true)
    }

    /// [`Self::conflicts_of`]; with `deletions` false, neither side deleted a file since the
    /// base, so there is no directory rename to look for: git infers a directory rename from
    /// files renamed out of a directory that is gone, and a rename needs a deleted file.
    #[allow(clippy::too_many_arguments)]
    fn conflicts_of_with(
        &mut self,
        repo: &gix::Repository,
        mut merge: gix::merge::plumbing::tree::Outcome<'_>,
        base_tree: ObjectId,
        sides: [ObjectId; 2],
        our_label: &str,
        their_label: &str,
        overlap: Vec<BString>,
        deletions: bool,
    ) -> anyhow::Result<Merged> {
        let how = TreatAsUnresolved::git();
        // Directory renames as git detects them, and with `conflict` the file location
        // conflicts they make (see crate::merge::shims).
        let shims::DirectoryRenames { moves, mut unlisted } = if deletions {
            shims::directory_renames(
                repo,
                base_tree,
                sides,
                self.directory_renames,
                self.tree_options.rewrites,
                &mut self.diff_cache,
            )?
        } else {
            // No side deleted a file: no rename, so no directory rename and none of its conflicts.
            shims::DirectoryRenames { moves: Vec::new(), unlisted: Vec::new() }
        };
        let relocated: Vec<(BString, ConflictKind)> = match self.directory_renames {
            DirectoryRenames::Conflict => {
                moves.iter().filter(|m| m.conflict).map(|m| (m.to.clone(), ConflictKind::DirectoryRename)).collect()
            }
            DirectoryRenames::True | DirectoryRenames::False => Vec::new(),
        };
        let conflicted = merge.has_unresolved_conflicts(how) || !relocated.is_empty();
        if !conflicted && unlisted.iter().all(|c| c.kind == ConflictKind::FileLocationUnlisted) {
            // Only files taken back home: git merges cleanly (see shims::files_taken_home).
            let tree = if self.write_clean_trees {
                shims::place_directory_rename_moves(&mut merge.tree, &merge.conflicts, &moves, self.directory_renames)?;
                Some(merge.tree.write(|tree| repo.write_object(tree).map(|id| id.detach()))?)
            } else {
                None
            };
            return Ok(Merged { conflicts: Vec::new(), overlap, tree });
        }
        let mut conflicts = match plain_content_conflicts(&merge.conflicts, how) {
            Some(conflicts) if relocated.is_empty() => conflicts,
            _ => self.listed_conflicts(repo, &mut merge, &moves, relocated, our_label, their_label)?,
        };
        shims::files_taken_home(&mut conflicts, &mut unlisted);
        // Conflicts git reports with a message only (see `ConflictKind::is_listed`) come last.
        conflicts.extend(unlisted);
        Ok(Merged { conflicts, overlap, tree: None })
    }

    /// The conflicted paths exactly as `git merge-tree` lists them.
    fn listed_conflicts(
        &self,
        repo: &gix::Repository,
        merge: &mut gix::merge::plumbing::tree::Outcome<'_>,
        moves: &[shims::DirectoryRenameMove],
        relocated: Vec<(BString, ConflictKind)>,
        our_label: &str,
        their_label: &str,
    ) -> anyhow::Result<Vec<ConflictPath>> {
        let how = TreatAsUnresolved::git();
        // The conflicted paths exactly as git lists them: the merged tree as an index with the
        // conflict stages applied; every path with a stage other than 0 is conflicted.
        let tree_id = merge.tree.write(|tree| repo.write_object(tree).map(|id| id.detach()))?;
        let mut index = partial_index(repo, tree_id, &merge.conflicts)?;
        merge.index_changed_after_applying_conflicts(
            &mut index,
            how,
            gix::merge::plumbing::tree::apply_index_entries::RemovalMode::Prune,
        );
        let kinds = shims::conflict_kinds(&merge.conflicts, how);
        let mut paths: BTreeMap<BString, ConflictKind> = BTreeMap::new();
        for entry in index.entries() {
            if entry.stage_raw() != 0 {
                let path = entry.path(&index).to_owned();
                let kind = kinds.get(&path).copied().unwrap_or(ConflictKind::Content);
                paths.insert(path, kind);
            }
        }
        // Where gix's paths differ from git's (see crate::merge::shims).
        for conflict in merge.conflicts.iter().filter(|c| c.is_unresolved(how)) {
            shims::distinct_types_aside(&mut paths, conflict, our_label, their_label);
            shims::add_add_by_mode(&mut paths, conflict);
        }
        // A file git moves along with a directory rename is conflicted at its new path, and
        // so is a conflict about it elsewhere (a rename/rename into the renamed directory).
        for m in moves {
            if let Some(kind) = paths.remove(&m.from) {
                paths.insert(m.to.clone(), kind);
            }
        }
        for (path, kind) in relocated {
            paths.entry(path).or_insert(kind);
        }
        shims::drop_sources_renamed_alike(&mut paths, &merge.conflicts, moves, how);
        Ok(paths.into_iter().map(|(path, kind)| ConflictPath::listed(path, kind)).collect())
    }
}

/// The merged tree as an index, limited to what the conflicts can touch: the entries of every
/// directory holding a path a conflict names, and everything below such a path (a directory
/// on one side of a file/directory conflict). Building the index of the whole tree cost a
/// fifth of the check on a repository of 6,000 files; the conflicts only look up their own
/// paths, so the result is the same.
fn partial_index(
    repo: &gix::Repository,
    tree: ObjectId,
    conflicts: &[gix::merge::plumbing::tree::Conflict],
) -> anyhow::Result<gix::index::State> {
    let mut named: HashSet<BString> = HashSet::new();
    for conflict in conflicts {
        for change in [&conflict.ours, &conflict.theirs] {
            named.insert(change.location().to_owned());
            if let gix::diff::tree_with_rewrites::Change::Rewrite { source_location, .. } = change {
                named.insert(source_location.clone());
            }
        }
        match &conflict.resolution {
            Ok(Resolution::SourceLocationAffectedByRename { final_location })
            | Ok(Resolution::OursModifiedTheirsRenamedAndChangedThenRename {
                final_location: Some(final_location),
                ..
            }) => {
                named.insert(final_location.clone());
            }
            Err(ResolutionFailure::OursModifiedTheirsDirectoryThenOursRenamed {
                renamed_unique_path_to_modified_blob: p,
            })
            | Err(ResolutionFailure::OursDirectoryTheirsNonDirectoryTheirsRenamed {
                renamed_unique_path_of_theirs: p,
            })
            | Err(ResolutionFailure::OursAddedTheirsAddedTypeMismatch { their_unique_location: p }) => {
                named.insert(p.clone());
            }
            _ => {}
        }
    }
    // Directories whose direct entries are wanted, and every directory above them.
    let wanted_dirs: HashSet<BString> = named
        .iter()
        .map(|path| parent_dirs(path.as_bstr()).next().map_or_else(BString::default, ToOwned::to_owned))
        .collect();
    let mut on_the_way: HashSet<BString> = HashSet::new();
    for path in wanted_dirs.iter().chain(named.iter()) {
        on_the_way.extend(parent_dirs(path.as_bstr()).map(ToOwned::to_owned));
        on_the_way.insert(path.clone());
    }
    let mut index = gix::index::State::new(repo.object_hash());
    let mut stack = vec![(BString::default(), tree, false)];
    while let Some((dir, tree_id, everything)) = stack.pop() {
        let tree = repo.find_tree(tree_id)?;
        let take_files = everything || wanted_dirs.contains(&dir);
        for entry in tree.iter() {
            let entry = entry?;
            let mut path = dir.clone();
            if !path.is_empty() {
                path.push_byte(b'/');
            }
            path.push_str(entry.filename());
            let below_named = everything || named.contains(&path);
            if entry.mode().is_tree() {
                if below_named || on_the_way.contains(&path) {
                    stack.push((path, entry.object_id(), below_named));
                }
            } else if take_files || below_named {
                let mode = gix::index::entry::Mode::from(entry.mode());
                index.dangerously_push_entry(
                    Default::default(),
                    entry.object_id(),
                    gix::index::entry::Flags::empty(),
                    mode,
                    path.as_bstr(),
                );
            }
        }
    }
    index.sort_entries();
    Ok(index)
}

/// When every unresolved conflict is a file both sides changed in place (the usual case), git
/// lists exactly those files: no need to write the merged tree and stage an index.
fn plain_content_conflicts(
    conflicts: &[gix::merge::plumbing::tree::Conflict],
    how: TreatAsUnresolved,
) -> Option<Vec<ConflictPath>> {
    use gix::diff::tree_with_rewrites::Change;
    let mut paths = BTreeMap::new();
    for conflict in conflicts.iter().filter(|c| c.is_unresolved(how)) {
        let (ours, theirs) = (&conflict.ours, &conflict.theirs);
        let in_place = ours.location() == theirs.location()
            && ours.entry_mode().kind() == theirs.entry_mode().kind()
            && matches!(conflict.resolution, Ok(Resolution::OursModifiedTheirsModifiedThenBlobContentMerge { .. }));
        let kind = match (ours, theirs) {
            (Change::Modification { .. }, Change::Modification { .. }) if in_place => ConflictKind::Content,
            (Change::Addition { .. }, Change::Addition { .. }) if in_place => ConflictKind::AddAdd,
            _ => return None,
        };
        paths.insert(ours.location().to_owned(), kind);
    }
    Some(paths.into_iter().map(|(path, kind)| ConflictPath::listed(path, kind)).collect())
}

/// What one merge found.
pub(crate) struct Merged {
    pub conflicts: Vec<ConflictPath>,
    pub overlap: Vec<BString>,
    /// The merged tree, written, when the merge was clean and trees were asked for.
    pub tree: Option<ObjectId>,
}

/// Dependency manifests and lock files: two tasks changing these need a look even when the
/// merge is clean.
/// For a file added in a migrations directory, the directory and its leading sequence number.
fn migration_number(path: &BStr) -> Option<(&BStr, &[u8])> {
    let slash = path.rfind("/")?;
    let (dir, name) = (path[..slash].as_bstr(), &path[slash + 1..]);
    if !dir.to_ascii_lowercase().contains_str("migrat") {
        return None;
    }
    let digits = name.iter().take_while(|b| b.is_ascii_digit()).count();
    (digits > 0).then(|| (dir, &name.as_bytes()[..digits]))
}

/// The decomposition checklist: scope, manifests, migrations, same new path.
fn hazards(repo: &gix::Repository, prepared: &[Prepared]) -> anyhow::Result<Vec<Hazard>> {
    let mut hazards = Vec::new();
    for p in prepared {
        if p.branch.scope.is_empty() {
            continue;
        }
        let outside: Vec<JsonPath> = p
            .own_changes()
            .map(|(path, _)| path)
            .filter(|path| !crate::scope::contains(&p.branch.scope, path.as_bstr()))
            .map(|path| JsonPath(path.clone()))
            .collect();
        if !outside.is_empty() {
            hazards.push(Hazard {
                kind: HazardKind::OutOfScope,
                tasks: vec![p.branch.task.clone()],
                message: format!("{} changed {} file(s) outside its scope", p.branch.task, outside.len()),
                paths: outside,
            });
        }
    }

    let manifest_changes: Vec<(&Prepared, Vec<&BString>)> = prepared
        .iter()
        .map(|p| {
            (
                p,
                p.own_changes()
                    .map(|(path, _)| path)
                    .filter(|path| crate::manifest::is_dependency_file(path))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, paths)| !paths.is_empty())
        .collect();
    if manifest_changes.len() > 1 {
        let tasks: Vec<String> = manifest_changes.iter().map(|(p, _)| p.branch.task.clone()).collect();
        let paths: BTreeSet<&BString> = manifest_changes.iter().flat_map(|(_, paths)| paths.iter().copied()).collect();
        hazards.push(Hazard {
            kind: HazardKind::DependencyManifest,
            message: format!("{} tasks changed dependency manifests or lock files: {}", tasks.len(), tasks.join(", ")),
            tasks,
            paths: paths.into_iter().map(|p| JsonPath(p.clone())).collect(),
        });
    }

    let mut migrations: BTreeMap<(BString, BString), Vec<(usize, BString)>> = BTreeMap::new();
    let mut added: BTreeMap<&BString, Vec<usize>> = BTreeMap::new();
    for (i, p) in prepared.iter().enumerate() {
        for (path, kind) in p.own_changes() {
            if *kind != ChangeKind::Added {
                continue;
            }
            added.entry(path).or_default().push(i);
            if let Some((dir, number)) = migration_number(path.as_bstr()) {
                migrations.entry((dir.to_owned(), number.into())).or_default().push((i, path.clone()));
            }
        }
    }
    for ((dir, number), files) in migrations {
        let tasks: BTreeSet<usize> = files.iter().map(|(i, _)| *i).collect();
        if tasks.len() > 1 {
            let tasks: Vec<String> = tasks.into_iter().map(|i| prepared[i].branch.task.clone()).collect();
            hazards.push(Hazard {
                kind: HazardKind::MigrationNumber,
                message: format!("{} add migrations numbered {} in {}", tasks.join(" and "), number, dir),
                tasks,
                paths: files.into_iter().map(|(_, path)| JsonPath(path)).collect(),
            });
        }
    }
    for (path, owners) in added {
        // The same file, byte for byte and mode, on branches that share the commits beyond
        // their forks (an upstream branch both built on) was inherited, not added twice: git
        // merges it cleanly and nobody's work collides. Two agents writing the same new file
        // on their own still count.
        let inherited_alike = owners.len() > 1
            && owners[1..].iter().all(|&i| !prepared[i].commits.is_disjoint(&prepared[owners[0]].commits))
            && same_entry_everywhere(repo, prepared, &owners, path)?;
        if owners.len() > 1 && !inherited_alike {
            let tasks: Vec<String> = owners.iter().map(|&i| prepared[i].branch.task.clone()).collect();
            hazards.push(Hazard {
                kind: HazardKind::SameNewPath,
                message: format!("{} all add {}", tasks.join(", "), JsonPath(path.clone())),
                tasks,
                paths: vec![JsonPath(path.clone())],
            });
        }
    }
    Ok(hazards)
}

/// Do the heads of `owners` hold the same entry (mode and object) at `path`?
fn same_entry_everywhere(
    repo: &gix::Repository,
    prepared: &[Prepared],
    owners: &[usize],
    path: &BString,
) -> anyhow::Result<bool> {
    let mut first = None;
    for &i in owners {
        let tree = repo.find_commit(prepared[i].branch.head)?.tree()?;
        let entry = crate::git::entry_at(&tree, path)?;
        match (&first, entry) {
            (_, None) => return Ok(false),
            (None, Some(entry)) => first = Some(entry),
            (Some(seen), Some(entry)) if *seen == entry => {}
            (Some(_), Some(_)) => return Ok(false),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(list: &[(&str, ChangeKind)]) -> BTreeMap<BString, ChangeKind> {
        list.iter().map(|(p, k)| (BString::from(*p), *k)).collect()
    }
    use ChangeKind::*;

    #[test]
    fn disjoint_files_do_not_interact() {
        assert!(!paths_interact(&changes(&[("a/x", Modified)]), &changes(&[("b/y", Modified), ("a/z", Modified)])));
    }

    #[test]
    fn the_same_file_interacts() {
        assert!(paths_interact(&changes(&[("a/x", Modified)]), &changes(&[("a/x", Deleted)])));
    }

    #[test]
    fn a_file_where_the_other_side_has_a_directory_interacts() {
        assert!(paths_interact(&changes(&[("p", Added)]), &changes(&[("p/q", Added)])));
        assert!(paths_interact(&changes(&[("deep/p", Deleted)]), &changes(&[("deep/p/q/r", Added)])));
    }

    #[test]
    fn adding_into_a_directory_the_other_side_emptied_interacts() {
        // A possible directory rename: `dir/a` moved away on one side, `dir/new` added on the other.
        let rename = changes(&[("dir/a", Deleted), ("newdir/a", Added)]);
        assert!(paths_interact(&rename, &changes(&[("dir/new", Added)])));
        assert!(paths_interact(&rename, &changes(&[("dir/sub/new", Added)])));
        assert!(!paths_interact(&rename, &changes(&[("other/new", Added)])));
    }

    #[test]
    fn root_level_deletions_do_not_make_every_addition_interact() {
        assert!(!paths_interact(&changes(&[("README", Deleted)]), &changes(&[("new.txt", Added)])));
    }

    #[test]
    fn manifests_and_migrations_are_recognised() {
        assert!(crate::manifest::is_dependency_file(b"Cargo.lock"));
        assert!(crate::manifest::is_dependency_file(b"web/package.json"));
        assert!(crate::manifest::is_dependency_file(b"requirements-dev.txt"));
        assert!(!crate::manifest::is_dependency_file(b"docs/Cargo.toml.md"));
        assert_eq!(migration_number(b"db/migrations/0042_add.sql".as_bstr()).unwrap().1, b"0042");
        assert!(migration_number(b"src/0042_add.sql".as_bstr()).is_none());
        assert!(migration_number(b"migrations/readme.md".as_bstr()).is_none());
    }
}
