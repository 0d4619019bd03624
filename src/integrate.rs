//! Integration: merge task branches in dependency order, test after every merge, land all or
//! nothing.
//!
//! Every merge is computed in memory on top of the result so far; nothing the user can see
//! changes until the very end, when the target ref is moved once, by compare-and-swap against
//! the value read at the start. Tests run in a scratch worktree this module owns.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use bstr::ByteSlice;
use gix::ObjectId;
use serde::Serialize;

use crate::conflicts::{ConflictPath, MergeCaches};
use crate::error::{Exit, Fail};
use crate::output::JsonPath;
use crate::scratch::Slot;
use crate::state::TaskRecord;

/// How each task's work is brought onto the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One `--no-ff` merge commit per task.
    #[default]
    Merge,
    /// The task's commits replayed onto the result: linear history.
    Rebase,
    /// One commit per task with all of its changes.
    Squash,
}

pub use crate::merge::settle::{Unsettleable, Unsettled};
pub use crate::settings::{ResolveRule, ResolveStrategy};

/// What integration needs to know, decided by the command.
pub struct Options {
    pub strategy: Strategy,
    pub test: Option<String>,
    pub test_timeout: Duration,
    pub keep_going: bool,
    pub dry_run: bool,
    pub rules: Vec<ResolveRule>,
    /// Who the commits are by (committer, and author of merge and squash commits).
    pub identity: gix::actor::Signature,
    /// Where the scratch worktrees go.
    pub scratch_dir: PathBuf,
    /// When the tests run.
    pub test_at: TestAt,
    /// How many tests run at once (each in its own scratch worktree).
    pub jobs: usize,
    /// How many times a failed test is run again before it counts as failed.
    pub retries: u32,
    /// Copy the tests' output to stderr as it comes.
    pub follow_output: bool,
    /// The full name of the branch being built: the scratch slots are its.
    pub target_ref: String,
    /// What a new scratch slot gets before its first test (agent.copy, agent.testSetup).
    pub prepare: crate::scratch::Prepare,
}

/// When integrate tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TestAt {
    /// After every merge: the first failing step is known at once.
    #[default]
    Each,
    /// Only the final result; when it fails, the steps are bisected for the first failing one.
    End,
}

/// What happens, as it happens, for the command to show (operations do not print).
pub enum Event<'a> {
    /// A test starts on the result of the step at `position` (1-based, of `total`).
    TestStarted { position: usize, total: usize, task: &'a str },
    /// The final result failed its test: the `steps` new commits are bisected.
    Bisecting { steps: usize },
    /// A step's outcome is final; steps come in order.
    Step { position: usize, total: usize, step: &'a Step },
    /// A scratch slot was made, recovered or prepared.
    Scratch(crate::scratch::Event),
}

#[derive(Debug, Serialize, Clone, schemars::JsonSchema)]
pub struct TestRun {
    pub command: String,
    pub exit: Option<i32>,
    pub duration_ms: u64,
    pub cached: bool,
    pub timed_out: bool,
    /// The end of the test's output, when it failed.
    pub output: Option<String>,
    /// How many times it ran (more than once: it failed and was retried, `--retries`).
    pub attempts: u32,
    /// It was stopped because an earlier step's test failed: it says nothing.
    #[serde(skip)]
    pub cancelled: bool,
}

/// How one task's step came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Merged (or rebased, or squashed) and, if there is a test, tested.
    Merged,
    /// Its work is in the result already: nothing to do.
    AlreadyIntegrated,
    /// The merge conflicts and no rule covers the conflicts.
    Conflict,
    /// Merged, but the test failed.
    TestFailed,
    /// The conflicts were confined to a rule's files and it resolved them (its strategy,
    /// then its command if it has one).
    ResolvedByRule,
    /// Not tried: a task it depends on did not land.
    Skipped,
    /// Dry run: would merge cleanly (untested).
    WouldMerge,
    /// Dry run: would conflict.
    WouldConflict,
    /// Dry run: would conflict only in a rule's files, which its strategy settles (exactly,
    /// for union, ours and theirs); a command the rule has would run on that result (the dry
    /// run goes on without it).
    WouldResolveByRule,
}

impl StepStatus {
    /// Did the task's work make it into the result (or would it, in a dry run)?
    pub fn landed(self) -> bool {
        match self {
            StepStatus::Merged
            | StepStatus::AlreadyIntegrated
            | StepStatus::ResolvedByRule
            | StepStatus::WouldMerge
            | StepStatus::WouldResolveByRule => true,
            StepStatus::Conflict | StepStatus::TestFailed | StepStatus::Skipped | StepStatus::WouldConflict => false,
        }
    }
}

/// The id of a tree, never of a commit. Steps hand trees and commits on to each other; with
/// one plain id type for both, a dry run once took a commit id for a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeId(pub ObjectId);

/// The id of a commit, never of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitId(pub ObjectId);

