//! The `agent.*` settings, read once from git config and validated before anything is created.
//!
//! An invalid value is an error naming the key and the file it came from, in every command
//! that reads settings, before that command changes anything. Commands (`agent.test`,
//! `agent.setup`, `agent.command`, `agent.resolve.<name>.run`) keep where they were
//! configured, so that a command planted in a configuration file is shown before it runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bstr::{BStr, ByteSlice};

use crate::error::bad_input;
use crate::layout::{DEFAULT_BRANCH_PREFIX, key};

/// How long a running agent may be quiet before `list` calls it idle, unless `agent.idleAfter` says.
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(15 * 60);

/// The `agent.*` settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub worktree_root: Option<PathBuf>,
    pub branch_prefix: String,
    pub base: Option<String>,
    pub setup: Option<String>,
    /// `agent.testSetup`: run in each new integrate slot instead of `agent.setup`.
    pub test_setup: Option<String>,
    pub copy: Vec<String>,
    /// `agent.disposable`: globs of ignored files prune may delete (default: common build output).
    pub disposable: Vec<String>,
    /// `agent.command` as configured; it splits into arguments (checked here).
    pub command: Option<String>,
    pub test: Option<String>,
    /// `agent.testTimeout` in seconds.
    pub test_timeout: Option<u64>,
    /// `agent.testJobs`: how many step tests integrate runs at once.
    pub test_jobs: Option<u64>,
    pub rules: Vec<ResolveRule>,
    /// `agent.identity`: who integrate's commits are by, instead of the user's identity.
    pub identity: Option<Identity>,
    /// `agent.runHooks`: let git-agent's own git commands run the repository's hooks.
    pub run_hooks: bool,
    /// `agent.stack=false`: spawn starts tasks with dependencies from their base, as
    /// `--from-base` does (default: stacked on the dependencies that have commits).
    pub no_stack: bool,
    /// `agent.remote`: the remote `git agent sync` uses when none is named.
    pub remote: Option<String>,
    /// `agent.terminal=tmux`: agents started without --detach get a tmux window each.
    pub tmux: bool,
    /// `agent.checkpointEvery`: how long a running agent may go without a checkpoint before
    /// `list` flags it (default [`DEFAULT_CHECKPOINT_EVERY`]).
    pub checkpoint_every: std::time::Duration,
    /// `agent.protected`: pathspecs no task may change (multi-valued).
    pub protected: Vec<String>,
    /// `agent.gate`: new tasks start behind the plan review gate.
    pub gate: bool,
    /// `agent.price.<model>.*`: USD per million tokens, by model name as recorded.
    pub prices: BTreeMap<String, Price>,
    /// `agent.notify`: a shell command run when a task's status changes (see `git agent report`).
    pub notify: Option<String>,
    /// `agent.idleAfter`: how long a running agent may change no file and make no commit
    /// before `list` flags it idle (default [`DEFAULT_IDLE_AFTER`]).
    pub idle_after: Duration,
    /// `agent.compare.*`: the weights of `git agent compare`'s criteria.
    pub compare_weights: CompareWeights,
    /// `agent.link`: paths of the main worktree new worktrees link to instead of copying.
    pub link: Vec<String>,
    /// `agent.portRange`: where each task's `GIT_AGENT_PORT` falls (default
    /// [`crate::layout::DEFAULT_PORT_RANGE`]).
    pub port_range: PortRange,
    /// `agent.open`: the command `git agent open` runs with a worktree's path.
    pub open: Option<String>,
    /// Where each command-valued key was configured, by key.
    origins: BTreeMap<String, Origin>,
}

/// The weight of each of `git agent compare`'s criteria (`agent.compare.<criterion>`;
/// defaults 30, 25, 20, 15, 10). Only their ratios matter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareWeights {
    pub correctness: f64,
    pub simplicity: f64,
    pub performance: f64,
    pub maintainability: f64,
    pub cost: f64,
}

