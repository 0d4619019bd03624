//! `git agent-integrate` (also `git agent integrate`): the tasks in dependency order, tested
//! after every merge, landed all or nothing. The steps are in [`crate::integrate`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::cli::IntegrateArgs;
use crate::error::{Exit, bad_input, refused};
use crate::integrate::{Event, Options, ResolveRule, Skipped, Step, StepStatus, Strategy, TestAt};
use crate::output::{GlobalArgs, Stream, Style, Ui, paint_on};
use crate::state::{self, TaskRecord, TaskState};

#[derive(Serialize, schemars::JsonSchema)]
struct TargetReport {
    name: String,
    #[serde(rename = "ref")]
    full_ref: String,
    before: String,
    after: Option<String>,
    /// What the destination points at now, after the run (`null`: it does not exist).
    current: Option<String>,
    /// The destination moved during the run, and not by this run.
    moved_by_others: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Report<'a> {
    version: u32,
    target: TargetReport,
    strategy: Strategy,
    /// When the tests ran: after each merge, or at the end with bisection.
    test_at: TestAt,
    dry_run: bool,
    landed: bool,
    steps: &'a [Step],
    skipped: &'a [Skipped],
    /// Done tasks not integrated because something about them is wrong (default selection only).
    left_out: &'a [LeftOut],
    /// `--push`: where the landed destination was pushed.
    pushed: Option<Pushed>,
    /// With --branch: the pull request to open next (when `gh` is installed).
    pull_request: Option<PullRequest>,
}

/// A push after landing.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Pushed {
    remote: String,
    #[serde(rename = "ref")]
    full_ref: String,
    commit: String,
    /// The lease: what the remote's branch had to be (`null`: it had to be absent).
    expected: Option<String>,
}

/// The next step for an integration branch: `gh pr create` with a body naming each task.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct PullRequest {
    command: Vec<String>,
    /// The body: the tasks, their briefs and acceptance criteria (also in `body_file`).
    body: String,
    body_file: PathBuf,
}

/// A done task the default selection left out, and why.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct LeftOut {
    task: String,
    why: String,
}

/// Removes from `records` (the done tasks) every task that would stop the whole run: a missing
/// branch, a base branch that is another task's, a dependency that is neither being integrated
/// nor integrated already (repeatedly: its dependents follow it), and the tasks of a cycle.
fn leave_out_unintegrable(
    repo: &gix::Repository,
    entries: &[state::TaskEntry],
    records: &mut Vec<(ObjectId, TaskRecord)>,
    settings: &crate::settings::Settings,
    allowed: &[String],
) -> anyhow::Result<Vec<LeftOut>> {
    let mut left_out = Vec::new();
    let task_branches = format!("refs/heads/{}", settings.branch_prefix);
    let mut keep = Vec::new();
    for (commit, record) in records.drain(..) {
        let why = if crate::git::ref_target(repo, &record.branch)?.is_none() {
            Some(format!("its branch {} is missing", record.short_branch()))
        } else if let Some(base) = record.base_ref.as_deref().filter(|base| base.starts_with(&task_branches)) {
            Some(format!("it was spawned from the task branch {base}; integrate it with --into"))
        } else {
            guard_refusal(repo, entries, &record, settings, allowed)?
        };
        match why {
            Some(why) => left_out.push(LeftOut { task: record.name.clone(), why }),
            None => keep.push((commit, record)),
        }
    }
    let integrated_elsewhere = |name: &str| {
        entries.iter().any(|e| e.name == name && e.record.as_ref().is_ok_and(|r| r.state == TaskState::Integrated))
    };
    // Leaving a task out can leave its dependents without their dependency: until nothing changes.
    loop {
        let names: Vec<String> = keep.iter().map(|(_, r)| r.name.clone()).collect();
        let lacking = |r: &TaskRecord| {
            r.after
                .iter()
                .find(|dep| {
                    !names.contains(dep)
                        && !integrated_elsewhere(dep)
                        && !merged_already(repo, entries, dep)
                        && !pruned_dependency_landed(repo, entries, r, dep)
                })
                .cloned()
        };
        if let Some(i) = keep.iter().position(|(_, r)| lacking(r).is_some()) {
            let (_, record) = keep.remove(i);
            let dep = lacking(&record).unwrap_or_default();
            let why = if left_out.iter().any(|l| l.task == dep) {
                format!("its dependency {dep} is left out")
            } else {
                format!("its dependency {dep} is neither done nor integrated")
            };
            left_out.push(LeftOut { task: record.name, why });
            continue;
        }
        let index = crate::graph::index_by_name(&names);
        let deps: Vec<Vec<usize>> =
            keep.iter().map(|(_, r)| r.after.iter().filter_map(|d| index.get(d.as_str()).copied()).collect()).collect();
        let Err(cycle) = crate::graph::topo_order(&names, &deps) else { break };
        let why = format!("it is in the dependency cycle {cycle}");
        keep.retain(|(_, r)| {
            let in_cycle = cycle.0.contains(&r.name);
            if in_cycle {
                left_out.push(LeftOut { task: r.name.clone(), why: why.clone() });
            }
            !in_cycle
        });
    }
    *records = keep;
    Ok(left_out)
}

