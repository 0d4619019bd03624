//! Task records as an operation log (record format 2).
//!
//! A record is a chain of commits on `refs/agent/tasks/<task>`. Each commit holds the
//! operations of one event in `ops.json` (each with a Lamport clock and a unique id) and the
//! task's state after it in `task.json`, a cached fold so that reading a task is one object
//! read. The state is a deterministic fold of every operation in the commit's history, ordered
//! by (clock, id). Two chains that diverged (two machines changed the task at once) are
//! joined by a merge commit with both as parents, holding no operation of its own: nothing is
//! rewritten and no operation is lost, and every machine folds the same state from the same
//! set of operations. git-bug stores its entities the same way.
//!
//! Records of format 1 (a snapshot per commit, no operations) are read as they are, and
//! upgraded by their next event: that commit holds an `imported` operation carrying the
//! format-1 state, whose id is derived from the commit it imports, so that two machines
//! upgrading the same record write the same operation.

use std::collections::BTreeMap;

use gix::ObjectId;
use serde::{Deserialize, Serialize};

use crate::layout::{OPS_FILE, RECORD_FILE};
use crate::state::{
    AgentStatus, Checkpoint, CostEntry, Expect, Gate, GateState, MAX_RECORD_BYTES, RECORD_VERSION, Said, Stack,
    StatusNow, TaskRecord, TaskState,
};

/// One operation of a task's log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Operation {
    /// The Lamport clock: one more than the largest clock the writer had seen for the task.
    pub clock: u64,
    /// Unique among the task's operations; breaks ties between equal clocks.
    pub id: String,
    /// When it was written, milliseconds since the Unix epoch (0: not recorded). Shown (a
    /// status's age, cost by day), never used to order: clocks of two machines disagree.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub at_ms: u64,
    #[serde(flatten)]
    pub change: Change,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What an operation changes. Field names are part of the documented format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Change {
    /// spawn created the task: everything it decided.
    Spawned { record: Box<TaskRecord> },
    /// A format-1 record's state, carried into the log when the record was upgraded.
    Imported { record: Box<TaskRecord> },
    /// The agent spawn started exited (with the command it ran, if the record had none).
    AgentExited {
        exit: Option<i32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        command: Vec<String>,
    },
    /// `git agent done`: ready for integration.
    Done,
    /// integrate landed the task: the commit that integrated it and the branch tip it took.
    Integrated { commit: String, tip: String },
    /// restack moved the task's branch onto its dependencies' new work.
    Restacked { stack: Stack },
    /// An agent was started for the task (in the foreground, detached, or in a tmux window).
    AgentStarted {
        command: Vec<String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        how: String,
    },
    /// The agent said what it is doing (`git agent report`).
    Status {
        status: AgentStatus,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// The agent asked the orchestrator a question (`git agent ask`): it is blocked.
    Asked { question: String },
    /// The orchestrator answered (`git agent answer`).
    Answered { answer: String },
    /// A checkpoint summary of the session (`git agent checkpoint`).
    Checkpoint { checkpoint: Checkpoint },
    /// Tokens (and money) an agent spent on the task (`git agent cost`).
    Cost { cost: CostEntry },
    /// The agent proposed its implementation plan (`git agent propose`): the gate waits for
    /// the orchestrator.
    Proposed { plan: String },
    /// The orchestrator approved the plan proposed by operation `proposal`.
    Approved { proposal: String },
    /// The orchestrator rejected the plan proposed by operation `proposal`, saying why.
    Rejected { proposal: String, reason: String },
    /// An operation written by a newer git-agent: kept in the log, skipped by this fold.
    #[serde(other)]
    Unknown,
}

impl Change {
    /// The event's name, as record commit messages and reflogs say it.
    pub fn event(&self) -> &'static str {
        match self {
            Change::Spawned { .. } => "spawn",
            Change::Imported { .. } => "import",
            Change::AgentExited { .. } => "agent-exit",
            Change::Done => "done",
            Change::Integrated { .. } => "integrated",
            Change::Restacked { .. } => "restack",
            Change::AgentStarted { .. } => "agent-start",
            Change::Status { .. } => "status",
            Change::Asked { .. } => "ask",
            Change::Answered { .. } => "answer",
            Change::Checkpoint { .. } => "checkpoint",
            Change::Cost { .. } => "cost",
            Change::Proposed { .. } => "propose",
            Change::Approved { .. } => "approve",
            Change::Rejected { .. } => "reject",
            Change::Unknown => "unknown",
        }
    }
}