impl CommitId {
    /// The commit's tree.
    pub fn tree(self, repo: &gix::Repository) -> anyhow::Result<TreeId> {
        Ok(TreeId(repo.find_commit(self.0)?.tree_id()?.detach()))
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Step {
    pub task: String,
    pub status: StepStatus,
    pub commit: Option<String>,
    pub tree: Option<String>,
    pub conflicts: Vec<JsonPath>,
    /// The rule that resolved the conflicts; on a conflict step, the rule that covered them
    /// but could not settle the ones in `unsettled`.
    pub rule: Option<String>,
    /// The rule's strategy (with `rule`).
    pub strategy: Option<ResolveStrategy>,
    /// A conflict step: the conflicts a rule covered that its strategy could not settle, and why.
    pub unsettled: Vec<Unsettled>,
    pub test: Option<TestRun>,
    /// Time spent by git-agent itself on this step (merge, commit), not the test.
    pub own_ms: u64,
    /// A skipped step: the task it depends on that did not land (reported in `skipped`).
    #[serde(skip)]
    pub because: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    pub task: String,
    pub because: String,
}

/// The result of running the steps: the new head (if anything changed) and what happened.
pub struct Outcome {
    pub head: ObjectId,
    pub steps: Vec<Step>,
    pub skipped: Vec<Skipped>,
    /// Tasks whose work is now in `head` (merged, resolved by rule, or already there).
    pub integrated: Vec<Integrated>,
    pub failed: bool,
    /// JSON notes to record under refs/notes/agent (on step commits and tested trees). They
    /// are written by the caller once it knows the run is not abandoned: a target that moved
    /// meanwhile must leave no trace.
    pub notes: Vec<(ObjectId, serde_json::Value)>,
}

/// A task whose work is in the result.
#[derive(Debug, Clone)]
pub struct Integrated {
    pub task: String,
    /// The commit that brought it in (the head after its step).
    pub commit: ObjectId,
    /// The task branch's tip that was integrated.
    pub tip: ObjectId,
}

/// Orders `tasks` (in spawn order) by their dependencies. A dependency outside the set must
/// be integrated already (`is_integrated(task, dependency)`), else it is an error.
pub fn order(
    tasks: Vec<TaskRecord>,
    is_integrated: impl Fn(&TaskRecord, &str) -> bool,
) -> anyhow::Result<Vec<TaskRecord>> {
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let index = crate::graph::index_by_name(&names);
    let mut deps = vec![Vec::new(); tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        for dep in &task.after {
            match index.get(dep.as_str()) {
                Some(&d) => deps[i].push(d),
                None if is_integrated(task, dep) => {}
                None => {
                    return Err(crate::error::bad_input(format!(
                        "task {:?} depends on {dep:?}, which is neither being integrated nor integrated already",
                        task.name
                    ))
                    .hint(format!("mark it done (`git agent done {dep}`) or name it too"))
                    .into());
                }
            }
        }
    }
    let order = crate::graph::topo_order(&names, &deps)
        .map_err(|cycle| crate::error::bad_input(format!("dependency cycle: {cycle}")))?;
    let mut slots: Vec<Option<TaskRecord>> = tasks.into_iter().map(Some).collect();
    Ok(order.into_iter().map(|i| slots[i].take().expect("each index once")).collect())
}

/// Runs every step on top of `start`. Writes commits, notes and the scratch worktree unless
/// `dry_run`; never a ref other than the notes ref.
pub fn run(
    repo: &gix::Repository,
    start: ObjectId,
    tasks: &[TaskRecord],
    options: &Options,
    events: &dyn Fn(Event<'_>),
) -> anyhow::Result<Outcome> {
    let mut run = Runner {
        repo,
        options,
        events,
        scratch: Vec::new(),
        shown: HashSet::new(),
        caches: None,
        notes: Vec::new(),
        unsettled: None,
    };
    // The scratch slots stay, warm, for the next run; they are released with the runner.
    run.steps(start, tasks)
}

struct Runner<'a> {
    repo: &'a gix::Repository,
    options: &'a Options,
    events: &'a dyn Fn(Event<'_>),
    /// The scratch slots taken so far (slot 0 also runs the rules' commands).
    scratch: Vec<Slot>,
    /// Steps (by task index) shown already, as final, while their round's tests ran.
    shown: HashSet<usize>,
    caches: Option<MergeCaches<'a>>,
    notes: Vec<(ObjectId, serde_json::Value)>,
    /// The rule that covered the last conflict and what its strategy could not settle (for
    /// the step that stays a conflict).
    unsettled: Option<(String, ResolveStrategy, Vec<Unsettled>)>,
}

/// How one task's merge came out: `T` is what a clean merge makes (a tree for merge and
/// squash, a commit for rebase).
enum Merge<T> {
    Clean(T),
    /// Clean once a rule resolved the conflicts (of the merge, or of rebase steps).
    Resolved(T, Resolution),
    Conflict(Vec<ConflictPath>),
}

impl<T> Merge<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Merge<U> {
        match self {
            Merge::Clean(made) => Merge::Clean(f(made)),
            Merge::Resolved(made, resolution) => Merge::Resolved(f(made), resolution),
            Merge::Conflict(conflicts) => Merge::Conflict(conflicts),
        }
    }
}

/// One step of the chain: merged in memory, not yet final.
struct Link {
    /// The task's index in the order.
    task: usize,
    step: Step,
    /// The head after the step (unchanged when it did not land).
    head: CommitId,
    /// The task branch's tip (none for a skipped step).
    tip: Option<CommitId>,
    /// The new commit and its tree, when the step made one: what the test tests.
    made: Option<(CommitId, TreeId)>,
}

/// Whether the run goes on after a step is made final.
#[derive(PartialEq, Eq)]
enum Accepted {
    Go,
    Stop,
}

/// How every test of a run is run (shared by the test threads).
struct TestSpec<'a> {
    command: &'a str,
    timeout: Duration,
    retries: u32,
    echo: bool,
    target: &'a str,
    total: usize,
}

/// One test to run: a step's new commit.
struct Job<'a> {
    position: usize,
    task: &'a str,
    commit: CommitId,
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TestSpec<'_> {
    /// Checks the job's commit out in `slot` and runs the test there, again after a failure
    /// up to `retries` times.
    fn run(&self, slot: &mut Slot, job: &Job<'_>) -> anyhow::Result<TestRun> {
        let env = crate::scratch::test_env(slot, job.position, self.total, job.task, self.target);
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Every attempt sees exactly the commit's files: a failed one may have changed them.
            slot.checkout(job.commit.0)?;
            crate::pause::point("integrate-test");
            let mut run = crate::process::Run::shell(self.command, slot.path())
                .timeout(Some(self.timeout))
                .capture(crate::process::Capture::Tail(TEST_OUTPUT_TAIL))
                .echo(self.echo)
                .cancel_when(job.cancel.clone());
            for (key, value) in &env {
                run = run.env(key, value);
            }
            let result = run_test(&run, self.command)?;
            if result.exit == Some(0) || result.cancelled || attempts > self.retries {
                return Ok(TestRun { attempts, ..result });
            }
        }
    }
}

/// Which rule resolved which conflicts.
struct Resolution {
    rule: String,
    strategy: ResolveStrategy,
    conflicts: Vec<ConflictPath>,
}

/// What a step hands on to be committed: rebase makes commits itself; merge, squash and
/// rules make a tree.
#[derive(Clone, Copy)]
enum Made {
    Tree(TreeId),
    Commit(CommitId),
}

/// What an earlier integration by squash or rebase (whose commits are not the task's own)
/// says about the task's branch now.
enum Earlier {
    /// Not integrated into this head before, or integrated by merge (then the branch's own
    /// commits are in the head and merge bases say the rest).
    None,
    /// Integrated with the branch at this tip: the new work is what came after it.
    Tip(CommitId),
    /// Integrated, but the record does not say at which tip, or the branch was rewritten since.
    Unknown(CommitId),
}

