//! `git agent sync`: clones of one bare remote exchanging task records, notes and task
//! branches. Concurrent changes of the same task merge without loss, in any order; removals
//! cross only where nothing changed; hostile records and lost races are handled.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::prune_guard::start_paused;

/// A bare remote holding a repository with one commit, and `clones` clones of it.
pub(crate) fn fleet(env: &Env, clones: &[&str]) -> (PathBuf, Vec<PathBuf>) {
    let seed = env.repo("seed", &[("README.md", "hello\n"), ("src/lib.txt", "lib\n")]);
    let remote = env.path().join("remote.git");
    env.git(env.path(), &["clone", "-q", "--bare", seed.to_str().unwrap(), remote.to_str().unwrap()]);
    let dirs = clones
        .iter()
        .map(|name| {
            let dir = env.path().join(name);
            env.git(env.path(), &["clone", "-q", remote.to_str().unwrap(), dir.to_str().unwrap()]);
            dir
        })
        .collect();
    (remote, dirs)
}

pub(crate) fn sync(env: &Env, repo: &Path) -> serde_json::Value {
    let run = env.agent(repo, &["--json", "sync"]).success();
    run.json()["sync"].clone()
}

pub(crate) fn task<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tasks"].as_array().unwrap().iter().find(|t| t["task"] == name).unwrap_or_else(|| panic!("{report:#}"))
}

/// Where `name` points, or "" where it does not exist.
pub(crate) fn rev(env: &Env, repo: &Path, name: &str) -> String {
    let out = env.command("git", repo).args(["rev-parse", "--verify", "-q", name]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub(crate) fn state(env: &Env, repo: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&env.git(repo, &["show", &format!("refs/agent/tasks/{name}:task.json")])).unwrap()
}

/// Every operation id in the history of a task's record, sorted.
fn operation_ids(env: &Env, repo: &Path, name: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for commit in env.git(repo, &["rev-list", &format!("refs/agent/tasks/{name}")]).lines() {
        let Ok(out) = env.command("git", repo).args(["show", &format!("{commit}:ops.json")]).output() else { continue };
        if !out.status.success() {
            continue;
        }
        let ops: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.extend(ops.as_array().unwrap().iter().map(|op| op["id"].as_str().unwrap().to_owned()));
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Every record commit: none is ever rewritten, so each one seen must still be in the history.
fn record_commits(env: &Env, repo: &Path, name: &str) -> Vec<String> {
    env.git(repo, &["rev-list", &format!("refs/agent/tasks/{name}")]).lines().map(str::to_owned).collect()
}

#[test]
fn a_task_spawned_on_one_machine_reaches_another_with_its_branch() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "db", "--brief", "the schema"]).success();
    env.commit(&a.with_file_name("a.agents").join("db"), &[("db.sql", "create\n")], "db work");

    let report = sync(&env, a);
    assert_eq!(task(&report, "db")["record"], "published");
    assert_eq!(task(&report, "db")["branch"], "published");
    assert_eq!(report["round_trips"], 2, "one fetch, one push: {report:#}");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/db"), rev(&env, a, "refs/agent/tasks/db"));

    let report = sync(&env, b);
    assert_eq!(task(&report, "db")["record"], "created");
    assert_eq!(task(&report, "db")["branch"], "created");
    assert_eq!(report["round_trips"], 1, "nothing to push: {report:#}");
    assert_eq!(rev(&env, b, "refs/agent/tasks/db"), rev(&env, a, "refs/agent/tasks/db"));
    assert_eq!(rev(&env, b, "refs/heads/agent/db"), rev(&env, a, "refs/heads/agent/db"));
    // The branch sync made is git-agent's (its first reflog entry says so), like spawn's.
    let reflog = env.git(b, &["reflog", "show", "--format=%gs", "refs/heads/agent/db"]);
    assert_eq!(reflog.lines().last(), Some("branch: created by git-agent sync db"), "{reflog}");
    let list = env.agent(b, &["list"]).success();
    assert!(list.stdout.contains("no worktree here (git agent join db"), "{list:#?}");
    let show = env.agent(b, &["show", "db"]).success();
    assert!(show.stdout.contains("the schema"), "{show:#?}");

    // Again: nothing moves.
    let report = sync(&env, b);
    assert_eq!(task(&report, "db")["record"], "up-to-date");
    assert_eq!(task(&report, "db")["branch"], "up-to-date");
}