/// Largest clock accepted: a hostile record cannot make the next clock overflow. (A commit's
/// operations may not run ahead of its history either, see [`history_ops`], so no real
/// history comes near.)
pub const MAX_CLOCK: u64 = 1 << 53;
/// Most commits one record's history may have, most operations one commit may hold, and the
/// most operations and `ops.json` bytes one fold reads: a remote cannot stall every sync.
const MAX_COMMITS: usize = 100_000;
const MAX_OPS_PER_COMMIT: usize = 1000;
const MAX_OPS: usize = 100_000;
const MAX_OPS_BYTES: u64 = 32 << 20;

/// Applies one operation to the state folded so far.
fn apply(state: &mut Option<TaskRecord>, op: &Operation) {
    match &op.change {
        Change::Spawned { record } | Change::Imported { record } => {
            let mut record = (**record).clone();
            record.worktree = Default::default();
            *state = Some(record);
        }
        Change::Unknown => {}
        change => {
            let Some(record) = state.as_mut() else { return };
            match change {
                Change::AgentExited { exit, command } => {
                    record.agent_exit = *exit;
                    if record.command.is_empty() {
                        record.command = command.clone();
                    }
                }
                // A done that crossed an integration on another machine is stale: integrated stays.
                Change::Done if record.state == TaskState::Active => record.state = TaskState::Done,
                Change::Done => {}
                Change::Integrated { commit, tip } => {
                    record.state = TaskState::Integrated;
                    record.integrated_commit = Some(commit.clone());
                    record.integrated_tip = Some(tip.clone());
                }
                Change::Restacked { stack } => record.stack = Some(stack.clone()),
                Change::AgentStarted { .. } => {
                    record.agent_exit = None;
                    record.status =
                        Some(StatusNow { status: AgentStatus::Working, message: String::new(), at_ms: op.at_ms });
                }
                Change::Status { status, message } => {
                    record.status = Some(StatusNow { status: *status, message: message.clone(), at_ms: op.at_ms });
                }
                Change::Asked { question } => {
                    record.status =
                        Some(StatusNow { status: AgentStatus::Blocked, message: question.clone(), at_ms: op.at_ms });
                    record.question = Some(Said { text: question.clone(), at_ms: op.at_ms });
                    record.answer = None;
                }
                Change::Answered { answer } => record.answer = Some(Said { text: answer.clone(), at_ms: op.at_ms }),
                Change::Checkpoint { checkpoint } => {
                    let mut checkpoint = checkpoint.clone();
                    checkpoint.at_ms = op.at_ms;
                    record.checkpoint = Some(checkpoint);
                }
                Change::Cost { cost } => record.cost.add(cost),
                Change::Proposed { plan } => {
                    let gate = record.gate.get_or_insert_with(Gate::new);
                    gate.state = GateState::Proposed;
                    gate.plan = plan.clone();
                    gate.proposal = op.id.clone();
                    gate.at_ms = op.at_ms;
                }
                // A judgement of another plan than the one proposed last is stale: it crossed
                // a newer proposal (or an ungated record) and changes nothing. An approval of a
                // plan rejected already (on another machine, at once) approves nothing either:
                // the objection stands, in whichever order the two are folded.
                Change::Approved { proposal } => {
                    let judged = |gate: &&mut Gate| &gate.proposal == proposal && gate.state != GateState::Planned;
                    if let Some(gate) = record.gate.as_mut().filter(judged) {
                        gate.state = GateState::Approved;
                        gate.reason.clear();
                        gate.at_ms = op.at_ms;
                    }
                }
                Change::Rejected { proposal, reason } => {
                    if let Some(gate) = record.gate.as_mut().filter(|gate| &gate.proposal == proposal) {
                        gate.state = GateState::Planned;
                        gate.reason = reason.clone();
                        gate.at_ms = op.at_ms;
                    }
                }
                Change::Spawned { .. } | Change::Imported { .. } | Change::Unknown => unreachable!(),
            }
        }
    }
    if let Some(record) = state.as_mut() {
        record.clock = record.clock.max(op.clock);
        record.version = RECORD_VERSION;
    }
}

