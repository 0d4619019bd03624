//! `git agent propose`, `approve` and `reject`: the plan review gate. The work is in
//! [`crate::ops::gate`].

use super::Context;
use crate::cli::{ApproveArgs, ProposeArgs, RejectArgs};
use crate::error::{Exit, bad_input};
use crate::ops::gate::{self, Judged};
use crate::ops::status::{Event, Reported};
use crate::output::{GlobalArgs, Ui};

pub fn propose(global: &GlobalArgs, ui: &Ui, args: ProposeArgs) -> anyhow::Result<Exit> {
    let plan = match (&args.message, &args.file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())
            .map_err(|err| bad_input(format!("cannot read the plan from standard input: {err}")))?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|err| bad_input(format!("cannot read plan file {}: {err}", path.display())))?,
        (None, None) => unreachable!("clap requires -m or -F"),
    };
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task_or_current(args.task.as_deref())?;
    let judged = gate::propose(&ctx.repo, &record.name, &plan)?;
    notify(&ctx, ui, Event::Propose, &judged);
    render(ui, &judged, || {
        format!(
            "proposed plan {} for task {}; wait for `git agent approve` before implementing it",
            gate::short(&judged.proposal),
            judged.task
        )
    });
    Ok(Exit::Success)
}

pub fn approve(global: &GlobalArgs, ui: &Ui, args: ApproveArgs) -> anyhow::Result<Exit> {
    crate::names::validate_task_name(&args.task)?;
    let ctx = Context::open(global)?;
    let judged = gate::approve(&ctx.repo, &args.task, args.proposal.as_deref())?;
    notify(&ctx, ui, Event::Approve, &judged);
    render(ui, &judged, || format!("approved plan {} of task {}", gate::short(&judged.proposal), judged.task));
    Ok(Exit::Success)
}

pub fn reject(global: &GlobalArgs, ui: &Ui, args: RejectArgs) -> anyhow::Result<Exit> {
    crate::names::validate_task_name(&args.task)?;
    let ctx = Context::open(global)?;
    let judged = gate::reject(&ctx.repo, &args.task, args.proposal.as_deref(), &args.reason)?;
    notify(&ctx, ui, Event::Reject, &judged);
    render(ui, &judged, || {
        format!("rejected plan {} of task {}: it plans again", gate::short(&judged.proposal), judged.task)
    });
    Ok(Exit::Success)
}

/// Runs agent.notify, as a status change does: the agent waits for a judgement, and the
/// orchestrator for a plan to judge. GIT_AGENT_MESSAGE is the plan (propose) or the reason
/// (reject).
fn notify(ctx: &Context, ui: &Ui, event: Event, judged: &Judged) {
    let Ok(Some(entry)) = crate::state::find_task(&ctx.repo, &judged.task) else { return };
    let Ok(record) = entry.record else { return };
    let status = record.status.as_ref().map(|now| now.status);
    let message = match event {
        Event::Propose => judged.plan.clone(),
        _ => judged.reason.clone(),
    };
    let reported =
        Reported { version: 1, task: judged.task.clone(), event, old: status, status, message, written: true };
    if let Some(warning) = crate::ops::status::notify(&ctx.repo, &ctx.settings, &record, &reported) {
        ui.warn(warning);
    }
}

fn render(ui: &Ui, judged: &Judged, text: impl FnOnce() -> String) {
    if ui.json {
        ui.json_data(judged);
    } else {
        ui.status(text());
    }
}