/// Why the guards forbid integrating `record`: its plan was never approved, or its own
/// changes touch a contract or protected path, or add a dependency against a constraint
/// (unless `allowed` names it, or is `*`).
fn guard_refusal(
    repo: &gix::Repository,
    entries: &[state::TaskEntry],
    record: &TaskRecord,
    settings: &crate::settings::Settings,
    allowed: &[String],
) -> anyhow::Result<Option<String>> {
    if let Some(gate) = record.gate.as_ref().filter(|_| record.awaits_approval()) {
        return Ok(Some(format!(
            "it was gated and its plan was never approved (the gate is {}); `git agent approve {}` after reading it",
            gate.state.as_str(),
            record.name
        )));
    }
    if allowed.iter().any(|a| a == crate::cli::ALL_TASKS || a == &record.name)
        || !crate::hazard::guarded(record, &settings.protected)
    {
        return Ok(None);
    }
    let Some(head) = crate::git::ref_target(repo, &record.branch)? else { return Ok(None) };
    let base_commit = ObjectId::from_hex(record.base_commit.as_bytes())?;
    let target = match &record.base_ref {
        Some(base_ref) => crate::git::ref_target(repo, base_ref)?.unwrap_or(base_commit),
        None => base_commit,
    };
    let own = crate::stack::own_changed_paths(repo, record, entries, head, target)?;
    let hazards = crate::hazard::hazards(repo, record, &settings.protected, &own)?;
    if hazards.is_empty() {
        return Ok(None);
    }
    let what: Vec<String> = hazards.iter().map(|h| h.describe()).collect();
    Ok(Some(format!("it {}; pass --allow-contract-change={} if that is intended", what.join(", "), record.name)))
}

/// A dependency `dep` of `task` with no record any more (pruned) whose work `task` was
/// stacked on is in `task`'s base branch: integrated, then pruned. (Without a stack, nothing
/// says where its work was: such a dependency stays missing.)
fn pruned_dependency_landed(
    repo: &gix::Repository,
    entries: &[state::TaskEntry],
    task: &TaskRecord,
    dep: &str,
) -> bool {
    if entries.iter().any(|e| e.name == dep) {
        return false;
    }
    let tip = task.stack.as_ref().and_then(|s| s.tips.get(dep)).and_then(|hex| ObjectId::from_hex(hex.as_bytes()).ok());
    let base = task.base_ref.as_deref().and_then(|b| crate::git::ref_target(repo, b).ok().flatten());
    matches!((tip, base), (Some(tip), Some(base)) if crate::git::merge_base(repo, tip, base).ok().flatten() == Some(tip))
}

/// Is the task `name`'s branch merged into its base already (integrated by hand)?
fn merged_already(repo: &gix::Repository, entries: &[state::TaskEntry], name: &str) -> bool {
    entries.iter().any(|e| {
        e.name == name
            && e.record.as_ref().is_ok_and(|r| {
                let tip = crate::git::ref_target(repo, &r.branch).ok().flatten();
                let base = r.base_ref.as_deref().and_then(|b| crate::git::ref_target(repo, b).ok().flatten());
                matches!((tip, base), (Some(tip), Some(base)) if crate::git::merge_base(repo, tip, base).ok().flatten() == Some(tip))
            })
    })
}

/// Seconds before a test is killed, when neither --test-timeout nor agent.testTimeout says.
const DEFAULT_TEST_TIMEOUT: u64 = 600;

