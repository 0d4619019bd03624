//! Benchmark for issue "git agent-integrate": integrating 8 done tasks with
//! `git agent-integrate` against the same sequence of `git merge --no-ff` in a checked-out
//! worktree, on a generated, packed repository of 6,000 files (goal: at least 5x faster without a
//! test command). With a test command (`true`, and the slightly heavier `ls >/dev/null`), it
//! prints the tool's own overhead per step beside the test's time.
//!
//! The scenario: 8 tasks spawned with `git agent spawn tK -q` (worktrees on the same tmpfs), each
//! with 1 or 2 commits (dated after the base, increasing) that change 3 to 18 files, mostly each
//! task its own; two pairs of tasks edit the same file in different places (clean merges). Every
//! task is marked done. No conflicts. The main worktree is then switched to a branch `parking`, so
//! no measured command has a checked-out worktree to update.
//!
//! What is measured:
//! - ours: `git agent-integrate --branch integ-<round> --json`: every done task, merge strategy,
//!   onto a new integration branch created from main; between repetitions (outside the timing) the
//!   branch is deleted and the task records and notes (refs/agent/*, refs/notes/*) are put back
//!   as they were, so every repetition does the full work from the same start (and test results
//!   are never served from the notes cache);
//! - baseline: `git merge --no-ff -q -m "Merge task tK" agent/tK` for K = 1..8 in a separate clean
//!   worktree on a scratch branch, reset to main's commit between repetitions, outside the timing.
//!
//! Before any ratio is printed, every run of both sides must end at the same tree; otherwise the
//! difference is printed and the benchmark exits 1. Everything else the contract promises that is
//! visible from outside (step statuses, merge commits and their parents, notes, untouched refs and
//! worktrees, --dry-run writing nothing, --into main) is checked along the way and reported as
//! notes, which do not stop the ratios. For context, it also times what git itself needs for a
//! scratch worktree (add and remove it; check out each step's commit in it).
//!
//! Run: `cargo bench --bench integrate` (release build). The repository goes to /dev/shm when it
//! exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1 keeps it. Both sides are
//! measured in the same run, alternating, and medians are compared, so the ratio holds on a noisy
//! shared machine.

#[path = "support.rs"]
mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use support::{
    BASE_DATE, FILES, LINES, Lcg, agent, bench_dir, bin_dir, body, command, file_path, finish, git, make_repo, median,
    ms, run, run_input, timed, verdict,
};

const TASKS: usize = 8;
/// The last SHARED files belong to no task: the pairs that meet on purpose edit these.
const SHARED: usize = 200;
/// Pairs of tasks (0-based) that edit the same shared file in different places.
const OVERLAPS: [(usize, usize); 2] = [(0, 3), (2, 6)];
/// Commits on main after the initial one, so that merge bases are not the root commit.
const HISTORY: usize = 10;
/// Repetitions without a test command, and with each test command.
const ROUNDS: usize = 9;
const TEST_ROUNDS: usize = 7;
/// Direct runs of the test command per round, to time the test alone.
const TEST_SAMPLES: usize = 5;
/// Test commands; the tool runs them through `sh -c`.
const TESTS: [&str; 2] = ["true", "ls >/dev/null"];
/// A run of git-agent-integrate that takes longer is killed (a hang is a bug to report).
const LIMIT: Duration = Duration::from_secs(60);

