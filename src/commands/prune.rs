//! `git agent-prune` (also `git agent prune`): remove finished tasks, never losing work. The
//! checks, the archive and the removal are in [`crate::ops::prune`] and [`crate::guard`].

use super::Context;
use crate::cli::PruneArgs;
use crate::error::{Exit, bad_input};
use crate::ops::prune::{Action, Options, Report, TaskReport};
use crate::output::{GlobalArgs, Style, Ui, paint};
use crate::state;

pub fn run(global: &GlobalArgs, ui: &Ui, args: PruneArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
    let ctx = Context::open(global)?;
    let repo = &ctx.repo;
    let entries = state::read_tasks(repo)?;
    if let Some(missing) = args.tasks.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
        return Err(bad_input(format!("no task named {missing:?}")).hint("`git agent list` shows the tasks").into());
    }
    let merged_into = args.merged_into.as_deref().map(|rev| crate::git::resolve_commit(repo, rev)).transpose()?;
    if let (Some(rev), Some(commit)) = (&args.merged_into, merged_into) {
        crate::ops::prune::check_merged_into(repo, rev, commit, &ctx.settings.branch_prefix)?;
    }
    let options = Options {
        tasks: args.tasks.clone(),
        all: args.all,
        dry_run: args.dry_run,
        force: args.force,
        discard_ignored: args.discard_ignored,
        merged_into,
        scratch: args.scratch,
        ..ctx.prune_options()?
    };
    let report = crate::ops::prune::prune(repo, &entries, &options)?;
    for warning in &report.warnings {
        ui.warn(warning);
    }
    if ui.json {
        ui.json_data(&PruneJson { version: 1, dry_run: args.dry_run, tasks: &report.tasks, cleaned: &report.cleaned });
    } else {
        ui.data(&render(&report));
        if report.tasks.is_empty() && report.cleaned.is_empty() {
            ui.status(if args.scratch {
                "nothing to prune: no idle integrate slot"
            } else {
                "nothing to prune: no task is integrated (name tasks, or use --all)"
            });
        }
    }
    Ok(exit_of(&report))
}

/// The worst outcome decides: a failure, then a lost race, then a refusal.
pub(super) fn exit_of(report: &Report) -> Exit {
    let has = |actions: &[Action]| report.tasks.iter().any(|t| actions.contains(&t.action));
    if has(&[Action::Failed]) {
        Exit::Failed
    } else if has(&[Action::Changed]) {
        Exit::Race
    } else if has(&[Action::Refused, Action::WouldRefuse]) {
        Exit::Refused
    } else {
        Exit::Success
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Pruned => "pruned",
        Action::Refused => "refused",
        Action::WouldPrune => "would-prune",
        Action::WouldRefuse => "would-refuse",
        Action::Changed => "changed",
        Action::Skipped => "skipped",
        Action::Failed => "failed",
    }
}

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    for task in &report.tasks {
        render_task(&mut out, task);
    }
    for line in &report.cleaned {
        out.push_str(&format!("{line}\n"));
    }
    out
}

fn render_task(out: &mut String, task: &TaskReport) {
    let name = action_name(task.action);
    let mark = match task.action {
        Action::Pruned | Action::WouldPrune => paint(name, Style::new().green()),
        Action::Skipped => paint(name, Style::new().yellow()),
        _ => paint(name, Style::new().red().bold()),
    };
    out.push_str(&format!("{mark} {}\n", task.task));
    for refusal in &task.refusals {
        out.push_str(&format!("    {refusal}\n"));
    }
    if !task.ignored.is_empty() {
        let verb = if task.action == Action::Pruned { "removed" } else { "would remove" };
        let paths: Vec<String> = task.ignored.iter().map(|p| p.to_string()).collect();
        out.push_str(&format!("    {verb} ignored build output and copied files: {}\n", paths.join(", ")));
    }
    for (name, commit) in &task.archived {
        out.push_str(&format!("    archived {} -> {name}\n", &commit[..7]));
    }
    if !task.archived.is_empty() {
        // The worktree snapshot holds the branch's commits and the uncommitted work on top.
        let worktree = ["/worktree", "/head", "/branch"]
            .iter()
            .find_map(|suffix| task.archived.iter().find(|(n, _)| n.ends_with(suffix)));
        if let Some((name, _)) = worktree {
            out.push_str(&format!(
                "    restore with: git agent spawn {} --base {name}\n",
                crate::ops::archive::restore_name(&task.task)
            ));
        }
    }
    if task.removed.worktree && task.action != Action::Pruned {
        out.push_str("    (its worktree was removed before this happened)\n");
    }
    if let Some(hint) = task.hint.as_ref().filter(|_| !matches!(task.action, Action::Pruned | Action::WouldPrune)) {
        out.push_str(&format!("    hint: {hint}\n"));
    }
}

/// `git agent prune --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct PruneJson<'a> {
    version: u32,
    dry_run: bool,
    tasks: &'a [TaskReport],
    /// Damage cleaned up (or that would be): stale registrations, branches of interrupted spawns.
    cleaned: &'a [String],
}
