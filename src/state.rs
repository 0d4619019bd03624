//! The repository state contract: where git-agent keeps what it knows.
//!
//! | what        | where                                                         |
//! |-------------|---------------------------------------------------------------|
//! | settings    | git config `agent.*`                                          |
//! | task record | `refs/agent/tasks/<task>`: an operation log, see [`crate::oplog`] |
//! | task branch | `refs/heads/<agent.branchPrefix><task>` (default `agent/<task>`) |
//!
//! Readers bound what they read and tolerate unknown fields; a corrupt record is reported
//! for its task and never stops the others from working.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bstr::ByteSlice;
use serde::{Deserialize, Serialize};

/// Version of the record format this build writes (2: an operation log, see
/// [`crate::oplog`]). Readers accept this and older.
pub const RECORD_VERSION: u32 = 2;
pub use crate::layout::{RECORD_FILE, TASKS_PREFIX, record_ref};
pub use crate::oplog::Change;
/// Records larger than this are reported as corrupt rather than read.
pub const MAX_RECORD_BYTES: u64 = 1 << 20;

/// What a task is doing, as far as the orchestrator is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// Spawned; the agent is working (or has not started).
    Active,
    /// Marked done: ready for integration.
    Done,
    /// Merged into its target.
    Integrated,
    /// A state written by a newer git-agent.
    #[serde(other)]
    Unknown,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Active => "active",
            TaskState::Done => "done",
            TaskState::Integrated => "integrated",
            TaskState::Unknown => "unknown",
        }
    }
}

/// `task.json`: the task's state (in format 2 the fold of its operations). Field names are
/// part of the documented format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct TaskRecord {
    pub version: u32,
    pub name: String,
    /// Full ref name of the task branch, e.g. `refs/heads/agent/db`.
    pub branch: String,
    /// Full ref name of the base when it was a branch (the integration target), else null.
    pub base_ref: Option<String>,
    /// The commit the branch started at (hex).
    pub base_commit: String,
    /// Absolute path of the task's worktree on this machine. A machine-local fact: format 1
    /// stored it, format 2 does not (readers set `<worktree root>/<task>`; a worktree moved
    /// with `git worktree move` is found through git's registrations).
    #[serde(default, skip_serializing)]
    pub worktree: PathBuf,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default)]
    pub brief: String,
    #[serde(default)]
    pub acceptance: Vec<String>,
    /// The agent command, as argument vector (empty: none).
    #[serde(default)]
    pub command: Vec<String>,
    /// Creation time, milliseconds since the Unix epoch; orders tasks "in spawn order".
    pub created_ms: u64,
    pub state: TaskState,
    /// Exit status of the last agent run, if the agent ran and exited.
    #[serde(default)]
    pub agent_exit: Option<i32>,
    /// The commit that integrated this task (set by integration).
    #[serde(default)]
    pub integrated_commit: Option<String>,
    /// The task branch's tip that integration took (hex): later commits are new work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_tip: Option<String>,
    /// Set when the task is kept on top of its dependencies (spawned stacked, or restacked):
    /// where its branch was put. Absent for tasks spawned from their base (`--from-base`,
    /// `agent.stack=false`, no dependencies) and in records older than stacking; older
    /// readers keep it as an unknown field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Stack>,
    /// What the task's agent says it is doing, and since when (`git agent report`, `ask`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusNow>,
    /// The agent's last question to the orchestrator, and the orchestrator's answer to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Said>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Said>,
    /// The latest checkpoint summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// Tokens and money spent on the task, per model (the sum of its cost operations).
    #[serde(default, skip_serializing_if = "Cost::is_empty")]
    pub cost: Cost,
    /// Pathspecs the task must not change (`spawn --protect`): the tests written for it in
    /// test-first delegation, say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protect: Vec<String>,
    /// Pathspecs of the shared contracts (a plan's `contracts`, `spawn --contract`): committed
    /// on the base before agents start, read-only for every task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<String>,
    /// Constraints the agent was given (`spawn --constraint`); "no new dependencies" is checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// The plan review gate (`spawn --gate`, `agent.gate`): absent when the task was not gated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// The kind of work (`spawn --kind`, `kind` in plans): lint, docs, architecture, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Set on the variants `spawn --variants K` makes: which group and which of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// The largest Lamport clock of the operations folded into this state (format 2).
    #[serde(default)]
    pub clock: u64,
    /// Fields written by newer versions, kept as they are when this version rewrites a record.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

