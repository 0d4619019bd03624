//! The work of `git agent compare`: score the variants of a group (`spawn --variants`) on
//! correctness, simplicity, performance, maintainability and operational cost. Returns data
//! and reports progress as [`Event`]s; the command renders both.
//!
//! Each criterion's raw values are normalised across the variants to 0..1, the best variant
//! scoring 1: pass/fail is 1/0 as it is; for lower-is-better values (lines, time, money) a
//! variant scores `best / value` (a value of 0 scores 1); for higher-is-better values (test
//! share) `value / best` (all 0: all 1). The total is the weighted sum of the scores times 100,
//! over the criteria that have data, their weights renormalised to sum to 1.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bstr::ByteSlice;
use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::error::bad_input;
use crate::manifest::AddedDependency;
use crate::settings::CompareWeights;
use crate::state::{self, TaskRecord};

/// Each dependency added counts as this many changed lines for simplicity: it is code the
/// project now carries and keeps up to date.
pub const LINES_PER_DEPENDENCY: u64 = 50;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub group: String,
    /// The test command (`--test`, else `agent.test`); `None`: correctness is skipped.
    pub test: Option<String>,
    pub test_timeout: Duration,
    /// The benchmark command; `None`: performance is skipped.
    pub bench: Option<String>,
    /// How often the benchmark runs per variant (the best time counts).
    pub runs: u32,
    pub weights: CompareWeights,
    pub prepare: crate::scratch::Prepare,
}

/// The criteria, in the order of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    Correctness,
    Simplicity,
    Performance,
    Maintainability,
    Cost,
}

impl Criterion {
    pub const ALL: [Criterion; 5] = [
        Criterion::Correctness,
        Criterion::Simplicity,
        Criterion::Performance,
        Criterion::Maintainability,
        Criterion::Cost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Criterion::Correctness => "correctness",
            Criterion::Simplicity => "simplicity",
            Criterion::Performance => "performance",
            Criterion::Maintainability => "maintainability",
            Criterion::Cost => "cost",
        }
    }

    fn weight(self, weights: &CompareWeights) -> f64 {
        match self {
            Criterion::Correctness => weights.correctness,
            Criterion::Simplicity => weights.simplicity,
            Criterion::Performance => weights.performance,
            Criterion::Maintainability => weights.maintainability,
            Criterion::Cost => weights.cost,
        }
    }
}

/// How a command run on a variant ended.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CommandRun {
    pub passed: bool,
    /// Its exit code; `None` when it timed out or was killed.
    pub exit: Option<i32>,
    /// Wall-clock milliseconds, to the microsecond (for a benchmark, the best of the runs).
    pub duration_ms: f64,
    /// The end of a failing run's output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// One criterion's raw value and score for a variant.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Score {
    pub criterion: Criterion,
    /// The measure the score comes from: 1/0 (tests pass), weighted lines, milliseconds, test
    /// lines per code line, USD; `None` when the variant has none (it scores 0).
    pub raw: Option<f64>,
    /// 0..1, the best variant 1.
    pub score: f64,
}

/// A variant's measures and scores.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Scored {
    pub task: String,
    pub index: u32,
    /// The commit scored (the branch tip).
    pub tip: String,
    /// Its worktree has uncommitted changes (not scored).
    pub uncommitted: bool,
    pub files_changed: u64,
    /// Lines added plus removed since the merge base with the base.
    pub lines_changed: u64,
    pub test_lines: u64,
    pub code_lines: u64,
    pub dependencies_added: Vec<AddedDependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<CommandRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench: Option<CommandRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// One per criterion used, in [`Criterion::ALL`] order.
    pub scores: Vec<Score>,
    /// 0..100.
    pub total: f64,
    /// 1 is the best; ties keep the variants' order.
    pub rank: usize,
}

/// A criterion left out of the total, and why.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    pub criterion: Criterion,
    pub reason: String,
}

/// The comparison of a group's variants.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Comparison {
    pub group: String,
    /// The weights used, renormalised to sum to 1, per criterion used.
    pub weights: Vec<(Criterion, f64)>,
    pub skipped: Vec<Skipped>,
    /// In index order.
    pub variants: Vec<Scored>,
}