pub fn run(global: &GlobalArgs, ui: &Ui, args: IntegrateArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
    let branch_ref = args.branch.as_deref().map(crate::git::branch_ref).transpose()?;
    let ctx = Context::open(global)?;
    let repo = &ctx.repo;
    let entries = state::read_tasks(repo)?;
    let mut records: Vec<(ObjectId, TaskRecord)> = Vec::new();
    for entry in &entries {
        let wanted = if args.tasks.is_empty() {
            matches!(&entry.record, Ok(r) if r.state == TaskState::Done)
        } else {
            args.tasks.contains(&entry.name)
        };
        if !wanted {
            continue;
        }
        match &entry.record {
            Ok(record) => records.push((entry.record_commit, record.clone())),
            Err(why) => return Err(refused(format!("the record of task {} is corrupt: {why}", entry.name)).into()),
        }
    }
    if let Some(missing) = args.tasks.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
        return Err(bad_input(format!("no task named {missing:?}")).hint("`git agent list` shows the tasks").into());
    }
    // Without names, one task that cannot be integrated (no branch, a cycle, a missing
    // dependency, a base that is another task's branch) is left out and said so, not allowed
    // to stop the others. Named tasks are the user's explicit choice: their problems are errors.
    for allowed in args.allow_contract_change.iter().filter(|a| *a != crate::cli::ALL_TASKS) {
        crate::names::validate_task_name(allowed)?;
    }
    let left_out = if args.tasks.is_empty() {
        leave_out_unintegrable(repo, &entries, &mut records, &ctx.settings, &args.allow_contract_change)?
    } else {
        let mut refusals = Vec::new();
        for (_, record) in &records {
            if let Some(why) = guard_refusal(repo, &entries, record, &ctx.settings, &args.allow_contract_change)? {
                refusals.push(format!("  - task {}: {why}", record.name));
            }
        }
        if !refusals.is_empty() {
            return Err(refused(format!("the guards refuse:\n{}", refusals.join("\n")))
                .hint("nothing was integrated; `git agent list` shows every task's hazards and gate")
                .into());
        }
        Vec::new()
    };
    for left in &left_out {
        ui.warn(format!("task {} left out: {}", left.task, left.why));
    }
    if records.is_empty() {
        ui.status("no tasks to integrate: mark tasks ready with `git agent done <task>`, or name them");
        if ui.json {
            ui.json_data(&IntegrateJson::Nothing {
                version: 1,
                landed: false,
                steps: &[],
                skipped: &[],
                left_out: &left_out,
            });
        }
        return Ok(Exit::Success);
    }

    // What is being written: the target itself, or an integration branch built from it.
    let (target_name, target_ref) = target(repo, args.into.as_deref(), &records)?;
    let target_tip = crate::git::ref_target(repo, &target_ref)?
        .ok_or_else(|| bad_input(format!("branch {target_name} does not exist")))?;
    let (dest_ref, dest_name, dest_before) = match &branch_ref {
        Some(full) => {
            let task_branches = format!("refs/heads/{}", ctx.settings.branch_prefix);
            if full.as_bstr().starts_with(task_branches.as_bytes()) {
                return Err(bad_input(format!("--branch {}: that is where task branches live", full.shorten()))
                    .hint("name an integration branch outside agent.branchPrefix, for example integration/today")
                    .into());
            }
            if full.as_bstr() == target_ref.as_str() {
                return Err(bad_input(format!("--branch {} is the target itself", full.shorten()))
                    .hint("leave out --branch to integrate into the target, or name another branch")
                    .into());
            }
            let before = crate::git::ref_target(repo, &full.as_bstr().to_string())?;
            (full.as_bstr().to_string(), full.shorten().to_string(), before)
        }
        None => (target_ref.clone(), target_name.clone(), Some(target_tip)),
    };
    let start = dest_before.unwrap_or(target_tip);

    let is_integrated = |task: &TaskRecord, name: &str| {
        pruned_dependency_landed(repo, &entries, task, name)
            || entries.iter().any(|e| {
                e.name == name
                    && e.record.as_ref().is_ok_and(|r| {
                        r.state == TaskState::Integrated
                            || crate::git::ref_target(repo, &r.branch).ok().flatten().is_some_and(|tip| {
                                crate::git::merge_base(repo, tip, target_tip).ok().flatten() == Some(tip)
                            })
                    })
            })
    };
    let ordered = crate::integrate::order(records.iter().map(|(_, r)| r.clone()).collect(), is_integrated)?;

    // A checked-out destination must be clean, or its owner would lose track of the changes.
    let checked_out = checked_out_worktree(repo, &dest_ref)?;
    if let (Some(worktree), false) = (&checked_out, args.dry_run) {
        let wt = crate::git::open_worktree_for_status(worktree)?;
        if crate::git::has_changes(&wt)? {
            return Err(refused(format!(
                "{dest_name} is checked out in {} and has uncommitted changes or untracked files",
                worktree.display()
            ))
            .hint("commit or stash them there first, or integrate onto a branch with --branch <name>")
            .into());
        }
    }

    if let Some(remote) = &args.push {
        check_remote(repo, remote)?;
    }
    let test = test_command(&ctx, &args)?;
    let rules = rule_commands(&ctx)?;
    let options = Options {
        strategy: args.strategy,
        test: test.as_ref().map(|t| t.command.clone()),
        test_timeout: Duration::from_secs(
            args.test_timeout.or(ctx.settings.test_timeout).unwrap_or(DEFAULT_TEST_TIMEOUT),
        ),
        keep_going: args.keep_going,
        dry_run: args.dry_run,
        rules: rules.clone(),
        identity: identity(&ctx, args.dry_run)?,
        scratch_dir: scratch_dir(&ctx)?,
        test_at: args.test_at,
        // No more jobs than slots a target can have.
        jobs: (args.jobs.or(ctx.settings.test_jobs).unwrap_or(1) as usize).min(crate::scratch::MAX_SLOTS),
        retries: args.retries,
        follow_output: args.verbose,
        // Slots belong to the target, also when building an integration branch on it: every
        // run onto main (integration branches included) finds them warm.
        target_ref: target_ref.clone(),
        prepare: crate::scratch::Prepare::from_settings(repo, &ctx.settings)?,
    };
    if !args.dry_run {
        // Shown before anything runs: a command planted in a configuration file does not
        // run unnoticed.
        if let Some(test) = &test {
            ui.status(format!("running {} after every merge: {}", test.from, test.command));
        }
        for rule in &rules {
            let (name, path, origin) = (&rule.name, &rule.path, &rule.origin);
            let settle =
                format!("settling conflicts confined to {path} by agent.resolve.{name}.strategy {}", rule.strategy);
            ui.status(match (&rule.run, rule.strategy) {
                (Some(run), crate::integrate::ResolveStrategy::Run) => {
                    format!("running agent.resolve.{name}.run from {origin} on conflicts confined to {path}: {run}")
                }
                (Some(run), _) => format!("{settle}, then running agent.resolve.{name}.run from {origin}: {run}"),
                (None, _) => format!("{settle} from {origin}"),
            });
        }
        // The scratch worktree is checked out as git checks out: the filter drivers the
        // attributes name run there. They are commands too.
        if test.is_some() || !rules.is_empty() {
            for (key, origin, command) in filter_drivers(repo) {
                ui.status(format!("the scratch checkout may run {key} from {origin}: {command}"));
            }
        }
    }
    let order_text: Vec<&str> = ordered.iter().map(|t| t.name.as_str()).collect();
    ui.status(format!("integrating into {dest_name} ({}): {}", crate::git::short_id(&start), order_text.join(", ")));

    if !args.dry_run {
        remove_orphaned_scratch(repo, &options.scratch_dir, ui);
    }
    // Progress as the run goes: lines above a live bar naming the running tests (on a terminal).
    let progress = ui.progress(ordered.len() as u64, args.verbose);
    let running = std::cell::RefCell::new(std::collections::BTreeSet::<String>::new());
    let show = |event: Event<'_>| {
        match &event {
            Event::TestStarted { task, .. } => {
                running.borrow_mut().insert(task.to_string());
            }
            Event::Step { position, step, .. } => {
                running.borrow_mut().remove(&step.task);
                progress.set_done(*position as u64);
            }
            Event::Bisecting { .. } | Event::Scratch(_) => {}
        }
        let now: Vec<String> = running.borrow().iter().cloned().collect();
        progress.doing(if now.is_empty() { String::new() } else { format!("testing {}", now.join(", ")) });
        // Every event gets its line too: a log read later has only the lines.
        progress.line(progress_line(&event));
    };
    let outcome = if args.dry_run {
        // In memory only: nothing the dry run computes reaches the object database.
        let memory_repo = repo.clone().with_object_memory();
        crate::integrate::run(&memory_repo, start, &ordered, &options, &show)?
    } else {
        crate::integrate::run(repo, start, &ordered, &options, &show)?
    };

    // The last safe point: a signal up to here leaves the target and the notes as they were.
    crate::interrupt::check("the target is unchanged")?;
    let landed = write_results(repo, &args, &dest_ref, dest_before, start, &records, &outcome)?;
    // Said as it is: a test command (or anyone) may have moved the destination meanwhile.
    let current = crate::git::ref_target(repo, &dest_ref)?;
    // A refused push still reports what landed here; its error (exit 4) comes after the report.
    let (pushed, push_refused) = match (&args.push, landed) {
        (Some(remote), true) => match push(repo, ui, remote, &dest_ref, dest_before, outcome.head) {
            Ok(pushed) => (Some(pushed), None),
            Err(err) => (None, Some(err)),
        },
        _ => (None, None),
    };
    let pull_request = match (&args.branch, current) {
        (Some(_), Some(head)) if which::which("gh").is_ok() && !args.dry_run => {
            Some(pull_request(repo, &target_name, target_tip, &dest_name, head, &entries)?)
        }
        _ => None,
    };

    let report = Report {
        version: 1,
        target: TargetReport {
            name: dest_name.clone(),
            full_ref: dest_ref.clone(),
            before: start.to_string(),
            after: landed.then(|| outcome.head.to_string()),
            current: current.map(|id| id.to_string()),
            moved_by_others: !landed && current != dest_before,
        },
        strategy: args.strategy,
        test_at: args.test_at,
        dry_run: args.dry_run,
        landed,
        steps: &outcome.steps,
        skipped: &outcome.skipped,
        left_out: &left_out,
        pushed,
        pull_request,
    };
    if ui.json {
        ui.json_data(&IntegrateJson::Ran(&report));
    } else {
        ui.data(&render(&report));
    }
    if let Some(err) = push_refused {
        return Err(err);
    }
    Ok(if outcome.failed { Exit::Found } else { Exit::Success })
}

