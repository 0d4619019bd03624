//! `git agent-prune` (also `git agent prune`): remove finished tasks, never losing work. The
//! checks and the archive are in [`crate::prune`].

use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::cli::PruneArgs;
use crate::error::{Exit, bad_input};
use crate::output::{GlobalArgs, JsonPath, Style, Ui, paint};
use crate::prune::{Archive, Check};
use crate::state::{self, TaskRecord, TaskState};

#[derive(Debug, Serialize)]
struct TaskReport {
    task: String,
    /// pruned, refused, would-prune, would-refuse, or changed (something moved while pruning;
    /// the task is left as it was found, less its worktree if that was already gone).
    action: &'static str,
    refusals: Vec<String>,
    ignored: Vec<JsonPath>,
    archived: Vec<(String, String)>,
    removed: Removed,
}

#[derive(Debug, Serialize, Default)]
struct Removed {
    worktree: bool,
    branch: bool,
    record: bool,
}

pub fn run(global: &GlobalArgs, ui: &Ui, args: PruneArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
    let ctx = Context::open(global)?;
    let repo = &ctx.repo;
    let root = ctx.worktree_root()?;
    let entries = state::read_tasks(repo)?;
    if let Some(missing) = args.tasks.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
        return Err(bad_input(format!("no task named {missing:?}")).hint("`git agent list` shows the tasks").into());
    }
    let merged_into = args.merged_into.as_deref().map(|rev| crate::git::resolve_commit(repo, rev)).transpose()?;

    let mut reports = Vec::new();
    let mut refused_any = false;
    let mut raced = false;
    for entry in &entries {
        // A signal stops prune between two tasks, never inside one task's removal.
        if crate::interrupt::is_interrupted() {
            ui.warn("interrupted: stopped between two tasks; the tasks reported are all that was done");
            break;
        }
        let named = args.tasks.contains(&entry.name);
        let record = match &entry.record {
            Ok(record) => record,
            Err(why) => {
                if named {
                    ui.warn(format!("task {}: corrupt record ({why}); left alone", entry.name));
                }
                continue;
            }
        };
        let target = target_of(repo, record, merged_into)?;
        // A branch with no commits of its own is "in the target" too: that is a fresh task,
        // maybe with an agent just starting, not a finished one.
        let integrated = record.state == TaskState::Integrated
            || (is_merged(repo, record, target)? && has_own_commits(repo, record)?);
        if !(named || args.all || (args.tasks.is_empty() && integrated)) {
            continue;
        }
        let check = crate::prune::check(repo, record, target, &root, &ctx.settings.copy)?;
        let mut report = TaskReport {
            task: record.name.clone(),
            action: "pruned",
            refusals: check.refusals.clone(),
            ignored: check.ignored.clone(),
            archived: Vec::new(),
            removed: Removed::default(),
        };
        let refused = !check.refusals.is_empty() && (!args.force || check.hard_refusal);
        if args.dry_run {
            report.action = if refused { "would-refuse" } else { "would-prune" };
        } else if refused {
            report.action = "refused";
            // A worktree deleted by hand: its registration goes even when the branch stays.
            if check.worktree_missing
                && let Some(registration) = crate::prune::registration(repo, &record.worktree)?
            {
                crate::prune::remove_stale_registration(&registration)?;
                report.removed.worktree = true;
            }
        } else {
            match prune_task(repo, record, entry.record_commit, &check, args.force) {
                Ok((archive, removed)) => {
                    report.archived = archive.refs;
                    report.removed = removed;
                }
                Err(err) => {
                    report.action = "changed";
                    report.refusals.push(format!("{err:#}"));
                    raced = true;
                }
            }
        }
        refused_any |= matches!(report.action, "refused" | "would-refuse");
        reports.push(report);
        crate::pause::point("prune-task-done");
    }
    let cleaned = if crate::interrupt::is_interrupted() {
        Vec::new()
    } else {
        clean_up_damage(repo, &ctx, &entries, args.dry_run, ui)?
    };

    if ui.json {
        ui.json_data(
            &serde_json::json!({ "version": 1, "dry_run": args.dry_run, "tasks": reports, "cleaned": cleaned }),
        );
    } else {
        ui.data(&render(&reports, &cleaned));
        if reports.is_empty() && cleaned.is_empty() {
            ui.status("nothing to prune: no task is integrated (name tasks, or use --all)");
        }
    }
    Ok(if raced {
        Exit::Race
    } else if refused_any {
        Exit::Refused
    } else {
        Exit::Success
    })
}

