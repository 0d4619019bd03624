//! `git agent converge`: keep one variant, archive the others. The work is in
//! [`crate::ops::converge`]; the removal is prune's ([`crate::ops::prune`]).

use super::Context;
use crate::cli::ConvergeArgs;
use crate::error::Exit;
use crate::ops::converge::Request;
use crate::output::{GlobalArgs, Ui};

pub fn run(global: &GlobalArgs, ui: &Ui, args: ConvergeArgs) -> anyhow::Result<Exit> {
    crate::names::validate_task_name(&args.group)?;
    crate::names::validate_task_name(&args.pick)?;
    let ctx = Context::open(global)?;
    let request = Request { group: args.group.clone(), pick: args.pick.clone(), dry_run: args.dry_run };
    let converged = crate::ops::converge::converge(&ctx, &request)?;
    for warning in &converged.others.warnings {
        ui.warn(warning);
    }
    if ui.json {
        ui.json_data(&ConvergeJson { version: 1, dry_run: args.dry_run, converged: &converged });
    } else {
        let verb = match (args.dry_run, converged.marked_done) {
            (true, _) => "would keep",
            (false, true) => "kept, marked done:",
            (false, false) => "kept (already done):",
        };
        ui.data(&format!("{verb} {}\n", converged.pick));
        ui.data(&super::prune::render(&converged.others));
    }
    // As prune's: a failure, then a lost race, then a refusal decides.
    Ok(super::prune::exit_of(&converged.others))
}

/// `git agent converge --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ConvergeJson<'a> {
    version: u32,
    dry_run: bool,
    converged: &'a crate::ops::converge::Converged,
}
