//! `git agent restack`: move stacked tasks onto their dependencies' new work. The work is in
//! [`crate::ops::restack`]; this parses and renders.

use super::Context;
use crate::cli::RestackArgs;
use crate::error::Exit;
use crate::ops::restack::{Options, Status, TaskOutcome, restack};
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: RestackArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
    let ctx = Context::open(global)?;
    let options = Options { tasks: args.tasks.clone(), dry_run: args.dry_run };
    // Each task's line as soon as it is done: a long stack shows progress.
    let report = restack(&ctx, &options, &mut |outcome| {
        if !ui.json {
            ui.data(&line(outcome));
            if let Some(hint) = &outcome.hint {
                ui.status(format!("hint: {hint}"));
            }
        }
    })?;
    if ui.json {
        ui.json_data(&RestackJson { version: 1, tasks: &report.tasks });
    } else if report.tasks.is_empty() {
        ui.status("nothing to restack: no stacked task's dependencies have moved");
    }
    Ok(report.exit())
}

fn short(hex: &Option<String>) -> &str {
    hex.as_deref().map_or("-", |h| &h[..h.len().min(7)])
}

fn line(outcome: &TaskOutcome) -> String {
    let task = &outcome.task;
    let deps = outcome.dependencies.join(" and ");
    match outcome.status {
        Status::Restacked => format!(
            "restacked {task}: {} commit(s) onto {deps} ({}), was {}\n",
            outcome.commits,
            short(&outcome.onto),
            short(&outcome.before)
        ),
        Status::WouldRestack => {
            format!("would-restack {task}: {} commit(s) onto {deps} ({})\n", outcome.commits, short(&outcome.onto))
        }
        Status::UpToDate => match &outcome.message {
            Some(why) => format!("up-to-date {task}: {why}\n"),
            None => format!("up-to-date {task}\n"),
        },
        Status::Conflict => {
            let paths: Vec<String> =
                outcome.conflicts.iter().map(|c| format!("{} ({})", c.path, crate::output::kebab(&c.kind))).collect();
            format!(
                "conflict {task}: {}: {}; left as it was\n",
                outcome.message.as_deref().unwrap_or("conflict"),
                paths.join(", ")
            )
        }
        Status::Refused => format!("refused {task}: {}\n", outcome.message.as_deref().unwrap_or("")),
        Status::LostRace => format!("lost-race {task}: {}\n", outcome.message.as_deref().unwrap_or("")),
        Status::Failed => format!("failed {task}: {}\n", outcome.message.as_deref().unwrap_or("")),
    }
}

/// `git agent restack --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct RestackJson<'a> {
    version: u32,
    tasks: &'a [TaskOutcome],
}
