//! The work of `git agent cost`: recording what agents spent on a task (by hand, or imported
//! from the agents' own session logs), pricing it, and totalling it by task, model, kind, day
//! or week, with warnings where a task's kind and its model do not fit.
//!
//! Costs are `cost` operations in each task's log (see [`crate::oplog`]), so they travel with
//! the record (`git agent sync`) and are summed by the fold (`task.json` field `cost`).
//!
//! Imports are idempotent: each session's spending is recorded per model under a fixed source
//! (`claude:<session>:<model>`, `codex:<session>:<model>`), and an import appends only what a
//! source spent beyond what the task's log already holds for it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Context;
use crate::error::{bad_input, refused};
use crate::oplog::Change;
use crate::settings::{Price, Settings};
use crate::state::{self, Cost, CostEntry, TaskEntry};

/// Built-in prices, USD per million tokens (input, output, cache read): the first pattern the
/// lower-cased model name contains wins. Estimates from the vendors' list prices; set
/// `agent.price.<model>.*` to override them.
pub const DEFAULT_PRICES: &[(&str, Price)] = &[
    ("opus-4-5", Price { input: 5.0, output: 25.0, cache_read: 0.5 }),
    ("opus", Price { input: 15.0, output: 75.0, cache_read: 1.5 }),
    ("sonnet", Price { input: 3.0, output: 15.0, cache_read: 0.3 }),
    ("haiku-4-5", Price { input: 1.0, output: 5.0, cache_read: 0.1 }),
    ("haiku", Price { input: 0.8, output: 4.0, cache_read: 0.08 }),
    ("gpt-5-nano", Price { input: 0.05, output: 0.4, cache_read: 0.005 }),
    ("gpt-5-mini", Price { input: 0.25, output: 2.0, cache_read: 0.025 }),
    ("gpt-5", Price { input: 1.25, output: 10.0, cache_read: 0.125 }),
];

/// Kinds of work that need no large model: spending on an opus-class model is flagged.
pub const MECHANICAL_KINDS: &[&str] = &["lint", "format", "types", "docs", "rename", "test-fix"];
/// Kinds of work that need a strong model: spending on a haiku-class model is flagged.
pub const DEEP_KINDS: &[&str] = &["architecture", "debugging", "security"];

/// How large a model is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelClass {
    /// opus: the largest.
    Largest,
    /// haiku, *-mini, *-nano: the smallest.
    Smallest,
    Middle,
}

pub fn model_class(model: &str) -> ModelClass {
    let lower = model.to_ascii_lowercase();
    if lower.contains("opus") {
        ModelClass::Largest
    } else if lower.contains("haiku") || lower.contains("-mini") || lower.contains("-nano") {
        ModelClass::Smallest
    } else {
        ModelClass::Middle
    }
}

/// A task kind: a lower-case word (letters, digits, '-'), at most 32 characters.
pub fn validate_kind(kind: &str) -> Result<(), String> {
    let plain = kind.len() <= 32
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "kind {kind:?} is not a kind: a lower-case word of letters, digits and '-' (for example {})",
            MECHANICAL_KINDS.iter().chain(DEEP_KINDS).copied().collect::<Vec<_>>().join(", ")
        ))
    }
}

/// Where a model's price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriceFrom {
    Config,
    BuiltIn,
}

/// A model's price: `agent.price.<model>.*`, else the built-in table.
pub fn price_of(settings: &Settings, model: &str) -> Option<(Price, PriceFrom)> {
    if let Some(price) = settings.prices.get(model) {
        return Some((*price, PriceFrom::Config));
    }
    let lower = model.to_ascii_lowercase();
    DEFAULT_PRICES.iter().find(|(pattern, _)| lower.contains(pattern)).map(|(_, price)| (*price, PriceFrom::BuiltIn))
}

