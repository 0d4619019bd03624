//! The work of `git agent list`: one row of facts per task, computed on all cores.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use bstr::BString;
use gix::ObjectId;
use serde::Serialize;

use crate::git::FileStatus;
use crate::output::JsonPath;
use crate::state::{Said, StatusNow, TaskEntry, TaskRecord, TaskState};

/// A task's state as listed: the record's, or corrupt when the record cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RowState {
    Active,
    Done,
    Integrated,
    /// A state written by a newer git-agent.
    Unknown,
    Corrupt,
}

impl From<TaskState> for RowState {
    fn from(state: TaskState) -> RowState {
        match state {
            TaskState::Active => RowState::Active,
            TaskState::Done => RowState::Done,
            TaskState::Integrated => RowState::Integrated,
            TaskState::Unknown => RowState::Unknown,
        }
    }
}

/// One task's row. The JSON schema is documented in git-agent-list(1).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Row {
    pub name: String,
    pub state: RowState,
    pub branch: Option<String>,
    pub base_ref: Option<String>,
    pub base_commit: Option<String>,
    pub head: Option<String>,
    pub ahead: Option<usize>,
    pub behind: Option<usize>,
    pub files_changed: Option<usize>,
    pub dirty: Option<bool>,
    pub last_commit_unix: Option<i64>,
    pub base_drift: Option<usize>,
    pub out_of_scope: Vec<JsonPath>,
    /// What its own changes touch that its guards forbid: contracts, protected paths, new
    /// dependencies under a "no new dependencies" constraint (integrate refuses them).
    pub hazards: Vec<crate::hazard::Hazard>,
    /// Where its plan review stands (gated tasks only).
    pub gate: Option<crate::state::GateState>,
    /// Stacked tasks: the dependencies' work it started on (or merged) is not counted in
    /// `ahead` and `files_changed`; these are the commits it holds of that work.
    pub inherited_commits: Option<usize>,
    /// A stacked task whose dependencies have work its branch lacks: `git agent restack`
    /// would move it.
    pub dependency_moved: bool,
    pub worktree: Option<PathBuf>,
    pub worktree_missing: bool,
    /// The task's agent is running right now (its spawn holds the task's claim).
    pub running: bool,
    pub agent_exit: Option<i32>,
    /// A running agent that took no checkpoint for agent.checkpointEvery: seconds since its
    /// last checkpoint (or since it started); null otherwise.
    pub checkpoint_overdue: Option<u64>,
    /// What the agent last said it is doing (`git agent report`, `ask`), and when.
    pub status: Option<StatusNow>,
    /// The agent's last question, and the answer to it.
    pub question: Option<Said>,
    pub answer: Option<Said>,
    /// The agent is running, but no file in its worktree changed and no commit was made for
    /// `agent.idleAfter`.
    pub idle: bool,
    /// When a running agent last changed a file or committed, seconds since the epoch.
    pub last_activity_unix: Option<i64>,
    pub problems: Vec<String>,
    /// What its agents spent (`git agent cost`), priced; null when nothing was recorded.
    pub cost: Option<crate::ops::cost::Totals>,
    /// A variant of `spawn --variants`: its group and index; null otherwise.
    pub variant: Option<crate::state::Variant>,
    /// The tasks it was stacked on (`spawn --after`).
    pub after: Vec<String>,
    /// Its worktree is the one we stand in (the current directory, or `-C`, is inside it).
    pub current: bool,
    /// The uncommitted paths, as `git status --short` names them (with `-v`; null otherwise).
    pub uncommitted: Option<Vec<FileStatus>>,
}

/// How much `list` looks at each worktree's uncommitted changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirtyCheck {
    /// Not at all (`--no-dirty`).
    Skip,
    /// Whether there are any: stops at the first.
    Any,
    /// Which paths (`-v`): the whole status.
    Files,
}

/// Computes the rows on all cores: each task's worktree status is independent work.
pub fn rows(
    repo: &gix::Repository,
    entries: &[TaskEntry],
    dirty: DirtyCheck,
    idle_after: std::time::Duration,
) -> Vec<Row> {
    let settings = crate::settings::Settings::read(repo).ok();
    let watch = Watch {
        checkpoint_every: settings
            .as_ref()
            .map_or(crate::settings::DEFAULT_CHECKPOINT_EVERY, |settings| settings.checkpoint_every),
        idle_after,
        protected: settings.map(|settings| settings.protected).unwrap_or_default(),
        here: repo.workdir().map(crate::git::normalise_path),
        dirty,
        // Read once for all rows: each read walks every registration (quadratic otherwise).
        registrations: crate::ops::prune::normalised_registrations(repo).unwrap_or_default(),
    };
    let sync = repo.clone().into_sync();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(entries.len().max(1));
    let mut rows: Vec<(usize, Row)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut repo = sync.to_thread_local();
                    // The worktrees' HEAD trees are mostly the same objects: decode them once.
                    repo.object_cache_size_if_unset(8 * 1024 * 1024);
                    let mut share = crate::git::StatusShare::new(&repo);
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(entry) = entries.get(i) else { break };
                        done.push((i, row(&repo, entries, entry, &watch, &mut share)));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("list worker panicked")).collect()
    });
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The rows `git agent list` shows: [`rows`] with what each task's agents spent.
pub fn rows_with_costs(ctx: &crate::ops::Context, entries: &[TaskEntry], dirty: DirtyCheck) -> Vec<Row> {
    let mut rows = rows(&ctx.repo, entries, dirty, ctx.settings.idle_after);
    for (row, entry) in rows.iter_mut().zip(entries) {
        row.cost = entry.record.as_ref().ok().and_then(|r| crate::ops::cost::task_totals(&ctx.settings, &r.cost));
    }
    rows
}

