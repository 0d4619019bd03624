//! What the benchmarks share: the place for the generated repositories, timing and reporting,
//! running git and `git agent` hermetically, and the generated repository itself.
//!
//! Each benchmark is its own crate (a `[[bench]]` target) and includes this file with
//! `#[path = "support.rs"] mod support;`; it is not a benchmark of its own.

// Not every benchmark uses every helper, and each crate that includes this file would warn
// about the ones it leaves unused.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Files in the generated repository, in DIRS folders, each of LINES lines.
pub const FILES: usize = 6_000;
pub const DIRS: usize = 60;
pub const LINES: usize = 20;
/// Date of the last commit on main when the repository has history (see `make_repo`); the
/// benchmarks date their own commits later.
pub const BASE_DATE: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// The place, timing and reporting

/// A new temporary directory named `<prefix>…` for a benchmark's repositories: on tmpfs when
/// there is one (creating files and worktrees on a shared disk is slow and too noisy to
/// compare), or in GIT_AGENT_BENCH_DIR when it is set.
pub fn bench_dir(prefix: &str) -> tempfile::TempDir {
    let parent = std::env::var_os("GIT_AGENT_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new().prefix(prefix).tempdir_in(parent).unwrap()
}

/// Removes the benchmark's directory (or keeps it, with GIT_AGENT_BENCH_KEEP set) and prints
/// the total time since `started`.
pub fn finish(dir: tempfile::TempDir, started: Instant) {
    if std::env::var_os("GIT_AGENT_BENCH_KEEP").is_some() {
        println!("kept {}", dir.keep().display());
    } else {
        drop(dir);
    }
    println!("total time {:.1} s", started.elapsed().as_secs_f64());
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs `f`; returns how long it took and what it returned.
pub fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// How long `f` took.
pub fn time<T>(f: impl FnOnce() -> T) -> Duration {
    timed(f).0
}

// ---------------------------------------------------------------------------------------------
// Generated content

/// A tiny deterministic pseudo-random generator (PCG's LCG constants).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// The path of file i.
pub fn file_path(i: usize) -> String {
    format!("d{}/f{i}.txt", i % DIRS)
}

/// File i with the given lines replaced.
pub fn body(i: usize, edits: &[(usize, &str)]) -> String {
    (0..LINES)
        .map(|line| match edits.iter().find(|(l, _)| *l == line) {
            Some((_, text)) => format!("file {i} line {line} {text}\n"),
            None => format!("file {i} line {line}\n"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Processes and the repository

pub fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-agent")).parent().unwrap().to_path_buf()
}

/// `program` in `cwd` with the binaries under test first on PATH, and `home` as HOME with its
/// .gitconfig the only git configuration.
pub fn command(home: &Path, program: &str, cwd: &Path) -> Command {
    let path = std::env::join_paths(
        std::iter::once(bin_dir()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut command = Command::new(program);
    command
        .current_dir(cwd)
        .env("PATH", path)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"));
    command
}

/// Runs a command whose exit status must be one of `ok`; returns the status and stdout.
pub fn run_code(mut command: Command, ok: &[i32]) -> (i32, Vec<u8>) {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?} did not start: {e}"));
    let code = out.status.code().unwrap_or(-1);
    assert!(ok.contains(&code), "{command:?} exited {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    (code, out.stdout)
}

/// Runs a command that must succeed; returns its stdout.
pub fn run(command: Command) -> String {
    String::from_utf8(run_code(command, &[0]).1).unwrap()
}

/// Runs a command with `input` on its stdin (written from another thread, so that a large
/// output cannot block it); it must succeed.
pub fn run_input(mut command: Command, input: Vec<u8>) -> Vec<u8> {
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{command:?} did not start: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{command:?} exited {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    writer.join().unwrap().unwrap_or_else(|e| panic!("{command:?}: writing its input failed: {e}"));
    out.stdout
}

pub fn git(home: &Path, cwd: &Path, args: &[&str]) -> String {
    let mut command = command(home, "git", cwd);
    command.args(args);
    run(command)
}

pub fn agent(home: &Path, cwd: &Path, args: &[&str]) -> String {
    let mut command = command(home, "git", cwd);
    command.arg("agent").args(args);
    run(command)
}

/// Writes `home`/.gitconfig and makes `repo`: FILES files (`body(i, &[])` at `file_path(i)`)
/// committed on main, then packed.
///
/// With `history` None, that is one commit at the current time. With Some(n), the initial
/// commit is dated before BASE_DATE and n more commits follow on main (CHANGELOG.md and
/// docs/history/*), the last at BASE_DATE, so that merge bases are found by walking, not at the
/// root.
pub fn make_repo(home: &Path, repo: &Path, history: Option<usize>) {
    std::fs::write(
        home.join(".gitconfig"),
        "[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n",
    )
    .unwrap();
    std::fs::create_dir_all(repo).unwrap();
    git(home, repo, &["init", "-q"]);
    for i in 0..FILES {
        let dir = repo.join(format!("d{}", i % DIRS));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i}.txt")), body(i, &[])).unwrap();
    }
    git(home, repo, &["add", "-A"]);
    let mut commit = command(home, "git", repo);
    commit.args(["commit", "-q", "-m", "initial"]);
    if let Some(history) = history {
        let date = format!("{} +0000", BASE_DATE - 60 * (history as u64 + 1));
        commit.env("GIT_AUTHOR_DATE", &date).env("GIT_COMMITTER_DATE", &date);
    }
    run(commit);
    if let Some(history) = history {
        let mut stream = String::new();
        let mut changelog = String::new();
        for r in 0..history {
            let from = if r == 0 { "from refs/heads/main^0\n" } else { "" };
            let date = BASE_DATE - 60 * (history - 1 - r) as u64;
            let message = format!("release {r}\n");
            changelog.push_str(&format!("- release {r}\n"));
            let note = format!("notes for release {r}\n");
            write!(
                stream,
                "commit refs/heads/main\ncommitter Bench <bench@example.com> {date} +0000\ndata {}\n{message}\n{from}\
                 M 100644 inline CHANGELOG.md\ndata {}\n{changelog}\nM 100644 inline docs/history/{r}.md\ndata {}\n{note}\n\n",
                message.len(),
                changelog.len(),
                note.len()
            )
            .unwrap();
        }
        let mut import = command(home, "git", repo);
        import.args(["fast-import", "--quiet"]);
        run_input(import, stream.into_bytes());
        git(home, repo, &["reset", "-q", "--hard", "main"]);
    }
    // Packed, as a cloned or long-lived repository is: 6,000 loose objects are a pathological case.
    git(home, repo, &["gc", "-q"]);
}
