//! Benchmark for issue "git agent sync": 100 tasks with 10 events each on both sides, synced
//! after concurrent changes, against pushing each ref on its own; it reports the time and the
//! number of git round trips (goal: at most 2 round trips per sync, and faster than the
//! per-ref baseline).
//!
//! The scenario: a bare remote; clone A spawns 100 tasks from a plan (`--no-agent`), 10 of
//! them get a commit, A syncs, clone B syncs (and so has every record and branch). Then both
//! sides change every record concurrently, unsynced: 10 `agent-exit` events per task on each
//! side (written through the library's `state::update_record`, as `git agent spawn` does when
//! an agent exits; exit codes 100..109 in A and 200..209 in B so that every event can be
//! found again), A commits once more on 20 task branches (in their worktrees), and each side
//! adds a note to main's commit under refs/notes/agent. That state is copied for every
//! repetition of each side, so both start from the same refs.
//!
//! What is measured, per repetition, on a fresh copy:
//! - ours: `git agent sync --json` in A (pushes 100 records and 20 branches in one push), in B
//!   (one fetch, 100 operation-log merges, a notes merge, one push), and in A again (one fetch,
//!   100 fast-forwards); wall time of the three, and the round trips each reports;
//! - baseline: what a script pushing each ref on its own does, in the same three places: for
//!   every ref sync covers (100 records, 100 task branches, the notes), `git fetch origin <ref>`
//!   then `git push origin <ref>`. It cannot join diverged records, so B's record pushes are
//!   refused (counted and printed) and nothing ends in sync: only its round trips and time
//!   compare.
//!
//! After our three syncs, A, B and the remote must have the same refs/agent/tasks/* and
//! refs/notes/agent, and every record's operation log must hold all 20 events of its task;
//! otherwise the benchmark says what differs and exits 1.
//!
//! Run: `cargo bench --bench sync` (release build). The repositories go to /dev/shm when it
//! exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1 keeps them. Both sides
//! are measured in the same run, alternating, and medians are compared.

#[path = "support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use git_agent::oplog::{Change, history_ops};
use support::{agent, bench_dir, command, finish, git, median, ms, run, run_code, timed, verdict};

const TASKS: usize = 100;
/// Events per task on each side.
const EVENTS: usize = 10;
/// Tasks with a commit before the first sync, and tasks A commits on concurrently.
const COMMITTED_BEFORE: usize = 10;
const COMMITTED_AFTER: usize = 20;
/// Repetitions of each side, alternating; medians are compared.
const ROUNDS: usize = 3;

fn main() {
    let started = Instant::now();
    let dir = bench_dir("git-agent-bench-sync");
    let home = dir.path().to_path_buf();
    std::fs::write(
        home.join(".gitconfig"),
        "[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n\
         [commit]\n\tgpgsign = false\n",
    )
    .unwrap();
    let state = home.join("state");
    setup(&home, &state);
    println!(
        "scenario: {TASKS} tasks, {EVENTS} events per task on each side ({} record commits unsynced), \
         {COMMITTED_AFTER} task branches ahead in A, a note on each side",
        2 * TASKS * EVENTS
    );

    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    let mut ours_trips = Vec::new();
    let mut ours_each = Vec::new();
    let mut baseline_trips = 0;
    let mut refused = 0;
    let mut problems = Vec::new();
    for round in 0..ROUNDS {
        let copy = copy_state(&home, &state, &format!("ours-{round}"));
        let synced = ours_round(&home, &copy);
        if round == 0 {
            problems.extend(check(&home, &copy, &synced));
        }
        ours.push(synced.time);
        ours_trips.push(synced.trips);
        ours_each.push(synced.each);
        let _ = std::fs::remove_dir_all(&copy);

        let copy = copy_state(&home, &state, &format!("baseline-{round}"));
        let (time, (trips, rejected)) = timed(|| baseline_round(&home, &copy));
        baseline.push(time);
        (baseline_trips, refused) = (trips, rejected);
        let _ = std::fs::remove_dir_all(&copy);
    }

    let trips = ours_trips[0];
    let each = [0, 1, 2].map(|k| ms(median(ours_each.iter().map(|e| e[k]).collect())));
    let (ours, baseline) = (median(ours), median(baseline));
    let ratio = baseline.as_secs_f64() / ours.as_secs_f64();
    let at_most_two = ours_trips.iter().flatten().all(|&t| t <= 2);
    println!(
        "git agent sync, A then B then A: {:.0} ms ({:.0} + {:.0} + {:.0}), round trips {trips:?} = {} \
         (goal <= 2 per sync) {}",
        ms(ours),
        each[0],
        each[1],
        each[2],
        trips.iter().sum::<usize>(),
        verdict(at_most_two)
    );
    println!(
        "per-ref baseline (`git fetch origin <ref>` + `git push origin <ref>` for each of {} refs, A then B then A): \
         {:.0} ms, {baseline_trips} round trips; it cannot join diverged records: {refused} pushes refused, \
         so it never reaches the state ours does",
        2 * TASKS + 1,
        ms(baseline)
    );
    println!(
        "ratio {ratio:.1}x faster, {:.0}x fewer round trips (goal: faster than the baseline) {}",
        baseline_trips as f64 / trips.iter().sum::<usize>() as f64,
        verdict(ratio > 1.0)
    );
    let failed = !problems.is_empty();
    if failed {
        println!("CORRECTNESS PROBLEMS:");
        for problem in &problems {
            println!("  {problem}");
        }
    } else {
        println!(
            "correctness: A, B and the remote hold the same records and notes, each with all {} events",
            2 * EVENTS
        );
    }
    finish(dir, started);
    if failed {
        std::process::exit(1);
    }
}