fn main() {
    let started = Instant::now();
    let dir = bench_dir("git-agent-bench-integrate");
    let home = dir.path();
    let repo = home.join("repo");
    let (made, ()) = timed(|| make_repo(home, &repo, Some(HISTORY)));
    println!(
        "repository: {FILES} files, {} commits, packed, in {} ({:.1} s)",
        HISTORY + 1,
        repo.display(),
        made.as_secs_f64()
    );
    let (set_up, b) = timed(|| set_up(home, &repo));
    let touched: Vec<usize> = b.tasks.iter().map(|t| t.files).collect();
    let commits: Vec<usize> = b.tasks.iter().map(|t| t.commits).collect();
    println!(
        "tasks: {TASKS} spawned, done, {}..{} commits and {}..{} files changed each, {} pairs edit the same file \
         in different places; main worktree switched to branch `parking` ({:.1} s)",
        commits.iter().min().unwrap(),
        commits.iter().max().unwrap(),
        touched.iter().min().unwrap(),
        touched.iter().max().unwrap(),
        OVERLAPS.len(),
        set_up.as_secs_f64()
    );
    println!(
        "measured: ours = `git agent-integrate --branch integ-<round> --json` (all {TASKS} done tasks, merge strategy, \
         a new integration branch from main, no worktree to update); baseline = `git merge --no-ff -q -m \"Merge task \
         tK\" agent/tK` for K = 1..{TASKS} in a clean worktree on a scratch branch at main (reset outside the timing); \
         medians of {ROUNDS} alternating repetitions, {TEST_ROUNDS} with each test command"
    );

    let have_ours = bin_dir().join("git-agent-integrate").is_file();
    let mut notes = Notes::default();

    // Warm the caches once for each side; the first runs are also checked the most thoroughly.
    let (_, expected) = merge_loop(&b, None);
    println!("baseline: {TASKS} merge commits, final tree {expected}");
    if have_ours {
        let run = ours(&b, "integ-warm", None);
        check_run(&b, &run, None, &expected, true, &mut notes);
        restore(&b, &mut notes);
    } else {
        println!("git-agent-integrate is not built (no {}): measuring the baseline only", bin_dir().display());
    }

    let mut ours_times = Vec::new();
    let mut baseline_times = Vec::new();
    for round in 0..ROUNDS {
        for side in [round % 2, 1 - round % 2] {
            if side == 0 && have_ours {
                let run = ours(&b, &format!("integ-{round}"), None);
                check_run(&b, &run, None, &expected, false, &mut notes);
                restore(&b, &mut notes);
                ours_times.push(run.time);
            } else if side == 1 {
                let (time, tree) = merge_loop(&b, None);
                same_tree(&b, "git merge --no-ff loop", &tree, &expected);
                baseline_times.push(time);
            }
        }
    }
    let baseline = median(baseline_times);
    if !have_ours {
        println!("integrate {TASKS} tasks: git merge --no-ff loop {:.1} ms", ms(baseline));
        println!("no ratios: git-agent-integrate is not built");
        finish(dir, started);
        std::process::exit(1);
    }

    // With a test command: the tool, the test alone, and the merge loop running the test too.
    let mut with_tests = Vec::new();
    for test in TESTS {
        let warm = ours(&b, "integ-test-warm", Some(test));
        check_run(&b, &warm, Some(test), &expected, true, &mut notes);
        restore(&b, &mut notes);
        let mut totals = Vec::new();
        let mut reported = Vec::new();
        let mut own = Vec::new();
        let mut alone = Vec::new();
        let mut loops = Vec::new();
        for round in 0..TEST_ROUNDS {
            for side in [round % 2, 1 - round % 2] {
                if side == 0 {
                    let run = ours(&b, &format!("integ-test-{round}"), Some(test));
                    check_run(&b, &run, Some(test), &expected, false, &mut notes);
                    restore(&b, &mut notes);
                    totals.push(run.time);
                    reported.push(Duration::from_millis(step_ms(&run.json, |s| &s["test"]["duration_ms"])));
                    own.push(Duration::from_millis(step_ms(&run.json, |s| &s["own_ms"])));
                } else {
                    let (time, tree) = merge_loop(&b, Some(test));
                    same_tree(&b, "git merge --no-ff loop with the test", &tree, &expected);
                    loops.push(time);
                }
            }
            alone.extend((0..TEST_SAMPLES).map(|_| time_test(&b, test)));
        }
        with_tests.push((test, median(totals), median(alone), median(reported), median(own), median(loops)));
    }

    let reference = scratch_reference(&b);
    let queue = merge_queue(&b, &expected, &mut notes);

    // Not measured: --dry-run writes nothing, and --into main lands on main like the baseline.
    check_dry_run(&b, &mut notes);
    check_into_main(&b, &expected, &mut notes);

    println!("same final tree from every run of both sides: {expected}");
    let ours = median(ours_times);
    let ratio = baseline.as_secs_f64() / ours.as_secs_f64();
    println!(
        "integrate {TASKS} tasks, no test: git agent-integrate {:.1} ms, git merge --no-ff loop {:.1} ms: ratio {ratio:.1}x \
         (goal >= 5x) {}",
        ms(ours),
        ms(baseline),
        verdict(ratio >= 5.0)
    );
    println!(
        "with a test: overhead per step = (total - {TASKS} x the test's own time) / {TASKS}, where the test's own time \
         is `sh -c CMD` run directly by this benchmark in a checkout of the same tree; the overhead includes the \
         merge, updating the warm scratch slot (created once, on the first run, and kept) and starting and waiting for the test"
    );
    println!(
        "  for reference, git itself: adding and removing a detached worktree of this repository {:.1} ms; checking \
         out the {TASKS} step commits in turn {:.1} ms right after adding it (an index younger than a second is \
         racily clean: git re-reads every file), {:.1} ms in a settled worktree",
        ms(reference.add_remove),
        ms(reference.fresh),
        ms(reference.settled)
    );
    for (test, total, alone, reported, own, loop_time) in with_tests {
        let n = TASKS as f64;
        let overhead = (ms(total) - n * ms(alone)) / n;
        println!(
            "  --test '{test}': total {:.1} ms; test {:.2} ms per run; overhead {overhead:.1} ms per step (without a \
             test {:.1} ms per step); the tool's JSON says test {:.1} ms and own_ms {:.1} ms per step; merge loop \
             running the test after each merge {:.1} ms: ratio {:.1}x",
            ms(total),
            ms(alone),
            ms(ours) / n,
            ms(reported) / n,
            ms(own) / n,
            ms(loop_time),
            loop_time.as_secs_f64() / total.as_secs_f64()
        );
    }
    for line in queue {
        println!("{line}");
    }
    for note in &notes.0 {
        println!("note: {note}");
    }
    finish(dir, started);
    std::process::exit(0);
}