#[test]
fn concurrent_changes_of_one_task_merge_the_same_way_in_any_order_and_keep_every_operation() {
    let env = Env::new();
    let (_remote, clones) = fleet(&env, &["a", "b", "c"]);
    let (a, b, c) = (&clones[0], &clones[1], &clones[2]);
    env.agent(a, &["spawn", "db"]).success();
    env.commit(&a.with_file_name("a.agents").join("db"), &[("db.sql", "create\n")], "db work");
    for clone in [a, b, c] {
        sync(&env, clone);
    }
    let spawned = record_commits(&env, a, "db");

    // Done here and there at once; the third machine only watches.
    env.agent(a, &["done", "db"]).success();
    env.agent(b, &["done", "db"]).success();
    let seen_a = record_commits(&env, a, "db");
    let seen_b = record_commits(&env, b, "db");
    assert_ne!(seen_a, seen_b, "two different events");

    let first = sync(&env, b);
    assert_eq!(task(&first, "db")["record"], "pushed");
    let second = sync(&env, a);
    assert_eq!(task(&second, "db")["record"], "merged", "{second:#}");
    for clone in [c, b, a, c] {
        sync(&env, clone);
    }
    let tip = rev(&env, a, "refs/agent/tasks/db");
    for clone in [b, c] {
        assert_eq!(rev(&env, clone, "refs/agent/tasks/db"), tip, "the same record everywhere");
    }
    let all = record_commits(&env, a, "db");
    for commit in spawned.iter().chain(&seen_a).chain(&seen_b) {
        assert!(all.contains(commit), "record commit {commit} was rewritten away");
    }
    assert_eq!(operation_ids(&env, c, "db").len(), 3, "spawned and both dones");
    assert_eq!(state(&env, c, "db")["state"], "done");

    // Integrated on one machine while another commits more work: the work is not lost, and the
    // task stays integrated with the tip that was integrated.
    env.agent(c, &["integrate"]).success();
    let side = env.path().join("b-db");
    env.git(b, &["worktree", "add", "-q", side.to_str().unwrap(), "agent/db"]);
    env.commit(&side, &[("db.sql", "create\nindex\n")], "more db work");
    let more = rev(&env, b, "refs/heads/agent/db");
    env.git(b, &["worktree", "remove", side.to_str().unwrap()]);
    sync(&env, b);
    let report = sync(&env, c);
    assert_eq!(task(&report, "db")["branch"], "fetched", "{report:#}");
    // a has the branch checked out in the task's worktree: sync leaves it to whoever works there.
    let run = env.agent(a, &["--json", "sync"]).code(1);
    assert_eq!(task(&run.json()["sync"], "db")["branch"], "checked-out");
    env.git(&a.with_file_name("a.agents").join("db"), &["merge", "-q", "--ff-only", &more]);
    for clone in [a, b, c] {
        sync(&env, clone);
        assert_eq!(rev(&env, clone, "refs/heads/agent/db"), more);
        assert_eq!(state(&env, clone, "db")["state"], "integrated");
    }
    // On c, which integrated it, the commit made elsewhere afterwards is the new work.
    let list = env.agent(c, &["--json", "list"]).success().json();
    assert_eq!(list["tasks"][0]["ahead"], 1, "{list:#}");
}

