//! `git agent spawn`: a branch, a linked worktree and a task record per task, all or nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bstr::ByteSlice;
use gix::ObjectId;
use gix::refs::FullName;
use serde::Serialize;

use super::Context;
use crate::cli::SpawnArgs;
use crate::error::{Exit, Fail, bad_input, refused};
use crate::names::validate_task_name;
use crate::output::{GlobalArgs, Ui};
use crate::plan::{self, ExistingTask};
use crate::process::Capture;
use crate::state::{self, RECORD_VERSION, TaskRecord, TaskState};

/// What the user asked for one task.
#[derive(Debug, Clone, Default)]
struct Request {
    name: String,
    base: Option<String>,
    scope: Vec<String>,
    after: Vec<String>,
    brief: String,
    acceptance: Vec<String>,
    command: Vec<String>,
}

/// A request checked against the repository: everything needed to create the task.
struct Prepared {
    record: TaskRecord,
    branch: FullName,
    base_commit: ObjectId,
    root: PathBuf,
}

/// What a spawn did, for the report.
#[derive(Debug, Serialize)]
pub struct Spawned {
    pub task: String,
    pub branch: String,
    pub base_ref: Option<String>,
    pub base_commit: String,
    pub worktree: PathBuf,
    /// Files copied from the main worktree (agent.copy).
    pub copied: Vec<String>,
    /// The agent.setup command that ran, if any.
    pub setup: Option<String>,
    /// The agent command and its exit status, if it ran.
    pub agent: Option<AgentRun>,
}

#[derive(Debug, Serialize)]
pub struct AgentRun {
    pub command: Vec<String>,
    pub exit: i32,
}

pub fn run(global: &GlobalArgs, ui: &Ui, args: SpawnArgs) -> anyhow::Result<Exit> {
    if let Some(plan_path) = &args.plan {
        return run_plan(global, ui, &args, plan_path);
    }
    let name = args.task.clone().expect("clap requires TASK unless --plan is given");
    // Names are checked before any git call.
    validate_task_name(&name)?;
    for dep in &args.after {
        validate_task_name(dep)?;
    }
    let request = Request {
        name,
        base: args.base.clone(),
        scope: args.scope.clone(),
        after: args.after.clone(),
        brief: read_brief(&args)?,
        acceptance: args.acceptance.clone(),
        command: args.command.clone(),
    };
    let ctx = Context::open(global)?;
    if !args.check {
        recover_interrupted_spawn(&ctx, &request.name)?;
    }
    let prepared = prepare(&ctx, &request, &HashSet::new())?;
    if args.check {
        ui.status(format!(
            "ok: task {:?} can be spawned at {} in {}",
            request.name,
            crate::git::short_id(&prepared.base_commit),
            prepared.record.worktree.display()
        ));
        return Ok(Exit::Success);
    }
    let command = agent_command(&ctx, &request.command, args.no_agent)?;
    // The claim stays held while the agent runs: a running agent is part of its task, so
    // prune leaves the task alone and `list` shows it as running.
    let (mut spawned, claim) = create(&ctx, ui, prepared, !args.no_setup)?;
    let mut exit = Exit::Success;
    // Interrupted after the task was complete: it is kept, and the agent not started.
    if let Some(command) = command.filter(|_| !crate::interrupt::is_interrupted()) {
        let _ = claim.set_purpose("agent");
        let status = run_agent(&ctx, ui, &spawned, &request.brief, &command)?;
        if status != 0 {
            exit = Exit::Found;
        }
        spawned.agent = Some(AgentRun { command, exit: status });
    }
    drop(claim);
    report(ui, &spawned);
    Ok(exit)
}

fn read_brief(args: &SpawnArgs) -> anyhow::Result<String> {
    match (&args.brief, &args.brief_file) {
        (Some(text), _) => Ok(text.clone()),
        (None, Some(path)) if path.as_os_str() == "-" => {
            std::io::read_to_string(std::io::stdin()).context("cannot read the brief from standard input")
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|err| bad_input(format!("cannot read brief file {}: {err}", path.display())).into()),
        (None, None) => Ok(String::new()),
    }
}

