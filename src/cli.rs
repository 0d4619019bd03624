//! The clap definitions of every binary and subcommand, in one place so that the binaries,
//! the man pages and the completions are generated from the same source.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Command, CommandFactory, Parser, Subcommand};

use crate::output::GlobalArgs;

/// The exit-code table, shown after every command's help.
pub fn exit_status_help() -> String {
    let rows: Vec<String> =
        crate::error::Exit::TABLE.iter().map(|(code, meaning)| format!("  {code:<3}  {meaning}")).collect();
    format!("Exit status:\n{}", rows.join("\n"))
}

pub const WORKFLOW: &str = "\
Workflow:
  git agent spawn --plan plan.json     decompose: one task per agent, with scope and order
  git agent spawn <task> -- <agent>    route: a worktree and branch per task, the agent in it
  git agent list                       monitor: ahead/behind, dirty, drift, out-of-scope files
  git agent restack                    move dependent tasks onto their dependencies' new work
  git agent done <task>                mark a task ready for integration";

/// git-agent: run many AI coding agents in parallel on one repository.
///
/// Each agent gets its own task: a branch, a linked worktree and a record in the repository.
/// All state lives in the repository (refs/agent/tasks/*, git config agent.*), so every
/// worktree sees the same tasks, and the state can be pushed like any other ref.
#[derive(Debug, Parser)]
#[command(name = "git-agent", version, about, long_about = None)]
#[command(after_help = exit_status_help(), allow_external_subcommands = true, subcommand_value_name = "COMMAND")]
#[command(disable_help_subcommand = true)]
pub struct AgentCli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<AgentCommand>,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    #[command(about = SPAWN_ABOUT, long_about = SPAWN_LONG_ABOUT)]
    Spawn(SpawnArgs),
    /// Show every task at a glance.
    #[command(visible_alias = "status")]
    List(ListArgs),
    #[command(about = CONFLICTS_ABOUT, long_about = CONFLICTS_LONG_ABOUT)]
    Conflicts(ConflictsArgs),
    #[command(about = INTEGRATE_ABOUT, long_about = INTEGRATE_LONG_ABOUT)]
    Integrate(IntegrateArgs),
    #[command(about = PRUNE_ABOUT, long_about = PRUNE_LONG_ABOUT)]
    Prune(PruneArgs),
    // About and long about (the "Without TASK" sentence) come from the args' doc comments: a
    // doc comment here would replace both.
    Show(ShowArgs),
    Done(DoneArgs),
    #[command(about = JOIN_ABOUT, long_about = JOIN_LONG_ABOUT)]
    Join(JoinArgs),
    #[command(about = RESTACK_ABOUT, long_about = RESTACK_LONG_ABOUT)]
    Restack(RestackArgs),
    #[command(about = SYNC_ABOUT, long_about = SYNC_LONG_ABOUT)]
    Sync(SyncArgs),
    /// Install the man pages and shell completions into your user directories.
    Setup(SetupArgs),
    /// Run the whole workflow on a sample repository, printing every command.
    Demo(DemoArgs),
    #[command(about = RUN_ABOUT, long_about = RUN_LONG_ABOUT)]
    Run(RunArgs),
    /// Print the output of a task's background agent (-f: follow it until the agent exits).
    Logs(LogsArgs),
    /// Stop a task's background agent: SIGTERM to its process group, SIGKILL after a grace period.
    Stop(StopArgs),
    /// Go to the tmux window of a task's agent (started with --tmux).
    Attach(AttachArgs),
    #[command(about = CHECKPOINT_ABOUT, long_about = CHECKPOINT_LONG_ABOUT)]
    Checkpoint(CheckpointArgs),
    #[command(about = HANDOFF_ABOUT, long_about = HANDOFF_LONG_ABOUT)]
    Handoff(HandoffArgs),
    #[command(about = COST_ABOUT, long_about = COST_LONG_ABOUT)]
    Cost(CostArgs),
    #[command(about = REPORT_ABOUT, long_about = REPORT_LONG_ABOUT)]
    Report(ReportArgs),
    #[command(about = ASK_ABOUT, long_about = ASK_LONG_ABOUT)]
    Ask(AskArgs),
    #[command(about = ANSWER_ABOUT, long_about = ANSWER_LONG_ABOUT)]
    Answer(AnswerArgs),
    #[command(about = HOOKS_ABOUT, long_about = HOOKS_LONG_ABOUT)]
    Hooks(HooksArgs),
    #[command(about = COMPARE_ABOUT, long_about = COMPARE_LONG_ABOUT)]
    Compare(CompareArgs),
    #[command(about = CONVERGE_ABOUT, long_about = CONVERGE_LONG_ABOUT)]
    Converge(ConvergeArgs),
    #[command(about = PROPOSE_ABOUT, long_about = PROPOSE_LONG_ABOUT)]
    Propose(ProposeArgs),
    #[command(about = APPROVE_ABOUT, long_about = APPROVE_LONG_ABOUT)]
    Approve(ApproveArgs),
    #[command(about = REJECT_ABOUT, long_about = REJECT_LONG_ABOUT)]
    Reject(RejectArgs),
    #[command(about = CHECK_EDIT_ABOUT, long_about = CHECK_EDIT_LONG_ABOUT)]
    CheckEdit(CheckEditArgs),
    #[command(about = PATH_ABOUT, long_about = PATH_LONG_ABOUT)]
    Path(PathArgs),
    #[command(about = ARCHIVE_ABOUT, long_about = ARCHIVE_LONG_ABOUT)]
    Archive(ArchiveArgs),
    #[command(about = HELP_ABOUT, long_about = HELP_LONG_ABOUT)]
    Help(HelpArgs),
    #[command(about = OPEN_ABOUT, long_about = OPEN_LONG_ABOUT)]
    Open(OpenArgs),
    #[command(about = SCHEMA_ABOUT, long_about = SCHEMA_LONG_ABOUT)]
    Schema(SchemaArgs),
    #[command(about = WATCH_ABOUT, long_about = WATCH_LONG_ABOUT)]
    Watch(WatchArgs),
    /// Any other COMMAND runs `git-agent-COMMAND`, found next to git-agent or on PATH.
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

pub const SPAWN_ABOUT: &str =
    "Create a task: a branch, a linked worktree and a task record; optionally start the agent in it";

pub const SPAWN_LONG_ABOUT: &str = "\
Create a task: a branch `agent/<TASK>`, a linked worktree and a task record.

The branch starts at --base (default: git config agent.base, else the branch checked out in
the main worktree). The worktree goes to <agent.worktreeRoot>/<TASK>, by default a sibling
folder <repo>.agents/<TASK>. Untracked files matching agent.copy globs (for example .env*)
are copied from the main worktree, and agent.setup (for example `npm ci`) runs in the new
worktree. If any step fails, everything this spawn created is removed again.

