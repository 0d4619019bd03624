//! Cleanup that cannot lose work: what `git agent-prune` checks before it removes a task's
//! worktree, branch and record, how `--force` archives first, and the removal itself, which
//! goes through [`crate::guard`] (re-checked under the task's claim at the moment it happens).
//!
//! Worktrees are found by git's registrations (the one whose HEAD is the task's branch, else the
//! one at the recorded path), never by where the worktree root says they should be. One task
//! failing never stops the others: every outcome, errors included, is reported per task.

use std::path::{Path, PathBuf};

use bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;
use serde::Serialize;

use crate::error::{race, refused};
use crate::git::{RegisteredHead, Registration};
use crate::guard::Guard;
use crate::output::JsonPath;
use crate::state::{TaskEntry, TaskRecord, TaskState};

/// Ignored files larger than this are not archived by `--force`; they need `--discard-ignored`.
pub const MAX_ARCHIVED_IGNORED_BYTES: u64 = 16 << 20;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub tasks: Vec<String>,
    pub all: bool,
    pub dry_run: bool,
    pub force: bool,
    pub discard_ignored: bool,
    pub merged_into: Option<ObjectId>,
    pub branch_prefix: String,
    pub worktree_root: PathBuf,
    /// `agent.copy`: files spawn put in the worktree.
    pub copy: Vec<String>,
    /// `agent.disposable`: ignored files that may go without asking.
    pub disposable: Vec<String>,
    /// `agent.link`: links to the main worktree spawn made; only the link goes.
    pub link: Vec<String>,
    /// The main worktree's `.worktreeinclude`: files spawn copied in.
    pub include: Option<crate::ops::worktree_files::Include>,
    /// The main worktree, where spawn copied and linked from (none in a bare repository).
    pub main_worktree: Option<PathBuf>,
    /// `--scratch`: remove every idle integrate slot, and leave the tasks alone.
    pub scratch: bool,
}

/// What happened to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Pruned,
    /// Refused; nothing of the task was changed.
    Refused,
    WouldPrune,
    WouldRefuse,
    /// Something moved between the check and the removal; what was removed is listed.
    Changed,
    /// Not considered: an agent is running, or the record is corrupt (not named, so not refused).
    Skipped,
    /// An unexpected error for this task only; what was removed before it is listed.
    Failed,
}

#[derive(Debug, Serialize, Default, Clone, Copy, schemars::JsonSchema)]
pub struct Removed {
    pub worktree: bool,
    pub branch: bool,
    pub record: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TaskReport {
    pub task: String,
    pub action: Action,
    pub refusals: Vec<String>,
    /// Ignored files removed (or to be removed) that match agent.disposable or agent.copy.
    pub ignored: Vec<JsonPath>,
    /// Ignored files git-agent did not put there: refused without --force, archived with it.
    pub precious_ignored: Vec<JsonPath>,
    pub archived: Vec<(String, String)>,
    pub removed: Removed,
    /// How to get past the refusal or failure, if there is a way that does what it says.
    pub hint: Option<String>,
}

impl TaskReport {
    fn new(task: &str, action: Action) -> Self {
        TaskReport {
            task: task.to_owned(),
            action,
            refusals: Vec::new(),
            ignored: Vec::new(),
            precious_ignored: Vec::new(),
            archived: Vec::new(),
            removed: Removed::default(),
            hint: None,
        }
    }
}

/// Everything prune did.
#[derive(Debug, Serialize, Default, schemars::JsonSchema)]
pub struct Report {
    pub tasks: Vec<TaskReport>,
    /// Damage cleaned up (or that would be): stale registrations, branches of interrupted spawns.
    pub cleaned: Vec<String>,
    /// Things left alone that the user should know about.
    pub warnings: Vec<String>,
}

/// Ignored files in a worktree, sorted by what may happen to them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// Matching agent.disposable or agent.copy: removed without asking.
    pub disposable: Vec<BString>,
    /// Anything else: refused without --force, archived with it.
    pub precious: Vec<BString>,
    /// Precious, but larger than [`MAX_ARCHIVED_IGNORED_BYTES`]: need --discard-ignored.
    pub too_large: Vec<BString>,
}

/// What was found about one task, before anything is removed.
#[derive(Debug, Default)]
pub struct Check {
    /// Why the task cannot be pruned without --force.
    pub refusals: Vec<String>,
    /// Why it cannot be pruned even with --force (nothing could archive it).
    pub hard_refusal: bool,
    /// What to do about the refusal, if there is something better than the general advice.
    pub hint: Option<String>,
    /// The branch was not created by git-agent spawn for this task: it is never deleted;
    /// --force archives and removes the rest (record, worktree) and keeps the branch.
    pub foreign_branch: bool,
    pub tip: Option<ObjectId>,
    pub registration: Option<Registration>,
    pub detached_head: Option<ObjectId>,
    pub dirty: bool,
    pub ignored: Ignored,
}

/// Prunes what `options` asks for; errors are per task, in the report.
pub fn prune(repo: &gix::Repository, entries: &[TaskEntry], options: &Options) -> anyhow::Result<Report> {
    let mut report = Report::default();
    if !options.dry_run {
        for path in crate::guard::restore_moved_aside(repo)? {
            report.warnings.push(format!("put back {}, which an interrupted prune had moved aside", path.display()));
        }
        // A killed integrate's scratch worktree holds only commits git-agent wrote and test output.
        for scratch in crate::integrate::remove_orphaned_scratch(repo, &options.worktree_root)? {
            report.cleaned.push(format!(
                "removed the scratch worktree {} of an integrate that is gone (pid {})",
                scratch.path.display(),
                scratch.pid
            ));
        }
    }
    prune_slots(repo, options, &mut report)?;
    if options.scratch {
        if !options.dry_run {
            crate::guard::remove_default_root_if_empty(repo, &options.worktree_root);
        }
        return Ok(report);
    }
    // Every record's worktree path: a record naming another task's worktree is never acted on.
    let recorded: Vec<(String, PathBuf)> = entries
        .iter()
        .filter_map(|e| e.record.as_ref().ok())
        .map(|r| (r.name.clone(), crate::git::normalise_path(&r.worktree)))
        .collect();
    for entry in entries {
        // A signal stops prune between two tasks, never inside one task's removal.
        if crate::interrupt::is_interrupted() {
            report
                .warnings
                .push("interrupted: stopped between two tasks; the tasks reported are all that was done".into());
            return Ok(report);
        }
        let named = options.tasks.contains(&entry.name);
        match prune_entry(repo, entry, named, options, &recorded) {
            Ok(Some(task)) => report.tasks.push(task),
            Ok(None) => {}
            Err(failure) => {
                let (mut task, err) = *failure;
                task.refusals.push(format!("{err:#}"));
                task.hint = crate::error::hint_of(&err).map(str::to_owned);
                report.tasks.push(task);
            }
        }
        crate::pause::point("prune-task-done");
    }
    if !crate::interrupt::is_interrupted() {
        clean_up_damage(repo, entries, options, &mut report)?;
    }
    if !options.dry_run {
        crate::guard::remove_default_root_if_empty(repo, &options.worktree_root);
    }
    Ok(report)
}