/// The settings a row is judged by.
struct Watch {
    checkpoint_every: std::time::Duration,
    idle_after: std::time::Duration,
    /// `agent.protected`.
    protected: Vec<String>,
    /// The worktree we stand in, normalised.
    here: Option<PathBuf>,
    dirty: DirtyCheck,
    /// Git's worktree registrations, with their normalised paths.
    registrations: Vec<(Option<PathBuf>, crate::git::Registration)>,
}

fn row(
    repo: &gix::Repository,
    entries: &[TaskEntry],
    entry: &TaskEntry,
    watch: &Watch,
    share: &mut crate::git::StatusShare<'_>,
) -> Row {
    let mut row = Row {
        name: entry.name.clone(),
        state: RowState::Corrupt,
        branch: None,
        base_ref: None,
        base_commit: None,
        head: None,
        ahead: None,
        behind: None,
        files_changed: None,
        dirty: None,
        last_commit_unix: None,
        base_drift: None,
        out_of_scope: Vec::new(),
        hazards: Vec::new(),
        gate: None,
        inherited_commits: None,
        dependency_moved: false,
        worktree: None,
        worktree_missing: false,
        running: false,
        agent_exit: None,
        checkpoint_overdue: None,
        status: None,
        question: None,
        answer: None,
        idle: false,
        last_activity_unix: None,
        problems: Vec::new(),
        cost: None,
        variant: None,
        after: Vec::new(),
        current: false,
        uncommitted: None,
    };
    let record = match &entry.record {
        Ok(record) => record,
        Err(why) => {
            row.problems.push(format!("corrupt record: {why}"));
            return row;
        }
    };
    row.state = RowState::from(record.state);
    row.branch = Some(record.short_branch().to_owned());
    row.base_ref = record.base_ref.clone();
    row.base_commit = Some(record.base_commit.clone());
    // Where the worktree is now: git's registration follows `git worktree move`.
    let registration = crate::ops::prune::registration_among(&watch.registrations, &record.branch, &record.worktree);
    let (worktree, normalised) = match registration {
        Some((Some(normalised), crate::git::Registration { path: Some(path), missing: false, .. })) => {
            (path.clone(), normalised.clone())
        }
        _ => (record.worktree.clone(), crate::git::normalise_path(&record.worktree)),
    };
    row.worktree = Some(worktree.clone());
    row.agent_exit = record.agent_exit;
    row.gate = record.gate.as_ref().map(|gate| gate.state);
    row.status = record.status.clone();
    row.question = record.question.clone();
    row.answer = record.answer.clone();
    row.variant = record.variant.clone();
    row.after = record.after.clone();
    row.current = watch.here.as_ref() == Some(&normalised);
    row.running = crate::lock::task_holder(repo, &entry.name).is_some_and(|owner| owner.purpose == "agent");
    if row.running {
        let started = crate::ops::checkpoint::agent_started_ms(repo, &entry.name);
        row.checkpoint_overdue =
            crate::ops::checkpoint::overdue(record, started, crate::state::now_ms(), watch.checkpoint_every);
    }
    if let Err(err) = fill_branch_facts(repo, record, entries, &watch.protected, &mut row) {
        row.problems.push(format!("{err:#}"));
    }
    row.worktree_missing = !worktree.is_dir();
    if row.worktree_missing && registration.is_none() {
        // A task from another machine (after sync), or whose worktree was removed with git.
        if record.state != crate::state::TaskState::Integrated {
            row.problems.push(format!("no worktree here (git agent join {} makes one)", entry.name));
        }
    } else if row.worktree_missing {
        row.problems.push("worktree missing".into());
    } else if watch.dirty != DirtyCheck::Skip
        && let Err(err) = fill_dirty(share, &worktree, watch.dirty, &mut row)
    {
        row.problems.push(format!("cannot check the worktree: {err:#}"));
    }
    if row.running && !row.worktree_missing {
        // The branch tip's commit time, not LAST's spawn time: spawning is not the agent's doing.
        let head_time = row
            .head
            .as_deref()
            .and_then(|hex| ObjectId::from_hex(hex.as_bytes()).ok())
            .and_then(|head| crate::git::commit_time(repo, head).ok());
        match last_activity(&worktree, head_time) {
            Ok(last) => {
                row.last_activity_unix = last;
                let quiet_since = crate::state::now_ms() as i64 / 1000 - watch.idle_after.as_secs() as i64;
                row.idle = last.is_some_and(|last| last < quiet_since);
            }
            Err(err) => row.problems.push(format!("cannot tell whether the agent is idle: {err:#}")),
        }
    }
    row
}

