//! The work of `git agent watch`: a [`Snapshot`] of the fleet (list's rows, the conflicts
//! radar, recent events), gathered by a [`Gatherer`] that keeps what did not change since the
//! last time. Returns data; the command draws it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::conflicts::{PairVerdict, TargetVerdict};
use crate::oplog::Change;
use crate::ops::Context;
use crate::ops::conflicts::{NothingToCheck, Request};
use crate::ops::list::Row;
use crate::state::{TaskEntry, TaskState};

/// Recent events kept: more than any terminal shows.
const MAX_EVENTS: usize = 50;

/// Everything one frame shows.
pub struct Snapshot {
    /// `git agent list`'s rows, costs included.
    pub rows: Vec<Row>,
    pub radar: Radar,
    /// Newest first, across tasks.
    pub events: Vec<Event>,
    /// When it was gathered, seconds since the epoch.
    pub now: i64,
}

/// The conflicts radar: `git agent conflicts`' pairwise matrix of the tasks not integrated.
#[derive(Clone)]
pub enum Radar {
    Nothing(NothingToCheck),
    /// The check could not be made (different base branches, a merge that failed...).
    Unavailable(String),
    Checked(Matrix),
}

/// The pairwise verdicts, in task order.
#[derive(Clone)]
pub struct Matrix {
    pub target: String,
    pub names: Vec<String>,
    /// `cells[i][j]`: how tasks i and j merge; None: cleanly, touching different files.
    pub cells: Vec<Vec<Option<PairVerdict>>>,
    /// Whether each task conflicts with the target.
    pub against_target: Vec<bool>,
    /// "a x b: path (kind)" for each conflict, as `conflicts` details them.
    pub conflicts: Vec<String>,
}

/// One operation of a task's log.
#[derive(Clone)]
pub struct Event {
    pub task: String,
    /// Milliseconds since the epoch; 0 when not recorded.
    pub at_ms: u64,
    pub what: String,
}

/// Gathers snapshots, recomputing the radar only when a branch tip, a task's state or a base
/// branch moved, and a task's events only when its record did: an unchanged fleet costs list's
/// rows and nothing more.
#[derive(Default)]
pub struct Gatherer {
    radar: Option<(RadarKey, Radar)>,
    events: HashMap<String, (ObjectId, Vec<Event>)>,
}

impl Gatherer {
    pub fn gather(&mut self, ctx: &Context) -> anyhow::Result<Snapshot> {
        let entries = crate::state::read_tasks(&ctx.repo)?;
        let rows = crate::ops::list::rows_with_costs(ctx, &entries, crate::ops::list::DirtyCheck::Any);
        let radar = self.radar(ctx, &entries)?;
        let events = self.events(&ctx.repo, &entries);
        Ok(Snapshot { rows, radar, events, now: (crate::state::now_ms() / 1000) as i64 })
    }

    fn radar(&mut self, ctx: &Context, entries: &[TaskEntry]) -> anyhow::Result<Radar> {
        let key = radar_key(&ctx.repo, entries)?;
        if let Some((cached, radar)) = &self.radar
            && *cached == key
        {
            return Ok(radar.clone());
        }
        let request = Request { tasks: Vec::new(), target: None, include_uncommitted: false, pairwise: true };
        let radar = match crate::ops::conflicts::check(&ctx.repo, &request) {
            Ok(Err(nothing)) => Radar::Nothing(nothing),
            Ok(Ok(checked)) => Radar::Checked(matrix(&checked)),
            Err(err) => Radar::Unavailable(format!("{err:#}")),
        };
        self.radar = Some((key, radar.clone()));
        Ok(radar)
    }

    fn events(&mut self, repo: &gix::Repository, entries: &[TaskEntry]) -> Vec<Event> {
        self.events.retain(|name, _| entries.iter().any(|e| &e.name == name));
        for entry in entries {
            if self.events.get(&entry.name).is_some_and(|(commit, _)| *commit == entry.record_commit) {
                continue;
            }
            // A log that cannot be read shows no events; list's row says what is wrong.
            let ops = crate::oplog::history_ops(repo, &entry.name, &[entry.record_commit]).unwrap_or_default();
            let events = ops
                .into_iter()
                .map(|op| Event { task: entry.name.clone(), at_ms: op.at_ms, what: describe(&op.change) })
                .collect();
            self.events.insert(entry.name.clone(), (entry.record_commit, events));
        }
        let mut all: Vec<Event> = self.events.values().flat_map(|(_, events)| events.iter().cloned()).collect();
        all.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.task.cmp(&b.task)));
        all.truncate(MAX_EVENTS);
        all
    }
}