/// Integrate's slots (see [`crate::scratch`]): those of deleted target branches, those whose
/// directory was deleted by hand, and with `--scratch` every idle one. A held slot stays.
fn prune_slots(repo: &gix::Repository, options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let slots = crate::scratch::prune_slots(repo, &options.worktree_root, options.scratch, options.dry_run)?;
    let verb = if options.dry_run { "would remove" } else { "removed" };
    for slot in slots.removed {
        let branch = slot.target.strip_prefix("refs/heads/").unwrap_or(&slot.target);
        let why = match slot.why {
            crate::scratch::Stale::TargetGone => format!("branch {branch} is gone"),
            crate::scratch::Stale::DirectoryGone => "its directory was deleted".to_owned(),
            crate::scratch::Stale::Idle => "idle".to_owned(),
        };
        report.cleaned.push(format!("{verb} the integrate slot {} ({why})", slot.path.display()));
    }
    for kept in slots.kept {
        report.warnings.push(format!("kept the integrate slot {}: {}", kept.path.display(), kept.why));
    }
    Ok(())
}

/// A task's report, or its report so far and the error that stopped it (boxed: it is large).
type Outcome = Result<Option<TaskReport>, Box<(TaskReport, anyhow::Error)>>;

fn prune_entry(
    repo: &gix::Repository,
    entry: &TaskEntry,
    named: bool,
    options: &Options,
    recorded: &[(String, PathBuf)],
) -> Outcome {
    // Before the task is known to be selected, a task that cannot be read is skipped unless named.
    let unreadable = |err: anyhow::Error| {
        let action = match crate::error::exit_of(&err) {
            _ if !named => Action::Skipped,
            crate::error::Exit::Refused => Action::Refused,
            _ => Action::Failed,
        };
        Box::new((TaskReport::new(&entry.name, action), err))
    };
    let failed = |err: anyhow::Error| {
        let action = match crate::error::exit_of(&err) {
            crate::error::Exit::Refused => Action::Refused,
            _ => Action::Failed,
        };
        Box::new((TaskReport::new(&entry.name, action), err))
    };
    let record = match &entry.record {
        Ok(record) => record,
        Err(why) => {
            let action = if named { Action::Refused } else { Action::Skipped };
            let mut task = TaskReport::new(&entry.name, action);
            task.refusals.push(format!("the task record is corrupt ({why}); git-agent does not act on it"));
            return Ok(Some(task));
        }
    };
    let target = target_of(repo, record, options.merged_into).map_err(unreadable)?;
    let branch = crate::guard::task_branch(&options.branch_prefix, &record.name);
    let tip = crate::git::ref_target(repo, &branch).map_err(unreadable)?;
    let integrated = record.state == TaskState::Integrated
        || (tip.is_some_and(|t| Some(t) != record.start_commit())
            && is_integrated(repo, record, tip, target.commit).map_err(unreadable)?);
    // Tasks named are the only ones considered, with or without --all.
    if !(named || (options.tasks.is_empty() && (options.all || integrated))) {
        return Ok(None);
    }
    if let Some(owner) = crate::lock::task_holder(repo, &record.name) {
        // A running agent is part of its task; so is a spawn or prune in progress.
        let action = if named { Action::Refused } else { Action::Skipped };
        let mut task = TaskReport::new(&record.name, action);
        task.refusals.push(if owner.purpose == "agent" {
            format!("its agent is running ({})", owner.describe())
        } else {
            format!("another git-agent works on it right now ({})", owner.describe())
        });
        return Ok(Some(task));
    }
    let check = check(repo, record, &branch, tip, target, options, recorded).map_err(failed)?;
    let mut task = TaskReport::new(&record.name, Action::Pruned);
    task.refusals = check.refusals.clone();
    task.ignored = check.ignored.disposable.iter().cloned().map(JsonPath).collect();
    task.precious_ignored = check.ignored.precious.iter().cloned().map(JsonPath).collect();
    let refused = !check.refusals.is_empty() && (!options.force || check.hard_refusal);
    if refused {
        task.hint = if check.hard_refusal {
            check.hint.clone()
        } else {
            check.hint.clone().or_else(|| {
                Some("commit, merge or stash the work, or prune with --force to archive it and prune anyway".into())
            })
        };
    }
    if options.dry_run {
        task.action = if refused { Action::WouldRefuse } else { Action::WouldPrune };
        return Ok(Some(task));
    }
    if refused {
        task.action = Action::Refused;
        return Ok(Some(task));
    }
    match remove_task(repo, entry.record_commit, record, &branch, target.commit, &check, options, &mut task) {
        Ok(()) => Ok(Some(task)),
        Err(err) => {
            task.action = match crate::error::exit_of(&err) {
                // Exit 3 promises nothing changed: an archive made already makes it "changed".
                crate::error::Exit::Refused if !task.removed.worktree && task.archived.is_empty() => Action::Refused,
                crate::error::Exit::Race | crate::error::Exit::Refused => Action::Changed,
                _ => Action::Failed,
            };
            Err(Box::new((task, err)))
        }
    }
}

/// Checks `--into REV` (resolved to `commit`): work counts as merged only into commits
/// that stay. A task branch as REV would count the other tasks as merged into a branch that
/// this very run may delete, so REV must not name one, and its commit must be reachable from a
/// ref that is not a task branch (or one of git-agent's own refs).
pub fn check_merged_into(repo: &gix::Repository, rev: &str, commit: ObjectId, prefix: &str) -> anyhow::Result<()> {
    let task_branches = format!("refs/heads/{prefix}");
    let name = rev.split(['~', '^', ':']).next().unwrap_or(rev);
    let name = name.split("@{").next().unwrap_or(name);
    if !name.is_empty()
        && let Ok(Some(reference)) = repo.try_find_reference(name)
        && reference.name().as_bstr().starts_with(task_branches.as_bytes())
    {
        return Err(refused(format!(
            "--into {rev}: {} is a task branch, which prune may delete in this run",
            reference.name().as_bstr()
        ))
        .hint("name the branch the work was merged into (for example main)")
        .into());
    }
    if crate::git::reachable_from(repo, commit, &tips_outside_tasks(repo, prefix, false)?)? {
        return Ok(());
    }
    Err(refused(format!(
        "--into {rev}: {} is only on task branches, which prune may delete in this run",
        crate::git::short_id(&commit)
    ))
    .hint("name a branch or tag outside the task branches that holds the work")
    .into())
}