impl<'a> Runner<'a> {
    /// The steps in rounds: the chain of merges from the head so far (all in memory, no test
    /// yet), then the tests by mode, then the steps before the first failing test are final.
    /// With `--keep-going`, a failing task and its dependents drop out and the rest is merged
    /// again from the last good head: exactly what testing after every merge, one after
    /// another, would have landed.
    fn steps(&mut self, start: ObjectId, tasks: &[TaskRecord]) -> anyhow::Result<Outcome> {
        let mut outcome = Outcome {
            head: start,
            steps: Vec::new(),
            skipped: Vec::new(),
            integrated: Vec::new(),
            failed: false,
            notes: Vec::new(),
        };
        let mut failed_tasks: HashSet<String> = HashSet::new();
        let mut pending: Vec<usize> = (0..tasks.len()).collect();
        while !pending.is_empty() {
            check_interrupted()?;
            let mut chain = self.chain(CommitId(outcome.head), tasks, &pending, &failed_tasks)?;
            let failure = self.first_failure(tasks, &mut chain)?;
            let rest = chain.split_off(failure.unwrap_or(chain.len()));
            for link in chain {
                if self.accept(&mut outcome, tasks, link, &mut failed_tasks)? == Accepted::Stop {
                    return self.finish(outcome);
                }
            }
            let mut rest = rest.into_iter();
            let Some(failing) = rest.next() else { break };
            let name = tasks[failing.task].name.clone();
            self.accept(&mut outcome, tasks, failing, &mut failed_tasks)?;
            if !self.options.keep_going {
                break;
            }
            failed_tasks.insert(name);
            pending = rest.map(|link| link.task).collect();
        }
        self.finish(outcome)
    }

    fn finish(&mut self, mut outcome: Outcome) -> anyhow::Result<Outcome> {
        outcome.notes = std::mem::take(&mut self.notes);
        Ok(outcome)
    }

    /// Merges the `pending` tasks one onto the other from `head`, in memory, untested: the
    /// chain. It ends at a conflict unless `--keep-going` (then the conflicting task and its
    /// dependents are left out of it).
    fn chain(
        &mut self,
        mut head: CommitId,
        tasks: &[TaskRecord],
        pending: &[usize],
        failed: &HashSet<String>,
    ) -> anyhow::Result<Vec<Link>> {
        let mut failed = failed.clone();
        let mut chain = Vec::new();
        for &index in pending {
            check_interrupted()?;
            let task = &tasks[index];
            let link = self.link(index, task, head, &failed)?;
            match link.step.status {
                StepStatus::Conflict | StepStatus::WouldConflict | StepStatus::Skipped => {
                    failed.insert(task.name.clone());
                }
                _ => head = link.head,
            }
            let stop = !self.options.keep_going
                && matches!(link.step.status, StepStatus::Conflict | StepStatus::WouldConflict);
            chain.push(link);
            if stop {
                break;
            }
        }
        Ok(chain)
    }

    /// One task's step onto `head`, untested.
    fn link(
        &mut self,
        index: usize,
        task: &TaskRecord,
        head: CommitId,
        failed: &HashSet<String>,
    ) -> anyhow::Result<Link> {
        let link = |step: Step, head: CommitId, tip: Option<CommitId>, made: Option<(CommitId, TreeId)>| Link {
            task: index,
            step,
            head,
            tip,
            made,
        };
        if let Some(dep) = task.after.iter().find(|d| failed.contains(*d)) {
            let mut skipped = step(&task.name, StepStatus::Skipped);
            skipped.because = Some(dep.clone());
            return Ok(link(skipped, head, None, None));
        }
        let tip = crate::git::ref_target(self.repo, &task.branch)?.ok_or_else(|| {
            Fail::new(Exit::Refused, format!("branch {} of task {} is missing", task.short_branch(), task.name))
        })?;
        let tip = CommitId(tip);
        let started = Instant::now();
        let already = || link(step(&task.name, StepStatus::AlreadyIntegrated), head, Some(tip), None);
        if crate::git::merge_base(self.repo, tip.0, head.0)? == Some(tip.0) {
            return Ok(already());
        }
        let since = match self.integrated_earlier(task, head, tip)? {
            Earlier::Tip(earlier) if earlier == tip => return Ok(already()),
            Earlier::Tip(earlier) => Some(earlier),
            Earlier::None => None,
            Earlier::Unknown(commit) => {
                // Without the tip integrated then, only a merge that adds nothing is safe
                // to call integrated; anything else could bring back or drop work.
                let (step, _) = self.step(task, head, tip, None, true)?;
                if step.status == StepStatus::AlreadyIntegrated {
                    return Ok(already());
                }
                return Err(crate::error::refused(format!(
                    "task {} was integrated before (as {}), and its branch {} has changed since in a way \
                     git-agent cannot follow",
                    task.name,
                    crate::git::short_id(&commit.0),
                    task.short_branch()
                ))
                .hint("spawn a new task for the new work, or merge the branch by hand")
                .into());
            }
        };
        let (mut step, new_head) = self.step(task, head, tip, since, false)?;
        step.own_ms = started.elapsed().as_millis() as u64;
        let made = match (new_head, step.status) {
            (Some(commit), StepStatus::Merged | StepStatus::ResolvedByRule) => Some((commit, commit.tree(self.repo)?)),
            _ => None,
        };
        Ok(link(step, new_head.unwrap_or(head), Some(tip), made))
    }

    /// Makes a link of the chain final: its step is reported, its notes recorded, its head
    /// becomes the result. Stops the run at a failure without `--keep-going`.
    fn accept(
        &mut self,
        outcome: &mut Outcome,
        tasks: &[TaskRecord],
        link: Link,
        failed_tasks: &mut HashSet<String>,
    ) -> anyhow::Result<Accepted> {
        let task = &tasks[link.task];
        let position = link.task + 1;
        if let (Some((commit, tree)), false) = (link.made, self.options.dry_run) {
            if let Some(test) = link.step.test.as_ref().filter(|t| !t.cached) {
                self.note_test(task, commit, tree, test);
            }
            self.note_step(task, commit, tree, &link.step)?;
        }
        if !self.shown.remove(&link.task) {
            (self.events)(Event::Step { position, total: tasks.len(), step: &link.step });
        }
        let status = link.step.status;
        match status {
            StepStatus::Skipped => {
                failed_tasks.insert(task.name.clone());
                let because = link.step.because.clone().unwrap_or_default();
                outcome.skipped.push(Skipped { task: task.name.clone(), because });
            }
            StepStatus::Conflict | StepStatus::WouldConflict | StepStatus::TestFailed => {
                outcome.failed = true;
                failed_tasks.insert(task.name.clone());
            }
            _ => {
                outcome.head = link.head.0;
                let tip = link.tip.expect("a landed step has a tip").0;
                outcome.integrated.push(Integrated { task: task.name.clone(), commit: link.head.0, tip });
            }
        }
        outcome.steps.push(link.step);
        let stop = !self.options.keep_going && !status.landed() && status != StepStatus::Skipped;
        Ok(if stop { Accepted::Stop } else { Accepted::Go })
    }

