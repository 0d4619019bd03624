//! `git agent spawn`: a branch, a linked worktree and a task record per task, all or nothing.
//! The work is in [`crate::ops::spawn`]; this parses, and renders its results and events.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;

use super::Context;
use crate::cli::SpawnArgs;
use crate::error::{Exit, bad_input};
use crate::names::validate_task_name;
use crate::ops::background::How;
use crate::ops::spawn::{
    AgentRun, CreateOptions, Event, Guards, Request, Spawned, agent_command, create, create_variants, prepare,
    prepare_variants, recover_interrupted_spawn, run_agent, variant_requests,
};
use crate::output::{GlobalArgs, Ui};
use crate::plan::{self, ExistingTask};
use crate::state::{self, TaskState};

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
    if let Some(kind) = &args.kind {
        crate::ops::cost::validate_kind(kind).map_err(bad_input)?;
    }
    let request = Request {
        name,
        base: args.base.clone(),
        scope: args.scope.clone(),
        after: args.after.clone(),
        brief: read_brief(&args)?,
        acceptance: args.acceptance.clone(),
        command: args.command.clone(),
        kind: args.kind.clone(),
        stack: stack_choice(&args),
        variant: None,
        guards: Guards {
            protect: args.protect.clone(),
            contracts: args.contract.clone(),
            constraints: args.constraint.clone(),
            gate: args.gate.then_some(true),
        },
    };
    if let Some(count) = args.variants {
        return run_variants(global, ui, &args, &request, count);
    }
    let ctx = Context::open(global)?;
    if !args.check {
        recover_interrupted_spawn(&ctx, &request.name)?;
    }
    let prepared = prepare(&ctx, &request, &HashSet::new())?;
    if args.check {
        ui.status(format!(
            "ok: task {:?} can be spawned at {}{} in {}",
            request.name,
            crate::git::short_id(&prepared.base_commit),
            stacked_note(&prepared.stacked_on.iter().map(|d| d.task.clone()).collect::<Vec<_>>()),
            prepared.record.worktree.display()
        ));
        report_check(ui, std::slice::from_ref(&prepared));
        return Ok(Exit::Success);
    }
    let command = agent_command(&ctx, &request.command, args.no_agent)?;
    // The claim stays held while the agent runs: a running agent is part of its task, so
    // prune leaves the task alone and `list` shows it as running.
    let options = CreateOptions { run_setup: !args.no_setup, quiet: ui.quiet };
    let spinner = std::cell::RefCell::new(None);
    let (mut spawned, claim) = create(&ctx, prepared, options, &mut |event| show(ui, Some(&spinner), event))?;
    let mut exit = Exit::Success;
    let how = super::background::how(&ctx, args.detach, args.tmux);
    if (args.detach || args.tmux) && command.is_none() {
        drop(claim);
        report(ui, &spawned);
        return Err(bad_input(format!("task {:?} was spawned, but there is no agent command to start", spawned.task))
            .hint(format!("start it with `git agent run {} --detach -- COMMAND...`", spawned.task))
            .into());
    }
    // Interrupted after the task was complete: it is kept, and the agent not started.
    if let Some(command) = command.clone().filter(|_| !crate::interrupt::is_interrupted() && how != How::Foreground) {
        // The supervisor takes the claim over.
        drop(claim);
        let started =
            crate::ops::background::launch(&ctx, &spawned.task, &spawned.worktree, &command, how).map_err(|err| {
                err.context(format!("task {:?} was spawned (kept), but its agent did not start", spawned.task))
            })?;
        if ui.json {
            ui.json_data(&SpawnJson::Spawned {
                version: 1,
                spawned: std::slice::from_ref(&spawned),
                started: Some(Started::One(&started)),
            });
        } else {
            report(ui, &spawned);
            super::background::report_started(ui, &started);
        }
        return Ok(exit);
    }
    if let Some(command) = command.filter(|_| !crate::interrupt::is_interrupted()) {
        let _ = claim.set_purpose("agent");
        let status =
            run_agent(&ctx, &spawned.task, &spawned.worktree, &command, &mut |event| show(ui, Some(&spinner), event))?;
        if status != 0 {
            exit = Exit::Found;
        }
        spawned.agent = Some(AgentRun { command, exit: status });
    }
    drop(claim);
    report(ui, &spawned);
    Ok(exit)
}