/// The money an entry stands for: its own `usd`, else its tokens priced; `None` when its model
/// has no price.
pub fn usd_of(settings: &Settings, entry: &CostEntry) -> Option<f64> {
    if let Some(usd) = entry.usd {
        return Some(usd);
    }
    let (price, _) = price_of(settings, &entry.model)?;
    let tokens = |n: u64, per_million: f64| n as f64 * per_million / 1e6;
    Some(
        tokens(entry.input, price.input)
            + tokens(entry.output, price.output)
            + tokens(entry.cache_read, price.cache_read),
    )
}

/// Tokens and money added up. `usd` is what could be priced; `unpriced` names the models
/// whose tokens could not be (their money is unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Totals {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub usd: Option<f64>,
    pub unpriced: Vec<String>,
}

impl Totals {
    fn add(&mut self, entry: &CostEntry, usd: Option<f64>) {
        self.input = self.input.saturating_add(entry.input);
        self.output = self.output.saturating_add(entry.output);
        self.cache_read = self.cache_read.saturating_add(entry.cache_read);
        match usd {
            Some(usd) => self.usd = Some(self.usd.unwrap_or(0.0) + usd),
            None if !self.unpriced.contains(&entry.model) => {
                self.unpriced.push(entry.model.clone());
                self.unpriced.sort();
            }
            None => {}
        }
    }

    /// `$1.23`, `$1.23 + ?` (some models unpriced), or `?` (none priced).
    pub fn money(&self) -> String {
        match (self.usd, self.unpriced.is_empty()) {
            (Some(usd), true) => usd_text(usd),
            (Some(usd), false) => format!("{} + ?", usd_text(usd)),
            (None, _) => "?".to_owned(),
        }
    }

    /// [`Totals::money`], or the tokens when nothing is priced.
    pub fn short(&self) -> String {
        match self.usd {
            Some(_) => self.money(),
            None => format!("{} in, {} out tokens", tokens_text(self.input), tokens_text(self.output)),
        }
    }
}

/// `$0.0123`, `$1.23`, `$1234.50`.
pub fn usd_text(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 0.01 { format!("${usd:.4}") } else { format!("${usd:.2}") }
}

/// `950`, `12.3k`, `4.5M`.
pub fn tokens_text(n: u64) -> String {
    match n {
        n if n < 1000 => n.to_string(),
        n if n < 1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        n => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// A task's cost from its folded state (per model: its recorded money, else its tokens priced),
/// for `list` and `show`; `None` when nothing was spent.
pub fn task_totals(settings: &Settings, cost: &Cost) -> Option<Totals> {
    if cost.is_empty() {
        return None;
    }
    let mut totals = Totals::default();
    for entry in cost.models.values() {
        totals.add(entry, usd_of(settings, entry));
    }
    Some(totals)
}

/// What the report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum By {
    #[default]
    Task,
    Model,
    Kind,
    /// The UTC day each cost was recorded.
    Day,
    /// The ISO week (UTC) each cost was recorded.
    Week,
}

/// One cost operation, with the task it belongs to.
#[derive(Debug, Clone)]
pub struct Spent {
    pub task: String,
    pub kind: Option<String>,
    /// When it was recorded (0: unknown).
    pub at_ms: u64,
    pub entry: CostEntry,
}

/// Every cost operation of every readable task; the tasks whose log cannot be read, with why.
pub fn spending(repo: &gix::Repository, entries: &[TaskEntry]) -> (Vec<Spent>, Vec<String>) {
    let mut spent = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        let record = match &entry.record {
            Ok(record) => record,
            Err(why) => {
                problems.push(format!("task {}: its record is corrupt: {why}", entry.name));
                continue;
            }
        };
        match crate::oplog::history_ops(repo, &entry.name, &[entry.record_commit]) {
            Ok(ops) => spent.extend(ops.into_iter().filter_map(|op| match op.change {
                Change::Cost { cost } => {
                    Some(Spent { task: entry.name.clone(), kind: record.kind.clone(), at_ms: op.at_ms, entry: cost })
                }
                _ => None,
            })),
            Err(why) => problems.push(format!("task {}: its log cannot be read: {why}", entry.name)),
        }
    }
    (spent, problems)
}