fn parse_id(hex: &str) -> Option<ObjectId> {
    ObjectId::from_hex(hex.as_bytes()).ok()
}

/// The commit a task's work must be in to count as merged.
#[derive(Debug, Clone, Copy)]
struct Target {
    commit: ObjectId,
    /// It is the record's base commit, which no branch (nor `--into`) names: nothing says a ref
    /// still keeps it, so being merged into it does not keep the work.
    base_commit_only: bool,
}

/// What "merged" means for a task: `--into`, else its base branch now, else its base commit.
fn target_of(repo: &gix::Repository, record: &TaskRecord, merged_into: Option<ObjectId>) -> anyhow::Result<Target> {
    if let Some(commit) = merged_into {
        return Ok(Target { commit, base_commit_only: false });
    }
    if let Some(base_ref) = &record.base_ref
        && base_ref.starts_with("refs/heads/")
        && let Some(commit) = crate::git::ref_target(repo, base_ref)?
    {
        return Ok(Target { commit, base_commit_only: false });
    }
    let commit = parse_id(&record.base_commit)
        .filter(|id| repo.has_object(id))
        .ok_or_else(|| refused(format!("the record's base commit {:?} is not a commit here", record.base_commit)))?;
    Ok(Target { commit, base_commit_only: true })
}

/// Is `commit` kept by a ref prune does not delete: a branch other than a task branch, a tag,
/// a remote-tracking branch, an archive, or the main worktree's HEAD? Task branches do not
/// count: this very run may delete them all.
fn kept_outside_tasks(repo: &gix::Repository, commit: ObjectId, prefix: &str) -> anyhow::Result<bool> {
    let mut tips = tips_outside_tasks(repo, prefix, true)?;
    tips.extend(crate::git::main_repo(repo)?.head_id().ok().map(|id| id.detach()));
    crate::git::reachable_from(repo, commit, &tips)
}

/// The commits of every ref but the task branches (under `prefix`) and git-agent's own refs,
/// archives included if `with_archives`.
fn tips_outside_tasks(repo: &gix::Repository, prefix: &str, with_archives: bool) -> anyhow::Result<Vec<ObjectId>> {
    let task_branches = format!("refs/heads/{prefix}");
    let mut tips = Vec::new();
    for reference in repo.references()?.all()? {
        let Ok(mut reference) = reference else { continue };
        let full = reference.name().as_bstr().to_owned();
        let archive = full.starts_with(crate::layout::ARCHIVE_PREFIX.as_bytes());
        if full.starts_with(task_branches.as_bytes())
            || (full.starts_with(b"refs/agent/") && !(with_archives && archive))
        {
            continue;
        }
        if let Ok(tip) = reference.peel_to_id() {
            tips.push(tip.detach());
        }
    }
    Ok(tips)
}

/// Is the work of `tip` in `target`? Its tip is an ancestor; or every commit has a patch-id-equal
/// commit in the target (`git cherry`, after rebase integration); or the record's integration
/// commit is in the target and holds every change the branch makes (after squash or rebase, and
/// the branch has not moved since).
pub fn is_integrated(
    repo: &gix::Repository,
    record: &TaskRecord,
    tip: Option<ObjectId>,
    target: ObjectId,
) -> anyhow::Result<bool> {
    let Some(tip) = tip else { return Ok(true) };
    if crate::git::merge_base(repo, tip, target)? == Some(tip) {
        return Ok(true);
    }
    if let Some(commit) = record.integrated_commit.as_deref().and_then(parse_id)
        && repo.has_object(commit)
        && crate::git::merge_base(repo, commit, target)? == Some(commit)
        && holds_changes_of(repo, commit, tip, target)?
    {
        return Ok(true);
    }
    every_commit_has_an_equivalent(repo, tip, target)
}