/// Where a gated task's plan is (`task.json` field `gate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GateState {
    /// Waiting for the agent's implementation plan (`git agent propose`), or rejected.
    Planned,
    /// A plan was proposed and waits for the orchestrator (`git agent approve` / `reject`).
    Proposed,
    /// The plan was approved: the agent may implement it.
    Approved,
    /// A state written by a newer git-agent.
    #[serde(other)]
    Unknown,
}

impl GateState {
    pub fn as_str(self) -> &'static str {
        match self {
            GateState::Planned => "planned",
            GateState::Proposed => "proposed",
            GateState::Approved => "approved",
            GateState::Unknown => "unknown",
        }
    }
}

/// The plan review gate of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gate {
    pub state: GateState,
    /// The implementation plan last proposed (empty: none yet).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plan: String,
    /// The id of the operation that proposed it: an approval or rejection names the plan it
    /// judged, so one that crossed a newer proposal (another machine) does not judge that.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proposal: String,
    /// Why the last plan was rejected (empty: it was not).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When the gate last changed, ms since the epoch.
    #[serde(default)]
    pub at_ms: u64,
    /// Fields written by newer versions, kept.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

impl Gate {
    pub fn new() -> Gate {
        Gate {
            state: GateState::Planned,
            plan: String::new(),
            proposal: String::new(),
            reason: String::new(),
            at_ms: 0,
            unknown: Default::default(),
        }
    }
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new()
    }
}

impl TaskRecord {
    /// Gated and not approved: the agent should plan, not implement, and integrate refuses it.
    pub fn awaits_approval(&self) -> bool {
        self.gate.as_ref().is_some_and(|gate| gate.state != GateState::Approved)
    }

    /// Every pathspec the task may not change: its protected paths and the contracts.
    pub fn guarded_paths(&self) -> impl Iterator<Item = &String> {
        self.protect.iter().chain(&self.contracts)
    }
}

/// Where a stacked task's branch was put, and on what (`task.json` field `stack`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Stack {
    /// The commit the task's own commits start from (hex): the base when no dependency had
    /// commits of its own, else a dependency's tip, or the merge of several dependencies' tips.
    /// Restack replays the commits after it.
    pub onto: String,
    /// Each dependency whose work is in `onto`, with its tip then (hex), by task name.
    #[serde(default)]
    pub tips: BTreeMap<String, String>,
    /// Fields written by newer versions, kept.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

/// A variant's place in its group (`task.json` field `variant`): task `<of>.<index>` of the
/// tasks `spawn <of> --variants K` made, all with one brief, to be compared and converged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Variant {
    /// The group's name (no task of that name exists).
    pub of: String,
    /// 1-based.
    pub index: u32,
    /// Fields written by newer versions, kept.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

/// What an agent says it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AgentStatus {
    Working,
    /// Waiting for input (its turn ended, or it asks for permission).
    Waiting,
    /// Cannot go on without the orchestrator (a question, see `question`).
    Blocked,
    /// A status written by a newer git-agent.
    #[serde(other)]
    Unknown,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Working => "working",
            AgentStatus::Waiting => "waiting",
            AgentStatus::Blocked => "blocked",
            AgentStatus::Unknown => "unknown",
        }
    }
}

/// A task's current status (`task.json` field `status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusNow {
    pub status: AgentStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When it was reported, ms since the epoch (0: unknown).
    #[serde(default)]
    pub at_ms: u64,
}

/// Something said (a question, an answer), and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Said {
    pub text: String,
    #[serde(default)]
    pub at_ms: u64,
}

/// A checkpoint summary of an agent's session (`task.json` field `checkpoint`, and the
/// `checkpoint` operation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Checkpoint {
    #[serde(default)]
    pub completed: Vec<String>,
    #[serde(default)]
    pub in_progress: Vec<String>,
    #[serde(default)]
    pub next: Vec<String>,
    #[serde(default)]
    pub decisions: Vec<String>,
    /// Files modified on the branch and in the worktree when it was taken.
    #[serde(default)]
    pub files: Vec<String>,
    /// Free text (`-F FILE`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// When it was taken, ms since the epoch (set from the operation).
    #[serde(default)]
    pub at_ms: u64,
}

