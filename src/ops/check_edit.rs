//! The work of `git agent check-edit`: may the task's agent edit these paths? Per path, every
//! finding (outside its scope, another task's scope, protected, a contract, changed by another
//! task, the plan not approved, outside the worktree) and the most severe one as its verdict.
//!
//! It runs before every edit an agent makes, so it is read-only and cheap: per-path tree
//! lookups on each other task's branch (no diffs, no merge-base walks), and a look at the one
//! file in each other task's worktree (no index read, no status walk, no filters run).

use std::path::{Component, Path, PathBuf};

use bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;
use gix::objs::tree::EntryMode;
use serde::Serialize;

use crate::output::JsonPath;
use crate::settings::Settings;
use crate::state::{GateState, TaskRecord, TaskState};

/// What an edit of a path would mean for the orchestrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Nothing against it.
    Ok,
    /// Allowed, but someone should say yes: it may clash with another task's work.
    Ask,
    /// Not allowed.
    Deny,
}

/// Who protects a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProtectedBy {
    /// git config `agent.protected`: no task may change it.
    Config,
    /// The task's own `--protect`.
    Task,
}

/// Where another task changed a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Where {
    /// Committed on its branch.
    Branch,
    /// Uncommitted in its worktree.
    Worktree,
}

/// One finding about a path (JSON: `"verdict": "<kebab-case name>"` and the variant's fields).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    /// The task has a scope, and the path is not in it.
    OutsideScope,
    /// In the scope of another task that is not integrated (the first of its entries that matches).
    Owned {
        task: String,
        pathspec: String,
    },
    Protected {
        pathspec: String,
        by: ProtectedBy,
    },
    Contract {
        pathspec: String,
    },
    /// Another task that is not integrated changed it: a conflict in the making.
    Changed {
        task: String,
        #[serde(rename = "where")]
        where_: Where,
    },
    /// The task's plan is not approved yet; `reason` is why the last plan was rejected (empty: none was).
    Gated {
        reason: String,
    },
    /// Not a path in the task's worktree (`..` out of it, another worktree, git's own files).
    OutsideWorktree,
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::OutsideScope => "outside-scope",
            Verdict::Owned { .. } => "owned",
            Verdict::Protected { .. } => "protected",
            Verdict::Contract { .. } => "contract",
            Verdict::Changed { .. } => "changed",
            Verdict::Gated { .. } => "gated",
            Verdict::OutsideWorktree => "outside-worktree",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Verdict::Ok => Severity::Ok,
            Verdict::OutsideScope | Verdict::Owned { .. } | Verdict::Changed { .. } => Severity::Ask,
            Verdict::Protected { .. } | Verdict::Contract { .. } | Verdict::Gated { .. } | Verdict::OutsideWorktree => {
                Severity::Deny
            }
        }
    }

    /// Order of findings within a severity: the most telling first.
    fn rank(&self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::OutsideScope => 1,
            Verdict::Owned { .. } => 2,
            Verdict::Changed { .. } => 3,
            Verdict::Contract { .. } => 4,
            Verdict::Protected { .. } => 5,
            Verdict::Gated { .. } => 6,
            Verdict::OutsideWorktree => 7,
        }
    }
}

/// A finding with its severity and a sentence for the agent.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub severity: Severity,
    pub message: String,
}

/// One path checked.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PathCheck {
    /// Repository-relative when it is in the worktree, else as given.
    pub path: JsonPath,
    /// The name of the most severe finding (`ok` when there is none).
    pub verdict: &'static str,
    pub severity: Severity,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
}

impl PathCheck {
    /// The findings' messages, for a line of text or a hook's reason.
    pub fn messages(&self) -> String {
        self.findings.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ")
    }
}

/// `git agent check-edit`'s answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub version: u32,
    pub task: String,
    pub paths: Vec<PathCheck>,
}

impl Report {
    pub fn severity(&self) -> Severity {
        self.paths.iter().map(|p| p.severity).max().unwrap_or(Severity::Ok)
    }
}

const OBJECT_CACHE_BYTES: usize = 4 << 20;