With --after, the branch starts on the dependencies' work instead (stacked): at the tip of
the one dependency with commits the base lacks, or, when several have such commits (and none
holds the others'), at a merge of their tips made as `git merge` would; if they conflict,
spawn refuses (use --from-base). The record's `stack` field says where it was put, and
`git agent restack` moves it when the dependencies move. --from-base, or git config
agent.stack=false, starts from the base as without dependencies; a plan stacks its tasks the
same way, in dependency order.

With `-- COMMAND...` (or git config agent.command) the agent then runs in the new worktree,
in the foreground, without a shell, with GIT_AGENT_TASK, GIT_AGENT_BRIEF, GIT_AGENT_BRANCH
and GIT_AGENT_WORKTREE set; `{brief}` in an argument is replaced by the brief. Its exit
status is recorded; the worktree and branch stay whatever it does. With --detach it runs in
the background instead, and with --tmux (or git config agent.terminal=tmux) in a tmux window:
see git agent run.

Guards (the decomposition checklist): --contract PATHSPEC names shared interfaces committed on
the base (spawn refuses one that matches no committed file), --protect PATHSPEC paths the task
must not change (the tests written for it), --constraint TEXT what the agent is told (\"No
new dependencies\" is checked against manifests and lock files). Breaking one is a hazard in
list and conflicts, integrate refuses it, and git agent check-edit denies the edit. --gate (or
git config agent.gate=true) starts the task behind the plan review gate: its agent proposes a
plan (git agent propose) and implements it once approved (git agent approve).

With --variants K, spawn makes K variants of the task instead, TASK.1 to TASK.K (K from 2 to
16: one compares with nothing, and each variant costs a worktree, an agent and a test run),
with the same base, scope, dependencies, brief and acceptance criteria; each record's
`variant` field names the group and the index, and no task may be named TASK. Every variant
is checked before any is created, and should creating one fail, the ones created before it are
removed again. --variant-command CMD, once per variant, gives each its own agent command (a
different agent or model); otherwise they all get `-- COMMAND...` or agent.command. Their
agents start in the background (as with --detach), or in tmux windows with --tmux or
agent.terminal=tmux, never in the foreground. Then `git agent compare TASK` scores them and
`git agent converge TASK --pick TASK.i` keeps one.";

#[derive(Debug, Clone, Args, Default)]
#[command(about = SPAWN_ABOUT, long_about = SPAWN_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct SpawnArgs {
    /// The task name: letters, digits, '.', '_' and '-', starting with a letter or digit.
    #[arg(value_name = "TASK", required_unless_present = "plan", conflicts_with = "plan")]
    pub task: Option<String>,

    /// Revision the branch starts from.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,

    /// A pathspec the task owns; repeat for several. Changes outside it are flagged by `list`.
    #[arg(long, value_name = "PATHSPEC")]
    pub scope: Vec<String>,

    /// A task this one depends on (must exist); repeat for several. The branch starts on the
    /// dependencies' work (stacked), unless --from-base or agent.stack=false.
    #[arg(long, value_name = "TASK")]
    pub after: Vec<String>,

    /// Start from the base even when dependencies have commits (the default when
    /// agent.stack=false).
    #[arg(long, conflicts_with = "stack")]
    pub from_base: bool,

    /// Stack on the dependencies' work even when agent.stack=false.
    #[arg(long)]
    pub stack: bool,

    /// The agent's brief.
    #[arg(long, value_name = "TEXT", conflicts_with = "brief_file")]
    pub brief: Option<String>,

    /// Read the brief from a file (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub brief_file: Option<PathBuf>,

    /// An acceptance criterion; repeat for several.
    #[arg(long, value_name = "TEXT")]
    pub acceptance: Vec<String>,

    /// The kind of work (lint, format, types, docs, rename, test-fix, architecture, debugging,
    /// security, or another word): `git agent cost` flags a kind spending on an unfit model.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,

    /// A pathspec the task must not change (the tests written for it, say); repeat for
    /// several. A change to it is a hazard in list and conflicts, and integrate refuses it.
    #[arg(long, value_name = "PATHSPEC")]
    pub protect: Vec<String>,

    /// A pathspec of a shared contract (types, API definitions), committed on the base and
    /// read-only for the task; repeat for several. Guarded as --protect is.
    #[arg(long, value_name = "PATHSPEC")]
    pub contract: Vec<String>,

    /// A constraint the agent is given, recorded and shown (e.g. "No new dependencies", which
    /// is checked against dependency manifests and lock files); repeat for several.
    #[arg(long, value_name = "TEXT")]
    pub constraint: Vec<String>,

    /// Start behind the plan review gate (the default when agent.gate=true): the agent
    /// proposes a plan (git agent propose) and waits for git agent approve.
    #[arg(long)]
    pub gate: bool,

    /// Create every task of a plan file (JSON) after validating the decomposition.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Only validate (the plan, or the task's name, base and dependencies); create nothing.
    #[arg(long)]
    pub check: bool,

    /// Accept scopes that overlap between tasks of a plan (reported as warnings).
    #[arg(long)]
    pub allow_overlap: bool,

    /// Do not run agent.setup in the new worktree.
    #[arg(long)]
    pub no_setup: bool,

    /// Do not start the agent even if agent.command is set.
    #[arg(long)]
    pub no_agent: bool,

    /// Start the agent in the background (its own session, output to its log) and return at
    /// once; see git agent run.
    #[arg(long, conflicts_with_all = ["no_agent", "tmux", "plan"])]
    pub detach: bool,

    /// Start the agent in a tmux window named after the task (the default when
    /// agent.terminal=tmux); see git agent run.
    #[arg(long, conflicts_with_all = ["no_agent", "plan"])]
    pub tmux: bool,

    /// The agent command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    /// Spawn K variants TASK.1 ... TASK.K of the task (2 to 16), with one brief, to compare
    /// (git agent compare) and converge (git agent converge).
    #[arg(long, value_name = "K", conflicts_with = "plan")]
    pub variants: Option<u32>,

    /// One variant's agent command, a command line split as agent.command is; give it once per
    /// variant (exactly K times), in order, or not at all.
    #[arg(long, value_name = "CMD", requires = "variants", conflicts_with = "command")]
    pub variant_command: Vec<String>,
}

pub const CONFLICTS_ABOUT: &str =
    "Check every pair of agent branches, and each against the target, for conflicts, in memory";

pub const CONFLICTS_LONG_ABOUT: &str = "\
Check every pair of agent branches, and each branch against the target, for conflicts.

Nothing is written: no worktree, index, HEAD or ref changes. Each branch is diffed once
against its merge base with the target; only pairs whose changes can interact get a real
in-memory merge, on all cores. Verdicts and conflicted paths are those of
`git merge-tree --write-tree` on the same two branches (labels: the branch names).
Repository merge drivers and filters are never run.

Reported: conflicting pairs with their paths and kinds; clean overlaps (same files, merges
cleanly: worth a look at review); each branch against the target as it is now (base drift);
and hazards: changes outside a task's scope, several tasks changing dependency manifests or
lock files, two tasks adding migrations with the same number in one directory, two tasks
adding the same new path. A file a task only inherited from a task it depends on (by merging
or stacking on that branch) counts as the dependency's change, not the dependent's.

When tasks have dependencies (spawn --after), the tasks are also merged in memory in
dependency order, one onto the result of the other, as integrate does: each task is reported
as applying cleanly at its place in that order, conflicting there, or blocked by a
dependency that conflicts. The exit status then follows that order-aware verdict: a pair
that conflicts only because one task carries an older version of the other's work does not
count. --pairwise keeps the strict all-pairs verdict.

Exit status 1 means something conflicts; hazards alone do not change the exit status. With
no tasks at all there is nothing to check, and the exit status is 0.";

pub const INTEGRATE_ABOUT: &str =
    "Merge the done tasks in dependency order, test after every merge, land all or nothing";

pub const INTEGRATE_LONG_ABOUT: &str = "\
Merge tasks into the target in dependency order, run the tests after every merge, and land
all or nothing.

Tasks: those named, default every task marked done; ordered by their recorded dependencies,
ties in spawn order. Every merge is computed in memory; the target ref is written once, at the
end, by compare-and-swap against its value at the start. A conflict or a failing test stops
the run and leaves the target exactly as it was (--keep-going skips that task and the tasks
depending on it instead). Tests run through the shell in scratch worktrees that
git agent-integrate owns and keeps warm between runs (one per target branch and job, under
<agent.worktreeRoot>/.integrate/, with agent.copy files and agent.testSetup, else agent.setup,
run once), with a timeout that kills the test's process group; a tree that passed the same
command before (recorded in refs/notes/agent) is not tested again. The test sees
GIT_AGENT_STEP and GIT_AGENT_STEPS (its step, 1-based, of how many), GIT_AGENT_TASK,
GIT_AGENT_TARGET, GIT_AGENT_SLOT and GIT_AGENT_PORT (a free port, one per slot).

Every merge is made in memory before any test runs, so the tests need not wait for each
other: --jobs N tests up to N steps at once, each in its own slot, and reports, records and
lands exactly what testing one after another would (the same first failure; later tests are
cancelled). --test-at end tests only the final result and, when it fails, bisects the steps
(as `git bisect run` does) for the first failing one: at most 1 + ceil(log2 N) test runs; with
--keep-going the failing task and its dependents drop out and the rest is retested. --retries N
runs a failing test again up to N times (the note records the attempts). Each step is printed
on stderr as it starts and ends; on a terminal a bar shows the running tests.

The guards hold before anything is merged. A gated task (spawn --gate) whose plan was never
approved is refused (git agent approve), and so is a task whose own commits change one of its
contracts, a path it or git config agent.protected protects, or, under a \"no new
dependencies\" constraint, add a dependency or change a lock file (see git agent list's
hazards), unless --allow-contract-change (every task) or --allow-contract-change=TASK allows
it. Named tasks: the whole run is refused (exit 3); without names such a task is left out,
with the tasks depending on it, and said so.

Merge commits carry the task's brief and acceptance criteria. --push REMOTE pushes what landed
with a lease on the branch's value before the run (a refused push is exit 4; the local landing
stays). With --branch and `gh` installed, the next step is printed: `gh pr create` with a body
listing the tasks, their briefs and acceptance criteria (written to .git/agent/pr/<branch>.md).

Landing is one ref transaction: the target, the tasks' \"integrated\" record events and the
notes in refs/notes/agent move together, each by compare-and-swap, or none does (exit 4 when
any of them moved meanwhile).