/// One cost operation: what one model spent (tokens; money if known).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostEntry {
    pub model: String,
    #[serde(default)]
    pub input: u64,
    #[serde(default)]
    pub output: u64,
    #[serde(default)]
    pub cache_read: u64,
    /// Money, when the agent reported it; else the cost report prices the tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    /// Where it came from (`claude:<session>`, `codex:<session>`, `manual`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// A task's cost so far, per model (`task.json` field `cost`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cost {
    #[serde(default)]
    pub models: BTreeMap<String, CostEntry>,
}

impl Cost {
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    pub fn add(&mut self, entry: &CostEntry) {
        let sum = self
            .models
            .entry(entry.model.clone())
            .or_insert_with(|| CostEntry { model: entry.model.clone(), ..CostEntry::default() });
        sum.input = sum.input.saturating_add(entry.input);
        sum.output = sum.output.saturating_add(entry.output);
        sum.cache_read = sum.cache_read.saturating_add(entry.cache_read);
        sum.usd = match (sum.usd, entry.usd) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    /// Every model's spending together (model "").
    pub fn total(&self) -> CostEntry {
        let mut total = Cost::default();
        for entry in self.models.values() {
            total.add(&CostEntry { model: String::new(), ..entry.clone() });
        }
        total.models.remove("").unwrap_or_default()
    }
}

/// A task as found in the repository: its record, or why the record could not be read.
#[derive(Debug)]
pub struct TaskEntry {
    pub name: String,
    /// The record commit the ref pointed to when read; the expected value for compare-and-swap.
    pub record_commit: gix::ObjectId,
    pub record: Result<TaskRecord, String>,
}

/// What a record must agree with to be acted on: the repository's layout as it is now.
/// Records are untrusted input (hand-edited, fetched from a remote, written by another
/// version): a record that names another branch than its task's, a worktree outside the
/// worktree root, or ids that are not object ids is corrupt, and no command acts on it.
pub struct Expect {
    branch_prefix: String,
    worktree_root: Option<PathBuf>,
    main_worktree: Option<PathBuf>,
    /// Registered worktree paths (normalised), read on first need: a worktree moved with
    /// `git worktree move`, or a root changed after spawning, is still the task's.
    registered: std::cell::OnceCell<Vec<PathBuf>>,
    common_dir: PathBuf,
}

impl Expect {
    pub fn of(repo: &gix::Repository) -> anyhow::Result<Expect> {
        let settings = crate::settings::Settings::read(repo)?;
        let main = crate::git::main_repo(repo)?;
        Ok(Expect {
            branch_prefix: settings.branch_prefix.clone(),
            worktree_root: crate::layout::worktree_root_of_main(&main, settings.worktree_root.as_deref()).ok(),
            main_worktree: main.workdir().map(crate::git::normalise_path),
            registered: Default::default(),
            common_dir: repo.common_dir().to_owned(),
        })
    }

    /// An expectation without a repository, for unit tests.
    #[cfg(test)]
    pub(crate) fn fixed(branch_prefix: &str, worktree_root: &str) -> Expect {
        let registered = std::cell::OnceCell::new();
        let _ = registered.set(Vec::new());
        Expect {
            branch_prefix: branch_prefix.into(),
            worktree_root: Some(worktree_root.into()),
            main_worktree: Some("/repo/main".into()),
            registered,
            common_dir: "/nonexistent".into(),
        }
    }

    /// The branch a task's record must name.
    pub fn branch(&self, task: &str) -> String {
        format!("refs/heads/{}{task}", self.branch_prefix)
    }

    /// Where a task's worktree is on this machine unless git's registrations say otherwise:
    /// `<worktree root>/<task>` (empty when there is no worktree root).
    pub fn local_worktree(&self, task: &str) -> PathBuf {
        self.worktree_root.as_ref().map(|root| root.join(task)).unwrap_or_default()
    }

