//! `git agent sync`: exchanges task records, notes and task branches with a remote.
//!
//! One `git fetch` copies the remote's records, notes and task branches into
//! `refs/agent-remotes/<remote>/incoming/` (see [`crate::layout::remote_namespace`]). Each
//! record is then joined with the local one (fast-forward, or the operation-log merge of
//! [`crate::oplog::join`]), the notes are merged by git (`cat_sort_uniq`: every machine's
//! test results kept), task branches move only as fast-forwards, and one `git push` sends
//! what the remote lacks, each ref with a lease on the value just fetched. A push that lost a
//! race (the remote moved meanwhile) makes the whole round start again, a bounded number of
//! times. The tracking refs (`refs/agent-remotes/<remote>/{tasks,heads}/`) hold what the
//! remote had when this repository last reconciled each ref with it, and are written only
//! after that (never by the fetch, so that a sync killed half-way, or a corrupt record left
//! alone, is not taken for reconciled): a record there that is gone on one side was removed
//! on that side, and the removal is carried over only when the other side did not change it
//! since.

use std::collections::{BTreeMap, BTreeSet};

use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::error::{Exit, Fail, bad_input, race};
use crate::layout::{NOTES_REF, TASKS_PREFIX};
use crate::oplog::Joined;
use crate::state::Expect;

/// How often a sync starts again after its push lost a race.
pub const MAX_ATTEMPTS: usize = 5;

pub struct Request {
    /// The remote to sync with (default: `agent.remote`, else `origin`).
    pub remote: Option<String>,
    pub dry_run: bool,
}

/// What happened to one task's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RecordMove {
    /// Both sides have the same record.
    UpToDate,
    /// New here: sent to the remote.
    Published,
    /// New on the remote: created here.
    Created,
    /// Changed here only: the remote fast-forwarded to ours.
    Pushed,
    /// Changed there only: ours fast-forwarded to the remote's.
    Fetched,
    /// Changed on both sides: joined by a merge commit, here and there.
    Merged,
    /// Removed here (pruned) and unchanged there since the last sync: removed there too.
    RemovedThere,
    /// Removed there and unchanged here since the last sync (and no worktree here): removed here.
    RemovedHere,
    /// Removed there, but changed here or worked on here: sent back.
    Restored,
    /// The remote's record is corrupt: left alone on both sides.
    Corrupt,
    /// Both sides have a task of this name with unrelated histories: left alone.
    Unrelated,
    /// The remote refused the push (a hook, permissions): see the reason.
    Rejected,
}

/// What happened to one task's branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BranchMove {
    UpToDate,
    /// Exists on neither side.
    Absent,
    Published,
    Created,
    Pushed,
    Fetched,
    /// Behind the remote's, but checked out in a worktree here: not moved (see the reason).
    CheckedOut,
    /// Both sides have commits the other lacks: reported with both tips, never forced.
    Diverged,
    /// Removed there with the task, unchanged here: kept here (`git branch -d` removes it).
    Kept,
    /// Removed here with the task and unchanged there: removed there too.
    RemovedThere,
    /// Not synced: the task's record was not (corrupt, unrelated, rejected).
    Skipped,
    Rejected,
    /// The remote's branch cannot be created here (another ref is in the way): see the reason.
    Blocked,
}

impl RecordMove {
    /// Whether the record is reconciled with the remote's afterwards (else left alone).
    fn reconciled(self) -> bool {
        !matches!(self, RecordMove::Corrupt | RecordMove::Unrelated | RecordMove::Rejected)
    }
}

