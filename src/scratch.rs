//! Integrate's scratch worktrees, kept between runs so that warm build caches survive: "slots".
//!
//! Slot `i` of a target branch lives at `<worktree root>/.integrate/<slug>-<i>` (names in
//! [`crate::layout`]), a linked worktree of the repository with a detached HEAD. It is created
//! on first use, prepared once (agent.copy files from the main worktree, then agent.testSetup,
//! else agent.setup), and afterwards only moved from commit to commit with a two-tree
//! `read-tree`, which touches the paths that differ and leaves untracked build output alone.
//!
//! Ownership. A slot is git-agent's only if it is registered as a worktree of this repository
//! at exactly its path, its registration holds git-agent's marker file for that target and
//! index, its HEAD is detached, it is not locked with `git worktree lock`, and no merge, rebase,
//! cherry-pick or bisect is in progress in it. Anything else at a slot's path is the user's:
//! taking that slot is refused (exit 3) and nothing there is touched.
//!
//! Concurrency. Each taken slot is held under its lock file (`<common dir>/agent-slots/`, see
//! [`crate::lock`]: owner pid, host and start time), from the check of its directory to the
//! [`Slot`]'s drop. Another integrate into the same target skips held slots and takes the next
//! free index; a lock whose owner is provably gone (`kill -9`) is taken over, and the slot is
//! checked again like any other before it is used. Everything this module does to a slot
//! happens under its lock, so there is no window between the check and the act for another
//! git-agent; a pause point (`scratch-slot-locked`) lets tests hold a slot there.
//!
//! Operations here return data and report progress as [`Event`]s; they never print.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use gix::ObjectId;
use serde::Serialize;

use crate::error::{Exit, Fail, race, refused};
use crate::git::{RegisteredHead, Registration};
use crate::lock::{Busy, Lock};

/// What a slot lock's owner is doing, as lock files and errors name it.
pub const LOCK_PURPOSE: &str = "integrate-slot";

/// How many slots one target may have. Beyond that, every index being held means that many
/// integrates run at once, which is a mistake, not a queue.
pub const MAX_SLOTS: usize = 64;

/// A configured command and where it was configured (shown before it runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupCommand {
    /// `agent.testSetup` or `agent.setup`.
    pub key: String,
    pub command: String,
    /// Where it was configured, as [`crate::settings::Origin`] displays it.
    pub origin: String,
}

/// What a fresh slot needs before its first test: the `agent.copy` files from the main
/// worktree, then `agent.testSetup` (else `agent.setup`) run once, announced by
/// [`Event::SetupStarting`] before it runs.
#[derive(Debug, Clone, Default)]
pub struct Prepare {
    /// `agent.copy` globs.
    pub copy: Vec<String>,
    pub setup: Option<SetupCommand>,
    /// The worktree the copy files come from (the main worktree); `None` copies nothing.
    pub source: Option<PathBuf>,
}

impl Prepare {
    /// From the settings: `agent.copy` from the main worktree, `agent.testSetup` else `agent.setup`.
    pub fn from_settings(repo: &gix::Repository, settings: &crate::settings::Settings) -> anyhow::Result<Prepare> {
        use crate::layout::key;
        let setup = [(key::TEST_SETUP, &settings.test_setup), (key::SETUP, &settings.setup)].into_iter().find_map(
            |(key, value)| {
                value.as_ref().map(|command| SetupCommand {
                    key: key.to_owned(),
                    command: command.clone(),
                    origin: settings.origin(key).map_or_else(|| "an unknown place".to_owned(), |o| o.to_string()),
                })
            },
        );
        let source = crate::git::main_repo(repo)?.workdir().map(crate::git::normalise_path);
        Ok(Prepare { copy: settings.copy.clone(), setup, source })
    }

    /// What a prepared slot was prepared with: when this changes, the slot is prepared again.
    fn fingerprint(&self) -> String {
        serde_json::json!({ "copy": self.copy, "setup": self.setup.as_ref().map(|s| &s.command) }).to_string()
    }
}

