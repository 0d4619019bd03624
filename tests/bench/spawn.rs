//! Benchmark for issue "Foundation": `git agent spawn` against `git worktree add -b`, and
//! `git agent list` with 32 tasks, on a generated repository of 6,000 files.
//!
//! Run: `cargo bench --bench spawn` (release build). The repository goes to /dev/shm when it
//! exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1 keeps it. Both sides are measured in the same run,
//! alternating, and medians are compared, so the ratio holds on a noisy shared machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FILES: usize = 6_000;
const ROUNDS: usize = 9;
const LIST_TASKS: usize = 32;

fn main() {
    // On tmpfs when there is one: file creation on a shared disk is too noisy to compare.
    let parent = std::env::var_os("GIT_AGENT_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new().prefix("git-agent-bench").tempdir_in(parent).unwrap();
    let repo = dir.path().join("repo");
    make_repo(dir.path(), &repo);
    println!("repository: {FILES} files in {}", repo.display());

    // Warm the caches once for each side.
    git(
        dir.path(),
        &repo,
        &["worktree", "add", "-q", "-b", "warm-git", &dir.path().join("warm-git").to_string_lossy()],
    );
    agent(dir.path(), &repo, &["spawn", "warm-agent", "-q"]);

    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    for round in 0..ROUNDS {
        let target = dir.path().join(format!("wt-git-{round}"));
        baseline.push(time(|| {
            git(dir.path(), &repo, &["worktree", "add", "-q", "-b", &format!("b{round}"), &target.to_string_lossy()])
        }));
        ours.push(time(|| agent(dir.path(), &repo, &["spawn", &format!("t{round}"), "-q"])));
    }
    let (ours, baseline) = (median(ours), median(baseline));
    let ratio = ours.as_secs_f64() / baseline.as_secs_f64();
    println!(
        "spawn: git agent spawn {:.1} ms, git worktree add -b {:.1} ms: ratio {ratio:.2}x (goal <= 0.60x) {}",
        ms(ours),
        ms(baseline),
        verdict(ratio <= 0.60)
    );

    // `git agent list` with 32 tasks, a few with commits and uncommitted changes.
    for i in 0..LIST_TASKS.saturating_sub(ROUNDS + 1) {
        agent(dir.path(), &repo, &["spawn", &format!("l{i}"), "-q", "--scope", "d0"]);
    }
    for i in 0..8 {
        let worktree = dir.path().join(format!("repo.agents/l{i}"));
        std::fs::write(worktree.join(format!("d{i}/f{i}.txt")), "changed\n").unwrap();
        git(dir.path(), &worktree, &["commit", "-q", "-am", "change"]);
        std::fs::write(worktree.join("untracked.txt"), "x\n").unwrap();
    }
    let listed = agent(dir.path(), &repo, &["list", "--json"]);
    let tasks = serde_json::from_str::<serde_json::Value>(&listed).unwrap()["tasks"].as_array().unwrap().len();
    assert_eq!(tasks, LIST_TASKS, "expected {LIST_TASKS} tasks");
    let list = median((0..ROUNDS).map(|_| time(|| agent(dir.path(), &repo, &["list"]))).collect());
    let no_dirty = median((0..ROUNDS).map(|_| time(|| agent(dir.path(), &repo, &["list", "--no-dirty"]))).collect());
    // What a script would do for the dirty column alone: `git status` in every worktree.
    let worktrees: Vec<PathBuf> =
        std::fs::read_dir(dir.path().join("repo.agents")).unwrap().map(|e| e.unwrap().path()).collect();
    let status_loop = median(
        (0..ROUNDS)
            .map(|_| {
                time(|| worktrees.iter().map(|wt| git(dir.path(), wt, &["status", "--porcelain"])).collect::<String>())
            })
            .collect(),
    );
    println!(
        "list: git agent list with {tasks} tasks {:.1} ms (aim < 150 ms) {}; without the dirty check {:.1} ms; \
         `git status` in each worktree {:.1} ms: ratio {:.2}x",
        ms(list),
        verdict(ms(list) < 150.0),
        ms(no_dirty),
        ms(status_loop),
        list.as_secs_f64() / status_loop.as_secs_f64()
    );
    if std::env::var_os("GIT_AGENT_BENCH_KEEP").is_some() {
        println!("kept {}", dir.keep().display());
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(f: impl FnOnce() -> String) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-agent")).parent().unwrap().to_path_buf()
}

fn command(home: &Path, program: &str, cwd: &Path) -> Command {
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

fn run(mut command: Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn git(home: &Path, cwd: &Path, args: &[&str]) -> String {
    let mut command = command(home, "git", cwd);
    command.args(args);
    run(command)
}

fn agent(home: &Path, cwd: &Path, args: &[&str]) -> String {
    let mut command = command(home, "git", cwd);
    command.arg("agent").args(args);
    run(command)
}

fn make_repo(home: &Path, repo: &Path) {
    std::fs::write(
        home.join(".gitconfig"),
        "[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n",
    )
    .unwrap();
    std::fs::create_dir_all(repo).unwrap();
    git(home, repo, &["init", "-q"]);
    for i in 0..FILES {
        let dir = repo.join(format!("d{}", i % 60));
        std::fs::create_dir_all(&dir).unwrap();
        let body: String = (0..20).map(|line| format!("file {i} line {line}\n")).collect();
        std::fs::write(dir.join(format!("f{i}.txt")), body).unwrap();
    }
    git(home, repo, &["add", "-A"]);
    git(home, repo, &["commit", "-q", "-m", "initial"]);
    // Packed, as a cloned or long-lived repository is: 6,000 loose objects are a pathological case.
    git(home, repo, &["gc", "-q"]);
}