/// Does the task's branch have commits beyond the commit it was spawned at?
fn has_own_commits(repo: &gix::Repository, record: &TaskRecord) -> anyhow::Result<bool> {
    let Some(tip) = crate::git::ref_target(repo, &record.branch)? else { return Ok(false) };
    Ok(gix::ObjectId::from_hex(record.base_commit.as_bytes()).ok() != Some(tip))
}

/// What "merged" means for a task: `--merged-into`, else its base branch now, else its base commit.
fn target_of(repo: &gix::Repository, record: &TaskRecord, merged_into: Option<ObjectId>) -> anyhow::Result<ObjectId> {
    if let Some(target) = merged_into {
        return Ok(target);
    }
    if let Some(base_ref) = &record.base_ref
        && let Some(tip) = crate::git::ref_target(repo, base_ref)?
    {
        return Ok(tip);
    }
    Ok(ObjectId::from_hex(record.base_commit.as_bytes())?)
}

fn is_merged(repo: &gix::Repository, record: &TaskRecord, target: ObjectId) -> anyhow::Result<bool> {
    Ok(match crate::git::ref_target(repo, &record.branch)? {
        Some(tip) => crate::git::merge_base(repo, tip, target)? == Some(tip),
        None => false,
    })
}

/// Archives (with --force) and removes one task: worktree, branch, record, in that order.
fn prune_task(
    repo: &gix::Repository,
    record: &TaskRecord,
    record_commit: ObjectId,
    check: &Check,
    force: bool,
) -> anyhow::Result<(Archive, Removed)> {
    let mut removed = Removed::default();
    let archive = if force && !check.refusals.is_empty() {
        crate::prune::archive(repo, record, record_commit, check)?
    } else {
        Archive::default()
    };
    // Branch and record stay locked while the worktree goes: an agent committing now fails to
    // move the branch (its work stays staged, so the removal below refuses), and a spawn of the
    // same task cannot start. Only if the worktree went are the deletions committed.
    let record_ref = crate::state::record_ref(&record.name);
    let mut locked: Vec<(&str, ObjectId)> = vec![(record_ref.as_str(), record_commit)];
    if let Some(tip) = check.tip {
        locked.push((record.branch.as_str(), tip));
    }
    let _claim = crate::lock::claim_task(repo, &record.name)?;
    let pending = crate::git::pending_delete(repo, &locked)?;
    if let Some(registration) = crate::prune::registration(repo, &record.worktree)? {
        if registration.missing {
            crate::prune::remove_stale_registration(&registration)?;
        } else {
            // gix checks again, at removal time, that nothing is modified or untracked.
            let force_level =
                if force { gix::worktree::remove::Force::OverrideLock } else { gix::worktree::remove::Force::Never };
            repo.prepare_remove_worktree(&registration.path)?.remove(force_level, gix::progress::Discard)?;
        }
        removed.worktree = true;
    }
    pending.commit()?;
    removed.branch = check.tip.is_some();
    removed.record = true;
    Ok((archive, removed))
}

