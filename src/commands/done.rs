//! `git agent done`: mark a task ready for integration (an event on its record).

use super::Context;
use crate::cli::DoneArgs;
use crate::error::{Exit, refused};
use crate::output::{GlobalArgs, Ui};
use crate::state::{self, TaskState};

pub fn run(global: &GlobalArgs, ui: &Ui, args: DoneArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let (_, mut record) = ctx.task_or_current(args.task.as_deref())?;
    match record.state {
        TaskState::Done => ui.status(format!("task {} is already marked done", record.name)),
        TaskState::Integrated => {
            return Err(refused(format!("task {} is integrated already", record.name)).into());
        }
        TaskState::Unknown => {
            return Err(refused(format!("task {} has a state this git-agent does not know", record.name))
                .hint("upgrade git-agent")
                .into());
        }
        TaskState::Active => {
            // Applied to the newest record: the agent's exit may be recorded at the same moment.
            let (_, updated) = state::update_record(&ctx.repo, &record.name, |current| {
                if current.state != TaskState::Active {
                    return Err(refused(format!(
                        "task {} changed meanwhile: it is {}",
                        current.name,
                        current.state.as_str()
                    ))
                    .into());
                }
                Ok(state::Change::Done)
            })?;
            record = updated;
            ui.status(format!("task {} is done: ready for integration", record.name));
        }
    }
    if let Some(gate) = record.gate.as_ref().filter(|_| record.awaits_approval()) {
        ui.warn(format!(
            "task {}'s plan is {}, not approved: integrate refuses it until `git agent approve {}`",
            record.name,
            gate.state.as_str(),
            record.name
        ));
    }
    if ui.json {
        ui.json_data(&DoneJson { version: 1, task: &record.name, state: record.state });
    }
    Ok(Exit::Success)
}

/// `git agent done --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct DoneJson<'a> {
    version: u32,
    task: &'a str,
    state: TaskState,
}
