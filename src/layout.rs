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
/// The file inside each record commit's tree: the task's state.
pub const RECORD_FILE: &str = "task.json";
/// The file inside each record commit's tree (format 2): the event's operations.
pub const OPS_FILE: &str = "ops.json";
/// Default branch prefix (`agent.branchPrefix`).
pub const DEFAULT_BRANCH_PREFIX: &str = "agent/";
/// Scratch worktrees of integration runs before slots (see [`SLOTS_DIR`]) were
/// `<worktree root>/<SCRATCH_PREFIX><pid>-<start>`; prune and integrate still remove those a
/// killed run left.
pub const SCRATCH_PREFIX: &str = ".integrate-";

/// Integrate's slots (scratch worktrees kept between runs, one per target branch and job) are
/// `<worktree root>/<SLOTS_DIR>/<slug>-<index>`, where `<slug>` is the target's branch name
/// with every byte outside `[A-Za-z0-9._-]` written `%XX` (so `feature/x` is `feature%2Fx`).
/// A task name cannot start with a dot, so the directory is never a task's worktree.
pub const SLOTS_DIR: &str = ".integrate";

/// The file in a slot's registration (`<common dir>/worktrees/<id>/`) that says git-agent
/// created it, for which target and index: `target <full ref>\nindex <n>\n`. A worktree at a
/// slot's path without it is the user's, and never touched.
pub const SLOT_MARKER: &str = "agent-slot";

/// The file in a slot's registration that says it is prepared (agent.copy files copied, the
/// setup command run) and for what: the fingerprint of the copy globs and setup command.
pub const SLOT_PREPARED: &str = "agent-slot-prepared";

/// The directory of slot lock files: `<common dir>/agent-slots/<slug>-<index>.lock`, held by
/// the integrate using the slot, and `<slug>-<index>.creating` while a slot is being created
/// (so that one whose creator was killed half-way is recognised as git-agent's).
pub fn slots_lock_dir(common_dir: &Path) -> PathBuf {
    common_dir.join("agent-slots")
}

/// The slug of a target branch (a full `refs/heads/` name) in slot names.
pub fn slot_slug(target: &str) -> anyhow::Result<String> {
    let Some(short) = target.strip_prefix("refs/heads/").filter(|s| !s.is_empty()) else {
        anyhow::bail!("integrate slots are for local branches, not {target:?}");
    };
    let mut slug = String::with_capacity(short.len());
    for byte in short.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            slug.push(byte as char);
        } else {
            slug.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(slug)
}

/// `<root>/.integrate/<slug>-<index>`: where slot `index` of `target` lives.
pub fn slot_path(root: &Path, target: &str, index: usize) -> anyhow::Result<PathBuf> {
    Ok(root.join(SLOTS_DIR).join(format!("{}-{index}", slot_slug(target)?)))
}

/// The lock file of slot `index` of `target`.
pub fn slot_lock(common_dir: &Path, target: &str, index: usize) -> anyhow::Result<PathBuf> {
    Ok(slots_lock_dir(common_dir).join(format!("{}-{index}.lock", slot_slug(target)?)))
}

/// The file that exists while slot `index` of `target` is being created.
pub fn slot_creating(common_dir: &Path, target: &str, index: usize) -> anyhow::Result<PathBuf> {
    Ok(slots_lock_dir(common_dir).join(format!("{}-{index}.creating", slot_slug(target)?)))
}

/// The contents of [`SLOT_MARKER`].
pub fn slot_marker(target: &str, index: usize) -> String {
    format!("target {target}\nindex {index}\n")
}

/// Parses [`SLOT_MARKER`]'s contents: (target, index).
pub fn parse_slot_marker(text: &str) -> Option<(String, usize)> {
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')).map(str::trim);
    let target = field("target")?;
    let index = field("index")?;
    if !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((target.to_owned(), index.parse().ok()?))
}

/// While integrate brings a checked-out target's worktree to the new commit, git writes the
/// new index here (in that worktree's git directory) and integrate holds `index.lock`.
pub const LANDING_INDEX: &str = "agent-integrate-index";