/// Stops the benchmark at once: the repository is left in place for a look.
fn fail(b: &Bench, message: &str) -> ! {
    println!("{message}");
    println!("repository left in {} (remove it when done)", b.home.display());
    std::process::exit(1);
}

/// What the tool did wrong or surprisingly, each said once.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn add(&mut self, note: String) {
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The repository, the tasks and the state to go back to

struct Task {
    tip: String,
    commits: usize,
    files: usize,
}

struct Bench {
    home: PathBuf,
    repo: PathBuf,
    /// The baseline's worktree, on branch bench-baseline.
    baseline: PathBuf,
    /// main's commit: where both sides start.
    start: String,
    tasks: Vec<Task>,
    /// `git for-each-ref` after the set-up: restored after every run of the tool.
    refs: String,
    /// `git worktree list --porcelain` after the set-up.
    worktrees: String,
}

fn set_up(home: &Path, repo: &Path) -> Bench {
    git(home, repo, &["config", "agent.worktreeRoot", &home.join("tasks").to_string_lossy()]);
    let start = git(home, repo, &["rev-parse", "main"]).trim().to_string();
    for k in 1..=TASKS {
        agent(home, repo, &["spawn", &format!("t{k}"), "-q"]);
    }
    for (k, changes) in scenario().iter().enumerate() {
        let task = format!("t{}", k + 1);
        let worktree = home.join("tasks").join(&task);
        let commits = 1 + k % 2;
        for c in 0..commits {
            for change in changes.iter().skip(c).step_by(commits) {
                match change {
                    Change::Write { path, body } => {
                        let file = worktree.join(path);
                        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                        std::fs::write(file, body).unwrap();
                    }
                    Change::Delete(path) => std::fs::remove_file(worktree.join(path)).unwrap(),
                }
            }
            git(home, &worktree, &["add", "-A"]);
            // Interleaved across tasks, increasing within each, all after the base.
            let date = format!("{} +0000", BASE_DATE + 3600 + 60 * (c * TASKS + k) as u64);
            let mut commit = command(home, "git", &worktree);
            commit
                .args(["commit", "-q", "-m", &format!("{task}: step {}", c + 1)])
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date);
            run(commit);
        }
        agent(home, repo, &["done", &task, "-q"]);
    }
    // No measured command has a checked-out worktree to update: main is checked out nowhere.
    git(home, repo, &["switch", "-q", "-c", "parking"]);
    let baseline = home.join("baseline");
    git(home, repo, &["worktree", "add", "-q", "-b", "bench-baseline", &baseline.to_string_lossy(), &start]);

    // The scenario must be what it claims, or the comparison means little.
    let listed: serde_json::Value = serde_json::from_str(&agent(home, repo, &["list", "--json"])).unwrap();
    let states: Vec<(String, String)> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["state"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> = (1..=TASKS).map(|k| (format!("t{k}"), "done".to_string())).collect();
    assert_eq!(states, want, "git agent list --json after the set-up");
    let tasks: Vec<Task> = (1..=TASKS)
        .map(|k| {
            let branch = format!("agent/t{k}");
            let tip = git(home, repo, &["rev-parse", &branch]).trim().to_string();
            let range = format!("{start}..{branch}");
            let commits: usize = git(home, repo, &["rev-list", "--count", &range]).trim().parse().unwrap();
            let files = git(home, repo, &["diff", "--name-only", &start, &branch]).lines().count();
            assert!((1..=2).contains(&commits) && (3..=20).contains(&files), "t{k}: {commits} commits, {files} files");
            Task { tip, commits, files }
        })
        .collect();
    // Packed once more (the task commits too), and no automatic gc in the middle of a timing.
    git(home, repo, &["gc", "-q"]);
    git(home, repo, &["config", "gc.auto", "0"]);
    let refs = refs(home, repo);
    let worktrees = git(home, repo, &["worktree", "list", "--porcelain"]);
    Bench { home: home.to_path_buf(), repo: repo.to_path_buf(), baseline, start, tasks, refs, worktrees }
}

/// Every ref and its value, one a line, but the baseline's scratch branch (which its merges move).
fn refs(home: &Path, repo: &Path) -> String {
    let all = git(home, repo, &["for-each-ref", "--format=%(refname) %(objectname)"]);
    all.lines().filter(|l| !l.starts_with("refs/heads/bench-baseline ")).map(|l| format!("{l}\n")).collect()
}