    fn is_registered(&self, path: &Path) -> bool {
        let registered = self.registered.get_or_init(|| {
            let Ok(repo) = gix::open(&self.common_dir) else { return Vec::new() };
            let Ok(worktrees) = repo.worktrees() else { return Vec::new() };
            worktrees.iter().filter_map(|proxy| proxy.base().ok()).map(|p| crate::git::normalise_path(&p)).collect()
        });
        registered.iter().any(|p| p == path)
    }
}

/// Most entries any list field of a record may have.
const MAX_LIST_ENTRIES: usize = 1000;

/// Parses a record's bytes and checks every field a command could act on; the error says
/// what is wrong, for the user.
pub fn parse_record(task: &str, bytes: &[u8], expect: &Expect) -> Result<TaskRecord, String> {
    let record: TaskRecord = serde_json::from_slice(bytes).map_err(|err| format!("task.json is not valid: {err}"))?;
    if record.version > RECORD_VERSION || record.version == 0 {
        return Err(format!(
            "task.json has format version {}, this git-agent reads version {RECORD_VERSION}: upgrade git-agent",
            record.version
        ));
    }
    check_folded(task, &record, expect)?;
    let mut record = record;
    if record.version >= 2 {
        record.worktree = expect.local_worktree(task);
    }
    Ok(record)
}

/// Checks a record's state (read, or folded from operations) for task `task`.
pub fn check_folded(task: &str, record: &TaskRecord, expect: &Expect) -> Result<(), String> {
    if record.name != task {
        return Err(format!("task.json names task {:?}, but is stored as {task:?}", record.name));
    }
    validate(record, expect)
}

fn validate(record: &TaskRecord, expect: &Expect) -> Result<(), String> {
    let name = &record.name;
    crate::names::validate_task_name(name).map_err(|err| err.message)?;
    let branch = expect.branch(name);
    if record.branch != branch {
        return Err(format!(
            "it names branch {:?}, but task {name:?} can only have {branch:?} (agent.branchPrefix is {:?})",
            record.branch, expect.branch_prefix
        ));
    }
    if let Some(base_ref) = &record.base_ref
        && (!base_ref.starts_with("refs/heads/") || gix::refs::FullName::try_from(base_ref.as_str()).is_err())
    {
        return Err(format!("its base_ref {base_ref:?} is not a local branch"));
    }
    if record.clock > crate::oplog::MAX_CLOCK {
        return Err(format!("its clock {} is out of range", record.clock));
    }
    object_id("base_commit", &record.base_commit)?;
    if let Some(commit) = &record.integrated_commit {
        object_id("integrated_commit", commit)?;
    }
    if let Some(stack) = &record.stack {
        object_id("stack.onto", &stack.onto)?;
        if stack.tips.len() > MAX_LIST_ENTRIES {
            return Err(format!("its stack.tips has {} entries, more than {MAX_LIST_ENTRIES}", stack.tips.len()));
        }
        for (dep, tip) in &stack.tips {
            crate::names::validate_task_name(dep).map_err(|err| format!("its stack.tips {}", err.message))?;
            object_id("stack.tips", tip)?;
        }
    }
    // Format 1 stored the worktree; format 2 leaves it to each machine.
    if record.version < 2 {
        validate_worktree(record, expect)?;
    }
    for dep in &record.after {
        crate::names::validate_task_name(dep).map_err(|err| format!("its dependency {}", err.message))?;
    }
    for (field, list) in [
        ("scope", &record.scope),
        ("acceptance", &record.acceptance),
        ("command", &record.command),
        ("protect", &record.protect),
        ("contracts", &record.contracts),
        ("constraints", &record.constraints),
    ] {
        if list.len() > MAX_LIST_ENTRIES {
            return Err(format!("its {field} has {} entries, more than {MAX_LIST_ENTRIES}", list.len()));
        }
        if list.iter().any(|entry| entry.contains('\0')) {
            return Err(format!("its {field} contains a NUL character"));
        }
    }
    if record.brief.contains('\0') {
        return Err("its brief contains a NUL character".into());
    }
    validate_reports(record)
}

/// The fields agents and the orchestrator report (status, questions, checkpoints, cost): text
/// without NUL, lists of at most [`MAX_LIST_ENTRIES`].
fn validate_reports(record: &TaskRecord) -> Result<(), String> {
    let mut texts: Vec<(&str, &str)> = Vec::new();
    if let Some(status) = &record.status {
        texts.push(("status message", &status.message));
    }
    for (field, said) in [("question", &record.question), ("answer", &record.answer)] {
        if let Some(said) = said {
            texts.push((field, &said.text));
        }
    }
    if let Some(kind) = &record.kind {
        texts.push(("kind", kind));
    }
    if let Some(gate) = &record.gate {
        texts.push(("gate plan", &gate.plan));
        texts.push(("gate reason", &gate.reason));
    }
    if let Some(checkpoint) = &record.checkpoint {
        texts.push(("checkpoint notes", &checkpoint.notes));
        let lists = [
            ("checkpoint completed", &checkpoint.completed),
            ("checkpoint in_progress", &checkpoint.in_progress),
            ("checkpoint next", &checkpoint.next),
            ("checkpoint decisions", &checkpoint.decisions),
            ("checkpoint files", &checkpoint.files),
        ];
        for (field, list) in lists {
            if list.len() > MAX_LIST_ENTRIES {
                return Err(format!("its {field} has {} entries, more than {MAX_LIST_ENTRIES}", list.len()));
            }
            texts.extend(list.iter().map(|item| (field, item.as_str())));
        }
    }
    if record.cost.models.len() > MAX_LIST_ENTRIES {
        return Err(format!("its cost has {} models, more than {MAX_LIST_ENTRIES}", record.cost.models.len()));
    }
    texts.extend(record.cost.models.keys().map(|model| ("cost model", model.as_str())));
    match texts.iter().find(|(_, text)| text.contains('\0')) {
        Some((field, _)) => Err(format!("its {field} contains a NUL character")),
        None => Ok(()),
    }
}

fn object_id(field: &str, hex: &str) -> Result<gix::ObjectId, String> {
    if hex.len() != 40 {
        return Err(format!("its {field} {hex:?} is not an object id"));
    }
    gix::ObjectId::from_hex(hex.as_bytes()).map_err(|_| format!("its {field} {hex:?} is not an object id"))
}

/// The worktree must be `<root>/<task>` (or registered with git at its recorded path, after a
/// `git worktree move` or a change of the root), absolute and free of `..`.
fn validate_worktree(record: &TaskRecord, expect: &Expect) -> Result<(), String> {
    let path = &record.worktree;
    let shown = path.display();
    let plain = path.is_absolute()
        && path.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::RootDir))
        && path.to_str().is_some_and(|s| !s.contains('\0'));
    if !plain {
        return Err(format!("its worktree {shown:?} is not a plain absolute path"));
    }
    if path.file_name().and_then(|n| n.to_str()) != Some(record.name.as_str()) {
        return Err(format!("its worktree {shown:?} is not named after the task"));
    }
    let normalised = crate::git::normalise_path(path);
    if expect.main_worktree.as_ref().is_some_and(|main| main.starts_with(&normalised) || normalised.starts_with(main)) {
        return Err(format!("its worktree {shown:?} is (or is inside) the main worktree"));
    }
    let under_root = expect.worktree_root.as_ref().is_some_and(|root| normalised.parent() == Some(root.as_path()));
    if !under_root && !expect.is_registered(&normalised) {
        return Err(format!(
            "its worktree {shown:?} is neither in the worktree root {} nor a registered worktree",
            expect.worktree_root.as_ref().map_or("(none)".into(), |r| r.display().to_string())
        ));
    }
    Ok(())
}