/// Does the tree of `holder` have every path that `tip` changed since its merge base with
/// `target`, with the content `tip` gave it?
fn holds_changes_of(repo: &gix::Repository, holder: ObjectId, tip: ObjectId, target: ObjectId) -> anyhow::Result<bool> {
    let Some(base) = crate::git::merge_base(repo, tip, target)? else { return Ok(false) };
    let holder_tree = repo.find_commit(holder)?.tree()?;
    let tip_tree = repo.find_commit(tip)?.tree()?;
    for path in crate::git::changed_paths(repo, base, tip)? {
        let in_holder = holder_tree.lookup_entry_by_path(gix::path::from_bstr(path.as_bstr())?)?.map(|e| e.object_id());
        let in_tip = tip_tree.lookup_entry_by_path(gix::path::from_bstr(path.as_bstr())?)?.map(|e| e.object_id());
        if in_holder != in_tip {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `git cherry <target> <tip>` lists no commit with `+`: each has a patch-id-equal one in the target.
fn every_commit_has_an_equivalent(repo: &gix::Repository, tip: ObjectId, target: ObjectId) -> anyhow::Result<bool> {
    let dir = repo.workdir().unwrap_or(repo.git_dir());
    let out = crate::process::run_git(dir, &["cherry", &target.to_string(), &tip.to_string()])?;
    Ok(out.lines().all(|line| line.starts_with('-')))
}

/// The registration of the task's worktree: the one at the recorded path, else the only one
/// whose HEAD is the task's branch (moved, or the worktree root changed). With several such,
/// none is guessed at.
pub fn find_registration(
    repo: &gix::Repository,
    branch: &str,
    recorded: &Path,
) -> anyhow::Result<Option<Registration>> {
    Ok(registration_among(&normalised_registrations(repo)?, branch, recorded).map(|(_, r)| r.clone()))
}

/// Every worktree registration with its directory normalised: one walk, for finding many
/// tasks' worktrees with [`registration_among`].
pub fn normalised_registrations(repo: &gix::Repository) -> anyhow::Result<Vec<(Option<PathBuf>, Registration)>> {
    Ok(crate::git::registrations(repo)?
        .into_iter()
        .map(|r| (r.path.as_deref().map(crate::git::normalise_path), r))
        .collect())
}

/// [`find_registration`] among `registrations` (from [`normalised_registrations`]), with its
/// normalised path.
pub fn registration_among<'a>(
    registrations: &'a [(Option<PathBuf>, Registration)],
    branch: &str,
    recorded: &Path,
) -> Option<&'a (Option<PathBuf>, Registration)> {
    let wanted = crate::git::normalise_path(recorded);
    if let Some(at_path) = registrations.iter().find(|(path, _)| path.as_ref() == Some(&wanted)) {
        return Some(at_path);
    }
    let mut by_head = registrations.iter().filter(|(_, r)| r.head == RegisteredHead::Branch(branch.to_owned()));
    match (by_head.next(), by_head.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Where the task's worktree is now: found through git's registrations (after `git worktree
/// move` the record's path is stale), else the recorded path.
pub fn worktree_path(repo: &gix::Repository, record: &TaskRecord) -> PathBuf {
    find_registration(repo, &record.branch, &record.worktree)
        .ok()
        .flatten()
        .filter(|r| !r.missing)
        .and_then(|r| r.path)
        .unwrap_or_else(|| record.worktree.clone())
}

/// Checks everything that could make pruning the task lose work, or act on what is not its own.
fn check(
    repo: &gix::Repository,
    record: &TaskRecord,
    branch: &str,
    tip: Option<ObjectId>,
    target_now: Target,
    options: &Options,
    recorded: &[(String, PathBuf)],
) -> anyhow::Result<Check> {
    let mut check = Check { tip, ..Default::default() };
    let target = target_now.commit;

    if record.branch != branch {
        check.refusals.push(format!(
            "the record names branch {:?}, but the branch of task {} is {branch}; git-agent never deletes another branch",
            record.branch, record.name
        ));
        check.hard_refusal = true;
        return Ok(check);
    }
    if tip.is_some() && !crate::guard::created_by_spawn(repo, branch, &record.name)? {
        check.foreign_branch = true;
        check.refusals.push(format!(
            "branch {} was not created by git-agent spawn {} (its first reflog entry does not say so); \
             git-agent deletes only branches it created",
            record.short_branch(),
            record.name
        ));
        check.hint = Some("prune --force archives and removes the record and worktree, and keeps the branch".into());
    }
    if let Some(tip) = tip
        && !is_integrated(repo, record, Some(tip), target)?
    {
        let unmerged = crate::git::count_only_in(repo, tip, target)?;
        check
            .refusals
            .push(format!("branch {} has {unmerged} commit(s) that are not in the target", record.short_branch()));
    } else if let Some(tip) = tip
        && target_now.base_commit_only
        && !kept_outside_tasks(repo, tip, &options.branch_prefix)?
    {
        // Never delete the last ref to a commit without an archive: a task spawned from an
        // archive (or a branch deleted since) may be all that keeps its base commit.
        check.refusals.push(format!("branch {} has commits no other branch or tag has", record.short_branch()));
        check.hint.get_or_insert_with(|| "prune --force archives the branch, then prunes the task".into());
    }
    check.registration = find_registration(repo, branch, &record.worktree)?;
    // Found by path only (its HEAD is not the task's branch): another record naming the same
    // path makes it someone else's as likely as this task's.
    let own_path = crate::git::normalise_path(&record.worktree);
    let by_head = check.registration.as_ref().is_some_and(|r| r.head == RegisteredHead::Branch(branch.to_owned()));
    if !by_head && let Some((other, _)) = recorded.iter().find(|(name, path)| name != &record.name && path == &own_path)
    {
        check.refusals.push(format!(
            "the record names the worktree {} of task {other}; git-agent does not act on it",
            record.worktree.display()
        ));
        check.hard_refusal = true;
        return Ok(check);
    }
    if let Some(fail) = check.registration.as_ref().and_then(|r| crate::guard::current_worktree_refusal(repo, r)) {
        check.refusals.push(fail.message);
        check.hint = fail.hint;
        check.hard_refusal = true;
        return Ok(check);
    }
    let Some(registration) = check.registration.clone() else {
        if crate::git::is_non_empty_dir(&record.worktree) {
            check
                .refusals
                .push(format!("{} is not a registered worktree of this repository", record.worktree.display()));
            check.hard_refusal = true;
        }
        return Ok(check);
    };
    if let Some(reason) = &registration.locked {
        let what = if registration.missing { "the worktree is missing but locked" } else { "the worktree is locked" };
        check.refusals.push(format!("{what}{}", reason_text(reason)));
    }
    if let RegisteredHead::Branch(other) = &registration.head
        && other != branch
    {
        check.refusals.push(format!("its worktree has another branch checked out ({other})"));
        check.hard_refusal = true;
        return Ok(check);
    }
    if registration.missing {
        // Deleted by hand: the registration's HEAD may be the only reference to its commits.
        if let RegisteredHead::Detached(head) = registration.head
            && !reachable_from_any_branch(repo, head, target)?
        {
            check.detached_head = Some(head);
            check.refusals.push(format!(
                "the deleted worktree's HEAD was detached at {} with commits on no branch",
                crate::git::short_id(&head)
            ));
        }
        return Ok(check);
    }
    let path = registration.path.clone().expect("a present registration has a path");
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        check.refusals.push(format!("{} is a link; only the link would be removed", path.display()));
        return Ok(check);
    }
    if !crate::git::worktree_points_to(&path, &registration.admin_dir) {
        check.refusals.push(format!(
            "{} does not belong to its registration (its .git file is missing or points elsewhere)",
            path.display()
        ));
        check.hard_refusal = true;
        return Ok(check);
    }
    let contents = check_contents(repo, &path, target, options)?;
    check.refusals.extend(contents.refusals);
    check.hard_refusal |= contents.hard;
    check.dirty = contents.dirty;
    check.detached_head = contents.detached_head;
    check.ignored = contents.ignored;
    Ok(check)
}

/// What a worktree directory holds that pruning could lose.
#[derive(Debug, Default, PartialEq, Eq)]
struct Contents {
    refusals: Vec<String>,
    hard: bool,
    dirty: bool,
    detached_head: Option<ObjectId>,
    ignored: Ignored,
}

/// Checks the files of the worktree at `path` (also run on the moved-aside directory, just
/// before it is deleted).
fn check_contents(
    repo: &gix::Repository,
    path: &Path,
    target: ObjectId,
    options: &Options,
) -> anyhow::Result<Contents> {
    let mut contents = Contents::default();
    let wt = crate::git::open_worktree_for_status(path)?;
    if let Some(state) = wt.state() {
        contents.refusals.push(format!("a {} is in progress in the worktree", in_progress_name(&state)));
    }
    if crate::git::has_changes(&wt)? {
        contents.dirty = true;
        contents.refusals.push("the worktree has uncommitted changes or untracked files".into());
    }
    if crate::git::head_branch(&wt)?.is_none() {
        let head = wt.head_id()?.detach();
        if !reachable_from_any_branch(repo, head, target)? {
            contents.detached_head = Some(head);
            contents
                .refusals
                .push(format!("HEAD is detached at {} with commits on no branch", crate::git::short_id(&head)));
        }
    }
    if let Some(nested) = nested_repository(path)? {
        // Its commits live outside this repository: --force could not archive them.
        contents.refusals.push(format!(
            "it holds a nested repository or initialised submodule at {} (move it out first; --force cannot archive it)",
            nested.strip_prefix(path).unwrap_or(&nested).display()
        ));
        contents.hard = true;
    }
    contents.ignored = classify_ignored(&wt, path, options)?;
    if !contents.ignored.precious.is_empty() {
        let names: Vec<String> = contents.ignored.precious.iter().map(|p| p.to_string()).collect();
        contents.refusals.push(format!(
            "ignored files git-agent did not put there: {} (agent.disposable lists what may go)",
            names.join(", ")
        ));
    }
    if !contents.ignored.too_large.is_empty() && !options.discard_ignored {
        let names: Vec<String> = contents.ignored.too_large.iter().map(|p| p.to_string()).collect();
        contents.refusals.push(format!(
            "ignored files too large to archive ({} bytes at most each): {} (--discard-ignored deletes them)",
            MAX_ARCHIVED_IGNORED_BYTES,
            names.join(", ")
        ));
        // --force cannot archive them, so it alone does not remove them.
        contents.hard = true;
    }
    Ok(contents)
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
    if !repo.has_object(commit) {
        return Ok(true); // Nothing to keep: the object is not here.
    }
    if crate::git::merge_base(repo, commit, target)? == Some(commit) {
        return Ok(true);
    }
    on_some_branch(repo, commit)
}

/// Is `commit` on some local branch?
fn on_some_branch(repo: &gix::Repository, commit: ObjectId) -> anyhow::Result<bool> {
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

/// Sorts the worktree's ignored files: build output and copied files may go; anything else
/// (a hand-made `.env.local`, notes) is precious.
fn classify_ignored(wt: &gix::Repository, top: &Path, options: &Options) -> anyhow::Result<Ignored> {
    use gix::dir::walk::EmissionMode;
    let index = wt.index_or_empty()?;
    let walk_options = wt
        .dirwalk_options()?
        .emit_ignored(Some(EmissionMode::CollapseDirectory))
        .emit_untracked(EmissionMode::Matching);
    let patterns: Vec<BString> = vec![":/".into()];
    let mut ignored = Ignored::default();
    for item in wt.dirwalk_iter(index, patterns, Default::default(), walk_options)? {
        let item = item?;
        if !matches!(item.entry.status, gix::dir::entry::Status::Ignored(_)) {
            continue;
        }
        let path = item.entry.rela_path;
        let is_dir = matches!(item.entry.disk_kind, Some(gix::dir::entry::Kind::Directory));
        if made_by_spawn(top, path.as_bstr(), is_dir, options) {
            continue;
        }
        if is_disposable(&options.disposable, path.as_bstr(), is_dir) {
            ignored.disposable.push(path);
            continue;
        }
        let size = tree_size(&top.join(gix::path::from_bstr(path.as_bstr())?));
        if size > MAX_ARCHIVED_IGNORED_BYTES {
            ignored.too_large.push(path.clone());
            if options.discard_ignored {
                ignored.disposable.push(path);
            }
            continue;
        }
        ignored.precious.push(path);
    }
    ignored.disposable.sort();
    ignored.precious.sort();
    ignored.too_large.sort();
    Ok(ignored)
}

/// Is the ignored entry at `path` (below the worktree `top`) one spawn copied or linked in,
/// unchanged? Then the main worktree has the original and it is not worth naming. A path the
/// copy patterns match is not enough: a hand-made `.env.local`, or a copy the agent edited, is
/// the task's own work and would be lost, so only an identical copy counts. A link is removed
/// as a link (its target in the main worktree stays), but only spawn's own link to the main
/// worktree's same path counts as spawn's.
fn made_by_spawn(top: &Path, path: &BStr, is_dir: bool, options: &Options) -> bool {
    let (Some(main), Ok(relative)) = (&options.main_worktree, gix::path::from_bstr(path)) else { return false };
    let (here, original) = (top.join(&relative), main.join(&relative));
    let is_link = here.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
    if is_link && options.link.iter().any(|link| path == link.as_str()) {
        return std::fs::read_link(&here).is_ok_and(|target| links_to(&target, &original));
    }
    let copied = options.copy.iter().any(|p| copied_by(p, path))
        || options.include.as_ref().is_some_and(|include| include.covers(top, path, is_dir));
    copied && identical(&here, &original)
}

/// Is the link target `target` the path `original` (spawn writes it absolute, as it found it)?
fn links_to(target: &Path, original: &Path) -> bool {
    target == original
        || (target.is_absolute() && crate::git::normalise_path(target) == crate::git::normalise_path(original))
}

/// Is `copy` what copying `original` made: the same kind; a file with the same bytes, a link
/// with the same target, a directory whose every entry is identical to the original's (which
/// may hold more: spawn copies only the included files of a directory). Links are not followed.
fn identical(copy: &Path, original: &Path) -> bool {
    let (Ok(here), Ok(there)) = (copy.symlink_metadata(), original.symlink_metadata()) else { return false };
    let (here_kind, there_kind) = (here.file_type(), there.file_type());
    if here_kind.is_symlink() || there_kind.is_symlink() {
        return here_kind.is_symlink()
            && there_kind.is_symlink()
            && matches!((std::fs::read_link(copy), std::fs::read_link(original)), (Ok(a), Ok(b)) if a == b);
    }
    if here.is_dir() {
        let Ok(entries) = std::fs::read_dir(copy) else { return false };
        return there.is_dir()
            && entries.into_iter().all(|e| e.is_ok_and(|e| identical(&e.path(), &original.join(e.file_name()))));
    }
    here.is_file() && there.is_file() && here.len() == there.len() && same_bytes(copy, original).unwrap_or(false)
}

/// Do the two files (of the same size) hold the same bytes? Read in blocks: copies can be large.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut a, mut b) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut block_a, mut block_b) = (vec![0; 64 << 10], vec![0; 64 << 10]);
    loop {
        let n = a.read(&mut block_a)?;
        if n == 0 {
            // The end of `a`: `b` must end too (it may have grown since its size was read).
            return Ok(b.read(&mut block_b[..1])? == 0);
        }
        b.read_exact(&mut block_b[..n])?;
        if block_a[..n] != block_b[..n] {
            return Ok(false);
        }
    }
}

/// Does the `agent.copy` pattern match `path` (as spawn's top-anchored pathspec would)?
fn copied_by(pattern: &str, path: &BStr) -> bool {
    crate::scope::contains(&[pattern.trim_start_matches(":/").to_owned()], path)
}

/// Does an `agent.disposable` glob match `path`, the way a `.gitignore` line would: a pattern
/// without an inner slash matches a path component at any depth, one with a slash is anchored
/// at the top; a trailing slash matches directories only.
pub fn is_disposable(patterns: &[String], path: &BStr, is_dir: bool) -> bool {
    use gix::glob::wildmatch;
    let components: Vec<&[u8]> = path.split_str("/").filter(|c| !c.is_empty()).collect();
    patterns.iter().any(|pattern| {
        let dir_only = pattern.ends_with('/');
        let core = pattern.trim_end_matches('/').trim_start_matches('/');
        if core.is_empty() {
            return false;
        }
        // The component at `i` is a directory if something follows it, or the entry is one.
        let allowed = |i: usize| !dir_only || i + 1 < components.len() || is_dir;
        if core.contains('/') || pattern.starts_with('/') {
            return (0..components.len()).any(|i| {
                allowed(i)
                    && wildmatch(
                        core.as_bytes().as_bstr(),
                        components[..=i].join(&b'/').as_bstr(),
                        wildmatch::Mode::NO_MATCH_SLASH_LITERAL,
                    )
            });
        }
        components.iter().enumerate().any(|(i, c)| {
            allowed(i) && wildmatch(core.as_bytes().as_bstr(), c.as_bstr(), wildmatch::Mode::NO_MATCH_SLASH_LITERAL)
        })
    })
}

/// Bytes in the file or directory tree at `path` (links count as themselves).
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = path.symlink_metadata() else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |entries| entries.flatten().map(|e| tree_size(&e.path())).sum())
}

/// Archives, then removes one task through the guard: worktree (or its stale registration),
/// branch, record. With --force, what is archived is taken from the worktree after it was
/// moved aside, so exactly what was archived is removed.
#[allow(clippy::too_many_arguments)]
fn remove_task(
    repo: &gix::Repository,
    record_commit: ObjectId,
    record: &TaskRecord,
    branch: &str,
    target: ObjectId,
    check: &Check,
    options: &Options,
    task: &mut TaskReport,
) -> anyhow::Result<()> {
    let guard = Guard::claim(repo, &record.name, &options.branch_prefix, "prune")?;
    // Under the claim: the record and the branch must be as they were checked.
    let now = crate::state::find_task(repo, &record.name)?.map(|e| e.record_commit);
    if now != Some(record_commit) {
        return Err(race(format!("the record of task {} changed since it was checked", record.name)).into());
    }
    if crate::git::ref_target(repo, branch)? != check.tip {
        return Err(race(format!("branch {} moved since it was checked", record.short_branch())).into());
    }
    let leaving = check.registration.as_ref().map(|r| r.admin_dir.as_path());
    // A branch git-agent did not create stays, whatever the record says.
    let delete_tip = check.tip.filter(|_| !check.foreign_branch);
    if let Some(why) = delete_tip.map(|_| guard.branch_refusal(branch, true, leaving)).transpose()?.flatten() {
        return Err(refused(why).into());
    }
    let stamp = crate::state::now_ms();
    let prefix = crate::layout::archive_prefix(&record.name, stamp);
    if options.force && !check.refusals.is_empty() {
        let mut refs: Vec<(String, ObjectId)> = vec![(format!("{prefix}/record"), record_commit)];
        refs.extend(check.tip.map(|tip| (format!("{prefix}/branch"), tip)));
        let missing = check.registration.as_ref().is_none_or(|r| r.missing);
        if missing && let Some(head) = check.detached_head {
            refs.push((format!("{prefix}/head"), head));
        }
        archive_refs(repo, record, &refs, task)?;
    }
    crate::pause::point("prune-before-remove");
    let lock_refs = || guard.lock_deletions(Some(record_commit), delete_tip, true, leaving);
    // Files first, refs last: a prune killed while it deletes files leaves no ref lock behind,
    // and the next prune finds the refs as they were and completes the removal. A branch that
    // moved meanwhile fails the compare-and-swap below and is kept (its commits with it).
    match &check.registration {
        None => {}
        Some(registration) if registration.missing => {
            guard.remove_missing_registration(registration)?;
            task.removed.worktree = true;
        }
        Some(registration) => {
            let verify = |aside: &Path| verify_moved_aside(repo, record, aside, target, check, options, &prefix, task);
            // Checked again just before the deletion (without a lock, see above): a commit made
            // since the check keeps the worktree.
            let unmoved = || {
                if crate::git::ref_target(repo, branch)? != check.tip {
                    return Err(race(format!("branch {} moved since it was checked", record.short_branch())).into());
                }
                Ok(())
            };
            guard.remove_worktree(registration, verify, unmoved)?;
            task.removed.worktree = true;
        }
    }
    crate::pause::point("prune-worktree-removed");
    lock_refs()?.commit()?;
    task.removed.branch = delete_tip.is_some();
    task.removed.record = true;
    Ok(())
}

/// Runs on the worktree just moved aside, before anything is deleted: without --force it must
/// still pass every check it passed before; with --force its changes, a detached HEAD and its
/// precious ignored files are archived from here.
#[allow(clippy::too_many_arguments)]
fn verify_moved_aside(
    repo: &gix::Repository,
    record: &TaskRecord,
    aside: &Path,
    target: ObjectId,
    check: &Check,
    options: &Options,
    prefix: &str,
    task: &mut TaskReport,
) -> anyhow::Result<()> {
    let contents = check_contents(repo, aside, target, options)?;
    if contents.hard {
        return Err(race(format!("task {} changed: {}", record.name, contents.refusals.join("; "))).into());
    }
    task.ignored = contents.ignored.disposable.iter().cloned().map(JsonPath).collect();
    task.precious_ignored = contents.ignored.precious.iter().cloned().map(JsonPath).collect();
    if !options.force {
        if !contents.refusals.is_empty() {
            return Err(race(format!(
                "task {} changed since it was checked: {}",
                record.name,
                contents.refusals.join("; ")
            ))
            .into());
        }
        return Ok(());
    }
    let mut refs = Vec::new();
    if let Some(head) = contents.detached_head {
        refs.push((format!("{prefix}/head"), head));
    }
    // What is staged, apart from the files: it can differ from both HEAD and the worktree.
    if let Some(index) = crate::git::snapshot_index(repo, aside)? {
        refs.push((format!("{prefix}/index"), index));
    }
    let snapshot = crate::git::snapshot_worktree(repo, aside, Default::default())?.map(|s| s.commit);
    let with_ignored = if contents.ignored.precious.is_empty() {
        snapshot
    } else {
        let base = match snapshot {
            Some(commit) => commit,
            None => crate::git::open_worktree_for_status(aside)?.head_id()?.detach(),
        };
        Some(add_files(repo, base, aside, &contents.ignored.precious)?)
    };
    if let Some(commit) = with_ignored {
        refs.push((format!("{prefix}/worktree"), commit));
    }
    if !refs.is_empty() {
        archive_refs(repo, record, &refs, task)?;
    }
    let _ = check;
    Ok(())
}

fn archive_refs(
    repo: &gix::Repository,
    record: &TaskRecord,
    refs: &[(String, ObjectId)],
    task: &mut TaskReport,
) -> anyhow::Result<()> {
    let edits: Vec<(&str, ObjectId)> = refs.iter().map(|(name, id)| (name.as_str(), *id)).collect();
    crate::git::create_refs(repo, &edits, &format!("git-agent: archive {}", record.name))?;
    task.archived.extend(refs.iter().map(|(name, id)| (name.clone(), id.to_string())));
    Ok(())
}

/// A commit on top of `base` that also holds the files (and directory trees) at `paths` in `dir`.
fn add_files(repo: &gix::Repository, base: ObjectId, dir: &Path, paths: &[BString]) -> anyhow::Result<ObjectId> {
    let tree = repo.find_commit(base)?.tree_id()?.detach();
    let mut editor = repo.edit_tree(tree)?;
    let mut stack: Vec<BString> = paths.to_vec();
    while let Some(relative) = stack.pop() {
        let full = dir.join(gix::path::from_bstr(relative.as_bstr())?);
        let Ok(meta) = full.symlink_metadata() else { continue };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full)?;
            let blob = repo.write_blob(gix::path::into_bstr(target.as_path())?.as_ref())?.detach();
            editor.upsert(relative.as_bstr(), gix::objs::tree::EntryKind::Link, blob)?;
        } else if meta.is_dir() {
            for entry in std::fs::read_dir(&full)?.flatten() {
                let mut child = relative.clone();
                if !child.ends_with(b"/") {
                    child.push(b'/');
                }
                child.extend_from_slice(gix::path::into_bstr(Path::new(&entry.file_name()))?.as_ref());
                stack.push(child);
            }
        } else {
            let blob = repo.write_blob(std::fs::read(&full)?)?.detach();
            editor.upsert(relative.as_bstr(), gix::objs::tree::EntryKind::Blob, blob)?;
        }
    }
    let tree = editor.write()?.detach();
    crate::git::write_commit(repo, tree, vec![base], "git-agent: snapshot of ignored files\n")
}