/// Lands the run (destination, records, notes in one transaction), or, for a run that
/// stopped on a conflict or a failed test, records what it tested; returns whether it landed.
fn write_results(
    repo: &gix::Repository,
    args: &IntegrateArgs,
    dest_ref: &str,
    dest_before: Option<ObjectId>,
    start: ObjectId,
    records: &[(ObjectId, TaskRecord)],
    outcome: &crate::integrate::Outcome,
) -> anyhow::Result<bool> {
    if args.dry_run {
        return Ok(false);
    }
    let stopped = outcome.failed && !args.keep_going;
    if stopped || outcome.head == start {
        if outcome.failed {
            crate::land::record_notes(repo, &outcome.notes)?;
        }
        return Ok(false);
    }
    // An integration branch is not the target: its tasks are not integrated yet.
    let (records, integrated) = match args.branch {
        Some(_) => (&[][..], &[][..]),
        None => (records, &outcome.integrated[..]),
    };
    let landing = crate::land::Landing {
        dest_ref,
        before: dest_before,
        after: outcome.head,
        // Looked up again: it may have been checked out somewhere during the run.
        checked_out: checked_out_worktree(repo, dest_ref)?,
        records,
        integrated,
        notes: &outcome.notes,
    };
    crate::land::land(repo, &landing)?;
    Ok(true)
}