/// Stale registrations under the worktree root, and branches under the task prefix that no
/// record owns (an interrupted spawn): removed when nothing can be lost, else reported.
fn clean_up_damage(
    repo: &gix::Repository,
    ctx: &Context,
    entries: &[state::TaskEntry],
    dry_run: bool,
    ui: &Ui,
) -> anyhow::Result<Vec<String>> {
    let mut cleaned = Vec::new();
    let root = ctx.worktree_root()?;
    let owned: Vec<std::path::PathBuf> = entries
        .iter()
        .filter_map(|e| e.record.as_ref().ok())
        .filter(|r| state::find_task(repo, &r.name).ok().flatten().is_some())
        .map(|r| crate::git::normalise_path(&r.worktree))
        .collect();
    for proxy in repo.worktrees()? {
        let Ok(base) = proxy.base() else { continue };
        let normalised = crate::git::normalise_path(&base);
        if !normalised.starts_with(&root) || base.exists() || proxy.is_locked() || owned.contains(&normalised) {
            continue;
        }
        if !dry_run {
            std::fs::remove_dir_all(proxy.git_dir())?;
        }
        let verb = if dry_run { "would remove" } else { "removed" };
        cleaned.push(format!("{verb} the stale worktree registration of {}", base.display()));
    }
    let prefix = format!("refs/heads/{}", ctx.settings.branch_prefix);
    let main_tip = crate::git::main_repo(repo)?.head_id().ok().map(|id| id.detach());
    let platform = repo.references()?;
    for reference in platform.prefixed(prefix.as_str())? {
        let Ok(reference) = reference else { continue };
        let name = reference.name().as_bstr().to_string();
        let task = name.trim_start_matches(&prefix).to_owned();
        if entries.iter().any(|e| e.name == task) {
            continue;
        }
        let Some(tip) = reference.target().try_id().map(ToOwned::to_owned) else { continue };
        let merged = match main_tip {
            Some(main) => crate::git::merge_base(repo, tip, main)? == Some(tip),
            None => false,
        };
        let checked_out = crate::prune::registration(repo, &root.join(&task))?.is_some();
        if merged && !checked_out {
            if !dry_run {
                // A spawn in progress holds its claim (and has no record yet): leave its branch alone.
                let Ok(_claim) = crate::lock::claim_task(repo, &task) else { continue };
                if state::find_task(repo, &task)?.is_some() {
                    continue;
                }
                crate::git::delete_ref(repo, &name, tip)?;
            }
            let verb = if dry_run { "would remove" } else { "removed" };
            cleaned.push(format!("{verb} branch {} left without a task (its commits are merged)", short(&name)));
        } else {
            ui.warn(format!(
                "branch {} has no task record; kept (it has unmerged commits or a worktree)",
                short(&name)
            ));
        }
    }
    Ok(cleaned)
}

fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

fn render(reports: &[TaskReport], cleaned: &[String]) -> String {
    let mut out = String::new();
    for report in reports {
        let mark = match report.action {
            "pruned" | "would-prune" => paint(report.action, Style::new().green()),
            _ => paint(report.action, Style::new().red().bold()),
        };
        out.push_str(&format!("{mark} {}\n", report.task));
        for refusal in &report.refusals {
            out.push_str(&format!("    {refusal}\n"));
        }
        if !report.ignored.is_empty() {
            let verb = if report.action == "pruned" { "removed" } else { "would remove" };
            let paths: Vec<String> = report.ignored.iter().map(|p| p.to_string()).collect();
            out.push_str(&format!("    {verb} ignored files spawn did not copy in: {}\n", paths.join(", ")));
        }
        for (name, commit) in &report.archived {
            out.push_str(&format!("    archived {} -> {name}\n", &commit[..7]));
        }
        if !report.archived.is_empty() {
            // The worktree snapshot holds the branch's commits and the uncommitted work on top.
            let worktree = ["/worktree", "/head", "/branch"]
                .iter()
                .find_map(|suffix| report.archived.iter().find(|(n, _)| n.ends_with(suffix)));
            if let Some((name, _)) = worktree {
                out.push_str(&format!("    restore with: git agent spawn {}-restored --base {name}\n", report.task));
            }
        }
        if matches!(report.action, "refused" | "would-refuse") {
            out.push_str("    (commit, merge or stash the work, or --force to archive it and prune anyway)\n");
        }
    }
    for line in cleaned {
        out.push_str(&format!("{line}\n"));
    }
    out
}
