//! The plan review gate: a gated task's agent proposes its implementation plan (`git agent
//! propose`) before it implements anything; the orchestrator reads it (`git agent show`) and
//! approves or rejects it. Reviewing the plan is the cheapest point to catch misalignment.
//!
//! ```text
//!   planned --propose--> proposed --approve--> approved
//!      ^                    |                     |
//!      +------reject--------+-------reject--------+      (propose again from any state)
//! ```
//!
//! An approval or rejection names the proposal it judged (the id of its operation), so one
//! that crossed a newer proposal, on another machine or between `show` and `approve`, judges
//! nothing: the fold ignores it, and this module refuses it up front.

use serde::Serialize;

use crate::error::{bad_input, race, refused};
use crate::state::{self, Change, GateState, TaskRecord};

/// Longest plan accepted: a plan is a page, not a design document (those go in the worktree).
pub const MAX_PLAN: usize = 64 * 1024;
/// Longest rejection reason.
pub const MAX_REASON: usize = crate::ops::status::MAX_TEXT;

/// What a gate command did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Judged {
    pub version: u32,
    pub task: String,
    /// The gate's state before and after.
    pub old: GateState,
    pub state: GateState,
    /// The proposal the command wrote or judged (its operation id).
    pub proposal: String,
    /// The plan proposed or judged.
    pub plan: String,
    /// The reason of a rejection (empty otherwise).
    pub reason: String,
}

/// `git agent propose`: records `plan` as the task's proposed implementation plan.
pub fn propose(repo: &gix::Repository, task: &str, plan: &str) -> anyhow::Result<Judged> {
    let plan = plan.trim_end();
    if plan.trim().is_empty() {
        return Err(bad_input("the plan is empty").hint("write the plan with -m TEXT, or -F FILE").into());
    }
    check_len("the plan", plan, MAX_PLAN)?;
    let mut old = GateState::Planned;
    let (_, record) = state::update_record(repo, task, |current| {
        old = gated(current)?.state;
        not_integrated(current)?;
        Ok(Change::Proposed { plan: plan.to_owned() })
    })?;
    Ok(judged(&record, old, String::new()))
}

/// `git agent approve`: approves the plan proposed last (which must be `expected`, when given:
/// the one the orchestrator read).
pub fn approve(repo: &gix::Repository, task: &str, expected: Option<&str>) -> anyhow::Result<Judged> {
    judge(repo, task, expected, None)
}

/// `git agent reject`: sends the plan back, saying why; the agent proposes again.
pub fn reject(repo: &gix::Repository, task: &str, expected: Option<&str>, reason: &str) -> anyhow::Result<Judged> {
    if reason.trim().is_empty() {
        return Err(bad_input("the reason is empty").hint("say what the agent should change: --reason TEXT").into());
    }
    check_len("the reason", reason, MAX_REASON)?;
    judge(repo, task, expected, Some(reason))
}

fn judge(
    repo: &gix::Repository,
    task: &str,
    expected: Option<&str>,
    rejection: Option<&str>,
) -> anyhow::Result<Judged> {
    if let Some(expected) = expected.filter(|e| e.len() < 7) {
        return Err(bad_input(format!("--proposal {expected:?} is too short: give at least 7 characters of the id"))
            .hint(format!("`git agent show {task}` prints the proposal's id"))
            .into());
    }
    let mut old = GateState::Planned;
    let (_, record) = state::update_record(repo, task, |current| {
        let gate = gated(current)?;
        not_integrated(current)?;
        old = gate.state;
        if gate.proposal.is_empty() {
            return Err(refused(format!("task {task:?} has not proposed a plan yet"))
                .hint("its agent proposes one with `git agent propose`")
                .into());
        }
        if let Some(expected) = expected
            && !gate.proposal.starts_with(expected)
        {
            return Err(race(format!(
                "task {task:?}'s plan is now proposal {}, not {expected}: it was proposed again",
                short(&gate.proposal)
            ))
            .hint(format!("read it with `git agent show {task}` and judge that one"))
            .into());
        }
        match (gate.state, rejection) {
            (GateState::Approved, None) => Err(refused(format!("task {task:?}'s plan is approved already")).into()),
            (GateState::Planned, _) => {
                Err(refused(format!("task {task:?}'s last plan was rejected; it has not proposed a new one")).into())
            }
            (_, None) => Ok(Change::Approved { proposal: gate.proposal.clone() }),
            (_, Some(reason)) => {
                Ok(Change::Rejected { proposal: gate.proposal.clone(), reason: reason.trim_end().to_owned() })
            }
        }
    })?;
    Ok(judged(&record, old, rejection.unwrap_or_default().trim_end().to_owned()))
}

fn gated(record: &TaskRecord) -> anyhow::Result<&state::Gate> {
    record.gate.as_ref().ok_or_else(|| {
        refused(format!("task {:?} is not gated: it needs no plan review", record.name))
            .hint("spawn tasks with --gate (or git config agent.gate=true) to review their plans first")
            .into()
    })
}

/// An integrated task's plan is history: it can no longer be proposed, approved or rejected.
fn not_integrated(record: &TaskRecord) -> anyhow::Result<()> {
    if record.state == state::TaskState::Integrated {
        return Err(refused(format!(
            "task {:?} is {}: its plan can no longer change",
            record.name,
            record.state.as_str()
        ))
        .into());
    }
    Ok(())
}

fn judged(record: &TaskRecord, old: GateState, reason: String) -> Judged {
    let gate = record.gate.clone().unwrap_or_default();
    Judged {
        version: 1,
        task: record.name.clone(),
        old,
        state: gate.state,
        proposal: gate.proposal,
        plan: gate.plan,
        reason,
    }
}

fn check_len(what: &str, text: &str, max: usize) -> anyhow::Result<()> {
    if text.len() > max {
        return Err(bad_input(format!("{what} is {} bytes, more than {max}", text.len()))
            .hint("keep it short; put the details in a file in the worktree and point to it")
            .into());
    }
    if text.contains('\0') {
        return Err(bad_input(format!("{what} contains a NUL character")).into());
    }
    Ok(())
}

/// A proposal's short id, as `show` prints it and `--proposal` takes it.
pub fn short(proposal: &str) -> &str {
    &proposal[..proposal.len().min(12)]
}
