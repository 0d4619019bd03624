//! Review of `git agent sync` / `join` / the operation log, by trying to break them: a remote
//! that plants hostile records, refuses pushes, and machines that race, crash and prune. Each
//! defect the review found has its test here; each failed before its fix.

use std::path::Path;
use std::process::Stdio;

use crate::common::*;
use crate::sync::{fleet, rev, state, sync, task};

fn hash_blob(env: &Env, repo: &Path, content: &[u8]) -> String {
    let mut child = env
        .command("git", repo)
        .args(["hash-object", "-w", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), content).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A record commit made by hand in `repo` (the attacker's remote): `files` as its tree, on `parents`.
fn plant(env: &Env, repo: &Path, parents: &[&str], files: &[(&str, &[u8])]) -> String {
    let mut listing = String::new();
    for (name, content) in files {
        listing.push_str(&format!("100644 blob {}\t{name}\n", hash_blob(env, repo, content)));
    }
    let mut mktree =
        env.command("git", repo).arg("mktree").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(mktree.stdin.as_mut().unwrap(), listing.as_bytes()).unwrap();
    let tree = String::from_utf8(mktree.wait_with_output().unwrap().stdout).unwrap();
    let mut args = vec!["commit-tree".to_owned(), tree.trim().to_owned(), "-m".into(), "planted".into()];
    for parent in parents {
        args.push("-p".into());
        args.push((*parent).to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.git(repo, &args).trim().to_owned()
}

/// The task.json of `commit` in `repo`, as JSON.
fn task_json(env: &Env, repo: &Path, commit: &str) -> serde_json::Value {
    serde_json::from_str(&env.git(repo, &["show", &format!("{commit}:task.json")])).unwrap()
}

fn bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap()
}

/// The remote fast-forwards a record to a commit whose cached task.json says `clock` is
/// u64::MAX (nothing checks the cached clock against the operations). The next local event
/// computes `clock + 1`: a panic in a debug build, and in a release build a wrapped clock 0,
/// an operation every later reader rejects as out of range (the record turns corrupt).
#[test]
fn a_fetched_record_with_a_huge_cached_clock_does_not_break_the_next_event() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    let tip = rev(&env, &remote, "refs/agent/tasks/x");
    let mut json = task_json(&env, &remote, &tip);
    json["clock"] = serde_json::json!(u64::MAX);
    let planted = plant(&env, &remote, &[&tip], &[("ops.json", b"[]\n"), ("task.json", &bytes(&json))]);
    env.git(&remote, &["update-ref", "refs/agent/tasks/x", &planted, &tip]);

    // Refused as corrupt (a clock beyond any history), and the local record stays as it was.
    let run = env.agent(a, &["--json", "sync"]).code(1);
    assert_eq!(task(&run.json()["sync"], "x")["record"], "corrupt", "{run:#?}");
    assert_eq!(rev(&env, a, "refs/agent/tasks/x"), tip);
    // Either refused (corrupt) or a clean event; never a crash or a record with an invalid op.
    let run = env.agent(a, &["done", "x"]);
    assert_ne!(run.code, 101, "git agent done panicked:\n{run:#?}");
    run.success();
    let ops: serde_json::Value = serde_json::from_str(&env.git(a, &["show", "refs/agent/tasks/x:ops.json"])).unwrap();
    let clock = ops[0]["clock"].as_u64().unwrap();
    assert!(clock > 0 && clock <= 1 << 53, "{ops:#}");
}

/// A fast-forward adopts the remote's record after checking only the tip's task.json: its
/// ops.json is never read. Here it holds a `spawned` operation naming the user's main branch
/// (the fold is corrupt), under a clean task.json. Adopted as "fetched"; the poison shows only
/// at the next concurrent change, when the join folds the operations and the task is reported
/// corrupt on every machine from then on, never converging again.
#[test]
fn a_fast_forward_checks_the_operations_not_only_the_cached_state() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    let tip = rev(&env, &remote, "refs/agent/tasks/x");
    let clean = task_json(&env, &remote, &tip);
    let mut evil = clean.clone();
    evil["branch"] = "refs/heads/main".into();
    let ops = serde_json::json!([{"clock": 2, "id": "evil", "op": "spawned", "record": evil}]);
    let mut cached = clean.clone();
    cached["clock"] = 2.into();
    let planted = plant(&env, &remote, &[&tip], &[("ops.json", &bytes(&ops)), ("task.json", &bytes(&cached))]);
    env.git(&remote, &["update-ref", "refs/agent/tasks/x", &planted, &tip]);

    let run = env.agent(a, &["--json", "sync"]);
    let report = &run.json()["sync"];
    // What happens later if it is adopted: both machines mark it done, and the join of the two
    // histories folds the planted operation: the task is corrupt everywhere, for good.
    if task(report, "x")["record"] == "fetched" {
        env.agent(a, &["done", "x"]).success();
        env.agent(b, &["done", "x"]).success();
        sync(&env, a);
        let later = env.agent(b, &["--json", "sync"]);
        eprintln!("{}", later.stdout);
    }
    assert_eq!(task(report, "x")["record"], "corrupt", "{report:#}");
    assert_eq!(rev(&env, a, "refs/agent/tasks/x"), tip, "not adopted");
}

/// One remote ref that is not a commit (here a blob) where the local record is a commit makes
/// the join's merge-base computation fail, and that error aborts the whole sync: every other
/// task is left unsynced, instead of that one task being reported corrupt.
#[test]
fn a_record_ref_that_is_not_a_commit_on_the_remote_is_reported_for_its_task_only() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    let blob = hash_blob(&env, &remote, b"not a record\n");
    env.git(&remote, &["update-ref", "refs/agent/tasks/x", &blob]);
    env.agent(a, &["spawn", "y"]).success();

    let run = env.agent(a, &["--json", "sync"]);
    assert_eq!(run.code, 1, "found a corrupt record, synced the rest:\n{run:#?}");
    let report = &run.json()["sync"];
    assert_eq!(task(report, "x")["record"], "corrupt", "{report:#}");
    assert_eq!(task(report, "y")["record"], "published", "{report:#}");
    assert!(!rev(&env, &remote, "refs/agent/tasks/y").is_empty());
}