/// Stale registrations and branches of interrupted spawns: removed through the guard when
/// nothing can be lost, else reported.
fn clean_up_damage(
    repo: &gix::Repository,
    entries: &[TaskEntry],
    options: &Options,
    report: &mut Report,
) -> anyhow::Result<()> {
    let verb = if options.dry_run { "would remove" } else { "removed" };
    let owned: Vec<PathBuf> = entries
        .iter()
        .filter_map(|e| e.record.as_ref().ok())
        .map(|r| crate::git::normalise_path(&r.worktree))
        .collect();
    let prefix = format!("refs/heads/{}", options.branch_prefix);
    // Branches under the task prefix that no record owns.
    let mut orphans = Vec::new();
    for reference in repo.references()?.prefixed(prefix.as_str())? {
        let Ok(reference) = reference else { continue };
        let name = reference.name().as_bstr().to_string();
        let task = name.trim_start_matches(&prefix).to_owned();
        if entries.iter().any(|e| e.name == task) || crate::names::validate_task_name(&task).is_err() {
            continue;
        }
        let Some(tip) = reference.target().try_id().map(ToOwned::to_owned) else { continue };
        orphans.push((task, name, tip));
    }
    for (task, name, tip) in orphans {
        match clean_up_orphan(repo, &task, &name, tip, options) {
            Ok(Orphan::Removed { worktree }) => {
                let with = if worktree { " and its worktree" } else { "" };
                report.cleaned.push(format!("{verb} branch {}{with} left by an interrupted spawn", short(&name)));
            }
            Ok(Orphan::Kept(why)) => {
                report.warnings.push(format!("branch {} has no task record; kept: {why}", short(&name)))
            }
            Err(err) => report.warnings.push(format!("branch {}: {err:#}", short(&name))),
        }
    }
    for registration in crate::git::registrations(repo)? {
        let Some(path) = registration.path.clone() else { continue };
        let normalised = crate::git::normalise_path(&path);
        // A slot's registration is git-agent's own, handled by prune_slots.
        if !registration.missing
            || registration.admin_dir.join(crate::layout::SLOT_MARKER).exists()
            || registration.locked.is_some()
            || !normalised.starts_with(&options.worktree_root)
            || owned.contains(&normalised)
            || registration.head.branch_under(&prefix)
        {
            continue;
        }
        if let RegisteredHead::Detached(head) = registration.head
            && repo.has_object(head)
            && !on_some_branch(repo, head)?
        {
            report.warnings.push(format!(
                "the deleted worktree {} was detached at {} with commits on no branch; its registration is kept",
                path.display(),
                crate::git::short_id(&head)
            ));
            continue;
        }
        if !options.dry_run && crate::guard::remove_stray_registration(repo, &registration).is_err() {
            continue;
        }
        report.cleaned.push(format!("{verb} the stale worktree registration of {}", path.display()));
    }
    Ok(())
}

