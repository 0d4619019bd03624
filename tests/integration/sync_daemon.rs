//! `git agent sync` over a real network transport: a `git daemon` on 127.0.0.1 serving a bare
//! remote over git://, two clones that change the same task concurrently and sync both ways.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Env, Run};

/// A `git daemon` serving every repository under a directory, read and write; killed when
/// dropped, so that a failing test never leaves it running.
struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    /// Starts one on a free port (another one if the daemon cannot take it), and waits until
    /// it accepts connections. None if this git has no daemon.
    fn start(env: &Env, served: &Path) -> Option<Daemon> {
        // The program itself, not `git daemon`: git would run it as a child of its own, and
        // killing git would leave the daemon running.
        let program = Path::new(env.git(env.path(), &["--exec-path"]).trim()).join("git-daemon");
        if !program.exists() {
            return None;
        }
        for _ in 0..5 {
            // A port that was free a moment ago; another process may take it first, then the
            // daemon exits and the next attempt picks another.
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let child = env
                .command(program.to_str().unwrap(), env.path())
                .args([
                    "--export-all",
                    "--enable=receive-pack",
                    &format!("--base-path={}", served.display()),
                    "--listen=127.0.0.1",
                    &format!("--port={port}"),
                    "--reuseaddr",
                    &served.to_string_lossy(),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("git daemon starts");
            let mut daemon = Daemon { child, port };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if daemon.child.try_wait().unwrap().is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(daemon);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(daemon);
        }
        panic!("git daemon did not start on any of 5 ports");
    }

    fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `git agent sync --json` in `repo`: exit 0, at most 2 round trips; returns the report.
#[track_caller]
fn sync(env: &Env, repo: &Path) -> serde_json::Value {
    let run = env.agent(repo, &["sync", "--json"]).success();
    let json = run.json();
    let sync = json["sync"].clone();
    assert_eq!(json["version"], 1, "{run:#?}");
    assert_eq!(sync["remote"], "origin", "{run:#?}");
    assert_eq!(sync["dry_run"], false, "{run:#?}");
    let trips = sync["round_trips"].as_u64().unwrap();
    assert!((1..=2).contains(&trips), "one fetch and at most one push: {run:#?}");
    sync
}

/// The one task's entry of a sync report.
#[track_caller]
fn task_of<'a>(sync: &'a serde_json::Value, task: &str) -> &'a serde_json::Value {
    let tasks = sync["tasks"].as_array().unwrap();
    let found: Vec<_> = tasks.iter().filter(|t| t["task"] == task).collect();
    assert_eq!(found.len(), 1, "one entry for {task} in {sync:#}");
    found[0]
}

fn rev(env: &Env, repo: &Path, name: &str) -> String {
    env.git(repo, &["rev-parse", "--verify", "-q", name]).trim().to_owned()
}

/// Every operation in the record's history: (op, id) of each ops.json entry, walking
/// `git log` (merge commits hold no operation of their own, so no ops.json).
fn ops(env: &Env, repo: &Path, task: &str) -> Vec<(String, String)> {
    let log = env.git(repo, &["log", "--format=%H", &format!("refs/agent/tasks/{task}")]);
    let mut ops = Vec::new();
    for commit in log.lines() {
        let shown: Run = env.run(repo, "git", &["show", &format!("{commit}:ops.json")]);
        if shown.code != 0 {
            continue;
        }
        let entries: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
        for op in entries.as_array().unwrap() {
            ops.push((op["op"].as_str().unwrap().to_owned(), op["id"].as_str().unwrap().to_owned()));
        }
    }
    ops.sort();
    ops
}

