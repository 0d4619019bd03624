//! `git agent compare`: score a group's variants side by side. The work is in
//! [`crate::ops::compare`]; this parses, announces the commands it runs, and renders.

use std::time::Duration;

use super::Context;
use crate::cli::CompareArgs;
use crate::error::Exit;
use crate::ops::compare::{Comparison, Criterion, Event, Request, Scored};
use crate::output::{GlobalArgs, Ui};

/// Seconds a test or benchmark run may take unless --test-timeout or agent.testTimeout say.
const DEFAULT_TIMEOUT: u64 = 600;

pub fn run(global: &GlobalArgs, ui: &Ui, args: CompareArgs) -> anyhow::Result<Exit> {
    crate::names::validate_task_name(&args.group)?;
    let ctx = Context::open(global)?;
    let test = match (&args.test, &ctx.settings.test) {
        (Some(test), _) => Some((test.clone(), "--test".to_owned())),
        (None, Some(test)) => {
            let origin = ctx.settings.origin(crate::layout::key::TEST).cloned();
            if let Some(origin) = &origin {
                super::integrate::refuse_worktree_config(&ctx, crate::layout::key::TEST, origin)?;
            }
            Some((test.clone(), origin.map_or_else(|| "agent.test".to_owned(), |o| format!("agent.test from {o}"))))
        }
        (None, None) => None,
    };
    let request = Request {
        group: args.group.clone(),
        test: test.as_ref().map(|(command, _)| command.clone()),
        test_timeout: Duration::from_secs(args.test_timeout.or(ctx.settings.test_timeout).unwrap_or(DEFAULT_TIMEOUT)),
        bench: args.bench.clone(),
        runs: args.runs,
        weights: ctx.settings.compare_weights,
        prepare: crate::scratch::Prepare::from_settings(&ctx.repo, &ctx.settings)?,
    };
    // Shown before anything runs: a command planted in a configuration file does not run unnoticed.
    if let Some((command, from)) = &test {
        ui.status(format!("running the test ({from}) on each variant: {command}"));
    }
    if let Some(bench) = &args.bench {
        ui.status(format!("running the benchmark (--bench) on each variant: {bench}"));
    }
    let comparison = crate::ops::compare::compare(&ctx, &request, &mut |event| show(ui, event))?;
    for variant in comparison.variants.iter().filter(|v| v.uncommitted) {
        ui.warn(format!("variant {} has uncommitted changes: only its commits are scored", variant.task));
    }
    for skipped in &comparison.skipped {
        ui.status(format!(
            "left out: {} ({}); the other weights are renormalised",
            skipped.criterion.as_str(),
            skipped.reason
        ));
    }
    if ui.json {
        ui.json_data(&CompareJson { version: 1, comparison: &comparison });
    } else {
        ui.data(&render(&comparison));
    }
    Ok(Exit::Success)
}

fn show(ui: &Ui, event: Event) {
    match event {
        Event::Scratch(event) => ui.status(event.to_string()),
        Event::Testing { task } => ui.status(format!("testing {task}")),
        Event::Benching { task, run, runs } => ui.status(format!("benchmarking {task} ({run}/{runs})")),
    }
}

/// One row per variant, best first: each criterion's measure and score, the total.
fn render(comparison: &Comparison) -> String {
    let used: Vec<Criterion> = comparison.weights.iter().map(|(c, _)| *c).collect();
    let mut header = vec!["rank".to_owned(), "variant".to_owned()];
    for (criterion, weight) in &comparison.weights {
        header.push(format!("{} ({:.0}%)", criterion.as_str(), weight * 100.0));
    }
    header.push("total".to_owned());
    let mut rows = vec![header];
    let mut ranked: Vec<&Scored> = comparison.variants.iter().collect();
    ranked.sort_by_key(|v| v.rank);
    for variant in ranked {
        let mut row = vec![variant.rank.to_string(), variant.task.clone()];
        for (criterion, score) in used.iter().zip(&variant.scores) {
            row.push(format!("{} {:.2}", measure_text(*criterion, variant), score.score));
        }
        row.push(format!("{:.1}", variant.total));
        rows.push(row);
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn measure_text(criterion: Criterion, variant: &Scored) -> String {
    match criterion {
        Criterion::Correctness => match &variant.test {
            Some(test) if test.passed => "pass".to_owned(),
            Some(test) => match test.exit {
                Some(code) => format!("fail({code})"),
                None => "fail".to_owned(),
            },
            None => "-".to_owned(),
        },
        Criterion::Simplicity => match variant.dependencies_added.len() {
            0 => format!("{} lines", variant.lines_changed),
            deps => format!("{} lines +{deps} dep", variant.lines_changed),
        },
        Criterion::Performance => match &variant.bench {
            Some(bench) if bench.passed => format!("{:.1}ms", bench.duration_ms),
            Some(_) => "failed".to_owned(),
            None => "-".to_owned(),
        },
        Criterion::Maintainability => format!("{}/{} test/code", variant.test_lines, variant.code_lines),
        Criterion::Cost => variant.cost_usd.map_or_else(|| "-".to_owned(), crate::ops::cost::usd_text),
    }
}

/// `git agent compare --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct CompareJson<'a> {
    version: u32,
    comparison: &'a Comparison,
}