pub enum Orphan {
    Removed { worktree: bool },
    Kept(String),
}

/// Cleans up what an interrupted (killed) spawn of `task` left: its branch, at the commit it
/// was created at, and its clean worktree, with no record. Spawn calls this before it checks
/// that the branch and directory are free, so a killed spawn never blocks a new one.
pub fn recover_interrupted_spawn(repo: &gix::Repository, task: &str, options: &Options) -> anyhow::Result<Orphan> {
    let name = crate::guard::task_branch(&options.branch_prefix, task);
    let Some(tip) = crate::git::ref_target(repo, &name)? else { return Ok(Orphan::Kept("no branch".into())) };
    if crate::state::find_task(repo, task)?.is_some() {
        return Ok(Orphan::Kept("the task has a record".into()));
    }
    clean_up_orphan(repo, task, &name, tip, options)
}

/// An interrupted spawn leaves its branch (at the base, created by git-agent spawn) and maybe
/// a locked, clean worktree, but no record. Anything else is kept.
fn clean_up_orphan(
    repo: &gix::Repository,
    task: &str,
    name: &str,
    tip: ObjectId,
    options: &Options,
) -> anyhow::Result<Orphan> {
    if !crate::guard::created_by_spawn(repo, name, task)? {
        return Ok(Orphan::Kept("it was not created by git-agent spawn".into()));
    }
    // The spawn's own worktree is where spawn puts it; a worktree elsewhere with the branch
    // checked out is someone else's, and keeps the branch.
    let own_path = crate::git::normalise_path(&options.worktree_root.join(task));
    let registration = crate::git::registrations(repo)?.into_iter().find(|r| {
        r.head == RegisteredHead::Branch(name.to_owned())
            && r.path.as_ref().is_some_and(|p| crate::git::normalise_path(p) == own_path)
    });
    if let Some(owner) = crate::lock::task_holder(repo, task) {
        return Ok(Orphan::Kept(format!("a spawn is still working on it ({})", owner.describe())));
    }
    let leaving = registration.as_ref().map(|r| r.admin_dir.as_path());
    let base_target = crate::git::main_repo(repo)?.head_id().ok().map(|id| id.detach()).unwrap_or(tip);
    if !is_integrated_tip(repo, tip, base_target)? && !at_creation(repo, name, tip)? {
        return Ok(Orphan::Kept("it has commits that are not merged".into()));
    }
    // Created at a commit nothing else keeps (an archive dropped since): it is the last ref.
    if !kept_outside_tasks(repo, tip, &options.branch_prefix)? {
        return Ok(Orphan::Kept("it has commits no other branch or tag has".into()));
    }
    if let Some(place) = crate::guard::checked_out_at(repo, name, leaving)? {
        return Ok(Orphan::Kept(format!("it is checked out in {place}")));
    }
    if let Some(reason) = registration.as_ref().and_then(|r| r.locked.as_deref())
        && reason != "initializing"
    {
        return Ok(Orphan::Kept(format!("its worktree is locked ({reason})")));
    }
    // Killed during its checkout (gix locks the registration as "initializing" until it is
    // done): no index may exist yet, so git's status cannot judge it; every file must be one the
    // checkout wrote, with the branch's content.
    let initializing = registration.as_ref().and_then(|r| r.locked.as_deref()) == Some("initializing");
    let mut contents_refusal = None;
    if let Some(registration) = &registration
        && !registration.missing
        && let Some(path) = &registration.path
    {
        if !crate::git::worktree_points_to(path, &registration.admin_dir) {
            return Ok(Orphan::Kept(format!("its worktree {} does not belong to its registration", path.display())));
        }
        if initializing {
            if !only_checkout_files(repo, path, tip)? {
                contents_refusal = Some(format!(
                    "its half-checked-out worktree {} holds files its checkout did not write",
                    path.display()
                ));
            }
        } else {
            let contents = check_contents(repo, path, tip, options)?;
            if !contents.refusals.is_empty() {
                contents_refusal = Some(format!("its worktree {}: {}", path.display(), contents.refusals.join("; ")));
            }
        }
    }
    if let Some(why) = contents_refusal {
        return Ok(Orphan::Kept(why));
    }
    if options.dry_run {
        return Ok(Orphan::Removed { worktree: registration.is_some() });
    }
    let guard = Guard::claim(repo, task, &options.branch_prefix, "prune")?;
    if crate::state::find_task(repo, task)?.is_some() {
        return Ok(Orphan::Kept("a task record appeared meanwhile".into()));
    }
    match &registration {
        // The registration is locked while a spawn checks out ("initializing"); its spawn is gone.
        Some(registration) if registration.missing => guard.remove_missing_registration(registration)?,
        Some(registration) => {
            let verify = |aside: &Path| {
                if initializing {
                    return if only_checkout_files(repo, aside, tip)? {
                        Ok(())
                    } else {
                        Err(race("files appeared in the half-checked-out worktree").into())
                    };
                }
                let contents = check_contents(repo, aside, tip, options)?;
                if contents.refusals.is_empty() {
                    Ok(())
                } else {
                    Err(race(format!("the worktree changed: {}", contents.refusals.join("; "))).into())
                }
            };
            guard.remove_worktree(registration, verify, || Ok(()))?;
        }
        None => {}
    }
    guard.delete_branch(tip, false)?;
    Ok(Orphan::Removed { worktree: registration.is_some() })
}

