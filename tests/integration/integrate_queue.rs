//! integrate as a merge queue: parallel step tests (`--jobs`) with the outcome of a run one
//! test after another, `--test-at end` with bisection, `--retries` for flaky tests, the test's
//! environment, and progress lines that arrive while the run goes on.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::common::*;
use crate::integrate::{integrate_json, statuses, step};
use crate::spawn::agents_dir;

/// `count` independent done tasks t1..tN, each adding its own file; the tasks in `failing`
/// also add `<task>.fail`, which the test command [`FAILS_ON_FLAG`] rejects.
fn queue(env: &Env, name: &str, count: usize, failing: &[usize]) -> PathBuf {
    let repo = env.repo(name, &[("README", "queue\n")]);
    for i in 1..=count {
        let task = format!("t{i}");
        env.agent(&repo, &["spawn", &task, "-q"]).success();
        let wt = agents_dir(&repo).join(&task);
        let mut files = vec![(format!("{task}.txt"), format!("work of {task}\n"))];
        if failing.contains(&i) {
            files.push((format!("{task}.fail"), "breaks the build\n".to_owned()));
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
        env.commit(&wt, &files, &format!("{task}: work"));
        env.agent(&repo, &["done", &task, "-q"]).success();
    }
    repo
}

/// One more done task `name` in `repo` adding `<name>.txt`; returns its name.
fn queue_task(env: &Env, repo: &Path, name: &str) -> String {
    env.agent(repo, &["spawn", name, "-q"]).success();
    env.commit(&agents_dir(repo).join(name), &[(&format!("{name}.txt"), "work\n")], &format!("{name}: work"));
    env.agent(repo, &["done", name, "-q"]).success();
    name.to_owned()
}

/// Fails when any `*.fail` file is in the tree; logs every run to `$LOG` (one line per run).
const FAILS_ON_FLAG: &str = "echo \"$GIT_AGENT_TASK\" >> \"$LOG\"; ! ls *.fail >/dev/null 2>&1";

/// Runs integrate with `args` and the test log at `log`, asserting exit `code`.
fn run_logged(env: &Env, repo: &Path, log: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json", "--test", FAILS_ON_FLAG];
    all.extend_from_slice(args);
    let run = env.command("git", repo).env("LOG", log).arg("agent-integrate").args(&all).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(code),
        "{all:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

/// How many tests ran, by the log.
fn test_runs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// What must be equal between two runs of the same queue: per step the task, status and test
/// exit; what was skipped; whether it landed; the tasks integrated (by their records).
fn outcome(env: &Env, repo: &Path, json: &Value) -> Value {
    let steps: Vec<Value> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::json!([s["task"], s["status"], s["test"]["exit"], s["conflicts"]]))
        .collect();
    let integrated: Vec<String> = (1..=8)
        .map(|i| format!("t{i}"))
        .filter(|t| crate::spawn::record(env, repo, t)["state"] == "integrated")
        .collect();
    let notes = env.git(repo, &["notes", "--ref", "agent", "list"]).lines().count();
    serde_json::json!({
        "steps": steps, "skipped": json["skipped"], "landed": json["landed"],
        "integrated": integrated, "notes": notes,
        "main": env.git(repo, &["log", "--first-parent", "--format=%s", "main"]),
    })
}

#[test]
fn jobs_4_has_the_outcome_of_jobs_1_on_a_failing_chain() {
    let env = Env::new();
    for keep_going in [false, true] {
        let mut outcomes = Vec::new();
        for jobs in ["1", "4"] {
            let repo = queue(&env, &format!("q-{keep_going}-{jobs}"), 8, &[3, 6]);
            let log = env.path().join(format!("log-{keep_going}-{jobs}"));
            let mut args = vec!["--jobs", jobs];
            if keep_going {
                args.push("--keep-going");
            }
            let json = run_logged(&env, &repo, &log, &args, 1);
            outcomes.push(outcome(&env, &repo, &json));
        }
        assert_eq!(outcomes[0], outcomes[1], "--jobs 1 and --jobs 4 differ (keep going: {keep_going})");
        let steps = outcomes[0]["steps"].as_array().unwrap().clone();
        if keep_going {
            // Every task is tried; t3 and t6 fail, the other six land.
            assert_eq!(steps.len(), 8, "{steps:?}");
            assert_eq!(outcomes[0]["integrated"].as_array().unwrap().len(), 6, "{:#}", outcomes[0]);
        } else {
            // The first failure stops the run: t1, t2 merged, t3 failed, nothing landed.
            assert_eq!(steps.len(), 3, "{steps:?}");
            assert_eq!(steps[2][1], "test-failed");
            assert_eq!(outcomes[0]["landed"], false);
        }
    }
}

#[test]
fn parallel_tests_really_run_at_once() {
    // t1's test waits until t2's test has started: one after another it would time out.
    let env = Env::new();
    let repo = queue(&env, "parallel", 2, &[]);
    let marks = env.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let test = format!(
        "touch {m}/$GIT_AGENT_TASK; if [ $GIT_AGENT_TASK = t1 ]; then i=0; while [ ! -e {m}/t2 ]; do \
         i=$((i+1)); [ $i -gt 300 ] && exit 7; sleep 0.1; done; fi; exit 0",
        m = marks.display()
    );
    let json = integrate_json(&env, &repo, &["--jobs", "2", "--test", &test], 0);
    assert_eq!(statuses(&json), ["merged", "merged"], "{json:#}");
}

#[test]
fn test_at_end_tests_once_when_everything_passes() {
    let env = Env::new();
    let repo = queue(&env, "end-pass", 8, &[]);
    let log = env.path().join("log-end-pass");
    let json = run_logged(&env, &repo, &log, &["--test-at", "end"], 0);
    assert_eq!(json["landed"], true);
    assert_eq!(json["test_at"], "end");
    assert_eq!(test_runs(&log).len(), 1, "one test run for the end result");
    // The last step carries the test; the others were not tested one by one.
    assert_eq!(step(&json, "t8")["test"]["exit"], 0, "{json:#}");
    assert!(step(&json, "t1")["test"].is_null(), "{json:#}");
}

#[test]
fn test_at_end_bisects_to_the_failing_task_in_at_most_four_runs() {
    let env = Env::new();
    for failing in [1, 4, 8] {
        let repo = queue(&env, &format!("bisect-{failing}"), 8, &[failing]);
        let log = env.path().join(format!("log-bisect-{failing}"));
        let json = run_logged(&env, &repo, &log, &["--test-at", "end"], 1);
        let runs = test_runs(&log);
        assert!(runs.len() <= 4, "failing at {failing}: {} test runs ({runs:?})", runs.len());
        let last = json["steps"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["task"], format!("t{failing}"), "failing at {failing}: {json:#}");
        assert_eq!(last["status"], "test-failed");
        assert_eq!(json["landed"], false);
        assert_eq!(env.git(&repo, &["log", "--format=%s", "main"]).lines().count(), 1, "main unchanged");
    }
}

#[test]
fn test_at_end_with_keep_going_lands_everything_but_the_failing_task() {
    let env = Env::new();
    let repo = queue(&env, "end-keep", 8, &[4]);
    let log = env.path().join("log-end-keep");
    let json = run_logged(&env, &repo, &log, &["--test-at", "end", "--keep-going"], 1);
    assert_eq!(json["landed"], true, "{json:#}");
    assert_eq!(step(&json, "t4")["status"], "test-failed");
    let merged: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "merged")
        .map(|s| s["task"].as_str().unwrap())
        .collect();
    assert_eq!(merged, ["t1", "t2", "t3", "t5", "t6", "t7", "t8"]);
    // The rest was retested as it lands: the new end result passed.
    assert_eq!(step(&json, "t8")["test"]["exit"], 0, "{json:#}");
    assert!(!env.git(&repo, &["ls-tree", "--name-only", "main"]).contains("t4.fail"));
}