impl Default for CompareWeights {
    fn default() -> Self {
        CompareWeights { correctness: 30.0, simplicity: 25.0, performance: 20.0, maintainability: 15.0, cost: 10.0 }
    }
}

/// A rule resolving conflicts confined to matching files (`agent.resolve.<name>.*`).
#[derive(Debug, Clone)]
pub struct ResolveRule {
    pub name: String,
    pub path: String,
    /// `agent.resolve.<name>.strategy` (default: run).
    pub strategy: ResolveStrategy,
    /// `agent.resolve.<name>.run`: required for [`ResolveStrategy::Run`], run after the others.
    pub run: Option<String>,
    /// Where `run` was configured (where `strategy` was, when there is no `run`).
    pub origin: Origin,
}

/// How a rule settles the conflicted files it covers (`agent.resolve.<name>.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ResolveStrategy {
    /// The target's side of the files, then the rule's command; its result is taken.
    Run,
    /// Both sides' lines of each conflicting hunk, as `git merge-file --union`.
    Union,
    /// The target's side of each conflicting hunk, as `git merge-file --ours`.
    Ours,
    /// The task's side of each conflicting hunk, as `git merge-file --theirs`.
    Theirs,
}

impl ResolveStrategy {
    /// The values `agent.resolve.<name>.strategy` takes, for error messages.
    pub const ALLOWED: &'static str = "union, ours, theirs or run";

    fn parse(value: &str) -> Option<ResolveStrategy> {
        match value.trim().to_ascii_lowercase().as_str() {
            "run" => Some(ResolveStrategy::Run),
            "union" => Some(ResolveStrategy::Union),
            "ours" => Some(ResolveStrategy::Ours),
            "theirs" => Some(ResolveStrategy::Theirs),
            _ => None,
        }
    }
}

impl fmt::Display for ResolveStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::output::kebab(self).as_str())
    }
}

/// What a model costs, in USD per million tokens (`agent.price.<model>.input`, `.output`,
/// `.cacheRead`; built-in estimates in [`crate::ops::cost`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
}

/// The ports tasks' `GIT_AGENT_PORT`s are picked from (`agent.portRange`), both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        let (first, last) = crate::layout::DEFAULT_PORT_RANGE;
        PortRange { first, last }
    }
}

impl PortRange {
    /// The port of task `task`: the same for a name in every run and every version of
    /// git-agent, so a task's dev server keeps its address, and different tasks mostly get
    /// different ones. 32-bit FNV-1a of the name's bytes (a fixed, published function: std's
    /// hashers may change between Rust versions), modulo the range's size.
    pub fn port_of(&self, task: &str) -> u16 {
        let size = u32::from(self.last - self.first) + 1;
        self.first + (fnv1a(task.as_bytes()) % size) as u16
    }
}

/// 32-bit FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/).
fn fnv1a(bytes: &[u8]) -> u32 {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    bytes.iter().fold(OFFSET, |hash, byte| (hash ^ u32::from(*byte)).wrapping_mul(PRIME))
}

/// `Name <email>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// Where a configured value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The configuration file, when it came from one.
    pub file: Option<PathBuf>,
    pub source: gix::config::Source,
}

impl Origin {
    /// From a per-worktree configuration (`config.worktree`, with `extensions.worktreeConfig`).
    pub fn is_per_worktree(&self) -> bool {
        self.source == gix::config::Source::Worktree
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use gix::config::Source;
        match (&self.file, self.source) {
            (Some(file), _) => write!(f, "{}", file.display()),
            (None, Source::Cli) => f.write_str("the command line (git -c)"),
            (None, Source::Env | Source::EnvOverride) => f.write_str("the environment (GIT_CONFIG_*)"),
            (None, Source::Api) => f.write_str("git-agent's defaults"),
            (None, other) => write!(f, "the {other:?} configuration"),
        }
    }
}

