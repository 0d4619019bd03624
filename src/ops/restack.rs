//! The work of `git agent restack`: move stacked tasks onto their dependencies' new work.
//!
//! Per task, all or nothing: its own commits (those after where it was stacked) are replayed
//! in memory onto the dependencies' tips (or their merge) by integrate's rebase; then, under
//! the task's claim, its worktree is brought along as a fast-forward would be (see
//! [`crate::git::checkout`]) and the branch and the record's `stack` move together in one
//! compare-and-swap transaction. The old tip stays in the branch's reflog. A conflict, a dirty
//! worktree, a running agent or a branch that moved meanwhile leaves the task exactly as it
//! was, and the other tasks go on.

use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::conflicts::ConflictPath;
use crate::error::{Exit, bad_input, exit_of, hint_of, race, refused};
use crate::git::RegisteredHead;
use crate::stack::{DepTip, Start};
use crate::state::{self, TaskEntry, TaskRecord, TaskState};

/// Which tasks to restack.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The tasks named (default: every stacked task whose dependencies moved).
    pub tasks: Vec<String>,
    /// Compute and check everything, in memory; write nothing (no object, ref or file).
    pub dry_run: bool,
}

/// How one task came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Moved onto its dependencies' work.
    Restacked,
    /// Dry run: would be moved onto its dependencies' work.
    WouldRestack,
    /// Its branch holds its dependencies' work already: nothing to do.
    UpToDate,
    /// Its commits (or its dependencies' tips) conflict: left as it was.
    Conflict,
    /// Refused (dirty worktree, running agent, integrated, checked out elsewhere): left as it was.
    Refused,
    /// The branch, the record or the worktree changed meanwhile: left as it was.
    LostRace,
    /// An unexpected failure: left as it was.
    Failed,
}

/// One task's outcome. The JSON schema is documented in git-agent-restack(1). Messages do not
/// repeat the task's name: they are shown after it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TaskOutcome {
    pub task: String,
    pub status: Status,
    /// The branch tip before, and after a restack.
    pub before: Option<String>,
    pub after: Option<String>,
    /// Where its own commits start now: a dependency's tip, or the merge of several.
    pub onto: Option<String>,
    /// The dependencies whose work it is on (restacked), or that conflict (conflict).
    pub dependencies: Vec<String>,
    /// Its own commits, replayed (restacked).
    pub commits: usize,
    pub conflicts: Vec<ConflictPath>,
    /// Why it was refused or failed.
    pub message: Option<String>,
    pub hint: Option<String>,
}

impl TaskOutcome {
    fn new(task: &str, status: Status) -> TaskOutcome {
        TaskOutcome {
            task: task.to_owned(),
            status,
            before: None,
            after: None,
            onto: None,
            dependencies: Vec::new(),
            commits: 0,
            conflicts: Vec::new(),
            message: None,
            hint: None,
        }
    }

    fn from_error(task: &str, err: &anyhow::Error) -> TaskOutcome {
        let status = match exit_of(err) {
            Exit::Refused | Exit::BadInput => Status::Refused,
            Exit::Race => Status::LostRace,
            _ => Status::Failed,
        };
        let mut outcome = TaskOutcome::new(task, status);
        outcome.message = Some(format!("{err:#}"));
        outcome.hint = hint_of(err).map(ToOwned::to_owned);
        outcome
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub tasks: Vec<TaskOutcome>,
}

impl Report {
    /// The worst outcome decides: a failure, a lost race, a refusal, then a conflict.
    pub fn exit(&self) -> Exit {
        let has = |status: Status| self.tasks.iter().any(|t| t.status == status);
        if has(Status::Failed) {
            Exit::Failed
        } else if has(Status::LostRace) {
            Exit::Race
        } else if has(Status::Refused) {
            Exit::Refused
        } else if has(Status::Conflict) {
            Exit::Found
        } else {
            Exit::Success
        }
    }
}

/// Restacks the tasks named, or every stacked task whose dependencies moved, in dependency
/// order (a task is looked at after the tasks it depends on were restacked). `each` sees each
/// outcome as it happens.
pub fn restack(ctx: &Context, options: &Options, each: &mut dyn FnMut(&TaskOutcome)) -> anyhow::Result<Report> {
    let repo = &ctx.repo;
    let entries = state::read_tasks(repo)?;
    let named = !options.tasks.is_empty();
    if let Some(missing) = options.tasks.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
        return Err(bad_input(format!("no task named {missing:?}")).hint("`git agent list` shows the tasks").into());
    }
    let selected: Vec<&TaskEntry> = entries
        .iter()
        .filter(|entry| {
            if named {
                return options.tasks.contains(&entry.name);
            }
            // By default: the stacked tasks still being worked on.
            entry.record.as_ref().is_ok_and(|r| {
                r.stack.is_some() && !r.after.is_empty() && matches!(r.state, TaskState::Active | TaskState::Done)
            })
        })
        .collect();
    let mut report = Report { tasks: Vec::new() };
    for entry in dependency_order(&selected)? {
        crate::interrupt::check("the tasks restacked so far stay restacked; the others are unchanged")?;
        let outcome = match restack_one(ctx, &entries, entry, named, options.dry_run) {
            Ok(Some(outcome)) => outcome,
            Ok(None) => continue,
            Err(err) => TaskOutcome::from_error(&entry.name, &err),
        };
        each(&outcome);
        report.tasks.push(outcome);
    }
    Ok(report)
}

