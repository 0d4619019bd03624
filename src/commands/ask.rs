//! `git agent ask`: the agent asks the orchestrator a question and is blocked.

use super::Context;
use crate::cli::AskArgs;
use crate::error::Exit;
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: AskArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task_or_current(args.task.as_deref())?;
    let reported = crate::ops::status::ask(&ctx.repo, &record.name, &args.question)?;
    super::report::finish(&ctx, ui, &record, &reported);
    Ok(Exit::Success)
}