/// One group of the report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Group {
    pub key: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// A model without a price: its money is unknown.
    Unpriced,
    /// A task's kind does not fit the model class it spent on.
    Mismatch,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Warning {
    pub kind: WarningKind,
    pub task: Option<String>,
    pub model: String,
    pub message: String,
}

/// `git agent cost --json`. The schema is documented in git-agent-cost(1).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub version: u32,
    pub by: By,
    /// The first day counted (UTC), as given.
    pub since: Option<String>,
    pub groups: Vec<Group>,
    pub total: Totals,
    pub warnings: Vec<Warning>,
}

/// Totals `spent` (those recorded on or after `since`) grouped `by`, with warnings.
pub fn report(settings: &Settings, spent: &[Spent], by: By, since: Option<(&str, u64)>) -> Report {
    let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
    let mut total = Totals::default();
    let mut per_task_model: BTreeMap<(String, String), (Option<String>, Totals)> = BTreeMap::new();
    for spent in spent.iter().filter(|s| since.is_none_or(|(_, ms)| s.at_ms >= ms)) {
        let usd = usd_of(settings, &spent.entry);
        let key = match by {
            By::Task => spent.task.clone(),
            By::Model => spent.entry.model.clone(),
            By::Kind => spent.kind.clone().unwrap_or_else(|| "(none)".into()),
            By::Day => day_key(spent.at_ms),
            By::Week => week_key(spent.at_ms),
        };
        groups.entry(key).or_default().add(&spent.entry, usd);
        total.add(&spent.entry, usd);
        per_task_model
            .entry((spent.task.clone(), spent.entry.model.clone()))
            .or_insert_with(|| (spent.kind.clone(), Totals::default()))
            .1
            .add(&spent.entry, usd);
    }
    let mut warnings: Vec<Warning> = total
        .unpriced
        .iter()
        .map(|model| Warning {
            kind: WarningKind::Unpriced,
            task: None,
            model: model.clone(),
            message: format!(
                "model {model:?} has no price: its USD is shown as ?; set git config agent.price.{model}.input and \
                 agent.price.{model}.output (USD per million tokens)"
            ),
        })
        .collect();
    for ((task, model), (kind, totals)) in &per_task_model {
        let Some(kind) = kind else { continue };
        let class = model_class(model);
        let why = if MECHANICAL_KINDS.contains(&kind.as_str()) && class == ModelClass::Largest {
            "mechanical work on an opus-class model: a sonnet- or haiku-class model would likely do"
        } else if DEEP_KINDS.contains(&kind.as_str()) && class == ModelClass::Smallest {
            "work that needs judgement on a haiku-class model: a larger model would likely do it better"
        } else {
            continue;
        };
        warnings.push(Warning {
            kind: WarningKind::Mismatch,
            task: Some(task.clone()),
            model: model.clone(),
            message: format!("task {task} (kind {kind}) spent {} on {model}: {why}", totals.short()),
        });
    }
    Report {
        version: 1,
        by,
        since: since.map(|(text, _)| text.to_owned()),
        groups: groups.into_iter().map(|(key, totals)| Group { key, totals }).collect(),
        total,
        warnings,
    }
}