When the target is checked out in a worktree, that worktree follows as with git's
receive.denyCurrentBranch=updateInstead: with uncommitted changes there, integrate refuses
before merging; at landing time it takes the worktree's index.lock, checks again, brings the
files and index to the new commit (a two-tree `git read-tree -m -u`), and only then moves the
ref, taking the worktree back if the ref cannot be moved. If the worktree cannot follow
(edited during the run, or a file git does not track, even an ignored one, is where the new
commit puts a file), nothing lands and the exit status is 3; if its index.lock is held or the
target moved, 4. An integrate killed between the two leaves the refs as they were and the
integrated changes staged in that worktree: nothing is lost, and the next integrate refuses
until they are committed or reset.
Conflicts confined to files matching git config agent.resolve.<name>.path are resolved by
the rule (with --strategy rebase, in the replayed commit that conflicts), as
agent.resolve.<name>.strategy says:
  run (the default; needs agent.resolve.<name>.run): the target's side of the files, then the
    command (for example `cargo generate-lockfile`) in the scratch worktree; its files are taken.
  union: each file merged keeping both sides' lines where they conflict, byte for byte as
    `git merge-file --union` (import lists, changelogs, test lists).
  ours, theirs: the target's (ours) or the task's (theirs) side of each conflicting hunk, as
    `git merge-file --ours`/`--theirs`; for a binary file, that side's file.
union, ours and theirs run no command (the .run, when set, runs after them on their result) and
use the merge's attributes and conversions. What they cannot settle keeps the step a conflict,
and the report says which file and why: a binary file (union: git merge-file refuses binary
files), a file one side deleted (modify/delete: keeping both would bring back a deleted file),
entries of different kinds or modes, a symlink or submodule, a renamed file, a conflict about
where files go. A file the command resolved keeps its mode (executable bit, symlink) and goes
through the built-in end-of-line conversion, as `git add` would store it. --dry-run runs no
command: without one, its result is exactly the real run's; with one, it goes on with the
strategy's result (the target's side for run).

Every strategy merges as `git merge-tree` does (merge.renames, merge.renameLimit and diff.*,
merge.renormalize with the built-in conversions, attributes from the .gitattributes of the
worktree integrate runs in, virtual merge bases), and --strategy rebase replays the task's commits in
`git rebase` order (`git rev-list --reverse --topo-order --no-merges`), dropping commits that
become empty. Merge drivers (merge.<driver>.driver, named by a merge attribute) and filter
drivers never run, in any strategy or --dry-run, as in `git agent-conflicts`: they are commands
anyone who can write the repository's config or a worktree's .gitattributes can plant, and the
dry run's answer must be the real run's. A path whose driver would run merges as with that
driver undefined (git's text merge, or the built-in text, binary or union driver of that
name); to run a command on such conflicts, configure it as an agent.resolve rule.";

#[derive(Debug, Clone, Args, Default)]
#[command(about = INTEGRATE_ABOUT, long_about = INTEGRATE_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct IntegrateArgs {
    /// Only these tasks (default: every task marked done).
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,

    /// The branch to integrate into (default: the tasks' base branch).
    #[arg(long, value_name = "BRANCH", conflicts_with = "branch")]
    pub into: Option<String>,

    /// Build on an integration branch NAME (created from the target) and leave the target alone.
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,

    /// Test command run after every merge (default: git config agent.test).
    #[arg(long, value_name = "CMD")]
    pub test: Option<String>,

    /// Seconds before a test is killed (default: agent.testTimeout, else 600).
    #[arg(long, value_name = "SECONDS")]
    pub test_timeout: Option<u64>,

    /// How each task lands.
    #[arg(long, value_enum, value_name = "STRATEGY", default_value_t = crate::integrate::Strategy::Merge)]
    pub strategy: crate::integrate::Strategy,

    /// Skip a task that conflicts or fails its test, and every task depending on it; land the rest.
    #[arg(long)]
    pub keep_going: bool,

    /// Print the order and what each step would do; write nothing, run no tests.
    #[arg(long)]
    pub dry_run: bool,

    /// Run up to N step tests at once, each in its own scratch worktree (default:
    /// agent.testJobs, else 1). The outcome is the same as one after another.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs: Option<u64>,

    /// When to test: after each merge, or only the end result (bisecting the steps when it fails).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::integrate::TestAt::Each)]
    pub test_at: crate::integrate::TestAt,

    /// Run a failing test again up to N times before it counts as failed (flaky tests).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,

    /// Show the tests' output as they run (on stderr).
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// After landing, push the destination (the target, or the --branch) to REMOTE, with a
    /// lease on the value it had before the run.
    #[arg(long, value_name = "REMOTE")]
    pub push: Option<String>,

    /// Integrate tasks that change a contract or a protected path, or add a dependency under
    /// a "no new dependencies" constraint: all such tasks, or with =TASK only that one
    /// (repeat for several). Without it integrate refuses them.
    #[arg(long, value_name = "TASK", num_args = 0..=1, require_equals = true, default_missing_value = ALL_TASKS)]
    pub allow_contract_change: Vec<String>,
}

/// `--allow-contract-change` without a task name: every task.
pub const ALL_TASKS: &str = "*";

pub const PRUNE_ABOUT: &str = "Remove finished tasks' worktrees, branches and records, never losing work";

pub const PRUNE_LONG_ABOUT: &str = "\
Remove finished tasks: their worktree, branch and record. Never loses work.

Default: every integrated task (its record says integrated, or its branch has commits of its
own and they are all in the target: by ancestry, by patch id as `git cherry` sees it, or held
by the record's integration commit after a squash or rebase integration; a fresh task with no
commits is left alone). Worktrees are found by git's registrations (after `git worktree move`
or a changed agent.worktreeRoot too). A task is refused, left whole, with exit status 3 when its
worktree has uncommitted changes, untracked files, or ignored files git-agent did not put there
(anything but agent.disposable matches and spawn's copies while identical to the main worktree's),
its branch has commits the target does not have or no other branch or tag has, the worktree is locked (also when it is missing) or has a merge, rebase, cherry-pick
or bisect in progress, its HEAD is detached on commits on no branch (also in a worktree deleted
by hand), it holds a nested repository or initialised submodule, its path is a link, its agent
is running, or its record names a branch that is not the task's own. --all skips tasks whose
agent is running.

Every removal goes through one guarded path, under the task's claim: a branch is deleted only
if it is the task's own, checked out in no worktree (the main one included) and, without a
record, created by git-agent spawn; a worktree is moved aside, checked again, and only what was
checked is deleted; a file written meanwhile puts it back (exit status 4).

--force removes anyway, but first saves what would be lost under
refs/agent/archive/<task>/<stamp>/ (branch, head, worktree snapshot with ignored files, record),
and removes exactly what it archived. Ignored files larger than 16 MiB are listed and need
--discard-ignored. Restore with
`git agent spawn <new-task> --base refs/agent/archive/<task>/<stamp>/worktree` (or /branch).

It also cleans up after damage: stale registrations under the worktree root, branches and
worktrees left by an interrupted (killed) spawn, worktrees a killed prune left moved aside. One
bad task (a corrupt record, a broken worktree) is reported and never stops the others.

Integrate's slots (scratch worktrees kept warm between runs, <worktree root>/.integrate/
<branch>-<n>) go when their target branch is gone or their directory was deleted; --scratch
removes every idle slot and touches no task. A slot in use by a running integrate is kept, and
so is anything at a slot's path that git-agent did not create.";

#[derive(Debug, Clone, Args, Default)]
#[command(about = PRUNE_ABOUT, long_about = PRUNE_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct PruneArgs {
    /// Only these tasks (default: every integrated task).
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,

    /// What counts as merged (default: each task's base branch).
    #[arg(long = "into", visible_alias = "merged-into", value_name = "REV")]
    pub merged_into: Option<String>,

    /// Consider every task, not only integrated ones (unmerged ones are still refused); with
    /// TASKs named, only those.
    #[arg(long)]
    pub all: bool,

    /// Show what would be removed and refused; remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Remove refused tasks too, after archiving their commits, uncommitted changes and
    /// ignored files (never skipping a check: only what was archived is removed).
    #[arg(long)]
    pub force: bool,

    /// Delete ignored files too large to archive (listed when prune refuses them).
    #[arg(long)]
    pub discard_ignored: bool,

    /// Remove every idle integrate slot (the scratch worktrees integrate keeps warm between
    /// runs) and leave the tasks alone.
    #[arg(long, conflicts_with_all = ["tasks", "all", "force", "merged_into", "discard_ignored"])]
    pub scratch: bool,
}