/// What happens while slots are taken, as it happens (for the command to print on stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A new slot worktree was created at `path`.
    Created {
        index: usize,
        path: PathBuf,
    },
    /// The slot's lock was held by a process that is gone (killed); it was taken over and the
    /// slot checked again.
    Recovered {
        index: usize,
        path: PathBuf,
        owner: String,
    },
    /// A slot whose owner is gone still has processes working in it (the tests of a killed
    /// run): it is left to them, and the next index is taken.
    StillInUse {
        index: usize,
        path: PathBuf,
        pids: Vec<u32>,
    },
    /// A slot a killed run left half created was removed, to be created again.
    RemovedHalfCreated {
        index: usize,
        path: PathBuf,
    },
    /// `agent.copy` files copied from the main worktree into the slot.
    Copied {
        index: usize,
        files: Vec<String>,
    },
    /// The setup command is about to run in the slot (printed before it runs: it is a command
    /// from the configuration).
    SetupStarting {
        index: usize,
        path: PathBuf,
        key: String,
        command: String,
        origin: String,
    },
    SetupFinished {
        index: usize,
        duration_ms: u64,
    },
}

impl std::fmt::Display for Event {
    /// The status line a command prints for the event (on stderr).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Created { index, path } => write!(f, "created integrate slot {index} at {}", path.display()),
            Event::Recovered { index, path, owner } => {
                write!(f, "took over integrate slot {index} ({}) from {owner}, which is gone", path.display())
            }
            Event::StillInUse { index, path, pids } => write!(
                f,
                "integrate slot {index} ({}) is still in use by process(es) {pids:?} of a run that is gone: \
                 taking the next one",
                path.display()
            ),
            Event::RemovedHalfCreated { index, path } => {
                write!(f, "removed the half-created integrate slot {index} ({}) to create it again", path.display())
            }
            Event::Copied { index, files } => write!(f, "copied into slot {index}: {}", files.join(", ")),
            Event::SetupStarting { index, key, command, origin, .. } => {
                write!(f, "running {key} from {origin} in slot {index}: {command}")
            }
            Event::SetupFinished { index, duration_ms } => {
                write!(f, "setup of slot {index} done in {:.1} s", *duration_ms as f64 / 1000.0)
            }
        }
    }
}

/// A slot held by this process: its worktree, its lock, and a port for its tests. Dropping it
/// releases the lock and keeps the worktree for the next run.
#[derive(Debug)]
pub struct Slot {
    path: PathBuf,
    index: usize,
    port: u16,
    target: String,
    _lock: Lock,
}

impl Slot {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// A TCP port on 127.0.0.1 that was free when the slot was taken (`GIT_AGENT_PORT`), so
    /// that test servers of parallel slots do not collide.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The target branch (full ref name) the slot is for.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Brings the slot's tracked files, index and detached HEAD to `commit`; untracked files
    /// (build output) stay. A two-tree `read-tree -m -u` touches only the paths that differ (a
    /// `checkout --force` would re-read every file of a young, racily clean index). It would
    /// also keep a change the last test made to a tracked file that both commits have alike,
    /// and the next test would see a tree that is not the commit's: so when `status` shows any
    /// change to tracked files, or read-tree refuses (an untracked file in the way of a new
    /// tracked one), a forced detached checkout is used instead. HEAD is written with
    /// `--no-deref`: should a test have checked out a branch here, the branch does not move.
    pub fn checkout(&mut self, commit: ObjectId) -> anyhow::Result<()> {
        let new = commit.to_string();
        let dir = self.path.as_path();
        let clean =
            crate::process::run_git(dir, &["status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all"])
                .is_ok_and(|changes| changes.is_empty());
        let moved = if clean {
            crate::process::run_git(dir, &["read-tree", "-m", "-u", "HEAD", &new])
                .and_then(|_| crate::process::run_git(dir, &["update-ref", "--no-deref", "HEAD", &new]))
                .is_ok()
        } else {
            false
        };
        if !moved {
            crate::process::run_git(dir, &["checkout", "-q", "--detach", "--force", &new])
                .with_context(|| format!("cannot check out {} in {}", crate::git::short_id(&commit), dir.display()))?;
        }
        Ok(())
    }
}

/// The environment of a test run in `slot`, step `step` (1-based) of `steps`:
/// `GIT_AGENT_STEP` and `GIT_AGENT_STEPS` (two numbers, so a script compares them without
/// parsing), `GIT_AGENT_TASK`, `GIT_AGENT_TARGET` (the short branch name), `GIT_AGENT_PORT` and
/// `GIT_AGENT_SLOT` (the slot's index, for per-slot names such as a test database).
pub fn test_env(slot: &Slot, step: usize, steps: usize, task: &str, target: &str) -> Vec<(OsString, OsString)> {
    let mut env = slot_env(slot.index, slot.port, target);
    env.extend([
        ("GIT_AGENT_STEP".into(), step.to_string().into()),
        ("GIT_AGENT_STEPS".into(), steps.to_string().into()),
        ("GIT_AGENT_TASK".into(), task.into()),
    ]);
    env
}