const DAY_MS: u64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` (UTC midnight) as ms since the epoch.
pub fn parse_date(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a date of the form YYYY-MM-DD");
    let mut parts = text.trim().splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (year, month, day): (i64, u32, u32) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    let days = days_from_civil(year, month, day);
    if !(1..=12).contains(&month) || civil_from_days(days) != (year, month, day) || year < 1970 {
        return Err(bad());
    }
    Ok(days as u64 * DAY_MS)
}

fn day_key(at_ms: u64) -> String {
    if at_ms == 0 {
        return "unknown".into();
    }
    let (y, m, d) = civil_from_days((at_ms / DAY_MS) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-W01`: the ISO week (weeks start on Monday; week 1 holds the year's first Thursday).
fn week_key(at_ms: u64) -> String {
    if at_ms == 0 {
        return "unknown".into();
    }
    let days = (at_ms / DAY_MS) as i64;
    // 1970-01-01 was a Thursday: 0 is Monday.
    let weekday = (days + 3).rem_euclid(7);
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
    format!("{year:04}-W{week:02}")
}

/// Checks a cost entry given by hand.
pub fn check_entry(entry: &CostEntry) -> Result<(), String> {
    if entry.model.trim().is_empty() || entry.model.len() > 200 || entry.model.chars().any(char::is_control) {
        return Err(format!("model {:?} is not a model name", entry.model));
    }
    if let Some(usd) = entry.usd
        && !(usd.is_finite() && usd >= 0.0)
    {
        return Err(format!("--usd {usd} is not an amount of money (0 or more)"));
    }
    if entry.input == 0 && entry.output == 0 && entry.cache_read == 0 && entry.usd.is_none() {
        return Err("nothing to record: give --input, --output, --cache-read or --usd".into());
    }
    Ok(())
}

/// Appends a cost operation to `task`'s log.
pub fn add(repo: &gix::Repository, task: &str, entry: CostEntry) -> anyhow::Result<state::TaskRecord> {
    check_entry(&entry).map_err(bad_input)?;
    let (_, record) = state::update_record(repo, task, |_| Ok(Change::Cost { cost: entry.clone() }))?;
    Ok(record)
}

/// Whose session logs to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    /// Claude Code: ~/.claude/projects/*/*.jsonl
    Claude,
    /// OpenAI Codex CLI: $CODEX_HOME/sessions/**/*.jsonl (default ~/.codex/sessions)
    Codex,
}

impl Agent {
    fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
        }
    }

    /// Where the agent keeps its session logs.
    fn default_dir(self) -> anyhow::Result<PathBuf> {
        let home = || {
            std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).ok_or_else(|| {
                anyhow::Error::from(
                    bad_input("HOME is not set, so the session logs cannot be found").hint("pass --dir DIR"),
                )
            })
        };
        Ok(match self {
            Agent::Claude => home()?.join(".claude/projects"),
            Agent::Codex => match std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
                Some(codex_home) => PathBuf::from(codex_home).join("sessions"),
                None => home()?.join(".codex/sessions"),
            },
        })
    }
}

/// What one session spent on one model in one working directory.
#[derive(Debug, Clone, Default)]
struct Usage {
    session: String,
    model: String,
    cwd: PathBuf,
    input: u64,
    output: u64,
    cache_read: u64,
}

impl Usage {
    fn add(&mut self, input: u64, output: u64, cache_read: u64) {
        self.input = self.input.saturating_add(input);
        self.output = self.output.saturating_add(output);
        self.cache_read = self.cache_read.saturating_add(cache_read);
    }
}

/// What the logs hold, per (session, model, cwd).
#[derive(Default)]
struct Scan {
    usages: BTreeMap<(String, String, PathBuf), Usage>,
    files: usize,
    /// Lines that are not JSON (a log being written, or damaged).
    bad_lines: usize,
}

impl Scan {
    fn usage(&mut self, session: &str, model: &str, cwd: &Path) -> &mut Usage {
        self.usages.entry((session.to_owned(), model.to_owned(), cwd.to_owned())).or_insert_with(|| Usage {
            session: session.to_owned(),
            model: model.to_owned(),
            cwd: cwd.to_owned(),
            ..Usage::default()
        })
    }
}

/// Most directory levels searched below the log directory, and most files read.
const MAX_DEPTH: usize = 6;
const MAX_FILES: usize = 100_000;