/// What happens while variants are compared, as it happens.
#[derive(Debug, Clone)]
pub enum Event {
    Scratch(crate::scratch::Event),
    Testing { task: String },
    Benching { task: String, run: u32, runs: u32 },
}

/// The variants of `group`, in index order; none is an error.
pub fn variants(repo: &gix::Repository, group: &str) -> anyhow::Result<Vec<TaskRecord>> {
    crate::names::validate_task_name(group)?;
    let mut found: Vec<TaskRecord> = state::read_tasks(repo)?
        .into_iter()
        .filter_map(|entry| entry.record.ok())
        .filter(|record| record.variant.as_ref().is_some_and(|v| v.of == group))
        .collect();
    found.sort_by_key(|record| record.variant.as_ref().map_or(0, |v| v.index));
    if found.is_empty() {
        return Err(bad_input(format!("{group:?} has no variants"))
            .hint(format!("spawn them with `git agent spawn {group} --variants 3`"))
            .into());
    }
    Ok(found)
}

/// Is `path` a test file: under a `tests/` or `test/` directory, or named `*_test.*`,
/// `test_*.*`, `*.test.*` or `*.spec.*`?
pub fn is_test_path(path: &[u8]) -> bool {
    let mut parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    let name = parts.pop().unwrap_or_default();
    if parts.iter().any(|dir| *dir == b"tests" || *dir == b"test") {
        return true;
    }
    let Some(dot) = name.rfind_byte(b'.') else { return false };
    let stem = &name[..dot];
    stem.ends_with(b"_test") || name.starts_with(b"test_") || stem.ends_with(b".test") || stem.ends_with(b".spec")
}

/// Scores the variants of `request.group`.
pub fn compare(ctx: &Context, request: &Request, events: &mut dyn FnMut(Event)) -> anyhow::Result<Comparison> {
    let repo = &ctx.repo;
    let records = variants(repo, &request.group)?;
    let mut scored = Vec::with_capacity(records.len());
    for record in &records {
        scored.push(measure(ctx, record)?);
    }
    if request.test.is_some() || request.bench.is_some() {
        run_commands(ctx, request, &records, &mut scored, events)?;
    }
    let mut skipped = Vec::new();
    let mut used = Vec::new();
    for criterion in Criterion::ALL {
        let reason = match criterion {
            Criterion::Correctness if request.test.is_none() => Some("no test command (--test, agent.test)"),
            Criterion::Performance if request.bench.is_none() => Some("no benchmark command (--bench)"),
            Criterion::Cost if scored.iter().all(|s| s.cost_usd.is_none()) => Some("no variant has a recorded cost"),
            _ if criterion.weight(&request.weights) == 0.0 => Some("its weight is 0"),
            _ => None,
        };
        match reason {
            Some(reason) => skipped.push(Skipped { criterion, reason: reason.to_owned() }),
            None => used.push(criterion),
        }
    }
    let sum: f64 = used.iter().map(|c| c.weight(&request.weights)).sum();
    if sum == 0.0 {
        return Err(bad_input("no criterion with a weight above 0 has data to compare the variants on")
            .hint("pass --test or --bench, or give git config agent.compare.simplicity a weight")
            .into());
    }
    let weights: Vec<(Criterion, f64)> = used.iter().map(|&c| (c, c.weight(&request.weights) / sum)).collect();
    for &(criterion, _) in &weights {
        let raws: Vec<Option<f64>> = scored.iter().map(|s| raw_value(criterion, s)).collect();
        let scores = normalise(criterion, &raws);
        for ((variant, raw), score) in scored.iter_mut().zip(raws).zip(scores) {
            variant.scores.push(Score { criterion, raw: raw.map(round), score: round(score) });
        }
    }
    for variant in &mut scored {
        let total: f64 = variant.scores.iter().zip(&weights).map(|(score, (_, weight))| score.score * weight).sum();
        variant.total = (total * 10000.0).round() / 100.0;
    }
    let mut order: Vec<usize> = (0..scored.len()).collect();
    order.sort_by(|&a, &b| scored[b].total.total_cmp(&scored[a].total).then(a.cmp(&b)));
    for (rank, position) in order.into_iter().enumerate() {
        scored[position].rank = rank + 1;
    }
    Ok(Comparison { group: request.group.clone(), weights, skipped, variants: scored })
}

