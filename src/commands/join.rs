//! `git agent join`: a worktree on this machine for a task fetched from another one. The work
//! is in [`crate::ops::join`]; this parses, and renders its result and events (as spawn does).

use super::Context;
use crate::cli::JoinArgs;
use crate::error::Exit;
use crate::names::validate_task_name;
use crate::ops::join::{Joined, join};
use crate::ops::spawn::CreateOptions;
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: JoinArgs) -> anyhow::Result<Exit> {
    // Names are checked before any git call.
    validate_task_name(&args.task)?;
    let ctx = Context::open(global)?;
    let options = CreateOptions { run_setup: !args.no_setup, quiet: ui.quiet };
    let spinner = std::cell::RefCell::new(None);
    let joined = join(&ctx, &args.task, options, &mut |event| super::spawn::show(ui, Some(&spinner), event))?;
    report(ui, &joined);
    Ok(Exit::Success)
}

fn report(ui: &Ui, joined: &Joined) {
    if ui.json {
        ui.json_data(&JoinJson { version: 1, joined });
        return;
    }
    ui.status(format!("joined task {}: branch {} checked out", joined.task, joined.branch));
    // The worktree path is the data: `cd "$(git agent join db -q)"` works.
    ui.data(&format!("{}\n", joined.worktree.display()));
}

/// `git agent join --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct JoinJson<'a> {
    version: u32,
    #[serde(flatten)]
    joined: &'a Joined,
}