/// Text layout of `conflicts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ConflictsFormat {
    /// A compact N x N matrix with a legend, then the details of what conflicts.
    #[default]
    Matrix,
    /// One entry per pair and per branch with paths and kinds.
    List,
}

#[derive(Debug, Clone, Args, Default)]
#[command(about = CONFLICTS_ABOUT, long_about = CONFLICTS_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct ConflictsArgs {
    /// Only these tasks (default: every task not yet integrated).
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,

    /// What the branches are merged into (default: the tasks' base branch).
    #[arg(long = "into", visible_alias = "target", value_name = "REV")]
    pub target: Option<String>,

    /// Layout of the text output.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ConflictsFormat::Matrix)]
    pub format: ConflictsFormat,

    /// Also count each task worktree's uncommitted changes and untracked files (read, never touched).
    #[arg(long)]
    pub include_uncommitted: bool,

    /// Exit status from every pair, even when tasks have dependencies (no dependency-order view).
    #[arg(long)]
    pub pairwise: bool,
}

/// Show every task: state, branch, commits ahead of its base and behind the target, files
/// changed, uncommitted changes, age of the last commit, base drift, files changed outside
/// the task's scope, whether the worktree is missing, and "dependency moved" when a stacked
/// task's dependencies have work it lacks (`git agent restack` moves it). A stacked task's
/// commits and files are its own: what it holds of its dependencies' work is not counted.
///
/// AFTER names the tasks a task was stacked on; `*` after its name marks the task whose
/// worktree the current directory is in. An integrated task shows no BEHIND ("-"): the target
/// holds its work and moves on without it. LAST is the task's own last commit, or its spawn
/// time. -v names each task's uncommitted files under its row.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct ListArgs {
    /// Only these tasks (default: all).
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,

    /// Skip looking for uncommitted changes in each worktree (faster on huge worktrees).
    #[arg(long)]
    pub no_dirty: bool,

    /// Name each task's uncommitted files, as `git status --short` does (in --json too).
    #[arg(long, short = 'v', conflicts_with = "no_dirty")]
    pub verbose: bool,
}

/// Print a task's brief, scope, dependencies, acceptance criteria and state.
///
/// Without TASK, the task whose worktree contains the current directory.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct ShowArgs {
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
}

/// Mark a task ready for integration.
///
/// Without TASK, the task whose worktree contains the current directory.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct DoneArgs {
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
}

pub const JOIN_ABOUT: &str = "Give a task fetched from another machine a worktree here, to work on it";

pub const JOIN_LONG_ABOUT: &str = "\
Give a task that exists here, but has no worktree here, a worktree: for work on a task across
machines. On one machine `git agent spawn` creates the task; `git agent sync` on another
machine (or in a container or VM with its own clone) fetches its record and its branch, and
`git agent join TASK` there creates the worktree <agent.worktreeRoot>/<TASK> with the task's
branch checked out, so that an agent can work in it. `git agent done` in it, and `git agent
sync`, report back.

As spawn does, join copies the untracked files matching agent.copy from the main worktree
and runs agent.setup in the new worktree; if either fails, or a signal arrives, the worktree
is removed again. join never creates or moves the branch and never writes the task's record.

It refuses a task that is integrated, whose branch does not exist here (run `git agent sync`
first), that has a worktree on this machine already, whose branch is checked out in any
worktree, or whose worktree path exists and is not an empty directory. The worktree's path
is printed on stdout: `cd \"$(git agent join db -q)\"` works.";

/// Give a task fetched from another machine a worktree here.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct JoinArgs {
    /// The task: it must have a record and a branch here.
    #[arg(value_name = "TASK")]
    pub task: String,

    /// Do not run agent.setup in the new worktree.
    #[arg(long)]
    pub no_setup: bool,
}

pub const RESTACK_ABOUT: &str = "Move stacked tasks onto their dependencies' new work";

pub const RESTACK_LONG_ABOUT: &str = "\
Move stacked tasks onto their dependencies' new work, so that an agent can pick up what the
tasks it depends on did since it was spawned.

A task spawned with --after starts on its dependencies' work (stacked; see git agent spawn).
When a dependency gets new commits, restack replays the task's own commits (those after
where it was stacked) onto the dependency's new tip, or onto a merge of the tips when several
dependencies have work, in memory, as `git rebase --onto` would (merges left out, commits
that become empty dropped, authors and messages kept). Default: every stacked task not yet
integrated whose dependencies moved, in dependency order (a task after the tasks it depends
on, so that a stack of three moves in one run); named tasks are restacked even if they were
spawned with --from-base.

All or nothing per task. It is refused (exit status 3), and left exactly as it was, when its
worktree has uncommitted changes or untracked files, its agent is running, its branch is
checked out anywhere else, or it is integrated. When its commits conflict with the new work,
it is left as it was and reported (exit status 1), and the other tasks go on. Otherwise its
worktree is brought to the new commit as a fast-forward would (checked again under the
worktree's index.lock), then the branch and the record's stack field move together by
compare-and-swap; a branch or record that changed meanwhile (the agent committed) is a lost
race (exit status 4) and nothing is changed. The old tip stays in the branch's reflog:
`git reflog agent/<TASK>` shows \"git-agent restack: onto agent/<dep> <commit>\".

--dry-run does the same checks and merges in memory and reports would-restack, conflict or
refused for each task, writing nothing (tasks after one that would move are looked at as
they are now).";

/// Move stacked tasks onto their dependencies' new work.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct RestackArgs {
    /// Only these tasks (default: every stacked task whose dependencies moved).
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,

    /// Show what would be restacked, what conflicts and what is refused; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub const SYNC_ABOUT: &str =
    "Exchange task records, test results and task branches with a remote, merging without loss";

pub const SYNC_LONG_ABOUT: &str = "\
Exchange task records, test results and task branches with a remote, so that other machines,
containers and VMs see and update the same tasks.

One fetch copies the remote's records (refs/agent/tasks/*), notes (refs/notes/agent) and
task branches into refs/agent-remotes/<REMOTE>/. Each record is then joined with the local
one: a fast-forward, or, when both sides changed the task, a merge commit with both as
parents whose state is the fold of both operation logs (nothing is rewritten, no event is
lost, and every machine folds the same state). The notes are merged by git (cat_sort_uniq),
so every machine's test results are kept. Task branches move only as fast-forwards: a branch
with commits on both sides is reported with both tips, never forced, and a branch checked
out here is not moved. One push then sends what the remote lacks, each ref with a lease on
the value just fetched; if the remote moved meanwhile, the sync starts again (at most 5
rounds). A task removed (pruned) on one side is removed on the other only if the other did
not change it since the last sync, and never where it has a worktree.

Records from the remote are validated like any other: a corrupt one is reported and left
alone on both sides. Every transport git has works (file, ssh, git, https), with your
credentials and configuration.";

/// Exchange task records, test results and task branches with a remote.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct SyncArgs {
    /// The remote (default: git config agent.remote, else origin).
    #[arg(value_name = "REMOTE")]
    pub remote: Option<String>,

    /// Fetch and show what would move; change nothing here or there.
    #[arg(long)]
    pub dry_run: bool,
}

pub const RUN_ABOUT: &str = "Start the agent of an existing task: in the foreground, detached, or in a tmux window";

pub const RUN_LONG_ABOUT: &str = "\
Start the agent of an existing task (one created by a plan, or joined) in its worktree: the
COMMAND after `--`, else the task's own command (from its plan or spawn), else git config
agent.command. As with spawn, it runs without a shell, with GIT_AGENT_TASK, GIT_AGENT_BRIEF,
GIT_AGENT_BRANCH and GIT_AGENT_WORKTREE set, and `{brief}` in an argument replaced by the
brief; its start and exit status are recorded in the task's record.

Without options it runs in the foreground, sharing the terminal. With --detach it runs in the
background: in a session and process group of its own (a Ctrl-C or a closed terminal never
reaches it), stdin from /dev/null, stdout and stderr appended to
<git common dir>/agent/logs/<TASK>.log (`git agent logs`). With --tmux (or git config
agent.terminal=tmux) it gets a tmux window named after the task: in the current tmux session
when run inside tmux, else in the detached session `git-agent`, created if missing
(`git agent attach` goes there).

A background agent runs under a small supervisor (git-agent itself) that holds the task's
claim while it runs, so `list` shows it as running and prune leaves the task alone, and that
records its exit status when it ends, whether it exits, is stopped (`git agent stop`) or is
killed. Only one agent runs per task: another is refused (exit status 4, naming the holder).
The supervisor's pid, process group and log are kept in <git common dir>/agent/runs/<TASK>,
on this machine only.";

