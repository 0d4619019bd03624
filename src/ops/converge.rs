//! The work of `git agent converge`: keep one variant of a group, marked done, and archive and
//! remove the others exactly as `git agent prune --force` does (through its guarded path).

use serde::Serialize;

use super::Context;
use crate::error::{bad_input, refused};
use crate::state::{self, TaskState};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub group: String,
    pub pick: String,
    pub dry_run: bool,
}

/// What converge did (or would do).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Converged {
    pub group: String,
    pub pick: String,
    /// The pick's state afterwards (a dry run: as it is).
    pub state: TaskState,
    /// Whether this run marked it done.
    pub marked_done: bool,
    /// prune --force's report on the other variants.
    pub others: crate::ops::prune::Report,
}

pub fn converge(ctx: &Context, request: &Request) -> anyhow::Result<Converged> {
    let repo = &ctx.repo;
    let records = crate::ops::compare::variants(repo, &request.group)?;
    let Some(pick) = records.iter().find(|r| r.name == request.pick) else {
        let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
        return Err(bad_input(format!("{:?} is not a variant of {:?}", request.pick, request.group))
            .hint(format!("its variants: {}", names.join(", ")))
            .into());
    };
    if let Some(other) = records.iter().find(|r| r.name != pick.name && r.state == TaskState::Integrated) {
        return Err(refused(format!(
            "variant {} of {} is integrated already: converging on {} would archive integrated work's record",
            other.name, request.group, pick.name
        ))
        .hint(format!(
            "converge on it (`git agent converge {} --pick {}`), or prune the variants yourself",
            request.group, other.name
        ))
        .into());
    }
    match pick.state {
        TaskState::Integrated => {
            return Err(refused(format!("variant {} is integrated already", pick.name))
                .hint("prune the others with `git agent prune --force TASK...`")
                .into());
        }
        TaskState::Unknown => {
            return Err(refused(format!("task {} has a state this git-agent does not know", pick.name))
                .hint("upgrade git-agent")
                .into());
        }
        TaskState::Active | TaskState::Done => {}
    }
    let mut state_now = pick.state;
    let mut marked_done = false;
    if pick.state == TaskState::Active && !request.dry_run {
        let (_, updated) = state::update_record(repo, &pick.name, |current| match current.state {
            TaskState::Active => Ok(state::Change::Done),
            other => Err(refused(format!("task {} changed meanwhile: it is {}", current.name, other.as_str())).into()),
        })?;
        state_now = updated.state;
        marked_done = true;
    }
    let options = crate::ops::prune::Options {
        tasks: records.iter().filter(|r| r.name != pick.name).map(|r| r.name.clone()).collect(),
        force: true,
        dry_run: request.dry_run,
        ..ctx.prune_options()?
    };
    // No other variant left: prune with no task named would prune every integrated task.
    let others = if options.tasks.is_empty() {
        crate::ops::prune::Report::default()
    } else {
        crate::ops::prune::prune(repo, &state::read_tasks(repo)?, &options)?
    };
    Ok(Converged { group: request.group.clone(), pick: pick.name.clone(), state: state_now, marked_done, others })
}