impl Settings {
    pub fn read(repo: &gix::Repository) -> anyhow::Result<Settings> {
        let config = repo.config_snapshot();
        let reader = Reader { config: &config };
        let worktree_root = config
            .trusted_path(key::WORKTREE_ROOT)
            .map_err(|err| reader.invalid(key::WORKTREE_ROOT, format!("is not a usable path: {err}")))?;
        let mut origins = BTreeMap::new();
        let mut command_value = |key: &str| {
            let value = reader.string(key);
            if value.is_some()
                && let Some(origin) = reader.origin(key)
            {
                origins.insert(key.to_owned(), origin);
            }
            value
        };
        let setup = command_value(key::SETUP);
        let test_setup = command_value(key::TEST_SETUP);
        let command = command_value(key::COMMAND);
        let test = command_value(key::TEST);
        let notify = command_value(key::NOTIFY);
        let open = command_value(key::OPEN);
        if let Some(line) = &command {
            crate::state::split_command_line(line).map_err(|why| {
                reader.invalid(key::COMMAND, format!("{line:?} cannot be split into arguments: {why}"))
            })?;
        }
        Ok(Settings {
            worktree_root,
            branch_prefix: reader.branch_prefix()?,
            base: reader.string(key::BASE),
            remote: reader.string(key::REMOTE),
            notify,
            idle_after: reader.duration(key::IDLE_AFTER)?.unwrap_or(DEFAULT_IDLE_AFTER),
            setup,
            test_setup,
            copy: reader.copies()?,
            disposable: match config.strings(key::DISPOSABLE) {
                Some(values) => {
                    values.into_iter().map(|v| v.to_str_lossy().trim().to_owned()).filter(|v| !v.is_empty()).collect()
                }
                None => crate::layout::DEFAULT_DISPOSABLE.iter().map(|s| s.to_string()).collect(),
            },
            command,
            test,
            test_timeout: reader.positive(key::TEST_TIMEOUT, "a number of seconds")?,
            test_jobs: reader.positive(key::TEST_JOBS, "a number of jobs")?,
            rules: reader.rules()?,
            identity: reader.identity()?,
            run_hooks: reader.boolean(key::RUN_HOOKS)?.unwrap_or(false),
            no_stack: !reader.boolean(key::STACK)?.unwrap_or(true),
            tmux: match reader.string(key::TERMINAL).as_deref() {
                None | Some("none") => false,
                Some("tmux") => true,
                Some(other) => return Err(reader.invalid(key::TERMINAL, format!("{other:?} is not tmux or none"))),
            },
            checkpoint_every: reader.duration(key::CHECKPOINT_EVERY)?.unwrap_or(DEFAULT_CHECKPOINT_EVERY),
            protected: config
                .strings(key::PROTECTED)
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.to_str_lossy().trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| match crate::scope::check_entry(&v) {
                    Ok(()) => Ok(v),
                    Err(why) => Err(reader.invalid(key::PROTECTED, format!("{v:?} {why}"))),
                })
                .collect::<anyhow::Result<_>>()?,
            gate: reader.boolean(key::GATE)?.unwrap_or(false),
            prices: reader.prices()?,
            compare_weights: reader.compare_weights()?,
            link: reader.links()?,
            port_range: reader.port_range()?,
            open,
            origins,
        })
    }

    /// Where a command-valued key (`agent.test`, `agent.setup`, `agent.command`) was set.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.origins.get(key)
    }
}

struct Reader<'a> {
    config: &'a gix::config::Snapshot<'a>,
}