/// Puts every ref back as it was after the set-up (task records, notes, branches: the tool's
/// integration branch goes), and removes any worktree the tool left behind (noted).
fn restore(b: &Bench, notes: &mut Notes) {
    let now = refs(&b.home, &b.repo);
    let parse = |text: &str| -> Vec<(String, String)> {
        text.lines().map(|l| l.split_once(' ').unwrap()).map(|(r, o)| (r.to_string(), o.to_string())).collect()
    };
    let (before, after) = (parse(&b.refs), parse(&now));
    let mut transaction = String::new();
    for (name, value) in &after {
        match before.iter().find(|(n, _)| n == name) {
            None => writeln!(transaction, "delete {name} {value}").unwrap(),
            Some((_, old)) if old != value => writeln!(transaction, "update {name} {old} {value}").unwrap(),
            Some(_) => {}
        }
    }
    for (name, value) in &before {
        if !after.iter().any(|(n, _)| n == name) {
            writeln!(transaction, "create {name} {value}").unwrap();
        }
    }
    if !transaction.is_empty() {
        let mut update = command(&b.home, "git", &b.repo);
        update.args(["update-ref", "--stdin"]);
        run_input(update, transaction.into_bytes());
    }
    // integrate's scratch slots (<root>/.integrate/) stay between runs on purpose: warm.
    let worktrees = git(&b.home, &b.repo, &["worktree", "list", "--porcelain"]);
    if worktrees != b.worktrees {
        let known: BTreeSet<&str> = b.worktrees.lines().filter_map(|l| l.strip_prefix("worktree ")).collect();
        let extras = worktrees.lines().filter_map(|l| l.strip_prefix("worktree ")).filter(|w| !known.contains(w));
        for extra in extras.filter(|w| !w.contains("/.integrate/")) {
            notes.add(format!("a worktree was left behind after a run (removed by the benchmark): {extra}"));
            git(&b.home, &b.repo, &["worktree", "remove", "--force", "--force", extra]);
        }
        git(&b.home, &b.repo, &["worktree", "prune"]);
    }
}

// ---------------------------------------------------------------------------------------------
// The two sides

/// The baseline: reset the scratch branch to main's commit (not timed), then the merges (timed),
/// each followed by the test when there is one. Returns the time and the final tree.
fn merge_loop(b: &Bench, test: Option<&str>) -> (Duration, String) {
    git(&b.home, &b.baseline, &["reset", "-q", "--hard", &b.start]);
    let (time, ()) = timed(|| {
        for k in 1..=TASKS {
            git(
                &b.home,
                &b.baseline,
                &["merge", "--no-ff", "-q", "-m", &format!("Merge task t{k}"), &format!("agent/t{k}")],
            );
            if let Some(test) = test {
                let mut sh = command(&b.home, "sh", &b.baseline);
                sh.args(["-c", test]);
                run(sh);
            }
        }
    });
    let range = format!("{}..HEAD", b.start);
    let merges = git(&b.home, &b.baseline, &["rev-list", "--count", "--merges", &range]);
    assert_eq!(merges.trim(), TASKS.to_string(), "the baseline made {merges} merge commits");
    (time, git(&b.home, &b.baseline, &["rev-parse", "HEAD^{tree}"]).trim().to_string())
}

/// The test command alone, as the tool runs it: `sh -c CMD` with its output captured, in a
/// checkout of the same tree (the baseline's worktree).
fn time_test(b: &Bench, test: &str) -> Duration {
    let mut sh = command(&b.home, "sh", &b.baseline);
    sh.args(["-c", test]);
    timed(|| run(sh)).0
}

struct Run {
    branch: String,
    time: Duration,
    json: serde_json::Value,
}

/// Ours: `git agent-integrate --branch BRANCH --json [--test CMD]`, timed. Any failure stops the
/// benchmark with the tool's output.
fn ours(b: &Bench, branch: &str, test: Option<&str>) -> Run {
    ours_with(b, branch, test, &[], 0)
}