#[test]
fn a_removal_crosses_only_what_did_not_change_since() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "old"]).success();
    env.agent(a, &["spawn", "busy"]).success();
    sync(&env, a);
    sync(&env, b);

    // Both pruned on a (nothing to lose: no commits); busy changed on b meanwhile.
    env.agent(b, &["done", "busy"]).success();
    sync(&env, b);
    env.agent(a, &["prune", "old", "busy"]).success();
    let report = sync(&env, a);
    assert_eq!(task(&report, "old")["record"], "removed-there", "{report:#}");
    assert_eq!(task(&report, "old")["branch"], "removed-there", "{report:#}");
    assert_eq!(task(&report, "busy")["record"], "created", "changed on b: comes back {report:#}");
    assert!(rev(&env, &remote, "refs/agent/tasks/old").is_empty());
    assert!(rev(&env, &remote, "refs/heads/agent/old").is_empty());
    assert_eq!(state(&env, a, "busy")["state"], "done");

    // b had no worktree for old: its copy goes too; its branch stays for git branch -d.
    let report = sync(&env, b);
    assert_eq!(task(&report, "old")["record"], "removed-here", "{report:#}");
    assert_eq!(task(&report, "old")["branch"], "kept", "{report:#}");
    assert!(rev(&env, b, "refs/agent/tasks/old").is_empty());
    assert!(!rev(&env, b, "refs/heads/agent/old").is_empty());
}

#[test]
fn a_task_removed_elsewhere_but_worked_on_here_is_sent_back() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(b, &["spawn", "x"]).success();
    sync(&env, b);
    sync(&env, a);
    env.agent(a, &["prune", "x"]).success();
    sync(&env, a);
    assert!(rev(&env, &remote, "refs/agent/tasks/x").is_empty());
    // b has the task's worktree: its record goes back rather than vanishing under the agent.
    let report = sync(&env, b);
    assert_eq!(task(&report, "x")["record"], "restored", "{report:#}");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), rev(&env, b, "refs/agent/tasks/x"));
}

#[test]
fn a_branch_with_commits_on_both_sides_is_reported_with_both_tips_and_never_forced() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    env.commit(&a.with_file_name("a.agents").join("x"), &[("a.txt", "a\n")], "from a");
    sync(&env, a);
    let side = env.path().join("b-x");
    env.git(b, &["worktree", "add", "-q", side.to_str().unwrap(), "agent/x"]);
    env.commit(&side, &[("b.txt", "b\n")], "from b");
    let (ours, theirs) = (rev(&env, b, "refs/heads/agent/x"), rev(&env, &remote, "refs/heads/agent/x"));
    let run = env.agent(b, &["--json", "sync"]).code(1);
    let report = &run.json()["sync"];
    let x = task(report, "x");
    assert_eq!(x["branch"], "diverged");
    assert_eq!(x["branch_local"], ours.as_str());
    assert_eq!(x["branch_remote"], theirs.as_str());
    assert_eq!(rev(&env, &remote, "refs/heads/agent/x"), theirs, "never forced");
    assert_eq!(rev(&env, b, "refs/heads/agent/x"), ours);
    let text = env.agent(b, &["sync"]).code(1);
    assert!(text.stdout.contains("diverged"), "{text:#?}");
    assert!(text.stderr.contains("merge or rebase"), "{text:#?}");
}

