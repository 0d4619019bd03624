//! `git agent show`: a task's brief, scope, dependencies, acceptance criteria and state, so
//! that an agent can read its own brief from inside its worktree.

use super::Context;
use crate::cli::ShowArgs;
use crate::error::Exit;
use crate::output::{GlobalArgs, Style, Ui, paint, printable};
use crate::state::{self, Checkpoint, TaskRecord};

pub fn run(global: &GlobalArgs, ui: &Ui, args: ShowArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let (_, mut record) = ctx.task_or_current(args.task.as_deref())?;
    // Where the worktree is now (after `git worktree move`), by git's registrations.
    record.worktree = crate::ops::prune::worktree_path(&ctx.repo, &record);
    // The task's GIT_AGENT_PORT (agent.portRange): where its dev server listens.
    let port = ctx.settings.port_range.port_of(&record.name);
    if ui.json {
        let mut json = serde_json::to_value(&record)?;
        json["port"] = port.into();
        ui.json_data(&json);
    } else {
        let mut text = render(&record, super::list::now_unix());
        text.push_str(&format!("{} {port}\n", paint("port", Style::new().bold())));
        if let Some(cost) = crate::ops::cost::task_totals(&ctx.settings, &record.cost) {
            text.push_str(&format!("{} {}\n", paint("cost", Style::new().bold()), cost.short()));
        }
        ui.data(&text);
        if let Some(checkpoint) = &record.checkpoint {
            ui.data(&render_checkpoint(checkpoint, state::now_ms()));
        }
    }
    Ok(Exit::Success)
}