/// [`ours`] with more arguments, expecting exit status `code`.
fn ours_with(b: &Bench, branch: &str, test: Option<&str>, extra: &[&str], code: i32) -> Run {
    let mut c = command(&b.home, "git", &b.repo);
    c.args(["agent-integrate", "--branch", branch, "--json"]);
    if let Some(test) = test {
        c.args(["--test", test]);
    }
    c.args(extra);
    let shown = format!(
        "git agent-integrate --branch {branch} --json{} {}",
        test.map(|t| format!(" --test '{t}'")).unwrap_or_default(),
        extra.join(" ")
    );
    let (time, out) = timed(|| output_within(c, LIMIT));
    let Some(out) = out else {
        fail(b, &format!("`{shown}` took more than {} s and was killed", LIMIT.as_secs()));
    };
    if out.status.code() != Some(code) {
        fail(
            b,
            &format!(
                "`{shown}` exited {} (expected {code})\nstderr: {}\nstdout: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end(),
                String::from_utf8_lossy(&out.stdout).trim_end()
            ),
        );
    }
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        fail(b, &format!("`{shown}` printed no JSON object ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    });
    Run { branch: branch.to_string(), time, json }
}

/// The sum over the steps of a number the tool reports per step (test.duration_ms, own_ms).
fn step_ms(json: &serde_json::Value, field: impl Fn(&serde_json::Value) -> &serde_json::Value) -> u64 {
    json["steps"].as_array().into_iter().flatten().filter_map(|s| field(s).as_u64()).sum()
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Stops the benchmark when a run did not end at the expected tree, printing the difference.
fn same_tree(b: &Bench, what: &str, tree: &str, expected: &str) {
    if tree == expected {
        return;
    }
    let stat = git(&b.home, &b.repo, &["diff", "--shortstat", expected, tree]);
    let names = git(&b.home, &b.repo, &["diff", "--name-status", expected, tree]);
    let names: Vec<&str> = names.lines().take(40).collect();
    fail(
        b,
        &format!(
            "{what} ended at tree {tree}, the baseline at {expected}: no ratios.\n\
             git diff --name-status <baseline> <ours> (first 40):\n{}\n{}",
            names.join("\n"),
            stat.trim_end()
        ),
    );
}

/// Checks a run of the tool: the final tree (fatal), and the rest of the contract (noted).
/// `thorough` also reads the notes and the task records.
fn check_run(b: &Bench, run: &Run, test: Option<&str>, expected: &str, thorough: bool, notes: &mut Notes) {
    let (home, repo) = (&b.home, &b.repo);
    let reference = format!("refs/heads/{}", run.branch);
    let head = match git_code(home, repo, &["rev-parse", "--verify", "-q", &reference]) {
        (0, out) => out.trim().to_string(),
        _ => fail(b, &format!("the run did not create {reference}; it printed {}", run.json)),
    };
    let tree = git(home, repo, &["rev-parse", &format!("{head}^{{tree}}")]).trim().to_string();
    same_tree(b, &format!("git agent-integrate --branch {}", run.branch), &tree, expected);

    let json = &run.json;
    let mut note = |text: String| notes.add(text);
    if json["version"] != 1 || json["landed"] != true || json["dry_run"] != false || json["strategy"] != "merge" {
        note(format!(
            "JSON: version {}, landed {}, dry_run {}, strategy {} (expected 1, true, false, \"merge\")",
            json["version"], json["landed"], json["dry_run"], json["strategy"]
        ));
    }
    if json["target"]["after"] != head.as_str() {
        note(format!("JSON target.after is {}, the branch is at {head}", json["target"]["after"]));
    }
    if json["target"]["before"] != b.start.as_str() {
        note(format!(
            "--branch (new branch from main): JSON target is {}, expected before = main's commit",
            json["target"]
        ));
    }
    if json["skipped"].as_array().is_none_or(|s| !s.is_empty()) {
        note(format!("JSON skipped is {}, expected []", json["skipped"]));
    }
    // The merge commits on the first-parent chain, oldest first.
    let range = format!("{}..{head}", b.start);
    let log = git(home, repo, &["log", "--first-parent", "--reverse", "--format=%H %T %P%x09%s", &range]);
    let chain: Vec<(Vec<&str>, &str)> = log
        .lines()
        .map(|l| {
            let (ids, subject) = l.split_once('\t').unwrap();
            (ids.split(' ').collect(), subject)
        })
        .collect();
    if chain.len() != TASKS {
        note(format!("{} commits on the first-parent chain from main to the result, expected {TASKS}", chain.len()));
    }
    let steps = json["steps"].as_array().map_or(&[][..], Vec::as_slice);
    if steps.len() != TASKS {
        note(format!("{} steps in the JSON, expected {TASKS}", steps.len()));
    }
    let mut previous = b.start.as_str();
    for (k, task) in b.tasks.iter().enumerate() {
        let name = format!("t{}", k + 1);
        if let Some((ids, subject)) = chain.get(k) {
            let want = format!("Merge task {name} (agent/{name})");
            if ids.len() != 4 || ids[2] != previous || ids[3] != task.tip || *subject != want {
                note(format!(
                    "merge commit {k} is `{} {subject}`, expected parents {previous} {} and message \"{want}\"",
                    ids.join(" "),
                    task.tip
                ));
            }
            previous = ids[0];
        }
        let Some(step) = steps.get(k) else { continue };
        if step["task"] != name.as_str() || step["status"] != "merged" {
            note(format!("step {k} is task {} status {}, expected {name} merged", step["task"], step["status"]));
        }
        if let Some((ids, _)) = chain.get(k)
            && (step["commit"] != ids[0] || step["tree"] != ids[1])
        {
            note(format!(
                "step {name}: commit {} tree {}, the chain has {} {}",
                step["commit"], step["tree"], ids[0], ids[1]
            ));
        }
        if step["conflicts"].as_array().is_none_or(|c| !c.is_empty()) || !step["rule"].is_null() {
            note(format!("step {name}: conflicts {} rule {}, expected [] and null", step["conflicts"], step["rule"]));
        }
        let t = &step["test"];
        match test {
            None if !t.is_null() => note(format!("step {name} without --test has test {t}")),
            Some(cmd)
                if t["command"] != cmd
                    || t["exit"] != 0
                    || t["cached"] != false
                    || t["timed_out"] != false
                    || !t["duration_ms"].is_u64() =>
            {
                note(format!("step {name} with --test '{cmd}': test {t}"))
            }
            _ => {}
        }
    }

    // Nothing else moved: main, the task branches, the parked main worktree.
    let now = refs(home, repo);
    let was: BTreeSet<&str> = b.refs.lines().filter(|l| l.starts_with("refs/heads/")).collect();
    let is: BTreeSet<&str> =
        now.lines().filter(|l| l.starts_with("refs/heads/") && !l.starts_with(&format!("{reference} "))).collect();
    if was != is {
        note(format!(
            "branches changed by --branch {}: before {:?}, after {:?}",
            run.branch,
            was.difference(&is).collect::<Vec<_>>(),
            is.difference(&was).collect::<Vec<_>>()
        ));
    }
    if git(home, repo, &["symbolic-ref", "HEAD"]).trim() != "refs/heads/parking"
        || !git(home, repo, &["status", "--porcelain"]).is_empty()
    {
        note("the main worktree (on branch parking) was changed".to_string());
    }

    if thorough {
        for step in steps {
            let (Some(commit), Some(tree)) = (step["commit"].as_str(), step["tree"].as_str()) else { continue };
            match git_code(home, repo, &["notes", "--ref", "agent", "show", commit]) {
                (0, text) => match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v) if v["task"] == step["task"] && v["commit"] == commit => {}
                    _ => note(format!("the note on step {}'s commit is {}", step["task"], text.trim())),
                },
                _ => note(format!("no note under refs/notes/agent on step {}'s commit", step["task"])),
            }
            if let Some(cmd) = test {
                match git_code(home, repo, &["notes", "--ref", "agent", "show", tree]) {
                    (0, text) => match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(v) if v["command"] == cmd && v["exit"] == 0 => {}
                        _ => note(format!("the test note on step {}'s tree is {}", step["task"], text.trim())),
                    },
                    _ => note(format!("no test note under refs/notes/agent on step {}'s tree", step["task"])),
                }
            }
        }
        let record = git(home, repo, &["show", "refs/agent/tasks/t1:task.json"]);
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        let mine = steps.first().map_or(serde_json::Value::Null, |s| s["commit"].clone());
        let what = if record["integrated_commit"] == mine {
            "its step's commit".to_string()
        } else {
            record["integrated_commit"].to_string()
        };
        note(format!(
            "(information) after a `--branch` run the record of t1 says state {}, integrated_commit {what}",
            record["state"]
        ));
    }
}