/// What every command run in a slot sees (the setup command too).
fn slot_env(index: usize, port: u16, target: &str) -> Vec<(OsString, OsString)> {
    let short = target.strip_prefix("refs/heads/").unwrap_or(target);
    vec![
        ("GIT_AGENT_TARGET".into(), short.into()),
        ("GIT_AGENT_PORT".into(), port.to_string().into()),
        ("GIT_AGENT_SLOT".into(), index.to_string().into()),
    ]
}

/// Takes `count` slots for integrating into `target` (a full `refs/heads/` name): the lowest
/// free indices, skipping slots another live process holds. A slot is created (detached at
/// `start`) and prepared with `prepare` (checked out at `start` first) on first use, and reused warm
/// afterwards; it is prepared again only when `prepare` changed (other copy globs or setup
/// command) or its last preparation did not finish.
///
/// Errors: a slot path holding something that is not git-agent's slot is refused (exit 3,
/// nothing touched); all [`MAX_SLOTS`] indices held is a lost race (exit 4); a failing setup
/// command is exit 1 (the slot stays, unprepared, and is prepared again next time). Slots
/// taken before an error are released.
pub fn take_slots(
    repo: &gix::Repository,
    root: &Path,
    target: &str,
    count: usize,
    start: ObjectId,
    prepare: &Prepare,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<Vec<Slot>> {
    let root = crate::git::normalise_path(root);
    let common = crate::git::normalise_path(repo.common_dir());
    let lock_dir = crate::layout::slots_lock_dir(&common);
    std::fs::create_dir_all(&lock_dir).with_context(|| format!("cannot create {}", lock_dir.display()))?;
    // Every port is chosen first, each listener held until all are, so that no two slots of
    // this run get the same one; all are free again before a setup command can use them.
    let mut ports = Vec::with_capacity(count);
    {
        let mut listeners = Vec::with_capacity(count);
        for _ in 0..count {
            let (listener, port) = free_port()?;
            listeners.push(listener);
            ports.push(port);
        }
    }
    let mut slots = Vec::with_capacity(count);
    let mut index = 0;
    while slots.len() < count {
        crate::interrupt::check("the target is unchanged")?;
        if index >= MAX_SLOTS {
            return Err(race(format!(
                "all {MAX_SLOTS} integrate slots of {} are in use by other git-agent processes",
                short(target)
            ))
            .hint("wait until the other integrates into it have finished")
            .into());
        }
        let Some(lock) = lock_slot(&common, target, index)? else {
            index += 1;
            continue;
        };
        let slot = Slot {
            path: crate::layout::slot_path(&root, target, index)?,
            index,
            port: ports[slots.len()],
            target: target.to_owned(),
            _lock: lock.lock,
        };
        if let Some(owner) = lock.recovered_from {
            // A killed integrate's tests live on in their own process groups: a test of ours
            // must not share the slot with them.
            let pids = crate::process::processes_working_in(&slot.path);
            if !pids.is_empty() {
                events(Event::StillInUse { index, path: slot.path.clone(), pids });
                index += 1;
                continue;
            }
            events(Event::Recovered { index, path: slot.path.clone(), owner });
        }
        slots.push(ready(repo, &common, slot, start, prepare, events)?);
        index += 1;
    }
    Ok(slots)
}

/// A slot's lock, and whose (gone) lock it replaced.
struct Taken {
    lock: Lock,
    recovered_from: Option<String>,
}

/// Takes the lock of slot `index`; `None` when another process holds it.
fn lock_slot(common: &Path, target: &str, index: usize) -> anyhow::Result<Option<Taken>> {
    let path = crate::layout::slot_lock(common, target, index)?;
    let before = crate::lock::holder(&path).filter(|owner| owner.is_gone());
    match crate::lock::acquire(&path, LOCK_PURPOSE) {
        Ok(lock) => {
            crate::pause::point("scratch-slot-locked");
            Ok(Some(Taken { lock, recovered_from: before.map(|owner| owner.describe()) }))
        }
        // Held by a live process, or a lock file naming no owner (never deleted): not ours.
        Err(Busy::Held { .. }) => Ok(None),
        Err(busy) => Err(busy.into_fail(&format!("integrate slot {index} of {}", short(target))).into()),
    }
}

/// What is at a slot's path, judged under its lock.
enum Found {
    Absent,
    Ours(Registration),
    /// A slot whose creation was killed half-way, or whose directory was deleted by hand: its
    /// registration (if any) goes, and the slot is created again.
    Broken(Option<Registration>),
    /// Not git-agent's: why.
    Foreign(String),
}

/// Creates, repairs or reuses the slot (whose lock is held), checks it out at `start` and
/// prepares it.
fn ready(
    repo: &gix::Repository,
    common: &Path,
    mut slot: Slot,
    start: ObjectId,
    prepare: &Prepare,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<Slot> {
    let (target, index) = (slot.target.clone(), slot.index);
    let creating = crate::layout::slot_creating(common, &target, index)?;
    let registration = match inspect(repo, &slot.path, &target, index, creating.exists())? {
        // A warm slot moves to a commit only when it is used (a test checks out its step):
        // checking it out here too would cost a status and a read-tree per slot and run.
        Found::Ours(registration) => registration,
        Found::Foreign(why) => {
            return Err(refused(format!("{} is not git-agent's integrate slot: {why}", slot.path.display()))
                .hint(format!(
                    "git-agent never touches it; move it away (git worktree move {} <elsewhere>) or remove it, \
                     then integrate again",
                    slot.path.display()
                ))
                .into());
        }
        found @ (Found::Absent | Found::Broken(_)) => {
            if let Found::Broken(registration) = found {
                remove_broken(repo, &slot.path, registration.as_ref())?;
                events(Event::RemovedHalfCreated { index, path: slot.path.clone() });
            }
            create(repo, &slot.path, &creating, &target, index, start)?;
            events(Event::Created { index, path: slot.path.clone() });
            find_registration(repo, &slot.path)?
                .with_context(|| format!("the new slot {} is not registered", slot.path.display()))?
        }
    };
    prepare_slot(repo, &mut slot, &registration.admin_dir, start, prepare, events)?;
    Ok(slot)
}

/// The registration at exactly `path`, if there is one (the first, when several).
fn find_registration(repo: &gix::Repository, path: &Path) -> anyhow::Result<Option<Registration>> {
    let path = crate::git::normalise_path(path);
    Ok(crate::git::registrations(repo)?
        .into_iter()
        .find(|r| r.path.as_deref().map(crate::git::normalise_path).as_deref() == Some(path.as_path())))
}

/// Judges what is at `path` (slot `index` of `target`); `creating` says a git-agent started
/// creating this slot and did not finish (its lock is ours now, so that process is gone).
fn inspect(repo: &gix::Repository, path: &Path, target: &str, index: usize, creating: bool) -> anyhow::Result<Found> {
    let normalised = crate::git::normalise_path(path);
    let mut registered: Vec<Registration> = crate::git::registrations(repo)?
        .into_iter()
        .filter(|r| r.path.as_deref().map(crate::git::normalise_path).as_deref() == Some(normalised.as_path()))
        .collect();
    let exists = path.symlink_metadata().is_ok();
    if registered.len() > 1 {
        return Ok(Found::Foreign("more than one worktree registration names it".into()));
    }
    let Some(registration) = registered.pop() else {
        if !exists {
            return Ok(Found::Absent);
        }
        // A killed creation may leave the empty directory before the registration exists.
        if creating && path.is_dir() && !crate::git::is_non_empty_dir(path) {
            return Ok(Found::Broken(None));
        }
        return Ok(Found::Foreign("it exists and is not a worktree of this repository".into()));
    };
    let marker = std::fs::read_to_string(registration.admin_dir.join(crate::layout::SLOT_MARKER)).ok();
    let marked = marker.as_deref().and_then(crate::layout::parse_slot_marker);
    match marked {
        Some((t, i)) if t == target && i == index => {}
        Some((t, i)) => {
            return Ok(Found::Foreign(format!("its registration says it is slot {i} of {t}")));
        }
        // Created by git-agent, which was killed before it wrote the marker.
        None if creating => return Ok(Found::Broken(Some(registration))),
        None => {
            return Ok(Found::Foreign(format!(
                "it is a worktree git-agent did not create (registered in {})",
                registration.admin_dir.display()
            )));
        }
    }
    if registration.missing {
        return Ok(Found::Broken(Some(registration)));
    }
    match (&registration.locked, &registration.head) {
        // gix locks a registration while it checks out; the creator is gone (its lock is ours).
        (Some(reason), _) if reason == "initializing" => return Ok(Found::Broken(Some(registration))),
        (Some(reason), _) => return Ok(Found::Foreign(format!("it is locked (git worktree lock: {reason:?})"))),
        (None, RegisteredHead::Branch(name)) => {
            return Ok(Found::Foreign(format!("it has the branch {} checked out", short(name))));
        }
        (None, RegisteredHead::Unknown) => return Ok(Found::Foreign("its HEAD cannot be read".into())),
        (None, RegisteredHead::Detached(_)) => {}
    }
    if path.symlink_metadata()?.file_type().is_symlink() {
        return Ok(Found::Foreign("it is a symbolic link".into()));
    }
    if !crate::git::worktree_points_to(path, &registration.admin_dir) {
        return Ok(Found::Foreign(format!(
            "its .git file does not point to its registration {}",
            registration.admin_dir.display()
        )));
    }
    let in_progress = ["MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply", "BISECT_LOG"]
        .into_iter()
        .find(|f| registration.admin_dir.join(f).exists());
    if let Some(file) = in_progress {
        return Ok(Found::Foreign(format!("someone works in it ({file} is there)")));
    }
    Ok(Found::Ours(registration))
}

/// Removes what a killed creation left (or a registration whose directory is gone).
fn remove_broken(repo: &gix::Repository, path: &Path, registration: Option<&Registration>) -> anyhow::Result<()> {
    match registration {
        Some(registration) if !registration.missing => crate::git::remove_created_worktree(repo, path)
            .with_context(|| format!("cannot remove the half-created slot {}", path.display())),
        Some(registration) => std::fs::remove_dir_all(&registration.admin_dir)
            .with_context(|| format!("cannot remove the registration {}", registration.admin_dir.display())),
        None => std::fs::remove_dir(path).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Adds the slot's worktree, detached at `start`, and marks its registration as git-agent's.
/// The `creating` file says, until the marker is written, that a registration at this path
/// without one is git-agent's half-made slot.
fn create(
    repo: &gix::Repository,
    path: &Path,
    creating: &Path,
    target: &str,
    index: usize,
    start: ObjectId,
) -> anyhow::Result<()> {
    std::fs::write(creating, "").with_context(|| format!("cannot write {}", creating.display()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    crate::git::add_detached_worktree(repo, path, start, crate::interrupt::flag())?;
    let registration =
        find_registration(repo, path)?.with_context(|| format!("the new slot {} is not registered", path.display()))?;
    std::fs::write(registration.admin_dir.join(crate::layout::SLOT_MARKER), crate::layout::slot_marker(target, index))
        .with_context(|| format!("cannot mark {} as git-agent's", registration.admin_dir.display()))?;
    let _ = std::fs::remove_file(creating);
    Ok(())
}

/// Copies the agent.copy files and runs the setup command, unless the slot was prepared with
/// the same ones before. The slot counts as prepared only once both have succeeded.
fn prepare_slot(
    repo: &gix::Repository,
    slot: &mut Slot,
    admin_dir: &Path,
    start: ObjectId,
    prepare: &Prepare,
    events: &mut dyn FnMut(Event),
) -> anyhow::Result<()> {
    let marker = admin_dir.join(crate::layout::SLOT_PREPARED);
    let fingerprint = prepare.fingerprint();
    if std::fs::read_to_string(&marker).is_ok_and(|done| done == fingerprint) {
        return Ok(());
    }
    let _ = std::fs::remove_file(&marker);
    // The copy and the setup work on the run's start commit.
    slot.checkout(start)?;
    let copied = copy_files(repo, prepare, &slot.path, start)?;
    if !copied.is_empty() {
        events(Event::Copied { index: slot.index, files: copied });
    }
    if let Some(setup) = &prepare.setup {
        events(Event::SetupStarting {
            index: slot.index,
            path: slot.path.clone(),
            key: setup.key.clone(),
            command: setup.command.clone(),
            origin: setup.origin.clone(),
        });
        let started = Instant::now();
        let mut run = crate::process::Run::shell(&setup.command, &slot.path);
        for (key, value) in slot_env(slot.index, slot.port, &slot.target) {
            run = run.env(key, value);
        }
        let outcome = run
            .timeout(Some(crate::process::SETUP_TIMEOUT))
            .capture(crate::process::Capture::Tail(crate::process::OUTPUT_TAIL))
            .run()
            .with_context(|| format!("cannot run {} {:?}", setup.key, setup.command))?;
        crate::interrupt::check("the target is unchanged")?;
        if !outcome.status.success() {
            let mut message = format!(
                "{} {:?} failed in the integrate slot {} ({})",
                setup.key,
                setup.command,
                slot.path.display(),
                outcome.status
            );
            let captured = outcome.output_tail_lossy();
            if !captured.trim().is_empty() {
                message.push_str(&format!(":\n{}", captured.trim_end()));
            }
            return Err(Fail::new(Exit::Found, message)
                .hint(format!("fix the command (git config {}); the next integrate runs it again", setup.key))
                .into());
        }
        events(Event::SetupFinished { index: slot.index, duration_ms: started.elapsed().as_millis() as u64 });
    }
    std::fs::write(&marker, fingerprint).with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(())
}

/// Copies the untracked and ignored files of `prepare.source` matching `prepare.copy` into
/// `dest`, except where `start` tracks the path (the commit's version wins). A file copied by
/// an earlier preparation is replaced.
fn copy_files(repo: &gix::Repository, prepare: &Prepare, dest: &Path, start: ObjectId) -> anyhow::Result<Vec<String>> {
    let Some(source) = prepare.source.as_deref().filter(|_| !prepare.copy.is_empty()) else {
        return Ok(Vec::new());
    };
    let source_repo =
        gix::open(source).with_context(|| format!("cannot open {} to copy agent.copy files", source.display()))?;
    let tree = repo.find_commit(start)?.tree()?;
    let mut copied = Vec::new();
    for path in crate::git::untracked_matching(&source_repo, &prepare.copy)? {
        let relative = gix::path::from_bstr(bstr::ByteSlice::as_bstr(path.as_slice()))?.into_owned();
        if tree.lookup_entry_by_path(&relative)?.is_some() {
            continue;
        }
        let target = dest.join(&relative);
        if let Ok(meta) = target.symlink_metadata() {
            if meta.is_dir() {
                std::fs::remove_dir_all(&target)?;
            } else {
                std::fs::remove_file(&target)?;
            }
        }
        crate::git::copy_recursively(&source.join(&relative), &target)
            .with_context(|| format!("cannot copy {} into {}", relative.display(), dest.display()))?;
        copied.push(crate::git::bytes_to_string(&path));
    }
    Ok(copied)
}

/// A port on 127.0.0.1 that is free now, and the listener keeping it so until dropped.
fn free_port() -> anyhow::Result<(std::net::TcpListener, u16)> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot find a free port on 127.0.0.1")?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// Why prune removes a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stale {
    /// Its target branch no longer exists.
    TargetGone,
    /// Its directory was deleted by hand: only the registration was left.
    DirectoryGone,
    /// Idle, and `prune --scratch` asked for every idle slot.
    Idle,
}

/// A slot prune removed (or would remove).
#[derive(Debug, Clone, Serialize)]
pub struct PrunedSlot {
    pub path: PathBuf,
    pub target: String,
    pub index: usize,
    pub why: Stale,
}

/// A slot prune would have removed and kept, and why.
#[derive(Debug, Clone, Serialize)]
pub struct KeptSlot {
    pub path: PathBuf,
    pub why: String,
}

#[derive(Debug, Default, Serialize)]
pub struct SlotPrune {
    pub removed: Vec<PrunedSlot>,
    pub kept: Vec<KeptSlot>,
}

/// Removes the stale slots under `root`: those whose target branch is gone, those whose
/// directory is gone, and with `idle` every slot no live process holds. A held slot is never
/// removed; each removal happens under the slot's lock, after the ownership checks of
/// [`take_slots`] ran again, through [`crate::git::remove_created_worktree`] (a slot holds
/// only checkouts of commits and the tests' output). `dry_run` removes nothing.
pub fn prune_slots(repo: &gix::Repository, root: &Path, idle: bool, dry_run: bool) -> anyhow::Result<SlotPrune> {
    let root = crate::git::normalise_path(root);
    let common = crate::git::normalise_path(repo.common_dir());
    let mut report = SlotPrune::default();
    for registration in crate::git::registrations(repo)? {
        let Some((target, index)) = std::fs::read_to_string(registration.admin_dir.join(crate::layout::SLOT_MARKER))
            .ok()
            .as_deref()
            .and_then(crate::layout::parse_slot_marker)
        else {
            continue;
        };
        let Ok(path) = crate::layout::slot_path(&root, &target, index) else { continue };
        // A marker naming another place is not a slot of this root: never acted on.
        if registration.path.as_deref().map(crate::git::normalise_path).as_deref() != Some(path.as_path()) {
            continue;
        }
        let why = if crate::git::ref_target(repo, &target)?.is_none() {
            Stale::TargetGone
        } else if registration.missing {
            Stale::DirectoryGone
        } else if idle {
            Stale::Idle
        } else {
            continue;
        };
        // Not the worktree prune runs in (or the current directory's): git refuses that too.
        if let Some(fail) = crate::guard::current_worktree_refusal(repo, &registration) {
            report.kept.push(KeptSlot { path, why: fail.to_string() });
            continue;
        }
        let lock_path = crate::layout::slot_lock(&common, &target, index)?;
        if dry_run {
            match crate::lock::holder(&lock_path).filter(|owner| !owner.is_gone()) {
                Some(owner) => report.kept.push(KeptSlot { path, why: format!("in use by {}", owner.describe()) }),
                None => report.removed.push(PrunedSlot { path, target, index, why }),
            }
            continue;
        }
        let _lock = match crate::lock::acquire(&lock_path, "prune") {
            Ok(lock) => lock,
            Err(Busy::Held { owner: Some(owner), .. }) => {
                report.kept.push(KeptSlot { path, why: format!("in use by {}", owner.describe()) });
                continue;
            }
            Err(Busy::Held { owner: None, path: lock }) => {
                report.kept.push(KeptSlot { path, why: format!("its lock {} names no owner", lock.display()) });
                continue;
            }
            Err(busy) => return Err(busy.into_fail(&format!("integrate slot {}", path.display())).into()),
        };
        let creating = crate::layout::slot_creating(&common, &target, index)?.exists();
        match inspect(repo, &path, &target, index, creating)? {
            Found::Ours(_) => crate::git::remove_created_worktree(repo, &path)
                .with_context(|| format!("cannot remove the integrate slot {}", path.display()))?,
            Found::Broken(registration) => remove_broken(repo, &path, registration.as_ref())?,
            Found::Absent => continue,
            Found::Foreign(reason) => {
                report.kept.push(KeptSlot { path, why: reason });
                continue;
            }
        }
        report.removed.push(PrunedSlot { path, target, index, why });
    }
    // The slots directory goes with its last slot (remove_dir removes only an empty one).
    if !dry_run && !report.removed.is_empty() {
        let _ = std::fs::remove_dir(root.join(crate::layout::SLOTS_DIR));
    }
    Ok(report)
}

fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_are_one_per_branch_and_index() {
        let root = Path::new("/r");
        assert_eq!(crate::layout::slot_path(root, "refs/heads/main", 0).unwrap(), Path::new("/r/.integrate/main-0"));
        assert_eq!(
            crate::layout::slot_path(root, "refs/heads/feature/x", 3).unwrap(),
            Path::new("/r/.integrate/feature%2Fx-3")
        );
        // Different branches never share a name, whatever characters they use.
        assert_ne!(
            crate::layout::slot_slug("refs/heads/a/b").unwrap(),
            crate::layout::slot_slug("refs/heads/a%2Fb").unwrap()
        );
        assert!(crate::layout::slot_slug("refs/tags/v1").is_err());
        let marker = crate::layout::slot_marker("refs/heads/main", 2);
        assert_eq!(crate::layout::parse_slot_marker(&marker), Some(("refs/heads/main".to_owned(), 2)));
        assert_eq!(crate::layout::parse_slot_marker("target x\nindex -1\n"), None);
    }

    #[test]
    fn setup_is_announced_with_its_origin() {
        let event = Event::SetupStarting {
            index: 1,
            path: PathBuf::from("/r/.integrate/main-1"),
            key: "agent.testSetup".into(),
            command: "npm ci".into(),
            origin: "/repo/.git/config".into(),
        };
        assert_eq!(event.to_string(), "running agent.testSetup from /repo/.git/config in slot 1: npm ci");
    }

    #[test]
    fn slots_can_move_to_other_threads() {
        fn send<T: Send>() {}
        send::<Slot>();
    }
}