/// Start the agent of an existing task.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct RunArgs {
    /// The task (default: the one whose worktree this is).
    #[arg(value_name = "TASK")]
    pub task: Option<String>,

    /// Run it in the background; `git agent logs` shows its output.
    #[arg(long, conflicts_with = "tmux")]
    pub detach: bool,

    /// Run it in a tmux window named after the task.
    #[arg(long)]
    pub tmux: bool,

    /// The agent command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Print the output of a task's background agent.
///
/// The log is <git common dir>/agent/logs/<TASK>.log; every background run appends to it. With
/// -f, what the agent writes is printed as it comes, until the agent exits.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct LogsArgs {
    /// The task (default: the one whose worktree this is).
    #[arg(value_name = "TASK")]
    pub task: Option<String>,

    /// Follow the log until the agent exits.
    #[arg(short, long)]
    pub follow: bool,
}

/// Stop a task's background agent.
///
/// Sends SIGTERM to the agent's process group (the agent and every process it started), then
/// SIGKILL to what is left of it after the grace period, and waits until the supervisor has
/// recorded the exit status (128 + the signal). Refused (exit status 3) when the task has no
/// agent running in the background.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct StopArgs {
    /// The task (default: the one whose worktree this is).
    #[arg(value_name = "TASK")]
    pub task: Option<String>,

    /// Seconds between SIGTERM and SIGKILL.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub grace: u64,
}

/// Go to the tmux window of a task's agent.
///
/// Inside tmux: switch-client to the window; outside: tmux attach to it (the session
/// `git-agent` unless the agent was started inside tmux).
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct AttachArgs {
    /// The task (default: the one whose worktree this is).
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
}

/// `git-agent __supervise`: the supervisor of a background agent, started by git-agent itself
/// (spawn --detach/--tmux, run). Not a sub-command of [`AgentCli`], so that no help, man page or
/// completion shows it.
#[derive(Debug, Parser)]
#[command(name = SUPERVISE)]
pub struct SuperviseCli {
    #[command(flatten)]
    pub supervise: SuperviseArgs,

    // After the command's own options: the global ones have a help heading of their own.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// The first argument that makes `git-agent` a supervisor.
pub const SUPERVISE: &str = "__supervise";

#[derive(Debug, Clone, Args, Default)]
pub struct SuperviseArgs {
    #[arg(value_name = "TASK")]
    pub task: String,

    /// detached or tmux.
    #[arg(long)]
    pub how: String,

    /// Where to answer the command that started it.
    #[arg(long)]
    pub ready: PathBuf,

    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Install the man pages and shell completions into your user directories (idempotent).
///
/// Man pages go to <prefix>/share/man/man1 beside the directory holding git-agent (so that
/// `man` finds them through PATH, and `git agent-spawn --help` works); completions go to
/// the per-user directories of bash-completion, zsh and fish.
///
/// The JSON Schemas of the --json outputs (`git agent schema`) go to
/// $XDG_DATA_HOME/git-agent/schemas/<command>.json.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct SetupArgs {
    /// Install the man pages under this prefix (<PREFIX>/share/man/man1) instead.
    #[arg(long, value_name = "PREFIX")]
    pub man_prefix: Option<PathBuf>,

    /// Show what would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print, and install nothing, the shell function that makes `git agent cd TASK` change
    /// directory to the task's worktree: add `eval "$(git agent setup --shell bash)"` to
    /// ~/.bashrc (zsh: ~/.zshrc; fish: `git agent setup --shell fish | source` in
    /// ~/.config/fish/config.fish). Every other `git` command passes through unchanged.
    #[arg(long, value_enum, value_name = "SHELL", conflicts_with_all = ["man_prefix", "dry_run"])]
    pub shell: Option<Shell>,
}

/// A shell `setup --shell` writes its function for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Run the whole workflow on a sample repository: decompose a "user activity dashboard" into
/// tasks, spawn them, let the (simulated) agents commit, monitor, check conflicts, resolve the
/// planted one, integrate in dependency order with tests, and prune. Every step prints the
/// command it runs, so you can repeat it by hand. The repository is left for inspection.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct DemoArgs {
    /// Where to create the sample repository (default: ./git-agent-demo); must be new or empty.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub const COST_ABOUT: &str = "Record, import and total the tokens and money agents spent on each task";

pub const COST_LONG_ABOUT: &str = "\
Record, import and total the tokens and money agents spent on each task.

`git agent cost` totals every task's cost operations: input, output and cache-read tokens
and USD, grouped --by task (default), model, kind, day or week (UTC, ISO weeks, by when each
cost was recorded); --since YYYY-MM-DD counts only what was recorded from that day on.

`git agent cost add [TASK] --model M --input N --output N [--cache-read N] [--usd X]` records
a cost by hand (source \"manual\"; TASK defaults to the task whose worktree you are in).

`git agent cost import claude|codex [--dir DIR] [--dry-run]` reads the agents' own session
logs and records what each session spent in a task's worktree (its working directory is the
worktree or inside it), per session and model; sessions elsewhere are ignored. Claude Code:
~/.claude/projects/**/*.jsonl, assistant lines (type \"assistant\") with message.id,
message.model and message.usage (input_tokens and cache_creation_input_tokens count as input,
output_tokens, cache_read_input_tokens as cache reads); a message id on several lines
(streamed content blocks) counts once. Codex CLI: $CODEX_HOME/sessions/**/*.jsonl (default
~/.codex/sessions): session_meta and turn_context lines give the working directory and the
model, token_count events the session's running totals (input_tokens less
cached_input_tokens as input, cached_input_tokens as cache reads, output_tokens as output).
Importing again adds only what sessions spent since: each operation's source is
claude:<session>:<model> (or codex:...), and the task's log is compared per source. One
record commit per task.

Prices are USD per million tokens: git config agent.price.<model>.input, .output and
.cacheRead (default: the input price) for the model name as recorded, else built-in
estimates from list prices (opus-4-5 5/25/0.50, other opus 15/75/1.50, sonnet 3/15/0.30,
haiku-4-5 1/5/0.10, other haiku 0.80/4/0.08, gpt-5-nano 0.05/0.40/0.005, gpt-5-mini
0.25/2/0.025, other gpt-5 1.25/10/0.125; input/output/cache read, matched as a part of the
model name). A cost recorded with --usd keeps its own amount. A model with no price has its
tokens counted and its USD shown as ?, with a warning.

Model fit: a task's kind (spawn --kind, or kind in a plan) is compared with the models it
spent on. Mechanical kinds (lint, format, types, docs, rename, test-fix) spending on an
opus-class model (the largest: a name containing opus), and kinds that need judgement
(architecture, debugging, security) spending on a haiku-class model (the smallest: haiku,
-mini, -nano) are warned about.";

/// Record, import and total what agents spent.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help(), args_conflicts_with_subcommands = true)]
pub struct CostArgs {
    #[command(subcommand)]
    pub action: Option<CostAction>,

    /// Group the totals by task, model, kind, day or week.
    #[arg(long, value_enum, value_name = "BY", default_value_t)]
    pub by: crate::ops::cost::By,

    /// Count only costs recorded on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CostAction {
    // Described by CostAddArgs' doc comment, with its "Without TASK" sentence.
    Add(CostAddArgs),
    /// Record what the agents' own session logs say each task's sessions spent.
    Import(CostImportArgs),
}

/// Record tokens (and money) a task's agent spent (source "manual").
///
/// Without TASK, the task whose worktree contains the current directory.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct CostAddArgs {
    #[arg(value_name = "TASK")]
    pub task: Option<String>,

    /// The model, as its vendor names it (claude-sonnet-4-5, gpt-5, ...).
    #[arg(long, value_name = "MODEL")]
    pub model: String,

    /// Input tokens (not cached).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub input: u64,

    /// Output tokens.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub output: u64,

    /// Input tokens read from the prompt cache.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub cache_read: u64,

    /// What it cost in USD, when known (wins over the price table).
    #[arg(long, value_name = "USD")]
    pub usd: Option<f64>,
}

/// Record what the agents' own session logs say each task's sessions spent.
///
/// Sessions whose working directory is a task's worktree (or inside it) on this machine are
/// attributed to that task; importing again adds only what they spent since.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct CostImportArgs {
    /// Whose logs: claude (Claude Code) or codex (OpenAI Codex CLI).
    #[arg(value_enum, value_name = "AGENT")]
    pub agent: crate::ops::cost::Agent,

    /// Where the logs are (default: ~/.claude/projects, or $CODEX_HOME/sessions, else
    /// ~/.codex/sessions).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Show what would be recorded; record nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Parser)]
