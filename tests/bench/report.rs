//! Benchmark for `git agent report`, which an agent's hooks run on every turn: it must take
//! under 20 ms. Timed from inside a task's worktree, in a repository of 6,000 files with 50
//! tasks, against `git rev-parse HEAD`, the floor of any command git dispatches.
//!
//! Run: `cargo bench --bench report` (release build). The repository goes to /dev/shm when it
//! exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1 keeps it. Both sides
//! are measured in the same run, alternating, and medians are compared.

#[path = "support.rs"]
mod support;

use std::time::Instant;

use support::{FILES, agent, bench_dir, finish, git, make_repo, median, ms, time, verdict};

const TASKS: usize = 50;
const ROUNDS: usize = 21;
/// The goal: a hook must not slow the agent down.
const GOAL_MS: f64 = 20.0;

fn main() {
    let started = Instant::now();
    let dir = bench_dir("git-agent-bench-report");
    let repo = dir.path().join("repo");
    make_repo(dir.path(), &repo, None);
    for i in 0..TASKS {
        agent(dir.path(), &repo, &["spawn", &format!("t{i}"), "-q"]);
    }
    // The last task spawned: the current task is found without reading all the others.
    let worktree = dir.path().join(format!("repo.agents/t{}", TASKS - 1));
    println!("repository: {FILES} files, {TASKS} tasks; reporting from {}", worktree.display());

    // Warm the caches once for each side.
    git(dir.path(), &worktree, &["rev-parse", "HEAD"]);
    agent(dir.path(), &worktree, &["report", "working"]);

    let (mut changed, mut same, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        baseline.push(time(|| git(dir.path(), &worktree, &["rev-parse", "HEAD"])));
        // Alternating, so that every report writes an operation (and runs no notify: none set).
        let status = if round % 2 == 0 { "waiting" } else { "working" };
        changed.push(time(|| agent(dir.path(), &worktree, &["report", status])));
        // The same status again: read, compare, write nothing.
        same.push(time(|| agent(dir.path(), &worktree, &["report", status])));
    }
    let (changed, same, baseline) = (median(changed), median(same), median(baseline));
    println!(
        "report: git agent report (a change, written) {:.1} ms, (the same status, not written) {:.1} ms; \
         git rev-parse HEAD {:.1} ms: ratio {:.2}x; goal < {GOAL_MS} ms {}",
        ms(changed),
        ms(same),
        ms(baseline),
        changed.as_secs_f64() / baseline.as_secs_f64(),
        verdict(ms(changed) < GOAL_MS && ms(same) < GOAL_MS)
    );
    finish(dir, started);
}