/// The pid and start time (if known) in a scratch worktree's directory name, if it is one.
pub fn scratch_pid(name: &str) -> Option<(u32, Option<u64>)> {
    parse_pid_and_start(name.strip_prefix(SCRATCH_PREFIX)?)
}

/// `<pid>-<start>` of this process (`<pid>` alone where the start time is unknown).
fn pid_and_start() -> String {
    let pid = std::process::id();
    match crate::process::process_start(pid) {
        Some(start) => format!("{pid}-{start}"),
        None => pid.to_string(),
    }
}

/// Parses `<pid>` or `<pid>-<start>`, digits only.
pub fn parse_pid_and_start(text: &str) -> Option<(u32, Option<u64>)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('-') {
        Some((pid, start)) if digits(pid) && digits(start) => Some((pid.parse().ok()?, Some(start.parse().ok()?))),
        None if digits(text) => Some((text.parse().ok()?, None)),
        _ => None,
    }
}

/// Where integrate --branch writes the body of the pull request it suggests: the git
/// directory's `agent/pr/<branch, slashes as '-'>.md` (rewritten on every run; disposable).
pub fn pull_request_body(common_dir: &Path, branch: &str) -> PathBuf {
    common_dir.join("agent").join("pr").join(format!("{}.md", branch.replace('/', "-")))
}

/// Where sync keeps what a remote had when this repository last reconciled with it:
/// `refs/agent-remotes/<remote>/<url>/`, then `tasks/<task>` (records) and `heads/<branch>`
/// (task branches); its fetch lands in `incoming/` below that first, removed when the sync
/// ends. `<remote>` is the remote's name with bytes outside `[A-Za-z0-9_-]` written `%XX`;
/// `<url>` is the first 12 hex digits of the SHA-1 of its fetch URL, so that a remote pointed
/// elsewhere (`git remote set-url`) starts from nothing rather than seeing every task removed.
pub const REMOTES_PREFIX: &str = "refs/agent-remotes/";

/// Below [`remote_namespace`]: where a sync's fetch lands.
pub const INCOMING: &str = "incoming/";

/// The namespace of remote `remote`'s tracking refs while it fetches from `url`, ending in `/`.
pub fn remote_namespace(remote: &str, url: &str) -> String {
    let mut slug = String::with_capacity(remote.len());
    for byte in remote.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-') {
            slug.push(byte as char);
        } else {
            slug.push_str(&format!("%{byte:02X}"));
        }
    }
    let url = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, url.as_bytes())
        .map(|id| id.to_hex_with_len(12).to_string())
        .unwrap_or_default();
    format!("{REMOTES_PREFIX}{slug}/{url}/")
}

/// This repository's machine id (`<common dir>/agent/machine-id`, made on first need): the
/// test results it records say it, and integrate reuses only its own (results fetched from
/// other machines are shown, never trusted).
pub fn machine_id_file(common_dir: &Path) -> PathBuf {
    common_dir.join("agent").join("machine-id")
}

/// The lock serialising syncs with one remote: `<common dir>/agent-sync.lock`.
pub fn sync_lock(common_dir: &Path) -> PathBuf {
    common_dir.join("agent-sync.lock")
}