impl TaskRecord {
    /// The record as stored: pretty JSON with a trailing newline, so `git show` reads well.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("records serialise");
        bytes.push(b'\n');
        bytes
    }

    /// The commit the task's own work starts from: where it was stacked, else its base.
    pub fn start_commit(&self) -> Option<gix::ObjectId> {
        let hex = self.stack.as_ref().map_or(&self.base_commit, |stack| &stack.onto);
        gix::ObjectId::from_hex(hex.as_bytes()).ok()
    }

    /// Where the task was stacked and the dependency tips recorded then: commits it holds
    /// that are its dependencies' work (the merge of several included), even after a
    /// dependency's branch moved or was deleted.
    pub fn stacked_tips(&self) -> Vec<gix::ObjectId> {
        self.stack
            .iter()
            .flat_map(|stack| std::iter::once(&stack.onto).chain(stack.tips.values()))
            .filter_map(|hex| gix::ObjectId::from_hex(hex.as_bytes()).ok())
            .collect()
    }

    /// The branch name without `refs/heads/`.
    pub fn short_branch(&self) -> &str {
        self.branch.strip_prefix("refs/heads/").unwrap_or(&self.branch)
    }
}

/// Splits a configured command line (`agent.command`) into arguments without a shell:
/// white space separates, single and double quotes group, backslash escapes outside single quotes.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => current.push(chars.next().ok_or("unterminated double quote")?),
                        Some(c) => current.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                current.push(chars.next().ok_or("trailing backslash")?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        args.push(current);
    }
    Ok(args)
}