    /// Runs the tests the mode asks for on the chain's new commits; the index in `chain` of
    /// the first step whose test fails (its step marked so), if any. The tests' results are
    /// in the steps.
    fn first_failure(&mut self, tasks: &[TaskRecord], chain: &mut [Link]) -> anyhow::Result<Option<usize>> {
        let Some(command) = self.options.test.clone().filter(|_| !self.options.dry_run) else { return Ok(None) };
        let testable: Vec<usize> = (0..chain.len()).filter(|&i| chain[i].made.is_some()).collect();
        let failing = match self.options.test_at {
            TestAt::Each => self.test_each(tasks, chain, &testable, &command)?,
            TestAt::End => {
                // A conflict that stops the run lands nothing: no test can change that.
                let stopped = chain.iter().any(|l| !l.step.status.landed() && l.step.status != StepStatus::Skipped);
                if stopped && !self.options.keep_going {
                    return Ok(None);
                }
                self.test_end(tasks, chain, &testable, &command)?
            }
        };
        if let Some(i) = failing {
            chain[i].step.status = StepStatus::TestFailed;
        }
        Ok(failing)
    }

    /// Tests every new commit, up to `--jobs` at a time, each in its own scratch worktree;
    /// the first failure in chain order (later tests are cancelled or left out: a run one
    /// test after another would not have run them).
    fn test_each(
        &mut self,
        tasks: &[TaskRecord],
        chain: &mut [Link],
        testable: &[usize],
        command: &str,
    ) -> anyhow::Result<Option<usize>> {
        let mut jobs = Vec::new();
        for &i in testable {
            let (_, tree) = chain[i].made.expect("testable");
            match self.passed_before(tree.0, command)? {
                Some(cached) => chain[i].step.test = Some(cached),
                None => jobs.push(i),
            }
        }
        let runs = self.run_tests(tasks, chain, &jobs, command, true)?;
        for (&i, run) in jobs.iter().zip(runs) {
            chain[i].step.test = run;
        }
        // In chain order: the first test that failed. Anything after it is not reported.
        for &i in testable {
            match &chain[i].step.test {
                Some(test) if test.exit == Some(0) => {}
                Some(_) => return Ok(Some(i)),
                None => unreachable!("every test before the first failure ran"),
            }
        }
        Ok(None)
    }

    /// Tests the last new commit only; when it fails, bisects the new commits (as
    /// `git bisect run` does, the steps before being good) for the first failing one.
    fn test_end(
        &mut self,
        tasks: &[TaskRecord],
        chain: &mut [Link],
        testable: &[usize],
        command: &str,
    ) -> anyhow::Result<Option<usize>> {
        let Some(&last) = testable.last() else { return Ok(None) };
        if self.test_one(tasks, chain, last, command)? {
            return Ok(None);
        }
        (self.events)(Event::Bisecting { steps: testable.len() });
        // testable[good] passed (or, at -1, the head before the chain); testable[bad] failed.
        let (mut good, mut bad): (isize, usize) = (-1, testable.len() - 1);
        while bad as isize - good > 1 {
            let middle = ((good + bad as isize) / 2) as usize;
            if self.test_one(tasks, chain, testable[middle], command)? {
                good = middle as isize;
            } else {
                bad = middle;
            }
        }
        // Results past the first failure say nothing about what lands.
        for &i in &testable[bad + 1..] {
            chain[i].step.test = None;
        }
        Ok(Some(testable[bad]))
    }

    /// Tests one new commit (or takes its earlier pass); whether it passed.
    fn test_one(&mut self, tasks: &[TaskRecord], chain: &mut [Link], i: usize, command: &str) -> anyhow::Result<bool> {
        let (_, tree) = chain[i].made.expect("testable");
        let run = match self.passed_before(tree.0, command)? {
            Some(cached) => cached,
            None => {
                self.run_tests(tasks, chain, &[i], command, false)?.pop().flatten().context("the test did not run")?
            }
        };
        let passed = run.exit == Some(0);
        chain[i].step.test = Some(run);
        Ok(passed)
    }

    /// Runs the test on the new commits of `jobs` (indices into `chain`, in order), in up to
    /// `--jobs` scratch worktrees at once. Once one fails, no later one starts and the running
    /// later ones are cancelled: their results (`None`) would not count. With `show`, each
    /// step is shown as soon as it and every step before it passed: it is final then.
    fn run_tests(
        &mut self,
        tasks: &[TaskRecord],
        chain: &[Link],
        jobs: &[usize],
        command: &str,
        show: bool,
    ) -> anyhow::Result<Vec<Option<TestRun>>> {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let first = chain[jobs[0]].made.expect("testable").0;
        let wanted = self.options.jobs.clamp(1, jobs.len());
        self.slots(wanted, first.0)?;
        // Each test thread has a slot of its own; they come back once the tests are done.
        let mut slots = std::mem::take(&mut self.scratch);
        let spec = TestSpec {
            command,
            timeout: self.options.test_timeout,
            retries: self.options.retries,
            echo: self.options.follow_output,
            target: &self.options.target_ref,
            total: tasks.len(),
        };
        let work: Vec<Job> = jobs
            .iter()
            .map(|&i| Job {
                position: chain[i].task + 1,
                task: &tasks[chain[i].task].name,
                commit: chain[i].made.expect("testable").0,
                cancel: Arc::new(AtomicBool::new(false)),
            })
            .collect();
        let next = AtomicUsize::new(0);
        let first_failed = AtomicUsize::new(usize::MAX);
        let (sender, receiver) = std::sync::mpsc::channel::<(usize, Option<anyhow::Result<TestRun>>)>();
        let mut results: Vec<Option<anyhow::Result<TestRun>>> = (0..work.len()).map(|_| None).collect();
        // The runs so far by chain index, and the first step not shown yet.
        let mut passed: std::collections::HashMap<usize, TestRun> = std::collections::HashMap::new();
        let mut frontier = 0;
        std::thread::scope(|scope| {
            for slot in slots.iter_mut().take(wanted) {
                let (sender, work, next, first_failed, spec) = (sender.clone(), &work, &next, &first_failed, &spec);
                scope.spawn(move || {
                    loop {
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        if k >= work.len() || k > first_failed.load(Ordering::SeqCst) {
                            break;
                        }
                        let _ = sender.send((k, None));
                        let result = spec.run(slot, &work[k]);
                        let failed = match &result {
                            Ok(run) => run.exit != Some(0) && !run.cancelled,
                            Err(_) => true,
                        };
                        if failed {
                            first_failed.fetch_min(k, Ordering::SeqCst);
                            for later in &work[k + 1..] {
                                later.cancel.store(true, Ordering::SeqCst);
                            }
                        }
                        let _ = sender.send((k, Some(result)));
                    }
                });
            }
            drop(sender);
            for (k, result) in receiver {
                match result {
                    None => (self.events)(Event::TestStarted {
                        position: work[k].position,
                        total: tasks.len(),
                        task: work[k].task,
                    }),
                    Some(result) => {
                        if let Ok(run) = &result {
                            passed.insert(jobs[k], run.clone());
                        }
                        results[k] = Some(result);
                        if show {
                            self.show_passed(tasks, chain, &passed, &mut frontier);
                        }
                    }
                }
            }
        });
        self.scratch = slots;
        check_interrupted()?;
        let failed_at = first_failed.load(Ordering::SeqCst);
        let mut runs = Vec::new();
        for (k, result) in results.into_iter().enumerate() {
            match result {
                Some(Err(err)) if k <= failed_at => return Err(err),
                Some(Ok(run)) if k <= failed_at => runs.push(Some(run)),
                _ => runs.push(None),
            }
        }
        Ok(runs)
    }

