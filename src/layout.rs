//! Every name of git-agent's state, in one place: refs, notes, lock files, scratch
//! worktrees and configuration keys. Nothing else spells these out.

use std::path::{Path, PathBuf};

/// Where task records live: `refs/agent/tasks/<task>`.
pub const TASKS_PREFIX: &str = "refs/agent/tasks/";
/// Where prune --force keeps what it removed: `refs/agent/archive/<task>/<stamp>/<what>`.
pub const ARCHIVE_PREFIX: &str = "refs/agent/archive/";
/// Integration results (JSON notes on step commits and tested trees).
pub const NOTES_REF: &str = "refs/notes/agent";
/// The short name of [`NOTES_REF`], as gix's notes API and `git notes --ref` take it.
pub const NOTES_NAME: &str = "agent";
/// The file inside each record commit's tree.
pub const RECORD_FILE: &str = "task.json";
/// Default branch prefix (`agent.branchPrefix`).
pub const DEFAULT_BRANCH_PREFIX: &str = "agent/";
/// Scratch worktrees of integration runs are `<worktree root>/<SCRATCH_PREFIX><pid>`.
pub const SCRATCH_PREFIX: &str = ".integrate-";

/// While integrate brings a checked-out target's worktree to the new commit, git writes the
/// new index here (in that worktree's git directory) and integrate holds `index.lock`.
pub const LANDING_INDEX: &str = "agent-integrate-index";

/// The scratch worktree's directory name for the integrate process `pid`.
pub fn scratch_name(pid: u32) -> String {
    format!("{SCRATCH_PREFIX}{pid}")
}

/// The pid in a scratch worktree's directory name, if it is one.
pub fn scratch_pid(name: &str) -> Option<u32> {
    let digits = name.strip_prefix(SCRATCH_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The full ref name of a task's record.
pub fn record_ref(task: &str) -> String {
    format!("{TASKS_PREFIX}{task}")
}

/// The prefix of one archive made by prune --force.
pub fn archive_prefix(task: &str, stamp: u64) -> String {
    format!("{ARCHIVE_PREFIX}{task}/{stamp}")
}

/// The directory of task claim locks: `<common dir>/agent-claims/<task>.lock`.
pub fn claims_dir(common_dir: &Path) -> PathBuf {
    common_dir.join("agent-claims")
}

/// The lock serialising worktree registrations: `<common dir>/agent-worktrees.lock`
/// (the path given here is the resource; the lock file adds `.lock`).
pub fn worktrees_lock(common_dir: &Path) -> PathBuf {
    common_dir.join("agent-worktrees")
}

/// Configuration keys git-agent reads.
pub mod key {
    pub const WORKTREE_ROOT: &str = "agent.worktreeRoot";
    pub const BRANCH_PREFIX: &str = "agent.branchPrefix";
    pub const BASE: &str = "agent.base";
    pub const SETUP: &str = "agent.setup";
    pub const COPY: &str = "agent.copy";
    pub const COMMAND: &str = "agent.command";
    pub const TEST: &str = "agent.test";
    pub const TEST_TIMEOUT: &str = "agent.testTimeout";
    pub const IDENTITY: &str = "agent.identity";
    pub const RUN_HOOKS: &str = "agent.runHooks";
}