/// Every `*.jsonl` file under `dir`, sorted.
fn jsonl_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut queue = vec![(dir.to_owned(), 0)];
    while let Some((dir, depth)) = queue.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else { continue };
        for entry in read.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && depth < MAX_DEPTH {
                queue.push((path, depth + 1));
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
                if files.len() > MAX_FILES {
                    return Err(bad_input(format!("more than {MAX_FILES} session logs under {}", dir.display()))
                        .hint("pass --dir with a narrower directory")
                        .into());
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Calls `line` for each JSON object of a JSONL file; counts the lines that are not JSON.
fn each_line(path: &Path, scan: &mut Scan, mut line: impl FnMut(&mut Scan, serde_json::Value)) {
    let Ok(file) = std::fs::File::open(path) else { return };
    scan.files += 1;
    for text in std::io::BufReader::new(file).lines() {
        let Ok(text) = text else {
            scan.bad_lines += 1;
            break;
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(value) => line(scan, value),
            Err(_) => scan.bad_lines += 1,
        }
    }
}

fn number(value: &serde_json::Value, key: &str) -> u64 {
    value.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

/// Claude Code transcripts: one JSON object per line; an assistant message is
/// `{"type": "assistant", "sessionId", "cwd", "message": {"id", "model", "usage":
/// {"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"}}}`.
/// A message streamed in several content blocks is on several lines with the same id and
/// usage: each id counts once (across every file: a resumed session repeats earlier lines).
/// Cache writes count as input tokens. Synthetic messages (model `<synthetic>`) cost nothing.
fn scan_claude(dir: &Path) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    let mut seen: HashSet<String> = HashSet::new();
    for path in jsonl_files(dir)? {
        each_line(&path, &mut scan, |scan, line| {
            if line.get("type").and_then(|t| t.as_str()) != Some("assistant") {
                return;
            }
            let text = |value: Option<&serde_json::Value>| value.and_then(|v| v.as_str()).map(str::to_owned);
            let message = line.get("message");
            let (Some(session), Some(cwd), Some(id), Some(model), Some(usage)) = (
                text(line.get("sessionId")),
                text(line.get("cwd")),
                text(message.and_then(|m| m.get("id"))),
                text(message.and_then(|m| m.get("model"))),
                message.and_then(|m| m.get("usage")),
            ) else {
                return;
            };
            if model.starts_with('<') || !seen.insert(id) {
                return;
            }
            let input = number(usage, "input_tokens").saturating_add(number(usage, "cache_creation_input_tokens"));
            scan.usage(&session, &model, Path::new(&cwd)).add(
                input,
                number(usage, "output_tokens"),
                number(usage, "cache_read_input_tokens"),
            );
        });
    }
    Ok(scan)
}

/// One line of a Codex rollout log: `{"timestamp", "type", "payload"}`.
#[derive(Deserialize)]
struct CodexLine {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: serde_json::Value,
}

/// Codex CLI rollout logs (`rollout-<time>-<id>.jsonl`): `session_meta` (payload `id`, `cwd`)
/// starts a session, `turn_context` (payload `cwd`, `model`) says the model of the turns that
/// follow, and `event_msg` lines with payload `type: "token_count"` carry
/// `info.total_token_usage`, the session's running totals (`input_tokens` including
/// `cached_input_tokens`, `output_tokens` including reasoning). Each total's growth over the
/// previous one is attributed to the model and working directory of the moment; input is
/// recorded without its cached part, which is recorded as cache reads.
fn scan_codex(dir: &Path) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    for path in jsonl_files(dir)? {
        let mut session = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut cwd = PathBuf::new();
        let mut model: Option<String> = None;
        let mut last = [0u64; 3];
        each_line(&path, &mut scan, |scan, value| {
            let Ok(line) = serde_json::from_value::<CodexLine>(value) else { return };
            let text = |key: &str| line.payload.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            match line.kind.as_str() {
                "session_meta" => {
                    session = text("id").unwrap_or(session.clone());
                    cwd = text("cwd").map(PathBuf::from).unwrap_or(cwd.clone());
                }
                "turn_context" => {
                    cwd = text("cwd").map(PathBuf::from).unwrap_or(cwd.clone());
                    model = text("model").or(model.clone());
                }
                "event_msg" if text("type").as_deref() == Some("token_count") => {
                    let Some(total) = line.payload.get("info").and_then(|i| i.get("total_token_usage")) else {
                        return;
                    };
                    let cached = number(total, "cached_input_tokens");
                    let now =
                        [number(total, "input_tokens").saturating_sub(cached), number(total, "output_tokens"), cached];
                    // Totals only grow; a smaller one starts again from zero.
                    let grew = now.iter().zip(&last).all(|(n, l)| n >= l);
                    let delta: Vec<u64> = now.iter().zip(&last).map(|(n, l)| if grew { n - l } else { *n }).collect();
                    last = now;
                    // Sessions of builds that wrote no model cannot be priced or attributed to one.
                    if let Some(model) = &model
                        && !cwd.as_os_str().is_empty()
                    {
                        scan.usage(&session, model, &cwd).add(delta[0], delta[1], delta[2]);
                    }
                }
                _ => {}
            }
        });
    }
    Ok(scan)
}

/// One cost operation an import adds (or would add, in a dry run).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Added {
    pub task: String,
    #[serde(flatten)]
    pub cost: CostEntry,
}

