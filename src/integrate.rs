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
use crate::state::TaskRecord;

/// How each task's work is brought onto the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, Default)]
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

/// A rule resolving conflicts confined to matching files (`agent.resolve.<name>.*`).
#[derive(Debug, Clone)]
pub struct ResolveRule {
    pub name: String,
    pub path: String,
    pub run: String,
}

/// What integration needs to know, decided by the command.
pub struct Options {
    pub strategy: Strategy,
    pub test: Option<String>,
    pub test_timeout: Duration,
    pub keep_going: bool,
    pub dry_run: bool,
    pub rules: Vec<ResolveRule>,
    /// Where the scratch worktree goes.
    pub scratch_dir: PathBuf,
}

#[derive(Debug, Serialize, Clone)]
pub struct TestRun {
    pub command: String,
    pub exit: Option<i32>,
    pub duration_ms: u64,
    pub cached: bool,
    pub timed_out: bool,
    /// The end of the test's output, when it failed.
    pub output: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub task: String,
    /// merged, already-integrated, conflict, test-failed, resolved-by-rule, skipped,
    /// would-merge, would-conflict.
    pub status: &'static str,
    pub commit: Option<String>,
    pub tree: Option<String>,
    pub conflicts: Vec<JsonPath>,
    pub rule: Option<String>,
    pub test: Option<TestRun>,
    /// Time spent by git-agent itself on this step (merge, commit, scratch checkout), not the test.
    pub own_ms: u64,
}

#[derive(Debug, Serialize)]
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
    pub integrated: Vec<(String, ObjectId)>,
    pub failed: bool,
    /// JSON notes to record under refs/notes/agent (on step commits and tested trees). They
    /// are written by the caller once it knows the run is not abandoned: a target that moved
    /// meanwhile must leave no trace.
    pub notes: Vec<(ObjectId, serde_json::Value)>,
}