impl Reader<'_> {
    /// A non-empty string value (empty means unset, as for git's own command settings).
    fn string(&self, key: &str) -> Option<String> {
        self.config.string(key).map(|v| v.to_str_lossy().into_owned()).filter(|v| !v.is_empty())
    }

    /// Where the value of `key` that wins (the last one) was set.
    fn origin(&self, key: &str) -> Option<Origin> {
        let (section, subsection, name) = split_key(key)?;
        let sections = self.config.plumbing().sections_by_name(section)?;
        let mut found = None;
        for candidate in sections {
            let sub = candidate.header().subsection_name().map(|s| s.as_bytes());
            if sub == subsection.map(str::as_bytes) && candidate.value(name).is_some() {
                // Absolute: gix gives paths relative to where the repository was found from.
                let file = candidate.meta().path.as_deref().map(crate::git::normalise_path);
                found = Some(Origin { file, source: candidate.meta().source });
            }
        }
        found
    }

    /// An error naming the key and its file.
    fn invalid(&self, key: &str, what: impl fmt::Display) -> anyhow::Error {
        let origin = self.origin(key);
        let place = origin.as_ref().map_or_else(String::new, |o| format!(" (set in {o})"));
        let fix = match origin.as_ref().and_then(|o| o.file.as_ref()) {
            Some(file) => format!("fix or remove it: git config --file {} --unset {key}", file.display()),
            None => format!("fix or remove {key}"),
        };
        bad_input(format!("invalid git config {key}{place}: {what}")).hint(fix).into()
    }

    /// Task branches are `refs/heads/<prefix><task>`: the prefix must make valid ref names.
    fn branch_prefix(&self) -> anyhow::Result<String> {
        let Some(prefix) = self.string(key::BRANCH_PREFIX) else { return Ok(DEFAULT_BRANCH_PREFIX.to_owned()) };
        match gix::refs::FullName::try_from(format!("refs/heads/{prefix}task")) {
            Ok(_) => Ok(prefix),
            Err(err) => {
                Err(self.invalid(key::BRANCH_PREFIX, format!("{prefix:?} does not make valid branch names: {err}")))
            }
        }
    }

    /// A whole number above zero (`what` names its unit in the error).
    fn positive(&self, key: &str, what: &str) -> anyhow::Result<Option<u64>> {
        let Some(value) = self.string(key) else { return Ok(None) };
        match value.trim().parse::<u64>() {
            Ok(number) if number > 0 => Ok(Some(number)),
            _ => Err(self.invalid(key, format!("{value:?} is not {what}"))),
        }
    }

    /// A finite number >= 0.
    fn weight(&self, key: &str) -> anyhow::Result<Option<f64>> {
        let Some(value) = self.string(key) else { return Ok(None) };
        match value.trim().parse::<f64>() {
            Ok(number) if number.is_finite() && number >= 0.0 => Ok(Some(number)),
            _ => Err(self.invalid(key, format!("{value:?} is not a number >= 0"))),
        }
    }

    /// `agent.copy` patterns: the main worktree's files, so none may climb out of it with `..`.
    fn copies(&self) -> anyhow::Result<Vec<String>> {
        let values = self.config.strings(key::COPY).unwrap_or_default();
        let mut copies = Vec::new();
        for value in values.iter().map(|v| v.to_str_lossy().into_owned()).filter(|v| !v.is_empty()) {
            if value.trim_start_matches(":/").split('/').any(|part| part == "..") {
                return Err(self.invalid(key::COPY, format!("{value:?} leaves the worktree")));
            }
            copies.push(value);
        }
        Ok(copies)
    }

    /// `agent.link` values: relative paths inside the worktree, without `..` (a link is made at
    /// each, to the same path in the main worktree).
    fn links(&self) -> anyhow::Result<Vec<String>> {
        let values = self.config.strings(key::LINK).unwrap_or_default();
        let mut links: Vec<String> = Vec::new();
        for value in values {
            let value = value.to_str_lossy().trim().trim_end_matches('/').to_owned();
            let path = std::path::Path::new(&value);
            if value.is_empty() || !path.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
                return Err(self.invalid(key::LINK, format!("{value:?} is not a relative path inside the worktree")));
            }
            // The worktree's `.git` is git's (a file pointing at the repository), never a link's.
            if path.components().next().is_some_and(|c| c.as_os_str() == ".git") {
                return Err(self.invalid(key::LINK, format!("{value:?} is inside .git, which belongs to git")));
            }
            if !links.contains(&value) {
                links.push(value);
            }
        }
        Ok(links)
    }

    /// `agent.portRange`: `start-end`, 1 <= start <= end <= 65535.
    fn port_range(&self) -> anyhow::Result<PortRange> {
        let Some(value) = self.string(key::PORT_RANGE) else { return Ok(PortRange::default()) };
        let parsed = value.split_once('-').and_then(|(first, last)| {
            let (first, last) = (first.trim().parse::<u16>().ok()?, last.trim().parse::<u16>().ok()?);
            (first > 0 && first <= last).then_some(PortRange { first, last })
        });
        parsed.ok_or_else(|| self.invalid(key::PORT_RANGE, format!("{value:?} is not a port range like 4100-4999")))
    }

    fn compare_weights(&self) -> anyhow::Result<CompareWeights> {
        let mut weights = CompareWeights::default();
        for (key, weight) in [
            (key::COMPARE_CORRECTNESS, &mut weights.correctness),
            (key::COMPARE_SIMPLICITY, &mut weights.simplicity),
            (key::COMPARE_PERFORMANCE, &mut weights.performance),
            (key::COMPARE_MAINTAINABILITY, &mut weights.maintainability),
            (key::COMPARE_COST, &mut weights.cost),
        ] {
            if let Some(value) = self.weight(key)? {
                *weight = value;
            }
        }
        let all = [weights.correctness, weights.simplicity, weights.performance, weights.maintainability, weights.cost];
        if all.iter().all(|w| *w == 0.0) {
            return Err(bad_input("invalid git config agent.compare.*: the weights are all 0")
                .hint("give at least one criterion a weight above 0")
                .into());
        }
        Ok(weights)
    }

    /// A duration above zero: minutes, or a number with an `s`, `m` or `h` suffix.
    fn duration(&self, key: &str) -> anyhow::Result<Option<std::time::Duration>> {
        let Some(value) = self.string(key) else { return Ok(None) };
        parse_duration(&value).map(Some).ok_or_else(|| {
            self.invalid(
                key,
                format!("{value:?} is not a duration: minutes (15), or seconds, minutes or hours (90s, 15m, 2h)"),
            )
        })
    }

    fn boolean(&self, key: &str) -> anyhow::Result<Option<bool>> {
        match self.config.try_boolean(key) {
            Ok(value) => Ok(value),
            Err(_) => {
                let value = self.string(key).unwrap_or_default();
                Err(self.invalid(key, format!("{value:?} is not a boolean (true or false)")))
            }
        }
    }

    fn identity(&self) -> anyhow::Result<Option<Identity>> {
        let Some(value) = self.string(key::IDENTITY) else { return Ok(None) };
        parse_identity(value.as_str().into())
            .map(Some)
            .ok_or_else(|| self.invalid(key::IDENTITY, format!("{value:?} is not of the form \"Name <email>\"")))
    }

    /// `agent.resolve.<name>.path` with `.strategy` and `.run`, in configuration order. A rule
    /// needs a path, and a command unless its strategy settles conflicts by itself; an unknown
    /// strategy is an error.
    fn rules(&self) -> anyhow::Result<Vec<ResolveRule>> {
        let mut rules: Vec<ResolveRule> = Vec::new();
        let Some(sections) = self.config.plumbing().sections_by_name("agent") else { return Ok(rules) };
        let mut names: Vec<String> = Vec::new();
        for section in sections {
            let Some(sub) = section.header().subsection_name() else { continue };
            let Some(name) = sub.to_str().ok().and_then(|s| s.strip_prefix("resolve.")) else { continue };
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        for name in names {
            let path_key = format!("agent.resolve.{name}.path");
            let run_key = format!("agent.resolve.{name}.run");
            let strategy_key = format!("agent.resolve.{name}.strategy");
            let (path, run, strategy) = (self.string(&path_key), self.string(&run_key), self.string(&strategy_key));
            let strategy = match strategy.as_deref().map(|s| (s, ResolveStrategy::parse(s))) {
                None => None,
                Some((_, Some(strategy))) => Some(strategy),
                Some((other, None)) => {
                    let allowed = ResolveStrategy::ALLOWED;
                    return Err(self.invalid(&strategy_key, format!("{other:?} is not one of {allowed}")));
                }
            };
            let Some(path) = path else {
                match (&run, strategy) {
                    (None, None) => continue,
                    (Some(_), _) => return Err(self.invalid(&run_key, format!("{path_key} is missing"))),
                    (None, Some(_)) => return Err(self.invalid(&strategy_key, format!("{path_key} is missing"))),
                }
            };
            let strategy = match (strategy, &run) {
                (Some(strategy), _) if strategy != ResolveStrategy::Run => strategy,
                (_, Some(_)) => ResolveStrategy::Run,
                (Some(_), None) => return Err(self.invalid(&strategy_key, format!("{run_key} is missing"))),
                (None, None) => {
                    return Err(self.invalid(
                        &path_key,
                        format!("{run_key} is missing (or set {strategy_key}: union, ours or theirs)"),
                    ));
                }
            };
            let origin_key = if run.is_some() { &run_key } else { &strategy_key };
            let origin = self.origin(origin_key).expect("the value was just read");
            rules.push(ResolveRule { name, path, strategy, run, origin });
        }
        Ok(rules)
    }
}