/// Four decimals: stable numbers in the JSON.
fn round(value: f64) -> f64 {
    (value * 10000.0).round() / 10000.0
}

fn raw_value(criterion: Criterion, scored: &Scored) -> Option<f64> {
    match criterion {
        Criterion::Correctness => scored.test.as_ref().map(|t| if t.passed { 1.0 } else { 0.0 }),
        Criterion::Simplicity => {
            Some((scored.lines_changed + LINES_PER_DEPENDENCY * scored.dependencies_added.len() as u64) as f64)
        }
        Criterion::Performance => scored.bench.as_ref().filter(|b| b.passed).map(|b| b.duration_ms),
        Criterion::Maintainability => Some(scored.test_lines as f64 / scored.code_lines.max(1) as f64),
        Criterion::Cost => scored.cost_usd,
    }
}

/// 0..1 per variant, the best 1 (see the module's documentation); no value scores 0.
fn normalise(criterion: Criterion, raws: &[Option<f64>]) -> Vec<f64> {
    let values = raws.iter().flatten().copied();
    match criterion {
        Criterion::Correctness => raws.iter().map(|raw| raw.unwrap_or(0.0)).collect(),
        Criterion::Maintainability => {
            let best = values.fold(0.0, f64::max);
            raws.iter().map(|raw| raw.map_or(0.0, |v| if best == 0.0 { 1.0 } else { v / best })).collect()
        }
        Criterion::Simplicity | Criterion::Performance | Criterion::Cost => {
            let best = values.fold(f64::INFINITY, f64::min);
            raws.iter().map(|raw| raw.map_or(0.0, |v| if v <= 0.0 { 1.0 } else { best / v })).collect()
        }
    }
}

/// What the history says about a variant: its diff since the merge base with its base,
/// dependencies added, test and code lines, recorded cost, uncommitted work.
fn measure(ctx: &Context, record: &TaskRecord) -> anyhow::Result<Scored> {
    let repo = &ctx.repo;
    let tip = crate::git::ref_target(repo, &record.branch)?
        .with_context(|| format!("the branch of variant {:?} is gone", record.name))?;
    let base_now = match (&record.stack, &record.base_ref) {
        (None, Some(base_ref)) => crate::git::ref_target(repo, base_ref)?,
        _ => None,
    };
    let start = record.start_commit().with_context(|| format!("the record of {:?} has no base", record.name))?;
    let fork = crate::git::merge_base(repo, tip, base_now.unwrap_or(start))?.unwrap_or(start);
    let stats = crate::git::diffstat(repo, fork, tip)?;
    let (mut test_lines, mut code_lines) = (0, 0);
    for stat in &stats {
        let lines = stat.added + stat.removed;
        if is_test_path(&stat.path.0) {
            test_lines += lines;
        } else {
            code_lines += lines;
        }
    }
    let tree = |commit: ObjectId| -> anyhow::Result<ObjectId> { Ok(repo.find_commit(commit)?.tree_id()?.detach()) };
    let dependencies_added = crate::manifest::added_dependencies(repo, tree(fork)?, tree(tip)?)?;
    let worktree: PathBuf = crate::ops::prune::worktree_path(repo, record);
    let uncommitted = worktree.is_dir()
        && crate::git::open_worktree_for_status(&worktree).and_then(|wt| crate::git::has_changes(&wt)).unwrap_or(false);
    // Recorded money, else the tokens priced (as `git agent cost` does).
    let cost_usd = crate::ops::cost::task_totals(&ctx.settings, &record.cost).and_then(|totals| totals.usd);
    Ok(Scored {
        task: record.name.clone(),
        index: record.variant.as_ref().map_or(0, |v| v.index),
        tip: tip.to_string(),
        uncommitted,
        files_changed: stats.len() as u64,
        lines_changed: test_lines + code_lines,
        test_lines,
        code_lines,
        dependencies_added,
        test: None,
        bench: None,
        cost_usd,
        scores: Vec::new(),
        total: 0.0,
        rank: 0,
    })
}

