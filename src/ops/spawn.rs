//! The work of `git agent spawn`: check a request against the repository, create the task's
//! branch, worktree and record all or nothing, and run its agent. Returns data and reports
//! progress as [`Event`]s; the command renders both.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use gix::ObjectId;
use gix::refs::FullName;
use serde::Serialize;

use super::Context;
use crate::error::{Exit, Fail, bad_input, refused};
use crate::process::Capture;
use crate::state::{self, RECORD_VERSION, TaskRecord, TaskState};

/// What the user asked for one task.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub name: String,
    pub base: Option<String>,
    pub scope: Vec<String>,
    pub after: Vec<String>,
    pub brief: String,
    pub acceptance: Vec<String>,
    pub command: Vec<String>,
    /// The kind of work (`--kind`, `kind` in plans), checked by the caller.
    pub kind: Option<String>,
    /// Stack on the dependencies' work (`--stack`, `Some(true)`) or start from the base
    /// (`--from-base`, `Some(false)`); `None`: as `agent.stack` says (default: stack).
    pub stack: Option<bool>,
    /// Set for the variants of `spawn --variants K`: recorded in the task's record.
    pub variant: Option<state::Variant>,
    pub guards: Guards,
}

/// What the task may not do (issue: the decomposition checklist made executable).
#[derive(Debug, Clone, Default)]
pub struct Guards {
    /// Pathspecs the task must not change (`--protect`).
    pub protect: Vec<String>,
    /// Pathspecs of the shared contracts (`--contract`, a plan's `contracts`): they must be
    /// committed on the base.
    pub contracts: Vec<String>,
    /// Free-text constraints (`--constraint`).
    pub constraints: Vec<String>,
    /// Start behind the plan review gate (`--gate`, a plan's `gate`); `None`: as `agent.gate`
    /// says.
    pub gate: Option<bool>,
}

/// A request checked against the repository: everything needed to create the task.
pub struct Prepared {
    pub record: TaskRecord,
    pub branch: FullName,
    pub base_commit: ObjectId,
    /// Where the branch starts: the base, or where it is stacked (see [`crate::stack`]).
    pub start_commit: ObjectId,
    /// The dependencies it is stacked on; with several, their merge is made by [`create`].
    pub stacked_on: Vec<crate::stack::DepTip>,
    pub root: PathBuf,
}

/// What a spawn did, for the report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Spawned {
    pub task: String,
    pub branch: String,
    pub base_ref: Option<String>,
    pub base_commit: String,
    /// The commit the branch starts at: `base_commit`, or where it was stacked.
    pub start_commit: String,
    /// The dependencies whose work it starts on (stacked), by task name; empty: from the base.
    pub stacked_on: Vec<String>,
    pub worktree: PathBuf,
    /// Files copied from the main worktree (agent.copy).
    pub copied: Vec<String>,
    /// The agent.setup command that ran, if any.
    pub setup: Option<String>,
    /// The agent command and its exit status, if it ran.
    pub agent: Option<AgentRun>,
    /// Links to the main worktree (agent.link).
    pub linked: Vec<String>,
    /// The bytes the copies wrote, and those they cloned (reflinked).
    pub bytes: crate::git::CopiedBytes,
    /// The task's `GIT_AGENT_PORT`.
    pub port: u16,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AgentRun {
    pub command: Vec<String>,
    pub exit: i32,
}

/// How to create a task.
#[derive(Debug, Clone, Copy)]
pub struct CreateOptions {
    /// Run `agent.setup` in the new worktree.
    pub run_setup: bool,
    /// Keep the setup command's output for an error message instead of showing it.
    pub quiet: bool,
}