/// The first reflog message of a task branch sync created from a remote's copy: like
/// [`spawn_reflog_message`], it proves git-agent made it.
pub fn sync_reflog_message(task: &str) -> String {
    format!("branch: created by git-agent sync {task}")
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

/// Where a task's agent running in the background writes its output (stdout and stderr,
/// appended): `<common dir>/agent/logs/<task>.log`.
pub fn agent_log(common_dir: &Path, task: &str) -> PathBuf {
    common_dir.join("agent").join("logs").join(format!("{task}.log"))
}

/// The machine-local facts of a task's background run (its supervisor's pid, start time and
/// process group, how it runs, its log, its tmux window): `<common dir>/agent/runs/<task>`.
/// Never in the record: they mean nothing on another machine.
pub fn agent_run_file(common_dir: &Path, task: &str) -> PathBuf {
    common_dir.join("agent").join("runs").join(task)
}

/// The file a starting supervisor answers in (`ok`, or an exit code and the error), for the
/// command that started it: beside [`agent_run_file`], named after that command's pid.
pub fn agent_ready_file(common_dir: &Path, task: &str) -> PathBuf {
    common_dir.join("agent").join("runs").join(format!(".{task}.ready-{}", std::process::id()))
}

/// The tmux session agents' windows go to when git-agent is not run inside tmux.
pub const TMUX_SESSION: &str = "git-agent";

/// For tests: the name of a tmux server socket (`tmux -L <name>`) to use instead of the
/// user's, so that a test never touches the user's tmux sessions.
pub const TMUX_SOCKET_ENV: &str = "GIT_AGENT_TMUX_SOCKET";

/// The lock serialising worktree registrations: `<common dir>/agent-worktrees.lock`.
pub fn worktrees_lock(common_dir: &Path) -> PathBuf {
    common_dir.join("agent-worktrees.lock")
}

/// Where task worktrees go: `agent.worktreeRoot` (`configured`; relative to the main worktree),
/// else `<main worktree>.agents` beside it. A bare repository has no default. A root inside
/// the main worktree is refused: the task worktrees would show up there as untracked nested
/// repositories, and a `git clean -dfx` in the main worktree would delete the agents' work.
pub fn worktree_root(repo: &gix::Repository, configured: Option<&Path>) -> anyhow::Result<PathBuf> {
    worktree_root_of_main(&crate::git::main_repo(repo)?, configured)
}

/// [`worktree_root`], given the main repository already opened (opening one costs a reading of
/// every configuration file, and `git agent report` must be quick).
pub fn worktree_root_of_main(main: &gix::Repository, configured: Option<&Path>) -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    // From a subdirectory gix may report the main worktree as a relative path like `..`.
    let anchor = main.workdir().map(crate::git::normalise_path);
    let root = match (configured, &anchor) {
        (Some(root), Some(anchor)) => anchor.join(root),
        (Some(root), None) => crate::git::normalise_path(main.git_dir()).join(root),
        (None, Some(anchor)) => {
            let mut name = anchor.file_name().context("the main worktree has no name")?.to_owned();
            name.push(".agents");
            anchor.with_file_name(name)
        }
        (None, None) => {
            return Err(crate::error::refused("this is a bare repository and agent.worktreeRoot is not set")
                .hint("set where task worktrees go: git config agent.worktreeRoot /path/to/worktrees")
                .into());
        }
    };
    let root = crate::git::normalise_path(&root);
    if let Some(anchor) = &anchor
        && root.starts_with(anchor)
    {
        return Err(crate::error::refused(format!(
            "{} = {} puts task worktrees inside the main worktree {}",
            key::WORKTREE_ROOT,
            configured.map(|p| p.display().to_string()).unwrap_or_default(),
            anchor.display()
        ))
        .hint(format!("set it outside, for example: git config {} {}.agents", key::WORKTREE_ROOT, anchor.display()))
        .into());
    }
    Ok(root)
}

/// Where prune moves a worktree just before deleting it: beside it, in the same directory (so
/// the rename is atomic), under a name no task can have (task names start with a letter or
/// digit).
pub fn prune_aside(worktree: &Path) -> PathBuf {
    worktree.with_file_name(format!("{}{}", prune_aside_prefix(worktree), pid_and_start()))
}

/// The start of the names [`prune_aside`] gives `worktree`: `.prune-<name>-`, then the pid
/// and start time of the prune (see [`parse_pid_and_start`]).
pub fn prune_aside_prefix(worktree: &Path) -> String {
    let name = worktree.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".prune-{name}-")
}

/// The first reflog message of a branch spawn created, which proves git-agent made it.
pub fn spawn_reflog_message(task: &str) -> String {
    format!("branch: created by git-agent spawn {task}")
}