/// `--into`, else the tasks' common base branch: (short name, full ref).
fn target(
    repo: &gix::Repository,
    into: Option<&str>,
    records: &[(ObjectId, TaskRecord)],
) -> anyhow::Result<(String, String)> {
    if let Some(branch) = into {
        let full = crate::git::local_branch(repo, branch)
            .ok_or_else(|| bad_input(format!("--into {branch:?}: no such local branch")))?;
        // A task integrated into its own branch would count as integrated with nothing merged.
        if let Some((_, record)) = records.iter().find(|(_, r)| full.as_bstr() == r.branch.as_str()) {
            return Err(bad_input(format!("--into {branch}: that is the own branch of task {}", record.name))
                .hint("integrate the task into the branch it was spawned from, or leave it out")
                .into());
        }
        return Ok((full.shorten().to_string(), full.as_bstr().to_string()));
    }
    let mut bases: Vec<&str> = records.iter().filter_map(|(_, r)| r.base_ref.as_deref()).collect();
    bases.sort();
    bases.dedup();
    match bases.as_slice() {
        [one] => Ok((one.trim_start_matches("refs/heads/").to_owned(), (*one).to_owned())),
        [] => Err(bad_input("the tasks were not spawned from a branch").hint("pass --into <branch>").into()),
        many => Err(bad_input(format!("the tasks have different base branches ({})", many.join(", ")))
            .hint("pass --into <branch>")
            .into()),
    }
}

/// The worktree (main or linked) whose HEAD is the branch `full_ref`, if any.
fn checked_out_worktree(repo: &gix::Repository, full_ref: &str) -> anyhow::Result<Option<PathBuf>> {
    let main = crate::git::main_repo(repo)?;
    let is_it =
        |r: &gix::Repository| crate::git::head_branch(r).ok().flatten().is_some_and(|h| h.as_bstr() == full_ref);
    if let Some(workdir) = main.workdir()
        && is_it(&main)
    {
        return Ok(Some(crate::git::normalise_path(workdir)));
    }
    for proxy in repo.worktrees()? {
        let Ok(base) = proxy.base() else { continue };
        if !base.is_dir() {
            continue;
        }
        if let Ok(wt) = proxy.into_repo()
            && is_it(&wt)
        {
            return Ok(Some(base));
        }
    }
    Ok(None)
}

/// The test command and where it came from, as printed before it runs.
struct TestCommand {
    command: String,
    /// `--test`, or `agent.test from <file>`.
    from: String,
}

/// `--test`, else `agent.test`; refused when it comes from a linked worktree's own config.
fn test_command(ctx: &Context, args: &IntegrateArgs) -> anyhow::Result<Option<TestCommand>> {
    if let Some(command) = &args.test {
        return Ok(Some(TestCommand { command: command.clone(), from: "--test".to_owned() }));
    }
    let Some(command) = &ctx.settings.test else { return Ok(None) };
    let origin = ctx.settings.origin(crate::layout::key::TEST).cloned();
    if let Some(origin) = &origin {
        refuse_worktree_config(ctx, crate::layout::key::TEST, origin)?;
    }
    let from = origin.map_or_else(|| "agent.test".to_owned(), |o| format!("agent.test from {o}"));
    Ok(Some(TestCommand { command: command.clone(), from }))
}

