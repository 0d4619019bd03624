//! `git agent answer`: the orchestrator answers a task's question.

use super::Context;
use crate::cli::AnswerArgs;
use crate::error::Exit;
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: AnswerArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task(&args.task)?;
    if record.question.is_none() {
        ui.warn(format!("task {} has no open question; the answer is recorded all the same", record.name));
    }
    let reported = crate::ops::status::answer(&ctx.repo, &record.name, &args.answer)?;
    super::report::finish(&ctx, ui, &record, &reported);
    Ok(Exit::Success)
}
