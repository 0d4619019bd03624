//! The work of `git agent report`, `ask`, `answer` and `hooks`: what a task's agent says it is
//! doing, its questions and the orchestrator's answers, each an operation on the task's record;
//! `agent.notify`, run when a task's status changes; and the hook configurations that make
//! Claude Code and Codex report by themselves.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::process::{Capture, OUTPUT_TAIL, Run};
use crate::settings::Settings;
use crate::state::{self, AgentStatus, Change, TaskRecord};

/// How long git-agent waits for `agent.notify` before it kills it (its whole process group)
/// and warns: a notification must not hold up the agent's hook for long. Anything slower
/// belongs in the background (`cmd &` in the command line).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// What happened to a task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    Report,
    Ask,
    Answer,
    /// The task's agent exited (its status word stays what the agent last said).
    AgentExit,
    /// The plan review gate moved (`git agent propose`, `approve`, `reject`): the agent or the
    /// orchestrator has something to read.
    Propose,
    Approve,
    Reject,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Report => "report",
            Event::Ask => "ask",
            Event::Answer => "answer",
            Event::AgentExit => "agent-exit",
            Event::Propose => "propose",
            Event::Approve => "approve",
            Event::Reject => "reject",
        }
    }
}

/// A report, question or answer, as recorded.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Reported {
    pub version: u32,
    pub task: String,
    pub event: Event,
    /// The status before (none: never reported).
    pub old: Option<AgentStatus>,
    /// The status after (an answer leaves it as it was).
    pub status: Option<AgentStatus>,
    /// The report's message, the question or the answer.
    pub message: String,
    /// An operation was written: false when a report repeats the current status and message.
    pub written: bool,
}

impl Reported {
    /// Did the status word change (or is it an answer, which the agent waits for)?
    pub fn changed(&self) -> bool {
        matches!(self.event, Event::Answer | Event::AgentExit | Event::Propose | Event::Approve | Event::Reject)
            || self.old != self.status
    }
}

/// `git agent report`: records `status` (with `message`) for the task whose record is
/// `current`. A report repeating the status and message in force writes nothing, so that a
/// hook firing on every turn does not grow the record, and the status keeps its age.
pub fn report(
    repo: &gix::Repository,
    current: &TaskRecord,
    status: AgentStatus,
    message: &str,
) -> anyhow::Result<Reported> {
    check_text("the message", message)?;
    let old = current.status.as_ref().map(|now| now.status);
    if current.status.as_ref().is_some_and(|now| now.status == status && now.message == message) {
        return Ok(Reported {
            version: 1,
            task: current.name.clone(),
            event: Event::Report,
            old,
            status: Some(status),
            message: message.to_owned(),
            written: false,
        });
    }
    record(repo, &current.name, Event::Report, Change::Status { status, message: message.to_owned() })
}

/// `git agent ask`: the agent is blocked on `question`.
pub fn ask(repo: &gix::Repository, task: &str, question: &str) -> anyhow::Result<Reported> {
    record(repo, task, Event::Ask, Change::Asked { question: question.to_owned() })
}

/// `git agent answer`: the orchestrator's answer to the task's question.
pub fn answer(repo: &gix::Repository, task: &str, answer: &str) -> anyhow::Result<Reported> {
    record(repo, task, Event::Answer, Change::Answered { answer: answer.to_owned() })
}

/// Appends `change` to the task's record; the status before is the one of the record the
/// change was written on.
fn record(repo: &gix::Repository, task: &str, event: Event, change: Change) -> anyhow::Result<Reported> {
    let message = match &change {
        Change::Status { message, .. } => message.clone(),
        Change::Asked { question } => question.clone(),
        Change::Answered { answer } => answer.clone(),
        _ => String::new(),
    };
    check_text(if event == Event::Ask { "the question" } else { "the text" }, &message)?;
    if event != Event::Report && message.trim().is_empty() {
        return Err(crate::error::bad_input(format!("{} is empty", event.as_str())).into());
    }
    let mut old = None;
    let (_, updated) = state::update_record(repo, task, |current| {
        old = current.status.as_ref().map(|now| now.status);
        Ok(change.clone())
    })?;
    Ok(Reported {
        version: 1,
        task: task.to_owned(),
        event,
        old,
        status: updated.status.as_ref().map(|now| now.status),
        message,
        written: true,
    })
}

/// Records that the task's agent exited with `exit`, and runs `agent.notify` for it; returns
/// the notification's warning, if any.
pub fn agent_exited(
    repo: &gix::Repository,
    settings: &Settings,
    task: &str,
    exit: i32,
    command: &[String],
) -> anyhow::Result<Option<String>> {
    // The agent may have changed the record itself (`git agent done`): update the newest one.
    let (_, record) = state::update_record(repo, task, |current| {
        let command = if current.command.is_empty() { command.to_vec() } else { Vec::new() };
        Ok(Change::AgentExited { exit: Some(exit), command })
    })?;
    let status = record.status.as_ref().map(|now| now.status);
    let reported = Reported {
        version: 1,
        task: task.to_owned(),
        event: Event::AgentExit,
        old: status,
        status,
        message: format!("the agent exited with status {exit}"),
        written: true,
    };
    let mut record = record;
    record.worktree = crate::ops::prune::worktree_path(repo, &record);
    Ok(notify(repo, settings, &record, &reported))
}

