//! `git agent run`, `logs`, `stop`, `attach` and the hidden `__supervise`: agents in the
//! background. The work is in [`crate::ops::background`]; this parses and renders.

use std::io::Write as _;

use super::Context;
use crate::cli::{AttachArgs, LogsArgs, RunArgs, StopArgs, SuperviseArgs};
use crate::error::{Exit, bad_input};
use crate::ops::background::{self, How, Started};
use crate::output::{GlobalArgs, Ui};

/// How an agent should run: --detach, --tmux, else as agent.terminal says.
pub(crate) fn how(ctx: &Context, detach: bool, tmux: bool) -> How {
    if detach {
        How::Detached
    } else if tmux || ctx.settings.tmux {
        How::Tmux
    } else {
        How::Foreground
    }
}

pub fn run(global: &GlobalArgs, ui: &Ui, args: RunArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let (entry, record) = ctx.task_or_current(args.task.as_deref())?;
    let task = entry.name;
    let command = background::run_command(&ctx, &record, &args.command)?;
    let worktree = background::worktree_of(&ctx, &record)?;
    match how(&ctx, args.detach, args.tmux) {
        How::Foreground => {
            background::check_not_claimed(&ctx, &task)?;
            let _claim = crate::lock::claim_task(&ctx.repo, &task, "agent")?;
            let status = crate::ops::spawn::run_agent(&ctx, &task, &worktree, &command, &mut |event| {
                super::spawn::show(ui, None, event)
            })?;
            if ui.json {
                ui.json_data(&RunJson::Ran { version: 1, task: &task, how: How::Foreground, exit: status });
            }
            Ok(if status == 0 { Exit::Success } else { Exit::Found })
        }
        how => {
            let started = background::launch(&ctx, &task, &worktree, &command, how)?;
            report_started(ui, &started);
            Ok(Exit::Success)
        }
    }
}

/// Says where a background agent runs; `--json`: the facts.
pub(crate) fn report_started(ui: &Ui, started: &Started) {
    if ui.json {
        ui.json_data(&RunJson::Started { version: 1, started });
        return;
    }
    let place = match (&started.log, &started.window) {
        (_, Some(window)) => format!("in tmux window {window} (git agent attach {})", started.task),
        (Some(log), _) => format!("in the background, output to {} (git agent logs {})", log.display(), started.task),
        (None, None) => "in the background".to_owned(),
    };
    ui.status(format!("started the agent of task {} {place}: {}", started.task, started.command.join(" ")));
}

pub fn logs(global: &GlobalArgs, ui: &Ui, args: LogsArgs) -> anyhow::Result<Exit> {
    if ui.json {
        // The log is the agent's own bytes, whatever they are.
        return Err(crate::error::no_json_output("logs").into());
    }
    let ctx = Context::open(global)?;
    let (entry, _) = ctx.task_or_current(args.task.as_deref())?;
    let mut out = std::io::stdout().lock();
    background::logs(&ctx, &entry.name, args.follow, &mut |bytes| {
        match out.write_all(bytes).and_then(|()| out.flush()) {
            // `git agent logs db | head` is a quiet success.
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            other => Ok(other?),
        }
    })?;
    Ok(Exit::Success)
}

pub fn stop(global: &GlobalArgs, ui: &Ui, args: StopArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let (entry, _) = ctx.task_or_current(args.task.as_deref())?;
    let stopped = background::stop(&ctx, &entry.name, std::time::Duration::from_secs(args.grace))?;
    if ui.json {
        ui.json_data(&StopJson { version: 1, stopped: &stopped });
        return Ok(Exit::Success);
    }
    let how = if stopped.killed { "killed (SIGKILL after the grace period)" } else { "stopped" };
    match stopped.exit {
        Some(exit) => ui.status(format!("the agent of task {} was {how}; exit status {exit} recorded", stopped.task)),
        None => ui.warn(format!("the agent of task {} was {how}; its exit is not recorded yet", stopped.task)),
    }
    Ok(Exit::Success)
}

pub fn attach(global: &GlobalArgs, ui: &Ui, args: AttachArgs) -> anyhow::Result<Exit> {
    if ui.json {
        return Err(crate::error::no_json_output("attach").into());
    }
    let ctx = Context::open(global)?;
    let (entry, _) = ctx.task_or_current(args.task.as_deref())?;
    let mut exit = Exit::Success;
    for step in background::attach(&ctx, &entry.name)? {
        let outcome = step.run()?;
        if !outcome.status.success() {
            eprintln!("{}", outcome.output_tail_lossy().trim_end());
            exit = Exit::Found;
            break;
        }
    }
    Ok(exit)
}

pub fn supervise(global: &GlobalArgs, _ui: &Ui, args: SuperviseArgs) -> anyhow::Result<Exit> {
    let how = How::parse(&args.how)
        .filter(|how| *how != How::Foreground)
        .ok_or_else(|| anyhow::Error::from(bad_input(format!("--how {:?}: not detached or tmux", args.how))));
    let (how, ctx) = match how.and_then(|how| Ok((how, Context::open(global)?))) {
        Ok(both) => both,
        Err(err) => {
            background::answer_error(&args.ready, &err);
            return Err(err);
        }
    };
    let status = background::supervise(&ctx, &args.task, how, &args.ready, &args.command)?;
    Ok(if status == 0 { Exit::Success } else { Exit::Found })
}

/// `git agent run --json`: how a foreground agent ended, or where a background one runs.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum RunJson<'a> {
    Ran { version: u32, task: &'a str, how: How, exit: i32 },
    Started { version: u32, started: &'a Started },
}

/// `git agent stop --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct StopJson<'a> {
    version: u32,
    stopped: &'a background::Stopped,
}