/// Checks everything that can be checked before writing: the task, branch and directory do not
/// exist, the dependencies and base do. `planned` are tasks a plan will create first.
fn prepare(ctx: &Context, request: &Request, planned: &HashSet<String>) -> anyhow::Result<Prepared> {
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
    if worktree.exists() && !worktree.is_dir() {
        return Err(refused(format!("{} exists and is not a directory", worktree.display())).into());
    }
    if crate::git::is_non_empty_dir(&worktree) {
        return Err(refused(format!("directory {} exists and is not empty", worktree.display()))
            .hint("git-agent never reuses a directory; move it away or pick another task name")
            .into());
    }
    if worktree.to_str().is_none() {
        return Err(refused(format!("the worktree path {} is not valid UTF-8", worktree.display()))
            .hint("set git config agent.worktreeRoot to a UTF-8 path")
            .into());
    }
    let record = TaskRecord {
        version: RECORD_VERSION,
        name: name.clone(),
        branch: branch.as_bstr().to_string(),
        base_ref,
        base_commit: base_commit.to_string(),
        worktree,
        scope: request.scope.clone(),
        after: request.after.clone(),
        brief: request.brief.clone(),
        acceptance: request.acceptance.clone(),
        command: request.command.clone(),
        created_ms: state::now_ms(),
        state: TaskState::Active,
        agent_exit: None,
        integrated_commit: None,
        integrated_tip: None,
        unknown: Default::default(),
    };
    Ok(Prepared { record, branch, base_commit, root })
}

/// A branch and worktree left by a spawn of `name` that was killed (no record, the branch
/// where spawn created it, a clean worktree, its claim's owner gone) are removed first, so that
/// a killed spawn never blocks a new one. Anything else is left for the checks below to refuse.
fn recover_interrupted_spawn(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let options = crate::prune::Options {
        branch_prefix: ctx.settings.branch_prefix.clone(),
        copy: ctx.settings.copy.clone(),
        worktree_root: ctx.worktree_root()?,
        disposable: ctx.settings.disposable.clone(),
        ..Default::default()
    };
    crate::prune::recover_interrupted_spawn(&ctx.repo, name, &options)?;
    Ok(())
}

/// What a spawn has created so far, undone in reverse order if a later step fails or a signal
/// arrives. (A checkout that fails half-way removes its own files and registration: gix rolls
/// it back.)
#[derive(Default)]
struct Undo {
    branch: Option<(FullName, ObjectId)>,
    worktree: Option<PathBuf>,
    record: Option<(String, ObjectId)>,
}

impl Undo {
    /// Through the guard like every removal: the record is deleted only if it is still the one
    /// this spawn wrote, the worktree is moved aside and deleted (it holds only what this spawn
    /// put there), the branch is deleted only if it is still where this spawn created it and
    /// checked out nowhere else.
    fn run(self, guard: &crate::guard::Guard<'_>, repo: &gix::Repository, ui: &Ui) {
        if let Some((record_ref, at)) = self.record
            && let Err(err) = guard.delete_record(at)
        {
            ui.warn(format!("kept the task record {record_ref}: {err:#}"));
        }
        if let Some(worktree) = self.worktree {
            let removed =
                crate::prune::find_registration(repo, guard.branch(), &worktree).and_then(|found| match found {
                    Some(registration) => guard.remove_worktree(&registration, |_| Ok(()), || Ok(())),
                    None => Ok(()),
                });
            if let Err(err) = removed {
                ui.warn(format!("could not remove the new worktree {}: {err:#}", worktree.display()));
            }
        }
        if let Some((branch, at)) = self.branch
            && let Err(err) = guard.delete_branch(at, false)
        {
            ui.warn(format!("kept branch {}: {err:#}", branch.shorten()));
        }
    }
}