/// `git agent cost import --json`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    pub version: u32,
    pub agent: Agent,
    pub dir: PathBuf,
    pub dry_run: bool,
    /// Session log files read.
    pub files: usize,
    /// Sessions whose working directory is in a task's worktree.
    pub sessions: usize,
    /// Sessions (or parts of sessions) that ran in no task's worktree: not recorded.
    pub ignored_sessions: usize,
    /// Lines that are not JSON.
    pub unreadable_lines: usize,
    pub added: Vec<Added>,
    /// Sources whose spending the task's log holds already.
    pub up_to_date: usize,
}

/// Imports what `agent`'s session logs under `dir` (default: where the agent keeps them) say
/// was spent in each task's worktree. One record commit per task that gets something.
pub fn import(ctx: &Context, agent: Agent, dir: Option<&Path>, dry_run: bool) -> anyhow::Result<ImportReport> {
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => agent.default_dir()?,
    };
    if !dir.is_dir() {
        return Err(bad_input(format!("no {} session logs: {} is not a directory", agent.name(), dir.display()))
            .hint("pass --dir DIR, the directory holding the *.jsonl session logs")
            .into());
    }
    let scan = match agent {
        Agent::Claude => scan_claude(&dir)?,
        Agent::Codex => scan_codex(&dir)?,
    };
    // Each task's worktree on this machine, longest first: the innermost one holding a cwd wins.
    let mut worktrees: Vec<(String, PathBuf)> = state::read_tasks(&ctx.repo)?
        .into_iter()
        .filter_map(|entry| {
            let record = entry.record.ok()?;
            let path = crate::ops::prune::worktree_path(&ctx.repo, &record);
            (!path.as_os_str().is_empty()).then(|| (entry.name, crate::git::normalise_path(&path)))
        })
        .collect();
    worktrees.sort_by_key(|(_, path)| std::cmp::Reverse(path.as_os_str().len()));
    let mut task_of_cwd: HashMap<PathBuf, Option<String>> = HashMap::new();
    let mut wanted: BTreeMap<String, BTreeMap<String, CostEntry>> = BTreeMap::new();
    let mut sessions = BTreeSet::new();
    let mut ignored = BTreeSet::new();
    for usage in scan.usages.values() {
        let task = task_of_cwd.entry(usage.cwd.clone()).or_insert_with(|| {
            // A cwd that climbs out (`..`) may leave any worktree it seems to be in: no task's.
            let climbs = usage.cwd.components().any(|c| c == std::path::Component::ParentDir);
            let cwd = crate::git::normalise_path(&usage.cwd);
            let found = worktrees.iter().find(|(_, path)| cwd.starts_with(path));
            found.filter(|_| !climbs && usage.cwd.is_absolute()).map(|(task, _)| task.clone())
        });
        let Some(task) = task else {
            ignored.insert(&usage.session);
            continue;
        };
        sessions.insert(&usage.session);
        let source = format!("{}:{}:{}", agent.name(), usage.session, usage.model);
        let entry = wanted.entry(task.clone()).or_default().entry(source.clone()).or_insert_with(|| CostEntry {
            model: usage.model.clone(),
            source,
            ..CostEntry::default()
        });
        entry.input = entry.input.saturating_add(usage.input);
        entry.output = entry.output.saturating_add(usage.output);
        entry.cache_read = entry.cache_read.saturating_add(usage.cache_read);
    }
    let mut report = ImportReport {
        version: 1,
        agent,
        dir,
        dry_run,
        files: scan.files,
        sessions: sessions.len(),
        ignored_sessions: ignored.iter().filter(|s| !sessions.contains(*s)).count(),
        unreadable_lines: scan.bad_lines,
        added: Vec::new(),
        up_to_date: 0,
    };
    for (task, sources) in wanted {
        let mut added = Vec::new();
        let mut up_to_date = 0;
        let decide = |commit: gix::ObjectId, added: &mut Vec<CostEntry>, up_to_date: &mut usize| {
            let recorded = recorded_by_source(&ctx.repo, &task, commit)?;
            added.clear();
            *up_to_date = 0;
            for (source, entry) in &sources {
                match beyond(entry, recorded.get(source)) {
                    Some(more) => added.push(more),
                    None => *up_to_date += 1,
                }
            }
            anyhow::Ok(())
        };
        if dry_run {
            let Some(found) = state::find_task(&ctx.repo, &task)? else { continue };
            decide(found.record_commit, &mut added, &mut up_to_date)?;
        } else {
            state::update_record_many(&ctx.repo, &task, |_, commit| {
                decide(commit, &mut added, &mut up_to_date)?;
                Ok(added.iter().map(|cost| Change::Cost { cost: cost.clone() }).collect())
            })?;
        }
        report.up_to_date += up_to_date;
        report.added.extend(added.into_iter().map(|cost| Added { task: task.clone(), cost }));
    }
    Ok(report)
}