/// Longest message, question or answer: every record commit carries the current ones, and
/// agent.notify gets them in its environment.
pub const MAX_TEXT: usize = 4096;

fn check_text(what: &str, text: &str) -> anyhow::Result<()> {
    if text.len() > MAX_TEXT {
        return Err(crate::error::bad_input(format!("{what} is {} bytes, more than {MAX_TEXT}", text.len()))
            .hint("say it shorter, and put the details in a file in the worktree")
            .into());
    }
    Ok(())
}

/// Runs `agent.notify` (when configured) for a change of status, with `sh -c` in the task's
/// worktree (the repository's top when the worktree is not on this machine), and
/// GIT_AGENT_TASK, GIT_AGENT_EVENT, GIT_AGENT_STATUS_OLD, GIT_AGENT_STATUS and
/// GIT_AGENT_MESSAGE set. Waits at most [`NOTIFY_TIMEOUT`]. Returns a warning for the user when
/// the command failed; a failed notification never fails the report.
pub fn notify(repo: &gix::Repository, settings: &Settings, record: &TaskRecord, reported: &Reported) -> Option<String> {
    let command = settings.notify.as_deref()?;
    let dir = if record.worktree.is_dir() {
        record.worktree.clone()
    } else {
        repo.workdir().map_or_else(|| repo.common_dir().to_owned(), PathBuf::from)
    };
    let word = |status: Option<AgentStatus>| status.map_or("", AgentStatus::as_str);
    let run = Run::shell(command, &dir)
        .env("GIT_AGENT_TASK", &reported.task)
        .env("GIT_AGENT_EVENT", reported.event.as_str())
        .env("GIT_AGENT_STATUS_OLD", word(reported.old))
        .env("GIT_AGENT_STATUS", word(reported.status))
        .env("GIT_AGENT_MESSAGE", &reported.message)
        .timeout(Some(NOTIFY_TIMEOUT))
        .capture(Capture::Tail(OUTPUT_TAIL));
    let origin = settings.origin(crate::layout::key::NOTIFY).map_or_else(String::new, |o| format!(" (set in {o})"));
    match run.run() {
        Ok(outcome) if outcome.status.success() => None,
        Ok(outcome) => {
            let tail = outcome.output_tail_lossy();
            let tail = tail.trim();
            let output = if tail.is_empty() { String::new() } else { format!(": {tail}") };
            Some(format!("agent.notify{origin} failed ({}){output}", outcome.status))
        }
        Err(err) => Some(format!("agent.notify{origin} could not run: {err:#}")),
    }
}

/// The command an agent's hook runs to report `status`: quiet, and never failing, because
/// Claude Code takes a Stop hook's exit status 2 as "do not stop" and would show the agent
/// git-agent's error (say, the hook configuration was copied into a directory that is not a
/// task's worktree).
pub fn hook_command(status: AgentStatus) -> String {
    format!("git agent -q report {} || true", status.as_str())
}

/// Claude Code's tools that edit files: the PreToolUse hook's matcher (a regular expression).
pub const EDIT_TOOLS: &str = "Edit|Write|MultiEdit|NotebookEdit";

/// The PreToolUse command: `git agent check-edit` answers in Claude Code's permission protocol
/// and exits 0 whatever happens (`|| true` covers a git-agent without check-edit: exit status 2
/// would block the edit).
pub const CHECK_EDIT_HOOK: &str = "git agent check-edit --hook claude || true";

/// Claude Code's hook configuration (for `.claude/settings.json` in the task's worktree, or
/// `~/.claude/settings.json`): working when the user submits a prompt, waiting when Claude
/// stops or notifies (it asks for permission, or has waited for input); and before every
/// edit, `git agent check-edit` allows, asks or denies it.
pub fn claude_hooks() -> serde_json::Value {
    let hook = |status| serde_json::json!([{ "hooks": [{ "type": "command", "command": hook_command(status) }] }]);
    serde_json::json!({
        "hooks": {
            "UserPromptSubmit": hook(AgentStatus::Working),
            "Stop": hook(AgentStatus::Waiting),
            "Notification": hook(AgentStatus::Waiting),
            "PreToolUse": [{
                "matcher": EDIT_TOOLS,
                "hooks": [{ "type": "command", "command": CHECK_EDIT_HOOK }],
            }],
        }
    })
}

/// Codex's `notify` setting (for `~/.codex/config.toml`): Codex runs the program with a JSON
/// description of the event appended as the last argument, at the end of each agent turn
/// (`agent-turn-complete`); `sh -c` takes it as `$1` and leaves it alone.
pub fn codex_notify() -> String {
    let argv = ["sh", "-c", &hook_command(AgentStatus::Waiting), "git-agent-codex-notify"];
    // A TOML array of basic strings; JSON's string escapes are valid TOML ones.
    let items: Vec<String> = argv.iter().map(|arg| serde_json::to_string(arg).expect("strings serialise")).collect();
    format!(
        "# In ~/.codex/config.toml (top level, before any [table]): Codex runs this at the end of\n\
         # each agent turn, with the turn's JSON as the last argument (ignored here).\n\
         notify = [{}]\n",
        items.join(", ")
    )
}