/// The remote, A with 100 tasks synced, B synced, then the concurrent unsynced changes.
fn setup(home: &Path, state: &Path) {
    std::fs::create_dir_all(state).unwrap();
    let remote = state.join("remote.git");
    let (a, b) = (state.join("a"), state.join("b"));
    let seed = state.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(home, &seed, &["init", "-q"]);
    for i in 0..TASKS {
        std::fs::create_dir_all(seed.join(format!("m{i}"))).unwrap();
        std::fs::write(seed.join(format!("m{i}/README")), format!("module {i}\n")).unwrap();
    }
    git(home, &seed, &["add", "-A"]);
    git(home, &seed, &["commit", "-q", "-m", "initial"]);
    git(home, state, &["clone", "-q", "--bare", "seed", "remote.git"]);
    std::fs::remove_dir_all(&seed).unwrap();
    for side in [&a, &b] {
        git(home, state, &["clone", "-q", &remote.to_string_lossy(), &side.to_string_lossy()]);
    }

    let tasks: Vec<serde_json::Value> = (0..TASKS)
        .map(|i| {
            serde_json::json!({
                "name": task(i), "brief": format!("work on module {i}"),
                "scope": [format!("m{i}/")], "acceptance": ["it builds"],
            })
        })
        .collect();
    let plan = serde_json::json!({ "version": 1, "base": "main", "tasks": tasks });
    let plan_file = home.join("plan.json");
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    agent(home, &a, &["spawn", "--plan", &plan_file.to_string_lossy(), "--no-agent", "--no-setup", "-q"]);
    for i in 0..COMMITTED_BEFORE {
        commit_on(home, &a, i, "first");
    }
    sync_json(home, &a);
    sync_json(home, &b);

    // The concurrent changes, unsynced.
    for (side, name, base) in [(&a, "A", 100), (&b, "B", 200)] {
        let repo = gix::open(side).unwrap();
        for i in 0..TASKS {
            for k in 0..EVENTS {
                git_agent::state::update_record(&repo, &task(i), |_| {
                    Ok(Change::AgentExited { exit: Some(base + k as i32), command: vec![] })
                })
                .unwrap();
            }
        }
        git(home, side, &["notes", "--ref", "agent", "add", "-m", &format!("note from side {name}"), "HEAD"]);
    }
    for i in 0..COMMITTED_AFTER {
        commit_on(home, &a, i, "second");
    }
}

fn task(i: usize) -> String {
    format!("t{i}")
}

/// A commit on task i's branch, in its worktree in A.
fn commit_on(home: &Path, a: &Path, i: usize, what: &str) {
    let worktree = a.with_extension("agents").join(task(i));
    std::fs::write(worktree.join(format!("m{i}/README")), format!("module {i}, {what} change\n")).unwrap();
    git(home, &worktree, &["commit", "-q", "-am", &format!("{what} change of t{i}")]);
}

/// A copy of the starting state in `home`/`name`, its clones pointing at its own remote.
fn copy_state(home: &Path, state: &Path, name: &str) -> PathBuf {
    let copy = home.join(name);
    let mut cp = Command::new("cp");
    cp.args(["-a", &state.to_string_lossy(), &copy.to_string_lossy()]);
    run(cp);
    let remote = copy.join("remote.git");
    for side in ["a", "b"] {
        git(home, &copy.join(side), &["remote", "set-url", "origin", &remote.to_string_lossy()]);
    }
    copy
}

struct Ours {
    time: Duration,
    /// The syncs in A, B and A.
    each: [Duration; 3],
    /// Round trips of the syncs in A, B and A.
    trips: [usize; 3],
    /// Their JSON reports.
    reports: Vec<serde_json::Value>,
}

fn ours_round(home: &Path, copy: &Path) -> Ours {
    let (a, b) = (copy.join("a"), copy.join("b"));
    let mut reports = Vec::new();
    let mut each = [Duration::ZERO; 3];
    for (k, side) in [&a, &b, &a].into_iter().enumerate() {
        let (time, report) = timed(|| sync_json(home, side));
        each[k] = time;
        reports.push(report);
    }
    let trips = [0, 1, 2].map(|k| reports[k]["sync"]["round_trips"].as_u64().unwrap_or(99) as usize);
    Ours { time: each.iter().sum(), each, trips, reports }
}