/// The task's state from a set of operations: each once (by id), in (clock, id) order.
pub fn fold(ops: &[Operation]) -> Option<TaskRecord> {
    let mut sorted: Vec<&Operation> = ops.iter().collect();
    sorted.sort_by(|a, b| (a.clock, &a.id).cmp(&(b.clock, &b.id)));
    sorted.dedup_by(|a, b| a.id == b.id);
    let mut state = None;
    for op in sorted {
        apply(&mut state, op);
    }
    state
}

/// A new unique operation id: 128 random bits, in hex.
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut id = String::with_capacity(32);
    for half in 0..2u8 {
        // RandomState is seeded from the operating system's randomness.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(count);
        hasher.write_u8(half);
        id.push_str(&format!("{:016x}", hasher.finish()));
    }
    id
}

/// The id of the operation importing the format-1 record at `commit`: the same on every machine.
fn import_id(commit: ObjectId) -> String {
    format!("import-{commit}")
}

/// The operations an event on a record whose newest commit is `previous` (holding `current`)
/// writes: `changes` with the next clocks, in order, preceded by an import of a format-1 record.
fn event_ops(previous: Option<(ObjectId, &TaskRecord)>, changes: Vec<Change>) -> anyhow::Result<Vec<Operation>> {
    let mut ops = Vec::new();
    let mut clock = 0;
    if let Some((commit, current)) = previous {
        clock = current.clock;
        if current.version < 2 {
            let mut imported = current.clone();
            imported.version = RECORD_VERSION;
            clock = 1;
            ops.push(Operation {
                clock,
                id: import_id(commit),
                at_ms: 0,
                change: Change::Imported { record: Box::new(imported) },
            });
        }
    }
    let at_ms = crate::state::now_ms();
    for change in changes {
        if clock >= MAX_CLOCK {
            return Err(
                crate::error::refused(format!("the record's clock is exhausted ({clock}): it is corrupt")).into()
            );
        }
        clock += 1;
        ops.push(Operation { clock, id: new_id(), at_ms, change });
    }
    Ok(ops)
}

/// A record commit holding `ops` and the state `record`, on `parents`.
fn write_record_commit(
    repo: &gix::Repository,
    record: &TaskRecord,
    ops: &[Operation],
    parents: Vec<ObjectId>,
    message: &str,
) -> anyhow::Result<ObjectId> {
    let mut ops_bytes = serde_json::to_vec_pretty(ops)?;
    ops_bytes.push(b'\n');
    crate::git::write_files_commit(repo, &[(RECORD_FILE, &record.to_bytes()), (OPS_FILE, &ops_bytes)], parents, message)
}

/// The first commit of a new task's record: the `spawned` operation.
pub fn spawn_commit(repo: &gix::Repository, record: &TaskRecord) -> anyhow::Result<(ObjectId, TaskRecord)> {
    let ops = event_ops(None, vec![Change::Spawned { record: Box::new(record.clone()) }])?;
    let state = fold(&ops).expect("a spawn makes a state");
    let mut state = with_local_facts(state, record);
    state.version = RECORD_VERSION;
    let commit = write_record_commit(repo, &state, &ops, Vec::new(), &format!("spawn {}\n", record.name))?;
    Ok((commit, state))
}

/// A commit on `previous` (whose state is `current`) holding the event `change`, and the state
/// after it; the record ref is not moved.
pub fn event_commit(
    repo: &gix::Repository,
    previous: ObjectId,
    current: &TaskRecord,
    change: Change,
) -> anyhow::Result<(ObjectId, TaskRecord, String)> {
    events_commit(repo, previous, current, vec![change])
}

/// A commit on `previous` (whose state is `current`) holding the operations `changes` (at
/// least one), in order, and the state after them; the record ref is not moved.
pub fn events_commit(
    repo: &gix::Repository,
    previous: ObjectId,
    current: &TaskRecord,
    changes: Vec<Change>,
) -> anyhow::Result<(ObjectId, TaskRecord, String)> {
    let event = changes.first().map_or("event", Change::event);
    let message = format!("{event} {}\n", current.name);
    let ops = event_ops(Some((previous, current)), changes)?;
    // The new operations' clocks are the largest: applying them to the current state is the fold.
    let mut state = Some(current.clone());
    for op in &ops {
        apply(&mut state, op);
    }
    let state = with_local_facts(state.expect("an event keeps the state"), current);
    let commit = write_record_commit(repo, &state, &ops, vec![previous], &message)?;
    Ok((commit, state, message))
}