impl Reader<'_> {
    /// `agent.price.<model>.input` and `.output` (both needed) and `.cacheRead` (default: the
    /// input price), each a number of USD per million tokens, zero or more.
    fn prices(&self) -> anyhow::Result<BTreeMap<String, Price>> {
        let mut prices = BTreeMap::new();
        let Some(sections) = self.config.plumbing().sections_by_name("agent") else { return Ok(prices) };
        let models: Vec<String> = sections
            .filter_map(|section| {
                section.header().subsection_name()?.to_str().ok()?.strip_prefix("price.").map(str::to_owned)
            })
            .collect();
        for model in models {
            if prices.contains_key(&model) {
                continue;
            }
            let price = |name: &str| -> anyhow::Result<Option<f64>> {
                let key = format!("agent.price.{model}.{name}");
                let Some(value) = self.string(&key) else { return Ok(None) };
                match value.trim().parse::<f64>() {
                    Ok(number) if number.is_finite() && number >= 0.0 => Ok(Some(number)),
                    _ => {
                        Err(self.invalid(&key, format!("{value:?} is not a price (USD per million tokens, 0 or more)")))
                    }
                }
            };
            let (input, output, cache_read) = (price("input")?, price("output")?, price("cacheRead")?);
            match (input, output) {
                (Some(input), Some(output)) => {
                    prices.insert(model, Price { input, output, cache_read: cache_read.unwrap_or(input) });
                }
                (None, None) if cache_read.is_none() => {}
                (None, _) => {
                    let key = format!("agent.price.{model}.input");
                    return Err(bad_input(format!("invalid git config agent.price.{model}: {key} is missing"))
                        .hint(format!("set it: git config {key} <USD per million tokens>"))
                        .into());
                }
                (Some(_), None) => {
                    let key = format!("agent.price.{model}.output");
                    return Err(bad_input(format!("invalid git config agent.price.{model}: {key} is missing"))
                        .hint(format!("set it: git config {key} <USD per million tokens>"))
                        .into());
                }
            }
        }
        Ok(prices)
    }
}