/// `selected` ordered by their dependencies among themselves, ties in spawn order.
fn dependency_order<'a>(selected: &[&'a TaskEntry]) -> anyhow::Result<Vec<&'a TaskEntry>> {
    let names: Vec<String> = selected.iter().map(|e| e.name.clone()).collect();
    let index = crate::graph::index_by_name(&names);
    let deps: Vec<Vec<usize>> = selected
        .iter()
        .map(|e| match &e.record {
            Ok(record) => record.after.iter().filter_map(|d| index.get(d.as_str()).copied()).collect(),
            Err(_) => Vec::new(),
        })
        .collect();
    let order =
        crate::graph::topo_order(&names, &deps).map_err(|cycle| bad_input(format!("dependency cycle: {cycle}")))?;
    Ok(order.into_iter().map(|i| selected[i]).collect())
}

/// What a task's dependencies say about it now.
struct Looked {
    record_commit: ObjectId,
    record: TaskRecord,
    head: ObjectId,
    /// The dependencies whose work it must hold (see [`crate::stack::needed`]).
    needed: Vec<DepTip>,
    /// Some of that work is missing from its branch.
    moved: bool,
}

fn look(repo: &gix::Repository, entries: &[TaskEntry], entry: &TaskEntry) -> anyhow::Result<Looked> {
    let name = &entry.name;
    let record =
        entry.record.clone().map_err(|why| refused(format!("the record of task {name:?} is corrupt: {why}")))?;
    let head = crate::git::ref_target(repo, &record.branch)?
        .ok_or_else(|| refused(format!("branch {} of task {name} is missing", record.short_branch())))?;
    let base = ObjectId::from_hex(record.base_commit.as_bytes())
        .ok()
        .filter(|id| repo.has_object(id))
        .ok_or_else(|| refused(format!("the base commit of task {name} is not a commit here")))?;
    // Dependency tips are read now, after the tasks before this one were restacked.
    let tips = crate::stack::dependency_tips(repo, &record.after, entries)?;
    let needed = crate::stack::needed(repo, base, &tips)?;
    let mut moved = false;
    for dep in &needed {
        if !crate::stack::is_ancestor(repo, dep.tip, head)? {
            moved = true;
        }
    }
    Ok(Looked { record_commit: entry.record_commit, record, head, needed, moved })
}

