//! `git agent cost`: totals of what agents spent (by task, model, kind, day or week), and its
//! `add` and `import` sub-commands. The work is in [`crate::ops::cost`].

use super::Context;
use crate::cli::{CostAction, CostAddArgs, CostArgs, CostImportArgs};
use crate::error::{Exit, bad_input};
use crate::ops::cost::{self, Report, Totals, tokens_text, usd_text};
use crate::output::{GlobalArgs, Style, Ui, paint};
use crate::state::{self, CostEntry};

pub fn run(global: &GlobalArgs, ui: &Ui, args: CostArgs) -> anyhow::Result<Exit> {
    match args.action {
        Some(CostAction::Add(add)) => run_add(global, ui, add),
        Some(CostAction::Import(import)) => run_import(global, ui, import),
        None => run_report(global, ui, args),
    }
}

fn run_add(global: &GlobalArgs, ui: &Ui, args: CostAddArgs) -> anyhow::Result<Exit> {
    let entry = CostEntry {
        model: args.model,
        input: args.input,
        output: args.output,
        cache_read: args.cache_read,
        usd: args.usd,
        source: "manual".into(),
    };
    cost::check_entry(&entry).map_err(bad_input)?;
    let ctx = Context::open(global)?;
    let (_, record) = ctx.task_or_current(args.task.as_deref())?;
    let record = cost::add(&ctx.repo, &record.name, entry.clone())?;
    let totals = cost::task_totals(&ctx.settings, &record.cost).unwrap_or_default();
    ui.status(format!("task {}: recorded {}; its cost is now {}", record.name, entry_text(&entry), totals.short()));
    if ui.json {
        ui.json_data(&CostJson::Added { version: 1, task: &record.name, added: &entry, cost: &totals });
    }
    Ok(Exit::Success)
}

fn entry_text(entry: &CostEntry) -> String {
    let mut text = format!(
        "{}: {} in, {} out, {} cache read",
        entry.model,
        tokens_text(entry.input),
        tokens_text(entry.output),
        tokens_text(entry.cache_read)
    );
    if let Some(usd) = entry.usd {
        text.push_str(&format!(", {}", usd_text(usd)));
    }
    text
}

fn run_import(global: &GlobalArgs, ui: &Ui, args: CostImportArgs) -> anyhow::Result<Exit> {
    let ctx = Context::open(global)?;
    let report = cost::import(&ctx, args.agent, args.dir.as_deref(), args.dry_run)?;
    if report.unreadable_lines > 0 {
        ui.warn(format!("{} lines of the session logs are not JSON and were skipped", report.unreadable_lines));
    }
    if ui.json {
        ui.json_data(&CostJson::Imported(&report));
        return Ok(Exit::Success);
    }
    let verb = if report.dry_run { "would record" } else { "recorded" };
    for added in &report.added {
        ui.data(&format!("{} {verb} {} ({})\n", added.task, entry_text(&added.cost), added.cost.source));
    }
    ui.status(format!(
        "{} session logs in {}: {} sessions in task worktrees ({} {verb}, {} up to date), {} elsewhere ignored",
        report.files,
        report.dir.display(),
        report.sessions,
        report.added.len(),
        report.up_to_date,
        report.ignored_sessions
    ));
    Ok(Exit::Success)
}

fn run_report(global: &GlobalArgs, ui: &Ui, args: CostArgs) -> anyhow::Result<Exit> {
    let since = match &args.since {
        Some(text) => Some((text.as_str(), cost::parse_date(text).map_err(|why| bad_input(format!("--since {why}")))?)),
        None => None,
    };
    let ctx = Context::open(global)?;
    let entries = state::read_tasks(&ctx.repo)?;
    let (spent, problems) = cost::spending(&ctx.repo, &entries);
    for problem in &problems {
        ui.warn(problem);
    }
    let report = cost::report(&ctx.settings, &spent, args.by, since);
    for warning in &report.warnings {
        ui.warn(&warning.message);
    }
    if ui.json {
        ui.json_data(&CostJson::Report(&report));
    } else if report.groups.is_empty() {
        ui.status("no costs recorded: `git agent cost add` or `git agent cost import claude|codex` records them");
    } else {
        ui.data(&render(&report));
    }
    Ok(Exit::Success)
}

fn render(report: &Report) -> String {
    let heading = crate::output::kebab(&report.by).to_uppercase();
    let header = [heading.as_str(), "INPUT", "OUTPUT", "CACHE READ", "USD"];
    let cells = |key: &str, totals: &Totals| {
        [
            key.to_owned(),
            tokens_text(totals.input),
            tokens_text(totals.output),
            tokens_text(totals.cache_read),
            totals.money(),
        ]
    };
    let mut rows: Vec<[String; 5]> = report.groups.iter().map(|g| cells(&g.key, &g.totals)).collect();
    rows.push(cells("total", &report.total));
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 5]| {
        let mut out = format!("{:<w$}", cells[0], w = widths[0]);
        for (cell, w) in cells.iter().zip(widths).skip(1) {
            out.push_str(&format!("  {cell:>w$}"));
        }
        out + "\n"
    };
    let mut out = paint(line(&header.map(str::to_owned)), Style::new().bold());
    let last = rows.len() - 1;
    for (i, row) in rows.iter().enumerate() {
        let text = line(row);
        out.push_str(&if i == last { paint(text, Style::new().bold()) } else { text });
    }
    out
}

/// `git agent cost --json`: the report, or what `cost add` or `cost import` recorded.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum CostJson<'a> {
    Report(&'a Report),
    Added { version: u32, task: &'a str, added: &'a CostEntry, cost: &'a Totals },
    Imported(&'a cost::ImportReport),
}