/// The resolution rules; refused when one comes from a linked worktree's own config.
fn rule_commands(ctx: &Context) -> anyhow::Result<Vec<ResolveRule>> {
    for rule in &ctx.settings.rules {
        let key = if rule.run.is_some() { "run" } else { "strategy" };
        refuse_worktree_config(ctx, &format!("agent.resolve.{}.{key}", rule.name), &rule.origin)?;
    }
    Ok(ctx.settings.rules.clone())
}

/// Every configured filter driver command (`filter.<name>.clean`, `.smudge`, `.process`):
/// (key, the file it is set in, the command).
fn filter_drivers(repo: &gix::Repository) -> Vec<(String, String, String)> {
    let config = repo.config_snapshot();
    let Some(sections) = config.plumbing().sections_by_name("filter") else { return Vec::new() };
    let mut drivers = Vec::new();
    for section in sections {
        let Some(name) = section.header().subsection_name() else { continue };
        for key in ["clean", "smudge", "process"] {
            if let Some(command) = section.value(key) {
                let origin = section.meta().path.as_deref().map_or_else(
                    || format!("the {:?} configuration", section.meta().source),
                    |p| p.display().to_string(),
                );
                drivers.push((
                    format!("filter.{name}.{key}"),
                    origin,
                    bstr::ByteSlice::to_str_lossy(command.as_slice()).into_owned(),
                ));
            }
        }
    }
    drivers
}

/// The linked worktree (a task's, or any other) whose directory holds `file`, if any.
fn linked_worktree_holding(repo: &gix::Repository, file: &std::path::Path) -> anyhow::Result<Option<PathBuf>> {
    for proxy in repo.worktrees()? {
        let Ok(base) = proxy.base() else { continue };
        let base = crate::git::normalise_path(&base);
        if file.starts_with(&base) {
            return Ok(Some(base));
        }
    }
    Ok(None)
}

/// A per-worktree configuration (`extensions.worktreeConfig`) of a linked worktree belongs
/// to whoever works there, an agent for a task's worktree: integrate runs no command from it.
/// The main worktree's `config.worktree` is the user's.
pub(super) fn refuse_worktree_config(ctx: &Context, key: &str, origin: &crate::settings::Origin) -> anyhow::Result<()> {
    // A file inside a linked worktree (an `include.path` pointing there) is the agent's too.
    if let Some(file) = origin.file.as_deref().map(crate::git::normalise_path)
        && let Some(worktree) = linked_worktree_holding(&ctx.repo, &file)?
    {
        return Err(refused(format!(
            "{key} is set in {origin}, a file inside the linked worktree {}; integrate runs no command from it",
            worktree.display()
        ))
        .hint("set it in the repository's configuration (git config --local), not in a file an agent can write")
        .into());
    }
    if !origin.is_per_worktree() {
        return Ok(());
    }
    let main = crate::git::normalise_path(&ctx.repo.common_dir().join("config.worktree"));
    if origin.file.as_deref().map(crate::git::normalise_path).as_deref() == Some(main.as_path()) {
        return Ok(());
    }
    Err(refused(format!(
        "{key} is set in {origin}, the configuration of a linked worktree; integrate runs no command from it"
    ))
    .hint("set it in the repository's configuration (git config --local), or run integrate from the main worktree")
    .into())
}

/// Who the commits integrate writes on the user's branches are by: agent.identity, else the
/// user's committer identity; like git, no identity is refused. git-agent's fallback identity
/// (for reflogs and records) is only good for a dry run, whose commits stay in memory.
fn identity(ctx: &Context, dry_run: bool) -> anyhow::Result<gix::actor::Signature> {
    match ctx.commit_identity("integrate") {
        Err(_) if dry_run => crate::git::signature(&ctx.repo),
        identity => identity,
    }
}

/// Scratch worktrees of integrate runs that were killed go first; failing that is only a warning.
fn remove_orphaned_scratch(repo: &gix::Repository, root: &std::path::Path, ui: &Ui) {
    match crate::integrate::remove_orphaned_scratch(repo, root) {
        Ok(removed) => {
            for orphan in removed {
                ui.status(format!(
                    "removed the scratch worktree {} of an integrate that did not finish (pid {})",
                    orphan.path.display(),
                    orphan.pid
                ));
            }
        }
        Err(err) => ui.warn(format!("{err:#}")),
    }
}

/// Where the scratch worktree goes: beside the task worktrees.
fn scratch_dir(ctx: &Context) -> anyhow::Result<PathBuf> {
    ctx.worktree_root()
}

/// `--push REMOTE` must name a configured remote (checked before anything runs).
fn check_remote(repo: &gix::Repository, remote: &str) -> anyhow::Result<()> {
    let known = repo.remote_names().iter().any(|name| &name[..] == remote.as_bytes());
    if remote.starts_with('-') || !known {
        return Err(bad_input(format!("--push {remote:?}: no such remote"))
            .hint("name a configured remote (`git remote -v` lists them)")
            .into());
    }
    Ok(())
}

