//! The repository state contract: where git-agent keeps what it knows.
//!
//! | what        | where                                                         |
//! |-------------|---------------------------------------------------------------|
//! | settings    | git config `agent.*`                                          |
//! | task record | `refs/agent/tasks/<task>`: a chain of commits holding `task.json`, one per event |
//! | task branch | `refs/heads/<agent.branchPrefix><task>` (default `agent/<task>`) |
//!
//! Readers bound what they read and tolerate unknown fields; a corrupt record is reported
//! for its task and never stops the others from working.

use std::path::PathBuf;

use bstr::ByteSlice;
use serde::{Deserialize, Serialize};

/// Version of the `task.json` format this build writes. Readers accept this and older.
pub const RECORD_VERSION: u32 = 1;
pub use crate::layout::{RECORD_FILE, TASKS_PREFIX, record_ref};
/// Records larger than this are reported as corrupt rather than read.
pub const MAX_RECORD_BYTES: u64 = 1 << 20;

/// What a task is doing, as far as the orchestrator is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// `task.json`, version 1. Field names are part of the documented format.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    pub version: u32,
    pub name: String,
    /// Full ref name of the task branch, e.g. `refs/heads/agent/db`.
    pub branch: String,
    /// Full ref name of the base when it was a branch (the integration target), else null.
    pub base_ref: Option<String>,
    /// The commit the branch started at (hex).
    pub base_commit: String,
    /// Absolute path of the task's worktree.
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
    /// Fields written by newer versions, kept as they are when this version rewrites a record.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

/// A task as found in the repository: its record, or why the record could not be read.
#[derive(Debug)]
pub struct TaskEntry {
    pub name: String,
    /// The record commit the ref pointed to when read; the expected value for compare-and-swap.
    pub record_commit: gix::ObjectId,
    pub record: Result<TaskRecord, String>,
}

/// Parses and checks a record's bytes; the error says what is wrong, for the user.
pub fn parse_record(task: &str, bytes: &[u8]) -> Result<TaskRecord, String> {
    let record: TaskRecord = serde_json::from_slice(bytes).map_err(|err| format!("task.json is not valid: {err}"))?;
    if record.version > RECORD_VERSION || record.version == 0 {
        return Err(format!(
            "task.json has format version {}, this git-agent reads version {RECORD_VERSION}: upgrade git-agent",
            record.version
        ));
    }
    if record.name != task {
        return Err(format!("task.json names task {:?}, but is stored as {task:?}", record.name));
    }
    Ok(record)
}

impl TaskRecord {
    /// The record as stored: pretty JSON with a trailing newline, so `git show` reads well.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("records serialise");
        bytes.push(b'\n');
        bytes
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
    let mut entries = Vec::new();
    let platform = repo.references()?;
    for reference in platform.prefixed(TASKS_PREFIX)? {
        let reference = reference.map_err(|err| anyhow::anyhow!("cannot list task records: {err}"))?;
        let name = reference.name().as_bstr().to_str_lossy().trim_start_matches(TASKS_PREFIX).to_owned();
        entries.push(read_entry(repo, &name, reference.target().try_id().map(ToOwned::to_owned)));
    }
    entries.sort_by_key(|entry| (entry.record.as_ref().map_or(u64::MAX, |r| r.created_ms), entry.name.clone()));
    Ok(entries)
}

/// Reads one task's record; `Ok(None)` if there is no such task.
pub fn find_task(repo: &gix::Repository, name: &str) -> anyhow::Result<Option<TaskEntry>> {
    let Some(reference) = repo.try_find_reference(record_ref(name).as_str())? else {
        return Ok(None);
    };
    Ok(Some(read_entry(repo, name, reference.target().try_id().map(ToOwned::to_owned))))
}

fn read_entry(repo: &gix::Repository, name: &str, target: Option<gix::ObjectId>) -> TaskEntry {
    let Some(record_commit) = target else {
        return TaskEntry {
            name: name.to_owned(),
            record_commit: gix::ObjectId::null(repo.object_hash()),
            record: Err("the record ref is symbolic".into()),
        };
    };
    let record = crate::git::read_file_from_commit(repo, record_commit, RECORD_FILE, MAX_RECORD_BYTES)
        .and_then(|bytes| parse_record(name, &bytes));
    TaskEntry { name: name.to_owned(), record_commit, record }
}

/// Writes the first record of a new task. Fails (exit code 4) if the task exists already.
pub fn create_record(repo: &gix::Repository, record: &TaskRecord) -> anyhow::Result<gix::ObjectId> {
    let message = format!("spawn {}\n", record.name);
    let commit = crate::git::write_file_commit(repo, RECORD_FILE, &record.to_bytes(), None, &message)?;
    crate::git::create_refs(repo, &[(&record_ref(&record.name), commit)], &format!("git-agent: {}", message.trim()))?;
    Ok(commit)
}

/// Appends an event to a task's record: a new commit on top of `previous`, written by
/// compare-and-swap so that a concurrent event is never overwritten.
pub fn append_event(
    repo: &gix::Repository,
    previous: gix::ObjectId,
    record: &TaskRecord,
    event: &str,
) -> anyhow::Result<gix::ObjectId> {
    let (commit, message) = event_commit(repo, previous, record, event)?;
    crate::git::update_ref(
        repo,
        &record_ref(&record.name),
        previous,
        commit,
        &format!("git-agent: {}", message.trim()),
    )?;
    Ok(commit)
}

/// Writes an event's record commit on top of `previous` without moving the record ref, for
/// a caller that moves it in a larger transaction; returns the commit and its message.
pub fn event_commit(
    repo: &gix::Repository,
    previous: gix::ObjectId,
    record: &TaskRecord,
    event: &str,
) -> anyhow::Result<(gix::ObjectId, String)> {
    let message = format!("{event} {}\n", record.name);
    let commit = crate::git::write_file_commit(repo, RECORD_FILE, &record.to_bytes(), Some(previous), &message)?;
    Ok((commit, message))
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
            "base_commit":"0000000000000000000000000000000000000000","worktree":"/tmp/x","created_ms":5,
            "state":"someday","future_field":{"a":1}}"#;
        let record = parse_record("db", json).unwrap();
        assert_eq!(record.state, TaskState::Unknown);
        let again: serde_json::Value = serde_json::from_slice(&record.to_bytes()).unwrap();
        assert_eq!(again["future_field"]["a"], 1);
    }

    #[test]
    fn rejects_records_from_the_future_or_for_another_task() {
        let future = br#"{"version":99,"name":"db","branch":"b","base_ref":null,"base_commit":"0","worktree":"/","created_ms":0,"state":"active"}"#;
        assert!(parse_record("db", future).unwrap_err().contains("version 99"));
        let other = br#"{"version":1,"name":"x","branch":"b","base_ref":null,"base_commit":"0","worktree":"/","created_ms":0,"state":"active"}"#;
        assert!(parse_record("db", other).unwrap_err().contains("stored as"));
        assert!(parse_record("db", b"{").is_err());
    }
}