/// One operation with the largest accepted clock (2^53), planted once on the remote, pins
/// every later event at that same clock (`(clock + 1).min(MAX_CLOCK)`): from then on
/// operations are ordered by their random ids, not by when they happened. Here the planted op
/// is a `spawned` (state active) with the id "zzzz", which sorts after every hex id: both
/// machines mark the task done afterwards, each sees "done", but the first join folds both
/// dones *before* the planted spawn and the task reads active everywhere, for good.
#[test]
fn events_after_a_maximal_clock_still_fold_after_it() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    let tip = rev(&env, &remote, "refs/agent/tasks/x");
    let mut cached = task_json(&env, &remote, &tip);
    cached["clock"] = serde_json::json!(1u64 << 53);
    let mut reset = cached.clone();
    reset["clock"] = 0.into();
    let ops = serde_json::json!([{"clock": 1u64 << 53, "id": "zzzz", "op": "spawned", "record": reset}]);
    let planted = plant(&env, &remote, &[&tip], &[("ops.json", &bytes(&ops)), ("task.json", &bytes(&cached))]);
    env.git(&remote, &["update-ref", "refs/agent/tasks/x", &planted, &tip]);

    // A clock that ran ahead of its history is corrupt: not taken, and events here go on.
    let run = env.agent(a, &["--json", "sync"]).code(1);
    assert_eq!(task(&run.json()["sync"], "x")["record"], "corrupt", "{run:#?}");
    env.agent(a, &["done", "x"]).success();
    assert_eq!(state(&env, a, "x")["state"], "done");
    env.agent(b, &["done", "x"]).success();
    env.agent(b, &["sync"]).code(1);
    assert_eq!(state(&env, b, "x")["state"], "done", "two machines said done after the planted op");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), planted, "left alone there");
}