/// Pushes the landed destination with a lease on its value before the run: if the remote's
/// branch is anywhere else (someone pushed meanwhile, or local commits were never pushed),
/// git refuses and nothing is overwritten (exit 4; the local landing stays).
fn push(
    repo: &gix::Repository,
    ui: &Ui,
    remote: &str,
    dest_ref: &str,
    before: Option<ObjectId>,
    after: ObjectId,
) -> anyhow::Result<Pushed> {
    let expected = before.map(|id| id.to_string());
    let url = repo
        .find_remote(remote)
        .ok()
        .and_then(|r| r.url(gix::remote::Direction::Push).map(|u| u.to_bstring().to_string()))
        .unwrap_or_default();
    ui.status(format!(
        "pushing {dest_ref} to {remote} ({url}) with a lease on {}",
        expected.as_deref().unwrap_or("its absence")
    ));
    let lease = format!("--force-with-lease={dest_ref}:{}", expected.as_deref().unwrap_or(""));
    let refspec = format!("{after}:{dest_ref}");
    let dir = repo.workdir().unwrap_or_else(|| repo.git_dir());
    let outcome = crate::process::git(dir, &["push", "--porcelain", "--quiet", &lease, "--", remote, &refspec])?
        .capture(crate::process::Capture::Tail(8192))
        .run()?;
    if !outcome.status.success() {
        return Err(crate::error::Fail::new(
            Exit::Race,
            format!(
                "{dest_ref} landed here, but the push to {remote} was refused: {}",
                outcome.output_tail_lossy().trim()
            ),
        )
        .hint(format!("fetch from {remote}, look at what is there, and push by hand (git push {remote} {dest_ref})"))
        .into());
    }
    Ok(Pushed { remote: remote.to_owned(), full_ref: dest_ref.to_owned(), commit: after.to_string(), expected })
}

/// The `gh pr create` command for an integration branch, and its body (written to a file
/// under the repository's git directory, `agent/pr/<branch>.md`).
fn pull_request(
    repo: &gix::Repository,
    target: &str,
    target_tip: ObjectId,
    branch: &str,
    head: ObjectId,
    entries: &[state::TaskEntry],
) -> anyhow::Result<PullRequest> {
    let mut landed: Vec<&TaskRecord> = Vec::new();
    for name in tasks_on_branch(repo, head, target_tip)? {
        let record = entries.iter().find(|e| e.name == name).and_then(|e| e.record.as_ref().ok());
        if let Some(record) = record.filter(|r| !landed.iter().any(|l| l.name == r.name)) {
            landed.push(record);
        }
    }
    let mut body = String::from("Integrated by git-agent, in dependency order:\n");
    for task in &landed {
        body.push_str(&format!("\n## {}\n", task.name));
        if !task.brief.trim().is_empty() {
            body.push_str(&format!("\n{}\n", task.brief.trim()));
        }
        if !task.acceptance.is_empty() {
            body.push_str("\nAcceptance criteria:\n");
            for criterion in &task.acceptance {
                body.push_str(&format!("- [ ] {}\n", criterion.trim()));
            }
        }
    }
    let body_file = crate::layout::pull_request_body(&crate::git::normalise_path(repo.common_dir()), branch);
    if let Some(dir) = body_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&body_file, &body).with_context(|| format!("cannot write {}", body_file.display()))?;
    let names: Vec<&str> = landed.iter().map(|t| t.name.as_str()).collect();
    let command = vec![
        "gh".to_owned(),
        "pr".to_owned(),
        "create".to_owned(),
        "--base".to_owned(),
        target.to_owned(),
        "--head".to_owned(),
        branch.to_owned(),
        "--title".to_owned(),
        format!("Integrate {}", names.join(", ")),
        "--body-file".to_owned(),
        body_file.display().to_string(),
    ];
    Ok(PullRequest { command, body, body_file })
}

/// A progress line on stderr, as the run goes: `[3/8] testing api ...`, then
/// `[3/8] ok api merged 1a2b3c4 [test 41 s]`.
fn progress_line(event: &Event<'_>) -> String {
    match event {
        Event::TestStarted { position, total, task } => format!("[{position}/{total}] testing {task} ..."),
        Event::Bisecting { steps } => {
            format!("the end result failed its test: bisecting the {steps} steps for the first failing one")
        }
        Event::Step { position, total, step } => format!("[{position}/{total}] {}", step_line(step, Stream::Stderr)),
        Event::Scratch(event) => event.to_string(),
    }
}