/// How long a running agent may go without a checkpoint, unless `agent.checkpointEvery` says.
pub const DEFAULT_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(45 * 60);

/// `45` (minutes), `90s`, `45m`, `2h`, `3d`, `2w`: a whole number above zero.
pub fn parse_duration(value: &str) -> Option<std::time::Duration> {
    let value = value.trim();
    let (number, unit) = match value.char_indices().last()? {
        (i, 's') => (&value[..i], 1),
        (i, 'm') => (&value[..i], 60),
        (i, 'h') => (&value[..i], 3600),
        (i, 'd') => (&value[..i], 86_400),
        (i, 'w') => (&value[..i], 7 * 86_400),
        _ => (value, 60),
    };
    let number: u64 = number.trim().parse().ok().filter(|n| *n > 0)?;
    Some(std::time::Duration::from_secs(number.checked_mul(unit)?))
}

/// [`parse_duration`] with its unit required: `30d`, `2w`, `12h` (a bare number is no age).
pub fn parse_age(value: &str) -> Option<std::time::Duration> {
    value.trim().ends_with(['s', 'm', 'h', 'd', 'w']).then(|| parse_duration(value)).flatten()
}

/// `agent.resolve.lock.run` -> ("agent", Some("resolve.lock"), "run").
fn split_key(key: &str) -> Option<(&str, Option<&str>, &str)> {
    let (section, rest) = key.split_once('.')?;
    match rest.rsplit_once('.') {
        Some((sub, name)) => Some((section, Some(sub), name)),
        None => Some((section, None, rest)),
    }
}