/// A remote whose pre-receive hook declines everything: each ref is reported refused, exit 1,
/// nothing lost here, and the next sync after the hook is gone sends it all.
#[test]
fn a_remote_that_declines_every_push_is_reported_per_ref_and_nothing_is_lost() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    env.agent(a, &["spawn", "y"]).success();
    let hook = remote.join("hooks/pre-receive");
    write(&hook, "#!/bin/sh\necho no >&2\nexit 1\n");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = env.agent(a, &["--json", "sync"]).code(1);
    let report = &run.json()["sync"];
    for name in ["x", "y"] {
        assert_eq!(task(report, name)["record"], "rejected", "{report:#}");
        assert!(task(report, name)["reason"].as_str().unwrap().contains("pre-receive hook declined"), "{report:#}");
        assert!(rev(&env, &remote, &format!("refs/agent/tasks/{name}")).is_empty());
    }
    let text = env.agent(a, &["sync"]).code(1);
    assert!(text.stdout.contains("refused by the remote"), "{text:#?}");
    std::fs::remove_file(&hook).unwrap();
    let report = sync(&env, a);
    assert_eq!(task(&report, "x")["record"], "published", "{report:#}");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), rev(&env, a, "refs/agent/tasks/x"));
}

/// An update hook that refuses one ref: only that ref is refused, the others go through.
#[test]
fn a_remote_that_refuses_one_ref_refuses_only_that_one() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    env.agent(a, &["spawn", "y"]).success();
    let hook = remote.join("hooks/update");
    write(&hook, "#!/bin/sh\n[ \"$1\" = refs/agent/tasks/x ] && exit 1\nexit 0\n");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = env.agent(a, &["--json", "sync"]).code(1);
    let report = &run.json()["sync"];
    assert_eq!(task(report, "x")["record"], "rejected", "{report:#}");
    assert_eq!(task(report, "y")["record"], "published", "{report:#}");
    assert_eq!(task(report, "y")["branch"], "published", "{report:#}");
    assert!(rev(&env, &remote, "refs/agent/tasks/x").is_empty());
    assert!(!rev(&env, &remote, "refs/agent/tasks/y").is_empty());
}

/// Killed (-9) after merging here and before pushing: the next sync pushes the merge, and
/// every machine ends with one record holding every operation.
#[test]
fn a_sync_killed_before_its_push_is_completed_by_the_next_one() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    env.agent(a, &["done", "x"]).success();
    env.agent(b, &["done", "x"]).success();
    env.agent(b, &["spawn", "y"]).success();
    sync(&env, b);
    let point = PausePoint::new(&env, "sync-before-push");
    let (key, value) = point.env();
    let mut child = env
        .command("git-agent", a)
        .args(["sync"])
        .env(key, value)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    point.wait_reached();
    child.kill().unwrap();
    child.wait().unwrap();
    let merged = rev(&env, a, "refs/agent/tasks/x");
    assert_ne!(merged, rev(&env, &remote, "refs/agent/tasks/x"), "merged here, not pushed");
    let report = sync(&env, a);
    assert_eq!(task(&report, "x")["record"], "pushed", "{report:#}");
    assert_eq!(task(&report, "y")["record"], "up-to-date", "{report:#}");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), merged);
    sync(&env, b);
    assert_eq!(rev(&env, b, "refs/agent/tasks/x"), merged);
    assert_eq!(state(&env, b, "x")["state"], "done");
}

/// sync from a subdirectory, from a linked worktree, and in a bare clone.
#[test]
fn sync_works_from_a_subdirectory_a_linked_worktree_and_a_bare_clone() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    std::fs::create_dir_all(a.join("sub/dir")).unwrap();
    sync(&env, &a.join("sub/dir"));
    env.agent(a, &["done", "x"]).success();
    sync(&env, &a.with_file_name("a.agents").join("x"));
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), rev(&env, a, "refs/agent/tasks/x"));
    let bare = env.path().join("bare.git");
    env.git(env.path(), &["clone", "-q", "--bare", remote.to_str().unwrap(), bare.to_str().unwrap()]);
    let report = sync(&env, &bare);
    assert_eq!(task(&report, "x")["record"], "created", "{report:#}");
    assert_eq!(rev(&env, &bare, "refs/agent/tasks/x"), rev(&env, a, "refs/agent/tasks/x"));
    env.agent(&bare, &["list"]).success();
}