#[command(name = "git-agent-spawn", version, about = SPAWN_ABOUT, long_about = SPAWN_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct SpawnCli {
    #[command(flatten)]
    pub spawn: SpawnArgs,

    // After the command's own options: the global ones have a help heading of their own.
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Parser)]
#[command(name = "git-agent-conflicts", version, about = CONFLICTS_ABOUT, long_about = CONFLICTS_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct ConflictsCli {
    #[command(flatten)]
    pub conflicts: ConflictsArgs,

    // After the command's own options: the global ones have a help heading of their own.
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Parser)]
#[command(name = "git-agent-integrate", version, about = INTEGRATE_ABOUT, long_about = INTEGRATE_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct IntegrateCli {
    #[command(flatten)]
    pub integrate: IntegrateArgs,

    // After the command's own options: the global ones have a help heading of their own.
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Parser)]
#[command(name = "git-agent-prune", version, about = PRUNE_ABOUT, long_about = PRUNE_LONG_ABOUT)]
#[command(after_help = exit_status_help())]
pub struct PruneCli {
    #[command(flatten)]
    pub prune: PruneArgs,

    // After the command's own options: the global ones have a help heading of their own.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Every binary this package builds, with its clap command: the source of man pages and completions.
pub fn binaries() -> Vec<Command> {
    vec![AgentCli::command(), spawn_command(), ConflictsCli::command(), IntegrateCli::command(), PruneCli::command()]
}

/// The sub-commands of `git-agent` that are also binaries of their own (with their own man page).
pub const OWN_BINARIES: &[&str] = &["spawn", "conflicts", "integrate", "prune"];

pub fn spawn_command() -> Command {
    SpawnCli::command()
}

pub const CHECKPOINT_ABOUT: &str = "Record a summary of an agent's session on its task: done, doing, next, decisions";

pub const CHECKPOINT_LONG_ABOUT: &str = "\
Record a checkpoint on a task: what the agent completed, what is in progress, what comes next
and the decisions it made, so that the orchestrator (`git agent show`) and a successor agent
(`git agent handoff`) know where the work stands. Without TASK, the task whose worktree
contains the current directory.

git-agent fills in the files: those changed on the task's branch since its start, and those
changed in its worktree now (staged, unstaged, untracked and not ignored).

-F FILE (`-` for standard input) reads a file in a simple markdown format: under the headings
`## Completed`, `## In progress`, `## Next` and `## Decisions` each bullet (`- item`) is an
item, lines indented under a bullet continue it; any other text is kept as notes. The items
of the options come first. At least one item or some notes are required (exit status 2).

A running agent (started by `git agent spawn ... -- COMMAND`) that has taken no checkpoint
for git config agent.checkpointEvery (default 45 minutes; a number of minutes, or a number
with s, m or h) since its last one, or since it started, is flagged by `git agent list`.";

/// Record a checkpoint on a task.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct CheckpointArgs {
    /// The task (default: the one whose worktree contains the current directory).
    #[arg(value_name = "TASK")]
    pub task: Option<String>,

    /// Something done; repeat for several.
    #[arg(long, value_name = "ITEM")]
    pub completed: Vec<String>,

    /// Something being worked on; repeat for several.
    #[arg(long, value_name = "ITEM")]
    pub in_progress: Vec<String>,

    /// Something to do next; repeat for several.
    #[arg(long, value_name = "ITEM")]
    pub next: Vec<String>,

    /// A decision made (and why); repeat for several.
    #[arg(long, value_name = "ITEM")]
    pub decision: Vec<String>,

    /// Read notes (and items under the headings ## Completed, ## In progress, ## Next and
    /// ## Decisions) from FILE; `-` reads standard input.
    #[arg(short = 'F', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

pub const HANDOFF_ABOUT: &str = "Print the prompt that hands a task over to a successor agent; optionally spawn it";

pub const HANDOFF_LONG_ABOUT: &str = "\
Print, as markdown on stdout, the prompt that hands TASK over to a successor agent (when an
agent ran out of context, budget or time):
  - the prior agent's output: its commits on the branch (subjects), the diffstat of the
    branch against where the task's work starts, and the integration state;
  - its last checkpoint (see `git agent checkpoint`);
  - the remaining task: the brief, and the acceptance criteria the checkpoint does not list
    as completed;
  - the interface contract: scope, dependencies, and the protected paths (the record's
    `protected` field, and git config agent.protected);
  - the constraints: stay in scope, commit often, run `git agent checkpoint` every
    agent.checkpointEvery, `git agent done` when finished.

With --to NEW, the successor task NEW is spawned as `git agent spawn NEW --after TASK`
would (stacked on TASK's work, on TASK's base), whatever agent.stack says, with the prompt as
its brief and TASK's scope and acceptance criteria; the new worktree's path is printed on
stdout instead of the prompt (`git agent show NEW` prints it). NEW must not exist (exit
status 3); an unknown TASK is exit status 2. No agent is started: start it in the worktree.

--json prints {\"version\": 1, \"handoff\": the facts of the prompt (commits, diffstat,
checkpoint, acceptance_remaining, scope, protected, ...), \"prompt\": the markdown}, and with
--to \"spawned\": what spawn --json reports for the new task.";

/// Print the prompt that hands a task over to a successor agent.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct HandoffArgs {
    /// The task handed over.
    #[arg(value_name = "TASK")]
    pub task: String,

    /// Spawn the successor task NEW, stacked on TASK, with the prompt as its brief.
    #[arg(long, value_name = "NEW")]
    pub to: Option<String>,

    /// Do not run agent.setup in the successor's worktree.
    #[arg(long, requires = "to")]
    pub no_setup: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definitions_are_consistent() {
        for command in super::binaries() {
            command.debug_assert();
        }
    }
}

pub const REPORT_ABOUT: &str = "Say what a task's agent is doing: working, waiting or blocked";

pub const REPORT_LONG_ABOUT: &str = "\
Say what a task's agent is doing: working, waiting (its turn ended, or it waits for a
permission) or blocked (it cannot go on without you; `git agent ask` says why). Run from
inside a task's worktree it reports for that task; name TASK to report from elsewhere.

The status and its age show in `git agent list` and `git agent show`. It is an operation on
the task's record, so it syncs like the rest; a report that repeats the status and message in
force writes nothing. Agents report by themselves through their hooks: `git agent hooks
claude` and `git agent hooks codex` print the configuration.

When the status word changes, git-agent runs git config agent.notify (if set) with `sh -c`
in the task's worktree (also on every answer, and when an agent spawn or run started exits:
GIT_AGENT_EVENT=agent-exit), with GIT_AGENT_TASK, GIT_AGENT_EVENT (report, ask or answer),
GIT_AGENT_STATUS_OLD (empty if there was none), GIT_AGENT_STATUS and GIT_AGENT_MESSAGE set.
git-agent waits for it at most 5 seconds, then kills it; a notify command that fails or times
out is a warning, never a failed report. End it with `&` to leave something slow running.";

/// What an agent can say it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportStatus {
    /// Working on the task.
    Working,
    /// Its turn ended, or it waits for a permission or for input.
    Waiting,
    /// It cannot go on without the orchestrator.
    Blocked,
}

impl From<ReportStatus> for crate::state::AgentStatus {
    fn from(status: ReportStatus) -> Self {
        match status {
            ReportStatus::Working => crate::state::AgentStatus::Working,
            ReportStatus::Waiting => crate::state::AgentStatus::Waiting,
            ReportStatus::Blocked => crate::state::AgentStatus::Blocked,
        }
    }
}

/// Say what a task's agent is doing.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct ReportArgs {
    #[arg(value_enum, value_name = "STATUS")]
    pub status: ReportStatus,

    /// What it is doing, in a few words.
    #[arg(long, short, value_name = "TEXT", default_value = "")]
    pub message: String,

    /// The task (default: the one whose worktree contains the current directory).
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
}

pub const ASK_ABOUT: &str = "Ask the orchestrator a question: the task is blocked until it answers";

pub const ASK_LONG_ABOUT: &str = "\
Ask the orchestrator a question. The task's status becomes blocked, with the question as its
message, and any earlier answer is cleared; `git agent list` shows the task as blocked, and
`git agent show` the open question. The orchestrator replies with `git agent answer TASK
TEXT`, and the agent reads the answer with `git agent show`. Runs agent.notify as `git agent
report` does.";

/// Ask the orchestrator a question.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct AskArgs {
    /// The question.
    #[arg(value_name = "TEXT")]
    pub question: String,

    /// The task (default: the one whose worktree contains the current directory).
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
}

pub const ANSWER_ABOUT: &str = "Answer a task's question";

pub const ANSWER_LONG_ABOUT: &str = "\
Answer the question a task's agent asked with `git agent ask`. The answer is recorded on the
task (the agent reads it with `git agent show`, at the top); the status stays as it is until
the agent reports again. Runs agent.notify (GIT_AGENT_EVENT=answer, the answer in
GIT_AGENT_MESSAGE), so that a notify command can wake the agent.";