/// `Ok(None)`: not named and nothing to do (left out of the report).
fn restack_one(
    ctx: &Context,
    entries: &[TaskEntry],
    entry: &TaskEntry,
    named: bool,
    dry_run: bool,
) -> anyhow::Result<Option<TaskOutcome>> {
    let repo = &ctx.repo;
    let name = entry.name.as_str();
    if let Ok(record) = &entry.record {
        if record.state == TaskState::Integrated {
            return Err(refused("it is integrated already").hint("spawn a new task for new work on top of it").into());
        }
        if record.after.is_empty() {
            let mut outcome = TaskOutcome::new(name, Status::UpToDate);
            outcome.message = Some("it has no dependencies".into());
            return Ok(Some(outcome));
        }
    }
    let first = look(repo, entries, entry)?;
    if !first.moved {
        return Ok(named.then(|| up_to_date(name, &first)));
    }
    if let Some(owner) = crate::lock::task_holder(repo, name).filter(|owner| owner.purpose == "agent") {
        return Err(refused(format!("its agent is running ({})", owner.describe()))
            .hint(format!("restack it once the agent has exited: git agent restack {name}"))
            .into());
    }
    // Under the task's claim from here: no spawn, prune or other restack works on it meanwhile.
    // (A dry run changes nothing, and needs none.)
    let _claim = if dry_run { None } else { Some(crate::lock::claim_task(repo, name, "restack")?) };
    // A dry run's merges and replayed commits stay in memory.
    let objects = if dry_run { repo.clone().with_object_memory() } else { repo.clone() };
    let fresh = state::find_task(repo, name)?.ok_or_else(|| race(format!("task {name:?} was removed meanwhile")))?;
    let looked = look(repo, entries, &fresh)?;
    if !looked.moved {
        return Ok(named.then(|| up_to_date(name, &looked)));
    }
    let Looked { record_commit, record, head, needed, .. } = looked;
    // A dependency it was stacked on that has no record any more (pruned): restacking onto
    // the others would take that dependency's work out of the task's branch and worktree.
    if let Some(gone) =
        record.stack.as_ref().and_then(|stack| stack.tips.keys().find(|dep| !entries.iter().any(|e| &e.name == *dep)))
    {
        return Err(refused(format!(
            "its dependency {gone} was pruned: restacking would take {gone}'s work out of it"
        ))
        .hint(format!(
            "rebase it by hand in its worktree onto its base branch{}, which holds {gone}'s work once integrated",
            record
                .base_ref
                .as_deref()
                .map(|b| format!(" ({})", b.trim_start_matches("refs/heads/")))
                .unwrap_or_default()
        ))
        .into());
    }
    let branch = record.branch.clone();
    let worktree = worktree_to_follow(repo, &record)?;
    // Without the commit its own work starts from, which commits are its own is unknown:
    // replaying from a guess could drop the agent's commits from its branch.
    let upstream = record.start_commit().filter(|id| repo.has_object(id)).ok_or_else(|| {
        refused("the commit its work starts from (stack.onto or base_commit) is not here")
            .hint(format!("merge the dependencies into {} by hand", record.short_branch()))
    })?;
    // A rebase replays commits and leaves merges out, as `git rebase` does: whatever a merge
    // of the agent's own changed (a resolution, an edit made in the merge) would be dropped.
    if let Some(merge) = crate::git::merge_commit_only_in(repo, head, upstream)? {
        return Err(refused(format!(
            "its branch has a merge commit of its own ({}): a restack replays commits and would drop what the merge \
             changed",
            crate::git::short_id(&merge)
        ))
        .hint(format!(
            "rebase it by hand in its worktree (git rebase --rebase-merges <dependency>), or integrate it as it is; \
             spawn new tasks with --from-base to avoid merging dependencies into {}",
            record.short_branch()
        ))
        .into());
    }
    let signature = ctx.commit_identity("restack")?;
    let mut outcome = TaskOutcome::new(name, Status::Restacked);
    outcome.before = Some(head.to_string());
    outcome.dependencies = needed.iter().map(|d| d.task.clone()).collect();
    let onto = match crate::stack::start(&objects, needed.clone(), &signature, name)? {
        Start::On { commit, .. } => commit,
        Start::Conflict { deps, conflicts } => {
            let labels: Vec<&str> = deps.iter().map(|d| d.label.as_str()).collect();
            outcome.status = Status::Conflict;
            outcome.conflicts = conflicts;
            outcome.message = Some(format!("its dependencies' work conflicts: {}", labels.join(" and ")));
            outcome.hint = Some("resolve the conflict in one of the dependencies, then restack again".into());
            return Ok(Some(outcome));
        }
    };
    outcome.onto = Some(onto.to_string());
    let new_tip = match crate::integrate::rebase_onto(&objects, &record, onto, head, upstream, signature)? {
        Ok(tip) => tip,
        Err(conflicts) => {
            outcome.status = Status::Conflict;
            outcome.conflicts = conflicts;
            let labels: Vec<&str> = needed.iter().map(|d| d.label.as_str()).collect();
            outcome.message = Some(format!("its commits conflict with the new work of {}", labels.join(" and ")));
            outcome.hint = Some(format!(
                "nothing was changed; rebase the task onto {} in its worktree (git rebase) and resolve the \
                 conflicts there: a merge would keep it from being restacked again",
                labels.join(" and ")
            ));
            return Ok(Some(outcome));
        }
    };
    outcome.commits = crate::git::count_only_in(&objects, new_tip, onto)?;
    outcome.after = Some(new_tip.to_string());
    if dry_run {
        outcome.status = Status::WouldRestack;
        return Ok(Some(outcome));
    }

    let stack = state::Stack {
        onto: onto.to_string(),
        tips: needed.iter().map(|d| (d.task.clone(), d.tip.to_string())).collect(),
        unknown: record.stack.clone().map(|s| s.unknown).unwrap_or_default(),
    };
    let (record_new, _, message) =
        state::event_commit(repo, record_commit, &record, state::Change::Restacked { stack })?;
    let labels: Vec<String> = needed.iter().map(|d| d.label.clone()).collect();
    let edits = vec![
        crate::git::cas_edit(
            &state::record_ref(name),
            Some(record_commit),
            record_new,
            &format!("git-agent: {}", message.trim()),
        )?,
        crate::git::cas_edit(&branch, Some(head), new_tip, &crate::layout::restack_reflog_message(&labels, &onto))?,
    ];
    // Between the check and the act: a test commits in the worktree here.
    crate::pause::point("restack-before-update");
    crate::interrupt::check("task's branch and worktree are unchanged")?;
    // As integrate lands on a checked-out branch: the worktree and index first (checked again
    // under its index.lock: the branch still where it was read, nothing uncommitted), then the
    // refs; the worktree goes back if the refs cannot move.
    let followed = match &worktree {
        Some(path) => {
            Some(crate::git::checkout::follow_by(path, &branch, head, new_tip, crate::git::checkout::RESTACK)?)
        }
        None => None,
    };
    if let Err(err) = crate::git::apply_transaction(repo, edits) {
        let err = match followed.map(|f| f.undo()) {
            Some(Err(undo)) => err.context(format!(
                "and the worktree {} could not be taken back: {undo:#}",
                worktree.as_ref().expect("followed").display()
            )),
            _ => err,
        };
        return Err(err.context("not restacked: its branch or record changed meanwhile"));
    }
    Ok(Some(outcome))
}