/// The machine-local facts (the worktree) of `from`, which the log does not hold.
fn with_local_facts(mut state: TaskRecord, from: &TaskRecord) -> TaskRecord {
    state.worktree = from.worktree.clone();
    state
}

/// The operations one record commit holds, checked: `Ok(None)` for a format-1 commit.
fn commit_ops(
    repo: &gix::Repository,
    commit: ObjectId,
    bytes_read: &mut u64,
) -> Result<Option<Vec<Operation>>, String> {
    let tree_has_ops = repo
        .find_commit(commit)
        .map_err(|_| format!("record commit {commit} is missing"))?
        .tree()
        .map_err(|err| format!("record commit {commit} has no readable tree: {err}"))?
        .find_entry(OPS_FILE)
        .is_some();
    if !tree_has_ops {
        return Ok(None);
    }
    let bytes = crate::git::read_file_from_commit(repo, commit, OPS_FILE, MAX_RECORD_BYTES)?;
    *bytes_read += bytes.len() as u64;
    let ops: Vec<Operation> =
        serde_json::from_slice(&bytes).map_err(|err| format!("{OPS_FILE} of {commit} is not valid: {err}"))?;
    if ops.len() > MAX_OPS_PER_COMMIT {
        return Err(format!("{OPS_FILE} of {commit} holds {} operations, more than {MAX_OPS_PER_COMMIT}", ops.len()));
    }
    for op in &ops {
        check_operation(op).map_err(|why| format!("an operation in {commit}: {why}"))?;
    }
    Ok(Some(ops))
}

fn check_operation(op: &Operation) -> Result<(), String> {
    if op.clock == 0 || op.clock > MAX_CLOCK {
        return Err(format!("clock {} is out of range", op.clock));
    }
    let plain = |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-';
    if op.id.is_empty() || op.id.len() > 80 || !op.id.bytes().all(plain) {
        return Err(format!("id {:?} is not an operation id", op.id));
    }
    Ok(())
}

/// Every operation in the history of `tips`, each once. A format-1 tip contributes the
/// import of its state (what its next event would write). The history is checked as it is
/// read: each id means one operation, no commit's operations run ahead of the clocks below
/// it (a clock grows by at most one per operation), and the whole stays within bounds.
pub fn history_ops(repo: &gix::Repository, task: &str, tips: &[ObjectId]) -> Result<Vec<Operation>, String> {
    let mut commits: BTreeMap<ObjectId, (Vec<Operation>, Vec<ObjectId>)> = BTreeMap::new();
    let mut queue: Vec<ObjectId> = tips.to_vec();
    let (mut count, mut bytes) = (0usize, 0u64);
    while let Some(commit) = queue.pop() {
        if commits.contains_key(&commit) {
            continue;
        }
        if commits.len() >= MAX_COMMITS {
            return Err(format!("the record has more than {MAX_COMMITS} commits"));
        }
        let (ops, parents) = match commit_ops(repo, commit, &mut bytes)? {
            Some(ops) => (ops, parent_ids(repo, commit)?),
            None if tips.contains(&commit) => (vec![import_tip(repo, task, commit)?], Vec::new()),
            // Format-1 history below a format-2 commit: its import holds its state.
            None => (Vec::new(), Vec::new()),
        };
        count += ops.len();
        if count > MAX_OPS || bytes > MAX_OPS_BYTES {
            return Err(format!("the record holds more than {MAX_OPS} operations or {MAX_OPS_BYTES} bytes of them"));
        }
        queue.extend(parents.iter().copied());
        commits.insert(commit, (ops, parents));
    }
    check_clocks(&commits)?;
    let mut ops: BTreeMap<String, Operation> = BTreeMap::new();
    for op in commits.into_values().flat_map(|(ops, _)| ops) {
        match ops.get(&op.id) {
            Some(known) if *known != op => return Err(format!("two different operations have the id {:?}", op.id)),
            Some(_) => {}
            None => {
                ops.insert(op.id.clone(), op);
            }
        }
    }
    Ok(ops.into_values().collect())
}