/// Answer a task's question.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct AnswerArgs {
    #[arg(value_name = "TASK")]
    pub task: String,

    /// The answer.
    #[arg(value_name = "TEXT")]
    pub answer: String,
}

pub const HOOKS_ABOUT: &str = "Print the hook configuration that makes an agent report its status";

pub const HOOKS_LONG_ABOUT: &str = "\
Print the configuration that makes an agent report its status by itself.

`git agent hooks claude` prints JSON for Claude Code's settings (.claude/settings.json in the
task's worktree, or ~/.claude/settings.json; merge its \"hooks\" into any you have): the
UserPromptSubmit hook runs `git agent report working`, the Stop and Notification hooks `git
agent report waiting`, and the PreToolUse hook, for the tools that edit files (Edit, Write,
MultiEdit, NotebookEdit), `git agent check-edit --hook claude`: it denies an edit of a
protected path, a contract, a path outside the worktree or any edit before a gated task's plan
is approved, and asks the user before an edit outside the task's scope, in another task's
scope, or of a file another task changed (see git agent check-edit).

`git agent hooks codex` prints the `notify` line for Codex's ~/.codex/config.toml: Codex runs
it at the end of each agent turn, which reports waiting (Codex has no hook for the start of a
turn).

The commands run in the agent's working directory, the task's worktree, so they need no task
name; they are quiet and never fail (Claude Code takes a Stop hook's exit status 2 as \"do not
stop\").";

/// Which agent to print the hook configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookAgent {
    /// Claude Code: hooks for .claude/settings.json (JSON).
    Claude,
    /// Codex: the notify setting for ~/.codex/config.toml (TOML).
    Codex,
}

/// Print the hook configuration that makes an agent report its status.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct HooksArgs {
    #[arg(value_enum, value_name = "AGENT")]
    pub agent: HookAgent,
}

pub const COMPARE_ABOUT: &str = "Score the variants of a task (spawn --variants) side by side and rank them";

pub const COMPARE_LONG_ABOUT: &str = "\
Score every variant NAME.1 ... NAME.K of NAME (made by `git agent spawn NAME --variants K`)
and rank them, as a table (one row per variant: each criterion's measure and score, the total
and the rank) or with --json.

The criteria and their default weights (git config agent.compare.correctness, .simplicity,
.performance, .maintainability, .cost: numbers >= 0, not all 0; only their ratios matter):
  correctness      30  the test command passes (1) or not (0): --test, else agent.test
  simplicity       25  lines added and removed since the merge base with the base, plus 50
                       per dependency added to a manifest (Cargo.toml, package.json,
                       requirements*.txt, pyproject.toml, go.mod)
  performance      20  the wall-clock time of the --bench command, best of --runs
  maintainability  15  lines changed in tests per line changed in code; a test is a file under
                       a tests/ or test/ directory, or named *_test.*, test_*.*, *.test.*,
                       *.spec.*
  cost             10  the money the variant's agent recorded (git agent cost)

Each criterion is normalised across the variants to 0..1, the best variant scoring 1: lower is
better for lines, time and money (score = best / value; 0 scores 1), higher for the test share
(score = value / best). A variant without a value (a failing benchmark, no recorded cost when
others have one) scores 0. A criterion without data (no test command, no --bench, no cost
recorded for any variant) or weighted 0 is left out and the other weights renormalised, and
the output says so. The total is the weighted sum times 100; ties rank in variant order.

Only commits are scored: a variant whose worktree has uncommitted changes is warned about.
The test and benchmark run through the shell, in one of integrate's scratch worktrees of the
base branch (prepared with agent.copy and agent.testSetup or agent.setup once, kept warm),
checked out at each variant's tip, with the test timeout (--test-timeout, agent.testTimeout,
default 600 seconds). Nothing is written but that scratch worktree.";

/// Score the variants of a task and rank them.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct CompareArgs {
    /// The group: the TASK of `spawn TASK --variants K`.
    #[arg(value_name = "NAME")]
    pub group: String,

    /// The test command (a shell command line; default: agent.test).
    #[arg(long, value_name = "CMD")]
    pub test: Option<String>,

    /// A benchmark command (a shell command line) whose wall-clock time scores performance.
    #[arg(long, value_name = "CMD")]
    pub bench: Option<String>,

    /// How often the benchmark runs per variant; the best time counts.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,

    /// Seconds each test or benchmark run may take (default: agent.testTimeout, else 600).
    #[arg(long, value_name = "SECONDS")]
    pub test_timeout: Option<u64>,
}

pub const CONVERGE_ABOUT: &str = "Keep one variant of a task, marked done, and archive the others";

pub const CONVERGE_LONG_ABOUT: &str = "\
Keep the variant PICK of NAME: mark it done (ready for integration) and remove the other
variants exactly as `git agent prune --force` removes a task: their commits, uncommitted and
untracked work and ignored files are first archived under refs/agent/archive/<task>/<stamp>/,
then their worktree, branch and record are removed through prune's guarded path. A variant
whose agent is running is skipped (stop it first); one whose worktree holds what cannot be
archived is refused, as by prune. Restore one with
`git agent spawn <new-task> --base refs/agent/archive/<task>/<stamp>/worktree`.

Refused (exit status 3) when PICK is integrated already, or another variant is. With
--dry-run nothing changes and the output says what would be archived.";

/// Keep one variant, archive the others.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct ConvergeArgs {
    /// The group: the TASK of `spawn TASK --variants K`.
    #[arg(value_name = "NAME")]
    pub group: String,

    /// The variant to keep, for example NAME.2.
    #[arg(long, value_name = "VARIANT")]
    pub pick: String,

    /// Show what would be marked, archived and removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub const PROPOSE_ABOUT: &str = "Propose a gated task's implementation plan for the orchestrator's review";

pub const PROPOSE_LONG_ABOUT: &str = "\
Propose the implementation plan of a gated task (spawned with --gate, or with git config
agent.gate=true) for the orchestrator's review. The task's gate goes from planned to proposed;
`git agent show` prints the plan, and the orchestrator answers with `git agent approve` or
`git agent reject --reason`. Until the plan is approved, `git agent check-edit` (and the hook
from `git agent hooks claude`) denies edits and integrate refuses the task. Proposing again
replaces the plan and waits for a new judgement, even after an approval.

The plan is read from -m TEXT or -F FILE (`-` for standard input), at most 64 KiB.";

/// Propose a gated task's implementation plan.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct ProposeArgs {
    /// The plan.
    #[arg(long, short, value_name = "TEXT", conflicts_with = "file", required_unless_present = "file")]
    pub message: Option<String>,

    /// Read the plan from a file (`-` for standard input).
    #[arg(long, short = 'F', value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// The task (default: the one whose worktree contains the current directory).
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
}

pub const APPROVE_ABOUT: &str = "Approve a gated task's proposed plan: its agent may implement it";