fn up_to_date(name: &str, looked: &Looked) -> TaskOutcome {
    let mut outcome = TaskOutcome::new(name, Status::UpToDate);
    outcome.before = Some(looked.head.to_string());
    outcome.dependencies = looked.needed.iter().map(|d| d.task.clone()).collect();
    outcome
}

/// The task's worktree, when its branch is checked out there and must follow; refuses when
/// the worktree has uncommitted changes or untracked files, or the branch is checked out (or
/// being rebased) anywhere else.
fn worktree_to_follow(repo: &gix::Repository, record: &TaskRecord) -> anyhow::Result<Option<std::path::PathBuf>> {
    let name = &record.name;
    let registration = crate::ops::prune::find_registration(repo, &record.branch, &record.worktree)?
        .filter(|r| !r.missing && r.path.is_some());
    let except = registration.as_ref().map(|r| r.admin_dir.as_path());
    if let Some(place) = crate::guard::checked_out_at(repo, &record.branch, except)? {
        return Err(refused(format!("its branch {} is checked out in {place}", record.short_branch()))
            .hint("switch that worktree to another branch, then restack again")
            .into());
    }
    let Some(registration) = registration else { return Ok(None) };
    let path = registration.path.clone().expect("filtered above");
    let wt = crate::git::open_worktree_for_status(&path)?;
    if crate::git::has_changes(&wt)? {
        return Err(refused(format!("its worktree {} has uncommitted changes or untracked files", path.display()))
            .hint(format!("commit or stash them there, then run `git agent restack {name}` again"))
            .into());
    }
    if registration.busy_branches.iter().any(|b| b == &record.branch) {
        return Err(refused(format!("a rebase or bisect is in progress in {}", path.display()))
            .hint("finish or abort it there, then restack again")
            .into());
    }
    Ok((registration.head == RegisteredHead::Branch(record.branch.clone())).then_some(path))
}