/// Runs the test and the benchmark on each variant's tip in one scratch slot of the base
/// branch (integrate's, see [`crate::scratch`]: prepared once, kept warm).
fn run_commands(
    ctx: &Context,
    request: &Request,
    records: &[TaskRecord],
    scored: &mut [Scored],
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<()> {
    let target = records[0].base_ref.clone().unwrap_or_else(|| format!("refs/heads/{}", request.group));
    let first = ObjectId::from_hex(scored[0].tip.as_bytes())?;
    let mut slots = crate::scratch::take_slots(
        &ctx.repo,
        &ctx.worktree_root()?,
        &target,
        1,
        first,
        &request.prepare,
        &mut |event| events(Event::Scratch(event)),
    )?;
    let slot = &mut slots[0];
    let steps = scored.len();
    for (position, variant) in scored.iter_mut().enumerate() {
        let tip = ObjectId::from_hex(variant.tip.as_bytes())?;
        let env = crate::scratch::test_env(slot, position + 1, steps, &variant.task, &target);
        let run_once = |slot: &mut crate::scratch::Slot, command: &str| -> anyhow::Result<CommandRun> {
            slot.checkout(tip)?;
            let mut run = crate::process::Run::shell(command, slot.path())
                .timeout(Some(request.test_timeout))
                .capture(crate::process::Capture::Tail(crate::process::OUTPUT_TAIL));
            for (key, value) in &env {
                run = run.env(key, value);
            }
            let started = Instant::now();
            let outcome = run.run().with_context(|| format!("cannot run {command:?}"))?;
            let duration_ms = started.elapsed().as_micros() as f64 / 1000.0;
            crate::interrupt::check("nothing was changed")?;
            let passed = outcome.status.success();
            Ok(CommandRun {
                passed,
                exit: outcome.status.code(),
                duration_ms,
                output: (!passed).then(|| outcome.output_tail_lossy()),
            })
        };
        if let Some(test) = &request.test {
            events(Event::Testing { task: variant.task.clone() });
            variant.test = Some(run_once(slot, test)?);
        }
        if let Some(bench) = &request.bench {
            let mut best: Option<CommandRun> = None;
            for run in 1..=request.runs {
                events(Event::Benching { task: variant.task.clone(), run, runs: request.runs });
                let this = run_once(slot, bench)?;
                if !this.passed {
                    best = Some(this);
                    break;
                }
                if best.as_ref().is_none_or(|b| this.duration_ms < b.duration_ms) {
                    best = Some(this);
                }
            }
            variant.bench = best;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths() {
        for path in ["tests/a.rs", "src/test/x.py", "pkg/foo_test.go", "test_foo.py", "a/b.test.ts", "c.spec.js"] {
            assert!(is_test_path(path.as_bytes()), "{path}");
        }
        for path in ["src/lib.rs", "testing/a.rs", "contest.py", "src/tests.rs", "latest_x.py", "test"] {
            assert!(!is_test_path(path.as_bytes()), "{path}");
        }
    }

    #[test]
    fn normalising() {
        let lower = normalise(Criterion::Simplicity, &[Some(10.0), Some(40.0), Some(0.0), None]);
        assert_eq!(lower, [0.0, 0.0, 1.0, 0.0]);
        let lower = normalise(Criterion::Performance, &[Some(10.0), Some(40.0)]);
        assert_eq!(lower, [1.0, 0.25]);
        let higher = normalise(Criterion::Maintainability, &[Some(0.5), Some(1.0), Some(0.0)]);
        assert_eq!(higher, [0.5, 1.0, 0.0]);
        assert_eq!(normalise(Criterion::Maintainability, &[Some(0.0), Some(0.0)]), [1.0, 1.0]);
        assert_eq!(normalise(Criterion::Correctness, &[Some(1.0), Some(0.0), None]), [1.0, 0.0, 0.0]);
    }
}