fn render(record: &TaskRecord, now: i64) -> String {
    let heading = |text: &str| paint(text, Style::new().bold());
    let list = |items: &[String]| {
        if items.is_empty() {
            "  (none)\n".to_owned()
        } else {
            items.iter().map(|i| format!("  - {}\n", printable(i))).collect()
        }
    };
    let mut out = format!("{} {}\n", heading("task"), record.name);
    out.push_str(&format!("{} {}\n", heading("state"), record.state.as_str()));
    if let Some(variant) = &record.variant {
        out.push_str(&format!("{} {} of {}\n", heading("variant"), variant.index, variant.of));
    }
    out.push_str(&said(record, now));
    if let Some(gate) = &record.gate {
        out.push_str(&render_gate(gate));
    }
    out.push_str(&format!("{} {}\n", heading("branch"), record.short_branch()));
    out.push_str(&format!(
        "{} {} ({})\n",
        heading("base"),
        record.base_ref.as_deref().map_or("(detached)", |b| b.trim_start_matches("refs/heads/")),
        &record.base_commit
    ));
    if let Some(stack) = &record.stack {
        // Where an agent's own work starts: `git log <onto>..` shows it.
        let on: Vec<String> = stack.tips.keys().cloned().collect();
        let on = if on.is_empty() { "no dependency's work yet".to_owned() } else { on.join(" and ") };
        out.push_str(&format!("{} on {on} ({})\n", heading("stacked"), stack.onto));
    }
    out.push_str(&format!("{} {}\n", heading("worktree"), record.worktree.display()));
    if let Some(exit) = record.agent_exit {
        out.push_str(&format!("{} {} (exit {exit})\n", heading("agent"), printable(&record.command.join(" "))));
    }
    if let Some(commit) = &record.integrated_commit {
        out.push_str(&format!("{} {commit}\n", heading("integrated")));
    }
    out.push_str(&format!("{}\n{}", heading("after"), list(&record.after)));
    out.push_str(&format!("{}\n{}", heading("scope"), list(&record.scope)));
    out.push_str(&format!("{}\n{}", heading("acceptance"), list(&record.acceptance)));
    // The guards, when there are any: what the agent must leave alone.
    for (title, items) in
        [("contracts", &record.contracts), ("protected", &record.protect), ("constraints", &record.constraints)]
    {
        if !items.is_empty() {
            out.push_str(&format!("{}\n{}", heading(title), list(items)));
        }
    }
    out.push_str(&format!("{}\n", heading("brief")));
    if record.brief.trim().is_empty() {
        out.push_str("  (none)\n");
    } else {
        for line in printable(record.brief.trim_end()).lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// Where the plan review stands, and the plan: the agent reads a rejection's reason here, the
/// orchestrator the plan to judge (with the proposal id `approve --proposal` takes).
fn render_gate(gate: &crate::state::Gate) -> String {
    use crate::state::GateState;
    let heading = |text: &str| paint(text, Style::new().bold());
    let id = crate::ops::gate::short(&gate.proposal);
    let mut out = match (gate.state, gate.proposal.is_empty()) {
        (GateState::Planned, true) => {
            format!(
                "{} planned: propose an implementation plan with `git agent propose` before editing\n",
                heading("gate")
            )
        }
        (GateState::Planned, false) => format!(
            "{}: {}\n  revise the plan and propose it again with `git agent propose`\n",
            paint("PLAN REJECTED", Style::new().bold().red()),
            paint(printable(&gate.reason), Style::new().bold())
        ),
        (GateState::Proposed, _) => {
            format!("{} proposed {id}: waiting for `git agent approve` or `git agent reject`\n", heading("gate"))
        }
        (GateState::Approved, _) => format!("{} approved {id}\n", heading("gate")),
        (GateState::Unknown, _) => format!("{} {}\n", heading("gate"), gate.state.as_str()),
    };
    if !gate.plan.is_empty() {
        out.push_str(&format!("{}\n", heading("plan")));
        out.extend(printable(&gate.plan).lines().map(|line| format!("  {line}\n")));
    }
    out
}

/// The latest checkpoint, and how long ago it was taken.
fn render_checkpoint(checkpoint: &Checkpoint, now_ms: u64) -> String {
    let age = super::list::age((now_ms.saturating_sub(checkpoint.at_ms) / 1000) as i64);
    let mut out = format!("{} {age} ago\n", paint("checkpoint", Style::new().bold()));
    let lists = crate::ops::checkpoint::sections(checkpoint);
    for (title, items) in lists.into_iter().filter(|(_, items)| !items.is_empty()) {
        out.push_str(&format!("  {}:\n", title.to_lowercase()));
        out.extend(items.iter().map(|item| format!("    - {}\n", printable(item))));
    }
    if !checkpoint.notes.is_empty() {
        out.push_str("  notes:\n");
        out.extend(printable(&checkpoint.notes).lines().map(|line| format!("    {line}\n")));
    }
    out
}

/// The agent's status, its open question and the answer to it (first, in bold: the agent
/// reads `show` to learn it), each with its age.
fn said(record: &TaskRecord, now: i64) -> String {
    let ago = |at_ms: u64| {
        if at_ms == 0 { String::new() } else { format!(" ({} ago)", super::list::age(now - (at_ms / 1000) as i64)) }
    };
    let mut out = String::new();
    if let Some(answer) = &record.answer {
        let heading = paint("ANSWER", Style::new().bold().green());
        out.push_str(&format!(
            "{heading}{}: {}\n",
            ago(answer.at_ms),
            paint(printable(&answer.text), Style::new().bold())
        ));
    }
    if let Some(status) = &record.status {
        let message =
            if status.message.is_empty() { String::new() } else { format!(": {}", printable(&status.message)) };
        let heading = paint("status", Style::new().bold());
        out.push_str(&format!("{heading} {}{}{message}\n", status.status.as_str(), ago(status.at_ms)));
    }
    if let Some(question) = &record.question {
        let heading = paint("question", Style::new().bold());
        let open = if record.answer.is_some() { "" } else { " (open)" };
        out.push_str(&format!("{heading}{open}{}: {}\n", ago(question.at_ms), printable(&question.text)));
    }
    out
}