/// `--stack` / `--from-base`, else `None`: `agent.stack` decides.
fn stack_choice(args: &SpawnArgs) -> Option<bool> {
    match (args.stack, args.from_base) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// ", stacked on db and ui" when the task starts on dependencies' work.
fn stacked_note(deps: &[String]) -> String {
    if deps.is_empty() { String::new() } else { format!(", stacked on {}", deps.join(" and ")) }
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

/// The spinner shown while a single spawn checks its files out.
pub(crate) type Spinner = std::cell::RefCell<Option<crate::output::Progress>>;

/// Progress goes to stderr as it happens; on a terminal a spinner runs while the files are
/// checked out (not within a plan, which has its bar). join shows its events the same way.
pub(crate) fn show(ui: &Ui, spinner: Option<&Spinner>, event: Event) {
    match event {
        Event::CheckingOut { worktree } => {
            if let Some(spinner) = spinner {
                *spinner.borrow_mut() = Some(ui.spinner(format!("checking out {}", worktree.display())));
            }
        }
        Event::CheckedOut => drop(spinner.and_then(|s| s.borrow_mut().take())),
        Event::Copied { files, bytes } => ui.status(format!(
            "copied {} file(s) ({} written, {} cloned): {}",
            files.len(),
            size(bytes.written),
            size(bytes.cloned),
            files.join(", ")
        )),
        Event::SetupStarting { worktree, command } => {
            ui.status(format!("running agent.setup in {}: {command}", worktree.display()))
        }
        Event::AgentStarting { worktree, command } => {
            ui.status(format!("starting the agent in {}: {}", worktree.display(), command.join(" ")))
        }
        Event::AgentNotStarted { program, error } => ui.warn(format!("cannot start the agent {program:?}: {error}")),
        Event::AgentExited { status } => {
            ui.status(format!("the agent exited with status {status}; worktree and branch are kept"))
        }
        Event::UndoKept { what, error } => ui.warn(format!("kept {what}: {error}")),
        Event::NotifyFailed(warning) => ui.warn(warning),
        Event::Linked { linked, not_ignored, missing } => {
            if !linked.is_empty() {
                ui.status(format!("linked to the main worktree: {}", linked.join(", ")));
            }
            for path in not_ignored {
                ui.warn(format!(
                    "the link {path} is not ignored by git, so list and prune see it as untracked: \
                     add `/{path}` (no trailing slash: a link is not a directory) to .gitignore"
                ));
            }
            for path in missing {
                ui.warn(format!("agent.link {path}: the main worktree has no {path}; nothing linked"));
            }
        }
    }
}

/// `512 B`, `3.4 KiB`, `1.2 MiB`, `5.0 GiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn report(ui: &Ui, spawned: &Spawned) {
    if ui.json {
        ui.json_data(&SpawnJson::Spawned { version: 1, spawned: std::slice::from_ref(spawned), started: None });
        return;
    }
    ui.status(format!(
        "spawned task {}: branch {} at {}{}{}",
        spawned.task,
        spawned.branch,
        &spawned.start_commit[..7],
        spawned.base_ref.as_deref().map(|b| format!(" ({})", b.trim_start_matches("refs/heads/"))).unwrap_or_default(),
        stacked_note(&spawned.stacked_on),
    ));
    // The worktree path is the data: `cd "$(git agent spawn db -q)"` works.
    ui.data(&format!("{}\n", spawned.worktree.display()));
}

/// `--variants K`: check every variant, create them all or none, start their agents in the
/// background.
fn run_variants(global: &GlobalArgs, ui: &Ui, args: &SpawnArgs, request: &Request, count: u32) -> anyhow::Result<Exit> {
    let commands = args
        .variant_command
        .iter()
        .map(|line| {
            state::split_command_line(line)
                .map_err(|why| bad_input(format!("--variant-command {line:?} cannot be split: {why}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let requests = variant_requests(request, count, &commands)?;
    let ctx = Context::open(global)?;
    for variant in requests.iter().filter(|_| !args.check) {
        recover_interrupted_spawn(&ctx, &variant.name)?;
    }
    let prepared = prepare_variants(&ctx, &request.name, &requests)?;
    let names: Vec<&str> = requests.iter().map(|r| r.name.as_str()).collect();
    if args.check {
        ui.status(format!("ok: {count} variants of {:?} can be spawned: {}", request.name, names.join(", ")));
        report_check(ui, &prepared);
        return Ok(Exit::Success);
    }
    let agents = requests
        .iter()
        .map(|variant| agent_command(&ctx, &variant.command, args.no_agent))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // K agents cannot share one terminal.
    let how = match super::background::how(&ctx, args.detach, args.tmux) {
        How::Tmux => How::Tmux,
        How::Foreground | How::Detached => How::Detached,
    };
    let options = CreateOptions { run_setup: !args.no_setup, quiet: ui.quiet };
    let created = create_variants(&ctx, prepared, options, &mut |event| show(ui, None, event))?;
    let mut exit = Exit::Success;
    let mut spawned = Vec::new();
    let mut started = Vec::new();
    for ((variant, claim), agent) in created.into_iter().zip(agents) {
        // The supervisor takes the claim over.
        drop(claim);
        if let Some(command) = agent.filter(|_| !crate::interrupt::is_interrupted()) {
            match crate::ops::background::launch(&ctx, &variant.task, &variant.worktree, &command, how) {
                Ok(one) => started.push(one),
                Err(err) => {
                    ui.warn(format!(
                        "variant {} was spawned (kept), but its agent did not start: {err:#}",
                        variant.task
                    ));
                    exit = Exit::Found;
                }
            }
        }
        spawned.push(variant);
    }
    if ui.json {
        ui.json_data(&SpawnJson::Spawned { version: 1, spawned: &spawned, started: Some(Started::Each(&started)) });
    } else {
        for variant in &spawned {
            ui.data(&format!("{}\t{}\n", variant.task, variant.worktree.display()));
        }
        for one in &started {
            super::background::report_started(ui, one);
        }
        ui.status(format!("compare them with `git agent compare {}`", request.name));
    }
    Ok(exit)
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
        // `--check --json` is asked for this very finding: it is the document (one string per
        // problem); the error below still says it on stderr and makes the exit status 2.
        if args.check && ui.json {
            ui.json_data(&SpawnJson::Check { version: 1, check: Check::Plan(&check) });
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
                kind: task.kind.clone(),
                stack: stack_choice(args),
                variant: None,
                guards: Guards {
                    protect: task.protect.clone(),
                    contracts: plan.contracts.clone(),
                    constraints: plan.constraints.iter().chain(&task.constraints).cloned().collect(),
                    // The task's own word, else the plan's; unsaid, agent.gate decides.
                    gate: match task.gate {
                        Some(gate) => Some(gate || args.gate),
                        None => (args.gate || plan.gate).then_some(true),
                    },
                },
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
            ui.json_data(&SpawnJson::Check { version: 1, check: Check::Plan(&check) });
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
    // A bar under the lines on a terminal: a plan's spawns (checkouts, setups) take a while.
    let progress = ui.progress(requests.len() as u64, false);
    for (position, request) in requests.iter().enumerate() {
        progress.doing(format!("spawning {}", request.name));
        let options = CreateOptions { run_setup: !args.no_setup, quiet: ui.quiet };
        let result = prepare(&ctx, request, &planned)
            .and_then(|prepared| create(&ctx, prepared, options, &mut |event| show(ui, None, event)))
            .map(|(spawned, _claim)| spawned);
        match result {
            Ok(spawned) => {
                progress.line(format!(
                    "[{}/{}] spawned task {} in {}{}",
                    position + 1,
                    requests.len(),
                    spawned.task,
                    spawned.worktree.display(),
                    stacked_note(&spawned.stacked_on)
                ));
                progress.set_done(position as u64 + 1);
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
    drop(progress);
    if ui.json {
        ui.json_data(&SpawnJson::Spawned { version: 1, spawned: &created, started: None });
    } else {
        for spawned in &created {
            ui.data(&format!("{}\t{}\n", spawned.task, spawned.worktree.display()));
        }
        ui.status("start each agent in its worktree, or spawn single tasks with `-- <agent command>`");
    }
    Ok(Exit::Success)
}

/// `--check --json` of a task or of variants: what would be created (the text is on stderr).
fn report_check(ui: &Ui, prepared: &[crate::ops::spawn::Prepared]) {
    if !ui.json {
        return;
    }
    let tasks = prepared
        .iter()
        .map(|one| WouldSpawn {
            task: one.record.name.clone(),
            branch: one.branch.shorten().to_string(),
            start_commit: one.start_commit.to_string(),
            stacked_on: one.stacked_on.iter().map(|dep| dep.task.clone()).collect(),
            worktree: one.record.worktree.clone(),
        })
        .collect();
    ui.json_data(&SpawnJson::Check { version: 1, check: Check::Tasks { tasks } });
}

/// `git agent spawn --json`: the tasks spawned, or with `--check` what would be.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum SpawnJson<'a> {
    Spawned {
        version: u32,
        spawned: &'a [Spawned],
        /// Where the background agents run: the task's, or (`--variants`) each variant's.
        #[serde(skip_serializing_if = "Option::is_none")]
        started: Option<Started<'a>>,
    },
    Check {
        version: u32,
        check: Check<'a>,
    },
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum Started<'a> {
    One(&'a crate::ops::background::Started),
    Each(&'a [crate::ops::background::Started]),
}

/// What `--check` found: a plan's validation, or the tasks (or variants) that would be spawned.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum Check<'a> {
    Plan(&'a plan::PlanCheck),
    Tasks { tasks: Vec<WouldSpawn> },
}

/// A task `--check` found could be spawned.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct WouldSpawn {
    task: String,
    /// The branch, short (`agent/db`).
    branch: String,
    /// The commit the branch would start at: the base, or where it would be stacked.
    start_commit: String,
    stacked_on: Vec<String>,
    worktree: std::path::PathBuf,
}