    /// Shows the steps from `frontier` on that are final: landed without a test, or with
    /// a passing one, and every step before them too.
    fn show_passed(
        &mut self,
        tasks: &[TaskRecord],
        chain: &[Link],
        runs: &std::collections::HashMap<usize, TestRun>,
        frontier: &mut usize,
    ) {
        while let Some(link) = chain.get(*frontier) {
            let test = link.step.test.as_ref().or_else(|| runs.get(frontier));
            let ready = match (link.made, test) {
                (None, _) => link.step.status.landed(),
                (Some(_), Some(test)) => test.exit == Some(0),
                (Some(_), None) => false,
            };
            if !ready {
                return;
            }
            let step = Step { test: test.cloned(), ..link.step.clone() };
            (self.events)(Event::Step { position: link.task + 1, total: tasks.len(), step: &step });
            self.shown.insert(link.task);
            *frontier += 1;
        }
    }

    /// Merges one task onto `head` (its new work only, after `since` when given); returns
    /// the step and the new head, `None` when it failed. `probe` only computes the merge:
    /// no commit or rule command. No test: the caller tests the chain.
    fn step(
        &mut self,
        task: &TaskRecord,
        head: CommitId,
        tip: CommitId,
        since: Option<CommitId>,
        probe: bool,
    ) -> anyhow::Result<(Step, Option<CommitId>)> {
        let dry_run = self.options.dry_run;
        let mut step = step(&task.name, StepStatus::Merged);
        self.unsettled = None;
        let merged = match self.options.strategy {
            Strategy::Merge | Strategy::Squash => self.merge_with_rules(head, tip, since, task, probe)?.map(Made::Tree),
            Strategy::Rebase => self.rebase(head, tip, since, task, probe)?.map(Made::Commit),
        };
        let made = match merged {
            Merge::Clean(made) => made,
            Merge::Resolved(made, resolution) => {
                step.conflicts = resolution.conflicts.iter().map(|c| c.path.clone()).collect();
                step.status = if dry_run { StepStatus::WouldResolveByRule } else { StepStatus::ResolvedByRule };
                step.rule = Some(resolution.rule);
                step.strategy = Some(resolution.strategy);
                made
            }
            Merge::Conflict(conflicts) => {
                step.conflicts = conflicts.iter().map(|c| c.path.clone()).collect();
                step.status = if dry_run { StepStatus::WouldConflict } else { StepStatus::Conflict };
                if let Some((rule, strategy, unsettled)) = self.unsettled.take() {
                    (step.rule, step.strategy, step.unsettled) = (Some(rule), Some(strategy), unsettled);
                }
                return Ok((step, None));
            }
        };
        // Nothing new (the work arrived by another way, for example squashed before).
        let new_tree = match made {
            Made::Tree(tree) => tree,
            Made::Commit(commit) => commit.tree(self.repo)?,
        };
        if new_tree == head.tree(self.repo)? && step.status == StepStatus::Merged {
            step.status = StepStatus::AlreadyIntegrated;
            return Ok((step, Some(head)));
        }
        if probe {
            return Ok((step, None));
        }
        let commit = match (made, self.options.strategy) {
            (Made::Commit(commit), _) => commit,
            (Made::Tree(tree), Strategy::Merge) => self.commit(tree, &[head, tip], &merge_message(task))?,
            (Made::Tree(tree), Strategy::Squash | Strategy::Rebase) => {
                self.commit(tree, &[head], &squash_message(task))?
            }
        };
        step.commit = Some(commit.0.to_string());
        step.tree = Some(new_tree.0.to_string());
        if dry_run && step.status == StepStatus::Merged {
            step.status = StepStatus::WouldMerge;
        }
        Ok((step, Some(commit)))
    }

    /// Rebased and squashed tasks leave no trace of their tip in the target: their record's
    /// integration commit does, and the tip it recorded says where the new work starts.
    fn integrated_earlier(&self, task: &TaskRecord, head: CommitId, tip: CommitId) -> anyhow::Result<Earlier> {
        let parse = |hex: Option<&str>| hex.and_then(|hex| ObjectId::from_hex(hex.as_bytes()).ok());
        let Some(commit) = parse(task.integrated_commit.as_deref()) else { return Ok(Earlier::None) };
        if !self.repo.has_object(commit) || crate::git::merge_base(self.repo, commit, head.0)? != Some(commit) {
            return Ok(Earlier::None);
        }
        match parse(task.integrated_tip.as_deref()) {
            Some(earlier) if earlier == tip.0 => Ok(Earlier::Tip(tip)),
            Some(earlier)
                if self.repo.has_object(earlier)
                    && crate::git::merge_base(self.repo, earlier, tip.0)? == Some(earlier) =>
            {
                // Merged before: the earlier tip is in the head, and merge bases know the rest.
                if crate::git::merge_base(self.repo, earlier, head.0)? == Some(earlier) {
                    return Ok(Earlier::None);
                }
                Ok(Earlier::Tip(CommitId(earlier)))
            }
            _ => Ok(Earlier::Unknown(CommitId(commit))),
        }
    }

