//! git-agent's own lock files: task claims and the worktree-registration lock.
//!
//! Each lock file records its owner (pid, host, process start time, purpose), written whole
//! before the lock appears (a hard link of a complete file), so a reader never sees half an
//! owner. A lock whose owner is provably gone (same host, and the pid is not running or is a
//! different process) is recovered; any other held lock is reported with its owner, at once.
//! A lock file that names no owner (written by an older git-agent) is never deleted: the error
//! names it.

use std::path::{Path, PathBuf};

use crate::error::{Fail, race, refused};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub pid: u32,
    pub host: String,
    /// The process's start time in clock ticks since boot (Linux), to tell a reused pid apart.
    pub start: Option<u64>,
    /// What the owner is doing: `spawn`, `agent`, `prune`, `worktree-add`.
    pub purpose: String,
}

impl Owner {
    fn me(purpose: &str) -> Owner {
        let pid = std::process::id();
        Owner { pid, host: host_name(), start: crate::process::process_start(pid), purpose: purpose.to_owned() }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let start = self.start.map(|s| s.to_string()).unwrap_or_default();
        format!("pid {}\nhost {}\nstart {start}\npurpose {}\n", self.pid, self.host, self.purpose).into_bytes()
    }

    fn parse(bytes: &[u8]) -> Option<Owner> {
        let text = std::str::from_utf8(bytes).ok()?;
        let field = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' '))).map(str::trim)
        };
        Some(Owner {
            pid: field("pid")?.parse().ok()?,
            host: field("host")?.to_owned(),
            start: field("start").and_then(|s| s.parse().ok()),
            purpose: field("purpose").unwrap_or_default().to_owned(),
        })
    }

    /// Is the owner certainly not running any more? Only provable on this host.
    pub fn is_gone(&self) -> bool {
        // Without /proc, a pid alone cannot prove a lock stale (it may have been reused).
        if self.host != host_name() || !Path::new("/proc/self/stat").exists() {
            return false;
        }
        !crate::process::process_may_be_alive(self.pid, self.start)
    }

    pub fn describe(&self) -> String {
        let what = if self.purpose.is_empty() { "git-agent".to_owned() } else { format!("git-agent {}", self.purpose) };
        format!("{what} (pid {} on {})", self.pid, self.host)
    }
}

/// The host name, as the kernel has it.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A held lock file; removed when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Says what the owner does now (a spawn whose agent starts): the file is replaced whole.
    pub fn set_purpose(&self, purpose: &str) -> std::io::Result<()> {
        let temp = self.path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&temp, Owner::me(purpose).to_bytes())?;
        std::fs::rename(&temp, &self.path)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Why a lock could not be taken.
#[derive(Debug)]
pub enum Busy {
    /// A live (or not provably gone) process holds it.
    Held {
        path: PathBuf,
        owner: Option<Owner>,
    },
    /// The directory cannot be written (a read-only `.git`, missing permissions).
    ReadOnly {
        path: PathBuf,
        error: std::io::Error,
    },
    Other {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl Busy {
    /// The error for the user, naming the lock file and its owner.
    pub fn into_fail(self, what: &str) -> Fail {
        match self {
            Busy::Held { path, owner: Some(owner) } => {
                race(format!("{what} is locked by {}: {}", owner.describe(), path.display()))
                    .hint("wait until it has finished; the lock goes when its owner exits")
            }
            // No concurrent writer is known: it is the repository's state, and the user's to fix
            // (exit 3 wherever it is met, as prune reports a claimed task).
            Busy::Held { path, owner: None } => refused(format!("{what} is locked: {} names no owner", path.display()))
                .hint(format!("if no git-agent is running, delete {}", path.display())),
            Busy::ReadOnly { path, error } => {
                refused(format!("cannot take the lock {}: the repository is read-only ({error})", path.display()))
                    .hint("git-agent needs to write in the repository's .git directory")
            }
            Busy::Other { path, error } => {
                Fail::new(crate::error::Exit::Failed, format!("cannot take the lock {}: {error}", path.display()))
            }
        }
    }
}

/// The owner recorded in the lock file at `path`, if the file exists and names one.
pub fn holder(path: &Path) -> Option<Owner> {
    Owner::parse(&std::fs::read(path).ok()?)
}

/// Takes the lock file `path` for `purpose`, recovering it if its owner is provably gone.
pub fn acquire(path: &Path, purpose: &str) -> Result<Lock, Busy> {
    let owner = Owner::me(purpose);
    for _ in 0..3 {
        match create_with_content(path, &owner.to_bytes()) {
            Ok(()) => return Ok(Lock { path: path.to_owned() }),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) if is_read_only(&error) => return Err(Busy::ReadOnly { path: path.to_owned(), error }),
            Err(error) => return Err(Busy::Other { path: path.to_owned(), error }),
        }
        let current = holder(path);
        match &current {
            Some(stale) if stale.is_gone() => recover(path, stale),
            _ if !path.exists() => {} // released meanwhile: try again
            _ => return Err(Busy::Held { path: path.to_owned(), owner: current }),
        }
    }
    Err(Busy::Held { path: path.to_owned(), owner: holder(path) })
}

/// Like [`acquire`], waiting (with backoff, at most `patience`) while a live process holds it.
pub fn acquire_waiting(path: &Path, purpose: &str, patience: std::time::Duration) -> Result<Lock, Busy> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        match acquire(path, purpose) {
            Err(Busy::Held { owner: Some(_), .. }) if started.elapsed() < patience => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Removes a stale lock, serialised with other recoverers by a second lock file, and only if it
/// still names the same dead owner (another process may have recovered and re-taken it).
fn recover(path: &Path, stale: &Owner) {
    let guard = path.with_extension("lock-recover");
    let mine = Owner::me("recover");
    if create_with_content(&guard, &mine.to_bytes()).is_err() {
        // A recoverer killed halfway leaves its guard: it is stale the same way.
        if holder(&guard).is_some_and(|o| o.is_gone()) {
            let _ = std::fs::remove_file(&guard);
        }
        return;
    }
    if holder(path).as_ref() == Some(stale) {
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(&guard);
}

/// Creates `path` holding `bytes`, failing with `AlreadyExists` if it exists; the file appears
/// complete (written beside it, then hard-linked), so a reader never sees it half written.
fn create_with_content(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&temp, bytes)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Err(err) if err.kind() == std::io::ErrorKind::Unsupported => {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
            file.write_all(bytes)
        }
        other => other,
    }
}

fn is_read_only(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem)
}