/// What happens while a task is created and its agent runs, as it happens.
#[derive(Debug, Clone)]
pub enum Event {
    /// The new worktree's files are being checked out (long in a large repository).
    CheckingOut {
        worktree: PathBuf,
    },
    /// They are.
    CheckedOut,
    /// Files copied from the main worktree (`agent.copy`, `.worktreeinclude`), with the bytes
    /// written and cloned.
    Copied {
        files: Vec<String>,
        bytes: crate::git::CopiedBytes,
    },
    SetupStarting {
        worktree: PathBuf,
        command: String,
    },
    AgentStarting {
        worktree: PathBuf,
        command: Vec<String>,
    },
    AgentNotStarted {
        program: String,
        error: String,
    },
    AgentExited {
        status: i32,
    },
    /// agent.notify failed for the agent's exit (a warning; the exit is recorded).
    NotifyFailed(String),
    /// The rollback left something in place rather than risk losing work.
    UndoKept {
        what: String,
        error: String,
    },
    /// Links made to the main worktree (`agent.link`); `not_ignored`: those git shows as
    /// untracked; `missing`: paths the main worktree does not have (no link made).
    Linked {
        linked: Vec<String>,
        not_ignored: Vec<String>,
        missing: Vec<String>,
    },
}

/// A task's new worktree goes to `worktree` only if nothing is there but an empty directory
/// (git-agent never checks out over files), and only if the path is UTF-8 (it is reported in
/// JSON). `alternative` ends the hint: what else the user can do.
pub(crate) fn check_worktree_dir(worktree: &Path, alternative: &str) -> anyhow::Result<()> {
    if worktree.exists() && !worktree.is_dir() {
        return Err(refused(format!("{} exists and is not a directory", worktree.display())).into());
    }
    if crate::git::is_non_empty_dir(worktree) {
        return Err(refused(format!("directory {} exists and is not empty", worktree.display()))
            .hint(format!("git-agent never reuses a directory; move it away{alternative}"))
            .into());
    }
    if worktree.to_str().is_none() {
        return Err(refused(format!("the worktree path {} is not valid UTF-8", worktree.display()))
            .hint("set git config agent.worktreeRoot to a UTF-8 path")
            .into());
    }
    Ok(())
}

/// Checks everything that can be checked before writing: the task, branch and directory do not
/// exist, the dependencies and base do. `planned` are tasks a plan will create first.
pub fn prepare(ctx: &Context, request: &Request, planned: &HashSet<String>) -> anyhow::Result<Prepared> {
    let repo = &ctx.repo;
    let name = &request.name;
    if let Some(existing) = state::find_task(repo, name)? {
        let what = match &existing.record {
            Ok(record) => format!("it is {}", record.state.as_str()),
            Err(why) => format!("its record is corrupt: {why}"),
        };
        return Err(refused(format!("task {name:?} exists already ({what})"))
            .hint("pick another name; `git agent list` shows the tasks")
            .into());
    }
    for dep in &request.after {
        if dep == name {
            return Err(bad_input(format!("task {name:?} cannot come after itself")).into());
        }
        if !planned.contains(dep) && state::find_task(repo, dep)?.is_none() {
            return Err(bad_input(format!("--after {dep:?}: no such task"))
                .hint("create the task it depends on first, or spawn both from one --plan")
                .into());
        }
    }
    let base = match &request.base {
        Some(base) => base.clone(),
        None => ctx.default_base()?,
    };
    let base_commit = crate::git::resolve_commit(repo, &base)?;
    let base_ref = crate::git::local_branch(repo, &base).map(|name| name.as_bstr().to_string());

    let branch = crate::git::full_name(&format!("refs/heads/{}{name}", ctx.settings.branch_prefix))
        .context("agent.branchPrefix does not make a valid branch name")?;
    if repo.try_find_reference(branch.as_ref())?.is_some() {
        return Err(refused(format!("branch {} exists already", branch.shorten()))
            .hint("git-agent never reuses a branch; pick another task name, or delete the branch yourself")
            .into());
    }
    let root = ctx.worktree_root()?;
    let worktree = root.join(name);
    check_worktree_dir(&worktree, " or pick another task name")?;
    check_guard_pathspecs(&request.guards)?;
    check_contracts_committed(repo, &base, base_commit, &request.guards.contracts)?;
    super::worktree_files::check_links_untracked(repo, base_commit, &ctx.settings.link)?;
    let record = TaskRecord {
        version: RECORD_VERSION,
        name: name.clone(),
        branch: branch.as_bstr().to_string(),
        base_ref,
        base_commit: base_commit.to_string(),
        worktree,
        scope: request.scope.clone(),
        // `--after db --after db` is one dependency.
        after: dedup(&request.after),
        brief: request.brief.clone(),
        acceptance: request.acceptance.clone(),
        command: request.command.clone(),
        created_ms: state::now_ms(),
        state: TaskState::Active,
        agent_exit: None,
        integrated_commit: None,
        integrated_tip: None,
        stack: None,
        status: None,
        question: None,
        answer: None,
        checkpoint: None,
        cost: Default::default(),
        kind: request.kind.clone(),
        variant: request.variant.clone(),
        protect: dedup(&request.guards.protect),
        contracts: dedup(&request.guards.contracts),
        constraints: dedup(&request.guards.constraints),
        gate: request.guards.gate.unwrap_or(ctx.settings.gate).then(state::Gate::new),
        clock: 0,
        unknown: Default::default(),
    };
    let mut prepared =
        Prepared { record, branch, base_commit, start_commit: base_commit, stacked_on: Vec::new(), root };
    if !request.after.is_empty() && request.stack.unwrap_or(!ctx.settings.no_stack) {
        stack_on_dependencies(ctx, &mut prepared)?;
        // The start is the dependencies' tip, or their merge (in memory until created), which
        // tracks only what one of them tracks.
        for dep in &prepared.stacked_on {
            super::worktree_files::check_links_untracked(repo, dep.tip, &ctx.settings.link)?;
        }
    }
    Ok(prepared)
}