fn sync_json(home: &Path, side: &Path) -> serde_json::Value {
    let mut c = command(home, "git", side);
    c.args(["agent", "sync", "--json"]);
    let (_, stdout) = run_code(c, &[0]);
    serde_json::from_slice(&stdout).unwrap()
}

/// Fetch then push each ref on its own, in A, B and A; returns the round trips and how many
/// pushes the remote refused.
fn baseline_round(home: &Path, copy: &Path) -> (usize, usize) {
    let (a, b) = (copy.join("a"), copy.join("b"));
    let mut refs: Vec<String> = (0..TASKS).map(|i| format!("refs/agent/tasks/{}", task(i))).collect();
    refs.extend((0..TASKS).map(|i| format!("refs/heads/agent/{}", task(i))));
    refs.push("refs/notes/agent".into());
    let (mut trips, mut refused) = (0, 0);
    for side in [&a, &b, &a] {
        for name in &refs {
            // The remote may lack the ref (the notes before A's first push): git says so, 128.
            let mut fetch = command(home, "git", side);
            fetch.args(["fetch", "-q", "origin", name]).stderr(std::process::Stdio::null());
            run_code(fetch, &[0, 128]);
            let mut push = command(home, "git", side);
            push.args(["push", "-q", "origin", name]).stderr(std::process::Stdio::null());
            let (code, _) = run_code(push, &[0, 1]);
            refused += usize::from(code != 0);
            trips += 2;
        }
    }
    (trips, refused)
}

/// What is wrong after our three syncs in `copy`.
fn check(home: &Path, copy: &Path, ours: &Ours) -> Vec<String> {
    let mut problems = Vec::new();
    let listing = |repo: &Path| {
        git(home, repo, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/agent/tasks/", "refs/notes/agent"])
    };
    let (a, b, remote) = (copy.join("a"), copy.join("b"), copy.join("remote.git"));
    let in_a = listing(&a);
    if in_a != listing(&b) {
        problems.push("A and B differ in refs/agent/tasks/* or refs/notes/agent".to_string());
    }
    if in_a != listing(&remote) {
        problems.push("A and the remote differ in refs/agent/tasks/* or refs/notes/agent".to_string());
    }
    if in_a.lines().filter(|l| l.starts_with("refs/agent/tasks/")).count() != TASKS {
        problems.push(format!("A has not {TASKS} records:\n{in_a}"));
    }
    // Every record holds all 20 events, in A (and so in B and the remote, with the same refs).
    let repo = gix::open(&a).unwrap();
    let want: Vec<i32> = (100..100 + EVENTS as i32).chain(200..200 + EVENTS as i32).collect();
    for i in 0..TASKS {
        let name = task(i);
        let tip =
            repo.find_reference(format!("refs/agent/tasks/{name}").as_str()).unwrap().into_fully_peeled_id().unwrap();
        let ops = history_ops(&repo, &name, &[tip.detach()]).unwrap();
        let mut exits: Vec<i32> = ops
            .iter()
            .filter_map(|op| match op.change {
                Change::AgentExited { exit, .. } => exit,
                _ => None,
            })
            .collect();
        exits.sort();
        if exits != want {
            problems.push(format!("the record of {name} holds the exits {exits:?}"));
        }
    }
    // The notes of both sides, on main's commit.
    let note = git(home, &a, &["notes", "--ref", "agent", "show", "HEAD"]);
    if !(note.contains("side A") && note.contains("side B")) {
        problems.push(format!("the merged note holds {note:?}"));
    }
    // What each sync said it did.
    let moves = |k: usize, what: &str| {
        ours.reports[k]["sync"]["tasks"]
            .as_array()
            .map_or(0, |tasks| tasks.iter().filter(|t| t["record"] == what).count())
    };
    let expected = [(0, "pushed", TASKS), (1, "merged", TASKS), (2, "fetched", TASKS)];
    for (k, what, n) in expected {
        if moves(k, what) != n {
            problems.push(format!("sync {} reported {} records {what} (expected {n})", k + 1, moves(k, what)));
        }
    }
    let branches = |k: usize, what: &str| {
        ours.reports[k]["sync"]["tasks"]
            .as_array()
            .map_or(0, |tasks| tasks.iter().filter(|t| t["branch"] == what).count())
    };
    if branches(0, "pushed") != COMMITTED_AFTER || branches(1, "fetched") != COMMITTED_AFTER {
        problems.push(format!(
            "branches: A pushed {}, B fast-forwarded {} (expected {COMMITTED_AFTER} each)",
            branches(0, "pushed"),
            branches(1, "fetched")
        ));
    }
    for (k, report) in ours.reports.iter().enumerate() {
        if report["sync"]["attempts"] != 1 {
            problems.push(format!("sync {} took {} attempts", k + 1, report["sync"]["attempts"]));
        }
    }
    problems
}
