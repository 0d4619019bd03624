//! The work of each command, apart from parsing and rendering: operations take a request and
//! return data (report structs and enums); they never print.

pub mod archive;
pub mod background;
pub mod check_edit;
pub mod checkpoint;
pub mod compare;
pub mod conflicts;
pub mod converge;
pub mod cost;
pub mod gate;
pub mod handoff;
pub mod join;
pub mod list;
pub mod open;
pub mod prune;
pub mod restack;
pub mod spawn;
pub mod status;
pub mod sync;
pub mod watch;
pub mod worktree_files;

use std::path::PathBuf;

use crate::error::{bad_input, refused};
use crate::output::GlobalArgs;
use crate::settings::Settings;
use crate::state::{self, TaskEntry, TaskRecord};

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

    /// prune's options from the settings, for no task yet (callers set what they ask for).
    pub fn prune_options(&self) -> anyhow::Result<prune::Options> {
        let main_worktree = crate::git::main_repo(&self.repo)?.workdir().map(ToOwned::to_owned);
        Ok(prune::Options {
            branch_prefix: self.settings.branch_prefix.clone(),
            copy: self.settings.copy.clone(),
            worktree_root: self.worktree_root()?,
            disposable: self.settings.disposable.clone(),
            link: self.settings.link.clone(),
            include: match &main_worktree {
                Some(top) => worktree_files::Include::read(top)?,
                None => None,
            },
            main_worktree,
            ..Default::default()
        })
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
        Ok(self.current_entry()?.name)
    }

    /// The entry of the task whose worktree we are in (its record readable).
    fn current_entry(&self) -> anyhow::Result<TaskEntry> {
        let branch = crate::git::head_branch(&self.repo)?.map(|b| b.as_bstr().to_string());
        let workdir = self.repo.workdir().map(crate::git::normalise_path);
        let is_current = |record: &TaskRecord| {
            let by_branch = branch.as_deref() == Some(record.branch.as_str());
            let by_path = workdir.as_deref() == Some(crate::git::normalise_path(&record.worktree).as_path());
            by_branch || by_path
        };
        // First the task the branch or the worktree's folder is named after, alone: an agent's
        // hook runs this on every turn, and reading every record costs a lot with many tasks.
        let prefix = format!("refs/heads/{}", self.settings.branch_prefix);
        let by_branch = branch.as_deref().and_then(|b| b.strip_prefix(prefix.as_str()));
        let by_folder = workdir.as_deref().and_then(|w| w.file_name()).and_then(|n| n.to_str());
        for name in by_branch.into_iter().chain(by_folder) {
            if crate::names::validate_task_name(name).is_ok()
                && let Some(entry) = state::find_task(&self.repo, name)?
                && entry.record.as_ref().is_ok_and(&is_current)
            {
                return Ok(entry);
            }
        }
        // A worktree moved elsewhere, with its branch renamed: the same test on every record.
        for entry in state::read_tasks(&self.repo)? {
            if entry.record.as_ref().is_ok_and(&is_current) {
                return Ok(entry);
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

    /// Who commits git-agent writes on the user's branches are by (spawn's merge of several
    /// dependencies, restack's replayed commits): `agent.identity`, else the user's committer
    /// identity; like git, no identity is refused (exit 3). integrate too, whose dry run
    /// falls back to git-agent's own identity (its commits stay in memory).
    pub fn commit_identity(&self, why: &str) -> anyhow::Result<gix::actor::Signature> {
        let repo = &self.repo;
        if let Some(id) = &self.settings.identity {
            let time = crate::git::signature(repo)?.time;
            return Ok(gix::actor::Signature { name: id.name.as_str().into(), email: id.email.as_str().into(), time });
        }
        if let Some(signature) = crate::git::user_committer(repo)? {
            return Ok(signature);
        }
        Err(refused(format!(
            "Committer identity unknown: {why} would write commits on your branches without knowing who you are"
        ))
        .hint(
            "tell git who you are: git config --global user.name \"Your Name\" and \
                 git config --global user.email you@example.com; or set git config agent.identity \"Name <email>\"",
        )
        .into())
    }

    /// The task named, or the one whose worktree we are in.
    pub fn task_or_current(&self, name: Option<&str>) -> anyhow::Result<(TaskEntry, TaskRecord)> {
        match name {
            Some(name) => self.task(name),
            None => {
                // Read once: the entry found is readable (only a readable record can be current).
                let entry = self.current_entry()?;
                let record = entry.record.as_ref().map_err(|why| anyhow::anyhow!("{why}"))?.clone();
                Ok((entry, record))
            }
        }
    }
}