#[test]
fn a_tree_that_passed_before_is_not_tested_again_in_either_mode() {
    let env = Env::new();
    let repo = queue(&env, "cache", 2, &[]);
    let log = env.path().join("log-cache");
    // A branch run tests and records the trees; the same integration again reuses them.
    run_logged(&env, &repo, &log, &["--branch", "integration/a"], 0);
    assert_eq!(test_runs(&log).len(), 2);
    let json = run_logged(&env, &repo, &log, &["--branch", "integration/b", "--jobs", "2"], 0);
    assert_eq!(test_runs(&log).len(), 2, "no new test run");
    assert_eq!(step(&json, "t2")["test"]["cached"], true, "{json:#}");
    let json = run_logged(&env, &repo, &log, &["--branch", "integration/c", "--test-at", "end"], 0);
    assert_eq!(test_runs(&log).len(), 2, "no new test run");
    assert_eq!(step(&json, "t2")["test"]["cached"], true, "{json:#}");
}

#[test]
fn a_flaky_test_is_retried_and_the_note_says_so() {
    let env = Env::new();
    let repo = queue(&env, "flaky", 1, &[]);
    let seen = env.path().join("seen-once");
    // Fails the first time it runs, passes afterwards.
    let test = format!("if [ -e {s} ]; then exit 0; fi; touch {s}; exit 1", s = seen.display());
    let json = integrate_json(&env, &repo, &["--test", &test, "--branch", "integration/x"], 1);
    assert_eq!(step(&json, "t1")["test"]["attempts"], 1);
    std::fs::remove_file(&seen).unwrap();
    let json = integrate_json(&env, &repo, &["--test", &test, "--retries", "2"], 0);
    let test_run = &step(&json, "t1")["test"];
    assert_eq!(test_run["attempts"], 2, "{json:#}");
    let commit = step(&json, "t1")["commit"].as_str().unwrap().to_owned();
    let note: Value = serde_json::from_str(&env.git(&repo, &["notes", "--ref", "agent", "show", &commit])).unwrap();
    assert_eq!(note["attempts"], 2, "{note:#}");
}