/// The same task name spawned on two machines: reported unrelated on both, nothing moved.
#[test]
fn the_same_name_spawned_on_two_machines_is_left_alone_on_both() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    env.agent(b, &["spawn", "x"]).success();
    sync(&env, a);
    let there = rev(&env, &remote, "refs/agent/tasks/x");
    let here = rev(&env, b, "refs/agent/tasks/x");
    let run = env.agent(b, &["--json", "sync"]).code(1);
    assert_eq!(task(&run.json()["sync"], "x")["record"], "unrelated");
    assert_eq!(task(&run.json()["sync"], "x")["branch"], "skipped");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), there);
    assert_eq!(rev(&env, b, "refs/agent/tasks/x"), here);
}

/// Joined on B, integrated on A: after B syncs and pulls main, prune on B removes B's
/// worktree and the branch sync created (its reflog says git-agent made it).
#[test]
fn a_task_joined_here_and_integrated_elsewhere_is_pruned_here_with_its_synced_branch() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    env.commit(&a.with_file_name("a.agents").join("x"), &[("x.txt", "x\n")], "x work");
    env.agent(a, &["done", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    env.agent(b, &["join", "x"]).success();
    env.agent(a, &["integrate"]).success();
    env.git(a, &["push", "-q", "origin", "main"]);
    sync(&env, a);
    sync(&env, b);
    assert_eq!(state(&env, b, "x")["state"], "integrated");
    env.git(b, &["pull", "-q", "--ff-only"]);
    let run = env.agent(b, &["prune", "x"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(rev(&env, b, "refs/heads/agent/x").is_empty(), "{run:#?}");
    assert!(!b.with_file_name("b.agents").join("x").exists());
    // And the removal goes to the remote (A pruned nothing, the record is unchanged there).
    let report = sync(&env, b);
    assert_eq!(task(&report, "x")["record"], "removed-there", "{report:#}");
    assert!(rev(&env, &remote, "refs/agent/tasks/x").is_empty());
    let report = sync(&env, a);
    // A still has its worktree: the record is sent back rather than removed under it.
    assert_eq!(task(&report, "x")["record"], "restored", "{report:#}");
}

/// A format-1 record (written before format 2, naming the worktree path of the machine that
/// spawned it) synced to another machine: format 1 validates that path against the local
/// worktree root, so on any machine with another path the record is "corrupt" and is never
/// adopted until an event on the first machine upgrades it.
#[test]
fn a_format_1_record_reaches_a_machine_with_another_worktree_root() {
    let env = Env::new();
    let (_remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    let main = rev(&env, a, "main");
    env.git(a, &["branch", "agent/old", &main]);
    let worktree = a.with_file_name("a.agents").join("old");
    write_raw_record(
        &env,
        a,
        "old",
        &format!(
            r#"{{"version":1,"name":"old","branch":"refs/heads/agent/old","base_ref":"refs/heads/main","base_commit":"{main}","worktree":"{}","created_ms":1,"state":"active"}}"#,
            worktree.display()
        ),
    );
    assert_eq!(task(&sync(&env, a), "old")["record"], "published");
    let run = env.agent(b, &["--json", "sync"]);
    let report = &run.json()["sync"];
    assert_eq!(task(report, "old")["record"], "created", "{report:#}");
}

/// Pruned on both machines independently: the next syncs agree, nothing comes back.
#[test]
fn a_task_pruned_on_both_machines_stays_gone() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    env.agent(a, &["prune", "x"]).success();
    env.agent(b, &["prune", "x"]).success();
    sync(&env, a);
    let report = sync(&env, b);
    assert!(report["tasks"].as_array().unwrap().iter().all(|t| t["task"] != "x"), "{report:#}");
    sync(&env, a);
    for repo in [a, b, &remote] {
        assert!(rev(&env, repo, "refs/agent/tasks/x").is_empty());
    }
}

/// The container recipe of the README: an untrusted agent works in its own clone and syncs.
/// Test results travel with sync (refs/notes/agent, merged with cat_sort_uniq), and integrate
/// skips a test when any note on the tested tree says that command passed. So the agent adds
/// a note "passed" on its own tree (the tree integrate tests when the target did not move),
/// syncs, and the orchestrator's integrate lands its work without running the (failing) test.
#[test]
fn a_test_pass_forged_on_another_machine_does_not_skip_the_test_here() {
    let env = Env::new();
    let (_remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.git(a, &["config", "agent.test", "false"]);
    env.agent(a, &["spawn", "x", "--no-agent"]).success();
    sync(&env, a);
    sync(&env, b);
    env.agent(b, &["join", "x"]).success();
    let worktree = b.with_file_name("b.agents").join("x");
    env.commit(&worktree, &[("x.txt", "untested\n")], "agent work");
    let tree = rev(&env, &worktree, "HEAD^{tree}");
    env.git(b, &["notes", "--ref", "agent", "add", "-m", r#"{"task":"x","command":"false","exit":0}"#, &tree]);
    env.agent(&worktree, &["done"]).success();
    sync(&env, b);
    // a has the task's worktree: it brings the branch up as the hint says.
    env.agent(a, &["sync"]).code(1).stderr_has("git merge --ff-only");
    let tip = rev(&env, b, "refs/heads/agent/x");
    env.git(&a.with_file_name("a.agents").join("x"), &["merge", "-q", "--ff-only", &tip]);
    assert_eq!(rev(&env, a, "refs/heads/agent/x"), tip);

    let main = rev(&env, a, "main");
    let run = env.agent(a, &["integrate"]);
    assert_eq!(rev(&env, a, "main"), main, "landed untested work:\n{run:#?}");
    assert_eq!(run.code, 1, "{run:#?}");
}

/// A record history is walked in full, parsing every commit's ops.json, at every join: the
/// only bounds are 100,000 commits and 1 MiB per ops.json (so up to ~100 GB of JSON). Here the
/// remote plants 1000 commits sharing one 1 MiB ops.json over a task that also changed here:
/// the join parses ~1 GB. (Measured on a debug build: 2000 such commits took 58 s; at the
/// 100,000-commit bound, most of an hour per sync, repeated by every later join of the task.)
#[test]
fn a_huge_record_history_from_the_remote_is_refused_quickly() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    let tip = rev(&env, &remote, "refs/agent/tasks/x");
    let task_blob = rev(&env, &remote, &format!("{tip}:task.json"));
    let pad = "p".repeat(950);
    let ops: Vec<serde_json::Value> = (0..1000)
        .map(|n| serde_json::json!({"clock": 5, "id": format!("pad{n:04}"), "op": "future-op", "pad": pad}))
        .collect();
    let blob = serde_json::to_vec(&ops).unwrap();
    assert!(blob.len() < 1 << 20);
    let mut stream = format!("blob\nmark :1\ndata {}\n", blob.len()).into_bytes();
    stream.extend_from_slice(&blob);
    stream.push(b'\n');
    for n in 0..1000 {
        stream.extend_from_slice(
            format!("commit refs/agent/tasks/x\nmark :{}\ncommitter x <x> 0 +0000\ndata 2\nx\n", n + 2).as_bytes(),
        );
        if n == 0 {
            stream.extend_from_slice(format!("from {tip}\n").as_bytes());
        }
        stream.extend_from_slice(format!("M 100644 :1 ops.json\nM 100644 {task_blob} task.json\n\n").as_bytes());
    }
    let mut import =
        env.command("git", &remote).args(["fast-import", "--quiet", "--force"]).stdin(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(import.stdin.as_mut().unwrap(), &stream).unwrap();
    drop(import.stdin.take());
    assert!(import.wait().unwrap().success());
    env.agent(a, &["done", "x"]).success();

    let started = std::time::Instant::now();
    let run = env.agent(a, &["--json", "sync"]);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "sync took {took:?}:\n{run:#?}");
}

/// A refused branch push is matched to its task by `name.ends_with("/<task>")`: with a branch
/// prefix that does not end in '/' (agent.branchPrefix=agent-, a valid setting) the refusal
/// is attributed to no task: the report says the branch was published and the exit is 0.
#[test]
fn a_refused_branch_is_reported_refused_whatever_the_branch_prefix() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.git(a, &["config", "agent.branchPrefix", "agent-"]);
    env.agent(a, &["spawn", "x"]).success();
    assert!(!rev(&env, a, "refs/heads/agent-x").is_empty());
    let hook = remote.join("hooks/update");
    write(&hook, "#!/bin/sh\n[ \"$1\" = refs/heads/agent-x ] && exit 1\nexit 0\n");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = env.agent(a, &["--json", "sync"]);
    assert!(rev(&env, &remote, "refs/heads/agent-x").is_empty(), "the hook refused it");
    let report = &run.json()["sync"];
    assert_eq!(task(report, "x")["branch"], "rejected", "{report:#}");
    assert_eq!(run.code, 1, "{run:#?}");
}

/// Removals are inferred from the tracking refs (what the remote had at the last sync), which
/// are keyed by the remote's name, not its URL. Point origin at a new, empty repository (a
/// move to another host: `git remote set-url`), sync: every task without a worktree here is
/// taken as "pruned on the remote" and its record is deleted here, instead of being published.
#[test]
fn a_remote_moved_to_a_new_url_receives_the_tasks_instead_of_removing_them_here() {
    let env = Env::new();
    let (_remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x", "--brief", "keep me"]).success();
    sync(&env, a);
    sync(&env, b);
    let record = rev(&env, b, "refs/agent/tasks/x");
    let moved = env.path().join("moved.git");
    env.git(env.path(), &["clone", "-q", "--bare", env.path().join("seed").to_str().unwrap(), moved.to_str().unwrap()]);
    env.git(b, &["remote", "set-url", "origin", moved.to_str().unwrap()]);

    let run = env.agent(b, &["--json", "sync"]);
    let report = &run.json()["sync"];
    assert_eq!(rev(&env, b, "refs/agent/tasks/x"), record, "the record is gone here: {report:#}");
    assert_eq!(task(report, "x")["record"], "published", "{report:#}");
}

/// The fetch copies every remote record into the tracking refs, also those the sync left
/// alone (corrupt, unreadable). At the next sync the tracking ref says "the remote had it at
/// the last sync, and it is not here": the record counts as pruned here, and sync deletes it
/// on the remote. Here a record of a newer format (what a newer git-agent on another machine
/// writes; "corrupt: upgrade git-agent" here) is deleted from the remote by the second sync of
/// a machine that never had it. The same happens to a format-1 record seen from a machine
/// with another worktree root, or a record of a machine with another agent.branchPrefix.
#[test]
fn a_record_left_alone_as_corrupt_is_not_deleted_by_the_next_sync() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    let tip = rev(&env, &remote, "refs/agent/tasks/x");
    let mut future = task_json(&env, &remote, &tip);
    future["version"] = 3.into();
    let newer = plant(&env, &remote, &[&tip], &[("ops.json", b"[]\n"), ("task.json", &bytes(&future))]);
    env.git(&remote, &["update-ref", "refs/agent/tasks/x", &newer, &tip]);

    let first = env.agent(b, &["--json", "sync"]).code(1);
    assert_eq!(task(&first.json()["sync"], "x")["record"], "corrupt");
    let second = env.agent(b, &["--json", "sync"]);
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), newer, "deleted on the remote: {}", second.stdout);
    assert_eq!(task(&second.json()["sync"], "x")["record"], "corrupt");
}

/// The same task name spawned on two machines: sync says "rename or prune one". The machine
/// that prunes its own copy then syncs, and the other machine's task is deleted from the
/// remote (its record and branch), since the fetch had put it in the tracking refs.
#[test]
fn pruning_ones_own_copy_of_a_same_name_task_fetches_the_other_one() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x", "--brief", "a's task"]).success();
    env.commit(&a.with_file_name("a.agents").join("x"), &[("a.txt", "a\n")], "a's work");
    sync(&env, a);
    let theirs = rev(&env, &remote, "refs/agent/tasks/x");
    env.agent(b, &["spawn", "x", "--brief", "b's task"]).success();
    let run = env.agent(b, &["--json", "sync"]).code(1);
    assert_eq!(task(&run.json()["sync"], "x")["record"], "unrelated");
    env.agent(b, &["prune", "x"]).success();

    let run = env.agent(b, &["--json", "sync"]);
    let report = &run.json()["sync"];
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), theirs, "a's task deleted on the remote: {report:#}");
    assert_eq!(task(report, "x")["record"], "created", "{report:#}");
}