/// Orders `tasks` (in spawn order) by their dependencies. A dependency outside the set must
/// be integrated already (`is_integrated`), else it is an error.
pub fn order(tasks: Vec<TaskRecord>, is_integrated: impl Fn(&str) -> bool) -> anyhow::Result<Vec<TaskRecord>> {
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let index = crate::graph::index_by_name(&names);
    let mut deps = vec![Vec::new(); tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        for dep in &task.after {
            match index.get(dep.as_str()) {
                Some(&d) => deps[i].push(d),
                None if is_integrated(dep) => {}
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
) -> anyhow::Result<Outcome> {
    let mut run = Runner { repo, options, scratch: None, caches: None, notes: Vec::new() };
    let result = run.steps(start, tasks);
    // The scratch worktree goes whatever happened, interruptions included.
    run.remove_scratch();
    result
}

struct Runner<'a> {
    repo: &'a gix::Repository,
    options: &'a Options,
    scratch: Option<PathBuf>,
    caches: Option<MergeCaches>,
    notes: Vec<(ObjectId, serde_json::Value)>,
}

/// How one task's merge came out.
enum Merge {
    Clean(ObjectId),
    Conflict(Vec<ConflictPath>),
}

impl Runner<'_> {
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
        for task in tasks {
            check_interrupted()?;
            if let Some(dep) = task.after.iter().find(|d| failed_tasks.contains(*d)) {
                failed_tasks.insert(task.name.clone());
                outcome.skipped.push(Skipped { task: task.name.clone(), because: dep.clone() });
                outcome.steps.push(step(&task.name, "skipped"));
                continue;
            }
            let tip = crate::git::ref_target(self.repo, &task.branch)?.ok_or_else(|| {
                Fail::new(Exit::Refused, format!("branch {} of task {} is missing", task.short_branch(), task.name))
            })?;
            let step_started = Instant::now();
            if crate::git::merge_base(self.repo, tip, outcome.head)? == Some(tip) {
                outcome.integrated.push((task.name.clone(), outcome.head));
                outcome.steps.push(step(&task.name, "already-integrated"));
                continue;
            }
            if self.recorded_as_integrated(task, outcome.head)? {
                outcome.integrated.push((task.name.clone(), outcome.head));
                outcome.steps.push(step(&task.name, "already-integrated"));
                continue;
            }
            let (mut step, new_head) = self.step(task, outcome.head, tip)?;
            match new_head {
                Some(head) => {
                    let test_time = step.test.as_ref().map_or(0, |t| if t.cached { 0 } else { t.duration_ms });
                    step.own_ms = (step_started.elapsed().as_millis() as u64).saturating_sub(test_time);
                    outcome.head = head;
                    outcome.integrated.push((task.name.clone(), head));
                    outcome.steps.push(step);
                }
                None => {
                    outcome.failed = true;
                    outcome.steps.push(step);
                    if !self.options.keep_going {
                        break;
                    }
                    failed_tasks.insert(task.name.clone());
                }
            }
        }
        outcome.notes = std::mem::take(&mut self.notes);
        Ok(outcome)
    }

    /// Merges one task onto `head`; returns the step and the new head, `None` when it failed.
    fn step(&mut self, task: &TaskRecord, head: ObjectId, tip: ObjectId) -> anyhow::Result<(Step, Option<ObjectId>)> {
        let mut step = step(&task.name, "merged");
        let merged = match self.options.strategy {
            Strategy::Merge | Strategy::Squash => self.merge_tree(head, tip, task)?,
            Strategy::Rebase => self.rebase(head, tip, task)?,
        };
        let tree_or_commit = match merged {
            Merge::Clean(id) => id,
            Merge::Conflict(conflicts) => {
                let paths: Vec<JsonPath> = conflicts.iter().map(|c| c.path.clone()).collect();
                match self.resolve_by_rule(head, tip, task, &conflicts)? {
                    Some((rule, tree)) => {
                        step.status = "resolved-by-rule";
                        step.rule = Some(rule);
                        step.conflicts = paths;
                        tree
                    }
                    None => {
                        step.status = if self.options.dry_run { "would-conflict" } else { "conflict" };
                        step.conflicts = paths;
                        return Ok((step, None));
                    }
                }
            }
        };
        // Nothing new (the work arrived by another way, for example squashed before).
        let head_tree = self.repo.find_commit(head)?.tree_id()?.detach();
        let new_tree = match self.options.strategy {
            Strategy::Rebase if step.status != "resolved-by-rule" => {
                self.repo.find_commit(tree_or_commit)?.tree_id()?.detach()
            }
            _ => tree_or_commit,
        };
        if new_tree == head_tree && step.status == "merged" {
            step.status = "already-integrated";
            return Ok((step, Some(head)));
        }
        // Rebase produced a commit already; merge and squash produced a tree.
        let commit = match self.options.strategy {
            Strategy::Rebase if step.status != "resolved-by-rule" => tree_or_commit,
            Strategy::Merge => self.commit(
                tree_or_commit,
                &[head, tip],
                &format!("Merge task {} ({})\n", task.name, task.short_branch()),
            )?,
            _ => self.commit(tree_or_commit, &[head], &squash_message(task))?,
        };
        let tree = self.repo.find_commit(commit)?.tree_id()?.detach();
        step.commit = Some(commit.to_string());
        step.tree = Some(tree.to_string());
        if self.options.dry_run {
            step.status = "would-merge";
            return Ok((step, Some(commit)));
        }
        if let Some(command) = self.options.test.clone() {
            let test = self.test(task, commit, tree, &command)?;
            let passed = test.exit == Some(0);
            step.test = Some(test);
            if !passed {
                step.status = "test-failed";
                self.note_step(task, commit, tree, &step)?;
                return Ok((step, None));
            }
        }
        self.note_step(task, commit, tree, &step)?;
        Ok((step, Some(commit)))
    }

    /// Rebased and squashed tasks leave no trace of their tip in the target: their record's
    /// integration commit does.
    fn recorded_as_integrated(&self, task: &TaskRecord, head: ObjectId) -> anyhow::Result<bool> {
        let Some(commit) = task.integrated_commit.as_deref().and_then(|hex| ObjectId::from_hex(hex.as_bytes()).ok())
        else {
            return Ok(false);
        };
        Ok(self.repo.has_object(commit) && crate::git::merge_base(self.repo, commit, head)? == Some(commit))
    }

    fn caches(&mut self) -> anyhow::Result<&mut MergeCaches> {
        if self.caches.is_none() {
            let mut caches = MergeCaches::new(self.repo)?;
            caches.write_clean_trees = true;
            self.caches = Some(caches);
        }
        Ok(self.caches.as_mut().expect("just set"))
    }

    /// The three-way merge of `tip` into `head`: its tree, or the conflicts (as git reports them).
    fn merge_tree(&mut self, head: ObjectId, tip: ObjectId, task: &TaskRecord) -> anyhow::Result<Merge> {
        let repo = self.repo;
        let merged = self.caches()?.merge(repo, head, tip, "HEAD", task.short_branch(), false)?;
        Ok(match merged.tree {
            Some(tree) if merged.conflicts.is_empty() => Merge::Clean(tree),
            _ => Merge::Conflict(merged.conflicts),
        })
    }

    /// Replays the task's commits (oldest first, merges left out) onto `head`; the new tip.
    fn rebase(&mut self, head: ObjectId, tip: ObjectId, task: &TaskRecord) -> anyhow::Result<Merge> {
        let repo = self.repo;
        let mut commits = Vec::new();
        for info in repo.rev_walk([tip]).with_hidden([head]).all()? {
            let info = info?;
            if info.parent_ids.len() == 1 {
                commits.push(info.id);
            }
        }
        commits.reverse();
        let mut current = head;
        for id in commits {
            let commit = repo.find_commit(id)?;
            let parent = commit.parent_ids().next().expect("one parent").detach();
            let base_tree = repo.find_commit(parent)?.tree_id()?.detach();
            let ours_tree = repo.find_commit(current)?.tree_id()?.detach();
            let theirs_tree = commit.tree_id()?.detach();
            let labels = gix::merge::blob::builtin_driver::text::Labels {
                ancestor: Some("parent".into()),
                current: Some("HEAD".into()),
                other: Some(task.short_branch().into()),
            };
            let mut outcome =
                repo.merge_trees(base_tree, ours_tree, theirs_tree, labels, repo.tree_merge_options()?)?;
            let how = gix::merge::tree::TreatAsUnresolved::git();
            if outcome.conflicts.iter().any(|c| c.is_unresolved(how)) {
                let mut paths: Vec<BStringPath> = outcome
                    .conflicts
                    .iter()
                    .filter(|c| c.is_unresolved(how))
                    .map(|c| c.ours.location().to_owned())
                    .collect();
                paths.sort();
                paths.dedup();
                return Ok(Merge::Conflict(
                    paths
                        .into_iter()
                        .map(|p| ConflictPath { path: JsonPath(p), kind: crate::conflicts::ConflictKind::Content })
                        .collect(),
                ));
            }
            let tree = outcome.tree.write()?.detach();
            let decoded = commit.decode()?;
            let author = decoded.author()?.to_owned()?;
            let message = decoded.message.to_owned();
            current = self.commit_as(tree, &[current], message, author)?;
        }
        Ok(Merge::Clean(current))
    }

    fn commit(&self, tree: ObjectId, parents: &[ObjectId], message: &str) -> anyhow::Result<ObjectId> {
        let author = crate::git::signature(self.repo)?;
        self.commit_as(tree, parents, message.into(), author)
    }

    fn commit_as(
        &self,
        tree: ObjectId,
        parents: &[ObjectId],
        message: bstr::BString,
        author: gix::actor::Signature,
    ) -> anyhow::Result<ObjectId> {
        let commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author,
            committer: crate::git::signature(self.repo)?,
            encoding: None,
            message,
            extra_headers: Vec::new(),
        };
        Ok(self.repo.write_object(&commit)?.detach())
    }

    /// A conflict confined to files a rule matches: take the target's side of them, run the
    /// rule's command in the scratch worktree, and take its result. Returns the rule and the
    /// resolved tree (or, for rebase, the resolved commit).
    fn resolve_by_rule(
        &mut self,
        head: ObjectId,
        tip: ObjectId,
        task: &TaskRecord,
        conflicts: &[ConflictPath],
    ) -> anyhow::Result<Option<(String, ObjectId)>> {
        let Some(rule) = self
            .options
            .rules
            .iter()
            .find(|rule| {
                conflicts.iter().all(|c| crate::scope::contains(std::slice::from_ref(&rule.path), c.path.0.as_ref()))
            })
            .cloned()
        else {
            return Ok(None);
        };
        if self.options.dry_run {
            return Ok(Some((rule.name, head)));
        }
        // Everything but the conflicted files merged as usual; the conflicted ones from the target.
        let repo = self.repo;
        let head_tree = repo.find_commit(head)?.tree_id()?.detach();
        let tip_tree = repo.find_commit(tip)?.tree_id()?.detach();
        let base = crate::git::merge_base(repo, head, tip)?.context("no merge base")?;
        let base_tree = repo.find_commit(base)?.tree_id()?.detach();
        // Start from the task's tree, put the target's version of the conflicted files in, and
        // apply the target's other changes by a merge that now cannot conflict on those files.
        let mut editor = repo.edit_tree(tip_tree)?;
        for conflict in conflicts {
            let path = conflict.path.0.as_bstr();
            let head_tree_obj = repo.find_tree(head_tree)?;
            match head_tree_obj.lookup_entry_by_path(gix::path::from_bstr(path)?)? {
                Some(entry) => {
                    editor.upsert(path, entry.mode().kind(), entry.object_id())?;
                }
                None => {
                    editor.remove(path)?;
                }
            }
        }
        let adjusted_tip_tree = editor.write()?.detach();
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: None,
            current: Some("HEAD".into()),
            other: Some(task.short_branch().into()),
        };
        let mut outcome =
            repo.merge_trees(base_tree, head_tree, adjusted_tip_tree, labels, repo.tree_merge_options()?)?;
        if outcome.conflicts.iter().any(|c| c.is_unresolved(gix::merge::tree::TreatAsUnresolved::git())) {
            return Ok(None);
        }
        let provisional_tree = outcome.tree.write()?.detach();
        let provisional = self.commit(provisional_tree, &[head], "git-agent: provisional resolution\n")?;
        let scratch = self.scratch_at(provisional)?;
        let outcome = crate::process::Run::shell(&rule.run, &scratch)
            .timeout(Some(self.options.test_timeout))
            .run()
            .with_context(|| format!("cannot run agent.resolve.{}.run", rule.name))?;
        check_interrupted()?;
        if !outcome.status.success() {
            return Err(anyhow!(
                "agent.resolve.{}.run {:?} failed ({}): {}",
                rule.name,
                rule.run,
                outcome.status,
                outcome.output_tail_lossy().trim()
            ));
        }
        // Take the command's result for the files the rule covers.
        let mut editor = repo.edit_tree(provisional_tree)?;
        for conflict in conflicts {
            let path = conflict.path.0.as_bstr();
            let file = scratch.join(gix::path::from_bstr(path)?);
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let blob = repo.write_blob(bytes)?.detach();
                    editor.upsert(path, gix::objs::tree::EntryKind::Blob, blob)?;
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    editor.remove(path)?;
                }
                Err(err) => return Err(anyhow!(err).context(format!("cannot read {}", file.display()))),
            }
        }
        let tree = editor.write()?.detach();
        let resolved = match self.options.strategy {
            Strategy::Rebase => self.commit(tree, &[head], &squash_message(task))?,
            _ => tree,
        };
        Ok(Some((rule.name, resolved)))
    }

    /// The scratch worktree, created on first use, checked out at `commit`.
    fn scratch_at(&mut self, commit: ObjectId) -> anyhow::Result<PathBuf> {
        match &self.scratch {
            Some(path) => {
                // Untracked build output stays between steps: only tracked files change. A
                // two-tree read-tree touches only the paths that differ; `checkout --force`
                // would re-read every file of a young (racily clean) index. If the test left
                // tracked files modified, read-tree refuses and the forced checkout takes over.
                let new = commit.to_string();
                let moved = crate::process::run_git(path, &["read-tree", "-m", "-u", "HEAD", &new])
                    .and_then(|_| crate::process::run_git(path, &["update-ref", "--no-deref", "HEAD", &new]));
                if moved.is_err() {
                    crate::process::run_git(path, &["checkout", "-q", "--detach", "--force", &new])?;
                }
            }
            None => {
                let path =
                    self.options.scratch_dir.join(format!("{}{}", crate::layout::SCRATCH_PREFIX, std::process::id()));
                std::fs::create_dir_all(&self.options.scratch_dir)
                    .with_context(|| format!("cannot create {}", self.options.scratch_dir.display()))?;
                crate::git::add_detached_worktree(self.repo, &path, commit, crate::interrupt::flag())?;
                self.scratch = Some(path);
            }
        }
        Ok(self.scratch.clone().expect("set above"))
    }

    fn remove_scratch(&mut self) {
        if let Some(path) = self.scratch.take()
            && let Err(err) = crate::git::remove_created_worktree(self.repo, &path)
        {
            eprintln!("warning: could not remove the scratch worktree {}: {err:#}", path.display());
        }
    }

    /// Tests `commit` in the scratch worktree, unless its tree passed the same command before.
    fn test(&mut self, task: &TaskRecord, commit: ObjectId, tree: ObjectId, command: &str) -> anyhow::Result<TestRun> {
        if let Some(previous) = self.passed_before(tree, command)? {
            return Ok(TestRun { cached: true, ..previous });
        }
        let scratch = self.scratch_at(commit)?;
        let run = run_test(&scratch, command, self.options.test_timeout)?;
        let note = serde_json::json!({
            "task": task.name, "command": command, "tree": tree.to_string(), "commit": commit.to_string(),
            "exit": run.exit, "duration_ms": run.duration_ms, "timed_out": run.timed_out,
            "status": if run.exit == Some(0) { "passed" } else { "failed" },
        });
        self.notes.push((tree, note));
        Ok(run)
    }

    /// A passing result of `command` on `tree`, recorded in refs/notes/agent.
    fn passed_before(&self, tree: ObjectId, command: &str) -> anyhow::Result<Option<TestRun>> {
        let mut notes = self.repo.notes()?.with_refs([crate::layout::NOTES_REF])?;
        for note in notes.get(tree)? {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(&note.blob.data) else { continue };
            if value["command"] == command && value["exit"] == 0 {
                return Ok(Some(TestRun {
                    command: command.to_owned(),
                    exit: Some(0),
                    duration_ms: value["duration_ms"].as_u64().unwrap_or(0),
                    cached: true,
                    timed_out: false,
                    output: None,
                }));
            }
        }
        Ok(None)
    }

    /// The step's outcome as a JSON note on its commit (written later, see [`Outcome::notes`]).
    fn note_step(&mut self, task: &TaskRecord, commit: ObjectId, tree: ObjectId, step: &Step) -> anyhow::Result<()> {
        let note = serde_json::json!({
            "task": task.name, "commit": commit.to_string(), "tree": tree.to_string(), "status": step.status,
            "command": step.test.as_ref().map(|t| t.command.clone()),
            "exit": step.test.as_ref().and_then(|t| t.exit),
            "duration_ms": step.test.as_ref().map(|t| t.duration_ms),
            "rule": step.rule,
        });
        self.notes.push((commit, note));
        Ok(())
    }
}