#[test]
fn sync_over_git_daemon_joins_concurrent_changes() {
    let env = Env::new();
    let seed = env.repo("seed", &[("README", "hello\n"), ("src/lib.rs", "fn a() {}\n")]);
    let served: PathBuf = env.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    env.git(
        env.path(),
        &["clone", "-q", "--bare", &seed.to_string_lossy(), &served.join("remote.git").to_string_lossy()],
    );
    let Some(daemon) = Daemon::start(&env, &served) else {
        eprintln!("skipped: this git has no `git daemon` (git-daemon is not in `git --exec-path`)");
        return;
    };
    let url = daemon.url("remote.git");
    let (a, b) = (env.path().join("a"), env.path().join("b"));
    for side in [&a, &b] {
        env.git(env.path(), &["clone", "-q", &url, &side.to_string_lossy()]);
    }

    // A spawns a task, works on it and publishes it.
    env.agent(&a, &["spawn", "feat", "--no-agent", "-q"]).success();
    let worktree = env.path().join("a.agents/feat");
    assert!(worktree.join(".git").exists(), "spawn made the worktree at {}", worktree.display());
    env.commit(&worktree, &[("src/feat.rs", "fn feat() {}\n")], "feat: first");
    let first = sync(&env, &a);
    let entry = task_of(&first, "feat");
    assert_eq!((&entry["record"], &entry["branch"]), (&"published".into(), &"published".into()), "{first:#}");
    assert_eq!(first["round_trips"], 2, "{first:#}");
    assert_eq!(rev(&env, &served.join("remote.git"), "refs/agent/tasks/feat"), rev(&env, &a, "refs/agent/tasks/feat"));

    // B gets the record and the branch.
    let got = sync(&env, &b);
    let entry = task_of(&got, "feat");
    assert_eq!((&entry["record"], &entry["branch"]), (&"created".into(), &"created".into()), "{got:#}");
    assert_eq!(got["round_trips"], 1, "nothing to push: {got:#}");
    assert_eq!(rev(&env, &b, "refs/agent/tasks/feat"), rev(&env, &a, "refs/agent/tasks/feat"));
    assert_eq!(rev(&env, &b, "refs/heads/agent/feat"), rev(&env, &a, "refs/heads/agent/feat"));

    // Concurrently: B marks it done; A commits more on the branch and marks it done too.
    env.agent(&b, &["done", "feat"]).success();
    env.commit(&worktree, &[("src/feat.rs", "fn feat() { todo!() }\n")], "feat: second");
    env.agent(&a, &["done", "feat"]).success();
    let tip = rev(&env, &a, "refs/heads/agent/feat");

    // A first: the remote had not moved, so its record and branch fast-forward there.
    let a_sends = sync(&env, &a);
    let entry = task_of(&a_sends, "feat");
    assert_eq!((&entry["record"], &entry["branch"]), (&"pushed".into(), &"pushed".into()), "{a_sends:#}");
    // B: both changed the record: merged here and pushed; the branch fast-forwards here.
    let b_joins = sync(&env, &b);
    let entry = task_of(&b_joins, "feat");
    assert_eq!((&entry["record"], &entry["branch"]), (&"merged".into(), &"fetched".into()), "{b_joins:#}");
    assert_eq!(b_joins["round_trips"], 2, "{b_joins:#}");
    assert_eq!(entry["local"], entry["remote"], "the merge was pushed: {b_joins:#}");
    // A takes the merge.
    let a_takes = sync(&env, &a);
    let entry = task_of(&a_takes, "feat");
    assert_eq!((&entry["record"], &entry["branch"]), (&"fetched".into(), &"up-to-date".into()), "{a_takes:#}");
    // Nothing left to do on either side.
    for side in [&a, &b] {
        let again = sync(&env, side);
        let entry = task_of(&again, "feat");
        assert_eq!((&entry["record"], &entry["branch"]), (&"up-to-date".into(), &"up-to-date".into()), "{again:#}");
        assert_eq!(again["round_trips"], 1, "{again:#}");
    }

    let remote = served.join("remote.git");
    let record = rev(&env, &a, "refs/agent/tasks/feat");
    assert_eq!(rev(&env, &b, "refs/agent/tasks/feat"), record);
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/feat"), record);
    let parents = env.git(&a, &["show", "-s", "--format=%P", &record]);
    assert_eq!(parents.split_whitespace().count(), 2, "the record's tip is the merge of both sides");
    for side in [&b, &remote] {
        assert_eq!(rev(&env, side, "refs/heads/agent/feat"), tip, "the branch reached A's last commit");
    }
    let state: serde_json::Value =
        serde_json::from_str(&env.git(&b, &["show", &format!("{record}:task.json")])).unwrap();
    assert_eq!(state["state"], "done");
    // Both sides' `done` are in the log, with the spawn: three distinct operations.
    let log = ops(&env, &a, "feat");
    let kinds: Vec<&str> = log.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(kinds, ["done", "done", "spawned"], "{log:?}");
    assert_ne!(log[0].1, log[1].1, "two operations, one from each side: {log:?}");
    assert_eq!(ops(&env, &b, "feat"), log);
    drop(daemon);
}