/// Checks `paths` (relative to `cwd` when it is in the task's worktree, else to the worktree's
/// top; or absolute) for an edit by the task `record`.
pub fn check(
    repo: &gix::Repository,
    settings: &Settings,
    record: &TaskRecord,
    paths: &[PathBuf],
    cwd: &Path,
) -> anyhow::Result<Report> {
    // The same trees (every task's base, mostly) are looked into again and again.
    let mut repo = repo.clone();
    repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
    let repo = &repo;
    let registrations = crate::ops::prune::normalised_registrations(repo)?;
    let worktree_of = |record: &TaskRecord| {
        crate::ops::prune::registration_among(&registrations, &record.branch, &record.worktree)
            .filter(|(_, r)| !r.missing)
            .and_then(|(path, _)| path.clone())
            .unwrap_or_else(|| crate::git::normalise_path(&record.worktree))
    };
    let own_worktree = worktree_of(record);
    let cwd = crate::git::normalise_path(cwd);
    let base = if cwd.starts_with(&own_worktree) { cwd.as_path() } else { own_worktree.as_path() };
    let resolved: Vec<Result<BString, String>> =
        paths.iter().map(|path| repo_path(&own_worktree, base, path, &record.name)).collect();

    let mut others = Vec::new();
    let mut own_tip = None;
    if resolved.iter().any(Result::is_ok) {
        own_tip = crate::git::ref_target(repo, &record.branch)?.and_then(|tip| tree_of(repo, tip));
        for entry in crate::state::read_tasks(repo)? {
            let Ok(other) = entry.record else { continue };
            if other.name == record.name || !matches!(other.state, TaskState::Active | TaskState::Done) {
                continue;
            }
            let worktree = worktree_of(&other);
            others.push(Other::read(repo, other, worktree, &own_worktree, &registrations)?);
        }
    }
    let paths = paths
        .iter()
        .zip(resolved)
        .map(|(given, path)| match path {
            Ok(path) => {
                let findings = findings(repo, settings, record, own_tip.as_ref(), &others, path.as_ref());
                path_check(JsonPath(path), findings)
            }
            Err(message) => {
                let finding = Finding { verdict: Verdict::OutsideWorktree, severity: Severity::Deny, message };
                let given = gix::path::into_bstr(given.as_path())
                    .map_or_else(|_| given.to_string_lossy().as_bytes().into(), |p| p.into_owned());
                path_check(JsonPath(given), vec![finding])
            }
        })
        .collect();
    Ok(Report { version: 1, task: record.name.clone(), paths })
}

fn path_check(path: JsonPath, mut findings: Vec<Finding>) -> PathCheck {
    findings.sort_by_key(|f| std::cmp::Reverse((f.severity, f.verdict.rank())));
    let (verdict, severity) = findings.first().map_or(("ok", Severity::Ok), |f| (f.verdict.name(), f.severity));
    PathCheck { path, verdict, severity, findings }
}

/// Another task that is not integrated, with what the checks of each path need.
struct Other<'repo> {
    record: TaskRecord,
    /// Its branch's trees at its start and at its tip, when it has commits of its own.
    branch: Option<(gix::Tree<'repo>, gix::Tree<'repo>)>,
    /// Its worktree and the tree of the worktree's HEAD, when the worktree is here.
    worktree: Option<(PathBuf, gix::Tree<'repo>)>,
}

impl<'repo> Other<'repo> {
    fn read(
        repo: &'repo gix::Repository,
        record: TaskRecord,
        worktree: PathBuf,
        own_worktree: &Path,
        registrations: &[(Option<PathBuf>, crate::git::Registration)],
    ) -> anyhow::Result<Other<'repo>> {
        let tip = crate::git::ref_target(repo, &record.branch)?;
        let branch = match (record.start_commit(), tip) {
            (Some(start), Some(tip)) if start != tip => tree_of(repo, start).zip(tree_of(repo, tip)),
            _ => None,
        };
        // The worktree's HEAD as its registration has it (a worktree may have another branch
        // checked out than the task's), else the task's branch.
        let head = registrations
            .iter()
            .find(|(path, _)| path.as_deref() == Some(worktree.as_path()))
            .and_then(|(_, r)| match &r.head {
                crate::git::RegisteredHead::Branch(name) if *name == record.branch => tip,
                crate::git::RegisteredHead::Branch(name) => crate::git::ref_target(repo, name).ok().flatten(),
                crate::git::RegisteredHead::Detached(id) => Some(*id),
                crate::git::RegisteredHead::Unknown => None,
            })
            .or(tip);
        let here = worktree != own_worktree && worktree.is_dir();
        let worktree = head.filter(|_| here).and_then(|head| tree_of(repo, head)).map(|tree| (worktree, tree));
        Ok(Other { record, branch, worktree })
    }
}