#[test]
fn the_test_sees_its_step_task_target_and_a_port_per_slot() {
    let env = Env::new();
    let repo = queue(&env, "environment", 2, &[]);
    let log = env.path().join("env-log");
    // t1's test waits for t2's to start, so that both slots are in use.
    let test = format!(
        "echo \"$GIT_AGENT_STEP/$GIT_AGENT_STEPS $GIT_AGENT_TASK $GIT_AGENT_TARGET $GIT_AGENT_PORT\" >> {l}; \
         if [ $GIT_AGENT_TASK = t1 ]; then i=0; while [ $(wc -l < {l}) -lt 2 ]; do i=$((i+1)); \
         [ $i -gt 300 ] && exit 7; sleep 0.1; done; fi; exit 0",
        l = log.display()
    );
    integrate_json(&env, &repo, &["--test", &test, "--jobs", "2"], 0);
    let mut lines = test_runs(&log);
    lines.sort();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let ports: Vec<u16> = lines.iter().map(|l| l.rsplit(' ').next().unwrap().parse().unwrap()).collect();
    assert!(lines[0].starts_with("1/2 t1 main "), "{lines:?}");
    assert!(lines[1].starts_with("2/2 t2 main "), "{lines:?}");
    assert!(ports.iter().all(|p| *p > 0) && ports[0] != ports[1], "one port per slot: {lines:?}");
}