/// A task branch sync cannot create here (a local branch agent/x/old makes refs/heads/agent/x
/// impossible: a directory/file conflict) fails the whole sync, after the records moved and
/// before the notes and the push, and every later sync fails the same way: one local branch
/// blocks the exchange of every task.
#[test]
fn a_branch_that_cannot_be_created_here_is_reported_for_its_task_only() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    env.git(b, &["branch", "agent/x/old"]);
    env.agent(b, &["spawn", "y"]).success();
    let run = env.agent(b, &["--json", "sync"]);
    assert_eq!(run.code, 1, "{run:#?}");
    let report = &run.json()["sync"];
    assert_eq!(task(report, "y")["record"], "published", "{report:#}");
    assert!(!rev(&env, &remote, "refs/agent/tasks/y").is_empty());
}

/// A remote record whose tip is a merge of 50 parents (each a valid empty event on the
/// record) joins with a local change: merged, every operation kept, the fold checked.
#[test]
fn a_remote_record_merging_fifty_parents_joins_like_any_other() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a"]);
    let a = &clones[0];
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    let tip = rev(&env, &remote, "refs/agent/tasks/x");
    let cached = task_json(&env, &remote, &tip);
    let parents: Vec<String> = (0..50)
        .map(|n| {
            let ops = serde_json::json!([{"clock": 2, "id": format!("p{n}"), "op": "agent-exited", "exit": n}]);
            plant(&env, &remote, &[&tip], &[("ops.json", &bytes(&ops)), ("task.json", &bytes(&cached))])
        })
        .collect();
    let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
    let octopus = plant(&env, &remote, &refs, &[("ops.json", b"[]\n"), ("task.json", &bytes(&cached))]);
    env.git(&remote, &["update-ref", "refs/agent/tasks/x", &octopus, &tip]);
    env.agent(a, &["done", "x"]).success();
    let report = sync(&env, a);
    assert_eq!(task(&report, "x")["record"], "merged", "{report:#}");
    let folded = state(&env, a, "x");
    assert_eq!(folded["state"], "done");
    assert_eq!(folded["agent_exit"], 9, "ties go by id: \"p9\" sorts last {folded:#}");
}

/// Ctrl-C after the local merge, before the push: exit 130, what was merged here is kept, and
/// the next sync sends it.
#[test]
fn a_sync_interrupted_before_its_push_is_completed_by_the_next_one() {
    let env = Env::new();
    let (remote, clones) = fleet(&env, &["a", "b"]);
    let (a, b) = (&clones[0], &clones[1]);
    env.agent(a, &["spawn", "x"]).success();
    sync(&env, a);
    sync(&env, b);
    env.agent(a, &["done", "x"]).success();
    env.agent(b, &["done", "x"]).success();
    sync(&env, b);
    let point = PausePoint::new(&env, "sync-before-push");
    let (key, value) = point.env();
    let child = env
        .command("git-agent", a)
        .args(["sync"])
        .env(key, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    point.wait_reached();
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    point.release();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 130, "{run:#?}");
    let merged = rev(&env, a, "refs/agent/tasks/x");
    assert_ne!(merged, rev(&env, &remote, "refs/agent/tasks/x"));
    let report = sync(&env, a);
    assert_eq!(task(&report, "x")["record"], "pushed", "{report:#}");
    assert_eq!(rev(&env, &remote, "refs/agent/tasks/x"), merged);
}
