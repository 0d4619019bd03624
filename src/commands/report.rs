//! `git agent report`: say what a task's agent is doing. The work is in [`crate::ops::status`].

use super::Context;
use crate::cli::ReportArgs;
use crate::error::Exit;
use crate::ops::status::{self, Reported};
use crate::output::{GlobalArgs, Ui};
use crate::state::TaskRecord;

pub fn run(global: &GlobalArgs, ui: &Ui, args: ReportArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task_or_current(args.task.as_deref())?;
    let reported = status::report(&ctx.repo, &record, args.status.into(), &args.message)?;
    finish(&ctx, ui, &record, &reported);
    Ok(Exit::Success)
}

/// Runs agent.notify when the status changed, and renders: what report, ask and answer share.
pub fn finish(ctx: &Context, ui: &Ui, record: &TaskRecord, reported: &Reported) {
    if reported.written
        && reported.changed()
        && let Some(warning) = status::notify(&ctx.repo, &ctx.settings, record, reported)
    {
        ui.warn(warning);
    }
    if ui.json {
        ui.json_data(reported);
        return;
    }
    let word = |s: Option<crate::state::AgentStatus>| s.map_or("(none)", |s| s.as_str());
    match reported.event {
        status::Event::Answer => ui.status(format!("answered task {}", reported.task)),
        _ if !reported.written => ui.status(format!("task {} is {} already", reported.task, word(reported.status))),
        _ => ui.status(format!("task {}: {} -> {}", reported.task, word(reported.old), word(reported.status))),
    }
}