    fn caches(&mut self) -> anyhow::Result<&mut MergeCaches<'a>> {
        if self.caches.is_none() {
            let mut caches = MergeCaches::new(self.repo)?;
            caches.write_clean_trees = true;
            self.caches = Some(caches);
        }
        Ok(self.caches.as_mut().expect("just set"))
    }

    /// The three-way merge of `tip` into `head`: its tree, or the conflicts (as git reports
    /// them). With `since`, only the changes after it: `since` is the merge base.
    fn merge_tree(
        &mut self,
        head: CommitId,
        tip: CommitId,
        since: Option<CommitId>,
        task: &TaskRecord,
    ) -> anyhow::Result<Merge<TreeId>> {
        let repo = self.repo;
        if let Some(since) = since {
            return self.merge_trees(since.tree(repo)?, head.tree(repo)?, tip.tree(repo)?, task);
        }
        let merged = self.caches()?.merge(repo, head.0, tip.0, "HEAD", task.short_branch(), false)?;
        Ok(match merged.tree {
            Some(tree) if merged.conflicts.is_empty() => Merge::Clean(TreeId(tree)),
            _ => Merge::Conflict(merged.conflicts),
        })
    }

    /// The merge of `tip` into `head` (merge and squash), with a rule for its conflicts unless
    /// `probe`.
    fn merge_with_rules(
        &mut self,
        head: CommitId,
        tip: CommitId,
        since: Option<CommitId>,
        task: &TaskRecord,
        probe: bool,
    ) -> anyhow::Result<Merge<TreeId>> {
        let conflicts = match self.merge_tree(head, tip, since, task)? {
            Merge::Conflict(conflicts) if !probe => conflicts,
            merged => return Ok(merged),
        };
        let repo = self.repo;
        // With several merge bases (criss-cross), git merges against the virtual merge base.
        let base = match since {
            Some(since) => since.tree(repo)?,
            None => TreeId(self.caches()?.merge_base_tree(repo, head.0, tip.0)?.context("no merge base")?),
        };
        self.resolve_by_rule(base, head, tip.tree(repo)?, task, conflicts)
    }

    /// A three-way merge of trees with a given base (a rebase step's parent, a rule's base),
    /// through the same engine and configuration as every other merge; conflicts as git lists
    /// them.
    fn merge_trees(
        &mut self,
        base: TreeId,
        ours: TreeId,
        theirs: TreeId,
        task: &TaskRecord,
    ) -> anyhow::Result<Merge<TreeId>> {
        let repo = self.repo;
        let merged = self.caches()?.merge_trees(repo, base.0, ours.0, theirs.0, "HEAD", task.short_branch())?;
        Ok(match merged.tree {
            Some(tree) if merged.conflicts.is_empty() => Merge::Clean(TreeId(tree)),
            _ => Merge::Conflict(merged.conflicts),
        })
    }

    /// Replays the task's commits onto `head` as `git rebase` does: in its order, merges left
    /// out, after `since` when given, commits that become empty dropped; a rule resolves the
    /// conflicts of the one step that has them (unless `probe`). The new tip.
    fn rebase(
        &mut self,
        head: CommitId,
        tip: CommitId,
        since: Option<CommitId>,
        task: &TaskRecord,
        probe: bool,
    ) -> anyhow::Result<Merge<CommitId>> {
        let repo = self.repo;
        let mut current = head;
        let mut resolved: Option<Resolution> = None;
        for id in replay_order(repo, tip, head, since)? {
            let commit = repo.find_commit(id.0)?;
            let parent = CommitId(commit.parent_ids().next().expect("one parent").detach()).tree(repo)?;
            let (ours, theirs) = (current.tree(repo)?, id.tree(repo)?);
            let tree = match self.merge_trees(parent, ours, theirs, task)? {
                Merge::Clean(tree) | Merge::Resolved(tree, _) => tree,
                Merge::Conflict(conflicts) if probe => return Ok(Merge::Conflict(conflicts)),
                Merge::Conflict(conflicts) => match self.resolve_by_rule(parent, current, theirs, task, conflicts)? {
                    Merge::Clean(tree) => tree,
                    Merge::Resolved(tree, resolution) => {
                        match &mut resolved {
                            None => resolved = Some(resolution),
                            Some(earlier) => earlier.conflicts.extend(resolution.conflicts),
                        }
                        tree
                    }
                    Merge::Conflict(conflicts) => return Ok(Merge::Conflict(conflicts)),
                },
            };
            // git rebase drops a commit that becomes empty (one that was empty from the start stays).
            if tree == ours && theirs != parent {
                continue;
            }
            let decoded = commit.decode()?;
            let author = decoded.author()?.to_owned()?;
            let message = decoded.message.to_owned();
            current = self.commit_as(tree, &[current], message, author)?;
        }
        Ok(match resolved {
            Some(mut resolution) => {
                resolution.conflicts.sort();
                resolution.conflicts.dedup();
                Merge::Resolved(current, resolution)
            }
            None => Merge::Clean(current),
        })
    }

    fn commit(&self, tree: TreeId, parents: &[CommitId], message: &str) -> anyhow::Result<CommitId> {
        let author = self.options.identity.clone();
        self.commit_as(tree, parents, message.into(), author)
    }

    fn commit_as(
        &self,
        tree: TreeId,
        parents: &[CommitId],
        message: bstr::BString,
        author: gix::actor::Signature,
    ) -> anyhow::Result<CommitId> {
        let commit = gix::objs::Commit {
            tree: tree.0,
            parents: parents.iter().map(|p| p.0).collect(),
            author,
            committer: self.options.identity.clone(),
            encoding: None,
            message,
            extra_headers: Vec::new(),
        };
        Ok(CommitId(self.repo.write_object(&commit)?.detach()))
    }

    /// A conflict (of merging `theirs` into `ours` from `base`) confined to files a rule
    /// matches: the rule's strategy settles the conflicted files in memory (union, ours,
    /// theirs), or takes the target's side of them (run); then the rule's command, if any,
    /// runs in the scratch worktree and its result is taken. A dry run runs no command: it
    /// goes on with the strategy's result. The conflicts as they are when no rule covers them
    /// or its strategy cannot settle one of them (those are left in `self.unsettled`).
    fn resolve_by_rule(
        &mut self,
        base: TreeId,
        ours: CommitId,
        theirs: TreeId,
        task: &TaskRecord,
        conflicts: Vec<ConflictPath>,
    ) -> anyhow::Result<Merge<TreeId>> {
        // A conflict git lists no file for (a directory rename it could not apply) is about
        // where files go, not what they hold: no rule's command can settle it (taking the
        // target's side of a split directory's path would drop the task's files there).
        let confined = |rule: &&crate::settings::ResolveRule| {
            conflicts.iter().all(|c| {
                c.kind.is_listed() && crate::scope::contains(std::slice::from_ref(&rule.path), c.path.0.as_ref())
            })
        };
        let Some(rule) = self.options.rules.iter().find(confined).cloned() else {
            return Ok(Merge::Conflict(conflicts));
        };
        // Everything but the conflicted files merged as usual; the conflicted ones from the target.
        let repo = self.repo;
        let head_tree = ours.tree(repo)?;
        let settled = match rule.strategy {
            ResolveStrategy::Run => Vec::new(),
            strategy => {
                let trees = [base.0, head_tree.0, theirs.0];
                match crate::merge::settle::settle(repo, strategy, trees, &conflicts)? {
                    Ok(settled) => settled,
                    Err(unsettled) => {
                        self.unsettled = Some((rule.name.clone(), strategy, unsettled));
                        return Ok(Merge::Conflict(conflicts));
                    }
                }
            }
        };
        // Start from the task's tree, put the target's version of the conflicted files in, and
        // apply the target's other changes by a merge that now cannot conflict on those files.
        let mut editor = repo.edit_tree(theirs.0)?;
        for conflict in &conflicts {
            let path = conflict.path.0.as_bstr();
            let head_tree_obj = repo.find_tree(head_tree.0)?;
            match head_tree_obj.lookup_entry_by_path(gix::path::from_bstr(path)?)? {
                Some(entry) => {
                    editor.upsert(path, entry.mode().kind(), entry.object_id())?;
                }
                None => {
                    editor.remove(path)?;
                }
            }
        }
        let adjusted_tip_tree = TreeId(editor.write()?.detach());
        let mut provisional_tree = match self.merge_trees(base, head_tree, adjusted_tip_tree, task)? {
            Merge::Clean(tree) | Merge::Resolved(tree, _) => tree,
            Merge::Conflict(_) => return Ok(Merge::Conflict(conflicts)),
        };
        // The strategy's files in place of the target's.
        if !settled.is_empty() {
            let mut editor = repo.edit_tree(provisional_tree.0)?;
            for file in &settled {
                editor.upsert(file.path.as_bstr(), file.kind, file.blob)?;
            }
            provisional_tree = TreeId(editor.write()?.detach());
        }
        let resolved = |tree| {
            let resolution =
                Resolution { rule: rule.name.clone(), strategy: rule.strategy, conflicts: conflicts.clone() };
            Merge::Resolved(tree, resolution)
        };
        let Some(run) = rule.run.as_deref().filter(|_| !self.options.dry_run) else {
            return Ok(resolved(provisional_tree));
        };
        let provisional = self.commit(provisional_tree, &[ours], "git-agent: provisional resolution\n")?;
        let scratch = self.scratch_at(provisional.0)?;
        let outcome = crate::process::Run::shell(run, &scratch)
            .timeout(Some(self.options.test_timeout))
            .run()
            .with_context(|| format!("cannot run agent.resolve.{}.run", rule.name))?;
        check_interrupted()?;
        if !outcome.status.success() {
            return Err(anyhow!(
                "agent.resolve.{}.run {:?} failed ({}): {}",
                rule.name,
                run,
                outcome.status,
                outcome.output_tail_lossy().trim()
            ));
        }
        // Take the command's result for the files the rule covers.
        // As `git add` would store them: mode from the file system, clean conversion.
        let mut clean = crate::merge::CleanConversion::for_worktree(&scratch)?;
        let provisional_entries = repo.find_tree(provisional_tree.0)?;
        let mut editor = repo.edit_tree(provisional_tree.0)?;
        for conflict in &conflicts {
            let path = conflict.path.0.as_bstr();
            let fallback = provisional_entries
                .lookup_entry_by_path(gix::path::from_bstr(path)?)?
                .map_or(gix::objs::tree::EntryKind::Blob, |entry| entry.mode().kind());
            match clean.entry(path, fallback, repo)? {
                Some((kind, blob)) => {
                    editor.upsert(path, kind, blob)?;
                }
                None => {
                    editor.remove(path)?;
                }
            }
        }
        Ok(resolved(TreeId(editor.write()?.detach())))
    }

    /// The first scratch slot, checked out at `commit` (for a rule's command).
    fn scratch_at(&mut self, commit: ObjectId) -> anyhow::Result<PathBuf> {
        self.slots(1, commit)?;
        let slot = &mut self.scratch[0];
        slot.checkout(commit)?;
        Ok(slot.path().to_owned())
    }

    /// Holds at least `count` scratch slots of the target (taken, created or recovered as
    /// needed: see [`crate::scratch::take_slots`]); new ones are checked out at `commit`.
    fn slots(&mut self, count: usize, commit: ObjectId) -> anyhow::Result<()> {
        if self.scratch.len() >= count {
            return Ok(());
        }
        let events = self.events;
        let more = crate::scratch::take_slots(
            self.repo,
            &self.options.scratch_dir,
            &self.options.target_ref,
            count - self.scratch.len(),
            commit,
            &self.options.prepare,
            &mut |event| events(Event::Scratch(event)),
        )?;
        self.scratch.extend(more);
        Ok(())
    }

    /// The test note on the tested tree (written later, see [`Outcome::notes`]).
    fn note_test(&mut self, task: &TaskRecord, commit: CommitId, tree: TreeId, run: &TestRun) {
        let note = serde_json::json!({
            "task": task.name, "command": run.command, "tree": tree.0.to_string(), "commit": commit.0.to_string(),
            "exit": run.exit, "duration_ms": run.duration_ms, "timed_out": run.timed_out, "attempts": run.attempts,
            "status": if run.exit == Some(0) { "passed" } else { "failed" },
        });
        self.notes.push((tree.0, note));
    }

    /// A passing result of `command` on `tree`, recorded in refs/notes/agent.
    fn passed_before(&self, tree: ObjectId, command: &str) -> anyhow::Result<Option<TestRun>> {
        let mut notes = self.repo.notes()?.with_refs([crate::layout::NOTES_REF])?;
        // Only this machine's results: one fetched by sync is another machine's word.
        let machine = crate::land::machine_id(self.repo)?;
        for value in notes.get(tree)?.iter().flat_map(|note| crate::land::note_values(&note.blob.data)) {
            if value["command"] == command && value["exit"] == 0 && value["machine"] == machine.as_str() {
                return Ok(Some(TestRun {
                    command: command.to_owned(),
                    exit: Some(0),
                    duration_ms: value["duration_ms"].as_u64().unwrap_or(0),
                    cached: true,
                    timed_out: false,
                    output: None,
                    attempts: value["attempts"].as_u64().unwrap_or(1) as u32,
                    cancelled: false,
                }));
            }
        }
        Ok(None)
    }

    /// The step's outcome as a JSON note on its commit (written later, see [`Outcome::notes`]).
    fn note_step(&mut self, task: &TaskRecord, commit: CommitId, tree: TreeId, step: &Step) -> anyhow::Result<()> {
        let (commit, tree) = (commit.0, tree.0);
        let note = serde_json::json!({
            "task": task.name, "commit": commit.to_string(), "tree": tree.to_string(), "status": step.status,
            "command": step.test.as_ref().map(|t| t.command.clone()),
            "exit": step.test.as_ref().and_then(|t| t.exit),
            "duration_ms": step.test.as_ref().map(|t| t.duration_ms),
            "attempts": step.test.as_ref().map(|t| t.attempts),
            "rule": step.rule,
            "strategy": step.strategy,
        });
        self.notes.push((commit, note));
        Ok(())
    }
}