/// What the task's log at `commit` holds per cost source, summed.
fn recorded_by_source(
    repo: &gix::Repository,
    task: &str,
    commit: gix::ObjectId,
) -> anyhow::Result<HashMap<String, CostEntry>> {
    let ops = crate::oplog::history_ops(repo, task, &[commit])
        .map_err(|why| refused(format!("the log of task {task:?} cannot be read: {why}")))?;
    let mut by_source: HashMap<String, CostEntry> = HashMap::new();
    for op in ops {
        if let Change::Cost { cost } = op.change {
            let sum = by_source.entry(cost.source.clone()).or_default();
            sum.input = sum.input.saturating_add(cost.input);
            sum.output = sum.output.saturating_add(cost.output);
            sum.cache_read = sum.cache_read.saturating_add(cost.cache_read);
        }
    }
    Ok(by_source)
}

/// What `now` (a source's totals) holds beyond what was `recorded` for it; `None` when nothing.
fn beyond(now: &CostEntry, recorded: Option<&CostEntry>) -> Option<CostEntry> {
    let zero = CostEntry::default();
    let recorded = recorded.unwrap_or(&zero);
    let more = CostEntry {
        input: now.input.saturating_sub(recorded.input),
        output: now.output.saturating_sub(recorded.output),
        cache_read: now.cache_read.saturating_sub(recorded.cache_read),
        ..now.clone()
    };
    (more.input > 0 || more.output > 0 || more.cache_read > 0).then_some(more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_weeks_are_utc_and_iso() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2026-01-01"), Ok(1_767_225_600_000));
        assert_eq!(day_key(1_767_225_600_000 + 5), "2026-01-01");
        // 2026-01-01 is a Thursday: week 1 of 2026; 2027-01-01 is a Friday: week 53 of 2026.
        assert_eq!(week_key(parse_date("2026-01-01").unwrap()), "2026-W01");
        assert_eq!(week_key(parse_date("2025-12-29").unwrap()), "2026-W01");
        assert_eq!(week_key(parse_date("2025-12-28").unwrap()), "2025-W52");
        assert_eq!(week_key(parse_date("2027-01-01").unwrap()), "2026-W53");
        for bad in ["2026-02-30", "2026-13-01", "26-01-01", "yesterday", "2026-1-1", "1969-12-31"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        for days in [0, 1, 59, 365, 10_000, 20_454, 40_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn prices_come_from_config_then_the_built_in_table() {
        let mut settings = Settings::default();
        let entry = |model: &str| CostEntry {
            model: model.into(),
            input: 1_000_000,
            output: 1_000_000,
            cache_read: 1_000_000,
            ..CostEntry::default()
        };
        assert_eq!(usd_of(&settings, &entry("claude-sonnet-4-5-20250929")), Some(3.0 + 15.0 + 0.3));
        assert_eq!(usd_of(&settings, &entry("claude-opus-4-1")), Some(15.0 + 75.0 + 1.5));
        assert_eq!(usd_of(&settings, &entry("claude-opus-4-5-20251101")), Some(5.0 + 25.0 + 0.5));
        assert_eq!(usd_of(&settings, &entry("my-local-llama")), None);
        settings.prices.insert("my-local-llama".into(), Price { input: 1.0, output: 2.0, cache_read: 0.0 });
        assert_eq!(usd_of(&settings, &entry("my-local-llama")), Some(3.0));
        let own = CostEntry { usd: Some(0.5), ..entry("claude-opus-4-1") };
        assert_eq!(usd_of(&settings, &own), Some(0.5), "an entry's own money wins");
    }

    #[test]
    fn kinds_and_model_classes() {
        assert!(validate_kind("lint").is_ok());
        assert!(validate_kind("test-fix").is_ok());
        for bad in ["", "Lint", "a b", "-x", "x".repeat(33).as_str()] {
            assert!(validate_kind(bad).is_err(), "{bad}");
        }
        assert_eq!(model_class("claude-opus-4-1"), ModelClass::Largest);
        assert_eq!(model_class("claude-3-5-haiku-20241022"), ModelClass::Smallest);
        assert_eq!(model_class("gpt-5-mini"), ModelClass::Smallest);
        assert_eq!(model_class("claude-sonnet-4-5"), ModelClass::Middle);
    }

    #[test]
    fn an_import_adds_only_what_grew() {
        let now = CostEntry { model: "m".into(), input: 10, output: 5, cache_read: 0, ..CostEntry::default() };
        assert_eq!(beyond(&now, None).unwrap().input, 10);
        assert!(beyond(&now, Some(&now)).is_none());
        let half = CostEntry { input: 4, output: 5, ..now.clone() };
        let more = beyond(&now, Some(&half)).unwrap();
        assert_eq!((more.input, more.output), (6, 0));
    }

    #[test]
    fn totals_say_what_is_unpriced() {
        let mut totals = Totals::default();
        totals.add(&CostEntry { model: "a".into(), input: 1500, ..CostEntry::default() }, Some(1.234));
        assert_eq!(totals.short(), "$1.23");
        totals.add(&CostEntry { model: "b".into(), output: 2_500_000, ..CostEntry::default() }, None);
        assert_eq!(totals.short(), "$1.23 + ?");
        assert_eq!(totals.unpriced, ["b"]);
        let unpriced = Totals { input: 1500, output: 2_500_000, ..Totals::default() };
        assert_eq!(unpriced.short(), "1.5k in, 2.5M out tokens");
    }
}