/// Whether the worktree has uncommitted changes, and with [`DirtyCheck::Files`] which.
/// `share` is what the rows of one thread share (see [`crate::git::StatusShare`]).
fn fill_dirty(
    share: &mut crate::git::StatusShare<'_>,
    worktree: &std::path::Path,
    dirty: DirtyCheck,
    row: &mut Row,
) -> anyhow::Result<()> {
    let repo = crate::git::open_worktree_for_status(worktree)?;
    if dirty == DirtyCheck::Files {
        let files = crate::git::uncommitted_files(&repo)?;
        row.dirty = Some(!files.is_empty());
        row.uncommitted = Some(files);
    } else {
        row.dirty = Some(crate::git::has_changes_sharing(&repo, share)?);
    }
    Ok(())
}

/// When the agent in `worktree` last did something visible: the later of its last commit and
/// the latest change of a file (see [`crate::git::last_file_change`]), seconds since the epoch.
fn last_activity(worktree: &std::path::Path, last_commit_unix: Option<i64>) -> anyhow::Result<Option<i64>> {
    let repo = crate::git::open_worktree_for_status(worktree)?;
    let changed = crate::git::last_file_change(&repo)?
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|since| since.as_secs() as i64);
    Ok(changed.max(last_commit_unix))
}

/// Ahead/behind, files changed, drift, scope: everything that comes from commits.
fn fill_branch_facts(
    repo: &gix::Repository,
    record: &TaskRecord,
    entries: &[TaskEntry],
    protected: &[String],
    row: &mut Row,
) -> anyhow::Result<()> {
    let base_commit = ObjectId::from_hex(record.base_commit.as_bytes())
        .map_err(|_| anyhow::anyhow!("the record's base commit is not an object id"))?;
    let Some(head) = crate::git::ref_target(repo, &record.branch)? else {
        anyhow::bail!("branch {} is missing", record.short_branch());
    };
    row.head = Some(head.to_string());
    // The target is the base branch as it is now; without one, the commit spawned from.
    let target = match &record.base_ref {
        Some(base_ref) => crate::git::ref_target(repo, base_ref)?.unwrap_or(base_commit),
        None => base_commit,
    };
    // The tips of the tasks it depends on, now and where it was stacked on them: commits and
    // files it only inherited from them are their work, not this task's (not ahead, not
    // changed, never outside its scope).
    let dependencies = crate::stack::dependency_tips(repo, &record.after, entries)?;
    let mut tips: Vec<ObjectId> = dependencies.iter().map(|dep| dep.tip).collect();
    tips.extend(record.stacked_tips().into_iter().filter(|tip| repo.has_object(tip)));
    let ahead_of_target = crate::git::count_only_in(repo, head, target)?;
    let own_commits = if tips.is_empty() { ahead_of_target } else { count_own(repo, head, target, &tips)? };
    let inherited_commits = ahead_of_target - own_commits;
    row.ahead = Some(own_commits);
    if record.stack.is_some() || inherited_commits > 0 {
        row.inherited_commits = Some(inherited_commits);
    }
    // After integration the target holds the task's work and moves on without it: counting
    // the target's later commits as "behind" would grow forever and mean nothing (null, "-").
    if record.state != TaskState::Integrated {
        row.behind = Some(crate::git::count_only_in(repo, target, head)?);
    }
    row.base_drift =
        Some(if repo.has_object(base_commit) { crate::git::count_only_in(repo, target, base_commit)? } else { 0 });
    // The task's own last commit; without one, when it was spawned (the base's commit time
    // would say "7d" of a task spawned a second ago).
    row.last_commit_unix =
        Some(if own_commits > 0 { crate::git::commit_time(repo, head)? } else { (record.created_ms / 1000) as i64 });
    let own = crate::stack::own_changed_paths(repo, record, entries, head, target)?;
    row.files_changed = Some(own.paths.len());
    row.hazards = crate::hazard::hazards(repo, record, protected, &own)?;
    // An integrated task is not restacked: new work goes to a new task.
    row.dependency_moved =
        record.state != TaskState::Integrated && crate::stack::dependency_moved(repo, record, head, &dependencies)?;
    let outside: Vec<BString> =
        own.paths.into_iter().filter(|path| !crate::scope::contains(&record.scope, path.as_ref())).collect();
    row.out_of_scope = outside.into_iter().map(JsonPath).collect();
    Ok(())
}

/// How many commits on `head` are neither on `target` nor its dependencies' work (reachable
/// from one of their `tips`, as they are now or as the task was stacked on them).
fn count_own(repo: &gix::Repository, head: ObjectId, target: ObjectId, tips: &[ObjectId]) -> anyhow::Result<usize> {
    let mut own = 0;
    let hidden: Vec<ObjectId> = std::iter::once(target).chain(tips.iter().copied()).collect();
    for info in repo.rev_walk([head]).with_hidden(hidden).all()? {
        info?;
        own += 1;
    }
    Ok(own)
}
