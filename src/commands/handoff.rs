//! `git agent handoff`: the prompt that hands a task over to a successor agent, as markdown,
//! and with `--to` the successor task. The facts come from [`crate::ops::handoff`].

use super::Context;
use crate::cli::HandoffArgs;
use crate::error::Exit;
use crate::ops::handoff::Handoff;
use crate::ops::spawn::CreateOptions;
use crate::output::{GlobalArgs, Ui};
use crate::state;

pub fn run(global: &GlobalArgs, ui: &Ui, args: HandoffArgs) -> anyhow::Result<Exit> {
    crate::names::validate_task_name(&args.task)?;
    if let Some(new) = &args.to {
        crate::names::validate_task_name(new)?;
    }
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task(&args.task)?;
    let handoff = crate::ops::handoff::gather(&ctx, &record)?;
    let prompt = render(&handoff, state::now_ms());
    let Some(new) = &args.to else {
        if ui.json {
            ui.json_data(&HandoffJson { version: 1, handoff: &handoff, prompt: &prompt, spawned: None });
        } else {
            ui.data(&prompt);
        }
        return Ok(Exit::Success);
    };
    let options = CreateOptions { run_setup: !args.no_setup, quiet: ui.quiet };
    let spinner = std::cell::RefCell::new(None);
    let spawned = crate::ops::handoff::successor(&ctx, &record, new, &prompt, options, &mut |event| {
        super::spawn::show(ui, Some(&spinner), event)
    })?;
    if ui.json {
        ui.json_data(&HandoffJson { version: 1, handoff: &handoff, prompt: &prompt, spawned: Some(&spawned) });
    } else {
        ui.status(format!(
            "spawned task {} stacked on {} at {}, with the handoff prompt as its brief (git agent show {})",
            spawned.task,
            record.name,
            &spawned.start_commit[..7],
            spawned.task
        ));
        ui.data(&format!("{}\n", spawned.worktree.display()));
    }
    Ok(Exit::Success)
}

/// The prompt, in markdown: what was done, where it stands, what remains, the contract and
/// the rules.
fn render(handoff: &Handoff, now_ms: u64) -> String {
    let bullets = |items: &[String]| -> String {
        if items.is_empty() { "(none)\n".to_owned() } else { items.iter().map(|i| format!("- {i}\n")).collect() }
    };
    let mut out = format!("# Handoff: task {}\n\n", handoff.task);
    out.push_str(&format!(
        "You take over task `{}` from a previous agent. Its work is on branch `{}`; continue from where \
         it stopped, without redoing what is done.\n\n",
        handoff.task, handoff.branch
    ));

    out.push_str("## Prior agent's output\n\n### Commits\n\n");
    if handoff.commits.is_empty() {
        out.push_str("(none)\n");
    }
    if handoff.commits_omitted > 0 {
        out.push_str(&format!("- ... {} older commit(s)\n", handoff.commits_omitted));
    }
    for commit in &handoff.commits {
        out.push_str(&format!("- {} {}\n", &commit.id[..commit.id.len().min(7)], commit.subject));
    }
    out.push_str("\n### Diffstat\n\n");
    if handoff.diffstat.is_empty() {
        out.push_str("(no changes)\n");
    } else {
        out.push_str("```\n");
        let (mut added, mut removed) = (0, 0);
        for stat in &handoff.diffstat {
            let counts = if stat.binary { "binary".to_owned() } else { format!("+{} -{}", stat.added, stat.removed) };
            out.push_str(&format!("{} | {counts}\n", stat.path));
            added += stat.added;
            removed += stat.removed;
        }
        out.push_str(&format!("{} file(s) changed, +{added} -{removed}\n```\n", handoff.diffstat.len()));
    }
    out.push_str("\n### Integration state\n\n");
    out.push_str(&format!("- state: {}\n", handoff.state.as_str()));
    if let Some(base) = &handoff.base_ref {
        let behind = handoff.behind_base.map_or(String::new(), |n| format!(" ({n} commit(s) behind it)"));
        out.push_str(&format!("- base branch: {base}{behind}\n"));
    }
    if let Some(commit) = &handoff.integrated_commit {
        out.push_str(&format!("- integrated by commit {commit}\n"));
    }

    out.push_str("\n## Last checkpoint\n\n");
    match &handoff.checkpoint {
        None => out.push_str("(none)\n"),
        Some(checkpoint) => {
            let age = super::list::age((now_ms.saturating_sub(checkpoint.at_ms) / 1000) as i64);
            out.push_str(&format!("Taken {age} before this handoff.\n"));
            for (title, items) in crate::ops::checkpoint::sections(checkpoint) {
                out.push_str(&format!("\n### {title}\n\n{}", bullets(items)));
            }
            if !checkpoint.notes.is_empty() {
                out.push_str(&format!("\n### Notes\n\n{}\n", checkpoint.notes.trim_end()));
            }
        }
    }

    out.push_str("\n## Remaining task\n\n### Brief\n\n");
    if handoff.brief.trim().is_empty() {
        out.push_str("(none)\n");
    } else {
        out.push_str(&format!("{}\n", handoff.brief.trim_end()));
    }
    out.push_str(&format!("\n### Acceptance criteria still open\n\n{}", bullets(&handoff.acceptance_remaining)));
    if !handoff.acceptance_completed.is_empty() {
        out.push_str(&format!(
            "\n### Acceptance criteria reported completed\n\n{}",
            bullets(&handoff.acceptance_completed)
        ));
    }

    out.push_str("\n## Interface contract\n\n");
    out.push_str(&format!("### Scope (the files this task owns)\n\n{}", bullets(&handoff.scope)));
    out.push_str(&format!("\n### Dependencies (tasks whose work this builds on)\n\n{}", bullets(&handoff.after)));
    out.push_str("\n### Protected paths (never change these)\n\n");
    if handoff.protected.is_empty() {
        out.push_str("(none recorded for this task)\n");
    } else {
        out.push_str(&bullets(&handoff.protected));
    }

    let every = super::list::age(handoff.checkpoint_every_seconds as i64);
    out.push_str("\n## Constraints\n\n");
    out.push_str("- Stay in scope: change only the files of the scope above; ask before touching others.\n");
    out.extend(handoff.constraints.iter().map(|constraint| format!("- {constraint}\n")));
    out.push_str("- Commit often, with messages that say what and why.\n");
    out.push_str(&format!(
        "- Run `git agent checkpoint` at least every {every} (--completed, --in-progress, --next, --decision).\n"
    ));
    out.push_str("- Run `git agent done` when the acceptance criteria are met.\n");
    out
}

/// `git agent handoff --json`: `spawned` with --to.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct HandoffJson<'a> {
    version: u32,
    handoff: &'a Handoff,
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    spawned: Option<&'a crate::ops::spawn::Spawned>,
}