#[test]
fn a_branch_checked_out_here_is_not_moved_under_its_worktree() {
    let env = Env::new();
    let (_remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    let side = env.path().join("b-x");
    env.git(b, &["worktree", "add", "-q", side.to_str().unwrap(), "agent/x"]);
    let before = rev(&env, b, "refs/heads/agent/x");
    env.commit(&a.with_file_name("a.agents").join("x"), &[("a.txt", "a\n")], "from a");
    sync(&env, a);
    let run = env.agent(b, &["--json", "sync"]).code(1);
    assert_eq!(task(&run.json()["sync"], "x")["branch"], "checked-out");
    assert_eq!(rev(&env, b, "refs/heads/agent/x"), before);
    assert_eq!(env.git(&side, &["status", "--porcelain"]), "", "the worktree is as it was");
}

#[test]
fn a_hostile_record_on_the_remote_is_reported_and_never_adopted() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "good"]).success();
    // A record claiming the user's main branch, planted on the remote.
    let main = rev(&env, a, "main");
    let planted = write_raw_record(
        &env,
        a,
        "evil",
        &format!(
            r#"{{"version":2,"name":"evil","branch":"refs/heads/main","base_ref":null,"base_commit":"{main}","created_ms":1,"state":"done"}}"#
        ),
    );
    env.git(a, &["push", "-q", "origin", &format!("{planted}:refs/agent/tasks/evil")]);
    env.git(a, &["update-ref", "-d", "refs/agent/tasks/evil"]);
    env.agent(a, &["sync"]).code(1);

    let run = env.agent(b, &["--json", "sync"]).code(1);
    let report = &run.json()["sync"];
    assert_eq!(task(report, "evil")["record"], "corrupt", "{report:#}");
    assert!(task(report, "evil")["reason"].as_str().unwrap().contains("refs/heads/main"), "{report:#}");
    assert_eq!(task(report, "good")["record"], "created");
    assert!(rev(&env, b, "refs/agent/tasks/evil").is_empty(), "not adopted");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/evil"), planted, "and not touched there");
    // Its ops.json could not have made it act elsewhere either: the fold is checked the same way.
    env.agent(b, &["list"]).success();
    // Left alone is left alone: syncing again neither takes it for removed here nor deletes it.
    for clone in [a, b] {
        let run = env.agent(clone, &["--json", "sync"]).code(1);
        assert_eq!(task(&run.json()["sync"], "evil")["record"], "corrupt");
    }
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/evil"), planted);
}

#[test]
fn a_sync_killed_after_its_fetch_takes_nothing_for_reconciled() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    // b fetches a's new task and dies before taking it in.
    let point = PausePoint::new(&env, "sync-fetched");
    let paused = start_paused(&env, b, &point, &["sync"]);
    crate::prune::kill_at(&point.dir, "sync-fetched", paused);
    assert!(rev(&env, b, "refs/agent/tasks/x").is_empty());
    // The next sync sees a task new on the remote, not one removed here.
    let report = sync(&env, b);
    assert_eq!(task(&report, "x")["record"], "created", "{report:#}");
    assert!(!rev(&env, &remote, "refs/agent/tasks/x").is_empty());
    let leftovers = env.git(b, &["for-each-ref", "refs/agent-remotes/"]);
    assert!(!leftovers.contains("/incoming/"), "the fetch's refs go when the sync ends: {leftovers}");
}

#[test]
fn a_push_that_lost_a_race_starts_the_round_again_and_loses_nothing() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    env.agent(a, &["done", "x"]).success();
    env.agent(b, &["done", "x"]).success();

    // a has fetched and merged, and stops before its push; b syncs meanwhile.
    let point = PausePoint::new(&env, "sync-before-push");
    let paused = start_paused(&env, a, &point, &["--json", "sync"]);
    sync(&env, b);
    let moved = rev(&env, &remote, "refs/agent/tasks/x");
    point.release();
    let run = Run::from(paused.wait_with_output().unwrap()).success();
    let report = &run.json()["sync"];
    // The pause point only stops the first round: the second goes through.
    assert_eq!(report["attempts"], 2, "{report:#}");
    assert_eq!(report["round_trips"], 4, "{report:#}");
    let tip = rev(&env, &remote, "refs/agent/tasks/x");
    assert_eq!(rev(&env, a, "refs/agent/tasks/x"), tip);
    let all = record_commits(&env, a, "x");
    assert!(all.contains(&moved), "b's push is kept under a's");
    sync(&env, b);
    assert_eq!(rev(&env, b, "refs/agent/tasks/x"), tip);
    assert_eq!(operation_ids(&env, b, "x").len(), 3);
}

