//! `git agent-integrate` (also `git agent integrate`): the tasks in dependency order, tested
//! after every merge, landed all or nothing. The steps are in [`crate::integrate`].

use std::path::PathBuf;
use std::time::Duration;

use bstr::ByteSlice;
use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::cli::IntegrateArgs;
use crate::error::{Exit, bad_input, refused};
use crate::integrate::{Options, ResolveRule, Skipped, Step, Strategy};
use crate::output::{GlobalArgs, Style, Ui, paint};
use crate::state::{self, TaskRecord, TaskState};

#[derive(Serialize)]
struct TargetReport {
    name: String,
    #[serde(rename = "ref")]
    full_ref: String,
    before: String,
    after: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    target: TargetReport,
    strategy: Strategy,
    dry_run: bool,
    landed: bool,
    steps: &'a [Step],
    skipped: &'a [Skipped],
}

const DEFAULT_TEST_TIMEOUT: u64 = 600;

pub fn run(global: &GlobalArgs, ui: &Ui, args: IntegrateArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
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
    if records.is_empty() {
        ui.status("no tasks to integrate: mark tasks ready with `git agent done <task>`, or name them");
        if ui.json {
            ui.json_data(&serde_json::json!({ "version": 1, "landed": false, "steps": [], "skipped": [] }));
        }
        return Ok(Exit::Success);
    }

    // What is being written: the target itself, or an integration branch built from it.
    let (target_name, target_ref) = target(repo, args.into.as_deref(), &records)?;
    let target_tip = crate::git::ref_target(repo, &target_ref)?
        .ok_or_else(|| bad_input(format!("branch {target_name} does not exist")))?;
    let (dest_ref, dest_name, dest_before) = match &args.branch {
        Some(name) => {
            let full = crate::git::full_name(&format!("refs/heads/{}", name.trim_start_matches("refs/heads/")))?;
            let full = full.as_bstr().to_string();
            let before = crate::git::ref_target(repo, &full)?;
            (full, name.clone(), before)
        }
        None => (target_ref.clone(), target_name.clone(), Some(target_tip)),
    };
    let start = dest_before.unwrap_or(target_tip);

    let is_integrated = |name: &str| {
        entries.iter().any(|e| {
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

    let options = Options {
        strategy: args.strategy,
        test: args.test.clone().or_else(|| config_string(repo, crate::layout::key::TEST)),
        test_timeout: Duration::from_secs(
            args.test_timeout
                .or_else(|| config_string(repo, crate::layout::key::TEST_TIMEOUT).and_then(|v| v.parse().ok()))
                .unwrap_or(DEFAULT_TEST_TIMEOUT),
        ),
        keep_going: args.keep_going,
        dry_run: args.dry_run,
        rules: resolve_rules(repo),
        scratch_dir: scratch_dir(&ctx)?,
    };
    let order_text: Vec<&str> = ordered.iter().map(|t| t.name.as_str()).collect();
    ui.status(format!("integrating into {dest_name} ({}): {}", crate::git::short_id(&start), order_text.join(", ")));

    let outcome = if args.dry_run {
        // In memory only: nothing the dry run computes reaches the object database.
        let memory_repo = repo.clone().with_object_memory();
        crate::integrate::run(&memory_repo, start, &ordered, &options)?
    } else {
        crate::integrate::run(repo, start, &ordered, &options)?
    };

    // The last safe point: a signal up to here leaves the target and the notes as they were.
    crate::interrupt::check("the target is unchanged")?;
    let stopped = outcome.failed && !args.keep_going;
    let mut landed = false;
    if !args.dry_run && !stopped && outcome.head != start {
        // The one write of the destination: compare-and-swap against what was read at the start.
        match dest_before {
            Some(before) => crate::git::update_ref(repo, &dest_ref, before, outcome.head, "git-agent: integrate")?,
            None => crate::git::create_refs(repo, &[(&dest_ref, outcome.head)], "git-agent: integrate")?,
        }
        landed = true;
        if let (Some(worktree), Some(before)) = (&checked_out, dest_before) {
            // Index and files follow, as a fast-forward would; refuses rather than overwrite.
            if let Err(err) = crate::process::run_git(
                worktree,
                &["read-tree", "-m", "-u", &before.to_string(), &outcome.head.to_string()],
            ) {
                ui.warn(format!("{dest_name} moved, but updating {} failed: {err:#}", worktree.display()));
            }
        }
    }
    if landed && args.branch.is_none() {
        record_integrated(repo, &records, &outcome.integrated, ui);
    }
    // Results are kept when the run landed or stopped on a conflict or a failed test; a run
    // that lost the race for the target returned above and leaves no trace.
    if !args.dry_run && (landed || outcome.failed) {
        crate::integrate::write_notes(repo, &outcome.notes)?;
    }

    let report = Report {
        version: 1,
        target: TargetReport {
            name: dest_name.clone(),
            full_ref: dest_ref.clone(),
            before: start.to_string(),
            after: landed.then(|| outcome.head.to_string()),
        },
        strategy: args.strategy,
        dry_run: args.dry_run,
        landed,
        steps: &outcome.steps,
        skipped: &outcome.skipped,
    };
    if ui.json {
        ui.json_data(&report);
    } else {
        ui.data(&render(&report));
    }
    Ok(if outcome.failed { Exit::Found } else { Exit::Success })
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

fn config_string(repo: &gix::Repository, key: &str) -> Option<String> {
    repo.config_snapshot().string(key).map(|v| v.to_str_lossy().into_owned()).filter(|v| !v.is_empty())
}

/// `agent.resolve.<name>.path` and `.run` pairs, in configuration order.
fn resolve_rules(repo: &gix::Repository) -> Vec<ResolveRule> {
    let config = repo.config_snapshot();
    let mut rules: Vec<ResolveRule> = Vec::new();
    let Some(sections) = config.plumbing().sections_by_name("agent") else { return rules };
    for section in sections {
        let Some(sub) = section.header().subsection_name() else { continue };
        let Some(name) = sub.to_str().ok().and_then(|s| s.strip_prefix("resolve.")) else { continue };
        let (Some(path), Some(run)) = (section.value("path"), section.value("run")) else { continue };
        rules.retain(|r| r.name != name);
        rules.push(ResolveRule {
            name: name.to_owned(),
            path: path.to_str_lossy().into_owned(),
            run: run.to_str_lossy().into_owned(),
        });
    }
    rules
}

/// Where the scratch worktree goes: beside the task worktrees.
fn scratch_dir(ctx: &Context) -> anyhow::Result<PathBuf> {
    ctx.worktree_root()
}

/// Appends an "integrated" event to each landed task's record.
fn record_integrated(
    repo: &gix::Repository,
    records: &[(ObjectId, TaskRecord)],
    integrated: &[(String, ObjectId)],
    ui: &Ui,
) {
    for (name, commit) in integrated {
        let Some((record_commit, record)) = records.iter().find(|(_, r)| &r.name == name) else { continue };
        if record.state == TaskState::Integrated {
            continue;
        }
        let mut record = record.clone();
        record.state = TaskState::Integrated;
        record.integrated_commit = Some(commit.to_string());
        if let Err(err) = state::append_event(repo, *record_commit, &record, "integrated") {
            ui.warn(format!("task {name} landed, but its record could not be updated: {err:#}"));
        }
    }
}

fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    for step in report.steps {
        let mark = match step.status {
            "merged" | "would-merge" => paint("ok", Style::new().green()),
            "already-integrated" => paint("--", Style::new().dimmed()),
            "resolved-by-rule" => paint("ok", Style::new().yellow()),
            "skipped" => paint("skip", Style::new().yellow()),
            _ => paint("FAIL", Style::new().red().bold()),
        };
        let mut line = format!("{mark} {} {}", step.task, step.status);
        if let Some(commit) = &step.commit {
            line.push_str(&format!(" {}", &commit[..7]));
        }
        if let Some(rule) = &step.rule {
            line.push_str(&format!(" (rule {rule})"));
        }
        if let Some(test) = &step.test {
            let exit = test.exit.map_or("killed".to_owned(), |e| e.to_string());
            let cached = if test.cached { ", passed before" } else { "" };
            let timeout = if test.timed_out { ", timed out" } else { "" };
            line.push_str(&format!(
                " [test exit {exit}, {} ms{cached}{timeout}; git-agent {} ms]",
                test.duration_ms, step.own_ms
            ));
        }
        out.push_str(&line);
        out.push('\n');
        for path in &step.conflicts {
            out.push_str(&format!("    conflict: {path}\n"));
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
    match (&report.target.after, report.dry_run) {
        (_, true) => out.push_str(&format!("dry run: {} unchanged\n", report.target.name)),
        (Some(after), false) => out.push_str(&format!("{} is now {}\n", report.target.name, &after[..7])),
        (None, false) => out.push_str(&format!("{} unchanged\n", report.target.name)),
    }
    out
}
