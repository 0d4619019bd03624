//! One module per command. Each has a `run` that takes its parsed arguments, calls the
//! logic, and renders the result as text or JSON.

pub mod conflicts;
pub mod demo;
pub mod dispatch;
pub mod done;
pub mod integrate;
pub mod list;
pub mod prune;
pub mod setup;
pub mod show;
pub mod spawn;

use std::path::PathBuf;

use clap::Parser;

use crate::cli::{AgentCli, AgentCommand, ConflictsCli, IntegrateCli, PruneCli, SpawnCli};
use crate::error::{Exit, bad_input, refused};
use crate::output::{GlobalArgs, Ui, report_error};
use crate::settings::Settings;
use crate::state::{self, TaskEntry, TaskRecord};

/// `git-agent`: the umbrella. Returns the process exit code.
pub fn git_agent_main() -> i32 {
    let cli = AgentCli::parse();
    let ui = Ui::new(&cli.global);
    if cli.command.as_ref().is_some_and(handles_signals) {
        crate::interrupt::install();
    }
    let result = match cli.command {
        None => dispatch::overview(&ui),
        Some(AgentCommand::Spawn(args)) => spawn::run(&cli.global, &ui, args),
        Some(AgentCommand::List(args)) => list::run(&cli.global, &ui, args),
        Some(AgentCommand::Conflicts(args)) => conflicts::run(&cli.global, &ui, args),
        Some(AgentCommand::Integrate(args)) => integrate::run(&cli.global, &ui, args),
        Some(AgentCommand::Prune(args)) => prune::run(&cli.global, &ui, args),
        Some(AgentCommand::Show(args)) => show::run(&cli.global, &ui, args),
        Some(AgentCommand::Done(args)) => done::run(&cli.global, &ui, args),
        Some(AgentCommand::Setup(args)) => setup::run(&ui, args),
        Some(AgentCommand::Demo(args)) => demo::run(&ui, args),
        Some(AgentCommand::External(args)) => dispatch::external(&cli.global, args),
    };
    finish(result)
}

/// The umbrella's commands that write, and external sub-commands (the umbrella waits for them
/// and passes their status on, as git does for `git agent`): a signal is recorded, never fatal.
fn handles_signals(command: &AgentCommand) -> bool {
    matches!(
        command,
        AgentCommand::Spawn(_)
            | AgentCommand::Integrate(_)
            | AgentCommand::Prune(_)
            | AgentCommand::Done(_)
            | AgentCommand::External(_)
    )
}

/// `git-agent-spawn`.
pub fn git_agent_spawn_main() -> i32 {
    crate::interrupt::install();
    let cli = SpawnCli::parse();
    let ui = Ui::new(&cli.global);
    finish(spawn::run(&cli.global, &ui, cli.spawn))
}

/// `git-agent-conflicts`.
pub fn git_agent_conflicts_main() -> i32 {
    let cli = ConflictsCli::parse();
    let ui = Ui::new(&cli.global);
    finish(conflicts::run(&cli.global, &ui, cli.conflicts))
}

/// `git-agent-integrate`.
pub fn git_agent_integrate_main() -> i32 {
    crate::interrupt::install();
    let cli = IntegrateCli::parse();
    let ui = Ui::new(&cli.global);
    finish(integrate::run(&cli.global, &ui, cli.integrate))
}

/// `git-agent-prune`.
pub fn git_agent_prune_main() -> i32 {
    crate::interrupt::install();
    let cli = PruneCli::parse();
    let ui = Ui::new(&cli.global);
    finish(prune::run(&cli.global, &ui, cli.prune))
}

/// The exit code: the command's, or 130 / 143 once a signal arrived (whatever the command had
/// finished by then, it reported).
fn finish(result: anyhow::Result<Exit>) -> i32 {
    let code = match result {
        Ok(exit) => exit.code(),
        Err(err) => report_error(&err),
    };
    crate::interrupt::exit_code().unwrap_or(code)
}

/// What most commands need: the repository, seen from wherever the user stands, and the settings.
pub struct Context {
    pub repo: gix::Repository,
    pub settings: Settings,
}

impl Context {
    pub fn open(global: &GlobalArgs) -> anyhow::Result<Context> {
        let repo = crate::git::open(global.directory.as_deref())?;
        let settings = Settings::read(&repo)?;
        Ok(Context { repo, settings })
    }

    /// Where task worktrees go: see [`crate::layout::worktree_root`].
    pub fn worktree_root(&self) -> anyhow::Result<PathBuf> {
        crate::layout::worktree_root(&self.repo, self.settings.worktree_root.as_deref())
    }

    /// The base for new tasks when none is given: `agent.base`, else the branch checked out
    /// in the main worktree (or HEAD's branch in a bare repository).
    pub fn default_base(&self) -> anyhow::Result<String> {
        if let Some(base) = &self.settings.base {
            return Ok(base.clone());
        }
        let main = crate::git::main_repo(&self.repo)?;
        match crate::git::head_branch(&main)? {
            Some(name) => Ok(name.shorten().to_string()),
            None => Err(bad_input("the main worktree's HEAD is detached, so there is no default base branch")
                .hint("pass --base <branch>, or set git config agent.base")
                .into()),
        }
    }

    /// The task whose worktree we are in: by the checked-out branch, else by the path.
    pub fn current_task(&self) -> anyhow::Result<String> {
        let tasks = state::read_tasks(&self.repo)?;
        let branch = crate::git::head_branch(&self.repo)?.map(|b| b.as_bstr().to_string());
        let workdir = self.repo.workdir().map(crate::git::normalise_path);
        for entry in &tasks {
            if let Ok(record) = &entry.record {
                let by_branch = branch.as_deref() == Some(record.branch.as_str());
                let by_path = workdir.as_deref() == Some(crate::git::normalise_path(&record.worktree).as_path());
                if by_branch || by_path {
                    return Ok(entry.name.clone());
                }
            }
        }
        Err(bad_input("no task given, and the current directory is not in a task's worktree")
            .hint("name the task, for example `git agent show db`; `git agent list` shows them")
            .into())
    }

    /// A task's readable record; unknown and corrupt tasks are errors that say so.
    pub fn task(&self, name: &str) -> anyhow::Result<(TaskEntry, TaskRecord)> {
        crate::names::validate_task_name(name)?;
        let Some(mut entry) = state::find_task(&self.repo, name)? else {
            return Err(bad_input(format!("no task named {name:?}")).hint("`git agent list` shows the tasks").into());
        };
        let record = std::mem::replace(&mut entry.record, Err(String::new()))
            .map_err(|why| refused(format!("the record of task {name:?} is corrupt: {why}")))?;
        entry.record = Ok(record.clone());
        Ok((entry, record))
    }

    /// The task named, or the one whose worktree we are in.
    pub fn task_or_current(&self, name: Option<&str>) -> anyhow::Result<(TaskEntry, TaskRecord)> {
        match name {
            Some(name) => self.task(name),
            None => self.task(&self.current_task()?),
        }
    }
}