fn parent_ids(repo: &gix::Repository, commit: ObjectId) -> Result<Vec<ObjectId>, String> {
    let commit = repo.find_commit(commit).map_err(|err| format!("record commit {commit} is missing: {err}"))?;
    Ok(commit.parent_ids().map(|id| id.detach()).collect())
}

/// The import of the format-1 state at `commit`.
fn import_tip(repo: &gix::Repository, task: &str, commit: ObjectId) -> Result<Operation, String> {
    let bytes = crate::git::read_file_from_commit(repo, commit, RECORD_FILE, MAX_RECORD_BYTES)?;
    let mut record: TaskRecord =
        serde_json::from_slice(&bytes).map_err(|err| format!("task.json is not valid: {err}"))?;
    if record.name != task {
        return Err(format!("task.json names task {:?}, but is stored as {task:?}", record.name));
    }
    record.version = RECORD_VERSION;
    record.worktree = Default::default();
    Ok(Operation { clock: 1, id: import_id(commit), at_ms: 0, change: Change::Imported { record: Box::new(record) } })
}

/// No commit's operations may have a clock above the largest clock below the commit plus the
/// number of operations it holds: a Lamport clock grows by one per operation.
fn check_clocks(commits: &BTreeMap<ObjectId, (Vec<Operation>, Vec<ObjectId>)>) -> Result<(), String> {
    let mut reached: BTreeMap<ObjectId, u64> = BTreeMap::new();
    // Parents before children, without recursion: a history can be long.
    let mut stack: Vec<(ObjectId, bool)> = commits.keys().map(|id| (*id, false)).collect();
    while let Some((commit, parents_done)) = stack.pop() {
        if reached.contains_key(&commit) {
            continue;
        }
        let Some((ops, parents)) = commits.get(&commit) else { continue };
        if !parents_done {
            stack.push((commit, true));
            stack.extend(parents.iter().filter(|p| !reached.contains_key(*p)).map(|p| (*p, false)));
            continue;
        }
        let below = parents.iter().filter_map(|p| reached.get(p)).copied().max().unwrap_or(0);
        let limit = below.saturating_add(ops.len() as u64);
        if let Some(op) = ops.iter().find(|op| op.clock > limit) {
            return Err(format!(
                "operation {:?} in {commit} has clock {}, ahead of its history ({below})",
                op.id, op.clock
            ));
        }
        let top = ops.iter().map(|op| op.clock).max().unwrap_or(0).max(below);
        reached.insert(commit, top);
    }
    Ok(())
}

/// Whether the record at `tip` (a remote's) may be taken as it is: its state is valid and is
/// the fold of its operations. A format-1 record, whose worktree field was another machine's,
/// is valid apart from that field and is upgraded: `Ok(Some(commit))` is a commit on `tip`
/// holding its import, to take instead. `Err` says why it is corrupt.
pub fn adoptable(
    repo: &gix::Repository,
    task: &str,
    tip: ObjectId,
    expect: &Expect,
) -> Result<Option<ObjectId>, String> {
    let bytes = crate::git::read_file_from_commit(repo, tip, RECORD_FILE, MAX_RECORD_BYTES)?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|err| format!("task.json is not valid: {err}"))?;
    let format_1 = value.get("version").and_then(serde_json::Value::as_u64) == Some(1);
    if format_1 && let Some(fields) = value.as_object_mut() {
        fields.remove("worktree");
        fields.insert("version".into(), RECORD_VERSION.into());
    }
    let bytes = serde_json::to_vec(&value).map_err(|err| err.to_string())?;
    let state = crate::state::parse_record(task, &bytes, expect)?;
    let ops = history_ops(repo, task, &[tip])?;
    let folded = fold(&ops).ok_or("its operations never create the task")?;
    crate::state::check_folded(task, &folded, expect)?;
    if format_1 {
        let (commit, message) = (tip, format!("import {task}: format 2\n"));
        let import = import_tip(repo, task, commit)?;
        let upgraded =
            write_record_commit(repo, &folded, &[import], vec![commit], &message).map_err(|e| e.to_string())?;
        return Ok(Some(upgraded));
    }
    let known = |mut record: TaskRecord| {
        record.worktree = Default::default();
        record.unknown.clear();
        serde_json::to_value(record).unwrap_or_default()
    };
    if known(state) != known(folded) {
        return Err("its task.json is not the state its operations make".into());
    }
    Ok(None)
}