/// What the radar depends on: each task's state and branch tip, and the base branches' tips.
type RadarKey = Vec<(String, Option<ObjectId>)>;

fn radar_key(repo: &gix::Repository, entries: &[TaskEntry]) -> anyhow::Result<RadarKey> {
    let mut key = Vec::new();
    for entry in entries {
        let Ok(record) = &entry.record else {
            key.push((entry.name.clone(), None));
            continue;
        };
        let state = if record.state == TaskState::Integrated { "integrated" } else { "open" };
        key.push((format!("{}:{state}", entry.name), crate::git::ref_target(repo, &record.branch)?));
        if let Some(base) = &record.base_ref {
            key.push((base.clone(), crate::git::ref_target(repo, base)?));
        }
    }
    Ok(key)
}

fn matrix(checked: &crate::ops::conflicts::Checked) -> Matrix {
    let analysis = &checked.analysis;
    // The tasks that were checked, in task order, as `conflicts` shows them.
    let names: Vec<String> = analysis.against_target.iter().map(|t| t.task.clone()).collect();
    let index = |name: &str| names.iter().position(|n| n == name);
    let mut cells = vec![vec![None; names.len()]; names.len()];
    let mut conflicts = Vec::new();
    for pair in &analysis.pairs {
        if let (Some(a), Some(b)) = (index(&pair.a), index(&pair.b)) {
            cells[a][b] = Some(pair.verdict);
            cells[b][a] = Some(pair.verdict);
        }
        if pair.verdict == PairVerdict::Conflict {
            conflicts.push(format!("{} x {}: {}", pair.a, pair.b, paths(&pair.conflicts)));
        }
    }
    let against_target = analysis.against_target.iter().map(|t| t.verdict == TargetVerdict::Conflict).collect();
    for t in analysis.against_target.iter().filter(|t| t.verdict == TargetVerdict::Conflict) {
        conflicts.push(format!("{} x {}: {}", t.task, checked.target.label, paths(&t.conflicts)));
    }
    Matrix { target: checked.target.label.clone(), names, cells, against_target, conflicts }
}

fn paths(conflicts: &[crate::conflicts::ConflictPath]) -> String {
    conflicts.iter().map(|c| format!("{} ({})", c.path, c.kind)).collect::<Vec<_>>().join(", ")
}

/// One line for an operation: its event name and what it says.
fn describe(change: &Change) -> String {
    let event = change.event();
    let detail = match change {
        Change::AgentExited { exit: Some(exit), .. } => format!("exit {exit}"),
        Change::Integrated { commit, .. } => commit.chars().take(7).collect(),
        Change::AgentStarted { how, .. } => how.clone(),
        Change::Status { status, message } => format!("{} {message}", status.as_str()),
        Change::Asked { question } => question.clone(),
        Change::Answered { answer } => answer.clone(),
        Change::Rejected { reason, .. } => reason.clone(),
        _ => String::new(),
    };
    let detail = detail.lines().next().unwrap_or("").trim();
    if detail.is_empty() { event.to_owned() } else { format!("{event}: {detail}") }
}

/// What to watch for changes, and whether recursively: the refs (branch tips, records), the
/// repository's own files (packed-refs), the linked worktrees' index and HEAD (git's
/// `worktrees/` folder), and git-agent's claims, runs and logs.
pub fn watched_paths(repo: &gix::Repository) -> Vec<(PathBuf, bool)> {
    let common = repo.common_dir();
    let agent_dir = crate::layout::agent_log(common, "_").parent().and_then(Path::parent).map(Path::to_owned);
    let mut paths = vec![
        (common.to_owned(), false),
        (common.join("refs"), true),
        (common.join("worktrees"), true),
        (crate::layout::claims_dir(common), false),
    ];
    paths.extend(agent_dir.map(|dir| (dir, true)));
    paths.retain(|(path, _)| path.exists());
    paths
}