fn tree_of(repo: &gix::Repository, commit: ObjectId) -> Option<gix::Tree<'_>> {
    repo.find_commit(commit).ok()?.tree().ok()
}

fn entry(tree: &gix::Tree<'_>, path: &BStr) -> Option<(EntryMode, ObjectId)> {
    crate::git::entry_at(tree, path).ok().flatten()
}

/// Every finding about `path` (repository-relative).
fn findings(
    repo: &gix::Repository,
    settings: &Settings,
    record: &TaskRecord,
    own_tip: Option<&gix::Tree<'_>>,
    others: &[Other<'_>],
    path: &BStr,
) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut add = |verdict: Verdict, message: String| {
        found.push(Finding { severity: verdict.severity(), verdict, message });
    };
    let task = &record.name;
    if let Some(gate) = record.gate.as_ref().filter(|_| record.awaits_approval()) {
        let message = if gate.state == GateState::Proposed {
            format!("task {task}'s plan waits for the orchestrator's approval (`git agent approve`): do not edit yet")
        } else if gate.reason.is_empty() {
            format!(
                "task {task} is gated: propose an implementation plan with `git agent propose` and edit once it is approved"
            )
        } else {
            format!(
                "task {task}'s plan was rejected: {}; propose a revised plan with `git agent propose` and edit once it is approved",
                gate.reason
            )
        };
        add(Verdict::Gated { reason: gate.reason.clone() }, message);
    }
    let matching = |entries: &[String]| -> Option<String> {
        entries.iter().find(|entry| crate::scope::contains(std::slice::from_ref(entry), path)).cloned()
    };
    if let Some(pathspec) = matching(&settings.protected) {
        let message = format!("protected by git config agent.protected ({pathspec}): no task may change it");
        add(Verdict::Protected { pathspec, by: ProtectedBy::Config }, message);
    }
    if let Some(pathspec) = matching(&record.protect) {
        let message = format!("protected for task {task} ({pathspec}): it must not change it");
        add(Verdict::Protected { pathspec, by: ProtectedBy::Task }, message);
    }
    if let Some(pathspec) = matching(&record.contracts) {
        let message = format!("a shared contract ({pathspec}): read-only for every task");
        add(Verdict::Contract { pathspec }, message);
    }
    let in_own_scope = !record.scope.is_empty() && crate::scope::contains(&record.scope, path);
    if !record.scope.is_empty() && !in_own_scope {
        add(Verdict::OutsideScope, format!("outside task {task}'s scope ({})", record.scope.join(", ")));
    }
    for other in others {
        let name = &other.record.name;
        if !other.record.scope.is_empty()
            && !in_own_scope
            && let Some(pathspec) = matching(&other.record.scope)
        {
            let message = format!("in task {name}'s scope ({pathspec})");
            add(Verdict::Owned { task: name.clone(), pathspec }, message);
        }
        // Changed on its branch, unless this task has the same version already (it is stacked
        // on the other's work, say).
        if let Some((start, tip)) = &other.branch {
            let at_tip = entry(tip, path);
            if at_tip != entry(start, path) && own_tip.is_none_or(|own| entry(own, path) != at_tip) {
                let message = format!(
                    "changed on task {name}'s branch {}: a conflict in the making",
                    other.record.short_branch()
                );
                add(Verdict::Changed { task: name.clone(), where_: Where::Branch }, message);
            }
        }
        if let Some((worktree, head)) = &other.worktree
            && let Ok(relative) = gix::path::from_bstr(path)
            && differs_on_disk(repo, &worktree.join(relative), entry(head, path))
        {
            let message = format!("changed, uncommitted, in task {name}'s worktree: a conflict in the making");
            add(Verdict::Changed { task: name.clone(), where_: Where::Worktree }, message);
        }
    }
    found
}

