//! Test environment: a temporary directory with its own HOME and git config, the build
//! directory on PATH, helpers to run `git` and `git agent` there, and fixtures more than one
//! test file uses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Env {
    pub dir: tempfile::TempDir,
}

/// The directory holding the binaries under test.
pub fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-agent")).parent().unwrap().to_path_buf()
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new().prefix("git-agent-test").tempdir().unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        std::fs::write(
            dir.path().join("home/.gitconfig"),
            "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n\
             [commit]\n\tgpgsign = false\n[core]\n\tautocrlf = false\n",
        )
        .unwrap();
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command with the hermetic environment applied.
    pub fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut command = Command::new(program);
        let path = std::env::join_paths(
            std::iter::once(bin_dir()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .unwrap();
        command
            .current_dir(cwd)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.path().join("home"))
            .env("GIT_CONFIG_GLOBAL", self.path().join("home/.gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .env("NO_COLOR", "1");
        command
    }

    /// Runs `git <args>` in `cwd`, asserting success; returns stdout.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.command("git", cwd).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `git agent <args>` (through git's dispatch) in `cwd`.
    pub fn agent(&self, cwd: &Path, args: &[&str]) -> Run {
        let out = self.command("git", cwd).arg("agent").args(args).output().unwrap();
        Run::from(out)
    }

    /// Runs any program (for example `git-agent-spawn` or `git agent-spawn`) in `cwd`.
    pub fn run(&self, cwd: &Path, program: &str, args: &[&str]) -> Run {
        Run::from(self.command(program, cwd).args(args).output().unwrap())
    }

    /// Runs `program` in `cwd` with `input` on its stdin.
    pub fn run_input(&self, cwd: &Path, program: &str, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(program, cwd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
        drop(child.stdin.take());
        Run::from(child.wait_with_output().unwrap())
    }

    /// A new repository `name` with one commit holding `files`.
    pub fn repo(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let repo = self.path().join(name);
        std::fs::create_dir_all(&repo).unwrap();
        self.git(&repo, &["init", "-q"]);
        for (path, content) in files {
            write(&repo.join(path), content);
        }
        self.git(&repo, &["add", "-A"]);
        self.git(&repo, &["commit", "-q", "-m", "initial", "--allow-empty"]);
        repo
    }

    /// Writes `files` in `dir` and commits them all.
    pub fn commit(&self, dir: &Path, files: &[(&str, &str)], message: &str) {
        for (path, content) in files {
            write(&dir.join(path), content);
        }
        self.git(dir, &["add", "-A"]);
        self.git(dir, &["commit", "-q", "-m", message]);
    }

    /// Every ref under refs/agent and refs/heads, and the registered worktrees: the state a
    /// failed command must leave unchanged.
    /// Integrate's scratch slots are left out: they stay, warm, after every run (see
    /// [`held_slots`] for what must not stay).
    pub fn snapshot(&self, repo: &Path) -> String {
        let refs = self.git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]);
        let worktrees = without_slots(&self.git(repo, &["worktree", "list", "--porcelain"]));
        format!("{refs}\n{worktrees}")
    }
}

/// `git worktree list --porcelain` without integrate's scratch slots (`<root>/.integrate/`).
pub fn without_slots(porcelain: &str) -> String {
    porcelain
        .split_inclusive("\n\n")
        .filter(|block| !block.lines().next().is_some_and(|l| l.contains("/.integrate/")))
        .collect()
}

/// The scratch slot locks held now (`.git/agent-slots/*.lock`): none once a run is over.
pub fn held_slots(repo: &Path) -> Vec<PathBuf> {
    let dir = repo.join(".git/agent-slots");
    let mut held: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "lock"))
        .collect();
    held.sort();
    held
}

pub fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Ten numbered lines: `<prefix> line 1` .. `<prefix> line 10`.
pub fn numbered(prefix: &str) -> String {
    (1..=10).map(|n| format!("{prefix} line {n}\n")).collect()
}

/// Stores `json` as task.json in a new commit and points `refs/agent/tasks/<name>` at it,
/// bypassing the product (for corrupt or hand-made records).
pub fn write_raw_record(env: &Env, repo: &Path, name: &str, json: &str) -> String {
    write_raw_record_files(env, repo, name, &[("task.json", json)])
}

/// Stores `files` (name, content) in a new commit and points `refs/agent/tasks/<name>` at it,
/// bypassing the product (for example a format-2 record: ops.json and task.json).
pub fn write_raw_record_files(env: &Env, repo: &Path, name: &str, files: &[(&str, &str)]) -> String {
    let mut listing = String::new();
    for (file, content) in files {
        write(&env.path().join("raw.json"), content);
        let blob = env.git(repo, &["hash-object", "-w", env.path().join("raw.json").to_str().unwrap()]);
        listing.push_str(&format!("100644 blob {}\t{file}\n", blob.trim()));
    }
    let mut mktree =
        env.command("git", repo).arg("mktree").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(mktree.stdin.as_mut().unwrap(), listing.as_bytes()).unwrap();
    let tree = mktree.wait_with_output().unwrap();
    assert!(tree.status.success());
    let tree = String::from_utf8(tree.stdout).unwrap();
    let commit = env.git(repo, &["commit-tree", tree.trim(), "-m", "hand-made"]).trim().to_owned();
    env.git(repo, &["update-ref", &format!("refs/agent/tasks/{name}"), &commit]);
    commit
}

/// The outcome of a command: exit code, stdout, stderr.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit code {code}:\n{self:#?}");
        self
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(self.stderr.contains(needle), "stderr should contain {needle:?}:\n{self:#?}");
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(self.stdout.contains(needle), "stdout should contain {needle:?}:\n{self:#?}");
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{self:#?}"))
    }
}

/// A pause point of the binary under test (see `src/pause.rs`): set [`PausePoint::env`] on
/// the command, wait for [`PausePoint::wait_reached`], act, then [`PausePoint::release`].
pub struct PausePoint {
    pub name: String,
    pub dir: PathBuf,
}

impl PausePoint {
    pub fn new(env: &Env, name: &str) -> PausePoint {
        let dir = env.path().join(format!("pause-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        PausePoint { name: name.to_owned(), dir }
    }

    /// The environment variable that makes the process stop at this point.
    pub fn env(&self) -> (String, String) {
        ("GIT_AGENT_TEST_PAUSE".to_owned(), format!("{}:{}", self.name, self.dir.display()))
    }

    /// Waits (at most a minute) until a process has reached the point.
    pub fn wait_reached(&self) {
        let reached = self.dir.join(format!("{}.reached", self.name));
        let started = std::time::Instant::now();
        while !reached.exists() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "pause point {} never reached", self.name);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Lets the paused process go on.
    pub fn release(&self) {
        std::fs::write(self.dir.join(format!("{}.continue", self.name)), "").unwrap();
    }
}