#[test]
fn two_syncs_at_once_in_one_repository_the_second_waits_its_turn_with_exit_4() {
    let env = Env::new();
    let (_remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    let point = PausePoint::new(&env, "sync-before-push");
    let paused = start_paused(&env, a, &point, &["sync"]);
    let second = env.agent(a, &["sync"]).code(4);
    assert!(second.stderr.contains("sync is locked by"), "{second:#?}");
    point.release();
    Run::from(paused.wait_with_output().unwrap()).success();
    sync(&env, a);
}

#[test]
fn a_dry_run_changes_nothing_here_or_there() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    env.agent(b, &["spawn", "y"]).success();
    let (here, there) = (env.snapshot(b), env.snapshot(&remote));
    let run = env.agent(b, &["--json", "sync", "--dry-run"]).success();
    let report = &run.json()["sync"];
    assert_eq!(report["dry_run"], true);
    assert_eq!(task(report, "x")["record"], "created");
    assert_eq!(task(report, "y")["record"], "published");
    assert_eq!(env.snapshot(b), here, "nothing changed here, not even the tracking refs");
    assert_eq!(env.snapshot(&remote), there);
    // The next real sync still sees x as new, not as removed here.
    let report = sync(&env, b);
    assert_eq!(task(&report, "x")["record"], "created");
}

#[test]
fn a_remote_that_is_not_configured_is_bad_input() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a", "a\n")]);
    let run = env.agent(&repo, &["sync"]).code(2);
    assert!(run.stderr.contains("no remote named \"origin\""), "{run:#?}");
    env.agent(&repo, &["sync", "--upload-pack=x"]).code(2);
    env.git(&repo, &["config", "agent.remote", "fleet"]);
    let run = env.agent(&repo, &["sync"]).code(2);
    assert!(run.stderr.contains("\"fleet\""), "{run:#?}");
}

#[test]
fn test_results_from_two_machines_on_one_object_are_both_kept() {
    let env = Env::new();
    let (_remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    let main = rev(&env, a, "main");
    env.git(a, &["notes", "--ref", "agent", "add", "-m", r#"{"task":"x","command":"make test","exit":0}"#, &main]);
    env.git(b, &["notes", "--ref", "agent", "add", "-m", r#"{"task":"x","command":"cargo test","exit":0}"#, &main]);
    assert_eq!(sync(&env, a)["notes"], "pushed");
    assert_eq!(sync(&env, b)["notes"], "merged");
    assert_eq!(sync(&env, a)["notes"], "fetched");
    for clone in [a, b] {
        let note = env.git(clone, &["notes", "--ref", "agent", "show", &main]);
        assert!(note.contains("make test") && note.contains("cargo test"), "{note}");
    }
}

#[test]
fn a_format_1_record_is_read_and_upgraded_by_its_next_event() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a", "a\n")]);
    let main = rev(&env, &repo, "main");
    env.git(&repo, &["branch", "agent/old", &main]);
    let worktree = repo.with_file_name("repo.agents").join("old");
    let v1 = write_raw_record(
        &env,
        &repo,
        "old",
        &format!(
            r#"{{"version":1,"name":"old","branch":"refs/heads/agent/old","base_ref":"refs/heads/main","base_commit":"{main}","worktree":"{}","created_ms":1,"state":"active","brief":"from before"}}"#,
            worktree.display()
        ),
    );
    let show = env.agent(&repo, &["show", "old"]).success();
    assert!(show.stdout.contains("from before"), "{show:#?}");
    env.agent(&repo, &["done", "old"]).success();
    let record = state(&env, &repo, "old");
    assert_eq!(record["version"], 2);
    assert_eq!(record["state"], "done");
    assert_eq!(record["brief"], "from before");
    assert!(record.get("worktree").is_none());
    let ops: serde_json::Value =
        serde_json::from_str(&env.git(&repo, &["show", "refs/agent/tasks/old:ops.json"])).unwrap();
    assert_eq!(ops[0]["op"], "imported");
    assert_eq!(ops[0]["id"], format!("import-{v1}"), "the same id on every machine that upgrades it");
    assert_eq!(ops[1]["op"], "done");
    assert_eq!(rev(&env, &repo, "refs/agent/tasks/old~1"), v1, "appended, not rewritten");
}