/// Is every file below `dir` (but its `.git`) a file of `tip`'s tree with the same content (and
/// every link a link there with the same target)? Links are not followed.
fn only_checkout_files(repo: &gix::Repository, dir: &Path, tip: ObjectId) -> anyhow::Result<bool> {
    let tree = repo.find_commit(tip)?.tree()?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let path = entry.path();
            if current == dir && entry.file_name() == ".git" {
                continue;
            }
            let meta = path.symlink_metadata()?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir)?;
            let Some(found) = tree.lookup_entry_by_path(relative)? else { return Ok(false) };
            let bytes = if meta.file_type().is_symlink() {
                gix::path::into_bstr(std::fs::read_link(&path)?)?.to_vec()
            } else {
                std::fs::read(&path)?
            };
            let id = gix::objs::compute_hash(repo.object_hash(), gix::objs::Kind::Blob, &bytes)?;
            if id != found.object_id() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn is_integrated_tip(repo: &gix::Repository, tip: ObjectId, target: ObjectId) -> anyhow::Result<bool> {
    Ok(crate::git::merge_base(repo, tip, target)? == Some(tip))
}

/// Is the branch still where its first reflog entry put it (no commits since it was created)?
fn at_creation(repo: &gix::Repository, name: &str, tip: ObjectId) -> anyhow::Result<bool> {
    let Some(reference) = repo.try_find_reference(name)? else { return Ok(false) };
    let mut platform = reference.log_iter();
    let Some(entries) = platform.all()? else { return Ok(false) };
    let first = entries.into_iter().next().transpose()?;
    Ok(first.is_some_and(|line| ObjectId::from_hex(line.new_oid).ok() == Some(tip)))
}

fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

impl RegisteredHead {
    fn branch_under(&self, prefix: &str) -> bool {
        matches!(self, RegisteredHead::Branch(name) if name.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposable_globs_match_like_gitignore_lines() {
        let defaults: Vec<String> = crate::layout::DEFAULT_DISPOSABLE.iter().map(|s| s.to_string()).collect();
        assert!(is_disposable(&defaults, "target".into(), true));
        assert!(is_disposable(&defaults, "web/node_modules".into(), true));
        assert!(is_disposable(&defaults, "target/debug/x".into(), false));
        assert!(!is_disposable(&defaults, "target".into(), false), "a file named target is not the directory");
        assert!(!is_disposable(&defaults, ".env.local".into(), false));
        assert!(!is_disposable(&defaults, "notes.txt".into(), false));
        let logs = vec!["*.log".to_owned(), "out/cache/".to_owned()];
        assert!(is_disposable(&logs, "sub/build.log".into(), false));
        assert!(is_disposable(&logs, "out/cache".into(), true));
        assert!(!is_disposable(&logs, "x/out/cache".into(), true), "a pattern with a slash is anchored");
    }
}