/// Reads every task record. A record that cannot be read is returned with the reason, so
/// one corrupt record never hides the others.
pub fn read_tasks(repo: &gix::Repository) -> anyhow::Result<Vec<TaskEntry>> {
    let expect = Expect::of(repo)?;
    let mut entries = Vec::new();
    let platform = repo.references()?;
    for reference in platform.prefixed(TASKS_PREFIX)? {
        let reference = reference.map_err(|err| anyhow::anyhow!("cannot list task records: {err}"))?;
        let name = reference.name().as_bstr().to_str_lossy().trim_start_matches(TASKS_PREFIX).to_owned();
        entries.push(read_entry(repo, &name, reference.target().try_id().map(ToOwned::to_owned), &expect));
    }
    entries.sort_by_key(|entry| (entry.record.as_ref().map_or(u64::MAX, |r| r.created_ms), entry.name.clone()));
    Ok(entries)
}

/// Reads one task's record; `Ok(None)` if there is no such task.
pub fn find_task(repo: &gix::Repository, name: &str) -> anyhow::Result<Option<TaskEntry>> {
    let Some(reference) = repo.try_find_reference(record_ref(name).as_str())? else {
        return Ok(None);
    };
    let expect = Expect::of(repo)?;
    Ok(Some(read_entry(repo, name, reference.target().try_id().map(ToOwned::to_owned), &expect)))
}

fn read_entry(repo: &gix::Repository, name: &str, target: Option<gix::ObjectId>, expect: &Expect) -> TaskEntry {
    let Some(record_commit) = target else {
        return TaskEntry {
            name: name.to_owned(),
            record_commit: gix::ObjectId::null(repo.object_hash()),
            record: Err("the record ref is symbolic".into()),
        };
    };
    let record = crate::git::read_file_from_commit(repo, record_commit, RECORD_FILE, MAX_RECORD_BYTES)
        .and_then(|bytes| parse_record(name, &bytes, expect));
    TaskEntry { name: name.to_owned(), record_commit, record }
}

/// Writes the first record of a new task (its `spawned` operation). Fails (exit code 4) if
/// the task exists already.
pub fn create_record(repo: &gix::Repository, record: &TaskRecord) -> anyhow::Result<gix::ObjectId> {
    let (commit, _) = crate::oplog::spawn_commit(repo, record)?;
    crate::git::create_refs(
        repo,
        &[(&record_ref(&record.name), commit)],
        &format!("git-agent: spawn {}", record.name),
    )?;
    Ok(commit)
}

/// How often [`update_record`] re-reads and retries when another writer got in first.
const UPDATE_ATTEMPTS: usize = 16;

/// Appends an event to the task's record: reads the current record, lets `change` decide the
/// operation (or refuse, with an error), and writes it by compare-and-swap. A concurrent
/// update of the same record (an agent running `git agent done` while its spawn records its
/// exit) is not an error: the change is decided again on the newer record.
pub fn update_record(
    repo: &gix::Repository,
    task: &str,
    mut change: impl FnMut(&TaskRecord) -> anyhow::Result<Change>,
) -> anyhow::Result<(gix::ObjectId, TaskRecord)> {
    let written = update_record_many(repo, task, |current, _| Ok(vec![change(current)?]))?;
    Ok(written.expect("one change is written"))
}

