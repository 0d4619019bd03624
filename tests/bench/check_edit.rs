//! Benchmark for `git agent check-edit`, which an agent's PreToolUse hook runs before every
//! edit: it must take under 20 ms with 32 tasks. Timed from inside one task's worktree, in a
//! repository of 6,000 files with 32 tasks (each with a scope; half with commits, a quarter
//! with uncommitted edits), checking 3 paths, against `git status --porcelain` in the same
//! worktree (what an agent would otherwise run to see its own changes).
//!
//! Run: `cargo bench --bench check_edit` (release build). The repository goes to /dev/shm when
//! it exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1 keeps it. Both
//! sides are measured in the same run, alternating, and medians are compared.

#[path = "support.rs"]
mod support;

use std::time::Instant;

use support::{
    FILES, agent, bench_dir, body, command, file_path, finish, git, make_repo, median, ms, run_code, run_input, time,
    verdict,
};

const TASKS: usize = 32;
const ROUNDS: usize = 21;
/// The goal: a hook must not slow the agent down.
const GOAL_MS: f64 = 20.0;

fn main() {
    let started = Instant::now();
    let dir = bench_dir("git-agent-bench-check-edit");
    let home = dir.path();
    let repo = home.join("repo");
    make_repo(home, &repo, None);
    for i in 0..TASKS {
        let task = format!("t{i}");
        agent(home, &repo, &["spawn", &task, "-q", "--scope", &format!("d{i}")]);
        let worktree = home.join(format!("repo.agents/{task}"));
        // Files i, i + 60, ... are in d{i}: the task's own.
        let own = |n: usize| i + 60 * n;
        if i % 2 == 0 {
            for n in 0..3 {
                std::fs::write(worktree.join(file_path(own(n))), body(own(n), &[(1, "committed")])).unwrap();
            }
            git(home, &worktree, &["commit", "-q", "-am", "work"]);
        }
        if i % 4 == 1 {
            std::fs::write(worktree.join(file_path(own(0))), body(own(0), &[(2, "uncommitted")])).unwrap();
            std::fs::write(worktree.join(format!("d{i}/new.txt")), "new\n").unwrap();
        }
    }
    // Checked from the last task: its own file, one t1 edits uncommitted, one t2 committed.
    let worktree = home.join(format!("repo.agents/t{}", TASKS - 1));
    let paths = [file_path(TASKS - 1), file_path(1), file_path(2)];
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut args = vec!["agent", "check-edit"];
    args.extend(&paths);
    println!("repository: {FILES} files, {TASKS} tasks; checking {} from {}", paths.join(" "), worktree.display());
    let check = || {
        let mut run = command(home, "git", &worktree);
        run.args(&args);
        let (code, out) = run_code(run, &[0, 1]);
        (code, out)
    };
    let (code, out) = check();
    print!("{}", String::from_utf8_lossy(&out));
    assert_eq!(code, 1, "t1's and t2's files are theirs");
    let input = format!(
        r#"{{"cwd":{:?},"tool_name":"Edit","tool_input":{{"file_path":{:?}}}}}"#,
        worktree.display().to_string(),
        worktree.join(file_path(2)).display().to_string()
    );
    let hook = || {
        let mut run = command(home, "git", &worktree);
        run.args(["agent", "check-edit", "--hook", "claude"]);
        run_input(run, input.clone().into_bytes())
    };
    assert!(!hook().is_empty(), "the hook asks about t2's file");
    git(home, &worktree, &["status", "--porcelain"]);

    let (mut checks, mut hooks, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        baseline.push(time(|| git(home, &worktree, &["status", "--porcelain"])));
        checks.push(time(check));
        hooks.push(time(hook));
    }
    let (checks, hooks, baseline) = (median(checks), median(hooks), median(baseline));
    println!(
        "check-edit: git agent check-edit (3 paths) {:.1} ms, --hook claude (1 path) {:.1} ms; \
         git status --porcelain {:.1} ms: ratio {:.2}x; goal < {GOAL_MS} ms {}",
        ms(checks),
        ms(hooks),
        ms(baseline),
        checks.as_secs_f64() / baseline.as_secs_f64(),
        verdict(ms(checks) < GOAL_MS && ms(hooks) < GOAL_MS)
    );
    finish(dir, started);
}