/// A step status as printed: the same words as in the JSON report.
fn status_text(status: StepStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    for step in report.steps {
        out.push_str(&step_line(step, Stream::Stdout));
        out.push('\n');
        for path in &step.conflicts {
            out.push_str(&format!("    conflict: {path}\n"));
        }
        for unsettled in &step.unsettled {
            out.push_str(&format!("    not settled: {} ({}): {}\n", unsettled.path, unsettled.kind, unsettled.why));
        }
        if let Some(output) = step.test.as_ref().and_then(|t| t.output.as_deref()) {
            for l in output.lines() {
                out.push_str(&format!("    | {l}\n"));
            }
        }
    }
    for skipped in report.skipped {
        out.push_str(&format!("skipped {} because {} did not land\n", skipped.task, skipped.because));
    }

    for left in report.left_out {
        out.push_str(&format!("left out {}: {}\n", left.task, left.why));
    }
    if let Some(pushed) = &report.pushed {
        out.push_str(&format!("pushed {} to {} ({})\n", pushed.full_ref, pushed.remote, &pushed.commit[..7]));
    }
    if let Some(pr) = &report.pull_request {
        let quoted: Vec<String> = pr.command.iter().map(|a| shell_quote(a)).collect();
        if report.pushed.is_none() {
            out.push_str(&format!("next: push {} and open a pull request:\n", report.target.name));
        } else {
            out.push_str("next: open a pull request:\n");
        }
        out.push_str(&format!("  {}\n", quoted.join(" ")));
    }
    match (&report.target.after, report.dry_run) {
        (_, true) => out.push_str(&format!("dry run: {} unchanged\n", report.target.name)),
        (Some(after), false) => out.push_str(&format!("{} is now {}\n", report.target.name, &after[..7])),
        (None, false) if !report.target.moved_by_others => out.push_str(&format!("{} unchanged\n", report.target.name)),
        (None, false) => out.push_str(&format!(
            "{} was moved during the run, not by this run: it is now {}\n",
            report.target.name,
            report.target.current.as_deref().map_or("deleted", |c| &c[..7])
        )),
    }
    out
}

/// The tasks whose steps are on `head` and not in the target (its first-parent commits down
/// to the target, by their step notes in refs/notes/agent), oldest first: every run that built
/// the branch, not only the last.
fn tasks_on_branch(repo: &gix::Repository, head: ObjectId, target_tip: ObjectId) -> anyhow::Result<Vec<String>> {
    let mut notes = repo.notes()?.with_refs([crate::layout::NOTES_REF])?;
    let mut tasks = Vec::new();
    let mut commit = head;
    // Bounded: an integration branch has a step per task.
    for _ in 0..10_000 {
        if crate::git::merge_base(repo, commit, target_tip)? == Some(commit) {
            break;
        }
        for value in notes.get(commit)?.iter().flat_map(|note| crate::land::note_values(&note.blob.data)) {
            if let Some(task) = value["task"].as_str() {
                tasks.push(task.to_owned());
            }
        }
        let Some(parent) = repo.find_commit(commit)?.parent_ids().next() else { break };
        commit = parent.detach();
    }
    tasks.reverse();
    Ok(tasks)
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b)) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// One step in one line: mark, task, status, commit, rule, test; coloured for `stream`.
fn step_line(step: &Step, stream: Stream) -> String {
    let paint = |text: &str, style: Style| paint_on(stream, text, style);
    let mark = match step.status {
        StepStatus::Merged | StepStatus::WouldMerge => paint("ok", Style::new().green()),
        StepStatus::AlreadyIntegrated => paint("--", Style::new().dimmed()),
        StepStatus::ResolvedByRule | StepStatus::WouldResolveByRule => paint("ok", Style::new().yellow()),
        StepStatus::Skipped => paint("skip", Style::new().yellow()),
        StepStatus::Conflict | StepStatus::TestFailed | StepStatus::WouldConflict => {
            paint("FAIL", Style::new().red().bold())
        }
    };
    let mut line = format!("{mark} {} {}", step.task, status_text(step.status));
    if let Some(commit) = &step.commit {
        line.push_str(&format!(" {}", &commit[..7]));
    }
    if let Some(rule) = &step.rule {
        match step.strategy {
            Some(strategy) => line.push_str(&format!(" (rule {rule}: {strategy})")),
            None => line.push_str(&format!(" (rule {rule})")),
        }
    }
    if let Some(test) = &step.test {
        let exit = test.exit.map_or("killed".to_owned(), |e| e.to_string());
        let cached = if test.cached { ", passed before" } else { "" };
        let timeout = if test.timed_out { ", timed out" } else { "" };
        let attempts = match test.attempts {
            0 | 1 => String::new(),
            n => format!(", {n} attempts"),
        };
        line.push_str(&format!(
            " [test exit {exit}, {} ms{cached}{timeout}{attempts}; git-agent {} ms]",
            test.duration_ms, step.own_ms
        ));
    }
    line
}

/// `git agent integrate --json`: the run, or (no task to integrate) what was left out.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum IntegrateJson<'a> {
    Ran(&'a Report<'a>),
    Nothing { version: u32, landed: bool, steps: &'a [Step], skipped: &'a [Skipped], left_out: &'a [LeftOut] },
}
