//! `git agent checkpoint`: record a summary of an agent's session on its task. The work is in
//! [`crate::ops::checkpoint`].

use anyhow::Context as _;

use super::Context;
use crate::cli::CheckpointArgs;
use crate::error::{Exit, bad_input};
use crate::output::{GlobalArgs, Ui};
use crate::state::Checkpoint;

pub fn run(global: &GlobalArgs, ui: &Ui, args: CheckpointArgs) -> anyhow::Result<Exit> {
    if let Some(task) = &args.task {
        crate::names::validate_task_name(task)?;
    }
    let mut checkpoint = match &args.file {
        Some(path) if path.as_os_str() == "-" => crate::ops::checkpoint::parse_file(
            &std::io::read_to_string(std::io::stdin()).context("cannot read the checkpoint from standard input")?,
        ),
        Some(path) => crate::ops::checkpoint::parse_file(
            &std::fs::read_to_string(path)
                .map_err(|err| bad_input(format!("cannot read checkpoint file {}: {err}", path.display())))?,
        ),
        None => Checkpoint::default(),
    };
    // The options' items first, then the file's.
    for (list, given) in [
        (&mut checkpoint.completed, &args.completed),
        (&mut checkpoint.in_progress, &args.in_progress),
        (&mut checkpoint.next, &args.next),
        (&mut checkpoint.decisions, &args.decision),
    ] {
        let from_file = std::mem::take(list);
        list.extend(given.iter().chain(&from_file).map(|item| item.trim().to_owned()).filter(|i| !i.is_empty()));
    }
    if crate::ops::checkpoint::is_empty(&checkpoint) {
        return Err(bad_input("the checkpoint is empty")
            .hint("say what is done, in progress or next: --completed, --in-progress, --next, --decision, or -F FILE")
            .into());
    }
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task_or_current(args.task.as_deref())?;
    let updated = crate::ops::checkpoint::record(&ctx, &record, checkpoint)?;
    let checkpoint = updated.checkpoint.as_ref().expect("a checkpoint was just recorded");
    if ui.json {
        ui.json_data(&CheckpointJson { version: 1, task: &updated.name, checkpoint });
    } else {
        ui.status(format!(
            "checkpoint of task {}: {} completed, {} in progress, {} next, {} decision(s), {} file(s) changed",
            updated.name,
            checkpoint.completed.len(),
            checkpoint.in_progress.len(),
            checkpoint.next.len(),
            checkpoint.decisions.len(),
            checkpoint.files.len()
        ));
    }
    Ok(Exit::Success)
}

/// `git agent checkpoint --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct CheckpointJson<'a> {
    version: u32,
    task: &'a str,
    checkpoint: &'a Checkpoint,
}