/// The lock file of `task`'s claim.
pub fn claim_path(repo: &gix::Repository, task: &str) -> PathBuf {
    crate::layout::claims_dir(repo.common_dir()).join(format!("{task}.lock"))
}

/// Claims `task` for this process until the returned lock is dropped: a spawn holds it from
/// start to finish, including while its agent runs; prune while it removes the task. Another
/// git-agent working on the same task gets a lost-race error (exit 4) at once, naming the
/// holder. A plain lock file beside the refs, not a held ref transaction: those also hold
/// `packed-refs.lock`, which would block this process's own ref writes in any repository
/// whose refs have been packed.
pub fn claim_task(repo: &gix::Repository, task: &str, purpose: &str) -> anyhow::Result<Lock> {
    let dir = crate::layout::claims_dir(repo.common_dir());
    if let Err(error) = std::fs::create_dir_all(&dir) {
        let busy =
            if is_read_only(&error) { Busy::ReadOnly { path: dir, error } } else { Busy::Other { path: dir, error } };
        return Err(busy.into_fail(&format!("task {task:?}")).into());
    }
    acquire(&claim_path(repo, task), purpose).map_err(|busy| busy.into_fail(&format!("task {task:?}")).into())
}

/// The live holder of `task`'s claim, if any (a spawn, a running agent, a prune).
pub fn task_holder(repo: &gix::Repository, task: &str) -> Option<Owner> {
    let path = claim_path(repo, task);
    match holder(&path) {
        Some(owner) if owner.is_gone() => None,
        Some(owner) => Some(owner),
        None if path.exists() => Some(Owner { pid: 0, host: String::new(), start: None, purpose: String::new() }),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_names_its_owner_and_a_dead_owner_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let lock = acquire(&path, "test").unwrap();
        let owner = holder(&path).unwrap();
        assert_eq!(owner.pid, std::process::id());
        assert!(!owner.is_gone());
        match acquire(&path, "test") {
            Err(Busy::Held { owner: Some(o), .. }) => assert_eq!(o.pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        drop(lock);
        assert!(!path.exists());

        // A dead owner: pid 0 of this host never is a running user process.
        let dead = Owner { pid: u32::MAX - 1, host: host_name(), start: Some(1), purpose: "spawn".into() };
        std::fs::write(&path, dead.to_bytes()).unwrap();
        if Path::new("/proc/self/stat").exists() {
            assert!(dead.is_gone());
            let _lock = acquire(&path, "test").unwrap();
            assert_eq!(holder(&path).unwrap().pid, std::process::id());
        }
    }

    #[test]
    fn a_lock_without_an_owner_or_from_another_host_is_never_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        std::fs::write(&path, "").unwrap();
        assert!(matches!(acquire(&path, "t"), Err(Busy::Held { owner: None, .. })));
        let other = Owner { pid: u32::MAX - 1, host: "elsewhere.example".into(), start: None, purpose: "x".into() };
        std::fs::write(&path, other.to_bytes()).unwrap();
        assert!(!other.is_gone());
        assert!(matches!(acquire(&path, "t"), Err(Busy::Held { owner: Some(_), .. })));
        assert!(path.exists());
    }
}