/// The reflog message of a task branch moved by restack onto `deps` (short branch names) at
/// `onto`: the old tip stays findable in the branch's reflog.
pub fn restack_reflog_message(deps: &[String], onto: &gix::ObjectId) -> String {
    format!("git-agent restack: onto {} {}", deps.join(" and "), crate::git::short_id(onto))
}

/// Ignored files prune may delete without asking, unless `agent.disposable` says otherwise:
/// common build output and caches.
pub const DEFAULT_DISPOSABLE: &[&str] = &["target/", "node_modules/", "dist/", "build/", ".venv/", "__pycache__/"];

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
    /// Run once in each new integrate slot instead of agent.setup.
    pub const TEST_SETUP: &str = "agent.testSetup";
    /// How many step tests integrate runs at once (`--jobs`).
    pub const TEST_JOBS: &str = "agent.testJobs";
    /// Whether git-agent's own `git` subprocesses run the repository's hooks (default: no).
    pub const RUN_HOOKS: &str = "agent.runHooks";
    /// Globs of ignored files prune may delete (multi-valued; default [`super::DEFAULT_DISPOSABLE`]).
    pub const DISPOSABLE: &str = "agent.disposable";
    pub const IDENTITY: &str = "agent.identity";
    /// Whether spawn stacks a task on its dependencies' work (default: true).
    pub const STACK: &str = "agent.stack";
    /// The remote `git agent sync` uses when none is named (default: origin).
    pub const REMOTE: &str = "agent.remote";
    /// Where interactive agents run: `tmux` (a window per task) or `none` (the foreground).
    pub const TERMINAL: &str = "agent.terminal";
    /// How often a running agent should checkpoint (`list` flags one that did not; default 45m).
    pub const CHECKPOINT_EVERY: &str = "agent.checkpointEvery";
    /// Pathspecs no task may change (multi-valued): a hazard in list and conflicts, refused by
    /// integrate and check-edit, listed in handoff prompts.
    pub const PROTECTED: &str = "agent.protected";
    /// A shell command run on every change of a task's status (report, ask, answer).
    pub const NOTIFY: &str = "agent.notify";
    /// How long a running agent may change nothing before `list` calls it idle (default 15m).
    pub const IDLE_AFTER: &str = "agent.idleAfter";
    /// The weights of `git agent compare`'s criteria (numbers >= 0, not all 0).
    pub const COMPARE_CORRECTNESS: &str = "agent.compare.correctness";
    pub const COMPARE_SIMPLICITY: &str = "agent.compare.simplicity";
    pub const COMPARE_PERFORMANCE: &str = "agent.compare.performance";
    pub const COMPARE_MAINTAINABILITY: &str = "agent.compare.maintainability";
    pub const COMPARE_COST: &str = "agent.compare.cost";
    /// `true`: new tasks start behind the plan review gate, as with `spawn --gate`.
    pub const GATE: &str = "agent.gate";
    /// git's colour settings, read as git reads them: git-agent's own, then the default.
    pub const COLOR_AGENT: &str = "color.agent";
    pub const COLOR_UI: &str = "color.ui";
    /// Paths of the main worktree (node_modules, target, .venv) a new task's worktree links to
    /// instead of copying (multi-valued).
    pub const LINK: &str = "agent.link";
    /// `start-end`: the ports `GIT_AGENT_PORT` is picked from (default [`super::DEFAULT_PORT_RANGE`]).
    pub const PORT_RANGE: &str = "agent.portRange";
    /// The command `git agent open` runs with a task's worktree (default: $VISUAL, then $EDITOR).
    pub const OPEN: &str = "agent.open";
}

/// The file in the main worktree naming, in .gitignore syntax, the ignored files every new
/// worktree gets a copy of (read by Claude Code and worktrunk too).
pub const WORKTREE_INCLUDE: &str = ".worktreeinclude";

/// The ports a task's `GIT_AGENT_PORT` falls in unless agent.portRange says otherwise.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (4100, 4999);