#[test]
fn progress_lines_arrive_while_the_run_goes_on() {
    // t2's test waits until the harness has read t1's final line from integrate's stderr:
    // if the lines came at the end only, it would time out and fail.
    let env = Env::new();
    let repo = queue(&env, "progress", 2, &[]);
    let go = env.path().join("go");
    let test = format!(
        "if [ $GIT_AGENT_TASK = t2 ]; then i=0; while [ ! -e {g} ]; do i=$((i+1)); [ $i -gt 300 ] && exit 7; \
         sleep 0.1; done; fi; exit 0",
        g = go.display()
    );
    let mut child = env
        .command("git", &repo)
        .args(["agent-integrate", "--test", &test])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("[1/2] ok t1 merged") {
            std::fs::write(&go, "").unwrap();
        }
        seen.push(line);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen:#?}");
    let position =
        |needle: &str| seen.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {seen:#?}"));
    assert!(position("[1/2] testing t1") < position("[1/2] ok t1 merged"));
    assert!(position("[1/2] ok t1 merged") < position("[2/2] ok t2 merged"));
}

// ---------------------------------------------------------------------------------------------
// Hand-off: merge messages, --push, the pull request

#[test]
fn merge_commits_carry_the_brief_and_the_acceptance_criteria() {
    let env = Env::new();
    let repo = env.repo("messages", &[("README", "x\n")]);
    env.agent(
        &repo,
        &[
            "spawn",
            "db",
            "-q",
            "--brief",
            "Add the activity table\nwith an index on user",
            "--acceptance",
            "migrates an empty database",
        ],
    )
    .success();
    env.commit(&agents_dir(&repo).join("db"), &[("db.sql", "create table a;\n")], "db: work");
    env.agent(&repo, &["done", "db", "-q"]).success();
    integrate_json(&env, &repo, &[], 0);
    let message = env.git(&repo, &["log", "-1", "--format=%B", "main"]);
    assert_eq!(
        message.trim(),
        "Merge task db (agent/db)\n\nAdd the activity table\nwith an index on user\n\nAcceptance criteria:\n- migrates an empty database"
    );
}

/// A bare repository as `origin` of `repo`, holding its main.
fn origin(env: &Env, repo: &Path) -> PathBuf {
    let bare = env.path().join(format!("{}-origin.git", repo.file_name().unwrap().to_string_lossy()));
    env.git(env.path(), &["init", "-q", "--bare", bare.to_str().unwrap()]);
    env.git(repo, &["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(repo, &["push", "-q", "origin", "main"]);
    bare
}

#[test]
fn push_sends_the_landed_target_with_a_lease() {
    let env = Env::new();
    let repo = queue(&env, "push", 2, &[]);
    let bare = origin(&env, &repo);
    let json = integrate_json(&env, &repo, &["--push", "origin"], 0);
    let main = env.git(&repo, &["rev-parse", "main"]);
    assert_eq!(env.git(&bare, &["rev-parse", "main"]), main);
    assert_eq!(json["pushed"]["remote"], "origin");
    assert_eq!(json["pushed"]["commit"], main.trim());
}

#[test]
fn a_push_refused_by_the_lease_overwrites_nothing_and_exits_4() {
    let env = Env::new();
    let repo = queue(&env, "lease", 1, &[]);
    let bare = origin(&env, &repo);
    // Someone else pushes to origin's main meanwhile.
    let other = env.path().join("other");
    env.git(env.path(), &["clone", "-q", bare.to_str().unwrap(), other.to_str().unwrap()]);
    env.commit(&other, &[("theirs.txt", "theirs\n")], "theirs");
    env.git(&other, &["push", "-q", "origin", "main"]);
    let theirs = env.git(&bare, &["rev-parse", "main"]);
    let run = crate::integrate::integrate(&env, &repo, &["--push", "origin", "--json"]).code(4);
    assert!(run.stderr.contains("push to origin was refused"), "{}", run.stderr);
    // The report still says what landed here.
    let json = run.json();
    assert_eq!(json["landed"], true, "{json:#}");
    assert!(json["pushed"].is_null());
    assert_eq!(env.git(&bare, &["rev-parse", "main"]), theirs, "the remote keeps their commit");
    assert!(env.git(&repo, &["log", "--format=%s", "-1", "main"]).starts_with("Merge task t1"), "landed here");
}

#[test]
fn push_to_an_unknown_remote_is_refused_before_anything_runs() {
    let env = Env::new();
    let repo = queue(&env, "noremote", 1, &[]);
    let before = env.snapshot(&repo);
    crate::integrate::integrate(&env, &repo, &["--push", "nosuch"]).code(2).stderr_has("no such remote");
    crate::integrate::integrate(&env, &repo, &["--push", "--upload-pack=x"]).code(2);
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn an_integration_branch_suggests_the_pull_request_when_gh_is_installed() {
    let env = Env::new();
    let repo = queue(&env, "pr", 2, &[]);
    let fake = env.path().join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    write(&fake.join("gh"), "#!/bin/sh\nexit 0\n");
    std::process::Command::new("chmod").arg("+x").arg(fake.join("gh")).status().unwrap();
    let path = std::env::join_paths(
        [fake.clone(), crate::common::bin_dir()]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let out = env
        .command("git", &repo)
        .env("PATH", &path)
        .args(["agent-integrate", "--json", "--branch", "integration/x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let command: Vec<&str> =
        json["pull_request"]["command"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(command[..7], ["gh", "pr", "create", "--base", "main", "--head", "integration/x"]);
    let body = std::fs::read_to_string(json["pull_request"]["body_file"].as_str().unwrap()).unwrap();
    assert!(body.contains("## t1") && body.contains("## t2"), "{body}");
    // A later run adding to the branch: the pull request covers the whole branch.
    let t3 = queue_task(&env, &repo, "t3");
    let out = env
        .command("git", &repo)
        .env("PATH", &path)
        .args(["agent-integrate", "--json", "--branch", "integration/x", &t3])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let body = json["pull_request"]["body"].as_str().unwrap();
    assert!(body.contains("## t1") && body.contains("## t2") && body.contains("## t3"), "{body}");
    // Without gh, no suggestion.
    let json = integrate_json(&env, &repo, &["--branch", "integration/y"], 0);
    assert!(json["pull_request"].is_null() || which_gh_on_machine(), "{json:#}");
}

fn which_gh_on_machine() -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|dir| dir.join("gh").is_file())
}

#[test]
fn the_tests_run_in_a_warm_slot_with_copy_files_and_a_setup_run_once() {
    let env = Env::new();
    let repo = queue(&env, "warm", 1, &[]);
    write(&repo.join(".env.local"), "SECRET=1\n");
    env.git(&repo, &["config", "agent.copy", ".env.local"]);
    env.git(&repo, &["config", "agent.testSetup", "echo setup >> setups.log; echo built > build.out"]);
    // The test needs the copied file and the setup's output, and leaves output of its own.
    let test = "test -f .env.local && test -f build.out && echo more >> test-runs.out";
    let run = crate::integrate::integrate(&env, &repo, &["--test", test, "--branch", "integration/a"]).success();
    run.stderr_has("running agent.testSetup from");
    // The slot is the target's (main), whatever branch the run builds: the next run onto
    // another integration branch finds it warm.
    let slot = agents_dir(&repo).join(".integrate/main-0");
    let run = crate::integrate::integrate(
        &env,
        &repo,
        &["--test", &format!("{test} && test -f test-runs.out"), "--branch", "integration/b"],
    )
    .success();
    assert!(!run.stderr.contains("running agent.testSetup"), "set up once: {}", run.stderr);
    assert_eq!(std::fs::read_to_string(slot.join("setups.log")).unwrap(), "setup\n");
    assert_eq!(std::fs::read_to_string(slot.join("test-runs.out")).unwrap(), "more\nmore\n", "build output stays");
    assert_eq!(held_slots(&repo), Vec::<PathBuf>::new());
}

#[test]
fn progress_reaches_a_terminal_before_the_run_ends() {
    // Through a pseudo-terminal (script(1)): the bar is on, and the lines still come as the
    // steps end. t2's test waits for the harness to see t1's line, as above.
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("script(1) is not installed: skipped");
        return;
    }
    let env = Env::new();
    let repo = queue(&env, "pty", 2, &[]);
    let go = env.path().join("go-pty");
    let test = format!(
        "if [ $GIT_AGENT_TASK = t2 ]; then i=0; while [ ! -e {g} ]; do i=$((i+1)); [ $i -gt 300 ] && exit 7; \
         sleep 0.1; done; fi; exit 0",
        g = go.display()
    );
    let inner = format!("git agent-integrate --test '{test}'");
    let mut child = env
        .command("script", &repo)
        .env("TERM", "xterm")
        .args(["-qfec", &inner, "/dev/null"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = std::io::Read::read(&mut out, &mut chunk).unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&seen).contains("[1/2] ok t1 merged") && !go.exists() {
            std::fs::write(&go, "").unwrap();
        }
    }
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(status.success(), "{text}");
    assert!(text.contains("[2/2] ok t2 merged"), "{text}");
}

#[test]
fn a_retried_test_sees_the_commits_files_again() {
    // The first attempt deletes a tracked file and fails; a retry in the slot as it was left
    // would pass without the file. Every attempt must see the commit's files.
    let env = Env::new();
    let repo = queue(&env, "retry-clean", 1, &[]);
    let test = "test -f t1.txt || { echo t1.txt missing; exit 0; }; rm t1.txt; exit 1";
    let json = integrate_json(&env, &repo, &["--test", test, "--retries", "2"], 1);
    assert_eq!(step(&json, "t1")["status"], "test-failed", "{json:#}");
    assert_eq!(step(&json, "t1")["test"]["attempts"], 3);
}

#[test]
fn more_jobs_than_slots_is_bad_input() {
    let env = Env::new();
    let repo = queue(&env, "jobs", 1, &[]);
    crate::integrate::integrate(&env, &repo, &["--test", "true", "--jobs", "65"]).code(2);
}

#[test]
fn a_slot_a_killed_runs_test_still_works_in_is_left_to_it() {
    // kill -9 of integrate leaves its test running (its own process group) in slot 0: the next
    // run must not test in that slot meanwhile.
    let env = Env::new();
    let repo = queue(&env, "orphan", 1, &[]);
    let pid_file = env.path().join("orphan.pid");
    let test = format!("echo $$ > {}; sleep 60", pid_file.display());
    let mut first = env.command("git", &repo).args(["agent-integrate", "-q", "--test", &test]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !pid_file.exists() || std::fs::read_to_string(&pid_file).unwrap().trim().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the first test never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let orphan = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
    // The integrate process itself (git's child), not the test: find it by its slot lock.
    let lock = held_slots(&repo).pop().expect("slot 0 is held");
    let owner = std::fs::read_to_string(&lock).unwrap();
    let pid = owner.lines().find_map(|l| l.strip_prefix("pid ")).expect("the lock names its owner").to_owned();
    assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    let _ = first.wait();
    let log = env.path().join("second.log");
    let second = format!("echo $GIT_AGENT_SLOT > {}", log.display());
    let run = crate::integrate::integrate(&env, &repo, &["--test", &second]).success();
    run.stderr_has("is still in use by process(es)");
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), "1", "tested in the next slot");
    let _ = std::process::Command::new("kill").args(["-KILL", &orphan]).status();
}