/// Records `notes` under refs/notes/agent, one notes commit each (as `git notes add` would).
pub fn write_notes(repo: &gix::Repository, notes: &[(ObjectId, serde_json::Value)]) -> anyhow::Result<()> {
    for (object, note) in notes {
        let what = note["task"].as_str().unwrap_or("integration");
        repo.notes()?
            .with_commit_message(format!("git-agent: integrate {what}"))
            .replace(crate::layout::NOTES_NAME, *object, note.to_string() + "\n")
            .context("cannot record the integration results in refs/notes/agent")?;
    }
    Ok(())
}

type BStringPath = bstr::BString;

fn step(task: &str, status: &'static str) -> Step {
    Step {
        task: task.to_owned(),
        status,
        commit: None,
        tree: None,
        conflicts: Vec::new(),
        rule: None,
        test: None,
        own_ms: 0,
    }
}

fn squash_message(task: &TaskRecord) -> String {
    let first = task.brief.lines().find(|l| !l.trim().is_empty()).unwrap_or("squashed");
    format!("task {}: {}\n", task.name, first.trim())
}

fn check_interrupted() -> anyhow::Result<()> {
    crate::interrupt::check("the target is unchanged")
}

/// Runs the user's test command through the shell in `dir`, in its own process group, killing
/// the whole group on timeout or interruption. The end of its output is returned on failure.
fn run_test(dir: &Path, command: &str, timeout: Duration) -> anyhow::Result<TestRun> {
    let started = Instant::now();
    let outcome = crate::process::Run::shell(command, dir)
        .timeout(Some(timeout))
        .capture(crate::process::Capture::Tail(TEST_OUTPUT_TAIL))
        .run()
        .with_context(|| format!("cannot run the test command {command:?}"))?;
    check_interrupted()?;
    let exit = outcome.status.code();
    let failed = exit != Some(0);
    Ok(TestRun {
        command: command.to_owned(),
        exit,
        duration_ms: started.elapsed().as_millis() as u64,
        cached: false,
        timed_out: outcome.status == crate::process::Status::TimedOut,
        output: failed.then(|| outcome.output_tail_lossy()),
    })
}

/// How much of a failing test's output is kept (in the report and the notes).
const TEST_OUTPUT_TAIL: usize = 4000;