/// [`update_record`] for several operations in one record commit: `changes` sees the current
/// record and its commit (to read the log with [`crate::oplog::history_ops`]) and decides the
/// operations; none writes nothing (`Ok(None)`).
pub fn update_record_many(
    repo: &gix::Repository,
    task: &str,
    mut changes: impl FnMut(&TaskRecord, gix::ObjectId) -> anyhow::Result<Vec<Change>>,
) -> anyhow::Result<Option<(gix::ObjectId, TaskRecord)>> {
    let mut last_error = None;
    for _ in 0..UPDATE_ATTEMPTS {
        let Some(entry) = find_task(repo, task)? else {
            return Err(crate::error::race(format!("task {task:?} was removed meanwhile")).into());
        };
        let record = entry
            .record
            .map_err(|why| crate::error::refused(format!("the record of task {task:?} is corrupt: {why}")))?;
        let operations = changes(&record, entry.record_commit)?;
        if operations.is_empty() {
            return Ok(None);
        }
        let (commit, updated, message) = crate::oplog::events_commit(repo, entry.record_commit, &record, operations)?;
        let moved = crate::git::update_ref(
            repo,
            &record_ref(task),
            entry.record_commit,
            commit,
            &format!("git-agent: {}", message.trim()),
        );
        match moved {
            Ok(()) => return Ok(Some((commit, updated))),
            Err(err) if crate::error::exit_of(&err) == crate::error::Exit::Race => last_error = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_error.expect("at least one attempt").context(format!("the record of task {task:?} kept changing")))
}

/// Writes an event's record commit on top of `previous` (whose state is `record`) without
/// moving the record ref, for a caller that moves it in a larger transaction; returns the
/// commit, the state after the event and the commit's message.
pub fn event_commit(
    repo: &gix::Repository,
    previous: gix::ObjectId,
    record: &TaskRecord,
    change: Change,
) -> anyhow::Result<(gix::ObjectId, TaskRecord, String)> {
    crate::oplog::event_commit(repo, previous, record, change)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_command_lines_like_a_shell_would_without_running_one() {
        assert_eq!(split_command_line("claude -p '{brief}'").unwrap(), ["claude", "-p", "{brief}"]);
        assert_eq!(split_command_line(r#"a "b c" d\ e ''"#).unwrap(), ["a", "b c", "d e", ""]);
        assert_eq!(split_command_line("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_command_line("echo $(rm -rf /); x").unwrap(), ["echo", "$(rm", "-rf", "/);", "x"]);
        assert!(split_command_line("'open").is_err());
    }

    #[test]
    fn record_round_trips_and_keeps_unknown_fields() {
        let json = br#"{"version":1,"name":"db","branch":"refs/heads/agent/db","base_ref":"refs/heads/main",
            "base_commit":"0000000000000000000000000000000000000000","worktree":"/tmp/x/db","created_ms":5,
            "state":"someday","future_field":{"a":1}}"#;
        let record = parse_record("db", json, &Expect::fixed("agent/", "/tmp/x")).unwrap();
        assert_eq!(record.state, TaskState::Unknown);
        let again: serde_json::Value = serde_json::from_slice(&record.to_bytes()).unwrap();
        assert_eq!(again["future_field"]["a"], 1);
    }

    #[test]
    fn a_stack_round_trips_and_keeps_its_unknown_fields() {
        let json = br#"{"version":1,"name":"api","branch":"refs/heads/agent/api","base_ref":"refs/heads/main",
            "base_commit":"1111111111111111111111111111111111111111","worktree":"/tmp/x/api","created_ms":5,
            "state":"active","after":["db"],"stack":{"onto":"2222222222222222222222222222222222222222",
            "tips":{"db":"2222222222222222222222222222222222222222"},"later":true}}"#;
        let record = parse_record("api", json, &Expect::fixed("agent/", "/tmp/x")).unwrap();
        let onto = gix::ObjectId::from_hex(b"2222222222222222222222222222222222222222").unwrap();
        assert_eq!(record.start_commit(), Some(onto), "its work starts where it was stacked");
        assert_eq!(record.stacked_tips(), [onto, onto]);
        let again: serde_json::Value = serde_json::from_slice(&record.to_bytes()).unwrap();
        assert_eq!(again["stack"]["later"], true);
        // Without a stack, the work starts at the base, and nothing is written.
        let plain = parse_record("db", &with("name", "db".into()), &Expect::fixed("agent/", "/tmp/x")).unwrap();
        assert_eq!(plain.start_commit(), gix::ObjectId::from_hex(b"1111111111111111111111111111111111111111").ok());
        assert!(!String::from_utf8(plain.to_bytes()).unwrap().contains("stack"));
    }

    #[test]
    fn rejects_records_from_the_future_or_for_another_task() {
        let expect = Expect::fixed("agent/", "/tmp/x");
        let future = br#"{"version":99,"name":"db","branch":"b","base_ref":null,"base_commit":"0","worktree":"/","created_ms":0,"state":"active"}"#;
        assert!(parse_record("db", future, &expect).unwrap_err().contains("version 99"));
        let other = br#"{"version":1,"name":"x","branch":"b","base_ref":null,"base_commit":"0","worktree":"/","created_ms":0,"state":"active"}"#;
        assert!(parse_record("db", other, &expect).unwrap_err().contains("stored as"));
        assert!(parse_record("db", b"{", &expect).is_err());
    }

    /// A valid record with one field replaced.
    fn with(field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut record = serde_json::json!({"version":1,"name":"db","branch":"refs/heads/agent/db",
            "base_ref":"refs/heads/main","base_commit":"1111111111111111111111111111111111111111",
            "worktree":"/tmp/x/db","created_ms":5,"state":"active"});
        record[field] = value;
        serde_json::to_vec(&record).unwrap()
    }

    #[test]
    fn a_record_is_corrupt_when_a_field_could_make_a_command_act_elsewhere() {
        let expect = Expect::fixed("agent/", "/tmp/x");
        assert!(parse_record("db", &with("name", "db".into()), &expect).is_ok());
        let corrupt = |field: &str, value: serde_json::Value, why: &str| {
            let err = parse_record("db", &with(field, value.clone()), &expect).unwrap_err();
            assert!(err.contains(why), "{field} = {value}: {err}");
        };
        corrupt("branch", "refs/heads/main".into(), "can only have \"refs/heads/agent/db\"");
        corrupt("branch", "refs/heads/agent/other".into(), "can only have");
        corrupt("base_commit", "nothex".into(), "not an object id");
        corrupt("base_commit", "11111".into(), "not an object id");
        corrupt("integrated_commit", "HEAD".into(), "not an object id");
        corrupt("base_ref", "main; rm -rf /".into(), "not a local branch");
        corrupt("worktree", "/".into(), "not named after the task");
        corrupt("worktree", "/tmp/x/other".into(), "not named after the task");
        corrupt("worktree", "/tmp/x/../y/db".into(), "not a plain absolute path");
        corrupt("worktree", "db".into(), "not a plain absolute path");
        corrupt("worktree", "/elsewhere/db".into(), "neither in the worktree root");
        corrupt("worktree", "/repo/main/db".into(), "inside) the main worktree");
        corrupt("worktree", "/tmp/x/d\u{0}b".into(), "not a plain absolute path");
        corrupt("after", serde_json::json!(["../x"]), "dependency");
        corrupt("brief", "a\u{0}b".into(), "NUL");
        corrupt("status", serde_json::json!({"status": "working", "message": "a\u{0}"}), "status message");
        corrupt("checkpoint", serde_json::json!({"next": ["x\u{0}"]}), "checkpoint next");
        corrupt("cost", serde_json::json!({"models": {"a\u{0}": {"model": "a"}}}), "cost model");
        corrupt("command", serde_json::json!(["sh", "-c\u{0}"]), "NUL");
        corrupt("scope", serde_json::Value::Array(vec!["x".into(); 1001]), "more than 1000");
        corrupt("stack", serde_json::json!({"onto": "HEAD"}), "not an object id");
        corrupt(
            "stack",
            serde_json::json!({"onto": "1111111111111111111111111111111111111111", "tips": {"../x": "1111111111111111111111111111111111111111"}}),
            "stack.tips",
        );
        corrupt(
            "stack",
            serde_json::json!({"onto": "1111111111111111111111111111111111111111", "tips": {"db": "main"}}),
            "not an object id",
        );
    }

    #[test]
    fn deeply_nested_unknown_fields_are_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let json =
            String::from_utf8(with("name", "db".into())).unwrap().replacen('{', &format!("{{\"deep\":{deep},"), 1);
        assert!(parse_record("db", json.as_bytes(), &Expect::fixed("agent/", "/tmp/x")).is_err());
    }
}