/// `--dry-run --json`: every step "would-merge", and no ref, note, record or worktree written.
fn check_dry_run(b: &Bench, notes: &mut Notes) {
    let mut c = command(&b.home, "git", &b.repo);
    c.args(["agent-integrate", "--branch", "integ-dry", "--dry-run", "--json"]);
    let Some(out) = output_within(c, LIMIT) else {
        notes.add("--dry-run hung (killed)".to_string());
        return;
    };
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let statuses: Vec<&str> =
        json["steps"].as_array().into_iter().flatten().filter_map(|s| s["status"].as_str()).collect();
    if !out.status.success() || statuses != ["would-merge"; TASKS] || json["dry_run"] != true {
        notes.add(format!(
            "--dry-run --json exited {}, dry_run {}, statuses {statuses:?}: {}",
            out.status,
            json["dry_run"],
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let now = refs(&b.home, &b.repo);
    if now != b.refs {
        let was: BTreeSet<&str> = b.refs.lines().collect();
        let changed: Vec<&str> = now.lines().filter(|l| !was.contains(l)).collect();
        notes.add(format!("--dry-run wrote refs: {changed:?}"));
    }
    restore(b, notes);
}

/// `--into main --json` (main checked out nowhere): lands on main at the same tree, the parked
/// main worktree untouched. Then main is put back.
fn check_into_main(b: &Bench, expected: &str, notes: &mut Notes) {
    let mut c = command(&b.home, "git", &b.repo);
    c.args(["agent-integrate", "--into", "main", "--json"]);
    let Some(out) = output_within(c, LIMIT) else {
        notes.add("--into main hung (killed)".to_string());
        return;
    };
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let main = git(&b.home, &b.repo, &["rev-parse", "main"]).trim().to_string();
    let tree = git(&b.home, &b.repo, &["rev-parse", "main^{tree}"]).trim().to_string();
    if !out.status.success() || json["target"]["after"] != main.as_str() || tree != expected {
        notes.add(format!(
            "--into main --json exited {}, main at {main} (tree {tree}, expected {expected}), JSON target {}: {}",
            out.status,
            json["target"],
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if git(&b.home, &b.repo, &["symbolic-ref", "HEAD"]).trim() != "refs/heads/parking"
        || !git(&b.home, &b.repo, &["status", "--porcelain"]).is_empty()
    {
        notes.add("--into main changed the main worktree (on branch parking)".to_string());
    }
    // Each landed task's record: state integrated, integrated_commit its step's commit.
    let steps = json["steps"].as_array().map_or(&[][..], Vec::as_slice);
    for (k, step) in steps.iter().enumerate() {
        let shown = git(&b.home, &b.repo, &["show", &format!("refs/agent/tasks/t{}:task.json", k + 1)]);
        let record: serde_json::Value = serde_json::from_str(&shown).unwrap();
        if record["state"] != "integrated" || record["integrated_commit"] != step["commit"] {
            notes.add(format!(
                "after --into main the record of t{} says state {}, integrated_commit {} (its step's commit {})",
                k + 1,
                record["state"],
                record["integrated_commit"],
                step["commit"]
            ));
        }
    }
    restore(b, notes);
}

/// For reference, what a scratch worktree costs with git itself: adding and removing a detached
/// worktree of this repository, and checking out the step commits in turn (as the baseline made
/// them) right after adding it, and in a worktree that has settled (the baseline's).
struct Reference {
    add_remove: Duration,
    fresh: Duration,
    settled: Duration,
}

fn scratch_reference(b: &Bench) -> Reference {
    let path = b.home.join("reference-scratch");
    let shown = path.to_string_lossy();
    merge_loop(b, None);
    let range = format!("{}..HEAD", b.start);
    let chain = git(&b.home, &b.baseline, &["log", "--first-parent", "--reverse", "--format=%H", &range]);
    let checkouts = |worktree: &Path| {
        timed(|| {
            for commit in chain.lines() {
                git(&b.home, worktree, &["checkout", "-q", "--detach", "--force", commit]);
            }
        })
        .0
    };
    let (mut add_remove, mut fresh, mut settled) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let (add, _) = timed(|| git(&b.home, &b.repo, &["worktree", "add", "-q", "--detach", &shown, &b.start]));
        fresh.push(checkouts(&path));
        let (remove, _) = timed(|| git(&b.home, &b.repo, &["worktree", "remove", "--force", &shown]));
        add_remove.push(add + remove);
        git(&b.home, &b.baseline, &["checkout", "-q", "--detach", &b.start]);
        settled.push(checkouts(&b.baseline));
    }
    git(&b.home, &b.baseline, &["checkout", "-q", "bench-baseline"]);
    Reference { add_remove: median(add_remove), fresh: median(fresh), settled: median(settled) }
}

// ---------------------------------------------------------------------------------------------
// The scenario: what each task changes

enum Change {
    Write { path: String, body: String },
    Delete(String),
}

/// Per task (index K - 1): 3 to 16 edits in its own block of files (sometimes one is a deletion),
/// sometimes a new file, and the clean overlaps on the shared files: 3 to 18 files per task.
fn scenario() -> Vec<Vec<Change>> {
    let mut rng = Lcg(0x1a7e_6a7e);
    let block = (FILES - SHARED) / TASKS;
    let mut tasks: Vec<Vec<Change>> = (0..TASKS).map(|_| Vec::new()).collect();
    for (k, changes) in tasks.iter_mut().enumerate() {
        let count = 3 + rng.below(14);
        let mut own = BTreeSet::new();
        while own.len() < count {
            own.insert(k * block + rng.below(block));
        }
        for (j, &i) in own.iter().enumerate() {
            if j == 0 && rng.below(4) == 0 {
                changes.push(Change::Delete(file_path(i)));
            } else {
                let line = rng.below(LINES);
                let edit = format!("edited by t{}", k + 1);
                changes.push(Change::Write { path: file_path(i), body: body(i, &[(line, &edit)]) });
            }
        }
        if rng.below(3) == 0 {
            changes.push(Change::Write {
                path: format!("tasks/t{}/notes.md", k + 1),
                body: format!("notes of t{}\n", k + 1),
            });
        }
    }
    for (n, &(x, y)) in OVERLAPS.iter().enumerate() {
        let i = FILES - SHARED + n;
        for (t, line) in [(x, 2), (y, LINES - 3)] {
            let edit = format!("edited by t{}", t + 1);
            tasks[t].push(Change::Write { path: file_path(i), body: body(i, &[(line, &edit)]) });
        }
    }
    tasks
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Runs a command in its own process group; after `limit` the whole group is killed and None
/// returned.
fn output_within(mut command: Command, limit: Duration) -> Option<Output> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let child = command.spawn().unwrap_or_else(|e| panic!("{command:?} did not start: {e}"));
    let group = format!("-{}", child.id());
    let (done, wait) = channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let expired = wait.recv_timeout(limit) == Err(RecvTimeoutError::Timeout);
        if expired {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
        expired
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    (!watchdog.join().unwrap()).then_some(out)
}

/// A git command that may fail: its exit status and stdout.
fn git_code(home: &Path, cwd: &Path, args: &[&str]) -> (i32, String) {
    let mut command = command(home, "git", cwd);
    command.args(args).stderr(Stdio::null());
    let out = command.output().unwrap_or_else(|e| panic!("{command:?} did not start: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

// ---------------------------------------------------------------------------------------------
// The merge queue (issue 10): parallel step tests, testing the end result, bisection

/// Repetitions of each merge-queue measurement (each takes seconds: the tests sleep).
const QUEUE_ROUNDS: usize = 3;

/// A slow test that does not compete for CPU, logging each run to `log`.
fn sleepy(log: &Path) -> String {
    format!("echo run >> {}; sleep 1", log.display())
}

/// Like [`sleepy`], but failing once `tip` is in the tested commit's history.
fn sleepy_failing_on(log: &Path, tip: &str) -> String {
    format!("echo run >> {}; sleep 1; ! git merge-base --is-ancestor {tip} HEAD", log.display())
}

/// About half a second of CPU work.
const CPU_TEST: &str = "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done";

fn runs_logged(log: &Path) -> usize {
    let runs = std::fs::read_to_string(log).map_or(0, |text| text.lines().count());
    let _ = std::fs::remove_file(log);
    runs
}

/// Measures `git agent-integrate` in the merge-queue modes against the seed's recipe (merge,
/// then test, per task) with the same test; returns the lines to print.
fn merge_queue(b: &Bench, expected: &str, notes: &mut Notes) -> Vec<String> {
    let log = b.home.join("queue-test-runs");
    let mut lines = vec![format!(
        "merge queue: {TASKS} tasks, test = `sleep 1` (a slow suite that does not compete for CPU), medians of \
         {QUEUE_ROUNDS} alternating repetitions"
    )];
    let test = sleepy(&log);
    let mut loop_times = Vec::new();
    let mut jobs4 = Vec::new();
    let mut end = Vec::new();
    let mut end_runs = Vec::new();
    for round in 0..QUEUE_ROUNDS {
        let (time, tree) = merge_loop(b, Some(&test));
        same_tree(b, "git merge --no-ff loop with sleep 1", &tree, expected);
        loop_times.push(time);
        let _ = runs_logged(&log);
        for (extra, times) in [(&["--jobs", "4"][..], &mut jobs4), (&["--test-at", "end"][..], &mut end)] {
            let run = ours_with(b, &format!("queue-{round}"), Some(&test), extra, 0);
            if extra[0] == "--jobs" {
                check_run(b, &run, Some(&test), expected, false, notes);
            } else {
                // Only the end result is tested: the steps before carry no test.
                let tree = run.json["steps"][TASKS - 1]["tree"].as_str().unwrap_or_default().to_owned();
                same_tree(b, "git agent-integrate --test-at end", &tree, expected);
            }
            restore(b, notes);
            times.push(run.time);
            if extra[0] == "--test-at" {
                end_runs.push(runs_logged(&log));
            } else {
                let _ = runs_logged(&log);
            }
        }
    }
    let (baseline, jobs4, end) = (median(loop_times), median(jobs4), median(end));
    let ratio = |ours: Duration| baseline.as_secs_f64() / ours.as_secs_f64();
    lines.push(format!(
        "  merge loop with the test after each merge {:.0} ms; --jobs 4 {:.0} ms: ratio {:.1}x (goal >= 3x) {}",
        ms(baseline),
        ms(jobs4),
        ratio(jobs4),
        verdict(ratio(jobs4) >= 3.0)
    ));
    let one_run = end_runs.iter().all(|&n| n == 1);
    lines.push(format!(
        "  --test-at end, all passing {:.0} ms: ratio {:.1}x (goal >= 6x) {}; test runs {end_runs:?} (goal 1) {}",
        ms(end),
        ratio(end),
        verdict(ratio(end) >= 6.0),
        verdict(one_run)
    ));

    // One failing task (the fifth): bisection names it in at most 1 + ceil(log2 8) = 4 runs.
    let failing = &b.tasks[4].tip;
    let test = sleepy_failing_on(&log, failing);
    let run = ours_with(b, "queue-failing", Some(&test), &["--test-at", "end"], 1);
    restore(b, notes);
    let runs = runs_logged(&log);
    let last = run.json["steps"].as_array().and_then(|s| s.last()).cloned().unwrap_or_default();
    let named = last["task"] == "t5" && last["status"] == "test-failed";
    lines.push(format!(
        "  --test-at end, t5 failing: {:.0} ms, {runs} test runs (goal <= 4) {}, first failing task {} {}",
        ms(run.time),
        verdict(runs <= 4),
        last["task"],
        verdict(named)
    ));

    // A CPU-bound test: what parallel tests buy on this machine's cores.
    let mut loop_cpu = Vec::new();
    let mut jobs = [Vec::new(), Vec::new()];
    for round in 0..QUEUE_ROUNDS {
        let (time, _) = merge_loop(b, Some(CPU_TEST));
        loop_cpu.push(time);
        for (i, n) in ["1", "2"].iter().enumerate() {
            let run = ours_with(b, &format!("queue-cpu-{round}-{n}"), Some(CPU_TEST), &["--jobs", n], 0);
            restore(b, notes);
            jobs[i].push(run.time);
        }
    }
    let loop_cpu = median(loop_cpu);
    let [one, two] = jobs.map(median);
    lines.push(format!(
        "  CPU-bound test (~0.5 s of shell arithmetic): merge loop {:.0} ms; --jobs 1 {:.0} ms: ratio {:.2}x; \
         --jobs 2 {:.0} ms: ratio {:.2}x ({} cores)",
        ms(loop_cpu),
        ms(one),
        loop_cpu.as_secs_f64() / one.as_secs_f64(),
        ms(two),
        loop_cpu.as_secs_f64() / two.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    lines
}