impl BranchMove {
    /// Whether the branch is reconciled with the remote's afterwards (else left alone).
    fn reconciled(self) -> bool {
        !matches!(
            self,
            BranchMove::CheckedOut
                | BranchMove::Diverged
                | BranchMove::Skipped
                | BranchMove::Rejected
                | BranchMove::Blocked
        )
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TaskSync {
    pub task: String,
    pub record: RecordMove,
    pub branch: BranchMove,
    /// The record's commit here and on the remote after the sync (before, in a dry run).
    pub local: Option<String>,
    pub remote: Option<String>,
    pub branch_local: Option<String>,
    pub branch_remote: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What happened to `refs/notes/agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NotesMove {
    UpToDate,
    Absent,
    Pushed,
    Fetched,
    Merged,
    Rejected,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub remote: String,
    pub dry_run: bool,
    /// Rounds of fetch, join and push (more than one when a push lost a race).
    pub attempts: usize,
    /// git commands that talked to the remote (fetches and pushes).
    pub round_trips: usize,
    pub tasks: Vec<TaskSync>,
    pub notes: NotesMove,
}

impl Report {
    /// Whether anything was left out (corrupt, unrelated, diverged, rejected).
    pub fn incomplete(&self) -> bool {
        self.notes == NotesMove::Rejected
            || self.tasks.iter().any(|t| {
                matches!(t.record, RecordMove::Corrupt | RecordMove::Unrelated | RecordMove::Rejected)
                    || matches!(
                        t.branch,
                        BranchMove::Diverged | BranchMove::Rejected | BranchMove::CheckedOut | BranchMove::Blocked
                    )
            })
    }
}

/// Progress, for the command to render.
pub enum Event {
    Fetching {
        remote: String,
        attempt: usize,
    },
    Pushing {
        refs: usize,
    },
    /// The push lost a race: starting again.
    Retrying {
        why: String,
    },
}

/// The remote to sync with: the one named, else `agent.remote`, else `origin`; it must be a
/// configured remote.
pub fn remote_name(ctx: &Context, given: Option<&str>) -> anyhow::Result<String> {
    let remote = given.map(ToOwned::to_owned).or_else(|| ctx.settings.remote.clone()).unwrap_or("origin".into());
    let known = ctx.repo.remote_names().iter().any(|name| &name[..] == remote.as_bytes());
    if remote.starts_with('-') || !known {
        let why = if given.is_some() { "" } else { " (agent.remote, else origin)" };
        return Err(bad_input(format!("no remote named {remote:?}{why}"))
            .hint("name a configured remote (`git remote -v` lists them), or add one: git remote add origin <url>")
            .into());
    }
    Ok(remote)
}

pub fn sync(ctx: &Context, request: &Request, events: &mut dyn FnMut(Event)) -> anyhow::Result<Report> {
    let remote = remote_name(ctx, request.remote.as_deref())?;
    let _lock = crate::lock::acquire(&crate::layout::sync_lock(ctx.repo.common_dir()), &format!("sync {remote}"))
        .map_err(|busy| busy.into_fail("sync"))?;
    let mut round_trips = 0;
    let mut last_race = String::new();
    for attempt in 1..=MAX_ATTEMPTS {
        events(Event::Fetching { remote: remote.clone(), attempt });
        let round = Round::new(ctx, &remote)?;
        round.fetch()?;
        round_trips += 1;
        crate::pause::point("sync-fetched");
        let planned = round.plan();
        let mut plan = match planned {
            Ok(plan) if !request.dry_run => plan,
            other => {
                round.forget_incoming()?;
                return Ok(other?.report(remote, true, attempt, round_trips));
            }
        };
        round.apply_locally(&mut plan)?;
        let pushes = plan.pushes();
        let mut result = PushResult::default();
        if !pushes.is_empty() {
            crate::pause::point("sync-before-push");
            crate::interrupt::check("what this sync changed here is kept; sync again to send it")?;
            events(Event::Pushing { refs: pushes.len() });
            result = round.push(&pushes)?;
            round_trips += 1;
            plan.apply_rejections(&result.rejected);
        }
        round.track(&plan, &result.accepted)?;
        round.forget_incoming()?;
        if let Some(why) = result.lost_race {
            last_race = why.clone();
            events(Event::Retrying { why });
            continue;
        }
        return Ok(plan.report(remote, false, attempt, round_trips));
    }
    Err(race(format!("the remote {remote} kept changing: {MAX_ATTEMPTS} pushes lost a race ({last_race})"))
        .hint("what was merged here is kept; sync again")
        .into())
}

/// One round of a sync: the refs on both sides, before and after the fetch.
struct Round<'a> {
    ctx: &'a Context,
    remote: String,
    /// Where this round's fetch writes.
    fetched_ns: String,
    /// The tracking namespace: what the remote had when each ref was last reconciled.
    tracking_ns: String,
    /// The tracking refs, by the name after the namespace.
    before: BTreeMap<String, ObjectId>,
    expect: Expect,
}

/// One ref the push sends: `new` (`None` deletes it) with a lease on `lease`.
#[derive(Debug, Clone)]
struct Push {
    name: String,
    new: Option<ObjectId>,
    lease: Option<ObjectId>,
}

#[derive(Default)]
struct PushResult {
    /// Refs the remote took (or had already), with their new value.
    accepted: Vec<(String, Option<ObjectId>)>,
    /// Refs the remote refused for good, with its reason.
    rejected: Vec<(String, String)>,
    /// Set when a ref was refused because the remote moved: the round starts again.
    lost_race: Option<String>,
}

impl<'a> Round<'a> {
    fn new(ctx: &'a Context, remote: &str) -> anyhow::Result<Round<'a>> {
        let url = ctx
            .repo
            .find_remote(remote)
            .ok()
            .and_then(|r| r.url(gix::remote::Direction::Fetch).map(|u| u.to_bstring().to_string()))
            .unwrap_or_default();
        let tracking_ns = crate::layout::remote_namespace(remote, &url);
        let fetched_ns = format!("{tracking_ns}{}", crate::layout::INCOMING);
        let before = refs_under(&ctx.repo, &tracking_ns)?
            .into_iter()
            .filter(|(name, _)| !name.starts_with(crate::layout::INCOMING))
            .collect();
        Ok(Round { ctx, remote: remote.to_owned(), fetched_ns, tracking_ns, before, expect: Expect::of(&ctx.repo)? })
    }

    fn dir(&self) -> &std::path::Path {
        self.ctx.repo.workdir().unwrap_or_else(|| self.ctx.repo.git_dir())
    }

    fn branch_prefix(&self) -> String {
        format!("refs/heads/{}", self.ctx.settings.branch_prefix)
    }

    /// One `git fetch` of the remote's records, notes and task branches into the namespace.
    fn fetch(&self) -> anyhow::Result<()> {
        let ns = &self.fetched_ns;
        let branches = self.branch_prefix();
        let specs = [
            format!("+{TASKS_PREFIX}*:{ns}tasks/*"),
            format!("+{NOTES_REF}*:{ns}notes/agent*"),
            format!("+{branches}*:{ns}heads/{}*", self.ctx.settings.branch_prefix),
        ];
        // `--refmap=`: only our namespace moves, not refs/remotes/ (a dry run changes nothing else).
        let mut args = vec![
            "fetch",
            "--quiet",
            "--no-tags",
            "--prune",
            "--refmap=",
            "--no-write-fetch-head",
            "--no-auto-gc",
            "--",
        ];
        args.push(&self.remote);
        args.extend(specs.iter().map(String::as_str));
        let outcome = crate::process::git(self.dir(), &args)?.capture(crate::process::Capture::Tail(8192)).run()?;
        crate::interrupt::check("nothing was changed but the copy of the remote's refs")?;
        if !outcome.status.success() {
            return Err(Fail::new(
                Exit::Failed,
                format!("cannot fetch from {}: {}", self.remote, outcome.output_tail_lossy().trim()),
            )
            .hint(format!("check that `git fetch {}` works", self.remote))
            .into());
        }
        Ok(())
    }

    /// Removes what the fetch brought (the objects stay, reachable from the refs that took them).
    fn forget_incoming(&self) -> anyhow::Result<()> {
        let edits = refs_under(&self.ctx.repo, &self.fetched_ns)?
            .into_keys()
            .map(|name| crate::git::set_edit(&format!("{}{name}", self.fetched_ns), None, "sync: done"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if !edits.is_empty() {
            crate::git::apply_transaction(&self.ctx.repo, edits)?;
        }
        Ok(())
    }

    /// Decides, for every task and the notes, what moves where.
    fn plan(&self) -> anyhow::Result<Plan> {
        let repo = &self.ctx.repo;
        let fetched = refs_under(repo, &self.fetched_ns)?;
        let local_records = refs_under(repo, TASKS_PREFIX)?;
        let remote_records = sub_map(&fetched, "tasks/");
        let last_records = sub_map(&self.before, "tasks/");
        let local_branches = refs_under(repo, &self.branch_prefix())?;
        let remote_branches = sub_map(&fetched, &format!("heads/{}", self.ctx.settings.branch_prefix));
        let last_branches = sub_map(&self.before, &format!("heads/{}", self.ctx.settings.branch_prefix));
        // With the tracked ones: a task gone on both sides leaves its tracking ref to clear.
        let tasks: BTreeSet<&String> =
            local_records.keys().chain(remote_records.keys()).chain(last_records.keys()).collect();
        let mut plan = Plan { branch_prefix: self.ctx.settings.branch_prefix.clone(), ..Plan::default() };
        for task in tasks {
            if let Err(err) = crate::names::validate_task_name(task) {
                let mut skipped = TaskPlan::new(task, &Sides::default());
                (skipped.record, skipped.branch) = (RecordMove::Corrupt, BranchMove::Skipped);
                skipped.reason = Some(format!("the remote's record is corrupt: {}", err.message));
                plan.tasks.push(skipped);
                continue;
            }
            let sides = Sides {
                local: local_records.get(task).copied(),
                remote: remote_records.get(task).copied(),
                last: last_records.get(task).copied(),
                branch_local: local_branches.get(task).copied(),
                branch_remote: remote_branches.get(task).copied(),
                branch_last: last_branches.get(task).copied(),
            };
            // Whatever goes wrong with one task (a ref that is not a commit, say) is its own.
            let planned = self.plan_task(task, sides).unwrap_or_else(|err| {
                let mut failed = TaskPlan::new(task, &sides);
                (failed.record, failed.branch) = (RecordMove::Corrupt, BranchMove::Skipped);
                failed.reason = Some(format!("cannot sync it: {err:#}"));
                failed
            });
            plan.tasks.push(planned);
        }
        plan.notes = self.plan_notes(fetched.get("notes/agent").copied())?;
        Ok(plan)
    }

    fn plan_task(&self, task: &str, sides: Sides) -> anyhow::Result<TaskPlan> {
        let repo = &self.ctx.repo;
        let mut plan = TaskPlan::new(task, &sides);
        plan.record = match (sides.local, sides.remote) {
            (None, None) => RecordMove::UpToDate,
            (Some(_), None) if sides.last.is_some() => {
                if sides.local == sides.last && !self.has_local_worktree(task) {
                    RecordMove::RemovedHere
                } else {
                    RecordMove::Restored
                }
            }
            (Some(_), None) => RecordMove::Published,
            (None, Some(remote)) => {
                let unchanged_there = sides.last == Some(remote) && sides.branch_remote == sides.branch_last;
                if unchanged_there {
                    RecordMove::RemovedThere
                } else {
                    self.adopt(task, remote, RecordMove::Created, &mut plan)
                }
            }
            (Some(local), Some(remote)) => match crate::oplog::join(repo, task, local, remote, &self.expect)? {
                Ok(Joined::Same) => RecordMove::UpToDate,
                Ok(Joined::LocalAhead) => RecordMove::Pushed,
                Ok(Joined::RemoteAhead) => self.adopt(task, remote, RecordMove::Fetched, &mut plan),
                Ok(Joined::Merged { commit, .. }) => {
                    plan.new_local = Some(commit);
                    RecordMove::Merged
                }
                Ok(Joined::Unrelated) => {
                    plan.reason = Some(format!(
                        "the task {task:?} here and on the remote were created separately; rename or prune one"
                    ));
                    RecordMove::Unrelated
                }
                Err(why) => {
                    plan.reason = Some(format!("the remote's record is corrupt: {why}"));
                    RecordMove::Corrupt
                }
            },
        };
        plan.branch = self.plan_branch(task, &mut plan, &sides)?;
        Ok(plan)
    }

    /// Takes the remote's record if it is valid: its state, and the fold of its operations,
    /// which must be that state. A format-1 record (whose worktree was another machine's) is
    /// upgraded on the way in: the local ref gets a commit on top of it with its import, which
    /// the push sends back. Else corrupt, with the reason.
    fn adopt(&self, task: &str, remote: ObjectId, outcome: RecordMove, plan: &mut TaskPlan) -> RecordMove {
        match crate::oplog::adoptable(&self.ctx.repo, task, remote, &self.expect) {
            Ok(upgraded) => {
                plan.new_local = Some(upgraded.unwrap_or(remote));
                outcome
            }
            Err(why) => {
                plan.reason = Some(format!("the remote's record is corrupt: {why}"));
                RecordMove::Corrupt
            }
        }
    }

    /// Whether this machine has a worktree for the task (then a removal elsewhere is not taken).
    fn has_local_worktree(&self, task: &str) -> bool {
        let branch = self.expect.branch(task);
        let path = self.expect.local_worktree(task);
        path.join(".git").exists()
            || crate::ops::prune::find_registration(&self.ctx.repo, &branch, &path).ok().flatten().is_some()
    }

    fn plan_branch(&self, task: &str, plan: &mut TaskPlan, sides: &Sides) -> anyhow::Result<BranchMove> {
        let repo = &self.ctx.repo;
        let synced = !matches!(plan.record, RecordMove::Corrupt | RecordMove::Unrelated);
        if !synced {
            return Ok(BranchMove::Skipped);
        }
        Ok(match (sides.branch_local, sides.branch_remote) {
            (None, None) => BranchMove::Absent,
            (Some(_), None) if plan.record == RecordMove::RemovedHere => BranchMove::Kept,
            (Some(_), None) => BranchMove::Published,
            (None, Some(_)) if plan.record == RecordMove::RemovedThere => BranchMove::RemovedThere,
            (None, Some(_)) if plan.record == RecordMove::RemovedHere => BranchMove::Absent,
            (None, Some(_)) => BranchMove::Created,
            (Some(local), Some(remote)) if local == remote => BranchMove::UpToDate,
            (Some(local), Some(remote)) => {
                let base = crate::git::merge_base(repo, local, remote)?;
                if base == Some(remote) {
                    BranchMove::Pushed
                } else if base == Some(local) {
                    let branch = self.expect.branch(task);
                    match crate::guard::checked_out_at(repo, &branch, None)? {
                        Some(place) => {
                            plan.reason = Some(format!(
                                "branch {} is checked out at {place}: bring it up to date there with \
                                 `git merge --ff-only {}`",
                                branch.trim_start_matches("refs/heads/"),
                                remote
                            ));
                            BranchMove::CheckedOut
                        }
                        None => BranchMove::Fetched,
                    }
                } else {
                    plan.reason = Some(format!(
                        "branch {} has commits here ({}) and on the remote ({}) that the other lacks: \
                         merge or rebase them where the branch is checked out (git agent join makes a \
                         worktree for it), then sync again",
                        self.expect.branch(task).trim_start_matches("refs/heads/"),
                        crate::git::short_id(&local),
                        crate::git::short_id(&remote)
                    ));
                    BranchMove::Diverged
                }
            }
        })
    }

    fn plan_notes(&self, remote: Option<ObjectId>) -> anyhow::Result<NotesPlan> {
        let local = crate::git::ref_target(&self.ctx.repo, NOTES_REF)?;
        let action = match (local, remote) {
            (None, None) => NotesMove::Absent,
            (Some(_), None) => NotesMove::Pushed,
            (None, Some(_)) => NotesMove::Fetched,
            (Some(l), Some(r)) if l == r => NotesMove::UpToDate,
            (Some(l), Some(r)) => match crate::git::merge_base(&self.ctx.repo, l, r)? {
                Some(base) if base == r => NotesMove::Pushed,
                Some(base) if base == l => NotesMove::Fetched,
                _ => NotesMove::Merged,
            },
        };
        Ok(NotesPlan { action, local, remote })
    }

    /// Moves the local refs the plan says: records and branches by compare-and-swap (a
    /// concurrent local writer makes the sync fail with exit 4, nothing overwritten), notes
    /// by fast-forward or git's notes merge.
    fn apply_locally(&self, plan: &mut Plan) -> anyhow::Result<()> {
        let repo = &self.ctx.repo;
        let stamp = crate::state::now_ms();
        let mut edits = Vec::new();
        let mut created_branches = Vec::new();
        for task in &plan.tasks {
            let record = crate::state::record_ref(&task.task);
            let message = format!("git-agent: sync {} ({})", task.task, self.remote);
            match (task.record, task.new_local) {
                (RecordMove::Created | RecordMove::Fetched | RecordMove::Merged, Some(new)) => {
                    edits.push(crate::git::cas_edit(&record, task.local, new, &message)?)
                }
                (RecordMove::RemovedHere, _) => {
                    // Kept where prune --force keeps what it removes: nothing is lost.
                    let local = task.local.expect("a local record");
                    let archive = format!("{}/record", crate::layout::archive_prefix(&task.task, stamp));
                    edits.push(crate::git::cas_edit(&archive, None, local, &message)?);
                    edits.push(crate::git::cas_delete_edit(&record, local)?);
                }
                _ => {}
            }
            let branch = self.expect.branch(&task.task);
            match task.branch {
                BranchMove::Created => created_branches.push((branch, task.branch_remote.unwrap(), &task.task)),
                BranchMove::Fetched => edits.push(crate::git::cas_edit(
                    &branch,
                    task.branch_local,
                    task.branch_remote.unwrap(),
                    &format!("git-agent: sync {} from {}: fast-forward", task.task, self.remote),
                )?),
                _ => {}
            }
        }
        if !edits.is_empty() {
            crate::git::apply_transaction(repo, edits)?;
        }
        // Each with its own first reflog entry: the proof that git-agent made it (see guard).
        // One that cannot be made here (a branch `agent/x/y` is in the way of `agent/x`) is
        // that task's problem, not the sync's.
        let mut blocked = Vec::new();
        for (branch, tip, task) in created_branches {
            if let Err(err) =
                crate::git::create_refs(repo, &[(&branch, tip)], &crate::layout::sync_reflog_message(task))
            {
                blocked.push((task.clone(), format!("cannot create branch {branch} here: {err:#}")));
            }
        }
        for task in &mut plan.tasks {
            if let Some((_, why)) = blocked.iter().find(|(name, _)| *name == task.task) {
                task.branch = BranchMove::Blocked;
                task.reason = Some(why.clone());
            }
            task.settle_locally();
        }
        self.apply_notes(&mut plan.notes)
    }

    fn apply_notes(&self, notes: &mut NotesPlan) -> anyhow::Result<()> {
        let repo = &self.ctx.repo;
        match notes.action {
            NotesMove::Fetched => {
                let edit = crate::git::cas_edit(NOTES_REF, notes.local, notes.remote.unwrap(), "notes: sync")?;
                crate::git::apply_transaction(repo, vec![edit])?;
                notes.local = notes.remote;
            }
            NotesMove::Merged => {
                let theirs = format!("{}notes/agent", self.fetched_ns);
                let mut run = crate::process::git(
                    self.dir(),
                    &["notes", "--ref", crate::layout::NOTES_NAME, "merge", "--quiet", "-s", "cat_sort_uniq", &theirs],
                )?;
                if crate::git::user_committer(repo)?.is_none() {
                    let me = crate::git::signature(repo)?;
                    for who in ["AUTHOR", "COMMITTER"] {
                        run = run
                            .env(format!("GIT_{who}_NAME"), me.name.to_string())
                            .env(format!("GIT_{who}_EMAIL"), me.email.to_string());
                    }
                }
                let outcome = run.capture(crate::process::Capture::Tail(8192)).run()?;
                if !outcome.status.success() {
                    anyhow::bail!("cannot merge the remote's notes: {}", outcome.output_tail_lossy().trim());
                }
                notes.local = crate::git::ref_target(repo, NOTES_REF)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// One `git push` of every ref in `pushes`, each with its lease.
    fn push(&self, pushes: &[Push]) -> anyhow::Result<PushResult> {
        let mut args: Vec<String> = vec!["push".into(), "--porcelain".into(), "--no-verify".into()];
        for push in pushes {
            let lease = push.lease.map(|id| id.to_string()).unwrap_or_default();
            args.push(format!("--force-with-lease={}:{lease}", push.name));
        }
        args.push("--".into());
        args.push(self.remote.clone());
        for push in pushes {
            match push.new {
                Some(new) => args.push(format!("{new}:{}", push.name)),
                None => args.push(format!(":{}", push.name)),
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let outcome =
            crate::process::git(self.dir(), &args)?.capture(crate::process::Capture::Stdout(16 << 20)).run()?;
        let stdout = String::from_utf8_lossy(&outcome.stdout);
        let mut result = parse_porcelain(&stdout, pushes);
        if !outcome.status.success() && result.rejected.is_empty() && result.lost_race.is_none() {
            return Err(Fail::new(
                Exit::Failed,
                format!("cannot push to {}: {}", self.remote, outcome.output_tail_lossy().trim()),
            )
            .hint(format!("what was merged here is kept; check that `git push {}` works, then sync again", self.remote))
            .into());
        }
        result.accepted.retain(|(name, _)| pushes.iter().any(|p| &p.name == name));
        Ok(result)
    }

    /// After the local refs moved and the push: each tracking ref the sync reconciled says
    /// what the remote has now (what was pushed, else what was fetched). Refs left alone
    /// (corrupt, unrelated, diverged, refused) keep their old value.
    fn track(&self, plan: &Plan, accepted: &[(String, Option<ObjectId>)]) -> anyhow::Result<()> {
        let pushed = |name: &str| accepted.iter().find(|(n, _)| n == name).map(|(_, new)| *new);
        let mut edits = Vec::new();
        let mut track = |tracking: String, last: Option<ObjectId>, now: Option<ObjectId>| -> anyhow::Result<()> {
            if now != last {
                edits.push(crate::git::set_edit(&tracking, now, &format!("git-agent: sync {}", self.remote))?);
            }
            Ok(())
        };
        for task in &plan.tasks {
            if task.record.reconciled() {
                let now = pushed(&crate::state::record_ref(&task.task)).unwrap_or(task.remote);
                track(format!("{}tasks/{}", self.tracking_ns, task.task), task.last, now)?;
            }
            if task.branch.reconciled() {
                let name = self.expect.branch(&task.task);
                let now = pushed(&name).unwrap_or(task.branch_remote);
                let short = name.trim_start_matches("refs/heads/");
                track(format!("{}heads/{short}", self.tracking_ns), task.branch_last, now)?;
            }
        }
        if !edits.is_empty() {
            crate::git::apply_transaction(&self.ctx.repo, edits)?;
        }
        Ok(())
    }
}

/// What `git push --porcelain` said about each ref.
fn parse_porcelain(stdout: &str, pushes: &[Push]) -> PushResult {
    let mut result = PushResult::default();
    for line in stdout.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(flag), Some(refs), summary) = (fields.next(), fields.next(), fields.next().unwrap_or("")) else {
            continue;
        };
        let Some((_, name)) = refs.split_once(':') else { continue };
        let Some(push) = pushes.iter().find(|p| p.name == name) else { continue };
        match flag {
            "!" => {
                let lost = ["stale info", "fetch first", "non-fast-forward", "already exists"]
                    .iter()
                    .any(|why| summary.contains(why));
                if lost {
                    result.lost_race = Some(format!("{name}: {summary}"));
                } else {
                    result.rejected.push((name.to_owned(), summary.to_owned()));
                }
            }
            _ => result.accepted.push((name.to_owned(), push.new)),
        }
    }
    result
}

/// The refs on both sides of one task.
#[derive(Debug, Clone, Copy, Default)]
struct Sides {
    local: Option<ObjectId>,
    remote: Option<ObjectId>,
    /// The remote's, as of the last sync.
    last: Option<ObjectId>,
    branch_local: Option<ObjectId>,
    branch_remote: Option<ObjectId>,
    branch_last: Option<ObjectId>,
}

#[derive(Debug)]
struct TaskPlan {
    task: String,
    record: RecordMove,
    branch: BranchMove,
    local: Option<ObjectId>,
    remote: Option<ObjectId>,
    /// Where the local record moves: the remote's (or its format-2 upgrade), or the merge.
    new_local: Option<ObjectId>,
    branch_local: Option<ObjectId>,
    branch_remote: Option<ObjectId>,
    /// The tracking refs: the remote's record and branch when last reconciled.
    last: Option<ObjectId>,
    branch_last: Option<ObjectId>,
    reason: Option<String>,
}

impl TaskPlan {
    fn new(task: &str, sides: &Sides) -> TaskPlan {
        TaskPlan {
            task: task.to_owned(),
            record: RecordMove::UpToDate,
            branch: BranchMove::Absent,
            local: sides.local,
            remote: sides.remote,
            new_local: None,
            branch_local: sides.branch_local,
            branch_remote: sides.branch_remote,
            last: sides.last,
            branch_last: sides.branch_last,
            reason: None,
        }
    }

    /// After the local refs moved: what is here now.
    fn settle_locally(&mut self) {
        match self.record {
            RecordMove::Created | RecordMove::Fetched | RecordMove::Merged => self.local = self.new_local,
            RecordMove::RemovedHere => self.local = None,
            _ => {}
        }
        if matches!(self.branch, BranchMove::Created | BranchMove::Fetched) {
            self.branch_local = self.branch_remote;
        }
    }

    /// The refs this task sends to the remote.
    fn pushes(&self, branch_prefix: &str) -> Vec<Push> {
        let mut pushes = Vec::new();
        let record = crate::state::record_ref(&self.task);
        match self.record {
            RecordMove::Published | RecordMove::Pushed | RecordMove::Merged | RecordMove::Restored => {
                pushes.push(Push { name: record, new: self.local, lease: self.remote })
            }
            // Adopted and upgraded from format 1: the upgrade goes back.
            RecordMove::Created | RecordMove::Fetched if self.local != self.remote => {
                pushes.push(Push { name: record, new: self.local, lease: self.remote })
            }
            RecordMove::RemovedThere => pushes.push(Push { name: record, new: None, lease: self.remote }),
            _ => {}
        }
        let branch = format!("refs/heads/{branch_prefix}{}", self.task);
        match self.branch {
            BranchMove::Published | BranchMove::Pushed => {
                pushes.push(Push { name: branch, new: self.branch_local, lease: self.branch_remote })
            }
            BranchMove::RemovedThere => pushes.push(Push { name: branch, new: None, lease: self.branch_remote }),
            _ => {}
        }
        pushes
    }
}

#[derive(Debug)]
struct NotesPlan {
    action: NotesMove,
    local: Option<ObjectId>,
    remote: Option<ObjectId>,
}

impl Default for NotesPlan {
    fn default() -> Self {
        NotesPlan { action: NotesMove::Absent, local: None, remote: None }
    }
}

#[derive(Debug, Default)]
struct Plan {
    tasks: Vec<TaskPlan>,
    notes: NotesPlan,
    branch_prefix: String,
}

impl Plan {
    fn pushes(&self) -> Vec<Push> {
        let mut pushes: Vec<Push> = self.tasks.iter().flat_map(|t| t.pushes(&self.branch_prefix)).collect();
        if matches!(self.notes.action, NotesMove::Pushed | NotesMove::Merged) {
            pushes.push(Push { name: NOTES_REF.into(), new: self.notes.local, lease: self.notes.remote });
        }
        pushes
    }

    /// Marks what the remote refused for good.
    fn apply_rejections(&mut self, rejected: &[(String, String)]) {
        for (name, why) in rejected {
            if name == NOTES_REF {
                self.notes.action = NotesMove::Rejected;
                continue;
            }
            for task in &mut self.tasks {
                if *name == crate::state::record_ref(&task.task) {
                    task.record = RecordMove::Rejected;
                    task.reason = Some(format!("the remote refused {name}: {why}"));
                } else if *name == format!("refs/heads/{}{}", self.branch_prefix, task.task) {
                    task.branch = BranchMove::Rejected;
                    task.reason = Some(format!("the remote refused {name}: {why}"));
                }
            }
        }
    }

    fn report(self, remote: String, dry_run: bool, attempts: usize, round_trips: usize) -> Report {
        let tasks = self
            .tasks
            .into_iter()
            // A task gone from both sides is only a tracking ref cleared: nothing to say.
            .filter(|task| task.local.is_some() || task.remote.is_some() || task.record != RecordMove::UpToDate)
            .map(|task| {
                let pushed = |moved: bool, local: Option<ObjectId>, remote: Option<ObjectId>| {
                    if moved && !dry_run { local } else { remote }
                };
                let record_pushed = matches!(
                    task.record,
                    RecordMove::Published | RecordMove::Pushed | RecordMove::Merged | RecordMove::Restored
                ) || task.record == RecordMove::RemovedThere;
                let branch_pushed = matches!(task.branch, BranchMove::Published | BranchMove::Pushed)
                    || task.branch == BranchMove::RemovedThere;
                TaskSync {
                    local: task.local.map(|id| id.to_string()),
                    remote: pushed(record_pushed, task.local, task.remote).map(|id| id.to_string()),
                    branch_local: task.branch_local.map(|id| id.to_string()),
                    branch_remote: pushed(branch_pushed, task.branch_local, task.branch_remote)
                        .map(|id| id.to_string()),
                    task: task.task,
                    record: task.record,
                    branch: task.branch,
                    reason: task.reason,
                }
            })
            .collect();
        Report { remote, dry_run, attempts, round_trips, tasks, notes: self.notes.action }
    }
}

/// Every ref under `prefix` (a namespace ending in `/`, or a branch prefix), by the rest of
/// its name.
fn refs_under(repo: &gix::Repository, prefix: &str) -> anyhow::Result<BTreeMap<String, ObjectId>> {
    let mut refs = BTreeMap::new();
    let platform = repo.references()?;
    for reference in platform.prefixed(prefix)? {
        let mut reference = reference.map_err(|err| anyhow::anyhow!("cannot list the refs under {prefix}: {err}"))?;
        let name = reference.name().as_bstr().to_string();
        let Ok(id) = reference.peel_to_id() else { continue };
        refs.insert(name[prefix.len()..].to_owned(), id.detach());
    }
    Ok(refs)
}

/// The entries of `map` under `prefix`, by the rest of their name.
fn sub_map(map: &BTreeMap<String, ObjectId>, prefix: &str) -> BTreeMap<String, ObjectId> {
    map.iter().filter_map(|(name, id)| Some((name.strip_prefix(prefix)?.to_owned(), *id))).collect()
}