/// How a local record and the remote's copy of it came together.
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    /// Both are the same commit.
    Same,
    /// The local record holds the remote's: the remote needs ours.
    LocalAhead,
    /// The remote's record holds ours: ours fast-forwards to it.
    RemoteAhead,
    /// Both have operations the other lacks: a merge commit with both as parents.
    Merged { commit: ObjectId, record: Box<TaskRecord> },
    /// The two records share no history (the same task name spawned on two machines).
    Unrelated,
}

/// Joins the local record `local` and the remote's `remote` of `task`. A merge commit is
/// written (not referenced) when they diverged; its state is the fold of both logs, checked
/// like any record (`Err` says why it is corrupt).
pub fn join(
    repo: &gix::Repository,
    task: &str,
    local: ObjectId,
    remote: ObjectId,
    expect: &Expect,
) -> anyhow::Result<Result<Joined, String>> {
    if local == remote {
        return Ok(Ok(Joined::Same));
    }
    let base = crate::git::merge_base(repo, local, remote)?;
    if base == Some(remote) {
        return Ok(Ok(Joined::LocalAhead));
    }
    if base == Some(local) {
        return Ok(Ok(Joined::RemoteAhead));
    }
    if base.is_none() {
        return Ok(Ok(Joined::Unrelated));
    }
    let ops = match history_ops(repo, task, &[local, remote]) {
        Ok(ops) => ops,
        Err(why) => return Ok(Err(why)),
    };
    let Some(mut record) = fold(&ops) else {
        return Ok(Err("its operations never create the task".into()));
    };
    // The merge keeps the fields a newer git-agent wrote, from the local state.
    if let Ok(bytes) = crate::git::read_file_from_commit(repo, local, RECORD_FILE, MAX_RECORD_BYTES)
        && let Ok(local_state) = serde_json::from_slice::<TaskRecord>(&bytes)
    {
        for (key, value) in local_state.unknown {
            record.unknown.entry(key).or_insert(value);
        }
    }
    if let Err(why) = crate::state::check_folded(task, &record, expect) {
        return Ok(Err(why));
    }
    let message = format!("sync {task}: join two histories\n");
    let commit = write_record_commit(repo, &record, &[], vec![local, remote], &message)?;
    Ok(Ok(Joined::Merged { commit, record: Box::new(record) }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn record(name: &str) -> TaskRecord {
        serde_json::from_value(serde_json::json!({"version":2,"name":name,"branch":format!("refs/heads/agent/{name}"),
            "base_ref":"refs/heads/main","base_commit":"1111111111111111111111111111111111111111",
            "created_ms":5,"state":"active"}))
        .unwrap()
    }

    fn op(clock: u64, id: &str, change: Change) -> Operation {
        Operation { clock, id: id.into(), at_ms: 0, change }
    }

    #[test]
    fn operations_round_trip_and_unknown_ones_are_kept_but_skipped() {
        let ops = vec![
            op(1, "a", Change::Spawned { record: Box::new(record("db")) }),
            op(2, "b", Change::Done),
            op(3, "c", Change::AgentExited { exit: Some(3), command: vec![] }),
        ];
        let json = serde_json::to_string(&ops).unwrap();
        assert!(json.contains(r#""op":"done""#), "{json}");
        let back: Vec<Operation> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ops);
        let future: Operation = serde_json::from_str(r#"{"clock":4,"id":"d","op":"checkpoint-v9","what":1}"#).unwrap();
        assert_eq!(future.change, Change::Unknown);
        let mut with_future = ops.clone();
        with_future.push(future);
        assert_eq!(fold(&with_future).unwrap().state, TaskState::Done);
    }

    #[test]
    fn the_fold_is_the_same_in_any_order_and_counts_each_operation_once() {
        let ops = vec![
            op(1, "a", Change::Spawned { record: Box::new(record("db")) }),
            op(2, "x", Change::AgentExited { exit: Some(1), command: vec![] }),
            op(2, "y", Change::AgentExited { exit: Some(0), command: vec![] }),
            op(3, "z", Change::Done),
        ];
        let forward = fold(&ops).unwrap();
        let mut reversed = ops.clone();
        reversed.reverse();
        reversed.push(ops[1].clone());
        let backward = fold(&reversed).unwrap();
        assert_eq!(forward.agent_exit, Some(0), "ties go by id: y after x");
        assert_eq!(serde_json::to_value(&forward).unwrap(), serde_json::to_value(&backward).unwrap());
        assert_eq!(forward.clock, 3);
    }

    #[test]
    fn status_questions_checkpoints_and_costs_fold_into_the_state() {
        let entry =
            |model: &str, input: u64| CostEntry { model: model.into(), input, output: 10, ..CostEntry::default() };
        let ops = vec![
            op(1, "a", Change::Spawned { record: Box::new(record("db")) }),
            op(2, "b", Change::AgentStarted { command: vec!["claude".into()], how: "detached".into() }),
            op(3, "c", Change::Asked { question: "which table?".into() }),
            op(4, "d", Change::Answered { answer: "activity".into() }),
            op(5, "e", Change::Status { status: AgentStatus::Waiting, message: String::new() }),
            op(
                6,
                "f",
                Change::Checkpoint { checkpoint: Checkpoint { next: vec!["index".into()], ..Checkpoint::default() } },
            ),
            op(7, "g", Change::Cost { cost: entry("opus", 100) }),
            op(8, "h", Change::Cost { cost: entry("opus", 50) }),
            op(9, "i", Change::Cost { cost: entry("haiku", 7) }),
        ];
        let json = serde_json::to_string(&ops).unwrap();
        let back: Vec<Operation> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ops);
        let state = fold(&ops).unwrap();
        assert_eq!(state.status.as_ref().unwrap().status, AgentStatus::Waiting);
        assert_eq!(state.question.as_ref().unwrap().text, "which table?");
        assert_eq!(state.answer.as_ref().unwrap().text, "activity");
        assert_eq!(state.checkpoint.as_ref().unwrap().next, ["index"]);
        assert_eq!(state.cost.models["opus"].input, 150);
        assert_eq!(state.cost.models["haiku"].output, 10);
        assert_eq!(state.cost.total().input, 157);
    }

    #[test]
    fn a_done_that_crossed_an_integration_leaves_the_task_integrated() {
        let hex = "2222222222222222222222222222222222222222".to_owned();
        let spawned = op(1, "a", Change::Spawned { record: Box::new(record("db")) });
        let integrated = op(2, "b", Change::Integrated { commit: hex.clone(), tip: hex });
        for done in [op(2, "a0", Change::Done), op(2, "c", Change::Done)] {
            let state = fold(&[spawned.clone(), integrated.clone(), done]).unwrap();
            assert_eq!(state.state, TaskState::Integrated);
        }
    }

    mod interleavings {
        //! Property: whatever the interleaving of events on three machines and syncs between
        //! them, a full sync leaves one record everywhere, holding every operation ever written
        //! and every record commit ever made (nothing rewritten), whose cached state is the fold.

        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Step {
            Event { machine: usize, kind: u8 },
            Sync { local: usize, remote: usize },
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                (0..3usize, 0..5u8).prop_map(|(machine, kind)| Step::Event { machine, kind }),
                (0..3usize, 0..3usize).prop_map(|(local, remote)| Step::Sync { local, remote }),
            ]
        }

        fn change(kind: u8, n: usize) -> Change {
            let hex = format!("{:040x}", n + 1);
            match kind {
                0 => Change::Done,
                1 | 2 => Change::AgentExited { exit: Some(n as i32), command: vec![] },
                3 => Change::Integrated { commit: hex.clone(), tip: hex },
                _ => Change::Restacked { stack: Stack { onto: hex, ..Stack::default() } },
            }
        }

        fn state_at(repo: &gix::Repository, commit: ObjectId, expect: &Expect) -> TaskRecord {
            let bytes = crate::git::read_file_from_commit(repo, commit, RECORD_FILE, MAX_RECORD_BYTES).unwrap();
            crate::state::parse_record("db", &bytes, expect).unwrap()
        }

        /// What `git agent sync` does to one record between a machine and a remote.
        fn sync(repo: &gix::Repository, tips: &mut [ObjectId], local: usize, remote: usize, expect: &Expect) {
            match join(repo, "db", tips[local], tips[remote], expect).unwrap().unwrap() {
                Joined::Same => {}
                Joined::LocalAhead => tips[remote] = tips[local],
                Joined::RemoteAhead => tips[local] = tips[remote],
                Joined::Merged { commit, .. } => (tips[local], tips[remote]) = (commit, commit),
                Joined::Unrelated => panic!("one task, one history"),
            }
        }

        fn comparable(mut record: TaskRecord) -> serde_json::Value {
            record.worktree = Default::default();
            serde_json::to_value(record).unwrap()
        }

        fn check(steps: Vec<Step>, from_format_1: bool) {
            let dir = tempfile::tempdir().unwrap();
            let repo = gix::init_bare(dir.path()).unwrap();
            let expect = Expect::fixed("agent/", "/tmp/x");
            let first = if from_format_1 {
                let mut v1 = record("db");
                v1.version = 1;
                v1.worktree = "/tmp/x/db".into();
                let mut json = serde_json::to_value(&v1).unwrap();
                json["worktree"] = "/tmp/x/db".into();
                let bytes = serde_json::to_vec(&json).unwrap();
                crate::git::write_file_commit(&repo, RECORD_FILE, &bytes, None, "spawn db\n").unwrap()
            } else {
                spawn_commit(&repo, &record("db")).unwrap().0
            };
            let mut tips = [first; 3];
            let mut commits = vec![first];
            let mut written: HashSet<String> = HashSet::new();
            for (n, step) in steps.into_iter().enumerate() {
                match step {
                    Step::Event { machine, kind } => {
                        let current = state_at(&repo, tips[machine], &expect);
                        let (commit, state, _) = event_commit(&repo, tips[machine], &current, change(kind, n)).unwrap();
                        let ops = commit_ops(&repo, commit, &mut 0).unwrap().unwrap();
                        written.extend(ops.iter().map(|op| op.id.clone()));
                        let folded = fold(&history_ops(&repo, "db", &[commit]).unwrap()).unwrap();
                        assert_same_state(comparable(state), comparable(folded), "cached state after an event");
                        tips[machine] = commit;
                        commits.push(commit);
                    }
                    Step::Sync { local, remote } if local != remote => {
                        sync(&repo, &mut tips, local, remote, &expect);
                        commits.push(tips[local]);
                    }
                    Step::Sync { .. } => {}
                }
            }
            for (local, remote) in [(0, 1), (1, 2), (0, 1), (2, 0)] {
                sync(&repo, &mut tips, local, remote, &expect);
            }
            assert!(tips.iter().all(|tip| *tip == tips[0]), "one record everywhere: {tips:?}");
            let last = tips[0];
            let reachable: HashSet<ObjectId> =
                repo.rev_walk([last]).all().unwrap().map(|info| info.unwrap().id).collect();
            for commit in &commits {
                assert!(reachable.contains(commit), "rewritten: {commit}");
                let base = crate::git::merge_base(&repo, *commit, last).unwrap();
                if base != Some(*commit) {
                    let kept = dir.keep();
                    panic!("merge base of {commit} and {last} in {}: {base:?}", kept.display());
                }
            }
            let ops = history_ops(&repo, "db", &[last]).unwrap();
            let ids: HashSet<String> = ops.iter().map(|op| op.id.clone()).collect();
            assert!(written.is_subset(&ids), "lost operations: {:?}", written.difference(&ids).collect::<Vec<_>>());
            if last != first || !from_format_1 {
                let state = state_at(&repo, last, &expect);
                assert_same_state(comparable(state), comparable(fold(&ops).unwrap()), "cached state at the end");
            }
        }

        fn assert_same_state(a: serde_json::Value, b: serde_json::Value, what: &str) {
            assert_eq!(a, b, "{what}");
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
            #[test]
            fn any_interleaving_of_events_and_syncs_converges_without_loss(
                steps in proptest::collection::vec(step(), 0..24),
                from_format_1 in any::<bool>(),
            ) {
                check(steps, from_format_1);
            }
        }
    }

    #[test]
    fn operation_ids_are_unique_and_checked() {
        let ids: HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| check_operation(&op(1, id, Change::Done)).is_ok()));
        assert!(check_operation(&op(0, "a", Change::Done)).is_err());
        assert!(check_operation(&op(MAX_CLOCK + 1, "a", Change::Done)).is_err());
        assert!(check_operation(&op(1, "../x", Change::Done)).is_err());
        assert!(check_operation(&op(1, "", Change::Done)).is_err());
    }
}