/// Replays the commits of `tip` after `upstream` onto `onto`, as `git rebase --onto onto
/// upstream tip` does, through integrate's rebase (its order, merges left out, commits that
/// become empty dropped), with no rule and no test: `git agent restack`. Original authors and
/// messages, `committer` as committer. The new tip, or the conflicts of the first commit that
/// does not apply.
pub fn rebase_onto(
    repo: &gix::Repository,
    task: &TaskRecord,
    onto: ObjectId,
    tip: ObjectId,
    upstream: ObjectId,
    committer: gix::actor::Signature,
) -> anyhow::Result<Result<ObjectId, Vec<ConflictPath>>> {
    let options = Options {
        strategy: Strategy::Rebase,
        test: None,
        test_timeout: Duration::ZERO,
        keep_going: false,
        dry_run: false,
        rules: Vec::new(),
        identity: committer,
        scratch_dir: PathBuf::new(),
        test_at: TestAt::Each,
        jobs: 1,
        retries: 0,
        follow_output: false,
        target_ref: String::new(),
        prepare: crate::scratch::Prepare::default(),
    };
    let mut runner = Runner {
        repo,
        options: &options,
        events: &|_| {},
        scratch: Vec::new(),
        shown: HashSet::new(),
        caches: None,
        notes: Vec::new(),
        unsettled: None,
    };
    Ok(match runner.rebase(CommitId(onto), CommitId(tip), Some(CommitId(upstream)), task, false)? {
        Merge::Clean(commit) | Merge::Resolved(commit, _) => Ok(commit.0),
        Merge::Conflict(conflicts) => Err(conflicts),
    })
}