/// Creates branch, worktree and record; on any failure or signal removes what it created.
/// Returns the task's claim, still held.
fn create(ctx: &Context, ui: &Ui, prepared: Prepared, run_setup: bool) -> anyhow::Result<(Spawned, crate::lock::Lock)> {
    // Claiming the task for the whole spawn, its undo included: of two spawns of the same task
    // one loses here, and prune leaves a task alone while it is being spawned or rolled back.
    let claim = crate::lock::claim_task(&ctx.repo, &prepared.record.name, "spawn")?;
    let mut undo = Undo::default();
    let mut spawned = Spawned {
        task: prepared.record.name.clone(),
        branch: prepared.branch.shorten().to_string(),
        base_ref: prepared.record.base_ref.clone(),
        base_commit: prepared.record.base_commit.clone(),
        worktree: prepared.record.worktree.clone(),
        copied: Vec::new(),
        setup: None,
        agent: None,
    };
    match create_steps(ctx, ui, &prepared, run_setup, &mut undo, &mut spawned) {
        Ok(()) => Ok((spawned, claim)),
        Err(err) => {
            let guard =
                crate::guard::Guard::with_claim(&ctx.repo, &prepared.record.name, &ctx.settings.branch_prefix, claim);
            undo.run(&guard, &ctx.repo, ui);
            Err(err.context(format!("spawn of task {:?} failed and was rolled back", prepared.record.name)))
        }
    }
}

fn create_steps(
    ctx: &Context,
    ui: &Ui,
    prepared: &Prepared,
    run_setup: bool,
    undo: &mut Undo,
    spawned: &mut Spawned,
) -> anyhow::Result<()> {
    let repo = &ctx.repo;
    let record = &prepared.record;
    let branch = prepared.branch.as_bstr().to_string();
    if state::find_task(repo, &record.name)?.is_some() {
        return Err(crate::error::race(format!("task {:?} was created meanwhile", record.name)).into());
    }
    // A plan interrupted after its previous task starts no new one.
    check_interrupted()?;
    crate::git::create_refs(
        repo,
        &[(&branch, prepared.base_commit)],
        &crate::layout::spawn_reflog_message(&record.name),
    )?;
    undo.branch = Some((prepared.branch.clone(), prepared.base_commit));
    crate::pause::point("spawn-branch-created");
    check_interrupted()?;

    std::fs::create_dir_all(&prepared.root).with_context(|| format!("cannot create {}", prepared.root.display()))?;
    crate::git::add_worktree(repo, &record.worktree, &prepared.branch, crate::interrupt::flag())?;
    undo.worktree = Some(record.worktree.clone());
    crate::pause::point("spawn-worktree-added");
    check_interrupted()?;

    spawned.copied = copy_untracked(ctx, &record.worktree)?;
    if !spawned.copied.is_empty() {
        ui.status(format!("copied {} untracked file(s): {}", spawned.copied.len(), spawned.copied.join(", ")));
    }
    if let (true, Some(setup)) = (run_setup, &ctx.settings.setup) {
        run_setup_command(ui, record, setup)?;
        spawned.setup = Some(setup.clone());
    }
    check_interrupted()?;
    let record_commit = state::create_record(repo, record)?;
    undo.record = Some((crate::layout::record_ref(&record.name), record_commit));
    // The last safe point: a signal up to here undoes the record too.
    check_interrupted()?;
    Ok(())
}

fn check_interrupted() -> anyhow::Result<()> {
    crate::interrupt::check("nothing of the task was kept")
}

/// Copies the main worktree's untracked and ignored files matching `agent.copy` into `dest`.
fn copy_untracked(ctx: &Context, dest: &Path) -> anyhow::Result<Vec<String>> {
    if ctx.settings.copy.is_empty() {
        return Ok(Vec::new());
    }
    let main = crate::git::main_repo(&ctx.repo)?;
    let Some(source) = main.workdir().map(ToOwned::to_owned) else {
        return Ok(Vec::new());
    };
    let mut copied = Vec::new();
    for path in crate::git::untracked_matching(&main, &ctx.settings.copy)? {
        let relative = gix::path::from_bstr(path.as_bstr())?.into_owned();
        let target = dest.join(&relative);
        if target.symlink_metadata().is_ok() {
            continue; // Tracked in the new checkout: the branch's version wins.
        }
        copy_recursively(&source.join(&relative), &target)
            .with_context(|| format!("cannot copy {} into the new worktree", relative.display()))?;
        copied.push(crate::git::bytes_to_string(&path));
    }
    Ok(copied)
}