/// Does the file at `file` differ from the tree entry `entry` (its HEAD's)? Compared as git
/// stores it: kind, then size, then the blob hash of the bytes, with no filter run (a file
/// that a clean filter or line-ending conversion would make equal counts as changed); a
/// symbolic link by its target. Mode bits are not compared. Directories and submodules are
/// not files: never changed. What cannot be read is not reported.
fn differs_on_disk(repo: &gix::Repository, file: &Path, entry: Option<(EntryMode, ObjectId)>) -> bool {
    let meta = std::fs::symlink_metadata(file);
    match (entry, meta) {
        (None, Err(_)) => false,
        // A new file (untracked, or ignored).
        (None, Ok(meta)) => !meta.is_dir(),
        (Some((mode, _)), _) if mode.is_tree() || mode.is_commit() => false,
        (Some(_), Err(err)) => err.kind() == std::io::ErrorKind::NotFound,
        (Some((mode, id)), Ok(meta)) if mode.is_link() => {
            if !meta.is_symlink() {
                return true;
            }
            let (Ok(target), Ok(blob)) = (std::fs::read_link(file), repo.find_blob(id)) else { return false };
            gix::path::into_bstr(target.as_path()).is_ok_and(|target| target.as_bytes() != blob.data.as_slice())
        }
        (Some((_, id)), Ok(meta)) => {
            if !meta.is_file() {
                return true;
            }
            match repo.find_header(id) {
                Ok(header) if header.size() != meta.len() => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
            let Ok(data) = std::fs::read(file) else { return false };
            gix::objs::compute_hash(repo.object_hash(), gix::objs::Kind::Blob, &data).is_ok_and(|hash| hash != id)
        }
    }
}

/// The repository-relative path (`/`-separated) of `path` in the task's worktree `worktree`
/// (normalised), taken relative to `base` unless absolute; or why it is not in it. `.` and
/// `..` are resolved as written, before any link; then the directory the file is in is
/// resolved with its links, so a link to a directory elsewhere leads out. The file itself is
/// taken as named (a link is checked, not its target).
fn repo_path(worktree: &Path, base: &Path, path: &Path, task: &str) -> Result<BString, String> {
    let mut cleaned = PathBuf::new();
    for component in base.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                cleaned.pop();
            }
            other => cleaned.push(other),
        }
    }
    let not_in = || format!("not in task {task}'s worktree {}", worktree.display());
    let (Some(dir), Some(name)) = (cleaned.parent(), cleaned.file_name()) else { return Err(not_in()) };
    let full = crate::git::normalise_path(dir).join(name);
    let relative = full.strip_prefix(worktree).map_err(|_| not_in())?;
    if relative.as_os_str().is_empty() {
        return Err(format!("the top of task {task}'s worktree is not a file"));
    }
    if relative.components().any(|c| c.as_os_str() == ".git") {
        return Err("git's own files are no task's to edit".into());
    }
    let relative = gix::path::into_bstr(relative).map_err(|err| format!("the path cannot be a git path: {err}"))?;
    Ok(gix::path::to_unix_separators_on_windows(relative).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_worktree_or_say_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let wt = crate::git::normalise_path(&dir.path().join("wt"));
        std::fs::create_dir_all(wt.join("src")).unwrap();
        let rel = |base: &Path, path: &str| repo_path(&wt, base, Path::new(path), "db");
        assert_eq!(rel(&wt, "src/a.rs").unwrap(), "src/a.rs");
        assert_eq!(rel(&wt.join("src"), "a.rs").unwrap(), "src/a.rs");
        assert_eq!(rel(&wt.join("src"), "../new/dir/b.rs").unwrap(), "new/dir/b.rs");
        assert_eq!(rel(&wt, wt.join("./src/../c.rs").to_str().unwrap()).unwrap(), "c.rs");
        assert!(rel(&wt, "../other/a.rs").unwrap_err().contains("not in task db's worktree"));
        assert!(rel(&wt, "/etc/passwd").is_err());
        assert!(rel(&wt, ".").is_err());
        assert!(rel(&wt, ".git/config").unwrap_err().contains("git's own files"));
        assert!(rel(&wt, "src/.git").is_err());
    }

    #[test]
    fn the_most_severe_finding_is_the_verdict() {
        let finding = |verdict: Verdict| Finding { severity: verdict.severity(), verdict, message: String::new() };
        let check = path_check(
            JsonPath("a".into()),
            vec![
                finding(Verdict::OutsideScope),
                finding(Verdict::Contract { pathspec: "a".into() }),
                finding(Verdict::Changed { task: "x".into(), where_: Where::Branch }),
            ],
        );
        assert_eq!((check.verdict, check.severity), ("contract", Severity::Deny));
        assert_eq!(check.findings[1].verdict.name(), "changed");
        let json = serde_json::to_value(&check).unwrap();
        assert_eq!(json["findings"][1]["where"], "branch");
        assert_eq!(json["findings"][1]["severity"], "ask");
        assert_eq!(path_check(JsonPath("b".into()), Vec::new()).verdict, "ok");
    }
}