/// The commits `git rebase` replays from `tip` onto `head` (after `since` when given): oldest
/// first in the order of `git rev-list --reverse --topo-order --no-merges`. A walk by commit
/// date is not topological when dates are out of order (defect 12).
fn replay_order(
    repo: &gix::Repository,
    tip: CommitId,
    head: CommitId,
    since: Option<CommitId>,
) -> anyhow::Result<Vec<CommitId>> {
    use gix::traverse::commit::topo;
    let hidden: Vec<ObjectId> = std::iter::once(head.0).chain(since.map(|c| c.0)).collect();
    let walk = topo::Builder::from_iters(&repo.objects, [tip.0], Some(hidden))
        .sorting(topo::Sorting::TopoOrder)
        .with_commit_graph(repo.commit_graph_if_enabled()?)
        .build()?;
    let mut commits = Vec::new();
    for info in walk {
        let info = info?;
        if info.parent_ids.len() == 1 {
            commits.push(CommitId(info.id));
        }
    }
    commits.reverse();
    Ok(commits)
}

/// A scratch worktree left by an integrate that was killed (`kill -9`, a crash), removed.
#[derive(Debug, Clone, Serialize)]
pub struct OrphanedScratch {
    pub path: PathBuf,
    /// The pid of the integrate that made it.
    pub pid: u32,
}

/// Removes the scratch worktrees under `root` (`<root>/.integrate-<pid>`, registered as
/// worktrees of `repo`) whose integrate process is gone; returns what was removed. A scratch
/// worktree holds only a checkout of commits git-agent wrote, and build output of the tests.
/// For `integrate` at its start (before it makes its own) and for `prune`.
pub fn remove_orphaned_scratch(repo: &gix::Repository, root: &Path) -> anyhow::Result<Vec<OrphanedScratch>> {
    let root = crate::git::normalise_path(root);
    let mut removed = Vec::new();
    for proxy in repo.worktrees()? {
        let Ok(base) = proxy.base() else { continue };
        let base = crate::git::normalise_path(&base);
        let Some((pid, start)) = base.file_name().and_then(|n| n.to_str()).and_then(crate::layout::scratch_pid) else {
            continue;
        };
        // A zombie or a reused pid is not the integrate that made the scratch worktree.
        if base.parent() != Some(root.as_path()) || crate::process::process_may_be_alive(pid, start) {
            continue;
        }
        if base.exists() {
            crate::git::remove_created_worktree(repo, &base)
                .with_context(|| format!("cannot remove the orphaned scratch worktree {}", base.display()))?;
        } else {
            // Its directory is gone already: only the registration is left.
            std::fs::remove_dir_all(proxy.git_dir())
                .with_context(|| format!("cannot remove the registration {}", proxy.git_dir().display()))?;
        }
        removed.push(OrphanedScratch { path: base, pid });
    }
    Ok(removed)
}

fn step(task: &str, status: StepStatus) -> Step {
    Step {
        task: task.to_owned(),
        status,
        commit: None,
        tree: None,
        conflicts: Vec::new(),
        rule: None,
        strategy: None,
        unsettled: Vec::new(),
        test: None,
        own_ms: 0,
        because: None,
    }
}

fn merge_message(task: &TaskRecord) -> String {
    format!("Merge task {} ({})\n{}", task.name, task.short_branch(), message_body(task, 0))
}

fn squash_message(task: &TaskRecord) -> String {
    let first = task.brief.lines().find(|l| !l.trim().is_empty()).unwrap_or("squashed");
    format!("task {}: {}\n{}", task.name, first.trim(), message_body(task, 1))
}

/// The brief (its first lines, after `skip` non-empty ones already in the subject) and the
/// acceptance criteria, so that `git log` tells what each integration brought.
fn message_body(task: &TaskRecord, skip: usize) -> String {
    const BRIEF_LINES: usize = 12;
    let mut lines = task.brief.lines().map(str::trim_end).skip_while(|l| l.trim().is_empty());
    let brief: Vec<&str> = lines.by_ref().skip(skip).take(BRIEF_LINES).collect();
    let mut body = String::new();
    let brief = brief.join("\n");
    if !brief.trim().is_empty() {
        body.push_str(&format!("\n{}\n", brief.trim()));
        if lines.next().is_some() {
            body.push_str("[...]\n");
        }
    }
    if !task.acceptance.is_empty() {
        body.push_str("\nAcceptance criteria:\n");
        for criterion in &task.acceptance {
            body.push_str(&format!("- {}\n", criterion.trim()));
        }
    }
    body
}

fn check_interrupted() -> anyhow::Result<()> {
    crate::interrupt::check("the target is unchanged")
}

/// Runs the user's test command (`run`: through the shell, in its own process group, the
/// whole group killed on timeout, interruption or cancellation). The end of its output is
/// returned on failure.
fn run_test(run: &crate::process::Run, command: &str) -> anyhow::Result<TestRun> {
    use crate::process::Status;
    let started = Instant::now();
    let outcome = run.run().with_context(|| format!("cannot run the test command {command:?}"))?;
    check_interrupted()?;
    let exit = outcome.status.code();
    let failed = exit != Some(0);
    Ok(TestRun {
        command: command.to_owned(),
        exit,
        duration_ms: started.elapsed().as_millis() as u64,
        cached: false,
        timed_out: outcome.status == Status::TimedOut,
        output: failed.then(|| outcome.output_tail_lossy()),
        attempts: 1,
        cancelled: outcome.status == Status::Cancelled,
    })
}

/// How much of a failing test's output is kept (in the report and the notes).
const TEST_OUTPUT_TAIL: usize = 4000;