/// Copies a file, a symlink (as a symlink) or a directory tree.
fn copy_recursively(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = from.symlink_metadata()?;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        #[cfg(unix)]
        return std::os::unix::fs::symlink(std::fs::read_link(from)?, to);
        #[cfg(not(unix))]
        return std::fs::copy(from, to).map(|_| ());
    }
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_recursively(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ())
}

fn agent_env(run: crate::process::Run, record: &TaskRecord) -> crate::process::Run {
    run.env("GIT_AGENT_TASK", &record.name)
        .env("GIT_AGENT_BRIEF", &record.brief)
        .env("GIT_AGENT_BRANCH", record.short_branch())
        .env("GIT_AGENT_WORKTREE", &record.worktree)
}

/// Runs `agent.setup` through the shell in the new worktree (it is the user's own command line).
fn run_setup_command(ui: &Ui, record: &TaskRecord, setup: &str) -> anyhow::Result<()> {
    ui.status(format!("running agent.setup in {}: {setup}", record.worktree.display()));
    // Its output is status, not data: it goes to stderr, unless -q keeps it for the error.
    let capture = if ui.quiet { Capture::Tail(crate::process::OUTPUT_TAIL) } else { Capture::Stderr };
    let outcome = agent_env(crate::process::Run::shell(setup, &record.worktree), record)
        .timeout(Some(crate::process::SETUP_TIMEOUT))
        .capture(capture)
        .run()
        .with_context(|| format!("cannot run agent.setup {setup:?}"))?;
    check_interrupted()?;
    if !outcome.status.success() {
        let mut message = format!("agent.setup {setup:?} failed ({})", outcome.status);
        let captured = outcome.output_tail_lossy();
        if !captured.trim().is_empty() {
            message.push_str(&format!(":\n{}", captured.trim_end()));
        }
        return Err(Fail::new(Exit::Found, message).hint("fix the setup command, or spawn with --no-setup").into());
    }
    Ok(())
}