pub const APPROVE_LONG_ABOUT: &str = "\
Approve the implementation plan a gated task's agent proposed (read it with `git agent show
TASK`). The gate opens: edits are allowed and integrate takes the task. With --proposal ID
(the id `git agent show` prints), the approval holds only for that plan: if the agent proposed
again meanwhile, nothing is approved and the exit status is 4.";

/// Approve a gated task's proposed plan.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct ApproveArgs {
    #[arg(value_name = "TASK")]
    pub task: String,

    /// Approve only this proposal (its id, or the first 7 or more characters of it).
    #[arg(long, value_name = "ID")]
    pub proposal: Option<String>,
}

pub const REJECT_ABOUT: &str = "Reject a gated task's proposed plan, saying why: its agent plans again";

pub const REJECT_LONG_ABOUT: &str = "\
Reject the implementation plan a gated task's agent proposed (or revoke an approval). The gate
goes back to planned, and the reason is shown to the agent by `git agent show` and by the
denials of `git agent check-edit`; the agent proposes a revised plan. --proposal ID works as
for approve.";

/// Reject a gated task's proposed plan.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct RejectArgs {
    #[arg(value_name = "TASK")]
    pub task: String,

    /// What the agent should change.
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,

    /// Reject only this proposal (its id, or the first 7 or more characters of it).
    #[arg(long, value_name = "ID")]
    pub proposal: Option<String>,
}

pub const CHECK_EDIT_ABOUT: &str =
    "Check paths before a task's agent edits them: ok, or why to ask or deny (for agents' hooks)";

pub const CHECK_EDIT_LONG_ABOUT: &str = "\
Check paths before the task's agent edits them. Each PATH gets every finding and, as its
verdict, the most severe one:

  deny  gated             the task's plan is not approved yet (with the rejection reason,
                          if any): propose it with `git agent propose`
  deny  protected         matches git config agent.protected (no task may change it) or the
                          task's --protect
  deny  contract          matches one of the task's shared contracts (read-only)
  deny  outside-worktree  not in the task's worktree: `..` out of it, another worktree, a link
                          to a directory elsewhere, or git's own files (.git)
  ask   changed           another task that is not integrated changed it: committed on its
                          branch (the path's tree entry at its tip differs from where its own
                          work starts, and from this task's tip), or uncommitted in its
                          worktree (the file differs from its HEAD's: a new, deleted or edited
                          file): a conflict in the making
  ask   owned             in the scope of another task that is not integrated (unless it is in
                          this task's own scope too)
  ask   outside-scope     this task has a scope and the path is not in it
  ok                      nothing against it

PATHs are relative to the current directory when it is in the task's worktree (else to the
worktree's top), or absolute; they need not exist (a new file). The task is --task, else the
one whose worktree contains the current directory. Files in other worktrees are compared as
stored, without running filters (a file that only a clean filter or line-ending conversion
would make equal counts as changed), a symbolic link by its target, mode bits not at all.
check-edit only reads: it writes nothing (not even the index) and runs nothing configured.

Text output is one line per path, `PATH: VERDICT (reasons)`; --json prints
{\"version\": 1, \"task\", \"paths\": [{\"path\", \"verdict\", \"severity\", \"findings\": [{\"verdict\",
\"severity\", \"message\", ...}]}]}. The exit status is 0 when every path is ok, 1 when any
is to ask or deny.

--hook claude makes it Claude Code's PreToolUse hook (`git agent hooks claude` installs it for
Edit, Write, MultiEdit and NotebookEdit): it reads the hook's JSON from standard input, checks
the tool's file_path (notebook_path), and prints permissionDecision \"deny\" or \"ask\" with the
reasons, or nothing when the edit is ok. It always exits 0 and prints nothing when it cannot
decide (no task here, unreadable input): a failing hook must not stop the agent.";

/// For which agent `check-edit --hook` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EditHook {
    /// Claude Code's PreToolUse hook protocol (JSON on stdin and stdout).
    Claude,
}

/// Check paths before a task's agent edits them.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct CheckEditArgs {
    /// The paths to check.
    #[arg(value_name = "PATH", required_unless_present = "hook", conflicts_with = "hook")]
    pub paths: Vec<PathBuf>,

    /// The task (default: the one whose worktree contains the current directory).
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,

    /// Act as the agent's pre-edit hook: read the tool call from standard input, answer in the
    /// agent's permission protocol, always exit 0.
    #[arg(long, value_enum, value_name = "AGENT")]
    pub hook: Option<EditHook>,
}

pub const PATH_ABOUT: &str = "Print a task's worktree path (cd \"$(git agent path TASK)\")";

pub const PATH_LONG_ABOUT: &str = "\
Print the path of a task's worktree on this machine, where git's registrations say it is (after
`git worktree move` too), for `cd \"$(git agent path TASK)\"` and scripts. Without TASK, the
task whose worktree contains the current directory. A task without a worktree here (spawned on
another machine, or its worktree removed) is refused with exit status 3 and a hint.";

/// Print a task's worktree path.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct PathArgs {
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
}

pub const ARCHIVE_ABOUT: &str = "List or drop what prune --force and converge archived (refs/agent/archive)";

pub const ARCHIVE_LONG_ABOUT: &str = "\
List or drop what prune --force and converge archived.

Before `prune --force` removes work that is not merged, it saves it under
refs/agent/archive/<task>/<stamp>/: `branch` (the tip), `head` (a detached HEAD), `index`
(what was staged), `worktree` (uncommitted and untracked files on top of HEAD) and `record`.
Those refs keep the commits alive; `archive list` (the default) shows them with their date
and the command that restores one, `archive drop` deletes them.

Dropping is the one way archived work is lost for good (once git gc prunes the unreachable
commits), so drop needs what to drop: task names, --older-than, or --all; --dry-run shows it.";

/// List or drop archives.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help(), args_conflicts_with_subcommands = true)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    pub action: Option<ArchiveAction>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ArchiveAction {
    /// List archives, oldest first, with the command that restores each (the default).
    List(ArchiveListArgs),
    /// Delete archives: those of the tasks named, those older than --older-than, or --all.
    Drop(ArchiveDropArgs),
}

/// List archives, oldest first, with the command that restores each.
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
pub struct ArchiveListArgs {
    /// Only these tasks' archives.
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
}

/// Delete archives (their refs; git gc later prunes the commits nothing else keeps).
#[derive(Debug, Clone, Args, Default)]
#[command(after_help = exit_status_help())]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(true).args(["tasks", "older_than", "all"])))]
pub struct ArchiveDropArgs {
    /// Only these tasks' archives.
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,

    /// Only archives older than AGE: 30d, 2w, 12h, 45m, a date (2026-11-01) or a relative
    /// one ("2 weeks ago", 2.weeks.ago).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,

    /// Every archive (with TASK or --older-than: every one they select).
    #[arg(long)]
    pub all: bool,

    /// Show what would be dropped; drop nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub const HELP_ABOUT: &str = "Show the manual page of git-agent or of one of its commands";

pub const HELP_LONG_ABOUT: &str = "\
Show a manual page, as `git help` does: `git agent help` shows git-agent(1), `git agent help
COMMAND` shows git-agent-COMMAND(1). On a terminal the page is shown by man(1) when it is
installed (see git agent setup); otherwise, or when stdout is not a terminal, the command's
full --help text is printed instead. An unknown COMMAND is refused with exit status 2.";

/// Show a manual page.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct HelpArgs {
    /// The command whose page to show (default: git-agent(1) itself); a nested one as
    /// `cost add`.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub const OPEN_ABOUT: &str = "Open a task's worktree in your editor (agent.open, $VISUAL or $EDITOR)";

pub const OPEN_LONG_ABOUT: &str = "\
Open a task's worktree in your editor: runs git config agent.open, else $VISUAL, else $EDITOR,
through the shell as git runs its editor, in the worktree and with the worktree's path as its
argument (agent.open = code opens it in VS Code). Without TASK, the task whose worktree contains
the current directory. None of the three set is refused with exit status 2; a task without a
worktree here with exit status 3. The editor's own failure is exit status 1.";

/// Open a task's worktree in your editor.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct OpenArgs {
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
}
pub const SCHEMA_ABOUT: &str = "Print the JSON Schema of a command's --json output";
pub const SCHEMA_LONG_ABOUT: &str = "Print the JSON Schema (draft 2020-12) of a command's --json output, generated from \
the types git-agent serialises. Without COMMAND: the commands that have one, one per line. `error` is the object \
every command prints on stdout instead when it fails under --json: {\"error\": {\"message\", \"causes\", \"hint\", \
\"exit\"}}. The schemas are closed (no field they do not name) and are installed by `git agent setup` into \
$XDG_DATA_HOME/git-agent/schemas/<command>.json.";

/// Print the JSON Schema of a command's --json output.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct SchemaArgs {
    /// The command (`list`, `spawn`, ...), or `error`.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

pub const WATCH_ABOUT: &str = "A live dashboard of the tasks, their conflicts and recent events";

pub const WATCH_LONG_ABOUT: &str = "\
A live dashboard in the terminal: one row per task (state, the agent's status, ahead/behind,
dirty, last commit, cost, as `git agent list` computes them), the conflicts radar (the
pairwise matrix of `git agent conflicts`, recomputed when a branch moves), and the latest
events of every task's log, newest first.

It redraws when refs, task records, worktree indexes or agent logs change (the file system
tells it), or every --interval seconds where the file system cannot be watched, or with
--poll.

Keys: up/down or j/k select a task; Enter or s shows it (`git agent show`); o opens an editor
in its worktree (`git agent open`); a goes to its agent's tmux window (`git agent attach`);
q, Esc or Ctrl-C quits.

--once prints one frame as plain text and exits, for scripts and terminals without a screen
(its width is $COLUMNS, else 100). Without --once, watch needs a terminal.";

/// `git agent watch`.
#[derive(Debug, Clone, Args)]
#[command(after_help = exit_status_help())]
pub struct WatchArgs {
    /// Print one frame as plain text and exit.
    #[arg(long)]
    pub once: bool,

    /// Seconds between redraws when the file system cannot be watched (or with --poll).
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub interval: f64,

    /// Redraw every --interval seconds instead of watching the file system (on a network file
    /// system, changes made on other machines send no notification).
    #[arg(long)]
    pub poll: bool,
}
