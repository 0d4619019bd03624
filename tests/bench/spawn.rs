//! Benchmark for issue "Foundation": `git agent spawn` against `git worktree add -b`, and
//! `git agent list` with 32 tasks, on a generated repository of 6,000 files.
//!
//! Run: `cargo bench --bench spawn` (release build). The repository goes to /dev/shm when it
//! exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1 keeps it. Both sides are measured in the same run,
//! alternating, and medians are compared, so the ratio holds on a noisy shared machine.

#[path = "support.rs"]
mod support;

use std::path::PathBuf;

use support::{FILES, agent, bench_dir, git, make_repo, median, ms, time, verdict};

const ROUNDS: usize = 9;
const LIST_TASKS: usize = 32;

fn main() {
    let dir = bench_dir("git-agent-bench");
    let repo = dir.path().join("repo");
    make_repo(dir.path(), &repo, None);
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
    let verbose = median((0..ROUNDS).map(|_| time(|| agent(dir.path(), &repo, &["list", "-v"]))).collect());
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
    // The floor: git's own listing, which looks at no worktree's files.
    let worktree_list = median((0..ROUNDS).map(|_| time(|| git(dir.path(), &repo, &["worktree", "list"]))).collect());
    println!(
        "list: git agent list with {tasks} tasks {:.1} ms (goal <= 100 ms) {}; without the dirty check {:.1} ms; \
         -v (file names) {:.1} ms",
        ms(list),
        verdict(ms(list) <= 100.0),
        ms(no_dirty),
        ms(verbose),
    );
    println!(
        "list: `git status` in each worktree {:.1} ms: ratio {:.2}x; `git worktree list` {:.1} ms: ratio {:.1}x",
        ms(status_loop),
        list.as_secs_f64() / status_loop.as_secs_f64(),
        ms(worktree_list),
        list.as_secs_f64() / worktree_list.as_secs_f64()
    );
    if std::env::var_os("GIT_AGENT_BENCH_KEEP").is_some() {
        println!("kept {}", dir.keep().display());
    }
}