/// `Name <email>`, both parts present, nothing after the `>`.
pub fn parse_identity(value: &BStr) -> Option<Identity> {
    let value = value.to_str().ok()?.trim();
    let (name, rest) = value.split_once('<')?;
    let email = rest.strip_suffix('>')?;
    let name = name.trim();
    if name.is_empty() || email.trim().is_empty() || email.contains(['<', '>']) || name.contains('>') {
        return None;
    }
    Some(Identity { name: name.to_owned(), email: email.trim().to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_fnv1a_of_the_name_in_the_range() {
        // The published FNV-1a test vectors: the function must never change.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
        let range = PortRange::default();
        assert_eq!(range.port_of("a"), 4100 + (0xe40c_292c_u32 % 900) as u16);
        let one = PortRange { first: 5000, last: 5000 };
        assert_eq!(one.port_of("anything"), 5000);
    }

    #[test]
    fn identities_need_a_name_and_an_email() {
        assert_eq!(
            parse_identity("Integration Bot <bot@example.com>".into()),
            Some(Identity { name: "Integration Bot".into(), email: "bot@example.com".into() })
        );
        for bad in ["bot", "<bot@example.com>", "Bot <>", "Bot <a> x", "Bot bot@example.com>"] {
            assert_eq!(parse_identity(bad.into()), None, "{bad}");
        }
    }

    #[test]
    fn durations_are_minutes_or_have_a_unit() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("45"), Some(2700));
        assert_eq!(secs("90s"), Some(90));
        assert_eq!(secs(" 2h "), Some(7200));
        assert_eq!(secs("5m"), Some(300));
        assert_eq!(secs("1d"), Some(86_400));
        assert_eq!(secs("2w"), Some(14 * 86_400));
        for bad in ["", "0", "0s", "-1", "m", "1y", "1.5h", "h1"] {
            assert_eq!(secs(bad), None, "{bad}");
        }
        // An age needs its unit: a bare number is not 45 minutes there.
        assert_eq!(parse_age("45"), None);
        assert_eq!(parse_age("30d").map(|d| d.as_secs()), Some(30 * 86_400));
    }

    #[test]
    fn keys_split_into_section_subsection_and_name() {
        assert_eq!(split_key("agent.test"), Some(("agent", None, "test")));
        assert_eq!(split_key("agent.resolve.lock.run"), Some(("agent", Some("resolve.lock"), "run")));
    }
}