/// The agent command: `-- COMMAND...`, else the plan's, else `agent.command`.
fn agent_command(ctx: &Context, given: &[String], no_agent: bool) -> anyhow::Result<Option<Vec<String>>> {
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

/// Runs the agent in the foreground in the task's worktree, without a shell, and records
/// its exit status as an event on the task's record.
fn run_agent(ctx: &Context, ui: &Ui, spawned: &Spawned, brief: &str, command: &[String]) -> anyhow::Result<i32> {
    let (_, record) = ctx.task(&spawned.task)?;
    let args: Vec<String> = command.iter().map(|arg| arg.replace("{brief}", brief)).collect();
    ui.status(format!("starting the agent in {}: {}", spawned.worktree.display(), command.join(" ")));
    // The agent is interactive: it shares the terminal and has no timeout.
    let agent = crate::process::Run::new(&args[0], &spawned.worktree).args(&args[1..]).timeout(None);
    let status = match agent_env(agent, &record).capture(Capture::Terminal).run() {
        Ok(outcome) => crate::process::exit_code(outcome.status),
        Err(err) => {
            ui.warn(format!("cannot start the agent {:?}: {err:#}", args[0]));
            127
        }
    };
    ui.status(format!("the agent exited with status {status}; worktree and branch are kept"));
    // The agent may have changed the record itself (`git agent done`): update the newest one.
    state::update_record(&ctx.repo, &record.name, "agent-exit", |current| {
        current.agent_exit = Some(status);
        if current.command.is_empty() {
            current.command = command.to_vec();
        }
        Ok(())
    })?;
    Ok(status)
}

fn report(ui: &Ui, spawned: &Spawned) {
    if ui.json {
        ui.json_data(&serde_json::json!({ "version": 1, "spawned": [spawned] }));
        return;
    }
    ui.status(format!(
        "spawned task {}: branch {} at {}{}",
        spawned.task,
        spawned.branch,
        &spawned.base_commit[..7],
        spawned.base_ref.as_deref().map(|b| format!(" ({})", b.trim_start_matches("refs/heads/"))).unwrap_or_default(),
    ));
    // The worktree path is the data: `cd "$(git agent spawn db -q)"` works.
    ui.data(&format!("{}\n", spawned.worktree.display()));
}

/// `--plan`: validate the whole decomposition, then spawn the tasks in dependency order.
fn run_plan(global: &GlobalArgs, ui: &Ui, args: &SpawnArgs, path: &Path) -> anyhow::Result<Exit> {
    let plan = plan::read_plan(path)?;
    let ctx = Context::open(global)?;
    let existing_entries = state::read_tasks(&ctx.repo)?;
    let existing: Vec<ExistingTask<'_>> = existing_entries
        .iter()
        .map(|entry| match &entry.record {
            Ok(record) => ExistingTask {
                name: &entry.name,
                scope: &record.scope,
                active: matches!(record.state, TaskState::Active | TaskState::Done),
            },
            Err(_) => ExistingTask { name: &entry.name, scope: &[], active: false },
        })
        .collect();
    let check = plan::check_plan(&plan, &existing, args.allow_overlap);
    for warning in &check.warnings {
        ui.warn(warning);
    }
    if !check.errors.is_empty() {
        if ui.json {
            ui.json_data(&serde_json::json!({ "version": 1, "check": check }));
        }
        let list: Vec<String> = check.errors.iter().map(|e| format!("  - {e}")).collect();
        return Err(bad_input(format!("the plan {} is not valid:\n{}", path.display(), list.join("\n")))
            .hint("fix the plan and run again; nothing was created")
            .into());
    }

    // Check every task against the repository before creating any.
    let planned: HashSet<String> = plan.tasks.iter().map(|t| t.name.clone()).collect();
    let requests: Vec<Request> = check
        .order
        .iter()
        .map(|name| {
            let task = plan.tasks.iter().find(|t| &t.name == name).expect("ordered names come from the plan");
            Request {
                name: task.name.clone(),
                base: args.base.clone().or_else(|| plan.base.clone()),
                scope: task.scope.clone(),
                after: task.after.clone(),
                brief: task.brief.clone(),
                acceptance: task.acceptance.clone(),
                command: task.command.clone(),
            }
        })
        .collect();
    for request in requests.iter().filter(|_| !args.check) {
        recover_interrupted_spawn(&ctx, &request.name)?;
    }
    for request in &requests {
        prepare(&ctx, request, &planned)
            .with_context(|| format!("task {:?} of the plan cannot be spawned", request.name))?;
    }
    if args.check {
        if ui.json {
            ui.json_data(&serde_json::json!({ "version": 1, "check": check }));
        } else {
            ui.data(&format!(
                "ok: {} task(s) would be spawned in this order: {}\n",
                check.order.len(),
                check.order.join(", ")
            ));
        }
        return Ok(Exit::Success);
    }

    let mut created = Vec::new();
    for request in &requests {
        let result = prepare(&ctx, request, &planned)
            .and_then(|prepared| create(&ctx, ui, prepared, !args.no_setup))
            .map(|(spawned, _claim)| spawned);
        match result {
            Ok(spawned) => {
                ui.status(format!("spawned task {} in {}", spawned.task, spawned.worktree.display()));
                created.push(spawned);
            }
            Err(err) => {
                let done: Vec<&str> = created.iter().map(|s| s.task.as_str()).collect();
                let kept = if done.is_empty() { "none".to_owned() } else { done.join(", ") };
                return Err(err.context(format!(
                    "the plan stopped at task {:?}; tasks already spawned (kept): {kept}",
                    request.name
                )));
            }
        }
    }
    if ui.json {
        ui.json_data(&serde_json::json!({ "version": 1, "spawned": created }));
    } else {
        for spawned in &created {
            ui.data(&format!("{}\t{}\n", spawned.task, spawned.worktree.display()));
        }
        ui.status("start each agent in its worktree, or spawn single tasks with `-- <agent command>`");
    }
    Ok(Exit::Success)
}