/// The entries in order, each once.
fn dedup(entries: &[String]) -> Vec<String> {
    entries.iter().fold(Vec::new(), |mut kept, entry| {
        if !kept.contains(entry) {
            kept.push(entry.clone());
        }
        kept
    })
}

/// A guard that can match no path guards nothing, silently: refuse it. (An empty one would
/// guard everything.)
fn check_guard_pathspecs(guards: &Guards) -> anyhow::Result<()> {
    for (flag, pathspec) in
        guards.protect.iter().map(|p| ("--protect", p)).chain(guards.contracts.iter().map(|c| ("--contract", c)))
    {
        if let Err(why) = crate::scope::check_entry(pathspec) {
            return Err(bad_input(format!("{flag} {pathspec:?} {why}"))
                .hint("guards are pathspecs relative to the repository root, like `tests/` or `api/*.proto`")
                .into());
        }
    }
    Ok(())
}

/// Contracts are written first (spec-first): each must match a file committed at the base,
/// or the agents would start without the interface they are to build against.
fn check_contracts_committed(
    repo: &gix::Repository,
    base: &str,
    base_commit: ObjectId,
    contracts: &[String],
) -> anyhow::Result<()> {
    if contracts.is_empty() {
        return Ok(());
    }
    let files = crate::git::tree_files(repo, base_commit)?;
    let missing: Vec<&String> = contracts
        .iter()
        .filter(|contract| {
            !files.iter().any(|path| crate::scope::contains(std::slice::from_ref(contract), path.as_ref()))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing.iter().map(|c| format!("{c:?}")).collect();
    Err(refused(format!("contract {} matches no file committed at the base {base:?}", list.join(", ")))
        .hint("commit the shared interfaces on the base before spawning the tasks that build on them")
        .into())
}

/// Puts a task with dependencies on their work (see [`crate::stack`]) and records where. With
/// several dependencies that have commits, their merge is tried here in memory (so that
/// `--check` and a plan's checks see a conflict before anything is created) and made for real
/// by [`create`].
fn stack_on_dependencies(ctx: &Context, prepared: &mut Prepared) -> anyhow::Result<()> {
    let repo = &ctx.repo;
    let entries = state::read_tasks(repo)?;
    let tips = crate::stack::dependency_tips(repo, &prepared.record.after, &entries)?;
    let needed = crate::stack::needed(repo, prepared.base_commit, &tips)?;
    let name = &prepared.record.name;
    let start = match needed.len() {
        0 => prepared.base_commit,
        1 => needed[0].tip,
        _ => {
            let signature = ctx.commit_identity("stacking on several dependencies")?;
            let memory = repo.clone().with_object_memory();
            match crate::stack::start(&memory, needed.clone(), &signature, name)? {
                crate::stack::Start::On { commit, .. } => commit,
                crate::stack::Start::Conflict { deps, conflicts } => {
                    return Err(stack_conflict(name, &deps, &conflicts));
                }
            }
        }
    };
    prepared.start_commit = start;
    prepared.record.stack = Some(state::Stack {
        onto: start.to_string(),
        tips: needed.iter().map(|dep| (dep.task.clone(), dep.tip.to_string())).collect(),
        unknown: Default::default(),
    });
    prepared.stacked_on = needed;
    Ok(())
}

/// The dependencies' work conflicts: there is nothing to stack on.
fn stack_conflict(
    task: &str,
    deps: &[crate::stack::DepTip],
    conflicts: &[crate::conflicts::ConflictPath],
) -> anyhow::Error {
    let labels: Vec<&str> = deps.iter().map(|d| d.label.as_str()).collect();
    let paths: Vec<String> = conflicts.iter().map(|c| c.path.to_string()).collect();
    refused(format!(
        "task {task:?} cannot be stacked on {}: their work conflicts ({})",
        labels.join(" and "),
        paths.join(", ")
    ))
    .hint("spawn it with --from-base (and merge the dependencies in the task), or resolve the conflict in one of them")
    .into()
}

/// A branch and worktree left by a spawn of `name` that was killed (no record, the branch
/// where spawn created it, a clean worktree, its claim's owner gone) are removed first, so that
/// a killed spawn never blocks a new one. Anything else is left for the checks below to refuse.
pub fn recover_interrupted_spawn(ctx: &Context, name: &str) -> anyhow::Result<()> {
    crate::ops::prune::recover_interrupted_spawn(&ctx.repo, name, &ctx.prune_options()?)?;
    Ok(())
}

/// What a spawn or a join has created so far, undone in reverse order if a later step fails or
/// a signal arrives. (A checkout that fails half-way removes its own files and registration:
/// gix rolls it back.)
pub(crate) struct Undo {
    branch: Option<(FullName, ObjectId)>,
    worktree: Option<PathBuf>,
    record: Option<(String, ObjectId)>,
    /// What the rollback guarantees, for the message of an interrupted run.
    undone: &'static str,
}

impl Undo {
    pub(crate) fn new(undone: &'static str) -> Self {
        Undo { branch: None, worktree: None, record: None, undone }
    }

    /// A safe point: fails if a signal arrived, saying what the rollback keeps.
    pub(crate) fn check_interrupted(&self) -> anyhow::Result<()> {
        crate::interrupt::check(self.undone)
    }

    /// Through the guard like every removal: the record is deleted only if it is still the one
    /// this spawn wrote, the worktree is moved aside and deleted (it holds only what this run
    /// put there), the branch is deleted only if it is still where this spawn created it and
    /// checked out nowhere else.
    fn run(self, guard: &crate::guard::Guard<'_>, repo: &gix::Repository, events: &mut dyn FnMut(Event)) {
        if let Some((record_ref, at)) = self.record
            && let Err(err) = guard.delete_record(at)
        {
            events(Event::UndoKept { what: format!("the task record {record_ref}"), error: format!("{err:#}") });
        }
        if let Some(worktree) = self.worktree {
            let removed =
                crate::ops::prune::find_registration(repo, guard.branch(), &worktree).and_then(|found| match found {
                    Some(registration) => guard.remove_worktree(&registration, |_| Ok(()), || Ok(())),
                    None => Ok(()),
                });
            match removed {
                Ok(()) => {
                    if let Some(root) = worktree.parent() {
                        crate::guard::remove_default_root_if_empty(repo, root);
                    }
                }
                Err(err) => events(Event::UndoKept {
                    what: format!("the new worktree {}", worktree.display()),
                    error: format!("{err:#}"),
                }),
            }
        }
        if let Some((branch, at)) = self.branch
            && let Err(err) = guard.delete_branch(at, false)
        {
            events(Event::UndoKept { what: format!("branch {}", branch.shorten()), error: format!("{err:#}") });
        }
    }
}

/// Runs `steps` while holding `task`'s `claim`; if they fail (or a signal arrives), removes
/// what they noted in their [`Undo`], under the same claim, and says that `verb` (spawn, join)
/// was rolled back. Returns the claim, still held, with the steps' result.
pub(crate) fn undoable<T>(
    ctx: &Context,
    task: &str,
    claim: crate::lock::Lock,
    verb: &str,
    undo: Undo,
    events: &mut dyn FnMut(Event),
    steps: impl FnOnce(&mut Undo, &mut dyn FnMut(Event)) -> anyhow::Result<T>,
) -> anyhow::Result<(T, crate::lock::Lock)> {
    let mut undo = undo;
    match steps(&mut undo, events) {
        Ok(done) => Ok((done, claim)),
        Err(err) => {
            let guard = crate::guard::Guard::with_claim(&ctx.repo, task, &ctx.settings.branch_prefix, claim);
            undo.run(&guard, &ctx.repo, events);
            Err(err.context(format!("{verb} of task {task:?} failed and was rolled back")))
        }
    }
}

/// Creates branch, worktree and record; on any failure or signal removes what it created.
/// Returns the task's claim, still held.
pub fn create(
    ctx: &Context,
    prepared: Prepared,
    options: CreateOptions,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<(Spawned, crate::lock::Lock)> {
    // Claiming the task for the whole spawn, its undo included: of two spawns of the same task
    // one loses here, and prune leaves a task alone while it is being spawned or rolled back.
    let claim = crate::lock::claim_task(&ctx.repo, &prepared.record.name, "spawn")?;
    let mut prepared = prepared;
    if prepared.stacked_on.len() > 1 {
        // The merge of several dependencies, for real this time, by the user's identity.
        let signature = ctx.commit_identity("stacking on several dependencies")?;
        let name = prepared.record.name.clone();
        match crate::stack::start(&ctx.repo, prepared.stacked_on.clone(), &signature, &name)? {
            crate::stack::Start::On { commit, .. } => {
                prepared.start_commit = commit;
                if let Some(stack) = &mut prepared.record.stack {
                    stack.onto = commit.to_string();
                }
            }
            crate::stack::Start::Conflict { deps, conflicts } => return Err(stack_conflict(&name, &deps, &conflicts)),
        }
    }
    let name = prepared.record.name.clone();
    let undo = Undo::new("nothing of the task was kept");
    undoable(ctx, &name, claim, "spawn", undo, events, |undo, events| {
        create_steps(ctx, &prepared, options, undo, events)
    })
}

fn create_steps(
    ctx: &Context,
    prepared: &Prepared,
    options: CreateOptions,
    undo: &mut Undo,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<Spawned> {
    let repo = &ctx.repo;
    let record = &prepared.record;
    let branch = prepared.branch.as_bstr().to_string();
    if state::find_task(repo, &record.name)?.is_some() {
        return Err(crate::error::race(format!("task {:?} was created meanwhile", record.name)).into());
    }
    // A plan interrupted after its previous task starts no new one.
    undo.check_interrupted()?;
    crate::git::create_refs(
        repo,
        &[(&branch, prepared.start_commit)],
        &crate::layout::spawn_reflog_message(&record.name),
    )?;
    undo.branch = Some((prepared.branch.clone(), prepared.start_commit));
    crate::pause::point("spawn-branch-created");
    undo.check_interrupted()?;

    let new = NewWorktree { root: &prepared.root, path: &record.worktree, branch: &prepared.branch, task: record };
    check_out(ctx, &new, undo, events)?;
    crate::pause::point("spawn-worktree-added");
    undo.check_interrupted()?;
    let furnished = furnish(ctx, &new, options, undo, events)?;

    undo.check_interrupted()?;
    let record_commit = state::create_record(repo, record)?;
    undo.record = Some((crate::layout::record_ref(&record.name), record_commit));
    // The last safe point: a signal up to here undoes the record too.
    undo.check_interrupted()?;
    Ok(Spawned {
        task: record.name.clone(),
        branch: prepared.branch.shorten().to_string(),
        base_ref: record.base_ref.clone(),
        base_commit: record.base_commit.clone(),
        start_commit: prepared.start_commit.to_string(),
        stacked_on: prepared.stacked_on.iter().map(|dep| dep.task.clone()).collect(),
        worktree: record.worktree.clone(),
        copied: furnished.files.copied,
        setup: furnished.setup,
        agent: None,
        linked: furnished.files.linked,
        bytes: furnished.files.bytes,
        port: ctx.settings.port_range.port_of(&record.name),
    })
}

/// A task's new worktree: spawn's and join's.
pub(crate) struct NewWorktree<'a> {
    /// The worktree root, created if missing.
    pub root: &'a Path,
    pub path: &'a Path,
    /// The branch it checks out, which exists.
    pub branch: &'a FullName,
    /// The task, for agent.setup's environment.
    pub task: &'a TaskRecord,
}

/// What was put into a new worktree besides the branch's files.
#[derive(Debug, Default)]
pub(crate) struct Furnished {
    /// Files copied and linked from the main worktree.
    pub files: super::worktree_files::Furnished,
    /// The agent.setup command that ran, if any.
    pub setup: Option<String>,
}

/// Adds the worktree with its branch checked out, and notes it in `undo`.
pub(crate) fn check_out(
    ctx: &Context,
    new: &NewWorktree<'_>,
    undo: &mut Undo,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(new.root).with_context(|| format!("cannot create {}", new.root.display()))?;
    events(Event::CheckingOut { worktree: new.path.to_owned() });
    let added = crate::git::add_worktree(&ctx.repo, new.path, new.branch, crate::interrupt::flag());
    events(Event::CheckedOut);
    added?;
    undo.worktree = Some(new.path.to_owned());
    Ok(())
}

/// Copies the agent.copy and .worktreeinclude files into the new worktree, links the
/// agent.link paths, and runs agent.setup there (unless `options` say not to).
pub(crate) fn furnish(
    ctx: &Context,
    new: &NewWorktree<'_>,
    options: CreateOptions,
    undo: &Undo,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<Furnished> {
    let files = super::worktree_files::furnish(&ctx.repo, &ctx.settings, new.path)?;
    if !files.linked.is_empty() || !files.link_missing.is_empty() {
        events(Event::Linked {
            linked: files.linked.clone(),
            not_ignored: files.link_not_ignored.clone(),
            missing: files.link_missing.clone(),
        });
    }
    if !files.copied.is_empty() {
        events(Event::Copied { files: files.copied.clone(), bytes: files.bytes });
    }
    let mut furnished = Furnished { files, setup: None };
    if let (true, Some(setup)) = (options.run_setup, &ctx.settings.setup) {
        events(Event::SetupStarting { worktree: new.path.to_owned(), command: setup.clone() });
        run_setup_command(ctx, new, setup, options.quiet, undo)?;
        furnished.setup = Some(setup.clone());
    }
    Ok(furnished)
}

/// The environment of agent.setup and the agent: the task, its brief, branch and worktree
/// (here, on this machine), and its port (`agent.portRange`), so dev servers do not collide.
pub(crate) fn agent_env(
    run: crate::process::Run,
    settings: &crate::settings::Settings,
    record: &TaskRecord,
    worktree: &Path,
) -> crate::process::Run {
    run.env("GIT_AGENT_TASK", &record.name)
        .env("GIT_AGENT_PORT", settings.port_range.port_of(&record.name).to_string())
        .env("GIT_AGENT_BRIEF", &record.brief)
        .env("GIT_AGENT_BRANCH", record.short_branch())
        .env("GIT_AGENT_WORKTREE", worktree)
}

/// Runs `agent.setup` through the shell in the new worktree (it is the user's own command line).
fn run_setup_command(
    ctx: &Context,
    new: &NewWorktree<'_>,
    setup: &str,
    quiet: bool,
    undo: &Undo,
) -> anyhow::Result<()> {
    // Its output is status, not data: it goes to stderr, unless -q keeps it for the error.
    let capture = if quiet { Capture::Tail(crate::process::OUTPUT_TAIL) } else { Capture::Stderr };
    let outcome = agent_env(crate::process::Run::shell(setup, new.path), &ctx.settings, new.task, new.path)
        .timeout(Some(crate::process::SETUP_TIMEOUT))
        .capture(capture)
        .run()
        .with_context(|| format!("cannot run agent.setup {setup:?}"))?;
    undo.check_interrupted()?;
    if !outcome.status.success() {
        let mut message = format!("agent.setup {setup:?} failed ({})", outcome.status);
        let captured = outcome.output_tail_lossy();
        if !captured.trim().is_empty() {
            message.push_str(&format!(":\n{}", captured.trim_end()));
        }
        return Err(Fail::new(Exit::Found, message).hint("fix the setup command, or run again with --no-setup").into());
    }
    Ok(())
}

/// The agent command: `-- COMMAND...`, else the plan's, else `agent.command`.
pub fn agent_command(ctx: &Context, given: &[String], no_agent: bool) -> anyhow::Result<Option<Vec<String>>> {
    if no_agent {
        return Ok(None);
    }
    if !given.is_empty() {
        return Ok(Some(given.to_vec()));
    }
    match &ctx.settings.command {
        None => Ok(None),
        Some(line) => {
            let args = state::split_command_line(line)
                .map_err(|why| bad_input(format!("git config agent.command {line:?} cannot be split: {why}")))?;
            Ok(if args.is_empty() { None } else { Some(args) })
        }
    }
}

/// Runs the agent in the foreground in `task`'s `worktree`, without a shell, and records its
/// start and exit status as events on the task's record.
pub fn run_agent(
    ctx: &Context,
    task: &str,
    worktree: &Path,
    command: &[String],
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<i32> {
    let (_, record) = ctx.task(task)?;
    let args: Vec<String> = command.iter().map(|arg| arg.replace("{brief}", &record.brief)).collect();
    events(Event::AgentStarting { worktree: worktree.to_owned(), command: command.to_vec() });
    state::update_record(&ctx.repo, &record.name, |_| {
        Ok(state::Change::AgentStarted { command: command.to_vec(), how: "foreground".into() })
    })?;
    // The agent is interactive: it shares the terminal and has no timeout. Its stdout goes to
    // stderr: git-agent's stdout is the report (the worktree path, or --json's document).
    let agent = crate::process::Run::new(&args[0], worktree).args(&args[1..]).timeout(None);
    let status = match agent_env(agent, &ctx.settings, &record, worktree).capture(Capture::TerminalToStderr).run() {
        Ok(outcome) => crate::process::exit_code(outcome.status),
        Err(err) => {
            events(Event::AgentNotStarted { program: args[0].clone(), error: format!("{err:#}") });
            127
        }
    };
    events(Event::AgentExited { status });
    if let Some(warning) = crate::ops::status::agent_exited(&ctx.repo, &ctx.settings, &record.name, status, command)? {
        events(Event::NotifyFailed(warning));
    }
    Ok(status)
}

/// How many variants `spawn --variants K` makes: one alone compares with nothing, and beyond
/// 16 every variant's worktree, agent and test run in `compare` cost more than picking among
/// them can win.
pub const VARIANTS: std::ops::RangeInclusive<u32> = 2..=16;

/// The name of variant `index` (1-based) of `group`.
pub fn variant_name(group: &str, index: u32) -> String {
    format!("{group}.{index}")
}

/// The requests of `count` variants of `request` (named `<name>.1` ...): the same base, scope,
/// dependencies, brief and acceptance criteria; each its own agent command from `commands`
/// (one per variant) when given, else the request's. Checks the names and the numbers.
pub fn variant_requests(request: &Request, count: u32, commands: &[Vec<String>]) -> anyhow::Result<Vec<Request>> {
    if !VARIANTS.contains(&count) {
        return Err(bad_input(format!(
            "--variants {count}: between {} and {} variants",
            VARIANTS.start(),
            VARIANTS.end()
        ))
        .into());
    }
    if !commands.is_empty() && commands.len() != count as usize {
        return Err(bad_input(format!(
            "{} --variant-command for {count} variants: give none, or one per variant",
            commands.len()
        ))
        .into());
    }
    (1..=count)
        .map(|index| {
            let name = variant_name(&request.name, index);
            crate::names::validate_task_name(&name)?;
            let command = commands.get(index as usize - 1).cloned().unwrap_or_else(|| request.command.clone());
            let variant = Some(state::Variant { of: request.name.clone(), index, unknown: Default::default() });
            Ok(Request { name, command, variant, ..request.clone() })
        })
        .collect()
}

/// Checks every variant before any is created: no task has the group's name, and each
/// variant could be spawned on its own.
pub fn prepare_variants(ctx: &Context, group: &str, requests: &[Request]) -> anyhow::Result<Vec<Prepared>> {
    if state::find_task(&ctx.repo, group)?.is_some() {
        return Err(refused(format!("task {group:?} exists already: variants cannot be named after it"))
            .hint("pick another name; `git agent list` shows the tasks")
            .into());
    }
    requests
        .iter()
        .map(|request| {
            prepare(ctx, request, &HashSet::new())
                .with_context(|| format!("variant {:?} cannot be spawned; nothing was created", request.name))
        })
        .collect()
}

/// Creates every variant, all or nothing: should one fail, the ones created before it are
/// removed again through prune's guarded path (they hold nothing but what spawn put there).
/// Returns each variant with its claim, still held.
pub fn create_variants(
    ctx: &Context,
    prepared: Vec<Prepared>,
    options: CreateOptions,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<Vec<(Spawned, crate::lock::Lock)>> {
    let mut created: Vec<(Spawned, crate::lock::Lock)> = Vec::new();
    for one in prepared {
        let name = one.record.name.clone();
        match create(ctx, one, options, events) {
            Ok(done) => created.push(done),
            Err(err) => {
                let names: Vec<String> = created.iter().map(|(spawned, _)| spawned.task.clone()).collect();
                // The claims go first: prune claims each task itself.
                drop(created);
                let kept = roll_back_variants(ctx, &names, events);
                let what = if kept.is_empty() {
                    "the variants created before it were removed again".to_owned()
                } else {
                    format!("kept (could not be removed): {}", kept.join(", "))
                };
                return Err(err.context(format!("variant {name:?} failed; {what}")));
            }
        }
    }
    Ok(created)
}

/// Removes freshly spawned variants as `prune TASK...` would; returns those it kept.
fn roll_back_variants(ctx: &Context, names: &[String], events: &mut dyn FnMut(Event)) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let pruned = ctx.prune_options().and_then(|options| {
        let options = crate::ops::prune::Options { tasks: names.to_vec(), ..options };
        crate::ops::prune::prune(&ctx.repo, &state::read_tasks(&ctx.repo)?, &options)
    });
    match pruned {
        Ok(report) => report
            .tasks
            .iter()
            .filter(|task| task.action != crate::ops::prune::Action::Pruned)
            .map(|task| {
                events(Event::UndoKept { what: format!("variant {}", task.task), error: task.refusals.join("; ") });
                task.task.clone()
            })
            .collect(),
        Err(err) => {
            events(Event::UndoKept { what: format!("variants {}", names.join(", ")), error: format!("{err:#}") });
            names.to_vec()
        }
    }
}
